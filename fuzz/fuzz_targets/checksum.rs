//! Fuzzes `Expected::from_headers` with any header map built from the names it reads (and
//! others), any values (empty, padded, repeated, not text), and `Verifier`/`Hasher` with any
//! bytes cut into any pieces, and checks:
//!
//! - nothing panics;
//! - a checksum found reads back as itself from its own rendering, in its own header;
//! - a found checksum is of an algorithm the preference names;
//! - an error or a skip reason never quotes more than 64 characters of a value;
//! - hashing the bytes in the pieces given is hashing them at once, for every algorithm, and a
//!   verifier built from the one-shot digest accepts the pieces.
#![no_main]

use arbitrary::Arbitrary;
use http::{HeaderMap, HeaderName, HeaderValue};
use libfuzzer_sys::fuzz_target;
use stowage_checksum::{Algorithm, ChecksumError, Digest, Expected, Hasher, SkipReason, Source, Verifier};

const NAMES: [&str; 12] = [
    "ais-checksum-type",
    "ais-checksum-value",
    "x-amz-checksum-crc32c",
    "x-amz-checksum-md5",
    "x-amz-checksum-type",
    "x-amz-checksum-sha256",
    "x-amz-checksum-",
    "etag",
    "x-amz-server-side-encryption",
    "x-amz-server-side-encryption-customer-algorithm",
    "content-length",
    "ais-cksum-type",
];

/// Values that make the parser's interesting paths likely.
const WORDS: [&str; 16] = [
    "xxhash",
    "xxhash2",
    "crc32c",
    "md5",
    "none",
    "sha256",
    "COMPOSITE",
    "FULL_OBJECT",
    "aws:kms",
    "AES256",
    "26c7827d889f6da3",
    "9a71bb4c",
    "mnG7TA==",
    "XUFAKrxLKna5cZ2REBfFkg==",
    "\"5d41402abc4b2a76b9719d911017c592\"",
    "W/\"5d41402abc4b2a76b9719d911017c592-2\"",
];

#[derive(Debug, Arbitrary)]
struct Case {
    headers: Vec<(u8, Value)>,
    data: Vec<u8>,
    cuts: Vec<u16>,
}

#[derive(Debug, Arbitrary)]
enum Value {
    Word(u8),
    Padded(u8, bool, bool),
    Bytes(Vec<u8>),
}

impl Value {
    fn bytes(&self) -> Vec<u8> {
        match self {
            Value::Word(w) => WORDS[usize::from(*w) % WORDS.len()].as_bytes().to_vec(),
            Value::Padded(w, before, after) => {
                let word = WORDS[usize::from(*w) % WORDS.len()];
                format!("{}{word}{}", if *before { " \t" } else { "" }, if *after { "\t " } else { "" }).into_bytes()
            }
            Value::Bytes(b) => b.clone(),
        }
    }
}

fn stating(expected: &Expected) -> HeaderMap {
    let mut headers = HeaderMap::new();
    let value = HeaderValue::from_str(&expected.render()).unwrap();
    if let Source::Ais(ty) = expected.source() {
        headers.insert("ais-checksum-type", HeaderValue::from_static(ty.name()));
    }
    headers.insert(HeaderName::from_static(expected.header()), value);
    headers
}

fn headers_case(case: &Case) {
    let mut headers = HeaderMap::new();
    for (name, value) in &case.headers {
        let Ok(value) = HeaderValue::from_bytes(&value.bytes()) else { continue };
        headers.append(NAMES[usize::from(*name) % NAMES.len()], value);
    }
    match Expected::from_headers(&headers) {
        Ok(stated) => {
            for skipped in stated.skipped() {
                if let SkipReason::UnsupportedType(ty) = &skipped.reason {
                    assert!(ty.chars().count() <= 64);
                }
                let _ = skipped.to_string();
            }
            if let Some(expected) = stated.expected() {
                let again = Expected::from_headers(&stating(expected)).unwrap().into_expected().unwrap();
                assert_eq!(&again, expected);
                assert!(Algorithm::ALL.contains(&expected.algorithm()));
                let _ = expected.to_string();
            }
        }
        Err(e) => {
            if let ChecksumError::Malformed { value, .. } = &e {
                assert!(value.chars().count() <= 64);
            }
            let _ = e.to_string();
        }
    }
}

fn bytes_case(case: &Case) {
    let data = &case.data;
    let mut at: Vec<usize> = case.cuts.iter().map(|c| usize::from(*c) % (data.len() + 1)).collect();
    at.sort_unstable();
    for algorithm in Algorithm::ALL {
        let mut hasher = Hasher::new(algorithm);
        let mut start = 0;
        for &end in at.iter().chain([&data.len()]) {
            hasher.update(&data[start..end]);
            start = end;
        }
        assert_eq!(hasher.len(), data.len() as u64);
        let digest = hasher.finish();
        assert_eq!(digest, Digest::of(algorithm, data));

        // A verifier of that digest, stated as AIStore would, accepts the same pieces.
        let mut headers = HeaderMap::new();
        let ty = match algorithm {
            Algorithm::Xxh64 => "xxhash2",
            Algorithm::Crc32c => "crc32c",
            Algorithm::Md5 => "md5",
        };
        headers.insert("ais-checksum-type", HeaderValue::from_static(ty));
        headers.insert("ais-checksum-value", HeaderValue::from_str(&digest.to_string()).unwrap());
        let expected = Expected::from_headers(&headers).unwrap().into_expected().unwrap();
        let mut verifier = Verifier::new(expected);
        let mut start = 0;
        for &end in at.iter().chain([&data.len()]) {
            verifier.update(&data[start..end]);
            start = end;
        }
        assert_eq!(verifier.finish(), Ok(()));
    }
}

fuzz_target!(|case: Case| {
    headers_case(&case);
    bytes_case(&case);
});
