//! `custody seal-to`, `custody open`, `custody consent` and `custody erase`: sealed content
//! (SPEC.md section 15).

use super::LedgerArgs;
use super::util::{
    IdentityArgs, KeyArgs, now_ms, open, open_write, print_appended, print_json, read_recipients,
    shown,
};
use anyhow::bail;
use clap::Args;
use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Args)]
#[command(
    after_help = "Examples:\n  custody key generate-recipient hq --dir keys\n  custody seal-to --ledger L --key keys/admin.key --add keys/hq.recipient\n  custody seal-to --ledger L --key keys/admin.key --add age1... --remove age1...\n\nFrom the next record on, testimony text is sealed to exactly these recipients: the field\ndevice keeps ciphertext and item keys wrapped to them, and cannot read its own texts back.\nA ledger that seals always seals: the last recipient cannot be removed.\n`custody init --seal-to` names the first recipients when the ledger is created."
)]
pub struct SealToArgs {
    #[command(flatten)]
    ledger: LedgerArgs,
    #[command(flatten)]
    key: KeyArgs,
    /// A recipient to add: an age1… key or a NAME.recipient file (repeatable).
    #[arg(long, value_name = "RECIPIENT")]
    add: Vec<String>,
    /// A recipient to remove (repeatable): texts recorded from now on no longer open with it.
    #[arg(long, value_name = "RECIPIENT")]
    remove: Vec<String>,
    /// Print the result as JSON.
    #[arg(long)]
    json: bool,
}

pub fn exec_seal_to(a: SealToArgs) -> anyhow::Result<ExitCode> {
    let add = read_recipients(&a.add)?;
    let remove = read_recipients(&a.remove)?;
    if add.is_empty() && remove.is_empty() {
        bail!("give recipients with --add (and --remove); nothing was appended");
    }
    let key = a.key.load()?;
    let mut ledger = open_write(&a.ledger)?;
    let mut current: Vec<[u8; 32]> = ledger
        .authority()
        .seal_to()
        .map(|(_, r)| r)
        .unwrap_or_default();
    // A recipient nothing can be sealed to (a record written by other software) is dropped,
    // so that the ledger can be repaired.
    current.retain(|k| {
        let usable = custody::seal::recipient_of(k).is_ok();
        if !usable {
            eprintln!(
                "note: dropping recipient {}, to which nothing can be sealed",
                custody::seal::recipient_string(k)
            );
        }
        usable
    });
    for r in &remove {
        if !current.contains(r) {
            bail!(
                "{} is not a content recipient of this ledger; nothing was appended",
                custody::seal::recipient_string(r)
            );
        }
    }
    let mut next: Vec<[u8; 32]> = current
        .iter()
        .filter(|r| !remove.contains(r))
        .copied()
        .collect();
    for r in add {
        if !next.contains(&r) {
            next.push(r);
        }
    }
    if next.is_empty() {
        bail!(
            "a ledger that seals keeps at least one recipient; add the new one in the same call (--add NEW --remove OLD)"
        );
    }
    if next == current {
        bail!("the recipients would not change; nothing was appended");
    }
    let appended = ledger.seal_to(&key, &next, now_ms())?;
    let names: Vec<String> = next.iter().map(custody::seal::recipient_string).collect();
    if a.json {
        print_json(&serde_json::json!({ "appended": [appended], "recipients": names }))?;
    } else {
        print_appended(
            false,
            std::slice::from_ref(&appended),
            &format!(
                "from record {} on, content is sealed to {} recipient(s):",
                appended.seq + 1,
                names.len()
            ),
        )?;
        for n in &names {
            outln!("  {n}")?;
        }
    }
    ledger.close()?;
    Ok(ExitCode::SUCCESS)
}

#[derive(Args)]
#[command(
    after_help = "Examples:\n  custody open --ledger L 5 --identity keys/hq.identity            # a testimony's text, on stdout\n  custody open --ledger L 5 --identity keys/hq.identity --out t.txt\n  custody open --ledger L 7 --identity keys/hq.identity --out clip.mp4   # a sealed media copy\n\nThe text (or file) is checked against the record's signed commitment (or SHA-256) before it\nis shown or kept. A text that is not sealed opens without --identity. --out is never\noverwritten, and gets nothing unless the whole item opened and matched."
)]
pub struct OpenArgs {
    #[command(flatten)]
    ledger: LedgerArgs,
    /// The testimony, amendment or media record.
    seq: u64,
    #[command(flatten)]
    identity: IdentityArgs,
    /// Write to this new file instead of standard output (required for media).
    #[arg(long, value_name = "FILE")]
    out: Option<PathBuf>,
}

pub fn exec_open(a: OpenArgs) -> anyhow::Result<ExitCode> {
    let identity = a.identity.load()?;
    if let Some(out) = &a.out
        && out.symlink_metadata().is_ok()
    {
        bail!("{} already exists; give a new file with --out", shown(out));
    }
    // Nothing opened is ever written under the ledger directory.
    if let Some(out) = &a.out {
        let parent = match out.parent() {
            Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
            _ => PathBuf::from("."),
        };
        if let (Ok(p), Ok(l)) = (parent.canonicalize(), a.ledger.ledger.canonicalize())
            && p.starts_with(&l)
        {
            bail!(
                "{} is inside the ledger directory, which must never hold an opened text or file; give --out a place outside it",
                shown(out)
            );
        }
    }
    let ledger = open(&a.ledger)?;
    if let Some(id) = &identity {
        ledger.check_identity(id)?;
    }
    let (rec, _) = ledger.record(a.seq)?;
    if let custody::record::Body::Media(m) = &rec.statement.body {
        let Some(out) = &a.out else {
            bail!(
                "record {} is a media record: give --out FILE for the restored copy",
                a.seq
            );
        };
        let identity = identity.ok_or_else(|| {
            anyhow::anyhow!("a sealed media copy opens only with --identity FILE (a content recipient's identity)")
        })?;
        let pb = super::util::progress(m.size, true, false);
        let written = into_new_file(out, |w| {
            Ok(ledger.open_media(a.seq, &identity, w, &mut |n| pb.set_position(n))?)
        })?;
        pb.finish_and_clear();
        eprintln!(
            "restored record {} to {} ({written} bytes, SHA-256 {} as recorded)",
            a.seq,
            shown(out),
            hex::encode(m.sha256)
        );
        return Ok(ExitCode::SUCCESS);
    }
    let opened = ledger.open_text(a.seq, identity.as_ref())?;
    match &a.out {
        Some(out) => {
            into_new_file(out, |w| Ok(w.write_all(&opened.text)?))?;
            eprintln!(
                "wrote the text of record {} to {} ({} bytes, matching its signed commitment)",
                a.seq,
                shown(out),
                opened.text.len()
            );
        }
        None => std::io::stdout().lock().write_all(&opened.text)?,
    }
    Ok(ExitCode::SUCCESS)
}

/// Writes into a new file beside `out` (created exclusively, mode 0600) and renames it to
/// `out` (never replacing a file) only when `write` succeeds.
fn into_new_file<T>(
    out: &std::path::Path,
    write: impl FnOnce(&mut dyn Write) -> anyhow::Result<T>,
) -> anyhow::Result<T> {
    let dir = match out.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => std::path::Path::new("."),
    };
    let mut tmp = tempfile::Builder::new()
        .prefix(".custody-open-")
        .tempfile_in(dir)
        .map_err(|e| anyhow::anyhow!("{}: {e}", shown(dir)))?;
    let value = {
        let mut w = std::io::BufWriter::new(tmp.as_file_mut());
        let v = write(&mut w)?;
        w.flush()?;
        v
    };
    tmp.as_file().sync_all()?;
    tmp.persist_noclobber(out)
        .map_err(|e| anyhow::anyhow!("{}: {}", shown(out), e.error))?;
    Ok(value)
}

#[derive(Args)]
#[command(
    after_help = "Examples:\n  custody consent --ledger L --key keys/alice.key 5 --scope court,research\n  custody consent --ledger L --key keys/alice.key 5 --withdraw\n\nThe testimony's recorder or an admin signs. `export` applies the consent in force when it\nruns; `history` and the bundle's report show every change."
)]
pub struct ConsentArgs {
    #[command(flatten)]
    ledger: LedgerArgs,
    #[command(flatten)]
    key: KeyArgs,
    /// The testimony.
    seq: u64,
    /// The scope now given: a comma-separated list of court, advocacy, research, archive.
    #[arg(
        long,
        value_name = "SCOPE",
        conflicts_with = "withdraw",
        required_unless_present = "withdraw"
    )]
    scope: Option<String>,
    /// Withdraw consent entirely (the scope `none`).
    #[arg(long)]
    withdraw: bool,
    /// Print the result as JSON.
    #[arg(long)]
    json: bool,
}

pub fn exec_consent(a: ConsentArgs) -> anyhow::Result<ExitCode> {
    let scope = match &a.scope {
        Some(s) => s.clone(),
        None => "none".to_string(),
    };
    custody::rules::check_consent(&scope).map_err(|e| anyhow::anyhow!(e))?;
    let key = a.key.load()?;
    let mut ledger = open_write(&a.ledger)?;
    let appended = ledger.set_consent(&key, a.seq, &scope, now_ms())?;
    print_appended(
        a.json,
        std::slice::from_ref(&appended),
        &format!("consent for testimony {} is now: {scope}", a.seq),
    )?;
    ledger.close()?;
    Ok(ExitCode::SUCCESS)
}

#[derive(Args)]
#[command(
    after_help = "Examples:\n  custody erase --ledger L --key keys/admin.key 5 --reason \"court order 2026/114\"\n  custody erase --ledger L --finish\n\nAn admin signs an erasure record; then the item keys of the testimony's texts (every\nversion) or of a media record's sealed copy, and any plain text, are overwritten and\ndeleted. Every copy of the ciphertext, in backups and mirrors too, becomes unreadable for\neveryone, headquarters included. The record, its commitment and every proof still verify;\n`audit` reports the item as erased. --finish completes an erasure a crash interrupted."
)]
pub struct EraseArgs {
    #[command(flatten)]
    ledger: LedgerArgs,
    /// The admin's secret key file.
    #[arg(long, value_name = "KEY", required_unless_present = "finish")]
    key: Option<PathBuf>,
    /// A file whose first line is the key's passphrase.
    #[arg(long, value_name = "FILE")]
    passphrase_file: Option<PathBuf>,
    /// The testimony or media record.
    #[arg(required_unless_present = "finish")]
    seq: Option<u64>,
    /// Why (for example the court order), recorded in the ledger.
    #[arg(long, value_name = "TEXT", required_unless_present = "finish")]
    reason: Option<String>,
    /// Only destroy what earlier erasure records call for and is still stored.
    #[arg(long, conflicts_with_all = ["key", "seq", "reason"])]
    finish: bool,
    /// Print the result as JSON.
    #[arg(long)]
    json: bool,
}

pub fn exec_erase(a: EraseArgs) -> anyhow::Result<ExitCode> {
    if a.finish {
        let ledger = open_write(&a.ledger)?;
        let done = ledger.finish_erasures()?;
        if a.json {
            print_json(&serde_json::json!({ "destroyed": done.files, "failed": done.failed }))?;
        } else {
            outln!("{} file(s) destroyed", done.files.len())?;
        }
        ledger.close()?;
        return incomplete(&done, None);
    }
    let (Some(key), Some(seq), Some(reason)) = (a.key, a.seq, a.reason) else {
        bail!("give the record, --key ADMIN and --reason TEXT");
    };
    let key = KeyArgs {
        key,
        passphrase_file: a.passphrase_file,
    }
    .load()?;
    let mut ledger = open_write(&a.ledger)?;
    let (appended, done) = ledger.erase(&key, seq, &reason, now_ms())?;
    if a.json {
        print_json(&serde_json::json!({
            "appended": [appended],
            "destroyed": done.files,
            "failed": done.failed,
        }))?;
    } else {
        print_appended(
            false,
            std::slice::from_ref(&appended),
            &format!(
                "record {seq} erased: {} file(s) destroyed; its record and proofs stay",
                done.files.len()
            ),
        )?;
    }
    ledger.close()?;
    incomplete(&done, Some(appended.seq))
}

/// An erasure that could not destroy everything is a failure (exit 1) that says what is
/// left and how to finish: its record, if one was appended, stays.
fn incomplete(
    done: &custody::ledger::Destroyed,
    appended: Option<u64>,
) -> anyhow::Result<ExitCode> {
    if done.failed.is_empty() {
        return Ok(ExitCode::SUCCESS);
    }
    Err(custody::error::Error::Failing(format!(
        "{}{} item(s) could not be destroyed: {}; fix what is named and run `custody erase --finish`",
        appended.map_or_else(String::new, |s| format!("the erasure record {s} was appended, but ")),
        done.failed.len(),
        done.failed.join("; ")
    ))
    .into())
}
