//! The headers of a range answer written the usual way, checked without the general parser.
//!
//! Servers write `Content-Range: bytes first-last/total` and `Content-Length: len` with no
//! blanks. The total and the length of a full range are the same for every range of a
//! download: they are spelled out once ([`Usual`]) and compared as one integer. The first and
//! last byte differ per range: each is read from one 16-byte window with a handful of integer
//! operations on all its digits at once ("SIMD within a register") instead of a loop with a
//! step per byte. Every range answer goes through this, so its instruction count is a good part
//! of the machine's cost per range.
//!
//! A value that is not of this shape (blanks, a `*` total, another range, a total or length
//! with leading zeros, numbers of more than 16 digits, fewer than 16 bytes from the start of
//! the second number to the end) does not match and is left to the parser, which decides; a
//! match means the parser would read the same numbers (a property test holds them to it).

use crate::{ByteRange, Plan};

/// Bytes read at once, hence digits read at most.
const WINDOW: usize = 16;

/// `b'0'` in every byte of a window.
const ZEROS: u128 = u128::from_le_bytes([b'0'; WINDOW]);

/// `KEEP[n]`: the first `n` bytes of a window.
const KEEP: [u128; WINDOW + 1] = {
    let mut keep = [0; WINDOW + 1];
    let mut n = 1;
    while n <= WINDOW {
        keep[n] = (keep[n - 1] << 8) | 0xff;
        n += 1;
    }
    keep
};

/// `SCALE[n]`: `10^(16 - n)`, what a number of `n` digits is multiplied by when read as 16.
const SCALE: [u64; WINDOW + 1] = {
    let mut scale = [1; WINDOW + 1];
    let mut n = WINDOW;
    while n > 0 {
        scale[n - 1] = scale[n] * 10;
        n -= 1;
    }
    scale
};

/// What the usual answers to the ranges of one download have in common.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Usual {
    /// The object's size.
    total: Text,
    /// The length of every range but maybe the last.
    chunk: u64,
    /// `chunk` spelled out.
    chunk_text: Text,
}

/// A number spelled out in a window, both ways round: its `len` ASCII digits in the first
/// `len` bytes of `first` and in the last `len` bytes of `last`, zero bytes elsewhere. `len`
/// is 0, matching nothing, for numbers of more than 16 digits.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
struct Text {
    first: u128,
    last: u128,
    len: usize,
}

impl Text {
    fn new(number: u64) -> Self {
        let spelled = number.to_string();
        let len = spelled.len();
        if len > WINDOW {
            return Text::default();
        }
        let (mut first, mut last) = ([0; WINDOW], [0; WINDOW]);
        first[..len].copy_from_slice(spelled.as_bytes());
        last[WINDOW - len..].copy_from_slice(spelled.as_bytes());
        Text { first: u128::from_le_bytes(first), last: u128::from_le_bytes(last), len }
    }
}

impl Usual {
    /// The common part of the answers for `plan`'s ranges.
    pub(crate) fn new(plan: &Plan) -> Self {
        Usual { total: Text::new(plan.size), chunk: plan.chunk, chunk_text: Text::new(plan.chunk) }
    }

    /// Whether `value` is `bytes {range.start}-{range.end - 1}/{total}` (leading zeros allowed
    /// in the first two numbers, as the parser allows them).
    #[inline]
    pub(crate) fn content_range(&self, value: &[u8], range: ByteRange) -> bool {
        const PREFIX: &[u8] = b"bytes ";
        let Some(last) = range.end.checked_sub(1) else { return false };
        let Some(first_window) = window(value, PREFIX.len()) else { return false };
        let (first_read, first_len) = digits(first_window);
        let last_at = PREFIX.len() + first_len + 1;
        let Some(last_window) = window(value, last_at) else { return false };
        let (last_read, last_len) = digits(last_window);
        let total_at = last_at + last_len + 1;
        let Some(total_window) = value.last_chunk::<WINDOW>() else { return false };
        let total_mask = !KEEP[WINDOW - self.total.len];
        // Non-short-circuiting `&`: the tests are independent, none waits for another.
        (value.len() == total_at + self.total.len)
            & (self.total.len > 0)
            & (first_len > 0)
            & (last_len > 0)
            & value.starts_with(PREFIX)
            & (value.get(last_at - 1) == Some(&b'-'))
            & (value.get(total_at - 1) == Some(&b'/'))
            & (range.start.checked_mul(SCALE[first_len]) == Some(first_read))
            & (last.checked_mul(SCALE[last_len]) == Some(last_read))
            & ((u128::from_le_bytes(*total_window) ^ self.total.last) & total_mask == 0)
    }

    /// Whether `value` is `len`.
    #[inline]
    pub(crate) fn content_length(&self, value: &[u8], len: u64) -> bool {
        if value.len() > WINDOW {
            return false;
        }
        let window = load(value);
        if len == self.chunk {
            return value.len() == self.chunk_text.len && self.chunk_text.len > 0 && window == self.chunk_text.first;
        }
        // The last range, shorter: read (leading zeros allowed, as the parser allows them).
        let (read, read_len) = digits(window);
        read_len == value.len() && read_len > 0 && len.checked_mul(SCALE[read_len]) == Some(read)
    }
}

/// The window of `value` starting at `at`, if it holds one.
#[inline]
fn window(value: &[u8], at: usize) -> Option<u128> {
    Some(u128::from_le_bytes(*value.get(at..)?.first_chunk::<WINDOW>()?))
}

/// The ASCII digits that start `window`: how many, and their number times `SCALE[how many]`
/// (the number they make when followed by zeros to sixteen digits).
#[inline]
fn digits(window: u128) -> (u64, usize) {
    let lanes = window ^ ZEROS;
    // A byte not a digit (≥ 10 once `^ ZEROS`) ends up with its top bit set: adding 0x76 to its
    // low seven bits sets it from 10 up and cannot carry out of the byte (0x7f + 0x76 < 0x100);
    // bytes ≥ 0x80 have it already.
    let low = lanes & u128::from_le_bytes([0x7f; WINDOW]);
    let not_digit = ((low + u128::from_le_bytes([0x76; WINDOW])) | lanes) & u128::from_le_bytes([0x80; WINDOW]);
    let len = not_digit.trailing_zeros() as usize / 8;
    let digits = lanes & KEEP[len];
    // Byte 0 holds the most significant digit: the low half holds the first eight.
    (eight(digits as u64) * 100_000_000 + eight((digits >> 64) as u64), len)
}

/// The number written by eight digit values (0..=9), byte 0 the most significant.
#[inline]
fn eight(lanes: u64) -> u64 {
    // Pairs, then fours, then all eight: a step's lanes hold at most 99, 9 999, 99 999 999,
    // so no product reaches into the next lane.
    let pairs = (lanes * 10 + (lanes >> 8)) & 0x00ff_00ff_00ff_00ff;
    let fours = (pairs * 100 + (pairs >> 16)) & 0x0000_ffff_0000_ffff;
    (fours * 10_000 + (fours >> 32)) & 0xffff_ffff
}

/// Up to 16 bytes as a little-endian `u128`, zeros above: two overlapping loads from each end
/// instead of a loop.
#[inline]
fn load(bytes: &[u8]) -> u128 {
    let len = bytes.len();
    if let (Some(low), Some(high)) = (bytes.first_chunk::<8>(), bytes.last_chunk::<8>()) {
        let (low, high) = (u64::from_le_bytes(*low), u64::from_le_bytes(*high));
        return u128::from(low) | (u128::from(high) << (8 * (len - 8)));
    }
    if let (Some(low), Some(high)) = (bytes.first_chunk::<4>(), bytes.last_chunk::<4>()) {
        let (low, high) = (u32::from_le_bytes(*low), u32::from_le_bytes(*high));
        return u128::from(u64::from(low) | (u64::from(high) << (8 * (len - 4))));
    }
    bytes.iter().rev().fold(0, |word, &byte| (word << 8) | u128::from(byte))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::range::{ContentRange, digits};

    fn range(start: u64, end: u64) -> ByteRange {
        ByteRange { start, end }
    }

    /// `value` checked as the answer for `range` of a `size`-byte object cut in ranges of
    /// `range.len()`.
    fn range_is(value: &[u8], range: ByteRange, size: u64) -> bool {
        Usual::new(&Plan::new(size, 0, None, range.len())).content_range(value, range)
    }

    /// `value` checked as the length of a full range and of a last, shorter one.
    fn length_is(value: &[u8], len: u64) -> bool {
        let full = Usual::new(&Plan::new(u64::MAX, 0, None, len)).content_length(value, len);
        let last = Usual::new(&Plan::new(u64::MAX, 0, None, len + 1)).content_length(value, len);
        assert!(!full || last, "{:?}", String::from_utf8_lossy(value));
        full
    }

    #[test]
    fn tables() {
        assert_eq!(KEEP[0], 0);
        assert_eq!(KEEP[2], 0xffff);
        assert_eq!(KEEP[WINDOW], u128::MAX);
        assert_eq!(SCALE[WINDOW], 1);
        assert_eq!(SCALE[10], 1_000_000);
        assert_eq!(SCALE[0], 10_000_000_000_000_000);
    }

    #[test]
    fn the_usual_spelling_matches() {
        for (start, end, size) in [
            (0, 8_388_608, 8_589_934_592),
            (8_388_608, 16_777_216, 8_589_934_592),
            (5, 6, 10_000_000_000_000),
            (1_234_567_890_123_456, 1_234_567_890_123_457, 9_999_999_999_999_999),
        ] {
            let value = format!("bytes {start}-{}/{size}", end - 1);
            assert!(range_is(value.as_bytes(), range(start, end), size), "{value}");
        }
        // Leading zeros in the first two numbers read the same numbers, as the parser reads them.
        assert!(range_is(b"bytes 0008388608-016777215/8589934592", range(8_388_608, 16_777_216), 8_589_934_592));
    }

    #[test]
    fn anything_else_is_left_to_the_parser() {
        let (r, size) = (range(8_388_608, 16_777_216), 8_589_934_592);
        for value in [
            "bytes 8388608-16777215/8589934593",
            "bytes 8388609-16777215/8589934592",
            "bytes 8388608-16777216/8589934592",
            "bytes 8388608-16777215/*",
            "bytes 8388608-16777215/08589934592",
            "bytes  8388608-16777215/858993459",
            "bytes 8388608 16777215/8589934592",
            "bytes 8388608-16777215 8589934592",
            "bytes 8388608-16777215/ 8589934592",
            "bytez 8388608-16777215/8589934592",
            "bytes 83886O8-16777215/8589934592",
            "bytes 8388608-16777215/",
            "bytes -16777215/8589934592xxxxxxxx",
            "bytes 8388608--16777215/8589934592",
            "",
        ] {
            assert!(!range_is(value.as_bytes(), r, size), "{value}");
        }
        assert!(!range_is(b"bytes -99/100000000000000000000", range(0, 100), 100_000_000_000_000));
        assert!(!range_is(b"bytes 0-/1000000000000000000000", range(0, 1), 1_000_000_000_000));
        // Short values, long numbers, empty ranges: not this path's business.
        assert!(!range_is(b"bytes 0-99/1000000000", range(0, 100), 1_000_000_000));
        let long = format!("bytes 0-9/{}", u64::MAX);
        assert!(!range_is(long.as_bytes(), range(0, 10), u64::MAX));
        let long = format!("bytes {}-{}/{}", u64::MAX - 2, u64::MAX - 2, u64::MAX);
        assert!(!range_is(long.as_bytes(), range(u64::MAX - 2, u64::MAX - 1), u64::MAX));
        assert!(!range_is(b"bytes 0-0/10000000000000", range(0, 0), 10_000_000_000_000));
    }

    #[test]
    fn every_byte_in_every_place() {
        let (r, size) = (range(8_388_608, 16_777_216), 8_589_934_592);
        let good = *b"bytes 8388608-16777215/8589934592";
        for at in 0..good.len() {
            for byte in 0..=u8::MAX {
                let mut value = good;
                value[at] = byte;
                assert_eq!(range_is(&value, r, size), value == good, "{byte:#x} at {at}");
            }
        }
    }

    #[test]
    fn content_lengths() {
        for len in [1, 9, 10, 8_388_608, 99_999_999, 100_000_000, 9_999_999_999_999_999] {
            assert!(length_is(len.to_string().as_bytes(), len), "{len}");
            assert!(!length_is(len.to_string().as_bytes(), len + 1), "{len}");
            assert!(!length_is(format!("{len} ").as_bytes(), len), "{len}");
            assert!(!length_is(format!("+{len}").as_bytes(), len), "{len}");
        }
        assert!(!length_is(b"08388608", 8_388_608));
        assert!(!length_is(b"", 0));
        assert!(!length_is(b"10000000000000000", 10_000_000_000_000_000));
        let good = *b"8388608";
        for at in 0..good.len() {
            for byte in 0..=u8::MAX {
                let mut value = good;
                value[at] = byte;
                assert_eq!(length_is(&value, 8_388_608), value == good, "{byte:#x} at {at}");
            }
        }
    }

    proptest::proptest! {
        /// Whatever the quick comparison accepts, the parser reads as the same numbers; and
        /// the usual spelling of large enough numbers is accepted.
        #[test]
        fn agrees_with_the_parser(
            start in proptest::prop_oneof![0u64..100_000, 0u64..1 << 52],
            len in proptest::prop_oneof![1u64..100_000, 1u64..1 << 40],
            extra in proptest::prop_oneof![0u64..100_000, 0u64..1 << 52],
            edits in proptest::collection::vec((proptest::prelude::any::<proptest::sample::Index>(), 0u8..4, proptest::prelude::any::<u8>()), 0..4),
        ) {
            let r = range(start, start + len);
            let size = r.end + extra;
            let usual = Usual::new(&Plan::new(size, 0, None, len));
            let canonical = format!("bytes {}-{}/{size}", r.start, r.end - 1).into_bytes();
            // Read from 16-byte windows: the last byte's number needs 16 bytes from its start.
            let last_at = canonical.iter().position(|&byte| byte == b'-').unwrap_or_default() + 1;
            proptest::prop_assert_eq!(usual.content_range(&canonical, r), canonical.len() >= last_at + WINDOW);
            proptest::prop_assert!(usual.content_length(len.to_string().as_bytes(), len));
            let mut value = canonical.clone();
            let mut length = len.to_string().into_bytes();
            for (at, what, byte) in edits {
                for text in [&mut value, &mut length] {
                    let i = at.index(text.len() + 1);
                    match what {
                        0 => text.insert(i, byte),
                        1 if i < text.len() => { text.remove(i); }
                        2 if i < text.len() => text[i] = byte,
                        _ => text.insert(i, b'0' + byte % 10),
                    }
                }
            }
            if usual.content_range(&value, r) {
                let parsed = ContentRange::parse(&value);
                proptest::prop_assert_eq!(parsed, Some(ContentRange { range: r, total: Some(size) }));
            }
            if usual.content_length(&length, len) {
                proptest::prop_assert_eq!(digits(&length), Some(len));
            }
        }
    }

    #[test]
    fn loads_any_short_slice() {
        let bytes: Vec<u8> = (1..=16).collect();
        for len in 0..=16 {
            let expected = bytes[..len].iter().rev().fold(0u128, |w, &b| (w << 8) | u128::from(b));
            assert_eq!(load(&bytes[..len]), expected, "{len}");
        }
    }
}
