//! Parallel ranged download through a ring of slots, as a sans-IO machine: AIStore's
//! `ParallelContentIterProvider` without its limits.
//!
//! [`RingSlot`] decides which byte range to fetch next, into which slot, what to deliver next,
//! what to retry and when, when to hedge a slow range and when to give up. It never sees a
//! byte: a driver owns the buffers, sends the [`Fetch`]es, reads a body into the slot a
//! [`Receive`] names and reports how many bytes arrived. The loop that does this is written
//! once, in [`transfer`]: a driver only provides its IO ([`transfer::RangeIo`]); the tokio and
//! io_uring drivers both run it, with the same [`Config`], whose defaults are the tuned policy
//! (range retries, hedging).
//!
//! Beyond the reference:
//! - **No HEAD**: the size comes from the first range's answer (`Content-Range: bytes
//!   0-…/size`), a round trip saved on every download (a HEAD where asked: [`Config::head`]).
//! - **Slots ≥ workers** (default 2 × workers), so a slow consumer does not idle the workers.
//! - **Per-range retry** with backoff ([`RANGE_RETRY`] by default): a 5xx, a reset or a stall costs one
//!   range one more request, not the whole download.
//! - **Hedging** ([`Hedge`]): a head-of-line range slower than `k ×` the median gets a second
//!   request; the first to finish wins, the other is cancelled.
//! - **Strict checks**: a 200 to a ranged request, a wrong `Content-Range`, a short or long
//!   body, an object that changed (size, `ETag`, `ais-version`) are typed
//!   [`DownloadError`]s, never a panic or a buffer overrun.
//! - **Resume**: a whole-object download continues from what an interrupted one left
//!   ([`Config::resume`], [`resume`]), fetching only the missing ranges, refusing an object
//!   that changed since.
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
pub mod resume;
mod route;
mod samples;
mod single;
pub mod transfer;

pub use config::{Config, ConfigError, DEFAULT_CHUNK, Delivery, Hedge, MAX_CHUNK_SIZE_HEADER, RANGE_RETRY};
pub use error::{DownloadError, Failure};
pub use machine::{Fetch, Input, Notice, Output, Receive, Rejected, RingSlot, Slot, Summary};
pub use range::{ByteRange, Plan};
pub use resume::{Journal, JournalError, Resume};
