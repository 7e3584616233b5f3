//! The tokio + hyper driver of stowage's sans-IO machines.
//!
//! stowage's machines ([`stowage_lockpoll::ColdGet`], [`stowage_lockpoll::LockPoller`], …)
//! decide everything — what to send, how long to wait, when to give up — and touch no socket
//! and no clock. This crate runs them over real IO and stays thin:
//!
//! - [`Transport`] sends one request with timeouts; [`HyperTransport`] is the production one
//!   (hyper 1.x, hyper-util's pooled client; 3 s to connect and 20 s to read by default, see
//!   [`Timeouts`]). It is also the seam tests use to record, delay or fail requests.
//! - [`drive`] is the one generic loop that runs any HTTP machine over a transport: it sends
//!   what the machine emits, feeds back what completes, and sleeps on `tokio::time` until the
//!   machine's next wake-up.
//! - [`Client`] is the async API: [`Client::cold_get`] (the cold-GET retry around any
//!   request), [`Client::get_object`], [`Client::put_object`] and [`Client::wait_for_unlock`].
//! - [`Client::job`] gives a cluster [`Job`]: [`Job::wait`] runs
//!   [`stowage_jobwait::JobWait`] (dispatch by kind, idle streak, single node, terminal status,
//!   poll interval and deadline), plus `status`, `details` and `abort`; [`Client::start_job`]
//!   starts one.
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
//! use stowage_proto::ais::{Bucket, ObjectAddress, Provider};
//! use stowage_tokio::Client;
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
//! # Driving a machine yourself
//!
//! [`drive`] runs any machine that speaks [`Transmit`](stowage_proto::Transmit)s and
//! [`Completion`](stowage_proto::Completion)s, here a lone lock wait:
//!
//! ```no_run
//! use stowage_lockpoll::{ColdGetConf, LockPoller};
//! use stowage_proto::ais::ObjectAddress;
//! use stowage_tokio::{HyperTransport, Timeouts, drive};
//!
//! # #[tokio::main]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let transport = HyperTransport::new("http://localhost:8080", Timeouts::default())?;
//! let address = ObjectAddress::from_uri(&"/v1/objects/cloud/dir/object?provider=aws".parse()?)?;
//! let poller = LockPoller::new(address, ColdGetConf::default(), 42);
//! let outcome = drive(poller, &transport).await?.outcome;
//! println!("{outcome:?}");
//! # Ok(())
//! # }
//! ```
//!
//! Logging goes through `tracing`: each request at `debug`, lock waits that polled, retries
//! and give-ups at `info`.
#![forbid(unsafe_code)]
#![deny(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
#![cfg_attr(test, allow(clippy::unwrap_used, clippy::expect_used, clippy::panic))]

mod classify;
mod client;
pub mod download;
mod drive;
mod error;
mod hyper_transport;
mod job;
mod transport;

pub use client::{Client, ClientBuilder, ColdGetResponse};
pub use drive::{drive, drive_observed};
pub use error::{ClientError, ColdGetError};
pub use hyper_transport::HyperTransport;
pub use job::Job;
pub use stowage_proto::{
    DEFAULT_CONNECT_TIMEOUT, DEFAULT_MAX_BODY, DEFAULT_READ_TIMEOUT, DriveError, Driven, Responses, Timeouts,
};
pub use transport::Transport;
