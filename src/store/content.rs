//! The content store: each testimony text with its salt, one file per commitment.

use super::*;

impl Store {
    /// Path of a content file.
    pub fn content_path(&self, commitment: &Hash) -> PathBuf {
        self.dir.join(names::CONTENT).join(hex::encode(commitment))
    }

    /// Writes testimony content and its salt, fsync'd, before the record that commits to it.
    pub fn write_content(&self, commitment: &Hash, salt: &[u8; 32], content: &[u8]) -> Result<()> {
        self.store_dir(names::CONTENT, false)?;
        let path = self.content_path(commitment);
        let mut f = OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&path)
            .map_err(io(&path))?;
        let written = f
            .write_all(salt)
            .and_then(|()| f.write_all(content))
            .and_then(|()| f.sync_all());
        if let Err(e) = written {
            // A full disk must not leave half a text behind.
            drop(f);
            let _ = std::fs::remove_file(&path);
            return Err(io(&path)(e));
        }
        fsync_dir(&self.dir.join(names::CONTENT))
    }

    /// Removes a content file written for an append that then failed.
    pub fn remove_content(&self, commitment: &Hash) {
        let _ = std::fs::remove_file(self.content_path(commitment));
    }

    /// A testimony text against its signed commitment and length (SPEC.md section 8.3): a
    /// description of what matched, or of what is wrong. A sealed text is checked as far as
    /// it can be without a key, and opened with `how.identity`; an erased one must be
    /// unreadable.
    pub fn check_content(
        &self,
        commitment: &Hash,
        content_len: u64,
        how: &TextCheck,
    ) -> std::result::Result<String, String> {
        self.check_dirs().map_err(|e| e.to_string())?;
        let item = Item::Text(*commitment);
        let held = self.held(item);
        if let Some((by, reason)) = how.erased {
            return match (held.plain, held.wrapped_key) {
                (false, false) => Ok(format!(
                    "erased by record {by} ({}): the text can no longer be read by anyone",
                    crate::encoding::terminal_safe(reason, false)
                )),
                _ => Err(format!(
                    "record {by} erased this text, but its {} is still stored; `custody erase --finish` destroys it",
                    if held.plain { "plain text" } else { "item key" }
                )),
            };
        }
        if held.plain {
            if let Some(since) = how.sealed_since {
                return Err(format!(
                    "the text is stored in plain text, although content is sealed since record {since}"
                ));
            }
            return self.check_plain(commitment, content_len);
        }
        if !held.ciphertext && !held.wrapped_key {
            return Err("the testimony text is missing from the content store".into());
        }
        let sealed_len = content_len
            .checked_add(32)
            .ok_or("the record's text length is impossible")?;
        self.check_sealed(item, sealed_len, commitment, how.identity)
            .map(|opened| match opened {
                true => format!("{content_len} bytes of sealed text open and match the signed commitment"),
                false => format!("{content_len} bytes sealed: ciphertext and item key present, of the right sizes (give --identity to check the commitment)"),
            })
    }

    /// A sealed item against what was sealed: `plain_len` bytes whose SHA-256 is `sha256`
    /// (a text's commitment, a media file's digest). Both files must be there and of the
    /// shape and size age gives that length; with `identity`, the item is opened and hashed.
    /// `Ok(true)` when it was opened.
    pub fn check_sealed(
        &self,
        item: Item,
        plain_len: u64,
        sha256: &Hash,
        identity: Option<&age::x25519::Identity>,
    ) -> std::result::Result<bool, String> {
        let what = match item {
            Item::Text(_) => "the sealed text",
            Item::Media(_) => "the sealed media copy",
        };
        let held = self.held(item);
        match (held.ciphertext, held.wrapped_key) {
            (true, true) => {}
            (false, _) => return Err(format!("{what} is missing from the content store")),
            (true, false) => {
                return Err(format!(
                    "{what}'s item key is missing: no one can open it any more (and no erasure record says why)"
                ));
            }
        }
        let (mut file, file_len, wrapped) = self
            .read_sealed(item)
            .map_err(|e| e.to_string())?
            .ok_or_else(|| format!("{what} vanished while it was checked"))?;
        let stanzas = crate::seal::check_shape(&mut file, file_len, plain_len)
            .map_err(|e| format!("{what} is damaged: {e}"))?;
        crate::seal::check_shape(
            &mut wrapped.as_slice(),
            wrapped.len() as u64,
            crate::seal::ITEM_KEY_LEN,
        )
        .map_err(|e| format!("{what}'s item key is damaged: {e}"))?;
        if stanzas != 1 {
            return Err(format!(
                "{what} is encrypted to {stanzas} keys; custody seals each item to its item key alone"
            ));
        }
        let Some(identity) = identity else {
            return Ok(false);
        };
        use std::io::Seek;
        file.rewind().map_err(|e| e.to_string())?;
        let (digest, len) = crate::seal::open_stream(
            &mut file,
            &wrapped,
            identity,
            &mut std::io::sink(),
            &mut |_| {},
        )?;
        if len != plain_len {
            return Err(format!(
                "{what} opens to {len} bytes, but {plain_len} were recorded"
            ));
        }
        if &digest != sha256 {
            return Err(format!(
                "{what} does not match the signed record (it was replaced)"
            ));
        }
        Ok(true)
    }

    fn check_plain(
        &self,
        commitment: &Hash,
        content_len: u64,
    ) -> std::result::Result<String, String> {
        // The commitment is SHA-256(salt || text), which is exactly the content file: it is
        // hashed as a stream, so a planted huge file is never loaded into memory.
        let path = self.content_path(commitment);
        let meta = match std::fs::metadata(&path) {
            Ok(m) => m,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err("the testimony text is missing from the content store".into());
            }
            Err(e) => return Err(format!("{}: {e}", path.display())),
        };
        if Some(meta.len()) != content_len.checked_add(32) {
            return Err(format!(
                "the stored text is {} bytes, the record says {content_len}",
                meta.len().saturating_sub(32)
            ));
        }
        let digest = open_ledger_file(&path, OpenOptions::new().read(true), false)
            .and_then(|mut f| crate::record::sha256_stream(&mut f, |_| {}))
            .map_err(|e| format!("{}: {e}", path.display()))?;
        if &digest.0 != commitment {
            return Err(
                "the stored text does not match the signed commitment (it was altered)".into(),
            );
        }
        Ok(format!(
            "{content_len} bytes of text match the signed commitment"
        ))
    }

    /// Reads a testimony text and its salt, plain or sealed (opened with `identity`):
    /// `None` when neither is held. A text recorded while the ledger sealed (`sealed`) is
    /// read only from its sealed form: a plain file planted beside it is never taken for
    /// it. A sealed text without an identity, or with one that does not open it, is an
    /// input error that names the fix.
    pub fn read_text(
        &self,
        commitment: &Hash,
        expected_len: u64,
        identity: Option<&age::x25519::Identity>,
        sealed: bool,
    ) -> Result<Option<(Vec<u8>, Vec<u8>)>> {
        let item = Item::Text(*commitment);
        // A text recorded before the ledger sealed is read plain when its plain file is
        // there, whatever `.age` file was planted beside it.
        if !sealed && (!self.held(item).ciphertext || self.held(item).plain) {
            return self.read_content(commitment, expected_len);
        }
        let Some((mut file, _, wrapped)) = self.read_sealed(item)? else {
            return Ok(None);
        };
        let identity = identity.ok_or_else(|| {
            Error::Input(
                "this text is sealed; give --identity FILE (a content recipient's identity) to open it"
                    .into(),
            )
        })?;
        let mut plain = zeroize::Zeroizing::new(Vec::new());
        let max = expected_len.saturating_add(32);
        let mut limited = LimitWriter(&mut plain, max);
        crate::seal::open_stream(&mut file, &wrapped, identity, &mut limited, &mut |_| {})
            .map_err(Error::Input)?;
        if plain.len() < 32 {
            return Ok(Some((plain.to_vec(), Vec::new())));
        }
        let text = plain[32..].to_vec();
        Ok(Some((plain[..32].to_vec(), text)))
    }

    /// Reads testimony content: `None` when the file is absent. A file whose size is not
    /// 32 + `expected_len` is returned unread as an empty text, so a huge planted file is
    /// never loaded into memory (its commitment check then fails).
    pub fn read_content(
        &self,
        commitment: &Hash,
        expected_len: u64,
    ) -> Result<Option<(Vec<u8>, Vec<u8>)>> {
        self.store_dir(names::CONTENT, false)?;
        let path = self.content_path(commitment);
        // Opened without following a link; checked and read through the one handle.
        let mut f = match open_ledger_file(&path, OpenOptions::new().read(true), false) {
            Ok(f) => f,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(io(&path)(e)),
        };
        let len = f.metadata().map_err(io(&path))?.len();
        if Some(len) != expected_len.checked_add(32) || len > (64 << 20) {
            return Ok(Some((vec![0; 32], Vec::new())));
        }
        let mut b = Vec::with_capacity(len as usize);
        std::io::Read::read_to_end(&mut f, &mut b).map_err(io(&path))?;
        if b.len() < 32 {
            return Ok(Some((b, Vec::new())));
        }
        let content = b.split_off(32);
        Ok(Some((b, content)))
    }
}

/// How [`Store::check_content`] judges a text.
#[derive(Default)]
pub struct TextCheck<'a> {
    /// A content recipient's identity, to open a sealed text and check its commitment.
    pub identity: Option<&'a age::x25519::Identity>,
    /// The record that erased it, and its reason.
    pub erased: Option<(u64, &'a str)>,
    /// The seal-to record in force when it was recorded: it must not be stored in plain.
    pub sealed_since: Option<u64>,
}

/// Collects at most a bound of bytes: a planted huge ciphertext is never held in memory.
struct LimitWriter<'a>(&'a mut Vec<u8>, u64);

impl Write for LimitWriter<'_> {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        if (self.0.len() + b.len()) as u64 > self.1 {
            return Err(std::io::Error::other(
                "the sealed text is longer than its record says",
            ));
        }
        self.0.extend_from_slice(b);
        Ok(b.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Seals into a writer; returns the wrapped item key and the SHA-256 of what it sealed.
pub type SealInto<'a> = dyn FnMut(&mut dyn Write) -> Result<(Vec<u8>, Hash)> + 'a;

/// A sealed item's name in `content/` and `sealed-keys/`: a text by its commitment, a
/// media copy by its file's SHA-256.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Item {
    /// A testimony text (or an amended text), with its salt.
    Text(Hash),
    /// A copy of a media file.
    Media(Hash),
}

impl Item {
    fn stem(&self) -> String {
        match self {
            Item::Text(c) => hex::encode(c),
            Item::Media(s) => format!("media-{}", hex::encode(s)),
        }
    }
}

/// What the content store holds of an item.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Held {
    /// The plain file (texts only).
    pub plain: bool,
    /// The sealed ciphertext.
    pub ciphertext: bool,
    /// The wrapped item key.
    pub wrapped_key: bool,
}

impl Store {
    /// Path of an item's ciphertext.
    pub fn sealed_path(&self, item: Item) -> PathBuf {
        self.dir
            .join(names::CONTENT)
            .join(format!("{}.age", item.stem()))
    }

    /// Path of an item's wrapped item key.
    pub fn wrapped_key_path(&self, item: Item) -> PathBuf {
        self.dir
            .join(names::SEALED_KEYS)
            .join(format!("{}.age", item.stem()))
    }

    /// What the store holds of an item.
    pub fn held(&self, item: Item) -> Held {
        let exists = |p: PathBuf| p.symlink_metadata().is_ok();
        Held {
            plain: matches!(item, Item::Text(c) if exists(self.content_path(&c))),
            ciphertext: exists(self.sealed_path(item)),
            wrapped_key: exists(self.wrapped_key_path(item)),
        }
    }

    /// A directory of the content store (`content/`, `sealed-keys/`): a real directory of
    /// the ledger, never a link leading out of it (writing or erasing through one would
    /// touch files elsewhere). With `create`, made when absent.
    pub(crate) fn store_dir(&self, name: &str, create: bool) -> Result<PathBuf> {
        let d = self.dir.join(name);
        match d.symlink_metadata() {
            Ok(m) if m.file_type().is_dir() => Ok(d),
            Ok(_) => Err(Error::Damaged(format!(
                "{} is not a directory of the ledger (a symbolic link or a file stands in its place); custody neither reads nor writes through it: remove it, and restore the directory from a backup",
                d.display()
            ))),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound && create => {
                match std::fs::create_dir(&d) {
                    Ok(()) => fsync_dir(&self.dir)?,
                    Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
                    Err(e) => return Err(io(&d)(e)),
                }
                self.store_dir(name, false)
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(d),
            Err(e) => Err(io(&d)(e)),
        }
    }

    fn keys_dir(&self) -> Result<PathBuf> {
        self.store_dir(names::SEALED_KEYS, true)
    }

    /// Both directories of the content store, checked.
    pub(crate) fn check_dirs(&self) -> Result<()> {
        self.store_dir(names::CONTENT, false)?;
        self.store_dir(names::SEALED_KEYS, false)?;
        Ok(())
    }

    /// Writes a sealed item: its wrapped key, then its ciphertext (each created new and
    /// fsync'd, with their directories), before the record that commits to it. On failure
    /// neither is left.
    pub fn write_sealed(&self, item: Item, ciphertext: &[u8], wrapped_key: &[u8]) -> Result<()> {
        self.check_dirs()?;
        let keys = self.keys_dir()?;
        let result = write_new(&self.wrapped_key_path(item), wrapped_key)
            .and_then(|()| {
                crash_point("sealed-key-written");
                write_new(&self.sealed_path(item), ciphertext)
            })
            .and_then(|()| fsync_dir(&keys))
            .and_then(|()| fsync_dir(&self.dir.join(names::CONTENT)));
        if result.is_err() {
            self.remove_sealed(item);
        }
        result
    }

    /// Seals a stream into the store (flat memory): the ciphertext goes to a new file in
    /// `content/` (never plaintext), renamed into place once whole; then the wrapped key.
    /// `seal` writes the ciphertext and returns the wrapped key and the SHA-256 of what it
    /// read, which must be `item`'s. An item already held whole is left as it is.
    pub fn write_sealed_stream(&self, item: Item, seal: &mut SealInto) -> Result<()> {
        self.check_dirs()?;
        let held = self.held(item);
        if held.ciphertext && held.wrapped_key {
            return Ok(());
        }
        let keys = self.keys_dir()?;
        let content = self.dir.join(names::CONTENT);
        let mut tmp = tempfile::Builder::new()
            .prefix(".sealing-")
            .tempfile_in(&content)
            .map_err(io(&content))?;
        let (wrapped, sha) = {
            let mut w = std::io::BufWriter::new(tmp.as_file_mut());
            let out = seal(&mut w)?;
            w.flush().map_err(io(&content))?;
            out
        };
        if Item::Media(sha) != item {
            return Err(Error::Input(
                "the file changed while it was being sealed; add it again".into(),
            ));
        }
        tmp.as_file().sync_all().map_err(io(&content))?;
        self.remove_sealed(item);
        let result = write_new(&self.wrapped_key_path(item), &wrapped).and_then(|()| {
            tmp.persist_noclobber(self.sealed_path(item))
                .map(drop)
                .map_err(|e| io(&content)(e.error))
        });
        let result = result
            .and_then(|()| fsync_dir(&keys))
            .and_then(|()| fsync_dir(&content));
        if result.is_err() {
            self.remove_sealed(item);
        }
        result
    }

    /// Removes both files of a sealed item written for an append that then failed.
    pub fn remove_sealed(&self, item: Item) {
        let _ = std::fs::remove_file(self.sealed_path(item));
        let _ = std::fs::remove_file(self.wrapped_key_path(item));
    }

    /// An item's ciphertext and wrapped key, when both are held; each must be a regular
    /// file. The wrapped key is small and read whole; the ciphertext is opened.
    pub fn read_sealed(&self, item: Item) -> Result<Option<(File, u64, Vec<u8>)>> {
        self.check_dirs()?;
        let key_path = self.wrapped_key_path(item);
        let Some(wrapped) = read_small_file(&key_path, 64 * 1024)? else {
            return Ok(None);
        };
        let path = self.sealed_path(item);
        match open_ledger_file(&path, OpenOptions::new().read(true), false) {
            Ok(f) => {
                let len = f.metadata().map_err(io(&path))?.len();
                Ok(Some((f, len, wrapped)))
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(io(&path)(e)),
        }
    }

    /// Erasure: destroys an item's wrapped key and any plain file, overwriting each with
    /// zeros and syncing before it is unlinked (the ciphertext stays, and no one can open
    /// it any more). Returns what was destroyed.
    pub fn destroy(&self, item: Item) -> Result<Vec<PathBuf>> {
        self.check_dirs()?;
        let mut paths = vec![self.wrapped_key_path(item)];
        if let Item::Text(c) = item {
            paths.push(self.content_path(&c));
        }
        let mut gone = Vec::new();
        for p in paths {
            match p.symlink_metadata() {
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
                Err(e) => return Err(io(&p)(e)),
                // A link (or anything but a file) planted in its place: the link itself is
                // removed, and nothing it points to is touched.
                Ok(m) if !m.file_type().is_file() => {
                    std::fs::remove_file(&p).map_err(io(&p))?;
                    fsync_dir(p.parent().unwrap_or(&self.dir))?;
                    gone.push(p);
                    continue;
                }
                Ok(_) => {}
            }
            // One name only: overwriting a file that has another name (a hard link) would
            // destroy whatever that is, and the key would survive there.
            let f = match open_ledger_file(&p, OpenOptions::new().write(true), true) {
                Ok(f) => f,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
                Err(e) => return Err(io(&p)(e)),
            };
            let len = f.metadata().map_err(io(&p))?.len();
            let mut w = std::io::BufWriter::new(&f);
            std::io::copy(&mut std::io::Read::take(std::io::repeat(0), len), &mut w)
                .and_then(|_| w.flush())
                .map_err(io(&p))?;
            drop(w);
            f.sync_all().map_err(io(&p))?;
            drop(f);
            std::fs::remove_file(&p).map_err(io(&p))?;
            fsync_dir(p.parent().unwrap_or(&self.dir))?;
            gone.push(p);
        }
        Ok(gone)
    }
}

/// Creates `path` (never an existing file) holding `bytes`, fsync'd.
fn write_new(path: &Path, bytes: &[u8]) -> Result<()> {
    let mut f = OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(path)
        .map_err(io(path))?;
    if let Err(e) = f.write_all(bytes).and_then(|()| f.sync_all()) {
        drop(f);
        let _ = std::fs::remove_file(path);
        return Err(io(path)(e));
    }
    Ok(())
}
