//! Statements signed away from the ledger (SPEC.md section 16): a field device with no
//! ledger signs testimony and media statements into a `.cst` file, sealing each testimony
//! text to headquarters' content recipients, so that the file reveals no plaintext;
//! headquarters ingests the file (`Ledger::ingest`) or a server takes it over HTTP.
//!
//! A `.cst` file is the magic line `custody/v1/signed` and a newline, a `u64` count (1 to
//! [`MAX_ITEMS`]), then each item: the statement (`bytes`, at most 64 KiB, canonical), its
//! 64-byte signature, and a content tag: `0` none, or `1` followed by the sealed text
//! (`bytes`: the age file of salt || text under a fresh item key), its wrapped item key
//! (`bytes`: the age file of the item key to the recipients), exactly the two files the
//! ledger's content store keeps, and the signer's 64-byte signature binding the two to
//! the statement ([`seal_message`]), so that no one who carries the file can swap the
//! text for another of the same length that headquarters cannot open. Decoding is strict: trailing bytes, a non-canonical
//! statement, or a text where the statement commits to none (or none where it does) are
//! errors. Pure code: no disk, no clock.

use crate::encoding::{Reader, Writer};
use crate::error::{Error, Result};
use crate::ledger::{MediaInput, SignedStatement, TestimonyInput, sign_statement};
use crate::record::{self, Body, Media, Statement};
use ed25519_dalek::SigningKey;

/// The first bytes of every `.cst` file.
pub const MAGIC: &[u8] = b"custody/v1/signed\n";
/// The most items one file (or one request) carries.
pub const MAX_ITEMS: u64 = 10_000;
/// The largest sealed text an item carries: a text of the most custody reads (64 MiB)
/// with its salt, sealed (age adds 16 bytes a 64 KiB chunk and a header of a few KiB).
pub const MAX_SEALED: usize = (64 << 20) + (64 << 10);
/// The largest wrapped item key (a header of at most 16 recipients and a 75-byte payload).
pub const MAX_WRAPPED_KEY: usize = 16 << 10;
/// The media type of a `.cst` file over HTTP.
pub const MEDIA_TYPE: &str = "application/x-custody-signed";

/// The domain of the signature that binds a sealed text to its statement.
pub const SEAL_LABEL: &[u8] = b"custody/v1/sealed-text\n";

/// A testimony text sealed in the field: the two age files the content store keeps, and
/// the signer's signature over them and the statement.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SealedText {
    /// The age file of salt || text, to a fresh item key.
    pub ciphertext: Vec<u8>,
    /// The age file of the item key, to every content recipient.
    pub wrapped_key: Vec<u8>,
    /// Ed25519 by the statement's signer over [`seal_message`].
    pub signature: [u8; 64],
}

/// What the signer of a statement signs to bind its sealed text to it: [`SEAL_LABEL`],
/// then the SHA-256 of the statement bytes, of the sealed text and of the wrapped key.
pub fn seal_message(statement: &[u8], ciphertext: &[u8], wrapped_key: &[u8]) -> Vec<u8> {
    use sha2::{Digest, Sha256};
    let mut m = SEAL_LABEL.to_vec();
    for part in [statement, ciphertext, wrapped_key] {
        m.extend_from_slice(&Sha256::digest(part));
    }
    m
}

impl SealedText {
    /// Whether the statement's signer sealed exactly these files for `statement`.
    pub fn check(&self, statement: &SignedStatement) -> Result<()> {
        crate::keys::verify_strict(
            &statement.statement.signer,
            &seal_message(&statement.bytes, &self.ciphertext, &self.wrapped_key),
            &self.signature,
        )
        .map_err(|e| {
            Error::Input(format!(
                "the sealed text is not the one its signer sealed for this statement (its binding signature: {e}): it was altered or swapped on the way"
            ))
        })
    }
}

/// One signed statement of a `.cst` file, with its sealed text when it commits to one.
#[derive(Debug, Clone)]
pub struct FieldItem {
    /// The statement, its canonical bytes and signature.
    pub signed: SignedStatement,
    /// The sealed text of a testimony (or of an amendment with a new text).
    pub text: Option<SealedText>,
}

impl FieldItem {
    /// A short name for reports: kind and the signer's claimed time.
    pub fn kind(&self) -> &'static str {
        self.signed.statement.body.kind()
    }
}

/// The bytes of a `.cst` file holding `items`.
pub fn encode(items: &[FieldItem]) -> Vec<u8> {
    let mut w = Writer::new();
    w.fixed(MAGIC).u64(items.len() as u64);
    for item in items {
        w.bytes(&item.signed.bytes).fixed(&item.signed.signature);
        match &item.text {
            None => {
                w.u8(0);
            }
            Some(t) => {
                w.u8(1)
                    .bytes(&t.ciphertext)
                    .bytes(&t.wrapped_key)
                    .fixed(&t.signature);
            }
        }
    }
    w.finish()
}

/// Reads a `.cst` file strictly; the error names the item and the field at fault.
/// Signatures are not checked here (ingest checks them, with every other rule).
pub fn decode(bytes: &[u8]) -> Result<Vec<FieldItem>> {
    let bad = |what: String| Error::Input(format!("not a valid signed-statements file: {what}"));
    if !bytes.starts_with(MAGIC) {
        return Err(bad(
            "it does not start with `custody/v1/signed` (make one with `custody sign`)".into(),
        ));
    }
    let mut r = Reader::at(&bytes[MAGIC.len()..], MAGIC.len());
    let count = r.u64("count").map_err(|e| bad(e.to_string()))?;
    if count == 0 || count > MAX_ITEMS {
        return Err(bad(format!(
            "it says it holds {count} statements; a file holds 1 to {MAX_ITEMS}"
        )));
    }
    let mut items = Vec::new();
    for i in 0..count {
        let at = |e: crate::encoding::DecodeError| bad(format!("statement {}: {e}", i + 1));
        let statement_bytes = r.bytes("statement", record::MAX_STATEMENT).map_err(at)?;
        let signature = r.array::<64>("signature").map_err(at)?;
        let statement = Statement::decode(statement_bytes).map_err(at)?;
        let text = match r.u8("content tag").map_err(at)? {
            0 => None,
            1 => Some(SealedText {
                ciphertext: r.bytes("sealed text", MAX_SEALED).map_err(at)?.to_vec(),
                wrapped_key: r
                    .bytes("wrapped item key", MAX_WRAPPED_KEY)
                    .map_err(at)?
                    .to_vec(),
                signature: r.array::<64>("sealed text's signature").map_err(at)?,
            }),
            t => {
                return Err(bad(format!(
                    "statement {}: content tag {t} is neither 0 (none) nor 1 (sealed text)",
                    i + 1
                )));
            }
        };
        match (statement.body.text(0).is_some(), text.is_some()) {
            (true, false) => {
                return Err(bad(format!(
                    "statement {} commits to a text but the file carries none",
                    i + 1
                )));
            }
            (false, true) => {
                return Err(bad(format!(
                    "statement {} is a {} statement, which commits to no text, yet the file carries one",
                    i + 1,
                    statement.body.kind()
                )));
            }
            _ => {}
        }
        items.push(FieldItem {
            signed: SignedStatement {
                bytes: statement_bytes.to_vec(),
                statement,
                signature,
            },
            text,
        });
    }
    r.finish()
        .map_err(|e| bad(format!("after the last statement: {e}")))?;
    Ok(items)
}

/// Signs a testimony away from the ledger: a fresh salt, the commitment, the text sealed
/// to `recipients` (the plaintext never leaves memory, and is wiped).
pub fn sign_testimony(
    key: &SigningKey,
    input: TestimonyInput,
    recipients: &[age::x25519::Recipient],
    claimed_at_ms: u64,
) -> Result<FieldItem> {
    input.validate()?;
    if recipients.is_empty() {
        return Err(Error::Input(
            "a testimony signed away from the ledger is sealed to headquarters' content recipients: give them with --seal-to (age1… keys or NAME.recipient files)".into(),
        ));
    }
    let salt = crate::ledger::fresh_salt()?;
    let (body, _) = input.body(&salt);
    let content = input.text.as_bytes();
    let mut plain = zeroize::Zeroizing::new(Vec::with_capacity(32 + content.len()));
    plain.extend_from_slice(&salt);
    plain.extend_from_slice(content);
    let sealed = crate::seal::seal(&plain, recipients)?;
    let signed = sign_statement(key, body, claimed_at_ms)?;
    let signature = crate::keys::sign(
        key,
        &seal_message(&signed.bytes, &sealed.ciphertext, &sealed.wrapped_key),
    );
    Ok(FieldItem {
        signed,
        text: Some(SealedText {
            ciphertext: sealed.ciphertext,
            wrapped_key: sealed.wrapped_key,
            signature,
        }),
    })
}

/// Signs a media statement away from the ledger (the file itself travels apart).
pub fn sign_media(key: &SigningKey, f: MediaInput, claimed_at_ms: u64) -> Result<FieldItem> {
    let body = Body::Media(Media {
        sha256: f.sha256,
        size: f.size,
        name: f.name,
        media_type: f.media_type,
        description: f.description,
    });
    Ok(FieldItem {
        signed: sign_statement(key, body, claimed_at_ms)?,
        text: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key() -> SigningKey {
        SigningKey::from_bytes(&[7; 32])
    }

    fn media(n: u8) -> FieldItem {
        sign_media(
            &key(),
            MediaInput {
                name: Some("a.mp4".into()),
                ..MediaInput::new([n; 32], 10)
            },
            1_000,
        )
        .unwrap()
    }

    #[test]
    fn round_trips_and_is_strict() {
        let recipient = age::x25519::Identity::generate().to_public();
        let t = sign_testimony(
            &key(),
            TestimonyInput {
                subject: "W-1".into(),
                language: "en".into(),
                consent: Some("court".into()),
                location: None,
                text: "what happened".into(),
            },
            &[recipient],
            2_000,
        )
        .unwrap();
        let items = vec![media(1), t, media(2)];
        let bytes = encode(&items);
        let back = decode(&bytes).unwrap();
        assert_eq!(back.len(), 3);
        assert_eq!(encode(&back), bytes);
        // No plaintext in the file.
        assert!(!bytes.windows(13).any(|w| w == b"what happened"));
        // Trailing bytes, a cut file, a bad magic, a zero count, an unknown tag.
        let mut longer = bytes.clone();
        longer.push(0);
        assert!(decode(&longer).is_err());
        assert!(decode(&bytes[..bytes.len() - 1]).is_err());
        assert!(decode(b"custody/v1/signeX\n").is_err());
        let mut zero = MAGIC.to_vec();
        zero.extend_from_slice(&0u64.to_be_bytes());
        assert!(decode(&zero).is_err());
        let one = encode(&[media(3)]);
        let mut tag = one.clone();
        *tag.last_mut().unwrap() = 2;
        assert!(decode(&tag).is_err());
        // A media statement with a text, and a testimony without one, are refused.
        let mut with_text = one[..one.len() - 1].to_vec();
        with_text.push(1);
        with_text.extend_from_slice(&1u32.to_be_bytes());
        with_text.push(0);
        with_text.extend_from_slice(&1u32.to_be_bytes());
        with_text.push(0);
        with_text.extend_from_slice(&[0; 64]);
        assert!(
            decode(&with_text)
                .unwrap_err()
                .to_string()
                .contains("no text")
        );
        let mut bare = back[1].clone();
        bare.text = None;
        let e = decode(&encode(&[bare])).unwrap_err().to_string();
        assert!(e.contains("carries none"), "{e}");
        // The sealed text is bound to its statement by the signer: another statement's
        // text, or the same files altered, do not pass.
        let t = back[1].text.as_ref().unwrap();
        t.check(&back[1].signed).unwrap();
        let mut other = t.clone();
        other.ciphertext[40] ^= 1;
        assert!(other.check(&back[1].signed).is_err());
        assert!(t.check(&back[0].signed).is_err());
    }

    #[test]
    fn a_testimony_needs_recipients() {
        let e = sign_testimony(
            &key(),
            TestimonyInput {
                subject: "W-1".into(),
                language: "en".into(),
                consent: None,
                location: None,
                text: "x".into(),
            },
            &[],
            1,
        )
        .unwrap_err();
        assert!(e.to_string().contains("--seal-to"));
    }
}
