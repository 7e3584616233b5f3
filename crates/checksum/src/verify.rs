//! The verifier: a download's bytes against the checksum its response stated.

use std::fmt;

use crate::digest::{Algorithm, Digest, Hasher};
use crate::stated::Expected;

/// Hashes a download's bytes as they arrive and compares the result with what the server
/// stated.
///
/// Feed it every byte of the object, in order, in pieces of any size (a piece may be
/// empty); [`finish`](Verifier::finish) then says whether they are the bytes the server
/// vouched for. It holds no buffer: its memory is the hash state, under 200 bytes.
///
/// ```
/// use http::HeaderMap;
/// use stowage_checksum::{Expected, Verifier};
///
/// let mut headers = HeaderMap::new();
/// headers.insert("ais-checksum-type", "xxhash2".parse().unwrap());
/// headers.insert("ais-checksum-value", "26c7827d889f6da3".parse().unwrap());
/// let expected = Expected::from_headers(&headers).unwrap().into_expected().unwrap();
///
/// let mut verifier = Verifier::new(expected);
/// verifier.update(b"hel");
/// verifier.update(b"lo");
/// assert!(verifier.finish().is_ok());
///
/// let mut verifier = Verifier::new(expected);
/// verifier.update(b"jello");
/// let mismatch = verifier.finish().unwrap_err();
/// assert_eq!(mismatch.expected().render(), "26c7827d889f6da3");
/// ```
#[derive(Clone, Debug)]
pub struct Verifier {
    expected: Expected,
    hasher: Hasher,
}

impl Verifier {
    /// A verifier of `expected` that has seen no bytes.
    pub fn new(expected: Expected) -> Verifier {
        Verifier { expected, hasher: Hasher::new(expected.algorithm()) }
    }

    /// Feeds the next bytes of the object.
    #[inline]
    pub fn update(&mut self, bytes: &[u8]) {
        self.hasher.update(bytes);
    }

    /// What the server stated.
    pub fn expected(&self) -> &Expected {
        &self.expected
    }

    /// How many bytes were fed.
    pub fn len(&self) -> u64 {
        self.hasher.len()
    }

    /// Whether no bytes were fed.
    pub fn is_empty(&self) -> bool {
        self.hasher.is_empty()
    }

    /// `Ok` when the bytes fed hash to the stated checksum.
    pub fn finish(self) -> Result<(), Mismatch> {
        let len = self.hasher.len();
        let actual = self.hasher.finish();
        if actual == self.expected.digest() { Ok(()) } else { Err(Mismatch { expected: self.expected, actual, len }) }
    }
}

/// The bytes received do not hash to the checksum the server stated.
///
/// Its message names the header and writes both values the way that header does, so it can
/// be compared with the server's own records: `checksum mismatch: ais-checksum-value (xxhash2)
/// states 26c7827d889f6da3, the 5 bytes received hash to <16 hex digits>`.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub struct Mismatch {
    expected: Expected,
    actual: Digest,
    len: u64,
}

impl Mismatch {
    /// The algorithm compared.
    pub fn algorithm(&self) -> Algorithm {
        self.expected.algorithm()
    }

    /// What the server stated.
    pub fn expected(&self) -> &Expected {
        &self.expected
    }

    /// What the bytes received hash to.
    pub fn actual(&self) -> Digest {
        self.actual
    }

    /// The actual digest written as the stating header writes values.
    pub fn render_actual(&self) -> String {
        self.expected.source().render(&self.actual)
    }

    /// How many bytes were hashed.
    pub fn len(&self) -> u64 {
        self.len
    }

    /// Whether no bytes were hashed.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
}

impl fmt::Display for Mismatch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "checksum mismatch: {} ({}) states {}, the {} bytes received hash to {}",
            self.expected.header(),
            self.expected.stated_algorithm(),
            self.expected.render(),
            self.len,
            self.render_actual()
        )
    }
}
