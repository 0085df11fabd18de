//! Bad input: a clear error naming the problem, exit 2, and the ledger unchanged.

use crate::util::*;

struct Case {
    name: &'static str,
    /// Builds the case in the fixture and returns the arguments.
    args: fn(&Fixture) -> Vec<String>,
    stdin: &'static [u8],
    /// A phrase the error must contain.
    expect: &'static str,
}

fn key_add(f: &Fixture, key: &str) -> Vec<String> {
    vec![
        "add".into(),
        "media".into(),
        "--ledger".into(),
        f.p("ledger"),
        "--key".into(),
        key.into(),
        f.p("keys/alice.pub"),
    ]
}

fn testimony(f: &Fixture, text_file: Option<String>) -> Vec<String> {
    let mut v: Vec<String> = [
        "add",
        "testimony",
        "--ledger",
        &f.p("ledger"),
        "--key",
        &f.p("keys/alice.key"),
        "--subject",
        "W",
        "--language",
        "en",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    if let Some(t) = text_file {
        v.push("--text-file".into());
        v.push(t);
    }
    v
}

const CASES: &[Case] = &[
    Case {
        name: "missing media file",
        args: |f| {
            key_add(f, &f.p("keys/alice.key"))
                .into_iter()
                .take(6)
                .chain([f.p("nope.mp4")])
                .collect()
        },
        stdin: b"",
        expect: "nope.mp4",
    },
    Case {
        name: "directory where a file is expected (text file)",
        args: |f| testimony(f, Some(f.p("keys"))),
        stdin: b"",
        expect: "not a regular file",
    },
    Case {
        name: "directory where a key file is expected",
        args: |f| key_add(f, &f.p("keys")),
        stdin: b"",
        expect: "not a regular file",
    },
    Case {
        name: "unreadable file",
        args: |f| {
            let p = if is_root() {
                // root reads any file whatever its mode; this one fails on read for everyone.
                "/proc/self/mem".to_string()
            } else {
                std::fs::write(f.path("locked.txt"), "x").unwrap();
                use std::os::unix::fs::PermissionsExt;
                std::fs::set_permissions(
                    f.path("locked.txt"),
                    std::fs::Permissions::from_mode(0o000),
                )
                .unwrap();
                f.p("locked.txt")
            };
            testimony(f, Some(p))
        },
        stdin: b"",
        expect: "cannot read",
    },
    Case {
        name: "ledger not initialised (empty directory)",
        args: |f| {
            std::fs::create_dir_all(f.path("empty")).unwrap();
            vec!["log".into(), "--ledger".into(), f.p("empty")]
        },
        stdin: b"",
        expect: "not a custody ledger",
    },
    Case {
        name: "ledger directory does not exist",
        args: |f| vec!["audit".into(), "--ledger".into(), f.p("no-such-ledger")],
        stdin: b"",
        expect: "no-such-ledger",
    },
    Case {
        name: "not a ledger (a directory of other files)",
        args: |f| {
            std::fs::create_dir_all(f.path("photos")).unwrap();
            std::fs::write(f.path("photos/journal"), "holiday notes").unwrap();
            vec!["log".into(), "--ledger".into(), f.p("photos")]
        },
        stdin: b"",
        expect: "not a custody ledger",
    },
    Case {
        name: "public key given as the signing key",
        args: |f| key_add(f, &f.p("keys/alice.pub")),
        stdin: b"",
        expect: "this is a public key",
    },
    Case {
        name: "key of the wrong kind (RSA)",
        args: |f| {
            let status = std::process::Command::new("openssl")
                .args([
                    "genpkey",
                    "-algorithm",
                    "RSA",
                    "-pkeyopt",
                    "rsa_keygen_bits:1024",
                    "-out",
                ])
                .arg(f.path("rsa.key"))
                .output()
                .expect("openssl is installed (see .ci/run)");
            assert!(status.status.success());
            set_mode(&f.path("rsa.key"), 0o600);
            key_add(f, &f.p("rsa.key"))
        },
        stdin: b"",
        expect: "not a valid Ed25519",
    },
    Case {
        name: "key with loose permissions",
        args: |f| {
            std::fs::copy(f.path("keys/alice.key"), f.path("loose.key")).unwrap();
            set_mode(&f.path("loose.key"), 0o644);
            key_add(f, &f.p("loose.key"))
        },
        stdin: b"",
        expect: "chmod 600",
    },
    Case {
        name: "passphrase file readable by others",
        args: |f| {
            std::fs::write(f.path("pass.txt"), "correct horse battery\n").unwrap();
            private(&f.path("pass.txt"));
            f.ok(&[
                "key",
                "generate",
                "carol",
                "--dir",
                &f.p("keys"),
                "--passphrase-file",
                &f.p("pass.txt"),
            ]);
            set_mode(&f.path("pass.txt"), 0o644);
            let mut a = key_add(f, &f.p("keys/carol.key"));
            a.extend(["--passphrase-file".into(), f.p("pass.txt")]);
            a
        },
        stdin: b"",
        expect: "the passphrase file is accessible by group or others (mode 644)",
    },
    Case {
        name: "protected key asking for too costly a key derivation",
        args: |f| {
            // scrypt with p = 17: custody refuses it before asking for the passphrase.
            let status = std::process::Command::new("openssl")
                .args([
                    "pkcs8",
                    "-topk8",
                    "-scrypt",
                    "-scrypt_N",
                    "16384",
                    "-scrypt_r",
                    "8",
                ])
                .args(["-scrypt_p", "17", "-passout", "pass:correct horse", "-in"])
                .arg(f.path("keys/alice.key"))
                .arg("-out")
                .arg(f.path("costly.key"))
                .output()
                .expect("openssl is installed (see .ci/run)");
            assert!(status.status.success(), "{status:?}");
            private(&f.path("costly.key"));
            key_add(f, &f.p("costly.key"))
        },
        stdin: b"",
        expect: "scrypt with N = 16384, r = 8, p = 17, more work than custody allows",
    },
    Case {
        name: "symlinked key",
        args: |f| {
            std::os::unix::fs::symlink(f.path("keys/alice.key"), f.path("link.key")).unwrap();
            key_add(f, &f.p("link.key"))
        },
        stdin: b"",
        expect: "symbolic link",
    },
    Case {
        name: "corrupt key",
        args: |f| {
            let pem = std::fs::read_to_string(f.path("keys/alice.key")).unwrap();
            let bad = pem.replacen("MC4CAQAw", "MC4CAQEw", 1);
            custody::keys::write_new_file(&f.path("corrupt.key"), bad.as_bytes(), 0o600).unwrap();
            key_add(f, &f.p("corrupt.key"))
        },
        stdin: b"",
        expect: "not a valid Ed25519",
    },
    Case {
        name: "garbage key",
        args: |f| {
            custody::keys::write_new_file(&f.path("garbage.key"), b"\x00\x01garbage", 0o600)
                .unwrap();
            key_add(f, &f.p("garbage.key"))
        },
        stdin: b"",
        expect: "garbage.key",
    },
    Case {
        name: "invalid UTF-8 testimony",
        args: |f| {
            std::fs::write(f.path("latin1.txt"), b"caf\xe9 au lait").unwrap();
            testimony(f, Some(f.p("latin1.txt")))
        },
        stdin: b"",
        expect: "not valid UTF-8",
    },
    Case {
        name: "empty testimony on stdin",
        args: |f| testimony(f, None),
        stdin: b"  \n",
        expect: "testimony text is empty",
    },
    Case {
        name: "empty testimony file",
        args: |f| {
            std::fs::write(f.path("empty.txt"), b"").unwrap();
            testimony(f, Some(f.p("empty.txt")))
        },
        stdin: b"",
        expect: "testimony text is empty",
    },
    Case {
        name: "unknown sequence number (show)",
        args: |f| {
            vec![
                "show".into(),
                "--ledger".into(),
                f.p("ledger"),
                "999".into(),
            ]
        },
        stdin: b"",
        expect: "there is no record 999",
    },
    Case {
        name: "unknown sequence number (verify)",
        args: |f| {
            vec![
                "verify".into(),
                "--ledger".into(),
                f.p("ledger"),
                "999".into(),
            ]
        },
        stdin: b"",
        expect: "there is no record 999",
    },
    Case {
        name: "unknown sequence number (prove)",
        args: |f| {
            vec![
                "prove".into(),
                "--ledger".into(),
                f.p("ledger"),
                "999".into(),
            ]
        },
        stdin: b"",
        expect: "there is no record 999",
    },
    Case {
        name: "malformed checkpoint file",
        args: |f| {
            std::fs::write(f.path("cp.txt"), "example.org/custody/test\nnot a number\n").unwrap();
            vec![
                "audit".into(),
                "--ledger".into(),
                f.p("ledger"),
                "--against".into(),
                f.p("cp.txt"),
            ]
        },
        stdin: b"",
        expect: "cp.txt",
    },
    Case {
        name: "subject with a right-to-left override",
        args: |f| {
            let mut v = testimony(f, None);
            v[7] = "W\u{202E}71".into();
            v
        },
        stdin: b"some text",
        expect: "U+202E",
    },
    Case {
        name: "origin with a space",
        args: |f| {
            vec![
                "init".into(),
                "--ledger".into(),
                f.p("new-ledger"),
                "--origin".into(),
                "my ledger".into(),
                "--key".into(),
                f.p("keys/ledger.key"),
            ]
        },
        stdin: b"",
        expect: "must not contain spaces",
    },
    Case {
        name: "init over an existing ledger",
        args: |f| {
            vec![
                "init".into(),
                "--ledger".into(),
                f.p("ledger"),
                "--origin".into(),
                ORIGIN.into(),
                "--key".into(),
                f.p("keys/ledger.key"),
            ]
        },
        stdin: b"",
        expect: "already exists",
    },
    Case {
        name: "checkpoint signed with a key that is not the ledger key",
        args: |f| {
            vec![
                "checkpoint".into(),
                "--ledger".into(),
                f.p("ledger"),
                "--key".into(),
                f.p("keys/alice.key"),
            ]
        },
        stdin: b"",
        expect: "signed by the ledger key",
    },
    Case {
        name: "a FIFO as media",
        args: |f| {
            let st = std::process::Command::new("mkfifo")
                .arg(f.path("pipe"))
                .status()
                .unwrap();
            assert!(st.success());
            key_add(f, &f.p("keys/alice.key"))
                .into_iter()
                .take(6)
                .chain([f.p("pipe")])
                .collect()
        },
        stdin: b"",
        expect: "not a regular file",
    },
    Case {
        name: "a device as media",
        args: |f| {
            key_add(f, &f.p("keys/alice.key"))
                .into_iter()
                .take(6)
                .chain(["/dev/null".to_string()])
                .collect()
        },
        stdin: b"",
        expect: "not a regular file",
    },
];

#[test]
fn bad_inputs_fail_with_exit_2_a_clear_message_and_no_change() {
    assert!(CASES.len() >= 25);
    let f = Fixture::with_records(3);
    for case in CASES {
        let before = snapshot(&f.path("ledger"));
        let args = (case.args)(&f);
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let o = f.run_stdin(&args, case.stdin);
        assert_eq!(
            o.code,
            2,
            "{}: expected exit 2, got {}:\n{}",
            case.name,
            o.code,
            o.all()
        );
        assert!(
            o.stderr.contains(case.expect),
            "{}: error should mention {:?}, got:\n{}",
            case.name,
            case.expect,
            o.stderr
        );
        assert!(
            o.stderr.starts_with("error: "),
            "{}: {}",
            case.name,
            o.stderr
        );
        assert!(
            !o.stderr.contains("panicked"),
            "{}: {}",
            case.name,
            o.stderr
        );
        assert_same(&before, &snapshot(&f.path("ledger")), case.name);
    }
    assert_eq!(f.audit().code, 0);
}

/// Mounts a small tmpfs at `dir` (root with mount rights, as on CI). Returns false where
/// mounting is not possible, and the caller says so.
#[test]
fn text_with_nul_and_names_with_overrides_are_refused() {
    let f = Fixture::with_records(1);
    let before = snapshot(&f.path("ledger"));
    std::fs::write(f.path("nul.txt"), "before\0after").unwrap();
    let o = f.run(&[
        "add",
        "testimony",
        "--ledger",
        &f.p("ledger"),
        "--key",
        &f.p("keys/alice.key"),
        "--subject",
        "W",
        "--language",
        "en",
        "--text-file",
        &f.p("nul.txt"),
    ]);
    assert_eq!(o.code, 2);
    assert!(o.stderr.contains("NUL character at byte 6"), "{}", o.stderr);
    let evil = f.path("clip\u{202E}4pm.exe");
    std::fs::write(&evil, b"x").unwrap();
    let o = f.run(&[
        "add",
        "media",
        "--ledger",
        &f.p("ledger"),
        "--key",
        &f.p("keys/alice.key"),
        &evil.to_string_lossy(),
    ]);
    assert_eq!(o.code, 2);
    assert!(o.stderr.contains("U+202E"), "{}", o.stderr);
    assert_same(&before, &snapshot(&f.path("ledger")), "nul and override");
    // --no-names is the way to record such a file.
    f.ok(&[
        "add",
        "media",
        "--ledger",
        &f.p("ledger"),
        "--key",
        &f.p("keys/alice.key"),
        "--no-names",
        &evil.to_string_lossy(),
    ]);
}

#[test]
fn a_record_of_a_newer_format_version_stops_appends_with_an_upgrade_message() {
    let f = Fixture::with_records(1);
    let mut recs: Vec<Vec<u8>> = journal_frames(&f.path("ledger/journal"))
        .into_iter()
        .map(|(_, b)| b)
        .collect();
    let mut newer = recs.last().unwrap().clone();
    newer[0] = 2;
    recs.push(newer);
    write_journal(&f.path("ledger/journal"), &recs);
    let before = snapshot(&f.path("ledger"));
    std::fs::write(f.path("m.bin"), b"m").unwrap();
    let o = f.run(&[
        "add",
        "media",
        "--ledger",
        &f.p("ledger"),
        "--key",
        &f.p("keys/alice.key"),
        &f.p("m.bin"),
    ]);
    assert_eq!(o.code, 2, "{}", o.all());
    assert!(o.stderr.contains("upgrade custody"), "{}", o.stderr);
    assert_same(&before, &snapshot(&f.path("ledger")), "newer version");
}

#[test]
fn a_file_that_changes_while_it_is_hashed_is_refused() {
    let f = Fixture::with_records(1);
    let path = f.path("growing.bin");
    std::fs::write(&path, vec![7u8; 64 << 20]).unwrap();
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let writer = {
        let (path, stop) = (path.clone(), stop.clone());
        std::thread::spawn(move || {
            use std::io::Write;
            let mut file = std::fs::OpenOptions::new()
                .append(true)
                .open(&path)
                .unwrap();
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                file.write_all(b"more").unwrap();
                std::thread::sleep(std::time::Duration::from_millis(1));
            }
        })
    };
    let before = snapshot(&f.path("ledger"));
    let o = f.run(&[
        "add",
        "media",
        "--ledger",
        &f.p("ledger"),
        "--key",
        &f.p("keys/alice.key"),
        &path.to_string_lossy(),
    ]);
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    writer.join().unwrap();
    assert_eq!(o.code, 2, "{}", o.all());
    assert!(
        o.stderr.contains("changed while it was being hashed"),
        "{}",
        o.stderr
    );
    assert_same(&before, &snapshot(&f.path("ledger")), "growing file");
}

#[test]
fn a_sparse_gigabyte_file_is_hashed_with_flat_memory() {
    let f = Fixture::with_records(1);
    let path = f.path("sparse.img");
    std::fs::File::create(&path)
        .unwrap()
        .set_len(1 << 30)
        .unwrap();
    let mut child = std::process::Command::new(assert_cmd::cargo::cargo_bin("custody"))
        .args([
            "add",
            "media",
            "--ledger",
            &f.p("ledger"),
            "--key",
            &f.p("keys/alice.key"),
            "--json",
            &path.to_string_lossy(),
        ])
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // Peak resident memory of the child, read from /proc while it runs.
    let mut peak_kb = 0u64;
    let status = loop {
        if let Ok(s) = std::fs::read_to_string(format!("/proc/{}/status", child.id())) {
            for line in s.lines().filter(|l| l.starts_with("VmHWM:")) {
                peak_kb = peak_kb.max(
                    line.split_whitespace()
                        .nth(1)
                        .and_then(|n| n.parse().ok())
                        .unwrap_or(0),
                );
            }
        }
        if let Some(st) = child.try_wait().unwrap() {
            break st;
        }
        std::thread::sleep(std::time::Duration::from_millis(5));
    };
    assert!(status.success());
    assert!(peak_kb > 0, "no memory reading");
    assert!(
        peak_kb < 100 * 1024,
        "peak memory {peak_kb} KiB for a 1 GiB file"
    );
    eprintln!("sparse 1 GiB file: peak resident memory {peak_kb} KiB");
}

#[test]
fn a_read_only_ledger_and_a_full_disk_fail_cleanly() {
    let f = Fixture::new();
    let mnt = f.path("mnt");
    with_tmpfs(&mnt, "4m", || {
        let ledger = mnt.join("ledger");
        let l = ledger.to_string_lossy().into_owned();
        f.ok(&[
            "init",
            "--ledger",
            &l,
            "--origin",
            ORIGIN,
            "--key",
            &f.p("keys/ledger.key"),
        ]);
        let before = snapshot(&ledger);
        // Fill the disk, leaving a few KiB.
        let mut filler = std::fs::File::create(mnt.join("filler")).unwrap();
        let chunk = vec![0u8; 4096];
        use std::io::Write;
        while filler.write_all(&chunk).is_ok() {}
        drop(filler);
        let _ = std::fs::OpenOptions::new()
            .write(true)
            .open(mnt.join("filler"))
            .map(|f| {
                let len = f.metadata().unwrap().len();
                f.set_len(len.saturating_sub(8192)).unwrap();
            });
        std::fs::write(f.path("big.txt"), "a long account. ".repeat(1 << 16)).unwrap();
        // The key lives outside the full disk; the ledger key is an admin and may record.
        let o = f.run(&[
            "add",
            "testimony",
            "--ledger",
            &l,
            "--key",
            &f.p("keys/ledger.key"),
            "--subject",
            "W",
            "--language",
            "en",
            "--text-file",
            &f.p("big.txt"),
        ]);
        std::fs::remove_file(mnt.join("filler")).unwrap();
        assert_eq!(o.code, 2, "{}", o.all());
        assert!(o.stderr.contains("No space left on device"), "{}", o.stderr);
        assert_same(&before, &snapshot(&ledger), "full disk");
        assert_eq!(f.run(&["audit", "--ledger", &l]).code, 0);
        // A read-only ledger directory: appends fail with a clear message, nothing changes.
        remount_ro(&mnt);
        std::fs::write(f.path("small.bin"), b"small").unwrap();
        let o = f.add_media_to(&l, &f.p("keys/ledger.key"), &f.p("small.bin"));
        assert_eq!(o.code, 2, "{}", o.all());
        assert!(o.stderr.contains("Read-only file system"), "{}", o.stderr);
    });
}

/// A bundle that cannot be written (the disk is full) is an I/O failure (exit 2, code
/// "io"), not an input error, and leaves no partial file behind.
#[test]
fn a_bundle_on_a_full_disk_fails_as_io_and_leaves_nothing() {
    let f = Fixture::with_records(2);
    let mnt = f.path("out");
    with_tmpfs(&mnt, "64k", || {
        // A text that does not compress, too large for the disk.
        let mut x: u32 = 0x2468_ace1;
        let big: String = (0..200_000)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 17;
                x ^= x << 5;
                (b'a' + (x % 26) as u8) as char
            })
            .collect();
        f.testimony(&big);
        f.checkpoint();
        let out = mnt.join("b.zip");
        let o = f.run(&[
            "export",
            "--ledger",
            &f.p("ledger"),
            "--key",
            &f.p("keys/alice.key"),
            "--out",
            &out.to_string_lossy(),
            "--json",
            "4",
        ]);
        assert_eq!(o.code, 2, "{}", o.all());
        let v: serde_json::Value = serde_json::from_str(&o.stdout).unwrap();
        assert_eq!(v["code"], "io", "{}", o.stdout);
        assert!(
            v["error"]
                .as_str()
                .unwrap()
                .contains("No space left on device"),
            "{}",
            o.stdout
        );
        assert_eq!(
            std::fs::read_dir(&mnt).unwrap().count(),
            0,
            "a partial file"
        );
    });
}
