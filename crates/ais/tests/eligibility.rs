//! Requests that never wait for a write lock, whatever fails: each is retried as configured
//! and no check-lock ever reaches the server.

mod common;

use http::Method;
use stowage_ais::ColdGetError;
use stowage_lockpoll::Ineligible;
use stowage_proto::TransportError;
use tokio::net::TcpListener;
use wiremock::MockServer;

use common::*;

const ATTEMPTS: u32 = 2;

/// `method uri` times out reading on every attempt: it is retried `ATTEMPTS` times, never
/// polled.
async fn read_timeouts_never_poll(verb: Method, uri: &str) -> Option<Ineligible> {
    let server = MockServer::start().await;
    slow(&server, verb.clone(), None).await;
    let (client, sent) = client(&server.uri(), config(ATTEMPTS));

    let ColdGetError::Failed { error, report } = client.cold_get(request(verb.clone(), uri)).await.unwrap_err();

    assert_eq!(error, TransportError::ReadTimeout, "{verb} {uri}");
    assert_eq!(report.attempts, ATTEMPTS, "{verb} {uri}");
    assert!(report.lock_waits.is_empty(), "{verb} {uri}: {report:?}");
    assert_eq!(received(&server, verb.clone()).await.len(), ATTEMPTS as usize, "{verb} {uri}");
    assert_eq!(received(&server, Method::POST).await.len(), if verb == Method::POST { ATTEMPTS as usize } else { 0 });
    assert!(sent.sent().iter().all(|s| s.method == verb), "{verb} {uri}: {:?}", sent.sent());
    report.ineligible
}

#[tokio::test(start_paused = true)]
async fn a_put_of_a_remote_object_never_polls() {
    let ineligible = read_timeouts_never_poll(Method::PUT, OBJECT).await;
    assert_eq!(ineligible, Some(Ineligible::NotGet));
}

#[tokio::test(start_paused = true)]
async fn a_head_of_a_remote_object_never_polls() {
    let ineligible = read_timeouts_never_poll(Method::HEAD, OBJECT).await;
    assert_eq!(ineligible, Some(Ineligible::NotGet));
}

#[tokio::test(start_paused = true)]
async fn a_delete_of_a_remote_object_never_polls() {
    let ineligible = read_timeouts_never_poll(Method::DELETE, OBJECT).await;
    assert_eq!(ineligible, Some(Ineligible::NotGet));
}

#[tokio::test(start_paused = true)]
async fn a_get_of_a_non_object_url_never_polls() {
    let ineligible = read_timeouts_never_poll(Method::GET, "/v1/buckets/b?provider=aws").await;
    assert!(matches!(ineligible, Some(Ineligible::NotAnObject(_))), "{ineligible:?}");
}

#[tokio::test(start_paused = true)]
async fn a_get_from_an_ais_bucket_never_polls() {
    let ineligible = read_timeouts_never_poll(Method::GET, "/v1/objects/b/o?provider=ais").await;
    assert_eq!(ineligible, Some(Ineligible::NotRemote));
}

#[tokio::test(start_paused = true)]
async fn a_get_without_provider_is_an_ais_bucket_and_never_polls() {
    let ineligible = read_timeouts_never_poll(Method::GET, "/v1/objects/b/o").await;
    assert_eq!(ineligible, Some(Ineligible::NotRemote));
}

#[tokio::test(start_paused = true)]
async fn a_refused_connection_never_polls() {
    let closed = TcpListener::bind("127.0.0.1:0").await.unwrap().local_addr().unwrap();
    let (client, sent) = client(&format!("http://{closed}"), config(3));

    let ColdGetError::Failed { error, report } = client.cold_get(request(Method::GET, OBJECT)).await.unwrap_err();

    assert_eq!((error, report.attempts), (TransportError::ConnectRefused, 3));
    assert!(report.lock_waits.is_empty(), "{report:?}");
    assert_eq!(report.ineligible, None, "a remote-object GET: only the error kind rules polling out");
    assert_eq!(sent.times(Method::GET), [0.0, 1.0, 3.0]);
    assert!(sent.sent().iter().all(|s| s.method == Method::GET), "{:?}", sent.sent());
}
