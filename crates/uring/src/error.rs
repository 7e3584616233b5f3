//! What can go wrong in the io_uring driver itself (the server's failures are
//! [`TransportError`](stowage_proto::TransportError)s fed to the machine, not errors here).

use std::io;

use stowage_proto::DriveError;

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
