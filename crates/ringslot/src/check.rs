//! The checks every response head goes through before its body is trusted.

use http::header::{CONTENT_LENGTH, CONTENT_RANGE, ETAG, HeaderName};
use http::{HeaderMap, HeaderValue, StatusCode};
use stowage_proto::TransportError;
use stowage_proto::ais::header::VERSION;

use crate::config::MAX_CHUNK_SIZE_HEADER;
use crate::exact::Usual;
use crate::range::{ContentRange, digits, unsatisfied_total};
use crate::{ByteRange, DownloadError, Failure};

/// `ais-version`, parsed once.
const AIS_VERSION: HeaderName = HeaderName::from_static(VERSION);
/// `ais-chunks-max-chunk-size`, parsed once.
const MAX_CHUNK_SIZE: HeaderName = HeaderName::from_static(MAX_CHUNK_SIZE_HEADER);

/// What to do with a response head.
#[derive(Debug)]
pub(crate) enum Verdict<T> {
    /// Go on (for a range: receive the body).
    Accept(T),
    /// The attempt failed; it may be retried.
    Retry(Failure),
    /// The download cannot succeed.
    Fatal(DownloadError),
}

/// What identifies the object's content: its `ETag` and AIStore version, as first seen (from
/// the HEAD, or the first range response when there was no HEAD).
#[derive(Clone, Debug, Default)]
pub(crate) struct Identity {
    etag: Option<HeaderValue>,
    version: Option<HeaderValue>,
}

impl Identity {
    /// The identity an interrupted download recorded; `None` if a value cannot be a header.
    pub(crate) fn recorded(etag: Option<&str>, version: Option<&str>) -> Option<Self> {
        let value = |text: Option<&str>| text.map(HeaderValue::from_str).transpose().ok();
        Some(Identity { etag: value(etag)?, version: value(version)? })
    }

    /// The `ETag` and `ais-version` first seen, as text (lossy), for a journal.
    pub(crate) fn values(&self) -> (Option<String>, Option<String>) {
        let text =
            |value: &Option<HeaderValue>| value.as_ref().map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned());
        (text(&self.etag), text(&self.version))
    }

    /// Adopts the values not seen yet and compares those already seen. Inlined, for the
    /// answers that carry neither header (nothing to do).
    #[inline]
    fn check(&mut self, etag: Option<&HeaderValue>, version: Option<&HeaderValue>) -> Result<(), DownloadError> {
        if etag.is_none() && version.is_none() {
            return Ok(());
        }
        compare(&mut self.etag, etag, "ETag")?;
        compare(&mut self.version, version, VERSION)
    }
}

/// The headers a range check reads, found in one pass over the head (the first value of each,
/// as `HeaderMap::get` would give): one walk over a handful of entries costs less than four
/// hashed lookups.
#[derive(Default)]
struct RangeHeaders<'a> {
    content_range: Option<&'a HeaderValue>,
    content_length: Option<&'a HeaderValue>,
    etag: Option<&'a HeaderValue>,
    version: Option<&'a HeaderValue>,
}

impl<'a> RangeHeaders<'a> {
    fn scan(headers: &'a HeaderMap) -> Self {
        let mut seen = RangeHeaders::default();
        for (name, value) in headers {
            let slot = if name == CONTENT_RANGE {
                &mut seen.content_range
            } else if name == CONTENT_LENGTH {
                &mut seen.content_length
            } else if name == ETAG {
                &mut seen.etag
            } else if name == AIS_VERSION {
                &mut seen.version
            } else {
                continue;
            };
            slot.get_or_insert(value);
        }
        seen
    }
}

fn compare(
    known: &mut Option<HeaderValue>,
    seen: Option<&HeaderValue>,
    header: &'static str,
) -> Result<(), DownloadError> {
    match (known.as_ref(), seen) {
        (Some(was), Some(now)) if was != now => Err(DownloadError::ObjectChanged {
            header,
            was: String::from_utf8_lossy(was.as_bytes()).into_owned(),
            now: String::from_utf8_lossy(now.as_bytes()).into_owned(),
        }),
        (None, Some(now)) => {
            *known = Some(now.clone());
            Ok(())
        }
        _ => Ok(()),
    }
}

/// Whether a status is worth retrying: 5xx and 429.
fn retryable(status: StatusCode) -> bool {
    status.is_server_error() || status == StatusCode::TOO_MANY_REQUESTS
}

/// A header as a `u64`, if it is one (digits only, surrounding blanks allowed).
fn header_u64(value: Option<&HeaderValue>) -> Option<u64> {
    digits(value?.as_bytes())
}

/// The response of an attempt at `range` (`None`: the HEAD), or the verdict without one: retry
/// after a transport failure, a 5xx or a 429; give up on a redirect the driver could not
/// follow or a failed TLS handshake (asking again gets it again).
fn answered<T>(
    result: &Result<http::Response<()>, TransportError>,
    range: Option<ByteRange>,
) -> Result<&http::Response<()>, Verdict<T>> {
    let response = match result {
        Ok(response) => response,
        Err(TransportError::Redirect(error)) => {
            return Err(Verdict::Fatal(DownloadError::Redirect { range, error: *error }));
        }
        Err(TransportError::Tls(error)) if !TransportError::Tls(*error).is_permanent() => {
            return Err(Verdict::Retry(Failure::Transport(TransportError::Tls(*error))));
        }
        Err(TransportError::Tls(error)) => return Err(Verdict::Fatal(DownloadError::Tls { range, error: *error })),
        Err(error) => return Err(Verdict::Retry(Failure::Transport(*error))),
    };
    let status = response.status();
    if retryable(status) {
        return Err(Verdict::Retry(Failure::Status(status.as_u16())));
    }
    Ok(response)
}

/// What a HEAD tells: the size and the chunk size the object suggests.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Head {
    pub(crate) size: u64,
    pub(crate) max_chunk: Option<u64>,
}

/// Checks a HEAD answer.
pub(crate) fn head(result: &Result<http::Response<()>, TransportError>, identity: &mut Identity) -> Verdict<Head> {
    let response = match answered(result, None) {
        Ok(response) => response,
        Err(verdict) => return verdict,
    };
    let status = response.status();
    if status != StatusCode::OK {
        return Verdict::Fatal(DownloadError::HeadStatus { status: status.as_u16() });
    }
    let headers = response.headers();
    let Some(size) = header_u64(headers.get(CONTENT_LENGTH)) else { return Verdict::Fatal(DownloadError::NoSize) };
    if let Err(error) = identity.check(headers.get(ETAG), headers.get(&AIS_VERSION)) {
        return Verdict::Fatal(error);
    }
    let max_chunk = header_u64(headers.get(&MAX_CHUNK_SIZE)).filter(|&chunk| chunk > 0);
    Verdict::Accept(Head { size, max_chunk })
}

/// Checks a 200 to a range request, from a server that ignores `Range`: the whole object, of
/// `size` bytes (its `Content-Length`, if any, says so), and the same object as before.
pub(crate) fn whole(response: &http::Response<()>, size: u64, identity: &mut Identity) -> Result<(), DownloadError> {
    let headers = RangeHeaders::scan(response.headers());
    if let Some(now) = headers.content_length.and_then(|value| digits(value.as_bytes()))
        && now != size
    {
        return Err(DownloadError::SizeChanged { was: size, now });
    }
    identity.check(headers.etag, headers.version)
}

/// What the answer to the first range request tells when the size was not known: the size,
/// and how the server answered.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Probed {
    /// A 206 for `range` (what was asked, or less where the object ends sooner).
    Partial { size: u64, range: ByteRange },
    /// A 416: nothing at or past the offset.
    Unsatisfiable { size: u64 },
    /// A 200: the server ignored `Range` and sends the whole object.
    Whole { size: u64 },
}

/// Checks the answer to the first range request, `asked`, of an object whose size is not
/// known yet: a 206 must name `asked` (or its start up to the object's end) and the object's
/// total; a 416 must name the total (`bytes */total`), but where `asked` starts at byte 0 (then
/// the object is empty, `Content-Range` or not); a 200 must have a `Content-Length`.
pub(crate) fn probe(
    result: &Result<http::Response<()>, TransportError>,
    asked: ByteRange,
    identity: &mut Identity,
) -> Verdict<Probed> {
    let response = match answered(result, Some(asked)) {
        Ok(response) => response,
        Err(verdict) => return verdict,
    };
    let headers = RangeHeaders::scan(response.headers());
    let probed = match response.status() {
        StatusCode::PARTIAL_CONTENT => {
            let raw = headers.content_range;
            let parsed = raw.and_then(|value| ContentRange::parse(value.as_bytes()));
            let Some(ContentRange { range, total: Some(size) }) = parsed else {
                return Verdict::Fatal(wrong_range(asked, raw));
            };
            // The answer is the asked range, cut short only where the object ends.
            let fits =
                range.start == asked.start && range.end <= asked.end && (range.end == asked.end || range.end == size);
            if !fits || range.end > size {
                return Verdict::Fatal(wrong_range(asked, raw));
            }
            if let Some(announced) = headers.content_length.and_then(|value| digits(value.as_bytes())) {
                if announced > range.len() {
                    return Verdict::Fatal(DownloadError::LongBody { range, received: announced });
                }
                if announced < range.len() {
                    return Verdict::Fatal(DownloadError::ShortBody { range, received: announced });
                }
            }
            Probed::Partial { size, range }
        }
        StatusCode::RANGE_NOT_SATISFIABLE => match headers.content_range {
            Some(value) => match unsatisfied_total(value.as_bytes()) {
                Some(size) => Probed::Unsatisfiable { size },
                None => return Verdict::Fatal(DownloadError::NoSize),
            },
            // A range from byte 0 is unsatisfiable only when there is no byte (RFC 9110
            // §14.1.1): S3 answers so for an empty object, without a `Content-Range`.
            None if asked.start == 0 => Probed::Unsatisfiable { size: 0 },
            None => return Verdict::Fatal(DownloadError::NoSize),
        },
        StatusCode::OK => match headers.content_length.and_then(|value| digits(value.as_bytes())) {
            Some(size) => Probed::Whole { size },
            None => return Verdict::Fatal(DownloadError::NoSize),
        },
        status => return Verdict::Fatal(DownloadError::Status { range: asked, status: status.as_u16() }),
    };
    match identity.check(headers.etag, headers.version) {
        Ok(()) => Verdict::Accept(probed),
        Err(error) => Verdict::Fatal(error),
    }
}

/// The error for an answer to `range` whose `Content-Range` (`raw`, if any) names other bytes.
fn wrong_range(range: ByteRange, raw: Option<&HeaderValue>) -> DownloadError {
    let got = raw.map_or_else(String::new, |v| String::from_utf8_lossy(v.as_bytes()).into_owned());
    DownloadError::WrongRange { range, got }
}

/// Checks the head of the answer to a request for `range` of a `size`-byte object: a 206 with
/// exactly that `Content-Range`, a `Content-Length` (if any) of the range's length, and the
/// same identity as before. `usual` is the download's [`Usual`], for `size` and its chunk.
pub(crate) fn range(
    result: &Result<http::Response<()>, TransportError>,
    range: ByteRange,
    size: u64,
    usual: &Usual,
    identity: &mut Identity,
) -> Verdict<()> {
    let response = match answered(result, Some(range)) {
        Ok(response) => response,
        Err(verdict) => return verdict,
    };
    let status = response.status();
    if status == StatusCode::OK {
        return Verdict::Fatal(DownloadError::RangeIgnored { range });
    }
    if status != StatusCode::PARTIAL_CONTENT {
        return Verdict::Fatal(DownloadError::Status { range, status: status.as_u16() });
    }
    let headers = RangeHeaders::scan(response.headers());
    let raw = headers.content_range;
    // The usual spellings are checked without parsing (see `exact`); anything else is parsed.
    if !raw.is_some_and(|value| usual.content_range(value.as_bytes(), range)) {
        let parsed = raw.and_then(|value| ContentRange::parse(value.as_bytes()));
        match parsed {
            Some(parsed) if parsed.range == range => {
                if let Some(now) = parsed.total.filter(|&total| total != size) {
                    return Verdict::Fatal(DownloadError::SizeChanged { was: size, now });
                }
            }
            _ => return Verdict::Fatal(wrong_range(range, raw)),
        }
    }
    if let Some(value) = headers.content_length
        && !usual.content_length(value.as_bytes(), range.len())
        && let Some(announced) = digits(value.as_bytes())
    {
        if announced > range.len() {
            return Verdict::Fatal(DownloadError::LongBody { range, received: announced });
        }
        if announced < range.len() {
            return Verdict::Fatal(DownloadError::ShortBody { range, received: announced });
        }
    }
    match identity.check(headers.etag, headers.version) {
        Ok(()) => Verdict::Accept(()),
        Err(error) => Verdict::Fatal(error),
    }
}
