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
  custody witness cosign --dir w1 --in req.txt --out resp.txt       (on the witness's side)"
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
    /// Serve the tlog-witness HTTP API: POST /add-checkpoint.
    Serve(ServeArgs),
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
                eprint!("refused ({}): {}", reply.status, reply.body);
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

/// Requests read and judged at once: a slow client holds only its own worker.
const WORKERS: usize = 8;

/// Serves `POST /add-checkpoint` with a few workers: each reads its request, then judges it
/// under the witness's lock, so that no two can pass the same old size.
fn serve(a: ServeArgs) -> anyhow::Result<ExitCode> {
    use tiny_http::Server;
    let w = std::sync::Arc::new(Witness::open(&a.dir)?);
    let server = Server::http(&a.listen)
        .map_err(|e| anyhow::anyhow!("cannot listen on {}: {e}", a.listen))?;
    let addr = server
        .server_addr()
        .to_ip()
        .map_or_else(|| a.listen.clone(), |ip| ip.to_string());
    outln!(
        "witness {} listening on http://{addr}/add-checkpoint",
        w.name()
    )?;
    let server = std::sync::Arc::new(server);
    let workers: Vec<_> = (0..WORKERS)
        .map(|_| {
            let (server, w) = (server.clone(), w.clone());
            std::thread::spawn(move || {
                for req in server.incoming_requests() {
                    answer(&w, req);
                }
            })
        })
        .collect();
    for worker in workers {
        let _ = worker.join();
    }
    Ok(ExitCode::SUCCESS)
}

/// Reads one request (at most one byte past the limit) and answers it.
fn answer(w: &Witness, mut req: tiny_http::Request) {
    use tiny_http::{Header, Response};
    {
        let reply = if req.url() != "/add-checkpoint" {
            witness::Reply::text(404, "the witness serves POST /add-checkpoint only")
        } else if *req.method() != tiny_http::Method::Post {
            witness::Reply::text(405, "use POST")
        } else {
            let mut body = Vec::new();
            match req
                .as_reader()
                .take(MAX_REQUEST as u64 + 1)
                .read_to_end(&mut body)
            {
                Err(e) => witness::Reply::text(400, format!("cannot read the request: {e}")),
                Ok(_) => match w.add_checkpoint(&body, custody::unix_ms() / 1000) {
                    Ok(r) => r,
                    Err(e) => {
                        eprintln!("error: {e}");
                        witness::Reply::text(500, "the witness could not judge this request")
                    }
                },
            }
        };
        let mut response = Response::from_string(reply.body).with_status_code(reply.status);
        if let Ok(header) = Header::from_bytes(&b"Content-Type"[..], reply.content_type.as_bytes())
        {
            response = response.with_header(header);
        }
        // A client that went away gets no answer; the witness goes on.
        let _ = req.respond(response);
    }
}
