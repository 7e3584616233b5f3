//! HTTP/1.1 on the wire, without IO: a request's bytes, and a response read as it arrives.
//!
//! The event loop hands [`ResponseReader::feed`] whatever a `recv` returned and learns whether
//! the response is complete. Bodies are framed by `Content-Length`, `Transfer-Encoding:
//! chunked`, or the end of the connection; the reader never holds more than the body cap.

use bytes::{Buf, Bytes, BytesMut};
use http::header::{CONNECTION, CONTENT_LENGTH, HOST, RANGE, TRANSFER_ENCODING};
use http::{HeaderName, HeaderValue, Method, Request, Response, StatusCode, Version};
use stowage_proto::TransportError;

/// The most headers a response may have.
const MAX_HEADERS: usize = 128;
/// The longest response head (status line and headers), in bytes.
const MAX_HEAD: usize = 64 << 10;
/// The longest chunk-size line (with extensions) of a chunked body.
const MAX_CHUNK_LINE: usize = 4 << 10;

/// The bytes of `request` as HTTP/1.1: request line, `Host`, the request's headers,
/// `Content-Length` when it has a body (or its method usually does), then the body.
///
/// `target` is the request-target (origin form: path and query).
pub(crate) fn encode_request(request: &Request<Bytes>, host: &str, target: &str) -> Vec<u8> {
    let body = request.body();
    let mut out = Vec::with_capacity(128 + target.len() + body.len());
    out.extend_from_slice(request.method().as_str().as_bytes());
    out.push(b' ');
    out.extend_from_slice(target.as_bytes());
    out.extend_from_slice(b" HTTP/1.1\r\n");
    if !request.headers().contains_key(HOST) {
        header(&mut out, HOST.as_str(), host.as_bytes());
    }
    for (name, value) in request.headers() {
        if name != CONTENT_LENGTH {
            header(&mut out, name.as_str(), value.as_bytes());
        }
    }
    let sends_length = !body.is_empty() || !matches!(*request.method(), Method::GET | Method::HEAD);
    if sends_length {
        header(&mut out, CONTENT_LENGTH.as_str(), body.len().to_string().as_bytes());
    }
    out.extend_from_slice(b"\r\n");
    out.extend_from_slice(body);
    out
}

/// The bytes of `GET target` with `Range: range` (a ranged request of a download).
pub(crate) fn encode_range_get(host: &str, target: &str, range: &str) -> Vec<u8> {
    let mut out = Vec::with_capacity(64 + host.len() + target.len() + range.len());
    out.extend_from_slice(b"GET ");
    out.extend_from_slice(target.as_bytes());
    out.extend_from_slice(b" HTTP/1.1\r\n");
    header(&mut out, HOST.as_str(), host.as_bytes());
    header(&mut out, RANGE.as_str(), range.as_bytes());
    out.extend_from_slice(b"\r\n");
    out
}

fn header(out: &mut Vec<u8>, name: &str, value: &[u8]) {
    out.extend_from_slice(name.as_bytes());
    out.extend_from_slice(b": ");
    out.extend_from_slice(value);
    out.extend_from_slice(b"\r\n");
}

/// What [`ResponseReader::feed`] made of the bytes so far.
#[derive(Debug)]
pub(crate) enum Progress {
    /// The response is not complete yet: read more.
    More,
    /// The response is complete. `reusable` says whether the connection may carry another
    /// request (HTTP/1.1 keep-alive, nothing left over, body not framed by the close).
    Done { response: Response<Bytes>, reusable: bool },
}

/// How the body of the response being read ends.
#[derive(Debug)]
enum Framing {
    /// After exactly this many more bytes.
    Length(u64),
    /// Chunked: the state of the chunk decoder.
    Chunked(Chunk),
    /// When the server closes the connection.
    Close,
}

/// Where a chunked body's decoder is.
#[derive(Debug, Clone, Copy)]
enum Chunk {
    /// Reading a chunk-size line.
    Size,
    /// Reading this many more data bytes of the current chunk.
    Data(u64),
    /// Reading the CRLF after a chunk's data.
    DataEnd,
    /// Reading trailer lines after the last (zero-size) chunk.
    Trailers,
}

/// Reads one response from the bytes of a connection.
///
/// Invariants: the body held never exceeds `max_body`; a response is reported complete at most
/// once; bytes after the end of the response make the connection not reusable.
#[derive(Debug)]
pub(crate) struct ResponseReader {
    /// Bytes received and not consumed yet.
    buffer: BytesMut,
    /// The response head, once parsed.
    head: Option<Head>,
    body: BytesMut,
    max_body: usize,
    /// The request was a HEAD: the response has no body whatever its headers say.
    head_request: bool,
}

/// A parsed response head and how its body is framed.
#[derive(Debug)]
pub(crate) struct Head {
    pub(crate) response: Response<()>,
    framing: Framing,
    pub(crate) keep_alive: bool,
}

impl Head {
    /// The body's length when `Content-Length` frames it (`None`: chunked, or until close).
    pub(crate) fn content_length(&self) -> Option<u64> {
        match self.framing {
            Framing::Length(length) => Some(length),
            Framing::Chunked(_) | Framing::Close => None,
        }
    }

    /// Whether the body ends when the server closes the connection.
    pub(crate) fn until_close(&self) -> bool {
        matches!(self.framing, Framing::Close)
    }
}

/// Parses the response head at the start of `buffer`: `None` while it is incomplete, else the
/// head and its length in bytes. An endless head, a bad status line or header, conflicting
/// lengths or a `Content-Length` over `max_body` are [`TransportError::Protocol`].
pub(crate) fn parse_head(
    buffer: &[u8],
    head_request: bool,
    max_body: u64,
) -> Result<Option<(Head, usize)>, TransportError> {
    let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut parsed = httparse::Response::new(&mut headers);
    let length = match parsed.parse(buffer) {
        Ok(httparse::Status::Complete(length)) => length,
        Ok(httparse::Status::Partial) if buffer.len() > MAX_HEAD => return Err(TransportError::Protocol),
        Ok(httparse::Status::Partial) => return Ok(None),
        Err(_) => return Err(TransportError::Protocol),
    };
    let status = parsed.code.and_then(|c| StatusCode::from_u16(c).ok()).ok_or(TransportError::Protocol)?;
    let version = if parsed.version == Some(0) { Version::HTTP_10 } else { Version::HTTP_11 };
    let mut response = Response::new(());
    *response.status_mut() = status;
    *response.version_mut() = version;
    for h in parsed.headers.iter() {
        let name = HeaderName::from_bytes(h.name.as_bytes()).map_err(|_| TransportError::Protocol)?;
        let value = HeaderValue::from_bytes(h.value).map_err(|_| TransportError::Protocol)?;
        response.headers_mut().append(name, value);
    }
    let framing = framing(&response, head_request, max_body)?;
    let keep_alive = keep_alive(&response);
    Ok(Some((Head { response, framing, keep_alive }, length)))
}

/// How the body of `response` is framed.
fn framing(response: &Response<()>, head_request: bool, max_body: u64) -> Result<Framing, TransportError> {
    let status = response.status();
    if head_request || status.is_informational() || status == 204 || status == 304 {
        return Ok(Framing::Length(0));
    }
    let headers = response.headers();
    let chunked = headers
        .get_all(TRANSFER_ENCODING)
        .iter()
        .any(|v| v.to_str().is_ok_and(|v| v.to_ascii_lowercase().contains("chunked")));
    if chunked {
        return Ok(Framing::Chunked(Chunk::Size));
    }
    let mut lengths = headers.get_all(CONTENT_LENGTH).iter();
    let Some(first) = lengths.next() else { return Ok(Framing::Close) };
    if lengths.any(|other| other != first) {
        return Err(TransportError::Protocol);
    }
    let length: u64 = first.to_str().ok().and_then(|v| v.trim().parse().ok()).ok_or(TransportError::Protocol)?;
    if length > max_body {
        return Err(TransportError::Protocol);
    }
    Ok(Framing::Length(length))
}

impl ResponseReader {
    /// A reader for the response to a request with `method`, capping bodies at `max_body`.
    pub(crate) fn new(method: &Method, max_body: usize) -> Self {
        ResponseReader {
            buffer: BytesMut::new(),
            head: None,
            body: BytesMut::new(),
            max_body,
            head_request: *method == Method::HEAD,
        }
    }

    /// Whether any byte of the response has arrived.
    pub(crate) fn started(&self) -> bool {
        self.head.is_some() || !self.buffer.is_empty()
    }

    /// Takes `data`, just received.
    pub(crate) fn feed(&mut self, data: &[u8]) -> Result<Progress, TransportError> {
        self.buffer.extend_from_slice(data);
        if self.head.is_none() {
            match self.parse_head()? {
                Some(head) => self.head = Some(head),
                None => return Ok(Progress::More),
            }
        }
        self.read_body()
    }

    /// The server closed the connection: the response ends here if its body is framed by the
    /// close, else it is incomplete.
    pub(crate) fn eof(&mut self) -> Result<Response<Bytes>, TransportError> {
        match self.head.take() {
            Some(Head { response, framing: Framing::Close, .. }) => Ok(self.finish(response)),
            _ => Err(TransportError::Closed),
        }
    }

    fn parse_head(&mut self) -> Result<Option<Head>, TransportError> {
        let Some((head, length)) = parse_head(&self.buffer, self.head_request, self.max_body as u64)? else {
            return Ok(None);
        };
        self.buffer.advance(length);
        Ok(Some(head))
    }

    fn read_body(&mut self) -> Result<Progress, TransportError> {
        let Some(head) = self.head.as_mut() else { return Ok(Progress::More) };
        loop {
            match &mut head.framing {
                Framing::Length(left) => {
                    let take = usize::try_from(*left).unwrap_or(usize::MAX).min(self.buffer.len());
                    self.body.extend_from_slice(&self.buffer.split_to(take));
                    *left -= take as u64;
                    if *left > 0 {
                        return Ok(Progress::More);
                    }
                    break;
                }
                Framing::Close => {
                    let data = self.buffer.split();
                    self.body.extend_from_slice(&data);
                    if self.body.len() > self.max_body {
                        return Err(TransportError::Protocol);
                    }
                    return Ok(Progress::More);
                }
                Framing::Chunked(chunk) => match step_chunk(chunk, &mut self.buffer, &mut self.body)? {
                    ChunkStep::Continue => {
                        if self.body.len() > self.max_body {
                            return Err(TransportError::Protocol);
                        }
                    }
                    ChunkStep::More => return Ok(Progress::More),
                    ChunkStep::End => break,
                },
            }
        }
        let Some(Head { response, keep_alive, .. }) = self.head.take() else { return Ok(Progress::More) };
        let reusable = keep_alive && self.buffer.is_empty();
        Ok(Progress::Done { response: self.finish(response), reusable })
    }

    fn finish(&mut self, head: Response<()>) -> Response<Bytes> {
        let body = std::mem::take(&mut self.body).freeze();
        head.map(|()| body)
    }
}

/// What one step of the chunk decoder did.
enum ChunkStep {
    /// Consumed something; step again.
    Continue,
    /// Needs more bytes.
    More,
    /// The body is complete.
    End,
}

/// Decodes as much of a chunked body as `buffer` holds, one element at a time.
fn step_chunk(chunk: &mut Chunk, buffer: &mut BytesMut, body: &mut BytesMut) -> Result<ChunkStep, TransportError> {
    match *chunk {
        Chunk::Size => {
            let Some(line) = take_line(buffer, MAX_CHUNK_LINE)? else { return Ok(ChunkStep::More) };
            let mut with_crlf = line.to_vec();
            with_crlf.extend_from_slice(b"\r\n");
            let size = match httparse::parse_chunk_size(&with_crlf) {
                Ok(httparse::Status::Complete((_, size))) => size,
                _ => return Err(TransportError::Protocol),
            };
            *chunk = if size == 0 { Chunk::Trailers } else { Chunk::Data(size) };
        }
        Chunk::Data(left) => {
            if buffer.is_empty() {
                return Ok(ChunkStep::More);
            }
            let take = usize::try_from(left).unwrap_or(usize::MAX).min(buffer.len());
            body.extend_from_slice(&buffer.split_to(take));
            let left = left - take as u64;
            *chunk = if left == 0 { Chunk::DataEnd } else { Chunk::Data(left) };
        }
        Chunk::DataEnd => {
            if buffer.len() < 2 {
                return Ok(ChunkStep::More);
            }
            if &buffer[..2] != b"\r\n" {
                return Err(TransportError::Protocol);
            }
            buffer.advance(2);
            *chunk = Chunk::Size;
        }
        Chunk::Trailers => {
            let Some(line) = take_line(buffer, MAX_HEAD)? else { return Ok(ChunkStep::More) };
            if line.is_empty() {
                return Ok(ChunkStep::End);
            }
        }
    }
    Ok(ChunkStep::Continue)
}

/// The next CRLF-terminated line of `buffer` (without the CRLF), if it is all there.
fn take_line(buffer: &mut BytesMut, max: usize) -> Result<Option<BytesMut>, TransportError> {
    match buffer.windows(2).position(|w| w == b"\r\n") {
        Some(end) => {
            let line = buffer.split_to(end);
            buffer.advance(2);
            Ok(Some(line))
        }
        None if buffer.len() > max => Err(TransportError::Protocol),
        None => Ok(None),
    }
}

/// Whether the server lets the connection carry another request.
fn keep_alive(response: &Response<()>) -> bool {
    let says = |token: &str| {
        response
            .headers()
            .get_all(CONNECTION)
            .iter()
            .any(|v| v.to_str().is_ok_and(|v| v.split(',').any(|t| t.trim().eq_ignore_ascii_case(token))))
    };
    match response.version() {
        Version::HTTP_10 => says("keep-alive"),
        _ => !says("close"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read_all(method: Method, wire: &[u8], step: usize) -> Result<(Response<Bytes>, bool), TransportError> {
        let mut reader = ResponseReader::new(&method, 1 << 20);
        for piece in wire.chunks(step.max(1)) {
            if let Progress::Done { response, reusable } = reader.feed(piece)? {
                return Ok((response, reusable));
            }
        }
        reader.eof().map(|r| (r, false))
    }

    #[test]
    fn a_request_is_encoded_with_host_and_length() {
        let request = Request::post("/v1/objects/b/o?provider=aws")
            .header("content-type", "application/json")
            .body(Bytes::from_static(b"{}"))
            .unwrap();
        let wire = encode_request(&request, "127.0.0.1:8080", "/v1/objects/b/o?provider=aws");
        assert_eq!(
            String::from_utf8(wire).unwrap(),
            "POST /v1/objects/b/o?provider=aws HTTP/1.1\r\nhost: 127.0.0.1:8080\r\n\
             content-type: application/json\r\ncontent-length: 2\r\n\r\n{}"
        );
        let get = Request::get("/x").body(Bytes::new()).unwrap();
        assert_eq!(encode_request(&get, "h", "/x"), b"GET /x HTTP/1.1\r\nhost: h\r\n\r\n");
        let ranged = encode_range_get("h", "/x?y=1", "bytes=0-9");
        assert_eq!(ranged, b"GET /x?y=1 HTTP/1.1\r\nhost: h\r\nrange: bytes=0-9\r\n\r\n");
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
    }

    #[test]
    fn connection_close_and_http_1_0_are_not_reusable() {
        let close = b"HTTP/1.1 204 No Content\r\nConnection: close\r\n\r\n";
        assert!(!read_all(Method::GET, close, 100).unwrap().1);
        let old = b"HTTP/1.0 200 OK\r\nContent-Length: 0\r\n\r\n";
        assert!(!read_all(Method::GET, old, 100).unwrap().1);
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
            assert_eq!(read_all(Method::GET, wire, 3).unwrap_err(), want, "{}", String::from_utf8_lossy(wire));
        }
    }

    #[test]
    fn bodies_over_the_cap_fail_as_soon_as_they_pass_it() {
        let mut reader = ResponseReader::new(&Method::GET, 4);
        assert!(matches!(reader.feed(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"), Ok(Progress::More)));
        assert_eq!(reader.feed(b"5\r\nhello\r\n").unwrap_err(), TransportError::Protocol);
        let mut reader = ResponseReader::new(&Method::GET, 4);
        assert_eq!(reader.feed(b"HTTP/1.1 200 OK\r\n\r\nhello").unwrap_err(), TransportError::Protocol);
    }

    #[test]
    fn an_endless_head_is_refused() {
        let mut reader = ResponseReader::new(&Method::GET, 4);
        reader.feed(b"HTTP/1.1 200 OK\r\n").unwrap();
        let junk = vec![b'a'; MAX_HEAD + 1];
        assert_eq!(reader.feed(&junk).unwrap_err(), TransportError::Protocol);
    }

    #[test]
    fn leftover_bytes_make_the_connection_not_reusable() {
        let wire = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nokEXTRA";
        let (response, reusable) = read_all(Method::GET, wire, 100).unwrap();
        assert_eq!(response.body(), "ok");
        assert!(!reusable);
    }
}
