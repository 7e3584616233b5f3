//! Request counters.

use std::sync::atomic::{AtomicU64, Ordering};

/// A snapshot of the cluster's request counters.
///
/// Every request received counts in `requests`. A request answered by a `status` or `reset`
/// fault counts only there and in `faults_injected`; every other request also counts in
/// exactly one of `object_gets`, `object_heads`, `object_puts`, `check_locks` or `other`
/// (unknown paths, methods and actions, malformed requests). `cold_gets` counts the cold GETs
/// started, a subset of `object_gets`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct Stats {
    /// Requests received.
    pub requests: u64,
    /// `GET /v1/objects/…`.
    pub object_gets: u64,
    /// `HEAD /v1/objects/…`.
    pub object_heads: u64,
    /// `PUT /v1/objects/…`.
    pub object_puts: u64,
    /// `POST /v1/objects/…` with the `check-lock` action.
    pub check_locks: u64,
    /// Cold GETs started (first GET of a cold object in a remote bucket).
    pub cold_gets: u64,
    /// Requests a fault rule applied to.
    pub faults_injected: u64,
    /// Everything else.
    pub other: u64,
}

/// One counter of [`Stats`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Counter {
    Request,
    ObjectGet,
    ObjectHead,
    ObjectPut,
    CheckLock,
    ColdGet,
    FaultInjected,
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
            Counter::Other => &self.other,
        };
        cell.fetch_add(1, Ordering::Relaxed);
    }

    /// The current values.
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
            other: get(&self.other),
        }
    }
}
