//! RFC 3161 time stamps through the real binary, against a real authority: OpenSSL's
//! `openssl ts -reply` behind a small HTTP server on loopback, with EC and RSA keys. The
//! kept token is checked again by `openssl ts -verify` alone; tampered tokens, a token
//! for another checkpoint and a wrong certificate are refused and nothing is kept.

use crate::util::*;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

const TSA_CNF: &str = "[ tsa ]
default_tsa = tsa1
[ tsa1 ]
serial = ./serial
crypto_device = builtin
signer_digest = sha256
default_policy = 1.2.3.4.1
digests = sha256, sha384, sha512
accuracy = secs:1
ess_cert_id_alg = sha256
[ v3_tsa ]
basicConstraints = CA:FALSE
keyUsage = critical, digitalSignature
extendedKeyUsage = critical, timeStamping
[ v3_ca ]
basicConstraints = critical, CA:TRUE
keyUsage = critical, keyCertSign, cRLSign
";

fn openssl(dir: &Path, args: &[&str]) {
    let out = std::process::Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A root and a time-stamping certificate under it, with keys of `alg` (`ec` or `rsa`).
pub(crate) fn authority(dir: &Path, alg: &str) {
    std::fs::create_dir_all(dir).unwrap();
    std::fs::write(dir.join("tsa.cnf"), TSA_CNF).unwrap();
    std::fs::write(dir.join("serial"), "01\n").unwrap();
    let key = |name: &str| -> Vec<String> {
        let mut v = vec!["-newkey".to_string()];
        if alg == "ec" {
            v.extend([
                "ec".into(),
                "-pkeyopt".into(),
                "ec_paramgen_curve:P-256".into(),
            ]);
        } else {
            v.extend(["rsa:2048".into()]);
        }
        v.extend(["-nodes".into(), "-keyout".into(), format!("{name}.key")]);
        v
    };
    let mut root = vec!["req", "-x509"];
    let rk = key("root");
    root.extend(rk.iter().map(String::as_str));
    root.extend([
        "-out",
        "root.crt",
        "-subj",
        "/CN=Test Root",
        "-days",
        "3650",
        "-config",
        "tsa.cnf",
        "-extensions",
        "v3_ca",
    ]);
    openssl(dir, &root);
    let mut csr = vec!["req"];
    let tk = key("tsa");
    csr.extend(tk.iter().map(String::as_str));
    csr.extend(["-out", "tsa.csr", "-subj", "/CN=Test TSA"]);
    openssl(dir, &csr);
    openssl(
        dir,
        &[
            "x509",
            "-req",
            "-in",
            "tsa.csr",
            "-CA",
            "root.crt",
            "-CAkey",
            "root.key",
            "-CAcreateserial",
            "-out",
            "tsa.crt",
            "-days",
            "3650",
            "-extfile",
            "tsa.cnf",
            "-extensions",
            "v3_tsa",
        ],
    );
}

/// A P-256 key `NAME.key` and certificate `NAME.crt` for `subject` in `dir`, issued by
/// `ISSUER.crt`/`ISSUER.key` with the extensions of `section` in `extfile`.
fn ec_cert(dir: &Path, name: &str, subject: &str, issuer: &str, extfile: &str, section: &str) {
    let (key, csr, crt) = (
        format!("{name}.key"),
        format!("{name}.csr"),
        format!("{name}.crt"),
    );
    let (ca, ca_key) = (format!("{issuer}.crt"), format!("{issuer}.key"));
    openssl(
        dir,
        &[
            "req",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-nodes",
            "-keyout",
            &key,
            "-out",
            &csr,
            "-subj",
            subject,
        ],
    );
    openssl(
        dir,
        &[
            "x509",
            "-req",
            "-in",
            &csr,
            "-CA",
            &ca,
            "-CAkey",
            &ca_key,
            "-CAcreateserial",
            "-out",
            &crt,
            "-days",
            "30",
            "-extfile",
            extfile,
            "-extensions",
            section,
        ],
    );
}

/// `openssl ts -reply` of the authority in `dir` to the request `req`, into `out`.
pub(crate) fn ts_reply(dir: &Path, req: &Path, out: &Path) {
    ts_reply_with(dir, req, out, &[]);
}

/// [`ts_reply`] with more of `openssl ts -reply`'s arguments.
fn ts_reply_with(dir: &Path, req: &Path, out: &Path, extra: &[&str]) {
    let mut args = vec![
        "ts",
        "-reply",
        "-queryfile",
        req.to_str().unwrap(),
        "-signer",
        "tsa.crt",
        "-inkey",
        "tsa.key",
        "-config",
        "tsa.cnf",
        "-out",
        out.to_str().unwrap(),
    ];
    args.extend_from_slice(extra);
    openssl(dir, &args);
}

/// `custody timestamp` through files with the authority in `tsa`: a request for the latest
/// checkpoint, the authority's reply, and the reply taken in against its root.
pub(crate) fn stamp_through_files(f: &Fixture, tsa: &Path) -> Output {
    let (req, resp) = (f.path("req.tsq"), f.path("resp.tsr"));
    let _ = std::fs::remove_file(&req);
    f.ok(&[
        "timestamp",
        "--ledger",
        &f.p("ledger"),
        "--request-out",
        req.to_str().unwrap(),
    ]);
    ts_reply(tsa, &req, &resp);
    f.run(&[
        "timestamp",
        "--ledger",
        &f.p("ledger"),
        "--response-in",
        resp.to_str().unwrap(),
        "--tsa-cert",
        tsa.join("root.crt").to_str().unwrap(),
    ])
}

/// An RFC 3161 authority on loopback: each POST body is answered by `openssl ts -reply`.
struct Tsa {
    url: String,
}

fn serve_tsa(dir: PathBuf) -> Tsa {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/tsa", listener.local_addr().unwrap());
    std::thread::spawn(move || {
        for (n, conn) in listener.incoming().enumerate() {
            let Ok(mut conn) = conn else { continue };
            let mut buf = Vec::new();
            let mut chunk = [0u8; 4096];
            let (head, len) = loop {
                let k = conn.read(&mut chunk).unwrap_or(0);
                if k == 0 {
                    break (0, 0);
                }
                buf.extend_from_slice(&chunk[..k]);
                if let Some(p) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                    let h = String::from_utf8_lossy(&buf[..p]).to_lowercase();
                    let len = h
                        .lines()
                        .find_map(|l| l.strip_prefix("content-length:"))
                        .map_or(0, |v| v.trim().parse().unwrap());
                    break (p + 4, len);
                }
            };
            while buf.len() < head + len {
                let k = conn.read(&mut chunk).unwrap_or(0);
                if k == 0 {
                    break;
                }
                buf.extend_from_slice(&chunk[..k]);
            }
            let (q, r) = (format!("q{n}.tsq"), format!("r{n}.tsr"));
            std::fs::write(dir.join(&q), &buf[head..]).unwrap();
            ts_reply(&dir, &dir.join(&q), &dir.join(&r));
            let body = std::fs::read(dir.join(&r)).unwrap();
            let _ = conn.write_all(
                format!(
                    "HTTP/1.1 200 OK\r\nContent-Type: application/timestamp-reply\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                    body.len()
                )
                .as_bytes(),
            );
            let _ = conn.write_all(&body);
        }
    });
    Tsa { url }
}

fn kept(f: &Fixture) -> Vec<PathBuf> {
    match std::fs::read_dir(f.path("ledger/timestamps")) {
        Ok(d) => d
            .map(|e| e.unwrap().path())
            .filter(|p| p.extension().is_some_and(|x| x == "tsr"))
            .collect(),
        Err(_) => Vec::new(),
    }
}

#[test]
fn a_real_authority_stamps_the_checkpoint_and_openssl_agrees() {
    for alg in ["ec", "rsa"] {
        let f = Fixture::with_records(2);
        let tsa_dir = f.path(&format!("tsa-{alg}"));
        authority(&tsa_dir, alg);
        let tsa = serve_tsa(tsa_dir.clone());
        let root = tsa_dir.join("root.crt");
        let o = f.run(&[
            "timestamp",
            "--ledger",
            &f.p("ledger"),
            "--tsa",
            &tsa.url,
            "--tsa-cert",
            root.to_str().unwrap(),
        ]);
        assert_eq!(o.code, 0, "{alg}: {}", o.all());
        assert!(o.stdout.contains("attested by CN=Test TSA"), "{}", o.stdout);
        let tokens = kept(&f);
        assert_eq!(tokens.len(), 1, "{alg}");
        // OpenSSL alone agrees that the kept token stamps exactly this checkpoint.
        let cp = f.checkpoint_text();
        std::fs::write(f.path("checkpoint.txt"), &cp).unwrap();
        let out = std::process::Command::new("openssl")
            .args(["ts", "-verify", "-data"])
            .arg(f.path("checkpoint.txt"))
            .arg("-in")
            .arg(&tokens[0])
            .arg("-CAfile")
            .arg(&root)
            .output()
            .unwrap();
        assert!(
            String::from_utf8_lossy(&out.stdout).contains("Verification: OK"),
            "{alg}: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        // Through files, the same.
        f.ok(&[
            "timestamp",
            "--ledger",
            &f.p("ledger"),
            "--request-out",
            &f.p("req.tsq"),
        ]);
        ts_reply(&tsa_dir, &f.path("req.tsq"), &f.path("resp.tsr"));
        let o = f.run(&[
            "timestamp",
            "--ledger",
            &f.p("ledger"),
            "--response-in",
            &f.p("resp.tsr"),
            "--tsa-cert",
            root.to_str().unwrap(),
        ]);
        assert_eq!(o.code, 0, "{alg}: {}", o.all());
        assert_eq!(kept(&f).len(), 2);
    }
}

#[test]
fn bad_tokens_are_refused_and_nothing_is_kept() {
    let f = Fixture::with_records(1);
    let tsa_dir = f.path("tsa");
    authority(&tsa_dir, "ec");
    let root = tsa_dir.join("root.crt");
    f.ok(&[
        "timestamp",
        "--ledger",
        &f.p("ledger"),
        "--request-out",
        &f.p("req.tsq"),
    ]);
    ts_reply(&tsa_dir, &f.path("req.tsq"), &f.path("good.tsr"));
    let good = std::fs::read(f.path("good.tsr")).unwrap();
    let respond = |bytes: &[u8], cert: &Path| {
        std::fs::write(f.path("in.tsr"), bytes).unwrap();
        f.run(&[
            "timestamp",
            "--ledger",
            &f.p("ledger"),
            "--response-in",
            &f.p("in.tsr"),
            "--tsa-cert",
            cert.to_str().unwrap(),
        ])
    };
    // Every byte of the last 200 (the signature, the signed attributes, the TSTInfo's
    // tail) changed in turn: never accepted.
    for i in good.len().saturating_sub(200)..good.len() {
        let mut bad = good.clone();
        bad[i] ^= 0x01;
        let o = respond(&bad, &root);
        assert_ne!(o.code, 0, "byte {i} changed was accepted");
    }
    assert!(kept(&f).is_empty(), "nothing kept");
    // Another authority's root.
    let other = f.path("other");
    authority(&other, "ec");
    let o = respond(&good, &other.join("root.crt"));
    assert_eq!(o.code, 1, "{}", o.all());
    assert!(o.stderr.contains("trusted certificate"), "{}", o.stderr);
    // A token for another checkpoint: the ledger grows and signs a new one.
    f.media("later.bin", b"later");
    f.checkpoint();
    // No request was written for it: the response cannot be matched to one (exit 2).
    let o = respond(&good, &root);
    assert_eq!(o.code, 2, "{}", o.all());
    assert!(o.stderr.contains("--request-out"), "{}", o.stderr);
    f.ok(&[
        "timestamp",
        "--ledger",
        &f.p("ledger"),
        "--request-out",
        &f.p("req2.tsq"),
    ]);
    let o = respond(&good, &root);
    assert_eq!(o.code, 1, "{}", o.all());
    assert!(o.stderr.contains("another message"), "{}", o.stderr);
    // The right checkpoint, but another request's nonce.
    ts_reply(&tsa_dir, &f.path("req.tsq"), &f.path("stale.tsr"));
    let o = respond(&std::fs::read(f.path("stale.tsr")).unwrap(), &root);
    assert_eq!(o.code, 1, "{}", o.all());
    assert!(kept(&f).is_empty());
    // Garbage is refused too, and bad input (no certificate) is exit 2.
    assert_eq!(respond(b"not DER", &root).code, 1);
    let o = f.run(&[
        "timestamp",
        "--ledger",
        &f.p("ledger"),
        "--response-in",
        &f.p("in.tsr"),
    ]);
    assert_eq!(o.code, 2, "{}", o.all());
}

/// A certificate the trusted root issued for something else (here a TLS server, not a CA)
/// cannot mint a time-stamping authority: its tokens do not lead to the root.
#[test]
fn only_a_ca_can_stand_between_the_root_and_the_authority() {
    let f = Fixture::with_records(1);
    let dir = f.path("tsa");
    authority(&dir, "ec");
    std::fs::write(
        dir.join("ee.cnf"),
        "[ ee ]\nbasicConstraints = CA:FALSE\nkeyUsage = critical, digitalSignature\nextendedKeyUsage = serverAuth\n",
    )
    .unwrap();
    // The root issues an ordinary server certificate ...
    ec_cert(&dir, "ee", "/CN=server.example", "root", "ee.cnf", "ee");
    // ... whose key signs a time-stamping certificate named like the real authority.
    ec_cert(&dir, "fake", "/CN=Test TSA", "ee", "tsa.cnf", "v3_tsa");
    f.ok(&[
        "timestamp",
        "--ledger",
        &f.p("ledger"),
        "--request-out",
        &f.p("req.tsq"),
    ]);
    openssl(
        &dir,
        &[
            "ts",
            "-reply",
            "-queryfile",
            f.path("req.tsq").to_str().unwrap(),
            "-signer",
            "fake.crt",
            "-inkey",
            "fake.key",
            "-chain",
            "ee.crt",
            "-config",
            "tsa.cnf",
            "-out",
            f.path("fake.tsr").to_str().unwrap(),
        ],
    );
    let o = f.run(&[
        "timestamp",
        "--ledger",
        &f.p("ledger"),
        "--response-in",
        &f.p("fake.tsr"),
        "--tsa-cert",
        dir.join("root.crt").to_str().unwrap(),
    ]);
    assert_eq!(o.code, 1, "{}", o.all());
    assert!(o.stderr.contains("trusted certificate"), "{}", o.stderr);
    assert!(kept(&f).is_empty());
}

/// The token's serial number is a positive integer of at most 160 bits (RFC 3161): one of
/// 161 bits is refused and nothing is kept; 160 bits are taken. (`openssl ts -reply` issues
/// the serial after the one in its file.)
#[test]
fn serials_are_positive_and_at_most_160_bits() {
    let f = Fixture::with_records(1);
    let tsa_dir = f.path("tsa");
    authority(&tsa_dir, "ec");
    for (serial, ok) in [
        ("ff".repeat(20), false),
        (format!("{}fe", "ff".repeat(19)), true),
    ] {
        std::fs::write(tsa_dir.join("serial"), format!("{serial}\n")).unwrap();
        let o = stamp_through_files(&f, &tsa_dir);
        assert_eq!(o.code == 0, ok, "serial after {serial}: {}", o.all());
        assert_eq!(kept(&f).is_empty(), !ok);
    }
}

/// Adversary findings, kept: a second authority's token of the same serial for the same
/// checkpoint never replaces the kept one (exit 2, nothing changed); and a token carrying
/// more than 8 certificates is refused before any chain is searched.
#[test]
fn a_kept_token_stands_and_tokens_carry_few_certificates() {
    let f = Fixture::with_records(1);
    let (one, two) = (f.path("tsa"), f.path("tsa2"));
    authority(&one, "ec");
    authority(&two, "ec");
    let o = stamp_through_files(&f, &one);
    assert_eq!(o.code, 0, "{}", o.all());
    let tokens = kept(&f);
    let before = std::fs::read(&tokens[0]).unwrap();
    let o = stamp_through_files(&f, &two);
    assert_eq!(o.code, 2, "{}", o.all());
    assert!(
        o.stderr.contains("already holds another token"),
        "{}",
        o.stderr
    );
    assert_eq!(std::fs::read(&tokens[0]).unwrap(), before);
    // Nine certificates in the token (`-chain`): refused, nothing kept.
    let mut chain = String::new();
    for i in 0..9 {
        openssl(
            &two,
            &[
                "req",
                "-x509",
                "-newkey",
                "ec",
                "-pkeyopt",
                "ec_paramgen_curve:P-256",
                "-nodes",
                "-keyout",
                "x.key",
                "-out",
                &format!("x{i}.crt"),
                "-subj",
                &format!("/CN=Decoy {i}"),
                "-days",
                "30",
            ],
        );
        chain.push_str(&std::fs::read_to_string(two.join(format!("x{i}.crt"))).unwrap());
    }
    std::fs::write(two.join("chain.pem"), chain).unwrap();
    f.testimony("another");
    f.checkpoint();
    let req = f.path("req.tsq");
    let _ = std::fs::remove_file(&req);
    f.ok(&[
        "timestamp",
        "--ledger",
        &f.p("ledger"),
        "--request-out",
        req.to_str().unwrap(),
    ]);
    ts_reply_with(&two, &req, &two.join("big.tsr"), &["-chain", "chain.pem"]);
    let o = f.run(&[
        "timestamp",
        "--ledger",
        &f.p("ledger"),
        "--response-in",
        two.join("big.tsr").to_str().unwrap(),
        "--tsa-cert",
        two.join("root.crt").to_str().unwrap(),
    ]);
    assert_eq!(o.code, 1, "{}", o.all());
    assert!(o.stderr.contains("certificates; at most 8"), "{}", o.stderr);
    assert_eq!(kept(&f).len(), 1);
}
