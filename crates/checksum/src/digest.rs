//! The algorithms, their digests and the incremental hasher.

use std::fmt;

use md5::{Digest as _, Md5};
use xxhash_rust::xxh64::Xxh64;

/// A checksum algorithm this crate computes.
///
/// Each is what the servers call by that name, bit for bit: XXH64 with seed 0 (AIStore's
/// `xxhash` and `xxhash2`), CRC-32C (Castagnoli, reflected, initial value and final xor
/// `0xffffffff`: AIStore's `crc32c`, S3's `CRC32C`), and MD5.
///
/// The order (`Ord`) is the order of preference: see [`Algorithm::ALL`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Algorithm {
    /// XXH64, seed 0: a 64-bit digest.
    Xxh64,
    /// CRC-32C (Castagnoli): a 32-bit digest.
    Crc32c,
    /// MD5: a 128-bit digest.
    Md5,
}

impl Algorithm {
    /// Every algorithm, in the order [`crate::Stated`] prefers them: the 64-bit XXH64 first
    /// (as cheap as CRC-32C and 2^32 times less likely to let a corruption through), CRC-32C,
    /// then MD5 (strong but an order of magnitude slower).
    pub const ALL: [Algorithm; 3] = [Algorithm::Xxh64, Algorithm::Crc32c, Algorithm::Md5];

    /// The digest's length in bytes.
    pub const fn digest_len(self) -> usize {
        match self {
            Algorithm::Xxh64 => 8,
            Algorithm::Crc32c => 4,
            Algorithm::Md5 => 16,
        }
    }

    /// The algorithm's usual name: `xxh64`, `crc32c`, `md5`.
    pub const fn name(self) -> &'static str {
        match self {
            Algorithm::Xxh64 => "xxh64",
            Algorithm::Crc32c => "crc32c",
            Algorithm::Md5 => "md5",
        }
    }
}

impl fmt::Display for Algorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A digest: the algorithm and its value.
///
/// Its [`Display`](fmt::Display) is the lowercase hex of the big-endian value (`xxhsum`,
/// `md5sum` and AIStore all print it so); [`Digest::to_base64`] is S3's form.
///
/// ```
/// use stowage_checksum::{Algorithm, Digest};
///
/// assert_eq!(Digest::of(Algorithm::Xxh64, b"hello").to_string(), "26c7827d889f6da3");
/// assert_eq!(Digest::of(Algorithm::Crc32c, b"123456789"), Digest::Crc32c(0xe306_9283));
/// assert_eq!(Digest::of(Algorithm::Crc32c, b"123456789").to_base64(), "4waSgw==");
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub enum Digest {
    /// An XXH64 value.
    Xxh64(u64),
    /// A CRC-32C value.
    Crc32c(u32),
    /// An MD5 value, in the order MD5 emits its bytes.
    Md5([u8; 16]),
}

impl Digest {
    /// The digest of `data`, in one call.
    pub fn of(algorithm: Algorithm, data: &[u8]) -> Digest {
        match algorithm {
            Algorithm::Xxh64 => Digest::Xxh64(xxhash_rust::xxh64::xxh64(data, 0)),
            Algorithm::Crc32c => Digest::Crc32c(crc32c::crc32c(data)),
            Algorithm::Md5 => Digest::Md5(Md5::digest(data).into()),
        }
    }

    /// The digest of `bytes` (big-endian, as servers send them), when there are as many as
    /// `algorithm` makes.
    pub fn from_be_bytes(algorithm: Algorithm, bytes: &[u8]) -> Option<Digest> {
        Some(match algorithm {
            Algorithm::Xxh64 => Digest::Xxh64(u64::from_be_bytes(bytes.try_into().ok()?)),
            Algorithm::Crc32c => Digest::Crc32c(u32::from_be_bytes(bytes.try_into().ok()?)),
            Algorithm::Md5 => Digest::Md5(bytes.try_into().ok()?),
        })
    }

    /// The algorithm that made this digest.
    pub fn algorithm(&self) -> Algorithm {
        match self {
            Digest::Xxh64(_) => Algorithm::Xxh64,
            Digest::Crc32c(_) => Algorithm::Crc32c,
            Digest::Md5(_) => Algorithm::Md5,
        }
    }

    /// The value's big-endian bytes ([`Algorithm::digest_len`] of them).
    pub fn to_be_bytes(&self) -> DigestBytes {
        let mut bytes = [0; 16];
        match self {
            Digest::Xxh64(v) => bytes[..8].copy_from_slice(&v.to_be_bytes()),
            Digest::Crc32c(v) => bytes[..4].copy_from_slice(&v.to_be_bytes()),
            Digest::Md5(v) => bytes = *v,
        }
        DigestBytes { bytes, len: self.algorithm().digest_len() as u8 }
    }

    /// The standard base64 (with padding) of the big-endian bytes: S3's `x-amz-checksum-*` form.
    pub fn to_base64(&self) -> String {
        use base64::Engine as _;
        base64::engine::general_purpose::STANDARD.encode(self.to_be_bytes())
    }
}

impl fmt::Display for Digest {
    /// Lowercase hex of the big-endian bytes.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.to_be_bytes().as_ref().iter().try_for_each(|b| write!(f, "{b:02x}"))
    }
}

impl fmt::Debug for Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{self}", self.algorithm())
    }
}

/// A digest's big-endian bytes, without an allocation (see [`Digest::to_be_bytes`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DigestBytes {
    bytes: [u8; 16],
    len: u8,
}

impl AsRef<[u8]> for DigestBytes {
    fn as_ref(&self) -> &[u8] {
        &self.bytes[..usize::from(self.len)]
    }
}

/// An incremental digest: feed the bytes in order, in pieces of any size, and
/// [`finish`](Hasher::finish) gives what [`Digest::of`] gives for all of them at once.
///
/// ```
/// use stowage_checksum::{Algorithm, Digest, Hasher};
///
/// let mut hasher = Hasher::new(Algorithm::Md5);
/// hasher.update(b"hel");
/// hasher.update(b"lo");
/// assert_eq!(hasher.len(), 5);
/// assert_eq!(hasher.finish(), Digest::of(Algorithm::Md5, b"hello"));
/// ```
#[derive(Clone)]
pub struct Hasher {
    state: State,
    len: u64,
}

#[derive(Clone)]
enum State {
    Xxh64(Xxh64),
    Crc32c(u32),
    Md5(Md5),
}

impl Hasher {
    /// A hasher that has seen no bytes.
    pub fn new(algorithm: Algorithm) -> Hasher {
        let state = match algorithm {
            Algorithm::Xxh64 => State::Xxh64(Xxh64::new(0)),
            Algorithm::Crc32c => State::Crc32c(0),
            Algorithm::Md5 => State::Md5(Md5::new()),
        };
        Hasher { state, len: 0 }
    }

    /// The algorithm being computed.
    pub fn algorithm(&self) -> Algorithm {
        match self.state {
            State::Xxh64(_) => Algorithm::Xxh64,
            State::Crc32c(_) => Algorithm::Crc32c,
            State::Md5(_) => Algorithm::Md5,
        }
    }

    /// Feeds the next bytes.
    #[inline]
    pub fn update(&mut self, bytes: &[u8]) {
        match &mut self.state {
            State::Xxh64(h) => h.update(bytes),
            State::Crc32c(crc) => *crc = crc32c::crc32c_append(*crc, bytes),
            State::Md5(h) => h.update(bytes),
        }
        self.len = self.len.saturating_add(bytes.len() as u64);
    }

    /// How many bytes were fed.
    pub fn len(&self) -> u64 {
        self.len
    }

    /// Whether no bytes were fed.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The digest of every byte fed.
    pub fn finish(self) -> Digest {
        match self.state {
            State::Xxh64(h) => Digest::Xxh64(h.digest()),
            State::Crc32c(crc) => Digest::Crc32c(crc),
            State::Md5(h) => Digest::Md5(h.finalize().into()),
        }
    }
}

impl fmt::Debug for Hasher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Hasher").field("algorithm", &self.algorithm()).field("len", &self.len).finish()
    }
}
