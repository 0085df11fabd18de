//! The files a user names: directories walked, files hashed on all cores with progress.

use super::util::open_regular;
use super::util::progress;
use anyhow::{Context, bail};
use rayon::prelude::*;
use std::path::{Path, PathBuf};

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

pub fn guess_type(path: &Path) -> Option<String> {
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
