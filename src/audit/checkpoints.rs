//! The checkpoints an audit checks: the checkpoints file against the index, every stored
//! checkpoint under the ledger key in force at its size, and the ones an auditor saved.
use super::*;

impl Auditor<'_> {
    /// Every signed checkpoint is kept twice, in the checkpoints file and in the index:
    /// the file must be whole, and hold exactly the index's checkpoints.
    pub(super) fn check_checkpoint_file(&mut self, store: &crate::store::Store) -> Result<()> {
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
        // Checkpoints are appended as the ledger grows: sizes never decrease along the file.
        let mut last: Option<(u64, u64)> = None;
        for (at, b) in &file.entries {
            let Some(size) = std::str::from_utf8(b)
                .ok()
                .and_then(crate::checkpoint::claimed_size)
            else {
                continue;
            };
            if let Some((prev, prev_at)) = last
                && size < prev
            {
                self.find(
                    None,
                    Code::CheckpointFile,
                    format!(
                        "the checkpoints file's entry at byte {at} (a checkpoint of {size} records) comes after the one at byte {prev_at} (of {prev} records): checkpoints are appended as the ledger grows, so entries were reordered or inserted"
                    ),
                );
                break;
            }
            last = Some((size, *at));
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

    /// The checkpoints the index holds, by the size they are stored under.
    pub(super) fn stored_checkpoints(&mut self) -> Result<Vec<(u64, String)>> {
        let mut stored = Vec::new();
        for (k, v) in self.ledger.store().checkpoints()? {
            let Ok(kb) = <[u8; 8]>::try_from(k.as_slice()) else {
                self.find(
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
        Ok(stored)
    }

    /// The saved checkpoints (`--against`) that name this ledger, with their sizes; one of
    /// another ledger is a finding, and one that is not a checkpoint at all an error.
    pub(super) fn saved_of_this_ledger<'s>(
        &mut self,
        against: &'s [SavedCheckpoint],
        results: &mut Vec<AgainstResult>,
    ) -> Result<Vec<(&'s SavedCheckpoint, u64)>> {
        let origin = self.ledger.origin();
        let mut saved = Vec::new();
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
                self.find(
                    None,
                    Code::AgainstOrigin,
                    format!(
                        "{}: your saved checkpoint is of ledger '{claimed}', but this ledger is '{origin}': the ledger was substituted, or this is not the checkpoint you saved from it",
                        s.source
                    ),
                );
                results.push(AgainstResult {
                    source: s.source.clone(),
                    size,
                    consistent: false,
                });
                continue;
            }
            saved.push((s, size));
        }
        Ok(saved)
    }

    /// The ledger key in force at `size`, as the pass established it.
    pub(super) fn key_at(&self, pass: &Pass, size: u64) -> [u8; 32] {
        pass.authority
            .ledger_key_at(size)
            .unwrap_or(*self.ledger.genesis_key())
    }

    /// Every stored checkpoint, under the ledger key in force at its size, then its root.
    /// Returns how many were signed as the rules require, and (size, signer) of those whose
    /// root holds too, in size order.
    pub(super) fn check_stored_checkpoints(
        &mut self,
        pass: &Pass,
        stored: &[(u64, String)],
    ) -> (u64, Vec<(u64, [u8; 32])>) {
        let origin = self.ledger.origin().to_owned();
        let seq = pass.seq;
        let mut checked = 0;
        let mut valid = Vec::new();
        for (size, text) in stored {
            let key = self.key_at(pass, *size);
            let cp = match open_checkpoint(text, &origin, &key) {
                Ok(cp) if cp.size != *size => {
                    self.find(
                        None,
                        Code::CheckpointMisfiled,
                        format!("checkpoint stored under size {size} says size {}", cp.size),
                    );
                    continue;
                }
                Ok(cp) => cp,
                Err(e) => {
                    self.find(
                        None,
                        Code::CheckpointSignature,
                        format!(
                            "stored checkpoint of size {size} does not verify with the ledger key in force at that size ({}): {e}",
                            keys::short_id(&key)
                        ),
                    );
                    continue;
                }
            };
            if let Err(v) =
                pass.authority
                    .check_checkpoint(*size, &key, pass.last_times.get(size).copied())
            {
                self.find(None, v.code, v.message);
                continue;
            }
            checked += 1;
            match pass.roots.get(size) {
                None => self.find(
                    Some(seq),
                    Code::CheckpointBeyondLedger,
                    format!("a signed checkpoint covers {size} records but the ledger has only {seq}: records were removed"),
                ),
                Some(r) if r != &cp.root => self.find(
                    None,
                    Code::CheckpointRoot,
                    format!(
                        "the checkpoint of size {size} signed root {}, the records give {}",
                        hex::encode(cp.root),
                        hex::encode(r)
                    ),
                ),
                Some(_) => valid.push((*size, key)),
            }
        }
        (checked, valid)
    }

    /// Each saved checkpoint of this ledger: signed by the ledger key in force at its
    /// size, and its root the one the records give now.
    pub(super) fn check_saved_checkpoints(
        &mut self,
        pass: &Pass,
        saved: &[(&SavedCheckpoint, u64)],
        results: &mut Vec<AgainstResult>,
    ) -> Result<()> {
        let origin = self.ledger.origin().to_owned();
        let seq = pass.seq;
        for (s, size) in saved {
            let key = self.key_at(pass, *size);
            let source = s.source.clone();
            let cp: Checkpoint = match open_checkpoint(&s.text, &origin, &key) {
                Ok(cp) => cp,
                Err(e @ CheckpointError::Malformed(_))
                | Err(e @ CheckpointError::Note(crate::note::NoteError::Malformed(_))) => {
                    return Err(Error::Input(format!(
                        "{source}: {e}; give a checkpoint file saved with `custody checkpoint`"
                    )));
                }
                Err(e) => {
                    self.find(
                        None,
                        Code::AgainstSignature,
                        format!(
                            "{source}: the saved checkpoint was not signed by this ledger's key in force at its size ({e}); the ledger key was replaced, or the file is forged"
                        ),
                    );
                    results.push(AgainstResult {
                        source,
                        size: *size,
                        consistent: false,
                    });
                    continue;
                }
            };
            if let Err(v) = pass.authority.check_checkpoint(
                cp.size,
                &key,
                pass.last_times.get(&cp.size).copied(),
            ) {
                self.find(None, v.code, format!("{source}: {}", v.message));
                results.push(AgainstResult {
                    source,
                    size: *size,
                    consistent: false,
                });
                continue;
            }
            let consistent = match pass.roots.get(&cp.size) {
                None => {
                    self.find(
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
                    self.find(
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
            results.push(AgainstResult {
                source,
                size: cp.size,
                consistent,
            });
        }
        Ok(())
    }
}
