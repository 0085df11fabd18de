//! `custody checkpoint`: the ledger key signs the current state.

use super::LedgerArgs;
use super::util::KeyArgs;
use super::util::open_write;
use anyhow::bail;
use clap::Args;
use custody::keys;
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Args)]
pub struct CheckpointArgs {
    #[command(flatten)]
    ledger: LedgerArgs,
    #[command(flatten)]
    key: KeyArgs,
    /// Also write the signed checkpoint to this file (keep a copy elsewhere for later audits).
    #[arg(long, value_name = "FILE")]
    out: Option<PathBuf>,
}

pub fn exec_checkpoint(a: CheckpointArgs) -> anyhow::Result<ExitCode> {
    let key = a.key.load()?;
    if let Some(out) = &a.out
        && out.symlink_metadata().is_ok()
    {
        bail!("{} already exists; choose a new file name", out.display());
    }
    let mut ledger = open_write(&a.ledger)?;
    let (_, signed) = ledger.sign_checkpoint(&key)?;
    if let Some(out) = &a.out {
        keys::write_new_file(out, signed.as_bytes(), 0o644)?;
        eprintln!(
            "saved to {}; keep a copy away from this machine for later `custody audit --against`",
            out.display()
        );
    }
    {
        use std::io::Write as _;
        write!(std::io::stdout().lock(), "{signed}")?;
    }
    ledger.close()?;
    Ok(ExitCode::SUCCESS)
}
