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
    /// Received it by transfer `transfer` (signed by `giver`), countersigned in `accept`.
    HandedOver {
        transfer: u64,
        giver: Person,
        reason: String,
        accept: u64,
    },
    /// Named as receiver by transfer `transfer`, not yet countersigned.
    Pending {
        transfer: u64,
        giver: Person,
        reason: String,
    },
    /// Named as receiver by transfer `transfer`, withdrawn by record `cancel`.
    Withdrawn {
        transfer: u64,
        giver: Person,
        reason: String,
        cancel: u64,
    },
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
                    .filter(|c| !c.passed && c.name.starts_with(&format!("exhibit {} ", e.seq)))
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
    for t in transfers {
        let find = |kind: &str| {
            supporting
                .iter()
                .find(|s| s.kind == kind && u64_field(&s.body, "transfer") == Some(t.seq))
        };
        let to = people.of_key(t.body.get("to").and_then(|v| v.as_str()).unwrap_or(""));
        let giver = people.signer(t);
        let reason = text_field(&t.body, "reason").unwrap_or_default();
        if let Some(a) = find("accept") {
            rows[holder_row].until_ms = Some(a.recorded_at_ms);
            rows.push(Holding {
                holder: to,
                from_ms: a.recorded_at_ms,
                until_ms: None,
                how: How::HandedOver {
                    transfer: t.seq,
                    giver,
                    reason,
                    accept: a.seq,
                },
            });
            holder_row = rows.len() - 1;
        } else if let Some(c) = find("cancel") {
            rows.push(Holding {
                holder: to,
                from_ms: t.recorded_at_ms,
                until_ms: Some(c.recorded_at_ms),
                how: How::Withdrawn {
                    transfer: t.seq,
                    giver,
                    reason,
                    cancel: c.seq,
                },
            });
        } else {
            rows.push(Holding {
                holder: to,
                from_ms: t.recorded_at_ms,
                until_ms: None,
                how: How::Pending {
                    transfer: t.seq,
                    giver,
                    reason,
                },
            });
        }
    }
    rows
}

#[cfg(test)]
mod tests {
    use super::*;

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
