//! Parallel ranged downloads against the embedded cluster, with each driver: generated objects
//! checked byte for byte against their seed, a bandwidth cap and first-byte latency, every
//! per-range fault the cluster can inject, and hedging. Every scenario runs once through the
//! tokio driver (`stowage_tokio::download`) and once through the io_uring driver
//! (`UringDriver::get` / `download`), so both are held to one list.

use std::time::Duration;

use stowage_cluster::{Cluster, ClusterConfig, Generator, Link, RangeFault, RangeFaultRule};
use stowage_proto::Timeouts;
use stowage_proto::ais::{Bucket, Provider};
use stowage_ringslot::transfer::GetError;
use stowage_ringslot::{Config, DownloadError, Hedge, Summary};
use stowage_tests::fetch::{CHUNK, Fetch, Into};
use stowage_tests::{Driver, with_each_driver};
use stowage_tokio::download::Downloader;
use stowage_uring::UringDriver;

const SIZE: u64 = 3 * 1024 * 1024 + 17;

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
    stowage_tests::fetch::config(4, Duration::from_millis(50))
}

fn timeouts() -> Timeouts {
    Timeouts { connect: Duration::from_secs(2), read: Duration::from_millis(400) }
}

/// The ways a download is consumed here: in order, and whole (every byte kept: io_uring's into
/// a file).
const BOTH_WAYS: [Into; 2] = [Into::Stream, Into::WholeKept];

/// Downloads `url` with `config` through `driver`, consumed `into`: both drivers take the same
/// `Config`.
async fn fetch(driver: Driver, url: &str, config: Config, into: Into) -> Result<Vec<u8>, GetError> {
    Fetch { url, config, timeouts: timeouts(), tls: None }.run(driver, into).await.map(|got| got.bytes)
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
    an_interrupted_download_continues_with_only_the_missing_ranges,
    a_download_is_not_continued_on_an_object_that_changed,
);

async fn stream_and_whole_downloads_are_byte_exact(driver: Driver) {
    let (cluster, url) = cluster().await;
    assert!(fetch(driver, &url, config(), Into::Stream).await.unwrap() == expected());
    assert!(fetch(driver, &url, config(), Into::WholeKept).await.unwrap() == expected());
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
    assert!(fetch(driver, &url, config(), Into::WholeKept).await.unwrap() == expected());
    assert!(cluster.stats().faults_injected >= 10);
    cluster.shutdown().await;
}

async fn hostile_range_answers_end_the_download(driver: Driver) {
    let (cluster, url) = cluster().await;
    cluster.add_range_fault(RangeFaultRule::new(RangeFault::WrongContentRange).skip(3).times(1));
    let error = fetch(driver, &url, config(), Into::Stream).await.unwrap_err();
    assert!(matches!(error, GetError::Download(DownloadError::WrongRange { .. })), "{error:?}");
    // Another object: range requests of the first download the client gave up on may still reach
    // the server, and must not use up this rule.
    cluster.put_generated(&Bucket::new("local", Provider::Ais), "other.bin", SIZE);
    let path = "/v1/objects/local/other.bin";
    // A server that honoured Range (the first range) and then sends a whole object is broken,
    // not one that ignores Range.
    cluster.add_range_fault(RangeFaultRule::new(RangeFault::IgnoreRange).path_prefix(path).skip(1).times(1));
    let other = format!("{}{path}?provider=ais", cluster.url());
    let error = fetch(driver, &other, config(), Into::WholeKept).await.unwrap_err();
    assert!(matches!(error, GetError::Download(DownloadError::RangeIgnored { .. })), "{error:?}");
    cluster.shutdown().await;
}

async fn a_server_that_ignores_range_is_read_as_one_stream(driver: Driver) {
    let (cluster, url) = cluster().await;
    cluster.add_range_fault(RangeFaultRule::new(RangeFault::IgnoreRange));
    assert!(fetch(driver, &url, config(), Into::Stream).await.unwrap() == expected());
    assert!(fetch(driver, &url, config(), Into::WholeKept).await.unwrap() == expected());
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
    for into in BOTH_WAYS {
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
    assert!(fetch(driver, &url, config(), Into::WholeKept).await.unwrap() == expected());
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

/// The summary of a download of `url` through `driver`, consumed `into`.
async fn summary(driver: Driver, url: &str, config: Config, into: Into) -> Summary {
    Fetch { url, config, timeouts: timeouts(), tls: None }.run(driver, into).await.unwrap().summary
}

async fn the_stated_checksum_is_verified_in_every_mode(driver: Driver) {
    let (cluster, url) = cluster().await;
    let stated = format!("{:016x}", xxhash_rust::xxh64::xxh64(&expected(), 0));
    for into in BOTH_WAYS {
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
    for into in BOTH_WAYS {
        cluster.add_range_fault(RangeFaultRule::new(RangeFault::Corrupt).skip(5).times(1));
        let error = fetch(driver, &url, config(), into).await.unwrap_err();
        let GetError::Download(DownloadError::Integrity(mismatch)) = &error else { panic!("{into:?}: {error:?}") };
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
    let result = to_file(driver, &url, config(), &path, false).await;
    assert!(matches!(result, Err(GetError::Download(DownloadError::Integrity(_)))), "{result:?}");
    for left in [path.clone(), part_of(&path), journal_of(&path)] {
        assert!(!left.exists(), "{} was left behind", left.display());
    }
    cluster.shutdown().await;
}

fn part_of(path: &std::path::Path) -> std::path::PathBuf {
    format!("{}.part", path.display()).into()
}

fn journal_of(path: &std::path::Path) -> std::path::PathBuf {
    format!("{}.part.journal", path.display()).into()
}

/// Downloads `url` into `path` through `driver`: anew, or continuing (`resume`).
async fn to_file(
    driver: Driver,
    url: &str,
    config: Config,
    path: &std::path::Path,
    resume: bool,
) -> Result<Summary, GetError> {
    match driver {
        Driver::Tokio => {
            let downloader = Downloader::for_url(url, timeouts()).unwrap();
            match resume {
                true => downloader.resume(url, config, path).await,
                false => downloader.download(url, config, path).await,
            }
        }
        Driver::Uring => {
            let (url, path) = (url.to_owned(), path.to_owned());
            tokio::task::spawn_blocking(move || {
                let mut driver = UringDriver::new(&url, timeouts()).unwrap();
                match resume {
                    true => driver.resume(&url, config, &path),
                    false => driver.download(&url, config, &path),
                }
            })
            .await
            .unwrap()
        }
    }
}

/// A download into a fresh file interrupted after the first 6 ranges: the server answers the
/// seventh with 404 (an error no retry mends).
async fn interrupted(driver: Driver, cluster: &Cluster, url: &str, name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("stowage-resume-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(format!("{name}-{driver:?}.bin"));
    let config = Config { workers: 1, ..config() };
    cluster.add_range_fault(RangeFaultRule::new(RangeFault::Status { status: 404 }).skip(6).times(1));
    let error = to_file(driver, url, config, &path, false).await.unwrap_err();
    assert!(matches!(error, GetError::Download(DownloadError::Status { status: 404, .. })), "{error:?}");
    assert!(!path.exists(), "an incomplete download is never FILE");
    assert!(part_of(&path).exists() && journal_of(&path).exists());
    path
}

async fn an_interrupted_download_continues_with_only_the_missing_ranges(driver: Driver) {
    let (cluster, url) = cluster().await;
    let path = interrupted(driver, &cluster, &url, "continue").await;
    let before = cluster.stats().object_gets;
    let summary = to_file(driver, &url, config(), &path, true).await.unwrap();
    let ranges = SIZE.div_ceil(CHUNK);
    assert_eq!(summary.resumed, 6 * CHUNK, "the 6 ranges before the 404 were kept");
    assert_eq!(summary.bytes + summary.resumed, SIZE);
    assert_eq!(cluster.stats().object_gets - before, ranges - 6, "only the missing ranges are fetched");
    assert!(summary.verified.is_some(), "the whole file is verified, the kept bytes too");
    assert!(std::fs::read(&path).unwrap() == expected());
    assert!(!part_of(&path).exists() && !journal_of(&path).exists());
    // Nothing to continue: a new download.
    let summary = to_file(driver, &url, config(), &path, true).await.unwrap();
    assert_eq!((summary.resumed, summary.bytes), (0, SIZE));
    let _ = std::fs::remove_file(&path);
    cluster.shutdown().await;
}

async fn a_download_is_not_continued_on_an_object_that_changed(driver: Driver) {
    let (cluster, url) = cluster().await;
    let path = interrupted(driver, &cluster, &url, "changed").await;
    // Written again (same size, new version): the kept bytes may be of the old one.
    cluster.put_generated(&Bucket::new("local", Provider::Ais), "big.bin", SIZE);
    let error = to_file(driver, &url, config(), &path, true).await.unwrap_err();
    let GetError::Download(DownloadError::ObjectChanged { header, .. }) = error else { panic!("{error:?}") };
    assert_eq!(header, "ais-version");
    assert!(!path.exists());
    // Anew, it is downloaded whole.
    assert_eq!(to_file(driver, &url, config(), &path, false).await.unwrap().resumed, 0);
    assert!(std::fs::read(&path).unwrap() == expected());
    let _ = std::fs::remove_file(&path);
    cluster.shutdown().await;
}
