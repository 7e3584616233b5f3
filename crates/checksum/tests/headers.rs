//! What `Expected::from_headers` makes of every form of header, the hostile ones included.

use http::{HeaderMap, HeaderName, HeaderValue};
use stowage_checksum::{
    AisType, Algorithm, ChecksumError, Digest, Expected, Mismatch, SkipReason, Source, Stated, Verifier,
};

const HELLO_XXH64: &str = "26c7827d889f6da3";
const HELLO_CRC32C: &str = "9a71bb4c";
const HELLO_CRC32C_B64: &str = "mnG7TA==";
const HELLO_MD5: &str = "5d41402abc4b2a76b9719d911017c592";
const HELLO_MD5_B64: &str = "XUFAKrxLKna5cZ2REBfFkg==";

fn headers(pairs: &[(&str, &[u8])]) -> HeaderMap {
    let mut map = HeaderMap::new();
    for (name, value) in pairs {
        map.append(HeaderName::from_bytes(name.as_bytes()).unwrap(), HeaderValue::from_bytes(value).unwrap());
    }
    map
}

fn stated(pairs: &[(&str, &[u8])]) -> Stated {
    Expected::from_headers(&headers(pairs)).unwrap()
}

fn expected(pairs: &[(&str, &[u8])]) -> Expected {
    stated(pairs).into_expected().unwrap()
}

fn error(pairs: &[(&str, &[u8])]) -> ChecksumError {
    Expected::from_headers(&headers(pairs)).unwrap_err()
}

fn skipped(pairs: &[(&str, &[u8])]) -> Vec<SkipReason> {
    let stated = stated(pairs);
    assert_eq!(stated.expected(), None, "nothing to verify in {pairs:?}");
    stated.skipped().iter().map(|s| s.reason.clone()).collect()
}

fn ais<'a>(ty: &'a str, value: &'a str) -> [(&'static str, &'a [u8]); 2] {
    [("ais-checksum-type", ty.as_bytes()), ("ais-checksum-value", value.as_bytes())]
}

fn verifies_hello(expected: Expected) {
    let mut verifier = Verifier::new(expected);
    verifier.update(b"hello");
    assert_eq!(verifier.finish(), Ok(()), "{expected}");
}

// ---- nothing stated ----

#[test]
fn no_checksum_headers_is_nothing_to_verify_and_nothing_skipped() {
    let stated = stated(&[("content-length", b"5"), ("content-type", b"application/octet-stream")]);
    assert_eq!(stated.expected(), None);
    assert!(stated.skipped().is_empty());
}

// ---- AIStore ----

#[test]
fn ais_types_are_read_with_their_algorithm_and_name() {
    let cases = [
        ("xxhash", HELLO_XXH64, AisType::Xxhash, Algorithm::Xxh64),
        ("xxhash2", HELLO_XXH64, AisType::Xxhash2, Algorithm::Xxh64),
        ("crc32c", HELLO_CRC32C, AisType::Crc32c, Algorithm::Crc32c),
        ("md5", HELLO_MD5, AisType::Md5, Algorithm::Md5),
    ];
    for (ty, value, ais_type, algorithm) in cases {
        let e = expected(&ais(ty, value));
        assert_eq!(e.source(), Source::Ais(ais_type));
        assert_eq!(e.algorithm(), algorithm);
        assert_eq!(e.digest(), Digest::of(algorithm, b"hello"));
        assert_eq!(e.stated_algorithm(), ty);
        assert_eq!(e.header(), "ais-checksum-value");
        assert_eq!(e.render(), value);
        verifies_hello(e);
    }
}

#[test]
fn ais_values_may_be_uppercase_and_padded_with_optional_whitespace() {
    let e = expected(&ais(" xxhash2\t", "\t26C7827D889F6DA3 "));
    assert_eq!(e.digest(), Digest::Xxh64(0x26c7_827d_889f_6da3));
    assert_eq!(e.render(), HELLO_XXH64, "rendered as aisnode writes it");
}

#[test]
fn ais_none_or_empty_states_no_checksum() {
    // aisnode's `cos.NoneC`: type "" or "none", or an empty value.
    for (ty, value) in [("none", ""), ("none", HELLO_XXH64), ("xxhash", ""), ("", HELLO_XXH64), ("xxhash", "  ")] {
        assert_eq!(skipped(&ais(ty, value)), [SkipReason::AisNone], "{ty:?} {value:?}");
    }
    assert_eq!(skipped(&[("ais-checksum-type", b"xxhash")]), [SkipReason::AisNone], "type without value");
    assert_eq!(skipped(&[("ais-checksum-value", HELLO_XXH64.as_bytes())]), [SkipReason::AisNoType]);
}

#[test]
fn ais_types_not_verified_here_are_skipped_with_their_name() {
    for ty in ["sha256", "sha512", "xxhash3", "XXHASH", "md-5", "crc32"] {
        let reasons = skipped(&ais(ty, "00"));
        assert_eq!(reasons, [SkipReason::UnsupportedType(ty.to_owned())]);
    }
    // A long hostile type name is kept short.
    let long = "x".repeat(10_000);
    let [SkipReason::UnsupportedType(kept)] = &skipped(&ais(&long, "00"))[..] else { panic!() };
    assert_eq!(kept.len(), 64);
}

#[test]
fn ais_malformed_values_are_errors() {
    let cases = [
        ("xxhash", "26c7827d889f6da"),                   // 15 digits
        ("xxhash", "26c7827d889f6da3a"),                 // 17 digits
        ("xxhash", "26c7827d889f6dag"),                  // not hex
        ("xxhash2", "0x26c7827d889f6d"),                 // a prefix
        ("xxhash2", "26c7827d 889f6da3"),                // inner space
        ("crc32c", "mnG7TA=="),                          // S3's base64 in AIStore's header
        ("crc32c", "9a71bb4"),                           // short
        ("md5", "5d41402abc4b2a76b9719d911017c59"),      // 31 digits
        ("md5", "\"5d41402abc4b2a76b9719d911017c592\""), // quoted
        ("md5", "-5d41402abc4b2a76b9719d911017c59"),     // a sign
    ];
    for (ty, value) in cases {
        let e = error(&ais(ty, value));
        let ChecksumError::Malformed { header, value: kept, .. } = &e else { panic!("{e:?}") };
        assert_eq!(header, "ais-checksum-value");
        assert_eq!(kept, value.trim());
        assert!(e.to_string().starts_with("ais-checksum-value: not "), "{e}");
    }
    let long = "a".repeat(10_000);
    let ChecksumError::Malformed { value, .. } = error(&ais("md5", &long)) else { panic!() };
    assert_eq!(value.len(), 64, "a hostile value is clipped");
}

#[test]
fn non_ascii_values_are_errors() {
    let e = error(&[("ais-checksum-type", b"xxhash"), ("ais-checksum-value", b"26c7827d889f6d\xe9\xe9")]);
    assert_eq!(e, ChecksumError::NotText { header: HeaderName::from_static("ais-checksum-value") });
    let e = error(&[("ais-checksum-type", b"xx\xffhash"), ("ais-checksum-value", HELLO_XXH64.as_bytes())]);
    assert_eq!(e, ChecksumError::NotText { header: HeaderName::from_static("ais-checksum-type") });
}

#[test]
fn repeated_headers_must_agree() {
    let same = [
        ("ais-checksum-type", &b"xxhash"[..]),
        ("ais-checksum-value", HELLO_XXH64.as_bytes()),
        ("ais-checksum-value", b" 26c7827d889f6da3"),
    ];
    assert_eq!(expected(&same).digest(), Digest::of(Algorithm::Xxh64, b"hello"));
    let different = [
        ("ais-checksum-type", &b"xxhash"[..]),
        ("ais-checksum-value", HELLO_XXH64.as_bytes()),
        ("ais-checksum-value", b"0000000000000000"),
    ];
    assert_eq!(error(&different), ChecksumError::Conflicting { header: HeaderName::from_static("ais-checksum-value") });
    let types = [("ais-checksum-type", &b"xxhash"[..]), ("ais-checksum-type", b"md5")];
    assert!(matches!(error(&types), ChecksumError::Conflicting { .. }));
}

#[test]
fn the_issue_spelling_ais_cksum_is_not_a_response_header() {
    // `ais-cksum-*` exists only as AIStore's object metadata on cloud backends
    // (`x-amz-meta-ais-cksum-type`); no aisnode response carries it.
    let stated = stated(&[("ais-cksum-type", b"xxhash"), ("ais-cksum-value", HELLO_XXH64.as_bytes())]);
    assert_eq!(stated.expected(), None);
    assert!(stated.skipped().is_empty());
}

// ---- S3 checksums ----

#[test]
fn amz_crc32c_and_md5_are_base64_of_the_big_endian_digest() {
    let e = expected(&[("x-amz-checksum-crc32c", HELLO_CRC32C_B64.as_bytes())]);
    assert_eq!((e.source(), e.digest()), (Source::AmzChecksum, Digest::Crc32c(0x9a71_bb4c)));
    assert_eq!(
        (e.header(), e.render().as_str(), e.stated_algorithm()),
        ("x-amz-checksum-crc32c", HELLO_CRC32C_B64, "crc32c")
    );
    verifies_hello(e);

    let e = expected(&[("x-amz-checksum-md5", HELLO_MD5_B64.as_bytes()), ("x-amz-checksum-type", b"FULL_OBJECT")]);
    assert_eq!((e.header(), e.render().as_str()), ("x-amz-checksum-md5", HELLO_MD5_B64));
    verifies_hello(e);
}

#[test]
fn amz_composite_checksums_are_skipped() {
    let composite = [("x-amz-checksum-crc32c", &b"mnG7TA==-3"[..])];
    assert_eq!(skipped(&composite), [SkipReason::Composite]);
    let typed = [("x-amz-checksum-crc32c", HELLO_CRC32C_B64.as_bytes()), ("x-amz-checksum-type", b"COMPOSITE")];
    assert_eq!(skipped(&typed), [SkipReason::Composite]);
}

#[test]
fn amz_algorithms_not_verified_here_are_skipped() {
    for name in ["x-amz-checksum-crc32", "x-amz-checksum-crc64nvme", "x-amz-checksum-sha256", "x-amz-checksum-xxhash64"]
    {
        let stated = stated(&[(name, b"AAAAAA==")]);
        assert_eq!(stated.expected(), None);
        assert_eq!(stated.skipped()[0].header, name);
        assert_eq!(stated.skipped()[0].reason, SkipReason::UnsupportedAlgorithm);
        assert_eq!(stated.skipped()[0].to_string(), format!("{name}: algorithm not verified by this client"));
    }
}

#[test]
fn amz_malformed_values_are_errors() {
    for value in [
        "",
        "mnG7TA",
        "mnG7TA=",
        "mnG7TA===",
        "mnG7TAAA",
        "mnG7T===",
        "mnG7TA=x",
        "mn G7TA=",
        "mnG7TA==-",
        "-3",
        "mnG7TB==",
    ] {
        let e = error(&[("x-amz-checksum-crc32c", value.as_bytes())]);
        assert!(matches!(&e, ChecksumError::Malformed { algorithm: Algorithm::Crc32c, .. }), "{value:?}: {e:?}");
    }
    let e = error(&[("x-amz-checksum-md5", HELLO_CRC32C_B64.as_bytes())]);
    assert!(matches!(e, ChecksumError::Malformed { algorithm: Algorithm::Md5, .. }));
}

// ---- ETag ----

#[test]
fn a_single_part_etag_is_an_md5() {
    let e = expected(&[("etag", b"\"5d41402abc4b2a76b9719d911017c592\"")]);
    assert_eq!((e.source(), e.algorithm()), (Source::ETag, Algorithm::Md5));
    assert_eq!(e.render(), format!("\"{HELLO_MD5}\""));
    verifies_hello(e);
    // Either case, optional whitespace; SSE-S3 keeps the MD5.
    let e =
        expected(&[("etag", b" \"5D41402ABC4B2A76B9719D911017C592\" "), ("x-amz-server-side-encryption", b"AES256")]);
    verifies_hello(e);
}

#[test]
fn etags_that_are_not_md5s_are_skipped_not_refused() {
    let cases: [(&[u8], SkipReason); 12] = [
        (b"\"5d41402abc4b2a76b9719d911017c592-2\"", SkipReason::MultipartETag),
        (b"\"d41d8cd98f00b204e9800998ecf8427e-10000\"", SkipReason::MultipartETag),
        (b"W/\"5d41402abc4b2a76b9719d911017c592\"", SkipReason::WeakETag),
        (b"5d41402abc4b2a76b9719d911017c592", SkipReason::OpaqueETag), // unquoted: aisnode's custom ETag form
        (b"\"5d41402abc4b2a76b9719d911017c59\"", SkipReason::OpaqueETag),
        (b"\"5f1a2b3c-4d5e\"", SkipReason::OpaqueETag),
        (b"\"v1-26c7827d889f6da3-lxyz\"", SkipReason::OpaqueETag), // aisnode's generated ETag
        (b"\"\"", SkipReason::OpaqueETag),
        (b"\"", SkipReason::OpaqueETag),
        (b"", SkipReason::OpaqueETag),
        (b"\"0x8D9A5E3A1F2B3C4\"", SkipReason::OpaqueETag), // Azure
        (b"\"5d41402abc4b2a76b9719d911017c5\xe9\"", SkipReason::OpaqueETag),
    ];
    for (value, reason) in cases {
        assert_eq!(skipped(&[("etag", value)]), [reason], "{:?}", String::from_utf8_lossy(value));
    }
}

#[test]
fn an_encrypted_objects_etag_is_not_its_md5() {
    let etag = ("etag", &b"\"5d41402abc4b2a76b9719d911017c592\""[..]);
    for sse in [&b"aws:kms"[..], b"aws:kms:dsse", b"AWS:KMS"] {
        assert_eq!(skipped(&[etag, ("x-amz-server-side-encryption", sse)]), [SkipReason::EncryptedETag]);
    }
    assert_eq!(
        skipped(&[etag, ("x-amz-server-side-encryption-customer-algorithm", b"AES256")]),
        [SkipReason::EncryptedETag]
    );
    // A contradicting statement of encryption: the ETag is not trusted.
    let contradicting =
        [etag, ("x-amz-server-side-encryption", b"AES256"), ("x-amz-server-side-encryption", b"aws:kms")];
    assert_eq!(skipped(&contradicting), [SkipReason::EncryptedETag]);
}

// ---- preference ----

#[test]
fn the_preferred_checksum_is_xxh64_then_crc32c_then_md5_and_headers_before_etags() {
    let etag = ("etag", &b"\"5d41402abc4b2a76b9719d911017c592\""[..]);
    let amz_md5 = ("x-amz-checksum-md5", HELLO_MD5_B64.as_bytes());
    let amz_crc = ("x-amz-checksum-crc32c", HELLO_CRC32C_B64.as_bytes());
    let ais_xxh = ais("xxhash2", HELLO_XXH64);
    let ais_md5 = ais("md5", HELLO_MD5);

    let mut all = ais_xxh.to_vec();
    all.extend([etag, amz_md5, amz_crc]);
    assert_eq!(expected(&all).source(), Source::Ais(AisType::Xxhash2));

    assert_eq!(expected(&[etag, amz_md5, amz_crc]).source(), Source::AmzChecksum);
    assert_eq!(expected(&[etag, amz_md5, amz_crc]).algorithm(), Algorithm::Crc32c);
    assert_eq!(expected(&[etag, amz_md5]).source(), Source::AmzChecksum);

    let mut md5s = ais_md5.to_vec();
    md5s.extend([etag, amz_md5]);
    assert_eq!(expected(&md5s).source(), Source::Ais(AisType::Md5));

    // What is passed over because it cannot be verified is still reported.
    let mut with_skips = ais_xxh.to_vec();
    with_skips.extend([("etag", &b"\"abc-2\""[..]), ("x-amz-checksum-sha256", b"x")]);
    let stated = stated(&with_skips);
    assert_eq!(stated.expected().map(Expected::source), Some(Source::Ais(AisType::Xxhash2)));
    let reasons: Vec<_> = stated.skipped().iter().map(|s| s.reason.clone()).collect();
    assert_eq!(reasons, [SkipReason::UnsupportedAlgorithm, SkipReason::MultipartETag]);
}

#[test]
fn a_malformed_statement_is_an_error_even_beside_a_good_one() {
    let mut pairs = ais("xxhash2", HELLO_XXH64).to_vec();
    pairs.push(("x-amz-checksum-crc32c", b"not base64"));
    assert!(matches!(error(&pairs), ChecksumError::Malformed { .. }));
}

// ---- mismatch ----

#[test]
fn a_mismatch_carries_both_values_rendered_as_the_server_writes_them() {
    let cases = [
        (
            ais("xxhash2", HELLO_XXH64).to_vec(),
            "ais-checksum-value (xxhash2) states 26c7827d889f6da3",
            "c500b0c912b376d8",
        ),
        (
            vec![("x-amz-checksum-crc32c", HELLO_CRC32C_B64.as_bytes())],
            "x-amz-checksum-crc32c (crc32c) states mnG7TA==",
            "crUfeA==",
        ),
        (
            vec![("etag", &b"\"5d41402abc4b2a76b9719d911017c592\""[..])],
            "etag (md5) states \"5d41402abc4b2a76b9719d911017c592\"",
            "\"3e25960a79dbc69b674cd4ec67a72c62\"",
        ),
    ];
    for (pairs, states, actual) in cases {
        let expected = expected(&pairs);
        let mut verifier = Verifier::new(expected);
        verifier.update(b"Hello");
        verifier.update(b" world");
        assert_eq!(verifier.len(), 11);
        let mismatch: Mismatch = verifier.finish().unwrap_err();
        assert_eq!(mismatch.expected(), &expected);
        assert_eq!(mismatch.actual(), Digest::of(expected.algorithm(), b"Hello world"));
        assert_eq!(mismatch.algorithm(), expected.algorithm());
        assert_eq!(mismatch.len(), 11);
        assert_eq!(mismatch.render_actual(), actual);
        assert_eq!(
            mismatch.to_string(),
            format!("checksum mismatch: {states}, the 11 bytes received hash to {actual}")
        );
    }
}

#[test]
fn a_truncated_or_empty_body_is_a_mismatch() {
    let e = expected(&ais("crc32c", HELLO_CRC32C));
    let mut verifier = Verifier::new(e);
    verifier.update(b"hell");
    assert!(verifier.finish().is_err());
    let verifier = Verifier::new(e);
    assert!(verifier.is_empty());
    let mismatch = verifier.finish().unwrap_err();
    assert!(mismatch.is_empty());
    assert_eq!(mismatch.render_actual(), "00000000");
}
