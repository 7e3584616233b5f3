//! Parallel ranged downloads through the tokio driver against the embedded cluster: generated
//! objects checked byte for byte against their seed, a bandwidth cap and first-byte latency,
//! and every per-range fault the cluster can inject.

use std::time::Duration;

use futures_util::StreamExt;
use stowage_cluster::{Cluster, ClusterConfig, Generator, Link, RangeFault, RangeFaultRule};
use stowage_proto::Backoff;
use stowage_proto::ais::{Bucket, Provider};
use stowage_ringslot::{DownloadError, RetryPolicy};
use stowage_tokio::Timeouts;
use stowage_tokio::download::{self, DownloadOptions, GetError};

const SIZE: u64 = 3 * 1024 * 1024 + 17;
const CHUNK: u64 = 256 * 1024;

async fn cluster() -> (Cluster, String) {
    let cluster = Cluster::start(ClusterConfig::default()).await.unwrap();
    cluster.put_generated(&Bucket::new("local", Provider::Ais), "big.bin", SIZE);
    let url = format!("{}/v1/objects/local/big.bin?provider=ais", cluster.url());
    (cluster, url)
}

fn options() -> DownloadOptions {
    DownloadOptions {
        workers: 4,
        chunk: Some(CHUNK),
        retry: RetryPolicy {
            max_attempts: 4,
            backoff: Backoff { multiplier: 0.01, min: Duration::from_millis(5), max: Duration::from_millis(50) },
        },
        timeouts: Timeouts { connect: Duration::from_secs(2), read: Duration::from_millis(400) },
        ..DownloadOptions::default()
    }
}

fn expected() -> Vec<u8> {
    let mut all = vec![0; SIZE as usize];
    Generator::for_object("big.bin").fill(0, &mut all);
    all
}

async fn stream(url: &str, options: DownloadOptions) -> Result<Vec<u8>, GetError> {
    let mut stream = download::get(url, options)?;
    let mut all = Vec::new();
    while let Some(chunk) = stream.next().await {
        all.extend_from_slice(&chunk?);
    }
    Ok(all)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stream_and_read_all_are_byte_exact() {
    let (cluster, url) = cluster().await;
    assert!(stream(&url, options()).await.unwrap() == expected());
    assert!(download::read_all(&url, options()).await.unwrap() == expected());
    cluster.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retryable_range_faults_are_survived_byte_exact() {
    let (cluster, url) = cluster().await;
    cluster.add_range_fault(RangeFaultRule::new(RangeFault::Status { status: 503 }).skip(1).every(5).times(2));
    cluster.add_range_fault(RangeFaultRule::new(RangeFault::CutMidBody).skip(2).every(5).times(2));
    cluster.add_range_fault(RangeFaultRule::new(RangeFault::StallMidBody { ms: 2_000 }).skip(3).every(7).times(1));
    assert!(stream(&url, options()).await.unwrap() == expected());
    assert!(cluster.stats().faults_injected >= 5);
    cluster.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_range_answers_end_the_download() {
    let (cluster, url) = cluster().await;
    cluster.add_range_fault(RangeFaultRule::new(RangeFault::WrongContentRange).skip(3).times(1));
    let error = stream(&url, options()).await.unwrap_err();
    assert!(matches!(error, GetError::Download(DownloadError::WrongRange { .. })), "{error}");
    cluster.add_range_fault(RangeFaultRule::new(RangeFault::IgnoreRange).times(1));
    let error = download::read_all(&url, options()).await.unwrap_err();
    assert!(matches!(error, GetError::Download(DownloadError::RangeIgnored { .. })), "{error}");
    cluster.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_capped_link_still_delivers_everything() {
    let (cluster, url) = cluster().await;
    cluster.set_link(Link { bytes_per_sec: Some(20 << 20), first_byte: Duration::from_millis(5) });
    assert!(download::read_all(&url, options()).await.unwrap() == expected());
    cluster.shutdown().await;
}
