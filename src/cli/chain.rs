//! `custody transfer`, `custody accept`, `custody history` and `custody amend`: the chain
//! of custody of an exhibit, each link signed by both sides, and corrections that never
//! erase what they correct.

use super::LedgerArgs;
use super::util::{
    KeyArgs, check_line, now_ms, open, open_write, print_appended, print_json, read_text_file,
    resolve_key, verdict,
};
use clap::Args;
use custody::keys;
use custody::record::Body;
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Args)]
#[command(
    after_help = "The current holder of the exhibit signs; the receiver must then run `custody accept`.\n\
Until accepted, the hand-over is pending and the exhibit stays with its holder.\n\
A pending hand-over is withdrawn with --cancel TRANSFER, signed by its sender or an admin\n\
(for example when the receiver's key was revoked meanwhile):\n\
  custody transfer --ledger L --key keys/amal.key --cancel 14"
)]
pub struct TransferArgs {
    #[command(flatten)]
    ledger: LedgerArgs,
    #[command(flatten)]
    key: KeyArgs,
    /// The exhibit (a testimony or media record).
    #[arg(long, value_name = "SEQ", required_unless_present = "cancel")]
    exhibit: Option<u64>,
    /// The receiver: key ID (8 hex digits), fingerprint, or public key file.
    #[arg(long, value_name = "KEYID", required_unless_present = "cancel")]
    to: Option<String>,
    /// Why it is handed over.
    #[arg(long, required_unless_present = "cancel")]
    reason: Option<String>,
    /// Withdraw the pending transfer recorded as this record, instead of making one.
    #[arg(long, value_name = "TRANSFER", conflicts_with_all = ["exhibit", "to", "reason", "location"])]
    cancel: Option<u64>,
    /// Where.
    #[arg(long, value_name = "TEXT")]
    location: Option<String>,
    /// Print the result as JSON.
    #[arg(long)]
    json: bool,
}

#[derive(Args)]
pub struct AcceptArgs {
    #[command(flatten)]
    ledger: LedgerArgs,
    #[command(flatten)]
    key: KeyArgs,
    /// The transfer record to countersign.
    transfer: u64,
    /// Print the result as JSON.
    #[arg(long)]
    json: bool,
}

#[derive(Args)]
#[command(after_help = "Exit 0 when every link verifies, 1 when any signature or record fails.")]
pub struct HistoryArgs {
    #[command(flatten)]
    ledger: LedgerArgs,
    /// The exhibit.
    seq: u64,
    /// Print the history as JSON.
    #[arg(long)]
    json: bool,
}

#[derive(Args)]
#[command(
    after_help = "The original record stays; `custody show` and `custody history` list every version in order.\n\
A testimony is amended with a new text (--text-file); a media record with a new --description."
)]
pub struct AmendArgs {
    #[command(flatten)]
    ledger: LedgerArgs,
    #[command(flatten)]
    key: KeyArgs,
    /// The record to correct.
    seq: u64,
    /// Why it is corrected.
    #[arg(long)]
    reason: String,
    /// The corrected testimony text (UTF-8 file).
    #[arg(long, value_name = "FILE", conflicts_with = "description")]
    text_file: Option<PathBuf>,
    /// The corrected media description.
    #[arg(long)]
    description: Option<String>,
    /// Print the result as JSON.
    #[arg(long)]
    json: bool,
}

pub fn exec_transfer(a: TransferArgs) -> anyhow::Result<ExitCode> {
    let key = a.key.load()?;
    let mut l = open_write(&a.ledger)?;
    let now = now_ms();
    if let Some(transfer) = a.cancel {
        let out = l.sign_and_append(&key, vec![Body::Cancel { transfer }], now, now)?;
        print_appended(
            a.json,
            &out,
            &format!("transfer {transfer} cancelled; the exhibit stays with its holder"),
        )?;
        l.close()?;
        return Ok(ExitCode::SUCCESS);
    }
    // clap requires these three unless --cancel is given.
    let (Some(exhibit), Some(to), Some(reason)) = (a.exhibit, a.to, a.reason) else {
        anyhow::bail!("give --exhibit SEQ --to KEYID --reason TEXT, or --cancel TRANSFER");
    };
    let to = resolve_key(&l, &to)?;
    let out = l.sign_and_append(
        &key,
        vec![Body::Transfer {
            exhibit,
            to,
            reason,
            location: a.location,
        }],
        now,
        now,
    )?;
    print_appended(
        a.json,
        &out,
        &format!(
            "exhibit {} handed to key {}; pending until it runs `custody accept {}`",
            exhibit,
            keys::short_id(&to),
            out[0].seq
        ),
    )?;
    l.close()?;
    Ok(ExitCode::SUCCESS)
}

pub fn exec_accept(a: AcceptArgs) -> anyhow::Result<ExitCode> {
    let key = a.key.load()?;
    let mut l = open_write(&a.ledger)?;
    let now = now_ms();
    let out = l.sign_and_append(
        &key,
        vec![Body::Accept {
            transfer: a.transfer,
        }],
        now,
        now,
    )?;
    print_appended(a.json, &out, &format!("transfer {} accepted", a.transfer))?;
    l.close()?;
    Ok(ExitCode::SUCCESS)
}

pub fn exec_history(a: HistoryArgs) -> anyhow::Result<ExitCode> {
    let l = open(&a.ledger)?;
    let h = l.history(a.seq, now_ms())?;
    let (ok, not_yet) = (h.passed(), h.pending());
    if a.json {
        print_json(&serde_json::json!({ "passed": ok, "pending": not_yet, "history": h }))?;
        return Ok(verdict(ok));
    }
    outln!("exhibit {} ({}): chain of custody", h.exhibit, h.kind)?;
    for (i, link) in h.links.iter().enumerate() {
        let until = match link.to_seq {
            Some(t) => format!("until record {t}"),
            None => "to now".into(),
        };
        outln!(
            "  {}. key {} {}: from record {} ({}) {}",
            i + 1,
            link.holder_key_id,
            link.holder,
            link.from_seq,
            link.from_time,
            until
        )?;
        for c in &link.checks {
            outln!("     {}", check_line(c))?;
        }
    }
    if let Some(p) = &h.pending {
        outln!(
            "  pending: transfer {} to key {} {} awaits its acceptance{}",
            p.transfer,
            p.to_key_id,
            p.to,
            if p.signed {
                ""
            } else {
                " (and the transfer record FAILS verification)"
            }
        )?;
    }
    if h.versions.len() > 1 {
        outln!(
            "versions: {} (the original, then each amendment)",
            h.versions
                .iter()
                .map(u64::to_string)
                .collect::<Vec<_>>()
                .join(", ")
        )?;
    }
    for (at, scope, stands) in &h.consent {
        outln!(
            "  consent changed by record {at}: {scope}{}",
            if *stands {
                ""
            } else {
                " (this change does not stand: its signer was compromised or never authorised; no court use)"
            }
        )?;
    }
    if let Some((by, reason)) = &h.erased {
        outln!(
            "  erased by record {by} ({}): the record and its proofs stand, its content is gone",
            custody::encoding::terminal_safe(reason, false)
        )?;
    }
    for (t, c) in &h.cancelled {
        outln!("  cancelled: transfer {t} was withdrawn by record {c} before it was accepted")?;
    }
    for c in &h.version_checks {
        outln!("  {}", check_line(c))?;
    }
    outln!(
        "{}",
        if ok {
            "OK: every link is signed by both sides and verifies."
        } else if not_yet {
            "NOT YET COVERED: every link verifies so far, but a record awaits a signed checkpoint (exit 1 until one covers it)."
        } else {
            "PROBLEM: a link fails verification (see above)."
        }
    )?;
    Ok(verdict(ok))
}

pub fn exec_amend(a: AmendArgs) -> anyhow::Result<ExitCode> {
    let key = a.key.load()?;
    let text = match &a.text_file {
        Some(p) => {
            let b = read_text_file(p, "corrected text file")?;
            Some(
                String::from_utf8(b)
                    .map_err(|_| anyhow::anyhow!("{}: the text is not valid UTF-8", p.display()))?,
            )
        }
        None => None,
    };
    if text.is_none() && a.description.is_none() {
        anyhow::bail!("give the corrected text with --text-file or a new --description");
    }
    let mut l = open_write(&a.ledger)?;
    let now = now_ms();
    let input = custody::ledger::AmendInput {
        target: a.seq,
        reason: a.reason,
        text,
        description: a.description,
    };
    let out = l.add_amendment(&key, input, custody::ledger::fresh_salt()?, now, now)?;
    print_appended(
        a.json,
        std::slice::from_ref(&out),
        &format!("record {} amended; the original stays", a.seq),
    )?;
    l.close()?;
    Ok(ExitCode::SUCCESS)
}
