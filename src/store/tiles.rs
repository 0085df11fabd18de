//! The records and the Merkle tree in sled as C2SP tiles (SPEC.md sections 7.1 and 8): one
//! sled entry per 256 records (an entry bundle) and per 256 hashes of levels 0, 8, 16, ...
//! (a hash tile), each keyed by its tile path, so that the stored bytes are exactly what a
//! tlog-tiles client fetches. Only full tiles and the current partial tile of each row are
//! kept.

use super::Store;
use crate::Hash;
use crate::error::{Error, Result};
use crate::merkle::{HashReader, ProofError};
use crate::tiles::{HEIGHT, Tile, TileTree, WIDTH, decode_bundle};

/// A row of tiles: the entry bundles, or the hash tiles of one tile level.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Row {
    /// The records, 256 to a bundle.
    Entries,
    /// The hashes of subtrees of `256^level` leaves, 256 to a tile.
    Hashes(u8),
}

impl Row {
    fn level(self) -> u8 {
        match self {
            Row::Entries => 0,
            Row::Hashes(l) => l,
        }
    }

    /// The sled key (the tile path) of `tile` in this row.
    pub(crate) fn key(self, tile: Tile) -> String {
        match self {
            Row::Entries => tile.entries_path(),
            Row::Hashes(_) => tile.path(),
        }
    }

    /// Elements of this row in a tree of `size` leaves.
    fn count(self, size: u64) -> u64 {
        size >> (HEIGHT * u32::from(self.level()))
    }
}

impl Store {
    /// The stored bytes of `row`'s tile with `index` in a tree of `size` leaves (full, or
    /// partial at that size); `None` when the tree has no such tile or it is not stored.
    pub(crate) fn tile(&self, row: Row, index: u64, size: u64) -> Result<Option<Vec<u8>>> {
        let Some(tile) = Tile::of_tree(row.level(), index, size) else {
            return Ok(None);
        };
        let bytes = self.ix()?.tiles.get(row.key(tile)).map_err(self.e())?;
        self.count_read(bytes.as_ref().map_or(0, |b| b.len()));
        Ok(bytes.map(|v| v.to_vec()))
    }

    /// Appends `items` (each one element's bytes: a 32-byte hash, or a record with its
    /// 2-byte length) to `row`, which holds its elements for `old_size` leaves, writing
    /// each tile that changes into `batch`: full tiles under their path, the last partial
    /// one under its `.p/W` path, and the previous partial one removed.
    pub(crate) fn grow_row(
        &self,
        batch: &mut sled::Batch,
        row: Row,
        old_size: u64,
        items: &[Vec<u8>],
    ) -> Result<()> {
        if items.is_empty() {
            return Ok(());
        }
        let level = row.level();
        let old = row.count(old_size);
        let mut index = old / WIDTH;
        let mut width = old % WIDTH;
        let mut buf = Vec::new();
        if width > 0 {
            let previous = Tile {
                level,
                index,
                width: width as u16,
            };
            let bytes = self
                .ix()?
                .tiles
                .get(row.key(previous))
                .map_err(self.e())?
                .ok_or_else(|| {
                    Error::Damaged(format!(
                        "tile {} is missing from the index",
                        row.key(previous)
                    ))
                })?;
            buf.extend_from_slice(&bytes);
            batch.remove(row.key(previous).as_bytes());
        }
        for item in items {
            buf.extend_from_slice(item);
            width += 1;
            if width == WIDTH {
                let full = Tile {
                    level,
                    index,
                    width: WIDTH as u16,
                };
                batch.insert(row.key(full).as_bytes(), std::mem::take(&mut buf));
                index += 1;
                width = 0;
            }
        }
        if width > 0 {
            let partial = Tile {
                level,
                index,
                width: width as u16,
            };
            batch.insert(row.key(partial).as_bytes(), buf);
        }
        Ok(())
    }

    /// The records of the entry bundle with `index` in a tree of `size` leaves, as far as
    /// they can be read: in a damaged index, the records up to the first that does not
    /// decode, or those of a partial bundle stored under another width (the audit compares
    /// each with the journal, and names the first that differs); `None` when there is no
    /// bundle at all.
    pub(crate) fn bundle(&self, index: u64, size: u64) -> Result<Option<Vec<Vec<u8>>>> {
        let Some(tile) = Tile::of_tree(0, index, size) else {
            return Ok(None);
        };
        let mut bytes = self
            .ix()?
            .tiles
            .get(Row::Entries.key(tile))
            .map_err(self.e())?;
        if bytes.is_none() && !tile.is_full() {
            // A partial bundle of another width: the first stored under this index.
            let prefix = format!("{}.p/", Row::Entries.key(Tile { width: 256, ..tile }));
            bytes = match self.ix()?.tiles.scan_prefix(prefix.as_bytes()).next() {
                Some(kv) => Some(kv.map_err(self.e())?.1),
                None => None,
            };
        }
        let Some(bytes) = bytes else {
            return Ok(None);
        };
        self.count_read(bytes.len());
        if let Ok(all) = decode_bundle(&bytes, usize::from(tile.width)) {
            return Ok(Some(all.into_iter().map(<[u8]>::to_vec).collect()));
        }
        let mut out = Vec::new();
        let mut rest = &bytes[..];
        while let Some((len, tail)) = rest.split_first_chunk::<2>() {
            let len = usize::from(u16::from_be_bytes(*len));
            let Some(entry) = tail.get(..len) else { break };
            out.push(entry.to_vec());
            rest = &tail[len..];
        }
        Ok(Some(out))
    }

    /// What a tlog-tiles client fetches for `tile` (an entry bundle when `entries`) from a
    /// tree of `size` leaves: the stored tile, or for a partial tile of a width the tree
    /// has since passed, the first `width` elements of the stored one (hashes of complete
    /// subtrees, and records, never change). `None` when the tree has no such tile yet.
    pub(crate) fn published_tile(
        &self,
        tile: Tile,
        entries: bool,
        size: u64,
    ) -> Result<Option<Vec<u8>>> {
        let Some(now) = Tile::of_tree(tile.level, tile.index, size) else {
            return Ok(None);
        };
        if now.width < tile.width {
            return Ok(None);
        }
        let row = if entries {
            Row::Entries
        } else {
            Row::Hashes(tile.level)
        };
        let Some(mut bytes) = self.tile(row, tile.index, size)? else {
            return Ok(None);
        };
        let width = usize::from(tile.width);
        if entries {
            let mut end = 0;
            for _ in 0..width {
                let len = bytes
                    .get(end..end + 2)
                    .map(|b| usize::from(u16::from_be_bytes([b[0], b[1]])))
                    .ok_or_else(|| {
                        Error::Damaged(format!("entry bundle {} is cut short", tile.index))
                    })?;
                end += 2 + len;
            }
            if end > bytes.len() {
                return Err(Error::Damaged(format!(
                    "entry bundle {} is cut short",
                    tile.index
                )));
            }
            bytes.truncate(end);
        } else {
            bytes.truncate(width * 32);
        }
        Ok(Some(bytes))
    }

    /// Every stored tile's key, for the audit's check that the index holds exactly the
    /// tiles of its tree.
    pub(crate) fn tile_keys(&self) -> Result<Vec<Vec<u8>>> {
        let mut keys = Vec::new();
        self.scan(|ix| &ix.tiles, |k, _| keys.push(k.to_vec()))?;
        Ok(keys)
    }
}

impl HashReader for Store {
    /// A complete subtree hash of the indexed tree, from the one hash tile that covers it.
    fn complete_subtree(&self, level: u32, index: u64) -> Result<Hash, ProofError> {
        let size = self.indexed_size().map_err(|e| ProofError::Store {
            level,
            index,
            reason: e.to_string(),
        })?;
        let ix = self.ix().map_err(|e| ProofError::Store {
            level,
            index,
            reason: e.to_string(),
        })?;
        TileTree::new(size, |t| {
            ix.tiles
                .get(Row::Hashes(t.level).key(t))
                .ok()
                .flatten()
                .map(|v| v.to_vec())
        })
        .complete_subtree(level, index)
    }
}
