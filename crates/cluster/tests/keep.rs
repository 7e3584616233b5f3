//! The embedded Keep services, over raw HTTP: what a keepstore and a keepproxy answer.

use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use stowage_cluster::keep::{KeepCluster, KeepClusterConfig, KeepServiceSpec, Scripted};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const FOO_MD5: &str = "acbd18db4cc2f85cedef654fccc4a4d8";

struct Answer {
    status: u16,
    replicas: Option<String>,
    classes: Option<String>,
    body: String,
}

async fn put(root: &str, hash: &str, body: &'static [u8], headers: &[(&str, &str)]) -> Answer {
    let client: Client<HttpConnector, Full<Bytes>> = Client::builder(TokioExecutor::new()).build_http();
    let mut request = http::Request::put(format!("{root}{hash}"));
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let request = request.header("content-length", body.len()).body(Full::new(Bytes::from_static(body))).unwrap();
    let response = client.request(request).await.unwrap();
    let status = response.status().as_u16();
    let header = |name: &str| response.headers().get(name).map(|v| v.to_str().unwrap().to_owned());
    let (replicas, classes) = (header("x-keep-replicas-stored"), header("x-keep-storage-classes-confirmed"));
    let body = String::from_utf8(response.into_body().collect().await.unwrap().to_bytes().to_vec()).unwrap();
    Answer { status, replicas, classes, body }
}

#[tokio::test]
async fn a_keepstore_stores_verifies_and_signs() {
    let cluster = KeepCluster::start(KeepClusterConfig::disks(2)).await.unwrap();
    let root = &cluster.services()[0].root;
    let ok = put(root, FOO_MD5, b"foo", &[]).await;
    assert_eq!(ok.status, 200);
    assert_eq!(ok.replicas.as_deref(), Some("1"));
    assert_eq!(ok.classes.as_deref(), Some("default=1"));
    let locator = ok.body.trim_end();
    assert!(locator.starts_with(&format!("{FOO_MD5}+3+A")), "{locator}");
    let (sig, expiry) = locator[FOO_MD5.len() + 4..].split_once('@').unwrap();
    assert_eq!((sig.len(), expiry.len()), (40, 8));
    assert_eq!(cluster.replicas(FOO_MD5), 1);

    let mismatch = put(root, FOO_MD5, b"bar", &[]).await;
    assert_eq!(mismatch.status, 400);
    assert_eq!(put(root, "not-a-hash", b"foo", &[]).await.status, 400);
    assert_eq!(cluster.stats()[0].statuses.get(&400), Some(&2));
    assert_eq!(cluster.arrivals().len(), 3);
}

#[tokio::test]
async fn tokens_read_only_full_and_busy_are_refused() {
    let config = KeepClusterConfig {
        token: Some("t".into()),
        services: vec![
            KeepServiceSpec { read_only: true, ..KeepServiceSpec::disk() },
            KeepServiceSpec { capacity: Some(2), ..KeepServiceSpec::disk() },
            KeepServiceSpec { max_concurrent: Some(0), ..KeepServiceSpec::disk() },
        ],
        ..KeepClusterConfig::default()
    };
    let cluster = KeepCluster::start(config).await.unwrap();
    let roots: Vec<&str> = cluster.services().iter().map(|s| s.root.as_str()).collect();
    let auth = [("authorization", "Bearer t")];
    assert_eq!(put(roots[1], FOO_MD5, b"foo", &[]).await.status, 401);
    assert_eq!(put(roots[1], FOO_MD5, b"foo", &[("authorization", "OAuth2 t")]).await.status, 507);
    assert_eq!(put(roots[0], FOO_MD5, b"foo", &auth).await.status, 403);
    assert_eq!(put(roots[2], FOO_MD5, b"foo", &auth).await.status, 503);
    assert_eq!(cluster.stats()[0].read_only_writes, 1);
    assert_eq!(cluster.replicas(FOO_MD5), 0);
}

#[tokio::test]
async fn a_proxy_stores_up_to_its_replicas_and_says_503_when_short() {
    let config = KeepClusterConfig { services: vec![KeepServiceSpec::proxy(2)], ..KeepClusterConfig::default() };
    let cluster = KeepCluster::start(config).await.unwrap();
    let root = &cluster.services()[0].root;
    assert_eq!(cluster.services()[0].service_type, "proxy");
    let two = put(root, FOO_MD5, b"foo", &[("x-keep-desired-replicas", "2")]).await;
    assert_eq!((two.status, two.replicas.as_deref()), (200, Some("2")));
    let short = put(root, FOO_MD5, b"foo", &[("x-keep-desired-replicas", "3")]).await;
    assert_eq!((short.status, short.replicas.as_deref()), (503, Some("2")));
    assert_eq!(cluster.replicas(FOO_MD5), 4);
}

#[tokio::test]
async fn scripts_fail_chosen_attempts() {
    let spec = KeepServiceSpec {
        script: vec![Scripted::Status(500), Scripted::DelayMs(10), Scripted::Drop],
        always: Some(Scripted::Status(429)),
        latency: Duration::from_millis(1),
        ..KeepServiceSpec::disk()
    };
    let config = KeepClusterConfig { services: vec![spec], ..KeepClusterConfig::default() };
    let cluster = KeepCluster::start(config).await.unwrap();
    let root = cluster.services()[0].root.clone();
    assert_eq!(put(&root, FOO_MD5, b"foo", &[]).await.status, 500);
    assert_eq!(put(&root, FOO_MD5, b"foo", &[]).await.status, 200);
    let client: Client<HttpConnector, Full<Bytes>> = Client::builder(TokioExecutor::new()).build_http();
    let dropped = client
        .request(http::Request::put(format!("{root}{FOO_MD5}")).body(Full::new(Bytes::from_static(b"foo"))).unwrap())
        .await;
    assert!(dropped.is_err());
    assert_eq!(put(&root, FOO_MD5, b"foo", &[]).await.status, 429);
    assert_eq!(cluster.stats()[0].dropped, 1);
}

#[tokio::test]
async fn expect_100_continue_is_refused_without_the_body_when_full() {
    let config = KeepClusterConfig {
        services: vec![KeepServiceSpec { capacity: Some(0), ..KeepServiceSpec::disk() }],
        ..KeepClusterConfig::default()
    };
    let cluster = KeepCluster::start(config).await.unwrap();
    let addr = cluster.services()[0].root.trim_start_matches("http://").trim_end_matches('/').to_owned();
    let mut conn = tokio::net::TcpStream::connect(addr).await.unwrap();
    let head = format!("PUT /{FOO_MD5} HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nExpect: 100-continue\r\n\r\n");
    conn.write_all(head.as_bytes()).await.unwrap();
    // The answer comes without the body ever being sent.
    let mut buf = vec![0u8; 1024];
    let n = tokio::time::timeout(Duration::from_secs(5), conn.read(&mut buf)).await.unwrap().unwrap();
    let answer = String::from_utf8_lossy(&buf[..n]);
    assert!(answer.starts_with("HTTP/1.1 507"), "{answer}");
    assert!(answer.contains("connection: close"), "the unread body ends the connection: {answer}");

    // And a writable one asks for it with 100 Continue.
    let cluster = KeepCluster::start(KeepClusterConfig::disks(1)).await.unwrap();
    let addr = cluster.services()[0].root.trim_start_matches("http://").trim_end_matches('/').to_owned();
    let mut conn = tokio::net::TcpStream::connect(addr).await.unwrap();
    conn.write_all(head.as_bytes()).await.unwrap();
    let n = tokio::time::timeout(Duration::from_secs(5), conn.read(&mut buf)).await.unwrap().unwrap();
    assert!(String::from_utf8_lossy(&buf[..n]).starts_with("HTTP/1.1 100 Continue"));
    conn.write_all(b"foo").await.unwrap();
    let mut rest = String::new();
    while !rest.contains("+A") {
        let n = tokio::time::timeout(Duration::from_secs(5), conn.read(&mut buf)).await.unwrap().unwrap();
        assert!(n > 0);
        rest.push_str(&String::from_utf8_lossy(&buf[..n]));
    }
    assert!(rest.contains("200 OK"), "{rest}");
}

/// Writes a PUT of `parts` (one write each, so the service sees several body frames) with
/// `Content-Length` of their total, and returns the answer's status line.
async fn put_in_parts(root: &str, hash: &str, parts: &[&[u8]]) -> String {
    let addr = root.trim_start_matches("http://").trim_end_matches('/').to_owned();
    let mut conn = tokio::net::TcpStream::connect(addr).await.unwrap();
    conn.set_nodelay(true).unwrap();
    let length: usize = parts.iter().map(|p| p.len()).sum();
    let head = format!("PUT /{hash} HTTP/1.1\r\nHost: x\r\nContent-Length: {length}\r\n\r\n");
    conn.write_all(head.as_bytes()).await.unwrap();
    for part in parts {
        conn.write_all(part).await.unwrap();
        conn.flush().await.unwrap();
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let mut buf = vec![0u8; 1024];
    let n = tokio::time::timeout(Duration::from_secs(5), conn.read(&mut buf)).await.unwrap().unwrap();
    String::from_utf8_lossy(&buf[..n]).lines().next().unwrap_or_default().to_owned()
}

#[tokio::test]
async fn bodies_are_verified_frame_by_frame_unless_hashes_are_trusted() {
    let cluster = KeepCluster::start(KeepClusterConfig::disks(1)).await.unwrap();
    let root = cluster.services()[0].root.clone();
    assert_eq!(put_in_parts(&root, FOO_MD5, &[b"f", b"o", b"o"]).await, "HTTP/1.1 200 OK");
    // Only the last frame differs.
    assert_eq!(put_in_parts(&root, FOO_MD5, &[b"f", b"o", b"x"]).await, "HTTP/1.1 400 Bad Request");
    assert_eq!(cluster.replicas(FOO_MD5), 1);

    let config = KeepClusterConfig { trust_hashes: true, ..KeepClusterConfig::disks(1) };
    let trusting = KeepCluster::start(config).await.unwrap();
    let root = trusting.services()[0].root.clone();
    assert_eq!(put_in_parts(&root, FOO_MD5, &[b"b", b"ar"]).await, "HTTP/1.1 200 OK");
    assert_eq!(trusting.replicas(FOO_MD5), 1);
}
