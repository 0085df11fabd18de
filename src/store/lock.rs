//! The ledger lock: shared by readers, exclusive for a writer, who leaves a note of who
//! holds it for those who wait.

use super::*;

/// How long to wait for the lock.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LockWait {
    /// Fail at once with "ledger in use".
    No,
    /// Block until the other process is done.
    Yes,
}

/// The ledger lock held by this process: exclusive for a writer (who records its process
/// id in the lock file while it holds it), shared for readers, none on media where the
/// lock file cannot be opened at all.
pub(super) struct LedgerLock {
    pub(super) file: Option<File>,
    pub(super) writer: bool,
}

impl LedgerLock {
    /// A second handle on the same lock (it is held while either handle is open); only
    /// one of them should clear the writer's note, so the copy does not.
    pub(super) fn share(&self, dir: &Path) -> Result<LedgerLock> {
        let file = match &self.file {
            Some(f) => Some(f.try_clone().map_err(io(dir))?),
            None => None,
        };
        Ok(LedgerLock {
            file,
            writer: false,
        })
    }
}

impl Drop for LedgerLock {
    fn drop(&mut self) {
        if let (Some(f), true) = (&self.file, self.writer) {
            // Best effort: a stale note is harmless, since the lock itself is what counts.
            let _ = f.set_len(0);
        }
    }
}

/// Who holds a ledger that a process is waiting for, as far as the lock file tells.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LockHolder {
    /// A writer, with its process id and when it took the lock (unix ms), if it said.
    Writer {
        /// Process id.
        pid: Option<u32>,
        /// When it took the lock, in unix milliseconds.
        since_ms: Option<u64>,
    },
    /// Readers only (a writer waits until they are done).
    Readers,
}

/// Who holds the lock of the ledger in `dir`, for a process about to wait for it.
pub fn lock_holder(dir: &Path) -> LockHolder {
    let path = dir.join(names::LOCK);
    let Ok(f) = File::open(&path) else {
        return LockHolder::Writer {
            pid: None,
            since_ms: None,
        };
    };
    if f.try_lock_shared().is_ok() {
        return LockHolder::Readers;
    }
    let mut text = String::new();
    let _ = std::io::Read::read_to_string(&mut std::io::Read::take(&f, 256), &mut text);
    let field = |name: &str| {
        text.lines()
            .find_map(|l| l.strip_prefix(name)?.strip_prefix(' '))
            .map(str::to_owned)
    };
    LockHolder::Writer {
        pid: field("pid").and_then(|p| p.parse().ok()),
        since_ms: field("since_ms").and_then(|p| p.parse().ok()),
    }
}

/// Takes the ledger lock: exclusive for a writer, shared for a reader, so that readers
/// never wait for each other. A reader that cannot open the lock file at all (write-once
/// media without one, a file another user keeps private) reads without it: nothing can be
/// writing to such media, and a writer elsewhere cannot be excluded by this process anyway.
pub(super) fn take(dir: &Path, wait: LockWait, write: bool) -> Result<LedgerLock> {
    let path = dir.join(names::LOCK);
    let f = if write {
        open_ledger_file(
            &path,
            OpenOptions::new().create(true).truncate(false).write(true),
            true,
        )
        .map_err(io(&path))?
    } else {
        match open_ledger_file(&path, OpenOptions::new().read(true), false) {
            Ok(f) => f,
            // Write-once media without a lock file: nothing can be writing to it.
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Ok(LedgerLock {
                    file: None,
                    writer: false,
                });
            }
            // A lock this user may not take would let it read while a writer appends.
            Err(e) => {
                return Err(Error::Io {
                    cause: std::io::Error::new(
                        e.kind(),
                        format!(
                            "{e}; readers take this lock so as never to see an append half done: ask the ledger's owner to make it readable (chmod a+r), or read a copy of the ledger"
                        ),
                    ),
                    path,
                });
            }
        }
    };
    let taken = match (wait, write) {
        (LockWait::Yes, true) => f.lock().map_err(std::fs::TryLockError::Error),
        (LockWait::Yes, false) => f.lock_shared().map_err(std::fs::TryLockError::Error),
        (LockWait::No, true) => f.try_lock(),
        (LockWait::No, false) => f.try_lock_shared(),
    };
    match taken {
        Ok(()) => {}
        Err(std::fs::TryLockError::WouldBlock) => {
            return Err(Error::InUse {
                path: dir.to_owned(),
            });
        }
        Err(std::fs::TryLockError::Error(e)) => return Err(io(&path)(e)),
    }
    if write {
        // Tell a process that waits for this ledger who it is waiting for.
        let since = crate::unix_ms();
        let note = format!("pid {}\nsince_ms {since}\n", std::process::id());
        let _ = f.set_len(0).and_then(|()| (&f).write_all(note.as_bytes()));
    }
    Ok(LedgerLock {
        file: Some(f),
        writer: write,
    })
}
