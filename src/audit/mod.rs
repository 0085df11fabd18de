//! Whole-ledger verification.
//!
//! One streaming pass over the journal, in chunks: each record is decoded strictly and
//! compared with sled's copy; signatures are checked in batches on all cores, one chunk
//! ahead; the chain, sequence numbers, times, authority, content commitments and every
//! stored subtree hash are checked in order, while the tree is rebuilt from the leaves so
//! that the root at the size of every stored or supplied checkpoint can be compared. The
//! index trees are then read once each and compared with what the records call for, as
//! sets. Memory stays flat: two chunks of records and the tree's right edge. Problems are
//! findings (exit 1); only a failure to read at all is an error (exit 2).

mod attestations;
mod checkpoints;
mod index_sets;
mod stream;

use crate::Hash;
use crate::checkpoint::{Checkpoint, CheckpointError, claimed_origin, open_checkpoint};
use crate::error::{Error, Result};
use crate::keys::{self, VerifyMode};
use crate::ledger::Ledger;
use crate::record::Record;
use crate::rules::Code;
use crate::store::journal::MAGIC;
pub use attestations::{AttestationAudit, attestation_findings};
use index_sets::IndexSets;
use serde::Serialize;
use std::collections::BTreeSet;
use stream::Pass;

/// One problem found, with the evidence.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Finding {
    /// The record concerned, when there is one.
    pub seq: Option<u64>,
    /// The stable code of the rule (SPEC.md section 9).
    pub code: Code,
    /// What was expected and what was found.
    pub message: String,
}

/// A checkpoint supplied with `--against`, and what became of it.
#[derive(Debug, Clone, Serialize)]
pub struct AgainstResult {
    /// Where it came from (file name).
    pub source: String,
    /// Its size.
    pub size: u64,
    /// Whether the ledger is consistent with it.
    pub consistent: bool,
}

/// A hand-over awaiting its receiver's countersignature.
#[derive(Debug, Clone, Serialize)]
pub struct PendingTransfer {
    /// The transfer record.
    pub transfer: u64,
    /// The exhibit.
    pub exhibit: u64,
    /// The receiver's key ID.
    pub to_key_id: String,
}

/// The outcome of an audit.
#[derive(Debug, Clone, Serialize)]
pub struct AuditReport {
    /// The ledger origin.
    pub origin: String,
    /// Records found in the journal.
    pub records: u64,
    /// Signatures checked.
    pub signatures_checked: u64,
    /// How they were checked: "batch" or "strict" (SPEC.md section 1).
    pub signature_mode: &'static str,
    /// Stored checkpoints whose signature and root were checked.
    pub checkpoints_checked: u64,
    /// The key that signed the latest stored checkpoint the audit found valid: the only key
    /// a pin (`--ledger-key`) can name. Not the genesis key by itself (a genesis statement
    /// and its signature are public and can be copied into a forged ledger), nor a key only
    /// named by a ledger-key record (naming a public key needs no secret).
    #[serde(serialize_with = "key_id")]
    pub latest_checkpoint_signer: Option<[u8; 32]>,
    /// Size of the latest checkpoint that verified.
    pub covered_to: u64,
    /// Records not covered by any signed checkpoint, as (first, last), when some are not.
    pub uncovered: Option<(u64, u64)>,
    /// Checkpoints given with `--against`.
    pub against: Vec<AgainstResult>,
    /// Hand-overs signed by the holder but not yet accepted by the receiver.
    pub pending_transfers: Vec<PendingTransfer>,
    /// Texts erased by an erasure record (not missing: the records and proofs stand).
    pub erased: Vec<Erased>,
    /// Whether sealed texts were opened with an identity and checked against their
    /// commitments (without one, only their ciphertexts' and item keys' presence and sizes).
    pub sealed_opened: bool,
    /// With an identity, the sealed texts it could not open (sealed to other recipients
    /// than it), checked only as without one.
    pub sealed_unopened: Vec<u64>,
    /// Every problem, in the order found.
    pub findings: Vec<Finding>,
}

/// A text erased by an erasure record.
#[derive(Debug, Clone, Serialize)]
pub struct Erased {
    /// The testimony or amendment whose text was erased.
    pub seq: u64,
    /// The erasure record.
    pub by: u64,
    /// Its reason.
    pub reason: String,
}

fn key_id<S: serde::Serializer>(
    key: &Option<[u8; 32]>,
    s: S,
) -> std::result::Result<S::Ok, S::Error> {
    match key {
        Some(k) => s.serialize_some(&keys::short_id(k)),
        None => s.serialize_none(),
    }
}

impl AuditReport {
    /// Whether the ledger passed every check.
    pub fn passed(&self) -> bool {
        self.findings.is_empty()
    }
}

/// A saved checkpoint to check the ledger against: its text and a label for messages.
pub struct SavedCheckpoint {
    /// A label (the file name).
    pub source: String,
    /// The signed note text.
    pub text: String,
}

struct Auditor<'a> {
    ledger: &'a Ledger,
    findings: Vec<Finding>,
    now_ms: u64,
    /// The index entries the journal's records call for, as keyed digests (one set per
    /// index tree, see `index_sets`); compared with the index trees after the streaming
    /// pass.
    expected: IndexSets,
    /// The per-audit random key of those digests.
    set_key: Hash,
    /// A content recipient's identity, to open sealed texts.
    identity: Option<&'a age::x25519::Identity>,
    /// Texts found erased, in order.
    erased: Vec<Erased>,
    /// Sealed texts the identity given could not open (sealed to other recipients).
    unopened: Vec<u64>,
}

impl Auditor<'_> {
    fn find(&mut self, seq: Option<u64>, code: Code, message: String) {
        self.findings.push(Finding { seq, code, message });
    }
}

/// What an audit is asked to check beyond the ledger itself.
#[derive(Clone, Copy)]
pub struct Audit<'a> {
    /// Checkpoints saved elsewhere, which the ledger must extend.
    pub against: &'a [SavedCheckpoint],
    /// The ledger key the auditor expects: it must have signed the latest valid checkpoint.
    pub pinned: Option<[u8; 32]>,
    /// How signatures are verified.
    pub mode: VerifyMode,
    /// A content recipient's identity, to open sealed texts and check their commitments.
    pub identity: Option<&'a age::x25519::Identity>,
}

/// Audits the whole ledger by this machine's clock, with a fresh random key for the index
/// digests. `progress` is called with the number of records checked.
pub fn audit(ledger: &Ledger, what: &Audit, progress: impl FnMut(u64)) -> Result<AuditReport> {
    let now_ms = crate::unix_ms();
    let mut set_key = [0u8; 32];
    getrandom::fill(&mut set_key).map_err(|e| Error::Randomness(e.to_string()))?;
    audit_at(ledger, what, now_ms, set_key, progress)
}

/// [`audit`] with the clock (`now_ms`, for the future-dated rule) and the key of the index
/// digests given. The key must be unpredictable to whoever could have written the index.
pub fn audit_at(
    ledger: &Ledger,
    what: &Audit,
    now_ms: u64,
    set_key: Hash,
    mut progress: impl FnMut(u64),
) -> Result<AuditReport> {
    let Audit {
        against,
        pinned,
        mode,
        identity,
    } = *what;
    let store = ledger.store();
    let mut a = Auditor {
        ledger,
        findings: Vec::new(),
        now_ms,
        expected: IndexSets::default(),
        set_key,
        identity,
        erased: Vec::new(),
        unopened: Vec::new(),
    };
    if !store.journal().header_intact()? {
        a.find(
            None,
            Code::JournalHeader,
            "the journal does not start with its header CUSTODY-JOURNAL1".into(),
        );
    }
    a.check_checkpoint_file(store)?;
    // Checkpoints are verified after the pass, under the ledger key in force at each size
    // (the ledger-key records say which); first, which roots must the pass record?
    let stored = a.stored_checkpoints()?;
    let mut against_results = Vec::new();
    let saved = a.saved_of_this_ledger(against, &mut against_results)?;
    let wanted: BTreeSet<u64> = stored
        .iter()
        .map(|(s, _)| *s)
        .chain(saved.iter().map(|(_, s)| *s))
        .collect();
    let pass = a.stream(&wanted, mode, &mut progress)?;
    a.check_counts(&pass)?;
    a.check_index_sets(pass.seq.min(pass.indexed))?;
    let (checked, valid) = a.check_stored_checkpoints(&pass, &stored);
    a.check_saved_checkpoints(&pass, &saved, &mut against_results)?;
    a.final_verdicts(&pass)?;
    // After the specific findings, which name records: what opening the ledger found out of step (the index's journal position, its tree
    // hashes, its authority records) stops appends: the audit names it.
    if let Some(why) = ledger.damaged() {
        a.find(
            None,
            Code::IndexDamaged,
            format!(
                "the index is out of step with the journal: {why}; appends and checkpoints are refused until `custody recover --rebuild` rebuilds it from the journal"
            ),
        );
    }

    if store.checkpoints()?.is_empty() {
        a.find(
            None,
            Code::NoCheckpoint,
            "the ledger holds no signed checkpoint at all, although `init` signs one (they were removed)".into(),
        );
    }
    // The latest stored checkpoint whose signature and root hold.
    let latest = valid.last().copied();
    // A pinned key must have signed the latest valid checkpoint: that is what ties these
    // records to the key's holder. A genesis can be copied into a forged ledger, and a key
    // only named by a ledger-key record proves nothing (naming a public key needs no
    // secret).
    if let Some(k) = pinned
        && latest.map(|(_, signer)| signer) != Some(k)
    {
        a.findings.insert(
            0,
            Finding {
                seq: Some(0),
                code: Code::LedgerKey,
                message: format!(
                    "the ledger's latest valid checkpoint is signed by key {}, not by the key {} you pinned: the ledger was created or rebuilt by someone else, or its ledger key was rotated (`custody key list` shows the ledger keys; pin the one in force once it has signed a checkpoint)",
                    latest.map_or_else(|| "(none)".to_string(), |(_, s)| keys::short_id(&s)),
                    keys::short_id(&k)
                ),
            },
        );
    }
    let covered_to = latest.map_or(0, |(size, _)| size);
    let seq = pass.seq;
    Ok(AuditReport {
        origin: ledger.origin().to_owned(),
        records: seq,
        signatures_checked: pass.signatures,
        signature_mode: match mode {
            VerifyMode::Batch => "batch",
            VerifyMode::Strict => "strict",
        },
        checkpoints_checked: checked,
        latest_checkpoint_signer: latest.map(|(_, key)| key),
        covered_to,
        uncovered: (covered_to < seq).then(|| (covered_to, seq - 1)),
        against: against_results,
        pending_transfers: pass
            .authority
            .pending_transfers()
            .into_iter()
            .map(|(seq, t)| PendingTransfer {
                transfer: seq,
                exhibit: t.exhibit,
                to_key_id: keys::short_id(&t.to),
            })
            .collect(),
        erased: a.erased,
        sealed_opened: identity.is_some(),
        sealed_unopened: a.unopened,
        findings: a.findings,
    })
}

impl Auditor<'_> {
    /// The counts the index keeps against what the pass found.
    fn check_counts(&mut self, pass: &Pass) -> Result<()> {
        let store = self.ledger.store();
        let (seq, indexed) = (pass.seq, pass.indexed);
        let meta = store.meta()?;
        if meta.size > seq {
            self.find(
                Some(meta.size.min(seq)),
                Code::SizeMismatch,
                format!(
                    "the index says the ledger has {} records, the journal holds {seq}",
                    meta.size
                ),
            );
        }
        // Exactly the tiles of the indexed tree: its full tiles and one partial per row.
        let expected: BTreeSet<Vec<u8>> = crate::tiles::Tile::all_of(indexed)
            .into_iter()
            .flat_map(|t| {
                let hashes = t.path().into_bytes();
                let entries = (t.level == 0).then(|| t.entries_path().into_bytes());
                std::iter::once(hashes).chain(entries)
            })
            .collect();
        let stored: BTreeSet<Vec<u8>> = store.tile_keys()?.into_iter().collect();
        if stored != expected {
            let shown = |k: &Vec<u8>| {
                crate::encoding::terminal_safe(&String::from_utf8_lossy(k), false).into_owned()
            };
            let extra: Vec<String> = stored.difference(&expected).take(3).map(shown).collect();
            let missing: Vec<String> = expected.difference(&stored).take(3).map(shown).collect();
            self.find(
                None,
                Code::TreeHashCount,
                format!(
                    "the index holds {} tiles, a tree of {indexed} records has {} (unexpected: {}; missing: {})",
                    stored.len(),
                    expected.len(),
                    if extra.is_empty() { "none".into() } else { extra.join(", ") },
                    if missing.is_empty() { "none".into() } else { missing.join(", ") }
                ),
            );
        }
        if seq == 0 {
            self.find(
                Some(0),
                Code::Genesis,
                "the ledger has no records, not even its genesis".into(),
            );
        }
        Ok(())
    }

    /// The final-state verdicts (SPEC.md 4.1): records signed after their key's compromise
    /// or by a tainted key. Only keys with a compromise, or minted by one, can have any.
    fn final_verdicts(&mut self, pass: &Pass) -> Result<()> {
        let authority = &pass.authority;
        let suspect: BTreeSet<[u8; 32]> = authority
            .keys()
            .iter()
            .filter(|(pk, k)| !k.compromises.is_empty() || authority.taint(pk).is_some())
            .map(|(pk, _)| *pk)
            .collect();
        if suspect.is_empty() {
            return Ok(());
        }
        // By position, as in the pass: a record's own `seq` may lie.
        let frames = self
            .ledger
            .store()
            .journal()
            .frames_from(MAGIC.len() as u64)?;
        for (pos, f) in (0u64..).zip(frames) {
            let f = f?;
            let Ok(r) = Record::decode(&f.bytes) else {
                continue;
            };
            // Verdicts judge the records that obeyed the rules; a refused one is reported
            // once, as refused.
            if suspect.contains(&r.statement.signer)
                && !pass.refused.contains(&pos)
                && let Some(v) = authority.verdict(&r.statement.signer, pos, r.recorded_at_ms)
            {
                self.find(Some(pos), v.code, v.message);
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ledger::testing::*;
    use crate::ledger::{Access, LockWait};

    fn run(l: &Ledger, now_ms: u64) -> AuditReport {
        audit_at(
            l,
            &Audit {
                against: &[],
                pinned: None,
                mode: VerifyMode::Strict,
                identity: None,
            },
            now_ms,
            [5; 32],
            |_| {},
        )
        .unwrap()
    }

    #[test]
    fn a_clean_ledger_audits_clean_and_is_counted() {
        let dir = tempfile::tempdir().unwrap();
        let l = small(dir.path());
        let r = run(&l, T0 + 10_000);
        assert!(r.passed(), "{:?}", r.findings);
        assert_eq!((r.records, r.signatures_checked), (4, 4));
        assert_eq!((r.covered_to, r.uncovered), (4, None));
        assert_eq!(r.checkpoints_checked, 2, "init's checkpoint and the latest");
        assert_eq!(
            r.latest_checkpoint_signer,
            Some(ledger_key().verifying_key().to_bytes())
        );
        // Pinned to the ledger key, it passes; pinned to another key, the first finding
        // says so.
        let own = Some(ledger_key().verifying_key().to_bytes());
        let pinned = |k| {
            audit_at(
                &l,
                &Audit {
                    against: &[],
                    pinned: k,
                    mode: VerifyMode::Strict,
                    identity: None,
                },
                T0 + 10_000,
                [5; 32],
                |_| {},
            )
        };
        assert!(pinned(own).unwrap().passed());
        let other = pinned(Some(alice().verifying_key().to_bytes())).unwrap();
        assert_eq!(other.findings[0].code, Code::LedgerKey);
        // The same audit in batch mode finds the same.
        let b = audit_at(
            &l,
            &Audit {
                against: &[],
                pinned: None,
                mode: VerifyMode::Batch,
                identity: None,
            },
            T0 + 10_000,
            [6; 32],
            |_| {},
        )
        .unwrap();
        assert_eq!(b.findings, r.findings);
    }

    #[test]
    fn the_clock_given_decides_what_is_dated_in_the_future() {
        let dir = tempfile::tempdir().unwrap();
        let l = small(dir.path());
        // An audit whose clock reads a day before the records were appended.
        let r = run(&l, T0 - 86_400_000);
        let codes: Vec<Code> = r.findings.iter().map(|f| f.code).collect();
        assert!(codes.contains(&Code::FutureDated), "{codes:?}");
        assert!(run(&l, T0 + 2000).passed());
    }

    #[test]
    fn damage_to_the_checkpoints_file_is_found() {
        let dir = tempfile::tempdir().unwrap();
        small(dir.path()).close().unwrap();
        let file = dir.path().join("ledger/checkpoints");
        let mut bytes = std::fs::read(&file).unwrap();
        bytes.extend_from_slice(b"\0\0");
        std::fs::write(&file, &bytes).unwrap();
        let l = Ledger::open(&dir.path().join("ledger"), LockWait::Yes, Access::Read).unwrap();
        let r = run(&l, T0 + 10_000);
        assert_eq!(r.findings.len(), 1, "{:?}", r.findings);
        assert_eq!(r.findings[0].code, Code::CheckpointFile);
        assert!(r.findings[0].message.contains("2 byte(s) at offset"));
    }

    #[test]
    fn a_saved_checkpoint_of_another_ledger_does_not_vouch() {
        let dir = tempfile::tempdir().unwrap();
        let l = small(dir.path());
        let other = tempfile::tempdir().unwrap();
        let o = Ledger::init(
            &other.path().join("l"),
            "example.org/other",
            &ledger_key(),
            T0,
        )
        .unwrap();
        let (_, text) = o.latest_checkpoint().unwrap().unwrap();
        let against = |source: &str, text: String| {
            let saved = [SavedCheckpoint {
                source: source.into(),
                text,
            }];
            audit_at(
                &l,
                &Audit {
                    against: &saved,
                    pinned: None,
                    mode: VerifyMode::Strict,
                    identity: None,
                },
                T0 + 10_000,
                [5; 32],
                |_| {},
            )
            .unwrap()
        };
        let r = against("other.txt", text);
        assert_eq!(r.findings[0].code, Code::AgainstOrigin);
        assert!(!r.against[0].consistent);
        // Its own checkpoint, saved, is consistent.
        let (_, own) = l.latest_checkpoint().unwrap().unwrap();
        let r = against("own.txt", own);
        assert!(r.passed() && r.against[0].consistent, "{:?}", r.findings);
    }
}
