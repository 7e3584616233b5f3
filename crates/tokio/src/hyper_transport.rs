//! The production [`Transport`]: hyper 1.x over hyper-util's pooled HTTP/1.1 client.

use std::pin::pin;
use std::sync::Arc;

use bytes::{Bytes, BytesMut};
use http::uri::{Authority, PathAndQuery, Scheme};
use http::{Request, Response, Uri};
use http_body_util::{BodyExt, Full};
use hyper::body::{Body, Incoming};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::capture_connection;
use hyper_util::rt::{TokioExecutor, TokioTimer};
use stowage_proto::TransportError;
use stowage_tls::TlsConfig;
use tokio::time::timeout;

use stowage_proto::DEFAULT_MAX_BODY;
use stowage_proto::redirect::RedirectPolicy;

use crate::connector::{Connector, TlsFault};
use crate::{EndpointError, Timeouts, Transport, classify};

/// Sends requests over pooled keep-alive HTTP/1.1 connections to one endpoint.
///
/// - Connections come from hyper-util's pool (`TCP_NODELAY` on); connecting — TCP, and for
///   `https://` the TLS handshake — is bounded by [`Timeouts::connect`].
/// - `https://` (the endpoint's, or an absolute URI's, a redirect's) goes through a
///   [`stowage_tls::Session`] with the transport's [`TlsConfig`]
///   ([`with_tls`](HyperTransport::with_tls); by default the built-in `webpki-roots`), ALPN
///   `http/1.1`.
/// - Once the request has a connection, [`Timeouts::read`] bounds the wait for the response
///   head, and then the wait for each body frame.
/// - The body is collected into one [`Bytes`]. A body longer than
///   [`max_body`](HyperTransport::with_max_body) (or announcing so in its `Content-Length`) is
///   a [`TransportError::Protocol`], detected without reading it all.
/// - Origin-form request URIs (`/v1/objects/b/o?provider=aws`) are joined to the endpoint
///   (after its path, if it has one); absolute URIs are sent as they are.
/// - A redirect is a response like any other to [`send`](Transport::send); the driver follows
///   it with the transport's [`RedirectPolicy`] ([`with_redirects`](HyperTransport::with_redirects)).
///
/// Failures are mapped onto [`TransportError`]: connect timeout → `ConnectTimeout`, refused or
/// unreachable → `ConnectRefused`, our read timeout → `ReadTimeout`, a reset → `Reset`, a
/// response (or a TLS handshake) cut short → `Closed`, something that is not HTTP (or over the
/// body cap) → `Protocol`, a refused certificate or a failed handshake → `Tls`, anything else →
/// `Other`.
///
/// Cloning is cheap and clones share the connection pool.
#[derive(Clone, Debug)]
pub struct HyperTransport {
    client: Client<Connector, Full<Bytes>>,
    endpoint: Arc<Endpoint>,
    timeouts: Timeouts,
    max_body: usize,
    redirects: Arc<RedirectPolicy>,
}

impl HyperTransport {
    /// A transport to `endpoint` (`http[s]://host[:port][/path]`) with `timeouts`, a body cap
    /// of [`DEFAULT_MAX_BODY`] and the default [`TlsConfig`] (the built-in roots). Building
    /// needs no runtime; sending needs a tokio runtime with IO and time enabled.
    pub fn new(endpoint: &str, timeouts: Timeouts) -> Result<Self, EndpointError> {
        let endpoint = Endpoint::parse(endpoint)?;
        let client = client(timeouts, &TlsConfig::default());
        let redirects = Arc::default();
        Ok(HyperTransport { client, endpoint: Arc::new(endpoint), timeouts, max_body: DEFAULT_MAX_BODY, redirects })
    }

    /// Speaks TLS (to every `https://` URI) with `tls`: its roots, or any certificate
    /// ([`TlsOptions::insecure`](stowage_tls::TlsOptions::insecure)). The connection pool
    /// starts anew (call it before sending).
    #[must_use]
    pub fn with_tls(mut self, tls: &TlsConfig) -> Self {
        self.client = client(self.timeouts, tls);
        self
    }

    /// Caps response bodies at `max_body` bytes.
    #[must_use]
    pub fn with_max_body(mut self, max_body: usize) -> Self {
        self.max_body = max_body;
        self
    }

    /// Follows redirects as `policy` says (default [`RedirectPolicy::default`]: at most
    /// [`DEFAULT_MAX_HOPS`](stowage_proto::redirect::DEFAULT_MAX_HOPS), credentials only to
    /// this endpoint).
    #[must_use]
    pub fn with_redirects(mut self, policy: RedirectPolicy) -> Self {
        self.redirects = Arc::new(policy);
        self
    }

    /// The timeouts in effect.
    pub fn timeouts(&self) -> Timeouts {
        self.timeouts
    }

    /// The body cap in effect.
    pub fn max_body(&self) -> usize {
        self.max_body
    }

    async fn exchange(&self, request: Request<Bytes>) -> Result<Response<Bytes>, TransportError> {
        let response = self.open(request).await?;
        self.collect(response).await
    }

    /// Sends `request` and returns the response head with its body still to be read (the
    /// caller reads it, each frame within [`Timeouts::read`]).
    pub(crate) async fn open(&self, request: Request<Bytes>) -> Result<Response<Incoming>, TransportError> {
        let uri = self.endpoint.resolve(request.uri())?;
        let mut request = request.map(Full::new);
        *request.uri_mut() = uri;
        let mut connection = capture_connection(&mut request);
        let mut response = pin!(self.client.request(request));
        // Connecting is bounded by the connector; the read timeout starts once the request has
        // a connection (fresh or pooled). A failure to connect ends the first branch.
        let before_connected = tokio::select! {
            biased;
            result = &mut response => Some(result),
            _ = connection.wait_for_connection_metadata() => None,
        };
        let result = match before_connected {
            Some(result) => result,
            None => timeout(self.timeouts.read, response).await.map_err(|_| TransportError::ReadTimeout)?,
        };
        result.map_err(|error| classify::request_error(&error))
    }

    /// Reads the body, each frame within the read timeout, at most `max_body` bytes.
    async fn collect(&self, response: Response<Incoming>) -> Result<Response<Bytes>, TransportError> {
        let (head, mut body) = response.into_parts();
        let fault = head.extensions.get::<TlsFault>().cloned();
        let limit = self.max_body;
        let announced = body.size_hint().lower();
        if announced > limit as u64 {
            return Err(TransportError::Protocol);
        }
        // `announced` is at most `limit`, a `usize`.
        let mut collected = BytesMut::with_capacity(usize::try_from(announced).unwrap_or(limit));
        while let Some(frame) =
            timeout(self.timeouts.read, body.frame()).await.map_err(|_| TransportError::ReadTimeout)?
        {
            // What broke the connection, where hyper says only that it broke.
            let frame = frame.map_err(|error| TlsFault::explain(fault.as_ref(), classify::stream_error(&error)))?;
            let Ok(data) = frame.into_data() else { continue };
            if data.len() > limit - collected.len() {
                return Err(TransportError::Protocol);
            }
            collected.extend_from_slice(&data);
        }
        Ok(Response::from_parts(head, collected.freeze()))
    }
}

impl Transport for HyperTransport {
    fn send(&self, request: Request<Bytes>) -> impl Future<Output = Result<Response<Bytes>, TransportError>> + Send {
        self.exchange(request)
    }

    fn locate(&self, uri: &Uri) -> Option<Uri> {
        self.endpoint.resolve(uri).ok()
    }

    fn redirect_policy(&self) -> &RedirectPolicy {
        &self.redirects
    }
}

/// The pooled client over [`Connector`].
fn client(timeouts: Timeouts, tls: &TlsConfig) -> Client<Connector, Full<Bytes>> {
    Client::builder(TokioExecutor::new()).pool_timer(TokioTimer::new()).build(Connector::new(timeouts.connect, tls))
}

/// Where origin-form requests go: `scheme://authority` and an optional path prefix.
#[derive(Debug)]
struct Endpoint {
    scheme: Scheme,
    authority: Authority,
    /// The endpoint's path without its trailing `/` (empty for `http://host:port/`).
    prefix: String,
}

impl Endpoint {
    fn parse(endpoint: &str) -> Result<Self, EndpointError> {
        let uri: Uri = endpoint
            .parse()
            .map_err(|source| EndpointError::InvalidEndpoint { endpoint: endpoint.to_owned(), source })?;
        let unsupported = || EndpointError::UnsupportedEndpoint { endpoint: endpoint.to_owned() };
        let parts = uri.into_parts();
        let (Some(scheme), Some(authority)) = (parts.scheme, parts.authority) else { return Err(unsupported()) };
        if (scheme != Scheme::HTTP && scheme != Scheme::HTTPS)
            || parts.path_and_query.as_ref().is_some_and(|pq| pq.query().is_some())
        {
            return Err(unsupported());
        }
        let prefix = parts.path_and_query.as_ref().map_or("", PathAndQuery::path).trim_end_matches('/').to_owned();
        Ok(Endpoint { scheme, authority, prefix })
    }

    /// The URI to send a request for `uri` to: absolute URIs as they are, anything else joined
    /// to the endpoint.
    fn resolve(&self, uri: &Uri) -> Result<Uri, TransportError> {
        if uri.scheme().is_some() {
            return Ok(uri.clone());
        }
        let path_and_query = uri.path_and_query().map_or("/", PathAndQuery::as_str);
        let separator = if path_and_query.starts_with('/') { "" } else { "/" };
        Uri::builder()
            .scheme(self.scheme.clone())
            .authority(self.authority.clone())
            .path_and_query(format!("{}{separator}{path_and_query}", self.prefix))
            .build()
            .map_err(|error| {
                tracing::debug!(%uri, %error, "cannot address the request");
                TransportError::Other
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn resolve(endpoint: &str, uri: &str) -> String {
        Endpoint::parse(endpoint).unwrap().resolve(&uri.parse().unwrap()).unwrap().to_string()
    }

    #[test]
    fn origin_form_joins_the_endpoint() {
        assert_eq!(resolve("http://h:1", "/v1/objects/b/o?provider=aws"), "http://h:1/v1/objects/b/o?provider=aws");
        assert_eq!(resolve("http://h:1/", "/v1/x"), "http://h:1/v1/x");
        assert_eq!(resolve("http://h:1/proxy/", "/v1/x?a=b"), "http://h:1/proxy/v1/x?a=b");
    }

    #[test]
    fn absolute_uris_are_kept() {
        assert_eq!(resolve("http://h:1/proxy", "http://other:2/v1/x"), "http://other:2/v1/x");
    }

    #[test]
    fn endpoints_must_be_http_or_https() {
        assert!(matches!(Endpoint::parse("h:1"), Err(EndpointError::UnsupportedEndpoint { .. })));
        assert_eq!(resolve("https://h:1/p", "/v1/x"), "https://h:1/p/v1/x");
        assert!(matches!(Endpoint::parse("ftp://h:1"), Err(EndpointError::UnsupportedEndpoint { .. })));
        assert!(matches!(Endpoint::parse("http://h:1/?q=1"), Err(EndpointError::UnsupportedEndpoint { .. })));
        assert!(matches!(Endpoint::parse("http://h :1"), Err(EndpointError::InvalidEndpoint { .. })));
        assert!(matches!(Endpoint::parse("/v1"), Err(EndpointError::UnsupportedEndpoint { .. })));
    }
}
