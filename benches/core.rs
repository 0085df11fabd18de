//! Micro-benchmarks of the pure core (criterion): hashing, signing and verifying
//! statements, canonical encoding, and Merkle roots and proofs. `cargo bench`; the
//! end-to-end numbers against the machine's limits come from scripts/bench.sh.

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use custody::keys::{VerifyMode, verify_many};
use custody::ledger::sign_statement;
use custody::merkle::{Frontier, MemoryTree, inclusion_proof, verify_inclusion_proof};
use custody::record::{Body, Media, Record, leaf_hash, sha256_stream, signing_message};
use std::hint::black_box;

fn statement_body(i: u64) -> Body {
    Body::Media(Media {
        sha256: [i as u8; 32],
        size: i,
        name: Some(format!("clip-{i}.mp4")),
        media_type: Some("video/mp4".into()),
        description: None,
    })
}

fn crypto(c: &mut Criterion) {
    let key = ed25519_dalek::SigningKey::from_bytes(&[7; 32]);
    let signed = sign_statement(&key, statement_body(1), 1).unwrap();
    let pk = key.verifying_key().to_bytes();
    c.bench_function("sign statement", |b| {
        b.iter(|| sign_statement(&key, statement_body(black_box(1)), 1).unwrap())
    });
    c.bench_function("verify_strict statement", |b| {
        b.iter(|| {
            custody::keys::verify_strict(
                &pk,
                &signing_message(black_box(&signed.bytes)),
                &signed.signature,
            )
            .unwrap()
        })
    });
    // 1,024 statements by 4 signers, as an audit chunk holds them.
    let keys4: Vec<_> = (1..=4u8)
        .map(|i| ed25519_dalek::SigningKey::from_bytes(&[i; 32]))
        .collect();
    let signed: Vec<_> = (0..1024u64)
        .map(|i| sign_statement(&keys4[i as usize % 4], statement_body(i), 1).unwrap())
        .collect();
    let publics: Vec<[u8; 32]> = keys4.iter().map(|k| k.verifying_key().to_bytes()).collect();
    let messages: Vec<Vec<u8>> = signed.iter().map(|s| signing_message(&s.bytes)).collect();
    let items: Vec<_> = (0..1024)
        .map(|i| (&publics[i % 4], &messages[i], &signed[i].signature))
        .collect();
    let mut g = c.benchmark_group("verify 1024 signatures, all cores");
    g.throughput(Throughput::Elements(1024));
    for mode in [VerifyMode::Strict, VerifyMode::Batch] {
        g.bench_function(format!("{mode:?}"), |b| {
            b.iter(|| verify_many(black_box(&items), mode))
        });
    }
    g.finish();
    let mut g = c.benchmark_group("sha256");
    let data = vec![0x5au8; 8 << 20];
    g.throughput(Throughput::Bytes(data.len() as u64));
    g.bench_function("stream 8 MiB", |b| {
        b.iter(|| sha256_stream(&mut black_box(data.as_slice()), |_| {}).unwrap())
    });
    g.finish();
}

fn encoding(c: &mut Criterion) {
    let key = ed25519_dalek::SigningKey::from_bytes(&[7; 32]);
    let s = sign_statement(&key, statement_body(3), 1).unwrap();
    let rec = Record {
        seq: 3,
        prev: [1; 32],
        recorded_at_ms: 2,
        statement_bytes: s.bytes,
        statement: s.statement,
        signature: s.signature,
    };
    let bytes = rec.encode();
    c.bench_function("record encode", |b| b.iter(|| black_box(&rec).encode()));
    c.bench_function("record decode (strict)", |b| {
        b.iter(|| Record::decode(black_box(&bytes)).unwrap())
    });
    c.bench_function("leaf hash", |b| b.iter(|| leaf_hash(black_box(&bytes))));
}

fn merkle(c: &mut Criterion) {
    let n = 1u64 << 20;
    let leaves: Vec<[u8; 32]> = (0..n).map(|i| leaf_hash(&i.to_be_bytes())).collect();
    let tree = MemoryTree::new(&leaves);
    let root = custody::merkle::root(&tree, n).unwrap();
    c.bench_function("frontier push x1024", |b| {
        b.iter(|| {
            let mut f = Frontier::new();
            for l in &leaves[..1024] {
                f.push(*l, |_, _, _| {});
            }
            f.root()
        })
    });
    c.bench_function("inclusion proof, 1M leaves", |b| {
        b.iter(|| inclusion_proof(&tree, black_box(777_777), n).unwrap())
    });
    let p = inclusion_proof(&tree, 777_777, n).unwrap();
    c.bench_function("verify inclusion, 1M leaves", |b| {
        b.iter(|| {
            verify_inclusion_proof(&leaves[777_777], 777_777, n, black_box(&p), &root).unwrap()
        })
    });
}

/// Sealing (issue 13): a testimony text to one recipient (two X25519 key agreements and a
/// small age file each), and a media copy streamed, against the SHA-256 of the same bytes
/// in the `sha256` group above.
fn sealing(c: &mut Criterion) {
    let hq = age::x25519::Identity::generate();
    let recipients = [hq.to_public()];
    let text = vec![0x61u8; 4096];
    c.bench_function("seal a 4 KiB text", |b| {
        b.iter(|| custody::seal::seal(black_box(&text), &recipients).unwrap())
    });
    let sealed = custody::seal::seal(&text, &recipients).unwrap();
    c.bench_function("open a 4 KiB text", |b| {
        b.iter(|| custody::seal::open(&sealed.ciphertext, &sealed.wrapped_key, &hq).unwrap())
    });
    let data = vec![0x5au8; 8 << 20];
    let mut g = c.benchmark_group("seal_stream");
    g.throughput(Throughput::Bytes(data.len() as u64));
    g.bench_function("stream 8 MiB", |b| {
        b.iter(|| {
            let mut sink = std::io::sink();
            custody::seal::seal_stream(&mut data.as_slice(), &mut sink, &recipients, &mut |_| {})
                .unwrap()
        })
    });
    g.finish();
}

criterion_group!(benches, crypto, encoding, merkle, sealing);
criterion_main!(benches);
