//! Parallel ranged downloads against the embedded cluster, with each driver: generated objects
//! checked byte for byte against their seed, a bandwidth cap and first-byte latency, every
//! per-range fault the cluster can inject, and hedging. Every scenario runs once through the
//! tokio driver (`stowage_tokio::download`) and once through the io_uring driver
//! (`UringDriver::get` / `download`), so both are held to one list.

use std::time::Duration;

use futures_util::StreamExt;
use stowage_cluster::{Cluster, ClusterConfig, Generator, Link, RangeFault, RangeFaultRule};
use stowage_proto::ais::{Bucket, Provider};
use stowage_proto::{Backoff, Timeouts};
use stowage_ringslot::transfer::GetError;
use stowage_ringslot::{Config, DownloadError, Hedge, RetryPolicy, Summary};
use stowage_tests::{Driver, with_each_driver};
use stowage_tokio::download::Downloader;
use stowage_uring::UringDriver;

const SIZE: u64 = 3 * 1024 * 1024 + 17;
const CHUNK: u64 = 256 * 1024;

async fn cluster() -> (Cluster, String) {
    let cluster = Cluster::start(ClusterConfig::default()).await.unwrap();
    cluster.put_generated(&Bucket::new("local", Provider::Ais), "big.bin", SIZE);
    let url = format!("{}/v1/objects/local/big.bin?provider=ais", cluster.url());
    (cluster, url)
}

fn expected() -> Vec<u8> {
    let mut all = vec![0; SIZE as usize];
    Generator::for_object("big.bin").fill(0, &mut all);
    all
}

/// The settings of every scenario: 4 workers, 256 KiB ranges, quick retries, no hedging (but
/// where a scenario hedges), and a short read timeout ([`timeouts`]).
fn config() -> Config {
    Config {
        workers: 4,
        chunk: Some(CHUNK),
        retry: RetryPolicy {
            max_attempts: 4,
            backoff: Backoff { multiplier: 0.01, min: Duration::from_millis(5), max: Duration::from_millis(50) },
        },
        hedge: None,
        ..Config::default()
    }
}

fn timeouts() -> Timeouts {
    Timeouts { connect: Duration::from_secs(2), read: Duration::from_millis(400) }
}

/// How a download is consumed.
#[derive(Clone, Copy, Debug)]
enum Into {
    /// In order (`get`).
    Stream,
    /// Whole: into memory (tokio's `read_all`) or a file (io_uring's `download`).
    Whole,
}

/// The machine's verdict when a download fails, else what else went wrong.
#[derive(Debug)]
enum Failed {
    Download(DownloadError),
    Other(#[expect(dead_code, reason = "shown by the assertions' Debug output")] String),
}

/// What a driver's download error says: the machine's verdict, or what else went wrong.
fn failed(error: GetError) -> Failed {
    match error {
        GetError::Download(error) => Failed::Download(error),
        other => Failed::Other(other.to_string()),
    }
}

/// Downloads `url` with `config` through `driver`, consumed `into`: both drivers take the same
/// `Config`.
async fn fetch(driver: Driver, url: &str, config: Config, into: Into) -> Result<Vec<u8>, Failed> {
    match driver {
        Driver::Tokio => tokio_fetch(url, config, into).await,
        Driver::Uring => {
            let url = url.to_owned();
            tokio::task::spawn_blocking(move || uring_fetch(&url, config, into)).await.unwrap()
        }
    }
}

async fn tokio_fetch(url: &str, config: Config, into: Into) -> Result<Vec<u8>, Failed> {
    let downloader = Downloader::for_url(url, timeouts()).map_err(failed)?;
    match into {
        Into::Stream => {
            let mut stream = downloader.get(url, config).map_err(failed)?;
            let mut all = Vec::new();
            while let Some(chunk) = stream.next().await {
                all.extend_from_slice(&chunk.map_err(failed)?);
            }
            Ok(all)
        }
        Into::Whole => downloader.read_all(url, config).await.map(|got| got.bytes.to_vec()).map_err(failed),
    }
}

fn uring_fetch(url: &str, config: Config, into: Into) -> Result<Vec<u8>, Failed> {
    // Origin-form requests go to the endpoint; the URL's own authority is the same server.
    let mut driver = UringDriver::new(url, timeouts()).map_err(|e| Failed::Other(e.to_string()))?;
    match into {
        Into::Stream => {
            let mut download = driver.get(url, config).map_err(failed)?;
            let mut all = Vec::new();
            while let Some(chunk) = download.next_chunk().map_err(failed)? {
                all.extend_from_slice(chunk);
            }
            Ok(all)
        }
        Into::Whole => {
            let dir = std::env::temp_dir().join(format!("stowage-download-{}", std::process::id()));
            std::fs::create_dir_all(&dir).unwrap();
            let path = dir.join(format!("{:?}.bin", std::thread::current().id()));
            let result = driver.download(url, config, &path).map_err(failed);
            let bytes = std::fs::read(&path).unwrap_or_default();
            let _ = std::fs::remove_file(&path);
            result.map(|_| bytes)
        }
    }
}

with_each_driver!(
    stream_and_whole_downloads_are_byte_exact,
    retryable_range_faults_are_survived_byte_exact,
    hostile_range_answers_end_the_download,
    a_server_that_ignores_range_is_read_as_one_stream,
    through_the_proxy_the_target_is_learned_once,
    a_target_lost_mid_download_is_left_for_the_new_owner_byte_exact,
    a_capped_link_still_delivers_everything,
    a_straggler_is_hedged_and_delivered_once,
    the_stated_checksum_is_verified_in_every_mode,
    bytes_that_do_not_match_the_checksum_fail_and_leave_no_file,
);

async fn stream_and_whole_downloads_are_byte_exact(driver: Driver) {
    let (cluster, url) = cluster().await;
    assert!(fetch(driver, &url, config(), Into::Stream).await.unwrap() == expected());
    assert!(fetch(driver, &url, config(), Into::Whole).await.unwrap() == expected());
    let one_slot_each = Config { slots: Some(4), ..config() };
    assert!(fetch(driver, &url, one_slot_each, Into::Stream).await.unwrap() == expected());
    cluster.shutdown().await;
}

async fn retryable_range_faults_are_survived_byte_exact(driver: Driver) {
    let (cluster, url) = cluster().await;
    let faults = || {
        cluster.add_range_fault(RangeFaultRule::new(RangeFault::Status { status: 503 }).skip(1).every(5).times(2));
        cluster.add_range_fault(RangeFaultRule::new(RangeFault::CutMidBody).skip(2).every(5).times(2));
        cluster.add_range_fault(RangeFaultRule::new(RangeFault::StallMidBody { ms: 2_000 }).skip(3).every(7).times(1));
    };
    faults();
    assert!(fetch(driver, &url, config(), Into::Stream).await.unwrap() == expected());
    assert!(cluster.stats().faults_injected >= 5);
    faults();
    assert!(fetch(driver, &url, config(), Into::Whole).await.unwrap() == expected());
    assert!(cluster.stats().faults_injected >= 10);
    cluster.shutdown().await;
}

async fn hostile_range_answers_end_the_download(driver: Driver) {
    let (cluster, url) = cluster().await;
    cluster.add_range_fault(RangeFaultRule::new(RangeFault::WrongContentRange).skip(3).times(1));
    let error = fetch(driver, &url, config(), Into::Stream).await.unwrap_err();
    assert!(matches!(error, Failed::Download(DownloadError::WrongRange { .. })), "{error:?}");
    // Another object: range requests of the first download the client gave up on may still reach
    // the server, and must not use up this rule.
    cluster.put_generated(&Bucket::new("local", Provider::Ais), "other.bin", SIZE);
    let path = "/v1/objects/local/other.bin";
    // A server that honoured Range (the first range) and then sends a whole object is broken,
    // not one that ignores Range.
    cluster.add_range_fault(RangeFaultRule::new(RangeFault::IgnoreRange).path_prefix(path).skip(1).times(1));
    let other = format!("{}{path}?provider=ais", cluster.url());
    let error = fetch(driver, &other, config(), Into::Whole).await.unwrap_err();
    assert!(matches!(error, Failed::Download(DownloadError::RangeIgnored { .. })), "{error:?}");
    cluster.shutdown().await;
}

async fn a_server_that_ignores_range_is_read_as_one_stream(driver: Driver) {
    let (cluster, url) = cluster().await;
    cluster.add_range_fault(RangeFaultRule::new(RangeFault::IgnoreRange));
    assert!(fetch(driver, &url, config(), Into::Stream).await.unwrap() == expected());
    assert!(fetch(driver, &url, config(), Into::Whole).await.unwrap() == expected());
    cluster.shutdown().await;
}

/// A cluster of one proxy and three targets holding the object; its URL through the proxy.
async fn topology() -> (Cluster, String) {
    let cluster = Cluster::start(ClusterConfig { targets: Some(3), ..ClusterConfig::default() }).await.unwrap();
    cluster.put_generated(&Bucket::new("local", Provider::Ais), "big.bin", SIZE);
    let url = format!("{}/v1/objects/local/big.bin?provider=ais", cluster.url());
    (cluster, url)
}

async fn through_the_proxy_the_target_is_learned_once(driver: Driver) {
    let (cluster, url) = topology().await;
    for into in [Into::Stream, Into::Whole] {
        let before = cluster.stats();
        assert!(fetch(driver, &url, config(), into).await.unwrap() == expected());
        let after = cluster.stats();
        // The first range (sizing the object) meets the proxy's 307; every range after it goes
        // straight to the target.
        assert_eq!((after.proxy_requests - before.proxy_requests, after.redirects - before.redirects), (1, 1));
    }
    cluster.shutdown().await;
}

async fn a_target_lost_mid_download_is_left_for_the_new_owner_byte_exact(driver: Driver) {
    let (cluster, url) = topology().await;
    // Slow enough (4 workers × 4 MiB/s) that the owner goes while ranges are in flight.
    cluster.set_link(Link { bytes_per_sec: Some(4 << 20), first_byte: Duration::ZERO });
    let owner = cluster.owner(&Bucket::new("local", Provider::Ais), "big.bin").unwrap();
    let cluster = std::sync::Arc::new(cluster);
    let killer = {
        let cluster = std::sync::Arc::clone(&cluster);
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(100)).await;
            // As AIStore does once its keepalive notices: the target is down and out of the map.
            cluster.stop_target(&owner.id).await.unwrap();
            cluster.start_maintenance(&owner.id).await.unwrap();
        })
    };
    let got = fetch(driver, &url, config(), Into::Stream).await.unwrap();
    killer.await.unwrap();
    assert!(got == expected());
    let stats = cluster.stats();
    assert!(stats.redirects >= 2, "the proxy pointed at the new owner: {stats:?}");
}

async fn a_capped_link_still_delivers_everything(driver: Driver) {
    let (cluster, url) = cluster().await;
    cluster.set_link(Link { bytes_per_sec: Some(20 << 20), first_byte: Duration::from_millis(5) });
    assert!(fetch(driver, &url, config(), Into::Whole).await.unwrap() == expected());
    cluster.shutdown().await;
}

async fn a_straggler_is_hedged_and_delivered_once(driver: Driver) {
    let (cluster, url) = cluster().await;
    // One range stalls far longer than the read timeout allows… unless its hedge wins first.
    cluster.add_range_fault(RangeFaultRule::new(RangeFault::Delay { ms: 1_500 }).skip(6).times(1));
    let hedge = Hedge { factor: 3.0, min_samples: 4, floor: Duration::from_millis(20) };
    let config = Config { hedge: Some(hedge), ..config() };
    assert!(fetch(driver, &url, config, Into::Stream).await.unwrap() == expected());
    cluster.shutdown().await;
}

/// The summary of a download of `url` through `driver`, consumed `into` (the bytes dropped).
async fn summary(driver: Driver, url: &str, config: Config, into: Into) -> Summary {
    match driver {
        Driver::Tokio => {
            let downloader = Downloader::for_url(url, timeouts()).unwrap();
            match into {
                Into::Stream => {
                    let mut stream = downloader.get(url, config).unwrap();
                    while let Some(chunk) = stream.next().await {
                        chunk.unwrap();
                    }
                    stream.summary().unwrap()
                }
                Into::Whole => downloader.read_all(url, config).await.unwrap().summary,
            }
        }
        Driver::Uring => {
            let url = url.to_owned();
            tokio::task::spawn_blocking(move || {
                let mut driver = UringDriver::new(&url, timeouts()).unwrap();
                match into {
                    Into::Stream => {
                        let mut download = driver.get(&url, config).unwrap();
                        while download.next_chunk().unwrap().is_some() {}
                        download.summary()
                    }
                    Into::Whole => {
                        let path = std::env::temp_dir().join(format!("stowage-summary-{}.bin", std::process::id()));
                        let summary = driver.download(&url, config, &path).unwrap();
                        let _ = std::fs::remove_file(&path);
                        summary
                    }
                }
            })
            .await
            .unwrap()
        }
    }
}

async fn the_stated_checksum_is_verified_in_every_mode(driver: Driver) {
    let (cluster, url) = cluster().await;
    let stated = format!("{:016x}", xxhash_rust::xxh64::xxh64(&expected(), 0));
    for into in [Into::Stream, Into::Whole] {
        let verified = summary(driver, &url, config(), into).await.verified.expect("verified");
        assert_eq!((verified.header(), verified.render()), ("ais-checksum-value", stated.clone()), "{into:?}");
        let unverified = Config { verify: false, ..config() };
        assert_eq!(summary(driver, &url, unverified, into).await.verified, None, "{into:?}");
    }
    // A part of the object cannot be checked against the whole's checksum, and is not.
    let part = Config { offset: 1000, end: Some(SIZE - 1000), ..config() };
    assert_eq!(summary(driver, &url, part, Into::Stream).await.verified, None);
    cluster.shutdown().await;
}

async fn bytes_that_do_not_match_the_checksum_fail_and_leave_no_file(driver: Driver) {
    let (cluster, url) = cluster().await;
    for into in [Into::Stream, Into::Whole] {
        cluster.add_range_fault(RangeFaultRule::new(RangeFault::Corrupt).skip(5).times(1));
        let error = fetch(driver, &url, config(), into).await.unwrap_err();
        let Failed::Download(DownloadError::Integrity(mismatch)) = &error else { panic!("{into:?}: {error:?}") };
        assert_eq!(mismatch.len(), SIZE, "{into:?}");
        assert!(mismatch.to_string().starts_with("checksum mismatch: ais-checksum-value (xxhash2) states "));
        // Asked not to verify, the same corruption goes through.
        cluster.add_range_fault(RangeFaultRule::new(RangeFault::Corrupt).skip(5).times(1));
        let got = fetch(driver, &url, Config { verify: false, ..config() }, into).await.unwrap();
        assert!(got.len() as u64 == SIZE && got != expected(), "{into:?}");
    }
    // Into a file: nothing is left that looks complete.
    let path = std::env::temp_dir().join(format!("stowage-mismatch-{driver:?}-{}.bin", std::process::id()));
    cluster.add_range_fault(RangeFaultRule::new(RangeFault::Corrupt).skip(5).times(1));
    let result = match driver {
        Driver::Tokio => Downloader::for_url(&url, timeouts()).unwrap().download(&url, config(), &path).await,
        Driver::Uring => {
            let (url, path) = (url.clone(), path.clone());
            tokio::task::spawn_blocking(move || {
                UringDriver::new(&url, timeouts()).unwrap().download(&url, config(), &path)
            })
            .await
            .unwrap()
        }
    };
    assert!(matches!(result, Err(GetError::Download(DownloadError::Integrity(_)))), "{result:?}");
    assert!(!path.exists(), "{} was left behind", path.display());
    cluster.shutdown().await;
}
