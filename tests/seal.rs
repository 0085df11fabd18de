//! Sealed content: the formats are standard age, checked by a third-party implementation
//! (Python's `pyrage`):
//! an identity made by `custody key generate-recipient` (plain or passphrase-protected)
//! opens, in pyrage, an item key wrapped to its recipient, and the item key its item.

use crate::util::*;

/// Runs Python with pyrage; `None` when pyrage is missing (CI installs it).
fn pyrage(script: &str, args: &[&str]) -> Option<std::process::Output> {
    let probe = std::process::Command::new("python3")
        .args(["-c", "import pyrage"])
        .output()
        .ok()?;
    assert!(
        probe.status.success() || std::env::var_os("CI").is_none(),
        "pyrage is required in CI"
    );
    if !probe.status.success() {
        eprintln!("skipped: python3 -m pip install pyrage");
        return None;
    }
    Some(
        std::process::Command::new("python3")
            .arg("-c")
            .arg(script)
            .args(args)
            .output()
            .unwrap(),
    )
}

const OPEN: &str = r##"
import sys, pyrage
identity_file, wrapped, ciphertext = sys.argv[1:4]
data = open(identity_file, "rb").read()
if data.startswith(b"age-encryption.org/"):
    data = pyrage.passphrase.decrypt(data, sys.argv[4])
line = [l for l in data.decode().splitlines() if l and not l.startswith("#")][0]
hq = pyrage.x25519.Identity.from_str(line)
item_key = pyrage.decrypt(open(wrapped, "rb").read(), [hq]).decode().strip()
item = pyrage.x25519.Identity.from_str(item_key)
sys.stdout.write(pyrage.decrypt(open(ciphertext, "rb").read(), [item]).decode())
"##;

#[test]
fn sealed_items_open_in_a_third_party_age_implementation() {
    let f = Fixture::empty();
    std::fs::write(f.path("pass"), "correct horse battery\n").unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(f.path("pass"), std::fs::Permissions::from_mode(0o600)).unwrap();
    }
    for (name, protect) in [("hq", false), ("hq-protected", true)] {
        let mut args = vec!["key", "generate-recipient", name, "--dir", "keys", "--json"];
        if protect {
            args.extend(["--passphrase-file", "pass"]);
        }
        let args: Vec<String> = args
            .iter()
            .map(|a| match *a {
                "keys" => f.p("keys"),
                "pass" => f.p("pass"),
                other => other.to_owned(),
            })
            .collect();
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let o = f.ok(&args);
        let j: serde_json::Value = serde_json::from_str(&o.stdout).unwrap();
        let recipient = j["recipient"].as_str().unwrap();
        assert!(recipient.starts_with("age1"), "{recipient}");
        assert_eq!(
            std::fs::read_to_string(f.path(&format!("keys/{name}.recipient"))).unwrap(),
            format!("{recipient}\n")
        );
        let identity = f.path(&format!("keys/{name}.identity"));
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&identity).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        let text = "شهادة: held in the basement cells (marker 7f3a)";
        let sealed = custody::seal::seal(
            text.as_bytes(),
            &[custody::seal::parse_recipient(recipient).unwrap()],
        )
        .unwrap();
        std::fs::write(f.path("wrapped.age"), &sealed.wrapped_key).unwrap();
        std::fs::write(f.path("item.age"), &sealed.ciphertext).unwrap();
        let Some(out) = pyrage(
            OPEN,
            &[
                identity.to_str().unwrap(),
                &f.p("wrapped.age"),
                &f.p("item.age"),
                "correct horse battery",
            ],
        ) else {
            return;
        };
        assert!(
            out.status.success(),
            "{name}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert_eq!(String::from_utf8(out.stdout).unwrap(), text, "{name}");
        // And custody opens it with the same identity.
        let pass = protect.then_some(&b"correct horse battery"[..]);
        let id = custody::seal::load_identity(&identity, pass).unwrap();
        let opened = custody::seal::open(&sealed.ciphertext, &sealed.wrapped_key, &id).unwrap();
        assert_eq!(&*opened, text.as_bytes());
    }
    // An existing name is refused (exit 2) and nothing is overwritten.
    let before = std::fs::read(f.path("keys/hq.identity")).unwrap();
    let o = f.run(&["key", "generate-recipient", "hq", "--dir", &f.p("keys")]);
    assert_eq!(o.code, 2, "{}", o.all());
    assert_eq!(std::fs::read(f.path("keys/hq.identity")).unwrap(), before);
}

/// Keys `ledger`, `alice` and the content recipient `hq`, and a ledger at `ledger/` that
/// seals to hq (record 1), with alice an investigator (record 2).
pub(crate) fn sealed() -> Fixture {
    let f = Fixture::empty();
    f.ok(&["key", "generate", "ledger", "--dir", &f.p("keys")]);
    f.ok(&["key", "generate", "alice", "--dir", &f.p("keys")]);
    f.ok(&["key", "generate-recipient", "hq", "--dir", &f.p("keys")]);
    f.init_ledger_with(&["--seal-to", &f.p("keys/hq.recipient")]);
    f
}

/// `custody seal-to` on the fixture's ledger, signed by the ledger key.
pub(crate) fn seal_to(f: &Fixture, more: &[&str]) -> Output {
    let base = [
        "seal-to",
        "--ledger",
        &f.p("ledger"),
        "--key",
        &f.p("keys/ledger.key"),
    ];
    f.run(&[&base[..], more].concat())
}

/// Generates the content recipient `hq2` and has the ledger key seal to it instead of hq.
pub(crate) fn replace_hq_with_hq2(f: &Fixture) {
    if !f.path("keys/hq2.recipient").exists() {
        f.ok(&["key", "generate-recipient", "hq2", "--dir", &f.p("keys")]);
    }
    let o = seal_to(
        f,
        &[
            "--add",
            &f.p("keys/hq2.recipient"),
            "--remove",
            &f.p("keys/hq.recipient"),
        ],
    );
    assert_eq!(o.code, 0, "{}", o.all());
}

/// `custody audit` of the fixture's ledger with headquarters' identity (texts opened).
pub(crate) fn audit_opened(f: &Fixture, more: &[&str]) -> Output {
    let base = [
        "audit",
        "--ledger",
        &f.p("ledger"),
        "--identity",
        &f.p("keys/hq.identity"),
    ];
    f.run(&[&base[..], more].concat())
}

/// Every file under `dir`, recursively, with its bytes.
pub(crate) fn files_under(dir: &std::path::Path) -> Vec<(std::path::PathBuf, Vec<u8>)> {
    let mut out = Vec::new();
    let mut todo = vec![dir.to_path_buf()];
    while let Some(d) = todo.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let e = e.unwrap();
            let t = e.file_type().unwrap();
            if t.is_dir() {
                todo.push(e.path());
            } else if t.is_file() {
                out.push((e.path(), std::fs::read(e.path()).unwrap()));
            }
        }
    }
    out
}

/// No file under the ledger directory holds `needle`, nor an age secret key in plain.
fn assert_nothing_plain(f: &Fixture, needle: &[u8], when: &str) {
    for (path, bytes) in files_under(&f.path("ledger")) {
        for n in [needle, b"AGE-SECRET-KEY-1".as_slice()] {
            assert!(
                !bytes.windows(n.len()).any(|w| w == n),
                "{when}: {} holds {:?} in plain",
                path.display(),
                String::from_utf8_lossy(n)
            );
        }
    }
}

pub(crate) fn open_text(f: &Fixture, seq: u64, identity: &str) -> Output {
    f.run(&[
        "open",
        "--ledger",
        &f.p("ledger"),
        &seq.to_string(),
        "--identity",
        &f.p(identity),
    ])
}

fn testimony_at(f: &Fixture, text: &str, crash: &str) -> std::process::Output {
    std::fs::write(f.path("t.txt"), text).unwrap();
    f.testimony_cmd("t.txt")
        .env("CUSTODY_TEST_CRASH_POINT", crash)
        .output()
        .unwrap()
}

/// The marker sweep: testimony with a unique marker goes into a sealed ledger, stopped at
/// every crash point of an append; after each stop and recovery, no file under the ledger
/// directory (journal, sled, content, keys, temporary files) holds the marker or an item
/// key in plain, the audit passes, and what was acknowledged opens at headquarters.
#[test]
fn a_sealed_ledger_keeps_no_plaintext_at_any_crash_point() {
    let f = sealed();
    let points = [
        "sealed-key-written",
        "mid-journal-write",
        "after-journal-write",
        "after-fsync",
        "after-sled",
        "before-ack",
    ];
    let mut opened = Vec::new();
    for (i, point) in points.iter().enumerate() {
        let marker = format!("MARKER-{i}-c0ffee-{point}");
        let out = testimony_at(&f, &format!("the account {marker} in full"), point);
        assert!(
            !out.status.success(),
            "{point}: the process was not stopped"
        );
        std::fs::remove_file(f.path("t.txt")).unwrap();
        assert_nothing_plain(&f, marker.as_bytes(), point);
        f.ok(&["recover", "--ledger", &f.p("ledger")]);
        assert_nothing_plain(&f, marker.as_bytes(), point);
        let audit = audit_opened(&f, &[]);
        assert_eq!(audit.code, 0, "{point}: {}", audit.all());
        // An append stopped after its journal fsync is in the ledger, and opens whole.
        let size = f.ok(&["log", "--ledger", &f.p("ledger"), "--json"]).stdout;
        let records: serde_json::Value = serde_json::from_str(&size).unwrap();
        let last = records.as_array().unwrap().last().unwrap();
        if last["kind"] == "testimony" && !opened.contains(&last["seq"]) {
            let seq = last["seq"].as_u64().unwrap();
            let o = open_text(&f, seq, "keys/hq.identity");
            assert_eq!(o.code, 0, "{point}: {}", o.all());
            assert!(o.stdout.contains(&marker), "{point}: {}", o.stdout);
            opened.push(last["seq"].clone());
        }
    }
    assert!(
        opened.len() >= 3,
        "appends past the journal fsync survive: {opened:?}"
    );
    // An amendment's text, and a whole append, leave nothing plain either.
    let seq = f.testimony("the account MARKER-whole-append");
    let amended = f.amend_text(seq, "corrected MARKER-amended-text");
    std::fs::remove_file(f.path("t.txt")).unwrap();
    assert_nothing_plain(&f, b"MARKER-", "after whole appends");
    let o = open_text(&f, amended, "keys/hq.identity");
    assert_eq!(o.stdout, "corrected MARKER-amended-text", "{}", o.all());
    // Without the identity the field device cannot read its own texts back.
    let o = f.run(&["open", "--ledger", &f.p("ledger"), &seq.to_string()]);
    assert_eq!(o.code, 2, "{}", o.all());
    assert!(o.stderr.contains("--identity"), "{}", o.stderr);
}

/// The files a sealed ledger stores are standard age: pyrage opens the wrapped item key
/// with the identity, and the text (salt first) with the item key.
#[test]
fn a_sealed_ledgers_files_open_in_pyrage() {
    let f = sealed();
    let text = "شهادة: the cells under the stairs (marker 91ab)";
    let seq = f.testimony(text);
    let show = f.ok(&[
        "show",
        "--ledger",
        &f.p("ledger"),
        &seq.to_string(),
        "--json",
    ]);
    let v: serde_json::Value = serde_json::from_str(&show.stdout).unwrap();
    let commitment = v["body"]["commitment"].as_str().unwrap().to_owned();
    let script = format!("{OPEN}\n");
    let Some(out) = pyrage(
        &script.replace(
            "sys.stdout.write(pyrage.decrypt(open(ciphertext, \"rb\").read(), [item]).decode())",
            "sys.stdout.buffer.write(pyrage.decrypt(open(ciphertext, \"rb\").read(), [item]))",
        ),
        &[
            &f.p("keys/hq.identity"),
            &f.p(&format!("ledger/sealed-keys/{commitment}.age")),
            &f.p(&format!("ledger/content/{commitment}.age")),
        ],
    ) else {
        return;
    };
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(out.stdout.len(), 32 + text.len());
    assert_eq!(&out.stdout[32..], text.as_bytes());
    // The salt and text satisfy the signed commitment.
    use sha2::Digest;
    assert_eq!(hex::encode(sha2::Sha256::digest(&out.stdout)), commitment);
}

/// Erasure: the record, its commitment and every proof stand and audit clean; the item keys
/// are gone, so a copy of the ciphertexts made before cannot be opened, even with the
/// identity; a bundle still proves that the testimony existed, and when.
#[test]
fn erasure_keeps_the_proofs_and_leaves_no_way_to_open_old_copies() {
    let f = sealed();
    let seq = f.testimony("the account to be erased MARKER-e1");
    f.amend_text(seq, "its correction");
    let kept = f.testimony("an account that stays");
    f.checkpoint();
    // A mirror of the content store (ciphertexts only), made before the erasure.
    let mirror = files_under(&f.path("ledger/content"));
    assert_eq!(mirror.len(), 3);
    // An investigator may not erase; bad input changes nothing.
    let before = snapshot(&f.path("ledger"));
    for args in [
        vec!["--key", "keys/alice.key", "3", "--reason", "x"],
        vec!["--key", "keys/ledger.key", "3", "--reason", "  "],
        vec!["--key", "keys/ledger.key", "1", "--reason", "not evidence"],
        vec![
            "--key",
            "keys/ledger.key",
            "99",
            "--reason",
            "no such record",
        ],
    ] {
        let args: Vec<String> = args
            .iter()
            .map(|a| {
                if a.starts_with("keys/") {
                    f.p(a)
                } else {
                    a.to_string()
                }
            })
            .collect();
        let mut all = vec!["erase".to_string(), "--ledger".into(), f.p("ledger")];
        all.extend(args);
        let all: Vec<&str> = all.iter().map(String::as_str).collect();
        let o = f.run(&all);
        assert_eq!(o.code, 2, "{all:?}: {}", o.all());
    }
    assert_same(&before, &snapshot(&f.path("ledger")), "refused erasures");
    let o = f.ok(&[
        "erase",
        "--ledger",
        &f.p("ledger"),
        "--key",
        &f.p("keys/ledger.key"),
        &seq.to_string(),
        "--reason",
        "court order 2026/114",
        "--json",
    ]);
    let v: serde_json::Value = serde_json::from_str(&o.stdout).unwrap();
    assert_eq!(
        v["destroyed"].as_array().unwrap().len(),
        2,
        "both versions' keys"
    );
    let erase_seq = v["appended"][0]["seq"].as_u64().unwrap();
    f.checkpoint();
    // The audit passes and names the erasure, with its reason.
    let a = audit_opened(&f, &["--json"]);
    assert_eq!(a.code, 0, "{}", a.all());
    let report: serde_json::Value = serde_json::from_str(&a.stdout).unwrap();
    let erased = report["report"]["erased"].as_array().unwrap();
    assert_eq!(erased.len(), 2, "{erased:?}");
    assert_eq!(erased[0]["seq"], seq);
    assert_eq!(erased[0]["by"], erase_seq);
    assert_eq!(erased[0]["reason"], "court order 2026/114");
    // The record still verifies and proves.
    f.ok(&["verify", "--ledger", &f.p("ledger"), &seq.to_string()]);
    f.ok(&["prove", "--ledger", &f.p("ledger"), &seq.to_string()]);
    // Nothing opens it any more, even the mirror restored into the ledger.
    for (path, bytes) in &mirror {
        std::fs::write(path, bytes).unwrap();
    }
    let o = open_text(&f, seq, "keys/hq.identity");
    assert_eq!(o.code, 2, "{}", o.all());
    assert!(o.stderr.contains("erased by record"), "{}", o.stderr);
    assert!(
        files_under(&f.path("ledger/sealed-keys"))
            .iter()
            .all(|(p, _)| !p.to_string_lossy().contains(&hex_commitment(&f, seq))),
        "the item key is gone"
    );
    // The identity alone opens no ciphertext: each was sealed to its own item key.
    let decrypt_direct = r##"
import sys, pyrage
data = open(sys.argv[1], "rb").read().decode()
hq = pyrage.x25519.Identity.from_str([l for l in data.splitlines() if l and not l.startswith("#")][0])
try:
    pyrage.decrypt(open(sys.argv[2], "rb").read(), [hq])
    print("opened")
except Exception:
    print("refused")
"##;
    let cipher = f.p(&format!("ledger/content/{}.age", hex_commitment(&f, seq)));
    if let Some(out) = pyrage(decrypt_direct, &[&f.p("keys/hq.identity"), &cipher]) {
        assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "refused");
    }
    // The kept testimony still opens; the history shows the erasure.
    assert_eq!(open_text(&f, kept, "keys/hq.identity").code, 0);
    let h = f.ok(&["history", "--ledger", &f.p("ledger"), &seq.to_string()]);
    assert!(h.stdout.contains("erased by record"), "{}", h.stdout);
    // Further changes to an erased testimony are refused.
    let o = f.run(&[
        "consent",
        "--ledger",
        &f.p("ledger"),
        "--key",
        &f.p("keys/alice.key"),
        &seq.to_string(),
        "--scope",
        "court",
    ]);
    assert_eq!(o.code, 2, "{}", o.all());
    // A bundle proves the erased testimony existed; it reveals nothing, and both verifiers
    // accept it.
    f.export_ok(
        "ledger",
        "erased.zip",
        &[&seq.to_string(), "--identity", &f.p("keys/hq.identity")],
    );
    let (ours, theirs) = f.verify_bundle_both(&["--no-trust", &f.p("erased.zip")]);
    assert_eq!(ours.code, 0, "{}", ours.all());
    assert_eq!(theirs.code, 0, "{}", theirs.all());
    let m = crate::bundle::manifest(&f.path("erased.zip"));
    assert!(m["exhibits"][0]["content"].is_null());
    assert!(
        m["supporting"]
            .as_array()
            .unwrap()
            .iter()
            .any(|s| s["seq"] == erase_seq && s["kind"] == "erase")
    );
}

fn hex_commitment(f: &Fixture, seq: u64) -> String {
    let show = f.ok(&[
        "show",
        "--ledger",
        &f.p("ledger"),
        &seq.to_string(),
        "--json",
    ]);
    let v: serde_json::Value = serde_json::from_str(&show.stdout).unwrap();
    v["body"]["commitment"].as_str().unwrap().to_owned()
}

/// Consent over time: a withdrawal blocks export, a new consent allows it again, only the
/// recorder or an admin may change it, and the bundle carries the history.
#[test]
fn consent_changes_govern_export() {
    let f = sealed();
    let seq = f.testimony("an account given with consent");
    f.add_key("bob", "investigator");
    let consent = |key: &str, args: &[&str]| {
        f.run(
            &[
                &[
                    "consent",
                    "--ledger",
                    &f.p("ledger"),
                    "--key",
                    &f.p(key),
                    &seq.to_string(),
                ],
                args,
            ]
            .concat(),
        )
    };
    // Bad input: an unknown scope, none with another, both flags, another investigator.
    let before = snapshot(&f.path("ledger"));
    for (key, args) in [
        ("keys/alice.key", vec!["--scope", "everything"]),
        ("keys/alice.key", vec!["--scope", "court,none"]),
        ("keys/alice.key", vec!["--scope", "court", "--withdraw"]),
        ("keys/alice.key", vec![]),
        ("keys/bob.key", vec!["--withdraw"]),
    ] {
        let o = consent(key, &args);
        assert_eq!(o.code, 2, "{args:?}: {}", o.all());
    }
    assert_same(
        &before,
        &snapshot(&f.path("ledger")),
        "refused consent changes",
    );
    assert_eq!(consent("keys/alice.key", &["--withdraw"]).code, 0);
    f.checkpoint();
    let id = f.p("keys/hq.identity");
    let o = f.export_by("ledger", "w.zip", &[&seq.to_string(), "--identity", &id]);
    assert_eq!(o.code, 2, "{}", o.all());
    assert!(o.stderr.contains("consent in force (none"), "{}", o.stderr);
    assert!(!f.path("w.zip").exists());
    // An admin records renewed consent; the export now reveals the text.
    assert_eq!(
        consent("keys/ledger.key", &["--scope", "court,research"]).code,
        0
    );
    f.checkpoint();
    let o = f.export_by("ledger", "b.zip", &[&seq.to_string()]);
    assert_eq!(o.code, 2, "a sealed text needs the identity: {}", o.all());
    assert!(o.stderr.contains("--identity"), "{}", o.stderr);
    f.export_ok("ledger", "b.zip", &[&seq.to_string(), "--identity", &id]);
    let (ours, theirs) = f.verify_bundle_both(&["--no-trust", &f.p("b.zip")]);
    assert_eq!(ours.code, 0, "{}", ours.all());
    assert_eq!(theirs.code, 0, "{}", theirs.all());
    let m = crate::bundle::manifest(&f.path("b.zip"));
    let kinds: Vec<&str> = m["supporting"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| s["kind"] == "consent")
        .map(|s| s["body"]["consent"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, ["none", "court,research"]);
    let mut ms = crate::bundle::members(&f.path("b.zip"));
    let report = String::from_utf8(crate::bundle::get(&mut ms, "report.html").clone()).unwrap();
    assert!(
        report.contains("changed by record") && report.contains("to: <bdi>court,research</bdi>"),
        "the report shows the history"
    );
    let h = f.ok(&["history", "--ledger", &f.p("ledger"), &seq.to_string()]);
    assert!(
        h.stdout.contains("consent changed by record"),
        "{}",
        h.stdout
    );
}

/// Wrong or missing identities are bad input (exit 2): nothing changes and no finding
/// blames the ledger.
#[test]
fn wrong_and_missing_identities_are_refused() {
    let f = sealed();
    let seq = f.testimony("an account");
    f.checkpoint();
    f.ok(&[
        "key",
        "generate-recipient",
        "stranger",
        "--dir",
        &f.p("keys"),
    ]);
    let before = snapshot(&f.path("ledger"));
    let stranger = f.p("keys/stranger.identity");
    for args in [
        vec![
            "open",
            "--ledger",
            &f.p("ledger"),
            "3",
            "--identity",
            &stranger,
        ],
        vec!["audit", "--ledger", &f.p("ledger"), "--identity", &stranger],
        vec![
            "open",
            "--ledger",
            &f.p("ledger"),
            "3",
            "--identity",
            &f.p("nowhere"),
        ],
    ] {
        let o = f.run(&args);
        assert_eq!(o.code, 2, "{args:?}: {}", o.all());
    }
    let o = f.export_by("ledger", "x.zip", &["3", "--identity", &stranger]);
    assert_eq!(o.code, 2, "{}", o.all());
    assert!(o.stderr.contains("not a content recipient"), "{}", o.stderr);
    // An identity others can read is refused before it is used.
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&stranger, std::fs::Permissions::from_mode(0o644)).unwrap();
        let o = open_text(&f, seq, "keys/stranger.identity");
        assert_eq!(o.code, 2);
        assert!(o.stderr.contains("chmod 600"), "{}", o.stderr);
    }
    assert_same(&before, &snapshot(&f.path("ledger")), "refused identities");
    assert!(!f.path("x.zip").exists());
}

/// `add media --seal` keeps an encrypted copy that `open` restores byte for byte; the
/// recipients can change, and a text opens with the identity it was sealed to.
#[test]
fn sealed_media_copies_restore_byte_identical() {
    let f = sealed();
    let bytes: Vec<u8> = (0..200_000u32).map(|i| (i * 7 + i / 3) as u8).collect();
    std::fs::write(f.path("clip.bin"), &bytes).unwrap();
    let o = f.ok(&[
        "add",
        "media",
        "--ledger",
        &f.p("ledger"),
        "--key",
        &f.p("keys/alice.key"),
        "--seal",
        "--json",
        &f.p("clip.bin"),
    ]);
    let v: serde_json::Value = serde_json::from_str(&o.stdout).unwrap();
    let seq = v["appended"][0]["seq"].as_u64().unwrap().to_string();
    std::fs::remove_file(f.path("clip.bin")).unwrap();
    let restore = |out: &str, identity: &str| {
        f.run(&[
            "open",
            "--ledger",
            &f.p("ledger"),
            &seq,
            "--identity",
            &f.p(identity),
            "--out",
            &f.p(out),
        ])
    };
    let o = restore("back.bin", "keys/hq.identity");
    assert_eq!(o.code, 0, "{}", o.all());
    assert_eq!(std::fs::read(f.path("back.bin")).unwrap(), bytes);
    // --out is never overwritten.
    let o = restore("back.bin", "keys/hq.identity");
    assert_eq!(o.code, 2, "{}", o.all());
    // A damaged copy restores nothing.
    let copy = files_under(&f.path("ledger/content"))
        .into_iter()
        .find(|(p, _)| p.to_string_lossy().contains("media-"))
        .unwrap();
    let mut damaged = copy.1.clone();
    let last = damaged.len() - 1;
    damaged[last] ^= 1;
    std::fs::write(&copy.0, &damaged).unwrap();
    let o = restore("bad.bin", "keys/hq.identity");
    assert_eq!(o.code, 2, "{}", o.all());
    assert!(!f.path("bad.bin").exists());
    std::fs::write(&copy.0, &copy.1).unwrap();
    // New recipients: texts from now on open with the new one only.
    replace_hq_with_hq2(&f);
    let later = f.testimony("after the change of recipients");
    assert_eq!(open_text(&f, later, "keys/hq2.identity").code, 0);
    let o = open_text(&f, later, "keys/hq.identity");
    assert_eq!(o.code, 2, "{}", o.all());
    // Both identities audit clean: each opens what was sealed to it.
    for id in ["keys/hq.identity", "keys/hq2.identity"] {
        let a = f.run(&["audit", "--ledger", &f.p("ledger"), "--identity", &f.p(id)]);
        assert_eq!(a.code, 0, "{id}: {}", a.all());
    }
    // The last recipient cannot be removed; --seal without recipients is refused.
    let o = seal_to(&f, &["--remove", &f.p("keys/hq2.recipient")]);
    assert_eq!(o.code, 2, "{}", o.all());
    let plain = Fixture::new();
    std::fs::write(plain.path("x.bin"), b"x").unwrap();
    let o = plain.run(&[
        "add",
        "media",
        "--ledger",
        &plain.p("ledger"),
        "--key",
        &plain.p("keys/alice.key"),
        "--seal",
        &plain.p("x.bin"),
    ]);
    assert_eq!(o.code, 2, "{}", o.all());
    assert!(o.stderr.contains("seal-to"), "{}", o.stderr);
}

/// The mutation sweep over the sealed files: every change to a ciphertext or a wrapped key
/// is a `content` finding with the identity, and every change of presence, size or header
/// is one without it (a same-size change inside a payload needs a key to be seen).
#[test]
fn every_change_to_a_sealed_file_is_found() {
    let f = sealed();
    let a = f.testimony("first account, of some length");
    let b = f.testimony("other account, of some length");
    f.checkpoint();
    let (ca, cb) = (hex_commitment(&f, a), hex_commitment(&f, b));
    let cipher = |c: &str| f.path(&format!("ledger/content/{c}.age"));
    let key = |c: &str| f.path(&format!("ledger/sealed-keys/{c}.age"));
    let audit = |with_identity: bool| {
        let mut args = vec![
            "audit".to_string(),
            "--ledger".into(),
            f.p("ledger"),
            "--json".into(),
        ];
        if with_identity {
            args.extend(["--identity".into(), f.p("keys/hq.identity")]);
        }
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let o = f.run(&args);
        let v: serde_json::Value = serde_json::from_str(&o.stdout).unwrap_or_default();
        let codes: Vec<String> = v["report"]["findings"]
            .as_array()
            .map(|a| {
                a.iter()
                    .map(|x| x["code"].as_str().unwrap_or("").to_owned())
                    .collect()
            })
            .unwrap_or_default();
        (o.code, codes)
    };
    assert_eq!(audit(false).0, 0);
    assert_eq!(audit(true).0, 0);
    type Mutation = Box<dyn Fn(&[u8]) -> Option<Vec<u8>>>;
    let mutations: Vec<(&str, Mutation, bool)> = vec![
        ("deleted", Box::new(|_: &[u8]| None), true),
        (
            "truncated",
            Box::new(|b: &[u8]| Some(b[..b.len() - 1].to_vec())),
            true,
        ),
        (
            "extended",
            Box::new(|b: &[u8]| Some([b, b"x"].concat())),
            true,
        ),
        (
            "header changed",
            Box::new(|b: &[u8]| {
                let mut b = b.to_vec();
                b[0] ^= 0x20;
                Some(b)
            }),
            true,
        ),
        (
            "last byte flipped",
            Box::new(|b: &[u8]| {
                let mut b = b.to_vec();
                let n = b.len() - 1;
                b[n] ^= 1;
                Some(b)
            }),
            false,
        ),
    ];
    for (what, path) in [("ciphertext", cipher(&ca)), ("wrapped key", key(&ca))] {
        let original = std::fs::read(&path).unwrap();
        for (name, mutate, seen_without_key) in &mutations {
            match mutate(&original) {
                Some(b) => std::fs::write(&path, b).unwrap(),
                None => std::fs::remove_file(&path).unwrap(),
            }
            let (code, codes) = audit(true);
            assert_eq!(code, 1, "{what} {name}: found with the identity");
            assert!(
                codes.iter().all(|c| c == "content"),
                "{what} {name}: {codes:?}"
            );
            if *seen_without_key {
                let (code, codes) = audit(false);
                assert_eq!(code, 1, "{what} {name}: found without a key");
                assert_eq!(codes, ["content"], "{what} {name}");
            }
            std::fs::write(&path, &original).unwrap();
        }
    }
    // Another item's ciphertext and key of the same size, swapped in: only the identity
    // tells (the commitment does not match).
    let (oa, ob) = (
        std::fs::read(cipher(&ca)).unwrap(),
        std::fs::read(cipher(&cb)).unwrap(),
    );
    let (ka, kb) = (
        std::fs::read(key(&ca)).unwrap(),
        std::fs::read(key(&cb)).unwrap(),
    );
    std::fs::write(cipher(&ca), &ob).unwrap();
    std::fs::write(key(&ca), &kb).unwrap();
    assert_eq!(audit(true), (1, vec!["content".to_string()]));
    std::fs::write(cipher(&ca), &oa).unwrap();
    std::fs::write(key(&ca), &ka).unwrap();
    // A plain copy beside the sealed one breaks the promise of sealing.
    let opened = f.ok(&[
        "open",
        "--ledger",
        &f.p("ledger"),
        &a.to_string(),
        "--identity",
        &f.p("keys/hq.identity"),
    ]);
    assert_eq!(opened.stdout, "first account, of some length");
    std::fs::write(f.path(&format!("ledger/content/{ca}")), b"planted").unwrap();
    assert_eq!(audit(false), (1, vec!["content".to_string()]));
    std::fs::remove_file(f.path(&format!("ledger/content/{ca}"))).unwrap();
    assert_eq!(audit(true).0, 0);
}

/// An erasure stopped after its record was appended leaves the item key: the audit names
/// it, and `erase --finish` destroys it.
#[test]
fn an_interrupted_erasure_is_found_and_finished() {
    let f = sealed();
    let seq = f.testimony("to be erased");
    let out = std::process::Command::new(assert_cmd::cargo::cargo_bin("custody"))
        .args([
            "erase",
            "--ledger",
            &f.p("ledger"),
            "--key",
            &f.p("keys/ledger.key"),
            &seq.to_string(),
            "--reason",
            "court order",
        ])
        .env_remove("CUSTODY_LEDGER")
        .env("CUSTODY_TEST_CRASH_POINT", "erase-recorded")
        .output()
        .unwrap();
    assert!(!out.status.success());
    f.ok(&["recover", "--ledger", &f.p("ledger")]);
    let a = f.audit();
    assert_eq!(a.code, 1, "{}", a.all());
    assert!(a.stdout.contains("erase --finish"), "{}", a.stdout);
    let o = f.ok(&["erase", "--ledger", &f.p("ledger"), "--finish", "--json"]);
    let v: serde_json::Value = serde_json::from_str(&o.stdout).unwrap();
    assert_eq!(v["destroyed"].as_array().unwrap().len(), 1);
    f.checkpoint();
    assert_eq!(f.audit().code, 0);
}

/// Recipients that cannot be sealed to are bad input: `init` creates nothing and
/// `seal-to` changes nothing (a point of small order would make age abort).
#[test]
fn unusable_recipients_are_refused_before_anything_is_written() {
    let f = sealed();
    // The X25519 point 0 (small order), as an age1 string.
    let zero = custody::seal::recipient_string(&[0; 32]);
    std::fs::write(f.path("zero.recipient"), format!("{zero}\n")).unwrap();
    std::fs::write(f.path("empty.recipient"), "# no key here\n").unwrap();
    let hq = f.p("keys/hq.recipient");
    let cases: Vec<Vec<String>> = vec![
        vec!["age1notvalid".into()],
        vec![zero.clone()],
        vec![f.p("zero.recipient")],
        vec![f.p("empty.recipient")],
        vec![f.p("missing.recipient")],
        vec![hq.clone(), hq.clone()],
    ];
    for recipients in &cases {
        let mut args = vec![
            "init".to_string(),
            "--ledger".into(),
            f.p("new"),
            "--origin".into(),
            ORIGIN.into(),
            "--key".into(),
            f.p("keys/ledger.key"),
        ];
        for r in recipients {
            args.extend(["--seal-to".into(), r.clone()]);
        }
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let o = f.run(&args);
        assert_eq!(o.code, 2, "{recipients:?}: {}", o.all());
        assert!(!o.stderr.contains("panicked"), "{}", o.stderr);
        assert!(
            !f.path("new").exists(),
            "{recipients:?}: a ledger was created"
        );
    }
    let before = snapshot(&f.path("ledger"));
    for recipients in cases.iter().take(4) {
        let mut args = vec![
            "seal-to".to_string(),
            "--ledger".into(),
            f.p("ledger"),
            "--key".into(),
            f.p("keys/ledger.key"),
        ];
        for r in recipients {
            args.extend(["--add".into(), r.clone()]);
        }
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let o = f.run(&args);
        assert_eq!(o.code, 2, "{recipients:?}: {}", o.all());
        assert!(!o.stderr.contains("panicked"), "{}", o.stderr);
    }
    // Adding a recipient already named changes nothing either.
    let o = seal_to(&f, &["--add", &hq]);
    assert_eq!(o.code, 2, "{}", o.all());
    assert_same(&before, &snapshot(&f.path("ledger")), "refused recipients");
}

/// A passphrase-protected identity opens with `--identity-passphrase-file`, and a wrong
/// passphrase is exit 2.
#[test]
fn a_protected_identity_opens_with_its_passphrase() {
    let f = Fixture::empty();
    f.ok(&["key", "generate", "ledger", "--dir", &f.p("keys")]);
    f.ok(&["key", "generate", "alice", "--dir", &f.p("keys")]);
    for (name, pass) in [("pass", "correct horse\n"), ("wrong", "incorrect horse\n")] {
        std::fs::write(f.path(name), pass).unwrap();
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(f.path(name), std::fs::Permissions::from_mode(0o600)).unwrap();
    }
    f.ok(&[
        "key",
        "generate-recipient",
        "hq",
        "--dir",
        &f.p("keys"),
        "--passphrase-file",
        &f.p("pass"),
    ]);
    f.init_ledger_with(&["--seal-to", &f.p("keys/hq.recipient")]);
    let seq = f.testimony("opened with a passphrase").to_string();
    let open = |pass: &str| {
        f.run(&[
            "open",
            "--ledger",
            &f.p("ledger"),
            &seq,
            "--identity",
            &f.p("keys/hq.identity"),
            "--identity-passphrase-file",
            &f.p(pass),
        ])
    };
    let o = open("pass");
    assert_eq!(o.stdout, "opened with a passphrase", "{}", o.all());
    let o = open("wrong");
    assert_eq!(o.code, 2, "{}", o.all());
    assert!(o.stderr.contains("wrong passphrase"), "{}", o.stderr);
}
