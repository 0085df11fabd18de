//! Output never panics: a closed pipe ends a command quietly (exit 0, as ripgrep does), a
//! full disk behind stdout is exit 2 with a message, for every command that prints.

use crate::util::*;
use std::process::{Command, Stdio};

/// Every printing command, on a ledger with records, a checkpoint and a bundle.
fn commands(f: &Fixture) -> Vec<Vec<String>> {
    let l = f.p("ledger");
    let s = |v: &[&str]| v.iter().map(|x| x.to_string()).collect::<Vec<String>>();
    vec![
        s(&["log", "--ledger", &l]),
        s(&["show", "--ledger", &l, "2"]),
        s(&["key", "list", "--ledger", &l]),
        s(&["key", "show", &f.p("keys/alice.pub")]),
        s(&["history", "--ledger", &l, "2"]),
        s(&["prove", "--ledger", &l, "2"]),
        s(&["audit", "--ledger", &l]),
        s(&["verify", "--ledger", &l, "2"]),
        s(&["verify-bundle", &f.p("b.zip"), "--no-trust"]),
        s(&[
            "checkpoint",
            "--ledger",
            &l,
            "--key",
            &f.p("keys/ledger.key"),
        ]),
        s(&["recover", "--ledger", &l]),
        s(&["completions", "bash"]),
        s(&["man"]),
    ]
}

fn fixture() -> Fixture {
    let f = Fixture::with_records(3);
    f.export_ok("alice", "b.zip", &["2", "3"]);
    f
}

#[test]
fn a_full_disk_behind_stdout_is_exit_2_with_a_message_never_a_panic() {
    let f = fixture();
    for args in commands(&f) {
        let o = Command::new(assert_cmd::cargo::cargo_bin("custody"))
            .args(&args)
            .current_dir(f.dir.path())
            .stdout(std::fs::File::create("/dev/full").unwrap())
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {err}");
        assert!(err.contains("No space left"), "{args:?}: {err}");
        assert!(!err.contains("panicked"), "{args:?}: {err}");
    }
    // An append whose report cannot be written says that it was appended.
    std::fs::create_dir_all(f.path("media")).unwrap();
    std::fs::write(f.path("media/n.bin"), b"n").unwrap();
    let o = Command::new(assert_cmd::cargo::cargo_bin("custody"))
        .args([
            "add",
            "media",
            "--ledger",
            &f.p("ledger"),
            "--key",
            &f.p("keys/alice.key"),
        ])
        .arg(f.path("media/n.bin"))
        .stdout(std::fs::File::create("/dev/full").unwrap())
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("were appended") && err.contains("do not append them again"),
        "{err}"
    );
}

#[test]
fn a_closed_pipe_ends_every_command_quietly() {
    let f = fixture();
    for args in commands(&f) {
        let mut child = Command::new(assert_cmd::cargo::cargo_bin("custody"))
            .args(&args)
            .current_dir(f.dir.path())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        // The reader goes away before the command writes a byte (as `| head -0` would).
        drop(child.stdout.take());
        let o = child.wait_with_output().unwrap();
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(!err.contains("panicked"), "{args:?}: {err}");
        assert_eq!(o.status.code(), Some(0), "{args:?}: {err}");
    }
}

#[test]
fn json_failures_put_one_object_on_stdout_with_the_error_its_code_and_the_exit_code() {
    let f = Fixture::with_records(1);
    for (args, code) in [
        (
            vec!["verify", "--ledger", "/nonexistent", "2", "--json"],
            "io",
        ),
        (vec!["verify", "--bogus", "--json"], "usage"),
        (vec!["show", "--ledger", "ledger", "99", "--json"], "input"),
        (
            vec!["key", "list", "--ledger", "keys", "--json"],
            "not-a-ledger",
        ),
    ] {
        let o = f.run(&args);
        assert_eq!(o.code, 2, "{args:?}: {}", o.all());
        let v: serde_json::Value = serde_json::from_str(o.stdout.trim()).unwrap_or_else(|e| {
            panic!(
                "{args:?}: stdout is not one JSON object ({e}): {}",
                o.stdout
            )
        });
        assert_eq!(v["code"], code, "{args:?}: {v}");
        assert_eq!(v["exit_code"], 2);
        assert!(!v["error"].as_str().unwrap().is_empty());
    }
}

#[test]
fn a_record_not_yet_covered_is_pending_never_failed() {
    let f = Fixture::with_records(1);
    let s = f.media("late.bin", b"late");
    let o = f.verify(s);
    assert_eq!(
        o.code,
        1,
        "exit 1 until a checkpoint covers it: {}",
        o.all()
    );
    assert!(
        o.stdout
            .contains("[pending] included in the signed checkpoint"),
        "{}",
        o.stdout
    );
    assert!(
        !o.stdout.contains("FAILED") && !o.stdout.contains("PROBLEM"),
        "{}",
        o.stdout
    );
    assert!(o.stdout.contains("NOT YET COVERED"), "{}", o.stdout);
    let o = f.run(&["history", "--ledger", &f.p("ledger"), &s.to_string()]);
    assert_eq!(o.code, 1);
    assert!(
        !o.stdout.contains("FAILED") && o.stdout.contains("NOT YET COVERED"),
        "{}",
        o.stdout
    );
    let o = f.run(&[
        "verify",
        "--ledger",
        &f.p("ledger"),
        &s.to_string(),
        "--json",
    ]);
    let v: serde_json::Value = serde_json::from_str(&o.stdout).unwrap();
    assert_eq!(
        (v["passed"].as_bool(), v["pending"].as_bool()),
        (Some(false), Some(true))
    );
    f.checkpoint();
    assert_eq!(f.verify(s).code, 0);
}

#[test]
fn fifos_devices_and_endless_inputs_are_refused_promptly_and_change_nothing() {
    let f = fixture();
    let fifo = f.path("fifo");
    assert!(
        Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .unwrap()
            .success()
    );
    let fifo = fifo.to_string_lossy().into_owned();
    let (l, k) = (f.p("ledger"), f.p("keys/alice.key"));
    let before = snapshot(&f.path("ledger"));
    for args in [
        vec!["verify", "--ledger", &l, "--file", &fifo],
        vec![
            "amend",
            "--ledger",
            &l,
            "--key",
            &k,
            "2",
            "--reason",
            "r",
            "--text-file",
            &fifo,
        ],
        vec![
            "amend",
            "--ledger",
            &l,
            "--key",
            &k,
            "2",
            "--reason",
            "r",
            "--text-file",
            "/dev/zero",
        ],
        vec!["verify-bundle", &fifo, "--no-trust"],
        vec![
            "export", "--ledger", &l, "--key", &k, "--out", "x.zip", "--media", &fifo, "3",
        ],
        vec![
            "add",
            "testimony",
            "--ledger",
            &l,
            "--key",
            &k,
            "--subject",
            "W",
            "--language",
            "en",
            "--text-file",
            &fifo,
        ],
    ] {
        // A hang would never return: the command runs with a deadline.
        let o = run_with_deadline(&f, &args, None);
        assert_eq!(o.code, 2, "{args:?}: {}", o.all());
        assert!(
            o.stderr.contains("not a regular file"),
            "{args:?}: {}",
            o.stderr
        );
    }
    // Standard input that never ends (`yes |`) is cut off at the bound.
    let endless =
        std::iter::repeat_n(b'y', (custody::bundle::MAX_MEMBER + 10) as usize).collect::<Vec<u8>>();
    let o = run_with_deadline(
        &f,
        &[
            "add",
            "testimony",
            "--ledger",
            &l,
            "--key",
            &k,
            "--subject",
            "W",
            "--language",
            "en",
        ],
        Some(endless),
    );
    assert_eq!(o.code, 2, "{}", o.all());
    assert!(o.stderr.contains("longer than 64 MiB"), "{}", o.stderr);
    assert_same(&before, &snapshot(&f.path("ledger")), "refused inputs");
}

/// Runs custody with stdin fed from `input` (or empty), killed after 60 seconds.
fn run_with_deadline(f: &Fixture, args: &[&str], input: Option<Vec<u8>>) -> Output {
    use std::io::Write;
    let mut child = Command::new(assert_cmd::cargo::cargo_bin("custody"))
        .args(args)
        .current_dir(f.dir.path())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let feeder = std::thread::spawn(move || {
        if let Some(b) = input {
            let _ = stdin.write_all(&b);
        }
    });
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while child.try_wait().unwrap().is_none() {
        if std::time::Instant::now() > deadline {
            let _ = child.kill();
            panic!("custody {args:?} hung");
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    let _ = feeder.join();
    let o = child.wait_with_output().unwrap();
    Output {
        code: o.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&o.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&o.stderr).into_owned(),
    }
}

#[test]
fn names_from_outside_reach_the_terminal_escaped() {
    let f = fixture();
    // A member name with a right-to-left override and an escape sequence hidden in a
    // bidi-reordered name, added to a real bundle.
    let mut z = zip::ZipWriter::new_append(
        std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .open(f.path("b.zip"))
            .unwrap(),
    )
    .unwrap();
    let name = "notes\u{202e}lmth.txt";
    z.start_file(name, zip::write::SimpleFileOptions::default())
        .unwrap();
    std::io::Write::write_all(&mut z, b"x").unwrap();
    z.finish().unwrap();
    let o = f.run(&["verify-bundle", &f.p("b.zip"), "--no-trust"]);
    assert_eq!(o.code, 1, "{}", o.all());
    assert!(
        !o.stdout.contains('\u{202e}'),
        "a bidi override reached the terminal"
    );
    assert!(o.stdout.contains("notes\\u{202e}lmth.txt"), "{}", o.stdout);
    // A path with an escape sequence, in an error.
    let o = f.run(&[
        "verify",
        "--ledger",
        &f.p("ledger"),
        "--file",
        "no\u{1b}[2Jpe",
    ]);
    assert_eq!(o.code, 2);
    assert!(
        !o.stderr.contains('\u{1b}') && o.stderr.contains("no\\u{001b}[2Jpe"),
        "{}",
        o.stderr
    );
}

#[test]
fn an_append_interrupted_after_its_fsync_is_one_audit_finding_not_thousands() {
    let f = Fixture::with_records(1);
    std::fs::create_dir_all(f.path("batch")).unwrap();
    for i in 0..300 {
        std::fs::write(f.path(&format!("batch/{i:03}.bin")), format!("file {i}")).unwrap();
    }
    let o = Command::new(assert_cmd::cargo::cargo_bin("custody"))
        .env("CUSTODY_TEST_CRASH_POINT", "after-fsync")
        .args([
            "add",
            "media",
            "--ledger",
            &f.p("ledger"),
            "--key",
            &f.p("keys/alice.key"),
        ])
        .arg(f.path("batch"))
        .output()
        .unwrap();
    assert!(!o.status.success());
    let found = f.findings();
    assert_eq!(found.len(), 1, "{found:?}");
    assert_eq!(found[0].0, "interrupted-append");
    let o = f.audit();
    assert!(o.stdout.contains("custody recover"), "{}", o.stdout);
    f.ok(&["recover", "--ledger", &f.p("ledger")]);
    f.checkpoint();
    assert_eq!(f.audit().code, 0, "{}", f.audit().all());
}

#[test]
fn messages_name_the_real_problem_and_its_fix() {
    let f = Fixture::with_records(2);
    let l = f.p("ledger");
    let k = f.p("keys/alice.key");
    let expect = |args: &[&str], code: i32, needle: &str| {
        let o = f.run(args);
        assert_eq!(o.code, code, "{args:?}: {}", o.all());
        assert!(
            o.all().contains(needle),
            "{args:?} should say {needle:?}: {}",
            o.all()
        );
    };
    expect(
        &[
            "export", "--ledger", &l, "--key", &k, "--out", "x.zip", "99",
        ],
        2,
        "there is no record 99",
    );
    expect(
        &[
            "transfer",
            "--ledger",
            &l,
            "--key",
            &k,
            "--exhibit",
            "99",
            "--to",
            &f.key_id("ledger"),
            "--reason",
            "r",
        ],
        2,
        "there is no record 99",
    );
    expect(
        &[
            "transfer",
            "--ledger",
            &l,
            "--key",
            &k,
            "--exhibit",
            "1",
            "--to",
            &f.key_id("ledger"),
            "--reason",
            "r",
        ],
        2,
        "is an authorize record",
    );
    expect(
        &["key", "show", &f.p("keys/alice.pub"), "--name", "a b"],
        2,
        "--name 'a b'",
    );
    // A public key reached through a link is fine (only secret keys refuse links).
    std::os::unix::fs::symlink(f.path("keys/alice.pub"), f.path("alice-link.pub")).unwrap();
    expect(&["key", "show", &f.p("alice-link.pub")], 0, "key ID");
    // A new protected key needs a terminal or a passphrase file.
    expect(
        &["key", "generate", "p", "--dir", &f.p("keys"), "--protect"],
        2,
        "--passphrase-file",
    );
    // A checkpoint saved with Windows line endings.
    let cp = f.checkpoint().replace('\n', "\r\n");
    std::fs::write(f.path("crlf.txt"), cp).unwrap();
    expect(
        &["audit", "--ledger", &l, "--against", &f.p("crlf.txt")],
        2,
        "CRLF",
    );
    // Times need a zone; offsets are understood; leap seconds are refused; a bundle is
    // dated neither before the newest record it holds nor after now.
    let newest = f.newest_ms();
    let in_zone = custody::record::rfc3339(newest + 2 * 3_600_000).replace('Z', "+02:00");
    for (t, code, needle) in [
        ("2026-11-26T10:00:00", 2, "no time zone"),
        ("2026-12-31T23:59:60Z", 2, "leap second"),
        (
            "2020-01-01T00:00:00Z",
            2,
            "the last the bundle's checkpoint covers",
        ),
        ("2999-01-01T00:00:00Z", 2, "later than this machine's clock"),
        (in_zone.as_str(), 0, "wrote"),
    ] {
        let out = f.p(&format!("t{code}.zip"));
        expect(
            &[
                "export",
                "--ledger",
                &l,
                "--key",
                &k,
                "--out",
                &out,
                "--export-time",
                t,
                "2",
            ],
            code,
            needle,
        );
    }
    let m = {
        use std::io::Read;
        let mut z = zip::ZipArchive::new(std::fs::File::open(f.path("t0.zip")).unwrap()).unwrap();
        let mut s = String::new();
        z.by_name("manifest.json")
            .unwrap()
            .read_to_string(&mut s)
            .unwrap();
        serde_json::from_str::<serde_json::Value>(&s).unwrap()
    };
    assert_eq!(m["exported_at"], custody::record::rfc3339(newest));
    // A missing index is rebuilt by recover, not created empty.
    std::fs::rename(f.path("ledger/db"), f.path("db-gone")).unwrap();
    expect(&["log", "--ledger", &l], 2, "custody recover");
    f.ok(&["recover", "--ledger", &l]);
    assert_eq!(f.audit().code, 0, "{}", f.audit().all());
}

#[test]
fn a_passphrase_file_with_windows_line_endings_is_refused_with_a_reason() {
    let f = Fixture::empty();
    std::fs::write(f.path("pass.txt"), "correct horse battery\r\n").unwrap();
    set_mode(&f.path("pass.txt"), 0o600);
    let o = f.run(&[
        "key",
        "generate",
        "k",
        "--dir",
        &f.p("keys"),
        "--passphrase-file",
        &f.p("pass.txt"),
    ]);
    assert_eq!(o.code, 2, "{}", o.all());
    assert!(o.stderr.contains("carriage return"), "{}", o.stderr);
    assert!(!f.path("keys/k.key").exists());
}
