//! Ingest: statements signed away from the ledger (a `.cst` file, or a request to
//! `custody serve`) pass the same gate as any append, each on its own: one refused does not
//! stop the others, one already in the ledger is not appended again, and all that pass are
//! written as one batch (one journal fsync), each text before the record that commits to it.

use super::append::check_signed;
use super::*;
use crate::field::{FieldItem, SealedText};
use crate::store::Item;
use std::collections::HashMap;
use zeroize::Zeroizing;

/// What became of one ingested statement.
#[derive(Debug, Clone, Serialize, serde::Deserialize, PartialEq, Eq)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum Ingested {
    /// Appended as record `seq`.
    Appended {
        /// Its sequence number.
        seq: u64,
        /// Its leaf hash, hex.
        leaf_hash: String,
        /// Its kind.
        kind: String,
        /// The signer's clock when signing (unix ms), as the statement claims it.
        claimed_at_ms: u64,
        /// The ledger's clock when it recorded it (unix ms).
        recorded_at_ms: u64,
    },
    /// This exact signed statement is record `seq` already; nothing was appended.
    Already {
        /// The record that holds it.
        seq: u64,
        /// Its kind.
        kind: String,
    },
    /// Refused, for `reason`; nothing of it was written.
    Refused {
        /// Its kind.
        kind: String,
        /// Why, in words that name the fix.
        reason: String,
        /// The typed rule that refused it, when a rule of section 4 did; none for a bad
        /// signature or a sealed text that does not match its statement.
        rule: Option<Code>,
    },
}

impl Ingested {
    /// Whether it was refused.
    pub fn refused(&self) -> bool {
        matches!(self, Ingested::Refused { .. })
    }
}

/// Statements to ingest, each with the verdict of its signature (checked on all cores,
/// apart from the ledger, so that a server checks them while the ledger writes others).
/// Only [`Checked::new`] makes one.
pub struct Checked {
    items: Vec<FieldItem>,
    signatures: Vec<Result<()>>,
}

impl Checked {
    /// Checks each statement's canonical bytes and signature (the strict rule).
    pub fn new(items: Vec<FieldItem>) -> Self {
        use rayon::prelude::*;
        let check = |i: &FieldItem| {
            check_signed(
                &i.signed.statement,
                &i.signed.bytes,
                Some(&i.signed.signature),
            )?;
            i.text.as_ref().map_or(Ok(()), |t| t.check(&i.signed))
        };
        // A few statements (a server's usual request) are checked on the calling thread:
        // handing them to the pool and waiting costs more than the checks.
        let signatures = if items.len() < 16 {
            items.iter().map(check).collect()
        } else {
            items.par_iter().map(check).collect()
        };
        Checked { items, signatures }
    }

    /// How many statements.
    pub fn len(&self) -> usize {
        self.items.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    /// The statements of several, in order (a server's group of requests).
    pub fn join(all: impl IntoIterator<Item = Checked>) -> Checked {
        let mut out = Checked {
            items: Vec::new(),
            signatures: Vec::new(),
        };
        for c in all {
            out.items.extend(c.items);
            out.signatures.extend(c.signatures);
        }
        out
    }
}

/// A text as it will be stored: sealed as it came, or (in a ledger that keeps texts in
/// plain) opened.
enum Keep {
    Sealed(SealedText),
    Plain([u8; 32], Zeroizing<Vec<u8>>),
}

impl Ledger {
    /// Ingests signed statements (each with its sealed text when it commits to one), in
    /// order, as one batch: every signature and rule is checked for each; a refusal is that
    /// statement's outcome, not an error. With `identity`, each sealed text is opened and
    /// must match its commitment and length; without, its age header and exact sizes are
    /// checked (a ledger that keeps texts in plain needs the identity to store them).
    /// An error means nothing of the batch was acknowledged. The statements are independent:
    /// a crash while they are written may keep the first of them (they are then "already"
    /// there when sent again), never a record that was not admitted.
    ///
    /// Not taken from the field: an erasure (`custody erase` records it and destroys the
    /// keys in one step at headquarters) and, with `serving`, a change of the ledger key
    /// (the server signs checkpoints with the key it was started with).
    pub fn ingest(
        &mut self,
        checked: Checked,
        identity: Option<&age::x25519::Identity>,
        now_ms: u64,
        serving: bool,
    ) -> Result<Vec<Ingested>> {
        self.check_writable()?;
        let Checked { items, signatures } = checked;
        let mut batch = self.batch(now_ms);
        let mut out = Vec::with_capacity(items.len());
        let mut keep: Vec<(Hash, Keep)> = Vec::new();
        let mut seen = Seen::default();
        for (item, signature) in items.into_iter().zip(signatures) {
            let kind = item.kind().to_string();
            let refuse = |reason: String, rule: Option<Code>| Ingested::Refused {
                kind: kind.clone(),
                reason,
                rule,
            };
            if let Err(e) = signature {
                out.push(refuse(e.to_string(), None));
                continue;
            }
            let st = &item.signed.statement;
            match st.body {
                Body::Erase { .. } => {
                    out.push(refuse(
                        "an erasure is not taken from the field: an admin runs `custody erase` at headquarters, which records it and destroys the text's keys in one step".into(),
                        None,
                    ));
                    continue;
                }
                Body::LedgerKey { .. } if serving => {
                    out.push(refuse(
                        "the ledger key is not changed through the server, which signs checkpoints with the key it was started with: stop it, run `custody key rotate`, and start it with the new key".into(),
                        None,
                    ));
                    continue;
                }
                _ => {}
            }
            let digest = rules::statement_digest(st);
            if let Some(seq) = self.recorded_as(st, &digest, &mut seen)? {
                out.push(Ingested::Already {
                    seq,
                    kind: kind.clone(),
                });
                continue;
            }
            let text = match (st.body.text(0), item.text) {
                (Some((commitment, len, _)), Some(t)) => {
                    // Sealed or kept plain as the records before it say, those of this
                    // batch included (a seal-to just admitted seals the texts after it).
                    match check_text(&commitment, len, t, identity, &batch.recipients()) {
                        Ok(k) => Some((commitment, k)),
                        Err(reason) => {
                            out.push(refuse(reason, None));
                            continue;
                        }
                    }
                }
                (None, None) => None,
                _ => {
                    out.push(refuse(
                        "the statement and its text do not go together (a text where none is committed to, or none where one is)".into(),
                        None,
                    ));
                    continue;
                }
            };
            // A text already in the store would be another record's: "a text counts once"
            // refuses the statement below; nothing is written over it.
            let claimed_at_ms = st.claimed_at_ms;
            match batch.push(&self.store, item.signed) {
                Ok(a) => {
                    seen.batch.insert(digest, a.seq);
                    out.push(Ingested::Appended {
                        seq: a.seq,
                        leaf_hash: a.leaf_hash,
                        kind,
                        claimed_at_ms,
                        recorded_at_ms: batch.recorded_at,
                    });
                    keep.extend(text);
                }
                Err(v) => out.push(refuse(format!("refused: {v}"), Some(v.code))),
            }
        }
        // Each text is durable before the record that commits to it. The rules admitted no
        // record that commits to it, so a file of the same commitment is what an append
        // that was never acknowledged left (a crash between the text and its record): it
        // gives way.
        let mut written: Vec<Hash> = Vec::new();
        let mut result = Ok(());
        for (commitment, k) in &keep {
            self.store.remove_content(commitment);
            self.store.remove_sealed(Item::Text(*commitment));
            let r = match k {
                Keep::Sealed(t) => {
                    self.store
                        .write_sealed(Item::Text(*commitment), &t.ciphertext, &t.wrapped_key)
                }
                Keep::Plain(salt, text) => self.store.write_content(commitment, salt, text),
            };
            match r {
                Ok(()) => written.push(*commitment),
                Err(e) => {
                    result = Err(e);
                    break;
                }
            }
        }
        let result = result.and_then(|()| self.commit(batch, false));
        if result.is_err() {
            for c in &written {
                self.store.remove_content(c);
                self.store.remove_sealed(Item::Text(*c));
            }
        }
        result.map(|()| out)
    }

    /// The record (or batch entry) that is this exact statement (its digest `digest`), if
    /// any. Evidence is found through the records of its file or text, each of which is read
    /// once per ingest however many statements name the same file.
    fn recorded_as(&self, st: &Statement, digest: &Hash, seen: &mut Seen) -> Result<Option<u64>> {
        if let Some(seq) = seen.batch.get(digest) {
            return Ok(Some(*seq));
        }
        let (key, candidates) = match &st.body {
            Body::Media(m) => (
                m.sha256,
                Store::media_seqs as fn(&Store, &Hash) -> Result<Vec<u64>>,
            ),
            b => match b.text(0) {
                Some((commitment, _, _)) => (commitment, Store::content_seqs as _),
                None => return Ok(self.authority.seen_at(digest)),
            },
        };
        if let std::collections::hash_map::Entry::Vacant(slot) = seen.by_key.entry(key) {
            let mut digests = HashMap::new();
            let mut bundle: Option<(u64, Vec<Vec<u8>>)> = None;
            for seq in candidates(&self.store, &key)? {
                if seq >= self.size {
                    continue;
                }
                let index = seq / crate::tiles::WIDTH;
                if bundle.as_ref().map(|(i, _)| *i) != Some(index) {
                    bundle = self.store.bundle(index, self.size)?.map(|b| (index, b));
                }
                let bytes = bundle
                    .as_ref()
                    .and_then(|(_, b)| b.get((seq % crate::tiles::WIDTH) as usize));
                if let Some(r) = bytes.and_then(|b| Record::decode(b).ok()) {
                    let d: Hash = <sha2::Sha256 as sha2::Digest>::digest(&r.statement_bytes).into();
                    digests.entry(d).or_insert(seq);
                }
            }
            slot.insert(digests);
        }
        Ok(seen.by_key.get(&key).and_then(|d| d.get(digest)).copied())
    }
}

/// What one ingest has learnt of the statements already recorded: the statements of the
/// records of each file or text looked up (by digest), and the statements it admitted.
#[derive(Default)]
struct Seen {
    by_key: HashMap<Hash, HashMap<Hash, u64>>,
    batch: HashMap<Hash, u64>,
}

/// Checks a text sealed away from the ledger against its statement's commitment and
/// length, and says how it will be kept; `Err` is the reason to refuse it.
fn check_text(
    commitment: &Hash,
    len: u64,
    t: SealedText,
    identity: Option<&age::x25519::Identity>,
    recipients: &Result<Option<Vec<age::x25519::Recipient>>>,
) -> std::result::Result<Keep, String> {
    let plain_len = len
        .checked_add(32)
        .ok_or("the statement's content length is impossible")?;
    crate::seal::check_shape(&mut &t.ciphertext[..], t.ciphertext.len() as u64, plain_len)
        .map_err(|e| format!("the sealed text is not what its statement commits to: {e}"))?;
    crate::seal::check_shape(
        &mut &t.wrapped_key[..],
        t.wrapped_key.len() as u64,
        crate::seal::ITEM_KEY_LEN,
    )
    .map_err(|e| format!("the wrapped item key is not an age file of an item key: {e}"))?;
    let opened = match identity {
        None => None,
        Some(id) => {
            let plain = crate::seal::open(&t.ciphertext, &t.wrapped_key, id).map_err(|e| {
                format!("the sealed text does not open with the identity given ({e}): it was sealed to other recipients than headquarters'")
            })?;
            if plain.len() as u64 != plain_len {
                return Err("the sealed text's length is not the committed one".into());
            }
            let mut salt = [0u8; 32];
            salt.copy_from_slice(&plain[..32]);
            if &record::commitment(&salt, &plain[32..]) != commitment {
                return Err(
                    "the sealed text does not match the statement's commitment (another text, or altered)"
                        .into(),
                );
            }
            Some((salt, Zeroizing::new(plain[32..].to_vec())))
        }
    };
    match recipients {
        Err(e) => Err(e.to_string()),
        // Opened here: its item key is wrapped anew to exactly the recipients in force (a
        // device may have sealed to recipients since replaced, which could not open it).
        Ok(Some(to)) => match identity {
            Some(id) => crate::seal::rewrap(&t.wrapped_key, id, to)
                .map(|wrapped_key| Keep::Sealed(SealedText { wrapped_key, ..t }))
                .map_err(|e| e.to_string()),
            None => Ok(Keep::Sealed(t)),
        },
        Ok(None) => match opened {
            Some((salt, text)) => Ok(Keep::Plain(salt, text)),
            None => Err(
                "this ledger keeps its texts in plain (it names no content recipients): give the identity the text was sealed to (--identity) so that it can be stored, or name recipients first with `custody seal-to --add`".into(),
            ),
        },
    }
}
