//! `custody add testimony`, `custody add media` and `custody checkpoint`.

use super::LedgerArgs;
use super::util::{
    KeyArgs, MAX_TEXT, now_ms, open_regular, open_write, print_json, progress, read_bounded,
    read_text_file, shown,
};
use anyhow::{Context, bail};
use clap::{Args, Subcommand};
use custody::keys;
use custody::ledger::{Appended, Ledger, MediaInput, TestimonyInput};
use ed25519_dalek::SigningKey;
use rayon::prelude::*;
use serde::Serialize;
use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

const CHECKPOINT_NOTE: &str = "When --key is the ledger key, `add` also signs a checkpoint so the new records are covered at once;\nwith any other key, the ledger key holder runs `custody checkpoint` later.";

#[derive(Subcommand)]
pub enum AddCommand {
    /// Append a testimony: the record holds a salted commitment, the text goes to the content store.
    #[command(after_help = format!("The text comes from --text-file or standard input and must be UTF-8.\n\n{CHECKPOINT_NOTE}"))]
    Testimony(TestimonyArgs),
    /// Append one record per media file (directories are walked in name order).
    #[command(after_help = format!("Files are hashed with SHA-256 (the same digest `sha256sum` prints), in parallel, with flat memory.\nAll records of one call are written with a single fsync.\n\n{CHECKPOINT_NOTE}"))]
    Media(MediaArgs),
}

#[derive(Args)]
pub struct TestimonyArgs {
    #[command(flatten)]
    ledger: LedgerArgs,
    #[command(flatten)]
    key: KeyArgs,
    /// Pseudonym of the person testifying (never a real name).
    #[arg(long)]
    subject: String,
    /// Language of the text, e.g. ar, en, ku.
    #[arg(long)]
    language: String,
    /// File holding the text; standard input when absent.
    #[arg(long, value_name = "FILE")]
    text_file: Option<PathBuf>,
    /// Scope of consent the witness gave: a comma-separated list of court, advocacy,
    /// research, archive, or none alone (e.g. court,research). Only `court` allows export
    /// to a court without --override-consent.
    #[arg(long, value_name = "SCOPE")]
    consent: Option<String>,
    /// Where the testimony was taken.
    #[arg(long, value_name = "TEXT")]
    location: Option<String>,
    /// Print the result as JSON.
    #[arg(long)]
    json: bool,
}

#[derive(Args)]
pub struct MediaArgs {
    #[command(flatten)]
    ledger: LedgerArgs,
    #[command(flatten)]
    key: KeyArgs,
    /// Description stored in every record of this call.
    #[arg(long)]
    description: Option<String>,
    /// Media type (guessed from the file extension when absent).
    #[arg(long, value_name = "TYPE")]
    media_type: Option<String>,
    /// Do not store file names in the records (names can identify people).
    #[arg(long)]
    no_names: bool,
    /// Files or directories.
    #[arg(required = true, value_name = "PATH")]
    paths: Vec<PathBuf>,
    /// Print the result as JSON.
    #[arg(long)]
    json: bool,
}

#[derive(Args)]
pub struct CheckpointArgs {
    #[command(flatten)]
    ledger: LedgerArgs,
    #[command(flatten)]
    key: KeyArgs,
    /// Also write the signed checkpoint to this file (keep a copy elsewhere for later audits).
    #[arg(long, value_name = "FILE")]
    out: Option<PathBuf>,
}

#[derive(Serialize)]
struct AddOutput {
    appended: Vec<Appended>,
    checkpoint: Option<String>,
}

pub fn exec(cmd: AddCommand) -> anyhow::Result<ExitCode> {
    match cmd {
        AddCommand::Testimony(a) => testimony(a),
        AddCommand::Media(a) => media(a),
    }
}

fn testimony(a: TestimonyArgs) -> anyhow::Result<ExitCode> {
    let key = a.key.load()?;
    let raw = match &a.text_file {
        Some(p) => read_text_file(p, "testimony text file")?,
        None => {
            if std::io::stdin().is_terminal() {
                eprintln!("Type or paste the testimony, then press Ctrl-D on a new line:");
            }
            read_bounded(
                std::io::stdin().lock(),
                MAX_TEXT,
                "testimony on standard input",
            )?
        }
    };
    let source = a
        .text_file
        .as_ref()
        .map_or("standard input".to_string(), |p| p.display().to_string());
    let text = String::from_utf8(raw).map_err(|e| {
        anyhow::anyhow!(
            "{source}: the testimony is not valid UTF-8 (first bad byte at offset {}); convert it, e.g. `iconv -f WINDOWS-1256 -t UTF-8`",
            e.utf8_error().valid_up_to()
        )
    })?;
    let input = TestimonyInput {
        subject: a.subject,
        language: a.language,
        consent: a.consent,
        location: a.location,
        text,
    };
    // Refuse bad input before the ledger is opened, so it is never touched.
    input.validate()?;
    let mut ledger = open_write(&a.ledger)?;
    let now = now_ms();
    let appended = ledger.add_testimony(&key, input, custody::ledger::fresh_salt()?, now, now)?;
    finish(ledger, &key, vec![appended], a.json)
}

/// Appends are acknowledged on stdout first; a checkpoint follows when the key is the
/// ledger key, and a failure to sign it is reported without hiding the acknowledgement.
fn finish(
    ledger: Ledger,
    key: &SigningKey,
    appended: Vec<Appended>,
    json: bool,
) -> anyhow::Result<ExitCode> {
    let seqs: Vec<u64> = appended.iter().map(|a| a.seq).collect();
    acknowledge(ledger, key, appended, json).with_context(|| {
        format!(
            "records {} were appended, but this report of them could not be written; do not append them again",
            seqs.iter()
                .map(u64::to_string)
                .collect::<Vec<_>>()
                .join(", ")
        )
    })
}

fn acknowledge(
    mut ledger: Ledger,
    key: &SigningKey,
    appended: Vec<Appended>,
    json: bool,
) -> anyhow::Result<ExitCode> {
    custody::ledger::crash_point("before-ack");
    if !json {
        if appended.len() > 20 {
            outln!(
                "appended records {} to {} ({} records)",
                appended[0].seq,
                appended[appended.len() - 1].seq,
                appended.len()
            )?;
        } else {
            for r in &appended {
                outln!(
                    "appended record {} ({}) leaf {}",
                    r.seq,
                    r.kind,
                    r.leaf_hash
                )?;
            }
        }
    }
    let checkpoint = if key.verifying_key().to_bytes() == ledger.ledger_key() {
        match ledger.sign_checkpoint(key) {
            Ok((_, signed)) => Some(signed),
            Err(e) => {
                if json {
                    print_json(&AddOutput {
                        appended,
                        checkpoint: None,
                    })?;
                }
                return Err(anyhow::anyhow!(
                    "the records were appended, but signing a checkpoint failed: {e}"
                ));
            }
        }
    } else {
        None
    };
    if json {
        print_json(&AddOutput {
            appended,
            checkpoint,
        })?;
    } else {
        match &checkpoint {
            Some(_) => outln!("signed checkpoint of {} records", ledger.size())?,
            None => eprintln!(
                "note: not yet covered by a signed checkpoint; the ledger key holder runs `custody checkpoint`"
            ),
        }
    }
    ledger.close()?;
    Ok(ExitCode::SUCCESS)
}

fn media(a: MediaArgs) -> anyhow::Result<ExitCode> {
    let key = a.key.load()?;
    let files = collect_files(&a.paths)?;
    if files.is_empty() {
        bail!("no files found under the paths given; nothing was appended");
    }
    // Open (and lock) the ledger before hashing, so a busy ledger fails fast.
    let ledger = open_write(&a.ledger)?;
    let paths: Vec<&Path> = files.iter().map(|(p, _)| p.as_path()).collect();
    let inputs = hash_files(&paths, "hashing", a.json)
        .into_iter()
        .zip(&paths)
        .map(|(hashed, path)| {
            let (sha256, size) = hashed?;
            Ok(MediaInput {
                sha256,
                size,
                name: if a.no_names {
                    None
                } else {
                    path.file_name().map(|n| n.to_string_lossy().into_owned())
                },
                media_type: a.media_type.clone().or_else(|| guess_type(path)),
                description: a.description.clone(),
            })
        })
        .collect::<anyhow::Result<Vec<_>>>()?;
    let mut ledger = ledger;
    let now = now_ms();
    let appended = ledger.add_media(&key, inputs, now, now)?;
    if !a.json && files.len() <= 20 {
        for ((path, _), r) in files.iter().zip(&appended) {
            eprintln!("  {} -> record {}", shown(path), r.seq);
        }
    }
    finish(ledger, &key, appended, a.json)
}

/// Expands paths into regular files: directories recursively in byte order of names,
/// refusing links inside directories and anything that is not a regular file.
pub fn collect_files(paths: &[PathBuf]) -> anyhow::Result<Vec<(PathBuf, u64)>> {
    let mut out = Vec::new();
    let mut seen = std::collections::HashSet::new();
    for p in paths {
        let meta = std::fs::metadata(p).with_context(|| format!("cannot read {}", p.display()))?;
        if meta.is_dir() {
            walk(p, &mut out)?;
        } else if meta.is_file() {
            out.push((p.clone(), meta.len()));
        } else {
            bail!(
                "{} is not a regular file or directory (a pipe, socket or device cannot be evidence); copy the data into a file first",
                p.display()
            );
        }
    }
    out.retain(|(p, _)| seen.insert(std::fs::canonicalize(p).unwrap_or_else(|_| p.clone())));
    Ok(out)
}

fn walk(dir: &Path, out: &mut Vec<(PathBuf, u64)>) -> anyhow::Result<()> {
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .with_context(|| format!("cannot read directory {}", dir.display()))?
        .collect::<Result<_, _>>()
        .with_context(|| format!("cannot read directory {}", dir.display()))?;
    entries.sort_by_key(|e| e.file_name());
    for e in entries {
        let path = e.path();
        let ft = e
            .file_type()
            .with_context(|| format!("cannot read {}", path.display()))?;
        if ft.is_symlink() {
            bail!(
                "{} is a symbolic link inside a directory; add its target explicitly if it is evidence",
                path.display()
            );
        } else if ft.is_dir() {
            walk(&path, out)?;
        } else if ft.is_file() {
            let len = e
                .metadata()
                .with_context(|| format!("cannot read {}", path.display()))?
                .len();
            out.push((path, len));
        } else {
            bail!(
                "{} is not a regular file (a pipe, socket or device cannot be evidence)",
                path.display()
            );
        }
    }
    Ok(())
}

/// Hashes files on all cores under one progress bar over their bytes (drawn only on a
/// terminal, never with `--json`); one result per file, in the order given.
pub fn hash_files(
    paths: &[&Path],
    message: &str,
    json: bool,
) -> Vec<anyhow::Result<([u8; 32], u64)>> {
    let total = paths
        .iter()
        .map(|p| std::fs::metadata(p).map_or(0, |m| m.len()))
        .sum();
    let pb = progress(total, true, json || paths.is_empty());
    pb.set_message(message.to_owned());
    let hashed = paths.par_iter().map(|p| hash_file(p, &pb)).collect();
    pb.finish_and_clear();
    hashed
}

/// Streaming SHA-256 with a fixed buffer; refuses a file that changes while it is read.
pub fn hash_file(path: &Path, pb: &indicatif::ProgressBar) -> anyhow::Result<([u8; 32], u64)> {
    let ctx = || format!("cannot read {}", path.display());
    let mut f = open_regular(path, "file")?;
    let before = f.metadata().with_context(ctx)?;
    let (digest, size) = custody::record::sha256_stream(&mut f, |n| pb.inc(n)).with_context(ctx)?;
    let after = std::fs::metadata(path).with_context(ctx)?;
    if after.len() != before.len()
        || size != before.len()
        || after.modified().ok() != before.modified().ok()
    {
        bail!(
            "{} changed while it was being hashed; wait until it is completely written and add it again",
            path.display()
        );
    }
    Ok((digest, size))
}

fn guess_type(path: &Path) -> Option<String> {
    let ext = path.extension()?.to_str()?.to_ascii_lowercase();
    let t = match ext.as_str() {
        "mp4" | "m4v" => "video/mp4",
        "mov" => "video/quicktime",
        "mkv" => "video/x-matroska",
        "webm" => "video/webm",
        "avi" => "video/x-msvideo",
        "3gp" => "video/3gpp",
        "jpg" | "jpeg" => "image/jpeg",
        "png" => "image/png",
        "heic" => "image/heic",
        "gif" => "image/gif",
        "tif" | "tiff" => "image/tiff",
        "wav" => "audio/wav",
        "mp3" => "audio/mpeg",
        "m4a" => "audio/mp4",
        "ogg" | "opus" => "audio/ogg",
        "pdf" => "application/pdf",
        "txt" => "text/plain",
        "zip" => "application/zip",
        _ => return None,
    };
    Some(t.to_owned())
}

pub fn exec_checkpoint(a: CheckpointArgs) -> anyhow::Result<ExitCode> {
    let key = a.key.load()?;
    if let Some(out) = &a.out
        && out.symlink_metadata().is_ok()
    {
        bail!("{} already exists; choose a new file name", out.display());
    }
    let mut ledger = open_write(&a.ledger)?;
    let (_, signed) = ledger.sign_checkpoint(&key)?;
    if let Some(out) = &a.out {
        keys::write_new_file(out, signed.as_bytes(), 0o644)?;
        eprintln!(
            "saved to {}; keep a copy away from this machine for later `custody audit --against`",
            out.display()
        );
    }
    {
        use std::io::Write as _;
        write!(std::io::stdout().lock(), "{signed}")?;
    }
    ledger.close()?;
    Ok(ExitCode::SUCCESS)
}

#[derive(Args)]
#[command(
    after_help = "The journal is the source of truth. `recover` indexes journal records that the index\n\
missed (an append interrupted by a crash), cuts off a torn final frame, and rebuilds an index\n\
that cannot be opened (moving the old one aside). Signed checkpoints are restored from the\n\
ledger's checkpoints file, each verified before it is kept."
)]
pub struct RecoverArgs {
    #[command(flatten)]
    ledger: LedgerArgs,
}

pub fn exec_recover(a: RecoverArgs) -> anyhow::Result<ExitCode> {
    let wait = if a.ledger.wait {
        custody::ledger::LockWait::Yes
    } else {
        custody::ledger::LockWait::No
    };
    // Re-indexing a large journal takes a while: show progress on a terminal.
    let pb = progress(0, true, false);
    let recovered = Ledger::recover(&a.ledger.ledger, wait, &mut |done, total| {
        // Drawn from the first chunk on: never while waiting for the lock, never for nothing.
        if pb.length() != Some(total) {
            pb.set_length(total);
            pb.set_message("indexing the journal");
        }
        pb.set_position(done);
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
