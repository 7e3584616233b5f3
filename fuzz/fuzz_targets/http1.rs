//! Fuzzes `ResponseReader` with arbitrary bytes (alone, or after a valid head framed by length,
//! chunks or the close; with a long run of one byte inserted anywhere, to reach the limits on
//! heads and lines), cut at arbitrary points, with any body cap, for a GET or a HEAD, and
//! checks:
//!
//! - nothing panics; the body held never exceeds `max_body`;
//! - a response is reported at most once: after `Done` or an error, every input is refused with
//!   `Finished`;
//! - the same bytes in one piece and cut give the same outcome: the same response, the same
//!   error, or both incomplete at the close; a connection reusable when read whole is reusable
//!   when cut (only bytes after the end of the response can tell them apart, and those the cut
//!   reader may not have been fed before it was done).
#![no_main]

use arbitrary::Arbitrary;
use bytes::Bytes;
use http::{HeaderMap, Method, StatusCode, Version};
use libfuzzer_sys::fuzz_target;
use stowage_http1::{Progress, ResponseError, ResponseReader};

#[derive(Debug, Arbitrary)]
struct Case {
    head_request: bool,
    max_body: MaxBody,
    prefix: Prefix,
    run: Option<Run>,
    cuts: Vec<u32>,
    wire: Vec<u8>,
}

/// `len` (at most 80 KiB) copies of `byte`, inserted at `at`.
#[derive(Debug, Arbitrary)]
struct Run {
    at: u16,
    byte: u8,
    len: u32,
}

#[derive(Debug, Arbitrary)]
enum MaxBody {
    Unlimited,
    Small(u8),
    Any(u16),
}

/// A valid head put before the arbitrary bytes, so that bodies are reached often.
#[derive(Debug, Arbitrary)]
enum Prefix {
    None,
    Length(u16),
    Chunked,
    Close,
}

/// What reading the bytes came to.
#[derive(Debug, PartialEq)]
enum Outcome {
    Done { status: StatusCode, version: Version, headers: HeaderMap, body: Bytes, reusable: bool },
    Failed(ResponseError),
}

impl Outcome {
    fn done(response: http::Response<Bytes>, reusable: bool) -> Self {
        Outcome::Done {
            status: response.status(),
            version: response.version(),
            headers: response.headers().clone(),
            body: response.body().clone(),
            reusable,
        }
    }
}

/// Reads `pieces`, then the close if the response is still incomplete, checking the reader's
/// invariants on the way.
fn read<'a>(method: &Method, max_body: usize, pieces: impl IntoIterator<Item = &'a [u8]>) -> Outcome {
    let mut reader = ResponseReader::new(method, max_body);
    let mut outcome = None;
    for piece in pieces {
        let progress = reader.feed(piece);
        assert!(reader.body_len() <= max_body, "{} bytes held over a cap of {max_body}", reader.body_len());
        if outcome.is_some() {
            assert_eq!(progress.unwrap_err(), ResponseError::Finished, "fed after the end");
            continue;
        }
        match progress {
            Ok(Progress::More) => {}
            Ok(Progress::Done { response, reusable }) => {
                assert!(response.body().len() <= max_body);
                outcome = Some(Outcome::done(response, reusable));
            }
            Err(ResponseError::Finished) => panic!("refused before the end"),
            Err(error) => outcome = Some(Outcome::Failed(error)),
        }
    }
    let eof = reader.eof();
    match outcome {
        Some(outcome) => {
            assert_eq!(eof.unwrap_err(), ResponseError::Finished, "a close after the end");
            outcome
        }
        None => match eof {
            Ok(response) => {
                assert!(response.body().len() <= max_body);
                Outcome::done(response, false)
            }
            Err(error) => {
                assert_ne!(error, ResponseError::Finished, "refused before the end");
                Outcome::Failed(error)
            }
        },
    }
}

fuzz_target!(|case: Case| {
    let method = if case.head_request { Method::HEAD } else { Method::GET };
    let max_body = match case.max_body {
        MaxBody::Unlimited => usize::MAX,
        MaxBody::Small(n) => usize::from(n),
        MaxBody::Any(n) => usize::from(n),
    };
    let mut wire = match case.prefix {
        Prefix::None => Vec::new(),
        Prefix::Length(n) => format!("HTTP/1.1 200 OK\r\nContent-Length: {n}\r\n").into_bytes(),
        Prefix::Chunked => b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n".to_vec(),
        Prefix::Close => b"HTTP/1.1 200 OK\r\n".to_vec(),
    };
    wire.extend_from_slice(&case.wire);
    if let Some(run) = case.run {
        let at = usize::from(run.at) % (wire.len() + 1);
        let len = run.len as usize % (80 << 10);
        wire.splice(at..at, std::iter::repeat_n(run.byte, len));
    }

    let whole = read(&method, max_body, [&wire[..]]);
    // At most 32 cuts: each one before the end of the head costs a parse of up to 64 KiB.
    let mut at: Vec<usize> = case.cuts.iter().take(32).map(|&cut| cut as usize % (wire.len() + 1)).collect();
    at.push(0);
    at.push(wire.len());
    at.sort_unstable();
    let split = read(&method, max_body, at.windows(2).map(|w| &wire[w[0]..w[1]]));

    match (&whole, &split) {
        (
            Outcome::Done { status, version, headers, body, reusable },
            Outcome::Done { status: s, version: v, headers: h, body: b, reusable: r },
        ) => {
            assert_eq!((status, version, headers, body), (s, v, h, b), "whole and cut read differently");
            assert!(!reusable || *r, "reusable whole, not reusable cut");
        }
        (Outcome::Failed(a), Outcome::Failed(b)) => assert_eq!(a, b, "whole and cut fail differently"),
        _ => panic!("whole: {whole:?}, cut: {split:?}"),
    }
});
