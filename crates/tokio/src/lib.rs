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
//!   after every step (to drain its progress, say). Every request follows redirects before the
//!   machine sees its answer ([`send_following`]; see [Redirects](#redirects)).
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
//! use stowage_lockpoll::{LockPollConfig, LockPoller};
//! use stowage_proto::ais::ObjectAddress;
//! use stowage_tokio::{HyperTransport, Timeouts, drive};
//!
//! # #[tokio::main]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let transport = HyperTransport::new("http://localhost:8080", Timeouts::default())?;
//! let address = ObjectAddress::from_uri(&"/v1/objects/cloud/dir/object?provider=aws".parse()?)?;
//! let poller = LockPoller::new(address, LockPollConfig::default(), 42);
//! let outcome = drive(poller, &transport).await?.outcome;
//! println!("{outcome:?}");
//! # Ok(())
//! # }
//! ```
//!
//! # Redirects
//!
//! A real AIStore cluster is a proxy and targets, and the proxy answers every object request
//! with a `307` to the target that owns the object. The driver follows redirects for every
//! request — in [`drive`]'s loop, and through [`send_following`] in the facades' one-shot
//! calls (`stowage-ais`'s `put_object` and a `Job`'s `status`, …) and the download's HEAD —
//! so machines and callers see the target's answer. The rules are not this crate's:
//! [`stowage_proto::redirect::Chain`] holds one logical request through its hops, and the
//! io_uring driver runs the same one. The *policy* (how many hops, which authorities get
//! credentials) belongs to the transport ([`Transport::redirect_policy`];
//! [`HyperTransport::with_redirects`]), and an origin-form request is located at the
//! transport's endpoint ([`Transport::locate`]) before a `Location` is resolved against it. A
//! redirect that cannot be followed (a loop, too many hops, no or a bad `Location`) reaches
//! the machine as [`TransportError::Redirect`](stowage_proto::TransportError::Redirect), which
//! no machine retries.
//!
//! Logging goes through `tracing`: each request, response and transport error at `debug`.
#![forbid(unsafe_code)]
#![deny(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
#![cfg_attr(test, allow(clippy::unwrap_used, clippy::expect_used, clippy::panic))]

mod classify;
mod connector;
pub mod download;
mod drive;
mod error;
mod hyper_transport;
mod transport;

pub use drive::{drive, drive_observed, send_following};
pub use error::EndpointError;
pub use hyper_transport::HyperTransport;
pub use stowage_proto::{
    DEFAULT_CONNECT_TIMEOUT, DEFAULT_MAX_BODY, DEFAULT_READ_TIMEOUT, DriveError, Driven, Responses, Timeouts,
};
pub use stowage_tls::{TlsConfig, TlsOptions};
pub use transport::Transport;
