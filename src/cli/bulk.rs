//! `custody bulk-append` and `custody bench-sign` (hidden): synthetic signed records in
//! large batches, and the signing rate of this machine, for benchmarks.

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

#[derive(Args)]
pub struct BenchSignArgs {
    /// How long to sign for, in seconds.
    #[arg(long, default_value_t = 3.0)]
    seconds: f64,
    /// Cores to sign on (default: all).
    #[arg(long)]
    cores: Option<usize>,
}

/// Signs media statements (as `bulk-append` does) on the given cores for a while and
/// prints the rate: the ceiling an append rate is measured against, from our own signer.
pub fn exec_bench_sign(a: BenchSignArgs) -> anyhow::Result<ExitCode> {
    use rayon::prelude::*;
    if !(a.seconds > 0.0 && a.seconds <= 600.0) {
        anyhow::bail!("--seconds must be between 0 and 600");
    }
    let cores = a.cores.unwrap_or_else(rayon::current_num_threads).max(1);
    let key = ed25519_dalek::SigningKey::from_bytes(&[7; 32]);
    let until = std::time::Instant::now() + std::time::Duration::from_secs_f64(a.seconds);
    let started = std::time::Instant::now();
    let pool = rayon::ThreadPoolBuilder::new().num_threads(cores).build()?;
    let signed: u64 = pool.install(|| {
        (0..cores as u64)
            .into_par_iter()
            .map(|core| {
                let mut n = 0u64;
                while std::time::Instant::now() < until {
                    for _ in 0..64 {
                        let body = custody::record::Body::Media(custody::record::Media {
                            sha256: [core as u8; 32],
                            size: n,
                            name: Some(format!("synthetic-{n}.bin")),
                            media_type: None,
                            description: None,
                        });
                        custody::ledger::sign_statement(&key, body, n)
                            .map(std::hint::black_box)
                            .ok();
                        n += 1;
                    }
                }
                n
            })
            .sum()
    });
    let rate = signed as f64 / started.elapsed().as_secs_f64();
    outln!("{rate:.0} statements signed per second on {cores} core(s)")?;
    Ok(ExitCode::SUCCESS)
}
