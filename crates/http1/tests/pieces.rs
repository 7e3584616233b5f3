//! A valid response reads the same whatever pieces it arrives in, and as its model says.

use bytes::Bytes;
use http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode, Version};
use proptest::prelude::*;
use stowage_http1::{Progress, ResponseError, ResponseReader};

/// How the generated response frames its body.
#[derive(Clone, Debug)]
enum Framing {
    Length,
    /// Chunks of these sizes (cycled, a zero taken as one) until the body is out; each chunk
    /// with an extension if its flag says so; then these trailers.
    Chunked {
        sizes: Vec<usize>,
        extensions: Vec<bool>,
        trailers: Vec<String>,
    },
    Close,
}

/// A valid response and the request it answers.
#[derive(Clone, Debug)]
struct Case {
    head_request: bool,
    http_10: bool,
    status: u16,
    /// `Connection:` none, `close` or `keep-alive`.
    connection: u8,
    headers: Vec<(String, String)>,
    framing: Framing,
    body: Vec<u8>,
    max_body: usize,
}

/// What reading a response came to.
#[derive(Debug, PartialEq)]
enum Outcome {
    Done { status: StatusCode, version: Version, headers: HeaderMap, body: Bytes, reusable: bool },
    Failed(ResponseError),
}

fn framing() -> impl Strategy<Value = Framing> {
    prop_oneof![
        Just(Framing::Length),
        (
            prop::collection::vec(0usize..40, 1..6),
            prop::collection::vec(any::<bool>(), 1..6),
            prop::collection::vec("x-t[a-z]{0,5}: [!-~]{0,10}", 0..3),
        )
            .prop_map(|(sizes, extensions, trailers)| Framing::Chunked { sizes, extensions, trailers }),
        Just(Framing::Close),
    ]
}

fn case() -> impl Strategy<Value = Case> {
    (
        any::<bool>(),
        any::<bool>(),
        prop_oneof![100u16..200, 200u16..600, Just(204), Just(304)],
        0u8..3,
        prop::collection::vec(("x-[a-z0-9-]{1,10}", "[!-~]{0,20}"), 0..6),
        framing(),
        prop::collection::vec(any::<u8>(), 0..200),
        prop_oneof![Just(usize::MAX), 0usize..250],
    )
        .prop_map(|(head_request, http_10, status, connection, headers, framing, body, max_body)| Case {
            head_request,
            http_10,
            status,
            connection,
            headers,
            framing,
            body,
            max_body,
        })
}

impl Case {
    /// Whether the response has no body whatever its headers say.
    fn bodyless(&self) -> bool {
        self.head_request || (100..200).contains(&self.status) || self.status == 204 || self.status == 304
    }

    /// The response's head lines (without the empty line), the framing header included.
    fn head_lines(&self) -> Vec<(String, String)> {
        let mut lines = self.headers.clone();
        match self.connection {
            1 => lines.push(("connection".into(), "close".into())),
            2 => lines.push(("connection".into(), "keep-alive".into())),
            _ => {}
        }
        match self.framing {
            Framing::Length => lines.push(("content-length".into(), self.body.len().to_string())),
            Framing::Chunked { .. } => lines.push(("transfer-encoding".into(), "chunked".into())),
            Framing::Close => {}
        }
        lines
    }

    /// The response's bytes.
    fn wire(&self) -> Vec<u8> {
        let version = if self.http_10 { "HTTP/1.0" } else { "HTTP/1.1" };
        let mut wire = format!("{version} {} Reason\r\n", self.status).into_bytes();
        for (name, value) in self.head_lines() {
            wire.extend_from_slice(format!("{name}: {value}\r\n").as_bytes());
        }
        wire.extend_from_slice(b"\r\n");
        if self.bodyless() {
            return wire;
        }
        match &self.framing {
            Framing::Length | Framing::Close => wire.extend_from_slice(&self.body),
            Framing::Chunked { sizes, extensions, trailers } => {
                let mut rest = &self.body[..];
                let mut i = 0;
                while !rest.is_empty() {
                    let size = sizes[i % sizes.len()].clamp(1, rest.len());
                    let extension = if extensions[i % extensions.len()] { ";name=value" } else { "" };
                    wire.extend_from_slice(format!("{size:x}{extension}\r\n").as_bytes());
                    wire.extend_from_slice(&rest[..size]);
                    wire.extend_from_slice(b"\r\n");
                    rest = &rest[size..];
                    i += 1;
                }
                wire.extend_from_slice(b"0\r\n");
                for trailer in trailers {
                    wire.extend_from_slice(format!("{trailer}\r\n").as_bytes());
                }
                wire.extend_from_slice(b"\r\n");
            }
        }
        wire
    }

    /// What reading the response must come to.
    fn model(&self) -> Outcome {
        let body = if self.bodyless() { Bytes::new() } else { Bytes::from(self.body.clone()) };
        if body.len() > self.max_body {
            return Outcome::Failed(ResponseError::BodyTooLarge { cap: self.max_body as u64 });
        }
        let mut headers = HeaderMap::new();
        for (name, value) in self.head_lines() {
            let name = HeaderName::from_bytes(name.as_bytes()).unwrap();
            headers.append(name, HeaderValue::from_str(&value).unwrap());
        }
        let keep_alive = if self.http_10 { self.connection == 2 } else { self.connection != 1 };
        let until_close = matches!(self.framing, Framing::Close) && !self.bodyless();
        Outcome::Done {
            status: StatusCode::from_u16(self.status).unwrap(),
            version: if self.http_10 { Version::HTTP_10 } else { Version::HTTP_11 },
            headers,
            body,
            reusable: keep_alive && !until_close,
        }
    }

    /// Reads the response from `pieces`, then the close if it is still incomplete; checks on the
    /// way that the body held stays within the cap.
    fn read<'a>(&self, pieces: impl IntoIterator<Item = &'a [u8]>) -> Outcome {
        let method = if self.head_request { Method::HEAD } else { Method::GET };
        let mut reader = ResponseReader::new(&method, self.max_body);
        let done = |response: http::Response<Bytes>, reusable| Outcome::Done {
            status: response.status(),
            version: response.version(),
            headers: response.headers().clone(),
            body: response.body().clone(),
            reusable,
        };
        for piece in pieces {
            let progress = reader.feed(piece);
            assert!(
                reader.body_len() <= self.max_body,
                "{} bytes held over a cap of {}",
                reader.body_len(),
                self.max_body
            );
            match progress {
                Ok(Progress::More) => {}
                Ok(Progress::Done { response, reusable }) => return done(response, reusable),
                Err(error) => return Outcome::Failed(error),
            }
        }
        match reader.eof() {
            Ok(response) => done(response, false),
            Err(error) => Outcome::Failed(error),
        }
    }
}

/// `wire` cut at `cuts` (taken modulo its length, in any order, repeats allowed).
fn pieces(wire: &[u8], cuts: &[usize]) -> Vec<Vec<u8>> {
    let mut at: Vec<usize> = cuts.iter().map(|cut| cut % (wire.len() + 1)).collect();
    at.push(0);
    at.push(wire.len());
    at.sort_unstable();
    at.windows(2).map(|w| wire[w[0]..w[1]].to_vec()).collect()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1000))]

    #[test]
    fn a_response_reads_the_same_in_any_pieces(case in case(), cuts in prop::collection::vec(any::<usize>(), 0..12)) {
        let wire = case.wire();
        let model = case.model();
        let whole = case.read([&wire[..]]);
        prop_assert_eq!(&whole, &model, "whole: {:?}", String::from_utf8_lossy(&wire));
        let pieces = pieces(&wire, &cuts);
        let split = case.read(pieces.iter().map(Vec::as_slice));
        prop_assert_eq!(&split, &model, "in {} pieces", pieces.len());
        let bytes = case.read(wire.chunks(1));
        prop_assert_eq!(&bytes, &model, "byte by byte");
    }
}
