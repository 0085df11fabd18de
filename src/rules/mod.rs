//! Every rule that decides whether a record is valid where it stands (SPEC.md sections 3,
//! 4 and 4.1), written once.
//!
//! Appending, indexing after a crash, `verify`, `history`, `audit`, `export` and
//! `verify-bundle` all call this module; none restates a rule. It is pure: no disk, no clock
//! and no randomness (callers pass the time in), so that the same inputs always give the
//! same verdict. Each broken rule is a [`Violation`] with a typed [`Code`], the stable name
//! that `--json` output and SPEC.md's table use; decisions anywhere else read the code,
//! never the message.

mod authority;

pub use authority::{
    Authority, Compromise, Ended, Holding, KeyState, Lookup, RecordsLookup, SealTo, Taint,
    TransferState, statement_digest,
};

use crate::Hash;
use crate::record::{self, Body, Record};
use serde::Serialize;

/// How far a signer's claimed time may run ahead of the ledger's recorded time, and how far
/// a recorded time may run ahead of the time of an audit (SPEC.md section 4).
pub const MAX_CLOCK_SKEW_MS: u64 = 10 * 60 * 1000;

/// The last millisecond of the year 9999: the latest time RFC 3339 (and a bundle) can
/// hold.
pub const MAX_TIME_MS: u64 = 253_402_300_799_999;

/// The stable name of a rule, a check or a finding (SPEC.md section 9).
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, serde::Deserialize,
)]
#[serde(rename_all = "kebab-case")]
#[non_exhaustive]
pub enum Code {
    /// A record says another sequence number than its position.
    Sequence,
    /// `prev` is not the previous record's leaf hash.
    Chain,
    /// A signature fails SPEC.md section 1.
    Signature,
    /// Record 0 is not a genesis by the ledger key, or a genesis appears later.
    Genesis,
    /// A signer claims to have signed after the ledger recorded the statement.
    ClaimedAfterRecorded,
    /// A recorded time goes back.
    TimeOrder,
    /// A record is dated after the time of the audit.
    FutureDated,
    /// A record breaks a rule of section 4.1.
    Unauthorized,
    /// A record signed by a compromised key from its effective point on.
    SignedAfterCompromise,
    /// A record signed by a key authorised inside a compromise window.
    TaintedSigner,
    /// A checkpoint not signed by the ledger key in force at its size.
    CheckpointKey,
    /// A checkpoint covering a record from its key's compromise point on.
    CheckpointCompromised,
    /// Testimony content missing or not matching its commitment.
    Content,
    /// A record does not decode.
    Decode,
    /// The record's inclusion in a signed checkpoint does not verify, or is not yet
    /// covered.
    Inclusion,
    /// An index does not map a record as it should.
    LeafIndex,
    /// The media index.
    MediaIndex,
    /// The content index.
    ContentIndex,
    /// The authority index.
    AuthorityIndex,
    /// The index cannot be trusted as a whole.
    LedgerConsistency,
    /// A journal frame's trailer does not match its bytes.
    JournalFrame,
    /// The journal ends inside a frame.
    JournalTorn,
    /// A frame has an impossible length.
    JournalFrameLength,
    /// The journal header is wrong.
    JournalHeader,
    /// Journal and index hold different bytes for a record.
    JournalIndexMismatch,
    /// A record in the journal but not the index.
    IndexMissing,
    /// A record in the index but not the journal.
    IndexExtra,
    /// The index's record count differs from the journal's.
    SizeMismatch,
    /// Opening the ledger found its index out of step with the journal (appends refused).
    IndexDamaged,
    /// The checkpoint relied on lacks the quorum of witness cosignatures a policy asks for.
    WitnessQuorum,
    /// A stored hash tile differs from the one the records give, or is missing.
    TreeHash,
    /// The index holds other tiles than its tree has.
    TreeHashCount,
    /// A stored checkpoint's signature fails.
    CheckpointSignature,
    /// A stored checkpoint's root differs.
    CheckpointRoot,
    /// A stored checkpoint covers records that do not exist.
    CheckpointBeyondLedger,
    /// A stored checkpoint's index key is malformed.
    CheckpointEntry,
    /// A stored checkpoint is stored under another size.
    CheckpointMisfiled,
    /// No checkpoint at all.
    NoCheckpoint,
    /// The checkpoints file and the index disagree.
    CheckpointFile,
    /// A saved checkpoint's signature fails.
    AgainstSignature,
    /// A saved checkpoint's root differs.
    AgainstRoot,
    /// A saved checkpoint covers more records than exist.
    AgainstBeyondLedger,
    /// A saved checkpoint is of another origin.
    AgainstOrigin,
    /// The ledger key is not the expected one.
    LedgerKey,
    /// A media record names another file.
    MediaFile,
    /// The record names this file (verify --file).
    NamesFile,
    /// A custody link (hand-over or acceptance) fails.
    CustodyLink,
    /// A consent rule of a bundle.
    Consent,
    /// A bundle's archive is unsafe or malformed.
    Archive,
    /// A bundle's files against SHA256SUMS and the manifest's digests.
    Digests,
    /// A bundle's manifest.
    Manifest,
    /// A bundle's manifest signature.
    ManifestSignature,
    /// A bundle's keys against the keys the verifier trusts.
    Trust,
    /// A bundle's report.html or VERIFY.txt differs from what custody renders.
    Report,
    /// A bundle's record against its manifest entry.
    RecordFields,
    /// Journal records past the index: an append interrupted after its fsync.
    InterruptedAppend,
    /// A bundle exported on purpose with exhibits that fail their own checks.
    IncludedFailing,
    /// A witness's cosignature kept by the ledger or carried by a bundle does not verify.
    Cosignature,
    /// A time-stamp token kept by the ledger or carried by a bundle does not verify.
    Timestamp,
}

impl Code {
    /// The code as SPEC.md and `--json` write it.
    pub fn as_str(self) -> &'static str {
        match self {
            Code::Sequence => "sequence",
            Code::Chain => "chain",
            Code::Signature => "signature",
            Code::Genesis => "genesis",
            Code::ClaimedAfterRecorded => "claimed-after-recorded",
            Code::TimeOrder => "time-order",
            Code::FutureDated => "future-dated",
            Code::Unauthorized => "unauthorized",
            Code::SignedAfterCompromise => "signed-after-compromise",
            Code::TaintedSigner => "tainted-signer",
            Code::CheckpointKey => "checkpoint-key",
            Code::CheckpointCompromised => "checkpoint-compromised",
            Code::Content => "content",
            Code::Decode => "decode",
            Code::Inclusion => "inclusion",
            Code::LeafIndex => "leaf-index",
            Code::MediaIndex => "media-index",
            Code::ContentIndex => "content-index",
            Code::AuthorityIndex => "authority-index",
            Code::LedgerConsistency => "ledger-consistency",
            Code::JournalFrame => "journal-frame",
            Code::JournalTorn => "journal-torn",
            Code::JournalFrameLength => "journal-frame-length",
            Code::JournalHeader => "journal-header",
            Code::JournalIndexMismatch => "journal-index-mismatch",
            Code::IndexMissing => "index-missing",
            Code::IndexExtra => "index-extra",
            Code::SizeMismatch => "size-mismatch",
            Code::IndexDamaged => "index-damaged",
            Code::WitnessQuorum => "witness-quorum",
            Code::Cosignature => "cosignature",
            Code::Timestamp => "timestamp",
            Code::TreeHash => "tree-hash",
            Code::TreeHashCount => "tree-hash-count",
            Code::CheckpointSignature => "checkpoint-signature",
            Code::CheckpointRoot => "checkpoint-root",
            Code::CheckpointBeyondLedger => "checkpoint-beyond-ledger",
            Code::CheckpointEntry => "checkpoint-entry",
            Code::CheckpointMisfiled => "checkpoint-misfiled",
            Code::NoCheckpoint => "no-checkpoint",
            Code::CheckpointFile => "checkpoint-file",
            Code::AgainstSignature => "against-signature",
            Code::AgainstRoot => "against-root",
            Code::AgainstBeyondLedger => "against-beyond-ledger",
            Code::AgainstOrigin => "against-origin",
            Code::LedgerKey => "ledger-key",
            Code::MediaFile => "media-file",
            Code::NamesFile => "names-file",
            Code::CustodyLink => "custody-link",
            Code::Consent => "consent",
            Code::Archive => "archive",
            Code::Digests => "digests",
            Code::Manifest => "manifest",
            Code::ManifestSignature => "manifest-signature",
            Code::Trust => "trust",
            Code::Report => "report",
            Code::RecordFields => "record-fields",
            Code::InterruptedAppend => "interrupted-append",
            Code::IncludedFailing => "included-failing",
        }
    }

    /// Whether a failed check of this code is a verdict on the evidence (which a court may
    /// still want to see, flagged, with `export --include-failing`) rather than damage to
    /// the ledger's storage (which no bundle can carry).
    pub fn is_evidence_verdict(self) -> bool {
        matches!(
            self,
            Code::Unauthorized
                | Code::SignedAfterCompromise
                | Code::TaintedSigner
                | Code::TimeOrder
                | Code::ClaimedAfterRecorded
                | Code::FutureDated
        )
    }
}

impl std::fmt::Display for Code {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A rule broken: its code and the evidence, in words.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, thiserror::Error)]
#[error("{message}")]
pub struct Violation {
    /// Which rule.
    pub code: Code,
    /// What was expected and what was found.
    pub message: String,
}

impl Violation {
    /// A violation of `code`.
    pub fn new(code: Code, message: impl Into<String>) -> Self {
        Violation {
            code,
            message: message.into(),
        }
    }
}

/// Whether the position rules are applied to admit a record (append, indexing after a
/// crash) or to report on it (audit): they differ only in the time-order exception.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// A recorded time more than [`MAX_CLOCK_SKEW_MS`] before the previous one is admitted.
    Admit,
    /// Every decrease of the recorded time is reported.
    Report,
}

/// What the position rules need to know about the record before, and about the ledger.
#[derive(Debug, Clone, Copy)]
pub struct Position<'a> {
    /// The position.
    pub seq: u64,
    /// The previous record's leaf hash and recorded time, when known (`None` in a bundle,
    /// whose records are not contiguous; record 0 needs none).
    pub prev: Option<(Hash, u64)>,
    /// The ledger's origin, when known, which the genesis must name.
    pub origin: Option<&'a str>,
    /// The first ledger key, when known, which must sign the genesis.
    pub genesis_key: Option<&'a [u8; 32]>,
}

/// The position rules of SPEC.md section 4 for `rec` at `pos` (signatures and content
/// aside): every rule broken.
pub fn check_position(rec: &Record, pos: &Position, mode: Mode) -> Vec<Violation> {
    let seq = pos.seq;
    let mut out = Vec::new();
    if rec.seq != seq {
        out.push(Violation::new(
            Code::Sequence,
            format!("record at position {seq} says it is number {}", rec.seq),
        ));
    }
    let prev = if seq == 0 {
        Some(([0u8; 32], rec.recorded_at_ms))
    } else {
        pos.prev
    };
    if let Some((leaf, prev_time)) = prev {
        if rec.prev != leaf {
            out.push(Violation::new(
                Code::Chain,
                format!(
                    "broken chain at record {seq}: prev is {}, the record before it hashes to {}",
                    hex::encode(rec.prev),
                    hex::encode(leaf)
                ),
            ));
        }
        // Reported at the later record, whatever the time of the check: which clock was
        // wrong cannot be told from the records, and a record dated back by a thief's
        // clock must never pass because an earlier one is blamed instead.
        if let Some(v) = time_order(seq, prev_time, rec.recorded_at_ms, mode) {
            out.push(v);
        }
    }
    match &rec.statement.body {
        Body::Genesis { origin } if seq == 0 => {
            if pos.origin.is_some_and(|o| o != origin) {
                out.push(Violation::new(
                    Code::Genesis,
                    format!(
                        "the genesis names origin '{origin}', not this ledger's '{}'",
                        pos.origin.unwrap_or_default()
                    ),
                ));
            }
            if pos.genesis_key.is_some_and(|k| k != &rec.statement.signer) {
                out.push(Violation::new(
                    Code::Genesis,
                    "the genesis is signed by a key other than the ledger's first key",
                ));
            }
        }
        Body::Genesis { .. } => out.push(Violation::new(
            Code::Genesis,
            format!("record {seq} is a genesis statement; only record 0 may be"),
        )),
        _ if seq == 0 => out.push(Violation::new(
            Code::Genesis,
            "record 0 is not a genesis statement",
        )),
        _ => {}
    }
    if rec.statement.claimed_at_ms > rec.recorded_at_ms.saturating_add(MAX_CLOCK_SKEW_MS) {
        out.push(Violation::new(
            Code::ClaimedAfterRecorded,
            format!(
                "record {seq} claims to be signed at {}, more than {} minutes after the ledger recorded it ({}): the signer's clock was ahead",
                record::rfc3339(rec.statement.claimed_at_ms),
                MAX_CLOCK_SKEW_MS / 60_000,
                record::rfc3339(rec.recorded_at_ms)
            ),
        ));
    }
    out
}

/// The time-order rule between the record before (`prev_ms`) and the record at `seq`
/// (`cur_ms`).
fn time_order(seq: u64, prev_ms: u64, cur_ms: u64, mode: Mode) -> Option<Violation> {
    if cur_ms >= prev_ms {
        return None;
    }
    let jump = prev_ms - cur_ms;
    if mode == Mode::Admit && jump > MAX_CLOCK_SKEW_MS {
        return None;
    }
    Some(Violation::new(
        Code::TimeOrder,
        format!(
            "record {seq} was recorded at {}, {} before the record preceding it ({}): the clock of a machine that appended one of them was wrong{}",
            record::rfc3339(cur_ms),
            duration(jump),
            record::rfc3339(prev_ms),
            if jump > MAX_CLOCK_SKEW_MS {
                "; the records themselves may be intact"
            } else {
                ""
            }
        ),
    ))
}

fn duration(ms: u64) -> String {
    humantime::format_duration(std::time::Duration::from_millis(ms)).to_string()
}

/// The recorded time an append gives its records: this machine's clock, never earlier
/// than the last record unless that record is dated more than [`MAX_CLOCK_SKEW_MS`] after
/// it (its machine's clock was ahead; the ledger goes on with the present time).
pub fn recorded_time(last_recorded_ms: u64, now_ms: u64) -> u64 {
    if last_recorded_ms > now_ms.saturating_add(MAX_CLOCK_SKEW_MS) {
        now_ms
    } else {
        now_ms.max(last_recorded_ms)
    }
}

/// A record dated more than [`MAX_CLOCK_SKEW_MS`] after `now_ms` (the time of an audit).
pub fn future_dated(seq: u64, recorded_ms: u64, now_ms: u64) -> Option<Violation> {
    (recorded_ms > now_ms.saturating_add(MAX_CLOCK_SKEW_MS)).then(|| {
        Violation::new(
            Code::FutureDated,
            format!(
                "record {seq} is dated {}, after the time of this audit ({}): the clock of the machine that appended it was ahead",
                record::rfc3339(recorded_ms),
                record::rfc3339(now_ms)
            ),
        )
    })
}

/// The strict signature rule of SPEC.md section 1 for one record.
pub fn check_signature(rec: &Record) -> Result<(), Violation> {
    crate::keys::verify_strict(
        &rec.statement.signer,
        &record::signing_message(&rec.statement_bytes),
        &rec.signature,
    )
    .map_err(|e| {
        Violation::new(
            Code::Signature,
            format!(
                "{e} (signer key {})",
                crate::keys::short_id(&rec.statement.signer)
            ),
        )
    })
}

/// "a" or "an" before a record kind's name, as a person would write it.
pub fn a_kind(kind: &str) -> String {
    let an = kind.starts_with(['a', 'e', 'i', 'o', 'u']);
    format!("{} {kind}", if an { "an" } else { "a" })
}

/// The consent vocabulary (SPEC.md section 3).
pub const CONSENT_SCOPES: [&str; 5] = ["court", "advocacy", "research", "archive", "none"];

fn consent_items(consent: &str) -> impl Iterator<Item = &str> {
    consent.split(',').map(|i| i.trim_matches(' '))
}

/// Checks a consent value before it is signed: comma-separated scopes of the vocabulary,
/// none repeated, `none` alone.
pub fn check_consent(consent: &str) -> Result<(), String> {
    let valid = CONSENT_SCOPES.join(", ");
    let mut seen = Vec::new();
    for item in consent_items(consent) {
        if !CONSENT_SCOPES.contains(&item) {
            return Err(format!(
                "consent '{consent}': '{item}' is not a consent scope; give a comma-separated list of: {valid} (for example court,research)"
            ));
        }
        if seen.contains(&item) {
            return Err(format!(
                "consent '{consent}': '{item}' is given twice; give a comma-separated list of: {valid}"
            ));
        }
        seen.push(item);
    }
    if seen.contains(&"none") && seen.len() > 1 {
        return Err(format!(
            "consent '{consent}': 'none' cannot be combined with another scope; give a comma-separated list of: {valid}, or none alone"
        ));
    }
    Ok(())
}

/// Whether a recorded consent allows court use, read conservatively whatever wrote it: an
/// item exactly `court`, and no item `none`.
pub fn consent_allows_court(consent: Option<&str>) -> bool {
    consent.is_some_and(|c| {
        consent_items(c).any(|i| i == "court") && !consent_items(c).any(|i| i == "none")
    })
}

/// Whether a testimony may reach a court by the consent in force (SPEC.md section 3): the
/// scope of its last consent change, or its own when none changed it. `changes` are the
/// consent records in order, each with whether it stands (obeyed the rules and is not
/// flagged by a verdict): a last change that does not stand allows no court use, so a
/// stolen key can withdraw consent but never grant it.
pub fn court_use_allowed(own: Option<&str>, changes: &[(&str, bool)]) -> bool {
    match changes.last() {
        None => consent_allows_court(own),
        Some((scope, stands)) => *stands && consent_allows_court(Some(scope)),
    }
}

/// The attestation-time rule (SPEC.md sections 11.3 check 15, 13 and 14): a witness's
/// cosignature time or an authority's stamped time `ms` for a checkpoint is not more than
/// [`MAX_CLOCK_SKEW_MS`] before `covered_ms`, the latest recorded time of the records it
/// covers that are at hand (nothing attests a checkpoint before its records existed), nor
/// more than that after `latest_ms`, the latest time it can bear (`latest_is` says which:
/// this machine's clock, or when a bundle was made).
pub fn check_attestation_time(
    what: &str,
    ms: u64,
    covered_ms: u64,
    latest_ms: u64,
    latest_is: &str,
) -> Result<(), String> {
    if ms > latest_ms.saturating_add(MAX_CLOCK_SKEW_MS) {
        return Err(format!(
            "{what} {} is more than 10 minutes after {latest_is}",
            crate::record::rfc3339(ms)
        ));
    }
    if ms.saturating_add(MAX_CLOCK_SKEW_MS) < covered_ms {
        return Err(format!(
            "{what} {} is more than 10 minutes before a record it covers was recorded ({}): nothing attests a checkpoint before its records existed",
            crate::record::rfc3339(ms),
            crate::record::rfc3339(covered_ms)
        ));
    }
    Ok(())
}

/// A time a bundle can write (RFC 3339 up to the year 9999).
pub fn check_representable(what: &str, ms: u64) -> Result<(), Violation> {
    if ms > MAX_TIME_MS {
        return Err(Violation::new(
            Code::FutureDated,
            format!("{what} ({ms} ms after 1970) is beyond the year 9999 and cannot be written"),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    /// Nothing attests a checkpoint more than 10 minutes before a record it covers was
    /// recorded, nor more than 10 minutes after the latest time it can bear.
    #[test]
    fn attestation_times_are_bounded_on_both_sides() {
        let (rec, latest) = (1_000_000_000, 2_000_000_000);
        let check = |ms| check_attestation_time("t", ms, rec, latest, "now");
        assert!(check(rec).is_ok());
        assert!(check(rec - MAX_CLOCK_SKEW_MS).is_ok());
        assert!(check(rec - MAX_CLOCK_SKEW_MS - 1).is_err());
        assert!(check(latest + MAX_CLOCK_SKEW_MS).is_ok());
        assert!(check(latest + MAX_CLOCK_SKEW_MS + 1).is_err());
        assert!(check_attestation_time("t", 0, 0, u64::MAX, "now").is_ok());
    }

    use super::*;

    #[test]
    fn a_consent_change_that_does_not_stand_grants_nothing() {
        assert!(court_use_allowed(Some("court"), &[]));
        assert!(!court_use_allowed(None, &[]));
        // The last change governs; a withdrawal stands or not, it allows no court use.
        assert!(!court_use_allowed(Some("court"), &[("none", true)]));
        assert!(!court_use_allowed(Some("court"), &[("none", false)]));
        assert!(court_use_allowed(None, &[("none", true), ("court", true)]));
        // A grant by a key found compromised grants nothing, even after a good one.
        assert!(!court_use_allowed(Some("court"), &[("court", false)]));
        assert!(!court_use_allowed(
            None,
            &[("court", true), ("court,research", false)]
        ));
        // A later good change governs again.
        assert!(court_use_allowed(
            None,
            &[("court", false), ("court", true)]
        ));
    }

    #[test]
    fn consent_counts_only_exact_scopes() {
        for (c, court) in [
            ("court", true),
            ("court,research", true),
            ("research, court", true),
            ("no court", false),
            ("Court", false),
            ("all", false),
            ("court-only", false),
            ("court,none", false),
            ("none", false),
            ("", false),
        ] {
            assert_eq!(consent_allows_court(Some(c)), court, "{c}");
        }
        assert!(!consent_allows_court(None));
        assert!(check_consent("court,research").is_ok());
        assert!(check_consent("no court").is_err());
        assert!(check_consent("court,court").is_err());
        assert!(check_consent("none,court").is_err());
        assert!(check_consent("all").is_err());
    }

    #[test]
    fn a_clock_far_ahead_does_not_freeze_the_ledger() {
        let hour = 3_600_000;
        // Within the skew the ledger keeps its order; beyond it, the present time wins.
        assert_eq!(recorded_time(1_000, 500), 1_000);
        assert_eq!(recorded_time(100 * hour, hour), hour);
        assert!(time_order(5, 100 * hour, hour, Mode::Admit).is_none());
        assert!(time_order(5, 100 * hour, hour, Mode::Report).is_some());
        assert!(time_order(5, 1_000, 500, Mode::Admit).is_some());
        assert!(time_order(5, 500, 1_000, Mode::Report).is_none());
    }
}
