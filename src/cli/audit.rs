//! `custody audit`.

use super::LedgerArgs;
use super::util::{open, print_json, progress, shown, verdict};
use super::util::{read_policy, read_tsa_certs};
use anyhow::Context;
use clap::Args;
use custody::audit::{SavedCheckpoint, audit};
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Args)]
#[command(
    after_help = "Save the output of `custody checkpoint` somewhere else from time to time; later,\n`custody audit --against saved.txt` proves the ledger still extends it, which catches a\nrewrite even by someone who holds the database and every key.\n\nExit 0 when every check passes, 1 when any problem is found, 2 when the audit could not run."
)]
pub struct AuditArgs {
    #[command(flatten)]
    ledger: LedgerArgs,
    /// A signed checkpoint saved earlier; the ledger must be consistent with it. Repeatable.
    #[arg(long, value_name = "CHECKPOINT_FILE")]
    against: Vec<PathBuf>,
    /// The ledger public key you expect (SPKI PEM, obtained from its holder, not from the
    /// ledger); a ledger rebuilt under another key is then a finding.
    #[arg(long, value_name = "KEY.pub")]
    ledger_key: Option<PathBuf>,
    /// Verify each signature alone, exactly by the rule of SPEC.md section 1, instead of in
    /// batches. Batches are about twice as fast and reject what the rule rejects, except a
    /// signature whose R has a small-order component: only the signing key's holder can make
    /// one, custody never appends one, and a batch can be made to accept it. `verify` and
    /// `verify-bundle` always check one by one.
    #[arg(long)]
    strict_signatures: bool,
    /// A witness policy (Sigsum policy format): the latest valid checkpoint must carry its
    /// quorum of witness cosignatures (finding `witness-quorum` otherwise).
    #[arg(long, value_name = "FILE")]
    policy: Option<PathBuf>,
    /// The certificate (PEM) of a time-stamping authority you trust: every kept time-stamp
    /// token must lead to one given (repeatable). Without it, each token is checked against
    /// the certificates kept beside it.
    #[arg(long, value_name = "PEM")]
    tsa_cert: Vec<PathBuf>,
    #[command(flatten)]
    identity: super::util::IdentityArgs,
    /// Print the full report, every finding included, as JSON.
    #[arg(long)]
    json: bool,
}

pub fn exec(a: AuditArgs) -> anyhow::Result<ExitCode> {
    let mut saved = Vec::new();
    for p in &a.against {
        let meta = std::fs::metadata(p)
            .with_context(|| format!("cannot read checkpoint file {}", p.display()))?;
        if !meta.is_file() || meta.len() > custody::note::MAX_NOTE as u64 {
            anyhow::bail!(
                "{} is not a checkpoint file (not a regular file of at most 64 KiB)",
                p.display()
            );
        }
        let bytes = std::fs::read(p)
            .with_context(|| format!("cannot read checkpoint file {}", p.display()))?;
        let text = String::from_utf8(bytes)
            .map_err(|_| anyhow::anyhow!("{}: not a checkpoint (not UTF-8 text)", p.display()))?;
        if text.contains("\r\n") {
            anyhow::bail!(
                "{}: the checkpoint has Windows line endings (CRLF), which change the signed text; convert it back (for example `dos2unix {}`) and give it again",
                p.display(),
                p.display()
            );
        }
        saved.push(SavedCheckpoint {
            source: shown(p),
            text,
        });
    }
    let expected_key = match &a.ledger_key {
        Some(p) => Some(custody::keys::load_public(p)?.to_bytes()),
        None => None,
    };
    let policy = a.policy.as_deref().map(read_policy).transpose()?;
    let mut tsa_certs = Vec::new();
    for p in &a.tsa_cert {
        tsa_certs.extend(read_tsa_certs(p)?);
    }
    let identity = a.identity.load()?;
    let ledger = open(&a.ledger)?;
    if let Some(id) = &identity {
        ledger.check_identity(id)?;
    }
    let pb = progress(ledger.size(), false, a.json);
    pb.set_message("auditing");
    let mode = if a.strict_signatures {
        custody::keys::VerifyMode::Strict
    } else {
        custody::keys::VerifyMode::Batch
    };
    let what = custody::audit::Audit {
        against: &saved,
        pinned: expected_key,
        mode,
        identity: identity.as_ref(),
    };
    let mut report = audit(&ledger, &what, |n| pb.set_position(n))?;
    pb.finish_and_clear();
    // What the ledger keeps beside its checkpoints: cosignatures and time-stamp tokens.
    let (found, tokens, cosignatures) = custody::audit::attestation_findings(
        &ledger,
        &custody::audit::AttestationAudit {
            trusted: &tsa_certs,
            policy: policy.as_ref(),
            now_ms: custody::unix_ms(),
        },
    )?;
    report.findings.extend(found);
    if let Some(policy) = &policy
        && let Err(why) = ledger.check_policy(policy)?
    {
        report.findings.push(custody::audit::Finding {
            seq: None,
            code: custody::rules::Code::WitnessQuorum,
            message: why,
        });
    }
    if a.json {
        print_json(&serde_json::json!({
            "passed": report.passed(),
            "tsa_pinned": tokens == 0 || !tsa_certs.is_empty(),
            "witnesses_pinned": cosignatures == 0 || policy.is_some(),
            "report": report,
        }))?;
        return Ok(verdict(report.passed()));
    }
    outln!(
        "ledger {} ({} records), ledger key {} (fingerprint {}){}",
        report.origin,
        report.records,
        custody::keys::short_id(&ledger.ledger_key()),
        custody::keys::fingerprint_string(&ledger.ledger_key()),
        if a.ledger_key.is_some() {
            ""
        } else {
            "; pin it with --ledger-key"
        }
    )?;
    outln!(
        "checked {} signatures ({}), every chain link, stored tree hash and content file, and {} checkpoint(s) found valid",
        report.signatures_checked,
        if a.strict_signatures {
            "one by one"
        } else {
            "in batches"
        },
        report.checkpoints_checked
    )?;
    for s in &report.against {
        if s.consistent {
            outln!(
                "consistent with your saved checkpoint {} ({} records)",
                s.source,
                s.size
            )?;
        }
    }
    if let Some((from, to)) = report.uncovered {
        outln!(
            "records {from} to {to} are not yet covered by a signed checkpoint (run `custody checkpoint`)"
        )?;
    }
    for e in &report.erased {
        outln!(
            "record {} was erased by record {} ({}): its record and proofs stand, its text is gone",
            e.seq,
            e.by,
            custody::encoding::terminal_safe(&e.reason, false)
        )?;
    }
    if !report.sealed_unopened.is_empty() {
        let n = &report.sealed_unopened;
        outln!(
            "NOTE: {} sealed text(s) were sealed to other recipients than this identity and checked only for their ciphertexts and item keys: record(s) {}; audit again with their identity",
            n.len(),
            n.iter()
                .take(20)
                .map(u64::to_string)
                .collect::<Vec<_>>()
                .join(", ")
        )?;
    }
    if !ledger.authority().seal_to_history().is_empty() && identity.is_none() {
        outln!(
            "NOTE: sealed texts were checked for their ciphertexts and item keys (present, of the right sizes); give --identity to open them and check their commitments"
        )?;
    }
    if tokens > 0 && tsa_certs.is_empty() {
        outln!(
            "NOTE: {tokens} time-stamp token(s) were checked against the certificates kept beside them; pin the authority with --tsa-cert AUTHORITY.pem"
        )?;
    }
    if cosignatures > 0 && policy.is_none() {
        outln!(
            "NOTE: {cosignatures} cosignature(s) were checked against the witness keys the ledger keeps; pin the witnesses with --policy WITNESSES.policy"
        )?;
    }
    if report.passed() {
        outln!("OK: no problem found.")?;
    } else {
        let first = &report.findings[0];
        outln!(
            "PROBLEM: {} problem(s) found. First{}: {}",
            report.findings.len(),
            first
                .seq
                .map(|s| format!(" (record {s})"))
                .unwrap_or_default(),
            first.message
        )?;
        for f in report.findings.iter().skip(1).take(19) {
            outln!("  - {}", f.message)?;
        }
        if report.findings.len() > 20 {
            outln!(
                "  ... and {} more (use --json for all)",
                report.findings.len() - 20
            )?;
        }
    }
    Ok(verdict(report.passed()))
}
