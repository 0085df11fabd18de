//! The two bundle verifiers agree, by test: edits of a valid bundle (every manifest
//! field, member bytes, member names, ZIP structure), each re-signed with the exporter's
//! own key so that only the deeper checks can catch it, must get the same exit code from
//! `custody verify-bundle` and `scripts/verify_bundle.py`. Edits of `report.html` and
//! `VERIFY.txt` aside: only custody renders those again (SPEC.md 11.3, check 14).
//!
//! `CUSTODY_DIFF_CASES` sets how many edits run (default 160; every generated edit with
//! a larger number).

use crate::util::*;
use serde_json::Value;
use std::collections::BTreeMap;
use std::io::{Read, Write};

type Members = Vec<(String, Vec<u8>)>;

fn read_members(path: &std::path::Path) -> Members {
    let mut z = zip::ZipArchive::new(std::fs::File::open(path).unwrap()).unwrap();
    (0..z.len())
        .map(|i| {
            let mut f = z.by_index(i).unwrap();
            let mut b = Vec::new();
            f.read_to_end(&mut b).unwrap();
            (String::from_utf8_lossy(f.name_raw()).into_owned(), b)
        })
        .collect()
}

fn write_zip(members: &Members) -> Vec<u8> {
    use zip::write::SimpleFileOptions;
    let mut z = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let opt = SimpleFileOptions::default()
        .last_modified_time(zip::DateTime::default())
        .unix_permissions(0o644)
        .compression_method(zip::CompressionMethod::Deflated);
    for (name, bytes) in members {
        z.start_file(name.as_str(), opt).unwrap();
        z.write_all(bytes).unwrap();
    }
    z.finish().unwrap().into_inner()
}

fn sha(b: &[u8]) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(b))
}

/// Re-signs a manifest with the exporter's key and rebuilds SHA256SUMS, so that the edit
/// reaches the checks behind the signature.
fn resign(members: &mut Members, manifest: &Value, key: &ed25519_dalek::SigningKey) {
    let mut bytes = serde_json::to_vec_pretty(manifest).unwrap();
    bytes.push(b'\n');
    let sig = custody::keys::sign(key, &bytes);
    for (n, b) in members.iter_mut() {
        match n.as_str() {
            "manifest.json" => *b = bytes.clone(),
            "manifest.sig" => *b = sig.to_vec(),
            _ => {}
        }
    }
    let sums: BTreeMap<&str, String> = members
        .iter()
        .filter(|(n, _)| n != "SHA256SUMS")
        .map(|(n, b)| (n.as_str(), sha(b)))
        .collect();
    let text: String = sums.iter().map(|(n, d)| format!("{d}  {n}\n")).collect();
    for (n, b) in members.iter_mut() {
        if n == "SHA256SUMS" {
            *b = text.clone().into_bytes();
        }
    }
}

/// Every leaf and object of a JSON value, with a path to reach it.
fn paths(v: &Value, at: Vec<PathStep>, out: &mut Vec<Vec<PathStep>>) {
    out.push(at.clone());
    match v {
        Value::Object(m) => {
            for (k, x) in m {
                let mut p = at.clone();
                p.push(PathStep::Key(k.clone()));
                paths(x, p, out);
            }
        }
        Value::Array(a) => {
            for (i, x) in a.iter().enumerate() {
                let mut p = at.clone();
                p.push(PathStep::Index(i));
                paths(x, p, out);
            }
        }
        _ => {}
    }
}

#[derive(Clone, Debug)]
enum PathStep {
    Key(String),
    Index(usize),
}

fn at_mut<'a>(v: &'a mut Value, path: &[PathStep]) -> &'a mut Value {
    path.iter().fold(v, |v, s| match s {
        PathStep::Key(k) => &mut v[k.as_str()],
        PathStep::Index(i) => &mut v[*i],
    })
}

/// The edits of one JSON value.
fn value_edits(v: &Value) -> Vec<(&'static str, Value)> {
    let mut e = vec![("null", Value::Null)];
    match v {
        Value::String(s) => {
            e.push(("empty string", Value::String(String::new())));
            e.push(("appended char", Value::String(format!("{s}0"))));
            let mut flipped: Vec<char> = s.chars().collect();
            if let Some(c) = flipped.first_mut() {
                *c = if *c == 'a' { 'b' } else { 'a' };
            }
            e.push((
                "first char changed",
                Value::String(flipped.into_iter().collect()),
            ));
            e.push(("number", Value::from(1)));
        }
        Value::Number(n) => {
            let x = n.as_u64().unwrap_or(0);
            e.push(("plus one", Value::from(x.wrapping_add(1))));
            e.push(("zero", Value::from(0)));
            e.push(("u64 max", Value::from(u64::MAX)));
            e.push(("beyond 9999", Value::from(253_402_300_800_000u64)));
            e.push(("string", Value::String(x.to_string())));
        }
        Value::Null => {
            e.push(("string", Value::String("x".into())));
            e.push(("empty string", Value::String(String::new())));
        }
        Value::Array(a) => {
            e.push(("empty array", Value::Array(vec![])));
            if let Some(first) = a.first() {
                let mut d = a.clone();
                d.push(first.clone());
                e.push(("duplicated element", Value::Array(d)));
                e.push(("first element dropped", Value::Array(a[1..].to_vec())));
            }
        }
        Value::Object(m) => {
            let mut extra = m.clone();
            extra.insert("unknown".into(), Value::from(1));
            e.push(("unknown member", Value::Object(extra)));
            if let Some(k) = m.keys().next() {
                let mut less = m.clone();
                less.remove(k);
                e.push(("first member removed", Value::Object(less)));
            }
        }
        Value::Bool(b) => e.push(("negated", Value::Bool(!b))),
    }
    e
}

struct Case {
    name: String,
    bytes: Vec<u8>,
}

/// The edits: (manifest field edits, every other edit).
fn cases(original: &Members, key: &ed25519_dalek::SigningKey) -> (Vec<Case>, Vec<Case>) {
    let get = |n: &str| original.iter().find(|(m, _)| m == n).unwrap().1.clone();
    let manifest: Value = serde_json::from_slice(&get("manifest.json")).unwrap();
    let mut out = vec![Case {
        name: "unedited, re-signed".into(),
        bytes: {
            let mut m = original.clone();
            resign(&mut m, &manifest, key);
            write_zip(&m)
        },
    }];
    // Every manifest field, edited each way.
    let mut fields = Vec::new();
    let mut all = Vec::new();
    paths(&manifest, vec![], &mut all);
    for p in all {
        let here = {
            let mut m = manifest.clone();
            at_mut(&mut m, &p).clone()
        };
        for (what, new) in value_edits(&here) {
            let mut m = manifest.clone();
            *at_mut(&mut m, &p) = new;
            let mut members = original.clone();
            resign(&mut members, &m, key);
            fields.push(Case {
                name: format!("manifest {p:?}: {what}"),
                bytes: write_zip(&members),
            });
        }
    }
    // Member bytes: flipped, with the manifest's digest made to match (and re-signed).
    for (name, bytes) in original {
        if matches!(
            name.as_str(),
            "manifest.json" | "manifest.sig" | "SHA256SUMS" | "report.html" | "VERIFY.txt"
        ) || bytes.is_empty()
        {
            continue;
        }
        for at in [0, bytes.len() / 2, bytes.len() - 1] {
            let mut members = original.clone();
            let mut m = manifest.clone();
            for (n, b) in members.iter_mut() {
                if n == name {
                    b[at] ^= 0x01;
                    m["files"][name.as_str()] = Value::String(sha(b));
                }
            }
            resign(&mut members, &m, key);
            out.push(Case {
                name: format!("{name}: byte {at} flipped, digests updated"),
                bytes: write_zip(&members),
            });
        }
        // Renamed, the manifest following along where it names the file.
        let renamed = if let Some(r) = name.strip_prefix("content/") {
            format!("content/9{r}")
        } else if let Some(r) = name.strip_prefix("proofs/") {
            format!("proofs/9{r}")
        } else {
            continue;
        };
        let mut members = original.clone();
        for (n, _) in members.iter_mut() {
            if n == name {
                *n = renamed.clone();
            }
        }
        let text = serde_json::to_string(&manifest)
            .unwrap()
            .replace(name.as_str(), &renamed);
        let m: Value = serde_json::from_str(&text).unwrap();
        resign(&mut members, &m, key);
        out.push(Case {
            name: format!("{name} renamed {renamed}"),
            bytes: write_zip(&members),
        });
    }
    // Members removed, added or duplicated under another case.
    for drop in ["checkpoint.txt", "manifest.sig", "SHA256SUMS"] {
        let mut members = original.clone();
        members.retain(|(n, _)| n != drop);
        out.push(Case {
            name: format!("{drop} removed"),
            bytes: write_zip(&members),
        });
    }
    let mut members = original.clone();
    members.push(("notes.txt".into(), b"added".to_vec()));
    resign(&mut members, &manifest, key);
    out.push(Case {
        name: "an added member".into(),
        bytes: write_zip(&members),
    });
    let mut members = original.clone();
    members.push(("CHECKPOINT.TXT".into(), get("checkpoint.txt")));
    out.push(Case {
        name: "a member differing only by case".into(),
        bytes: write_zip(&members),
    });
    // ZIP structure.
    let good = {
        let mut m = original.clone();
        resign(&mut m, &manifest, key);
        write_zip(&m)
    };
    let mut appended = good.clone();
    appended.extend_from_slice(b"trailing bytes");
    out.push(Case {
        name: "bytes after the end record".into(),
        bytes: appended,
    });
    let mut prefixed = b"MZ stub".to_vec();
    prefixed.extend_from_slice(&good);
    out.push(Case {
        name: "bytes before the first entry".into(),
        bytes: prefixed,
    });
    let mut commented = good.clone();
    let n = commented.len();
    commented[n - 2] = 4;
    commented.extend_from_slice(b"note");
    out.push(Case {
        name: "an archive comment".into(),
        bytes: commented,
    });
    // A local entry no central header names, hidden before the central directory.
    let hidden = {
        let mut with = original.clone();
        with.insert(0, ("report.html".into(), b"<h1>ALL CLEAR</h1>".to_vec()));
        let z = write_zip(&with);
        // Keep the first (hidden) local entry, then the good archive shifted after it: the
        // central directory of the good archive no longer accounts for those bytes.
        let first_len = {
            let n = u16::from_le_bytes([z[26], z[27]]) as usize;
            let x = u16::from_le_bytes([z[28], z[29]]) as usize;
            let c = u32::from_le_bytes([z[18], z[19], z[20], z[21]]) as usize;
            30 + n + x + c
        };
        let mut b = z[..first_len].to_vec();
        b.extend_from_slice(&good);
        b
    };
    out.push(Case {
        name: "a hidden local entry".into(),
        bytes: hidden,
    });
    // A local header whose name differs from its central header's.
    let mut renamed = good.clone();
    renamed[30] ^= 0x20;
    out.push(Case {
        name: "a local name that is not the central name".into(),
        bytes: renamed,
    });
    // The second central header pointing at the first entry's bytes: overlapping entries.
    let mut overlap = good.clone();
    let n = overlap.len();
    let cd = u32::from_le_bytes(overlap[n - 6..n - 2].try_into().unwrap()) as usize;
    let first_len = {
        let h = &overlap[cd..];
        46 + u16::from_le_bytes([h[28], h[29]]) as usize
            + u16::from_le_bytes([h[30], h[31]]) as usize
            + u16::from_le_bytes([h[32], h[33]]) as usize
    };
    let second = cd + first_len;
    overlap.copy_within(cd + 42..cd + 46, second + 42);
    out.push(Case {
        name: "two entries over the same bytes".into(),
        bytes: overlap,
    });
    (fields, out)
}

#[test]
fn both_verifiers_give_the_same_exit_code_for_every_edit_of_a_bundle() {
    let f = Fixture::new();
    f.add_key("bob", "custodian");
    let t = f.testimony("I was held in the basement for forty days.");
    std::fs::write(
        f.path("t2.txt"),
        "I was held in the basement for forty-one days.",
    )
    .unwrap();
    f.ok(&[
        "amend",
        "--ledger",
        &f.p("ledger"),
        "--key",
        &f.p("keys/alice.key"),
        &t.to_string(),
        "--reason",
        "the witness corrected the count",
        "--text-file",
        &f.p("t2.txt"),
    ]);
    let m = f.media("clip.mp4", b"video bytes");
    let tr = f.ok(&[
        "transfer",
        "--ledger",
        &f.p("ledger"),
        "--key",
        &f.p("keys/alice.key"),
        "--exhibit",
        &m.to_string(),
        "--to",
        &f.key_id("bob"),
        "--reason",
        "to the vault",
        "--json",
    ]);
    let tr: Value = serde_json::from_str(&tr.stdout).unwrap();
    f.run_as("bob", &["accept", &tr["appended"][0]["seq"].to_string()]);
    f.checkpoint();
    f.export_ok(
        "alice",
        "b.zip",
        &[
            "--export-time",
            &f.export_time(),
            "--media",
            &f.p("media/clip.mp4"),
            &t.to_string(),
            &m.to_string(),
        ],
    );
    let key = custody::keys::load_secret(&f.path("keys/alice.key")).unwrap();
    // report.html and VERIFY.txt are optional (SPEC.md 11.1) and only custody renders them
    // again: without them, any manifest edit reaches only the facts both verifiers check.
    let mut original = read_members(&f.path("b.zip"));
    original.retain(|(n, _)| n != "report.html" && n != "VERIFY.txt");
    let mut m: Value = serde_json::from_slice(
        &original
            .iter()
            .find(|(n, _)| n == "manifest.json")
            .unwrap()
            .1,
    )
    .unwrap();
    let files = m["files"].as_object_mut().unwrap();
    files.remove("report.html");
    files.remove("VERIFY.txt");
    resign(&mut original, &m, &key);
    let (fields, mut all) = cases(&original, &key);
    let limit: usize = std::env::var("CUSTODY_DIFF_CASES")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(160);
    // Every edit of the members and the archive, and an even spread of the field edits.
    let take = limit.saturating_sub(all.len()).max(1);
    let step = (fields.len() as f64 / take as f64).max(1.0);
    let picked: std::collections::BTreeSet<usize> =
        (0..take).map(|i| (i as f64 * step) as usize).collect();
    let total_fields = fields.len();
    all.extend(
        fields
            .into_iter()
            .enumerate()
            .filter(|(i, _)| picked.contains(i))
            .map(|(_, c)| c),
    );
    eprintln!(
        "{total_fields} field edits generated; running {} edits",
        all.len()
    );
    let (lk, ak) = (f.p("keys/ledger.pub"), f.p("keys/alice.pub"));
    let mut disagree = Vec::new();
    let mut codes: BTreeMap<(i32, i32), usize> = BTreeMap::new();
    for (i, c) in all.iter().enumerate() {
        let p = f.path(&format!("edit-{i}.zip"));
        std::fs::write(&p, &c.bytes).unwrap();
        let ps = p.to_string_lossy().into_owned();
        let (ours, theirs) = f.verify_bundle_both(&[&ps, "--trust", &lk, "--trust", &ak]);
        assert_ne!(
            ours.code, 101,
            "{}: custody panicked: {}",
            c.name, ours.stderr
        );
        if i == 0 {
            assert_eq!(
                (ours.code, theirs.code),
                (0, 0),
                "the baseline must verify:\n{}\n{}",
                ours.all(),
                theirs.all()
            );
        }
        *codes.entry((ours.code, theirs.code)).or_default() += 1;
        if i > 0 && ours.code == 0 && theirs.code == 0 {
            // Edits that change nothing a verifier vouches for (a case name, say).
            eprintln!("passes in both: {}", c.name);
        }
        if ours.code != theirs.code {
            disagree.push(format!(
                "{}: custody {} / python {}\n  custody: {}\n  python: {}",
                c.name,
                ours.code,
                theirs.code,
                ours.all()
                    .lines()
                    .filter(|l| l.contains("FAILED") || l.contains("error"))
                    .collect::<Vec<_>>()
                    .join(" | "),
                theirs
                    .all()
                    .lines()
                    .filter(|l| l.contains("FAILED") || l.contains("rror"))
                    .collect::<Vec<_>>()
                    .join(" | ")
            ));
        }
        std::fs::remove_file(&p).unwrap();
    }
    eprintln!(
        "{} edits; (custody, python) exit codes: {codes:?}",
        all.len()
    );
    assert!(
        disagree.is_empty(),
        "{} disagreements:\n{}",
        disagree.len(),
        disagree.join("\n")
    );
    // The edits reached both kinds of failure.
    assert!(
        codes.contains_key(&(1, 1)) && codes.contains_key(&(2, 2)),
        "{codes:?}"
    );
}
