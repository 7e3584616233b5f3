//! The decoder of a `Transfer-Encoding: chunked` body.

use bytes::{Buf, BytesMut};

use crate::ResponseError;
use crate::head::MAX_HEAD;

/// The longest chunk-size line (size and extensions, without its CRLF), in bytes.
pub const MAX_CHUNK_LINE: usize = 4 << 10;

/// Decodes a chunked body (RFC 9112 §7.1) from the bytes of a connection as they arrive.
///
/// Chunk extensions are skipped and trailer lines read and dropped. Every decision depends
/// only on the bytes so far, never on how they were split: a line is taken when its CRLF is in
/// (and refused once it is known to be too long), a chunk's data is taken as it comes.
#[derive(Debug)]
pub(crate) struct Decoder {
    state: State,
}

/// Where a chunked body's decoder is.
#[derive(Debug, Clone, Copy)]
enum State {
    /// Reading a chunk-size line.
    Size,
    /// Reading this many more data bytes of the current chunk (never 0).
    Data(u64),
    /// Reading the CRLF after a chunk's data.
    DataEnd,
    /// Reading trailer lines after the last (zero-size) chunk, until an empty one.
    Trailers,
}

impl Decoder {
    /// A decoder at the start of a body.
    pub(crate) fn new() -> Self {
        Decoder { state: State::Size }
    }

    /// Consumes what it can of `buffer`, appending chunk data to `body`: `true` once the body
    /// is complete (the bytes after it stay in `buffer`), `false` when it needs more.
    ///
    /// `body` never grows past `max_body`: a chunk whose size would take it there is refused
    /// as soon as its size line is in.
    pub(crate) fn decode(
        &mut self,
        buffer: &mut BytesMut,
        body: &mut BytesMut,
        max_body: usize,
    ) -> Result<bool, ResponseError> {
        loop {
            match self.state {
                State::Size => {
                    let Some(line) = take_line(buffer, MAX_CHUNK_LINE).ok_or(ResponseError::ChunkLineTooLong)? else {
                        return Ok(false);
                    };
                    let size = chunk_size(&line)?;
                    let room = max_body.saturating_sub(body.len());
                    if size > u64::try_from(room).unwrap_or(u64::MAX) {
                        return Err(ResponseError::BodyTooLarge { cap: u64::try_from(max_body).unwrap_or(u64::MAX) });
                    }
                    self.state = if size == 0 { State::Trailers } else { State::Data(size) };
                }
                State::Data(left) => {
                    if buffer.is_empty() {
                        return Ok(false);
                    }
                    let take = usize::try_from(left).unwrap_or(usize::MAX).min(buffer.len());
                    body.extend_from_slice(&buffer.split_to(take));
                    let left = left - take as u64;
                    self.state = if left == 0 { State::DataEnd } else { State::Data(left) };
                }
                State::DataEnd => {
                    if buffer.len() < 2 {
                        return Ok(false);
                    }
                    if &buffer[..2] != b"\r\n" {
                        return Err(ResponseError::ChunkEnd);
                    }
                    buffer.advance(2);
                    self.state = State::Size;
                }
                State::Trailers => {
                    let Some(line) = take_line(buffer, MAX_HEAD).ok_or(ResponseError::TrailerTooLong)? else {
                        return Ok(false);
                    };
                    if line.is_empty() {
                        return Ok(true);
                    }
                }
            }
        }
    }
}

/// The size a chunk-size line (without its CRLF) announces.
fn chunk_size(line: &[u8]) -> Result<u64, ResponseError> {
    let mut with_crlf = Vec::with_capacity(line.len() + 2);
    with_crlf.extend_from_slice(line);
    with_crlf.extend_from_slice(b"\r\n");
    match httparse::parse_chunk_size(&with_crlf) {
        Ok(httparse::Status::Complete((_, size))) => Ok(size),
        _ => Err(ResponseError::ChunkSize),
    }
}

/// Takes the next CRLF-terminated line of `buffer` and its CRLF: `Some(Some(line))` (without
/// the CRLF), `Some(None)` while its CRLF has not arrived, `None` once it is known to be longer
/// than `max` (no CRLF in the first `max + 2` bytes).
fn take_line(buffer: &mut BytesMut, max: usize) -> Option<Option<BytesMut>> {
    let window = &buffer[..buffer.len().min(max + 2)];
    match window.windows(2).position(|w| w == b"\r\n") {
        Some(end) => {
            let line = buffer.split_to(end);
            buffer.advance(2);
            Some(Some(line))
        }
        None if window.len() == max + 2 => None,
        None => Some(None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A decoded body and the bytes left after it.
    type Decoded = (Vec<u8>, Vec<u8>);

    /// Decodes `wire` fed in pieces of `step` bytes (`None`: incomplete).
    fn decode(wire: &[u8], step: usize, max_body: usize) -> Result<Option<Decoded>, ResponseError> {
        let mut decoder = Decoder::new();
        let (mut buffer, mut body) = (BytesMut::new(), BytesMut::new());
        for piece in wire.chunks(step.max(1)) {
            buffer.extend_from_slice(piece);
            if decoder.decode(&mut buffer, &mut body, max_body)? {
                return Ok(Some((body.to_vec(), buffer.to_vec())));
            }
            assert!(body.len() <= max_body);
        }
        Ok(None)
    }

    #[test]
    fn chunks_extensions_and_trailers() {
        let wire = b"5;x=y\r\nhello\r\n6\r\n world\r\n0\r\nT: 1\r\nU: 2\r\n\r\nNEXT";
        for step in 1..=wire.len() {
            let (body, rest) = decode(wire, step, 64).unwrap().unwrap();
            assert_eq!(body, b"hello world", "step {step}");
            // The bytes after the body that came with its end are left.
            assert!(b"NEXT".starts_with(&rest), "step {step}");
        }
    }

    #[test]
    fn sizes_are_hex_in_either_case_with_optional_whitespace() {
        let wire = b"A \r\n0123456789\r\nb\r\n0123456789a\r\n0 ; last\r\n\r\n";
        assert_eq!(decode(wire, 100, 64).unwrap().unwrap().0, b"01234567890123456789a");
    }

    #[test]
    fn malformed_chunks_are_refused() {
        let cases: [(&[u8], ResponseError); 5] = [
            (b"zz\r\n", ResponseError::ChunkSize),
            (b" 5\r\nhello\r\n", ResponseError::ChunkSize),
            (b"5\nhello\r\n", ResponseError::ChunkSize),
            (b"11112222333344445\r\n", ResponseError::ChunkSize),
            (b"1\r\nab\r\n", ResponseError::ChunkEnd),
        ];
        for (wire, want) in cases {
            for step in [1, 1000] {
                assert_eq!(decode(wire, step, usize::MAX).unwrap_err(), want, "{}", String::from_utf8_lossy(wire));
            }
        }
    }

    #[test]
    fn an_incomplete_body_asks_for_more() {
        let wire = b"5\r\nhello\r\n0\r\n";
        for end in 0..=wire.len() {
            assert_eq!(decode(&wire[..end], 1, 64).unwrap(), None, "{end}");
        }
    }

    #[test]
    fn a_chunk_over_the_cap_is_refused_at_its_size_line() {
        // The data never arrives: the size line is enough.
        assert_eq!(decode(b"5\r\n", 1, 4).unwrap_err(), ResponseError::BodyTooLarge { cap: 4 });
        assert_eq!(decode(b"2\r\nab\r\n3\r\n", 1, 4).unwrap_err(), ResponseError::BodyTooLarge { cap: 4 });
        assert_eq!(decode(b"2\r\nab\r\n2\r\ncd\r\n0\r\n\r\n", 1, 4).unwrap().unwrap().0, b"abcd");
        assert_eq!(decode(b"ffffffffffffffff\r\n", 100, usize::MAX).unwrap(), None);
    }

    #[test]
    fn lines_are_capped_whatever_the_pieces() {
        let longest = format!("1;{}\r\nx\r\n0\r\n\r\n", "e".repeat(MAX_CHUNK_LINE - 2));
        assert_eq!(decode(longest.as_bytes(), 7, 64).unwrap().unwrap().0, b"x");
        let over = format!("1;{}\r\nx\r\n0\r\n\r\n", "e".repeat(MAX_CHUNK_LINE - 1));
        for step in [1, 7, over.len()] {
            assert_eq!(decode(over.as_bytes(), step, 64).unwrap_err(), ResponseError::ChunkLineTooLong, "step {step}");
        }
        let trailer = format!("0\r\nT: {}\r\n\r\n", "v".repeat(MAX_HEAD));
        for step in [1000, trailer.len()] {
            assert_eq!(decode(trailer.as_bytes(), step, 64).unwrap_err(), ResponseError::TrailerTooLong, "step {step}");
        }
    }

    #[test]
    fn take_line_decides_on_the_first_max_plus_two_bytes() {
        let mut buffer = BytesMut::from(&b"abc\r"[..]);
        assert_eq!(take_line(&mut buffer, 3), Some(None));
        buffer.extend_from_slice(b"\nrest");
        assert_eq!(take_line(&mut buffer, 3), Some(Some(BytesMut::from(&b"abc"[..]))));
        assert_eq!(&buffer[..], b"rest");
        let mut long = BytesMut::from(&b"abcd\r\n"[..]);
        assert_eq!(take_line(&mut long, 3), None);
    }
}
