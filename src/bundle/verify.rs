//! Verifying a bundle offline (SPEC.md 11.3): sums, signatures, proofs, revealed text,
//! media and the key authority the manifest carries, each as a named check.

use super::BundleError;
use super::ContentInfo;
use super::Exhibit;
use super::FORMAT;
use super::Manifest;
use super::RecordEntry;
use super::attest::{self, Attested};
use super::manifest::check_exhibit_members;
use super::manifest::decode_key;
use super::manifest::manifest_field_problems;
use super::read::Member;
use super::read::known_name;
use super::read::read_members;
use super::read::unsafe_name;
use super::report;
use crate::Hash;
use crate::checkpoint::{Checkpoint, open_checkpoint};
use crate::error::Result;
use crate::keys;
use crate::ledger::Check;
use crate::merkle;
use crate::proof::InclusionProofText;
use crate::record::{self, Body, Record, RecordView, leaf_hash};
use crate::rules::{self, Code, Violation};
use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet};
use std::io::{Read, Seek};
use std::path::PathBuf;

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
    /// Certificates the time-stamp tokens must lead to (`--tsa-cert`); none: not pinned.
    pub tsa_certs: Vec<x509_cert::Certificate>,
    /// A witness policy the bundle's checkpoint must meet (`--policy`).
    pub policy: Option<crate::policy::Policy>,
}

pub(super) struct Checks(pub(super) Vec<Check>);

impl Checks {
    pub(super) fn add(
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

/// The bytes of a member held in memory (none for a missing or streamed one).
fn held<'m>(members: &'m BTreeMap<String, Member>, name: &str) -> &'m [u8] {
    members
        .get(name)
        .and_then(|m| m.bytes.as_deref())
        .unwrap_or_default()
}

fn verify_parts(
    members: &BTreeMap<String, Member>,
    opts: &VerifyOptions,
    c: &mut Checks,
) -> Option<Manifest> {
    if !check_members(members, c) {
        return None;
    }
    // 3. SHA256SUMS.
    let sums = check_sums(held(members, "SHA256SUMS"), members, c);
    let manifest = read_manifest(members, c)?;
    check_file_list(&manifest, members, sums.as_ref(), c);
    let exporter = check_manifest_signature(&manifest, members, c);
    let (ledger_key, cp) = check_bundle_checkpoint(&manifest, members, c);
    // 7-9, 11-13. Every record, the authority rules and the custody chains.
    let mut rc = Checks(Vec::new());
    let (records, attested) = record_checks(&manifest, members, cp.as_ref().ok(), &mut rc);
    // 14. The informative files are what custody renders from the same facts.
    check_informative(&manifest, members, &rc, &attested, c);
    c.0.extend(rc.0);
    if let Some(dir) = &opts.media_dir {
        check_media_dir(&manifest, &records, dir, c);
    }
    check_referenced(&manifest, members, c);
    check_trust(&manifest, opts, &ledger_key, &exporter, c);
    if !opts.tsa_certs.is_empty() {
        attest::check_pinned(&manifest, members, &opts.tsa_certs, c);
    }
    if let Some(policy) = &opts.policy {
        attest::check_policy(&manifest, members, cp.as_ref().ok(), policy, c);
    }
    Some(manifest)
}

/// Step 2: the required members are there, every name is one the format knows, and
/// every member's CRC-32 matched; false when the bundle cannot be checked further.
fn check_members(members: &BTreeMap<String, Member>, c: &mut Checks) -> bool {
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
        return false;
    }
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
    true
}

/// Step 4: the manifest parses, names each exhibit's members once, and its fields agree
/// with what they derive from.
fn read_manifest(members: &BTreeMap<String, Member>, c: &mut Checks) -> Option<Manifest> {
    let manifest: Manifest = match serde_json::from_slice(held(members, "manifest.json")) {
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
    if let Err(e) = check_exhibit_members(held(members, "manifest.json")) {
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
    Some(manifest)
}

/// The manifest lists exactly the bundle's members, each with its digest, in agreement
/// with SHA256SUMS.
fn check_file_list(
    manifest: &Manifest,
    members: &BTreeMap<String, Member>,
    sums: Option<&BTreeMap<String, String>>,
    c: &mut Checks,
) {
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
        if let Some(s) = sums.and_then(|s| s.get(n))
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
}

/// Step 5: the manifest is signed by the exporting key it names; returns that key.
fn check_manifest_signature(
    manifest: &Manifest,
    members: &BTreeMap<String, Member>,
    c: &mut Checks,
) -> std::result::Result<[u8; 32], String> {
    let exporter = decode_key(&manifest.exporter.public_key);
    c.add(
        "manifest signature",
        Code::ManifestSignature,
        exporter.clone().and_then(|pk| {
            let sig: [u8; 64] = held(members, "manifest.sig")
                .try_into()
                .map_err(|_| "manifest.sig is not 64 bytes".to_string())?;
            keys::verify_strict(&pk, held(members, "manifest.json"), &sig)
                .map_err(|e| format!("{e} (exporter key {})", keys::short_id(&pk)))?;
            key_file_holds(members, &manifest.exporter.key_file, &pk)?;
            Ok(format!(
                "manifest.json is signed by the exporting key {}",
                keys::short_id(&pk)
            ))
        }),
    );
    exporter
}

/// Step 6: the checkpoint is signed by the ledger key the manifest names and has the size and
/// root it gives; returns that key and the checkpoint.
#[allow(clippy::type_complexity)]
fn check_bundle_checkpoint(
    manifest: &Manifest,
    members: &BTreeMap<String, Member>,
    c: &mut Checks,
) -> (
    std::result::Result<[u8; 32], String>,
    std::result::Result<Checkpoint, String>,
) {
    let ledger_key = decode_key(&manifest.ledger.public_key);
    let cp = ledger_key.clone().and_then(|pk| {
        let text = std::str::from_utf8(held(members, "checkpoint.txt"))
            .map_err(|_| "checkpoint.txt is not UTF-8".to_string())?;
        let cp = open_checkpoint(text, &manifest.ledger.origin, &pk).map_err(|e| e.to_string())?;
        // The ledger's signature alone: cosignatures travel in attest/, where check 15
        // judges them.
        if crate::note::signature_lines(text).len() != 1 {
            return Err(
                "checkpoint.txt carries other signature lines than the ledger's own".into(),
            );
        }
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
    (ledger_key, cp)
}

/// Step 14: `report.html` and `VERIFY.txt` are exactly what custody renders from the manifest
/// and the record checks.
fn check_informative(
    manifest: &Manifest,
    members: &BTreeMap<String, Member>,
    rc: &Checks,
    attested: &Attested,
    c: &mut Checks,
) {
    // The report in the language it says it is in (the catalogue's; English otherwise),
    // with the texts the bundle carries.
    let lang = members
        .get("report.html")
        .and_then(|m| m.bytes.as_deref())
        .and_then(report::lang_of)
        .unwrap_or_default();
    let text_of = |name: &str| members.get(name).and_then(|m| m.bytes.clone());
    let (report_html, verify_txt) = report::informative(manifest, &rc.0, attested, &text_of, lang);
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
}

/// Every member must be one the manifest refers to.
fn check_referenced(manifest: &Manifest, members: &BTreeMap<String, Member>, c: &mut Checks) {
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
    for a in &manifest.attestations {
        referenced.insert(&a.checkpoint_file);
        if let Some(f) = &a.cosigned_file {
            referenced.insert(f);
        }
        for t in &a.timestamps {
            referenced.insert(&t.file);
            referenced.extend(t.certificates.iter().map(String::as_str));
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
}

/// Step 10: with a trust list, the ledger key and the exporting key are on it.
fn check_trust(
    manifest: &Manifest,
    opts: &VerifyOptions,
    ledger_key: &std::result::Result<[u8; 32], String>,
    exporter: &std::result::Result<[u8; 32], String>,
    c: &mut Checks,
) {
    if !opts.trust.is_empty() {
        let trusted = |k: &std::result::Result<[u8; 32], String>| {
            k.as_ref().is_ok_and(|k| opts.trust.contains(k))
        };
        let mut bad = Vec::new();
        if !trusted(ledger_key) {
            bad.push(format!(
                "the ledger key {} is not one you trust",
                manifest.ledger.key_id
            ));
        }
        if !trusted(exporter) {
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
    let view = RecordView::new(&rec, &bytes);
    check_entry_fields(label, &rec, &view, ex, c);
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
    check_entry_rules(label, &rec, seq, consent_override, is_exhibit, manifest, c);
    c.add(
        format!("{label} {seq} inclusion"),
        Code::Inclusion,
        check_entry_inclusion(ex, &leaf_hash(&bytes), members, cp),
    );
    Some(rec)
}

/// Every field the manifest gives for a record agrees with the record's own bytes.
fn check_entry_fields(
    label: &str,
    rec: &Record,
    view: &RecordView,
    ex: &RecordEntry,
    c: &mut Checks,
) {
    let seq = ex.seq;
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
}

/// The ledger's rules for a record at its position (SPEC.md sections 3, 4 and 11.2), as
/// far as a bundle's records, which are not contiguous, allow; and consent for an exhibit.
fn check_entry_rules(
    label: &str,
    rec: &Record,
    seq: u64,
    consent_override: Option<&str>,
    is_exhibit: bool,
    manifest: &Manifest,
    c: &mut Checks,
) {
    let position = crate::rules::Position {
        seq,
        prev: None,
        origin: Some(&manifest.ledger.origin),
        genesis_key: None,
    };
    let mut broken = rules::check_position(rec, &position, rules::Mode::Report);
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
                _ => "position and times in order".into(),
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
}

/// The record's inclusion proof leads to the checkpoint's root, and its proof file is that
/// same proof against `checkpoint.txt`.
fn check_entry_inclusion(
    ex: &RecordEntry,
    leaf: &Hash,
    members: &BTreeMap<String, Member>,
    cp: Option<&crate::checkpoint::Checkpoint>,
) -> std::result::Result<String, String> {
    let seq = ex.seq;
    let held = |n: &str| members.get(n).and_then(|m| m.bytes.as_deref());
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
    merkle::verify_inclusion_proof(leaf, seq, cp.size, &proof, &cp.root)
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
}

/// SPEC.md 11.3 checks 7 and 8, by the state the bundle's records establish: an exhibit
/// that reveals text has consent for it (the consent in force for its testimony, section
/// 3: the last consent change the bundle carries, when it stands, else the testimony's
/// own; or a recorded override), and no revealed text belongs to a testimony an erasure
/// record of the bundle erased.
fn check_consent(
    manifest: &Manifest,
    records: &BTreeMap<u64, Record>,
    authority: Option<&rules::Authority>,
    c: &mut Checks,
) {
    let overridden = |o: Option<&str>| o.is_some_and(|o| !o.trim().is_empty());
    // Every consent record of the bundle, by the testimony it names, in order; one stands
    // when it obeyed the rules (the state admitted it) and no verdict flags it.
    let mut consent_records: BTreeMap<u64, Vec<(&str, bool)>> = BTreeMap::new();
    for (s, r) in records {
        if let Body::Consent {
            target, consent, ..
        } = &r.statement.body
        {
            let stands = authority.is_some_and(|a| {
                a.consents_of(*target).iter().any(|(at, _)| at == s)
                    && a.verdict(&r.statement.signer, *s, r.recorded_at_ms)
                        .is_none()
            });
            consent_records
                .entry(*target)
                .or_default()
                .push((consent.as_str(), stands));
        }
    }
    let allowed = |t: u64| -> bool {
        let Some(Body::Testimony(own)) = records.get(&t).map(|r| &r.statement.body) else {
            return false;
        };
        let changes: &[(&str, bool)] = consent_records.get(&t).map_or(&[], Vec::as_slice);
        rules::court_use_allowed(own.consent.as_deref(), changes)
    };
    let erased = |owner: u64| authority.and_then(|a| a.erased_by(owner));
    for ex in &manifest.exhibits {
        let Some((_, _, owner)) = records
            .get(&ex.seq)
            .and_then(|r| r.statement.body.text(ex.seq))
        else {
            continue;
        };
        if ex.content.is_none() {
            continue;
        }
        let cleared = overridden(ex.consent_override.as_deref())
            || if owner == ex.seq {
                allowed(owner)
            } else {
                manifest
                    .exhibits
                    .iter()
                    .find(|e| e.seq == owner && e.kind == "testimony")
                    .is_some_and(|e| overridden(e.consent_override.as_deref()) || allowed(owner))
            };
        c.add(
            format!("exhibit {} consent", ex.seq),
            Code::Consent,
            if cleared {
                Ok("the consent in force allows court use, or the override reason is recorded".into())
            } else {
                Err("the witness's consent in force does not allow court use (or, for a corrected text, the testimony it corrects is not in the bundle to show it) and no override reason is recorded".into())
            },
        );
    }
    let revealing = manifest
        .exhibits
        .iter()
        .filter(|e| e.content.is_some())
        .map(|e| e.seq)
        .chain(
            manifest
                .supporting
                .iter()
                .filter(|s| s.content.is_some())
                .map(|s| s.entry.seq),
        );
    for seq in revealing {
        if let Some(by) = records
            .get(&seq)
            .and_then(|r| r.statement.body.text(seq))
            .and_then(|(_, _, owner)| erased(owner))
        {
            c.add(
                format!("record {seq} content"),
                Code::Content,
                Err(format!(
                    "record {by} of this bundle erased this text, yet the bundle reveals it"
                )),
            );
        }
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
pub(super) fn record_checks(
    manifest: &Manifest,
    members: &BTreeMap<String, Member>,
    cp: Option<&Checkpoint>,
    c: &mut Checks,
) -> (BTreeMap<u64, Record>, Attested) {
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
    let authority = check_authority(manifest, &records, c);
    check_consent(manifest, &records, authority.as_ref(), c);
    // 15. The attestations: cosigned and time-stamped checkpoints.
    let attested = attest::check(manifest, members, cp, (authority.as_ref(), &records), c);
    (records, attested)
}

/// SPEC.md 11.3 checks 12 and 13: the rules of section 4.1 replayed over the records the
/// bundle holds, the verdicts of the final state, the checkpoint rule, and each exhibit's
/// chain of custody.
fn check_authority(
    manifest: &Manifest,
    records: &BTreeMap<u64, Record>,
    c: &mut Checks,
) -> Option<rules::Authority> {
    if !records
        .get(&0)
        .is_some_and(|r| matches!(r.statement.body, Body::Genesis { .. }))
    {
        c.add(
            "authority",
            Code::Unauthorized,
            Err("record 0 (the genesis) is not in the bundle, so no key can be traced to the ledger key".into()),
        );
        return None;
    }
    let lookup = rules::RecordsLookup::new(
        |n: u64| records.get(&n).map(|r| r.statement.clone()),
        records.keys().copied(),
    );
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
                    // A consent change or an erasure that does not stand allows no court
                    // use of the text (section 3), and reveals nothing.
                    Body::Revoke { .. } | Body::Consent { .. } | Body::Erase { .. } => true,
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
    Some(authority)
}

fn hash_path(p: &std::path::Path) -> std::io::Result<(Hash, u64)> {
    record::sha256_stream(&mut std::fs::File::open(p)?, |_| {})
}
