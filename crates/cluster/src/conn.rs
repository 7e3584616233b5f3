//! One client connection: HTTP/1.1 with keep-alive, graceful shutdown, and resets on demand.

use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Poll};

use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio::sync::watch;

use crate::node::Role;
use crate::router;
use crate::state::State;

/// Serves HTTP/1.1 on `stream` as `role` until the client leaves, a fault resets the
/// connection, or `shutdown` turns true (then the request in flight, if any, is finished first).
pub(crate) async fn serve(stream: TcpStream, state: Arc<State>, role: Role, mut shutdown: watch::Receiver<bool>) {
    if let Err(error) = stream.set_nodelay(true) {
        tracing::debug!(%error, "cannot set TCP_NODELAY");
    }
    let reset = ResetSwitch::default();
    let io = TokioIo::new(ResettableStream { stream, reset: reset.clone() });
    let service = service_fn(move |req| {
        let (state, reset) = (Arc::clone(&state), reset.clone());
        async move { router::handle(&state, role, &reset, req).await }
    });
    let conn = http1::Builder::new().keep_alive(true).serve_connection(io, service);
    let mut conn = std::pin::pin!(conn);
    let mut draining = false;
    let result = loop {
        tokio::select! {
            result = conn.as_mut() => break result,
            () = stopped(&mut shutdown), if !draining => {
                draining = true;
                conn.as_mut().graceful_shutdown();
            }
        }
    };
    if let Err(error) = result {
        tracing::debug!(%error, "connection ended with an error");
    }
}

/// Resolves once the shutdown signal is true, or its sender is gone.
pub(crate) async fn stopped(signal: &mut watch::Receiver<bool>) {
    // The `Ref` the wait returns must not live across an await point: drop it here.
    let _ = signal.wait_for(|stop| *stop).await.map(drop);
}

/// Set by a `reset` fault: close the connection with an RST instead of a FIN.
#[derive(Clone, Debug, Default)]
pub(crate) struct ResetSwitch(Arc<AtomicBool>);

impl ResetSwitch {
    /// Asks for a reset when the connection closes.
    pub(crate) fn trip(&self) {
        self.0.store(true, Ordering::Relaxed);
    }

    fn tripped(&self) -> bool {
        self.0.load(Ordering::Relaxed)
    }
}

/// The error a request handler returns to make hyper drop the connection unanswered.
#[derive(Debug, thiserror::Error)]
#[error("injected fault: connection reset")]
pub(crate) struct ConnectionReset;

/// A TCP stream that, when dropped after its [`ResetSwitch`] tripped, sets `SO_LINGER` to 0
/// so that closing it sends an RST: the client sees "connection reset", not a clean close.
struct ResettableStream {
    stream: TcpStream,
    reset: ResetSwitch,
}

impl Drop for ResettableStream {
    fn drop(&mut self) {
        if self.reset.tripped()
            && let Err(error) = self.stream.set_zero_linger()
        {
            tracing::debug!(%error, "cannot set SO_LINGER 0; the connection closes cleanly");
        }
    }
}

impl AsyncRead for ResettableStream {
    fn poll_read(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_read(cx, buf)
    }
}

impl AsyncWrite for ResettableStream {
    fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.stream).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.stream).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.stream.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_shutdown(cx)
    }
}
