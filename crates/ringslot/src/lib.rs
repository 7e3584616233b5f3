//! Parallel ranged download through a ring of slots, as a sans-IO machine: AIStore's
//! `ParallelContentIterProvider` without its limits.
//!
//! [`RingSlot`] decides which byte range to fetch next, into which slot, what to deliver next,
//! what to retry and when, when to hedge a slow range and when to give up. It never sees a
//! byte: a driver (`stowage-tokio`'s `download` module) owns the buffers, sends the
//! [`Fetch`]es, fills the named slot with each body and reports how many bytes arrived.
//!
//! Beyond the reference:
//! - **Slots ≥ workers** (default 2 × workers), so a slow consumer does not idle the workers.
//! - **Per-range retry** with backoff ([`RetryPolicy`]): a 5xx, a reset or a stall costs one
//!   range one more request, not the whole download.
//! - **Hedging** ([`Hedge`]): a head-of-line range slower than `k ×` the median gets a second
//!   request; the first to finish wins, the other is cancelled.
//! - **Strict checks**: a 200 to a ranged request, a wrong `Content-Range`, a short or long
//!   body, an object that changed (size, `ETag`, `ais-version`) are typed
//!   [`DownloadError`]s, never a panic or a buffer overrun.
//! - **Empty downloads** (size 0, offset at or past the end) finish at once with nothing.
//!
//! See [`RingSlot`] for the rules, the invariants and an example.
#![forbid(unsafe_code)]
#![deny(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod check;
mod config;
mod error;
mod exact;
mod machine;
mod range;
mod samples;
pub mod transfer;

pub use config::{Config, ConfigError, DEFAULT_CHUNK, Hedge, MAX_CHUNK_SIZE_HEADER, Mode, RetryPolicy};
pub use error::{DownloadError, Failure};
pub use machine::{Fetch, Input, Output, Receive, Rejected, RingSlot, Slot, Summary};
pub use range::{ByteRange, Plan};
