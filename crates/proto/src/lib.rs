//! The shared vocabulary of stowage's sans-IO machines.
//!
//! Every stowage machine is a plain value that never performs IO, never reads a clock, never
//! spawns a thread and never draws randomness of its own. It has one shape, [`Machine`]:
//!
//! - [`Machine::handle_input`] feeds it what happened (a response, a transport error),
//! - [`Machine::poll_output`] drains what it wants done (send this request, done with this result),
//! - [`Machine::poll_timeout`] says when it next wants to be woken,
//! - [`Machine::handle_timeout`] wakes it.
//!
//! Time is an [`Instant`] handed in by the caller; randomness comes from a seeded [`Jitter`]
//! (a client running a machine per call seeds each from its [`Seeds`]).
//! The same inputs therefore give the same outputs, bit for bit, which is what makes the
//! machines testable with property tests and fuzzers and embeddable in any runtime.
//!
//! HTTP machines speak in [`Transmit`]s (an [`http::Request`] tagged with a [`RequestId`]) and
//! [`Completion`]s (the response head — or, for machines that read small JSON answers, the
//! whole response — or a [`TransportError`] as data).
//!
//! The [`ais`] module holds AIStore's wire vocabulary: buckets, providers, namespaces, object
//! addressing, the `ActionMsg` JSON body, timestamps, the job API's requests and answers
//! ([`ais::job`]), and the cluster map with its placement of objects on targets. The
//! [`redirect`] module holds the rules for following HTTP redirects (an AIStore proxy
//! redirects every object request to its target), for both drivers; [`tls`] names why a TLS
//! handshake failed ([`tls::TlsError`], carried by [`TransportError::Tls`]).
#![forbid(unsafe_code)]
#![deny(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

pub mod ais;
mod backoff;
mod driven;
mod exchange;
mod jitter;
mod limits;
mod machine;
pub mod redirect;
mod retry;
mod time;
pub mod tls;

pub use backoff::Backoff;
pub use driven::{DriveError, Driven, Responses};
pub use exchange::{Completion, CompletionBody, InputError, RequestId, RequestIds, Transmit, TransportError};
pub use jitter::{Jitter, Seeds};
pub use limits::{DEFAULT_CONNECT_TIMEOUT, DEFAULT_MAX_BODY, DEFAULT_READ_TIMEOUT, Timeouts};
pub use machine::{Machine, Output};
pub use retry::Retry;
pub use time::{Clock, Instant};
