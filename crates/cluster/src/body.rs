//! Response bodies: nothing, bytes already in memory, or generated content streamed in
//! bounded frames.

use std::convert::Infallible;
use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use hyper::body::{Body, Frame, SizeHint};

use crate::generate::Generator;

/// The largest frame a generated body yields. Serving a generated object costs at most one
/// frame of memory per response in flight (plus what hyper buffers), whatever its size.
pub(crate) const FRAME_BYTES: u64 = 64 * 1024;

/// The body of every response the cluster sends.
///
/// Invariant: the bytes it yields add up to exactly [`Body::size_hint`]'s exact value, which
/// is what the `Content-Length` header of the response says.
#[derive(Debug)]
pub(crate) struct ResponseBody {
    kind: Kind,
}

#[derive(Debug)]
enum Kind {
    /// Nothing (left to yield).
    Empty,
    /// One frame of bytes held in memory; never empty.
    Bytes(Bytes),
    /// Bytes `next..end` of a generated stream; `next < end`.
    Generated { generator: Generator, next: u64, end: u64 },
}

impl ResponseBody {
    /// No body.
    pub(crate) fn empty() -> Self {
        ResponseBody { kind: Kind::Empty }
    }

    /// `bytes`, sent as one frame.
    pub(crate) fn bytes(bytes: Bytes) -> Self {
        if bytes.is_empty() { Self::empty() } else { ResponseBody { kind: Kind::Bytes(bytes) } }
    }

    /// Bytes `start..end` of `generator`'s stream, produced frame by frame as the connection
    /// asks for them.
    pub(crate) fn generated(generator: Generator, start: u64, end: u64) -> Self {
        if start >= end {
            Self::empty()
        } else {
            ResponseBody { kind: Kind::Generated { generator, next: start, end } }
        }
    }

    fn remaining(&self) -> u64 {
        match &self.kind {
            Kind::Empty => 0,
            Kind::Bytes(bytes) => bytes.len() as u64,
            Kind::Generated { next, end, .. } => end - next,
        }
    }
}

impl Body for ResponseBody {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        let this = self.get_mut();
        let frame = match &mut this.kind {
            Kind::Empty => None,
            Kind::Bytes(bytes) => {
                let bytes = std::mem::take(bytes);
                this.kind = Kind::Empty;
                Some(bytes)
            }
            Kind::Generated { generator, next, end } => {
                let len = (*end - *next).min(FRAME_BYTES);
                // `len` is at most FRAME_BYTES, so it fits in usize.
                let mut buf = vec![0u8; len as usize];
                generator.fill(*next, &mut buf);
                *next += len;
                if next == end {
                    this.kind = Kind::Empty;
                }
                Some(Bytes::from(buf))
            }
        };
        Poll::Ready(frame.map(|bytes| Ok(Frame::data(bytes))))
    }

    fn is_end_stream(&self) -> bool {
        matches!(self.kind, Kind::Empty)
    }

    fn size_hint(&self) -> SizeHint {
        SizeHint::with_exact(self.remaining())
    }
}

#[cfg(test)]
mod tests {
    use http_body_util::BodyExt;

    use super::*;

    #[tokio::test]
    async fn generated_body_is_chunked_and_exact() {
        let g = Generator::for_object("o");
        let start = 3;
        let end = 3 + 2 * FRAME_BYTES + 5;
        let mut body = ResponseBody::generated(g, start, end);
        assert_eq!(body.size_hint().exact(), Some(end - start));
        let mut offset = start;
        while let Some(frame) = body.frame().await {
            let data = frame.unwrap().into_data().unwrap();
            assert!(data.len() as u64 <= FRAME_BYTES);
            assert_eq!(data[0], g.byte_at(offset));
            offset += data.len() as u64;
        }
        assert_eq!(offset, end);
        assert!(body.is_end_stream());
    }

    #[tokio::test]
    async fn bytes_body_yields_once() {
        let body = ResponseBody::bytes(Bytes::from_static(b"abc"));
        assert_eq!(body.size_hint().exact(), Some(3));
        assert_eq!(body.collect().await.unwrap().to_bytes(), Bytes::from_static(b"abc"));
        assert!(ResponseBody::bytes(Bytes::new()).is_end_stream());
        assert!(ResponseBody::generated(Generator::for_object("o"), 5, 5).is_end_stream());
    }
}
