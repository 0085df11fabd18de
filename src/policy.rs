//! Witness policies in the Sigsum policy format (sigsum-go `doc/policy.md`): which ledger
//! keys are accepted (`log`), which witnesses are known (`witness NAME KEY [URL]`), how
//! they group (`group NAME all|any|K MEMBER...`) and which quorum a checkpoint needs
//! (`quorum NAME`, or `quorum none`). A list of public witnesses can be used as published.
//!
//! Keys are raw hex Ed25519 public keys. A witness's policy name is local to the file; its
//! cosignature is found by the key ID its own key name and key give (c2sp.org/signed-note),
//! and verified before it counts.

use crate::checkpoint::Checkpoint;
use crate::note;
use std::collections::{BTreeMap, BTreeSet};

/// The most lines a policy may have (a published list of witnesses has a few dozen).
const MAX_LINES: usize = 2000;

/// A parsed policy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Policy {
    /// Accepted ledger keys (none listed: any).
    pub logs: Vec<[u8; 32]>,
    /// Known witnesses: policy name, key, URL.
    pub witnesses: Vec<(String, [u8; 32], Option<String>)>,
    nodes: Vec<Node>,
    quorum: Option<usize>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Node {
    Witness(usize),
    Group { k: usize, members: Vec<usize> },
}

/// Gives `name` to `node`; a name is defined once, and `none` is the policy's own.
fn define(
    names: &mut BTreeMap<String, usize>,
    p: &mut Policy,
    line: usize,
    name: &str,
    node: Node,
) -> Result<(), String> {
    if name == "none" || names.contains_key(name) {
        return Err(format!("line {line}: the name '{name}' is taken"));
    }
    p.nodes.push(node);
    names.insert(name.to_owned(), p.nodes.len() - 1);
    Ok(())
}

fn hex_key(s: &str, line: usize) -> Result<[u8; 32], String> {
    let bytes = hex::decode(s).map_err(|_| format!("line {line}: '{s}' is not a hex key"))?;
    bytes
        .try_into()
        .map_err(|_| format!("line {line}: a key is 32 bytes (64 hex digits)"))
}

impl Policy {
    /// Parses a policy, strictly: every name defined before it is used, no name twice,
    /// exactly one quorum line.
    pub fn parse(text: &str) -> Result<Policy, String> {
        let mut names: BTreeMap<String, usize> = BTreeMap::new();
        let mut p = Policy {
            logs: Vec::new(),
            witnesses: Vec::new(),
            nodes: Vec::new(),
            quorum: None,
        };
        let mut quorum_lines = 0;
        // The witnesses under each node: a group's members must not share one, or a single
        // cosignature would count twice (through two members, or two subgroups).
        let mut under: Vec<BTreeSet<usize>> = Vec::new();
        if text.lines().count() > MAX_LINES {
            return Err(format!("a policy has at most {MAX_LINES} lines"));
        }
        for (i, raw) in text.lines().enumerate() {
            let n = i + 1;
            let line = raw.split('#').next().unwrap_or_default();
            let words: Vec<&str> = line.split_whitespace().collect();
            let Some((&kind, args)) = words.split_first() else {
                continue;
            };
            match (kind, args) {
                ("log", [key]) | ("log", [key, _]) => p.logs.push(hex_key(key, n)?),
                ("witness", [name, key]) | ("witness", [name, key, _]) => {
                    let url = args.get(2).map(|u| (*u).to_owned());
                    let key = hex_key(key, n)?;
                    // One key, one witness: under two names it would count twice.
                    if p.witnesses.iter().any(|(_, k, _)| *k == key) {
                        return Err(format!("line {n}: this witness key is already listed"));
                    }
                    p.witnesses.push(((*name).to_owned(), key, url));
                    under.push(BTreeSet::from([p.witnesses.len() - 1]));
                    let node = Node::Witness(p.witnesses.len() - 1);
                    define(&mut names, &mut p, n, name, node)?;
                }
                ("group", [name, k, members @ ..]) if !members.is_empty() => {
                    let ids = members
                        .iter()
                        .map(|m| {
                            names
                                .get(*m)
                                .copied()
                                .ok_or_else(|| format!("line {n}: '{m}' is not defined above"))
                        })
                        .collect::<Result<Vec<_>, _>>()?;
                    if ids.iter().enumerate().any(|(i, id)| ids[..i].contains(id)) {
                        return Err(format!("line {n}: a group names each member once"));
                    }
                    let mut all = BTreeSet::new();
                    for id in &ids {
                        for w in &under[*id] {
                            if !all.insert(*w) {
                                return Err(format!(
                                    "line {n}: the members of '{name}' share the witness '{}', whose one cosignature would count twice",
                                    p.witnesses[*w].0
                                ));
                            }
                        }
                    }
                    under.push(all);
                    let k = match *k {
                        "all" => ids.len(),
                        "any" => 1,
                        k => k
                            .parse::<usize>()
                            .ok()
                            .filter(|&k| k >= 1 && k <= ids.len())
                            .ok_or_else(|| {
                                format!("line {n}: '{k}' is not all, any or 1 to {}", ids.len())
                            })?,
                    };
                    define(&mut names, &mut p, n, name, Node::Group { k, members: ids })?;
                }
                ("quorum", [name]) => {
                    quorum_lines += 1;
                    p.quorum = if *name == "none" {
                        None
                    } else {
                        Some(names.get(*name).copied().ok_or_else(|| {
                            format!("line {n}: the quorum '{name}' is not defined above")
                        })?)
                    };
                }
                _ => {
                    return Err(format!(
                        "line {n}: expected 'log KEY [URL]', 'witness NAME KEY [URL]', 'group NAME all|any|K NAME...' or 'quorum NAME|none', found '{}'",
                        raw.trim()
                    ));
                }
            }
        }
        if let Some((name, _, _)) = p.witnesses.iter().find(|(_, k, _)| p.logs.contains(k)) {
            return Err(format!(
                "the witness '{name}' has a log's key: a ledger cannot witness itself"
            ));
        }
        if quorum_lines != 1 {
            return Err(format!(
                "a policy has exactly one quorum line ('quorum NAME' or 'quorum none'); this one has {quorum_lines}"
            ));
        }
        Ok(p)
    }

    /// The policy names of the known witnesses whose cosignature on `signed` (a
    /// checkpoint note) verifies over `cp`.
    pub fn cosigners(&self, signed: &str, cp: &Checkpoint) -> Vec<String> {
        let lines = note::signature_lines(signed);
        self.witnesses
            .iter()
            .filter(|(_, key, _)| {
                lines.iter().any(|s| {
                    s.key_id == note::typed_key_id(&s.name, note::TYPE_COSIGNATURE_V1, key)
                        && note::open_cosignature(signed, &s.name, key)
                            .is_ok_and(|(text, _)| text == cp.body())
                })
            })
            .map(|(name, _, _)| name.clone())
            .collect()
    }

    /// Whether a checkpoint signed by `ledger_key` with these cosignatures meets the
    /// policy; if not, why.
    pub fn check(
        &self,
        signed: &str,
        cp: &Checkpoint,
        ledger_key: &[u8; 32],
    ) -> Result<Vec<String>, String> {
        if !self.logs.is_empty() && !self.logs.contains(ledger_key) {
            return Err("the ledger key is not among the policy's logs".into());
        }
        // The ledger key's holder is no witness of its own ledger.
        let cosigned: Vec<String> = self
            .cosigners(signed, cp)
            .into_iter()
            .filter(|name| {
                self.witnesses
                    .iter()
                    .any(|(n, k, _)| n == name && k != ledger_key)
            })
            .collect();
        let acts = |w: usize| cosigned.contains(&self.witnesses[w].0);
        let Some(q) = self.quorum else {
            return Ok(cosigned);
        };
        if self.holds(q, &acts) {
            Ok(cosigned)
        } else {
            Err(format!(
                "the checkpoint of size {} lacks the policy's quorum of witness cosignatures (cosigned by: {})",
                cp.size,
                if cosigned.is_empty() {
                    "none".to_owned()
                } else {
                    cosigned.join(", ")
                }
            ))
        }
    }

    /// Whether `node` acts when the witnesses `acts` says do: every node once, in the order
    /// they were defined (a member is always defined before its group), so that neither a
    /// deep nor a wide policy costs more than its size.
    fn holds(&self, node: usize, acts: &dyn Fn(usize) -> bool) -> bool {
        let mut done: Vec<bool> = Vec::with_capacity(self.nodes.len());
        for n in &self.nodes {
            let act = match n {
                Node::Witness(w) => acts(*w),
                Node::Group { k, members } => members.iter().filter(|&&m| done[m]).count() >= *k,
            };
            done.push(act);
        }
        done[node]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn policies_parse_strictly_and_quorums_count() {
        let k = |b: u8| hex::encode([b; 32]);
        let text = format!(
            "# two of three X, and any Y\nlog {}\nwitness X1 {} https://x1.example\nwitness X2 {}\nwitness X3 {}\ngroup X 2 X1 X2 X3\nwitness Y1 {}\ngroup Y any Y1\ngroup XY all X Y\nquorum XY\n",
            k(1),
            k(2),
            k(3),
            k(4),
            k(5)
        );
        let p = Policy::parse(&text).unwrap();
        assert_eq!(p.logs, vec![[1; 32]]);
        assert_eq!(p.witnesses.len(), 4);
        let q = p.quorum.unwrap();
        let with = |set: &[&str]| {
            let acts = |w: usize| set.contains(&p.witnesses[w].0.as_str());
            p.holds(q, &acts)
        };
        assert!(with(&["X1", "X3", "Y1"]));
        assert!(!with(&["X1", "Y1"]), "one X of the two needed");
        assert!(!with(&["X1", "X2", "X3"]), "no Y");
        for bad in [
            "quorum none\nquorum none\n".to_string(),
            "log 00\nquorum none\n".into(),
            format!("group G any W\nwitness W {}\nquorum G\n", k(2)),
            format!("witness W {}\nwitness W {}\nquorum W\n", k(2), k(3)),
            format!("witness W {}\ngroup G 2 W\nquorum G\n", k(2)),
            format!("witness W {}\ngroup G 2 W W\nquorum G\n", k(2)),
            format!("witness A {}\nwitness B {}\nquorum A\n", k(2), k(2)),
            format!(
                "witness A {}\nwitness B {}\ngroup X any A B\ngroup Y any A B\ngroup G all X Y\nquorum G\n",
                k(2),
                k(3)
            ),
            format!("log {}\nwitness A {}\nquorum A\n", k(2), k(2)),
            "quorum none\n".to_string() + &"# x\n".repeat(MAX_LINES),
            format!("witness none {}\nquorum none\n", k(2)),
            "frobnicate\nquorum none\n".into(),
            String::new(),
        ] {
            assert!(Policy::parse(&bad).is_err(), "{bad:?}");
        }
        assert_eq!(Policy::parse("quorum none\n").unwrap().quorum, None);
    }

    /// A policy as deep as the line limit allows is judged (one pass, no recursion).
    #[test]
    fn deep_policies_are_judged_in_one_pass() {
        let mut text = format!("witness W {}\ngroup G0 any W\n", hex::encode([7u8; 32]));
        for i in 1..1990 {
            text.push_str(&format!("group G{i} any G{}\n", i - 1));
        }
        text.push_str("quorum G1989\n");
        let p = Policy::parse(&text).unwrap();
        let q = p.quorum.unwrap();
        assert!(p.holds(q, &|_| true));
        assert!(!p.holds(q, &|_| false));
    }
}
