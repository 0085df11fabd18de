//! Archived and shared ledgers: a copy on write-once media, or a ledger another user owns,
//! is read and audited by every reading command without write access, and nothing on disk
//! changes; readers do not wait for each other, and a writer that waits says what for.

use crate::util::*;
use std::path::Path;
use std::process::{Command, Stdio};

/// Runs the binary in `f`'s directory, as user id `uid` when given (through `setpriv`),
/// with `TMPDIR` set to `tmp`.
fn run_as_user(f: &Fixture, uid: Option<u32>, tmp: &Path, args: &[&str]) -> Output {
    let bin = assert_cmd::cargo::cargo_bin("custody");
    let mut cmd = match uid {
        Some(uid) => {
            let mut c = Command::new("setpriv");
            c.args([
                &format!("--reuid={uid}"),
                &format!("--regid={uid}"),
                "--clear-groups",
            ])
            .arg(&bin);
            c
        }
        None => Command::new(&bin),
    };
    let out = cmd
        .current_dir(f.dir.path())
        .env_remove("CUSTODY_LEDGER")
        .env("TMPDIR", tmp)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .unwrap();
    out.into()
}

/// Every reading command on the ledger at `l`, each required to succeed with its usual
/// answer; the export's bundle then verifies.
fn read_everything(f: &Fixture, uid: Option<u32>, l: &str, key: &str, out_dir: &Path) {
    let tmp = out_dir.join("tmp");
    std::fs::create_dir_all(&tmp).unwrap();
    if uid.is_some() {
        std::os::unix::fs::chown(&tmp, uid, uid).unwrap();
    }
    let run = |args: &[&str]| {
        let o = run_as_user(f, uid, &tmp, args);
        assert_eq!(
            o.code,
            0,
            "custody {args:?} on an archived ledger:\n{}",
            o.all()
        );
        o
    };
    let log = run(&["log", "--ledger", l]);
    assert!(log.stdout.contains("testimony") && log.stdout.contains("media"));
    assert!(
        run(&["show", "--ledger", l, "3"])
            .stdout
            .contains("record 3")
    );
    assert!(
        run(&["verify", "--ledger", l, "3"])
            .stdout
            .contains("OK: record 3 verifies")
    );
    assert!(
        run(&["prove", "--ledger", l, "3"])
            .stdout
            .starts_with("c2sp.org/tlog-proof@v1\n")
    );
    assert!(run(&["history", "--ledger", l, "3"]).stdout.contains("OK"));
    let audit = run(&["audit", "--ledger", l, "--json"]);
    let v: serde_json::Value = serde_json::from_str(&audit.stdout).unwrap();
    assert_eq!(v["passed"], true, "{}", audit.stdout);
    assert_eq!(v["report"]["records"], 6, "{}", audit.stdout);
    let bundle = out_dir.join("b.zip");
    let b = bundle.to_string_lossy().into_owned();
    run(&["export", "--ledger", l, "--key", key, "--out", &b, "3", "4"]);
    let o = f.run(&[
        "verify-bundle",
        &b,
        "--trust",
        &f.p("keys/ledger.pub"),
        "--trust",
        &f.p("keys/alice.pub"),
    ]);
    assert_eq!(o.code, 0, "{}", o.all());
    // The private copy of the index a reader may make is gone when it is done.
    assert_eq!(std::fs::read_dir(&tmp).unwrap().count(), 0, "scratch left");
}

/// Every file under `dir` by relative path, with its bytes: what a reader must not change.
fn files(dir: &Path) -> std::collections::BTreeMap<String, Vec<u8>> {
    let mut out = std::collections::BTreeMap::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else {
                let rel = p.strip_prefix(dir).unwrap().to_string_lossy().into_owned();
                out.insert(rel, std::fs::read(&p).unwrap());
            }
        }
    }
    out
}

fn chmod_tree(p: &Path, dirs: u32, files: u32) {
    let meta = std::fs::symlink_metadata(p).unwrap();
    if meta.is_dir() {
        for e in std::fs::read_dir(p).unwrap() {
            chmod_tree(&e.unwrap().path(), dirs, files);
        }
        set_mode(p, dirs);
    } else {
        set_mode(p, files);
    }
}

#[test]
fn a_ledger_owned_by_another_user_is_read_and_audited_without_changing_it() {
    let f = Fixture::with_records(4);
    let before = files(&f.path("ledger"));
    let out = f.path("out");
    std::fs::create_dir_all(&out).unwrap();
    if is_root() {
        // Another user (nobody) reads root's ledger: files 0644, directories 0755.
        let nobody = 65534;
        set_mode(f.dir.path(), 0o755);
        chmod_tree(&f.path("ledger"), 0o755, 0o644);
        std::os::unix::fs::chown(&out, Some(nobody), Some(nobody)).unwrap();
        let key = out.join("alice.key");
        std::fs::copy(f.path("keys/alice.key"), &key).unwrap();
        std::os::unix::fs::chown(&key, Some(nobody), Some(nobody)).unwrap();
        read_everything(
            &f,
            Some(nobody),
            &f.p("ledger"),
            &key.to_string_lossy(),
            &out,
        );
        // nobody cannot append to it, and says why.
        let o = run_as_user(
            &f,
            Some(nobody),
            &out,
            &[
                "add",
                "media",
                "--ledger",
                &f.p("ledger"),
                "--key",
                &key.to_string_lossy(),
                &f.p("media/m1.bin"),
            ],
        );
        assert_eq!(o.code, 2, "{}", o.all());
        assert!(o.stderr.contains("Permission denied"), "{}", o.stderr);
    } else {
        // Without root, a ledger this user may not write is the same case.
        chmod_tree(&f.path("ledger"), 0o555, 0o444);
        let r = std::panic::catch_unwind(|| {
            read_everything(&f, None, &f.p("ledger"), &f.p("keys/alice.key"), &out)
        });
        chmod_tree(&f.path("ledger"), 0o755, 0o644);
        if let Err(e) = r {
            std::panic::resume_unwind(e);
        }
    }
    chmod_tree(&f.path("ledger"), 0o755, 0o644);
    // Not a byte of the ledger (its index included) changed, and no file appeared.
    assert_same(&before, &files(&f.path("ledger")), "another user's reads");
}

#[test]
fn a_ledger_on_read_only_media_is_read_and_audited() {
    let f = Fixture::with_records(4);
    let mnt = f.path("disc");
    with_tmpfs(&mnt, "16m", || {
        // The archive is a copy of the ledger, as burnt to a disc.
        let copy = mnt.join("ledger");
        let o = Command::new("cp")
            .arg("-a")
            .arg(f.path("ledger"))
            .arg(&copy)
            .output()
            .unwrap();
        assert!(o.status.success());
        remount_ro(&mnt);
        let before = files(&copy);
        let out = f.path("out");
        let l = copy.to_string_lossy().into_owned();
        read_everything(&f, None, &l, &f.p("keys/alice.key"), &out);
        assert_same(&before, &files(&copy), "reads on read-only media");
        // Appending is refused with the reason, and nothing is half-done.
        let o = f.add_media_to(&l, &f.p("keys/alice.key"), &f.p("media/m1.bin"));
        assert_eq!(o.code, 2, "{}", o.all());
        assert!(o.stderr.contains("Read-only file system"), "{}", o.stderr);
    });
}

fn many_records(f: &Fixture, n: usize) {
    let dir = f.files("many", n);
    let o = f.add_media_to(
        &f.p("ledger"),
        &f.p("keys/alice.key"),
        &dir.to_string_lossy(),
    );
    assert_eq!(o.code, 0, "{}", o.all());
    f.checkpoint();
}

#[test]
fn readers_do_not_wait_for_each_other_and_a_waiting_writer_says_why() {
    use std::io::{BufRead, Read};
    let f = Fixture::new();
    many_records(&f, 1500);
    let l = f.p("ledger");
    // A reader that holds the ledger open: `log` blocks on a full pipe nobody reads yet.
    let mut reader = f.spawn(&["log", "--ledger", &l]);
    let mut stdout = reader.stdout.take().unwrap();
    let mut first = [0u8; 1];
    stdout.read_exact(&mut first).unwrap();
    std::thread::sleep(std::time::Duration::from_millis(200));
    // A second reader runs to the end meanwhile, without --wait.
    let audit = f.run(&["audit", "--ledger", &l]);
    assert_eq!(audit.code, 0, "{}", audit.all());
    assert!(audit.stdout.contains("OK: no problem found."));
    // A writer without --wait is refused at once; with it, it says what it waits for.
    let o = f.run(&[
        "checkpoint",
        "--ledger",
        &l,
        "--key",
        &f.p("keys/ledger.key"),
    ]);
    assert_eq!(o.code, 2, "{}", o.all());
    assert!(
        o.stderr.contains("ledger in use") && o.stderr.contains("--wait"),
        "{}",
        o.stderr
    );
    let mut writer = f.spawn(&[
        "checkpoint",
        "--ledger",
        &l,
        "--key",
        &f.p("keys/ledger.key"),
        "--wait",
    ]);
    let mut err = std::io::BufReader::new(writer.stderr.take().unwrap());
    let mut line = String::new();
    err.read_line(&mut line).unwrap();
    assert!(
        line.contains("waiting for") && line.contains("reading it"),
        "{line}"
    );
    // The reader finishes; the writer goes ahead.
    let mut rest = Vec::new();
    stdout.read_to_end(&mut rest).unwrap();
    assert!(reader.wait().unwrap().success());
    assert_eq!(String::from_utf8_lossy(&rest).lines().count(), 1502 - 1 + 1);
    let w = writer.wait_with_output().unwrap();
    assert!(w.status.success());
    assert!(String::from_utf8_lossy(&w.stdout).starts_with(ORIGIN));
}

#[test]
fn a_reader_waiting_for_a_writer_names_it() {
    use std::io::Write;
    let f = Fixture::new();
    let l = f.p("ledger");
    // Hold the ledger as a writer does, with the note a writer leaves in the lock file.
    let mut lock = std::fs::OpenOptions::new()
        .write(true)
        .open(f.path("ledger/lock"))
        .unwrap();
    lock.lock().unwrap();
    lock.write_all(b"pid 4242\nsince_ms 1764489600000\n")
        .unwrap();
    let o = f.run(&["log", "--ledger", &l]);
    assert_eq!(o.code, 2);
    assert!(o.stderr.contains("ledger in use"), "{}", o.stderr);
    let mut reader = f.spawn(&["log", "--ledger", &l, "--wait"]);
    let mut err = std::io::BufReader::new(reader.stderr.take().unwrap());
    let mut line = String::new();
    std::io::BufRead::read_line(&mut err, &mut line).unwrap();
    assert!(
        line.contains(
            "another process is changing it (process 4242, since 2025-11-30T08:00:00.000Z)"
        ),
        "{line}"
    );
    drop(lock);
    let out = reader.wait_with_output().unwrap();
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).contains("genesis"));
}

/// Runs with a time limit: a command that blocks (on a FIFO) fails the test instead of
/// hanging it.
fn run_limited(f: &Fixture, args: &[&str]) -> Output {
    let mut child = f.spawn(args);
    let started = std::time::Instant::now();
    while child.try_wait().unwrap().is_none() {
        if started.elapsed() > std::time::Duration::from_secs(30) {
            let _ = child.kill();
            panic!("custody {args:?} hung");
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    child.wait_with_output().unwrap().into()
}

fn mkfifo(p: &Path) {
    assert!(Command::new("mkfifo").arg(p).status().unwrap().success());
}

/// Links, FIFOs and hard links planted among a ledger's files are refused by name, never
/// followed, written through or waited for.
#[test]
fn planted_links_and_fifos_are_refused_never_followed() {
    let f = Fixture::with_records(2);
    let (l, k) = (f.p("ledger"), f.p("keys/ledger.key"));
    let journal = f.path("ledger/journal");
    let before = std::fs::read(&journal).unwrap();
    let lock = f.path("ledger/lock");
    let checkpoint = ["checkpoint", "--ledger", l.as_str(), "--key", k.as_str()];
    // The lock as a symbolic link to the journal: a writer must not empty the journal.
    std::fs::remove_file(&lock).unwrap();
    std::os::unix::fs::symlink(&journal, &lock).unwrap();
    let o = run_limited(&f, &checkpoint);
    assert_eq!(o.code, 2, "{}", o.all());
    assert!(o.stderr.contains("symbolic link"), "{}", o.stderr);
    assert_eq!(std::fs::read(&journal).unwrap(), before);
    // The lock as a second name of the journal.
    std::fs::remove_file(&lock).unwrap();
    std::fs::hard_link(&journal, &lock).unwrap();
    let o = run_limited(&f, &checkpoint);
    assert_eq!(o.code, 2, "{}", o.all());
    assert!(o.stderr.contains("hard links"), "{}", o.stderr);
    assert_eq!(std::fs::read(&journal).unwrap(), before);
    // The lock as a FIFO: readers and writers say so at once.
    std::fs::remove_file(&lock).unwrap();
    mkfifo(&lock);
    for args in [&["log", "--ledger", l.as_str()][..], &checkpoint[..]] {
        let o = run_limited(&f, args);
        assert_eq!(o.code, 2, "{args:?}: {}", o.all());
        assert!(o.stderr.contains("not a regular file"), "{}", o.stderr);
    }
    std::fs::remove_file(&lock).unwrap();
    std::fs::write(&lock, b"").unwrap();
    assert_eq!(f.audit().code, 0, "{}", f.audit().all());
    // The checkpoints file as a FIFO: an audit finding, not a hang.
    let cps = f.path("ledger/checkpoints");
    std::fs::rename(&cps, f.path("checkpoints.saved")).unwrap();
    mkfifo(&cps);
    let o = run_limited(&f, &["audit", "--ledger", &l, "--json"]);
    assert_eq!(o.code, 1, "{}", o.all());
    assert!(o.stdout.contains("checkpoint-file") && o.stdout.contains("not a regular file"));
    std::fs::remove_file(&cps).unwrap();
    std::fs::rename(f.path("checkpoints.saved"), &cps).unwrap();
    // A FIFO in the index directory: refused before sled opens (and blocks on) it.
    let conf = f.path("ledger/db/conf");
    std::fs::rename(&conf, f.path("conf.saved")).unwrap();
    mkfifo(&conf);
    for args in [&["log", "--ledger", l.as_str()][..], &checkpoint[..]] {
        let o = run_limited(&f, args);
        assert_eq!(o.code, 2, "{args:?}: {}", o.all());
        assert!(
            o.stderr.contains("not a regular file or directory"),
            "{}",
            o.stderr
        );
    }
    std::fs::remove_file(&conf).unwrap();
    std::fs::rename(f.path("conf.saved"), &conf).unwrap();
    assert_eq!(f.audit().code, 0, "{}", f.audit().all());
}

/// A lock file this user may not open is refused, never read around: a reader without the
/// lock could see a writer's append half done.
#[test]
fn a_lock_another_user_keeps_private_is_refused_not_bypassed() {
    if !is_root() {
        eprintln!("skipped: needs root to act as another user (CI runs as root)");
        return;
    }
    let f = Fixture::with_records(1);
    set_mode(f.dir.path(), 0o755);
    chmod_tree(&f.path("ledger"), 0o755, 0o644);
    set_mode(&f.path("ledger/lock"), 0o600);
    let tmp = f.path("tmp");
    std::fs::create_dir_all(&tmp).unwrap();
    std::os::unix::fs::chown(&tmp, Some(65534), Some(65534)).unwrap();
    let o = run_as_user(
        &f,
        Some(65534),
        &tmp,
        &["audit", "--ledger", &f.p("ledger")],
    );
    assert_eq!(o.code, 2, "{}", o.all());
    assert!(
        o.stderr.contains("lock") && o.stderr.contains("chmod a+r"),
        "{}",
        o.stderr
    );
}

/// Readers started together right after an append, while sled may still rotate its files
/// in the first reader's hands, all succeed: those that read a copy tolerate files that
/// disappear while copied.
#[test]
fn readers_started_together_after_an_append_all_succeed() {
    let f = Fixture::with_records(2);
    let l = f.p("ledger");
    for round in 0..3 {
        f.media(
            &format!("r{round}.bin"),
            format!("round {round}").as_bytes(),
        );
        let readers: Vec<_> = (0..8)
            .map(|i| {
                let args: &[&str] = match i % 3 {
                    0 => &["show", "--ledger", &l, "2"],
                    1 => &["prove", "--ledger", &l, "2"],
                    _ => &["audit", "--ledger", &l],
                };
                f.spawn(args)
            })
            .collect();
        for r in readers {
            let out = r.wait_with_output().unwrap();
            assert!(
                out.status.success() || out.status.code() == Some(1),
                "round {round}: {}",
                String::from_utf8_lossy(&out.stderr)
            );
            assert!(
                !String::from_utf8_lossy(&out.stderr).contains("error"),
                "round {round}: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
    }
}
