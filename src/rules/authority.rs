//! Who may sign what, who holds which exhibit and which key signs checkpoints: the rules
//! that the signed records themselves establish (SPEC.md section 4.1), as a pure state
//! machine.
//!
//! The genesis key is the first admin and the first ledger key. Admins authorise keys for
//! roles, revoke them and name new ledger keys; investigators (and admins) record
//! evidence; an exhibit's holder hands it to another key, which countersigns. The same
//! [`Authority`] checks an append before it is written and replays the whole ledger (or a
//! bundle's records) in an audit, so a record written into the store directly is judged by
//! exactly the rules an append obeys. [`Authority::verdict`] then judges each record by the
//! final state: a compromise declared later flags what was signed inside its window, and
//! what keys minted there signed.

use super::{Code, Violation};
use crate::keys;
use crate::record::{Amendment, Body, Effective, RevokeReason, Role, Statement};
use std::collections::BTreeMap;

/// The revocation that ended a key's activity.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ended {
    /// The revoking record.
    pub at: u64,
    /// Why.
    pub reason: RevokeReason,
}

/// A key's compromise: the record that declared it and from when it holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Compromise {
    /// The revoking record.
    pub at: u64,
    /// From when.
    pub effective: Effective,
}

/// A key as the ledger knows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyState {
    /// The holder's name.
    pub name: String,
    /// Its role.
    pub role: Role,
    /// The record that authorised it (0 for the genesis key).
    pub authorized_at: u64,
    /// That record's recorded time.
    pub authorized_at_ms: u64,
    /// That record's signer (none for the genesis key).
    pub authorized_by: Option<[u8; 32]>,
    /// The first revocation, which ended its activity.
    pub ended: Option<Ended>,
    /// Every compromise declared (also for a key retired earlier). Declarations add up: a
    /// later one can widen the window, never narrow it.
    pub compromises: Vec<Compromise>,
}

impl KeyState {
    /// Whether the key's own records allow it to sign at `seq` (authorised before it, not
    /// yet ended). [`Authority::active`] adds the taint of its authorisers.
    fn active_at(&self, seq: u64) -> bool {
        (self.authorized_at < seq || (seq == 0 && self.authorized_at == 0))
            && self.ended.is_none_or(|r| seq < r.at)
    }

    /// Whether a record at `seq`, recorded at `recorded_at_ms`, falls at or after the point
    /// from which this key is known to be compromised.
    fn compromised_for(&self, seq: u64, recorded_at_ms: u64) -> bool {
        self.compromises.iter().any(|c| match c.effective {
            Effective::Now => seq >= c.at,
            Effective::Seq(e) => seq >= e,
            Effective::Time(t) => recorded_at_ms >= t,
        })
    }

    /// The records that revoked it, in order.
    pub fn revocations(&self) -> Vec<u64> {
        let mut v: Vec<u64> = self
            .ended
            .map(|e| e.at)
            .into_iter()
            .chain(self.compromises.iter().map(|c| c.at))
            .collect();
        v.sort_unstable();
        v.dedup();
        v
    }

    /// "active", "retired by record 5", "compromised from record 3 (revoked by record 7)",
    /// or both for a retired key found compromised.
    pub fn status(&self) -> String {
        let windows: Vec<String> = self
            .compromises
            .iter()
            .map(|c| match c.effective {
                Effective::Now => format!("compromised from record {}", c.at),
                Effective::Seq(e) => {
                    format!("compromised from record {e} (revoked by record {})", c.at)
                }
                Effective::Time(t) => format!(
                    "compromised from {} (revoked by record {})",
                    crate::record::rfc3339(t),
                    c.at
                ),
            })
            .collect();
        let compromise = (!windows.is_empty()).then(|| windows.join("; "));
        match (self.ended, compromise) {
            (None, None) => "active".into(),
            (Some(e), None) => format!("{} by record {}", e.reason.name(), e.at),
            (Some(e), Some(c)) if e.reason == RevokeReason::Retired => {
                format!("retired by record {}; {c}", e.at)
            }
            (_, Some(c)) => c,
        }
    }
}

/// A hand-over of an exhibit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TransferState {
    /// The exhibit.
    pub exhibit: u64,
    /// The holder who signed the transfer.
    pub from: [u8; 32],
    /// The receiver.
    pub to: [u8; 32],
    /// The record that accepted it.
    pub accepted: Option<u64>,
    /// The record that cancelled it.
    pub cancelled: Option<u64>,
}

impl TransferState {
    /// Neither accepted nor cancelled.
    pub fn pending(&self) -> bool {
        self.accepted.is_none() && self.cancelled.is_none()
    }
}

/// A seal-to record as the state keeps it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SealTo {
    /// The record.
    pub seq: u64,
    /// Its recorded time.
    pub recorded_at_ms: u64,
    /// Its signer.
    pub signer: [u8; 32],
    /// The recipients it names.
    pub recipients: Vec<[u8; 32]>,
}

/// Who holds a transferred exhibit now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Holding {
    /// The holder.
    pub holder: [u8; 32],
    /// Since which record.
    pub since: u64,
    /// A transfer signed but not yet accepted.
    pub pending: Option<u64>,
}

/// Why a key counts as never authorised: somewhere up its chain of authorisers, a key
/// authorised another inside its own compromise window.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Taint {
    /// The key authorised inside the window.
    pub key: [u8; 32],
    /// The record that authorised it.
    pub record: u64,
    /// The compromised key that signed that record.
    pub authoriser: [u8; 32],
}

/// What the rules need to know about earlier records: their statements by sequence.
pub trait Lookup {
    /// The statement of record `seq`, if it exists.
    fn statement(&self, seq: u64) -> Option<Statement>;

    /// The first record before `seq` that commits to a text with `commitment`, if one
    /// does (records at hand only).
    fn committed_before(&self, commitment: &crate::Hash, seq: u64) -> Option<u64>;
}

/// A function from record numbers to statements: every earlier number is asked (for small
/// sets of records in memory, such as tests' and known answers').
impl<F: Fn(u64) -> Option<Statement>> Lookup for F {
    fn statement(&self, seq: u64) -> Option<Statement> {
        self(seq)
    }
    fn committed_before(&self, commitment: &crate::Hash, seq: u64) -> Option<u64> {
        (0..seq).find(|s| {
            self(*s)
                .and_then(|st| st.body.text(*s))
                .is_some_and(|(c, _, _)| &c == commitment)
        })
    }
}

/// The records at hand by number (a bundle's): the texts' commitments are indexed once,
/// so that a hostile set of records costs a map lookup per text, not a scan.
pub struct RecordsLookup<F: Fn(u64) -> Option<Statement>> {
    statement: F,
    first_text: BTreeMap<crate::Hash, u64>,
}

impl<F: Fn(u64) -> Option<Statement>> RecordsLookup<F> {
    /// The lookup of the records `seqs` (in order), whose statements `statement` gives.
    pub fn new(statement: F, seqs: impl IntoIterator<Item = u64>) -> Self {
        let mut first_text = BTreeMap::new();
        for s in seqs {
            if let Some((c, _, _)) = statement(s).and_then(|st| st.body.text(s)) {
                first_text.entry(c).or_insert(s);
            }
        }
        RecordsLookup {
            statement,
            first_text,
        }
    }
}

impl<F: Fn(u64) -> Option<Statement>> Lookup for RecordsLookup<F> {
    fn statement(&self, seq: u64) -> Option<Statement> {
        (self.statement)(seq)
    }
    fn committed_before(&self, commitment: &crate::Hash, seq: u64) -> Option<u64> {
        self.first_text
            .get(commitment)
            .copied()
            .filter(|s| *s < seq)
    }
}

/// The state the signed records establish.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Authority {
    keys: BTreeMap<[u8; 32], KeyState>,
    transfers: BTreeMap<u64, TransferState>,
    holdings: BTreeMap<u64, Holding>,
    amendments: BTreeMap<u64, Vec<u64>>,
    /// (record, key): the genesis key from 0, then each ledger-key record's key.
    ledger_keys: Vec<(u64, [u8; 32])>,
    /// Each authority statement's digest and its record: a signed transfer, acceptance,
    /// amendment or revocation counts once, so an old one cannot be replayed.
    seen: BTreeMap<[u8; 32], u64>,
    /// Each seal-to record, in order: content is sealed to the recipients of the last one
    /// that stands, from the next record on.
    seal_to: Vec<SealTo>,
    /// Each testimony's consent changes: (record, scope), in order.
    consents: BTreeMap<u64, Vec<(u64, String)>>,
    /// Each erased testimony or media record, and the record that erased it.
    erased: BTreeMap<u64, u64>,
}

/// SHA-256 of a statement's canonical bytes.
pub fn statement_digest(st: &Statement) -> [u8; 32] {
    use sha2::Digest;
    sha2::Sha256::digest(st.encode().unwrap_or_default()).into()
}

fn rule(s: impl Into<String>) -> Violation {
    Violation::new(Code::Unauthorized, s)
}

impl Authority {
    /// An empty state (before the genesis record).
    pub fn new() -> Self {
        Self::default()
    }

    /// Every key the ledger has authorised.
    pub fn keys(&self) -> &BTreeMap<[u8; 32], KeyState> {
        &self.keys
    }

    /// A key's state.
    pub fn key(&self, k: &[u8; 32]) -> Option<&KeyState> {
        self.keys.get(k)
    }

    /// Amendments of a record, in order.
    pub fn amendments_of(&self, seq: u64) -> &[u64] {
        self.amendments.get(&seq).map_or(&[], Vec::as_slice)
    }

    /// The content recipients in force (the last seal-to record and its keys), if any.
    ///
    /// Those of the last seal-to record that stands (one flagged by a verdict, signed after
    /// its key's compromise or by a tainted key, never counts), less every recipient first
    /// named by a seal-to record that does not stand: a thief with an admin key cannot keep
    /// texts sealed to himself once the theft is declared, even when an honest admin's
    /// later record carried his recipient over. `None` when no seal-to record stands.
    pub fn seal_to(&self) -> Option<(u64, Vec<[u8; 32]>)> {
        let last = self.seal_to.iter().rev().find(|s| self.stands(s))?;
        let untrusted = self.untrusted_recipients(&last.recipients);
        Some((
            last.seq,
            last.recipients
                .iter()
                .filter(|r| !untrusted.iter().any(|(u, _)| u == *r))
                .copied()
                .collect(),
        ))
    }

    fn stands(&self, s: &SealTo) -> bool {
        self.verdict(&s.signer, s.seq, s.recorded_at_ms).is_none()
    }

    /// Of `recipients`, those first named by a seal-to record that does not stand, each
    /// with that record.
    pub fn untrusted_recipients(&self, recipients: &[[u8; 32]]) -> Vec<([u8; 32], u64)> {
        recipients
            .iter()
            .filter_map(|r| {
                let first = self.seal_to.iter().find(|s| s.recipients.contains(r))?;
                (!self.stands(first)).then_some((*r, first.seq))
            })
            .collect()
    }

    /// The record that is this exact signed statement, when a record that changes
    /// authority or custody is (`digest` = [`statement_digest`]).
    pub fn seen_at(&self, digest: &[u8; 32]) -> Option<u64> {
        self.seen.get(digest).copied()
    }

    /// Every seal-to record and its recipients, in order.
    pub fn seal_to_history(&self) -> &[SealTo] {
        &self.seal_to
    }

    /// A testimony's consent changes, (record, scope), in order.
    pub fn consents_of(&self, seq: u64) -> &[(u64, String)] {
        self.consents.get(&seq).map_or(&[], Vec::as_slice)
    }

    /// The record that erased `seq`, if one did.
    pub fn erased_by(&self, seq: u64) -> Option<u64> {
        self.erased.get(&seq).copied()
    }

    /// Every erased record and the record that erased it.
    pub fn erasures(&self) -> &BTreeMap<u64, u64> {
        &self.erased
    }

    /// Transfers of an exhibit, in order.
    pub fn transfers_of(&self, exhibit: u64) -> Vec<(u64, &TransferState)> {
        self.transfers
            .iter()
            .filter(|(_, t)| t.exhibit == exhibit)
            .map(|(s, t)| (*s, t))
            .collect()
    }

    /// A transfer by its record.
    pub fn transfer(&self, seq: u64) -> Option<&TransferState> {
        self.transfers.get(&seq)
    }

    /// Transfers neither accepted nor cancelled.
    pub fn pending_transfers(&self) -> Vec<(u64, &TransferState)> {
        self.transfers
            .iter()
            .filter(|(_, t)| t.pending())
            .map(|(s, t)| (*s, t))
            .collect()
    }

    /// The current holder of an exhibit whose record `recorded_by` signed.
    pub fn holder(&self, exhibit: u64, recorded_by: [u8; 32]) -> Holding {
        self.holdings.get(&exhibit).copied().unwrap_or(Holding {
            holder: recorded_by,
            since: exhibit,
            pending: None,
        })
    }

    /// The ledger-key chain: (record, key), from the genesis key at 0.
    pub fn ledger_keys(&self) -> &[(u64, [u8; 32])] {
        &self.ledger_keys
    }

    /// The key that signs checkpoints of tree size `size` (SPEC.md section 4.1).
    pub fn ledger_key_at(&self, size: u64) -> Option<[u8; 32]> {
        self.ledger_keys
            .iter()
            .rev()
            .find(|(m, _)| *m < size || *m == 0)
            .map(|(_, k)| *k)
    }

    /// The checkpoint rule: a checkpoint of `size` signed by `signer` is valid when
    /// `signer` is the ledger key in force at `size` and not compromised for record
    /// `size - 1`, recorded at `last_recorded_ms` (`None` when that record is not at hand).
    pub fn check_checkpoint(
        &self,
        size: u64,
        signer: &[u8; 32],
        last_recorded_ms: Option<u64>,
    ) -> Result<(), Violation> {
        let expected = self.ledger_key_at(size).ok_or_else(|| {
            Violation::new(Code::CheckpointKey, "no ledger key is known (no genesis)")
        })?;
        if &expected != signer {
            return Err(Violation::new(
                Code::CheckpointKey,
                format!(
                    "the checkpoint of size {size} is signed by key {}, but the ledger key in force at that size is {}",
                    keys::short_id(signer),
                    keys::short_id(&expected)
                ),
            ));
        }
        let Some(k) = self.keys.get(signer) else {
            return Ok(());
        };
        if let Some(t) = self.taint(signer) {
            return Err(Violation::new(
                Code::CheckpointKey,
                format!(
                    "the checkpoint of size {size} is signed by key {}, which counts as never authorised: {}",
                    keys::short_id(signer),
                    self.describe_taint(&t)
                ),
            ));
        }
        if size == 0 || k.compromises.is_empty() {
            return Ok(());
        }
        let time_unknown = last_recorded_ms.is_none()
            && k.compromises
                .iter()
                .any(|c| matches!(c.effective, Effective::Time(_)));
        if time_unknown || k.compromised_for(size - 1, last_recorded_ms.unwrap_or(0)) {
            return Err(Violation::new(
                Code::CheckpointCompromised,
                format!(
                    "the checkpoint of size {size} covers records from the point at which its key {} is {} (or cannot be shown to precede it); it vouches for nothing",
                    keys::short_id(signer),
                    k.status()
                ),
            ));
        }
        Ok(())
    }

    /// Why `key` counts as never authorised, if it does: a key up its chain of authorisers
    /// was authorised by a key compromised at that point.
    pub fn taint(&self, key: &[u8; 32]) -> Option<Taint> {
        let mut cur = *key;
        // Each authoriser was authorised before the key it authorised, so the walk ends;
        // the bound only guards against a state built by hand.
        for _ in 0..=self.keys.len() {
            let k = self.keys.get(&cur)?;
            let by = k.authorized_by?;
            let b = self.keys.get(&by)?;
            if b.compromised_for(k.authorized_at, k.authorized_at_ms) {
                return Some(Taint {
                    key: cur,
                    record: k.authorized_at,
                    authoriser: by,
                });
            }
            cur = by;
        }
        None
    }

    /// The final-state verdict on a record that obeyed the rules: signed after its key's
    /// compromise, or by a tainted key (SPEC.md section 4.1, verdicts).
    pub fn verdict(&self, signer: &[u8; 32], seq: u64, recorded_at_ms: u64) -> Option<Violation> {
        let k = self.keys.get(signer)?;
        if k.compromised_for(seq, recorded_at_ms) {
            return Some(Violation::new(
                Code::SignedAfterCompromise,
                format!(
                    "record {seq} was signed by key {} ({}), which is {}",
                    keys::short_id(signer),
                    k.name,
                    k.status()
                ),
            ));
        }
        self.taint(signer).map(|t| {
            Violation::new(
                Code::TaintedSigner,
                format!(
                    "record {seq} was signed by key {} ({}), which counts as never authorised: {}",
                    keys::short_id(signer),
                    k.name,
                    self.describe_taint(&t)
                ),
            )
        })
    }

    /// The verdict on one record already in the ledger, by the final state: the signer was
    /// authorised and not yet ended at `seq`, and the record is neither signed after
    /// compromise nor by a tainted key. `verify` and `history` judge one record this way;
    /// the replay at every position is the audit's. Passing, it says who signed.
    pub fn judge(
        &self,
        st: &Statement,
        seq: u64,
        recorded_at_ms: u64,
    ) -> Result<String, Violation> {
        let signer = &st.signer;
        if let (Body::Genesis { .. }, 0) = (&st.body, seq) {
            if self.ledger_keys.first().map(|(_, k)| k) != Some(signer) {
                return Err(Violation::new(
                    Code::Genesis,
                    "the genesis is not signed by the ledger's first key",
                ));
            }
            return match self.verdict(signer, seq, recorded_at_ms) {
                Some(v) => Err(v),
                None => Ok("the genesis key is the ledger's first admin and ledger key".into()),
            };
        }
        let k = self.keys.get(signer).ok_or_else(|| {
            rule(format!(
                "key {} was never authorised in this ledger",
                keys::short_id(signer)
            ))
        })?;
        if !k.active_at(seq) {
            return Err(rule(format!(
                "key {} ({}) was not authorised at record {seq}: {}",
                keys::short_id(signer),
                k.name,
                k.status()
            )));
        }
        Self::may_sign(k, signer, &st.body)?;
        if let Some(v) = self.verdict(signer, seq, recorded_at_ms) {
            return Err(v);
        }
        Ok(format!(
            "key {} belongs to {} ({}), authorised by record {}{}",
            keys::short_id(signer),
            k.name,
            k.role.name(),
            k.authorized_at,
            if k.ended.is_some() || !k.compromises.is_empty() {
                format!("; since {}", k.status())
            } else {
                String::new()
            }
        ))
    }

    /// A key's status with what only the whole state knows: that it counts as never
    /// authorised because a compromised key minted it.
    pub fn status(&self, key: &[u8; 32]) -> String {
        let Some(k) = self.keys.get(key) else {
            return "unknown".into();
        };
        match self.taint(key) {
            Some(t) => format!("never authorised: {}", self.describe_taint(&t)),
            None => k.status(),
        }
    }

    fn describe_taint(&self, t: &Taint) -> String {
        format!(
            "key {} was authorised by record {}, signed by key {} inside its compromise window ({})",
            keys::short_id(&t.key),
            t.record,
            keys::short_id(&t.authoriser),
            self.keys
                .get(&t.authoriser)
                .map_or_else(String::new, KeyState::status)
        )
    }

    /// A key that may sign at `seq`: known, untainted, authorised before it, not ended.
    pub fn active(&self, signer: &[u8; 32], seq: u64) -> Result<&KeyState, Violation> {
        let k = self.keys.get(signer).ok_or_else(|| {
            rule(format!(
                "key {} is not authorised in this ledger; an admin must run `custody key authorize` first",
                keys::short_id(signer)
            ))
        })?;
        if let Some(t) = self.taint(signer) {
            return Err(rule(format!(
                "key {} ({}) counts as never authorised: {}",
                keys::short_id(signer),
                k.name,
                self.describe_taint(&t)
            )));
        }
        if !k.active_at(seq) {
            return Err(rule(format!(
                "key {} ({}) was not authorised at record {seq}: {}",
                keys::short_id(signer),
                k.name,
                k.status()
            )));
        }
        Ok(k)
    }

    /// An admin other than `except` active at `seq`, the one authorised last.
    pub fn other_admin_at(&self, seq: u64, except: &[u8; 32]) -> Option<([u8; 32], &KeyState)> {
        self.keys
            .iter()
            .filter(|(k, s)| {
                *k != except && s.role == Role::Admin && s.active_at(seq) && self.taint(k).is_none()
            })
            .max_by_key(|(_, s)| s.authorized_at)
            .map(|(k, s)| (*k, s))
    }

    /// Whether a key's role lets it sign a statement of this kind (SPEC.md 4.1): a ledger
    /// key signs no record; evidence needs an investigator or an admin; keys and revocations
    /// need an admin. Holding an exhibit, or being named as its receiver, is checked apart.
    fn may_sign(k: &KeyState, signer: &[u8; 32], body: &Body) -> Result<(), Violation> {
        if k.role == Role::Ledger {
            return Err(rule(format!(
                "key {} is a ledger key: it signs checkpoints, never records",
                keys::short_id(signer)
            )));
        }
        let (allowed, what, needed): (&[Role], &str, &str) = match body {
            Body::Testimony(_) | Body::Media(_) => (
                &[Role::Investigator, Role::Admin],
                "recording evidence",
                "investigator or admin",
            ),
            Body::Authorize { .. } => (&[Role::Admin], "authorising a key", "admin"),
            Body::LedgerKey { .. } => (&[Role::Admin], "naming a ledger key", "admin"),
            Body::Revoke { .. } => (&[Role::Admin], "revoking a key", "admin"),
            Body::SealTo { .. } => (&[Role::Admin], "naming content recipients", "admin"),
            Body::Erase { .. } => (&[Role::Admin], "erasing content", "admin"),
            _ => return Ok(()),
        };
        if allowed.contains(&k.role) {
            Ok(())
        } else {
            Err(rule(format!(
                "key {} ({}) has the role {}; {what} needs {needed}",
                keys::short_id(signer),
                k.name,
                k.role.name()
            )))
        }
    }

    fn evidence(lookup: &dyn Lookup, seq: u64, at: u64) -> Result<Statement, Violation> {
        if seq >= at {
            return Err(rule(format!(
                "there is no record {seq} before this one (record {at}); give the number of a testimony or media record"
            )));
        }
        match lookup.statement(seq) {
            Some(s) if s.body.is_evidence() => Ok(s),
            Some(s) => Err(rule(format!(
                "record {seq} is {} record, not an exhibit (testimony or media)",
                super::a_kind(s.body.kind())
            ))),
            None => Err(rule(format!("record {seq} does not exist"))),
        }
    }

    fn new_key(&self, key: &[u8; 32]) -> Result<(), Violation> {
        keys::check_public(key).map_err(|e| rule(format!("cannot authorise that key: {e}")))?;
        if let Some(old) = self.keys.get(key) {
            return Err(rule(format!(
                "key {} is already known to this ledger as {} ({}); a key is never authorised twice",
                keys::short_id(key),
                old.name,
                old.status()
            )));
        }
        Ok(())
    }

    /// Checks that `st`, at position `seq` recorded at `recorded_at_ms`, obeys the rules
    /// given the state so far.
    pub fn check(
        &self,
        st: &Statement,
        seq: u64,
        recorded_at_ms: u64,
        lookup: &dyn Lookup,
    ) -> Result<(), Violation> {
        let signer = &st.signer;
        if Self::is_authority_record(&st.body)
            && let Some(first) = self.seen.get(&statement_digest(st))
        {
            return Err(rule(format!(
                "this exact signed statement is already record {first}; a signed statement counts once"
            )));
        }
        let k = match &st.body {
            // Its position is a rule of its own (rules::check_position); here it only must
            // not reach a state that already has keys.
            Body::Genesis { .. } => {
                if seq != 0 || !self.keys.is_empty() {
                    return Err(Violation::new(
                        Code::Genesis,
                        format!("record {seq} is a genesis statement; only record 0 may be"),
                    ));
                }
                return Ok(());
            }
            _ => self.active(signer, seq)?,
        };
        Self::may_sign(k, signer, &st.body)?;
        // A text counts once: with a fresh secret salt, no honest text repeats a commitment,
        // so a repeat is a signed testimony appended again (which would carry the consent
        // it was signed with, whatever became of the first).
        if let Some((c, _, _)) = st.body.text(seq)
            && let Some(first) = lookup.committed_before(&c, seq)
        {
            return Err(rule(format!(
                "record {first} already commits to this text: a text counts once (a signed testimony appended again?)"
            )));
        }
        match &st.body {
            Body::Genesis { .. } | Body::Testimony(_) | Body::Media(_) => Ok(()),
            Body::Authorize { key, role, .. } => {
                if *role == Role::Ledger {
                    return Err(rule(
                        "the ledger role is given only by a ledger-key statement (`custody key rotate` of the ledger key)",
                    ));
                }
                self.new_key(key)
            }
            Body::LedgerKey { key } => self.new_key(key),
            Body::Revoke {
                key,
                reason,
                effective,
            } => self.check_revoke(signer, key, *reason, *effective, seq, recorded_at_ms),
            Body::Transfer { exhibit, to, .. } => {
                // Holding the exhibit is what entitles a key to hand it over, whatever its role.
                let ex = Self::evidence(lookup, *exhibit, seq)?;
                let h = self.holder(*exhibit, ex.signer);
                if &h.holder != signer {
                    return Err(rule(format!(
                        "exhibit {exhibit} is held by key {}, not by the signer {}",
                        keys::short_id(&h.holder),
                        keys::short_id(signer)
                    )));
                }
                if let Some(p) = h.pending {
                    return Err(rule(format!(
                        "exhibit {exhibit} already has a pending transfer (record {p}) awaiting acceptance; cancel it first (`custody transfer --cancel {p}`)"
                    )));
                }
                if to == signer {
                    return Err(rule("an exhibit cannot be handed to its own holder"));
                }
                let r = self
                    .active(to, seq)
                    .map_err(|e| rule(format!("the receiver: {e}")))?;
                if r.role == Role::Ledger {
                    return Err(rule("the receiver is a ledger key, which holds nothing"));
                }
                Ok(())
            }
            Body::Accept { transfer } => {
                let t = self.pending_transfer(*transfer)?;
                if &t.to != signer {
                    return Err(rule(format!(
                        "transfer {transfer} names key {} as receiver, not the signer {}",
                        keys::short_id(&t.to),
                        keys::short_id(signer)
                    )));
                }
                Ok(())
            }
            Body::Cancel { transfer } => {
                let t = self.pending_transfer(*transfer)?;
                if &t.from != signer && k.role != Role::Admin {
                    return Err(rule(format!(
                        "transfer {transfer} was signed by key {}; only its signer or an admin may cancel it",
                        keys::short_id(&t.from)
                    )));
                }
                Ok(())
            }
            Body::Amend(Amendment {
                target,
                description,
                content,
                ..
            }) => {
                let original = Self::evidence(lookup, *target, seq)?;
                self.not_erased(*target)?;
                if &original.signer != signer && k.role != Role::Admin {
                    return Err(rule(format!(
                        "record {target} was signed by key {}; only its signer or an admin may amend it",
                        keys::short_id(&original.signer)
                    )));
                }
                match (&original.body, description, content) {
                    (_, None, None) => {
                        Err(rule("an amendment must change the text or the description"))
                    }
                    (Body::Testimony(_), Some(_), _) => Err(rule(
                        "a testimony has no description to amend; amend its text",
                    )),
                    (Body::Media(_), _, Some(_)) => Err(rule(
                        "a media record has no text to amend; amend its description",
                    )),
                    _ => Ok(()),
                }
            }
            Body::SealTo { recipients } => {
                let mut sorted = recipients.clone();
                sorted.sort_unstable();
                sorted.dedup();
                if sorted.len() != recipients.len() {
                    return Err(rule("a content recipient is named twice"));
                }
                Ok(())
            }
            Body::Consent {
                target,
                target_statement,
                ..
            } => {
                let original = Self::evidence(lookup, *target, seq)?;
                Self::same_target(&original, *target, target_statement)?;
                if !matches!(original.body, Body::Testimony(_)) {
                    return Err(rule(format!(
                        "record {target} is a media record; consent is given for testimony"
                    )));
                }
                self.not_erased(*target)?;
                if &original.signer != signer && k.role != Role::Admin {
                    return Err(rule(format!(
                        "record {target} was recorded by key {}; only its recorder or an admin may change its consent",
                        keys::short_id(&original.signer)
                    )));
                }
                Ok(())
            }
            Body::Erase {
                target,
                target_statement,
                ..
            } => {
                let original = Self::evidence(lookup, *target, seq)?;
                Self::same_target(&original, *target, target_statement)?;
                self.not_erased(*target)
            }
        }
    }

    /// A consent change or an erasure names its target's statement digest as well as its
    /// number: signed for one testimony, it cannot be replayed onto another ledger's record
    /// of the same number.
    fn same_target(original: &Statement, target: u64, digest: &[u8; 32]) -> Result<(), Violation> {
        if &statement_digest(original) != digest {
            return Err(rule(format!(
                "record {target} is not the record this statement was signed for (its statement digest differs): a statement signed for another ledger's record {target}"
            )));
        }
        Ok(())
    }

    fn not_erased(&self, target: u64) -> Result<(), Violation> {
        match self.erased.get(&target) {
            Some(e) => Err(rule(format!("record {target} was erased by record {e}"))),
            None => Ok(()),
        }
    }

    fn pending_transfer(&self, transfer: u64) -> Result<&TransferState, Violation> {
        let t = self.transfers.get(&transfer).ok_or_else(|| {
            rule(format!(
                "record {transfer} is not a transfer of this ledger"
            ))
        })?;
        if let Some(a) = t.accepted {
            return Err(rule(format!(
                "transfer {transfer} was already accepted by record {a}"
            )));
        }
        if let Some(c) = t.cancelled {
            return Err(rule(format!(
                "transfer {transfer} was cancelled by record {c}"
            )));
        }
        Ok(t)
    }

    fn check_revoke(
        &self,
        signer: &[u8; 32],
        key: &[u8; 32],
        reason: RevokeReason,
        effective: Effective,
        seq: u64,
        recorded_at_ms: u64,
    ) -> Result<(), Violation> {
        let target = self.keys.get(key).ok_or_else(|| {
            rule(format!(
                "key {} is not a key of this ledger",
                keys::short_id(key)
            ))
        })?;
        // A key found compromised may be declared so again, whatever ended it: each
        // declaration adds its window, so a thief's narrow declaration cannot shut out the
        // honest one. Retiring twice, or retiring a compromised key, means nothing.
        if target.ended.is_some() && reason == RevokeReason::Retired {
            return Err(rule(format!(
                "key {} is already {}",
                keys::short_id(key),
                target.status()
            )));
        }
        if self.ledger_keys.last().is_some_and(|(_, k)| k == key) {
            return Err(rule(format!(
                "key {} signs this ledger's checkpoints; name a new ledger key first (`custody key rotate --old {} --new NEW.pub`), then revoke it",
                keys::short_id(key),
                keys::short_id(key)
            )));
        }
        if reason == RevokeReason::Compromised {
            // A declaration that would void the key signing it (its own compromise, or its
            // chain of authorisers) is refused: no single record can void the ledger's own
            // authority, as declaring the genesis key compromised from record 0 would.
            let mut after = self.clone();
            if let Some(k) = after.keys.get_mut(key) {
                k.compromises.push(Compromise { at: seq, effective });
            }
            if after
                .keys
                .get(signer)
                .is_some_and(|s| s.compromised_for(seq, recorded_at_ms))
                || after.taint(signer).is_some()
            {
                return Err(rule(format!(
                    "this declaration would make its own signer, key {}, compromised or never authorised; give the point from which key {} was really stolen, or have an admin outside its window declare it",
                    keys::short_id(signer),
                    keys::short_id(key)
                )));
            }
        }
        if target.ended.is_none()
            && target.role == Role::Admin
            && self.other_admin_at(seq, key).is_none()
        {
            return Err(rule(
                "that is the last active admin key; authorise another admin first",
            ));
        }
        match effective {
            Effective::Seq(e) if e > seq => Err(rule(format!(
                "the effective record {e} is in the future (this is record {seq})"
            ))),
            Effective::Time(t) if t > recorded_at_ms => {
                Err(rule("the effective time is in the future"))
            }
            _ => Ok(()),
        }
    }

    /// Checks `st` and, when it obeys the rules, applies it: the one step of the state
    /// machine that appends, catch-up, audits and bundle verification all take.
    pub fn admit(
        &mut self,
        st: &Statement,
        seq: u64,
        recorded_at_ms: u64,
        lookup: &dyn Lookup,
    ) -> Result<(), Violation> {
        self.check(st, seq, recorded_at_ms, lookup)?;
        self.apply(st, seq, recorded_at_ms, lookup);
        Ok(())
    }

    /// Applies a record that passed [`Authority::check`] to the state. A record that broke a
    /// rule must not be applied, so an injected authorisation grants nothing.
    fn apply(&mut self, st: &Statement, seq: u64, recorded_at_ms: u64, lookup: &dyn Lookup) {
        if Self::is_authority_record(&st.body) {
            self.seen.entry(statement_digest(st)).or_insert(seq);
        }
        let new_key = |name: String, role: Role, by: Option<[u8; 32]>| KeyState {
            name,
            role,
            authorized_at: seq,
            authorized_at_ms: recorded_at_ms,
            authorized_by: by,
            ended: None,
            compromises: Vec::new(),
        };
        match &st.body {
            Body::Genesis { .. } => {
                self.keys
                    .entry(st.signer)
                    .or_insert_with(|| new_key("ledger".into(), Role::Admin, None));
                self.ledger_keys.push((0, st.signer));
            }
            Body::Authorize { key, name, role } => {
                self.keys
                    .entry(*key)
                    .or_insert_with(|| new_key(name.clone(), *role, Some(st.signer)));
            }
            Body::LedgerKey { key } => {
                self.keys
                    .entry(*key)
                    .or_insert_with(|| new_key("ledger".into(), Role::Ledger, Some(st.signer)));
                self.ledger_keys.push((seq, *key));
            }
            Body::Revoke {
                key,
                reason,
                effective,
            } => {
                if let Some(k) = self.keys.get_mut(key) {
                    if k.ended.is_none() {
                        k.ended = Some(Ended {
                            at: seq,
                            reason: *reason,
                        });
                    }
                    if *reason == RevokeReason::Compromised {
                        k.compromises.push(Compromise {
                            at: seq,
                            effective: *effective,
                        });
                    }
                }
            }
            Body::Transfer { exhibit, to, .. } => {
                let recorded_by = lookup.statement(*exhibit).map_or(st.signer, |s| s.signer);
                let mut h = self.holder(*exhibit, recorded_by);
                h.pending = Some(seq);
                self.holdings.insert(*exhibit, h);
                self.transfers.insert(
                    seq,
                    TransferState {
                        exhibit: *exhibit,
                        from: st.signer,
                        to: *to,
                        accepted: None,
                        cancelled: None,
                    },
                );
            }
            Body::Accept { transfer } => {
                if let Some(t) = self.transfers.get_mut(transfer) {
                    t.accepted = Some(seq);
                    self.holdings.insert(
                        t.exhibit,
                        Holding {
                            holder: t.to,
                            since: seq,
                            pending: None,
                        },
                    );
                }
            }
            Body::Cancel { transfer } => {
                if let Some(t) = self.transfers.get_mut(transfer) {
                    t.cancelled = Some(seq);
                    if let Some(h) = self.holdings.get_mut(&t.exhibit) {
                        h.pending = None;
                    }
                }
            }
            Body::Amend(a) => self.amendments.entry(a.target).or_default().push(seq),
            Body::SealTo { recipients } => self.seal_to.push(SealTo {
                seq,
                recorded_at_ms,
                signer: st.signer,
                recipients: recipients.clone(),
            }),
            Body::Consent {
                target, consent, ..
            } => self
                .consents
                .entry(*target)
                .or_default()
                .push((seq, consent.clone())),
            Body::Erase { target, .. } => {
                self.erased.entry(*target).or_insert(seq);
            }
            Body::Testimony(_) | Body::Media(_) => {}
        }
    }

    /// Whether a record kind changes this state (and so is replayed when a ledger opens).
    pub fn is_authority_record(body: &Body) -> bool {
        !body.is_evidence()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::{Media, Testimony};

    fn pk(n: u8) -> [u8; 32] {
        ed25519_dalek::SigningKey::from_bytes(&[n; 32])
            .verifying_key()
            .to_bytes()
    }
    fn st(signer: u8, body: Body) -> Statement {
        Statement {
            claimed_at_ms: 0,
            signer: pk(signer),
            body,
        }
    }
    fn media() -> Body {
        Body::Media(Media {
            sha256: [1; 32],
            size: 1,
            name: None,
            media_type: None,
            description: None,
        })
    }

    /// Runs statements through check+apply; returns each result.
    fn run(records: &[Statement]) -> Vec<Result<(), Violation>> {
        let mut a = Authority::new();
        let mut out = Vec::new();
        for (i, s) in records.iter().enumerate() {
            let lookup = |n: u64| records.get(n as usize).cloned();
            out.push(a.admit(s, i as u64, 1000, &lookup));
        }
        out
    }

    fn auth(by: u8, who: u8, role: Role) -> Statement {
        st(
            by,
            Body::Authorize {
                key: pk(who),
                name: format!("k{who}"),
                role,
            },
        )
    }

    #[test]
    fn roles_are_enforced() {
        let recs = vec![
            st(1, Body::Genesis { origin: "o".into() }),
            auth(1, 2, Role::Investigator),
            auth(1, 3, Role::Auditor),
            st(2, media()),
            st(3, media()),
            st(4, media()),
            auth(2, 5, Role::Investigator),
        ];
        let r = run(&recs);
        assert!(r[1].is_ok() && r[2].is_ok() && r[3].is_ok());
        let msg = |i: usize| r[i].as_ref().unwrap_err().message.clone();
        assert!(
            msg(4).contains("has the role auditor"),
            "auditor records evidence"
        );
        assert!(msg(5).contains("not authorised in this ledger"));
        assert!(
            msg(6).contains("has the role investigator"),
            "investigator authorises"
        );
    }

    #[test]
    fn compromise_marks_exactly_the_records_from_the_effective_point() {
        let recs = vec![
            st(1, Body::Genesis { origin: "o".into() }),
            auth(1, 2, Role::Investigator),
            st(2, media()), // 2
            st(2, media()), // 3
            st(2, media()), // 4
            st(
                1,
                Body::Revoke {
                    key: pk(2),
                    reason: RevokeReason::Compromised,
                    effective: Effective::Seq(3),
                },
            ),
            st(2, media()), // 6: refused
        ];
        let r = run(&recs);
        assert!(r[..6].iter().all(Result::is_ok), "{r:?}");
        assert!(
            r[6].as_ref()
                .unwrap_err()
                .message
                .contains("was not authorised at record 6")
        );
        let mut a = Authority::new();
        for (i, s) in recs.iter().enumerate() {
            let _ = a.admit(s, i as u64, 1000, &|n: u64| recs.get(n as usize).cloned());
        }
        let k = a.key(&pk(2)).unwrap();
        let flagged: Vec<u64> = (2..=4).filter(|&s| k.compromised_for(s, 0)).collect();
        assert_eq!(flagged, vec![3, 4]);
    }

    #[test]
    fn custody_chain_needs_the_holder_and_the_named_receiver() {
        let recs = vec![
            st(1, Body::Genesis { origin: "o".into() }),
            auth(1, 2, Role::Investigator),
            auth(1, 3, Role::Custodian),
            st(
                2,
                Body::Testimony(Testimony {
                    subject: "s".into(),
                    language: "en".into(),
                    consent: None,
                    location: None,
                    commitment: [0; 32],
                    content_len: 1,
                }),
            ), // 3
            t(3, 3, 2),                          // 4: not the holder
            t(2, 3, 3),                          // 5: ok
            t(2, 3, 1),                          // 6: pending already
            st(1, Body::Accept { transfer: 5 }), // 7: wrong receiver
            st(3, Body::Accept { transfer: 5 }), // 8: ok
            t(2, 3, 1),                          // 9: no longer the holder
            t(3, 3, 1),                          // 10: ok, now pending
        ];
        let r = run(&recs);
        assert!(r[4].is_err() && r[5].is_ok() && r[6].is_err() && r[7].is_err());
        assert!(r[8].is_ok() && r[9].is_err() && r[10].is_ok(), "{r:?}");
    }

    #[test]
    fn the_last_admin_cannot_be_revoked() {
        let recs = vec![
            st(1, Body::Genesis { origin: "o".into() }),
            st(
                1,
                Body::Revoke {
                    key: pk(1),
                    reason: RevokeReason::Retired,
                    effective: Effective::Now,
                },
            ),
        ];
        assert!(run(&recs)[1].is_err());
    }

    /// A hand-over of exhibit `ex` by key `by` to key `to`.
    fn t(by: u8, ex: u64, to: u8) -> Statement {
        st(
            by,
            Body::Transfer {
                exhibit: ex,
                to: pk(to),
                reason: "r".into(),
                location: None,
            },
        )
    }

    fn media_n(n: u8) -> Body {
        Body::Media(Media {
            sha256: [n; 32],
            size: 1,
            name: None,
            media_type: None,
            description: None,
        })
    }

    fn revoke(by: u8, who: u8, reason: RevokeReason, effective: Effective) -> Statement {
        st(
            by,
            Body::Revoke {
                key: pk(who),
                reason,
                effective,
            },
        )
    }
    fn replay(recs: &[Statement]) -> (Authority, Vec<Result<(), Violation>>) {
        let mut a = Authority::new();
        let lookup = |n: u64| recs.get(n as usize).cloned();
        let out = recs
            .iter()
            .enumerate()
            .map(|(i, s)| a.admit(s, i as u64, 1000 + i as u64, &lookup))
            .collect();
        (a, out)
    }

    #[test]
    fn a_retired_key_found_compromised_names_the_compromise_record() {
        let recs = vec![
            st(1, Body::Genesis { origin: "o".into() }),
            auth(1, 2, Role::Investigator),
            st(2, media_n(1)),                                          // 2
            st(2, media_n(2)),                                          // 3
            revoke(1, 2, RevokeReason::Retired, Effective::Now),        // 4
            revoke(1, 2, RevokeReason::Compromised, Effective::Seq(3)), // 5
        ];
        let (a, r) = replay(&recs);
        assert!(r.iter().all(Result::is_ok), "{r:?}");
        let k = a.key(&pk(2)).unwrap();
        assert_eq!(k.revocations(), vec![4, 5]);
        assert!(k.status().contains("revoked by record 5"), "{}", k.status());
        assert!(a.verdict(&pk(2), 2, 1002).is_none());
        assert_eq!(
            a.verdict(&pk(2), 3, 1003).map(|v| v.code),
            Some(Code::SignedAfterCompromise)
        );
    }

    #[test]
    fn a_key_minted_inside_a_compromise_window_is_never_authorised() {
        let recs = vec![
            st(1, Body::Genesis { origin: "o".into() }),
            auth(1, 2, Role::Admin),        // 1: admin 2
            auth(2, 3, Role::Admin),        // 2: stolen 2 mints 3
            auth(3, 4, Role::Investigator), // 3: 3 mints 4
            st(4, media_n(1)),              // 4: sock puppet
            revoke(1, 2, RevokeReason::Compromised, Effective::Seq(2)), // 5
            st(4, media_n(2)),              // 6: refused now
        ];
        let (a, r) = replay(&recs);
        assert!(r[..6].iter().all(Result::is_ok), "{r:?}");
        assert!(
            r[6].as_ref()
                .unwrap_err()
                .message
                .contains("never authorised")
        );
        assert_eq!(
            a.verdict(&pk(4), 4, 1004).map(|v| v.code),
            Some(Code::TaintedSigner)
        );
        assert_eq!(
            a.verdict(&pk(3), 3, 1003).map(|v| v.code),
            Some(Code::TaintedSigner)
        );
        assert_eq!(
            a.verdict(&pk(2), 2, 1002).map(|v| v.code),
            Some(Code::SignedAfterCompromise)
        );
        assert!(a.verdict(&pk(1), 5, 1005).is_none());
    }

    #[test]
    fn a_pending_transfer_can_be_cancelled_by_its_sender_or_an_admin_only() {
        let recs = vec![
            st(1, Body::Genesis { origin: "o".into() }),
            auth(1, 2, Role::Investigator),
            auth(1, 3, Role::Custodian),
            st(2, media_n(1)),                                   // 3
            t(2, 3, 3),                                          // 4
            revoke(1, 3, RevokeReason::Retired, Effective::Now), // 5: receiver gone
            st(3, Body::Cancel { transfer: 4 }),                 // 6: not the sender
            st(2, Body::Cancel { transfer: 4 }),                 // 7: ok
            st(3, Body::Accept { transfer: 4 }),                 // 8: cancelled
            st(2, Body::Cancel { transfer: 4 }),                 // 9: already
            auth(1, 4, Role::Custodian),                         // 10
            t(2, 3, 4),                                          // 11: may hand over again
            st(1, Body::Cancel { transfer: 11 }),                // 12: admin cancels
        ];
        let (a, r) = replay(&recs);
        assert!(
            r[6].is_err() && r[7].is_ok() && r[8].is_err() && r[9].is_err(),
            "{r:?}"
        );
        assert!(r[11].is_ok() && r[12].is_ok(), "{r:?}");
        assert!(a.pending_transfers().is_empty());
        assert_eq!(a.holder(3, pk(2)).holder, pk(2));
    }

    #[test]
    fn ledger_keys_sign_checkpoints_in_order_and_a_compromise_voids_theirs() {
        let recs = vec![
            st(1, Body::Genesis { origin: "o".into() }),
            st(1, media_n(1)),                                       // 1
            st(1, Body::LedgerKey { key: pk(9) }),                   // 2
            revoke(1, 1, RevokeReason::Compromised, Effective::Now), // 3: refused, 1 is no longer in force but is the last admin
            st(9, media_n(2)), // 4: a ledger key signs no record
        ];
        let (a, r) = replay(&recs);
        assert!(r[2].is_ok() && r[3].is_err() && r[4].is_err(), "{r:?}");
        assert_eq!(a.ledger_key_at(2), Some(pk(1)));
        assert_eq!(a.ledger_key_at(3), Some(pk(9)));
        assert!(a.check_checkpoint(2, &pk(1), Some(0)).is_ok());
        assert_eq!(
            a.check_checkpoint(3, &pk(1), Some(0)).unwrap_err().code,
            Code::CheckpointKey
        );
        // Admin 5, authorised before the theft, declares key 1 stolen from record 2.
        let recs2 = vec![
            st(1, Body::Genesis { origin: "o".into() }),
            auth(1, 5, Role::Admin),                                    // 1
            st(1, media_n(1)),                                          // 2
            st(1, Body::LedgerKey { key: pk(9) }),                      // 3
            revoke(5, 1, RevokeReason::Compromised, Effective::Seq(2)), // 4
            revoke(5, 9, RevokeReason::Compromised, Effective::Now),    // 5: 9 in force
            revoke(5, 1, RevokeReason::Compromised, Effective::Seq(1)), // 6: would void 5
        ];
        let (a, r) = replay(&recs2);
        assert!(r[4].is_ok() && r[5].is_err() && r[6].is_err(), "{r:?}");
        assert!(
            r[6].as_ref()
                .unwrap_err()
                .message
                .contains("its own signer")
        );
        assert_eq!(
            a.check_checkpoint(3, &pk(1), Some(0)).unwrap_err().code,
            Code::CheckpointCompromised
        );
        assert!(a.check_checkpoint(2, &pk(1), Some(0)).is_ok());
    }

    #[test]
    fn judging_one_record_applies_the_role_rules_too() {
        let recs = vec![
            st(1, Body::Genesis { origin: "o".into() }),
            auth(1, 2, Role::Custodian),
            st(1, Body::LedgerKey { key: pk(9) }),
        ];
        let (a, r) = replay(&recs);
        assert!(r.iter().all(Result::is_ok), "{r:?}");
        // Evidence written into the store directly by a custodian, or by a ledger key.
        for signer in [2, 9] {
            let v = a.judge(&st(signer, media_n(7)), 3, 2000).unwrap_err();
            assert_eq!(v.code, Code::Unauthorized, "{v}");
        }
        assert!(a.judge(&st(1, media_n(7)), 3, 2000).is_ok());
    }

    fn testimony_body() -> Body {
        Body::Testimony(Testimony {
            subject: "W".into(),
            language: "en".into(),
            consent: Some("court".into()),
            location: None,
            commitment: [9; 32],
            content_len: 1,
        })
    }

    #[test]
    fn seal_to_consent_and_erase_follow_their_rules() {
        let digest = |body: Body| statement_digest(&st(2, body));
        let other = match testimony_body() {
            Body::Testimony(mut t) => {
                t.commitment = [8; 32];
                Body::Testimony(t)
            }
            _ => unreachable!(),
        };
        let consent = |by: u8, target: u64, c: &str| {
            let target_statement = match target {
                3 => digest(testimony_body()),
                4 => digest(media()),
                _ => [0; 32],
            };
            st(
                by,
                Body::Consent {
                    target,
                    target_statement,
                    consent: c.into(),
                },
            )
        };
        let erase = |by: u8, target: u64| {
            let target_statement = match target {
                3 => digest(testimony_body()),
                4 => digest(media()),
                _ => [0; 32],
            };
            st(
                by,
                Body::Erase {
                    target,
                    target_statement,
                    reason: "order".into(),
                },
            )
        };
        let recs = vec![
            st(1, Body::Genesis { origin: "o".into() }),
            auth(1, 2, Role::Investigator),
            auth(1, 3, Role::Investigator),
            st(2, testimony_body()), // 3
            st(2, media()),          // 4
            st(
                1,
                Body::SealTo {
                    recipients: vec![[7; 32], [8; 32]],
                },
            ), // 5
            st(
                2,
                Body::SealTo {
                    recipients: vec![[7; 32]],
                },
            ), // 6: not an admin
            st(
                1,
                Body::SealTo {
                    recipients: vec![[7; 32], [7; 32]],
                },
            ), // 7: twice
            consent(3, 3, "none"),   // 8: not the recorder
            consent(2, 4, "court"),  // 9: media
            consent(2, 3, "none"),   // 10
            consent(1, 3, "court"),  // 11: an admin may
            erase(2, 3),             // 12: not an admin
            erase(1, 1),             // 13: not evidence
            erase(1, 3),             // 14
            erase(1, 3),             // 15: already erased
            consent(2, 3, "court,research"), // 16: erased
            st(
                2,
                Body::Amend(Amendment {
                    target: 3,
                    reason: "r".into(),
                    description: None,
                    content: Some(([5; 32], 3)),
                }),
            ), // 17: erased
            erase(1, 4),             // 18: media
            st(2, other.clone()),    // 19: another testimony
            st(
                1,
                Body::Erase {
                    target: 19,
                    target_statement: digest(testimony_body()),
                    reason: "signed for another ledger's record 19".into(),
                },
            ), // 20: refused, though record 19 could be erased
            st(
                1,
                Body::Erase {
                    target: 19,
                    target_statement: digest(other),
                    reason: "signed for this one".into(),
                },
            ), // 21
        ];
        let (a, r) = replay(&recs);
        let refused: Vec<usize> = r
            .iter()
            .enumerate()
            .filter(|(_, x)| x.is_err())
            .map(|(i, _)| i)
            .collect();
        assert_eq!(refused, [6, 7, 8, 9, 12, 13, 15, 16, 17, 20]);
        assert_eq!(a.seal_to(), Some((5, vec![[7; 32], [8; 32]])));
        assert_eq!(
            a.consents_of(3),
            [(10, "none".to_string()), (11, "court".to_string())]
        );
        assert_eq!(a.erased_by(3), Some(14));
        assert_eq!(a.erased_by(4), Some(18));
        assert_eq!(a.erased_by(19), Some(21));
    }
}
