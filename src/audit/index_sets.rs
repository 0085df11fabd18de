//! The lookup indexes against the records, as sets: their pages are read once, in key
//! order, each checked for what lookups rely on (a page the layout has, entries in order,
//! each on its page and in its run), and their entries compared with those the journal's
//! records call for by a count and a sum of keyed hashes; only when a set differs is each
//! record's own entry looked up, to name it.

use super::Auditor;
use crate::Hash;
use crate::error::Result;
use crate::record::{Body, Record, leaf_hash};
use crate::rules::{Authority, Code};
use crate::store::journal::MAGIC;
use crate::store::lookup::{self, Kind};
use std::collections::{BTreeSet, HashMap};

/// One set of index entries per lookup index, in [`Kind::ALL`] order.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub(super) struct IndexSets([EntrySet; 4]);

/// A set of index entries, held as its size and the sum of a keyed hash of each entry.
/// The key is drawn at random for each audit, after the index was written, so nobody who
/// altered the index can make a different set sum to the same value; two sets with equal
/// digests are equal except with probability about 2^-256.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
struct EntrySet {
    count: u64,
    sum: [u64; 4],
}

impl EntrySet {
    fn add(&mut self, set_key: &Hash, key: &[u8], value: &[u8]) {
        use sha2::Digest;
        let mut h = sha2::Sha256::new();
        h.update(set_key);
        h.update((key.len() as u32).to_be_bytes());
        h.update(key);
        h.update(value);
        let d = h.finalize();
        for (lane, bytes) in self.sum.iter_mut().zip(d.chunks_exact(8)) {
            let mut b = [0u8; 8];
            b.copy_from_slice(bytes);
            *lane = lane.wrapping_add(u64::from_le_bytes(b));
        }
        self.count += 1;
    }
}

/// The finding code of each lookup index, in [`Kind::ALL`] order.
const CODES: [Code; 4] = [
    Code::LeafIndex,
    Code::MediaIndex,
    Code::ContentIndex,
    Code::AuthorityIndex,
];

fn code(kind: Kind) -> Code {
    CODES[kind as usize]
}

impl Auditor<'_> {
    /// The leaf index entry of the record at position `seq`, decodable or not (SPEC.md
    /// section 8), added to the expected set.
    pub(super) fn expect_leaf_entry(&mut self, seq: u64, leaf: &Hash) {
        let key = self.set_key;
        self.expected.0[0].add(&key, lookup_key(Kind::Leaf, leaf), &seq.to_be_bytes());
    }

    /// The media, content and authority entries a record's statement calls for (SPEC.md
    /// section 8), added to the expected sets.
    pub(super) fn expect_body_entries(&mut self, seq: u64, body: &Body) {
        let (key, s) = (self.set_key, seq.to_be_bytes());
        let [_, media, content, authority] = &mut self.expected.0;
        if let Body::Media(m) = body {
            media.add(&key, lookup_key(Kind::Media, &m.sha256), &s);
        }
        if let Some(c) = content_commitment(body) {
            content.add(&key, lookup_key(Kind::Content, c), &s);
        }
        if Authority::is_authority_record(body) {
            authority.add(&key, &[], &s);
        }
    }

    /// Looks up the index entries of the record at position `seq` (its statement, when it
    /// decodes), to name the record whose entry is wrong once the sets are known to differ.
    /// Returns, per index tree, whether a finding named a record.
    fn check_index_entries(
        &mut self,
        seq: u64,
        leaf: &Hash,
        body: Option<&Body>,
    ) -> Result<[bool; 4]> {
        let store = self.ledger.store();
        let mut named = [false; 4];
        if !store.lookup_holds(Kind::Leaf, leaf, seq)? {
            named[0] = true;
            self.find(
                Some(seq),
                Code::LeafIndex,
                format!("the leaf index does not map record {seq}'s hash to it"),
            );
        }
        let Some(body) = body else {
            return Ok(named);
        };
        if let Body::Media(m) = body
            && !store.lookup_holds(Kind::Media, &m.sha256, seq)?
        {
            named[1] = true;
            self.find(
                Some(seq),
                Code::MediaIndex,
                format!("the media index does not list record {seq} under its file hash"),
            );
        }
        if let Some(c) = content_commitment(body)
            && !store.lookup_holds(Kind::Content, c, seq)?
        {
            named[2] = true;
            self.find(
                Some(seq),
                Code::ContentIndex,
                format!("the content index does not map record {seq}'s commitment to it"),
            );
        }
        let listed = store.lookup_holds(Kind::Authority, &[], seq)?;
        let must_list = Authority::is_authority_record(body);
        if listed != must_list {
            named[3] = true;
            self.find(
                Some(seq),
                Code::AuthorityIndex,
                format!(
                    "the authority index {} record {seq} ({}), which it {}",
                    if listed { "lists" } else { "omits" },
                    body.kind(),
                    if must_list { "must list" } else { "must not" }
                ),
            );
        }
        Ok(named)
    }

    /// Reads every stored lookup page once: each must be a page of the layout of an index
    /// of `size` records, whole entries in order, each on its page and in its run (a lookup
    /// would miss it otherwise); every entry read goes into the held sets.
    fn read_lookup_pages(&mut self, size: u64) -> Result<IndexSets> {
        let store = self.ledger.store();
        let runs: BTreeSet<lookup::Run> = lookup::runs(size).into_iter().collect();
        let mut held = IndexSets::default();
        let mut problems = Vec::new();
        store.scan_lookups(|k, v| {
            let Some((kind, run, page)) = lookup::parse_page_key(k) else {
                let kind = k
                    .first()
                    .and_then(|t| Kind::ALL.into_iter().find(|x| x.tag() == *t));
                problems.push((
                    kind.unwrap_or(Kind::Leaf),
                    None,
                    format!(
                        "the lookup tree holds {}, which is no page key of its layout",
                        hex::encode(k)
                    ),
                ));
                return;
            };
            let shown = format!(
                "lookup page {} (the {kind:?} run of level {} from bundle {}, page {page})",
                hex::encode(k),
                run.level,
                run.first
            );
            if !runs.contains(&run) {
                problems.push((
                    kind,
                    None,
                    format!("{shown} is of a run an index of {size} records does not have"),
                ));
            }
            let items = match lookup::decode_page(kind, run, v) {
                Ok(items) => items,
                Err(why) => {
                    problems.push((kind, None, format!("{shown}: {why}")));
                    return;
                }
            };
            if let Err((seq, why)) = lookup::check_page(kind, run, page, &items, size) {
                // A finding names a record the ledger has.
                problems.push((kind, seq.filter(|&s| s < size), format!("{shown}: {why}")));
            }
            for (key, seq) in &items {
                held.0[kind as usize].add(
                    &self.set_key,
                    &key[..kind.key_len()],
                    &seq.to_be_bytes(),
                );
            }
        })?;
        for (kind, seq, message) in problems {
            self.find(seq, code(kind), message);
        }
        Ok(held)
    }

    /// The lookup indexes must hold exactly the entries the records call for, where a
    /// lookup finds them: an injected entry would make a lookup (such as `verify --file`)
    /// point somewhere it should not, a missing or misplaced one would hide a record.
    /// `records` is how many of the journal's records the index should hold.
    pub(super) fn check_index_sets(&mut self, records: u64) -> Result<()> {
        let store = self.ledger.store();
        let held = self.read_lookup_pages(records)?;
        if held == self.expected {
            return Ok(());
        }
        let differs: Vec<bool> = (0..4).map(|i| held.0[i] != self.expected.0[i]).collect();
        // The keys the records give, for the lookups that differ: each entry that names a
        // record which does not call for it is then named too.
        let mut keys_of: [HashMap<u64, Hash>; 4] = Default::default();
        let mut named = [false; 4];
        for (i, f) in store
            .journal()
            .frames_from(MAGIC.len() as u64)?
            .take(records as usize)
            .enumerate()
        {
            let (f, seq) = (f?, i as u64);
            let leaf = leaf_hash(&f.bytes);
            let body = Record::decode(&f.bytes).ok().map(|r| r.statement.body);
            let found = self.check_index_entries(seq, &leaf, body.as_ref())?;
            for (n, f) in named.iter_mut().zip(found) {
                *n |= f;
            }
            if differs[0] {
                keys_of[0].insert(seq, leaf);
            }
            match &body {
                Some(Body::Media(m)) if differs[1] => {
                    keys_of[1].insert(seq, m.sha256);
                }
                Some(b) if differs[2] => {
                    if let Some(c) = content_commitment(b) {
                        keys_of[2].insert(seq, *c);
                    }
                }
                _ => {}
            }
        }
        // (The authority list has no keys: an entry for a record that is not an
        // authority record is named above.)
        let mut injected = Vec::new();
        store.scan_lookups(|k, v| {
            let Some((kind, run, _)) = lookup::parse_page_key(k) else {
                return;
            };
            if kind == Kind::Authority || !differs[kind as usize] {
                return;
            }
            for (key, seq) in lookup::decode_page(kind, run, v).unwrap_or_default() {
                let called_for = keys_of[kind as usize]
                    .get(&seq)
                    .map(|k| kind.item(k, seq).0);
                if called_for != Some(key) {
                    injected.push((kind, seq, key));
                }
            }
        })?;
        for (kind, seq, key) in injected {
            named[kind as usize] = true;
            let seq_named = (seq < records).then_some(seq);
            let what = match kind {
                Kind::Leaf => "leaf hash",
                Kind::Media => "file SHA-256",
                _ => "commitment",
            };
            self.find(
                seq_named,
                code(kind),
                format!(
                    "the {} maps the {what} that starts {} to record {seq}, which does not hold it (an entry no record calls for)",
                    code(kind),
                    hex::encode(&key[..kind.key_len()])
                ),
            );
        }
        for (i, code) in CODES.iter().enumerate() {
            let (h, e) = (held.0[i], self.expected.0[i]);
            if h.count != e.count {
                self.find(
                    None,
                    *code,
                    format!("the {code} holds {} entries, the journal's records account for {} (an entry was injected or removed)", h.count, e.count),
                );
            } else if h != e && !named[i] {
                self.find(
                    None,
                    *code,
                    format!(
                        "the {code} holds entries other than those the journal's records call for"
                    ),
                );
            }
        }
        Ok(())
    }
}

/// The bytes of a hash a lookup keeps as an entry's key.
fn lookup_key(kind: Kind, hash: &Hash) -> &[u8] {
    &hash[..kind.key_len()]
}

/// The commitment a statement enters in the content index: a testimony's, or an
/// amendment's new text.
fn content_commitment(body: &Body) -> Option<&Hash> {
    match body {
        Body::Testimony(t) => Some(&t.commitment),
        Body::Amend(crate::record::Amendment {
            content: Some((c, _)),
            ..
        }) => Some(c),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(key: &Hash, entries: &[(&[u8], &[u8])]) -> EntrySet {
        let mut s = EntrySet::default();
        for (k, v) in entries {
            s.add(key, k, v);
        }
        s
    }

    #[test]
    fn entry_sets_compare_as_sets() {
        let key = [3; 32];
        let a: &[(&[u8], &[u8])] = &[(b"k1", b"v1"), (b"k2", b"v2"), (b"k3", b"")];
        let reordered: &[(&[u8], &[u8])] = &[(b"k3", b""), (b"k1", b"v1"), (b"k2", b"v2")];
        assert_eq!(set(&key, a), set(&key, reordered), "order does not matter");
        // A changed value, a moved boundary between key and value, an entry swapped for
        // another: each gives another digest.
        let e = |k: &'static str, v: &'static str| (k.as_bytes(), v.as_bytes());
        let changed_value = [e("k1", "v1"), e("k2", "v3"), e("k3", "")];
        let moved_boundary = [e("k1", "v1"), e("k2v", "2"), e("k3", "")];
        let swapped = [e("k1", "v1"), e("k2", "v2"), e("k4", "")];
        for other in [&changed_value, &moved_boundary, &swapped] {
            assert_ne!(set(&key, a), set(&key, other));
        }
        // Under another key the same set sums differently (the key is per audit).
        assert_ne!(set(&key, a).sum, set(&[4; 32], a).sum);
    }
}
