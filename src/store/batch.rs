//! The batch marker: where the latest append of several records begins and ends, so
//! that a crash undoes it whole (SPEC.md section 8).

use super::*;

/// Domain label of the batch marker's checksum.
const BATCH_LABEL: &[u8] = b"custody/v1/batch\n";
/// Size of the batch marker.
pub(super) const BATCH_MARKER_LEN: usize = 56;

/// The batch marker: the journal offsets where the batch starts and ends, the leaf hash of
/// its first record (which ties the marker to that batch, not to a later record written at
/// the same offset), and the first 8 bytes of SHA-256(label || the 48 bytes before), which
/// tells a torn marker from a whole one.
pub(super) fn batch_marker(start: u64, end: u64, first_leaf: &Hash) -> [u8; BATCH_MARKER_LEN] {
    use sha2::Digest;
    let mut m = [0u8; BATCH_MARKER_LEN];
    m[..8].copy_from_slice(&start.to_be_bytes());
    m[8..16].copy_from_slice(&end.to_be_bytes());
    m[16..48].copy_from_slice(first_leaf);
    let h = sha2::Sha256::new()
        .chain_update(BATCH_LABEL)
        .chain_update(&m[..48])
        .finalize();
    m[48..].copy_from_slice(&h[..8]);
    m
}

impl Store {
    /// Overwrites the batch marker and makes it durable (the directory too, the first time).
    pub(super) fn write_batch_marker(&mut self, marker: &[u8; BATCH_MARKER_LEN]) -> Result<()> {
        let path = self.dir.join(names::BATCH);
        let mut f = OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .open(&path)
            .map_err(io(&path))?;
        f.write_all(marker)
            .and_then(|()| f.sync_data())
            .map_err(io(&path))?;
        if !self.batch_marker_durable {
            fsync_dir(&self.dir)?;
            self.batch_marker_durable = true;
        }
        Ok(())
    }

    /// Settles the batch marker on a write-open, as SPEC.md section 8 states. When the
    /// marker is whole, its batch starts at or after `indexed` (what the index holds), the
    /// journal ends after the batch's start and no later than its end, the frame at the
    /// batch's start is its first record (or is not a whole frame), and the journal does not
    /// hold the whole batch as whole frames, the journal is cut back to the batch's start.
    /// Either way a whole marker is then cleared, so that it can only ever describe the
    /// last append before a crash. Returns the bytes removed, `start..len`.
    pub fn cut_incomplete_batch(&mut self, indexed: u64) -> Result<Option<(u64, u64)>> {
        let path = self.dir.join(names::BATCH);
        let bytes = match std::fs::read(&path) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(io(&path)(e)),
        };
        let Ok(m) = <[u8; BATCH_MARKER_LEN]>::try_from(bytes.as_slice()) else {
            return Ok(None);
        };
        let word = |at: usize| {
            let mut w = [0u8; 8];
            w.copy_from_slice(&m[at..at + 8]);
            u64::from_be_bytes(w)
        };
        let (start, end) = (word(0), word(8));
        let mut first_leaf = [0u8; 32];
        first_leaf.copy_from_slice(&m[16..48]);
        if batch_marker(start, end, &first_leaf) != m {
            return Ok(None); // cleared, or torn while written: before any of its frames
        }
        let cut = self.incomplete_batch(start, end, &first_leaf, indexed)?;
        if cut {
            let len = self.journal.len()?;
            self.journal.truncate(start)?;
            self.write_batch_marker(&[0; BATCH_MARKER_LEN])?;
            return Ok(Some((start, len)));
        }
        self.write_batch_marker(&[0; BATCH_MARKER_LEN])?;
        Ok(None)
    }

    /// Whether the marked batch `[start, end)`, whose first record has `first_leaf`, is in
    /// the journal only in part (see [`Store::cut_incomplete_batch`]). A read error is an
    /// error, never a reason to cut.
    fn incomplete_batch(
        &self,
        start: u64,
        end: u64,
        first_leaf: &Hash,
        indexed: u64,
    ) -> Result<bool> {
        let len = self.journal.len()?;
        if start < indexed || len <= start || len > end {
            return Ok(false);
        }
        let mut whole = Vec::new();
        for f in self.journal.frames_from(start)? {
            let f = f?;
            if !f.intact() || f.end() > end {
                break;
            }
            whole.push((f.stored_leaf, f.end()));
        }
        if let Some((leaf, _)) = whole.first()
            && leaf != first_leaf
        {
            return Ok(false); // a later record was written where the batch began
        }
        let complete = len == end && whole.last().is_some_and(|(_, e)| *e == end);
        Ok(!complete)
    }
}
