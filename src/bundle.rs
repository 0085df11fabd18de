//! Court bundles: one ZIP that proves chosen records belong to the ledger, checkable
//! offline, revealing nothing about any other record (SPEC.md section 11).
//!
//! [`export`] gathers each exhibit's record, inclusion proof, revealed content and keys,
//! signs the manifest, and writes a deterministic archive. [`verify_bundle`] checks a
//! bundle without extracting anything: every member is vetted from the central directory
//! before a byte of it is read, then read in memory (media streamed through SHA-256) under
//! enforced size limits.

use crate::checkpoint::{Checkpoint, open_checkpoint};
use crate::error::{Error, Result};
use crate::keys;
use crate::ledger::{Check, Ledger};
use crate::merkle;
use crate::proof::InclusionProofText;
use crate::record::{self, Body, Record, RecordView, leaf_hash};
use crate::rules::{self, Code, Violation};
use crate::{Hash, report};
use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use ed25519_dalek::SigningKey;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::collections::{BTreeMap, BTreeSet};
use std::io::{Read, Seek, Write};
use std::path::PathBuf;
use thiserror::Error;

/// Format tag of the manifest.
pub const FORMAT: &str = "custody-bundle/v1";
/// Largest non-media member, in bytes.
pub const MAX_MEMBER: u64 = 64 << 20;
/// Largest media member, in bytes.
pub const MAX_MEDIA: u64 = 1 << 40;
/// Most members in a bundle.
pub const MAX_MEMBERS: usize = 100_000;
/// Most bytes held in memory for all non-media members together.
pub const MAX_HELD: u64 = 1 << 30;
/// Compression ratio beyond which a member over 1 MiB is a bomb.
pub const MAX_RATIO: u64 = 100;

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

/// A media file to include, already hashed by the caller.
pub struct MediaSource {
    /// Its SHA-256.
    pub sha256: Hash,
    /// Its size.
    pub size: u64,
    /// Where it came from (for messages).
    pub label: String,
    /// Opens it for copying.
    pub open: Box<dyn Fn() -> std::io::Result<Box<dyn Read>>>,
}

/// What to export.
pub struct ExportRequest {
    /// Sequence numbers of the exhibits.
    pub seqs: Vec<u64>,
    /// Case name.
    pub case: Option<String>,
    /// Export time, unix ms: no earlier than the newest record the bundle holds, and no
    /// later than `now_ms`.
    pub exported_at_ms: u64,
    /// This machine's clock, unix ms.
    pub now_ms: u64,
    /// Reason to export testimony whose consent lacks court use.
    pub override_consent: Option<String>,
    /// Reason to export exhibits that fail their own checks.
    pub include_failing: Option<String>,
    /// Media files to include.
    pub media: Vec<MediaSource>,
}

fn key_file(public: &[u8; 32]) -> String {
    format!("keys/{}.pub", keys::short_id(public))
}

fn sha_hex(b: &[u8]) -> String {
    hex::encode(Sha256::digest(b))
}

/// The text a record reveals in a bundle, when its consent allows: a testimony's, or an
/// amendment's new text under the consent of the testimony it amends.
fn revealable(ledger: &Ledger, rec: &Record) -> Option<(Hash, u64, Option<String>)> {
    match &rec.statement.body {
        Body::Testimony(t) => Some((t.commitment, t.content_len, t.consent.clone())),
        Body::Amend(am) => am.content.map(|(c, len)| {
            let consent = match ledger.statement(am.target).map(|st| st.body) {
                Some(Body::Testimony(t)) => t.consent,
                _ => None,
            };
            (c, len, consent)
        }),
        _ => None,
    }
}

/// Reads a revealed text into `files` as `content/<seq>.txt`.
fn reveal(
    ledger: &Ledger,
    seq: u64,
    commitment: &Hash,
    len: u64,
    files: &mut BTreeMap<String, Vec<u8>>,
) -> Result<ContentInfo> {
    let (salt, text) = ledger
        .store()
        .read_content(commitment, len)?
        .ok_or_else(|| Error::Damaged(format!("record {seq}: the text is missing")))?;
    let file = format!("content/{seq}.txt");
    files.insert(file.clone(), text);
    Ok(ContentInfo {
        file,
        salt: hex::encode(&salt),
    })
}

/// Writes a bundle of the requested exhibits to `out`; returns the manifest.
pub fn export<W: Write + Seek>(
    ledger: &Ledger,
    exporter: &SigningKey,
    req: ExportRequest,
    out: W,
) -> Result<Manifest> {
    let seqs: BTreeSet<u64> = req.seqs.iter().copied().collect();
    if seqs.is_empty() {
        return Err(Error::Input("name at least one record to export".into()));
    }
    if let Some(c) = &req.case {
        crate::encoding::check_text("case", c, 256)?;
    }
    for (what, r) in [
        ("override reason", &req.override_consent),
        ("include-failing reason", &req.include_failing),
    ] {
        if let Some(r) = r {
            crate::encoding::check_text(what, r, 4096)?;
            if r.trim().is_empty() {
                return Err(Error::Input(format!(
                    "the {what} is empty; say why, in words a court can read"
                )));
            }
        }
    }
    rules::check_representable("the export time", req.exported_at_ms)
        .map_err(|v| Error::Input(format!("{v}; give --export-time a time up to 9999-12-31")))?;
    if req.exported_at_ms > req.now_ms {
        return Err(Error::Input(format!(
            "the export time {} is later than this machine's clock ({}); a bundle cannot be dated in the future: give --export-time a time up to now",
            record::rfc3339(req.exported_at_ms),
            record::rfc3339(req.now_ms)
        )));
    }
    let exporter_pk = exporter.verifying_key().to_bytes();
    // Only a key the ledger holds active now may speak for it in court.
    ledger
        .authority()
        .active(&exporter_pk, ledger.size())
        .map_err(|v| {
            Error::Input(format!(
                "the exporting key may not export from this ledger: {v}; export with a key the ledger authorises and has not revoked"
            ))
        })?;
    let (cp, cp_text) = ledger.latest_checkpoint()?.ok_or_else(|| {
        Error::Input("the ledger has no signed checkpoint; run `custody checkpoint`".into())
    })?;
    // The index only says where the authority records are: the state it gave must be the
    // one the journal establishes, or a hidden revocation could reach a court.
    ledger.check_authority_against_journal()?;
    // A record the index has not yet taken in might be a revocation: recover first.
    let unindexed = ledger.unindexed_bytes()?;
    if unindexed > 0 {
        return Err(Error::Input(format!(
            "the journal holds {unindexed} bytes of records the index has not taken in (an append was interrupted), and they may change what this bundle proves; run `custody recover`, sign a checkpoint, and export again"
        )));
    }
    // A record beyond the checkpoint that can change a verdict (a revocation, a hand-over,
    // a new ledger key...) cannot go into the bundle: it would prove a stale truth.
    if let Some(s) = ledger
        .store()
        .authority_seqs()?
        .into_iter()
        .find(|&s| s >= cp.size)
    {
        let kind = rules::a_kind(ledger.statement(s).map_or("authority", |st| st.body.kind()));
        return Err(Error::Input(format!(
            "record {s} ({kind} record) is not yet covered by the latest checkpoint ({} records), and it may change what this bundle proves; sign a checkpoint with the ledger key in force (`custody checkpoint`) and export again",
            cp.size
        )));
    }
    if seqs.contains(&0) {
        return Err(Error::Input(
            "record 0 is the ledger's genesis: every bundle carries it as a supporting record; name the exhibits after it".into(),
        ));
    }
    let mut files: BTreeMap<String, Vec<u8>> = BTreeMap::new();
    let mut public_keys: BTreeMap<String, [u8; 32]> = BTreeMap::new();
    // The key that signed the checkpoint: the ledger key in force at its size.
    let ledger_key = ledger.ledger_key_at(cp.size);
    public_keys.insert(key_file(&ledger_key), ledger_key);
    public_keys.insert(key_file(&exporter_pk), exporter_pk);
    let mut exhibits = Vec::new();
    let mut media_by_hash: BTreeMap<Hash, usize> = BTreeMap::new();
    let mut any_exhibit_fails = false;
    // The override that applies to each testimony whose text is revealed.
    let mut revealed_overrides: BTreeMap<u64, Option<String>> = BTreeMap::new();
    for &seq in &seqs {
        if seq >= ledger.size() {
            return Err(Error::Input(format!(
                "there is no record {seq}: the ledger has records 0 to {}",
                ledger.size().saturating_sub(1)
            )));
        }
        if seq >= cp.size {
            return Err(Error::Input(format!(
                "record {seq} is not covered by the latest checkpoint ({} records); run `custody checkpoint` first",
                cp.size
            )));
        }
        let report = ledger.verify_record(seq)?;
        let failing: Vec<&Check> = report.checks.iter().filter(|c| !c.passed).collect();
        if let Some(c) = failing.iter().find(|c| !c.code.is_evidence_verdict()) {
            return Err(Error::Damaged(format!(
                "record {seq} cannot be exported: {} [{}]: {}",
                c.name, c.code, c.detail
            )));
        }
        any_exhibit_fails |= !failing.is_empty();
        if !failing.is_empty() && req.include_failing.is_none() {
            return Err(Error::Failing(format!(
                "record {seq} fails its own checks ({}); nothing was written. A court may still need it: export it with --include-failing REASON, and the bundle records the reason and shows these checks first",
                failing
                    .iter()
                    .map(|c| format!("[{}] {}", c.code, c.detail))
                    .collect::<Vec<_>>()
                    .join("; ")
            )));
        }
        let (entry, rec) =
            record_entry(ledger, seq, cp.size, &cp_text, &mut files, &mut public_keys)?;
        let mut content = None;
        let mut consent_override = None;
        if let Body::Media(m) = &rec.statement.body {
            media_by_hash.insert(m.sha256, exhibits.len());
        }
        if let Some((commitment, len, consent)) = revealable(ledger, &rec) {
            if !rules::consent_allows_court(consent.as_deref()) {
                match &req.override_consent {
                    Some(reason) => consent_override = Some(reason.clone()),
                    None => {
                        return Err(Error::Input(format!(
                            "record {seq}: the witness's consent ({}) does not allow court use; \
                             export it only with --override-consent REASON, and the reason will be recorded in the bundle",
                            consent.as_deref().unwrap_or("none recorded")
                        )));
                    }
                }
            }
            if let Body::Amend(am) = &rec.statement.body
                && !seqs.contains(&am.target)
                && consent_override.is_none()
            {
                return Err(Error::Input(format!(
                    "record {seq} corrects the text of record {}: export record {} with it, so that the bundle shows the witness's consent, or give --override-consent REASON",
                    am.target, am.target
                )));
            }
            content = Some(reveal(ledger, seq, &commitment, len, &mut files)?);
            if matches!(rec.statement.body, Body::Testimony(_)) {
                revealed_overrides.insert(seq, consent_override.clone());
            }
        }
        exhibits.push(Exhibit {
            entry,
            content,
            consent_override,
            media_file: None,
        });
    }
    // The records that say who signed the exhibits, who held them and which key signs
    // checkpoints (SPEC.md 11.2); an amendment of a revealed testimony reveals its text too.
    let mut supporting_seqs = supporting_records(ledger, &seqs, cp.size);
    supporting_seqs.retain(|s| !seqs.contains(s));
    let mut supporting = Vec::new();
    for seq in supporting_seqs {
        let (entry, rec) =
            record_entry(ledger, seq, cp.size, &cp_text, &mut files, &mut public_keys)?;
        let content = match (&rec.statement.body, revealable(ledger, &rec)) {
            (Body::Amend(a), Some((commitment, len, _)))
                if revealed_overrides.contains_key(&a.target) =>
            {
                Some(reveal(ledger, seq, &commitment, len, &mut files)?)
            }
            _ => None,
        };
        supporting.push(Supporting { entry, content });
    }
    for e in exhibits
        .iter()
        .map(|e| &e.entry)
        .chain(supporting.iter().map(|s| &s.entry))
    {
        for t in [e.claimed_at_ms, e.recorded_at_ms] {
            rules::check_representable(&format!("a time of record {}", e.seq), t)
                .map_err(|v| Error::Input(format!("{v}; this record cannot go into a bundle")))?;
        }
        if e.recorded_at_ms > req.exported_at_ms {
            return Err(Error::Input(format!(
                "the export time {} is before record {}, which the bundle holds, was recorded ({}); a bundle cannot predate what it proves: give --export-time a later time, or leave it out to export at the current time",
                record::rfc3339(req.exported_at_ms),
                e.seq,
                record::rfc3339(e.recorded_at_ms)
            )));
        }
    }
    // Media copies: each must be the file of an exported record.
    let mut media_members: Vec<(String, &MediaSource)> = Vec::new();
    for m in &req.media {
        let Some(&i) = media_by_hash.get(&m.sha256) else {
            return Err(Error::Input(format!(
                "{}: its SHA-256 {} matches no media record being exported; add the record's number or leave the file out",
                m.label,
                hex::encode(m.sha256)
            )));
        };
        let name = format!("media/{}", hex::encode(m.sha256));
        if exhibits[i].media_file.is_none() {
            exhibits[i].media_file = Some(name.clone());
            media_members.push((name, m));
        }
    }
    for (name, pk) in &public_keys {
        files.insert(
            name.clone(),
            keys::public_pem(
                &ed25519_dalek::VerifyingKey::from_bytes(pk).map_err(|_| {
                    Error::Damaged("a stored public key is not a valid point".into())
                })?,
            )
            .into_bytes(),
        );
    }
    files.insert("checkpoint.txt".into(), cp_text.clone().into_bytes());
    let mut manifest = Manifest {
        format: FORMAT.into(),
        case: req.case.clone(),
        include_failing: req.include_failing.clone(),
        exported_at: record::rfc3339(req.exported_at_ms),
        exported_at_ms: req.exported_at_ms,
        exporter: ExporterInfo {
            public_key: B64.encode(exporter_pk),
            key_id: keys::short_id(&exporter_pk),
            fingerprint: keys::fingerprint_string(&exporter_pk),
            key_file: key_file(&exporter_pk),
        },
        ledger: LedgerInfo {
            origin: ledger.origin().to_owned(),
            public_key: B64.encode(ledger_key),
            key_id: keys::short_id(&ledger_key),
            fingerprint: keys::fingerprint_string(&ledger_key),
            key_file: key_file(&ledger_key),
            checkpoint_file: "checkpoint.txt".into(),
            checkpoint_size: cp.size,
            checkpoint_root: B64.encode(cp.root),
        },
        exhibits,
        supporting,
        files: BTreeMap::new(),
    };
    // The two informative files are rendered from the manifest and the outcome of the
    // record checks the bundle itself supports, exactly as `verify-bundle` renders them again.
    let mut members: BTreeMap<String, Member> = files
        .iter()
        .map(|(n, b)| (n.clone(), Member::held(b.clone())))
        .collect();
    for (name, m) in &media_members {
        members.insert(name.clone(), Member::streamed(m.sha256, m.size));
    }
    // A bundle that would fail its own record checks (an exhibit, or a record of its
    // custody or authority chain, signed after a compromise...) is written only on purpose.
    let mut checks = Checks(Vec::new());
    record_checks(&manifest, &members, Some(&cp), &mut checks);
    let failing: Vec<&Check> = checks
        .0
        .iter()
        .filter(|c| !c.passed && c.code != Code::IncludedFailing)
        .collect();
    if req.include_failing.is_some() && failing.is_empty() && !any_exhibit_fails {
        return Err(Error::Input(
            "nothing in this bundle fails its checks; leave out --include-failing (a bundle that carries it never verifies as passed)".into(),
        ));
    }
    if !failing.is_empty() && req.include_failing.is_none() {
        return Err(Error::Failing(format!(
            "the bundle would fail {} of its own checks ({}); nothing was written. A court may still need it: export with --include-failing REASON, and the bundle records the reason and shows these checks first",
            failing.len(),
            failing
                .iter()
                .map(|c| format!("{} [{}]: {}", c.name, c.code, c.detail))
                .collect::<Vec<_>>()
                .join("; ")
        )));
    }
    let (report_html, verify_txt) = render_informative(&manifest, &checks.0);
    files.insert("VERIFY.txt".into(), verify_txt.into_bytes());
    files.insert("report.html".into(), report_html.into_bytes());
    let mut digests: BTreeMap<String, String> =
        files.iter().map(|(k, v)| (k.clone(), sha_hex(v))).collect();
    for (name, m) in &media_members {
        digests.insert(name.clone(), hex::encode(m.sha256));
    }
    manifest.files = digests.clone();
    let mut manifest_bytes = serde_json::to_vec_pretty(&manifest)
        .map_err(|e| Error::Damaged(format!("manifest encoding: {e}")))?;
    manifest_bytes.push(b'\n');
    let sig = keys::sign(exporter, &manifest_bytes);
    digests.insert("manifest.json".into(), sha_hex(&manifest_bytes));
    digests.insert("manifest.sig".into(), sha_hex(&sig));
    let sums: String = digests.iter().map(|(n, d)| format!("{d}  {n}\n")).collect();
    write_zip(out, &manifest_bytes, &sig, &sums, &files, &media_members)?;
    Ok(manifest)
}

/// `report.html` and `VERIFY.txt`: a deterministic function of the manifest (its `files`
/// aside, which list their digests) and the outcome of the record checks, so that
/// `verify-bundle` can render them again and compare (SPEC.md 11.3, check 14).
fn render_informative(manifest: &Manifest, record_checks: &[Check]) -> (String, String) {
    let mut m = manifest.clone();
    m.files = BTreeMap::new();
    (report::html(&m, record_checks), report::verify_txt(&m))
}

/// A JSON value in which no object names a member twice: a repeated name is read one way by
/// one reader and another way by the next (RFC 8259 leaves it open), so a manifest with
/// one is refused wherever it occurs.
struct UniqueNames;

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
fn check_exhibit_members(manifest: &[u8]) -> std::result::Result<(), String> {
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

/// A record as a bundle presents it, with its proof file and its signer's key file added.
fn record_entry(
    ledger: &Ledger,
    seq: u64,
    size: u64,
    cp_text: &str,
    files: &mut BTreeMap<String, Vec<u8>>,
    public_keys: &mut BTreeMap<String, [u8; 32]>,
) -> Result<(RecordEntry, Record)> {
    let (rec, bytes) = ledger.record(seq)?;
    let view = RecordView::new(&rec, &bytes);
    let proof = merkle::inclusion_proof(ledger.store(), seq, size)?;
    let proof_file = format!("proofs/{seq}.tlog-proof");
    files.insert(
        proof_file.clone(),
        InclusionProofText {
            index: seq,
            extra: None,
            hashes: proof.clone(),
            checkpoint: cp_text.to_owned(),
        }
        .format()
        .into_bytes(),
    );
    let signer = rec.statement.signer;
    public_keys.insert(key_file(&signer), signer);
    let entry = RecordEntry {
        seq,
        kind: view.kind.to_owned(),
        leaf_hash: view.leaf_hash,
        prev: view.prev,
        record_bytes: view.record_bytes,
        statement_bytes: view.statement_bytes,
        signature: view.signature,
        signer_key: view.signer_key,
        signer_key_id: view.signer_key_id,
        signer_fingerprint: view.signer_fingerprint,
        signer_key_file: key_file(&signer),
        claimed_at_ms: view.claimed_at_ms,
        claimed_at: view.claimed_at,
        recorded_at_ms: view.recorded_at_ms,
        recorded_at: view.recorded_at,
        body: view.body,
        proof_file,
        inclusion_proof: proof.iter().map(|h| B64.encode(h)).collect(),
    };
    Ok((entry, rec))
}

/// The supporting records of SPEC.md 11.2: the smallest set below `size`, exhibits aside,
/// that holds record 0 and every ledger-key record, every transfer, acceptance,
/// cancellation and amendment of each exhibit, the authorising record and every
/// revocation of each involved key (signers, receivers, ledger keys), and for each
/// revocation that ends an admin, the authorisation of another admin then active.
fn supporting_records(ledger: &Ledger, exhibits: &BTreeSet<u64>, size: u64) -> BTreeSet<u64> {
    let authority = ledger.authority();
    let mut records: BTreeSet<u64> = BTreeSet::from([0]);
    let mut keys_in: Vec<[u8; 32]> = Vec::new();
    for (m, k) in authority.ledger_keys() {
        records.insert(*m);
        keys_in.push(*k);
    }
    for &ex in exhibits {
        for (t, ts) in authority.transfers_of(ex) {
            records.extend([Some(t), ts.accepted, ts.cancelled].into_iter().flatten());
        }
        records.extend(authority.amendments_of(ex).iter().copied());
    }
    records.retain(|&s| s < size);
    let mut done_keys: BTreeSet<[u8; 32]> = BTreeSet::new();
    let mut todo: Vec<u64> = records.iter().chain(exhibits.iter()).copied().collect();
    loop {
        // Each record brings in its signer and, for a transfer, its receiver.
        while let Some(seq) = todo.pop() {
            let Some(st) = ledger.statement(seq) else {
                continue;
            };
            keys_in.push(st.signer);
            match st.body {
                Body::Transfer { to, .. } => keys_in.push(to),
                Body::Revoke { key, .. } => {
                    // Another admin active then, so that "not the last admin" is checkable.
                    if authority
                        .key(&key)
                        .is_some_and(|k| k.role == crate::record::Role::Admin)
                        && let Some((_, other)) = authority.other_admin_at(seq, &key)
                        && other.authorized_at < size
                        && records.insert(other.authorized_at)
                    {
                        todo.push(other.authorized_at);
                    }
                }
                _ => {}
            }
        }
        // Each key brings in its authorising record and its revocations.
        let mut added = false;
        while let Some(k) = keys_in.pop() {
            if !done_keys.insert(k) {
                continue;
            }
            let Some(state) = authority.key(&k) else {
                continue;
            };
            for s in std::iter::once(state.authorized_at).chain(state.revocations()) {
                if s < size && records.insert(s) {
                    todo.push(s);
                    added = true;
                }
            }
        }
        if !added && todo.is_empty() {
            return records;
        }
    }
}

fn zip_err(e: zip::result::ZipError) -> Error {
    Error::Input(format!("cannot write the bundle: {e}"))
}

fn write_zip<W: Write + Seek>(
    out: W,
    manifest: &[u8],
    sig: &[u8],
    sums: &str,
    files: &BTreeMap<String, Vec<u8>>,
    media: &[(String, &MediaSource)],
) -> Result<()> {
    use zip::write::SimpleFileOptions;
    let base = SimpleFileOptions::default()
        .last_modified_time(zip::DateTime::default())
        .unix_permissions(0o644);
    let deflate = base.compression_method(zip::CompressionMethod::Deflated);
    let stored = base.compression_method(zip::CompressionMethod::Stored);
    let mut z = zip::ZipWriter::new(out);
    let w_err = |e: std::io::Error| Error::Input(format!("cannot write the bundle: {e}"));
    for (name, bytes, opt) in [
        ("manifest.json", manifest, deflate),
        ("manifest.sig", sig, stored),
        ("SHA256SUMS", sums.as_bytes(), deflate),
    ] {
        z.start_file(name, opt).map_err(zip_err)?;
        z.write_all(bytes).map_err(w_err)?;
    }
    for (name, bytes) in files {
        z.start_file(name.as_str(), deflate).map_err(zip_err)?;
        z.write_all(bytes).map_err(w_err)?;
    }
    for (name, m) in media {
        let opt = stored.large_file(m.size >= u32::MAX as u64);
        z.start_file(name.as_str(), opt).map_err(zip_err)?;
        let mut r = (m.open)().map_err(|e| Error::Input(format!("{}: {e}", m.label)))?;
        let mut h = Sha256::new();
        let mut buf = vec![0u8; 1 << 20];
        let mut n = 0u64;
        loop {
            let k = r
                .read(&mut buf)
                .map_err(|e| Error::Input(format!("{}: {e}", m.label)))?;
            if k == 0 {
                break;
            }
            h.update(&buf[..k]);
            z.write_all(&buf[..k]).map_err(w_err)?;
            n += k as u64;
        }
        if <[u8; 32]>::from(h.finalize()) != m.sha256 || n != m.size {
            return Err(Error::Input(format!(
                "{} changed while it was being copied into the bundle; try again",
                m.label
            )));
        }
    }
    z.finish().map_err(zip_err)?;
    Ok(())
}

/// Why a bundle could not be read at all (exit 2).
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum BundleError {
    /// Not a ZIP, or a ZIP that cannot be read.
    #[error("not a readable ZIP file: {0}")]
    NotZip(String),
    /// A member that must not be read.
    #[error("unsafe bundle, nothing was read from it: {0}")]
    Unsafe(String),
    /// An I/O error.
    #[error("{0}")]
    Io(String),
}

/// The outcome of verifying a bundle.
#[derive(Debug, Clone, Serialize)]
pub struct BundleReport {
    /// Every check, in order.
    pub checks: Vec<Check>,
    /// Whether keys were checked against a trust list.
    pub keys_trusted: bool,
    /// The manifest, when it parsed.
    #[serde(skip)]
    pub manifest: Option<Manifest>,
}

impl BundleReport {
    /// Whether every check passed.
    pub fn passed(&self) -> bool {
        self.checks.iter().all(|c| c.passed)
    }
}

/// Options for verification.
#[derive(Default)]
pub struct VerifyOptions {
    /// Trusted public keys; when non-empty, the ledger and exporter keys must be among them.
    pub trust: Vec<[u8; 32]>,
    /// A directory holding media files kept outside the bundle.
    pub media_dir: Option<PathBuf>,
}

/// Checks a member name against SPEC.md 11.1; the reason when unsafe.
fn unsafe_name(name: &[u8]) -> Option<String> {
    let Ok(s) = std::str::from_utf8(name) else {
        return Some("a member name is not UTF-8".into());
    };
    let shown = s.escape_debug();
    if s.is_empty() || s.len() > 255 {
        return Some(format!(
            "member name '{shown}' is empty or longer than 255 bytes"
        ));
    }
    if s.starts_with('/') || s.contains('\\') || s.contains(':') {
        return Some(format!(
            "member name '{shown}' is absolute or uses '\\' or ':'"
        ));
    }
    if s.chars().any(char::is_control) {
        return Some(format!(
            "member name '{shown}' contains a control character"
        ));
    }
    if s.split('/')
        .any(|seg| seg.is_empty() || seg == "." || seg == "..")
    {
        return Some(format!(
            "member name '{shown}' has an empty, '.' or '..' segment (path traversal)"
        ));
    }
    None
}

/// Whether a (safe) member name is one SPEC.md 11.1 allows.
fn known_name(name: &str) -> bool {
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    let hexn = |s: &str, n: usize| {
        s.len() == n
            && s.bytes()
                .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase())
    };
    match name {
        "manifest.json" | "manifest.sig" | "checkpoint.txt" | "SHA256SUMS" | "report.html"
        | "VERIFY.txt" => true,
        _ => {
            if let Some(r) = name
                .strip_prefix("proofs/")
                .and_then(|r| r.strip_suffix(".tlog-proof"))
            {
                digits(r)
            } else if let Some(r) = name
                .strip_prefix("keys/")
                .and_then(|r| r.strip_suffix(".pub"))
            {
                hexn(r, 8)
            } else if let Some(r) = name
                .strip_prefix("content/")
                .and_then(|r| r.strip_suffix(".txt"))
            {
                digits(r)
            } else if let Some(r) = name.strip_prefix("media/") {
                hexn(r, 64)
            } else {
                false
            }
        }
    }
}

struct Member {
    digest: Hash,
    /// Held for non-media members only.
    bytes: Option<Vec<u8>>,
    size: u64,
    /// Whether the archive's CRC-32 matched (a mismatch is an altered member, not an
    /// unreadable archive: the bytes were all read and their digest is compared below).
    crc_ok: bool,
}

impl Member {
    /// A member held in memory.
    fn held(bytes: Vec<u8>) -> Self {
        Member {
            digest: Sha256::digest(&bytes).into(),
            size: bytes.len() as u64,
            bytes: Some(bytes),
            crc_ok: true,
        }
    }

    /// A media member, known by its digest and size.
    fn streamed(digest: Hash, size: u64) -> Self {
        Member {
            digest,
            bytes: None,
            size,
            crc_ok: true,
        }
    }
}

/// Vets every member from the central directory, then reads them under the limits.
fn read_members<R: Read + Seek>(mut reader: R) -> Result<BTreeMap<String, Member>, BundleError> {
    crate::archive::check_layout(&mut reader).map_err(|e| {
        BundleError::Unsafe(format!("the ZIP structure is not one custody writes: {e}"))
    })?;
    reader
        .seek(std::io::SeekFrom::Start(0))
        .map_err(|e| BundleError::Io(e.to_string()))?;
    let mut z = zip::ZipArchive::new(reader).map_err(|e| BundleError::NotZip(e.to_string()))?;
    if z.len() > MAX_MEMBERS {
        return Err(BundleError::Unsafe(format!(
            "{} members, more than {MAX_MEMBERS}",
            z.len()
        )));
    }
    if z.has_duplicate_names() {
        return Err(BundleError::Unsafe("two members have the same name".into()));
    }
    let mut names = Vec::with_capacity(z.len());
    let mut lower = BTreeSet::new();
    for i in 0..z.len() {
        let f = z
            .by_index_raw(i)
            .map_err(|e| BundleError::NotZip(e.to_string()))?;
        if let Some(reason) = unsafe_name(f.name_raw()) {
            return Err(BundleError::Unsafe(reason));
        }
        let name = String::from_utf8_lossy(f.name_raw()).into_owned();
        if f.is_dir()
            || f.is_symlink()
            || f.unix_mode()
                .is_some_and(|m| m & 0o170000 != 0 && m & 0o170000 != 0o100000)
        {
            return Err(BundleError::Unsafe(format!(
                "member '{name}' is a link, directory or special file"
            )));
        }
        if f.encrypted() {
            return Err(BundleError::Unsafe(format!("member '{name}' is encrypted")));
        }
        if !matches!(
            f.compression(),
            zip::CompressionMethod::Stored | zip::CompressionMethod::Deflated
        ) {
            return Err(BundleError::Unsafe(format!(
                "member '{name}' uses an unsupported compression method"
            )));
        }
        let limit = if name.starts_with("media/") {
            MAX_MEDIA
        } else {
            MAX_MEMBER
        };
        if f.size() > limit {
            return Err(BundleError::Unsafe(format!(
                "member '{name}' is {} bytes, over the limit of {limit}",
                f.size()
            )));
        }
        if f.size() > (1 << 20) && f.size() / f.compressed_size().max(1) > MAX_RATIO {
            return Err(BundleError::Unsafe(format!(
                "member '{name}' expands {}x: a compression bomb",
                f.size() / f.compressed_size().max(1)
            )));
        }
        if !lower.insert(name.to_ascii_lowercase()) {
            return Err(BundleError::Unsafe(format!(
                "member '{name}' differs from another only by case"
            )));
        }
        names.push(name);
    }
    let mut out = BTreeMap::new();
    let mut held_total = 0u64;
    for (i, name) in names.into_iter().enumerate() {
        let f = z
            .by_index(i)
            .map_err(|e| BundleError::NotZip(e.to_string()))?;
        let declared = f.size();
        let media = name.starts_with("media/");
        // Enforce the declared size while reading, whatever the headers claim.
        let mut r = f.take(declared + 1);
        let mut h = Sha256::new();
        let mut held = Vec::new();
        let mut buf = vec![0u8; 1 << 16];
        let mut n = 0u64;
        let mut crc_ok = true;
        loop {
            let k = match r.read(&mut buf) {
                Ok(k) => k,
                // The zip reader checks the CRC-32 once the last byte is read.
                Err(e) if e.to_string() == "Invalid checksum" => {
                    crc_ok = false;
                    0
                }
                Err(e) => {
                    return Err(BundleError::Unsafe(format!(
                        "member '{name}' cannot be read: {e}"
                    )));
                }
            };
            if k == 0 {
                break;
            }
            n += k as u64;
            if n > declared {
                return Err(BundleError::Unsafe(format!(
                    "member '{name}' holds more bytes than it declares"
                )));
            }
            h.update(&buf[..k]);
            if !media {
                held_total += k as u64;
                if held_total > MAX_HELD {
                    return Err(BundleError::Unsafe(format!(
                        "the bundle's files other than media expand to more than {MAX_HELD} bytes"
                    )));
                }
                held.extend_from_slice(&buf[..k]);
            }
        }
        out.insert(
            name,
            Member {
                digest: h.finalize().into(),
                bytes: (!media).then_some(held),
                size: n,
                crc_ok,
            },
        );
    }
    Ok(out)
}

struct Checks(Vec<Check>);

impl Checks {
    fn add(
        &mut self,
        name: impl Into<String>,
        code: Code,
        r: std::result::Result<String, String>,
    ) -> bool {
        let ok = r.is_ok();
        self.0.push(Check::new(name, code, r));
        ok
    }
}

fn decode_key(b64: &str) -> std::result::Result<[u8; 32], String> {
    B64.decode(b64)
        .ok()
        .and_then(|v| v.try_into().ok())
        .ok_or_else(|| format!("'{b64}' is not a base64 32-byte key"))
}

fn key_file_holds(
    members: &BTreeMap<String, Member>,
    file: &str,
    key: &[u8; 32],
) -> std::result::Result<(), String> {
    let pem = members
        .get(file)
        .and_then(|m| m.bytes.as_ref())
        .ok_or_else(|| format!("{file} is missing"))?;
    // Exactly the canonical SPKI PEM of the key (SPEC.md 11.1): one text, so that no two
    // readers of the file can disagree on what it holds.
    let k = ed25519_dalek::VerifyingKey::from_bytes(key)
        .map_err(|_| format!("{file}: the key is not a valid point"))?;
    if pem.as_slice() != keys::public_pem(&k).as_bytes() {
        return Err(format!(
            "{file} is not exactly the SPKI PEM of key {}",
            keys::short_id(key)
        ));
    }
    Ok(())
}

/// Verifies a bundle (SPEC.md 11.3). `Err` only when it cannot be read safely.
pub fn verify_bundle<R: Read + Seek>(
    reader: R,
    opts: &VerifyOptions,
) -> Result<BundleReport, BundleError> {
    let members = read_members(reader)?;
    let mut c = Checks(Vec::new());
    c.add(
        "archive safety",
        Code::Archive,
        Ok(format!(
            "{} members; no links, traversal, duplicates or bombs",
            members.len()
        )),
    );
    let manifest = verify_parts(&members, opts, &mut c);
    Ok(BundleReport {
        checks: c.0,
        keys_trusted: !opts.trust.is_empty(),
        manifest,
    })
}

fn verify_parts(
    members: &BTreeMap<String, Member>,
    opts: &VerifyOptions,
    c: &mut Checks,
) -> Option<Manifest> {
    // 2. The required members.
    let required = [
        "manifest.json",
        "manifest.sig",
        "SHA256SUMS",
        "checkpoint.txt",
    ];
    let missing: Vec<&str> = required
        .iter()
        .copied()
        .filter(|n| !members.contains_key(*n))
        .collect();
    if !c.add(
        "required files",
        Code::Digests,
        if missing.is_empty() {
            Ok("manifest.json, manifest.sig, SHA256SUMS and checkpoint.txt are present".into())
        } else {
            Err(format!("missing: {}", missing.join(", ")))
        },
    ) {
        return None;
    }
    let held = |n: &str| {
        members
            .get(n)
            .and_then(|m| m.bytes.as_deref())
            .unwrap_or_default()
    };
    for name in members.keys() {
        if !known_name(name) {
            c.add(
                format!("file {name}"),
                Code::Digests,
                Err("an added file: not part of the bundle format".into()),
            );
        }
    }
    let bad_crc: Vec<&str> = members
        .iter()
        .filter(|(_, m)| !m.crc_ok)
        .map(|(n, _)| n.as_str())
        .collect();
    c.add(
        "zip CRC-32",
        Code::Digests,
        if bad_crc.is_empty() {
            Ok(format!("the CRC-32 of all {} members match", members.len()))
        } else {
            Err(format!(
                "altered inside the archive: {}",
                bad_crc.join(", ")
            ))
        },
    );
    // 3. SHA256SUMS.
    let sums = check_sums(held("SHA256SUMS"), members, c);
    // 4. The manifest.
    let manifest: Manifest = match serde_json::from_slice(held("manifest.json")) {
        Ok(m) => m,
        Err(e) => {
            c.add(
                "manifest",
                Code::Manifest,
                Err(format!("manifest.json is not a valid manifest: {e}")),
            );
            return None;
        }
    };
    if let Err(e) = check_exhibit_members(held("manifest.json")) {
        c.add("manifest", Code::Manifest, Err(e));
        return None;
    }
    c.add(
        "manifest format",
        Code::Manifest,
        if manifest.format == FORMAT {
            Ok(FORMAT.into())
        } else {
            Err(format!(
                "format is '{}', expected '{FORMAT}'",
                manifest.format
            ))
        },
    );
    let problems = manifest_field_problems(&manifest);
    c.add(
        "manifest fields",
        Code::Manifest,
        if problems.is_empty() {
            Ok(
                "the export time, the key fields and every time agree with what they derive from"
                    .into(),
            )
        } else {
            Err(problems.join("; "))
        },
    );
    let expected: BTreeSet<&String> = members
        .keys()
        .filter(|n| !["manifest.json", "manifest.sig", "SHA256SUMS"].contains(&n.as_str()))
        .collect();
    let listed: BTreeSet<&String> = manifest.files.keys().collect();
    let mut problems = Vec::new();
    for n in expected.difference(&listed) {
        problems.push(format!("{n} is in the bundle but not in the manifest"));
    }
    for n in listed.difference(&expected) {
        problems.push(format!(
            "{n} is in the manifest but missing from the bundle"
        ));
    }
    for (n, d) in &manifest.files {
        if let Some(m) = members.get(n)
            && &hex::encode(m.digest) != d
        {
            problems.push(format!(
                "{n} does not match the digest the signed manifest gives"
            ));
        }
        if let Some(s) = sums.as_ref().and_then(|s| s.get(n))
            && s != d
        {
            problems.push(format!("SHA256SUMS and the manifest disagree on {n}"));
        }
    }
    c.add(
        "manifest file list",
        Code::Digests,
        if problems.is_empty() {
            Ok(format!(
                "{} files, each matching its signed digest",
                manifest.files.len()
            ))
        } else {
            Err(problems.join("; "))
        },
    );
    // 5. Manifest signature.
    let exporter = decode_key(&manifest.exporter.public_key);
    c.add(
        "manifest signature",
        Code::ManifestSignature,
        exporter.clone().and_then(|pk| {
            let sig: [u8; 64] = held("manifest.sig")
                .try_into()
                .map_err(|_| "manifest.sig is not 64 bytes".to_string())?;
            keys::verify_strict(&pk, held("manifest.json"), &sig)
                .map_err(|e| format!("{e} (exporter key {})", keys::short_id(&pk)))?;
            key_file_holds(members, &manifest.exporter.key_file, &pk)?;
            Ok(format!(
                "manifest.json is signed by the exporting key {}",
                keys::short_id(&pk)
            ))
        }),
    );
    // 6. Checkpoint.
    let ledger_key = decode_key(&manifest.ledger.public_key);
    let cp = ledger_key.clone().and_then(|pk| {
        let text = std::str::from_utf8(held("checkpoint.txt"))
            .map_err(|_| "checkpoint.txt is not UTF-8".to_string())?;
        let cp = open_checkpoint(text, &manifest.ledger.origin, &pk).map_err(|e| e.to_string())?;
        if cp.size != manifest.ledger.checkpoint_size
            || B64.encode(cp.root) != manifest.ledger.checkpoint_root
        {
            return Err("the checkpoint's size or root differs from the manifest's".into());
        }
        key_file_holds(members, &manifest.ledger.key_file, &pk)?;
        Ok(cp)
    });
    c.add(
        "checkpoint signature",
        Code::CheckpointSignature,
        cp.as_ref()
            .map(|cp| {
                format!(
                    "checkpoint of {} records of ledger {} signed by the ledger key {}",
                    cp.size, manifest.ledger.origin, manifest.ledger.key_id
                )
            })
            .map_err(Clone::clone),
    );
    // 7-9, 11-13. Every record, the authority rules and the custody chains.
    let mut rc = Checks(Vec::new());
    let records = record_checks(&manifest, members, cp.as_ref().ok(), &mut rc);
    // 14. The informative files are what custody renders from the same facts.
    let (report_html, verify_txt) = render_informative(&manifest, &rc.0);
    for (name, rendered) in [("report.html", report_html), ("VERIFY.txt", verify_txt)] {
        if let Some(mm) = members.get(name) {
            c.add(
                format!("file {name}"),
                Code::Report,
                if mm.bytes.as_deref() == Some(rendered.as_bytes()) {
                    Ok("exactly what custody renders from the manifest and these checks".into())
                } else {
                    Err("differs from what custody renders from the manifest and these checks: the page, or the manifest it describes, was altered (and the manifest re-signed)".into())
                },
            );
        }
    }
    c.0.extend(rc.0);
    if let Some(dir) = &opts.media_dir {
        check_media_dir(&manifest, &records, dir, c);
    }
    // Every member must be one the manifest refers to.
    let mut referenced: BTreeSet<&str> = [
        "manifest.json",
        "manifest.sig",
        "SHA256SUMS",
        "checkpoint.txt",
        "report.html",
        "VERIFY.txt",
        manifest.exporter.key_file.as_str(),
        manifest.ledger.key_file.as_str(),
    ]
    .into_iter()
    .collect();
    for e in &manifest.supporting {
        referenced.insert(&e.signer_key_file);
        referenced.insert(&e.proof_file);
        if let Some(ci) = &e.content {
            referenced.insert(&ci.file);
        }
    }
    for e in &manifest.exhibits {
        referenced.insert(&e.signer_key_file);
        referenced.insert(&e.proof_file);
        if let Some(ci) = &e.content {
            referenced.insert(&ci.file);
        }
        if let Some(m) = &e.media_file {
            referenced.insert(m);
        }
    }
    for name in members.keys() {
        if known_name(name) && !referenced.contains(name.as_str()) {
            c.add(
                format!("file {name}"),
                Code::Digests,
                Err("an added file: nothing in the manifest refers to it".into()),
            );
        }
    }
    // 10. Trust.
    if !opts.trust.is_empty() {
        let trusted = |k: &std::result::Result<[u8; 32], String>| {
            k.as_ref().is_ok_and(|k| opts.trust.contains(k))
        };
        let mut bad = Vec::new();
        if !trusted(&ledger_key) {
            bad.push(format!(
                "the ledger key {} is not one you trust",
                manifest.ledger.key_id
            ));
        }
        if !trusted(&exporter) {
            bad.push(format!(
                "the manifest is signed by key {}, which is not one you trust",
                manifest.exporter.key_id
            ));
        }
        c.add(
            "trusted keys",
            Code::Trust,
            if bad.is_empty() {
                Ok("the ledger key and the exporting key are among the keys you trust".into())
            } else {
                Err(bad.join("; "))
            },
        );
    }
    Some(manifest)
}

/// SPEC.md 11.3 check 4: members that must agree with what they derive from.
fn manifest_field_problems(m: &Manifest) -> Vec<String> {
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

fn check_sums(
    text: &[u8],
    members: &BTreeMap<String, Member>,
    c: &mut Checks,
) -> Option<BTreeMap<String, String>> {
    let Ok(text) = std::str::from_utf8(text) else {
        c.add(
            "SHA256SUMS",
            Code::Digests,
            Err("SHA256SUMS is not text".into()),
        );
        return None;
    };
    let mut sums = BTreeMap::new();
    let mut problems = Vec::new();
    let names: Vec<&str> = text
        .lines()
        .filter_map(|l| l.split_once("  ").map(|x| x.1))
        .collect();
    if names.windows(2).any(|w| w[0] >= w[1]) {
        problems.push("the lines are not sorted by name".to_string());
    }
    for line in text.lines() {
        let Some((d, n)) = line.split_once("  ") else {
            problems.push(format!("malformed line '{}'", line.escape_debug()));
            continue;
        };
        if d.len() != 64 || !d.bytes().all(|b| b.is_ascii_hexdigit()) {
            problems.push(format!("malformed digest for {n}"));
            continue;
        }
        if sums.insert(n.to_owned(), d.to_ascii_lowercase()).is_some() {
            problems.push(format!("{n} is listed twice"));
        }
    }
    for (n, m) in members {
        if n == "SHA256SUMS" {
            continue;
        }
        match sums.get(n) {
            None => problems.push(format!("{n} is not listed (an added file)")),
            Some(d) if d != &hex::encode(m.digest) => {
                problems.push(format!("{n} was altered (digest differs)"))
            }
            Some(_) => {}
        }
    }
    for n in sums.keys() {
        if !members.contains_key(n) {
            problems.push(format!("{n} is listed but missing (a removed file)"));
        }
    }
    c.add(
        "SHA256SUMS",
        Code::Digests,
        if problems.is_empty() {
            Ok(format!("all {} files match", sums.len()))
        } else {
            Err(problems.join("; "))
        },
    );
    Some(sums)
}

/// Checks one record of the bundle (SPEC.md 11.3, check 7): decoding, fields, signature,
/// the ledger's rules at its position, and inclusion. Returns the decoded record.
#[allow(clippy::too_many_arguments)]
fn verify_entry(
    label: &str,
    entry: &RecordEntry,
    consent_override: Option<&str>,
    is_exhibit: bool,
    manifest: &Manifest,
    members: &BTreeMap<String, Member>,
    cp: Option<&crate::checkpoint::Checkpoint>,
    c: &mut Checks,
) -> Option<Record> {
    let ex = entry;
    let seq = ex.seq;
    let held = |n: &str| members.get(n).and_then(|m| m.bytes.as_deref());
    let decoded = B64
        .decode(&ex.record_bytes)
        .map_err(|_| "record_bytes is not base64".to_string())
        .and_then(|b| {
            Record::decode(&b)
                .map(|r| (r, b))
                .map_err(|e| format!("the record does not decode: {e}"))
        });
    let (rec, bytes) = match decoded {
        Ok(x) => x,
        Err(e) => {
            c.add(format!("{label} {seq} record"), Code::RecordFields, Err(e));
            return None;
        }
    };
    let leaf = leaf_hash(&bytes);
    let view = RecordView::new(&rec, &bytes);
    let mut diffs = Vec::new();
    let same =
        |a: &dyn std::fmt::Debug, b: &dyn std::fmt::Debug| format!("{a:?}") == format!("{b:?}");
    for (field, ok) in [
        ("seq", rec.seq == seq),
        ("kind", view.kind == ex.kind),
        ("leaf_hash", view.leaf_hash == ex.leaf_hash),
        ("prev", view.prev == ex.prev),
        (
            "statement_bytes",
            view.statement_bytes == ex.statement_bytes,
        ),
        ("signature", view.signature == ex.signature),
        ("signer_key", view.signer_key == ex.signer_key),
        ("signer_key_id", view.signer_key_id == ex.signer_key_id),
        (
            "signer_fingerprint",
            view.signer_fingerprint == ex.signer_fingerprint,
        ),
        ("claimed_at_ms", view.claimed_at_ms == ex.claimed_at_ms),
        ("claimed_at", view.claimed_at == ex.claimed_at),
        ("recorded_at_ms", view.recorded_at_ms == ex.recorded_at_ms),
        ("recorded_at", view.recorded_at == ex.recorded_at),
        ("body", same(&view.body, &ex.body)),
    ] {
        if !ok {
            diffs.push(field);
        }
    }
    c.add(
        format!("{label} {seq} record"),
        Code::RecordFields,
        if diffs.is_empty() {
            Ok(format!(
                "record {seq} ({}) decodes and matches the manifest",
                ex.kind
            ))
        } else {
            Err(format!(
                "the manifest's {} differ from the record bytes",
                diffs.join(", ")
            ))
        },
    );
    c.add(
        format!("{label} {seq} signature"),
        Code::Signature,
        keys::verify_strict(
            &rec.statement.signer,
            &record::signing_message(&rec.statement_bytes),
            &rec.signature,
        )
        .map_err(|e| e.to_string())
        .and_then(|()| key_file_holds(members, &ex.signer_key_file, &rec.statement.signer))
        .map(|()| {
            format!(
                "signed by key {} at {} (claimed), recorded {}",
                view.signer_key_id, view.claimed_at, view.recorded_at
            )
        }),
    );
    // The ledger's rules for a record at its position (SPEC.md sections 3, 4 and 11.2),
    // as far as a bundle's records, which are not contiguous, allow.
    let position = crate::rules::Position {
        seq,
        prev: None,
        origin: Some(&manifest.ledger.origin),
        genesis_key: None,
    };
    let mut broken = rules::check_position(&rec, &position, rules::Mode::Report);
    if is_exhibit && !consent_cleared(&rec, consent_override, manifest) {
        broken.push(Violation::new(
            Code::Consent,
            "the witness's consent does not allow court use (or, for a corrected text, the testimony it corrects is not in the bundle to show it) and no override reason is recorded",
        ));
    }
    for t in [rec.statement.claimed_at_ms, rec.recorded_at_ms] {
        broken.extend(rules::check_representable("a time of this record", t).err());
    }
    if broken.is_empty() {
        c.add(
            format!("{label} {seq} ledger rules"),
            Code::Sequence,
            Ok(match consent_override {
                Some(r) if is_exhibit => {
                    format!("in order; exported without court consent for the recorded reason: {r}")
                }
                _ => "position, times and consent in order".into(),
            }),
        );
    }
    for v in broken {
        c.add(
            format!("{label} {seq} ledger rules"),
            v.code,
            Err(v.message),
        );
    }
    // Inclusion.
    let inclusion = (|| {
        let cp = cp.ok_or_else(|| "no verified checkpoint to check against".to_string())?;
        let proof: Vec<Hash> = ex
            .inclusion_proof
            .iter()
            .map(|h| {
                B64.decode(h)
                    .ok()
                    .and_then(|v| v.try_into().ok())
                    .ok_or_else(|| "a proof hash is not base64 of 32 bytes".to_string())
            })
            .collect::<std::result::Result<_, _>>()?;
        merkle::verify_inclusion_proof(&leaf, seq, cp.size, &proof, &cp.root)
            .map_err(|e| e.to_string())?;
        let text = held(&ex.proof_file).ok_or_else(|| format!("{} is missing", ex.proof_file))?;
        let t = InclusionProofText::parse(
            std::str::from_utf8(text).map_err(|_| "proof file is not text".to_string())?,
        )
        .map_err(|e| e.to_string())?;
        if ex.proof_file != format!("proofs/{seq}.tlog-proof")
            || t.index != seq
            || t.hashes != proof
            || t.checkpoint.as_bytes() != held("checkpoint.txt").unwrap_or_default()
        {
            return Err(format!(
                "{} does not hold this exhibit's proof against checkpoint.txt",
                ex.proof_file
            ));
        }
        Ok(format!(
            "a {}-hash proof leads from the leaf hash to the checkpoint root",
            proof.len()
        ))
    })();
    c.add(
        format!("{label} {seq} inclusion"),
        Code::Inclusion,
        inclusion.map_err(|e: String| e),
    );
    Some(rec)
}

/// Whether an exhibit's revealed text may go to court: a testimony whose consent allows
/// court use, or an amendment with a new text of a testimony exhibit that may; otherwise
/// a non-empty override reason (its own, or its testimony exhibit's) must be recorded.
fn consent_cleared(rec: &Record, own_override: Option<&str>, manifest: &Manifest) -> bool {
    let overridden = |o: Option<&str>| o.is_some_and(|o| !o.trim().is_empty());
    if overridden(own_override) {
        return true;
    }
    let consent_of = |e: &Exhibit| match (e.kind.as_str(), &e.body["consent"]) {
        ("testimony", serde_json::Value::String(c)) => Some(c.clone()),
        _ => None,
    };
    match &rec.statement.body {
        Body::Testimony(t) => rules::consent_allows_court(t.consent.as_deref()),
        Body::Amend(a) if a.content.is_some() => manifest
            .exhibits
            .iter()
            .find(|e| e.seq == a.target && e.kind == "testimony")
            .is_some_and(|e| {
                overridden(e.consent_override.as_deref())
                    || rules::consent_allows_court(consent_of(e).as_deref())
            }),
        _ => true,
    }
}

/// SPEC.md 11.3 check 8: a revealed text against the commitment of the record `rec`.
fn check_revealed(
    label: &str,
    seq: u64,
    ci: &ContentInfo,
    rec: &Record,
    members: &BTreeMap<String, Member>,
    c: &mut Checks,
) {
    let committed = match &rec.statement.body {
        Body::Testimony(t) => Some((t.commitment, t.content_len)),
        Body::Amend(a) => a.content,
        _ => None,
    };
    let result = (|| {
        let (commitment, len) = committed
            .ok_or_else(|| "this record commits to no text, so it can reveal none".to_string())?;
        if ci.file != format!("content/{seq}.txt") {
            return Err(format!(
                "the text must be content/{seq}.txt, not {}",
                ci.file
            ));
        }
        let text = members
            .get(&ci.file)
            .and_then(|m| m.bytes.as_deref())
            .ok_or_else(|| format!("{} is missing", ci.file))?;
        // Lowercase hex only (SPEC.md conventions): one spelling of each salt.
        let salt: [u8; 32] = Some(&ci.salt)
            .filter(|s| s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')))
            .and_then(|s| hex::decode(s).ok())
            .and_then(|v| v.try_into().ok())
            .ok_or_else(|| "the salt is not 32 bytes of lowercase hex".to_string())?;
        if text.len() as u64 != len || record::commitment(&salt, text) != commitment {
            return Err(format!(
                "{} does not match the signed commitment: the text was altered",
                ci.file
            ));
        }
        Ok(format!(
            "{} ({} bytes) matches the signed commitment",
            ci.file,
            text.len()
        ))
    })();
    c.add(format!("{label} {seq} content"), Code::Content, result);
}

fn verify_exhibit(
    ex: &Exhibit,
    manifest: &Manifest,
    members: &BTreeMap<String, Member>,
    cp: Option<&Checkpoint>,
    c: &mut Checks,
) -> Option<Record> {
    let seq = ex.seq;
    let rec = verify_entry(
        "exhibit",
        &ex.entry,
        ex.consent_override.as_deref(),
        true,
        manifest,
        members,
        cp,
        c,
    )?;
    if let Some(ci) = &ex.content {
        check_revealed("exhibit", seq, ci, &rec, members, c);
    } else if let Body::Amend(a) = &rec.statement.body
        && a.content.is_some()
        && manifest
            .exhibits
            .iter()
            .any(|e| e.seq == a.target && e.kind == "testimony" && e.content.is_some())
    {
        c.add(
            format!("exhibit {seq} content"),
            Code::Content,
            Err("this correction's new text is withheld although the text it corrects is revealed: every version must reach the court".into()),
        );
    }
    if ex.media_file.is_some() && !matches!(rec.statement.body, Body::Media(_)) {
        c.add(
            format!("exhibit {seq} media file"),
            Code::MediaFile,
            Err("only a media record can carry a media file".into()),
        );
    }
    if let (Body::Media(m), Some(f)) = (&rec.statement.body, &ex.media_file) {
        c.add(
            format!("exhibit {seq} media file"),
            Code::MediaFile,
            match members.get(f) {
                _ if f != &format!("media/{}", hex::encode(m.sha256)) => Err(format!(
                    "the file must be media/{}, not {f}",
                    hex::encode(m.sha256)
                )),
                None => Err(format!("{f} is missing")),
                Some(mm) if mm.digest == m.sha256 && mm.size == m.size => {
                    Ok(format!("{f} is the recorded file ({} bytes)", m.size))
                }
                Some(_) => Err(format!(
                    "{f} is not the recorded file (its SHA-256 or size differs)"
                )),
            },
        );
    }
    Some(rec)
}

/// SPEC.md 11.3 check 9 with `--media-dir`: media files kept outside the bundle.
fn check_media_dir(
    manifest: &Manifest,
    records: &BTreeMap<u64, Record>,
    dir: &std::path::Path,
    c: &mut Checks,
) {
    for ex in &manifest.exhibits {
        let Some(Body::Media(m)) = records.get(&ex.seq).map(|r| &r.statement.body) else {
            continue;
        };
        let seq = ex.seq;
        let mut candidates = vec![dir.join(hex::encode(m.sha256))];
        if let Some(n) = &m.name
            && unsafe_name(n.as_bytes()).is_none()
            && !n.contains('/')
        {
            candidates.push(dir.join(n));
        }
        match candidates.iter().find(|p| p.is_file()) {
            None => c.add(
                format!("exhibit {seq} media in {}", dir.display()),
                Code::MediaFile,
                Ok("file not provided".into()),
            ),
            Some(p) => c.add(
                format!("exhibit {seq} media {}", p.display()),
                Code::MediaFile,
                match hash_path(p) {
                    Ok((h, n)) if h == m.sha256 && n == m.size => {
                        Ok("matches the recorded SHA-256 and size".into())
                    }
                    Ok(_) => Err(
                        "does not match the recorded SHA-256 and size: not the recorded file"
                            .into(),
                    ),
                    Err(e) => Err(format!("cannot read: {e}")),
                },
            ),
        };
    }
}

/// SPEC.md 11.3 checks 7 to 9 (media files in the bundle) and 11 to 13: every record the
/// manifest holds, the authority rules over them, the checkpoint rule, and each exhibit's
/// chain of custody. Their outcome is all that `report.html` shows besides the manifest.
fn record_checks(
    manifest: &Manifest,
    members: &BTreeMap<String, Member>,
    cp: Option<&Checkpoint>,
    c: &mut Checks,
) -> BTreeMap<u64, Record> {
    // Exported on purpose with failing exhibits: some of their failures (time order, a
    // record dated in the future) need records a bundle does not carry, so the bundle
    // itself never passes (SPEC.md 11.2).
    if let Some(reason) = &manifest.include_failing {
        c.add(
            "exhibits included although they fail",
            Code::IncludedFailing,
            Err(format!(
                "the exporter included exhibits that fail their own checks in the ledger, for this reason: {reason}"
            )),
        );
    }
    let mut records: BTreeMap<u64, Record> = BTreeMap::new();
    for ex in &manifest.exhibits {
        if let Some(r) = verify_exhibit(ex, manifest, members, cp, c) {
            records.insert(ex.seq, r);
        }
    }
    let exhibit_seqs: BTreeSet<u64> = manifest.exhibits.iter().map(|e| e.seq).collect();
    // The testimony exhibits whose text the bundle reveals, with their consent override.
    let revealed: BTreeMap<u64, Option<&str>> = manifest
        .exhibits
        .iter()
        .filter(|e| e.content.is_some() && e.kind == "testimony")
        .map(|e| (e.seq, e.consent_override.as_deref()))
        .collect();
    for s in &manifest.supporting {
        if exhibit_seqs.contains(&s.seq) {
            c.add(
                format!("supporting record {}", s.seq),
                Code::Manifest,
                Err("it is also an exhibit".into()),
            );
        }
        let Some(r) = verify_entry(
            "supporting record",
            &s.entry,
            None,
            false,
            manifest,
            members,
            cp,
            c,
        ) else {
            continue;
        };
        // Every version of a revealed testimony is revealed: an amendment's new text goes
        // with the original's, and nothing else reveals text (SPEC.md 11.2).
        let amends_revealed = match &r.statement.body {
            Body::Amend(a) if a.content.is_some() => revealed.contains_key(&a.target),
            _ => false,
        };
        match (&s.content, amends_revealed) {
            (Some(ci), true) => check_revealed("supporting record", s.seq, ci, &r, members, c),
            (None, false) => {}
            (Some(_), false) => {
                c.add(
                    format!("supporting record {} content", s.seq),
                    Code::Content,
                    Err("only an amendment of a testimony exhibit whose text the bundle reveals may reveal its text".into()),
                );
            }
            (None, true) => {
                c.add(
                    format!("supporting record {} content", s.seq),
                    Code::Content,
                    Err("this amendment's new text is withheld although the text it corrects is revealed: every version must reach the court".into()),
                );
            }
        }
        records.insert(s.seq, r);
    }
    if !manifest.supporting.iter().any(|s| s.seq == 0) {
        c.add(
            "supporting record 0",
            Code::Manifest,
            Err("record 0, the genesis, must be among the supporting records (SPEC.md 11.3, check 11)".into()),
        );
    }
    check_authority(manifest, &records, c);
    records
}

/// SPEC.md 11.3 checks 12 and 13: the rules of section 4.1 replayed over the records the
/// bundle holds, the verdicts of the final state, the checkpoint rule, and each exhibit's
/// chain of custody.
fn check_authority(manifest: &Manifest, records: &BTreeMap<u64, Record>, c: &mut Checks) {
    if !records
        .get(&0)
        .is_some_and(|r| matches!(r.statement.body, Body::Genesis { .. }))
    {
        c.add(
            "authority",
            Code::Unauthorized,
            Err("record 0 (the genesis) is not in the bundle, so no key can be traced to the ledger key".into()),
        );
        return;
    }
    let lookup = |n: u64| records.get(&n).map(|r| r.statement.clone());
    let mut authority = rules::Authority::new();
    let mut broken = Vec::new();
    // Verdicts judge the records that obeyed the rules (SPEC.md 4.1); a refused one is
    // reported once, as refused.
    let mut refused = BTreeSet::new();
    for (seq, r) in records {
        if let Err(v) = authority.admit(&r.statement, *seq, r.recorded_at_ms, &lookup) {
            broken.push(Violation::new(v.code, format!("record {seq}: {v}")));
            refused.insert(*seq);
        }
    }
    // Two kinds of flagged supporting record can only make this bundle's verdicts stricter,
    // never better, so they are named, not failed, and honest evidence does not fail forever
    // once a ledger recovered from a theft: a revocation (it only ends keys or widens
    // windows), and a ledger-key record whose key was superseded below the checkpoint (this
    // bundle's checkpoint is signed by a later key). An exhibit is always judged.
    let in_force = decode_key(&manifest.ledger.public_key).ok();
    let exhibits: BTreeSet<u64> = manifest.exhibits.iter().map(|e| e.seq).collect();
    let mut notes = Vec::new();
    for (seq, r) in records.iter().filter(|(s, _)| !refused.contains(s)) {
        if let Some(v) = authority.verdict(&r.statement.signer, *seq, r.recorded_at_ms) {
            let stricter_only = !exhibits.contains(seq)
                && match &r.statement.body {
                    Body::Revoke { .. } => true,
                    Body::LedgerKey { key } => Some(*key) != in_force,
                    // A hand-over withdrawn before it was accepted moved nothing.
                    Body::Transfer { .. } => authority
                        .transfer(*seq)
                        .is_some_and(|t| t.cancelled.is_some()),
                    _ => false,
                };
            if stricter_only {
                notes.push(format!(
                    "; supporting record {seq} ({}) is flagged, which can only make these verdicts stricter: {}",
                    r.statement.body.kind(),
                    v.message
                ));
            } else {
                broken.push(v);
            }
        }
    }
    // The checkpoint rule: the key that signed checkpoint.txt must be the ledger key in
    // force at its size, by the bundle's ledger-key records, and not compromised for it.
    let size = manifest.ledger.checkpoint_size;
    match decode_key(&manifest.ledger.public_key) {
        Ok(pk) => {
            let last = size
                .checked_sub(1)
                .and_then(|n| records.get(&n))
                .map(|r| r.recorded_at_ms);
            if let Err(v) = authority.check_checkpoint(size, &pk, last) {
                broken.push(v);
            }
        }
        Err(e) => broken.push(Violation::new(Code::CheckpointKey, e)),
    }
    let signers: BTreeSet<[u8; 32]> = manifest
        .exhibits
        .iter()
        .filter_map(|e| records.get(&e.seq).map(|r| r.statement.signer))
        .collect();
    if broken.is_empty() {
        c.add(
            "authority",
            Code::Unauthorized,
            Ok(format!(
                "every signer was authorised when it signed ({}), and the checkpoint is signed by the ledger key in force{}",
                signers
                    .iter()
                    .filter_map(|k| authority.key(k).map(|s| format!(
                        "key {} {} ({}, authorised by record {}, {})",
                        keys::short_id(k),
                        s.name,
                        s.role.name(),
                        s.authorized_at,
                        s.status()
                    )))
                    .collect::<Vec<_>>()
                    .join("; "),
                notes.concat()
            )),
        );
    }
    for v in broken {
        c.add("authority", v.code, Err(v.message));
    }
    for ex in &manifest.exhibits {
        let Some(r) = records.get(&ex.seq) else {
            continue;
        };
        if !r.statement.body.is_evidence() {
            continue;
        }
        let mut chain = vec![format!(
            "key {} (recorded it)",
            keys::short_id(&r.statement.signer)
        )];
        let mut notes = String::new();
        for (t, ts) in authority.transfers_of(ex.seq) {
            match (ts.accepted, ts.cancelled) {
                (Some(a), _) => chain.push(format!(
                    "key {} (transfer {t}, accepted {a})",
                    keys::short_id(&ts.to)
                )),
                (None, Some(x)) => notes.push_str(&format!(
                    "; transfer {t} to key {} was cancelled by record {x}",
                    keys::short_id(&ts.to)
                )),
                (None, None) => notes.push_str(&format!(
                    "; transfer {t} to key {} is pending",
                    keys::short_id(&ts.to)
                )),
            }
        }
        c.add(
            format!("exhibit {} custody", ex.seq),
            Code::CustodyLink,
            Ok(format!("held by {}{notes}", chain.join(", then "))),
        );
    }
}

fn hash_path(p: &std::path::Path) -> std::io::Result<(Hash, u64)> {
    record::sha256_stream(&mut std::fs::File::open(p)?, |_| {})
}
