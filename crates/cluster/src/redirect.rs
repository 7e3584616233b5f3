//! The proxy's answer to object requests: `307 Temporary Redirect` to the target that owns the
//! object.
//!
//! As AIStore's proxy does (`redirectURL` in `ais/proxy.go`), the `Location` is the owner's
//! `direct_url`, the request's path and query as they came, and two more query parameters:
//! `pid`, the redirecting proxy's daemon id, and `utm`, the unix time of the redirect in
//! nanoseconds, in decimal (`apc.QparamPID`, `apc.QparamUnixTime`; `cos.UnixNano2S`). 307
//! keeps the method and the body, so GET, HEAD, PUT and POST (`check-lock`) all go this way.
//! Like Go's `http.Redirect`, a redirected GET or HEAD says `Content-Type: text/html`, and a
//! GET carries a one-line HTML link to the new place.
//!
//! Before redirecting, the proxy answers what it can itself: 405 for a method that is not an
//! object operation, 400/404 for a path that is not an object's, 404 for a GET, HEAD or POST
//! in a bucket that does not exist (a PUT creates its bucket), 503 when every target is in
//! maintenance. It reads and discards the request body first (at most what the target would
//! take), so that the connection stays usable and the client, still sending, does not meet a
//! reset instead of the answer — unless the client waits for `100 Continue`: then it has sent
//! nothing, and is answered at once.

use std::fmt::Write as _;
use std::time::SystemTime;

use bytes::Bytes;
use http::header::{CONTENT_TYPE, EXPECT, HeaderValue, LOCATION};
use http::{Method, Request, StatusCode};
use hyper::body::Incoming;

use crate::body::ResponseBody;
use crate::objects::{self, MAX_ACTION_BYTES, MAX_PUT_BYTES};
use crate::router::{ApiError, Response};
use crate::state::State;
use crate::stats::Counter;
use crate::store::Missing;
use crate::topology::Topology;

/// `apc.QparamPID`: the daemon id of the proxy that redirected the request.
pub(crate) const QPARAM_PID: &str = "pid";
/// `apc.QparamUnixTime`: when the proxy redirected the request, unix nanoseconds in decimal.
pub(crate) const QPARAM_UNIX_TIME: &str = "utm";

/// Handles an object request at the proxy.
pub(crate) async fn handle(state: &State, topology: &Topology, req: Request<Incoming>) -> Result<Response, ApiError> {
    let (parts, body) = req.into_parts();
    let limit = match parts.method {
        Method::PUT => MAX_PUT_BYTES,
        Method::GET | Method::HEAD | Method::POST => MAX_ACTION_BYTES as u64,
        _ => {
            state.counters.count(Counter::Other);
            return Err(objects::not_allowed(&parts.method));
        }
    };
    let answer = async {
        let address = objects::parse_address(&parts.uri)?;
        let bucket = address.bucket();
        if parts.method != Method::PUT && !state.store.has_bucket(bucket) {
            return Err(objects::not_found(Missing::Bucket, bucket, &address.object()));
        }
        let owner =
            topology.owner(&address).map_err(|e| ApiError::new(StatusCode::SERVICE_UNAVAILABLE, e.to_string()))?;
        let waits_for_continue =
            parts.headers.get(EXPECT).is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"100-continue"));
        if !waits_for_continue {
            objects::drain_body(body, limit).await?;
        }
        Ok(owner)
    };
    let owner = answer.await.inspect_err(|_| state.counters.count(Counter::Other))?;
    state.counters.count(Counter::Redirect);
    let target = topology.target(owner).map(|t| t.url()).unwrap_or_default();
    let location = location(&target, parts.uri.path(), parts.uri.query(), &topology.proxy().id, unix_nanos());
    tracing::trace!(method = %parts.method, %location, "redirecting");
    Ok(redirect(&parts.method, location))
}

/// `target` + `path` + `?` + the original query and `&`, if any + `pid=…&utm=…`.
fn location(target: &str, path: &str, query: Option<&str>, pid: &str, utm: u64) -> String {
    let mut location = format!("{target}{path}?");
    if let Some(query) = query.filter(|q| !q.is_empty()) {
        location.push_str(query);
        location.push('&');
    }
    // Daemon ids are letters and digits: nothing to encode.
    let _ = write!(location, "{QPARAM_PID}={pid}&{QPARAM_UNIX_TIME}={utm}");
    location
}

/// The 307 answer, shaped like Go's `http.Redirect`.
fn redirect(method: &Method, location: String) -> Response {
    let body = match *method {
        Method::GET => ResponseBody::bytes(Bytes::from(format!(
            "<a href=\"{}\">Temporary Redirect</a>.\n\n",
            html_escape(&location)
        ))),
        _ => ResponseBody::empty(),
    };
    let mut response = Response::new(body);
    *response.status_mut() = StatusCode::TEMPORARY_REDIRECT;
    let headers = response.headers_mut();
    if let Ok(value) = HeaderValue::from_str(&location) {
        headers.insert(LOCATION, value);
    }
    if matches!(*method, Method::GET | Method::HEAD) {
        headers.insert(CONTENT_TYPE, HeaderValue::from_static("text/html; charset=utf-8"));
    }
    response
}

/// Go's `html.EscapeString` set: `&`, `<`, `>`, `"`, `'`.
fn html_escape(text: &str) -> String {
    let mut escaped = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => escaped.push_str("&amp;"),
            '<' => escaped.push_str("&lt;"),
            '>' => escaped.push_str("&gt;"),
            '"' => escaped.push_str("&#34;"),
            '\'' => escaped.push_str("&#39;"),
            c => escaped.push(c),
        }
    }
    escaped
}

/// Nanoseconds since the unix epoch on the wall clock (0 before it).
fn unix_nanos() -> u64 {
    let since = SystemTime::now().duration_since(SystemTime::UNIX_EPOCH).unwrap_or_default();
    u64::try_from(since.as_nanos()).unwrap_or(u64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn location_keeps_path_and_query_and_adds_pid_and_utm() {
        let target = "http://127.0.0.1:9";
        assert_eq!(
            location(target, "/v1/objects/b/dir/o%20x", Some("provider=aws&presence=2"), "p1", 17),
            "http://127.0.0.1:9/v1/objects/b/dir/o%20x?provider=aws&presence=2&pid=p1&utm=17"
        );
        assert_eq!(
            location(target, "/v1/objects/b/o", None, "p1", 5),
            "http://127.0.0.1:9/v1/objects/b/o?pid=p1&utm=5"
        );
        assert_eq!(
            location(target, "/v1/objects/b/o", Some(""), "p1", 5),
            "http://127.0.0.1:9/v1/objects/b/o?pid=p1&utm=5"
        );
    }

    #[test]
    fn html_is_escaped_like_go() {
        assert_eq!(html_escape(r#"a?b=1&c='<"x">'"#), "a?b=1&amp;c=&#39;&lt;&#34;x&#34;&gt;&#39;");
    }
}
