//! The textual forms of digests in headers: hex, base64, and S3's `-<parts>` suffix.

use base64::Engine as _;

use crate::digest::{Algorithm, Digest};

/// The digest written as exactly `2 * algorithm.digest_len()` hex digits (either case), big-endian.
pub(crate) fn hex(algorithm: Algorithm, s: &str) -> Option<Digest> {
    let s = s.as_bytes();
    if s.len() != 2 * algorithm.digest_len() {
        return None;
    }
    let mut bytes = [0u8; 16];
    for (byte, pair) in bytes.iter_mut().zip(s.chunks_exact(2)) {
        *byte = nibble(pair[0])? << 4 | nibble(pair[1])?;
    }
    Digest::from_be_bytes(algorithm, &bytes[..algorithm.digest_len()])
}

fn nibble(c: u8) -> Option<u8> {
    match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        b'A'..=b'F' => Some(c - b'A' + 10),
        _ => None,
    }
}

/// The digest written as standard, padded base64 of its big-endian bytes.
pub(crate) fn base64(algorithm: Algorithm, s: &str) -> Option<Digest> {
    // The exact length first, so hostile input is never decoded at length.
    if s.len() != algorithm.digest_len().div_ceil(3) * 4 {
        return None;
    }
    let mut bytes = [0u8; 18];
    let n = base64::engine::general_purpose::STANDARD.decode_slice(s, &mut bytes).ok()?;
    Digest::from_be_bytes(algorithm, &bytes[..n])
}

/// The part count of S3's multipart forms, `<value>-<parts>` (a multipart ETag's inside, a
/// composite checksum): a non-empty value, a dash, and decimal digits.
pub(crate) fn part_count_suffix(s: &str) -> Option<u32> {
    let (value, parts) = s.rsplit_once('-')?;
    if value.is_empty() || parts.is_empty() || !parts.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    parts.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_takes_either_case_and_exact_length_only() {
        assert_eq!(hex(Algorithm::Crc32c, "E3069283"), Some(Digest::Crc32c(0xe306_9283)));
        assert_eq!(hex(Algorithm::Crc32c, "e3069283"), Some(Digest::Crc32c(0xe306_9283)));
        assert_eq!(hex(Algorithm::Crc32c, "e306928"), None);
        assert_eq!(hex(Algorithm::Crc32c, "e30692830"), None);
        assert_eq!(hex(Algorithm::Crc32c, "e306928g"), None);
        assert_eq!(hex(Algorithm::Crc32c, "+3069283"), None);
        assert_eq!(hex(Algorithm::Crc32c, ""), None);
        // Multi-byte characters never pass for digits, whatever their byte count.
        assert_eq!(hex(Algorithm::Crc32c, "é306928"), None);
    }

    #[test]
    fn base64_is_standard_padded_and_exact() {
        assert_eq!(base64(Algorithm::Crc32c, "4waSgw=="), Some(Digest::Crc32c(0xe306_9283)));
        assert_eq!(base64(Algorithm::Crc32c, "4waSgw"), None, "padding is required");
        assert_eq!(base64(Algorithm::Crc32c, "4waSgw=a"), None);
        assert_eq!(base64(Algorithm::Crc32c, "4waSg-=="), None, "url-safe alphabet");
        assert_eq!(base64(Algorithm::Crc32c, "4waSgwAA"), None, "six bytes, not four");
        assert_eq!(
            base64(Algorithm::Md5, "XUFAKrxLKna5cZ2REBfFkg=="),
            hex(Algorithm::Md5, "5d41402abc4b2a76b9719d911017c592")
        );
        // Non-canonical trailing bits (`…gx==` decodes to the same bytes as `…gw==` leniently).
        assert_eq!(base64(Algorithm::Crc32c, "4waSgx=="), None);
    }

    #[test]
    fn part_count_suffix_needs_a_value_and_digits() {
        assert_eq!(part_count_suffix("abc-3"), Some(3));
        assert_eq!(part_count_suffix("d41d8cd98f00b204e9800998ecf8427e-10000"), Some(10000));
        assert_eq!(part_count_suffix("-3"), None);
        assert_eq!(part_count_suffix("abc-"), None);
        assert_eq!(part_count_suffix("abc-+3"), None);
        assert_eq!(part_count_suffix("abc-3x"), None);
        assert_eq!(part_count_suffix("abc"), None);
        assert_eq!(part_count_suffix("abc-99999999999"), None, "beyond u32");
    }
}
