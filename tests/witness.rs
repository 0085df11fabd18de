//! The witness (c2sp.org/tlog-witness) through the real binary and files: it cosigns a
//! ledger's consistent checkpoints, refuses stale sizes, bad proofs, unknown ledgers and
//! bad signatures with the spec's codes and unchanged state, keeps a split view as
//! evidence, and its cosignatures verify by the spec alone (Python's `cryptography`).

use crate::util::*;

pub(crate) fn witness(f: &Fixture) -> String {
    let o = f.ok(&[
        "witness",
        "init",
        "--dir",
        &f.p("w"),
        "--name",
        "witness.example.org/w1",
    ]);
    f.ok(&[
        "witness",
        "add-log",
        "--dir",
        &f.p("w"),
        "--origin",
        ORIGIN,
        "--key",
        &f.p("keys/ledger.pub"),
    ]);
    o.stdout.trim().to_owned()
}

fn request(f: &Fixture, ledger: &str, old: u64, out: &str) {
    f.ok(&[
        "witness",
        "request",
        "--ledger",
        &f.p(ledger),
        "--old",
        &old.to_string(),
        "--out",
        &f.p(out),
    ]);
}

fn cosign(f: &Fixture, req: &str, out: &str) -> Output {
    f.run(&[
        "witness",
        "cosign",
        "--dir",
        &f.p("w"),
        "--in",
        &f.p(req),
        "--out",
        &f.p(out),
    ])
}

/// The witness's state files, for "nothing changed" checks (not a temporary file a killed
/// witness left before it could rename it into place).
fn state(f: &Fixture) -> Vec<(String, Vec<u8>)> {
    let mut out: Vec<_> = std::fs::read_dir(f.path("w/state"))
        .unwrap()
        .filter(|e| {
            !e.as_ref()
                .unwrap()
                .file_name()
                .to_string_lossy()
                .starts_with('.')
        })
        .map(|e| {
            let e = e.unwrap();
            (
                e.file_name().to_string_lossy().into_owned(),
                std::fs::read(e.path()).unwrap(),
            )
        })
        .collect();
    out.sort();
    out
}

/// Checks a cosignature line on a checkpoint by c2sp.org/tlog-cosignature alone, in Python
/// with `cryptography`: the key ID from the verifier key, the signed message
/// `cosignature/v1\ntime T\n` + the checkpoint body, and the Ed25519 signature.
fn python_verifies(vkey: &str, body: &str, line: &str) -> bool {
    let script = r#"
import base64, hashlib, struct, sys
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
vkey, body, line = sys.argv[1], open(sys.argv[2]).read(), open(sys.argv[3]).read()
name, keyid, key = vkey.split('+', 2)
raw = base64.b64decode(key)
assert raw[0] == 0x04 and len(raw) == 33, "type 0x04 Ed25519 key"
pk = raw[1:]
assert hashlib.sha256(name.encode() + b"\n\x04" + pk).digest()[:4].hex() == keyid
assert line.startswith("\u2014 " + name + " ") and line.endswith("\n")
sig = base64.b64decode(line.rstrip("\n").split(" ")[2])
assert sig[:4].hex() == keyid and len(sig) == 76
(t,) = struct.unpack(">Q", sig[4:12])
msg = ("cosignature/v1\ntime %d\n" % t).encode() + body.encode()
Ed25519PublicKey.from_public_bytes(pk).verify(sig[12:], msg)
print("ok", t)
"#;
    let dir = tempfile::tempdir().unwrap();
    let (b, l) = (dir.path().join("body"), dir.path().join("line"));
    std::fs::write(&b, body).unwrap();
    std::fs::write(&l, line).unwrap();
    let out = std::process::Command::new("python3")
        .args(["-c", script, vkey])
        .arg(&b)
        .arg(&l)
        .output()
        .unwrap();
    assert!(
        out.status.success() || !out.stderr.is_empty(),
        "python did not run"
    );
    out.status.success() && String::from_utf8_lossy(&out.stdout).starts_with("ok ")
}

fn body_of(signed: &str) -> String {
    signed.split("\n\n").next().unwrap().to_owned() + "\n"
}

#[test]
fn a_witness_cosigns_consistent_checkpoints_and_nothing_else() {
    let f = Fixture::with_records(3);
    let vkey = witness(&f);
    assert!(vkey.starts_with("witness.example.org/w1+"), "{vkey}");
    // First contact: old size 0.
    request(&f, "ledger", 0, "r1.txt");
    let o = cosign(&f, "r1.txt", "c1.txt");
    assert_eq!(o.code, 0, "{}", o.all());
    let line = std::fs::read_to_string(f.path("c1.txt")).unwrap();
    let first = f.checkpoint_text();
    assert!(python_verifies(&vkey, &body_of(&first), &line), "{line}");
    // The check can fail: another body, or another witness's key.
    assert!(!python_verifies(
        &vkey,
        &body_of(&first).replace('\n', "\n\n"),
        &line
    ));
    let other = vkey.replacen("witness.example.org/w1", "witness.example.org/w2", 1);
    assert!(!python_verifies(&other, &body_of(&first), &line));
    let size1: u64 = first.lines().nth(1).unwrap().parse().unwrap();
    // The ledger grows; a request from 0 again is stale: 409 with the witness's size.
    f.media("later.bin", b"later");
    f.checkpoint();
    request(&f, "ledger", 0, "r2.txt");
    let before = state(&f);
    let o = cosign(&f, "r2.txt", "c2.txt");
    assert_eq!(o.code, 1, "{}", o.all());
    assert!(o.stderr.contains("409"), "{}", o.stderr);
    assert!(o.stderr.contains(&format!("--old {size1}")), "{}", o.stderr);
    assert_eq!(state(&f), before, "a refusal changes nothing");
    assert!(!f.path("c2.txt").exists());
    // With the right old size and its consistency proof: cosigned.
    request(&f, "ledger", size1, "r3.txt");
    let o = cosign(&f, "r3.txt", "c3.txt");
    assert_eq!(o.code, 0, "{}", o.all());
    let line = std::fs::read_to_string(f.path("c3.txt")).unwrap();
    assert!(python_verifies(
        &vkey,
        &body_of(&f.checkpoint_text()),
        &line
    ));
    // The state never moves backwards: the first request again is refused.
    let before = state(&f);
    let o = cosign(&f, "r1.txt", "c4.txt");
    assert_eq!(o.code, 1, "{}", o.all());
    assert!(o.stderr.contains("409"), "{}", o.stderr);
    assert_eq!(state(&f), before);
}

#[test]
fn a_split_view_is_refused_and_kept_as_evidence() {
    let f = Fixture::with_records(3);
    witness(&f);
    request(&f, "ledger", 0, "r1.txt");
    assert_eq!(cosign(&f, "r1.txt", "c1.txt").code, 0);
    let size1: u64 = f.checkpoint_text().lines().nth(1).unwrap().parse().unwrap();
    // The ledger key's holder builds a second history under the same origin and key, to
    // the same size.
    let grow = |from: u64, to: u64| fork(&f, from, to, true);
    grow(1, size1);
    request(&f, "fork", size1, "fork.txt");
    let before = state(&f);
    for _ in 0..3 {
        let o = cosign(&f, "fork.txt", "cf.txt");
        assert_eq!(o.code, 1, "{}", o.all());
        assert!(
            o.stderr.contains("409") && o.stderr.contains("split view"),
            "{}",
            o.stderr
        );
        assert!(o.stderr.contains("evidence"), "{}", o.stderr);
    }
    assert_eq!(state(&f), before);
    let kept: Vec<_> = std::fs::read_dir(f.path("w/evidence")).unwrap().collect();
    assert_eq!(
        kept.len(),
        1,
        "the split view is kept once, however often it is sent"
    );
    let evidence = std::fs::read_to_string(kept[0].as_ref().unwrap().path()).unwrap();
    let fork_cp = std::fs::read_to_string(f.path("fork.txt")).unwrap();
    assert!(
        evidence.contains(fork_cp.split("\n\n").nth(1).unwrap()),
        "{evidence}"
    );
    // Grown past the cosigned size, the fork has no consistency proof: 422, and since
    // anyone can send a wrong proof, nothing more is kept.
    grow(size1, size1 + 3);
    request(&f, "fork", size1, "fork2.txt");
    let o = cosign(&f, "fork2.txt", "cf2.txt");
    assert_eq!(o.code, 1, "{}", o.all());
    assert!(o.stderr.contains("422"), "{}", o.stderr);
    assert_eq!(state(&f), before);
    assert_eq!(std::fs::read_dir(f.path("w/evidence")).unwrap().count(), 1);
    // The witness's own checkpoint sent back with a junk proof is no split view.
    let junk = std::fs::read_to_string(f.path("r1.txt")).unwrap().replacen(
        "old 0\n",
        &format!("old {size1}\nAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQE=\n"),
        1,
    );
    std::fs::write(f.path("junk.txt"), junk).unwrap();
    let o = cosign(&f, "junk.txt", "cj.txt");
    assert_eq!(o.code, 1, "{}", o.all());
    assert!(o.stderr.contains("400"), "{}", o.stderr);
    assert_eq!(std::fs::read_dir(f.path("w/evidence")).unwrap().count(), 1);
}

#[test]
fn bad_requests_get_the_specs_codes_and_change_nothing() {
    let f = Fixture::with_records(2);
    witness(&f);
    request(&f, "ledger", 0, "good.txt");
    let good = std::fs::read_to_string(f.path("good.txt")).unwrap();
    // Another ledger key signs a checkpoint of the same origin.
    f.ok(&["key", "generate", "other", "--dir", &f.p("keys")]);
    f.ok(&[
        "init",
        "--ledger",
        &f.p("other"),
        "--origin",
        ORIGIN,
        "--key",
        &f.p("keys/other.key"),
    ]);
    request(&f, "other", 0, "other.txt");
    let unknown = good.replace(ORIGIN, "example.org/unknown");
    let cases: Vec<(&str, String, &str)> = vec![
        ("garbage", "not a request".into(), "400"),
        (
            "old size with a leading zero",
            good.replacen("old 0", "old 00", 1),
            "400",
        ),
        (
            "old size above the checkpoint",
            good.replacen("old 0", "old 99", 1),
            "400",
        ),
        ("an unknown origin", unknown, "404"),
        (
            "signed by another key",
            std::fs::read_to_string(f.path("other.txt")).unwrap(),
            "403",
        ),
        (
            "a proof from size 0",
            good.replacen(
                "old 0\n",
                "old 0\nAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQE=\n",
                1,
            ),
            "422",
        ),
        (
            "too long",
            "old 0\n".to_string() + &"a".repeat(80_000),
            "400",
        ),
    ];
    for (i, (name, body, code)) in cases.into_iter().enumerate() {
        let req = format!("bad{i}.txt");
        std::fs::write(f.path(&req), body).unwrap();
        let o = cosign(&f, &req, &format!("out{i}.txt"));
        assert_eq!(o.code, 1, "{name}: {}", o.all());
        assert!(o.stderr.contains(code), "{name}: {}", o.stderr);
        assert!(state(&f).is_empty(), "{name}: nothing cosigned");
    }
    // And the good one still passes afterwards.
    assert_eq!(cosign(&f, "good.txt", "ok.txt").code, 0);
}

/// A second history of the fixture's ledger, under the same origin and ledger key, in
/// `fork/`: created when `from` is 1, grown by media records `from..to`, and checkpointed
/// if `checkpoint`.
fn fork(f: &Fixture, from: u64, to: u64, checkpoint: bool) {
    let key = f.p("keys/ledger.key");
    if from == 1 {
        f.ok(&[
            "init",
            "--ledger",
            &f.p("fork"),
            "--origin",
            ORIGIN,
            "--key",
            &key,
        ]);
    }
    for i in from..to {
        let file = f.p(&format!("f{i}.bin"));
        std::fs::write(&file, format!("fork {i}")).unwrap();
        f.ok(&[
            "add",
            "media",
            "--ledger",
            &f.p("fork"),
            "--key",
            &key,
            &file,
        ]);
    }
    if checkpoint {
        f.ok(&["checkpoint", "--ledger", &f.p("fork"), "--key", &key]);
    }
}

/// A witness serving on loopback (any free port) while this lives.
pub(crate) struct Served {
    child: std::process::Child,
    pub(crate) url: String,
}

impl Served {
    pub(crate) fn start(f: &Fixture) -> Served {
        Self::start_in(f, "w")
    }

    /// The witness in `dir` of the fixture, serving.
    fn start_in(f: &Fixture, dir: &str) -> Served {
        use std::io::BufRead;
        let mut child = std::process::Command::new(assert_cmd::cargo::cargo_bin("custody"))
            .args([
                "witness",
                "serve",
                "--dir",
                &f.p(dir),
                "--listen",
                "127.0.0.1:0",
            ])
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        let mut line = String::new();
        std::io::BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let url = line
            .split_whitespace()
            .find(|w| w.starts_with("http://"))
            .unwrap_or_else(|| panic!("no address in {line:?}"))
            .to_owned();
        Served { child, url }
    }
}

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub(crate) fn checkpoint_with(f: &Fixture, ledger: &str, served: &Served, vkey: &str) -> Output {
    f.run(&[
        "checkpoint",
        "--ledger",
        &f.p(ledger),
        "--key",
        &f.p("keys/ledger.key"),
        "--witness",
        &served.url,
        "--witness-key",
        vkey,
    ])
}

/// `custody checkpoint --policy POLICY` on the fixture's ledger, with its ledger key.
fn checkpoint_policy(f: &Fixture, policy: &str) -> Output {
    f.run(&[
        "checkpoint",
        "--ledger",
        &f.p("ledger"),
        "--key",
        &f.p("keys/ledger.key"),
        "--policy",
        &f.p(policy),
    ])
}

/// An HTTP client that hands back every status rather than failing on it.
fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .build()
        .into()
}

fn post(url: &str, body: &str) -> (u16, String) {
    let mut resp = agent().post(url).send(body).unwrap();
    let status = resp.status().as_u16();
    (status, resp.body_mut().read_to_string().unwrap())
}

/// `checkpoint --witness` over HTTP: the served witness cosigns, the cosigned checkpoint is
/// stored and printed, the next checkpoint goes from the size the witness cosigned, a fork
/// is refused (exit 1), and a witness that is down does not stop a checkpoint.
#[test]
fn checkpoints_are_cosigned_over_http() {
    let f = Fixture::with_records(3);
    let vkey = witness(&f);
    let served = Served::start(&f);
    let o = checkpoint_with(&f, "ledger", &served, &vkey);
    assert_eq!(o.code, 0, "{}", o.all());
    assert!(
        o.stderr
            .contains("cosigned by witness witness.example.org/w1"),
        "{}",
        o.stderr
    );
    let sigs: Vec<&str> = o
        .stdout
        .lines()
        .filter(|l| l.starts_with('\u{2014}'))
        .collect();
    assert_eq!(
        sigs.len(),
        2,
        "the ledger's signature and the cosignature: {}",
        o.stdout
    );
    let size: u64 = o.stdout.lines().nth(1).unwrap().parse().unwrap();
    let stored = std::fs::read_to_string(f.path(&format!("ledger/cosigned/{size}"))).unwrap();
    assert_eq!(stored, o.stdout);
    assert!(python_verifies(
        &vkey,
        &body_of(&stored),
        &format!("{}\n", sigs[1])
    ));
    // The ledger grows: the next request goes from the witnessed size, with its proof.
    f.media("more.bin", b"more");
    let o = checkpoint_with(&f, "ledger", &served, &vkey);
    assert_eq!(o.code, 0, "{}", o.all());
    assert!(o.stderr.contains("cosigned by"), "{}", o.stderr);
    // A second history under the same origin and key: the witness refuses it.
    fork(&f, 1, 10, false);
    let o = checkpoint_with(&f, "fork", &served, &vkey);
    assert_eq!(o.code, 1, "{}", o.all());
    assert!(o.stderr.contains("inconsistent"), "{}", o.stderr);
    assert!(
        !f.path("fork/cosigned").exists(),
        "nothing cosigned for the fork"
    );
    // The witness down: the checkpoint stands, without a cosignature.
    drop(served);
    let down = Served {
        child: std::process::Command::new("true").spawn().unwrap(),
        url: "http://127.0.0.1:1".into(),
    };
    let o = checkpoint_with(&f, "ledger", &down, &vkey);
    assert_eq!(o.code, 0, "{}", o.all());
    assert!(o.stderr.contains("cannot reach"), "{}", o.stderr);
}

/// The HTTP endpoint: other paths and methods, garbage and oversized bodies get the
/// spec's codes; of many concurrent requests from the same old size, exactly one is
/// cosigned, and the witness's state is that checkpoint.
#[test]
fn the_served_witness_refuses_bad_requests_and_cosigns_one_of_a_race() {
    let f = Fixture::with_records(2);
    let vkey = witness(&f);
    let served = Served::start(&f);
    let base = served.url.trim_end_matches("/add-checkpoint").to_owned();
    let get = agent().get(&served.url).call().unwrap().status().as_u16();
    assert_eq!(get, 405);
    assert_eq!(post(&format!("{base}/other"), "x").0, 404);
    assert_eq!(post(&served.url, "garbage").0, 400);
    assert_eq!(post(&served.url, &"old 0\n".repeat(20_000)).0, 400);
    request(&f, "ledger", 0, "r.txt");
    let body = std::fs::read_to_string(f.path("r.txt")).unwrap();
    let threads: Vec<_> = (0..8)
        .map(|_| {
            let (url, body) = (served.url.clone(), body.clone());
            std::thread::spawn(move || post(&url, &body))
        })
        .collect();
    let codes: Vec<u16> = threads.into_iter().map(|t| t.join().unwrap().0).collect();
    assert_eq!(codes.iter().filter(|&&c| c == 200).count(), 1, "{codes:?}");
    assert!(codes.iter().all(|&c| c == 200 || c == 409), "{codes:?}");
    let st = state(&f);
    assert_eq!(st.len(), 1);
    assert!(String::from_utf8_lossy(&st[0].1).starts_with(ORIGIN));
    let _ = vkey;
}

/// The served witness killed with SIGKILL at random moments while it judges requests:
/// after each restart its state is a whole checkpoint of the ledger, never smaller than
/// before, and never smaller than any size it answered a cosignature for.
#[test]
fn a_witness_killed_at_any_moment_never_moves_backwards() {
    let f = Fixture::with_records(1);
    witness(&f);
    let size_of = |f: &Fixture| -> u64 {
        state(f)
            .first()
            .map(|(_, b)| {
                String::from_utf8_lossy(b)
                    .lines()
                    .nth(1)
                    .unwrap()
                    .parse()
                    .unwrap()
            })
            .unwrap_or(0)
    };
    let mut seen_cosigned = 0u64;
    let mut last_state = 0u64;
    for round in 0..12u64 {
        f.media(
            &format!("k{round}.bin"),
            format!("round {round}").as_bytes(),
        );
        f.checkpoint();
        let known = size_of(&f);
        assert!(known >= last_state, "round {round}: state went back");
        assert!(
            known >= seen_cosigned,
            "round {round}: state behind a cosignature"
        );
        last_state = known;
        let req = format!("k{round}.txt");
        request(&f, "ledger", known, &req);
        let body = std::fs::read_to_string(f.path(&req)).unwrap();
        let mut served = Served::start(&f);
        let url = served.url.clone();
        let size: u64 = body
            .split("\n\n")
            .nth(1)
            .and_then(|cp| cp.lines().nth(1))
            .unwrap()
            .parse()
            .unwrap();
        let client = std::thread::spawn(move || {
            agent()
                .post(&url)
                .send(&body)
                .ok()
                .map(|r| r.status().as_u16())
        });
        // Kill it somewhere between before the request and after the answer.
        std::thread::sleep(std::time::Duration::from_micros(round * 2500));
        rustix_kill(&mut served);
        if client.join().unwrap() == Some(200) {
            seen_cosigned = seen_cosigned.max(size);
        }
    }
    assert!(size_of(&f) >= seen_cosigned);
    assert!(
        seen_cosigned > 0,
        "some rounds were answered before the kill"
    );
    // Afterwards it still judges: from its state, the latest checkpoint is cosigned.
    let known = size_of(&f);
    request(&f, "ledger", known, "last.txt");
    let o = cosign(&f, "last.txt", "last-c.txt");
    assert_eq!(o.code, 0, "{}", o.all());
}

fn rustix_kill(s: &mut Served) {
    // std's kill is SIGKILL on Unix.
    let _ = s.child.kill();
    let _ = s.child.wait();
}

/// A `cosignature/v1` verifier for Cloudflare's `signed_note` library, written from
/// c2sp.org/tlog-cosignature: the library parses the note, dispatches each signature line
/// by name and key ID (computed by the library from `0x04 || key`), and hands over the
/// note text and the bytes after the key ID.
struct CosignatureV1 {
    name: String,
    id: u32,
    key: ed25519_dalek::VerifyingKey,
}

impl signed_note::Verifier for CosignatureV1 {
    fn name(&self) -> &str {
        &self.name
    }
    fn key_id(&self) -> u32 {
        self.id
    }
    fn verify(&self, msg: &[u8], sig: &[u8]) -> bool {
        let Some((ts, sig)) = sig.split_first_chunk::<8>() else {
            return false;
        };
        let Ok(sig) = ed25519_dalek::Signature::from_slice(sig) else {
            return false;
        };
        let mut m = format!("cosignature/v1\ntime {}\n", u64::from_be_bytes(*ts)).into_bytes();
        m.extend_from_slice(msg);
        self.key.verify_strict(&m, &sig).is_ok()
    }
}

/// The cosigned checkpoint custody stores opens under `signed_note` with the ledger's
/// standard verifier key and the witness's cosignature verifier, both signatures verified;
/// with the checkpoint's text changed it does not.
#[test]
fn a_cosigned_checkpoint_opens_in_a_third_party_note_library() {
    use base64::Engine;
    let f = Fixture::with_records(2);
    let vkey = witness(&f);
    let served = Served::start(&f);
    let o = checkpoint_with(&f, "ledger", &served, &vkey);
    assert_eq!(o.code, 0, "{}", o.all());
    let note = o.stdout;
    let ledger_pk = custody::keys::load_public(&f.path("keys/ledger.pub")).unwrap();
    let mut raw = vec![0x01];
    raw.extend_from_slice(ledger_pk.as_bytes());
    let ledger_vkey = format!(
        "{ORIGIN}+{:08x}+{}",
        signed_note::key_id(ORIGIN, &raw),
        base64::engine::general_purpose::STANDARD.encode(&raw)
    );
    let parts: Vec<&str> = vkey.splitn(3, '+').collect();
    let (wname, wkey) = (parts[0], parts[2]);
    let wraw = base64::engine::general_purpose::STANDARD
        .decode(wkey)
        .unwrap();
    assert_eq!(wraw[0], 0x04);
    let verifiers = || {
        signed_note::VerifierList::new(vec![
            Box::new(signed_note::StandardVerifier::new(&ledger_vkey).unwrap()),
            Box::new(CosignatureV1 {
                name: wname.to_owned(),
                id: signed_note::key_id(wname, &wraw),
                key: ed25519_dalek::VerifyingKey::from_bytes(&wraw[1..].try_into().unwrap())
                    .unwrap(),
            }),
        ])
    };
    let parsed = signed_note::Note::from_bytes(note.as_bytes()).unwrap();
    let (verified, unverified) = parsed.verify(&verifiers()).unwrap();
    assert_eq!(
        verified.len(),
        2,
        "the ledger's signature and the cosignature"
    );
    assert!(unverified.is_empty());
    assert!(verified.iter().any(|s| s.name() == wname));
    let changed = note.replacen(ORIGIN, "example.org/custody/tesT", 1);
    let parsed = signed_note::Note::from_bytes(changed.as_bytes()).unwrap();
    assert!(parsed.verify(&verifiers()).is_err());
}

/// `--policy` (Sigsum policy format) on `audit` and `verify`: the latest checkpoint must
/// carry the quorum; a quorum of one witness is met once it cosigned, two of two is not,
/// another ledger key is refused, an altered cosignature does not count, and a malformed
/// policy is bad input.
#[test]
fn a_policy_asks_for_a_quorum_of_cosignatures() {
    use base64::Engine;
    let f = Fixture::with_records(2);
    let vkey = witness(&f);
    let w1 = hex::encode(custody::note::parse_verifier_key(&vkey).unwrap().2);
    let ledger_pk = hex::encode(
        custody::keys::load_public(&f.path("keys/ledger.pub"))
            .unwrap()
            .as_bytes(),
    );
    let other = hex::encode([9u8; 32]);
    let write = |name: &str, text: String| {
        std::fs::write(f.path(name), text).unwrap();
        f.p(name)
    };
    let one = write(
        "one.policy",
        format!("log {ledger_pk}\nwitness W1 {w1} http://w1.example\nquorum W1 # just W1\n"),
    );
    let two = write(
        "two.policy",
        format!("witness W1 {w1}\nwitness W2 {other}\ngroup both all W1 W2\nquorum both\n"),
    );
    let wrong_log = write("wrong.policy", format!("log {other}\nquorum none\n"));
    let none = write("none.policy", "quorum none\n".into());
    let audit = |p: &str| f.run(&["audit", "--ledger", &f.p("ledger"), "--policy", p, "--json"]);
    let verify = |p: &str| f.run(&["verify", "--ledger", &f.p("ledger"), "1", "--policy", p]);
    // Not yet cosigned.
    let o = audit(&one);
    assert_eq!(o.code, 1, "{}", o.all());
    assert!(o.stdout.contains("witness-quorum"), "{}", o.stdout);
    assert_eq!(verify(&one).code, 1);
    assert_eq!(audit(&none).code, 0, "{}", audit(&none).all());
    // Cosigned by W1.
    let served = Served::start(&f);
    assert_eq!(checkpoint_with(&f, "ledger", &served, &vkey).code, 0);
    let o = audit(&one);
    assert_eq!(o.code, 0, "{}", o.all());
    let o = verify(&one);
    assert_eq!(o.code, 0, "{}", o.all());
    assert!(o.stdout.contains("cosigned by W1"), "{}", o.stdout);
    assert_eq!(audit(&two).code, 1, "two of two, one cosigned");
    let o = audit(&wrong_log);
    assert_eq!(o.code, 1);
    assert!(
        o.stdout.contains("not among the policy's logs"),
        "{}",
        o.stdout
    );
    // An altered cosignature counts for nothing.
    let cosigned = std::fs::read_dir(f.path("ledger/cosigned"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| {
            p.file_name()
                .unwrap()
                .to_str()
                .unwrap()
                .parse::<u64>()
                .is_ok()
        })
        .unwrap();
    let text = std::fs::read_to_string(&cosigned).unwrap();
    let last = text.trim_end().rsplit(' ').next().unwrap().to_owned();
    let mut raw = base64::engine::general_purpose::STANDARD
        .decode(&last)
        .unwrap();
    raw[20] ^= 1;
    std::fs::write(
        &cosigned,
        text.replace(
            &last,
            &base64::engine::general_purpose::STANDARD.encode(raw),
        ),
    )
    .unwrap();
    assert_eq!(audit(&one).code, 1);
    // A malformed policy is bad input.
    let bad = write("bad.policy", "quorum W9\n".into());
    let o = audit(&bad);
    assert_eq!(o.code, 2, "{}", o.all());
    assert!(o.stderr.contains("not defined above"), "{}", o.stderr);
}

/// The witness's own files are read without following links, never block on a FIFO, and
/// a state that is a link (even a dangling one) fails closed rather than counting as none.
#[test]
fn the_witness_directory_cannot_be_redirected() {
    let f = Fixture::with_records(1);
    witness(&f);
    request(&f, "ledger", 0, "r.txt");
    assert_eq!(cosign(&f, "r.txt", "c.txt").code, 0);
    let state_file = std::fs::read_dir(f.path("w/state"))
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    let saved = std::fs::read(&state_file).unwrap();
    std::fs::remove_file(&state_file).unwrap();
    // A dangling link: not "no state".
    std::os::unix::fs::symlink(f.path("nowhere"), &state_file).unwrap();
    request(&f, "ledger", 0, "r0.txt");
    let o = cosign(&f, "r0.txt", "c0.txt");
    assert_eq!(o.code, 2, "{}", o.all());
    assert!(o.stderr.contains("link"), "{}", o.stderr);
    // A link to a real file is not followed either.
    std::fs::write(f.path("elsewhere"), &saved).unwrap();
    std::fs::remove_file(&state_file).unwrap();
    std::os::unix::fs::symlink(f.path("elsewhere"), &state_file).unwrap();
    assert_eq!(cosign(&f, "r0.txt", "c1.txt").code, 2);
    // A FIFO in its place: refused at once, not waited on.
    std::fs::remove_file(&state_file).unwrap();
    let mk = std::process::Command::new("mkfifo")
        .arg(&state_file)
        .status()
        .unwrap();
    assert!(mk.success());
    let o = cosign(&f, "r0.txt", "c2.txt");
    assert_eq!(o.code, 2, "{}", o.all());
    std::fs::remove_file(&state_file).unwrap();
    std::fs::write(&state_file, &saved).unwrap();
    let size: u64 = String::from_utf8_lossy(&saved)
        .lines()
        .nth(1)
        .unwrap()
        .parse()
        .unwrap();
    request(&f, "ledger", size, "r2.txt");
    assert_eq!(cosign(&f, "r2.txt", "c3.txt").code, 0);
}

/// Idle connections past the cap get 503 and the witness goes on serving; a flood of
/// header lines is refused (431) after 16 KiB, not buffered; a chunked body is refused.
#[test]
fn the_served_witness_bounds_connections_and_headers() {
    use std::io::{Read, Write};
    let f = Fixture::with_records(1);
    witness(&f);
    let served = Served::start(&f);
    let hostport = served
        .url
        .trim_start_matches("http://")
        .trim_end_matches("/add-checkpoint")
        .to_owned();
    let idle: Vec<std::net::TcpStream> = (0..70)
        .map(|_| std::net::TcpStream::connect(&hostport).unwrap())
        .collect();
    // The connections past the cap are answered at once and closed.
    std::thread::sleep(std::time::Duration::from_millis(300));
    let mut busy = 0;
    for mut c in idle.iter().skip(64) {
        c.set_read_timeout(Some(std::time::Duration::from_secs(5)))
            .unwrap();
        let mut s = String::new();
        let _ = c.read_to_string(&mut s);
        busy += usize::from(s.starts_with("HTTP/1.1 503"));
    }
    assert!(busy >= 1, "past 64 connections, 503");
    drop(idle);
    std::thread::sleep(std::time::Duration::from_millis(300));
    request(&f, "ledger", 0, "r.txt");
    let body = std::fs::read_to_string(f.path("r.txt")).unwrap();
    assert_eq!(post(&served.url, &body).0, 200, "serving again");
    // Header lines without end.
    let mut c = std::net::TcpStream::connect(&hostport).unwrap();
    c.set_read_timeout(Some(std::time::Duration::from_secs(10)))
        .unwrap();
    let _ = c.write_all(b"POST /add-checkpoint HTTP/1.1\r\nHost: x\r\n");
    for _ in 0..4000 {
        if c.write_all(b"X-A: b\r\n").is_err() {
            break;
        }
    }
    let mut s = String::new();
    let _ = c.read_to_string(&mut s);
    assert!(s.starts_with("HTTP/1.1 431"), "{s}");
    // A chunked body.
    let mut c = std::net::TcpStream::connect(&hostport).unwrap();
    c.write_all(
        b"POST /add-checkpoint HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nold 0\r\n0\r\n\r\n",
    )
    .unwrap();
    let mut s = String::new();
    let _ = c.read_to_string(&mut s);
    assert!(s.starts_with("HTTP/1.1 411"), "{s}");
}

/// A second witness's cosignature of the same checkpoint joins the first's; and a
/// witness's words reach the terminal with control characters escaped.
#[test]
fn cosignatures_of_one_checkpoint_add_up() {
    let f = Fixture::with_records(1);
    let vkey1 = witness(&f);
    let o = f.ok(&[
        "witness",
        "init",
        "--dir",
        &f.p("w2"),
        "--name",
        "witness.example.org/w2",
    ]);
    let vkey2 = o.stdout.trim().to_owned();
    f.ok(&[
        "witness",
        "add-log",
        "--dir",
        &f.p("w2"),
        "--origin",
        ORIGIN,
        "--key",
        &f.p("keys/ledger.pub"),
    ]);
    let s1 = Served::start(&f);
    let o = checkpoint_with(&f, "ledger", &s1, &vkey1);
    assert_eq!(o.code, 0, "{}", o.all());
    let size: u64 = o.stdout.lines().nth(1).unwrap().parse().unwrap();
    drop(s1);
    // The second witness serves from its own directory.
    let s2 = Served::start_in(&f, "w2");
    let o = checkpoint_with(&f, "ledger", &s2, &vkey2);
    assert_eq!(o.code, 0, "{}", o.all());
    let stored = std::fs::read_to_string(f.path(&format!("ledger/cosigned/{size}"))).unwrap();
    let lines: Vec<&str> = stored
        .lines()
        .filter(|l| l.starts_with('\u{2014}'))
        .collect();
    assert_eq!(lines.len(), 3, "the ledger's, w1's and w2's: {stored}");
    assert!(
        stored.contains("witness.example.org/w1 ") && stored.contains("witness.example.org/w2 ")
    );
    // A request whose origin holds an escape character: 400, shown escaped.
    request(&f, "ledger", 0, "r.txt");
    let bad = std::fs::read_to_string(f.path("r.txt")).unwrap().replacen(
        ORIGIN,
        &format!("{ORIGIN}\u{1b}[31m"),
        1,
    );
    std::fs::write(f.path("bad.txt"), bad).unwrap();
    let o = cosign(&f, "bad.txt", "c.txt");
    assert_eq!(o.code, 1, "{}", o.all());
    assert!(
        o.stderr.contains("400") && !o.stderr.contains('\u{1b}'),
        "{:?}",
        o.stderr
    );
}

/// Several ledgers at once on one served witness: for each, of the concurrent requests from
/// the same old size exactly one is cosigned, and each has its own state.
#[test]
fn many_logs_at_once_each_get_one_cosignature_per_size() {
    let f = Fixture::with_records(1);
    witness(&f);
    let origins = ["example.org/a", "example.org/b", "example.org/c"];
    for o in origins {
        let l = o.replace('/', "_");
        f.ok(&[
            "init",
            "--ledger",
            &f.p(&l),
            "--origin",
            o,
            "--key",
            &f.p("keys/ledger.key"),
        ]);
        f.ok(&[
            "witness",
            "add-log",
            "--dir",
            &f.p("w"),
            "--origin",
            o,
            "--key",
            &f.p("keys/ledger.pub"),
        ]);
    }
    let served = Served::start(&f);
    let bodies: Vec<String> = origins
        .iter()
        .map(|o| {
            let l = o.replace('/', "_");
            request(&f, &l, 0, &format!("{l}.txt"));
            std::fs::read_to_string(f.path(&format!("{l}.txt"))).unwrap()
        })
        .collect();
    let threads: Vec<_> = (0..24)
        .map(|i| {
            let (url, body) = (served.url.clone(), bodies[i % 3].clone());
            std::thread::spawn(move || (i % 3, post(&url, &body).0))
        })
        .collect();
    let mut ok = [0; 3];
    for t in threads {
        let (log, code) = t.join().unwrap();
        assert!(code == 200 || code == 409, "{code}");
        ok[log] += usize::from(code == 200);
    }
    assert_eq!(ok, [1, 1, 1], "one cosignature per log");
    assert_eq!(state(&f).len(), 3);
}

/// The ledger key's own cosignature never counts as a witness's, even when a policy
/// without `log` lines names that key as a witness.
#[test]
fn the_ledger_cannot_witness_itself() {
    let f = Fixture::with_records(1);
    let vkey = witness(&f);
    let served = Served::start(&f);
    assert_eq!(checkpoint_with(&f, "ledger", &served, &vkey).code, 0);
    let key = custody::keys::load_secret(&f.path("keys/ledger.key")).unwrap();
    let cosigned = std::fs::read_dir(f.path("ledger/cosigned"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| {
            p.file_name()
                .unwrap()
                .to_str()
                .unwrap()
                .parse::<u64>()
                .is_ok()
        })
        .unwrap();
    let text = std::fs::read_to_string(&cosigned).unwrap();
    let body = text.split("\n\n").next().unwrap().to_owned() + "\n";
    let line =
        custody::note::cosign(&body, "self.example/w", &key, custody::unix_ms() / 1000).unwrap();
    std::fs::write(&cosigned, format!("{text}{line}")).unwrap();
    let policy = f.path("self.policy");
    std::fs::write(
        &policy,
        format!(
            "witness S {}\nquorum S\n",
            hex::encode(key.verifying_key().as_bytes())
        ),
    )
    .unwrap();
    let o = f.run(&[
        "audit",
        "--ledger",
        &f.p("ledger"),
        "--policy",
        policy.to_str().unwrap(),
    ]);
    assert_eq!(o.code, 1, "{}", o.all());
}

/// Through files: the ledger writes a request, the witness cosigns it offline, and the
/// ledger takes the response in, verified, as `checkpoint --witness` would have kept it; a
/// response by another key, or for another checkpoint, is refused and nothing is kept.
#[test]
fn a_cosignature_made_through_files_is_taken_in() {
    let f = Fixture::with_records(2);
    let vkey = witness(&f);
    request(&f, "ledger", 0, "req.txt");
    let o = cosign(&f, "req.txt", "resp.txt");
    assert_eq!(o.code, 0, "{}", o.all());
    let accept = |vkey: &str, size: Option<&str>| {
        let mut args = vec![
            "witness".to_owned(),
            "accept".into(),
            "--ledger".into(),
            f.p("ledger"),
            "--in".into(),
            f.p("resp.txt"),
            "--witness-key".into(),
            vkey.into(),
        ];
        if let Some(n) = size {
            args.extend(["--size".into(), n.into()]);
        }
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        f.run(&args)
    };
    // Another witness's key: refused, nothing kept.
    let other = f.run(&[
        "witness",
        "init",
        "--dir",
        &f.p("w-other"),
        "--name",
        "witness.example.org/w1",
    ]);
    let o = accept(other.stdout.trim(), None);
    assert_eq!(o.code, 1, "{}", o.all());
    assert!(!f.path("ledger/cosigned").exists());
    // The ledger moved on: the response is not over the latest checkpoint, unless its size
    // is given.
    f.testimony("later");
    f.checkpoint();
    let o = accept(&vkey, None);
    assert_eq!(o.code, 1, "{}", o.all());
    let o = accept(&vkey, Some("4"));
    assert_eq!(o.code, 0, "{}", o.all());
    assert!(
        o.stdout.contains("\u{2014} witness.example.org/w1 "),
        "{}",
        o.stdout
    );
    let kept = std::fs::read_to_string(f.path("ledger/cosigned/4")).unwrap();
    assert_eq!(kept, o.stdout);
    // The audit checks it again with the kept witness key.
    let o = f.run(&["audit", "--ledger", &f.p("ledger")]);
    assert_eq!(o.code, 0, "{}", o.all());
}

/// `checkpoint --policy FILE` asks every witness the policy gives a URL for, known by its
/// key and the policy's name for it: a line under that name, verified by the policy's key,
/// is kept and the policy is then met. A witness that signs under another name than the
/// policy gives it is not taken (the signature does not cover the name): it is pinned with
/// `--witness-key`.
#[test]
fn a_policy_names_the_witnesses_to_ask() {
    let f = Fixture::with_records(2);
    let vkey = witness(&f);
    let served = Served::start(&f);
    let (_, _, raw) = custody::note::parse_verifier_key(&vkey).unwrap();
    let policy = |name: &str| {
        std::fs::write(
            f.path("p.policy"),
            format!(
                "witness {name} {} {}\nwitness offline {} http://127.0.0.1:9\ngroup any-one any {name} offline\nquorum any-one\n",
                hex::encode(raw),
                served.url,
                hex::encode([7u8; 32])
            ),
        )
        .unwrap();
    };
    // The policy names it otherwise than the witness signs: not taken.
    policy("local");
    let o = checkpoint_policy(&f, "p.policy");
    assert_eq!(o.code, 0, "{}", o.all());
    assert!(o.stderr.contains("is held to local"), "{}", o.stderr);
    assert!(!f.path("ledger/cosigned").exists());
    // Under the witness's own name.
    policy("witness.example.org/w1");
    let o = f.run(&[
        "verify",
        "--ledger",
        &f.p("ledger"),
        "2",
        "--policy",
        &f.p("p.policy"),
    ]);
    assert_eq!(o.code, 1, "not yet cosigned: {}", o.all());
    let o = checkpoint_policy(&f, "p.policy");
    assert_eq!(o.code, 0, "{}", o.all());
    assert!(
        o.stderr
            .contains("cosigned by witness witness.example.org/w1"),
        "{}",
        o.stderr
    );
    // The witness that cannot be reached does not stop the checkpoint.
    assert!(o.stderr.contains("offline"), "{}", o.stderr);
    assert!(
        o.stdout.contains("\u{2014} witness.example.org/w1 "),
        "{}",
        o.stdout
    );
    let keys = std::fs::read_to_string(f.path("ledger/cosigned/witness-keys")).unwrap();
    assert_eq!(keys.trim(), vkey);
    let o = f.run(&[
        "verify",
        "--ledger",
        &f.p("ledger"),
        "2",
        "--policy",
        &f.p("p.policy"),
    ]);
    assert_eq!(o.code, 0, "{}", o.all());
    let o = f.run(&["audit", "--ledger", &f.p("ledger")]);
    assert_eq!(o.code, 0, "{}", o.all());
}

/// Adversary findings, kept. A witness known only by its key (from a policy) that signs
/// under the name another witness's kept key holds is not taken, and the other witness's
/// stored cosignature stays; `witness accept` keeps only the line that verifies.
#[test]
fn a_witness_cannot_take_another_witness_name() {
    use base64::Engine;
    use std::io::{Read, Write};
    let f = Fixture::with_records(2);
    let vkey = witness(&f);
    let served = Served::start(&f);
    let o = checkpoint_with(&f, "ledger", &served, &vkey);
    assert_eq!(o.code, 0, "{}", o.all());
    let real = std::fs::read_to_string(f.path("ledger/cosigned/4")).unwrap();
    // A second witness B answers with a valid cosignature by its own key, under A's name.
    let b = ed25519_dalek::SigningKey::from_bytes(&[3; 32]);
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/", listener.local_addr().unwrap());
    let b2 = b.clone();
    std::thread::spawn(move || {
        for conn in listener.incoming() {
            let Ok(mut conn) = conn else { continue };
            let mut buf = Vec::new();
            let mut chunk = [0u8; 4096];
            loop {
                let n = conn.read(&mut chunk).unwrap_or(0);
                buf.extend_from_slice(&chunk[..n]);
                let text = String::from_utf8_lossy(&buf);
                if n == 0 || text.contains("\n\n\u{2014} ") && text.ends_with('\n') {
                    break;
                }
            }
            let text = String::from_utf8_lossy(&buf).into_owned();
            // The checkpoint's text: after the request's blank line, up to its own.
            let body = text.split("\r\n\r\n").nth(1).unwrap_or_default();
            let cp = body.split_once("\n\n").map_or("", |x| x.1);
            let cp_text = &cp[..cp.find("\n\n").map_or(0, |i| i + 1)];
            let line = custody::note::cosign(cp_text, "witness.example.org/w1", &b2, 1_800_000_000)
                .unwrap_or_default();
            let _ = conn.write_all(
                format!(
                    "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{line}",
                    line.len()
                )
                .as_bytes(),
            );
        }
    });
    f.testimony("more");
    f.checkpoint();
    // Sign checkpoint 5 asking A (served) and B (by key, from the policy).
    let raw = |v: &str| custody::note::parse_verifier_key(v).unwrap().2;
    std::fs::write(
        f.path("p.policy"),
        format!(
            "witness a {} {}\nwitness b {} {url}\ngroup both all a b\nquorum both\n",
            hex::encode(raw(&vkey)),
            served.url,
            hex::encode(b.verifying_key().to_bytes()),
        ),
    )
    .unwrap();
    let o = checkpoint_policy(&f, "p.policy");
    assert_eq!(o.code, 0, "{}", o.all());
    assert!(
        o.stderr
            .contains("signed under the name witness.example.org/w1, and is held to b"),
        "{}",
        o.stderr
    );
    // A's cosignatures stand, B's line under A's name was not kept, and no key of B's
    // is kept under A's name.
    assert_eq!(
        std::fs::read_to_string(f.path("ledger/cosigned/4")).unwrap(),
        real
    );
    let kept5 = std::fs::read_to_string(f.path("ledger/cosigned/5")).unwrap();
    assert_eq!(kept5.matches('\u{2014}').count(), 2, "{kept5}");
    let keys = std::fs::read_to_string(f.path("ledger/cosigned/witness-keys")).unwrap();
    assert_eq!(keys.lines().count(), 1, "{keys}");
    // witness accept: junk lines under the name beside the real one; only the real one is kept.
    f.testimony("yet more");
    f.checkpoint();
    request(&f, "ledger", 5, "req.txt");
    let o = cosign(&f, "req.txt", "resp.txt");
    assert_eq!(o.code, 0, "{}", o.all());
    let resp = std::fs::read_to_string(f.path("resp.txt")).unwrap();
    let junk: String = (0..5)
        .map(|i| {
            format!(
                "\u{2014} witness.example.org/w1 {}\n",
                base64::engine::general_purpose::STANDARD.encode([i as u8; 76])
            )
        })
        .collect();
    std::fs::write(f.path("resp.txt"), format!("{junk}{resp}")).unwrap();
    let o = f.run(&[
        "witness",
        "accept",
        "--ledger",
        &f.p("ledger"),
        "--in",
        &f.p("resp.txt"),
        "--witness-key",
        &vkey,
    ]);
    assert_eq!(o.code, 0, "{}", o.all());
    let kept = std::fs::read_to_string(f.path("ledger/cosigned/6")).unwrap();
    assert_eq!(kept.matches('\u{2014}').count(), 2, "{kept}");
    assert_eq!(f.run(&["audit", "--ledger", &f.p("ledger")]).code, 0);
}

/// Adversary finding, kept: a name squatted in `witness-keys` (a key kept under a real
/// witness's name, by a relabelled answer) does not lock the real witness out: the
/// operator pins its key with `--witness-key`, which takes the name back (keys are only
/// ever added: the newest under a name is the one it stands for).
#[test]
fn a_pinned_witness_key_takes_its_name_back() {
    let f = Fixture::with_records(2);
    let vkey = witness(&f);
    let served = Served::start(&f);
    let squatter = custody::note::typed_verifier_key(
        "witness.example.org/w1",
        custody::note::TYPE_COSIGNATURE_V1,
        &[9; 32],
    );
    std::fs::create_dir_all(f.path("ledger/cosigned")).unwrap();
    std::fs::write(
        f.path("ledger/cosigned/witness-keys"),
        format!("{squatter}\n"),
    )
    .unwrap();
    let o = checkpoint_with(&f, "ledger", &served, &vkey);
    assert_eq!(o.code, 0, "{}", o.all());
    assert!(o.stderr.contains("cosigned by witness"), "{}", o.stderr);
    let keys = std::fs::read_to_string(f.path("ledger/cosigned/witness-keys")).unwrap();
    assert_eq!(keys, format!("{squatter}\n{vkey}\n"));
    assert_eq!(f.run(&["audit", "--ledger", &f.p("ledger")]).code, 0);
}

/// Review findings, kept: `witness accept` refuses a cosignature dated before the
/// checkpoint's records (1970 here) and keeps nothing; a replayed older answer never
/// replaces the newer line kept; a response file larger than a note is bad input.
#[test]
fn accept_admits_what_the_audit_admits_and_never_downgrades() {
    let f = Fixture::with_records(2);
    let vkey = witness(&f);
    let served = Served::start(&f);
    let o = checkpoint_with(&f, "ledger", &served, &vkey);
    assert_eq!(o.code, 0, "{}", o.all());
    let kept = std::fs::read_to_string(f.path("ledger/cosigned/4")).unwrap();
    let text = &kept[..kept.find("\n\n").unwrap() + 1];
    let wkey = custody::keys::load_secret(&f.path("w/witness.key")).unwrap();
    let accept = |line: &str| {
        std::fs::write(f.path("resp.txt"), line).unwrap();
        f.run(&[
            "witness",
            "accept",
            "--ledger",
            &f.p("ledger"),
            "--in",
            &f.p("resp.txt"),
            "--witness-key",
            &vkey,
        ])
    };
    let old = custody::note::cosign(text, "witness.example.org/w1", &wkey, 1000).unwrap();
    let o = accept(&old);
    assert_eq!(o.code, 1, "{}", o.all());
    assert_eq!(
        std::fs::read_to_string(f.path("ledger/cosigned/4")).unwrap(),
        kept
    );
    // An older answer, within the time bounds but before the kept one, replaces nothing.
    let t = kept
        .lines()
        .last()
        .and_then(|l| {
            let sig = l.rsplit(' ').next()?;
            use base64::Engine;
            let raw = base64::engine::general_purpose::STANDARD.decode(sig).ok()?;
            Some(u64::from_be_bytes(raw[4..12].try_into().ok()?))
        })
        .unwrap();
    let older = custody::note::cosign(text, "witness.example.org/w1", &wkey, t - 1).unwrap();
    let o = accept(&older);
    assert_eq!(o.code, 0, "{}", o.all());
    assert_eq!(
        std::fs::read_to_string(f.path("ledger/cosigned/4")).unwrap(),
        kept
    );
    let o = accept(&"x".repeat(70_000));
    assert_eq!(o.code, 2, "{}", o.all());
    assert_eq!(f.run(&["audit", "--ledger", &f.p("ledger")]).code, 0);
}
