//! Verdicts a court can rely on: each hole an adversary found in the authority rules,
//! pinned through the real binary, with both bundle verifiers required to agree.

use crate::util::*;

/// Exports `seqs` signed by `key` (with `extra` arguments) to `out`.
fn export_as(f: &Fixture, key: &str, out: &str, seqs: &[u64], extra: &[&str]) -> Output {
    let out = f.p(out);
    let seqs: Vec<String> = seqs.iter().map(u64::to_string).collect();
    let time = f.export_time();
    let mut args = vec!["export", "--out", &out, "--export-time", &time];
    args.extend_from_slice(extra);
    args.extend(seqs.iter().map(String::as_str));
    f.run_as(key, &args)
}

/// Both verifiers' exit codes, trusting the named public keys; they must agree.
fn both(f: &Fixture, bundle: &str, trust: &[&str]) -> (Output, Output) {
    let b = f.p(bundle);
    let keys: Vec<String> = trust
        .iter()
        .map(|k| f.p(&format!("keys/{k}.pub")))
        .collect();
    let mut args = vec![b.as_str()];
    for k in &keys {
        args.extend_from_slice(&["--trust", k]);
    }
    let (ours, theirs) = f.verify_bundle_both(&args);
    assert_eq!(
        ours.code,
        theirs.code,
        "the verifiers disagree on {bundle}:\ncustody:\n{}\npython:\n{}",
        ours.all(),
        theirs.all()
    );
    (ours, theirs)
}

fn manifest(f: &Fixture, bundle: &str) -> serde_json::Value {
    use std::io::Read;
    let mut z = zip::ZipArchive::new(std::fs::File::open(f.path(bundle)).unwrap()).unwrap();
    let mut s = String::new();
    z.by_name("manifest.json")
        .unwrap()
        .read_to_string(&mut s)
        .unwrap();
    serde_json::from_str(&s).unwrap()
}

fn supporting_seqs(m: &serde_json::Value) -> Vec<u64> {
    m["supporting"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["seq"].as_u64().unwrap())
        .collect()
}

#[test]
fn a_key_retired_then_found_compromised_is_named_by_audit_verify_key_list_and_bundles() {
    let f = Fixture::new();
    f.add_key("bob", "custodian");
    let a = seq_of(&f.media_as("alice", "a.bin"));
    let b = seq_of(&f.media_as("alice", "b.bin"));
    // Exhibit a passes from Alice's hands to Bob's inside her window.
    let t = f.transfer("alice", a, "bob");
    let acc = seq_of(&f.run_as("bob", &["accept", &t.to_string(), "--json"]));
    f.revoke("alice", "retired", None);
    let retired_at = acc + 1;
    // Found later: her laptop was stolen before she retired, from record b on.
    f.revoke("alice", "compromised", Some(&b.to_string()));
    let compromised_at = retired_at + 1;
    f.checkpoint();

    let found = f.findings();
    for s in [b, t] {
        assert!(
            found.contains(&("signed-after-compromise".into(), Some(s))),
            "record {s}: {found:?}"
        );
    }
    assert!(!found.iter().any(|(_, s)| *s == Some(a)), "{found:?}");
    assert_eq!(f.verify(a).code, 0);
    let o = f.verify(b);
    assert_eq!(o.code, 1, "{}", o.all());
    assert!(
        o.stdout.contains("[signed-after-compromise]"),
        "{}",
        o.stdout
    );
    assert!(
        o.stdout
            .contains(&format!("revoked by record {compromised_at}")),
        "verify must name the compromise record: {}",
        o.stdout
    );
    let keys: serde_json::Value = serde_json::from_str(
        &f.ok(&["key", "list", "--ledger", &f.p("ledger"), "--json"])
            .stdout,
    )
    .unwrap();
    let alice = keys
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["key_id"] == f.key_id("alice").as_str())
        .unwrap();
    assert_eq!(
        alice["revoked_by"],
        serde_json::json!([retired_at, compromised_at])
    );
    assert!(
        alice["status"]
            .as_str()
            .unwrap()
            .contains(&format!("revoked by record {compromised_at}"))
    );

    // Exhibit a, recorded before the window, was handed over inside it: its bundle carries
    // every revocation of Alice, and both verifiers flag the hand-over. Such a bundle is
    // written only with a reason.
    let o = export_as(&f, "ledger", "a.zip", &[a], &[]);
    assert_eq!(o.code, 1, "{}", o.all());
    assert!(o.stderr.contains("--include-failing"), "{}", o.stderr);
    let o = export_as(
        &f,
        "ledger",
        "a.zip",
        &[a],
        &["--include-failing", "chain of custody"],
    );
    assert_eq!(o.code, 0, "{}", o.all());
    let sup = supporting_seqs(&manifest(&f, "a.zip"));
    assert!(
        sup.contains(&retired_at) && sup.contains(&compromised_at),
        "{sup:?}"
    );
    let (ours, _) = both(&f, "a.zip", &["ledger"]);
    assert_eq!(ours.code, 1, "{}", ours.all());
    assert!(
        ours.stdout.contains("[signed-after-compromise]"),
        "{}",
        ours.stdout
    );
    // Exhibit b fails its own checks: exit 1 and nothing written, unless a reason is given.
    let o = export_as(&f, "ledger", "b.zip", &[b], &[]);
    assert_eq!(o.code, 1, "{}", o.all());
    assert!(!f.path("b.zip").exists());
    let o = export_as(
        &f,
        "ledger",
        "b.zip",
        &[b],
        &["--include-failing", "the defence asked"],
    );
    assert_eq!(o.code, 0, "{}", o.all());
    assert_eq!(
        manifest(&f, "b.zip")["include_failing"],
        "the defence asked"
    );
    let (ours, _) = both(&f, "b.zip", &["ledger"]);
    assert_eq!(ours.code, 1);
    // The report puts the failing checks first, in red.
    let html = {
        use std::io::Read;
        let mut z = zip::ZipArchive::new(std::fs::File::open(f.path("b.zip")).unwrap()).unwrap();
        let mut s = String::new();
        z.by_name("report.html")
            .unwrap()
            .read_to_string(&mut s)
            .unwrap();
        s
    };
    let first_bad = html.find("class=\"bad\">FAILED").unwrap();
    let first_ok = html.find("class=\"ok\">passed").unwrap();
    assert!(first_bad < first_ok, "failing checks must come first");
    assert!(html.contains("Content-Security-Policy"));
    assert!(html.contains("the defence asked"));
}

#[test]
fn bundles_of_earlier_evidence_still_verify_after_admin_rotations() {
    // The genesis key makes Bea an admin; Bea names a new ledger key and retires the
    // genesis key, then authorises an investigator and finally rotates her own key. At the
    // retirement of her old key, no admin the evidence needs is left: the bundle must
    // carry the one that was.
    let f = Fixture::new();
    f.add_key("bea", "admin");
    let genesis = f.key_id("ledger");
    f.ok(&["key", "generate", "ledger2", "--dir", &f.p("keys")]);
    let o = f.run_as(
        "bea",
        &[
            "key",
            "rotate",
            "--old",
            &genesis,
            "--new",
            &f.p("keys/ledger2.pub"),
        ],
    );
    assert_eq!(o.code, 0, "{}", o.all());
    let o = f.run_as("bea", &["key", "revoke", &genesis, "--reason", "retired"]);
    assert_eq!(o.code, 0, "{}", o.all());
    let o = f.add_key_by("bea", "ivan", "investigator");
    assert_eq!(o.code, 0, "{}", o.all());
    let e = seq_of(&f.media_as("ivan", "e.bin"));
    // Bea rotates her own key: a new admin, and her retirement, signed by her.
    f.ok(&["key", "generate", "bea2", "--dir", &f.p("keys")]);
    let o = f.run_as(
        "bea",
        &[
            "key",
            "rotate",
            "--old",
            &f.key_id("bea"),
            "--new",
            &f.p("keys/bea2.pub"),
        ],
    );
    assert_eq!(o.code, 0, "{}", o.all());
    f.ok(&[
        "checkpoint",
        "--ledger",
        &f.p("ledger"),
        "--key",
        &f.p("keys/ledger2.key"),
    ]);
    assert_eq!(f.audit().code, 0, "{}", f.audit().all());
    let o = export_as(&f, "bea2", "e.zip", &[e], &[]);
    assert_eq!(o.code, 0, "{}", o.all());
    let (ours, _) = both(&f, "e.zip", &["ledger2", "bea2"]);
    assert_eq!(
        ours.code,
        0,
        "legitimate evidence must never look tampered:\n{}",
        ours.all()
    );
}

#[test]
fn the_ledger_key_rotates_and_its_compromise_voids_the_checkpoints_it_signed_after_it() {
    let f = Fixture::new();
    f.add_key("bea", "admin");
    let a = seq_of(&f.media_as("alice", "a.bin"));
    f.checkpoint();
    let stolen_from = seq_of(&f.media_as("alice", "b.bin"));
    f.checkpoint(); // signed by the old key, covering record b: voided below
    f.ok(&["key", "generate", "ledger2", "--dir", &f.p("keys")]);
    let old = f.key_id("ledger");
    let o = f.run_as(
        "bea",
        &[
            "key",
            "rotate",
            "--old",
            &old,
            "--new",
            &f.p("keys/ledger2.pub"),
        ],
    );
    assert_eq!(o.code, 0, "{}", o.all());
    // The old key is refused, the new one signs.
    let o = f.run_as("ledger", &["checkpoint"]);
    assert_eq!(o.code, 2, "{}", o.all());
    assert!(o.stderr.contains("until record"), "{}", o.stderr);
    f.ok(&[
        "checkpoint",
        "--ledger",
        &f.p("ledger"),
        "--key",
        &f.p("keys/ledger2.key"),
    ]);
    assert_eq!(f.audit().code, 0, "{}", f.audit().all());
    // The new ledger key in force cannot be declared compromised before it has a successor.
    let o = f.run_as(
        "bea",
        &[
            "key",
            "revoke",
            &f.key_id("ledger2"),
            "--reason",
            "compromised",
        ],
    );
    assert_eq!(o.code, 2, "{}", o.all());
    assert!(
        o.stderr.contains("name a new ledger key first"),
        "{}",
        o.stderr
    );

    // A bundle carries the chain of ledger keys and verifies against the current key.
    let o = export_as(&f, "bea", "a.zip", &[a], &[]);
    assert_eq!(o.code, 0, "{}", o.all());
    let m = manifest(&f, "a.zip");
    assert_eq!(m["ledger"]["key_id"], f.key_id("ledger2").as_str());
    let (ours, _) = both(&f, "a.zip", &["ledger2", "bea"]);
    assert_eq!(ours.code, 0, "{}", ours.all());
    let (ours, _) = both(&f, "a.zip", &["ledger", "bea"]);
    assert_eq!(
        ours.code, 1,
        "pinning only the superseded key must not pass"
    );

    // The old key was stolen from record b on: the checkpoints it signed that cover b fail.
    let o = f.run_as(
        "bea",
        &[
            "key",
            "revoke",
            &old,
            "--reason",
            "compromised",
            "--effective",
            &stolen_from.to_string(),
        ],
    );
    assert_eq!(o.code, 0, "{}", o.all());
    f.ok(&[
        "checkpoint",
        "--ledger",
        &f.p("ledger"),
        "--key",
        &f.p("keys/ledger2.key"),
    ]);
    let found = f.findings();
    assert!(
        found.iter().any(|(c, _)| c == "checkpoint-compromised"),
        "{found:?}"
    );
    // Exports use the newest valid checkpoint, and still verify.
    let o = export_as(&f, "bea", "a2.zip", &[a], &[]);
    assert_eq!(o.code, 0, "{}", o.all());
    let (ours, _) = both(&f, "a2.zip", &["ledger2", "bea"]);
    assert_eq!(ours.code, 0, "{}", ours.all());
}

#[test]
fn a_key_minted_by_a_thief_inside_the_compromise_window_is_never_authorised() {
    let f = Fixture::new();
    f.add_key("bea", "admin");
    // Bea's key is stolen; the thief mints an admin and, through it, an investigator.
    let minted = seq_of(&{
        f.ok(&["key", "generate", "puppet", "--dir", &f.p("keys")]);
        let p = f.p("keys/puppet.pub");
        f.run_as(
            "bea",
            &[
                "key",
                "authorize",
                &p,
                "--name",
                "P",
                "--role",
                "admin",
                "--json",
            ],
        )
    });
    let o = f.add_key_by("puppet", "sock", "investigator");
    assert_eq!(o.code, 0, "{}", o.all());
    let forged = seq_of(&f.media_as("sock", "forged.bin"));
    f.revoke("bea", "compromised", Some(&minted.to_string()));
    f.checkpoint();
    let found = f.findings();
    assert!(
        found.contains(&("signed-after-compromise".into(), Some(minted))),
        "{found:?}"
    );
    assert!(
        found.contains(&("tainted-signer".into(), Some(forged))),
        "{found:?}"
    );
    let o = f.verify(forged);
    assert_eq!(o.code, 1);
    assert!(o.stdout.contains("[tainted-signer]"), "{}", o.stdout);
    // The puppets can sign nothing more, and cannot export.
    let o = f.media_as("sock", "more.bin");
    assert_eq!(o.code, 2, "{}", o.all());
    assert!(o.stderr.contains("never authorised"), "{}", o.stderr);
    assert_eq!(export_as(&f, "puppet", "p.zip", &[forged], &[]).code, 2);
    // A bundle of the forged record carries the compromise, and both verifiers flag it.
    let o = export_as(
        &f,
        "ledger",
        "p.zip",
        &[forged],
        &["--include-failing", "evidence of the theft"],
    );
    assert_eq!(o.code, 0, "{}", o.all());
    let (ours, _) = both(&f, "p.zip", &["ledger"]);
    assert_eq!(ours.code, 1);
    assert!(ours.stdout.contains("[tainted-signer]"), "{}", ours.stdout);
}

#[test]
fn a_pending_transfer_is_cancelled_by_its_sender_or_an_admin_only() {
    let f = Fixture::new();
    f.add_key("bob", "custodian");
    f.add_key("carl", "investigator");
    let ex = seq_of(&f.media_as("alice", "x.bin"));
    let give = |to: &str| {
        seq_of(&f.run_as(
            "alice",
            &[
                "transfer",
                "--exhibit",
                &ex.to_string(),
                "--to",
                &f.key_id(to),
                "--reason",
                "r",
                "--json",
            ],
        ))
    };
    let t = give("bob");
    // The receiver leaves before accepting; the hand-over is stuck until cancelled.
    f.revoke("bob", "retired", None);
    assert_eq!(f.run_as("bob", &["accept", &t.to_string()]).code, 2);
    assert_eq!(
        give_fails(&f, ex, "carl"),
        2,
        "a second hand-over while one is pending"
    );
    let o = f.run_as("carl", &["transfer", "--cancel", &t.to_string()]);
    assert_eq!(
        o.code,
        2,
        "only the sender or an admin cancels: {}",
        o.all()
    );
    let o = f.run_as("alice", &["transfer", "--cancel", &t.to_string()]);
    assert_eq!(o.code, 0, "{}", o.all());
    assert_eq!(
        f.run_as("alice", &["transfer", "--cancel", &t.to_string()])
            .code,
        2
    );
    // A new hand-over, cancelled by an admin this time.
    let t2 = give("carl");
    let o = f.run_as("ledger", &["transfer", "--cancel", &t2.to_string()]);
    assert_eq!(o.code, 0, "{}", o.all());
    assert_eq!(f.run_as("carl", &["accept", &t2.to_string()]).code, 2);
    f.checkpoint();
    let o = f.ok(&[
        "history",
        "--ledger",
        &f.p("ledger"),
        &ex.to_string(),
        "--json",
    ]);
    let h: serde_json::Value = serde_json::from_str(&o.stdout).unwrap();
    assert_eq!(h["history"]["cancelled"].as_array().unwrap().len(), 2);
    assert!(h["history"]["pending"].is_null());
    assert_eq!(f.audit().code, 0, "{}", f.audit().all());
    let o = export_as(&f, "alice", "x.zip", &[ex], &[]);
    assert_eq!(o.code, 0, "{}", o.all());
    let (ours, _) = both(&f, "x.zip", &["ledger", "alice"]);
    assert_eq!(ours.code, 0, "{}", ours.all());
    assert!(
        ours.stdout.contains("was cancelled by record"),
        "{}",
        ours.stdout
    );
}

fn give_fails(f: &Fixture, ex: u64, to: &str) -> i32 {
    f.run_as(
        "alice",
        &[
            "transfer",
            "--exhibit",
            &ex.to_string(),
            "--to",
            &f.key_id(to),
            "--reason",
            "r",
        ],
    )
    .code
}

#[test]
fn consent_is_a_fixed_vocabulary_and_only_court_reaches_a_court() {
    let f = Fixture::new();
    std::fs::write(f.path("t.txt"), "the witness's account").unwrap();
    let add = |consent: &str| {
        f.run_as(
            "alice",
            &[
                "add",
                "testimony",
                "--subject",
                "W-9",
                "--language",
                "ar",
                "--consent",
                consent,
                "--text-file",
                &f.p("t.txt"),
                "--json",
            ],
        )
    };
    for bad in [
        "no court",
        "Court",
        "all",
        "court,none",
        "court,court",
        "court only",
    ] {
        let o = add(bad);
        assert_eq!(o.code, 2, "{bad}: {}", o.all());
        assert!(
            o.stderr
                .contains("court, advocacy, research, archive, none"),
            "{}",
            o.stderr
        );
    }
    let research = seq_of(&add("research,archive"));
    let court = seq_of(&add("court, research"));
    f.checkpoint();
    assert_eq!(export_as(&f, "alice", "r.zip", &[research], &[]).code, 2);
    let o = export_as(&f, "alice", "c.zip", &[court], &[]);
    assert_eq!(o.code, 0, "{}", o.all());
    let (ours, _) = both(&f, "c.zip", &["ledger", "alice"]);
    assert_eq!(ours.code, 0, "{}", ours.all());
}

#[test]
fn a_clock_a_century_ahead_never_freezes_the_ledger_and_the_audit_blames_the_clock() {
    let f = Fixture::new();
    std::fs::create_dir_all(f.path("media")).unwrap();
    std::fs::write(f.path("media/ahead.bin"), b"ahead").unwrap();
    let (l, k, m) = (f.p("ledger"), f.p("keys/alice.key"), f.p("media/ahead.bin"));
    let o = f.at(
        "2126-11-30 10:00:00",
        &["add", "media", "--ledger", &l, "--key", &k, &m],
    );
    assert_eq!(o.code, 0, "{}", o.all());
    // Appends with a correct clock go on.
    let next = seq_of(&f.media_as("alice", "next.bin"));
    seq_of(&f.media_as("alice", "after.bin"));
    f.checkpoint();
    let found = f.findings();
    // The jump is reported once, at the later record, naming both times and blaming a
    // clock (which one cannot be told from the records, and the verdict must not change
    // with the day of the audit); the record dated ahead is also dated in the future.
    assert_eq!(
        found,
        vec![
            ("future-dated".to_string(), Some(next - 1)),
            ("time-order".to_string(), Some(next)),
        ],
        "one report of each, no more"
    );
    let o = f.verify(next - 1);
    assert_eq!(o.code, 1);
    assert!(o.stdout.contains("[future-dated]"), "{}", o.stdout);
    let o = f.verify(next);
    assert!(
        o.stdout.contains("[time-order]") && o.stdout.contains("clock"),
        "{}",
        o.stdout
    );
    // A century on, the verdicts are the same but for the date.
    let o = f.at(
        "2127-01-01 00:00:00",
        &["verify", "--ledger", &l, &next.to_string()],
    );
    assert!(o.stdout.contains("[time-order]"), "{}", o.stdout);
    let o = f.audit();
    assert!(o.stdout.contains("clock"), "{}", o.stdout);
    assert!(!o.all().contains("damaged"), "{}", o.all());
    // A clock before 1970 is a clear error, not a panic.
    let o = f.at("1969-06-01 00:00:00", &["log", "--ledger", &l]);
    assert_eq!(o.code, 2, "{}", o.all());
    assert!(o.stderr.contains("before 1970"), "{}", o.stderr);
}

#[test]
fn an_audit_against_a_checkpoint_of_another_ledger_is_a_finding() {
    // A checkpoint another ledger signed, given as this one's: the ledger was substituted.
    let f = Fixture::with_records(1);
    let other = Fixture::empty();
    other.ok(&["key", "generate", "ledger", "--dir", &other.p("keys")]);
    other.ok(&[
        "init",
        "--ledger",
        &other.p("ledger"),
        "--origin",
        "example.org/other",
        "--key",
        &other.p("keys/ledger.key"),
    ]);
    let cp = other.checkpoint();
    assert!(cp.starts_with("example.org/other\n"), "{cp}");
    std::fs::write(f.path("other.cp"), cp).unwrap();
    let o = f.run(&[
        "audit",
        "--ledger",
        &f.p("ledger"),
        "--against",
        &f.p("other.cp"),
        "--json",
    ]);
    assert_eq!(o.code, 1, "{}", o.all());
    let v: serde_json::Value = serde_json::from_str(&o.stdout).unwrap();
    assert!(codes_of(&v).contains(&"against-origin".to_string()), "{v}");
}

#[test]
fn every_version_of_a_corrected_testimony_reaches_the_court_and_a_forged_report_is_caught() {
    let f = Fixture::new();
    let t = f.testimony("I was held for forty days.");
    std::fs::write(f.path("fixed.txt"), "I was held for forty-one days.").unwrap();
    let a = seq_of(&f.run_as(
        "alice",
        &[
            "amend",
            &t.to_string(),
            "--reason",
            "the witness corrected the count",
            "--text-file",
            &f.p("fixed.txt"),
            "--json",
        ],
    ));
    f.checkpoint();
    let o = export_as(&f, "alice", "t.zip", &[t], &[]);
    assert_eq!(o.code, 0, "{}", o.all());
    let m = manifest(&f, "t.zip");
    let amend = m["supporting"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["seq"] == a)
        .unwrap();
    assert_eq!(amend["content"]["file"], format!("content/{a}.txt"));
    let mut members = read_zip(&f.path("t.zip"));
    assert_eq!(
        members[&format!("content/{a}.txt")],
        b"I was held for forty-one days."
    );
    let html = String::from_utf8(members["report.html"].clone()).unwrap();
    assert!(html.contains("Every version") && html.contains("the witness corrected the count"));
    // The corrected text itself, beside the original.
    assert!(html.contains("I was held for forty-one days."), "{html}");
    let (ours, _) = both(&f, "t.zip", &["ledger", "alice"]);
    assert_eq!(ours.code, 0, "{}", ours.all());

    // A forged report, with the manifest's digests and signature made to match it: only
    // custody renders the page again, and it fails; the Python verifier says it did not.
    let forged = html.replace("the witness corrected the count", "no correction was made");
    members.insert("report.html".into(), forged.into_bytes());
    let mut mf: serde_json::Value = serde_json::from_slice(&members["manifest.json"]).unwrap();
    use sha2::Digest;
    mf["files"]["report.html"] = hex::encode(sha2::Sha256::digest(&members["report.html"])).into();
    let mut mb = serde_json::to_vec_pretty(&mf).unwrap();
    mb.push(b'\n');
    members.insert("manifest.json".into(), mb);
    resign(&mut members, &f.path("keys/alice.key"));
    write_zip_to(&f.path("forged.zip"), &members);
    let b = f.p("forged.zip");
    let (lk, ak) = (f.p("keys/ledger.pub"), f.p("keys/alice.pub"));
    let (ours, theirs) = f.verify_bundle_both(&[&b, "--trust", &lk, "--trust", &ak]);
    assert_eq!(ours.code, 1, "{}", ours.all());
    assert!(ours.stdout.contains("[report]"), "{}", ours.stdout);
    assert_eq!(theirs.code, 0, "{}", theirs.all());
    assert!(
        theirs.stdout.contains("only by `custody verify-bundle`"),
        "{}",
        theirs.stdout
    );
}

#[test]
fn export_refuses_a_time_a_bundle_cannot_write() {
    let f = Fixture::with_records(1);
    for t in [
        "18446744073709551615",
        "253402300800000",
        "10000-01-01T00:00:00Z",
    ] {
        let o = f.run_as(
            "alice",
            &["export", "--out", &f.p("x.zip"), "--export-time", t, "2"],
        );
        assert_eq!(o.code, 2, "{t}: {}", o.all());
        assert!(!f.path("x.zip").exists());
    }
    // With a clock in the last second of 9999, that second is writable.
    let (l, k) = (f.p("ledger"), f.p("keys/alice.key"));
    let o = f.at(
        "9999-12-31 23:59:59",
        &[
            "export",
            "--ledger",
            &l,
            "--key",
            &k,
            "--out",
            &f.p("x.zip"),
            "--export-time",
            "9999-12-31T23:59:59Z",
            "2",
        ],
    );
    assert_eq!(
        o.code,
        0,
        "the last second of 9999 is writable: {}",
        o.all()
    );
}
