//! The lockpoll family: an object read through [`Client::get_object`], with the lock poller
//! waiting out cold GETs, and faults around it.

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use bytes::Bytes;
use stowage_ais::{Client, ColdGetError, ColdGetResponse};
use stowage_cluster::{BucketSpec, Cluster, ClusterConfig, Fault, FaultRule};
use stowage_lockpoll::{ColdGetConfig, GiveUpReason, LockPollConfig, LockWaitOutcome, NETWORK_RETRY, Report};
use stowage_proto::Retry;
use stowage_proto::ais::{Bucket, Namespace, ObjectAddress, Provider};
use stowage_tokio::{HyperTransport, Timeouts};

use super::{Meta, Run, Target};
use crate::counting::{Counting, Counts};
use crate::report::{Cell, Row};

/// The family's name, its table's title.
const FAMILY: &str = "lockpoll";
/// Size of the object every scenario reads.
const OBJECT_SIZE: usize = 8 << 20;
/// The client's read timeout in every scenario: short, so cold GETs time out.
const READ_TIMEOUT: Duration = Duration::from_secs(1);
/// How long a cold GET holds the write lock: between two polls (2 s apart for the first ones,
/// starting at the 1 s read timeout), so no unlock coincides with a poll or a timeout.
const COLD_GET: Duration = Duration::from_millis(2_500);

/// One scenario: a bucket with one object, faults, a client configuration, and whether the read
/// should succeed.
#[derive(Clone, Debug)]
struct ColdGetScenario {
    name: &'static str,
    about: &'static str,
    /// The bucket holding the object.
    bucket: Bucket,
    /// How long the object's cold GET holds its write lock (remote buckets).
    lock_hold: Duration,
    /// Faults injected by the embedded cluster.
    faults: Vec<FaultRule>,
    /// The client's retry and lock-wait configuration.
    config: ColdGetConfig,
    /// Whether the read should return the object (else: fail after its attempts).
    reads: bool,
}

impl super::Scenario for ColdGetScenario {
    fn meta(&self) -> Meta {
        Meta { family: FAMILY, name: self.name, about: self.about }
    }

    fn needs_embedded(&self) -> bool {
        self.bucket.is_remote() || !self.faults.is_empty()
    }

    fn run(&self, target: Target) -> Run<'_> {
        Box::pin(run(self, target))
    }
}

/// The network retry of every scenario: the reference's, without jitter so runs repeat.
fn retry(max_attempts: u32) -> Retry {
    Retry { max_attempts, jitter: false, ..NETWORK_RETRY }
}

fn config(max_attempts: u32, lock: LockPollConfig) -> ColdGetConfig {
    ColdGetConfig { retry: retry(max_attempts), lock }
}

fn fault(method: &str, fault: Fault, times: u32) -> FaultRule {
    FaultRule {
        method: Some(method.to_owned()),
        path_prefix: "/v1/objects/".to_owned(),
        fault,
        skip: 0,
        times: Some(times),
    }
}

/// The family's scenarios, in table order.
pub(super) fn scenarios() -> Vec<Box<dyn super::Scenario>> {
    let aws = Bucket::new("cloud", Provider::Aws);
    let remote_ais = Bucket { namespace: Namespace::parse("@remais#ns"), ..Bucket::new("mirror", Provider::Ais) };
    let secs = Duration::from_secs;
    vec![
        ColdGetScenario {
            name: "warm-get",
            about: "ais bucket: one GET, nothing to wait for",
            bucket: Bucket::new("local", Provider::Ais),
            lock_hold: Duration::ZERO,
            faults: vec![],
            config: config(7, LockPollConfig::default()),
            reads: true,
        },
        ColdGetScenario {
            name: "cold-get",
            about: "s3 bucket, 2.5 s cold GET: read timeout, lock polled until released, GET again",
            bucket: aws.clone(),
            lock_hold: COLD_GET,
            faults: vec![],
            config: config(7, LockPollConfig::default()),
            reads: true,
        },
        ColdGetScenario {
            name: "cold-get-remote-ais",
            about: "ais bucket of a remote cluster (namespace @remais#ns): polls like a cloud bucket",
            bucket: remote_ais,
            lock_hold: COLD_GET,
            faults: vec![],
            config: config(7, LockPollConfig::default()),
            reads: true,
        },
        ColdGetScenario {
            name: "check-lock-reset",
            about: "the first check-lock is reset: the poller gives up quietly, the retry goes on",
            bucket: aws.clone(),
            lock_hold: COLD_GET,
            faults: vec![fault("POST", Fault::Reset, 1)],
            config: config(7, LockPollConfig::default()),
            reads: true,
        },
        ColdGetScenario {
            name: "head-fails",
            about: "the size HEAD answers 500: size 0, polls 2 s apart",
            bucket: aws.clone(),
            lock_hold: COLD_GET,
            faults: vec![fault("HEAD", Fault::Status { status: 500 }, 1)],
            config: config(7, LockPollConfig::default()),
            reads: true,
        },
        ColdGetScenario {
            name: "lock-outlasts-wait",
            about: "6 s cold GET, max_cold_wait 2 s: gives up still locked, retries, waits again",
            bucket: aws,
            lock_hold: secs(6),
            faults: vec![],
            config: config(7, LockPollConfig { max_cold_wait: secs(2), ..LockPollConfig::default() }),
            reads: true,
        },
        ColdGetScenario {
            name: "stalled-server",
            about: "every GET stalls: 3 attempts time out, no lock polling (ais bucket), fails",
            bucket: Bucket::new("local", Provider::Ais),
            lock_hold: Duration::ZERO,
            faults: vec![FaultRule { times: None, ..fault("GET", Fault::Stall { ms: 30_000 }, 0) }],
            config: config(3, LockPollConfig::default()),
            reads: false,
        },
    ]
    .into_iter()
    .map(|s| Box::new(s) as Box<dyn super::Scenario>)
    .collect()
}

/// The object every scenario writes and reads back: a deterministic pattern.
fn object_bytes() -> Bytes {
    (0..OBJECT_SIZE).map(|i| (i % 251) as u8).collect::<Vec<u8>>().into()
}

async fn run(scenario: &ColdGetScenario, target: Target) -> anyhow::Result<Row> {
    let data = object_bytes();
    let address = ObjectAddress::new(scenario.bucket.clone(), "bench/object.bin");
    // Keep the cluster alive until the read is over.
    let (cluster, url) = match target.url {
        Some(url) => (None, url),
        None => {
            let cluster = start_cluster(scenario).await?;
            cluster.put_object(&scenario.bucket, &address.object(), data.clone());
            let url = cluster.url();
            (Some(cluster), url)
        }
    };
    let timeouts = Timeouts { read: READ_TIMEOUT, ..Timeouts::default() };
    let hyper = HyperTransport::new(&url, timeouts).with_context(|| format!("bad --url {url}"))?.with_tls(&target.tls);
    let (transport, counts) = Counting::new(hyper);
    let client = Client::with_transport(transport, scenario.config.clone(), target.seed);
    if cluster.is_none() {
        let status = client.put_object(&address, data.clone()).await.context("writing the object")?;
        if !status.is_success() {
            bail!("{}: writing the object failed with HTTP {status}", scenario.name);
        }
    }
    let started = Instant::now();
    let result = client.get_object(&address).await;
    let elapsed = started.elapsed();
    Ok(row(scenario, result, &data, &counts, elapsed))
}

async fn start_cluster(scenario: &ColdGetScenario) -> anyhow::Result<Cluster> {
    let bucket = &scenario.bucket;
    let spec = BucketSpec {
        name: bucket.name.clone(),
        provider: bucket.provider.to_string(),
        namespace: if bucket.namespace.is_global() { String::new() } else { bucket.namespace.to_string() },
        cold_get_lock_ms: u64::try_from(scenario.lock_hold.as_millis()).unwrap_or(u64::MAX),
        objects: vec![],
    };
    let config = ClusterConfig { buckets: vec![spec], faults: scenario.faults.clone(), ..ClusterConfig::default() };
    Cluster::start(config).await.with_context(|| format!("{}: starting the embedded cluster", scenario.name))
}

fn row(
    scenario: &ColdGetScenario,
    result: Result<ColdGetResponse, ColdGetError>,
    data: &Bytes,
    counts: &Arc<Counts>,
    elapsed: Duration,
) -> Row {
    let (outcome, report, verified) = match result {
        Ok(got) => {
            let status = got.response.status();
            let verified = status.is_success() && got.response.body() == data;
            let outcome = if verified {
                format!("read {} MiB{}", data.len() >> 20, lock_note(&got.report))
            } else {
                format!("HTTP {status}, {} bytes", got.response.body().len())
            };
            (outcome, got.report, verified)
        }
        Err(ColdGetError::Failed { error, report }) => (format!("failed: {error}"), report, false),
    };
    Row {
        family: FAMILY,
        scenario: scenario.name.to_owned(),
        outcome,
        columns: vec![
            ("attempts", Cell::Count(report.attempts.into())),
            ("polls", Cell::Count(report.polls().into())),
            ("waited", Cell::Seconds(report.waited().as_secs_f64())),
            ("requests", Cell::Count(counts.requests())),
            ("errors", Cell::Count(counts.errors())),
            ("elapsed", Cell::Seconds(elapsed.as_secs_f64())),
            ("verified", Cell::Flag(verified)),
        ],
        ok: verified == scenario.reads,
    }
}

/// How the lock waits went, e.g. " after lock waits (unlocked)".
fn lock_note(report: &Report) -> String {
    let waits: Vec<&str> = report
        .lock_waits
        .iter()
        .map(|o| match o {
            LockWaitOutcome::NotLocked => "not locked",
            LockWaitOutcome::Unlocked { .. } => "unlocked",
            LockWaitOutcome::GaveUp { reason: GiveUpReason::StillLocked, .. } => "gave up: still locked",
            LockWaitOutcome::GaveUp { reason: GiveUpReason::CheckLockFailed(_), .. } => "gave up: check-lock failed",
        })
        .collect();
    if waits.is_empty() { String::new() } else { format!(" after lock waits ({})", waits.join(", ")) }
}
