//! Properties against simple models: hashing in pieces is hashing at once, and every digest
//! written in a server's form reads back as itself.

use http::{HeaderMap, HeaderValue};
use proptest::prelude::*;
use stowage_checksum::{AisType, Algorithm, Digest, Expected, Hasher, Source, Verifier};

fn algorithm() -> impl Strategy<Value = Algorithm> {
    prop::sample::select(Algorithm::ALL.to_vec())
}

/// `data` cut at `cuts` (any positions, any order, repeats: empty pieces included).
fn pieces<'a>(data: &'a [u8], cuts: &[usize]) -> Vec<&'a [u8]> {
    let mut at: Vec<usize> = cuts.iter().map(|c| c % (data.len() + 1)).collect();
    at.sort_unstable();
    let mut out = Vec::new();
    let mut start = 0;
    for end in at.into_iter().chain([data.len()]) {
        out.push(&data[start..end]);
        start = end;
    }
    out
}

/// A digest of `algorithm` with arbitrary bytes.
fn digest(algorithm: Algorithm, bytes: &[u8; 16]) -> Digest {
    Digest::from_be_bytes(algorithm, &bytes[..algorithm.digest_len()]).unwrap()
}

/// The headers a server of `source` kind would send for `digest`, where that source can
/// state its algorithm.
fn stating(digest: Digest, source: Source) -> Option<HeaderMap> {
    let mut headers = HeaderMap::new();
    let put = |headers: &mut HeaderMap, name: &'static str, value: String| {
        headers.insert(name, HeaderValue::from_str(&value).unwrap());
    };
    match (source, digest.algorithm()) {
        (Source::Ais(ty), algorithm) if ty.algorithm() == algorithm => {
            put(&mut headers, "ais-checksum-type", ty.name().to_owned());
            put(&mut headers, "ais-checksum-value", digest.to_string());
        }
        (Source::AmzChecksum, Algorithm::Crc32c) => put(&mut headers, "x-amz-checksum-crc32c", digest.to_base64()),
        (Source::AmzChecksum, Algorithm::Md5) => put(&mut headers, "x-amz-checksum-md5", digest.to_base64()),
        (Source::ETag, Algorithm::Md5) => put(&mut headers, "etag", format!("\"{digest}\"")),
        _ => return None,
    }
    Some(headers)
}

fn source() -> impl Strategy<Value = Source> {
    prop::sample::select(vec![
        Source::Ais(AisType::Xxhash),
        Source::Ais(AisType::Xxhash2),
        Source::Ais(AisType::Crc32c),
        Source::Ais(AisType::Md5),
        Source::AmzChecksum,
        Source::ETag,
    ])
}

proptest! {
    #[test]
    fn hashing_in_pieces_is_hashing_at_once(
        algorithm in algorithm(),
        data in prop::collection::vec(any::<u8>(), 0..2048),
        cuts in prop::collection::vec(any::<usize>(), 0..12),
    ) {
        let mut hasher = Hasher::new(algorithm);
        for piece in pieces(&data, &cuts) {
            hasher.update(piece);
        }
        prop_assert_eq!(hasher.len(), data.len() as u64);
        prop_assert_eq!(hasher.finish(), Digest::of(algorithm, &data));
    }

    #[test]
    fn a_verifier_accepts_the_stated_bytes_in_any_pieces_and_refuses_one_flipped_bit(
        algorithm in algorithm(),
        source in source(),
        data in prop::collection::vec(any::<u8>(), 1..2048),
        cuts in prop::collection::vec(any::<usize>(), 0..12),
        flip in any::<prop::sample::Index>(),
        bit in 0..8u8,
    ) {
        let Some(headers) = stating(Digest::of(algorithm, &data), source) else { return Ok(()) };
        let expected = Expected::from_headers(&headers).unwrap().into_expected().unwrap();
        let mut verifier = Verifier::new(expected);
        pieces(&data, &cuts).into_iter().for_each(|p| verifier.update(p));
        prop_assert_eq!(verifier.finish(), Ok(()));

        let mut corrupt = data.clone();
        corrupt[flip.index(data.len())] ^= 1 << bit;
        let mut verifier = Verifier::new(expected);
        pieces(&corrupt, &cuts).into_iter().for_each(|p| verifier.update(p));
        let mismatch = verifier.finish().unwrap_err();
        prop_assert_eq!(mismatch.actual(), Digest::of(algorithm, &corrupt));
    }

    #[test]
    fn every_digest_written_in_a_servers_form_reads_back_as_itself(
        algorithm in algorithm(),
        source in source(),
        bytes in any::<[u8; 16]>(),
    ) {
        let digest = digest(algorithm, &bytes);
        let Some(headers) = stating(digest, source) else { return Ok(()) };
        let expected = Expected::from_headers(&headers).unwrap().into_expected().unwrap();
        prop_assert_eq!(expected.digest(), digest);
        prop_assert_eq!(expected.source(), source);
        let written = headers.get(expected.header()).unwrap().to_str().unwrap();
        prop_assert_eq!(expected.render(), written);
    }

    #[test]
    fn hex_case_and_optional_whitespace_do_not_change_an_ais_value(
        bytes in any::<[u8; 16]>(),
        upper in prop::collection::vec(any::<bool>(), 32),
        before in "[ \t]{0,3}",
        after in "[ \t]{0,3}",
    ) {
        let digest = digest(Algorithm::Md5, &bytes);
        let mixed: String = digest.to_string().chars().zip(&upper)
            .map(|(c, &u)| if u { c.to_ascii_uppercase() } else { c })
            .collect();
        let mut headers = HeaderMap::new();
        headers.insert("ais-checksum-type", HeaderValue::from_static("md5"));
        headers.insert("ais-checksum-value", HeaderValue::from_str(&format!("{before}{mixed}{after}")).unwrap());
        let expected = Expected::from_headers(&headers).unwrap().into_expected().unwrap();
        prop_assert_eq!(expected.digest(), digest);
    }

    #[test]
    fn arbitrary_header_values_never_panic(
        names in prop::collection::vec(prop::sample::select(vec![
            "ais-checksum-type", "ais-checksum-value", "x-amz-checksum-crc32c", "x-amz-checksum-md5",
            "x-amz-checksum-type", "x-amz-checksum-sha256", "etag", "x-amz-server-side-encryption",
        ]), 0..6),
        values in prop::collection::vec(prop::collection::vec(any::<u8>(), 0..40), 6),
    ) {
        let mut headers = HeaderMap::new();
        for (name, value) in names.iter().zip(&values) {
            if let Ok(value) = HeaderValue::from_bytes(value) {
                headers.append(*name, value);
            }
        }
        if let Ok(stated) = Expected::from_headers(&headers)
            && let Some(expected) = stated.expected()
        {
            // What was found reads back from its own rendering.
            let again = stating(expected.digest(), expected.source()).unwrap();
            let read = Expected::from_headers(&again).unwrap().into_expected().unwrap();
            prop_assert_eq!(read.digest(), expected.digest());
        }
    }
}
