//! `/v1/daemon`: what a node of a multi-node cluster tells about itself and the cluster.
//!
//! `GET /v1/daemon?what=smap` answers the cluster map, on the proxy and on every target (as
//! AIStore's nodes do: a client that reads from targets directly asks any of them for a newer
//! map). Anything else is 400. Requests here count in [`Stats::other`](crate::Stats::other).

use http::{Method, Request, StatusCode};
use hyper::body::Incoming;

use crate::objects::query_param;
use crate::router::{ApiError, Response, json};
use crate::state::State;
use crate::stats::Counter;
use crate::topology::Topology;

/// `apc.QparamWhat`: what a `GET /v1/daemon` asks for.
const QPARAM_WHAT: &str = "what";
/// `apc.WhatSmap`: the cluster map.
const WHAT_SMAP: &str = "smap";

/// Handles a request under `/v1/daemon`.
pub(crate) fn handle(state: &State, topology: &Topology, req: &Request<Incoming>) -> Result<Response, ApiError> {
    state.counters.count(Counter::Other);
    let what = query_param(req.uri().query().unwrap_or(""), QPARAM_WHAT);
    match (req.method(), what) {
        (&Method::GET, Some(WHAT_SMAP)) => Ok(json(topology.smap_json())),
        (method, what) => Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            format!("unsupported daemon request: {method} {QPARAM_WHAT}={}", what.unwrap_or("")),
        )),
    }
}
