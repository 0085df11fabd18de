//! What an adversarial review of the verdict rules found, kept as regression tests: each
//! named after the attack, each failing without its fix.

use crate::util::*;

fn testimony_as(f: &Fixture, key: &str, text: &str) -> u64 {
    std::fs::write(f.path("t.txt"), text).unwrap();
    seq_of(&f.run_as(
        key,
        &[
            "add",
            "testimony",
            "--subject",
            "W",
            "--language",
            "en",
            "--consent",
            "court",
            "--text-file",
            &f.p("t.txt"),
            "--json",
        ],
    ))
}

#[test]
fn a_thief_declaring_the_stolen_key_compromised_from_now_cannot_shut_out_the_real_window() {
    let f = Fixture::new();
    f.add_key("honest", "admin");
    f.add_key("stolen", "admin");
    let original = f.testimony("the true account");
    // From here on the thief holds the "stolen" admin key.
    let puppet = f.new_key("puppet");
    let minted = seq_of(&f.run_as(
        "stolen",
        &[
            "key",
            "authorize",
            &puppet,
            "--name",
            "P",
            "--role",
            "admin",
            "--json",
        ],
    ));
    let planted = testimony_as(&f, "puppet", "a planted account");
    std::fs::write(f.path("r.txt"), "a rewritten account").unwrap();
    let rewrite = seq_of(&f.run_as(
        "stolen",
        &[
            "amend",
            &original.to_string(),
            "--reason",
            "typo",
            "--text-file",
            &f.p("r.txt"),
            "--json",
        ],
    ));
    // The puppet "reports" the stolen key compromised from now on only...
    let o = f.run_as(
        "puppet",
        &[
            "key",
            "revoke",
            &f.key_id("stolen"),
            "--reason",
            "compromised",
        ],
    );
    assert_eq!(o.code, 0, "{}", o.all());
    // ...and the honest admin still declares the real window, which widens it.
    let o = f.run_as(
        "honest",
        &[
            "key",
            "revoke",
            &f.key_id("stolen"),
            "--reason",
            "compromised",
            "--effective",
            &minted.to_string(),
        ],
    );
    assert_eq!(
        o.code,
        0,
        "a later declaration must be able to widen the window: {}",
        o.all()
    );
    f.checkpoint();
    let found = f.findings();
    for (code, seq) in [
        ("signed-after-compromise", minted),
        ("tainted-signer", planted),
        ("signed-after-compromise", rewrite),
    ] {
        assert!(
            found.contains(&(code.into(), Some(seq))),
            "{code} at {seq}: {found:?}"
        );
    }
    for s in [planted, rewrite] {
        assert_eq!(f.verify(s).code, 1, "{}", f.verify(s).all());
    }
    let o = f.run(&["history", "--ledger", &f.p("ledger"), &original.to_string()]);
    assert_eq!(o.code, 1, "the rewrite is a failing version: {}", o.all());
}

#[test]
fn a_compromise_time_is_placed_by_position_and_a_clock_set_back_is_refused_not_let_through() {
    // Every command of this story runs at a time of its own, after the ledger was made.
    let f = Fixture::new();
    let at = |when: &str, args: &[&str]| f.at(when, args);
    let (l, k) = (f.p("ledger"), f.p("keys/alice.key"));
    let add_at = |when: &str, name: &str| {
        std::fs::create_dir_all(f.path("media")).unwrap();
        let p = f.p(&format!("media/{name}"));
        std::fs::write(&p, name).unwrap();
        seq_of(&at(
            when,
            &["add", "media", "--json", "--ledger", &l, "--key", &k, &p],
        ))
    };
    let before = add_at("2027-01-10 00:00:00", "before.bin");
    let after = add_at("2027-06-01 00:00:00", "after.bin");
    // The thief appends with the laptop's clock set back before the theft.
    let set_back = add_at("2027-02-01 00:00:00", "set-back.bin");
    let (lk, alice) = (f.p("keys/ledger.key"), f.key_id("alice"));
    let o = at(
        "2027-07-01 00:00:00",
        &[
            "key",
            "revoke",
            "--ledger",
            &l,
            "--key",
            &lk,
            &alice,
            "--reason",
            "compromised",
            "--effective",
            "2027-03-01T00:00:00Z",
        ],
    );
    // The set-back record lies after one dated past the theft: no clock can say where the
    // theft falls, so the admin must give the record number.
    assert_eq!(o.code, 2, "{}", o.all());
    assert!(
        o.stderr.contains("give --effective with the record number"),
        "{}",
        o.stderr
    );
    let o = at(
        "2027-07-01 00:00:00",
        &[
            "key",
            "revoke",
            "--ledger",
            &l,
            "--key",
            &lk,
            &alice,
            "--reason",
            "compromised",
            "--effective",
            &after.to_string(),
        ],
    );
    assert_eq!(o.code, 0, "{}", o.all());
    assert_eq!(
        at(
            "2027-07-01 00:00:01",
            &["checkpoint", "--ledger", &l, "--key", &lk]
        )
        .code,
        0
    );
    let o = at("2027-07-02 00:00:00", &["audit", "--ledger", &l, "--json"]);
    let found = finding_codes(&serde_json::from_str(&o.stdout).unwrap());
    for s in [after, set_back] {
        assert!(
            found.contains(&("signed-after-compromise".into(), Some(s))),
            "{s}: {found:?}"
        );
    }
    assert!(
        !found
            .iter()
            .any(|(c, s)| c == "signed-after-compromise" && *s == Some(before))
    );
}

#[test]
fn an_export_waits_for_a_checkpoint_that_covers_a_later_revocation() {
    let f = Fixture::new();
    f.add_key("bob", "custodian");
    let ex = f.media("x.bin", b"x");
    let t = f.transfer("alice", ex, "bob");
    let a = seq_of(&f.run_as("bob", &["accept", &t.to_string(), "--json"]));
    f.checkpoint();
    // Bob's key is found compromised from his acceptance on, after the checkpoint.
    f.revoke("bob", "compromised", Some(&a.to_string()));
    let export = |out: &str, seqs: &[&str]| {
        f.run_as("alice", &[&["export", "--out", &f.p(out)], seqs].concat())
    };
    let o = export("stale.zip", &[&ex.to_string()]);
    assert_eq!(o.code, 2, "{}", o.all());
    assert!(o.stderr.contains("not yet covered"), "{}", o.stderr);
    assert!(!f.path("stale.zip").exists());
    // Record 0 is never an exhibit: it is always a supporting record.
    f.checkpoint();
    assert_eq!(export("genesis.zip", &["0", &ex.to_string()]).code, 2);
    // Once covered, the bundle carries the revocation and needs a reason to be written.
    assert_eq!(export("fresh.zip", &[&ex.to_string()]).code, 1);
}

#[test]
fn a_ledger_key_minted_by_a_thief_signs_no_checkpoint_that_counts() {
    let f = Fixture::new();
    f.add_key("admin", "admin");
    f.add_key("admin2", "admin");
    let honest = f.testimony("honest");
    f.checkpoint();
    // The thief, holding the admin key, names its own ledger key and signs with it.
    let lkp = f.new_key("lkp");
    let named = seq_of(&f.run_as(
        "admin",
        &[
            "key",
            "rotate",
            "--old",
            &f.key_id("ledger"),
            "--new",
            &lkp,
            "--json",
        ],
    ));
    f.ok(&[
        "checkpoint",
        "--ledger",
        &f.p("ledger"),
        "--key",
        &f.p("keys/lkp.key"),
    ]);
    let o = f.run_as(
        "admin2",
        &[
            "key",
            "revoke",
            &f.key_id("admin"),
            "--reason",
            "compromised",
            "--effective",
            &named.to_string(),
        ],
    );
    assert_eq!(o.code, 0, "{}", o.all());
    // Found out: the thief's key signs nothing more, and what it signed counts for nothing.
    let o = f.run(&[
        "checkpoint",
        "--ledger",
        &f.p("ledger"),
        "--key",
        &f.p("keys/lkp.key"),
    ]);
    assert_eq!(o.code, 2, "{}", o.all());
    assert!(o.stderr.contains("never authorised"), "{}", o.stderr);
    let found = f.findings();
    assert!(
        found.iter().any(|(c, _)| c == "checkpoint-key"),
        "{found:?}"
    );
    let o = f.ok(&["key", "list", "--ledger", &f.p("ledger")]);
    let line = o
        .stdout
        .lines()
        .find(|l| l.starts_with(&f.key_id("lkp")))
        .unwrap()
        .to_owned();
    assert!(
        line.contains("never authorised"),
        "key list must name a minted key: {line}"
    );

    // The honest admins recover: a new ledger key, the thief's revoked. Honest evidence
    // recorded before the theft verifies again, in both verifiers.
    let lk3 = f.new_key("lk3");
    let o = f.run_as(
        "admin2",
        &["key", "rotate", "--old", &f.key_id("lkp"), "--new", &lk3],
    );
    assert_eq!(o.code, 0, "{}", o.all());
    f.ok(&[
        "checkpoint",
        "--ledger",
        &f.p("ledger"),
        "--key",
        &f.p("keys/lk3.key"),
    ]);
    assert_eq!(f.verify(honest).code, 0, "{}", f.verify(honest).all());
    let o = f.run_as(
        "admin2",
        &["export", "--out", &f.p("h.zip"), &honest.to_string()],
    );
    assert_eq!(o.code, 0, "{}", o.all());
    let (b, lk, ak) = (f.p("h.zip"), f.p("keys/lk3.pub"), f.p("keys/admin2.pub"));
    let (ours, theirs) = f.verify_bundle_both(&[&b, "--trust", &lk, "--trust", &ak]);
    assert_eq!(
        (ours.code, theirs.code),
        (0, 0),
        "{}\n{}",
        ours.all(),
        theirs.all()
    );
}

#[test]
fn the_ledger_key_in_force_is_never_revoked_so_rotation_never_wedges() {
    let f = Fixture::new();
    f.add_key("admin", "admin");
    for reason in ["retired", "compromised"] {
        let o = f.run_as(
            "admin",
            &["key", "revoke", &f.key_id("ledger"), "--reason", reason],
        );
        assert_eq!(o.code, 2, "{reason}: {}", o.all());
        assert!(
            o.stderr.contains("name a new ledger key first"),
            "{}",
            o.stderr
        );
    }
    let l2 = f.new_key("l2");
    let o = f.run_as(
        "admin",
        &["key", "rotate", "--old", &f.key_id("ledger"), "--new", &l2],
    );
    assert_eq!(o.code, 0, "{}", o.all());
    let l3 = f.new_key("l3");
    let o = f.run_as(
        "admin",
        &["key", "rotate", "--old", &f.key_id("l2"), "--new", &l3],
    );
    assert_eq!(
        o.code,
        0,
        "a ledger-role key is retired with its duty: {}",
        o.all()
    );
    let o = f.ok(&["key", "list", "--ledger", &f.p("ledger")]);
    assert!(o.stdout.contains("retired by record"), "{}", o.stdout);
}

#[test]
fn a_pinned_ledger_key_that_was_only_named_by_a_forged_ledger_does_not_pass() {
    // The forger has only the victim's public key, names it as the next ledger key of a
    // ledger he made with his own genesis key, and hopes the pin accepts it.
    let victim = Fixture::new();
    let f = Fixture::with_records(1);
    let victim_pub = victim.p("keys/ledger.pub");
    let o = f.run_as(
        "ledger",
        &[
            "key",
            "rotate",
            "--old",
            &f.key_id("ledger"),
            "--new",
            &victim_pub,
        ],
    );
    assert_eq!(o.code, 0, "{}", o.all());
    let o = f.run(&[
        "audit",
        "--ledger",
        &f.p("ledger"),
        "--ledger-key",
        &victim_pub,
    ]);
    assert_eq!(
        o.code,
        1,
        "a key that signed nothing must not satisfy the pin: {}",
        o.all()
    );
    assert!(o.stdout.contains("not by the key"), "{}", o.stdout);
    // The genesis key, which did sign, still does.
    let o = f.run(&[
        "audit",
        "--ledger",
        &f.p("ledger"),
        "--ledger-key",
        &f.p("keys/ledger.pub"),
    ]);
    assert_eq!(o.code, 0, "{}", o.all());
}

#[test]
fn no_single_declaration_can_void_the_authority_it_is_signed_under() {
    let f = Fixture::new();
    f.add_key("admin", "admin");
    let l2 = f.new_key("l2");
    let o = f.run_as(
        "admin",
        &["key", "rotate", "--old", &f.key_id("ledger"), "--new", &l2],
    );
    assert_eq!(o.code, 0, "{}", o.all());
    // An admin declares a key compromised, from a record or a time when given.
    let compromise = |key: &str, effective: Option<&str>| {
        let mut args = vec!["key", "revoke", key, "--reason", "compromised"];
        args.extend(effective.map(|e| ["--effective", e]).into_iter().flatten());
        f.run_as("admin", &args)
    };
    // The genesis key compromised from record 0 would taint every key, the signer's too.
    let o = compromise(&f.key_id("ledger"), Some("0"));
    assert_eq!(o.code, 2, "{}", o.all());
    assert!(o.stderr.contains("its own signer"), "{}", o.stderr);
    // So would a time before the genesis, which resolves to record 0.
    let o = compromise(&f.key_id("ledger"), Some("2001-01-01T00:00:00Z"));
    assert_eq!(o.code, 2, "{}", o.all());
    // A key cannot declare itself compromised, and a time in the future is refused.
    let o = compromise(&f.key_id("admin"), None);
    assert_eq!(o.code, 2, "{}", o.all());
    let o = compromise(&f.key_id("alice"), Some("2999-01-01T00:00:00Z"));
    assert_eq!(o.code, 2, "{}", o.all());
    assert!(o.stderr.contains("in the future"), "{}", o.stderr);
    f.ok(&[
        "checkpoint",
        "--ledger",
        &f.p("ledger"),
        "--key",
        &f.p("keys/l2.key"),
    ]);
    assert_eq!(f.audit().code, 0, "{}", f.audit().all());
}

#[test]
fn export_waits_for_a_revocation_that_reached_the_journal_but_not_the_index() {
    let f = Fixture::new();
    let ex = f.media("x.bin", b"x");
    f.checkpoint();
    // The revocation's process dies after the journal fsync, before the index.
    let id = f.key_id("alice");
    let o = f.run_as(
        "ledger",
        &[
            "key",
            "revoke",
            &id,
            "--reason",
            "compromised",
            "--effective",
            &ex.to_string(),
        ],
    );
    assert_eq!(o.code, 0, "{}", o.all());
    let o = assert_cmd::Command::cargo_bin("custody")
        .unwrap()
        .env("CUSTODY_TEST_CRASH_POINT", "after-fsync")
        .args([
            "key",
            "authorize",
            "--ledger",
            &f.p("ledger"),
            "--key",
            &f.p("keys/ledger.key"),
        ])
        .args([&f.new_key("late"), "--name", "Late", "--role", "auditor"])
        .output()
        .unwrap();
    assert!(!o.status.success());
    let o = f.run_as(
        "ledger",
        &["export", "--out", &f.p("x.zip"), &ex.to_string()],
    );
    assert_eq!(o.code, 2, "{}", o.all());
    assert!(o.stderr.contains("custody recover"), "{}", o.stderr);
}

#[test]
fn a_thief_named_ledger_key_exported_as_an_exhibit_is_judged_and_honest_bundles_survive_recovery() {
    let f = Fixture::new();
    f.add_key("admin", "admin");
    f.add_key("admin2", "admin");
    let honest = f.testimony("honest");
    let lk2 = f.new_key("lk2");
    f.run_as(
        "admin2",
        &["key", "rotate", "--old", &f.key_id("ledger"), "--new", &lk2],
    );
    f.ok(&[
        "checkpoint",
        "--ledger",
        &f.p("ledger"),
        "--key",
        &f.p("keys/lk2.key"),
    ]);
    // The thief, with the admin key, names his ledger key and retires the honest one.
    let lkp = f.new_key("lkp");
    let named = seq_of(&f.run_as(
        "admin",
        &[
            "key",
            "rotate",
            "--old",
            &f.key_id("lk2"),
            "--new",
            &lkp,
            "--json",
        ],
    ));
    f.run_as(
        "admin2",
        &[
            "key",
            "revoke",
            &f.key_id("admin"),
            "--reason",
            "compromised",
            "--effective",
            &named.to_string(),
        ],
    );
    let lk3 = f.new_key("lk3");
    let o = f.run_as(
        "admin2",
        &["key", "rotate", "--old", &f.key_id("lkp"), "--new", &lk3],
    );
    assert_eq!(o.code, 0, "{}", o.all());
    f.ok(&[
        "checkpoint",
        "--ledger",
        &f.p("ledger"),
        "--key",
        &f.p("keys/lk3.key"),
    ]);
    let both = |bundle: &str| {
        let (b, lk, ak) = (f.p(bundle), f.p("keys/lk3.pub"), f.p("keys/admin2.pub"));
        let (ours, theirs) = f.verify_bundle_both(&[&b, "--trust", &lk, "--trust", &ak]);
        assert_eq!(ours.code, theirs.code, "{}\n{}", ours.all(), theirs.all());
        ours
    };
    // Honest evidence from before the theft: the thief's records only name, not fail.
    let o = f.run_as(
        "admin2",
        &["export", "--out", &f.p("h.zip"), &honest.to_string()],
    );
    assert_eq!(o.code, 0, "{}", o.all());
    assert_eq!(both("h.zip").code, 0);
    // The thief's own ledger-key record, as an exhibit, is judged.
    let o = f.run_as(
        "admin2",
        &[
            "export",
            "--out",
            &f.p("t.zip"),
            "--include-failing",
            "evidence of the theft",
            &named.to_string(),
        ],
    );
    assert_eq!(o.code, 0, "{}", o.all());
    assert_eq!(both("t.zip").code, 1);
}

#[test]
fn history_fails_when_a_hand_over_was_withdrawn_with_a_stolen_key() {
    let f = Fixture::new();
    f.add_key("admin", "admin");
    f.add_key("bob", "custodian");
    let ex = f.media("x.bin", b"x");
    let t = f.transfer("alice", ex, "bob");
    let c = seq_of(&f.run_as("admin", &["transfer", "--cancel", &t.to_string(), "--json"]));
    f.revoke("admin", "compromised", Some(&c.to_string()));
    f.checkpoint();
    let o = f.run(&["history", "--ledger", &f.p("ledger"), &ex.to_string()]);
    assert_eq!(o.code, 1, "{}", o.all());
    assert!(
        o.stdout.contains("[signed-after-compromise]"),
        "{}",
        o.stdout
    );
}

#[test]
fn a_bundle_exported_with_failing_exhibits_never_passes_even_where_it_cannot_recheck_them() {
    let f = Fixture::new();
    f.media("first.bin", b"1");
    let (l, k) = (f.p("ledger"), f.p("keys/alice.key"));
    std::fs::write(f.path("late.bin"), b"late").unwrap();
    // Dated an hour before the record before it: a time-order failure no bundle can show.
    let o = f.at(
        "2020-01-01 00:00:00",
        &[
            "add",
            "media",
            "--json",
            "--ledger",
            &l,
            "--key",
            &k,
            &f.p("late.bin"),
        ],
    );
    let late = seq_of(&o);
    f.checkpoint();
    assert_eq!(f.verify(late).code, 1);
    let export = |extra: &[&str], out: &str| {
        f.run_as(
            "alice",
            &[&["export", "--out", &f.p(out)], extra, &[&late.to_string()]].concat(),
        )
    };
    assert_eq!(export(&[], "no.zip").code, 1);
    let o = export(&["--include-failing", "the court asked for it"], "yes.zip");
    assert_eq!(o.code, 0, "{}", o.all());
    let (b, lk, ak) = (
        f.p("yes.zip"),
        f.p("keys/ledger.pub"),
        f.p("keys/alice.pub"),
    );
    let (ours, theirs) = f.verify_bundle_both(&[&b, "--trust", &lk, "--trust", &ak]);
    assert_eq!(
        (ours.code, theirs.code),
        (1, 1),
        "{}\n{}",
        ours.all(),
        theirs.all()
    );
    assert!(
        ours.stdout.contains("[included-failing]"),
        "{}",
        ours.stdout
    );
    // And a reason is refused where nothing fails.
    let first = 2u64;
    let o = f.run_as(
        "alice",
        &[
            "export",
            "--out",
            &f.p("x.zip"),
            "--include-failing",
            "r",
            &first.to_string(),
        ],
    );
    assert_eq!(o.code, 2, "{}", o.all());
}

#[test]
fn recover_never_cuts_records_a_signed_checkpoint_covers() {
    let f = Fixture::with_records(4);
    let before = std::fs::read(f.path("ledger/journal")).unwrap();
    // One bit of an old, checkpointed record flips, and the index is lost.
    let frames = journal_frames(&f.path("ledger/journal"));
    let (at, _) = frames[3];
    let mut damaged = before.clone();
    damaged[at + 20] ^= 0x01;
    std::fs::write(f.path("ledger/journal"), &damaged).unwrap();
    std::fs::remove_dir_all(f.path("ledger/db")).unwrap();
    let o = f.run(&["recover", "--ledger", &f.p("ledger")]);
    assert_eq!(o.code, 2, "{}", o.all());
    assert!(o.stderr.contains("nothing was cut"), "{}", o.stderr);
    assert_eq!(
        std::fs::read(f.path("ledger/journal")).unwrap(),
        damaged,
        "the journal must be left whole"
    );
}

#[test]
fn a_manifest_that_names_a_member_twice_anywhere_is_refused_by_both_verifiers() {
    let f = Fixture::with_records(1);
    f.export_ok("alice", "b.zip", &["2"]);
    let mut members = read_zip(&f.path("b.zip"));
    // "subject" twice in the exhibit's body: the last one is the record's.
    let text = String::from_utf8(members["manifest.json"].clone()).unwrap();
    let forged = text.replacen(
        "\"subject\": \"W-1\"",
        "\"subject\": \"FORGED\",\n        \"subject\": \"W-1\"",
        1,
    );
    assert_ne!(forged, text);
    members.insert("manifest.json".into(), forged.into_bytes());
    resign(&mut members, &f.path("keys/alice.key"));
    write_zip_to(&f.path("dup.zip"), &members);
    let (b, lk, ak) = (
        f.p("dup.zip"),
        f.p("keys/ledger.pub"),
        f.p("keys/alice.pub"),
    );
    let (ours, theirs) = f.verify_bundle_both(&[&b, "--trust", &lk, "--trust", &ak]);
    assert_eq!(
        (ours.code, theirs.code),
        (1, 1),
        "{}\n{}",
        ours.all(),
        theirs.all()
    );
    assert!(ours.stdout.contains("appears twice"), "{}", ours.stdout);
}

#[test]
fn a_hand_over_by_a_thief_withdrawn_by_an_admin_fails_history_but_not_the_exhibits_bundles() {
    let f = Fixture::new();
    f.add_key("bob", "custodian");
    let ex = f.media("x.bin", b"x");
    let t = f.transfer("alice", ex, "bob");
    f.run_as("ledger", &["transfer", "--cancel", &t.to_string()]);
    // Alice's key was stolen from that hand-over on; her exhibit before it is honest.
    f.revoke("alice", "compromised", Some(&t.to_string()));
    f.checkpoint();
    let o = f.run(&["history", "--ledger", &f.p("ledger"), &ex.to_string()]);
    assert_eq!(o.code, 1, "{}", o.all());
    assert!(
        o.stdout.contains("[signed-after-compromise]"),
        "{}",
        o.stdout
    );
    let o = f.run_as(
        "ledger",
        &["export", "--out", &f.p("x.zip"), &ex.to_string()],
    );
    assert_eq!(
        o.code,
        0,
        "a withdrawn hand-over moved nothing: {}",
        o.all()
    );
    let (b, lk) = (f.p("x.zip"), f.p("keys/ledger.pub"));
    let (ours, theirs) = f.verify_bundle_both(&[&b, "--trust", &lk]);
    assert_eq!(
        (ours.code, theirs.code),
        (0, 0),
        "{}\n{}",
        ours.all(),
        theirs.all()
    );
}

#[test]
fn a_revocation_removed_from_the_index_never_reaches_a_court() {
    let f = Fixture::new();
    let ex = f.media("x.bin", b"x");
    f.revoke("alice", "compromised", Some(&ex.to_string()));
    f.checkpoint();
    let revoke = ex + 1;
    // Whoever can write the index deletes the revocation's entry in the authority index.
    {
        let db = open_sled(&f.path("ledger/db"));
        edit_small_lookup(&db, b'a', |e| e.retain(|x| *x != lookup_entry(&[], revoke)));
        db.flush().unwrap();
    }
    let o = f.run_as(
        "ledger",
        &[
            "export",
            "--out",
            &f.p("x.zip"),
            "--include-failing",
            "r",
            &ex.to_string(),
        ],
    );
    assert_eq!(o.code, 2, "{}", o.all());
    assert!(
        o.stderr.contains("differs from what the journal"),
        "{}",
        o.stderr
    );
    assert!(!f.path("x.zip").exists());
    assert_eq!(f.audit().code, 1);
}
