//! `custody publish`: the ledger's latest checkpoint and its tiles (c2sp.org/tlog-tiles) as
//! static files, for any web server, CDN or object store; the bytes `custody serve` serves.

use super::LedgerArgs;
use super::util::{open, print_json, shown};
use anyhow::{Context, bail};
use clap::Args;
use custody::checkpoint::Checkpoint;
use custody::ledger::Ledger;
use custody::tiles::{Tile, TileTree};
use serde::Serialize;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

#[derive(Args)]
#[command(after_help = "\
DIR receives `checkpoint` (the latest signed checkpoint, with the cosignatures kept for it),
`tile/L/N[.p/W]` (hash tiles) and `tile/entries/N[.p/W]` (the records), exactly what
`custody serve` serves at the same paths. Copy DIR to a web server, CDN or object store with the
usual tools (rsync, rclone, aws s3 sync); serve `checkpoint` with a short cache lifetime and
`tile/` as immutable (Cache-Control: public, max-age=31536000, immutable).

A second run writes only the tiles the tree has grown into since the checkpoint in DIR, then the
new checkpoint, last (so a reader never sees a checkpoint whose tiles are missing). Every file is
written whole (to a temporary name, then renamed). --all rewrites every tile that differs.")]
pub struct PublishArgs {
    #[command(flatten)]
    ledger: LedgerArgs,
    /// The directory to write into (created if missing).
    #[arg(long, value_name = "DIR")]
    out: PathBuf,
    /// Check every tile of the tree, not only those grown into since the last run.
    #[arg(long)]
    all: bool,
    /// Print the result as JSON.
    #[arg(long)]
    json: bool,
}

/// What a run of publish did.
#[derive(Serialize)]
pub struct PublishOutput {
    origin: String,
    size: u64,
    previous_size: u64,
    files_written: usize,
    files_unchanged: usize,
}

pub fn exec_publish(a: PublishArgs) -> anyhow::Result<ExitCode> {
    let ledger = open(&a.ledger)?;
    let done = publish_to(&ledger, &a.out, a.all, !a.json)?;
    if a.json {
        print_json(&done)?;
    } else {
        outln!(
            "published {} records of {} in {}: {} file(s) written, {} unchanged",
            done.size,
            done.origin,
            shown(&a.out),
            done.files_written,
            done.files_unchanged
        )?;
    }
    Ok(ExitCode::SUCCESS)
}

/// Writes the ledger's latest checkpoint and the tiles it needs into `dir` (all of them
/// when `all`, else those grown into since the checkpoint there), the checkpoint last.
pub fn publish_to(
    ledger: &Ledger,
    dir: &Path,
    all: bool,
    show_progress: bool,
) -> anyhow::Result<PublishOutput> {
    let Some((cp, text)) = ledger.published_checkpoint()? else {
        bail!(
            "the ledger has no signed checkpoint to publish; the ledger key holder runs `custody checkpoint` first"
        );
    };
    if dir.symlink_metadata().is_ok_and(|m| !m.is_dir()) {
        bail!("{} is not a directory", shown(dir));
    }
    std::fs::create_dir_all(dir).with_context(|| shown(dir))?;
    let old = previous(dir, &cp)?;
    let previous = old.as_ref().map_or(0, |c| c.size);
    // The directory's checkpoint must be of this ledger's history, not merely its origin:
    // the tiles written before it are taken as they are.
    if let Some(old) = old.as_ref().filter(|c| c.size > 0 && !all) {
        let ours = TileTree::new(previous, |t: Tile| ledger.tile(&t.path()).ok().flatten());
        if custody::merkle::root(&ours, previous).ok() != Some(old.root) {
            bail!(
                "{} holds a checkpoint of {previous} records whose root is not this ledger's at that size: another history under the same origin, or an altered file; publish into a new directory, or run with --all to rewrite every file",
                shown(dir)
            );
        }
    }
    let since = if all { 0 } else { previous };
    let mut written = 0;
    let mut unchanged = 0;
    let total = Tile::new_since(since, cp.size);
    let pb = super::util::progress(total.len() as u64, false, !show_progress);
    pb.set_message("writing tiles");
    for t in total {
        let mut paths = vec![t.path()];
        if t.level == 0 {
            paths.push(t.entries_path());
        }
        for p in paths {
            let bytes = tile_at(ledger, &p)?;
            if put(dir, &p, &bytes)? {
                written += 1;
            } else {
                unchanged += 1;
            }
        }
        pb.inc(1);
    }
    pb.finish_and_clear();
    // What was written must give the checkpoint's root, read back from DIR.
    let tree = TileTree::new(cp.size, |t: Tile| std::fs::read(dir.join(t.path())).ok());
    if cp.size > 0 && custody::merkle::root(&tree, cp.size).ok() != Some(cp.root) {
        bail!(
            "the tiles in {} do not give the checkpoint's root (a file there was removed or altered); run again with --all",
            shown(dir)
        );
    }
    if put(dir, "checkpoint", text.as_bytes())? {
        written += 1;
    } else {
        unchanged += 1;
    }
    Ok(PublishOutput {
        origin: cp.origin.clone(),
        size: cp.size,
        previous_size: previous,
        files_written: written,
        files_unchanged: unchanged,
    })
}

/// The checkpoint DIR holds (none for none); refuses another ledger's, and one newer than
/// the ledger's.
fn previous(dir: &Path, cp: &Checkpoint) -> anyhow::Result<Option<Checkpoint>> {
    let path = dir.join("checkpoint");
    let text = match std::fs::read_to_string(&path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e).with_context(|| shown(&path)),
    };
    let old = text
        .split_once("\n\n")
        .and_then(|(body, _)| Checkpoint::parse_body(&format!("{body}\n")).ok())
        .ok_or_else(|| {
            anyhow::anyhow!(
                "{} is not a checkpoint; publish into a directory of this ledger's, or a new one",
                shown(&path)
            )
        })?;
    if old.origin != cp.origin {
        bail!(
            "{} holds the tiles of another ledger ({}); publish {} into a directory of its own",
            shown(dir),
            old.origin,
            cp.origin
        );
    }
    if old.size > cp.size {
        bail!(
            "{} holds a checkpoint of {} records, newer than this ledger's latest ({}); is this the right ledger?",
            shown(dir),
            old.size,
            cp.size
        );
    }
    Ok(Some(old))
}

fn tile_at(ledger: &Ledger, path: &str) -> anyhow::Result<Vec<u8>> {
    ledger
        .tile(path)?
        .ok_or_else(|| anyhow::anyhow!("the ledger's index lacks {path}; run `custody audit`"))
}

/// Writes `bytes` at `rel` under `dir` unless the file there holds them already; returns
/// whether it wrote. The file is written whole under a temporary name, then renamed.
fn put(dir: &Path, rel: &str, bytes: &[u8]) -> anyhow::Result<bool> {
    let path = dir.join(rel);
    let parent = path.parent().unwrap_or(dir);
    // Every folder on the way is a folder of DIR's own: a link would send the write
    // elsewhere.
    let mut at = dir.to_path_buf();
    for part in Path::new(rel)
        .parent()
        .into_iter()
        .flat_map(Path::components)
    {
        at.push(part);
        match at.symlink_metadata() {
            Ok(m) if m.file_type().is_symlink() || !m.is_dir() => bail!(
                "{} is not a plain folder (a link?); publish writes only into folders of its own",
                shown(&at)
            ),
            Ok(_) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                std::fs::create_dir(&at).with_context(|| shown(&at))?;
            }
            Err(e) => return Err(e).with_context(|| shown(&at)),
        }
    }
    if path.symlink_metadata().is_ok_and(|m| m.is_file())
        && std::fs::read(&path).is_ok_and(|old| old == bytes)
    {
        return Ok(false);
    }
    let mut tmp = tempfile::Builder::new()
        .prefix(".publish-")
        .tempfile_in(parent)
        .with_context(|| shown(parent))?;
    tmp.write_all(bytes)?;
    {
        use std::os::unix::fs::PermissionsExt;
        tmp.as_file()
            .set_permissions(std::fs::Permissions::from_mode(0o644))?;
    }
    tmp.persist(&path)
        .map_err(|e| anyhow::anyhow!("{}: {}", shown(&path), e.error))?;
    Ok(true)
}
