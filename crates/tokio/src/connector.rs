//! The connector under [`HyperTransport`](crate::HyperTransport): TCP, then TLS for `https://`,
//! all of it within the connect timeout.

use std::error::Error;
use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use http::Uri;
use hyper_rustls::{HttpsConnector, MaybeHttpsStream};
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioIo;
use stowage_tls::TlsConfig;
use tokio::net::TcpStream;
use tower_service::Service;

type BoxError = Box<dyn Error + Send + Sync>;

/// `http://` over plain TCP, `https://` through rustls (hyper-rustls, ALPN `http/1.1`); the
/// TCP connect and the TLS handshake together within one timeout, whose expiry is an
/// `io::ErrorKind::TimedOut` (so a server that stalls mid-handshake is a connect timeout, not
/// a hang).
#[derive(Clone, Debug)]
pub(crate) struct Connector {
    inner: HttpsConnector<HttpConnector>,
    timeout: Duration,
}

impl Connector {
    pub(crate) fn new(timeout: Duration, tls: &TlsConfig) -> Self {
        let mut http = HttpConnector::new();
        http.set_connect_timeout(Some(timeout));
        http.set_nodelay(true);
        http.enforce_http(false);
        // `https://` and `http://`, the server name from the URI's host; the configuration's
        // ALPN (`http/1.1`) as it is. Shared, not copied.
        let inner = HttpsConnector::from((http, Arc::clone(tls.rustls())));
        Connector { inner, timeout }
    }
}

impl Service<Uri> for Connector {
    type Response = MaybeHttpsStream<TokioIo<TcpStream>>;
    type Error = BoxError;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, BoxError>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), BoxError>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, uri: Uri) -> Self::Future {
        let connecting = self.inner.call(uri);
        let timeout = self.timeout;
        Box::pin(async move {
            match tokio::time::timeout(timeout, connecting).await {
                Ok(connected) => connected,
                Err(_) => Err(io::Error::new(io::ErrorKind::TimedOut, "connect (TCP and TLS) timed out").into()),
            }
        })
    }
}
