//! Small helpers shared by the commands: opening the ledger, the clock, JSON output,
//! progress bars that draw only on a terminal.

use super::LedgerArgs;
use anyhow::{Context, bail};
use custody::ledger::{Access, Ledger};
use custody::ledger::{LockHolder, LockWait};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::io::{IsTerminal, Read, Write};
use std::path::Path;
use std::process::ExitCode;

/// Opens the ledger named by the arguments, for reading (nothing on disk changes).
pub fn open(args: &LedgerArgs) -> anyhow::Result<Ledger> {
    open_with(args, Access::Read)
}

/// Opens the ledger for a command that changes it; an interrupted append is completed.
pub fn open_write(args: &LedgerArgs) -> anyhow::Result<Ledger> {
    open_with(args, Access::Write)
}

fn open_with(args: &LedgerArgs, access: Access) -> anyhow::Result<Ledger> {
    waiting(args, access, |wait| {
        Ledger::open(&args.ledger, wait, access)
    })
}

/// Runs `open` without waiting for the ledger lock; when the ledger is in use and
/// `--wait` was given, says what it waits for and runs it again, waiting.
pub fn waiting<T>(
    args: &LedgerArgs,
    access: Access,
    mut open: impl FnMut(LockWait) -> custody::error::Result<T>,
) -> anyhow::Result<T> {
    match open(LockWait::No) {
        Err(custody::error::Error::InUse { .. }) if args.wait => {
            eprintln!(
                "custody: waiting for {}: {} (Ctrl-C stops waiting)",
                shown(&args.ledger),
                waiting_for(&args.ledger, access)
            );
            Ok(open(LockWait::Yes)?)
        }
        r => Ok(r?),
    }
}

/// What a process that cannot take the ledger lock is waiting for, in words.
fn waiting_for(dir: &Path, access: Access) -> String {
    match custody::ledger::lock_holder(dir) {
        LockHolder::Readers if access == Access::Write => {
            "other processes are reading it (audits, exports); a change waits until they finish"
                .into()
        }
        LockHolder::Readers => "another process holds it".into(),
        LockHolder::Writer { pid, since_ms } => {
            let mut s = String::from("another process is changing it");
            if let Some(pid) = pid {
                s.push_str(&format!(" (process {pid}"));
                if let Some(t) = since_ms {
                    s.push_str(&format!(", since {}", custody::record::rfc3339(t)));
                }
                s.push(')');
            }
            s
        }
    }
}

/// Now, in unix milliseconds.
pub fn now_ms() -> u64 {
    custody::unix_ms()
}

/// The largest text custody reads from a user's file or standard input (a testimony, a
/// corrected text): what a bundle can carry as one member.
pub const MAX_TEXT: u64 = custody::bundle::MAX_MEMBER;

/// Opens a user's file for reading without ever blocking: a FIFO, a device or a socket is
/// refused (opened with O_NONBLOCK, then checked through the handle), as `add media` does.
pub fn open_regular(path: &Path, what: &str) -> anyhow::Result<std::fs::File> {
    let mut opts = std::fs::OpenOptions::new();
    opts.read(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.custom_flags(libc::O_NONBLOCK);
    }
    let f = opts
        .open(path)
        .with_context(|| format!("cannot read {}", path.display()))?;
    let meta = f
        .metadata()
        .with_context(|| format!("cannot read {}", path.display()))?;
    if !meta.is_file() {
        bail!(
            "{} is not a regular file (a pipe, device or directory); give the path of the {what}",
            path.display()
        );
    }
    Ok(f)
}

/// Reads at most `max` bytes from `r`; more is refused promptly, in bounded memory.
pub fn read_bounded(mut r: impl Read, max: u64, what: &str) -> anyhow::Result<Vec<u8>> {
    let mut b = Vec::new();
    r.by_ref()
        .take(max + 1)
        .read_to_end(&mut b)
        .with_context(|| format!("cannot read the {what}"))?;
    if b.len() as u64 > max {
        bail!(
            "the {what} is longer than {} MiB, the most custody reads; split it, or keep it as a media file",
            max >> 20
        );
    }
    Ok(b)
}

/// A witness policy file (Sigsum policy format, SPEC.md section 13), read and parsed.
pub fn read_policy(path: &Path) -> anyhow::Result<custody::policy::Policy> {
    let bytes = read_text_file(path, "policy file")?;
    let text = String::from_utf8(bytes)
        .map_err(|_| anyhow::anyhow!("{}: the policy file is not UTF-8", path.display()))?;
    custody::policy::Policy::parse(&text).map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))
}

/// The certificates (PEM) a time-stamp authority's tokens must lead to (`--tsa-cert`).
pub fn read_tsa_certs(path: &Path) -> anyhow::Result<Vec<x509_cert::Certificate>> {
    let pem = read_bounded(open_regular(path, "certificate")?, 1 << 20, "certificate")
        .with_context(|| path.display().to_string())?;
    custody::timestamp::certificates_from_pem(&pem)
        .map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))
}

/// The check that the ledger's latest valid checkpoint meets a witness policy.
pub fn policy_check(
    ledger: &custody::ledger::Ledger,
    policy: &custody::policy::Policy,
) -> anyhow::Result<custody::ledger::Check> {
    Ok(custody::ledger::Check::new(
        "witness quorum",
        custody::rules::Code::WitnessQuorum,
        ledger.check_policy(policy)?.map(|names| {
            if names.is_empty() {
                "the policy asks for no cosignature".to_owned()
            } else {
                format!("the latest checkpoint is cosigned by {}", names.join(", "))
            }
        }),
    ))
}

/// A user's text file, bounded and never blocking.
pub fn read_text_file(path: &Path, what: &str) -> anyhow::Result<Vec<u8>> {
    read_bounded(open_regular(path, what)?, MAX_TEXT, what)
        .with_context(|| path.display().to_string())
}

/// An RFC 3339 time as people write it, with `Z` or an offset (`+02:00`): unix ms. A time
/// without a zone is refused (whose clock would it be?), and so is a leap second, which
/// unix time cannot hold.
pub fn parse_time(s: &str, what: &str) -> anyhow::Result<u64> {
    let example = "2026-11-26T10:00:00Z, or with an offset 2026-11-26T12:00:00+02:00";
    let b = s.as_bytes();
    let (base, offset_min): (&str, i64) = if let Some(base) =
        s.strip_suffix('Z').or_else(|| s.strip_suffix('z'))
    {
        (base, 0)
    } else if b.len() > 6 && matches!(b[b.len() - 6], b'+' | b'-') && b[b.len() - 3] == b':' {
        let (base, off) = s.split_at(s.len() - 6);
        let h: i64 = off[1..3].parse().unwrap_or(99);
        let m: i64 = off[4..6].parse().unwrap_or(99);
        if h > 23 || m > 59 {
            bail!(
                "{what} '{s}': the offset {off} is not a valid time zone offset; write {example}"
            );
        }
        (
            base,
            if off.starts_with('-') { -1 } else { 1 } * (h * 60 + m),
        )
    } else {
        bail!("{what} '{s}' has no time zone, so it could be any of 24 hours; write {example}");
    };
    if base.get(17..19) == Some("60") {
        bail!(
            "{what} '{s}' is a leap second, which unix time cannot hold; give the second before or after it"
        );
    }
    let t = humantime::parse_rfc3339(&format!("{base}Z"))
        .map_err(|e| anyhow::anyhow!("{what} '{s}': {e}; write {example}"))?;
    let utc = t
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i128)
        .unwrap_or(-1)
        - i128::from(offset_min) * 60_000;
    u64::try_from(utc)
        .ok()
        .filter(|_| t >= std::time::UNIX_EPOCH)
        .ok_or_else(|| anyhow::anyhow!("{what} '{s}' is before 1970, which custody cannot record"))
}

/// A path as the terminal may show it: control and bidirectional characters escaped.
pub fn shown(p: &Path) -> String {
    custody::encoding::terminal_safe(&p.display().to_string(), false).into_owned()
}

/// One check as a line for people: a failure names its rule's code, which SPEC.md's table
/// explains.
pub fn check_line(c: &custody::ledger::Check) -> String {
    // Names and details can quote a bundle's member names and manifest fields.
    let safe = |s: &str| custody::encoding::terminal_safe(s, false).into_owned();
    let (name, detail) = (safe(&c.name), safe(&c.detail));
    if c.passed {
        format!("[ok] {name}: {detail}")
    } else if c.pending {
        format!("[pending] {name}: {detail}")
    } else {
        format!("[FAILED] {name} [{}]: {detail}", c.code)
    }
}

/// Prints a value as pretty JSON on stdout.
pub fn print_json<T: serde::Serialize>(v: &T) -> anyhow::Result<()> {
    let mut out = std::io::stdout().lock();
    serde_json::to_writer_pretty(&mut out, v)?;
    writeln!(out)?;
    Ok(())
}

/// 0 when `ok`, else 1.
pub fn verdict(ok: bool) -> ExitCode {
    if ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    }
}

/// A progress bar on stderr, hidden unless stderr is a terminal and output is for people.
pub fn progress(len: u64, unit_bytes: bool, json: bool) -> ProgressBar {
    if json || !std::io::stderr().is_terminal() {
        return ProgressBar::hidden();
    }
    let pb = ProgressBar::with_draw_target(Some(len), ProgressDrawTarget::stderr());
    let template = if unit_bytes {
        "{spinner} {msg} [{bar:30}] {bytes}/{total_bytes} ({bytes_per_sec}, {eta})"
    } else {
        "{spinner} {msg} [{bar:30}] {pos}/{len} ({per_sec}, {eta})"
    };
    if let Ok(style) = ProgressStyle::with_template(template) {
        pb.set_style(style.progress_chars("=> "));
    }
    pb
}

/// A signing key and how to unlock it, shared by every command that signs.
#[derive(clap::Args, Clone)]
pub struct KeyArgs {
    /// The signer's secret key file.
    #[arg(long, value_name = "KEY")]
    pub key: std::path::PathBuf,
    /// A file whose first line is the key's passphrase (protected keys); without it, a
    /// protected key's passphrase is asked on the terminal.
    #[arg(long, value_name = "FILE")]
    pub passphrase_file: Option<std::path::PathBuf>,
}

impl KeyArgs {
    /// Loads the key, asking for its passphrase only if it is protected.
    pub fn load(&self) -> anyhow::Result<ed25519_dalek::SigningKey> {
        let path = self.key.clone();
        let file = self.passphrase_file.clone();
        Ok(custody::keys::load_secret_with(&self.key, || {
            read_passphrase(
                file.as_deref(),
                &format!("Passphrase for {}: ", path.display()),
                &path,
            )
        })?)
    }
}

/// A content recipient's identity, to open sealed texts and media copies.
#[derive(clap::Args, Clone)]
pub struct IdentityArgs {
    /// A content recipient's identity file (`custody key generate-recipient`, or
    /// `age-keygen`), which opens sealed texts and media copies.
    #[arg(long, value_name = "FILE")]
    pub identity: Option<std::path::PathBuf>,
    /// A file whose first line is the identity's passphrase (a protected identity); without
    /// it, the passphrase is asked on the terminal.
    #[arg(long, value_name = "FILE", requires = "identity")]
    pub identity_passphrase_file: Option<std::path::PathBuf>,
}

impl IdentityArgs {
    /// Loads the identity when one is given, asking for its passphrase only if protected.
    pub fn load(&self) -> anyhow::Result<Option<age::x25519::Identity>> {
        let Some(path) = &self.identity else {
            return Ok(None);
        };
        let pass = if custody::seal::identity_is_protected(path)? {
            Some(read_passphrase(
                self.identity_passphrase_file.as_deref(),
                &format!("Passphrase for {}: ", path.display()),
                path,
            )?)
        } else {
            None
        };
        Ok(Some(custody::seal::load_identity(
            path,
            pass.as_deref().map(|p| p.as_slice()),
        )?))
    }
}

/// Content recipients as given on the command line: `age1…` strings, or files holding them
/// (a `NAME.recipient` file; blank lines and `#` comments are skipped).
pub fn read_recipients(given: &[String]) -> anyhow::Result<Vec<[u8; 32]>> {
    let mut out = Vec::new();
    for g in given {
        // An identity given by mistake is refused without being printed.
        if g.trim().starts_with("age1") || g.to_ascii_uppercase().contains("AGE-SECRET-KEY-") {
            out.push(custody::seal::recipient_bytes(g)?);
            continue;
        }
        if g.contains('\n') || g.len() > 4096 {
            anyhow::bail!(
                "a recipient is an age1… key or the path of a NAME.recipient file; what was given is neither (it is not repeated here)"
            );
        }
        let path = std::path::Path::new(g);
        // A recipient file is a line or a few: 64 KiB is more than 16 recipients need.
        let bytes = read_bounded(
            open_regular(path, "recipient file")?,
            64 * 1024,
            "recipient file",
        )
        .with_context(|| path.display().to_string())?;
        if bytes.starts_with(b"age-encryption.org/") {
            anyhow::bail!(
                "{g} is a protected identity (a secret key), not a recipient: give NAME.recipient"
            );
        }
        let text = String::from_utf8(bytes)
            .map_err(|_| anyhow::anyhow!("{g}: a recipient file is text (age1… lines)"))?;
        let mut found = 0;
        for line in text
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty() && !l.starts_with('#'))
        {
            out.push(custody::seal::recipient_bytes(line)?);
            found += 1;
        }
        if found == 0 {
            anyhow::bail!(
                "{g} holds no age1… recipient; give a recipient or a NAME.recipient file"
            );
        }
    }
    Ok(out)
}

/// A passphrase from a file (its first line) or, on a terminal, typed without echo.
pub fn read_passphrase(
    file: Option<&std::path::Path>,
    prompt: &str,
    key: &std::path::Path,
) -> Result<zeroize::Zeroizing<Vec<u8>>, custody::keys::KeyError> {
    use custody::keys::KeyError;
    let io = |path: &std::path::Path| {
        let path = path.to_owned();
        move |cause| KeyError::Io { path, cause }
    };
    let text = match file {
        Some(f) => {
            // A passphrase file is a line of text: refuse anything large, and (like a
            // secret key) a regular file that group or others can access. Pipes, such as
            // `--passphrase-file <(pass show case-1)`, are not regular files. The checks
            // and the read use one open handle.
            let file = std::fs::File::open(f).map_err(io(f))?;
            let meta = file.metadata().map_err(io(f))?;
            let mode = custody::keys::permission_bits(&meta);
            if meta.is_file() && mode & 0o077 != 0 {
                return Err(KeyError::WrongKind {
                    path: f.to_owned(),
                    found: format!(
                        "the passphrase file is accessible by group or others (mode {mode:03o})"
                    ),
                    hint: "make it private with `chmod 600 FILE`, or give the passphrase on the terminal",
                });
            }
            const MAX: u64 = 4096;
            let too_large = |len: u64| KeyError::WrongKind {
                path: f.to_owned(),
                found: format!("{len} bytes is not a passphrase file"),
                hint: "put the passphrase on the first line of a small text file",
            };
            if meta.len() > MAX {
                return Err(too_large(meta.len()));
            }
            let Some(bytes) = custody::keys::read_at_most(&file, MAX).map_err(io(f))? else {
                return Err(too_large(MAX + 1));
            };
            zeroize::Zeroizing::new(String::from_utf8(bytes.to_vec()).map_err(|_| {
                KeyError::WrongKind {
                    path: f.to_owned(),
                    found: "the passphrase file is not UTF-8 text".into(),
                    hint: "put the passphrase on the first line of a text file",
                }
            })?)
        }
        None if std::io::stdin().is_terminal() => {
            zeroize::Zeroizing::new(rpassword::prompt_password(prompt).map_err(io(key))?)
        }
        None => {
            return Err(KeyError::NeedPassphrase {
                path: key.to_owned(),
            });
        }
    };
    let line = text.split('\n').next().unwrap_or_default();
    // `openssl -passin file:` keeps a carriage return as part of the passphrase; taking it
    // off here would make a key that OpenSSL cannot open with the same file.
    if line.ends_with('\r') {
        return Err(KeyError::WrongKind {
            path: file.unwrap_or(key).to_owned(),
            found: "the passphrase line ends with a carriage return (a Windows line ending), which OpenSSL would read as part of the passphrase".into(),
            hint: "save the file with Unix line endings (for example `dos2unix FILE`)",
        });
    }
    if line.is_empty() {
        return Err(KeyError::WrongKind {
            path: file.unwrap_or(key).to_owned(),
            found: "the passphrase is empty".into(),
            hint: "put the passphrase on the first line of the file",
        });
    }
    Ok(zeroize::Zeroizing::new(line.as_bytes().to_vec()))
}

/// Finds a key of the ledger by key ID (8 hex digits), fingerprint (`SHA256:...`) or a
/// public key file.
pub fn resolve_key(ledger: &Ledger, id: &str) -> anyhow::Result<[u8; 32]> {
    let p = std::path::Path::new(id);
    // Only a path that looks like one is read as a key file, never a bare key ID.
    if (id.ends_with(".pub") || id.contains('/')) && p.is_file() {
        return Ok(custody::keys::load_public(p)?.to_bytes());
    }
    let want = id.trim().to_ascii_lowercase();
    let matches: Vec<[u8; 32]> = ledger
        .authority()
        .keys()
        .keys()
        .filter(|k| {
            custody::keys::short_id(k) == want
                || custody::keys::fingerprint_string(k).to_ascii_lowercase() == want
                || hex::encode(custody::keys::fingerprint(k)) == want
        })
        .copied()
        .collect();
    match matches.as_slice() {
        [k] => Ok(*k),
        [] => anyhow::bail!(
            "no key '{id}' in this ledger; `custody key list --ledger ...` shows the key IDs"
        ),
        _ => anyhow::bail!("'{id}' matches several keys; give the full fingerprint"),
    }
}

/// Acknowledges appended records: a sentence and one line per record, or JSON.
pub fn print_appended(
    json: bool,
    out: &[custody::ledger::Appended],
    what: &str,
) -> anyhow::Result<()> {
    use anyhow::Context;
    // The records are in the ledger already: a failed write must not read as "nothing was
    // changed", or a script that retries would append them twice.
    let done = || {
        format!(
            "the records were appended ({}), but this report of them could not be written; do not append them again",
            out.iter()
                .map(|a| format!("record {}", a.seq))
                .collect::<Vec<_>>()
                .join(", ")
        )
    };
    print_appended_to_stdout(json, out, what).with_context(done)
}

fn print_appended_to_stdout(
    json: bool,
    out: &[custody::ledger::Appended],
    what: &str,
) -> anyhow::Result<()> {
    if json {
        print_json(&serde_json::json!({ "appended": out }))?;
    } else {
        outln!("{what}")?;
        for r in out {
            outln!(
                "appended record {} ({}) leaf {}",
                r.seq,
                r.kind,
                r.leaf_hash
            )?;
        }
    }
    Ok(())
}
