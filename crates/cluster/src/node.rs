//! The listening nodes of a cluster: each one's listener and accept loop, which a target can
//! lose (down) and get back on the same port (restart).

use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::{JoinHandle, JoinSet};

use crate::conn;
use crate::state::State;
use crate::topology::NodeError;

/// How long [`Cluster::shutdown`](crate::Cluster::shutdown) lets open connections finish
/// their requests before it cuts them.
pub const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);
/// How long the accept loop pauses after an accept error (e.g. out of file descriptors).
const ACCEPT_BACKOFF: Duration = Duration::from_millis(50);

/// What a node is, which decides how it answers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Role {
    /// The only node of a single-node cluster: proxy and target in one.
    Single,
    /// The proxy of a multi-node cluster: redirects object requests, serves the cluster APIs.
    Proxy,
    /// Target `index` (from 0) of a multi-node cluster: serves the objects it owns.
    Target(usize),
}

/// Every node of a cluster, and what they share.
#[derive(Debug)]
pub(crate) struct Nodes {
    state: Arc<State>,
    shutdown: watch::Sender<bool>,
    /// The single node, or the proxy.
    entry: Slot,
    targets: Vec<Slot>,
}

/// One node's address (fixed for the cluster's life) and its accept loop while it is up.
#[derive(Debug)]
struct Slot {
    role: Role,
    addr: SocketAddr,
    /// The accept loop; it owns every connection task. `None` while down or once shut down.
    accept: Mutex<Option<JoinHandle<()>>>,
}

impl Slot {
    fn accept(&self) -> MutexGuard<'_, Option<JoinHandle<()>>> {
        // The slot holds one handle; a panic elsewhere cannot leave it half-written.
        self.accept.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// A bound, not yet serving, listener and the role it will serve.
pub(crate) struct Bound {
    role: Role,
    addr: SocketAddr,
    listener: TcpListener,
}

impl Bound {
    /// Binds `addr` for `role`.
    pub(crate) async fn bind(role: Role, addr: SocketAddr) -> std::io::Result<Bound> {
        let listener = TcpListener::bind(addr).await?;
        let addr = listener.local_addr()?;
        Ok(Bound { role, addr, listener })
    }

    /// The address it is bound to.
    pub(crate) fn addr(&self) -> SocketAddr {
        self.addr
    }
}

impl Nodes {
    /// Starts serving the bound listeners: `entry` (the single node or the proxy) and the
    /// targets.
    pub(crate) fn serve(state: Arc<State>, entry: Bound, targets: Vec<Bound>) -> Arc<Nodes> {
        let (shutdown, _) = watch::channel(false);
        let nodes = Nodes {
            entry: Slot { role: entry.role, addr: entry.addr, accept: Mutex::new(None) },
            targets: targets
                .iter()
                .map(|bound| Slot { role: bound.role, addr: bound.addr, accept: Mutex::new(None) })
                .collect(),
            state,
            shutdown,
        };
        for (slot, bound) in std::iter::once(&nodes.entry).zip([entry]).chain(nodes.targets.iter().zip(targets)) {
            *slot.accept() = Some(nodes.spawn(bound));
        }
        Arc::new(nodes)
    }

    fn spawn(&self, bound: Bound) -> JoinHandle<()> {
        tracing::debug!(addr = %bound.addr, role = ?bound.role, "node listening");
        tokio::spawn(accept_loop(bound.listener, Arc::clone(&self.state), bound.role, self.shutdown.subscribe()))
    }

    /// What every connection shares.
    pub(crate) fn state(&self) -> &Arc<State> {
        &self.state
    }

    /// The address of the single node or the proxy.
    pub(crate) fn entry_addr(&self) -> SocketAddr {
        self.entry.addr
    }

    /// Takes target `index` down: its listener closes (connecting is refused) and its
    /// connections are cut. A target already down stays down.
    pub(crate) async fn stop(&self, index: usize) {
        let Some(slot) = self.targets.get(index) else { return };
        let accept = slot.accept().take();
        if let Some(accept) = accept {
            accept.abort();
            // Once the aborted task is joined, its listener and connections are dropped.
            let _ = accept.await;
            tracing::debug!(addr = %slot.addr, "target down");
        }
    }

    /// Takes target `index` down if it is up, then listens on its port again.
    pub(crate) async fn restart(&self, index: usize) -> Result<(), NodeError> {
        let Some(slot) = self.targets.get(index) else { return Ok(()) };
        self.stop(index).await;
        let bound =
            Bound::bind(slot.role, slot.addr).await.map_err(|source| NodeError::Bind { addr: slot.addr, source })?;
        let mut accept = slot.accept();
        if *self.shutdown.borrow() {
            return Err(NodeError::ShuttingDown);
        }
        if let Some(other) = accept.replace(self.spawn(bound)) {
            // A restart that raced this one; the port was free again, so its loop is stopped.
            other.abort();
        }
        Ok(())
    }

    /// Stops accepting on every node, lets open connections finish the request in flight
    /// (closing idle ones at once), and returns when all are closed or after
    /// [`SHUTDOWN_GRACE`], when the rest are cut.
    pub(crate) async fn shutdown(&self) {
        self.shutdown.send_replace(true);
        for slot in self.slots() {
            let accept = slot.accept().take();
            if let Some(accept) = accept
                && let Err(error) = accept.await
            {
                tracing::warn!(%error, "cluster accept loop failed");
            }
        }
    }

    /// Cuts every node at once: aborting an accept loop drops every connection task with it.
    pub(crate) fn abort(&self) {
        self.shutdown.send_replace(true);
        for slot in self.slots() {
            if let Some(accept) = slot.accept().take() {
                accept.abort();
            }
        }
    }

    fn slots(&self) -> impl Iterator<Item = &Slot> {
        std::iter::once(&self.entry).chain(&self.targets)
    }
}

/// Accepts connections until `shutdown` turns true (or its sender goes away), then drains
/// them. Every connection task lives in this task's [`JoinSet`], so aborting this task
/// aborts them all.
async fn accept_loop(listener: TcpListener, state: Arc<State>, role: Role, shutdown: watch::Receiver<bool>) {
    let mut connections = JoinSet::new();
    let mut stop = shutdown.clone();
    loop {
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _peer)) => {
                    connections.spawn(conn::serve(stream, Arc::clone(&state), role, shutdown.clone()));
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
