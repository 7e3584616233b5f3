//! The Arvados Keep client's replicated block write, as a sans-IO machine.
//!
//! A block (≤ 64 MiB, locator `md5+size`) must be stored on `wanted` copies across Keep
//! services, as fast as possible, never writing more copies than needed, tolerating failed,
//! busy and full servers. [`BlockWrite`] decides which services to try, in which order
//! (rendezvous hashing: [`probe_order`]), how many PUTs at once, what each answer counts for,
//! and when to make another pass; the client (`stowage-keep`'s `KeepClient`) only sends.
//!
//! Distilled from Arvados story #9446 and the Python SDK 3.2.1 (`arvados/keep.py`), with
//! two deliberate departures: PUTs in flight count against the copies wanted (the SDK
//! over-replicates with staggered answers), and a 2xx stating 0 replicas does not hang the
//! write. Which failures are retryable is a parameter ([`Classifier`]) with the presets of
//! the Go SDK, the story and the Python SDK.
//!
//! See [`BlockWrite`] for the rules and an example.
#![forbid(unsafe_code)]
#![deny(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod block;
mod classify;
mod outcome;
mod policy;
mod probe;
mod service;
pub mod wire;
mod write;

pub use block::{Block, BlockError, BlockHash, MAX_BLOCK_SIZE};
pub use classify::{Classifier, UnknownClassifier, Verdict};
pub use outcome::{Answer, GiveUp, ServiceReport, WriteOutcome};
pub use policy::{DEFAULT_PASS_DELAY, MeasuredFrom, PassSchedule};
pub use probe::{probe_order, weight, weight_hex, write_order};
pub use service::{Service, ServiceError, ServiceKind};
pub use wire::request_id;
pub use write::{BlockWrite, WriteConfig, WriteConfigError};
