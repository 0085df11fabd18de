//! C2SP signed notes with Ed25519 (c2sp.org/signed-note).
//!
//! A note is text ending in a newline, a blank line, then signature lines
//! `— NAME base64(key ID || signature)`. [`open_note`] parses and verifies in one call, so
//! an unverified note is never in hand. Key ID = SHA-256(name || 0x0A || 0x01 || key)[:4].

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

/// C2SP key ID for an Ed25519 key under a name.
pub fn key_id(name: &str, public: &[u8; 32]) -> [u8; 4] {
    let mut h = Sha256::new();
    h.update(name.as_bytes());
    h.update([0x0a, 0x01]);
    h.update(public);
    let d = h.finalize();
    [d[0], d[1], d[2], d[3]]
}

/// The verifier key string `name+hexid+base64(0x01 || key)` that note tools take.
pub fn verifier_key(name: &str, public: &[u8; 32]) -> String {
    let mut k = vec![0x01];
    k.extend_from_slice(public);
    format!(
        "{name}+{}+{}",
        hex::encode(key_id(name, public)),
        B64.encode(k)
    )
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
