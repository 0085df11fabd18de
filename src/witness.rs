//! A witness (c2sp.org/tlog-witness): an independent party that cosigns a ledger's
//! checkpoint only if it is consistent with every checkpoint of that ledger it cosigned
//! before, so that whoever holds the ledger key cannot show two histories. Cosignatures
//! are `cosignature/v1` (c2sp.org/tlog-cosignature, see [`crate::note::cosign`]).
//!
//! A witness is a directory: `witness.key` and `witness.pub` (its Ed25519 key, PKCS#8,
//! the secret 0600), `name` (its key name), `logs/` (the ledgers it witnesses: origin and
//! the ledger key), `state/` (per ledger, the latest checkpoint it cosigned, replaced
//! atomically and fsync'd before any cosignature leaves), `evidence/` (requests that
//! prove a ledger inconsistent: a split view, kept whole) and `lock` (held while a
//! request is judged and its state written, so that two requests cannot both pass the
//! same old size).

use crate::checkpoint::{Checkpoint, CheckpointError, open_checkpoint};
use crate::error::{Error, Result, io};
use crate::keys;
use crate::merkle;
use crate::note::{self, NoteError};
use crate::store::write_durably as replace_file;
use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use ed25519_dalek::SigningKey;
use sha2::{Digest, Sha256};
use std::fs::{File, OpenOptions};
use std::path::{Path, PathBuf};

/// The largest request body accepted: a note of at most [`note::MAX_NOTE`] bytes, 63
/// proof lines and the old size line.
pub const MAX_REQUEST: usize = note::MAX_NOTE + 64 * 46;
/// Most consistency proof lines a request may carry (the spec's limit).
pub const MAX_PROOF_LINES: usize = 63;

/// What a witness answers: an HTTP status, its content type and body. Status 200 carries
/// the cosignature line; the others say why nothing was cosigned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    /// The HTTP status the spec gives this outcome.
    pub status: u16,
    /// Its content type.
    pub content_type: &'static str,
    /// Its body.
    pub body: String,
}

impl Reply {
    /// A plain-text reply with this status.
    pub fn text(status: u16, body: impl Into<String>) -> Self {
        let mut body = body.into();
        if !body.ends_with('\n') {
            body.push('\n');
        }
        Reply {
            status,
            content_type: "text/plain; charset=utf-8",
            body,
        }
    }

    /// Whether the checkpoint was cosigned.
    pub fn cosigned(&self) -> bool {
        self.status == 200
    }
}

/// An open witness directory.
pub struct Witness {
    dir: PathBuf,
    name: String,
    key: SigningKey,
}

fn origin_file(origin: &str) -> String {
    hex::encode(&Sha256::digest(origin.as_bytes())[..16])
}

/// Reads a small file of the witness directory: not through a link, not a FIFO or
/// device, at most 64 KiB; `None` when there is none.
fn read_small(path: &Path) -> Result<Option<String>> {
    let Some(bytes) = crate::store::read_small_file(path, note::MAX_NOTE)? else {
        return Ok(None);
    };
    if bytes.len() > note::MAX_NOTE {
        return Err(Error::Damaged(format!(
            "{} is larger than a witness keeps",
            path.display()
        )));
    }
    String::from_utf8(bytes)
        .map(Some)
        .map_err(|_| Error::Damaged(format!("{} is not UTF-8", path.display())))
}

impl Witness {
    /// Creates a witness in `dir` (new or empty) named `name`; returns it.
    pub fn init(dir: &Path, name: &str) -> Result<Self> {
        if name.is_empty() || name.chars().any(|c| c.is_whitespace() || c == '+') {
            return Err(Error::Input(format!(
                "the witness name '{name}' is empty or has spaces or '+'; use a schema-less URL such as witness.example.org/w1"
            )));
        }
        crate::store::new_empty_dir(dir)?;
        for sub in ["logs", "state", "evidence"] {
            std::fs::create_dir(dir.join(sub)).map_err(io(dir.join(sub)))?;
        }
        keys::generate_pair(dir, "witness", None)?;
        replace_file(&dir.join("name"), format!("{name}\n").as_bytes())?;
        Self::open(dir)
    }

    /// Opens a witness directory.
    pub fn open(dir: &Path) -> Result<Self> {
        let name_path = dir.join("name");
        let name = std::fs::read_to_string(&name_path)
            .map_err(|_| {
                Error::Input(format!(
                    "{} is not a witness directory (no name file); create one with `custody witness init`",
                    dir.display()
                ))
            })?
            .trim()
            .to_owned();
        let key = keys::load_secret(&dir.join("witness.key"))?;
        let w = Witness {
            dir: dir.to_owned(),
            name,
            key,
        };
        // A witness killed while it wrote its state leaves the new file (.new-*) beside the old one,
        // never renamed into place: the old state holds, and the leftover goes (under the
        // lock, which every writer holds while it writes).
        let _lock = w.lock()?;
        for sub in ["state", "logs"] {
            if let Ok(entries) = std::fs::read_dir(dir.join(sub)) {
                for e in entries.flatten() {
                    if e.file_name().to_string_lossy().starts_with('.') {
                        let _ = std::fs::remove_file(e.path());
                    }
                }
            }
        }
        drop(_lock);
        Ok(w)
    }

    /// The witness's key name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The verifier key `NAME+KEYID+BASE64` (type 0x04) that ledgers and verifiers take.
    pub fn verifier_key(&self) -> String {
        note::typed_verifier_key(
            &self.name,
            note::TYPE_COSIGNATURE_V1,
            &self.key.verifying_key().to_bytes(),
        )
    }

    /// Starts witnessing the ledger of `origin`, whose checkpoints `ledger_key` signs.
    pub fn add_log(&self, origin: &str, ledger_key: &[u8; 32]) -> Result<()> {
        if origin.is_empty() || origin.chars().any(|c| c.is_whitespace() || c == '+') {
            return Err(Error::Input(format!(
                "the origin '{origin}' is empty or has spaces or '+'"
            )));
        }
        let path = self.dir.join("logs").join(origin_file(origin));
        let vkey = note::verifier_key(origin, ledger_key);
        let _lock = self.lock()?;
        replace_file(&path, format!("origin {origin}\nkey {vkey}\n").as_bytes())
    }

    /// The ledger key of `origin`, if this witness witnesses it. The file must be exactly
    /// what `add_log` writes.
    fn log_key(&self, origin: &str) -> Result<Option<[u8; 32]>> {
        let path = self.dir.join("logs").join(origin_file(origin));
        let Some(text) = read_small(&path)? else {
            return Ok(None);
        };
        let damaged =
            || Error::Damaged(format!("{} is not a witnessed log's file", path.display()));
        let mut lines = text.strip_suffix('\n').ok_or_else(damaged)?.split('\n');
        let (Some(o), Some(k), None) = (lines.next(), lines.next(), lines.next()) else {
            return Err(damaged());
        };
        let (Some(o), Some(vkey)) = (o.strip_prefix("origin "), k.strip_prefix("key ")) else {
            return Err(damaged());
        };
        let (name, kind, key) = note::parse_verifier_key(vkey).map_err(|_| damaged())?;
        if kind != note::TYPE_ED25519 || name != o {
            return Err(damaged());
        }
        Ok((o == origin).then_some(key))
    }

    /// The latest checkpoint this witness cosigned for `origin`: (size, root, its text).
    fn state(&self, origin: &str, key: &[u8; 32]) -> Result<(u64, Option<crate::Hash>, String)> {
        let path = self.dir.join("state").join(origin_file(origin));
        match read_small(&path)? {
            Some(signed) => {
                let cp = open_checkpoint(&signed, origin, key).map_err(|e| {
                    Error::Damaged(format!(
                        "the witness's state {} does not hold a checkpoint of {origin}: {e}",
                        path.display()
                    ))
                })?;
                Ok((cp.size, Some(cp.root), signed))
            }
            None => Ok((0, None, String::new())),
        }
    }

    /// Keeps a checkpoint signed by the ledger key that contradicts the one cosigned at the
    /// same size: a split view. One file per such checkpoint (named by its hash), so that
    /// resending it fills no disk; only the ledger key's holder can make another.
    fn keep_evidence(&self, checkpoint: &str, cosigned: &str, why: &str) -> Result<PathBuf> {
        let digest = hex::encode(&Sha256::digest(checkpoint.as_bytes())[..16]);
        let path = self
            .dir
            .join("evidence")
            .join(format!("split-{digest}.txt"));
        let text = format!(
            "{why}\n\nthe checkpoint cosigned:\n{cosigned}\nthe checkpoint refused:\n{checkpoint}"
        );
        replace_file(&path, text.as_bytes())?;
        Ok(path)
    }

    /// Judges an `add-checkpoint` request (c2sp.org/tlog-witness): cosigns its checkpoint
    /// at `now_s` if it is signed by a ledger this witness witnesses and consistent with
    /// the latest checkpoint it cosigned for that ledger, whose size the request must name
    /// as its old size. The new state is durable before the cosignature is returned.
    pub fn add_checkpoint(&self, request: &[u8], now_s: u64) -> Result<Reply> {
        let req = match parse_request(request) {
            Ok(r) => r,
            Err(why) => return Ok(Reply::text(400, why)),
        };
        let Some(origin) = req.note.split('\n').next().filter(|o| !o.is_empty()) else {
            return Ok(Reply::text(400, "the checkpoint has no origin line"));
        };
        let Some(log_key) = self.log_key(origin)? else {
            return Ok(Reply::text(
                404,
                format!("this witness does not witness the log {origin}"),
            ));
        };
        let cp = match open_checkpoint(&req.note, origin, &log_key) {
            Ok(cp) => cp,
            Err(CheckpointError::Note(
                NoteError::NotSigned { .. } | NoteError::BadSignature { .. },
            )) => {
                return Ok(Reply::text(
                    403,
                    format!(
                        "the checkpoint is not signed by the key of {origin} this witness knows"
                    ),
                ));
            }
            Err(e) => return Ok(Reply::text(400, format!("the checkpoint: {e}"))),
        };
        if req.old > cp.size {
            return Ok(Reply::text(
                400,
                format!(
                    "old size {} is above the checkpoint's size {}",
                    req.old, cp.size
                ),
            ));
        }
        if cp.size == 0 {
            return Ok(Reply::text(
                400,
                "a checkpoint of an empty ledger has nothing to witness",
            ));
        }
        let _lock = self.lock()?;
        let (known, known_root, cosigned) = self.state(origin, &log_key)?;
        if req.old != known {
            return Ok(Reply {
                status: 409,
                content_type: "text/x.tlog.size",
                body: format!("{known}\n"),
            });
        }
        match known_root {
            None if !req.proof.is_empty() => {
                return Ok(Reply::text(
                    422,
                    "a request from old size 0 carries no consistency proof",
                ));
            }
            None => {}
            Some(_) if known == cp.size && !req.proof.is_empty() => {
                return Ok(Reply::text(
                    400,
                    "a request whose old size is the checkpoint's carries no consistency proof",
                ));
            }
            Some(old_root) if known == cp.size && old_root != cp.root => {
                // Signed by the ledger key (checked above): a split view, kept as evidence.
                let why = format!(
                    "split view: the ledger key signed a checkpoint of {origin} at size {known} with another root than the one this witness cosigned"
                );
                let kept = self.keep_evidence(&req.note, &cosigned, &why)?;
                return Ok(Reply::text(
                    409,
                    format!("{why}; kept as evidence in {}", kept.display()),
                ));
            }
            Some(old_root) => {
                if let Err(e) = merkle::verify_consistency_proof(
                    known, cp.size, &req.proof, &old_root, &cp.root,
                ) {
                    // Anyone can send a public checkpoint with a wrong proof: that proves
                    // nothing about the ledger, and nothing is kept.
                    return Ok(Reply::text(
                        422,
                        format!(
                            "the consistency proof from size {known} to {} does not verify: {e}",
                            cp.size
                        ),
                    ));
                }
            }
        }
        // Durable before any cosignature leaves.
        let state = self.dir.join("state").join(origin_file(origin));
        replace_file(&state, req.note.as_bytes())?;
        let line = note::cosign(&cp.body(), &self.name, &self.key, now_s)
            .map_err(|e| Error::Input(format!("cosigning: {e}")))?;
        Ok(Reply::text(200, line))
    }

    fn lock(&self) -> Result<File> {
        let path = self.dir.join("lock");
        let f = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .map_err(io(&path))?;
        f.lock().map_err(io(&path))?;
        Ok(f)
    }
}

/// An `add-checkpoint` request body, parsed.
#[derive(Debug)]
struct Request {
    old: u64,
    proof: Vec<crate::Hash>,
    note: String,
}

fn parse_request(body: &[u8]) -> std::result::Result<Request, String> {
    if body.len() > MAX_REQUEST {
        return Err(format!(
            "the request is {} bytes, more than {MAX_REQUEST}",
            body.len()
        ));
    }
    let text = std::str::from_utf8(body).map_err(|_| "the request is not UTF-8".to_string())?;
    if let Some(c) = text.chars().find(|&c| c.is_control() && c != '\n') {
        return Err(format!(
            "the request holds the control character U+{:04X}",
            c as u32
        ));
    }
    let (first, mut rest) = text
        .split_once('\n')
        .ok_or_else(|| "the request has no old size line".to_string())?;
    let old = first
        .strip_prefix("old ")
        .filter(|d| {
            !d.is_empty()
                && d.bytes().all(|b| b.is_ascii_digit())
                && (d == &"0" || !d.starts_with('0'))
        })
        .and_then(|d| d.parse::<u64>().ok())
        .ok_or_else(|| format!("the first line is not 'old SIZE': {first:?}"))?;
    let mut proof = Vec::new();
    loop {
        let (line, tail) = rest
            .split_once('\n')
            .ok_or_else(|| "the request has no empty line before the checkpoint".to_string())?;
        rest = tail;
        if line.is_empty() {
            break;
        }
        if proof.len() == MAX_PROOF_LINES {
            return Err(format!(
                "more than {MAX_PROOF_LINES} consistency proof lines"
            ));
        }
        let hash: crate::Hash = B64
            .decode(line)
            .ok()
            .and_then(|h| h.try_into().ok())
            .ok_or_else(|| {
                format!(
                    "proof line {} is not a base64 SHA-256 hash",
                    proof.len() + 1
                )
            })?;
        proof.push(hash);
    }
    Ok(Request {
        old,
        proof,
        note: rest.to_owned(),
    })
}

/// The `add-checkpoint` request body for `checkpoint` (a signed note) from a witness that
/// last cosigned size `old`, with the consistency proof from `old` to it.
pub fn request_body(old: u64, proof: &[crate::Hash], checkpoint: &str) -> String {
    let mut body = format!("old {old}\n");
    for h in proof {
        body.push_str(&B64.encode(h));
        body.push('\n');
    }
    body.push('\n');
    body.push_str(checkpoint);
    body
}

/// What a witness answered over HTTP: status, content type and body (at most 64 KiB).
pub fn ask(url: &str, body: &str, timeout: std::time::Duration) -> Result<Reply> {
    let url = if url.ends_with("/add-checkpoint") {
        url.to_owned()
    } else {
        format!("{}/add-checkpoint", url.trim_end_matches('/'))
    };
    let answer = crate::http::post(
        &url,
        "text/plain; charset=utf-8",
        body.as_bytes(),
        timeout,
        64 * 1024,
    )?;
    let content_type = match answer.content_type.as_deref() {
        Some(t) if t.starts_with("text/x.tlog.size") => "text/x.tlog.size",
        _ => "text/plain; charset=utf-8",
    };
    let body = String::from_utf8(answer.body)
        .map_err(|_| Error::Unreachable(format!("{url}: the answer is not UTF-8")))?;
    Ok(Reply {
        status: answer.status,
        content_type,
        body,
    })
}

/// One cosignature line (with its newline) after the signed checkpoint `signed`: its
/// witness's name and time, when it is under the name of `vkey` (a type 0x04 key) and
/// verifies by it over `cp`.
pub fn verify_line(
    signed: &str,
    line: &str,
    vkey: &str,
    cp: &Checkpoint,
) -> std::result::Result<(String, u64), String> {
    let (name, kind, _) = note::parse_verifier_key(vkey).map_err(|e| e.to_string())?;
    if kind != note::TYPE_COSIGNATURE_V1 {
        return Err(format!("{vkey} is not a witness's key (type 0x04)"));
    }
    if !line.starts_with(&format!("\u{2014} {name} ")) {
        return Err(format!("the line is not signed by the name {name}"));
    }
    let time =
        verify_cosignature(&format!("{signed}{line}"), vkey, cp).map_err(|e| e.to_string())?;
    Ok((name, time))
}

/// Verifies the cosignatures of a witness (`vkey`, type 0x04) on a cosigned checkpoint of
/// the ledger `cp`: the time it cosigned.
pub fn verify_cosignature(signed: &str, vkey: &str, cp: &Checkpoint) -> Result<u64> {
    let (name, kind, key) =
        note::parse_verifier_key(vkey).map_err(|e| Error::Input(e.to_string()))?;
    if kind != note::TYPE_COSIGNATURE_V1 {
        return Err(Error::Input(format!(
            "{vkey} is not a witness's key (type 0x04)"
        )));
    }
    let (text, time) =
        note::open_cosignature(signed, &name, &key).map_err(|e| Error::Failing(e.to_string()))?;
    if text != cp.body() {
        return Err(Error::Failing(
            "the cosigned text is not the checkpoint's".into(),
        ));
    }
    Ok(time)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::merkle::empty_root;

    #[test]
    fn requests_parse_strictly() {
        let cp = "o.example/l\n1\nAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n\n\u{2014} o x\n";
        let ok = request_body(0, &[], cp);
        let r = parse_request(ok.as_bytes()).unwrap();
        assert_eq!((r.old, r.proof.len(), r.note.as_str()), (0, 0, cp));
        let with_proof = request_body(3, &[[1; 32], [2; 32]], cp);
        let r = parse_request(with_proof.as_bytes()).unwrap();
        assert_eq!(r.proof, vec![[1; 32], [2; 32]]);
        for bad in [
            "".to_string(),
            "old 01\n\nx".into(),
            "old -1\n\nx".into(),
            "old 1\nnot base64\n\nx".into(),
            "old 1\nAAAA\n\nx".into(),
            "old 1\nx".into(),
            format!(
                "old 1\n{}\n{cp}",
                "AQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQE=\n".repeat(64)
            ),
        ] {
            assert!(parse_request(bad.as_bytes()).is_err(), "{bad:?}");
        }
        assert!(parse_request(&vec![b'a'; MAX_REQUEST + 1]).is_err());
        let _ = empty_root();
    }
}
