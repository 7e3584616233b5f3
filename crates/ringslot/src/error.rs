//! Why a download failed, and why a single attempt did.

use stowage_checksum::Mismatch;
use stowage_proto::TransportError;
use stowage_proto::redirect::RedirectError;
use stowage_proto::tls::TlsError;

use crate::ByteRange;

/// Why one attempt at a range (or at the HEAD) failed in a way worth retrying.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Failure {
    /// The server answered a 5xx (or 429 Too Many Requests).
    #[error("server answered {0}")]
    Status(u16),
    /// The request or its body failed below HTTP: a reset, a close, a read timeout (a stall).
    #[error("{0}")]
    Transport(TransportError),
}

/// Why a download ended without all its bytes. The first such error ends the download: every
/// request still in flight is cancelled.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum DownloadError {
    /// The HEAD was answered with a status that is not 200 and not retryable.
    #[error("HEAD answered {status}")]
    HeadStatus {
        /// The status.
        status: u16,
    },
    /// The answer that should have given the object's size did not: a HEAD's (or a 200's)
    /// `Content-Length`, a 206's `Content-Range` total or a 416's `bytes */total` missing or
    /// not a number (a 416 to a range from byte 0 needs none: the object is empty).
    #[error("the server's answer gives no size (no valid Content-Length or Content-Range total)")]
    NoSize,
    /// A range request was answered 200: the server ignored `Range` and is sending the whole
    /// object.
    #[error("asked for {range}, the server ignored Range and answered 200")]
    RangeIgnored {
        /// The range asked for.
        range: ByteRange,
    },
    /// A 206 whose `Content-Range` is missing, malformed or names other bytes.
    #[error("asked for {range}, the server answered Content-Range {got:?}")]
    WrongRange {
        /// The range asked for.
        range: ByteRange,
        /// The `Content-Range` received (lossy text; empty when absent).
        got: String,
    },
    /// The object's size in a `Content-Range` differs from the size the download started with.
    #[error("the object changed size from {was} to {now} bytes during the download")]
    SizeChanged {
        /// The size at the start.
        was: u64,
        /// The size a response gave.
        now: u64,
    },
    /// The object's `ETag` (or `ais-version`) differs from the one the download started with.
    #[error("the object changed during the download ({header} was {was:?}, now {now:?})")]
    ObjectChanged {
        /// The header that changed.
        header: &'static str,
        /// Its value at the start.
        was: String,
        /// Its value in a later response.
        now: String,
    },
    /// A body (or its announced `Content-Length`) longer than the range.
    #[error("asked for {range} ({} bytes), the server sent {received}", range.len())]
    LongBody {
        /// The range asked for.
        range: ByteRange,
        /// The bytes received or announced.
        received: u64,
    },
    /// A body that ended cleanly before the end of the range.
    #[error("asked for {range} ({} bytes), the body ended after {received}", range.len())]
    ShortBody {
        /// The range asked for.
        range: ByteRange,
        /// The bytes received.
        received: u64,
    },
    /// A range request answered with a status that is neither 206 nor retryable.
    #[error("asked for {range}, the server answered {status}")]
    Status {
        /// The range asked for.
        range: ByteRange,
        /// The status.
        status: u16,
    },
    /// A range request (or the HEAD, with `range` `None`) failed in a retryable way on every
    /// one of its attempts.
    #[error("{} failed {attempts} time(s), last: {last}", what(.range))]
    RetriesExhausted {
        /// The range, or `None` for the HEAD.
        range: Option<ByteRange>,
        /// Attempts made.
        attempts: u32,
        /// The last attempt's failure.
        last: Failure,
    },
    /// A request (the HEAD, with `range` `None`) was redirected in a way the driver could not
    /// follow: not retried, since the server would answer the same again.
    #[error("{} was redirected and the redirect could not be followed: {error}", what(.range))]
    Redirect {
        /// The range, or `None` for the HEAD.
        range: Option<ByteRange>,
        /// Why the redirect was not followed.
        error: RedirectError,
    },
    /// A request (the HEAD, with `range` `None`) failed its TLS handshake (the server's
    /// certificate refused, or the handshake refused or broken): not retried, since the server
    /// would answer the same again.
    #[error("{} failed: TLS: {error}", what(.range))]
    Tls {
        /// The range, or `None` for the HEAD.
        range: Option<ByteRange>,
        /// Why the handshake failed.
        error: TlsError,
    },
    /// The download was cancelled by its consumer.
    #[error("the download was cancelled")]
    Cancelled,
    /// Every byte arrived, and they do not hash to the checksum the server stated: they are
    /// not the object's. From [`Transfer`](crate::transfer::Transfer), which verifies
    /// ([`Config::verify`](crate::Config::verify)); a [`RingSlot`](crate::RingSlot) never sees
    /// a byte.
    #[error(transparent)]
    Integrity(Mismatch),
}

fn what(range: &Option<ByteRange>) -> String {
    range.map_or_else(|| "the HEAD".to_owned(), |range| format!("range {range}"))
}
