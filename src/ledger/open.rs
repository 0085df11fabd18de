//! Creating and opening a ledger: the index catches up with the journal, an interrupted
//! batch is settled, and `recover` rebuilds what cannot be opened.

use super::append::*;
use super::*;

/// Records indexed per sled transaction when catching up from the journal.
const CATCH_UP_BATCH: usize = 10_000;
/// Frames decoded and verified together when the index catches up with the journal (and
/// a byte budget for them, so that large records keep memory flat).
const CATCH_UP_CHUNK: usize = 4096;
const CATCH_UP_CHUNK_BYTES: usize = 16 << 20;

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
        let frontier = Frontier::load(&store, meta.size).unwrap_or_else(|e| {
            damaged = Some(format!("stored tree hashes are incomplete ({e})"));
            Frontier::new()
        });
        let (last_leaf, last_recorded_at) = last_indexed(&store, &meta, journal_len, &mut damaged)?;
        let authority = replay_authority(&store, &mut damaged)?;
        let mut o = Opening {
            frontier,
            authority,
            size: meta.size,
            origin: meta.origin.clone(),
            ledger_key: meta.ledger_key,
            last_leaf,
            last_recorded_at,
            damaged,
        };
        let mut batch_cut = None;
        if access == Access::Write && o.damaged.is_none() {
            // The leading frames of a batch that a crash interrupted were never
            // acknowledged: the batch is undone whole, before the index catches up.
            batch_cut = store.cut_incomplete_batch(meta.journal_len)?;
            journal_len = store.journal().len()?;
        }
        if access == Access::Write && journal_len > meta.journal_len && o.damaged.is_none() {
            o.catch_up(&mut store, &meta, journal_len, progress)?;
        }
        let (Some(origin), Some(ledger_key)) = (o.origin, o.ledger_key) else {
            return Err(Error::NotALedger {
                path: store.dir().to_owned(),
                reason: "it has no genesis record".into(),
            });
        };
        Ok(Ledger {
            store,
            authority: o.authority,
            frontier: o.frontier,
            size: o.size,
            origin,
            ledger_key,
            last_leaf: o.last_leaf,
            last_recorded_at: o.last_recorded_at,
            damaged: o.damaged,
            batch_cut,
        })
    }

    /// Rebuilds or completes the sled index from the journal, the source of truth. A sled
    /// database that cannot be opened is moved aside (never deleted) and rebuilt. Returns
    /// the ledger and what was done, in words.
    pub fn recover(
        dir: &Path,
        wait: LockWait,
        rebuild: bool,
        progress: &mut dyn FnMut(u64, u64),
    ) -> Result<(Self, Vec<String>)> {
        let mut done = Vec::new();
        // The ledger lock is held from here on, also while an unreadable index is moved aside.
        let (store, aside) = Store::open_or_set_aside(dir, wait, rebuild)?;
        let before = match &aside {
            None => {
                let m = store.meta()?;
                (m.size, m.journal_len)
            }
            Some((aside, why)) => {
                done.push(if rebuild {
                    format!(
                        "moved the index to {}, as asked, and rebuilt it from the journal",
                        aside.display()
                    )
                } else {
                    format!(
                        "the index could not be opened ({why}); moved it to {} and rebuilt it",
                        aside.display()
                    )
                });
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
                "{d}; rebuild the index from the journal with `custody recover --rebuild`"
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
            let aside = crate::store::aside_path(
                ledger.store.dir(),
                crate::store::names::JOURNAL,
                "set-aside",
            );
            let n = ledger.store.journal().copy_tail(meta.journal_len, &aside)?;
            ledger.store.journal_mut().truncate(meta.journal_len)?;
            done.push(format!(
                "{n} journal bytes after record {} did not form a valid record (they break a rule, or are damaged); kept them in {} and cut them from the journal, so appends can go on",
                meta.size.saturating_sub(1),
                aside.display()
            ));
        }
        if done.is_empty() {
            done.push("the index already held every record of the journal; nothing to do (an index an audit found wrong is rebuilt with `custody recover --rebuild`)".into());
        }
        Ok((ledger, done))
    }
}

/// The leaf hash and recorded time of the last indexed record, checked against the
/// journal; an inconsistency marks the ledger damaged.
fn last_indexed(
    store: &Store,
    meta: &crate::store::Meta,
    journal_len: u64,
    damaged: &mut Option<String>,
) -> Result<(Hash, u64)> {
    let mut last_leaf = [0u8; 32];
    let mut last_recorded_at = 0;
    if meta.size > 0 && damaged.is_none() {
        let n = meta.size - 1;
        match store.record_bytes(n)? {
            Some(b) => {
                last_leaf = leaf_hash(&b);
                match Record::decode(&b) {
                    Ok(r) => last_recorded_at = r.recorded_at_ms,
                    Err(e) => *damaged = Some(format!("record {n} does not decode: {e}")),
                }
            }
            None => *damaged = Some(format!("record {n} is missing from the index")),
        }
        // The indexed journal length must end exactly after the last record's frame.
        if damaged.is_none() && store.journal().trailer_at(meta.journal_len)? != Some(last_leaf) {
            *damaged = Some("the index's journal position does not end at its last record".into());
        }
    }
    if journal_len < meta.journal_len && damaged.is_none() {
        *damaged = Some(format!(
            "the journal is {journal_len} bytes but the index has read {} (it was truncated)",
            meta.journal_len
        ));
    }
    Ok((last_leaf, last_recorded_at))
}

/// Key authority and custody, replayed from the (few) records that change them; a record
/// that breaks the rules marks the ledger damaged.
fn replay_authority(store: &Store, damaged: &mut Option<String>) -> Result<Authority> {
    let mut authority = Authority::new();
    if damaged.is_none() {
        let lookup = StoreLookup(store);
        let seqs = store.authority_seqs()?;
        // The genesis is always the first: without it, no key would be authorised at all.
        if store.indexed_size()? > 0 && seqs.first() != Some(&0) {
            *damaged = Some(
                "the authority index does not list the genesis, record 0 (the index was altered)"
                    .into(),
            );
            return Ok(authority);
        }
        for seq in seqs {
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
                        *damaged = Some(format!("authority record {seq} breaks the rules: {v}"));
                        break;
                    }
                }
                Some(_) => {
                    *damaged = Some(format!(
                        "the authority index lists record {seq}, which is evidence (the index was altered)"
                    ));
                    break;
                }
                None => {
                    *damaged = Some(format!(
                        "authority record {seq} is missing or does not decode"
                    ));
                    break;
                }
            }
        }
    }
    Ok(authority)
}

/// A ledger being opened: what the index says, as the catch-up extends it.
struct Opening {
    frontier: Frontier,
    authority: Authority,
    size: u64,
    origin: Option<String>,
    ledger_key: Option<[u8; 32]>,
    last_leaf: Hash,
    last_recorded_at: u64,
    damaged: Option<String>,
}

impl Opening {
    /// Indexes the journal records past what the index holds, each only if it passes every
    /// rule an append obeys, stopping at the first that does not; a torn final frame is
    /// cut off.
    fn catch_up(
        &mut self,
        store: &mut Store,
        meta: &crate::store::Meta,
        journal_len: u64,
        progress: &mut dyn FnMut(u64, u64),
    ) -> Result<()> {
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
            let (chunk, read_error) = read_chunk(&mut frames);
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
                    Err(e)
                        if matches!(
                            e.kind(),
                            crate::encoding::DecodeError::UnsupportedVersion { .. }
                        ) =>
                    {
                        self.damaged = Some(format!("record {seq} in the journal: {e}"));
                        break 'frames;
                    }
                    Err(_) => break 'frames,
                };
                let signed = signatures.next().is_some_and(|r| r.is_ok());
                let lookup = BatchLookup {
                    store,
                    base: seq - pending.len() as u64,
                    pending: &pending,
                };
                // The record must sit where the frame sits; then every append rule.
                let valid = signed
                    && frame.intact()
                    && rec.seq == seq
                    && admit(
                        &mut self.authority,
                        &rec,
                        (self.last_leaf, self.last_recorded_at),
                        &lookup,
                    )
                    .is_ok();
                if !valid {
                    break 'frames;
                }
                pending.push(rec.statement.clone());
                let frame_end = frame.end();
                let entry = entry_for(&rec, frame.bytes, frame.stored_leaf);
                if let Some((o, k)) = &entry.genesis {
                    self.origin = Some(o.clone());
                    self.ledger_key = Some(*k);
                }
                self.frontier
                    .push(entry.leaf, |l, i, h| hashes.push((l, i, *h)));
                self.last_leaf = entry.leaf;
                self.last_recorded_at = rec.recorded_at_ms;
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
        self.size = seq;
        let torn = matches!(frames.end_state(), ScanEnd::Torn { offset } if offset == end);
        drop(frames);
        store.index(&batch, &hashes, end)?;
        if torn {
            // An incomplete final frame is an append that was never acknowledged.
            store.journal_mut().truncate(end)?;
        }
        Ok(())
    }
}

/// The next chunk of frames, limited by count and bytes, and the read error that ended it
/// early, if one did. The error is returned only once every frame before it was accepted:
/// reading ahead must not fail where reading frame by frame would not.
fn read_chunk(
    frames: &mut crate::store::journal::Frames,
) -> (Vec<crate::store::journal::Frame>, Option<Error>) {
    let mut chunk = Vec::new();
    let mut bytes = 0;
    while chunk.len() < CATCH_UP_CHUNK && bytes < CATCH_UP_CHUNK_BYTES {
        match frames.next() {
            Some(Ok(frame)) => {
                bytes += frame.bytes.len();
                chunk.push(frame);
            }
            Some(Err(e)) => return (chunk, Some(e)),
            None => break,
        }
    }
    (chunk, None)
}
