//! The requests of the job API (AIStore REST, `/v1/cluster`).

use bytes::Bytes;
use http::header::{CONTENT_TYPE, HeaderValue};
use http::{Method, Request, Uri};
use stowage_proto::ais::ActionMsg;
use stowage_proto::ais::job::{ACT_START, ACT_STOP, JobArgs};

/// `GET /v1/cluster?what=qryxstats`: a job's snapshots, per target.
pub const SNAPSHOTS_PATH: &str = "/v1/cluster?what=qryxstats";
/// `GET /v1/cluster?what=status`: a job's status.
pub const STATUS_PATH: &str = "/v1/cluster?what=status";
/// `PUT /v1/cluster` with an action: start or stop a job.
pub const CLUSTER_PATH: &str = "/v1/cluster";

/// `GET /v1/cluster?what=qryxstats` with the job's [`JobArgs`] as the JSON body.
pub fn snapshots_request(args: &JobArgs) -> Request<Bytes> {
    json_request(Method::GET, SNAPSHOTS_PATH, args.to_body())
}

/// `GET /v1/cluster?what=status` with the job's [`JobArgs`] as the JSON body.
pub fn status_request(args: &JobArgs) -> Request<Bytes> {
    json_request(Method::GET, STATUS_PATH, args.to_body())
}

/// `PUT /v1/cluster` with `{"action":"stop","value":JobArgs}`: abort the job.
pub fn abort_request(args: &JobArgs) -> Request<Bytes> {
    action_request(ACT_STOP, args)
}

/// `PUT /v1/cluster` with `{"action":"start","value":JobArgs}`: start a job of `args.kind`;
/// the answer's body is the new job's id.
pub fn start_request(args: &JobArgs) -> Request<Bytes> {
    action_request(ACT_START, args)
}

fn action_request(action: &str, args: &JobArgs) -> Request<Bytes> {
    let msg = ActionMsg { value: args.to_value(), ..ActionMsg::new(action) };
    json_request(Method::PUT, CLUSTER_PATH, msg.to_body())
}

/// A request from parts that are valid by construction.
fn json_request(method: Method, path: &'static str, body: Bytes) -> Request<Bytes> {
    let mut request = Request::new(body);
    *request.method_mut() = method;
    *request.uri_mut() = Uri::from_static(path);
    request.headers_mut().insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    request
}
