//! The streaming pass: the journal read once, in chunks, each record decoded strictly,
//! compared with the index's copy, checked in order against the rules, and its leaf
//! pushed onto the tree being rebuilt, while the next chunk's signatures are verified on
//! the other cores. Memory stays flat: two chunks of records and the tree's right edge.

use super::Auditor;
use crate::Hash;
use crate::error::Result;
use crate::keys::{self, VerifyMode};
use crate::merkle::{self, Frontier};
use crate::record::{self, Body, Record, leaf_hash};
use crate::rules::{self, Authority, Code, Mode, Position};
use crate::store::journal::{Frame, Frames, MAGIC, ScanEnd};
use crate::store::tiles::Row;
use crate::tiles::{HEIGHT, Tile, WIDTH};
use rayon::prelude::*;
use std::collections::{BTreeMap, BTreeSet};

/// Records per parallel chunk, and a byte budget per chunk: two chunks are in flight (one
/// verified while the other is checked in order), each held about twice (frames and decoded
/// records), so memory stays near 4 x 8 MiB however large the records are.
const CHUNK: usize = 1024;
const CHUNK_BYTES: usize = 8 << 20;

/// What the streaming pass learnt, for the checks that follow it.
pub(super) struct Pass {
    /// Records in the journal.
    pub seq: u64,
    /// Records the index says it holds; journal records past it are the tail of an
    /// interrupted append.
    pub indexed: u64,
    /// Signatures checked.
    pub signatures: u64,
    /// Key authority and custody, as the records establish them.
    pub authority: Authority,
    /// Positions of records the authority rules refused.
    pub refused: BTreeSet<u64>,
    /// The root at each size a checkpoint was wanted for.
    pub roots: BTreeMap<u64, Hash>,
    /// The recorded time of the last record each wanted size covers (the checkpoint rule).
    pub last_times: BTreeMap<u64, u64>,
}

/// The pass between two records.
struct Cursor<'w> {
    pass: Pass,
    wanted: &'w BTreeSet<u64>,
    frontier: Frontier,
    prev_leaf: Hash,
    prev_time: u64,
    /// Records past what the index holds.
    tail: u64,
    /// The hashes of each tile row (levels 0, 8, 16, ...) recomputed since its last full
    /// tile, compared with the stored tile as each fills, and the partial ones at the end.
    rows: [Vec<u8>; 8],
}

/// The index's copy of the records, in key order, read alongside the journal.
type IndexRecords<'s> =
    std::iter::Peekable<Box<dyn Iterator<Item = Result<(Vec<u8>, Vec<u8>)>> + Send + 's>>;

impl Auditor<'_> {
    /// Runs the pass over the whole journal; `wanted` are the sizes whose roots and last
    /// recorded times the checkpoint checks need.
    pub(super) fn stream(
        &mut self,
        wanted: &BTreeSet<u64>,
        mode: VerifyMode,
        progress: &mut dyn FnMut(u64),
    ) -> Result<Pass> {
        let store = self.ledger.store();
        let mut roots = BTreeMap::new();
        if wanted.contains(&0) {
            roots.insert(0, merkle::empty_root());
        }
        let mut c = Cursor {
            pass: Pass {
                seq: 0,
                indexed: store.meta()?.size,
                signatures: 0,
                authority: Authority::new(),
                refused: BTreeSet::new(),
                roots,
                last_times: BTreeMap::new(),
            },
            wanted,
            frontier: Frontier::new(),
            prev_leaf: [0; 32],
            prev_time: 0,
            tail: 0,
            rows: Default::default(),
        };
        let mut frames = store.journal().frames_from(MAGIC.len() as u64)?;
        let records: Box<dyn Iterator<Item = _> + Send> = Box::new(store.records_iter());
        let mut index: IndexRecords = records.peekable();
        // A pipeline: while one chunk's records go through the order-dependent checks and
        // the index, the next chunk is decoded and its signatures verified on the other cores.
        let mut pending: Option<(Vec<Frame>, Vec<Decoded>)> = None;
        loop {
            let chunk = next_chunk(&mut frames)?;
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
                        self.take_record(&mut c, frame, rec, sig_err, &mut index)?;
                    }
                    Ok(())
                },
            );
            checked?;
            progress(c.pass.seq);
            // Memory stays flat however large the index: what sled kept of the pages read
            // so far is let go between chunks.
            store.release_cache()?;
            pending = (!chunk.is_empty()).then_some((chunk, next));
        }
        // The partial tiles of the indexed tree.
        for level in 0..8u8 {
            if !c.rows[usize::from(level)].is_empty() {
                let row = std::mem::take(&mut c.rows[usize::from(level)]);
                self.compare_tile(level, c.pass.indexed, &row)?;
            }
        }
        self.check_journal_end(frames.end_state(), c.pass.seq);
        drop(frames);
        self.check_index_beyond_journal(index)?;
        let (indexed, tail) = (c.pass.indexed, c.tail);
        if tail > 0 {
            self.find(
                Some(indexed),
                Code::InterruptedAppend,
                format!(
                    "an interrupted append awaits completion: records {indexed} to {} reached the journal but not the index; run `custody recover`, which indexes them, or removes them whole if they are the start of a batch that was never finished",
                    indexed + tail - 1
                ),
            );
        }
        Ok(c.pass)
    }

    /// One record of the pass, at position `c.pass.seq`.
    fn take_record(
        &mut self,
        c: &mut Cursor,
        frame: &Frame,
        rec: std::result::Result<Record, String>,
        sig_err: Option<String>,
        index: &mut IndexRecords,
    ) -> Result<()> {
        let seq = c.pass.seq;
        let leaf = leaf_hash(&frame.bytes);
        // Records past what the index holds are an append interrupted after its fsync:
        // judged like any record, but reported once, not as a missing index entry, tree
        // hash and count each.
        let in_tail = seq >= c.pass.indexed;
        if in_tail {
            c.tail += 1;
        } else {
            self.expect_leaf_entry(seq, &leaf);
        }
        if !frame.intact() {
            self.find(
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
        if !in_tail {
            self.compare_with_index(seq, frame, &leaf, index)?;
        }
        let mut last_time = None;
        match rec {
            Err(e) => self.find(
                Some(seq),
                Code::Decode,
                format!("record {seq} does not decode: {e}"),
            ),
            Ok(r) => {
                c.pass.signatures += 1;
                if let Some(e) = sig_err {
                    self.find(Some(seq), Code::Signature, format!("record {seq}: {e}"));
                }
                self.check_rules(c, &r);
                // What the append sealed to: the recipients in force by the state before it.
                let used = c.pass.authority.seal_to().map(|(_, r)| r);
                self.check_content(seq, &r, !in_tail, used.as_deref());
                c.prev_time = r.recorded_at_ms;
                last_time = Some(r.recorded_at_ms);
            }
        }
        self.rebuild_tree(c, leaf, in_tail)?;
        c.prev_leaf = leaf;
        c.pass.seq += 1;
        let size = c.pass.seq;
        if c.wanted.contains(&size) {
            c.pass.roots.insert(size, c.frontier.root());
            if let Some(t) = last_time {
                c.pass.last_times.insert(size, t);
            }
        }
        Ok(())
    }

    /// The index's copy of record `seq` against the journal's.
    fn compare_with_index(
        &mut self,
        seq: u64,
        frame: &Frame,
        leaf: &Hash,
        index: &mut IndexRecords,
    ) -> Result<()> {
        let key = seq.to_be_bytes();
        while let Some(Ok((k, _))) = index.peek()
            && k.as_slice() < key.as_slice()
        {
            self.find(
                Some(seq),
                Code::IndexExtra,
                format!(
                    "the index holds an unexpected record key {}",
                    hex::encode(k)
                ),
            );
            index.next();
        }
        match index.peek() {
            Some(Ok((k, v))) if k.as_slice() == key.as_slice() => {
                if v != &frame.bytes {
                    self.find(
                        Some(seq),
                        Code::JournalIndexMismatch,
                        format!(
                            "record {seq} differs between the journal (hash {}) and the index (hash {})",
                            hex::encode(leaf),
                            hex::encode(leaf_hash(v))
                        ),
                    );
                }
                index.next();
            }
            Some(Err(_)) => {
                if let Some(Err(e)) = index.next() {
                    return Err(e);
                }
            }
            _ => self.find(
                Some(seq),
                Code::IndexMissing,
                format!("record {seq} is in the journal but missing from the index (an append interrupted before it was acknowledged: `custody recover` indexes it, or removes it whole if it is part of an interrupted batch)"),
            ),
        }
        Ok(())
    }

    /// The position rules, the clock and the key authority, replayed: a record written
    /// into the store directly by a key the ledger never authorised is caught here.
    fn check_rules(&mut self, c: &mut Cursor, r: &Record) {
        let seq = c.pass.seq;
        let origin = self.ledger.origin();
        let genesis_key = self.ledger.genesis_key();
        let position = Position {
            seq,
            prev: Some((c.prev_leaf, c.prev_time)),
            origin: Some(origin),
            genesis_key: Some(genesis_key),
        };
        let mut broken = rules::check_position(r, &position, Mode::Report);
        broken.extend(rules::future_dated(seq, r.recorded_at_ms, self.now_ms));
        let lookup = self.ledger.lookup();
        if let Err(v) = c
            .pass
            .authority
            .admit(&r.statement, seq, r.recorded_at_ms, &lookup)
        {
            c.pass.refused.insert(seq);
            // A late genesis is one fault, already named by its position.
            if !broken.iter().any(|b| b.code == v.code) {
                broken.push(v);
            }
        }
        for v in broken {
            self.find(Some(seq), v.code, format!("record {seq}: {v}"));
        }
    }

    /// Pushes the leaf onto the tree; the hashes it completes at levels 0, 8, 16, ... go
    /// into their tile rows, and each row that fills a tile is compared with the stored
    /// one. The index holds no tiles for the tail yet.
    fn rebuild_tree(&mut self, c: &mut Cursor, leaf: Hash, in_tail: bool) -> Result<()> {
        let mut filled = Vec::new();
        let rows = &mut c.rows;
        c.frontier.push(leaf, |level, index, h| {
            if in_tail || level % HEIGHT != 0 || level / HEIGHT >= 8 {
                return;
            }
            let row = &mut rows[(level / HEIGHT) as usize];
            row.extend_from_slice(h);
            if row.len() == 32 * WIDTH as usize {
                filled.push(((level / HEIGHT) as u8, index / WIDTH, std::mem::take(row)));
            }
        });
        for (level, tile, row) in filled {
            // A full tile: any size past its end has it whole.
            let size = (tile + 1) << (HEIGHT * (u32::from(level) + 1));
            self.compare_tile(level, size, &row)?;
        }
        Ok(())
    }

    /// The stored hash tile of `level` holding `row`'s hashes (the last tile of that level
    /// in a tree of `size` records) against the recomputed ones.
    fn compare_tile(&mut self, level: u8, size: u64, row: &[u8]) -> Result<()> {
        let count = size >> (HEIGHT * u32::from(level));
        let index = (count - 1) / WIDTH;
        let Some(tile) = Tile::of_tree(level, index, size) else {
            return Ok(());
        };
        let stored = self.ledger.store().tile(Row::Hashes(level), index, size)?;
        let Some(stored) = stored else {
            self.find(
                Some((index * WIDTH) << (HEIGHT * u32::from(level))),
                Code::TreeHash,
                format!("the hash tile {} is missing from the index", tile.path()),
            );
            return Ok(());
        };
        if stored.as_slice() == row {
            return Ok(());
        }
        let at = stored
            .chunks(32)
            .zip(row.chunks(32))
            .position(|(a, b)| a != b)
            .unwrap_or(stored.len().min(row.len()) / 32);
        let first = (index * WIDTH + at as u64) << (HEIGHT * u32::from(level));
        let seq = first.min(size.saturating_sub(1));
        self.find(
            Some(seq),
            Code::TreeHash,
            format!(
                "the stored hash tile {} differs from the one the records give at hash {at} (the subtree from record {first}){}",
                tile.path(),
                if stored.len() != row.len() {
                    format!(": it is {} bytes, not {}", stored.len(), row.len())
                } else {
                    String::new()
                }
            ),
        );
        Ok(())
    }

    /// A record's content (testimony, amended text) against its commitment, and the index
    /// entries its statement calls for.
    fn check_content(&mut self, seq: u64, r: &Record, indexed: bool, used: Option<&[[u8; 32]]>) {
        if indexed {
            self.expect_body_entries(seq, &r.statement.body);
        }
        if let Body::Media(m) = &r.statement.body {
            if let Some(Err(e)) = self.ledger.check_media_copy(seq, m, self.identity, used) {
                self.find(Some(seq), Code::Content, format!("record {seq}: {e}"));
            }
            return;
        }
        let what = match &r.statement.body {
            Body::Amend(_) => " (amended text)",
            _ => "",
        };
        match self
            .ledger
            .check_text(seq, &r.statement.body, self.identity, used)
        {
            Some(Err(m)) => self.find(Some(seq), Code::Content, format!("record {seq}{what}: {m}")),
            Some(Ok(_)) => {
                if let Some(id) = self.identity
                    && self
                        .ledger
                        .erasure_of(r.statement.body.text(seq).map_or(seq, |t| t.2))
                        .is_none()
                    && self.ledger.sealed_since(seq).is_some()
                    && !used.is_some_and(|u| u.contains(&crate::seal::identity_key(id)))
                {
                    self.unopened.push(seq);
                }
                let owner = r.statement.body.text(seq).map_or(seq, |(_, _, o)| o);
                if let Some((by, reason)) = self.ledger.erasure_of(owner) {
                    self.erased.push(super::Erased { seq, by, reason });
                }
            }
            None => {}
        }
    }

    /// How the journal ended after its last whole frame.
    fn check_journal_end(&mut self, end: ScanEnd, seq: u64) {
        match end {
            ScanEnd::Clean => {}
            ScanEnd::Torn { offset } => self.find(
                Some(seq),
                Code::JournalTorn,
                format!("the journal ends inside a frame at byte {offset} (an interrupted write or a truncation)"),
            ),
            ScanEnd::BadLength { offset, len } => self.find(
                Some(seq),
                Code::JournalFrameLength,
                format!("journal frame at byte {offset} declares an impossible length {len}"),
            ),
        }
    }

    /// Records the index holds beyond the journal's last.
    fn check_index_beyond_journal(&mut self, index: IndexRecords) -> Result<()> {
        for extra in index {
            let (k, _) = extra?;
            let n = <[u8; 8]>::try_from(k.as_slice())
                .map(u64::from_be_bytes)
                .ok();
            self.find(
                n,
                Code::IndexExtra,
                format!(
                    "the index holds record {} which the journal does not (the journal was truncated, or a record was injected)",
                    n.map_or_else(|| hex::encode(&k), |n| n.to_string())
                ),
            );
        }
        Ok(())
    }
}

/// The next chunk of frames, limited by count and bytes.
fn next_chunk(frames: &mut Frames) -> Result<Vec<Frame>> {
    let mut chunk = Vec::with_capacity(CHUNK);
    let mut bytes = 0;
    while chunk.len() < CHUNK && bytes < CHUNK_BYTES {
        let Some(f) = frames.next() else { break };
        let f = f?;
        bytes += f.bytes.len();
        chunk.push(f);
    }
    Ok(chunk)
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
