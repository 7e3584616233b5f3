//! What a response states about its object's checksum.

use std::fmt;

use http::{HeaderMap, HeaderName, HeaderValue};
use stowage_proto::ais::header as ais;

use crate::digest::{Algorithm, Digest};
use crate::encoding;

/// S3's object checksum headers and the ones they depend on.
pub mod amz {
    /// Base64 of the big-endian CRC-32C of the object (or, with a `-N` suffix, of its parts).
    pub const CHECKSUM_CRC32C: &str = "x-amz-checksum-crc32c";
    /// Base64 of the MD5 of the object (or, with a `-N` suffix, of its parts).
    pub const CHECKSUM_MD5: &str = "x-amz-checksum-md5";
    /// The prefix of every `x-amz-checksum-<algorithm>` header.
    pub const CHECKSUM_PREFIX: &str = "x-amz-checksum-";
    /// `FULL_OBJECT` or `COMPOSITE` (a checksum of the parts' checksums).
    pub const CHECKSUM_TYPE: &str = "x-amz-checksum-type";
    /// `AES256` (SSE-S3: the ETag is still the MD5), `aws:kms`, `aws:kms:dsse` (it is not).
    pub const SERVER_SIDE_ENCRYPTION: &str = "x-amz-server-side-encryption";
    /// Present when the object is encrypted with a customer's key (SSE-C): the ETag is not the MD5.
    pub const SSE_CUSTOMER_ALGORITHM: &str = "x-amz-server-side-encryption-customer-algorithm";
}

/// The longest piece of a hostile header value an error or a skip reason keeps.
const MAX_QUOTED: usize = 64;

/// Which header stated a checksum, which also says how the value is written.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Source {
    /// `ais-checksum-type` and `ais-checksum-value`: lowercase hex of the big-endian digest.
    Ais(AisType),
    /// `x-amz-checksum-crc32c` or `x-amz-checksum-md5`: base64 of the big-endian digest.
    AmzChecksum,
    /// An S3 single-part object's ETag: its MD5 as 32 hex digits in quotes.
    ETag,
}

impl Source {
    /// The value as this source writes `digest`, e.g. `26c7827d889f6da3`, `mnG7TA==`,
    /// `"5d41402abc4b2a76b9719d911017c592"`.
    pub fn render(&self, digest: &Digest) -> String {
        match self {
            Source::Ais(_) => digest.to_string(),
            Source::AmzChecksum => digest.to_base64(),
            Source::ETag => format!("\"{digest}\""),
        }
    }

    /// The rank of the source among stated checksums of one algorithm: a header that states a
    /// checksum outright before an ETag that happens to be one.
    fn rank(&self) -> u8 {
        match self {
            Source::Ais(_) => 0,
            Source::AmzChecksum => 1,
            Source::ETag => 2,
        }
    }
}

/// The checksum types AIStore states that this crate verifies, by the name AIStore gives them
/// (`cos.Checksum*` in aistore's `cmn/cos/cksum.go`).
///
/// AIStore also has `sha256` and `sha512`; they are not verified here (SHA-2 is not among a
/// pure crate's dependencies, and aisnode's `sha256` has been SHA-512/256 in some releases
/// and SHA-256 in others). They, `none` and unknown types are a [`SkipReason`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum AisType {
    /// `xxhash`: XXH64, seed 0 (aisnode's `github.com/OneOfOne/xxhash` `New64()`); the
    /// default of older clusters.
    Xxhash,
    /// `xxhash2`: the same XXH64, seed 0, by another Go package (`github.com/cespare/xxhash/v2`);
    /// the default of recent clusters.
    Xxhash2,
    /// `crc32c`: CRC-32C, 8 hex digits.
    Crc32c,
    /// `md5`: 32 hex digits.
    Md5,
}

impl AisType {
    /// The type as AIStore names it.
    pub const fn name(self) -> &'static str {
        match self {
            AisType::Xxhash => "xxhash",
            AisType::Xxhash2 => "xxhash2",
            AisType::Crc32c => "crc32c",
            AisType::Md5 => "md5",
        }
    }

    /// The algorithm behind the type.
    pub const fn algorithm(self) -> Algorithm {
        match self {
            AisType::Xxhash | AisType::Xxhash2 => Algorithm::Xxh64,
            AisType::Crc32c => Algorithm::Crc32c,
            AisType::Md5 => Algorithm::Md5,
        }
    }

    fn from_name(name: &str) -> Option<AisType> {
        [AisType::Xxhash, AisType::Xxhash2, AisType::Crc32c, AisType::Md5].into_iter().find(|t| t.name() == name)
    }
}

/// A checksum a response states for its object, in a form this crate verifies.
///
/// It is the checksum of the **whole object**, whatever part of it the response carries: feed
/// a [`Verifier`](crate::Verifier) every byte of the object, in order, as received on the wire
/// (before any content decoding), or do not verify. Two cases where a response's headers
/// describe something else:
/// - AIStore with the bucket property `checksum.enable_read_range` answers a ranged GET with
///   the checksum of the **range** in the same `ais-checksum-*` headers (without it, the
///   object's). A client that downloads in ranges should take the object's checksum from a
///   HEAD or from a 200, not from a 206.
/// - S3 answers a GET with `partNumber` with that part's checksum.
///
/// An ETag describes the object the server has, so a 206's ETag is still the whole object's.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Expected {
    digest: Digest,
    source: Source,
}

impl Expected {
    /// The checksum `headers` state, preferring by algorithm (XXH64, then CRC-32C, then MD5:
    /// [`Algorithm::ALL`]) and, for one algorithm, a checksum header over an ETag.
    ///
    /// It reads AIStore's `ais-checksum-type`/`ais-checksum-value` (types `xxhash`,
    /// `xxhash2`, `crc32c`, `md5`), S3's `x-amz-checksum-crc32c` and `x-amz-checksum-md5`
    /// (full-object values: a `-N` suffix or `x-amz-checksum-type: COMPOSITE` marks a checksum
    /// of the parts' checksums, which the bytes cannot be checked against), and the ETag when it
    /// is a single-part S3 object's MD5 (see [`SkipReason`] for the ETags that are not).
    ///
    /// Whatever is stated but cannot be verified (an unknown or unsupported type, a multipart
    /// ETag, …) is listed in [`Stated::skipped`], for the caller to log. A malformed value of a
    /// known type, or one header stated twice with different values, is an error: what sent it
    /// is broken, and its bytes are not to be trusted either.
    ///
    /// Values may carry surrounding spaces or tabs (HTTP's optional whitespace); hex digits
    /// may be of either case.
    pub fn from_headers(headers: &HeaderMap) -> Result<Stated, ChecksumError> {
        let mut stated = Stated { expected: None, skipped: Vec::new() };
        let mut found: Vec<Expected> = Vec::new();
        found.extend(ais_checksum(headers, &mut stated.skipped)?);
        amz_checksums(headers, &mut found, &mut stated.skipped)?;
        found.extend(etag(headers, &mut stated.skipped)?);
        stated.expected = found.into_iter().min_by_key(|e| (e.digest.algorithm(), e.source.rank()));
        Ok(stated)
    }

    /// The stated digest.
    pub fn digest(&self) -> Digest {
        self.digest
    }

    /// The algorithm to compute.
    pub fn algorithm(&self) -> Algorithm {
        self.digest.algorithm()
    }

    /// Which header stated it.
    pub fn source(&self) -> Source {
        self.source
    }

    /// The header the value came from.
    pub fn header(&self) -> &'static str {
        match (self.source, self.digest.algorithm()) {
            (Source::Ais(_), _) => ais::CHECKSUM_VALUE,
            (Source::AmzChecksum, Algorithm::Crc32c) => amz::CHECKSUM_CRC32C,
            (Source::AmzChecksum, _) => amz::CHECKSUM_MD5,
            (Source::ETag, _) => "etag",
        }
    }

    /// The value as the server wrote it (normalised to lowercase hex where it is hex).
    pub fn render(&self) -> String {
        self.source.render(&self.digest)
    }

    /// The algorithm as the server names it: AIStore's type (`xxhash2`, …) or the algorithm's
    /// name.
    pub fn stated_algorithm(&self) -> &'static str {
        match self.source {
            Source::Ais(ty) => ty.name(),
            _ => self.digest.algorithm().name(),
        }
    }
}

impl fmt::Display for Expected {
    /// `ais-checksum-value (xxhash2) 26c7827d889f6da3`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({}) {}", self.header(), self.stated_algorithm(), self.render())
    }
}

/// What [`Expected::from_headers`] found: at most one checksum to verify, and what it passed over.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Stated {
    expected: Option<Expected>,
    skipped: Vec<Skipped>,
}

impl Stated {
    /// The checksum to verify, if the response states one this crate verifies.
    pub fn expected(&self) -> Option<&Expected> {
        self.expected.as_ref()
    }

    /// The checksum to verify, if any.
    pub fn into_expected(self) -> Option<Expected> {
        self.expected
    }

    /// What was stated but cannot be verified, in the order found (AIStore's headers, S3's,
    /// the ETag). May be non-empty when a checksum was found too.
    pub fn skipped(&self) -> &[Skipped] {
        &self.skipped
    }
}

/// A stated checksum that cannot be verified, and why.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Skipped {
    /// The header that stated it.
    pub header: HeaderName,
    /// Why it is not verified.
    pub reason: SkipReason,
}

impl fmt::Display for Skipped {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.header, self.reason)
    }
}

/// Why a stated checksum is not verified.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum SkipReason {
    /// AIStore states type `none`, or no value (aisnode treats both as "no checksum").
    #[error("AIStore states no checksum")]
    AisNone,
    /// `ais-checksum-value` without `ais-checksum-type`.
    #[error("a value without a type")]
    AisNoType,
    /// An AIStore type this crate does not verify (`sha256`, `sha512`, or unknown).
    #[error("checksum type {0:?} is not verified by this client")]
    UnsupportedType(String),
    /// An `x-amz-checksum-*` algorithm this crate does not verify (`crc32`, `crc64nvme`,
    /// `sha1`, `sha256`, `sha512`, `xxhash64`, `xxhash3`, `xxhash128`, …).
    #[error("algorithm not verified by this client")]
    UnsupportedAlgorithm,
    /// An S3 checksum of the parts' checksums (a `-N` suffix, or `x-amz-checksum-type:
    /// COMPOSITE`), not of the bytes.
    #[error("a composite (multipart) checksum, not one of the object's bytes")]
    Composite,
    /// A weak ETag (`W/"…"`): equivalence, not bytes.
    #[error("a weak ETag")]
    WeakETag,
    /// A multipart upload's ETag (`"<hex>-N"`): the MD5 of the parts' MD5s.
    #[error("a multipart ETag, not an MD5 of the object")]
    MultipartETag,
    /// An ETag that is not 32 hex digits in quotes: the server's own version tag.
    #[error("an ETag that is not an MD5")]
    OpaqueETag,
    /// The object is encrypted with SSE-KMS or SSE-C, whose ETags are not the MD5 of the data.
    #[error("an ETag of an object encrypted with SSE-KMS or SSE-C, not an MD5 of the data")]
    EncryptedETag,
}

/// A checksum header that is broken.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ChecksumError {
    /// A value that is not of its algorithm's form.
    #[error("{header}: not {} ({form}): {value:?}", algorithm.name())]
    Malformed {
        /// The header.
        header: HeaderName,
        /// The algorithm the value should be of.
        algorithm: Algorithm,
        /// The form expected, e.g. `16 hex digits`.
        form: &'static str,
        /// The value (its first 64 characters).
        value: String,
    },
    /// A value with bytes that are not visible ASCII.
    #[error("{header}: not visible ASCII")]
    NotText {
        /// The header.
        header: HeaderName,
    },
    /// The header appears more than once, with different values.
    #[error("{header} is stated more than once, with different values")]
    Conflicting {
        /// The header.
        header: HeaderName,
    },
}

/// The one value of `name`, trimmed of optional whitespace: `None` when absent, an error when
/// repeated with different values or not text.
fn single<'h>(headers: &'h HeaderMap, name: &HeaderName) -> Result<Option<&'h str>, ChecksumError> {
    let mut values = headers.get_all(name).iter();
    let Some(first) = values.next() else { return Ok(None) };
    let first = text(name, first)?;
    for other in values {
        if text(name, other)? != first {
            return Err(ChecksumError::Conflicting { header: name.clone() });
        }
    }
    Ok(Some(first))
}

fn text<'h>(name: &HeaderName, value: &'h HeaderValue) -> Result<&'h str, ChecksumError> {
    let s = value.to_str().map_err(|_| ChecksumError::NotText { header: name.clone() })?;
    Ok(s.trim_matches([' ', '\t']))
}

fn malformed(header: &HeaderName, algorithm: Algorithm, form: &'static str, value: &str) -> ChecksumError {
    ChecksumError::Malformed { header: header.clone(), algorithm, form, value: clip(value) }
}

fn clip(value: &str) -> String {
    value.chars().take(MAX_QUOTED).collect()
}

/// AIStore's `ais-checksum-type`/`ais-checksum-value` pair.
fn ais_checksum(headers: &HeaderMap, skipped: &mut Vec<Skipped>) -> Result<Option<Expected>, ChecksumError> {
    let type_header = HeaderName::from_static(ais::CHECKSUM_TYPE);
    let value_header = HeaderName::from_static(ais::CHECKSUM_VALUE);
    let ty = single(headers, &type_header)?;
    let value = single(headers, &value_header)?;
    let (ty, value) = match (ty, value) {
        (None, None) => return Ok(None),
        (None, Some(_)) => {
            skipped.push(Skipped { header: value_header, reason: SkipReason::AisNoType });
            return Ok(None);
        }
        (Some(ty), value) => (ty, value.unwrap_or_default()),
    };
    // aisnode's `cos.NoneC`: an empty type, `none`, or an empty value is no checksum.
    if ty.is_empty() || ty == "none" || value.is_empty() {
        skipped.push(Skipped { header: type_header, reason: SkipReason::AisNone });
        return Ok(None);
    }
    let Some(ais_type) = AisType::from_name(ty) else {
        skipped.push(Skipped { header: type_header, reason: SkipReason::UnsupportedType(clip(ty)) });
        return Ok(None);
    };
    let algorithm = ais_type.algorithm();
    let digest = encoding::hex(algorithm, value)
        .ok_or_else(|| malformed(&value_header, algorithm, hex_form(algorithm), value))?;
    Ok(Some(Expected { digest, source: Source::Ais(ais_type) }))
}

fn hex_form(algorithm: Algorithm) -> &'static str {
    match algorithm {
        Algorithm::Xxh64 => "16 hex digits",
        Algorithm::Crc32c => "8 hex digits",
        Algorithm::Md5 => "32 hex digits",
    }
}

/// S3's `x-amz-checksum-*` headers.
fn amz_checksums(
    headers: &HeaderMap,
    found: &mut Vec<Expected>,
    skipped: &mut Vec<Skipped>,
) -> Result<(), ChecksumError> {
    let type_header = HeaderName::from_static(amz::CHECKSUM_TYPE);
    let composite = single(headers, &type_header)?.is_some_and(|t| t.eq_ignore_ascii_case("COMPOSITE"));
    for name in headers.keys() {
        let Some(algorithm_name) = name.as_str().strip_prefix(amz::CHECKSUM_PREFIX) else { continue };
        if *name == type_header {
            continue;
        }
        let algorithm = match algorithm_name {
            "crc32c" => Algorithm::Crc32c,
            "md5" => Algorithm::Md5,
            _ => {
                skipped.push(Skipped { header: name.clone(), reason: SkipReason::UnsupportedAlgorithm });
                continue;
            }
        };
        let Some(value) = single(headers, name)? else { continue };
        // A composite checksum is `<base64>-<parts>`: the checksum of the parts' checksums.
        if composite || encoding::part_count_suffix(value).is_some() {
            skipped.push(Skipped { header: name.clone(), reason: SkipReason::Composite });
            continue;
        }
        let form = match algorithm {
            Algorithm::Crc32c => "base64 of 4 bytes",
            _ => "base64 of 16 bytes",
        };
        let digest = encoding::base64(algorithm, value).ok_or_else(|| malformed(name, algorithm, form, value))?;
        found.push(Expected { digest, source: Source::AmzChecksum });
    }
    Ok(())
}

/// The ETag, when it is an S3 single-part object's MD5.
///
/// S3's rule: the ETag of an object written by one PUT (or POST, or copy), in plain text or
/// encrypted with SSE-S3, is the MD5 of its bytes; a multipart upload's is the MD5 of the parts'
/// MD5s followed by `-<parts>`; an object encrypted with SSE-KMS or SSE-C has an ETag that is
/// not an MD5 of the data at all. Other servers' ETags are their own version tags, which are
/// taken for an MD5 only when they look exactly like one (32 hex digits in quotes) — a server
/// whose ETags look so but are not MD5s needs verification turned off.
fn etag(headers: &HeaderMap, skipped: &mut Vec<Skipped>) -> Result<Option<Expected>, ChecksumError> {
    let header = http::header::ETAG;
    let value = match single(headers, &header) {
        Ok(Some(value)) => value,
        Ok(None) => return Ok(None),
        // An ETag is opaque: one that is not text is not an MD5, not a broken checksum.
        Err(ChecksumError::NotText { .. }) => {
            skipped.push(Skipped { header, reason: SkipReason::OpaqueETag });
            return Ok(None);
        }
        Err(e) => return Err(e),
    };
    let reason = if value.starts_with("W/") {
        SkipReason::WeakETag
    } else if encrypted(headers) {
        SkipReason::EncryptedETag
    } else {
        match value.strip_prefix('"').and_then(|v| v.strip_suffix('"')) {
            Some(tag) => match encoding::hex(Algorithm::Md5, tag) {
                Some(digest) => return Ok(Some(Expected { digest, source: Source::ETag })),
                None if encoding::part_count_suffix(tag).is_some() => SkipReason::MultipartETag,
                None => SkipReason::OpaqueETag,
            },
            None => SkipReason::OpaqueETag,
        }
    };
    skipped.push(Skipped { header, reason });
    Ok(None)
}

/// Whether the response says (or may say) its object is encrypted with SSE-KMS (`aws:kms`,
/// `aws:kms:dsse`) or SSE-C. An unreadable or self-contradicting statement counts as "may":
/// the ETag is then not trusted.
fn encrypted(headers: &HeaderMap) -> bool {
    if headers.contains_key(amz::SSE_CUSTOMER_ALGORITHM) {
        return true;
    }
    match single(headers, &HeaderName::from_static(amz::SERVER_SIDE_ENCRYPTION)) {
        Ok(sse) => sse.is_some_and(|v| v.to_ascii_lowercase().starts_with("aws:kms")),
        Err(_) => true,
    }
}
