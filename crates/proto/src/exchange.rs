//! What HTTP machines emit ([`Transmit`]) and what they are fed back ([`Completion`]).

use bytes::Bytes;
use std::fmt;

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

/// What became of a [`Transmit`]: the response head, or a transport failure.
///
/// The body of a response is not part of a completion: machines decide on status and headers,
/// and the driver keeps (or streams) the bytes.
#[derive(Debug)]
pub struct Completion {
    /// The id of the [`Transmit`] this completes.
    pub id: RequestId,
    /// The response head, or why there was none.
    pub result: Result<http::Response<()>, TransportError>,
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
}

impl TransportError {
    /// Whether the failure happened before a connection was established (the request never
    /// reached the server).
    pub const fn is_connect(self) -> bool {
        matches!(self, TransportError::ConnectTimeout | TransportError::ConnectRefused)
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
