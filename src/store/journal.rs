//! The journal: an append-only file of framed record bytes, fsync'd before an append is
//! acknowledged. It is the source of truth; sled is an index that can be rebuilt from it.
//!
//! Layout: a 16-byte header `CUSTODY-JOURNAL1`, then frames of
//! `u32 length (big-endian) || record bytes || 32-byte leaf hash of those bytes`.
//! The trailing leaf hash detects a frame whose bytes were damaged or half-written.

use crate::Hash;
use crate::error::{Error, Result, io};
use crate::record::{MAX_RECORD, leaf_hash};
use std::fs::{File, OpenOptions};
use std::io::{BufReader, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

/// File header.
pub const MAGIC: &[u8; 16] = b"CUSTODY-JOURNAL1";

/// One frame read back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Frame {
    /// Byte offset of the frame's length prefix.
    pub offset: u64,
    /// The record bytes.
    pub bytes: Vec<u8>,
    /// The leaf hash stored in the frame trailer.
    pub stored_leaf: Hash,
}

impl Frame {
    /// Offset just past this frame.
    pub fn end(&self) -> u64 {
        self.offset + 4 + self.bytes.len() as u64 + 32
    }
    /// Whether the trailer matches the bytes.
    pub fn intact(&self) -> bool {
        leaf_hash(&self.bytes) == self.stored_leaf
    }
}

/// What stopped a journal scan before the end of the file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ScanEnd {
    /// Clean end of file.
    Clean,
    /// A frame that is cut short: the file ends inside it (an interrupted write).
    Torn {
        /// Where the incomplete frame starts.
        offset: u64,
    },
    /// A frame whose declared length is impossible.
    BadLength {
        /// Where the frame starts.
        offset: u64,
        /// The declared length.
        len: u64,
    },
}

/// Frame encoding of one record.
pub fn frame(bytes: &[u8], leaf: &Hash) -> Vec<u8> {
    let mut f = Vec::with_capacity(bytes.len() + 36);
    f.extend_from_slice(&(bytes.len() as u32).to_be_bytes());
    f.extend_from_slice(bytes);
    f.extend_from_slice(leaf);
    f
}

/// An open journal.
pub struct Journal {
    path: PathBuf,
    file: File,
}

impl Journal {
    /// Creates a new journal with its header, fsync'd.
    pub fn create(path: &Path) -> Result<Self> {
        let mut file = OpenOptions::new()
            .read(true)
            .append(true)
            .create_new(true)
            .open(path)
            .map_err(io(path))?;
        file.write_all(MAGIC).map_err(io(path))?;
        file.sync_all().map_err(io(path))?;
        Ok(Self {
            path: path.to_owned(),
            file,
        })
    }

    /// Opens an existing journal and checks its header.
    pub fn open(path: &Path, write: bool) -> Result<Self> {
        let mut file =
            super::open_ledger_file(path, OpenOptions::new().read(true).append(write), false)
                .map_err(io(path))?;
        let mut head = [0u8; 16];
        let ok = file.read_exact(&mut head).is_ok() && &head == MAGIC;
        if !ok {
            return Err(Error::NotALedger {
                path: path.to_owned(),
                reason: "the journal header is missing or wrong".into(),
            });
        }
        Ok(Self {
            path: path.to_owned(),
            file,
        })
    }

    /// The 32 bytes just before `offset` (the trailer of the frame ending there), or
    /// `None` when `offset` is inside the header.
    pub fn trailer_at(&self, offset: u64) -> Result<Option<Hash>> {
        use std::os::unix::fs::FileExt;
        if offset < MAGIC.len() as u64 + 36 {
            return Ok(None);
        }
        let mut h = [0u8; 32];
        match self.file.read_exact_at(&mut h, offset - 32) {
            Ok(()) => Ok(Some(h)),
            Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => Ok(None),
            Err(e) => Err(io(&self.path)(e)),
        }
    }

    /// Whether the file still starts with the journal header.
    pub fn header_intact(&self) -> Result<bool> {
        use std::os::unix::fs::FileExt;
        let mut head = [0u8; 16];
        match self.file.read_exact_at(&mut head, 0) {
            Ok(()) => Ok(&head == MAGIC),
            Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => Ok(false),
            Err(e) => Err(io(&self.path)(e)),
        }
    }

    /// Current length in bytes.
    pub fn len(&self) -> Result<u64> {
        Ok(self.file.metadata().map_err(io(&self.path))?.len())
    }

    /// Appends already-framed bytes and fsyncs once; returns the new length.
    pub fn append(&mut self, framed: &[u8]) -> Result<u64> {
        // A torn write is simulated by writing only part of the batch before stopping.
        if std::env::var_os("CUSTODY_TEST_CRASH_POINT").is_some_and(|v| v == "mid-journal-write") {
            let _ = self.file.write_all(&framed[..framed.len() / 2]);
            let _ = self.file.sync_data();
            std::process::abort();
        }
        self.file.write_all(framed).map_err(io(&self.path))?;
        super::crash_point("after-journal-write");
        self.file.sync_data().map_err(io(&self.path))?;
        self.len()
    }

    /// Copies the bytes from `from` to the end into a new file `to` (fsync'd, with its
    /// directory), so that what is cut is kept as evidence.
    pub fn copy_tail(&self, from: u64, to: &Path) -> Result<u64> {
        use std::io::{Seek, SeekFrom};
        let mut src = self.file.try_clone().map_err(io(&self.path))?;
        src.seek(SeekFrom::Start(from)).map_err(io(&self.path))?;
        let mut out = OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(to)
            .map_err(io(to))?;
        let n = std::io::copy(&mut src, &mut out).map_err(io(to))?;
        out.sync_all().map_err(io(to))?;
        if let Some(dir) = to.parent() {
            File::open(dir)
                .and_then(|d| d.sync_all())
                .map_err(io(dir))?;
        }
        Ok(n)
    }

    /// Cuts the journal back to `len` bytes: to drop a torn final frame, the unacknowledged
    /// part of an interrupted batch, or an append that reported an error.
    pub fn truncate(&mut self, len: u64) -> Result<()> {
        self.file.set_len(len).map_err(io(&self.path))?;
        self.file.sync_all().map_err(io(&self.path))
    }

    /// Calls `f(seq, record)` for each of the first `count` records (from the header on)
    /// that `keep` accepts by its bytes, reading the journal in large blocks and copying
    /// none of the frames it passes over: a replay of the few records of one kind costs
    /// about one read of the file. Trailers are not checked (the audit does that). A
    /// journal that ends, or holds an impossible length, before `count` records is
    /// damaged.
    pub fn records_where(
        &self,
        count: u64,
        keep: impl Fn(&[u8]) -> bool,
        mut f: impl FnMut(u64, &[u8]) -> Result<()>,
    ) -> Result<()> {
        use std::os::unix::fs::FileExt;
        const BLOCK: usize = 4 << 20;
        let end = self.len()?;
        let mut buf: Vec<u8> = Vec::with_capacity(BLOCK + MAX_RECORD + 36);
        let mut file_at = MAGIC.len() as u64; // where `buf` ends in the file
        let mut pos = 0; // the next frame in `buf`
        let short = |seq| {
            Error::Damaged(format!(
                "the journal ends before record {seq}, which the index holds; run `custody audit`"
            ))
        };
        for seq in 0..count {
            // At least the next frame's length, then the whole frame, in `buf`.
            let mut need = 4;
            loop {
                if buf.len() - pos >= need {
                    let len = u32::from_be_bytes(buf[pos..pos + 4].try_into().unwrap_or_default());
                    let frame = 4 + len as usize + 32;
                    if len as usize > MAX_RECORD {
                        return Err(Error::Damaged(format!(
                            "journal frame {seq} declares {len} bytes; run `custody audit`"
                        )));
                    }
                    if buf.len() - pos >= frame {
                        break;
                    }
                    need = frame;
                }
                buf.drain(..pos);
                pos = 0;
                let want = (end - file_at).min(BLOCK as u64) as usize;
                if want == 0 {
                    return Err(short(seq));
                }
                let from = buf.len();
                buf.resize(from + want, 0);
                self.file
                    .read_exact_at(&mut buf[from..], file_at)
                    .map_err(io(&self.path))?;
                file_at += want as u64;
            }
            let len = u32::from_be_bytes(buf[pos..pos + 4].try_into().unwrap_or_default()) as usize;
            let record = &buf[pos + 4..pos + 4 + len];
            if keep(record) {
                f(seq, record)?;
            }
            pos += 4 + len + 32;
        }
        Ok(())
    }

    /// Streams frames starting at byte `offset` (a frame boundary).
    pub fn frames_from(&self, offset: u64) -> Result<Frames> {
        let mut f = self.file.try_clone().map_err(io(&self.path))?;
        let end = self.len()?;
        f.seek(SeekFrom::Start(offset)).map_err(io(&self.path))?;
        Ok(Frames {
            path: self.path.clone(),
            reader: BufReader::with_capacity(1 << 20, f),
            offset,
            end,
            stop: None,
        })
    }
}

/// Iterator over frames; after it returns `None`, [`Frames::end_state`] says why.
pub struct Frames {
    path: PathBuf,
    reader: BufReader<File>,
    offset: u64,
    end: u64,
    stop: Option<ScanEnd>,
}

impl Frames {
    /// Why iteration stopped (valid once `next` has returned `None`).
    pub fn end_state(&self) -> ScanEnd {
        self.stop.clone().unwrap_or(ScanEnd::Clean)
    }
}

impl Iterator for Frames {
    type Item = Result<Frame>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.stop.is_some() || self.offset >= self.end {
            return None;
        }
        let left = self.end - self.offset;
        if left < 4 {
            self.stop = Some(ScanEnd::Torn {
                offset: self.offset,
            });
            return None;
        }
        let mut len = [0u8; 4];
        if let Err(e) = self.reader.read_exact(&mut len) {
            return Some(Err(io(&self.path)(e)));
        }
        let len = u32::from_be_bytes(len) as u64;
        if len as usize > MAX_RECORD {
            self.stop = Some(ScanEnd::BadLength {
                offset: self.offset,
                len,
            });
            return None;
        }
        if left < 4 + len + 32 {
            self.stop = Some(ScanEnd::Torn {
                offset: self.offset,
            });
            return None;
        }
        let mut bytes = vec![0u8; len as usize];
        let mut leaf = [0u8; 32];
        if let Err(e) = self
            .reader
            .read_exact(&mut bytes)
            .and_then(|_| self.reader.read_exact(&mut leaf))
        {
            return Some(Err(io(&self.path)(e)));
        }
        let frame = Frame {
            offset: self.offset,
            bytes,
            stored_leaf: leaf,
        };
        self.offset = frame.end();
        Some(Ok(frame))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `records_where` hands over exactly the records `frames_from` reads that `keep`
    /// accepts, across the blocks it reads in (frames of every size, one of the largest
    /// possible), and calls a journal that ends early damaged.
    #[test]
    fn records_where_reads_what_frames_from_reads() {
        let dir = tempfile::tempdir().unwrap();
        let mut j = Journal::create(&dir.path().join("journal")).unwrap();
        let mut framed = Vec::new();
        let mut n = 0u64;
        while framed.len() < 9 << 20 {
            let len = if n == 7 {
                MAX_RECORD
            } else {
                (n as usize * 37) % 700 + 1
            };
            let bytes = vec![(n % 251) as u8; len];
            framed.extend_from_slice(&frame(&bytes, &leaf_hash(&bytes)));
            n += 1;
        }
        j.append(&framed).unwrap();
        let keep = |b: &[u8]| b[0].is_multiple_of(3);
        let expected: Vec<(u64, Vec<u8>)> = j
            .frames_from(MAGIC.len() as u64)
            .unwrap()
            .enumerate()
            .map(|(i, f)| (i as u64, f.unwrap().bytes))
            .filter(|(_, b)| keep(b))
            .collect();
        let mut got = Vec::new();
        j.records_where(n, keep, |seq, b| {
            got.push((seq, b.to_vec()));
            Ok(())
        })
        .unwrap();
        assert_eq!(got.len(), expected.len());
        assert!(got == expected);
        let mut fewer = 0;
        j.records_where(
            n - 1,
            |_| true,
            |_, _| {
                fewer += 1;
                Ok(())
            },
        )
        .unwrap();
        assert_eq!(fewer, n - 1, "stops at the count");
        assert!(matches!(
            j.records_where(n + 1, |_| true, |_, _| Ok(())),
            Err(Error::Damaged(_))
        ));
    }
}
