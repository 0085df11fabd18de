//! The hashes over a record's bytes: its leaf hash, the message a signer signs, content
//! commitments, streamed file digests, and the signatures of many records at once.

use super::*;
use crate::Hash;
use sha2::{Digest, Sha256};

/// The exact message an Ed25519 signature over a statement covers.
pub fn signing_message(statement_bytes: &[u8]) -> Vec<u8> {
    let mut m = Vec::with_capacity(STATEMENT_LABEL.len() + statement_bytes.len());
    m.extend_from_slice(STATEMENT_LABEL);
    m.extend_from_slice(statement_bytes);
    m
}

/// Leaf hash of record bytes: SHA-256(0x00 || bytes), RFC 9162.
pub fn leaf_hash(record_bytes: &[u8]) -> Hash {
    let mut h = Sha256::new();
    h.update([0u8]);
    h.update(record_bytes);
    h.finalize().into()
}

/// Streaming SHA-256 of everything `r` yields; `progress` receives each chunk's length.
/// Input larger than one 1 MiB buffer is read by a second thread while this one hashes the
/// buffer before, so a file in the page cache hashes at the speed of SHA-256 itself;
/// memory stays flat (at most three buffers) whatever the size.
pub fn sha256_stream<R: std::io::Read + Send>(
    r: &mut R,
    mut progress: impl FnMut(u64),
) -> std::io::Result<(Hash, u64)> {
    const BUF: usize = 1 << 20;
    let mut h = Sha256::new();
    // Small input (testimony text, most files in a bundle) needs no thread.
    let mut first = vec![0u8; BUF];
    let k = fill(r, &mut first)?;
    h.update(&first[..k]);
    progress(k as u64);
    if k < BUF {
        return Ok((h.finalize().into(), k as u64));
    }
    let n = hash_with_reader_thread(r, &mut h, first, &mut progress)?;
    Ok((h.finalize().into(), k as u64 + n))
}

/// Reads until `buf` is full or the input ends; returns the bytes read.
fn fill(r: &mut impl std::io::Read, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut k = 0;
    while k < buf.len() {
        match r.read(&mut buf[k..]) {
            Ok(0) => break,
            Ok(n) => k += n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(k)
}

/// The rest of [`sha256_stream`]: a reader thread fills buffers, this thread hashes them.
fn hash_with_reader_thread<R: std::io::Read + Send>(
    r: &mut R,
    h: &mut Sha256,
    spare: Vec<u8>,
    progress: &mut impl FnMut(u64),
) -> std::io::Result<u64> {
    use std::sync::mpsc::sync_channel;
    const BUFFERS: usize = 3;
    let (full_tx, full_rx) = sync_channel::<std::io::Result<(Vec<u8>, usize)>>(BUFFERS);
    let (empty_tx, empty_rx) = sync_channel::<Vec<u8>>(BUFFERS);
    let len = spare.len();
    std::thread::scope(|scope| {
        // Both ends this thread uses live inside the scope, so that however it leaves
        // (an error, or a panic in `progress`), they are dropped and the reader stops.
        let (full_rx, empty_tx) = (full_rx, empty_tx);
        let reader = move || {
            while let Ok(mut buf) = empty_rx.recv() {
                match fill(r, &mut buf) {
                    Ok(0) => break,
                    Ok(k) => {
                        if full_tx.send(Ok((buf, k))).is_err() {
                            break;
                        }
                    }
                    Err(e) => {
                        let _ = full_tx.send(Err(e));
                        break;
                    }
                }
            }
            // Dropping `full_tx` here tells the hasher that the input has ended.
        };
        std::thread::Builder::new()
            .name("custody-read".into())
            .spawn_scoped(scope, reader)?;
        // Cannot fail: the channel has room for every buffer and its receiver is alive.
        let _ = empty_tx.send(spare);
        for _ in 1..BUFFERS {
            let _ = empty_tx.send(vec![0u8; len]);
        }
        let mut n = 0u64;
        for chunk in full_rx.iter() {
            let (buf, k) = chunk?;
            h.update(&buf[..k]);
            n += k as u64;
            progress(k as u64);
            let _ = empty_tx.send(buf);
        }
        Ok(n)
    })
}

/// Verifies the signatures of `records` on all cores (SPEC.md section 1, by `mode`): one
/// result per record, in order.
pub fn verify_signatures<'a>(
    records: impl IntoIterator<Item = &'a Record>,
    mode: crate::keys::VerifyMode,
) -> Vec<Result<(), crate::keys::SignatureError>> {
    let records: Vec<&Record> = records.into_iter().collect();
    let messages: Vec<Vec<u8>> = records
        .iter()
        .map(|r| signing_message(&r.statement_bytes))
        .collect();
    let items: Vec<(&[u8; 32], &Vec<u8>, &[u8; 64])> = records
        .iter()
        .zip(&messages)
        .map(|(r, m)| (&r.statement.signer, m, &r.signature))
        .collect();
    crate::keys::verify_many(&items, mode)
}

/// Salted content commitment: SHA-256(salt || content).
pub fn commitment(salt: &[u8; 32], content: &[u8]) -> Hash {
    let mut h = Sha256::new();
    h.update(salt);
    h.update(content);
    h.finalize().into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn streamed_hash_equals_one_shot_hash_across_buffer_boundaries() {
        const M: usize = 1 << 20;
        for len in [0, 1, M - 1, M, M + 1, 3 * M + 5, 5 * M] {
            let data: Vec<u8> = (0..len).map(|i| (i * 7 + i / 3) as u8).collect();
            let mut seen = 0u64;
            let (h, n) = sha256_stream(&mut data.as_slice(), |k| seen += k).unwrap();
            assert_eq!(h, <[u8; 32]>::from(Sha256::digest(&data)), "len {len}");
            assert_eq!((n, seen), (len as u64, len as u64));
        }
    }

    #[test]
    fn a_read_error_mid_stream_is_returned() {
        struct Failing(usize);
        impl std::io::Read for Failing {
            fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
                if self.0 == 0 {
                    return Err(std::io::Error::other("disk gone"));
                }
                self.0 -= 1;
                buf.fill(1);
                Ok(buf.len())
            }
        }
        let e = sha256_stream(&mut Failing(4), |_| {}).unwrap_err();
        assert_eq!(e.to_string(), "disk gone");
    }
}
