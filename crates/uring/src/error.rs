//! What can go wrong in the io_uring driver itself (the server's failures are
//! [`TransportError`](stowage_proto::TransportError)s fed to the machine, not errors here).

use std::io;
use std::path::PathBuf;

use stowage_proto::DriveError;
use stowage_ringslot::{ConfigError, DownloadError};

/// Why a [`UringDriver`](crate::UringDriver) could not be built.
#[derive(Debug, thiserror::Error)]
pub enum UringError {
    /// This kernel or sandbox gives no io_uring.
    #[error(
        "io_uring is unavailable here ({source}): the kernel may be older than 5.19, io_uring may be \
         disabled (sysctl kernel.io_uring_disabled) or blocked by seccomp (containers); use the tokio \
         driver (stowage_tokio) instead"
    )]
    Unavailable {
        /// What the kernel said.
        source: io::Error,
    },
    /// The endpoint is not `http://host[:port][/path]`.
    #[error("bad endpoint {endpoint:?}: {reason}")]
    BadEndpoint {
        /// The endpoint given.
        endpoint: String,
        /// What is wrong with it.
        reason: String,
    },
}

/// Why [`UringDriver::drive`](crate::UringDriver::drive) stopped before the machine finished.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    /// The machine refused an input or stalled (a bug in the machine or the driver).
    #[error(transparent)]
    Drive(#[from] DriveError),
    /// The ring itself failed (not a request: those fail as data fed to the machine).
    #[error("io_uring failed: {0}")]
    Ring(#[from] io::Error),
}

/// Why a ranged download ([`UringDriver::get`](crate::UringDriver::get),
/// [`download`](crate::UringDriver::download), [`sink`](crate::UringDriver::sink)) failed.
#[derive(Debug, thiserror::Error)]
pub enum GetError {
    /// The URL cannot be fetched by this driver.
    #[error("cannot fetch {uri:?}: {reason}")]
    BadUri {
        /// The URL given.
        uri: String,
        /// What is wrong with it.
        reason: String,
    },
    /// The download's settings cannot be run.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// The server's answers made the download fail (the machine's verdict: a wrong range, a
    /// changed object, retries exhausted, …).
    #[error(transparent)]
    Download(#[from] DownloadError),
    /// The slots cannot be allocated.
    #[error("slot buffers: {0}")]
    Buffers(io::Error),
    /// The destination file cannot be created, sized, written or synced.
    #[error("{}: {source}", path.display())]
    File {
        /// The file.
        path: PathBuf,
        /// What the system said.
        source: io::Error,
    },
    /// The ring itself failed.
    #[error("io_uring failed: {0}")]
    Ring(#[from] io::Error),
    /// Nothing in flight and nothing to wait for before the end (a bug in the machine or the
    /// driver).
    #[error("the download stalled with nothing in flight")]
    Stalled,
}
