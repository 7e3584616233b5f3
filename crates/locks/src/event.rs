//! What the machine tells its driver: how each request ended.

use crate::{LockRequestId, Name};

/// How a request ended. Every request ends exactly once: with one event, or silently when its
/// owner cancels it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Event {
    /// Every lock of the request is held (for opportunistic and `All` requests: these ones),
    /// in sorted order.
    Granted {
        /// The request.
        req: LockRequestId,
        /// The locks now held, sorted (the set lock of an `All` request is not listed).
        names: Vec<Name>,
    },
    /// The deadline passed (or was less than [`MIN_TIMEOUT`](crate::MIN_TIMEOUT) away when the
    /// request would have had to wait); whatever it had got was released.
    TimedOut {
        /// The request.
        req: LockRequestId,
    },
    /// The request can never be granted; whatever it had got was released.
    Failed {
        /// The request.
        req: LockRequestId,
        /// Why.
        reason: FailReason,
    },
}

impl Event {
    /// The request this event ends.
    #[inline]
    pub fn req(&self) -> LockRequestId {
        match self {
            Event::Granted { req, .. } | Event::TimedOut { req } | Event::Failed { req, .. } => *req,
        }
    }
}

/// Why a request failed.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum FailReason {
    /// A lock the request wanted was deleted before the request got it.
    #[error("lock {0} was deleted")]
    LockDeleted(Name),
}
