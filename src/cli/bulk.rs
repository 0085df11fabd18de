//! `custody bulk-append` (hidden): synthetic signed records in large batches, for benchmarks.

use super::LedgerArgs;
use super::util::KeyArgs;
use super::util::now_ms;
use super::util::open_write;
use super::util::progress;
use clap::Args;
use custody::ledger::MediaInput;
use std::process::ExitCode;

#[derive(Args)]
pub struct BulkArgs {
    #[command(flatten)]
    ledger: LedgerArgs,
    #[command(flatten)]
    key: KeyArgs,
    /// How many records to append.
    #[arg(long)]
    count: u64,
    /// Records per batch (one fsync and one index transaction each).
    #[arg(long, default_value_t = 10_000)]
    batch: u64,
}

/// Appends synthetic, really signed media records in large batches: the fast path that
/// the benchmark script uses to build big ledgers. Hidden from the help.
pub fn exec_bulk(a: BulkArgs) -> anyhow::Result<ExitCode> {
    let key = a.key.load()?;
    let mut ledger = open_write(&a.ledger)?;
    let pb = progress(a.count, false, false);
    pb.set_message("appending");
    let start = ledger.size();
    let batch = a.batch.max(1);
    let batches = (0..a.count).step_by(batch as usize).map(|from| {
        (from..(from + batch).min(a.count))
            .map(|i| {
                let id = start + i;
                MediaInput {
                    sha256: sha2::Digest::finalize(sha2::Digest::chain_update(
                        <sha2::Sha256 as sha2::Digest>::new(),
                        id.to_be_bytes(),
                    ))
                    .into(),
                    size: id,
                    name: Some(format!("synthetic-{id}.bin")),
                    media_type: None,
                    description: None,
                }
            })
            .collect()
    });
    let now = now_ms();
    ledger.add_media_batches(&key, batches, now, now_ms, |n| pb.set_position(n))?;
    pb.finish_and_clear();
    if key.verifying_key().to_bytes() == ledger.ledger_key() {
        ledger.sign_checkpoint(&key)?;
    }
    outln!(
        "appended {} records; the ledger has {}",
        a.count,
        ledger.size()
    )?;
    ledger.close()?;
    Ok(ExitCode::SUCCESS)
}
