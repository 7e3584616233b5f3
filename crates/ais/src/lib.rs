//! An async AIStore client over the tokio driver ([`stowage_tokio`]).
//!
//! Every call runs a stowage machine with [`stowage_tokio::drive`]; all retry, poll and wait
//! decisions are the machine's, this crate only wires them to a [`Transport`]:
//!
//! - [`Client`] is the object API: [`Client::cold_get`] (the cold-GET retry around any
//!   request, [`stowage_lockpoll::ColdGet`]), [`Client::get_object`], [`Client::put_object`]
//!   and [`Client::wait_for_unlock`] ([`stowage_lockpoll::LockPoller`] alone).
//! - [`Client::job`] gives a cluster [`Job`]: [`Job::wait`] runs
//!   [`stowage_jobwait::JobWait`] (dispatch by kind, idle streak, single node, terminal status,
//!   poll interval and deadline), plus `status`, `details` and `abort`; [`Client::start_job`]
//!   starts one.
//! - [`Client::smap`] gives the cluster map, [`Client::direct_url`] the URL of an object on the
//!   target that owns it (HRW placement, [`stowage_proto::ais::Smap::direct_url`]): a ranged
//!   download given it (`stowage_ringslot::Config::target`) skips the proxy altogether.
//!
//! Every request, a machine's or a one-shot call's ([`stowage_tokio::send_following`]),
//! follows the redirects of a cluster's proxy to the target that owns the object, with the
//! transport's policy ([`ClientBuilder::redirects`]); the client sends no credentials of its
//! own, so it needs no cluster map to decide where they may go.
//!
//! # The cold-GET retry
//!
//! A GET of an object in a remote bucket (`aws`, `gcp`, …) that times out reading is most
//! likely waiting behind a cold GET: the cluster is fetching the object from its backend and
//! holds its write lock. Before retrying, the client asks the cluster whether the object is
//! locked (`check-lock`), learns its size (`HEAD`), and polls with a size-scaled backoff until
//! it is unlocked (at most `max_cold_wait`). Other requests and other failures are retried
//! with the plain network backoff. See [`stowage_lockpoll`] for the rules.
//!
//! ```no_run
//! use std::time::Duration;
//!
//! use stowage_ais::Client;
//! use stowage_proto::ais::{Bucket, ObjectAddress, Provider};
//!
//! # #[tokio::main]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let client = Client::builder("http://localhost:8080").read_timeout(Duration::from_secs(20)).build()?;
//! let address = ObjectAddress::new(Bucket::new("cloud", Provider::Aws), "dir/object");
//! let got = client.get_object(&address).await?;
//! println!(
//!     "{} bytes after {} attempt(s) and {} lock poll(s)",
//!     got.response.body().len(),
//!     got.report.attempts,
//!     got.report.polls(),
//! );
//! # Ok(())
//! # }
//! ```
//!
//! Logging goes through `tracing`: responses at `debug`, lock waits that polled, retries,
//! give-ups and job waits at `info`.
//!
//! [`Transport`]: stowage_tokio::Transport
#![forbid(unsafe_code)]
#![deny(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
#![cfg_attr(test, allow(clippy::unwrap_used, clippy::expect_used, clippy::panic))]

mod client;
mod error;
mod job;

pub use client::{Client, ClientBuilder, ColdGetResponse};
pub use error::{ClusterMapError, ColdGetError};
pub use job::Job;
