//! Writing a bundle: gathering each exhibit's record, proof, revealed content and keys,
//! signing the manifest, and writing a deterministic ZIP.

use super::ContentInfo;
use super::Exhibit;
use super::ExporterInfo;
use super::FORMAT;
use super::LedgerInfo;
use super::Manifest;
use super::RecordEntry;
use super::Supporting;
use super::attest::Attested;
use super::manifest::key_file;
use super::read::Member;
use super::report;
use super::verify::Checks;
use super::verify::record_checks;
use crate::Hash;
use crate::checkpoint::Checkpoint;
use crate::error::{Error, Result};
use crate::keys;
use crate::ledger::{Check, Ledger};
use crate::proof::InclusionProofText;
use crate::record::{self, Body, Record, RecordView};
use crate::rules::{self, Code};
use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use ed25519_dalek::SigningKey;
use sha2::{Digest, Sha256};
use std::collections::{BTreeMap, BTreeSet};
use std::io::{Read, Seek, Write};

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
    /// A witness policy the bundle's checkpoint must meet.
    pub policy: Option<crate::policy::Policy>,
    /// Certificates the bundle's time-stamp tokens must lead to (none: every authority's
    /// kept token that verifies).
    pub tsa_certs: Vec<x509_cert::Certificate>,
    /// A content recipient's identity, to reveal sealed texts.
    pub identity: Option<age::x25519::Identity>,
    /// The language of `report.html`'s labels.
    pub report_lang: super::report::Lang,
}

fn sha_hex(b: &[u8]) -> String {
    hex::encode(Sha256::digest(b))
}

/// The text a record reveals in a bundle: a testimony's, or an amendment's new text, with
/// whether the consent in force for the testimony allows court use (SPEC.md section 3) and
/// that consent's words. An erased text reveals nothing.
fn revealable(ledger: &Ledger, rec: &Record) -> Option<(Hash, u64, bool, String)> {
    let (commitment, len, owner) = rec.statement.body.text(rec.seq)?;
    if ledger.erasure_of(owner).is_some() {
        return None;
    }
    let own = match ledger.statement(owner).map(|st| st.body) {
        Some(Body::Testimony(t)) => t.consent,
        _ => None,
    };
    let history = ledger.consent_history(owner);
    let allowed = ledger.court_use_allowed(owner, own.as_deref());
    let words = match history.last() {
        Some((at, scope, stands)) => format!(
            "{scope}, by record {at}{}",
            if *stands {
                ""
            } else {
                ", which does not stand"
            }
        ),
        None => own.unwrap_or_else(|| "none recorded".into()),
    };
    Some((commitment, len, allowed, words))
}

/// Reads a revealed text into `files` as `content/<seq>.txt`.
fn reveal(
    ledger: &Ledger,
    seq: u64,
    commitment: &Hash,
    len: u64,
    identity: Option<&age::x25519::Identity>,
    files: &mut BTreeMap<String, Vec<u8>>,
) -> Result<ContentInfo> {
    let (salt, text) = ledger
        .content(seq, commitment, len, identity)
        .map_err(|e| match e {
            Error::Input(m) => Error::Input(format!("record {seq}: {m}")),
            e => e,
        })?
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
    let seqs = check_request(&req)?;
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
    let (cp, cp_text) = ledger_ready(ledger)?;
    // The bundle proves its exhibits against the checkpoint, which did not exist before the
    // last record it covers was recorded.
    let covered_at = ledger.record(cp.size.saturating_sub(1))?.0.recorded_at_ms;
    if req.exported_at_ms < covered_at {
        return Err(Error::Input(format!(
            "the export time {} is before record {}, the last the bundle's checkpoint covers, was recorded ({}): the bundle cannot be dated before the checkpoint it is proven against existed; give --export-time a later time, or leave it out to export at the current time",
            record::rfc3339(req.exported_at_ms),
            cp.size.saturating_sub(1),
            record::rfc3339(covered_at)
        )));
    }
    if seqs.contains(&0) {
        return Err(Error::Input(
            "record 0 is the ledger's genesis: every bundle carries it as a supporting record; name the exhibits after it".into(),
        ));
    }
    // The key that signed the checkpoint: the ledger key in force at its size.
    let ledger_key = ledger.ledger_key_at(cp.size);
    let mut g = Gathered::default();
    g.public_keys.insert(key_file(&ledger_key), ledger_key);
    g.public_keys.insert(key_file(&exporter_pk), exporter_pk);
    g.exhibits_of(ledger, &seqs, &req, cp.size, &cp_text)?;
    g.supporting_of(ledger, &seqs, cp.size, &cp_text, req.identity.as_ref())?;
    g.check_times(req.exported_at_ms)?;
    let media_members = g.attach_media(&req.media)?;
    g.key_files()?;
    let mut files = std::mem::take(&mut g.files);
    files.insert("checkpoint.txt".into(), cp_text.clone().into_bytes());
    // What may attest: as check 15 admits, under the policy when one is given.
    let mut own: BTreeSet<[u8; 32]> = ledger.authority().keys().keys().copied().collect();
    own.extend(g.public_keys.values().copied());
    let recorded = g
        .exhibits
        .iter()
        .map(|e| &e.entry)
        .chain(g.supporting.iter().map(|s| &s.entry))
        .map(|e| (e.seq, e.recorded_at_ms))
        .collect();
    let within = super::attest::Within {
        exported_at_ms: req.exported_at_ms,
        policy: req.policy.as_ref(),
        tsa_certs: &req.tsa_certs,
        own,
        recorded,
    };
    let attestations = super::attest::gather(ledger, &seqs, (&cp, &cp_text), &within, &mut files)?;
    let exhibits = std::mem::take(&mut g.exhibits);
    let supporting = std::mem::take(&mut g.supporting);
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
        attestations,
        files: BTreeMap::new(),
    };
    let (checks, attested) = self_check(
        &manifest,
        &files,
        &media_members,
        &cp,
        &req,
        g.any_exhibit_fails,
    )?;
    seal(
        &mut manifest,
        files,
        &media_members,
        (&checks, &attested),
        exporter,
        req.report_lang,
        out,
    )?;
    Ok(manifest)
}

/// The request's own arguments, before the ledger is consulted; returns the exhibits.
fn check_request(req: &ExportRequest) -> Result<BTreeSet<u64>> {
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
    Ok(seqs)
}

/// The latest checkpoint, once the ledger is known to hold nothing that could change what
/// a bundle of it proves.
fn ledger_ready(ledger: &Ledger) -> Result<(Checkpoint, String)> {
    let (cp, cp_text) = ledger.latest_checkpoint()?.ok_or_else(|| {
        Error::NotReady("the ledger has no signed checkpoint; run `custody checkpoint`".into())
    })?;
    // The index only says where the authority records are: the state it gave must be the
    // one the journal establishes, or a hidden revocation could reach a court.
    ledger.check_authority_against_journal()?;
    // A record the index has not yet taken in might be a revocation: recover first.
    let unindexed = ledger.unindexed_bytes()?;
    if unindexed > 0 {
        return Err(Error::NotReady(format!(
            "the journal holds {unindexed} bytes of records the index has not taken in (an append was interrupted), and they may change what this bundle proves; run `custody recover`, sign a checkpoint, and export again"
        )));
    }
    // A record beyond the checkpoint that can change a verdict (a revocation, a hand-over,
    // a new ledger key...) cannot go into the bundle: it would prove a stale truth.
    if let Some(s) = ledger.authority_seqs()?.into_iter().find(|&s| s >= cp.size) {
        let kind = rules::a_kind(ledger.statement(s).map_or("authority", |st| st.body.kind()));
        return Err(Error::NotReady(format!(
            "record {s} ({kind} record) is not yet covered by the latest checkpoint ({} records), and it may change what this bundle proves; sign a checkpoint with the ledger key in force (`custody checkpoint`) and export again",
            cp.size
        )));
    }
    Ok((cp, cp_text))
}

/// What an export gathers from the ledger before it writes anything.
#[derive(Default)]
struct Gathered {
    /// Members other than media, by name.
    files: BTreeMap<String, Vec<u8>>,
    /// Every key the bundle carries, by its file name.
    public_keys: BTreeMap<String, [u8; 32]>,
    exhibits: Vec<Exhibit>,
    supporting: Vec<Supporting>,
    /// Which exhibit each media hash is.
    media_by_hash: BTreeMap<Hash, usize>,
    /// Whether an exhibit fails its own checks (allowed only with --include-failing).
    any_exhibit_fails: bool,
    /// The override that applies to each testimony whose text is revealed.
    revealed_overrides: BTreeMap<u64, Option<String>>,
}

impl Gathered {
    /// A record as a bundle presents it, with its proof file and its signer's key file added.
    fn record_entry(
        &mut self,
        ledger: &Ledger,
        seq: u64,
        size: u64,
        cp_text: &str,
    ) -> Result<(RecordEntry, Record)> {
        let (rec, bytes) = ledger.record(seq)?;
        let view = RecordView::new(&rec, &bytes);
        let proof = ledger.inclusion_hashes(seq, size)?;
        let proof_file = format!("proofs/{seq}.tlog-proof");
        self.files.insert(
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
        self.public_keys.insert(key_file(&signer), signer);
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

    /// Each exhibit: covered by the checkpoint, passing its own checks (or named with a
    /// reason), its text revealed only as the witness's consent allows.
    fn exhibits_of(
        &mut self,
        ledger: &Ledger,
        seqs: &BTreeSet<u64>,
        req: &ExportRequest,
        cp_size: u64,
        cp_text: &str,
    ) -> Result<()> {
        for &seq in seqs {
            ledger.check_exists(seq)?;
            if seq >= cp_size {
                return Err(Error::NotReady(format!(
                    "record {seq} is not covered by the latest checkpoint ({} records); run `custody checkpoint` first",
                    cp_size
                )));
            }
            let report = ledger.verify_record(seq, req.now_ms)?;
            let failing: Vec<&Check> = report.checks.iter().filter(|c| !c.passed).collect();
            if let Some(c) = failing.iter().find(|c| !c.code.is_evidence_verdict()) {
                return Err(Error::Damaged(format!(
                    "record {seq} cannot be exported: {} [{}]: {}",
                    c.name, c.code, c.detail
                )));
            }
            self.any_exhibit_fails |= !failing.is_empty();
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
            let (entry, rec) = self.record_entry(ledger, seq, cp_size, cp_text)?;
            let mut content = None;
            let mut consent_override = None;
            if let Body::Media(m) = &rec.statement.body {
                self.media_by_hash.insert(m.sha256, self.exhibits.len());
            }
            if let Some((commitment, len, allowed, consent)) = revealable(ledger, &rec) {
                if !allowed {
                    match &req.override_consent {
                        Some(reason) => consent_override = Some(reason.clone()),
                        None => {
                            return Err(Error::Input(format!(
                                "record {seq}: the witness's consent in force ({consent}) does not allow court use; \
                                 export it only with --override-consent REASON, and the reason will be recorded in the bundle"
                            )));
                        }
                    }
                }
                if let Body::Amend(am) = &rec.statement.body
                    && !seqs.contains(&am.target)
                {
                    // The rules of the amendment (and the consent for its text) need the
                    // testimony it corrects in the bundle.
                    return Err(Error::Input(format!(
                        "record {seq} corrects the text of record {}: export record {} with it, so that the bundle shows the testimony it corrects and the witness's consent",
                        am.target, am.target
                    )));
                }
                content = Some(reveal(
                    ledger,
                    seq,
                    &commitment,
                    len,
                    req.identity.as_ref(),
                    &mut self.files,
                )?);
                if matches!(rec.statement.body, Body::Testimony(_)) {
                    self.revealed_overrides
                        .insert(seq, consent_override.clone());
                }
            }
            self.exhibits.push(Exhibit {
                entry,
                content,
                consent_override,
                media_file: None,
            });
        }
        Ok(())
    }

    /// The records that support the exhibits.
    fn supporting_of(
        &mut self,
        ledger: &Ledger,
        seqs: &BTreeSet<u64>,
        cp_size: u64,
        cp_text: &str,
        identity: Option<&age::x25519::Identity>,
    ) -> Result<()> {
        // The records that say who signed the self.exhibits, who held them and which key signs
        // checkpoints (SPEC.md 11.2); an amendment of a revealed testimony reveals its text too.
        let mut supporting_seqs = supporting_records(ledger, seqs, cp_size);
        supporting_seqs.retain(|s| !seqs.contains(s));
        for seq in supporting_seqs {
            let (entry, rec) = self.record_entry(ledger, seq, cp_size, cp_text)?;
            let content = match (&rec.statement.body, revealable(ledger, &rec)) {
                (Body::Amend(a), Some((commitment, len, _, _)))
                    if self.revealed_overrides.contains_key(&a.target) =>
                {
                    Some(reveal(
                        ledger,
                        seq,
                        &commitment,
                        len,
                        identity,
                        &mut self.files,
                    )?)
                }
                _ => None,
            };
            self.supporting.push(Supporting { entry, content });
        }
        Ok(())
    }

    /// Every time the bundle holds is writable, and none is after the export time.
    fn check_times(&self, exported_at_ms: u64) -> Result<()> {
        for e in self
            .exhibits
            .iter()
            .map(|e| &e.entry)
            .chain(self.supporting.iter().map(|s| &s.entry))
        {
            for t in [e.claimed_at_ms, e.recorded_at_ms] {
                rules::check_representable(&format!("a time of record {}", e.seq), t).map_err(
                    |v| Error::Input(format!("{v}; this record cannot go into a bundle")),
                )?;
            }
            if e.recorded_at_ms > exported_at_ms {
                return Err(Error::Input(format!(
                    "the export time {} is before record {}, which the bundle holds, was recorded ({}); a bundle cannot predate what it proves: give --export-time a later time, or leave it out to export at the current time",
                    record::rfc3339(exported_at_ms),
                    e.seq,
                    record::rfc3339(e.recorded_at_ms)
                )));
            }
        }
        Ok(())
    }

    /// Media copies: each must be the file of an exported record.
    fn attach_media<'m>(
        &mut self,
        media: &'m [MediaSource],
    ) -> Result<Vec<(String, &'m MediaSource)>> {
        let mut media_members: Vec<(String, &MediaSource)> = Vec::new();
        for m in media {
            let Some(&i) = self.media_by_hash.get(&m.sha256) else {
                return Err(Error::Input(format!(
                    "{}: its SHA-256 {} matches no media record being exported; add the record's number or leave the file out",
                    m.label,
                    hex::encode(m.sha256)
                )));
            };
            let name = format!("media/{}", hex::encode(m.sha256));
            if self.exhibits[i].media_file.is_none() {
                self.exhibits[i].media_file = Some(name.clone());
                media_members.push((name, m));
            }
        }
        Ok(media_members)
    }

    /// A PEM file for every key the bundle carries.
    fn key_files(&mut self) -> Result<()> {
        for (name, pk) in &self.public_keys {
            self.files.insert(
                name.clone(),
                keys::public_pem(&ed25519_dalek::VerifyingKey::from_bytes(pk).map_err(|_| {
                    Error::Damaged("a stored public key is not a valid point".into())
                })?)
                .into_bytes(),
            );
        }
        Ok(())
    }
}

/// The record checks the bundle itself supports, run on what is about to be written: a
/// bundle that would fail its own checks (an exhibit, or a record of its custody or
/// authority chain, signed after a compromise...) is written only on purpose.
fn self_check(
    manifest: &Manifest,
    files: &BTreeMap<String, Vec<u8>>,
    media_members: &[(String, &MediaSource)],
    cp: &Checkpoint,
    req: &ExportRequest,
    any_exhibit_fails: bool,
) -> Result<(Checks, Attested)> {
    // The two informative files are rendered from the manifest and the outcome of the
    // record checks the bundle itself supports, exactly as `verify-bundle` renders them again.
    let mut members: BTreeMap<String, Member> = files
        .iter()
        .map(|(n, b)| (n.clone(), Member::held(b.clone())))
        .collect();
    for (name, m) in media_members {
        members.insert(name.clone(), Member::streamed(m.sha256, m.size));
    }
    // A bundle that would fail its own record checks (an exhibit, or a record of its
    // custody or authority chain, signed after a compromise...) is written only on purpose.
    let mut checks = Checks(Vec::new());
    let (_, attested) = record_checks(manifest, &members, Some(cp), &mut checks);
    // The attestations obey the manifest's rules (check 4), or none would be checked.
    let problems = super::manifest::attestation_problems(manifest);
    if !problems.is_empty() {
        return Err(Error::Damaged(format!(
            "the attestations gathered break the bundle's rules ({}); nothing was written",
            problems.join("; ")
        )));
    }
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
    // The checkpoint a court relies on must carry the witnesses the policy asks for.
    if let Some(policy) = &req.policy {
        let mut pc = Checks(Vec::new());
        super::attest::check_policy(manifest, &members, Some(cp), policy, &mut pc);
        if let Some(c) = pc.0.iter().find(|c| !c.passed) {
            return Err(Error::Failing(format!(
                "the bundle's checkpoint ({} records) fails the policy: {}; nothing was written. Ask the witnesses to cosign (`custody checkpoint --witness URL --witness-key VKEY`) and export again",
                cp.size, c.detail
            )));
        }
    }
    Ok((checks, attested))
}

/// Renders the informative files, lists every member's digest in the manifest, signs it
/// and writes the archive.
fn seal<W: Write + Seek>(
    manifest: &mut Manifest,
    mut files: BTreeMap<String, Vec<u8>>,
    media_members: &[(String, &MediaSource)],
    (checks, attested): (&Checks, &Attested),
    exporter: &SigningKey,
    lang: report::Lang,
    out: W,
) -> Result<()> {
    let text_of = |name: &str| files.get(name).cloned();
    let (report_html, verify_txt) =
        report::informative(manifest, &checks.0, attested, &text_of, lang);
    files.insert("VERIFY.txt".into(), verify_txt.into_bytes());
    files.insert("report.html".into(), report_html.into_bytes());
    let mut digests: BTreeMap<String, String> =
        files.iter().map(|(k, v)| (k.clone(), sha_hex(v))).collect();
    for (name, m) in media_members {
        digests.insert(name.clone(), hex::encode(m.sha256));
    }
    manifest.files = digests.clone();
    let mut manifest_bytes = serde_json::to_vec_pretty(&*manifest)
        .map_err(|e| Error::Write(format!("the manifest: {e}")))?;
    manifest_bytes.push(b'\n');
    let sig = keys::sign(exporter, &manifest_bytes);
    digests.insert("manifest.json".into(), sha_hex(&manifest_bytes));
    digests.insert("manifest.sig".into(), sha_hex(&sig));
    let sums: String = digests.iter().map(|(n, d)| format!("{d}  {n}\n")).collect();
    write_zip(out, &manifest_bytes, &sig, &sums, &files, media_members)
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
        // What says whether its text may be revealed: its consent changes and erasure, each
        // that stands (one that does not allows no court use, which `export` applies
        // itself, and would bring in the records of a thief's keys).
        records.extend(
            authority
                .consents_of(ex)
                .iter()
                .map(|(s, _)| *s)
                .chain(authority.erased_by(ex))
                .filter(|s| ledger.stands(*s)),
        );
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
    Error::Write(format!("the bundle: {e}"))
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
    let w_err = |e: std::io::Error| Error::Write(format!("the bundle: {e}"));
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
        let media_err = |cause| Error::Io {
            path: m.label.clone().into(),
            cause,
        };
        let mut r = (m.open)().map_err(media_err)?;
        let mut h = Sha256::new();
        let mut buf = vec![0u8; 1 << 20];
        let mut n = 0u64;
        loop {
            let k = r.read(&mut buf).map_err(media_err)?;
            if k == 0 {
                break;
            }
            h.update(&buf[..k]);
            z.write_all(&buf[..k]).map_err(w_err)?;
            n += k as u64;
        }
        if <[u8; 32]>::from(h.finalize()) != m.sha256 || n != m.size {
            return Err(Error::Io {
                path: m.label.clone().into(),
                cause: std::io::Error::other(
                    "it changed while it was being copied into the bundle; try again",
                ),
            });
        }
    }
    z.finish().map_err(zip_err)?;
    Ok(())
}
