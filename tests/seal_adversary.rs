//! Regression tests from the adversary's attacks on sealed testimony, consent and erasure:
//! each failed before its fix.

use crate::seal::{files_under, open_text, sealed};
use crate::util::*;

/// A consent change signed for record N of ledger A, copied into ledger B (whose record N
/// is another witness's), is refused: it names A's testimony by its statement digest.
#[test]
fn a_consent_change_replayed_into_another_ledger_grants_nothing() {
    let a = sealed();
    let b = Fixture::empty();
    std::fs::create_dir_all(b.path("keys")).unwrap();
    for f in [
        "ledger.key",
        "ledger.pub",
        "alice.key",
        "alice.pub",
        "hq.identity",
        "hq.recipient",
    ] {
        std::fs::copy(a.path(&format!("keys/{f}")), b.path(&format!("keys/{f}"))).unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = if f.ends_with(".pub") || f.ends_with(".recipient") {
                0o644
            } else {
                0o600
            };
            std::fs::set_permissions(
                b.path(&format!("keys/{f}")),
                std::fs::Permissions::from_mode(mode),
            )
            .unwrap();
        }
    }
    b.init_ledger_with(&["--seal-to", &b.p("keys/hq.recipient")]);
    let in_a = a.testimony("a witness who consents");
    // B's record of the same number: another witness, who gave no court consent.
    std::fs::write(b.path("t.txt"), "another witness, no consent").unwrap();
    b.ok(&[
        "add",
        "testimony",
        "--ledger",
        &b.p("ledger"),
        "--key",
        &b.p("keys/alice.key"),
        "--subject",
        "W-2",
        "--language",
        "en",
        "--consent",
        "none",
        "--text-file",
        &b.p("t.txt"),
    ]);
    a.ok(&[
        "consent",
        "--ledger",
        &a.p("ledger"),
        "--key",
        &a.p("keys/alice.key"),
        &in_a.to_string(),
        "--scope",
        "court",
    ]);
    // The attacker holds no key: B's files only. A's consent record is rewritten to B's
    // next position (seq and prev are not signed) and written at the end of B's journal.
    let a_frames = journal_frames(&a.path("ledger/journal"));
    let copied = &a_frames.last().unwrap().1;
    assert_eq!(
        custody::record::Record::decode(copied)
            .unwrap()
            .statement
            .body
            .kind(),
        "consent"
    );
    append_copy(&b, copied);
    // Indexing it refuses it (set aside), and the audit of the journal names the rule.
    let _ = b.run(&["recover", "--ledger", &b.p("ledger")]);
    let o = b.run(&[
        "checkpoint",
        "--ledger",
        &b.p("ledger"),
        "--key",
        &b.p("keys/ledger.key"),
    ]);
    let log = b.ok(&["log", "--ledger", &b.p("ledger"), "--json"]).stdout;
    let kinds: Vec<String> = serde_json::from_str::<serde_json::Value>(&log)
        .unwrap()
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["kind"].as_str().unwrap().to_owned())
        .collect();
    assert!(
        !kinds.contains(&"consent".to_string()),
        "the replayed consent was admitted: {kinds:?} {}",
        o.all()
    );
    // Whatever the index holds, B's testimony never reaches a court without an override.
    let o = b.export_by(
        "ledger",
        "b.zip",
        &[&in_a.to_string(), "--identity", &b.p("keys/hq.identity")],
    );
    assert_ne!(o.code, 0, "{}", o.all());
}

/// Appends a copy of a record's signed statement at the end of `f`'s journal, as one with
/// write access to the files and no key can: `seq`, `prev` and the recorded time are not
/// signed.
fn append_copy(f: &Fixture, record: &[u8]) {
    let frames = journal_frames(&f.path("ledger/journal"));
    let mut rec = custody::record::Record::decode(record).unwrap();
    let last = custody::record::Record::decode(&frames.last().unwrap().1).unwrap();
    rec.seq = frames.len() as u64;
    rec.prev = custody::record::leaf_hash(&frames.last().unwrap().1);
    rec.recorded_at_ms = last.recorded_at_ms + 1000;
    let mut records: Vec<Vec<u8>> = frames.into_iter().map(|(_, r)| r).collect();
    records.push(rec.encode());
    write_journal(&f.path("ledger/journal"), &records);
}

/// A signed testimony appended again (by one with the files and no key) cannot carry its
/// first consent past a withdrawal: a text counts once.
#[test]
fn a_testimony_appended_again_is_refused() {
    let f = sealed();
    let seq = f.testimony("an account whose consent will be withdrawn");
    f.ok(&[
        "consent",
        "--ledger",
        &f.p("ledger"),
        "--key",
        &f.p("keys/alice.key"),
        &seq.to_string(),
        "--withdraw",
    ]);
    let frames = journal_frames(&f.path("ledger/journal"));
    append_copy(&f, &frames[seq as usize].1);
    let copy = frames.len() as u64;
    let _ = f.run(&["recover", "--ledger", &f.p("ledger")]);
    let o = f.run(&["audit", "--ledger", &f.p("ledger"), "--json"]);
    let log = f.ok(&["log", "--ledger", &f.p("ledger"), "--json"]).stdout;
    let indexed = serde_json::from_str::<serde_json::Value>(&log)
        .unwrap()
        .as_array()
        .unwrap()
        .len() as u64;
    if indexed > copy {
        // Whatever the index took in, the audit names the copy by the rule.
        let v: serde_json::Value = serde_json::from_str(&o.stdout).unwrap();
        assert!(
            v["report"]["findings"]
                .as_array()
                .unwrap()
                .iter()
                .any(|x| x["seq"] == copy && x["code"] == "unauthorized"),
            "{}",
            o.stdout
        );
    }
    f.checkpoint();
    let o = f.export_by(
        "ledger",
        "c.zip",
        &[&copy.to_string(), "--identity", &f.p("keys/hq.identity")],
    );
    assert_ne!(o.code, 0, "the copy was exported: {}", o.all());
    assert!(!f.path("c.zip").exists());
}

/// A seal-to signed with a stolen admin key stops counting once the theft is declared:
/// texts are sealed to headquarters again, never to the thief.
#[test]
fn a_thiefs_seal_to_stops_counting_once_the_theft_is_declared() {
    let f = sealed();
    f.add_key("admin2", "admin");
    f.ok(&["key", "generate-recipient", "thief", "--dir", &f.p("keys")]);
    let o = f.ok(&[
        "seal-to",
        "--ledger",
        &f.p("ledger"),
        "--key",
        &f.p("keys/admin2.key"),
        "--add",
        &f.p("keys/thief.recipient"),
        "--remove",
        &f.p("keys/hq.recipient"),
        "--json",
    ]);
    let v: serde_json::Value = serde_json::from_str(&o.stdout).unwrap();
    let stolen_at = v["appended"][0]["seq"].as_u64().unwrap().to_string();
    f.revoke("admin2", "compromised", Some(&stolen_at));
    let seq = f.testimony("after the theft was declared");
    assert_eq!(open_text(&f, seq, "keys/hq.identity").code, 0);
    let thief = open_text(&f, seq, "keys/thief.identity");
    assert_eq!(thief.code, 2, "{}", thief.all());
    // And the seal-to command starts from headquarters' recipients again.
    let log = f.ok(&["log", "--ledger", &f.p("ledger")]).stdout;
    assert!(log.contains("seal-to"), "{log}");
}

/// A consent change by a key a thief minted (tainted) does not make honest testimony
/// unexportable: bundles carry only the consent records that stand.
#[test]
fn a_tainted_keys_consent_change_does_not_block_honest_evidence() {
    let f = sealed();
    f.add_key("admin2", "admin");
    let seq = f.testimony("an honest account");
    f.ok(&["key", "generate", "minted", "--dir", &f.p("keys")]);
    let o = f.ok(&[
        "key",
        "authorize",
        "--ledger",
        &f.p("ledger"),
        "--key",
        &f.p("keys/admin2.key"),
        &f.p("keys/minted.pub"),
        "--name",
        "minted",
        "--role",
        "admin",
        "--json",
    ]);
    let v: serde_json::Value = serde_json::from_str(&o.stdout).unwrap();
    let minted_at = v["appended"][0]["seq"].as_u64().unwrap().to_string();
    f.ok(&[
        "consent",
        "--ledger",
        &f.p("ledger"),
        "--key",
        &f.p("keys/minted.key"),
        &seq.to_string(),
        "--withdraw",
    ]);
    f.revoke("admin2", "compromised", Some(&minted_at));
    f.ok(&[
        "consent",
        "--ledger",
        &f.p("ledger"),
        "--key",
        &f.p("keys/ledger.key"),
        &seq.to_string(),
        "--scope",
        "court",
    ]);
    f.checkpoint();
    f.export_ok(
        "ledger",
        "b.zip",
        &[&seq.to_string(), "--identity", &f.p("keys/hq.identity")],
    );
    let (ours, theirs) = f.verify_bundle_both(&["--no-trust", &f.p("b.zip")]);
    assert_eq!(ours.code, 0, "{}", ours.all());
    assert_eq!(theirs.code, 0, "{}", theirs.all());
    let m = crate::bundle::manifest(&f.path("b.zip"));
    let consents: Vec<&str> = m["supporting"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| s["kind"] == "consent")
        .map(|s| s["body"]["consent"].as_str().unwrap())
        .collect();
    assert_eq!(consents, ["court"], "only the change that stands");
}

/// Every small-order X25519 point is refused as a recipient, never a panic.
#[test]
fn every_small_order_recipient_is_refused() {
    let f = sealed();
    let p_minus = |k: u8| {
        // 2^255 - 19 - k, little-endian.
        let mut b = [0xffu8; 32];
        b[0] = 0xed - k;
        b[31] = 0x7f;
        b
    };
    let mut points: Vec<[u8; 32]> = vec![[0; 32], p_minus(1), p_minus(0)];
    let mut one = [0u8; 32];
    one[0] = 1;
    points.push(one);
    let mut p_plus_1 = p_minus(0);
    p_plus_1[0] += 1;
    points.push(p_plus_1);
    // The two points of order 8.
    for h in [
        "e0eb7a7c3b41b8ae1656e3faf19fc46ada098deb9c32b1fd866205165f49b800",
        "5f9c95bca3508c24b1d0b1559c83ef5b04445cc4581c8e86d8224eddd09f1157",
    ] {
        points.push(hex::decode(h).unwrap().try_into().unwrap());
    }
    let before = snapshot(&f.path("ledger"));
    for p in points {
        let r = custody::seal::recipient_string(&p);
        let o = crate::seal::seal_to(&f, &["--add", &r]);
        assert_eq!(o.code, 2, "{}: {}", hex::encode(p), o.all());
        assert!(!o.stderr.contains("panicked"), "{}", o.stderr);
    }
    assert_same(
        &before,
        &snapshot(&f.path("ledger")),
        "refused small-order recipients",
    );
}

/// A `sealed-keys/` planted as a link out of the ledger is never written or erased
/// through; a link planted at one item key's path is removed, not followed, and does not
/// stop the erasure of the rest.
#[test]
fn erasure_never_writes_through_a_planted_link() {
    let f = sealed();
    let seq = f.testimony("to be erased");
    let keys = f.path("ledger/sealed-keys");
    let outside = f.path("outside");
    std::fs::rename(&keys, &outside).unwrap();
    std::os::unix::fs::symlink(&outside, &keys).unwrap();
    let victims_before = files_under(&outside);
    let o = f.run(&[
        "erase",
        "--ledger",
        &f.p("ledger"),
        "--key",
        &f.p("keys/ledger.key"),
        &seq.to_string(),
        "--reason",
        "order",
    ]);
    assert_eq!(o.code, 2, "{}", o.all());
    assert_eq!(
        files_under(&outside),
        victims_before,
        "files outside the ledger changed"
    );
    // A testimony is not sealed through the link either.
    let o = f.testimony_cmd("t.txt").output().unwrap();
    assert!(!o.status.success());
    assert_eq!(files_under(&outside), victims_before);
    // The real directory back, with a link planted at the item key's path.
    std::fs::remove_file(&keys).unwrap();
    std::fs::rename(&outside, &keys).unwrap();
    let key_file = files_under(&keys).pop().unwrap().0;
    std::fs::write(f.path("victim"), b"not the ledger's").unwrap();
    let real = std::fs::read(&key_file).unwrap();
    std::fs::remove_file(&key_file).unwrap();
    std::os::unix::fs::symlink(f.path("victim"), &key_file).unwrap();
    let o = f.run(&[
        "erase",
        "--ledger",
        &f.p("ledger"),
        "--key",
        &f.p("keys/ledger.key"),
        &seq.to_string(),
        "--reason",
        "order",
    ]);
    assert_eq!(o.code, 0, "{}", o.all());
    assert_eq!(
        std::fs::read(f.path("victim")).unwrap(),
        b"not the ledger's"
    );
    assert!(
        key_file.symlink_metadata().is_err(),
        "the planted link is removed"
    );
    drop(real);
}

/// A file whose sealed copy was erased is not sealed again (the erasure would destroy the
/// new copy), and the audit checks kept media copies.
#[test]
fn an_erased_media_copy_is_not_sealed_again_and_copies_are_audited() {
    let f = sealed();
    std::fs::write(f.path("clip.bin"), vec![7u8; 5000]).unwrap();
    let add = |f: &Fixture| {
        f.run(&[
            "add",
            "media",
            "--ledger",
            &f.p("ledger"),
            "--key",
            &f.p("keys/alice.key"),
            "--seal",
            "--json",
            &f.p("clip.bin"),
        ])
    };
    let o = add(&f);
    assert_eq!(o.code, 0, "{}", o.all());
    let v: serde_json::Value = serde_json::from_str(&o.stdout).unwrap();
    let seq = v["appended"][0]["seq"].as_u64().unwrap();
    // A damaged copy is a finding, with and without the identity (size), and one of the
    // same size with the identity.
    let copy = files_under(&f.path("ledger/content"))
        .into_iter()
        .find(|(p, _)| p.to_string_lossy().contains("media-"))
        .unwrap();
    let audit = |id: bool| {
        let mut args = vec!["audit".to_string(), "--ledger".into(), f.p("ledger")];
        if id {
            args.extend(["--identity".into(), f.p("keys/hq.identity")]);
        }
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        f.run(&args).code
    };
    assert_eq!((audit(false), audit(true)), (0, 0));
    std::fs::write(&copy.0, &copy.1[..copy.1.len() - 1]).unwrap();
    assert_eq!((audit(false), audit(true)), (1, 1));
    let mut flipped = copy.1.clone();
    let n = flipped.len() - 1;
    flipped[n] ^= 1;
    std::fs::write(&copy.0, &flipped).unwrap();
    assert_eq!(audit(true), 1);
    std::fs::write(&copy.0, &copy.1).unwrap();
    f.ok(&[
        "erase",
        "--ledger",
        &f.p("ledger"),
        "--key",
        &f.p("keys/ledger.key"),
        &seq.to_string(),
        "--reason",
        "order",
    ]);
    assert_eq!(audit(true), 0);
    let before = snapshot(&f.path("ledger"));
    let o = add(&f);
    assert_eq!(o.code, 2, "{}", o.all());
    assert!(o.stderr.contains("without --seal"), "{}", o.stderr);
    assert_same(&before, &snapshot(&f.path("ledger")), "a refused re-seal");
}

/// With an identity that opens only part of the ledger, the audit names the texts it could
/// not open instead of a silent OK.
#[test]
fn an_audit_names_the_texts_its_identity_could_not_open() {
    let f = sealed();
    let early = f.testimony("sealed to hq");
    crate::seal::replace_hq_with_hq2(&f);
    f.testimony("sealed to hq2");
    let o = f.run(&[
        "audit",
        "--ledger",
        &f.p("ledger"),
        "--identity",
        &f.p("keys/hq2.identity"),
        "--json",
    ]);
    assert_eq!(o.code, 0, "{}", o.all());
    let v: serde_json::Value = serde_json::from_str(&o.stdout).unwrap();
    assert_eq!(v["report"]["sealed_unopened"], serde_json::json!([early]));
}

/// A plain file (or a link) planted beside a sealed text is never taken for it.
#[test]
fn a_plain_file_planted_beside_a_sealed_text_is_never_read() {
    let f = sealed();
    let seq = f.testimony("the real account");
    let show = f.ok(&[
        "show",
        "--ledger",
        &f.p("ledger"),
        &seq.to_string(),
        "--json",
    ]);
    let v: serde_json::Value = serde_json::from_str(&show.stdout).unwrap();
    let c = v["body"]["commitment"].as_str().unwrap().to_owned();
    std::fs::write(
        f.path("planted"),
        [[0u8; 32].as_slice(), b"a planted account"].concat(),
    )
    .unwrap();
    std::os::unix::fs::symlink(f.path("planted"), f.path(&format!("ledger/content/{c}"))).unwrap();
    let o = f.run(&["open", "--ledger", &f.p("ledger"), &seq.to_string()]);
    assert_eq!(o.code, 2, "{}", o.all());
    assert!(!o.stdout.contains("planted"), "{}", o.stdout);
    let o = open_text(&f, seq, "keys/hq.identity");
    assert_eq!(o.stdout, "the real account", "{}", o.all());
    assert_eq!(f.audit().code, 1, "the planted file is a finding");
}

/// Round two. A recipient a thief added with a stolen admin key, carried over by an honest
/// admin's later seal-to, is dropped once the theft is declared; texts sealed to it while it
/// stood are a finding that names the seal-to record.
#[test]
fn a_thiefs_recipient_carried_over_stops_counting_and_its_texts_are_named() {
    let f = sealed();
    f.add_key("admin2", "admin");
    f.ok(&["key", "generate-recipient", "thief", "--dir", &f.p("keys")]);
    f.ok(&["key", "generate-recipient", "hq2", "--dir", &f.p("keys")]);
    let o = f.ok(&[
        "seal-to",
        "--ledger",
        &f.p("ledger"),
        "--key",
        &f.p("keys/admin2.key"),
        "--add",
        &f.p("keys/thief.recipient"),
        "--json",
    ]);
    let v: serde_json::Value = serde_json::from_str(&o.stdout).unwrap();
    let stolen_at = v["appended"][0]["seq"].as_u64().unwrap();
    let leaked = f.testimony("sealed while the thief's recipient stood");
    // An honest admin replaces hq, carrying the thief's recipient over unknowingly.
    crate::seal::replace_hq_with_hq2(&f);
    f.revoke("admin2", "compromised", Some(&stolen_at.to_string()));
    let later = f.testimony("after the theft was declared");
    assert_eq!(open_text(&f, later, "keys/hq2.identity").code, 0);
    assert_eq!(open_text(&f, later, "keys/thief.identity").code, 2);
    f.checkpoint();
    let o = f.run(&["audit", "--ledger", &f.p("ledger"), "--json"]);
    let v: serde_json::Value = serde_json::from_str(&o.stdout).unwrap();
    let named: Vec<&serde_json::Value> = v["report"]["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|x| x["seq"] == leaked && x["code"] == "content")
        .collect();
    assert_eq!(named.len(), 1, "{}", o.stdout);
    assert!(
        named[0]["message"]
            .as_str()
            .unwrap()
            .contains(&format!("seal-to record {stolen_at}"))
    );
}

/// `add media --seal` keeps a copy even when a wrapped key without its ciphertext stands
/// in the way (a crash between the two, or planted).
#[test]
fn a_media_copy_is_kept_when_only_its_key_was_there() {
    let f = sealed();
    std::fs::write(f.path("clip.bin"), vec![3u8; 3000]).unwrap();
    let sha = {
        use sha2::Digest;
        hex::encode(sha2::Sha256::digest(vec![3u8; 3000]))
    };
    std::fs::create_dir_all(f.path("ledger/sealed-keys")).unwrap();
    std::fs::write(
        f.path(&format!("ledger/sealed-keys/media-{sha}.age")),
        b"stale",
    )
    .unwrap();
    let o = f.ok(&[
        "add",
        "media",
        "--ledger",
        &f.p("ledger"),
        "--key",
        &f.p("keys/alice.key"),
        "--seal",
        "--json",
        &f.p("clip.bin"),
    ]);
    let v: serde_json::Value = serde_json::from_str(&o.stdout).unwrap();
    let seq = v["appended"][0]["seq"].as_u64().unwrap().to_string();
    let o = f.run(&[
        "open",
        "--ledger",
        &f.p("ledger"),
        &seq,
        "--identity",
        &f.p("keys/hq.identity"),
        "--out",
        &f.p("back.bin"),
    ]);
    assert_eq!(o.code, 0, "{}", o.all());
    assert_eq!(std::fs::read(f.path("back.bin")).unwrap(), vec![3u8; 3000]);
}

/// Erasure never overwrites a file through a hard link (the key would survive under the
/// other name, and the other file would be destroyed): it stops and says so.
#[test]
fn erasure_never_writes_through_a_hard_link() {
    let f = sealed();
    let seq = f.testimony("to be erased");
    let key = files_under(&f.path("ledger/sealed-keys")).pop().unwrap().0;
    std::fs::hard_link(&key, f.path("elsewhere.age")).unwrap();
    let before = std::fs::read(f.path("elsewhere.age")).unwrap();
    let o = f.run(&[
        "erase",
        "--ledger",
        &f.p("ledger"),
        "--key",
        &f.p("keys/ledger.key"),
        &seq.to_string(),
        "--reason",
        "order",
    ]);
    assert_eq!(o.code, 1, "{}", o.all());
    assert!(o.stderr.contains("erase --finish"), "{}", o.stderr);
    assert_eq!(std::fs::read(f.path("elsewhere.age")).unwrap(), before);
}

/// An erasure of a sealed testimony is refused while `sealed-keys/` is missing (a volume
/// not mounted): its item key is elsewhere, and "0 files destroyed" would be a lie.
#[test]
fn an_erasure_is_refused_when_the_keys_directory_is_missing() {
    let f = sealed();
    let seq = f.testimony("to be erased");
    std::fs::rename(f.path("ledger/sealed-keys"), f.path("unmounted")).unwrap();
    let before = snapshot(&f.path("ledger"));
    let o = f.run(&[
        "erase",
        "--ledger",
        &f.p("ledger"),
        "--key",
        &f.p("keys/ledger.key"),
        &seq.to_string(),
        "--reason",
        "order",
    ]);
    assert_eq!(o.code, 2, "{}", o.all());
    assert_same(&before, &snapshot(&f.path("ledger")), "a refused erasure");
}

/// An identity given where a recipient belongs is refused without printing the secret.
#[test]
fn an_identity_given_as_a_recipient_is_never_echoed() {
    let f = sealed();
    let secret = std::fs::read_to_string(f.path("keys/hq.identity")).unwrap();
    let line = secret
        .lines()
        .find(|l| l.starts_with("AGE-SECRET-KEY-"))
        .unwrap()
        .to_owned();
    for given in [f.p("keys/hq.identity"), line.clone()] {
        let o = crate::seal::seal_to(&f, &["--add", &given]);
        assert_eq!(o.code, 2, "{}", o.all());
        assert!(
            !o.all().contains(&line[16..]),
            "the secret was printed: {}",
            o.all()
        );
    }
}
