//! Who may sign what, and who holds which exhibit: the rules that the signed records
//! themselves establish (SPEC.md section 4.1), as a pure state machine.
//!
//! The genesis key is the first admin. Admins authorise keys for roles and revoke them;
//! investigators (and admins) record evidence; an exhibit's holder hands it to another key,
//! which countersigns. The same [`Authority`] checks an append before it is written and
//! replays the whole ledger in an audit, so a record written into the store directly is
//! judged by exactly the rules an append obeys.

use crate::keys;
use crate::record::{Amendment, Body, Effective, RevokeReason, Role, Statement};
use std::collections::BTreeMap;
use thiserror::Error;

/// A key as the ledger knows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyState {
    /// The holder's name.
    pub name: String,
    /// Its role.
    pub role: Role,
    /// The record that authorised it (0 for the genesis key).
    pub authorized_at: u64,
    /// Its revocation, if any.
    pub revoked: Option<Revocation>,
}

/// A revocation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Revocation {
    /// The revoking record.
    pub at: u64,
    /// Why.
    pub reason: RevokeReason,
    /// From when.
    pub effective: Effective,
}

impl KeyState {
    /// Whether the key may sign a record at `seq` (authorised before it, not yet revoked).
    pub fn active_at(&self, seq: u64) -> bool {
        (self.authorized_at < seq || (seq == 0 && self.authorized_at == 0))
            && self.revoked.is_none_or(|r| seq < r.at)
    }

    /// Whether a record at `seq`, recorded at `recorded_at_ms`, falls after the point from
    /// which this key is known to be compromised.
    pub fn compromised_for(&self, seq: u64, recorded_at_ms: u64) -> bool {
        match self.revoked {
            Some(Revocation {
                reason: RevokeReason::Compromised,
                effective,
                at,
            }) => match effective {
                Effective::Now => seq >= at,
                Effective::Seq(e) => seq >= e,
                Effective::Time(t) => recorded_at_ms >= t,
            },
            _ => false,
        }
    }

    /// "active", "retired at N", "compromised from N" and so on.
    pub fn status(&self) -> String {
        match self.revoked {
            None => "active".into(),
            Some(r) => match (r.reason, r.effective) {
                (RevokeReason::Retired, _) => format!("retired by record {}", r.at),
                (RevokeReason::Compromised, Effective::Now) => {
                    format!("compromised from record {}", r.at)
                }
                (RevokeReason::Compromised, Effective::Seq(e)) => {
                    format!("compromised from record {e} (revoked by record {})", r.at)
                }
                (RevokeReason::Compromised, Effective::Time(t)) => format!(
                    "compromised from {} (revoked by record {})",
                    crate::record::rfc3339(t),
                    r.at
                ),
            },
        }
    }
}

/// A hand-over of an exhibit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TransferState {
    /// The exhibit.
    pub exhibit: u64,
    /// The holder who signed the transfer.
    pub from: [u8; 32],
    /// The receiver.
    pub to: [u8; 32],
    /// The record that accepted it.
    pub accepted: Option<u64>,
}

/// Who holds a transferred exhibit now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Holding {
    /// The holder.
    pub holder: [u8; 32],
    /// Since which record.
    pub since: u64,
    /// A transfer signed but not yet accepted.
    pub pending: Option<u64>,
}

/// Why a record breaks the rules.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Violation {
    /// The signer was never authorised.
    #[error(
        "key {key} is not authorised in this ledger; an admin must run `custody key authorize` first"
    )]
    UnknownSigner {
        /// Short key ID.
        key: String,
    },
    /// The signer was not active at that point.
    #[error("key {key} ({name}) was not authorised at record {seq}: {status}")]
    Inactive {
        /// Short key ID.
        key: String,
        /// Holder name.
        name: String,
        /// Record.
        seq: u64,
        /// Its status.
        status: String,
    },
    /// The signer's role does not allow this.
    #[error("key {key} ({name}) has the role {role}; {what} needs {needed}")]
    WrongRole {
        /// Short key ID.
        key: String,
        /// Holder name.
        name: String,
        /// Its role.
        role: &'static str,
        /// What was attempted.
        what: &'static str,
        /// Roles allowed.
        needed: &'static str,
    },
    /// Anything else, in words.
    #[error("{0}")]
    Rule(String),
}

/// What the rules need to know about earlier records: their statements by sequence.
pub trait Lookup {
    /// The statement of record `seq`, if it exists.
    fn statement(&self, seq: u64) -> Option<Statement>;
}

impl<F: Fn(u64) -> Option<Statement>> Lookup for F {
    fn statement(&self, seq: u64) -> Option<Statement> {
        self(seq)
    }
}

/// The state the signed records establish.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Authority {
    keys: BTreeMap<[u8; 32], KeyState>,
    transfers: BTreeMap<u64, TransferState>,
    holdings: BTreeMap<u64, Holding>,
    amendments: BTreeMap<u64, Vec<u64>>,
    /// Each authority statement's digest and its record: a signed transfer, acceptance,
    /// amendment or revocation counts once, so an old one cannot be replayed.
    seen: BTreeMap<[u8; 32], u64>,
}

fn statement_digest(st: &Statement) -> [u8; 32] {
    use sha2::Digest;
    sha2::Sha256::digest(st.encode().unwrap_or_default()).into()
}

fn rule(s: impl Into<String>) -> Violation {
    Violation::Rule(s.into())
}

impl Authority {
    /// An empty state (before the genesis record).
    pub fn new() -> Self {
        Self::default()
    }

    /// Every key the ledger has authorised.
    pub fn keys(&self) -> &BTreeMap<[u8; 32], KeyState> {
        &self.keys
    }

    /// A key's state.
    pub fn key(&self, k: &[u8; 32]) -> Option<&KeyState> {
        self.keys.get(k)
    }

    /// Amendments of a record, in order.
    pub fn amendments_of(&self, seq: u64) -> &[u64] {
        self.amendments.get(&seq).map_or(&[], Vec::as_slice)
    }

    /// Transfers of an exhibit, in order.
    pub fn transfers_of(&self, exhibit: u64) -> Vec<(u64, &TransferState)> {
        self.transfers
            .iter()
            .filter(|(_, t)| t.exhibit == exhibit)
            .map(|(s, t)| (*s, t))
            .collect()
    }

    /// Transfers not yet accepted.
    pub fn pending_transfers(&self) -> Vec<(u64, &TransferState)> {
        self.transfers
            .iter()
            .filter(|(_, t)| t.accepted.is_none())
            .map(|(s, t)| (*s, t))
            .collect()
    }

    /// The current holder of an exhibit whose record `ex` signed.
    pub fn holder(&self, exhibit: u64, recorded_by: [u8; 32]) -> Holding {
        self.holdings.get(&exhibit).copied().unwrap_or(Holding {
            holder: recorded_by,
            since: exhibit,
            pending: None,
        })
    }

    fn active(&self, signer: &[u8; 32], seq: u64) -> Result<&KeyState, Violation> {
        let k = self
            .keys
            .get(signer)
            .ok_or_else(|| Violation::UnknownSigner {
                key: keys::short_id(signer),
            })?;
        if !k.active_at(seq) {
            return Err(Violation::Inactive {
                key: keys::short_id(signer),
                name: k.name.clone(),
                seq,
                status: k.status(),
            });
        }
        Ok(k)
    }

    fn role(
        k: &KeyState,
        signer: &[u8; 32],
        allowed: &[Role],
        what: &'static str,
        needed: &'static str,
    ) -> Result<(), Violation> {
        if allowed.contains(&k.role) {
            Ok(())
        } else {
            Err(Violation::WrongRole {
                key: keys::short_id(signer),
                name: k.name.clone(),
                role: k.role.name(),
                what,
                needed,
            })
        }
    }

    fn evidence(lookup: &dyn Lookup, seq: u64, at: u64) -> Result<Statement, Violation> {
        if seq >= at {
            return Err(rule(format!("record {seq} does not precede record {at}")));
        }
        match lookup.statement(seq) {
            Some(s) if s.body.is_evidence() => Ok(s),
            Some(s) => Err(rule(format!(
                "record {seq} is a {} record, not an exhibit (testimony or media)",
                s.body.kind()
            ))),
            None => Err(rule(format!("record {seq} does not exist"))),
        }
    }

    /// Checks that `st`, at position `seq` recorded at `recorded_at_ms`, obeys the rules
    /// given the state so far.
    pub fn check(
        &self,
        st: &Statement,
        seq: u64,
        recorded_at_ms: u64,
        lookup: &dyn Lookup,
    ) -> Result<(), Violation> {
        let signer = &st.signer;
        if Self::is_authority_record(&st.body)
            && let Some(first) = self.seen.get(&statement_digest(st))
        {
            return Err(rule(format!(
                "this exact signed statement is already record {first}; a signed statement counts once"
            )));
        }
        match &st.body {
            Body::Genesis { .. } => {
                if seq != 0 {
                    return Err(rule("only record 0 may be a genesis statement"));
                }
                Ok(())
            }
            Body::Testimony(_) | Body::Media(_) => {
                let k = self.active(signer, seq)?;
                Self::role(
                    k,
                    signer,
                    &[Role::Investigator, Role::Admin],
                    "recording evidence",
                    "investigator or admin",
                )
            }
            Body::Authorize { key, .. } => {
                let k = self.active(signer, seq)?;
                Self::role(k, signer, &[Role::Admin], "authorising a key", "admin")?;
                keys::check_public(key)
                    .map_err(|e| rule(format!("cannot authorise that key: {e}")))?;
                if let Some(old) = self.keys.get(key) {
                    return Err(rule(format!(
                        "key {} is already known to this ledger as {} ({}); a revoked key is never authorised again",
                        keys::short_id(key),
                        old.name,
                        old.status()
                    )));
                }
                Ok(())
            }
            Body::Revoke { key, effective, .. } => {
                let k = self.active(signer, seq)?;
                Self::role(k, signer, &[Role::Admin], "revoking a key", "admin")?;
                let target = self.keys.get(key).ok_or_else(|| {
                    rule(format!(
                        "key {} is not a key of this ledger",
                        keys::short_id(key)
                    ))
                })?;
                // A retired key can still be found to have been compromised earlier; any other
                // second revocation is refused.
                let upgrade = matches!(target.revoked, Some(r) if r.reason == RevokeReason::Retired)
                    && matches!(
                        st.body,
                        Body::Revoke {
                            reason: RevokeReason::Compromised,
                            ..
                        }
                    );
                if target.revoked.is_some() && !upgrade {
                    return Err(rule(format!(
                        "key {} is already {}",
                        keys::short_id(key),
                        target.status()
                    )));
                }
                if target.revoked.is_none()
                    && target.role == Role::Admin
                    && !self
                        .keys
                        .iter()
                        .any(|(k2, s)| k2 != key && s.role == Role::Admin && s.revoked.is_none())
                {
                    return Err(rule(
                        "that is the last active admin key; authorise another admin first",
                    ));
                }
                match effective {
                    Effective::Seq(e) if *e > seq => Err(rule(format!(
                        "the effective record {e} is in the future (this is record {seq})"
                    ))),
                    Effective::Time(t) if *t > recorded_at_ms => {
                        Err(rule("the effective time is in the future"))
                    }
                    _ => Ok(()),
                }
            }
            Body::Transfer { exhibit, to, .. } => {
                // Holding the exhibit is what entitles a key to hand it over, whatever its role.
                self.active(signer, seq)?;
                let ex = Self::evidence(lookup, *exhibit, seq)?;
                let h = self.holder(*exhibit, ex.signer);
                if &h.holder != signer {
                    return Err(rule(format!(
                        "exhibit {exhibit} is held by key {}, not by the signer {}",
                        keys::short_id(&h.holder),
                        keys::short_id(signer)
                    )));
                }
                if let Some(p) = h.pending {
                    return Err(rule(format!(
                        "exhibit {exhibit} already has a pending transfer (record {p}) awaiting acceptance"
                    )));
                }
                if to == signer {
                    return Err(rule("an exhibit cannot be handed to its own holder"));
                }
                self.active(to, seq)
                    .map_err(|e| rule(format!("the receiver: {e}")))?;
                Ok(())
            }
            Body::Accept { transfer } => {
                self.active(signer, seq)?;
                let t = self.transfers.get(transfer).ok_or_else(|| {
                    rule(format!(
                        "record {transfer} is not a transfer of this ledger"
                    ))
                })?;
                if t.accepted.is_some() {
                    return Err(rule(format!("transfer {transfer} was already accepted")));
                }
                if &t.to != signer {
                    return Err(rule(format!(
                        "transfer {transfer} names key {} as receiver, not the signer {}",
                        keys::short_id(&t.to),
                        keys::short_id(signer)
                    )));
                }
                Ok(())
            }
            Body::Amend(Amendment {
                target,
                description,
                content,
                ..
            }) => {
                let k = self.active(signer, seq)?;
                let original = Self::evidence(lookup, *target, seq)?;
                if &original.signer != signer && k.role != Role::Admin {
                    return Err(rule(format!(
                        "record {target} was signed by key {}; only its signer or an admin may amend it",
                        keys::short_id(&original.signer)
                    )));
                }
                match (&original.body, description, content) {
                    (_, None, None) => {
                        Err(rule("an amendment must change the text or the description"))
                    }
                    (Body::Testimony(_), Some(_), _) => Err(rule(
                        "a testimony has no description to amend; amend its text",
                    )),
                    (Body::Media(_), _, Some(_)) => Err(rule(
                        "a media record has no text to amend; amend its description",
                    )),
                    _ => Ok(()),
                }
            }
        }
    }

    /// Applies a record that passed [`Authority::check`] to the state. A record that broke a
    /// rule changes nothing, so an injected authorisation grants nothing either.
    pub fn apply(&mut self, st: &Statement, seq: u64, lookup: &dyn Lookup) {
        if Self::is_authority_record(&st.body) {
            self.seen.entry(statement_digest(st)).or_insert(seq);
        }
        match &st.body {
            Body::Genesis { .. } => {
                self.keys.entry(st.signer).or_insert(KeyState {
                    name: "ledger".into(),
                    role: Role::Admin,
                    authorized_at: 0,
                    revoked: None,
                });
            }
            Body::Authorize { key, name, role } => {
                self.keys.entry(*key).or_insert(KeyState {
                    name: name.clone(),
                    role: *role,
                    authorized_at: seq,
                    revoked: None,
                });
            }
            Body::Revoke {
                key,
                reason,
                effective,
            } => {
                if let Some(k) = self.keys.get_mut(key) {
                    match k.revoked {
                        None => {
                            k.revoked = Some(Revocation {
                                at: seq,
                                reason: *reason,
                                effective: *effective,
                            });
                        }
                        // Retired, then found compromised: it stays inactive from its
                        // retirement, and its records from the effective point are tainted.
                        Some(r) if r.reason == RevokeReason::Retired => {
                            k.revoked = Some(Revocation {
                                at: r.at,
                                reason: RevokeReason::Compromised,
                                effective: match effective {
                                    Effective::Now => Effective::Seq(seq),
                                    e => *e,
                                },
                            });
                        }
                        Some(_) => {}
                    }
                }
            }
            Body::Transfer { exhibit, to, .. } => {
                let recorded_by = lookup.statement(*exhibit).map_or(st.signer, |s| s.signer);
                let mut h = self.holder(*exhibit, recorded_by);
                h.pending = Some(seq);
                self.holdings.insert(*exhibit, h);
                self.transfers.insert(
                    seq,
                    TransferState {
                        exhibit: *exhibit,
                        from: st.signer,
                        to: *to,
                        accepted: None,
                    },
                );
            }
            Body::Accept { transfer } => {
                if let Some(t) = self.transfers.get_mut(transfer)
                    && t.accepted.is_none()
                {
                    t.accepted = Some(seq);
                    self.holdings.insert(
                        t.exhibit,
                        Holding {
                            holder: t.to,
                            since: seq,
                            pending: None,
                        },
                    );
                }
            }
            Body::Amend(a) => self.amendments.entry(a.target).or_default().push(seq),
            Body::Testimony(_) | Body::Media(_) => {}
        }
    }

    /// Whether a record kind changes this state (and so is replayed when a ledger opens).
    pub fn is_authority_record(body: &Body) -> bool {
        !body.is_evidence()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::{Media, Testimony};

    fn pk(n: u8) -> [u8; 32] {
        ed25519_dalek::SigningKey::from_bytes(&[n; 32])
            .verifying_key()
            .to_bytes()
    }
    fn st(signer: u8, body: Body) -> Statement {
        Statement {
            claimed_at_ms: 0,
            signer: pk(signer),
            body,
        }
    }
    fn media() -> Body {
        Body::Media(Media {
            sha256: [1; 32],
            size: 1,
            name: None,
            media_type: None,
            description: None,
        })
    }

    /// Runs statements through check+apply; returns each result.
    fn run(records: &[Statement]) -> Vec<Result<(), Violation>> {
        let mut a = Authority::new();
        let mut out = Vec::new();
        for (i, s) in records.iter().enumerate() {
            let lookup = |n: u64| records.get(n as usize).cloned();
            let r = a.check(s, i as u64, 1000, &lookup);
            if r.is_ok() {
                a.apply(s, i as u64, &lookup);
            }
            out.push(r);
        }
        out
    }

    fn auth(by: u8, who: u8, role: Role) -> Statement {
        st(
            by,
            Body::Authorize {
                key: pk(who),
                name: format!("k{who}"),
                role,
            },
        )
    }

    #[test]
    fn roles_are_enforced() {
        let recs = vec![
            st(1, Body::Genesis { origin: "o".into() }),
            auth(1, 2, Role::Investigator),
            auth(1, 3, Role::Auditor),
            st(2, media()),
            st(3, media()),
            st(4, media()),
            auth(2, 5, Role::Investigator),
        ];
        let r = run(&recs);
        assert!(r[1].is_ok() && r[2].is_ok() && r[3].is_ok());
        assert!(
            matches!(r[4], Err(Violation::WrongRole { .. })),
            "auditor records evidence"
        );
        assert!(matches!(r[5], Err(Violation::UnknownSigner { .. })));
        assert!(
            matches!(r[6], Err(Violation::WrongRole { .. })),
            "investigator authorises"
        );
    }

    #[test]
    fn compromise_marks_exactly_the_records_from_the_effective_point() {
        let recs = vec![
            st(1, Body::Genesis { origin: "o".into() }),
            auth(1, 2, Role::Investigator),
            st(2, media()), // 2
            st(2, media()), // 3
            st(2, media()), // 4
            st(
                1,
                Body::Revoke {
                    key: pk(2),
                    reason: RevokeReason::Compromised,
                    effective: Effective::Seq(3),
                },
            ),
            st(2, media()), // 6: refused
        ];
        let r = run(&recs);
        assert!(r[..6].iter().all(Result::is_ok), "{r:?}");
        assert!(matches!(r[6], Err(Violation::Inactive { .. })));
        let mut a = Authority::new();
        for (i, s) in recs.iter().enumerate() {
            a.apply(s, i as u64, &|n: u64| recs.get(n as usize).cloned());
        }
        let k = a.key(&pk(2)).unwrap();
        let flagged: Vec<u64> = (2..=4).filter(|&s| k.compromised_for(s, 0)).collect();
        assert_eq!(flagged, vec![3, 4]);
    }

    #[test]
    fn custody_chain_needs_the_holder_and_the_named_receiver() {
        let t = |by: u8, ex: u64, to: u8| {
            st(
                by,
                Body::Transfer {
                    exhibit: ex,
                    to: pk(to),
                    reason: "r".into(),
                    location: None,
                },
            )
        };
        let recs = vec![
            st(1, Body::Genesis { origin: "o".into() }),
            auth(1, 2, Role::Investigator),
            auth(1, 3, Role::Custodian),
            st(
                2,
                Body::Testimony(Testimony {
                    subject: "s".into(),
                    language: "en".into(),
                    consent: None,
                    location: None,
                    commitment: [0; 32],
                    content_len: 1,
                }),
            ), // 3
            t(3, 3, 2),                          // 4: not the holder
            t(2, 3, 3),                          // 5: ok
            t(2, 3, 1),                          // 6: pending already
            st(1, Body::Accept { transfer: 5 }), // 7: wrong receiver
            st(3, Body::Accept { transfer: 5 }), // 8: ok
            t(2, 3, 1),                          // 9: no longer the holder
            t(3, 3, 1),                          // 10: ok, now pending
        ];
        let r = run(&recs);
        assert!(r[4].is_err() && r[5].is_ok() && r[6].is_err() && r[7].is_err());
        assert!(r[8].is_ok() && r[9].is_err() && r[10].is_ok(), "{r:?}");
    }

    #[test]
    fn the_last_admin_cannot_be_revoked() {
        let recs = vec![
            st(1, Body::Genesis { origin: "o".into() }),
            st(
                1,
                Body::Revoke {
                    key: pk(1),
                    reason: RevokeReason::Retired,
                    effective: Effective::Now,
                },
            ),
        ];
        assert!(run(&recs)[1].is_err());
    }
}
