//! The content store: each testimony text with its salt, one file per commitment.

use super::*;

impl Store {
    /// Path of a content file.
    pub fn content_path(&self, commitment: &Hash) -> PathBuf {
        self.dir.join(names::CONTENT).join(hex::encode(commitment))
    }

    /// Writes testimony content and its salt, fsync'd, before the record that commits to it.
    pub fn write_content(&self, commitment: &Hash, salt: &[u8; 32], content: &[u8]) -> Result<()> {
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

    /// A testimony text against its signed commitment and length: a description of what
    /// matched, or of what is wrong.
    pub fn check_content(
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

    /// Reads testimony content: `None` when the file is absent. A file whose size is not
    /// 32 + `expected_len` is returned unread as an empty text, so a huge planted file is
    /// never loaded into memory (its commitment check then fails).
    pub fn read_content(
        &self,
        commitment: &Hash,
        expected_len: u64,
    ) -> Result<Option<(Vec<u8>, Vec<u8>)>> {
        let path = self.content_path(commitment);
        match std::fs::metadata(&path) {
            Ok(m) if Some(m.len()) != expected_len.checked_add(32) || m.len() > (64 << 20) => {
                return Ok(Some((vec![0; 32], Vec::new())));
            }
            Ok(_) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(io(&path)(e)),
        }
        match std::fs::read(&path) {
            Ok(mut b) => {
                if b.len() < 32 {
                    return Ok(Some((b, Vec::new())));
                }
                let content = b.split_off(32);
                Ok(Some((b, content)))
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(io(&path)(e)),
        }
    }
}
