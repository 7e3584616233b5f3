//! Downloads of presigned S3 GET URLs from a real S3 implementation, moto's server
//! ([`stowage_tests::moto`]), with each driver: what a user pointing `stowage get` at S3 gets.
//!
//! A presigned GET URL signs only `GET`: S3 refuses a HEAD of it (moto is told to, see
//! `conformance/s3_moto.py`), so the download must learn the size from its first range. Every
//! scenario runs once through the tokio driver (`stowage_tokio::download::Downloader`) and once
//! through the io_uring driver (`UringDriver`), in each way a caller takes the bytes.
//!
//! Without a Python that has moto the tests are skipped, saying how to run them.

use std::time::Duration;

use stowage_ringslot::transfer::GetError;
use stowage_ringslot::{Config, DownloadError};
use stowage_tests::fetch::{Fetch, Into, PATIENT, SIZE};
use stowage_tests::moto::{Moto, Request};
use stowage_tests::{Driver, with_each_driver};

/// How to run these tests (for the message when they are skipped).
const RUN: &str = "-p stowage-tests --test s3";
const BUCKET: &str = "stowage";

/// 4 workers, 256 KiB ranges, quick retries, no hedging.
fn config() -> Config {
    stowage_tests::fetch::config(4, Duration::from_millis(50))
}

/// `len` bytes that differ with `seed`.
fn object(len: usize, seed: u8) -> Vec<u8> {
    (0..len).map(|i| ((i * 31 + i / 251) as u8).wrapping_add(seed)).collect()
}

/// Each way a caller takes a download's bytes, every byte kept (the checks compare them all).
const EVERY_WAY: [Into; 3] = [Into::Stream, Into::WholeKept, Into::File];

/// Downloads `url` through `driver` with [`config`], consumed `into`. `after_first` runs once
/// the first chunk of a stream is in the consumer's hands (and the download waits for it).
async fn fetch(driver: Driver, url: &str, into: Into, after_first: impl FnOnce()) -> Result<Vec<u8>, GetError> {
    let fetch = Fetch { url, config: config(), timeouts: PATIENT, tls: None };
    fetch.run_then(driver, into, after_first).await.map(|got| got.bytes)
}

/// The reads (GETs and HEADs) of objects moto answered: the downloads' requests (boto3 only
/// creates the bucket and puts).
fn reads(moto: &Moto) -> Vec<Request> {
    let object = format!("/{BUCKET}/");
    let reads = moto.requests().into_iter().filter(|r| r.path.starts_with(&object) && r.method != "PUT");
    reads.collect()
}

with_each_driver!(
    a_presigned_url_is_downloaded_byte_exact_without_a_head,
    a_small_object_with_a_key_to_escape_is_one_range,
    an_empty_object_is_downloaded_as_nothing,
    a_refused_url_ends_with_its_403_unretried,
    an_object_overwritten_mid_download_is_refused,
);

async fn a_presigned_url_is_downloaded_byte_exact_without_a_head(driver: Driver) {
    let Some(moto) = Moto::start(RUN) else { return };
    let data = object(SIZE, 1);
    let url = &moto.put(BUCKET, &[("big.bin", &data)])[0];
    for into in EVERY_WAY {
        let got = fetch(driver, url, into, || {}).await.unwrap();
        assert!(got == data, "{into:?}: {} bytes, not the object's {}", got.len(), data.len());
    }
    let ours = reads(&moto);
    assert!(ours.iter().all(|r| r.method == "GET" && r.status == 206), "{ours:?}");
    // 13 ranges (12 of 256 KiB and 17 bytes) a way, retries aside.
    assert!(ours.len() >= 3 * 13, "{ours:?}");
    // What made the HEAD-first download fail: the server refuses a HEAD of a URL signed for GET.
    let target = url.trim_start_matches(moto.endpoint());
    let head = moto.http("HEAD", target, &[]);
    assert!(head.starts_with("HTTP/1.1 403"), "{head}");
}

async fn a_small_object_with_a_key_to_escape_is_one_range(driver: Driver) {
    let Some(moto) = Moto::start(RUN) else { return };
    let data = object(1000, 2);
    // boto3 percent-encodes the key in the URL; the drivers must send the path as it is.
    let url = &moto.put(BUCKET, &[("dir/a b+c%=é.bin", &data)])[0];
    assert!(url.contains("/dir/a%20b%2Bc%25%3D%C3%A9.bin?"), "{url}");
    for into in EVERY_WAY {
        assert_eq!(fetch(driver, url, into, || {}).await.unwrap(), data, "{into:?}");
    }
    let ours = reads(&moto);
    // One range each way: smaller than a chunk, the first range is all of it.
    assert_eq!(ours.len(), 3, "{ours:?}");
    assert!(ours.iter().all(|r| r.method == "GET" && r.status == 206), "{ours:?}");
}

async fn an_empty_object_is_downloaded_as_nothing(driver: Driver) {
    let Some(moto) = Moto::start(RUN) else { return };
    let url = &moto.put(BUCKET, &[("empty.bin", &[])])[0];
    for into in EVERY_WAY {
        assert_eq!(fetch(driver, url, into, || {}).await.unwrap(), b"", "{into:?}");
    }
    let ours = reads(&moto);
    // S3 (and moto) answer a range of an empty object 416 InvalidRange: one request each way.
    assert_eq!(ours.len(), 3, "{ours:?}");
    assert!(ours.iter().all(|r| r.method == "GET" && r.status == 416), "{ours:?}");
}

async fn a_refused_url_ends_with_its_403_unretried(driver: Driver) {
    let Some(moto) = Moto::start(RUN) else { return };
    // S3 answers a presigned URL past its expiry 403 AccessDenied; moto checks no expiry, and
    // refuses this key by policy instead.
    let url = &moto.put(BUCKET, &[("refused/expired.bin", &object(5000, 3))])[0];
    for into in EVERY_WAY {
        let error = fetch(driver, url, into, || {}).await.unwrap_err();
        assert!(matches!(error, GetError::Download(DownloadError::Status { status: 403, .. })), "{into:?}: {error:?}");
    }
    let ours = reads(&moto);
    // A 403 is the server's last word: one request each way, no retry.
    assert_eq!(ours.len(), 3, "{ours:?}");
    assert!(ours.iter().all(|r| r.method == "GET" && r.status == 403), "{ours:?}");
}

async fn an_object_overwritten_mid_download_is_refused(driver: Driver) {
    let Some(moto) = Moto::start(RUN) else { return };
    let size = 4 * 1024 * 1024;
    let url = &moto.put(BUCKET, &[("changing.bin", &object(size, 4))])[0];
    // Once the first chunk is in: the same key, the same size, other bytes (another ETag).
    let overwrite = || {
        moto.put(BUCKET, &[("changing.bin", &object(size, 5))]);
    };
    let error = fetch(driver, url, Into::Stream, overwrite).await.unwrap_err();
    let GetError::Download(DownloadError::ObjectChanged { header, was, now }) = error else {
        panic!("expected ObjectChanged, got {error:?}")
    };
    assert_eq!(header, "ETag");
    assert_ne!(was, now);
}
