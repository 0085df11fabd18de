//! Load on `custody serve` over loopback, bounded in clients and time, against a `custody
//! add` loop and a `git commit` on the same machine in the same run (BENCHMARKS.md records
//! one run). Opt-in and heavy:
//!
//!     cargo bench --bench serve                       # 50 clients for 30 s
//!     cargo bench --bench serve -- --clients 8 --seconds 5 --kill
//!
//! Every client POSTs one signed media statement at a time (pre-signed, so that the
//! clients' signing does not compete with the server for the two cores) and waits for the
//! answer, which comes only once the append is fsync'd. With `--kill`, the server is
//! killed (SIGKILL) under load at the end, and every acknowledged append is looked up in
//! the ledger afterwards.

use std::io::BufRead;
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_custody");

fn run(dir: &Path, args: &[&str]) -> String {
    let out = Command::new(BIN)
        .current_dir(dir)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("custody runs");
    assert!(
        out.status.success(),
        "custody {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn arg(name: &str, default: u64) -> u64 {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn ledger(dir: &Path, name: &str) {
    run(
        dir,
        &[
            "init",
            "--ledger",
            name,
            "--origin",
            "bench.example/serve",
            "--key",
            "ledger.key",
        ],
    );
    run(
        dir,
        &[
            "key",
            "authorize",
            "--ledger",
            name,
            "--key",
            "ledger.key",
            "alice.pub",
            "--name",
            "alice",
            "--role",
            "investigator",
        ],
    );
}

/// One HTTP/1.1 keep-alive connection that POSTs a body and reads the answer: as little
/// work as a client can do, so that the load generator, which shares the machine's cores
/// with the server, takes as little of them as it can.
struct Client {
    addr: String,
    stream: Option<std::io::BufReader<std::net::TcpStream>>,
}

impl Client {
    fn post(
        &mut self,
        path: &str,
        content_type: &str,
        body: &[u8],
    ) -> std::io::Result<(u16, Vec<u8>)> {
        use std::io::{Read, Write};
        if self.stream.is_none() {
            let s = std::net::TcpStream::connect(&self.addr)?;
            s.set_nodelay(true)?;
            s.set_read_timeout(Some(Duration::from_secs(60)))?;
            self.stream = Some(std::io::BufReader::new(s));
        }
        let answer = (|| {
            let r = self.stream.as_mut().expect("connected");
            let mut request = format!(
                "POST {path} HTTP/1.1\r\nHost: {}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\n\r\n",
                self.addr,
                body.len()
            )
            .into_bytes();
            request.extend_from_slice(body);
            r.get_mut().write_all(&request)?;
            let mut status = 0u16;
            let mut length = 0usize;
            let mut line = String::new();
            loop {
                line.clear();
                if r.read_line(&mut line)? == 0 {
                    return Err(std::io::ErrorKind::UnexpectedEof.into());
                }
                let l = line.trim_end();
                if l.is_empty() {
                    break;
                }
                if let Some(rest) = l.strip_prefix("HTTP/1.1 ") {
                    status = rest.get(..3).and_then(|s| s.parse().ok()).unwrap_or(0);
                } else if let Some((k, v)) = l.split_once(':')
                    && k.eq_ignore_ascii_case("content-length")
                {
                    length = v.trim().parse().unwrap_or(0);
                }
            }
            let mut answer = vec![0; length];
            r.read_exact(&mut answer)?;
            Ok((status, answer))
        })();
        if answer.is_err() {
            self.stream = None;
        }
        answer
    }
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

fn main() {
    let clients = arg("--clients", 50) as usize;
    let seconds = arg("--seconds", 30);
    let kill = std::env::args().any(|a| a == "--kill");
    let work = tempfile::tempdir().unwrap();
    let dir = work.path();
    run(dir, &["key", "generate", "ledger", "--dir", "."]);
    run(dir, &["key", "generate", "alice", "--dir", "."]);
    ledger(dir, "served");
    ledger(dir, "looped");

    // Pre-signed statements, enough for the run at well over any rate this machine reaches.
    let key = custody::keys::load_secret(&dir.join("alice.key")).unwrap();
    let per_client = 15_000 * seconds as usize / clients + 100;
    eprintln!("signing {} statements ...", per_client * clients);
    let bodies: Vec<Vec<Vec<u8>>> = {
        use rayon::prelude::*;
        (0..clients)
            .into_par_iter()
            .map(|c| {
                (0..per_client)
                    .map(|i| {
                        let sha = <sha2::Sha256 as sha2::Digest>::digest(format!("{c} {i}"));
                        let item = custody::field::sign_media(
                            &key,
                            custody::ledger::MediaInput::new(sha.into(), 1),
                            custody::unix_ms(),
                        )
                        .unwrap();
                        custody::field::encode(&[item])
                    })
                    .collect()
            })
            .collect()
    };

    // The server.
    let mut server = Command::new(BIN)
        .current_dir(dir)
        .args([
            "serve",
            "--ledger",
            "served",
            "--key",
            "ledger.key",
            "--listen",
            "127.0.0.1:0",
            "--checkpoint-every",
            "1s",
        ])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut err = std::io::BufReader::new(server.stderr.take().unwrap());
    let mut line = String::new();
    err.read_line(&mut line).unwrap();
    let addr = line
        .split_whitespace()
        .find_map(|w| w.strip_prefix("http://"))
        .unwrap()
        .trim_end_matches(';')
        .to_owned();
    std::thread::spawn(move || for _ in err.lines() {});
    let url = format!("http://{addr}/add");

    eprintln!("{clients} clients for {seconds} s against {url} ...");
    let stop = Arc::new(AtomicBool::new(false));
    let acked: Arc<Mutex<Vec<(u64, String)>>> = Arc::default();
    let latencies: Arc<Mutex<Vec<Duration>>> = Arc::default();
    let failures = Arc::new(std::sync::atomic::AtomicU64::new(0));
    let start = Instant::now();
    let threads: Vec<_> = bodies
        .into_iter()
        .map(|mine| {
            let (stop, acked, latencies, failures, addr) = (
                stop.clone(),
                acked.clone(),
                latencies.clone(),
                failures.clone(),
                addr.clone(),
            );
            std::thread::spawn(move || {
                let mut client = Client { addr, stream: None };
                let mut mine_acked = Vec::new();
                let mut mine_lat = Vec::new();
                for body in mine {
                    if stop.load(Ordering::Relaxed) {
                        break;
                    }
                    let t0 = Instant::now();
                    let answer = client.post("/add", custody::field::MEDIA_TYPE, &body);
                    let Ok((status, text)) = answer else {
                        failures.fetch_add(1, Ordering::Relaxed);
                        if stop.load(Ordering::Relaxed) {
                            break;
                        }
                        continue;
                    };
                    if status != 200 {
                        failures.fetch_add(1, Ordering::Relaxed);
                        continue;
                    }
                    mine_lat.push(t0.elapsed());
                    let v: serde_json::Value = serde_json::from_slice(&text).unwrap();
                    let r = &v["results"][0];
                    mine_acked.push((
                        r["seq"].as_u64().unwrap(),
                        r["leaf_hash"].as_str().unwrap().to_owned(),
                    ));
                }
                acked.lock().unwrap().extend(mine_acked);
                latencies.lock().unwrap().extend(mine_lat);
            })
        })
        .collect();
    std::thread::sleep(Duration::from_secs(seconds));
    if kill {
        server.kill().unwrap();
    }
    stop.store(true, Ordering::Relaxed);
    for t in threads {
        t.join().unwrap();
    }
    let elapsed = start.elapsed();
    if kill {
        server.wait().unwrap();
    } else {
        Command::new("kill")
            .args(["-TERM", &server.id().to_string()])
            .status()
            .unwrap();
        server.wait().unwrap();
    }
    let acked = acked.lock().unwrap().clone();
    let mut lat = latencies.lock().unwrap().clone();
    lat.sort();
    let served_rate = acked.len() as f64 / elapsed.as_secs_f64();

    // Every acknowledged append is in the ledger, at its number, with its leaf hash.
    run(dir, &["recover", "--ledger", "served"]);
    let log: serde_json::Value =
        serde_json::from_str(&run(dir, &["log", "--ledger", "served", "--json"])).unwrap();
    let log = log.as_array().unwrap();
    let lost = acked
        .iter()
        .filter(|(seq, leaf)| {
            log.get(*seq as usize).and_then(|r| r["leaf_hash"].as_str()) != Some(leaf.as_str())
        })
        .count();

    // A `custody add media` loop on the same machine: one process and one fsync per record.
    std::fs::write(dir.join("f.bin"), b"x").unwrap();
    let loop_secs = 10.min(seconds.max(3));
    let t0 = Instant::now();
    let mut looped = 0u64;
    while t0.elapsed() < Duration::from_secs(loop_secs) {
        std::fs::write(dir.join("f.bin"), looped.to_string()).unwrap();
        run(
            dir,
            &[
                "add",
                "media",
                "--ledger",
                "looped",
                "--key",
                "alice.key",
                "f.bin",
            ],
        );
        looped += 1;
    }
    let loop_rate = looped as f64 / t0.elapsed().as_secs_f64();

    // One `git commit` (the goal's yardstick for latency), median of 21.
    let repo = dir.join("repo");
    std::fs::create_dir(&repo).unwrap();
    let git = |args: &[&str]| {
        Command::new("git")
            .current_dir(&repo)
            .args(args)
            .env("GIT_AUTHOR_NAME", "b")
            .env("GIT_AUTHOR_EMAIL", "b@example.org")
            .env("GIT_COMMITTER_NAME", "b")
            .env("GIT_COMMITTER_EMAIL", "b@example.org")
            .output()
            .unwrap()
    };
    git(&["init", "-q"]);
    let mut commits = Vec::new();
    for i in 0..21 {
        std::fs::write(repo.join("f"), i.to_string()).unwrap();
        git(&["add", "f"]);
        let t0 = Instant::now();
        git(&["commit", "-q", "-m", "x"]);
        commits.push(t0.elapsed());
    }
    commits.sort();
    let commit = commits[10];

    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    println!(
        "machine: {} cores; {clients} clients for {:.1} s over loopback, one statement a request",
        std::thread::available_parallelism().map_or(0, |n| n.get()),
        elapsed.as_secs_f64()
    );
    println!("| measure | value |");
    println!("|---|---|");
    println!(
        "| serve: appends acknowledged (each fsync'd first) | {} ({:.0}/s) |",
        acked.len(),
        served_rate
    );
    println!(
        "| serve: failed requests | {} |",
        failures.load(Ordering::Relaxed)
    );
    println!(
        "| serve: latency p50 / p99 | {:.1} ms / {:.1} ms |",
        ms(percentile(&lat, 0.5)),
        ms(percentile(&lat, 0.99))
    );
    println!("| `custody add media` loop | {loop_rate:.1}/s |");
    println!(
        "| serve / add loop | {:.0}x |",
        served_rate / loop_rate.max(f64::MIN_POSITIVE)
    );
    println!("| `git commit` (median of 21) | {:.1} ms |", ms(commit));
    println!(
        "| serve p50 / git commit | {:.2} |",
        ms(percentile(&lat, 0.5)) / ms(commit)
    );
    println!(
        "| acknowledged appends missing afterwards{} | {lost} |",
        if kill {
            " (server killed with SIGKILL under load)"
        } else {
            ""
        }
    );
    assert_eq!(lost, 0, "acknowledged appends were lost");
}
