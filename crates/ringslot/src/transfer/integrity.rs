//! Whether a download's bytes are checked, and against what.
//!
//! The checksum is the first one a `200`/`206` (or the HEAD) states, read by
//! [`stowage_checksum::Expected::from_headers`]: AIStore's `ais-checksum-*`, S3's
//! `x-amz-checksum-*`, a single-part S3 ETag. It is of the whole object, and every later
//! response must state the same: a server that states another value for another range (AIStore
//! with `checksum.enable_read_range` sends each range's own checksum) is not checked at all, with
//! a [`Notice`], rather than failed on a false mismatch. A checksum header that is malformed is
//! noticed the same way; one that is merely of an algorithm this crate does not compute is
//! silently not used.
//!
//! In stream mode the bytes are hashed as they are delivered, in order. In whole-object mode
//! ranges land in any order, so the destination is read back in order once the last one has
//! ([`RangeIo::read_back`](super::RangeIo::read_back)).

use http::StatusCode;
use stowage_checksum::{Expected, Mismatch, Verifier};

use crate::Notice;

/// The check of one download.
///
/// Invariant: once [`Integrity::Off`] it stays off; [`Integrity::Hashing`] has seen every
/// delivered byte in order, and no other.
#[derive(Clone, Debug)]
pub(super) enum Integrity {
    /// Not asked for, or given up (a notice said why), or started too late to see every byte.
    Off,
    /// Asked for; no response has stated a checksum yet.
    Waiting,
    /// Hashing what is delivered against the first checksum stated.
    Hashing(Verifier),
}

impl Integrity {
    /// The check of a download that asks for it, or not.
    pub(super) fn new(verify: bool) -> Self {
        if verify { Integrity::Waiting } else { Integrity::Off }
    }

    /// A response head of the download's (the HEAD's or a range's): take the checksum it
    /// states, or give up when it contradicts the one taken. `hashed` is whether bytes were
    /// hashed already (a checksum first stated then is too late to start with).
    pub(super) fn observe(&mut self, response: &http::Response<()>, hashed: bool) -> Option<Notice> {
        if !matches!(response.status(), StatusCode::OK | StatusCode::PARTIAL_CONTENT) {
            return None;
        }
        if matches!(self, Integrity::Off) {
            return None;
        }
        let stated = match Expected::from_headers(response.headers()) {
            Ok(stated) => stated.into_expected(),
            Err(error) => {
                *self = Integrity::Off;
                return Some(Notice::ChecksumUnusable { error });
            }
        };
        match (&*self, stated) {
            (_, None) => None,
            (Integrity::Waiting, Some(expected)) if !hashed => {
                *self = Integrity::Hashing(Verifier::new(expected));
                None
            }
            (Integrity::Hashing(verifier), Some(then)) if *verifier.expected() != then => {
                let first = *verifier.expected();
                *self = Integrity::Off;
                Some(Notice::ChecksumVaries { first, then })
            }
            _ => None,
        }
    }

    /// Whether bytes are being hashed.
    pub(super) fn hashing(&self) -> bool {
        matches!(self, Integrity::Hashing(_))
    }

    /// The next bytes of the object, in order.
    pub(super) fn update(&mut self, bytes: &[u8]) {
        if let Integrity::Hashing(verifier) = self {
            verifier.update(bytes);
        }
    }

    /// Stops hashing: the bytes cannot all be seen (a destination that keeps none).
    pub(super) fn give_up(&mut self) {
        *self = Integrity::Off;
    }

    /// The verdict, once every byte was fed: the checksum the bytes matched, `None` when
    /// nothing was checked.
    pub(super) fn finish(self) -> Result<Option<Expected>, Mismatch> {
        match self {
            Integrity::Hashing(verifier) => {
                let expected = *verifier.expected();
                verifier.finish().map(|()| Some(expected))
            }
            Integrity::Off | Integrity::Waiting => Ok(None),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn response(status: u16, headers: &[(&str, &str)]) -> http::Response<()> {
        let mut builder = http::Response::builder().status(status);
        for (name, value) in headers {
            builder = builder.header(*name, *value);
        }
        builder.body(()).unwrap()
    }

    /// XXH64 of `hello`.
    const HELLO: &str = "26c7827d889f6da3";

    fn ais(value: &str) -> [(&'static str, &str); 2] {
        [("ais-checksum-type", "xxhash2"), ("ais-checksum-value", value)]
    }

    #[test]
    fn the_first_checksum_stated_is_checked() {
        let mut integrity = Integrity::new(true);
        assert_eq!(integrity.observe(&response(206, &ais(HELLO)), false), None);
        // The same again, or nothing stated: no change.
        assert_eq!(integrity.observe(&response(206, &ais(HELLO)), true), None);
        assert_eq!(integrity.observe(&response(206, &[]), true), None);
        integrity.update(b"hel");
        integrity.update(b"lo");
        assert_eq!(integrity.finish().unwrap().unwrap().render(), HELLO);

        let mut integrity = Integrity::new(true);
        integrity.observe(&response(200, &ais(HELLO)), false);
        integrity.update(b"hellO");
        let mismatch = integrity.finish().unwrap_err();
        assert_eq!(mismatch.len(), 5);
    }

    #[test]
    fn contradicting_or_broken_checksums_turn_the_check_off_with_a_notice() {
        let mut integrity = Integrity::new(true);
        integrity.observe(&response(206, &ais(HELLO)), false);
        let notice = integrity.observe(&response(206, &ais("0000000000000001")), true);
        assert!(matches!(notice, Some(Notice::ChecksumVaries { .. })), "{notice:?}");
        integrity.update(b"anything");
        assert_eq!(integrity.finish(), Ok(None));

        let mut integrity = Integrity::new(true);
        let notice = integrity.observe(&response(206, &ais("not hex")), false);
        assert!(matches!(notice, Some(Notice::ChecksumUnusable { .. })), "{notice:?}");
        assert_eq!(integrity.observe(&response(206, &ais(HELLO)), false), None, "off stays off");
        assert_eq!(integrity.finish(), Ok(None));
    }

    #[test]
    fn only_successful_answers_count_and_a_late_checksum_is_not_used() {
        let mut integrity = Integrity::new(true);
        assert_eq!(integrity.observe(&response(503, &ais("not hex")), false), None);
        assert_eq!(integrity.observe(&response(307, &ais(HELLO)), false), None);
        assert!(!integrity.hashing());
        integrity.observe(&response(206, &ais(HELLO)), true);
        assert!(!integrity.hashing(), "bytes went by unhashed");
        assert_eq!(integrity.finish(), Ok(None));

        let mut off = Integrity::new(false);
        assert_eq!(off.observe(&response(206, &ais("not hex")), false), None);
        assert_eq!(off.finish(), Ok(None));
    }
}
