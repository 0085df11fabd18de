//! `custody serve`, `custody push` and `custody publish`, for real on loopback: appends by
//! `custody push` and by `curl`, reads by a third-party tlog-tiles client (the `tlog_tiles`
//! crate) that computes the checkpoint's root and proves each pushed record, published
//! files equal to what the server serves, hostile requests, and kill -9 under load.

use crate::field::{sign_media, sign_testimony};
use crate::seal::{audit_opened, sealed};
use crate::tiles::c2sp;
use crate::util::{Fixture, ORIGIN, Output};
use std::io::{BufRead, Read, Write};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// A running `custody serve`; killed when dropped.
pub(crate) struct Server {
    child: std::process::Child,
    pub(crate) addr: String,
    stderr: Arc<Mutex<String>>,
}

impl Server {
    pub(crate) fn start(f: &Fixture, more: &[&str]) -> Server {
        let ledger = f.p("ledger");
        let key = f.p("keys/ledger.key");
        let base = [
            "serve",
            "--ledger",
            ledger.as_str(),
            "--key",
            key.as_str(),
            "--listen",
            "127.0.0.1:0",
        ];
        // A checkpoint every 200 ms unless the test chooses.
        let schedule: &[&str] = if more.contains(&"--checkpoint-every") {
            &[]
        } else {
            &["--checkpoint-every", "200ms"]
        };
        let mut child = f.spawn(&[&base[..], schedule, more].concat());
        let mut err = std::io::BufReader::new(child.stderr.take().unwrap());
        let mut line = String::new();
        err.read_line(&mut line).unwrap();
        let addr = line
            .split_whitespace()
            .find_map(|w| w.strip_prefix("http://"))
            .unwrap_or_else(|| panic!("no address in {line:?}"))
            .trim_end_matches(';')
            .to_owned();
        let stderr = Arc::new(Mutex::new(line));
        let sink = stderr.clone();
        std::thread::spawn(move || {
            for l in err.lines().map_while(Result::ok) {
                sink.lock().unwrap().push_str(&(l + "\n"));
            }
        });
        Server {
            child,
            addr,
            stderr,
        }
    }

    pub(crate) fn url(&self, path: &str) -> String {
        format!("http://{}/{path}", self.addr)
    }

    fn get(&self, path: &str) -> (u16, Vec<u8>, Vec<(String, String)>) {
        http_get(&self.url(path))
    }

    /// Waits until the served checkpoint covers `size` records; returns its text.
    fn checkpoint_of(&self, size: u64) -> String {
        let start = Instant::now();
        loop {
            let (status, body, _) = self.get("checkpoint");
            if status == 200 {
                let text = String::from_utf8(body).unwrap();
                if text.lines().nth(1).and_then(|s| s.parse::<u64>().ok()) >= Some(size) {
                    return text;
                }
            }
            assert!(
                start.elapsed() < Duration::from_secs(30),
                "no checkpoint of {size} records; server said:\n{}",
                self.stderr.lock().unwrap()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// SIGTERM, and the exit status.
    fn stop(mut self) -> i32 {
        let pid = self.child.id().to_string();
        std::process::Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .unwrap();
        let status = self.child.wait().unwrap();
        status.code().unwrap_or(-1)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(30)))
        .build()
        .into()
}

pub(crate) fn http_get(url: &str) -> (u16, Vec<u8>, Vec<(String, String)>) {
    let mut r = agent().get(url).call().unwrap();
    let headers = r
        .headers()
        .iter()
        .map(|(k, v)| (k.as_str().to_owned(), v.to_str().unwrap_or("").to_owned()))
        .collect();
    let status = r.status().as_u16();
    let body = r
        .body_mut()
        .with_config()
        .limit(64 << 20)
        .read_to_vec()
        .unwrap();
    (status, body, headers)
}

pub(crate) fn http_post(
    url: &str,
    content_type: &str,
    body: &[u8],
) -> std::io::Result<(u16, Vec<u8>)> {
    let mut r = agent()
        .post(url)
        .header("Content-Type", content_type)
        .send(body)
        .map_err(std::io::Error::other)?;
    let status = r.status().as_u16();
    let body = r.body_mut().read_to_vec().map_err(std::io::Error::other)?;
    Ok((status, body))
}

fn header<'a>(headers: &'a [(String, String)], name: &str) -> &'a str {
    headers
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(name))
        .map_or("", |(_, v)| v.as_str())
}

/// Their tile reader, fetching from the server.
struct HttpTiles<'a>(&'a Server);

impl tlog_tiles::TileReader for HttpTiles<'_> {
    fn height(&self) -> u8 {
        8
    }
    fn read_tiles(&self, tiles: &[tlog_tiles::Tile]) -> Result<Vec<Vec<u8>>, tlog_tiles::Error> {
        tiles
            .iter()
            .map(|t| {
                let (status, body, _) = self.0.get(&c2sp(t));
                (status == 200)
                    .then_some(body)
                    .ok_or(tlog_tiles::Error::InvalidTile)
            })
            .collect()
    }
    fn save_tiles(&self, _: &[tlog_tiles::Tile], _: &[Vec<u8>]) {}
}

/// The ledger's verifier key in signed-note form.
fn ledger_vkey(f: &Fixture) -> String {
    use base64::Engine;
    let pk = custody::keys::load_public(&f.path("keys/ledger.pub")).unwrap();
    let mut raw = vec![0x01];
    raw.extend_from_slice(pk.as_bytes());
    format!(
        "{ORIGIN}+{:08x}+{}",
        signed_note::key_id(ORIGIN, &raw),
        base64::engine::general_purpose::STANDARD.encode(&raw)
    )
}

/// The served checkpoint, opened by a third-party signed-note library with the ledger's
/// key and parsed by the third-party tlog-tiles crate: (size, root).
fn open_served(f: &Fixture, text: &str) -> (u64, tlog_tiles::Hash) {
    let verifiers = signed_note::VerifierList::new(vec![Box::new(
        signed_note::StandardVerifier::new(&ledger_vkey(f)).unwrap(),
    )]);
    let note = signed_note::Note::from_bytes(text.as_bytes()).unwrap();
    let (verified, _) = note.verify(&verifiers).expect("signed by the ledger key");
    assert_eq!(verified.len(), 1);
    let cp = tlog_tiles::Checkpoint::from_bytes(note.text()).unwrap();
    assert_eq!(cp.origin(), ORIGIN);
    (cp.size(), *cp.hash())
}

fn push(f: &Fixture, server: &Server, files: &[&str]) -> Output {
    let url = format!("http://{}", server.addr);
    let paths: Vec<String> = files.iter().map(|x| f.p(x)).collect();
    let paths: Vec<&str> = paths.iter().map(String::as_str).collect();
    f.run(&[&["push", "--server", url.as_str(), "--json"][..], &paths].concat())
}

fn pushed(o: &Output) -> Vec<serde_json::Value> {
    let v: serde_json::Value =
        serde_json::from_str(&o.stdout).unwrap_or_else(|e| panic!("{e}: {}", o.all()));
    v["statements"].as_array().unwrap().clone()
}

#[test]
fn pushed_statements_are_followed_by_a_third_party_tlog_client() {
    let f = sealed();
    let vkey = crate::witness::witness(&f);
    let served_witness = crate::witness::Served::start(&f);
    let server = Server::start(
        &f,
        &["--witness", &served_witness.url, "--witness-key", &vkey],
    );
    // custody push: a testimony and a media statement signed in the field.
    assert_eq!(
        sign_testimony(&f, "alice", "an account from the field", "t.cst", &[]).code,
        0
    );
    assert_eq!(
        sign_media(&f, "alice", "clip.mp4", b"clip bytes", "m.cst", &[]).code,
        0
    );
    let o = push(&f, &server, &["t.cst"]);
    assert_eq!(o.code, 0, "{}", o.all());
    let mut leaves: Vec<(u64, String)> = Vec::new();
    for s in pushed(&o) {
        assert_eq!(s["outcome"], "appended", "{s}");
        leaves.push((
            s["seq"].as_u64().unwrap(),
            s["leaf_hash"].as_str().unwrap().to_owned(),
        ));
    }
    // curl, the same bytes as any HTTP client sends them.
    let curl = std::process::Command::new("curl")
        .args([
            "-sS",
            "-H",
            &format!("Content-Type: {}", custody::field::MEDIA_TYPE),
            "--data-binary",
            &format!("@{}", f.p("m.cst")),
            &server.url("add"),
        ])
        .output()
        .expect("curl runs");
    assert!(curl.status.success(), "{curl:?}");
    let v: serde_json::Value = serde_json::from_slice(&curl.stdout).unwrap();
    let s = &v["results"][0];
    assert_eq!(s["outcome"], "appended", "{v}");
    leaves.push((
        s["seq"].as_u64().unwrap(),
        s["leaf_hash"].as_str().unwrap().to_owned(),
    ));
    // A replay appends nothing.
    let o = push(&f, &server, &["m.cst"]);
    assert_eq!(o.code, 0, "{}", o.all());
    assert_eq!(pushed(&o)[0]["outcome"], "already");
    // The scheduled checkpoint covers them, cosigned by the witness.
    let size = leaves.iter().map(|(s, _)| s + 1).max().unwrap();
    let text = server.checkpoint_of(size);
    assert!(
        text.contains("— witness.example.org/w1 "),
        "not witnessed:\n{text}"
    );
    let (status, _, headers) = server.get("checkpoint");
    assert_eq!(status, 200);
    assert!(header(&headers, "content-type").starts_with("text/plain"));
    let (cp_size, root) = open_served(&f, &text);
    assert_eq!(cp_size, size);
    // Their client, from our tiles over HTTP: the root, and each record's inclusion.
    let reader = HttpTiles(&server);
    let th = tlog_tiles::TileHashReader::new(cp_size, root, &reader);
    assert_eq!(tlog_tiles::tree_hash(cp_size, &th).unwrap(), root);
    let bundle_tile = custody::tiles::Tile::of_tree(0, 0, cp_size).unwrap();
    let (status, bundle, headers) = server.get(&bundle_tile.entries_path());
    assert_eq!(status, 200);
    assert_eq!(header(&headers, "content-type"), "application/octet-stream");
    assert!(header(&headers, "cache-control").contains("immutable"));
    let entries = custody::tiles::decode_bundle(&bundle, usize::from(bundle_tile.width)).unwrap();
    for (seq, leaf) in &leaves {
        let entry = entries[*seq as usize];
        let h = tlog_tiles::record_hash(entry);
        assert_eq!(&hex::encode(h.0), leaf, "record {seq}");
        let proof = tlog_tiles::prove_record(cp_size, *seq, &th).unwrap();
        tlog_tiles::check_record(&proof, cp_size, root, *seq, h).unwrap();
        // Our own reads agree: the record, and its proof at /proof.
        let (status, body, _) = server.get(&format!("record/{seq}"));
        assert_eq!(status, 200);
        let rec: serde_json::Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(rec["leaf_hash"].as_str().unwrap(), leaf);
        let (status, body, _) = server.get(&format!("proof/{seq}"));
        assert_eq!(status, 200);
        let proof_text = String::from_utf8(body).unwrap();
        assert!(
            proof_text.starts_with(&format!("c2sp.org/tlog-proof@v1\nindex {seq}\n")),
            "{proof_text}"
        );
    }
    // The media lookup by SHA-256 finds the pushed file's record, verified.
    let sha = hex::encode(<sha2::Sha256 as sha2::Digest>::digest(b"clip bytes"));
    let (status, body, _) = server.get(&format!("media/{sha}"));
    assert_eq!(status, 200);
    let reports: serde_json::Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(reports[0]["seq"].as_u64(), Some(leaves[1].0), "{reports}");
    assert_eq!(server.get(&format!("media/{}", "0".repeat(64))).0, 404);
    assert_eq!(server.stop(), 0);
    // The ledger audits clean afterwards, texts opened.
    let audit = audit_opened(&f, &[]);
    assert_eq!(audit.code, 0, "{}", audit.all());
}

#[test]
fn push_waits_for_the_checkpoint_and_checks_each_inclusion_proof() {
    let f = sealed();
    let server = Server::start(&f, &[]);
    let url = format!("http://{}", server.addr);
    for (i, name) in ["a.cst", "b.cst"].iter().enumerate() {
        let o = sign_media(&f, "alice", &format!("{i}.jpg"), name.as_bytes(), name, &[]);
        assert_eq!(o.code, 0, "{}", o.all());
    }
    let vkey = ledger_vkey(&f);
    let wait_push = |vkey: &str, files: &[&str]| {
        let paths: Vec<String> = files.iter().map(|x| f.p(x)).collect();
        let paths: Vec<&str> = paths.iter().map(String::as_str).collect();
        let base = [
            "push",
            "--server",
            url.as_str(),
            "--json",
            "--wait-proof",
            "30s",
            "--ledger-key",
            vkey,
            "--proofs",
            &f.p("receipts"),
        ];
        f.run(&[&base[..], &paths].concat())
    };
    let o = wait_push(&vkey, &["a.cst", "b.cst"]);
    assert_eq!(o.code, 0, "{}", o.all());
    let lines = pushed(&o);
    assert_eq!(lines.len(), 2);
    for s in &lines {
        let seq = s["seq"].as_u64().unwrap();
        let covered = s["included_in"].as_u64().unwrap_or_else(|| panic!("{s}"));
        assert!(covered > seq, "{s}");
        // The receipt: a tlog-proof whose checkpoint a third-party signed-note library
        // opens with the ledger's key, and whose path leads from the record's leaf (the
        // third-party tlog-tiles crate's hash of the record bytes) to its root.
        let text = std::fs::read_to_string(f.path(&format!("receipts/{seq}.tlog-proof"))).unwrap();
        let proof = custody::proof::InclusionProofText::parse(&text).unwrap();
        assert_eq!(proof.index, seq);
        let (size, root) = open_served(&f, &proof.checkpoint);
        assert_eq!(size, covered);
        let (status, body, _) = server.get(&format!("record/{seq}"));
        assert_eq!(status, 200);
        let rec: serde_json::Value = serde_json::from_slice(&body).unwrap();
        use base64::Engine;
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(rec["record_bytes"].as_str().unwrap())
            .unwrap();
        let leaf = tlog_tiles::record_hash(&bytes);
        let path: Vec<tlog_tiles::Hash> =
            proof.hashes.iter().map(|h| tlog_tiles::Hash(*h)).collect();
        tlog_tiles::check_record(&path, size, root, seq, leaf).unwrap();
    }
    // Pinned to another key (alice's, under the ledger's name): nothing is proven, exit 1.
    let alice = custody::keys::load_public(&f.path("keys/alice.pub")).unwrap();
    let wrong = custody::note::verifier_key(ORIGIN, alice.as_bytes());
    let o = wait_push(&wrong, &["a.cst"]);
    assert_eq!(o.code, 1, "{}", o.all());
    let s = &pushed(&o)[0];
    assert_eq!(s["outcome"], "already", "{s}");
    assert!(
        s["not_proven"]
            .as_str()
            .unwrap()
            .contains("pinned ledger key"),
        "{s}"
    );
    assert!(s.get("included_in").is_none(), "{s}");
    assert_eq!(server.stop(), 0);

    // A server whose next checkpoint is an hour away: push says, after its wait, that the
    // record is not yet covered (and the record is there all the same).
    let server = Server::start(&f, &["--checkpoint-every", "1h"]);
    let o = sign_media(&f, "alice", "c.jpg", b"c", "c.cst", &[]);
    assert_eq!(o.code, 0, "{}", o.all());
    let url = format!("http://{}", server.addr);
    let o = f.run(&[
        "push",
        "--server",
        &url,
        "--wait-proof",
        "1s",
        "--ledger-key",
        &vkey,
        &f.p("c.cst"),
    ]);
    assert_eq!(o.code, 1, "{}", o.all());
    assert!(o.stdout.contains("appended record"), "{}", o.all());
    assert!(o.stdout.contains("NOT PROVEN"), "{}", o.all());
    assert!(o.stdout.contains("not yet covered"), "{}", o.all());
    assert_eq!(server.stop(), 0);
}

/// Every file under `dir` by its path relative to `dir`.
fn published(dir: &std::path::Path) -> Vec<(String, Vec<u8>)> {
    crate::seal::files_under(dir)
        .into_iter()
        .map(|(p, b)| {
            (
                p.strip_prefix(dir).unwrap().to_string_lossy().into_owned(),
                b,
            )
        })
        .collect()
}

fn publish(f: &Fixture) -> serde_json::Value {
    let o = f.ok(&[
        "publish",
        "--ledger",
        &f.p("ledger"),
        "--out",
        &f.p("pub"),
        "--json",
    ]);
    serde_json::from_str(&o.stdout).unwrap()
}

#[test]
fn publish_refuses_another_history_and_folders_that_are_links() {
    // Two ledgers under one origin: A published into a directory, then B into the same.
    let a = Fixture::with_records(3);
    let b = Fixture::with_records(5);
    a.checkpoint();
    b.checkpoint();
    let out = a.p("pub");
    let run = |f: &Fixture, more: &[&str]| {
        let base = ["publish", "--ledger", &f.p("ledger"), "--out", &out];
        f.run(&[&base[..], more].concat())
    };
    assert_eq!(run(&a, &[]).code, 0);
    let before = published(&a.path("pub"));
    let o = run(&b, &[]);
    assert_eq!(o.code, 2, "{}", o.all());
    assert!(o.stderr.contains("not this ledger's"), "{}", o.stderr);
    assert_eq!(published(&a.path("pub")), before, "a refused publish wrote");
    // --all rewrites every file, and the directory is then B's.
    assert_eq!(run(&b, &["--all"]).code, 0);
    assert_eq!(run(&b, &[]).code, 0);
    let o = run(&a, &[]);
    assert_eq!(o.code, 2, "{}", o.all());

    // A folder inside the output that is a link elsewhere: nothing is written through it.
    let f = Fixture::with_records(3);
    f.checkpoint();
    std::fs::create_dir_all(f.path("out/tile")).unwrap();
    std::fs::create_dir_all(f.path("elsewhere")).unwrap();
    std::os::unix::fs::symlink(f.path("elsewhere"), f.path("out/tile/entries")).unwrap();
    let o = f.run(&["publish", "--ledger", &f.p("ledger"), "--out", &f.p("out")]);
    assert_eq!(o.code, 2, "{}", o.all());
    assert!(o.stderr.contains("not a plain folder"), "{}", o.stderr);
    assert!(published(&f.path("elsewhere")).is_empty());
}

#[test]
fn media_lookups_come_in_pages() {
    // One file registered 150 times: the answer holds 100 records and links to the rest.
    let f = sealed();
    let key = custody::keys::load_secret(&f.path("keys/alice.key")).unwrap();
    let items: Vec<_> = (0..150)
        .map(|i| {
            custody::field::sign_media(
                &key,
                custody::ledger::MediaInput {
                    name: Some(format!("copy-{i}.mp4")),
                    ..custody::ledger::MediaInput::new([5; 32], 1)
                },
                custody::unix_ms(),
            )
            .unwrap()
        })
        .collect();
    std::fs::write(f.path("m.cst"), custody::field::encode(&items)).unwrap();
    let server = Server::start(&f, &[]);
    let o = push(&f, &server, &["m.cst"]);
    assert_eq!(o.code, 0, "{}", o.all());
    let seqs: Vec<u64> = pushed(&o)
        .iter()
        .map(|s| s["seq"].as_u64().unwrap())
        .collect();
    let sha = hex::encode([5u8; 32]);
    let (status, body, headers) = server.get(&format!("media/{sha}"));
    assert_eq!(status, 200);
    let page: Vec<serde_json::Value> = serde_json::from_slice(&body).unwrap();
    let got: Vec<u64> = page.iter().map(|r| r["seq"].as_u64().unwrap()).collect();
    assert_eq!(got, seqs[..100]);
    let next = format!("</media/{sha}?from={}>; rel=\"next\"", seqs[100]);
    assert_eq!(header(&headers, "link"), next);
    let (status, body, headers) = server.get(&format!("media/{sha}?from={}", seqs[100]));
    assert_eq!(status, 200);
    let page: Vec<serde_json::Value> = serde_json::from_slice(&body).unwrap();
    let got: Vec<u64> = page.iter().map(|r| r["seq"].as_u64().unwrap()).collect();
    assert_eq!(got, seqs[100..]);
    assert!(!headers.iter().any(|(k, _)| k == "link"), "{headers:?}");
    assert_eq!(server.get(&format!("media/{sha}?from=+1")).0, 400);
    assert_eq!(server.stop(), 0);
}

/// `count` media statements by alice in one .cst file.
fn many_media(f: &Fixture, name: &str, count: usize, tag: &str) {
    let key = custody::keys::load_secret(&f.path("keys/alice.key")).unwrap();
    let items: Vec<_> = (0..count)
        .map(|i| {
            let sha = <sha2::Sha256 as sha2::Digest>::digest(format!("{tag} {i}"));
            custody::field::sign_media(
                &key,
                custody::ledger::MediaInput::new(sha.into(), 10),
                custody::unix_ms(),
            )
            .unwrap()
        })
        .collect();
    std::fs::write(f.path(name), custody::field::encode(&items)).unwrap();
}

#[test]
fn publish_writes_what_serve_serves_and_then_only_what_changed() {
    let f = Fixture::with_records(3);
    many_media(&f, "a.cst", 250, "a");
    let server = Server::start(&f, &[]);
    assert_eq!(push(&f, &server, &["a.cst"]).code, 0);
    let size = 4 + 250 + 1;
    server.checkpoint_of(size);
    assert_eq!(server.stop(), 0);
    let first = publish(&f);
    assert_eq!(first["size"].as_u64(), Some(size));
    let files = published(&f.path("pub"));
    assert_eq!(first["files_written"].as_u64(), Some(files.len() as u64));
    // Nothing changed: nothing written.
    let again = publish(&f);
    assert_eq!(again["files_written"].as_u64(), Some(0), "{again}");
    // Byte for byte what the server serves at the same paths.
    let server = Server::start(&f, &["--publish", &f.p("pub2")]);
    for (path, bytes) in &files {
        let (status, body, _) = server.get(path);
        assert_eq!(status, 200, "{path}");
        assert!(&body == bytes, "{path} differs from what serve serves");
    }
    // The tree grows past a tile boundary: only the new and grown tiles, then the checkpoint.
    many_media(&f, "b.cst", 10, "b");
    assert_eq!(push(&f, &server, &["b.cst"]).code, 0);
    let new_size = size + 10;
    server.checkpoint_of(new_size);
    assert_eq!(server.stop(), 0);
    let before: std::collections::BTreeMap<String, Vec<u8>> = files.into_iter().collect();
    let grown = publish(&f);
    let expected: usize = custody::tiles::Tile::new_since(size, new_size)
        .iter()
        .map(|t| if t.level == 0 { 2 } else { 1 })
        .sum::<usize>()
        + 1;
    assert_eq!(
        grown["files_written"].as_u64(),
        Some(expected as u64),
        "{grown}"
    );
    let server = Server::start(&f, &[]);
    for (path, bytes) in published(&f.path("pub")) {
        let (status, body, _) = server.get(&path);
        assert_eq!(status, 200, "{path}");
        assert!(body == bytes, "{path} differs from what serve serves");
        // A full tile once written never changes.
        if let Some(old) = before.get(&path)
            && !path.contains(".p/")
            && path != "checkpoint"
        {
            assert!(old == &bytes, "{path} changed");
        }
    }
    // What the server published itself after its checkpoint (`serve --publish`) is the same.
    let by_cli: std::collections::BTreeMap<String, Vec<u8>> =
        published(&f.path("pub")).into_iter().collect();
    let by_server = published(&f.path("pub2"));
    assert!(by_server.iter().any(|(p, _)| p == "checkpoint"));
    for (path, bytes) in by_server {
        assert!(by_cli.get(&path) == Some(&bytes), "{path} differs");
    }
    drop(server);
    // A directory of another ledger is refused.
    std::fs::write(
        f.path("pub/checkpoint"),
        "example.org/other\n1\nAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n\n— x y\n",
    )
    .unwrap();
    let o = f.run(&["publish", "--ledger", &f.p("ledger"), "--out", &f.p("pub")]);
    assert_eq!(o.code, 2, "{}", o.all());
    assert!(o.stderr.contains("another ledger"), "{}", o.stderr);
}

/// Sends `request` on a fresh connection and returns what the server answered (until it
/// closes the connection, or 10 s pass).
fn raw(server: &Server, request: &[u8]) -> String {
    let mut s = std::net::TcpStream::connect(&server.addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    s.write_all(request).unwrap();
    let mut out = Vec::new();
    let _ = s.read_to_end(&mut out);
    String::from_utf8_lossy(&out).into_owned()
}

#[test]
fn bodies_held_at_once_stay_within_the_budget() {
    // Room for one body of 4 KiB at a time: two stalled uploads of that size hold it one
    // after the other, and a small request behind them waits its turn, then gets 503; the
    // stalled ones are cut off (408); nothing reaches the ledger.
    let f = sealed();
    let server = Server::start(
        &f,
        &[
            "--max-buffered-bytes",
            "4096",
            "--max-request-bytes",
            "4096",
            "--request-timeout",
            "2s",
        ],
    );
    assert_eq!(
        sign_media(&f, "alice", "a.jpg", b"one", "good.cst", &[]).code,
        0
    );
    let before = journal(&f);
    let ty = custody::field::MEDIA_TYPE;
    let stalled: Vec<_> = (0..2)
        .map(|_| {
            let mut s = std::net::TcpStream::connect(&server.addr).unwrap();
            s.write_all(
                format!("POST /add HTTP/1.1\r\nHost: x\r\nContent-Type: {ty}\r\nContent-Length: 4096\r\n\r\ncustody").as_bytes(),
            )
            .unwrap();
            std::thread::sleep(Duration::from_millis(100));
            s
        })
        .collect();
    let good = std::fs::read(f.path("good.cst")).unwrap();
    let (status, body) = http_post(&server.url("add"), ty, &good).unwrap();
    assert_eq!(status, 503, "{}", String::from_utf8_lossy(&body));
    assert!(String::from_utf8_lossy(&body).contains("--max-buffered-bytes"));
    for mut s in stalled {
        s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        let mut out = Vec::new();
        let _ = s.read_to_end(&mut out);
        assert!(
            out.starts_with(b"HTTP/1.1 408"),
            "{}",
            String::from_utf8_lossy(&out)
        );
    }
    assert_eq!(journal(&f), before);
    // With the budget free again, it goes in.
    let (status, _) = http_post(&server.url("add"), ty, &good).unwrap();
    assert_eq!(status, 200);
    assert_eq!(server.stop(), 0);
}

fn journal(f: &Fixture) -> Vec<u8> {
    std::fs::read(f.path("ledger/journal")).unwrap()
}

#[test]
fn hostile_requests_get_clear_errors_and_change_nothing() {
    let f = sealed();
    f.ok(&["key", "generate", "mallory", "--dir", &f.p("keys")]);
    let server = Server::start(
        &f,
        &["--max-request-bytes", "4096", "--request-timeout", "1s"],
    );
    assert_eq!(
        sign_media(&f, "alice", "a.jpg", b"one", "good.cst", &[]).code,
        0
    );
    let o = push(&f, &server, &["good.cst"]);
    assert_eq!(o.code, 0, "{}", o.all());
    let size = pushed(&o)[0]["seq"].as_u64().map(|s| s + 1);
    let before = journal(&f);
    let ty = custody::field::MEDIA_TYPE;
    let add = server.url("add");
    // Too large.
    let (status, body) = http_post(&add, ty, &vec![b'x'; 10_000]).unwrap();
    assert_eq!(status, 413, "{}", String::from_utf8_lossy(&body));
    assert!(String::from_utf8_lossy(&body).contains("larger than this server accepts"));
    // Not a .cst file; the wrong media type.
    let (status, body) = http_post(&add, ty, b"GIF89a").unwrap();
    assert_eq!(status, 400);
    assert!(String::from_utf8_lossy(&body).contains("not a valid signed-statements file"));
    let good = std::fs::read(f.path("good.cst")).unwrap();
    assert_eq!(http_post(&add, "text/plain", &good).unwrap().0, 415);
    // A bad signature, and an unknown key: refused with their reasons.
    let mut forged = good.clone();
    let at = forged.len() - 2;
    forged[at] ^= 1;
    let (status, body) = http_post(&add, ty, &forged).unwrap();
    assert_eq!(status, 422);
    let v: serde_json::Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(v["results"][0]["outcome"], "refused");
    assert!(
        v["results"][0]["reason"]
            .as_str()
            .unwrap()
            .contains("signature"),
        "{v}"
    );
    assert_eq!(
        sign_media(&f, "mallory", "b.jpg", b"two", "mallory.cst", &[]).code,
        0
    );
    let o = push(&f, &server, &["mallory.cst"]);
    assert_eq!(o.code, 1, "{}", o.all());
    assert_eq!(pushed(&o)[0]["outcome"], "refused");
    // A replay: already there.
    let (status, body) = http_post(&add, ty, &good).unwrap();
    assert_eq!(status, 200);
    assert!(String::from_utf8_lossy(&body).contains("\"already\""));
    // Paths that climb out of the tiles, or are not tile paths.
    for path in [
        "/tile/../../../../etc/passwd",
        "/tile/0/../../journal",
        "/tile/0/%2e%2e/%2e%2e/journal",
        "/tile/0/000/../../../ledger/journal",
        "/tile/entries/x001/../000",
        "/tile/0/0000",
        "/tile/00/000",
        "/tile/0/000.p/0",
        "/tile/0/000.p/256",
        "/tile/64/000",
        "/record/-1",
        "/record/99999999999999999999999",
        "/proof/abc",
        "/proof/+0",
        "/record/00",
    ] {
        let answer = raw(
            &server,
            format!("GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").as_bytes(),
        );
        let status = answer.split_whitespace().nth(1).unwrap_or("");
        assert!(status == "400" || status == "404", "{path}: {answer}");
        assert!(
            !answer.contains("custody/v1/journal") && !answer.contains("root:"),
            "{path}"
        );
    }
    // A client that sends its headers too slowly, and one that stalls in its body, are
    // cut off; the server stays up.
    let start = Instant::now();
    let answer = raw(&server, b"GET /checkpoint HTTP/1.1\r\nHost: x\r\n");
    assert!(
        start.elapsed() < Duration::from_secs(9),
        "slow headers held on: {answer}"
    );
    let start = Instant::now();
    let answer = raw(
        &server,
        format!("POST /add HTTP/1.1\r\nHost: x\r\nContent-Type: {ty}\r\nContent-Length: 1000\r\n\r\ncustody").as_bytes(),
    );
    assert!(
        start.elapsed() < Duration::from_secs(9),
        "a stalled body held on"
    );
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    // A body announced larger than the limit is refused before it is read.
    let start = Instant::now();
    let answer = raw(
        &server,
        format!("POST /add HTTP/1.1\r\nHost: x\r\nContent-Type: {ty}\r\nContent-Length: 999999999999\r\n\r\n").as_bytes(),
    );
    assert!(answer.starts_with("HTTP/1.1 413"), "{answer}");
    assert!(start.elapsed() < Duration::from_secs(9));
    // A change of the ledger key: the server signs with the key it was started with.
    let ledger_key = custody::keys::load_secret(&f.path("keys/ledger.key")).unwrap();
    let new_key = custody::keys::generate().unwrap();
    let rotate = custody::field::FieldItem {
        signed: custody::ledger::sign_statement(
            &ledger_key,
            custody::record::Body::LedgerKey {
                key: new_key.verifying_key().to_bytes(),
            },
            custody::unix_ms(),
        )
        .unwrap(),
        text: None,
    };
    let (status, body) = http_post(&add, ty, &custody::field::encode(&[rotate])).unwrap();
    assert_eq!(status, 422);
    assert!(
        String::from_utf8_lossy(&body).contains("custody key rotate"),
        "{}",
        String::from_utf8_lossy(&body)
    );
    // Nothing of it reached the ledger.
    assert_eq!(journal(&f), before);
    assert_eq!(server.stop(), 0);
    assert_eq!(f.audit_json()["report"]["records"].as_u64(), size);
}

#[test]
fn kill_9_under_load_keeps_every_acknowledged_append() {
    let f = Fixture::new();
    let server = Server::start(&f, &[]);
    let key = custody::keys::load_secret(&f.path("keys/alice.key")).unwrap();
    let acked: Arc<Mutex<Vec<(u64, String)>>> = Arc::default();
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let url = server.url("add");
    let clients: Vec<_> = (0..8)
        .map(|c| {
            let (key, acked, stop, url) = (key.clone(), acked.clone(), stop.clone(), url.clone());
            std::thread::spawn(move || {
                for i in 0..10_000u32 {
                    if stop.load(std::sync::atomic::Ordering::SeqCst) {
                        return;
                    }
                    let sha = <sha2::Sha256 as sha2::Digest>::digest(format!("{c} {i}"));
                    let item = custody::field::sign_media(
                        &key,
                        custody::ledger::MediaInput::new(sha.into(), 1),
                        custody::unix_ms(),
                    )
                    .unwrap();
                    let body = custody::field::encode(&[item]);
                    let Ok((200, answer)) = http_post(&url, custody::field::MEDIA_TYPE, &body)
                    else {
                        return;
                    };
                    let v: serde_json::Value = serde_json::from_slice(&answer).unwrap();
                    let r = &v["results"][0];
                    acked.lock().unwrap().push((
                        r["seq"].as_u64().unwrap(),
                        r["leaf_hash"].as_str().unwrap().to_owned(),
                    ));
                }
            })
        })
        .collect();
    let start = Instant::now();
    while acked.lock().unwrap().len() < 200 && start.elapsed() < Duration::from_secs(60) {
        std::thread::sleep(Duration::from_millis(5));
    }
    let mut server = server;
    server.child.kill().unwrap();
    server.child.wait().unwrap();
    stop.store(true, std::sync::atomic::Ordering::SeqCst);
    for c in clients {
        c.join().unwrap();
    }
    let acked = acked.lock().unwrap().clone();
    assert!(
        acked.len() >= 200,
        "only {} appends acknowledged",
        acked.len()
    );
    // Every acknowledged append is there, at its number, with its leaf hash.
    f.ok(&["recover", "--ledger", &f.p("ledger")]);
    let o = f.ok(&["log", "--ledger", &f.p("ledger"), "--json"]);
    let log: serde_json::Value = serde_json::from_str(&o.stdout).unwrap();
    let log = log.as_array().unwrap();
    for (seq, leaf) in &acked {
        let rec = &log[*seq as usize];
        assert_eq!(
            rec["leaf_hash"].as_str(),
            Some(leaf.as_str()),
            "record {seq}"
        );
    }
    let audit = f.audit();
    assert_eq!(audit.code, 0, "{}", audit.all());
}

/// How the fake server below lies.
#[derive(Clone, Copy, PartialEq, Debug)]
enum Lie {
    /// It tells the truth (the check of the test itself).
    None,
    /// It keeps the statement with another signature.
    Signature,
    /// It keeps another statement at the number it gave.
    Statement,
    /// Its checkpoint is signed by another key than the ledger's.
    Key,
}

/// A ledger server that lies to `push` as told: it "appends" each statement as record 0 of
/// a one-record tree and serves its record, proof and checkpoint.
fn lying_server(f: &Fixture, lie: Lie) -> (String, std::thread::JoinHandle<()>) {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    let ledger = custody::keys::load_secret(&f.path("keys/ledger.key")).unwrap();
    let alice = custody::keys::load_secret(&f.path("keys/alice.key")).unwrap();
    let handle = std::thread::spawn(move || {
        let mut record: Option<Vec<u8>> = None;
        for stream in listener.incoming().take(3) {
            let mut s = std::io::BufReader::new(stream.unwrap());
            let mut first = String::new();
            s.read_line(&mut first).unwrap();
            let mut length = 0;
            loop {
                let mut l = String::new();
                s.read_line(&mut l).unwrap();
                if l.trim().is_empty() {
                    break;
                }
                if let Some(v) = l.to_ascii_lowercase().strip_prefix("content-length:") {
                    length = v.trim().parse().unwrap();
                }
            }
            let mut body = vec![0; length];
            s.read_exact(&mut body).unwrap();
            let answer = if first.starts_with("POST /add") {
                let item = custody::field::decode(&body).unwrap().remove(0);
                let mut signed = item.signed;
                if lie == Lie::Signature {
                    signed.signature = [0; 64];
                }
                if lie == Lie::Statement {
                    let other = custody::field::sign_media(
                        &alice,
                        custody::ledger::MediaInput::new([9; 32], 9),
                        custody::unix_ms(),
                    )
                    .unwrap();
                    signed = other.signed;
                }
                let bytes = custody::record::Record {
                    seq: 0,
                    prev: [0; 32],
                    recorded_at_ms: custody::unix_ms(),
                    statement_bytes: signed.bytes,
                    statement: signed.statement,
                    signature: signed.signature,
                }
                .encode();
                let leaf = hex::encode(custody::record::leaf_hash(&bytes));
                record = Some(bytes);
                format!(
                    "{{\"results\":[{{\"outcome\":\"appended\",\"seq\":0,\"leaf_hash\":\"{leaf}\",\"kind\":\"media\",\"claimed_at_ms\":0,\"recorded_at_ms\":0}}],\"size\":1}}"
                )
            } else if first.starts_with("GET /proof/0") {
                let bytes = record.as_ref().unwrap();
                let signer = if lie == Lie::Key { &alice } else { &ledger };
                let cp = custody::checkpoint::Checkpoint {
                    origin: ORIGIN.into(),
                    size: 1,
                    root: custody::record::leaf_hash(bytes),
                    extensions: vec![],
                }
                .sign(signer)
                .unwrap();
                format!("c2sp.org/tlog-proof@v1\nindex 0\n\n{cp}")
            } else {
                use base64::Engine;
                format!(
                    "{{\"seq\":0,\"record_bytes\":\"{}\"}}",
                    base64::engine::general_purpose::STANDARD.encode(record.as_ref().unwrap())
                )
            };
            let mut w = s.into_inner();
            write!(
                w,
                "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{answer}",
                answer.len()
            )
            .unwrap();
        }
    });
    (format!("http://{addr}"), handle)
}

#[test]
fn push_proves_nothing_a_lying_server_says() {
    let f = sealed();
    assert_eq!(
        sign_media(&f, "alice", "a.jpg", b"one", "a.cst", &[]).code,
        0
    );
    let vkey = ledger_vkey(&f);
    for lie in [Lie::None, Lie::Signature, Lie::Statement, Lie::Key] {
        let (url, server) = lying_server(&f, lie);
        let o = f.run(&[
            "push",
            "--server",
            &url,
            "--json",
            "--wait-proof",
            "10s",
            "--ledger-key",
            &vkey,
            "--proofs",
            &f.p(&format!("receipts-{lie:?}")),
            &f.p("a.cst"),
        ]);
        let line = &pushed(&o)[0];
        let receipt = f.path(&format!("receipts-{lie:?}/0.tlog-proof"));
        if lie == Lie::None {
            assert_eq!(o.code, 0, "{}", o.all());
            assert_eq!(line["included_in"], 1, "{line}");
            assert!(receipt.exists());
        } else {
            assert_eq!(o.code, 1, "{lie:?}: {}", o.all());
            assert!(line["not_proven"].is_string(), "{lie:?}: {line}");
            assert!(!receipt.exists(), "{lie:?}: a receipt was kept");
        }
        server.join().unwrap();
    }
}
