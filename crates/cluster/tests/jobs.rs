//! The job API over HTTP: start, snapshots, status, stop, in the wire shapes of AIStore.

mod common;

use bytes::Bytes;
use http::{Method, StatusCode};
use http_body_util::Full;
use serde_json::{Value, json};
use stowage_cluster::{Cluster, ClusterConfig, JobScript, JobStep, Span, TargetScript, USER_ABORT};

use common::{Reply, fetch, request};

async fn call(cluster: &Cluster, method: Method, uri: &str, body: Value) -> Reply {
    let req = request(method, uri).body(Full::new(Bytes::from(body.to_string()))).unwrap();
    fetch(cluster.addr(), req).await.unwrap()
}

async fn start(cluster: &Cluster, kind: &str) -> String {
    let reply =
        call(cluster, Method::PUT, "/v1/cluster", json!({"action": "start", "name": "", "value": {"Kind": kind}}))
            .await;
    assert_eq!(reply.status, StatusCode::OK);
    String::from_utf8(reply.body.to_vec()).unwrap()
}

async fn query(cluster: &Cluster, what: &str, id: &str) -> (StatusCode, Value) {
    let args = json!({"ID": id, "Kind": "", "DaemonID": "", "Bck": null, "Buckets": null});
    let reply = call(cluster, Method::GET, &format!("/v1/cluster?what={what}"), args).await;
    (reply.status, serde_json::from_slice(&reply.body).unwrap())
}

#[tokio::test]
async fn a_started_job_reports_snapshots_and_status_in_aistore_shapes() {
    let cluster = Cluster::start(ClusterConfig::default()).await.unwrap();
    let script = JobScript::new([
        TargetScript::new([JobStep::Running(Span::Polls(1)), JobStep::End]),
        TargetScript::new([JobStep::Idle(Span::Polls(1_000))]),
    ]);
    cluster.jobs().script("copy-listrange", script);
    let id = start(&cluster, "copy-listrange").await;
    assert_ne!(start(&cluster, "copy-listrange").await, id, "every job has its own id");

    let (status, snaps) = query(&cluster, "qryxstats", &id).await;
    assert_eq!(status, StatusCode::OK);
    let t1 = &snaps["t1"][0];
    for key in ["id", "kind", "start-time", "end-time", "aborted", "is_idle", "abort-err", "glob.id", "stats", "bck"] {
        assert!(t1.get(key).is_some(), "no {key:?} in {t1}");
    }
    assert_eq!((t1["id"].as_str(), t1["kind"].as_str()), (Some(id.as_str()), Some("copy-listrange")));
    assert_eq!(t1["end-time"], "0001-01-01T00:00:00Z", "not ended: Go's zero time");
    assert_eq!((t1["is_idle"].as_bool(), snaps["t2"][0]["is_idle"].as_bool()), (Some(false), Some(true)));
    assert!(t1["stats"]["loc-objs"].is_i64());

    let (_, snaps) = query(&cluster, "qryxstats", &id).await;
    assert_ne!(snaps["t1"][0]["end-time"], "0001-01-01T00:00:00Z", "t1 ended on the second poll");
    let (status, body) = query(&cluster, "status", &id).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["uuid"], id.as_str());
    assert_eq!(
        (body["end_time"].as_i64(), body["aborted"].as_bool(), body["err"].as_str()),
        (Some(0), Some(false), Some(""))
    );
    assert_eq!(cluster.jobs().polls(&id), Some(3));
    cluster.shutdown().await;
}

#[tokio::test]
async fn stop_aborts_every_target_still_running() {
    let cluster = Cluster::start(ClusterConfig::default()).await.unwrap();
    let id = start(&cluster, "rebalance").await;
    let reply =
        call(&cluster, Method::PUT, "/v1/cluster", json!({"action": "stop", "value": {"ID": id, "Kind": "rebalance"}}))
            .await;
    assert_eq!(reply.status, StatusCode::OK);
    let (_, snaps) = query(&cluster, "qryxstats", &id).await;
    assert_eq!(
        (snaps["t1"][0]["aborted"].as_bool(), snaps["t1"][0]["abort-err"].as_str()),
        (Some(true), Some(USER_ABORT))
    );
    let (_, status) = query(&cluster, "status", &id).await;
    assert_eq!((status["aborted"].as_bool(), status["err"].as_str()), (Some(true), Some(USER_ABORT)));
    assert!(status["end_time"].as_i64().unwrap() > 0);
    cluster.shutdown().await;
}

#[tokio::test]
async fn unknown_jobs_and_bad_requests() {
    let cluster = Cluster::start(ClusterConfig::default()).await.unwrap();
    assert_eq!(query(&cluster, "qryxstats", "nope").await, (StatusCode::OK, json!({})), "no info");
    assert_eq!(query(&cluster, "status", "nope").await.0, StatusCode::NOT_FOUND);
    let stop = call(&cluster, Method::PUT, "/v1/cluster", json!({"action": "stop", "value": {"ID": "nope"}})).await;
    assert_eq!(stop.status, StatusCode::NOT_FOUND);
    let req = request(Method::GET, "/v1/cluster?what=status").body(Full::new(Bytes::from_static(b"{nope"))).unwrap();
    assert_eq!(fetch(cluster.addr(), req).await.unwrap().status, StatusCode::BAD_REQUEST);
    let other = call(&cluster, Method::PUT, "/v1/cluster", json!({"action": "shutdown"})).await;
    assert_eq!(other.status, StatusCode::BAD_REQUEST);
    assert_eq!(call(&cluster, Method::DELETE, "/v1/cluster", json!({})).await.status, StatusCode::BAD_REQUEST);
    let stats = cluster.stats();
    assert_eq!(stats.other, stats.requests, "job requests count as other: {stats:?}");
    cluster.shutdown().await;
}
