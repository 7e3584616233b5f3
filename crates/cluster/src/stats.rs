//! Request counters.

use std::sync::atomic::{AtomicU64, Ordering};

/// A snapshot of the cluster's request counters.
///
/// Every request received, by any node, counts in `requests`. A request answered by a `status`
/// or `reset` fault counts only there and in `faults_injected`; every other request also counts
/// in exactly one of `object_gets`, `object_heads`, `object_puts`, `check_locks`, `redirects`
/// or `other` (unknown paths, methods and actions, malformed requests, the cluster map, jobs).
/// `cold_gets` counts the cold GETs started, a subset of `object_gets`; `misdirected` counts
/// the object requests a target refused because it does not own the object, a subset of the
/// object counters.
///
/// In a multi-node cluster a request is counted by each node it reaches: an object GET
/// through the proxy is one request to the proxy (a redirect) and one to the target (an object
/// GET). `proxy_requests` and `target_requests` split `requests` by node; in a single-node
/// cluster they are 0 and empty.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct Stats {
    /// Requests received.
    pub requests: u64,
    /// `GET /v1/objects/…` served by a target (or the single node).
    pub object_gets: u64,
    /// `HEAD /v1/objects/…` served by a target (or the single node).
    pub object_heads: u64,
    /// `PUT /v1/objects/…` served by a target (or the single node).
    pub object_puts: u64,
    /// `POST /v1/objects/…` with the `check-lock` action, served by a target (or the single node).
    pub check_locks: u64,
    /// Cold GETs started (first GET of a cold object in a remote bucket).
    pub cold_gets: u64,
    /// Requests a fault rule applied to.
    pub faults_injected: u64,
    /// Object requests the proxy answered with a redirect to the object's target.
    pub redirects: u64,
    /// Object requests a target answered 404 because another target owns the object.
    pub misdirected: u64,
    /// Everything else.
    pub other: u64,
    /// Requests received by the proxy.
    pub proxy_requests: u64,
    /// Requests received by each target, in the order of [`Cluster::targets`](crate::Cluster::targets).
    pub target_requests: Vec<u64>,
}

/// One counter of [`Stats`] that every node shares.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Counter {
    Request,
    ObjectGet,
    ObjectHead,
    ObjectPut,
    CheckLock,
    ColdGet,
    FaultInjected,
    Redirect,
    Misdirected,
    Other,
}

/// The live counters behind [`Stats`]; relaxed atomics, since each counter is independent.
#[derive(Debug, Default)]
pub(crate) struct Counters {
    requests: AtomicU64,
    object_gets: AtomicU64,
    object_heads: AtomicU64,
    object_puts: AtomicU64,
    check_locks: AtomicU64,
    cold_gets: AtomicU64,
    faults_injected: AtomicU64,
    redirects: AtomicU64,
    misdirected: AtomicU64,
    other: AtomicU64,
}

impl Counters {
    /// Adds one to `counter`.
    pub(crate) fn count(&self, counter: Counter) {
        let cell = match counter {
            Counter::Request => &self.requests,
            Counter::ObjectGet => &self.object_gets,
            Counter::ObjectHead => &self.object_heads,
            Counter::ObjectPut => &self.object_puts,
            Counter::CheckLock => &self.check_locks,
            Counter::ColdGet => &self.cold_gets,
            Counter::FaultInjected => &self.faults_injected,
            Counter::Redirect => &self.redirects,
            Counter::Misdirected => &self.misdirected,
            Counter::Other => &self.other,
        };
        cell.fetch_add(1, Ordering::Relaxed);
    }

    /// The current values of the shared counters (the per-node ones are left empty).
    pub(crate) fn snapshot(&self) -> Stats {
        let get = |cell: &AtomicU64| cell.load(Ordering::Relaxed);
        Stats {
            requests: get(&self.requests),
            object_gets: get(&self.object_gets),
            object_heads: get(&self.object_heads),
            object_puts: get(&self.object_puts),
            check_locks: get(&self.check_locks),
            cold_gets: get(&self.cold_gets),
            faults_injected: get(&self.faults_injected),
            redirects: get(&self.redirects),
            misdirected: get(&self.misdirected),
            other: get(&self.other),
            proxy_requests: 0,
            target_requests: Vec::new(),
        }
    }
}
