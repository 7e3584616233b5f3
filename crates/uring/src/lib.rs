//! The io_uring driver of stowage's sans-IO machines.
//!
//! [`UringDriver`] runs the same machines as `stowage_tokio::drive` — unchanged — on one
//! thread with no async runtime: TCP connect, send and recv are io_uring operations, responses
//! are read with `httparse` (`Content-Length`, chunked, or until close; keep-alive connections
//! are reused), and the machine's timers and every request's connect/read deadline are one
//! io_uring timeout. A request past its deadline is cancelled in the ring and fed to the
//! machine as a [`TransportError`](stowage_proto::TransportError), like any other failure.
//!
//! ```no_run
//! use stowage_lockpoll::{ColdGet, ColdGetConfig};
//! use stowage_proto::Timeouts;
//! use stowage_uring::UringDriver;
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let mut driver = UringDriver::new("http://127.0.0.1:8080", Timeouts::default())?;
//! let get = http::Request::get("/v1/objects/cloud/a.bin?provider=aws").body(bytes::Bytes::new())?;
//! let mut driven = driver.drive(ColdGet::new(get, ColdGetConfig::default(), 7))?;
//! println!("{:?}", driven.outcome);
//! # Ok(())
//! # }
//! ```
//!
//! Where io_uring is unavailable (an old kernel, `kernel.io_uring_disabled`, a seccomp
//! sandbox), [`UringDriver::new`] returns [`UringError::Unavailable`], which says so and
//! points to the tokio driver.
//!
//! `unsafe` is confined to [`ring`]'s `push` (an entry's memory must outlive the operation)
//! and its four callers in the driver, each with the invariant that makes it sound.
#![deny(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
#![cfg_attr(test, allow(clippy::unwrap_used, clippy::expect_used, clippy::panic))]

mod buffers;
mod download;
mod drive;
mod driver;
mod endpoint;
mod error;
mod http1;
mod ring;

pub use download::Download;
pub use driver::UringDriver;
pub use error::{GetError, RunError, UringError};
