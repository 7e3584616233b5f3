//! A response head: status line and headers, and how the body that follows is framed.

use http::header::{CONNECTION, CONTENT_LENGTH, TRANSFER_ENCODING};
use http::{HeaderMap, HeaderName, HeaderValue, Method, Response, StatusCode, Version};

use crate::ResponseError;

/// The most headers a response may have.
pub const MAX_HEADERS: usize = 128;
/// The longest response head (status line, headers and the empty line that ends them), in
/// bytes. A trailer line of a chunked body has the same limit.
pub const MAX_HEAD: usize = 64 << 10;

/// How the body of a response ends (RFC 9112 §6.3).
///
/// The rules, first match wins: no body for a response to `HEAD` or a 1xx, 204 or 304 status;
/// chunked if a `Transfer-Encoding` value contains `chunked` (in any case); the
/// `Content-Length` if there is one; else the close.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Framing {
    /// After exactly this many bytes: a `Content-Length`, or no body at all (0) for a response
    /// to `HEAD` and for a 1xx, 204 or 304 status, whatever their headers say.
    Length(u64),
    /// `Transfer-Encoding: chunked` (which wins over a `Content-Length`).
    Chunked,
    /// Neither: when the server closes the connection.
    Close,
}

/// A parsed response head and how its body is framed.
///
/// Invariant: a [`Framing::Length`] is at most the `max_body` it was parsed with (a longer
/// `Content-Length` is an error, not a head).
#[derive(Debug)]
pub struct Head {
    response: Response<()>,
    framing: Framing,
    keep_alive: bool,
}

impl Head {
    /// The status code.
    pub fn status(&self) -> StatusCode {
        self.response.status()
    }

    /// `HTTP/1.0` or `HTTP/1.1`.
    pub fn version(&self) -> Version {
        self.response.version()
    }

    /// The headers, in the order received (names lowercased).
    pub fn headers(&self) -> &HeaderMap {
        self.response.headers()
    }

    /// The head as a response without a body.
    pub fn response(&self) -> &Response<()> {
        &self.response
    }

    /// The head as a response without a body, by value.
    pub fn into_response(self) -> Response<()> {
        self.response
    }

    /// How the body ends.
    pub fn framing(&self) -> Framing {
        self.framing
    }

    /// The body's length when it is known from the head (`None`: chunked, or until close).
    pub fn content_length(&self) -> Option<u64> {
        match self.framing {
            Framing::Length(length) => Some(length),
            Framing::Chunked | Framing::Close => None,
        }
    }

    /// Whether the body ends when the server closes the connection.
    pub fn until_close(&self) -> bool {
        self.framing == Framing::Close
    }

    /// Whether the server lets the connection carry another request after this response:
    /// HTTP/1.1 unless `Connection: close`, HTTP/1.0 only with `Connection: keep-alive`.
    ///
    /// This is the server's word only; a body framed by the close, or bytes after the end of
    /// the response, also rule reuse out ([`Progress::Done`](crate::Progress::Done) says so).
    pub fn keep_alive(&self) -> bool {
        self.keep_alive
    }
}

/// Parses the response head at the start of `buffer`, for a request with `method`: `None`
/// while it is incomplete, else the head and its length in bytes (the body, if any, follows).
///
/// Only the first [`MAX_HEAD`] bytes are looked at, so the answer never depends on how much of
/// the body came along. A head longer than that, a malformed status line or header, more than
/// [`MAX_HEADERS`] headers, differing `Content-Length`s, or a `Content-Length` over `max_body`
/// are errors.
///
/// ```
/// use stowage_http1::{Framing, parse_head};
///
/// let wire = b"HTTP/1.1 206 Partial Content\r\nContent-Length: 4\r\n\r\nbody";
/// assert!(parse_head(&wire[..20], &http::Method::GET, 1 << 20)?.is_none());
/// let (head, length) = parse_head(wire, &http::Method::GET, 1 << 20)?.expect("complete");
/// assert_eq!(head.status(), http::StatusCode::PARTIAL_CONTENT);
/// assert_eq!((head.framing(), head.keep_alive()), (Framing::Length(4), true));
/// assert_eq!(&wire[length..], b"body");
/// # Ok::<(), stowage_http1::ResponseError>(())
/// ```
pub fn parse_head(buffer: &[u8], method: &Method, max_body: u64) -> Result<Option<(Head, usize)>, ResponseError> {
    parse(buffer, *method == Method::HEAD, max_body)
}

/// [`parse_head`], for a `HEAD` request if `head_request`.
pub(crate) fn parse(buffer: &[u8], head_request: bool, max_body: u64) -> Result<Option<(Head, usize)>, ResponseError> {
    let window = &buffer[..buffer.len().min(MAX_HEAD)];
    let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut parsed = httparse::Response::new(&mut headers);
    let length = match parsed.parse(window) {
        Ok(httparse::Status::Complete(length)) => length,
        Ok(httparse::Status::Partial) if window.len() == MAX_HEAD => return Err(ResponseError::HeadTooLong),
        Ok(httparse::Status::Partial) => return Ok(None),
        Err(error) => return Err(ResponseError::Head(error)),
    };
    // httparse only completes a head with a three-digit code and a version of 1.0 or 1.1.
    let code = parsed.code.unwrap_or_default();
    let status = StatusCode::from_u16(code).map_err(|_| ResponseError::Status(code))?;
    let version = if parsed.version == Some(0) { Version::HTTP_10 } else { Version::HTTP_11 };
    let mut response = Response::new(());
    *response.status_mut() = status;
    *response.version_mut() = version;
    for h in parsed.headers.iter() {
        let name = HeaderName::from_bytes(h.name.as_bytes()).map_err(|_| ResponseError::Header)?;
        let value = HeaderValue::from_bytes(h.value).map_err(|_| ResponseError::Header)?;
        response.headers_mut().append(name, value);
    }
    let framing = framing(&response, head_request, max_body)?;
    let keep_alive = keep_alive(&response);
    Ok(Some((Head { response, framing, keep_alive }, length)))
}

/// How the body of `response` is framed.
fn framing(response: &Response<()>, head_request: bool, max_body: u64) -> Result<Framing, ResponseError> {
    let status = response.status();
    if head_request
        || status.is_informational()
        || status == StatusCode::NO_CONTENT
        || status == StatusCode::NOT_MODIFIED
    {
        return Ok(Framing::Length(0));
    }
    let headers = response.headers();
    let chunked = headers
        .get_all(TRANSFER_ENCODING)
        .iter()
        .any(|v| v.to_str().is_ok_and(|v| v.to_ascii_lowercase().contains("chunked")));
    if chunked {
        return Ok(Framing::Chunked);
    }
    let mut lengths = headers.get_all(CONTENT_LENGTH).iter();
    let Some(first) = lengths.next() else { return Ok(Framing::Close) };
    if lengths.any(|other| other != first) {
        return Err(ResponseError::ConflictingLengths);
    }
    let length: u64 = first.to_str().ok().and_then(|v| v.trim().parse().ok()).ok_or(ResponseError::BadLength)?;
    if length > max_body {
        return Err(ResponseError::BodyTooLarge { cap: max_body });
    }
    Ok(Framing::Length(length))
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

    fn head(wire: &str) -> Result<Head, ResponseError> {
        head_of(wire, &Method::GET, 1 << 20)
    }

    fn head_of(wire: &str, method: &Method, max_body: u64) -> Result<Head, ResponseError> {
        let (head, length) = parse_head(wire.as_bytes(), method, max_body)?.expect("a complete head");
        assert_eq!(length, wire.len());
        Ok(head)
    }

    #[test]
    fn an_incomplete_head_is_none_at_every_prefix() {
        let wire = b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\nX-A: 1\r\n\r\n";
        for end in 0..wire.len() {
            assert!(parse_head(&wire[..end], &Method::GET, 0).unwrap().is_none(), "{end}");
        }
        let (_, length) = parse_head(wire, &Method::GET, 0).unwrap().unwrap();
        assert_eq!(length, wire.len());
    }

    #[test]
    fn status_version_and_headers_are_kept_in_order() {
        let head = head("HTTP/1.0 404 Not Found\r\nX-A: 1\r\nx-a: 2\r\nContent-Length: 0\r\n\r\n").unwrap();
        assert_eq!((head.status(), head.version()), (StatusCode::NOT_FOUND, Version::HTTP_10));
        let values: Vec<_> = head.headers().get_all("x-a").iter().collect();
        assert_eq!(values, ["1", "2"]);
        assert_eq!(head.response().status(), 404);
        assert_eq!(head.into_response().headers().len(), 3);
    }

    #[test]
    fn bare_lf_line_endings_are_accepted() {
        let head = head("HTTP/1.1 200 OK\nContent-Length: 3\n\n").unwrap();
        assert_eq!(head.framing(), Framing::Length(3));
    }

    #[test]
    fn content_length_frames_the_body_up_to_the_cap() {
        assert_eq!(
            head_of("HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n", &Method::GET, 10).unwrap().content_length(),
            Some(10)
        );
        assert_eq!(
            head_of("HTTP/1.1 200 OK\r\nContent-Length: 11\r\n\r\n", &Method::GET, 10).unwrap_err(),
            ResponseError::BodyTooLarge { cap: 10 }
        );
        assert_eq!(head("HTTP/1.1 200 OK\r\nContent-Length:  7 \r\n\r\n").unwrap().framing(), Framing::Length(7));
    }

    #[test]
    fn duplicate_content_lengths_must_agree() {
        let same = head("HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 5\r\n\r\n").unwrap();
        assert_eq!(same.content_length(), Some(5));
        let differ = head("HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n");
        assert_eq!(differ.unwrap_err(), ResponseError::ConflictingLengths);
        // Equal numbers spelled differently are different values.
        let spelled = head("HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 05\r\n\r\n");
        assert_eq!(spelled.unwrap_err(), ResponseError::ConflictingLengths);
    }

    #[test]
    fn a_length_that_is_not_a_number_is_refused() {
        for bad in ["-1", "abc", "5, 5", "18446744073709551616", ""] {
            let wire = format!("HTTP/1.1 200 OK\r\nContent-Length: {bad}\r\n\r\n");
            assert_eq!(head(&wire).unwrap_err(), ResponseError::BadLength, "{bad:?}");
        }
    }

    #[test]
    fn chunked_wins_over_content_length() {
        let both = head("HTTP/1.1 200 OK\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n").unwrap();
        assert_eq!(both.framing(), Framing::Chunked);
        assert_eq!(both.content_length(), None);
        assert!(!both.until_close());
        // Even a Content-Length that is not a number, or over the cap.
        let bad =
            head_of("HTTP/1.1 200 OK\r\nContent-Length: x\r\nTransfer-Encoding: chunked\r\n\r\n", &Method::GET, 0);
        assert_eq!(bad.unwrap().framing(), Framing::Chunked);
        let listed = head("HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, Chunked\r\n\r\n").unwrap();
        assert_eq!(listed.framing(), Framing::Chunked);
    }

    #[test]
    fn no_length_and_no_chunking_means_until_close() {
        let head = head("HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n").unwrap();
        assert_eq!(head.framing(), Framing::Close);
        assert!(head.until_close());
        assert_eq!(head.content_length(), None);
    }

    #[test]
    fn statuses_without_a_body_have_none_whatever_their_headers_say() {
        for status in [100, 101, 103, 199, 204, 304] {
            for extra in ["", "Content-Length: 99999999\r\n", "Transfer-Encoding: chunked\r\n", "Content-Length: x\r\n"]
            {
                let wire = format!("HTTP/1.1 {status} X\r\n{extra}\r\n");
                assert_eq!(head_of(&wire, &Method::GET, 10).unwrap().framing(), Framing::Length(0), "{wire:?}");
            }
        }
        // Other statuses, 205 and 1xx-looking 2xx included, are framed by their headers.
        assert_eq!(head("HTTP/1.1 205 X\r\n\r\n").unwrap().framing(), Framing::Close);
        assert_eq!(head("HTTP/1.1 200 X\r\n\r\n").unwrap().framing(), Framing::Close);
    }

    #[test]
    fn a_response_to_head_has_no_body_whatever_its_headers_say() {
        for extra in ["Content-Length: 107374182400\r\n", "Transfer-Encoding: chunked\r\n", ""] {
            let wire = format!("HTTP/1.1 200 OK\r\n{extra}\r\n");
            assert_eq!(head_of(&wire, &Method::HEAD, 0).unwrap().framing(), Framing::Length(0), "{wire:?}");
        }
    }

    #[test]
    fn keep_alive_by_version_and_connection_tokens() {
        let cases = [
            ("HTTP/1.1", "", true),
            ("HTTP/1.1", "Connection: close\r\n", false),
            ("HTTP/1.1", "Connection: Upgrade, CLOSE\r\n", false),
            ("HTTP/1.1", "Connection: keep-alive\r\nConnection: close\r\n", false),
            ("HTTP/1.1", "Connection: closed\r\n", true),
            ("HTTP/1.0", "", false),
            ("HTTP/1.0", "Connection: keep-alive\r\n", true),
            ("HTTP/1.0", "Connection: foo , Keep-Alive\r\n", true),
            ("HTTP/1.0", "Connection: close\r\n", false),
        ];
        for (version, connection, want) in cases {
            let wire = format!("{version} 200 OK\r\nContent-Length: 0\r\n{connection}\r\n");
            assert_eq!(head(&wire).unwrap().keep_alive(), want, "{wire:?}");
        }
    }

    #[test]
    fn malformed_heads_are_refused() {
        let cases = [
            ("NOT HTTP AT ALL\r\n\r\n", ResponseError::Head(httparse::Error::Version)),
            ("HTTP/2.0 200 OK\r\n\r\n", ResponseError::Head(httparse::Error::Version)),
            ("HTTP/1.1 2000 OK\r\n\r\n", ResponseError::Head(httparse::Error::Status)),
            ("HTTP/1.1 099 Low\r\n\r\n", ResponseError::Status(99)),
            ("HTTP/1.1 200 OK\r\nBad Name: x\r\n\r\n", ResponseError::Head(httparse::Error::HeaderName)),
        ];
        for (wire, want) in cases {
            assert_eq!(parse_head(wire.as_bytes(), &Method::GET, 0).unwrap_err(), want, "{wire:?}");
        }
    }

    #[test]
    fn at_most_max_headers() {
        let headers = |n: usize| (0..n).map(|i| format!("X-{i}: v\r\n")).collect::<String>();
        let most = format!("HTTP/1.1 200 OK\r\n{}\r\n", headers(MAX_HEADERS));
        assert_eq!(head(&most).unwrap().headers().len(), MAX_HEADERS);
        let over = format!("HTTP/1.1 200 OK\r\n{}\r\n", headers(MAX_HEADERS + 1));
        assert_eq!(head(&over).unwrap_err(), ResponseError::Head(httparse::Error::TooManyHeaders));
    }

    #[test]
    fn a_head_of_max_head_bytes_is_accepted_and_one_more_is_refused() {
        let with_value = |len: usize| {
            let fixed = "HTTP/1.1 200 OK\r\nX: \r\n\r\n".len();
            format!("HTTP/1.1 200 OK\r\nX: {}\r\n\r\n", "v".repeat(len - fixed))
        };
        let most = with_value(MAX_HEAD);
        assert_eq!(most.len(), MAX_HEAD);
        let (_, length) = parse_head(most.as_bytes(), &Method::GET, 0).unwrap().unwrap();
        assert_eq!(length, MAX_HEAD);
        // Refused whole, with a body after it, and as soon as its first MAX_HEAD bytes are in.
        let over = with_value(MAX_HEAD + 1);
        assert_eq!(parse_head(over.as_bytes(), &Method::GET, 0).unwrap_err(), ResponseError::HeadTooLong);
        let with_body = format!("{over}body");
        assert_eq!(parse_head(with_body.as_bytes(), &Method::GET, 0).unwrap_err(), ResponseError::HeadTooLong);
        assert_eq!(parse_head(&over.as_bytes()[..MAX_HEAD], &Method::GET, 0).unwrap_err(), ResponseError::HeadTooLong);
        assert!(parse_head(&over.as_bytes()[..MAX_HEAD - 1], &Method::GET, 0).unwrap().is_none());
    }
}
