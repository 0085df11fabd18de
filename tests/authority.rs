//! Who may sign, and who held what: key authority, revocation, protected keys, custody
//! hand-overs and amendments, through the real binary.

use crate::util::*;
use custody::record::{Body, Media, Record, Statement, leaf_hash, signing_message};

fn json(o: &Output) -> serde_json::Value {
    serde_json::from_str(&o.stdout).unwrap_or_else(|e| panic!("{e}: {}", o.all()))
}

fn add_media_as(f: &Fixture, key: &str, file: &str) -> Output {
    let p = f.path(file);
    if !p.exists() {
        std::fs::write(&p, file.as_bytes()).unwrap();
    }
    f.run(&[
        "add",
        "media",
        "--ledger",
        &f.p("ledger"),
        "--key",
        &f.p(&format!("keys/{key}.key")),
        "--json",
        &p.to_string_lossy(),
    ])
}

#[test]
fn unauthorised_revoked_and_wrong_role_signers_are_refused_without_changing_anything() {
    let f = Fixture::new();
    f.ok(&["key", "generate", "stranger", "--dir", &f.p("keys")]);
    f.add_key("auditor1", "auditor");
    f.add_key("bob", "investigator");
    f.revoke("bob", "retired", None);
    for (key, expect) in [
        ("stranger", "not authorised in this ledger"),
        ("auditor1", "has the role auditor"),
        ("bob", "retired by record"),
    ] {
        let before = snapshot(&f.path("ledger"));
        let o = add_media_as(&f, key, &format!("{key}.bin"));
        assert_eq!(o.code, 2, "{key}: {}", o.all());
        assert!(o.stderr.contains(expect), "{key}: {}", o.stderr);
        assert_same(&before, &snapshot(&f.path("ledger")), key);
    }
    // An investigator cannot authorise keys; an auditor cannot revoke them.
    let o = f.run(&[
        "key",
        "authorize",
        "--ledger",
        &f.p("ledger"),
        "--key",
        &f.p("keys/alice.key"),
        &f.p("keys/stranger.pub"),
        "--name",
        "x",
        "--role",
        "admin",
    ]);
    assert_eq!(o.code, 2);
    assert!(o.stderr.contains("needs admin"), "{}", o.stderr);
    assert_eq!(f.audit().code, 0);
}

#[test]
fn a_record_by_an_unauthorised_key_written_into_the_store_directly_is_flagged_by_audit() {
    let f = Fixture::with_records(2);
    f.ok(&["key", "generate", "mallory", "--dir", &f.p("keys")]);
    let mallory = custody::keys::load_secret(&f.path("keys/mallory.key")).unwrap();
    let statement = Statement {
        claimed_at_ms: 1,
        signer: mallory.verifying_key().to_bytes(),
        body: Body::Media(Media {
            sha256: [7; 32],
            size: 7,
            name: Some("planted.mp4".into()),
            media_type: None,
            description: None,
        }),
    };
    let bytes = statement.encode().unwrap();
    let seq = inject(
        &f,
        &bytes,
        custody::keys::sign(&mallory, &signing_message(&bytes)),
        None,
    );
    let v = f.audit_json();
    assert_eq!(v["passed"], false);
    let unauthorized: Vec<&serde_json::Value> = v["report"]["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|x| x["code"] == "unauthorized")
        .collect();
    assert_eq!(unauthorized.len(), 1, "{v:#}");
    assert_eq!(unauthorized[0]["seq"], seq);
    // The writing path will not index it either: recover keeps it aside, as evidence,
    // and cuts it from the journal so that appends can go on.
    let o = f.run(&["recover", "--ledger", &f.p("ledger")]);
    assert!(
        o.all().contains("did not form a valid record") || o.code == 2,
        "{}",
        o.all()
    );
    if o.code == 0 {
        let kept = std::fs::read_dir(f.path("ledger"))
            .unwrap()
            .filter_map(Result::ok)
            .any(|e| {
                e.file_name()
                    .to_string_lossy()
                    .starts_with("journal.set-aside-")
            });
        assert!(kept, "the cut bytes must be kept");
        f.media("after.bin", b"appends go on");
    }
}

#[test]
fn compromise_marks_exactly_the_records_from_the_effective_point() {
    let f = Fixture::new();
    let seqs: Vec<u64> = (0..5)
        .map(|i| {
            json(&add_media_as(&f, "alice", &format!("a{i}.bin")))["appended"][0]["seq"]
                .as_u64()
                .unwrap()
        })
        .collect();
    f.checkpoint();
    // Alice's laptop was stolen after her third record.
    let effective = seqs[3];
    f.revoke("alice", "compromised", Some(&effective.to_string()));
    f.checkpoint();
    for &s in &seqs {
        let o = f.run(&["verify", "--ledger", &f.p("ledger"), &s.to_string()]);
        if s >= effective {
            assert_eq!(o.code, 1, "record {s}: {}", o.all());
            assert!(
                o.stdout.contains("[signed-after-compromise]"),
                "{}",
                o.stdout
            );
        } else {
            assert_eq!(o.code, 0, "record {s}: {}", o.all());
        }
    }
    let v = f.audit_json();
    let flagged: Vec<u64> = v["report"]["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|x| x["code"] == "signed-after-compromise")
        .map(|x| x["seq"].as_u64().unwrap())
        .collect();
    assert_eq!(flagged, seqs[3..].to_vec());
    // And she can sign nothing more.
    assert_eq!(add_media_as(&f, "alice", "after.bin").code, 2);
    let list = json(&f.ok(&["key", "list", "--ledger", &f.p("ledger"), "--json"]));
    let alice = list
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["name"] == "Alice")
        .unwrap();
    assert!(
        alice["status"]
            .as_str()
            .unwrap()
            .starts_with(&format!("compromised from record {effective}")),
        "{alice}"
    );
}

#[test]
fn rotation_authorises_the_new_key_and_retires_the_old_one_keeping_old_records_valid() {
    let f = Fixture::new();
    let old = json(&add_media_as(&f, "alice", "before.bin"))["appended"][0]["seq"]
        .as_u64()
        .unwrap();
    f.ok(&["key", "generate", "alice2", "--dir", &f.p("keys")]);
    let o = f.ok(&[
        "key",
        "rotate",
        "--ledger",
        &f.p("ledger"),
        "--key",
        &f.p("keys/ledger.key"),
        "--old",
        &f.key_id("alice"),
        "--new",
        &f.p("keys/alice2.pub"),
        "--json",
    ]);
    assert_eq!(json(&o)["appended"].as_array().unwrap().len(), 2);
    assert_eq!(add_media_as(&f, "alice", "x.bin").code, 2);
    assert_eq!(add_media_as(&f, "alice2", "y.bin").code, 0);
    f.checkpoint();
    assert_eq!(
        f.run(&["verify", "--ledger", &f.p("ledger"), &old.to_string()])
            .code,
        0
    );
    assert_eq!(f.audit().code, 0);
}

#[test]
fn protected_keys_round_trip_refuse_a_wrong_passphrase_and_open_in_openssl() {
    let f = Fixture::new();
    for (name, text) in [
        ("pass.txt", "correct horse battery\n"),
        ("wrong.txt", "wrong passphrase\n"),
        ("new.txt", "a new long passphrase\n"),
    ] {
        std::fs::write(f.path(name), text).unwrap();
        private(&f.path(name));
    }
    let v = json(&f.ok(&[
        "key",
        "generate",
        "carol",
        "--dir",
        &f.p("keys"),
        "--passphrase-file",
        &f.p("pass.txt"),
        "--json",
    ]));
    assert_eq!(v["protected"], true);
    let pem = std::fs::read_to_string(f.path("keys/carol.key")).unwrap();
    assert!(pem.starts_with("-----BEGIN ENCRYPTED PRIVATE KEY-----"));
    // OpenSSL opens it with the same passphrase and derives the same public key.
    let o = std::process::Command::new("openssl")
        .args([
            "pkey",
            "-in",
            &f.p("keys/carol.key"),
            "-passin",
            &format!("file:{}", f.p("pass.txt")),
            "-pubout",
        ])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert_eq!(
        String::from_utf8_lossy(&o.stdout),
        std::fs::read_to_string(f.path("keys/carol.pub")).unwrap()
    );
    f.ok(&[
        "key",
        "authorize",
        "--ledger",
        &f.p("ledger"),
        "--key",
        &f.p("keys/ledger.key"),
        &f.p("keys/carol.pub"),
        "--name",
        "Carol",
        "--role",
        "investigator",
    ]);
    std::fs::write(f.path("c.bin"), b"carol's file").unwrap();
    // `add media` by carol, with a passphrase file (or none) and a file to record.
    let add_args = |pass: Option<&str>, file: &str| {
        let mut a = vec!["add", "media", "--ledger", "LEDGER", "--key", "KEY"]
            .into_iter()
            .map(String::from)
            .collect::<Vec<_>>();
        a[3] = f.p("ledger");
        a[5] = f.p("keys/carol.key");
        if let Some(p) = pass {
            a.extend(["--passphrase-file".to_owned(), p.to_owned()]);
        }
        a.push(f.p(file));
        a
    };
    fn strs(a: &[String]) -> Vec<&str> {
        a.iter().map(String::as_str).collect()
    }
    let add = |pass: &str| f.run(&strs(&add_args(Some(&f.p(pass)), "c.bin")));
    let before = snapshot(&f.path("ledger"));
    let o = add("wrong.txt");
    assert_eq!(o.code, 2);
    assert!(o.stderr.contains("wrong passphrase"), "{}", o.stderr);
    assert_same(&before, &snapshot(&f.path("ledger")), "wrong passphrase");
    // Without a passphrase and without a terminal: a clear error, not a hang.
    let o = f.run(&strs(&add_args(None, "c.bin")));
    assert_eq!(o.code, 2);
    assert!(o.stderr.contains("--passphrase-file"), "{}", o.stderr);
    // A passphrase file that only its group may read is refused too.
    set_mode(&f.path("pass.txt"), 0o640);
    let o = add("pass.txt");
    assert_eq!(o.code, 2);
    assert!(
        o.stderr
            .contains("accessible by group or others (mode 640)"),
        "{}",
        o.stderr
    );
    private(&f.path("pass.txt"));
    // A pipe is not a regular file: it is accepted.
    std::fs::write(f.path("c2.bin"), b"carol's second file").unwrap();
    let o = f.run_stdin(
        &strs(&add_args(Some("/dev/stdin"), "c2.bin")),
        b"correct horse battery\n",
    );
    assert_eq!(o.code, 0, "{}", o.all());
    assert_eq!(add("pass.txt").code, 0);
    // Changing the passphrase: the old one stops working, the new one works.
    f.ok(&[
        "key",
        "passwd",
        &f.p("keys/carol.key"),
        "--passphrase-file",
        &f.p("pass.txt"),
        "--new-passphrase-file",
        &f.p("new.txt"),
    ]);
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(
        std::fs::metadata(f.path("keys/carol.key"))
            .unwrap()
            .permissions()
            .mode()
            & 0o777,
        0o600
    );
    std::fs::write(f.path("d.bin"), b"another").unwrap();
    let o = f.run(&[
        "add",
        "media",
        "--ledger",
        &f.p("ledger"),
        "--key",
        &f.p("keys/carol.key"),
        "--passphrase-file",
        &f.p("pass.txt"),
        &f.p("d.bin"),
    ]);
    assert_eq!(o.code, 2);
    f.ok(&[
        "add",
        "media",
        "--ledger",
        &f.p("ledger"),
        "--key",
        &f.p("keys/carol.key"),
        "--passphrase-file",
        &f.p("new.txt"),
        &f.p("d.bin"),
    ]);
}

#[test]
fn a_chain_of_three_hand_overs_and_every_broken_link() {
    let f = Fixture::new();
    f.add_key("cust1", "custodian");
    f.add_key("cust2", "custodian");
    f.add_key("clerk", "auditor");
    let ex = json(&add_media_as(&f, "alice", "exhibit.mp4"))["appended"][0]["seq"]
        .as_u64()
        .unwrap();
    let transfer = |from: &str, to: &str| {
        f.run(&[
            "transfer",
            "--ledger",
            &f.p("ledger"),
            "--key",
            &f.p(&format!("keys/{from}.key")),
            "--exhibit",
            &ex.to_string(),
            "--to",
            &f.key_id(to),
            "--reason",
            "to the evidence room",
            "--json",
        ])
    };
    let accept = |by: &str, t: u64| {
        f.run(&[
            "accept",
            "--ledger",
            &f.p("ledger"),
            "--key",
            &f.p(&format!("keys/{by}.key")),
            &t.to_string(),
        ])
    };
    let seq_of = |o: &Output| json(o)["appended"][0]["seq"].as_u64().unwrap();
    // A transfer by someone who does not hold it.
    let o = transfer("cust1", "cust2");
    assert_eq!(o.code, 2);
    assert!(o.stderr.contains("is held by key"), "{}", o.stderr);
    let t1 = seq_of(&transfer("alice", "cust1"));
    // An acceptance by the wrong key.
    let o = accept("cust2", t1);
    assert_eq!(o.code, 2);
    assert!(o.stderr.contains("names key"), "{}", o.stderr);
    assert_eq!(accept("cust1", t1).code, 0);
    let t2 = seq_of(&transfer("cust1", "cust2"));
    assert_eq!(accept("cust2", t2).code, 0);
    let t3 = seq_of(&transfer("cust2", "clerk"));
    assert_eq!(accept("clerk", t3).code, 0);
    // A pending transfer.
    let t4 = seq_of(&transfer("clerk", "cust1"));
    f.checkpoint();
    let h = json(&f.ok(&[
        "history",
        "--ledger",
        &f.p("ledger"),
        &ex.to_string(),
        "--json",
    ]));
    let holders: Vec<&str> = h["history"]["links"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["holder_key_id"].as_str().unwrap())
        .collect();
    let ids: Vec<String> = ["alice", "cust1", "cust2", "clerk"]
        .iter()
        .map(|k| f.key_id(k))
        .collect();
    assert_eq!(holders, ids);
    assert_eq!(h["history"]["pending"]["transfer"], t4);
    assert_eq!(h["passed"], true);
    let text = f
        .ok(&["history", "--ledger", &f.p("ledger"), &ex.to_string()])
        .stdout;
    assert!(text.contains("pending: transfer"), "{text}");
    let v = f.audit_json();
    assert_eq!(v["passed"], true, "{v:#}");
    assert_eq!(v["report"]["pending_transfers"][0]["transfer"], t4);
}

#[test]
fn amendments_keep_every_version_and_verify() {
    let f = Fixture::new();
    let t = f.testimony("The first account, as told.");
    std::fs::write(
        f.path("fixed.txt"),
        "The first account, with the date corrected.",
    )
    .unwrap();
    let o = f.ok(&[
        "amend",
        "--ledger",
        &f.p("ledger"),
        "--key",
        &f.p("keys/alice.key"),
        &t.to_string(),
        "--reason",
        "date misheard",
        "--text-file",
        &f.p("fixed.txt"),
        "--json",
    ]);
    let a1 = json(&o)["appended"][0]["seq"].as_u64().unwrap();
    std::fs::write(f.path("fixed2.txt"), "The first account, corrected twice.").unwrap();
    let a2 = json(&f.ok(&[
        "amend",
        "--ledger",
        &f.p("ledger"),
        "--key",
        &f.p("keys/alice.key"),
        &t.to_string(),
        "--reason",
        "name spelling",
        "--text-file",
        &f.p("fixed2.txt"),
        "--json",
    ]))["appended"][0]["seq"]
        .as_u64()
        .unwrap();
    // Someone else cannot amend it; a description does not apply to testimony.
    f.add_key("bob", "investigator");
    let o = f.run(&[
        "amend",
        "--ledger",
        &f.p("ledger"),
        "--key",
        &f.p("keys/bob.key"),
        &t.to_string(),
        "--reason",
        "x",
        "--text-file",
        &f.p("fixed.txt"),
    ]);
    assert_eq!(o.code, 2, "{}", o.all());
    f.checkpoint();
    let shown = json(&f.ok(&["show", "--ledger", &f.p("ledger"), &t.to_string(), "--json"]));
    assert_eq!(shown["amended_by"], serde_json::json!([a1, a2]));
    let h = json(&f.ok(&[
        "history",
        "--ledger",
        &f.p("ledger"),
        &t.to_string(),
        "--json",
    ]));
    assert_eq!(h["history"]["versions"], serde_json::json!([t, a1, a2]));
    for s in [t, a1, a2] {
        let o = f.run(&["verify", "--ledger", &f.p("ledger"), &s.to_string()]);
        assert_eq!(o.code, 0, "{}", o.all());
    }
    assert_eq!(f.audit().code, 0);
    // The original text is still in the content store, untouched.
    assert!(std::fs::read_dir(f.path("ledger/content")).unwrap().count() >= 3);
}

/// Appends a record built from `statement` (and its original signature) directly to the
/// journal and the index, as someone with write access to the ledger directory could.
fn inject(
    f: &Fixture,
    statement_bytes: &[u8],
    signature: [u8; 64],
    recorded_at: Option<u64>,
) -> u64 {
    let frames = journal_frames(&f.path("ledger/journal"));
    let last = Record::decode(&frames.last().unwrap().1).unwrap();
    let rec = Record {
        seq: frames.len() as u64,
        prev: leaf_hash(&frames.last().unwrap().1),
        recorded_at_ms: recorded_at.unwrap_or(last.recorded_at_ms + 1),
        statement: Statement::decode(statement_bytes).unwrap(),
        statement_bytes: statement_bytes.to_vec(),
        signature,
    };
    let mut recs: Vec<Vec<u8>> = frames.into_iter().map(|(_, b)| b).collect();
    recs.push(rec.encode());
    write_journal(&f.path("ledger/journal"), &recs);
    let db = open_sled(&f.path("ledger/db"));
    db.open_tree("records")
        .unwrap()
        .insert(rec.seq.to_be_bytes(), rec.encode())
        .unwrap();
    db.flush().unwrap();
    rec.seq
}

#[test]
fn a_replayed_transfer_is_refused_by_audit() {
    let f = Fixture::new();
    f.add_key("vault", "custodian");
    let ex = json(&add_media_as(&f, "alice", "ex.bin"))["appended"][0]["seq"]
        .as_u64()
        .unwrap();
    let t = json(&f.ok(&[
        "transfer",
        "--ledger",
        &f.p("ledger"),
        "--key",
        &f.p("keys/alice.key"),
        "--exhibit",
        &ex.to_string(),
        "--to",
        &f.key_id("vault"),
        "--reason",
        "r",
        "--json",
    ]))["appended"][0]["seq"]
        .as_u64()
        .unwrap();
    f.ok(&[
        "accept",
        "--ledger",
        &f.p("ledger"),
        "--key",
        &f.p("keys/vault.key"),
        &t.to_string(),
    ]);
    f.ok(&[
        "transfer",
        "--ledger",
        &f.p("ledger"),
        "--key",
        &f.p("keys/vault.key"),
        "--exhibit",
        &ex.to_string(),
        "--to",
        &f.key_id("alice"),
        "--reason",
        "back",
    ]);
    f.checkpoint();
    // Replay alice's old hand-over, signature and all.
    let old = Record::decode(&journal_frames(&f.path("ledger/journal"))[t as usize].1).unwrap();
    let seq = inject(&f, &old.statement_bytes, old.signature, None);
    let v = f.audit_json();
    assert!(
        finding_codes(&v).contains(&("unauthorized".into(), Some(seq))),
        "{v:#}"
    );
    assert!(
        v["report"]["findings"]
            .to_string()
            .contains("already record"),
        "{v:#}"
    );
}

#[test]
fn a_record_dated_in_the_future_is_flagged_and_stops_appends() {
    let f = Fixture::with_records(1);
    let alice = custody::keys::load_secret(&f.path("keys/alice.key")).unwrap();
    let st = Statement {
        claimed_at_ms: 1,
        signer: alice.verifying_key().to_bytes(),
        body: Body::Media(Media {
            sha256: [3; 32],
            size: 3,
            name: None,
            media_type: None,
            description: None,
        }),
    };
    let bytes = st.encode().unwrap();
    let sig = custody::keys::sign(&alice, &signing_message(&bytes));
    let seq = inject(&f, &bytes, sig, Some(253_402_300_799_000)); // 9999-12-31
    let v = f.audit_json();
    assert!(
        finding_codes(&v).contains(&("future-dated".into(), Some(seq))),
        "{v:#}"
    );
    {
        // Make the index agree, as a careful forger would; appends must still refuse.
        let db = open_sled(&f.path("ledger/db"));
        let meta = db.open_tree("meta").unwrap();
        meta.insert(b"size", &(seq + 1).to_be_bytes()).unwrap();
        meta.insert(
            b"journal_len",
            &std::fs::metadata(f.path("ledger/journal"))
                .unwrap()
                .len()
                .to_be_bytes(),
        )
        .unwrap();
        db.flush().unwrap();
    }
    assert_eq!(add_media_as(&f, "alice", "later.bin").code, 2);
}

#[test]
fn an_altered_authority_index_is_caught_and_stops_trust() {
    let f = Fixture::with_records(2);
    {
        let db = open_sled(&f.path("ledger/db"));
        // Drop the authorisation of alice (record 1) and list a testimony (record 2) instead.
        edit_small_lookup(&db, b'a', |e| {
            let at = e.iter().position(|x| *x == lookup_entry(&[], 1)).unwrap();
            e[at] = lookup_entry(&[], 2);
        });
        db.flush().unwrap();
    }
    let v = f.audit_json();
    let codes = finding_codes(&v);
    assert!(
        codes.contains(&("authority-index".into(), Some(1))),
        "{codes:?}"
    );
    assert!(
        codes.contains(&("authority-index".into(), Some(2))),
        "{codes:?}"
    );
    let o = f.run(&["verify", "--ledger", &f.p("ledger"), "3"]);
    assert_eq!(o.code, 1, "{}", o.all());
    assert!(
        o.stdout.contains("[FAILED] ledger consistency"),
        "{}",
        o.stdout
    );
}

#[test]
fn a_retired_key_can_later_be_found_compromised() {
    let f = Fixture::new();
    let seqs: Vec<u64> = (0..3)
        .map(|i| {
            json(&add_media_as(&f, "alice", &format!("r{i}.bin")))["appended"][0]["seq"]
                .as_u64()
                .unwrap()
        })
        .collect();
    f.revoke("alice", "retired", None);
    f.revoke("alice", "compromised", Some(&seqs[1].to_string()));
    f.checkpoint();
    assert_eq!(
        f.run(&["verify", "--ledger", &f.p("ledger"), &seqs[0].to_string()])
            .code,
        0
    );
    for s in &seqs[1..] {
        let o = f.run(&["verify", "--ledger", &f.p("ledger"), &s.to_string()]);
        assert!(
            o.stdout.contains("[signed-after-compromise]"),
            "{}",
            o.stdout
        );
    }
    assert_eq!(add_media_as(&f, "alice", "after.bin").code, 2);
}
