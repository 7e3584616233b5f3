//! The connector under [`HyperTransport`](crate::HyperTransport): TCP, then TLS for `https://`,
//! all of it within the connect timeout.

use std::error::Error;
use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::{Arc, OnceLock};
use std::task::{Context, Poll};
use std::time::Duration;

use http::Uri;
use hyper::rt::{Read, ReadBufCursor, Write};
use hyper_rustls::{HttpsConnector, MaybeHttpsStream};
use hyper_util::client::legacy::connect::{Connected, Connection, HttpConnector};
use hyper_util::rt::TokioIo;
use stowage_proto::TransportError;
use stowage_proto::tls::TlsError;
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
    type Response = Watched<MaybeHttpsStream<TokioIo<TcpStream>>>;
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
                Ok(connected) => connected.map(|inner| Watched { inner, fault: TlsFault::default() }),
                Err(_) => Err(io::Error::new(io::ErrorKind::TimedOut, "connect (TCP and TLS) timed out").into()),
            }
        })
    }
}

/// The TLS error that broke a connection after its handshake, for the responses on it to say
/// (in their extensions): hyper hands a body only "connection error", the IO error that caused
/// it going to the connection's task alone.
#[derive(Clone, Debug, Default)]
pub(crate) struct TlsFault(Arc<OnceLock<TlsError>>);

impl TlsFault {
    /// `error`, the kind hyper's report of a body's failure gave, or what broke the TLS of the
    /// body's connection (`fault`, from the response's extensions) if the connector saw it.
    pub(crate) fn explain(fault: Option<&TlsFault>, error: TransportError) -> TransportError {
        fault.and_then(|fault| fault.0.get().copied()).map_or(error, TransportError::Tls)
    }

    fn record(&self, error: &io::Error) {
        if let Some(kind) = crate::classify::established_tls_error(error) {
            let _ = self.0.set(kind);
        }
    }
}

/// A connection's stream, every operation watched for the TLS error that ends it ([`TlsFault`]).
#[derive(Debug)]
pub(crate) struct Watched<S> {
    inner: S,
    fault: TlsFault,
}

impl<S: Connection> Connection for Watched<S> {
    fn connected(&self) -> Connected {
        self.inner.connected().extra(self.fault.clone())
    }
}

impl<S> Watched<S> {
    /// `polled`, its error (if any) recorded first.
    fn watch<T>(&self, polled: Poll<io::Result<T>>) -> Poll<io::Result<T>> {
        if let Poll::Ready(Err(error)) = &polled {
            self.fault.record(error);
        }
        polled
    }
}

// Every operation is watched: rustls's stream may meet the record it cannot read in a flush
// (it reads what has arrived before it writes) as well as in a read.
impl<S: Read + Unpin> Read for Watched<S> {
    fn poll_read(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: ReadBufCursor<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let polled = Pin::new(&mut this.inner).poll_read(cx, buf);
        this.watch(polled)
    }
}

impl<S: Write + Unpin> Write for Watched<S> {
    fn poll_write(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let polled = Pin::new(&mut this.inner).poll_write(cx, buf);
        this.watch(polled)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let polled = Pin::new(&mut this.inner).poll_flush(cx);
        this.watch(polled)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let polled = Pin::new(&mut this.inner).poll_shutdown(cx);
        this.watch(polled)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let polled = Pin::new(&mut this.inner).poll_write_vectored(cx, bufs);
        this.watch(polled)
    }
}
