//! `/v1/objects/<bucket>/<object>`: GET (whole or one range), HEAD, PUT, and POST actions.
//!
//! - `GET` serves the object with AIStore's object headers. A GET of a cold object in a remote
//!   bucket starts a cold GET, and every GET of a write-locked object waits, without sending a
//!   response head, until the lock is released (see [`crate::store`]). `Range` is honoured
//!   for one byte range (206, or 416 with `Content-Range: bytes */size`); a malformed one is
//!   ignored (see [`crate::range`]).
//! - `HEAD` answers the same headers without a body. `presence=2|3` (present in the cluster
//!   only) answers 404 for a cold object; other values, and a write-locked object, answer 200
//!   with the size. `props` is accepted and ignored: all properties are always sent.
//! - `PUT` stores the body (at most [`MAX_PUT_BYTES`], else 413), creating the bucket if it
//!   does not exist; the object is warm.
//! - `POST` takes an `ActionMsg`; `check-lock` answers 423 while the object is write-locked
//!   and 200 otherwise. Other actions are 400.
//!
//! Every error is answered by [`ApiError`]: 404 for a missing bucket or object, 400 for a
//! request that is not understood.
//!
//! Object GETs also follow the cluster's [`Link`](crate::Link) (first-byte latency, a paced
//! body) and its [range faults](crate::RangeFaultRule).

use std::time::Duration;

use http::header::{ACCEPT_RANGES, CONTENT_LENGTH, CONTENT_RANGE, CONTENT_TYPE, HeaderMap, HeaderValue, RANGE};
use http::{Method, Request, StatusCode, Uri};
use http_body_util::{BodyExt, LengthLimitError, Limited};
use hyper::body::Incoming;
use stowage_proto::ais::{
    ActionMsg, AddressError, Bucket, ObjectAddress, STATUS_LOCKED, action_name, encode_object_name, header, presence,
    qparam,
};
use tokio::time::Instant;

use crate::body::{Hiccup, ResponseBody, Shape};
use crate::faults;
use crate::node::Role;
use crate::range::{self, Selection};
use crate::router::{ApiError, Response};
use crate::scenario::display_bucket;
use crate::shaping::RangeFault;
use crate::state::State;
use crate::stats::Counter;
use crate::store::{Content, Missing, Origin, Read, Residency, Snapshot};

/// The largest object body a PUT may send: 1 GiB.
pub const MAX_PUT_BYTES: u64 = 1 << 30;
/// The largest `ActionMsg` body a POST may send.
pub(crate) const MAX_ACTION_BYTES: usize = 64 * 1024;
/// `apc.FltPresentNoProps`: like [`presence::FLT_PRESENT`], without properties.
const FLT_PRESENT_NO_PROPS: u8 = 3;

/// Handles a request whose path is under `/v1/objects/` at the single node or a target.
pub(crate) async fn handle(state: &State, role: Role, req: Request<Incoming>) -> Result<Response, ApiError> {
    let (parts, body) = req.into_parts();
    let counters = &state.counters;
    match parts.method {
        Method::GET => {
            counters.count(Counter::ObjectGet);
            get(state, &address(state, role, &parts.uri)?, &parts.headers).await
        }
        Method::HEAD => {
            counters.count(Counter::ObjectHead);
            head(state, &address(state, role, &parts.uri)?, parts.uri.query().unwrap_or(""))
        }
        Method::PUT => {
            counters.count(Counter::ObjectPut);
            put(state, &address(state, role, &parts.uri)?, &parts.headers, body).await
        }
        Method::POST => act(state, role, &parts.uri, body).await,
        _ => {
            counters.count(Counter::Other);
            Err(not_allowed(&parts.method))
        }
    }
}

/// 405 for a method that is not an object operation.
pub(crate) fn not_allowed(method: &Method) -> ApiError {
    ApiError::new(StatusCode::METHOD_NOT_ALLOWED, format!("{method} is not an object operation"))
        .with_header(http::header::ALLOW, HeaderValue::from_static("GET, HEAD, PUT, POST"))
}

async fn get(state: &State, address: &ObjectAddress, headers: &HeaderMap) -> Result<Response, ApiError> {
    let (bucket, name) = (address.bucket(), address.object());
    let snapshot = loop {
        match state.store.read(bucket, &name, Instant::now()).map_err(|m| not_found(m, bucket, &name))? {
            Read::Ready(snapshot) => break snapshot,
            Read::Wait { until, started } => {
                if started {
                    state.counters.count(Counter::ColdGet);
                    tracing::debug!(object = %name, "cold GET started");
                }
                tokio::time::sleep_until(until).await;
            }
        }
    };
    let size = snapshot.content.len();
    let link = state.shaping.link();
    if !link.first_byte.is_zero() {
        tokio::time::sleep(link.first_byte).await;
    }
    let (mut status, mut start, mut end) = match range::select(headers.get(RANGE), size) {
        Selection::Whole => (StatusCode::OK, 0, size),
        Selection::Partial { start, end } => (StatusCode::PARTIAL_CONTENT, start, end + 1),
        Selection::Unsatisfiable => {
            return Err(ApiError::new(StatusCode::RANGE_NOT_SATISFIABLE, "range not satisfiable")
                .with_header(CONTENT_RANGE, text_value(&format!("bytes */{size}"))));
        }
    };
    let mut shape = Shape::paced(link.bytes_per_sec);
    let mut shift = 0;
    let mut corrupt = false;
    let path = address.uri(&[]);
    let fault = if status == StatusCode::PARTIAL_CONTENT { state.shaping.take(path.path()) } else { None };
    if let Some(fault) = fault {
        state.counters.count(Counter::FaultInjected);
        tracing::debug!(?fault, object = %name, start, end, "injecting range fault");
        let middle = start + (end - start) / 2;
        match fault {
            RangeFault::Status { status } => {
                let code = faults::status_code(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
                return Err(ApiError::new(code, format!("injected range fault: status {status}")));
            }
            RangeFault::CutMidBody => shape = shape.with_hiccup(middle, Hiccup::Cut),
            RangeFault::StallMidBody { ms } => {
                shape = shape.with_hiccup(middle, Hiccup::Pause(Duration::from_millis(ms)))
            }
            RangeFault::Delay { ms } => tokio::time::sleep(Duration::from_millis(ms)).await,
            RangeFault::WrongContentRange => shift = 1,
            RangeFault::IgnoreRange => (status, start, end) = (StatusCode::OK, 0, size),
            RangeFault::Corrupt => corrupt = true,
        }
    }
    let body = match corrupt {
        true => snapshot.content.corrupted(start, end),
        false => snapshot.content.body(start, end),
    };
    let body = body.shaped(shape);
    let mut response = object_response(bucket, &name, &snapshot, body, end - start);
    *response.status_mut() = status;
    if status == StatusCode::PARTIAL_CONTENT {
        let content_range = text_value(&format!("bytes {}-{}/{size}", start + shift, end - 1 + shift));
        response.headers_mut().insert(CONTENT_RANGE, content_range);
    }
    Ok(response)
}

fn head(state: &State, address: &ObjectAddress, query: &str) -> Result<Response, ApiError> {
    let (bucket, name) = (address.bucket(), address.object());
    let local_only = match query_param(query, qparam::FLT_PRESENCE) {
        None => false,
        Some(value) => match value.parse::<u8>() {
            Ok(filter) => filter == presence::FLT_PRESENT || filter == FLT_PRESENT_NO_PROPS,
            Err(_) => {
                return Err(ApiError::new(
                    StatusCode::BAD_REQUEST,
                    format!("invalid {} filter {value:?}", qparam::FLT_PRESENCE),
                ));
            }
        },
    };
    let snapshot = state.store.snapshot(bucket, &name, Instant::now()).map_err(|m| not_found(m, bucket, &name))?;
    if local_only && snapshot.residency == Residency::Cold {
        let message = format!("{}/{name} is not present in the cluster", display_bucket(bucket));
        return Err(ApiError::new(StatusCode::NOT_FOUND, message));
    }
    let size = snapshot.content.len();
    Ok(object_response(bucket, &name, &snapshot, ResponseBody::empty(), size))
}

async fn put(
    state: &State,
    address: &ObjectAddress,
    headers: &HeaderMap,
    body: Incoming,
) -> Result<Response, ApiError> {
    let declared = headers.get(CONTENT_LENGTH).and_then(|v| v.to_str().ok()).and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|len| len > MAX_PUT_BYTES) {
        return Err(too_large(MAX_PUT_BYTES));
    }
    let data = read_body(body, MAX_PUT_BYTES as usize).await?;
    state.store.put(address.bucket(), &address.object(), Content::Bytes(data), Origin::Client);
    Ok(Response::new(ResponseBody::empty()))
}

async fn act(state: &State, role: Role, uri: &Uri, body: Incoming) -> Result<Response, ApiError> {
    let parsed = read_body(body, MAX_ACTION_BYTES).await.and_then(|bytes| {
        serde_json::from_slice::<ActionMsg>(&bytes)
            .map_err(|e| ApiError::new(StatusCode::BAD_REQUEST, format!("malformed ActionMsg: {e}")))
    });
    match parsed {
        Ok(msg) if msg.action == action_name::CHECK_LOCK => {}
        Ok(msg) => {
            state.counters.count(Counter::Other);
            let message = format!("unsupported object action {:?}", msg.action);
            return Err(ApiError::new(StatusCode::BAD_REQUEST, message));
        }
        Err(error) => {
            state.counters.count(Counter::Other);
            return Err(error);
        }
    }
    state.counters.count(Counter::CheckLock);
    let address = address(state, role, uri)?;
    let (bucket, name) = (address.bucket(), address.object());
    let snapshot = state.store.snapshot(bucket, &name, Instant::now()).map_err(|m| not_found(m, bucket, &name))?;
    match snapshot.residency {
        Residency::Fetching { .. } => {
            Err(ApiError::new(STATUS_LOCKED, format!("{}/{name} is write-locked", display_bucket(bucket))))
        }
        Residency::Cold | Residency::Warm => Ok(Response::new(ResponseBody::empty())),
    }
}

/// The object's address, or 400; at a target, 404 unless the target owns the object under the
/// current cluster map (a client with a stale map must go back through the proxy).
fn address(state: &State, role: Role, uri: &Uri) -> Result<ObjectAddress, ApiError> {
    let address = parse_address(uri)?;
    if let (Role::Target(index), Some(topology)) = (role, &state.topology)
        && topology.owner(&address) != Ok(index)
    {
        state.counters.count(Counter::Misdirected);
        let (id, version) = (topology.target(index).map_or("", |t| t.id.as_str()), topology.version());
        let message = format!(
            "{}/{} does not exist on target {id} (not its object under cluster map v{version})",
            display_bucket(address.bucket()),
            address.object()
        );
        return Err(ApiError::new(StatusCode::NOT_FOUND, message));
    }
    Ok(address)
}

/// The object's address, or 400 (404 for a path that is not an object's).
pub(crate) fn parse_address(uri: &Uri) -> Result<ObjectAddress, ApiError> {
    ObjectAddress::from_uri(uri).map_err(|error| {
        let status = match error {
            AddressError::NotAnObjectPath { .. } => StatusCode::NOT_FOUND,
            AddressError::MissingObjectName { .. } | AddressError::UnknownProvider(_) => StatusCode::BAD_REQUEST,
        };
        ApiError::new(status, error.to_string())
    })
}

/// A 200 with AIStore's object headers, `Content-Length: length`, and `body`.
fn object_response(bucket: &Bucket, name: &str, snapshot: &Snapshot, body: ResponseBody, length: u64) -> Response {
    let mut response = Response::new(body);
    let headers = response.headers_mut();
    headers.insert(CONTENT_LENGTH, HeaderValue::from(length));
    headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/octet-stream"));
    headers.insert(ACCEPT_RANGES, HeaderValue::from_static("bytes"));
    headers.insert(header::OBJECT_NAME, text_value(name));
    headers.insert(header::BUCKET_NAME, text_value(&bucket.name));
    headers.insert(header::BUCKET_PROVIDER, HeaderValue::from_static(bucket.provider.as_str()));
    headers.insert(header::VERSION, HeaderValue::from(snapshot.version));
    // aisnode's default checksum, of the whole object on every response (ranges included).
    match snapshot.xxh64 {
        Some(xxh64) => {
            headers.insert(header::CHECKSUM_TYPE, HeaderValue::from_static("xxhash2"));
            headers.insert(header::CHECKSUM_VALUE, text_value(&format!("{xxh64:016x}")));
        }
        None => {
            headers.insert(header::CHECKSUM_TYPE, HeaderValue::from_static("none"));
        }
    }
    let present = snapshot.residency == Residency::Warm;
    headers.insert(header::PRESENT, HeaderValue::from_static(if present { "true" } else { "false" }));
    response
}

/// `text` as a header value, percent-encoded if it has bytes a header cannot carry.
fn text_value(text: &str) -> HeaderValue {
    HeaderValue::from_str(text)
        .or_else(|_| HeaderValue::from_str(&encode_object_name(text)))
        .unwrap_or_else(|_| HeaderValue::from_static(""))
}

/// The whole request body, at most `limit` bytes (413 beyond).
pub(crate) async fn read_body(body: Incoming, limit: usize) -> Result<bytes::Bytes, ApiError> {
    match Limited::new(body, limit).collect().await {
        Ok(collected) => Ok(collected.to_bytes()),
        Err(error) if error.is::<LengthLimitError>() => Err(too_large(limit as u64)),
        Err(error) => Err(ApiError::new(StatusCode::BAD_REQUEST, format!("cannot read the request body: {error}"))),
    }
}

/// Reads the whole request body and discards it, without holding it: at most `limit` bytes
/// (413 beyond).
pub(crate) async fn drain_body(mut body: Incoming, limit: u64) -> Result<(), ApiError> {
    let mut read = 0u64;
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(|error| {
            ApiError::new(StatusCode::BAD_REQUEST, format!("cannot read the request body: {error}"))
        })?;
        read = read.saturating_add(frame.data_ref().map_or(0, |data| data.len() as u64));
        if read > limit {
            return Err(too_large(limit));
        }
    }
    Ok(())
}

fn too_large(limit: u64) -> ApiError {
    ApiError::new(StatusCode::PAYLOAD_TOO_LARGE, format!("request body exceeds {limit} bytes"))
}

pub(crate) fn not_found(missing: Missing, bucket: &Bucket, name: &str) -> ApiError {
    let message = match missing {
        Missing::Bucket => format!("bucket {} does not exist", display_bucket(bucket)),
        Missing::Object => format!("{}/{name} does not exist", display_bucket(bucket)),
    };
    ApiError::new(StatusCode::NOT_FOUND, message)
}

/// The first value of `key` in a query string (values here are plain tokens: no decoding).
pub(crate) fn query_param<'a>(query: &'a str, key: &str) -> Option<&'a str> {
    query.split('&').filter_map(|pair| pair.split_once('=')).find(|(k, _)| *k == key).map(|(_, v)| v)
}
