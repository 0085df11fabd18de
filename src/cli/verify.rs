//! `custody verify` and `custody prove`.

use super::LedgerArgs;
use super::files::hash_files;
use super::util::{check_line, now_ms, open, print_json, shown, verdict};
use super::util::{policy_check, read_policy};
use clap::Args;
use custody::ledger::RecordReport;
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Args)]
#[command(
    after_help = "Examples:\n  custody verify --ledger L 12           check record 12\n  custody verify --ledger L --file x.mp4  was this exact file recorded, by whom, when?\n\nExit 0 when every check passes, 1 when any fails or the file was never recorded."
)]
pub struct VerifyArgs {
    #[command(flatten)]
    ledger: LedgerArgs,
    /// Sequence number of the record to verify.
    #[arg(required_unless_present = "file", conflicts_with = "file")]
    seq: Option<u64>,
    /// A file: find and verify every record that registered it.
    #[arg(long, value_name = "PATH")]
    file: Option<PathBuf>,
    /// A witness policy (Sigsum policy format): the latest checkpoint must carry its
    /// quorum of witness cosignatures (check `witness-quorum`).
    #[arg(long, value_name = "FILE")]
    policy: Option<PathBuf>,
    /// Print the checks as JSON.
    #[arg(long)]
    json: bool,
}

#[derive(Args)]
#[command(
    after_help = "Inclusion proofs use the C2SP tlog-proof format and embed the latest signed checkpoint.\nConsistency proofs use the format in SPEC.md (header custody/consistency-proof@v1)."
)]
pub struct ProveArgs {
    #[command(flatten)]
    ledger: LedgerArgs,
    /// Sequence number to prove inclusion of.
    #[arg(
        required_unless_present = "consistency",
        conflicts_with = "consistency"
    )]
    seq: Option<u64>,
    /// Prove the latest checkpoint extends the tree of OLD_SIZE records.
    #[arg(long, value_name = "OLD_SIZE")]
    consistency: Option<u64>,
}

fn print_report(r: &RecordReport) -> std::io::Result<()> {
    if let Some(v) = &r.record {
        outln!(
            "record {} ({}), signed by key {} (claimed {}), recorded {}",
            r.seq,
            v.kind,
            v.signer_key_id,
            v.claimed_at,
            v.recorded_at
        )?;
    } else {
        outln!("record {}", r.seq)?;
    }
    for c in &r.checks {
        outln!("  {}", check_line(c))?;
    }
    Ok(())
}

pub fn exec_verify(a: VerifyArgs) -> anyhow::Result<ExitCode> {
    if let Some(path) = &a.file {
        // A large file takes seconds to hash: show progress on a terminal.
        let [hashed] = <[_; 1]>::try_from(hash_files(&[path.as_path()], "hashing", a.json))
            .map_err(|_| anyhow::anyhow!("{}: not hashed", path.display()))?;
        let (sha, size) = hashed?;
        let policy = a.policy.as_deref().map(read_policy).transpose()?;
        let ledger = open(&a.ledger)?;
        let mut reports = ledger.find_media(&sha, now_ms())?;
        if let Some(p) = &policy {
            let check = policy_check(&ledger, p)?;
            for r in &mut reports {
                r.checks.push(check.clone());
            }
        }
        let ok = !reports.is_empty() && reports.iter().all(RecordReport::passed);
        if a.json {
            print_json(&serde_json::json!({
                "file": path,
                "sha256": hex::encode(sha),
                "size": size,
                "recorded": !reports.is_empty(),
                "passed": ok,
                "records": reports,
            }))?;
            return Ok(verdict(ok));
        }
        outln!(
            "{}: sha256 {} ({} bytes)",
            shown(path),
            hex::encode(sha),
            size
        )?;
        if reports.is_empty() {
            outln!(
                "NOT RECORDED: no record in this ledger registers a file with these exact bytes."
            )?;
            return Ok(ExitCode::from(1));
        }
        outln!(
            "This exact file was registered in {} record{}:",
            reports.len(),
            if reports.len() == 1 { "" } else { "s" }
        )?;
        for r in &reports {
            print_report(r)?;
        }
        if ok {
            outln!("OK: every record of this file verifies.")?;
        } else {
            outln!("PROBLEM: at least one check failed (see above).")?;
        }
        return Ok(verdict(ok));
    }
    let seq = a
        .seq
        .ok_or_else(|| anyhow::anyhow!("give a sequence number or --file PATH"))?;
    let policy = a.policy.as_deref().map(read_policy).transpose()?;
    let ledger = open(&a.ledger)?;
    let mut report = ledger.verify_record(seq, now_ms())?;
    if let Some(p) = &policy {
        report.checks.push(policy_check(&ledger, p)?);
    }
    if a.json {
        print_json(&serde_json::json!({
            "passed": report.passed(),
            "pending": report.pending(),
            "report": report
        }))?;
    } else {
        print_report(&report)?;
        if report.passed() {
            outln!("OK: record {seq} verifies.")?;
        } else if report.pending() {
            outln!(
                "NOT YET COVERED: record {seq} passes every check so far, but no signed checkpoint covers it yet (exit 1 until one does)."
            )?;
        } else {
            outln!("PROBLEM: record {seq} failed a check (see above).")?;
        }
    }
    Ok(verdict(report.passed()))
}

pub fn exec_prove(a: ProveArgs) -> anyhow::Result<ExitCode> {
    let ledger = open(&a.ledger)?;
    let text = match (a.seq, a.consistency) {
        (_, Some(old)) => ledger.consistency_proof(old)?.format(),
        (Some(seq), None) => ledger.inclusion_proof(seq)?.format(),
        (None, None) => anyhow::bail!("give a sequence number or --consistency OLD_SIZE"),
    };
    {
        use std::io::Write as _;
        write!(std::io::stdout().lock(), "{text}")?;
    }
    Ok(ExitCode::SUCCESS)
}
