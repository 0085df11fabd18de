//! The two files of a bundle written for people: `report.html` for a judge and
//! `VERIFY.txt` for an expert with standard tools. Both are plain text built from the
//! manifest; the HTML is one self-contained page with no scripts and no network.

use super::Manifest;
use super::attest::Attested;
use crate::ledger::Check;
use crate::record;
use std::collections::BTreeMap;
use std::fmt::Write;

fn esc(s: &str) -> String {
    let mut o = String::with_capacity(s.len());
    for ch in s.chars() {
        match ch {
            '&' => o.push_str("&amp;"),
            '<' => o.push_str("&lt;"),
            '>' => o.push_str("&gt;"),
            '"' => o.push_str("&quot;"),
            '\'' => o.push_str("&#39;"),
            // Direction controls could make a name read as another: shown, not obeyed.
            c @ ('\u{202A}'..='\u{202E}'
            | '\u{2066}'..='\u{2069}'
            | '\u{200E}'
            | '\u{200F}'
            | '\u{061C}') => {
                let _ = write!(o, "[U+{:04X}]", c as u32);
            }
            c => o.push(c),
        }
    }
    o
}

fn field(body: &serde_json::Value, key: &str) -> Option<String> {
    match body.get(key)? {
        serde_json::Value::Null => None,
        serde_json::Value::String(s) => Some(s.clone()),
        v => Some(v.to_string()),
    }
}

fn describe(kind: &str, body: &serde_json::Value) -> String {
    match kind {
        "testimony" => format!(
            "Testimony of {} ({}), {} bytes of text{}",
            field(body, "subject").unwrap_or_default(),
            field(body, "language").unwrap_or_default(),
            field(body, "content_length").unwrap_or_default(),
            field(body, "consent")
                .map(|c| format!(", consent: {c}"))
                .unwrap_or_default()
        ),
        "media" => format!(
            "Media file {}{}, {} bytes, SHA-256 {}",
            field(body, "name").unwrap_or_else(|| "(unnamed)".into()),
            field(body, "media_type")
                .map(|t| format!(" ({t})"))
                .unwrap_or_default(),
            field(body, "size").unwrap_or_default(),
            field(body, "sha256").unwrap_or_default()
        ),
        "authorize" => format!(
            "Key {} authorised for {} as {}",
            field(body, "key_id").unwrap_or_default(),
            field(body, "name").unwrap_or_default(),
            field(body, "role").unwrap_or_default()
        ),
        "revoke" => format!(
            "Key {} revoked ({})",
            field(body, "key_id").unwrap_or_default(),
            field(body, "reason").unwrap_or_default()
        ),
        "transfer" => format!(
            "Exhibit {} handed to key {}: {}",
            field(body, "exhibit").unwrap_or_default(),
            field(body, "to_key_id").unwrap_or_default(),
            field(body, "reason").unwrap_or_default()
        ),
        "accept" => format!(
            "Hand-over {} accepted by its receiver",
            field(body, "transfer").unwrap_or_default()
        ),
        "amend" => format!(
            "Correction of record {}: {}",
            field(body, "target").unwrap_or_default(),
            field(body, "reason").unwrap_or_default()
        ),
        "ledger-key" => format!(
            "Key {} named to sign the ledger's checkpoints from here on",
            field(body, "key_id").unwrap_or_default()
        ),
        "cancel" => format!(
            "Hand-over {} withdrawn before it was accepted",
            field(body, "transfer").unwrap_or_default()
        ),
        "seal-to" => {
            "Testimony sealed from here on to the organisation's content recipients".into()
        }
        "consent" => format!(
            "Consent for testimony {} changed to: {}",
            field(body, "target").unwrap_or_default(),
            field(body, "consent").unwrap_or_default()
        ),
        "erase" => format!(
            "Content of record {} erased: {}",
            field(body, "target").unwrap_or_default(),
            field(body, "reason").unwrap_or_default()
        ),
        _ => format!(
            "Ledger creation record for {}",
            field(body, "origin").unwrap_or_default()
        ),
    }
}

/// The judge's report: a deterministic function of the manifest (without its `files`) and
/// the outcome of the bundle's record checks, which `verify-bundle` renders again and
/// compares. Failing checks come first; no script can run in it.
pub fn html(m: &Manifest, checks: &[Check], attested: &Attested) -> String {
    let mut h = String::new();
    let title = match &m.case {
        Some(c) => format!("Evidence bundle: {}", esc(c)),
        None => "Evidence bundle".to_string(),
    };
    let _ = write!(
        h,
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'; img-src data:\">\n<title>{title}</title>\n<style>\
body{{font-family:Georgia,serif;max-width:60em;margin:2em auto;padding:0 1em;color:#111}}\
table{{border-collapse:collapse;width:100%}}td,th{{border:1px solid #999;padding:.3em .5em;text-align:left;vertical-align:top}}\
.ok{{color:#064}}.bad{{color:#a00;font-weight:bold}}code{{font-size:.85em;word-break:break-all}}\
.verdict{{border:3px solid;padding:.6em 1em;font-size:1.2em}}\
</style></head><body>\n<h1>{title}</h1>\n"
    );
    let failing: Vec<&Check> = checks.iter().filter(|c| !c.passed).collect();
    if failing.is_empty() {
        h.push_str("<p class=\"verdict ok\">Every check of the exhibits, their signers and their custody passed.</p>\n");
    } else {
        let _ = writeln!(
            h,
            "<p class=\"verdict bad\">{} check(s) FAILED. They are listed first below, in red; read them before relying on any exhibit.</p>",
            failing.len()
        );
    }
    if let Some(reason) = &m.include_failing {
        let _ = writeln!(
            h,
            "<p class=\"bad\">Exhibits that fail their own checks were exported on purpose; the reason given: {}</p>",
            esc(reason)
        );
    }
    let _ = writeln!(
        h,
        "<p>This bundle holds {} exhibit(s) from the evidence ledger <b>{}</b>. It was made at {} by the key <code>{}</code>. \
Each exhibit is a record signed by the person who made it, and each is proven to be part of the ledger's history \
as signed by the ledger key <code>{}</code> in a checkpoint covering its first {} records. Nothing else from the ledger is in this bundle.</p>",
        m.exhibits.len(),
        esc(&m.ledger.origin),
        esc(&m.exported_at),
        esc(&m.exporter.key_id),
        esc(&m.ledger.key_id),
        m.ledger.checkpoint_size
    );
    h.push_str("<h2>Exhibits</h2>\n<table><tr><th>Record</th><th>What it is</th><th>Signed by</th><th>Claimed time</th><th>Recorded in the ledger</th><th>Attested independently</th></tr>\n");
    for e in &m.exhibits {
        let _ = writeln!(
            h,
            "<tr><td>{}</td><td>{}{}</td><td>key <code>{}</code></td><td>{}</td><td>{}</td><td>{}</td></tr>",
            e.seq,
            esc(&describe(&e.kind, &e.body)),
            e.consent_override
                .as_ref()
                .map(|r| format!("<br><span class=\"bad\">Exported without court consent; reason given: {}</span>", esc(r)))
                .unwrap_or_default(),
            esc(&e.signer_key_id),
            esc(&e.claimed_at),
            esc(&e.recorded_at),
            attested_line(e.seq, attested)
        );
    }
    h.push_str("</table>\n");
    h.push_str(&attestations(m, attested));
    h.push_str("<h2>Who signed, and who held the exhibits</h2>\n<p>These records of the same ledger, each with its own proof in the bundle, show that every signer was authorised when it signed, and every hand-over of an exhibit, signed by the holder and countersigned by the receiver.</p>\n<table><tr><th>Record</th><th>What it says</th><th>Signed by</th><th>Recorded</th></tr>\n");
    for e in &m.supporting {
        let _ = writeln!(
            h,
            "<tr><td>{}</td><td>{}</td><td>key <code>{}</code></td><td>{}</td></tr>",
            e.seq,
            esc(&describe(&e.kind, &e.body)),
            esc(&e.signer_key_id),
            esc(&e.recorded_at)
        );
    }
    h.push_str("</table>\n<h2>Timeline</h2>\n");
    h.push_str(&timeline(m));
    h.push_str(&versions(m));
    h.push_str(&consent_history(m));
    h.push_str("<h2>Checks of the exhibits, their signers and their custody</h2>\n<p>Failing checks first. Anyone can repeat these checks with <code>custody verify-bundle</code> or with standard tools, as VERIFY.txt explains.</p>\n<table><tr><th>Check</th><th>Rule</th><th>Result</th></tr>\n");
    for c in failing
        .iter()
        .copied()
        .chain(checks.iter().filter(|c| c.passed))
    {
        let _ = writeln!(
            h,
            "<tr><td>{}</td><td><code>{}</code></td><td class=\"{}\">{}: {}</td></tr>",
            esc(&c.name),
            c.code,
            if c.passed { "ok" } else { "bad" },
            if c.passed { "passed" } else { "FAILED" },
            esc(&c.detail)
        );
    }
    h.push_str("</table>\n<h2>What the checks mean</h2>\n<ul>\
<li><b>Signature</b>: the statement was signed with the named key and has not changed by a single bit since.</li>\
<li><b>Chain link</b>: the record names the exact record before it, so nothing can be inserted or removed between them unnoticed.</li>\
<li><b>Included in the signed checkpoint</b>: a short chain of hashes connects the record to the ledger state that the ledger key signed; a record that was altered, back-dated or added later cannot produce it.</li>\
<li><b>Testimony content</b>: the text in this bundle is exactly the text the witness's record committed to when it was recorded.</li>\
</ul>\n</body></html>\n");
    h
}

/// Each exhibit's consent history (the consent given when it was recorded, then every
/// change the bundle carries) and its erasure, if any.
fn consent_history(m: &Manifest) -> String {
    let mut s = String::new();
    let about = |kind: &str, seq: u64| {
        m.supporting
            .iter()
            .filter(move |a| {
                a.kind == kind && a.body.get("target").and_then(|t| t.as_u64()) == Some(seq)
            })
            .collect::<Vec<_>>()
    };
    for e in &m.exhibits {
        let changes = about("consent", e.seq);
        let erasures = about("erase", e.seq);
        if changes.is_empty() && erasures.is_empty() {
            continue;
        }
        let _ = writeln!(s, "<h3>Exhibit {}: consent and erasure</h3>\n<ol>", e.seq);
        if e.kind == "testimony" {
            let _ = writeln!(
                s,
                "<li>When recorded ({}): {}</li>",
                esc(&e.recorded_at),
                esc(&field(&e.body, "consent").unwrap_or_else(|| "no consent recorded".into()))
            );
        }
        for c in changes {
            let _ = writeln!(
                s,
                "<li>Changed by record {} ({}, key <code>{}</code>): {}</li>",
                c.seq,
                esc(&c.recorded_at),
                esc(&c.signer_key_id),
                esc(&field(&c.body, "consent").unwrap_or_default())
            );
        }
        for x in erasures {
            let _ = writeln!(
                s,
                "<li class=\"bad\">Erased by record {} ({}, key <code>{}</code>): {}. The record, its commitment and its proof stand; its content can no longer be read by anyone.</li>",
                x.seq,
                esc(&x.recorded_at),
                esc(&x.signer_key_id),
                esc(&field(&x.body, "reason").unwrap_or_default())
            );
        }
        s.push_str("</ol>\n");
    }
    s
}

/// Every version of each exhibit: the original, then each correction in the bundle with
/// its reason and, when revealed, the file holding its text.
fn versions(m: &Manifest) -> String {
    let mut s = String::new();
    for e in &m.exhibits {
        let corrections: Vec<_> = m
            .supporting
            .iter()
            .filter(|a| {
                a.kind == "amend" && a.body.get("target").and_then(|t| t.as_u64()) == Some(e.seq)
            })
            .collect();
        if corrections.is_empty() {
            continue;
        }
        let _ = writeln!(
            s,
            "<h3>Exhibit {}: every version</h3>\n<ol><li>Original, record {}{}</li>",
            e.seq,
            e.seq,
            e.content
                .as_ref()
                .map(|c| format!(", text in <code>{}</code>", esc(&c.file)))
                .unwrap_or_default()
        );
        for a in corrections {
            let _ = writeln!(
                s,
                "<li>Correction, record {} ({}): {}{}</li>",
                a.seq,
                esc(&a.recorded_at),
                esc(&field(&a.body, "reason").unwrap_or_default()),
                a.content
                    .as_ref()
                    .map(|c| format!(", text in <code>{}</code>", esc(&c.file)))
                    .or_else(|| field(&a.body, "description")
                        .map(|d| format!(", new description: {}", esc(&d))))
                    .unwrap_or_default()
            );
        }
        s.push_str("</ol>\n");
    }
    if s.is_empty() {
        s
    } else {
        format!(
            "<h2>Corrections</h2>\n<p>No record is ever erased: each correction is a record of its own, and the text of every version is in the bundle when the original's is.</p>\n{s}"
        )
    }
}

fn timeline(m: &Manifest) -> String {
    let times: Vec<u64> = m.exhibits.iter().map(|e| e.recorded_at_ms).collect();
    let (lo, hi) = (
        times.iter().copied().min().unwrap_or(0),
        times.iter().copied().max().unwrap_or(0),
    );
    let width = 800.0;
    let x = |t: u64| {
        if hi == lo {
            width / 2.0
        } else {
            40.0 + (t - lo) as f64 / (hi - lo) as f64 * (width - 160.0)
        }
    };
    let mut s = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{width}\" height=\"{}\" role=\"img\" aria-label=\"timeline of exhibits\">\n<line x1=\"20\" y1=\"40\" x2=\"{}\" y2=\"40\" stroke=\"#333\"/>\n",
        70 + 22 * m.exhibits.len(),
        width - 20.0
    );
    for (i, e) in m.exhibits.iter().enumerate() {
        let xe = x(e.recorded_at_ms);
        let y = 66 + 22 * i;
        let _ = writeln!(
            s,
            "<circle cx=\"{xe:.1}\" cy=\"40\" r=\"5\" fill=\"#06c\"/><line x1=\"{xe:.1}\" y1=\"45\" x2=\"{xe:.1}\" y2=\"{}\" stroke=\"#06c\" stroke-dasharray=\"2,2\"/><text x=\"{:.1}\" y=\"{y}\" font-size=\"12\">#{} {} recorded {}</text>",
            y - 10,
            xe + 4.0,
            e.seq,
            esc(&e.kind),
            esc(&e.recorded_at)
        );
    }
    let _ = writeln!(
        s,
        "<rect x=\"{:.1}\" y=\"30\" width=\"14\" height=\"20\" fill=\"#090\"/><text x=\"{:.1}\" y=\"24\" font-size=\"12\">checkpoint: first {} records signed</text>\n</svg>",
        width - 40.0,
        width - 230.0,
        m.ledger.checkpoint_size
    );
    s
}

/// Instructions for checking the bundle by hand.
pub fn verify_txt(m: &Manifest) -> String {
    let head = r#"HOW TO CHECK THIS EVIDENCE BUNDLE
=================================

This bundle holds {count} exhibit(s) from the ledger {origin}. Every claim in it
can be checked offline, with custody or with standard tools alone. The byte formats are
in custody's SPEC.md (sections 3 to 7 and 11).

1. WITH CUSTODY

   custody verify-bundle THIS.zip --trust LEDGER_KEY.pub --trust EXPORTER_KEY.pub

   It prints every check and exits 0 when all pass, 1 when any fails, 2 when the file
   cannot be read safely. Get the trusted .pub files from their owners, not from this
   bundle.

2. WITH STANDARD TOOLS (unzip the bundle into an empty directory first)

   a) Every file is intact:

      sha256sum -c SHA256SUMS

   b) The manifest was signed by the exporting key {exporter_id}
      (fingerprint {exporter_fp}):

      openssl pkeyutl -verify -pubin -inkey {exporter_file} -rawin -in manifest.json -sigfile manifest.sig

      Check that the digests in SHA256SUMS are the ones listed under "files" in
      manifest.json: the signature covers the manifest, and through it every file.

   c) The checkpoint was signed by the ledger key {ledger_id} (file {ledger_file}).
      The signed text is the first three lines of checkpoint.txt; the signature is the
      base64 after the ledger name on the last line, without its first 4 bytes (the key ID):

      head -n 3 checkpoint.txt > checkpoint.body
      tail -n 1 checkpoint.txt | awk '{print $3}' | base64 -d | tail -c 64 > checkpoint.sig
      openssl pkeyutl -verify -pubin -inkey {ledger_file} -rawin -in checkpoint.body -sigfile checkpoint.sig
"#;
    let exhibit = r#"
   d) Each exhibit is in the ledger. For record {seq}:

      - Its record bytes are "record_bytes" in manifest.json (base64). Its leaf hash is
        SHA-256 of one zero byte followed by those bytes:

        (printf '\000'; echo '{record_bytes}' | base64 -d) | sha256sum

        which must print {leaf}

      - Fold the inclusion proof ("inclusion_proof" in the manifest, or
        proofs/{seq}.tlog-proof) as RFC 9162 section 2.1.3.2 says: start with r = the leaf
        hash, fn = {seq}, sn = {last}. For each proof hash p: if fn is odd or fn = sn, then
        r = SHA-256(0x01 || p || r) and, while fn is even and not 0, shift fn and sn right
        by one; otherwise r = SHA-256(0x01 || r || p). Then shift fn and sn right by one.
        At the end sn must be 0 and r must equal the root on the third line of
        checkpoint.txt, decoded from base64 ({root}).

      - The signature: the signed message is the 21 bytes "custody/v1/statement" and a
        newline, followed by the decoded "statement_bytes"; the signature is "signature";
        the key is {signer_file}:

        (printf 'custody/v1/statement\n'; echo 'STATEMENT_BYTES' | base64 -d) > msg.bin
        echo 'SIGNATURE' | base64 -d > sig.bin
        openssl pkeyutl -verify -pubin -inkey {signer_file} -rawin -in msg.bin -sigfile sig.bin

      Repeat for every exhibit with its own values.
"#;
    let tail = r#"
   e) Testimony text: for an exhibit with "content", SHA-256 of the 32-byte salt (hex in
      the manifest) followed by the text file's bytes must equal the record's commitment:

      (echo 'SALT_HEX' | xxd -r -p; cat content/SEQ.txt) | sha256sum

   f) Media: sha256sum of a media file must print the record's "sha256".

Nothing else from the ledger is in this bundle: the proof hashes reveal no other record.
"#;
    let mut t = head
        .replace("{count}", &m.exhibits.len().to_string())
        .replace("{origin}", &m.ledger.origin)
        .replace("{exporter_id}", &m.exporter.key_id)
        .replace("{exporter_fp}", &m.exporter.fingerprint)
        .replace("{exporter_file}", &m.exporter.key_file)
        .replace("{ledger_id}", &m.ledger.key_id)
        .replace("{ledger_file}", &m.ledger.key_file);
    if let Some(e) = m.exhibits.first() {
        t.push_str(
            &exhibit
                .replace("{seq}", &e.seq.to_string())
                .replace("{record_bytes}", &e.record_bytes)
                .replace("{leaf}", &e.leaf_hash)
                .replace(
                    "{last}",
                    &m.ledger.checkpoint_size.saturating_sub(1).to_string(),
                )
                .replace("{root}", &m.ledger.checkpoint_root)
                .replace("{signer_file}", &e.signer_key_file),
        );
    }
    t.push_str(tail);
    t.push_str(&trusted_time_txt(m));
    t
}

/// VERIFY.txt's part on witnesses and time-stamp tokens: the `openssl ts -verify` line
/// of every token, with the bundle's own names.
fn trusted_time_txt(m: &Manifest) -> String {
    if m.attestations.is_empty() {
        return "\nNo witness cosignature or time-stamp token is in this bundle: the times it shows are\nthe ledger's own.\n".into();
    }
    let mut s = String::from(
        "\n3. TRUSTED TIME AND WITNESSES\n\n   A time-stamping authority signed that a checkpoint of this ledger existed at a time.\n   Each token is a DER time-stamp response over the checkpoint file exactly as stored; check\n   it with OpenSSL alone (-attime checks the certificates at the stamped time; use the\n   authority's certificate obtained from it if you have one, in place of the tsa/ file):\n\n",
    );
    for a in &m.attestations {
        for tok in &a.timestamps {
            // One certificate is the -CAfile; several (a root and intermediates) go into one.
            let ca = match tok.certificates.as_slice() {
                [one] => one.clone(),
                many => {
                    let _ = writeln!(s, "      cat {} > authorities.pem", many.join(" "));
                    "authorities.pem".to_owned()
                }
            };
            let _ = writeln!(
                s,
                "      openssl ts -verify -data {} -in {} -CAfile {ca} -attime {}",
                a.checkpoint_file,
                tok.file,
                tok.time_ms / 1000
            );
        }
    }
    s.push_str("\n   which must print \"Verification: OK\". A checkpoint below the bundle's own is tied to it\n   by the consistency proof in manifest.json (RFC 9162 section 2.1.4.2).\n");
    let witnessed: Vec<_> = m
        .attestations
        .iter()
        .filter_map(|a| a.cosigned_file.as_ref().map(|f| (a, f)))
        .collect();
    if !witnessed.is_empty() {
        s.push_str("\n   Independent witnesses cosigned checkpoints (C2SP tlog-cosignature): each line after the\n   ledger's signature in these files is a witness's Ed25519 signature over\n   \"cosignature/v1\\ntime T\\n\" followed by the first three lines of the checkpoint; any\n   signed-note library checks them with the witness's published key:\n\n");
        for (a, f) in witnessed {
            for c in &a.cosignatures {
                let _ = writeln!(s, "      {f}: {} ({})", c.witness, c.key);
            }
        }
    }
    s
}

/// `report.html` and `VERIFY.txt`: a deterministic function of the manifest (its `files`
/// aside, which list their digests) and the outcome of the record checks, so that
/// `verify-bundle` can render them again and compare (SPEC.md 11.3, check 14).
pub(super) fn informative(
    manifest: &Manifest,
    record_checks: &[Check],
    attested: &Attested,
) -> (String, String) {
    let mut m = manifest.clone();
    m.files = BTreeMap::new();
    (html(&m, record_checks, attested), verify_txt(&m))
}

/// What attests, independently of the ledger's owner, that record `seq` existed by a time:
/// the earliest verified time-stamp of a checkpoint covering it, and the witnesses of the
/// smallest cosigned checkpoint covering it.
fn attested_line(seq: u64, attested: &Attested) -> String {
    let mut parts = Vec::new();
    if let Some((t, s, size)) = attested.stamped(seq) {
        parts.push(format!(
            "recorded no later than {}, attested by {} (a time-stamp of the checkpoint of {size} records{}; by the certificate the bundle carries: see below)",
            esc(&record::rfc3339(t)),
            esc(&s.authority),
            if s.accuracy_ms > 0 {
                format!(
                    ", stamped {} with an accuracy of {} ms",
                    esc(&record::rfc3339(s.time_ms)),
                    s.accuracy_ms
                )
            } else {
                String::new()
            }
        ));
    }
    if let Some((size, witnesses)) = attested.witnessed(seq) {
        // A few names here; every witness is in the table below.
        let mut named: Vec<String> = witnesses
            .iter()
            .take(3)
            .map(|c| {
                format!(
                    "{} at {}",
                    esc(&c.witness),
                    esc(&record::rfc3339(c.time_ms))
                )
            })
            .collect();
        if witnesses.len() > 3 {
            named.push(format!("{} more", witnesses.len() - 3));
        }
        parts.push(format!(
            "checkpoint of {size} records cosigned by {} (by the keys the bundle carries: see below)",
            named.join(", ")
        ));
    }
    if parts.is_empty() {
        "no witness or time-stamping authority attests it: its time is the ledger's own".into()
    } else {
        parts.join("; ")
    }
}

/// The attested checkpoints, each with its witnesses and authorities.
fn attestations(m: &Manifest, attested: &Attested) -> String {
    if m.attestations.is_empty() {
        return "<h2>Witnesses and trusted time</h2>\n<p>No independent witness cosigned, and no time-stamping authority stamped, a checkpoint covering these exhibits: the times shown are those of the ledger's own clock.</p>\n".into();
    }
    let mut s = String::from(
        "<h2>Witnesses and trusted time</h2>\n<p>Independent witnesses cosign a checkpoint only if it is consistent with every checkpoint of this ledger they saw before, so the ledger's owner cannot show different histories to different people. A time-stamping authority signs that a checkpoint existed at a time, so nothing it covers was written later and back-dated. Each checkpoint below is proven to be a prefix of the bundle's own. Only attestations whose checks passed are listed.</p>\n<table><tr><th>Checkpoint</th><th>Cosigned by</th><th>Time-stamped by</th></tr>\n",
    );
    for a in &m.attestations {
        let size = a.checkpoint_size;
        let witnesses = attested
            .cosigned
            .get(&size)
            .map(|v| {
                v.iter()
                    .map(|c| {
                        format!(
                            "{} at {}<br><small>key <code>{}</code></small>",
                            esc(&c.witness),
                            esc(&record::rfc3339(c.time_ms)),
                            esc(&c.key)
                        )
                    })
                    .collect::<Vec<_>>()
                    .join("<br>")
            })
            .unwrap_or_default();
        let stamps = attested
            .stamps
            .get(&size)
            .map(|v| {
                v.iter()
                    .map(|s| {
                        format!(
                            "{} at {}{}<br><small>certificate <code>{}</code></small>",
                            esc(&s.authority),
                            esc(&record::rfc3339(s.time_ms)),
                            if s.accuracy_ms > 0 {
                                format!(" (accuracy {} ms)", s.accuracy_ms)
                            } else {
                                String::new()
                            },
                            esc(&s.certificates.join(", "))
                        )
                    })
                    .collect::<Vec<_>>()
                    .join("<br>")
            })
            .unwrap_or_default();
        let _ = writeln!(
            s,
            "<tr><td>first {size} records (<code>{}</code>)</td><td>{}</td><td>{}</td></tr>",
            esc(&a.checkpoint_file),
            if witnesses.is_empty() {
                "none".into()
            } else {
                witnesses
            },
            if stamps.is_empty() {
                "none".into()
            } else {
                stamps
            }
        );
    }
    s.push_str("</table>\n<p>A witness's name here is a label the bundle gives it; what identifies a witness is its key, and what identifies an authority is its certificate. A court confirms the keys and certificates by checking this bundle with a witness policy and the authority's certificate obtained from the witnesses and the authority themselves, not from this bundle (<code>custody verify-bundle --policy WITNESSES.policy --tsa-cert AUTHORITY.pem</code>): the check then names each witness as the policy does.</p>\n");
    s
}

#[cfg(test)]
mod tests {
    /// Markup is escaped, and direction controls (which could make one name read as
    /// another) are shown, never obeyed.
    #[test]
    fn text_is_escaped_and_direction_controls_shown() {
        assert_eq!(super::esc("<b>&'\""), "&lt;b&gt;&amp;&#39;&quot;");
        assert_eq!(
            super::esc("w\u{202E}1.gro\u{2066}"),
            "w[U+202E]1.gro[U+2066]"
        );
        assert_eq!(super::esc("شاهد"), "شاهد");
    }
}
