//! Property-driven fuzzing of everything a file can feed in: record and statement decoding,
//! signed notes and checkpoints, proof texts and proof verification, and bundle opening.
//! Inputs are arbitrary bytes and mutations (flips, cuts, insertions) of valid inputs from
//! the known-answer vectors. Nothing may panic; whatever decodes must re-encode to the
//! same bytes. (The same targets exist for cargo-fuzz under fuzz/, with seed corpora.)

use custody::checkpoint::{Checkpoint, open_checkpoint};
use custody::merkle::{verify_consistency_proof, verify_inclusion_proof};
use custody::note::open_note;
use custody::proof::{ConsistencyProofText, InclusionProofText};
use custody::record::{Record, Statement};
use proptest::prelude::*;
use std::path::PathBuf;

fn kat(name: &str) -> Vec<u8> {
    std::fs::read(
        PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("tests/vectors/kat")
            .join(name),
    )
    .unwrap()
}

fn kat_records() -> Vec<Vec<u8>> {
    let v: serde_json::Value = serde_json::from_slice(&kat("ledger.json")).unwrap();
    v["records"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| hex::decode(r["record_hex"].as_str().unwrap()).unwrap())
        .collect()
}

#[derive(Debug, Clone)]
enum Edit {
    Flip(usize, u8),
    Cut(usize),
    Insert(usize, u8),
}

fn edits() -> impl Strategy<Value = Vec<Edit>> {
    proptest::collection::vec(
        prop_oneof![
            (any::<usize>(), 1u8..=255).prop_map(|(i, m)| Edit::Flip(i, m)),
            any::<usize>().prop_map(Edit::Cut),
            (any::<usize>(), any::<u8>()).prop_map(|(i, b)| Edit::Insert(i, b)),
        ],
        1..4,
    )
}

fn mutate(mut b: Vec<u8>, edits: &[Edit]) -> Vec<u8> {
    for e in edits {
        let n = b.len().max(1);
        match *e {
            Edit::Flip(i, m) if !b.is_empty() => b[i % n] ^= m,
            Edit::Cut(i) => b.truncate(i % n),
            Edit::Insert(i, x) => b.insert(i % (b.len() + 1), x),
            _ => {}
        }
    }
    b
}

const ORIGIN: &str = "example.org/custody/kat";

fn ledger_key() -> [u8; 32] {
    let v: serde_json::Value = serde_json::from_slice(&kat("ledger.json")).unwrap();
    hex::decode(v["ledger_public_key_hex"].as_str().unwrap())
        .unwrap()
        .try_into()
        .unwrap()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

    #[test]
    fn record_decoding(which in 0usize..4, e in edits(), raw in proptest::collection::vec(any::<u8>(), 0..400)) {
        for input in [mutate(kat_records()[which].clone(), &e), raw] {
            if let Ok(r) = Record::decode(&input) {
                prop_assert_eq!(r.encode(), input.clone());
                prop_assert_eq!(r.statement.encode().unwrap(), r.statement_bytes.clone());
            }
            if let Ok(s) = Statement::decode(&input) {
                prop_assert_eq!(s.encode().unwrap(), input);
            }
        }
    }

    #[test]
    fn notes_and_checkpoints(e in edits(), raw in ".{0,300}") {
        let good = String::from_utf8(kat("checkpoint.txt")).unwrap();
        let mutated = String::from_utf8_lossy(&mutate(good.clone().into_bytes(), &e)).into_owned();
        for input in [mutated, raw] {
            let _ = open_note(&input, ORIGIN, &ledger_key());
            let _ = Checkpoint::parse_body(&input);
            if let Ok(cp) = open_checkpoint(&input, ORIGIN, &ledger_key()) {
                // Whatever opens must be exactly what the ledger key signed.
                prop_assert_eq!(cp.body(), good.split("\n\n").next().unwrap().to_string() + "\n");
            }
        }
    }

    #[test]
    fn proof_texts_and_verification(e in edits(), raw in ".{0,300}", idx in any::<u64>(), size in any::<u64>(),
                                    hashes in proptest::collection::vec(any::<[u8; 32]>(), 0..70)) {
        let good = String::from_utf8(kat("inclusion-1.tlog-proof")).unwrap();
        let mutated = String::from_utf8_lossy(&mutate(good.into_bytes(), &e)).into_owned();
        for input in [mutated, raw] {
            if let Ok(p) = InclusionProofText::parse(&input) {
                prop_assert_eq!(InclusionProofText::parse(&p.format()).unwrap(), p);
            }
            let _ = ConsistencyProofText::parse(&input);
        }
        let _ = verify_inclusion_proof(&[1; 32], idx, size, &hashes, &[2; 32]);
        let _ = verify_consistency_proof(idx, size, &hashes, &[1; 32], &[2; 32]);
    }
}

/// Bundle opening: mutations of a real bundle's bytes never panic the verifier.
#[test]
fn bundle_opening() {
    use crate::util::Fixture;
    let f = Fixture::with_records(2);
    f.export_ok("alice", "b.zip", &["2", "3"]);
    let good = std::fs::read(f.path("b.zip")).unwrap();
    let verify = |bytes: &[u8]| {
        custody::bundle::verify_bundle(std::io::Cursor::new(bytes), &Default::default())
    };
    let original = verify(&good).unwrap();
    assert!(original.passed(), "the unmutated bundle must pass");
    let members = crate::util::read_zip(&f.path("b.zip"));
    let refused = std::cell::Cell::new(0usize);
    let mut runner = proptest::test_runner::TestRunner::new(ProptestConfig {
        cases: 300,
        ..ProptestConfig::default()
    });
    runner
        .run(&edits(), |e| {
            let bytes = mutate(good.clone(), &e);
            match verify(&bytes) {
                // A mutation that still verifies must have left everything a reader of the
                // bundle sees alone: the same manifest, the same members, byte for byte.
                Ok(report) if report.passed() => {
                    prop_assert_eq!(
                        serde_json::to_value(&report.manifest).unwrap(),
                        serde_json::to_value(&original.manifest).unwrap()
                    );
                    let dir = tempfile::tempdir().unwrap();
                    let p = dir.path().join("m.zip");
                    std::fs::write(&p, &bytes).unwrap();
                    prop_assert!(crate::util::read_zip(&p) == members);
                }
                _ => refused.set(refused.get() + 1),
            }
            Ok(())
        })
        .unwrap();
    // The mutations reached the verifier: most of them must be refused.
    let refused = refused.get();
    assert!(
        refused > 100,
        "only {refused} of 300 mutated bundles were refused"
    );
}
