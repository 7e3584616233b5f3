//! Response bodies: nothing, bytes already in memory, or generated content streamed in
//! bounded frames.

use std::pin::Pin;
use std::task::{Context, Poll, ready};
use std::time::Duration;

use bytes::Bytes;
use hyper::body::{Body, Frame, SizeHint};
use tokio::time::{Instant, Sleep};

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
    Generated { generator: Generator, next: u64, end: u64, shape: Box<Shape> },
}

/// How a generated body is sent: paced to a rate, and maybe cut or paused at one offset.
#[derive(Debug, Default)]
pub(crate) struct Shape {
    /// Bytes per second; unpaced when `None`.
    rate: Option<u64>,
    /// When the first frame was asked for, and bytes sent since (for pacing).
    started: Option<Instant>,
    sent: u64,
    /// At this offset of the stream: fail the body (cut the connection) or pause.
    hiccup: Option<(u64, Hiccup)>,
    /// The pending wait (pacing or a pause).
    sleep: Option<Pin<Box<Sleep>>>,
}

/// What happens at a [`Shape`]'s hiccup offset.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Hiccup {
    /// The body fails: hyper drops the connection mid-body.
    Cut,
    /// Nothing is sent for this long, then the rest.
    Pause(Duration),
}

impl Shape {
    /// Paced at `rate` bytes per second, if any.
    pub(crate) fn paced(rate: Option<u64>) -> Self {
        Shape { rate: rate.filter(|&r| r > 0), ..Shape::default() }
    }

    /// With a hiccup at stream offset `at`.
    pub(crate) fn with_hiccup(mut self, at: u64, hiccup: Hiccup) -> Self {
        self.hiccup = Some((at, hiccup));
        self
    }

    /// Ready when the next frame may go: after any pending sleep, and no earlier than the
    /// rate allows for the bytes already sent.
    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<()> {
        loop {
            if let Some(sleep) = &mut self.sleep {
                ready!(sleep.as_mut().poll(cx));
                self.sleep = None;
            }
            let Some(rate) = self.rate else { return Poll::Ready(()) };
            let started = *self.started.get_or_insert_with(Instant::now);
            let due = started + Duration::from_secs_f64(self.sent as f64 / rate as f64);
            if due <= Instant::now() {
                return Poll::Ready(());
            }
            self.sleep = Some(Box::pin(tokio::time::sleep_until(due)));
        }
    }
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
            ResponseBody { kind: Kind::Generated { generator, next: start, end, shape: Box::default() } }
        }
    }

    /// Sends a generated body as `shape` says (other bodies are sent as they are).
    pub(crate) fn shaped(mut self, new: Shape) -> Self {
        if let Kind::Generated { shape, .. } = &mut self.kind {
            **shape = new;
        }
        self
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
    type Error = std::io::Error;

    fn poll_frame(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        let this = self.get_mut();
        if let Kind::Generated { next, shape, .. } = &mut this.kind {
            ready!(shape.poll_ready(cx));
            match shape.hiccup {
                Some((at, Hiccup::Cut)) if *next >= at => {
                    return Poll::Ready(Some(Err(std::io::Error::other("injected fault: body cut"))));
                }
                Some((at, Hiccup::Pause(pause))) if *next >= at => {
                    shape.hiccup = None;
                    shape.sleep = Some(Box::pin(tokio::time::sleep(pause)));
                    // Paced bytes are due relative to the end of the pause.
                    shape.started = shape.started.map(|s| s + pause);
                    ready!(shape.poll_ready(cx));
                }
                _ => {}
            }
        }
        let frame = match &mut this.kind {
            Kind::Empty => None,
            Kind::Bytes(bytes) => {
                let bytes = std::mem::take(bytes);
                this.kind = Kind::Empty;
                Some(bytes)
            }
            Kind::Generated { generator, next, end, shape } => {
                let mut len = (*end - *next).min(FRAME_BYTES);
                if let Some((at, _)) = shape.hiccup.filter(|(at, _)| *at > *next) {
                    len = len.min(at - *next);
                }
                shape.sent += len;
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
        let mut body = ResponseBody::generated(g.clone(), start, end);
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

    #[tokio::test(start_paused = true)]
    async fn a_paced_body_goes_at_its_rate() {
        let g = Generator::for_object("o");
        let body = ResponseBody::generated(g.clone(), 0, 4 * FRAME_BYTES).shaped(Shape::paced(Some(FRAME_BYTES)));
        let start = Instant::now();
        let bytes = body.collect().await.unwrap().to_bytes();
        assert_eq!(bytes.len() as u64, 4 * FRAME_BYTES);
        // Frame k goes at k seconds: the last at 3 s.
        assert_eq!(start.elapsed(), Duration::from_secs(3));
    }

    #[tokio::test(start_paused = true)]
    async fn hiccups_cut_or_pause_at_their_offset() {
        let g = Generator::for_object("o");
        let at = FRAME_BYTES + 5;
        let mut cut = ResponseBody::generated(g.clone(), 0, 4 * FRAME_BYTES)
            .shaped(Shape::paced(None).with_hiccup(at, Hiccup::Cut));
        let mut sent = 0;
        let error = loop {
            match cut.frame().await.unwrap() {
                Ok(frame) => sent += frame.into_data().unwrap().len() as u64,
                Err(error) => break error,
            }
        };
        assert_eq!(sent, at);
        assert!(error.to_string().contains("injected"));

        let pause = Duration::from_secs(7);
        let paused = ResponseBody::generated(g.clone(), 0, 4 * FRAME_BYTES)
            .shaped(Shape::paced(None).with_hiccup(at, Hiccup::Pause(pause)));
        let start = Instant::now();
        assert_eq!(paused.collect().await.unwrap().to_bytes().len() as u64, 4 * FRAME_BYTES);
        assert_eq!(start.elapsed(), pause);
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
