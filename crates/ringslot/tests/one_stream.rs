//! The rules for a server that ignores `Range`: its 200 carries the whole object, which is
//! received piece by piece into the slots, in order, with the same checks and retries.

mod support;

use std::time::Duration;

use stowage_proto::{Backoff, Instant, Machine, RequestId, TransportError};
use stowage_ringslot::{
    ByteRange, Config, DownloadError, Failure, Fetch, Input, Mode, Notice, Output, Receive, RetryPolicy, RingSlot,
};

use support::{URI, body, drain, fail, fetches, partial, respond};

const T0: Instant = Instant::ZERO;

fn range(start: u64, end: u64) -> ByteRange {
    ByteRange { start, end }
}

fn ms(n: u64) -> Instant {
    Instant::from_nanos(n * 1_000_000)
}

/// A 10-byte object in 4-byte ranges, two workers, quick retries, no hedging.
fn config() -> Config {
    Config {
        size: Some(10),
        chunk: Some(4),
        workers: 2,
        hedge: None,
        retry: RetryPolicy {
            max_attempts: 3,
            backoff: Backoff { multiplier: 0.01, min: Duration::from_millis(10), max: Duration::from_millis(40) },
        },
        ..Config::default()
    }
}

fn machine(config: Config) -> RingSlot {
    RingSlot::new(T0, URI.parse().unwrap(), config).unwrap()
}

/// A 200 with the whole object (`size` bytes).
fn whole(size: u64) -> http::Response<()> {
    http::Response::builder().status(200).header("content-length", size).body(()).unwrap()
}

fn receives(outputs: &[Output]) -> Vec<Receive> {
    outputs.iter().filter_map(|o| if let Output::Receive(r) = o { Some(*r) } else { None }).collect()
}

fn delivered(outputs: &[Output]) -> Vec<ByteRange> {
    outputs
        .iter()
        .filter_map(|o| match o {
            Output::Deliver { range, .. } | Output::Landed { range } => Some(*range),
            _ => None,
        })
        .collect()
}

fn done(outputs: &[Output]) -> Option<Result<stowage_ringslot::Summary, DownloadError>> {
    outputs.iter().find_map(|o| if let Output::Done(r) = o { Some(r.clone()) } else { None })
}

/// Receives every piece the machine asks for, whole, releasing delivered slots; returns the
/// pieces received and the ranges delivered (or landed), in order, and the outcome.
fn play(ring: &mut RingSlot, mut outputs: Vec<Output>) -> (Vec<Receive>, Vec<ByteRange>, Output) {
    let (mut pieces, mut got) = (Vec::new(), Vec::new());
    loop {
        let mut next = Vec::new();
        for output in outputs {
            match output {
                Output::Receive(r) => {
                    pieces.push(r);
                    next.push(Input::Body { id: r.id, received: r.range.len(), error: None });
                }
                Output::Deliver { slot, range } => {
                    got.push(range);
                    next.push(Input::Release(slot));
                }
                Output::Landed { range } => got.push(range),
                done @ Output::Done(_) => return (pieces, got, done),
                _ => {}
            }
        }
        assert!(!next.is_empty(), "stuck");
        outputs = Vec::new();
        for input in next {
            ring.handle_input(T0, input).unwrap();
            outputs.extend(drain(ring, T0));
        }
    }
}

/// [`play`] from what the machine has to say at `now`.
fn play_on(ring: &mut RingSlot, now: Instant) -> (Vec<Receive>, Vec<ByteRange>, Output) {
    let outputs = drain(ring, now);
    play(ring, outputs)
}

#[test]
fn a_200_before_any_206_is_received_as_one_stream_in_order() {
    let mut ring = machine(config());
    let all = fetches(&drain(&mut ring, T0));
    respond(&mut ring, T0, all[1].id, whole(10));
    let outputs = drain(&mut ring, T0);
    assert!(outputs.iter().any(|o| matches!(o, Output::Cancel(id) if *id == all[0].id)), "the other request goes");
    assert!(
        outputs.iter().any(|o| matches!(o, Output::Notice(Notice::RangeIgnored { range: r }) if *r == range(4, 8)))
    );
    let first = receives(&outputs);
    assert_eq!(first.len(), 1);
    assert_eq!((first[0].id, first[0].slot, first[0].range), (all[1].id, all[1].slot, range(0, 4)));
    assert!(!first[0].ends_body && !first[0].skip);
    let (pieces, got, done) = play(&mut ring, outputs);
    assert_eq!(
        pieces.iter().map(|p| (p.range, p.ends_body)).collect::<Vec<_>>(),
        [(range(0, 4), false), (range(4, 8), false), (range(8, 10), true)]
    );
    assert!(pieces.iter().all(|p| p.id == all[1].id), "one body");
    assert_eq!(got, [range(0, 4), range(4, 8), range(8, 10)]);
    let Output::Done(Ok(summary)) = done else { panic!("{done:?}") };
    assert_eq!((summary.bytes, summary.requests, summary.one_stream), (10, 2, true));
}

#[test]
fn bytes_before_the_offset_are_skipped_and_after_the_end_not_read() {
    let mut ring = machine(Config { offset: 5, end: Some(9), ..config() });
    let all = fetches(&drain(&mut ring, T0));
    respond(&mut ring, T0, all[0].id, whole(10));
    let (pieces, got, done) = play_on(&mut ring, T0);
    let asked: Vec<_> = pieces.iter().map(|p| (p.range, p.skip)).collect();
    assert_eq!(asked, [(range(0, 4), true), (range(4, 5), true), (range(5, 9), false)]);
    assert_eq!(got, [range(5, 9)]);
    assert!(matches!(done, Output::Done(Ok(s)) if s.bytes == 4));
}

#[test]
fn the_end_of_the_wanted_bytes_cancels_the_rest_of_the_body() {
    let mut ring = machine(Config { end: Some(4), ..config() });
    let all = fetches(&drain(&mut ring, T0));
    respond(&mut ring, T0, all[0].id, whole(10));
    let first = receives(&drain(&mut ring, T0))[0];
    body(&mut ring, T0, first.id, 4, None);
    let outputs = drain(&mut ring, T0);
    assert!(outputs.iter().any(|o| matches!(o, Output::Cancel(id) if *id == first.id)));
    assert!(matches!(done(&outputs), Some(Ok(s)) if s.bytes == 4));
}

#[test]
fn whole_object_mode_lands_the_pieces_and_never_the_skipped_ones() {
    let mut ring = machine(Config { mode: Mode::WholeObject, offset: 2, ..config() });
    let all = fetches(&drain(&mut ring, T0));
    respond(&mut ring, T0, all[0].id, whole(10));
    let (pieces, got, done) = play_on(&mut ring, T0);
    assert_eq!(pieces.iter().filter(|p| p.skip).map(|p| p.range).collect::<Vec<_>>(), [range(0, 2)]);
    assert_eq!(got, [range(2, 6), range(6, 10)]);
    assert!(matches!(done, Output::Done(Ok(s)) if s.bytes == 8));
}

#[test]
fn the_first_range_answered_200_gives_the_size_and_one_stream() {
    let mut ring = machine(Config { size: None, ..config() });
    let probe = fetches(&drain(&mut ring, T0))[0];
    respond(&mut ring, T0, probe.id, whole(6));
    let outputs = drain(&mut ring, T0);
    assert!(outputs.iter().any(|o| matches!(o, Output::Plan(p) if p.size == 6)));
    let (_, got, done) = play(&mut ring, outputs);
    assert_eq!(got, [range(0, 4), range(4, 6)]);
    assert!(matches!(done, Output::Done(Ok(s)) if s.bytes == 6 && s.one_stream));
    // An empty object: nothing to receive.
    let mut ring = machine(Config { size: None, ..config() });
    let probe = fetches(&drain(&mut ring, T0))[0];
    respond(&mut ring, T0, probe.id, whole(0));
    assert!(matches!(done_of(&mut ring), Some(Ok(s)) if s.bytes == 0));
}

fn done_of(ring: &mut RingSlot) -> Option<Result<stowage_ringslot::Summary, DownloadError>> {
    done(&drain(ring, T0))
}

/// Fails the piece being received mid-way, waits out the backoff, and returns the fetch that
/// asks again.
fn fail_mid_piece(ring: &mut RingSlot, piece: Receive, at: Instant) -> Fetch {
    let error = Some(TransportError::Reset);
    ring.handle_input(at, Input::Body { id: piece.id, received: 1, error }).unwrap();
    let outputs = drain(ring, at);
    assert!(outputs.iter().any(|o| matches!(o, Output::Cancel(id) if *id == piece.id)), "{outputs:?}");
    let due = ring.poll_timeout().expect("a retry is due");
    ring.handle_timeout(due);
    fetches(&drain(ring, due)).remove(0)
}

#[test]
fn a_broken_stream_resumes_where_it_broke_each_byte_delivered_once() {
    // The retry is answered 206 for exactly the bytes left: received from there.
    let mut ring = machine(config());
    let all = fetches(&drain(&mut ring, T0));
    respond(&mut ring, T0, all[0].id, whole(10));
    let first = receives(&drain(&mut ring, T0))[0];
    body(&mut ring, T0, first.id, 4, None);
    let outputs = drain(&mut ring, T0);
    let second = receives(&outputs)[0];
    assert_eq!(delivered(&outputs), [range(0, 4)]);
    let again = fail_mid_piece(&mut ring, second, ms(1));
    assert_eq!(again.range, range(4, 10), "the bytes not delivered yet");
    respond(&mut ring, ms(50), again.id, partial(range(4, 10), 10));
    let (pieces, got, done) = play_on(&mut ring, ms(50));
    assert_eq!(pieces.iter().map(|p| p.range).collect::<Vec<_>>(), [range(4, 8), range(8, 10)]);
    assert_eq!(got, [range(4, 8), range(8, 10)]);
    assert!(matches!(done, Output::Done(Ok(s)) if s.bytes == 10 && s.retries == 1 && s.requests == 3));

    // Answered 200 again: the delivered bytes are skipped.
    let mut ring = machine(config());
    let all = fetches(&drain(&mut ring, T0));
    respond(&mut ring, T0, all[0].id, whole(10));
    let first = receives(&drain(&mut ring, T0))[0];
    body(&mut ring, T0, first.id, 4, None);
    let second = receives(&drain(&mut ring, T0))[0];
    let again = fail_mid_piece(&mut ring, second, ms(1));
    respond(&mut ring, ms(50), again.id, whole(10));
    let (pieces, got, _) = play_on(&mut ring, ms(50));
    assert_eq!(
        pieces.iter().map(|p| (p.range, p.skip)).collect::<Vec<_>>(),
        [(range(0, 4), true), (range(4, 8), false), (range(8, 10), false)]
    );
    assert_eq!(got, [range(4, 8), range(8, 10)]);
}

#[test]
fn a_stream_that_keeps_breaking_runs_out_of_attempts() {
    let mut ring = machine(config());
    let all = fetches(&drain(&mut ring, T0));
    respond(&mut ring, T0, all[0].id, whole(10));
    let mut piece = receives(&drain(&mut ring, T0))[0];
    let mut at = ms(1);
    for _ in 0..2 {
        let again = fail_mid_piece(&mut ring, piece, at);
        at = ms(100 * (again.id.0 + 1));
        respond(&mut ring, at, again.id, whole(10));
        piece = receives(&drain(&mut ring, at))[0];
    }
    ring.handle_input(at, Input::Body { id: piece.id, received: 1, error: Some(TransportError::Reset) }).unwrap();
    let error = done_of(&mut ring).expect("done").expect_err("an error");
    let last = Failure::Transport(TransportError::Reset);
    assert_eq!(error, DownloadError::RetriesExhausted { range: Some(range(0, 4)), attempts: 3, last });
}

#[test]
fn one_stream_keeps_the_checks() {
    // The size a 200 states must be the object's.
    let mut ring = machine(config());
    let all = fetches(&drain(&mut ring, T0));
    respond(&mut ring, T0, all[0].id, whole(11));
    assert_eq!(done_of(&mut ring), Some(Err(DownloadError::SizeChanged { was: 10, now: 11 })));
    // A body that ends before the object does.
    let mut ring = machine(config());
    let all = fetches(&drain(&mut ring, T0));
    respond(&mut ring, T0, all[0].id, whole(10));
    let first = receives(&drain(&mut ring, T0))[0];
    body(&mut ring, T0, first.id, 3, None);
    assert_eq!(done_of(&mut ring), Some(Err(DownloadError::ShortBody { range: range(0, 4), received: 3 })));
    // A body longer than the object.
    let mut ring = machine(config());
    let all = fetches(&drain(&mut ring, T0));
    respond(&mut ring, T0, all[0].id, whole(10));
    let (mut piece, mut outputs) = (receives(&drain(&mut ring, T0))[0], Vec::new());
    while !piece.ends_body {
        body(&mut ring, T0, piece.id, piece.range.len(), None);
        outputs = drain(&mut ring, T0);
        for slot in outputs.iter().filter_map(|o| if let Output::Deliver { slot, .. } = o { Some(*slot) } else { None })
        {
            ring.handle_input(T0, Input::Release(slot)).unwrap();
        }
        piece = receives(&outputs).first().copied().unwrap_or_else(|| receives(&drain(&mut ring, T0))[0]);
    }
    let _ = outputs;
    body(&mut ring, T0, piece.id, piece.range.len() + 1, None);
    assert_eq!(done_of(&mut ring), Some(Err(DownloadError::LongBody { range: range(8, 10), received: 3 })));
    // A transport failure before any head is still just a retry.
    let mut ring = machine(config());
    let all = fetches(&drain(&mut ring, T0));
    fail(&mut ring, T0, all[0].id, TransportError::Reset);
    respond(&mut ring, T0, all[1].id, whole(10));
    let outputs = drain(&mut ring, T0);
    assert!(outputs.iter().any(|o| matches!(o, Output::Notice(_))));
    let stray: RequestId = all[0].id;
    assert!(ring.handle_input(T0, Input::Body { id: stray, received: 1, error: None }).is_err());
}

mod properties {
    use proptest::prelude::*;
    use stowage_proto::Completion;

    use super::*;

    /// The reference: the plan's ranges, in order.
    fn reference(size: u64, offset: u64, end: Option<u64>, chunk: u64) -> Vec<ByteRange> {
        let end = end.map_or(size, |e| e.min(size));
        let mut ranges = Vec::new();
        let mut pos = offset;
        while pos < end {
            ranges.push(range(pos, (pos + chunk).min(end)));
            pos = (pos + chunk).min(end);
        }
        ranges
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 1024, ..ProptestConfig::default() })]

        /// Whatever the sizes and wherever the body breaks, a server that ignores Range gets
        /// every planned byte delivered (or landed) once, in order; a body is read in order,
        /// one piece at a time; skipped pieces are never delivered.
        #[test]
        fn one_stream_delivers_every_byte_once_in_order(
            size in 1u64..60,
            offset in 0u64..70,
            end in proptest::option::of(0u64..70),
            chunk in 1u64..9,
            slots in 1u32..4,
            whole_object in any::<bool>(),
            known in any::<bool>(),
            breaks in proptest::collection::vec((any::<u8>(), any::<bool>()), 0..6),
        ) {
            let config = Config {
                size: known.then_some(size),
                offset,
                end,
                chunk: Some(chunk),
                workers: 1,
                slots: Some(slots),
                mode: if whole_object { Mode::WholeObject } else { Mode::Stream },
                retry: RetryPolicy { max_attempts: 10, ..config().retry },
                hedge: None,
                head: false,
                target: None,
                learn_target: true,
                verify: true,
            };
            let mut ring = machine(config);
            let expected = reference(size, offset, end, chunk);
            let mut breaks = breaks.into_iter();
            let (mut now, mut got, mut outstanding) = (T0, Vec::new(), None::<Receive>);
            let mut body_at: Option<(RequestId, u64)> = None;
            let mut outputs = drain(&mut ring, now);
            for _ in 0..10_000 {
                let mut inputs = Vec::new();
                for output in std::mem::take(&mut outputs) {
                    match output {
                        Output::Fetch(f) => {
                            // The server ignores Range: always the whole object, from byte 0.
                            let answer = whole(size);
                            inputs.push(Input::Response(Completion { id: f.id, result: Ok(answer) }));
                            body_at = Some((f.id, 0));
                        }
                        Output::Receive(r) => {
                            prop_assert!(outstanding.is_none(), "one piece at a time");
                            let (id, at) = body_at.expect("a body");
                            prop_assert_eq!((r.id, r.range.start), (id, at), "the body in order");
                            prop_assert!(r.range.len() <= chunk && !r.range.is_empty());
                            outstanding = Some(r);
                        }
                        Output::Deliver { slot, range } => {
                            got.push(range);
                            inputs.push(Input::Release(slot));
                        }
                        Output::Landed { range } => got.push(range),
                        Output::Done(result) => {
                            let summary = result.expect("no error: attempts are plenty");
                            prop_assert_eq!(&got, &expected);
                            prop_assert_eq!(summary.bytes, expected.iter().map(ByteRange::len).sum::<u64>());
                            return Ok(());
                        }
                        Output::Cancel(id) => {
                            if body_at.is_some_and(|(body, _)| body == id) {
                                body_at = None;
                            }
                        }
                        Output::Head(head) => {
                            // An empty span: the size from a HEAD.
                            inputs.push(Input::Response(Completion { id: head.id, result: Ok(whole(size)) }));
                        }
                        Output::Plan(_) | Output::Notice(_) => {}
                    }
                }
                if let Some(piece) = outstanding.take() {
                    let (id, at) = body_at.expect("a body");
                    match breaks.next() {
                        Some((cut, true)) => {
                            let received = u64::from(cut) % piece.range.len();
                            let error = Some(TransportError::Reset);
                            inputs.push(Input::Body { id, received, error });
                        }
                        _ => {
                            body_at = Some((id, at + piece.range.len()));
                            inputs.push(Input::Body { id, received: piece.range.len(), error: None });
                        }
                    }
                }
                if inputs.is_empty() {
                    let due = ring.poll_timeout().expect("something to do");
                    now = now.max(due);
                    ring.handle_timeout(now);
                }
                for input in inputs {
                    ring.handle_input(now, input).unwrap();
                }
                outputs = drain(&mut ring, now);
                prop_assert!(!got.windows(2).any(|w| w[0].end != w[1].start), "gap-free");
            }
            prop_assert!(false, "did not finish");
        }
    }
}
