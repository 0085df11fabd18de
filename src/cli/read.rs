//! `custody log` and `custody show`.

use super::LedgerArgs;
use super::util::{open, print_json};
use clap::Args;
use custody::keys::short_id;
use custody::record::{Body, Effective, RecordView, rfc3339};
use std::io::Write;
use std::process::ExitCode;

#[derive(Args)]
pub struct LogArgs {
    #[command(flatten)]
    ledger: LedgerArgs,
    /// First sequence number to list.
    #[arg(long, default_value_t = 0)]
    from: u64,
    /// Last sequence number to list (inclusive).
    #[arg(long)]
    to: Option<u64>,
    /// One JSON object per record (a JSON array), with canonical bytes in base64.
    #[arg(long)]
    json: bool,
}

#[derive(Args)]
pub struct ShowArgs {
    #[command(flatten)]
    ledger: LedgerArgs,
    /// Sequence number of the record.
    seq: u64,
    /// Print the record as JSON, with canonical bytes in base64.
    #[arg(long)]
    json: bool,
}

pub fn summary(body: &Body) -> String {
    match body {
        Body::Genesis { origin } => format!("ledger {origin}"),
        Body::Testimony(t) => format!(
            "subject {} ({}), {} bytes{}",
            t.subject,
            t.language,
            t.content_len,
            t.consent
                .as_ref()
                .map(|c| format!(", consent: {c}"))
                .unwrap_or_default()
        ),
        Body::Media(m) => format!(
            "{} sha256 {} ({} bytes)",
            m.name.as_deref().unwrap_or("(unnamed)"),
            hex::encode(m.sha256),
            m.size
        ),
        Body::Authorize { key, name, role } => {
            format!(
                "authorises key {} for {name} as {}",
                short_id(key),
                role.name()
            )
        }
        Body::Revoke {
            key,
            reason,
            effective,
        } => format!(
            "revokes key {} ({}{})",
            short_id(key),
            reason.name(),
            match effective {
                Effective::Now => String::new(),
                Effective::Seq(n) => format!(", effective from record {n}"),
                Effective::Time(t) => format!(", effective from {}", rfc3339(*t)),
            }
        ),
        Body::LedgerKey { key } => format!(
            "names key {} to sign checkpoints from here on",
            short_id(key)
        ),
        Body::Cancel { transfer } => format!("cancels transfer {transfer}"),
        Body::Transfer {
            exhibit,
            to,
            reason,
            ..
        } => format!("hands exhibit {exhibit} to key {}: {reason}", short_id(to)),
        Body::Accept { transfer } => format!("accepts transfer {transfer}"),
        Body::Amend(a) => format!(
            "amends record {}: {}{}",
            a.target,
            a.reason,
            if a.content.is_some() {
                " (new text)"
            } else {
                " (new description)"
            }
        ),
        Body::SealTo { recipients } => format!(
            "seals content from here on to {}",
            recipients
                .iter()
                .map(custody::seal::recipient_string)
                .collect::<Vec<_>>()
                .join(", ")
        ),
        Body::Consent {
            target, consent, ..
        } => {
            format!("sets the consent of testimony {target} to {consent}")
        }
        Body::Erase { target, reason, .. } => {
            format!("erases the content of record {target}: {reason}")
        }
    }
}

pub fn exec_log(a: LogArgs) -> anyhow::Result<ExitCode> {
    let ledger = open(&a.ledger)?;
    let size = ledger.size();
    let last = a.to.unwrap_or(u64::MAX).min(size.saturating_sub(1));
    if a.from > last && size > 0 && a.from >= size {
        anyhow::bail!(
            "--from {} is past the end: the ledger has records 0 to {}",
            a.from,
            size - 1
        );
    }
    let mut out = std::io::stdout().lock();
    if a.json {
        write!(out, "[")?;
    }
    let mut first = true;
    for seq in a.from..=last {
        if seq >= size {
            break;
        }
        let (rec, bytes) = ledger.record(seq)?;
        if a.json {
            if !first {
                write!(out, ",")?;
            }
            writeln!(out)?;
            serde_json::to_writer(&mut out, &RecordView::new(&rec, &bytes))?;
        } else {
            writeln!(
                out,
                "{:>6}  {:<9}  {}  key {}  {}",
                seq,
                rec.statement.body.kind(),
                rfc3339(rec.recorded_at_ms),
                custody::keys::short_id(&rec.statement.signer),
                summary(&rec.statement.body)
            )?;
        }
        first = false;
    }
    if a.json {
        writeln!(out, "\n]")?;
    }
    Ok(ExitCode::SUCCESS)
}

pub fn exec_show(a: ShowArgs) -> anyhow::Result<ExitCode> {
    let ledger = open(&a.ledger)?;
    let (rec, bytes) = ledger.record(a.seq)?;
    let view = RecordView::new(&rec, &bytes);
    let amended_by = ledger.authority().amendments_of(a.seq).to_vec();
    if a.json {
        let mut v = serde_json::to_value(&view)?;
        v["amended_by"] = serde_json::json!(amended_by);
        print_json(&v)?;
    } else {
        print_view(&view)?;
        for s in &amended_by {
            if let Ok((r, _)) = ledger.record(*s) {
                outln!(
                    "  amended by     record {s}: {}",
                    summary(&r.statement.body)
                )?;
            }
        }
        if !amended_by.is_empty() {
            outln!(
                "  (every version is kept; `custody show` each record for its full text and signature)"
            )?;
        }
    }
    Ok(ExitCode::SUCCESS)
}

pub fn print_view(v: &RecordView) -> std::io::Result<()> {
    outln!("record {} ({})", v.seq, v.kind)?;
    if let Some(obj) = v.body.as_object() {
        for (k, val) in obj {
            let s = match val {
                serde_json::Value::String(s) => s.clone(),
                serde_json::Value::Null => continue,
                other => other.to_string(),
            };
            outln!("  {:<15} {}", k.replace('_', " "), s)?;
        }
    }
    outln!(
        "  {:<15} key {} (fingerprint {})",
        "signed by",
        v.signer_key_id,
        v.signer_fingerprint
    )?;
    outln!("  {:<15} {}", "claimed time", v.claimed_at)?;
    outln!("  {:<15} {}", "recorded time", v.recorded_at)?;
    outln!("  {:<15} {}", "leaf hash", v.leaf_hash)?;
    outln!("  {:<15} {}", "prev", v.prev)?;
    Ok(())
}
