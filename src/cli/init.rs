//! `custody init`.

use super::util::{KeyArgs, now_ms, print_json, shown};
use clap::Args;
use custody::ledger::Ledger;
use custody::{keys, note};
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Args)]
#[command(
    after_help = "Example:\n  custody key generate ledger --dir keys\n  custody init --ledger cases/syria-2026 --origin example.org/custody/syria-2026 --key keys/ledger.key\n\nThe origin names the ledger in every checkpoint. Use a schema-less URL you control."
)]
pub struct InitArgs {
    /// Directory to create the ledger in (must not exist, or be empty).
    #[arg(long, value_name = "DIR")]
    ledger: PathBuf,
    /// The ledger's origin, e.g. example.org/custody/case-1 (no spaces, no '+').
    #[arg(long)]
    origin: String,
    #[command(flatten)]
    key: KeyArgs,
    /// Seal testimony to this content recipient (an age1… key or a NAME.recipient file from
    /// `custody key generate-recipient`); repeatable. Record 1 then names them, and no text
    /// is ever stored in plain on this ledger's disk.
    #[arg(long, value_name = "RECIPIENT")]
    seal_to: Vec<String>,
    /// Print the result as JSON.
    #[arg(long)]
    json: bool,
}

pub fn exec(a: InitArgs) -> anyhow::Result<ExitCode> {
    let recipients = super::util::read_recipients(&a.seal_to)?;
    if !recipients.is_empty() {
        custody::seal::check_recipients(&recipients)?;
    }
    let key = a.key.load()?;
    let mut ledger = Ledger::init(&a.ledger, &a.origin, &key, now_ms())?;
    if !recipients.is_empty() {
        ledger.seal_to(&key, &recipients, now_ms())?;
        ledger.sign_checkpoint(&key)?;
    }
    let (_, signed) = ledger
        .latest_checkpoint()?
        .ok_or_else(|| anyhow::anyhow!("the first checkpoint was not stored"))?;
    let pk = key.verifying_key().to_bytes();
    if a.json {
        print_json(&serde_json::json!({
            "ledger": a.ledger,
            "origin": a.origin,
            "ledger_key_id": keys::short_id(&pk),
            "note_verifier_key": note::verifier_key(&a.origin, &pk),
            "checkpoint": signed,
            "seal_to": recipients.iter().map(custody::seal::recipient_string).collect::<Vec<_>>(),
        }))?;
    } else {
        outln!(
            "created ledger {} with origin {}",
            shown(&a.ledger),
            a.origin
        )?;
        outln!(
            "ledger key {} (verifier key {})",
            keys::short_id(&pk),
            note::verifier_key(&a.origin, &pk)
        )?;
        if recipients.is_empty() {
            outln!("record 0 (genesis) appended; first checkpoint:\n")?;
        } else {
            outln!(
                "record 0 (genesis) and record 1 (seal-to: testimony is sealed to {} recipient(s)) appended; checkpoint:\n",
                recipients.len()
            )?;
        }
        {
            use std::io::Write as _;
            write!(std::io::stdout().lock(), "{signed}")?;
        }
    }
    ledger.close()?;
    Ok(ExitCode::SUCCESS)
}
