//! Maps hyper's errors onto [`TransportError`], the only failure vocabulary machines know.
//!
//! hyper reports a failure as a chain of errors (hyper-util's client error, then hyper's, then
//! the `io::Error` that caused it); the kind is found by walking that chain. Our own read
//! timeout never gets here: the transport reports it directly.

use std::error::Error;
use std::io;

use hyper_util::client::legacy;
use stowage_proto::TransportError;

/// The kind of a failed request (no response head).
pub(crate) fn request_error(error: &legacy::Error) -> TransportError {
    if error.is_connect() { connect_error(error) } else { stream_error(error) }
}

/// The kind of a failure to connect: the request never reached the server.
fn connect_error(error: &(dyn Error + 'static)) -> TransportError {
    let kind = causes(error).find_map(|cause| cause.downcast_ref::<io::Error>()).map(io::Error::kind);
    match kind {
        Some(io::ErrorKind::TimedOut) => TransportError::ConnectTimeout,
        Some(
            io::ErrorKind::ConnectionRefused
            | io::ErrorKind::HostUnreachable
            | io::ErrorKind::NetworkUnreachable
            | io::ErrorKind::AddrNotAvailable,
        ) => TransportError::ConnectRefused,
        _ => TransportError::Other,
    }
}

/// The kind of a failure on an established connection: while sending the request, reading the
/// response head, or reading a body frame.
pub(crate) fn stream_error(error: &(dyn Error + 'static)) -> TransportError {
    for cause in causes(error) {
        if let Some(error) = cause.downcast_ref::<io::Error>() {
            match error.kind() {
                io::ErrorKind::ConnectionReset | io::ErrorKind::ConnectionAborted => return TransportError::Reset,
                io::ErrorKind::UnexpectedEof | io::ErrorKind::BrokenPipe => return TransportError::Closed,
                _ => {}
            }
        }
        if let Some(error) = cause.downcast_ref::<hyper::Error>() {
            if error.is_incomplete_message() {
                return TransportError::Closed;
            }
            if error.is_parse() || error.is_parse_status() || error.is_parse_too_large() {
                return TransportError::Protocol;
            }
        }
    }
    TransportError::Other
}

/// `error` and its sources, outermost first.
fn causes<'a>(error: &'a (dyn Error + 'static)) -> impl Iterator<Item = &'a (dyn Error + 'static)> {
    std::iter::successors(Some(error), |&cause| cause.source())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, thiserror::Error)]
    #[error("wrapper")]
    struct Wrapper(#[source] io::Error);

    #[test]
    fn io_kinds_deep_in_the_chain_are_found() {
        let reset = Wrapper(io::Error::from(io::ErrorKind::ConnectionReset));
        assert_eq!(stream_error(&reset), TransportError::Reset);
        let eof = Wrapper(io::Error::from(io::ErrorKind::UnexpectedEof));
        assert_eq!(stream_error(&eof), TransportError::Closed);
        let other = Wrapper(io::Error::from(io::ErrorKind::PermissionDenied));
        assert_eq!(stream_error(&other), TransportError::Other);
    }

    #[test]
    fn connect_failures_by_kind() {
        let timed_out = Wrapper(io::Error::from(io::ErrorKind::TimedOut));
        assert_eq!(connect_error(&timed_out), TransportError::ConnectTimeout);
        for kind in [io::ErrorKind::ConnectionRefused, io::ErrorKind::HostUnreachable] {
            assert_eq!(connect_error(&Wrapper(io::Error::from(kind))), TransportError::ConnectRefused);
        }
        let dns = Wrapper(io::Error::other("no such host"));
        assert_eq!(connect_error(&dns), TransportError::Other);
    }
}
