//! How many requests, and when: the poll schedule and the network backoff, on tokio's paused
//! clock (see `common`). Times are machine times in seconds, exact unless jitter is on.

mod common;

use std::time::Duration;

use http::Method;
use stowage_ais::ColdGetError;
use stowage_lockpoll::{ColdGetConfig, GiveUpReason, LockPollConfig, LockWaitOutcome, NETWORK_RETRY};
use stowage_proto::TransportError;
use tokio::net::TcpListener;
use wiremock::{MockServer, ResponseTemplate};

use common::*;

const HUNDRED_GIB: &str = "107374182400";

/// A server whose object is locked for good, reporting `size` on HEAD; the first GET times
/// out, the next succeeds.
async fn locked_object(size: &str) -> MockServer {
    let server = MockServer::start().await;
    slow(&server, Method::GET, Some(1)).await;
    answer(&server, Method::GET, ResponseTemplate::new(200).set_body_string("the object"), None).await;
    answer(&server, Method::POST, ResponseTemplate::new(423), None).await;
    let head = ResponseTemplate::new(200).insert_header("content-length", size);
    answer(&server, Method::HEAD, head, None).await;
    server
}

fn with_lock(lock: LockPollConfig) -> ColdGetConfig {
    ColdGetConfig { lock, ..config(7) }
}

/// Differences between consecutive times.
fn gaps(times: &[f64]) -> Vec<f64> {
    times.windows(2).map(|w| w[1] - w[0]).collect()
}

#[tokio::test(start_paused = true)]
async fn unknown_size_polls_every_two_seconds_until_max_cold_wait() {
    let server = locked_object("0").await;
    let lock = LockPollConfig { max_cold_wait: Duration::from_secs(10), ..LockPollConfig::default() };
    let (client, sent) = client(&server.uri(), with_lock(lock));

    let got = client.cold_get(request(Method::GET, OBJECT)).await.unwrap();

    let still_locked =
        LockWaitOutcome::GaveUp { reason: GiveUpReason::StillLocked, polls: 6, waited: Duration::from_secs(10) };
    assert_eq!(got.report.lock_waits, [still_locked]);
    // The first check-lock, then polls at 0, 2, … 10 s; the last one is at the deadline.
    assert_eq!(sent.times(Method::POST), [0.0, 0.0, 2.0, 4.0, 6.0, 8.0, 10.0]);
    assert_eq!(sent.times(Method::GET), [0.0, 11.0]);
}

#[tokio::test(start_paused = true)]
async fn a_hundred_gib_object_polls_with_size_scaled_backoff_capped_by_max_cold_wait() {
    let server = locked_object(HUNDRED_GIB).await;
    let (client, sent) = client(&server.uri(), with_lock(LockPollConfig::default()));

    let got = client.cold_get(request(Method::GET, OBJECT)).await.unwrap();

    assert_eq!(got.response.body(), "the object");
    let still_locked =
        LockWaitOutcome::GaveUp { reason: GiveUpReason::StillLocked, polls: 8, waited: Duration::from_secs(180) };
    assert_eq!(got.report.lock_waits, [still_locked]);
    // shortest 10 s, longest 90 s: sleeps 10, 10, 10, 16, 32, 64, then cut to the 180 s deadline.
    let polls = &sent.times(Method::POST)[1..];
    assert_eq!(gaps(polls), [10.0, 10.0, 10.0, 16.0, 32.0, 64.0, 38.0]);
    assert_eq!(polls.last(), Some(&180.0));
    assert_eq!(sent.times(Method::GET), [0.0, 181.0]);
}

#[tokio::test(start_paused = true)]
async fn lock_poll_jitter_stays_between_the_shortest_and_the_nominal_sleep() {
    let server = locked_object(HUNDRED_GIB).await;
    let lock = LockPollConfig { jitter: true, max_cold_wait: Duration::from_secs(120), ..LockPollConfig::default() };
    let (client, sent) = client(&server.uri(), with_lock(lock));

    client.cold_get(request(Method::GET, OBJECT)).await.unwrap();

    let polls = &sent.instants(Method::POST)[1..];
    let sleeps: Vec<Duration> = polls.windows(2).map(|w| w[1] - w[0]).collect();
    let nominal = [10, 10, 10, 16, 32, 64, 90].map(Duration::from_secs);
    // Every sleep but the last (cut by the deadline) lies in [shortest, nominal].
    for (k, sleep) in sleeps.iter().enumerate().take(sleeps.len() - 1) {
        assert!((Duration::from_secs(10)..=nominal[k]).contains(sleep), "sleep {k} in {sleeps:?}");
    }
    assert!(sleeps.iter().any(|s| s.subsec_nanos() != 0), "no jitter: {sleeps:?}");
    assert!(polls[polls.len() - 1] - polls[0] <= Duration::from_secs(120), "{polls:?}");
}

/// A server whose remote-object GETs always time out; check-lock says not locked.
async fn always_slow() -> MockServer {
    let server = MockServer::start().await;
    slow(&server, Method::GET, None).await;
    answer(&server, Method::POST, ResponseTemplate::new(200), None).await;
    server
}

#[tokio::test(start_paused = true)]
async fn a_persistent_read_timeout_makes_seven_attempts_with_exponential_backoff() {
    let server = always_slow().await;
    let (client, sent) = client(&server.uri(), config(NETWORK_RETRY.max_attempts));

    let error = client.cold_get(request(Method::GET, OBJECT)).await.unwrap_err();

    let ColdGetError::Failed { error, report } = error;
    assert_eq!(error, TransportError::ReadTimeout);
    assert_eq!(report.attempts, 7);
    // Min 1 s, doubling, max 30 s.
    assert_eq!(sent.times(Method::GET), [0.0, 1.0, 3.0, 7.0, 15.0, 31.0, 61.0]);
    // A lock wait after each failed attempt but the last.
    assert_eq!(report.lock_waits, [LockWaitOutcome::NotLocked; 6]);
    assert_eq!(received(&server, Method::GET).await.len(), 7);
    assert_eq!(received(&server, Method::POST).await.len(), 6);
}

#[tokio::test(start_paused = true)]
async fn max_attempts_is_configurable() {
    let server = always_slow().await;
    let (client, sent) = client(&server.uri(), config(3));

    let ColdGetError::Failed { error, report } = client.cold_get(request(Method::GET, OBJECT)).await.unwrap_err();

    assert_eq!((error, report.attempts), (TransportError::ReadTimeout, 3));
    assert_eq!(sent.times(Method::GET), [0.0, 1.0, 3.0]);
    assert_eq!(received(&server, Method::GET).await.len(), 3);
}

#[tokio::test(start_paused = true)]
async fn jittered_backoff_stays_between_one_second_and_the_nominal_delay() {
    let closed = TcpListener::bind("127.0.0.1:0").await.unwrap().local_addr().unwrap();
    let config = ColdGetConfig::default(); // jitter on, 7 attempts
    let (client, sent) = client(&format!("http://{closed}"), config);

    let mut runs = Vec::new();
    for _ in 0..2 {
        let ColdGetError::Failed { error, report } = client.cold_get(request(Method::GET, OBJECT)).await.unwrap_err();
        assert_eq!((error, report.attempts), (TransportError::ConnectRefused, 7));
        let times = sent.instants(Method::GET);
        let delays: Vec<Duration> = times[times.len() - 7..].windows(2).map(|w| w[1] - w[0]).collect();
        runs.push(delays);
    }
    let nominal = [1, 2, 4, 8, 16, 30].map(Duration::from_secs);
    for delays in &runs {
        for (delay, max) in delays.iter().zip(nominal) {
            assert!((Duration::from_secs(1)..=max).contains(delay), "{delays:?}");
        }
    }
    assert_ne!(runs[0], runs[1], "two calls of one client drew the same jitter");
}
