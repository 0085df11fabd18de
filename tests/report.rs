//! The judge's report in a real browser: bundles exported by the binary (an Arabic and an
//! English testimony, media, a hand-over and a correction; 1 and 50 exhibits; a failing
//! bundle exported on purpose) are opened by headless Chromium, which dumps the page as it
//! built it and prints it to PDF. A screenshot of each is kept under
//! `target/report-screenshots/` for people to look at.

use crate::util::*;
use std::path::{Path, PathBuf};

/// The browser: Debian's `chromium` (`.ci/run` installs it).
fn chromium() -> &'static str {
    for c in ["chromium", "chromium-browser", "google-chrome"] {
        if std::process::Command::new(c)
            .arg("--version")
            .output()
            .is_ok_and(|o| o.status.success())
        {
            return c;
        }
    }
    panic!("these tests need Chromium: apt-get install chromium (.ci/run does)");
}

/// Runs headless Chromium on `page` with `args`; returns its standard output.
fn browse(page: &Path, args: &[&str]) -> String {
    let profile = tempfile::tempdir().unwrap();
    let o = std::process::Command::new(chromium())
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-dev-shm-usage",
            "--no-first-run",
            "--allow-file-access-from-files",
            &format!("--user-data-dir={}", profile.path().display()),
        ])
        .args(args)
        .arg(format!("file://{}", page.display()))
        .output()
        .expect("chromium runs");
    assert!(
        o.status.success(),
        "chromium {args:?}: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// What the browser made of a bundle's report: the DOM, the PDF's page count, and the
/// screenshot kept as `NAME.png`.
struct Rendered {
    dom: String,
    html: String,
    pages: usize,
}

fn render(f: &Fixture, bundle: &str, name: &str) -> Rendered {
    let members = read_zip(&f.path(bundle));
    let html = String::from_utf8(members["report.html"].clone()).unwrap();
    let page = f.path(&format!("{name}.html"));
    std::fs::write(&page, &html).unwrap();
    let dom = browse(&page, &["--dump-dom"]);
    let pdf = f.path(&format!("{name}.pdf"));
    browse(
        &page,
        &[
            &format!("--print-to-pdf={}", pdf.display()),
            "--no-pdf-header-footer",
        ],
    );
    let pdf = std::fs::read(&pdf).unwrap();
    assert!(pdf.starts_with(b"%PDF-"), "not a PDF");
    let shots = PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
        .join("..")
        .join("report-screenshots");
    std::fs::create_dir_all(&shots).unwrap();
    let shot = shots.join(format!("{name}.png"));
    browse(
        &page,
        &[
            &format!("--screenshot={}", shot.display()),
            "--window-size=1100,1600",
            "--hide-scrollbars",
        ],
    );
    assert!(
        std::fs::metadata(&shot).unwrap().len() > 1000,
        "no screenshot"
    );
    Rendered {
        dom,
        html,
        pages: pdf_pages(&pdf),
    }
}

/// The number of pages of a PDF: its page objects (`/Type /Page`, not `/Pages`).
fn pdf_pages(pdf: &[u8]) -> usize {
    let needle = b"/Type /Page";
    pdf.windows(needle.len() + 1)
        .filter(|w| &w[..needle.len()] == needle && w[needle.len()] != b's')
        .count()
}

fn export(f: &Fixture, key: &str, out: &str, seqs: &[u64], extra: &[&str]) -> Output {
    let out = f.p(out);
    let seqs: Vec<String> = seqs.iter().map(u64::to_string).collect();
    let time = f.export_time();
    let mut args = vec![
        "export",
        "--out",
        &out,
        "--export-time",
        &time,
        "--case",
        "ICC-01/26 Saydnaya",
    ];
    args.extend_from_slice(extra);
    args.extend(seqs.iter().map(String::as_str));
    f.run_as(key, &args)
}

const LONG_NAME: &str = "CarolXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXX";

/// The text of a PDF, page by page (poppler's `pdftotext`, which `.ci/run` installs).
fn pdf_text(pdf: &Path) -> Vec<String> {
    let o = std::process::Command::new("pdftotext")
        .args(["-layout", &pdf.to_string_lossy(), "-"])
        .output()
        .expect("pdftotext runs (apt-get install poppler-utils; .ci/run does)");
    assert!(o.status.success());
    let text = String::from_utf8_lossy(&o.stdout).into_owned();
    let mut pages: Vec<String> = text.split('\u{c}').map(str::to_owned).collect();
    if pages.last().is_some_and(|p| p.trim().is_empty()) {
        pages.pop();
    }
    pages
}

const ARABIC: &str = "كنت محتجزًا في الزنزانة رقم ٧ لمدة واحد وأربعين يومًا.";

/// A ledger with an Arabic testimony (corrected once), an English one, and a video handed
/// from Alice to Bob, who countersigned.
fn case() -> (Fixture, Vec<u64>) {
    let f = Fixture::new();
    f.add_key("bob", "custodian");
    std::fs::write(f.path("ar.txt"), ARABIC).unwrap();
    let o = f.run_as(
        "alice",
        &[
            "add",
            "testimony",
            "--subject",
            "W-7",
            "--language",
            "ar",
            "--consent",
            "court",
            "--text-file",
            &f.p("ar.txt"),
            "--json",
        ],
    );
    assert_eq!(o.code, 0, "{}", o.all());
    let ar = seq_of(&o);
    let corrected = "كنت محتجزًا في الزنزانة رقم ٧ لمدة اثنين وأربعين يومًا.";
    f.amend_text(ar, corrected);
    let en = f.testimony("I saw the guards take him at dawn.");
    let video = f.media("courtyard.mp4", b"video bytes");
    let t = f.transfer("alice", video, "bob");
    let o = f.run_as("bob", &["accept", &t.to_string(), "--json"]);
    assert_eq!(o.code, 0, "{}", o.all());
    // Offered on to a custodian with a very long name, who has not countersigned.
    f.add_key_as("carol", LONG_NAME, "custodian");
    f.transfer("bob", video, "carol");
    f.checkpoint();
    (f, vec![ar, en, video])
}

#[test]
fn the_report_reads_right_in_a_browser_and_prints_as_a_binder() {
    let (f, seqs) = case();
    let o = export(&f, "ledger", "case.zip", &seqs, &[]);
    assert_eq!(o.code, 0, "{}", o.all());
    let r = render(&f, "case.zip", "arabic-english-media-handover");
    // One verdict, at the top.
    assert!(r.dom.contains("Every check passed"), "{}", r.dom);
    let verdict = r.dom.find("id=\"verdict\"").unwrap();
    assert!(verdict < r.dom.find("Exhibit ").unwrap());
    // The testimony itself, right to left in Arabic, both versions; the English one left
    // to right.
    let arabic = format!("lang=\"ar\" dir=\"rtl\">{ARABIC}</blockquote>");
    assert!(r.dom.contains(&arabic), "{}", r.dom);
    assert!(r.dom.contains("اثنين وأربعين"), "the correction's text");
    assert!(r.dom.contains("the witness corrected a date"));
    assert!(
        r.dom
            .contains("dir=\"ltr\">I saw the guards take him at dawn.</blockquote>")
    );
    // People, not keys: the recorder and each holder by name and role.
    assert!(
        r.dom.contains("<b><bdi>Alice</bdi></b> (investigator)"),
        "{}",
        r.dom
    );
    assert!(
        r.dom.contains("<b><bdi>bob</bdi></b> (custodian)"),
        "{}",
        r.dom
    );
    assert!(r.dom.contains("countersigned by the receiver"));
    // Times in words, with the exact value beside them.
    assert!(r.dom.contains(" UTC <small><code>20"), "{}", r.dom);
    // No script anywhere, and the page's own policy forbids any.
    assert!(!r.dom.to_ascii_lowercase().contains("<script"));
    assert!(r.html.contains("default-src 'none'"));
    // One exhibit a page when printed, after the summary; on every page the case and the
    // page's number; a receiver who never countersigned is said not to hold the exhibit,
    // however long their name.
    assert!(r.pages >= 4, "{} pages", r.pages);
    assert!(
        r.dom.contains("OFFERED, NOT ACCEPTED (never held it):"),
        "{}",
        r.dom
    );
    let pages = pdf_text(&f.path("arabic-english-media-handover.pdf"));
    assert_eq!(pages.len(), r.pages);
    for (i, p) in pages.iter().enumerate() {
        assert!(p.contains("ICC-01/26 Saydnaya"), "page {}: {p}", i + 1);
        assert!(
            p.contains(&format!("page {} / {}", i + 1, pages.len())),
            "page {}: {p}",
            i + 1
        );
    }
    let all = pages.join("\n");
    assert!(all.contains("OFFERED, NOT"), "{all}");
    assert!(all.contains("PENDING"), "{all}");

    // The same in French: labels translated, the data untouched; verify-bundle renders it
    // again and agrees.
    let o = export(&f, "ledger", "fr.zip", &seqs, &["--report-lang", "fr"]);
    assert_eq!(o.code, 0, "{}", o.all());
    let fr = render(&f, "fr.zip", "french");
    assert!(
        fr.dom.contains("Toutes les vérifications ont réussi"),
        "{}",
        fr.dom
    );
    assert!(fr.dom.contains("Chaîne de possession"));
    assert!(fr.dom.contains(&arabic));
    assert!(fr.dom.contains("</bdi></b> (enquêteur)"));
    let v = f.run(&["verify-bundle", &f.p("fr.zip"), "--no-trust"]);
    assert_eq!(v.code, 0, "{}", v.all());
}

#[test]
fn the_report_grows_a_page_an_exhibit_and_shows_a_failing_bundle_first() {
    let f = Fixture::new();
    let seqs: Vec<u64> = (0..50)
        .map(|i| f.media(&format!("clip-{i:02}.mp4"), format!("clip {i}").as_bytes()))
        .collect();
    f.checkpoint();
    assert_eq!(export(&f, "ledger", "one.zip", &seqs[..1], &[]).code, 0);
    assert_eq!(export(&f, "ledger", "fifty.zip", &seqs, &[]).code, 0);
    let one = render(&f, "one.zip", "one-exhibit");
    let fifty = render(&f, "fifty.zip", "fifty-exhibits");
    assert!(one.dom.contains("Every check passed"));
    assert!(fifty.dom.contains("clip-49.mp4"));
    assert!(
        fifty.pages >= one.pages + 49,
        "{} pages for 50 exhibits, {} for 1",
        fifty.pages,
        one.pages
    );

    // Alice's key, compromised from before her first clip: every exhibit fails, and the
    // bundle is written only with a reason; its report says so first.
    f.revoke("alice", "compromised", Some(&seqs[0].to_string()));
    f.checkpoint();
    let o = export(&f, "ledger", "failing.zip", &seqs[..2], &[]);
    assert_eq!(o.code, 1, "{}", o.all());
    let o = export(
        &f,
        "ledger",
        "failing.zip",
        &seqs[..2],
        &["--include-failing", "the defence asked for it"],
    );
    assert_eq!(o.code, 0, "{}", o.all());
    let bad = render(&f, "failing.zip", "failing");
    let verdict = bad.dom.find("id=\"verdict\"").unwrap();
    let failed = bad
        .dom
        .find("checks FAILED")
        .expect("the verdict says how many failed");
    assert!(verdict < failed && failed < bad.dom.find("Exhibit ").unwrap());
    assert!(bad.dom.contains("the defence asked for it"));
    // And in each failing exhibit's own section.
    let section = bad.dom.find("id=\"exhibit-").unwrap();
    assert!(
        bad.dom[section..].contains("FAILED — record "),
        "{}",
        &bad.dom[section..]
    );
}
