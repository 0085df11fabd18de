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

pub use crate::rules::MAX_CLOCK_SKEW_MS;
/// Records indexed per sled transaction when catching up from the journal.
const CATCH_UP_BATCH: usize = 10_000;
/// Frames decoded and verified together when the index catches up with the journal (and
/// a byte budget for them, so that large records keep memory flat).
const CATCH_UP_CHUNK: usize = 4096;
const CATCH_UP_CHUNK_BYTES: usize = 16 << 20;

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

/// Whether a command may change the ledger when it opens it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// Reading and verifying: nothing on disk changes.
    Read,
    /// Appending, signing checkpoints, auditing: an interrupted append is completed first.
    Write,
}

/// Signs a media statement for each file, on all cores.
fn sign_media(
    key: &SigningKey,
    files: Vec<MediaInput>,
    claimed_at_ms: u64,
) -> Result<Vec<SignedStatement>> {
    use rayon::prelude::*;
    files
        .into_par_iter()
        .map(|f| {
            sign_statement(
                key,
                Body::Media(Media {
                    sha256: f.sha256,
                    size: f.size,
                    name: f.name,
                    media_type: f.media_type,
                    description: f.description,
                }),
                claimed_at_ms,
            )
        })
        .collect()
}

/// A statement's bytes must be its canonical encoding, and (when `signature` is given) its
/// signature must pass the strict rule.
fn check_signed(statement: &Statement, bytes: &[u8], signature: Option<&[u8; 64]>) -> Result<()> {
    if bytes.len() > record::MAX_STATEMENT {
        return Err(Error::Input("the statement is larger than 64 KiB".into()));
    }
    if Statement::decode(bytes).ok().as_ref() != Some(statement) {
        return Err(Error::Input(
            "the statement bytes do not encode the statement".into(),
        ));
    }
    if let Some(signature) = signature {
        keys::verify_strict(
            &statement.signer,
            &record::signing_message(bytes),
            signature,
        )
        .map_err(|e| Error::Input(format!("statement signature refused: {e}")))?;
    }
    Ok(())
}

/// Whether `rec` may follow the record `prev` (leaf hash, recorded time) by the position
/// rules in their admitting form (SPEC.md section 4).
fn admissible_position(rec: &Record, prev: (Hash, u64)) -> std::result::Result<(), Violation> {
    let pos = Position {
        seq: rec.seq,
        prev: Some(prev),
        origin: None,
        genesis_key: None,
    };
    match rules::check_position(rec, &pos, Mode::Admit)
        .into_iter()
        .next()
    {
        Some(v) => Err(v),
        None => Ok(()),
    }
}

/// The one gate of appends and catch-up: the position rules, then the authority rules of
/// section 4.1, whose state `authority` then takes the record.
fn admit(
    authority: &mut Authority,
    rec: &Record,
    prev: (Hash, u64),
    lookup: &dyn Lookup,
) -> std::result::Result<(), Violation> {
    admissible_position(rec, prev)?;
    authority.admit(&rec.statement, rec.seq, rec.recorded_at_ms, lookup)
}

fn refused(v: Violation) -> Error {
    Error::Input(format!("refused: {v}"))
}

/// Earlier statements, read from the index.
struct StoreLookup<'a>(&'a Store);

impl Lookup for StoreLookup<'_> {
    fn statement(&self, seq: u64) -> Option<Statement> {
        let b = self.0.record_bytes(seq).ok()??;
        Record::decode(&b).ok().map(|r| r.statement)
    }
}

/// Earlier statements: the index below `base`, then a batch not yet written.
struct BatchLookup<'a> {
    store: &'a Store,
    base: u64,
    pending: &'a [Statement],
}

impl Lookup for BatchLookup<'_> {
    fn statement(&self, seq: u64) -> Option<Statement> {
        if seq < self.base {
            StoreLookup(self.store).statement(seq)
        } else {
            self.pending.get((seq - self.base) as usize).cloned()
        }
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
    /// Creates a ledger in `dir`: record 0 is a genesis statement signed by `key`, which
    /// becomes the ledger key, and the first checkpoint is signed.
    pub fn init(dir: &Path, origin: &str, key: &SigningKey, now_ms: u64) -> Result<Self> {
        record::check_origin(origin)?;
        let store = Store::create(dir)?;
        let genesis = sign_statement(
            key,
            Body::Genesis {
                origin: origin.to_owned(),
            },
            now_ms,
        )?;
        let mut ledger = Ledger {
            authority: Authority::new(),
            frontier: Frontier::new(),
            size: 0,
            damaged: None,
            batch_cut: None,
            origin: origin.to_owned(),
            ledger_key: key.verifying_key().to_bytes(),
            last_leaf: [0; 32],
            last_recorded_at: 0,
            store: {
                store.flush()?;
                store
            },
        };
        ledger.append(vec![genesis], now_ms)?;
        ledger.sign_checkpoint(key)?;
        Ok(ledger)
    }

    /// Opens a ledger. With [`Access::Write`], journal records that sled has not indexed
    /// (a crash fell between the journal fsync and the sled write) are checked as strictly
    /// as an append and indexed, and a torn final frame is cut off; [`Access::Read`] changes
    /// nothing on disk.
    pub fn open(dir: &Path, wait: LockWait, access: Access) -> Result<Self> {
        let store = Store::open(dir, wait, access == Access::Write)?;
        Self::from_store(store, access, &mut |_, _| {})
    }

    /// The rest of [`Ledger::open`], on a store already open and locked. `progress`
    /// receives (journal bytes indexed, bytes to index) while the index catches up.
    fn from_store(
        mut store: Store,
        access: Access,
        progress: &mut dyn FnMut(u64, u64),
    ) -> Result<Self> {
        let mut meta = store.meta()?;
        if meta.journal_len < MAGIC.len() as u64 {
            meta.journal_len = MAGIC.len() as u64;
        }
        let mut journal_len = store.journal().len()?;
        // A ledger whose index is damaged still opens, so that it can be read and audited;
        // `damaged` then refuses appends and checkpoints until `custody audit` is consulted.
        let mut damaged = None;
        let mut frontier = Frontier::load(&store, meta.size).unwrap_or_else(|e| {
            damaged = Some(format!("stored tree hashes are incomplete ({e})"));
            Frontier::new()
        });
        let mut last_leaf = [0u8; 32];
        let mut last_recorded_at = 0;
        if meta.size > 0 && damaged.is_none() {
            let n = meta.size - 1;
            match store.record_bytes(n)? {
                Some(b) => {
                    last_leaf = leaf_hash(&b);
                    match Record::decode(&b) {
                        Ok(r) => last_recorded_at = r.recorded_at_ms,
                        Err(e) => damaged = Some(format!("record {n} does not decode: {e}")),
                    }
                }
                None => damaged = Some(format!("record {n} is missing from the index")),
            }
            // The indexed journal length must end exactly after the last record's frame.
            if damaged.is_none() && store.journal().trailer_at(meta.journal_len)? != Some(last_leaf)
            {
                damaged =
                    Some("the index's journal position does not end at its last record".into());
            }
        }
        if journal_len < meta.journal_len && damaged.is_none() {
            damaged = Some(format!(
                "the journal is {journal_len} bytes but the index has read {} (it was truncated)",
                meta.journal_len
            ));
        }
        // Key authority and custody: replayed from the (few) records that change them.
        let mut authority = Authority::new();
        if damaged.is_none() {
            let lookup = StoreLookup(&store);
            for seq in store.authority_seqs()? {
                let rec = store
                    .record_bytes(seq)?
                    .and_then(|b| Record::decode(&b).ok());
                match rec {
                    Some(rec) if !rec.statement.body.is_evidence() => {
                        // The index only says where to look; each record is judged again,
                        // its signature first (a record injected into the index with a
                        // forged one grants nothing).
                        let admitted = rules::check_signature(&rec).and_then(|()| {
                            authority.admit(&rec.statement, seq, rec.recorded_at_ms, &lookup)
                        });
                        if let Err(v) = admitted {
                            damaged = Some(format!("authority record {seq} breaks the rules: {v}"));
                            break;
                        }
                    }
                    Some(_) => {
                        damaged = Some(format!(
                            "the authority index lists record {seq}, which is evidence (the index was altered)"
                        ));
                        break;
                    }
                    None => {
                        damaged = Some(format!(
                            "authority record {seq} is missing or does not decode"
                        ));
                        break;
                    }
                }
            }
        }
        let mut size = meta.size;
        let mut origin = meta.origin.clone();
        let mut ledger_key = meta.ledger_key;
        let mut batch_cut = None;
        if access == Access::Write && damaged.is_none() {
            // The leading frames of a batch that a crash interrupted were never
            // acknowledged: the batch is undone whole, before the index catches up.
            batch_cut = store.cut_incomplete_batch(meta.journal_len)?;
            journal_len = store.journal().len()?;
        }
        if access == Access::Write && journal_len > meta.journal_len && damaged.is_none() {
            let mut frames = store.journal().frames_from(meta.journal_len)?;
            let mut batch: Vec<Entry> = Vec::new();
            let mut pending: Vec<Statement> = Vec::new();
            let mut hashes = Vec::new();
            let mut end = meta.journal_len;
            let mut seq = meta.size;
            // Chunks of frames are decoded and their signatures verified (strictly) on all
            // cores; the order-dependent checks and the indexing follow, frame by frame, and
            // stop at the first frame that is not a valid next record.
            'frames: loop {
                let mut chunk = Vec::new();
                let mut bytes = 0;
                // A read error is returned only once every frame before it was accepted:
                // reading ahead must not fail where reading frame by frame would not.
                let mut read_error = None;
                while chunk.len() < CATCH_UP_CHUNK && bytes < CATCH_UP_CHUNK_BYTES {
                    match frames.next() {
                        Some(Ok(frame)) => {
                            bytes += frame.bytes.len();
                            chunk.push(frame);
                        }
                        Some(Err(e)) => {
                            read_error = Some(e);
                            break;
                        }
                        None => break,
                    }
                }
                if chunk.is_empty() {
                    match read_error {
                        Some(e) => return Err(e),
                        None => break,
                    }
                }
                let decoded: Vec<_> = {
                    use rayon::prelude::*;
                    chunk.par_iter().map(|f| Record::decode(&f.bytes)).collect()
                };
                let mut signatures =
                    record::verify_signatures(decoded.iter().flatten(), keys::VerifyMode::Strict)
                        .into_iter();
                for (frame, rec) in chunk.into_iter().zip(decoded) {
                    let rec = match rec {
                        Ok(r) => r,
                        Err(e @ crate::encoding::DecodeError::UnsupportedVersion { .. }) => {
                            damaged = Some(format!("record {seq} in the journal: {e}"));
                            break 'frames;
                        }
                        Err(_) => break 'frames,
                    };
                    let signed = signatures.next().is_some_and(|r| r.is_ok());
                    let lookup = BatchLookup {
                        store: &store,
                        base: seq - pending.len() as u64,
                        pending: &pending,
                    };
                    // The record must sit where the frame sits; then every append rule.
                    let valid = signed
                        && frame.intact()
                        && rec.seq == seq
                        && admit(&mut authority, &rec, (last_leaf, last_recorded_at), &lookup)
                            .is_ok();
                    if !valid {
                        break 'frames;
                    }
                    pending.push(rec.statement.clone());
                    let frame_end = frame.end();
                    let entry = entry_for(&rec, frame.bytes, frame.stored_leaf);
                    if let Some((o, k)) = &entry.genesis {
                        origin = Some(o.clone());
                        ledger_key = Some(*k);
                    }
                    frontier.push(entry.leaf, |l, i, h| hashes.push((l, i, *h)));
                    last_leaf = entry.leaf;
                    last_recorded_at = rec.recorded_at_ms;
                    end = frame_end;
                    seq += 1;
                    batch.push(entry);
                    if batch.len() >= CATCH_UP_BATCH {
                        store.index(&batch, &hashes, end)?;
                        batch.clear();
                        hashes.clear();
                        pending.clear();
                    }
                }
                progress(end - meta.journal_len, journal_len - meta.journal_len);
                if let Some(e) = read_error {
                    return Err(e);
                }
            }
            size = seq;
            let torn = matches!(frames.end_state(), ScanEnd::Torn { offset } if offset == end);
            drop(frames);
            store.index(&batch, &hashes, end)?;
            if torn {
                // An incomplete final frame is an append that was never acknowledged.
                store.journal_mut().truncate(end)?;
            }
        }
        let (Some(origin), Some(ledger_key)) = (origin, ledger_key) else {
            return Err(Error::NotALedger {
                path: store.dir().to_owned(),
                reason: "it has no genesis record".into(),
            });
        };
        Ok(Ledger {
            store,
            authority,
            frontier,
            size,
            origin,
            ledger_key,
            last_leaf,
            last_recorded_at,
            damaged,
            batch_cut,
        })
    }

    /// Rebuilds or completes the sled index from the journal, the source of truth. A sled
    /// database that cannot be opened is moved aside (never deleted) and rebuilt. Returns
    /// the ledger and what was done, in words.
    pub fn recover(
        dir: &Path,
        wait: LockWait,
        progress: &mut dyn FnMut(u64, u64),
    ) -> Result<(Self, Vec<String>)> {
        let mut done = Vec::new();
        // The ledger lock is held from here on, also while an unreadable index is moved aside.
        let (store, aside) = Store::open_or_set_aside(dir, wait)?;
        let before = match &aside {
            None => {
                let m = store.meta()?;
                (m.size, m.journal_len)
            }
            Some((aside, why)) => {
                done.push(format!(
                    "the index could not be opened ({why}); moved it to {} and rebuilt it",
                    aside.display()
                ));
                (0, 0)
            }
        };
        let mut ledger = Ledger::from_store(store, Access::Write, progress)?;
        if let Some((start, len)) = ledger.batch_cut {
            done.push(format!(
                "an append of several records was interrupted after part of it reached the journal; removed that unacknowledged part (journal bytes {start} to {len}), so the batch is undone whole"
            ));
        }
        if let Some(d) = &ledger.damaged {
            return Err(Error::Damaged(format!(
                "{d}; move the db directory aside and run `custody recover` again to rebuild it from the journal"
            )));
        }
        // A signed checkpoint proves its records were acknowledged: bytes it covers are
        // never cut, whatever state they are in.
        let signed_to = ledger
            .store
            .checkpoint_file_entries()?
            .iter()
            .filter_map(|t| crate::checkpoint::claimed_size(t))
            .max()
            .unwrap_or(0);
        if ledger.store.journal().len()? > ledger.store.meta()?.journal_len
            && signed_to > ledger.size
        {
            return Err(Error::Damaged(format!(
                "records {} to {} are covered by a signed checkpoint, but the journal bytes after record {} do not form valid records (damaged); nothing was cut: restore the journal from a backup or a copy",
                ledger.size,
                signed_to - 1,
                ledger.size.saturating_sub(1)
            )));
        }
        let restored = ledger
            .store
            .restore_checkpoints(&ledger.origin, |size| ledger.ledger_key_at(size))?;
        if restored > 0 {
            done.push(format!(
                "restored {restored} signed checkpoint(s) from the checkpoints file"
            ));
        }
        let meta = ledger.store.meta()?;
        if meta.size > before.0 {
            done.push(format!(
                "indexed records {} to {} from the journal",
                before.0,
                meta.size - 1
            ));
        }
        let jl = ledger.store.journal().len()?;
        if jl > meta.journal_len {
            // Bytes that do not form a valid next record would stop every append: they are
            // kept, whole, in a file beside the journal, and cut from it.
            let secs = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_secs());
            let aside = ledger
                .store
                .dir()
                .join(format!("journal.set-aside-{secs}-{}", std::process::id()));
            let n = ledger.store.journal().copy_tail(meta.journal_len, &aside)?;
            ledger.store.journal_mut().truncate(meta.journal_len)?;
            done.push(format!(
                "{n} journal bytes after record {} did not form a valid record (they break a rule, or are damaged); kept them in {} and cut them from the journal, so appends can go on",
                meta.size.saturating_sub(1),
                aside.display()
            ));
        }
        if done.is_empty() {
            done.push("the index already matched the journal; nothing to do".into());
        }
        Ok((ledger, done))
    }

    /// Key authority and custody as the records establish them.
    pub fn authority(&self) -> &Authority {
        &self.authority
    }

    /// The statement of record `seq`, if it decodes.
    pub fn statement(&self, seq: u64) -> Option<Statement> {
        StoreLookup(&self.store).statement(seq)
    }

    /// One of the index's sled trees by name, for the mutation sweep (`tests/sweep.rs`),
    /// which alters index entries in place; not part of the library's interface.
    #[cfg(feature = "test-hooks")]
    #[doc(hidden)]
    pub fn raw_tree(&self, name: &str) -> Option<&sled::Tree> {
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

    /// Where a compromise from time `t` begins by position (SPEC.md 4.1): the first record
    /// whose recorded time, or an earlier record's, is at or after `t` less the clock skew
    /// allowed (the ledger's size when there is none), so that a record whose clock was a
    /// little slow is not let through. Refused when a later record is dated before that
    /// point (a clock was wrong around it, and only a person can say where the theft
    /// falls): the admin then gives the record number.
    pub fn first_record_from(&self, t: u64) -> Result<u64> {
        let threshold = t.saturating_sub(MAX_CLOCK_SKEW_MS);
        let mut latest = 0u64;
        let mut from: Option<u64> = None;
        for (i, r) in self.store.records_iter().enumerate() {
            let (_, v) = r?;
            let Ok(rec) = Record::decode(&v) else {
                continue;
            };
            latest = latest.max(rec.recorded_at_ms);
            match from {
                None if latest >= threshold => from = Some(i as u64),
                Some(p) if rec.recorded_at_ms < threshold => {
                    return Err(Error::Input(format!(
                        "record {i} is dated {}, before {}, but comes after record {p}, dated at or after it: a clock was wrong, so the time cannot be placed safely; give --effective with the record number from which the key was stolen",
                        record::rfc3339(rec.recorded_at_ms),
                        record::rfc3339(threshold)
                    )));
                }
                _ => {}
            }
        }
        Ok(from.unwrap_or(self.size))
    }

    /// Key authority and custody replayed from every record of the journal, the source of
    /// truth, as the audit does; compared with the state the index gave when the ledger
    /// opened. `export` calls it: the index only says where the authority records are, and
    /// a removed entry (a hidden revocation) must never reach a court.
    pub fn check_authority_against_journal(&self) -> Result<()> {
        let mut replayed = Authority::new();
        let lookup = StoreLookup(&self.store);
        for (seq, f) in (0..self.size).zip(self.store.journal().frames_from(MAGIC.len() as u64)?) {
            let f = f?;
            // Evidence changes no key authority: skipped without decoding it.
            if record::is_evidence_record(&f.bytes) {
                continue;
            }
            let Ok(rec) = Record::decode(&f.bytes) else {
                continue;
            };
            if rules::check_signature(&rec).is_ok() {
                // A record that breaks a rule changes nothing, as in the audit.
                let _ = replayed.admit(&rec.statement, seq, rec.recorded_at_ms, &lookup);
            }
        }
        if replayed != self.authority {
            return Err(Error::Damaged(
                "the index's key authority differs from what the journal's records establish (an authority index entry was removed or added)".into(),
            ));
        }
        Ok(())
    }

    /// The first ledger key, which signed the genesis.
    pub fn genesis_key(&self) -> &[u8; 32] {
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

    /// Appends signed statements as one batch: one journal fsync, one sled transaction.
    /// Every signature is verified.
    pub fn append(
        &mut self,
        statements: Vec<SignedStatement>,
        now_ms: u64,
    ) -> Result<Vec<Appended>> {
        self.append_checked(statements, now_ms, true)
    }

    /// Appends statements this process has just signed with a key it holds: their
    /// signatures are valid by construction, so verifying them again (three times the cost
    /// of signing) is skipped; every other rule is checked as for [`Ledger::append`].
    fn append_signed_here(
        &mut self,
        statements: Vec<SignedStatement>,
        now_ms: u64,
    ) -> Result<Vec<Appended>> {
        self.append_checked(statements, now_ms, false)
    }

    fn append_checked(
        &mut self,
        statements: Vec<SignedStatement>,
        now_ms: u64,
        verify: bool,
    ) -> Result<Vec<Appended>> {
        self.check_writable()?;
        let recorded_at = rules::recorded_time(self.last_recorded_at, now_ms);
        let mut authority = self.authority.clone();
        let mut pending: Vec<Statement> = Vec::new();
        let mut frontier = self.frontier.clone();
        let mut last = self.last_leaf;
        let mut entries = Vec::with_capacity(statements.len());
        let mut hashes = Vec::new();
        let mut out = Vec::with_capacity(statements.len());
        // Signatures and per-statement rules are independent: check them on all cores.
        {
            use rayon::prelude::*;
            statements.par_iter().try_for_each(|s| {
                check_signed(&s.statement, &s.bytes, verify.then_some(&s.signature))
            })?;
        }
        let mut prev_time = self.last_recorded_at;
        for s in statements {
            let seq = frontier.size();
            let rec = Record {
                seq,
                prev: last,
                recorded_at_ms: recorded_at,
                statement_bytes: s.bytes,
                statement: s.statement,
                signature: s.signature,
            };
            {
                let lookup = BatchLookup {
                    store: &self.store,
                    base: self.size,
                    pending: &pending,
                };
                admit(&mut authority, &rec, (last, prev_time), &lookup).map_err(refused)?;
            }
            prev_time = recorded_at;
            pending.push(rec.statement.clone());
            let bytes = rec.encode();
            let leaf = leaf_hash(&bytes);
            frontier.push(leaf, |l, i, h| hashes.push((l, i, *h)));
            out.push(Appended {
                seq,
                leaf_hash: hex::encode(leaf),
                kind: rec.statement.body.kind(),
            });
            entries.push(entry_for(&rec, bytes, leaf));
            last = leaf;
        }
        self.store.append(&entries, &hashes)?;
        self.authority = authority;
        self.frontier = frontier;
        self.size = self.frontier.size();
        self.last_leaf = last;
        self.last_recorded_at = recorded_at;
        Ok(out)
    }

    /// Everything that could refuse appending `s` alone now, checked before anything (a
    /// testimony's text) is written.
    fn precheck(&self, s: &SignedStatement, now_ms: u64) -> Result<()> {
        self.check_writable()?;
        check_signed(&s.statement, &s.bytes, Some(&s.signature))?;
        let rec = Record {
            seq: self.size,
            prev: self.last_leaf,
            recorded_at_ms: rules::recorded_time(self.last_recorded_at, now_ms),
            statement_bytes: s.bytes.clone(),
            statement: s.statement.clone(),
            signature: s.signature,
        };
        admissible_position(&rec, (self.last_leaf, self.last_recorded_at)).map_err(refused)?;
        self.authority
            .check(
                &rec.statement,
                rec.seq,
                rec.recorded_at_ms,
                &StoreLookup(&self.store),
            )
            .map_err(refused)
    }

    /// Refuses to change a ledger whose index is damaged or behind its journal.
    /// Journal bytes past what the index holds: an append interrupted after its fsync,
    /// which only `recover` (or the next writing command) indexes.
    pub fn unindexed_bytes(&self) -> Result<u64> {
        let meta = self.store.meta()?;
        Ok(self.store.journal().len()?.saturating_sub(
            meta.journal_len
                .max(crate::store::journal::MAGIC.len() as u64),
        ))
    }

    fn check_writable(&self) -> Result<()> {
        if let Some(d) = &self.damaged {
            return Err(Error::Damaged(format!("{d}; nothing was changed")));
        }
        let meta = self.store.meta()?;
        let journal_len = self.store.journal().len()?;
        if meta.size != self.frontier.size() || (meta.journal_len != journal_len && meta.size > 0) {
            return Err(Error::Damaged(format!(
                "the journal holds {} bytes the index does not account for; nothing was changed",
                journal_len.saturating_sub(meta.journal_len)
            )));
        }
        Ok(())
    }

    /// Signs and appends a testimony: the text and salt are written (fsync'd) to the
    /// content store first, the record holds only the salted commitment.
    pub fn add_testimony(
        &mut self,
        key: &SigningKey,
        input: TestimonyInput,
        claimed_at_ms: u64,
        now_ms: u64,
    ) -> Result<Appended> {
        input.validate()?;
        let mut salt = [0u8; 32];
        getrandom::fill(&mut salt).map_err(|e| Error::Input(format!("no randomness: {e}")))?;
        let content = input.text.as_bytes();
        let commitment = record::commitment(&salt, content);
        let body = Body::Testimony(Testimony {
            subject: input.subject,
            language: input.language,
            consent: input.consent,
            location: input.location,
            commitment,
            content_len: content.len() as u64,
        });
        let signed = sign_statement(key, body, claimed_at_ms)?;
        // Everything that could refuse the append is checked before the text touches disk.
        self.precheck(&signed, now_ms)?;
        self.store.write_content(&commitment, &salt, content)?;
        match self.append_signed_here(vec![signed], now_ms) {
            Ok(mut out) => Ok(out.remove(0)),
            Err(e) => {
                self.store.remove_content(&commitment);
                Err(e)
            }
        }
    }

    /// Signs statements with `key` and appends them as one batch (authorisations,
    /// revocations, hand-overs, acceptances).
    pub fn sign_and_append(
        &mut self,
        key: &SigningKey,
        bodies: Vec<Body>,
        claimed_at_ms: u64,
        now_ms: u64,
    ) -> Result<Vec<Appended>> {
        let statements = bodies
            .into_iter()
            .map(|b| sign_statement(key, b, claimed_at_ms))
            .collect::<Result<Vec<_>>>()?;
        self.append_signed_here(statements, now_ms)
    }

    /// Appends an amendment of record `target`: a new text (written to the content store
    /// first, like a testimony) or a new description. The original stays.
    pub fn add_amendment(
        &mut self,
        key: &SigningKey,
        input: AmendInput,
        claimed_at_ms: u64,
        now_ms: u64,
    ) -> Result<Appended> {
        let AmendInput {
            target,
            reason,
            text,
            description,
        } = input;
        let mut salted = None;
        let content = match &text {
            Some(t) => {
                if t.trim().is_empty() {
                    return Err(Error::Input("the amended text is empty".into()));
                }
                let mut salt = [0u8; 32];
                getrandom::fill(&mut salt)
                    .map_err(|e| Error::Input(format!("no randomness: {e}")))?;
                let c = record::commitment(&salt, t.as_bytes());
                salted = Some((c, salt));
                Some((c, t.len() as u64))
            }
            None => None,
        };
        let body = Body::Amend(record::Amendment {
            target,
            reason,
            description,
            content,
        });
        let signed = sign_statement(key, body, claimed_at_ms)?;
        self.precheck(&signed, now_ms)?;
        if let (Some((c, salt)), Some(t)) = (salted, &text) {
            self.store.write_content(&c, &salt, t.as_bytes())?;
        }
        match self.append_signed_here(vec![signed], now_ms) {
            Ok(mut out) => Ok(out.remove(0)),
            Err(e) => {
                if let Some((c, _)) = salted {
                    self.store.remove_content(&c);
                }
                Err(e)
            }
        }
    }

    /// The custody chain of an exhibit: who held it from when to when, with both sides'
    /// signatures checked, then any hand-over still awaiting acceptance.
    pub fn history(&self, exhibit: u64) -> Result<History> {
        let (rec, _) = self.record(exhibit)?;
        if !rec.statement.body.is_evidence() {
            return Err(Error::Input(format!(
                "record {exhibit} is {} record; custody history is kept for testimony and media",
                rules::a_kind(rec.statement.body.kind())
            )));
        }
        let mut links = vec![HistoryLink {
            holder_key_id: keys::short_id(&rec.statement.signer),
            holder: self.key_name(&rec.statement.signer),
            from_seq: exhibit,
            from_time: record::rfc3339(rec.recorded_at_ms),
            to_seq: None,
            transfer: None,
            accepted_by: None,
            checks: vec![self.link_check("recorded by this holder", exhibit, "record")],
        }];
        let mut pending = None;
        let mut cancelled = Vec::new();
        let mut cancel_checks = Vec::new();
        for (tseq, t) in self.authority.transfers_of(exhibit) {
            let tcheck = self.link_check(
                "hand-over signed by the previous holder",
                tseq,
                &format!("transfer record by key {}", keys::short_id(&t.from)),
            );
            if let Some(c) = t.cancelled {
                cancelled.push((tseq, c));
                // A withdrawn hand-over and its withdrawal are part of the chain: both must
                // verify like any link.
                cancel_checks.push(tcheck);
                cancel_checks.push(self.link_check(
                    "hand-over withdrawn by its sender or an admin",
                    c,
                    "cancel record",
                ));
                continue;
            }
            match t.accepted {
                Some(aseq) => {
                    let acheck = self.link_check(
                        "acceptance signed by the receiver",
                        aseq,
                        &format!("acceptance record by key {}", keys::short_id(&t.to)),
                    );
                    let at = self
                        .record(aseq)
                        .map(|(r, _)| r.recorded_at_ms)
                        .unwrap_or(0);
                    if let Some(last) = links.last_mut() {
                        last.to_seq = Some(aseq);
                    }
                    links.push(HistoryLink {
                        holder_key_id: keys::short_id(&t.to),
                        holder: self.key_name(&t.to),
                        from_seq: aseq,
                        from_time: record::rfc3339(at),
                        to_seq: None,
                        transfer: Some(tseq),
                        accepted_by: Some(aseq),
                        checks: vec![tcheck, acheck],
                    });
                }
                None => {
                    pending = Some(PendingLink {
                        transfer: tseq,
                        to_key_id: keys::short_id(&t.to),
                        to: self.key_name(&t.to),
                        signed: tcheck.passed || tcheck.pending,
                        not_yet_covered: tcheck.pending,
                    });
                }
            }
        }
        let versions: Vec<u64> = std::iter::once(exhibit)
            .chain(self.authority.amendments_of(exhibit).iter().copied())
            .collect();
        let version_checks = versions[1..]
            .iter()
            .map(|&a| {
                self.link_check(
                    "correction signed by an authorised key",
                    a,
                    "amendment record",
                )
            })
            .chain(cancel_checks)
            .collect();
        Ok(History {
            version_checks,
            cancelled,
            exhibit,
            kind: rec.statement.body.kind(),
            links,
            pending,
            versions,
        })
    }

    /// One link of a custody chain: record `seq` passes every check of
    /// [`Ledger::verify_record`]; failing, the check carries the first failing rule's code.
    fn link_check(&self, name: &str, seq: u64, what: &str) -> Check {
        match self.verify_record(seq) {
            Ok(r) => match r.checks.iter().find(|c| !c.passed && !c.pending) {
                Some(c) => Check::new(
                    name,
                    c.code,
                    Err(format!("{what} {seq} fails: {}: {}", c.name, c.detail)),
                ),
                None => match r.checks.iter().find(|c| c.pending) {
                    Some(c) => Check::pending(name, c.code, format!("{what} {seq}: {}", c.detail)),
                    None => Check::new(
                        name,
                        Code::CustodyLink,
                        Ok(format!("{what} {seq} verifies")),
                    ),
                },
            },
            Err(e) => Check::new(name, Code::CustodyLink, Err(e.to_string())),
        }
    }

    fn key_name(&self, k: &[u8; 32]) -> String {
        self.authority.key(k).map_or_else(
            || "(unknown key)".into(),
            |s| format!("{} ({})", s.name, s.role.name()),
        )
    }

    /// Signs and appends one media record per file, as one batch.
    pub fn add_media(
        &mut self,
        key: &SigningKey,
        files: Vec<MediaInput>,
        claimed_at_ms: u64,
        now_ms: u64,
    ) -> Result<Vec<Appended>> {
        let statements = sign_media(key, files, claimed_at_ms)?;
        self.append_signed_here(statements, now_ms)
    }

    /// Appends batches of media records (a bulk load), each batch with one journal fsync
    /// and one index transaction, signing the next batch on the other cores while one is
    /// written. `clock` gives the recording time of each batch; `progress` receives the
    /// number appended so far. Returns that number.
    pub fn add_media_batches(
        &mut self,
        key: &SigningKey,
        mut batches: impl Iterator<Item = Vec<MediaInput>>,
        claimed_at_ms: u64,
        mut clock: impl FnMut() -> u64,
        mut progress: impl FnMut(u64),
    ) -> Result<u64> {
        let mut signed: Option<Vec<SignedStatement>> = None;
        let mut total = 0u64;
        loop {
            let next = batches.next();
            if next.is_none() && signed.is_none() {
                return Ok(total);
            }
            let now = clock();
            let (next_signed, written) = rayon::join(
                || {
                    next.map(|files| sign_media(key, files, claimed_at_ms))
                        .transpose()
                },
                || {
                    signed
                        .take()
                        .map(|s| self.append_signed_here(s, now))
                        .transpose()
                },
            );
            if let Some(appended) = written? {
                total += appended.len() as u64;
                progress(total);
            }
            signed = next_signed?;
        }
    }

    /// Signs a checkpoint of the current head with the ledger key, after checking that it
    /// extends the latest stored checkpoint (a ledger never signs two inconsistent ones).
    pub fn sign_checkpoint(&mut self, key: &SigningKey) -> Result<(Checkpoint, String)> {
        let size = self.size();
        let expected = self.ledger_key_at(size);
        let given = key.verifying_key().to_bytes();
        if given != expected {
            let was = self
                .authority
                .ledger_keys()
                .iter()
                .position(|(_, k)| k == &given)
                .and_then(|i| self.authority.ledger_keys().get(i + 1));
            return Err(Error::Input(match was {
                Some((m, _)) => format!(
                    "key {} signed this ledger's checkpoints until record {m} named key {} in its place; sign with that key",
                    keys::short_id(&given),
                    keys::short_id(&expected)
                ),
                None => format!(
                    "checkpoints are signed by the ledger key (ID {}); this key is {}",
                    keys::short_id(&expected),
                    keys::short_id(&given)
                ),
            }));
        }
        self.check_writable()?;
        // A ledger key minted by a thief, or found compromised, signs nothing that counts.
        self.authority
            .check_checkpoint(size, &given, Some(self.last_recorded_at))
            .map_err(|v| {
                Error::Input(format!(
                    "{v}; an admin names a new ledger key (`custody key rotate --old {} --new NEW.pub`)",
                    keys::short_id(&given)
                ))
            })?;
        let root = merkle::root(&self.store, size)?;
        if root != self.frontier.root() {
            return Err(Error::Damaged(
                "the stored tree disagrees with the records; refusing to sign a checkpoint".into(),
            ));
        }
        if let Some((old, _)) = self.latest_checkpoint_signed()? {
            if old.size > size {
                return Err(Error::Damaged(format!(
                    "a checkpoint of size {} exists but the ledger has {size} records",
                    old.size
                )));
            }
            let recomputed = merkle::root(&self.store, old.size)?;
            if recomputed != old.root {
                return Err(Error::Damaged(format!(
                    "the tree no longer matches the signed checkpoint of size {}; refusing to sign an inconsistent checkpoint",
                    old.size
                )));
            }
        }
        let cp = Checkpoint {
            origin: self.origin.clone(),
            size,
            root,
            extensions: vec![],
        };
        let signed = cp.sign(key)?;
        self.store.put_checkpoint(size, &signed)?;
        self.store.flush()?;
        Ok((cp, signed))
    }

    /// The latest stored checkpoint, which must verify under the ledger key in force at its
    /// size, with its text (whatever the compromise of that key: a ledger never signs a
    /// checkpoint inconsistent with one it signed).
    fn latest_checkpoint_signed(&self) -> Result<Option<(Checkpoint, String)>> {
        match self.store.latest_checkpoint()? {
            None => Ok(None),
            Some((size, text)) => self
                .open_stored_checkpoint(size, &text)
                .map(|cp| Some((cp, text))),
        }
    }

    fn open_stored_checkpoint(&self, size: u64, text: &str) -> Result<Checkpoint> {
        let cp = open_checkpoint(text, &self.origin, &self.ledger_key_at(size))
            .map_err(|e| Error::Damaged(format!("stored checkpoint of size {size}: {e}")))?;
        if cp.size != size || size > self.size {
            return Err(Error::Damaged(format!(
                "the latest stored checkpoint (stored as size {size}) says size {}, and the ledger has {} records",
                cp.size, self.size
            )));
        }
        Ok(cp)
    }

    /// The checkpoint rule of SPEC.md section 4.1 for a stored checkpoint of `size`.
    fn check_checkpoint_key(&self, size: u64) -> std::result::Result<(), Violation> {
        let last = match size {
            0 => None,
            n => self.store.record_bytes(n - 1).ok().flatten(),
        };
        let last_ms = last
            .and_then(|b| Record::decode(&b).ok())
            .map(|r| r.recorded_at_ms);
        self.authority
            .check_checkpoint(size, &self.ledger_key_at(size), last_ms)
    }

    /// The latest stored checkpoint that the checkpoint rule admits, with its text: one
    /// signed by a ledger key later declared compromised for the records it covers is
    /// passed over for an earlier one.
    pub fn latest_checkpoint(&self) -> Result<Option<(Checkpoint, String)>> {
        let Some((latest, text)) = self.latest_checkpoint_signed()? else {
            return Ok(None);
        };
        if self.check_checkpoint_key(latest.size).is_ok() {
            return Ok(Some((latest, text)));
        }
        for (k, v) in self.store.checkpoints()?.into_iter().rev() {
            let (Ok(kb), Ok(text)) = (<[u8; 8]>::try_from(k.as_slice()), String::from_utf8(v))
            else {
                continue;
            };
            let size = u64::from_be_bytes(kb);
            if let Ok(cp) = self.open_stored_checkpoint(size, &text)
                && self.check_checkpoint_key(size).is_ok()
            {
                return Ok(Some((cp, text)));
            }
        }
        Ok(None)
    }

    /// A record and its canonical bytes, from sled.
    pub fn record(&self, seq: u64) -> Result<(Record, Vec<u8>)> {
        let bytes = self.record_bytes(seq)?;
        let rec = Record::decode(&bytes)
            .map_err(|e| Error::Damaged(format!("record {seq} does not decode: {e}")))?;
        Ok((rec, bytes))
    }

    fn record_bytes(&self, seq: u64) -> Result<Vec<u8>> {
        if seq >= self.size() {
            return Err(Error::Input(format!(
                "there is no record {seq}: the ledger has records 0 to {}",
                self.size().saturating_sub(1)
            )));
        }
        self.store
            .record_bytes(seq)?
            .ok_or_else(|| Error::Damaged(format!("record {seq} is missing from the index")))
    }

    /// Checks one record: it decodes, its position rules (sequence, chain link, time order,
    /// genesis, claimed time), its signature, its signer's authority, its stored leaf, its
    /// content (testimony), and its inclusion in the latest signed checkpoint, by a proof
    /// built from stored subtree hashes. Every rule comes from [`crate::rules`].
    pub fn verify_record(&self, seq: u64) -> Result<RecordReport> {
        // Only to tell a record dated in the future (SPEC.md section 4).
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(u64::MAX, |d| d.as_millis() as u64);
        self.verify_record_at(seq, now)
    }

    /// [`Ledger::verify_record`] at the time `now_ms`.
    fn verify_record_at(&self, seq: u64, now_ms: u64) -> Result<RecordReport> {
        let bytes = self.record_bytes(seq)?;
        let mut checks = Vec::new();
        let rec = match Record::decode(&bytes) {
            Ok(r) => r,
            Err(e) => {
                checks.push(Check::new(
                    "record decodes",
                    Code::Decode,
                    Err(e.to_string()),
                ));
                return Ok(RecordReport {
                    seq,
                    record: None,
                    checks,
                });
            }
        };
        let leaf = leaf_hash(&bytes);
        let prev = if seq == 0 {
            None
        } else {
            let b = self.record_bytes(seq - 1)?;
            let time = match Record::decode(&b) {
                Ok(r) => r.recorded_at_ms,
                Err(e) => {
                    // Its time is unknown: the order cannot pass.
                    checks.push(Check::new(
                        "position in the ledger",
                        Code::Decode,
                        Err(format!(
                            "record {} before it does not decode ({e}), so this record's time order cannot be checked",
                            seq - 1
                        )),
                    ));
                    0
                }
            };
            Some((leaf_hash(&b), time))
        };
        let position = Position {
            seq,
            prev,
            origin: Some(&self.origin),
            genesis_key: Some(&self.ledger_key),
        };
        let mut broken = rules::check_position(&rec, &position, Mode::Report);
        broken.extend(rules::future_dated(seq, rec.recorded_at_ms, now_ms));
        if broken.is_empty() {
            checks.push(Check::new(
                "position in the ledger",
                Code::Chain,
                Ok(if seq == 0 {
                    "the ledger's genesis, first in the chain".into()
                } else {
                    format!(
                        "record {seq} names the hash of record {} as its predecessor, in time order",
                        seq - 1
                    )
                }),
            ));
        }
        for v in broken {
            checks.push(Check::new("position in the ledger", v.code, Err(v.message)));
        }
        checks.push(Check::rule(
            "signature",
            Code::Signature,
            rules::check_signature(&rec).map(|()| {
                format!(
                    "valid Ed25519 signature by key {}",
                    keys::short_id(&rec.statement.signer)
                )
            }),
        ));
        if let Some(d) = &self.damaged {
            checks.push(Check::new(
                "ledger consistency",
                Code::LedgerConsistency,
                Err(format!("{d}; run `custody audit`")),
            ));
        }
        checks.push(Check::rule(
            "signer authorised",
            Code::Unauthorized,
            self.check_signer(&rec),
        ));
        checks.push(Check::new(
            "leaf index",
            Code::LeafIndex,
            match self.store.seq_of_leaf(&leaf) {
                Ok(Some(s)) if s == seq => Ok(format!(
                    "leaf hash {} is indexed as record {seq}",
                    hex::encode(leaf)
                )),
                Ok(Some(s)) => Err(format!(
                    "the leaf index names record {s} for this record's hash {}",
                    hex::encode(leaf)
                )),
                Ok(None) => Err(format!(
                    "the leaf index does not hold this record's hash {}",
                    hex::encode(leaf)
                )),
                Err(e) => Err(e.to_string()),
            },
        ));
        match &rec.statement.body {
            Body::Testimony(t) => checks.push(Check::new(
                "testimony content",
                Code::Content,
                self.check_content(&t.commitment, t.content_len),
            )),
            Body::Amend(record::Amendment {
                content: Some((c, len)),
                ..
            }) => checks.push(Check::new(
                "amended text",
                Code::Content,
                self.check_content(c, *len),
            )),
            _ => {}
        }
        checks.push(self.check_inclusion(seq, &leaf));
        Ok(RecordReport {
            seq,
            record: Some(record::RecordView::new(&rec, &bytes)),
            checks,
        })
    }

    /// Whether the signer was authorised when the record was made, and the record is not
    /// signed after compromise or by a tainted key (SPEC.md section 4.1, verdicts).
    fn check_signer(&self, rec: &Record) -> std::result::Result<String, Violation> {
        self.authority
            .judge(&rec.statement, rec.seq, rec.recorded_at_ms)
    }

    /// Whether the content file of a testimony matches its commitment.
    pub fn check_content(
        &self,
        commitment: &Hash,
        content_len: u64,
    ) -> std::result::Result<String, String> {
        // The commitment is SHA-256(salt || text), which is exactly the content file: it is
        // hashed as a stream, so a planted huge file is never loaded into memory.
        let path = self.store.content_path(commitment);
        let meta = match std::fs::metadata(&path) {
            Ok(m) => m,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err("the testimony text is missing from the content store".into());
            }
            Err(e) => return Err(format!("{}: {e}", path.display())),
        };
        if Some(meta.len()) != content_len.checked_add(32) {
            return Err(format!(
                "the stored text is {} bytes, the record says {content_len}",
                meta.len().saturating_sub(32)
            ));
        }
        let digest = std::fs::File::open(&path)
            .and_then(|mut f| record::sha256_stream(&mut f, |_| {}))
            .map_err(|e| format!("{}: {e}", path.display()))?;
        if &digest.0 != commitment {
            return Err(
                "the stored text does not match the signed commitment (it was altered)".into(),
            );
        }
        Ok(format!(
            "{content_len} bytes of text match the signed commitment"
        ))
    }

    /// Inclusion in the latest valid checkpoint: passed, failed, or pending when no
    /// checkpoint covers the record yet (which is not a failure).
    fn check_inclusion(&self, seq: u64, leaf: &Hash) -> Check {
        const NAME: &str = "included in the signed checkpoint";
        let (cp, _) = match self.latest_checkpoint() {
            Ok(Some(c)) => c,
            Ok(None) => {
                return Check::pending(
                    NAME,
                    Code::Inclusion,
                    "no valid signed checkpoint covers it yet; the ledger key holder runs `custody checkpoint` (if that key was found compromised, an admin first names a new one with `custody key rotate`)".into(),
                );
            }
            Err(e) => return Check::new(NAME, Code::Inclusion, Err(e.to_string())),
        };
        if seq >= cp.size {
            return Check::pending(
                NAME,
                Code::Inclusion,
                format!(
                    "not yet covered: the latest signed checkpoint has {} records; the ledger key holder runs `custody checkpoint`",
                    cp.size
                ),
            );
        }
        let result = merkle::inclusion_proof(&self.store, seq, cp.size)
            .map_err(|e| e.to_string())
            .and_then(|proof| {
                merkle::verify_inclusion_proof(leaf, seq, cp.size, &proof, &cp.root)
                    .map(|()| {
                        format!(
                            "a {}-hash proof leads to the root of the checkpoint of {} records signed by the ledger key",
                            proof.len(),
                            cp.size
                        )
                    })
                    .map_err(|e| e.to_string())
            });
        Check::new(NAME, Code::Inclusion, result)
    }

    /// Records that registered a file with this SHA-256, each verified.
    pub fn find_media(&self, sha: &Hash) -> Result<Vec<RecordReport>> {
        let mut out = Vec::new();
        for seq in self.store.media_seqs(sha)? {
            let mut report = self.verify_record(seq)?;
            // The index is only a pointer: the record itself must say this file.
            let says = match self.record(seq) {
                Ok((r, _)) => matches!(&r.statement.body, Body::Media(m) if &m.sha256 == sha),
                Err(_) => false,
            };
            report.checks.insert(
                0,
                Check::new(
                    "names this file",
                    Code::NamesFile,
                    if says {
                        Ok("the signed record holds this file's SHA-256".into())
                    } else {
                        Err("the media index points here, but this record does not hold the file's SHA-256 (the index was altered)".into())
                    },
                ),
            );
            out.push(report);
        }
        Ok(out)
    }

    /// Inclusion proof of `seq` in the latest signed checkpoint, as C2SP tlog-proof text.
    pub fn inclusion_proof(&self, seq: u64) -> Result<InclusionProofText> {
        self.record_bytes(seq)?;
        let (cp, text) = self.require_checkpoint()?;
        if seq >= cp.size {
            return Err(Error::Input(format!(
                "record {seq} is not covered by the latest checkpoint ({} records); run `custody checkpoint` first",
                cp.size
            )));
        }
        Ok(InclusionProofText {
            index: seq,
            extra: None,
            hashes: merkle::inclusion_proof(&self.store, seq, cp.size)?,
            checkpoint: text,
        })
    }

    /// Consistency proof from `old_size` to the latest signed checkpoint.
    pub fn consistency_proof(&self, old_size: u64) -> Result<ConsistencyProofText> {
        let (cp, text) = self.require_checkpoint()?;
        if old_size == 0 || old_size > cp.size {
            return Err(Error::Input(format!(
                "OLD_SIZE must be between 1 and the latest checkpoint's size ({})",
                cp.size
            )));
        }
        Ok(ConsistencyProofText {
            old_size,
            hashes: merkle::consistency_proof(&self.store, old_size, cp.size)?,
            checkpoint: text,
        })
    }

    fn require_checkpoint(&self) -> Result<(Checkpoint, String)> {
        self.latest_checkpoint()?.ok_or_else(|| {
            Error::Input("the ledger has no signed checkpoint; run `custody checkpoint`".into())
        })
    }

    /// Flushes sled's buffers (the journal is already durable).
    pub fn close(self) -> Result<()> {
        self.store.flush()
    }
}

/// The index entry for a record.
pub(crate) fn entry_for(rec: &Record, bytes: Vec<u8>, leaf: Hash) -> Entry {
    let (media, commitment, genesis) = match &rec.statement.body {
        Body::Media(m) => (Some(m.sha256), None, None),
        Body::Testimony(t) => (None, Some(t.commitment), None),
        Body::Amend(a) => (None, a.content.map(|(c, _)| c), None),
        Body::Genesis { origin } => (None, None, Some((origin.clone(), rec.statement.signer))),
        _ => (None, None, None),
    };
    Entry {
        seq: rec.seq,
        bytes,
        leaf,
        media,
        commitment,
        genesis,
        authority: Authority::is_authority_record(&rec.statement.body),
    }
}
