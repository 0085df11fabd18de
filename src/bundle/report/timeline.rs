//! The report's timeline: a vertical layout, one row per exhibit in the order they were
//! recorded, grouped under the day they were recorded on, so that labels never meet
//! however many exhibits there are (each has a row of its own) and the page prints as it
//! shows. Drawn as SVG, with no script.

use super::esc;

/// One exhibit on the timeline.
pub struct Point {
    /// Its record number.
    pub seq: u64,
    /// When it was recorded (unix ms).
    pub ms: u64,
    /// What comes first on its row: its time and number (the page's own words).
    pub prefix: String,
    /// Its label (data: escaped and isolated when drawn, cut when long).
    pub label: String,
    /// The day it was recorded on, in words (the group it belongs to).
    pub day: String,
}

/// A piece of text placed on the drawing: its baseline at (`x`, `y`).
#[derive(Debug, Clone, PartialEq)]
pub struct Text {
    pub x: f64,
    pub y: f64,
    /// Drawn first, as it is.
    pub prefix: String,
    /// Drawn after, isolated from the prefix's direction.
    pub text: String,
    /// A day's heading, or an exhibit's label.
    pub heading: bool,
}

/// Where everything goes.
#[derive(Debug, Clone, PartialEq)]
pub struct Layout {
    pub width: f64,
    pub height: f64,
    /// The dots of the exhibits, on the axis.
    pub dots: Vec<(f64, f64)>,
    pub texts: Vec<Text>,
}

const ROW: f64 = 20.0;
/// The gap between a row's prefix and its label.
const GAP: &str = "  ";
const HEADING: f64 = 28.0;
const AXIS_X: f64 = 24.0;
const LABEL_X: f64 = 40.0;
/// Font size of the labels, and an upper bound of a character's width at that size: one em
/// (the widest glyphs, a Georgia "W", a CJK character, are no wider).
pub const FONT: f64 = 12.0;
pub const CHAR_W: f64 = FONT;
/// The longest label drawn; longer ones are cut with an ellipsis.
const MAX_CHARS: usize = 56;

impl Text {
    /// The box the text may cover: from the baseline up by the font size (ascenders) and
    /// down by a third of it (descenders), as wide as its characters may be.
    pub fn bounds(&self) -> (f64, f64, f64, f64) {
        let chars = self.prefix.chars().count()
            + if self.prefix.is_empty() { 0 } else { GAP.len() }
            + self.text.chars().count();
        let w = chars as f64 * CHAR_W;
        (self.x, self.y - FONT, self.x + w, self.y + FONT / 3.0)
    }
}

/// Lays the points out, sorted by the time they were recorded (then by number).
pub fn layout(points: &[Point]) -> Layout {
    let mut order: Vec<&Point> = points.iter().collect();
    order.sort_by_key(|p| (p.ms, p.seq));
    let mut y = 8.0;
    let mut texts = Vec::new();
    let mut dots = Vec::new();
    let mut last_day: Option<&str> = None;
    for p in order {
        if last_day != Some(p.day.as_str()) {
            y += HEADING;
            texts.push(Text {
                x: 8.0,
                y,
                prefix: String::new(),
                text: cut(&p.day),
                heading: true,
            });
            last_day = Some(&p.day);
        }
        y += ROW;
        dots.push((AXIS_X, y - FONT / 3.0));
        texts.push(Text {
            x: LABEL_X,
            y,
            prefix: p.prefix.clone(),
            text: cut(&p.label),
            heading: false,
        });
    }
    let widest = texts.iter().map(|t| t.bounds().2).fold(0.0, f64::max);
    Layout {
        width: (widest + 16.0).max(320.0).ceil(),
        height: y + 12.0,
        dots,
        texts,
    }
}

fn cut(s: &str) -> String {
    if s.chars().count() <= MAX_CHARS {
        s.to_owned()
    } else {
        s.chars().take(MAX_CHARS - 1).chain(['…']).collect()
    }
}

/// The SVG of a layout (`label` names it for screen readers).
pub fn svg(l: &Layout, label: &str) -> String {
    use std::fmt::Write;
    let mut s = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" class=\"timeline\" width=\"{w}\" height=\"{h}\" viewBox=\"0 0 {w} {h}\" role=\"img\" aria-label=\"{}\">\n",
        esc(label),
        w = l.width,
        h = l.height
    );
    if let (Some(first), Some(last)) = (l.dots.first(), l.dots.last()) {
        let _ = writeln!(
            s,
            "<line x1=\"{AXIS_X}\" y1=\"{:.1}\" x2=\"{AXIS_X}\" y2=\"{:.1}\" stroke=\"#666\"/>",
            first.1 - ROW / 2.0,
            last.1 + ROW / 2.0
        );
    }
    for (x, y) in &l.dots {
        let _ = writeln!(
            s,
            "<circle cx=\"{x:.1}\" cy=\"{y:.1}\" r=\"4\" fill=\"#06c\"/>"
        );
    }
    for t in &l.texts {
        let prefix = if t.prefix.is_empty() {
            String::new()
        } else {
            format!("{}{GAP}", esc(&t.prefix))
        };
        let _ = writeln!(
            s,
            "<text x=\"{:.1}\" y=\"{:.1}\" font-size=\"{FONT}\" xml:space=\"preserve\"{}>{prefix}<tspan unicode-bidi=\"isolate\">{}</tspan></text>",
            t.x,
            t.y,
            if t.heading {
                " font-weight=\"bold\""
            } else {
                ""
            },
            esc(&t.text)
        );
    }
    s.push_str("</svg>\n");
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    fn points(n: u64, spread_ms: u64) -> Vec<Point> {
        (0..n)
            .map(|i| {
                let ms = 1_790_000_000_000 + (i * 7919 % n) * spread_ms;
                Point {
                    seq: 10 + i,
                    ms,
                    prefix: format!("{} #{}", &crate::record::rfc3339(ms)[11..16], 10 + i),
                    label: format!("Media file a rather long file name {i}.mp4 WWWWWWWWWWWWW"),
                    day: super::super::words::day(ms, super::super::words::Lang::En),
                }
            })
            .collect()
    }

    fn overlap(a: (f64, f64, f64, f64), b: (f64, f64, f64, f64)) -> bool {
        a.0 < b.2 && b.0 < a.2 && a.1 < b.3 && b.1 < a.3
    }

    /// No two labels meet, every label is inside the drawing, and the exhibits come in
    /// the order they were recorded: for 1, 7 and 100 exhibits, on one day or many.
    #[test]
    fn labels_never_overlap_and_stay_inside() {
        for (n, spread) in [
            (1, 0),
            (7, 0),
            (7, 3_600_000),
            (7, 86_400_000),
            (100, 60_000),
            (100, 86_400_000 / 3),
        ] {
            let p = points(n, spread);
            let l = layout(&p);
            let labels = l.texts.iter().filter(|t| !t.heading).count();
            assert_eq!(labels as u64, n);
            for (i, a) in l.texts.iter().enumerate() {
                let ba = a.bounds();
                assert!(ba.0 >= 0.0 && ba.1 >= 0.0, "{a:?}");
                assert!(
                    ba.2 <= l.width && ba.3 <= l.height,
                    "{a:?} outside {}x{}",
                    l.width,
                    l.height
                );
                for b in &l.texts[i + 1..] {
                    assert!(!overlap(ba, b.bounds()), "{n}/{spread}: {a:?} meets {b:?}");
                }
            }
            // In time order: each label's y below the one recorded before it.
            let mut by_time: Vec<&Point> = p.iter().collect();
            by_time.sort_by_key(|p| (p.ms, p.seq));
            let ys: Vec<f64> = by_time
                .iter()
                .map(|pt| {
                    l.texts
                        .iter()
                        .find(|t| !t.heading && t.prefix.ends_with(&format!(" #{}", pt.seq)))
                        .unwrap()
                        .y
                })
                .collect();
            assert!(ys.windows(2).all(|w| w[0] < w[1]), "{n}/{spread}");
            // One heading per day.
            let days: std::collections::BTreeSet<&str> = p.iter().map(|p| p.day.as_str()).collect();
            assert_eq!(l.texts.iter().filter(|t| t.heading).count(), days.len());
        }
    }

    #[test]
    fn the_time_comes_first_and_a_label_cannot_hide_it() {
        // A title that ends in a made-up time, padded to be cut: the row's real time is
        // drawn first, before any of it, and the title is isolated from it.
        let mut p = points(1, 0);
        p[0].label = format!("Testimony of W-9, 03:15 UTC{}", "\u{200B}".repeat(80));
        let s = svg(&layout(&p), "t");
        let row = s.lines().find(|l| l.contains("W-9")).unwrap();
        let real = &p[0].prefix;
        let at = row.find(real.as_str()).expect("the real time is drawn");
        assert!(at < row.find("03:15").unwrap(), "{row}");
        assert!(
            row.contains("<tspan unicode-bidi=\"isolate\">Testimony"),
            "{row}"
        );
    }

    #[test]
    fn long_labels_are_cut_and_markup_escaped() {
        let mut p = points(1, 0);
        p[0].label = format!("<script>{}", "x".repeat(500));
        let l = layout(&p);
        let s = svg(&l, "t");
        assert!(!s.contains("<script"));
        assert!(l.texts[1].text.chars().count() <= MAX_CHARS);
    }
}
