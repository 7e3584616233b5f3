//! The IO seam: one request on the wire, with timeouts.

use bytes::Bytes;
use stowage_proto::TransportError;

/// Sends one request and returns the whole response, or why there was none.
///
/// This is the only place the driver touches the network, and the seam tests use to swap the
/// IO: wrap a transport to record, delay or fail requests. An implementation owns its
/// timeouts (a request never waits forever) and maps its failures onto [`TransportError`]:
/// the machines decide on that kind alone, so the mapping must be faithful — in particular
/// only a response that did not arrive in time after connecting is a
/// [`ReadTimeout`](TransportError::ReadTimeout), the one error that makes a cold GET wait for
/// a write lock.
///
/// Any HTTP status is a response, not an error.
pub trait Transport: Clone + Send + Sync + 'static {
    /// Sends `request` and collects its response.
    ///
    /// An origin-form URI (`/v1/objects/b/o?provider=aws`) goes to the endpoint the transport
    /// was configured with; an absolute URI goes where it points.
    fn send(
        &self,
        request: http::Request<Bytes>,
    ) -> impl Future<Output = Result<http::Response<Bytes>, TransportError>> + Send;
}
