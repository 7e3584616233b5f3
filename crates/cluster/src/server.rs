//! [`Cluster`]: the listener, the accept loop, and the handle tests and the harness hold.

use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use stowage_proto::ais::Bucket;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::{JoinHandle, JoinSet};

use crate::conn;
use crate::faults::{FaultRule, InvalidFault};
use crate::scenario::{ClusterConfig, ScenarioError};
use crate::shaping::{Link, RangeFaultRule};
use crate::state::State;
use crate::stats::Stats;
use crate::store::{Content, Origin};

/// How long [`Cluster::shutdown`] lets open connections finish their requests before it
/// cuts them.
pub const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);
/// How long the accept loop pauses after an accept error (e.g. out of file descriptors).
const ACCEPT_BACKOFF: Duration = Duration::from_millis(50);

/// Why a cluster could not start.
#[derive(Debug, thiserror::Error)]
pub enum ClusterError {
    /// The configuration is invalid.
    #[error("invalid cluster configuration: {0}")]
    Scenario(#[from] ScenarioError),
    /// The listening socket could not be set up.
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// The address asked for.
        addr: SocketAddr,
        /// Why.
        source: std::io::Error,
    },
}

/// A running embedded AIStore cluster.
///
/// It serves until [`Cluster::shutdown`] (graceful) or until it is dropped (connections are
/// cut at once). Objects and fault rules can be added while it runs.
#[derive(Debug)]
pub struct Cluster {
    addr: SocketAddr,
    state: Arc<State>,
    shutdown: watch::Sender<bool>,
    /// The accept loop; it owns every connection task. `None` once shut down.
    accept: Option<JoinHandle<()>>,
}

impl Cluster {
    /// Validates `config`, binds its address (`127.0.0.1:0` by default) and starts serving
    /// on the current tokio runtime.
    pub async fn start(config: ClusterConfig) -> Result<Cluster, ClusterError> {
        let scenario = config.resolve()?;
        let addr = config.addr.unwrap_or(SocketAddr::from((Ipv4Addr::LOCALHOST, 0)));
        let bind_error = |source| ClusterError::Bind { addr, source };
        let listener = TcpListener::bind(addr).await.map_err(bind_error)?;
        let local = listener.local_addr().map_err(bind_error)?;
        let state = Arc::new(State::seeded(scenario));
        let (shutdown, signal) = watch::channel(false);
        let accept = tokio::spawn(accept_loop(listener, Arc::clone(&state), signal));
        tracing::debug!(addr = %local, "cluster listening");
        Ok(Cluster { addr: local, state, shutdown, accept: Some(accept) })
    }

    /// The address it listens on.
    pub fn addr(&self) -> std::net::SocketAddr {
        self.addr
    }

    /// Its jobs: script them by kind, start them, see how often they were polled.
    pub fn jobs(&self) -> &crate::Jobs {
        &self.state.jobs
    }

    /// Its base URL, `http://ip:port`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Stores `data` as object `name`, creating the bucket if missing. The object is in the
    /// bucket's backend: in a remote bucket it starts cold (its first GET is a cold GET).
    pub fn put_object(&self, bucket: &Bucket, name: &str, data: Bytes) {
        self.state.store.put(bucket, name, Content::Bytes(data), Origin::Backend);
    }

    /// Like [`Cluster::put_object`] with `size` bytes of generated content (see
    /// [`Generator`](crate::Generator)), which is never held in memory.
    pub fn put_generated(&self, bucket: &Bucket, name: &str, size: u64) {
        self.state.store.put(bucket, name, Content::generated(name, size), Origin::Backend);
    }

    /// Creates `bucket` if missing, and sets how long its cold GETs hold an object's write
    /// lock (buckets created implicitly use [`DEFAULT_COLD_GET_LOCK`](crate::DEFAULT_COLD_GET_LOCK)).
    pub fn create_bucket(&self, bucket: &Bucket, cold_get_lock: Duration) {
        self.state.store.create_bucket(bucket, cold_get_lock);
    }

    /// Makes a remote object cold again: its next GET is a cold GET. False if the object is
    /// absent or its bucket is not remote (objects of `ais` buckets are never cold).
    pub fn evict(&self, bucket: &Bucket, name: &str) -> bool {
        self.state.store.evict(bucket, name)
    }

    /// Appends a fault rule (tried after the existing ones). A rule that does not
    /// [validate](FaultRule::validate) is kept, logged, and answered as follows: a bad method
    /// or path prefix never matches; a bad status is answered 500 saying why. Use
    /// [`Cluster::try_add_fault`] to be told instead.
    pub fn add_fault(&self, rule: FaultRule) {
        if let Err(error) = rule.validate() {
            tracing::warn!(%error, "adding an invalid fault rule");
        }
        self.state.faults.add(rule);
    }

    /// Appends a fault rule if it is valid.
    pub fn try_add_fault(&self, rule: FaultRule) -> Result<(), InvalidFault> {
        rule.validate()?;
        self.state.faults.add(rule);
        Ok(())
    }

    /// Sets the bandwidth cap per connection and the first-byte latency of object GETs.
    pub fn set_link(&self, link: Link) {
        self.state.shaping.set_link(link);
    }

    /// Appends a range fault rule (tried after the existing ones).
    pub fn add_range_fault(&self, rule: RangeFaultRule) {
        self.state.shaping.add(rule);
    }

    /// A snapshot of the request counters.
    pub fn stats(&self) -> Stats {
        self.state.counters.snapshot()
    }

    /// Stops accepting, lets open connections finish the request in flight (closing idle
    /// ones at once), and returns when all are closed or after [`SHUTDOWN_GRACE`], when the
    /// rest are cut.
    pub async fn shutdown(mut self) {
        self.shutdown.send_replace(true);
        if let Some(accept) = self.accept.take()
            && let Err(error) = accept.await
        {
            tracing::warn!(%error, "cluster accept loop failed");
        }
    }
}

impl Drop for Cluster {
    /// Cuts the cluster: aborting the accept loop drops every connection task with it.
    fn drop(&mut self) {
        if let Some(accept) = self.accept.take() {
            accept.abort();
        }
    }
}

/// Accepts connections until `shutdown` turns true (or its sender goes away), then drains
/// them. Every connection task lives in this task's [`JoinSet`], so aborting this task
/// aborts them all.
async fn accept_loop(listener: TcpListener, state: Arc<State>, shutdown: watch::Receiver<bool>) {
    let mut connections = JoinSet::new();
    let mut stop = shutdown.clone();
    loop {
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _peer)) => {
                    connections.spawn(conn::serve(stream, Arc::clone(&state), shutdown.clone()));
                }
                Err(error) => {
                    tracing::warn!(%error, "accept failed");
                    tokio::time::sleep(ACCEPT_BACKOFF).await;
                }
            },
            Some(done) = connections.join_next() => log_join(done),
            () = conn::stopped(&mut stop) => break,
        }
    }
    drop(listener);
    let drain = async {
        while let Some(done) = connections.join_next().await {
            log_join(done);
        }
    };
    if tokio::time::timeout(SHUTDOWN_GRACE, drain).await.is_err() {
        tracing::debug!(open = connections.len(), "shutdown grace elapsed; cutting connections");
        connections.shutdown().await;
    }
}

fn log_join(done: Result<(), tokio::task::JoinError>) {
    if let Err(error) = done
        && error.is_panic()
    {
        tracing::error!(%error, "connection task panicked");
    }
}
