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
    f.ok(&[
        "export",
        "--ledger",
        &f.p("ledger"),
        "--key",
        &f.p("keys/alice.key"),
        "--out",
        &f.p("b.zip"),
        "2",
        "3",
    ]);
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
