//! The connector under [`HyperTransport`](crate::HyperTransport): TCP, then TLS for `https://`
//! (the [`Session`] the io_uring driver drives too, here over tokio's socket: [`TlsStream`]),
//! all of it within the connect timeout.

use std::error::Error;
use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::{Arc, OnceLock};
use std::task::{Context, Poll, ready};
use std::time::Duration;

use http::Uri;
use hyper_util::client::legacy::connect::{Connected, Connection, HttpConnector};
use hyper_util::rt::TokioIo;
use stowage_proto::TransportError;
use stowage_proto::tls::TlsError;
use stowage_tls::{Session, TlsConfig};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, ReadBuf};
use tokio::net::TcpStream;
use tower_service::Service;

type BoxError = Box<dyn Error + Send + Sync>;

/// `http://` over plain TCP, `https://` through a [`Session`] (ALPN `http/1.1`, the server name
/// from the URI's host); the TCP connect and the TLS handshake together within one timeout,
/// whose expiry is an `io::ErrorKind::TimedOut` (so a server that stalls mid-handshake is a
/// connect timeout, not a hang).
#[derive(Clone, Debug)]
pub(crate) struct Connector {
    http: HttpConnector,
    tls: TlsConfig,
    timeout: Duration,
}

impl Connector {
    pub(crate) fn new(timeout: Duration, tls: &TlsConfig) -> Self {
        let mut http = HttpConnector::new();
        http.set_connect_timeout(Some(timeout));
        http.set_nodelay(true);
        http.enforce_http(false);
        Connector { http, tls: tls.clone(), timeout }
    }
}

impl Service<Uri> for Connector {
    type Response = TokioIo<Stream>;
    type Error = BoxError;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, BoxError>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), BoxError>> {
        self.http.poll_ready(cx).map_err(Into::into)
    }

    fn call(&mut self, uri: Uri) -> Self::Future {
        let https = uri.scheme() == Some(&http::uri::Scheme::HTTPS);
        let host = uri.host().unwrap_or_default().to_owned();
        let connecting = self.http.call(uri);
        let (tls, timeout) = (self.tls.clone(), self.timeout);
        Box::pin(async move {
            let connect = async move {
                let tcp = connecting.await?.into_inner();
                if !https {
                    return Ok::<_, BoxError>(Stream::Plain(tcp));
                }
                let session = Session::new(&tls, &host).map_err(failure)?;
                Ok(Stream::Tls(Box::new(TlsStream::handshake(tcp, session).await?)))
            };
            match tokio::time::timeout(timeout, connect).await {
                Ok(connected) => connected.map(TokioIo::new),
                Err(_) => Err(io::Error::new(io::ErrorKind::TimedOut, "connect (TCP and TLS) timed out").into()),
            }
        })
    }
}

/// A connection: plain TCP, or TLS over it.
#[derive(Debug)]
pub(crate) enum Stream {
    Plain(TcpStream),
    Tls(Box<TlsStream>),
}

impl Connection for Stream {
    fn connected(&self) -> Connected {
        match self {
            Stream::Plain(tcp) => tcp.connected(),
            Stream::Tls(tls) => tls.tcp.connected().extra(tls.fault.clone()),
        }
    }
}

impl AsyncRead for Stream {
    fn poll_read(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Stream::Plain(tcp) => Pin::new(tcp).poll_read(cx, buf),
            Stream::Tls(tls) => Pin::new(&mut **tls).poll_read(cx, buf),
        }
    }
}

impl AsyncWrite for Stream {
    fn poll_write(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            Stream::Plain(tcp) => Pin::new(tcp).poll_write(cx, buf),
            Stream::Tls(tls) => Pin::new(&mut **tls).poll_write(cx, buf),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Stream::Plain(tcp) => Pin::new(tcp).poll_flush(cx),
            Stream::Tls(tls) => Pin::new(&mut **tls).poll_flush(cx),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Stream::Plain(tcp) => Pin::new(tcp).poll_shutdown(cx),
            Stream::Tls(tls) => Pin::new(&mut **tls).poll_shutdown(cx),
        }
    }
}

/// A TLS [`Session`] over tokio's socket: ciphertext received into the session's buffer, the
/// plaintext read from it straight into hyper's, each byte copied once between them (as the
/// io_uring driver does into its slots).
///
/// A write is taken whole (encrypted into the session's bytes to send) once those of the last
/// one are all sent. A failure of the session is recorded in `fault` (see [`TlsFault`]) and
/// given to hyper as an `io::Error` holding its [`TlsError`].
#[derive(Debug)]
pub(crate) struct TlsStream {
    tcp: TcpStream,
    session: Session,
    fault: TlsFault,
}

impl TlsStream {
    /// The handshake of `session` over `tcp`.
    async fn handshake(mut tcp: TcpStream, mut session: Session) -> io::Result<Self> {
        loop {
            session.process(None).map_err(failure)?;
            while !session.outgoing().is_empty() {
                let n = tcp.write(session.outgoing()).await?;
                session.sent(n);
            }
            if session.handshaken() {
                return Ok(TlsStream { tcp, session, fault: TlsFault::default() });
            }
            let n = tcp.read(session.recv_buffer()).await?;
            if n == 0 {
                return Err(io::Error::new(io::ErrorKind::UnexpectedEof, "the server closed the TLS handshake"));
            }
            session.received(n);
        }
    }

    /// `error` recorded, as an `io::Error`.
    fn fail(&self, error: TransportError) -> io::Error {
        if let TransportError::Tls(kind) = error {
            let _ = self.fault.0.set(kind);
        }
        failure(error)
    }

    /// Sends what the session has to send; ready once all of it is sent.
    fn poll_send(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        while !self.session.outgoing().is_empty() {
            let n = ready!(Pin::new(&mut self.tcp).poll_write(cx, self.session.outgoing()))?;
            if n == 0 {
                return Poll::Ready(Err(io::ErrorKind::WriteZero.into()));
            }
            self.session.sent(n);
        }
        Poll::Ready(Ok(()))
    }
}

impl AsyncRead for TlsStream {
    fn poll_read(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        loop {
            // hyper's room is not initialized: zeroed here as far as it can be filled, no further.
            let room = buf.remaining().min(this.session.readable());
            let n = this.session.read(buf.initialize_unfilled_to(room)).map_err(|error| this.fail(error))?;
            if n > 0 {
                buf.advance(n);
                return Poll::Ready(Ok(()));
            }
            if this.session.closed() {
                if this.session.cut_short() {
                    // What rustls's own streams say: the end may not be the end.
                    let eof = io::Error::new(io::ErrorKind::UnexpectedEof, "TLS closed without close_notify");
                    return Poll::Ready(Err(eof));
                }
                return Poll::Ready(Ok(()));
            }
            // A key update's answer, if the last records asked for one; not waited for.
            if let Poll::Ready(Err(error)) = this.poll_send(cx) {
                return Poll::Ready(Err(error));
            }
            let mut room = ReadBuf::new(this.session.recv_buffer());
            ready!(Pin::new(&mut this.tcp).poll_read(cx, &mut room))?;
            let received = room.filled().len();
            this.session.received(received);
            this.session.process(None).map_err(|error| this.fail(error))?;
        }
    }
}

impl AsyncWrite for TlsStream {
    fn poll_write(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        ready!(this.poll_send(cx))?;
        if this.session.closed() {
            // The server ended the connection: what is written now would reach no one.
            return Poll::Ready(Err(io::Error::new(io::ErrorKind::BrokenPipe, "the server closed the TLS connection")));
        }
        this.session.process(Some(buf)).map_err(|error| this.fail(error))?;
        // Sent as far as the socket takes it now; the rest before the next write or flush.
        if let Poll::Ready(Err(error)) = this.poll_send(cx) {
            return Poll::Ready(Err(error));
        }
        Poll::Ready(Ok(buf.len()))
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        ready!(this.poll_send(cx))?;
        Pin::new(&mut this.tcp).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        ready!(this.poll_send(cx))?;
        Pin::new(&mut this.tcp).poll_shutdown(cx)
    }
}

/// A session's failure as an `io::Error` (a TLS one holds its [`TlsError`], for
/// [`crate::classify`] to find).
fn failure(error: TransportError) -> io::Error {
    match error {
        TransportError::Tls(kind) => io::Error::new(io::ErrorKind::InvalidData, kind),
        other => io::Error::other(other),
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
}
