//! `custody`: a verifiable evidence ledger.
//!
//! Investigators sign testimony commitments and media hashes with their own Ed25519 keys
//! and append them to an append-only ledger that is both a hash chain and an RFC 9162
//! Merkle tree, stored as a journal plus a sled database. Auditors verify single records,
//! single files or the whole ledger; checkpoints are C2SP signed notes. See SPEC.md for
//! every byte.
//!
//! The library never prints, exits or reads the terminal: [`ledger::Ledger`] is the entry
//! point, and the binary in `src/main.rs` is a thin shell around it.

#![forbid(unsafe_code)]

pub mod audit;
pub mod bundle;
pub mod checkpoint;
pub mod encoding;
pub mod error;
pub mod keys;
pub mod ledger;
pub mod merkle;
pub mod note;
pub mod proof;
pub mod record;
pub mod rules;
pub(crate) mod store;

/// A SHA-256 digest.
pub type Hash = [u8; 32];
