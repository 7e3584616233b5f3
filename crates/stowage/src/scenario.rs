//! The harness's scenarios: what each sets up on the cluster and how its client is configured.

use std::time::Duration;

use stowage_cluster::{Fault, FaultRule};
use stowage_lockpoll::{ColdGetConf, ColdGetConfig, RetryConf};
use stowage_proto::ais::{Bucket, Namespace, Provider};

/// Size of the object every scenario reads.
pub(crate) const OBJECT_SIZE: usize = 8 << 20;
/// The client's read timeout in every scenario: short, so cold GETs time out.
pub(crate) const READ_TIMEOUT: Duration = Duration::from_secs(1);
/// How long a cold GET holds the write lock: between two polls (2 s apart for the first ones,
/// starting at the 1 s read timeout), so no unlock coincides with a poll or a timeout.
const COLD_GET: Duration = Duration::from_millis(2_500);

/// One end-to-end scenario: a bucket with one object, faults, and a client configuration.
#[derive(Clone, Debug)]
pub(crate) struct Scenario {
    /// Short name, the table's first column.
    pub(crate) name: &'static str,
    /// What it shows.
    pub(crate) about: &'static str,
    /// The bucket holding the object.
    pub(crate) bucket: Bucket,
    /// How long the object's cold GET holds its write lock (remote buckets).
    pub(crate) lock_hold: Duration,
    /// Faults injected by the embedded cluster.
    pub(crate) faults: Vec<FaultRule>,
    /// The client's retry and lock-wait configuration.
    pub(crate) config: ColdGetConfig,
}

impl Scenario {
    /// Whether it needs the embedded cluster (a cold GET or injected faults), not just any server.
    pub(crate) fn needs_embedded(&self) -> bool {
        self.bucket.is_remote() || !self.faults.is_empty()
    }
}

/// The network retry of every scenario: the reference's, without jitter so runs repeat.
fn retry(max_attempts: u32) -> RetryConf {
    RetryConf { max_attempts, jitter: false, ..RetryConf::default() }
}

fn config(max_attempts: u32, lock: ColdGetConf) -> ColdGetConfig {
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

/// Every scenario, in table order.
pub(crate) fn all() -> Vec<Scenario> {
    let aws = Bucket::new("cloud", Provider::Aws);
    let remote_ais = Bucket { namespace: Namespace::parse("@remais#ns"), ..Bucket::new("mirror", Provider::Ais) };
    let secs = Duration::from_secs;
    vec![
        Scenario {
            name: "warm-get",
            about: "ais bucket: one GET, nothing to wait for",
            bucket: Bucket::new("local", Provider::Ais),
            lock_hold: Duration::ZERO,
            faults: vec![],
            config: config(7, ColdGetConf::default()),
        },
        Scenario {
            name: "cold-get",
            about: "s3 bucket, 2.5 s cold GET: read timeout, lock polled until released, GET again",
            bucket: aws.clone(),
            lock_hold: COLD_GET,
            faults: vec![],
            config: config(7, ColdGetConf::default()),
        },
        Scenario {
            name: "cold-get-remote-ais",
            about: "ais bucket of a remote cluster (namespace @remais#ns): polls like a cloud bucket",
            bucket: remote_ais,
            lock_hold: COLD_GET,
            faults: vec![],
            config: config(7, ColdGetConf::default()),
        },
        Scenario {
            name: "check-lock-reset",
            about: "the first check-lock is reset: the poller gives up quietly, the retry goes on",
            bucket: aws.clone(),
            lock_hold: COLD_GET,
            faults: vec![fault("POST", Fault::Reset, 1)],
            config: config(7, ColdGetConf::default()),
        },
        Scenario {
            name: "head-fails",
            about: "the size HEAD answers 500: size 0, polls 2 s apart",
            bucket: aws.clone(),
            lock_hold: COLD_GET,
            faults: vec![fault("HEAD", Fault::Status { status: 500 }, 1)],
            config: config(7, ColdGetConf::default()),
        },
        Scenario {
            name: "lock-outlasts-wait",
            about: "6 s cold GET, max_cold_wait 2 s: gives up still locked, retries, waits again",
            bucket: aws,
            lock_hold: secs(6),
            faults: vec![],
            config: config(7, ColdGetConf { max_cold_wait: secs(2), ..ColdGetConf::default() }),
        },
        Scenario {
            name: "stalled-server",
            about: "every GET stalls: 3 attempts time out, no lock polling (ais bucket), fails",
            bucket: Bucket::new("local", Provider::Ais),
            lock_hold: Duration::ZERO,
            faults: vec![FaultRule { times: None, ..fault("GET", Fault::Stall { ms: 30_000 }, 0) }],
            config: config(3, ColdGetConf::default()),
        },
    ]
}
