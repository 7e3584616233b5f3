//! The ringslot family: parallel ranged downloads of a generated object, checked against the
//! object's seed, with a capped link, per-range faults and stragglers — every scenario once
//! through each driver: `download-…` is the tokio driver, `download-…-uring` the io_uring
//! driver with the same options. MB/s is the download's: the clock stops when the last byte is
//! in the consumer's hands, so checking what arrived is not counted:
//! - tokio: streamed chunks are checked byte for byte on another thread meanwhile, `read_all`'s
//!   buffer after;
//! - io_uring: a streamed chunk is lent in place until the next one is asked for, so the
//!   consumer keeps a 4 KiB sample from its start, middle and end and they are checked after
//!   (every byte of both drivers is checked by `tests/download.rs`); the whole-object row
//!   downloads into a file on `/dev/shm` (fixed writes at the ranges' offsets, so memory like
//!   `read_all`'s), checked byte for byte after.
//!
//! Every scenario runs with the driver's default options (retries, hedging on) except where its
//! name says otherwise (`-unhedged`, `download-straggler`).
//!
//! Every download also verifies the object's checksum as the cluster states it (`xxhash2`, as
//! aisnode does: hashed as delivered when streamed, the file or buffer read back when whole),
//! and the clock includes it; `checksum` says it was checked, `verified` that the bytes match
//! the object's seed.
//!
//! The `download-proxy…` and `download-direct` scenarios deploy the cluster as AIStore is: a
//! proxy that answers each object request with a 307 to the owning target (one of three), after
//! 5 ms. `proxy` counts the requests the proxy saw: one per range where every range is
//! redirected (as the SDK reads), one in all where the target is learned from the first redirect
//! (the default), none but the cluster map's where the target is picked from the map.

use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::Context;
use bytes::Bytes;
use futures_util::StreamExt;
use stowage_cluster::{Cluster, ClusterConfig, Generator, Link, RangeFault, RangeFaultRule};
use stowage_proto::ais::{Bucket, ObjectAddress, Provider};
use stowage_ringslot::transfer::GetError;
use stowage_ringslot::{Config, Hedge, Summary};
use stowage_tokio::Timeouts;
use stowage_tokio::download::{Downloaded, Downloader};
use stowage_uring::{UringDriver, UringError};

use super::{Meta, Run, Target};
use crate::report::{Cell, Row};

/// The family's name, its table's title.
const FAMILY: &str = "ringslot";
/// The object every scenario reads.
const OBJECT: &str = "bench/big.bin";
/// Its size.
const SIZE: u64 = 512 << 20;
/// The range size of most scenarios (enough ranges for 1-in-50 and 1-in-100 faults).
const CHUNK: u64 = 4 << 20;
/// Range requests in flight.
const WORKERS: u32 = 8;
/// The block `read_all`'s result is checked in.
const VERIFY_BLOCK: usize = 4 << 20;
/// Streamed chunks waiting for the checker at most (then the stream waits for it).
const VERIFY_QUEUE: usize = 2;
/// The read timeout where bodies stall: a stall past it is retried.
const STALL_TIMEOUT: Duration = Duration::from_secs(1);

/// Bytes of each streamed chunk the io_uring consumer keeps, from each of three places.
const SAMPLE: usize = 4 << 10;

/// How long the proxy takes to answer anything, in the topology scenarios.
const PROXY_FIRST_BYTE: Duration = Duration::from_millis(5);
/// Targets behind the proxy, in the topology scenarios.
const TARGETS: u32 = 3;

/// How a scenario's requests reach the object.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Route {
    /// One node serves everything.
    SingleNode,
    /// Through the proxy, every range redirected ([`Config::learn_target`] off: the SDK's way).
    RedirectEachRange,
    /// Through the proxy, the target learned from the first redirect.
    LearnTarget,
    /// Straight to the owner, by the cluster map ([`Config::target`], `stowage get --direct`).
    Direct,
}

/// Which driver runs a scenario.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Driver {
    Tokio,
    Uring,
}

/// One scenario: how the cluster misbehaves and how the client is set up.
#[derive(Clone, Debug)]
struct DownloadScenario {
    /// The tokio driver's row.
    name: &'static str,
    /// The io_uring driver's row.
    uring_name: &'static str,
    driver: Driver,
    about: &'static str,
    link: Link,
    faults: Vec<RangeFaultRule>,
    /// Hedging: the driver's default (on) unless a scenario turns it off.
    hedge: Option<Hedge>,
    /// Read the object into one buffer instead of streaming it.
    read_all: bool,
    /// The client's read timeout: short where stalls are injected, the default elsewhere.
    read_timeout: Duration,
    /// The range size.
    chunk: u64,
    /// One node, or a proxy and targets.
    route: Route,
    /// Verify the object's checksum (the default).
    verify: bool,
}

impl super::Scenario for DownloadScenario {
    fn meta(&self) -> Meta {
        let name = match self.driver {
            Driver::Tokio => self.name,
            Driver::Uring => self.uring_name,
        };
        Meta { family: FAMILY, name, about: self.about }
    }

    fn runs_alone(&self) -> bool {
        // MB/s and CPU: alone, or the other scenarios set the rate.
        true
    }

    fn run(&self, target: Target) -> Run<'_> {
        Box::pin(run(self, target))
    }
}

fn every(n: u32, fault: RangeFault) -> RangeFaultRule {
    RangeFaultRule::new(fault).skip(n / 2).every(n)
}

/// The family's scenarios, in table order.
pub(super) fn scenarios() -> Vec<Box<dyn super::Scenario>> {
    let plain = DownloadScenario {
        name: "download-stream",
        uring_name: "download-stream-uring",
        driver: Driver::Tokio,
        about: "512 MiB in 4 MiB ranges, 8 workers, in order",
        link: Link::default(),
        faults: vec![],
        hedge: Config::default().hedge,
        read_all: false,
        read_timeout: Timeouts::default().read,
        chunk: CHUNK,
        route: Route::SingleNode,
        verify: true,
    };
    let capped = Link { bytes_per_sec: Some(100_000_000), first_byte: Duration::from_millis(5) };
    let straggler = vec![every(50, RangeFault::Delay { ms: 2_000 })];
    let faults =
        vec![every(50, RangeFault::Status { status: 503 }), every(100, RangeFault::StallMidBody { ms: 5_000 })];
    vec![
        plain.clone(),
        DownloadScenario {
            name: "download-stream-unverified",
            uring_name: "download-stream-unverified-uring",
            about: "the same without verifying the checksum (--no-verify): what hashing costs",
            verify: false,
            ..plain.clone()
        },
        DownloadScenario {
            name: "download-read-all",
            uring_name: "download-read-all-uring",
            about: "the same into one buffer, ranges landing at their offsets",
            read_all: true,
            ..plain.clone()
        },
        DownloadScenario {
            name: "download-read-all-unverified",
            uring_name: "download-read-all-unverified-uring",
            about: "the same without verifying the checksum (the buffer or file is not read back)",
            read_all: true,
            verify: false,
            ..plain.clone()
        },
        DownloadScenario {
            name: "download-capped",
            uring_name: "download-capped-uring",
            about: "100 MB/s per connection, 5 ms to first byte, 16 MiB ranges: parallelism pays",
            link: capped,
            chunk: 16 << 20,
            ..plain.clone()
        },
        DownloadScenario {
            name: "download-capped-8m",
            uring_name: "download-capped-8m-uring",
            about: "the same link in 8 MiB ranges (the 5 ms first byte costs 5.6% of each range)",
            link: capped,
            chunk: 8 << 20,
            ..plain.clone()
        },
        DownloadScenario {
            name: "download-faults",
            uring_name: "download-faults-uring",
            about: "2% of ranges answer 503 once, 1% stall 5 s mid-body (1 s read timeout)",
            read_timeout: STALL_TIMEOUT,
            faults: faults.clone(),
            ..plain.clone()
        },
        DownloadScenario {
            name: "download-faults-unhedged",
            uring_name: "download-faults-unhedged-uring",
            about: "the same faults without hedging: each stall costs the read timeout",
            read_timeout: STALL_TIMEOUT,
            faults,
            hedge: None,
            ..plain.clone()
        },
        DownloadScenario {
            name: "download-straggler",
            uring_name: "download-straggler-uring",
            about: "one range in 50 answers 2 s late, no hedging",
            faults: straggler.clone(),
            hedge: None,
            ..plain.clone()
        },
        DownloadScenario {
            name: "download-straggler-hedged",
            uring_name: "download-straggler-hedged-uring",
            about: "one range in 50 answers 2 s late, hedged at 3 x the median (the default)",
            faults: straggler,
            ..plain.clone()
        },
        DownloadScenario {
            name: "download-proxy-each-range",
            uring_name: "download-proxy-each-range-uring",
            about: "through a proxy (5 ms) to 3 targets, every range redirected, as the SDK reads",
            route: Route::RedirectEachRange,
            ..plain.clone()
        },
        DownloadScenario {
            name: "download-proxy",
            uring_name: "download-proxy-uring",
            about: "the same, the target learned from the first redirect (the default)",
            route: Route::LearnTarget,
            ..plain.clone()
        },
        DownloadScenario {
            name: "download-direct",
            uring_name: "download-direct-uring",
            about: "the same, the target picked from the cluster map (--direct): no redirect",
            route: Route::Direct,
            ..plain
        },
    ]
    .into_iter()
    .flat_map(|s| [DownloadScenario { driver: Driver::Uring, ..s.clone() }, s])
    .map(|s| Box::new(s) as Box<dyn super::Scenario>)
    .collect()
}

/// What a run read: bytes, how long until the last of them was in hand, whether they match the
/// seed, and the machine's summary.
struct Read {
    bytes: u64,
    elapsed: Duration,
    verified: bool,
    summary: Option<Summary>,
}

async fn run(scenario: &DownloadScenario, _target: Target) -> anyhow::Result<Row> {
    // Where the kernel or sandbox gives no io_uring, its rows say so instead of failing.
    if scenario.driver == Driver::Uring
        && let Some(error) = UringDriver::new("http://127.0.0.1:1", Timeouts::default())
            .err()
            .filter(|e| matches!(e, UringError::Unavailable { .. }))
    {
        let mut row = row(scenario, Err(String::new()), 0, 0);
        (row.outcome, row.ok) = (format!("skipped: {error}"), true);
        return Ok(row);
    }
    let name = super::Scenario::meta(scenario).name;
    let targets = (scenario.route != Route::SingleNode).then_some(TARGETS);
    let cluster = Cluster::start(ClusterConfig { targets, ..ClusterConfig::default() })
        .await
        .with_context(|| format!("{name}: starting the embedded cluster"))?;
    let bucket = Bucket::new("local", Provider::Ais);
    cluster.put_generated(&bucket, OBJECT, SIZE);
    cluster.set_link(scenario.link);
    for rule in &scenario.faults {
        cluster.add_range_fault(rule.clone());
    }
    if let Some(proxy) = cluster.proxy() {
        cluster.set_slow(&proxy.id, PROXY_FIRST_BYTE).await.with_context(|| format!("{name}: slowing the proxy"))?;
    }
    let url = format!("{}/v1/objects/local/{OBJECT}?provider=ais", cluster.url());
    let mut config = Config {
        workers: WORKERS,
        chunk: Some(scenario.chunk),
        hedge: scenario.hedge,
        verify: scenario.verify,
        ..Config::default()
    };
    match scenario.route {
        Route::SingleNode | Route::LearnTarget => {}
        Route::RedirectEachRange => config.learn_target = false,
        Route::Direct => {
            // As `stowage get --direct` does: the owner by the map the proxy gives.
            let client = stowage_ais::Client::new(&cluster.url())?;
            let address = ObjectAddress::new(bucket.clone(), OBJECT);
            config.target = Some(client.direct_url(&address).await.with_context(|| format!("{name}: the owner"))?);
        }
    }
    let timeouts = Timeouts { read: scenario.read_timeout, ..Timeouts::default() };
    let result = match (scenario.driver, scenario.read_all) {
        (Driver::Tokio, false) => stream(&url, config, timeouts).await.map_err(|e| e.to_string()),
        (Driver::Tokio, true) => read_all(&url, config, timeouts).await.map_err(|e| e.to_string()),
        (Driver::Uring, whole) => {
            let (url, endpoint) = (url.clone(), cluster.url());
            // The driver blocks its thread; the cluster goes on serving on the runtime's.
            tokio::task::spawn_blocking(move || uring(&endpoint, &url, config, timeouts, whole))
                .await
                .unwrap_or_else(|e| Err(format!("the io_uring thread: {e}")))
        }
    };
    let stats = cluster.stats();
    cluster.shutdown().await;
    Ok(row(scenario, result, stats.faults_injected, stats.proxy_requests))
}

/// Streams the object, handing each chunk to a checker on a blocking thread (a few chunks
/// behind at most); the clock stops when the last chunk is in hand, before the checker
/// finishes.
async fn stream(url: &str, config: Config, timeouts: Timeouts) -> Result<Read, GetError> {
    let started = Instant::now();
    let mut stream = Downloader::for_url(url, timeouts)?.get(url, config)?;
    let (sender, mut receiver) = tokio::sync::mpsc::channel::<(u64, Bytes)>(VERIFY_QUEUE);
    let checker = tokio::task::spawn_blocking(move || {
        let generator = Generator::for_object(OBJECT);
        let (mut verified, mut expected) = (true, Vec::new());
        while let Some((offset, chunk)) = receiver.blocking_recv() {
            expected.resize(chunk.len(), 0);
            generator.fill(offset, &mut expected);
            verified &= expected[..] == chunk[..];
        }
        verified
    });
    let mut offset = 0u64;
    let mut handed_over = true;
    while let Some(chunk) = stream.next().await {
        let chunk = chunk?;
        let len = chunk.len() as u64;
        handed_over &= sender.send((offset, chunk)).await.is_ok();
        offset += len;
    }
    let elapsed = started.elapsed();
    drop(sender);
    let verified = handed_over && checker.await.unwrap_or(false) && offset == SIZE;
    Ok(Read { bytes: offset, elapsed, verified, summary: stream.summary() })
}

/// Reads the object into one buffer; the clock stops when it is there, then it is checked.
async fn read_all(url: &str, config: Config, timeouts: Timeouts) -> Result<Read, GetError> {
    let started = Instant::now();
    let Downloaded { bytes: all, summary } = Downloader::for_url(url, timeouts)?.read_all(url, config).await?;
    let elapsed = started.elapsed();
    let verified = all.len() as u64 == SIZE && matches_seed(&all);
    Ok(Read { bytes: all.len() as u64, elapsed, verified, summary: Some(summary) })
}

/// Whether `all` is the whole object, byte for byte.
fn matches_seed(all: &[u8]) -> bool {
    let generator = Generator::for_object(OBJECT);
    let mut expected = vec![0; VERIFY_BLOCK];
    all.chunks(VERIFY_BLOCK).enumerate().all(|(i, chunk)| {
        generator.fill((i * VERIFY_BLOCK) as u64, &mut expected[..chunk.len()]);
        expected[..chunk.len()] == *chunk
    })
}

/// The download through the io_uring driver, on this (blocking) thread: streamed (a sample of
/// each chunk kept and checked after) or whole into a file (checked after).
fn uring(endpoint: &str, url: &str, config: Config, timeouts: Timeouts, whole: bool) -> Result<Read, String> {
    let mut driver = UringDriver::new(endpoint, timeouts).map_err(|e| e.to_string())?;
    let started = Instant::now();
    if whole {
        // In memory where there is a tmpfs (like tokio's `read_all`): the disk is not measured.
        let shm = Path::new("/dev/shm");
        let dir = if shm.is_dir() { shm.to_path_buf() } else { std::env::temp_dir() };
        let path = dir.join(format!("stowage-bench-{}.bin", std::process::id()));
        let result = driver.download(url, config, &path);
        let elapsed = started.elapsed();
        let bytes = std::fs::read(&path).unwrap_or_default();
        let _ = std::fs::remove_file(&path);
        let summary = result.map_err(|e| e.to_string())?;
        let verified = bytes.len() as u64 == SIZE && matches_seed(&bytes);
        return Ok(Read { bytes: summary.bytes, elapsed, verified, summary: Some(summary) });
    }
    let mut download = driver.get(url, config).map_err(|e| e.to_string())?;
    let mut samples = Vec::new();
    let mut offset = 0u64;
    while let Some(chunk) = download.next_chunk().map_err(|e| e.to_string())? {
        let len = chunk.len();
        for at in [0, len.saturating_sub(SAMPLE) / 2, len.saturating_sub(SAMPLE)] {
            let end = (at + SAMPLE).min(len);
            samples.push((offset + at as u64, chunk[at..end].to_vec()));
        }
        offset += len as u64;
    }
    let elapsed = started.elapsed();
    let summary = download.summary();
    let generator = Generator::for_object(OBJECT);
    let verified = offset == SIZE
        && samples.iter().all(|(at, sample)| {
            let mut expected = vec![0; sample.len()];
            generator.fill(*at, &mut expected);
            expected == *sample
        });
    Ok(Read { bytes: offset, elapsed, verified, summary: Some(summary) })
}

/// The scenario's row; `proxy`: requests the proxy saw (0 with one node).
fn row(scenario: &DownloadScenario, result: Result<Read, String>, faults: u64, proxy: u64) -> Row {
    let elapsed = result.as_ref().map_or(Duration::ZERO, |read| read.elapsed);
    let secs = elapsed.as_secs_f64().max(1e-9);
    let (outcome, read) = match result {
        Ok(read) => {
            (format!("read {} MiB at {:.0} MB/s", read.bytes >> 20, read.bytes as f64 / secs / 1e6), Some(read))
        }
        Err(error) => (format!("failed: {error}"), None),
    };
    let summary = read.as_ref().and_then(|r| r.summary).unwrap_or_default();
    let verified = read.as_ref().is_some_and(|r| r.verified);
    let rate = read.as_ref().map_or(0, |r| (r.bytes as f64 / secs / 1e6) as u64);
    Row {
        family: FAMILY,
        scenario: super::Scenario::meta(scenario).name.to_owned(),
        outcome,
        columns: vec![
            ("MB/s", Cell::Count(rate)),
            ("requests", Cell::Count(summary.requests)),
            ("retries", Cell::Count(summary.retries)),
            ("hedges", Cell::Count(summary.hedges)),
            ("faults", Cell::Count(faults)),
            ("proxy", Cell::Count(proxy)),
            ("elapsed", Cell::Seconds(elapsed.as_secs_f64())),
            ("checksum", Cell::Flag(summary.verified.is_some())),
            ("verified", Cell::Flag(verified)),
        ],
        ok: verified,
    }
}
