//! The object API on warm objects: GET (whole, ranged, 416, 404), HEAD, PUT, POST actions.

mod common;

use bytes::Bytes;
use common::*;
use http::{Method, StatusCode};
use http_body_util::Full;
use stowage_cluster::{Cluster, ClusterConfig, Stats};
use stowage_proto::ais::{Bucket, Provider};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const DATA: &[u8] = b"0123456789abcdefghij";

async fn cluster_with_object(name: &str) -> (Cluster, Bucket) {
    let cluster = Cluster::start(ClusterConfig::default()).await.unwrap();
    let bucket = Bucket::new("local", Provider::Ais);
    cluster.put_object(&bucket, name, Bytes::from_static(DATA));
    (cluster, bucket)
}

#[tokio::test]
async fn get_whole_object_with_ais_headers() {
    let (cluster, bucket) = cluster_with_object("dir/a b.txt").await;
    let uri = object_uri(&bucket, "dir/a b.txt", &[]);
    assert!(uri.starts_with("/v1/objects/local/dir/a%20b.txt?provider=ais"), "{uri}");
    let reply = get(cluster.addr(), &uri).await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(&reply.body[..], DATA);
    assert_eq!(reply.header("content-length"), "20");
    assert_eq!(reply.header("ais-name"), "dir/a b.txt");
    assert_eq!(reply.header("ais-bucket-name"), "local");
    assert_eq!(reply.header("ais-bucket-provider"), "ais");
    assert_eq!(reply.header("ais-version"), "1");
    // The whole object's checksum, as aisnode states it by default.
    assert_eq!(reply.header("ais-checksum-type"), "xxhash2");
    assert_eq!(reply.header("ais-checksum-value"), format!("{:016x}", xxhash_rust::xxh64::xxh64(DATA, 0)));
    assert_eq!(reply.header("ais-present"), "true");
    assert_eq!(reply.header("accept-ranges"), "bytes");
}

#[tokio::test]
async fn ranged_gets() {
    let (cluster, bucket) = cluster_with_object("o").await;
    let uri = object_uri(&bucket, "o", &[]);
    let addr = cluster.addr();
    for (range, content_range, bytes) in [
        ("bytes=2-5", "bytes 2-5/20", &DATA[2..=5]),
        ("bytes=15-", "bytes 15-19/20", &DATA[15..]),
        ("bytes=-3", "bytes 17-19/20", &DATA[17..]),
        ("bytes=10-999", "bytes 10-19/20", &DATA[10..]),
    ] {
        let reply = get_range(addr, &uri, range).await;
        assert_eq!(reply.status, StatusCode::PARTIAL_CONTENT, "{range}");
        assert_eq!(reply.header("content-range"), content_range);
        assert_eq!(reply.header("content-length"), bytes.len().to_string());
        assert_eq!(&reply.body[..], bytes);
    }
}

#[tokio::test]
async fn unsatisfiable_range_is_416_and_malformed_range_is_ignored() {
    let (cluster, bucket) = cluster_with_object("o").await;
    let uri = object_uri(&bucket, "o", &[]);
    for range in ["bytes=20-", "bytes=25-30", "bytes=-0"] {
        let reply = get_range(cluster.addr(), &uri, range).await;
        assert_eq!(reply.status, StatusCode::RANGE_NOT_SATISFIABLE, "{range}");
        assert_eq!(reply.header("content-range"), "bytes */20");
    }
    for range in ["bytes=5-2", "bytes=0-1,4-5", "lines=1-2", "bytes=x-"] {
        let reply = get_range(cluster.addr(), &uri, range).await;
        assert_eq!(reply.status, StatusCode::OK, "{range}");
        assert_eq!(&reply.body[..], DATA);
    }
}

#[tokio::test]
async fn missing_bucket_and_object_are_404_with_aistore_error_json() {
    let (cluster, bucket) = cluster_with_object("o").await;
    let reply = get(cluster.addr(), &object_uri(&bucket, "nope", &[])).await;
    assert_eq!(reply.status, StatusCode::NOT_FOUND);
    let error: serde_json::Value = serde_json::from_slice(&reply.body).unwrap();
    assert_eq!(error["status"], 404);
    assert_eq!(error["message"], "ais://local/nope does not exist");
    assert_eq!(error["method"], "GET");
    assert_eq!(error["url_path"], "/v1/objects/local/nope");

    let other = Bucket::new("local", Provider::Aws); // same name, other provider: another bucket
    let reply = get(cluster.addr(), &object_uri(&other, "o", &[])).await;
    assert_eq!(reply.status, StatusCode::NOT_FOUND);
    let error: serde_json::Value = serde_json::from_slice(&reply.body).unwrap();
    assert_eq!(error["message"], "bucket aws://local does not exist");
}

#[tokio::test]
async fn head_has_the_get_headers_and_no_body() {
    let (cluster, bucket) = cluster_with_object("o").await;
    for extra in [&[][..], &[("props", "size")], &[("presence", "0")], &[("presence", "2"), ("props", "size")]] {
        let reply = head(cluster.addr(), &object_uri(&bucket, "o", extra)).await;
        assert_eq!(reply.status, StatusCode::OK, "{extra:?}");
        assert_eq!(reply.header("content-length"), "20");
        assert_eq!(reply.header("ais-name"), "o");
        assert_eq!(reply.header("ais-present"), "true");
        assert!(reply.body.is_empty());
    }
    assert_eq!(head(cluster.addr(), &object_uri(&bucket, "nope", &[])).await.status, StatusCode::NOT_FOUND);
    let bad = head(cluster.addr(), &object_uri(&bucket, "o", &[("presence", "yes")])).await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn put_then_get_bumps_the_version() {
    let (cluster, bucket) = cluster_with_object("o").await;
    let uri = object_uri(&bucket, "o", &[]);
    assert_eq!(put(cluster.addr(), &uri, "replaced").await.status, StatusCode::OK);
    let reply = get(cluster.addr(), &uri).await;
    assert_eq!(&reply.body[..], b"replaced");
    assert_eq!(reply.header("ais-version"), "2");

    // PUT creates the bucket, and a client-written object in a remote bucket is warm.
    let cloud = Bucket::new("new-cloud", Provider::Gcp);
    let uri = object_uri(&cloud, "x/y", &[]);
    assert_eq!(put(cluster.addr(), &uri, "fresh").await.status, StatusCode::OK);
    let reply = get(cluster.addr(), &uri).await;
    assert_eq!((reply.status, &reply.body[..]), (StatusCode::OK, &b"fresh"[..]));
    assert_eq!(reply.header("ais-version"), "1");
    assert_eq!(cluster.stats().cold_gets, 0);
}

#[tokio::test]
async fn put_over_the_limit_is_413_without_reading_the_body() {
    let (cluster, bucket) = cluster_with_object("o").await;
    let mut conn = tokio::net::TcpStream::connect(cluster.addr()).await.unwrap();
    let head = format!(
        "PUT {} HTTP/1.1\r\nHost: x\r\nContent-Length: {}\r\n\r\n",
        object_uri(&bucket, "big", &[]),
        stowage_cluster::MAX_PUT_BYTES + 1
    );
    conn.write_all(head.as_bytes()).await.unwrap();
    let mut response = vec![0u8; 1024];
    let n = conn.read(&mut response).await.unwrap();
    let text = String::from_utf8_lossy(&response[..n]);
    assert!(text.starts_with("HTTP/1.1 413"), "{text}");
}

#[tokio::test]
async fn post_actions() {
    let (cluster, bucket) = cluster_with_object("o").await;
    let addr = cluster.addr();
    let uri = object_uri(&bucket, "o", &[]);
    assert_eq!(check_lock(addr, &uri).await, StatusCode::OK);
    assert_eq!(post(addr, &uri, r#"{"action":"check-lock"}"#).await.status, StatusCode::OK);
    assert_eq!(check_lock(addr, &object_uri(&bucket, "nope", &[])).await, StatusCode::NOT_FOUND);

    let unknown = post(addr, &uri, r#"{"action":"promote"}"#).await;
    assert_eq!(unknown.status, StatusCode::BAD_REQUEST);
    assert!(String::from_utf8_lossy(&unknown.body).contains("unsupported object action"));
    let malformed = post(addr, &uri, "{not json").await;
    assert_eq!(malformed.status, StatusCode::BAD_REQUEST);
    assert!(String::from_utf8_lossy(&malformed.body).contains("malformed ActionMsg"));
}

#[tokio::test]
async fn bad_requests_and_stats() {
    let (cluster, bucket) = cluster_with_object("o").await;
    let addr = cluster.addr();
    assert_eq!(get(addr, "/v1/buckets/local").await.status, StatusCode::NOT_FOUND);
    assert_eq!(get(addr, "/v1/objects/local").await.status, StatusCode::BAD_REQUEST);
    assert_eq!(get(addr, "/v1/objects/local/o?provider=ftp").await.status, StatusCode::BAD_REQUEST);
    let delete = request(Method::DELETE, &object_uri(&bucket, "o", &[])).body(Full::default()).unwrap();
    let reply = fetch(addr, delete).await.unwrap();
    assert_eq!(reply.status, StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(reply.header("allow"), "GET, HEAD, PUT, POST");

    let uri = object_uri(&bucket, "o", &[]);
    get(addr, &uri).await;
    head(addr, &uri).await;
    put(addr, &uri, "x").await;
    check_lock(addr, &uri).await;
    assert_eq!(
        cluster.stats(),
        Stats {
            requests: 8,
            object_gets: 3,
            object_heads: 1,
            object_puts: 1,
            check_locks: 1,
            cold_gets: 0,
            faults_injected: 0,
            redirects: 0,
            misdirected: 0,
            other: 2,
            proxy_requests: 0,
            target_requests: vec![],
        }
    );
    cluster.shutdown().await;
}

#[tokio::test]
async fn keep_alive_serves_several_requests_on_one_connection() {
    let (cluster, bucket) = cluster_with_object("o").await;
    let stream = tokio::net::TcpStream::connect(cluster.addr()).await.unwrap();
    let (mut sender, conn) = hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(stream)).await.unwrap();
    tokio::spawn(conn);
    for _ in 0..3 {
        let req = request(Method::GET, &object_uri(&bucket, "o", &[])).body(Full::<Bytes>::default()).unwrap();
        let response = sender.send_request(req).await.unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        http_body_util::BodyExt::collect(response.into_body()).await.unwrap();
    }
    assert_eq!(cluster.stats().object_gets, 3);
}
