//! The lock wait between attempts: after a remote-object GET times out reading, check-lock,
//! size HEAD, polls until unlocked, then the GET again. Runs on tokio's paused clock (see
//! `common`), so the timelines below are exact machine times, not wall-clock measurements.

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use http::Method;
use stowage_lockpoll::{GiveUpReason, LockPollConfig, LockWaitOutcome};
use stowage_proto::TransportError;
use wiremock::{MockServer, ResponseTemplate};

use common::*;

/// The object, readable once the first GET has timed out.
async fn object_after_one_timeout(server: &MockServer) {
    slow(server, Method::GET, Some(1)).await;
    answer(server, Method::GET, ResponseTemplate::new(200).set_body_string("the object"), None).await;
}

#[tokio::test(start_paused = true)]
async fn a_timed_out_remote_get_waits_for_the_lock_then_reads_the_object() {
    let server = MockServer::start().await;
    object_after_one_timeout(&server).await;
    locked_for(&server, 3).await;
    answer(&server, Method::HEAD, ResponseTemplate::new(200), None).await;
    let (client, sent) = client(&server.uri(), config(7));

    let got = client.cold_get(request(Method::GET, OBJECT)).await.unwrap();

    assert_eq!(got.response.status(), 200);
    assert_eq!(got.response.body(), "the object");
    assert_eq!(got.report.attempts, 2);
    assert_eq!(got.report.lock_waits, [LockWaitOutcome::Unlocked { polls: 3, waited: Duration::from_secs(4) }]);
    // check-lock, HEAD, then polls 2 s apart (size 0) until unlocked, 1 s backoff, GET.
    use Method as M;
    let expected =
        [(0.0, M::GET), (0.0, M::POST), (0.0, M::HEAD), (0.0, M::POST), (2.0, M::POST), (4.0, M::POST), (5.0, M::GET)];
    assert_eq!(sent.timeline(), expected);
    assert_eq!(received(&server, Method::POST).await.len(), 4);
    assert_eq!(received(&server, Method::HEAD).await.len(), 1);
}

/// check-lock answers `status` (not 423): not locked — no HEAD, no polls, straight to the
/// backoff and the next attempt.
async fn not_locked_when_check_lock_answers(status: u16) {
    let server = MockServer::start().await;
    object_after_one_timeout(&server).await;
    answer(&server, Method::POST, ResponseTemplate::new(status), None).await;
    let (client, sent) = client(&server.uri(), config(7));

    let got = client.cold_get(request(Method::GET, OBJECT)).await.unwrap();

    assert_eq!(got.response.body(), "the object");
    assert_eq!(got.report.lock_waits, [LockWaitOutcome::NotLocked], "check-lock {status}");
    assert_eq!(sent.timeline(), [(0.0, Method::GET), (0.0, Method::POST), (1.0, Method::GET)], "check-lock {status}");
    assert_eq!(received(&server, Method::HEAD).await.len(), 0);
}

#[tokio::test(start_paused = true)]
async fn check_lock_200_is_not_locked() {
    not_locked_when_check_lock_answers(200).await;
}

#[tokio::test(start_paused = true)]
async fn check_lock_404_is_not_locked() {
    not_locked_when_check_lock_answers(404).await;
}

#[tokio::test(start_paused = true)]
async fn check_lock_500_is_not_locked() {
    not_locked_when_check_lock_answers(500).await;
}

#[tokio::test(start_paused = true)]
async fn a_reset_check_lock_gives_up_quietly_and_the_get_is_retried() {
    let server = MockServer::start().await;
    object_after_one_timeout(&server).await;
    locked_for(&server, 10).await;
    let (client, sent) =
        client_with_faults(&server.uri(), config(7), |r| (r.method() == Method::POST).then_some(TransportError::Reset));

    let got = client.cold_get(request(Method::GET, OBJECT)).await.unwrap();

    assert_eq!(got.response.body(), "the object");
    let gave_up = LockWaitOutcome::GaveUp {
        reason: GiveUpReason::CheckLockFailed(TransportError::Reset),
        polls: 0,
        waited: Duration::ZERO,
    };
    assert_eq!(got.report.lock_waits, [gave_up]);
    assert_eq!(sent.timeline(), [(0.0, Method::GET), (0.0, Method::POST), (1.0, Method::GET)]);
    assert_eq!(received(&server, Method::HEAD).await.len(), 0);
}

#[tokio::test(start_paused = true)]
async fn a_reset_poll_gives_up_with_the_polls_so_far() {
    let server = MockServer::start().await;
    object_after_one_timeout(&server).await;
    locked_for(&server, 10).await;
    answer(&server, Method::HEAD, ResponseTemplate::new(200), None).await;
    // The first check-lock and poll 1 reach the server (423); poll 2 is reset.
    let posts = Arc::new(AtomicU32::new(0));
    let (client, sent) = client_with_faults(&server.uri(), config(7), move |r| {
        let third_post = r.method() == Method::POST && posts.fetch_add(1, Ordering::Relaxed) == 2;
        third_post.then_some(TransportError::Reset)
    });

    let got = client.cold_get(request(Method::GET, OBJECT)).await.unwrap();

    assert_eq!(got.response.body(), "the object");
    let reason = GiveUpReason::CheckLockFailed(TransportError::Reset);
    assert_eq!(got.report.lock_waits, [LockWaitOutcome::GaveUp { reason, polls: 2, waited: Duration::from_secs(2) }]);
    assert_eq!(sent.times(Method::POST), [0.0, 0.0, 2.0]);
    assert_eq!(sent.times(Method::GET), [0.0, 3.0]);
}

/// The size HEAD fails as `head` says: size 0, so polls are exactly 2 s apart.
async fn a_failed_head_means_size_zero(server: MockServer, client: stowage_ais::Client<Stack>, sent: Stack) {
    object_after_one_timeout(&server).await;
    locked_for(&server, 4).await;

    let got = client.cold_get(request(Method::GET, OBJECT)).await.unwrap();

    assert_eq!(got.response.body(), "the object");
    assert_eq!(got.report.lock_waits, [LockWaitOutcome::Unlocked { polls: 4, waited: Duration::from_secs(6) }]);
    assert_eq!(sent.times(Method::POST), [0.0, 0.0, 2.0, 4.0, 6.0]);
    assert_eq!(sent.times(Method::GET), [0.0, 7.0]);
}

#[tokio::test(start_paused = true)]
async fn a_head_answering_500_means_size_zero() {
    let server = MockServer::start().await;
    // A 500 announcing 100 GiB: its Content-Length is not the object's size (it would mean
    // polls 10 s apart).
    let error = ResponseTemplate::new(500).insert_header("content-length", "107374182400");
    answer(&server, Method::HEAD, error, None).await;
    let (client, sent) = client(&server.uri(), config(7));
    a_failed_head_means_size_zero(server, client, sent).await;
}

#[tokio::test(start_paused = true)]
async fn a_head_failing_below_http_means_size_zero() {
    let server = MockServer::start().await;
    let (client, sent) = client_with_faults(&server.uri(), config(7), |r| {
        (r.method() == Method::HEAD).then_some(TransportError::ReadTimeout)
    });
    a_failed_head_means_size_zero(server, client, sent).await;
}

/// Runs one lock wait for `get` and returns the check-lock and HEAD requests the server saw.
async fn lock_wait_requests(get: &str, lock: LockPollConfig) -> (Vec<wiremock::Request>, Vec<wiremock::Request>) {
    let server = MockServer::start().await;
    object_after_one_timeout(&server).await;
    locked_for(&server, 1).await;
    answer(&server, Method::HEAD, ResponseTemplate::new(200), None).await;
    let (client, _sent) = client(&server.uri(), stowage_lockpoll::ColdGetConfig { lock, ..config(7) });
    let got = client.cold_get(request(Method::GET, get)).await.unwrap();
    assert_eq!(got.report.lock_waits, [LockWaitOutcome::Unlocked { polls: 1, waited: Duration::ZERO }]);
    (received(&server, Method::POST).await, received(&server, Method::HEAD).await)
}

const CHECK_LOCK_BODY: &str = r#"{"action":"check-lock","name":"","value":null}"#;

#[tokio::test(start_paused = true)]
async fn lock_requests_keep_provider_and_namespace_and_drop_the_rest() {
    let get = "/v1/objects/b/dir/o?provider=s3&namespace=%40uuid%23ns&sig=secret";
    let (check_locks, heads) = lock_wait_requests(get, LockPollConfig::default()).await;

    assert_eq!(check_locks.len(), 2);
    for check_lock in &check_locks {
        assert_eq!(check_lock.url.path(), "/v1/objects/b/dir/o");
        assert_eq!(check_lock.url.query(), Some("provider=aws&namespace=%40uuid%23ns"));
        assert_eq!(String::from_utf8_lossy(&check_lock.body), CHECK_LOCK_BODY);
        assert_eq!(check_lock.headers["content-type"], "application/json");
    }
    let [head] = &heads[..] else { panic!("one HEAD expected, got {heads:?}") };
    assert_eq!(head.url.path(), "/v1/objects/b/dir/o");
    // enable_remote_head (the default): presence=0, FLT_EXISTS.
    assert_eq!(head.url.query(), Some("provider=aws&namespace=%40uuid%23ns&presence=0&props=size"));
}

#[tokio::test(start_paused = true)]
async fn without_remote_head_the_head_asks_the_cluster_only() {
    let get = "/v1/objects/b/o?sig=secret&provider=gcp";
    let lock = LockPollConfig { enable_remote_head: false, ..LockPollConfig::default() };
    let (check_locks, heads) = lock_wait_requests(get, lock).await;

    assert!(check_locks.iter().all(|r| r.url.query() == Some("provider=gcp")), "{check_locks:?}");
    assert!(check_locks.iter().all(|r| r.body == CHECK_LOCK_BODY.as_bytes()));
    let [head] = &heads[..] else { panic!("one HEAD expected, got {heads:?}") };
    // presence=2, FLT_PRESENT.
    assert_eq!(head.url.query(), Some("provider=gcp&presence=2&props=size"));
}
