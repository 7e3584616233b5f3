//! Byte ranges, the plan that cuts a download into them, and `Content-Range` parsing.

use std::fmt;

/// The bytes `start..end` of the object (`end` exclusive); never empty when it names a range
/// of a [`Plan`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct ByteRange {
    /// The first byte.
    pub start: u64,
    /// One past the last byte.
    pub end: u64,
}

impl ByteRange {
    /// The number of bytes.
    pub const fn len(&self) -> u64 {
        self.end.saturating_sub(self.start)
    }

    /// Whether the range holds no byte.
    pub const fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The `Range` header value asking for it: `bytes=start-(end-1)`.
    pub fn header_value(&self) -> String {
        format!("bytes={}-{}", self.start, self.end.saturating_sub(1))
    }
}

impl fmt::Display for ByteRange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "[{}, {})", self.start, self.end)
    }
}

/// How a download is cut: `[start, end)` of an object of `size` bytes, in ranges of `chunk`
/// bytes (the last may be shorter).
///
/// Invariants: `start <= end <= size`, `chunk >= 1`; `ranges()` ranges cover `[start, end)`
/// exactly, in order, without overlap.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Plan {
    /// The object's size.
    pub size: u64,
    /// The first byte fetched.
    pub start: u64,
    /// One past the last byte fetched.
    pub end: u64,
    /// The range size.
    pub chunk: u64,
}

impl Plan {
    /// The plan for `[offset, end)` of a `size`-byte object, clamped to the object: an offset
    /// at or past the size (or past `end`) gives an empty plan, not an error.
    pub fn new(size: u64, offset: u64, end: Option<u64>, chunk: u64) -> Self {
        let end = end.map_or(size, |end| end.min(size));
        let start = offset.min(end);
        Plan { size, start, end, chunk: chunk.max(1) }
    }

    /// The number of bytes fetched.
    pub const fn len(&self) -> u64 {
        self.end - self.start
    }

    /// Whether nothing is fetched.
    pub const fn is_empty(&self) -> bool {
        self.end == self.start
    }

    /// The number of ranges.
    pub const fn ranges(&self) -> u64 {
        self.len().div_ceil(self.chunk)
    }

    /// Range `index` (0-based); `None` past the last.
    pub fn range(&self, index: u64) -> Option<ByteRange> {
        let start = index.checked_mul(self.chunk)?.checked_add(self.start)?;
        (start < self.end).then(|| ByteRange { start, end: start.saturating_add(self.chunk).min(self.end) })
    }
}

/// A parsed `Content-Range: bytes first-last/total` (`total` is `None` for `*`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct ContentRange {
    pub(crate) range: ByteRange,
    pub(crate) total: Option<u64>,
}

impl ContentRange {
    /// Parses a satisfied-range value, `bytes first-last/total` (`total` may be `*`); anything
    /// else (`bytes */total`, garbage, `last < first`, numbers past `u64`) is `None`. Blanks
    /// (spaces, tabs) are allowed around each part. One pass over the bytes.
    pub(crate) fn parse(value: &[u8]) -> Option<Self> {
        let mut cursor = Cursor { rest: value };
        cursor.blanks();
        cursor.eat_word(b"bytes")?;
        cursor.blanks();
        let first = cursor.number()?;
        cursor.blanks();
        cursor.eat(b'-')?;
        cursor.blanks();
        let last = cursor.number()?;
        cursor.blanks();
        cursor.eat(b'/')?;
        cursor.blanks();
        let total = match cursor.eat(b'*') {
            Some(()) => None,
            None => Some(cursor.number()?),
        };
        cursor.blanks();
        if !cursor.at_end() || last < first {
            return None;
        }
        Some(ContentRange { range: ByteRange { start: first, end: last.checked_add(1)? }, total })
    }
}

/// The total of an unsatisfied-range value, `bytes */total` (blanks allowed around each part);
/// `None` for anything else.
pub(crate) fn unsatisfied_total(value: &[u8]) -> Option<u64> {
    let mut cursor = Cursor { rest: value };
    cursor.blanks();
    cursor.eat_word(b"bytes")?;
    cursor.blanks();
    cursor.eat(b'*')?;
    cursor.blanks();
    cursor.eat(b'/')?;
    cursor.blanks();
    let total = cursor.number()?;
    cursor.blanks();
    cursor.at_end().then_some(total)
}

/// A non-empty run of ASCII digits (no sign, no blanks inside; blanks around allowed) as a
/// `u64`; `None` past `u64::MAX`.
pub(crate) fn digits(text: &[u8]) -> Option<u64> {
    let mut cursor = Cursor { rest: text };
    cursor.blanks();
    let number = cursor.number()?;
    cursor.blanks();
    cursor.at_end().then_some(number)
}

/// What is left of a header value being parsed.
struct Cursor<'a> {
    rest: &'a [u8],
}

impl Cursor<'_> {
    fn at_end(&self) -> bool {
        self.rest.is_empty()
    }

    /// Skips spaces and tabs (the only blanks a header value can hold).
    fn blanks(&mut self) {
        while let [b' ' | b'\t', tail @ ..] = self.rest {
            self.rest = tail;
        }
    }

    fn eat(&mut self, byte: u8) -> Option<()> {
        let (&first, tail) = self.rest.split_first()?;
        (first == byte).then(|| self.rest = tail)
    }

    fn eat_word(&mut self, word: &[u8]) -> Option<()> {
        self.rest = self.rest.strip_prefix(word)?;
        Some(())
    }

    /// One or more ASCII digits as a `u64`; `None` when there is none or it overflows.
    ///
    /// One pass without overflow checks: up to 19 digits cannot overflow (10¹⁹ − 1 <
    /// `u64::MAX`), so only a longer run is folded again, with checked arithmetic.
    fn number(&mut self) -> Option<u64> {
        let mut number: u64 = 0;
        let mut len = 0;
        for &byte in self.rest {
            let digit = byte.wrapping_sub(b'0');
            if digit > 9 {
                break;
            }
            number = number.wrapping_mul(10).wrapping_add(u64::from(digit));
            len += 1;
        }
        let (run, tail) = self.rest.split_at(len);
        self.rest = tail;
        match len {
            0 => None,
            1..=19 => Some(number),
            _ => run.iter().try_fold(0u64, |number, byte| number.checked_mul(10)?.checked_add(u64::from(byte - b'0'))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plan_covers_the_span_exactly() {
        let plan = Plan::new(10, 1, None, 4);
        let ranges: Vec<_> = (0..plan.ranges()).filter_map(|i| plan.range(i)).collect();
        assert_eq!(
            ranges,
            [ByteRange { start: 1, end: 5 }, ByteRange { start: 5, end: 9 }, ByteRange { start: 9, end: 10 }]
        );
        assert_eq!(plan.range(3), None);
    }

    #[test]
    fn plan_clamps() {
        assert!(Plan::new(10, 10, None, 4).is_empty());
        assert!(Plan::new(10, 99, None, 4).is_empty());
        assert!(Plan::new(10, 5, Some(3), 4).is_empty());
        assert_eq!(Plan::new(10, 2, Some(99), 4).end, 10);
        assert_eq!(Plan::new(0, 0, None, 4).ranges(), 0);
        let huge = Plan::new(u64::MAX, 0, None, 1);
        assert_eq!(huge.ranges(), u64::MAX);
        assert_eq!(huge.range(u64::MAX - 1), Some(ByteRange { start: u64::MAX - 1, end: u64::MAX }));
    }

    #[test]
    fn digits_parsing() {
        assert_eq!(digits(b" 42\t"), Some(42));
        assert_eq!(digits(b"18446744073709551615"), Some(u64::MAX));
        for bad in [&b""[..], b" ", b"+1", b"-1", b"1 2", b"18446744073709551616", b"0x10", b"1.0"] {
            assert_eq!(digits(bad), None, "{:?}", String::from_utf8_lossy(bad));
        }
    }

    #[test]
    fn unsatisfied_range_parsing() {
        assert_eq!(unsatisfied_total(b"bytes */1000"), Some(1000));
        assert_eq!(unsatisfied_total(b" bytes * / 0 "), Some(0));
        for bad in [&b"bytes 0-1/2"[..], b"bytes */", b"bytes */x", b"*/5", b"bytes */5 6", b""] {
            assert_eq!(unsatisfied_total(bad), None, "{:?}", String::from_utf8_lossy(bad));
        }
    }

    #[test]
    fn content_range_parsing() {
        let parsed = ContentRange::parse(b"bytes 0-99/1000").unwrap();
        assert_eq!(parsed, ContentRange { range: ByteRange { start: 0, end: 100 }, total: Some(1000) });
        assert_eq!(ContentRange::parse(b"bytes 5-5/*").unwrap().total, None);
        assert_eq!(ContentRange::parse(b" bytes\t1 - 2 / 3 ").unwrap().range, ByteRange { start: 1, end: 3 });
        assert_eq!(ContentRange::parse(b"bytes1-2/3").unwrap().total, Some(3));
        for bad in [
            &b"bytes */1000"[..],
            b"bytes 9-3/10",
            b"items 0-1/2",
            b"bytes -1-3/4",
            b"bytes 0-18446744073709551615/1",
            b"bytes 0-1/2/3",
            b"bytes 0-1/2 x",
            b"bytes 0 1-2/3",
            b"bytes 0-1/",
            b"bytes 0-1/99999999999999999999",
            b"bytes +0-1/2",
            b"",
        ] {
            assert_eq!(ContentRange::parse(bad), None, "{:?}", String::from_utf8_lossy(bad));
        }
    }
}
