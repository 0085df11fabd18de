//! C2SP checkpoints (c2sp.org/tlog-checkpoint): the signed statement of a tree's size and
//! root that auditors save and courts receive.
//!
//! The body is three lines, origin, decimal size and base64 root, then optional extension
//! lines; the signed form is a signed note whose key name is the origin. [`open_checkpoint`]
//! parses and verifies in one step.

use crate::Hash;
use crate::note::{self, NoteError};
use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use ed25519_dalek::SigningKey;
use thiserror::Error;

/// Why a checkpoint was refused.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum CheckpointError {
    /// The signed note around it is bad.
    #[error(transparent)]
    Note(#[from] NoteError),
    /// The body is not a checkpoint.
    #[error("malformed checkpoint: {0}")]
    Malformed(String),
    /// It is a checkpoint of another log.
    #[error("checkpoint is for origin '{found}', not '{expected}'")]
    WrongOrigin {
        /// Origin of this ledger.
        expected: String,
        /// Origin in the checkpoint.
        found: String,
    },
}

/// A checkpoint body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checkpoint {
    /// The log's origin.
    pub origin: String,
    /// Tree size.
    pub size: u64,
    /// Root hash at that size.
    pub root: Hash,
    /// Extension lines (kept, not interpreted).
    pub extensions: Vec<String>,
}

impl Checkpoint {
    /// The body text, ending with a newline.
    pub fn body(&self) -> String {
        let mut s = format!(
            "{}\n{}\n{}\n",
            self.origin,
            self.size,
            B64.encode(self.root)
        );
        for e in &self.extensions {
            s.push_str(e);
            s.push('\n');
        }
        s
    }

    /// Parses a body strictly: decimal size without leading zeros, a 32-byte base64 root,
    /// non-empty extension lines.
    pub fn parse_body(text: &str) -> Result<Self, CheckpointError> {
        let bad = |m: &str| CheckpointError::Malformed(m.to_owned());
        let body = text
            .strip_suffix('\n')
            .ok_or_else(|| bad("body must end with a newline"))?;
        let mut lines = body.split('\n');
        let origin = lines
            .next()
            .filter(|s| !s.is_empty())
            .ok_or_else(|| bad("missing origin line"))?;
        let size_line = lines.next().ok_or_else(|| bad("missing size line"))?;
        if size_line.is_empty()
            || !size_line.bytes().all(|b| b.is_ascii_digit())
            || (size_line.len() > 1 && size_line.starts_with('0'))
        {
            return Err(bad("size is not a decimal number without leading zeros"));
        }
        let size: u64 = size_line
            .parse()
            .map_err(|_| bad("size does not fit in 64 bits"))?;
        let root_line = lines.next().ok_or_else(|| bad("missing root hash line"))?;
        let root: Hash = B64
            .decode(root_line)
            .ok()
            .and_then(|v| v.try_into().ok())
            .ok_or_else(|| bad("root hash is not 32 bytes of standard base64"))?;
        let extensions: Vec<String> = lines.map(str::to_owned).collect();
        if extensions.iter().any(String::is_empty) {
            return Err(bad("empty extension line"));
        }
        Ok(Checkpoint {
            origin: origin.to_owned(),
            size,
            root,
            extensions,
        })
    }

    /// Signs the body as a note named by the origin.
    pub fn sign(&self, key: &SigningKey) -> Result<String, CheckpointError> {
        Ok(note::sign_note(&self.body(), &self.origin, key)?)
    }
}

/// Parses a signed checkpoint and verifies it is the `origin` log's, signed by `public`.
pub fn open_checkpoint(
    signed: &str,
    origin: &str,
    public: &[u8; 32],
) -> Result<Checkpoint, CheckpointError> {
    let text = note::open_note(signed, origin, public)?;
    let cp = Checkpoint::parse_body(&text)?;
    if cp.origin != origin {
        return Err(CheckpointError::WrongOrigin {
            expected: origin.to_owned(),
            found: cp.origin,
        });
    }
    Ok(cp)
}

/// Reads the origin line of a signed checkpoint without trusting anything else in it, to
/// say which ledger a saved checkpoint claims to be from.
pub fn claimed_origin(signed: &str) -> Option<&str> {
    signed.split('\n').next().filter(|s| !s.is_empty())
}

/// The size a note claims on its second line, before anything is verified: only to choose
/// the key that must have signed it (the ledger key in force at that size).
pub fn claimed_size(signed: &str) -> Option<u64> {
    let line = signed.split('\n').nth(1)?;
    if line.is_empty() || (line.len() > 1 && line.starts_with('0')) {
        return None;
    }
    line.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn body_round_trips_and_rejects_bad_sizes() {
        let cp = Checkpoint {
            origin: "example.org/log".into(),
            size: 12,
            root: [9; 32],
            extensions: vec![],
        };
        assert_eq!(Checkpoint::parse_body(&cp.body()).unwrap(), cp);
        for bad in [
            "example.org/log\n012\nCQkJCQkJCQkJCQkJCQkJCQkJCQkJCQkJCQkJCQkJCQk=\n",
            "example.org/log\n-1\nCQkJCQkJCQkJCQkJCQkJCQkJCQkJCQkJCQkJCQkJCQk=\n",
            "example.org/log\n1\nCQkJ\n",
            "example.org/log\n1\n",
            "example.org/log\n1\nCQkJCQkJCQkJCQkJCQkJCQkJCQkJCQkJCQkJCQkJCQk=",
        ] {
            assert!(Checkpoint::parse_body(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn signed_checkpoint_opens_only_for_its_origin_and_key() {
        let key = SigningKey::from_bytes(&[4; 32]);
        let pk = key.verifying_key().to_bytes();
        let cp = Checkpoint {
            origin: "example.org/log".into(),
            size: 3,
            root: [1; 32],
            extensions: vec![],
        };
        let signed = cp.sign(&key).unwrap();
        assert_eq!(
            open_checkpoint(&signed, "example.org/log", &pk).unwrap(),
            cp
        );
        assert!(open_checkpoint(&signed, "example.org/other", &pk).is_err());
    }
}
