//! The `Range` request header (RFC 9110 §14), single byte ranges only.
//!
//! A header that is not one well-formed byte range (another unit, a syntax error, `a-b` with
//! `a > b`, several ranges) is *ignored* and the whole object is served with 200, as RFC 9110
//! §14.2 allows. A well-formed range that selects no byte of the object is unsatisfiable (416).

/// What a `Range` header selects of an object of a given size.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Selection {
    /// The whole object (no header, or one that is ignored).
    Whole,
    /// Bytes `start..=end`; `start <= end < size`.
    Partial { start: u64, end: u64 },
    /// A well-formed range that selects nothing.
    Unsatisfiable,
}

/// Resolves a `Range` header value against an object of `size` bytes.
pub(crate) fn select(header: Option<&http::HeaderValue>, size: u64) -> Selection {
    let Some(spec) = header.and_then(|h| h.to_str().ok()).and_then(byte_range_spec) else {
        return Selection::Whole;
    };
    let (start, end) = match spec {
        Spec::From { start, end } => {
            if start >= size {
                return Selection::Unsatisfiable;
            }
            (start, end.unwrap_or(u64::MAX).min(size - 1))
        }
        Spec::Suffix { len } => {
            if len == 0 || size == 0 {
                return Selection::Unsatisfiable;
            }
            (size.saturating_sub(len), size - 1)
        }
    };
    Selection::Partial { start, end }
}

/// One syntactically valid byte range.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Spec {
    /// `start-end` or `start-`; `start <= end`.
    From { start: u64, end: Option<u64> },
    /// `-len`: the last `len` bytes.
    Suffix { len: u64 },
}

/// Parses `bytes=<one range>`; `None` for anything else.
fn byte_range_spec(value: &str) -> Option<Spec> {
    let (unit, range) = value.trim().split_once('=')?;
    if !unit.trim().eq_ignore_ascii_case("bytes") || range.contains(',') {
        return None;
    }
    let (first, last) = range.trim().split_once('-')?;
    let number = |s: &str| -> Option<u64> {
        if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) { None } else { s.parse().ok() }
    };
    if first.is_empty() {
        return Some(Spec::Suffix { len: number(last)? });
    }
    let start = number(first)?;
    if last.is_empty() {
        return Some(Spec::From { start, end: None });
    }
    let end = number(last)?;
    (start <= end).then_some(Spec::From { start, end: Some(end) })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sel(h: &str, size: u64) -> Selection {
        select(Some(&http::HeaderValue::from_str(h).unwrap()), size)
    }

    #[test]
    fn satisfiable_forms() {
        assert_eq!(sel("bytes=0-9", 100), Selection::Partial { start: 0, end: 9 });
        assert_eq!(sel("bytes=90-200", 100), Selection::Partial { start: 90, end: 99 });
        assert_eq!(sel("bytes=10-", 100), Selection::Partial { start: 10, end: 99 });
        assert_eq!(sel("bytes=-10", 100), Selection::Partial { start: 90, end: 99 });
        assert_eq!(sel("bytes=-1000", 100), Selection::Partial { start: 0, end: 99 });
        assert_eq!(sel(" Bytes = 5-5 ", 100), Selection::Partial { start: 5, end: 5 });
    }

    #[test]
    fn unsatisfiable_forms() {
        assert_eq!(sel("bytes=100-", 100), Selection::Unsatisfiable);
        assert_eq!(sel("bytes=100-200", 100), Selection::Unsatisfiable);
        assert_eq!(sel("bytes=-0", 100), Selection::Unsatisfiable);
        assert_eq!(sel("bytes=-5", 0), Selection::Unsatisfiable);
        assert_eq!(sel("bytes=0-", 0), Selection::Unsatisfiable);
    }

    #[test]
    fn malformed_is_ignored() {
        for h in ["items=0-1", "bytes=", "bytes=-", "bytes=5-1", "bytes=a-b", "bytes=0-1,5-6", "bytes=+1-2", "0-1"] {
            assert_eq!(sel(h, 100), Selection::Whole, "{h}");
        }
        assert_eq!(select(None, 100), Selection::Whole);
    }
}
