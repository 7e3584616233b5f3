//! The Keep client: replicated block writes over the [`BlockWrite`] machine.

use std::collections::BTreeMap;
use std::hash::{BuildHasher, RandomState};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use stowage_proto::redirect::RedirectPolicy;
use stowage_proto::{Jitter, Seeds, Timeouts};
use stowage_replica::{
    Block, BlockError, BlockWrite, Classifier, PassSchedule, Service, ServiceReport, WriteConfig, WriteOutcome,
    request_id,
};
use stowage_tokio::{EndpointError, HyperTransport, TlsConfig, Transport, drive};
use tracing::{debug, info};

use crate::KeepError;

/// The Python SDK's connect timeout for keepstores: 2 s.
pub const KEEP_CONNECT_TIMEOUT: Duration = Duration::from_secs(2);
/// The Python SDK's transfer timeout: 256 s (here: for the response head, and between body
/// frames).
pub const KEEP_READ_TIMEOUT: Duration = Duration::from_secs(256);
/// The cap on a Keep answer's body (a locator, or an error message): 1 MiB.
pub const KEEP_MAX_BODY: usize = 1 << 20;

/// How a [`KeepClient`] writes: the token, the retry passes and the failure classifier.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct KeepConfig {
    /// The API token, sent as `Authorization: Bearer <token>`.
    pub token: Option<String>,
    /// Passes and the wait between them (default: [`PassSchedule::default`], 3 passes 2 s
    /// apart).
    pub policy: PassSchedule,
    /// Which failures are retryable (default: [`Classifier::Go2024`]).
    pub classifier: Classifier,
}

/// A block written: its signed locator and what it took.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoredBlock {
    /// The locator to use: the signed locator of the latest 2xx answer, or `md5+size` when
    /// none carried one (or `copies` was 0).
    pub locator: String,
    /// Replicas confirmed.
    pub copies: u64,
    /// Replicas confirmed per storage class (empty when the services do not report classes).
    pub classes: BTreeMap<String, u64>,
    /// What each contacted service did, in probe order.
    pub per_service: Vec<ServiceReport>,
    /// Passes made.
    pub passes: u32,
}

/// A Keep client: writes blocks to `copies` replicas across Keep services.
///
/// Every [`put`](KeepClient::put) runs a [`BlockWrite`] machine with [`drive`]; which
/// services, in which order, how many at once and when to retry are the machine's decisions.
/// Requests name their service with absolute URIs (`PUT <root><md5>`), so one transport
/// serves every service. The block's bytes are shared by every PUT, never copied.
///
/// Each call draws a fresh `X-Request-Id` (`req-` and 20 of `[0-9a-z]`) from the client's
/// seed ([`Seeds`]). Cloning is cheap: clones share the transport and the services.
///
/// ```no_run
/// use bytes::Bytes;
/// use stowage_keep::KeepClient;
/// use stowage_replica::{Service, ServiceKind};
///
/// # #[tokio::main]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let services = vec![
///     Service::new("zzzzz-bi6l4-000000000000000", "http://keep0:25107", ServiceKind::Disk)?,
///     Service::new("zzzzz-bi6l4-000000000000001", "http://keep1:25107", ServiceKind::Disk)?,
/// ];
/// let keep = KeepClient::builder(services).token("s3cr3t").build()?;
/// let stored = keep.put(Bytes::from_static(b"foo"), 2, &[]).await?;
/// println!("{} ({} copies)", stored.locator, stored.copies);
/// # Ok(())
/// # }
/// ```
#[derive(Clone, Debug)]
pub struct KeepClient<T: Transport = HyperTransport> {
    transport: T,
    services: Arc<[Service]>,
    config: KeepConfig,
    seeds: Arc<Seeds>,
}

impl KeepClient {
    /// A builder for a client of `services`.
    pub fn builder(services: Vec<Service>) -> KeepClientBuilder {
        KeepClientBuilder {
            services,
            config: KeepConfig::default(),
            timeouts: Timeouts { connect: KEEP_CONNECT_TIMEOUT, read: KEEP_READ_TIMEOUT },
            seed: None,
            tls: TlsConfig::default(),
        }
    }
}

impl<T: Transport> KeepClient<T> {
    /// A client of `services` over `transport`; `seed` feeds the request ids.
    pub fn with_transport(transport: T, services: Vec<Service>, config: KeepConfig, seed: u64) -> Self {
        KeepClient { transport, services: services.into(), config, seeds: Arc::new(Seeds::new(seed)) }
    }

    /// The services.
    pub fn services(&self) -> &[Service] {
        &self.services
    }

    /// The transport.
    pub fn transport(&self) -> &T {
        &self.transport
    }

    /// Writes `block` to `copies` replicas (each of `classes` in `copies` replicas, when the
    /// services report classes) and returns its signed locator. `copies == 0` returns
    /// `md5+size` without writing.
    pub async fn put(&self, block: Bytes, copies: u32, classes: &[&str]) -> Result<StoredBlock, KeepError> {
        let block = hash_block(block)?;
        let hash = block.hash();
        let request_id = request_id(&mut Jitter::from_seed(self.seeds.draw()));
        let config = WriteConfig {
            wanted: copies,
            classes: classes.iter().map(|c| (*c).to_owned()).collect(),
            policy: self.config.policy,
            classifier: self.config.classifier,
            token: self.config.token.clone(),
            request_id: request_id.clone(),
        };
        let machine = BlockWrite::new(block, &self.services, config)?;
        match drive(machine, &self.transport).await?.outcome {
            WriteOutcome::Stored { locator, copies, classes, per_service, passes } => {
                debug!(%request_id, %locator, copies, passes, "block stored");
                Ok(StoredBlock { locator, copies, classes, per_service, passes })
            }
            WriteOutcome::Failed { wanted, got, reason, per_service, passes } => {
                let error = KeepError::Failed { request_id, hash, wanted, got, reason, per_service, passes };
                info!(%error, "block write failed");
                Err(error)
            }
        }
    }
}

/// Above this size a block is hashed with [`tokio::task::block_in_place`] on a multi-threaded
/// runtime (64 MiB of md5 is about 0.1 s of CPU; the worker's other tasks move to another
/// thread meanwhile). Below it, and on a current-thread runtime, it is hashed in place.
const HASH_IN_PLACE_MAX: usize = 1 << 20;

/// The block of `data`, its md5 computed without holding up the runtime's other tasks.
fn hash_block(data: Bytes) -> Result<Block, BlockError> {
    let multi_thread = tokio::runtime::Handle::try_current()
        .is_ok_and(|handle| handle.runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread);
    if multi_thread && data.len() > HASH_IN_PLACE_MAX {
        tokio::task::block_in_place(|| Block::new(data))
    } else {
        Block::new(data)
    }
}

/// Builds a [`KeepClient`] over a [`HyperTransport`].
#[derive(Clone, Debug)]
pub struct KeepClientBuilder {
    services: Vec<Service>,
    config: KeepConfig,
    timeouts: Timeouts,
    seed: Option<u64>,
    tls: TlsConfig,
}

impl KeepClientBuilder {
    /// What to trust when services are `https://` (default: the built-in roots).
    #[must_use]
    pub fn tls(mut self, tls: TlsConfig) -> Self {
        self.tls = tls;
        self
    }

    /// The API token (`Authorization: Bearer <token>`).
    #[must_use]
    pub fn token(mut self, token: impl Into<String>) -> Self {
        self.config.token = Some(token.into());
        self
    }

    /// Passes and the wait between them.
    #[must_use]
    pub fn policy(mut self, policy: PassSchedule) -> Self {
        self.config.policy = policy;
        self
    }

    /// Which failures are retryable.
    #[must_use]
    pub fn classifier(mut self, classifier: Classifier) -> Self {
        self.config.classifier = classifier;
        self
    }

    /// The timeouts of every PUT (default: 2 s to connect, 256 s for the answer, as the
    /// Python SDK).
    #[must_use]
    pub fn timeouts(mut self, timeouts: Timeouts) -> Self {
        self.timeouts = timeouts;
        self
    }

    /// The seed of the request ids (default: random).
    #[must_use]
    pub fn seed(mut self, seed: u64) -> Self {
        self.seed = Some(seed);
        self
    }

    /// The client. Requests carry absolute URIs, so the transport's endpoint is only a
    /// placeholder: the first service's root. A redirect from a service is followed, and
    /// keeps the token only to another of the services (which get it anyway).
    pub fn build(self) -> Result<KeepClient, EndpointError> {
        let endpoint = self.services.first().map_or_else(|| "http://localhost/".to_owned(), |s| s.root().to_string());
        let services = self.services.iter().filter_map(|s| s.root().authority().cloned());
        let redirects = RedirectPolicy::default().trusting(services);
        let transport =
            HyperTransport::new(&endpoint, self.timeouts)?.with_max_body(KEEP_MAX_BODY).with_redirects(redirects);
        let transport = transport.with_tls(&self.tls);
        let seed = self.seed.unwrap_or_else(|| RandomState::new().hash_one(()));
        Ok(KeepClient::with_transport(transport, self.services, self.config, seed))
    }
}
