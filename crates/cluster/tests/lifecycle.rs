//! Starting, shutting down and dropping a cluster.

mod common;

use std::time::Duration;

use bytes::Bytes;
use common::*;
use http::StatusCode;
use stowage_cluster::{Cluster, ClusterConfig};
use stowage_proto::ais::{Bucket, Provider};
use tokio::net::TcpStream;
use tokio::time::Instant;

#[tokio::test]
async fn url_names_the_bound_port() {
    let cluster = Cluster::start(ClusterConfig::default()).await.unwrap();
    assert!(cluster.addr().ip().is_loopback());
    assert_ne!(cluster.addr().port(), 0);
    assert_eq!(cluster.url(), format!("http://127.0.0.1:{}", cluster.addr().port()));
}

#[tokio::test]
async fn shutdown_closes_idle_connections_and_stops_listening() {
    let cluster = Cluster::start(ClusterConfig::default()).await.unwrap();
    let addr = cluster.addr();
    // An idle keep-alive connection does not hold the shutdown up.
    let _idle = TcpStream::connect(addr).await.unwrap();
    cluster.shutdown().await;
    assert!(TcpStream::connect(addr).await.is_err());
}

#[tokio::test]
async fn drop_cuts_the_cluster() {
    let cluster = Cluster::start(ClusterConfig::default()).await.unwrap();
    let addr = cluster.addr();
    drop(cluster);
    // The aborted accept loop releases the listener when the runtime next polls it.
    for _ in 0..100 {
        tokio::task::yield_now().await;
    }
    assert!(TcpStream::connect(addr).await.is_err());
}

#[tokio::test(start_paused = true)]
async fn shutdown_lets_the_request_in_flight_finish() {
    let cluster = Cluster::start(ClusterConfig::default()).await.unwrap();
    let bucket = Bucket::new("cloud", Provider::Aws);
    cluster.create_bucket(&bucket, Duration::from_millis(800));
    cluster.put_object(&bucket, "o", Bytes::from_static(b"late"));
    let addr = cluster.addr();
    let t0 = Instant::now();
    let pending = tokio::spawn(async move { get(addr, &object_uri(&bucket, "o", &[])).await });
    until(|| cluster.stats().cold_gets == 1).await;
    cluster.shutdown().await;
    assert_eq!(t0.elapsed(), Duration::from_millis(800));
    let reply = pending.await.unwrap();
    assert_eq!((reply.status, &reply.body[..]), (StatusCode::OK, &b"late"[..]));
}
