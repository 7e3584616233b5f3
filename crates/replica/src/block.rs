//! The block being written: its bytes, its md5 and its unsigned locator.

use std::fmt;
use std::str::FromStr;

use bytes::Bytes;
use md5::{Digest, Md5};

/// The largest block Keep stores: 64 MiB (keepstore answers 413 above it).
pub const MAX_BLOCK_SIZE: usize = 64 << 20;

/// Why a block or a block hash was refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum BlockError {
    /// The hash is not 32 hexadecimal digits.
    #[error("not an md5 hash (32 hex digits): {0:?}")]
    BadHash(String),
    /// The block is larger than [`MAX_BLOCK_SIZE`].
    #[error("block of {0} bytes is larger than the 64 MiB Keep allows")]
    TooLarge(usize),
}

/// An md5 digest as Keep spells it: 32 lowercase hexadecimal digits.
///
/// Invariant: the 32 bytes are ASCII `0-9a-f`.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct BlockHash([u8; 32]);

impl BlockHash {
    /// The md5 of `data`.
    pub fn of(data: &[u8]) -> Self {
        BlockHash(hex(&Md5::digest(data).into()))
    }

    /// The hash as a string (32 lowercase hex digits).
    pub fn as_str(&self) -> &str {
        // The invariant makes this infallible; the fallback is never taken.
        std::str::from_utf8(&self.0).unwrap_or_default()
    }

    /// The hash's ASCII bytes.
    pub(crate) fn as_bytes(&self) -> &[u8] {
        &self.0
    }
}

impl FromStr for BlockHash {
    type Err = BlockError;

    /// 32 hexadecimal digits, in either case (stored lowercase).
    fn from_str(s: &str) -> Result<Self, BlockError> {
        let bytes: [u8; 32] = s.as_bytes().try_into().map_err(|_| BlockError::BadHash(s.to_owned()))?;
        if !bytes.iter().all(u8::is_ascii_hexdigit) {
            return Err(BlockError::BadHash(s.to_owned()));
        }
        Ok(BlockHash(bytes.map(|b| b.to_ascii_lowercase())))
    }
}

impl fmt::Display for BlockHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Debug for BlockHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "BlockHash({})", self.as_str())
    }
}

/// Lowercase hex of a 16-byte digest.
pub(crate) fn hex(digest: &[u8; 16]) -> [u8; 32] {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = [0u8; 32];
    for (i, byte) in digest.iter().enumerate() {
        out[2 * i] = DIGITS[usize::from(byte >> 4)];
        out[2 * i + 1] = DIGITS[usize::from(byte & 0x0f)];
    }
    out
}

/// A block to write: its bytes and their md5.
///
/// The bytes are shared ([`Bytes`] is reference-counted): every PUT the machine emits carries
/// the same buffer, never a copy.
///
/// Invariant: at most [`MAX_BLOCK_SIZE`] bytes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Block {
    hash: BlockHash,
    data: Bytes,
}

impl Block {
    /// A block of `data`, hashing it.
    pub fn new(data: Bytes) -> Result<Self, BlockError> {
        Block::with_hash(BlockHash::of(&data), data)
    }

    /// A block of `data` whose md5 the caller already knows (it is trusted, not checked: a
    /// wrong hash makes every keepstore answer 400).
    pub fn with_hash(hash: BlockHash, data: Bytes) -> Result<Self, BlockError> {
        if data.len() > MAX_BLOCK_SIZE {
            return Err(BlockError::TooLarge(data.len()));
        }
        Ok(Block { hash, data })
    }

    /// The md5 of the bytes.
    pub fn hash(&self) -> BlockHash {
        self.hash
    }

    /// The size in bytes.
    pub fn size(&self) -> usize {
        self.data.len()
    }

    /// The bytes.
    pub fn data(&self) -> &Bytes {
        &self.data
    }

    /// The unsigned locator `md5+size`.
    pub fn locator(&self) -> String {
        format!("{}+{}", self.hash, self.size())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn md5_of_foo() {
        assert_eq!(BlockHash::of(b"foo").as_str(), "acbd18db4cc2f85cedef654fccc4a4d8");
        assert_eq!(Block::new(Bytes::from_static(b"")).unwrap().locator(), "d41d8cd98f00b204e9800998ecf8427e+0");
    }

    #[test]
    fn hashes_parse_in_either_case_and_nothing_else() {
        let hash: BlockHash = "ACBD18DB4CC2F85CEDEF654FCCC4A4D8".parse().unwrap();
        assert_eq!(hash, BlockHash::of(b"foo"));
        for bad in ["", "acbd", "acbd18db4cc2f85cedef654fccc4a4dg", "acbd18db4cc2f85cedef654fccc4a4d8+3"] {
            assert_eq!(bad.parse::<BlockHash>(), Err(BlockError::BadHash(bad.to_owned())));
        }
    }

    #[test]
    fn blocks_over_64_mib_are_refused() {
        let data = Bytes::from(vec![0u8; MAX_BLOCK_SIZE + 1]);
        assert_eq!(Block::with_hash(BlockHash::of(b""), data), Err(BlockError::TooLarge(MAX_BLOCK_SIZE + 1)));
    }
}
