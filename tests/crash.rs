//! The crash harness: appends stopped at every named point inside an append, and appends
//! killed (SIGKILL) at random moments. After every stop the ledger opens, `recover` and
//! `audit` pass, every acknowledged append is present with the same leaf hash, and at most
//! the one in-flight record appears beyond them; an append of several records stays or goes
//! whole.
//!
//! CI runs 200 random kills; for a long run set CUSTODY_CRASH_KILLS (e.g. 5000).

use crate::util::*;
use std::io::Read;
use std::process::{Command, Stdio};

fn leaves(f: &Fixture) -> Vec<String> {
    let o = f.ok(&["log", "--ledger", &f.p("ledger"), "--json"]);
    let v: serde_json::Value = serde_json::from_str(&o.stdout).unwrap();
    v.as_array()
        .unwrap()
        .iter()
        .map(|r| r["leaf_hash"].as_str().unwrap().to_owned())
        .collect()
}

fn add_cmd(f: &Fixture, file: &str) -> Command {
    let mut c = Command::new(assert_cmd::cargo::cargo_bin("custody"));
    c.args([
        "add",
        "media",
        "--ledger",
        &f.p("ledger"),
        "--key",
        &f.p("keys/alice.key"),
        "--json",
        &f.p(file),
    ])
    .env_remove("CUSTODY_LEDGER")
    .stdin(Stdio::null())
    .stdout(Stdio::piped())
    .stderr(Stdio::piped());
    c
}

/// After a stop: recover, audit, and check the acknowledged prefix survived unchanged.
fn check_after_stop(f: &Fixture, acked: &[String], before: usize) -> usize {
    f.ok(&["recover", "--ledger", &f.p("ledger")]);
    let now = leaves(f);
    assert_eq!(
        &now[..acked.len()],
        acked,
        "an acknowledged record changed or vanished"
    );
    assert!(
        now.len() <= before + 1,
        "more than the in-flight record appeared: {} -> {}",
        before,
        now.len()
    );
    let o = f.audit();
    assert_eq!(o.code, 0, "audit after a stop:\n{}", o.all());
    now.len()
}

#[test]
fn appends_stopped_at_each_named_point_lose_nothing_acknowledged() {
    for point in [
        "mid-journal-write",
        "after-journal-write",
        "after-fsync",
        "after-sled",
        "before-ack",
    ] {
        let f = Fixture::with_records(2);
        let acked = leaves(&f);
        std::fs::write(f.path("inflight.bin"), point.as_bytes()).unwrap();
        let out = add_cmd(&f, "inflight.bin")
            .env("CUSTODY_TEST_CRASH_POINT", point)
            .output()
            .unwrap();
        assert!(
            !out.status.success(),
            "{point}: the process was not stopped"
        );
        assert!(
            out.stdout.is_empty(),
            "{point}: nothing may be acknowledged"
        );
        let size = check_after_stop(&f, &acked, acked.len());
        // A torn write is cut off; once the journal holds the whole frame, the record stays.
        let expect = if point == "mid-journal-write" {
            acked.len()
        } else {
            acked.len() + 1
        };
        assert_eq!(size, expect, "{point}");
        // And the ledger goes on.
        std::fs::write(f.path("next.bin"), b"next").unwrap();
        assert!(
            add_cmd(&f, "next.bin").output().unwrap().status.success(),
            "{point}: append after recovery"
        );
    }
}

#[test]
fn random_kills_during_appends() {
    let kills: usize = std::env::var("CUSTODY_CRASH_KILLS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(200);
    let f = Fixture::new();
    // Kills land anywhere from before the process starts to after it is done: delays
    // range over one and a half times what an uncontended append takes here and now.
    std::fs::write(f.path("timing.bin"), "timing").unwrap();
    let started = std::time::Instant::now();
    assert!(add_cmd(&f, "timing.bin").status().unwrap().success());
    let span = (started.elapsed().as_micros() as u64 * 3 / 2).max(1000);
    let initial = leaves(&f).len();
    let mut acked = leaves(&f);
    let mut size = acked.len();
    let (mut acknowledged, mut survived, mut lost) = (0, 0, 0);
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    for i in 0..kills {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        let delay = std::time::Duration::from_micros(x % span);
        let name = format!("k{i}.bin");
        std::fs::write(f.path(&name), format!("kill {i}")).unwrap();
        let mut child = add_cmd(&f, &name).spawn().unwrap();
        std::thread::sleep(delay);
        let _ = child.kill();
        let status = child.wait().unwrap();
        let mut stdout = String::new();
        child
            .stdout
            .take()
            .unwrap()
            .read_to_string(&mut stdout)
            .unwrap();
        let ack: Option<String> = serde_json::from_str::<serde_json::Value>(&stdout)
            .ok()
            .and_then(|v| v["appended"][0]["leaf_hash"].as_str().map(str::to_owned));
        let new_size = check_after_stop(&f, &acked, size);
        match ack {
            Some(leaf) => {
                assert!(status.success() || new_size == size + 1);
                let now = leaves(&f);
                assert_eq!(
                    now[size], leaf,
                    "the acknowledged leaf is not the one stored"
                );
                acked = now;
                acknowledged += 1;
            }
            None if new_size == size + 1 => {
                acked = leaves(&f);
                survived += 1;
            }
            None => lost += 1,
        }
        size = new_size;
    }
    eprintln!(
        "crash harness: {kills} kills: {acknowledged} appends acknowledged and present, \
         {survived} unacknowledged in-flight records kept whole, {lost} in-flight records dropped whole"
    );
    // Every acknowledged append and every kept in-flight record is in the ledger, and
    // nothing else is.
    assert_eq!(leaves(&f).len(), initial + acknowledged + survived);
    assert_eq!(f.audit().code, 0, "{}", f.audit().all());
    // The kills must have struck both before and after acknowledgement, or the harness
    // tested nothing.
    if kills >= 100 {
        assert!(
            acknowledged > 0,
            "no append was ever acknowledged before its kill"
        );
        assert!(
            survived + lost > 0,
            "no append was ever killed before it was acknowledged"
        );
    }
}

/// A batch of several records is all or nothing: stopped while its frames were being
/// written, none of them stays (though whole leading frames reached the journal); stopped
/// once the journal holds them all, all of them stay.
#[test]
fn a_batch_stopped_mid_write_is_undone_whole() {
    for (point, kept) in [("mid-journal-write", 0), ("after-fsync", 4)] {
        let f = Fixture::with_records(2);
        let acked = leaves(&f);
        let journal_before = std::fs::metadata(f.path("ledger/journal")).unwrap().len();
        std::fs::create_dir(f.path("batch")).unwrap();
        for i in 0..4 {
            std::fs::write(f.path(&format!("batch/f{i}.bin")), format!("file {i}")).unwrap();
        }
        let out = add_cmd(&f, "batch")
            .env("CUSTODY_TEST_CRASH_POINT", point)
            .output()
            .unwrap();
        assert!(
            !out.status.success(),
            "{point}: the process was not stopped"
        );
        if point == "mid-journal-write" {
            // Half the batch's bytes: at least one whole frame reached the journal.
            let frames = journal_frames(&f.path("ledger/journal"));
            assert!(
                frames.len() > acked.len(),
                "{point}: no whole frame was written"
            );
        }
        let o = f.ok(&["recover", "--ledger", &f.p("ledger")]);
        if kept == 0 {
            assert!(
                o.stdout.contains("the batch is undone whole"),
                "{}",
                o.stdout
            );
        }
        let now = leaves(&f);
        assert_eq!(&now[..acked.len()], &acked[..], "{point}");
        assert_eq!(now.len(), acked.len() + kept, "{point}: {}", o.stdout);
        if kept == 0 {
            assert_eq!(
                std::fs::metadata(f.path("ledger/journal")).unwrap().len(),
                journal_before,
                "{point}: the journal is cut back to where the batch began"
            );
        }
        let o = f.audit();
        assert_eq!(o.code, 0, "{point}: {}", o.all());
        // Either way the marker is settled: cleared, so that it names no batch any more.
        let marker = std::fs::read(f.path("ledger/batch")).unwrap();
        assert!(marker.iter().all(|&b| b == 0), "{point}");
    }
}

/// After an interrupted batch is undone, a record later written where the batch began is
/// never cut, even when the index is lost and rebuilt from the journal (the marker names
/// the batch's first record, and is cleared once the batch is undone). The undoing also
/// happens on a plain `add` after the crash, without `recover`.
#[test]
fn an_undone_batch_never_takes_a_later_record_with_it() {
    let f = Fixture::with_records(2);
    let acked = leaves(&f);
    std::fs::create_dir(f.path("batch")).unwrap();
    for i in 0..4 {
        std::fs::write(f.path(&format!("batch/f{i}.bin")), format!("file {i}")).unwrap();
    }
    let out = add_cmd(&f, "batch")
        .env("CUSTODY_TEST_CRASH_POINT", "mid-journal-write")
        .output()
        .unwrap();
    assert!(!out.status.success());
    let marker = std::fs::read(f.path("ledger/batch")).unwrap();
    assert!(
        marker.iter().any(|&b| b != 0),
        "the interrupted batch's marker"
    );
    // A plain add undoes the batch, then appends its own record where the batch began.
    std::fs::write(f.path("later.bin"), b"a later, acknowledged file").unwrap();
    let out = add_cmd(&f, "later.bin").output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let now = leaves(&f);
    assert_eq!(
        now.len(),
        acked.len() + 1,
        "the batch is gone, the later record is there"
    );
    // Lose the index; rebuild it from the journal: the later record stays.
    std::fs::remove_dir_all(f.path("ledger/db")).unwrap();
    let o = f.ok(&["recover", "--ledger", &f.p("ledger")]);
    assert!(!o.stdout.contains("undone whole"), "{}", o.stdout);
    assert_eq!(leaves(&f), now);
    assert_eq!(f.audit().code, 0);
    let cleared = std::fs::read(f.path("ledger/batch")).unwrap();
    assert!(
        cleared.iter().all(|&b| b == 0),
        "the marker is cleared once its batch is undone"
    );
    // Even with the stale marker put back (as if clearing it had failed), and the index
    // lost again, the later record is not cut: it is not the batch's first record.
    std::fs::write(f.path("ledger/batch"), &marker).unwrap();
    std::fs::remove_dir_all(f.path("ledger/db")).unwrap();
    let o = f.ok(&["recover", "--ledger", &f.p("ledger")]);
    assert!(!o.stdout.contains("undone whole"), "{}", o.stdout);
    assert_eq!(leaves(&f), now);
    assert_eq!(f.audit().code, 0);
}

/// Random kills of testimony appends to a sealed ledger: whatever moment a kill strikes,
/// no file under the ledger directory holds a text (or an item key) in plain, and the
/// ledger recovers and audits clean with headquarters' identity.
#[test]
fn random_kills_of_sealed_appends_leave_nothing_plain() {
    let kills: usize = std::env::var("CUSTODY_CRASH_KILLS")
        .ok()
        .and_then(|v| v.parse::<usize>().ok())
        .map_or(40, |k| k / 5);
    let f = crate::seal::sealed();
    let cmd = |i: usize| {
        let file = format!("t{i}.txt");
        std::fs::write(f.path(&file), format!("account PLAIN-{i:04}-MARK")).unwrap();
        let mut c = f.testimony_cmd(&file);
        c.stdout(Stdio::null()).stderr(Stdio::null());
        c
    };
    let started = std::time::Instant::now();
    assert!(cmd(9999).status().unwrap().success());
    let span = (started.elapsed().as_micros() as u64 * 3 / 2).max(1000);
    let mut x: u64 = 0x2545_f491_4f6c_dd1d;
    for i in 0..kills {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        let mut child = cmd(i).spawn().unwrap();
        std::thread::sleep(std::time::Duration::from_micros(x % span));
        let _ = child.kill();
        let _ = child.wait();
        f.ok(&["recover", "--ledger", &f.p("ledger")]);
    }
    let mut todo = vec![f.path("ledger")];
    while let Some(d) = todo.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let e = e.unwrap();
            if e.file_type().unwrap().is_dir() {
                todo.push(e.path());
                continue;
            }
            let bytes = std::fs::read(e.path()).unwrap();
            for needle in [&b"-MARK"[..], b"AGE-SECRET-KEY-1"] {
                assert!(
                    !bytes.windows(needle.len()).any(|w| w == needle),
                    "{} holds {:?} in plain",
                    e.path().display(),
                    String::from_utf8_lossy(needle)
                );
            }
        }
    }
    let o = crate::seal::audit_opened(&f, &[]);
    // Kills leave records uncovered by a checkpoint, which the audit only notes.
    assert_eq!(o.code, 0, "{}", o.all());
}
