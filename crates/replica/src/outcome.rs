//! What a write ends with.

use std::collections::BTreeMap;
use std::fmt;

use http::StatusCode;
use stowage_proto::TransportError;

/// The last answer a service gave.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Answer {
    /// An HTTP status.
    Status(StatusCode),
    /// A failure below HTTP.
    Transport(TransportError),
}

impl fmt::Display for Answer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Answer::Status(status) => write!(f, "HTTP {}", status.as_u16()),
            Answer::Transport(error) => error.fmt(f),
        }
    }
}

/// What one contacted service did for this block, over all passes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ServiceReport {
    /// The service's uuid.
    pub uuid: String,
    /// PUTs sent to it.
    pub attempts: u32,
    /// Its last answer.
    pub last: Answer,
    /// Replicas it confirmed (its `X-Keep-Replicas-Stored` answers, summed).
    pub replicas: u64,
}

/// Why a write gave up.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, thiserror::Error)]
pub enum GiveUp {
    /// Every pass the policy allows was made.
    #[error("no passes left")]
    PassesExhausted,
    /// The next pass would have had no service to write to: each succeeded or failed
    /// permanently (or none is writable).
    #[error("no service left to write to")]
    NoServiceLeft,
}

/// How a write ended.
///
/// `per_service` lists every contacted service, once, in probe order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum WriteOutcome {
    /// Enough copies (and classes) are confirmed.
    Stored {
        /// The locator to use: the trimmed body of the latest 2xx answer (signed by the
        /// service), or `md5+size` when no answer had a usable body or nothing was written.
        locator: String,
        /// Replicas confirmed.
        copies: u64,
        /// Replicas confirmed per storage class (empty when the services do not report
        /// classes).
        classes: BTreeMap<String, u64>,
        /// What each contacted service did.
        per_service: Vec<ServiceReport>,
        /// Passes made (0 when nothing was to be written).
        passes: u32,
    },
    /// Too few copies could be confirmed.
    Failed {
        /// The copies asked for.
        wanted: u32,
        /// The copies confirmed.
        got: u64,
        /// Why the write stopped.
        reason: GiveUp,
        /// What each contacted service did.
        per_service: Vec<ServiceReport>,
        /// Passes made.
        passes: u32,
    },
}

impl WriteOutcome {
    /// What each contacted service did.
    pub fn per_service(&self) -> &[ServiceReport] {
        match self {
            WriteOutcome::Stored { per_service, .. } | WriteOutcome::Failed { per_service, .. } => per_service,
        }
    }

    /// Replicas confirmed.
    pub fn copies(&self) -> u64 {
        match self {
            WriteOutcome::Stored { copies, .. } => *copies,
            WriteOutcome::Failed { got, .. } => *got,
        }
    }

    /// Passes made.
    pub fn passes(&self) -> u32 {
        match self {
            WriteOutcome::Stored { passes, .. } | WriteOutcome::Failed { passes, .. } => *passes,
        }
    }

    /// PUTs sent, over all services and passes.
    pub fn puts(&self) -> u64 {
        self.per_service().iter().map(|s| u64::from(s.attempts)).sum()
    }
}
