//! Text forms of proofs: C2SP `tlog-proof` for inclusion, and a sibling format for
//! consistency proofs, both carrying the signed checkpoint they refer to.

use crate::Hash;
use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use thiserror::Error;

/// First line of an inclusion proof (c2sp.org/tlog-proof).
pub const INCLUSION_HEADER: &str = "c2sp.org/tlog-proof@v1";
/// First line of a consistency proof (this project's format, see SPEC.md).
pub const CONSISTENCY_HEADER: &str = "custody/consistency-proof@v1";
/// Most hashes a proof may hold (a tree of 2^64 leaves needs 64; consistency 2 more).
pub const MAX_PROOF_HASHES: usize = 130;

/// Why a proof text was refused.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
#[error("malformed proof: {0}")]
pub struct ProofTextError(pub String);

/// An inclusion proof with its checkpoint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InclusionProofText {
    /// Leaf index.
    pub index: u64,
    /// Opaque extra data (unauthenticated).
    pub extra: Option<Vec<u8>>,
    /// Proof hashes, leaf sibling first.
    pub hashes: Vec<Hash>,
    /// The signed checkpoint, verbatim.
    pub checkpoint: String,
}

/// A consistency proof with the newer checkpoint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConsistencyProofText {
    /// The older tree size.
    pub old_size: u64,
    /// Proof hashes.
    pub hashes: Vec<Hash>,
    /// The signed checkpoint of the newer tree, verbatim.
    pub checkpoint: String,
}

fn hash_lines(hashes: &[Hash]) -> String {
    hashes
        .iter()
        .map(|h| format!("{}\n", B64.encode(h)))
        .collect()
}

impl InclusionProofText {
    /// The text form.
    pub fn format(&self) -> String {
        let mut s = format!("{INCLUSION_HEADER}\n");
        if let Some(e) = &self.extra {
            s.push_str(&format!("extra {}\n", B64.encode(e)));
        }
        s.push_str(&format!("index {}\n", self.index));
        s.push_str(&hash_lines(&self.hashes));
        s.push('\n');
        s.push_str(&self.checkpoint);
        s
    }

    /// Parses the text form strictly (the checkpoint is returned unverified, as text).
    pub fn parse(text: &str) -> Result<Self, ProofTextError> {
        let mut rest = expect_line(text, INCLUSION_HEADER)?;
        let mut extra = None;
        if let Some(r) = rest.strip_prefix("extra ") {
            let (line, r) = split_line(r)?;
            extra = Some(
                B64.decode(line)
                    .map_err(|_| ProofTextError("extra data is not base64".into()))?,
            );
            rest = r;
        }
        let r = rest
            .strip_prefix("index ")
            .ok_or_else(|| ProofTextError("missing index line".into()))?;
        let (line, r) = split_line(r)?;
        let index = decimal(line)?;
        let (hashes, checkpoint) = hashes_then_checkpoint(r)?;
        Ok(Self {
            index,
            extra,
            hashes,
            checkpoint,
        })
    }
}

impl ConsistencyProofText {
    /// The text form.
    pub fn format(&self) -> String {
        format!(
            "{CONSISTENCY_HEADER}\nold-size {}\n{}\n{}",
            self.old_size,
            hash_lines(&self.hashes),
            self.checkpoint
        )
    }

    /// Parses the text form strictly.
    pub fn parse(text: &str) -> Result<Self, ProofTextError> {
        let rest = expect_line(text, CONSISTENCY_HEADER)?;
        let r = rest
            .strip_prefix("old-size ")
            .ok_or_else(|| ProofTextError("missing old-size line".into()))?;
        let (line, r) = split_line(r)?;
        let old_size = decimal(line)?;
        let (hashes, checkpoint) = hashes_then_checkpoint(r)?;
        Ok(Self {
            old_size,
            hashes,
            checkpoint,
        })
    }
}

fn expect_line<'a>(text: &'a str, header: &str) -> Result<&'a str, ProofTextError> {
    let (line, rest) = split_line(text)?;
    if line != header {
        return Err(ProofTextError(format!("first line must be '{header}'")));
    }
    Ok(rest)
}

fn split_line(text: &str) -> Result<(&str, &str), ProofTextError> {
    text.split_once('\n')
        .ok_or_else(|| ProofTextError("unexpected end of text".into()))
}

fn decimal(s: &str) -> Result<u64, ProofTextError> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) || (s.len() > 1 && s.starts_with('0'))
    {
        return Err(ProofTextError(format!(
            "'{s}' is not a decimal number without leading zeros"
        )));
    }
    s.parse()
        .map_err(|_| ProofTextError(format!("'{s}' does not fit in 64 bits")))
}

fn hashes_then_checkpoint(mut text: &str) -> Result<(Vec<Hash>, String), ProofTextError> {
    let mut hashes = Vec::new();
    loop {
        let (line, rest) = split_line(text)?;
        text = rest;
        if line.is_empty() {
            break;
        }
        let h: Hash = B64
            .decode(line)
            .ok()
            .and_then(|v| v.try_into().ok())
            .ok_or_else(|| ProofTextError(format!("'{line}' is not a base64 SHA-256 hash")))?;
        hashes.push(h);
        if hashes.len() > MAX_PROOF_HASHES {
            return Err(ProofTextError("too many proof hashes".into()));
        }
    }
    if text.is_empty() {
        return Err(ProofTextError("missing checkpoint".into()));
    }
    Ok((hashes, text.to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inclusion_text_round_trips() {
        let p = InclusionProofText {
            index: 5,
            extra: None,
            hashes: vec![[1; 32], [2; 32]],
            checkpoint: "o\n6\nAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQE=\n\n\u{2014} o AAAA\n"
                .into(),
        };
        assert_eq!(InclusionProofText::parse(&p.format()).unwrap(), p);
        let c = ConsistencyProofText {
            old_size: 3,
            hashes: vec![[3; 32]],
            checkpoint: p.checkpoint.clone(),
        };
        assert_eq!(ConsistencyProofText::parse(&c.format()).unwrap(), c);
        assert!(InclusionProofText::parse("c2sp.org/tlog-proof@v1\nindex 01\n\nx").is_err());
        assert!(InclusionProofText::parse("c2sp.org/tlog-proof@v1\nindex 1\nzz\n\nx").is_err());
    }
}
