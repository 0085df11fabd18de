//! Independent tools agree with us: OpenSSL reads our keys and verifies our signatures,
//! and `sha256sum` computes the digests our media records hold.

use crate::util::*;
use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use std::process::Command;

fn openssl(args: &[&str]) -> std::process::Output {
    Command::new("openssl")
        .args(args)
        .output()
        .expect("openssl is installed (see .ci/run)")
}

#[test]
fn openssl_reads_both_key_files_and_derives_the_same_public_key() {
    let f = Fixture::new();
    let o = openssl(&["pkey", "-in", &f.p("keys/alice.key"), "-pubout"]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let ours = std::fs::read_to_string(f.path("keys/alice.pub")).unwrap();
    assert_eq!(String::from_utf8_lossy(&o.stdout), ours);
    let o = openssl(&["pkey", "-pubin", "-in", &f.p("keys/alice.pub"), "-noout"]);
    assert!(o.status.success());
}

#[test]
fn openssl_verifies_a_record_statement_signature_over_label_and_bytes() {
    let f = Fixture::new();
    let seq = f.media("v.mp4", b"video bytes");
    let v: serde_json::Value = serde_json::from_str(
        &f.ok(&[
            "show",
            "--ledger",
            &f.p("ledger"),
            &seq.to_string(),
            "--json",
        ])
        .stdout,
    )
    .unwrap();
    let mut msg = b"custody/v1/statement\n".to_vec();
    msg.extend(B64.decode(v["statement_bytes"].as_str().unwrap()).unwrap());
    std::fs::write(f.path("msg.bin"), &msg).unwrap();
    std::fs::write(
        f.path("sig.bin"),
        B64.decode(v["signature"].as_str().unwrap()).unwrap(),
    )
    .unwrap();
    let args = [
        "pkeyutl",
        "-verify",
        "-pubin",
        "-inkey",
        &f.p("keys/alice.pub"),
        "-rawin",
        "-in",
        &f.p("msg.bin"),
        "-sigfile",
        &f.p("sig.bin"),
    ];
    let o = openssl(&args);
    assert!(
        o.status.success(),
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    // And a changed message fails, so the check above means something.
    msg.push(b'x');
    std::fs::write(f.path("msg.bin"), &msg).unwrap();
    assert!(!openssl(&args).status.success());
}

#[test]
fn openssl_verifies_a_checkpoint_note_signature() {
    let f = Fixture::new();
    let note = f.checkpoint();
    let (text, sigs) = note.rsplit_once("\n\n").unwrap();
    let text = format!("{text}\n");
    let line = sigs.lines().next().unwrap();
    let b64 = line.rsplit(' ').next().unwrap();
    let raw = B64.decode(b64).unwrap();
    std::fs::write(f.path("note.txt"), &text).unwrap();
    std::fs::write(f.path("note.sig"), &raw[4..]).unwrap();
    let o = openssl(&[
        "pkeyutl",
        "-verify",
        "-pubin",
        "-inkey",
        &f.p("keys/ledger.pub"),
        "-rawin",
        "-in",
        &f.p("note.txt"),
        "-sigfile",
        &f.p("note.sig"),
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
}

#[test]
fn sha256sum_agrees_with_media_records() {
    let f = Fixture::new();
    let data: Vec<u8> = (0..3_000_000u32).map(|i| (i % 251) as u8).collect();
    let seq = f.media("big.bin", &data);
    let v: serde_json::Value = serde_json::from_str(
        &f.ok(&[
            "show",
            "--ledger",
            &f.p("ledger"),
            &seq.to_string(),
            "--json",
        ])
        .stdout,
    )
    .unwrap();
    let o = Command::new("sha256sum")
        .arg(f.path("media/big.bin"))
        .output()
        .unwrap();
    let theirs = String::from_utf8_lossy(&o.stdout)
        .split_whitespace()
        .next()
        .unwrap()
        .to_owned();
    assert_eq!(v["body"]["sha256"], theirs);
    assert_eq!(v["body"]["size"], data.len());
}
