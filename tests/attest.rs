//! Bundles that carry what attests their checkpoints independently of the ledger's owner:
//! witnesses' cosignatures (a real witness served on loopback) and RFC 3161 tokens (a real
//! authority: `openssl ts -reply`). Both verifiers check them; `openssl ts -verify` checks
//! each token as VERIFY.txt says; forged attestations re-signed with the exporter's own key
//! are caught; `--policy` and `--tsa-cert` pin witnesses and authorities.

use crate::bundle::{get, manifest, members, resign, write_zip};
use crate::timestamp::{authority, stamp_through_files};
use crate::util::*;
use crate::witness::{Served, checkpoint_with, witness};
use serde_json::Value;
use std::path::Path;

/// Takes a token from the authority in `tsa` for the ledger's latest checkpoint, through
/// files, and keeps it.
fn stamp(f: &Fixture, tsa: &Path) {
    let o = stamp_through_files(f, tsa);
    assert_eq!(o.code, 0, "{}", o.all());
}

/// A policy that asks for the witness with verifier key `vkey`.
fn policy_for(f: &Fixture, name: &str, vkey: &str) -> String {
    let (_, _, raw) = custody::note::parse_verifier_key(vkey).unwrap();
    let path = f.path(&format!("{name}.policy"));
    std::fs::write(&path, format!("witness w {}\nquorum w\n", hex::encode(raw))).unwrap();
    path.to_str().unwrap().to_owned()
}

/// A ledger whose record 3 is covered by a time-stamped checkpoint of 4 records, and whose
/// record 4 by a checkpoint of 5 records that a witness cosigned and the authority stamped;
/// with the witness's key and the bundle of exhibits 3 and 4.
struct Attested {
    f: Fixture,
    vkey: String,
    bundle: std::path::PathBuf,
    _served: Served,
}

fn attested() -> Attested {
    let f = Fixture::with_records(2);
    authority(&f.path("tsa"), "ec");
    stamp(&f, &f.path("tsa"));
    f.testimony("the fourth record");
    let vkey = witness(&f);
    let served = Served::start(&f);
    let o = checkpoint_with(&f, "ledger", &served, &vkey);
    assert_eq!(o.code, 0, "{}", o.all());
    stamp(&f, &f.path("tsa"));
    f.export_ok("ledger", "b.zip", &["3", "4"]);
    Attested {
        bundle: f.path("b.zip"),
        f,
        vkey,
        _served: served,
    }
}

fn trust(f: &Fixture) -> Vec<String> {
    vec![
        "--trust".into(),
        f.p("keys/ledger.pub"),
        "--tsa-cert".into(),
        f.p("tsa/root.crt"),
    ]
}

fn both(f: &Fixture, bundle: &Path, extra: &[String]) -> (Output, Output) {
    let mut args = vec![bundle.to_str().unwrap().to_owned()];
    args.extend(extra.iter().cloned());
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    f.verify_bundle_both(&args)
}

#[test]
fn bundles_carry_cosigned_and_time_stamped_checkpoints_and_both_verifiers_check_them() {
    let a = attested();
    let f = &a.f;
    let m = manifest(&a.bundle);
    let sizes: Vec<u64> = m["attestations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x["checkpoint_size"].as_u64().unwrap())
        .collect();
    assert_eq!(sizes, vec![4, 5], "{m:#}");
    assert_eq!(
        m["attestations"][0]["checkpoint_file"],
        "attest/4/checkpoint.txt"
    );
    assert_eq!(m["attestations"][1]["checkpoint_file"], "checkpoint.txt");
    assert_eq!(
        m["attestations"][1]["cosignatures"][0]["key"],
        a.vkey.as_str()
    );
    let policy = policy_for(f, "mine", &a.vkey);
    let mut args = trust(f);
    args.extend(["--policy".into(), policy.clone()]);
    let (ours, theirs) = both(f, &a.bundle, &args);
    assert_eq!(ours.code, 0, "{}", ours.all());
    assert_eq!(theirs.code, 0, "{}", theirs.all());
    for want in [
        "[ok] attested checkpoint 4: time-stamp",
        "[ok] attested checkpoint 5: witness witness.example.org/w1",
        "[ok] trusted time-stamp authorities: 2 time-stamp tokens",
        "[ok] witness quorum: the checkpoint is cosigned by w",
        // A witness is its key: the policy's name for it, beside the bundle's label.
        "[ok] pinned witnesses: every cosignature in the bundle is by a witness key the policy names: w (labelled witness.example.org/w1 in the bundle)",
    ] {
        assert!(ours.stdout.contains(want), "{want}\n{}", ours.stdout);
    }
    // The judge reads, per exhibit, when it existed at the latest, and who attests it.
    let ms = members(&a.bundle);
    // The page's words, its data isolations (<bdi>) aside.
    let html = String::from_utf8(ms.iter().find(|x| x.0 == "report.html").unwrap().1.clone())
        .unwrap()
        .replace("<bdi>", "")
        .replace("</bdi>", "");
    // The authority vouches for its time within its accuracy (1 s here): no later than the
    // stamped time plus that.
    let stamped = |i: usize| {
        let t = &m["attestations"][i]["timestamps"][0];
        (
            t["time"].as_str().unwrap().to_owned(),
            custody::record::rfc3339(t["time_ms"].as_u64().unwrap() + 1000),
        )
    };
    let ((t4, t4_late), (_, t5_late)) = (stamped(0), stamped(1));
    assert!(
        html.contains(&format!(
            "recorded no later than {t4_late}, attested by CN=Test TSA (a time-stamp of the checkpoint of 4 records, stamped {t4} with an accuracy of 1000 ms"
        )),
        "{html}"
    );
    assert!(
        html.contains(&format!("recorded no later than {t5_late}")),
        "{html}"
    );
    assert!(
        html.contains("checkpoint of 5 records cosigned by witness.example.org/w1 at"),
        "{html}"
    );
    // OpenSSL alone checks every token as VERIFY.txt says.
    let dir = f.path("unzipped");
    for (name, bytes) in &ms {
        let p = dir.join(name);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, bytes).unwrap();
    }
    let txt = std::fs::read_to_string(dir.join("VERIFY.txt")).unwrap();
    let lines: Vec<&str> = txt
        .lines()
        .map(str::trim)
        .filter(|l| l.starts_with("openssl ts -verify"))
        .collect();
    assert_eq!(lines.len(), 2, "{txt}");
    for l in lines {
        let out = std::process::Command::new("sh")
            .args(["-c", l])
            .current_dir(&dir)
            .output()
            .unwrap();
        assert!(
            String::from_utf8_lossy(&out.stdout).contains("Verification: OK"),
            "{l}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    // Without --tsa-cert the authorities are said to be unpinned.
    let (ours, _) = both(f, &a.bundle, &["--trust".into(), f.p("keys/ledger.pub")]);
    assert_eq!(ours.code, 0, "{}", ours.all());
    assert!(
        ours.stdout.contains("authorities were not pinned"),
        "{}",
        ours.stdout
    );
}

#[test]
fn another_witness_or_another_authority_is_not_enough() {
    let a = attested();
    let f = &a.f;
    // A policy asking for a witness that did not cosign: both fail; export refuses.
    f.ok(&["key", "generate", "other", "--dir", &f.p("keys")]);
    let other_w = f.run(&[
        "witness",
        "init",
        "--dir",
        &f.p("w2"),
        "--name",
        "witness.example.org/w2",
    ]);
    assert_eq!(other_w.code, 0, "{}", other_w.all());
    let other = policy_for(f, "other", other_w.stdout.trim());
    let mut args = trust(f);
    args.extend(["--policy".into(), other.clone()]);
    let (ours, theirs) = both(f, &a.bundle, &args);
    assert_eq!(
        (ours.code, theirs.code),
        (1, 1),
        "{}\n{}",
        ours.all(),
        theirs.all()
    );
    assert!(
        ours.stdout.contains("[FAILED] witness quorum"),
        "{}",
        ours.stdout
    );
    let o = f.export_by("ledger", "refused.zip", &["2", "--policy", &other]);
    assert_eq!(o.code, 1, "{}", o.all());
    assert!(o.stderr.contains("fails the policy"), "{}", o.stderr);
    assert!(!f.path("refused.zip").exists());
    let mine = policy_for(f, "mine", &a.vkey);
    f.export_ok("ledger", "kept.zip", &["2", "--policy", &mine]);
    // Tokens that do not lead to the authority the court trusts: both fail.
    authority(&f.path("tsa2"), "rsa");
    let (ours, theirs) = both(
        f,
        &a.bundle,
        &[
            "--trust".into(),
            f.p("keys/ledger.pub"),
            "--tsa-cert".into(),
            f.p("tsa2/root.crt"),
        ],
    );
    assert_eq!(
        (ours.code, theirs.code),
        (1, 1),
        "{}\n{}",
        ours.all(),
        theirs.all()
    );
    assert!(
        ours.stdout
            .contains("[FAILED] trusted time-stamp authorities"),
        "{}",
        ours.stdout
    );
}

/// Re-signed edits: whoever holds the exporting key rewrites an attestation; each is caught
/// by the attestation checks themselves, by both verifiers.
#[test]
fn forged_attestations_are_caught_even_when_re_signed() {
    let a = attested();
    let f = &a.f;
    let original = members(&a.bundle);
    let m0 = manifest(&a.bundle);
    let tsr3 = m0["attestations"][0]["timestamps"][0]["file"]
        .as_str()
        .unwrap()
        .to_owned();
    let tsr4 = m0["attestations"][1]["timestamps"][0]["file"]
        .as_str()
        .unwrap()
        .to_owned();
    type Edit = Box<dyn Fn(&mut Vec<(String, Vec<u8>)>, &mut Value)>;
    let flip_last = |name: String| -> Edit {
        Box::new(move |ms, _| {
            let b = get(ms, &name);
            let n = b.len();
            b[n - 1] ^= 1;
        })
    };
    let cases: Vec<(&str, &str, Edit)> = vec![
        (
            "a token's signature byte",
            "time-stamp",
            flip_last(tsr3.clone()),
        ),
        (
            "the earlier checkpoint's token swapped for the later one's",
            "time-stamp",
            {
                let (t3, t4) = (tsr3.clone(), tsr4.clone());
                Box::new(move |ms, _| {
                    let later = get(ms, &t4).clone();
                    *get(ms, &t3) = later;
                })
            },
        ),
        (
            "a stamped time moved earlier",
            "time-stamp",
            Box::new(|_, m| {
                let t = &mut m["attestations"][0]["timestamps"][0];
                let ms = t["time_ms"].as_u64().unwrap() - 86_400_000;
                t["time_ms"] = ms.into();
                t["time"] = custody::record::rfc3339(ms).into();
            }),
        ),
        (
            "a cosignature line",
            "witness",
            Box::new(|ms, _| {
                let b = get(ms, "attest/5/cosigned.txt");
                let n = b.len();
                b[n - 6] = if b[n - 6] == b'A' { b'B' } else { b'A' };
            }),
        ),
        (
            "a cosignature time",
            "witness",
            Box::new(|_, m| {
                let c = &mut m["attestations"][1]["cosignatures"][0];
                let ms = c["time_ms"].as_u64().unwrap() - 1000;
                c["time_ms"] = ms.into();
                c["time"] = custody::record::rfc3339(ms).into();
            }),
        ),
        (
            "a consistency proof hash",
            "attested checkpoint 4",
            Box::new(|_, m| {
                m["attestations"][0]["consistency_proof"][0] =
                    "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=".into();
            }),
        ),
        (
            "the earlier checkpoint rewritten",
            "attested checkpoint 4",
            Box::new(|ms, _| {
                let b = get(ms, "attest/4/checkpoint.txt");
                let text = String::from_utf8(b.clone()).unwrap();
                *b = text.replacen("\n4\n", "\n3\n", 1).into_bytes();
            }),
        ),
        (
            "the authority's certificate replaced by another's",
            "time-stamp",
            {
                let other = f.path("tsa-other");
                authority(&other, "ec");
                let pem = std::fs::read(other.join("root.crt")).unwrap();
                Box::new(move |ms, m| {
                    use sha2::Digest;
                    let der = pem_der(&pem);
                    let name = format!("tsa/{}.pem", hex::encode(sha2::Sha256::digest(&der)));
                    let canonical = pem_of(&der);
                    let old: Vec<String> = ms
                        .iter()
                        .map(|x| x.0.clone())
                        .filter(|n| n.starts_with("tsa/"))
                        .collect();
                    ms.retain(|x| !old.contains(&x.0));
                    ms.push((name.clone(), canonical));
                    for at in m["attestations"].as_array_mut().unwrap() {
                        for t in at["timestamps"].as_array_mut().unwrap() {
                            t["certificates"] = Value::Array(vec![name.clone().into()]);
                        }
                    }
                })
            },
        ),
    ];
    for (what, check, edit) in cases {
        let ours = forged_fails(f, &original, what, |ms, m| edit(ms, m));
        assert!(
            ours.stdout
                .lines()
                .any(|l| l.starts_with("[FAILED] attested checkpoint") && l.contains(check)),
            "{what}: no failed '{check}' check:\n{}",
            ours.stdout
        );
    }
}

/// A copy of the bundle `original` edited by `edit` (its members and manifest), re-signed
/// with the exporting key as an insider would: both verifiers must fail it (exit 1).
/// Returns custody's output.
fn forged_fails(
    f: &Fixture,
    original: &[(String, Vec<u8>)],
    what: &str,
    edit: impl FnOnce(&mut Vec<(String, Vec<u8>)>, &mut Value),
) -> Output {
    let mut ms = original.to_vec();
    let mut m: Value = serde_json::from_slice(get(&mut ms, "manifest.json")).unwrap();
    edit(&mut ms, &mut m);
    *get(&mut ms, "manifest.json") = serde_json::to_vec_pretty(&m).unwrap();
    resign(&mut ms, &f.path("keys/ledger.key"));
    let path = f.path("forged.zip");
    write_zip(&path, &ms);
    let (ours, theirs) = both(f, &path, &["--trust".into(), f.p("keys/ledger.pub")]);
    assert_eq!(ours.code, 1, "{what}: {}", ours.all());
    assert_eq!(theirs.code, 1, "{what} (Python): {}", theirs.all());
    ours
}

/// The DER of the first certificate in a PEM file.
fn pem_der(pem: &[u8]) -> Vec<u8> {
    use base64::Engine;
    let text = String::from_utf8_lossy(pem);
    let b64: String = text
        .lines()
        .skip_while(|l| !l.starts_with("-----BEGIN CERTIFICATE"))
        .skip(1)
        .take_while(|l| !l.starts_with("-----END"))
        .collect();
    base64::engine::general_purpose::STANDARD
        .decode(b64)
        .unwrap()
}

/// The PEM of one certificate, in lines of 64 characters.
fn pem_of(der: &[u8]) -> Vec<u8> {
    use base64::Engine;
    let b64 = base64::engine::general_purpose::STANDARD.encode(der);
    let mut s = String::from("-----BEGIN CERTIFICATE-----\n");
    for chunk in b64.as_bytes().chunks(64) {
        s.push_str(std::str::from_utf8(chunk).unwrap());
        s.push('\n');
    }
    s.push_str("-----END CERTIFICATE-----\n");
    s.into_bytes()
}

/// The audit checks what the ledger keeps beside its checkpoints.
#[test]
fn the_audit_checks_kept_tokens_and_cosignatures() {
    let a = attested();
    let f = &a.f;
    let o = f.run(&[
        "audit",
        "--ledger",
        &f.p("ledger"),
        "--tsa-cert",
        &f.p("tsa/root.crt"),
    ]);
    assert_eq!(o.code, 0, "{}", o.all());
    authority(&f.path("tsa2"), "ec");
    let o = f.run(&[
        "audit",
        "--ledger",
        &f.p("ledger"),
        "--tsa-cert",
        &f.p("tsa2/root.crt"),
    ]);
    assert_eq!(o.code, 1, "another authority's root: {}", o.all());
    // A damaged token, a stray file and a forged cosignature line are each named.
    let ts = f.path("ledger/timestamps");
    let tsr = std::fs::read_dir(&ts)
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.extension().is_some_and(|x| x == "tsr"))
        .unwrap();
    let mut b = std::fs::read(&tsr).unwrap();
    let n = b.len();
    b[n - 1] ^= 1;
    std::fs::write(&tsr, b).unwrap();
    std::fs::write(ts.join("notes.txt"), "hello").unwrap();
    let cosigned = f.path("ledger/cosigned/5");
    let text = std::fs::read_to_string(&cosigned).unwrap();
    let forged = format!(
        "{text}\u{2014} witness.example.org/w1 AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\n"
    );
    std::fs::write(&cosigned, forged).unwrap();
    let j = f.audit_json();
    let findings: Vec<(String, String)> = j["report"]["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| {
            (
                x["code"].as_str().unwrap().to_owned(),
                x["message"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    let name = tsr.file_name().unwrap().to_str().unwrap();
    for (code, part) in [
        ("timestamp", name),
        ("timestamp", "notes.txt"),
        ("cosignature", "cosigned/5"),
    ] {
        assert!(
            findings.iter().any(|(c, m)| c == code && m.contains(part)),
            "{code} {part}: {findings:?}"
        );
    }
}

/// A cosignature line by `key` under `name` at `time` (seconds) over the checkpoint `text`.
fn cosign_line(text: &str, name: &str, key: &ed25519_dalek::SigningKey, time: u64) -> String {
    let body = &text[..text.find("\n\n").unwrap() + 1];
    custody::note::cosign(body, name, key, time).unwrap()
}

fn vkey_of(name: &str, key: &ed25519_dalek::SigningKey) -> String {
    custody::note::typed_verifier_key(
        name,
        custody::note::TYPE_COSIGNATURE_V1,
        &key.verifying_key().to_bytes(),
    )
}

/// Adversary findings, kept: an insider plants cosignatures in the ledger (a made-up key
/// under the real witness's name, the ledger's own key as a "witness", a back-dated one).
/// The policy pins the real witness everywhere (export, verify-bundle, audit); no key of
/// the ledger and no time before the records counts; unpinned names are said to be so.
#[test]
fn planted_witnesses_do_not_pass_for_real_ones() {
    let a = attested();
    let f = &a.f;
    let mine = policy_for(f, "mine", &a.vkey);
    let now = custody::unix_ms() / 1000;
    let checkpoint_4 = {
        let ms = members(&a.bundle);
        String::from_utf8(
            ms.iter()
                .find(|x| x.0 == "attest/4/checkpoint.txt")
                .unwrap()
                .1
                .clone(),
        )
        .unwrap()
    };
    // A made-up key under the real witness's name, kept as if it had cosignature 4.
    let fake = ed25519_dalek::SigningKey::from_bytes(&[9; 32]);
    let name = "witness.example.org/w1";
    let line = cosign_line(&checkpoint_4, name, &fake, now);
    std::fs::write(f.path("ledger/cosigned/4"), format!("{checkpoint_4}{line}")).unwrap();
    let keys_file = f.path("ledger/cosigned/witness-keys");
    let mut keys = std::fs::read_to_string(&keys_file).unwrap();
    keys.push_str(&format!("{}\n", vkey_of(name, &fake)));
    std::fs::write(&keys_file, keys).unwrap();
    // The audit pins the witnesses with the policy; without one, it says they were not.
    let o = f.run(&["audit", "--ledger", &f.p("ledger"), "--policy", &mine]);
    assert_eq!(o.code, 1, "{}", o.all());
    assert!(
        o.stdout.contains("not one the policy names"),
        "{}",
        o.stdout
    );
    let o = f.run(&["audit", "--ledger", &f.p("ledger")]);
    assert_eq!(o.code, 0, "{}", o.all());
    assert!(
        o.stdout.contains("pin the witnesses with --policy"),
        "{}",
        o.stdout
    );
    // export --policy leaves it out; a bundle that carries it fails a court's policy.
    f.export_ok("ledger", "pinned.zip", &["3", "4", "--policy", &mine]);
    let m = manifest(&f.path("pinned.zip"));
    assert!(
        m["attestations"]
            .as_array()
            .unwrap()
            .iter()
            .all(|x| x["checkpoint_size"] != 4 || x["cosignatures"].as_array().unwrap().is_empty()),
        "{m:#}"
    );
    let mut pinned = trust(f);
    pinned.extend(["--policy".into(), mine.clone()]);
    let (ours, theirs) = both(f, &f.path("pinned.zip"), &pinned);
    assert_eq!(
        (ours.code, theirs.code),
        (0, 0),
        "{}\n{}",
        ours.all(),
        theirs.all()
    );
    f.export_ok("ledger", "unpinned.zip", &["3", "4"]);
    let (ours, theirs) = both(f, &f.path("unpinned.zip"), &pinned);
    assert_eq!(
        (ours.code, theirs.code),
        (1, 1),
        "{}\n{}",
        ours.all(),
        theirs.all()
    );
    assert!(
        ours.stdout.contains("[FAILED] pinned witnesses"),
        "{}",
        ours.stdout
    );
    let (ours, _) = both(f, &f.path("unpinned.zip"), &trust(f));
    assert_eq!(ours.code, 0, "{}", ours.all());
    assert!(
        ours.stdout.contains("witnesses were not pinned"),
        "{}",
        ours.stdout
    );
    let j = f.run(&[
        "verify-bundle",
        &f.p("unpinned.zip"),
        "--trust",
        &f.p("keys/ledger.pub"),
        "--json",
    ]);
    let j: Value = serde_json::from_str(&j.stdout).unwrap();
    assert_eq!(
        (j["tsa_pinned"].as_bool(), j["witnesses_pinned"].as_bool()),
        (Some(false), Some(false))
    );

    // Forged into a bundle by whoever holds the exporting key: the ledger's own key as a
    // witness, one key under two names, and a cosignature dated before the records.
    let key = f.path("keys/ledger.key");
    let ledger_key = custody::keys::load_secret(&key).unwrap();
    let other = ed25519_dalek::SigningKey::from_bytes(&[7; 32]);
    type Signers = Vec<(String, ed25519_dalek::SigningKey, u64)>;
    let cases: Vec<(&str, Signers, &str)> = vec![
        (
            "the ledger key as a witness",
            vec![("witness.example.org/w9".into(), ledger_key.clone(), now)],
            "no independent witness",
        ),
        (
            "one key under two names",
            vec![
                ("witness.example.org/a".into(), other.clone(), now),
                ("witness.example.org/b".into(), other.clone(), now),
            ],
            "cosigns twice",
        ),
        (
            "a cosignature from 2020",
            vec![(
                "witness.example.org/old".into(),
                other.clone(),
                1_577_836_800,
            )],
            "before a record it covers",
        ),
    ];
    let original = members(&f.path("pinned.zip"));
    for (what, signers, why) in cases {
        let ours = forged_fails(f, &original, what, |ms, m| {
            let text = String::from_utf8(get(ms, "checkpoint.txt").clone()).unwrap();
            let at = m["attestations"]
                .as_array_mut()
                .unwrap()
                .iter_mut()
                .find(|x| x["checkpoint_size"] == 5)
                .unwrap();
            let mut cosigned = text.clone();
            let mut entries = Vec::new();
            for (name, k, t) in &signers {
                cosigned.push_str(&cosign_line(&text, name, k, *t));
                entries.push(serde_json::json!({
                    "witness": name,
                    "key": vkey_of(name, k),
                    "time_ms": t * 1000,
                    "time": custody::record::rfc3339(t * 1000),
                }));
            }
            at["cosigned_file"] = "attest/5/cosigned.txt".into();
            at["cosignatures"] = Value::Array(entries);
            ms.retain(|x| x.0 != "attest/5/cosigned.txt");
            ms.push(("attest/5/cosigned.txt".into(), cosigned.into_bytes()));
        });
        assert!(
            ours.stdout.lines().any(
                |l| l.starts_with("[FAILED] attested checkpoint 5: witness") && l.contains(why)
            ),
            "{what}: {}",
            ours.stdout
        );
    }
}

/// A cosignature line slipped into checkpoint.txt itself (where check 15 would never judge
/// it, and a policy would count it) fails the checkpoint check, in both verifiers.
#[test]
fn checkpoint_txt_carries_the_ledger_signature_alone() {
    let a = attested();
    let f = &a.f;
    let original = members(&a.bundle);
    let witness = ed25519_dalek::SigningKey::from_bytes(&[5; 32]);
    let ours = forged_fails(f, &original, "a cosignature in checkpoint.txt", |ms, _| {
        let text = String::from_utf8(get(ms, "checkpoint.txt").clone()).unwrap();
        let line = cosign_line(&text, "witness.example.org/w7", &witness, 0);
        get(ms, "checkpoint.txt").extend_from_slice(line.as_bytes());
    });
    assert!(
        ours.stdout
            .contains("[FAILED] checkpoint signature [checkpoint-signature]: checkpoint.txt carries other signature lines"),
        "{}",
        ours.stdout
    );
}

/// Adversary findings, kept: extreme numbers in a bundle never panic a verifier, and a
/// FIFO planted among the kept tokens is a finding of the audit, not an abort or a hang.
#[test]
fn extreme_numbers_and_planted_files_are_findings() {
    let a = attested();
    let f = &a.f;
    let original = members(&a.bundle);
    type Edit = fn(&mut Value);
    let edits: [(&str, Edit); 3] = [
        ("an exhibit at the last sequence number", |m| {
            m["exhibits"][1]["seq"] = u64::MAX.into();
        }),
        ("an attestation of size 0", |m| {
            m["attestations"][0]["checkpoint_size"] = 0.into();
        }),
        ("an attestation past the bundle's checkpoint", |m| {
            m["attestations"][0]["checkpoint_size"] = u64::MAX.into();
        }),
    ];
    for (what, edit) in edits {
        forged_fails(f, &original, what, |_, m| edit(m));
    }
    let fifo = f.path("ledger/timestamps/5-aa.tsr");
    let made = std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .unwrap();
    assert!(made.success());
    let o = f.run(&["audit", "--ledger", &f.p("ledger")]);
    assert_eq!(o.code, 1, "{}", o.all());
    assert!(o.stdout.contains("5-aa.tsr"), "{}", o.stdout);
}
