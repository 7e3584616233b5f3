//! The cost of download verification, against the bare hash crates.
//!
//! `checksum/64MiB`: 64 MiB of patterned bytes through each algorithm — a [`Verifier`] built
//! from the response's headers, fed in pieces of 16 KiB (a small body frame) and of 1 MiB (a
//! ring slot), then `finish` — against the crate it wraps called once on the whole slice. The
//! goal is that verifying is far cheaper than the network: above 2 GB/s for XXH64 and CRC-32C.

use std::hint::black_box;
use std::time::Duration;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use http::{HeaderMap, HeaderValue};
use md5::Digest as _;
use stowage_checksum::{Algorithm, Digest, Expected, Verifier};

const LEN: usize = 64 << 20;
/// The piece sizes a driver feeds: a small body frame, a ring slot.
const PIECES: [(&str, usize); 2] = [("16KiB", 16 << 10), ("1MiB", 1 << 20)];

fn data() -> Vec<u8> {
    (0..LEN as u32).map(|i| (i.wrapping_mul(2_654_435_761) >> 24) as u8).collect()
}

/// The headers AIStore sends for `data` under checksum type `ty`.
fn expected(ty: &'static str, algorithm: Algorithm, data: &[u8]) -> Expected {
    let mut headers = HeaderMap::new();
    headers.insert("ais-checksum-type", HeaderValue::from_static(ty));
    let value = Digest::of(algorithm, data).to_string();
    headers.insert("ais-checksum-value", HeaderValue::from_str(&value).unwrap());
    Expected::from_headers(&headers).unwrap().into_expected().unwrap()
}

fn verify(expected: Expected, data: &[u8], piece: usize) {
    let mut verifier = Verifier::new(expected);
    for piece in data.chunks(piece) {
        verifier.update(piece);
    }
    verifier.finish().unwrap();
}

fn bench_checksum(c: &mut Criterion) {
    let data = data();
    let mut group = c.benchmark_group("checksum/64MiB");
    group.throughput(Throughput::Bytes(LEN as u64));
    group.sample_size(10).warm_up_time(Duration::from_secs(1)).measurement_time(Duration::from_secs(8));

    let cases = [
        ("xxh64", expected("xxhash2", Algorithm::Xxh64, &data)),
        ("crc32c", expected("crc32c", Algorithm::Crc32c, &data)),
        ("md5", expected("md5", Algorithm::Md5, &data)),
    ];
    for (name, expected) in cases {
        for (size, piece) in PIECES {
            group.bench_function(format!("verifier/{name}/{size}"), |b| {
                b.iter(|| verify(black_box(expected), black_box(&data), piece))
            });
        }
        match expected.algorithm() {
            Algorithm::Xxh64 => {
                group.bench_function("xxhash-rust/xxh64", |b| b.iter(|| xxhash_rust::xxh64::xxh64(black_box(&data), 0)))
            }
            Algorithm::Crc32c => group.bench_function("crc32c/crc32c", |b| b.iter(|| crc32c::crc32c(black_box(&data)))),
            Algorithm::Md5 => group.bench_function("md-5/md5", |b| b.iter(|| md5::Md5::digest(black_box(&data)))),
        };
    }
    group.finish();
}

criterion_group!(benches, bench_checksum);
criterion_main!(benches);
