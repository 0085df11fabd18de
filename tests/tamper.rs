//! Each kind of tampering is caught by `custody audit` with exit 1, naming the record.

use crate::util::*;
use custody::record::{Record, leaf_hash, signing_message};

const N: usize = 8; // records after genesis

/// The index's entry bundles of a ledger of fewer than 256 records: its one partial bundle
/// (C2SP tlog-tiles: `tile/entries/000.p/W`, each record a big-endian u16 length and its
/// bytes), read and written here independently of the crate.
fn sled_bundle(f: &Fixture) -> (sled::Db, sled::Tree, Vec<u8>, Vec<Vec<u8>>) {
    let db = open_sled(&f.path("ledger/db"));
    let t = db.open_tree("tiles").unwrap();
    let (key, bytes) = t
        .scan_prefix(b"tile/entries/")
        .next()
        .expect("one entry bundle")
        .unwrap();
    let mut records = Vec::new();
    let mut rest = &bytes[..];
    while !rest.is_empty() {
        let len = u16::from_be_bytes([rest[0], rest[1]]) as usize;
        records.push(rest[2..2 + len].to_vec());
        rest = &rest[2 + len..];
    }
    (db, t, key.to_vec(), records)
}

fn encode_bundle(records: &[Vec<u8>]) -> Vec<u8> {
    records
        .iter()
        .flat_map(|r| [&(r.len() as u16).to_be_bytes()[..], r].concat())
        .collect()
}

/// Rewrites the index's records (the journal is rewritten by the caller, consistently).
fn rewrite_sled_records(f: &Fixture, records: &[Vec<u8>]) {
    let (db, t, key, _) = sled_bundle(f);
    assert!(records.len() < 256);
    t.remove(key).unwrap();
    t.insert(
        format!("tile/entries/000.p/{}", records.len()),
        encode_bundle(records),
    )
    .unwrap();
    db.flush().unwrap();
}

fn records(f: &Fixture) -> Vec<Vec<u8>> {
    journal_frames(&f.path("ledger/journal"))
        .into_iter()
        .map(|(_, b)| b)
        .collect()
}

/// Audit must exit 1 and its first finding must name `seq`.
fn assert_caught(f: &Fixture, seq: u64) -> serde_json::Value {
    let o = f.audit();
    assert_eq!(o.code, 1, "audit should fail:\n{}", o.all());
    assert!(o.stdout.contains("PROBLEM"), "{}", o.stdout);
    let v = f.audit_json();
    assert_eq!(v["passed"], false);
    let first = &v["report"]["findings"][0];
    assert_eq!(
        first["seq"], seq,
        "first finding should name record {seq}: {v:#}"
    );
    assert!(o.stdout.contains(&format!("record {seq}")), "{}", o.stdout);
    v
}

#[test]
fn byte_changed_in_journal_record() {
    let f = Fixture::with_records(N);
    let frames = journal_frames(&f.path("ledger/journal"));
    let (off, bytes) = &frames[4];
    let mut j = std::fs::read(f.path("ledger/journal")).unwrap();
    j[off + 4 + bytes.len() - 70] ^= 1; // inside the statement, before the signature
    std::fs::write(f.path("ledger/journal"), j).unwrap();
    assert_caught(&f, 4);
}

#[test]
fn byte_changed_in_journal_record_with_trailer_fixed() {
    let f = Fixture::with_records(N);
    let mut recs = records(&f);
    let at = recs[5].len() - 1;
    recs[5][at] ^= 0x80; // last byte of the signature
    write_journal(&f.path("ledger/journal"), &recs);
    let v = assert_caught(&f, 5);
    let codes = codes_of(&v);
    assert!(codes.iter().any(|c| c == "signature"), "{codes:?}");
    // Batches (the default) and one-by-one checking find the same problems.
    assert_eq!(v["report"]["signature_mode"], "batch");
    let o = f.run(&[
        "audit",
        "--ledger",
        &f.p("ledger"),
        "--json",
        "--strict-signatures",
    ]);
    assert_eq!(o.code, 1, "{}", o.all());
    let strict: serde_json::Value = serde_json::from_str(&o.stdout).unwrap();
    assert_eq!(strict["report"]["signature_mode"], "strict");
    assert_eq!(strict["report"]["findings"], v["report"]["findings"]);
}

#[test]
fn byte_changed_in_sled_record() {
    let f = Fixture::with_records(N);
    {
        let (db, t, key, mut recs) = sled_bundle(&f);
        recs[3][20] ^= 4;
        t.insert(key, encode_bundle(&recs)).unwrap();
        db.flush().unwrap();
    }
    let v = assert_caught(&f, 3);
    assert_eq!(v["report"]["findings"][0]["code"], "journal-index-mismatch");
}

#[test]
fn record_deleted_from_the_middle() {
    let f = Fixture::with_records(N);
    let mut recs = records(&f);
    recs.remove(4);
    write_journal(&f.path("ledger/journal"), &recs);
    rewrite_sled_records(&f, &recs);
    assert_caught(&f, 4);
}

#[test]
fn two_records_swapped() {
    let f = Fixture::with_records(N);
    let mut recs = records(&f);
    recs.swap(2, 3);
    write_journal(&f.path("ledger/journal"), &recs);
    rewrite_sled_records(&f, &recs);
    assert_caught(&f, 2);
}

#[test]
fn tail_truncated() {
    let f = Fixture::with_records(N);
    let mut recs = records(&f);
    recs.truncate(N - 1); // N+1 records existed (genesis + N); keep N-1
    write_journal(&f.path("ledger/journal"), &recs);
    rewrite_sled_records(&f, &recs);
    let v = assert_caught(&f, (N - 1) as u64);
    let codes = codes_of(&v);
    assert!(
        codes.iter().any(|c| c == "checkpoint-beyond-ledger"),
        "{codes:?}"
    );
}

#[test]
fn record_re_signed_with_another_valid_key() {
    let f = Fixture::with_records(N);
    f.ok(&["key", "generate", "mallory", "--dir", &f.p("keys")]);
    let mallory = custody::keys::load_secret(&f.path("keys/mallory.key")).unwrap();
    let mut recs = records(&f);
    let mut r = Record::decode(&recs[6]).unwrap();
    r.statement.signer = mallory.verifying_key().to_bytes();
    r.statement_bytes = r.statement.encode().unwrap();
    r.signature = custody::keys::sign(&mallory, &signing_message(&r.statement_bytes));
    recs[6] = r.encode();
    // The forged record's own signature is valid.
    let back = Record::decode(&recs[6]).unwrap();
    custody::keys::verify_strict(
        &back.statement.signer,
        &signing_message(&back.statement_bytes),
        &back.signature,
    )
    .unwrap();
    write_journal(&f.path("ledger/journal"), &recs);
    rewrite_sled_records(&f, &recs);
    let v = assert_caught(&f, 6);
    let msgs = v["report"]["findings"].to_string();
    assert!(msgs.contains("broken chain at record 7"), "{msgs}");
}

#[test]
fn content_file_edited() {
    let f = Fixture::with_records(N);
    let show: serde_json::Value = serde_json::from_str(
        &f.ok(&["show", "--ledger", &f.p("ledger"), "2", "--json"])
            .stdout,
    )
    .unwrap();
    let c = show["body"]["commitment"].as_str().unwrap();
    let path = f.path(&format!("ledger/content/{c}"));
    let mut b = std::fs::read(&path).unwrap();
    *b.last_mut().unwrap() ^= 1;
    std::fs::write(&path, b).unwrap();
    let v = assert_caught(&f, 2);
    assert_eq!(v["report"]["findings"][0]["code"], "content");
}

#[test]
fn content_file_deleted() {
    let f = Fixture::with_records(N);
    for e in std::fs::read_dir(f.path("ledger/content")).unwrap() {
        std::fs::remove_file(e.unwrap().path()).unwrap();
    }
    assert_caught(&f, 2);
}

#[test]
fn whole_ledger_rebuilt_with_same_keys_is_caught_against_a_saved_checkpoint() {
    let f = Fixture::with_records(N);
    let saved = f.checkpoint();
    std::fs::write(f.path("saved.txt"), &saved).unwrap();
    // The attacker holds every key and rebuilds the ledger from scratch with one altered
    // testimony; alone, the rebuilt ledger is self-consistent and audits clean.
    std::fs::remove_dir_all(f.path("ledger")).unwrap();
    f.init_ledger();
    for i in 0..N {
        if i % 2 == 0 {
            f.testimony(&format!(
                "testimony number {i}{}",
                if i == 4 { " (altered)" } else { "" }
            ));
        } else {
            f.media(&format!("m{i}.bin"), format!("media {i}").as_bytes());
        }
    }
    f.checkpoint();
    assert_eq!(f.audit().code, 0, "rebuilt ledger is self-consistent");
    let o = f.run(&[
        "audit",
        "--ledger",
        &f.p("ledger"),
        "--against",
        &f.p("saved.txt"),
    ]);
    assert_eq!(o.code, 1, "{}", o.all());
    assert!(o.stdout.contains("history was rewritten"), "{}", o.stdout);
    assert!(
        o.stdout
            .contains(&format!("your saved checkpoint of {} records", N + 2)),
        "{}",
        o.stdout
    );
}

#[test]
fn stored_subtree_hash_altered() {
    let f = Fixture::with_records(N);
    {
        // The level-0 hash tile holds each record's leaf hash; record 3's is replaced.
        let db = open_sled(&f.path("ledger/db"));
        let t = db.open_tree("tiles").unwrap();
        let (key, v) = t.scan_prefix(b"tile/0/").next().unwrap().unwrap();
        let mut v = v.to_vec();
        v[3 * 32..4 * 32].copy_from_slice(&[7u8; 32]);
        t.insert(key, v).unwrap();
        db.flush().unwrap();
    }
    let v = assert_caught(&f, 3);
    assert_eq!(v["report"]["findings"][0]["code"], "tree-hash");
    assert!(
        v["report"]["findings"][0]["message"]
            .as_str()
            .unwrap()
            .contains("tile/0/000.p/"),
        "{v:#}"
    );
}

/// An index in the layout of an older custody (records and subtree hashes as entries of
/// their own, without the layout mark) is refused with the fix, and `recover` rebuilds it
/// in the current layout from the journal.
#[test]
fn an_index_of_the_older_layout_is_rebuilt_by_recover() {
    let f = Fixture::with_records(N);
    {
        let db = open_sled(&f.path("ledger/db"));
        db.open_tree("meta").unwrap().remove("layout").unwrap();
        db.flush().unwrap();
    }
    let o = f.run(&["log", "--ledger", &f.p("ledger")]);
    assert_eq!(o.code, 2, "{}", o.all());
    assert!(
        o.stderr.contains("older custody") && o.stderr.contains("custody recover"),
        "{}",
        o.stderr
    );
    let o = f.ok(&["recover", "--ledger", &f.p("ledger")]);
    assert!(o.stdout.contains("indexed records 0 to"), "{}", o.stdout);
    assert_eq!(f.audit().code, 0, "{}", f.audit().all());
}

/// A lookup page an append cannot read (not a whole number of entries) stops appends; the
/// audit names it, plain `recover` does not hide it, and `recover --rebuild` rebuilds the
/// index from the journal (keeping the old one aside), after which appends go on and the
/// audit passes.
#[test]
fn recover_rebuild_mends_what_an_audit_found_wrong_in_the_index() {
    let f = Fixture::with_records(N);
    {
        let db = open_sled(&f.path("ledger/db"));
        edit_small_lookup(&db, b'm', |e| e.push(vec![1, 2, 3, 4, 5]));
        db.flush().unwrap();
    }
    let add = |name: &str| {
        std::fs::write(f.path(name), name.as_bytes()).unwrap();
        f.run_as("alice", &["add", "media", &f.p(name)])
    };
    let o = add("a.bin");
    assert_eq!(o.code, 2, "{}", o.all());
    assert!(o.stderr.contains("lookup page"), "{}", o.stderr);
    let v = f.audit_json();
    assert!(codes_of(&v).contains(&"media-index".to_owned()), "{v:#}");
    let o = f.ok(&["recover", "--ledger", &f.p("ledger")]);
    assert!(o.stdout.contains("--rebuild"), "{}", o.stdout);
    let o = f.ok(&["recover", "--ledger", &f.p("ledger"), "--rebuild"]);
    assert!(
        o.stdout.contains("as asked, and rebuilt it"),
        "{}",
        o.stdout
    );
    let kept = std::fs::read_dir(f.path("ledger"))
        .unwrap()
        .filter(|e| {
            e.as_ref()
                .unwrap()
                .file_name()
                .to_string_lossy()
                .starts_with("db.rebuilt-")
        })
        .count();
    assert_eq!(kept, 1, "the old index is kept aside");
    assert_eq!(add("b.bin").code, 0);
    assert_eq!(f.audit().code, 0, "{}", f.audit().all());
}

/// An authority list without the genesis (its page deleted) marks the ledger damaged when
/// it opens: no command reads an empty key authority as the truth.
#[test]
fn an_authority_list_without_the_genesis_is_damage() {
    let f = Fixture::with_records(N);
    {
        let db = open_sled(&f.path("ledger/db"));
        edit_small_lookup(&db, b'a', Vec::clear);
        db.flush().unwrap();
    }
    let v = f.audit_json();
    let codes = codes_of(&v);
    assert!(codes.contains(&"index-damaged".to_owned()), "{v:#}");
    assert!(codes.contains(&"authority-index".to_owned()), "{v:#}");
    assert!(v.to_string().contains("does not list the genesis"), "{v:#}");
    std::fs::write(f.path("c.bin"), b"c").unwrap();
    let o = f.run_as("alice", &["add", "media", &f.p("c.bin")]);
    assert_eq!(o.code, 2, "{}", o.all());
    assert!(o.stderr.contains("recover --rebuild"), "{}", o.stderr);
    f.ok(&["recover", "--ledger", &f.p("ledger"), "--rebuild"]);
    assert_eq!(f.audit().code, 0, "{}", f.audit().all());
}

/// The index sets have the same sizes but differ: the record whose entry is wrong is named.
#[test]
fn a_leaf_index_entry_pointing_elsewhere_names_its_record() {
    let f = Fixture::with_records(N);
    let frames = journal_frames(&f.path("ledger/journal"));
    {
        let db = open_sled(&f.path("ledger/db"));
        edit_small_lookup(&db, b'l', |e| {
            let three = lookup_entry(&leaf_hash(&frames[3].1), 3);
            let at = e.iter().position(|x| *x == three).unwrap();
            e[at] = lookup_entry(&leaf_hash(&frames[3].1), 5);
        });
        db.flush().unwrap();
    }
    let v = f.audit_json();
    assert_eq!(v["passed"], false);
    // Record 3, whose entry is gone, and record 5, which the moved entry names.
    assert_eq!(
        finding_codes(&v),
        vec![
            ("leaf-index".to_owned(), Some(3)),
            ("leaf-index".to_owned(), Some(5))
        ],
        "{v:#}"
    );
}

#[test]
fn leaf_hash_of_journal_matches_recomputation() {
    // Guard for the helpers above: they frame records exactly as the store does.
    let f = Fixture::with_records(2);
    let before = std::fs::read(f.path("ledger/journal")).unwrap();
    write_journal(&f.path("ledger/journal"), &records(&f));
    assert_eq!(before, std::fs::read(f.path("ledger/journal")).unwrap());
    let frames = journal_frames(&f.path("ledger/journal"));
    let r1 = Record::decode(&frames[1].1).unwrap();
    assert_eq!(r1.prev, leaf_hash(&frames[0].1));
}

#[test]
fn injected_media_index_entry_is_not_believed_and_audit_flags_it() {
    let f = Fixture::with_records(N);
    std::fs::write(f.path("fake.mp4"), b"never recorded").unwrap();
    {
        use sha2::Digest;
        let db = open_sled(&f.path("ledger/db"));
        edit_small_lookup(&db, b'm', |e| {
            // Record 1 is a testimony; the page stays in order.
            e.push(lookup_entry(&sha2::Sha256::digest(b"never recorded"), 1));
            e.sort();
        });
        db.flush().unwrap();
    }
    let o = f.run(&[
        "verify",
        "--ledger",
        &f.p("ledger"),
        "--file",
        &f.p("fake.mp4"),
    ]);
    assert_eq!(o.code, 1, "{}", o.all());
    assert!(
        o.stdout.contains("[FAILED] names this file"),
        "{}",
        o.stdout
    );
    let o = f.audit();
    assert_eq!(o.code, 1, "{}", o.all());
    let v = f.audit_json();
    let codes = codes_of(&v);
    assert!(codes.iter().any(|c| c == "media-index"), "{codes:?}");
}

#[test]
fn all_checkpoints_removed_is_a_finding() {
    let f = Fixture::with_records(2);
    {
        let db = open_sled(&f.path("ledger/db"));
        db.open_tree("checkpoints").unwrap().clear().unwrap();
        db.flush().unwrap();
    }
    let v = f.audit_json();
    assert_eq!(v["passed"], false);
    let codes = codes_of(&v);
    assert!(codes.iter().any(|c| c == "no-checkpoint"), "{codes:?}");
}

#[test]
fn a_ledger_rebuilt_under_another_key_fails_a_pinned_audit() {
    let f = Fixture::with_records(2);
    f.ok(&["key", "generate", "other", "--dir", &f.p("keys")]);
    let o = f.run(&[
        "audit",
        "--ledger",
        &f.p("ledger"),
        "--ledger-key",
        &f.p("keys/ledger.pub"),
    ]);
    assert_eq!(o.code, 0, "{}", o.all());
    let o = f.run(&[
        "audit",
        "--ledger",
        &f.p("ledger"),
        "--ledger-key",
        &f.p("keys/other.pub"),
    ]);
    assert_eq!(o.code, 1, "{}", o.all());
    assert!(o.stdout.contains("not by the key"), "{}", o.stdout);
}

/// Each lookup index, altered each way: the audit fails, names the record where one is
/// affected, and reports only index findings. Records: 2 and 4 are testimony, 3 is media.
#[test]
fn every_lookup_index_altered_each_way_is_caught() {
    use custody::record::Body;
    type Alter = fn(&mut Vec<Vec<u8>>, &[Vec<u8>]);
    type Case = (&'static str, u8, Alter, Vec<(&'static str, Option<u64>)>);
    fn body(recs: &[Vec<u8>], seq: usize) -> Body {
        Record::decode(&recs[seq]).unwrap().statement.body
    }
    fn sha(recs: &[Vec<u8>], seq: usize) -> [u8; 32] {
        let Body::Media(m) = body(recs, seq) else {
            panic!("record {seq} is not media")
        };
        m.sha256
    }
    fn commitment(recs: &[Vec<u8>], seq: usize) -> [u8; 32] {
        let Body::Testimony(t) = body(recs, seq) else {
            panic!("record {seq} is not testimony")
        };
        t.commitment
    }
    fn replace(e: &mut [Vec<u8>], old: Vec<u8>, new: Vec<u8>) {
        let at = e
            .iter()
            .position(|x| *x == old)
            .expect("the entry is there");
        e[at] = new;
        e.sort();
    }
    let cases: Vec<Case> = vec![
        (
            "leaf removed",
            b'l',
            |e, r| e.retain(|x| *x != lookup_entry(&leaf_hash(&r[4]), 4)),
            vec![("leaf-index", Some(4)), ("leaf-index", None)],
        ),
        (
            "leaf injected",
            b'l',
            |e, _| {
                e.push(lookup_entry(&[9u8; 32], 4));
                e.sort();
            },
            vec![("leaf-index", Some(4)), ("leaf-index", None)],
        ),
        (
            "a leaf entry cut short",
            b'l',
            |e, _| {
                e[0].pop();
            },
            vec![("leaf-index", None)],
        ),
        (
            "media removed",
            b'm',
            |e, r| e.retain(|x| *x != lookup_entry(&sha(r, 3), 3)),
            vec![("media-index", Some(3)), ("media-index", None)],
        ),
        (
            "media pointed elsewhere",
            b'm',
            |e, r| replace(e, lookup_entry(&sha(r, 3), 3), lookup_entry(&sha(r, 3), 4)),
            vec![("media-index", Some(3)), ("media-index", Some(4))],
        ),
        (
            "content removed",
            b'c',
            |e, r| e.retain(|x| *x != lookup_entry(&commitment(r, 2), 2)),
            vec![("content-index", Some(2)), ("content-index", None)],
        ),
        (
            "content pointed elsewhere",
            b'c',
            |e, r| {
                replace(
                    e,
                    lookup_entry(&commitment(r, 4), 4),
                    lookup_entry(&commitment(r, 4), 2),
                )
            },
            vec![("content-index", Some(4)), ("content-index", Some(2))],
        ),
        (
            "content injected",
            b'c',
            |e, _| {
                e.push(lookup_entry(&[7u8; 32], 2));
                e.sort();
            },
            vec![("content-index", Some(2)), ("content-index", None)],
        ),
        (
            "authority injected",
            b'a',
            |e, _| {
                e.push(lookup_entry(&[], 3));
                e.sort();
            },
            vec![("authority-index", Some(3)), ("authority-index", None)],
        ),
        (
            "authority moved to another record",
            b'a',
            |e, _| replace(e, lookup_entry(&[], 0), lookup_entry(&[], 3)),
            vec![("authority-index", Some(0)), ("authority-index", Some(3))],
        ),
        (
            "authority entry for a record the ledger does not have",
            b'a',
            |e, _| e.push(lookup_entry(&[], 300)),
            vec![("authority-index", None)],
        ),
    ];
    for (name, tag, alter, expected) in cases {
        let f = Fixture::with_records(N);
        let recs = records(&f);
        {
            let db = open_sled(&f.path("ledger/db"));
            edit_small_lookup(&db, tag, |e| alter(e, &recs));
            db.flush().unwrap();
        }
        let v = f.audit_json();
        assert_eq!(v["passed"], false, "{name}: {v:#}");
        let found = finding_codes(&v);
        for (code, s) in &expected {
            assert!(
                found.contains(&((*code).to_owned(), *s)),
                "{name}: expected {code} {s:?} in {found:?}: {v:#}"
            );
        }
        // An index entry that makes the ledger open damaged (an authority record that is
        // not one) is also reported as such.
        assert!(
            found
                .iter()
                .all(|(c, _)| c.ends_with("-index") || c == "index-damaged"),
            "{name}: {found:?}"
        );
        if name == "leaf removed" {
            let o = f.run(&["verify", "--ledger", &f.p("ledger"), "4"]);
            assert_eq!(o.code, 1, "{}", o.all());
            assert!(o.stdout.contains("[FAILED] leaf index"), "{}", o.stdout);
        }
    }
}

/// Entries out of order (a lookup by halves would miss one) are a finding that names the
/// record of the first entry out of place, though the set of entries is unchanged.
#[test]
fn lookup_entries_out_of_order_are_caught_and_named() {
    let f = Fixture::with_records(N);
    let mut swapped = 0u64;
    {
        let db = open_sled(&f.path("ledger/db"));
        edit_small_lookup(&db, b'l', |e| {
            e.swap(1, 2);
            swapped = u64::from(u32::from_be_bytes(e[2][16..].try_into().unwrap()));
        });
        db.flush().unwrap();
    }
    let v = f.audit_json();
    assert_eq!(v["passed"], false, "{v:#}");
    assert_eq!(
        finding_codes(&v),
        vec![("leaf-index".to_owned(), Some(swapped))],
        "{v:#}"
    );
    assert!(v.to_string().contains("out of order"), "{v:#}");
}

/// A whole lookup page moved under another key (a run the ledger does not have, or
/// another page of its run) is a finding, though every entry is still in the tree.
#[test]
fn a_lookup_page_under_another_key_is_caught() {
    for (name, to) in [
        ("another run", lookup_page_key(b'l', 0, 1, 0)),
        ("a level the layout lacks", lookup_page_key(b'l', 4, 0, 0)),
        ("no page key at all", b"leaves".to_vec()),
    ] {
        let f = Fixture::with_records(N);
        {
            let db = open_sled(&f.path("ledger/db"));
            let t = db.open_tree("lookup").unwrap();
            let from = lookup_page_key(b'l', 0, 0, 0);
            let page = t.remove(&from).unwrap().unwrap();
            t.insert(&to, page).unwrap();
            db.flush().unwrap();
        }
        let v = f.audit_json();
        assert_eq!(v["passed"], false, "{name}: {v:#}");
        let found = finding_codes(&v);
        assert!(
            found.iter().any(|(c, s)| c == "leaf-index" && s.is_none()),
            "{name}: {found:?}"
        );
    }
}

/// Each kind of damage to the `checkpoints` file is an audit finding (exit 1) that says
/// where it is; the next checkpoint keeps bytes it must cut in a file beside it.
#[test]
fn damage_in_the_checkpoints_file_is_a_finding_and_its_bytes_are_kept() {
    let messages = |v: &serde_json::Value| -> Vec<String> {
        v["report"]["findings"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|f| f["code"] == "checkpoint-file")
            .map(|f| f["message"].as_str().unwrap().to_owned())
            .collect()
    };
    type Edit = fn(&mut Vec<u8>);
    let damage: [(&str, Edit, &str); 6] = [
        (
            "garbage at the end",
            |b| b.extend_from_slice(b"xyz"),
            "3 byte(s) at offset",
        ),
        (
            "a torn last entry",
            |b| b.truncate(b.len() - 5),
            "not a whole entry",
        ),
        ("a damaged length", |b| b[0] = 0xff, "at offset 0"),
        ("a byte that is not UTF-8", |b| b[10] = 0xff, "not UTF-8"),
        (
            "an entry removed",
            |b| {
                let first = u32::from_be_bytes(b[..4].try_into().unwrap()) as usize;
                b.drain(..4 + first);
            },
            "not in the file",
        ),
        (
            "the entries reordered",
            |b| {
                let first = 4 + u32::from_be_bytes(b[..4].try_into().unwrap()) as usize;
                let head: Vec<u8> = b.drain(..first).collect();
                b.extend_from_slice(&head);
            },
            "reordered or inserted",
        ),
    ];
    for (what, edit, needle) in damage {
        let f = Fixture::with_records(2);
        let path = f.path("ledger/checkpoints");
        let mut bytes = std::fs::read(&path).unwrap();
        let original = bytes.clone();
        edit(&mut bytes);
        std::fs::write(&path, &bytes).unwrap();
        let o = f.audit();
        assert_eq!(o.code, 1, "{what}: {}", o.all());
        let m = messages(&f.audit_json());
        assert!(m.iter().any(|m| m.contains(needle)), "{what}: {m:?}");
        // Signing the next checkpoint cuts what is not a whole entry, but keeps it.
        f.checkpoint();
        let kept: Vec<Vec<u8>> = std::fs::read_dir(f.path("ledger"))
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| {
                p.file_name()
                    .unwrap()
                    .to_string_lossy()
                    .starts_with("checkpoints.set-aside-")
            })
            .map(|p| std::fs::read(p).unwrap())
            .collect();
        // Where the whole entries (u32 length, then the note) end.
        let mut whole = 0;
        while let Some(len) = bytes.get(whole..whole + 4) {
            let len = u32::from_be_bytes(len.try_into().unwrap()) as usize;
            if whole + 4 + len > bytes.len() {
                break;
            }
            whole += 4 + len;
        }
        if whole < bytes.len() {
            assert_eq!(kept, vec![bytes[whole..].to_vec()], "{what}");
        } else {
            assert!(kept.is_empty(), "{what}");
        }
        if what == "garbage at the end" || what == "a torn last entry" {
            // Nothing but the tail was wrong: the file is whole again.
            assert!(
                std::fs::read(&path)
                    .unwrap()
                    .starts_with(&original[..whole])
            );
            assert_eq!(f.audit().code, 0, "{what}: {}", f.audit().all());
        }
    }
    // A checkpoints file that cannot be read at all is a finding, not a failure to audit.
    let f = Fixture::with_records(1);
    std::fs::remove_file(f.path("ledger/checkpoints")).unwrap();
    std::fs::create_dir(f.path("ledger/checkpoints")).unwrap();
    let o = f.audit();
    assert_eq!(o.code, 1, "{}", o.all());
    assert!(
        messages(&f.audit_json())
            .iter()
            .any(|m| m.contains("cannot be read")),
        "{}",
        o.stdout
    );
}

/// An index whose journal position does not end at its last record opens damaged (appends
/// refused): the audit says so instead of passing, and `recover` (after moving the index
/// aside) rebuilds it.
#[test]
fn an_index_out_of_step_with_the_journal_is_a_finding() {
    let f = Fixture::with_records(N);
    {
        let db = open_sled(&f.path("ledger/db"));
        let meta = db.open_tree("meta").unwrap();
        let len = u64::from_be_bytes(
            meta.get("journal_len")
                .unwrap()
                .unwrap()
                .as_ref()
                .try_into()
                .unwrap(),
        );
        meta.insert("journal_len", &(len - 100).to_be_bytes())
            .unwrap();
        db.flush().unwrap();
    }
    let v = f.audit_json();
    assert_eq!(v["passed"], false, "{v:#}");
    assert!(codes_of(&v).iter().any(|c| c == "index-damaged"), "{v:#}");
    std::fs::rename(f.path("ledger/db"), f.path("db.old")).unwrap();
    f.ok(&["recover", "--ledger", &f.p("ledger")]);
    assert_eq!(f.audit().code, 0, "{}", f.audit().all());
}
