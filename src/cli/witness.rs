//! `custody witness`: run a witness (c2sp.org/tlog-witness) for other people's ledgers, and
//! ask one for a cosignature through files.

use super::LedgerArgs;
use super::util::{open, open_regular};
use anyhow::{Context, bail};
use clap::{Args, Subcommand};
use custody::keys;
use custody::witness::{self, MAX_REQUEST, Witness};
use std::io::Read;
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Subcommand)]
#[command(
    after_help = "A witness cosigns a ledger's checkpoint only if it is consistent with every \
checkpoint of that ledger it cosigned before, so that whoever holds the ledger key cannot \
show two histories. Its state never moves backwards; a request that proves a ledger \
inconsistent is kept in its evidence/ directory.\n\n\
  custody witness init --dir w1 --name witness.example.org/w1\n\
  custody witness add-log --dir w1 --origin example.org/case-1 --key ledger.pub\n\
  custody witness request --ledger case-1 --old 0 --out req.txt     (on the ledger's side)\n\
  custody witness cosign --dir w1 --in req.txt --out resp.txt       (on the witness's side)\n\
  custody witness accept --ledger case-1 --in resp.txt --witness-key VKEY   (back on the ledger's side)"
)]
pub enum WitnessCommand {
    /// Create a witness: its key, name and state; prints its verifier key.
    Init(InitArgs),
    /// Witness a ledger: its origin and the public key that signs its checkpoints.
    AddLog(AddLogArgs),
    /// Judge an add-checkpoint request from a file, and write the cosignature (offline).
    Cosign(CosignArgs),
    /// Write the add-checkpoint request for a witness that last cosigned size OLD.
    Request(RequestArgs),
    /// Take in a cosignature made through files, on the ledger's side.
    Accept(AcceptArgs),
    /// Serve the tlog-witness HTTP API: POST /add-checkpoint.
    Serve(ServeArgs),
}

/// Take in a cosignature a witness made through files (`witness cosign`): it is verified
/// over the ledger's checkpoint and kept with it, as `checkpoint --witness` keeps one.
#[derive(Args)]
pub struct AcceptArgs {
    #[command(flatten)]
    ledger: LedgerArgs,
    /// The witness's response (written by `custody witness cosign --out`).
    #[arg(long = "in", value_name = "FILE")]
    input: PathBuf,
    /// The witness's verifier key, NAME+KEYID+BASE64, as the witness published it.
    #[arg(long, value_name = "VKEY")]
    witness_key: String,
    /// The size of the checkpoint the request was for (default: the latest).
    #[arg(long, value_name = "N")]
    size: Option<u64>,
}

#[derive(Args)]
pub struct ServeArgs {
    /// The witness directory.
    #[arg(long, value_name = "DIR")]
    dir: PathBuf,
    /// The address to listen on (port 0: any free port; the address is printed).
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:7380")]
    listen: String,
}

#[derive(Args)]
pub struct InitArgs {
    /// The new witness directory.
    #[arg(long, value_name = "DIR")]
    dir: PathBuf,
    /// The witness's key name: a schema-less URL such as witness.example.org/w1.
    #[arg(long)]
    name: String,
}

#[derive(Args)]
pub struct AddLogArgs {
    /// The witness directory.
    #[arg(long, value_name = "DIR")]
    dir: PathBuf,
    /// The ledger's origin (its checkpoints' first line).
    #[arg(long)]
    origin: String,
    /// The ledger key's public key file (PEM), which signs its checkpoints.
    #[arg(long, value_name = "FILE")]
    key: PathBuf,
}

#[derive(Args)]
pub struct CosignArgs {
    /// The witness directory.
    #[arg(long, value_name = "DIR")]
    dir: PathBuf,
    /// The add-checkpoint request (old size, consistency proof, blank line, checkpoint).
    #[arg(long = "in", value_name = "FILE")]
    input: PathBuf,
    /// Where to write the cosignature line (refused if it exists).
    #[arg(long, value_name = "FILE")]
    out: PathBuf,
}

#[derive(Args)]
pub struct RequestArgs {
    #[command(flatten)]
    ledger: LedgerArgs,
    /// The size the witness last cosigned (0 the first time; a witness that refuses with
    /// "409" says its size).
    #[arg(long)]
    old: u64,
    /// Where to write the request (refused if it exists).
    #[arg(long, value_name = "FILE")]
    out: PathBuf,
}

pub fn exec(c: WitnessCommand) -> anyhow::Result<ExitCode> {
    match c {
        WitnessCommand::Init(a) => {
            let w = Witness::init(&a.dir, &a.name)?;
            outln!("{}", w.verifier_key())?;
            eprintln!(
                "created witness {} in {}; give the line above to the ledgers it witnesses",
                w.name(),
                a.dir.display()
            );
            Ok(ExitCode::SUCCESS)
        }
        WitnessCommand::AddLog(a) => {
            let w = Witness::open(&a.dir)?;
            let key = keys::load_public(&a.key)?.to_bytes();
            w.add_log(&a.origin, &key)?;
            outln!(
                "witnessing {} (ledger key {})",
                a.origin,
                keys::short_id(&key)
            )?;
            Ok(ExitCode::SUCCESS)
        }
        WitnessCommand::Cosign(a) => {
            let w = Witness::open(&a.dir)?;
            if a.out.symlink_metadata().is_ok() {
                bail!("{} already exists; choose a new file name", a.out.display());
            }
            // One byte past the limit is enough for the witness to refuse it as too long.
            let mut request = Vec::new();
            open_regular(&a.input, "request")?
                .take(MAX_REQUEST as u64 + 1)
                .read_to_end(&mut request)
                .with_context(|| format!("cannot read {}", a.input.display()))?;
            let reply = w.add_checkpoint(&request, custody::unix_ms() / 1000)?;
            if !reply.cosigned() {
                eprintln!(
                    "refused ({}): {}",
                    reply.status,
                    custody::encoding::terminal_safe(reply.body.trim_end(), false)
                );
                if reply.status == 409 && reply.content_type == "text/x.tlog.size" {
                    eprintln!(
                        "the witness last cosigned size {}; make the request again with --old {}",
                        reply.body.trim(),
                        reply.body.trim()
                    );
                }
                return Ok(ExitCode::from(1));
            }
            keys::write_new_file(&a.out, reply.body.as_bytes(), 0o644)?;
            outln!("cosigned; the cosignature is in {}", a.out.display())?;
            Ok(ExitCode::SUCCESS)
        }
        WitnessCommand::Serve(a) => serve(a),
        WitnessCommand::Accept(a) => accept(a),
        WitnessCommand::Request(a) => {
            if a.out.symlink_metadata().is_ok() {
                bail!("{} already exists; choose a new file name", a.out.display());
            }
            let ledger = open(&a.ledger)?;
            let (cp, text) = ledger.latest_checkpoint()?.ok_or_else(|| {
                anyhow::anyhow!("the ledger has no signed checkpoint; run `custody checkpoint`")
            })?;
            let proof = if a.old == 0 || a.old == cp.size {
                Vec::new()
            } else {
                ledger.consistency_proof(a.old)?.hashes
            };
            if a.old > cp.size {
                bail!(
                    "--old {} is past the latest checkpoint's size {}",
                    a.old,
                    cp.size
                );
            }
            let body = witness::request_body(a.old, &proof, &text);
            keys::write_new_file(&a.out, body.as_bytes(), 0o644)?;
            outln!(
                "request for the checkpoint of {} records from size {} written to {}",
                cp.size,
                a.old,
                a.out.display()
            )?;
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// Connections served at once; more are answered 503 and closed.
fn accept(a: AcceptArgs) -> anyhow::Result<ExitCode> {
    let (name, kind, _) = custody::note::parse_verifier_key(&a.witness_key)?;
    if kind != custody::note::TYPE_COSIGNATURE_V1 {
        bail!(
            "{} is not a witness's key (its type is not 0x04, cosignature/v1)",
            a.witness_key
        );
    }
    let mut response = Vec::new();
    open_regular(&a.input, "response")?
        .take(custody::note::MAX_NOTE as u64 + 1)
        .read_to_end(&mut response)
        .with_context(|| format!("cannot read {}", a.input.display()))?;
    if response.len() > custody::note::MAX_NOTE {
        bail!(
            "{} is larger than a witness's response can be ({} bytes at most); give the file `custody witness cosign --out` wrote",
            a.input.display(),
            custody::note::MAX_NOTE
        );
    }
    let response = String::from_utf8(response).map_err(|_| {
        anyhow::anyhow!(
            "{}: not a witness's response (not UTF-8)",
            a.input.display()
        )
    })?;
    let ledger = super::util::open_write(&a.ledger)?;
    let found = match a.size {
        Some(n) => ledger.valid_checkpoint(n)?,
        None => ledger.latest_checkpoint()?,
    };
    let (cp, signed) = found.ok_or_else(|| match a.size {
        Some(n) => anyhow::anyhow!("the ledger holds no valid checkpoint of {n} records"),
        None => anyhow::anyhow!("the ledger has no signed checkpoint; run `custody checkpoint`"),
    })?;
    // The one line that verifies by the key is kept, and nothing else of the file.
    let shown = custody::encoding::terminal_safe(&name, false).into_owned();
    let mut why = format!("no line is signed under the name {shown}");
    let mut verified = None;
    for l in response
        .lines()
        .filter(|l| l.starts_with(&format!("\u{2014} {name} ")))
    {
        let line = format!("{l}\n");
        match witness::verify_line(&signed, &line, &a.witness_key, &cp) {
            Ok((_, t)) => {
                verified = Some((line, t));
                break;
            }
            Err(e) => why = e,
        }
    }
    // What the audit and bundles admit, and nothing else: no key of the ledger's, and no
    // time before the checkpoint's records or in the future.
    let verified = verified.and_then(|(line, t)| {
        let (_, _, raw) = custody::note::parse_verifier_key(&a.witness_key).ok()?;
        if ledger.authority().keys().contains_key(&raw) {
            why = "the key is one of the ledger's own: no independent witness".into();
            return None;
        }
        if let Err(e) = custody::rules::check_attestation_time(
            "the cosignature's time",
            t.saturating_mul(1000),
            ledger.last_recorded_ms(cp.size),
            custody::unix_ms(),
            "this machine's clock",
        ) {
            why = e;
            return None;
        }
        Some((line, t))
    });
    let (line, time) = match verified {
        Some(v) => v,
        None => {
            let e = why;
            eprintln!(
                "error: {} holds no cosignature by {shown} that verifies over the checkpoint of {} records ({}); nothing was kept. If the request was for an earlier checkpoint, give its size with --size",
                a.input.display(),
                cp.size,
                custody::encoding::terminal_safe(&e.to_string(), false)
            );
            return Ok(ExitCode::from(1));
        }
    };
    // The operator pins this key for its name.
    ledger.put_witness_key(&a.witness_key, true)?;
    let note = ledger.keep_cosignatures(&cp, &signed, &[(line, a.witness_key.clone())])?;
    ledger.close()?;
    {
        use std::io::Write as _;
        write!(std::io::stdout().lock(), "{note}")?;
    }
    eprintln!(
        "cosigned by witness {shown} at {} second(s) since 1970; kept with the checkpoint of {} records",
        time, cp.size
    );
    Ok(ExitCode::SUCCESS)
}

const MAX_CONNECTIONS: usize = 64;
/// The most header bytes a request may have.
const MAX_HEADER_BYTES: usize = 16 * 1024;
/// How long a client has to send its whole request.
const REQUEST_DEADLINE: std::time::Duration = std::time::Duration::from_secs(20);

/// Serves `POST /add-checkpoint`: a thread per connection (at most [`MAX_CONNECTIONS`]),
/// one request per connection, headers and body bounded in size and time; each request is
/// judged under the witness's lock, so that no two can pass the same old size.
fn serve(a: ServeArgs) -> anyhow::Result<ExitCode> {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};
    let w = Arc::new(Witness::open(&a.dir)?);
    let listener = std::net::TcpListener::bind(&a.listen)
        .with_context(|| format!("cannot listen on {}", a.listen))?;
    let addr = listener.local_addr()?;
    outln!(
        "witness {} listening on http://{addr}/add-checkpoint",
        w.name()
    )?;
    let active = Arc::new(AtomicUsize::new(0));
    for conn in listener.incoming() {
        let Ok(mut conn) = conn else {
            // Out of descriptors or a connection reset before it was taken: go on.
            std::thread::sleep(std::time::Duration::from_millis(10));
            continue;
        };
        if active.fetch_add(1, Ordering::SeqCst) >= MAX_CONNECTIONS {
            active.fetch_sub(1, Ordering::SeqCst);
            let _ = conn.set_write_timeout(Some(std::time::Duration::from_secs(1)));
            let _ = respond(&mut conn, &witness::Reply::text(503, "busy; try again"));
            continue;
        }
        let (w, mine) = (w.clone(), active.clone());
        let spawned = std::thread::Builder::new().spawn(move || {
            let reply = read_and_judge(&w, &mut conn);
            let _ = respond(&mut conn, &reply);
            mine.fetch_sub(1, Ordering::SeqCst);
        });
        if spawned.is_err() {
            active.fetch_sub(1, Ordering::SeqCst);
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// Reads one request from a connection within [`REQUEST_DEADLINE`] and judges it.
fn read_and_judge(w: &Witness, conn: &mut std::net::TcpStream) -> witness::Reply {
    use std::io::{Read, Write};
    let deadline = std::time::Instant::now() + REQUEST_DEADLINE;
    let left = || deadline.saturating_duration_since(std::time::Instant::now());
    let _ = conn.set_write_timeout(Some(std::time::Duration::from_secs(10)));
    let mut buf = Vec::with_capacity(4096);
    let mut chunk = [0u8; 4096];
    // The headers, up to the blank line.
    let (head_len, method, path, length, expect_continue, chunked) = loop {
        let mut headers = [httparse::EMPTY_HEADER; 64];
        let mut req = httparse::Request::new(&mut headers);
        match req.parse(&buf) {
            Ok(httparse::Status::Complete(n)) => {
                let header = |name: &str| {
                    req.headers
                        .iter()
                        .find(|h| h.name.eq_ignore_ascii_case(name))
                        .map(|h| String::from_utf8_lossy(h.value).trim().to_owned())
                };
                let length = header("content-length");
                break (
                    n,
                    req.method.unwrap_or_default().to_owned(),
                    req.path.unwrap_or_default().to_owned(),
                    length,
                    header("expect").is_some_and(|v| v.eq_ignore_ascii_case("100-continue")),
                    header("transfer-encoding").is_some(),
                );
            }
            Ok(httparse::Status::Partial) => {}
            Err(httparse::Error::TooManyHeaders) => {
                return witness::Reply::text(431, "too many header fields");
            }
            Err(_) => return witness::Reply::text(400, "not an HTTP/1.1 request"),
        }
        if buf.len() >= MAX_HEADER_BYTES {
            return witness::Reply::text(431, "the request's header is too large");
        }
        if left().is_zero() || conn.set_read_timeout(Some(left())).is_err() {
            return witness::Reply::text(408, "the request took too long");
        }
        match conn.read(&mut chunk) {
            Ok(0) | Err(_) => {
                return witness::Reply::text(408, "the request was not sent whole in time");
            }
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
        }
    };
    if path != "/add-checkpoint" {
        return witness::Reply::text(404, "the witness serves POST /add-checkpoint only");
    }
    if method != "POST" {
        return witness::Reply::text(405, "use POST");
    }
    if chunked {
        return witness::Reply::text(411, "send the request with a Content-Length");
    }
    let Some(length) = length.and_then(|l| l.parse::<usize>().ok()) else {
        return witness::Reply::text(411, "send the request with a Content-Length");
    };
    if length > MAX_REQUEST {
        return witness::Reply::text(400, format!("the request is more than {MAX_REQUEST} bytes"));
    }
    if expect_continue && buf.len() == head_len {
        let _ = conn.write_all(b"HTTP/1.1 100 Continue\r\n\r\n");
    }
    let mut body = buf.split_off(head_len);
    while body.len() < length {
        if left().is_zero() || conn.set_read_timeout(Some(left())).is_err() {
            return witness::Reply::text(408, "the request took too long");
        }
        match conn.read(&mut chunk) {
            Ok(0) | Err(_) => {
                return witness::Reply::text(408, "the request was not sent whole in time");
            }
            Ok(n) => body.extend_from_slice(&chunk[..n]),
        }
    }
    body.truncate(length);
    match w.add_checkpoint(&body, custody::unix_ms() / 1000) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: {e}");
            witness::Reply::text(500, "the witness could not judge this request")
        }
    }
}

/// Writes a reply and closes the connection.
fn respond(conn: &mut std::net::TcpStream, reply: &witness::Reply) -> std::io::Result<()> {
    use std::io::Write;
    let reason = match reply.status {
        200 => "OK",
        400 => "Bad Request",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        408 => "Request Timeout",
        409 => "Conflict",
        411 => "Length Required",
        422 => "Unprocessable Entity",
        431 => "Request Header Fields Too Large",
        503 => "Service Unavailable",
        _ => "Internal Server Error",
    };
    let head = format!(
        "HTTP/1.1 {} {reason}\r\nContent-Type: {}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        reply.status,
        reply.content_type,
        reply.body.len()
    );
    conn.write_all(head.as_bytes())?;
    conn.write_all(reply.body.as_bytes())?;
    conn.flush()?;
    let _ = conn.shutdown(std::net::Shutdown::Both);
    Ok(())
}
