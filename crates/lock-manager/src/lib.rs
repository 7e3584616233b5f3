//! An async lock manager over tokio: [`LockManager`] runs the [`stowage_locks::Locks`] machine
//! for tasks.
//!
//! The machine decides everything (queues, priorities, groups, deadlines, levels); this crate
//! only turns its events into wake-ups and its deadlines into tokio timers:
//!
//! - [`LockManager::acquire`] asks the machine, and if the answer is not immediate, waits for
//!   the request's event on a oneshot channel. With a timeout, the waiting task also sleeps
//!   until the deadline (on `tokio::time`, so a paused test clock works) and then wakes the
//!   machine with `handle_timeout`; the machine's own deadline decides the outcome.
//! - [`LockManager::acquire_lock`] does the same for one lock looked up once
//!   ([`LockManager::lock_ref`]): no name lookup or name list per call, and a free lock is
//!   granted in the machine's answer rather than through its event queue — the path for a lock
//!   taken again and again (within 3× `tokio::sync::RwLock::write` uncontended; `acquire` of
//!   a name pays for the list it is given, about twice that).
//! - Dropping an `acquire` future withdraws its request (or releases what it was just granted):
//!   cancellation is safe at every await point.
//! - A [`Guard`] holds the locks its owner got at one level and releases them when dropped.
//!   Like `tokio::sync::RwLock::write`'s guard it borrows the handle it came from;
//!   [`Guard::into_owned`] makes one that can be moved into a spawned task. Locks an owner
//!   adds to a level it holds join its guard ([`Guard::add`]); locks added already held by an
//!   owner without a guard there come with a new one ([`LockManager::add_acquired`]), so no
//!   held lock is ever without a guard to release it.
//!
//! The machine sits behind one `std::sync::Mutex`, held only for the tens of nanoseconds a call
//! takes and never across an await. An actor task was the alternative; the `locks` bench
//! measures both shapes (`locks/handle/*`): a message round trip to a task costs several times
//! a whole uncontended acquire + release through the mutex, so the mutex it is (figures in
//! `BENCHMARKS.md`; `parking_lot::Mutex` measured no faster here).
//!
//! ```
//! use std::time::Duration;
//!
//! use stowage_lock_manager::LockManager;
//! use stowage_locks::{BGL, Level, Owner, Request};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let manager = LockManager::new();
//! manager.register(Level::Node, ["node1", "node2"])?;
//! let job = Owner(7);
//! let _bgl = manager.acquire(Request::shared(job, Level::Cluster, [BGL]), None).await?;
//! let nodes = manager
//!     .acquire(Request::exclusive(job, Level::Node, ["node2", "node1"]), Some(Duration::from_secs(5)))
//!     .await?;
//! assert_eq!(nodes.names().len(), 2);
//! drop(nodes); // released here; the BGL guard goes at the end of the scope
//! # Ok(())
//! # }
//! ```
#![forbid(unsafe_code)]
#![deny(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
#![cfg_attr(test, allow(clippy::unwrap_used, clippy::expect_used, clippy::panic))]

mod manager;

pub use manager::{Acquire, AcquireError, Guard, LockManager};
