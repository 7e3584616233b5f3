//! The cold-GET retry end to end, against the embedded cluster over real sockets, with each
//! driver: every scenario here runs once through the tokio driver (`Client::get_object`) and
//! once through the io_uring driver (`UringDriver::drive` of the same `ColdGet` machine), so
//! both are held to one list. Lock holds are short real durations; the assertions are on
//! outcomes and counts, never on wall-clock time.

use std::time::Duration;

use bytes::Bytes;
use stowage_ais::{Client, ColdGetError};
use stowage_cluster::{BucketSpec, Cluster, ClusterConfig, Fault, FaultRule};
use stowage_lockpoll::{
    ColdGet, ColdGetConfig, ColdGetOutcome, GiveUpReason, LockPollConfig, LockWaitOutcome, NETWORK_RETRY, Report,
};
use stowage_proto::ais::{Bucket, ObjectAddress, Provider};
use stowage_proto::{Retry, Timeouts, TransportError};
use stowage_tests::{Driver, with_each_driver};
use stowage_tokio::HyperTransport;
use stowage_uring::UringDriver;

const READ_TIMEOUT: Duration = Duration::from_millis(300);

fn bucket_spec(bucket: &Bucket, lock_ms: u64) -> BucketSpec {
    BucketSpec {
        name: bucket.name.clone(),
        provider: bucket.provider.to_string(),
        namespace: String::new(),
        cold_get_lock_ms: lock_ms,
        objects: vec![],
    }
}

fn data() -> Bytes {
    (0..256 * 1024).map(|i| (i % 253) as u8).collect::<Vec<u8>>().into()
}

/// What a GET came to: the response and the report, or the last error and the report.
type Got = Result<(http::Response<Bytes>, Report), (TransportError, Report)>;

/// The embedded cluster with an object in `bucket`, and a client configuration with a short
/// read timeout, no jitter and `max_attempts`.
struct Setup {
    cluster: Cluster,
    address: ObjectAddress,
    config: ColdGetConfig,
}

async fn setup(bucket: &Bucket, lock_ms: u64, faults: Vec<FaultRule>, max_attempts: u32) -> Setup {
    let config = ClusterConfig { buckets: vec![bucket_spec(bucket, lock_ms)], faults, ..ClusterConfig::default() };
    let cluster = Cluster::start(config).await.unwrap();
    let address = ObjectAddress::new(bucket.clone(), "dir/object");
    cluster.put_object(bucket, &address.object(), data());
    let config = ColdGetConfig {
        retry: Retry { jitter: false, max_attempts, ..NETWORK_RETRY },
        lock: LockPollConfig::default(),
    };
    Setup { cluster, address, config }
}

impl Setup {
    /// GETs the object through `driver`.
    async fn get(&self, driver: Driver) -> Got {
        let timeouts = Timeouts { read: READ_TIMEOUT, ..Timeouts::default() };
        let url = self.cluster.url();
        match driver {
            Driver::Tokio => {
                let transport = HyperTransport::new(&url, timeouts).unwrap();
                let client = Client::with_transport(transport, self.config.clone(), 7);
                match client.get_object(&self.address).await {
                    Ok(got) => Ok((got.response, got.report)),
                    Err(ColdGetError::Failed { error, report }) => Err((error, report)),
                }
            }
            Driver::Uring => {
                let request = http::Request::get(self.address.uri(&[])).body(Bytes::new()).unwrap();
                let machine = ColdGet::new(request, self.config.clone(), 7);
                // The driver blocks its thread; the cluster goes on serving on the runtime's.
                tokio::task::spawn_blocking(move || {
                    let mut driven = UringDriver::new(&url, timeouts).unwrap().drive(machine).unwrap();
                    match driven.outcome {
                        ColdGetOutcome::Response { id, report } => Ok((driven.responses.take(id).unwrap(), report)),
                        ColdGetOutcome::Failed { error, report } => Err((error, report)),
                    }
                })
                .await
                .unwrap()
            }
        }
    }
}

with_each_driver!(
    cold_get_waits_for_the_lock_then_reads_the_object,
    ais_buckets_are_read_at_once,
    a_reset_check_lock_gives_up_quietly_and_the_retry_goes_on,
    a_server_that_always_stalls_exhausts_the_attempts,
);

async fn cold_get_waits_for_the_lock_then_reads_the_object(driver: Driver) {
    let bucket = Bucket::new("cloud", Provider::Aws);
    let setup = setup(&bucket, 1_500, vec![], 4).await;
    let (response, report) = setup.get(driver).await.unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.body(), &data());
    assert_eq!(report.attempts, 2, "{report:?}");
    assert!(matches!(report.lock_waits[..], [LockWaitOutcome::Unlocked { polls, .. }] if polls >= 1), "{report:?}");
    let stats = setup.cluster.stats();
    assert_eq!(stats.cold_gets, 1);
    assert_eq!(stats.object_heads, 1, "one size HEAD per lock wait");
    assert!(stats.check_locks >= 2, "{stats:?}");
}

async fn ais_buckets_are_read_at_once(driver: Driver) {
    let bucket = Bucket::new("local", Provider::Ais);
    let setup = setup(&bucket, 1_500, vec![], 4).await;
    let (response, report) = setup.get(driver).await.unwrap();
    assert_eq!(response.body(), &data());
    assert_eq!(report.attempts, 1);
    assert!(report.lock_waits.is_empty());
    assert_eq!((setup.cluster.stats().cold_gets, setup.cluster.stats().check_locks), (0, 0));
}

async fn a_reset_check_lock_gives_up_quietly_and_the_retry_goes_on(driver: Driver) {
    let bucket = Bucket::new("cloud", Provider::Gcp);
    let reset = FaultRule {
        method: Some("POST".into()),
        path_prefix: "/v1/objects/".into(),
        fault: Fault::Reset,
        skip: 0,
        times: Some(1),
    };
    let setup = setup(&bucket, 1_000, vec![reset], 4).await;
    let (response, report) = setup.get(driver).await.unwrap();
    assert_eq!(response.body(), &data());
    assert_eq!(
        report.lock_waits[0],
        LockWaitOutcome::GaveUp {
            reason: GiveUpReason::CheckLockFailed(TransportError::Reset),
            polls: 0,
            waited: Duration::ZERO
        }
    );
}

async fn a_server_that_always_stalls_exhausts_the_attempts(driver: Driver) {
    let bucket = Bucket::new("local", Provider::Ais);
    let stall = FaultRule {
        method: Some("GET".into()),
        path_prefix: "/v1/objects/".into(),
        fault: Fault::Stall { ms: 60_000 },
        skip: 0,
        times: None,
    };
    let setup = setup(&bucket, 0, vec![stall], 2).await;
    let (error, report) = setup.get(driver).await.unwrap_err();
    assert_eq!(error, TransportError::ReadTimeout);
    assert_eq!(report.attempts, 2);
    assert!(report.lock_waits.is_empty(), "ais buckets never poll");
}
