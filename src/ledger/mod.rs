//! The one entry point: create, open, append to, prove from and check a ledger.
//!
//! `Ledger` joins the pure core (records, Merkle math, notes) to the store. Time and keys
//! come in as arguments, so tests can fix them; nothing here prints or exits.

use crate::Hash;
use crate::checkpoint::{Checkpoint, open_checkpoint};
use crate::error::{Error, Result};
use crate::keys;
use crate::merkle::{self, Frontier};
use crate::proof::{ConsistencyProofText, InclusionProofText};
use crate::record::{self, Body, Media, Record, Statement, Testimony, leaf_hash};
use crate::rules::{self, Authority, Code, Lookup, Mode, Position, Violation};
use crate::store::journal::{MAGIC, ScanEnd};
use crate::store::{Entry, Store};
pub use crate::store::{LockHolder, LockWait, crash_point, lock_holder};
use ed25519_dalek::SigningKey;
use serde::Serialize;
use std::path::Path;

mod append;
mod ingest;
mod open;
mod sealed;
mod verify;
pub use ingest::{Checked, Ingested};
pub use sealed::{Destroyed, OpenedText};

pub use crate::rules::MAX_CLOCK_SKEW_MS;

/// 32 fresh random bytes from the operating system, for a content commitment's salt.
pub fn fresh_salt() -> Result<[u8; 32]> {
    let mut salt = [0u8; 32];
    getrandom::fill(&mut salt).map_err(|e| Error::Randomness(e.to_string()))?;
    Ok(salt)
}

/// A statement with its canonical bytes and signature, ready to append.
#[derive(Debug, Clone)]
pub struct SignedStatement {
    /// Canonical statement bytes.
    pub bytes: Vec<u8>,
    /// The statement.
    pub statement: Statement,
    /// Signature over the domain label and the bytes.
    pub signature: [u8; 64],
}

/// Signs a statement body with `key` at `claimed_at_ms`.
pub fn sign_statement(key: &SigningKey, body: Body, claimed_at_ms: u64) -> Result<SignedStatement> {
    let statement = Statement {
        claimed_at_ms,
        signer: key.verifying_key().to_bytes(),
        body,
    };
    let bytes = statement.encode()?;
    let signature = keys::sign(key, &record::signing_message(&bytes));
    Ok(SignedStatement {
        bytes,
        statement,
        signature,
    })
}

/// What an append returns for each record.
#[derive(Debug, Clone, Serialize)]
pub struct Appended {
    /// Sequence number.
    pub seq: u64,
    /// Leaf hash, hex.
    pub leaf_hash: String,
    /// Kind.
    pub kind: &'static str,
}

/// One named check and its outcome, in words a non-specialist can read, with the typed
/// code of the rule it applies (decisions read the code, never the words).
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Check {
    /// What was checked.
    pub name: String,
    /// The rule (SPEC.md section 9).
    pub code: Code,
    /// Whether it held.
    pub passed: bool,
    /// Not failed, not yet passed: the record awaits a signed checkpoint that covers it.
    pub pending: bool,
    /// The evidence.
    pub detail: String,
}

impl Check {
    /// A check of `code`: passed with the evidence, or failed with it.
    pub fn new(
        name: impl Into<String>,
        code: Code,
        result: std::result::Result<String, String>,
    ) -> Self {
        let (passed, detail) = match result {
            Ok(d) => (true, d),
            Err(d) => (false, d),
        };
        Check {
            name: name.into(),
            code,
            passed,
            pending: false,
            detail,
        }
    }

    /// A check that cannot pass yet (nothing failed): the record is not yet covered.
    pub fn pending(name: impl Into<String>, code: Code, detail: String) -> Self {
        Check {
            pending: true,
            ..Check::new(name, code, Err(detail))
        }
    }

    /// A check whose failure is a rule's violation (its code comes from the violation).
    pub fn rule(
        name: impl Into<String>,
        pass_code: Code,
        result: std::result::Result<String, Violation>,
    ) -> Self {
        match result {
            Ok(d) => Check::new(name, pass_code, Ok(d)),
            Err(v) => Check::new(name, v.code, Err(v.message)),
        }
    }
}

/// The checks made on one record.
#[derive(Debug, Clone, Serialize)]
pub struct RecordReport {
    /// Sequence number.
    pub seq: u64,
    /// The record, decoded (when it decodes).
    pub record: Option<record::RecordView>,
    /// Each check.
    pub checks: Vec<Check>,
}

impl RecordReport {
    /// Whether every check passed.
    pub fn passed(&self) -> bool {
        self.checks.iter().all(|c| c.passed)
    }

    /// Whether nothing failed, but a check awaits a checkpoint.
    pub fn pending(&self) -> bool {
        !self.passed() && self.checks.iter().all(|c| c.passed || c.pending)
    }
}

/// A correction to append.
#[derive(Debug, Clone)]
pub struct AmendInput {
    /// The record corrected.
    pub target: u64,
    /// Why.
    pub reason: String,
    /// A corrected testimony text.
    pub text: Option<String>,
    /// A corrected media description.
    pub description: Option<String>,
}

/// One holder in an exhibit's custody chain.
#[derive(Debug, Clone, Serialize)]
pub struct HistoryLink {
    /// Holder's key ID.
    pub holder_key_id: String,
    /// Holder's name and role.
    pub holder: String,
    /// The record from which it held the exhibit.
    pub from_seq: u64,
    /// That record's time.
    pub from_time: String,
    /// The record at which it stopped holding it (the next acceptance).
    pub to_seq: Option<u64>,
    /// The transfer that handed it over.
    pub transfer: Option<u64>,
    /// The acceptance that took it.
    pub accepted_by: Option<u64>,
    /// Both signatures' checks.
    pub checks: Vec<Check>,
}

/// A hand-over not yet accepted.
#[derive(Debug, Clone, Serialize)]
pub struct PendingLink {
    /// The transfer record.
    pub transfer: u64,
    /// Receiver's key ID.
    pub to_key_id: String,
    /// Receiver's name and role.
    pub to: String,
    /// Whether the transfer record verifies (or nothing failed and it awaits a checkpoint).
    pub signed: bool,
    /// Whether it awaits a checkpoint that covers it.
    pub not_yet_covered: bool,
}

/// An exhibit's custody chain and versions.
#[derive(Debug, Clone, Serialize)]
pub struct History {
    /// The exhibit.
    pub exhibit: u64,
    /// Its kind.
    pub kind: &'static str,
    /// Holders in order.
    pub links: Vec<HistoryLink>,
    /// A hand-over awaiting acceptance.
    pub pending: Option<PendingLink>,
    /// Hand-overs withdrawn before acceptance: (transfer, cancelling record).
    pub cancelled: Vec<(u64, u64)>,
    /// Each amendment's checks, in order, then each cancellation's: a correction or a
    /// withdrawal signed after a compromise, or by a tainted key, fails the history as a
    /// broken link would.
    pub version_checks: Vec<Check>,
    /// The original record and every amendment, in order.
    pub versions: Vec<u64>,
    /// A testimony's consent changes, in order: (record, scope, whether it stands).
    pub consent: Vec<(u64, String, bool)>,
    /// The erasure record and its reason, when its content was erased.
    pub erased: Option<(u64, String)>,
}

impl History {
    fn checks(&self) -> impl Iterator<Item = &Check> {
        self.links
            .iter()
            .flat_map(|k| k.checks.iter())
            .chain(&self.version_checks)
    }

    /// Whether every link and version verifies and any pending hand-over is signed and
    /// covered.
    pub fn passed(&self) -> bool {
        self.checks().all(|c| c.passed)
            && self
                .pending
                .as_ref()
                .is_none_or(|p| p.signed && !p.not_yet_covered)
    }

    /// Whether nothing failed but something awaits a signed checkpoint: not yet covered,
    /// never "failed".
    pub fn pending(&self) -> bool {
        !self.passed()
            && self.checks().all(|c| c.passed || c.pending)
            && self.pending.as_ref().is_none_or(|p| p.signed)
    }
}

/// A testimony to append: fields and the text.
#[derive(Debug, Clone)]
pub struct TestimonyInput {
    /// Pseudonym.
    pub subject: String,
    /// Language tag.
    pub language: String,
    /// Consent scope.
    pub consent: Option<String>,
    /// Location.
    pub location: Option<String>,
    /// The testimony text (valid UTF-8, non-empty).
    pub text: String,
}

impl TestimonyInput {
    /// The testimony statement's body for this text under `salt`, and its commitment.
    pub fn body(&self, salt: &[u8; 32]) -> (Body, Hash) {
        let content = self.text.as_bytes();
        let commitment = record::commitment(salt, content);
        let body = Body::Testimony(Testimony {
            subject: self.subject.clone(),
            language: self.language.clone(),
            consent: self.consent.clone(),
            location: self.location.clone(),
            commitment,
            content_len: content.len() as u64,
        });
        (body, commitment)
    }

    /// Checks every field and the text before anything is signed or written.
    pub fn validate(&self) -> Result<()> {
        use crate::encoding::check_text;
        use crate::record::limits;
        if self.text.trim().is_empty() {
            return Err(Error::Input(
                "the testimony text is empty; give the text with --text-file or on standard input"
                    .into(),
            ));
        }
        if let Some(at) = self.text.find('\0') {
            return Err(Error::Input(format!(
                "the testimony text contains a NUL character at byte {at}, which no text should hold; remove it (it is often a sign of a binary or UTF-16 file)"
            )));
        }
        check_text("subject", &self.subject, limits::SUBJECT)?;
        check_text("language", &self.language, limits::LANGUAGE)?;
        if let Some(c) = &self.consent {
            check_text("consent", c, limits::CONSENT)?;
            rules::check_consent(c).map_err(Error::Input)?;
        }
        if let Some(l) = &self.location {
            check_text("location", l, limits::LOCATION)?;
        }
        Ok(())
    }
}

/// A media file already hashed.
#[derive(Debug, Clone)]
pub struct MediaInput {
    /// SHA-256 of the bytes.
    pub sha256: Hash,
    /// Size.
    pub size: u64,
    /// Base name.
    pub name: Option<String>,
    /// Media type.
    pub media_type: Option<String>,
    /// Description.
    pub description: Option<String>,
}

impl MediaInput {
    /// A file known by its SHA-256 and size alone (no name, type or description).
    pub fn new(sha256: Hash, size: u64) -> Self {
        Self {
            sha256,
            size,
            name: None,
            media_type: None,
            description: None,
        }
    }
}

/// Whether a command may change the ledger when it opens it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// Reading and verifying: nothing on disk changes.
    Read,
    /// Appending, signing checkpoints, auditing: an interrupted append is completed first.
    Write,
}

/// Earlier statements, read from the index.
struct StoreLookup<'a>(&'a Store);

impl Lookup for StoreLookup<'_> {
    fn statement(&self, seq: u64) -> Option<Statement> {
        let b = self.0.record_bytes(seq).ok()??;
        Record::decode(&b).ok().map(|r| r.statement)
    }
    fn committed_before(&self, commitment: &Hash, seq: u64) -> Option<u64> {
        // The content lookup names candidates by a prefix; each is read and compared.
        self.0
            .content_seqs(commitment)
            .ok()?
            .into_iter()
            .take_while(|s| *s < seq)
            .find(|s| {
                self.statement(*s)
                    .and_then(|st| st.body.text(*s))
                    .is_some_and(|(c, _, _)| &c == commitment)
            })
    }
}

/// A ledger held open (and locked) by this process.
pub struct Ledger {
    store: Store,
    authority: Authority,
    frontier: Frontier,
    size: u64,
    damaged: Option<String>,
    /// The journal bytes of an interrupted batch that opening this ledger removed.
    batch_cut: Option<(u64, u64)>,
    origin: String,
    ledger_key: [u8; 32],
    last_leaf: Hash,
    last_recorded_at: u64,
}

impl Ledger {
    /// Key authority and custody as the records establish them.
    pub fn authority(&self) -> &Authority {
        &self.authority
    }

    /// Earlier records as the rules look them up (statements, texts' commitments).
    pub(crate) fn lookup(&self) -> impl Lookup + '_ {
        StoreLookup(&self.store)
    }

    /// The statement of record `seq`, if it decodes.
    pub(crate) fn statement(&self, seq: u64) -> Option<Statement> {
        StoreLookup(&self.store).statement(seq)
    }

    /// Why opening the ledger found its index out of step with the journal (appends and
    /// checkpoints are then refused), if it did.
    pub fn damaged(&self) -> Option<&str> {
        self.damaged.as_deref()
    }

    /// One of the index's sled trees by name, for the mutation sweep (`tests/sweep.rs`),
    /// which alters index entries in place; not part of the library's interface.
    #[cfg(feature = "test-hooks")]
    #[doc(hidden)]
    pub fn raw_tree(&self, name: &str) -> Option<sled::Tree> {
        self.store.raw_tree(name)
    }

    /// The store, for audits and exports within the crate.
    pub(crate) fn store(&self) -> &Store {
        &self.store
    }
    /// The ledger's origin.
    pub fn origin(&self) -> &str {
        &self.origin
    }
    /// The ledger key in force now: the key that signs the next checkpoint.
    pub fn ledger_key(&self) -> [u8; 32] {
        self.ledger_key_at(self.size)
    }

    /// The ledger key in force at tree size `size` (SPEC.md section 4.1).
    pub fn ledger_key_at(&self, size: u64) -> [u8; 32] {
        self.authority
            .ledger_key_at(size)
            .unwrap_or(self.ledger_key)
    }

    /// The first ledger key, which signed the genesis.
    pub(crate) fn genesis_key(&self) -> &[u8; 32] {
        &self.ledger_key
    }
    /// Number of records.
    pub fn size(&self) -> u64 {
        self.size
    }
    /// The current root.
    pub fn root(&self) -> Hash {
        self.frontier.root()
    }

    /// A record and its canonical bytes, from sled.
    pub fn record(&self, seq: u64) -> Result<(Record, Vec<u8>)> {
        let bytes = self.record_bytes(seq)?;
        let rec = Record::decode(&bytes)
            .map_err(|e| Error::Damaged(format!("record {seq} does not decode: {e}")))?;
        Ok((rec, bytes))
    }

    /// Refuses a record number the ledger does not hold.
    pub(crate) fn check_exists(&self, seq: u64) -> Result<()> {
        if seq >= self.size() {
            return Err(Error::Input(format!(
                "there is no record {seq}: the ledger has records 0 to {}",
                self.size().saturating_sub(1)
            )));
        }
        Ok(())
    }

    /// Whether the latest valid checkpoint, with the cosignatures stored for it, meets a
    /// witness policy: the policy names of the witnesses that cosigned it, or why not.
    pub fn check_policy(
        &self,
        policy: &crate::policy::Policy,
    ) -> Result<std::result::Result<Vec<String>, String>> {
        let Some((cp, text)) = self.latest_checkpoint()? else {
            return Ok(Err("the ledger has no valid signed checkpoint".into()));
        };
        let note = self.cosigned(cp.size)?.unwrap_or(text);
        Ok(policy.check(&note, &cp, &self.ledger_key_at(cp.size)))
    }

    /// Keeps the time-stamp request written for the checkpoint of `size`.
    pub fn put_timestamp_request(&self, size: u64, der: &[u8]) -> Result<std::path::PathBuf> {
        self.store.put_timestamp_request(size, der)
    }

    /// The time-stamp request kept for the checkpoint of `size`, if any.
    pub fn timestamp_request(&self, size: u64) -> Result<Option<Vec<u8>>> {
        self.store.timestamp_request(size)
    }

    /// Keeps a verified time-stamp response over the checkpoint of `size`, with the
    /// certificates (PEM) it was verified against.
    pub fn put_timestamp(
        &self,
        size: u64,
        name: &str,
        der: &[u8],
        trusted_pem: &[u8],
    ) -> Result<std::path::PathBuf> {
        self.store.put_timestamp(size, name, der, trusted_pem)
    }

    /// Every kept time-stamp response.
    pub fn timestamps(&self) -> Result<Vec<crate::store::KeptTimestamp>> {
        self.store.timestamps()
    }

    /// Keeps the verifier key of a witness whose cosignature this ledger stored.
    pub fn put_witness_key(&self, vkey: &str, pinned: bool) -> Result<()> {
        self.store.put_witness_key(vkey, pinned)
    }

    /// The verifier keys of the witnesses whose cosignatures this ledger keeps.
    pub fn witness_keys(&self) -> Result<Vec<String>> {
        self.store.witness_keys()
    }

    /// Stores a checkpoint of this ledger with witnesses' cosignatures after its own
    /// signature (see [`crate::witness`]).
    pub fn put_cosigned(&self, size: u64, note: &str) -> Result<()> {
        self.store.put_cosigned(size, note)
    }

    /// Stores verified cosignature `lines` of the checkpoint `signed` of `size` as
    /// `cosigned/SIZE`, after those stored earlier by other witnesses (a witness's newer line
    /// replaces its older one); returns the cosigned checkpoint.
    pub fn keep_cosignatures(
        &self,
        cp: &crate::checkpoint::Checkpoint,
        signed: &str,
        fresh: &[(String, String)],
    ) -> Result<String> {
        // A line is one witness's: its name and its whole key. A newer line of the same
        // witness (one that verifies under the same name and key, with a later time)
        // replaces its older one, and an older one never replaces a newer; a line of another
        // key, even under the same name and key ID, replaces nothing (a name is a label
        // anyone can write, and a 4-byte key ID can be ground).
        let time_by = |line: &str, vkey: &str| {
            crate::witness::verify_line(signed, &format!("{line}\n"), vkey, cp)
                .ok()
                .map(|(_, t)| t)
        };
        let fresh: Vec<(String, String, u64)> = fresh
            .iter()
            .filter_map(|(l, v)| Some((l.clone(), v.clone(), time_by(l.trim_end(), v)?)))
            .take(crate::note::MAX_SIGNATURES - 1)
            .collect();
        let mut stale = vec![false; fresh.len()];
        let mut earlier: Vec<String> = Vec::new();
        let kept = self
            .cosigned(cp.size)?
            .and_then(|text| text.strip_prefix(signed).map(str::to_owned))
            .unwrap_or_default();
        for l in kept.lines() {
            let newer = fresh
                .iter()
                .enumerate()
                .find_map(|(i, (_, v, t))| time_by(l, v).map(|old| (i, old, *t)));
            match newer {
                Some((_, old, new)) if old < new => {}
                Some((i, _, _)) => {
                    stale[i] = true;
                    earlier.push(format!("{l}\n"));
                }
                None => earlier.push(format!("{l}\n")),
            }
        }
        let fresh: Vec<&(String, String, u64)> = fresh
            .iter()
            .zip(&stale)
            .filter(|(_, s)| !**s)
            .map(|(f, _)| f)
            .collect();
        // A signed note holds at most 100 signatures: the ledger's and 99 witnesses'.
        let room = (crate::note::MAX_SIGNATURES - 1).saturating_sub(fresh.len());
        earlier.truncate(room);
        let lines: String = fresh.iter().map(|(l, _, _)| l.as_str()).collect();
        let note = format!("{signed}{}{lines}", earlier.concat());
        self.put_cosigned(cp.size, &note)?;
        Ok(note)
    }

    /// When the last record a checkpoint of `size` covers was recorded (0 when there is
    /// none or it cannot be read: the rule that uses it then admits more, never less).
    pub fn last_recorded_ms(&self, size: u64) -> u64 {
        size.checked_sub(1)
            .and_then(|n| self.record(n).ok())
            .map_or(0, |(r, _)| r.recorded_at_ms)
    }

    /// The sizes of the stored cosigned checkpoints, in order.
    pub fn cosigned_sizes(&self) -> Result<Vec<u64>> {
        self.store.cosigned_sizes()
    }

    /// The stored cosigned checkpoint of `size`, if any.
    pub fn cosigned(&self, size: u64) -> Result<Option<String>> {
        self.store.cosigned(size)
    }

    /// The largest size whose stored cosigned checkpoint carries a cosignature line of the
    /// witness `name` with key ID `key_id` (unverified: a witness that knows better says
    /// so, with its size, and is asked again); 0 if none.
    pub fn witnessed_size(&self, name: &str, key_id: [u8; 4]) -> Result<u64> {
        for size in self.store.cosigned_sizes()?.into_iter().rev() {
            if let Some(text) = self.store.cosigned(size)?
                && crate::note::signature_lines(&text)
                    .iter()
                    .any(|s| s.name == name && s.key_id == key_id)
            {
                return Ok(size);
            }
        }
        Ok(0)
    }

    /// The records that change key authority or custody, by number (from the index).
    pub(crate) fn authority_seqs(&self) -> Result<Vec<u64>> {
        self.store.authority_seqs()
    }

    /// The salt and text of a testimony (or amended text), plain or sealed (opened with
    /// `identity`): `None` when it is missing.
    pub(crate) fn content(
        &self,
        seq: u64,
        commitment: &Hash,
        len: u64,
        identity: Option<&age::x25519::Identity>,
    ) -> Result<Option<(Vec<u8>, Vec<u8>)>> {
        let sealed = self.sealed_since(seq).is_some();
        self.store.read_text(commitment, len, identity, sealed)
    }

    /// The seal-to record in force or not (standing or flagged) before record `seq`: a
    /// ledger that seals never keeps a text in plain from then on.
    pub(crate) fn sealed_since(&self, seq: u64) -> Option<u64> {
        self.authority
            .seal_to_history()
            .iter()
            .take_while(|s| s.seq < seq)
            .last()
            .map(|s| s.seq)
    }

    /// The inclusion proof of record `seq` in the tree of `size` records.
    pub(crate) fn inclusion_hashes(&self, seq: u64, size: u64) -> Result<Vec<Hash>> {
        Ok(merkle::inclusion_proof(&self.store, seq, size)?)
    }

    fn record_bytes(&self, seq: u64) -> Result<Vec<u8>> {
        self.check_exists(seq)?;
        self.store
            .record_bytes(seq)?
            .ok_or_else(|| Error::Damaged(format!("record {seq} is missing from the index")))
    }

    /// Flushes sled's buffers (the journal is already durable).
    pub fn close(self) -> Result<()> {
        self.store.flush()
    }
}

/// A small ledger built in-process, for the unit tests of the ledger, the audit and
/// bundles.
#[cfg(test)]
pub(crate) mod testing {
    use super::*;
    use crate::record::Role;

    /// 2026-01-01T00:00:00Z.
    pub const T0: u64 = 1_767_225_600_000;

    pub fn ledger_key() -> SigningKey {
        SigningKey::from_bytes(&[1; 32])
    }

    pub fn alice() -> SigningKey {
        SigningKey::from_bytes(&[2; 32])
    }

    /// Genesis, alice authorised, a testimony (record 2), a media record (3) and a
    /// checkpoint of all four, in `dir/ledger`.
    pub fn small(dir: &Path) -> Ledger {
        let mut l =
            Ledger::init(&dir.join("ledger"), "example.org/unit", &ledger_key(), T0).unwrap();
        l.authorize(
            &ledger_key(),
            alice().verifying_key().to_bytes(),
            "Alice",
            Role::Investigator,
            T0,
        )
        .unwrap();
        let input = TestimonyInput {
            subject: "W-1".into(),
            language: "en".into(),
            consent: Some("court".into()),
            location: None,
            text: "an account".into(),
        };
        l.add_testimony(&alice(), input, [7; 32], T0 + 1000, T0 + 1000)
            .unwrap();
        let media = MediaInput {
            name: Some("clip.mp4".into()),
            ..MediaInput::new([9; 32], 9)
        };
        l.add_media(&alice(), vec![media], T0 + 2000, T0 + 2000)
            .unwrap();
        l.sign_checkpoint(&ledger_key()).unwrap();
        l
    }
}

#[cfg(test)]
mod tests {
    use super::testing::*;
    use super::*;

    #[test]
    fn a_ledger_keeps_what_it_appended_and_reopens_the_same() {
        let dir = tempfile::tempdir().unwrap();
        let l = small(dir.path());
        assert_eq!(l.size(), 4);
        assert_eq!(l.ledger_key(), ledger_key().verifying_key().to_bytes());
        assert_eq!(l.genesis_key(), &ledger_key().verifying_key().to_bytes());
        let root = l.root();
        l.close().unwrap();
        let r = Ledger::open(&dir.path().join("ledger"), LockWait::Yes, Access::Read).unwrap();
        assert_eq!((r.size(), r.root()), (4, root));
        let (rec, _) = r.record(2).unwrap();
        assert!(matches!(rec.statement.body, Body::Testimony(_)));
        let report = r.verify_record(2, T0 + 10_000).unwrap();
        assert!(report.passed(), "{:?}", report.checks);
        assert_eq!(r.latest_checkpoint().unwrap().unwrap().0.size, 4);
    }

    #[test]
    fn a_refused_append_changes_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let mut l = small(dir.path());
        let journal = dir.path().join("ledger/journal");
        let before = std::fs::read(&journal).unwrap();
        let stranger = SigningKey::from_bytes(&[3; 32]);
        let media = MediaInput::new([4; 32], 4);
        let err = l
            .add_media(&stranger, vec![media], T0 + 3000, T0 + 3000)
            .unwrap_err();
        assert!(err.to_string().contains("refused"), "{err}");
        assert_eq!(l.size(), 4);
        assert_eq!(std::fs::read(&journal).unwrap(), before);
        // An append dated before the last record is refused as well: time runs forward.
        let input = TestimonyInput {
            subject: "W-2".into(),
            language: "en".into(),
            consent: None,
            location: None,
            text: "later".into(),
        };
        assert!(
            l.add_testimony(&alice(), input, [8; 32], T0, T0 - 3_600_000)
                .is_err()
        );
        assert_eq!(std::fs::read(&journal).unwrap(), before);
    }

    #[test]
    fn the_first_record_from_a_time_is_found_by_recorded_time() {
        let dir = tempfile::tempdir().unwrap();
        let l = small(dir.path());
        // Records 0 and 1 at T0, 2 at T0+1s, 3 at T0+2s; the skew allowance reaches back.
        assert_eq!(
            l.first_record_from(T0 + 2000 + MAX_CLOCK_SKEW_MS).unwrap(),
            3
        );
        assert_eq!(l.first_record_from(T0).unwrap(), 0);
    }

    #[test]
    fn fresh_salts_differ() {
        assert_ne!(fresh_salt().unwrap(), fresh_salt().unwrap());
    }
}
