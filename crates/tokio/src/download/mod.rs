//! Parallel ranged downloads: the [`stowage_ringslot`] machine over hyper.
//!
//! - [`get`]: the object as an in-order [`Stream`](futures_util::Stream) of [`Bytes`], with at
//!   most `slots` ranges buffered (a slot is reused once the consumer has taken its bytes).
//! - [`read_all`]: the object in one [`Bytes`], one allocation filled in place by every range
//!   at its own offset ([`read_all_with_summary`] also says what it took: requests, retries).
//! - [`download`]: the object into a file, every range written at its offset, `fsync` at the
//!   end.
//!
//! They work against AIStore object URLs and any HTTP server that honours `Range` (nginx, S3
//! presigned URLs over plain HTTP). Each range request has the [`Timeouts`] of the transport:
//! a body that stalls longer than the read timeout is a failure the machine retries. Every
//! response is checked (a 206 with the exact `Content-Range`, the exact length, the same
//! object); see [`stowage_ringslot::RingSlot`] for the rules.
//!
//! ```no_run
//! use futures_util::StreamExt;
//! use stowage_tokio::download::{self, DownloadOptions};
//!
//! # #[tokio::main]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let url = "http://localhost:8080/v1/objects/bck/big?provider=ais";
//! let options = DownloadOptions { workers: 8, ..DownloadOptions::default() };
//! let mut stream = download::get(url, options.clone())?;
//! let mut total = 0;
//! while let Some(bytes) = stream.next().await {
//!     total += bytes?.len();
//! }
//! let whole = download::read_all(url, options.clone()).await?;
//! assert_eq!(whole.len(), total);
//! download::download(url, "big.bin", options).await?;
//! # Ok(())
//! # }
//! ```

mod engine;
mod fetch;

use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::atomic::AtomicU64;
use std::sync::{Arc, OnceLock};
use std::task::{Context, Poll};

use std::time::Duration;

use bytes::Bytes;
use http::Uri;
use stowage_proto::Backoff;
use stowage_ringslot::{Config, ConfigError, DownloadError, Hedge, Mode, RetryPolicy, RingSlot, Summary};
use tokio::sync::mpsc;

use crate::{ClientError, HyperTransport, Timeouts};
use engine::{Engine, Sink};

/// The knobs of a download.
#[derive(Clone, Debug)]
pub struct DownloadOptions {
    /// Range requests in flight at most.
    pub workers: u32,
    /// Buffers (≥ `workers`); `None`: `2 × workers`.
    pub slots: Option<u32>,
    /// The range size; `None`: the object's `ais-chunks-max-chunk-size`, else 8 MiB.
    pub chunk: Option<u64>,
    /// The object's size if known (skips the HEAD).
    pub size: Option<u64>,
    /// The first byte.
    pub offset: u64,
    /// One past the last byte; the end of the object when `None`.
    pub end: Option<u64>,
    /// Per-range retries.
    pub retry: RetryPolicy,
    /// Duplicate requests for a slow head-of-line range ([`get`] only: in whole-object mode a
    /// duplicate would fill the same destination bytes, so [`read_all`] and [`download`]
    /// ignore it).
    pub hedge: Option<Hedge>,
    /// Connect and read timeouts of every request.
    pub timeouts: Timeouts,
    /// Bytes delivered so far are added here (for progress bars).
    pub progress: Option<Arc<AtomicU64>>,
}

impl Default for DownloadOptions {
    /// 8 workers, 16 slots, 8 MiB ranges (or the object's chunk size), default timeouts, and
    /// what a download of many ranges wants:
    /// - [`RANGE_RETRY`]: a failed range is retried soon (the other ranges go on meanwhile,
    ///   so a long first backoff only idles its slot);
    /// - hedging on ([`Hedge::default`]: a head-of-line range taking 3 × the median, and at
    ///   least 50 ms, gets a second request): a stalled or straggling range costs about one
    ///   range time instead of a read timeout. It applies to [`get`]; set `hedge: None` to
    ///   never send duplicates.
    fn default() -> Self {
        DownloadOptions {
            workers: 8,
            slots: None,
            chunk: None,
            size: None,
            offset: 0,
            end: None,
            retry: RANGE_RETRY,
            hedge: Some(Hedge::default()),
            timeouts: Timeouts::default(),
            progress: None,
        }
    }
}

/// The default retry policy of a range: 5 attempts, waiting 20, 40, 80, 160 ms (doubling, at
/// most 1 s). Shorter than [`RetryPolicy::default`] (100 ms first), which suits a lone
/// request: here one range's wait holds back only its slot.
pub const RANGE_RETRY: RetryPolicy = RetryPolicy {
    max_attempts: 5,
    backoff: Backoff { multiplier: 0.02, min: Duration::from_millis(20), max: Duration::from_secs(1) },
};

impl DownloadOptions {
    /// The machine's configuration for these options in `mode` (for running the same download
    /// through another driver).
    pub fn config(&self, mode: Mode) -> Config {
        Config {
            size: self.size,
            offset: self.offset,
            end: self.end,
            chunk: self.chunk,
            workers: self.workers,
            slots: self.slots,
            mode,
            retry: self.retry,
            hedge: self.hedge,
        }
    }
}

/// Why a download failed.
#[derive(Debug, thiserror::Error)]
pub enum GetError {
    /// The URL is not an absolute `http://` URL.
    #[error("invalid URL {url:?}: expected http://host[:port]/path")]
    Url {
        /// The URL as given.
        url: String,
    },
    /// The transport could not be built.
    #[error(transparent)]
    Client(#[from] ClientError),
    /// The options cannot be run.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// The machine ended the download (a bad response, retries exhausted, …).
    #[error(transparent)]
    Download(#[from] DownloadError),
    /// The object does not fit in memory.
    #[error("cannot hold {size} bytes in memory")]
    TooLarge {
        /// The bytes asked for.
        size: u64,
    },
    /// Writing the file failed.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// What failed.
        source: std::io::Error,
    },
    /// The download was cancelled (its consumer went away).
    #[error("the download was cancelled")]
    Cancelled,
}

/// The machine and the transport for `url`.
fn prepare(url: &str, options: &DownloadOptions, mode: Mode) -> Result<(RingSlot, HyperTransport), GetError> {
    let uri: Uri = url.parse().map_err(|_| GetError::Url { url: url.to_owned() })?;
    let (Some(scheme), Some(authority)) = (uri.scheme_str(), uri.authority()) else {
        return Err(GetError::Url { url: url.to_owned() });
    };
    let transport = HyperTransport::new(&format!("{scheme}://{authority}"), options.timeouts)?;
    let ring = RingSlot::new(uri, options.config(mode))?;
    Ok((ring, transport))
}

/// The object at `url`, in order, as a stream of chunks (one per range).
///
/// The download runs in a task of its own; at most `slots` ranges are held, including those
/// waiting for the consumer. Dropping the stream cancels it. Must be called within a tokio
/// runtime.
pub fn get(url: &str, options: DownloadOptions) -> Result<ByteStream, GetError> {
    let (ring, transport) = prepare(url, &options, Mode::Stream)?;
    let (sender, receiver) = mpsc::channel(1);
    let engine = Engine::new(ring, transport, Sink::Stream, options.progress.clone());
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

/// The in-order chunks of a [`get`].
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

/// The object at `url` in one buffer: one allocation of its size, every range written in place
/// at its own offset.
pub async fn read_all(url: &str, options: DownloadOptions) -> Result<Bytes, GetError> {
    Ok(read_all_with_summary(url, options).await?.bytes)
}

/// What [`read_all_with_summary`] got: the bytes, and what it took to get them.
#[derive(Clone, Debug)]
pub struct Downloaded {
    /// The object's bytes (`[offset, end)` of it).
    pub bytes: Bytes,
    /// Ranges, requests, retries.
    pub summary: Summary,
}

/// [`read_all`], with the machine's [`Summary`] of the download.
pub async fn read_all_with_summary(url: &str, options: DownloadOptions) -> Result<Downloaded, GetError> {
    let (ring, transport) = prepare(url, &options, Mode::WholeObject)?;
    let sink = Sink::Memory { rest: bytes::BytesMut::new(), landed: Default::default() };
    let finished = Engine::new(ring, transport, sink, options.progress.clone()).run(None).await?;
    Ok(Downloaded { bytes: finished.bytes.unwrap_or_default(), summary: finished.summary })
}

/// The object at `url` into the file at `path` (created or truncated): every range written at
/// its offset, the file `fsync`ed at the end.
pub async fn download(url: &str, path: impl AsRef<Path>, options: DownloadOptions) -> Result<Summary, GetError> {
    let path = path.as_ref().to_owned();
    let (ring, transport) = prepare(url, &options, Mode::WholeObject)?;
    let file = std::fs::File::create(&path).map_err(|source| GetError::Io { path: path.clone(), source })?;
    let sink = Sink::File { file: Arc::new(file), path, pool: Vec::new() };
    let finished = Engine::new(ring, transport, sink, options.progress.clone()).run(None).await?;
    Ok(finished.summary)
}
