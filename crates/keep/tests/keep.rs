//! `KeepClient::put` against wiremock keepstores: the wire format of every PUT, the signed
//! locator coming back, and the failure report.

use std::time::Duration;

use bytes::Bytes;
use stowage_keep::{KeepClient, KeepError};
use stowage_replica::{Answer, BlockHash, GiveUp, PassSchedule, Service, ServiceKind, probe_order};
use stowage_tokio::Timeouts;
use wiremock::matchers::{body_bytes, header, method, path};
use wiremock::{Mock, MockServer, Request, ResponseTemplate};

const FOO_MD5: &str = "acbd18db4cc2f85cedef654fccc4a4d8";

/// `n` mock keepstores and their services (`zzzzz-bi6l4-{j:015x}`).
async fn keepstores(n: usize) -> (Vec<MockServer>, Vec<Service>) {
    let mut servers = vec![];
    let mut services = vec![];
    for j in 0..n {
        let server = MockServer::start().await;
        services.push(Service::new(format!("zzzzz-bi6l4-{j:015x}"), &server.uri(), ServiceKind::Disk).unwrap());
        servers.push(server);
    }
    (servers, services)
}

fn stored(j: usize) -> ResponseTemplate {
    ResponseTemplate::new(200)
        .insert_header("x-keep-replicas-stored", "1")
        .insert_header("x-keep-storage-classes-confirmed", "default=1")
        .set_body_string(format!("{FOO_MD5}+3+A{j:040x}@6a000000\n"))
}

fn client(services: Vec<Service>) -> KeepClient {
    let timeouts = Timeouts { connect: Duration::from_secs(2), read: Duration::from_secs(5) };
    KeepClient::builder(services)
        .token("t0ken")
        .timeouts(timeouts)
        .policy(PassSchedule::go(Duration::from_millis(10)))
        .seed(7)
        .build()
        .unwrap()
}

#[tokio::test]
async fn put_sends_keep_headers_and_returns_the_signed_locator() {
    let (servers, services) = keepstores(3).await;
    for (j, server) in servers.iter().enumerate() {
        Mock::given(method("PUT"))
            .and(path(format!("/{FOO_MD5}")))
            .and(header("authorization", "Bearer t0ken"))
            .and(header("x-keep-desired-replicas", "2"))
            .and(header("x-keep-storage-classes", "default"))
            .and(body_bytes(b"foo".to_vec()))
            .respond_with(stored(j))
            .mount(server)
            .await;
    }
    let stored = client(services).put(Bytes::from_static(b"foo"), 2, &["default"]).await.unwrap();
    // Probe order for foo with 3 services: 0, 2, 1 — the first two store it.
    assert_eq!(stored.copies, 2);
    assert_eq!(stored.classes["default"], 2);
    let contacted: Vec<&str> = stored.per_service.iter().map(|s| &s.uuid[12..]).collect();
    assert_eq!(contacted, ["000000000000000", "000000000000002"]);
    assert!(stored.locator.starts_with(&format!("{FOO_MD5}+3+A")) && stored.locator.ends_with("@6a000000"));
    assert!(servers[1].received_requests().await.unwrap().is_empty());

    let requests: Vec<Request> = [&servers[0], &servers[2]]
        .into_iter()
        .map(|s| async { s.received_requests().await.unwrap().remove(0) })
        .collect::<futures_util::future::JoinAll<_>>()
        .await;
    let ids: Vec<&str> = requests.iter().map(|r| r.headers["x-request-id"].to_str().unwrap()).collect();
    assert_eq!(ids[0], ids[1], "one request id per put");
    assert!(ids[0].len() == 24 && ids[0].starts_with("req-"));
}

#[tokio::test]
async fn put_tries_the_next_service_and_reports_failures_in_probe_order() {
    let (servers, services) = keepstores(3).await;
    let order = probe_order(&BlockHash::of(b"foo"), &services);
    Mock::given(method("PUT")).respond_with(ResponseTemplate::new(503)).mount(&servers[order[0]]).await;
    Mock::given(method("PUT")).respond_with(ResponseTemplate::new(507)).mount(&servers[order[1]]).await;
    Mock::given(method("PUT")).respond_with(stored(order[2])).mount(&servers[order[2]]).await;
    let error = client(services).put(Bytes::from_static(b"foo"), 2, &[]).await.unwrap_err();
    let KeepError::Failed { wanted, got, reason, per_service, passes, .. } = &error else { panic!("{error}") };
    assert_eq!((*wanted, *got, *reason, *passes), (2, 1, GiveUp::PassesExhausted, 3));
    let answers: Vec<(String, u32)> = per_service.iter().map(|s| (s.last.to_string(), s.attempts)).collect();
    assert_eq!(answers, [("HTTP 503".to_owned(), 3), ("HTTP 507".to_owned(), 1), ("HTTP 200".to_owned(), 1)]);
    assert!(error.to_string().contains("wanted 2 copies, got 1 after 3 pass(es)"), "{error}");
}

#[tokio::test]
async fn a_dead_service_is_a_transport_error_and_the_next_one_is_tried() {
    let (servers, mut services) = keepstores(2).await;
    // Service 0 (first for foo) points at a closed port.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap();
    services[0] = Service::new(services[0].uuid().to_owned(), &format!("http://{closed}"), ServiceKind::Disk).unwrap();
    Mock::given(method("PUT")).respond_with(stored(1)).mount(&servers[1]).await;
    let stored = client(services).put(Bytes::from_static(b"foo"), 1, &[]).await.unwrap();
    assert_eq!(stored.copies, 1);
    assert!(matches!(stored.per_service[0].last, Answer::Transport(_)));
}

#[tokio::test]
async fn zero_copies_writes_nothing() {
    let (servers, services) = keepstores(1).await;
    let stored = client(services).put(Bytes::from_static(b"foo"), 0, &[]).await.unwrap();
    assert_eq!(stored.locator, format!("{FOO_MD5}+3"));
    assert!(servers[0].received_requests().await.unwrap().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_large_block_is_hashed_off_the_runtime_and_sent_whole() {
    // Over 1 MiB on a multi-threaded runtime: hashed in `block_in_place`.
    let data = Bytes::from((0..3u32 << 20).map(|i| (i % 251) as u8).collect::<Vec<u8>>());
    let hash = BlockHash::of(&data);
    let (servers, services) = keepstores(1).await;
    Mock::given(method("PUT"))
        .and(path(format!("/{hash}")))
        .and(body_bytes(data.to_vec()))
        .respond_with(ResponseTemplate::new(200).set_body_string(format!("{hash}+{}+Asig@6a000000\n", data.len())))
        .expect(1)
        .mount(&servers[0])
        .await;
    let stored = client(services).put(data.clone(), 1, &[]).await.unwrap();
    assert_eq!(stored.locator, format!("{hash}+{}+Asig@6a000000", data.len()));
    assert_eq!(stored.copies, 1);
}
