//! Test transports and wiremock set-ups shared by the integration tests.
//!
//! The tests run on tokio's paused clock, which auto-advances whenever the runtime is idle —
//! including while a task waits on a real socket, which would fire a read timeout before the
//! server answers. [`RealTime`] solves it through the `Transport` seam: it runs the real
//! `HyperTransport` on a separate real-time runtime from a blocking task, and the paused clock
//! stands still while a blocking task runs. Requests thus take no test time, the transport's
//! own read timeout works in real time, and every sleep of the machines is skipped instantly.
#![allow(dead_code, unreachable_pub)]

use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use bytes::Bytes;
use http::{Method, Request, Response};
use stowage_ais::Client;
use stowage_lockpoll::{ColdGetConfig, LockPollConfig, NETWORK_RETRY};
use stowage_proto::Retry;
use stowage_proto::TransportError;
use stowage_proto::redirect::RedirectPolicy;
use stowage_tokio::{HyperTransport, Timeouts, Transport};
use wiremock::matchers::method;
use wiremock::{Mock, MockServer, ResponseTemplate};

/// The real read timeout of the transport under test.
pub const READ_TIMEOUT: Duration = Duration::from_millis(200);
/// How long a "slow" mock takes to answer: well past [`READ_TIMEOUT`].
pub const SLOW: Duration = Duration::from_secs(1);

/// The remote-object GET most tests read.
pub const OBJECT: &str = "/v1/objects/b/o?provider=aws";

fn real_time() -> &'static tokio::runtime::Runtime {
    static RUNTIME: OnceLock<tokio::runtime::Runtime> = OnceLock::new();
    RUNTIME.get_or_init(|| tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap())
}

/// Runs the inner transport on a real-time runtime from a blocking task (see the module doc).
#[derive(Clone)]
pub struct RealTime<T>(pub T);

impl<T: Transport> Transport for RealTime<T> {
    async fn send(&self, request: Request<Bytes>) -> Result<Response<Bytes>, TransportError> {
        let inner = self.0.clone();
        tokio::task::spawn_blocking(move || real_time().block_on(inner.send(request))).await.unwrap()
    }

    fn locate(&self, uri: &http::Uri) -> Option<http::Uri> {
        self.0.locate(uri)
    }

    fn redirect_policy(&self) -> &RedirectPolicy {
        self.0.redirect_policy()
    }
}

/// Picks the requests to fail, and how.
pub type Fault = Arc<dyn Fn(&Request<Bytes>) -> Option<TransportError> + Send + Sync>;

/// Fails the requests `fault` picks with the error it names, without sending them.
#[derive(Clone)]
pub struct Inject<T> {
    inner: T,
    fault: Fault,
}

impl<T: Transport> Transport for Inject<T> {
    async fn send(&self, request: Request<Bytes>) -> Result<Response<Bytes>, TransportError> {
        match (self.fault)(&request) {
            Some(error) => Err(error),
            None => self.inner.send(request).await,
        }
    }

    fn locate(&self, uri: &http::Uri) -> Option<http::Uri> {
        self.inner.locate(uri)
    }

    fn redirect_policy(&self) -> &RedirectPolicy {
        self.inner.redirect_policy()
    }
}

/// One request as the client sent it, stamped with the tokio clock.
#[derive(Clone, Debug)]
pub struct Sent {
    /// Tokio time since the recorder was made.
    pub at: Duration,
    pub method: Method,
    pub uri: http::Uri,
}

/// Records every request (before sending it) with the tokio time it was sent at.
#[derive(Clone)]
pub struct Recorder<T> {
    inner: T,
    epoch: tokio::time::Instant,
    sent: Arc<Mutex<Vec<Sent>>>,
}

impl<T> Recorder<T> {
    pub fn new(inner: T) -> Self {
        Recorder { inner, epoch: tokio::time::Instant::now(), sent: Arc::default() }
    }

    /// Everything sent, in order.
    pub fn sent(&self) -> Vec<Sent> {
        self.sent.lock().unwrap().clone()
    }

    /// `(seconds since the epoch, method)` of everything sent.
    pub fn timeline(&self) -> Vec<(f64, Method)> {
        self.sent().into_iter().map(|s| (s.at.as_secs_f64(), s.method)).collect()
    }

    /// When each request with `method` was sent.
    pub fn instants(&self, method: Method) -> Vec<Duration> {
        self.sent().into_iter().filter(|s| s.method == method).map(|s| s.at).collect()
    }

    /// When each request with `method` was sent, in seconds.
    pub fn times(&self, method: Method) -> Vec<f64> {
        self.instants(method).iter().map(Duration::as_secs_f64).collect()
    }
}

impl<T: Transport> Transport for Recorder<T> {
    async fn send(&self, request: Request<Bytes>) -> Result<Response<Bytes>, TransportError> {
        let sent = Sent { at: self.epoch.elapsed(), method: request.method().clone(), uri: request.uri().clone() };
        self.sent.lock().unwrap().push(sent);
        self.inner.send(request).await
    }

    fn locate(&self, uri: &http::Uri) -> Option<http::Uri> {
        self.inner.locate(uri)
    }

    fn redirect_policy(&self) -> &RedirectPolicy {
        self.inner.redirect_policy()
    }
}

/// The transport stack of the tests: recorded, with injected faults, real IO off the clock.
pub type Stack = Recorder<Inject<RealTime<HyperTransport>>>;

/// A client of `endpoint` over [`Stack`], failing what `fault` picks.
pub fn client_with_faults(
    endpoint: &str,
    config: ColdGetConfig,
    fault: impl Fn(&Request<Bytes>) -> Option<TransportError> + Send + Sync + 'static,
) -> (Client<Stack>, Stack) {
    let timeouts = Timeouts { read: READ_TIMEOUT, ..Timeouts::default() };
    let hyper = HyperTransport::new(endpoint, timeouts).unwrap();
    let stack = Recorder::new(Inject { inner: RealTime(hyper), fault: Arc::new(fault) });
    (Client::with_transport(stack.clone(), config, 7), stack)
}

/// A client of `endpoint` over [`Stack`], without faults.
pub fn client(endpoint: &str, config: ColdGetConfig) -> (Client<Stack>, Stack) {
    client_with_faults(endpoint, config, |_| None)
}

/// `max_attempts` attempts, exact (unjittered) backoff of 1, 2, 4 … 30 s, default lock waits.
pub fn config(max_attempts: u32) -> ColdGetConfig {
    ColdGetConfig { retry: Retry { max_attempts, jitter: false, ..NETWORK_RETRY }, lock: LockPollConfig::default() }
}

pub fn request(method: Method, uri: &str) -> Request<Bytes> {
    Request::builder().method(method).uri(uri).body(Bytes::from_static(b"payload")).unwrap()
}

/// Answers `method` after [`SLOW`] (a read timeout), the first `times` times (always if
/// `None`), ahead of the other mocks.
pub async fn slow(server: &MockServer, verb: Method, times: Option<u64>) {
    let mock = Mock::given(method(verb.as_str())).respond_with(ResponseTemplate::new(200).set_delay(SLOW));
    let mock = match times {
        Some(n) => mock.up_to_n_times(n),
        None => mock,
    };
    mock.with_priority(1).mount(server).await;
}

/// Answers `method` with `template`, the first `times` times (always if `None`), ahead of
/// mocks without a limit when limited.
pub async fn answer(server: &MockServer, verb: Method, template: ResponseTemplate, times: Option<u64>) {
    let mock = Mock::given(method(verb.as_str())).respond_with(template);
    match times {
        Some(n) => mock.up_to_n_times(n).with_priority(2).mount(server).await,
        None => mock.mount(server).await,
    }
}

/// Check-lock answers: `locked` times 423, then 200.
pub async fn locked_for(server: &MockServer, locked: u64) {
    answer(server, Method::POST, ResponseTemplate::new(423), Some(locked)).await;
    answer(server, Method::POST, ResponseTemplate::new(200), None).await;
}

/// The requests the server received with `verb`.
pub async fn received(server: &MockServer, verb: Method) -> Vec<wiremock::Request> {
    let all = server.received_requests().await.unwrap();
    all.into_iter().filter(|r| r.method == verb).collect()
}
