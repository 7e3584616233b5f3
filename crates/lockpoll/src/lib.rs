//! The cold-GET write-lock poller of AIStore's Python SDK (`LockPoller`), as a sans-IO machine,
//! and the cold-GET retry around it.
//!
//! When a GET of an object in a remote bucket times out reading, the likely cause is a cold
//! GET: the cluster is streaming the object from its backend and holds the object's write
//! lock. Retrying at once would time out again. [`LockPoller`] asks the cluster whether the
//! object is write-locked (`check-lock`, 423 = locked), learns the object's size with a HEAD,
//! and polls again with an exponential backoff whose [`Bounds`] scale with the size, until the
//! lock is released or `max_cold_wait` passes. [`ColdGet`] is the whole retry: GET, and on a
//! read timeout wait for the lock, back off, GET again, a bounded number of times.
//!
//! Both are [`Machine`](stowage_proto::Machine)s: they emit requests and wake-up times and are
//! fed responses and `now`; they never sleep, read a clock or touch a socket. The tokio driver
//! (`stowage-tokio`) runs them over hyper, and `stowage-ais`'s `Client` wraps them in an async
//! API; see [`LockPoller`] for driving one by hand.
//!
//! Beyond the reference: optional seeded jitter ([`LockPollConfig::jitter`]), a deadline that also
//! bounds the next sleep (never sleeping past `max_cold_wait`), the whole schedule as an
//! iterator ([`Schedule`]), and the outcome as a value ([`LockWaitOutcome`]).
#![forbid(unsafe_code)]
#![deny(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod bounds;
mod cold_get;
mod config;
mod poller;
mod trigger;

pub use bounds::{
    BACKOFF_MULTIPLIER_SECS, Bounds, MIN_WAIT_CEILING_SECS, MIN_WAIT_FLOOR_SECS, OBJ_SIZE_SCALING_FACTOR, Schedule,
};
pub use cold_get::{ColdGet, ColdGetConfig, ColdGetOutcome, NETWORK_RETRY, Report};
pub use config::{DEFAULT_EST_BANDWIDTH_BPS, DEFAULT_MAX_COLD_WAIT, LockPollConfig};
pub use poller::{GiveUpReason, LockPoller, LockWaitOutcome};
pub use trigger::{Ineligible, lock_wait_target, suggests_lock};
