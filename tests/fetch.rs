//! Downloads through either driver, as the download tests make them: the settings they share,
//! the ways a caller takes the bytes ([`Into`]), and one download made one of those ways
//! ([`Fetch`]).

use std::path::{Path, PathBuf};
use std::time::Duration;

use futures_util::StreamExt;
use stowage_proto::{Backoff, Retry, Timeouts};
use stowage_ringslot::transfer::GetError;
use stowage_ringslot::{Config, Summary};
use stowage_tls::TlsConfig;
use stowage_tokio::download::Downloader;
use stowage_uring::UringDriver;

use crate::Driver;

/// The size of the ranges the tests download in: 256 KiB.
pub const CHUNK: u64 = 256 * 1024;

/// The size of the tests' large objects: 12 ranges of [`CHUNK`] and a short last one.
pub const SIZE: usize = 3 * 1024 * 1024 + 17;

/// The timeouts for a server in another process (nginx, moto): 5 s to connect, 10 s for each
/// read, since a loaded machine can keep it from answering for a while.
pub const PATIENT: Timeouts = Timeouts { connect: Duration::from_secs(5), read: Duration::from_secs(10) };

/// 4 workers, [`CHUNK`]-byte ranges, `max_attempts` attempts a range with quick waits between
/// them (5 ms growing to `max_backoff`, no jitter), no hedging.
pub fn config(max_attempts: u32, max_backoff: Duration) -> Config {
    Config {
        workers: 4,
        chunk: Some(CHUNK),
        retry: Retry {
            max_attempts,
            backoff: Backoff { multiplier: 0.01, min: Duration::from_millis(5), max: max_backoff },
            jitter: false,
        },
        hedge: None,
        ..Config::default()
    }
}

/// How a download is consumed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Into {
    /// In order: tokio's `get` stream, io_uring's `get`.
    Stream,
    /// Whole: into memory (tokio's `read_all`), or io_uring's `sink` (counted, not kept: the
    /// bytes come back as that many zeros, see [`assert_exact`]).
    Whole,
    /// Whole, every byte kept: into memory (tokio's `read_all`), or, io_uring having no download
    /// into memory, into a file (its `download`) read back.
    WholeKept,
    /// Into a file: `download`, with either driver, read back.
    File,
}

/// The ways a caller takes a download's bytes, each once: in order, whole (through io_uring's
/// sink), into a file.
pub const EVERY_WAY: [Into; 3] = [Into::Stream, Into::Whole, Into::File];

/// What a download got.
#[derive(Clone, Debug)]
pub struct Got {
    /// The object's bytes; through io_uring's sink ([`Into::Whole`]), as many zeros.
    pub bytes: Vec<u8>,
    /// What the download did.
    pub summary: Summary,
}

/// One download, but for the driver that makes it and the way it is consumed: both drivers are
/// handed the same.
#[derive(Clone, Debug)]
pub struct Fetch<'a> {
    /// The object's URL, `http://` or `https://`.
    pub url: &'a str,
    /// The download's settings.
    pub config: Config,
    /// The driver's connect and read timeouts.
    pub timeouts: Timeouts,
    /// What an `https://` download trusts; `None`: the driver's default (the built-in roots).
    pub tls: Option<&'a TlsConfig>,
}

impl Fetch<'_> {
    /// Downloads through `driver`, consumed `into`. The io_uring driver blocks the calling
    /// thread (`block_in_place`: the runtime must be multi-threaded, as [`with_each_driver!`]'s
    /// is).
    ///
    /// Panics where the io_uring driver cannot be made (no io_uring here, a URL it does not
    /// take): the test's setup failed, not the download.
    ///
    /// [`with_each_driver!`]: crate::with_each_driver
    pub async fn run(self, driver: Driver, into: Into) -> Result<Got, GetError> {
        self.run_then(driver, into, || {}).await
    }

    /// [`Fetch::run`], calling `after_first` once the first chunk of an [`Into::Stream`] is in
    /// the consumer's hands (the download waits for it to return); the other ways never call it.
    pub async fn run_then(self, driver: Driver, into: Into, after_first: impl FnOnce()) -> Result<Got, GetError> {
        match driver {
            Driver::Tokio => self.tokio(into, after_first).await,
            // Blocking in place: the closure and the URL are borrowed, not moved to another thread.
            Driver::Uring => tokio::task::block_in_place(|| self.uring(into, after_first)),
        }
    }

    /// Downloads into the file at `path` through `driver` (with `resume`, continuing what an
    /// interrupted download to `path` left), blocking in place for io_uring as [`Fetch::run`].
    pub async fn to_file(self, driver: Driver, path: &Path, resume: bool) -> Result<Summary, GetError> {
        let (url, config) = (self.url, self.config.clone());
        match driver {
            Driver::Tokio => {
                let downloader = self.downloader()?;
                if resume {
                    downloader.resume(url, config, path).await
                } else {
                    downloader.download(url, config, path).await
                }
            }
            Driver::Uring => tokio::task::block_in_place(|| {
                let mut driver = self.uring_driver();
                if resume { driver.resume(url, config, path) } else { driver.download(url, config, path) }
            }),
        }
    }

    /// The tokio downloader for [`Fetch::url`], its timeouts and trust.
    fn downloader(&self) -> Result<Downloader, GetError> {
        let downloader = Downloader::for_url(self.url, self.timeouts)?;
        Ok(match self.tls {
            Some(tls) => downloader.with_tls(tls),
            None => downloader,
        })
    }

    /// The io_uring driver for [`Fetch::url`] (the URL as its endpoint: origin-form requests go
    /// to the server it names), its timeouts and trust.
    fn uring_driver(&self) -> UringDriver {
        let url = self.url;
        let driver = UringDriver::new(url, self.timeouts).unwrap_or_else(|e| panic!("io_uring driver for {url}: {e}"));
        match self.tls {
            Some(tls) => driver.with_tls(tls),
            None => driver,
        }
    }

    async fn tokio(self, into: Into, after_first: impl FnOnce()) -> Result<Got, GetError> {
        let downloader = self.downloader()?;
        let Fetch { url, config, .. } = self;
        match into {
            Into::Stream => {
                let mut stream = downloader.get(url, config)?;
                let mut bytes = Vec::new();
                let mut after_first = Some(after_first);
                while let Some(chunk) = stream.next().await {
                    bytes.extend_from_slice(&chunk?);
                    if let Some(after_first) = after_first.take() {
                        tokio::task::block_in_place(after_first);
                    }
                }
                Ok(Got { bytes, summary: stream.summary().expect("a finished stream has its summary") })
            }
            Into::Whole | Into::WholeKept => {
                let got = downloader.read_all(url, config).await?;
                Ok(Got { bytes: got.bytes.to_vec(), summary: got.summary })
            }
            Into::File => {
                let path = destination(Driver::Tokio, into);
                let result = downloader.download(url, config, &path).await;
                read_back(&path, result)
            }
        }
    }

    fn uring(self, into: Into, after_first: impl FnOnce()) -> Result<Got, GetError> {
        let mut driver = self.uring_driver();
        let Fetch { url, config, .. } = self;
        match into {
            Into::Stream => {
                let mut download = driver.get(url, config)?;
                let mut bytes = Vec::new();
                let mut after_first = Some(after_first);
                while let Some(chunk) = download.next_chunk()? {
                    bytes.extend_from_slice(chunk);
                    if let Some(after_first) = after_first.take() {
                        after_first();
                    }
                }
                Ok(Got { bytes, summary: download.summary() })
            }
            Into::Whole => {
                let summary = driver.sink(url, config)?;
                Ok(Got { bytes: vec![0; usize::try_from(summary.bytes).unwrap()], summary })
            }
            Into::WholeKept | Into::File => {
                let path = destination(Driver::Uring, into);
                let result = driver.download(url, config, &path);
                read_back(&path, result)
            }
        }
    }
}

/// A file of this process's own for a download through `driver` to write, one per thread (a
/// test's downloads are made one at a time).
fn destination(driver: Driver, into: Into) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("stowage-fetch-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir.join(format!("{driver:?}-{into:?}-{:?}.bin", std::thread::current().id()))
}

/// What the download into `path` that ended with `result` got: the file's bytes, the file
/// removed.
fn read_back(path: &Path, result: Result<Summary, GetError>) -> Result<Got, GetError> {
    let bytes = std::fs::read(path);
    let _ = std::fs::remove_file(path);
    result.map(|summary| Got { bytes: bytes.expect("download made the file"), summary })
}

/// Checks that `got` is `data` (or, through io_uring's sink, as long).
pub fn assert_exact(driver: Driver, into: Into, got: &[u8], data: &[u8]) {
    if (driver, into) == (Driver::Uring, Into::Whole) {
        assert_eq!(got.len(), data.len(), "{into:?}");
    } else {
        assert!(got == data, "{into:?}: {} bytes, not the object's {}", got.len(), data.len());
    }
}
