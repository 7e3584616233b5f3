//! Parallel ranged downloads: the [`stowage_ringslot`] machine over hyper, run by the shared
//! [`Transfer`] loop (one task per range request).
//!
//! A [`Downloader`] sends through one [`HyperTransport`] (its connection pool and its
//! [`Timeouts`]: a body that stalls longer than the read timeout is a failure
//! the machine retries) and takes the machine's own [`Config`], whose defaults are the tuned
//! policy (8 workers, range retries, hedging); the io_uring driver takes the same `Config`.
//!
//! - [`Downloader::get`]: the object as an in-order [`Stream`](futures_util::Stream) of
//!   [`Bytes`], with at most `slots` ranges buffered (a slot is reused once the consumer has
//!   taken its bytes).
//! - [`Downloader::read_all`]: the object in one [`Bytes`], one allocation filled in place by
//!   every range at its own offset.
//! - [`Downloader::download`]: the object into a file, every range written at its offset,
//!   `fsync` at the end.
//!
//! They work against AIStore object URLs and any HTTP server that honours `Range` (nginx, S3
//! presigned URLs), over `http://` or `https://` ([`Downloader::with_tls`] for what to trust). Every response is checked (a 206 with the exact
//! `Content-Range`, the exact length, the same object); see [`stowage_ringslot::RingSlot`] for
//! the rules.
//!
//! ```no_run
//! use futures_util::StreamExt;
//! use stowage_ringslot::Config;
//! use stowage_tokio::Timeouts;
//! use stowage_tokio::download::Downloader;
//!
//! # #[tokio::main]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let url = "http://localhost:8080/v1/objects/bck/big?provider=ais";
//! let downloader = Downloader::for_url(url, Timeouts::default())?;
//! let config = Config { workers: 8, ..Config::default() };
//! let mut stream = downloader.get(url, config.clone())?;
//! let mut total = 0;
//! while let Some(bytes) = stream.next().await {
//!     total += bytes?.len();
//! }
//! let whole = downloader.read_all(url, config.clone()).await?;
//! assert_eq!(whole.bytes.len(), total);
//! downloader.download(url, config, "big.bin").await?;
//! # Ok(())
//! # }
//! ```

mod engine;
mod fetch;
mod io;

use std::path::Path;
use std::pin::Pin;
use std::sync::atomic::AtomicU64;
use std::sync::{Arc, OnceLock};
use std::task::{Context, Poll};

use bytes::{Bytes, BytesMut};
use http::Uri;
use stowage_partfile::PartFile;
use stowage_proto::Instant;
pub use stowage_ringslot::transfer::GetError;
use stowage_ringslot::transfer::Transfer;
use stowage_ringslot::{Config, Delivery, DownloadError, RingSlot, Summary};
use tokio::sync::mpsc;

use crate::{HyperTransport, Timeouts};
use engine::{Engine, Finished};
use io::{Sink, TokioIo};

/// Downloads objects with parallel range requests through one [`HyperTransport`].
///
/// Cloning is cheap: clones share the connection pool (and the progress counter).
#[derive(Clone, Debug)]
pub struct Downloader {
    transport: HyperTransport,
    progress: Option<Arc<AtomicU64>>,
}

impl Downloader {
    /// Downloads through `transport`: origin-form URIs go to its endpoint, absolute ones where
    /// they point, each request with its timeouts.
    pub fn new(transport: HyperTransport) -> Self {
        Downloader { transport, progress: None }
    }

    /// Downloads from the server of `url` (`http[s]://host[:port]/…`) with `timeouts` (and
    /// the default [`TlsConfig`](crate::TlsConfig); see [`with_tls`](Downloader::with_tls)).
    pub fn for_url(url: &str, timeouts: Timeouts) -> Result<Self, GetError> {
        let bad = |reason: String| GetError::Url { url: url.to_owned(), reason };
        let uri: Uri = url.parse().map_err(|e: http::uri::InvalidUri| bad(e.to_string()))?;
        let (Some(scheme), Some(authority)) = (uri.scheme_str(), uri.authority()) else {
            return Err(bad("expected http://host[:port]/path".to_owned()));
        };
        let transport = HyperTransport::new(&format!("{scheme}://{authority}"), timeouts);
        Ok(Downloader::new(transport.map_err(|error| bad(error.to_string()))?))
    }

    /// Speaks TLS with `tls` (its roots, or any certificate) to every `https://` URL
    /// ([`HyperTransport::with_tls`]).
    #[must_use]
    pub fn with_tls(mut self, tls: &crate::TlsConfig) -> Self {
        self.transport = self.transport.with_tls(tls);
        self
    }

    /// Adds the bytes each download delivers (or lands) to `counter`, as they do (for progress
    /// bars on another task or thread).
    pub fn set_progress(&mut self, counter: Option<Arc<AtomicU64>>) {
        self.progress = counter;
    }

    /// The object at `uri`, in order, as a stream of chunks (one per range; [`Delivery::Stream`]
    /// whatever `config.delivery` says).
    ///
    /// The download runs in a task of its own; at most `slots` ranges are held, including those
    /// waiting for the consumer. Dropping the stream cancels it. Must be called within a tokio
    /// runtime.
    pub fn get(&self, uri: &str, config: Config) -> Result<ByteStream, GetError> {
        let (sender, receiver) = mpsc::channel(1);
        let engine = self.engine(uri, Config { delivery: Delivery::Stream, ..config }, Sink::Stream)?;
        let summary = Arc::new(OnceLock::new());
        let finished = Arc::clone(&summary);
        tokio::spawn(async move {
            match engine.run(Some(sender.clone())).await {
                Ok(done) => {
                    let _ = finished.set(done.summary);
                }
                Err(error) => {
                    let _ = sender.send(Err(error)).await;
                }
            }
        });
        Ok(ByteStream { receiver, summary })
    }

    /// The object at `uri` in one buffer: one allocation of its size, every range written in
    /// place at its own offset ([`Delivery::WholeObject`]). With [`Config::verify`] the buffer is hashed once complete.
    pub async fn read_all(&self, uri: &str, config: Config) -> Result<Downloaded, GetError> {
        let sink = Sink::Memory { rest: BytesMut::new(), landed: Default::default() };
        let engine = self.engine(uri, Config { delivery: Delivery::WholeObject, ..config }, sink)?;
        let Finished { summary, sink } = engine.run(None).await?;
        let Sink::Memory { landed, .. } = sink else { return Ok(Downloaded { bytes: Bytes::new(), summary }) };
        Ok(Downloaded { bytes: join(landed.into_values()), summary })
    }

    /// The object at `uri` into the file at `path` ([`Delivery::WholeObject`]): every range written
    /// at its offset in `path.part` and recorded in its journal ([`PartFile`]), the file
    /// `fsync`ed and renamed to `path` once complete, so `path` never holds part of the object.
    /// With [`Config::verify`] the file is read back and hashed once complete.
    ///
    /// An interrupted download leaves `path.part` and its journal for [`Downloader::resume`]; a
    /// checksum mismatch leaves nothing.
    pub async fn download(&self, uri: &str, config: Config, path: impl AsRef<Path>) -> Result<Summary, GetError> {
        self.download_to(uri, config, path.as_ref(), false).await
    }

    /// Like [`Downloader::download`], continuing what an interrupted download to `path` left
    /// (`path.part` and its journal): only the missing ranges are fetched, and the object must
    /// still be the one it was (size, `ETag`, `ais-version`: else
    /// [`DownloadError::ObjectChanged`]/[`SizeChanged`](DownloadError::SizeChanged)). A new
    /// download where there is nothing to continue. [`Summary::resumed`] says what was kept.
    pub async fn resume(&self, uri: &str, config: Config, path: impl AsRef<Path>) -> Result<Summary, GetError> {
        self.download_to(uri, config, path.as_ref(), true).await
    }

    async fn download_to(&self, uri: &str, config: Config, path: &Path, continuing: bool) -> Result<Summary, GetError> {
        let part = PartFile::open(path, &parse(uri)?, continuing)?;
        let config = Config { delivery: Delivery::WholeObject, resume: part.resume().cloned(), ..config };
        let result = match self.engine(uri, config, Sink::File { part, pool: Vec::new() }) {
            Ok(engine) => engine.run(None).await,
            Err(error) => Err(error),
        };
        match result {
            Ok(Finished { summary, sink }) => {
                if let Sink::File { part, .. } = sink {
                    tokio::task::spawn_blocking(move || part.commit()).await.map_err(|error| GetError::Driver {
                        what: "the fsync task",
                        source: std::io::Error::other(error),
                    })??;
                }
                Ok(summary)
            }
            Err(error) => {
                if matches!(error, GetError::Download(DownloadError::Integrity(_))) {
                    PartFile::discard(path);
                }
                Err(error)
            }
        }
    }

    /// The machine, its transfer and this driver's IO for `uri`.
    fn engine(&self, uri: &str, config: Config, sink: Sink) -> Result<Engine, GetError> {
        let parsed = parse(uri)?;
        let epoch = tokio::time::Instant::now();
        let ring = RingSlot::new(Instant::ZERO, parsed, config)?;
        let (sender, events) = mpsc::unbounded_channel();
        let io = TokioIo::new(self.transport.clone(), sink, sender);
        Ok(Engine::new(Transfer::new(ring), io, events, epoch, self.progress.clone()))
    }
}

/// The in-order chunks of a [`Downloader::get`].
#[derive(Debug)]
pub struct ByteStream {
    receiver: mpsc::Receiver<Result<Bytes, GetError>>,
    summary: Arc<OnceLock<Summary>>,
}

impl ByteStream {
    /// What the download did, once the stream has ended successfully.
    pub fn summary(&self) -> Option<Summary> {
        self.summary.get().copied()
    }
}

impl futures_util::Stream for ByteStream {
    type Item = Result<Bytes, GetError>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.receiver.poll_recv(cx)
    }
}

/// What [`Downloader::read_all`] got: the bytes, and what it took to get them.
#[derive(Clone, Debug)]
pub struct Downloaded {
    /// The object's bytes (`[offset, end)` of it).
    pub bytes: Bytes,
    /// Ranges, requests, retries.
    pub summary: Summary,
}

/// Joins the landed pieces, in order, back into the one allocation they were cut from.
/// `uri` parsed, or why it cannot be fetched.
fn parse(uri: &str) -> Result<Uri, GetError> {
    uri.parse().map_err(|e: http::uri::InvalidUri| GetError::Url { url: uri.to_owned(), reason: e.to_string() })
}

fn join(mut pieces: impl Iterator<Item = BytesMut>) -> Bytes {
    let Some(mut all) = pieces.next() else { return Bytes::new() };
    for piece in pieces {
        // Contiguous pieces of one allocation: O(1), no copy.
        all.unsplit(piece);
    }
    all.freeze()
}
