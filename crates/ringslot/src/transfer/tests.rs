//! The loop against a scripted IO: what it calls, when, and what it feeds back.

use std::collections::HashMap;
use std::io;

use http::Uri;
use stowage_proto::{Completion, Instant, RequestId, Transmit, TransportError};

use super::{GetError, IoEvent, Landing, RangeIo, Transfer};
use stowage_checksum::{Algorithm, Digest};

use crate::{ByteRange, Config, DownloadError, Fetch, Mode, Notice, Plan, Receive, RingSlot, Slot};

const T0: Instant = Instant::ZERO;

/// Records every call; lands as told; refuses the slots in `busy`.
#[derive(Default)]
struct Script {
    calls: Vec<Call>,
    busy: Vec<Slot>,
    landing: Option<Landing>,
    fail_fetch: bool,
    /// What each slot holds once received, and the destination once landed: these bytes at
    /// the receive's range (empty: a destination that keeps nothing).
    object: Vec<u8>,
    received: HashMap<Slot, ByteRange>,
    notices: Vec<Notice>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum Call {
    Send,
    Fetch(RequestId, ByteRange),
    Receive(Receive),
    Cancel(RequestId),
    Plan(Plan, u32),
    Land(RequestId, ByteRange),
    Deliver(Slot, ByteRange),
}

impl RangeIo for Script {
    fn send(&mut self, _: Transmit) -> Result<(), GetError> {
        self.calls.push(Call::Send);
        Ok(())
    }

    fn fetch(&mut self, fetch: Fetch, _: &Uri) -> Result<(), GetError> {
        if self.fail_fetch {
            return Err(GetError::Driver { what: "the script", source: io::Error::other("refused") });
        }
        self.calls.push(Call::Fetch(fetch.id, fetch.range));
        Ok(())
    }

    fn slot_ready(&self, slot: Slot) -> bool {
        !self.busy.contains(&slot)
    }

    fn receive(&mut self, receive: Receive) -> Result<(), GetError> {
        self.received.insert(receive.slot, receive.range);
        self.calls.push(Call::Receive(receive));
        Ok(())
    }

    fn cancel(&mut self, id: RequestId) -> Result<(), GetError> {
        self.calls.push(Call::Cancel(id));
        Ok(())
    }

    fn plan(&mut self, plan: Plan, slots: u32) -> Result<(), GetError> {
        self.calls.push(Call::Plan(plan, slots));
        Ok(())
    }

    fn land(&mut self, id: RequestId, _: Slot, range: ByteRange) -> Result<Landing, GetError> {
        self.calls.push(Call::Land(id, range));
        Ok(self.landing.unwrap_or(Landing::Done))
    }

    fn deliver(&mut self, slot: Slot, range: ByteRange) {
        self.calls.push(Call::Deliver(slot, range));
    }

    fn slot_bytes(&self, slot: Slot, len: usize) -> &[u8] {
        let start = self.received[&slot].start as usize;
        &self.object[start..start + len]
    }

    fn read_back(&mut self, range: ByteRange, sink: &mut dyn FnMut(&[u8])) -> Result<bool, GetError> {
        if self.object.is_empty() {
            return Ok(false);
        }
        // In two pieces, as a reader of a file might.
        let (start, end) = (range.start as usize, range.end as usize);
        let middle = start + (end - start) / 2;
        sink(&self.object[start..middle]);
        sink(&self.object[middle..end]);
        Ok(true)
    }

    fn notice(&mut self, notice: Notice) {
        self.notices.push(notice);
    }
}

impl Script {
    fn take(&mut self) -> Vec<Call> {
        std::mem::take(&mut self.calls)
    }

    fn fetches(calls: &[Call]) -> Vec<(RequestId, ByteRange)> {
        calls.iter().filter_map(|c| if let Call::Fetch(id, r) = c { Some((*id, *r)) } else { None }).collect()
    }
}

fn transfer(mode: Mode, size: u64, chunk: u64, workers: u32) -> Transfer {
    let config = Config { size: Some(size), chunk: Some(chunk), workers, mode, hedge: None, ..Config::default() };
    Transfer::new(RingSlot::new(T0, "/o".parse().unwrap(), config).unwrap())
}

fn partial(range: ByteRange, size: u64) -> http::Response<()> {
    http::Response::builder()
        .status(206)
        .header("content-range", format!("bytes {}-{}/{size}", range.start, range.end - 1))
        .body(())
        .unwrap()
}

fn head(transfer: &mut Transfer, io: &mut Script, id: RequestId, response: http::Response<()>) {
    transfer.handle(io, T0, IoEvent::Response(Completion { id, result: Ok(response) })).unwrap();
    transfer.pump(io, T0).unwrap();
}

fn body(transfer: &mut Transfer, io: &mut Script, id: RequestId, received: u64) -> Result<(), GetError> {
    transfer.handle(io, T0, IoEvent::Body { id, received, error: None })?;
    transfer.pump(io, T0)
}

#[test]
fn a_body_is_read_only_after_its_head_is_accepted_and_delivered_in_order() {
    let (mut transfer, mut io) = (transfer(Mode::Stream, 8, 4, 2), Script::default());
    transfer.pump(&mut io, T0).unwrap();
    let calls = io.take();
    assert_eq!(calls[0], Call::Plan(Plan { size: 8, start: 0, end: 8, chunk: 4 }, 4));
    let fetched = Script::fetches(&calls);
    assert_eq!(fetched.len(), 2);
    assert!(!calls.iter().any(|c| matches!(c, Call::Receive(_))), "no body before its head");
    // The second range's head first: its body is received, and held until the first is there.
    head(&mut transfer, &mut io, fetched[1].0, partial(fetched[1].1, 8));
    let Call::Receive(second) = io.take()[0] else { panic!("a receive") };
    assert_eq!((second.id, second.range), fetched[1]);
    body(&mut transfer, &mut io, second.id, 4).unwrap();
    assert!(io.take().is_empty(), "range 1 waits for range 0");
    head(&mut transfer, &mut io, fetched[0].0, partial(fetched[0].1, 8));
    let Call::Receive(first) = io.take()[0] else { panic!("a receive") };
    body(&mut transfer, &mut io, first.id, 4).unwrap();
    assert_eq!(io.take(), [Call::Deliver(first.slot, fetched[0].1), Call::Deliver(second.slot, fetched[1].1)]);
    assert_eq!(transfer.bytes(), 8);
    assert_eq!(transfer.outcome().unwrap().as_ref().unwrap().bytes, 8);
}

#[test]
fn a_rejected_head_is_cancelled_not_received() {
    let (mut transfer, mut io) = (transfer(Mode::Stream, 8, 4, 1), Script::default());
    transfer.pump(&mut io, T0).unwrap();
    let (id, _) = Script::fetches(&io.take())[0];
    head(&mut transfer, &mut io, id, http::Response::builder().status(503).body(()).unwrap());
    let calls = io.take();
    assert_eq!(calls[0], Call::Cancel(id));
    assert!(!calls.iter().any(|c| matches!(c, Call::Receive(_))), "{calls:?}");
}

#[test]
fn a_receive_waits_for_its_slot_and_keeps_the_order() {
    let (mut transfer, mut io) = (transfer(Mode::Stream, 8, 4, 2), Script::default());
    transfer.pump(&mut io, T0).unwrap();
    let fetched = Script::fetches(&io.take());
    io.busy = vec![Slot(0), Slot(1)];
    head(&mut transfer, &mut io, fetched[0].0, partial(fetched[0].1, 8));
    head(&mut transfer, &mut io, fetched[1].0, partial(fetched[1].1, 8));
    assert!(io.take().is_empty(), "both slots still busy");
    io.busy.clear();
    transfer.pump(&mut io, T0).unwrap();
    let order: Vec<RequestId> =
        io.take().iter().filter_map(|c| if let Call::Receive(r) = c { Some(r.id) } else { None }).collect();
    assert_eq!(order, [fetched[0].0, fetched[1].0]);
    assert_eq!(transfer.receiving.iter().map(|r| r.id).collect::<Vec<_>>(), order);
}

#[test]
fn whole_object_tells_the_machine_only_after_the_range_has_landed() {
    let (mut transfer, mut io) = (transfer(Mode::WholeObject, 4, 4, 1), Script::default());
    io.landing = Some(Landing::Pending);
    transfer.pump(&mut io, T0).unwrap();
    let (id, range) = Script::fetches(&io.take())[0];
    head(&mut transfer, &mut io, id, partial(range, 4));
    io.take();
    body(&mut transfer, &mut io, id, 4).unwrap();
    assert_eq!(io.take(), [Call::Land(id, range)]);
    assert!(transfer.outcome().is_none(), "not landed yet");
    transfer.handle(&mut io, T0, IoEvent::Landed { id, result: Ok(()) }).unwrap();
    transfer.pump(&mut io, T0).unwrap();
    assert_eq!((transfer.bytes(), transfer.outcome().unwrap().as_ref().unwrap().bytes), (4, 4));
}

#[test]
fn a_short_or_broken_body_is_not_landed() {
    let (mut transfer, mut io) = (transfer(Mode::WholeObject, 4, 4, 1), Script::default());
    transfer.pump(&mut io, T0).unwrap();
    let (id, range) = Script::fetches(&io.take())[0];
    head(&mut transfer, &mut io, id, partial(range, 4));
    io.take();
    transfer.handle(&mut io, T0, IoEvent::Body { id, received: 2, error: Some(TransportError::Reset) }).unwrap();
    transfer.pump(&mut io, T0).unwrap();
    assert!(!io.take().iter().any(|c| matches!(c, Call::Land(..))));
}

#[test]
fn a_failed_landing_cancels_everything_and_is_the_error() {
    let (mut transfer, mut io) = (transfer(Mode::WholeObject, 8, 4, 2), Script::default());
    io.landing = Some(Landing::Pending);
    transfer.pump(&mut io, T0).unwrap();
    let fetched = Script::fetches(&io.take());
    head(&mut transfer, &mut io, fetched[0].0, partial(fetched[0].1, 8));
    body(&mut transfer, &mut io, fetched[0].0, 4).unwrap();
    io.take();
    let failed = GetError::File { path: "x".into(), source: io::Error::other("disk full") };
    let error = transfer.handle(&mut io, T0, IoEvent::Landed { id: fetched[0].0, result: Err(failed) }).unwrap_err();
    assert!(matches!(error, GetError::File { .. }), "{error:?}");
    assert!(io.take().contains(&Call::Cancel(fetched[1].0)), "the other request is dropped");
    assert!(matches!(transfer.outcome(), Some(Err(DownloadError::Cancelled))));
}

#[test]
fn an_io_error_cancels_everything_and_is_the_error() {
    let (mut transfer, mut io) = (transfer(Mode::Stream, 8, 4, 2), Script::default());
    io.fail_fetch = true;
    assert!(matches!(transfer.pump(&mut io, T0), Err(GetError::Driver { .. })));
    assert!(matches!(transfer.outcome(), Some(Err(DownloadError::Cancelled))));
}

#[test]
fn events_of_cancelled_requests_are_ignored() {
    let (mut transfer, mut io) = (transfer(Mode::Stream, 8, 4, 1), Script::default());
    transfer.pump(&mut io, T0).unwrap();
    let (id, range) = Script::fetches(&io.take())[0];
    transfer.cancel(T0);
    transfer.pump(&mut io, T0).unwrap();
    assert_eq!(io.take(), [Call::Cancel(id)]);
    head(&mut transfer, &mut io, id, partial(range, 8));
    body(&mut transfer, &mut io, id, 4).unwrap();
    transfer.handle(&mut io, T0, IoEvent::Landed { id, result: Ok(()) }).unwrap();
    assert!(io.take().is_empty());
    assert!(matches!(transfer.outcome(), Some(Err(DownloadError::Cancelled))));
}

/// The object of the integrity tests, and its XXH64 as AIStore states it.
const OBJECT: &[u8] = b"twelve bytes";

fn stating(range: ByteRange, checksum: &str) -> http::Response<()> {
    let mut response = partial(range, OBJECT.len() as u64);
    let headers = response.headers_mut();
    headers.insert("ais-checksum-type", "xxhash2".parse().unwrap());
    headers.insert("ais-checksum-value", checksum.parse().unwrap());
    response
}

fn xxh64(bytes: &[u8]) -> String {
    Digest::of(Algorithm::Xxh64, bytes).to_string()
}

/// Runs a download of [`OBJECT`] (`config` sized and cut in 4-byte ranges, one worker) whose
/// responses state `checksum` and whose slots hold `held`, to its outcome.
fn verified_run(mode: Mode, config: Config, checksum: &str, held: &[u8]) -> (Transfer, Script) {
    let config = Config { chunk: Some(4), workers: 1, mode, hedge: None, ..config };
    let mut transfer = Transfer::new(RingSlot::new(T0, "/o".parse().unwrap(), config).unwrap());
    let mut io = Script { object: held.to_vec(), ..Script::default() };
    transfer.pump(&mut io, T0).unwrap();
    while transfer.outcome().is_none() {
        let calls = io.take();
        let Some((id, range)) = Script::fetches(&calls).first().copied() else {
            // Stream mode: hand the delivered slots back.
            for call in calls {
                if let Call::Deliver(slot, _) = call {
                    transfer.release(T0, slot);
                }
            }
            transfer.pump(&mut io, T0).unwrap();
            continue;
        };
        head(&mut transfer, &mut io, id, stating(range, checksum));
        body(&mut transfer, &mut io, id, range.len()).unwrap();
    }
    (transfer, io)
}

fn sized() -> Config {
    Config { size: Some(OBJECT.len() as u64), ..Config::default() }
}

#[test]
fn the_bytes_are_verified_against_the_stated_checksum_in_either_mode() {
    for mode in [Mode::Stream, Mode::WholeObject] {
        let (transfer, _) = verified_run(mode, sized(), &xxh64(OBJECT), OBJECT);
        let summary = transfer.outcome().unwrap().as_ref().unwrap();
        let verified = summary.verified.expect("verified");
        assert_eq!((verified.algorithm(), verified.render()), (Algorithm::Xxh64, xxh64(OBJECT)), "{mode:?}");
        assert_eq!(transfer.summary().verified, Some(verified));
    }
}

#[test]
fn bytes_that_do_not_match_fail_the_download() {
    let mut corrupted = OBJECT.to_vec();
    corrupted[5] ^= 1;
    for mode in [Mode::Stream, Mode::WholeObject] {
        let (transfer, _) = verified_run(mode, sized(), &xxh64(OBJECT), &corrupted);
        let Some(Err(DownloadError::Integrity(mismatch))) = transfer.outcome() else {
            panic!("{mode:?}: {:?}", transfer.outcome())
        };
        assert_eq!(mismatch.len(), 12);
        assert!(mismatch.to_string().starts_with("checksum mismatch: ais-checksum-value (xxhash2)"), "{mismatch}");
    }
}

#[test]
fn nothing_is_verified_when_it_cannot_or_need_not_be() {
    let checksum = xxh64(OBJECT);
    // Asked not to; part of the object; a destination that keeps nothing.
    let cases = [
        (Mode::Stream, Config { verify: false, ..sized() }, OBJECT),
        (Mode::Stream, Config { offset: 4, ..sized() }, OBJECT),
        (Mode::WholeObject, Config { end: Some(8), ..sized() }, OBJECT),
        (Mode::WholeObject, sized(), &[][..]),
    ];
    for (mode, config, held) in cases {
        let (transfer, _) = verified_run(mode, config.clone(), &checksum, held);
        let summary = transfer.outcome().unwrap().as_ref().unwrap();
        assert_eq!(summary.verified, None, "{mode:?} {config:?}");
    }
}

#[test]
fn a_checksum_that_varies_by_range_is_noticed_and_not_checked() {
    // Each range stated with its own checksum, as AIStore's `enable_read_range` does: checking
    // the whole object against the first range's would fail a good download.
    let config = Config { chunk: Some(4), workers: 1, hedge: None, ..sized() };
    let mut transfer = Transfer::new(RingSlot::new(T0, "/o".parse().unwrap(), config).unwrap());
    let mut io = Script { object: OBJECT.to_vec(), ..Script::default() };
    transfer.pump(&mut io, T0).unwrap();
    while transfer.outcome().is_none() {
        for call in io.take() {
            match call {
                Call::Fetch(id, range) => {
                    let own = xxh64(&OBJECT[range.start as usize..range.end as usize]);
                    head(&mut transfer, &mut io, id, stating(range, &own));
                    body(&mut transfer, &mut io, id, range.len()).unwrap();
                }
                Call::Deliver(slot, _) => transfer.release(T0, slot),
                _ => {}
            }
        }
        transfer.pump(&mut io, T0).unwrap();
    }
    assert_eq!(transfer.outcome().unwrap().as_ref().unwrap().verified, None);
    assert!(matches!(io.notices[..], [Notice::ChecksumVaries { .. }]), "{:?}", io.notices);
}
