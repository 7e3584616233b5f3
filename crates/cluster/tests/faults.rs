//! Fault injection over real connections: latency, status, reset, stall, skip/times budgets.

mod common;

use std::time::Duration;

use bytes::Bytes;
use common::*;
use http::{Method, StatusCode};
use http_body_util::Full;
use stowage_cluster::{Cluster, ClusterConfig, Fault, FaultRule, InvalidFault};
use stowage_proto::ais::{Bucket, Provider};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::time::Instant;

async fn cluster() -> (Cluster, String) {
    let cluster = Cluster::start(ClusterConfig::default()).await.unwrap();
    let bucket = Bucket::new("b", Provider::Ais);
    cluster.put_object(&bucket, "o", Bytes::from_static(b"payload"));
    (cluster, object_uri(&bucket, "o", &[]))
}

#[tokio::test(start_paused = true)]
async fn latency_delays_then_serves() {
    let (cluster, uri) = cluster().await;
    cluster.add_fault(FaultRule::new(Fault::Latency { ms: 300 }).method("GET").times(1));
    let t0 = Instant::now();
    let reply = get(cluster.addr(), &uri).await;
    assert_eq!((reply.status, &reply.body[..]), (StatusCode::OK, &b"payload"[..]));
    assert_eq!(t0.elapsed(), Duration::from_millis(300));
    let t1 = Instant::now();
    get(cluster.addr(), &uri).await;
    assert_eq!(t1.elapsed(), Duration::ZERO, "budget spent");
    let stats = cluster.stats();
    assert_eq!((stats.faults_injected, stats.object_gets, stats.requests), (1, 2, 2));
}

#[tokio::test]
async fn status_answers_without_routing() {
    let (cluster, uri) = cluster().await;
    cluster.try_add_fault(FaultRule::new(Fault::Status { status: 503 }).path_prefix("/v1/objects/b/")).unwrap();
    let reply = get(cluster.addr(), &uri).await;
    assert_eq!(reply.status, StatusCode::SERVICE_UNAVAILABLE);
    let error: serde_json::Value = serde_json::from_slice(&reply.body).unwrap();
    assert_eq!(error["message"], "injected fault: status 503");
    // Paths outside the prefix are untouched.
    assert_eq!(get(cluster.addr(), "/v1/objects/c/o").await.status, StatusCode::NOT_FOUND);
    let stats = cluster.stats();
    assert_eq!((stats.requests, stats.faults_injected, stats.object_gets), (2, 1, 1));
}

#[tokio::test]
async fn invalid_status_rule_is_refused_or_answered_500() {
    let (cluster, uri) = cluster().await;
    let rule = FaultRule::new(Fault::Status { status: 42 });
    assert_eq!(cluster.try_add_fault(rule.clone()), Err(InvalidFault::Status { status: 42 }));
    assert_eq!(get(cluster.addr(), &uri).await.status, StatusCode::OK);
    cluster.add_fault(rule);
    let reply = get(cluster.addr(), &uri).await;
    assert_eq!(reply.status, StatusCode::INTERNAL_SERVER_ERROR);
    assert!(String::from_utf8_lossy(&reply.body).contains("invalid fault rule"));
}

#[tokio::test]
async fn reset_cuts_the_connection_with_an_rst() {
    let (cluster, uri) = cluster().await;
    cluster.add_fault(FaultRule::new(Fault::Reset).method("GET").times(2));

    // A raw socket sees ECONNRESET, not an orderly close.
    let mut conn = tokio::net::TcpStream::connect(cluster.addr()).await.unwrap();
    conn.write_all(format!("GET {uri} HTTP/1.1\r\nHost: x\r\n\r\n").as_bytes()).await.unwrap();
    let mut buf = [0u8; 64];
    let error = conn.read(&mut buf).await.expect_err("the server must reset, not answer");
    assert_eq!(error.kind(), std::io::ErrorKind::ConnectionReset);

    // An HTTP client sees a connection error.
    let req = request(Method::GET, &uri).body(Full::default()).unwrap();
    assert!(send(cluster.addr(), req).await.is_err());

    assert_eq!(get(cluster.addr(), &uri).await.status, StatusCode::OK);
    assert_eq!(cluster.stats().faults_injected, 2);
}

#[tokio::test(start_paused = true)]
async fn stall_holds_the_head_after_the_effects() {
    let (cluster, uri) = cluster().await;
    cluster.add_fault(FaultRule::new(Fault::Stall { ms: 5000 }).method("PUT").times(1));
    let addr = cluster.addr();

    // A client with a 1 s read timeout gives up, but the PUT took effect at once.
    let put_req = request(Method::PUT, &uri).body(Full::new(Bytes::from_static(b"new"))).unwrap();
    let t0 = Instant::now();
    assert!(tokio::time::timeout(Duration::from_secs(1), fetch(addr, put_req)).await.is_err());
    assert_eq!(t0.elapsed(), Duration::from_secs(1));
    assert_eq!(&get(addr, &uri).await.body[..], b"new");

    // A patient client gets the answer when the stall ends.
    cluster.add_fault(FaultRule::new(Fault::Stall { ms: 700 }).method("HEAD"));
    let t1 = Instant::now();
    assert_eq!(head(addr, &uri).await.status, StatusCode::OK);
    assert_eq!(t1.elapsed(), Duration::from_millis(700));
}

#[tokio::test]
async fn skip_and_times_budget() {
    let (cluster, uri) = cluster().await;
    cluster.add_fault(FaultRule::new(Fault::Status { status: 500 }).method("get").skip(1).times(2));
    let mut statuses = Vec::new();
    for _ in 0..5 {
        statuses.push(get(cluster.addr(), &uri).await.status.as_u16());
    }
    assert_eq!(statuses, [200, 500, 500, 200, 200]);
    // Other methods never match.
    assert_eq!(head(cluster.addr(), &uri).await.status, StatusCode::OK);
    assert_eq!(cluster.stats().faults_injected, 2);
}

#[tokio::test]
async fn rules_apply_in_order() {
    let (cluster, uri) = cluster().await;
    cluster.add_fault(FaultRule::new(Fault::Status { status: 503 }).times(1));
    cluster.add_fault(FaultRule::new(Fault::Status { status: 429 }).times(1));
    let mut statuses = Vec::new();
    for _ in 0..3 {
        statuses.push(get(cluster.addr(), &uri).await.status.as_u16());
    }
    assert_eq!(statuses, [503, 429, 200]);
}
