//! The IO seam: one request on the wire, with timeouts.

use bytes::Bytes;
use http::Uri;
use stowage_proto::TransportError;
use stowage_proto::redirect::{DEFAULT_MAX_HOPS, RedirectPolicy};

/// The policy of a transport that names none: [`DEFAULT_MAX_HOPS`], no authority trusted.
static DEFAULT_REDIRECTS: RedirectPolicy = RedirectPolicy { max_hops: DEFAULT_MAX_HOPS, trusted: Vec::new() };

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
/// Any HTTP status is a response, not an error: `send` follows no redirect. The driver does,
/// one request at a time ([`send_following`](crate::send_following), which [`drive`](crate::drive)
/// uses), asking the transport where an origin-form request went ([`locate`](Transport::locate))
/// and which redirects to follow ([`redirect_policy`](Transport::redirect_policy)). A wrapper
/// of another transport forwards both.
pub trait Transport: Clone + Send + Sync + 'static {
    /// Sends `request` and collects its response.
    ///
    /// An origin-form URI (`/v1/objects/b/o?provider=aws`) goes to the endpoint the transport
    /// was configured with; an absolute URI goes where it points.
    fn send(
        &self,
        request: http::Request<Bytes>,
    ) -> impl Future<Output = Result<http::Response<Bytes>, TransportError>> + Send;

    /// The absolute URI a request for `uri` is sent to: what a redirect's `Location` is
    /// resolved against.
    ///
    /// By default an absolute `uri` is itself and an origin-form one has none (a transport
    /// without an endpoint), so a redirect of it fails with
    /// [`RedirectError::NotAbsolute`](stowage_proto::redirect::RedirectError::NotAbsolute).
    fn locate(&self, uri: &Uri) -> Option<Uri> {
        uri.scheme().is_some().then(|| uri.clone())
    }

    /// Which redirects to follow, and where credentials may go. By default
    /// [`RedirectPolicy::default`]: at most [`DEFAULT_MAX_HOPS`], credentials only to the first
    /// request's origin.
    fn redirect_policy(&self) -> &RedirectPolicy {
        &DEFAULT_REDIRECTS
    }
}
