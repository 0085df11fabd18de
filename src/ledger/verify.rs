//! Checking one record, one exhibit's history or one file, and the proofs and
//! checkpoints that cover them.

use super::*;

impl Ledger {
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
    pub(crate) fn check_authority_against_journal(&self) -> Result<()> {
        let mut replayed = Authority::new();
        let lookup = StoreLookup(&self.store);
        // Evidence changes no key authority: passed over without being copied or decoded.
        self.store.journal().records_where(
            self.size,
            |bytes| !record::is_evidence_record(bytes),
            |seq, bytes| {
                if let Ok(rec) = Record::decode(bytes)
                    && rules::check_signature(&rec).is_ok()
                {
                    // A record that breaks a rule changes nothing, as in the audit.
                    let _ = replayed.admit(&rec.statement, seq, rec.recorded_at_ms, &lookup);
                }
                Ok(())
            },
        )?;
        if replayed != self.authority {
            return Err(Error::Damaged(
                "the index's key authority differs from what the journal's records establish (an authority index entry was removed or added)".into(),
            ));
        }
        Ok(())
    }

    /// The custody chain of an exhibit: who held it from when to when, with both sides'
    /// signatures checked, then any hand-over still awaiting acceptance.
    pub fn history(&self, exhibit: u64, now_ms: u64) -> Result<History> {
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
            checks: vec![self.link_check(now_ms, "recorded by this holder", exhibit, "record")],
        }];
        let mut pending = None;
        let mut cancelled = Vec::new();
        let mut cancel_checks = Vec::new();
        for (tseq, t) in self.authority.transfers_of(exhibit) {
            let tcheck = self.link_check(
                now_ms,
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
                    now_ms,
                    "hand-over withdrawn by its sender or an admin",
                    c,
                    "cancel record",
                ));
                continue;
            }
            match t.accepted {
                Some(aseq) => {
                    let acheck = self.link_check(
                        now_ms,
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
                    now_ms,
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
            consent: self.consent_history(exhibit),
            erased: self.erasure_of(exhibit),
        })
    }

    /// One link of a custody chain: record `seq` passes every check of
    /// [`Ledger::verify_record`]; failing, the check carries the first failing rule's code.
    fn link_check(&self, now_ms: u64, name: &str, seq: u64, what: &str) -> Check {
        match self.verify_record(seq, now_ms) {
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

    /// The latest stored checkpoint, which must verify under the ledger key in force at its
    /// size, with its text (whatever the compromise of that key: a ledger never signs a
    /// checkpoint inconsistent with one it signed).
    pub(super) fn latest_checkpoint_signed(&self) -> Result<Option<(Checkpoint, String)>> {
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

    /// The stored checkpoint of `size`, with its text, when its signature verifies and the
    /// checkpoint rule admits it.
    pub fn valid_checkpoint(&self, size: u64) -> Result<Option<(Checkpoint, String)>> {
        let Some(text) = self.store.checkpoint_at(size)? else {
            return Ok(None);
        };
        Ok(match self.open_stored_checkpoint(size, &text) {
            Ok(cp) if self.check_checkpoint_key(size).is_ok() => Some((cp, text)),
            _ => None,
        })
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

    /// Checks one record: it decodes, its position rules (sequence, chain link, time order,
    /// genesis, claimed time), its signature, its signer's authority, its stored leaf, its
    /// content (testimony), and its inclusion in the latest signed checkpoint, by a proof
    /// built from stored subtree hashes. Every rule comes from [`crate::rules`].
    /// `now_ms`, this machine's clock, only tells a record dated in the future (SPEC.md
    /// section 4).
    pub fn verify_record(&self, seq: u64, now_ms: u64) -> Result<RecordReport> {
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
        let used = match rec.statement.body.text(seq) {
            Some(_) => self.recipients_before(seq)?,
            None => None,
        };
        if let Some(result) = self.check_text(seq, &rec.statement.body, None, used.as_deref()) {
            let name = if matches!(rec.statement.body, Body::Testimony(_)) {
                "testimony content"
            } else {
                "amended text"
            };
            checks.push(Check::new(name, Code::Content, result));
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

    /// The text record `seq` commits to (a testimony's, an amendment's new text) against
    /// its commitment, as the content store holds it: plain, sealed (opened with
    /// `identity` when given), or erased by a later record. `None` for a record without
    /// text.
    ///
    /// `used` are the recipients the text was sealed to when it was appended (those in force
    /// by the state before it; `None` when the ledger did not seal then): an identity opens
    /// only what was sealed to it (a text sealed before it became a recipient is checked as
    /// far as it can be without a key, not reported as damaged), and a text sealed to a
    /// recipient first named by a seal-to record that does not stand by the final state
    /// (a thief's) is a finding: whoever holds that identity may read it.
    pub(crate) fn check_text(
        &self,
        seq: u64,
        body: &Body,
        identity: Option<&age::x25519::Identity>,
        used: Option<&[[u8; 32]]>,
    ) -> Option<std::result::Result<String, String>> {
        let (commitment, len, owner) = body.text(seq)?;
        let erased = self.erasure_of(owner);
        if erased.is_none()
            && let Some(used) = used
            && let Some((r, by)) = self.authority.untrusted_recipients(used).first()
        {
            return Some(Err(format!(
                "the text was sealed to recipient {}, first named by seal-to record {by}, which does not stand (signed after its key's compromise, or by a tainted key): whoever holds that identity may read it",
                crate::seal::recipient_string(r)
            )));
        }
        let identity =
            identity.filter(|id| used.is_some_and(|u| u.contains(&crate::seal::identity_key(id))));
        let how = crate::store::TextCheck {
            identity,
            erased: erased.as_ref().map(|(by, reason)| (*by, reason.as_str())),
            sealed_since: self.sealed_since(seq),
        };
        Some(self.store.check_content(&commitment, len, &how))
    }

    /// The sealed copy of media record `seq` (`add media --seal`), when the store keeps
    /// one: both files present and of the right shape and size, and with `identity` (a
    /// recipient in force when it was added) opened and checked against the record's
    /// SHA-256. An erased copy must have lost its key. `None` when no copy is kept.
    pub(crate) fn check_media_copy(
        &self,
        seq: u64,
        media: &record::Media,
        identity: Option<&age::x25519::Identity>,
        used: Option<&[[u8; 32]]>,
    ) -> Option<std::result::Result<String, String>> {
        let item = crate::store::Item::Media(media.sha256);
        let held = self.store.held(item);
        if let Some((by, _)) = self.erasure_of(seq) {
            return held.wrapped_key.then(|| {
                Err(format!(
                    "record {by} erased this media copy, but its item key is still stored; `custody erase --finish` destroys it"
                ))
            });
        }
        if !held.ciphertext && !held.wrapped_key {
            return None;
        }
        // A copy shared with an erased record of the same file was destroyed with it.
        if !held.wrapped_key && self.erased_copy(&media.sha256) {
            return None;
        }
        let identity =
            identity.filter(|id| used.is_some_and(|u| u.contains(&crate::seal::identity_key(id))));
        // One copy serves every record of the same file, sealed to the recipients of the
        // first: an identity that came later may not open it, which is no damage.
        let checked = self
            .store
            .check_sealed(item, media.size, &media.sha256, identity);
        let checked = match checked {
            Err(e) if identity.is_some() && e.contains("does not open with this identity") => self
                .store
                .check_sealed(item, media.size, &media.sha256, None),
            other => other,
        };
        Some(checked.map(|opened| {
            if opened {
                format!(
                    "the sealed copy of {} bytes opens and matches the recorded SHA-256",
                    media.size
                )
            } else {
                "a sealed copy is kept: ciphertext and item key present, of the right sizes".into()
            }
        }))
    }

    /// Whether an erasure record erased a media record of this file (whose sealed copy all
    /// records of the same file share).
    pub(crate) fn erased_copy(&self, sha256: &Hash) -> bool {
        self.store.media_seqs(sha256).unwrap_or_default().into_iter().any(|s| {
            self.authority.erased_by(s).is_some()
                && matches!(self.statement(s).map(|st| st.body), Some(Body::Media(m)) if &m.sha256 == sha256)
        })
    }

    /// Whether record `seq`'s content was sealed to `identity`: a recipient in force then.
    pub fn sealed_to(&self, seq: u64, identity: &age::x25519::Identity) -> Result<bool> {
        let key = crate::seal::identity_key(identity);
        Ok(self
            .recipients_before(seq)?
            .is_some_and(|r| r.contains(&key)))
    }

    /// The content recipients in force for record `seq` by the state the records before it
    /// establish (what the append sealed to), or `None` when no seal-to record stood then.
    pub(crate) fn recipients_before(&self, seq: u64) -> Result<Option<Vec<[u8; 32]>>> {
        if self.sealed_since(seq).is_none() {
            return Ok(None);
        }
        let mut state = crate::rules::Authority::new();
        let lookup = StoreLookup(&self.store);
        for s in self.store.authority_seqs()? {
            if s >= seq {
                break;
            }
            let (r, _) = self.record(s)?;
            // A record that broke the rules changes nothing, here as at the append.
            let _ = state.admit(&r.statement, s, r.recorded_at_ms, &lookup);
        }
        Ok(state.seal_to().map(|(_, r)| r))
    }

    /// Refuses an identity that is no content recipient of this ledger (a wrong identity
    /// is bad input, exit 2, never a finding about the ledger).
    pub fn check_identity(&self, identity: &age::x25519::Identity) -> Result<()> {
        let key = crate::seal::identity_key(identity);
        if self
            .authority
            .seal_to_history()
            .iter()
            .any(|s| s.recipients.contains(&key))
        {
            return Ok(());
        }
        Err(Error::Input(match self.authority.seal_to() {
            None => "this ledger seals nothing (no seal-to record), so it has no use for --identity; leave it out".into(),
            Some(_) => format!(
                "the identity (recipient {}) is not a content recipient of this ledger; give a recipient's identity (`custody log` shows the seal-to records)",
                crate::seal::recipient_string(&key)
            ),
        }))
    }

    /// The record that erased record `seq`, and its reason.
    pub fn erasure_of(&self, seq: u64) -> Option<(u64, String)> {
        let by = self.authority.erased_by(seq)?;
        match self.statement(by).map(|s| s.body) {
            Some(Body::Erase { reason, .. }) => Some((by, reason)),
            _ => Some((by, String::new())),
        }
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
    pub fn find_media(&self, sha: &Hash, now_ms: u64) -> Result<Vec<RecordReport>> {
        Ok(self.find_media_page(sha, now_ms, 0, usize::MAX)?.0)
    }

    /// [`Ledger::find_media`] for at most `limit` records from record `from` on, and the
    /// number of the next record of the file when there are more.
    pub fn find_media_page(
        &self,
        sha: &Hash,
        now_ms: u64,
        from: u64,
        limit: usize,
    ) -> Result<(Vec<RecordReport>, Option<u64>)> {
        let seqs: Vec<u64> = self
            .store
            .media_seqs(sha)?
            .into_iter()
            .filter(|s| *s >= from)
            .collect();
        let next = seqs.get(limit).copied();
        let mut out = Vec::new();
        for seq in seqs.into_iter().take(limit) {
            let mut report = self.verify_record(seq, now_ms)?;
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
        Ok((out, next))
    }

    /// Inclusion proof of `seq` in the latest signed checkpoint, as C2SP tlog-proof text.
    pub fn inclusion_proof(&self, seq: u64) -> Result<InclusionProofText> {
        self.inclusion_proof_in(seq, self.require_checkpoint()?)
    }

    /// Inclusion proof of `seq` in `checkpoint` (one of [`Ledger::latest_checkpoint`]'s).
    pub fn inclusion_proof_in(
        &self,
        seq: u64,
        (cp, text): (Checkpoint, String),
    ) -> Result<InclusionProofText> {
        self.record_bytes(seq)?;
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

    /// The bytes at a C2SP tlog-tiles path (`tile/L/N[.p/W]` or `tile/entries/N[.p/W]`) of
    /// the tree as it stands: what `custody serve` serves and `custody publish` writes.
    /// `None` when the tree has no such tile (yet); an error for a path that is not one.
    pub fn tile(&self, path: &str) -> Result<Option<Vec<u8>>> {
        let (tile, entries) =
            crate::tiles::Tile::parse(path).map_err(|e| Error::Input(e.to_string()))?;
        self.store.published_tile(tile, entries, self.size)
    }

    /// The checkpoint to publish: the latest valid one, with the cosignatures kept for it.
    pub fn published_checkpoint(&self) -> Result<Option<(Checkpoint, String)>> {
        let Some((cp, text)) = self.latest_checkpoint()? else {
            return Ok(None);
        };
        let text = self.cosigned(cp.size)?.unwrap_or(text);
        Ok(Some((cp, text)))
    }

    fn require_checkpoint(&self) -> Result<(Checkpoint, String)> {
        self.latest_checkpoint()?.ok_or_else(|| {
            Error::NotReady("the ledger has no signed checkpoint; run `custody checkpoint`".into())
        })
    }
}
