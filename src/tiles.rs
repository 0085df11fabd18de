//! The Merkle tree as C2SP tlog-tiles (`c2sp.org/tlog-tiles`): hash tiles of 256
//! consecutive subtree hashes at levels 0, 8, 16, ... of the tree, entry bundles of 256
//! records, and the paths a tlog-tiles client fetches them by.
//!
//! A tile at level `l` and index `n` holds, for `i` in `0..256`, the hash of the complete
//! subtree of `256^l` leaves that starts at leaf `(n * 256 + i) * 256^l`; the rightmost
//! tile of each level is partial (fewer than 256 hashes) while the tree's size is not a
//! multiple of its span. Any complete subtree hash, and so any root and proof, can be
//! computed from O(log n) tiles: [`TileTree`] does that over tiles fetched from anywhere.
//! Pure code: no disk, no clock.

use crate::Hash;
use crate::merkle::{HashReader, ProofError, node_hash};
use thiserror::Error;

/// Tree levels per tile.
pub const HEIGHT: u32 = 8;
/// Hashes in a full tile (and records in a full entry bundle).
pub const WIDTH: u64 = 1 << HEIGHT;
/// The largest entry an entry bundle can carry (a big-endian u16 length).
pub const MAX_ENTRY: usize = u16::MAX as usize;

/// Why a tile path, a tile or an entry bundle is not acceptable.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum TileError {
    /// The path is not a tile path this log publishes.
    #[error("'{0}' is not a tile path (tile/L/N[.p/W] or tile/entries/N[.p/W])")]
    BadPath(String),
    /// A tile's bytes are not `width` hashes.
    #[error("tile {path} is {len} bytes, not {expected}")]
    BadLength {
        /// The tile's path.
        path: String,
        /// Its length.
        len: usize,
        /// What its width calls for.
        expected: usize,
    },
    /// An entry bundle does not hold the entries it should.
    #[error("entry bundle: {0}")]
    BadBundle(String),
}

/// One tile: its level (0 for leaf hashes), its index within the level, and its width in
/// hashes (256 for a full tile, 1 to 255 for a partial one).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Tile {
    /// Tile level: the tile holds hashes of subtrees of `256^level` leaves.
    pub level: u8,
    /// Index of the tile within its level.
    pub index: u64,
    /// Number of hashes it holds.
    pub width: u16,
}

impl Tile {
    /// The tile of `level` with `index` in a tree of `size` leaves, full or as partial as
    /// the size makes it; `None` when the tree has no such tile yet.
    pub fn of_tree(level: u8, index: u64, size: u64) -> Option<Tile> {
        let per_hash = span(level, 0)?;
        let hashes = size / per_hash;
        let full = hashes / WIDTH;
        let width = if index < full {
            WIDTH
        } else if index == full {
            hashes % WIDTH
        } else {
            0
        };
        (width > 0).then_some(Tile {
            level,
            index,
            width: width as u16,
        })
    }

    /// Every tile of a tree of `size` leaves, level by level: the full ones and, at each
    /// level, the partial one if there is one.
    pub fn all_of(size: u64) -> Vec<Tile> {
        Self::new_since(0, size)
    }

    /// The tiles a tree that grew from `old` to `new` leaves has that it did not have at
    /// `old`, or has with another width: what a publisher writes after the growth.
    pub fn new_since(old: u64, new: u64) -> Vec<Tile> {
        let mut out = Vec::new();
        for level in 0..=7u8 {
            let Some(per_hash) = span(level, 0) else {
                break;
            };
            let (old_hashes, new_hashes) = (old / per_hash, new / per_hash);
            if new_hashes == 0 {
                break;
            }
            // From the tile that held the old partial (or the first new one) onwards.
            for index in old_hashes / WIDTH..=(new_hashes - 1) / WIDTH {
                if let Some(t) = Tile::of_tree(level, index, new)
                    && Tile::of_tree(level, index, old) != Some(t)
                {
                    out.push(t);
                }
            }
        }
        out
    }

    /// Whether the tile holds all 256 hashes.
    pub fn is_full(&self) -> bool {
        u64::from(self.width) == WIDTH
    }

    /// The hash tile's path: `tile/L/N` or `tile/L/N.p/W`.
    pub fn path(&self) -> String {
        format!("tile/{}/{}", self.level, self.suffix())
    }

    /// The path of the entry bundle with the records under this level-0 tile:
    /// `tile/entries/N` or `tile/entries/N.p/W`.
    pub fn entries_path(&self) -> String {
        format!("tile/entries/{}", self.suffix())
    }

    fn suffix(&self) -> String {
        let mut s = index_path(self.index);
        if !self.is_full() {
            s.push_str(&format!(".p/{}", self.width));
        }
        s
    }

    /// Parses a hash tile path or an entry bundle path (then `true`), strictly: no leading
    /// zeros where the spec forbids them, every index element three digits.
    pub fn parse(path: &str) -> Result<(Tile, bool), TileError> {
        let bad = || TileError::BadPath(path.to_owned());
        let rest = path.strip_prefix("tile/").ok_or_else(bad)?;
        let (level_part, rest) = rest.split_once('/').ok_or_else(bad)?;
        let (level, entries) = if level_part == "entries" {
            (0, true)
        } else {
            (decimal(level_part, 63).ok_or_else(bad)? as u8, false)
        };
        let (index_part, width) = match rest.split_once(".p/") {
            Some((i, w)) => (i, decimal(w, WIDTH - 1).filter(|&w| w > 0).ok_or_else(bad)?),
            None => (rest, WIDTH),
        };
        let elements: Vec<&str> = index_part.split('/').collect();
        let mut index: u64 = 0;
        for (k, e) in elements.iter().enumerate() {
            let digits = if k + 1 < elements.len() {
                e.strip_prefix('x').ok_or_else(bad)?
            } else {
                e
            };
            if digits.len() != 3 || !digits.bytes().all(|b| b.is_ascii_digit()) {
                return Err(bad());
            }
            let v: u64 = digits.parse().map_err(|_| bad())?;
            index = index
                .checked_mul(1000)
                .and_then(|i| i.checked_add(v))
                .ok_or_else(bad)?;
        }
        let tile = Tile {
            level,
            index,
            width: width as u16,
        };
        // One spelling per tile: a leading x000 element is not canonical.
        if tile.suffix() != rest {
            return Err(bad());
        }
        Ok((tile, entries))
    }
}

/// Leaves under one hash of a level-`level` tile, times `256^extra`; `None` past 2^64.
fn span(level: u8, extra: u32) -> Option<u64> {
    1u64.checked_shl(HEIGHT * (u32::from(level) + extra))
        .filter(|_| HEIGHT * (u32::from(level) + extra) < 64)
}

/// A decimal with no leading zero (other than "0" itself), at most `max`.
fn decimal(s: &str, max: u64) -> Option<u64> {
    if s.is_empty() || (s.len() > 1 && s.starts_with('0')) || !s.bytes().all(|b| b.is_ascii_digit())
    {
        return None;
    }
    s.parse().ok().filter(|&v| v <= max)
}

/// A tile index as zero-padded three-digit path elements, all but the last prefixed with
/// `x`: 1234067 is `x001/x234/067`.
fn index_path(mut n: u64) -> String {
    let mut parts = vec![format!("{:03}", n % 1000)];
    n /= 1000;
    while n > 0 {
        parts.push(format!("x{:03}", n % 1000));
        n /= 1000;
    }
    parts.reverse();
    parts.join("/")
}

/// The bytes of `tile`: its hashes, read from a store of complete subtree hashes.
pub fn tile_bytes<R: HashReader + ?Sized>(r: &R, tile: Tile) -> Result<Vec<u8>, ProofError> {
    let level = HEIGHT * u32::from(tile.level);
    let first = tile.index * WIDTH;
    let mut out = Vec::with_capacity(usize::from(tile.width) * 32);
    for i in 0..u64::from(tile.width) {
        out.extend_from_slice(&r.complete_subtree(level, first + i)?);
    }
    Ok(out)
}

/// The Merkle tree of `size` leaves read from its tiles: every complete subtree hash comes
/// from one tile, hashing at most 255 of its hashes together. `fetch` returns a tile's
/// bytes (or `None` when it cannot be had); bytes of the wrong length are refused.
pub struct TileTree<F: Fn(Tile) -> Option<Vec<u8>>> {
    size: u64,
    fetch: F,
}

impl<F: Fn(Tile) -> Option<Vec<u8>>> TileTree<F> {
    /// The tree of `size` leaves whose tiles `fetch` returns.
    pub fn new(size: u64, fetch: F) -> Self {
        TileTree { size, fetch }
    }
}

impl<F: Fn(Tile) -> Option<Vec<u8>>> HashReader for TileTree<F> {
    fn complete_subtree(&self, level: u32, index: u64) -> Result<Hash, ProofError> {
        let missing = || ProofError::Store {
            level,
            index,
            reason: "no tile of the tree holds it, or its tile could not be had".into(),
        };
        let tile_level = u8::try_from(level / HEIGHT).map_err(|_| missing())?;
        let within = level % HEIGHT;
        // The subtree is 2^within consecutive hashes of the tile level.
        let first = index.checked_shl(within).ok_or_else(missing)?;
        let count = 1u64 << within;
        let tile = Tile::of_tree(tile_level, first / WIDTH, self.size).ok_or_else(missing)?;
        let offset = first % WIDTH;
        if offset + count > u64::from(tile.width) {
            return Err(missing());
        }
        let bytes = (self.fetch)(tile).ok_or_else(missing)?;
        if bytes.len() != usize::from(tile.width) * 32 {
            return Err(missing());
        }
        let mut hashes: Vec<Hash> = bytes[offset as usize * 32..(offset + count) as usize * 32]
            .chunks_exact(32)
            .map(|c| {
                let mut h = [0u8; 32];
                h.copy_from_slice(c);
                h
            })
            .collect();
        while hashes.len() > 1 {
            hashes = hashes
                .chunks_exact(2)
                .map(|p| node_hash(&p[0], &p[1]))
                .collect();
        }
        Ok(hashes[0])
    }
}

/// An entry bundle: each entry as a big-endian u16 length, then its bytes.
pub fn encode_bundle<E: AsRef<[u8]>>(entries: &[E]) -> Result<Vec<u8>, TileError> {
    let mut out = Vec::new();
    for e in entries {
        let e = e.as_ref();
        let len = u16::try_from(e.len()).map_err(|_| {
            TileError::BadBundle(format!(
                "an entry of {} bytes is over the {MAX_ENTRY} a bundle can carry",
                e.len()
            ))
        })?;
        out.extend_from_slice(&len.to_be_bytes());
        out.extend_from_slice(e);
    }
    Ok(out)
}

/// The entries of a bundle, which must hold exactly `count` of them and nothing after.
pub fn decode_bundle(bytes: &[u8], count: usize) -> Result<Vec<&[u8]>, TileError> {
    let mut out = Vec::with_capacity(count);
    let mut rest = bytes;
    while !rest.is_empty() {
        let (len, tail) = rest
            .split_first_chunk::<2>()
            .ok_or_else(|| TileError::BadBundle("it ends inside a length".into()))?;
        let len = usize::from(u16::from_be_bytes(*len));
        if tail.len() < len {
            return Err(TileError::BadBundle(format!(
                "entry {} declares {len} bytes but {} remain",
                out.len(),
                tail.len()
            )));
        }
        let (entry, tail) = tail.split_at(len);
        out.push(entry);
        rest = tail;
    }
    if out.len() != count {
        return Err(TileError::BadBundle(format!(
            "it holds {} entries, not {count}",
            out.len()
        )));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::merkle::{MemoryTree, consistency_proof, inclusion_proof, root};

    #[test]
    fn paths_follow_the_spec_and_parse_back() {
        let t = |level, index, width| Tile {
            level,
            index,
            width,
        };
        assert_eq!(t(0, 1_234_067, 256).path(), "tile/0/x001/x234/067");
        assert_eq!(t(0, 0, 256).path(), "tile/0/000");
        assert_eq!(t(2, 1000, 17).path(), "tile/2/x001/000.p/17");
        assert_eq!(t(0, 5, 128).entries_path(), "tile/entries/005.p/128");
        for tile in [
            t(0, 1_234_067, 256),
            t(3, 0, 1),
            t(1, 999, 255),
            t(0, u64::MAX, 256),
        ] {
            assert_eq!(Tile::parse(&tile.path()), Ok((tile, false)));
            assert_eq!(
                Tile::parse(&tile.entries_path()),
                Ok((t(0, tile.index, tile.width), true))
            );
        }
        for bad in [
            "tile/0/1",
            "tile/00/000",
            "tile/64/000",
            "tile/0/x000/001",
            "tile/0/001/002",
            "tile/0/000.p/0",
            "tile/0/000.p/256",
            "tile/0/000.p/017",
            "tile/0/000/",
            "tile/entries/abc",
            "tiles/0/000",
            "tile/0/x999/x999/x999/x999/x999/x999/x999/999",
        ] {
            assert!(Tile::parse(bad).is_err(), "{bad} parsed");
        }
    }

    #[test]
    fn a_tree_of_70000_is_the_tiles_the_spec_names() {
        // "273 full level 0 tiles, one partial level 0 tile of width 112, one full level 1
        // tile, one partial level 1 tile of width 17, and one partial level 2 tile of width 1"
        let tiles = Tile::all_of(70_000);
        let count = |level, full: bool| {
            tiles
                .iter()
                .filter(|t| t.level == level && t.is_full() == full)
                .count()
        };
        assert_eq!((count(0, true), count(1, true)), (273, 1));
        let partial: Vec<(u8, u16)> = tiles
            .iter()
            .filter(|t| !t.is_full())
            .map(|t| (t.level, t.width))
            .collect();
        assert_eq!(partial, [(0, 112), (1, 17), (2, 1)]);
        assert_eq!(tiles.len(), 273 + 1 + 1 + 1 + 1);
        assert!(Tile::all_of(0).is_empty());
        // A tree of 256: one full level-0 tile and a level-1 partial of width 1.
        assert_eq!(
            Tile::all_of(256)
                .iter()
                .map(|t| (t.level, t.width))
                .collect::<Vec<_>>(),
            [(0, 256), (1, 1)]
        );
    }

    #[test]
    fn growth_lists_exactly_the_tiles_that_changed() {
        for (old, new) in [
            (0, 1),
            (1, 2),
            (255, 256),
            (256, 257),
            (300, 70_000),
            (5, 5),
        ] {
            let before: std::collections::BTreeSet<Tile> = Tile::all_of(old).into_iter().collect();
            let after: std::collections::BTreeSet<Tile> = Tile::all_of(new).into_iter().collect();
            let expected: Vec<Tile> = after.difference(&before).copied().collect();
            let mut got = Tile::new_since(old, new);
            got.sort();
            assert_eq!(got, expected, "{old} -> {new}");
        }
    }

    #[test]
    fn roots_and_proofs_from_tiles_equal_those_from_every_hash() {
        let leaves: Vec<Hash> = (0u32..1000)
            .map(|i| crate::record::leaf_hash(&i.to_be_bytes()))
            .collect();
        for size in [1u64, 2, 255, 256, 257, 511, 512, 513, 1000] {
            let full = MemoryTree::new(&leaves[..size as usize]);
            let tiles: std::collections::BTreeMap<Tile, Vec<u8>> = Tile::all_of(size)
                .into_iter()
                .map(|t| (t, tile_bytes(&full, t).unwrap()))
                .collect();
            let tt = TileTree::new(size, |t| tiles.get(&t).cloned());
            assert_eq!(
                root(&tt, size).unwrap(),
                root(&full, size).unwrap(),
                "{size}"
            );
            for i in [0, size / 2, size - 1] {
                assert_eq!(
                    inclusion_proof(&tt, i, size).unwrap(),
                    inclusion_proof(&full, i, size).unwrap()
                );
            }
            for old in [1, size / 3 + 1, size] {
                assert_eq!(
                    consistency_proof(&tt, old, size).unwrap(),
                    consistency_proof(&full, old, size).unwrap()
                );
            }
            // A tile of the wrong length is not read.
            let short = TileTree::new(size, |t| tiles.get(&t).map(|b| b[..b.len() - 1].to_vec()));
            assert!(root(&short, size).is_err(), "{size}");
        }
    }

    #[test]
    fn bundles_round_trip_and_refuse_what_they_cannot_hold() {
        let entries: Vec<Vec<u8>> = vec![vec![], vec![1, 2, 3], vec![7; 300]];
        let b = encode_bundle(&entries).unwrap();
        let back = decode_bundle(&b, 3).unwrap();
        assert_eq!(back, entries.iter().map(Vec::as_slice).collect::<Vec<_>>());
        assert!(decode_bundle(&b, 2).is_err());
        assert!(decode_bundle(&b[..b.len() - 1], 3).is_err());
        assert!(decode_bundle(&[0], 0).is_err());
        assert!(encode_bundle(&[vec![0u8; MAX_ENTRY + 1]]).is_err());
        assert!(encode_bundle(&[vec![0u8; MAX_ENTRY]]).is_ok());
    }
}
