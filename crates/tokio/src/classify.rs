//! Maps hyper's errors onto [`TransportError`], the only failure vocabulary machines know.
//!
//! hyper reports a failure as a chain of errors (hyper-util's client error, then hyper's, then
//! the `io::Error` that caused it, and for TLS the [`TlsError`] inside an `io::Error`); the kind
//! is found by walking that chain. Our own read
//! timeout never gets here: the transport reports it directly.

use std::error::Error;
use std::io;

use hyper_util::client::legacy;
use stowage_proto::TransportError;
use stowage_proto::tls::TlsError;

/// The kind of a failed request (no response head).
pub(crate) fn request_error(error: &legacy::Error) -> TransportError {
    if let Some(tls) = tls_error(error) {
        return tls;
    }
    if error.is_connect() { connect_error(error) } else { stream_error(error) }
}

/// A TLS failure anywhere in the chain as [`TransportError::Tls`]: the connector's
/// [`TlsStream`](crate::connector::TlsStream) puts its kind there (a refused certificate, an
/// alert, not TLS, a damaged record — the session tells the handshake's from the later ones).
fn tls_error(error: &(dyn Error + 'static)) -> Option<TransportError> {
    causes(error).find_map(|cause| cause.downcast_ref::<TlsError>()).copied().map(TransportError::Tls)
}

/// The kind of a failure to connect: the request never reached the server (a TLS handshake
/// the server closed mid-way is `Closed`).
fn connect_error(error: &(dyn Error + 'static)) -> TransportError {
    let kinds = causes(error).filter_map(|cause| cause.downcast_ref::<io::Error>()).map(io::Error::kind);
    for kind in kinds {
        match kind {
            io::ErrorKind::TimedOut => return TransportError::ConnectTimeout,
            io::ErrorKind::ConnectionRefused
            | io::ErrorKind::HostUnreachable
            | io::ErrorKind::NetworkUnreachable
            | io::ErrorKind::AddrNotAvailable => return TransportError::ConnectRefused,
            io::ErrorKind::UnexpectedEof => return TransportError::Closed,
            io::ErrorKind::ConnectionReset | io::ErrorKind::ConnectionAborted => return TransportError::Reset,
            _ => {}
        }
    }
    TransportError::Other
}

/// The kind of a failure on an established connection: while sending the request, reading the
/// response head, or reading a body frame.
pub(crate) fn stream_error(error: &(dyn Error + 'static)) -> TransportError {
    if let Some(tls) = tls_error(error) {
        return tls;
    }
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

/// `error` and its causes, outermost first. An `io::Error` wrapping another error is followed
/// into that error itself (its `source` would skip it: a TLS error hides there).
fn causes<'a>(error: &'a (dyn Error + 'static)) -> impl Iterator<Item = &'a (dyn Error + 'static)> {
    std::iter::successors(Some(error), |&cause| match cause.downcast_ref::<io::Error>() {
        Some(io) => io.get_ref().map(|inner| inner as &(dyn Error + 'static)),
        None => cause.source(),
    })
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
        let handshake_eof =
            Wrapper(io::Error::other(io::Error::new(io::ErrorKind::UnexpectedEof, "tls handshake eof")));
        assert_eq!(connect_error(&handshake_eof), TransportError::Closed);
    }

    #[test]
    fn tls_errors_inside_io_errors_are_tls() {
        let refused = TlsError::UnknownIssuer;
        let wrapped = Wrapper(io::Error::other(io::Error::new(io::ErrorKind::InvalidData, refused)));
        assert_eq!(tls_error(&wrapped), Some(TransportError::Tls(stowage_proto::tls::TlsError::UnknownIssuer)));
        assert_eq!(stream_error(&wrapped), TransportError::Tls(stowage_proto::tls::TlsError::UnknownIssuer));
    }
}
