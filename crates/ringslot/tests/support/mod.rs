//! Helpers shared by the rule and property tests: response heads and a small output pump.
#![allow(dead_code, unreachable_pub)]

use stowage_proto::{Completion, Instant, Machine, RequestId, TransportError};
use stowage_ringslot::{ByteRange, Fetch, Input, Output, RingSlot};

pub const URI: &str = "/v1/objects/bck/obj?provider=ais";

/// A HEAD answer: 200 with a `Content-Length` and extra headers.
pub fn head_ok(size: u64, extra: &[(&str, &str)]) -> http::Response<()> {
    let mut builder = http::Response::builder().status(200).header("content-length", size);
    for (name, value) in extra {
        builder = builder.header(*name, *value);
    }
    builder.body(()).unwrap()
}

/// A plain status answer.
pub fn status(code: u16) -> http::Response<()> {
    http::Response::builder().status(code).body(()).unwrap()
}

/// The correct 206 for `range` of a `size`-byte object.
pub fn partial(range: ByteRange, size: u64) -> http::Response<()> {
    partial_with(range, size, &[])
}

/// A 206 for `range` with extra headers.
pub fn partial_with(range: ByteRange, size: u64, extra: &[(&str, &str)]) -> http::Response<()> {
    let mut builder = http::Response::builder()
        .status(206)
        .header("content-range", format!("bytes {}-{}/{size}", range.start, range.end - 1))
        .header("content-length", range.len());
    for (name, value) in extra {
        builder = builder.header(*name, *value);
    }
    builder.body(()).unwrap()
}

/// What a server that honours `Range` answers to a request for `asked` of a `size`-byte
/// object: a 206 for the part of it that exists, or a 416 when nothing does.
pub fn served(asked: ByteRange, size: u64) -> http::Response<()> {
    if asked.start >= size {
        let unsatisfied = format!("bytes */{size}");
        return http::Response::builder().status(416).header("content-range", unsatisfied).body(()).unwrap();
    }
    partial(ByteRange { start: asked.start, end: asked.end.min(size) }, size)
}

pub fn respond(ring: &mut RingSlot, now: Instant, id: RequestId, response: http::Response<()>) {
    ring.handle_input(now, Input::Response(Completion { id, result: Ok(response) })).unwrap();
}

pub fn fail(ring: &mut RingSlot, now: Instant, id: RequestId, error: TransportError) {
    ring.handle_input(now, Input::Response(Completion { id, result: Err(error) })).unwrap();
}

pub fn body(ring: &mut RingSlot, now: Instant, id: RequestId, received: u64, error: Option<TransportError>) {
    ring.handle_input(now, Input::Body { id, received, error }).unwrap();
}

/// Drains every pending output.
pub fn drain(ring: &mut RingSlot, now: Instant) -> Vec<Output> {
    std::iter::from_fn(|| ring.poll_output(now)).collect()
}

/// The fetches among `outputs`.
pub fn fetches(outputs: &[Output]) -> Vec<Fetch> {
    outputs.iter().filter_map(|o| if let Output::Fetch(f) = o { Some(*f) } else { None }).collect()
}
