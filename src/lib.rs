//! `custody`: a verifiable evidence ledger.
//!
//! Investigators sign testimony commitments and media hashes with their own Ed25519 keys
//! and append them to an append-only ledger that is both a hash chain and an RFC 9162
//! Merkle tree, stored as a journal plus a sled database. Auditors verify single records,
//! single files or the whole ledger; checkpoints are C2SP signed notes. See SPEC.md for
//! every byte.
//!
//! The library never prints, exits or reads the terminal: [`ledger::Ledger`] is the entry
//! point, and the binary in `src/main.rs` is a thin shell around it. The one exception is
//! for tests: the crash points of an append ([`ledger::crash_point`]) abort the process
//! when, and only when, the variable `CUSTODY_TEST_CRASH_POINT` names them.

#![forbid(unsafe_code)]

pub mod audit;
pub mod bundle;
pub mod checkpoint;
pub mod encoding;
pub mod error;
pub mod field;
pub mod http;
pub mod keys;
pub mod ledger;
pub mod merkle;
pub mod note;
pub mod policy;
pub mod proof;
pub mod record;
pub mod rules;
pub mod seal;
pub(crate) mod store;
pub mod tiles;
pub mod timestamp;
pub mod witness;

/// A SHA-256 digest.
pub type Hash = [u8; 32];

/// This machine's clock, in unix milliseconds (0 before 1970, which the binary refuses to
/// run with). The one place the library reads the clock for itself: for names and notes
/// (set-aside files, the lock holder's note) and for callers that pass no time.
pub fn unix_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}
