//! The mutation sweep: every byte (every bit on the smallest ledgers) of the journal, the
//! stored records, the content files and the stored checkpoints of ledgers of 1, 2, 3, 7, 8,
//! 9 and 100 records is flipped in turn, and `audit` must detect each (a finding, or an
//! error that stops it); it must never pass and never panic. Runs in-process on the real
//! store for speed. CI flips every byte but, on the 100-record ledger, every 23rd byte; for
//! the full sweep set CUSTODY_SWEEP_STRIDE=1.

use custody::audit::audit;
use custody::ledger::LockWait;
use custody::ledger::{Access, Ledger, MediaInput, TestimonyInput};
use custody::record::Role;
use std::path::Path;

/// A ledger of `n` records: genesis, an authorisation, then testimony and media by turns,
/// and a checkpoint of the whole.
fn build(dir: &Path, n: usize) -> Ledger {
    let ledger_key = ed25519_dalek::SigningKey::from_bytes(&[1; 32]);
    let alice = ed25519_dalek::SigningKey::from_bytes(&[2; 32]);
    let t0 = 1_767_225_600_000;
    let mut l = Ledger::init(&dir.join("ledger"), "example.org/sweep", &ledger_key, t0).unwrap();
    if n >= 2 {
        l.authorize(
            &ledger_key,
            alice.verifying_key().to_bytes(),
            "Alice",
            Role::Investigator,
            t0,
        )
        .unwrap();
    }
    for i in 2..n {
        let t = t0 + i as u64;
        if i % 2 == 0 {
            let input = TestimonyInput {
                subject: format!("W-{i}"),
                language: "en".into(),
                consent: Some("court".into()),
                location: None,
                text: format!("account {i}"),
            };
            l.add_testimony(&alice, input, [i as u8; 32], t, t).unwrap();
        } else {
            let m = MediaInput {
                name: Some(format!("f{i}.mp4")),
                ..MediaInput::new([i as u8; 32], i as u64)
            };
            l.add_media(&alice, vec![m], t, t).unwrap();
        }
    }
    if n > 1 {
        l.sign_checkpoint(&ledger_key).unwrap();
    }
    l
}

/// Whether the audit notices: an error (could not run) or at least one finding.
fn detected(l: &Ledger) -> bool {
    let what = custody::audit::Audit {
        against: &[],
        pinned: None,
        mode: custody::keys::VerifyMode::Batch,
        identity: None,
    };
    match audit(l, &what, |_| {}) {
        Err(_) => true,
        Ok(r) => !r.findings.is_empty(),
    }
}

struct Tally {
    mutations: usize,
    /// Each mutation the audit did not notice.
    undetected: Vec<String>,
}

fn flip_positions(len: usize, stride: usize, bits: bool) -> Vec<(usize, u8)> {
    let masks: &[u8] = if bits {
        &[1, 2, 4, 8, 16, 32, 64, 128]
    } else {
        &[0x01]
    };
    (0..len)
        .step_by(stride)
        .flat_map(|i| masks.iter().map(move |m| (i, *m)))
        .collect()
}

fn sweep(n: usize, stride: usize) -> Tally {
    let dir = tempfile::tempdir().unwrap();
    let built = build(dir.path(), n);
    built.close().unwrap();
    // Wait for the lock: a child process that another test thread forks at this moment can
    // hold a copy of the just-closed lock descriptor until it execs.
    let l = Ledger::open(&dir.path().join("ledger"), LockWait::Yes, Access::Read).unwrap();
    assert!(!detected(&l), "the clean ledger of {n} must audit clean");
    let bits = n <= 2;
    let mut t = Tally {
        mutations: 0,
        undetected: Vec::new(),
    };
    let mut count = |ok: bool, what: String| {
        t.mutations += 1;
        if !ok {
            t.undetected.push(format!("{what} (ledger of {n})"));
        }
    };
    // The journal, and each content file, byte by byte on disk.
    let mut files = vec![dir.path().join("ledger/journal")];
    for e in std::fs::read_dir(dir.path().join("ledger/content")).unwrap() {
        files.push(e.unwrap().path());
    }
    for file in files {
        let orig = std::fs::read(&file).unwrap();
        for (i, m) in flip_positions(orig.len(), stride, bits) {
            let mut b = orig.clone();
            b[i] ^= m;
            std::fs::write(&file, &b).unwrap();
            count(
                detected(&l),
                format!("{} byte {i} mask {m:#x}", file.display()),
            );
        }
        std::fs::write(&file, &orig).unwrap();
    }
    // Stored records and checkpoints, value byte by value byte (every bit on tiny ledgers);
    // the index trees and stored subtree hashes, key byte by key byte and value byte by
    // value byte (byte flips only: every bit would multiply the run by 8). An entry moved
    // or altered must never go unnoticed.
    for (tree, keys_too) in [("tiles", true), ("checkpoints", false), ("lookup", true)] {
        // A fresh handle for each change: none may be held while the audit runs, which
        // reopens the index after long reads.
        let t = || l.raw_tree(tree).unwrap();
        let bits = bits && !keys_too;
        let entries: Vec<(sled::IVec, sled::IVec)> = t().iter().map(Result::unwrap).collect();
        for (k, v) in entries {
            let key_flips = if keys_too {
                flip_positions(k.len(), stride, false)
            } else {
                Vec::new()
            };
            for (i, m) in key_flips {
                let mut moved = k.to_vec();
                moved[i] ^= m;
                // The moved key may be another entry's (seq 0 and 1 differ by one bit).
                let clobbered = t().get(&moved).unwrap();
                t().remove(&k).unwrap();
                t().insert(&moved, &v).unwrap();
                count(
                    detected(&l),
                    format!("{tree} key {} byte {i}", hex::encode(&k)),
                );
                match clobbered {
                    Some(old) => t().insert(&moved, old).unwrap(),
                    None => t().remove(&moved).unwrap(),
                };
                t().insert(&k, &v).unwrap();
            }
            for (i, m) in flip_positions(v.len(), stride, bits) {
                let mut b = v.to_vec();
                b[i] ^= m;
                t().insert(&k, b).unwrap();
                count(
                    detected(&l),
                    format!("{tree} {} value byte {i}", hex::encode(&k)),
                );
            }
            t().insert(&k, v).unwrap();
        }
    }
    assert!(
        !detected(&l),
        "restored ledger of {n} must audit clean again"
    );
    t
}

#[test]
fn every_flipped_byte_is_detected() {
    let stride_100: usize = std::env::var("CUSTODY_SWEEP_STRIDE")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(23);
    let mut report = Vec::new();
    for n in [1usize, 2, 3, 7, 8, 9, 100] {
        let stride = if n == 100 { stride_100 } else { 1 };
        let t = sweep(n, stride);
        assert!(
            t.undetected.is_empty(),
            "{} of {} mutations went unnoticed, e.g. {:?}",
            t.undetected.len(),
            t.mutations,
            &t.undetected[..t.undetected.len().min(10)]
        );
        // Every byte of a journal frame is flipped at least: a ledger of n records has
        // well over 100 bytes per record.
        assert!(
            t.mutations >= n * 100 / stride,
            "only {} mutations for {n} records",
            t.mutations
        );
        report.push(format!(
            "{n} records: {} mutations, all detected",
            t.mutations
        ));
    }
    eprintln!("mutation sweep: {}", report.join("; "));
}

/// The same sweep over a sealed ledger (seal-to, consent and erase records; texts sealed,
/// one erased): every byte of the journal, of each ciphertext and of each wrapped item key
/// is flipped in turn, and the audit with headquarters' identity must notice each.
#[test]
fn every_flipped_byte_of_a_sealed_ledger_is_detected() {
    let dir = tempfile::tempdir().unwrap();
    let ledger_key = ed25519_dalek::SigningKey::from_bytes(&[1; 32]);
    let alice = ed25519_dalek::SigningKey::from_bytes(&[2; 32]);
    let hq = age::x25519::Identity::generate();
    let hq_key = custody::seal::identity_key(&hq);
    let t0 = 1_767_225_600_000u64;
    let mut l = Ledger::init(
        &dir.path().join("ledger"),
        "example.org/sweep",
        &ledger_key,
        t0,
    )
    .unwrap();
    l.seal_to(&ledger_key, &[hq_key], t0).unwrap();
    l.authorize(
        &ledger_key,
        alice.verifying_key().to_bytes(),
        "Alice",
        Role::Investigator,
        t0,
    )
    .unwrap();
    for i in 0..3u64 {
        let input = TestimonyInput {
            subject: format!("W-{i}"),
            language: "en".into(),
            consent: Some("court".into()),
            location: None,
            text: format!("sealed account {i}"),
        };
        l.add_testimony(&alice, input, [i as u8; 32], t0 + i, t0 + i)
            .unwrap();
    }
    l.set_consent(&alice, 3, "none", t0 + 10).unwrap();
    l.erase(&ledger_key, 4, "court order", t0 + 11).unwrap();
    l.sign_checkpoint(&ledger_key).unwrap();
    l.close().unwrap();
    let l = Ledger::open(&dir.path().join("ledger"), LockWait::Yes, Access::Read).unwrap();
    let detected = |l: &Ledger| {
        let what = custody::audit::Audit {
            against: &[],
            pinned: None,
            mode: custody::keys::VerifyMode::Batch,
            identity: Some(&hq),
        };
        match audit(l, &what, |_| {}) {
            Err(_) => true,
            Ok(r) => !r.findings.is_empty(),
        }
    };
    assert!(!detected(&l), "the clean sealed ledger audits clean");
    let mut files = vec![dir.path().join("ledger/journal")];
    for sub in ["content", "sealed-keys"] {
        for e in std::fs::read_dir(dir.path().join("ledger").join(sub)).unwrap() {
            files.push(e.unwrap().path());
        }
    }
    // Two texts remain sealed (one was erased, its ciphertext kept): their ciphertexts and
    // keys, and the erased one's ciphertext.
    assert_eq!(files.len(), 1 + 3 + 2, "{files:?}");
    // The erased text's ciphertext stays, and nobody can open it any more: no change to it
    // can be seen, and none matters.
    let erased = match l.record(4).unwrap().0.statement.body {
        custody::record::Body::Testimony(t) => format!("{}.age", hex::encode(t.commitment)),
        _ => unreachable!("record 4 is a testimony"),
    };
    let (mut mutations, mut undetected) = (0, Vec::new());
    for file in files {
        let orig = std::fs::read(&file).unwrap();
        let erased_copy = file.ends_with(format!("content/{erased}"));
        for i in 0..orig.len() {
            let mut b = orig.clone();
            b[i] ^= 0x01;
            std::fs::write(&file, &b).unwrap();
            mutations += 1;
            if !detected(&l) && !erased_copy {
                undetected.push(format!("{} byte {i}", file.display()));
            }
        }
        std::fs::write(&file, &orig).unwrap();
    }
    assert!(
        !detected(&l),
        "restored, the sealed ledger audits clean again"
    );
    assert!(
        undetected.is_empty(),
        "{} of {mutations} mutations went unnoticed, e.g. {:?}",
        undetected.len(),
        &undetected[..undetected.len().min(10)]
    );
    eprintln!("sealed mutation sweep: {mutations} mutations, all detected");
}
