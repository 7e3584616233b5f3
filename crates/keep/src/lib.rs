//! An async Keep client over the tokio driver ([`stowage_tokio`]).
//!
//! [`KeepClient::put`] writes a block to N replicas across Keep services and returns its
//! signed locator. Each write runs the [`stowage_replica::BlockWrite`] machine with
//! [`stowage_tokio::drive`]: which services, in which order (rendezvous hashing), how many
//! PUTs at once (never more than the copies still missing) and when to make another pass are
//! the machine's decisions; this crate hashes the block, sends the PUTs and reports.
//!
//! The defaults are the Arvados Python SDK's: 2 s to connect ([`KEEP_CONNECT_TIMEOUT`]),
//! 256 s for the answer ([`KEEP_READ_TIMEOUT`]), 3 passes 2 s apart, and the Go SDK's
//! classification of retryable failures ([`KeepConfig`]).
//!
//! ```no_run
//! use bytes::Bytes;
//! use stowage_keep::{KeepClient, KeepError};
//! use stowage_replica::{Service, ServiceKind};
//!
//! # #[tokio::main]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let services = (0..3)
//!     .map(|j| Service::new(format!("zzzzz-bi6l4-{j:015}"), &format!("http://keep{j}:25107"), ServiceKind::Disk))
//!     .collect::<Result<Vec<_>, _>>()?;
//! let keep = KeepClient::builder(services).token("s3cr3t").build()?;
//! match keep.put(Bytes::from_static(b"foo"), 2, &["default"]).await {
//!     Ok(stored) => println!("{} ({} copies: {:?})", stored.locator, stored.copies, stored.classes),
//!     // Names the write's X-Request-Id and every contacted service's last answer.
//!     Err(failed @ KeepError::Failed { .. }) => eprintln!("{failed}"),
//!     Err(other) => return Err(other.into()),
//! }
//! # Ok(())
//! # }
//! ```
//!
//! Logging goes through `tracing`: blocks stored at `debug`, failed writes at `info`.
#![forbid(unsafe_code)]
#![deny(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
#![cfg_attr(test, allow(clippy::unwrap_used, clippy::expect_used, clippy::panic))]

mod client;
mod error;

pub use client::{
    KEEP_CONNECT_TIMEOUT, KEEP_MAX_BODY, KEEP_READ_TIMEOUT, KeepClient, KeepClientBuilder, KeepConfig, StoredBlock,
};
pub use error::KeepError;
