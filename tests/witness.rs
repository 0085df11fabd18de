//! The witness (c2sp.org/tlog-witness) through the real binary and files: it cosigns a
//! ledger's consistent checkpoints, refuses stale sizes, bad proofs, unknown ledgers and
//! bad signatures with the spec's codes and unchanged state, keeps a split view as
//! evidence, and its cosignatures verify by the spec alone (Python's `cryptography`).

use crate::util::*;

fn witness(f: &Fixture) -> String {
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

/// The witness's state files, for "nothing changed" checks.
fn state(f: &Fixture) -> Vec<(String, Vec<u8>)> {
    let mut out: Vec<_> = std::fs::read_dir(f.path("w/state"))
        .unwrap()
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
    // The ledger key's holder builds a second history under the same origin and key.
    f.ok(&[
        "init",
        "--ledger",
        &f.p("fork"),
        "--origin",
        ORIGIN,
        "--key",
        &f.p("keys/ledger.key"),
    ]);
    for i in 0..6 {
        std::fs::write(f.path(&format!("f{i}.bin")), format!("fork {i}")).unwrap();
        f.ok(&[
            "add",
            "media",
            "--ledger",
            &f.p("fork"),
            "--key",
            &f.p("keys/ledger.key"),
            &f.p(&format!("f{i}.bin")),
        ]);
    }
    f.ok(&[
        "checkpoint",
        "--ledger",
        &f.p("fork"),
        "--key",
        &f.p("keys/ledger.key"),
    ]);
    request(&f, "fork", size1, "fork.txt");
    let before = state(&f);
    let o = cosign(&f, "fork.txt", "cf.txt");
    assert_eq!(o.code, 1, "{}", o.all());
    assert!(o.stderr.contains("422"), "{}", o.stderr);
    assert!(o.stderr.contains("evidence"), "{}", o.stderr);
    assert_eq!(state(&f), before);
    let kept: Vec<_> = std::fs::read_dir(f.path("w/evidence")).unwrap().collect();
    assert_eq!(kept.len(), 1, "the split view is kept");
    let evidence = std::fs::read_to_string(kept[0].as_ref().unwrap().path()).unwrap();
    assert!(evidence.contains(&std::fs::read_to_string(f.path("fork.txt")).unwrap()));
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
