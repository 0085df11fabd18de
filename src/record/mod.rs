//! The data model: what a person signs (a [`Statement`]) and what the ledger appends
//! (a [`Record`]), with their canonical bytes.
//!
//! A record's leaf hash is both its Merkle leaf and the `prev` link of the next record, so
//! the hash chain and the tree commit to the same bytes. Byte layouts are in SPEC.md; this
//! module is their only implementation; [`hash`] holds the hashes over those bytes and
//! [`view`] their rendering for people and JSON.

mod hash;
mod view;

pub use hash::{commitment, leaf_hash, sha256_stream, signing_message, verify_signatures};
pub use view::{RecordView, rfc3339};

use crate::Hash;
use crate::encoding::{DecodeError, Reader, Writer};

/// Domain label prepended to a statement's bytes before signing.
pub const STATEMENT_LABEL: &[u8] = b"custody/v1/statement\n";
/// Format version of statements and records.
pub const FORMAT_VERSION: u8 = 1;
/// Largest statement accepted, in bytes.
pub const MAX_STATEMENT: usize = 64 * 1024;
/// Largest record accepted, in bytes.
pub const MAX_RECORD: usize = MAX_STATEMENT + 128;

/// Field bounds, in bytes of UTF-8.
pub mod limits {
    /// Ledger origin (also a signed-note key name).
    pub const ORIGIN: usize = 255;
    /// Subject pseudonym.
    pub const SUBJECT: usize = 256;
    /// Language tag.
    pub const LANGUAGE: usize = 64;
    /// Consent scope.
    pub const CONSENT: usize = 256;
    /// Location text.
    pub const LOCATION: usize = 1024;
    /// Media file name.
    pub const NAME: usize = 1024;
    /// Media type.
    pub const MEDIA_TYPE: usize = 255;
    /// Description.
    pub const DESCRIPTION: usize = 4096;
}

/// Kind tags.
mod tag {
    pub const GENESIS: u8 = 0;
    pub const TESTIMONY: u8 = 1;
    pub const MEDIA: u8 = 2;
    pub const AUTHORIZE: u8 = 3;
    pub const REVOKE: u8 = 4;
    pub const TRANSFER: u8 = 5;
    pub const ACCEPT: u8 = 6;
    pub const AMEND: u8 = 7;
    pub const LEDGER_KEY: u8 = 8;
    pub const CANCEL: u8 = 9;
    pub const SEAL_TO: u8 = 10;
    pub const CONSENT: u8 = 11;
    pub const ERASE: u8 = 12;
}

/// The most content recipients a seal-to statement names.
pub const MAX_RECIPIENTS: usize = 16;

/// What an authorised key may do (SPEC.md section 3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Role {
    /// Authorises and revokes keys; may also record evidence.
    Admin,
    /// Records testimony and media.
    Investigator,
    /// Holds exhibits handed over to it.
    Custodian,
    /// Checks; records no evidence, but may receive and hand over exhibits.
    Auditor,
    /// Signs the ledger's checkpoints and nothing else; given only by a ledger-key record.
    Ledger,
}

impl Role {
    /// Name as users write it.
    pub fn name(self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::Investigator => "investigator",
            Role::Custodian => "custodian",
            Role::Auditor => "auditor",
            Role::Ledger => "ledger",
        }
    }
    /// Parses a name as users write it.
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "admin" => Role::Admin,
            "investigator" => Role::Investigator,
            "custodian" => Role::Custodian,
            "auditor" => Role::Auditor,
            "ledger" => Role::Ledger,
            _ => return None,
        })
    }
    fn code(self) -> u8 {
        self as u8
    }
    fn from_code(c: u8) -> Result<Self, DecodeError> {
        Ok(match c {
            0 => Role::Admin,
            1 => Role::Investigator,
            2 => Role::Custodian,
            3 => Role::Auditor,
            4 => Role::Ledger,
            tag => return Err(DecodeError::UnknownTag { field: "role", tag }),
        })
    }
}

/// Why a key was revoked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RevokeReason {
    /// No longer used; its earlier records stay valid.
    Retired,
    /// Lost or stolen; its records from the effective point on are suspect.
    Compromised,
}

impl RevokeReason {
    /// Name as users write it.
    pub fn name(self) -> &'static str {
        match self {
            RevokeReason::Retired => "retired",
            RevokeReason::Compromised => "compromised",
        }
    }
}

/// From when a revocation takes effect.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Effective {
    /// From the revocation record itself.
    Now,
    /// From this sequence number on.
    Seq(u64),
    /// From records recorded at or after this time (unix ms) on.
    Time(u64),
}

/// A correction that supersedes an earlier testimony or media description.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Amendment {
    /// The record corrected (always the original, never another amendment).
    pub target: u64,
    /// Why.
    pub reason: String,
    /// A new description (media).
    pub description: Option<String>,
    /// A new text: its commitment and length (testimony).
    pub content: Option<(Hash, u64)>,
}

/// A testimony's record: the salted commitment, never the text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Testimony {
    /// Pseudonym of the person who testified.
    pub subject: String,
    /// Language of the text (e.g. a BCP 47 tag).
    pub language: String,
    /// Scope of consent given (e.g. `court`, `research`).
    pub consent: Option<String>,
    /// Where it was taken.
    pub location: Option<String>,
    /// SHA-256(salt || content).
    pub commitment: Hash,
    /// Length of the content in bytes.
    pub content_len: u64,
}

/// A media file's record: its plain SHA-256 (so `sha256sum` agrees) and size.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Media {
    /// SHA-256 of the file bytes.
    pub sha256: Hash,
    /// Size in bytes.
    pub size: u64,
    /// The file's base name when it was added.
    pub name: Option<String>,
    /// Media type, e.g. `video/mp4`.
    pub media_type: Option<String>,
    /// Free description.
    pub description: Option<String>,
}

/// What a statement says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Body {
    /// Record 0: names the ledger's origin; its signer is the ledger key.
    Genesis {
        /// The ledger origin (checkpoint origin line and note key name).
        origin: String,
    },
    /// A testimony commitment.
    Testimony(Testimony),
    /// A media file hash.
    Media(Media),
    /// An admin authorises a key for a role.
    Authorize {
        /// The key authorised.
        key: [u8; 32],
        /// Its holder's name.
        name: String,
        /// Its role.
        role: Role,
    },
    /// An admin revokes a key.
    Revoke {
        /// The key revoked.
        key: [u8; 32],
        /// Why.
        reason: RevokeReason,
        /// From when.
        effective: Effective,
    },
    /// The holder of an exhibit hands it to another key.
    Transfer {
        /// The exhibit (a testimony or media record).
        exhibit: u64,
        /// The receiver.
        to: [u8; 32],
        /// Why.
        reason: String,
        /// Where.
        location: Option<String>,
    },
    /// The receiver of a transfer countersigns it.
    Accept {
        /// The transfer record.
        transfer: u64,
    },
    /// A correction of an earlier record, which stays.
    Amend(Amendment),
    /// An admin names the key that signs checkpoints from the next record on.
    LedgerKey {
        /// The new ledger key.
        key: [u8; 32],
    },
    /// The sender of a pending transfer (or an admin) withdraws it.
    Cancel {
        /// The transfer record.
        transfer: u64,
    },
    /// An admin names the content recipients: from the next record on, testimony text is
    /// sealed to these X25519 keys (age `age1…` recipients) and to no others.
    SealTo {
        /// The recipients' X25519 public keys, 1 to [`MAX_RECIPIENTS`].
        recipients: Vec<[u8; 32]>,
    },
    /// A testimony's recorder (or an admin) changes the consent given for it.
    Consent {
        /// The testimony.
        target: u64,
        /// SHA-256 of the testimony's statement bytes: ties the change to that testimony,
        /// so that it means nothing in another ledger whose record `target` is another.
        target_statement: crate::Hash,
        /// The scope now in force (section 3's vocabulary; `none` withdraws consent).
        consent: String,
    },
    /// An admin erases a testimony's texts or a media record's sealed copy: the record and
    /// every proof stay, the content is destroyed.
    Erase {
        /// The testimony or media record.
        target: u64,
        /// SHA-256 of the target's statement bytes (as for consent).
        target_statement: crate::Hash,
        /// Why (e.g. the court order).
        reason: String,
    },
}

impl Body {
    /// The kind's name as users see it.
    pub fn kind(&self) -> &'static str {
        match self {
            Body::Genesis { .. } => "genesis",
            Body::Testimony(_) => "testimony",
            Body::Media(_) => "media",
            Body::Authorize { .. } => "authorize",
            Body::Revoke { .. } => "revoke",
            Body::Transfer { .. } => "transfer",
            Body::Accept { .. } => "accept",
            Body::Amend(_) => "amend",
            Body::LedgerKey { .. } => "ledger-key",
            Body::Cancel { .. } => "cancel",
            Body::SealTo { .. } => "seal-to",
            Body::Consent { .. } => "consent",
            Body::Erase { .. } => "erase",
        }
    }

    /// The text a record at `seq` commits to: its commitment, its length, and the
    /// testimony it belongs to (`seq` itself, or the testimony an amendment corrects).
    pub fn text(&self, seq: u64) -> Option<(crate::Hash, u64, u64)> {
        match self {
            Body::Testimony(t) => Some((t.commitment, t.content_len, seq)),
            Body::Amend(Amendment {
                content: Some((c, len)),
                target,
                ..
            }) => Some((*c, *len, *target)),
            _ => None,
        }
    }

    /// Whether this is evidence (a testimony or media record) that can be an exhibit.
    pub fn is_evidence(&self) -> bool {
        matches!(self, Body::Testimony(_) | Body::Media(_))
    }
}

/// What a person signs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Statement {
    /// The signer's clock when signing, unix milliseconds UTC.
    pub claimed_at_ms: u64,
    /// The signer's Ed25519 public key.
    pub signer: [u8; 32],
    /// What is stated.
    pub body: Body,
}

impl Statement {
    /// Canonical bytes. Fails when a field breaks its bound, so nothing unreadable is signed.
    pub fn encode(&self) -> Result<Vec<u8>, DecodeError> {
        let mut w = Writer::new();
        w.u8(FORMAT_VERSION);
        w.u8(match &self.body {
            Body::Genesis { .. } => tag::GENESIS,
            Body::Testimony(_) => tag::TESTIMONY,
            Body::Media(_) => tag::MEDIA,
            Body::Authorize { .. } => tag::AUTHORIZE,
            Body::Revoke { .. } => tag::REVOKE,
            Body::Transfer { .. } => tag::TRANSFER,
            Body::Accept { .. } => tag::ACCEPT,
            Body::Amend(_) => tag::AMEND,
            Body::LedgerKey { .. } => tag::LEDGER_KEY,
            Body::Cancel { .. } => tag::CANCEL,
            Body::SealTo { .. } => tag::SEAL_TO,
            Body::Consent { .. } => tag::CONSENT,
            Body::Erase { .. } => tag::ERASE,
        });
        w.u64(self.claimed_at_ms).fixed(&self.signer);
        match &self.body {
            Body::Genesis { origin } => {
                check_origin(origin)?;
                w.text(origin);
            }
            Body::Testimony(t) => {
                use crate::encoding::check_text as c;
                c("subject", &t.subject, limits::SUBJECT)?;
                c("language", &t.language, limits::LANGUAGE)?;
                check_opt("consent", t.consent.as_deref(), limits::CONSENT)?;
                check_opt("location", t.location.as_deref(), limits::LOCATION)?;
                w.text(&t.subject)
                    .text(&t.language)
                    .opt_text(t.consent.as_deref())
                    .opt_text(t.location.as_deref())
                    .fixed(&t.commitment)
                    .u64(t.content_len);
            }
            Body::Media(m) => {
                check_opt("name", m.name.as_deref(), limits::NAME)?;
                check_opt("media type", m.media_type.as_deref(), limits::MEDIA_TYPE)?;
                check_opt("description", m.description.as_deref(), limits::DESCRIPTION)?;
                w.fixed(&m.sha256)
                    .u64(m.size)
                    .opt_text(m.name.as_deref())
                    .opt_text(m.media_type.as_deref())
                    .opt_text(m.description.as_deref());
            }
            Body::Authorize { key, name, role } => {
                crate::encoding::check_text("name", name, limits::SUBJECT)?;
                w.fixed(key).text(name).u8(role.code());
            }
            Body::Revoke {
                key,
                reason,
                effective,
            } => {
                w.fixed(key).u8(match reason {
                    RevokeReason::Retired => 0,
                    RevokeReason::Compromised => 1,
                });
                match effective {
                    Effective::Now => w.u8(0),
                    Effective::Seq(n) => w.u8(1).u64(*n),
                    Effective::Time(t) => w.u8(2).u64(*t),
                };
            }
            Body::Transfer {
                exhibit,
                to,
                reason,
                location,
            } => {
                crate::encoding::check_text("reason", reason, limits::DESCRIPTION)?;
                check_opt("location", location.as_deref(), limits::LOCATION)?;
                w.u64(*exhibit)
                    .fixed(to)
                    .text(reason)
                    .opt_text(location.as_deref());
            }
            Body::Accept { transfer } | Body::Cancel { transfer } => {
                w.u64(*transfer);
            }
            Body::LedgerKey { key } => {
                w.fixed(key);
            }
            Body::Amend(a) => {
                crate::encoding::check_text("reason", &a.reason, limits::DESCRIPTION)?;
                check_opt("description", a.description.as_deref(), limits::DESCRIPTION)?;
                w.u64(a.target)
                    .text(&a.reason)
                    .opt_text(a.description.as_deref());
                match &a.content {
                    None => w.u8(0),
                    Some((c, len)) => w.u8(1).fixed(c).u64(*len),
                };
            }
            Body::SealTo { recipients } => {
                check_recipient_count(recipients.len())?;
                w.u8(recipients.len() as u8);
                for k in recipients {
                    w.fixed(k);
                }
            }
            Body::Consent {
                target,
                target_statement,
                consent,
            } => {
                crate::encoding::check_text("consent", consent, limits::CONSENT)?;
                w.u64(*target).fixed(target_statement).text(consent);
            }
            Body::Erase {
                target,
                target_statement,
                reason,
            } => {
                crate::encoding::check_text("reason", reason, limits::DESCRIPTION)?;
                w.u64(*target).fixed(target_statement).text(reason);
            }
        }
        let bytes = w.finish();
        if bytes.len() > MAX_STATEMENT {
            return Err(DecodeError::TooLong {
                field: "statement",
                len: bytes.len(),
                max: MAX_STATEMENT,
            });
        }
        Ok(bytes)
    }

    /// Strict decoding: exact layout, bounded lengths, no trailing bytes. An error names
    /// the byte offset where it was found.
    pub fn decode(bytes: &[u8]) -> Result<Self, DecodeError> {
        Self::decode_at(bytes, 0)
    }

    /// [`Statement::decode`] of statement bytes that begin at byte `offset` of a larger
    /// encoding (a record), so that an error names its offset there.
    fn decode_at(bytes: &[u8], offset: usize) -> Result<Self, DecodeError> {
        let mut r = Reader::at(bytes, offset);
        Self::read(&mut r).map_err(|e| e.at(r.mark()))
    }

    fn read(r: &mut Reader) -> Result<Self, DecodeError> {
        let version = r.u8("statement version")?;
        if version != FORMAT_VERSION {
            return Err(DecodeError::UnsupportedVersion {
                what: "statement",
                found: version,
                supported: FORMAT_VERSION,
            });
        }
        let kind_at = r.position();
        let kind = r.u8("statement kind")?;
        let claimed_at_ms = r.u64("claimed time")?;
        let signer = r.array::<32>("signer key")?;
        let body = match kind {
            tag::GENESIS => {
                let origin = r.text("origin", limits::ORIGIN)?;
                check_origin(&origin)?;
                Body::Genesis { origin }
            }
            tag::TESTIMONY => Body::Testimony(Testimony {
                subject: r.text("subject", limits::SUBJECT)?,
                language: r.text("language", limits::LANGUAGE)?,
                consent: r.opt_text("consent", limits::CONSENT)?,
                location: r.opt_text("location", limits::LOCATION)?,
                commitment: r.array("commitment")?,
                content_len: r.u64("content length")?,
            }),
            tag::MEDIA => Body::Media(Media {
                sha256: r.array("media hash")?,
                size: r.u64("media size")?,
                name: r.opt_text("name", limits::NAME)?,
                media_type: r.opt_text("media type", limits::MEDIA_TYPE)?,
                description: r.opt_text("description", limits::DESCRIPTION)?,
            }),
            tag::AUTHORIZE => Body::Authorize {
                key: r.array("authorized key")?,
                name: r.text("name", limits::SUBJECT)?,
                role: Role::from_code(r.u8("role")?)?,
            },
            tag::REVOKE => Body::Revoke {
                key: r.array("revoked key")?,
                reason: match r.u8("revocation reason")? {
                    0 => RevokeReason::Retired,
                    1 => RevokeReason::Compromised,
                    tag => {
                        return Err(DecodeError::UnknownTag {
                            field: "revocation reason",
                            tag,
                        });
                    }
                },
                effective: match r.u8("effective")? {
                    0 => Effective::Now,
                    1 => Effective::Seq(r.u64("effective sequence")?),
                    2 => Effective::Time(r.u64("effective time")?),
                    tag => {
                        return Err(DecodeError::UnknownTag {
                            field: "effective",
                            tag,
                        });
                    }
                },
            },
            tag::TRANSFER => Body::Transfer {
                exhibit: r.u64("exhibit")?,
                to: r.array("receiver key")?,
                reason: r.text("reason", limits::DESCRIPTION)?,
                location: r.opt_text("location", limits::LOCATION)?,
            },
            tag::ACCEPT => Body::Accept {
                transfer: r.u64("transfer")?,
            },
            tag::LEDGER_KEY => Body::LedgerKey {
                key: r.array("ledger key")?,
            },
            tag::CANCEL => Body::Cancel {
                transfer: r.u64("transfer")?,
            },
            tag::AMEND => Body::Amend(Amendment {
                target: r.u64("target")?,
                reason: r.text("reason", limits::DESCRIPTION)?,
                description: r.opt_text("description", limits::DESCRIPTION)?,
                content: match r.u8("amended content")? {
                    0 => None,
                    1 => Some((r.array("commitment")?, r.u64("content length")?)),
                    tag => {
                        return Err(DecodeError::UnknownTag {
                            field: "amended content",
                            tag,
                        });
                    }
                },
            }),
            tag::SEAL_TO => {
                let n = r.u8("recipient count")? as usize;
                check_recipient_count(n)?;
                let mut recipients = Vec::with_capacity(n);
                for _ in 0..n {
                    recipients.push(r.array("recipient")?);
                }
                Body::SealTo { recipients }
            }
            tag::CONSENT => Body::Consent {
                target: r.u64("target")?,
                target_statement: r.array("target statement")?,
                consent: r.text("consent", limits::CONSENT)?,
            },
            tag::ERASE => Body::Erase {
                target: r.u64("target")?,
                target_statement: r.array("target statement")?,
                reason: r.text("reason", limits::DESCRIPTION)?,
            },
            tag => {
                // Named where the kind byte is, not where the reader stopped.
                return Err(DecodeError::UnknownTag {
                    field: "statement kind",
                    tag,
                }
                .at(kind_at));
            }
        };
        r.finish()?;
        Ok(Statement {
            claimed_at_ms,
            signer,
            body,
        })
    }
}

fn check_recipient_count(n: usize) -> Result<(), DecodeError> {
    if n == 0 || n > MAX_RECIPIENTS {
        return Err(DecodeError::BadValue {
            field: "recipient count",
            reason: format!("{n} recipients; a seal-to statement names 1 to {MAX_RECIPIENTS}"),
        });
    }
    Ok(())
}

fn check_opt(field: &'static str, v: Option<&str>, max: usize) -> Result<(), DecodeError> {
    match v {
        Some(s) => crate::encoding::check_text(field, s, max),
        None => Ok(()),
    }
}

/// An origin must also be a valid signed-note key name: printable, no spaces, no `+`.
pub fn check_origin(origin: &str) -> Result<(), DecodeError> {
    crate::encoding::check_text("origin", origin, limits::ORIGIN)?;
    if origin.chars().any(|c| c.is_whitespace() || c == '+') {
        return Err(DecodeError::BadText {
            field: "origin",
            reason: "must not contain spaces or '+' (it is also the checkpoint key name), e.g. example.org/custody/case-1".into(),
        });
    }
    Ok(())
}

/// A signed statement appended to the ledger.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    /// Position in the ledger, from 0.
    pub seq: u64,
    /// Leaf hash of the previous record; zeros for record 0.
    pub prev: Hash,
    /// The ledger's clock at append, unix milliseconds UTC.
    pub recorded_at_ms: u64,
    /// The statement's canonical bytes, exactly as signed.
    pub statement_bytes: Vec<u8>,
    /// The statement, decoded.
    pub statement: Statement,
    /// Ed25519 signature over `STATEMENT_LABEL || statement_bytes`.
    pub signature: [u8; 64],
}

impl Record {
    /// Canonical record bytes.
    pub fn encode(&self) -> Vec<u8> {
        let mut w = Writer::new();
        w.u8(FORMAT_VERSION)
            .u64(self.seq)
            .fixed(&self.prev)
            .u64(self.recorded_at_ms)
            .bytes(&self.statement_bytes)
            .fixed(&self.signature);
        w.finish()
    }

    /// Strict decoding of record bytes (the statement inside is decoded strictly too).
    pub fn decode(bytes: &[u8]) -> Result<Self, DecodeError> {
        if bytes.len() > MAX_RECORD {
            return Err(DecodeError::TooLong {
                field: "record",
                len: bytes.len(),
                max: MAX_RECORD,
            });
        }
        let mut r = Reader::new(bytes);
        let read = |r: &mut Reader| -> Result<_, DecodeError> {
            let version = r.u8("record version")?;
            if version != FORMAT_VERSION {
                return Err(DecodeError::UnsupportedVersion {
                    what: "record",
                    found: version,
                    supported: FORMAT_VERSION,
                });
            }
            let seq = r.u64("sequence")?;
            let prev = r.array("prev")?;
            let recorded_at_ms = r.u64("recorded time")?;
            // The statement's bytes follow its 4-byte length.
            let statement_at = r.position() + 4;
            let statement_bytes = r.bytes("statement", MAX_STATEMENT)?.to_vec();
            let signature = r.array::<64>("signature")?;
            r.finish()?;
            Ok((
                seq,
                prev,
                recorded_at_ms,
                statement_at,
                statement_bytes,
                signature,
            ))
        };
        let (seq, prev, recorded_at_ms, statement_at, statement_bytes, signature) =
            read(&mut r).map_err(|e| e.at(r.mark()))?;
        let statement = Statement::decode_at(&statement_bytes, statement_at)?;
        Ok(Record {
            seq,
            prev,
            recorded_at_ms,
            statement_bytes,
            statement,
            signature,
        })
    }
}

/// Whether record bytes hold a testimony or media statement, read from the kind byte alone
/// (record version, seq, prev, recorded time and statement length come first: 53 bytes,
/// then the statement's version and kind), so that a scan for the records that change key
/// authority need not decode evidence. Bytes too short to say are not evidence.
pub fn is_evidence_record(record_bytes: &[u8]) -> bool {
    const KIND_AT: usize = 1 + 8 + 32 + 8 + 4 + 1;
    matches!(
        record_bytes.get(KIND_AT),
        Some(&tag::TESTIMONY | &tag::MEDIA)
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn text() -> impl Strategy<Value = String> {
        "[a-zA-Z0-9 ._-]{1,20}"
    }
    fn opt() -> impl Strategy<Value = Option<String>> {
        proptest::option::of(text())
    }

    fn body() -> impl Strategy<Value = Body> {
        prop_oneof![
            "[a-z./-]{1,30}".prop_map(|origin| Body::Genesis { origin }),
            (
                text(),
                text(),
                opt(),
                opt(),
                any::<[u8; 32]>(),
                any::<u64>()
            )
                .prop_map(
                    |(subject, language, consent, location, commitment, content_len)| {
                        Body::Testimony(Testimony {
                            subject,
                            language,
                            consent,
                            location,
                            commitment,
                            content_len,
                        })
                    }
                ),
            (any::<[u8; 32]>(), any::<u64>(), opt(), opt(), opt()).prop_map(
                |(sha256, size, name, media_type, description)| Body::Media(Media {
                    sha256,
                    size,
                    name,
                    media_type,
                    description
                })
            ),
            any::<[u8; 32]>().prop_map(|key| Body::LedgerKey { key }),
            any::<u64>().prop_map(|transfer| Body::Cancel { transfer }),
            (any::<[u8; 32]>(), text(), 0u8..5).prop_map(|(key, name, r)| Body::Authorize {
                key,
                name,
                role: Role::from_code(r).unwrap()
            }),
            (any::<[u8; 32]>(), any::<bool>(), 0u8..3, any::<u64>()).prop_map(|(key, c, e, n)| {
                Body::Revoke {
                    key,
                    reason: if c {
                        RevokeReason::Compromised
                    } else {
                        RevokeReason::Retired
                    },
                    effective: match e {
                        0 => Effective::Now,
                        1 => Effective::Seq(n),
                        _ => Effective::Time(n),
                    },
                }
            }),
            (any::<u64>(), any::<[u8; 32]>(), text(), opt()).prop_map(
                |(exhibit, to, reason, location)| Body::Transfer {
                    exhibit,
                    to,
                    reason,
                    location
                }
            ),
            any::<u64>().prop_map(|transfer| Body::Accept { transfer }),
            (
                any::<u64>(),
                text(),
                opt(),
                proptest::option::of((any::<[u8; 32]>(), any::<u64>()))
            )
                .prop_map(|(target, reason, description, content)| Body::Amend(
                    Amendment {
                        target,
                        reason,
                        description,
                        content
                    }
                )),
            proptest::collection::vec(any::<[u8; 32]>(), 1..=MAX_RECIPIENTS)
                .prop_map(|recipients| Body::SealTo { recipients }),
            (any::<u64>(), any::<[u8; 32]>(), text()).prop_map(
                |(target, target_statement, consent)| Body::Consent {
                    target,
                    target_statement,
                    consent
                }
            ),
            (any::<u64>(), any::<[u8; 32]>(), text()).prop_map(
                |(target, target_statement, reason)| Body::Erase {
                    target,
                    target_statement,
                    reason
                }
            ),
        ]
    }

    proptest! {
        #[test]
        fn statement_and_record_round_trip(
            body in body(), claimed in any::<u64>(), signer in any::<[u8; 32]>(),
            seq in any::<u64>(), prev in any::<[u8; 32]>(), rec in any::<u64>(),
            sig in proptest::collection::vec(any::<u8>(), 64),
        ) {
            let st = Statement { claimed_at_ms: claimed, signer, body };
            let sb = st.encode().unwrap();
            prop_assert_eq!(&Statement::decode(&sb).unwrap(), &st);
            let mut signature = [0u8; 64];
            signature.copy_from_slice(&sig);
            let r = Record { seq, prev, recorded_at_ms: rec, statement_bytes: sb, statement: st, signature };
            let rb = r.encode();
            let back = Record::decode(&rb).unwrap();
            prop_assert_eq!(back.encode(), rb);
            prop_assert_eq!(back, r);
        }

        #[test]
        fn decoding_arbitrary_bytes_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..300)) {
            if let Ok(r) = Record::decode(&bytes) {
                prop_assert_eq!(r.encode(), bytes);
            }
        }

        #[test]
        fn every_truncation_is_rejected(body in body()) {
            let st = Statement { claimed_at_ms: 1, signer: [3; 32], body };
            let r = Record { seq: 1, prev: [2; 32], recorded_at_ms: 5, statement_bytes: st.encode().unwrap(), statement: st, signature: [9; 64] };
            let rb = r.encode();
            for cut in 0..rb.len() {
                prop_assert!(Record::decode(&rb[..cut]).is_err());
            }
        }
    }

    #[test]
    fn the_kind_byte_tells_evidence_without_decoding() {
        let rec = |body: Body| {
            let st = Statement {
                claimed_at_ms: 1,
                signer: [3; 32],
                body,
            };
            Record {
                seq: 1,
                prev: [2; 32],
                recorded_at_ms: 5,
                statement_bytes: st.encode().unwrap(),
                statement: st,
                signature: [9; 64],
            }
            .encode()
        };
        let media = Body::Media(Media {
            sha256: [1; 32],
            size: 1,
            name: None,
            media_type: None,
            description: None,
        });
        assert!(is_evidence_record(&rec(media)));
        assert!(!is_evidence_record(&rec(Body::Accept { transfer: 1 })));
        assert!(!is_evidence_record(&[1, 2, 3]));
    }

    #[test]
    fn unknown_kind_and_version_are_refused() {
        let st = Statement {
            claimed_at_ms: 1,
            signer: [0; 32],
            body: Body::Genesis {
                origin: "example.org/x".into(),
            },
        };
        let mut b = st.encode().unwrap();
        b[1] = 99;
        let e = Statement::decode(&b).unwrap_err();
        assert!(matches!(e.kind(), DecodeError::UnknownTag { tag: 99, .. }));
        assert_eq!(e.offset(), Some(1), "the kind byte");
        b[1] = 0;
        b[0] = 2;
        let e = Statement::decode(&b).unwrap_err();
        assert!(matches!(
            e.kind(),
            DecodeError::UnsupportedVersion { found: 2, .. }
        ));
        assert_eq!(e.offset(), Some(0));
    }

    #[test]
    fn origin_with_space_or_plus_is_refused() {
        assert!(check_origin("a b").is_err());
        assert!(check_origin("a+b").is_err());
        assert!(check_origin("example.org/log").is_ok());
    }
}
