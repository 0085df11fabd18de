//! C2SP signed notes with Ed25519 (c2sp.org/signed-note), and Ed25519 cosignatures
//! (c2sp.org/tlog-cosignature, `cosignature/v1`).
//!
//! A note is text ending in a newline, a blank line, then signature lines
//! `— NAME base64(key ID || signature)`. [`open_note`] parses and verifies in one call, so
//! an unverified note is never in hand. Key ID = SHA-256(name || 0x0A || type || key)[:4],
//! with type 0x01 for a note signature and 0x04 for a cosignature, whose signature is
//! `u64 timestamp || Ed25519 signature` over `cosignature/v1\ntime T\n` and the note text.

use crate::keys::{self, SignatureError};
use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use ed25519_dalek::SigningKey;
use sha2::{Digest, Sha256};
use thiserror::Error;

/// Largest note accepted, in bytes.
pub const MAX_NOTE: usize = 64 * 1024;
/// Most signature lines accepted (the spec asks for at least 16).
pub const MAX_SIGNATURES: usize = 100;
const SIG_PREFIX: &str = "\u{2014} ";

/// Why a note was refused.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum NoteError {
    /// The note is not well-formed.
    #[error("malformed signed note: {0}")]
    Malformed(String),
    /// No signature line by the expected key.
    #[error("note is not signed by {name}+{key_id}")]
    NotSigned {
        /// Expected key name.
        name: String,
        /// Expected key ID (hex).
        key_id: String,
    },
    /// A signature by the expected key failed.
    #[error("signature by {name}+{key_id} does not verify: {reason}")]
    BadSignature {
        /// Key name.
        name: String,
        /// Key ID (hex).
        key_id: String,
        /// Why.
        reason: SignatureError,
    },
}

/// One signature line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NoteSignature {
    /// Key name.
    pub name: String,
    /// Key ID.
    pub key_id: [u8; 4],
    /// The signature bytes after the key ID.
    pub signature: Vec<u8>,
}

/// A parsed (not yet verified) note.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Parsed {
    text: String,
    signatures: Vec<NoteSignature>,
}

/// The signature type of an Ed25519 note signature.
pub const TYPE_ED25519: u8 = 0x01;
/// The signature type of an Ed25519 `cosignature/v1` (c2sp.org/tlog-cosignature).
pub const TYPE_COSIGNATURE_V1: u8 = 0x04;

/// C2SP key ID for an Ed25519 key under a name.
pub fn key_id(name: &str, public: &[u8; 32]) -> [u8; 4] {
    typed_key_id(name, TYPE_ED25519, public)
}

/// C2SP key ID of an Ed25519 key of signature type `kind` under a name.
pub fn typed_key_id(name: &str, kind: u8, public: &[u8; 32]) -> [u8; 4] {
    let mut h = Sha256::new();
    h.update(name.as_bytes());
    h.update([0x0a, kind]);
    h.update(public);
    let d = h.finalize();
    [d[0], d[1], d[2], d[3]]
}

/// The verifier key string `name+hexid+base64(0x01 || key)` that note tools take.
pub fn verifier_key(name: &str, public: &[u8; 32]) -> String {
    typed_verifier_key(name, TYPE_ED25519, public)
}

/// The verifier key string `name+hexid+base64(type || key)` of a key of signature type
/// `kind` (0x04 for a witness's cosignatures).
pub fn typed_verifier_key(name: &str, kind: u8, public: &[u8; 32]) -> String {
    let mut k = vec![kind];
    k.extend_from_slice(public);
    format!(
        "{name}+{}+{}",
        hex::encode(typed_key_id(name, kind, public)),
        B64.encode(k)
    )
}

/// Reads a verifier key `name+hexid+base64(type || key)` of an Ed25519 type, strictly: the
/// key ID must be the one its name, type and key give. Returns (name, type, key).
pub fn parse_verifier_key(vkey: &str) -> Result<(String, u8, [u8; 32]), NoteError> {
    let bad = |why: &str| NoteError::Malformed(format!("verifier key '{vkey}': {why}"));
    let mut parts = vkey.trim().splitn(3, '+');
    let (Some(name), Some(id), Some(b64)) = (parts.next(), parts.next(), parts.next()) else {
        return Err(bad("not NAME+KEYID+KEY"));
    };
    check_name(name)?;
    let raw = B64.decode(b64).map_err(|_| bad("the key is not base64"))?;
    let Some((&kind, key)) = raw.split_first() else {
        return Err(bad("no key"));
    };
    if kind != TYPE_ED25519 && kind != TYPE_COSIGNATURE_V1 {
        return Err(bad(&format!(
            "signature type 0x{kind:02x} is not Ed25519 (0x01) or an Ed25519 cosignature (0x04)"
        )));
    }
    let key: [u8; 32] = key.try_into().map_err(|_| bad("the key is not 32 bytes"))?;
    if id != hex::encode(typed_key_id(name, kind, &key)) {
        return Err(bad("its key ID is not the one its name and key give"));
    }
    Ok((name.to_owned(), kind, key))
}

/// The message a `cosignature/v1` signs: the header and time lines, then the note text.
fn cosigned_message(text: &str, timestamp: u64) -> String {
    format!("cosignature/v1\ntime {timestamp}\n{text}")
}

/// Cosigns a note's text (a checkpoint body, ending in a newline) as `name` at
/// `timestamp` (seconds since 1970): the signature line `— NAME base64(key ID ||
/// timestamp || signature)`, with its newline.
pub fn cosign(
    text: &str,
    name: &str,
    key: &SigningKey,
    timestamp: u64,
) -> Result<String, NoteError> {
    check_name(name)?;
    check_chars(text)?;
    if !text.ends_with('\n') || timestamp > i64::MAX as u64 {
        return Err(NoteError::Malformed(
            "a cosigned text ends with a newline, and its time is below 2^63".into(),
        ));
    }
    let public = key.verifying_key().to_bytes();
    let mut sig = typed_key_id(name, TYPE_COSIGNATURE_V1, &public).to_vec();
    sig.extend_from_slice(&timestamp.to_be_bytes());
    sig.extend_from_slice(&keys::sign(
        key,
        cosigned_message(text, timestamp).as_bytes(),
    ));
    Ok(format!("{SIG_PREFIX}{name} {}\n", B64.encode(sig)))
}

/// Parses a signed note and verifies the `cosignature/v1` by `name` and `public`; returns
/// the note text and the cosignature's time. Other signatures are ignored.
pub fn open_cosignature(
    note: &str,
    name: &str,
    public: &[u8; 32],
) -> Result<(String, u64), NoteError> {
    let parsed = parse(note)?;
    let id = typed_key_id(name, TYPE_COSIGNATURE_V1, public);
    let bad = |reason| NoteError::BadSignature {
        name: name.to_owned(),
        key_id: hex::encode(id),
        reason,
    };
    let mut time = None;
    for s in parsed
        .signatures
        .iter()
        .filter(|s| s.name == name && s.key_id == id)
    {
        let (ts, sig) = s
            .signature
            .split_first_chunk::<8>()
            .ok_or(bad(SignatureError::Invalid))?;
        let ts = u64::from_be_bytes(*ts);
        let sig: [u8; 64] = sig.try_into().map_err(|_| bad(SignatureError::Invalid))?;
        if ts > i64::MAX as u64 {
            return Err(bad(SignatureError::Invalid));
        }
        keys::verify_strict(public, cosigned_message(&parsed.text, ts).as_bytes(), &sig)
            .map_err(bad)?;
        time = Some(ts);
    }
    match time {
        Some(ts) => Ok((parsed.text, ts)),
        None => Err(NoteError::NotSigned {
            name: name.to_owned(),
            key_id: hex::encode(id),
        }),
    }
}

fn check_name(name: &str) -> Result<(), NoteError> {
    if name.is_empty() || name.chars().any(|c| c.is_whitespace() || c == '+') {
        return Err(NoteError::Malformed(format!(
            "key name '{name}' is empty or has spaces or '+'"
        )));
    }
    Ok(())
}

fn check_chars(s: &str) -> Result<(), NoteError> {
    if let Some(c) = s.chars().find(|&c| c.is_control() && c != '\n') {
        return Err(NoteError::Malformed(format!(
            "control character U+{:04X}",
            c as u32
        )));
    }
    Ok(())
}

/// Signs `text` (which must end in a newline) and returns the whole signed note.
pub fn sign_note(text: &str, name: &str, key: &SigningKey) -> Result<String, NoteError> {
    check_name(name)?;
    check_chars(text)?;
    if !text.ends_with('\n') {
        return Err(NoteError::Malformed("text must end with a newline".into()));
    }
    let public = key.verifying_key().to_bytes();
    let mut sig = key_id(name, &public).to_vec();
    sig.extend_from_slice(&keys::sign(key, text.as_bytes()));
    Ok(format!("{text}\n{SIG_PREFIX}{name} {}\n", B64.encode(sig)))
}

fn parse(note: &str) -> Result<Parsed, NoteError> {
    if note.len() > MAX_NOTE {
        return Err(NoteError::Malformed(format!(
            "{} bytes, more than {MAX_NOTE}",
            note.len()
        )));
    }
    check_chars(note)?;
    if !note.ends_with('\n') {
        return Err(NoteError::Malformed("does not end with a newline".into()));
    }
    // The text is separated from the signatures by the last empty line.
    let split = note
        .rfind("\n\n")
        .ok_or_else(|| NoteError::Malformed("no blank line before the signatures".into()))?;
    let text = &note[..split + 1];
    let sigs = &note[split + 2..];
    let mut signatures = Vec::new();
    for line in sigs.lines() {
        let rest = line.strip_prefix(SIG_PREFIX).ok_or_else(|| {
            NoteError::Malformed(format!(
                "signature line does not start with an em dash: {line:?}"
            ))
        })?;
        let (name, b64) = rest
            .split_once(' ')
            .ok_or_else(|| NoteError::Malformed("signature line has no space".into()))?;
        check_name(name)?;
        let raw = B64
            .decode(b64)
            .map_err(|e| NoteError::Malformed(format!("signature is not base64: {e}")))?;
        if raw.len() < 5 {
            return Err(NoteError::Malformed("signature too short".into()));
        }
        signatures.push(NoteSignature {
            name: name.to_owned(),
            key_id: [raw[0], raw[1], raw[2], raw[3]],
            signature: raw[4..].to_vec(),
        });
        if signatures.len() > MAX_SIGNATURES {
            return Err(NoteError::Malformed("too many signatures".into()));
        }
    }
    if signatures.is_empty() {
        return Err(NoteError::Malformed("no signature lines".into()));
    }
    Ok(Parsed {
        text: text.to_owned(),
        signatures,
    })
}

/// The signature lines of a note, unverified (none if it does not parse).
pub fn signature_lines(note: &str) -> Vec<NoteSignature> {
    parse(note).map(|p| p.signatures).unwrap_or_default()
}

/// Parses a signed note and verifies the signature by `name` and `public`; returns the
/// note text. Signatures by other keys are ignored, as the spec requires.
pub fn open_note(note: &str, name: &str, public: &[u8; 32]) -> Result<String, NoteError> {
    let parsed = parse(note)?;
    let id = key_id(name, public);
    let mut found = false;
    for s in parsed
        .signatures
        .iter()
        .filter(|s| s.name == name && s.key_id == id)
    {
        found = true;
        let bad = |reason| NoteError::BadSignature {
            name: name.to_owned(),
            key_id: hex::encode(id),
            reason,
        };
        let sig: [u8; 64] = s
            .signature
            .as_slice()
            .try_into()
            .map_err(|_| bad(SignatureError::Invalid))?;
        keys::verify_strict(public, parsed.text.as_bytes(), &sig).map_err(bad)?;
    }
    if !found {
        return Err(NoteError::NotSigned {
            name: name.to_owned(),
            key_id: hex::encode(id),
        });
    }
    Ok(parsed.text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sign_then_open() {
        let key = SigningKey::from_bytes(&[1; 32]);
        let note = sign_note("hello\n", "example.org/a", &key).unwrap();
        let pk = key.verifying_key().to_bytes();
        assert_eq!(open_note(&note, "example.org/a", &pk).unwrap(), "hello\n");
        let other = SigningKey::from_bytes(&[2; 32]).verifying_key().to_bytes();
        assert!(matches!(
            open_note(&note, "example.org/a", &other),
            Err(NoteError::NotSigned { .. })
        ));
        let tampered = note.replace("hello", "jello");
        assert!(matches!(
            open_note(&tampered, "example.org/a", &pk),
            Err(NoteError::BadSignature { .. })
        ));
    }

    /// A cosignature opens under its key with its time, is 4 + 8 + 64 bytes, is not a note
    /// signature, and fails with its time changed; its verifier key reads back.
    #[test]
    fn cosign_then_open() {
        let log = SigningKey::from_bytes(&[1; 32]);
        let witness = SigningKey::from_bytes(&[7; 32]);
        let text = "example.com/log\n5\nAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n";
        let signed = sign_note(text, "example.com/log", &log).unwrap();
        let line = cosign(text, "w.example/1", &witness, 1_679_315_147).unwrap();
        let note = format!("{signed}{line}");
        let wpk = witness.verifying_key().to_bytes();
        assert_eq!(
            open_cosignature(&note, "w.example/1", &wpk).unwrap(),
            (text.to_owned(), 1_679_315_147)
        );
        // The log's own signature still opens; a cosignature is not a note signature.
        assert!(open_note(&note, "example.com/log", &log.verifying_key().to_bytes()).is_ok());
        assert!(open_note(&note, "w.example/1", &wpk).is_err());
        // 4 + 8 + 64 bytes of signature.
        let b64 = line.trim_end().rsplit(' ').next().unwrap();
        assert_eq!(B64.decode(b64).unwrap().len(), 76);
        // Another time under the same signature fails.
        let mut raw = B64.decode(b64).unwrap();
        raw[11] ^= 1;
        let forged = format!("{signed}\u{2014} w.example/1 {}\n", B64.encode(raw));
        assert!(matches!(
            open_cosignature(&forged, "w.example/1", &wpk),
            Err(NoteError::BadSignature { .. })
        ));
        let vkey = typed_verifier_key("w.example/1", TYPE_COSIGNATURE_V1, &wpk);
        assert_eq!(
            parse_verifier_key(&vkey).unwrap(),
            ("w.example/1".to_owned(), TYPE_COSIGNATURE_V1, wpk)
        );
        let (name, rest) = vkey.split_once('+').unwrap();
        let (id, key) = rest.split_once('+').unwrap();
        let flipped = if id.starts_with('0') { "1" } else { "0" };
        let wrong_id = format!("{name}+{flipped}{}+{key}", &id[1..]);
        assert!(parse_verifier_key(&wrong_id).is_err(), "{wrong_id}");
        assert!(parse_verifier_key("w.example/1+00000000+AQ==").is_err());
    }

    #[test]
    fn malformed_notes_are_refused() {
        for bad in [
            "",
            "text\n",
            "text\n\n",
            "text\n\n- name AAAA\n",
            "text\n\n\u{2014} name !!!\n",
            "te\u{7}xt\n\n\u{2014} n AAAAAAAA\n",
        ] {
            assert!(parse(bad).is_err(), "{bad:?}");
        }
    }
}
