//! Why a download through a driver failed: the one error every driver's download returns.

use std::io;
use std::path::PathBuf;

use crate::{ConfigError, DownloadError, JournalError};

/// Why a download failed: the machine's verdict on the server's answers, or the driver, the
/// destination or the caller's setup.
#[derive(Debug, thiserror::Error)]
pub enum GetError {
    /// The URL cannot be fetched by this driver.
    #[error("cannot fetch {url:?}: {reason}")]
    Url {
        /// The URL given.
        url: String,
        /// What is wrong with it.
        reason: String,
    },
    /// The download's settings cannot be run.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// The machine ended the download: the server's answers made it fail (a wrong range, a
    /// changed object, retries exhausted, …), or the consumer cancelled it
    /// ([`DownloadError::Cancelled`]).
    #[error(transparent)]
    Download(#[from] DownloadError),
    /// The bytes asked for do not fit in memory.
    #[error("cannot hold {size} bytes in memory")]
    TooLarge {
        /// The bytes asked for.
        size: u64,
    },
    /// The destination file cannot be created, sized, written or synced.
    #[error("{}: {source}", path.display())]
    File {
        /// The file.
        path: PathBuf,
        /// What the system said.
        source: io::Error,
    },
    /// The journal of the download being continued cannot be used.
    #[error("{}: {error}", path.display())]
    Journal {
        /// The journal.
        path: PathBuf,
        /// What is wrong with it.
        error: JournalError,
    },
    /// The driver's own IO failed (not a request: those fail as answers the machine judges).
    #[error("{what} failed: {source}")]
    Driver {
        /// What failed (`io_uring`, `slot buffers`, …).
        what: &'static str,
        /// What the system said.
        source: io::Error,
    },
    /// Nothing in flight and nothing to wait for before the end (a bug in the machine or the
    /// driver).
    #[error("the download stalled with nothing in flight")]
    Stalled,
}
