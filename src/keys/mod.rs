//! Key material: fingerprints, generation, signing and strict verification (one at a
//! time and in batches). Key files (PEM, permissions, passphrases) are in [`files`].
//!
//! Signatures are checked with `verify_strict`, and weak (small-order) public keys are
//! refused outright.

mod files;

pub use files::{
    encrypted_secret_pem, generate_pair, load_public, load_secret, load_secret_with, pair_paths,
    permission_bits, public_pem, read_at_most, read_key_bytes, write_new_file,
};

use crate::Hash;
use ed25519_dalek::{Signature, Signer, SigningKey, VerifyingKey};
use sha2::{Digest, Sha256};
use std::path::PathBuf;
use thiserror::Error;
use zeroize::Zeroizing;

/// Why a key could not be read, written or used.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum KeyError {
    /// The operating system gave no randomness for a new key.
    #[error("the operating system gave no randomness for a new key ({0}); nothing was written")]
    Randomness(String),
    /// A file could not be read or written.
    #[error("{path}: {cause}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause (in the message, not chained, so that it is said once).
        cause: std::io::Error,
    },
    /// The secret key file is readable by group or others.
    #[error("{path}: secret key is accessible by others (mode {mode:03o}); run `chmod 600 {path}`")]
    LoosePermissions {
        /// The file.
        path: PathBuf,
        /// Its permission bits.
        mode: u32,
    },
    /// A secret key path is a symbolic link.
    #[error(
        "{path}: secret key is a symbolic link; give the real file's path so nobody can swap the key"
    )]
    Symlink {
        /// The link.
        path: PathBuf,
    },
    /// The path is not a regular file.
    #[error("{path}: not a regular file; give the path of a key file")]
    NotAFile {
        /// The path.
        path: PathBuf,
    },
    /// The file holds something other than what was asked for.
    #[error("{path}: {found}; {hint}")]
    WrongKind {
        /// The file.
        path: PathBuf,
        /// What it holds.
        found: String,
        /// What to do.
        hint: &'static str,
    },
    /// The file refused to be overwritten.
    #[error("{path}: already exists; choose another name or move the old key away first")]
    Exists {
        /// The file.
        path: PathBuf,
    },
    /// A protected key was given without a way to ask for its passphrase.
    #[error(
        "{path} is passphrase-protected; give --passphrase-file FILE, or run on a terminal to be asked"
    )]
    NeedPassphrase {
        /// The key file.
        path: PathBuf,
    },
    /// The passphrase does not open the key.
    #[error("{path}: wrong passphrase (or a damaged key file); nothing was signed")]
    WrongPassphrase {
        /// The key file.
        path: PathBuf,
    },
    /// A public key that is a small-order point, which would verify forged signatures.
    #[error("weak (small-order) Ed25519 public key refused")]
    WeakKey,
}

/// SHA-256 of the 32-byte public key: the key's long-term identity.
pub fn fingerprint(public: &[u8; 32]) -> Hash {
    Sha256::digest(public).into()
}

/// The fingerprint as people and manifests show it: `SHA256:` and the hex digest.
pub fn fingerprint_string(public: &[u8; 32]) -> String {
    format!("SHA256:{}", hex::encode(fingerprint(public)))
}

/// Short key ID used in listings and records: the first 4 bytes of the fingerprint, hex.
pub fn short_id(public: &[u8; 32]) -> String {
    hex::encode(&fingerprint(public)[..4])
}

/// A fresh key from the operating system's random source.
pub fn generate() -> Result<SigningKey, KeyError> {
    let mut seed = Zeroizing::new([0u8; 32]);
    getrandom::fill(seed.as_mut()).map_err(|e| KeyError::Randomness(e.to_string()))?;
    Ok(SigningKey::from_bytes(&seed))
}

/// Signs `message` (already domain-separated by the caller).
pub fn sign(key: &SigningKey, message: &[u8]) -> [u8; 64] {
    key.sign(message).to_bytes()
}

/// Why a signature did not verify.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum SignatureError {
    /// The public key bytes are not a valid point.
    #[error("public key is not a valid Ed25519 point")]
    BadKey,
    /// The key is a small-order point.
    #[error("public key is weak (small order)")]
    WeakKey,
    /// The signature does not verify under the strict rules.
    #[error("signature does not verify")]
    Invalid,
}

/// Checks that 32 bytes are a canonical, non-weak Ed25519 public key.
pub fn check_public(public: &[u8; 32]) -> Result<(), SignatureError> {
    checked_public(public).map(|_| ())
}

/// The key of 32 bytes that are a canonical, non-weak Ed25519 public key.
fn checked_public(public: &[u8; 32]) -> Result<VerifyingKey, SignatureError> {
    let key = VerifyingKey::from_bytes(public).map_err(|_| SignatureError::BadKey)?;
    if key.to_edwards().compress().to_bytes() != *public {
        return Err(SignatureError::BadKey);
    }
    if key.is_weak() {
        return Err(SignatureError::WeakKey);
    }
    Ok(key)
}

/// [`checked_public`] remembered for the keys seen last: a server checks many statements
/// of a few signers, and decoding and checking a key costs three of the five field
/// inversions of a verification. Only keys that passed are kept; a key is a pure function
/// of its bytes, so a kept one is exactly what checking again would give.
fn checked_public_cached(public: &[u8; 32]) -> Result<VerifyingKey, SignatureError> {
    use std::collections::HashMap;
    use std::sync::{Mutex, OnceLock};
    static SEEN: OnceLock<Mutex<HashMap<[u8; 32], VerifyingKey>>> = OnceLock::new();
    let seen = SEEN.get_or_init(Mutex::default);
    if let Some(key) = seen.lock().ok().and_then(|m| m.get(public).copied()) {
        return Ok(key);
    }
    let key = checked_public(public)?;
    if let Ok(mut m) = seen.lock() {
        if m.len() >= 4096 {
            m.clear();
        }
        m.insert(*public, key);
    }
    Ok(key)
}

/// Strict Ed25519 verification: canonical S, no small-order A or R, no weak keys.
pub fn verify_strict(
    public: &[u8; 32],
    message: &[u8],
    signature: &[u8; 64],
) -> Result<(), SignatureError> {
    // One key, one encoding: a non-canonical point encoding would give a second key ID.
    let key = checked_public_cached(public)?;
    let sig = Signature::from_bytes(signature);
    key.verify_strict(message, &sig)
        .map_err(|_| SignatureError::Invalid)
}

/// How [`verify_many`] checks signatures.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VerifyMode {
    /// Each signature alone with [`verify_strict`]: exactly the rule of SPEC.md section 1.
    Strict,
    /// Batches of signatures at once (ed25519-dalek's `verify_batch`), after the strict
    /// checks that need no curve arithmetic (canonical key, key of prime order, canonical
    /// S, R not of small order); a batch that fails is checked one signature at a time
    /// with [`verify_strict`], so every rejection is the strict one. A batch can accept a
    /// signature the strict rule rejects only if its R carries a small-order component,
    /// which the holder of the signing key must build deliberately (SPEC.md section 1).
    Batch,
}

/// Signatures checked together in one `verify_batch` call. Larger batches amortise the
/// multi-scalar multiplication better, but measured audits gain nothing above 128, and a
/// failed batch falls back to checking each of its signatures alone.
const BATCH: usize = 128;

/// The 14 encodings that decompress to a point of small order (8 canonical ones, plus
/// x = 0 with the sign bit set and y >= p): a batch would not reject such an R.
fn small_order_encodings() -> &'static [[u8; 32]] {
    static SET: std::sync::OnceLock<Vec<[u8; 32]>> = std::sync::OnceLock::new();
    SET.get_or_init(|| {
        // p = 2^255 - 19, little-endian.
        let mut p = [0xffu8; 32];
        p[0] = 0xed;
        p[31] = 0x7f;
        let mut out = Vec::new();
        for point in curve25519_dalek::constants::EIGHT_TORSION {
            let c = point.compress().to_bytes();
            let x_is_zero = point == -point;
            let mut ys = vec![c];
            // y < 19 has the second encoding y + p (no carry: p's low byte is 0xed).
            let mut y = c;
            y[31] &= 0x7f;
            if y[1..].iter().all(|&b| b == 0) && y[0] < 19 {
                let mut alt = p;
                alt[0] += y[0];
                alt[31] |= c[31] & 0x80;
                ys.push(alt);
            }
            for e in ys {
                out.push(e);
                if x_is_zero {
                    let mut flipped = e;
                    flipped[31] ^= 0x80;
                    out.push(flipped);
                }
            }
        }
        out.sort();
        out.dedup();
        out
    })
}

/// A checked public key: its point, and whether it lies in the prime-order subgroup
/// (only such keys are batched; a key with a small-order component is checked alone).
fn checked_key(public: &[u8; 32]) -> Result<(VerifyingKey, bool), SignatureError> {
    let key = checked_public(public)?;
    let prime_order = key.to_edwards().is_torsion_free();
    Ok((key, prime_order))
}

/// Verifies every `(public key, message, signature)` item on all cores and returns one
/// result per item, in order. Each distinct key is decoded and checked once.
pub fn verify_many<M: AsRef<[u8]> + Sync>(
    items: &[(&[u8; 32], M, &[u8; 64])],
    mode: VerifyMode,
) -> Vec<Result<(), SignatureError>> {
    use rayon::prelude::*;
    let mut keys = std::collections::HashMap::new();
    for (public, _, _) in items {
        keys.entry(**public).or_insert_with(|| checked_key(public));
    }
    let keys = &keys;
    let strict = move |i: usize| -> Result<(), SignatureError> {
        let (public, message, signature) = &items[i];
        let (key, _) = keys[*public].clone()?;
        key.verify_strict(message.as_ref(), &Signature::from_bytes(signature))
            .map_err(|_| SignatureError::Invalid)
    };
    (0..items.len())
        .collect::<Vec<_>>()
        .par_chunks(BATCH)
        .flat_map_iter(|part| {
            let mut out: Vec<Option<Result<(), SignatureError>>> = vec![None; part.len()];
            let mut batch = Vec::new();
            for (j, &i) in part.iter().enumerate() {
                let (public, _, signature) = &items[i];
                let batchable = mode == VerifyMode::Batch
                    && matches!(keys[*public], Ok((_, true)))
                    && batchable_signature(signature);
                if batchable {
                    batch.push(j);
                } else {
                    out[j] = Some(strict(i));
                }
            }
            if !batch.is_empty() {
                let messages: Vec<&[u8]> =
                    batch.iter().map(|&j| items[part[j]].1.as_ref()).collect();
                let signatures: Vec<Signature> = batch
                    .iter()
                    .map(|&j| Signature::from_bytes(items[part[j]].2))
                    .collect();
                let verifying: Vec<VerifyingKey> = batch
                    .iter()
                    .filter_map(|&j| keys[items[part[j]].0].as_ref().ok().map(|k| k.0))
                    .collect();
                let all_good =
                    ed25519_dalek::verify_batch(&messages, &signatures, &verifying).is_ok();
                for &j in &batch {
                    out[j] = Some(if all_good { Ok(()) } else { strict(part[j]) });
                }
            }
            out.into_iter()
                .map(|r| r.unwrap_or(Err(SignatureError::Invalid)))
        })
        .collect()
}

/// The strict checks on a signature that need no curve arithmetic: canonical S, and an
/// R encoded canonically in y that is not one of the small-order encodings.
fn batchable_signature(signature: &[u8; 64]) -> bool {
    let (mut r, mut s) = ([0u8; 32], [0u8; 32]);
    r.copy_from_slice(&signature[..32]);
    s.copy_from_slice(&signature[32..]);
    let canonical_s: bool = curve25519_dalek::Scalar::from_canonical_bytes(s)
        .is_some()
        .into();
    // y >= p would decode, but is not the canonical encoding the strict rule requires.
    let y_at_least_p = r[31] & 0x7f == 0x7f && r[1..31].iter().all(|&b| b == 0xff) && r[0] >= 0xed;
    canonical_s && !y_at_least_p && !small_order_encodings().contains(&r)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The remembered keys change no verdict, in any order of calls: every small-order
    /// encoding (canonical or not) is refused before and after a good key is remembered,
    /// and a good signature passes before and after them.
    #[test]
    fn remembered_keys_change_no_verdict() {
        let key = SigningKey::from_bytes(&[42; 32]);
        let public = key.verifying_key().to_bytes();
        let sig = sign(&key, b"m");
        let bad: Vec<[u8; 32]> = small_order_encodings().to_vec();
        for round in 0..3 {
            for p in &bad {
                assert!(verify_strict(p, b"m", &sig).is_err(), "round {round}");
            }
            assert_eq!(verify_strict(&public, b"m", &sig), Ok(()), "round {round}");
            assert_eq!(
                verify_strict(&public, b"n", &sig),
                Err(SignatureError::Invalid)
            );
        }
    }

    #[test]
    fn the_small_order_encodings_are_the_fourteen_that_decompress_to_small_order() {
        let set = small_order_encodings();
        assert_eq!(set.len(), 14);
        for e in set {
            let point = curve25519_dalek::edwards::CompressedEdwardsY(*e)
                .decompress()
                .expect("decompresses");
            assert!(point.is_small_order(), "{}", hex::encode(e));
        }
        // A prime-order R (the base point) is not among them.
        let b = curve25519_dalek::constants::ED25519_BASEPOINT_POINT
            .compress()
            .to_bytes();
        assert!(!set.contains(&b));
    }

    #[test]
    fn batches_with_one_bad_signature_name_exactly_that_one() {
        let keys: Vec<SigningKey> = (0..3u8)
            .map(|i| SigningKey::from_bytes(&[i + 1; 32]))
            .collect();
        let messages: Vec<Vec<u8>> = (0..300u32).map(|i| i.to_be_bytes().to_vec()).collect();
        let publics: Vec<[u8; 32]> = keys.iter().map(|k| k.verifying_key().to_bytes()).collect();
        let mut sigs: Vec<[u8; 64]> = messages
            .iter()
            .enumerate()
            .map(|(i, m)| sign(&keys[i % 3], m))
            .collect();
        sigs[200][40] ^= 1;
        let items: Vec<(&[u8; 32], &Vec<u8>, &[u8; 64])> = (0..300)
            .map(|i| (&publics[i % 3], &messages[i], &sigs[i]))
            .collect();
        for mode in [VerifyMode::Batch, VerifyMode::Strict] {
            let got = verify_many(&items, mode);
            assert_eq!(got.len(), 300);
            for (i, r) in got.iter().enumerate() {
                assert_eq!(r.is_ok(), i != 200, "{mode:?} item {i}");
            }
        }
    }

    #[test]
    fn strict_verification_rejects_weak_keys() {
        // The identity point (encoded as 1 followed by zeros) has small order.
        let mut weak = [0u8; 32];
        weak[0] = 1;
        assert_eq!(
            verify_strict(&weak, b"m", &[0u8; 64]),
            Err(SignatureError::WeakKey)
        );
    }
}
