//! Keep's PUT wire format: header names, parsing the answer's replica headers, request ids.

use std::collections::BTreeMap;

use http::HeaderMap;
use stowage_proto::Jitter;

/// Request: the caller's total of wanted copies, on every PUT of every pass.
pub const DESIRED_REPLICAS: &str = "x-keep-desired-replicas";
/// Request: the storage classes still pending, sorted, joined with `", "`.
pub const STORAGE_CLASSES: &str = "x-keep-storage-classes";
/// Request: one id per write (`req-` and 20 of `[0-9a-z]`).
pub const REQUEST_ID: &str = "x-request-id";
/// Answer: how many replicas this PUT stored.
pub const REPLICAS_STORED: &str = "x-keep-replicas-stored";
/// Answer: replicas stored per storage class, `class=n, class=m`.
pub const CLASSES_CONFIRMED: &str = "x-keep-storage-classes-confirmed";

/// The replicas a 2xx answer stored: `X-Keep-Replicas-Stored`, or 1 when it is missing or
/// not a non-negative integer. 0 is a valid answer (nothing stored, go on).
pub fn replicas_stored(headers: &HeaderMap) -> u64 {
    headers.get(REPLICAS_STORED).and_then(|v| v.to_str().ok()).and_then(|v| v.trim().parse::<u64>().ok()).unwrap_or(1)
}

/// What a 2xx answer says about storage classes (`X-Keep-Storage-Classes-Confirmed`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ClassesConfirmed {
    /// The header is missing or malformed: the server does not report classes. The write
    /// stops tracking classes from then on and counts copies alone (as both SDKs do).
    NotReported,
    /// Replicas per class (empty when the header is present but empty: the server reports
    /// classes and confirmed none).
    Confirmed(BTreeMap<String, u64>),
}

/// Parses `X-Keep-Storage-Classes-Confirmed`: comma-separated `class=n` entries, blanks
/// around them ignored, empty entries skipped, a class named twice counted twice. Any entry
/// without `=`, with an empty class name or a count that is not a non-negative integer makes
/// the whole header malformed ([`ClassesConfirmed::NotReported`]).
pub fn classes_confirmed(headers: &HeaderMap) -> ClassesConfirmed {
    let Some(value) = headers.get(CLASSES_CONFIRMED).and_then(|v| v.to_str().ok()) else {
        return ClassesConfirmed::NotReported;
    };
    let mut confirmed = BTreeMap::new();
    for entry in value.split(',').map(str::trim).filter(|e| !e.is_empty()) {
        let Some((class, count)) = entry.split_once('=') else { return ClassesConfirmed::NotReported };
        let (class, count) = (class.trim(), count.trim());
        let Ok(count) = count.parse::<u64>() else { return ClassesConfirmed::NotReported };
        if class.is_empty() {
            return ClassesConfirmed::NotReported;
        }
        let total: &mut u64 = confirmed.entry(class.to_owned()).or_default();
        *total = total.saturating_add(count);
    }
    ClassesConfirmed::Confirmed(confirmed)
}

/// A fresh `X-Request-Id`: `req-` and 20 characters of `[0-9a-z]`, drawn from `jitter`.
pub fn request_id(jitter: &mut Jitter) -> String {
    const ALPHABET: &[u8; 36] = b"0123456789abcdefghijklmnopqrstuvwxyz";
    let mut id = String::with_capacity(24);
    id.push_str("req-");
    for _ in 0..20 {
        // 36 divides 2^64 unevenly by a bias of under 2^-58: irrelevant for an id.
        let digit = usize::try_from(jitter.next_u64() % 36).unwrap_or(0);
        id.push(char::from(ALPHABET[digit]));
    }
    id
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(name: &str, value: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(http::HeaderName::from_bytes(name.as_bytes()).unwrap(), value.parse().unwrap());
        h
    }

    #[test]
    fn replicas_default_to_one() {
        assert_eq!(replicas_stored(&HeaderMap::new()), 1);
        assert_eq!(replicas_stored(&headers(REPLICAS_STORED, "3")), 3);
        assert_eq!(replicas_stored(&headers(REPLICAS_STORED, " 0 ")), 0);
        for bad in ["", "-1", "two", "1.5", "99999999999999999999999"] {
            assert_eq!(replicas_stored(&headers(REPLICAS_STORED, bad)), 1, "{bad:?}");
        }
    }

    #[test]
    fn classes_parse() {
        let confirmed = |v| classes_confirmed(&headers(CLASSES_CONFIRMED, v));
        let map = |pairs: &[(&str, u64)]| {
            ClassesConfirmed::Confirmed(pairs.iter().map(|(c, n)| ((*c).to_owned(), *n)).collect())
        };
        assert_eq!(classes_confirmed(&HeaderMap::new()), ClassesConfirmed::NotReported);
        assert_eq!(confirmed(""), map(&[]));
        assert_eq!(confirmed("default=1, archive=2"), map(&[("archive", 2), ("default", 1)]));
        assert_eq!(confirmed("a=1,,a = 2 ,"), map(&[("a", 3)]));
        for bad in ["a", "=1", "a=x", "a=-1", "a=1,b"] {
            assert_eq!(confirmed(bad), ClassesConfirmed::NotReported, "{bad:?}");
        }
    }

    #[test]
    fn request_ids_look_like_arvados_ones() {
        let mut j = Jitter::from_seed(1);
        let id = request_id(&mut j);
        assert_eq!(id.len(), 24);
        assert!(id.starts_with("req-"));
        assert!(id[4..].bytes().all(|b| b.is_ascii_digit() || b.is_ascii_lowercase()));
        assert_ne!(id, request_id(&mut j));
    }
}
