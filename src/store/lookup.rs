//! The lookup indexes (SPEC.md section 8): leaf hash, file SHA-256 and content commitment
//! to sequence numbers, and the list of the records that change key authority, kept as
//! sorted runs of entries rather than an entry per record.
//!
//! A run holds the entries of the records of an aligned range of entry bundles: a run of
//! level `k` covers `16^k` bundles (`256 * 16^k` records), starting at a multiple of that.
//! Which runs a ledger of `n` records has follows from `n` alone, as the digits of a
//! counter: as many level-3 runs as fit, then at most 15 of each lower level, then the run
//! of the partial bundle. When 16 runs of one level complete, the next append merges them
//! into one of the level above, so each entry is written once per level (four times in
//! all) and never again: nothing is rewritten over and over. A run is split into pages by
//! the leading `4k` bits of the key (level-0 runs and the authority list are one page), so
//! a page holds about 256 entries whatever the level, and a lookup reads one page of each
//! run: at most 15 per level and one per 2^20 records.

use super::Store;
use crate::error::{Error, Result};
use crate::tiles::WIDTH;
use std::collections::HashSet;
use std::ops::Range;

/// Runs merge sixteen at a time: a level is 4 more bits of page prefix.
const FANOUT_BITS: u32 = 4;
/// The highest run level: a run covers at most 16^3 bundles (1,048,576 records), so that
/// merging one never holds more than that in memory, and beyond it runs simply add up.
pub(crate) const TOP: u8 = 3;
/// A page key: kind tag, level, first bundle (u64), page (u32).
const PAGE_KEY_LEN: usize = 14;

/// One lookup index.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(crate) enum Kind {
    /// Leaf hash to sequence number: every record.
    Leaf,
    /// File SHA-256 to sequence numbers: media records.
    Media,
    /// Content commitment to sequence number: testimony and amendments with a new text.
    Content,
    /// The records that change key authority or custody (no key).
    Authority,
}

impl Kind {
    /// Every lookup index, in the order of their tags.
    pub(crate) const ALL: [Kind; 4] = [Kind::Leaf, Kind::Media, Kind::Content, Kind::Authority];

    pub(crate) fn tag(self) -> u8 {
        match self {
            Kind::Leaf => b'l',
            Kind::Media => b'm',
            Kind::Content => b'c',
            Kind::Authority => b'a',
        }
    }

    fn from_tag(tag: u8) -> Option<Kind> {
        Kind::ALL.into_iter().find(|k| k.tag() == tag)
    }

    /// Bytes of an entry's key: the first 16 of the hash (2^128 work to find another hash
    /// with the same ones, and every reader checks the record it is led to), or none for
    /// the authority list.
    pub(crate) fn key_len(self) -> usize {
        match self {
            Kind::Authority => 0,
            _ => 16,
        }
    }

    /// Bytes of one entry: its key and the record's position in its run (a big-endian
    /// u32: a run covers at most 2^20 records).
    pub(crate) fn entry_len(self) -> usize {
        self.key_len() + 4
    }

    /// The entry of `seq` under `key` (a hash, or nothing): the key cut to its length.
    pub(crate) fn item(self, key: &[u8], seq: u64) -> Item {
        let mut k = [0u8; 32];
        let n = self.key_len().min(key.len());
        k[..n].copy_from_slice(&key[..n]);
        (k, seq)
    }
}

/// An entry: its key (zeros past the kind's key length) and sequence number. Entries of a
/// run sort as their encoding does.
pub(crate) type Item = ([u8; 32], u64);

/// A run: its level and the index of its first entry bundle.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(crate) struct Run {
    /// Its level: it covers `16^level` bundles.
    pub level: u8,
    /// Its first bundle, a multiple of `16^level`.
    pub first: u64,
}

impl Run {
    fn bundles(self) -> u64 {
        1 << (FANOUT_BITS * u32::from(self.level))
    }

    /// The sequence numbers it covers in a ledger of `size` records.
    pub(crate) fn seqs(self, size: u64) -> Range<u64> {
        let start = self.first.saturating_mul(WIDTH);
        let end = (self.first.saturating_add(self.bundles()))
            .saturating_mul(WIDTH)
            .min(size);
        start..end.max(start)
    }

    fn contains(self, other: Run) -> bool {
        other.first >= self.first && other.first + other.bundles() <= self.first + self.bundles()
    }

    /// How many pages its entries of `kind` are split into.
    pub(crate) fn pages(self, kind: Kind) -> u32 {
        if kind.key_len() == 0 {
            1
        } else {
            1 << (FANOUT_BITS * u32::from(self.level))
        }
    }

    /// The page that holds `key`: its leading `4 * level` bits.
    pub(crate) fn page_of(self, kind: Kind, key: &[u8]) -> u32 {
        let bits = FANOUT_BITS * u32::from(self.level);
        if kind.key_len() == 0 || bits == 0 {
            return 0;
        }
        let mut lead = [0u8; 4];
        for (d, s) in lead.iter_mut().zip(key) {
            *d = *s;
        }
        u32::from_be_bytes(lead) >> (32 - bits)
    }

    fn prefix(self, kind: Kind) -> [u8; 10] {
        let mut k = [0u8; 10];
        k[0] = kind.tag();
        k[1] = self.level;
        k[2..10].copy_from_slice(&self.first.to_be_bytes());
        k
    }

    /// The sled key of one page.
    pub(crate) fn page_key(self, kind: Kind, page: u32) -> [u8; PAGE_KEY_LEN] {
        let mut k = [0u8; PAGE_KEY_LEN];
        k[..10].copy_from_slice(&self.prefix(kind));
        k[10..].copy_from_slice(&page.to_be_bytes());
        k
    }
}

/// Reads a page key: its kind, run and page, if it is one this layout could write (a
/// known kind, a level up to [`TOP`], an aligned first bundle, a page the run has).
pub(crate) fn parse_page_key(key: &[u8]) -> Option<(Kind, Run, u32)> {
    let key: &[u8; PAGE_KEY_LEN] = key.try_into().ok()?;
    let kind = Kind::from_tag(key[0])?;
    let level = key[1];
    if level > TOP {
        return None;
    }
    let first = u64::from_be_bytes(key[2..10].try_into().ok()?);
    let page = u32::from_be_bytes(key[10..].try_into().ok()?);
    let run = Run { level, first };
    (first.is_multiple_of(run.bundles()) && page < run.pages(kind)).then_some((kind, run, page))
}

/// The runs of a ledger of `size` records, in order: they cover `0..size` exactly once.
pub(crate) fn runs(size: u64) -> Vec<Run> {
    let full = size / WIDTH;
    let mut out = Vec::new();
    let mut next = 0;
    for level in (0..=TOP).rev() {
        let span = Run { level, first: 0 }.bundles();
        while full - next >= span {
            out.push(Run { level, first: next });
            next += span;
        }
    }
    if !size.is_multiple_of(WIDTH) {
        out.push(Run {
            level: 0,
            first: full,
        });
    }
    out
}

/// The run that holds record `seq` in a ledger of `size` records.
pub(crate) fn run_of(size: u64, seq: u64) -> Option<Run> {
    runs(size).into_iter().find(|r| r.seqs(size).contains(&seq))
}

/// Encodes one entry of `kind` in `run` (whose first record is `start`).
fn encode(kind: Kind, start: u64, (key, seq): &Item, out: &mut Vec<u8>) {
    out.extend_from_slice(&key[..kind.key_len()]);
    // A run covers at most 2^20 records: the offset fits.
    out.extend_from_slice(&(seq.saturating_sub(start) as u32).to_be_bytes());
}

/// The entries of a page of `kind` in `run`, strictly: its length must be a whole number
/// of entries, none of them empty.
pub(crate) fn decode_page(
    kind: Kind,
    run: Run,
    bytes: &[u8],
) -> std::result::Result<Vec<Item>, String> {
    let len = kind.entry_len();
    if bytes.is_empty() || !bytes.len().is_multiple_of(len) {
        return Err(format!(
            "it is {} bytes, not a whole number of {len}-byte entries",
            bytes.len()
        ));
    }
    let start = run.seqs(u64::MAX).start;
    Ok(bytes
        .chunks_exact(len)
        .map(|e| {
            let mut key = [0u8; 32];
            key[..kind.key_len()].copy_from_slice(&e[..kind.key_len()]);
            let offset = u32::from_be_bytes(e[kind.key_len()..].try_into().unwrap_or_default());
            (key, start.saturating_add(u64::from(offset)))
        })
        .collect())
}

/// Checks what a reader of a page relies on: its entries in strictly increasing order
/// (lookups search it by halves), each on this page of this run, each for a record the
/// run covers in a ledger of `size` records. A failure names the record of the entry.
pub(crate) fn check_page(
    kind: Kind,
    run: Run,
    page: u32,
    items: &[Item],
    size: u64,
) -> std::result::Result<(), (Option<u64>, String)> {
    let seqs = run.seqs(size);
    for (i, item) in items.iter().enumerate() {
        if i > 0 && items[i - 1] >= *item {
            return Err((
                Some(item.1),
                format!(
                    "its entries are out of order at entry {i} (record {})",
                    item.1
                ),
            ));
        }
        if run.page_of(kind, &item.0) != page {
            return Err((
                Some(item.1),
                format!(
                    "entry {i} (record {}) belongs on page {}, where a lookup would find it",
                    item.1,
                    run.page_of(kind, &item.0)
                ),
            ));
        }
        if !seqs.contains(&item.1) {
            return Err((
                Some(item.1),
                format!(
                    "entry {i} names record {}, outside the records {}..{} the run covers",
                    item.1, seqs.start, seqs.end
                ),
            ));
        }
    }
    Ok(())
}

/// The sequence numbers a sorted page of `run` lists under `key` (every entry, for no
/// key).
fn find(kind: Kind, run: Run, bytes: &[u8], key: &[u8]) -> Vec<u64> {
    let start = run.seqs(u64::MAX).start;
    let len = kind.entry_len();
    let n = bytes.len() / len;
    let key = &key[..kind.key_len().min(key.len())];
    let at = |i: usize| &bytes[i * len..(i + 1) * len];
    // The first entry whose key is not below `key`.
    let (mut lo, mut hi) = (0, n);
    while lo < hi {
        let mid = lo + (hi - lo) / 2;
        if &at(mid)[..key.len()] < key {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    (lo..n)
        .map(at)
        .take_while(|e| &e[..key.len()] == key)
        .filter_map(|e| e[kind.key_len()..].try_into().ok().map(u32::from_be_bytes))
        .map(|offset| start.saturating_add(u64::from(offset)))
        .collect()
}

/// A lookup entry of one appended record.
pub(crate) struct NewEntry {
    pub kind: Kind,
    pub item: Item,
}

impl Store {
    fn lookup_page(&self, kind: Kind, run: Run, page: u32) -> Result<Option<sled::IVec>> {
        let page = self
            .ix()?
            .lookup
            .get(run.page_key(kind, page))
            .map_err(self.e())?;
        self.count_read(page.as_ref().map_or(0, |p| p.len()));
        Ok(page)
    }

    /// The sequence numbers `kind` lists under `key` (every one, for the authority list),
    /// in order: one page of each run.
    pub(crate) fn lookup(&self, kind: Kind, key: &[u8]) -> Result<Vec<u64>> {
        let size = self.indexed_size()?;
        let mut out = Vec::new();
        for run in runs(size) {
            if let Some(page) = self.lookup_page(kind, run, run.page_of(kind, key))? {
                out.extend(find(kind, run, &page, key));
            }
        }
        out.sort_unstable();
        Ok(out)
    }

    /// Whether `kind` holds the entry `(key, seq)` where a lookup would find it, for the
    /// audit to name the record whose entry is wrong.
    pub(crate) fn lookup_holds(&self, kind: Kind, key: &[u8], seq: u64) -> Result<bool> {
        let size = self.indexed_size()?;
        let Some(run) = run_of(size, seq) else {
            return Ok(false);
        };
        Ok(match self.lookup_page(kind, run, run.page_of(kind, key))? {
            Some(page) => find(kind, run, &page, key).contains(&seq),
            None => false,
        })
    }

    /// Every stored page (key and bytes) of `kind` in `run`.
    fn run_pages(&self, kind: Kind, run: Run) -> Result<Vec<(sled::IVec, sled::IVec)>> {
        self.ix()?
            .lookup
            .scan_prefix(run.prefix(kind))
            .map(|kv| kv.map_err(self.e()))
            .collect()
    }

    /// Writes into `batch` the lookup entries of the records `old_size..new_size`
    /// (`added`, in order of sequence): every run the new size has that holds one of
    /// them is written whole, from the runs it absorbs and the new entries; runs merged
    /// away are removed.
    pub(crate) fn grow_lookups(
        &self,
        batch: &mut sled::Batch,
        old_size: u64,
        new_size: u64,
        added: &[NewEntry],
    ) -> Result<()> {
        let (old_runs, new_runs) = (runs(old_size), runs(new_size));
        let kept: HashSet<Run> = new_runs.iter().copied().collect();
        for run in old_runs.iter().filter(|r| !kept.contains(r)) {
            for kind in Kind::ALL {
                for (k, _) in self.run_pages(kind, *run)? {
                    batch.remove(k);
                }
            }
        }
        for run in new_runs.iter().filter(|r| r.seqs(new_size).end > old_size) {
            let seqs = run.seqs(new_size);
            for kind in Kind::ALL {
                let mut items: Vec<Item> = added
                    .iter()
                    .filter(|e| e.kind == kind && seqs.contains(&e.item.1))
                    .map(|e| e.item)
                    .collect();
                for absorbed in old_runs.iter().filter(|o| run.contains(**o)) {
                    for (k, v) in self.run_pages(kind, *absorbed)? {
                        batch.remove(k.clone());
                        items.extend(decode_page(kind, *absorbed, &v).map_err(|why| {
                            Error::Damaged(format!(
                                "lookup page {} {why}; run `custody audit`",
                                hex::encode(&k)
                            ))
                        })?);
                    }
                }
                items.sort_unstable();
                let mut pages: Vec<(u32, Vec<u8>)> = Vec::new();
                for item in &items {
                    let page = run.page_of(kind, &item.0);
                    match pages.last_mut() {
                        Some((p, bytes)) if *p == page => encode(kind, seqs.start, item, bytes),
                        _ => {
                            let mut bytes = Vec::with_capacity(256 * kind.entry_len());
                            encode(kind, seqs.start, item, &mut bytes);
                            pages.push((page, bytes));
                        }
                    }
                }
                for (page, bytes) in pages {
                    batch.insert(&run.page_key(kind, page), bytes);
                }
            }
        }
        Ok(())
    }

    /// Calls `f` with every stored lookup page (key, bytes) in key order, for audits.
    pub(crate) fn scan_lookups(&self, f: impl FnMut(&[u8], &[u8])) -> Result<()> {
        self.scan(|ix| &ix.lookup, f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn runs_cover_the_ledger_once_like_the_digits_of_a_counter() {
        assert!(runs(0).is_empty());
        assert_eq!(runs(1), vec![Run { level: 0, first: 0 }]);
        assert_eq!(runs(256), vec![Run { level: 0, first: 0 }]);
        assert_eq!(
            runs(257),
            vec![Run { level: 0, first: 0 }, Run { level: 0, first: 1 }]
        );
        // 16 bundles are one level-1 run; 0x123 bundles and a partial one are 1 + 2 + 3 + 1.
        assert_eq!(runs(16 * 256), vec![Run { level: 1, first: 0 }]);
        let r = runs(0x123 * 256 + 5);
        let levels: Vec<u8> = r.iter().map(|r| r.level).collect();
        assert_eq!(levels, [2, 1, 1, 0, 0, 0, 0]);
        // Above the top level, runs add up rather than merge.
        let r = runs(3 * (1 << 20) + 256);
        assert_eq!(r.len(), 4);
        assert_eq!(
            r[2],
            Run {
                level: 3,
                first: 2 * 4096
            }
        );
        for size in [1u64, 255, 256, 4097, 65536, 70_001, 5_000_000] {
            let mut next = 0;
            for run in runs(size) {
                let s = run.seqs(size);
                assert_eq!(s.start, next, "contiguous at {size}");
                assert!(!s.is_empty());
                assert_eq!(run.first % run.bundles(), 0, "aligned");
                next = s.end;
                assert_eq!(run_of(size, s.start), Some(run));
            }
            assert_eq!(next, size);
            assert_eq!(run_of(size, size), None);
        }
    }

    #[test]
    fn page_keys_read_back_and_odd_ones_are_refused() {
        let run = Run {
            level: 2,
            first: 512,
        };
        let key = [0xab; 32];
        let page = run.page_of(Kind::Media, &key);
        assert_eq!(page, 0xab);
        let k = run.page_key(Kind::Media, page);
        assert_eq!(parse_page_key(&k), Some((Kind::Media, run, page)));
        assert_eq!(run.page_of(Kind::Authority, &[]), 0);
        let mut bad = k;
        bad[1] = TOP + 1;
        assert_eq!(parse_page_key(&bad), None, "level");
        let mut bad = k;
        bad[9] = 1; // first bundle 513: not aligned to 256
        assert_eq!(parse_page_key(&bad), None, "alignment");
        let mut bad = k;
        bad[10..].copy_from_slice(&256u32.to_be_bytes());
        assert_eq!(parse_page_key(&bad), None, "page past the run's 256");
        assert_eq!(parse_page_key(&run.page_key(Kind::Authority, 1)), None);
        // A run from the last aligned bundle there is: its entries read without overflow.
        let last = Run {
            level: 0,
            first: u64::MAX,
        };
        let k = last.page_key(Kind::Authority, 0);
        let (kind, run, _) = parse_page_key(&k).unwrap();
        let items = decode_page(kind, run, &[0xff; 8]).unwrap();
        assert_eq!(items[0].1, u64::MAX);
        assert_eq!(find(kind, run, &[0xff; 4], &[]), vec![u64::MAX]);
        assert_eq!(parse_page_key(&k[..13]), None);
        let mut bad = k;
        bad[0] = b'x';
        assert_eq!(parse_page_key(&bad), None, "kind");
    }

    #[test]
    fn a_page_is_searched_by_halves() {
        let m = |key: u8, seq| Kind::Media.item(&[key; 32], seq);
        let run = Run { level: 0, first: 0 };
        let items: Vec<Item> = vec![m(1, 4), m(2, 1), m(2, 7), m(9, 2)];
        let mut bytes = Vec::new();
        for i in &items {
            encode(Kind::Media, 0, i, &mut bytes);
        }
        assert_eq!(
            bytes.len(),
            4 * 20,
            "16 bytes of key and a 4-byte offset each"
        );
        assert_eq!(decode_page(Kind::Media, run, &bytes).unwrap(), items);
        assert_eq!(find(Kind::Media, run, &bytes, &[2; 32]), vec![1, 7]);
        assert_eq!(find(Kind::Media, run, &bytes, &[9; 32]), vec![2]);
        assert!(find(Kind::Media, run, &bytes, &[3; 32]).is_empty());
        assert!(find(Kind::Media, run, &bytes, &[0; 32]).is_empty());
        assert!(decode_page(Kind::Media, run, &bytes[1..]).is_err());
        assert!(decode_page(Kind::Media, run, &[]).is_err());
        // Offsets count from the run's first record.
        let later = Run {
            level: 1,
            first: 32,
        };
        assert_eq!(
            decode_page(Kind::Media, later, &bytes).unwrap()[0],
            m(1, 32 * 256 + 4)
        );
        assert_eq!(
            find(Kind::Media, later, &bytes, &[2; 32]),
            vec![32 * 256 + 1, 32 * 256 + 7]
        );
        assert!(check_page(Kind::Media, run, 0, &items, 10).is_ok());
        assert!(check_page(Kind::Media, run, 0, &items, 5).is_err(), "seq 7");
        let mut swapped = items.clone();
        swapped.swap(1, 2);
        assert!(check_page(Kind::Media, run, 0, &swapped, 10).is_err());
        let run1 = Run { level: 1, first: 0 };
        assert!(check_page(Kind::Media, run1, 0, &[m(0x11, 3)], 10).is_err());
        assert!(check_page(Kind::Media, run1, 0, &[m(0, 3)], 10).is_ok());
    }

    /// Appends in batches of varied sizes (single records at the merge points) must leave
    /// exactly the pages a ledger of that size has when built from its entries at once,
    /// through merges into levels 1 and 2, and every lookup must find what was appended.
    #[test]
    fn appended_runs_equal_runs_built_at_once_and_lookups_find_everything() {
        use crate::store::{Entry, Store};
        use sha2::{Digest, Sha256};
        let h = |tag: &str, n: u64| -> [u8; 32] {
            Sha256::digest(format!("{tag}{n}").as_bytes()).into()
        };
        let entry = |seq: u64| Entry {
            seq,
            bytes: seq.to_be_bytes().to_vec(),
            leaf: h("leaf", seq),
            // Every file twice or more: one SHA-256 maps to several records.
            media: (!seq.is_multiple_of(3)).then(|| h("file", seq % 1000)),
            commitment: seq.is_multiple_of(3).then(|| h("text", seq)),
            genesis: None,
            authority: seq.is_multiple_of(97),
        };
        let dir = tempfile::tempdir().unwrap();
        let store = Store::create(dir.path()).unwrap();
        let total = 16 * 16 * 256 + 300; // past the first level-2 merge
        let mut size = 0u64;
        let mut step = 0u64;
        while size < total {
            step += 1;
            // Mostly large batches; single records around every 16th bundle.
            let near_merge = (size / 256) % 16 == 15;
            let n = if near_merge {
                1 + step % 7
            } else {
                1 + (step * 7919) % 2500
            };
            let n = n.min(total - size);
            let entries: Vec<Entry> = (size..size + n).map(entry).collect();
            store.index(&entries, &[], 0).unwrap();
            size += n;
        }
        // The pages as built from all the entries at once.
        let mut expected = std::collections::BTreeMap::new();
        for run in runs(size) {
            for kind in Kind::ALL {
                let mut items: Vec<Item> = run
                    .seqs(size)
                    .map(entry)
                    .filter_map(|e| {
                        let key = match kind {
                            Kind::Leaf => Some(e.leaf),
                            Kind::Media => e.media,
                            Kind::Content => e.commitment,
                            Kind::Authority => e.authority.then_some([0; 32]),
                        };
                        key.map(|k| kind.item(&k, e.seq))
                    })
                    .collect();
                items.sort_unstable();
                let start = run.seqs(size).start;
                for item in items {
                    let page = run.page_key(kind, run.page_of(kind, &item.0)).to_vec();
                    encode(
                        kind,
                        start,
                        &item,
                        expected.entry(page).or_insert_with(Vec::new),
                    );
                }
            }
        }
        let mut stored = std::collections::BTreeMap::new();
        store
            .scan_lookups(|k, v| {
                stored.insert(k.to_vec(), v.to_vec());
            })
            .unwrap();
        assert_eq!(stored.len(), expected.len(), "page count");
        assert!(stored == expected, "pages differ from those built at once");
        assert!(runs(size).iter().any(|r| r.level == 2), "a level-2 run");
        // Lookups.
        for seq in [0, 1, 255, 256, 4095, 4096, 65535, 65536, size - 1] {
            assert_eq!(store.seq_of_leaf(&h("leaf", seq)).unwrap(), Some(seq));
            assert!(
                store
                    .lookup_holds(Kind::Leaf, &h("leaf", seq), seq)
                    .unwrap()
            );
            assert!(
                !store
                    .lookup_holds(Kind::Leaf, &h("leaf", seq), seq + 1)
                    .unwrap()
            );
        }
        assert_eq!(store.seq_of_leaf(&h("leaf", size)).unwrap(), None);
        let file7: Vec<u64> = (0..size).filter(|s| s % 3 != 0 && s % 1000 == 7).collect();
        assert_eq!(store.media_seqs(&h("file", 7)).unwrap(), file7);
        let authority: Vec<u64> = (0..size).filter(|s| s % 97 == 0).collect();
        assert_eq!(store.authority_seqs().unwrap(), authority);
        assert_eq!(
            store.lookup(Kind::Content, &h("text", 3000)).unwrap(),
            vec![3000]
        );
    }
}
