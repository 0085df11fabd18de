//! Court bundles: a valid bundle verifies with custody, with the independent Python
//! verifier and with standard tools; every kind of tampering is caught by both verifiers
//! alike; malicious archives are refused without writing anything; nothing about records
//! outside the bundle leaks.

use crate::util::*;
use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::path::Path;
use std::process::Command;

const MARKER: &str = "HIDDEN-WITNESS-MARKER-93c1";

/// A ledger with alice authorised (1), a court-consented testimony (2), two media records
/// (3, 4), a hidden testimony (5) carrying the marker in its text and subject, and a
/// checkpoint; a bundle of 2 and 3 with the media file, exported by alice.
fn fixture() -> Fixture {
    let f = Fixture::new();
    f.testimony("I saw the trucks leave the prison at night.");
    f.media("clip-001.mp4", b"video bytes of clip one");
    f.media("photo-002.jpg", b"photo bytes");
    std::fs::write(f.path("hidden.txt"), format!("secret account {MARKER}")).unwrap();
    f.ok(&[
        "add",
        "testimony",
        "--ledger",
        &f.p("ledger"),
        "--key",
        &f.p("keys/alice.key"),
        "--subject",
        &format!("S-{MARKER}"),
        "--language",
        "ar",
        "--consent",
        "research",
        "--text-file",
        &f.p("hidden.txt"),
    ]);
    f.checkpoint();
    export(
        &f,
        "bundle.zip",
        &["2", "3"],
        &["--media", &f.p("media/clip-001.mp4")],
    );
    f
}

fn export(f: &Fixture, out: &str, seqs: &[&str], extra: &[&str]) {
    let (ledger, key) = (f.p("ledger"), f.p("keys/alice.key"));
    let time = f.export_time();
    let mut args = vec![
        "export",
        "--ledger",
        &ledger,
        "--key",
        &key,
        "--case",
        "Case 7",
        "--export-time",
        &time,
    ];
    let out = f.p(out);
    args.extend_from_slice(&["--out", &out]);
    args.extend_from_slice(extra);
    args.extend_from_slice(seqs);
    f.ok(&args);
}

/// Both verifiers' exit codes for a bundle (with trust in the real keys).
fn verify_both(f: &Fixture, bundle: &Path, extra: &[&str]) -> (Output, Output) {
    let b = bundle.to_string_lossy().into_owned();
    let lk = f.p("keys/ledger.pub");
    let mut args = vec!["verify-bundle", b.as_str(), "--trust", &lk];
    let alice = f.p("keys/alice.pub");
    args.extend_from_slice(&["--trust", &alice]);
    args.extend_from_slice(extra);
    f.verify_bundle_both(&args[1..])
}

/// Requires both verifiers to give `code`, and custody's output to name `part`.
fn expect(f: &Fixture, bundle: &Path, extra: &[&str], code: i32, part: &str, case: &str) {
    let (ours, theirs) = verify_both(f, bundle, extra);
    assert_eq!(
        ours.code,
        code,
        "{case}: custody exit {}:\n{}",
        ours.code,
        ours.all()
    );
    assert_eq!(
        theirs.code,
        code,
        "{case}: python verifier exit {}:\n{}",
        theirs.code,
        theirs.all()
    );
    if code == 1 {
        let failed: Vec<&str> = ours
            .stdout
            .lines()
            .filter(|l| l.starts_with("[FAILED]"))
            .collect();
        assert!(
            failed.iter().any(|l| l.contains(part)),
            "{case}: no failed check names {part:?}:\n{}",
            ours.stdout
        );
    }
}

pub(crate) fn members(zip_path: &Path) -> Vec<(String, Vec<u8>)> {
    let mut z = zip::ZipArchive::new(std::fs::File::open(zip_path).unwrap()).unwrap();
    (0..z.len())
        .map(|i| {
            let mut f = z.by_index(i).unwrap();
            let mut b = Vec::new();
            f.read_to_end(&mut b).unwrap();
            (f.name().unwrap().to_string(), b)
        })
        .collect()
}

/// A bundle's manifest.json, parsed.
pub(crate) fn manifest(zip_path: &Path) -> serde_json::Value {
    let (_, bytes) = members(zip_path)
        .into_iter()
        .find(|m| m.0 == "manifest.json")
        .expect("the bundle holds manifest.json");
    serde_json::from_slice(&bytes).unwrap()
}

/// The `seq` of each entry of a manifest list (`exhibits` or `supporting`).
fn seqs_of(m: &serde_json::Value, list: &str) -> Vec<u64> {
    m[list]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["seq"].as_u64().unwrap())
        .collect()
}

pub(crate) fn write_zip(path: &Path, members: &[(String, Vec<u8>)]) {
    let mut z = zip::ZipWriter::new(std::fs::File::create(path).unwrap());
    for (n, b) in members {
        z.start_file(n.as_str(), zip::write::SimpleFileOptions::default())
            .unwrap();
        z.write_all(b).unwrap();
    }
    z.finish().unwrap();
}

fn sums(members: &[(String, Vec<u8>)]) -> Vec<u8> {
    use sha2::Digest;
    let mut m: BTreeMap<&str, String> = BTreeMap::new();
    for (n, b) in members {
        if n != "SHA256SUMS" {
            m.insert(n, hex::encode(sha2::Sha256::digest(b)));
        }
    }
    m.iter()
        .map(|(n, d)| format!("{d}  {n}\n"))
        .collect::<String>()
        .into_bytes()
}

/// Rewrites SHA256SUMS to match the members, as a tamperer would.
fn fix_sums(ms: &mut [(String, Vec<u8>)]) {
    let s = sums(ms);
    for m in ms.iter_mut() {
        if m.0 == "SHA256SUMS" {
            m.1 = s.clone();
        }
    }
}

pub(crate) fn get<'a>(ms: &'a mut [(String, Vec<u8>)], name: &str) -> &'a mut Vec<u8> {
    &mut ms.iter_mut().find(|m| m.0 == name).unwrap().1
}

/// Re-signs a changed manifest with `key` (the tamperer holds the exporting key, or their
/// own), also fixing the manifest's digest list and SHA256SUMS.
pub(crate) fn resign(ms: &mut [(String, Vec<u8>)], key_path: &Path) {
    use sha2::Digest;
    let key = custody::keys::load_secret(key_path).unwrap();
    let mut manifest: serde_json::Value = serde_json::from_slice(get(ms, "manifest.json")).unwrap();
    let files: serde_json::Map<String, serde_json::Value> = ms
        .iter()
        .filter(|(n, _)| !["manifest.json", "manifest.sig", "SHA256SUMS"].contains(&n.as_str()))
        .map(|(n, b)| {
            (
                n.clone(),
                serde_json::Value::String(hex::encode(sha2::Sha256::digest(b))),
            )
        })
        .collect();
    manifest["files"] = serde_json::Value::Object(files);
    let bytes = serde_json::to_vec_pretty(&manifest).unwrap();
    *get(ms, "manifest.sig") = custody::keys::sign(&key, &bytes).to_vec();
    *get(ms, "manifest.json") = bytes;
    fix_sums(ms);
}

#[test]
fn valid_bundle_verifies_with_custody_python_and_standard_tools() {
    let f = fixture();
    let b = f.path("bundle.zip");
    expect(&f, &b, &[], 0, "", "valid bundle");
    // With --json, custody reports every check; the python verifier too.
    let (ours, theirs) = verify_both(&f, &b, &["--json"]);
    let o: serde_json::Value = serde_json::from_str(&ours.stdout).unwrap();
    let t: serde_json::Value = serde_json::from_str(&theirs.stdout).unwrap();
    assert_eq!(o["passed"], true);
    assert_eq!(t["passed"], true);
    // Standard tools, exactly as VERIFY.txt says.
    let dir = f.path("unzipped");
    std::fs::create_dir(&dir).unwrap();
    for (n, bytes) in members(&b) {
        let p = dir.join(&n);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, bytes).unwrap();
    }
    let verify = std::fs::read_to_string(dir.join("VERIFY.txt")).unwrap();
    let sh = |cmd: &str| {
        let o = Command::new("sh")
            .arg("-c")
            .arg(cmd)
            .current_dir(&dir)
            .output()
            .unwrap();
        assert!(
            o.status.success(),
            "{cmd}: {}{}",
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        );
        String::from_utf8_lossy(&o.stdout).into_owned()
    };
    for line in verify.lines().map(str::trim) {
        if line.starts_with("sha256sum -c")
            || line.starts_with("openssl pkeyutl -verify -pubin -inkey keys/")
                && !line.contains("msg.bin")
            || line.starts_with("head -n 3 checkpoint.txt")
            || line.starts_with("tail -n 1 checkpoint.txt")
        {
            sh(line);
        }
        if line.starts_with("(printf '\\000'; echo '") {
            let want = verify
                .split("which must print ")
                .nth(1)
                .unwrap()
                .split_whitespace()
                .next()
                .unwrap();
            assert!(sh(line).starts_with(want), "leaf hash command");
        }
    }
    assert!(verify.contains("sha256sum -c SHA256SUMS"));
    assert!(verify.contains("openssl pkeyutl -verify"));
    let html = std::fs::read_to_string(dir.join("report.html")).unwrap();
    assert!(html.contains("<svg") && !html.contains("<script") && html.contains("Case 7"));
}

#[test]
fn every_changed_byte_removed_or_added_file_is_caught_by_both_verifiers() {
    let f = fixture();
    let original = members(&f.path("bundle.zip"));
    for (i, (name, bytes)) in original.iter().enumerate() {
        // A changed byte.
        let mut ms = original.clone();
        let at = bytes.len() / 2;
        ms[i].1[at] ^= 0x01;
        let p = f.path("t.zip");
        write_zip(&p, &ms);
        expect(
            &f,
            &p,
            &[],
            1,
            if name == "SHA256SUMS" {
                "SHA256SUMS"
            } else {
                name
            },
            &format!("byte changed in {name}"),
        );
        // A removed file.
        let mut ms = original.clone();
        ms.remove(i);
        write_zip(&p, &ms);
        expect(&f, &p, &[], 1, "", &format!("{name} removed"));
    }
    let mut ms = original.clone();
    ms.push(("notes.txt".into(), b"added later".to_vec()));
    fix_sums(&mut ms);
    let p = f.path("t.zip");
    write_zip(&p, &ms);
    expect(&f, &p, &[], 1, "notes.txt", "added file");
    // A file with a name the format allows, listed everywhere and signed into the manifest
    // by the exporter, but that no exhibit refers to.
    let mut ms = original.clone();
    ms.push((
        "proofs/9.tlog-proof".into(),
        get(&mut ms.clone(), "proofs/2.tlog-proof").clone(),
    ));
    resign(&mut ms, &f.path("keys/alice.key"));
    write_zip(&p, &ms);
    expect(&f, &p, &[], 1, "proofs/9.tlog-proof", "unreferenced file");
    // One byte flipped inside the archive itself (the stored signature): the ZIP's CRC-32
    // no longer matches; that is tampering (exit 1), not an unreadable archive.
    let mut raw = std::fs::read(f.path("bundle.zip")).unwrap();
    let sig = &original.iter().find(|m| m.0 == "manifest.sig").unwrap().1;
    let at = raw.windows(64).position(|w| w == sig.as_slice()).unwrap();
    raw[at + 10] ^= 0x40;
    std::fs::write(&p, &raw).unwrap();
    expect(&f, &p, &[], 1, "CRC", "byte flipped in the raw archive");
}

#[test]
fn swapped_proofs_another_checkpoint_untrusted_signer_bad_content_and_media_are_caught() {
    let f = fixture();
    let original = members(&f.path("bundle.zip"));
    let p = f.path("t.zip");

    let mut ms = original.clone();
    let a = get(&mut ms, "proofs/2.tlog-proof").clone();
    let b = get(&mut ms, "proofs/3.tlog-proof").clone();
    *get(&mut ms, "proofs/2.tlog-proof") = b;
    *get(&mut ms, "proofs/3.tlog-proof") = a;
    resign(&mut ms, &f.path("keys/alice.key"));
    write_zip(&p, &ms);
    expect(
        &f,
        &p,
        &[],
        1,
        "inclusion",
        "swapped proofs, re-signed by the exporter",
    );

    // A later, validly signed checkpoint: the proofs are against another tree.
    f.media("later.bin", b"later");
    let later = f.checkpoint();
    let mut ms = original.clone();
    *get(&mut ms, "checkpoint.txt") = later.into_bytes();
    resign(&mut ms, &f.path("keys/alice.key"));
    write_zip(&p, &ms);
    expect(
        &f,
        &p,
        &[],
        1,
        "checkpoint",
        "proof against another checkpoint",
    );

    // The manifest re-signed by a key nobody trusts.
    f.ok(&["key", "generate", "mallory", "--dir", &f.p("keys")]);
    let mut ms = original.clone();
    let mallory = custody::keys::load_public(&f.path("keys/mallory.pub"))
        .unwrap()
        .to_bytes();
    let mut m: serde_json::Value = serde_json::from_slice(get(&mut ms, "manifest.json")).unwrap();
    use base64::Engine;
    m["exporter"]["public_key"] = base64::engine::general_purpose::STANDARD
        .encode(mallory)
        .into();
    let mf = format!("keys/{}.pub", custody::keys::short_id(&mallory));
    m["exporter"]["key_file"] = mf.clone().into();
    m["exporter"]["key_id"] = custody::keys::short_id(&mallory).into();
    *get(&mut ms, "manifest.json") = serde_json::to_vec_pretty(&m).unwrap();
    ms.push((mf, std::fs::read(f.path("keys/mallory.pub")).unwrap()));
    resign(&mut ms, &f.path("keys/mallory.key"));
    write_zip(&p, &ms);
    expect(
        &f,
        &p,
        &[],
        1,
        "trusted keys",
        "manifest signed by an untrusted key",
    );

    // Revealed text altered, everything else re-signed by the exporter.
    let mut ms = original.clone();
    get(&mut ms, "content/2.txt").extend_from_slice(b" And more.");
    resign(&mut ms, &f.path("keys/alice.key"));
    write_zip(&p, &ms);
    expect(
        &f,
        &p,
        &[],
        1,
        "content",
        "revealed content does not match its commitment",
    );

    // A media file that is not the recorded one.
    let mut ms = original.clone();
    let name = ms
        .iter()
        .find(|m| m.0.starts_with("media/"))
        .unwrap()
        .0
        .clone();
    get(&mut ms, &name).push(b'!');
    resign(&mut ms, &f.path("keys/alice.key"));
    write_zip(&p, &ms);
    expect(
        &f,
        &p,
        &[],
        1,
        "media",
        "media file in the bundle does not match",
    );

    // And media kept outside the bundle, given with --media-dir.
    let dir = f.path("outside");
    std::fs::create_dir(&dir).unwrap();
    std::fs::write(dir.join("clip-001.mp4"), b"video bytes of clip one").unwrap();
    let d = dir.to_string_lossy().into_owned();
    expect(
        &f,
        &f.path("bundle.zip"),
        &["--media-dir", &d],
        0,
        "",
        "matching media dir",
    );
    std::fs::write(dir.join("clip-001.mp4"), b"edited video").unwrap();
    expect(
        &f,
        &f.path("bundle.zip"),
        &["--media-dir", &d],
        1,
        "media",
        "mismatching media dir",
    );
}

fn raw_zip(entries: &[(&str, Vec<u8>)]) -> Vec<u8> {
    let mut buf = std::io::Cursor::new(Vec::new());
    {
        let mut z = zip::ZipWriter::new(&mut buf);
        for (n, b) in entries {
            z.start_file(*n, zip::write::SimpleFileOptions::default())
                .unwrap();
            z.write_all(b).unwrap();
        }
        z.finish().unwrap();
    }
    buf.into_inner()
}

#[test]
fn malicious_archives_are_refused_with_exit_2_and_nothing_is_written() {
    let f = fixture();
    let good = members(&f.path("bundle.zip"));
    let with = |name: &str, body: Vec<u8>| {
        let mut e: Vec<(&str, Vec<u8>)> =
            good.iter().map(|(n, b)| (n.as_str(), b.clone())).collect();
        e.push((name, body));
        raw_zip(&e)
    };
    let mut cases: Vec<(&str, Vec<u8>)> = vec![
        ("path traversal", with("../escaped.txt", b"x".to_vec())),
        (
            "absolute path",
            with("/tmp/custody-escaped.txt", b"x".to_vec()),
        ),
        (
            "nested traversal",
            with("content/../../escaped.txt", b"x".to_vec()),
        ),
    ];
    // A zip bomb: 60 MiB of zeros that deflate to a few tens of KiB.
    let bomb = with("content/9.txt", vec![0u8; 60 << 20]);
    assert!(bomb.len() < 1 << 20);
    cases.push(("zip bomb", bomb));
    // Duplicate names: write two members, then give the second the first's name.
    let mut dup = with("manifest.jsoX", b"{}".to_vec());
    let from = b"manifest.jsoX";
    let mut i = 0;
    while let Some(pos) = dup[i..].windows(from.len()).position(|w| w == from) {
        dup[i + pos + from.len() - 1] = b'n';
        i += pos + 1;
    }
    cases.push(("duplicate names", dup));
    cases.push((
        "case-insensitive duplicate",
        with("MANIFEST.json", b"{}".to_vec()),
    ));
    // A symbolic link member.
    let mut buf = std::io::Cursor::new(Vec::new());
    {
        let mut z = zip::ZipWriter::new(&mut buf);
        for (n, b) in &good {
            z.start_file(n.as_str(), zip::write::SimpleFileOptions::default())
                .unwrap();
            z.write_all(b).unwrap();
        }
        z.add_symlink(
            "keys/00000000.pub",
            "/etc/passwd",
            zip::write::SimpleFileOptions::default(),
        )
        .unwrap();
        z.finish().unwrap();
    }
    cases.push(("symbolic link", buf.into_inner()));
    cases.push(("not a zip", b"PK\x03\x04 this is not really a zip".to_vec()));
    for (name, bytes) in cases {
        let work = f.path("work");
        std::fs::create_dir_all(&work).unwrap();
        let p = work.join("evil.zip");
        std::fs::write(&p, &bytes).unwrap();
        let before: Vec<_> = std::fs::read_dir(f.dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        let (ours, theirs) = verify_both(&f, &p, &[]);
        assert_eq!(ours.code, 2, "{name}: custody:\n{}", ours.all());
        assert_eq!(theirs.code, 2, "{name}: python:\n{}", theirs.all());
        assert!(
            ours.stderr.starts_with("error: "),
            "{name}: {}",
            ours.stderr
        );
        let after: Vec<_> = std::fs::read_dir(f.dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(before, after, "{name}: something was written");
        assert_eq!(
            std::fs::read_dir(&work).unwrap().count(),
            1,
            "{name}: something was extracted"
        );
        assert!(!Path::new("/tmp/custody-escaped.txt").exists());
    }
}

#[test]
fn nothing_about_other_records_leaks_into_the_bundle() {
    let f = fixture();
    let raw = std::fs::read(f.path("bundle.zip")).unwrap();
    let hit = |b: &[u8]| b.windows(MARKER.len()).any(|w| w == MARKER.as_bytes());
    assert!(!hit(&raw), "marker in the raw archive");
    for (n, b) in members(&f.path("bundle.zip")) {
        assert!(!hit(&b), "marker in {n}");
        assert!(
            !n.starts_with("proofs/5.") && !n.starts_with("content/5."),
            "record 5 named: {n}"
        );
    }
    // Stored (uncompressed) members are covered by the raw check; the hidden record's
    // leaf hash appears only as part of a proof path, never its bytes or fields.
    let m = manifest(&f.path("bundle.zip"));
    let seqs = seqs_of(&m, "exhibits");
    assert_eq!(seqs, [2, 3]);
}

#[test]
fn export_is_deterministic_and_respects_consent() {
    let f = fixture();
    export(
        &f,
        "again.zip",
        &["2", "3"],
        &["--media", &f.p("media/clip-001.mp4")],
    );
    assert_eq!(
        std::fs::read(f.path("bundle.zip")).unwrap(),
        std::fs::read(f.path("again.zip")).unwrap()
    );
    // Record 5's consent is "research": refused without an override, recorded with one.
    let o = f.export_by("alice", "c.zip", &["5"]);
    assert_eq!(o.code, 2, "{}", o.all());
    assert!(o.stderr.contains("--override-consent"), "{}", o.stderr);
    assert!(!f.path("c.zip").exists());
    f.export_ok(
        "alice",
        "c.zip",
        &["--override-consent", "court order 17/2026", "5"],
    );
    let m = manifest(&f.path("c.zip"));
    assert_eq!(m["exhibits"][0]["consent_override"], "court order 17/2026");
    // A media file that matches no exported record is refused.
    std::fs::write(f.path("stray.bin"), b"stray").unwrap();
    let o = f.export_by("alice", "d.zip", &["--media", &f.p("stray.bin"), "3"]);
    assert_eq!(o.code, 2);
    assert!(o.stderr.contains("matches no media record"), "{}", o.stderr);
    // An existing output is never overwritten.
    let o = f.export_by("alice", "bundle.zip", &["3"]);
    assert_eq!(o.code, 2);
}

#[test]
fn bundles_carry_the_custody_chain_and_authority_and_both_verifiers_check_them() {
    let f = fixture();
    // Hand the clip (record 3) to a custodian, who accepts.
    f.add_key("vault", "custodian");
    let vault: serde_json::Value = serde_json::from_str(
        &f.ok(&["key", "show", &f.p("keys/vault.pub"), "--json"])
            .stdout,
    )
    .unwrap();
    let t: serde_json::Value = serde_json::from_str(
        &f.ok(&[
            "transfer",
            "--ledger",
            &f.p("ledger"),
            "--key",
            &f.p("keys/alice.key"),
            "--exhibit",
            "3",
            "--to",
            vault["key_id"].as_str().unwrap(),
            "--reason",
            "storage",
            "--json",
        ])
        .stdout,
    )
    .unwrap();
    let tseq = t["appended"][0]["seq"].as_u64().unwrap().to_string();
    f.ok(&[
        "accept",
        "--ledger",
        &f.p("ledger"),
        "--key",
        &f.p("keys/vault.key"),
        &tseq,
    ]);
    f.checkpoint();
    export(&f, "custody.zip", &["3"], &[]);
    let m = manifest(&f.path("custody.zip"));
    let supporting = seqs_of(&m, "supporting");
    assert!(
        supporting.contains(&0) && supporting.contains(&1),
        "{supporting:?}"
    );
    assert!(
        supporting.contains(&tseq.parse().unwrap()),
        "{supporting:?}"
    );
    expect(&f, &f.path("custody.zip"), &[], 0, "", "custody chain");
    let (ours, _) = verify_both(&f, &f.path("custody.zip"), &[]);
    let line = ours
        .stdout
        .lines()
        .find(|l| l.contains("exhibit 3 custody"))
        .unwrap()
        .to_owned();
    assert!(line.contains(vault["key_id"].as_str().unwrap()), "{line}");

    // Alice's key is then found to have been compromised from record 3 on.
    f.revoke("alice", "compromised", Some("3"));
    f.checkpoint();
    let o = f.run(&["verify", "--ledger", &f.p("ledger"), "3"]);
    assert!(
        o.stdout.contains("[signed-after-compromise]"),
        "{}",
        o.stdout
    );
    // Alice's key may no longer speak for the ledger; an admin exports. Without a reason
    // the failing exhibit is refused (exit 1, nothing written); with one it goes, flagged.
    let admin_export = |extra: &[&str]| {
        let mut args = vec![
            "export".to_string(),
            "--ledger".into(),
            f.p("ledger"),
            "--key".into(),
            f.p("keys/ledger.key"),
            "--export-time".into(),
            f.export_time(),
            "--out".into(),
            f.p("compromised.zip"),
        ];
        args.extend(extra.iter().map(|s| s.to_string()));
        args.extend(["2".into(), "3".into()]);
        f.run(&args.iter().map(String::as_str).collect::<Vec<_>>())
    };
    let o = f.export_by("alice", "compromised.zip", &["3"]);
    assert_eq!(o.code, 2, "a revoked key exports: {}", o.all());
    assert!(o.stderr.contains("may not export"), "{}", o.stderr);
    let o = admin_export(&[]);
    assert_eq!(o.code, 1, "{}", o.all());
    assert!(o.stderr.contains("--include-failing"), "{}", o.stderr);
    assert!(!f.path("compromised.zip").exists());
    let o = admin_export(&["--include-failing", "the court asked for every record"]);
    assert_eq!(o.code, 0, "{}", o.all());
    expect(
        &f,
        &f.path("compromised.zip"),
        &[],
        1,
        "authority",
        "exhibit signed after compromise",
    );
    let (ours, _) = verify_both(&f, &f.path("compromised.zip"), &[]);
    assert!(
        ours.stdout.contains("[signed-after-compromise]"),
        "{}",
        ours.stdout
    );
}

#[test]
fn text_or_media_attached_to_the_wrong_record_is_refused_by_both_verifiers() {
    let f = fixture();
    let original = members(&f.path("bundle.zip"));
    let p = f.path("t.zip");
    // Reveal "text" for the media exhibit (record 3), re-signed by the exporter.
    let mut ms = original.clone();
    let mut m: serde_json::Value = serde_json::from_slice(get(&mut ms, "manifest.json")).unwrap();
    let ex = m["exhibits"]
        .as_array_mut()
        .unwrap()
        .iter_mut()
        .find(|e| e["seq"] == 3)
        .unwrap();
    ex["content"] = serde_json::json!({ "file": "content/3.txt", "salt": hex::encode([0u8; 32]) });
    *get(&mut ms, "manifest.json") = serde_json::to_vec_pretty(&m).unwrap();
    ms.push(("content/3.txt".into(), b"a made-up statement".to_vec()));
    resign(&mut ms, &f.path("keys/alice.key"));
    write_zip(&p, &ms);
    expect(&f, &p, &[], 1, "content", "text on a media record");
    // An exhibit with a member the format does not have.
    let mut ms = original.clone();
    let mut m: serde_json::Value = serde_json::from_slice(get(&mut ms, "manifest.json")).unwrap();
    m["exhibits"][0]["verified_by_court"] = true.into();
    *get(&mut ms, "manifest.json") = serde_json::to_vec_pretty(&m).unwrap();
    resign(&mut ms, &f.path("keys/alice.key"));
    write_zip(&p, &ms);
    expect(&f, &p, &[], 1, "manifest", "unknown exhibit member");
}

#[test]
fn a_pending_hand_over_to_a_receiver_who_signed_nothing_still_verifies() {
    let f = fixture();
    f.add_key("vault", "custodian");
    let vault: serde_json::Value = serde_json::from_str(
        &f.ok(&["key", "show", &f.p("keys/vault.pub"), "--json"])
            .stdout,
    )
    .unwrap();
    f.ok(&[
        "transfer",
        "--ledger",
        &f.p("ledger"),
        "--key",
        &f.p("keys/alice.key"),
        "--exhibit",
        "3",
        "--to",
        vault["key_id"].as_str().unwrap(),
        "--reason",
        "storage",
    ]);
    f.checkpoint();
    export(&f, "pending.zip", &["3"], &[]);
    expect(&f, &f.path("pending.zip"), &[], 0, "", "pending hand-over");
    let (ours, _) = verify_both(&f, &f.path("pending.zip"), &[]);
    assert!(ours.stdout.contains("pending"), "{}", ours.stdout);
}
