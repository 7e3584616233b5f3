//! Why a response could not be read.

use stowage_proto::TransportError;

use crate::chunked::MAX_CHUNK_LINE;
use crate::head::MAX_HEAD;

/// Why a response could not be read: the peer sent something that is not HTTP/1.1, broke a
/// limit, or closed the connection too early.
///
/// Every kind but [`Closed`](ResponseError::Closed) and [`Finished`](ResponseError::Finished)
/// is the peer's fault and becomes [`TransportError::Protocol`] for a machine (see the `From`
/// impl).
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ResponseError {
    /// The status line and headers did not end within [`MAX_HEAD`] bytes.
    #[error("the response head is longer than {MAX_HEAD} bytes")]
    HeadTooLong,
    /// The status line or a header is malformed, or there are more than
    /// [`MAX_HEADERS`](crate::MAX_HEADERS).
    #[error("malformed response head: {0}")]
    Head(httparse::Error),
    /// The status code is not one `http` represents (below 100).
    #[error("status code {0} is out of range")]
    Status(u16),
    /// A header name or value that `httparse` let through and `http` does not.
    #[error("a header name or value is not valid")]
    Header,
    /// Two `Content-Length` headers with different values.
    #[error("the Content-Length headers disagree")]
    ConflictingLengths,
    /// A `Content-Length` that is not a number.
    #[error("Content-Length is not a number")]
    BadLength,
    /// The body is (or says it will be) longer than the reader's cap.
    #[error("the body is longer than the cap of {cap} bytes")]
    BodyTooLarge {
        /// The cap, in bytes.
        cap: u64,
    },
    /// A chunk-size line of a chunked body is malformed.
    #[error("malformed chunk-size line")]
    ChunkSize,
    /// A chunk-size line did not end within [`MAX_CHUNK_LINE`] bytes.
    #[error("a chunk-size line is longer than {MAX_CHUNK_LINE} bytes")]
    ChunkLineTooLong,
    /// A chunk's data is not followed by CRLF.
    #[error("a chunk's data is not followed by CRLF")]
    ChunkEnd,
    /// A trailer line of a chunked body did not end within [`MAX_HEAD`] bytes.
    #[error("a trailer line is longer than {MAX_HEAD} bytes")]
    TrailerTooLong,
    /// The connection closed before the response was complete.
    #[error("the connection closed before the response was complete")]
    Closed,
    /// The reader was fed after it reported the response, or after an error: a caller's
    /// mistake, not the peer's.
    #[error("the response was already read to its end, or failed")]
    Finished,
}

impl From<ResponseError> for TransportError {
    fn from(error: ResponseError) -> Self {
        match error {
            ResponseError::Closed => TransportError::Closed,
            ResponseError::Finished => TransportError::Other,
            _ => TransportError::Protocol,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_peers_faults_are_protocol_errors() {
        assert_eq!(TransportError::from(ResponseError::Closed), TransportError::Closed);
        assert_eq!(TransportError::from(ResponseError::Finished), TransportError::Other);
        for error in [
            ResponseError::HeadTooLong,
            ResponseError::Head(httparse::Error::Status),
            ResponseError::Status(99),
            ResponseError::Header,
            ResponseError::ConflictingLengths,
            ResponseError::BadLength,
            ResponseError::BodyTooLarge { cap: 1 },
            ResponseError::ChunkSize,
            ResponseError::ChunkLineTooLong,
            ResponseError::ChunkEnd,
            ResponseError::TrailerTooLong,
        ] {
            assert_eq!(TransportError::from(error), TransportError::Protocol, "{error}");
        }
    }

    #[test]
    fn messages_name_the_limit() {
        assert_eq!(ResponseError::HeadTooLong.to_string(), "the response head is longer than 65536 bytes");
        assert_eq!(ResponseError::BodyTooLarge { cap: 4 }.to_string(), "the body is longer than the cap of 4 bytes");
    }
}
