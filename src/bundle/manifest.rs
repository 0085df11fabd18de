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

/// A witness's cosignature of an attested checkpoint.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct CosignatureInfo {
    /// The witness's name, as its key and signature line give it.
    pub witness: String,
    /// Its verifier key, `NAME+KEYID+BASE64` (type 0x04).
    pub key: String,
    /// When it cosigned, ms (a whole number of seconds).
    pub time_ms: u64,
    /// The same, RFC 3339.
    pub time: String,
}

/// A time-stamp token over an attested checkpoint.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct TimestampInfo {
    /// Member holding the DER time-stamp response.
    pub file: String,
    /// The token's serial number: lowercase hex of its DER content octets.
    pub serial: String,
    /// The stamped time, ms.
    pub time_ms: u64,
    /// The same, RFC 3339.
    pub time: String,
    /// SHA-256 (hex) of the DER of the certificate that signed the token.
    pub signer_certificate: String,
    /// Members holding the certificates (PEM, one each) the token leads to.
    pub certificates: Vec<String>,
}

/// A checkpoint of the ledger, at or below the bundle's, with what attests that it
/// existed: witnesses' cosignatures and time-stamp tokens (SPEC.md 11.2).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct Attestation {
    /// Its size.
    pub checkpoint_size: u64,
    /// Member holding the signed checkpoint exactly as the ledger keeps it:
    /// `checkpoint.txt` for the bundle's own, else `attest/SIZE/checkpoint.txt`.
    pub checkpoint_file: String,
    /// Consistency proof (base64 hashes) from it to the bundle's checkpoint.
    pub consistency_proof: Vec<String>,
    /// Member holding the checkpoint with the cosignature lines after its signature.
    pub cosigned_file: Option<String>,
    /// The cosignatures, in the order of their lines.
    pub cosignatures: Vec<CosignatureInfo>,
    /// The time-stamp tokens over it.
    pub timestamps: Vec<TimestampInfo>,
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
    /// Checkpoints with witnesses' cosignatures and time-stamp tokens.
    pub attestations: Vec<Attestation>,
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
    const TOP: [&str; 11] = [
        "format",
        "case",
        "include_failing",
        "exported_at",
        "exported_at_ms",
        "exporter",
        "ledger",
        "exhibits",
        "supporting",
        "attestations",
        "files",
    ];
    const ATTESTATION: [&str; 6] = [
        "checkpoint_size",
        "checkpoint_file",
        "consistency_proof",
        "cosigned_file",
        "cosignatures",
        "timestamps",
    ];
    const COSIGNATURE: [&str; 4] = ["witness", "key", "time_ms", "time"];
    const TIMESTAMP: [&str; 6] = [
        "file",
        "serial",
        "time_ms",
        "time",
        "signer_certificate",
        "certificates",
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
    for a in v["attestations"].as_array().into_iter().flatten() {
        exactly(a, "an attestation", &ATTESTATION)?;
        for x in a["cosignatures"].as_array().into_iter().flatten() {
            exactly(x, "a cosignature", &COSIGNATURE)?;
        }
        for x in a["timestamps"].as_array().into_iter().flatten() {
            exactly(x, "a timestamp", &TIMESTAMP)?;
        }
    }
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
    problems.extend(attestation_problems(m));
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

/// Lowercase hex of exactly `n` digits.
fn lower_hex(s: &str, n: usize) -> bool {
    s.len() == n
        && s.bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

/// The member naming a token of the attested checkpoint of `size` with this serial.
pub(super) fn timestamp_file(size: u64, serial: &str) -> String {
    format!("attest/{size}/{serial}.tsr")
}

/// The member holding an attested checkpoint of `size` below the bundle's.
pub(super) fn attested_checkpoint_file(size: u64, bundle_size: u64) -> String {
    if size == bundle_size {
        "checkpoint.txt".into()
    } else {
        format!("attest/{size}/checkpoint.txt")
    }
}

/// The member holding the cosigned checkpoint of `size`.
pub(super) fn cosigned_file(size: u64) -> String {
    format!("attest/{size}/cosigned.txt")
}

/// The member holding an authority's certificate with this DER SHA-256 (hex).
pub(super) fn certificate_file(sha256_hex: &str) -> String {
    format!("tsa/{sha256_hex}.pem")
}

/// SPEC.md 11.3 check 4 for `attestations`: names, order and times as 11.2 writes them.
pub(super) fn attestation_problems(m: &Manifest) -> Vec<String> {
    let mut problems = Vec::new();
    let n = m.ledger.checkpoint_size;
    let time_ok = |ms: u64, text: &str| {
        rules::check_representable("a time", ms).is_ok() && text == record::rfc3339(ms)
    };
    if !m
        .attestations
        .windows(2)
        .all(|w| w[0].checkpoint_size < w[1].checkpoint_size)
    {
        problems.push("attestations must be in strictly increasing checkpoint_size".into());
    }
    // Each exhibit brings at most two (its smallest stamped and cosigned checkpoints), and the
    // bundle's own checkpoint one.
    if m.attestations.len() > 2 * m.exhibits.len() + 1 {
        problems.push(format!(
            "{} attestations for {} exhibits: at most two per exhibit and one more",
            m.attestations.len(),
            m.exhibits.len()
        ));
    }
    use super::attest::{MAX_CERTS, MAX_COSIGNATURES, MAX_TOKENS, MAX_TOKENS_IN_ALL};
    let tokens: usize = m.attestations.iter().map(|a| a.timestamps.len()).sum();
    if tokens > MAX_TOKENS_IN_ALL {
        problems.push(format!(
            "{tokens} time-stamp tokens: a bundle carries at most {MAX_TOKENS_IN_ALL}"
        ));
    }
    for a in &m.attestations {
        let size = a.checkpoint_size;
        let at = format!("attestation of size {size}");
        if a.cosignatures.len() > MAX_COSIGNATURES
            || a.timestamps.len() > MAX_TOKENS
            || a.timestamps
                .iter()
                .any(|t| t.certificates.len() > MAX_CERTS)
        {
            problems.push(format!(
                "{at}: at most {MAX_COSIGNATURES} cosignatures, {MAX_TOKENS} tokens, and {MAX_CERTS} certificates a token"
            ));
            continue;
        }
        if size == 0 || size > n {
            problems.push(format!(
                "{at}: its size must be between 1 and the bundle's checkpoint size {n}"
            ));
            continue;
        }
        if a.checkpoint_file != attested_checkpoint_file(size, n) {
            problems.push(format!(
                "{at}: checkpoint_file must be {}",
                attested_checkpoint_file(size, n)
            ));
        }
        if (size == n) != a.consistency_proof.is_empty() {
            problems.push(format!(
                "{at}: a consistency proof is given exactly when its size is below the bundle's checkpoint's"
            ));
        }
        if a.cosignatures.is_empty() && a.timestamps.is_empty() {
            problems.push(format!(
                "{at}: it carries no cosignature and no time-stamp token"
            ));
        }
        let want_cosigned = (!a.cosignatures.is_empty()).then(|| cosigned_file(size));
        if a.cosigned_file != want_cosigned {
            problems.push(format!(
                "{at}: cosigned_file must be {} when it has cosignatures, and null otherwise",
                cosigned_file(size)
            ));
        }
        for c in &a.cosignatures {
            if c.time_ms % 1000 != 0 || !time_ok(c.time_ms, &c.time) {
                problems.push(format!(
                    "{at}: the cosignature time '{}' is not time_ms {} (a whole second, up to the year 9999)",
                    c.time.escape_debug(),
                    c.time_ms
                ));
            }
        }
        if !a.timestamps.windows(2).all(|w| w[0].file < w[1].file) {
            problems.push(format!(
                "{at}: timestamps must be in strictly increasing file"
            ));
        }
        for t in &a.timestamps {
            if t.serial.is_empty()
                || t.serial.len() % 2 != 0
                || t.serial.len() > 42
                || !lower_hex(&t.serial, t.serial.len())
                || t.file != timestamp_file(size, &t.serial)
            {
                problems.push(format!(
                    "{at}: a token's serial must be lowercase hex of at most 21 bytes and its file attest/{size}/SERIAL.tsr"
                ));
            }
            if !time_ok(t.time_ms, &t.time) {
                problems.push(format!(
                    "{at}: the stamped time '{}' is not time_ms {}",
                    t.time.escape_debug(),
                    t.time_ms
                ));
            }
            if !lower_hex(&t.signer_certificate, 64) {
                problems.push(format!(
                    "{at}: signer_certificate must be 64 lowercase hex digits"
                ));
            }
            let certs_ok = !t.certificates.is_empty()
                && t.certificates.windows(2).all(|w| w[0] < w[1])
                && t.certificates.iter().all(|f| {
                    f.strip_prefix("tsa/")
                        .and_then(|r| r.strip_suffix(".pem"))
                        .is_some_and(|h| lower_hex(h, 64))
                });
            if !certs_ok {
                problems.push(format!(
                    "{at}: a token's certificates must be one or more distinct tsa/SHA256.pem, in increasing order"
                ));
            }
        }
    }
    problems
}
