//! The error of a block write.

use std::fmt;

use stowage_proto::DriveError;
use stowage_replica::{BlockError, BlockHash, GiveUp, ServiceReport, WriteConfigError};

/// Why a block was not written.
#[derive(Debug, thiserror::Error)]
pub enum KeepError {
    /// The block is larger than Keep allows.
    #[error(transparent)]
    Block(#[from] BlockError),
    /// The token or a storage class cannot be sent.
    #[error(transparent)]
    Config(#[from] WriteConfigError),
    /// Too few copies could be confirmed.
    #[error("[{request_id}] failed to write {hash}: wanted {wanted} copies, got {got} after {passes} pass(es), {reason}{}", Services(.per_service))]
    Failed {
        /// The write's `X-Request-Id`.
        request_id: String,
        /// The block's md5.
        hash: BlockHash,
        /// Copies asked for.
        wanted: u32,
        /// Copies confirmed.
        got: u64,
        /// Why the write stopped.
        reason: GiveUp,
        /// Every contacted service's last answer, in probe order.
        per_service: Vec<ServiceReport>,
        /// Passes made.
        passes: u32,
    },
    /// The driver failed (a machine bug, never the server's doing).
    #[error(transparent)]
    Driver(#[from] DriveError),
}

/// "; zzzzz-bi6l4-…: HTTP 503 (2 attempts), …".
struct Services<'a>(&'a [ServiceReport]);

impl fmt::Display for Services<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, s) in self.0.iter().enumerate() {
            let sep = if i == 0 { "; " } else { ", " };
            write!(f, "{sep}{}: {} ({} attempt(s))", s.uuid, s.last, s.attempts)?;
        }
        Ok(())
    }
}
