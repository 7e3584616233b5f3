//! The tokio + hyper driver of stowage's sans-IO machines.
//!
//! stowage's machines (`stowage_lockpoll::ColdGet`, [`stowage_ringslot::RingSlot`], …)
//! decide everything — what to send, how long to wait, when to give up — and touch no socket
//! and no clock. This crate runs them over real IO and stays thin:
//!
//! - [`Transport`] sends one request with timeouts; [`HyperTransport`] is the production one
//!   (hyper 1.x, hyper-util's pooled client; 3 s to connect and 20 s to read by default, see
//!   [`Timeouts`]). It is also the seam tests use to record, delay or fail requests.
//! - [`drive`] is the one generic loop that runs any HTTP machine over a transport: it sends
//!   what the machine emits, feeds back what completes, and sleeps on `tokio::time` until the
//!   machine's next wake-up; [`drive_observed`] also lets the caller look at the machine
//!   after every step (to drain its progress, say).
//! - [`download`] runs the [`stowage_ringslot`] machine over hyper: a
//!   [`Downloader`](download::Downloader) fetches an object with parallel range requests as an
//!   in-order stream, into one buffer or into a file.
//!
//! The async clients built on this driver live in their own crates: `stowage-ais` (AIStore:
//! the cold-GET retry, lock waits, cluster jobs) and `stowage-keep` (Keep: replicated block
//! writes).
//!
//! # Driving a machine
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
//! Logging goes through `tracing`: each request, response and transport error at `debug`.
#![forbid(unsafe_code)]
#![deny(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
#![cfg_attr(test, allow(clippy::unwrap_used, clippy::expect_used, clippy::panic))]

mod classify;
pub mod download;
mod drive;
mod error;
mod hyper_transport;
mod transport;

pub use drive::{drive, drive_observed};
pub use error::ClientError;
pub use hyper_transport::HyperTransport;
pub use stowage_proto::{
    DEFAULT_CONNECT_TIMEOUT, DEFAULT_MAX_BODY, DEFAULT_READ_TIMEOUT, DriveError, Driven, Responses, Timeouts,
};
pub use transport::Transport;
