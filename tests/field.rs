//! From the field to headquarters: `custody sign` on a device with no ledger, `custody
//! ingest` at headquarters, with the real binary, real .cst files and a real ledger.

use crate::seal::{audit_opened, files_under, open_text, sealed};
use crate::util::{Fixture, Output, snapshot};

/// `custody sign testimony` by `key` of `text` into `out` (sealed to headquarters).
pub(crate) fn sign_testimony(
    f: &Fixture,
    key: &str,
    text: &str,
    out: &str,
    more: &[&str],
) -> Output {
    std::fs::write(f.path("field.txt"), text).unwrap();
    let base = [
        "sign",
        "testimony",
        "--key",
        &f.p(&format!("keys/{key}.key")),
        "--seal-to",
        &f.p("keys/hq.recipient"),
        "--subject",
        "W-7",
        "--language",
        "ar",
        "--consent",
        "court",
        "--text-file",
        &f.p("field.txt"),
        "--out",
        &f.p(out),
    ];
    let o = f.run(&[&base[..], more].concat());
    std::fs::remove_file(f.path("field.txt")).unwrap();
    o
}

/// `custody sign media` by `key` of a file with `bytes` into `out`.
pub(crate) fn sign_media(
    f: &Fixture,
    key: &str,
    name: &str,
    bytes: &[u8],
    out: &str,
    more: &[&str],
) -> Output {
    let path = f.path(&format!("field/{name}"));
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(&path, bytes).unwrap();
    let base = [
        "sign",
        "media",
        "--key",
        &f.p(&format!("keys/{key}.key")),
        "--out",
        &f.p(out),
    ];
    f.run(&[&base[..], more, &[path.to_str().unwrap()]].concat())
}

fn ingest(f: &Fixture, files: &[&str], more: &[&str]) -> Output {
    let paths: Vec<String> = files.iter().map(|x| f.p(x)).collect();
    let paths: Vec<&str> = paths.iter().map(String::as_str).collect();
    let ledger = f.p("ledger");
    f.run(&[&["ingest", "--ledger", ledger.as_str()][..], more, &paths].concat())
}

fn ingest_json(f: &Fixture, files: &[&str], more: &[&str]) -> (i32, serde_json::Value) {
    let o = ingest(f, files, &[more, &["--json"]].concat());
    let v = serde_json::from_str(&o.stdout).unwrap_or_else(|e| panic!("{e}: {}", o.all()));
    (o.code, v)
}

/// Ingests `file` and expects its one statement refused for a reason naming `needle`.
fn assert_refused(f: &Fixture, file: &str, more: &[&str], needle: &str) {
    let (code, v) = ingest_json(f, &[file], more);
    assert_eq!(code, 1, "{v}");
    let reason = v["statements"][0]["reason"].as_str().unwrap();
    assert!(reason.contains(needle), "{v}");
}

fn outcomes(v: &serde_json::Value) -> Vec<String> {
    v["statements"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["outcome"].as_str().unwrap().to_owned())
        .collect()
}

fn ledger_state(f: &Fixture) -> std::collections::BTreeMap<String, Vec<u8>> {
    let mut s = snapshot(&f.path("ledger"));
    // sled rewrites its own files when a reader opens it; the journal and content are the
    // ledger's truth.
    s.retain(|k, _| !k.contains("db"));
    s
}

#[test]
fn field_statements_reach_the_ledger_once_sealed_and_with_both_times() {
    let f = sealed();
    let text = "They took us at night, 40 of us, to the red building.";
    let o = sign_testimony(&f, "alice", text, "day1.cst", &[]);
    assert_eq!(o.code, 0, "{}", o.all());
    let o = sign_media(
        &f,
        "alice",
        "clip.mp4",
        b"video bytes",
        "day1.cst",
        &["--append"],
    );
    assert_eq!(o.code, 0, "{}", o.all());
    // The file holds no plaintext.
    let cst = std::fs::read(f.path("day1.cst")).unwrap();
    assert!(!cst.windows(10).any(|w| w == &text.as_bytes()[..10]));
    // Headquarters ingests it: both appended, claimed and recorded times side by side.
    let before = f.audit_json()["report"]["records"].as_u64().unwrap();
    let (code, v) = ingest_json(&f, &["day1.cst"], &["--identity", &f.p("keys/hq.identity")]);
    assert_eq!(code, 0, "{v}");
    assert_eq!(outcomes(&v), ["appended", "appended"]);
    let first = &v["statements"][0];
    assert_eq!(first["seq"].as_u64().unwrap(), before);
    assert_eq!(first["kind"], "testimony");
    let claimed = first["claimed_at_ms"].as_u64().unwrap();
    let recorded = first["recorded_at_ms"].as_u64().unwrap();
    assert!(claimed <= recorded, "{first}");
    let show = f.ok(&[
        "show",
        "--ledger",
        &f.p("ledger"),
        &before.to_string(),
        "--json",
    ]);
    let rec: serde_json::Value = serde_json::from_str(&show.stdout).unwrap();
    assert_eq!(rec["claimed_at_ms"].as_u64().unwrap(), claimed);
    assert_eq!(rec["recorded_at_ms"].as_u64().unwrap(), recorded);
    // The text opens at headquarters, byte for byte; the ledger holds no plaintext.
    let opened = open_text(&f, before, "keys/hq.identity");
    assert_eq!(opened.code, 0, "{}", opened.all());
    assert_eq!(opened.stdout, text);
    for (path, bytes) in files_under(&f.path("ledger")) {
        assert!(
            !bytes.windows(10).any(|w| w == &text.as_bytes()[..10]),
            "plaintext in {}",
            path.display()
        );
    }
    // The same file again: nothing new, and it says so.
    let state = ledger_state(&f);
    let o = ingest(&f, &["day1.cst"], &[]);
    assert_eq!(o.code, 0, "{}", o.all());
    assert!(
        o.stdout
            .contains(&format!("already in the ledger as record {before}")),
        "{}",
        o.stdout
    );
    assert!(o.stderr.contains("0 appended, 2 already"), "{}", o.stderr);
    assert_eq!(
        ledger_state(&f),
        state,
        "a second ingest changed the ledger"
    );
    // And the whole ledger audits clean, texts opened.
    let audit = audit_opened(&f, &[]);
    assert_eq!(audit.code, 0, "{}", audit.all());
}

#[test]
fn a_refused_statement_is_reported_and_the_others_are_appended() {
    let f = sealed();
    // mallory's key is no key of this ledger.
    f.ok(&["key", "generate", "mallory", "--dir", &f.p("keys")]);
    assert_eq!(
        sign_media(&f, "alice", "a.jpg", b"one", "mixed.cst", &[]).code,
        0
    );
    assert_eq!(
        sign_media(&f, "mallory", "b.jpg", b"two", "mixed.cst", &["--append"]).code,
        0
    );
    assert_eq!(
        sign_media(&f, "alice", "c.jpg", b"three", "mixed.cst", &["--append"]).code,
        0
    );
    let (code, v) = ingest_json(&f, &["mixed.cst"], &[]);
    assert_eq!(code, 1, "{v}");
    assert_eq!(outcomes(&v), ["appended", "refused", "appended"]);
    let reason = v["statements"][1]["reason"].as_str().unwrap();
    assert!(reason.contains("not") && reason.contains("key"), "{reason}");
    assert!(v["statements"][1]["rule"].is_string(), "{v}");
    // The refused one stays refused on a second try; the others are there.
    let (code, v) = ingest_json(&f, &["mixed.cst"], &[]);
    assert_eq!(code, 1);
    assert_eq!(outcomes(&v), ["already", "refused", "already"]);
}

#[test]
fn a_bad_signature_or_a_broken_file_changes_nothing() {
    let f = sealed();
    assert_eq!(
        sign_media(&f, "alice", "a.jpg", b"one", "one.cst", &[]).code,
        0
    );
    let good = std::fs::read(f.path("one.cst")).unwrap();
    // The signature is the 64 bytes before the final content tag.
    let mut forged = good.clone();
    let at = forged.len() - 2;
    forged[at] ^= 1;
    std::fs::write(f.path("forged.cst"), &forged).unwrap();
    let state = ledger_state(&f);
    let (code, v) = ingest_json(&f, &["forged.cst"], &[]);
    assert_eq!(code, 1, "{v}");
    assert_eq!(outcomes(&v), ["refused"]);
    assert!(
        v["statements"][0]["reason"]
            .as_str()
            .unwrap()
            .contains("signature"),
        "{v}"
    );
    assert_eq!(ledger_state(&f), state);
    // A file cut short, one with a byte more, and one that is no .cst file: exit 2, nothing
    // changed, and a good file given with them is still appended.
    for (name, bytes) in [
        ("cut.cst", good[..good.len() - 3].to_vec()),
        ("longer.cst", [&good[..], b"x"].concat()),
        ("text.cst", b"hello\n".to_vec()),
    ] {
        std::fs::write(f.path(name), bytes).unwrap();
        let o = ingest(&f, &[name], &[]);
        assert_eq!(o.code, 2, "{name}: {}", o.all());
        assert!(
            o.stdout.contains("not a valid signed-statements file"),
            "{}",
            o.stdout
        );
        assert_eq!(ledger_state(&f), state, "{name} changed the ledger");
    }
    let (code, v) = ingest_json(&f, &["cut.cst", "one.cst"], &[]);
    assert_eq!(code, 2, "{v}");
    assert_eq!(outcomes(&v), ["appended"]);
    assert_eq!(v["unreadable"][0]["file"], f.p("cut.cst"));
}

#[test]
fn sealed_texts_are_checked_against_their_statements() {
    let f = sealed();
    // A recipient that is not headquarters'.
    f.ok(&["key", "generate-recipient", "other", "--dir", &f.p("keys")]);
    std::fs::write(f.path("t.txt"), "a text").unwrap();
    let o = f.run(&[
        "sign",
        "testimony",
        "--key",
        &f.p("keys/alice.key"),
        "--seal-to",
        &f.p("keys/other.recipient"),
        "--subject",
        "W-2",
        "--language",
        "en",
        "--text-file",
        &f.p("t.txt"),
        "--out",
        &f.p("other.cst"),
    ]);
    assert_eq!(o.code, 0, "{}", o.all());
    let state = ledger_state(&f);
    assert_refused(
        &f,
        "other.cst",
        &["--identity", &f.p("keys/hq.identity")],
        "does not open",
    );
    assert_eq!(ledger_state(&f), state);

    // Two testimonies whose sealed texts are swapped: each text opens, neither matches.
    assert_eq!(
        sign_testimony(&f, "alice", "first account", "a.cst", &[]).code,
        0
    );
    assert_eq!(
        sign_testimony(&f, "alice", "second, longer account", "b.cst", &[]).code,
        0
    );
    let a = custody::field::decode(&std::fs::read(f.path("a.cst")).unwrap()).unwrap();
    let b = custody::field::decode(&std::fs::read(f.path("b.cst")).unwrap()).unwrap();
    let mut swapped = a[0].clone();
    swapped.text = b[0].text.clone();
    std::fs::write(
        f.path("swapped.cst"),
        custody::field::encode(&[swapped.clone()]),
    )
    .unwrap();
    // Whoever carries the file cannot swap a text: the signer bound it to the statement.
    assert_refused(&f, "swapped.cst", &[], "altered or swapped on the way");
    // Nor one of the same length, sealed to a key of their own, with no identity at hand
    // to notice (the text would be lost for good, and the genuine file "already" there).
    let mut theirs = a[0].clone();
    let len = "first account".len();
    let sealed_to_other = custody::seal::seal(
        &[&[0u8; 32][..], &vec![b'X'; len]].concat(),
        &[custody::seal::parse_recipient(
            std::fs::read_to_string(f.path("keys/other.recipient"))
                .unwrap()
                .trim(),
        )
        .unwrap()],
    )
    .unwrap();
    let t = theirs.text.as_mut().unwrap();
    t.ciphertext = sealed_to_other.ciphertext;
    t.wrapped_key = sealed_to_other.wrapped_key;
    std::fs::write(f.path("theirs.cst"), custody::field::encode(&[theirs])).unwrap();
    assert_refused(&f, "theirs.cst", &[], "altered or swapped on the way");
    assert_eq!(ledger_state(&f), state);
    // A device that binds a wrong text itself (its own key's signature): without an
    // identity the sizes give it away; with one, the commitment.
    let alice = custody::keys::load_secret(&f.path("keys/alice.key")).unwrap();
    let rebind = |mut item: custody::field::FieldItem, name: &str| {
        let t = item.text.as_mut().unwrap();
        t.signature = custody::keys::sign(
            &alice,
            &custody::field::seal_message(&item.signed.bytes, &t.ciphertext, &t.wrapped_key),
        );
        std::fs::write(f.path(name), custody::field::encode(&[item])).unwrap();
    };
    rebind(swapped, "swapped.cst");
    assert_refused(&f, "swapped.cst", &[], "not what its statement commits to");
    let mut same_len = a[0].clone();
    assert_eq!(
        sign_testimony(&f, "alice", "FIRST account", "c.cst", &[]).code,
        0
    );
    let c = custody::field::decode(&std::fs::read(f.path("c.cst")).unwrap()).unwrap();
    same_len.text = c[0].text.clone();
    rebind(same_len, "same_len.cst");
    assert_refused(
        &f,
        "same_len.cst",
        &["--identity", &f.p("keys/hq.identity")],
        "does not match",
    );
    assert_eq!(ledger_state(&f), state);
    // The genuine ones go in.
    let (code, v) = ingest_json(
        &f,
        &["a.cst", "b.cst"],
        &["--identity", &f.p("keys/hq.identity")],
    );
    assert_eq!(code, 0, "{v}");
}

#[test]
fn a_plain_ledger_stores_field_texts_only_when_it_can_open_them() {
    let f = Fixture::new();
    f.ok(&["key", "generate-recipient", "hq", "--dir", &f.p("keys")]);
    assert_eq!(
        sign_testimony(&f, "alice", "plain at headquarters", "t.cst", &[]).code,
        0
    );
    assert_refused(&f, "t.cst", &[], "--identity");
    let (code, v) = ingest_json(&f, &["t.cst"], &["--identity", &f.p("keys/hq.identity")]);
    assert_eq!(code, 0, "{v}");
    let seq = v["statements"][0]["seq"].as_u64().unwrap();
    let o = f.ok(&["open", "--ledger", &f.p("ledger"), &seq.to_string()]);
    assert_eq!(o.stdout, "plain at headquarters");
    let audit = f.audit();
    assert_eq!(audit.code, 0, "{}", audit.all());
}

#[test]
fn a_key_revoked_since_it_signed_is_refused_at_ingest() {
    let f = sealed();
    assert_eq!(
        sign_media(&f, "alice", "a.jpg", b"one", "late.cst", &[]).code,
        0
    );
    f.revoke("alice", "compromised", None);
    let (code, v) = ingest_json(&f, &["late.cst"], &[]);
    assert_eq!(code, 1, "{v}");
    assert_eq!(outcomes(&v), ["refused"]);
}

#[test]
fn sign_refuses_bad_input_and_overwrites_nothing() {
    let f = sealed();
    assert_eq!(
        sign_media(&f, "alice", "a.jpg", b"one", "s.cst", &[]).code,
        0
    );
    let before = std::fs::read(f.path("s.cst")).unwrap();
    // An existing file without --append.
    let o = sign_media(&f, "alice", "b.jpg", b"two", "s.cst", &[]);
    assert_eq!(o.code, 2, "{}", o.all());
    assert!(o.stderr.contains("--append"), "{}", o.stderr);
    assert_eq!(std::fs::read(f.path("s.cst")).unwrap(), before);
    // Appending to a file that is no .cst file.
    std::fs::write(f.path("notes.txt"), "notes").unwrap();
    let o = sign_media(&f, "alice", "b.jpg", b"two", "notes.txt", &["--append"]);
    assert_eq!(o.code, 2, "{}", o.all());
    assert_eq!(std::fs::read(f.path("notes.txt")).unwrap(), b"notes");
    // A testimony with no one to seal to.
    std::fs::write(f.path("t.txt"), "x").unwrap();
    let (key, text, out) = (f.p("keys/alice.key"), f.p("t.txt"), f.p("t.cst"));
    let unsealed = [
        "sign",
        "testimony",
        "--key",
        &key,
        "--subject",
        "W",
        "--language",
        "en",
        "--text-file",
        &text,
        "--out",
        &out,
    ];
    let o = f.run(&unsealed);
    assert_eq!(o.code, 2, "{}", o.all());
    assert!(o.stderr.contains("--seal-to"), "{}", o.stderr);
    assert!(!f.path("t.cst").exists());
    // A secret identity given as a recipient is refused and never printed.
    let id = std::fs::read_to_string(f.path("keys/hq.identity")).unwrap();
    let secret = id
        .lines()
        .find(|l| l.starts_with("AGE-SECRET-KEY-"))
        .unwrap();
    let o = f.run(&[&unsealed[..], &["--seal-to", secret]].concat());
    assert_eq!(o.code, 2, "{}", o.all());
    assert!(!o.all().contains(secret));
    // The device's configured recipients (CUSTODY_SEAL_TO) serve as --seal-to.
    let o: Output = assert_cmd::Command::cargo_bin("custody")
        .unwrap()
        .current_dir(f.dir.path())
        .env("CUSTODY_SEAL_TO", f.p("keys/hq.recipient"))
        .args(unsealed)
        .output()
        .unwrap()
        .into();
    assert_eq!(o.code, 0, "{}", o.all());
    let mode = std::os::unix::fs::PermissionsExt::mode(
        &std::fs::metadata(f.path("t.cst")).unwrap().permissions(),
    );
    assert_eq!(mode & 0o777, 0o600);
}

/// A statement signed by a key of the fixture (by file name), as a field item with no text.
fn signed_item(f: &Fixture, key: &str, body: custody::record::Body) -> custody::field::FieldItem {
    let key = custody::keys::load_secret(&f.path(&format!("keys/{key}.key"))).unwrap();
    custody::field::FieldItem {
        signed: custody::ledger::sign_statement(&key, body, custody::unix_ms()).unwrap(),
        text: None,
    }
}

#[test]
fn a_seal_to_ingested_before_a_testimony_seals_its_text() {
    // A ledger that keeps texts in plain; one file: the admin's seal-to, then a testimony.
    let f = Fixture::new();
    f.ok(&["key", "generate-recipient", "hq", "--dir", &f.p("keys")]);
    let hq = std::fs::read_to_string(f.path("keys/hq.recipient")).unwrap();
    let seal_to = signed_item(
        &f,
        "ledger",
        custody::record::Body::SealTo {
            recipients: vec![custody::seal::recipient_bytes(hq.trim()).unwrap()],
        },
    );
    let marker = "an account that must never be stored in plain";
    assert_eq!(sign_testimony(&f, "alice", marker, "t.cst", &[]).code, 0);
    let t = custody::field::decode(&std::fs::read(f.path("t.cst")).unwrap()).unwrap();
    std::fs::write(
        f.path("both.cst"),
        custody::field::encode(&[seal_to, t[0].clone()]),
    )
    .unwrap();
    let (code, v) = ingest_json(&f, &["both.cst"], &["--identity", &f.p("keys/hq.identity")]);
    assert_eq!(code, 0, "{v}");
    assert_eq!(outcomes(&v), ["appended", "appended"]);
    // The text is kept sealed, as every text after a seal-to: no plaintext on disk.
    for (path, bytes) in files_under(&f.path("ledger")) {
        assert!(
            !bytes.windows(marker.len()).any(|w| w == marker.as_bytes()),
            "plaintext in {}",
            path.display()
        );
    }
    let seq = v["statements"][1]["seq"].as_u64().unwrap();
    let o = open_text(&f, seq, &f.p("keys/hq.identity"));
    assert_eq!(o.stdout, marker, "{}", o.all());
    let audit = audit_opened(&f, &[]);
    assert_eq!(audit.code, 0, "{}", audit.all());
}

#[test]
fn an_erasure_is_not_taken_from_the_field() {
    let f = sealed();
    assert_eq!(
        sign_testimony(&f, "alice", "to be erased one day", "t.cst", &[]).code,
        0
    );
    let (code, v) = ingest_json(&f, &["t.cst"], &[]);
    assert_eq!(code, 0, "{v}");
    let seq = v["statements"][0]["seq"].as_u64().unwrap();
    let t = custody::field::decode(&std::fs::read(f.path("t.cst")).unwrap()).unwrap();
    let digest: [u8; 32] = <sha2::Sha256 as sha2::Digest>::digest(&t[0].signed.bytes).into();
    let erase = signed_item(
        &f,
        "ledger",
        custody::record::Body::Erase {
            target: seq,
            target_statement: digest,
            reason: "court order 12/2026".into(),
        },
    );
    std::fs::write(f.path("erase.cst"), custody::field::encode(&[erase])).unwrap();
    let state = ledger_state(&f);
    assert_refused(&f, "erase.cst", &[], "custody erase");
    assert_eq!(ledger_state(&f), state);
    // (Appended, it would have left the text's key in place: an erasure not carried out.)
    let audit = audit_opened(&f, &[]);
    assert_eq!(audit.code, 0, "{}", audit.all());
}

#[test]
fn a_text_left_by_a_crash_before_its_record_gives_way_to_the_retry() {
    for sealed_ledger in [false, true] {
        let f = if sealed_ledger {
            sealed()
        } else {
            Fixture::new()
        };
        if !sealed_ledger {
            f.ok(&["key", "generate-recipient", "hq", "--dir", &f.p("keys")]);
        }
        assert_eq!(
            sign_testimony(&f, "alice", "interrupted once", "t.cst", &[]).code,
            0
        );
        let ledger = f.p("ledger");
        let t = f.p("t.cst");
        let identity = f.p("keys/hq.identity");
        let args = ["ingest", "--ledger", &ledger, "--identity", &identity, &t];
        // The text is written, then the process dies before its record is durable.
        let crashed: Output = assert_cmd::Command::cargo_bin("custody")
            .unwrap()
            .env("CUSTODY_TEST_CRASH_POINT", "mid-journal-write")
            .args(args)
            .output()
            .unwrap()
            .into();
        assert_ne!(crashed.code, 0, "{}", crashed.all());
        f.ok(&["recover", "--ledger", &ledger]);
        // The retry is appended, once, and opens.
        let (code, v) = ingest_json(&f, &["t.cst"], &["--identity", &identity]);
        assert_eq!(code, 0, "sealed {sealed_ledger}: {v}");
        assert_eq!(outcomes(&v), ["appended"]);
        let seq = v["statements"][0]["seq"].as_u64().unwrap().to_string();
        let o = if sealed_ledger {
            open_text(&f, seq.parse().unwrap(), &identity)
        } else {
            f.run(&["open", "--ledger", &ledger, &seq])
        };
        assert_eq!(o.stdout, "interrupted once", "{}", o.all());
        let (_, v) = ingest_json(&f, &["t.cst"], &[]);
        assert_eq!(outcomes(&v), ["already"]);
        let audit = if sealed_ledger {
            audit_opened(&f, &[])
        } else {
            f.audit()
        };
        assert_eq!(audit.code, 0, "sealed {sealed_ledger}: {}", audit.all());
    }
}

#[test]
fn many_statements_naming_one_file_are_each_judged_once() {
    // One file registered many times (SPEC 8 allows it): each statement is appended once,
    // and a second ingest finds every one of them already there.
    let f = Fixture::new();
    let key = custody::keys::load_secret(&f.path("keys/alice.key")).unwrap();
    let sha = [7u8; 32];
    let file = |names: std::ops::Range<usize>| -> Vec<custody::field::FieldItem> {
        names
            .map(|i| {
                custody::field::sign_media(
                    &key,
                    custody::ledger::MediaInput {
                        name: Some(format!("copy-{i}.mp4")),
                        ..custody::ledger::MediaInput::new(sha, 3)
                    },
                    1_700_000_000_000 + i as u64,
                )
                .unwrap()
            })
            .collect()
    };
    let first = file(0..600);
    let mut second = file(300..900);
    second.push(second[0].clone());
    std::fs::write(f.path("a.cst"), custody::field::encode(&first)).unwrap();
    std::fs::write(f.path("b.cst"), custody::field::encode(&second)).unwrap();
    let (code, v) = ingest_json(&f, &["a.cst", "b.cst"], &[]);
    assert_eq!(code, 0);
    let o = outcomes(&v);
    assert_eq!(o.iter().filter(|x| *x == "appended").count(), 900);
    assert_eq!(o.iter().filter(|x| *x == "already").count(), 301);
    // The duplicate at the end of b.cst names b.cst's first statement, a.cst's 301st.
    let lines = v["statements"].as_array().unwrap();
    assert_eq!(lines[1200]["seq"], lines[300]["seq"]);
    let (code, v) = ingest_json(&f, &["a.cst", "b.cst"], &[]);
    assert_eq!(code, 0);
    assert!(outcomes(&v).iter().all(|x| x == "already"), "{v}");
}

#[test]
fn a_text_sealed_to_replaced_recipients_is_kept_for_those_in_force() {
    // The device still seals to hq; headquarters has since moved to a new recipient.
    let f = sealed();
    assert_eq!(
        sign_testimony(&f, "alice", "sealed to the old recipient", "t.cst", &[]).code,
        0
    );
    crate::seal::replace_hq_with_hq2(&f);
    // Opened with the old identity at ingest, its key is wrapped to the one in force.
    let (code, v) = ingest_json(&f, &["t.cst"], &["--identity", &f.p("keys/hq.identity")]);
    assert_eq!(code, 0, "{v}");
    let seq = v["statements"][0]["seq"].as_u64().unwrap();
    let o = open_text(&f, seq, &f.p("keys/hq2.identity"));
    assert_eq!(o.stdout, "sealed to the old recipient", "{}", o.all());
    let audit = f.run(&[
        "audit",
        "--ledger",
        &f.p("ledger"),
        "--identity",
        &f.p("keys/hq2.identity"),
    ]);
    assert_eq!(audit.code, 0, "{}", audit.all());
}
