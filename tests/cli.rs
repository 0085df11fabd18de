//! The commands as users run them.

use crate::util::*;
use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use custody::checkpoint::open_checkpoint;
use custody::merkle;
use custody::proof::{ConsistencyProofText, InclusionProofText};
use sha2::{Digest, Sha256};

fn json(o: &Output) -> serde_json::Value {
    serde_json::from_str(&o.stdout).unwrap_or_else(|e| panic!("{e}: {}", o.all()))
}

fn ledger_pub(f: &Fixture) -> [u8; 32] {
    custody::keys::load_public(&f.path("keys/ledger.pub"))
        .unwrap()
        .to_bytes()
}

#[test]
fn key_generate_writes_private_0600_and_refuses_to_overwrite() {
    let f = Fixture::empty();
    let o = f.ok(&["key", "generate", "amal", "--dir", &f.p("k"), "--json"]);
    let v = json(&o);
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(f.path("k/amal.key"))
        .unwrap()
        .permissions()
        .mode()
        & 0o777;
    assert_eq!(mode, 0o600);
    let shown = json(&f.ok(&["key", "show", &f.p("k/amal.pub"), "--json"]));
    assert_eq!(shown["key_id"], v["key_id"]);
    assert_eq!(shown["fingerprint"], v["fingerprint"]);
    let from_secret = json(&f.ok(&["key", "show", &f.p("k/amal.key"), "--json"]));
    assert_eq!(from_secret["fingerprint"], v["fingerprint"]);
    let again = f.run(&["key", "generate", "amal", "--dir", &f.p("k")]);
    assert_eq!(again.code, 2);
    assert!(again.stderr.contains("already exists"), "{}", again.stderr);
}

#[test]
fn testimony_from_stdin_keeps_text_out_of_the_record() {
    let f = Fixture::new();
    let marker = "MARKER-the-text-itself-7f3a";
    let o = f.run_stdin(
        &[
            "add",
            "testimony",
            "--ledger",
            &f.p("ledger"),
            "--key",
            &f.p("keys/alice.key"),
            "--subject",
            "W-2",
            "--language",
            "ar",
            "--json",
        ],
        marker.as_bytes(),
    );
    assert_eq!(o.code, 0, "{}", o.all());
    let v = json(&o);
    assert_eq!(v["appended"][0]["seq"], 2);
    assert_eq!(v["appended"][0]["kind"], "testimony");
    // Neither the journal nor sled's files hold the text; the content store does.
    let journal = std::fs::read(f.path("ledger/journal")).unwrap();
    assert!(!contains(&journal, marker.as_bytes()));
    for e in std::fs::read_dir(f.path("ledger/db")).unwrap() {
        let p = e.unwrap().path();
        if p.is_file() {
            assert!(
                !contains(&std::fs::read(&p).unwrap(), marker.as_bytes()),
                "text found in {p:?}"
            );
        }
    }
    let shown = json(&f.ok(&["show", "--ledger", &f.p("ledger"), "2", "--json"]));
    assert_eq!(shown["body"]["content_length"], marker.len());
    assert!(!shown.to_string().contains(marker));
    // The commitment is SHA-256(salt || text) over the content file.
    let c = shown["body"]["commitment"].as_str().unwrap();
    let stored = std::fs::read(f.path(&format!("ledger/content/{c}"))).unwrap();
    assert_eq!(&stored[32..], marker.as_bytes());
    assert_eq!(hex::encode(Sha256::digest(&stored)), c);
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len()).any(|w| w == needle)
}

#[test]
fn media_directory_gets_one_record_per_file_in_name_order_with_sha256sum_digests() {
    let f = Fixture::new();
    for (name, body) in [("b.mp4", "bbb"), ("a.jpg", "aaa"), ("sub/c.wav", "ccc")] {
        let p = f.path(&format!("ev/{name}"));
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, body).unwrap();
    }
    let v = json(&f.ok(&[
        "add",
        "media",
        "--ledger",
        &f.p("ledger"),
        "--key",
        &f.p("keys/alice.key"),
        "--json",
        &f.p("ev"),
    ]));
    let seqs: Vec<u64> = v["appended"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["seq"].as_u64().unwrap())
        .collect();
    assert_eq!(seqs, vec![2, 3, 4]);
    let log = json(&f.ok(&["log", "--ledger", &f.p("ledger"), "--json", "--from", "2"]));
    let names: Vec<&str> = log
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["body"]["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["a.jpg", "b.mp4", "c.wav"]);
    for r in log.as_array().unwrap() {
        let name = r["body"]["name"].as_str().unwrap();
        let expect = match name {
            "a.jpg" => "aaa",
            "b.mp4" => "bbb",
            _ => "ccc",
        };
        assert_eq!(r["body"]["sha256"], hex::encode(Sha256::digest(expect)));
        assert_eq!(r["body"]["size"], 3);
    }
    assert_eq!(log[0]["body"]["media_type"], "image/jpeg");
}

#[test]
fn log_json_carries_everything_an_outside_checker_needs() {
    let f = Fixture::new();
    f.media("x.bin", b"xyz");
    let log = json(&f.ok(&["log", "--ledger", &f.p("ledger"), "--json"]));
    let recs = log.as_array().unwrap();
    assert_eq!(recs.len(), 3);
    let mut prev = [0u8; 32];
    for r in recs {
        let bytes = B64.decode(r["record_bytes"].as_str().unwrap()).unwrap();
        let leaf = custody::record::leaf_hash(&bytes);
        assert_eq!(r["leaf_hash"], hex::encode(leaf));
        assert_eq!(r["prev"], hex::encode(prev));
        let st = B64.decode(r["statement_bytes"].as_str().unwrap()).unwrap();
        let sig: [u8; 64] = B64
            .decode(r["signature"].as_str().unwrap())
            .unwrap()
            .try_into()
            .unwrap();
        let pk: [u8; 32] = B64
            .decode(r["signer_key"].as_str().unwrap())
            .unwrap()
            .try_into()
            .unwrap();
        custody::keys::verify_strict(&pk, &custody::record::signing_message(&st), &sig).unwrap();
        for k in [
            "seq",
            "kind",
            "body",
            "claimed_at_ms",
            "recorded_at_ms",
            "signer_key_id",
        ] {
            assert!(!r[k].is_null(), "{k} missing");
        }
        prev = leaf;
    }
    assert_eq!(recs[0]["kind"], "genesis");
    assert_eq!(recs[2]["kind"], "media");
}

#[test]
fn verify_file_answers_who_and_when_and_exits_1_for_unknown_files() {
    let f = Fixture::new();
    let seq = f.media("clip.mp4", b"the footage");
    f.checkpoint();
    let o = f.ok(&[
        "verify",
        "--ledger",
        &f.p("ledger"),
        "--file",
        &f.p("media/clip.mp4"),
    ]);
    assert!(o.stdout.contains(&format!("record {seq}")), "{}", o.stdout);
    assert!(o.stdout.contains("OK"), "{}", o.stdout);
    let alice = json(&f.ok(&["key", "show", &f.p("keys/alice.pub"), "--json"]));
    assert!(o.stdout.contains(alice["key_id"].as_str().unwrap()));
    std::fs::write(f.path("other.mp4"), b"never recorded").unwrap();
    let o = f.run(&[
        "verify",
        "--ledger",
        &f.p("ledger"),
        "--file",
        &f.p("other.mp4"),
    ]);
    assert_eq!(o.code, 1, "{}", o.all());
    assert!(o.stdout.contains("NOT RECORDED"));
}

#[test]
fn verify_record_reports_uncovered_records_until_a_checkpoint() {
    let f = Fixture::new();
    let seq = f.media("a.bin", b"a");
    let o = f.run(&["verify", "--ledger", &f.p("ledger"), &seq.to_string()]);
    assert_eq!(o.code, 1, "{}", o.all());
    assert!(o.stdout.contains("not yet covered"), "{}", o.stdout);
    f.checkpoint();
    let o = f.ok(&[
        "verify",
        "--ledger",
        &f.p("ledger"),
        &seq.to_string(),
        "--json",
    ]);
    let v = json(&o);
    assert_eq!(v["passed"], true);
    let names: Vec<&str> = v["report"]["checks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    assert!(
        names.contains(&"signature")
            && names.contains(&"position in the ledger")
            && names.contains(&"included in the signed checkpoint")
    );
}

#[test]
fn ledger_key_add_signs_a_checkpoint_and_other_keys_do_not() {
    let f = Fixture::new();
    let v = json(&f.ok(&[
        "add",
        "media",
        "--ledger",
        &f.p("ledger"),
        "--key",
        &f.p("keys/alice.key"),
        "--json",
        &f.p("keys/alice.pub"),
    ]));
    assert!(v["checkpoint"].is_null());
    let v = json(&f.ok(&[
        "add",
        "media",
        "--ledger",
        &f.p("ledger"),
        "--key",
        &f.p("keys/ledger.key"),
        "--json",
        &f.p("keys/ledger.pub"),
    ]));
    let cp = open_checkpoint(v["checkpoint"].as_str().unwrap(), ORIGIN, &ledger_pub(&f)).unwrap();
    assert_eq!(cp.size, 4);
}

#[test]
fn inclusion_and_consistency_proofs_verify_against_the_signed_checkpoint() {
    let f = Fixture::with_records(9);
    let saved = f.checkpoint();
    let old = open_checkpoint(&saved, ORIGIN, &ledger_pub(&f)).unwrap();
    for i in 0..5 {
        f.media(&format!("more{i}"), format!("more {i}").as_bytes());
    }
    f.checkpoint();
    let log = json(&f.ok(&["log", "--ledger", &f.p("ledger"), "--json"]));
    for seq in [0u64, 3, 9, 14] {
        let text = f
            .ok(&["prove", "--ledger", &f.p("ledger"), &seq.to_string()])
            .stdout;
        let p = InclusionProofText::parse(&text).unwrap();
        assert_eq!(p.index, seq);
        let cp = open_checkpoint(&p.checkpoint, ORIGIN, &ledger_pub(&f)).unwrap();
        assert_eq!(cp.size, 16);
        let leaf: [u8; 32] = hex::decode(log[seq as usize]["leaf_hash"].as_str().unwrap())
            .unwrap()
            .try_into()
            .unwrap();
        merkle::verify_inclusion_proof(&leaf, seq, cp.size, &p.hashes, &cp.root).unwrap();
    }
    let text = f
        .ok(&[
            "prove",
            "--ledger",
            &f.p("ledger"),
            "--consistency",
            &old.size.to_string(),
        ])
        .stdout;
    let c = ConsistencyProofText::parse(&text).unwrap();
    let new = open_checkpoint(&c.checkpoint, ORIGIN, &ledger_pub(&f)).unwrap();
    merkle::verify_consistency_proof(old.size, new.size, &c.hashes, &old.root, &new.root).unwrap();
    let bad = f.run(&["prove", "--ledger", &f.p("ledger"), "--consistency", "99"]);
    assert_eq!(bad.code, 2);
}

#[test]
fn clean_ledger_audits_ok_against_a_saved_checkpoint() {
    let f = Fixture::with_records(12);
    std::fs::write(f.path("saved.txt"), f.checkpoint()).unwrap();
    f.testimony("after the saved checkpoint");
    let o = f.run(&[
        "audit",
        "--ledger",
        &f.p("ledger"),
        "--against",
        &f.p("saved.txt"),
    ]);
    assert_eq!(o.code, 0, "{}", o.all());
    assert!(o.stdout.contains("OK"));
    assert!(
        o.stdout.contains("records 14 to 14 are not yet covered"),
        "{}",
        o.stdout
    );
    let v = f.audit_json();
    assert_eq!(v["passed"], true);
    assert_eq!(v["report"]["records"], 15);
    assert_eq!(v["report"]["signatures_checked"], 15);
}

#[test]
fn second_writer_gets_ledger_in_use_and_nothing_changes() {
    let f = Fixture::new();
    let before = snapshot(&f.path("ledger"));
    let lock = std::fs::OpenOptions::new()
        .write(true)
        .open(f.path("ledger/lock"))
        .unwrap();
    lock.lock().unwrap();
    let o = f.run(&[
        "add",
        "media",
        "--ledger",
        &f.p("ledger"),
        "--key",
        &f.p("keys/alice.key"),
        &f.p("keys/alice.pub"),
    ]);
    assert_eq!(o.code, 2);
    assert!(o.stderr.contains("ledger in use"), "{}", o.stderr);
    drop(lock);
    assert_same(&before, &snapshot(&f.path("ledger")), "ledger in use");
}

#[test]
fn open_indexes_journal_records_that_sled_missed_and_drops_a_torn_tail() {
    // A ledger whose sled index is gone (or behind) rebuilds it from the journal on open:
    // this is the state after a crash between the journal fsync and the sled write.
    let f = Fixture::new();
    let seq = f.media("late.bin", b"late record");
    let full_journal = std::fs::read(f.path("ledger/journal")).unwrap();
    let expected_log = f.ok(&["log", "--ledger", &f.p("ledger"), "--json"]).stdout;
    let g = Fixture::empty();
    copy_dir(&f.path("ledger"), &g.path("ledger"));
    std::fs::remove_dir_all(g.path("ledger/db")).unwrap();
    let mut torn = full_journal.clone();
    torn.extend_from_slice(&[0, 0, 0, 9, 1, 2]);
    std::fs::write(g.path("ledger/journal"), &torn).unwrap();
    let rec = g.ok(&["recover", "--ledger", &g.p("ledger")]).stdout;
    assert!(rec.contains("indexed records 0 to 2"), "{rec}");
    let log = g.ok(&["log", "--ledger", &g.p("ledger"), "--json"]).stdout;
    assert_eq!(log, expected_log);
    assert_eq!(
        std::fs::read(g.path("ledger/journal")).unwrap(),
        full_journal,
        "torn tail dropped"
    );
    let o = g.run(&["verify", "--ledger", &g.p("ledger"), &seq.to_string()]);
    assert!(o.stdout.contains("[ok] signature"), "{}", o.all());
}

pub fn copy_dir(from: &std::path::Path, to: &std::path::Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        let t = to.join(e.file_name());
        if e.file_type().unwrap().is_dir() {
            copy_dir(&e.path(), &t);
        } else {
            std::fs::copy(e.path(), t).unwrap();
        }
    }
}

#[test]
fn demo_runs_end_to_end() {
    let f = Fixture::empty();
    let o = f.ok(&["demo", "--dir", &f.p("demo")]);
    assert!(o.stdout.contains("OK: no problem found."), "{}", o.stdout);
    // A witness on loopback cosigned a checkpoint, and a policy requiring it holds.
    assert!(o.all().contains("cosigned by witness"), "{}", o.all());
    assert!(o.stdout.contains("[ok] witness quorum"), "{}", o.stdout);
    // The cosigned checkpoint, and the key of the witness that cosigned it.
    assert_eq!(
        std::fs::read_dir(f.path("demo/ledger/cosigned"))
            .unwrap()
            .count(),
        2
    );
    // An authority on this machine (OpenSSL's, which the tests need) stamped the checkpoint,
    // and the court's check of the bundle pins it, the witness policy and both keys.
    assert!(
        o.stdout.contains("attested by CN=Demo Time Authority"),
        "{}",
        o.stdout
    );
    assert!(
        o.stdout
            .contains("[ok] trusted time-stamp authorities: 1 time-stamp tokens"),
        "{}",
        o.stdout
    );
    assert!(
        o.stdout.contains("exit code 1, as expected"),
        "{}",
        o.stdout
    );
}

#[test]
fn an_index_behind_its_journal_is_reported_by_reads_and_completed_by_recover() {
    // Save the index, append two records, then put the old index back: the state after a
    // crash between the journal fsync and the sled write, a few records behind.
    let f = Fixture::with_records(3);
    let saved = f.path("db-before");
    copy_dir(&f.path("ledger/db"), &saved);
    f.media("late-1.bin", b"late one");
    f.media("late-2.bin", b"late two");
    let expected = f.ok(&["log", "--ledger", &f.p("ledger"), "--json"]).stdout;
    std::fs::remove_dir_all(f.path("ledger/db")).unwrap();
    copy_dir(&saved, &f.path("ledger/db"));
    // Reading commands change nothing and see the indexed records only.
    let before = snapshot(&f.path("ledger"));
    let o = f.ok(&["log", "--ledger", &f.p("ledger")]);
    assert_eq!(o.stdout.lines().count(), 5, "{}", o.stdout);
    let o = f.audit();
    assert_eq!(o.code, 1, "{}", o.all());
    assert!(o.stdout.contains("custody recover"), "{}", o.stdout);
    assert_same(&before, &snapshot(&f.path("ledger")), "read-only commands");
    let r = f.ok(&["recover", "--ledger", &f.p("ledger")]).stdout;
    assert!(r.contains("indexed records 5 to 6"), "{r}");
    assert_eq!(
        f.ok(&["log", "--ledger", &f.p("ledger"), "--json"]).stdout,
        expected
    );
    f.checkpoint();
    assert_eq!(f.audit().code, 0);
}

#[test]
fn every_command_has_help_and_the_shell_gets_completions_and_a_man_page() {
    let f = Fixture::empty();
    for cmd in [
        "key",
        "init",
        "add",
        "checkpoint",
        "log",
        "show",
        "verify",
        "prove",
        "audit",
        "recover",
        "export",
        "verify-bundle",
        "transfer",
        "accept",
        "history",
        "amend",
        "demo",
    ] {
        let o = f.ok(&[cmd, "--help"]);
        assert!(o.stdout.contains("Usage: custody"), "{cmd}: {}", o.stdout);
    }
    assert!(f.ok(&["completions", "bash"]).stdout.contains("_custody()"));
    assert!(
        f.ok(&["completions", "zsh"])
            .stdout
            .contains("#compdef custody")
    );
    let man = f.ok(&["man"]).stdout;
    assert!(
        man.contains(".TH custody 1") && man.contains("verify\\-bundle"),
        "{}",
        &man[..200]
    );
    // A typo gets clap's usage error and exit 2.
    assert_eq!(f.run(&["audti"]).code, 2);
}

#[test]
fn recover_rebuilds_a_deleted_or_damaged_index_and_audit_passes() {
    for damage in ["delete", "garbage"] {
        let f = Fixture::with_records(6);
        let expected = f.ok(&["log", "--ledger", &f.p("ledger"), "--json"]).stdout;
        match damage {
            "delete" => std::fs::remove_dir_all(f.path("ledger/db")).unwrap(),
            _ => {
                // Overwrite sled's files with garbage.
                for e in std::fs::read_dir(f.path("ledger/db")).unwrap() {
                    let p = e.unwrap().path();
                    if p.is_file() {
                        std::fs::write(&p, vec![0xA5u8; 4096]).unwrap();
                    }
                }
            }
        }
        let r = f.ok(&["recover", "--ledger", &f.p("ledger")]).stdout;
        assert!(r.contains("indexed records 0 to 7"), "{damage}: {r}");
        if damage == "garbage" {
            // The unreadable index is kept, beside the rebuilt one.
            assert!(r.contains("moved it to"), "{r}");
            let kept = std::fs::read_dir(f.path("ledger"))
                .unwrap()
                .filter(|e| {
                    let name = e.as_ref().unwrap().file_name();
                    name.to_string_lossy().starts_with("db.unreadable-")
                })
                .count();
            assert_eq!(kept, 1, "{r}");
        }
        assert!(r.contains("restored"), "{damage}: {r}");
        assert_eq!(
            f.ok(&["log", "--ledger", &f.p("ledger"), "--json"]).stdout,
            expected,
            "{damage}"
        );
        let o = f.audit();
        assert_eq!(o.code, 0, "{damage}: {}", o.all());
    }
}

#[test]
fn a_torn_checkpoints_file_is_mended_by_the_next_checkpoint() {
    let f = Fixture::with_records(2);
    let mut bytes = std::fs::read(f.path("ledger/checkpoints")).unwrap();
    let whole = bytes.len();
    bytes.extend_from_slice(&[0, 0, 1, 0, b'e', b'x']); // a crash while writing an entry
    std::fs::write(f.path("ledger/checkpoints"), &bytes).unwrap();
    f.media("more.bin", b"more");
    f.checkpoint();
    let after = std::fs::read(f.path("ledger/checkpoints")).unwrap();
    assert_eq!(&after[..whole], &bytes[..whole], "whole entries are kept");
    assert_eq!(f.audit().code, 0, "{}", f.audit().all());
    // And a rebuilt index gets every signed checkpoint back.
    std::fs::remove_dir_all(f.path("ledger/db")).unwrap();
    let r = f.ok(&["recover", "--ledger", &f.p("ledger")]).stdout;
    assert!(r.contains("restored 3 signed checkpoint"), "{r}");
    assert_eq!(f.audit().code, 0);
}

/// The benchmark's bulk path appends really signed records, batch after batch, including a
/// last partial batch, and the result audits clean in both signature modes.
#[test]
fn bulk_append_writes_signed_records_that_audit_clean() {
    let f = Fixture::new();
    let before = f.audit_json()["report"]["records"].as_u64().unwrap();
    f.ok(&[
        "bulk-append",
        "--ledger",
        &f.p("ledger"),
        "--key",
        &f.p("keys/alice.key"),
        "--count",
        "2500",
        "--batch",
        "1000",
    ]);
    let v = f.audit_json();
    assert_eq!(v["passed"], true, "{v:#}");
    assert_eq!(v["report"]["records"], before + 2500);
    assert_eq!(v["report"]["signatures_checked"], before + 2500);
    let o = f.run(&["audit", "--ledger", &f.p("ledger"), "--strict-signatures"]);
    assert_eq!(o.code, 0, "{}", o.all());
    assert!(o.stdout.contains("one by one"), "{}", o.stdout);
    // Each record is a media statement by alice, in order.
    let o = f.ok(&[
        "show",
        "--ledger",
        &f.p("ledger"),
        &(before + 1233).to_string(),
        "--json",
    ]);
    let r = json(&o);
    assert_eq!(r["kind"], "media", "{r:#}");
    assert_eq!(r["seq"], before + 1233);
    assert_eq!(r["signer_key_id"], f.key_id("alice"), "{r:#}");
}

/// The benchmark script's signing ceiling comes from our own signer: `bench-sign` signs
/// for the time given and reports a rate, and refuses a time it cannot honour.
#[test]
fn bench_sign_reports_our_signing_rate() {
    let f = Fixture::empty();
    let o = f.ok(&["bench-sign", "--seconds", "0.2", "--cores", "1"]);
    let rate: f64 = o.stdout.split_whitespace().next().unwrap().parse().unwrap();
    assert!(rate > 0.0, "{}", o.stdout);
    assert!(o.stdout.contains("on 1 core(s)"), "{}", o.stdout);
    let o = f.run(&["bench-sign", "--seconds", "0"]);
    assert_eq!(o.code, 2, "{}", o.all());
}
