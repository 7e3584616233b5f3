//! The result of a wait (the SDK's `WaitResult`).

use stowage_proto::ais::Timestamp;
use stowage_proto::ais::job::{JobSnap, JobStatus};

/// How a job ended, as far as the wait could tell.
///
/// Built by the reference's rules: [`WaitResult::from_snapshots`] for idle-streak and
/// single-node waits, [`WaitResult::from_status`] for terminal ones. `success` is true exactly
/// when `error` is `None`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WaitResult {
    /// The job id (for a terminal wait, the `uuid` the status reports).
    pub job_id: String,
    /// The job met its condition without being aborted or failing.
    pub success: bool,
    /// Why not, if not.
    pub error: Option<String>,
    /// When it ended, if known.
    pub end_time: Option<Timestamp>,
}

/// The error of a job aborted without an error message.
pub const ABORTED: &str = "aborted";

impl WaitResult {
    /// From the snapshots of the poll that met the condition: aborted if any snapshot is;
    /// `error` is the first non-empty abort error, else `"aborted"` if aborted, else none;
    /// `end_time` is the latest end time, only if every snapshot has ended.
    pub fn from_snapshots<'a>(job_id: &str, snaps: impl IntoIterator<Item = &'a JobSnap>) -> Self {
        let mut aborted = false;
        let mut error: Option<&str> = None;
        let mut all_ended = true;
        let mut latest: Option<Timestamp> = None;
        for snap in snaps {
            aborted |= snap.aborted;
            if error.is_none() && !snap.abort_err.is_empty() {
                error = Some(&snap.abort_err);
            }
            match snap.end_time {
                Some(end) => latest = latest.max(Some(end)),
                None => all_ended = false,
            }
        }
        let error = error.or(aborted.then_some(ABORTED)).map(str::to_owned);
        WaitResult {
            job_id: job_id.to_owned(),
            success: error.is_none(),
            error,
            end_time: latest.filter(|_| all_ended),
        }
    }

    /// From a status with an end time: `error` is its `err`, or `"aborted"` when aborted
    /// without one; `end_time` from `end_time` (none when negative).
    ///
    /// The reference reports an empty `err` of a job that was not aborted as `""`; stowage
    /// reports no error as `None` either way.
    pub fn from_status(status: &JobStatus) -> Self {
        let error = match (status.err.is_empty(), status.aborted) {
            (false, _) => Some(status.err.clone()),
            (true, true) => Some(ABORTED.to_owned()),
            (true, false) => None,
        };
        WaitResult { job_id: status.uuid.clone(), success: error.is_none(), error, end_time: status.end_timestamp() }
    }
}
