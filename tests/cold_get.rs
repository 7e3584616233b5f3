//! The cold-GET retry end to end: the tokio driver against the embedded cluster, over real
//! sockets. Lock holds are short real durations; the assertions are on outcomes and counts,
//! never on wall-clock time.

use std::time::Duration;

use bytes::Bytes;
use stowage_cluster::{BucketSpec, Cluster, ClusterConfig, Fault, FaultRule};
use stowage_lockpoll::{ColdGetConf, ColdGetConfig, GiveUpReason, Outcome, RetryConf};
use stowage_proto::TransportError;
use stowage_proto::ais::{Bucket, ObjectAddress, Provider};
use stowage_tokio::{Client, HyperTransport, Timeouts};

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

/// A cluster with an object in `bucket`, and a client with a short read timeout, no jitter and
/// `max_attempts`.
async fn setup(
    bucket: &Bucket,
    lock_ms: u64,
    faults: Vec<FaultRule>,
    max_attempts: u32,
) -> (Cluster, Client, ObjectAddress) {
    let config = ClusterConfig { buckets: vec![bucket_spec(bucket, lock_ms)], faults, ..ClusterConfig::default() };
    let cluster = Cluster::start(config).await.unwrap();
    let address = ObjectAddress::new(bucket.clone(), "dir/object");
    cluster.put_object(bucket, &address.object(), data());
    let transport =
        HyperTransport::new(&cluster.url(), Timeouts { read: READ_TIMEOUT, ..Timeouts::default() }).unwrap();
    let config = ColdGetConfig {
        retry: RetryConf { jitter: false, max_attempts, ..RetryConf::default() },
        lock: ColdGetConf::default(),
    };
    (cluster, Client::with_transport(transport, config, 7), address)
}

#[tokio::test]
async fn cold_get_waits_for_the_lock_then_reads_the_object() {
    let bucket = Bucket::new("cloud", Provider::Aws);
    let (cluster, client, address) = setup(&bucket, 1_500, vec![], 4).await;
    let got = client.get_object(&address).await.unwrap();
    assert_eq!(got.response.status(), 200);
    assert_eq!(got.response.body(), &data());
    assert_eq!(got.report.attempts, 2, "{:?}", got.report);
    assert!(matches!(got.report.lock_waits[..], [Outcome::Unlocked { polls, .. }] if polls >= 1), "{:?}", got.report);
    let stats = cluster.stats();
    assert_eq!(stats.cold_gets, 1);
    assert_eq!(stats.object_heads, 1, "one size HEAD per lock wait");
    assert!(stats.check_locks >= 2, "{stats:?}");
}

#[tokio::test]
async fn ais_buckets_are_read_at_once() {
    let bucket = Bucket::new("local", Provider::Ais);
    let (cluster, client, address) = setup(&bucket, 1_500, vec![], 4).await;
    let got = client.get_object(&address).await.unwrap();
    assert_eq!(got.response.body(), &data());
    assert_eq!(got.report.attempts, 1);
    assert!(got.report.lock_waits.is_empty());
    assert_eq!((cluster.stats().cold_gets, cluster.stats().check_locks), (0, 0));
}

#[tokio::test]
async fn a_reset_check_lock_gives_up_quietly_and_the_retry_goes_on() {
    let bucket = Bucket::new("cloud", Provider::Gcp);
    let reset = FaultRule {
        method: Some("POST".into()),
        path_prefix: "/v1/objects/".into(),
        fault: Fault::Reset,
        skip: 0,
        times: Some(1),
    };
    let (_cluster, client, address) = setup(&bucket, 1_000, vec![reset], 4).await;
    let got = client.get_object(&address).await.unwrap();
    assert_eq!(got.response.body(), &data());
    assert_eq!(
        got.report.lock_waits[0],
        Outcome::GaveUp {
            reason: GiveUpReason::CheckLockFailed(TransportError::Reset),
            polls: 0,
            waited: Duration::ZERO
        }
    );
}

#[tokio::test]
async fn a_server_that_always_stalls_exhausts_the_attempts() {
    let bucket = Bucket::new("local", Provider::Ais);
    let stall = FaultRule {
        method: Some("GET".into()),
        path_prefix: "/v1/objects/".into(),
        fault: Fault::Stall { ms: 60_000 },
        skip: 0,
        times: None,
    };
    let (_cluster, client, address) = setup(&bucket, 0, vec![stall], 2).await;
    let err = client.get_object(&address).await.unwrap_err();
    let stowage_tokio::ColdGetError::Failed { error, report } = err;
    assert_eq!(error, TransportError::ReadTimeout);
    assert_eq!(report.attempts, 2);
    assert!(report.lock_waits.is_empty(), "ais buckets never poll");
}
