//! Known digests of known inputs, in every form a server writes them.
//!
//! The values were computed with independent implementations: Python's `xxhash` 4.1 (the one
//! the AIStore SDK depends on) for XXH64, `hashlib` for MD5, and a table-driven CRC-32C
//! (polynomial 0x82F63B78 reflected); "123456789" → e3069283 is CRC-32C's published check
//! value, and "Hello world" → c500b0c912b376d8 is the XXH64 vector of the AWS CRT's tests.

use stowage_checksum::{Algorithm, Digest, Hasher};

/// One input and its digests as servers write them.
struct Vector {
    input: &'static [u8],
    xxh64: &'static str,
    crc32c: &'static str,
    crc32c_base64: &'static str,
    md5: &'static str,
    md5_base64: &'static str,
}

const VECTORS: &[Vector] = &[
    Vector {
        input: b"",
        xxh64: "ef46db3751d8e999",
        crc32c: "00000000",
        crc32c_base64: "AAAAAA==",
        md5: "d41d8cd98f00b204e9800998ecf8427e",
        md5_base64: "1B2M2Y8AsgTpgAmY7PhCfg==",
    },
    Vector {
        input: b"hello",
        xxh64: "26c7827d889f6da3",
        crc32c: "9a71bb4c",
        crc32c_base64: "mnG7TA==",
        md5: "5d41402abc4b2a76b9719d911017c592",
        md5_base64: "XUFAKrxLKna5cZ2REBfFkg==",
    },
    Vector {
        input: b"123456789",
        xxh64: "8cb841db40e6ae83",
        crc32c: "e3069283",
        crc32c_base64: "4waSgw==",
        md5: "25f9e794323b453885f5181f1b624d0b",
        md5_base64: "JfnnlDI7RTiF9RgfG2JNCw==",
    },
    Vector {
        input: b"Hello world",
        xxh64: "c500b0c912b376d8",
        crc32c: "72b51f78",
        crc32c_base64: "crUfeA==",
        md5: "3e25960a79dbc69b674cd4ec67a72c62",
        md5_base64: "PiWWCnnbxptnTNTsZ6csYg==",
    },
];

/// 3 MiB + 7 bytes of `(i * 2654435761 mod 2^32) >> 24`.
fn pattern() -> Vec<u8> {
    (0..3 * 1024 * 1024 + 7u32).map(|i| (i.wrapping_mul(2_654_435_761) >> 24) as u8).collect()
}

#[test]
fn short_inputs_hash_to_the_published_values() {
    for v in VECTORS {
        let (input, what) = (v.input, String::from_utf8_lossy(v.input));
        assert_eq!(Digest::of(Algorithm::Xxh64, input).to_string(), v.xxh64, "xxh64 of {what:?}");
        assert_eq!(Digest::of(Algorithm::Crc32c, input).to_string(), v.crc32c, "crc32c of {what:?}");
        assert_eq!(Digest::of(Algorithm::Crc32c, input).to_base64(), v.crc32c_base64, "crc32c of {what:?}");
        assert_eq!(Digest::of(Algorithm::Md5, input).to_string(), v.md5, "md5 of {what:?}");
        assert_eq!(Digest::of(Algorithm::Md5, input).to_base64(), v.md5_base64, "md5 of {what:?}");
    }
}

#[test]
fn megabytes_hash_to_the_reference_values_whole_and_in_pieces() {
    let data = pattern();
    let expected = [
        (Algorithm::Xxh64, "a64fe9da3843dd57"),
        (Algorithm::Crc32c, "0d2f1b81"),
        (Algorithm::Md5, "25b853deb8e83dd6350aae9b926a4c90"),
    ];
    for (algorithm, hex) in expected {
        assert_eq!(Digest::of(algorithm, &data).to_string(), hex, "{algorithm} one-shot");
        // Odd piece sizes cross every block boundary of every algorithm (32, 64, 8 bytes).
        for piece in [7, 31, 33, 63, 65, 4096, 1 << 20] {
            let mut hasher = Hasher::new(algorithm);
            data.chunks(piece).for_each(|c| hasher.update(c));
            assert_eq!(hasher.len(), data.len() as u64);
            assert_eq!(hasher.finish().to_string(), hex, "{algorithm} in pieces of {piece}");
        }
    }
}

#[test]
fn digests_render_big_endian() {
    assert_eq!(Digest::Xxh64(0x0102_0304_0506_0708).to_string(), "0102030405060708");
    assert_eq!(Digest::Crc32c(0xab).to_string(), "000000ab");
    assert_eq!(Digest::Crc32c(0xe306_9283).to_be_bytes().as_ref(), [0xe3, 0x06, 0x92, 0x83]);
    assert_eq!(format!("{:?}", Digest::Crc32c(0xe306_9283)), "crc32c:e3069283");
    for algorithm in Algorithm::ALL {
        let digest = Digest::of(algorithm, b"x");
        assert_eq!(digest.to_be_bytes().as_ref().len(), algorithm.digest_len());
        assert_eq!(Digest::from_be_bytes(algorithm, digest.to_be_bytes().as_ref()), Some(digest));
        assert_eq!(Digest::from_be_bytes(algorithm, &[0; 3]), None);
    }
}

#[test]
fn empty_pieces_change_nothing() {
    for algorithm in Algorithm::ALL {
        let mut hasher = Hasher::new(algorithm);
        assert!(hasher.is_empty());
        hasher.update(b"");
        hasher.update(b"hello");
        hasher.update(b"");
        assert_eq!(hasher.finish(), Digest::of(algorithm, b"hello"));
    }
}
