//! Sealed content at the ledger's level (SPEC.md section 15): naming content recipients,
//! opening sealed items at headquarters, consent changes and erasures.

use super::*;
use crate::store::Item;
use std::io::Write;
use zeroize::Zeroizing;

/// What erasing destroyed, and what it could not.
#[derive(Debug, Default)]
pub struct Destroyed {
    /// The files overwritten and removed.
    pub files: Vec<std::path::PathBuf>,
    /// Why some item could not be destroyed.
    pub failed: Vec<String>,
}

/// A text opened from the content store.
pub struct OpenedText {
    /// The text.
    pub text: Zeroizing<Vec<u8>>,
    /// Whether it was sealed.
    pub sealed: bool,
}

impl Ledger {
    /// Names the content recipients, signed by an admin: from the next record on, texts are
    /// sealed to them and to no others. Each must be a key age can seal to.
    pub fn seal_to(
        &mut self,
        admin: &SigningKey,
        recipients: &[[u8; 32]],
        now_ms: u64,
    ) -> Result<Appended> {
        crate::seal::check_recipients(recipients)?;
        let body = Body::SealTo {
            recipients: recipients.to_vec(),
        };
        // Where the item keys will go, made now: from here on its absence means trouble.
        self.store
            .store_dir(crate::store::names::SEALED_KEYS, true)?;
        let mut out = self.sign_and_append(admin, vec![body], now_ms, now_ms)?;
        Ok(out.remove(0))
    }

    /// Changes the consent given for testimony `target` (its recorder or an admin signs).
    pub fn set_consent(
        &mut self,
        key: &SigningKey,
        target: u64,
        consent: &str,
        now_ms: u64,
    ) -> Result<Appended> {
        crate::encoding::check_text("consent", consent, crate::record::limits::CONSENT)?;
        rules::check_consent(consent).map_err(Error::Input)?;
        let body = Body::Consent {
            target,
            target_statement: self.statement_digest_of(target),
            consent: consent.to_owned(),
        };
        let mut out = self.sign_and_append(key, vec![body], now_ms, now_ms)?;
        Ok(out.remove(0))
    }

    /// The digest a consent change or an erasure of record `target` names (zeros when there
    /// is no such record: the rules then refuse the statement, naming the record).
    fn statement_digest_of(&self, target: u64) -> Hash {
        self.statement(target)
            .map_or([0; 32], |s| crate::rules::statement_digest(&s))
    }

    /// The consent history of testimony `seq`: (record, scope, whether it stands: obeyed
    /// the rules and is not flagged by a verdict).
    pub fn consent_history(&self, seq: u64) -> Vec<(u64, String, bool)> {
        self.authority
            .consents_of(seq)
            .iter()
            .map(|(at, scope)| (*at, scope.clone(), self.stands(*at)))
            .collect()
    }

    /// Whether record `seq`, which obeyed the rules, also passes the verdicts of the final
    /// state (not signed after its key's compromise, nor by a tainted key).
    pub fn stands(&self, seq: u64) -> bool {
        self.record(seq).is_ok_and(|(r, _)| {
            self.authority
                .verdict(&r.statement.signer, seq, r.recorded_at_ms)
                .is_none()
        })
    }

    /// Whether testimony `seq` (whose own consent is `own`) may reach a court by the
    /// consent in force now.
    pub fn court_use_allowed(&self, seq: u64, own: Option<&str>) -> bool {
        let history = self.consent_history(seq);
        let changes: Vec<(&str, bool)> =
            history.iter().map(|(_, s, ok)| (s.as_str(), *ok)).collect();
        rules::court_use_allowed(own, &changes)
    }

    /// Erases the content of testimony or media record `target` (signed by an admin): the
    /// erasure record is appended, then the item keys of its texts (every version) or of its
    /// sealed media copy, and any plain text, are destroyed. Returns the record and what
    /// [`Ledger::finish_erasures`] did.
    pub fn erase(
        &mut self,
        admin: &SigningKey,
        target: u64,
        reason: &str,
        now_ms: u64,
    ) -> Result<(Appended, Destroyed)> {
        if reason.trim().is_empty() {
            return Err(Error::Input(
                "give the reason for the erasure with --reason (for example the court order)"
                    .into(),
            ));
        }
        // What would stop the destruction is refused before the record is signed.
        self.store.check_dirs()?;
        if self.keys_dir_missing() {
            return Err(Error::Input(
                "this ledger seals its texts, but its sealed-keys/ directory is missing (a volume not mounted?): the item keys to destroy are not where they belong; nothing was changed".into(),
            ));
        }
        let body = Body::Erase {
            target,
            target_statement: self.statement_digest_of(target),
            reason: reason.to_owned(),
        };
        let appended = self
            .sign_and_append(admin, vec![body], now_ms, now_ms)?
            .remove(0);
        crash_point("erase-recorded");
        let gone = self.finish_erasures()?;
        Ok((appended, gone))
    }

    /// Destroys what the erasure records call for and the content store still holds (an
    /// erasure interrupted after its record was appended): idempotent. One item that cannot
    /// be destroyed does not stop the others; each failure is returned.
    pub fn finish_erasures(&self) -> Result<Destroyed> {
        if self.keys_dir_missing() {
            return Err(Error::Input(
                "this ledger seals its texts, but its sealed-keys/ directory is missing (a volume not mounted?); nothing was destroyed".into(),
            ));
        }
        let mut done = Destroyed::default();
        for target in self.authority.erasures().keys() {
            for item in self.items_of(*target) {
                match self.store.destroy(item) {
                    Ok(gone) => done.files.extend(gone),
                    Err(e) => done.failed.push(format!("record {target}: {e}")),
                }
            }
        }
        Ok(done)
    }

    /// Whether the ledger has ever sealed but its `sealed-keys/` directory (made when the
    /// first recipients are named) is not there.
    fn keys_dir_missing(&self) -> bool {
        !self.authority.seal_to_history().is_empty()
            && !self
                .store
                .dir()
                .join(crate::store::names::SEALED_KEYS)
                .is_dir()
    }

    /// The content items of an evidence record: a testimony's texts (its own and every
    /// amended one), a media record's sealed copy.
    fn items_of(&self, seq: u64) -> Vec<Item> {
        match self.statement(seq).map(|s| s.body) {
            Some(Body::Testimony(t)) => std::iter::once(Item::Text(t.commitment))
                .chain(self.authority.amendments_of(seq).iter().filter_map(|a| {
                    self.statement(*a)
                        .and_then(|s| s.body.text(*a))
                        .map(|(c, _, _)| Item::Text(c))
                }))
                .collect(),
            Some(Body::Media(m)) => vec![Item::Media(m.sha256)],
            _ => Vec::new(),
        }
    }

    /// The text of record `seq` (a testimony, or an amendment's new text), checked against
    /// its commitment: plain, or sealed and opened with `identity`.
    pub fn open_text(
        &self,
        seq: u64,
        identity: Option<&age::x25519::Identity>,
    ) -> Result<OpenedText> {
        let (rec, _) = self.record(seq)?;
        let (commitment, len, owner) = rec.statement.body.text(seq).ok_or_else(|| {
            Error::Input(format!(
                "record {seq} is {} record, which holds no text; name a testimony or an amendment with a new text (or a media record with a sealed copy, with --out)",
                rules::a_kind(rec.statement.body.kind())
            ))
        })?;
        if let Some((by, reason)) = self.erasure_of(owner) {
            return Err(Error::Input(format!(
                "the text of record {seq} was erased by record {by} ({}): no one can open it any more",
                crate::encoding::terminal_safe(&reason, false)
            )));
        }
        let sealed = self.store.held(Item::Text(commitment)).ciphertext;
        if let Some(id) = identity
            && sealed
            && !self.sealed_to(seq, id)?
        {
            self.check_identity(id)?;
            return Err(Error::Input(format!(
                "record {seq} was sealed to other recipients than this identity (those in force then); open it with one of theirs"
            )));
        }
        let (salt, text) = self
            .store
            .read_text(&commitment, len, identity, self.sealed_since(seq).is_some())?
            .ok_or_else(|| Error::Damaged(format!("record {seq}: the text is missing")))?;
        let text = Zeroizing::new(text);
        let salt: Option<[u8; 32]> = salt.as_slice().try_into().ok();
        if text.len() as u64 != len
            || salt.is_none_or(|s| record::commitment(&s, &text) != commitment)
        {
            return Err(Error::Damaged(format!(
                "record {seq}: the stored text does not match the signed commitment (it was altered); `custody audit` names what is wrong"
            )));
        }
        Ok(OpenedText { text, sealed })
    }

    /// Appends one media record per file, as [`Ledger::add_media`] does, after keeping a
    /// sealed copy of each file in the content store (`add media --seal`): each is streamed
    /// from `open(i)` (flat memory) and sealed to the content recipients, and must still
    /// hash to its record's SHA-256. `progress` gets the bytes sealed so far. When the append
    /// fails, the copies made for it are removed.
    pub fn add_media_sealed(
        &mut self,
        key: &SigningKey,
        files: Vec<MediaInput>,
        open: &dyn Fn(usize) -> std::io::Result<Box<dyn std::io::Read>>,
        progress: &mut dyn FnMut(u64),
        claimed_at_ms: u64,
        now_ms: u64,
    ) -> Result<Vec<Appended>> {
        let recipients = self.recipients()?.ok_or_else(|| {
            Error::Input(
                "this ledger names no content recipients, so there is no one to seal to; an admin names them first with `custody seal-to`".into(),
            )
        })?;
        for f in &files {
            if self.erased_copy(&f.sha256) {
                return Err(Error::Input(format!(
                    "the ledger erased its sealed copy of {} (SHA-256 {}); a copy sealed again would be destroyed by the same erasure: add it without --seal",
                    f.name.as_deref().unwrap_or("a file"),
                    hex::encode(f.sha256)
                )));
            }
        }
        let mut made = Vec::new();
        let mut done = 0u64;
        let mut sealed = || -> Result<()> {
            for (i, f) in files.iter().enumerate() {
                let item = Item::Media(f.sha256);
                let held = self.store.held(item);
                if held.ciphertext && held.wrapped_key {
                    done += f.size;
                    continue;
                }
                let mut input = open(i).map_err(|e| {
                    Error::Input(format!(
                        "cannot read {}: {e}",
                        f.name.as_deref().unwrap_or("a file")
                    ))
                })?;
                let base = done;
                self.store.write_sealed_stream(item, &mut |out| {
                    let (wrapped, sha, _) =
                        crate::seal::seal_stream(&mut input, out, &recipients, &mut |n| {
                            progress(base + n)
                        })?;
                    Ok((wrapped, sha))
                })?;
                made.push(item);
                done += f.size;
            }
            Ok(())
        };
        let result = sealed().and_then(|()| self.add_media(key, files, claimed_at_ms, now_ms));
        if result.is_err() {
            for item in made {
                self.store.remove_sealed(item);
            }
        }
        result
    }

    /// Restores the sealed copy of media record `seq` into `out`, opened with `identity`;
    /// checks it against the record's SHA-256 and size (what reached `out` is only sound
    /// when this returns `Ok`).
    pub fn open_media(
        &self,
        seq: u64,
        identity: &age::x25519::Identity,
        out: &mut dyn Write,
        progress: &mut dyn FnMut(u64),
    ) -> Result<u64> {
        let (rec, _) = self.record(seq)?;
        let Body::Media(m) = &rec.statement.body else {
            return Err(Error::Input(format!("record {seq} is not a media record")));
        };
        if let Some((by, reason)) = self.erasure_of(seq) {
            return Err(Error::Input(format!(
                "the sealed copy of record {seq} was erased by record {by} ({}): no one can open it any more",
                crate::encoding::terminal_safe(&reason, false)
            )));
        }
        let Some((mut file, file_len, wrapped)) = self.store.read_sealed(Item::Media(m.sha256))?
        else {
            return Err(Error::Input(format!(
                "the ledger keeps no sealed copy of record {seq} (it is kept only when the file was added with `add media --seal`)"
            )));
        };
        // A copy of another size is refused before anything is written: a forged one (the
        // recipients are public) must not fill the disk it is restored to.
        crate::seal::check_shape(&mut file, file_len, m.size).map_err(|e| {
            Error::Damaged(format!(
                "record {seq}: the sealed copy is damaged ({e}); `custody audit` names what is wrong"
            ))
        })?;
        std::io::Seek::rewind(&mut file).map_err(|e| Error::Damaged(e.to_string()))?;
        let (sha, len) = crate::seal::open_stream(&mut file, &wrapped, identity, out, progress)
            .map_err(Error::Input)?;
        if sha != m.sha256 || len != m.size {
            return Err(Error::Damaged(format!(
                "record {seq}: the sealed copy opens to {len} bytes with SHA-256 {}, not the recorded {} bytes with {}",
                hex::encode(sha),
                m.size,
                hex::encode(m.sha256)
            )));
        }
        Ok(len)
    }
}
