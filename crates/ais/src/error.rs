//! The errors of a cold GET and of asking for the cluster map.

use std::fmt;

use http::StatusCode;
use stowage_lockpoll::{Outcome, Report};
use stowage_proto::TransportError;
use stowage_proto::ais::{DirectUrlError, SmapError};

/// Why a cold GET returned no response.
#[derive(Debug, thiserror::Error)]
pub enum ColdGetError {
    /// Every attempt failed below HTTP.
    #[error("{} — {}", FailedAfter(.report), .error)]
    Failed {
        /// The last attempt's error.
        error: TransportError,
        /// What happened along the way.
        report: Report,
    },
}

/// Why the cluster map, or an object's place in it, could not be had.
#[derive(Debug, thiserror::Error)]
pub enum ClusterMapError {
    /// The request for the map failed below HTTP.
    #[error("asking for the cluster map: {0}")]
    Transport(#[from] TransportError),
    /// The proxy answered, but not with the map.
    #[error("asking for the cluster map: the proxy answered {0}")]
    Status(StatusCode),
    /// The map did not parse.
    #[error(transparent)]
    Malformed(#[from] SmapError),
    /// No target in the map can serve the object.
    #[error(transparent)]
    Placement(#[from] DirectUrlError),
}

/// "request failed after 7 attempts (2 lock waits, 5 polls, 12 s waiting for locks)".
struct FailedAfter<'a>(&'a Report);

impl fmt::Display for FailedAfter<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let report = self.0;
        let plural = if report.attempts == 1 { "" } else { "s" };
        write!(f, "request failed after {} attempt{plural}", report.attempts)?;
        let waits = report.lock_waits.iter().filter(|o| !matches!(o, Outcome::NotLocked)).count();
        if waits > 0 {
            write!(f, " ({waits} lock wait(s), {} poll(s), {:?} waiting)", report.polls(), report.waited())?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use stowage_lockpoll::GiveUpReason;

    use super::*;

    #[test]
    fn failures_say_what_was_tried() {
        let report = Report { attempts: 1, ..Report::default() };
        let error = ColdGetError::Failed { error: TransportError::ConnectRefused, report };
        assert_eq!(error.to_string(), "request failed after 1 attempt — connection refused");

        let still_locked =
            Outcome::GaveUp { reason: GiveUpReason::StillLocked, polls: 3, waited: Duration::from_secs(6) };
        let report = Report { attempts: 7, lock_waits: vec![Outcome::NotLocked, still_locked], ineligible: None };
        let error = ColdGetError::Failed { error: TransportError::ReadTimeout, report };
        assert_eq!(
            error.to_string(),
            "request failed after 7 attempts (1 lock wait(s), 3 poll(s), 6s waiting) — read timed out"
        );
    }
}
