//! `custody add testimony` and `custody add media`.

use super::LedgerArgs;
use super::files::{collect_files, guess_type, hash_files};
use super::util::{
    KeyArgs, MAX_TEXT, now_ms, open_write, print_json, read_bounded, read_text_file, shown,
};
use anyhow::{Context, bail};
use clap::{Args, Subcommand};
use custody::ledger::{Appended, Ledger, MediaInput, TestimonyInput};
use ed25519_dalek::SigningKey;
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
    #[command(flatten)]
    fields: TestimonyFields,
    /// Print the result as JSON.
    #[arg(long)]
    json: bool,
}

/// What a testimony statement says, shared by `add testimony` and `sign testimony`.
#[derive(Args)]
pub struct TestimonyFields {
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
}

#[derive(Args)]
pub struct MediaArgs {
    #[command(flatten)]
    ledger: LedgerArgs,
    #[command(flatten)]
    key: KeyArgs,
    #[command(flatten)]
    fields: MediaFields,
    /// Keep a sealed copy of each file in the ledger's content store (to the ledger's
    /// content recipients), so that the original can be wiped from this device;
    /// `custody open --out` restores it at headquarters, byte for byte.
    #[arg(long)]
    seal: bool,
    /// Print the result as JSON.
    #[arg(long)]
    json: bool,
}

/// What media statements say, shared by `add media` and `sign media`.
#[derive(Args)]
pub struct MediaFields {
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
    let input = a.fields.input()?;
    let mut ledger = open_write(&a.ledger)?;
    let now = now_ms();
    let appended = ledger.add_testimony(&key, input, custody::ledger::fresh_salt()?, now, now)?;
    finish(ledger, &key, vec![appended], a.json)
}

impl TestimonyFields {
    /// The testimony, text read and every field checked (before any ledger is touched).
    pub fn input(self) -> anyhow::Result<TestimonyInput> {
        let a = self;
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
        Ok(input)
    }
}

/// Appends are acknowledged on stdout first; a checkpoint follows when the key is the
/// ledger key, and a failure to sign it is reported without hiding the acknowledgement.
/// Only a failure to write the report says "this report could not be written".
fn finish(
    mut ledger: Ledger,
    key: &SigningKey,
    appended: Vec<Appended>,
    json: bool,
) -> anyhow::Result<ExitCode> {
    custody::ledger::crash_point("before-ack");
    let seqs: Vec<String> = appended.iter().map(|a| a.seq.to_string()).collect();
    // The records are in the ledger already: a failed write must not read as "nothing was
    // changed", or a script that retries would append them twice.
    let reported = |r: anyhow::Result<()>| {
        r.with_context(|| {
            format!(
                "records {} were appended, but this report of them could not be written; do not append them again",
                seqs.join(", ")
            )
        })
    };
    if !json {
        reported(acknowledge(&appended).map_err(Into::into))?;
    }
    let checkpoint = if key.verifying_key().to_bytes() == ledger.ledger_key() {
        match ledger.sign_checkpoint(key) {
            Ok((_, signed)) => Some(signed),
            Err(e) => {
                if json {
                    reported(print_json(&AddOutput {
                        appended,
                        checkpoint: None,
                    }))?;
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
        reported(print_json(&AddOutput {
            appended,
            checkpoint,
        }))?;
    } else {
        match &checkpoint {
            Some(_) => reported(
                outln!("signed checkpoint of {} records", ledger.size()).map_err(Into::into),
            )?,
            None => eprintln!(
                "note: not yet covered by a signed checkpoint; the ledger key holder runs `custody checkpoint`"
            ),
        }
    }
    ledger.close()?;
    Ok(ExitCode::SUCCESS)
}

/// One line per appended record (a summary for more than 20).
fn acknowledge(appended: &[Appended]) -> std::io::Result<()> {
    if appended.len() > 20 {
        outln!(
            "appended records {} to {} ({} records)",
            appended[0].seq,
            appended[appended.len() - 1].seq,
            appended.len()
        )
    } else {
        appended.iter().try_for_each(|r| {
            outln!(
                "appended record {} ({}) leaf {}",
                r.seq,
                r.kind,
                r.leaf_hash
            )
        })
    }
}

impl MediaFields {
    /// The files named (directories walked), or an error when there are none.
    pub fn files(&self) -> anyhow::Result<Vec<PathBuf>> {
        let files = collect_files(&self.paths)?;
        if files.is_empty() {
            bail!("no files found under the paths given; nothing was signed");
        }
        Ok(files.into_iter().map(|(p, _)| p).collect())
    }

    /// Hashes `paths` (in parallel, with progress unless `quiet`) into media statements.
    pub fn inputs(&self, paths: &[&Path], quiet: bool) -> anyhow::Result<Vec<MediaInput>> {
        hash_files(paths, "hashing", quiet)
            .into_iter()
            .zip(paths)
            .map(|(hashed, path)| {
                let (sha256, size) = hashed?;
                Ok(MediaInput {
                    sha256,
                    size,
                    name: if self.no_names {
                        None
                    } else {
                        path.file_name().map(|n| n.to_string_lossy().into_owned())
                    },
                    media_type: self.media_type.clone().or_else(|| guess_type(path)),
                    description: self.description.clone(),
                })
            })
            .collect()
    }
}

fn media(a: MediaArgs) -> anyhow::Result<ExitCode> {
    let key = a.key.load()?;
    let files = a.fields.files()?;
    // Open (and lock) the ledger before hashing, so a busy ledger fails fast.
    let ledger = open_write(&a.ledger)?;
    if a.seal && ledger.authority().seal_to().is_none() {
        bail!(
            "this ledger names no content recipients, so there is no one to seal to; an admin names them first with `custody seal-to`; nothing was appended"
        );
    }
    let paths: Vec<&Path> = files.iter().map(PathBuf::as_path).collect();
    let inputs = a.fields.inputs(&paths, a.json)?;
    let mut ledger = ledger;
    let now = now_ms();
    let appended = if a.seal {
        let total: u64 = inputs.iter().map(|i| i.size).sum();
        let pb = super::util::progress(total, true, a.json);
        pb.set_message("sealing");
        let open = |i: usize| -> std::io::Result<Box<dyn std::io::Read>> {
            Ok(Box::new(std::fs::File::open(paths[i])?))
        };
        let out =
            ledger.add_media_sealed(&key, inputs, &open, &mut |n| pb.set_position(n), now, now);
        pb.finish_and_clear();
        out?
    } else {
        ledger.add_media(&key, inputs, now, now)?
    };
    if !a.json && files.len() <= 20 {
        for (path, r) in files.iter().zip(&appended) {
            eprintln!("  {} -> record {}", shown(path), r.seq);
        }
    }
    finish(ledger, &key, appended, a.json)
}
