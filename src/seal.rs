//! Sealed content (issue 13, in progress; SPEC.md will give its section): text and media a field device keeps but cannot read
//! back. Each item is encrypted in the age format (age-encryption.org/v1) to a fresh X25519
//! *item key* made for it alone; the item key is then encrypted, again as an age file, to
//! every recipient of the ledger (headquarters' `age1…` keys). The two files are kept
//! apart: ciphertexts can be backed up and mirrored without any key, and destroying an
//! item's wrapped key makes every copy of its ciphertext unreadable for everyone.
//!
//! Both files are standard age files: `age -d -i hq.identity wrapped.age` gives the item
//! key, and `age -d -i item.key content.age` the item, with any age implementation.

use crate::error::{Error, Result};
use age::secrecy::{ExposeSecret, SecretString};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use zeroize::Zeroizing;

/// The scrypt work factor (log2 N) of a protected identity file: 2^18 × 8 × 128 bytes =
/// 256 MiB, as age's other implementations use; a file asking for more is refused before
/// any work, as protected secret keys are.
const SCRYPT_LOG_N: u8 = 18;

/// A recipient: an age X25519 public key (`age1…`), never one of small order (nothing can
/// be sealed to it: every shared secret would be zero).
pub fn parse_recipient(s: &str) -> Result<age::x25519::Recipient> {
    if s.to_ascii_uppercase().contains("AGE-SECRET-KEY-") {
        return Err(Error::Input(
            "that is an identity (a secret key), not a recipient: give the age1… recipient (NAME.recipient), and keep the identity at headquarters".into(),
        ));
    }
    let shown = || {
        let t: String = s
            .trim()
            .lines()
            .next()
            .unwrap_or("")
            .chars()
            .take(70)
            .collect();
        crate::encoding::terminal_safe(&t, false).into_owned()
    };
    let r: age::x25519::Recipient = s.trim().parse().map_err(|e| {
        Error::Input(format!(
            "'{}' is not an age X25519 recipient (age1…): {e}",
            shown()
        ))
    })?;
    let key = decode_bech32(s.trim())
        .ok_or_else(|| Error::Input(format!("'{}' is not an age X25519 recipient", shown())))?;
    // A clamped scalar is a multiple of the cofactor 8: the product is the identity exactly
    // when the point has small order.
    let product = curve25519_dalek::montgomery::MontgomeryPoint(key).mul_clamped([0x55; 32]);
    if product.to_bytes() == [0; 32] {
        return Err(Error::Input(format!(
            "'{}' is a point of small order, to which nothing can be sealed; give a recipient made by `custody key generate-recipient` or age-keygen",
            shown()
        )));
    }
    Ok(r)
}

fn decode_bech32(s: &str) -> Option<[u8; 32]> {
    use bech32::FromBase32;
    let (_, data, _) = bech32::decode(s).ok()?;
    Vec::<u8>::from_base32(&data).ok()?.try_into().ok()
}

/// The `age1…` string of an X25519 public key (bech32, as age writes it).
pub fn recipient_string(key: &[u8; 32]) -> String {
    use bech32::ToBase32;
    // The human-readable part is a fixed valid one: encoding cannot fail.
    bech32::encode("age", key.to_base32(), bech32::Variant::Bech32)
        .unwrap_or_else(|_| hex::encode(key))
}

/// The X25519 public key of an `age1…` recipient.
pub fn recipient_bytes(s: &str) -> Result<[u8; 32]> {
    parse_recipient(s)?;
    decode_bech32(s.trim())
        .ok_or_else(|| Error::Input(format!("'{}' is not an age X25519 recipient", s.trim())))
}

/// The X25519 public key of an identity.
pub fn identity_key(identity: &age::x25519::Identity) -> [u8; 32] {
    recipient_bytes(&identity.to_public().to_string()).unwrap_or([0; 32])
}

/// The age recipient of an X25519 public key.
pub fn recipient_of(key: &[u8; 32]) -> Result<age::x25519::Recipient> {
    parse_recipient(&recipient_string(key))
}

/// Checks the recipients a seal-to statement would name before it is signed: 1 to 16,
/// none twice, each a key age can seal to.
pub fn check_recipients(recipients: &[[u8; 32]]) -> Result<()> {
    let max = crate::record::MAX_RECIPIENTS;
    if recipients.is_empty() || recipients.len() > max {
        return Err(Error::Input(format!(
            "{} recipients; a ledger names 1 to {max}",
            recipients.len()
        )));
    }
    for (i, k) in recipients.iter().enumerate() {
        if recipients[..i].contains(k) {
            return Err(Error::Input(format!(
                "recipient {} is given twice",
                recipient_string(k)
            )));
        }
        seal(b"", &[recipient_of(k)?]).map_err(|e| {
            Error::Input(format!(
                "recipient {} cannot be sealed to ({e}); give an age X25519 recipient made by `custody key generate-recipient` or age-keygen",
                recipient_string(k)
            ))
        })?;
    }
    Ok(())
}

/// The paths `DIR/NAME.identity` and `DIR/NAME.recipient`.
pub fn identity_paths(dir: &Path, name: &str) -> (PathBuf, PathBuf) {
    (
        dir.join(format!("{name}.identity")),
        dir.join(format!("{name}.recipient")),
    )
}

/// Makes a content recipient: `DIR/NAME.identity` (mode 0600), an age identity file, or,
/// with a passphrase, that file encrypted with it as age does (`age -p`), and
/// `DIR/NAME.recipient`, its `age1…` line. Returns the recipient.
pub fn generate_recipient(
    dir: &Path,
    name: &str,
    passphrase: Option<&[u8]>,
    created: &str,
) -> Result<String> {
    let (identity_path, recipient_path) = identity_paths(dir, name);
    for p in [&identity_path, &recipient_path] {
        if p.symlink_metadata().is_ok() {
            return Err(Error::Input(format!(
                "{} already exists; choose another name or directory",
                p.display()
            )));
        }
    }
    let identity = age::x25519::Identity::generate();
    let recipient = identity.to_public().to_string();
    let text = Zeroizing::new(format!(
        "# created: {created}\n# public key: {recipient}\n{}\n",
        identity.to_string().expose_secret()
    ));
    let file: Zeroizing<Vec<u8>> = match passphrase {
        None => Zeroizing::new(text.as_bytes().to_vec()),
        Some(p) => {
            let p = std::str::from_utf8(p)
                .map_err(|_| Error::Input("the passphrase is not UTF-8 text".into()))?;
            let mut r = age::scrypt::Recipient::new(SecretString::from(p.to_owned()));
            r.set_work_factor(SCRYPT_LOG_N);
            let enc = age::Encryptor::with_recipients(std::iter::once(&r as &dyn age::Recipient))
                .map_err(|e| Error::Write(format!("sealing: {e}")))?;
            Zeroizing::new(encrypt_with(enc, text.as_bytes())?)
        }
    };
    crate::keys::write_new_file(&identity_path, &file, 0o600)
        .map_err(|e| Error::Write(e.to_string()))?;
    if let Err(e) =
        crate::keys::write_new_file(&recipient_path, format!("{recipient}\n").as_bytes(), 0o644)
    {
        // Both files or neither.
        let _ = std::fs::remove_file(&identity_path);
        return Err(Error::Write(e.to_string()));
    }
    Ok(recipient)
}

/// Whether an identity file is passphrase-protected (an age file, not the identity text).
pub fn identity_is_protected(path: &Path) -> Result<bool> {
    Ok(read_identity_file(path)?.starts_with(b"age-encryption.org/"))
}

/// An identity file's bytes: a regular file (never a link followed) that only its owner
/// can read, as for secret keys.
fn read_identity_file(path: &Path) -> Result<Zeroizing<Vec<u8>>> {
    let (bytes, mode) =
        crate::keys::read_key_bytes(path).map_err(|e| Error::Input(e.to_string()))?;
    if mode & 0o077 != 0 {
        return Err(Error::Input(format!(
            "{} can be read by others (mode {mode:03o}); an identity opens every sealed testimony: chmod 600 it",
            path.display()
        )));
    }
    Ok(bytes)
}

/// Reads an identity file made by [`generate_recipient`] (or by `age-keygen`, or one
/// protected with `age -p`), with `passphrase` when it is protected.
pub fn load_identity(path: &Path, passphrase: Option<&[u8]>) -> Result<age::x25519::Identity> {
    let bytes = read_identity_file(path)?;
    let text: Zeroizing<Vec<u8>> = if bytes.starts_with(b"age-encryption.org/") {
        let p = passphrase.ok_or_else(|| {
            Error::Input(format!(
                "{} is protected by a passphrase; give it with --passphrase-file or on the terminal",
                path.display()
            ))
        })?;
        let p = std::str::from_utf8(p)
            .map_err(|_| Error::Input("the passphrase is not UTF-8 text".into()))?;
        let mut identity = age::scrypt::Identity::new(SecretString::from(p.to_owned()));
        identity.set_max_work_factor(SCRYPT_LOG_N);
        decrypt_with(&bytes, &identity).map_err(|e| {
            if e.to_lowercase().contains("work") {
                return Error::Input(format!(
                    "{}: the identity asks for more scrypt work than custody allows (2^{SCRYPT_LOG_N}): {e}",
                    path.display()
                ));
            }
            Error::Input(format!(
                "{}: wrong passphrase (or not an identity file)",
                path.display()
            ))
        })?
    } else {
        bytes
    };
    let text = std::str::from_utf8(&text)
        .map_err(|_| Error::Input(format!("{} is not an age identity file", path.display())))?;
    let mut found = text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'));
    match (found.next(), found.next()) {
        (Some(line), None) => line.parse().map_err(|_| {
            Error::Input(format!(
                "{} does not hold an age X25519 identity (AGE-SECRET-KEY-1…)",
                path.display()
            ))
        }),
        _ => Err(Error::Input(format!(
            "{} must hold exactly one age X25519 identity",
            path.display()
        ))),
    }
}

fn encrypt_with(enc: age::Encryptor, plain: &[u8]) -> Result<Vec<u8>> {
    let mut out = Vec::with_capacity(plain.len() + 256);
    let mut w = enc
        .wrap_output(&mut out)
        .map_err(|e| Error::Write(format!("sealing: {e}")))?;
    w.write_all(plain)
        .and_then(|()| w.finish().map(|_| ()))
        .map_err(|e| Error::Write(format!("sealing: {e}")))?;
    Ok(out)
}

fn decrypt_with(
    ciphertext: &[u8],
    identity: &dyn age::Identity,
) -> std::result::Result<Zeroizing<Vec<u8>>, String> {
    let d = age::Decryptor::new_buffered(ciphertext).map_err(|e| e.to_string())?;
    let mut r = d
        .decrypt(std::iter::once(identity))
        .map_err(|e| e.to_string())?;
    // The plaintext is never longer than the ciphertext: one buffer, never moved (a moved
    // one would leave a copy of the secret behind, unwiped).
    let mut out = Zeroizing::new(Vec::with_capacity(ciphertext.len()));
    r.read_to_end(&mut out).map_err(|e| e.to_string())?;
    Ok(out)
}

/// An item sealed: its ciphertext (to the item key) and its wrapped item key (to the
/// recipients).
pub struct Sealed {
    /// The age file of the item, encrypted to its item key.
    pub ciphertext: Vec<u8>,
    /// The age file of the item key, encrypted to every recipient.
    pub wrapped_key: Vec<u8>,
}

/// A fresh item key: the encryptor of an item to it, and the key itself wrapped to the
/// recipients. The item key lives only in memory, and is wiped when it is dropped.
fn new_item(recipients: &[age::x25519::Recipient]) -> Result<(age::Encryptor, Vec<u8>)> {
    if recipients.is_empty() {
        return Err(Error::Input("no content recipient to seal to".into()));
    }
    let item = age::x25519::Identity::generate();
    let to_item =
        age::Encryptor::with_recipients(std::iter::once(&item.to_public() as &dyn age::Recipient))
            .map_err(|e| Error::Write(format!("sealing: {e}")))?;
    let item_key = Zeroizing::new(format!("{}\n", item.to_string().expose_secret()));
    let to_recipients =
        age::Encryptor::with_recipients(recipients.iter().map(|r| r as &dyn age::Recipient))
            .map_err(|e| Error::Write(format!("sealing: {e}")))?;
    let wrapped_key = encrypt_with(to_recipients, item_key.as_bytes())?;
    Ok((to_item, wrapped_key))
}

/// The item key of `wrapped_key`, opened with `identity`, wrapped anew to `recipients`
/// (the ciphertext it opens is unchanged). The key lives only in memory, wiped after.
pub fn rewrap(
    wrapped_key: &[u8],
    identity: &age::x25519::Identity,
    recipients: &[age::x25519::Recipient],
) -> Result<Vec<u8>> {
    if recipients.is_empty() {
        return Err(Error::Input("no content recipient to seal to".into()));
    }
    let key = decrypt_with(wrapped_key, identity).map_err(|e| {
        Error::Input(format!(
            "the item key does not open with this identity ({e})"
        ))
    })?;
    let to = age::Encryptor::with_recipients(recipients.iter().map(|r| r as &dyn age::Recipient))
        .map_err(|e| Error::Write(format!("sealing: {e}")))?;
    encrypt_with(to, &key)
}

/// Seals `plain` to `recipients`: a fresh item key encrypts it, and is itself encrypted to
/// the recipients.
pub fn seal(plain: &[u8], recipients: &[age::x25519::Recipient]) -> Result<Sealed> {
    let (to_item, wrapped_key) = new_item(recipients)?;
    Ok(Sealed {
        ciphertext: encrypt_with(to_item, plain)?,
        wrapped_key,
    })
}

/// Seals what `input` yields to `recipients` as a stream (flat memory), writing the
/// ciphertext to `out`; `progress` gets the bytes read so far. Returns the wrapped item key
/// and the SHA-256 and length of what was sealed.
pub fn seal_stream(
    input: &mut dyn Read,
    out: &mut dyn Write,
    recipients: &[age::x25519::Recipient],
    progress: &mut dyn FnMut(u64),
) -> Result<(Vec<u8>, crate::Hash, u64)> {
    let (to_item, wrapped_key) = new_item(recipients)?;
    let failed = |e: std::io::Error| Error::Write(format!("sealing: {e}"));
    let mut w = to_item.wrap_output(out).map_err(failed)?;
    let (sha, total) = pump(input, &mut w, progress).map_err(|e| match e {
        Pumped::Read(e) => Error::Input(format!("reading what is sealed: {e}")),
        Pumped::Write(e) => failed(e),
    })?;
    w.finish().map_err(failed)?;
    Ok((wrapped_key, sha, total))
}

/// Where copying a stream failed.
enum Pumped {
    Read(std::io::Error),
    Write(std::io::Error),
}

/// Copies `input` into `out` in 64 KiB steps (the buffer wiped after), hashing what
/// passes; `progress` gets the bytes copied so far. Returns the SHA-256 and the length.
fn pump(
    input: &mut dyn Read,
    out: &mut dyn Write,
    progress: &mut dyn FnMut(u64),
) -> std::result::Result<(crate::Hash, u64), Pumped> {
    use sha2::Digest;
    let mut hasher = sha2::Sha256::new();
    let mut buf = Zeroizing::new(vec![0u8; 1 << 16]);
    let mut total = 0u64;
    loop {
        let n = match input.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(Pumped::Read(e)),
        };
        hasher.update(&buf[..n]);
        out.write_all(&buf[..n]).map_err(Pumped::Write)?;
        total += n as u64;
        progress(total);
    }
    Ok((hasher.finalize().into(), total))
}

/// Opens a sealed item as a stream into `out` (flat memory): the item key from its wrapped
/// key, then the item. Returns the SHA-256 and length of what was written; `Err` says which
/// step failed. What reached `out` before a failure is not authenticated.
pub fn open_stream(
    ciphertext: &mut dyn Read,
    wrapped_key: &[u8],
    identity: &age::x25519::Identity,
    out: &mut dyn Write,
    progress: &mut dyn FnMut(u64),
) -> std::result::Result<(crate::Hash, u64), String> {
    let item = item_key(wrapped_key, identity)?;
    let d = age::Decryptor::new(std::io::BufReader::new(ciphertext))
        .map_err(|e| format!("the sealed item is not an age file ({e})"))?;
    let mut r = d
        .decrypt(std::iter::once(&item as &dyn age::Identity))
        .map_err(|e| format!("the item does not open with its item key ({e})"))?;
    pump(&mut r, out, progress).map_err(|e| match e {
        Pumped::Read(e) => format!("the sealed item is damaged ({e})"),
        Pumped::Write(e) => format!("writing: {e}"),
    })
}

fn item_key(
    wrapped_key: &[u8],
    identity: &age::x25519::Identity,
) -> std::result::Result<age::x25519::Identity, String> {
    let item_key = decrypt_with(wrapped_key, identity)
        .map_err(|e| format!("the item key does not open with this identity ({e})"))?;
    std::str::from_utf8(&item_key)
        .ok()
        .and_then(|s| s.trim().parse().ok())
        .ok_or_else(|| "the wrapped item key is not an age identity".into())
}

/// The length of an age file's payload for `plain_len` bytes of plaintext: a 16-byte nonce,
/// then chunks of up to 64 KiB, each with a 16-byte tag (one chunk when empty).
pub fn payload_len(plain_len: u64) -> Option<u64> {
    let chunks = plain_len.div_ceil(1 << 16).max(1);
    16u64
        .checked_add(plain_len)?
        .checked_add(chunks.checked_mul(16)?)
}

/// The length of a wrapped item key's plaintext (`AGE-SECRET-KEY-1…` and a newline).
pub const ITEM_KEY_LEN: u64 = 75;

/// What can be checked of a sealed file without any key: an age v1 header whose stanzas
/// are all X25519 (at least one), and a payload of exactly the length `plain_len` bytes
/// encrypt to. Returns the number of stanzas (recipients).
pub fn check_shape(
    file: &mut dyn Read,
    file_len: u64,
    plain_len: u64,
) -> std::result::Result<usize, String> {
    // A header is small: the version line, a stanza per recipient, the MAC line.
    let mut head = Vec::with_capacity(4096);
    file.take(16 * 1024)
        .read_to_end(&mut head)
        .map_err(|e| e.to_string())?;
    let text_end = head
        .windows(4)
        .position(|w| w == b"\n---")
        .ok_or("no age header (its MAC line is missing)")?;
    let header_len = head[text_end + 1..]
        .iter()
        .position(|b| *b == b'\n')
        .map(|p| text_end + 1 + p + 1)
        .ok_or("the age header is cut short")? as u64;
    let text = std::str::from_utf8(&head[..text_end]).map_err(|_| "the age header is not text")?;
    let mut lines = text.lines();
    if lines.next() != Some("age-encryption.org/v1") {
        return Err("not an age v1 file".into());
    }
    let mut stanzas = 0;
    for l in lines.filter(|l| l.starts_with("-> ")) {
        let mut args = l[3..].split(' ');
        match args.next() {
            Some("X25519") if args.count() == 1 => stanzas += 1,
            // age adds a random "grease" stanza that every implementation skips.
            Some(t) if t.ends_with("-grease") => {}
            _ => return Err(format!("an age stanza of another kind ({l})")),
        }
    }
    if stanzas == 0 {
        return Err("the age header has no X25519 recipient".into());
    }
    let expected = payload_len(plain_len)
        .and_then(|p| p.checked_add(header_len))
        .ok_or_else(|| format!("{plain_len} bytes is not a length anything was sealed with"))?;
    if file_len != expected {
        return Err(format!(
            "it is {file_len} bytes, but {plain_len} bytes sealed make {expected}"
        ));
    }
    Ok(stanzas)
}

/// Opens a sealed item with a recipient's identity: the item key from its wrapped key,
/// then the item. `Err` says which of the two failed.
pub fn open(
    ciphertext: &[u8],
    wrapped_key: &[u8],
    identity: &age::x25519::Identity,
) -> std::result::Result<Zeroizing<Vec<u8>>, String> {
    let item = item_key(wrapped_key, identity)?;
    decrypt_with(ciphertext, &item)
        .map_err(|e| format!("the item does not open with its item key ({e})"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use sha2::Digest;

    #[test]
    fn an_item_opens_with_any_recipient_and_no_other_key() {
        let hq = age::x25519::Identity::generate();
        let backup = age::x25519::Identity::generate();
        let stranger = age::x25519::Identity::generate();
        let s = seal(b"testimony", &[hq.to_public(), backup.to_public()]).unwrap();
        assert_eq!(
            &*open(&s.ciphertext, &s.wrapped_key, &hq).unwrap(),
            b"testimony"
        );
        assert_eq!(
            &*open(&s.ciphertext, &s.wrapped_key, &backup).unwrap(),
            b"testimony"
        );
        assert!(open(&s.ciphertext, &s.wrapped_key, &stranger).is_err());
        // Another item's wrapped key does not open this item.
        let other = seal(b"other", &[hq.to_public()]).unwrap();
        assert!(open(&s.ciphertext, &other.wrapped_key, &hq).is_err());
        // Neither file holds the text.
        assert!(!s.ciphertext.windows(9).any(|w| w == b"testimony"));
        assert!(seal(b"x", &[]).is_err());
    }

    #[test]
    fn sizes_and_headers_are_checked_without_a_key_at_every_chunk_boundary() {
        let hq = age::x25519::Identity::generate();
        for len in [0usize, 1, 65_535, 65_536, 65_537, 131_072, 200_000] {
            let plain: Vec<u8> = (0..len).map(|i| (i % 251) as u8).collect();
            let mut out = Vec::new();
            let (wrapped, sha, n) = seal_stream(
                &mut plain.as_slice(),
                &mut out,
                &[hq.to_public()],
                &mut |_| {},
            )
            .unwrap();
            assert_eq!(n, len as u64);
            assert_eq!(sha, <[u8; 32]>::from(sha2::Sha256::digest(&plain)));
            let shape = |b: &[u8], l: u64| check_shape(&mut &b[..], b.len() as u64, l);
            assert_eq!(shape(&out, len as u64), Ok(1), "{len}");
            assert_eq!(shape(&wrapped, ITEM_KEY_LEN), Ok(1), "{len}");
            assert!(shape(&out, len as u64 + 1).is_err(), "{len}");
            assert!(shape(&out[..out.len() - 1], len as u64).is_err(), "{len}");
            let mut back = Vec::new();
            let (sha2, n2) =
                open_stream(&mut out.as_slice(), &wrapped, &hq, &mut back, &mut |_| {}).unwrap();
            assert_eq!((sha2, n2), (sha, len as u64));
            assert_eq!(back, plain);
        }
        // Not age, or a passphrase stanza: refused.
        assert!(check_shape(&mut &b"hello"[..], 5, 0).is_err());
        let fake = b"age-encryption.org/v1\n-> scrypt abc 18\nxyz\n--- mac\n";
        assert!(check_shape(&mut &fake[..], fake.len() as u64 + 32, 0).is_err());
    }

    #[test]
    fn identity_files_load_plain_or_protected() {
        let dir = tempfile::tempdir().unwrap();
        let r = generate_recipient(dir.path(), "hq", None, "2026-11-30").unwrap();
        let id = load_identity(&dir.path().join("hq.identity"), None).unwrap();
        assert_eq!(id.to_public().to_string(), r);
        assert_eq!(parse_recipient(&r).unwrap().to_string(), r);
        let r2 = generate_recipient(dir.path(), "hq2", Some(b"correct horse"), "x").unwrap();
        let path = dir.path().join("hq2.identity");
        assert!(identity_is_protected(&path).unwrap());
        assert!(load_identity(&path, None).is_err());
        assert!(load_identity(&path, Some(b"wrong")).is_err());
        let id2 = load_identity(&path, Some(b"correct horse")).unwrap();
        assert_eq!(id2.to_public().to_string(), r2);
        assert!(generate_recipient(dir.path(), "hq", None, "x").is_err());
        assert!(parse_recipient("age1notarecipient").is_err());
    }
}
