//! Cold GETs in remote buckets, on a paused tokio clock: every duration below is virtual and
//! exact, so the assertions on elapsed time are deterministic.

mod common;

use std::time::Duration;

use bytes::Bytes;
use common::*;
use http::StatusCode;
use stowage_cluster::{BucketSpec, Cluster, ClusterConfig, ObjectSpec};
use stowage_proto::ais::{Bucket, Namespace, Provider};
use tokio::time::Instant;

const LOCK: Duration = Duration::from_millis(2000);

async fn cloud_cluster() -> (Cluster, Bucket) {
    let spec = BucketSpec { cold_get_lock_ms: 2000, ..BucketSpec::new("cloud", "s3") }
        .object(ObjectSpec::text("obj", "from the backend"));
    let cluster = Cluster::start(ClusterConfig { buckets: vec![spec], ..Default::default() }).await.unwrap();
    (cluster, Bucket::new("cloud", Provider::Aws))
}

#[tokio::test(start_paused = true)]
async fn check_lock_is_423_during_a_cold_get_and_200_after() {
    let (cluster, bucket) = cloud_cluster().await;
    let addr = cluster.addr();
    let uri = object_uri(&bucket, "obj", &[]);
    assert_eq!(check_lock(addr, &uri).await, StatusCode::OK, "cold but not being fetched");

    let t0 = Instant::now();
    let first = tokio::spawn({
        let uri = uri.clone();
        async move { get(addr, &uri).await }
    });
    until(|| cluster.stats().cold_gets == 1).await;
    assert_eq!(check_lock(addr, &uri).await, StatusCode::LOCKED);

    // HEAD answers from cached attributes while locked, even for presence=2 (FLT_PRESENT).
    let reply = head(addr, &object_uri(&bucket, "obj", &[("presence", "2"), ("props", "size")])).await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(reply.header("content-length"), "16");

    let reply = first.await.unwrap();
    assert_eq!((reply.status, &reply.body[..]), (StatusCode::OK, &b"from the backend"[..]));
    assert_eq!(t0.elapsed(), LOCK);
    assert_eq!(check_lock(addr, &uri).await, StatusCode::OK);
    assert_eq!(reply.header("ais-present"), "true");
    assert_eq!(t0.elapsed(), LOCK, "a warm object is served at once");
    assert_eq!(cluster.stats().check_locks, 3);
}

#[tokio::test(start_paused = true)]
async fn a_get_during_the_cold_get_stalls_until_release() {
    let (cluster, bucket) = cloud_cluster().await;
    let addr = cluster.addr();
    let uri = object_uri(&bucket, "obj", &[]);
    let t0 = Instant::now();
    let first = tokio::spawn({
        let uri = uri.clone();
        async move { (get(addr, &uri).await, Instant::now()) }
    });
    until(|| cluster.stats().cold_gets == 1).await;

    // Half-way through the lock, a second GET arrives; it waits for the same release.
    tokio::time::sleep(LOCK / 2).await;
    let second = tokio::spawn({
        let uri = uri.clone();
        async move { (get(addr, &uri).await, Instant::now()) }
    });
    // A client whose read timeout is shorter than the rest of the lock gives up.
    let impatient = tokio::time::timeout(LOCK / 4, get(addr, &uri)).await;
    assert!(impatient.is_err(), "the GET must stall without a response head");

    let (first, first_done) = first.await.unwrap();
    let (second, second_done) = second.await.unwrap();
    assert_eq!((first.status, second.status), (StatusCode::OK, StatusCode::OK));
    assert_eq!(second.body, first.body);
    assert_eq!(first_done - t0, LOCK);
    assert_eq!(second_done - t0, LOCK, "released together with the lock, not a new cold GET");
    assert_eq!(cluster.stats().cold_gets, 1);

    // Warm now: served at once.
    let before = Instant::now();
    assert_eq!(get(addr, &uri).await.status, StatusCode::OK);
    assert_eq!(before.elapsed(), Duration::ZERO);
    assert_eq!(cluster.stats().object_gets, 4);
}

#[tokio::test(start_paused = true)]
async fn evict_makes_it_cold_again() {
    let (cluster, bucket) = cloud_cluster().await;
    let addr = cluster.addr();
    let uri = object_uri(&bucket, "obj", &[]);
    let presence_2 = object_uri(&bucket, "obj", &[("presence", "2")]);
    let presence_0 = object_uri(&bucket, "obj", &[("presence", "0")]);

    // Cold: not present in the cluster, but it exists.
    assert_eq!(head(addr, &presence_2).await.status, StatusCode::NOT_FOUND);
    let reply = head(addr, &presence_0).await;
    assert_eq!((reply.status, reply.header("ais-present")), (StatusCode::OK, "false"));

    let t0 = Instant::now();
    get(addr, &uri).await;
    assert_eq!(t0.elapsed(), LOCK);
    assert_eq!(head(addr, &presence_2).await.header("ais-present"), "true");

    assert!(cluster.evict(&bucket, "obj"));
    assert!(!cluster.evict(&bucket, "absent"));
    assert_eq!(head(addr, &presence_2).await.status, StatusCode::NOT_FOUND);
    let t1 = Instant::now();
    get(addr, &uri).await;
    assert_eq!(t1.elapsed(), LOCK);
    assert_eq!(cluster.stats().cold_gets, 2);
}

#[tokio::test(start_paused = true)]
async fn ais_buckets_are_never_cold() {
    let cluster = Cluster::start(ClusterConfig::default()).await.unwrap();
    let local = Bucket::new("local", Provider::Ais);
    cluster.put_object(&local, "o", Bytes::from_static(b"x"));
    let t0 = Instant::now();
    assert_eq!(get(cluster.addr(), &object_uri(&local, "o", &[])).await.status, StatusCode::OK);
    assert_eq!(head(cluster.addr(), &object_uri(&local, "o", &[("presence", "2")])).await.status, StatusCode::OK);
    assert!(!cluster.evict(&local, "o"));
    assert_eq!(get(cluster.addr(), &object_uri(&local, "o", &[])).await.status, StatusCode::OK);
    assert_eq!(t0.elapsed(), Duration::ZERO);
    assert_eq!(cluster.stats().cold_gets, 0);
}

#[tokio::test(start_paused = true)]
async fn remote_ais_namespace_is_cold_and_lock_duration_is_per_bucket() {
    let cluster = Cluster::start(ClusterConfig::default()).await.unwrap();
    let mut remote = Bucket::new("mirror", Provider::Ais);
    remote.namespace = Namespace::parse("@uuid#ns");
    cluster.create_bucket(&remote, Duration::from_millis(300));
    cluster.put_object(&remote, "o", Bytes::from_static(b"x"));
    let uri = object_uri(&remote, "o", &[]);
    assert!(uri.contains("namespace=%40uuid%23ns"), "{uri}");
    let t0 = Instant::now();
    let reply = get(cluster.addr(), &uri).await;
    assert_eq!((reply.status, &reply.body[..]), (StatusCode::OK, &b"x"[..]));
    assert_eq!(t0.elapsed(), Duration::from_millis(300));

    // Implicitly created remote buckets use the default lock.
    let gcp = Bucket::new("implicit", Provider::Gcp);
    cluster.put_object(&gcp, "o", Bytes::from_static(b"y"));
    let t1 = Instant::now();
    get(cluster.addr(), &object_uri(&gcp, "o", &[])).await;
    assert_eq!(t1.elapsed(), stowage_cluster::DEFAULT_COLD_GET_LOCK);
}
