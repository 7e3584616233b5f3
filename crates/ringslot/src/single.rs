//! One stream for a server that ignores `Range`: its 200 carries the whole object, which is
//! received piece by piece, in order, into the slots.
//!
//! The body is cut where the plan cuts the object: bytes before the plan's start (and, after
//! a failure, bytes already delivered) are received into a slot and dropped ("skipped"); each
//! planned range is received into a slot and delivered (stream mode) or landed (whole-object
//! mode) as the others are; once the plan's end is in, the rest of the body is not wanted and
//! the request is cancelled. A body that fails is asked for again (after the backoff, within
//! the attempts), for the bytes not delivered yet: a 206 for them, or a 200 from the start
//! whose prefix is skipped again. The checks stay: the size, the object's identity, a body
//! neither short nor long.

use stowage_proto::{Instant, RequestId, TransportError};

use crate::check::{self, Verdict};
use crate::machine::{Flight, Phase};
use crate::{ByteRange, Delivery, DownloadError, Failure, Fetch, Notice, Output, Receive, RingSlot, Slot};

/// Where a single stream is. Its request, while there is one, is the machine's only flight.
///
/// Invariants: `pos <= next`, and both lie on a piece boundary (`plan.start + k × chunk`, or
/// below `plan.start` on a multiple of `chunk` from the body's first byte); a piece is at most
/// `chunk` bytes and ends at or before `body_end`; at most one piece is being received.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Single {
    /// The object's byte the body is at: the start of the next piece.
    pos: u64,
    /// The first byte not yet delivered (or landed): where a retry resumes.
    next: u64,
    /// One past the object's last byte the current body holds.
    body_end: u64,
    /// Attempts at the current piece.
    attempts: u32,
    /// The piece being received.
    piece: Option<(Slot, ByteRange)>,
    /// A slot its request holds for the first piece.
    reserved: Option<Slot>,
    /// The body failed; it is asked for again at this instant.
    until: Option<Instant>,
}

impl RingSlot {
    /// The request at `position` got a 200 with the whole object, before any range was ever
    /// answered 206: every other request is dropped and the object comes as one stream.
    pub(crate) fn single_stream(&mut self, position: usize, attempts: u32) {
        let request = self.flights.swap_remove(position);
        for other in std::mem::take(&mut self.flights) {
            self.outputs.push_back(Output::Cancel(other.id));
            self.free_slot(other.slot);
        }
        self.discard_window();
        self.flights.push(Flight { receiving: true, ..request });
        self.summary.one_stream = true;
        self.outputs.push_back(Output::Notice(Notice::RangeIgnored { range: request.range }));
        let single = Single {
            pos: 0,
            next: self.plan.start,
            body_end: self.plan.size,
            attempts,
            piece: None,
            reserved: Some(request.slot),
            until: None,
        };
        self.phase = Phase::Single(single);
        self.single_step();
    }

    /// Asks for the next piece of the body, if a slot is free; or ends the download once
    /// everything planned is in.
    pub(crate) fn single_step(&mut self) {
        let Phase::Single(mut single) = self.phase else { return };
        if single.next >= self.plan.end {
            // What is left of the body (past the caller's end) is not wanted.
            return self.finish(Ok(self.summary));
        }
        if single.piece.is_some() || single.until.is_some() {
            return;
        }
        let Some(request) = self.flights.first().filter(|f| f.receiving).map(|f| f.id) else { return };
        let range = self.piece_at(single.pos, single.next);
        let Some(slot) = single.reserved.take().or_else(|| self.take_slot()) else { return };
        single.piece = Some((slot, range));
        let (ends_body, skip) = (range.end == single.body_end, range.end <= single.next);
        self.outputs.push_back(Output::Receive(Receive { id: request, slot, range, ends_body, skip }));
        self.phase = Phase::Single(single);
    }

    /// The piece of the body at `pos`: up to `chunk` bytes to skip while below `next` (and the
    /// plan's start), else the planned range there.
    fn piece_at(&self, pos: u64, next: u64) -> ByteRange {
        let chunk = self.plan.chunk;
        if pos < next {
            return ByteRange { start: pos, end: pos.saturating_add(chunk).min(next) };
        }
        let index = (pos - self.plan.start) / chunk;
        self.plan.range(index).unwrap_or(ByteRange { start: pos, end: pos })
    }

    /// The body of the piece being received ended with `received` bytes.
    pub(crate) fn on_single_body(
        &mut self,
        now: Instant,
        position: usize,
        received: u64,
        error: Option<TransportError>,
    ) {
        let Phase::Single(mut single) = self.phase else { return };
        let Some((slot, range)) = single.piece.take() else { return };
        self.phase = Phase::Single(single);
        if received > range.len() {
            return self.finish(Err(DownloadError::LongBody { range, received }));
        }
        if received < range.len() {
            return match error {
                Some(TransportError::Redirect(error)) => {
                    self.finish(Err(DownloadError::Redirect { range: Some(range), error }))
                }
                Some(error @ TransportError::Tls(tls)) if error.is_permanent() => {
                    self.finish(Err(DownloadError::Tls { range: Some(range), error: tls }))
                }
                Some(error) => {
                    self.free_slot(slot);
                    let request = self.flights.swap_remove(position);
                    self.outputs.push_back(Output::Cancel(request.id));
                    self.single_fail(now, range, Failure::Transport(error));
                }
                None => self.finish(Err(DownloadError::ShortBody { range, received })),
            };
        }
        single.pos = range.end;
        if range.end <= single.next {
            // Bytes before the plan, or delivered before a failure: dropped.
            self.free_slot(slot);
        } else {
            single.next = range.end;
            single.attempts = 1;
            self.summary.bytes += range.len();
            self.summary.ranges += 1;
            match self.delivery {
                Delivery::Stream => self.deliver_slot(slot, range),
                Delivery::WholeObject => {
                    self.free_slot(slot);
                    self.outputs.push_back(Output::Landed { range });
                }
            }
        }
        if range.end >= single.body_end {
            // The body is over.
            self.flights.swap_remove(position);
        }
        self.phase = Phase::Single(single);
        self.single_step();
    }

    /// The head of a request asking for the rest again: a 206 for exactly that, or a 200 from
    /// the start.
    pub(crate) fn on_single_response(
        &mut self,
        now: Instant,
        position: usize,
        result: &Result<http::Response<()>, TransportError>,
    ) {
        let Phase::Single(mut single) = self.phase else { return };
        let asked = self.flights[position].range;
        let whole = result.as_ref().ok().filter(|r| r.status() == http::StatusCode::OK);
        let verdict = match whole {
            Some(response) => match check::whole(response, self.plan.size, &mut self.identity) {
                Ok(()) => Verdict::Accept(()),
                Err(error) => Verdict::Fatal(error),
            },
            None => check::range(result, asked, self.plan.size, &self.usual, &mut self.identity),
        };
        let whole = whole.is_some();
        match verdict {
            Verdict::Accept(()) => {
                (single.pos, single.body_end) = if whole { (0, self.plan.size) } else { (asked.start, asked.end) };
                self.flights[position].receiving = true;
                self.phase = Phase::Single(single);
                self.single_step();
            }
            Verdict::Retry(failure) => self.single_request_failed(now, position, failure),
            Verdict::Fatal(error) => self.finish(Err(error)),
        }
    }

    /// The request asking for the rest again failed before its body, in a way worth retrying.
    pub(crate) fn single_request_failed(&mut self, now: Instant, position: usize, last: Failure) {
        let Phase::Single(mut single) = self.phase else { return };
        let request = self.flights.swap_remove(position);
        self.outputs.push_back(Output::Cancel(request.id));
        match (single.reserved.take(), single.piece.take()) {
            (Some(slot), _) | (None, Some((slot, _))) => self.free_slot(slot),
            (None, None) => {}
        }
        self.phase = Phase::Single(single);
        self.single_fail(now, request.range, last);
    }

    /// The stream failed at `range` in a way worth retrying: ask again after the backoff, or
    /// give up when out of attempts.
    fn single_fail(&mut self, now: Instant, range: ByteRange, last: Failure) {
        let Phase::Single(mut single) = self.phase else { return };
        if single.attempts >= self.retry.max_attempts {
            let attempts = single.attempts;
            return self.finish(Err(DownloadError::RetriesExhausted { range: Some(range), attempts, last }));
        }
        single.until = Some(now.saturating_add(self.retry.backoff.delay(single.attempts)));
        self.phase = Phase::Single(single);
    }

    /// Whether a body may be fed: always, but for one stream between its pieces.
    pub(crate) fn expects_piece(&self) -> bool {
        match self.phase {
            Phase::Single(single) => single.piece.is_some(),
            _ => true,
        }
    }

    /// When the stream is asked for again, if it failed.
    pub(crate) fn single_retry_due(&self) -> Option<Instant> {
        match self.phase {
            Phase::Single(single) => single.until,
            _ => None,
        }
    }

    /// The backoff is over: ask for the bytes not delivered yet.
    pub(crate) fn single_retry(&mut self, now: Instant) {
        let Phase::Single(mut single) = self.phase else { return };
        if single.until.is_none_or(|until| until > now) {
            return;
        }
        let Some(slot) = self.take_slot() else { return };
        single.until = None;
        single.attempts += 1;
        single.reserved = Some(slot);
        self.summary.retries += 1;
        let range = ByteRange { start: single.next, end: self.plan.end };
        let id: RequestId = self.ids.next_id();
        let via_target = self.via_target();
        let flight =
            Flight { id, index: 0, range, slot, started: now, receiving: false, hedge: false, via_target, hops: 0 };
        self.flights.push(flight);
        self.summary.requests += 1;
        self.outputs.push_back(Output::Fetch(Fetch { id, range, slot, hedge: false }));
        self.phase = Phase::Single(single);
    }
}
