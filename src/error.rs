//! The library's error type. Every variant is a reason a command could not run (exit 2);
//! what verification finds wrong is reported as findings, not as errors (see `audit`).

use crate::checkpoint::CheckpointError;
use crate::encoding::DecodeError;
use crate::keys::KeyError;
use crate::merkle::ProofError;
use std::path::PathBuf;
use thiserror::Error;

/// Why an operation could not run.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum Error {
    /// A file or directory could not be read or written.
    #[error("{path}: {cause}")]
    Io {
        /// The path.
        path: PathBuf,
        /// The cause (in the message, not chained, so that it is said once).
        cause: std::io::Error,
    },
    /// Another process holds the ledger.
    #[error(
        "ledger in use: another custody process holds {path}; try again when it is done, or pass --wait to wait for it"
    )]
    InUse {
        /// The ledger directory.
        path: PathBuf,
    },
    /// The directory is not a ledger.
    #[error("{path} is not a custody ledger ({reason}); create one with `custody init`")]
    NotALedger {
        /// The directory.
        path: PathBuf,
        /// What is missing.
        reason: String,
    },
    /// Refused to create over something that exists.
    #[error("{path} already exists and is not empty; choose a new directory")]
    AlreadyExists {
        /// The path.
        path: PathBuf,
    },
    /// A key problem.
    #[error(transparent)]
    Key(#[from] KeyError),
    /// A malformed checkpoint given by the user.
    #[error(transparent)]
    Checkpoint(#[from] CheckpointError),
    /// Input that cannot be used as given; the message names the fix.
    #[error("{0}")]
    Input(String),
    /// A value that cannot be encoded (e.g. a field too long).
    #[error(transparent)]
    Encode(#[from] DecodeError),
    /// The embedded database failed.
    #[error(
        "the index in {path} cannot be read ({message}); `custody recover` rebuilds it from the journal, which is the source of truth"
    )]
    Db {
        /// The database directory.
        path: PathBuf,
        /// sled's message.
        message: String,
    },
    /// The stored ledger is inconsistent in a way that stops this command; `custody audit`
    /// reports the details.
    #[error(
        "the ledger is damaged: {0}; run `custody audit` for details (where it finds only the index wrong, `custody recover --rebuild` rebuilds the index from the journal)"
    )]
    Damaged(String),
    /// A check failed and the command stops without changing anything (exit 1): for
    /// example an export of an exhibit that fails its own checks.
    #[error("{0}")]
    Failing(String),
    /// The ledger is not in a state the command can work from yet (no signed checkpoint, a
    /// record not yet covered, an interrupted append); the message names what to run.
    #[error("{0}")]
    NotReady(String),
    /// The operating system gave no randomness (for a salt, a key, an audit's digests).
    #[error("the operating system gave no randomness ({0}); nothing was written")]
    Randomness(String),
    /// Output could not be written (a bundle being made).
    #[error("cannot write {0}")]
    Write(String),
    /// A proof could not be built from storage.
    #[error(transparent)]
    Proof(#[from] ProofError),
    /// A server (a witness, a time-stamping authority) could not be reached or did not
    /// answer in time.
    #[error("cannot reach {0}")]
    Unreachable(String),
}

impl Error {
    /// A stable short code for scripts (`--json` output of a failed command).
    pub fn code(&self) -> &'static str {
        match self {
            Error::Io { .. } => "io",
            Error::InUse { .. } => "ledger-in-use",
            Error::NotALedger { .. } => "not-a-ledger",
            Error::AlreadyExists { .. } => "already-exists",
            Error::Key(_) => "key",
            Error::Checkpoint(_) => "checkpoint",
            Error::Input(_) => "input",
            Error::Encode(_) => "input",
            Error::Db { .. } => "database",
            Error::Damaged(_) => "damaged",
            Error::Failing(_) => "failing",
            Error::Proof(_) => "proof",
            Error::Randomness(_) => "randomness",
            Error::NotReady(_) => "not-ready",
            Error::Write(_) => "io",
            Error::Unreachable(_) => "unreachable",
        }
    }
}

/// Result alias.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Helper to attach a path to an I/O error.
pub(crate) fn io(path: impl Into<PathBuf>) -> impl FnOnce(std::io::Error) -> Error {
    let path = path.into();
    move |cause| Error::Io { path, cause }
}
