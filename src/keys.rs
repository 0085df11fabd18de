//! Key files, signing and strict verification.
//!
//! Secret keys are PKCS#8 v1 PEM (the form OpenSSL 3 and Python's `cryptography` read),
//! created with `create_new` and mode 0600 in one step, and refused when a group or others
//! could read them, as OpenSSH does. Public keys are SPKI PEM. Signatures are checked with
//! `verify_strict`, and weak (small-order) public keys are refused outright.

use crate::Hash;
use ed25519_dalek::pkcs8::spki::der::pem::LineEnding;
use ed25519_dalek::pkcs8::spki::{DecodePublicKey, EncodePublicKey};
use ed25519_dalek::pkcs8::{DecodePrivateKey, EncodePrivateKey, KeypairBytes};
use ed25519_dalek::{Signature, Signer, SigningKey, VerifyingKey};
use sha2::{Digest, Sha256};
use std::fs::OpenOptions;
use std::io::Write;
use std::path::{Path, PathBuf};
use thiserror::Error;
use zeroize::Zeroizing;

/// Why a key could not be read, written or used.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum KeyError {
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

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> KeyError + '_ {
    move |cause| KeyError::Io {
        path: path.to_owned(),
        cause,
    }
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
    getrandom::fill(seed.as_mut()).map_err(|e| KeyError::Io {
        path: PathBuf::from("<system random source>"),
        cause: std::io::Error::other(e.to_string()),
    })?;
    Ok(SigningKey::from_bytes(&seed))
}

/// PKCS#8 v1 PEM of the secret key (no embedded public key, so every tool reads it).
fn secret_pem(key: &SigningKey) -> Zeroizing<String> {
    let kp = KeypairBytes {
        secret_key: key.to_bytes(),
        public_key: None,
    };
    // Encoding a 32-byte seed into a fixed ASN.1 template cannot fail.
    kp.to_pkcs8_pem(LineEnding::LF)
        .expect("PKCS#8 encoding of an Ed25519 seed")
}

/// Passphrase-protected PKCS#8 PEM of the secret key (PBES2 with scrypt and AES-256-CBC,
/// which OpenSSL 3 opens with `openssl pkey -passin`).
pub fn encrypted_secret_pem(
    key: &SigningKey,
    passphrase: &[u8],
) -> Result<Zeroizing<String>, KeyError> {
    let kp = KeypairBytes {
        secret_key: key.to_bytes(),
        public_key: None,
    };
    kp.to_pkcs8_encrypted_pem(passphrase, LineEnding::LF)
        .map_err(|e| KeyError::Io {
            path: PathBuf::from("<key encryption>"),
            cause: std::io::Error::other(e.to_string()),
        })
}

/// SPKI PEM of a public key.
pub fn public_pem(key: &VerifyingKey) -> String {
    // Encoding a 32-byte point into a fixed ASN.1 template cannot fail.
    key.to_public_key_pem(LineEnding::LF)
        .expect("SPKI encoding of an Ed25519 key")
}

/// Writes a new file atomically-enough for keys: `create_new` so nothing is overwritten,
/// with the mode set at creation, then fsync.
pub fn write_new_file(path: &Path, bytes: &[u8], mode: u32) -> Result<(), KeyError> {
    let mut opts = OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(mode);
    }
    #[cfg(not(unix))]
    let _ = mode;
    let mut f = opts.open(path).map_err(|e| {
        if e.kind() == std::io::ErrorKind::AlreadyExists {
            KeyError::Exists {
                path: path.to_owned(),
            }
        } else {
            io(path)(e)
        }
    })?;
    f.write_all(bytes).map_err(io(path))?;
    f.sync_all().map_err(io(path))?;
    Ok(())
}

/// Paths of the pair `DIR/NAME.key` and `DIR/NAME.pub`.
pub fn pair_paths(dir: &Path, name: &str) -> (PathBuf, PathBuf) {
    (
        dir.join(format!("{name}.key")),
        dir.join(format!("{name}.pub")),
    )
}

/// Generates a key pair into `DIR/NAME.key` (0600) and `DIR/NAME.pub`; the secret key is
/// passphrase-protected when a passphrase is given.
pub fn generate_pair(
    dir: &Path,
    name: &str,
    passphrase: Option<&[u8]>,
) -> Result<SigningKey, KeyError> {
    let (secret_path, public_path) = pair_paths(dir, name);
    for p in [&secret_path, &public_path] {
        if p.symlink_metadata().is_ok() {
            return Err(KeyError::Exists { path: p.clone() });
        }
    }
    let key = generate()?;
    let pem = match passphrase {
        Some(p) => encrypted_secret_pem(&key, p)?,
        None => secret_pem(&key),
    };
    write_new_file(&secret_path, pem.as_bytes(), 0o600)?;
    write_new_file(
        &public_path,
        public_pem(&key.verifying_key()).as_bytes(),
        0o644,
    )?;
    Ok(key)
}

/// A key file's text and its permission bits, both taken from one open file handle.
struct KeyFile {
    text: Zeroizing<String>,
    /// Permission bits (`0o777` mask); 0 where the platform has none.
    mode: u32,
}

/// Reads a key file that must be a regular file, not a link. The file is opened without
/// following a link (O_NOFOLLOW) and checked through the open handle, so a link swapped in
/// after the first check is refused rather than followed.
fn read_regular(path: &Path) -> Result<KeyFile, KeyError> {
    let meta = path.symlink_metadata().map_err(io(path))?;
    if meta.file_type().is_symlink() {
        return Err(KeyError::Symlink {
            path: path.to_owned(),
        });
    }
    if !meta.is_file() {
        return Err(KeyError::NotAFile {
            path: path.to_owned(),
        });
    }
    let mut opts = OpenOptions::new();
    opts.read(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        // O_NONBLOCK: a FIFO swapped in must not block the open.
        opts.custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK);
    }
    let file = opts.open(path).map_err(|e| {
        #[cfg(unix)]
        if e.raw_os_error() == Some(libc::ELOOP) {
            return KeyError::Symlink {
                path: path.to_owned(),
            };
        }
        io(path)(e)
    })?;
    let meta = file.metadata().map_err(io(path))?;
    if !meta.is_file() {
        return Err(KeyError::NotAFile {
            path: path.to_owned(),
        });
    }
    const MAX: u64 = 64 * 1024;
    if meta.len() > MAX {
        return Err(KeyError::WrongKind {
            path: path.to_owned(),
            found: format!("{} bytes is far too large for a key file", meta.len()),
            hint: "give the path of a key made by `custody key generate`",
        });
    }
    let mode = permission_bits(&meta);
    let Some(bytes) = read_at_most(&file, MAX).map_err(io(path))? else {
        return Err(KeyError::WrongKind {
            path: path.to_owned(),
            found: "the file grew while it was read".into(),
            hint: "give the path of a key made by `custody key generate`",
        });
    };
    match std::str::from_utf8(&bytes) {
        Ok(s) => Ok(KeyFile {
            text: Zeroizing::new(s.to_owned()),
            mode,
        }),
        Err(_) => Err(KeyError::WrongKind {
            path: path.to_owned(),
            found: "not a PEM text file".into(),
            hint: "give the path of a key made by `custody key generate`",
        }),
    }
}

/// Permission bits of a file (`0o777` mask); 0 where the platform has none.
pub fn permission_bits(meta: &std::fs::Metadata) -> u32 {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        meta.permissions().mode() & 0o777
    }
    #[cfg(not(unix))]
    {
        let _ = meta;
        0
    }
}

/// Reads an open secret file whole, if it holds at most `max` bytes (`None` if more), into
/// memory that is zeroed when dropped.
pub fn read_at_most(file: &std::fs::File, max: u64) -> std::io::Result<Option<Zeroizing<Vec<u8>>>> {
    let mut bytes = Zeroizing::new(Vec::new());
    std::io::Read::read_to_end(&mut std::io::Read::take(file, max + 1), &mut bytes)?;
    Ok((bytes.len() as u64 <= max).then_some(bytes))
}

fn pem_label(text: &str) -> Option<&str> {
    let start = text.find("-----BEGIN ")? + "-----BEGIN ".len();
    let end = text[start..].find("-----")?;
    Some(&text[start..start + end])
}

/// Loads an unprotected secret key, refusing links and files others can read.
pub fn load_secret(path: &Path) -> Result<SigningKey, KeyError> {
    load_secret_with(path, || {
        Err(KeyError::NeedPassphrase {
            path: path.to_owned(),
        })
    })
}

/// Refuses a secret key file that group or others can access, as OpenSSH does.
fn check_private_mode(path: &Path, file: &KeyFile) -> Result<(), KeyError> {
    if file.mode & 0o077 != 0 {
        return Err(KeyError::LoosePermissions {
            path: path.to_owned(),
            mode: file.mode,
        });
    }
    Ok(())
}

/// The largest key-derivation work a protected key file may ask for: scrypt with
/// 128 x N x r x p up to 256 MiB (which bounds both its memory and its time; custody and
/// OpenSSL write 16 MiB), or 10 million PBKDF2 iterations. A file that asks for more would
/// stall or exhaust the machine before its passphrase is even checked.
const MAX_SCRYPT_WORK: u64 = 256 << 20;
const MAX_PBKDF2_ITERATIONS: u32 = 10_000_000;

/// Refuses a protected key whose encryption custody cannot use, or whose key derivation is
/// malformed or asks for more work than the limits above.
fn check_kdf_cost(path: &Path, text: &str) -> Result<(), KeyError> {
    use pkcs8::pkcs5::pbes2::Kdf;
    const REENCRYPT: &str = "re-encrypt it with `openssl pkcs8 -topk8 -scrypt -in FILE -out NEW` (N = 16384, r = 8, p = 1), or make a new key";
    let refuse = |found: String| KeyError::WrongKind {
        path: path.to_owned(),
        found,
        hint: REENCRYPT,
    };
    let (_, der) = pkcs8::der::pem::decode_vec(text.as_bytes())
        .map_err(|e| refuse(format!("not a valid encrypted PKCS#8 key ({e})")))?;
    let info = pkcs8::EncryptedPrivateKeyInfoRef::try_from(der.as_slice()).map_err(|e| {
        refuse(format!(
            "not an encrypted PKCS#8 key that custody can open (PBES2 with scrypt or PBKDF2 and AES): {e}"
        ))
    })?;
    let Some(pbes2) = info.encryption_algorithm.pbes2() else {
        return Err(refuse(
            "it is encrypted with PBES1, which custody does not support".into(),
        ));
    };
    match &pbes2.kdf {
        Kdf::Scrypt(p) => {
            let n = p.cost_parameter;
            if n < 2 || !n.is_power_of_two() || p.block_size == 0 || p.parallelization == 0 {
                return Err(refuse(format!(
                    "its scrypt parameters are invalid (N = {n}, r = {}, p = {})",
                    p.block_size, p.parallelization
                )));
            }
            let work = 128u64
                .saturating_mul(n)
                .saturating_mul(u64::from(p.block_size))
                .saturating_mul(u64::from(p.parallelization));
            if work > MAX_SCRYPT_WORK {
                return Err(refuse(format!(
                    "its passphrase protection asks for scrypt with N = {n}, r = {}, p = {}, more work than custody allows (128 x N x r x p up to 256 MiB)",
                    p.block_size, p.parallelization
                )));
            }
        }
        Kdf::Pbkdf2(p) if p.iteration_count > MAX_PBKDF2_ITERATIONS => {
            return Err(refuse(format!(
                "its passphrase protection asks for {} PBKDF2 iterations, more work than custody allows (up to 10 million)",
                p.iteration_count
            )));
        }
        _ => {}
    }
    Ok(())
}

/// Decrypts a protected key whose key derivation [`check_kdf_cost`] has accepted.
fn decrypt_pem(path: &Path, text: &str, passphrase: &[u8]) -> Result<SigningKey, KeyError> {
    let kp = KeypairBytes::from_pkcs8_encrypted_pem(text, passphrase).map_err(|_| {
        KeyError::WrongPassphrase {
            path: path.to_owned(),
        }
    })?;
    let key = SigningKey::from_bytes(&kp.secret_key);
    if let Some(pk) = &kp.public_key
        && pk.to_bytes() != key.verifying_key().to_bytes()
    {
        return Err(KeyError::WrongKind {
            path: path.to_owned(),
            found: "its embedded public key does not match its secret key".into(),
            hint: "the file is corrupt; restore it from a backup",
        });
    }
    Ok(key)
}

/// Loads a secret key; `passphrase` is asked only when the file is protected.
pub fn load_secret_with(
    path: &Path,
    passphrase: impl FnOnce() -> Result<Zeroizing<Vec<u8>>, KeyError>,
) -> Result<SigningKey, KeyError> {
    let file = read_regular(path)?;
    let text = &file.text;
    match pem_label(text) {
        Some("PRIVATE KEY") => {}
        Some("PUBLIC KEY") => {
            return Err(KeyError::WrongKind {
                path: path.to_owned(),
                found: "this is a public key".into(),
                hint: "signing needs the secret key file (NAME.key), not NAME.pub",
            });
        }
        Some("ENCRYPTED PRIVATE KEY") => {
            check_private_mode(path, &file)?;
            // Before the passphrase is asked: the file's own cost must be acceptable.
            check_kdf_cost(path, text)?;
            let passphrase = passphrase()?;
            return decrypt_pem(path, text, &passphrase);
        }
        Some(other) => {
            return Err(KeyError::WrongKind {
                path: path.to_owned(),
                found: format!("PEM block '{other}' is not an Ed25519 PKCS#8 key"),
                hint: "custody signs with Ed25519 keys made by `custody key generate`",
            });
        }
        None => {
            return Err(KeyError::WrongKind {
                path: path.to_owned(),
                found: "no PEM key found".into(),
                hint: "give the path of a key made by `custody key generate`",
            });
        }
    }
    check_private_mode(path, &file)?;
    SigningKey::from_pkcs8_pem(text).map_err(|e| KeyError::WrongKind {
        path: path.to_owned(),
        found: format!("not a valid Ed25519 PKCS#8 key ({e})"),
        hint: "custody signs with Ed25519 keys; make one with `custody key generate`",
    })
}

/// Loads a public key from SPKI PEM, or derives it from a secret key file.
pub fn load_public(path: &Path) -> Result<VerifyingKey, KeyError> {
    // A public key may be reached through a link (nothing is secret in it); a secret key
    // given here is still read by `load_secret`, which refuses links.
    let is_link = path
        .symlink_metadata()
        .is_ok_and(|m| m.file_type().is_symlink());
    let real = if is_link {
        path.canonicalize().map_err(io(path))?
    } else {
        path.to_owned()
    };
    let text = read_regular(&real)?.text;
    let key = match pem_label(&text) {
        Some("PUBLIC KEY") => {
            VerifyingKey::from_public_key_pem(&text).map_err(|e| KeyError::WrongKind {
                path: path.to_owned(),
                found: format!("not a valid Ed25519 public key ({e})"),
                hint: "give an Ed25519 key made by `custody key generate`",
            })?
        }
        Some("PRIVATE KEY") => load_secret(path)?.verifying_key(),
        Some("ENCRYPTED PRIVATE KEY") => {
            return Err(KeyError::WrongKind {
                path: path.to_owned(),
                found: "this is a protected secret key".into(),
                hint: "give the public key file (NAME.pub) instead",
            });
        }
        _ => {
            return Err(KeyError::WrongKind {
                path: path.to_owned(),
                found: "no Ed25519 PEM key found".into(),
                hint: "give a .pub or .key file made by `custody key generate`",
            });
        }
    };
    if key.is_weak() {
        return Err(KeyError::WeakKey);
    }
    Ok(key)
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
    let key = VerifyingKey::from_bytes(public).map_err(|_| SignatureError::BadKey)?;
    if key.to_edwards().compress().to_bytes() != *public {
        return Err(SignatureError::BadKey);
    }
    if key.is_weak() {
        return Err(SignatureError::WeakKey);
    }
    Ok(())
}

/// Strict Ed25519 verification: canonical S, no small-order A or R, no weak keys.
pub fn verify_strict(
    public: &[u8; 32],
    message: &[u8],
    signature: &[u8; 64],
) -> Result<(), SignatureError> {
    // One key, one encoding: a non-canonical point encoding would give a second key ID.
    check_public(public)?;
    let key = VerifyingKey::from_bytes(public).map_err(|_| SignatureError::BadKey)?;
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
    check_public(public)?;
    let key = VerifyingKey::from_bytes(public).map_err(|_| SignatureError::BadKey)?;
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

    /// A protected key's PEM with its scrypt parameters changed, as a crafted file would be.
    fn with_scrypt(pem: &str, n: u64, r: u16, p: u16) -> String {
        use pkcs8::der::{Decode, EncodePem};
        use pkcs8::pkcs5::{EncryptionScheme, pbes2::Kdf};
        let (_, der) = pkcs8::der::pem::decode_vec(pem.as_bytes()).unwrap();
        let mut info = pkcs8::EncryptedPrivateKeyInfoOwned::from_der(&der).unwrap();
        let EncryptionScheme::Pbes2(params) = &mut info.encryption_algorithm else {
            panic!("custody writes PBES2")
        };
        let Kdf::Scrypt(s) = &mut params.kdf else {
            panic!("custody writes scrypt")
        };
        s.cost_parameter = n;
        s.block_size = r;
        s.parallelization = p;
        info.to_pem(LineEnding::LF).unwrap()
    }

    #[test]
    fn costly_or_invalid_key_derivations_are_refused_before_any_work() {
        let pem = encrypted_secret_pem(&SigningKey::from_bytes(&[3; 32]), b"pass").unwrap();
        let path = Path::new("k.key");
        assert!(check_kdf_cost(path, &pem).is_ok(), "custody's own settings");
        for (n, r, p, ok) in [
            (1 << 14, 8, 1, true),
            (1 << 17, 8, 2, true),  // 256 MiB of work: the limit
            (1 << 17, 8, 3, false), // just over it
            (1 << 21, 8, 1, false), // 2 GiB of memory
            (1 << 63, u16::MAX, u16::MAX, false),
            (0, 8, 1, false), // would crash the scrypt parameter conversion
            (1, 8, 1, false),
            (3 << 10, 8, 1, false), // not a power of two
            (1 << 14, 0, 1, false),
            (1 << 14, 8, 0, false),
        ] {
            let crafted = with_scrypt(&pem, n, r, p);
            let got = check_kdf_cost(path, &crafted);
            assert_eq!(got.is_ok(), ok, "N = {n}, r = {r}, p = {p}: {got:?}");
            if !ok {
                // And loading refuses it before asking for the passphrase.
                let dir = tempfile::tempdir().unwrap();
                let file = dir.path().join("k.key");
                std::fs::write(&file, &crafted).unwrap();
                #[cfg(unix)]
                {
                    use std::os::unix::fs::PermissionsExt;
                    std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o600))
                        .unwrap();
                }
                let asked = std::cell::Cell::new(false);
                let loaded = load_secret_with(&file, || {
                    asked.set(true);
                    Ok(Zeroizing::new(b"pass".to_vec()))
                });
                assert!(loaded.is_err() && !asked.get(), "N = {n}, r = {r}, p = {p}");
            }
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
    fn secret_pem_is_pkcs8_v1_and_round_trips() {
        let key = SigningKey::from_bytes(&[7u8; 32]);
        let pem = secret_pem(&key);
        let back = SigningKey::from_pkcs8_pem(&pem).unwrap();
        assert_eq!(back.to_bytes(), key.to_bytes());
        // v1 of an Ed25519 key is exactly 48 DER bytes: no embedded public key.
        let der = KeypairBytes::from_pkcs8_pem(&pem).unwrap();
        assert!(der.public_key.is_none());
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
