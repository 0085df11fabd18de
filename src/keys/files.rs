//! Key files. Secret keys are PKCS#8 v1 PEM (the form OpenSSL 3 and Python's
//! `cryptography` read), created with `create_new` and mode 0600 in one step, refused when a
//! group or others could read them (as OpenSSH does), and opened without following links.
//! Public keys are SPKI PEM.

use super::*;

use ed25519_dalek::pkcs8::spki::der::pem::LineEnding;
use ed25519_dalek::pkcs8::spki::{DecodePublicKey, EncodePublicKey};
use ed25519_dalek::pkcs8::{DecodePrivateKey, EncodePrivateKey, KeypairBytes};
use ed25519_dalek::{SigningKey, VerifyingKey};
use std::fs::OpenOptions;
use std::io::Write;
use std::path::{Path, PathBuf};
use zeroize::Zeroizing;

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> KeyError + '_ {
    move |cause| KeyError::Io {
        path: path.to_owned(),
        cause,
    }
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
    let (bytes, mode) = read_key_bytes(path)?;
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

/// The bytes of a key file (at most 64 KiB) and its permission bits, read as
/// [`read_regular`] says: a regular file, never a link followed or a FIFO waited on.
pub fn read_key_bytes(path: &Path) -> Result<(Zeroizing<Vec<u8>>, u32), KeyError> {
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
    Ok((bytes, mode))
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

#[cfg(test)]
mod tests {
    use super::*;
    use ed25519_dalek::pkcs8::spki::der::pem::LineEnding;

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
    fn secret_pem_is_pkcs8_v1_and_round_trips() {
        let key = SigningKey::from_bytes(&[7u8; 32]);
        let pem = secret_pem(&key);
        let back = SigningKey::from_pkcs8_pem(&pem).unwrap();
        assert_eq!(back.to_bytes(), key.to_bytes());
        // v1 of an Ed25519 key is exactly 48 DER bytes: no embedded public key.
        let der = KeypairBytes::from_pkcs8_pem(&pem).unwrap();
        assert!(der.public_key.is_none());
    }
}
