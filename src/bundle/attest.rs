//! A bundle's attestations (SPEC.md 11.2, 11.3 check 15): checkpoints of the ledger, at or
//! below the bundle's own, with what attests that they existed: witnesses' cosignatures
//! and RFC 3161 time-stamp tokens. Gathered from the ledger at export, verified from the
//! bundle alone.

use super::Manifest;
use super::manifest::{
    Attestation, CosignatureInfo, TimestampInfo, attested_checkpoint_file, certificate_file,
    cosigned_file, timestamp_file,
};
use super::read::Member;
use super::verify::Checks;
use crate::checkpoint::{Checkpoint, open_checkpoint};
use crate::error::Result;
use crate::ledger::Ledger;
use crate::note;
use crate::record::{Record, rfc3339};
use crate::rules::{self, Code};
use crate::timestamp;
use crate::witness::verify_line;
use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use sha2::{Digest, Sha256};
use std::collections::{BTreeMap, BTreeSet};
use x509_cert::Certificate;

/// What a bundle's attestations establish, once verified.
#[derive(Debug, Clone, Default)]
pub struct Attested {
    /// Per attested checkpoint size, its verified tokens.
    pub stamps: BTreeMap<u64, Vec<Stamped>>,
    /// Per attested checkpoint size, its verified cosignatures.
    pub cosigned: BTreeMap<u64, Vec<Cosigned>>,
}

/// A verified token of an attested checkpoint.
#[derive(Debug, Clone)]
pub struct Stamped {
    /// The stamped time, ms.
    pub time_ms: u64,
    /// Its accuracy, ms: the authority vouches for no later than `time_ms` plus this.
    pub accuracy_ms: u64,
    /// The signing certificate's subject.
    pub authority: String,
    /// The certificates (members) it leads to: what a court pins with `--tsa-cert`.
    pub certificates: Vec<String>,
}

/// A verified cosignature of an attested checkpoint.
#[derive(Debug, Clone)]
pub struct Cosigned {
    /// The witness's name.
    pub witness: String,
    /// When it cosigned, ms.
    pub time_ms: u64,
    /// Its verifier key: what a court pins with a policy.
    pub key: String,
}

impl Attested {
    /// The earliest time by which a verified token says a checkpoint covering record
    /// `seq` existed (its stamped time plus its accuracy): (that time, the token, the
    /// checkpoint's size).
    pub fn stamped(&self, seq: u64) -> Option<(u64, &Stamped, u64)> {
        let from = seq.checked_add(1)?;
        self.stamps
            .range(from..)
            .flat_map(|(size, v)| {
                v.iter()
                    .map(move |s| (s.time_ms.saturating_add(s.accuracy_ms), s, *size))
            })
            .min_by_key(|(t, _, size)| (*t, *size))
    }

    /// The cosignatures of the smallest cosigned checkpoint that covers record `seq`.
    pub fn witnessed(&self, seq: u64) -> Option<(u64, &[Cosigned])> {
        let from = seq.checked_add(1)?;
        self.cosigned
            .range(from..)
            .next()
            .map(|(size, v)| (*size, v.as_slice()))
    }
}

fn sha256(b: &[u8]) -> [u8; 32] {
    Sha256::digest(b).into()
}

/// The one certificate a `tsa/` member holds, exactly as custody writes it: the PEM of one
/// certificate whose DER has the SHA-256 the name gives.
fn certificate_member(name: &str, bytes: &[u8]) -> std::result::Result<Certificate, String> {
    let certs = timestamp::certificates_from_pem(bytes).map_err(|e| format!("{name}: {e}"))?;
    let [cert] = certs.as_slice() else {
        return Err(format!(
            "{name} holds {} certificates, not one",
            certs.len()
        ));
    };
    let der = timestamp::certificate_der(cert)?;
    if certificate_file(&hex::encode(sha256(&der))) != name
        || timestamp::certificates_to_pem(std::slice::from_ref(cert))?.as_bytes() != bytes
    {
        return Err(format!(
            "{name} is not exactly the PEM of the certificate whose DER SHA-256 it is named by"
        ));
    }
    Ok(cert.clone())
}

/// The cosignature's time in ms, when a manifest can hold it.
fn cosignature_ms(time_s: u64) -> Option<u64> {
    time_s
        .checked_mul(1000)
        .filter(|&ms| rules::check_representable("a time", ms).is_ok())
}

/// What an export may attest, besides what verifies: only the witnesses a policy names
/// (when one is given), never a key of the ledger or of anyone the bundle shows, and no
/// time before a record of the bundle that it covers was recorded (10 minutes allowed) or
/// after the export: exactly what check 15 then admits.
pub(super) struct Within<'a> {
    /// When the bundle is made.
    pub exported_at_ms: u64,
    /// The witness policy of `export --policy`.
    pub policy: Option<&'a crate::policy::Policy>,
    /// The authorities of `export --tsa-cert`: only tokens that lead to them.
    pub tsa_certs: &'a [Certificate],
    /// The keys of the ledger and of everyone the bundle shows.
    pub own: BTreeSet<[u8; 32]>,
    /// The recorded time of each record the bundle holds.
    pub recorded: BTreeMap<u64, u64>,
}

impl Within<'_> {
    fn bounds(&self, size: u64) -> Bounds {
        Bounds::new(
            self.recorded.range(..size).map(|(_, t)| *t),
            self.exported_at_ms,
        )
    }
}

/// At most this many cosignatures on one attested checkpoint (a signed note holds at most
/// 100 signatures), tokens on one, and certificates one token leads to.
pub const MAX_COSIGNATURES: usize = 99;
/// See [`MAX_COSIGNATURES`].
pub const MAX_TOKENS: usize = 16;
/// See [`MAX_COSIGNATURES`].
pub const MAX_CERTS: usize = 8;
/// The most tokens a bundle carries in all.
pub const MAX_TOKENS_IN_ALL: usize = 1024;

/// A kept token as a bundle carries it: its entry, the response, and its certificates'
/// members (name, PEM).
struct Token {
    info: TimestampInfo,
    response: Vec<u8>,
    certificates: Vec<(String, Vec<u8>)>,
}

/// One checkpoint's attestations, as the ledger keeps them.
#[derive(Default)]
struct Found {
    text: String,
    lines: Vec<(String, CosignatureInfo)>,
    tokens: Vec<Token>,
}

/// The attestations of a bundle of `exhibits` proven against `cp`: for each exhibit the
/// smallest time-stamped and the smallest cosigned checkpoint that cover it, and the
/// bundle's own checkpoint when anything attests it. Only what verifies is taken: tokens
/// against the certificates they were verified against when kept, cosignatures against the
/// witness keys the ledger kept, each dated at most 10 minutes after `exported_at_ms`.
/// Their members go into `files`.
pub(super) fn gather(
    ledger: &Ledger,
    exhibits: &BTreeSet<u64>,
    (cp, cp_text): (&Checkpoint, &str),
    within: &Within,
    files: &mut BTreeMap<String, Vec<u8>>,
) -> Result<Vec<Attestation>> {
    let n = cp.size;
    let exported_at_ms = within.exported_at_ms;
    let mut found: BTreeMap<u64, Found> = BTreeMap::new();
    let checkpoint = |size: u64| -> Result<Option<(Checkpoint, String)>> {
        if size == n {
            return Ok(Some((cp.clone(), cp_text.to_owned())));
        }
        if size == 0 || size > n {
            return Ok(None);
        }
        ledger.valid_checkpoint(size)
    };
    for kt in ledger.timestamps()? {
        let (Some((_, text)), Some(pem)) = (checkpoint(kt.size)?, &kt.trusted_pem) else {
            continue;
        };
        let Ok(certs) = timestamp::certificates_from_pem(pem) else {
            continue;
        };
        let Ok(stamp) = timestamp::verify_kept(
            &kt.response,
            &sha256(text.as_bytes()),
            &certs,
            exported_at_ms,
        ) else {
            continue;
        };
        let pinned = within.tsa_certs.is_empty()
            || timestamp::verify_kept(
                &kt.response,
                &sha256(text.as_bytes()),
                within.tsa_certs,
                exported_at_ms,
            )
            .is_ok();
        if !pinned
            || within.bounds(kt.size).check("", stamp.time_ms).is_err()
            || certs.len() > MAX_CERTS
        {
            continue;
        }
        let mut cert_files = BTreeMap::new();
        for cert in &certs {
            let (Ok(der), Ok(pem)) = (
                timestamp::certificate_der(cert),
                timestamp::certificates_to_pem(std::slice::from_ref(cert)),
            ) else {
                continue;
            };
            cert_files.insert(
                certificate_file(&hex::encode(sha256(&der))),
                pem.into_bytes(),
            );
        }
        let info = TimestampInfo {
            file: timestamp_file(kt.size, &stamp.serial),
            serial: stamp.serial.clone(),
            time_ms: stamp.time_ms,
            time: rfc3339(stamp.time_ms),
            signer_certificate: stamp.signer_sha256.clone(),
            certificates: cert_files.keys().cloned().collect(),
        };
        let f = found.entry(kt.size).or_default();
        f.text = text;
        if f.tokens.len() < MAX_TOKENS && !f.tokens.iter().any(|t| t.info.file == info.file) {
            f.tokens.push(Token {
                info,
                response: kt.response,
                certificates: cert_files.into_iter().collect(),
            });
        }
    }
    let vkeys = ledger.witness_keys()?;
    for size in ledger.cosigned_sizes()? {
        let (Some((cp_m, text)), Some(cosigned)) = (checkpoint(size)?, ledger.cosigned(size)?)
        else {
            continue;
        };
        let Some(rest) = cosigned.strip_prefix(&text) else {
            continue;
        };
        let mut lines: Vec<(String, CosignatureInfo)> = Vec::new();
        for line in rest.split_inclusive('\n') {
            let verified = vkeys.iter().find_map(|vkey| {
                let (witness, time) = verify_line(&text, line, vkey, &cp_m).ok()?;
                let time_ms = cosignature_ms(time)?;
                let raw = note::parse_verifier_key(vkey).ok()?.2;
                let pinned = within
                    .policy
                    .is_none_or(|p| p.witnesses.iter().any(|w| w.1 == raw));
                (pinned
                    && !within.own.contains(&raw)
                    && within.bounds(size).check("", time_ms).is_ok())
                .then(|| {
                    (
                        raw,
                        CosignatureInfo {
                            witness,
                            key: vkey.clone(),
                            time_ms,
                            time: rfc3339(time_ms),
                        },
                    )
                })
            });
            if let Some((raw, info)) = verified
                && lines.len() < MAX_COSIGNATURES
                && !lines
                    .iter()
                    .any(|(_, c)| note::parse_verifier_key(&c.key).is_ok_and(|(_, _, k)| k == raw))
            {
                lines.push((line.to_owned(), info));
            }
        }
        if !lines.is_empty() {
            let f = found.entry(size).or_default();
            f.text = text;
            f.lines = lines;
        }
    }
    // For each exhibit, the smallest checkpoint covering it of each kind; and the bundle's own.
    let mut chosen: BTreeSet<u64> = BTreeSet::new();
    if found.contains_key(&n) {
        chosen.insert(n);
    }
    for &seq in exhibits {
        let mut covering = found.range(seq.saturating_add(1)..);
        if let Some((size, _)) = covering.clone().find(|(_, f)| !f.tokens.is_empty()) {
            chosen.insert(*size);
        }
        if let Some((size, _)) = covering.find(|(_, f)| !f.lines.is_empty()) {
            chosen.insert(*size);
        }
    }
    let mut out = Vec::new();
    // At most MAX_TOKENS_IN_ALL tokens in all, the earliest checkpoints first.
    let mut budget = MAX_TOKENS_IN_ALL;
    for size in chosen {
        let Some(mut f) = found.remove(&size) else {
            continue;
        };
        f.tokens.truncate(budget);
        budget -= f.tokens.len();
        if f.tokens.is_empty() && f.lines.is_empty() {
            continue;
        }
        let checkpoint_file = attested_checkpoint_file(size, n);
        let consistency_proof = if size == n {
            Vec::new()
        } else {
            files.insert(checkpoint_file.clone(), f.text.clone().into_bytes());
            ledger
                .consistency_proof(size)?
                .hashes
                .iter()
                .map(|h| B64.encode(h))
                .collect()
        };
        let cosigned = (!f.lines.is_empty()).then(|| cosigned_file(size));
        if let Some(name) = &cosigned {
            let lines: String = f.lines.iter().map(|(l, _)| l.as_str()).collect();
            files.insert(name.clone(), format!("{}{lines}", f.text).into_bytes());
        }
        let mut timestamps = Vec::new();
        for t in f.tokens {
            files.insert(t.info.file.clone(), t.response);
            files.extend(t.certificates);
            timestamps.push(t.info);
        }
        timestamps.sort_by(|a, b| a.file.cmp(&b.file));
        out.push(Attestation {
            checkpoint_size: size,
            checkpoint_file,
            consistency_proof,
            cosigned_file: cosigned,
            cosignatures: f.lines.into_iter().map(|(_, c)| c).collect(),
            timestamps,
        });
    }
    Ok(out)
}

/// Check 15: every attestation verifies from the bundle alone. Its checkpoint is signed by
/// the ledger key in force at its size (by the bundle's own ledger-key records), admitted
/// by the checkpoint rule, and consistent with the bundle's checkpoint; each cosignature
/// line verifies by the witness key the manifest gives, at the time it gives, by a key
/// that is no key of the ledger or of anyone its records show, each key once; each token
/// verifies over the checkpoint file (SPEC.md 14, rules 1 to 6, the certificates valid at
/// the stamped time), leads to the certificates it lists, and says what the manifest says;
/// and no time is more than 10 minutes before a record of the bundle it covers was
/// recorded, or after the bundle was made. Returns what verified.
pub(super) fn check(
    manifest: &Manifest,
    members: &BTreeMap<String, Member>,
    cp: Option<&Checkpoint>,
    (authority, records): (Option<&rules::Authority>, &BTreeMap<u64, Record>),
    c: &mut Checks,
) -> Attested {
    let mut attested = Attested::default();
    // Attestations that check 4 refuses (order, names, counts) attest nothing, and are not
    // worked through: their cost is the forger's, never the court's.
    if !super::manifest::attestation_problems(manifest).is_empty() {
        return attested;
    }
    let own = own_keys(manifest, records);
    let mut certs = CertCache::default();
    for a in &manifest.attestations {
        let size = a.checkpoint_size;
        // Entries beyond what check 4 admits attest nothing, and are not worked through.
        if !within_bounds(manifest, a) {
            continue;
        }
        let text = std::str::from_utf8(held(members, &a.checkpoint_file)).unwrap_or_default();
        let cp_m = attested_checkpoint(manifest, a, text, cp, (authority, records));
        if !c.add(
            format!("attested checkpoint {size}"),
            Code::CheckpointSignature,
            cp_m.as_ref().map_err(Clone::clone).map(|_| {
                if size == manifest.ledger.checkpoint_size {
                    "the bundle's own checkpoint".to_owned()
                } else {
                    format!(
                        "signed by the ledger key in force at {size} records, and consistent with the bundle's checkpoint"
                    )
                }
            }),
        ) {
            continue;
        }
        let Ok(cp_m) = cp_m else {
            continue;
        };
        // Nothing attests a checkpoint before the records it covers were recorded (10
        // minutes allowed between clocks), nor after the bundle was made.
        let bounds = Bounds::new(
            records.range(..size).map(|(_, r)| r.recorded_at_ms),
            manifest.exported_at_ms,
        );
        let v = Verifying {
            a,
            text,
            members,
            bounds,
        };
        v.cosignatures(&cp_m, &own, &mut attested, c);
        v.tokens(manifest.exported_at_ms, &mut certs, &mut attested, c);
    }
    attested
}

/// Whether an attestation is within what check 4 admits: a size from 1 to the bundle's,
/// bounded counts, in a manifest with at most two per exhibit and one more.
fn within_bounds(manifest: &Manifest, a: &Attestation) -> bool {
    manifest.attestations.len() <= 2 * manifest.exhibits.len() + 1
        && a.checkpoint_size != 0
        && a.checkpoint_size <= manifest.ledger.checkpoint_size
        && a.cosignatures.len() <= MAX_COSIGNATURES
        && a.timestamps.len() <= MAX_TOKENS
        && a.timestamps
            .iter()
            .all(|t| t.certificates.len() <= MAX_CERTS)
}

/// The keys of the ledger and of everyone its bundle shows: none of them is an independent
/// witness of it.
fn own_keys(manifest: &Manifest, records: &BTreeMap<u64, Record>) -> BTreeSet<[u8; 32]> {
    use crate::record::Body;
    let mut own: BTreeSet<[u8; 32]> = [&manifest.ledger.public_key, &manifest.exporter.public_key]
        .into_iter()
        .filter_map(|k| super::manifest::decode_key(k).ok())
        .collect();
    for r in records.values() {
        own.insert(r.statement.signer);
        match &r.statement.body {
            Body::Authorize { key, .. } | Body::LedgerKey { key } | Body::Revoke { key, .. } => {
                own.insert(*key);
            }
            Body::Transfer { to, .. } => {
                own.insert(*to);
            }
            _ => {}
        }
    }
    own
}

/// The times an attestation may carry.
#[derive(Clone, Copy)]
struct Bounds {
    /// The latest recorded time of a record of the bundle it covers.
    covered_ms: u64,
    /// When the bundle was made.
    exported_at_ms: u64,
}

impl Bounds {
    /// The bounds of an attested checkpoint whose covered records at hand were recorded at
    /// `covered`, in a bundle made at `exported_at_ms`.
    fn new(covered: impl Iterator<Item = u64>, exported_at_ms: u64) -> Self {
        Bounds {
            covered_ms: covered.max().unwrap_or(0),
            exported_at_ms,
        }
    }

    fn check(&self, what: &str, ms: u64) -> std::result::Result<(), String> {
        rules::check_attestation_time(
            what,
            ms,
            self.covered_ms,
            self.exported_at_ms,
            "the bundle was made",
        )
    }
}

/// The largest `tsa/` member read: one certificate.
const MAX_CERTIFICATE: usize = 64 * 1024;

/// The `tsa/` members read so far (each parsed once, and only when it is small), and the
/// tokens verified so far (the same bytes over the same checkpoint against the same
/// certificates are verified once).
#[derive(Default)]
struct CertCache(
    BTreeMap<String, std::result::Result<Certificate, String>>,
    TokenCache,
);

type TokenCache =
    BTreeMap<([u8; 32], [u8; 32], Vec<String>), std::result::Result<timestamp::Stamp, String>>;

impl CertCache {
    fn get(
        &mut self,
        name: &str,
        members: &BTreeMap<String, Member>,
    ) -> std::result::Result<Certificate, String> {
        self.0
            .entry(name.to_owned())
            .or_insert_with(|| {
                let bytes = held(members, name);
                if !members.contains_key(name) {
                    return Err(format!("{name} is missing"));
                }
                if bytes.len() > MAX_CERTIFICATE {
                    return Err(format!(
                        "{name} is more than {MAX_CERTIFICATE} bytes: not one certificate"
                    ));
                }
                certificate_member(name, bytes)
            })
            .clone()
    }
}

fn held<'m>(members: &'m BTreeMap<String, Member>, name: &str) -> &'m [u8] {
    members
        .get(name)
        .and_then(|m| m.bytes.as_deref())
        .unwrap_or_default()
}

/// The attested checkpoint, once its signature, the checkpoint rule and its consistency
/// with the bundle's checkpoint hold.
fn attested_checkpoint(
    manifest: &Manifest,
    a: &Attestation,
    text: &str,
    cp: Option<&Checkpoint>,
    (authority, records): (Option<&rules::Authority>, &BTreeMap<u64, Record>),
) -> std::result::Result<Checkpoint, String> {
    let size = a.checkpoint_size;
    let cp = cp.ok_or("the bundle's checkpoint does not verify")?;
    if size == 0 || size > cp.size {
        return Err(format!(
            "its size is not between 1 and the bundle's checkpoint's {}",
            cp.size
        ));
    }
    if a.checkpoint_file != attested_checkpoint_file(size, cp.size) {
        return Err(format!(
            "its checkpoint file must be {}",
            attested_checkpoint_file(size, cp.size)
        ));
    }
    if size == cp.size {
        return Ok(cp.clone());
    }
    let authority =
        authority.ok_or("the bundle's ledger keys are not known (the authority check failed)")?;
    let key = authority
        .ledger_key_at(size)
        .ok_or("no ledger key is known (no genesis)")?;
    let cp_m = open_checkpoint(text, &manifest.ledger.origin, &key)
        .map_err(|e| format!("{}: {e}", a.checkpoint_file))?;
    // Exactly as the ledger keeps it: the ledger's own signature, and no other line.
    if note::signature_lines(text).len() != 1 {
        return Err(format!(
            "{} carries other signature lines than the ledger's own",
            a.checkpoint_file
        ));
    }
    if cp_m.size != size {
        return Err(format!(
            "{} is of size {}, not {size}",
            a.checkpoint_file, cp_m.size
        ));
    }
    // The checkpoint rule, as check 12 applies it to the bundle's own checkpoint.
    let last = records.get(&(size - 1)).map(|r| r.recorded_at_ms);
    authority
        .check_checkpoint(size, &key, last)
        .map_err(|v| v.message)?;
    let proof: Vec<crate::Hash> = a
        .consistency_proof
        .iter()
        .map(|h| {
            B64.decode(h)
                .ok()
                .and_then(|v| <[u8; 32]>::try_from(v).ok())
                .ok_or_else(|| format!("'{h}' is not a base64 32-byte hash"))
        })
        .collect::<std::result::Result<_, _>>()?;
    crate::merkle::verify_consistency_proof(size, cp.size, &proof, &cp_m.root, &cp.root)
        .map_err(|e| format!("it is not consistent with the bundle's checkpoint: {e}"))?;
    Ok(cp_m)
}

/// One attestation being verified.
struct Verifying<'a> {
    a: &'a Attestation,
    /// Its checkpoint file's text.
    text: &'a str,
    members: &'a BTreeMap<String, Member>,
    bounds: Bounds,
}

impl Verifying<'_> {
    fn cosignatures(
        &self,
        cp_m: &Checkpoint,
        own: &BTreeSet<[u8; 32]>,
        attested: &mut Attested,
        c: &mut Checks,
    ) {
        let (a, text) = (self.a, self.text);
        let Some(file) = &a.cosigned_file else {
            return;
        };
        let size = a.checkpoint_size;
        let cosigned = std::str::from_utf8(held(self.members, file)).unwrap_or_default();
        let lines: Vec<&str> = match cosigned.strip_prefix(text) {
            Some(rest) if rest.ends_with('\n') => rest.split_inclusive('\n').collect(),
            _ => {
                c.add(
                    format!("attested checkpoint {size}: witnesses"),
                    Code::Cosignature,
                    Err(format!(
                        "{file} is not {} followed by cosignature lines",
                        a.checkpoint_file
                    )),
                );
                return;
            }
        };
        if lines.len() != a.cosignatures.len() {
            c.add(
                format!("attested checkpoint {size}: witnesses"),
                Code::Cosignature,
                Err(format!(
                    "{file} holds {} cosignature lines, and the manifest lists {}",
                    lines.len(),
                    a.cosignatures.len()
                )),
            );
            return;
        }
        // A witness is a key: one key under two names is one witness, counted once.
        let mut seen = BTreeSet::new();
        for (line, info) in lines.iter().zip(&a.cosignatures) {
            let r = verify_line(text, line, &info.key, cp_m).and_then(|(name, time)| {
                if name != info.witness {
                    return Err(format!("the key is named {name}, not {}", info.witness));
                }
                let raw = note::parse_verifier_key(&info.key)
                    .map_err(|e| e.to_string())?
                    .2;
                if !seen.insert(raw) {
                    return Err("the same witness key cosigns twice".into());
                }
                if own.contains(&raw) {
                    return Err("the witness's key is a key of the ledger, or of someone its records show: no independent witness".into());
                }
                let ms = cosignature_ms(time).ok_or("its time is past the year 9999")?;
                if ms != info.time_ms {
                    return Err(format!(
                        "it was made at {}, not at {}",
                        rfc3339(ms),
                        info.time
                    ));
                }
                self.bounds.check("its time", ms)?;
                Ok(ms)
            });
            if c.add(
                format!("attested checkpoint {size}: witness {}", info.witness),
                Code::Cosignature,
                r.as_ref()
                    .map_err(Clone::clone)
                    .map(|_| format!("cosigned at {} (key {})", info.time, info.key)),
            ) {
                attested.cosigned.entry(size).or_default().push(Cosigned {
                    witness: info.witness.clone(),
                    time_ms: info.time_ms,
                    key: info.key.clone(),
                });
            }
        }
    }

    fn tokens(
        &self,
        exported_at_ms: u64,
        cache: &mut CertCache,
        attested: &mut Attested,
        c: &mut Checks,
    ) {
        let (a, members) = (self.a, self.members);
        let size = a.checkpoint_size;
        let imprint = sha256(self.text.as_bytes());
        for t in &a.timestamps {
            let r = (|| {
                if !members.contains_key(&t.file) {
                    return Err(format!("{} is missing", t.file));
                }
                let token = held(members, &t.file);
                let id = (sha256(token), imprint, t.certificates.clone());
                let stamp = match cache.1.get(&id) {
                    Some(r) => r.clone()?,
                    None => {
                        let r = t
                            .certificates
                            .iter()
                            .map(|f| cache.get(f, members))
                            .collect::<std::result::Result<Vec<_>, _>>()
                            .and_then(|certs| {
                                timestamp::verify_kept(token, &imprint, &certs, exported_at_ms)
                            });
                        cache.1.insert(id, r.clone());
                        r?
                    }
                };
                if stamp.serial != t.serial
                    || stamp.time_ms != t.time_ms
                    || stamp.signer_sha256 != t.signer_certificate
                {
                    return Err(format!(
                        "the token says serial {}, time {}, signing certificate {}: not what the manifest says",
                        stamp.serial,
                        rfc3339(stamp.time_ms),
                        stamp.signer_sha256
                    ));
                }
                self.bounds.check("the stamped time", stamp.time_ms)?;
                Ok(stamp)
            })();
            let name = format!("attested checkpoint {size}: time-stamp {}", t.serial);
            match r {
                Ok(stamp) => {
                    c.add(
                        name,
                        Code::Timestamp,
                        Ok(format!(
                            "existed no later than {}, attested by {}",
                            rfc3339(stamp.time_ms.saturating_add(stamp.accuracy_ms)),
                            crate::encoding::terminal_safe(&stamp.authority, false)
                        )),
                    );
                    attested.stamps.entry(size).or_default().push(Stamped {
                        time_ms: stamp.time_ms,
                        accuracy_ms: stamp.accuracy_ms,
                        authority: stamp.authority,
                        certificates: t.certificates.clone(),
                    });
                }
                Err(e) => {
                    c.add(name, Code::Timestamp, Err(e));
                }
            }
        }
    }
}

/// With `--tsa-cert`: every token of the bundle also leads to one of the certificates the
/// verifier trusts (outside the report: it depends on the verifier's choice).
pub(super) fn check_pinned(
    manifest: &Manifest,
    members: &BTreeMap<String, Member>,
    trusted: &[Certificate],
    c: &mut Checks,
) {
    let mut bad = Vec::new();
    let mut n = 0;
    // What check 4 refuses is not worked through (it fails there), and a token listed
    // twice is verified once.
    if !super::manifest::attestation_problems(manifest).is_empty() {
        c.add(
            "trusted time-stamp authorities",
            Code::Trust,
            Err(
                "the attestations break the manifest's rules (check 4), so no token was checked"
                    .into(),
            ),
        );
        return;
    }
    let mut seen = BTreeSet::new();
    for a in manifest
        .attestations
        .iter()
        .filter(|a| within_bounds(manifest, a))
    {
        let text = held(members, &a.checkpoint_file);
        for t in &a.timestamps {
            n += 1;
            let token = held(members, &t.file);
            if !seen.insert((sha256(token), sha256(text))) {
                continue;
            }
            if let Err(e) =
                timestamp::verify_kept(token, &sha256(text), trusted, manifest.exported_at_ms)
            {
                bad.push(format!("{}: {e}", t.file));
            }
        }
    }
    if manifest
        .attestations
        .iter()
        .any(|a| !within_bounds(manifest, a))
    {
        bad.push("attestations beyond what check 4 admits were not checked".into());
    }
    c.add(
        "trusted time-stamp authorities",
        Code::Trust,
        if bad.is_empty() {
            Ok(format!(
                "{n} time-stamp tokens lead to the certificates you trust"
            ))
        } else {
            Err(bad.join("; "))
        },
    );
}

/// With `--policy`: the bundle's own checkpoint, with the cosignatures the bundle carries
/// for it, meets the policy's quorum; and every cosignature the bundle carries, on any
/// checkpoint, is by a witness the policy names (an unnamed one is a claim nobody pinned).
pub(super) fn check_policy(
    manifest: &Manifest,
    members: &BTreeMap<String, Member>,
    cp: Option<&Checkpoint>,
    policy: &crate::policy::Policy,
    c: &mut Checks,
) {
    let r = (|| {
        let cp = cp.ok_or("the bundle's checkpoint does not verify")?;
        let ledger_key = super::manifest::decode_key(&manifest.ledger.public_key)?;
        let note = manifest
            .attestations
            .iter()
            .find(|a| a.checkpoint_size == cp.size)
            .and_then(|a| a.cosigned_file.as_deref())
            .map_or("checkpoint.txt", |f| f);
        let text =
            std::str::from_utf8(held(members, note)).map_err(|_| format!("{note} is not UTF-8"))?;
        let cosigned = policy.check(text, cp, &ledger_key)?;
        Ok(format!(
            "the checkpoint is cosigned by {}",
            if cosigned.is_empty() {
                "no witness (the policy asks for none)".to_owned()
            } else {
                cosigned.join(", ")
            }
        ))
    })();
    c.add("witness quorum", Code::WitnessQuorum, r);
    // A witness is its key: the policy's name for each key is what the check says, beside
    // the label the bundle gives it.
    let mut unnamed = Vec::new();
    let mut named = BTreeSet::new();
    for a in &manifest.attestations {
        for x in &a.cosignatures {
            let policy_name = note::parse_verifier_key(&x.key).ok().and_then(|(_, _, k)| {
                policy
                    .witnesses
                    .iter()
                    .find(|w| w.1 == k)
                    .map(|w| w.0.clone())
            });
            match policy_name {
                Some(p) => {
                    named.insert(format!("{p} (labelled {} in the bundle)", x.witness));
                }
                None => unnamed.push(format!(
                    "{} on the checkpoint of {} records",
                    x.witness, a.checkpoint_size
                )),
            }
        }
    }
    c.add(
        "pinned witnesses",
        Code::Trust,
        if unnamed.is_empty() {
            Ok(if named.is_empty() {
                "the bundle carries no cosignature".into()
            } else {
                format!(
                    "every cosignature in the bundle is by a witness key the policy names: {}",
                    named.into_iter().collect::<Vec<_>>().join(", ")
                )
            })
        } else {
            Err(format!(
                "cosignatures by witnesses the policy does not name: {}",
                unnamed.join(", ")
            ))
        },
    );
}
