//! Appending: every statement passes the one admission gate (signature, position, clock,
//! key authority) before the journal and then the index take it.

use super::*;

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
pub(super) fn check_signed(
    statement: &Statement,
    bytes: &[u8],
    signature: Option<&[u8; 64]>,
) -> Result<()> {
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
pub(super) fn admit(
    authority: &mut Authority,
    rec: &Record,
    prev: (Hash, u64),
    lookup: &dyn Lookup,
) -> std::result::Result<(), Violation> {
    admissible_position(rec, prev)?;
    authority.admit(&rec.statement, rec.seq, rec.recorded_at_ms, lookup)
}

pub(super) fn refused(v: Violation) -> Error {
    Error::Input(format!("refused: {v}"))
}

/// Earlier statements: the index below `base`, then a batch not yet written.
pub(super) struct BatchLookup<'a> {
    pub(super) store: &'a Store,
    pub(super) base: u64,
    pub(super) pending: &'a [Statement],
}

impl Lookup for BatchLookup<'_> {
    fn statement(&self, seq: u64) -> Option<Statement> {
        if seq < self.base {
            StoreLookup(self.store).statement(seq)
        } else {
            self.pending.get((seq - self.base) as usize).cloned()
        }
    }
    fn committed_before(&self, commitment: &Hash, seq: u64) -> Option<u64> {
        StoreLookup(self.store)
            .committed_before(commitment, seq.min(self.base))
            .or_else(|| {
                (self.base..seq).find(|s| {
                    self.statement(*s)
                        .and_then(|st| st.body.text(*s))
                        .is_some_and(|(c, _, _)| &c == commitment)
                })
            })
    }
}

/// Records admitted one after the other and not yet written: the state after each, so
/// that the next is judged as if the ones before it were in the ledger.
pub(super) struct Batch {
    authority: Authority,
    pending: Vec<Statement>,
    frontier: Frontier,
    last: Hash,
    prev_time: u64,
    pub(super) recorded_at: u64,
    base: u64,
    entries: Vec<Entry>,
    hashes: Vec<(u32, u64, Hash)>,
}

impl Batch {
    /// The content recipients a text of the next record is sealed to (as
    /// [`Ledger::recipients`], with the records admitted so far).
    pub(super) fn recipients(&self) -> Result<Option<Vec<age::x25519::Recipient>>> {
        recipients_in(&self.authority)
    }

    /// Admits `s` as the next record (its signature already checked), or says which rule
    /// refuses it and leaves the batch as it was.
    pub(super) fn push(
        &mut self,
        store: &Store,
        s: SignedStatement,
    ) -> std::result::Result<Appended, Violation> {
        let seq = self.frontier.size();
        let rec = Record {
            seq,
            prev: self.last,
            recorded_at_ms: self.recorded_at,
            statement_bytes: s.bytes,
            statement: s.statement,
            signature: s.signature,
        };
        {
            let lookup = BatchLookup {
                store,
                base: self.base,
                pending: &self.pending,
            };
            admit(
                &mut self.authority,
                &rec,
                (self.last, self.prev_time),
                &lookup,
            )?;
        }
        self.prev_time = self.recorded_at;
        self.pending.push(rec.statement.clone());
        let bytes = rec.encode();
        let leaf = leaf_hash(&bytes);
        let hashes = &mut self.hashes;
        self.frontier.push(leaf, |l, i, h| hashes.push((l, i, *h)));
        self.entries.push(entry_for(&rec, bytes, leaf));
        self.last = leaf;
        Ok(Appended {
            seq,
            leaf_hash: hex::encode(leaf),
            kind: rec.statement.body.kind(),
        })
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

impl Ledger {
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
        // Signatures and per-statement rules are independent: check them on all cores.
        {
            use rayon::prelude::*;
            statements.par_iter().try_for_each(|s| {
                check_signed(&s.statement, &s.bytes, verify.then_some(&s.signature))
            })?;
        }
        let mut batch = self.batch(now_ms);
        let mut out = Vec::with_capacity(statements.len());
        for s in statements {
            out.push(batch.push(&self.store, s).map_err(refused)?);
        }
        self.commit(batch, true)?;
        Ok(out)
    }

    /// A batch to admit records into, one after the other, from the current head.
    pub(super) fn batch(&self, now_ms: u64) -> Batch {
        Batch {
            authority: self.authority.clone(),
            pending: Vec::new(),
            frontier: self.frontier.clone(),
            last: self.last_leaf,
            prev_time: self.last_recorded_at,
            recorded_at: rules::recorded_time(self.last_recorded_at, now_ms),
            base: self.size,
            entries: Vec::new(),
            hashes: Vec::new(),
        }
    }

    /// Writes a batch (one journal fsync, one index transaction) and takes its state; all or
    /// nothing across a crash when `atomic` (records signed together), else record by record
    /// (independent statements, each admitted after the ones before it).
    pub(super) fn commit(&mut self, batch: Batch, atomic: bool) -> Result<()> {
        if batch.entries.is_empty() {
            return Ok(());
        }
        self.store.append(&batch.entries, &batch.hashes, atomic)?;
        self.authority = batch.authority;
        self.frontier = batch.frontier;
        self.size = self.frontier.size();
        self.last_leaf = batch.last;
        self.last_recorded_at = batch.recorded_at;
        Ok(())
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
    pub(crate) fn unindexed_bytes(&self) -> Result<u64> {
        let meta = self.store.meta()?;
        Ok(self.store.journal().len()?.saturating_sub(
            meta.journal_len
                .max(crate::store::journal::MAGIC.len() as u64),
        ))
    }

    pub(super) fn check_writable(&self) -> Result<()> {
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
    /// content store first, the record holds only the salted commitment. `salt` must be
    /// fresh and secret ([`fresh_salt`]): it is what keeps a guessable text from being
    /// confirmed against the commitment.
    pub fn add_testimony(
        &mut self,
        key: &SigningKey,
        input: TestimonyInput,
        salt: [u8; 32],
        claimed_at_ms: u64,
        now_ms: u64,
    ) -> Result<Appended> {
        input.validate()?;
        let content = input.text.as_bytes();
        let (body, commitment) = input.body(&salt);
        let signed = sign_statement(key, body, claimed_at_ms)?;
        // Everything that could refuse the append is checked before the text touches disk.
        self.precheck(&signed, now_ms)?;
        self.store_text(&commitment, &salt, content)?;
        match self.append_signed_here(vec![signed], now_ms) {
            Ok(mut out) => Ok(out.remove(0)),
            Err(e) => {
                self.unstore_text(&commitment);
                Err(e)
            }
        }
    }

    /// Authorises `key` for `role` under `name`, signed by the admin `admin`.
    pub fn authorize(
        &mut self,
        admin: &SigningKey,
        key: [u8; 32],
        name: &str,
        role: crate::record::Role,
        now_ms: u64,
    ) -> Result<Appended> {
        let body = Body::Authorize {
            key,
            name: name.to_owned(),
            role,
        };
        let mut out = self.sign_and_append(admin, vec![body], now_ms, now_ms)?;
        Ok(out.remove(0))
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
    /// A new text is committed to with `salt`, which must be fresh and secret
    /// ([`fresh_salt`]).
    pub fn add_amendment(
        &mut self,
        key: &SigningKey,
        input: AmendInput,
        salt: [u8; 32],
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
            self.store_text(&c, &salt, t.as_bytes())?;
        }
        match self.append_signed_here(vec![signed], now_ms) {
            Ok(mut out) => Ok(out.remove(0)),
            Err(e) => {
                if let Some((c, _)) = salted {
                    self.unstore_text(&c);
                }
                Err(e)
            }
        }
    }

    /// The content recipients in force for the next record, as age recipients.
    /// A ledger that has ever sealed never stores a text in plain: when no seal-to record
    /// stands any more (each was flagged by a compromise), texts are refused until an
    /// admin names recipients again.
    pub fn recipients(&self) -> Result<Option<Vec<age::x25519::Recipient>>> {
        recipients_in(&self.authority)
    }

    /// Writes a text with its salt before the record that commits to it: sealed to the
    /// content recipients when the ledger names any (no plaintext reaches the disk), plain
    /// otherwise.
    fn store_text(&self, commitment: &Hash, salt: &[u8; 32], text: &[u8]) -> Result<()> {
        let Some(recipients) = self.recipients()? else {
            return self.store.write_content(commitment, salt, text);
        };
        let mut plain = zeroize::Zeroizing::new(Vec::with_capacity(32 + text.len()));
        plain.extend_from_slice(salt);
        plain.extend_from_slice(text);
        let sealed = crate::seal::seal(&plain, &recipients)?;
        self.store.write_sealed(
            crate::store::Item::Text(*commitment),
            &sealed.ciphertext,
            &sealed.wrapped_key,
        )
    }

    fn unstore_text(&self, commitment: &Hash) {
        self.store.remove_content(commitment);
        self.store
            .remove_sealed(crate::store::Item::Text(*commitment));
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
}

/// The content recipients texts are sealed to in the state `authority` (`None`: texts are
/// kept in plain), or why no text can be added in it.
fn recipients_in(authority: &Authority) -> Result<Option<Vec<age::x25519::Recipient>>> {
    match authority.seal_to() {
        Some((s, keys)) if keys.is_empty() => Err(Error::Input(format!(
            "every recipient of seal-to record {s} was first named by a seal-to record that does not stand (signed after its key's compromise, or by a tainted key); an admin names trusted recipients with `custody seal-to --add` before texts are added"
        ))),
        Some((_, keys)) => keys
            .iter()
            .map(crate::seal::recipient_of)
            .collect::<Result<Vec<_>>>()
            .map(Some),
        None if !authority.seal_to_history().is_empty() => Err(Error::Input(
            "this ledger seals its texts, but every seal-to record is now flagged (signed after its key's compromise, or by a tainted key); an admin names the recipients again with `custody seal-to` before texts are added".into(),
        )),
        None => Ok(None),
    }
}
