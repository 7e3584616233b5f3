//! Which job a request is about, and the actions that start and stop one.

use bytes::Bytes;
use serde::{Deserialize, Serialize};

/// The action that starts a job (`ACT_START`).
pub const ACT_START: &str = "start";
/// The action that aborts a job (`ACT_XACT_STOP`).
pub const ACT_STOP: &str = "stop";

/// Which job a request is about: AIStore's `xact.ArgsMsg` as the SDK's `JobArgs.as_dict()`
/// sends it: `{"ID":…,"Kind":…,"DaemonID":…,"Bck":…,"Buckets":…}`.
///
/// Read leniently by the embedded cluster: missing fields default.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct JobArgs {
    /// The job id (empty: any).
    #[serde(rename = "ID")]
    pub id: String,
    /// The job kind (empty: any).
    #[serde(rename = "Kind")]
    pub kind: String,
    /// The target a job must run on (empty: any).
    #[serde(rename = "DaemonID")]
    pub daemon_id: String,
    /// The bucket of a bucket-scoped job.
    #[serde(rename = "Bck")]
    pub bck: serde_json::Value,
    /// The buckets of a multi-bucket job.
    #[serde(rename = "Buckets")]
    pub buckets: serde_json::Value,
}

impl JobArgs {
    /// The job with this id and kind (either may be empty).
    pub fn job(id: &str, kind: &str) -> Self {
        JobArgs { id: id.to_owned(), kind: kind.to_owned(), ..JobArgs::default() }
    }

    /// As a JSON value, for the `value` of an [`ActionMsg`](crate::ais::ActionMsg).
    pub fn to_value(&self) -> serde_json::Value {
        // Strings and JSON values: converting cannot fail.
        serde_json::to_value(self).unwrap_or_default()
    }

    /// The JSON body of a query about the job.
    pub fn to_body(&self) -> Bytes {
        Bytes::from(serde_json::to_vec(self).unwrap_or_default())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_the_python_sdk_keys() {
        let body = JobArgs::job("j1", "rebalance").to_body();
        assert_eq!(&body[..], br#"{"ID":"j1","Kind":"rebalance","DaemonID":"","Bck":null,"Buckets":null}"#);
        let args: JobArgs = serde_json::from_str(r#"{"ID":"j1"}"#).unwrap();
        assert_eq!(args, JobArgs::job("j1", ""));
    }
}
