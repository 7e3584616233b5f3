//! A transport wrapper that counts what the client sent (each hop of a redirect is a request)
//! and what failed.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use bytes::Bytes;
use stowage_proto::TransportError;
use stowage_proto::redirect::RedirectPolicy;
use stowage_tokio::Transport;

/// Requests sent and transport errors seen through a [`Counting`] transport.
#[derive(Debug, Default)]
pub(crate) struct Counts {
    requests: AtomicU64,
    errors: AtomicU64,
}

impl Counts {
    /// Requests sent so far.
    pub(crate) fn requests(&self) -> u64 {
        self.requests.load(Ordering::Relaxed)
    }

    /// Requests that failed below HTTP so far.
    pub(crate) fn errors(&self) -> u64 {
        self.errors.load(Ordering::Relaxed)
    }
}

/// Wraps a transport and counts every request and every transport error.
#[derive(Clone, Debug)]
pub(crate) struct Counting<T> {
    inner: T,
    counts: Arc<Counts>,
}

impl<T> Counting<T> {
    /// Wraps `inner`; read the counts through the returned handle.
    pub(crate) fn new(inner: T) -> (Self, Arc<Counts>) {
        let counts = Arc::new(Counts::default());
        (Counting { inner, counts: Arc::clone(&counts) }, counts)
    }
}

impl<T: Transport> Transport for Counting<T> {
    fn send(
        &self,
        request: http::Request<Bytes>,
    ) -> impl Future<Output = Result<http::Response<Bytes>, TransportError>> + Send {
        let inner = self.inner.clone();
        let counts = Arc::clone(&self.counts);
        async move {
            counts.requests.fetch_add(1, Ordering::Relaxed);
            let result = inner.send(request).await;
            if result.is_err() {
                counts.errors.fetch_add(1, Ordering::Relaxed);
            }
            result
        }
    }

    fn locate(&self, uri: &http::Uri) -> Option<http::Uri> {
        self.inner.locate(uri)
    }

    fn redirect_policy(&self) -> &RedirectPolicy {
        self.inner.redirect_policy()
    }
}
