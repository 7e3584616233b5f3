//! A job's status as the cluster sums it up (`GET /v1/cluster?what=status`).

use serde::{Deserialize, Serialize};

use super::ParseError;
use crate::ais::Timestamp;

mod field {
    crate::ais::job::de::fields! { uuid => "uuid", err => "err", end_time => "end_time", aborted => "aborted" }
}

/// AIStore's job status (`nl.Status`, the SDK's `JobStatus`): `{"uuid","err","end_time","aborted"}`.
///
/// Read leniently: unknown fields ignored, missing or `null` ones defaulted.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct JobStatus {
    /// The job id.
    #[serde(deserialize_with = "field::uuid")]
    pub uuid: String,
    /// The error the job ended with, if any.
    #[serde(deserialize_with = "field::err")]
    pub err: String,
    /// When it ended, in nanoseconds since the Unix epoch; `0` while it runs.
    #[serde(deserialize_with = "field::end_time")]
    pub end_time: i64,
    /// It was aborted.
    #[serde(deserialize_with = "field::aborted")]
    pub aborted: bool,
}

impl JobStatus {
    /// The status in `body`.
    pub fn parse(body: &[u8]) -> Result<Self, ParseError> {
        serde_json::from_slice(body).map_err(ParseError::status)
    }

    /// The terminal condition: the job has an end time (any non-zero value, negative too).
    pub fn has_ended(&self) -> bool {
        self.end_time != 0
    }

    /// The end time as a timestamp, when it is positive.
    pub fn end_timestamp(&self) -> Option<Timestamp> {
        (self.end_time > 0).then(|| Timestamp::from_unix_nanos(self.end_time))
    }

    /// The body the cluster sends for this status.
    pub fn to_json(&self) -> Vec<u8> {
        // Plain strings, an integer and a bool: serialising into a Vec cannot fail.
        serde_json::to_vec(self).unwrap_or_default()
    }
}
