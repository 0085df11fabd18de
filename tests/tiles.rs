//! The tiles custody computes, checked by a third-party implementation of C2SP
//! tlog-tiles (the `tlog_tiles` crate, a port of Go's `golang.org/x/mod/sumdb/tlog`): the
//! same tiles (paths and bytes) for the same leaves, and, reading our tiles, the same root,
//! inclusion proofs and consistency proofs as ours, at the sizes where tiles change shape.

use custody::merkle::{MemoryTree, consistency_proof, inclusion_proof, root};
use custody::tiles::{Tile, TileTree, tile_bytes};
use std::collections::BTreeMap;

/// Their hash store: every stored hash, by their storage index.
struct Stored(Vec<tlog_tiles::Hash>);

impl tlog_tiles::HashReader for Stored {
    fn read_hashes(&self, indexes: &[u64]) -> Result<Vec<tlog_tiles::Hash>, tlog_tiles::Error> {
        indexes
            .iter()
            .map(|&i| {
                self.0
                    .get(i as usize)
                    .copied()
                    .ok_or(tlog_tiles::Error::InvalidTile)
            })
            .collect()
    }
}

/// Their tile reader over our tiles (by our path, so the paths must agree too).
struct OurTiles<'a>(&'a BTreeMap<String, Vec<u8>>);

impl tlog_tiles::TileReader for OurTiles<'_> {
    fn height(&self) -> u8 {
        8
    }
    fn read_tiles(&self, tiles: &[tlog_tiles::Tile]) -> Result<Vec<Vec<u8>>, tlog_tiles::Error> {
        tiles
            .iter()
            .map(|t| {
                self.0
                    .get(&c2sp(t))
                    .cloned()
                    .ok_or(tlog_tiles::Error::InvalidTile)
            })
            .collect()
    }
    fn save_tiles(&self, _: &[tlog_tiles::Tile], _: &[Vec<u8>]) {}
}

/// Their path (Go's sumdb form, `tile/H/L/N`, with the height) in C2SP's form, which has no
/// height (it is always 8).
pub(crate) fn c2sp(t: &tlog_tiles::Tile) -> String {
    let p = t.path();
    assert!(p.starts_with("tile/8/"), "{p}");
    p.replacen("tile/8/", "tile/", 1)
}

fn record(i: u64) -> Vec<u8> {
    format!("record {i}").into_bytes()
}

#[test]
fn our_tiles_are_the_ones_tlog_tiles_computes_and_proves_from() {
    let max = 65_537u64;
    // Theirs: the stored hashes of every record, appended one by one.
    let mut stored = Stored(Vec::new());
    let mut leaves = Vec::new();
    for i in 0..max {
        let data = record(i);
        let new = tlog_tiles::stored_hashes(i, &data, &stored).unwrap();
        stored.0.extend(new);
        leaves.push(custody::record::leaf_hash(&data));
    }
    let ours_full = MemoryTree::new(&leaves);
    for size in [1u64, 255, 256, 257, 65_536, 65_537] {
        // The same tiles, by path and bytes.
        let theirs: BTreeMap<String, Vec<u8>> = tlog_tiles::Tile::new_tiles(8, 0, size)
            .into_iter()
            .map(|t| (c2sp(&t), t.read_data(&stored).unwrap()))
            .collect();
        let ours: BTreeMap<String, Vec<u8>> = Tile::all_of(size)
            .into_iter()
            .map(|t| (t.path(), tile_bytes(&ours_full, t).unwrap()))
            .collect();
        assert_eq!(
            ours.keys().collect::<Vec<_>>(),
            theirs.keys().collect::<Vec<_>>(),
            "tile paths at size {size}"
        );
        assert!(ours == theirs, "tile bytes at size {size}");
        // Their proofs, computed from our tiles, are ours.
        let our_root = root(&ours_full, size).unwrap();
        let reader = OurTiles(&ours);
        let th = tlog_tiles::TileHashReader::new(size, tlog_tiles::Hash(our_root), &reader);
        assert_eq!(tlog_tiles::tree_hash(size, &th).unwrap().0, our_root);
        let by_tiles = TileTree::new(size, |t| ours.get(&t.path()).cloned());
        assert_eq!(root(&by_tiles, size).unwrap(), our_root);
        let bytes = |p: Vec<tlog_tiles::Hash>| p.into_iter().map(|h| h.0).collect::<Vec<_>>();
        for i in [0, size / 2, size - 1] {
            let theirs = bytes(tlog_tiles::prove_record(size, i, &th).unwrap());
            let ours = inclusion_proof(&by_tiles, i, size).unwrap();
            assert_eq!(theirs, ours, "{i} in {size}");
        }
        for old in [1, size / 2 + 1, size] {
            let theirs = bytes(tlog_tiles::prove_tree(size, old, &th).unwrap());
            let ours = consistency_proof(&by_tiles, old, size).unwrap();
            assert_eq!(theirs, ours, "{old} to {size}");
        }
        // The spec's own path example.
        let t = tlog_tiles::Tile::from_path("tile/8/0/x001/x234/067").unwrap();
        assert_eq!(
            Tile::parse(&c2sp(&t)).unwrap().0,
            Tile {
                level: 0,
                index: 1_234_067,
                width: 256
            }
        );
    }
}
