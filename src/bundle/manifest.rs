//! The signed manifest of a bundle (SPEC.md 11.2): its types, the names of key files,
//! and the shape checks that hold before any signature is looked at.

use crate::keys;
use crate::record::{self};
use crate::rules::{self};
use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};

/// The key that made the bundle.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct ExporterInfo {
    /// Public key, base64.
    pub public_key: String,
    /// Key ID.
    pub key_id: String,
    /// Fingerprint.
    pub fingerprint: String,
    /// Member holding its SPKI PEM.
    pub key_file: String,
}

/// The ledger the exhibits belong to.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct LedgerInfo {
    /// Origin.
    pub origin: String,
    /// Ledger public key, base64.
    pub public_key: String,
    /// Key ID.
    pub key_id: String,
    /// Fingerprint.
    pub fingerprint: String,
    /// Member holding its SPKI PEM.
    pub key_file: String,
    /// `checkpoint.txt`.
    pub checkpoint_file: String,
    /// Checkpoint tree size.
    pub checkpoint_size: u64,
    /// Checkpoint root, base64.
    pub checkpoint_root: String,
}

/// Revealed testimony text.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct ContentInfo {
    /// Member holding the text.
    pub file: String,
    /// The 32-byte salt, hex.
    pub salt: String,
}

/// One record of the ledger as a bundle presents it: an exhibit or a supporting record.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct RecordEntry {
    /// Sequence number.
    pub seq: u64,
    /// Kind.
    pub kind: String,
    /// Leaf hash, hex.
    pub leaf_hash: String,
    /// Previous leaf hash, hex.
    pub prev: String,
    /// Canonical record bytes, base64.
    pub record_bytes: String,
    /// Canonical statement bytes, base64.
    pub statement_bytes: String,
    /// Signature, base64.
    pub signature: String,
    /// Signer public key, base64.
    pub signer_key: String,
    /// Signer key ID.
    pub signer_key_id: String,
    /// Signer fingerprint.
    pub signer_fingerprint: String,
    /// Member holding the signer's SPKI PEM.
    pub signer_key_file: String,
    /// Claimed time, ms.
    pub claimed_at_ms: u64,
    /// Claimed time, RFC 3339.
    pub claimed_at: String,
    /// Recorded time, ms.
    pub recorded_at_ms: u64,
    /// Recorded time, RFC 3339.
    pub recorded_at: String,
    /// Decoded body.
    pub body: serde_json::Value,
    /// Member holding the tlog-proof.
    pub proof_file: String,
    /// Inclusion proof hashes, base64.
    pub inclusion_proof: Vec<String>,
}

/// An exhibit: a record, and what the bundle reveals of it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Exhibit {
    /// The record.
    #[serde(flatten)]
    pub entry: RecordEntry,
    /// Revealed content.
    pub content: Option<ContentInfo>,
    /// Reason consent was overridden.
    pub consent_override: Option<String>,
    /// Member holding the media file.
    pub media_file: Option<String>,
}

impl std::ops::Deref for Exhibit {
    type Target = RecordEntry;
    fn deref(&self) -> &RecordEntry {
        &self.entry
    }
}

/// A supporting record, and the text it reveals (an amendment's, of a revealed testimony).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Supporting {
    /// The record.
    #[serde(flatten)]
    pub entry: RecordEntry,
    /// Revealed content.
    pub content: Option<ContentInfo>,
}

impl std::ops::Deref for Supporting {
    type Target = RecordEntry;
    fn deref(&self) -> &RecordEntry {
        &self.entry
    }
}

/// The manifest (SPEC.md 11.2).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Manifest {
    /// [`FORMAT`].
    pub format: String,
    /// Case name.
    pub case: Option<String>,
    /// Why exhibits that fail their own checks were exported anyway.
    pub include_failing: Option<String>,
    /// Export time, RFC 3339.
    pub exported_at: String,
    /// Export time, ms.
    pub exported_at_ms: u64,
    /// Who made it.
    pub exporter: ExporterInfo,
    /// Which ledger.
    pub ledger: LedgerInfo,
    /// The exhibits.
    pub exhibits: Vec<Exhibit>,
    /// The records that say who signed the exhibits, who held them and which key signs
    /// checkpoints.
    pub supporting: Vec<Supporting>,
    /// Digest of every member but manifest.json, manifest.sig and SHA256SUMS.
    pub files: BTreeMap<String, String>,
}

pub(super) fn key_file(public: &[u8; 32]) -> String {
    format!("keys/{}.pub", keys::short_id(public))
}

/// A JSON value in which no object names a member twice: a repeated name is read one way by
/// one reader and another way by the next (RFC 8259 leaves it open), so a manifest with
/// one is refused wherever it occurs.
pub(super) struct UniqueNames;

impl<'de> Deserialize<'de> for UniqueNames {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        d.deserialize_any(UniqueNamesVisitor)
    }
}

struct UniqueNamesVisitor;

impl<'de> serde::de::Visitor<'de> for UniqueNamesVisitor {
    type Value = UniqueNames;
    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("JSON")
    }
    fn visit_bool<E>(self, _: bool) -> std::result::Result<UniqueNames, E> {
        Ok(UniqueNames)
    }
    fn visit_i64<E>(self, _: i64) -> std::result::Result<UniqueNames, E> {
        Ok(UniqueNames)
    }
    fn visit_u64<E>(self, _: u64) -> std::result::Result<UniqueNames, E> {
        Ok(UniqueNames)
    }
    fn visit_f64<E>(self, _: f64) -> std::result::Result<UniqueNames, E> {
        Ok(UniqueNames)
    }
    fn visit_str<E>(self, _: &str) -> std::result::Result<UniqueNames, E> {
        Ok(UniqueNames)
    }
    fn visit_unit<E>(self) -> std::result::Result<UniqueNames, E> {
        Ok(UniqueNames)
    }
    fn visit_seq<A: serde::de::SeqAccess<'de>>(
        self,
        mut s: A,
    ) -> std::result::Result<UniqueNames, A::Error> {
        while s.next_element::<UniqueNames>()?.is_some() {}
        Ok(UniqueNames)
    }
    fn visit_map<A: serde::de::MapAccess<'de>>(
        self,
        mut m: A,
    ) -> std::result::Result<UniqueNames, A::Error> {
        use serde::de::Error as _;
        let mut seen = BTreeSet::new();
        while let Some(k) = m.next_key::<String>()? {
            if !seen.insert(k.clone()) {
                return Err(A::Error::custom(format!(
                    "the member name {:?} appears twice in one object",
                    k
                )));
            }
            m.next_value::<UniqueNames>()?;
        }
        Ok(UniqueNames)
    }
}

/// Every object of the manifest has exactly the members of SPEC.md 11.2: no unknown one
/// (serde cannot refuse them through the flattened records) and no missing one (serde
/// would read a missing optional member as null).
pub(super) fn check_exhibit_members(manifest: &[u8]) -> std::result::Result<(), String> {
    const RECORD: [&str; 18] = [
        "seq",
        "kind",
        "leaf_hash",
        "prev",
        "record_bytes",
        "statement_bytes",
        "signature",
        "signer_key",
        "signer_key_id",
        "signer_fingerprint",
        "signer_key_file",
        "claimed_at_ms",
        "claimed_at",
        "recorded_at_ms",
        "recorded_at",
        "body",
        "proof_file",
        "inclusion_proof",
    ];
    const EXHIBIT: [&str; 3] = ["content", "consent_override", "media_file"];
    const SUPPORTING: [&str; 1] = ["content"];
    const TOP: [&str; 10] = [
        "format",
        "case",
        "include_failing",
        "exported_at",
        "exported_at_ms",
        "exporter",
        "ledger",
        "exhibits",
        "supporting",
        "files",
    ];
    const EXPORTER: [&str; 4] = ["public_key", "key_id", "fingerprint", "key_file"];
    const LEDGER: [&str; 8] = [
        "origin",
        "public_key",
        "key_id",
        "fingerprint",
        "key_file",
        "checkpoint_file",
        "checkpoint_size",
        "checkpoint_root",
    ];
    const CONTENT: [&str; 2] = ["file", "salt"];
    serde_json::from_slice::<UniqueNames>(manifest).map_err(|e| format!("manifest.json: {e}"))?;
    let v: serde_json::Value =
        serde_json::from_slice(manifest).map_err(|e| format!("manifest.json: {e}"))?;
    let exactly = |x: &serde_json::Value, what: &str, want: &[&str]| {
        let Some(o) = x.as_object() else {
            return Err(format!("{what} is not an object"));
        };
        let keys: BTreeSet<&str> = o.keys().map(String::as_str).collect();
        let want: BTreeSet<&str> = want.iter().copied().collect();
        if keys != want {
            return Err(format!(
                "{what}'s members differ from the format's: unknown {:?}, missing {:?}",
                keys.difference(&want).collect::<Vec<_>>(),
                want.difference(&keys).collect::<Vec<_>>()
            ));
        }
        Ok(())
    };
    exactly(&v, "the manifest", &TOP)?;
    exactly(&v["exporter"], "exporter", &EXPORTER)?;
    exactly(&v["ledger"], "ledger", &LEDGER)?;
    for list in ["exhibits", "supporting"] {
        for x in v[list].as_array().into_iter().flatten() {
            if !x["content"].is_null() {
                exactly(&x["content"], "a content", &CONTENT)?;
            }
        }
    }
    for (list, what, extra) in [
        ("exhibits", "an exhibit", &EXHIBIT[..]),
        ("supporting", "a supporting record", &SUPPORTING[..]),
    ] {
        for ex in v[list].as_array().into_iter().flatten() {
            let keys: BTreeSet<&str> = ex
                .as_object()
                .ok_or(format!("{what} is not an object"))?
                .keys()
                .map(String::as_str)
                .collect();
            let allowed: BTreeSet<&str> = RECORD.iter().chain(extra.iter()).copied().collect();
            if keys != allowed {
                return Err(format!(
                    "{what}'s members differ from the format's: unknown {:?}, missing {:?}",
                    keys.difference(&allowed).collect::<Vec<_>>(),
                    allowed.difference(&keys).collect::<Vec<_>>()
                ));
            }
        }
    }
    Ok(())
}

pub(super) fn decode_key(b64: &str) -> std::result::Result<[u8; 32], String> {
    B64.decode(b64)
        .ok()
        .and_then(|v| v.try_into().ok())
        .ok_or_else(|| format!("'{b64}' is not a base64 32-byte key"))
}

/// SPEC.md 11.3 check 4: members that must agree with what they derive from.
pub(super) fn manifest_field_problems(m: &Manifest) -> Vec<String> {
    let mut problems = Vec::new();
    if rules::check_representable("exported_at_ms", m.exported_at_ms).is_err() {
        problems.push(format!(
            "exported_at_ms {} is beyond the year 9999",
            m.exported_at_ms
        ));
    } else if m.exported_at != record::rfc3339(m.exported_at_ms) {
        problems.push(format!(
            "exported_at '{}' is not exported_at_ms {} ({})",
            m.exported_at.escape_debug(),
            m.exported_at_ms,
            record::rfc3339(m.exported_at_ms)
        ));
    }
    if m.include_failing
        .as_deref()
        .is_some_and(|r| r.trim().is_empty())
    {
        problems.push("include_failing is an empty reason".into());
    }
    if m.exhibits.iter().any(|e| {
        e.consent_override
            .as_deref()
            .is_some_and(|r| r.trim().is_empty())
    }) {
        problems.push("a consent_override is an empty reason".into());
    }
    if m.ledger.checkpoint_file != "checkpoint.txt" {
        problems.push(format!(
            "ledger.checkpoint_file is '{}', not checkpoint.txt",
            m.ledger.checkpoint_file.escape_debug()
        ));
    }
    let increasing = |seqs: Vec<u64>| seqs.windows(2).all(|w| w[0] < w[1]);
    if !increasing(m.exhibits.iter().map(|e| e.seq).collect())
        || !increasing(m.supporting.iter().map(|e| e.seq).collect())
    {
        problems.push("exhibits and supporting records must each be in strictly increasing seq, with no record twice".into());
    }
    for (what, public_key, key_id, fingerprint, file) in [
        (
            "exporter",
            &m.exporter.public_key,
            &m.exporter.key_id,
            &m.exporter.fingerprint,
            &m.exporter.key_file,
        ),
        (
            "ledger",
            &m.ledger.public_key,
            &m.ledger.key_id,
            &m.ledger.fingerprint,
            &m.ledger.key_file,
        ),
    ] {
        match decode_key(public_key) {
            Ok(k) => {
                if key_id != &keys::short_id(&k)
                    || fingerprint != &keys::fingerprint_string(&k)
                    || file != &key_file(&k)
                {
                    problems.push(format!(
                        "{what}: key_id, fingerprint or key_file is not that of its public_key"
                    ));
                }
            }
            Err(e) => problems.push(format!("{what}: {e}")),
        }
    }
    problems
}
