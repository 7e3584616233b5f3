//! Fuzzes `RingSlot` with any configuration, arbitrary event sequences and response heads (every
//! status, any `Content-Range` and `Content-Length` bytes, `ETag`s, transport errors, bodies of
//! any length), stray ids and slots, releases, cancellations and clock jumps, and checks:
//!
//! - nothing panics, and a refused input changes nothing visible;
//! - range requests in flight ≤ workers; slots in use ≤ slots; every fetch asks for a range
//!   inside the plan, into a slot below `slots`;
//! - every fetch head the machine takes is answered by exactly one `Receive` (into the
//!   fetch's own slot, for its range) or `Cancel`, and a body is accepted only after its
//!   `Receive`; after the server ignored `Range` (a 200), the pieces of its one body are
//!   inside the object, and inside the plan unless skipped;
//! - stream mode delivers in order, gap-free; whole-object mode lands each range once;
//! - after `Done`, nothing is emitted and no timer is set; a successful `Done` delivered
//!   exactly `plan.len()` bytes.
#![no_main]

use std::time::Duration;

use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;
use stowage_proto::{Backoff, Completion, Instant, Machine, RequestId, TransportError};
use stowage_ringslot::{Config, Hedge, Input, Mode, Notice, Output, Plan, RetryPolicy, RingSlot, Slot};

#[derive(Debug, Arbitrary)]
struct Case {
    /// The size the machine is told, if any.
    size: Option<u64>,
    /// The size the "server" answers with while the machine does not know one.
    object: u64,
    /// Ask for an unknown size with a HEAD (else the first range's answer gives it).
    head: bool,
    offset: u64,
    end: Option<u64>,
    chunk: Option<u64>,
    workers: u8,
    slots: Option<u8>,
    whole: bool,
    max_attempts: u8,
    hedge: Option<(f64, u8, u16)>,
    events: Vec<Event>,
}

#[derive(Debug, Arbitrary)]
enum Event {
    /// Answer the `n`-th request in flight (or a stray id) with a head.
    Head {
        n: u8,
        reply: Reply,
    },
    /// End the body of the `n`-th request in flight.
    Body {
        n: u8,
        received: Received,
        error: Option<u8>,
    },
    Release(u8),
    Cancel,
    Jump {
        backwards: bool,
        millis: u32,
    },
    Wake,
}

#[derive(Debug, Arbitrary)]
enum Received {
    All,
    Exactly(u64),
}

#[derive(Debug, Arbitrary)]
enum Reply {
    /// The correct answer (a 206 with the right range, or the HEAD's 200).
    Correct,
    Status {
        status: u16,
        content_range: Option<Vec<u8>>,
        content_length: Option<Vec<u8>>,
        etag: Option<u8>,
    },
    Transport(u8),
}

fn error(i: u8) -> TransportError {
    TransportError::ALL[usize::from(i) % TransportError::ALL.len()]
}

/// A request the fuzzer has seen and not yet seen end.
struct Seen {
    id: RequestId,
    range: Option<(u64, u64)>,
}

fuzz_target!(|case: Case| {
    let config = Config {
        size: case.size,
        head: case.head,
        target: None,
        learn_target: true,
        verify: true,
        offset: case.offset,
        end: case.end,
        chunk: case.chunk,
        workers: u32::from(case.workers % 9),
        slots: case.slots.map(u32::from),
        mode: if case.whole { Mode::WholeObject } else { Mode::Stream },
        retry: RetryPolicy {
            max_attempts: u32::from(case.max_attempts % 6),
            backoff: Backoff { multiplier: 0.01, min: Duration::from_millis(1), max: Duration::from_millis(50) },
        },
        hedge: case.hedge.map(|(factor, min_samples, floor)| Hedge {
            factor,
            min_samples: u32::from(min_samples % 5),
            floor: Duration::from_millis(u64::from(floor)),
        }),
    };
    let mut now = Instant::from_nanos(1 << 40);
    let Ok(mut ring) = RingSlot::new(now, "/v1/objects/b/o?provider=ais".parse().unwrap(), config.clone()) else {
        return;
    };
    let workers = config.workers as usize;
    let slots = config.slot_count() as usize;
    let mut seen: Vec<Seen> = Vec::new();
    // Fetches whose head was just taken (each needs a verdict), and those told to receive.
    let mut awaiting: Vec<RequestId> = Vec::new();
    let mut receiving: Vec<RequestId> = Vec::new();
    // The server ignored Range: one body carries the object, received piece by piece.
    let mut one_stream = false;
    let mut delivered: Vec<Slot> = Vec::new();
    let mut plan: Option<Plan> = None;
    let mut next_byte = None;
    let mut landed = Vec::new();
    let mut bytes = 0u64;
    let mut done = false;
    for event in case.events {
        while let Some(output) = ring.poll_output(now) {
            assert!(!done, "output after Done");
            match output {
                Output::Head(t) => seen.push(Seen { id: t.id, range: None }),
                Output::Plan(p) => {
                    assert!(p.start <= p.end && p.end <= p.size && p.chunk >= 1);
                    plan = Some(p);
                    next_byte = Some(p.start);
                }
                Output::Fetch(f) => {
                    match plan {
                        Some(p) => assert!(p.start <= f.range.start && f.range.end <= p.end && !f.range.is_empty()),
                        // The first range, sizing the object: one, from the offset.
                        None => assert!(f.range.start == case.offset && !f.range.is_empty() && !f.hedge && seen.is_empty()),
                    }
                    assert!((f.slot.0 as usize) < slots);
                    assert!(!delivered.contains(&f.slot), "slot reused before release");
                    seen.push(Seen { id: f.id, range: Some((f.range.start, f.range.end)) });
                }
                Output::Receive(r) => {
                    let fed = awaiting.iter().position(|id| *id == r.id);
                    if let Some(at) = fed {
                        awaiting.swap_remove(at);
                    }
                    if one_stream {
                        // A piece of the one body: in the object, from a request in flight.
                        let p = plan.expect("a plan before one stream");
                        assert!(r.range.end <= p.size && !r.range.is_empty() && seen.iter().any(|s| s.id == r.id));
                        assert!(r.skip || (p.start <= r.range.start && r.range.end <= p.end));
                    } else {
                        assert!(fed.is_some(), "a receive without a head just fed");
                        let fetched = seen.iter().find(|s| s.id == r.id).and_then(|s| s.range);
                        // Its own range (the first one cut where the object ends).
                        let own = fetched.is_some_and(|(start, end)| r.range.start == start && r.range.end <= end);
                        assert!(own, "received for its own range");
                    }
                    if let Some(entry) = seen.iter_mut().find(|s| s.id == r.id) {
                        entry.range = Some((r.range.start, r.range.end));
                    }
                    assert!((r.slot.0 as usize) < slots);
                    receiving.push(r.id);
                }
                Output::Notice(Notice::RangeIgnored { .. }) => one_stream = true,
                Output::Cancel(id) => {
                    seen.retain(|s| s.id != id);
                    awaiting.retain(|a| *a != id);
                    receiving.retain(|r| *r != id);
                }
                Output::Deliver { slot, range } => {
                    assert_eq!(Some(range.start), next_byte, "in order, gap-free");
                    next_byte = Some(range.end);
                    bytes += range.len();
                    delivered.push(slot);
                }
                Output::Landed { range } => {
                    assert!(!landed.contains(&range.start), "landed twice");
                    landed.push(range.start);
                    bytes += range.len();
                }
                Output::Done(result) => {
                    done = true;
                    if let (Ok(summary), Some(p)) = (result, plan) {
                        assert_eq!(summary.bytes, p.len());
                        assert_eq!(bytes, p.len());
                    }
                }
            }
        }
        assert!(awaiting.is_empty(), "heads answered by neither Receive nor Cancel");
        assert!(ring.in_flight() <= workers);
        assert!(ring.slots_in_use() <= slots);
        if done {
            assert_eq!(ring.poll_timeout(), None);
        }
        match event {
            Event::Head { n, reply } => {
                let target = seen.get(usize::from(n)).map(|s| (s.id, s.range));
                let (id, range) = target.unwrap_or((RequestId(u64::from(n) + 1000), None));
                let size = plan.map_or(case.size.unwrap_or(case.object), |p| p.size);
                let result = match reply {
                    Reply::Correct => Ok(match range {
                        None => http::Response::builder().header("content-length", size).body(()).unwrap(),
                        Some((start, _)) if start >= size => http::Response::builder()
                            .status(416)
                            .header("content-range", format!("bytes */{size}"))
                            .body(())
                            .unwrap(),
                        Some((start, end)) => http::Response::builder()
                            .status(206)
                            .header("content-range", format!("bytes {start}-{}/{size}", end.min(size) - 1))
                            .body(())
                            .unwrap(),
                    }),
                    Reply::Status { status, content_range, content_length, etag } => {
                        let mut builder = http::Response::builder().status(status.clamp(100, 999));
                        if let Some(v) = content_range.and_then(|v| http::HeaderValue::from_bytes(&v).ok()) {
                            builder = builder.header("content-range", v);
                        }
                        if let Some(v) = content_length.and_then(|v| http::HeaderValue::from_bytes(&v).ok()) {
                            builder = builder.header("content-length", v);
                        }
                        if let Some(etag) = etag {
                            builder = builder.header("etag", u16::from(etag));
                        }
                        match builder.body(()) {
                            Ok(response) => Ok(response),
                            Err(_) => continue,
                        }
                    }
                    Reply::Transport(i) => Err(error(i)),
                };
                let taken = ring.handle_input(now, Input::Response(Completion { id, result })).is_ok();
                if taken && range.is_some() {
                    awaiting.push(id);
                }
            }
            Event::Body { n, received, error: e } => {
                let Some(target) = seen.get(usize::from(n)) else { continue };
                let received = match (received, target.range) {
                    (Received::All, Some((start, end))) => end - start,
                    (Received::All, None) => 0,
                    (Received::Exactly(n), _) => n,
                };
                let id = target.id;
                let accepted = ring.handle_input(now, Input::Body { id, received, error: e.map(error) }).is_ok();
                if accepted {
                    assert!(receiving.contains(&id), "a body accepted without its Receive");
                    if !one_stream {
                        seen.retain(|s| s.id != id);
                    }
                    receiving.retain(|r| *r != id);
                }
            }
            Event::Release(i) => {
                let slot = Slot(u32::from(i) % (slots as u32 + 2));
                if ring.handle_input(now, Input::Release(slot)).is_ok() {
                    let at = delivered.iter().position(|s| *s == slot).expect("released a delivered slot");
                    delivered.swap_remove(at);
                } else {
                    assert!(!delivered.contains(&slot), "a delivered slot's release was refused");
                }
            }
            Event::Cancel => {
                let _ = ring.handle_input(now, Input::Cancel);
            }
            Event::Jump { backwards, millis } => {
                let d = Duration::from_millis(u64::from(millis));
                now = if backwards {
                    Instant::from_nanos(now.as_nanos().saturating_sub(d.as_nanos() as u64))
                } else {
                    now.saturating_add(d)
                };
            }
            Event::Wake => {
                if let Some(at) = ring.poll_timeout() {
                    now = now.max(at);
                }
                ring.handle_timeout(now);
            }
        }
    }
});
