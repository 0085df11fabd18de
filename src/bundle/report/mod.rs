//! The two files of a bundle written for people: `report.html` for a judge and
//! `VERIFY.txt` for an expert with standard tools. Both are plain text built from the
//! manifest; the HTML is one self-contained page with no scripts and no network.

mod model;
mod timeline;
pub mod words;

use super::Manifest;
use super::attest::Attested;
use crate::ledger::Check;
use crate::record;
use std::collections::BTreeMap;
use std::fmt::Write;
pub use words::Lang;
use words::fill;

/// Whether `c` controls the direction of the text around it.
fn direction_control(c: char) -> bool {
    matches!(c, '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}' | '\u{200E}' | '\u{200F}' | '\u{061C}')
}

/// Markup escaped; direction controls, which could make a name read as another, shown
/// (`[U+202E]`), not obeyed.
fn esc(s: &str) -> String {
    esc_text(&show_controls(s))
}

/// `s` with each direction control written out as `[U+202E]`.
fn show_controls(s: &str) -> String {
    let mut o = String::with_capacity(s.len());
    for ch in s.chars() {
        if direction_control(ch) {
            let _ = write!(o, "[U+{:04X}]", ch as u32);
        } else {
            o.push(ch);
        }
    }
    o
}

/// A witness's own text: markup escaped, every character kept (its direction marks are
/// part of how it was typed; the block it is shown in isolates it from the page).
fn esc_text(s: &str) -> String {
    let mut o = String::with_capacity(s.len());
    for ch in s.chars() {
        escape_char(ch, &mut o);
    }
    o
}

fn escape_char(ch: char, o: &mut String) {
    match ch {
        '&' => o.push_str("&amp;"),
        '<' => o.push_str("&lt;"),
        '>' => o.push_str("&gt;"),
        '"' => o.push_str("&quot;"),
        '\'' => o.push_str("&#39;"),
        c => o.push(c),
    }
}

/// A value of the data (a name, a reason, a title) among the page's words: escaped, and
/// isolated so that right-to-left letters in it never reorder the words around it.
fn data(s: &str) -> String {
    format!("<bdi>{}</bdi>", esc(s))
}

/// CSS escapes for a string put in a `content:` value of the page's own style sheet: every
/// character but letters, digits and spaces as `\HHHHHH `, so that nothing can end the
/// string or the style element.
fn css_string(s: &str) -> String {
    let mut o = String::from("\"");
    for ch in show_controls(s).chars().take(120) {
        if ch.is_ascii_alphanumeric() || ch == ' ' {
            o.push(ch);
        } else {
            let _ = write!(o, "\\{:06X} ", ch as u32);
        }
    }
    o.push('"');
    o
}

/// A person in words: "Amal Haddad (investigator), key ID 11459e52, fingerprint SHA256:…".
fn person(p: &model::Person, w: &words::Words) -> String {
    let who = match (&p.name, &p.role) {
        (Some(n), Some(r)) => format!("<b>{}</b> ({})", data(n), esc(r)),
        (Some(n), None) => format!("<b>{}</b>", data(n)),
        _ => esc(w.unknown_person),
    };
    format!(
        "{who}<br><small>{} <code>{}</code>, {} <code>{}</code></small>",
        w.key_id,
        esc(&p.key_id),
        w.fingerprint,
        esc(&p.fingerprint)
    )
}

/// A time in words and in UTC, with the exact ISO value beside it.
fn time(ms: u64, lang: Lang) -> String {
    format!(
        "{} <small><code>{}</code></small>",
        esc(&words::when(ms, lang)),
        esc(&record::rfc3339(ms))
    )
}

fn text_block(t: &model::TextView, w: &words::Words) -> String {
    match t {
        model::TextView::Shown {
            text,
            lang,
            dir,
            file,
        } => format!(
            "<blockquote class=\"testimony\"{} dir=\"{}\">{}</blockquote>\n<p class=\"file\"><small>{}</small></p>\n",
            lang.as_ref()
                .map(|l| format!(" lang=\"{}\"", esc(l)))
                .unwrap_or_default(),
            dir.attr(),
            esc_text(text),
            fill(
                &esc(w.text_in_file),
                &[("file", &format!("<code>{}</code>", esc(file)))]
            )
        ),
        model::TextView::NotInBundle => {
            format!("<p class=\"muted\">{}</p>\n", esc(w.text_not_in_bundle))
        }
        model::TextView::NotUtf8 { file } => format!(
            "<p class=\"muted\">{} <code>{}</code></p>\n",
            esc(w.text_not_utf8),
            esc(file)
        ),
    }
}

/// `template` filled with values that are escaped here (the template is the catalogue's).
fn say(template: &str, values: &[(&str, &str)]) -> String {
    let escaped: Vec<(&str, String)> = values.iter().map(|(k, v)| (*k, data(v))).collect();
    let refs: Vec<(&str, &str)> = escaped.iter().map(|(k, v)| (*k, v.as_str())).collect();
    fill(&esc(template), &refs)
}

const STYLE: &str = "\
body{font-family:Georgia,'Noto Serif','DejaVu Serif',serif;max-width:60em;margin:2em auto;padding:0 1em;color:#111;line-height:1.4}\
table{border-collapse:collapse;width:100%;margin:.5em 0;table-layout:fixed}td,th,dd,h1,h2,h3,h4,p,li{overflow-wrap:anywhere}td,th{border:1px solid #999;padding:.3em .5em;text-align:start;vertical-align:top}\
th{background:#f2f2f2}.ok{color:#064}.bad{color:#a00;font-weight:bold}code{font-size:.85em;word-break:break-all}\
.verdict{border:4px solid;padding:.8em 1em;font-size:1.3em;margin:1em 0}.verdict.ok{border-color:#064;background:#eef8f0}.verdict.bad{border-color:#a00;background:#fdeeee}\
.verdict ul{font-size:.8em;font-weight:normal}\
dl.facts{display:grid;grid-template-columns:max-content 1fr;gap:.2em 1em}dl.facts dt{font-weight:bold}dl.facts dd{margin:0}\
blockquote.testimony{white-space:pre-wrap;border-inline-start:4px solid #06c;margin:.5em 0;padding:.5em 1em;background:#f7f9fc;font-size:1.05em}\
.muted{color:#555;font-style:italic}.pending{color:#a60;font-weight:bold}\
section.exhibit{border-top:2px solid #333;margin-top:2em;padding-top:.5em}\
svg.timeline{max-width:100%;height:auto}\
@media print{body{max-width:none;margin:0;padding:0;font-size:11pt}section.exhibit{break-before:page;border-top:none}\
table,blockquote,dl{break-inside:auto}tr,h2,h3{break-inside:avoid;break-after:avoid}a{color:inherit}}";

/// The judge's report: a deterministic function of the manifest (without its `files`),
/// the texts the bundle carries, the outcome of the bundle's record checks and the
/// attestations that passed, which `verify-bundle` renders again and compares. One
/// verdict at the top; failing checks first; no script and no external resource.
pub fn html(
    m: &Manifest,
    checks: &[Check],
    attested: &Attested,
    text_of: &dyn Fn(&str) -> Option<Vec<u8>>,
    lang: Lang,
) -> String {
    let w = lang.words();
    let mut h = String::new();
    let case = m.case.as_deref().unwrap_or("");
    let (title, heading) = if case.is_empty() {
        (esc(w.title), esc(w.title))
    } else {
        (
            format!("{}: {}", esc(w.title), esc(case)),
            format!("{}: {}", esc(w.title), data(case)),
        )
    };
    let running = if case.is_empty() {
        &m.ledger.origin
    } else {
        case
    };
    let _ = write!(
        h,
        "<!DOCTYPE html>\n<html lang=\"{}\"><head><meta charset=\"utf-8\">\n<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'; img-src data:\">\n<title>{title}</title>\n<style>{STYLE}\
@page{{margin:20mm 15mm 22mm;@top-left{{content:{};font-size:9pt;color:#444}}@bottom-right{{content:{} \" \" counter(page) \" / \" counter(pages);font-size:9pt;color:#444}}}}\
</style></head><body>\n<h1>{heading}</h1>\n",
        lang.tag(),
        css_string(running),
        css_string(w.page),
    );
    // The verdict, which no one can miss, then the facts of the bundle.
    let failing: Vec<&Check> = checks.iter().filter(|c| !c.passed).collect();
    if failing.is_empty() {
        let _ = writeln!(
            h,
            "<div class=\"verdict ok\" id=\"verdict\">&#10004; {}</div>",
            esc(w.verdict_ok)
        );
    } else {
        let _ = write!(
            h,
            "<div class=\"verdict bad\" id=\"verdict\">&#10008; {}<ul>",
            say(
                w.verdict_bad,
                &[
                    ("n", &failing.len().to_string()),
                    ("total", &checks.len().to_string())
                ]
            )
        );
        for c in &failing {
            let _ = write!(
                h,
                "<li>{}</li>",
                say(
                    w.verdict_bad_where,
                    &[("check", &c.name), ("detail", &c.detail)]
                )
            );
        }
        h.push_str("</ul></div>\n");
    }
    let _ = writeln!(h, "<p class=\"muted\">{}</p>", esc(w.verdict_note));
    if let Some(reason) = &m.include_failing {
        let _ = writeln!(
            h,
            "<p class=\"bad\">{}</p>",
            say(w.failing_exported, &[("reason", reason)])
        );
    }
    let people = model::People::new(m, lang);
    let exporter = people.of_key(&m.exporter.public_key);
    let _ = writeln!(h, "<dl class=\"facts\">");
    if !case.is_empty() {
        let _ = writeln!(h, "<dt>{}</dt><dd>{}</dd>", esc(w.case), data(case));
    }
    let _ = writeln!(
        h,
        "<dt>{}</dt><dd><code>{}</code></dd>\n<dt>{}</dt><dd>{}</dd>\n<dt>{}</dt><dd>{}</dd>\n<dt>{}</dt><dd>{}</dd>\n</dl>",
        esc(w.ledger),
        esc(&m.ledger.origin),
        esc(w.checkpoint),
        say(
            w.checkpoint_of,
            &[
                ("n", &m.ledger.checkpoint_size.to_string()),
                ("key", &m.ledger.key_id)
            ]
        ),
        esc(w.exported_by),
        person(&exporter, w),
        esc(w.exported_at),
        time(m.exported_at_ms, lang),
    );
    let _ = writeln!(
        h,
        "<p>{}</p>",
        say(w.summary, &[("n", &m.exhibits.len().to_string())])
    );
    // The timeline, then each exhibit.
    let views = model::exhibits(m, checks, text_of, lang);
    let _ = writeln!(h, "<h2>{}</h2>", esc(w.timeline));
    let points: Vec<timeline::Point> = views
        .iter()
        .map(|v| timeline::Point {
            seq: v.seq,
            ms: v.recorded_ms,
            // The time first: a long or crafted title can never push it out of sight.
            prefix: format!("{} #{}", words::clock(v.recorded_ms), v.seq),
            label: v.title.clone(),
            day: words::day(v.recorded_ms, lang),
        })
        .collect();
    h.push_str(&timeline::svg(&timeline::layout(&points), w.timeline_label));
    for v in &views {
        exhibit_section(&mut h, v, attested, lang);
    }
    h.push_str(&attestations(m, attested, lang));
    let _ = writeln!(
        h,
        "<h2>{}</h2>\n<p>{}</p>\n<table><tr><th>{}</th><th>{}</th><th>{}</th></tr>",
        esc(w.checks),
        esc(w.checks_intro),
        esc(w.check),
        esc(w.rule),
        esc(w.result)
    );
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
            if c.passed { w.passed } else { w.failed },
            esc(&c.detail)
        );
    }
    h.push_str("</table>\n</body></html>\n");
    h
}

/// One exhibit's section: what it is, who recorded it and when, its consent, every
/// version (the text itself in its direction), the media, and its chain of custody.
fn exhibit_section(h: &mut String, v: &model::ExhibitView, attested: &Attested, lang: Lang) {
    let w = lang.words();
    let _ = writeln!(
        h,
        "<section class=\"exhibit\" id=\"exhibit-{}\">\n<h2>{}: {}</h2>",
        v.seq,
        say(w.exhibit, &[("seq", &v.seq.to_string())]),
        data(&v.title)
    );
    if !v.failing.is_empty() {
        h.push_str("<ul class=\"bad\">");
        for (name, detail) in &v.failing {
            let _ = write!(
                h,
                "<li>{}: {} — {}</li>",
                esc(name),
                esc(w.failed),
                esc(detail)
            );
        }
        h.push_str("</ul>\n");
    }
    let _ = writeln!(
        h,
        "<dl class=\"facts\">\n<dt>{}</dt><dd>{}</dd>\n<dt>{}</dt><dd>{}</dd>\n<dt>{}</dt><dd>{}</dd>",
        esc(w.recorded_by),
        person(&v.recorder, w),
        esc(w.signed_at),
        time(v.claimed_ms, lang),
        esc(w.recorded_at),
        time(v.recorded_ms, lang),
    );
    if v.kind == "testimony" {
        let mut consent = esc(v.consent.as_deref().unwrap_or(w.no_consent));
        for c in &v.consent_changes {
            let _ = write!(
                consent,
                "<br>{}",
                say(
                    w.consent_changed,
                    &[
                        ("seq", &c.seq.to_string()),
                        ("when", &words::when(c.ms, lang)),
                        ("consent", &c.consent)
                    ]
                )
            );
        }
        let _ = writeln!(h, "<dt>{}</dt><dd>{consent}</dd>", esc(w.consent));
    }
    if let Some(reason) = &v.consent_override {
        let _ = writeln!(
            h,
            "<dt>{}</dt><dd class=\"bad\">{}</dd>",
            esc(w.consent),
            say(w.exported_without_consent, &[("reason", reason)])
        );
    }
    let _ = writeln!(
        h,
        "<dt>{}</dt><dd>{}</dd>",
        esc(w.attested),
        attested_line(v.seq, attested, lang)
    );
    if let Some(media) = &v.media {
        let _ = writeln!(
            h,
            "<dt>{}</dt><dd>{}</dd>\n<dt>{}</dt><dd>{}</dd>\n<dt>{}</dt><dd>{}</dd>\n<dt>{}</dt><dd><code>{}</code></dd>\n<dt>{}</dt><dd>{}</dd>",
            esc(w.name),
            data(media.name.as_deref().unwrap_or("—")),
            esc(w.media_type),
            esc(media.media_type.as_deref().unwrap_or("—")),
            esc(w.size),
            media
                .size
                .map(|n| say(w.bytes, &[("n", &n.to_string())]))
                .unwrap_or_default(),
            esc(w.sha256),
            esc(&media.sha256),
            esc(w.file_in_bundle),
            media
                .file
                .as_ref()
                .map(|f| format!("<code>{}</code>", esc(f)))
                .unwrap_or_else(|| esc(w.file_not_in_bundle)),
        );
    }
    h.push_str("</dl>\n");
    for x in &v.erasures {
        let _ = writeln!(
            h,
            "<p class=\"bad\">{}</p>",
            say(
                w.erased,
                &[
                    ("seq", &x.seq.to_string()),
                    ("when", &words::when(x.ms, lang)),
                    ("reason", &x.reason)
                ]
            )
        );
    }
    // Every version, side by side in order: the original, then each correction.
    let several = v.versions.len() > 1;
    if several {
        let _ = writeln!(h, "<h3>{}</h3>", esc(w.versions));
    }
    for ver in &v.versions {
        if several {
            let head = if ver.original {
                say(w.original, &[("seq", &ver.seq.to_string())])
            } else {
                say(
                    w.correction,
                    &[
                        ("seq", &ver.seq.to_string()),
                        ("when", &words::when(ver.recorded_ms, lang)),
                    ],
                )
            };
            let _ = writeln!(h, "<h4>{head}</h4>");
            if let Some(r) = &ver.reason {
                let _ = writeln!(h, "<p><b>{}</b>: {}</p>", esc(w.reason), data(r));
            }
        } else if ver.text.is_some() {
            let _ = writeln!(h, "<h3>{}</h3>", esc(w.text));
        }
        if let Some(d) = &ver.description {
            let label = if ver.original {
                w.description
            } else {
                w.new_description
            };
            let _ = writeln!(h, "<p><b>{}</b>: {}</p>", esc(label), data(d));
        }
        if let Some(t) = &ver.text {
            h.push_str(&text_block(t, w));
        }
    }
    // The chain of custody, holder by holder.
    let _ = writeln!(
        h,
        "<h3>{}</h3>\n<table class=\"custody\"><tr><th>{}</th><th>{}</th><th>{}</th><th>{}</th></tr>",
        esc(w.custody),
        esc(w.holder),
        esc(w.from),
        esc(w.until),
        esc(w.how)
    );
    for row in &v.custody {
        // A receiver who never countersigned never held the exhibit: said in the holder's
        // own cell, where no width of a name can push it out of sight.
        let (held_or_not, until) = match &row.how {
            model::How::Transfer {
                outcome: model::Outcome::Pending,
                ..
            } => (
                format!(
                    "<span class=\"pending\">{}</span><br>",
                    esc(w.not_held_pending)
                ),
                "—".to_owned(),
            ),
            model::How::Transfer {
                outcome: model::Outcome::Withdrawn(_),
                ..
            } => (
                format!(
                    "<span class=\"pending\">{}</span><br>",
                    esc(w.not_held_withdrawn)
                ),
                "—".to_owned(),
            ),
            _ => (
                String::new(),
                row.until_ms
                    .map(|t| time(t, lang))
                    .unwrap_or_else(|| esc(w.now)),
            ),
        };
        let (how, class) = match &row.how {
            model::How::Recorded { seq } => (say(w.first_holder, &[("seq", &seq.to_string())]), ""),
            model::How::Transfer {
                transfer,
                giver,
                reason,
                outcome,
            } => {
                let given = say(
                    w.handed_over,
                    &[
                        ("seq", &transfer.to_string()),
                        ("giver", &giver_name(giver, w)),
                        ("reason", reason),
                    ],
                );
                match outcome {
                    model::Outcome::Accepted(seq) => (
                        format!(
                            "{given}<br>{}",
                            say(w.countersigned, &[("seq", &seq.to_string())])
                        ),
                        "",
                    ),
                    model::Outcome::Pending => (
                        format!(
                            "{given}<br><span class=\"pending\">{}</span>",
                            esc(w.pending)
                        ),
                        " class=\"pending-row\"",
                    ),
                    model::Outcome::Withdrawn(seq) => (
                        format!(
                            "{given}<br>{}",
                            say(w.withdrawn, &[("seq", &seq.to_string())])
                        ),
                        "",
                    ),
                }
            }
        };
        let _ = writeln!(
            h,
            "<tr{class}><td>{}{}</td><td>{}</td><td>{}</td><td>{how}</td></tr>",
            held_or_not,
            person(&row.holder, w),
            time(row.from_ms, lang),
            until,
        );
    }
    h.push_str("</table>\n</section>\n");
}

fn giver_name(p: &model::Person, w: &words::Words) -> String {
    match &p.name {
        Some(n) => format!("{n}, {} {}", w.key_id, p.key_id),
        None => format!("{} {}", w.key_id, p.key_id),
    }
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
    text_of: &dyn Fn(&str) -> Option<Vec<u8>>,
    lang: Lang,
) -> (String, String) {
    let mut m = manifest.clone();
    m.files = BTreeMap::new();
    (
        html(&m, record_checks, attested, text_of, lang),
        verify_txt(&m),
    )
}

/// The language a rendered report says it is in (`<html lang="..">`), when the catalogue
/// has it: `verify-bundle` renders the report again in that language.
pub(super) fn lang_of(report: &[u8]) -> Option<Lang> {
    let head = String::from_utf8_lossy(&report[..report.len().min(200)]);
    let tag = head.split("<html lang=\"").nth(1)?.split('"').next()?;
    Lang::from_tag(tag)
}

/// What attests, independently of the ledger's owner, that record `seq` existed by a time:
/// the earliest verified time-stamp of a checkpoint covering it, and the witnesses of the
/// smallest cosigned checkpoint covering it.
fn attested_line(seq: u64, attested: &Attested, lang: Lang) -> String {
    let w = lang.words();
    let mut parts = Vec::new();
    if let Some((t, s, size)) = attested.stamped(seq) {
        let accuracy = if s.accuracy_ms > 0 {
            say(
                w.accuracy,
                &[
                    ("when", &record::rfc3339(s.time_ms)),
                    ("ms", &s.accuracy_ms.to_string()),
                ],
            )
        } else {
            String::new()
        };
        parts.push(fill(
            &say(
                w.stamped_line,
                &[
                    ("when", &record::rfc3339(t)),
                    ("authority", &s.authority),
                    ("n", &size.to_string()),
                ],
            ),
            &[("accuracy", &accuracy)],
        ));
    }
    if let Some((size, witnesses)) = attested.witnessed(seq) {
        // A few names here; every witness is in the table below.
        let mut named: Vec<String> = witnesses
            .iter()
            .take(3)
            .map(|c| {
                say(
                    w.at,
                    &[("who", &c.witness), ("when", &record::rfc3339(c.time_ms))],
                )
            })
            .collect();
        if witnesses.len() > 3 {
            named.push(say(w.more, &[("n", &(witnesses.len() - 3).to_string())]));
        }
        parts.push(fill(
            &say(w.cosigned_line, &[("n", &size.to_string())]),
            &[("names", &named.join(", "))],
        ));
    }
    if parts.is_empty() {
        esc(w.not_attested)
    } else {
        parts.join("; ")
    }
}

/// The attested checkpoints, each with its witnesses and authorities.
fn attestations(m: &Manifest, attested: &Attested, lang: Lang) -> String {
    let w = lang.words();
    if m.attestations.is_empty() {
        return format!(
            "<h2>{}</h2>\n<p>{}</p>\n",
            esc(w.witnesses),
            esc(w.witnesses_none)
        );
    }
    let mut s = format!(
        "<h2>{}</h2>\n<p>{}</p>\n<table><tr><th>{}</th><th>{}</th><th>{}</th></tr>\n",
        esc(w.witnesses),
        esc(w.witnesses_intro),
        esc(w.checkpoint_col),
        esc(w.cosigned_col),
        esc(w.stamped_col)
    );
    let list = |items: Vec<String>| {
        if items.is_empty() {
            esc(w.none)
        } else {
            items.join("<br>")
        }
    };
    for a in &m.attestations {
        let size = a.checkpoint_size;
        let witnesses = attested.cosigned.get(&size).map_or(Vec::new(), |v| {
            v.iter()
                .map(|c| {
                    format!(
                        "{}<br><small>{} <code>{}</code></small>",
                        say(
                            w.at,
                            &[("who", &c.witness), ("when", &record::rfc3339(c.time_ms))]
                        ),
                        esc(w.key),
                        esc(&c.key)
                    )
                })
                .collect()
        });
        let stamps = attested.stamps.get(&size).map_or(Vec::new(), |v| {
            v.iter()
                .map(|s| {
                    format!(
                        "{}{}<br><small>{} <code>{}</code></small>",
                        say(
                            w.at,
                            &[("who", &s.authority), ("when", &record::rfc3339(s.time_ms))]
                        ),
                        if s.accuracy_ms > 0 {
                            format!(
                                " ({})",
                                say(w.accuracy_short, &[("ms", &s.accuracy_ms.to_string())])
                            )
                        } else {
                            String::new()
                        },
                        esc(w.certificate),
                        esc(&s.certificates.join(", "))
                    )
                })
                .collect()
        });
        let _ = writeln!(
            s,
            "<tr><td>{} (<code>{}</code>)</td><td>{}</td><td>{}</td></tr>",
            say(w.first_records, &[("n", &size.to_string())]),
            esc(&a.checkpoint_file),
            list(witnesses),
            list(stamps)
        );
    }
    let _ = writeln!(s, "</table>\n<p>{}</p>", esc(w.witnesses_outro));
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

    /// A witness's direction marks stay in their text; a case name's controls are shown,
    /// not obeyed, in the printed header too; data is isolated from the words around it.
    #[test]
    fn witness_text_is_kept_and_controls_elsewhere_are_not_obeyed() {
        let typed = "\u{200F}من\u{200E} 12 <b>";
        assert_eq!(super::esc_text(typed), "\u{200F}من\u{200E} 12 &lt;b&gt;");
        let header = super::css_string("\u{202E}62/10-CCI");
        assert!(!header.contains('\u{202E}'), "{header}");
        assert!(header.starts_with("\"\\00005B U\\00002B 202E"), "{header}");
        assert_eq!(super::data("شاهد 12"), "<bdi>شاهد 12</bdi>");
        assert_eq!(
            super::say(
                "{giver}: {reason}",
                &[("giver", "Bob {reason}"), ("reason", "r")]
            ),
            "<bdi>Bob {reason}</bdi>: <bdi>r</bdi>"
        );
    }
}
