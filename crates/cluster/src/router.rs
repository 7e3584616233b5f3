//! The entry point of every request: count it, apply faults, dispatch by path, turn errors
//! into AIStore-style error responses.

use std::time::Duration;

use bytes::Bytes;
use http::header::{CONTENT_TYPE, HeaderName, HeaderValue};
use http::{Method, Request, StatusCode};
use hyper::body::Incoming;
use stowage_proto::ais::{API_PREFIX, URL_PATH_OBJECTS};

use crate::body::ResponseBody;
use crate::conn::{ConnectionReset, ResetSwitch};
use crate::faults::{self, Fault};
use crate::node::Role;
use crate::state::State;
use crate::stats::Counter;
use crate::{daemon, jobs, objects, redirect};

/// The path segment of cluster-wide requests (`/v1/cluster`): the job API.
const URL_PATH_CLUSTER: &str = "cluster";
/// The path segment of node requests (`/v1/daemon`): the cluster map.
const URL_PATH_DAEMON: &str = "daemon";

/// Every response the cluster sends.
pub(crate) type Response = http::Response<ResponseBody>;

/// Handles one request to the node `role`. `Err` means: reset the connection without answering.
///
/// A slow node (see [`NodeFault::Slow`](crate::NodeFault::Slow)) waits before anything else,
/// fault rules included.
pub(crate) async fn handle(
    state: &State,
    role: Role,
    reset: &ResetSwitch,
    req: Request<Incoming>,
) -> Result<Response, ConnectionReset> {
    state.counters.count(Counter::Request);
    if let Some(topology) = &state.topology {
        topology.count(role);
        let delay = topology.first_byte(role);
        if !delay.is_zero() {
            tokio::time::sleep(delay).await;
        }
    }
    let method = req.method().clone();
    let path = req.uri().path().to_owned();
    let mut stall = None;
    if let Some(fault) = state.faults.take(&method, &path) {
        state.counters.count(Counter::FaultInjected);
        tracing::debug!(?fault, %method, %path, "injecting fault");
        match fault {
            Fault::Reset => {
                reset.trip();
                return Err(ConnectionReset);
            }
            Fault::Status { status } => return Ok(injected_status(status).into_response(&method, &path)),
            Fault::Latency { ms } => tokio::time::sleep(Duration::from_millis(ms)).await,
            Fault::Stall { ms } => stall = Some(Duration::from_millis(ms)),
        }
    }
    let response = route(state, role, req).await.unwrap_or_else(|error| error.into_response(&method, &path));
    if let Some(hold) = stall {
        tokio::time::sleep(hold).await;
    }
    Ok(response)
}

/// Dispatches on the node's role and the first path segment after the API version: object
/// requests are served by the single node and the targets and redirected by the proxy; jobs
/// are served by the single node and the proxy; the cluster map by the proxy and the targets.
async fn route(state: &State, role: Role, req: Request<Incoming>) -> Result<Response, ApiError> {
    let rest = req.uri().path().strip_prefix(API_PREFIX).and_then(|rest| rest.strip_prefix('/')).unwrap_or("");
    let segment = rest.split_once('/').map_or(rest, |(segment, _)| segment);
    match (segment, role, &state.topology) {
        (URL_PATH_OBJECTS, Role::Proxy, Some(topology)) => redirect::handle(state, topology, req).await,
        (URL_PATH_OBJECTS, Role::Single | Role::Target(_), _) => objects::handle(state, role, req).await,
        (URL_PATH_CLUSTER, Role::Single | Role::Proxy, _) => jobs::handle(state, req).await,
        (URL_PATH_DAEMON, Role::Proxy | Role::Target(_), Some(topology)) => daemon::handle(state, topology, &req),
        _ => {
            state.counters.count(Counter::Other);
            Err(ApiError::new(StatusCode::NOT_FOUND, "unknown API path"))
        }
    }
}

/// A 200 with a JSON body.
pub(crate) fn json(body: Vec<u8>) -> Response {
    let mut response = Response::new(ResponseBody::bytes(Bytes::from(body)));
    response.headers_mut().insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    response
}

/// The answer to a `status` fault; an invalid status (only possible through
/// [`Cluster::add_fault`](crate::Cluster::add_fault)) is answered 500 saying so.
fn injected_status(status: u16) -> ApiError {
    match faults::status_code(status) {
        Ok(code) => ApiError::new(code, format!("injected fault: status {status}")),
        Err(invalid) => ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, format!("invalid fault rule: {invalid}")),
    }
}

/// An error answer: a status, a message, and maybe extra headers.
///
/// Its body is AIStore's error JSON: `{"status":…,"message":…,"method":…,"url_path":…}`. The
/// message of a missing object names it as `provider://bucket/object`, which is what the
/// AIStore SDKs look for to raise their "object not found" errors.
#[derive(Debug)]
pub(crate) struct ApiError {
    status: StatusCode,
    message: String,
    headers: Vec<(HeaderName, HeaderValue)>,
}

impl ApiError {
    pub(crate) fn new(status: StatusCode, message: impl Into<String>) -> Self {
        ApiError { status, message: message.into(), headers: Vec::new() }
    }

    /// Adds a header to the response.
    pub(crate) fn with_header(mut self, name: HeaderName, value: HeaderValue) -> Self {
        self.headers.push((name, value));
        self
    }

    fn into_response(self, method: &Method, path: &str) -> Response {
        let body = serde_json::json!({
            "status": self.status.as_u16(),
            "message": self.message,
            "method": method.as_str(),
            "url_path": path,
        });
        let mut response = Response::new(ResponseBody::bytes(body.to_string().into()));
        *response.status_mut() = self.status;
        let headers = response.headers_mut();
        headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
        headers.extend(self.headers);
        response
    }
}
