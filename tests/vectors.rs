//! Public test vectors (tests/vectors/public, copied unchanged from shared/vectors with
//! their licences): RFC 6962 Merkle proofs, the reference C2SP signed note, Wycheproof and
//! CCTV Ed25519 cases.

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use custody::merkle::{verify_consistency_proof, verify_inclusion_proof};
use custody::{Hash, keys, note};
use serde_json::Value;
use std::path::{Path, PathBuf};

fn public(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/vectors/public")
        .join(rel)
}

fn json_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            json_files(&p, out);
        } else if p.extension().is_some_and(|e| e == "json") {
            out.push(p);
        }
    }
}

/// A vector's hash field: None when it is not 32 bytes (we reject such input at decoding).
fn hash(v: &Value) -> Option<Hash> {
    B64.decode(v.as_str()?).ok()?.try_into().ok()
}

fn hashes(v: &Value) -> Option<Vec<Hash>> {
    match v {
        Value::Null => Some(vec![]),
        Value::Array(a) => a.iter().map(hash).collect(),
        _ => None,
    }
}

#[test]
fn merkle_inclusion_vectors() {
    let mut files = Vec::new();
    json_files(&public("merkle/inclusion"), &mut files);
    assert!(files.len() > 80);
    for p in files {
        let v: Value = serde_json::from_slice(&std::fs::read(&p).unwrap()).unwrap();
        let want_err = v["wantErr"].as_bool().unwrap();
        let result = (|| {
            let leaf = hash(&v["leafHash"]).ok_or("leaf not 32 bytes")?;
            let root = hash(&v["root"]).ok_or("root not 32 bytes")?;
            let proof = hashes(&v["proof"]).ok_or("proof hash not 32 bytes")?;
            verify_inclusion_proof(
                &leaf,
                v["leafIdx"].as_u64().unwrap(),
                v["treeSize"].as_u64().unwrap(),
                &proof,
                &root,
            )
            .map_err(|_| "rejected")
        })();
        assert_eq!(result.is_err(), want_err, "{}: {result:?}", p.display());
    }
}

#[test]
fn merkle_consistency_vectors() {
    let mut files = Vec::new();
    json_files(&public("merkle/consistency"), &mut files);
    assert!(files.len() > 80);
    let mut diverging = Vec::new();
    for p in files {
        let v: Value = serde_json::from_slice(&std::fs::read(&p).unwrap()).unwrap();
        let want_err = v["wantErr"].as_bool().unwrap();
        let (r1, r2) = (hash(&v["root1"]), hash(&v["root2"]));
        let result = (|| {
            let r1 = r1.ok_or("root1 not 32 bytes")?;
            let r2 = r2.ok_or("root2 not 32 bytes")?;
            let proof = hashes(&v["proof"]).ok_or("proof hash not 32 bytes")?;
            verify_consistency_proof(
                v["size1"].as_u64().unwrap(),
                v["size2"].as_u64().unwrap(),
                &proof,
                &r1,
                &r2,
            )
            .map_err(|_| "rejected")
        })();
        if result.is_err() != want_err {
            // The one divergence SPEC.md documents: a vector that accepts equal sizes with
            // "roots" that are not 32-byte hashes, which we refuse to decode.
            assert!(
                !want_err && (r1.is_none() || r2.is_none()),
                "{}: {result:?}",
                p.display()
            );
            diverging.push(p);
        }
    }
    assert!(diverging.len() <= 1, "{diverging:?}");
}

#[test]
fn reference_signed_note_is_reproduced_byte_for_byte() {
    let v: Value =
        serde_json::from_slice(&std::fs::read(public("note/go_sumdb_note.json")).unwrap()).unwrap();
    // signer_key = PRIVATE+KEY+name+id+base64(0x01 || seed)
    let signer = v["signer_key"].as_str().unwrap();
    let parts: Vec<&str> = signer.splitn(5, '+').collect();
    assert_eq!(&parts[..2], ["PRIVATE", "KEY"]);
    let name = parts[2];
    let raw = B64.decode(parts[4]).unwrap();
    assert_eq!(raw[0], 1);
    let seed: [u8; 32] = raw[1..].try_into().unwrap();
    let key = ed25519_dalek::SigningKey::from_bytes(&seed);
    let public = key.verifying_key().to_bytes();
    assert_eq!(
        note::verifier_key(name, &public),
        v["verifier_key"].as_str().unwrap()
    );
    assert_eq!(hex::encode(note::key_id(name, &public)), parts[3]);
    let signed = note::sign_note(v["text"].as_str().unwrap(), name, &key).unwrap();
    assert_eq!(signed, v["note"].as_str().unwrap());
    assert_eq!(
        note::open_note(&signed, name, &public).unwrap(),
        v["text"].as_str().unwrap()
    );
}

#[test]
fn wycheproof_ed25519_cases_give_the_expected_result() {
    let v: Value = serde_json::from_slice(
        &std::fs::read(public("ed25519/wycheproof_ed25519_test.json")).unwrap(),
    )
    .unwrap();
    let mut n = 0;
    for g in v["testGroups"].as_array().unwrap() {
        let pk: [u8; 32] = hex::decode(g["publicKey"]["pk"].as_str().unwrap())
            .unwrap()
            .try_into()
            .unwrap();
        for t in g["tests"].as_array().unwrap() {
            let msg = hex::decode(t["msg"].as_str().unwrap()).unwrap();
            let sig = hex::decode(t["sig"].as_str().unwrap()).unwrap();
            let ok = match <[u8; 64]>::try_from(sig.as_slice()) {
                Ok(s) => {
                    let strict = keys::verify_strict(&pk, &msg, &s).is_ok();
                    let batch = keys::verify_many(&[(&pk, &msg, &s)], keys::VerifyMode::Batch);
                    assert_eq!(batch[0].is_ok(), strict, "batch: tcId {}", t["tcId"]);
                    strict
                }
                Err(_) => false,
            };
            let want = t["result"].as_str().unwrap();
            assert_ne!(want, "acceptable", "no 'acceptable' cases in this file");
            assert_eq!(ok, want == "valid", "tcId {}: {}", t["tcId"], t["comment"]);
            n += 1;
        }
    }
    assert!(n > 100);
}

/// SPEC.md, "Signature verification": a signature is accepted exactly when none of the
/// CCTV flags low_order_A, low_order_R, low_order_residue, non_canonical_A or
/// non_canonical_R applies (and every message bytes and S are as signed).
#[test]
fn cctv_ed25519_edge_cases_follow_the_spec_rule() {
    let v: Value =
        serde_json::from_slice(&std::fs::read(public("ed25519/cctv_ed25519vectors.json")).unwrap())
            .unwrap();
    const REJECTED: [&str; 5] = [
        "low_order_A",
        "low_order_R",
        "low_order_residue",
        "non_canonical_A",
        "non_canonical_R",
    ];
    let (mut accepted, mut rejected) = (0, 0);
    let mut all = Vec::new();
    let mut batch_residue = 0;
    for t in v.as_array().unwrap() {
        let pk: [u8; 32] = hex::decode(t["key"].as_str().unwrap())
            .unwrap()
            .try_into()
            .unwrap();
        let sig: [u8; 64] = hex::decode(t["sig"].as_str().unwrap())
            .unwrap()
            .try_into()
            .unwrap();
        let msg = t["msg"].as_str().unwrap().as_bytes();
        let flags: Vec<&str> = t["flags"]
            .as_array()
            .map(|a| a.iter().map(|f| f.as_str().unwrap()).collect())
            .unwrap_or_default();
        let expect_ok = !flags.iter().any(|f| REJECTED.contains(f));
        let ok = keys::verify_strict(&pk, msg, &sig).is_ok();
        assert_eq!(ok, expect_ok, "vector {} flags {flags:?}", t["number"]);
        // verify_many gives the same answer for the vector alone, except that a batch may
        // accept a signature whose R has a small-order component (SPEC.md section 1).
        let strict = keys::verify_many(&[(&pk, msg, &sig)], keys::VerifyMode::Strict);
        assert_eq!(strict[0].is_ok(), ok, "strict: vector {}", t["number"]);
        let batch = keys::verify_many(&[(&pk, msg, &sig)], keys::VerifyMode::Batch);
        if batch[0].is_ok() != ok {
            assert!(
                !ok && flags.contains(&"low_order_component_R"),
                "batch: vector {} flags {flags:?}",
                t["number"]
            );
            batch_residue += 1;
        }
        all.push((
            pk,
            msg.to_vec(),
            sig,
            ok,
            flags.contains(&"low_order_component_R"),
        ));
        if ok { accepted += 1 } else { rejected += 1 }
    }
    assert!(
        accepted > 0 && rejected > 0,
        "{accepted} accepted, {rejected} rejected"
    );
    // And all of them at once, where the bad ones share batches with the good ones.
    let items: Vec<(&[u8; 32], &Vec<u8>, &[u8; 64])> =
        all.iter().map(|(pk, m, s, _, _)| (pk, m, s)).collect();
    let got = keys::verify_many(&items, keys::VerifyMode::Strict);
    for (r, (_, _, _, ok, _)) in got.iter().zip(&all) {
        assert_eq!(r.is_ok(), *ok);
    }
    // Together in batches: the same rule.
    let got = keys::verify_many(&items, keys::VerifyMode::Batch);
    for (r, (_, _, _, ok, residue_r)) in got.iter().zip(&all) {
        assert!(r.is_ok() == *ok || (!ok && *residue_r));
    }
    // ed25519-dalek 3's batch scalars are derived from the batch, so this count is fixed;
    // SPEC.md section 1 states it.
    assert_eq!(
        batch_residue, 2,
        "CCTV vectors with a small-order component in R that pass a batch alone"
    );
}
