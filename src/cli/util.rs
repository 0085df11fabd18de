//! Small helpers shared by the commands: opening the ledger, the clock, JSON output,
//! progress bars that draw only on a terminal.

use super::LedgerArgs;
use custody::ledger::{Access, Ledger};
use custody::store::LockWait;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::io::{IsTerminal, Write};
use std::process::ExitCode;

/// Opens the ledger named by the arguments, for reading (nothing on disk changes).
pub fn open(args: &LedgerArgs) -> anyhow::Result<Ledger> {
    open_with(args, Access::Read)
}

/// Opens the ledger for a command that changes it; an interrupted append is completed.
pub fn open_write(args: &LedgerArgs) -> anyhow::Result<Ledger> {
    open_with(args, Access::Write)
}

fn open_with(args: &LedgerArgs, access: Access) -> anyhow::Result<Ledger> {
    let wait = if args.wait {
        LockWait::Yes
    } else {
        LockWait::No
    };
    Ok(Ledger::open(&args.ledger, wait, access)?)
}

/// Now, in unix milliseconds.
pub fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

/// Prints a value as pretty JSON on stdout.
pub fn print_json<T: serde::Serialize>(v: &T) -> anyhow::Result<()> {
    let mut out = std::io::stdout().lock();
    serde_json::to_writer_pretty(&mut out, v)?;
    writeln!(out)?;
    Ok(())
}

/// 0 when `ok`, else 1.
pub fn verdict(ok: bool) -> ExitCode {
    if ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    }
}

/// A progress bar on stderr, hidden unless stderr is a terminal and output is for people.
pub fn progress(len: u64, unit_bytes: bool, json: bool) -> ProgressBar {
    if json || !std::io::stderr().is_terminal() {
        return ProgressBar::hidden();
    }
    let pb = ProgressBar::with_draw_target(Some(len), ProgressDrawTarget::stderr());
    let template = if unit_bytes {
        "{spinner} {msg} [{bar:30}] {bytes}/{total_bytes} ({bytes_per_sec}, {eta})"
    } else {
        "{spinner} {msg} [{bar:30}] {pos}/{len} ({per_sec}, {eta})"
    };
    if let Ok(style) = ProgressStyle::with_template(template) {
        pb.set_style(style.progress_chars("=> "));
    }
    pb
}
