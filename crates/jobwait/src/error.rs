//! What can go wrong while waiting: the server's answers, the network, the clock.

use std::time::Duration;

use stowage_proto::TransportError;
use stowage_proto::ais::job::{JobStatus, ParseError, Snapshots};

/// What the last poll before a timeout saw.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum LastSeen {
    /// No poll was answered.
    #[default]
    Nothing,
    /// The last snapshots (idle-streak and single-node waits).
    Snapshots(Snapshots),
    /// The last status (terminal waits).
    Status(JobStatus),
}

/// Why a job request, or a wait, ended without an answer ([`WaitResult`](crate::WaitResult),
/// [`JobStatus`], [`Snapshots`]).
#[derive(Debug, thiserror::Error)]
pub enum JobError {
    /// The job was given by id alone and no snapshot names its kind (the SDK's
    /// `JobInfoNotFound`).
    #[error("job information not found on the cluster: no job info found for {job_id:?}")]
    JobInfoNotFound {
        /// The id asked about.
        job_id: String,
    },
    /// The timeout passed before the job was done.
    #[error("timed out waiting for job {job_id:?} after {timeout:?} ({polls} polls)")]
    Timeout {
        /// The job.
        job_id: String,
        /// The timeout that passed.
        timeout: Duration,
        /// Polls made.
        polls: u32,
        /// What the last poll saw.
        last: Box<LastSeen>,
    },
    /// A request failed below HTTP.
    #[error("request failed: {0}")]
    Transport(#[from] TransportError),
    /// The cluster answered with a status other than 200.
    #[error("the cluster answered {status}: {message}")]
    Status {
        /// The HTTP status.
        status: http::StatusCode,
        /// The `message` of AIStore's error JSON, else the start of the body.
        message: String,
    },
    /// The cluster's answer is not the JSON it should be.
    #[error(transparent)]
    Parse(#[from] ParseError),
}

/// The body of a 200 answer; any other status is a [`JobError::Status`] with the server's
/// message.
pub fn response_body(response: &http::Response<bytes::Bytes>) -> Result<&bytes::Bytes, JobError> {
    if response.status() == http::StatusCode::OK {
        return Ok(response.body());
    }
    Err(JobError::Status { status: response.status(), message: error_message(response.body()) })
}

/// The most of an error body quoted in [`JobError::Status`].
const MAX_MESSAGE: usize = 512;

/// The message of an error response: AIStore's `{"message": …}` if the body is that, else the
/// body as (lossy) text; at most [`MAX_MESSAGE`] bytes either way.
fn error_message(body: &[u8]) -> String {
    #[derive(serde::Deserialize)]
    struct AisError {
        message: String,
    }
    let message = match serde_json::from_slice::<AisError>(body) {
        Ok(error) => error.message,
        Err(_) => String::from_utf8_lossy(&body[..body.len().min(MAX_MESSAGE)]).into_owned(),
    };
    if message.len() <= MAX_MESSAGE {
        return message;
    }
    let mut end = MAX_MESSAGE;
    while !message.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &message[..end])
}
