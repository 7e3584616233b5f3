//! One response read from the bytes of a connection as they arrive.

use bytes::{Buf, Bytes, BytesMut};
use http::{Method, Response};

use crate::ResponseError;
use crate::chunked::Decoder;
use crate::head::{Framing, Head, parse};

/// What [`ResponseReader::feed`] made of the bytes so far.
#[derive(Debug)]
pub enum Progress {
    /// The response is not complete yet: read more (or call [`ResponseReader::eof`] if the
    /// server closed the connection).
    More,
    /// The response is complete.
    Done {
        /// The response, its whole body included.
        response: Response<Bytes>,
        /// Whether the connection may carry another request: the server allows it
        /// ([`Head::keep_alive`]), the body was not framed by the close, and no byte arrived
        /// after the end of the response.
        reusable: bool,
    },
}

/// Reads one response from the bytes of a connection, fed in whatever pieces they arrive.
///
/// Bodies are framed by `Content-Length`, `Transfer-Encoding: chunked` or the end of the
/// connection ([`Framing`]); a response to `HEAD`, and a 1xx, 204 or 304 response, has none.
///
/// Invariants:
/// - the body held never exceeds `max_body`: a longer one is
///   [`BodyTooLarge`](ResponseError::BodyTooLarge) as soon as that is known (from the
///   `Content-Length`, a chunk's size, or the bytes of a body framed by the close);
/// - the outcome does not depend on how the bytes are split: the same bytes fed in any pieces
///   give the same response, or the same error, or both need more (only `reusable` can differ:
///   bytes after the end of the response rule reuse out only if they came before it was done);
/// - a response is reported complete at most once: after [`Progress::Done`] or an error, the
///   reader is finished and refuses more input with [`Finished`](ResponseError::Finished);
/// - bytes after the end of the response are not read, and make the connection not reusable.
///
/// ```
/// use stowage_http1::{Progress, ResponseReader};
///
/// let mut reader = ResponseReader::new(&http::Method::GET, 1 << 20);
/// assert!(matches!(reader.feed(b"HTTP/1.1 200 OK\r\nContent-Le")?, Progress::More));
/// assert!(matches!(reader.feed(b"ngth: 5\r\n\r\nhel")?, Progress::More));
/// let Progress::Done { response, reusable } = reader.feed(b"lo")? else { panic!("complete") };
/// assert_eq!(response.status(), http::StatusCode::OK);
/// assert_eq!((response.body().as_ref(), reusable), (&b"hello"[..], true));
/// # Ok::<(), stowage_http1::ResponseError>(())
/// ```
#[derive(Debug)]
pub struct ResponseReader {
    /// Bytes received and not consumed yet.
    buffer: BytesMut,
    /// Whether any byte was fed.
    started: bool,
    state: State,
    /// The body decoded so far: at most `max_body` bytes.
    body: BytesMut,
    max_body: usize,
    /// The request was a HEAD: the response has no body whatever its headers say.
    head_request: bool,
}

/// Where a [`ResponseReader`] is.
#[derive(Debug)]
enum State {
    /// Waiting for the whole head.
    Head,
    /// Reading the body of the response with this head.
    Body(Head, Body),
    /// The response was reported, or failed.
    Finished,
}

/// How much of the body is left.
#[derive(Debug)]
enum Body {
    /// This many more bytes.
    Length(u64),
    /// Chunks, as far as the decoder got.
    Chunked(Decoder),
    /// Everything until the close.
    Close,
}

impl ResponseReader {
    /// A reader for the response to a request with `method`, capping bodies at `max_body`
    /// bytes.
    pub fn new(method: &Method, max_body: usize) -> Self {
        ResponseReader {
            buffer: BytesMut::new(),
            started: false,
            state: State::Head,
            body: BytesMut::new(),
            max_body,
            head_request: *method == Method::HEAD,
        }
    }

    /// Whether any byte of the response has arrived (whatever became of it since): a driver
    /// may retry a request on a fresh connection if its reused one closed before this.
    pub fn started(&self) -> bool {
        self.started
    }

    /// The bytes of the body decoded so far (never more than `max_body`).
    pub fn body_len(&self) -> usize {
        self.body.len()
    }

    /// Takes `data`, just received, and says whether the response is complete.
    ///
    /// An error finishes the reader: the connection is not in a state to read from again.
    pub fn feed(&mut self, data: &[u8]) -> Result<Progress, ResponseError> {
        if matches!(self.state, State::Finished) {
            return Err(ResponseError::Finished);
        }
        self.started |= !data.is_empty();
        self.buffer.extend_from_slice(data);
        self.advance()
    }

    /// The server closed the connection: the response ends here if its body is framed by the
    /// close, else it is incomplete ([`Closed`](ResponseError::Closed)). Either way the reader
    /// is finished.
    pub fn eof(&mut self) -> Result<Response<Bytes>, ResponseError> {
        match std::mem::replace(&mut self.state, State::Finished) {
            State::Body(head, Body::Close) => Ok(self.finish(head)),
            State::Head | State::Body(..) => Err(ResponseError::Closed),
            State::Finished => Err(ResponseError::Finished),
        }
    }

    /// Reads as far as the buffer allows. The state is [`State::Finished`] while it works, so
    /// an error leaves it there.
    fn advance(&mut self) -> Result<Progress, ResponseError> {
        let (head, mut body) = match std::mem::replace(&mut self.state, State::Finished) {
            State::Head => {
                let Some((head, length)) = parse(&self.buffer, self.head_request, cap(self.max_body))? else {
                    self.state = State::Head;
                    return Ok(Progress::More);
                };
                self.buffer.advance(length);
                let body = match head.framing() {
                    Framing::Length(length) => Body::Length(length),
                    Framing::Chunked => Body::Chunked(Decoder::new()),
                    Framing::Close => Body::Close,
                };
                (head, body)
            }
            State::Body(head, body) => (head, body),
            State::Finished => return Err(ResponseError::Finished),
        };
        let complete = match &mut body {
            Body::Length(left) => {
                let take = usize::try_from(*left).unwrap_or(usize::MAX).min(self.buffer.len());
                self.body.extend_from_slice(&self.buffer.split_to(take));
                *left -= take as u64;
                *left == 0
            }
            Body::Chunked(decoder) => decoder.decode(&mut self.buffer, &mut self.body, self.max_body)?,
            Body::Close => {
                if self.buffer.len() > self.max_body.saturating_sub(self.body.len()) {
                    return Err(ResponseError::BodyTooLarge { cap: cap(self.max_body) });
                }
                self.body.extend_from_slice(&self.buffer.split());
                false
            }
        };
        if !complete {
            self.state = State::Body(head, body);
            return Ok(Progress::More);
        }
        let reusable = head.keep_alive() && self.buffer.is_empty();
        Ok(Progress::Done { response: self.finish(head), reusable })
    }

    /// The response with `head` and the body read.
    fn finish(&mut self, head: Head) -> Response<Bytes> {
        let body = std::mem::take(&mut self.body).freeze();
        head.into_response().map(|()| body)
    }
}

/// `max_body` as a number of bytes on the wire.
fn cap(max_body: usize) -> u64 {
    u64::try_from(max_body).unwrap_or(u64::MAX)
}

#[cfg(test)]
mod tests {
    use http::header::CONTENT_LENGTH;
    use stowage_proto::TransportError;

    use super::*;
    use crate::head::MAX_HEAD;

    /// Reads `wire` fed in pieces of `step` bytes, then the close: the response and whether
    /// its connection is reusable.
    fn read_all(method: Method, wire: &[u8], step: usize) -> Result<(Response<Bytes>, bool), ResponseError> {
        read_pieces(method, 1 << 20, wire.chunks(step.max(1)))
    }

    fn read_pieces<'a>(
        method: Method,
        max_body: usize,
        pieces: impl IntoIterator<Item = &'a [u8]>,
    ) -> Result<(Response<Bytes>, bool), ResponseError> {
        let mut reader = ResponseReader::new(&method, max_body);
        for piece in pieces {
            let progress = reader.feed(piece);
            assert!(reader.body_len() <= max_body);
            if let Progress::Done { response, reusable } = progress? {
                return Ok((response, reusable));
            }
        }
        reader.eof().map(|r| (r, false))
    }

    #[test]
    fn content_length_bodies_in_any_pieces() {
        let wire = b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nX-A: 1\r\n\r\nhello";
        for step in [1, 2, 7, 100] {
            let (response, reusable) = read_all(Method::GET, wire, step).unwrap();
            assert_eq!(response.status(), 200);
            assert_eq!(response.headers()["x-a"], "1");
            assert_eq!(response.body(), "hello");
            assert!(reusable, "step {step}");
        }
    }

    #[test]
    fn chunked_bodies_with_extensions_and_trailers() {
        let wire =
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5;x=y\r\nhello\r\n6\r\n world\r\n0\r\nT: 1\r\n\r\n";
        for step in [1, 3, 1000] {
            let (response, reusable) = read_all(Method::GET, wire, step).unwrap();
            assert_eq!(response.body(), "hello world", "step {step}");
            assert!(reusable);
        }
    }

    #[test]
    fn a_chunked_body_split_at_any_two_points_reads_the_same() {
        let wire = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3;e\r\nabc\r\n1\r\nd\r\n0\r\nT: x\r\n\r\n";
        let whole = read_all(Method::GET, wire, wire.len()).unwrap();
        assert_eq!((whole.0.body().as_ref(), whole.1), (&b"abcd"[..], true));
        for i in 0..=wire.len() {
            for j in i..=wire.len() {
                let pieces = [&wire[..i], &wire[i..j], &wire[j..]];
                let (response, reusable) = read_pieces(Method::GET, 1 << 20, pieces).unwrap();
                assert_eq!((response.body(), reusable), (whole.0.body(), whole.1), "split at {i}, {j}");
                assert_eq!(response.headers(), whole.0.headers());
            }
        }
    }

    #[test]
    fn a_body_framed_by_the_close_ends_at_eof() {
        let (response, reusable) = read_all(Method::GET, b"HTTP/1.1 200 OK\r\n\r\nuntil close", 4).unwrap();
        assert_eq!(response.body(), "until close");
        assert!(!reusable);
    }

    #[test]
    fn head_responses_have_no_body_whatever_their_length_says() {
        let wire = b"HTTP/1.1 200 OK\r\nContent-Length: 107374182400\r\n\r\n";
        let (response, reusable) = read_all(Method::HEAD, wire, 5).unwrap();
        assert_eq!(response.headers()[CONTENT_LENGTH], "107374182400");
        assert!(response.body().is_empty() && reusable);
        let chunked = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n";
        let (response, reusable) = read_all(Method::HEAD, chunked, 1).unwrap();
        assert!(response.body().is_empty() && reusable);
    }

    #[test]
    fn statuses_without_a_body_are_done_at_their_head() {
        for status in [100, 103, 204, 304] {
            let wire = format!("HTTP/1.1 {status} X\r\nContent-Length: 5\r\n\r\n");
            let mut reader = ResponseReader::new(&Method::GET, 0);
            let Ok(Progress::Done { response, reusable }) = reader.feed(wire.as_bytes()) else { panic!("{status}") };
            assert_eq!((response.status().as_u16(), response.body().len(), reusable), (status, 0, true));
            // What follows is not theirs, and rules reuse out.
            let (response, reusable) = read_all(Method::GET, format!("{wire}hello").as_bytes(), 1000).unwrap();
            assert!(response.body().is_empty() && !reusable, "{status}");
        }
    }

    #[test]
    fn connection_close_and_http_1_0_are_not_reusable() {
        let close = b"HTTP/1.1 204 No Content\r\nConnection: close\r\n\r\n";
        assert!(!read_all(Method::GET, close, 100).unwrap().1);
        let old = b"HTTP/1.0 200 OK\r\nContent-Length: 0\r\n\r\n";
        assert!(!read_all(Method::GET, old, 100).unwrap().1);
    }

    #[test]
    fn http_1_0_with_keep_alive_is_reusable() {
        let wire = b"HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 2\r\n\r\nok";
        let (response, reusable) = read_all(Method::GET, wire, 3).unwrap();
        assert_eq!(
            (response.version(), response.body().as_ref(), reusable),
            (http::Version::HTTP_10, &b"ok"[..], true)
        );
        // But not when the close frames its body.
        let close = b"HTTP/1.0 200 OK\r\nConnection: keep-alive\r\n\r\nok";
        assert!(!read_all(Method::GET, close, 3).unwrap().1);
    }

    #[test]
    fn transfer_encoding_wins_over_content_length() {
        let wire = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n";
        let (response, reusable) = read_all(Method::GET, wire, 4).unwrap();
        assert_eq!((response.body().as_ref(), reusable), (&b"abc"[..], true));
    }

    #[test]
    fn hostile_responses_are_protocol_errors_or_closed() {
        let cases: [(&[u8], TransportError); 7] = [
            (b"NOT HTTP AT ALL\r\n\r\n", TransportError::Protocol),
            (b"HTTP/1.1 200 OK\r\nContent-Length: 99999999999\r\n\r\n", TransportError::Protocol),
            (b"HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n", TransportError::Protocol),
            (b"HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n", TransportError::Protocol),
            (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", TransportError::Protocol),
            (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n1\r\nab\r\n", TransportError::Protocol),
            (b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nshort", TransportError::Closed),
        ];
        for (wire, want) in cases {
            let error = read_all(Method::GET, wire, 3).unwrap_err();
            assert_eq!(TransportError::from(error), want, "{}", String::from_utf8_lossy(wire));
        }
    }

    #[test]
    fn a_close_before_the_end_is_closed() {
        for wire in [
            &b""[..],
            b"HTTP/1.1 200",
            b"HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\n",
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n1\r\na\r\n",
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n",
        ] {
            assert_eq!(read_all(Method::GET, wire, 2).unwrap_err(), ResponseError::Closed, "{wire:?}");
        }
    }

    #[test]
    fn bodies_over_the_cap_fail_as_soon_as_they_pass_it() {
        let mut reader = ResponseReader::new(&Method::GET, 4);
        assert!(matches!(reader.feed(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"), Ok(Progress::More)));
        assert_eq!(reader.feed(b"5\r\nhello\r\n").unwrap_err(), ResponseError::BodyTooLarge { cap: 4 });
        let mut reader = ResponseReader::new(&Method::GET, 4);
        assert_eq!(reader.feed(b"HTTP/1.1 200 OK\r\n\r\nhello").unwrap_err(), ResponseError::BodyTooLarge { cap: 4 });
    }

    #[test]
    fn a_body_of_exactly_the_cap_is_read_in_any_framing() {
        let wires: [&[u8]; 3] = [
            b"HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nabcd",
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n1\r\nd\r\n0\r\n\r\n",
            b"HTTP/1.1 200 OK\r\n\r\nabcd",
        ];
        for wire in wires {
            for step in [1, 1000] {
                let (response, _) = read_pieces(Method::GET, 4, wire.chunks(step)).unwrap();
                assert_eq!(response.body(), "abcd");
                let over = read_pieces(Method::GET, 3, wire.chunks(step)).unwrap_err();
                assert_eq!(over, ResponseError::BodyTooLarge { cap: 3 }, "{}", String::from_utf8_lossy(wire));
            }
        }
    }

    #[test]
    fn an_endless_head_is_refused() {
        let mut reader = ResponseReader::new(&Method::GET, 4);
        reader.feed(b"HTTP/1.1 200 OK\r\n").unwrap();
        let junk = vec![b'a'; MAX_HEAD + 1];
        assert_eq!(reader.feed(&junk).unwrap_err(), ResponseError::HeadTooLong);
    }

    #[test]
    fn leftover_bytes_make_the_connection_not_reusable() {
        let wire = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nokEXTRA";
        let (response, reusable) = read_all(Method::GET, wire, 100).unwrap();
        assert_eq!(response.body(), "ok");
        assert!(!reusable);
    }

    #[test]
    fn a_finished_reader_refuses_more() {
        let mut done = ResponseReader::new(&Method::GET, 16);
        assert!(matches!(done.feed(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"), Ok(Progress::Done { .. })));
        assert_eq!(done.feed(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n").unwrap_err(), ResponseError::Finished);
        assert_eq!(done.eof().unwrap_err(), ResponseError::Finished);
        let mut failed = ResponseReader::new(&Method::GET, 16);
        assert!(failed.feed(b"garbage\r\n\r\n").is_err());
        assert_eq!(failed.feed(b"").unwrap_err(), ResponseError::Finished);
        let mut closed = ResponseReader::new(&Method::GET, 16);
        assert!(closed.feed(b"HTTP/1.1 200 OK\r\n\r\nab").is_ok());
        assert_eq!(closed.eof().unwrap().body(), "ab");
        assert_eq!(closed.eof().unwrap_err(), ResponseError::Finished);
    }

    #[test]
    fn started_once_a_byte_arrives() {
        let mut reader = ResponseReader::new(&Method::GET, 16);
        assert!(!reader.started());
        reader.feed(b"").unwrap();
        assert!(!reader.started());
        reader.feed(b"H").unwrap();
        assert!(reader.started());
        reader.feed(b"TTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nab").unwrap();
        assert!(reader.started());
        assert_eq!(reader.body_len(), 2);
        assert_eq!(reader.eof().unwrap_err(), ResponseError::Closed);
        assert!(reader.started());
        // A close before any byte: not started, whatever the reader's state.
        let mut closed = ResponseReader::new(&Method::GET, 16);
        assert_eq!(closed.eof().unwrap_err(), ResponseError::Closed);
        assert!(!closed.started());
    }
}
