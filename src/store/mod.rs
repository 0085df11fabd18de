//! The only code that touches a ledger's disk: the journal, the sled index, the content
//! store and the checkpoints file, under the ledger lock (shared by readers, exclusive for
//! a writer).
//!
//! A ledger directory holds `journal` (the source of truth, see [`journal`]), `db/` (sled:
//! the records and the Merkle tree as C2SP tiles (see [`tiles`]), the lookup indexes,
//! checkpoints, metadata), `content/` (testimony text with its salt, one file per
//! commitment) and `lock`. An append writes and fsyncs the journal first, then applies one
//! sled transaction; if a crash falls between the two, the next open re-indexes the journal
//! tail. sled's own flush is not an fsync, so nothing relies on it for durability.

mod batch;
mod checkpoints;
mod content;
pub use content::{Item, TextCheck};
pub mod journal;
mod lock;
pub(crate) mod lookup;
pub(crate) mod tiles;

use batch::{BATCH_MARKER_LEN, batch_marker};
pub use checkpoints::{KeptTimestamp, timestamp_name};
use lock::{LedgerLock, take};
pub use lock::{LockHolder, LockWait, lock_holder};

use crate::Hash;
use crate::error::{Error, Result, io};
use journal::Journal;
use sled::Transactional;
use sled::transaction::{ConflictableTransactionError, TransactionError};
use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};

/// File and tree names.
pub mod names {
    /// The journal file.
    pub const JOURNAL: &str = "journal";
    /// The sled directory.
    pub const DB: &str = "db";
    /// The content directory.
    pub const CONTENT: &str = "content";
    /// The lock file.
    pub const LOCK: &str = "lock";
    /// The append-only file of signed checkpoints.
    pub const CHECKPOINTS: &str = "checkpoints";
    /// The extent of the latest append of more than one record (see `Store::append`).
    pub const BATCH: &str = "batch";
    /// Checkpoints with their witnesses' cosignatures, one file per size.
    pub const COSIGNED: &str = "cosigned";
    /// RFC 3161 time-stamp responses over checkpoints.
    pub const TIMESTAMPS: &str = "timestamps";
    /// Sealed items' keys, each wrapped to the content recipients (`content/` holds their
    /// ciphertexts).
    pub const SEALED_KEYS: &str = "sealed-keys";
}

/// A test hook: when the environment variable `CUSTODY_TEST_CRASH_POINT` names this point,
/// the process aborts there, as a power cut would stop it. The crash harness uses it to
/// stop an append between its steps; it only ever stops the process.
pub fn crash_point(name: &str) {
    if std::env::var_os("CUSTODY_TEST_CRASH_POINT").is_some_and(|v| v == name) {
        std::process::abort();
    }
}

mod meta_key {
    pub const SIZE: &[u8] = b"size";
    pub const JOURNAL_LEN: &[u8] = b"journal_len";
    pub const ORIGIN: &[u8] = b"origin";
    pub const LEDGER_KEY: &[u8] = b"ledger_key";
    /// The index's layout: [`super::LAYOUT`]; absent in indexes of older versions.
    pub const LAYOUT: &[u8] = b"layout";
}

/// The index's layout version: 4 keeps records and hashes as tiles and the lookup indexes
/// as sorted runs of 20-byte entries. An index of another layout (3: runs of 40-byte
/// entries; 2: lookups an entry per record; none: records and every subtree hash as
/// entries of their own) is rebuilt by `recover`.
const LAYOUT: u64 = 4;

/// Everything the index records about one appended record.
#[derive(Debug, Clone)]
pub struct Entry {
    /// Sequence number.
    pub seq: u64,
    /// Canonical record bytes.
    pub bytes: Vec<u8>,
    /// Leaf hash.
    pub leaf: Hash,
    /// SHA-256 of a media file, for media records.
    pub media: Option<Hash>,
    /// Content commitment, for testimony.
    pub commitment: Option<Hash>,
    /// For genesis: (origin, ledger key).
    pub genesis: Option<(String, [u8; 32])>,
    /// Whether the record changes key authority or custody (replayed on open).
    pub authority: bool,
}

/// Ledger metadata held in sled.
#[derive(Debug, Clone, Default)]
pub struct Meta {
    /// Records indexed.
    pub size: u64,
    /// Journal bytes indexed.
    pub journal_len: u64,
    /// Origin, once genesis is indexed.
    pub origin: Option<String>,
    /// Ledger public key, once genesis is indexed.
    pub ledger_key: Option<[u8; 32]>,
}

/// sled page cache budgets. Readers (audits of millions of records, queries) stream or
/// look up a few pages and stay within a small, flat budget; writers keep the pages that
/// appends modify (a smaller cache slows bulk appends by a third).
const READ_CACHE_BYTES: u64 = 4 << 20;
const WRITE_CACHE_BYTES: u64 = 32 << 20;

/// How many bytes a long read (an audit) takes from the index before it lets go of sled's
/// cache by reopening the index (see [`Store::release_cache`]). Measured on a 1M-record
/// audit: 32 MiB peaks at 103 MB, 16 MiB at 58, 8 MiB at 41 (5% slower), 1 MiB at 29 (15%
/// slower: each reopen reads sled's segment headers).
const RELEASE_AFTER_BYTES: u64 = 8 << 20;

/// The open sled index: the database and its trees.
struct Index {
    db: sled::Db,
    /// Entry bundles and hash tiles, by tile path.
    tiles: sled::Tree,
    /// The lookup indexes as sorted runs, see [`lookup`].
    lookup: sled::Tree,
    checkpoints: sled::Tree,
    meta: sled::Tree,
}

/// An open ledger directory.
pub struct Store {
    dir: PathBuf,
    journal: Journal,
    /// The sled index. `None` only if reopening it failed (every use then says so).
    index: RwLock<Option<Arc<Index>>>,
    /// Whether the index was opened for writing.
    write: bool,
    /// Bytes read from the index since it was last opened, for [`Store::release_cache`].
    read_bytes: AtomicU64,
    /// Whether the directory entry of the batch marker is known to be durable.
    batch_marker_durable: bool,
    /// A reader's private copy of the index, when the ledger's own could not be opened
    /// without writing to it (read-only media, another user's ledger, another reader
    /// holding it). Removed after the index is closed.
    scratch: Mutex<Option<tempfile::TempDir>>,
    /// Declared last so that it is released last: another process gets the ledger only
    /// after this one has let go of everything else.
    _lock: LedgerLock,
}

fn db_err(dir: &Path) -> impl Fn(sled::Error) -> Error + '_ {
    move |e| Error::Db {
        path: dir.join(names::DB),
        message: e.to_string(),
    }
}

/// Opens a file of the ledger directory without following a link and without blocking on
/// a FIFO, and refuses anything but a regular file; with `one_name`, also a file with more
/// than one name (writing to a hard link of another ledger file would destroy it).
pub(crate) fn open_ledger_file(
    path: &Path,
    opts: &mut OpenOptions,
    one_name: bool,
) -> std::io::Result<File> {
    use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
    opts.custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK);
    let f = opts.open(path).map_err(|e| {
        match e.raw_os_error() {
            Some(libc::ELOOP) => {
                std::io::Error::other("it is a symbolic link, not a ledger file; remove the link")
            }
            // Opening a FIFO with no reader for writing, without blocking.
            Some(libc::ENXIO) => std::io::Error::other(
                "it is not a regular file (a FIFO, device or directory stands in its place)",
            ),
            _ => e,
        }
    })?;
    let m = f.metadata()?;
    if !m.is_file() {
        return Err(std::io::Error::other(
            "it is not a regular file (a FIFO, device or directory stands in its place)",
        ));
    }
    if one_name && m.nlink() != 1 {
        return Err(std::io::Error::other(format!(
            "it has {} names (hard links) and custody writes to it; remove it, and custody creates a new one",
            m.nlink()
        )));
    }
    Ok(f)
}

/// Refuses an index directory holding anything sled should not open: a link (sled would
/// read or write wherever it points), a FIFO (it would block) or a device.
fn check_index_dir(db: &Path) -> Result<()> {
    let Ok(entries) = std::fs::read_dir(db) else {
        return Ok(()); // missing: sled creates it; unreadable: sled says so
    };
    for e in entries {
        let e = e.map_err(io(db))?;
        let kind = e.file_type().map_err(io(e.path()))?;
        if !kind.is_file() && !kind.is_dir() {
            return Err(Error::Db {
                path: db.to_owned(),
                message: format!(
                    "{} is not a regular file or directory (a link, FIFO or device)",
                    e.path().display()
                ),
            });
        }
    }
    Ok(())
}

/// Copies a sled directory (files and subdirectories, no links) into `to`.
fn copy_dir(from: &Path, to: &Path) -> Result<()> {
    std::fs::create_dir_all(to).map_err(io(to))?;
    for entry in std::fs::read_dir(from).map_err(io(from))? {
        let entry = entry.map_err(io(from))?;
        let (src, dst) = (entry.path(), to.join(entry.file_name()));
        let kind = entry.file_type().map_err(io(&src))?;
        if kind.is_dir() {
            copy_dir(&src, &dst)?;
        } else if kind.is_file() {
            match std::fs::copy(&src, &dst) {
                Ok(_) => {}
                // A reader holding the index in place may replace a snapshot file while it
                // is copied; sled reads the copy without it.
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(cause) => {
                    return Err(Error::Io {
                        path: format!("copying {} to {}", src.display(), dst.display()).into(),
                        cause,
                    });
                }
            }
        }
    }
    Ok(())
}

/// Whether this process may open the index in place for reading: sled writes to the
/// files it opens, so a reader opens in place only an index its own user owns and can
/// write; otherwise (write-once media, another user's archive) it reads a private copy.
fn may_open_in_place(db: &Path) -> bool {
    use std::os::unix::fs::MetadataExt;
    let Ok(meta) = std::fs::metadata(db) else {
        return false;
    };
    meta.uid() == rustix::process::geteuid().as_raw()
        && OpenOptions::new()
            .read(true)
            .write(true)
            .open(db.join("db"))
            .is_ok()
}

/// Where `NAME` in `dir` goes when it must make way: `NAME.WHY-SECONDS-PID`.
pub(crate) fn aside_path(dir: &Path, name: &str, why: &str) -> PathBuf {
    let secs = crate::unix_ms() / 1000;
    dir.join(format!("{name}.{why}-{secs}-{}", std::process::id()))
}

/// Keeps `bytes` in a new file `NAME.set-aside-SECONDS-PID` in `dir`, fsync'd: evidence
/// that had to leave a ledger file so that the ledger can go on.
fn set_aside(dir: &Path, name: &str, bytes: &[u8]) -> Result<PathBuf> {
    let path = aside_path(dir, name, "set-aside");
    let mut f = OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&path)
        .map_err(io(&path))?;
    f.write_all(bytes)
        .and_then(|()| f.sync_all())
        .map_err(io(&path))?;
    fsync_dir(dir)?;
    Ok(path)
}

/// Makes sure `dir` is a directory with nothing in it: created if missing, refused if it
/// holds anything.
pub(crate) fn new_empty_dir(dir: &Path) -> Result<()> {
    match std::fs::read_dir(dir) {
        Ok(mut it) => {
            if it.next().is_some() {
                return Err(Error::AlreadyExists {
                    path: dir.to_owned(),
                });
            }
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            std::fs::create_dir_all(dir).map_err(io(dir))?;
        }
        Err(e) => return Err(io(dir)(e)),
    }
    Ok(())
}

/// Reads a small file without following a link and without blocking on a FIFO (anything
/// but a regular file is refused): at most `max + 1` bytes, so that the caller can refuse
/// a longer one; `None` when there is no such file.
pub(crate) fn read_small_file(path: &Path, max: usize) -> Result<Option<Vec<u8>>> {
    use std::io::Read;
    let f = match open_ledger_file(path, OpenOptions::new().read(true), false) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(io(path)(e)),
    };
    let mut bytes = Vec::new();
    f.take(max as u64 + 1)
        .read_to_end(&mut bytes)
        .map_err(io(path))?;
    Ok(Some(bytes))
}

/// Replaces `path` with `bytes` atomically and durably: a new file beside it (a fresh
/// random name, created exclusively, so that nothing planted there is followed or
/// overwritten), fsync'd, renamed over it, and its directory fsync'd.
pub(crate) fn write_durably(path: &Path, bytes: &[u8]) -> Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    let mut tmp = tempfile::Builder::new()
        .prefix(".new-")
        .tempfile_in(dir)
        .map_err(io(dir))?;
    tmp.write_all(bytes)
        .and_then(|()| tmp.as_file().sync_all())
        .map_err(io(tmp.path()))?;
    tmp.persist(path).map_err(|e| io(path)(e.error))?;
    fsync_dir(dir)
}

fn fsync_dir(dir: &Path) -> Result<()> {
    File::open(dir).and_then(|d| d.sync_all()).map_err(io(dir))
}

/// Opens the sled index of the ledger in `dir`: in place, or for a reader that may not
/// write it (or finds it held by another reader), a private copy in `$TMPDIR`, returned
/// with it. `copied`, when given, is where this reader's copy already is: it is opened
/// again. `reopening` says this process has just closed the index itself: sled lets go of
/// its lock file from its own threads a little after the last handle is dropped, so its
/// lock is waited for (up to 5 s) rather than taken for another reader's.
fn open_index(
    dir: &Path,
    write: bool,
    copied: Option<&Path>,
    reopening: bool,
) -> Result<(Index, Option<tempfile::TempDir>)> {
    let e = db_err(dir);
    let db_dir = dir.join(names::DB);
    check_index_dir(&db_dir)?;
    let mut scratch = None;
    let open = |path: &Path| {
        sled::Config::new()
            .path(path)
            .cache_capacity(if write {
                WRITE_CACHE_BYTES
            } else {
                READ_CACHE_BYTES
            })
            .open()
    };
    let locked = |err: &sled::Error| err.to_string().contains("could not acquire lock");
    let copy = |scratch: &mut Option<tempfile::TempDir>| -> Result<sled::Db> {
        // Another reader's sled may rotate its files while they are copied: a copy sled
        // cannot open is made again, a few times.
        let mut tries = 0;
        loop {
            let tmp = tempfile::Builder::new()
                .prefix("custody-index-")
                .tempdir()
                .map_err(io(std::env::temp_dir()))?;
            let path = tmp.path().join(names::DB);
            copy_dir(&db_dir, &path)?;
            match open(&path) {
                Ok(db) => {
                    *scratch = Some(tmp);
                    return Ok(db);
                }
                Err(_) if tries < 4 => {
                    tries += 1;
                    std::thread::sleep(std::time::Duration::from_millis(20 << tries));
                }
                Err(err) => return Err(e(err)),
            }
        }
    };
    // Waits a moment for sled's lock; false once 5 s have gone by.
    let mut tries = 0;
    let mut wait = || {
        tries += 1;
        std::thread::sleep(std::time::Duration::from_millis(10));
        tries <= 500
    };
    let db = if let Some(copied) = copied {
        loop {
            match open(&copied.join(names::DB)) {
                Ok(db) => break db,
                Err(err) if locked(&err) && wait() => {}
                Err(err) => return Err(e(err)),
            }
        }
    } else if !write && !may_open_in_place(&db_dir) {
        copy(&mut scratch)?
    } else {
        // Holding the ledger lock, any other holder of sled's own lock is a writer that
        // is letting go (sled releases it from a background thread), this process's own
        // index just closed, or another reader: a writer waits for it briefly, and so does
        // a reader reopening; a reader opening reads a copy instead of waiting.
        loop {
            match open(&db_dir) {
                Ok(db) => break db,
                Err(err) if !write && !reopening && locked(&err) => break copy(&mut scratch)?,
                Err(err) if locked(&err) && wait() => {}
                Err(err) if !write && locked(&err) => break copy(&mut scratch)?,
                Err(err) => return Err(e(err)),
            }
        }
    };
    let t = |n: &str| db.open_tree(n).map_err(&e);
    Ok((
        Index {
            tiles: t("tiles")?,
            lookup: t("lookup")?,
            checkpoints: t("checkpoints")?,
            meta: t("meta")?,
            db,
        },
        scratch,
    ))
}

impl Store {
    /// Creates an empty ledger directory (which must not exist, or be empty).
    pub fn create(dir: &Path) -> Result<Self> {
        new_empty_dir(dir)?;
        let lock = take(dir, LockWait::No, true)?;
        std::fs::create_dir(dir.join(names::CONTENT)).map_err(io(dir.join(names::CONTENT)))?;
        let journal = Journal::create(&dir.join(names::JOURNAL))?;
        fsync_dir(dir)?;
        Self::with_parts(dir, lock, journal, true)
    }

    /// Opens an existing ledger directory; `write` opens the journal for appending.
    pub fn open(dir: &Path, wait: LockWait, write: bool) -> Result<Self> {
        let meta = std::fs::metadata(dir).map_err(io(dir))?;
        if !meta.is_dir() {
            return Err(Error::NotALedger {
                path: dir.to_owned(),
                reason: "not a directory".into(),
            });
        }
        let journal_path = dir.join(names::JOURNAL);
        if !journal_path.exists() {
            return Err(Error::NotALedger {
                path: dir.to_owned(),
                reason: "it has no journal".into(),
            });
        }
        let lock = take(dir, wait, write)?;
        let journal = Journal::open(&journal_path, write)?;
        // Opening sled would create an empty index where the real one is missing, and the
        // ledger would then look empty; `recover` rebuilds it from the journal instead.
        if !dir.join(names::DB).exists() {
            return Err(Error::Db {
                path: dir.join(names::DB),
                message: "it is missing although the journal is there".into(),
            });
        }
        Self::with_parts(dir, lock, journal, write)
    }

    /// Opens a ledger for writing; if its index cannot be opened (or `rebuild` asks for a
    /// new one), moves the index aside (to `db.unreadable-SECONDS-PID`, or
    /// `db.rebuilt-SECONDS-PID`) and starts an empty one, all under the ledger lock, and
    /// returns where it went and why. The caller re-indexes the journal.
    pub fn open_or_set_aside(
        dir: &Path,
        wait: LockWait,
        rebuild: bool,
    ) -> Result<(Self, Option<(PathBuf, String)>)> {
        let meta = std::fs::metadata(dir).map_err(io(dir))?;
        let journal_path = dir.join(names::JOURNAL);
        if !meta.is_dir() || !journal_path.exists() {
            return Self::open(dir, wait, true).map(|s| (s, None));
        }
        // A missing index is rebuilt like an unreadable one (sled creates it empty).
        let lock = take(dir, wait, true)?;
        let journal = Journal::open(&journal_path, true)?;
        let mut lock = lock;
        let opened = if rebuild {
            drop(journal);
            Err(Error::Db {
                path: dir.join(names::DB),
                message: "a rebuild was asked for".into(),
            })
        } else {
            Self::with_parts(dir, lock.share(dir)?, journal, true)
        };
        let (lock, why) = match opened {
            Ok(store) => {
                // The store holds the lock through its own handle, and clears the note.
                lock.writer = false;
                return Ok((store, None));
            }
            Err(Error::Db { message, .. }) => (lock, message),
            Err(e) => return Err(e),
        };
        let aside = aside_path(
            dir,
            names::DB,
            if rebuild { "rebuilt" } else { "unreadable" },
        );
        let db = dir.join(names::DB);
        let moved = match std::fs::rename(&db, &aside) {
            Ok(()) => Some((aside, why)),
            // Nothing to move (a rebuild of a missing index).
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
            Err(e) => return Err(io(&db)(e)),
        };
        let journal = Journal::open(&journal_path, true)?;
        Self::with_parts(dir, lock, journal, true).map(|s| (s, moved))
    }

    fn with_parts(dir: &Path, lock: LedgerLock, journal: Journal, write: bool) -> Result<Self> {
        let (index, scratch) = open_index(dir, write, None, false)?;
        let s = Self {
            dir: dir.to_owned(),
            _lock: lock,
            journal,
            index: RwLock::new(Some(Arc::new(index))),
            write,
            read_bytes: AtomicU64::new(0),
            batch_marker_durable: false,
            scratch: Mutex::new(scratch),
        };
        s.check_layout(write)?;
        Ok(s)
    }

    /// The open index.
    fn ix(&self) -> Result<Arc<Index>> {
        self.index
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
            .ok_or_else(|| Error::Db {
                path: self.dir.join(names::DB),
                message: "it could not be opened again after a long read".into(),
            })
    }

    /// Calls `f` with every entry (key, value) of one of the index's trees in key order, a
    /// stretch at a time, letting go of sled's cache between stretches: sled reads whole
    /// nodes, values and all, even to list keys.
    fn scan(
        &self,
        tree: impl Fn(&Index) -> &sled::Tree,
        mut f: impl FnMut(&[u8], &[u8]),
    ) -> Result<()> {
        use std::ops::Bound;
        let mut after: Option<sled::IVec> = None;
        loop {
            let from = after.take().map_or(Bound::Unbounded, Bound::Excluded);
            let mut read = 0;
            let ix = self.ix()?;
            for kv in tree(&ix).range::<sled::IVec, _>((from, Bound::Unbounded)) {
                let (k, v) = kv.map_err(self.e())?;
                f(&k, &v);
                read += v.len();
                after = Some(k);
                if read >= 4 << 20 {
                    break;
                }
            }
            drop(ix);
            self.count_read(read);
            if after.is_none() {
                return Ok(());
            }
            self.release_cache()?;
        }
    }

    /// Counts bytes read from the index, for [`Store::release_cache`].
    fn count_read(&self, bytes: usize) {
        self.read_bytes.fetch_add(bytes as u64, Ordering::Relaxed);
    }

    /// Lets go of what sled keeps of the pages read so far, once a long read (an audit)
    /// has taken more than [`RELEASE_AFTER_BYTES`] from the index since it was opened, by
    /// closing the index and opening it again. sled 0.34 holds every page it reads until
    /// the database is closed (its cache evicts a page only after 64 accesses to the 1 of
    /// 256 shards the page falls in, which a single pass over the index never makes), so
    /// without this an audit would hold the whole index in memory. Does nothing while
    /// another part of the process holds the index, or for a writer.
    pub(crate) fn release_cache(&self) -> Result<()> {
        self.release_cache_after(RELEASE_AFTER_BYTES)
    }

    fn release_cache_after(&self, limit: u64) -> Result<()> {
        if self.write || self.read_bytes.load(Ordering::Relaxed) < limit {
            return Ok(());
        }
        let mut slot = self
            .index
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if slot.as_ref().is_some_and(|ix| Arc::strong_count(ix) > 1) {
            return Ok(());
        }
        // sled lets go of its lock file when the last handle closes; then the same index
        // (the ledger's, or this reader's copy) opens again.
        drop(slot.take());
        let mut scratch = self
            .scratch
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let (index, copy) = open_index(&self.dir, false, scratch.as_ref().map(|t| t.path()), true)?;
        if copy.is_some() {
            *scratch = copy;
        }
        *slot = Some(Arc::new(index));
        self.read_bytes.store(0, Ordering::Relaxed);
        Ok(())
    }

    /// Refuses an index of another layout (one an older custody wrote is rebuilt by
    /// `recover`); a new, empty index gets the current one.
    fn check_layout(&self, write: bool) -> Result<()> {
        let db_err = |message: String| Error::Db {
            path: self.dir.join(names::DB),
            message,
        };
        match self.ix()?.meta.get(meta_key::LAYOUT).map_err(self.e())? {
            Some(v) if v.as_ref() == LAYOUT.to_be_bytes() => Ok(()),
            Some(v) => Err(db_err(
                match <[u8; 8]>::try_from(v.as_ref()).map(u64::from_be_bytes) {
                    Ok(older) if older < LAYOUT => format!(
                        "it was written by an older custody (index layout {older}, this custody reads {LAYOUT}); rebuild it from the journal with `custody recover`"
                    ),
                    _ => format!(
                        "its layout ({}) is not one this custody reads; use the custody that wrote it, or rebuild it with `custody recover`",
                        hex::encode(&v)
                    ),
                },
            )),
            None if self.ix()?.meta.is_empty() && self.ix()?.tiles.is_empty() => {
                if write {
                    self.ix()?.meta
                        .insert(meta_key::LAYOUT, &LAYOUT.to_be_bytes())
                        .map_err(self.e())?;
                }
                Ok(())
            }
            None => Err(db_err(
                "it was written by an older custody, which kept each record and each subtree hash as an entry of its own".into(),
            )),
        }
    }

    /// The ledger directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The journal.
    pub fn journal(&self) -> &Journal {
        &self.journal
    }

    /// Mutable journal (for dropping a torn tail).
    pub fn journal_mut(&mut self) -> &mut Journal {
        &mut self.journal
    }

    fn e(&self) -> impl Fn(sled::Error) -> Error + '_ {
        db_err(&self.dir)
    }

    /// Metadata as indexed.
    pub fn meta(&self) -> Result<Meta> {
        let get_u64 = |k: &[u8]| -> Result<u64> {
            Ok(match self.ix()?.meta.get(k).map_err(self.e())? {
                Some(v) => u64::from_be_bytes(
                    v.as_ref()
                        .try_into()
                        .map_err(|_| Error::Damaged("metadata value is not 8 bytes".into()))?,
                ),
                None => 0,
            })
        };
        let origin = match self.ix()?.meta.get(meta_key::ORIGIN).map_err(self.e())? {
            Some(v) => Some(
                String::from_utf8(v.to_vec())
                    .map_err(|_| Error::Damaged("stored origin is not UTF-8".into()))?,
            ),
            None => None,
        };
        let ledger_key = match self
            .ix()?
            .meta
            .get(meta_key::LEDGER_KEY)
            .map_err(self.e())?
        {
            Some(v) => Some(
                v.as_ref()
                    .try_into()
                    .map_err(|_| Error::Damaged("stored ledger key is not 32 bytes".into()))?,
            ),
            None => None,
        };
        Ok(Meta {
            size: get_u64(meta_key::SIZE)?,
            journal_len: get_u64(meta_key::JOURNAL_LEN)?,
            origin,
            ledger_key,
        })
    }

    /// Writes frames to the journal and fsyncs it, then indexes the entries: the order that
    /// makes every acknowledged append survive a crash.
    /// With `atomic`, a batch of several records is all or nothing across a crash; without,
    /// a crash may keep the leading records of the batch (each a valid record in its place).
    pub fn append(
        &mut self,
        entries: &[Entry],
        hashes: &[(u32, u64, Hash)],
        atomic: bool,
    ) -> Result<()> {
        let mut framed = Vec::new();
        for en in entries {
            framed.extend_from_slice(&journal::frame(&en.bytes, &en.leaf));
        }
        let before = self.journal.len()?;
        // A batch of several records is all or nothing: its extent is made durable first,
        // so that a crash that leaves only its leading frames can be undone on the next open.
        // (A single record's torn frame is cut without it.)
        if let [first, _, ..] = entries
            && atomic
        {
            self.write_batch_marker(&batch_marker(
                before,
                before + framed.len() as u64,
                &first.leaf,
            ))?;
        }
        // Nothing is acknowledged unless both steps succeed; on failure the journal is cut
        // back so that the next open does not index an append that reported an error.
        let result = self
            .journal
            .append(&framed)
            .and_then(|len| {
                crash_point("after-fsync");
                self.index(entries, hashes, len)
            })
            .inspect(|()| crash_point("after-sled"));
        if result.is_err() {
            // The marker is cleared only once the journal is known to be cut back: if the
            // cut failed, the next open undoes the batch by the marker.
            if self.journal.truncate(before).is_ok() && entries.len() > 1 && atomic {
                let _ = self.write_batch_marker(&[0; BATCH_MARKER_LEN]);
            }
        }
        result
    }

    /// Applies entries to sled in one transaction, with the new size and journal length.
    pub fn index(
        &self,
        entries: &[Entry],
        hashes: &[(u32, u64, Hash)],
        journal_len: u64,
    ) -> Result<()> {
        let Some(last) = entries.last() else {
            return Ok(());
        };
        let size = last.seq + 1;
        let old_size = entries[0].seq;
        let mut tiles = sled::Batch::default();
        let mut lookups = sled::Batch::default();
        let mut meta = sled::Batch::default();
        let mut added = Vec::with_capacity(entries.len() * 2);
        for en in entries {
            let new = |kind: lookup::Kind, key: Option<&Hash>| lookup::NewEntry {
                kind,
                item: kind.item(key.map_or(&[][..], |k| &k[..]), en.seq),
            };
            added.push(new(lookup::Kind::Leaf, Some(&en.leaf)));
            if let Some(m) = &en.media {
                added.push(new(lookup::Kind::Media, Some(m)));
            }
            if let Some(c) = &en.commitment {
                added.push(new(lookup::Kind::Content, Some(c)));
            }
            if en.authority {
                added.push(new(lookup::Kind::Authority, None));
            }
            if let Some((origin, key)) = &en.genesis {
                meta.insert(meta_key::ORIGIN, origin.as_bytes());
                meta.insert(meta_key::LEDGER_KEY, key);
            }
        }
        // The records in entry bundles, their leaf hashes in level-0 tiles, and the
        // subtree hashes of levels 8, 16, ... in the tiles above; the levels in between are
        // recomputed from those when read.
        let bundled = entries
            .iter()
            .map(|en| {
                let len = u16::try_from(en.bytes.len()).map_err(|_| {
                    Error::Input(format!(
                        "record {} is {} bytes, more than an entry bundle can hold",
                        en.seq,
                        en.bytes.len()
                    ))
                })?;
                Ok([&len.to_be_bytes()[..], &en.bytes].concat())
            })
            .collect::<Result<Vec<_>>>()?;
        self.grow_row(&mut tiles, tiles::Row::Entries, old_size, &bundled)?;
        let leaves_row: Vec<Vec<u8>> = entries.iter().map(|en| en.leaf.to_vec()).collect();
        self.grow_row(&mut tiles, tiles::Row::Hashes(0), old_size, &leaves_row)?;
        for tile_level in 1..8u8 {
            let level = crate::tiles::HEIGHT * u32::from(tile_level);
            let mut row: Vec<(u64, Hash)> = hashes
                .iter()
                .filter(|(l, _, _)| *l == level)
                .map(|(_, i, h)| (*i, *h))
                .collect();
            if row.is_empty() {
                continue;
            }
            row.sort_unstable_by_key(|(i, _)| *i);
            let first = old_size >> level;
            if row
                .iter()
                .enumerate()
                .any(|(k, (i, _))| *i != first + k as u64)
            {
                return Err(Error::Damaged(format!(
                    "the subtree hashes of level {level} to index are not the next ones"
                )));
            }
            let items: Vec<Vec<u8>> = row.into_iter().map(|(_, h)| h.to_vec()).collect();
            self.grow_row(&mut tiles, tiles::Row::Hashes(tile_level), old_size, &items)?;
        }
        self.grow_lookups(&mut lookups, old_size, size, &added)?;
        meta.insert(meta_key::SIZE, &size.to_be_bytes());
        meta.insert(meta_key::JOURNAL_LEN, &journal_len.to_be_bytes());
        let ix = self.ix()?;
        (&ix.tiles, &ix.lookup, &ix.meta)
            .transaction(|(t, l, m)| {
                t.apply_batch(&tiles)?;
                l.apply_batch(&lookups)?;
                m.apply_batch(&meta)?;
                Ok::<(), ConflictableTransactionError<()>>(())
            })
            .map_err(|e| match e {
                TransactionError::Storage(e) => self.e()(e),
                TransactionError::Abort(()) => Error::Damaged("index transaction aborted".into()),
            })?;
        Ok(())
    }

    /// Record bytes by sequence, from sled.
    pub fn record_bytes(&self, seq: u64) -> Result<Option<Vec<u8>>> {
        let size = self.indexed_size()?;
        if seq >= size {
            return Ok(None);
        }
        Ok(self
            .bundle(seq / crate::tiles::WIDTH, size)?
            .and_then(|mut b| {
                let i = (seq % crate::tiles::WIDTH) as usize;
                (i < b.len()).then(|| b.swap_remove(i))
            }))
    }

    /// The number of records the index holds.
    pub fn indexed_size(&self) -> Result<u64> {
        Ok(
            match self.ix()?.meta.get(meta_key::SIZE).map_err(self.e())? {
                Some(v) => u64::from_be_bytes(
                    v.as_ref()
                        .try_into()
                        .map_err(|_| Error::Damaged("metadata value is not 8 bytes".into()))?,
                ),
                None => 0,
            },
        )
    }

    /// Every (sequence key, record bytes) pair in sled order, for audits.
    pub fn records_iter(&self) -> impl Iterator<Item = Result<(Vec<u8>, Vec<u8>)>> + '_ {
        // Bundle by bundle; a bundle that is missing yields none of its records (the audit
        // then names each as missing from the index).
        let (size, first_error) = match self.indexed_size() {
            Ok(s) => (s, None),
            Err(e) => (0, Some(Err(e))),
        };
        first_error
            .into_iter()
            .chain((0..size.div_ceil(crate::tiles::WIDTH)).flat_map(move |b| {
                match self.bundle(b, size) {
                    Ok(Some(records)) => records
                        .into_iter()
                        .enumerate()
                        .map(|(i, r)| {
                            Ok((
                                (b * crate::tiles::WIDTH + i as u64).to_be_bytes().to_vec(),
                                r,
                            ))
                        })
                        .collect::<Vec<_>>(),
                    Ok(None) => Vec::new(),
                    Err(e) => vec![Err(e)],
                }
            }))
    }

    /// Sequence of the record with this leaf hash (the first, should a damaged index list
    /// more than one).
    pub fn seq_of_leaf(&self, leaf: &Hash) -> Result<Option<u64>> {
        Ok(self.lookup(lookup::Kind::Leaf, leaf)?.first().copied())
    }

    /// Sequence numbers of the media records of a SHA-256, in order.
    pub fn media_seqs(&self, sha: &Hash) -> Result<Vec<u64>> {
        self.lookup(lookup::Kind::Media, sha)
    }

    /// Sequence numbers of the records that commit to a text (testimony, amended text) with
    /// this commitment's leading bytes, in order.
    pub fn content_seqs(&self, commitment: &Hash) -> Result<Vec<u64>> {
        self.lookup(lookup::Kind::Content, commitment)
    }

    /// Sequence numbers of the records that change key authority or custody, in order.
    pub fn authority_seqs(&self) -> Result<Vec<u64>> {
        self.lookup(lookup::Kind::Authority, &[])
    }

    /// One of the index's trees by name (`tiles`, `lookup`, `checkpoints`, `meta`), for the
    /// mutation sweep only.
    #[cfg(feature = "test-hooks")]
    pub fn raw_tree(&self, name: &str) -> Option<sled::Tree> {
        let ix = self.ix().ok()?;
        Some(match name {
            "tiles" => ix.tiles.clone(),
            "lookup" => ix.lookup.clone(),
            "checkpoints" => ix.checkpoints.clone(),
            "meta" => ix.meta.clone(),
            _ => return None,
        })
    }

    /// Asks sled to write its buffers (not a durability guarantee; the journal is).
    pub fn flush(&self) -> Result<()> {
        self.ix()?.db.flush().map_err(self.e())?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::checkpoints::CheckpointFile;
    use super::*;

    fn frame(note: &[u8]) -> Vec<u8> {
        [&(note.len() as u32).to_be_bytes()[..], note].concat()
    }

    #[test]
    fn the_checkpoints_file_splits_into_whole_entries_and_a_tail() {
        let (a, b) = (frame(b"first note\n"), frame(b"second\n"));
        let whole = [a.clone(), b.clone()].concat();
        let f = CheckpointFile::parse(&whole);
        assert_eq!(f.entries.len(), 2);
        assert_eq!(f.entries[1].0, a.len() as u64, "the second entry's offset");
        assert_eq!((f.whole_len, f.trailing), (whole.len() as u64, 0));
        // A torn last entry, and garbage too short to be a length, are the tail.
        for cut in 1..b.len() {
            let torn = &whole[..a.len() + cut];
            let f = CheckpointFile::parse(torn);
            assert_eq!(f.entries.len(), 1);
            assert_eq!((f.whole_len, f.trailing), (a.len() as u64, cut as u64));
        }
        // A length that runs past the end makes everything from it the tail.
        let mut bad = whole.clone();
        bad[0] = 0xff;
        let f = CheckpointFile::parse(&bad);
        assert!(f.entries.is_empty());
        assert_eq!(f.trailing, bad.len() as u64);
        assert_eq!(CheckpointFile::parse(&[]), CheckpointFile::default());
    }

    #[test]
    fn readers_share_the_lock_and_a_writer_excludes_them() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join(names::LOCK), b"").unwrap();
        let r1 = take(dir.path(), LockWait::No, false).unwrap();
        let r2 = take(dir.path(), LockWait::No, false).unwrap();
        assert!(matches!(
            take(dir.path(), LockWait::No, true),
            Err(Error::InUse { .. })
        ));
        assert_eq!(lock_holder(dir.path()), LockHolder::Readers);
        drop((r1, r2));
        let w = take(dir.path(), LockWait::No, true).unwrap();
        assert!(matches!(
            take(dir.path(), LockWait::No, false),
            Err(Error::InUse { .. })
        ));
        match lock_holder(dir.path()) {
            LockHolder::Writer { pid, since_ms } => {
                assert_eq!(pid, Some(std::process::id()));
                assert!(since_ms.is_some());
            }
            other => panic!("{other:?}"),
        }
        drop(w);
        // The writer's note goes with it.
        assert_eq!(std::fs::read(dir.path().join(names::LOCK)).unwrap(), b"");
        // Without a lock file (write-once media without one), a reader reads unlocked.
        let bare = tempfile::tempdir().unwrap();
        assert!(
            take(bare.path(), LockWait::No, false)
                .unwrap()
                .file
                .is_none()
        );
    }

    #[test]
    fn set_aside_keeps_the_bytes_in_a_new_file() {
        let dir = tempfile::tempdir().unwrap();
        let p = set_aside(dir.path(), "checkpoints", b"torn bytes").unwrap();
        assert_eq!(std::fs::read(&p).unwrap(), b"torn bytes");
        assert!(
            p.file_name()
                .unwrap()
                .to_string_lossy()
                .starts_with("checkpoints.set-aside-")
        );
    }

    #[test]
    fn a_reader_opens_in_place_only_an_index_it_may_write() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("db");
        assert!(!may_open_in_place(&db), "missing");
        std::fs::create_dir(&db).unwrap();
        assert!(!may_open_in_place(&db), "no db file");
        std::fs::write(db.join("db"), b"").unwrap();
        assert!(may_open_in_place(&db));
    }

    #[test]
    fn an_index_opened_by_another_reader_is_read_from_a_copy() {
        let dir = tempfile::tempdir().unwrap();
        let s = Store::create(dir.path()).unwrap();
        let meta = s.meta().unwrap();
        assert_eq!(meta.size, 0);
        s.put_checkpoint(0, "a note\n").unwrap();
        s.flush().unwrap();
        drop(s);
        let first = Store::open(dir.path(), LockWait::No, false).unwrap();
        assert!(
            first.scratch.lock().unwrap().is_none(),
            "the first reader opens in place"
        );
        let second = Store::open(dir.path(), LockWait::No, false).unwrap();
        let scratch = second
            .scratch
            .lock()
            .unwrap()
            .as_ref()
            .expect("the second reads a copy")
            .path()
            .to_owned();
        assert_eq!(second.latest_checkpoint().unwrap().unwrap().1, "a note\n");
        drop(second);
        assert!(!scratch.exists(), "the copy is removed");
        drop(first);
    }

    #[test]
    fn a_long_read_lets_go_of_the_index_and_reads_the_same_after() {
        let dir = tempfile::tempdir().unwrap();
        let s = Store::create(dir.path()).unwrap();
        s.put_checkpoint(0, "a note\n").unwrap();
        s.flush().unwrap();
        drop(s);
        let first = Store::open(dir.path(), LockWait::No, false).unwrap();
        let second = Store::open(dir.path(), LockWait::No, false).unwrap();
        for s in [&first, &second] {
            s.count_read(10);
            // While another part of the process holds the index, it stays open.
            let held = s.ix().unwrap();
            s.release_cache_after(1).unwrap();
            assert_eq!(s.read_bytes.load(Ordering::Relaxed), 10, "not reopened");
            drop(held);
            s.release_cache_after(11).unwrap();
            assert_eq!(s.read_bytes.load(Ordering::Relaxed), 10, "under the limit");
            s.release_cache_after(1).unwrap();
            assert_eq!(s.read_bytes.load(Ordering::Relaxed), 0, "reopened");
            assert_eq!(s.latest_checkpoint().unwrap().unwrap().1, "a note\n");
        }
        assert!(first.scratch.lock().unwrap().is_none(), "still in place");
        assert!(second.scratch.lock().unwrap().is_some(), "still its copy");
    }
}
