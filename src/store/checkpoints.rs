//! The checkpoints file (every signed checkpoint, framed, fsync'd) and the index's copy.

use super::*;

/// The checkpoints file: frames of `u32 length || note`.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct CheckpointFile {
    /// Each whole entry, with the byte offset of its length prefix.
    pub entries: Vec<(u64, Vec<u8>)>,
    /// Where the whole entries end.
    pub whole_len: u64,
    /// Bytes after the last whole entry: a torn entry (a crash while signing) or damage.
    pub trailing: u64,
}

impl CheckpointFile {
    /// Splits the file's bytes into entries; never fails.
    pub fn parse(bytes: &[u8]) -> Self {
        let mut entries = Vec::new();
        let mut i = 0usize;
        while let Some(len) = bytes.get(i..i + 4) {
            let len = u32::from_be_bytes([len[0], len[1], len[2], len[3]]) as usize;
            let Some(text) = bytes.get(i + 4..).and_then(|rest| rest.get(..len)) else {
                break;
            };
            entries.push((i as u64, text.to_vec()));
            i += 4 + len;
        }
        CheckpointFile {
            entries,
            whole_len: i as u64,
            trailing: (bytes.len() - i) as u64,
        }
    }
}

impl Store {
    /// Stores a signed checkpoint for its tree size.
    pub fn put_checkpoint(&self, size: u64, signed: &str) -> Result<()> {
        // The file is durable (fsync'd), so a rebuilt index gets its checkpoints back.
        let path = self.dir.join(names::CHECKPOINTS);
        let created = !path.exists();
        let mut f = open_ledger_file(&path, OpenOptions::new().create(true).append(true), true)
            .map_err(io(&path))?;
        // Bytes after the last whole entry (a checkpoint torn by a crash while it was
        // signed, or damage) are kept whole in a file beside it, then cut, so that entries
        // stay framed and nothing is lost.
        let bytes = self.checkpoint_file_bytes()?;
        let file = CheckpointFile::parse(&bytes);
        if file.trailing > 0 {
            let tail = bytes.get(file.whole_len as usize..).unwrap_or_default();
            set_aside(&self.dir, names::CHECKPOINTS, tail)?;
            f.set_len(file.whole_len).map_err(io(&path))?;
        }
        let mut frame = (signed.len() as u32).to_be_bytes().to_vec();
        frame.extend_from_slice(signed.as_bytes());
        f.write_all(&frame).map_err(io(&path))?;
        f.sync_data().map_err(io(&path))?;
        if created {
            fsync_dir(&self.dir)?;
        }
        self.ix()?
            .checkpoints
            .insert(size.to_be_bytes(), signed.as_bytes())
            .map_err(self.e())?;
        Ok(())
    }

    /// The checkpoints file, parsed into its whole entries (a missing file has none).
    pub fn checkpoint_file(&self) -> Result<CheckpointFile> {
        Ok(CheckpointFile::parse(&self.checkpoint_file_bytes()?))
    }

    /// The checkpoints file's bytes (none when it is missing); a link, FIFO or device in
    /// its place is an error, never followed or waited for.
    fn checkpoint_file_bytes(&self) -> Result<Vec<u8>> {
        use std::io::Read;
        let path = self.dir.join(names::CHECKPOINTS);
        let read = open_ledger_file(&path, OpenOptions::new().read(true), false).and_then(|f| {
            let mut b = Vec::new();
            (&f).read_to_end(&mut b).map(|_| b)
        });
        match read {
            Ok(b) => Ok(b),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Vec::new()),
            Err(e) => Err(io(&path)(e)),
        }
    }

    /// The signed checkpoints kept in the checkpoints file (oldest first), as text; a torn
    /// last entry and entries that are not UTF-8 are left out (`audit` reports both).
    pub fn checkpoint_file_entries(&self) -> Result<Vec<String>> {
        Ok(self
            .checkpoint_file()?
            .entries
            .into_iter()
            .filter_map(|(_, b)| String::from_utf8(b).ok())
            .collect())
    }

    /// Puts checkpoints from the checkpoints file back into the index (after a rebuild);
    /// returns how many were missing. Each is stored under the size it states; `audit`
    /// checks their signatures and roots.
    pub fn restore_checkpoints(
        &self,
        origin: &str,
        ledger_key_at: impl Fn(u64) -> [u8; 32],
    ) -> Result<usize> {
        let mut n = 0;
        for text in self.checkpoint_file_entries()? {
            // Only checkpoints the ledger key in force at their size signed, each under the
            // size it states, and never over one the index already holds.
            let Some(size) = crate::checkpoint::claimed_size(&text) else {
                continue;
            };
            let Ok(cp) = crate::checkpoint::open_checkpoint(&text, origin, &ledger_key_at(size))
            else {
                continue;
            };
            if self
                .ix()?
                .checkpoints
                .compare_and_swap(
                    cp.size.to_be_bytes(),
                    None as Option<&[u8]>,
                    Some(text.as_bytes()),
                )
                .map_err(self.e())?
                .is_ok()
            {
                n += 1;
            }
        }
        Ok(n)
    }

    /// All stored checkpoints as (size key, text bytes), in size order.
    pub fn checkpoints(&self) -> Result<Vec<(Vec<u8>, Vec<u8>)>> {
        self.ix()?
            .checkpoints
            .iter()
            .map(|r| r.map(|(k, v)| (k.to_vec(), v.to_vec())).map_err(self.e()))
            .collect()
    }

    /// The stored checkpoint of `size`, if any (text that is not UTF-8 counts as none;
    /// `audit` reports it).
    pub fn checkpoint_at(&self, size: u64) -> Result<Option<String>> {
        Ok(self
            .ix()?
            .checkpoints
            .get(size.to_be_bytes())
            .map_err(self.e())?
            .and_then(|v| String::from_utf8(v.to_vec()).ok()))
    }

    /// The stored checkpoint of the largest size.
    pub fn latest_checkpoint(&self) -> Result<Option<(u64, String)>> {
        match self.ix()?.checkpoints.last().map_err(self.e())? {
            None => Ok(None),
            Some((k, v)) => {
                let size = <[u8; 8]>::try_from(k.as_ref())
                    .map(u64::from_be_bytes)
                    .map_err(|_| Error::Damaged("checkpoint key is not 8 bytes".into()))?;
                let text = String::from_utf8(v.to_vec())
                    .map_err(|_| Error::Damaged(format!("checkpoint {size} is not UTF-8")))?;
                Ok(Some((size, text)))
            }
        }
    }
}

impl Store {
    /// Writes `bytes` as the file `SUB/NAME` of the ledger directory, whole and durably:
    /// a new file (created exclusively), fsync'd, renamed into place, the directory
    /// fsync'd (and the ledger directory, when `SUB` is new).
    fn write_whole(&self, sub: &str, name: &str, bytes: &[u8]) -> Result<PathBuf> {
        let dir = self.dir.join(sub);
        if !dir.exists() {
            std::fs::create_dir(&dir).map_err(io(&dir))?;
            fsync_dir(&self.dir)?;
        }
        let path = dir.join(name);
        write_durably(&path, bytes)?;
        Ok(path)
    }

    /// Stores a checkpoint with its witnesses' cosignatures: `cosigned/SIZE`, the signed
    /// checkpoint with each cosignature line after its own signature, replaced whole and
    /// durably as cosignatures arrive (the checkpoints file keeps the ledger's own).
    pub fn put_cosigned(&self, size: u64, note: &str) -> Result<()> {
        self.write_whole(names::COSIGNED, &size.to_string(), note.as_bytes())
            .map(|_| ())
    }

    /// The cosigned checkpoint of `size`, if witnesses cosigned one.
    pub fn cosigned(&self, size: u64) -> Result<Option<String>> {
        let path = self.dir.join(names::COSIGNED).join(size.to_string());
        read_small_file(&path, crate::note::MAX_NOTE)?
            .map(|b| {
                if b.len() > crate::note::MAX_NOTE {
                    return Err(Error::Damaged(format!(
                        "{} is larger than a signed note can be",
                        path.display()
                    )));
                }
                String::from_utf8(b).map_err(|_| Error::Io {
                    path: path.clone(),
                    cause: std::io::Error::new(
                        std::io::ErrorKind::InvalidData,
                        "stream did not contain valid UTF-8",
                    ),
                })
            })
            .transpose()
    }

    /// Keeps the verifier key of a witness whose cosignature was verified and stored, so
    /// that the cosignature can be checked again (by `audit`, and in bundles):
    /// `cosigned/witness-keys`, one key a line.
    ///
    /// Keys are only ever added (each verifies the lines it signed, for good): a key pinned
    /// by the operator (`--witness-key`, `witness accept`) is added, and the newest key
    /// under a name is the one its name stands for; a key learnt from a policy is added
    /// only when no other key holds its name. A key may be kept under several names (a
    /// witness renamed), the newest last.
    pub fn put_witness_key(&self, vkey: &str, pinned: bool) -> Result<()> {
        let mut keys = self.witness_keys()?;
        if keys.iter().any(|k| k == vkey) {
            return Ok(());
        }
        let (name, _, key) =
            crate::note::parse_verifier_key(vkey).map_err(|e| Error::Input(e.to_string()))?;
        let clashes = |k: &String| {
            crate::note::parse_verifier_key(k).is_ok_and(|(n, _, kk)| n == name && kk != key)
        };
        if !pinned && keys.iter().any(clashes) {
            return Ok(());
        }
        keys.push(vkey.to_owned());
        let text: String = keys.iter().map(|k| format!("{k}\n")).collect();
        self.write_whole(names::COSIGNED, WITNESS_KEYS, text.as_bytes())
            .map(|_| ())
    }

    /// The verifier keys of the witnesses whose cosignatures this ledger keeps.
    pub fn witness_keys(&self) -> Result<Vec<String>> {
        let path = self.dir.join(names::COSIGNED).join(WITNESS_KEYS);
        let Some(b) = read_small_file(&path, MAX_WITNESS_KEYS)? else {
            return Ok(Vec::new());
        };
        if b.len() > MAX_WITNESS_KEYS {
            return Err(Error::Damaged(format!(
                "{} is larger than {MAX_WITNESS_KEYS} bytes",
                path.display()
            )));
        }
        let text = String::from_utf8(b)
            .map_err(|_| Error::Damaged(format!("{} is not UTF-8", path.display())))?;
        Ok(text.lines().map(str::to_owned).collect())
    }

    /// The sizes of the stored cosigned checkpoints, in order.
    pub fn cosigned_sizes(&self) -> Result<Vec<u64>> {
        let mut sizes: Vec<u64> = self
            .names_in(names::COSIGNED)?
            .iter()
            .filter_map(|n| n.parse().ok())
            .collect();
        sizes.sort_unstable();
        Ok(sizes)
    }

    /// The file names in the ledger's directory `sub`, sorted (none when it is missing); a
    /// file left by a write interrupted before its rename (`.new-*`) is passed over.
    pub fn names_in(&self, sub: &str) -> Result<Vec<String>> {
        let dir = self.dir.join(sub);
        match std::fs::read_dir(&dir) {
            Ok(entries) => {
                let mut names: Vec<String> = entries
                    .filter_map(|e| e.ok())
                    .map(|e| e.file_name().to_string_lossy().into_owned())
                    .filter(|n| !n.starts_with(".new-"))
                    .collect();
                names.sort();
                Ok(names)
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Vec::new()),
            Err(e) => Err(io(&dir)(e)),
        }
    }
}

/// The file under `cosigned/` that lists the witnesses' verifier keys.
const WITNESS_KEYS: &str = "witness-keys";
/// Its largest size: a larger one is damage, never read in part.
const MAX_WITNESS_KEYS: usize = 1 << 20;

/// A time-stamp response kept for a checkpoint.
#[derive(Debug, Clone)]
pub struct KeptTimestamp {
    /// The checkpoint's size.
    pub size: u64,
    /// The token's serial number, hex.
    pub serial: String,
    /// The DER response.
    pub response: Vec<u8>,
    /// The certificates (PEM) it was verified against when it was taken in, if kept.
    pub trusted_pem: Option<Vec<u8>>,
}

impl Store {
    /// Keeps an RFC 3161 time-stamp response over the checkpoint of `size`, and the
    /// certificates it was verified against: `timestamps/SIZE-NAME.tsr` and
    /// `timestamps/SIZE-NAME.pem`, each written whole and durably (the certificates first,
    /// so that a kept response always has them).
    pub fn put_timestamp(
        &self,
        size: u64,
        name: &str,
        der: &[u8],
        trusted_pem: &[u8],
    ) -> Result<PathBuf> {
        // Another authority's token of the same serial is never replaced.
        let path = self
            .dir
            .join(names::TIMESTAMPS)
            .join(format!("{size}-{name}.tsr"));
        if let Some(kept) = read_small_file(&path, crate::timestamp::MAX_RESPONSE)?
            && kept != der
        {
            return Err(Error::Input(format!(
                "{} already holds another token of serial {name} for this checkpoint (another authority's); it is kept, and this one is not. Stamp the next checkpoint instead",
                path.display()
            )));
        }
        self.write_whole(
            names::TIMESTAMPS,
            &format!("{size}-{name}.pem"),
            trusted_pem,
        )?;
        self.write_whole(names::TIMESTAMPS, &format!("{size}-{name}.tsr"), der)
    }

    /// Every kept time-stamp response, in order of size and serial; a file whose name is
    /// not `SIZE-SERIAL.tsr` is left to `audit`, which names it.
    pub fn timestamps(&self) -> Result<Vec<KeptTimestamp>> {
        let dir = self.dir.join(names::TIMESTAMPS);
        let mut names: Vec<(u64, String)> = self
            .names_in(names::TIMESTAMPS)?
            .iter()
            .filter_map(|name| {
                let (size, serial) = timestamp_name(name)?;
                Some((size, serial.to_owned()))
            })
            .collect();
        names.sort();
        let max = crate::timestamp::MAX_RESPONSE;
        let mut out = Vec::new();
        for (size, serial) in names {
            let path = dir.join(format!("{size}-{serial}.tsr"));
            let Some(response) = read_small_file(&path, max)? else {
                continue;
            };
            let trusted_pem = read_small_file(&dir.join(format!("{size}-{serial}.pem")), 1 << 20)?;
            out.push(KeptTimestamp {
                size,
                serial,
                response,
                trusted_pem,
            });
        }
        Ok(out)
    }

    /// Keeps the time-stamp request written for the checkpoint of `size`, so that the
    /// response taken in later is checked against its nonce: `timestamps/SIZE.tsq`.
    pub fn put_timestamp_request(&self, size: u64, der: &[u8]) -> Result<PathBuf> {
        self.write_whole(names::TIMESTAMPS, &format!("{size}.tsq"), der)
    }

    /// The time-stamp request kept for the checkpoint of `size`, if any (at most 4 KiB).
    pub fn timestamp_request(&self, size: u64) -> Result<Option<Vec<u8>>> {
        let path = self.dir.join(names::TIMESTAMPS).join(format!("{size}.tsq"));
        read_small_file(&path, 4095)
    }
}

/// The size and serial a kept response's file name `SIZE-SERIAL.tsr` gives (a decimal
/// size without leading zeros, a lowercase hex serial of at most 42 digits).
pub fn timestamp_name(name: &str) -> Option<(u64, &str)> {
    let (size, serial) = name.strip_suffix(".tsr")?.split_once('-')?;
    let digits_ok = !size.is_empty()
        && size.bytes().all(|b| b.is_ascii_digit())
        && (size == "0" || !size.starts_with('0'));
    let serial_ok = !serial.is_empty()
        && serial.len() <= 42
        && serial
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
    if !(digits_ok && serial_ok) {
        return None;
    }
    Some((size.parse().ok()?, serial))
}
