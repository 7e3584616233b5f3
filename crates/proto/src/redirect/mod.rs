//! Following HTTP redirects: the rules both drivers apply, as a pure value.
//!
//! An AIStore proxy answers every object request with a `307 Temporary Redirect` to the target
//! that owns the object (see [`crate::ais::smap`]); a driver follows it before the machine sees
//! the answer. One [`Redirects`] value goes with each logical request: handed each response
//! head, it says whether to hand the response to the caller, which request to send next, or why
//! the redirect cannot be followed. The rules (RFC 9110 §15.4 and the WHATWG Fetch standard's
//! "HTTP-redirect fetch", which browsers follow; Go's `net/http` and Python's `requests` turn
//! more methods into `GET` on a 301 or 302, which RFC 9110 allows but does not ask for):
//!
//! - a redirect is a `301`, `302`, `303`, `307` or `308` (other 3xx answers are answers); its
//!   `Location` is resolved against the URL just requested, per RFC 3986 §5.2, and must be an
//!   `http` or `https` URL;
//! - `307` and `308` repeat the request as it was, method and body; `303` turns it into a `GET`
//!   without body (a `HEAD` stays a `HEAD`); `301` and `302` turn a `POST` into a `GET`
//!   without body and keep every other method and its body;
//! - credentials (`Authorization`, `Proxy-Authorization`, `Cookie`) go on only to the origin
//!   (scheme, host, port) of the first request or to an authority the [`RedirectPolicy`]
//!   trusts (an AIStore client trusts every node of its cluster map:
//!   [`Smap::public_authorities`]); once dropped they are not restored (as in Go's `net/http`
//!   and `requests`, which strip them on a change of host);
//! - a request for a URL already requested with the same method is a loop, and at most
//!   [`RedirectPolicy::max_hops`] redirects are followed.
//!
//! A driver runs one logical request through its redirects with a [`Chain`]: the request to
//! send now and its [`Redirects`], handed each response head.
//!
//! [`Smap::public_authorities`]: crate::ais::Smap::public_authorities

mod chain;
mod resolve;

pub use chain::{Chain, Step};

use std::borrow::Borrow;

use http::header::{self, HeaderName};
use http::uri::Authority;
use http::{Method, Request, Response, StatusCode, Uri};

/// How many redirects a request follows by default: 10.
///
/// An AIStore request needs one (proxy → target). Ten is what Go's `net/http` client (which
/// AIStore's own Go API uses) and Rust's `reqwest` allow, ample room for a load balancer or a
/// proxy in front of the cluster, and few enough that a misconfigured chain fails in
/// milliseconds rather than after the 30 hops of Python's `requests`.
pub const DEFAULT_MAX_HOPS: u32 = 10;

/// The headers that carry credentials, dropped on the way to an untrusted origin.
const CREDENTIALS: [HeaderName; 3] = [header::AUTHORIZATION, header::PROXY_AUTHORIZATION, header::COOKIE];

/// The headers that describe a body, dropped with it (and `Host`, which the next URI sets).
const BODY_HEADERS: [HeaderName; 7] = [
    header::CONTENT_LENGTH,
    header::CONTENT_TYPE,
    header::CONTENT_ENCODING,
    header::CONTENT_LANGUAGE,
    header::CONTENT_LOCATION,
    header::TRANSFER_ENCODING,
    header::EXPECT,
];

/// Why a redirect was not followed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, thiserror::Error)]
pub enum RedirectError {
    /// A 301, 302, 303, 307 or 308 without a `Location` header.
    #[error("a redirect without a Location header")]
    MissingLocation,
    /// A `Location` that is not a URI reference, or that resolves to no valid request URL (no
    /// host, bytes a URL may not hold).
    #[error("a redirect whose Location is not a valid URL")]
    InvalidLocation,
    /// A `Location` whose scheme is not `http` or `https`.
    #[error("a redirect to a URL that is neither http nor https")]
    UnsupportedScheme,
    /// The redirected request's URI is not absolute, so a `Location` cannot be resolved
    /// against it (a driver bug: it must hand over the URI it really requested).
    #[error("a redirect of a request whose URI is not absolute")]
    NotAbsolute,
    /// The `Location` was already requested with the same method.
    #[error("a redirect loop: the Location was already requested with the same method")]
    Loop,
    /// The policy's `max_hops` redirects were followed already.
    #[error("too many redirects")]
    TooManyHops,
}

impl RedirectError {
    /// Every kind, for tests and fuzzers that pick one.
    pub const ALL: [RedirectError; 6] = [
        RedirectError::MissingLocation,
        RedirectError::InvalidLocation,
        RedirectError::UnsupportedScheme,
        RedirectError::NotAbsolute,
        RedirectError::Loop,
        RedirectError::TooManyHops,
    ];
}

/// Which redirects to follow, and where credentials may go.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RedirectPolicy {
    /// The most redirects one request follows (default [`DEFAULT_MAX_HOPS`]); `0` follows none
    /// (every redirect is then [`RedirectError::TooManyHops`]).
    pub max_hops: u32,
    /// Authorities (host and port; a missing port is the scheme's default) that get the
    /// request's credentials, besides the origin of the first request.
    pub trusted: Vec<Authority>,
}

impl Default for RedirectPolicy {
    /// [`DEFAULT_MAX_HOPS`], trusting no other authority.
    fn default() -> Self {
        RedirectPolicy { max_hops: DEFAULT_MAX_HOPS, trusted: Vec::new() }
    }
}

impl RedirectPolicy {
    /// This policy, also trusting `authorities`.
    pub fn trusting(mut self, authorities: impl IntoIterator<Item = Authority>) -> Self {
        self.trusted.extend(authorities);
        self
    }

    /// Whether `uri` (absolute) is at a trusted authority.
    fn trusts(&self, uri: &Uri) -> bool {
        let Some(next) = Origin::of(uri) else { return false };
        self.trusted.iter().any(|trusted| {
            trusted.host().eq_ignore_ascii_case(&next.host)
                && trusted.port_u16().unwrap_or(next.default_port) == next.port
        })
    }
}

/// Scheme, host and port (the default port filled in), compared case-insensitively.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Origin {
    https: bool,
    host: String,
    port: u16,
    default_port: u16,
}

impl Origin {
    fn of(uri: &Uri) -> Option<Origin> {
        let https = uri.scheme_str()?.eq_ignore_ascii_case("https");
        let default_port = if https { 443 } else { 80 };
        let authority = uri.authority()?;
        let port = authority.port_u16().unwrap_or(default_port);
        Some(Origin { https, host: authority.host().to_ascii_lowercase(), port, default_port })
    }
}

/// The redirects of one logical request: where it has been, and how many hops it made.
///
/// Invariants: it follows at most `max_hops` redirects, never requests a URL twice with the
/// same method, and never sends credentials to an origin other than the first request's unless
/// the policy trusts it. `P` is how it holds its policy: owned, `&RedirectPolicy`,
/// `Arc<RedirectPolicy>`.
///
/// ```
/// use bytes::Bytes;
/// use http::{Method, Request, Response, StatusCode, header};
/// use stowage_proto::redirect::{RedirectPolicy, Redirects};
///
/// let policy = RedirectPolicy::default();
/// let mut redirects = Redirects::new(&policy);
/// let mut request = Request::new(Bytes::from_static(b"data"));
/// *request.method_mut() = Method::PUT;
/// *request.uri_mut() = "http://proxy:8080/v1/objects/bck/obj?provider=ais".parse()?;
///
/// let answer = Response::builder()
///     .status(StatusCode::TEMPORARY_REDIRECT)
///     .header(header::LOCATION, "http://target-2:8081/v1/objects/bck/obj?provider=ais&pid=p1")
///     .body(())?;
/// let next = redirects.follow(&request, &answer)?.expect("a 307 is followed");
/// assert_eq!((next.method(), next.uri().host(), next.body()), (&Method::PUT, Some("target-2"), request.body()));
///
/// let done = Response::builder().status(StatusCode::OK).body(())?;
/// assert!(redirects.follow(&next, &done)?.is_none(), "a 200 goes to the caller");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Debug)]
pub struct Redirects<P = RedirectPolicy> {
    policy: P,
    /// The origin of the first request: the one that owns its credentials.
    origin: Option<Origin>,
    /// Every request made, first included: `max_hops + 1` at most.
    visited: Vec<(Method, Uri)>,
}

impl<P: Borrow<RedirectPolicy>> Redirects<P> {
    /// The redirects of a request not sent yet.
    pub fn new(policy: P) -> Self {
        Redirects { policy, origin: None, visited: Vec::new() }
    }

    /// How many redirects were followed.
    pub fn hops(&self) -> u32 {
        u32::try_from(self.visited.len().saturating_sub(1)).unwrap_or(u32::MAX)
    }

    /// Decides on `response`, the answer to `sent`: `Ok(None)` when it is not a redirect (hand
    /// it to the caller), `Ok(Some(next))` when it is one to follow (send `next`), or why it
    /// cannot be followed.
    ///
    /// `sent` is the first request, then each `next` this returned, with an absolute URI.
    /// `next` keeps `sent`'s version, headers and extensions, less what the rules drop (see
    /// the [module docs](self)), and `Host`, which its URI sets.
    pub fn follow<B: Clone + Default, R>(
        &mut self,
        sent: &Request<B>,
        response: &Response<R>,
    ) -> Result<Option<Request<B>>, RedirectError> {
        let status = response.status();
        if !is_redirect(status) {
            return Ok(None);
        }
        if self.origin.is_none() {
            self.origin = Some(Origin::of(sent.uri()).ok_or(RedirectError::NotAbsolute)?);
            self.visited.push((sent.method().clone(), sent.uri().clone()));
        }
        let policy = self.policy.borrow();
        if self.hops() >= policy.max_hops {
            return Err(RedirectError::TooManyHops);
        }
        let uri = location(sent.uri(), response.headers())?;
        let keeps_body = match status {
            StatusCode::SEE_OTHER => false,
            StatusCode::MOVED_PERMANENTLY | StatusCode::FOUND => sent.method() != Method::POST,
            _ => true,
        };
        let method = match sent.method() {
            method if keeps_body || method == Method::HEAD => method.clone(),
            _ => Method::GET,
        };
        if self.visited.iter().any(|(m, u)| *m == method && *u == uri) {
            return Err(RedirectError::Loop);
        }
        let mut headers = sent.headers().clone();
        headers.remove(header::HOST);
        if !keeps_body {
            for name in &BODY_HEADERS {
                headers.remove(name);
            }
        }
        if Origin::of(&uri) != self.origin && !policy.trusts(&uri) {
            for name in &CREDENTIALS {
                headers.remove(name);
            }
        }
        let body = if keeps_body { sent.body().clone() } else { B::default() };
        let mut next = Request::new(body);
        *next.method_mut() = method.clone();
        *next.uri_mut() = uri.clone();
        *next.version_mut() = sent.version();
        *next.headers_mut() = headers;
        *next.extensions_mut() = sent.extensions().clone();
        self.visited.push((method, uri));
        Ok(Some(next))
    }
}

/// The URL a redirect's `Location` names, resolved against `base`, the absolute URL it answers
/// (RFC 3986 §5.2): for a machine that follows redirects itself, such as a ranged download that
/// learns where an object lives. Errors: no `Location`, one that is not a URI reference, a
/// base that is not absolute, a result that is not `http(s)`.
pub fn location(base: &Uri, headers: &http::HeaderMap) -> Result<Uri, RedirectError> {
    let location = headers.get(header::LOCATION).ok_or(RedirectError::MissingLocation)?;
    let location = location.to_str().map_err(|_| RedirectError::InvalidLocation)?;
    resolve::resolve(base, location)
}

/// The statuses that redirect a request: 301, 302, 303, 307, 308.
pub fn is_redirect(status: StatusCode) -> bool {
    matches!(
        status,
        StatusCode::MOVED_PERMANENTLY
            | StatusCode::FOUND
            | StatusCode::SEE_OTHER
            | StatusCode::TEMPORARY_REDIRECT
            | StatusCode::PERMANENT_REDIRECT
    )
}

#[cfg(test)]
mod tests;
