//! HTTP/1.1 for a client, without IO: the bytes of a request, and a response read from the
//! bytes of a connection as they arrive.
//!
//! A driver writes what [`encode_request`] (or [`encode_range_get`]) returns to its socket,
//! hands whatever each read returned to [`ResponseReader::feed`], and learns whether the
//! response is complete ([`Progress::Done`], with whether the connection may carry another
//! request) or more is needed; when the server closes the connection it calls
//! [`ResponseReader::eof`]. A driver that receives bodies in place (into registered buffers)
//! parses only the head with [`parse_head`] and frames the body itself from the [`Head`].
//!
//! The codec's rules:
//! - **Framing** (RFC 9112 §6.3): no body for a response to `HEAD` or a 1xx, 204 or 304
//!   status; else `Transfer-Encoding: chunked` (over any `Content-Length`); else
//!   `Content-Length` (repeated ones must agree); else the body ends at the close, and the
//!   connection is not reused.
//! - **Reuse**: HTTP/1.1 unless `Connection: close`, HTTP/1.0 only with
//!   `Connection: keep-alive`, and never with bytes after the end of the response.
//! - **Limits**: at most [`MAX_HEADERS`] headers in a head of at most [`MAX_HEAD`] bytes,
//!   chunk-size lines of at most [`MAX_CHUNK_LINE`] bytes, and a body of at most the reader's
//!   `max_body` — held memory stays bounded whatever the peer sends.
//!
//! The invariants (checked by a property test and a fuzz target): the outcome does not depend
//! on how the bytes are split, the body held never exceeds `max_body`, a response is reported
//! at most once, and hostile bytes are a [`ResponseError`], never a panic. A machine sees a
//! failure as a [`TransportError`](stowage_proto::TransportError) (`From` maps it).
//!
//! A chunked response, fed in three pieces:
//!
//! ```
//! use stowage_http1::{Progress, ResponseReader};
//!
//! let mut reader = ResponseReader::new(&http::Method::GET, 1 << 20);
//! let pieces: [&[u8]; 3] = [
//!     b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chu",
//!     b"nked\r\nETag: \"x\"\r\n\r\n5\r\nhel",
//!     b"lo\r\n0\r\n\r\n",
//! ];
//! let mut done = None;
//! for piece in pieces {
//!     match reader.feed(piece)? {
//!         Progress::More => continue,
//!         Progress::Done { response, reusable } => done = Some((response, reusable)),
//!     }
//! }
//! let (response, reusable) = done.expect("the last piece completes it");
//! assert_eq!(response.status(), http::StatusCode::OK);
//! assert_eq!(response.headers()["etag"], "\"x\"");
//! assert_eq!(response.body().as_ref(), b"hello");
//! assert!(reusable);
//! # Ok::<(), stowage_http1::ResponseError>(())
//! ```
#![forbid(unsafe_code)]
#![deny(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod chunked;
mod encode;
mod error;
mod head;
mod reader;

pub use chunked::MAX_CHUNK_LINE;
pub use encode::{encode_range_get, encode_request};
pub use error::ResponseError;
pub use head::{Framing, Head, MAX_HEAD, MAX_HEADERS, parse_head};
pub use reader::{Progress, ResponseReader};
