//! An embedded Keep cluster: keepstore- and keepproxy-compatible services, each on its own
//! port, for replicated-write clients (stowage's `KeepClient`, the Arvados SDKs).
//!
//! Every service answers `PUT /<md5>` as keepstore does: it checks the token, refuses when
//! read-only (403), busy (503: more PUTs at once than `max_concurrent`) or full (507), all
//! before reading the body — so a client sending `Expect: 100-continue` is answered without
//! sending it (hyper sends `100 Continue` only when the body is read) — then verifies the
//! body's md5 and size (400 on a mismatch, 413 over 64 MiB) and answers 200 with the signed
//! locator `md5+size+A<sig>@<expiry>`, `X-Keep-Replicas-Stored` and
//! `X-Keep-Storage-Classes-Confirmed` (its classes, always present). A proxy stores up to
//! its `replicas` per PUT (as many as `X-Keep-Desired-Replicas`) and answers 503, with the
//! count, when that is fewer than desired. Scripts make a service's n-th PUT fail, stall or
//! drop the connection; `latency` delays every answer.
//!
//! The cluster counts what every service stored, so tests and the harness can check
//! over-replication ([`KeepCluster::replicas`]), and logs PUT arrivals in order
//! ([`KeepCluster::arrivals`]) to compare clients' probe orders.

mod config;
mod service;
mod sign;

use std::collections::BTreeMap;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Arc;

use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;
use tokio::task::JoinSet;

pub use config::{KeepClusterConfig, KeepKind, KeepServiceSpec, Scripted};
pub use service::MAX_BLOCK_BYTES;
use service::{ServiceState, Shared};

/// A PUT as it arrived: which service, which block.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Arrival {
    /// The service's index in the configuration.
    pub service: usize,
    /// The request path without its `/` (the block's md5 for a well-formed PUT).
    pub hash: String,
}

/// What one service did.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct KeepServiceStats {
    /// PUTs answered (dropped connections excluded).
    pub puts: u64,
    /// Answers per status code.
    pub statuses: BTreeMap<u16, u64>,
    /// Connections dropped by a script.
    pub dropped: u64,
    /// PUTs refused because the service is read-only (a client should never send them).
    pub read_only_writes: u64,
    /// Distinct blocks held.
    pub blocks: u64,
    /// Replicas held (a disk holds one per block; a proxy counts every replica it stored).
    pub replicas: u64,
    /// Bytes held.
    pub bytes: u64,
}

/// One running service, as a client lists it.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct KeepServiceInfo {
    /// Its uuid.
    pub uuid: String,
    /// Its root URL, `http://127.0.0.1:PORT/`.
    pub root: String,
    /// `disk` or `proxy`.
    pub service_type: &'static str,
    /// Whether it refuses writes.
    pub read_only: bool,
}

/// Why a Keep cluster could not start.
#[derive(Debug, thiserror::Error)]
#[error("cannot listen for Keep service {index}: {source}")]
pub struct KeepClusterError {
    /// The service's index.
    pub index: usize,
    /// Why.
    pub source: std::io::Error,
}

/// A running embedded Keep cluster; it serves until dropped.
#[derive(Debug)]
pub struct KeepCluster {
    shared: Arc<Shared>,
    services: Vec<KeepServiceInfo>,
    /// The accept loops; they own every connection task. Dropping the set aborts them all.
    _servers: JoinSet<()>,
}

impl KeepCluster {
    /// Starts every service of `config` on its own `127.0.0.1` port, on the current tokio
    /// runtime.
    pub async fn start(mut config: KeepClusterConfig) -> Result<KeepCluster, KeepClusterError> {
        let mut listeners = vec![];
        let mut services = vec![];
        let mut states = vec![];
        for (index, spec) in std::mem::take(&mut config.services).into_iter().enumerate() {
            let error = |source| KeepClusterError { index, source };
            let listener = TcpListener::bind(SocketAddr::from((Ipv4Addr::LOCALHOST, 0))).await.map_err(error)?;
            let addr = listener.local_addr().map_err(error)?;
            let uuid = spec.uuid.clone().unwrap_or_else(|| format!("zzzzz-bi6l4-{index:015x}"));
            services.push(KeepServiceInfo {
                uuid,
                root: format!("http://{addr}/"),
                service_type: spec.kind.service_type(),
                read_only: spec.read_only,
            });
            states.push(ServiceState::new(spec));
            listeners.push(listener);
        }
        let shared = Arc::new(Shared::new(config, states));
        let mut servers = JoinSet::new();
        for (index, listener) in listeners.into_iter().enumerate() {
            servers.spawn(accept_loop(listener, Arc::clone(&shared), index));
        }
        Ok(KeepCluster { shared, services, _servers: servers })
    }

    /// The services, in configuration order.
    pub fn services(&self) -> &[KeepServiceInfo] {
        &self.services
    }

    /// What each service did, in configuration order.
    pub fn stats(&self) -> Vec<KeepServiceStats> {
        self.shared.services.iter().map(ServiceState::stats).collect()
    }

    /// Replicas of block `hash` held across all services.
    pub fn replicas(&self, hash: &str) -> u64 {
        self.shared.services.iter().map(|s| s.replicas_of(hash)).sum()
    }

    /// Every PUT received, in arrival order.
    pub fn arrivals(&self) -> Vec<Arrival> {
        self.shared.arrivals()
    }

    /// PUTs received (answered or dropped), over all services.
    pub fn puts(&self) -> u64 {
        self.stats().iter().map(|s| s.puts + s.dropped).sum()
    }
}

/// Accepts connections for service `index` and serves each with HTTP/1.1 keep-alive.
async fn accept_loop(listener: TcpListener, shared: Arc<Shared>, index: usize) {
    let mut connections = JoinSet::new();
    loop {
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => {
                    if let Err(error) = stream.set_nodelay(true) {
                        tracing::debug!(%error, "cannot set TCP_NODELAY");
                    }
                    let shared = Arc::clone(&shared);
                    connections.spawn(async move {
                        let service = service_fn(|request| {
                            let shared = Arc::clone(&shared);
                            async move { service::handle(&shared, index, request).await }
                        });
                        if let Err(error) = http1::Builder::new().serve_connection(TokioIo::new(stream), service).await {
                            tracing::debug!(%error, "keep connection ended with an error");
                        }
                    });
                }
                Err(error) => {
                    tracing::warn!(%error, "keep accept failed");
                    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                }
            },
            Some(_) = connections.join_next() => {}
        }
    }
}
