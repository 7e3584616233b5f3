//! Download integrity: the checksum a response states for its object, and a verifier that
//! hashes the object's bytes as they arrive.
//!
//! A driver reads the response head, asks [`Expected::from_headers`] what the server vouches
//! for, feeds a [`Verifier`] every byte of the object in order while it writes them out, and
//! calls [`Verifier::finish`] before it calls the download complete: a [`Mismatch`] means the
//! bytes are not the object's. Nothing here does IO; hashing is the only work.
//!
//! What is read, and in what form (facts from aistore's `api/apc/headers.go` and
//! `cmn/cos/cksum.go`, the AIStore Python SDK 2.0.0, and S3's documentation):
//!
//! | header | algorithms | value |
//! |---|---|---|
//! | `ais-checksum-type` + `ais-checksum-value` | `xxhash`, `xxhash2` (both XXH64, seed 0), `crc32c`, `md5` | lowercase hex of the big-endian digest |
//! | `x-amz-checksum-crc32c`, `x-amz-checksum-md5` | CRC-32C, MD5 of the whole object | base64 of the big-endian digest |
//! | `ETag` | MD5, only as an S3 single-part, non-KMS, non-SSE-C object's `"<32 hex>"` | quoted hex |
//!
//! When several are stated, one is verified: XXH64, else CRC-32C, else MD5 (see
//! [`Algorithm::ALL`]); an explicit checksum header before an ETag. What cannot be verified
//! (AIStore's `sha256`/`sha512`, S3's `crc32`, `crc64nvme`, `sha*`, `xxhash*`, composite
//! checksums, multipart and weak ETags) is reported in [`Stated::skipped`], not refused.
//!
//! The checksum is always of the **whole object** (see [`Expected`] for the one AIStore setting
//! that makes a 206's headers describe the range instead).
//!
//! ```
//! use http::{Response, StatusCode};
//! use stowage_checksum::{Algorithm, Expected, Verifier};
//!
//! // The head of a 200 from AIStore.
//! let response = Response::builder()
//!     .status(StatusCode::OK)
//!     .header("content-length", "11")
//!     .header("ais-checksum-type", "xxhash2")
//!     .header("ais-checksum-value", "c500b0c912b376d8")
//!     .header("etag", "\"3e25960a79dbc69b674cd4ec67a72c62\"")
//!     .body(())
//!     .unwrap();
//!
//! let stated = Expected::from_headers(response.headers()).unwrap();
//! let expected = stated.into_expected().expect("a checksum this crate verifies");
//! assert_eq!(expected.algorithm(), Algorithm::Xxh64); // preferred over the ETag's md5
//!
//! let mut verifier = Verifier::new(expected);
//! for piece in [&b"Hello"[..], b" ", b"world"] {
//!     verifier.update(piece); // as the body's frames arrive
//! }
//! verifier.finish().expect("the bytes the server vouched for");
//! ```
#![forbid(unsafe_code)]
#![deny(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod digest;
mod encoding;
mod stated;
mod verify;

pub use digest::{Algorithm, Digest, DigestBytes, Hasher};
pub use stated::{AisType, ChecksumError, Expected, SkipReason, Skipped, Source, Stated, amz};
pub use verify::{Mismatch, Verifier};
