//! The io_uring driver of stowage's sans-IO machines.
//!
//! [`UringDriver`] runs the same machines as `stowage_tokio::drive` — unchanged — on one
//! thread with no async runtime: TCP connect, send and recv are io_uring operations, requests
//! are encoded and responses read by [`stowage_http1`] (`Content-Length`, chunked, or until
//! close; keep-alive connections are reused), and the machine's timers and every request's
//! connect/read deadline are one io_uring timeout. A request past its deadline is cancelled in the ring and fed to the
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
//! Every request follows redirects (an AIStore proxy answers each object request with a `307`
//! to its target) before the machine sees its answer: the rules and the step on each response
//! are [`stowage_proto::redirect`]'s ([`Chain`](stowage_proto::redirect::Chain)), the same
//! the tokio driver takes; the policy is the driver's ([`UringDriver::with_redirects`]).
//!
//! Parallel ranged downloads run the [`RingSlot`](stowage_ringslot::RingSlot) machine with
//! its slots as **registered buffers**: each range's body is read from its connection straight
//! into the slot the machine names (`READ_FIXED`), and a download to a file writes each
//! complete slot at its offset (`WRITE_FIXED`); one worker is one kept-alive connection.
//!
//! ```no_run
//! use stowage_proto::Timeouts;
//! use stowage_ringslot::Config;
//! use stowage_uring::UringDriver;
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let mut driver = UringDriver::new("http://127.0.0.1:8080", Timeouts::default())?;
//! let config = Config { workers: 8, ..Config::default() };
//! // In order, each chunk lent in place from its slot until the next call.
//! let mut download = driver.get("/v1/objects/bck/big?provider=ais", config.clone())?;
//! let mut total = 0;
//! while let Some(chunk) = download.next_chunk()? {
//!     total += chunk.len();
//! }
//! drop(download);
//! // Into a file, every range at its offset as soon as it is complete; fsync at the end.
//! let summary = driver.download("/v1/objects/bck/big?provider=ais", config, "big.bin")?;
//! assert_eq!(summary.bytes, total as u64);
//! # Ok(())
//! # }
//! ```
//!
//! Where io_uring is unavailable (an old kernel, `kernel.io_uring_disabled`, a seccomp
//! sandbox), [`UringDriver::new`] returns [`UringError::Unavailable`], which says so and
//! points to the tokio driver.
//!
//! `unsafe` is confined to `ring`'s `push` (an entry's memory must outlive the operation) and
//! `register_buffer` (registered memory must outlive the registration), and to their callers
//! in the driver and in `buffers`, each with the invariant that makes it sound. `cargo xtask
//! asan` runs the download tests — downloads dropped mid-flight under faults included — under
//! AddressSanitizer.
#![deny(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
#![cfg_attr(test, allow(clippy::unwrap_used, clippy::expect_used, clippy::panic))]

mod buffers;
mod download;
mod drive;
mod driver;
mod endpoint;
mod error;
mod follow;
mod ring;

pub use download::Download;
pub use driver::UringDriver;
pub use error::{RunError, UringError};
pub use stowage_ringslot::transfer::GetError;
