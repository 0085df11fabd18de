//! What the judge's report shows, built from the verified bundle: people rather than key
//! IDs, every version of each testimony with its text in its own direction, each exhibit's
//! chain of custody as a sequence of holders. The page (`super::html`) only lays it out.

use super::super::{Exhibit, Manifest, RecordEntry, Supporting};
use super::words::{Lang, fill};
use crate::ledger::Check;
use std::collections::BTreeMap;

/// A signer, as the bundle's authorisation records name them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Person {
    /// The name an authorisation gave the key, when the bundle has one.
    pub name: Option<String>,
    /// Its role, in the report's language.
    pub role: Option<String>,
    pub key_id: String,
    pub fingerprint: String,
}

/// Which way a text reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dir {
    Ltr,
    Rtl,
    /// A language the report does not know: the browser decides from the text.
    Auto,
}

impl Dir {
    pub fn attr(self) -> &'static str {
        match self {
            Dir::Ltr => "ltr",
            Dir::Rtl => "rtl",
            Dir::Auto => "auto",
        }
    }
}

/// The direction of a language by its BCP 47 tag: the languages written in Arabic,
/// Hebrew, Syriac or Thaana script read right to left (Arabic, Persian, Sorani and
/// Arabic-script Kurdish, Urdu, Pashto, Hebrew, ...), unless the tag names a Latin or
/// Cyrillic script (Kurmanji written `ku-Latn`).
pub fn direction(tag: &str) -> Dir {
    let tag = tag.trim().to_ascii_lowercase().replace('_', "-");
    let mut parts = tag.split('-');
    let primary = parts.next().unwrap_or("");
    let script = parts.find(|p| p.len() == 4);
    match script {
        Some("arab" | "hebr" | "syrc" | "thaa" | "nkoo" | "adlm" | "rohg") => return Dir::Rtl,
        Some("latn" | "cyrl") => return Dir::Ltr,
        _ => {}
    }
    const RTL: &[&str] = &[
        "ar", "fa", "ckb", "ku", "ur", "ps", "he", "iw", "yi", "sd", "ug", "dv", "syr", "arc",
        "prs", "pnb", "azb", "lrc", "mzn", "glk", "bal", "ks", "bqi", "sdh", "hac",
    ];
    const LTR: &[&str] = &[
        "en", "fr", "es", "de", "it", "pt", "nl", "ru", "uk", "tr", "sw", "am", "ti", "so", "ha",
        "yo", "ig", "zu", "pl", "ro", "sr", "hr", "bs", "sq", "el", "hy", "ka", "az", "zh", "ja",
        "ko", "hi", "bn", "ta", "my", "th", "vi", "id", "ms", "tl", "rw", "ln", "lg", "din", "nus",
        "ff", "wo", "bm", "kmr",
    ];
    if RTL.contains(&primary) {
        Dir::Rtl
    } else if LTR.contains(&primary) {
        Dir::Ltr
    } else {
        Dir::Auto
    }
}

/// A language tag safe to put in a `lang` attribute (letters, digits and hyphens), or none.
pub fn lang_attr(tag: &str) -> Option<String> {
    let t = tag.trim();
    (!t.is_empty() && t.len() <= 35 && t.chars().all(|c| c.is_ascii_alphanumeric() || c == '-'))
        .then(|| t.to_owned())
}

/// A testimony text as the report shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TextView {
    /// The text itself, in its language and direction.
    Shown {
        text: String,
        lang: Option<String>,
        dir: Dir,
        file: String,
    },
    /// The bundle does not carry it (no consent for court use, or not asked for).
    NotInBundle,
    /// The member is not UTF-8 text.
    NotUtf8 { file: String },
}

/// One version of an exhibit: the original, or a correction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Version {
    pub seq: u64,
    pub original: bool,
    pub recorded_ms: u64,
    pub by: Person,
    pub reason: Option<String>,
    pub description: Option<String>,
    /// For a testimony, and a correction of its text.
    pub text: Option<TextView>,
}

/// One line of an exhibit's chain of custody.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Holding {
    pub holder: Person,
    pub from_ms: u64,
    /// When it passed to the next holder; `None`: the last holder the bundle shows.
    pub until_ms: Option<u64>,
    pub how: How,
}

/// How a holder came to hold an exhibit (or did not).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum How {
    /// Recorded it, in record `seq`.
    Recorded { seq: u64 },
    /// Named as receiver by hand-over `transfer`, signed by `giver`.
    Transfer {
        transfer: u64,
        giver: Person,
        reason: String,
        outcome: Outcome,
    },
}

/// What became of a hand-over.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Countersigned by the receiver in this record: the receiver holds the exhibit.
    Accepted(u64),
    /// Not countersigned: the giver still holds it.
    Pending,
    /// Withdrawn by this record before it was accepted.
    Withdrawn(u64),
}

/// The media an exhibit registers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MediaView {
    pub name: Option<String>,
    pub media_type: Option<String>,
    pub size: Option<u64>,
    pub sha256: String,
    pub file: Option<String>,
}

/// A change of consent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConsentChange {
    pub seq: u64,
    pub ms: u64,
    pub consent: String,
}

/// An erasure.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Erasure {
    pub seq: u64,
    pub ms: u64,
    pub reason: String,
}

/// Everything the report says of one exhibit.
#[derive(Debug, Clone, PartialEq)]
pub struct ExhibitView {
    pub seq: u64,
    pub kind: String,
    /// "Testimony of W-7", "Media file clip.mp4" (in the report's language).
    pub title: String,
    pub recorder: Person,
    pub claimed_ms: u64,
    pub recorded_ms: u64,
    pub consent: Option<String>,
    pub consent_changes: Vec<ConsentChange>,
    pub consent_override: Option<String>,
    pub erasures: Vec<Erasure>,
    /// Every version, the original first.
    pub versions: Vec<Version>,
    pub media: Option<MediaView>,
    pub custody: Vec<Holding>,
    /// The checks of this exhibit that failed: (name, detail).
    pub failing: Vec<(String, String)>,
}

fn text_field(body: &serde_json::Value, key: &str) -> Option<String> {
    match body.get(key)? {
        serde_json::Value::Null => None,
        serde_json::Value::String(s) => Some(s.clone()),
        v => Some(v.to_string()),
    }
}

fn u64_field(body: &serde_json::Value, key: &str) -> Option<u64> {
    body.get(key).and_then(serde_json::Value::as_u64)
}

/// Who is who: the bundle's authorisation records, by public key (base64).
pub struct People<'a> {
    by_key: BTreeMap<&'a str, (&'a str, &'a str)>,
    lang: Lang,
}

impl<'a> People<'a> {
    pub fn new(m: &'a Manifest, lang: Lang) -> Self {
        let mut by_key = BTreeMap::new();
        // The ledger key (which signs checkpoints, and often exports) goes by the ledger's
        // name.
        by_key.insert(
            m.ledger.public_key.as_str(),
            (m.ledger.origin.as_str(), "ledger"),
        );
        for s in &m.supporting {
            if s.kind == "authorize"
                && let (Some(k), Some(n), Some(r)) = (
                    s.body.get("key").and_then(|v| v.as_str()),
                    s.body.get("name").and_then(|v| v.as_str()),
                    s.body.get("role").and_then(|v| v.as_str()),
                )
            {
                // The latest authorisation of a key names it.
                by_key.insert(k, (n, r));
            }
        }
        People { by_key, lang }
    }

    /// The person of a public key (base64), its ID and fingerprint computed here.
    pub fn of_key(&self, key_b64: &str) -> Person {
        use base64::Engine;
        let raw: Option<[u8; 32]> = base64::engine::general_purpose::STANDARD
            .decode(key_b64)
            .ok()
            .and_then(|v| v.try_into().ok());
        let (key_id, fingerprint) = match raw {
            Some(k) => (
                crate::keys::short_id(&k),
                crate::keys::fingerprint_string(&k),
            ),
            None => (String::new(), String::new()),
        };
        self.named(key_b64, key_id, fingerprint)
    }

    /// The signer of a record.
    pub fn signer(&self, e: &RecordEntry) -> Person {
        self.named(
            &e.signer_key,
            e.signer_key_id.clone(),
            e.signer_fingerprint.clone(),
        )
    }

    fn named(&self, key_b64: &str, key_id: String, fingerprint: String) -> Person {
        let found = self.by_key.get(key_b64);
        Person {
            name: found.map(|(n, _)| (*n).to_owned()),
            role: found.map(|(_, r)| {
                self.lang
                    .words()
                    .roles
                    .iter()
                    .find(|(k, _)| k == r)
                    .map_or((*r).to_owned(), |(_, v)| (*v).to_owned())
            }),
            key_id,
            fingerprint,
        }
    }
}

/// Builds the view of every exhibit. `text_of` gives a member's bytes (the texts the
/// bundle carries).
pub fn exhibits(
    m: &Manifest,
    checks: &[Check],
    text_of: &dyn Fn(&str) -> Option<Vec<u8>>,
    lang: Lang,
) -> Vec<ExhibitView> {
    let people = People::new(m, lang);
    let w = lang.words();
    let about = |kind: &'static str, key: &'static str, seq: u64| {
        m.supporting
            .iter()
            .filter(move |s| s.kind == kind && u64_field(&s.body, key) == Some(seq))
    };
    let text_view = |content: Option<&super::super::ContentInfo>, language: &str| {
        content.map(|c| match text_of(&c.file).map(String::from_utf8) {
            Some(Ok(text)) => TextView::Shown {
                text,
                lang: lang_attr(language),
                dir: direction(language),
                file: c.file.clone(),
            },
            Some(Err(_)) => TextView::NotUtf8 {
                file: c.file.clone(),
            },
            None => TextView::NotInBundle,
        })
    };
    m.exhibits
        .iter()
        .map(|e: &Exhibit| {
            let language = text_field(&e.body, "language").unwrap_or_default();
            let is_testimony = e.kind == "testimony";
            let title = match e.kind.as_str() {
                "testimony" => fill(
                    w.testimony_of,
                    &[(
                        "subject",
                        &text_field(&e.body, "subject").unwrap_or_default(),
                    )],
                ),
                "media" => fill(
                    w.media_file,
                    &[(
                        "name",
                        &text_field(&e.body, "name").unwrap_or_else(|| "—".into()),
                    )],
                ),
                k => k.to_owned(),
            };
            let mut versions = vec![Version {
                seq: e.seq,
                original: true,
                recorded_ms: e.recorded_at_ms,
                by: people.signer(e),
                reason: None,
                description: text_field(&e.body, "description"),
                text: if is_testimony {
                    Some(text_view(e.content.as_ref(), &language).unwrap_or(TextView::NotInBundle))
                } else {
                    None
                },
            }];
            for a in about("amend", "target", e.seq) {
                let new_text = a.body.get("commitment").is_some_and(|c| !c.is_null());
                versions.push(Version {
                    seq: a.seq,
                    original: false,
                    recorded_ms: a.recorded_at_ms,
                    by: people.signer(a),
                    reason: text_field(&a.body, "reason"),
                    description: text_field(&a.body, "description"),
                    text: (is_testimony && new_text).then(|| {
                        text_view(a.content.as_ref(), &language).unwrap_or(TextView::NotInBundle)
                    }),
                });
            }
            let media = (e.kind == "media").then(|| MediaView {
                name: text_field(&e.body, "name"),
                media_type: text_field(&e.body, "media_type"),
                size: u64_field(&e.body, "size"),
                sha256: text_field(&e.body, "sha256").unwrap_or_default(),
                file: e.media_file.clone(),
            });
            ExhibitView {
                seq: e.seq,
                kind: e.kind.clone(),
                title,
                recorder: people.signer(e),
                claimed_ms: e.claimed_at_ms,
                recorded_ms: e.recorded_at_ms,
                consent: is_testimony
                    .then(|| text_field(&e.body, "consent"))
                    .flatten(),
                consent_changes: about("consent", "target", e.seq)
                    .map(|c| ConsentChange {
                        seq: c.seq,
                        ms: c.recorded_at_ms,
                        consent: text_field(&c.body, "consent").unwrap_or_default(),
                    })
                    .collect(),
                consent_override: e.consent_override.clone(),
                erasures: about("erase", "target", e.seq)
                    .map(|x| Erasure {
                        seq: x.seq,
                        ms: x.recorded_at_ms,
                        reason: text_field(&x.body, "reason").unwrap_or_default(),
                    })
                    .collect(),
                versions,
                media,
                custody: custody(e, &m.supporting, &people),
                failing: checks
                    .iter()
                    .filter(|c| {
                        !c.passed
                            && (c.name.starts_with(&format!("exhibit {} ", e.seq))
                                || c.detail.starts_with(&format!("record {} ", e.seq)))
                    })
                    .map(|c| (c.name.clone(), c.detail.clone()))
                    .collect(),
            }
        })
        .collect()
}

/// An exhibit's holders in order: its recorder, then each receiver of a hand-over the
/// receiver countersigned; hand-overs not countersigned (pending) or withdrawn are shown
/// where they happened, and change no holder.
pub fn custody(e: &RecordEntry, supporting: &[Supporting], people: &People) -> Vec<Holding> {
    let mut rows = vec![Holding {
        holder: people.signer(e),
        from_ms: e.recorded_at_ms,
        until_ms: None,
        how: How::Recorded { seq: e.seq },
    }];
    let mut holder_row = 0;
    let mut transfers: Vec<&Supporting> = supporting
        .iter()
        .filter(|s| s.kind == "transfer" && u64_field(&s.body, "exhibit") == Some(e.seq))
        .collect();
    transfers.sort_by_key(|t| t.seq);
    // The first accept and the first cancel of each hand-over, found in one pass.
    let mut answers: BTreeMap<(&str, u64), &Supporting> = BTreeMap::new();
    for s in supporting {
        if let (kind @ ("accept" | "cancel"), Some(t)) =
            (s.kind.as_str(), u64_field(&s.body, "transfer"))
        {
            answers.entry((kind, t)).or_insert(s);
        }
    }
    for t in transfers {
        let find = |kind: &'static str| answers.get(&(kind, t.seq)).copied();
        let to = people.of_key(t.body.get("to").and_then(|v| v.as_str()).unwrap_or(""));
        let (outcome, from_ms, until_ms) = match (find("accept"), find("cancel")) {
            (Some(a), _) => (Outcome::Accepted(a.seq), a.recorded_at_ms, None),
            (None, Some(c)) => (
                Outcome::Withdrawn(c.seq),
                t.recorded_at_ms,
                Some(c.recorded_at_ms),
            ),
            (None, None) => (Outcome::Pending, t.recorded_at_ms, None),
        };
        if let Outcome::Accepted(_) = outcome {
            rows[holder_row].until_ms = Some(from_ms);
            holder_row = rows.len();
        }
        rows.push(Holding {
            holder: to,
            from_ms,
            until_ms,
            how: How::Transfer {
                transfer: t.seq,
                giver: people.signer(t),
                reason: text_field(&t.body, "reason").unwrap_or_default(),
                outcome,
            },
        });
    }
    rows
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::Engine;
    use serde_json::json;

    fn key(n: u8) -> String {
        base64::engine::general_purpose::STANDARD.encode([n; 32])
    }

    fn entry(
        seq: u64,
        kind: &str,
        signer: u8,
        ms: u64,
        body: serde_json::Value,
    ) -> serde_json::Value {
        json!({
            "seq": seq, "kind": kind, "leaf_hash": "", "prev": "", "record_bytes": "",
            "statement_bytes": "", "signature": "", "signer_key": key(signer),
            "signer_key_id": format!("id{signer}"), "signer_fingerprint": format!("fp{signer}"),
            "signer_key_file": "", "claimed_at_ms": ms, "claimed_at": "", "recorded_at_ms": ms,
            "recorded_at": "", "body": body, "proof_file": "", "inclusion_proof": []
        })
    }

    fn with(mut e: serde_json::Value, extra: serde_json::Value) -> serde_json::Value {
        for (k, v) in extra.as_object().unwrap() {
            e[k] = v.clone();
        }
        e
    }

    fn authorize(seq: u64, who: u8, name: &str, role: &str) -> serde_json::Value {
        entry(
            seq,
            "authorize",
            0,
            1000 + seq,
            json!({"key": key(who), "name": name, "role": role}),
        )
    }

    /// A bundle of a corrected Arabic testimony (3: a new text in 4, a new description in
    /// 5) and a video (6) handed from Alice (1) to Bob (2), then offered to Carol (3) and
    /// to an unnamed key (4), the last offer withdrawn.
    fn manifest() -> Manifest {
        let none = json!({"content": null});
        let content =
            |seq: u64| json!({"content": {"file": format!("content/{seq}.txt"), "salt": ""}});
        let m = json!({
            "format": "custody-bundle/1",
            "exported_at": "", "exported_at_ms": 9_000,
            "exporter": {"public_key": key(0), "key_id": "id0", "fingerprint": "fp0", "key_file": ""},
            "ledger": {"origin": "example.org/l", "public_key": key(0), "key_id": "id0",
                "fingerprint": "fp0", "key_file": "", "checkpoint_file": "", "checkpoint_size": 12,
                "checkpoint_root": ""},
            "exhibits": [
                with(entry(3, "testimony", 1, 3_000, json!({"subject": "W-7", "language": "ar",
                    "consent": "court", "content_length": 4})),
                    with(content(3), json!({"consent_override": null, "media_file": null}))),
                with(entry(6, "media", 1, 6_000, json!({"sha256": "ab", "size": 11,
                    "name": "clip.mp4", "media_type": "video/mp4"})),
                    json!({"content": null, "consent_override": null, "media_file": "media/clip.mp4"})),
            ],
            "supporting": [
                with(authorize(0, 1, "Alice", "investigator"), none.clone()),
                with(authorize(1, 2, "Bob", "custodian"), none.clone()),
                with(authorize(2, 3, "Carol", "custodian"), none.clone()),
                with(entry(4, "amend", 1, 4_000, json!({"target": 3, "reason": "a date",
                    "description": null, "commitment": "cc", "content_length": 5})), content(4)),
                with(entry(5, "amend", 1, 5_000, json!({"target": 3, "reason": "a name",
                    "description": "W-7, not W-8", "commitment": null, "content_length": null})), none.clone()),
                with(entry(7, "transfer", 1, 7_000, json!({"exhibit": 6, "to": key(2), "to_key_id": "id2",
                    "reason": "to the lab", "location": null})), none.clone()),
                with(entry(8, "accept", 2, 8_000, json!({"transfer": 7})), none.clone()),
                with(entry(9, "transfer", 2, 9_000, json!({"exhibit": 6, "to": key(3), "to_key_id": "id3",
                    "reason": "to court", "location": null})), none.clone()),
                with(entry(10, "transfer", 2, 10_000, json!({"exhibit": 6, "to": key(4), "to_key_id": "id4",
                    "reason": "by mistake", "location": null})), none.clone()),
                with(entry(11, "cancel", 2, 11_000, json!({"transfer": 10})), none),
            ],
            "attestations": [],
            "files": {}
        });
        serde_json::from_value(m).unwrap()
    }

    fn texts(name: &str) -> Option<Vec<u8>> {
        match name {
            "content/3.txt" => Some("نص".as_bytes().to_vec()),
            "content/4.txt" => Some("نص ٢".as_bytes().to_vec()),
            _ => None,
        }
    }

    #[test]
    fn every_version_is_shown_with_its_text_in_its_direction() {
        let v = exhibits(&manifest(), &[], &texts, Lang::En);
        let t = &v[0];
        assert_eq!(t.title, "Testimony of W-7");
        assert_eq!(t.recorder.name.as_deref(), Some("Alice"));
        assert_eq!(t.recorder.role.as_deref(), Some("investigator"));
        let shown = |text: &str| {
            Some(TextView::Shown {
                text: text.into(),
                lang: Some("ar".into()),
                dir: Dir::Rtl,
                file: String::new(),
            })
        };
        let strip = |t: &Option<TextView>| match t {
            Some(TextView::Shown {
                text, lang, dir, ..
            }) => Some(TextView::Shown {
                text: text.clone(),
                lang: lang.clone(),
                dir: *dir,
                file: String::new(),
            }),
            other => other.clone(),
        };
        let seqs: Vec<(u64, bool)> = t.versions.iter().map(|v| (v.seq, v.original)).collect();
        assert_eq!(seqs, [(3, true), (4, false), (5, false)]);
        assert_eq!(strip(&t.versions[0].text), shown("نص"));
        assert_eq!(strip(&t.versions[1].text), shown("نص ٢"));
        assert_eq!(t.versions[1].reason.as_deref(), Some("a date"));
        // A correction of the description alone carries no text.
        assert_eq!(t.versions[2].text, None);
        assert_eq!(t.versions[2].description.as_deref(), Some("W-7, not W-8"));
        // Labels in French; the data as signed.
        let fr = exhibits(&manifest(), &[], &texts, Lang::Fr);
        assert_eq!(fr[0].title, "Témoignage de W-7");
        assert_eq!(fr[0].recorder.role.as_deref(), Some("enquêteur"));
        assert_eq!(strip(&fr[0].versions[0].text), shown("نص"));
        // A text the bundle does not carry is said to be absent.
        let none = exhibits(&manifest(), &[], &|_| None, Lang::En);
        assert_eq!(none[0].versions[0].text, Some(TextView::NotInBundle));
    }

    #[test]
    fn the_chain_of_custody_follows_countersigned_hand_overs_only() {
        let v = exhibits(&manifest(), &[], &texts, Lang::En);
        let media = &v[1];
        assert_eq!(
            media.media.as_ref().unwrap().file.as_deref(),
            Some("media/clip.mp4")
        );
        let rows: Vec<(Option<&str>, u64, Option<u64>)> = media
            .custody
            .iter()
            .map(|h| (h.holder.name.as_deref(), h.from_ms, h.until_ms))
            .collect();
        assert_eq!(
            rows,
            [
                (Some("Alice"), 6_000, Some(8_000)),
                (Some("Bob"), 8_000, None),
                (Some("Carol"), 9_000, None),
                (None, 10_000, Some(11_000)),
            ]
        );
        assert!(matches!(media.custody[0].how, How::Recorded { seq: 6 }));
        let transfer = |i: usize| match &media.custody[i].how {
            How::Transfer {
                transfer,
                giver,
                outcome,
                ..
            } => (*transfer, giver.name.clone(), *outcome),
            How::Recorded { .. } => panic!("row {i} is no hand-over"),
        };
        assert_eq!(transfer(1), (7, Some("Alice".into()), Outcome::Accepted(8)));
        assert_eq!(transfer(2), (9, Some("Bob".into()), Outcome::Pending));
        assert_eq!(
            transfer(3),
            (10, Some("Bob".into()), Outcome::Withdrawn(11))
        );
        // The unnamed key is known by its ID and fingerprint, computed from the key itself.
        assert_eq!(
            media.custody[3].holder.key_id,
            crate::keys::short_id(&[4; 32])
        );
    }

    #[test]
    fn directions_follow_the_language() {
        for rtl in [
            "ar", "AR", "ar-SY", "fa", "ckb", "ku", "ku-Arab", "ur", "he", "ps", "sd-Arab",
        ] {
            assert_eq!(direction(rtl), Dir::Rtl, "{rtl}");
        }
        for ltr in [
            "en", "fr", "ku-Latn", "kmr", "sw", "tr", "az-Cyrl", "uz-Latn",
        ] {
            assert_eq!(direction(ltr), Dir::Ltr, "{ltr}");
        }
        assert_eq!(direction("xx"), Dir::Auto);
        assert_eq!(direction(""), Dir::Auto);
        assert_eq!(lang_attr("ar-SY").as_deref(), Some("ar-SY"));
        assert_eq!(lang_attr("ar\" onload=\"x"), None);
        assert_eq!(lang_attr(""), None);
    }
}
