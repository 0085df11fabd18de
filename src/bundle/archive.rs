//! Every byte of a bundle's ZIP file accounted for (SPEC.md 11.1).
//!
//! A ZIP file can say different things to different readers: a reader that trusts the
//! central directory (as custody's verifier does) and one that streams local headers from
//! the start (as many unzip tools do) can be shown different members, and bytes that no
//! header describes can hide anything. So before any member is read, the file must be
//! exactly: local entries tiling the bytes from offset 0, each local header agreeing with
//! its central header, then the central directory, then (for ZIP64) its end record and
//! locator, then the end record with no comment. Pure parsing over `Read + Seek`: nothing
//! is decompressed here.

use std::io::{Read, Seek, SeekFrom};

/// Why the layout is refused, in words.
pub type LayoutError = String;

const LOCAL: [u8; 4] = [0x50, 0x4b, 0x03, 0x04];
const CENTRAL: [u8; 4] = [0x50, 0x4b, 0x01, 0x02];
const END: [u8; 4] = [0x50, 0x4b, 0x05, 0x06];
const END64: [u8; 4] = [0x50, 0x4b, 0x06, 0x06];
const LOCATOR64: [u8; 4] = [0x50, 0x4b, 0x06, 0x07];
const DESCRIPTOR: [u8; 4] = [0x50, 0x4b, 0x07, 0x08];
/// The central directory is read whole; no bundle of 100,000 members needs more.
const MAX_CENTRAL: u64 = 64 << 20;

fn u16_at(b: &[u8], i: usize) -> u64 {
    u64::from(u16::from_le_bytes([b[i], b[i + 1]]))
}
fn u32_at(b: &[u8], i: usize) -> u64 {
    u64::from(u32::from_le_bytes([b[i], b[i + 1], b[i + 2], b[i + 3]]))
}
fn u64_at(b: &[u8], i: usize) -> u64 {
    let mut a = [0u8; 8];
    a.copy_from_slice(&b[i..i + 8]);
    u64::from_le_bytes(a)
}

fn read_at<R: Read + Seek>(r: &mut R, at: u64, len: u64) -> Result<Vec<u8>, LayoutError> {
    r.seek(SeekFrom::Start(at)).map_err(|e| e.to_string())?;
    let mut b = vec![0u8; len as usize];
    r.read_exact(&mut b)
        .map_err(|_| format!("the archive ends inside a structure at byte {at}"))?;
    Ok(b)
}

/// Whether an extra field holds a ZIP64 extended-information block (id 1).
fn has_zip64(extra: &[u8]) -> bool {
    let mut i = 0;
    while i + 4 <= extra.len() {
        if u16_at(extra, i) == 1 {
            return true;
        }
        i += 4 + u16_at(extra, i + 2) as usize;
    }
    false
}

/// A Unicode Path extra field (id 0x7075), when present, must name the header's own name
/// bytes: otherwise two readers would see two names.
fn check_unicode_path(extra: &[u8], name: &[u8]) -> Result<(), LayoutError> {
    let mut i = 0;
    while i + 4 <= extra.len() {
        let len = u16_at(extra, i + 2) as usize;
        if u16_at(extra, i) == 0x7075 {
            let body = extra.get(i + 4..i + 4 + len).unwrap_or_default();
            if body.get(5..) != Some(name) {
                return Err("a Unicode Path extra field names another name than its header".into());
            }
        }
        i += 4 + len;
    }
    Ok(())
}

/// The values of a ZIP64 extended-information extra field that replace the 0xFFFFFFFF
/// markers, in the order the format gives: uncompressed size, compressed size, offset.
fn zip64_values(extra: &[u8], wanted: &[bool; 3]) -> Result<[Option<u64>; 3], LayoutError> {
    let mut out = [None; 3];
    let mut i = 0;
    let mut ids = Vec::new();
    while i + 4 <= extra.len() {
        let (id, len) = (u16_at(extra, i), u16_at(extra, i + 2) as usize);
        if ids.contains(&id) {
            return Err(format!("an extra field holds block {id:#06x} twice"));
        }
        ids.push(id);
        let body = extra
            .get(i + 4..i + 4 + len)
            .ok_or("an extra field runs past its header")?;
        if id == 1 {
            let mut j = 0;
            for (k, w) in wanted.iter().enumerate() {
                if *w {
                    let v = body
                        .get(j..j + 8)
                        .ok_or("a ZIP64 extra field is too short")?;
                    out[k] = Some(u64_at(v, 0));
                    j += 8;
                }
            }
        }
        i += 4 + len;
    }
    if i != extra.len() {
        return Err("an extra field is malformed".into());
    }
    Ok(out)
}

/// One entry as the central directory describes it.
struct Entry {
    name: Vec<u8>,
    flags: u64,
    method: u64,
    crc: u64,
    compressed: u64,
    uncompressed: u64,
    offset: u64,
}

/// Checks the whole layout of the archive in `r`; returns the number of entries.
pub fn check_layout<R: Read + Seek>(r: &mut R) -> Result<usize, LayoutError> {
    let (count, size, offset) = read_end(r)?;
    let mut entries = read_central(r, count, size, offset)?;
    entries.sort_by_key(|e| e.offset);
    let mut expected = 0u64;
    for e in &entries {
        expected = check_local(r, e, expected, offset)?;
    }
    if expected != offset {
        return Err(format!(
            "bytes {expected} to {offset}, before the central directory, belong to no member"
        ));
    }
    Ok(entries.len())
}

/// The end record (and, for ZIP64, its locator and end record), which must close the
/// file exactly; returns the entry count and the central directory's size and offset.
fn read_end<R: Read + Seek>(r: &mut R) -> Result<(u64, u64, u64), LayoutError> {
    let len = r.seek(SeekFrom::End(0)).map_err(|e| e.to_string())?;
    if len < 22 {
        return Err("too short to be a ZIP file".into());
    }
    let end = read_at(r, len - 22, 22)?;
    if end[..4] != END {
        return Err("the file does not end with a ZIP end record of no comment (a comment or bytes follow it)".into());
    }
    if u16_at(&end, 4) != 0 || u16_at(&end, 6) != 0 || u16_at(&end, 20) != 0 {
        return Err("the end record names another disk, or carries a comment".into());
    }
    let (mut on_disk, mut count) = (u16_at(&end, 8), u16_at(&end, 10));
    let (mut size, mut offset) = (u32_at(&end, 12), u32_at(&end, 16));
    let mut central_end = len - 22;
    if on_disk == 0xFFFF || count == 0xFFFF || size == 0xFFFF_FFFF || offset == 0xFFFF_FFFF {
        let at = len
            .checked_sub(22 + 20)
            .ok_or("a ZIP64 locator is missing")?;
        let loc = read_at(r, at, 20)?;
        if loc[..4] != LOCATOR64 || u32_at(&loc, 4) != 0 || u32_at(&loc, 16) > 1 {
            return Err("the ZIP64 locator is missing or names another disk".into());
        }
        let rec_at = u64_at(&loc, 8);
        let head = read_at(r, rec_at, 56)?;
        if head[..4] != END64
            || u64_at(&head, 4)
                .checked_add(12)
                .and_then(|n| rec_at.checked_add(n))
                != Some(at)
            || u64_at(&head, 4) != 44
            || u32_at(&head, 16) != 0
            || u32_at(&head, 20) != 0
        {
            return Err("the ZIP64 end record must be exactly 56 bytes (no extensible data), directly before its locator, on disk 0".into());
        }
        let z = (
            u64_at(&head, 24),
            u64_at(&head, 32),
            u64_at(&head, 40),
            u64_at(&head, 48),
        );
        // The end record's values that are not markers must say what the ZIP64 record says.
        for (v, marker, z) in [
            (on_disk, 0xFFFF, z.0),
            (count, 0xFFFF, z.1),
            (size, 0xFFFF_FFFF, z.2),
            (offset, 0xFFFF_FFFF, z.3),
        ] {
            if v != marker && v != z {
                return Err("the end record and the ZIP64 end record disagree".into());
            }
        }
        (on_disk, count, size, offset) = z;
        central_end = rec_at;
    }
    if on_disk != count || count > crate::bundle::MAX_MEMBERS as u64 {
        return Err(format!(
            "the archive declares {count} entries ({on_disk} on this disk)"
        ));
    }
    if offset.checked_add(size) != Some(central_end) || size > MAX_CENTRAL {
        return Err(format!(
            "the central directory (bytes {offset} to {}) does not end where its end record begins ({central_end}): bytes are hidden or structures overlap",
            offset.saturating_add(size)
        ));
    }
    Ok((count, size, offset))
}

/// The central directory's headers, each read whole, with nothing after the last.
fn read_central<R: Read + Seek>(
    r: &mut R,
    count: u64,
    size: u64,
    offset: u64,
) -> Result<Vec<Entry>, LayoutError> {
    let cd = read_at(r, offset, size)?;
    let mut entries = Vec::with_capacity(count as usize);
    let mut i = 0usize;
    for _ in 0..count {
        let h = cd
            .get(i..i + 46)
            .ok_or("the central directory ends inside a header")?;
        if h[..4] != CENTRAL {
            return Err("the central directory holds something other than its headers".into());
        }
        let (n, x, k) = (
            u16_at(h, 28) as usize,
            u16_at(h, 30) as usize,
            u16_at(h, 32) as usize,
        );
        let name = cd
            .get(i + 46..i + 46 + n)
            .ok_or("a central header's name runs past the directory")?
            .to_vec();
        let extra = cd
            .get(i + 46 + n..i + 46 + n + x)
            .ok_or("a central header's extra field runs past the directory")?;
        cd.get(i + 46 + n + x..i + 46 + n + x + k)
            .ok_or("a central header's comment runs past the directory")?;
        let (mut uncompressed, mut compressed, mut off) =
            (u32_at(h, 24), u32_at(h, 20), u32_at(h, 42));
        let wanted = [
            uncompressed == 0xFFFF_FFFF,
            compressed == 0xFFFF_FFFF,
            off == 0xFFFF_FFFF,
        ];
        let v = zip64_values(extra, &wanted)?;
        check_unicode_path(extra, &name)?;
        for (slot, val) in [&mut uncompressed, &mut compressed, &mut off]
            .into_iter()
            .zip(v)
        {
            if let Some(val) = val {
                *slot = val;
            }
        }
        if wanted.iter().zip(v).any(|(w, v)| *w && v.is_none()) {
            return Err("a ZIP64 size or offset is missing from its extra field".into());
        }
        entries.push(Entry {
            name,
            flags: u16_at(h, 8),
            method: u16_at(h, 10),
            crc: u32_at(h, 16),
            compressed,
            uncompressed,
            offset: off,
        });
        i += 46 + n + x + k;
    }
    if i != cd.len() {
        return Err("the central directory holds bytes after its last header".into());
    }
    Ok(entries)
}

/// One member, which must begin at `expected`: its local header agrees with the central
/// directory, and its data (and data descriptor) end before the directory at `cd_offset`.
/// Returns where it ends.
fn check_local<R: Read + Seek>(
    r: &mut R,
    e: &Entry,
    expected: u64,
    cd_offset: u64,
) -> Result<u64, LayoutError> {
    let offset = cd_offset;
    let mut expected = expected;
    let shown = String::from_utf8_lossy(&e.name).escape_debug().to_string();
    if e.offset != expected {
        return Err(format!(
            "member '{shown}' starts at byte {} where the previous entry ends at {expected}: bytes no header accounts for, or overlapping entries",
            e.offset
        ));
    }
    let h = read_at(r, e.offset, 30)?;
    if h[..4] != LOCAL {
        return Err(format!(
            "member '{shown}' has no local header where the directory says"
        ));
    }
    let (n, x) = (u16_at(&h, 26), u16_at(&h, 28));
    let rest = read_at(r, e.offset + 30, n + x)?;
    let (name, extra) = rest.split_at(n as usize);
    check_unicode_path(extra, name)?;
    let flags = u16_at(&h, 6);
    let mut same = name == e.name.as_slice() && flags == e.flags && u16_at(&h, 8) == e.method;
    let descriptor = flags & 8 != 0;
    if !descriptor {
        let (mut lu, mut lc) = (u32_at(&h, 22), u32_at(&h, 18));
        let v = zip64_values(extra, &[lu == 0xFFFF_FFFF, lc == 0xFFFF_FFFF, false])?;
        if let Some(u) = v[0] {
            lu = u;
        }
        if let Some(c) = v[1] {
            lc = c;
        }
        same &= u32_at(&h, 14) == e.crc && lu == e.uncompressed && lc == e.compressed;
    }
    if !same {
        return Err(format!(
            "member '{shown}': its local header disagrees with the central directory (name, flags, method, CRC-32 or sizes)"
        ));
    }
    let data_end = (e.offset + 30 + n + x)
        .checked_add(e.compressed)
        .filter(|&d| d <= offset)
        .ok_or_else(|| format!("member '{shown}' runs into the central directory"))?;
    expected = data_end;
    if descriptor {
        // Eight-byte sizes exactly when the local header carries a ZIP64 block.
        let zip64 = has_zip64(extra);
        let sizes = if zip64 { 16 } else { 8 };
        let probe = read_at(r, data_end, 4)?;
        let sig = if probe == DESCRIPTOR { 4 } else { 0 };
        let d = read_at(r, data_end + sig, 4 + sizes)?;
        let (dc, du) = if zip64 {
            (u64_at(&d, 4), u64_at(&d, 12))
        } else {
            (u32_at(&d, 4), u32_at(&d, 8))
        };
        if u32_at(&d, 0) != e.crc || dc != e.compressed || du != e.uncompressed {
            return Err(format!(
                "member '{shown}': its data descriptor disagrees with the central directory"
            ));
        }
        expected = data_end + sig + 4 + sizes;
    }
    Ok(expected)
}
