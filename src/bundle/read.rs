//! Reading a bundle's ZIP safely: every member name vetted and every byte accounted for
//! before anything is read, then members read in memory under enforced limits.

use super::BundleError;
use super::MAX_HELD;
use super::MAX_MEDIA;
use super::MAX_MEMBER;
use super::MAX_MEMBERS;
use super::MAX_RATIO;
use crate::Hash;
use crate::error::Result;
use sha2::{Digest, Sha256};
use std::collections::{BTreeMap, BTreeSet};
use std::io::{Read, Seek};

/// Checks a member name against SPEC.md 11.1; the reason when unsafe.
pub(super) fn unsafe_name(name: &[u8]) -> Option<String> {
    let Ok(s) = std::str::from_utf8(name) else {
        return Some("a member name is not UTF-8".into());
    };
    let shown = s.escape_debug();
    if s.is_empty() || s.len() > 255 {
        return Some(format!(
            "member name '{shown}' is empty or longer than 255 bytes"
        ));
    }
    if s.starts_with('/') || s.contains('\\') || s.contains(':') {
        return Some(format!(
            "member name '{shown}' is absolute or uses '\\' or ':'"
        ));
    }
    if s.chars().any(char::is_control) {
        return Some(format!(
            "member name '{shown}' contains a control character"
        ));
    }
    if s.split('/')
        .any(|seg| seg.is_empty() || seg == "." || seg == "..")
    {
        return Some(format!(
            "member name '{shown}' has an empty, '.' or '..' segment (path traversal)"
        ));
    }
    None
}

/// Whether a (safe) member name is one SPEC.md 11.1 allows.
pub(super) fn known_name(name: &str) -> bool {
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    let hexn = |s: &str, n: usize| {
        s.len() == n
            && s.bytes()
                .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase())
    };
    match name {
        "manifest.json" | "manifest.sig" | "checkpoint.txt" | "SHA256SUMS" | "report.html"
        | "VERIFY.txt" => true,
        _ => {
            if let Some(r) = name
                .strip_prefix("proofs/")
                .and_then(|r| r.strip_suffix(".tlog-proof"))
            {
                digits(r)
            } else if let Some(r) = name
                .strip_prefix("keys/")
                .and_then(|r| r.strip_suffix(".pub"))
            {
                hexn(r, 8)
            } else if let Some(r) = name
                .strip_prefix("content/")
                .and_then(|r| r.strip_suffix(".txt"))
            {
                digits(r)
            } else if let Some(r) = name.strip_prefix("media/") {
                hexn(r, 64)
            } else if let Some((size, file)) =
                name.strip_prefix("attest/").and_then(|r| r.split_once('/'))
            {
                digits(size)
                    && (file == "checkpoint.txt"
                        || file == "cosigned.txt"
                        || file.strip_suffix(".tsr").is_some_and(|s| {
                            (2..=42).contains(&s.len()) && s.len() % 2 == 0 && hexn(s, s.len())
                        }))
            } else if let Some(r) = name
                .strip_prefix("tsa/")
                .and_then(|r| r.strip_suffix(".pem"))
            {
                hexn(r, 64)
            } else {
                false
            }
        }
    }
}

pub(super) struct Member {
    pub(super) digest: Hash,
    /// Held for non-media members only.
    pub(super) bytes: Option<Vec<u8>>,
    pub(super) size: u64,
    /// Whether the archive's CRC-32 matched (a mismatch is an altered member, not an
    /// unreadable archive: the bytes were all read and their digest is compared below).
    pub(super) crc_ok: bool,
}

impl Member {
    /// A member held in memory.
    pub(super) fn held(bytes: Vec<u8>) -> Self {
        Member {
            digest: Sha256::digest(&bytes).into(),
            size: bytes.len() as u64,
            bytes: Some(bytes),
            crc_ok: true,
        }
    }

    /// A media member, known by its digest and size.
    pub(super) fn streamed(digest: Hash, size: u64) -> Self {
        Member {
            digest,
            bytes: None,
            size,
            crc_ok: true,
        }
    }
}

/// Vets every member from the central directory, then reads them under the limits.
pub(super) fn read_members<R: Read + Seek>(
    mut reader: R,
) -> Result<BTreeMap<String, Member>, BundleError> {
    super::archive::check_layout(&mut reader).map_err(|e| {
        BundleError::Unsafe(format!("the ZIP structure is not one custody writes: {e}"))
    })?;
    reader
        .seek(std::io::SeekFrom::Start(0))
        .map_err(|e| BundleError::Io(e.to_string()))?;
    let mut z = zip::ZipArchive::new(reader).map_err(|e| BundleError::NotZip(e.to_string()))?;
    if z.len() > MAX_MEMBERS {
        return Err(BundleError::Unsafe(format!(
            "{} members, more than {MAX_MEMBERS}",
            z.len()
        )));
    }
    if z.has_duplicate_names() {
        return Err(BundleError::Unsafe("two members have the same name".into()));
    }
    let mut names = Vec::with_capacity(z.len());
    let mut lower = BTreeSet::new();
    for i in 0..z.len() {
        let f = z
            .by_index_raw(i)
            .map_err(|e| BundleError::NotZip(e.to_string()))?;
        if let Some(reason) = unsafe_name(f.name_raw()) {
            return Err(BundleError::Unsafe(reason));
        }
        let name = String::from_utf8_lossy(f.name_raw()).into_owned();
        if f.is_dir()
            || f.is_symlink()
            || f.unix_mode()
                .is_some_and(|m| m & 0o170000 != 0 && m & 0o170000 != 0o100000)
        {
            return Err(BundleError::Unsafe(format!(
                "member '{name}' is a link, directory or special file"
            )));
        }
        if f.encrypted() {
            return Err(BundleError::Unsafe(format!("member '{name}' is encrypted")));
        }
        if !matches!(
            f.compression(),
            zip::CompressionMethod::Stored | zip::CompressionMethod::Deflated
        ) {
            return Err(BundleError::Unsafe(format!(
                "member '{name}' uses an unsupported compression method"
            )));
        }
        let limit = if name.starts_with("media/") {
            MAX_MEDIA
        } else {
            MAX_MEMBER
        };
        if f.size() > limit {
            return Err(BundleError::Unsafe(format!(
                "member '{name}' is {} bytes, over the limit of {limit}",
                f.size()
            )));
        }
        if f.size() > (1 << 20) && f.size() / f.compressed_size().max(1) > MAX_RATIO {
            return Err(BundleError::Unsafe(format!(
                "member '{name}' expands {}x: a compression bomb",
                f.size() / f.compressed_size().max(1)
            )));
        }
        if !lower.insert(name.to_ascii_lowercase()) {
            return Err(BundleError::Unsafe(format!(
                "member '{name}' differs from another only by case"
            )));
        }
        names.push(name);
    }
    let mut out = BTreeMap::new();
    let mut held_total = 0u64;
    for (i, name) in names.into_iter().enumerate() {
        let f = z
            .by_index(i)
            .map_err(|e| BundleError::NotZip(e.to_string()))?;
        let declared = f.size();
        let media = name.starts_with("media/");
        // Enforce the declared size while reading, whatever the headers claim.
        let mut r = f.take(declared + 1);
        let mut h = Sha256::new();
        let mut held = Vec::new();
        let mut buf = vec![0u8; 1 << 16];
        let mut n = 0u64;
        let mut crc_ok = true;
        loop {
            let k = match r.read(&mut buf) {
                Ok(k) => k,
                // The zip reader checks the CRC-32 once the last byte is read.
                Err(e) if e.to_string() == "Invalid checksum" => {
                    crc_ok = false;
                    0
                }
                Err(e) => {
                    return Err(BundleError::Unsafe(format!(
                        "member '{name}' cannot be read: {e}"
                    )));
                }
            };
            if k == 0 {
                break;
            }
            n += k as u64;
            if n > declared {
                return Err(BundleError::Unsafe(format!(
                    "member '{name}' holds more bytes than it declares"
                )));
            }
            h.update(&buf[..k]);
            if !media {
                held_total += k as u64;
                if held_total > MAX_HELD {
                    return Err(BundleError::Unsafe(format!(
                        "the bundle's files other than media expand to more than {MAX_HELD} bytes"
                    )));
                }
                held.extend_from_slice(&buf[..k]);
            }
        }
        out.insert(
            name,
            Member {
                digest: h.finalize().into(),
                bytes: (!media).then_some(held),
                size: n,
                crc_ok,
            },
        );
    }
    Ok(out)
}
