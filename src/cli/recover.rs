//! `custody recover`: the index completed or rebuilt from the journal.

use super::LedgerArgs;
use super::util::progress;
use super::util::waiting;
use clap::Args;
use custody::ledger::{Access, Ledger};
use std::process::ExitCode;

#[derive(Args)]
#[command(
    after_help = "The journal is the source of truth. `recover` indexes journal records that the index\n\
missed (an append interrupted by a crash), cuts off a torn final frame, and rebuilds an index\n\
that cannot be opened (moving the old one aside). Signed checkpoints are restored from the\n\
ledger's checkpoints file, each verified before it is kept.\n\n\
When `custody audit` reports the index wrong (an `-index` finding, `index-damaged`,\n\
`tree-hash`, `journal-index-mismatch`), `custody recover --rebuild` moves the whole index\n\
aside (db.rebuilt-SECONDS-PID, kept as evidence) and rebuilds it from the journal."
)]
pub struct RecoverArgs {
    #[command(flatten)]
    ledger: LedgerArgs,
    /// Move the index aside and rebuild it from the journal, even if it opens
    #[arg(long)]
    rebuild: bool,
}

pub fn exec_recover(a: RecoverArgs) -> anyhow::Result<ExitCode> {
    // Re-indexing a large journal takes a while: show progress on a terminal.
    let pb = progress(0, true, false);
    let recovered = waiting(&a.ledger, Access::Write, |wait| {
        Ledger::recover(&a.ledger.ledger, wait, a.rebuild, &mut |done, total| {
            // Drawn from the first chunk on: never while waiting for the lock, never for
            // nothing.
            if pb.length() != Some(total) {
                pb.set_length(total);
                pb.set_message("indexing the journal");
            }
            pb.set_position(done);
        })
    });
    pb.finish_and_clear();
    let (ledger, done) = recovered?;
    for line in &done {
        outln!("{line}")?;
    }
    outln!(
        "the ledger has {} records; run `custody audit` to check it",
        ledger.size()
    )?;
    ledger.close()?;
    Ok(ExitCode::SUCCESS)
}
