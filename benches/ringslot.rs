//! The cost of the ring-slot machine per range lifecycle, against the obvious alternative.
//!
//! `ringslot/lifecycle`: a stream-mode download of [`RANGES`] ranges, 8 workers, 16 slots:
//! every range is scheduled (a [`Fetch`](stowage_ringslot::Fetch): id, range, slot), answered
//! with a pre-built 206 head (checked: status, `Content-Range`, `Content-Length`, identity),
//! told to be received (a [`Receive`](stowage_ringslot::Receive)), its body reported complete,
//! delivered in order and released. Each wave of requests is
//! answered in reverse order, so delivery has to wait and reorder. Throughput is in ranges, so
//! the time per element is the cost of one range's whole lifecycle.
//!
//! - `machine`: `RingSlot` driven through `poll_output`/`handle_input`.
//! - `machine+request`: the same, plus the `http::Request` of every fetch built with
//!   `RingSlot::request` (what the tokio driver does; the io_uring driver encodes the request
//!   line itself).
//! - `vecdeque+heap`: a hand-written scheduler with a minimal check (status 206 and the
//!   `Content-Range` numbers): a `VecDeque` of ranges to fetch, a `BinaryHeap` of finished ones
//!   to deliver in order, a `Vec` of free slots. It has no retries, hedging, identity checks,
//!   timers or typed errors.
//! - `answers-only`: the floor every row pays: take each pre-built 206 head out of the fixture
//!   and drop it (its header map is cold in cache and freed), with no scheduling and no check.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, VecDeque};
use std::hint::black_box;

use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use http::header::CONTENT_RANGE;
use stowage_proto::{Completion, Instant, Machine};
use stowage_ringslot::{ByteRange, Config, Input, Output, RingSlot};

/// Ranges per download.
const RANGES: u64 = 1024;
/// Bytes per range (the numbers only matter in headers).
const CHUNK: u64 = 8 << 20;
const SIZE: u64 = RANGES * CHUNK;
const WORKERS: u32 = 8;
const URI: &str = "/v1/objects/bck/big?provider=ais";

fn range(index: u64) -> ByteRange {
    ByteRange { start: index * CHUNK, end: (index + 1) * CHUNK }
}

/// The 206 head of every range, built once (cloned into each run outside the timing).
fn answers() -> Vec<http::Response<()>> {
    (0..RANGES)
        .map(|i| {
            let r = range(i);
            http::Response::builder()
                .status(206)
                .header(CONTENT_RANGE, format!("bytes {}-{}/{SIZE}", r.start, r.end - 1))
                .header(http::header::CONTENT_LENGTH, CHUNK)
                .body(())
                .unwrap()
        })
        .collect()
}

fn machine_download(uri: &http::Uri, build_requests: bool, mut answers: Vec<Option<http::Response<()>>>) -> u64 {
    // No hedging, as the baseline has none (and all time stands still here anyway).
    let config = Config { size: Some(SIZE), chunk: Some(CHUNK), workers: WORKERS, hedge: None, ..Config::default() };
    let now = Instant::ZERO;
    let mut ring = RingSlot::new(now, uri.clone(), config).unwrap();
    let mut wave = Vec::with_capacity(WORKERS as usize);
    let mut delivered = 0;
    loop {
        while let Some(output) = ring.poll_output(now) {
            match output {
                Output::Fetch(fetch) => {
                    if build_requests {
                        black_box(ring.request(&fetch));
                    }
                    wave.push((fetch.id, fetch.range));
                }
                Output::Receive(receive) => {
                    let body = Input::Body { id: receive.id, received: receive.range.len(), error: None };
                    ring.handle_input(now, body).unwrap();
                }
                Output::Deliver { slot, range } => {
                    delivered += range.len();
                    ring.handle_input(now, Input::Release(slot)).unwrap();
                }
                Output::Done(result) => {
                    assert_eq!(result.unwrap().bytes, delivered);
                    return delivered;
                }
                _ => {}
            }
        }
        // Answer the wave's heads in reverse order (their bodies arrive whole when the machine
        // says to receive them, above).
        while let Some((id, range)) = wave.pop() {
            let answer = answers[(range.start / CHUNK) as usize].take().unwrap();
            ring.handle_input(now, Input::Response(Completion { id, result: Ok(answer) })).unwrap();
        }
    }
}

/// The obvious alternative: a queue of ranges, a heap of finished ones, a stack of free slots.
fn baseline_download(mut answers: Vec<Option<http::Response<()>>>) -> u64 {
    let slots = 2 * WORKERS as usize;
    let mut todo: VecDeque<u64> = (0..RANGES).collect();
    let mut free: Vec<usize> = (0..slots).collect();
    let mut finished: BinaryHeap<Reverse<(u64, usize)>> = BinaryHeap::new();
    let mut in_flight: Vec<(u64, usize)> = Vec::with_capacity(WORKERS as usize);
    let mut next_deliver = 0;
    let mut delivered = 0;
    while next_deliver < RANGES {
        while in_flight.len() < WORKERS as usize && !free.is_empty() {
            let Some(index) = todo.pop_front() else { break };
            let slot = free.pop().unwrap();
            in_flight.push(black_box((index, slot)));
        }
        while let Some((index, slot)) = in_flight.pop() {
            let answer = answers[index as usize].take().unwrap();
            assert!(answer.status() == 206 && content_range(&answer) == Some(range(index)));
            finished.push(Reverse((index, slot)));
        }
        while let Some(&Reverse((index, slot))) = finished.peek() {
            if index != next_deliver {
                break;
            }
            finished.pop();
            delivered += range(index).len();
            next_deliver += 1;
            free.push(slot);
        }
    }
    delivered
}

/// The fixture's cost alone: every answer taken (in wave order) and dropped.
fn answers_only(mut answers: Vec<Option<http::Response<()>>>) -> u64 {
    let mut taken = 0;
    for wave in answers.chunks_mut(WORKERS as usize) {
        for answer in wave.iter_mut().rev() {
            taken += u64::from(black_box(answer.take()).is_some());
        }
    }
    taken
}

/// `bytes first-last/total` as a range (the total unchecked).
fn content_range(answer: &http::Response<()>) -> Option<ByteRange> {
    let value = answer.headers().get(CONTENT_RANGE)?.to_str().ok()?;
    let (first, rest) = value.strip_prefix("bytes ")?.split_once('-')?;
    let (last, _total) = rest.split_once('/')?;
    let (first, last): (u64, u64) = (first.parse().ok()?, last.parse().ok()?);
    Some(ByteRange { start: first, end: last + 1 })
}

fn lifecycle(c: &mut Criterion) {
    let uri: http::Uri = URI.parse().unwrap();
    let answers: Vec<Option<http::Response<()>>> = answers().into_iter().map(Some).collect();
    assert_eq!(machine_download(&uri, true, answers.clone()), SIZE);
    assert_eq!(baseline_download(answers.clone()), SIZE);
    let mut group = c.benchmark_group("ringslot/lifecycle");
    group.throughput(Throughput::Elements(RANGES));
    group.bench_function("machine", |b| {
        b.iter_batched(|| answers.clone(), |a| machine_download(black_box(&uri), false, a), BatchSize::LargeInput)
    });
    group.bench_function("machine+request", |b| {
        b.iter_batched(|| answers.clone(), |a| machine_download(black_box(&uri), true, a), BatchSize::LargeInput)
    });
    group.bench_function("vecdeque+heap", |b| {
        b.iter_batched(|| answers.clone(), baseline_download, BatchSize::LargeInput)
    });
    group.bench_function("answers-only", |b| b.iter_batched(|| answers.clone(), answers_only, BatchSize::LargeInput));
    group.finish();
}

criterion_group!(benches, lifecycle);
criterion_main!(benches);
