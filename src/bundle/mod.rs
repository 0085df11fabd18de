//! Court bundles: one ZIP that proves chosen records belong to the ledger, checkable
//! offline, revealing nothing about any other record (SPEC.md section 11).
//!
//! [`export`] gathers each exhibit's record, inclusion proof, revealed content and keys,
//! signs the manifest, and writes a deterministic archive. [`verify_bundle`] checks a
//! bundle without extracting anything: every member is vetted from the central directory
//! before a byte of it is read, then read in memory (media streamed through SHA-256) under
//! enforced size limits.

mod archive;
mod export;
mod manifest;
mod read;
mod report;
mod verify;

pub use export::{ExportRequest, MediaSource, export};
pub use manifest::{
    ContentInfo, Exhibit, ExporterInfo, LedgerInfo, Manifest, RecordEntry, Supporting,
};
pub use verify::{BundleReport, VerifyOptions, verify_bundle};

use thiserror::Error;

/// Format tag of the manifest.
pub const FORMAT: &str = "custody-bundle/v1";
/// Largest non-media member, in bytes.
pub const MAX_MEMBER: u64 = 64 << 20;
/// Largest media member, in bytes.
pub const MAX_MEDIA: u64 = 1 << 40;
/// Most members in a bundle.
pub const MAX_MEMBERS: usize = 100_000;
/// Most bytes held in memory for all non-media members together.
pub const MAX_HELD: u64 = 1 << 30;
/// Compression ratio beyond which a member over 1 MiB is a bomb.
pub const MAX_RATIO: u64 = 100;

/// Why a bundle could not be read at all (exit 2).
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum BundleError {
    /// Not a ZIP, or a ZIP that cannot be read.
    #[error("not a readable ZIP file: {0}")]
    NotZip(String),
    /// A member that must not be read.
    #[error("unsafe bundle, nothing was read from it: {0}")]
    Unsafe(String),
    /// An I/O error.
    #[error("{0}")]
    Io(String),
}
