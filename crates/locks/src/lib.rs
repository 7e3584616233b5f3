//! Ganeti's lock manager (`lib/locking.py`) as a sans-IO machine: shared/exclusive named locks
//! with priorities, fair queues, deadlines, lock sets, ordered levels and a monitor.
//!
//! [`Locks`] holds every lock of every [`Level`]. Owners are ids ([`Owner`]), not threads; time
//! is an [`Instant`](stowage_proto::Instant) passed to each call. An owner asks for a set of
//! locks with a [`Request`] — exact names or [`Names::All`], [`LockMode::Shared`] or
//! [`LockMode::Exclusive`], a priority, a deadline, optionally opportunistic — and learns how it
//! ended from [`Locks::poll_output`]: [`Event::Granted`], [`Event::TimedOut`] or
//! [`Event::Failed`]. Nothing inside waits: a driver (the tokio handle of
//! `stowage-lock-manager`) turns events into wake-ups and [`Locks::poll_timeout`] into a timer.
//!
//! The rules, in brief (see [`Locks`] for the precise ones): no barging past queued requests;
//! queues ordered by priority then arrival, shared requests of one priority granted together;
//! a deadline covers the whole set, and a request that would wait with less than
//! [`MIN_TIMEOUT`] left times out at once; downgrading lets the pending shared group through;
//! deleting a lock fails its waiters; levels are acquired in order, after the [`BGL`].
#![forbid(unsafe_code)]
#![deny(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod error;
mod event;
mod hash;
mod holdings;
mod level;
mod lock;
mod manager;
mod monitor;
mod request;
mod slab;

pub use error::LockError;
pub use event::{Event, FailReason};
pub use level::{BGL, Level, NAL};
pub use manager::Locks;
pub use monitor::{LockInfo, PendingInfo};
pub use request::{
    DEFAULT_PRIORITY, LockMode, LockRef, LockRequestId, MIN_TIMEOUT, Name, Names, Owner, Request, Requested,
};
