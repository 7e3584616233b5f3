//! Property tests: the machine under any completion order, failures, stalls and consumer
//! speed, checked against its invariants and against a reference model of the ranges (the
//! reference SDK's `_build_chunk_ranges`).

mod support;

use std::collections::{BTreeMap, HashMap, HashSet};
use std::time::Duration;

use proptest::prelude::*;
use stowage_proto::{Backoff, Completion, Instant, Machine, RequestId, TransportError};
use stowage_ringslot::{ByteRange, Config, DownloadError, Hedge, Input, Mode, Output, RetryPolicy, RingSlot, Slot};

use support::{URI, head_ok, served, status};

/// The reference: consecutive `[pos, min(pos + chunk, end))` from `offset` up to the end.
fn reference_ranges(size: u64, offset: u64, end: Option<u64>, chunk: u64) -> Vec<ByteRange> {
    let end = end.map_or(size, |e| e.min(size));
    let mut ranges = Vec::new();
    let mut pos = offset;
    while pos < end {
        let next = (pos + chunk).min(end);
        ranges.push(ByteRange { start: pos, end: next });
        pos = next;
    }
    ranges
}

#[derive(Clone, Debug)]
struct Case {
    size: u64,
    known_size: bool,
    /// When the size is not known: ask with a HEAD (else the first range's answer gives it).
    head: bool,
    offset: u64,
    end: Option<u64>,
    chunk: u64,
    workers: u32,
    extra_slots: u32,
    mode: Mode,
    max_attempts: u32,
    hedge: Option<(f64, u32)>,
    steps: Vec<(u8, u16)>,
}

fn case() -> impl Strategy<Value = Case> {
    (
        (0u64..120, any::<bool>(), any::<bool>(), 0u64..130, proptest::option::of(0u64..130), 1u64..16),
        (1u32..5, 0u32..5, prop_oneof![Just(Mode::Stream), Just(Mode::WholeObject)], 1u32..5),
        proptest::option::of((1.0f64..4.0, 0u32..4)),
        proptest::collection::vec((any::<u8>(), any::<u16>()), 0..400),
    )
        .prop_map(
            |(
                (size, known_size, head, offset, end, chunk),
                (workers, extra_slots, mode, max_attempts),
                hedge,
                steps,
            )| Case {
                size,
                known_size,
                head,
                offset,
                end,
                chunk,
                workers,
                extra_slots,
                mode,
                max_attempts,
                hedge,
                steps,
            },
        )
}

impl Case {
    fn config(&self) -> Config {
        Config {
            size: self.known_size.then_some(self.size),
            head: self.head,
            target: None,
            learn_target: true,
            verify: true,
            offset: self.offset,
            end: self.end,
            chunk: Some(self.chunk),
            workers: self.workers,
            slots: Some(self.workers + self.extra_slots),
            mode: self.mode,
            retry: RetryPolicy {
                max_attempts: self.max_attempts,
                backoff: Backoff { multiplier: 0.01, min: Duration::from_millis(5), max: Duration::from_millis(40) },
            },
            hedge: self.hedge.map(|(factor, min_samples)| Hedge { factor, min_samples, floor: Duration::ZERO }),
        }
    }
}

#[derive(Clone, Copy, Debug)]
struct Flight {
    /// The bytes it fetches: what it asked for, or (the first range asked for before the size
    /// was known) the part of that the object has.
    range: ByteRange,
    /// What it asked for.
    asked: ByteRange,
    slot: Slot,
    receiving: bool,
}

/// Plays the server and the consumer, and checks every output against the invariants.
struct World {
    case: Case,
    ring: RingSlot,
    now: Instant,
    expected: Vec<ByteRange>,
    slots: usize,
    head: Option<RequestId>,
    flights: BTreeMap<RequestId, Flight>,
    /// Fetches whose head was just fed: each must be answered by one `Receive` or `Cancel`.
    awaiting: HashSet<RequestId>,
    /// Which range each slot is committed to, from its first fetch until it is released
    /// (stream), landed, or abandoned.
    owner: HashMap<Slot, ByteRange>,
    delivered_unreleased: Vec<Slot>,
    /// The plan has been seen (before it, the one fetch is the first range, sizing the object).
    planned: bool,
    next_byte: u64,
    landed: Vec<ByteRange>,
    attempts: HashMap<ByteRange, u32>,
    failures: u32,
    result: Option<Result<u64, DownloadError>>,
}

impl World {
    fn new(case: Case) -> Self {
        let ring = RingSlot::new(Instant::ZERO, URI.parse().unwrap(), case.config()).unwrap();
        let expected = reference_ranges(case.size, case.offset, case.end, case.chunk);
        let next_byte = expected.first().map_or(0, |r| r.start);
        World {
            slots: (case.workers + case.extra_slots) as usize,
            case,
            ring,
            now: Instant::ZERO,
            expected,
            head: None,
            flights: BTreeMap::new(),
            awaiting: HashSet::new(),
            owner: HashMap::new(),
            delivered_unreleased: Vec::new(),
            planned: false,
            next_byte,
            landed: Vec::new(),
            attempts: HashMap::new(),
            failures: 0,
            result: None,
        }
    }

    fn drain(&mut self) {
        while let Some(output) = self.ring.poll_output(self.now) {
            assert!(self.result.is_none(), "output after Done: {output:?}");
            match output {
                Output::Head(t) => self.head = Some(t.id),
                Output::Plan(plan) => {
                    let ranges: Vec<_> = (0..plan.ranges()).filter_map(|i| plan.range(i)).collect();
                    assert_eq!(ranges, self.expected, "the plan's ranges are the reference's");
                    self.planned = true;
                }
                Output::Fetch(mut f) => {
                    let asked = f.range;
                    if !self.planned {
                        // The first range, sizing the object: from the offset, as long as a chunk
                        // (or to the caller's end); the object may have less.
                        assert!(!self.case.known_size && !self.case.head && self.flights.is_empty());
                        assert_eq!(f.range.start, self.case.offset, "the first range starts at the offset");
                        f.range = self.expected.first().copied().unwrap_or(f.range);
                    }
                    assert!(
                        self.expected.contains(&f.range) || !self.planned,
                        "fetch of an unplanned range {:?}",
                        f.range
                    );
                    assert!((f.slot.0 as usize) < self.slots);
                    if let Some(owner) = self.owner.get(&f.slot) {
                        assert_eq!(*owner, f.range, "{} is reused while it holds {owner:?}", f.slot);
                    }
                    assert!(!self.delivered_unreleased.contains(&f.slot), "{} reused before release", f.slot);
                    self.owner.insert(f.slot, f.range);
                    if !f.hedge {
                        let attempts = self.attempts.entry(f.range).or_default();
                        *attempts += 1;
                        assert!(*attempts <= self.case.max_attempts, "too many attempts at {:?}", f.range);
                    }
                    self.flights.insert(f.id, Flight { range: f.range, asked, slot: f.slot, receiving: false });
                    assert!(self.flights.len() <= self.case.workers as usize, "more than workers in flight");
                    assert!(self.case.mode == Mode::Stream || !f.hedge, "no hedging in whole-object mode");
                }
                Output::Receive(r) => {
                    assert!(self.awaiting.remove(&r.id), "a receive of {} without a head just fed", r.id);
                    let flight = self.flights.get_mut(&r.id).expect("a receive of a request in flight");
                    assert_eq!((r.slot, r.range), (flight.slot, flight.range), "received into its own slot");
                    flight.receiving = true;
                }
                Output::Cancel(id) => {
                    // A rejected head (its flight already forgotten), or a request in flight.
                    if !self.awaiting.remove(&id) || self.flights.contains_key(&id) {
                        let flight = self.flights.remove(&id).expect("cancel of a request in flight");
                        // A cancelled hedge loser gives its slot back (unless it shares it).
                        if self.owner.get(&flight.slot) == Some(&flight.range) {
                            self.owner.remove(&flight.slot);
                        }
                    }
                }
                Output::Deliver { slot, range } => {
                    assert_eq!(self.case.mode, Mode::Stream);
                    assert_eq!(range.start, self.next_byte, "in order and gap-free");
                    assert_eq!(self.owner.get(&slot), Some(&range), "delivered from the slot that was filled");
                    self.next_byte = range.end;
                    self.delivered_unreleased.push(slot);
                }
                Output::Landed { range } => {
                    assert_eq!(self.case.mode, Mode::WholeObject);
                    assert!(!self.landed.contains(&range), "landed twice");
                    self.landed.push(range);
                    self.owner.retain(|_, owned| *owned != range);
                }
                Output::Notice(notice) => panic!("this server honours Range: {notice:?}"),
                Output::Done(result) => self.result = Some(result.map(|s| s.bytes)),
            }
        }
        assert!(self.awaiting.is_empty(), "heads answered by neither Receive nor Cancel: {:?}", self.awaiting);
        assert!(self.ring.in_flight() <= self.case.workers as usize);
        assert!(self.ring.slots_in_use() <= self.slots);
    }

    fn input(&mut self, input: Input) {
        self.ring.handle_input(self.now, input).unwrap();
        self.drain();
    }

    fn answer_head(&mut self) {
        if let Some(id) = self.head.take() {
            self.input(Input::Response(Completion { id, result: Ok(head_ok(self.case.size, &[])) }));
        }
    }

    fn pick(&self, receiving: bool, choice: u16) -> Option<(RequestId, Flight)> {
        let candidates: Vec<_> = self.flights.iter().filter(|(_, f)| f.receiving == receiving).collect();
        if candidates.is_empty() {
            return None;
        }
        let (id, flight) = candidates[choice as usize % candidates.len()];
        Some((*id, *flight))
    }

    /// A request failed: the world forgets it (the machine keeps the slot for the retry, or
    /// frees it when a hedge partner carries on).
    fn forget(&mut self, id: RequestId) {
        let flight = self.flights.remove(&id).expect("known");
        let partner = self.flights.values().any(|f| f.range == flight.range);
        if partner && self.owner.get(&flight.slot) == Some(&flight.range) {
            self.owner.remove(&flight.slot);
        }
        self.failures += 1;
    }

    fn step(&mut self, action: u8, choice: u16) {
        if self.result.is_some() {
            return;
        }
        self.answer_head();
        match action % 8 {
            0 | 1 => {
                if let Some((id, flight)) = self.pick(false, choice) {
                    self.awaiting.insert(id);
                    let size = self.case.size;
                    self.input(Input::Response(Completion { id, result: Ok(served(flight.asked, size)) }));
                }
            }
            2 | 3 => {
                if let Some((id, flight)) = self.pick(true, choice) {
                    self.flights.remove(&id);
                    self.input(Input::Body { id, received: flight.range.len(), error: None });
                }
            }
            4 => {
                if let Some((id, _)) = self.pick(false, choice) {
                    self.forget(id);
                    self.awaiting.insert(id);
                    let result = if choice.is_multiple_of(2) { Ok(status(503)) } else { Err(TransportError::Reset) };
                    self.input(Input::Response(Completion { id, result }));
                }
            }
            5 => {
                if let Some((id, flight)) = self.pick(true, choice) {
                    self.forget(id);
                    let received = u64::from(choice) % flight.range.len();
                    self.input(Input::Body { id, received, error: Some(TransportError::ReadTimeout) });
                }
            }
            6 => {
                if !self.delivered_unreleased.is_empty() {
                    let slot = self.delivered_unreleased.remove(choice as usize % self.delivered_unreleased.len());
                    self.owner.remove(&slot);
                    self.input(Input::Release(slot));
                }
            }
            _ => {
                self.now = self.now.saturating_add(Duration::from_millis(u64::from(choice % 50)));
                if let Some(at) = self.ring.poll_timeout()
                    && choice.is_multiple_of(3)
                {
                    self.now = self.now.max(at);
                }
                self.ring.handle_timeout(self.now);
                self.drain();
            }
        }
    }

    /// Plays everything to the end: answer every request correctly, release every slot, wake
    /// the machine when it asks.
    fn finish(&mut self) {
        for _ in 0..100_000 {
            if self.result.is_some() {
                return;
            }
            if self.head.is_some() {
                self.answer_head();
            } else if let Some((id, flight)) = self.pick(false, 0) {
                self.awaiting.insert(id);
                let size = self.case.size;
                self.input(Input::Response(Completion { id, result: Ok(served(flight.asked, size)) }));
            } else if let Some((id, flight)) = self.pick(true, 0) {
                self.flights.remove(&id);
                self.input(Input::Body { id, received: flight.range.len(), error: None });
            } else if let Some(slot) = self.delivered_unreleased.pop() {
                self.owner.remove(&slot);
                self.input(Input::Release(slot));
            } else if let Some(at) = self.ring.poll_timeout() {
                assert!(at >= self.now || self.flights.is_empty(), "wake-up in the past with nothing to do");
                self.now = self.now.max(at);
                self.ring.handle_timeout(self.now);
                self.drain();
            } else {
                panic!("stuck: nothing in flight, nothing to release, no timer, not done");
            }
        }
        panic!("did not finish");
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2048, ..ProptestConfig::default() })]

    /// Any order of completions, failures, stalls, releases and timer jumps keeps every
    /// invariant, and the download ends with every byte delivered exactly once in order (or
    /// with a range out of attempts, only after failures were injected).
    #[test]
    fn invariants_hold_and_every_byte_arrives_once(case in case()) {
        let mut world = World::new(case.clone());
        world.drain();
        for &(action, choice) in &case.steps {
            world.step(action, choice);
        }
        world.finish();
        let total: u64 = world.expected.iter().map(ByteRange::len).sum();
        match world.result.clone().expect("finished") {
            Ok(bytes) => {
                prop_assert_eq!(bytes, total);
                match case.mode {
                    Mode::Stream => prop_assert_eq!(world.next_byte, world.expected.last().map_or(world.next_byte, |r| r.end)),
                    Mode::WholeObject => {
                        let mut landed = world.landed.clone();
                        landed.sort_by_key(|r| r.start);
                        prop_assert_eq!(landed, world.expected.clone());
                    }
                }
            }
            Err(DownloadError::RetriesExhausted { attempts, .. }) => {
                prop_assert!(world.failures >= attempts);
                prop_assert_eq!(attempts, case.max_attempts);
            }
            Err(other) => prop_assert!(false, "unexpected error {other:?}"),
        }
        prop_assert_eq!(world.ring.poll_timeout(), None);
    }
}
