//! The ringslot family: parallel ranged downloads of a generated object through the tokio
//! driver, checked byte for byte against the object's seed, with a capped link, per-range
//! faults and stragglers. MB/s is the download's: the clock stops when the last byte is in the
//! consumer's hands (streamed chunks are checked on another thread meanwhile; `read_all`'s
//! buffer after), so checking what arrived last is not counted. Every scenario runs with the driver's default options (retries,
//! hedging on) except where its name says otherwise (`-unhedged`, `download-straggler`).

use std::time::{Duration, Instant};

use anyhow::Context;
use bytes::Bytes;
use futures_util::StreamExt;
use stowage_cluster::{Cluster, ClusterConfig, Generator, Link, RangeFault, RangeFaultRule};
use stowage_proto::ais::{Bucket, Provider};
use stowage_ringslot::{Hedge, Summary};
use stowage_tokio::Timeouts;
use stowage_tokio::download::{self, DownloadOptions, GetError};

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

/// One scenario: how the cluster misbehaves and how the client is set up.
#[derive(Clone, Debug)]
struct DownloadScenario {
    name: &'static str,
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
}

impl super::Scenario for DownloadScenario {
    fn meta(&self) -> Meta {
        Meta { family: FAMILY, name: self.name, about: self.about }
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
        about: "512 MiB in 4 MiB ranges, 8 workers, in order",
        link: Link::default(),
        faults: vec![],
        hedge: DownloadOptions::default().hedge,
        read_all: false,
        read_timeout: Timeouts::default().read,
        chunk: CHUNK,
    };
    let capped = Link { bytes_per_sec: Some(100_000_000), first_byte: Duration::from_millis(5) };
    let straggler = vec![every(50, RangeFault::Delay { ms: 2_000 })];
    let faults =
        vec![every(50, RangeFault::Status { status: 503 }), every(100, RangeFault::StallMidBody { ms: 5_000 })];
    vec![
        plain.clone(),
        DownloadScenario {
            name: "download-read-all",
            about: "the same into one buffer, ranges landing at their offsets",
            read_all: true,
            ..plain.clone()
        },
        DownloadScenario {
            name: "download-capped",
            about: "100 MB/s per connection, 5 ms to first byte, 16 MiB ranges: parallelism pays",
            link: capped,
            chunk: 16 << 20,
            ..plain.clone()
        },
        DownloadScenario {
            name: "download-capped-8m",
            about: "the same link in 8 MiB ranges (the 5 ms first byte costs 5.6% of each range)",
            link: capped,
            chunk: 8 << 20,
            ..plain.clone()
        },
        DownloadScenario {
            name: "download-faults",
            about: "2% of ranges answer 503 once, 1% stall 5 s mid-body (1 s read timeout)",
            read_timeout: STALL_TIMEOUT,
            faults: faults.clone(),
            ..plain.clone()
        },
        DownloadScenario {
            name: "download-faults-unhedged",
            about: "the same faults without hedging: each stall costs the read timeout",
            read_timeout: STALL_TIMEOUT,
            faults,
            hedge: None,
            ..plain.clone()
        },
        DownloadScenario {
            name: "download-straggler",
            about: "one range in 50 answers 2 s late, no hedging",
            faults: straggler.clone(),
            hedge: None,
            ..plain.clone()
        },
        DownloadScenario {
            name: "download-straggler-hedged",
            about: "one range in 50 answers 2 s late, hedged at 3 x the median (the default)",
            faults: straggler,
            ..plain
        },
    ]
    .into_iter()
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
    let cluster = Cluster::start(ClusterConfig::default())
        .await
        .with_context(|| format!("{}: starting the embedded cluster", scenario.name))?;
    let bucket = Bucket::new("local", Provider::Ais);
    cluster.put_generated(&bucket, OBJECT, SIZE);
    cluster.set_link(scenario.link);
    for rule in &scenario.faults {
        cluster.add_range_fault(rule.clone());
    }
    let url = format!("{}/v1/objects/local/{OBJECT}?provider=ais", cluster.url());
    let options = DownloadOptions {
        workers: WORKERS,
        chunk: Some(scenario.chunk),
        hedge: scenario.hedge,
        timeouts: Timeouts { read: scenario.read_timeout, ..Timeouts::default() },
        ..DownloadOptions::default()
    };
    let result = if scenario.read_all { read_all(&url, options).await } else { stream(&url, options).await };
    let faults = cluster.stats().faults_injected;
    cluster.shutdown().await;
    Ok(row(scenario, result, faults))
}

/// Streams the object, handing each chunk to a checker on a blocking thread (a few chunks
/// behind at most); the clock stops when the last chunk is in hand, before the checker
/// finishes.
async fn stream(url: &str, options: DownloadOptions) -> Result<Read, GetError> {
    let started = Instant::now();
    let mut stream = download::get(url, options)?;
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
async fn read_all(url: &str, options: DownloadOptions) -> Result<Read, GetError> {
    let started = Instant::now();
    let download::Downloaded { bytes: all, summary } = download::read_all_with_summary(url, options).await?;
    let elapsed = started.elapsed();
    let generator = Generator::for_object(OBJECT);
    let mut expected = vec![0; VERIFY_BLOCK];
    let verified = all.len() as u64 == SIZE
        && all.chunks(VERIFY_BLOCK).enumerate().all(|(i, chunk)| {
            generator.fill((i * VERIFY_BLOCK) as u64, &mut expected[..chunk.len()]);
            expected[..chunk.len()] == *chunk
        });
    Ok(Read { bytes: all.len() as u64, elapsed, verified, summary: Some(summary) })
}

fn row(scenario: &DownloadScenario, result: Result<Read, GetError>, faults: u64) -> Row {
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
        scenario: scenario.name.to_owned(),
        outcome,
        columns: vec![
            ("MB/s", Cell::Count(rate)),
            ("requests", Cell::Count(summary.requests)),
            ("retries", Cell::Count(summary.retries)),
            ("hedges", Cell::Count(summary.hedges)),
            ("faults", Cell::Count(faults)),
            ("elapsed", Cell::Seconds(elapsed.as_secs_f64())),
            ("verified", Cell::Flag(verified)),
        ],
        ok: verified,
    }
}
