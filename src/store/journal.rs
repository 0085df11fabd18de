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
