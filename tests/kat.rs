//! Known-answer vectors in tests/vectors/kat: statements, records, leaf hashes, roots,
//! proofs and a checkpoint built from the insecure test keys in keys/, with fixed times
//! and salts, and `fail_` inputs that must be rejected. SPEC.md's worked examples quote
//! them. After a deliberate format change, rewrite the files with
//! `CUSTODY_BLESS=1 cargo test --test tests kat -- --test-threads=1` and review the diff.

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use custody::checkpoint::{Checkpoint, open_checkpoint};
use custody::ledger::sign_statement;
use custody::merkle::{self, Frontier, MemoryTree};
use custody::proof::{InclusionProofText, ProofTextError};
use custody::record::{self, Body, Media, Record, Testimony, leaf_hash};
use ed25519_dalek::SigningKey;
use ed25519_dalek::pkcs8::DecodePrivateKey;
use serde_json::{Value, json};
use std::path::PathBuf;

const ORIGIN: &str = "example.org/custody/kat";
const T0: u64 = 1_767_225_600_000; // 2026-01-01T00:00:00Z

fn root_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn test_key(name: &str) -> SigningKey {
    let pem =
        std::fs::read_to_string(root_dir().join(format!("keys/{name}.insecure.key"))).unwrap();
    SigningKey::from_pkcs8_pem(&pem).unwrap()
}

fn kat_path(name: &str) -> PathBuf {
    root_dir().join("tests/vectors/kat").join(name)
}

fn bless() -> bool {
    std::env::var_os("CUSTODY_BLESS").is_some()
}

/// Compares `value` with the stored file, or writes it when blessing.
fn check_file(name: &str, value: &str) {
    let path = kat_path(name);
    if bless() {
        std::fs::write(&path, value).unwrap();
        return;
    }
    let stored = std::fs::read_to_string(&path).unwrap_or_else(|e| {
        panic!(
            "{}: {e}; run with CUSTODY_BLESS=1 to create it",
            path.display()
        )
    });
    assert_eq!(stored, value, "{name} differs from the known answer");
}

/// The KAT ledger: genesis, one testimony, two media records.
fn build() -> (Vec<Record>, Vec<Vec<u8>>, SigningKey) {
    let ledger = test_key("test-ledger");
    let alice = test_key("test-investigator");
    let salt = [0x5a; 32];
    let text = "The testimony text of the known-answer vector.\n";
    let bodies = [
        (
            &ledger,
            Body::Genesis {
                origin: ORIGIN.into(),
            },
        ),
        (
            &alice,
            Body::Testimony(Testimony {
                subject: "W-17".into(),
                language: "en".into(),
                consent: Some("court".into()),
                location: None,
                commitment: record::commitment(&salt, text.as_bytes()),
                content_len: text.len() as u64,
            }),
        ),
        (
            &alice,
            Body::Media(Media {
                sha256: sha256(b"clip-001 bytes"),
                size: 14,
                name: Some("clip-001.mp4".into()),
                media_type: Some("video/mp4".into()),
                description: Some("phone footage".into()),
            }),
        ),
        (
            &alice,
            Body::Media(Media {
                sha256: sha256(b""),
                size: 0,
                name: None,
                media_type: None,
                description: None,
            }),
        ),
    ];
    let mut records = Vec::new();
    let mut bytes = Vec::new();
    let mut prev = [0u8; 32];
    for (i, (key, body)) in bodies.into_iter().enumerate() {
        let s = sign_statement(key, body, T0 + i as u64 * 1000).unwrap();
        let r = Record {
            seq: i as u64,
            prev,
            recorded_at_ms: T0 + i as u64 * 1000 + 500,
            statement_bytes: s.bytes,
            statement: s.statement,
            signature: s.signature,
        };
        let b = r.encode();
        prev = leaf_hash(&b);
        records.push(r);
        bytes.push(b);
    }
    (records, bytes, ledger)
}

fn sha256(b: &[u8]) -> [u8; 32] {
    use sha2::Digest;
    sha2::Sha256::digest(b).into()
}

#[test]
fn known_answers() {
    let (records, bytes, ledger_key) = build();
    let leaves: Vec<[u8; 32]> = bytes.iter().map(|b| leaf_hash(b)).collect();
    let tree = MemoryTree::new(&leaves);
    let mut frontier = Frontier::new();
    let mut recs = Vec::new();
    let mut roots = serde_json::Map::new();
    for (i, (r, b)) in records.iter().zip(&bytes).enumerate() {
        frontier.push(leaves[i], |_, _, _| {});
        roots.insert((i + 1).to_string(), json!(hex::encode(frontier.root())));
        recs.push(json!({
            "seq": r.seq,
            "kind": r.statement.body.kind(),
            "statement_hex": hex::encode(&r.statement_bytes),
            "signed_message_hex": hex::encode(record::signing_message(&r.statement_bytes)),
            "signer_public_key_hex": hex::encode(r.statement.signer),
            "signature_hex": hex::encode(r.signature),
            "record_hex": hex::encode(b),
            "leaf_hash_hex": hex::encode(leaves[i]),
        }));
        // Decoding is strict and exact.
        assert_eq!(&Record::decode(b).unwrap(), r);
    }
    let size = records.len() as u64;
    let cp = Checkpoint {
        origin: ORIGIN.into(),
        size,
        root: frontier.root(),
        extensions: vec![],
    };
    let signed = cp.sign(&ledger_key).unwrap();
    let proof1 = merkle::inclusion_proof(&tree, 1, size).unwrap();
    let consistency = merkle::consistency_proof(&tree, 3, size).unwrap();
    let v = json!({
        "about": "custody known-answer vectors; keys are the insecure test keys in keys/; see SPEC.md",
        "origin": ORIGIN,
        "ledger_public_key_hex": hex::encode(ledger_key.verifying_key().to_bytes()),
        "testimony": { "salt_hex": hex::encode([0x5a; 32]), "text": "The testimony text of the known-answer vector.\n" },
        "records": recs,
        "roots": roots,
        "inclusion_proof_seq1_size4": proof1.iter().map(hex::encode).collect::<Vec<_>>(),
        "consistency_proof_3_to_4": consistency.iter().map(hex::encode).collect::<Vec<_>>(),
        "checkpoint": signed,
    });
    check_file(
        "ledger.json",
        &(serde_json::to_string_pretty(&v).unwrap() + "\n"),
    );
    let tlog = InclusionProofText {
        index: 1,
        extra: None,
        hashes: proof1.clone(),
        checkpoint: signed.clone(),
    };
    check_file("inclusion-1.tlog-proof", &tlog.format());
    check_file("checkpoint.txt", &signed);

    // The stored answers verify with the pure verifiers.
    let pk = ledger_key.verifying_key().to_bytes();
    let opened = open_checkpoint(&signed, ORIGIN, &pk).unwrap();
    merkle::verify_inclusion_proof(&leaves[1], 1, size, &proof1, &opened.root).unwrap();
    let root3: [u8; 32] = hex::decode(roots["3"].as_str().unwrap())
        .unwrap()
        .try_into()
        .unwrap();
    merkle::verify_consistency_proof(3, size, &consistency, &root3, &opened.root).unwrap();
    let t = match &records[1].statement.body {
        Body::Testimony(t) => t.clone(),
        _ => unreachable!(),
    };
    assert_eq!(
        t.commitment,
        record::commitment(
            &[0x5a; 32],
            "The testimony text of the known-answer vector.\n".as_bytes()
        )
    );
}

/// Mutations of a valid record that strict decoding must reject, each with the reason.
fn record_failures() -> Vec<(&'static str, Vec<u8>)> {
    let (records, bytes, _) = build();
    let good = &bytes[1]; // the testimony
    let st = &records[1].statement_bytes;
    // Offsets inside the record: version(1) seq(8) prev(32) time(8) len(4) statement.
    let s0 = 1 + 8 + 32 + 8 + 4;
    let with_statement = |new_st: Vec<u8>| {
        let mut r = records[1].clone();
        r.statement_bytes = new_st;
        r.encode()
    };
    let mut v = Vec::new();
    v.push(("truncated", good[..good.len() - 1].to_vec()));
    v.push(("trailing-byte", [good.as_slice(), &[0]].concat()));
    let mut b = good.clone();
    b[0] = 2;
    v.push(("unknown-record-version", b));
    let mut b = good.clone();
    b[s0 - 4..s0].copy_from_slice(&0x0100_0000u32.to_be_bytes());
    v.push(("oversized-statement-length", b));
    let mut s = st.clone();
    s[0] = 9;
    v.push(("unknown-statement-version", with_statement(s)));
    // 200 is no kind (0 to 9 are; a vector once used 7, which became `amend` and then
    // failed only for its trailing bytes).
    let mut s = st.clone();
    s[1] = 200;
    v.push(("unknown-kind", with_statement(s)));
    // Testimony body: version(1) kind(1) time(8) key(32) subject(4+4 "W-17") language(4+2) consent tag...
    let subject_at = 1 + 1 + 8 + 32 + 4;
    let mut s = st.clone();
    s[subject_at] = 0xff;
    v.push(("subject-not-utf8", with_statement(s)));
    let mut s = st.clone();
    s[subject_at + 1] = 0;
    v.push(("subject-has-nul", with_statement(s)));
    let consent_tag = subject_at + 4 + 4 + 2;
    let mut s = st.clone();
    assert_eq!(s[consent_tag], 1);
    s[consent_tag] = 2;
    v.push(("option-tag-2", with_statement(s)));
    let mut s = st.clone();
    s.splice(subject_at..subject_at + 4, "\u{202E}W".bytes().take(4));
    v.push(("subject-has-bidi-override", with_statement(s)));
    let mut s = st.clone();
    s.push(0);
    v.push(("statement-trailing-byte", with_statement(s)));
    v
}

/// Why each `fail_record_` vector must be rejected: what the error says, and the byte
/// offset it names, worked out from SPEC.md's layout (record: version 0, seq 1, prev 9,
/// recorded time 41, statement length 49, statement from 53; the testimony's statement:
/// version +0, kind +1, claimed time +2, signer +10, subject length +42, subject +46,
/// language +50, consent tag +56).
fn expected_failure(name: &str, len: usize, statement_len: usize) -> (String, usize) {
    let st = 53;
    let (what, at): (&str, usize) = match name {
        "truncated" => (
            "truncated: signature needs 1 more byte(s), 63 left",
            len - 63,
        ),
        "trailing-byte" => ("1 trailing byte(s) after the last field", len - 1),
        "unknown-record-version" => ("unsupported record format version 2", 0),
        "oversized-statement-length" => ("statement is 16777216 bytes long", 49),
        "unknown-statement-version" => ("unsupported statement format version 9", st),
        "unknown-kind" => ("unknown statement kind tag 200", st + 1),
        "subject-not-utf8" => ("subject: not valid UTF-8", st + 46),
        "subject-has-nul" => (
            "subject: contains the control or bidirectional-override character U+0000",
            st + 46,
        ),
        "option-tag-2" => ("unknown consent tag 2", st + 56),
        "subject-has-bidi-override" => (
            "subject: contains the control or bidirectional-override character U+202E",
            st + 46,
        ),
        "statement-trailing-byte" => (
            "1 trailing byte(s) after the last field",
            st + statement_len - 1,
        ),
        other => panic!("no expected reason for fail_record_{other}"),
    };
    (what.to_owned(), at)
}

#[test]
fn fail_records_are_rejected() {
    let cases = record_failures();
    for (name, bytes) in &cases {
        let file = format!("fail_record_{name}.hex");
        check_file(&file, &(hex::encode(bytes) + "\n"));
    }
    // Every fail_record file on disk (not only the ones generated) must be rejected, for
    // its own reason and at its own offset.
    let mut n = 0;
    for e in std::fs::read_dir(kat_path("")).unwrap() {
        let p = e.unwrap().path();
        let file = p.file_name().unwrap().to_string_lossy().into_owned();
        let Some(name) = file
            .strip_prefix("fail_record_")
            .and_then(|s| s.strip_suffix(".hex"))
        else {
            continue;
        };
        let b = hex::decode(std::fs::read_to_string(&p).unwrap().trim()).unwrap();
        let err = Record::decode(&b).expect_err(&format!("{file} was accepted"));
        // The statement's length prefix, when the record gets that far.
        let statement_len = b
            .get(49..53)
            .map_or(0, |l| u32::from_be_bytes(l.try_into().unwrap()) as usize);
        let (what, at) = expected_failure(name, b.len(), statement_len);
        let said = err.kind().to_string();
        assert!(said.starts_with(&what), "{file}: {said:?} is not {what:?}");
        assert_eq!(err.offset(), Some(at), "{file}: {err}");
        assert!(
            err.to_string()
                .ends_with(&format!("(at byte {at} of the record)")),
            "{err}"
        );
        n += 1;
    }
    assert_eq!(n, cases.len());
}

#[test]
fn fail_checkpoints_and_proofs_are_rejected() {
    let (_, _, ledger_key) = build();
    let pk = ledger_key.verifying_key().to_bytes();
    let good = std::fs::read_to_string(kat_path("checkpoint.txt")).unwrap();
    assert!(open_checkpoint(&good, ORIGIN, &pk).is_ok());
    let other = test_key("test-investigator");
    // A defect in the body is signed again with the right key, so that the defect, not
    // the signature, is what must refuse it.
    let body = good.split("\n\n").next().unwrap().to_string() + "\n";
    let resigned = |b: String| custody::note::sign_note(&b, ORIGIN, &ledger_key).unwrap();
    let mut cases: Vec<(&str, String)> = vec![
        (
            "size-leading-zero",
            resigned(body.replacen("\n4\n", "\n04\n", 1)),
        ),
        ("size-changed", good.replacen("\n4\n", "\n5\n", 1)),
        (
            "no-signature",
            good.split("\n\n").next().unwrap().to_string() + "\n\n",
        ),
        ("no-final-newline", good.trim_end().to_string()),
        (
            "wrong-origin",
            resigned(body.replacen(
                "example.org/custody/kat\n",
                "example.org/custody/other\n",
                1,
            )),
        ),
    ];
    cases.push((
        "signed-by-another-key",
        custody::note::sign_note(&body, ORIGIN, &other).unwrap(),
    ));
    for (name, text) in &cases {
        check_file(&format!("fail_checkpoint_{name}.txt"), text);
    }
    // Every fail_checkpoint file on disk is refused, each for its own reason.
    let mut n = 0;
    for e in std::fs::read_dir(kat_path("")).unwrap() {
        let p = e.unwrap().path();
        let file = p.file_name().unwrap().to_string_lossy().into_owned();
        let Some(name) = file
            .strip_prefix("fail_checkpoint_")
            .and_then(|s| s.strip_suffix(".txt"))
        else {
            continue;
        };
        let reason = match name {
            "size-leading-zero" => "size is not a decimal number without leading zeros",
            "size-changed" => "signature does not verify",
            "no-signature" => "no signature lines",
            "no-final-newline" => "does not end with a newline",
            "wrong-origin" => "checkpoint is for origin 'example.org/custody/other'",
            "signed-by-another-key" => "note is not signed by example.org/custody/kat+",
            other => panic!("no expected reason for fail_checkpoint_{other}"),
        };
        let text = std::fs::read_to_string(&p).unwrap();
        let err = open_checkpoint(&text, ORIGIN, &pk)
            .expect_err(&format!("{file} was accepted"))
            .to_string();
        assert!(
            err.contains(reason),
            "{file}: {err:?} does not say {reason:?}"
        );
        n += 1;
    }
    assert_eq!(n, cases.len());
    let proof = std::fs::read_to_string(kat_path("inclusion-1.tlog-proof")).unwrap();
    let p = InclusionProofText::parse(&proof).unwrap();
    let bad: Vec<(&str, Result<InclusionProofText, ProofTextError>)> = vec![
        (
            "bad-header",
            InclusionProofText::parse(&proof.replacen("@v1", "@v2", 1)),
        ),
        (
            "index-leading-zero",
            InclusionProofText::parse(&proof.replacen("index 1", "index 01", 1)),
        ),
        (
            "hash-not-32-bytes",
            InclusionProofText::parse(&proof.replacen(&B64.encode(p.hashes[0]), "AAAA", 1)),
        ),
    ];
    for (name, r) in bad {
        assert!(r.is_err(), "{name} parsed");
    }
    // A well-formed proof for the wrong index fails verification.
    let cp = open_checkpoint(&p.checkpoint, ORIGIN, &pk).unwrap();
    let v: Value =
        serde_json::from_str(&std::fs::read_to_string(kat_path("ledger.json")).unwrap()).unwrap();
    let leaf2: [u8; 32] = hex::decode(v["records"][2]["leaf_hash_hex"].as_str().unwrap())
        .unwrap()
        .try_into()
        .unwrap();
    assert!(merkle::verify_inclusion_proof(&leaf2, 1, cp.size, &p.hashes, &cp.root).is_err());
}

/// Signs each statement (at T0 + 1 s per record) and chains them into records, each
/// admitted by the authority rules; returns the records, their bytes and the final state.
fn sign_chain(
    bodies: Vec<(&SigningKey, Body)>,
) -> (Vec<Record>, Vec<Vec<u8>>, custody::rules::Authority) {
    let mut records: Vec<Record> = Vec::new();
    let mut bytes = Vec::new();
    let mut prev = [0u8; 32];
    let mut authority = custody::rules::Authority::new();
    for (i, (key, body)) in bodies.into_iter().enumerate() {
        let seq = i as u64;
        let s = sign_statement(key, body, T0 + seq * 1000).unwrap();
        let r = Record {
            seq,
            prev,
            recorded_at_ms: T0 + seq * 1000 + 500,
            statement_bytes: s.bytes,
            statement: s.statement,
            signature: s.signature,
        };
        let lookup = |n: u64| {
            records
                .get(n as usize)
                .map(|r: &Record| r.statement.clone())
        };
        authority
            .admit(&r.statement, seq, r.recorded_at_ms, &lookup)
            .unwrap_or_else(|v| panic!("record {seq} breaks the rules: {v}"));
        let b = r.encode();
        assert_eq!(&Record::decode(&b).unwrap(), &r);
        prev = leaf_hash(&b);
        records.push(r);
        bytes.push(b);
    }
    (records, bytes, authority)
}

/// A second known-answer ledger that is valid under SPEC.md section 4.1 and holds a
/// statement of every kind: genesis, authorize, testimony, media, transfer, accept, amend
/// (a new text) and revoke. `authority.json` pins each record's bytes, leaf hash and
/// signature, the roots and a signed checkpoint; replaying the authority rules over it
/// finds no violation.
#[test]
fn authority_known_answers() {
    use custody::record::{Amendment, Effective, RevokeReason, Role};
    let ledger = test_key("test-ledger");
    let alice = test_key("test-investigator");
    let ledger_pk = ledger.verifying_key().to_bytes();
    let alice_pk = alice.verifying_key().to_bytes();
    let text = "The first text of the authority known-answer vector.\n";
    let amended = "The corrected text of the authority known-answer vector.\n";
    let (salt1, salt2) = ([0x11u8; 32], [0x22u8; 32]);
    let bodies: Vec<(&SigningKey, Body)> = vec![
        (
            &ledger,
            Body::Genesis {
                origin: ORIGIN.into(),
            },
        ),
        (
            &ledger,
            Body::Authorize {
                key: alice_pk,
                name: "Alice Example".into(),
                role: Role::Investigator,
            },
        ),
        (
            &alice,
            Body::Testimony(Testimony {
                subject: "W-18".into(),
                language: "en".into(),
                consent: Some("court".into()),
                location: Some("field office 2".into()),
                commitment: record::commitment(&salt1, text.as_bytes()),
                content_len: text.len() as u64,
            }),
        ),
        (
            &alice,
            Body::Media(Media {
                sha256: sha256(b"clip-002 bytes"),
                size: 14,
                name: Some("clip-002.mp4".into()),
                media_type: Some("video/mp4".into()),
                description: None,
            }),
        ),
        (
            &alice,
            Body::Transfer {
                exhibit: 3,
                to: ledger_pk,
                reason: "to the evidence vault".into(),
                location: Some("vault A".into()),
            },
        ),
        (&ledger, Body::Accept { transfer: 4 }),
        (
            &alice,
            Body::Amend(Amendment {
                target: 2,
                reason: "a date was misheard".into(),
                description: None,
                content: Some((
                    record::commitment(&salt2, amended.as_bytes()),
                    amended.len() as u64,
                )),
            }),
        ),
        (
            &ledger,
            Body::Revoke {
                key: alice_pk,
                reason: RevokeReason::Retired,
                effective: Effective::Now,
            },
        ),
    ];
    let (records, bytes, authority) = sign_chain(bodies);
    let mut frontier = Frontier::new();
    let mut roots = serde_json::Map::new();
    let mut recs = Vec::new();
    for (r, b) in records.iter().zip(&bytes) {
        frontier.push(leaf_hash(b), |_, _, _| {});
        roots.insert((r.seq + 1).to_string(), json!(hex::encode(frontier.root())));
        recs.push(json!({
            "seq": r.seq,
            "kind": r.statement.body.kind(),
            "statement_hex": hex::encode(&r.statement_bytes),
            "signer_public_key_hex": hex::encode(r.statement.signer),
            "signature_hex": hex::encode(r.signature),
            "record_hex": hex::encode(b),
            "leaf_hash_hex": hex::encode(leaf_hash(b)),
        }));
    }
    let cp = Checkpoint {
        origin: ORIGIN.into(),
        size: records.len() as u64,
        root: frontier.root(),
        extensions: vec![],
    };
    let signed = cp.sign(&ledger).unwrap();
    let v = json!({
        "about": "custody known-answer ledger valid under SPEC.md section 4.1, one statement of every kind; keys are the insecure test keys in keys/",
        "origin": ORIGIN,
        "ledger_public_key_hex": hex::encode(ledger_pk),
        "investigator_public_key_hex": hex::encode(alice_pk),
        "testimony": { "salt_hex": hex::encode(salt1), "text": text },
        "amended_testimony": { "salt_hex": hex::encode(salt2), "text": amended },
        "records": recs,
        "roots": roots,
        "checkpoint": signed,
    });
    check_file(
        "authority.json",
        &(serde_json::to_string_pretty(&v).unwrap() + "\n"),
    );
    // The final state: alice retired, exhibit 3 held by the ledger key, record 2 amended.
    let k = &authority.keys()[&alice_pk];
    assert_eq!(k.status(), "retired by record 7");
    assert_eq!(authority.holder(3, alice_pk).holder, ledger_pk);
    assert_eq!(authority.amendments_of(2), &[6]);
}

/// `Ledger::add_testimony` takes its time and its salt as arguments, so a testimony
/// appended through the real store with fixed ones is a known answer: its record bytes are
/// pinned in `add-testimony.hex`, its commitment is SHA-256(salt || text) (computed here
/// from SPEC.md, not by the crate), and the content file holds exactly salt || text.
#[test]
fn add_testimony_with_a_fixed_salt_is_a_known_answer() {
    use custody::ledger::{Ledger, TestimonyInput};
    use custody::record::Role;
    let text = "The testimony text of the known-answer vector.\n";
    let append = |salt: [u8; 32]| {
        let dir = tempfile::tempdir().unwrap();
        let ledger_key = test_key("test-ledger");
        let alice = test_key("test-investigator");
        let mut l = Ledger::init(&dir.path().join("l"), ORIGIN, &ledger_key, T0).unwrap();
        l.authorize(
            &ledger_key,
            alice.verifying_key().to_bytes(),
            "Alice",
            Role::Investigator,
            T0,
        )
        .unwrap();
        let input = TestimonyInput {
            subject: "W-17".into(),
            language: "en".into(),
            consent: Some("court".into()),
            location: None,
            text: text.into(),
        };
        let a = l
            .add_testimony(&alice, input, salt, T0 + 1000, T0 + 1500)
            .unwrap();
        let (rec, bytes) = l.record(a.seq).unwrap();
        let Body::Testimony(t) = &rec.statement.body else {
            panic!("not a testimony")
        };
        let content =
            std::fs::read(dir.path().join("l/content").join(hex::encode(t.commitment))).unwrap();
        (bytes, t.commitment, content)
    };
    let salt = [0x5a; 32];
    let (bytes, commitment, content) = append(salt);
    check_file("add-testimony.hex", &(hex::encode(&bytes) + "\n"));
    assert_eq!(commitment, sha256(&[&salt[..], text.as_bytes()].concat()));
    assert_eq!(content, [&salt[..], text.as_bytes()].concat());
    // The same arguments give the same bytes in another ledger; another salt does not.
    assert_eq!(append(salt).0, bytes);
    let (other, other_commitment, _) = append([0xa5; 32]);
    assert_ne!(other_commitment, commitment);
    assert_ne!(other, bytes);
}

/// Known answers for the statements of sealed content (SPEC.md sections 3 and 15): a
/// seal-to naming two recipients, a consent change and an erasure, in a ledger valid
/// under section 4.1. `sealing.json` pins each record's bytes, leaf hash and decoded body
/// (the seal-to's recipients as `age1…` strings, whose keys are X25519 public keys of the
/// fixed scalars given).
#[test]
fn sealing_known_answers() {
    use custody::record::Role;
    let ledger = test_key("test-ledger");
    let alice = test_key("test-investigator");
    let alice_pk = alice.verifying_key().to_bytes();
    let scalars = [[0x07u8; 32], [0x08u8; 32]];
    let recipients: Vec<[u8; 32]> = scalars
        .iter()
        .map(|s| curve25519_dalek::montgomery::MontgomeryPoint::mul_base_clamped(*s).to_bytes())
        .collect();
    let text = "A sealed testimony of the known-answer vector.\n";
    let salt = [0x33u8; 32];
    let testimony = Testimony {
        subject: "W-19".into(),
        language: "ar".into(),
        consent: Some("court".into()),
        location: None,
        commitment: record::commitment(&salt, text.as_bytes()),
        content_len: text.len() as u64,
    };
    // The testimony's statement as Alice signs it below (at T0 + 3 s), hashed as SPEC.md
    // section 3 says, from its bytes.
    let testimony_digest: [u8; 32] = {
        use sha2::Digest;
        let s = sign_statement(&alice, Body::Testimony(testimony.clone()), T0 + 3000).unwrap();
        sha2::Sha256::digest(&s.bytes).into()
    };
    let bodies: Vec<(&SigningKey, Body)> = vec![
        (
            &ledger,
            Body::Genesis {
                origin: ORIGIN.into(),
            },
        ),
        (
            &ledger,
            Body::SealTo {
                recipients: recipients.clone(),
            },
        ),
        (
            &ledger,
            Body::Authorize {
                key: alice_pk,
                name: "Alice Example".into(),
                role: Role::Investigator,
            },
        ),
        (&alice, Body::Testimony(testimony)),
        (
            &alice,
            Body::Consent {
                target: 3,
                target_statement: testimony_digest,
                consent: "none".into(),
            },
        ),
        (
            &ledger,
            Body::Erase {
                target: 3,
                target_statement: testimony_digest,
                reason: "court order 2026/114".into(),
            },
        ),
    ];
    let (records, bytes, authority) = sign_chain(bodies);
    let recs: Vec<Value> = records
        .iter()
        .zip(&bytes)
        .map(|(r, b)| {
            json!({
                "seq": r.seq,
                "kind": r.statement.body.kind(),
                "body": custody::record::RecordView::new(r, b).body,
                "statement_hex": hex::encode(&r.statement_bytes),
                "record_hex": hex::encode(b),
                "leaf_hash_hex": hex::encode(leaf_hash(b)),
            })
        })
        .collect();
    // The seal-to body by hand (SPEC.md section 3): count, then the keys.
    let seal_to_body = &records[1].statement_bytes[1 + 1 + 8 + 32..];
    assert_eq!(
        seal_to_body,
        [&[2u8][..], &recipients[0], &recipients[1]].concat()
    );
    assert_eq!(authority.erased_by(3), Some(5));
    let v = json!({
        "about": "custody known-answer records of sealed content (SPEC.md sections 3 and 15): seal-to, consent, erase; keys are the insecure test keys in keys/; the recipients are the X25519 public keys of the scalars given",
        "origin": ORIGIN,
        "recipient_scalars_hex": scalars.iter().map(hex::encode).collect::<Vec<_>>(),
        "testimony": { "salt_hex": hex::encode(salt), "text": text },
        "records": recs,
    });
    check_file(
        "sealing.json",
        &(serde_json::to_string_pretty(&v).unwrap() + "\n"),
    );
}
