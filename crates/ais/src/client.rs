//! The object API: a cold-GET client over any [`Transport`].

use std::hash::{BuildHasher, RandomState};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::{Method, Request, Response, StatusCode, Uri};
use stowage_lockpoll::{ColdGet, ColdGetConfig, ColdGetOutcome, GiveUpReason, LockPoller, LockWaitOutcome, Report};
use stowage_proto::ais::{ObjectAddress, Smap};
use stowage_proto::redirect::RedirectPolicy;
use stowage_proto::{DEFAULT_MAX_BODY, DriveError, Driven, Seeds, Timeouts, TransportError};
use stowage_tokio::{EndpointError, HyperTransport, TlsConfig, Transport, drive, send_following};
use tracing::{debug, error, info};

use crate::{ClusterMapError, ColdGetError};

/// A successful cold GET: the response (of any HTTP status) and what it took.
#[derive(Debug)]
pub struct ColdGetResponse {
    /// The response of the attempt that got one.
    pub response: Response<Bytes>,
    /// Attempts made and lock waits on the way.
    pub report: Report,
}

/// An AIStore client with the cold-GET retry.
///
/// Every call runs a stowage machine ([`ColdGet`], [`LockPoller`]) with [`drive`]; all retry
/// and poll decisions are the machine's. Each call draws a fresh machine seed from the
/// client's seed ([`Seeds`]: one value per call, in call order), so concurrent calls do not
/// jitter in lockstep while a client built with a fixed seed stays reproducible.
///
/// Cloning is cheap: clones share the transport (and its connection pool) and the seed
/// sequence.
#[derive(Clone, Debug)]
pub struct Client<T: Transport = HyperTransport> {
    transport: T,
    config: ColdGetConfig,
    seeds: Arc<Seeds>,
}

impl Client {
    /// A client for `endpoint` (`http://host[:port]`) with the default timeouts, body cap,
    /// retry and lock-wait configuration, and a random seed.
    pub fn new(endpoint: &str) -> Result<Self, EndpointError> {
        Client::builder(endpoint).build()
    }

    /// A builder for a client of `endpoint`.
    pub fn builder(endpoint: &str) -> ClientBuilder {
        ClientBuilder {
            endpoint: endpoint.to_owned(),
            timeouts: Timeouts::default(),
            max_body: DEFAULT_MAX_BODY,
            config: ColdGetConfig::default(),
            seed: None,
            redirects: RedirectPolicy::default(),
            tls: TlsConfig::default(),
        }
    }
}

impl<T: Transport> Client<T> {
    /// A client over `transport`, retrying as `config` says; `seed` feeds all jitter.
    pub fn with_transport(transport: T, config: ColdGetConfig, seed: u64) -> Self {
        Client { transport, config, seeds: Arc::new(Seeds::new(seed)) }
    }

    /// The transport.
    pub fn transport(&self) -> &T {
        &self.transport
    }

    /// The retry and lock-wait configuration.
    pub fn config(&self) -> &ColdGetConfig {
        &self.config
    }

    /// Sends `request` with the cold-GET retry around it ([`ColdGet`]): on a failure below
    /// HTTP, back off and try again, up to `max_attempts`; before retrying a remote-object GET
    /// that timed out reading, wait for the object's write lock.
    ///
    /// Any HTTP response ends the retry and is returned, whatever its status. A driver failure
    /// (a machine bug, never the server's doing) is logged and returned as
    /// [`ColdGetError::Failed`] with [`TransportError::Other`].
    pub async fn cold_get(&self, request: Request<Bytes>) -> Result<ColdGetResponse, ColdGetError> {
        let (method, uri) = (request.method().clone(), request.uri().clone());
        let machine = ColdGet::new(request, self.config.clone(), self.seeds.draw());
        let driven = drive(machine, &self.transport).await;
        let (outcome, mut responses) = match driven {
            Ok(Driven { outcome, responses }) => (outcome, responses),
            Err(error) => return Err(driver_failure(error, Report::default())),
        };
        match outcome {
            ColdGetOutcome::Response { id, report } => {
                log_lock_waits(&report);
                let Some(response) = responses.take(id) else {
                    return Err(driver_failure(DriveError::NoResponse(id), report));
                };
                let status = response.status();
                if report.attempts > 1 {
                    info!(%method, %uri, %status, attempts = report.attempts, polls = report.polls(), "response after retries");
                } else {
                    debug!(%method, %uri, %status, "response");
                }
                Ok(ColdGetResponse { response, report })
            }
            ColdGetOutcome::Failed { error, report } => {
                log_lock_waits(&report);
                info!(%method, %uri, %error, attempts = report.attempts, "giving up");
                Err(ColdGetError::Failed { error, report })
            }
        }
    }

    /// GETs the object at `address` with the cold-GET retry ([`Client::cold_get`]).
    pub async fn get_object(&self, address: &ObjectAddress) -> Result<ColdGetResponse, ColdGetError> {
        self.cold_get(object_request(Method::GET, address, Bytes::new())).await
    }

    /// PUTs `body` as the object at `address`: one attempt, no retry (through the proxy's
    /// redirect to the target, as every request).
    pub async fn put_object(&self, address: &ObjectAddress, body: Bytes) -> Result<StatusCode, TransportError> {
        let response = send_following(&self.transport, object_request(Method::PUT, address, body)).await?;
        Ok(response.status())
    }

    /// Waits until the object at `address` is not write-locked ([`LockPoller`] alone, as after
    /// a read timeout): check-lock, size HEAD, then polls until unlocked or `max_cold_wait`.
    ///
    /// Best effort, like the poller: it never fails. A driver failure (a machine bug, never
    /// the server's doing) is logged and reported as giving up with
    /// [`TransportError::Other`].
    pub async fn wait_for_unlock(&self, address: &ObjectAddress) -> LockWaitOutcome {
        let poller = LockPoller::new(address.clone(), self.config.lock.clone(), self.seeds.draw());
        let outcome = match drive(poller, &self.transport).await {
            Ok(driven) => driven.outcome,
            Err(error) => {
                error!(%error, "lock wait driver failure");
                let reason = GiveUpReason::CheckLockFailed(TransportError::Other);
                LockWaitOutcome::GaveUp { reason, polls: 0, waited: Duration::ZERO }
            }
        };
        log_lock_wait(&outcome);
        outcome
    }
}

impl<T: Transport> Client<T> {
    /// The cluster map, from the proxy (`GET /v1/daemon?what=smap`, redirects followed): which
    /// targets there are, where each listens, which are in maintenance.
    pub async fn smap(&self) -> Result<Smap, ClusterMapError> {
        let request = Request::get(SMAP_PATH).body(Bytes::new()).map_err(|_| TransportError::Other)?;
        let response = send_following(&self.transport, request).await?;
        if response.status() != StatusCode::OK {
            return Err(ClusterMapError::Status(response.status()));
        }
        Ok(Smap::parse(response.body())?)
    }

    /// The URL of the object at `address` on the target that owns it, by the cluster map's
    /// placement ([`Smap::direct_url`]): where a read goes without the proxy's redirect, as the
    /// SDK's `get_reader(direct=True)` does. One request for the map.
    pub async fn direct_url(&self, address: &ObjectAddress) -> Result<Uri, ClusterMapError> {
        Ok(self.smap().await?.direct_url(address)?)
    }
}

/// The proxy's cluster-map request.
const SMAP_PATH: &str = "/v1/daemon?what=smap";

/// A request for the object at `address` (bucket parameters only).
fn object_request(method: Method, address: &ObjectAddress, body: Bytes) -> Request<Bytes> {
    let mut request = Request::new(body);
    *request.method_mut() = method;
    *request.uri_mut() = address.uri(&[]);
    request
}

/// A driver failure as a cold-GET error: logged, and reported as [`TransportError::Other`]
/// since it is nobody's network fault.
fn driver_failure(error: DriveError, report: Report) -> ColdGetError {
    error!(%error, "cold GET driver failure");
    ColdGetError::Failed { error: TransportError::Other, report }
}

fn log_lock_waits(report: &Report) {
    report.lock_waits.iter().for_each(log_lock_wait);
}

fn log_lock_wait(outcome: &LockWaitOutcome) {
    match outcome {
        LockWaitOutcome::NotLocked => debug!("lock wait: not locked"),
        LockWaitOutcome::Unlocked { polls, waited } => info!(polls, ?waited, "lock wait: unlocked"),
        LockWaitOutcome::GaveUp { reason, polls, waited } => info!(%reason, polls, ?waited, "lock wait: gave up"),
    }
}

/// Builds a [`Client`] over a [`HyperTransport`].
#[derive(Clone, Debug)]
pub struct ClientBuilder {
    endpoint: String,
    timeouts: Timeouts,
    max_body: usize,
    config: ColdGetConfig,
    seed: Option<u64>,
    redirects: RedirectPolicy,
    tls: TlsConfig,
}

impl ClientBuilder {
    /// The connect timeout (default 3 s).
    #[must_use]
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.timeouts.connect = timeout;
        self
    }

    /// The read timeout: for the response head and for each body frame (default 20 s).
    #[must_use]
    pub fn read_timeout(mut self, timeout: Duration) -> Self {
        self.timeouts.read = timeout;
        self
    }

    /// Both timeouts at once.
    #[must_use]
    pub fn timeouts(mut self, timeouts: Timeouts) -> Self {
        self.timeouts = timeouts;
        self
    }

    /// The cap on a response body (default 1 GiB).
    #[must_use]
    pub fn max_body(mut self, max_body: usize) -> Self {
        self.max_body = max_body;
        self
    }

    /// The retry and lock-wait configuration (default: [`ColdGetConfig::default`], 7 attempts
    /// with jittered backoff between 1 s and 30 s, lock waits of at most 180 s).
    #[must_use]
    pub fn cold_get(mut self, config: ColdGetConfig) -> Self {
        self.config = config;
        self
    }

    /// The seed of all jitter. Without one, each client gets a random seed from the standard
    /// library's `RandomState` (randomly keyed per process, different for every client).
    #[must_use]
    pub fn seed(mut self, seed: u64) -> Self {
        self.seed = Some(seed);
        self
    }

    /// Which redirects to follow (default [`RedirectPolicy::default`]: at most 10 hops,
    /// credentials only to the endpoint).
    ///
    /// The client sends no credentials of its own; a caller that puts an `Authorization` header
    /// on its requests ([`Client::cold_get`]) and wants it to reach the targets trusts the
    /// cluster's nodes: `RedirectPolicy::default().trusting(smap.public_authorities())`, with
    /// the map of `GET /v1/daemon?what=smap` ([`Smap`](stowage_proto::ais::Smap)).
    #[must_use]
    pub fn redirects(mut self, policy: RedirectPolicy) -> Self {
        self.redirects = policy;
        self
    }

    /// What to trust over `https://` (default: the built-in roots).
    #[must_use]
    pub fn tls(mut self, tls: TlsConfig) -> Self {
        self.tls = tls;
        self
    }

    /// The client.
    pub fn build(self) -> Result<Client, EndpointError> {
        let transport = HyperTransport::new(&self.endpoint, self.timeouts)?
            .with_max_body(self.max_body)
            .with_redirects(self.redirects)
            .with_tls(&self.tls);
        let seed = self.seed.unwrap_or_else(|| RandomState::new().hash_one(()));
        Ok(Client::with_transport(transport, self.config, seed))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builder_rejects_bad_endpoints() {
        assert!(matches!(Client::new("ftp://h"), Err(EndpointError::UnsupportedEndpoint { .. })));
        let client = Client::builder("http://127.0.0.1:1").read_timeout(Duration::from_millis(5)).seed(3).build();
        assert_eq!(client.unwrap().transport().timeouts().read, Duration::from_millis(5));
    }
}
