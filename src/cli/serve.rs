//! `custody serve`: one ledger over HTTP. Appends are signed statements (`.cst` bytes)
//! POSTed to `/add`, judged by the same gate as `custody ingest` and written in groups (one
//! fsync for every request waiting), each acknowledged only once durable. Reads are the C2SP
//! tlog-tiles layout (`/checkpoint`, `/tile/...`) that tlog clients, monitors and witnesses
//! follow with their own code, plus proofs, records and media lookups. Checkpoints are
//! signed on a schedule, and witnessed when witnesses are given.

// An HTTP answer is the error of a handler's helpers (axum's way); it is built once per
// request, so its size does not matter.
#![allow(clippy::result_large_err)]

use super::LedgerArgs;
use super::checkpoint::{WitnessArgs, Witnesses, sign_and_witness};
use super::util::{IdentityArgs, KeyArgs, open_write};
use anyhow::Context;
use axum::Router;
use axum::body::Body;
use axum::extract::{Path as UrlPath, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use clap::Args;
use custody::field;
use custody::ledger::{Checked, Ingested, Ledger};
use std::process::ExitCode;
use std::sync::{Arc, RwLock};
use std::time::Duration;
use tokio::sync::mpsc;

const AFTER_HELP: &str = "\
Endpoints (HTTP/1.1; put TLS in front with a reverse proxy, see README):
  POST /add                   a .cst file's bytes (Content-Type: application/x-custody-signed), as
                              `custody sign` writes them; `custody push` sends them. The signature is
                              the authentication: each statement is judged by the ledger's rules as
                              `custody ingest` judges it, and acknowledged only once fsync'd.
                              200: every statement appended (or already there); 422: some refused
                              (each outcome in the JSON answer); 400 malformed; 413 too large.
  GET  /checkpoint            the latest signed (and cosigned) checkpoint      (c2sp.org/tlog-tiles)
  GET  /tile/L/N[.p/W]        hash tiles                                        (c2sp.org/tlog-tiles)
  GET  /tile/entries/N[.p/W]  entry bundles: the records, as the ledger holds them
  GET  /proof/SEQ             inclusion proof of record SEQ in the latest checkpoint (tlog-proof)
  GET  /record/SEQ            one record, decoded, as JSON
  GET  /media/SHA256          the records of a file with this SHA-256, each verified, as JSON

Checkpoints: the ledger key (--key) signs one every --checkpoint-every when records were added,
asking the witnesses given (--witness/--witness-key, --policy) to cosign it.

Example:
  custody serve --ledger /srv/ledger --key ledger.key --listen 127.0.0.1:8080 --checkpoint-every 10s
  custody push --server http://127.0.0.1:8080 statements.cst";

#[derive(Args)]
#[command(after_help = AFTER_HELP)]
pub struct ServeArgs {
    #[command(flatten)]
    ledger: LedgerArgs,
    /// The ledger key, which signs the checkpoints.
    #[command(flatten)]
    key: KeyArgs,
    /// The address to listen on (IP:PORT; port 0 picks a free one, which is printed).
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:8080")]
    listen: String,
    /// How often a checkpoint is signed when records were added (e.g. 1s, 10s, 5m).
    #[arg(long, value_name = "DURATION", default_value = "10s", value_parser = humantime::parse_duration)]
    checkpoint_every: Duration,
    #[command(flatten)]
    witnesses: WitnessArgs,
    /// A content recipient's identity: each sealed text POSTed is opened and checked
    /// against its commitment before it is appended.
    #[command(flatten)]
    identity: IdentityArgs,
    /// The largest request body accepted, in bytes.
    #[arg(long, value_name = "BYTES", default_value_t = field::MAX_SEALED as u64 + (1 << 20))]
    max_request_bytes: u64,
    /// Also write the checkpoint and tiles into this directory after each checkpoint, as
    /// `custody publish --out DIR` does (for a web server, CDN or object store to serve).
    #[arg(long, value_name = "DIR")]
    publish: Option<std::path::PathBuf>,
    /// The most memory held at once for requests, over all connections: each takes four
    /// times its body's size (the body, its decoded statements and their answers); one
    /// that would pass the budget waits its turn (up to --request-timeout), then gets 503.
    #[arg(long, value_name = "BYTES", default_value_t = 256 << 20)]
    max_buffered_bytes: u64,
    /// The most connections served at once; more are closed at once.
    #[arg(long, value_name = "N", default_value_t = 512)]
    max_connections: usize,
    /// How long a client may take to send a request's headers, and then its body.
    #[arg(long, value_name = "DURATION", default_value = "10s", value_parser = humantime::parse_duration)]
    request_timeout: Duration,
}

/// A request's statements waiting for the writer, and where to send what became of them.
struct Job {
    checked: Checked,
    reply: tokio::sync::oneshot::Sender<Result<(Vec<Ingested>, u64), String>>,
}

struct Shared {
    ledger: RwLock<Ledger>,
    /// The checkpoint served at /checkpoint (the latest, cosignatures and all).
    checkpoint: RwLock<Option<String>>,
    /// Taken away when the server stops, which ends the writer.
    jobs: std::sync::Mutex<Option<mpsc::Sender<Job>>>,
    max_request_bytes: usize,
    request_timeout: Duration,
    /// Request bodies held at once, in KiB (--max-buffered-bytes).
    buffered: Arc<tokio::sync::Semaphore>,
    buffered_kib: u32,
}

type Shared_ = Arc<Shared>;

/// The largest body taken in chunks, with no Content-Length.
const CHUNKED_LIMIT: usize = 1 << 20;

/// The most statements written in one group (one fsync).
const GROUP: usize = 4096;

pub fn exec_serve(a: ServeArgs) -> anyhow::Result<ExitCode> {
    let witnesses = a.witnesses.load()?;
    let identity = a.identity.load()?;
    let key = a.key.load()?;
    if a.checkpoint_every < Duration::from_millis(100) {
        anyhow::bail!("--checkpoint-every must be at least 100ms");
    }
    let ledger = open_write(&a.ledger)?;
    if key.verifying_key().to_bytes() != ledger.ledger_key() {
        anyhow::bail!(
            "--key is not this ledger's current ledger key (the key that signs its checkpoints); give the ledger key"
        );
    }
    if let Some(id) = &identity
        && !ledger.authority().seal_to_history().is_empty()
    {
        ledger.check_identity(id)?;
    }
    let checkpoint = ledger.published_checkpoint()?.map(|(_, t)| t);
    let buffered_kib = u32::try_from(a.max_buffered_bytes.div_ceil(1024))
        .unwrap_or(u32::MAX)
        .max(1);
    let (jobs, mut queue) = mpsc::channel::<Job>(1024);
    let shared = Arc::new(Shared {
        ledger: RwLock::new(ledger),
        checkpoint: RwLock::new(checkpoint),
        jobs: std::sync::Mutex::new(Some(jobs)),
        max_request_bytes: usize::try_from(a.max_request_bytes).unwrap_or(usize::MAX),
        request_timeout: a.request_timeout,
        buffered: Arc::new(tokio::sync::Semaphore::new(buffered_kib as usize)),
        buffered_kib,
    });
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the server's runtime")?;
    let listener = runtime
        .block_on(tokio::net::TcpListener::bind(&a.listen))
        .with_context(|| format!("cannot listen on {}", a.listen))?;
    let addr = listener.local_addr()?;
    {
        let l = read(&shared)?;
        eprintln!(
            "serving ledger {} ({} records) on http://{addr}; checkpoints every {}",
            l.origin(),
            l.size(),
            humantime::format_duration(a.checkpoint_every)
        );
    }
    let writer = {
        let shared = shared.clone();
        std::thread::Builder::new()
            .name("writer".into())
            .spawn(move || write_loop(&shared, &mut queue, identity.as_ref()))?
    };
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let signer = {
        let (shared, stop) = (shared.clone(), stop.clone());
        let every = a.checkpoint_every;
        let publish = a.publish.clone();
        std::thread::Builder::new()
            .name("checkpoints".into())
            .spawn(move || {
                checkpoint_loop(&shared, &key, &witnesses, every, publish.as_deref(), &stop)
            })?
    };
    let app = router(shared.clone());
    runtime.block_on(accept_loop(
        listener,
        app,
        a.max_connections,
        a.request_timeout,
    ));
    eprintln!("stopping: finishing the appends under way");
    stop.store(true, std::sync::atomic::Ordering::SeqCst);
    runtime.shutdown_timeout(Duration::from_secs(5));
    let _ = signer.join();
    // The writer ends when the queue's sender is gone, after the appends under way.
    if let Ok(mut jobs) = shared.jobs.lock() {
        jobs.take();
    }
    let _ = writer.join();
    let shared = Arc::try_unwrap(shared)
        .map_err(|_| anyhow::anyhow!("the server did not stop cleanly; the ledger is safe (every acknowledged append is durable)"))?;
    let ledger = shared
        .ledger
        .into_inner()
        .map_err(|_| anyhow::anyhow!("a request failed while writing; run `custody audit`"))?;
    ledger.close()?;
    Ok(ExitCode::SUCCESS)
}

fn read(s: &Shared) -> anyhow::Result<std::sync::RwLockReadGuard<'_, Ledger>> {
    s.ledger.read().map_err(|_| {
        anyhow::anyhow!("the ledger is unavailable after a failure; restart the server")
    })
}

/// Takes every request waiting (up to [`GROUP`] statements) and ingests them as one batch:
/// one fsync for all, each acknowledged only after it.
fn write_loop(
    shared: &Shared,
    queue: &mut mpsc::Receiver<Job>,
    identity: Option<&age::x25519::Identity>,
) {
    while let Some(first) = queue.blocking_recv() {
        let mut count = first.checked.len();
        let mut jobs = vec![first];
        while count < GROUP {
            match queue.try_recv() {
                Ok(j) => {
                    count += j.checked.len();
                    jobs.push(j);
                }
                Err(_) => break,
            }
        }
        let counts: Vec<usize> = jobs.iter().map(|j| j.checked.len()).collect();
        let (checked, replies): (Vec<Checked>, Vec<_>) =
            jobs.into_iter().map(|j| (j.checked, j.reply)).unzip();
        let result = match shared.ledger.write() {
            Ok(mut l) => l
                .ingest(Checked::join(checked), identity, custody::unix_ms(), true)
                .map(|out| (out, l.size()))
                .map_err(|e| e.to_string()),
            Err(_) => Err("the ledger is unavailable after a failure; restart the server".into()),
        };
        match result {
            Ok((outcomes, size)) => {
                let mut outcomes = outcomes.into_iter();
                for (reply, n) in replies.into_iter().zip(counts) {
                    let mine: Vec<Ingested> = outcomes.by_ref().take(n).collect();
                    let _ = reply.send(Ok((mine, size)));
                }
            }
            Err(e) => {
                eprintln!("append failed, nothing of it was acknowledged: {e}");
                for reply in replies {
                    let _ = reply.send(Err(e.clone()));
                }
            }
        }
    }
}

/// Signs a checkpoint whenever records were added since the last, every `every`.
fn checkpoint_loop(
    shared: &Shared,
    key: &ed25519_dalek::SigningKey,
    witnesses: &Witnesses,
    every: Duration,
    publish: Option<&std::path::Path>,
    stop: &std::sync::atomic::AtomicBool,
) {
    let mut next = std::time::Instant::now();
    while !stop.load(std::sync::atomic::Ordering::SeqCst) {
        if std::time::Instant::now() < next {
            std::thread::sleep(Duration::from_millis(50).min(every));
            continue;
        }
        next = std::time::Instant::now() + every;
        let behind = match read(shared) {
            Ok(l) => match l.latest_checkpoint() {
                Ok(cp) => l.size() > cp.map_or(0, |(c, _)| c.size),
                Err(e) => {
                    eprintln!("cannot read the latest checkpoint: {e}");
                    false
                }
            },
            Err(_) => return,
        };
        if !behind {
            continue;
        }
        let signed = match shared.ledger.write() {
            Ok(mut l) => sign_and_witness(&mut l, key, witnesses),
            Err(_) => return,
        };
        let Ok(l) = read(shared) else {
            return;
        };
        match signed {
            Ok((_, forked)) => {
                if forked {
                    eprintln!(
                        "error: a witness found a checkpoint inconsistent with one it cosigned before: two histories of this ledger exist under its key"
                    );
                }
                match l.published_checkpoint() {
                    Ok(Some((_, text))) => {
                        if let Ok(mut c) = shared.checkpoint.write() {
                            *c = Some(text);
                        }
                    }
                    Ok(None) => {}
                    Err(e) => eprintln!("cannot read the checkpoint just signed: {e}"),
                }
                if let Some(dir) = publish
                    && let Err(e) = super::publish::publish_to(&l, dir, false, false)
                {
                    eprintln!("publishing into {} failed: {e:#}", dir.display());
                }
            }
            Err(e) => eprintln!("signing a checkpoint failed: {e:#}"),
        }
    }
}

async fn accept_loop(
    listener: tokio::net::TcpListener,
    app: Router,
    max_connections: usize,
    header_timeout: Duration,
) {
    let slots = Arc::new(tokio::sync::Semaphore::new(max_connections));
    let shutdown = shutdown_signal();
    tokio::pin!(shutdown);
    loop {
        let (stream, _) = tokio::select! {
            () = &mut shutdown => return,
            accepted = listener.accept() => match accepted {
                Ok(a) => a,
                Err(e) => {
                    // Out of file descriptors and the like: wait, do not spin.
                    eprintln!("accept failed: {e}");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
        };
        let Ok(slot) = slots.clone().try_acquire_owned() else {
            drop(stream);
            continue;
        };
        let service = hyper_util::service::TowerToHyperService::new(app.clone());
        tokio::spawn(async move {
            let _slot = slot;
            let io = hyper_util::rt::TokioIo::new(stream);
            let mut builder = hyper::server::conn::http1::Builder::new();
            builder
                .timer(hyper_util::rt::TokioTimer::new())
                .header_read_timeout(header_timeout);
            let _ = builder.serve_connection(io, service).await;
        });
    }
}

async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(t) => t,
                Err(_) => {
                    let _ = ctrl_c.await;
                    return;
                }
            };
        tokio::select! {
            _ = ctrl_c => {},
            _ = term.recv() => {},
        }
    }
    #[cfg(not(unix))]
    let _ = ctrl_c.await;
}

fn router(shared: Shared_) -> Router {
    Router::new()
        .route("/add", post(add))
        .route("/checkpoint", get(checkpoint))
        .route("/tile/{*path}", get(tile))
        .route("/proof/{seq}", get(proof))
        .route("/record/{seq}", get(record))
        .route("/media/{sha}", get(media))
        .fallback(|| async {
            error(
                StatusCode::NOT_FOUND,
                "no such resource; see `custody serve --help` for the endpoints",
            )
        })
        .with_state(shared)
}

fn error(status: StatusCode, message: impl Into<String>) -> Response {
    let mut m = message.into();
    m.push('\n');
    (
        status,
        [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
        m,
    )
        .into_response()
}

/// An error of the library as an HTTP answer: bad input 400, not ready 404, the rest 500.
fn library_error(e: &custody::error::Error) -> Response {
    use custody::error::Error;
    match e {
        Error::Input(_) => error(StatusCode::BAD_REQUEST, e.to_string()),
        Error::NotReady(_) => error(StatusCode::NOT_FOUND, e.to_string()),
        Error::Damaged(_) | Error::Db { .. } => {
            error(StatusCode::SERVICE_UNAVAILABLE, e.to_string())
        }
        _ => error(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()),
    }
}

/// Runs a read of the ledger on a blocking thread.
async fn with_ledger<T: Send + 'static>(
    shared: Shared_,
    f: impl FnOnce(&Ledger) -> custody::error::Result<T> + Send + 'static,
) -> Result<T, Response> {
    let joined = tokio::task::spawn_blocking(move || match shared.ledger.read() {
        Ok(l) => f(&l).map_err(|e| library_error(&e)),
        Err(_) => Err(error(
            StatusCode::SERVICE_UNAVAILABLE,
            "the ledger is unavailable after a failure; the server must be restarted",
        )),
    })
    .await;
    joined.unwrap_or_else(|_| Err(error(StatusCode::INTERNAL_SERVER_ERROR, "internal error")))
}

async fn checkpoint(State(shared): State<Shared_>) -> Response {
    let text = shared.checkpoint.read().ok().and_then(|c| c.clone());
    match text {
        Some(t) => (
            [
                (header::CONTENT_TYPE, "text/plain; charset=utf-8"),
                (header::CACHE_CONTROL, "no-cache"),
            ],
            t,
        )
            .into_response(),
        None => error(
            StatusCode::NOT_FOUND,
            "this ledger has no signed checkpoint yet; one is signed after the next append",
        ),
    }
}

async fn tile(State(shared): State<Shared_>, UrlPath(path): UrlPath<String>) -> Response {
    let path = format!("tile/{path}");
    let shown = path.clone();
    match with_ledger(shared, move |l| l.tile(&path)).await {
        Ok(Some(bytes)) => (
            [
                (header::CONTENT_TYPE, "application/octet-stream"),
                (header::CACHE_CONTROL, "public, max-age=31536000, immutable"),
            ],
            bytes,
        )
            .into_response(),
        Ok(None) => error(
            StatusCode::NOT_FOUND,
            format!("{shown}: the tree has no such tile (yet)"),
        ),
        Err(r) => r,
    }
}

fn seq_of(s: &str) -> Result<u64, Response> {
    // Digits only, no leading zero: one name for one record ("+1" and "01" are not "1").
    let canonical =
        !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) && (s == "0" || !s.starts_with('0'));
    canonical
        .then(|| s.parse::<u64>().ok())
        .flatten()
        .ok_or_else(|| {
            error(
                StatusCode::BAD_REQUEST,
                "a record is named by its sequence number (a decimal number)",
            )
        })
}

/// A read of one record by its number: 400 for a number that is not one, 404 when the
/// ledger has no such record or `f` finds nothing for it (its message says why).
async fn by_seq<T: Send + 'static>(
    shared: Shared_,
    seq: &str,
    f: impl FnOnce(&Ledger, u64) -> custody::error::Result<Result<T, String>> + Send + 'static,
) -> Result<T, Response> {
    let seq = seq_of(seq)?;
    let found = with_ledger(shared, move |l| {
        if seq >= l.size() {
            return Ok(Err(format!("there is no record {seq}")));
        }
        f(l, seq)
    })
    .await?;
    found.map_err(|why| error(StatusCode::NOT_FOUND, why))
}

async fn proof(State(shared): State<Shared_>, UrlPath(seq): UrlPath<String>) -> Response {
    let found = by_seq(shared, &seq, |l, seq| {
        let latest = l.latest_checkpoint()?;
        let covered = latest.as_ref().map_or(0, |(cp, _)| cp.size);
        match latest {
            Some(cp) if seq < covered => l.inclusion_proof_in(seq, cp).map(|p| Ok(p.format())),
            _ => Ok(Err(format!(
                "record {seq} is not yet covered by a signed checkpoint (the latest covers {covered} records); the server signs one on its schedule: ask again later"
            ))),
        }
    })
    .await;
    match found {
        Ok(text) => ([(header::CONTENT_TYPE, "text/plain; charset=utf-8")], text).into_response(),
        Err(r) => r,
    }
}

async fn record(State(shared): State<Shared_>, UrlPath(seq): UrlPath<String>) -> Response {
    let found = by_seq(shared, &seq, |l, seq| {
        let (rec, bytes) = l.record(seq)?;
        Ok(Ok(custody::record::RecordView::new(&rec, &bytes)))
    })
    .await;
    match found {
        Ok(view) => axum::Json(view).into_response(),
        Err(r) => r,
    }
}

/// The most records one answer of `/media` holds; `?from=SEQ` gives the next ones.
const MEDIA_PAGE: usize = 100;

async fn media(
    State(shared): State<Shared_>,
    UrlPath(sha): UrlPath<String>,
    Query(q): Query<MediaQuery>,
) -> Response {
    let mut hash = [0u8; 32];
    if sha.len() != 64 || hex::decode_to_slice(&sha, &mut hash).is_err() {
        return error(
            StatusCode::BAD_REQUEST,
            "a file is named by its SHA-256: 64 hex digits, as sha256sum prints it",
        );
    }
    let from = match q.from.as_deref().map(seq_of).transpose() {
        Ok(f) => f.unwrap_or(0),
        Err(r) => return r,
    };
    let page = with_ledger(shared, move |l| {
        l.find_media_page(&hash, custody::unix_ms(), from, MEDIA_PAGE)
    });
    match page.await {
        Ok((reports, _)) if reports.is_empty() => error(
            StatusCode::NOT_FOUND,
            "no record of this ledger registers a file with this SHA-256",
        ),
        Ok((reports, next)) => {
            let mut r = axum::Json(reports).into_response();
            if let Some(next) = next {
                // The next page, as RFC 8288 links it.
                if let Ok(v) =
                    HeaderValue::from_str(&format!("</media/{sha}?from={next}>; rel=\"next\""))
                {
                    r.headers_mut().insert(header::LINK, v);
                }
            }
            r
        }
        Err(r) => r,
    }
}

#[derive(serde::Deserialize)]
struct MediaQuery {
    from: Option<String>,
}

async fn add(State(shared): State<Shared_>, headers: HeaderMap, body: Body) -> Response {
    let media_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(|v| {
            v.split(';')
                .next()
                .unwrap_or("")
                .trim()
                .to_ascii_lowercase()
        });
    if media_type.as_deref() != Some(field::MEDIA_TYPE) {
        return error(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            format!(
                "send a .cst file (from `custody sign`) with Content-Type: {}",
                field::MEDIA_TYPE
            ),
        );
    }
    let length = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    // A body sent in chunks, its size unknown until its end, is taken up to 1 MiB (`push`
    // and `curl --data-binary` send Content-Length).
    let limit = match length {
        Some(_) => shared.max_request_bytes,
        None => shared.max_request_bytes.min(CHUNKED_LIMIT),
    };
    if length.is_some_and(|n| n > limit as u64) {
        return error(
            StatusCode::PAYLOAD_TOO_LARGE,
            format!(
                "the request is larger than this server accepts ({limit} bytes); nothing was appended"
            ),
        );
    }
    // The body is held in memory until its statements are written, with their decoded
    // copies and answers: it takes four times its size (or, sent in chunks, its largest
    // size) from the budget of bytes held at once, and waits for its turn when the budget
    // is spent, so that no number of clients can exhaust the memory.
    let kib = u32::try_from(
        length
            .unwrap_or(limit as u64)
            .saturating_mul(4)
            .div_ceil(1024),
    )
    .unwrap_or(u32::MAX)
    .clamp(1, shared.buffered_kib);
    let _held = match tokio::time::timeout(
        shared.request_timeout,
        shared.buffered.clone().acquire_many_owned(kib),
    )
    .await
    {
        Ok(Ok(permit)) => permit,
        _ => {
            let mut r = error(
                StatusCode::SERVICE_UNAVAILABLE,
                "the server is receiving as much as it holds at once (--max-buffered-bytes); nothing was appended: send it again shortly",
            );
            r.headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
            return r;
        }
    };
    let bytes = match tokio::time::timeout(
        shared.request_timeout,
        axum::body::to_bytes(body, limit),
    )
    .await
    {
        Err(_) => {
            return error(
                StatusCode::REQUEST_TIMEOUT,
                "the request body came too slowly; nothing was appended",
            );
        }
        Ok(Err(_)) => {
            return error(
                StatusCode::PAYLOAD_TOO_LARGE,
                format!(
                    "the request is larger than this server accepts ({limit} bytes{}) or was cut off; nothing was appended",
                    if length.is_none() {
                        " when sent in chunks: send it with Content-Length"
                    } else {
                        ""
                    }
                ),
            );
        }
        Ok(Ok(b)) => b,
    };
    let body_len = bytes.len();
    // Decoded, and every signature checked, here: on all cores, while the writer writes. A
    // request of a few statements is checked in place (a thread hand-off costs more).
    let check = move || field::decode(&bytes).map(Checked::new);
    let checked = if body_len <= 16 << 10 {
        Ok(check())
    } else {
        tokio::task::spawn_blocking(check).await
    };
    let checked = match checked {
        Ok(Ok(c)) => c,
        Ok(Err(e)) => {
            return error(
                StatusCode::BAD_REQUEST,
                format!("{e}; nothing was appended"),
            );
        }
        Err(_) => return error(StatusCode::INTERNAL_SERVER_ERROR, "internal error"),
    };
    let (reply, answer) = tokio::sync::oneshot::channel();
    let job = Job { checked, reply };
    let sender = shared.jobs.lock().ok().and_then(|j| j.clone());
    let Some(sender) = sender else {
        return error(StatusCode::SERVICE_UNAVAILABLE, "the server is stopping");
    };
    // The queue is bounded: a full one makes requests wait their turn.
    if sender.send(job).await.is_err() {
        return error(StatusCode::SERVICE_UNAVAILABLE, "the server is stopping");
    }
    match answer.await {
        Ok(Ok((outcomes, size))) => {
            let refused = outcomes.iter().any(Ingested::refused);
            let status = if refused {
                StatusCode::UNPROCESSABLE_ENTITY
            } else {
                StatusCode::OK
            };
            let mut r = (
                status,
                axum::Json(serde_json::json!({ "results": outcomes, "size": size })),
            )
                .into_response();
            r.headers_mut()
                .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
            r
        }
        Ok(Err(e)) => error(
            StatusCode::SERVICE_UNAVAILABLE,
            format!("{e}; nothing of this request was appended"),
        ),
        Err(_) => error(
            StatusCode::INTERNAL_SERVER_ERROR,
            "the writer stopped; nothing of this request was appended",
        ),
    }
}
