//! Requests as HTTP/1.1 bytes.

use bytes::Bytes;
use http::header::{CONTENT_LENGTH, HOST, RANGE};
use http::{Method, Request};

/// The bytes of `request` as HTTP/1.1: the request line, `Host` (unless the request has one),
/// the request's headers, `Content-Length` when it has a body or its method is neither `GET`
/// nor `HEAD`, then the body.
///
/// `host` is the `Host` header's value (`host[:port]`), `target` the request-target in origin
/// form (path and query); the request's own URI is not read. A `Content-Length` among the
/// request's headers is replaced by the body's length, so the framing is always the body's.
///
/// ```
/// use bytes::Bytes;
///
/// let request = http::Request::put("/v1/objects/b/o").body(Bytes::from_static(b"hi"))?;
/// let wire = stowage_http1::encode_request(&request, "127.0.0.1:8080", "/v1/objects/b/o");
/// assert_eq!(wire, b"PUT /v1/objects/b/o HTTP/1.1\r\nhost: 127.0.0.1:8080\r\ncontent-length: 2\r\n\r\nhi");
/// # Ok::<(), http::Error>(())
/// ```
pub fn encode_request(request: &Request<Bytes>, host: &str, target: &str) -> Vec<u8> {
    let body = request.body();
    let mut out = Vec::with_capacity(128 + target.len() + body.len());
    request_line(&mut out, request.method().as_str(), target);
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

/// The bytes of `GET target` with `Host: host` and `Range: range` and nothing else: one ranged
/// request of a download, built without an [`http::Request`] in between.
///
/// `range` is the header's value, e.g. `bytes=0-1048575`.
///
/// ```
/// let wire = stowage_http1::encode_range_get("h:80", "/o?x=1", "bytes=0-9");
/// assert_eq!(wire, b"GET /o?x=1 HTTP/1.1\r\nhost: h:80\r\nrange: bytes=0-9\r\n\r\n");
/// ```
pub fn encode_range_get(host: &str, target: &str, range: &str) -> Vec<u8> {
    let mut out = Vec::with_capacity(64 + host.len() + target.len() + range.len());
    request_line(&mut out, Method::GET.as_str(), target);
    header(&mut out, HOST.as_str(), host.as_bytes());
    header(&mut out, RANGE.as_str(), range.as_bytes());
    out.extend_from_slice(b"\r\n");
    out
}

/// Appends `method target HTTP/1.1` and its CRLF.
fn request_line(out: &mut Vec<u8>, method: &str, target: &str) {
    out.extend_from_slice(method.as_bytes());
    out.push(b' ');
    out.extend_from_slice(target.as_bytes());
    out.extend_from_slice(b" HTTP/1.1\r\n");
}

/// Appends `name: value` and its CRLF.
fn header(out: &mut Vec<u8>, name: &str, value: &[u8]) {
    out.extend_from_slice(name.as_bytes());
    out.extend_from_slice(b": ");
    out.extend_from_slice(value);
    out.extend_from_slice(b"\r\n");
}

#[cfg(test)]
mod tests {
    use super::*;

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
    fn a_host_header_of_the_request_wins() {
        let request = Request::get("/x").header("host", "other:1").body(Bytes::new()).unwrap();
        assert_eq!(encode_request(&request, "h", "/x"), b"GET /x HTTP/1.1\r\nhost: other:1\r\n\r\n");
    }

    #[test]
    fn the_length_is_the_bodys_whatever_the_headers_say() {
        let request = Request::get("/x").header("content-length", "99").body(Bytes::from_static(b"abc")).unwrap();
        assert_eq!(encode_request(&request, "h", "/x"), b"GET /x HTTP/1.1\r\nhost: h\r\ncontent-length: 3\r\n\r\nabc");
        let head = Request::head("/x").header("content-length", "99").body(Bytes::new()).unwrap();
        assert_eq!(encode_request(&head, "h", "/x"), b"HEAD /x HTTP/1.1\r\nhost: h\r\n\r\n");
    }

    #[test]
    fn methods_that_usually_carry_a_body_say_zero() {
        for method in [Method::PUT, Method::POST, Method::DELETE, Method::PATCH] {
            let request = Request::builder().method(method.clone()).uri("/x").body(Bytes::new()).unwrap();
            let want = format!("{method} /x HTTP/1.1\r\nhost: h\r\ncontent-length: 0\r\n\r\n");
            assert_eq!(encode_request(&request, "h", "/x"), want.as_bytes());
        }
    }

    #[test]
    fn repeated_headers_are_sent_in_order() {
        let request = Request::get("/x").header("x-a", "1").header("x-a", "2").body(Bytes::new()).unwrap();
        assert_eq!(encode_request(&request, "h", "/x"), b"GET /x HTTP/1.1\r\nhost: h\r\nx-a: 1\r\nx-a: 2\r\n\r\n");
    }
}
