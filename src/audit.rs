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

use crate::Hash;
use crate::checkpoint::{Checkpoint, CheckpointError, claimed_origin, open_checkpoint};
use crate::error::{Error, Result};
use crate::keys::{self, VerifyMode};
use crate::ledger::Ledger;
use crate::merkle::{self, Frontier, HashReader};
use crate::record::{self, Body, Record, leaf_hash};
use crate::rules::{self, Authority, Code, Mode, Position};
use crate::store::IndexTree;
use crate::store::journal::{Frame, MAGIC, ScanEnd};
use rayon::prelude::*;
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet};

/// Records per parallel chunk, and a byte budget per chunk: two chunks are in flight (one
/// verified while the other is checked in order), each held about twice (frames and decoded
/// records), so memory stays near 4 x 8 MiB however large the records are.
const CHUNK: usize = 1024;
const CHUNK_BYTES: usize = 8 << 20;

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
    /// Every problem, in the order found.
    pub findings: Vec<Finding>,
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
    /// The index entries the journal's records call for, as keyed digests (see
    /// [`EntrySet`]); compared with the index trees after the streaming pass.
    expected: IndexSets,
    /// The per-audit random key of those digests.
    set_key: Hash,
}

/// One set of index entries per index tree: leaves, media, content, authority.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
struct IndexSets([EntrySet; 4]);

/// A set of index entries, held as its size and the sum of a keyed hash of each entry.
/// The key is drawn at random for each audit, after the index was written, so nobody who
/// altered the index can make a different set sum to the same value; two sets with equal
/// digests are equal except with probability about 2^-256.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
struct EntrySet {
    count: u64,
    sum: [u64; 4],
}

impl EntrySet {
    fn add(&mut self, set_key: &Hash, key: &[u8], value: &[u8]) {
        use sha2::Digest;
        let mut h = sha2::Sha256::new();
        h.update(set_key);
        h.update((key.len() as u32).to_be_bytes());
        h.update(key);
        h.update(value);
        let d = h.finalize();
        for (lane, bytes) in self.sum.iter_mut().zip(d.chunks_exact(8)) {
            let mut b = [0u8; 8];
            b.copy_from_slice(bytes);
            *lane = lane.wrapping_add(u64::from_le_bytes(b));
        }
        self.count += 1;
    }
}

/// The index trees whose entries the records determine, in [`IndexSets`] order, with the
/// finding code for each.
const INDEXES: [(IndexTree, Code); 4] = [
    (IndexTree::Leaves, Code::LeafIndex),
    (IndexTree::Media, Code::MediaIndex),
    (IndexTree::Content, Code::ContentIndex),
    (IndexTree::Authority, Code::AuthorityIndex),
];

impl Auditor<'_> {
    fn find(&mut self, seq: Option<u64>, code: Code, message: String) {
        self.findings.push(Finding { seq, code, message });
    }

    /// Every signed checkpoint is kept twice, in the checkpoints file and in the index:
    /// the file must be whole, and hold exactly the index's checkpoints.
    fn check_checkpoint_file(&mut self, store: &crate::store::Store) -> Result<()> {
        let file = match store.checkpoint_file() {
            Ok(f) => f,
            Err(e) => {
                self.find(
                    None,
                    Code::CheckpointFile,
                    format!("the checkpoints file cannot be read: {e}"),
                );
                return Ok(());
            }
        };
        if file.trailing > 0 {
            self.find(
                None,
                Code::CheckpointFile,
                format!(
                    "the checkpoints file ends with {} byte(s) at offset {} that are not a whole entry (a checkpoint torn by a crash while it was signed, or damage); the next `custody checkpoint` keeps them in a file beside it (checkpoints.set-aside-*) and cuts them",
                    file.trailing, file.whole_len
                ),
            );
        }
        if let Some((at, _)) = file
            .entries
            .iter()
            .find(|(_, b)| std::str::from_utf8(b).is_err())
        {
            self.find(
                None,
                Code::CheckpointFile,
                format!(
                    "the checkpoints file's entry at byte {at} is not UTF-8 text: it is damaged"
                ),
            );
        }
        let in_index: BTreeSet<Vec<u8>> =
            store.checkpoints()?.into_iter().map(|(_, v)| v).collect();
        let in_file: BTreeSet<&Vec<u8>> = file.entries.iter().map(|(_, b)| b).collect();
        let only_file: Vec<u64> = file
            .entries
            .iter()
            .filter(|(_, b)| !in_index.contains(b))
            .map(|(at, _)| *at)
            .collect();
        let only_index: Vec<String> = in_index
            .iter()
            .filter(|b| !in_file.contains(b))
            .map(|b| {
                std::str::from_utf8(b)
                    .ok()
                    .and_then(crate::checkpoint::claimed_size)
                    .map_or("of unreadable size".into(), |s| format!("of {s} records"))
            })
            .collect();
        let mut parts = Vec::new();
        if let Some(at) = only_file.first() {
            parts.push(format!(
                "{} entr{} of the file (the first at byte {at}) not in the index",
                only_file.len(),
                if only_file.len() == 1 { "y" } else { "ies" }
            ));
        }
        if let Some(size) = only_index.first() {
            parts.push(format!(
                "{} checkpoint(s) of the index (the first {size}) not in the file",
                only_index.len()
            ));
        }
        if !parts.is_empty() {
            self.find(
                None,
                Code::CheckpointFile,
                format!(
                    "the checkpoints file and the index disagree: {}; one of them is damaged or was edited: compare them with a checkpoint saved elsewhere (`custody audit --against`)",
                    parts.join(", ")
                ),
            );
        }
        Ok(())
    }
}

/// Audits the whole ledger. `progress` is called with the number of records checked.
pub fn audit(
    ledger: &Ledger,
    against: &[SavedCheckpoint],
    mode: VerifyMode,
    mut progress: impl FnMut(u64),
) -> Result<AuditReport> {
    let store = ledger.store();
    let origin = ledger.origin().to_owned();
    let genesis_key = *ledger.genesis_key();
    let mut a = Auditor {
        ledger,
        findings: Vec::new(),
        now_ms: std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_millis() as u64)
            .unwrap_or(u64::MAX),
        expected: IndexSets::default(),
        set_key: {
            let mut k = [0u8; 32];
            getrandom::fill(&mut k)
                .map_err(|e| Error::Input(format!("no randomness for the audit: {e}")))?;
            k
        },
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
    let mut stored: Vec<(u64, String)> = Vec::new();
    for (k, v) in store.checkpoints()? {
        let Ok(kb) = <[u8; 8]>::try_from(k.as_slice()) else {
            a.find(
                None,
                Code::CheckpointEntry,
                "a stored checkpoint has a malformed key".into(),
            );
            continue;
        };
        stored.push((
            u64::from_be_bytes(kb),
            String::from_utf8_lossy(&v).into_owned(),
        ));
    }
    let mut saved: Vec<(&SavedCheckpoint, u64)> = Vec::new();
    let mut against_results = Vec::new();
    for s in against {
        let malformed = || {
            Error::Checkpoint(CheckpointError::Malformed(format!(
                "{}: not a signed checkpoint; give a checkpoint file saved with `custody checkpoint`",
                s.source
            )))
        };
        let claimed = claimed_origin(&s.text).ok_or_else(malformed)?;
        let size = crate::checkpoint::claimed_size(&s.text).ok_or_else(malformed)?;
        if claimed != origin {
            // A checkpoint of another ledger, given as this one's: the ledger was
            // substituted, or the wrong file was given. Either way it does not vouch.
            a.find(
                None,
                Code::AgainstOrigin,
                format!(
                    "{}: your saved checkpoint is of ledger '{claimed}', but this ledger is '{origin}': the ledger was substituted, or this is not the checkpoint you saved from it",
                    s.source
                ),
            );
            against_results.push(AgainstResult {
                source: s.source.clone(),
                size,
                consistent: false,
            });
            continue;
        }
        saved.push((s, size));
    }
    let wanted: BTreeSet<u64> = stored
        .iter()
        .map(|(s, _)| *s)
        .chain(saved.iter().map(|(_, s)| *s))
        .collect();
    // The recorded time of the last record each wanted size covers (the checkpoint rule).
    let mut last_times: BTreeMap<u64, u64> = BTreeMap::new();
    let mut roots: BTreeMap<u64, Hash> = BTreeMap::new();
    if wanted.contains(&0) {
        roots.insert(0, merkle::empty_root());
    }

    // The streaming pass.
    let mut frontier = Frontier::new();
    let mut prev_leaf = [0u8; 32];
    let mut prev_time = 0u64;
    let mut last_time: Option<u64> = None;
    let mut seq = 0u64;
    // What the index says it holds; journal records past it are the tail of an interrupted
    // append, and how many there are.
    let indexed = store.meta()?.size;
    let mut tail = 0u64;
    let mut signatures = 0u64;
    let mut authority = Authority::new();
    let mut refused: BTreeSet<u64> = BTreeSet::new();
    let mut frames = store.journal().frames_from(MAGIC.len() as u64)?;
    let mut sled_records = store.records_iter().peekable();
    // A pipeline: while one chunk's records go through the order-dependent checks and
    // the index, the next chunk is decoded and its signatures verified on the other cores.
    let mut pending: Option<(Vec<Frame>, Vec<Decoded>)> = None;
    loop {
        let mut chunk = Vec::with_capacity(CHUNK);
        let mut bytes = 0;
        while chunk.len() < CHUNK && bytes < CHUNK_BYTES {
            let Some(f) = frames.next() else { break };
            let f = f?;
            bytes += f.bytes.len();
            chunk.push(f);
        }
        if chunk.is_empty() && pending.is_none() {
            break;
        }
        let (next, checked) = rayon::join(
            || decode_and_verify(&chunk, mode),
            || -> Result<()> {
                let Some((chunk, decoded)) = pending.take() else {
                    return Ok(());
                };
                for (frame, (rec, sig_err)) in chunk.iter().zip(decoded) {
                    let leaf = leaf_hash(&frame.bytes);
                    // Records past what the index holds are an append interrupted after its
                    // fsync: judged like any record, but reported once, not as a missing
                    // index entry, tree hash and count each.
                    let in_tail = seq >= indexed;
                    if in_tail {
                        tail += 1;
                    } else {
                        a.expect_leaf_entry(seq, &leaf);
                    }
                    if !frame.intact() {
                        a.find(
                            Some(seq),
                            Code::JournalFrame,
                            format!(
                                "journal frame at byte {} holds bytes hashing to {}, but its trailer says {}",
                                frame.offset,
                                hex::encode(leaf),
                                hex::encode(frame.stored_leaf)
                            ),
                        );
                    }
                    // Sled's copy of the same record.
                    loop {
                        match sled_records.peek() {
                            Some(Ok((k, _)))
                                if !in_tail && k.as_slice() < seq.to_be_bytes().as_slice() =>
                            {
                                a.find(
                                    Some(seq),
                                    Code::IndexExtra,
                                    format!(
                                        "the index holds an unexpected record key {}",
                                        hex::encode(k)
                                    ),
                                );
                                sled_records.next();
                            }
                            _ => break,
                        }
                    }
                    match sled_records.peek() {
                        _ if in_tail => {}
                        Some(Ok((k, v))) if k.as_slice() == seq.to_be_bytes().as_slice() => {
                            if v != &frame.bytes {
                                a.find(
                                    Some(seq),
                                    Code::JournalIndexMismatch,
                                    format!(
                                        "record {seq} differs between the journal (hash {}) and the index (hash {})",
                                        hex::encode(leaf),
                                        hex::encode(leaf_hash(v))
                                    ),
                                );
                            }
                            sled_records.next();
                        }
                        Some(Err(_)) => {
                            if let Some(Err(e)) = sled_records.next() {
                                return Err(e);
                            }
                        }
                        _ => a.find(
                            Some(seq),
                            Code::IndexMissing,
                            format!("record {seq} is in the journal but missing from the index (an append interrupted before it was acknowledged: `custody recover` indexes it, or removes it whole if it is part of an interrupted batch)"),
                        ),
                    }
                    match rec {
                        Err(e) => a.find(
                            Some(seq),
                            Code::Decode,
                            format!("record {seq} does not decode: {e}"),
                        ),
                        Ok(r) => {
                            signatures += 1;
                            if let Some(e) = sig_err {
                                a.find(Some(seq), Code::Signature, format!("record {seq}: {e}"));
                            }
                            let position = Position {
                                seq,
                                prev: Some((prev_leaf, prev_time)),
                                origin: Some(&origin),
                                genesis_key: Some(&genesis_key),
                            };
                            let mut broken = rules::check_position(&r, &position, Mode::Report);
                            broken.extend(rules::future_dated(seq, r.recorded_at_ms, a.now_ms));
                            // Who may sign what, replayed: a record written into the store directly
                            // by a key the ledger never authorised is caught here.
                            let lookup = |n: u64| ledger.statement(n);
                            if let Err(v) =
                                authority.admit(&r.statement, seq, r.recorded_at_ms, &lookup)
                            {
                                refused.insert(seq);
                                // A late genesis is one fault, already named by its position.
                                if !broken.iter().any(|b| b.code == v.code) {
                                    broken.push(v);
                                }
                            }
                            for v in broken {
                                a.find(Some(seq), v.code, format!("record {seq}: {v}"));
                            }
                            a.check_content(seq, &r, !in_tail);
                            prev_time = r.recorded_at_ms;
                            last_time = Some(r.recorded_at_ms);
                        }
                    }
                    // Rebuild the tree and compare every hash it completes with the stored one.
                    let mut bad_hash = None;
                    frontier.push(leaf, |level, index, h| {
                        // Level 0 is the record itself, compared with the journal above; the
                        // index holds no hashes for the tail yet.
                        if level > 0 && bad_hash.is_none() && !in_tail {
                            match store.complete_subtree(level, index) {
                                Ok(s) if &s == h => {}
                                Ok(s) => bad_hash = Some(format!("stored subtree hash (level {level}, index {index}) is {}, recomputed {}", hex::encode(s), hex::encode(h))),
                                Err(e) => bad_hash = Some(e.to_string()),
                            }
                        }
                    });
                    if let Some(m) = bad_hash {
                        a.find(Some(seq), Code::TreeHash, format!("record {seq}: {m}"));
                    }
                    prev_leaf = leaf;
                    seq += 1;
                    if wanted.contains(&seq) {
                        roots.insert(seq, frontier.root());
                        if let Some(t) = last_time.take() {
                            last_times.insert(seq, t);
                        }
                    }
                    last_time = None;
                }
                Ok(())
            },
        );
        checked?;
        progress(seq);
        pending = (!chunk.is_empty()).then_some((chunk, next));
    }
    match frames.end_state() {
        ScanEnd::Clean => {}
        ScanEnd::Torn { offset } => a.find(
            Some(seq),
            Code::JournalTorn,
            format!("the journal ends inside a frame at byte {offset} (an interrupted write or a truncation)"),
        ),
        ScanEnd::BadLength { offset, len } => a.find(
            Some(seq),
            Code::JournalFrameLength,
            format!("journal frame at byte {offset} declares an impossible length {len}"),
        ),
    }
    drop(frames);
    for extra in sled_records {
        let (k, _) = extra?;
        let n = <[u8; 8]>::try_from(k.as_slice())
            .map(u64::from_be_bytes)
            .ok();
        a.find(
            n,
            Code::IndexExtra,
            format!(
                "the index holds record {} which the journal does not (the journal was truncated, or a record was injected)",
                n.map_or_else(|| hex::encode(&k), |n| n.to_string())
            ),
        );
    }
    let meta = store.meta()?;
    if tail > 0 {
        a.find(
            Some(indexed),
            Code::InterruptedAppend,
            format!(
                "an interrupted append awaits completion: records {indexed} to {} reached the journal but not the index; run `custody recover`",
                indexed + tail - 1
            ),
        );
    }
    if meta.size > seq {
        a.find(
            Some(meta.size.min(seq)),
            Code::SizeMismatch,
            format!(
                "the index says the ledger has {} records, the journal holds {seq}",
                meta.size
            ),
        );
    }
    // 2n - popcount(n) complete subtrees, less the n leaves, which are not stored.
    let held = seq.min(indexed);
    let expected_hashes = held - u64::from(held.count_ones());
    if store.hashes_count() as u64 != expected_hashes {
        a.find(
            None,
            Code::TreeHashCount,
            format!(
                "{} subtree hashes are stored, a tree of {held} records has {expected_hashes} above its leaves",
                store.hashes_count()
            ),
        );
    }
    if seq == 0 {
        a.find(
            Some(0),
            Code::Genesis,
            "the ledger has no records, not even its genesis".into(),
        );
    }
    // The index trees must hold exactly the entries the records call for: an injected entry
    // would make a lookup (such as `verify --file`) point somewhere it should not. They are
    // compared as sets, each tree read once in order; only when a set differs is each
    // record's own entry looked up, to name it.
    let mut held = IndexSets::default();
    for (i, (tree, _)) in INDEXES.iter().enumerate() {
        store.scan_index(*tree, |k, v| held.0[i].add(&a.set_key, k, v))?;
    }
    if held != a.expected {
        let mut named = [false; 4];
        for (i, f) in store
            .journal()
            .frames_from(MAGIC.len() as u64)?
            .take(seq.min(indexed) as usize)
            .enumerate()
        {
            let f = f?;
            let body = Record::decode(&f.bytes).ok().map(|r| r.statement.body);
            let found = a.check_index_entries(i as u64, &leaf_hash(&f.bytes), body.as_ref())?;
            for (n, f) in named.iter_mut().zip(found) {
                *n |= f;
            }
        }
        for (i, (_, code)) in INDEXES.iter().enumerate() {
            let (h, e) = (held.0[i], a.expected.0[i]);
            if h.count != e.count {
                a.find(
                    None,
                    *code,
                    format!("the {code} holds {} entries, the journal's records account for {} (an entry was injected or removed)", h.count, e.count),
                );
            } else if h != e && !named[i] {
                a.find(
                    None,
                    *code,
                    format!(
                        "the {code} holds entries other than those the journal's records call for"
                    ),
                );
            }
        }
    }

    // Every checkpoint, under the ledger key in force at its size, then its root.
    let key_at = |size: u64| authority.ledger_key_at(size).unwrap_or(genesis_key);
    let mut stored_cps: Vec<(u64, Checkpoint)> = Vec::new();
    for (size, text) in &stored {
        let key = key_at(*size);
        match open_checkpoint(text, &origin, &key) {
            Ok(cp) if cp.size != *size => a.find(
                None,
                Code::CheckpointMisfiled,
                format!("checkpoint stored under size {size} says size {}", cp.size),
            ),
            Ok(cp) => match authority.check_checkpoint(*size, &key, last_times.get(size).copied())
            {
                Ok(()) => stored_cps.push((*size, cp)),
                Err(v) => a.find(None, v.code, v.message),
            },
            Err(e) => a.find(
                None,
                Code::CheckpointSignature,
                format!(
                    "stored checkpoint of size {size} does not verify with the ledger key in force at that size ({}): {e}",
                    keys::short_id(&key)
                ),
            ),
        }
    }
    let mut checked_saved: Vec<(String, Checkpoint)> = Vec::new();
    for (s, size) in &saved {
        let key = key_at(*size);
        match open_checkpoint(&s.text, &origin, &key) {
            Ok(cp) => {
                match authority.check_checkpoint(cp.size, &key, last_times.get(&cp.size).copied()) {
                    Ok(()) => checked_saved.push((s.source.clone(), cp)),
                    Err(v) => {
                        a.find(None, v.code, format!("{}: {}", s.source, v.message));
                        against_results.push(AgainstResult {
                            source: s.source.clone(),
                            size: *size,
                            consistent: false,
                        });
                    }
                }
            }
            Err(e @ CheckpointError::Malformed(_))
            | Err(e @ CheckpointError::Note(crate::note::NoteError::Malformed(_))) => {
                return Err(Error::Input(format!(
                    "{}: {e}; give a checkpoint file saved with `custody checkpoint`",
                    s.source
                )));
            }
            Err(e) => {
                a.find(
                    None,
                    Code::AgainstSignature,
                    format!(
                        "{}: the saved checkpoint was not signed by this ledger's key in force at its size ({e}); the ledger key was replaced, or the file is forged",
                        s.source
                    ),
                );
                against_results.push(AgainstResult {
                    source: s.source.clone(),
                    size: *size,
                    consistent: false,
                });
            }
        }
    }
    let mut covered_to = 0;
    let mut checked = 0;
    let mut latest_checkpoint_signer: Option<[u8; 32]> = None;
    for (size, cp) in &stored_cps {
        checked += 1;
        match roots.get(size) {
            None => a.find(
                Some(seq),
                Code::CheckpointBeyondLedger,
                format!("a signed checkpoint covers {size} records but the ledger has only {seq}: records were removed"),
            ),
            Some(r) if r != &cp.root => a.find(
                None,
                Code::CheckpointRoot,
                format!(
                    "the checkpoint of size {size} signed root {}, the records give {}",
                    hex::encode(cp.root),
                    hex::encode(r)
                ),
            ),
            Some(_) => {
                if *size >= covered_to {
                    covered_to = *size;
                    latest_checkpoint_signer = Some(key_at(*size));
                }
            }
        }
    }
    for (source, cp) in &checked_saved {
        let consistent = match roots.get(&cp.size) {
            None => {
                a.find(
                    Some(seq),
                    Code::AgainstBeyondLedger,
                    format!(
                        "{source}: your saved checkpoint covers {} records but the ledger now has only {seq}: the ledger was truncated or rolled back",
                        cp.size
                    ),
                );
                false
            }
            Some(r) if r != &cp.root => {
                a.find(
                    None,
                    Code::AgainstRoot,
                    format!(
                        "{source}: history was rewritten: your saved checkpoint of {} records has root {}, the ledger now gives {} for those same records (a record among 0 to {} was altered, removed or inserted)",
                        cp.size,
                        hex::encode(cp.root),
                        hex::encode(r),
                        cp.size.saturating_sub(1)
                    ),
                );
                false
            }
            Some(_) => true,
        };
        against_results.push(AgainstResult {
            source: source.clone(),
            size: cp.size,
            consistent,
        });
    }
    // The final-state verdicts (SPEC.md 4.1): records signed after their key's compromise
    // or by a tainted key. Only keys with a compromise, or minted by one, can have any.
    let suspect: BTreeSet<[u8; 32]> = authority
        .keys()
        .iter()
        .filter(|(pk, k)| !k.compromises.is_empty() || authority.taint(pk).is_some())
        .map(|(pk, _)| *pk)
        .collect();
    if !suspect.is_empty() {
        // By position, as in the pass: a record's own `seq` may lie.
        for (pos, f) in (0u64..).zip(store.journal().frames_from(MAGIC.len() as u64)?) {
            let f = f?;
            let Ok(r) = Record::decode(&f.bytes) else {
                continue;
            };
            // Verdicts judge the records that obeyed the rules; a refused one is reported
            // once, as refused.
            if suspect.contains(&r.statement.signer)
                && !refused.contains(&pos)
                && let Some(v) = authority.verdict(&r.statement.signer, pos, r.recorded_at_ms)
            {
                a.find(Some(pos), v.code, v.message);
            }
        }
    }
    let pending_transfers = authority
        .pending_transfers()
        .into_iter()
        .map(|(seq, t)| PendingTransfer {
            transfer: seq,
            exhibit: t.exhibit,
            to_key_id: keys::short_id(&t.to),
        })
        .collect();
    if store.checkpoints()?.is_empty() {
        a.find(
            None,
            Code::NoCheckpoint,
            "the ledger holds no signed checkpoint at all, although `init` signs one (they were removed)".into(),
        );
    }
    let uncovered = (covered_to < seq).then(|| (covered_to, seq - 1));
    Ok(AuditReport {
        origin,
        records: seq,
        signatures_checked: signatures,
        signature_mode: match mode {
            VerifyMode::Batch => "batch",
            VerifyMode::Strict => "strict",
        },
        checkpoints_checked: checked,
        latest_checkpoint_signer,
        covered_to,
        uncovered,
        against: against_results,
        pending_transfers,
        findings: a.findings,
    })
}

impl Auditor<'_> {
    /// A record's content (testimony, amended text) against its commitment, and the index
    /// entries its statement calls for.
    fn check_content(&mut self, seq: u64, r: &Record, indexed: bool) {
        if indexed {
            self.expect_body_entries(seq, &r.statement.body);
        }
        let (commitment, len, what) = match &r.statement.body {
            Body::Testimony(t) => (t.commitment, t.content_len, ""),
            Body::Amend(crate::record::Amendment {
                content: Some((c, len)),
                ..
            }) => (*c, *len, " (amended text)"),
            _ => return,
        };
        if let Err(m) = self.ledger.check_content(&commitment, len) {
            self.find(Some(seq), Code::Content, format!("record {seq}{what}: {m}"));
        }
    }

    /// The leaf index entry of the record at position `seq`, decodable or not (SPEC.md
    /// section 8), added to the expected set.
    fn expect_leaf_entry(&mut self, seq: u64, leaf: &Hash) {
        let key = self.set_key;
        self.expected.0[0].add(&key, leaf, &seq.to_be_bytes());
    }

    /// The media, content and authority entries a record's statement calls for (SPEC.md
    /// section 8), added to the expected sets.
    fn expect_body_entries(&mut self, seq: u64, body: &Body) {
        let (key, s) = (self.set_key, seq.to_be_bytes());
        let [_, media, content, authority] = &mut self.expected.0;
        if let Body::Media(m) = body {
            media.add(&key, &[m.sha256.as_slice(), &s].concat(), &[]);
        }
        if let Some(c) = content_commitment(body) {
            content.add(&key, c, &s);
        }
        if Authority::is_authority_record(body) {
            authority.add(&key, &s, &[]);
        }
    }

    /// Looks up the index entries of the record at position `seq` (its statement, when it
    /// decodes), to name the record whose entry is wrong once the sets are known to differ.
    /// Returns, per index tree, whether a finding named a record.
    fn check_index_entries(
        &mut self,
        seq: u64,
        leaf: &Hash,
        body: Option<&Body>,
    ) -> Result<[bool; 4]> {
        let store = self.ledger.store();
        let mut named = [false; 4];
        let s = seq.to_be_bytes();
        if store.seq_of_leaf(leaf)? != Some(seq) {
            named[0] = true;
            self.find(
                Some(seq),
                Code::LeafIndex,
                format!("the leaf index does not map record {seq}'s hash to it"),
            );
        }
        let Some(body) = body else {
            return Ok(named);
        };
        if let Body::Media(m) = body
            && store.index_value(IndexTree::Media, &[m.sha256.as_slice(), &s].concat())?
                != Some(Vec::new())
        {
            named[1] = true;
            self.find(
                Some(seq),
                Code::MediaIndex,
                format!("the media index does not list record {seq} under its file hash"),
            );
        }
        if let Some(c) = content_commitment(body)
            && store.index_value(IndexTree::Content, c)? != Some(s.to_vec())
        {
            named[2] = true;
            self.find(
                Some(seq),
                Code::ContentIndex,
                format!("the content index does not map record {seq}'s commitment to it"),
            );
        }
        let entry = store.index_value(IndexTree::Authority, &s)?;
        let must_list = Authority::is_authority_record(body);
        if entry.as_deref() != must_list.then_some(&[][..]) {
            named[3] = true;
            self.find(
                Some(seq),
                Code::AuthorityIndex,
                format!(
                    "the authority index {} record {seq} ({}), which it {}",
                    if entry.is_some() { "lists" } else { "omits" },
                    body.kind(),
                    if must_list {
                        "must list, with an empty value"
                    } else {
                        "must not"
                    }
                ),
            );
        }
        Ok(named)
    }
}

/// The commitment a statement enters in the content index: a testimony's, or an
/// amendment's new text.
fn content_commitment(body: &Body) -> Option<&Hash> {
    match body {
        Body::Testimony(t) => Some(&t.commitment),
        Body::Amend(crate::record::Amendment {
            content: Some((c, _)),
            ..
        }) => Some(c),
        _ => None,
    }
}

/// A decoded record (or why it does not decode) and its signature's verdict.
type Decoded = (std::result::Result<Record, String>, Option<String>);

/// Decodes a chunk's records and verifies their signatures on all cores.
fn decode_and_verify(chunk: &[Frame], mode: VerifyMode) -> Vec<Decoded> {
    // Decode and check signatures in parallel; order-dependent checks follow.
    let records: Vec<Result<Record, String>> = chunk
        .par_iter()
        .map(|f| Record::decode(&f.bytes).map_err(|e| e.to_string()))
        .collect();
    let mut verdicts = record::verify_signatures(records.iter().flatten(), mode).into_iter();
    let decoded: Vec<(Result<Record, String>, Option<String>)> = records
        .into_iter()
        .map(|r| {
            let sig = match &r {
                Err(_) => None,
                Ok(r) => match verdicts.next() {
                    Some(Ok(())) => None,
                    Some(Err(e)) => Some(format!(
                        "{e} (signer key {})",
                        keys::short_id(&r.statement.signer)
                    )),
                    None => Some("signature not checked".to_owned()),
                },
            };
            (r, sig)
        })
        .collect();
    decoded
}
