//! What HTTP machines emit ([`Transmit`]) and what they are fed back ([`Completion`]).

use bytes::Bytes;
use std::fmt;

use crate::redirect::RedirectError;
use crate::tls::TlsError;

/// Identifies one request a machine emitted, so its completion can be matched to it.
///
/// Ids are unique within one machine instance and increase in emission order.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct RequestId(pub u64);

impl fmt::Display for RequestId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "req#{}", self.0)
    }
}

/// The source of a machine's [`RequestId`]s: 0, 1, 2, …
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RequestIds {
    next: u64,
}

impl RequestIds {
    /// Hands out the next id.
    pub fn next_id(&mut self) -> RequestId {
        let id = RequestId(self.next);
        self.next = self.next.wrapping_add(1);
        id
    }
}

/// A request a machine wants sent.
///
/// The URI is usually origin-form (`/v1/objects/…?…`): the driver sends it to the endpoint it
/// was configured with. An absolute URI is sent where it points.
#[derive(Clone, Debug)]
pub struct Transmit {
    /// Matches the [`Completion`] the driver feeds back.
    pub id: RequestId,
    /// The request, with its (small) body.
    pub request: http::Request<Bytes>,
}

/// What became of a [`Transmit`]: the response, or a transport failure.
///
/// `B` is how much of the response body the machine is fed (see [`CompletionBody`]): by
/// default none, `Completion<()>` — machines that decide on status and headers alone, while
/// the driver keeps (or streams) the bytes. A machine that decides on a small body (a JSON
/// answer) takes `Completion<Bytes>` instead.
#[derive(Debug)]
pub struct Completion<B = ()> {
    /// The id of the [`Transmit`] this completes.
    pub id: RequestId,
    /// The response (head, and body if `B` carries one), or why there was none.
    pub result: Result<http::Response<B>, TransportError>,
}

/// The part of a response body a [`Completion`] carries: `()` (the head only) or [`Bytes`]
/// (the whole, already collected body). Drivers build completions through this trait, so one
/// driver loop runs both kinds of machine.
pub trait CompletionBody: Sized {
    /// The response a machine is fed for `response`: a copy of the head (status, version,
    /// headers; not the extensions) with this kind of body.
    fn from_response(response: &http::Response<Bytes>) -> http::Response<Self>;
}

impl CompletionBody for () {
    fn from_response(response: &http::Response<Bytes>) -> http::Response<()> {
        with_head_of(response, ())
    }
}

impl CompletionBody for Bytes {
    /// The body is shared, not copied (`Bytes` is reference-counted).
    fn from_response(response: &http::Response<Bytes>) -> http::Response<Bytes> {
        with_head_of(response, response.body().clone())
    }
}

/// `body` under a copy of `response`'s head.
fn with_head_of<B>(response: &http::Response<Bytes>, body: B) -> http::Response<B> {
    let mut copy = http::Response::new(body);
    *copy.status_mut() = response.status();
    *copy.version_mut() = response.version();
    *copy.headers_mut() = response.headers().clone();
    copy
}

/// A failure below HTTP, as data: machines decide on its kind, drivers map their errors onto it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, thiserror::Error)]
pub enum TransportError {
    /// No connection within the connect timeout.
    #[error("connect timed out")]
    ConnectTimeout,
    /// The peer refused the connection (or it could not be routed).
    #[error("connection refused")]
    ConnectRefused,
    /// Connected, but the response (head or a body chunk) did not arrive within the read timeout.
    #[error("read timed out")]
    ReadTimeout,
    /// The peer reset the connection.
    #[error("connection reset by peer")]
    Reset,
    /// The peer closed the connection before the response was complete.
    #[error("connection closed before the response was complete")]
    Closed,
    /// The peer sent something that is not HTTP (or exceeded a limit we set).
    #[error("malformed response")]
    Protocol,
    /// Anything else the driver could not classify.
    #[error("transport error")]
    Other,
    /// The server answered with a redirect the driver could not follow (see
    /// [`crate::redirect`]). Asking again gets the same answer: machines do not retry it.
    #[error("redirect not followed: {0}")]
    Redirect(RedirectError),
    /// The TLS handshake failed: the server's certificate was refused, or the server refused
    /// or broke the handshake (see [`TlsError`]). Asking again gets the same answer: machines
    /// do not retry it. (A connection that merely closes mid-handshake is
    /// [`Closed`](TransportError::Closed).)
    #[error("TLS: {0}")]
    Tls(TlsError),
}

impl TransportError {
    /// Every kind (each redirect and TLS error among them), for tests and fuzzers that pick one.
    pub const ALL: [TransportError; 22] = [
        TransportError::ConnectTimeout,
        TransportError::ConnectRefused,
        TransportError::ReadTimeout,
        TransportError::Reset,
        TransportError::Closed,
        TransportError::Protocol,
        TransportError::Other,
        TransportError::Redirect(RedirectError::MissingLocation),
        TransportError::Redirect(RedirectError::InvalidLocation),
        TransportError::Redirect(RedirectError::UnsupportedScheme),
        TransportError::Redirect(RedirectError::NotAbsolute),
        TransportError::Redirect(RedirectError::Loop),
        TransportError::Redirect(RedirectError::TooManyHops),
        TransportError::Tls(TlsError::UnknownIssuer),
        TransportError::Tls(TlsError::NotValidForName),
        TransportError::Tls(TlsError::Expired),
        TransportError::Tls(TlsError::NotYetValid),
        TransportError::Tls(TlsError::BadCertificate),
        TransportError::Tls(TlsError::Refused),
        TransportError::Tls(TlsError::Protocol),
        TransportError::Tls(TlsError::Record),
        TransportError::Tls(TlsError::Other),
    ];

    /// Whether the failure happened before a connection was established (the request never
    /// reached the server).
    pub const fn is_connect(self) -> bool {
        matches!(self, TransportError::ConnectTimeout | TransportError::ConnectRefused)
    }

    /// Whether the failure is a redirect that could not be followed: an answer, not bad luck
    /// on the network, so trying again gets it again.
    pub const fn is_redirect(self) -> bool {
        matches!(self, TransportError::Redirect(_))
    }

    /// Whether TLS failed ([`TransportError::Tls`]).
    pub const fn is_tls(self) -> bool {
        matches!(self, TransportError::Tls(_))
    }

    /// Whether trying again gets the same failure: a redirect that cannot be followed, or a
    /// TLS handshake that failed (the same certificate comes back) — not a damaged record
    /// after it ([`TlsError::Record`]). Machines retry every other kind and never these.
    pub const fn is_permanent(self) -> bool {
        self.is_redirect() || (self.is_tls() && !matches!(self, TransportError::Tls(TlsError::Record)))
    }
}

/// Why a machine refused a [`Completion`]: it does not fit the machine's state.
///
/// This is a driver bug (or a fuzzer), never a server's fault; the machine's state is unchanged.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum InputError {
    /// The machine is not waiting for a completion with this id.
    #[error("no request {0} is outstanding")]
    UnexpectedCompletion(RequestId),
    /// The machine has already finished.
    #[error("the machine has already finished")]
    Finished,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn all_holds_every_kind_once() {
        let redirects = TransportError::ALL.iter().filter(|e| e.is_redirect()).count();
        assert_eq!(redirects, RedirectError::ALL.len());
        let tls = TransportError::ALL.iter().filter(|e| e.is_tls()).count();
        assert_eq!(tls, TlsError::ALL.len());
        let permanent = TransportError::ALL.iter().filter(|e| e.is_permanent()).count();
        // Every redirect and TLS kind but a damaged record.
        assert_eq!(permanent, redirects + tls - 1);
        assert!(!TransportError::Tls(TlsError::Record).is_permanent());
        let distinct: std::collections::HashSet<_> = TransportError::ALL.iter().collect();
        assert_eq!(distinct.len(), TransportError::ALL.len());
        assert_eq!(
            TransportError::Redirect(RedirectError::Loop).to_string(),
            "redirect not followed: a redirect loop: the Location was already requested with the same method"
        );
        assert_eq!(
            TransportError::Tls(TlsError::UnknownIssuer).to_string(),
            "TLS: the server's certificate is not signed by a trusted CA"
        );
    }

    #[test]
    fn completion_bodies_copy_the_head_and_share_the_bytes() {
        let response = http::Response::builder()
            .status(207)
            .header("x-a", "1")
            .body(Bytes::from_static(b"{}"))
            .unwrap_or_default();
        let head: http::Response<()> = CompletionBody::from_response(&response);
        assert_eq!((head.status(), head.headers()["x-a"].as_bytes()), (http::StatusCode::MULTI_STATUS, &b"1"[..]));
        let whole: http::Response<Bytes> = CompletionBody::from_response(&response);
        assert_eq!(whole.body().as_ptr(), response.body().as_ptr(), "shared, not copied");
        assert_eq!(whole.status(), response.status());
    }
}
