//! `Job`: waits, status, details and abort over hyper against wiremock, on tokio's paused clock
//! (see `common`): the poll timelines below are exact machine times.

mod common;

use std::time::Duration;

use bytes::Bytes;
use http::{Request, Response};
use serde_json::{Value, json};
use stowage_ais::Job;
use stowage_jobwait::{JobError, Strategy, WaitConfig};
use stowage_proto::TransportError;
use stowage_tokio::Transport;
use wiremock::matchers::{body_partial_json, method, path, query_param};
use wiremock::{Mock, MockServer, ResponseTemplate};

use common::{client, config};

fn snaps(idle: bool, aborted: bool) -> Value {
    let snap = |idle: bool| json!({"id": "J1", "kind": "copy-listrange", "is_idle": idle, "aborted": aborted, "end-time": "0001-01-01T00:00:00Z"});
    json!({"t1": [snap(idle)], "t2": [snap(true)]})
}

/// Answers `GET /v1/cluster?what=<what>` with `body`, `times` times (always if `None`), ahead
/// of unlimited answers.
async fn answer(server: &MockServer, what: &str, body: Value, times: Option<u64>) {
    let mock = Mock::given(method("GET"))
        .and(path("/v1/cluster"))
        .and(query_param("what", what))
        .respond_with(ResponseTemplate::new(200).set_body_json(body));
    match times {
        Some(n) => mock.up_to_n_times(n).with_priority(1).mount(server).await,
        None => mock.mount(server).await,
    }
}

fn ten_seconds() -> WaitConfig {
    WaitConfig::with_timeout(Duration::from_secs(10))
}

#[tokio::test(start_paused = true)]
async fn an_idle_kind_job_is_done_after_two_idle_polls() {
    let server = MockServer::start().await;
    answer(&server, "qryxstats", snaps(false, false), Some(2)).await;
    answer(&server, "qryxstats", snaps(true, false), None).await;
    let (client, sent) = client(&server.uri(), config(1));
    let mut seen = vec![];

    let job = client.job("J1", "copy-listrange");
    let outcome = job.wait_with(stowage_jobwait::Dispatch::ByKind, ten_seconds(), |p| seen.push(p)).await;

    let result = outcome.result.unwrap();
    assert!(result.success && result.error.is_none());
    assert_eq!((outcome.polls, outcome.strategy), (4, Some(Strategy::IdleStreak)));
    assert_eq!(sent.times(http::Method::GET), [0.0, 1.0, 2.0, 3.0], "probing_frequency(10 s) = 1 s");
    assert_eq!(seen.iter().map(|p| p.idle_streak).collect::<Vec<_>>(), [0, 0, 1, 2]);
    let first = &server.received_requests().await.unwrap()[0];
    let body: Value = serde_json::from_slice(&first.body).unwrap();
    assert_eq!(body, json!({"ID": "J1", "Kind": "copy-listrange", "DaemonID": "", "Bck": null, "Buckets": null}));
}

#[tokio::test(start_paused = true)]
async fn an_abort_on_one_target_ends_the_wait_at_once() {
    let server = MockServer::start().await;
    answer(&server, "qryxstats", snaps(false, false), Some(1)).await;
    answer(&server, "qryxstats", snaps(false, true), None).await;
    let (client, _) = client(&server.uri(), config(1));
    let outcome = client.job("J1", "copy-listrange").wait_for_idle(ten_seconds()).await;
    assert_eq!(outcome.result.unwrap().error.as_deref(), Some("aborted"));
    assert_eq!(outcome.polls, 2);
}

#[tokio::test(start_paused = true)]
async fn a_job_known_by_id_alone_learns_its_kind_then_waits_terminal() {
    let server = MockServer::start().await;
    let snapshot = json!({"t1": [{"id": "J2", "kind": "rebalance"}]});
    Mock::given(method("GET"))
        .and(query_param("what", "qryxstats"))
        .and(body_partial_json(json!({"ID": "J2", "Kind": ""})))
        .respond_with(ResponseTemplate::new(200).set_body_json(snapshot))
        .mount(&server)
        .await;
    let running = json!({"uuid": "J2", "end_time": 0});
    answer(&server, "status", running, Some(2)).await;
    answer(
        &server,
        "status",
        json!({"uuid": "J2", "end_time": 1_795_455_785_000_000_000_i64, "err": "", "aborted": false}),
        None,
    )
    .await;
    let (client, sent) = client(&server.uri(), config(1));

    let outcome = client.job("J2", "").wait(ten_seconds()).await;

    assert_eq!((outcome.kind.as_str(), outcome.strategy), ("rebalance", Some(Strategy::Terminal)));
    let result = outcome.result.unwrap();
    assert_eq!(result.end_time.map(|t| t.unix_secs()), Some(1_795_455_785));
    assert_eq!((outcome.polls, outcome.requests), (3, 4));
    assert_eq!(sent.times(http::Method::GET), [0.0, 0.0, 1.0, 2.0]);
    let status_requests: Vec<_> = server.received_requests().await.unwrap().into_iter().skip(1).collect();
    for request in status_requests {
        let body: Value = serde_json::from_slice(&request.body).unwrap();
        assert_eq!(body["Kind"], "rebalance", "the learned kind is sent");
    }
}

#[tokio::test(start_paused = true)]
async fn a_job_that_never_ends_times_out_with_what_it_saw_last() {
    let server = MockServer::start().await;
    answer(&server, "status", json!({"uuid": "J3", "end_time": 0}), None).await;
    let (client, sent) = client(&server.uri(), config(1));
    let outcome = client.job("J3", "rebalance").wait(WaitConfig::with_timeout(Duration::from_secs(2))).await;
    let Err(JobError::Timeout { polls, last, .. }) = outcome.result else { panic!("{:?}", outcome.result) };
    assert_eq!(polls, 9, "every 0.25 s from 0 to 2 s");
    assert!(matches!(*last, stowage_jobwait::LastSeen::Status(ref s) if s.uuid == "J3"));
    assert_eq!(sent.times(http::Method::GET).last(), Some(&2.0));
}

#[tokio::test(start_paused = true)]
async fn status_details_and_abort_speak_the_wire_shapes() {
    let server = MockServer::start().await;
    answer(&server, "status", json!({"uuid": "J4", "err": "boom", "end_time": 5, "aborted": true, "kind": "x"}), None)
        .await;
    answer(&server, "qryxstats", snaps(true, false), None).await;
    Mock::given(method("PUT"))
        .and(path("/v1/cluster"))
        .and(body_partial_json(json!({"action": "stop", "value": {"ID": "J4", "Kind": "lru"}})))
        .respond_with(ResponseTemplate::new(200))
        .expect(1)
        .mount(&server)
        .await;
    let (client, _) = client(&server.uri(), config(1));
    let job = client.job("J4", "lru");

    let status = job.status().await.unwrap();
    assert_eq!((status.err.as_str(), status.end_time, status.aborted), ("boom", 5, true));
    let details = job.details().await.unwrap();
    assert_eq!(details.targets().len(), 2);
    job.abort().await.unwrap();
}

#[tokio::test(start_paused = true)]
async fn a_started_job_gets_the_id_the_cluster_answers() {
    let server = MockServer::start().await;
    Mock::given(method("PUT"))
        .and(path("/v1/cluster"))
        .and(body_partial_json(json!({"action": "start", "value": {"Kind": "lru"}})))
        .respond_with(ResponseTemplate::new(200).set_body_string("Xq2-9vB"))
        .mount(&server)
        .await;
    let (client, _) = client(&server.uri(), config(1));
    let job = client.start_job("lru").await.unwrap();
    assert_eq!((job.id(), job.kind()), ("Xq2-9vB", "lru"));
}

#[tokio::test(start_paused = true)]
async fn an_error_status_is_a_typed_error_with_the_cluster_message() {
    let server = MockServer::start().await;
    let error = json!({"status": 404, "message": "xaction \"J5\" not found", "method": "GET"});
    Mock::given(method("GET")).respond_with(ResponseTemplate::new(404).set_body_json(error)).mount(&server).await;
    let (client, _) = client(&server.uri(), config(1));
    let outcome = client.job("J5", "rebalance").wait(ten_seconds()).await;
    let Err(JobError::Status { status, message }) = outcome.result else { panic!() };
    assert_eq!((status.as_u16(), message.as_str()), (404, "xaction \"J5\" not found"));
    assert!(matches!(client.job("J5", "").status().await, Err(JobError::Status { .. })));
}

/// Never answers (on the tokio clock).
#[derive(Clone)]
struct Stuck;

impl Transport for Stuck {
    async fn send(&self, _: Request<Bytes>) -> Result<Response<Bytes>, TransportError> {
        tokio::time::sleep(Duration::from_secs(3600)).await;
        Ok(Response::new(Bytes::new()))
    }
}

#[tokio::test(start_paused = true)]
async fn every_request_is_bounded_by_the_request_timeout() {
    let start = tokio::time::Instant::now();
    let job = Job::new(Stuck, "J6", "rebalance").request_timeout(Duration::from_secs(5));
    let outcome = job.wait(ten_seconds()).await;
    assert!(matches!(outcome.result, Err(JobError::Transport(TransportError::ReadTimeout))));
    assert_eq!(start.elapsed(), Duration::from_secs(5));
    assert!(matches!(job.status().await, Err(JobError::Transport(TransportError::ReadTimeout))));
}
