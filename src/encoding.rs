//! Canonical bytes: the small, strict codec behind everything that is signed or hashed.
//!
//! Signed evidence must have exactly one byte form, so no serde format decides it. Integers
//! are fixed-width big-endian, byte strings are u32-length-prefixed, optional values carry an
//! explicit 0/1 tag. The reader bounds every length before allocating, rejects unknown tags
//! and refuses trailing bytes, so that decoding then re-encoding gives the identical bytes.

use thiserror::Error;

/// Why a byte string is not a canonical encoding.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum DecodeError {
    /// The input ended before a field was complete.
    #[error("truncated: {field} needs {needed} more byte(s), {left} left")]
    Truncated {
        /// The field being read.
        field: &'static str,
        /// Bytes the field needs.
        needed: usize,
        /// Bytes that were left.
        left: usize,
    },
    /// Bytes remained after the last field.
    #[error("{count} trailing byte(s) after the last field")]
    TrailingBytes {
        /// How many.
        count: usize,
    },
    /// A length prefix is larger than the field allows.
    #[error("{field} is {len} bytes long, more than the {max} allowed")]
    TooLong {
        /// The field.
        field: &'static str,
        /// Its declared length.
        len: usize,
        /// The bound.
        max: usize,
    },
    /// A tag byte has no meaning in this version.
    #[error("unknown {field} tag {tag}")]
    UnknownTag {
        /// The field.
        field: &'static str,
        /// The tag found.
        tag: u8,
    },
    /// A version byte this build does not understand.
    #[error(
        "unsupported {what} format version {found} (this build reads version {supported}); upgrade custody"
    )]
    UnsupportedVersion {
        /// What carries the version.
        what: &'static str,
        /// Version found.
        found: u8,
        /// Version supported.
        supported: u8,
    },
    /// A text field is not acceptable text.
    #[error("{field}: {reason}")]
    BadText {
        /// The field.
        field: &'static str,
        /// Why.
        reason: String,
    },
    /// A field value is out of its allowed range.
    #[error("{field}: {reason}")]
    BadValue {
        /// The field.
        field: &'static str,
        /// Why.
        reason: String,
    },
    /// Another error, at a byte offset of the bytes being decoded (a record's offsets
    /// count from the record's first byte, also inside its statement).
    #[error("{error} (at byte {offset} of the record)")]
    At {
        /// Where the field that failed begins.
        offset: usize,
        /// What is wrong there.
        error: Box<DecodeError>,
    },
}

impl DecodeError {
    /// This error at `offset`; an error that already names its offset keeps it.
    pub fn at(self, offset: usize) -> Self {
        match self {
            DecodeError::At { .. } => self,
            e => DecodeError::At {
                offset,
                error: Box::new(e),
            },
        }
    }

    /// What is wrong, without where.
    pub fn kind(&self) -> &DecodeError {
        match self {
            DecodeError::At { error, .. } => error.kind(),
            e => e,
        }
    }

    /// Where it is wrong, when known.
    pub fn offset(&self) -> Option<usize> {
        match self {
            DecodeError::At { offset, .. } => Some(*offset),
            _ => None,
        }
    }
}

/// Appends canonical fields to a byte vector.
#[derive(Default)]
pub struct Writer {
    buf: Vec<u8>,
}

impl Writer {
    /// An empty writer.
    pub fn new() -> Self {
        Self::default()
    }
    /// One byte.
    pub fn u8(&mut self, v: u8) -> &mut Self {
        self.buf.push(v);
        self
    }
    /// A big-endian u64.
    pub fn u64(&mut self, v: u64) -> &mut Self {
        self.buf.extend_from_slice(&v.to_be_bytes());
        self
    }
    /// Fixed-width bytes, no prefix.
    pub fn fixed(&mut self, v: &[u8]) -> &mut Self {
        self.buf.extend_from_slice(v);
        self
    }
    /// u32 length prefix then the bytes. Callers bound lengths before encoding, so the
    /// conversion cannot fail for any value this crate writes.
    pub fn bytes(&mut self, v: &[u8]) -> &mut Self {
        let len = u32::try_from(v.len()).unwrap_or(u32::MAX);
        self.buf.extend_from_slice(&len.to_be_bytes());
        self.buf.extend_from_slice(v);
        self
    }
    /// A length-prefixed UTF-8 string.
    pub fn text(&mut self, v: &str) -> &mut Self {
        self.bytes(v.as_bytes())
    }
    /// A 0/1 presence tag, then the string when present.
    pub fn opt_text(&mut self, v: Option<&str>) -> &mut Self {
        match v {
            None => self.u8(0),
            Some(s) => self.u8(1).text(s),
        }
    }
    /// The bytes written.
    pub fn finish(self) -> Vec<u8> {
        self.buf
    }
}

/// Reads canonical fields from a byte slice, strictly.
pub struct Reader<'a> {
    buf: &'a [u8],
    /// Offset of `buf`'s first byte in the bytes being decoded.
    pos: usize,
    /// Where the field read last (or being read) begins.
    mark: usize,
}

impl<'a> Reader<'a> {
    /// A reader over `buf`.
    pub fn new(buf: &'a [u8]) -> Self {
        Self::at(buf, 0)
    }

    /// A reader over `buf`, which begins at byte `offset` of a larger encoding.
    pub fn at(buf: &'a [u8], offset: usize) -> Self {
        Self {
            buf,
            pos: offset,
            mark: offset,
        }
    }

    /// Where the field read last, or the one that failed, begins: the offset an error
    /// names.
    pub fn mark(&self) -> usize {
        self.mark
    }

    /// The offset of the next unread byte.
    pub fn position(&self) -> usize {
        self.pos
    }

    fn take(&mut self, n: usize, field: &'static str) -> Result<&'a [u8], DecodeError> {
        self.mark = self.pos;
        if self.buf.len() < n {
            return Err(DecodeError::Truncated {
                field,
                needed: n - self.buf.len(),
                left: self.buf.len(),
            });
        }
        let (head, rest) = self.buf.split_at(n);
        self.buf = rest;
        self.pos += n;
        Ok(head)
    }

    /// One byte.
    pub fn u8(&mut self, field: &'static str) -> Result<u8, DecodeError> {
        Ok(self.take(1, field)?[0])
    }
    /// A big-endian u64.
    pub fn u64(&mut self, field: &'static str) -> Result<u64, DecodeError> {
        let b = self.take(8, field)?;
        let mut a = [0u8; 8];
        a.copy_from_slice(b);
        Ok(u64::from_be_bytes(a))
    }
    /// Exactly N bytes.
    pub fn array<const N: usize>(&mut self, field: &'static str) -> Result<[u8; N], DecodeError> {
        let b = self.take(N, field)?;
        let mut a = [0u8; N];
        a.copy_from_slice(b);
        Ok(a)
    }
    /// A u32-length-prefixed byte string of at most `max` bytes; the bound is checked
    /// before anything is allocated.
    pub fn bytes(&mut self, field: &'static str, max: usize) -> Result<&'a [u8], DecodeError> {
        let len = self.take(4, field)?;
        let len = u32::from_be_bytes([len[0], len[1], len[2], len[3]]) as usize;
        // An oversized length is the length prefix's fault.
        if len > max {
            return Err(DecodeError::TooLong { field, len, max });
        }
        self.take(len, field)
    }
    /// A length-prefixed string that passes [`check_text`].
    pub fn text(&mut self, field: &'static str, max: usize) -> Result<String, DecodeError> {
        let b = self.bytes(field, max)?;
        let s = std::str::from_utf8(b).map_err(|e| DecodeError::BadText {
            field,
            reason: format!("not valid UTF-8 ({e})"),
        })?;
        check_text(field, s, max)?;
        Ok(s.to_owned())
    }
    /// A 0/1 tag then, for 1, a text field.
    pub fn opt_text(
        &mut self,
        field: &'static str,
        max: usize,
    ) -> Result<Option<String>, DecodeError> {
        match self.u8(field)? {
            0 => Ok(None),
            1 => Ok(Some(self.text(field, max)?)),
            tag => Err(DecodeError::UnknownTag { field, tag }),
        }
    }
    /// Succeeds only when every byte has been read.
    pub fn finish(&mut self) -> Result<(), DecodeError> {
        self.mark = self.pos;
        if self.buf.is_empty() {
            Ok(())
        } else {
            Err(DecodeError::TrailingBytes {
                count: self.buf.len(),
            })
        }
    }
}

/// The rule every short text field (names, pseudonyms, languages, descriptions) obeys, on
/// encode and decode alike: non-empty, at most `max` bytes, and free of control characters
/// and of the bidirectional overrides that make a name display as something it is not.
pub fn check_text(field: &'static str, s: &str, max: usize) -> Result<(), DecodeError> {
    if s.is_empty() {
        return Err(DecodeError::BadText {
            field,
            reason: "is empty".into(),
        });
    }
    if s.len() > max {
        return Err(DecodeError::TooLong {
            field,
            len: s.len(),
            max,
        });
    }
    if let Some(c) = s.chars().find(|c| is_forbidden_char(*c)) {
        return Err(DecodeError::BadText {
            field,
            reason: format!(
                "contains the control or bidirectional-override character U+{:04X}; remove it",
                c as u32
            ),
        });
    }
    Ok(())
}

fn is_forbidden_char(c: char) -> bool {
    c.is_control()
        || matches!(c as u32, 0x200E | 0x200F | 0x202A..=0x202E | 0x2066..=0x2069 | 0x061C)
}

/// A string from outside (a file or member name, a manifest field, an error about them)
/// made safe to print on a terminal: every control and bidirectional-control character is
/// shown as `\u{XXXX}`, so that no name can move the cursor, clear the screen or reorder
/// what follows (a member name that prints a green "OK" of its own). Newlines are kept
/// where `keep_newlines` is set, for multi-line messages.
pub fn terminal_safe(s: &str, keep_newlines: bool) -> std::borrow::Cow<'_, str> {
    let unsafe_char = |c: char| is_forbidden_char(c) && !(keep_newlines && c == '\n');
    if !s.chars().any(unsafe_char) {
        return std::borrow::Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() + 16);
    for c in s.chars() {
        if unsafe_char(c) {
            out.push_str(&format!("\\u{{{:04x}}}", c as u32));
        } else {
            out.push(c);
        }
    }
    std::borrow::Cow::Owned(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_fields() {
        let mut w = Writer::new();
        w.u8(7)
            .u64(42)
            .fixed(&[1, 2, 3])
            .text("héllo")
            .opt_text(None)
            .opt_text(Some("x"));
        let bytes = w.finish();
        let mut r = Reader::new(&bytes);
        assert_eq!(r.u8("a").unwrap(), 7);
        assert_eq!(r.u64("b").unwrap(), 42);
        assert_eq!(r.array::<3>("c").unwrap(), [1, 2, 3]);
        assert_eq!(r.text("d", 100).unwrap(), "héllo");
        assert_eq!(r.opt_text("e", 100).unwrap(), None);
        assert_eq!(r.opt_text("f", 100).unwrap().as_deref(), Some("x"));
        r.finish().unwrap();
    }

    #[test]
    fn oversized_length_is_refused_before_allocation() {
        let bytes = [0xff, 0xff, 0xff, 0xff];
        let err = Reader::new(&bytes).bytes("body", 1024).unwrap_err();
        assert!(matches!(
            err,
            DecodeError::TooLong {
                len: 0xffff_ffff,
                ..
            }
        ));
    }

    #[test]
    fn trailing_bytes_are_refused() {
        let mut r = Reader::new(&[1, 2]);
        r.u8("a").unwrap();
        assert_eq!(r.finish(), Err(DecodeError::TrailingBytes { count: 1 }));
    }

    #[test]
    fn bidi_override_and_nul_are_refused() {
        assert!(check_text("name", "abc\u{202E}gpj.exe", 100).is_err());
        assert!(check_text("name", "a\0b", 100).is_err());
        assert!(check_text("name", "", 100).is_err());
        assert!(check_text("name", "Witness A-17", 100).is_ok());
    }

    #[test]
    fn unknown_option_tag_is_refused() {
        let err = Reader::new(&[2]).opt_text("x", 10).unwrap_err();
        assert_eq!(err, DecodeError::UnknownTag { field: "x", tag: 2 });
    }
}
