//! The loop every driver runs a [`RingSlot`] with, written once.
//!
//! A driver provides the IO of a ranged download as a [`RangeIo`]: send a request, read a body
//! into a slot, drop a request, put a finished slot where it belongs, hand a slot to the
//! consumer. [`Transfer`] turns the machine's outputs into those calls and the IO's
//! [`IoEvent`]s back into the machine's inputs, so no driver decides anything about a
//! download. What stays in a driver is how it waits (tokio's `select!`, io_uring's completion
//! queue), its buffers, and how its consumer takes the bytes.
//!
//! A driver's loop, in outline:
//!
//! ```text
//! loop {
//!     transfer.pump(&mut io, now)?;                 // act on what the machine asks
//!     if transfer.outcome().is_some() { break }     // (stream mode: once the consumer has it all)
//!     wait for an IoEvent, transfer.poll_timeout(), or the consumer;
//!     transfer.handle(&mut io, now, event)?  |  transfer.handle_timeout(now)  |  transfer.release(now, slot)
//! }
//! ```
//!
//! Whole-object mode writes a finished range to its destination ([`RangeIo::land`]) before the
//! machine learns that its body ended, so the machine never frees a slot whose bytes are still
//! being written.
//!
//! The transfer also verifies the bytes ([`Config::verify`](crate::Config::verify), on by
//! default) against the checksum the server states, as the `integrity` module describes: hashed
//! as they are delivered (stream mode) or read back from the destination once all have landed
//! (whole-object mode). A mismatch is the outcome [`DownloadError::Integrity`]; a download that
//! matched says against what in [`Summary::verified`]. Only a download of the whole object
//! (no `offset`, no `end` short of the size) can be checked against the object's checksum.

mod error;
mod integrity;
mod io;

use std::collections::VecDeque;

use stowage_proto::{Instant, Machine};

pub use error::GetError;
pub use io::{IoEvent, Landing, RangeIo};

use self::integrity::Integrity;
use crate::{ByteRange, DownloadError, Input, Mode, Output, Plan, Receive, RingSlot, Slot, Summary};

/// A [`RingSlot`] download run against a driver's [`RangeIo`].
///
/// Invariants: a body is read only for a [`Receive`] the machine emitted, and into its slot
/// only once [`RangeIo::slot_ready`] says so, receives starting in the order the machine
/// emitted them; the machine hears of a whole-object body's end only after the range has
/// landed; after the first IO error every request is cancelled and that error is the outcome;
/// a successful outcome is one whose bytes matched the stated checksum, or had none to match.
#[derive(Debug)]
pub struct Transfer {
    ring: RingSlot,
    mode: Mode,
    slots: u32,
    /// Receives waiting for their slot to be ready, in order.
    deferred: VecDeque<Receive>,
    /// Receives started: their body is arriving, or (whole-object mode) landing.
    receiving: Vec<Receive>,
    /// Bytes delivered (stream mode) or landed (whole-object mode) so far.
    bytes: u64,
    /// The check of the bytes.
    integrity: Integrity,
    outcome: Option<Result<Summary, DownloadError>>,
}

impl Transfer {
    /// Runs `ring`.
    pub fn new(ring: RingSlot) -> Self {
        let (mode, slots, integrity) = (ring.mode(), ring.slot_count(), Integrity::new(ring.verify()));
        let (deferred, receiving) = (VecDeque::new(), Vec::new());
        Transfer { ring, mode, slots, deferred, receiving, bytes: 0, integrity, outcome: None }
    }

    /// Acts on everything the machine asks for, then starts the held-back receives whose slot
    /// is ready. Call it after every [`Transfer::handle`], [`Transfer::handle_timeout`] and
    /// [`Transfer::release`] (and once at the start).
    ///
    /// On an IO error the download is cancelled (every request dropped) and the error
    /// returned; the machine's outcome is then [`DownloadError::Cancelled`].
    pub fn pump(&mut self, io: &mut impl RangeIo, now: Instant) -> Result<(), GetError> {
        let result = self.act(io, now).and_then(|()| self.start_deferred(io));
        if result.is_err() {
            self.abandon(io, now);
        }
        result
    }

    /// Feeds what the IO reports. Events of requests cancelled meanwhile are ignored. Call
    /// [`Transfer::pump`] after it.
    pub fn handle(&mut self, io: &mut impl RangeIo, now: Instant, event: IoEvent) -> Result<(), GetError> {
        match event {
            IoEvent::Response(completion) => {
                if let Ok(response) = &completion.result {
                    // Whole-object mode hashes at the end, so a checksum is never late there.
                    let hashed = self.mode == Mode::Stream && self.bytes > 0;
                    if let Some(notice) = self.integrity.observe(response, hashed) {
                        io.notice(notice);
                    }
                }
                self.feed(now, Input::Response(completion));
            }
            IoEvent::Body { id, received, error } => {
                let Some(position) = self.receiving.iter().position(|r| r.id == id) else { return Ok(()) };
                let receive = self.receiving[position];
                let complete = error.is_none() && received == receive.range.len();
                if complete && !receive.skip && self.mode == Mode::WholeObject {
                    let landing = io.land(id, receive.slot, receive.range);
                    match landing {
                        Ok(Landing::Pending) => return Ok(()),
                        Ok(Landing::Done) => {}
                        Err(error) => {
                            self.abandon(io, now);
                            return Err(error);
                        }
                    }
                }
                self.receiving.swap_remove(position);
                self.feed(now, Input::Body { id, received, error });
            }
            IoEvent::Landed { id, result } => {
                let Some(position) = self.receiving.iter().position(|r| r.id == id) else { return Ok(()) };
                let receive = self.receiving.swap_remove(position);
                if let Err(error) = result {
                    self.abandon(io, now);
                    return Err(error);
                }
                self.feed(now, Input::Body { id, received: receive.range.len(), error: None });
            }
        }
        Ok(())
    }

    /// Wakes the machine (at or after [`Transfer::poll_timeout`]). Call [`Transfer::pump`]
    /// after it.
    pub fn handle_timeout(&mut self, now: Instant) {
        self.ring.handle_timeout(now);
    }

    /// When the machine next wants [`Transfer::handle_timeout`], if ever.
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.ring.poll_timeout()
    }

    /// The consumer is done with the bytes [delivered](RangeIo::deliver) in `slot`. Call
    /// [`Transfer::pump`] after it.
    pub fn release(&mut self, now: Instant, slot: Slot) {
        self.feed(now, Input::Release(slot));
    }

    /// The consumer gives up: every request is cancelled (at the next [`Transfer::pump`]) and
    /// the outcome is [`DownloadError::Cancelled`].
    pub fn cancel(&mut self, now: Instant) {
        self.feed(now, Input::Cancel);
    }

    /// How the download ended, once it has (in stream mode the consumer may still be taking
    /// the last slots).
    pub fn outcome(&self) -> Option<&Result<Summary, DownloadError>> {
        self.outcome.as_ref()
    }

    /// Bytes delivered (stream mode) or landed (whole-object mode) so far.
    pub fn bytes(&self) -> u64 {
        self.bytes
    }

    /// What the download did so far (once it is over, with [`Summary::verified`]).
    pub fn summary(&self) -> Summary {
        match &self.outcome {
            Some(Ok(summary)) => *summary,
            _ => self.ring.summary(),
        }
    }

    /// How the object is cut, once its size is known.
    pub fn plan(&self) -> Option<Plan> {
        self.ring.plan()
    }

    /// The machine.
    pub fn ring(&self) -> &RingSlot {
        &self.ring
    }

    /// Feeds the machine. A refusal is a stray input (of a request cancelled meanwhile, or a
    /// release after the end): nothing to do.
    fn feed(&mut self, now: Instant, input: Input) {
        let _stray = self.ring.handle_input(now, input);
    }

    fn act(&mut self, io: &mut impl RangeIo, now: Instant) -> Result<(), GetError> {
        while let Some(output) = self.ring.poll_output(now) {
            match output {
                Output::Head(transmit) => io.send(*transmit)?,
                Output::Plan(plan) => {
                    if plan.start != 0 || plan.end != plan.size {
                        // Part of the object: nothing states the part's checksum.
                        self.integrity.give_up();
                    }
                    io.plan(plan, self.slots)?;
                }
                Output::Fetch(fetch) => io.fetch(fetch, self.ring.uri_for(&fetch))?,
                Output::Receive(receive) => self.deferred.push_back(receive),
                Output::Deliver { slot, range } => {
                    self.bytes += range.len();
                    if self.integrity.hashing() {
                        // A slot holds at most a chunk, which is a `usize`.
                        let len = usize::try_from(range.len()).unwrap_or(usize::MAX);
                        self.integrity.update(io.slot_bytes(slot, len));
                    }
                    io.deliver(slot, range);
                }
                Output::Landed { range } => self.bytes += range.len(),
                Output::Notice(notice) => io.notice(notice),
                Output::Cancel(id) => {
                    self.deferred.retain(|r| r.id != id);
                    self.receiving.retain(|r| r.id != id);
                    io.cancel(id)?;
                }
                Output::Done(result) => {
                    let result = self.conclude(io, result)?;
                    self.outcome = Some(result);
                }
            }
        }
        Ok(())
    }

    /// The outcome of a download the machine has ended: a success only if its bytes match the
    /// checksum stated (whole-object mode: read back from the destination now).
    fn conclude(
        &mut self,
        io: &mut impl RangeIo,
        result: Result<Summary, DownloadError>,
    ) -> Result<Result<Summary, DownloadError>, GetError> {
        let Ok(mut summary) = result else { return Ok(result) };
        if self.mode == Mode::WholeObject
            && self.integrity.hashing()
            && let Some(plan) = self.ring.plan()
        {
            let integrity = &mut self.integrity;
            let range = ByteRange { start: plan.start, end: plan.end };
            if !io.read_back(range, &mut |bytes| integrity.update(bytes))? {
                integrity.give_up();
            }
        }
        match std::mem::replace(&mut self.integrity, Integrity::Off).finish() {
            Ok(verified) => {
                summary.verified = verified;
                Ok(Ok(summary))
            }
            Err(mismatch) => Ok(Err(DownloadError::Integrity(mismatch))),
        }
    }

    /// Starts the held-back receives, in order, while their slot is ready.
    fn start_deferred(&mut self, io: &mut impl RangeIo) -> Result<(), GetError> {
        while let Some(&receive) = self.deferred.front() {
            if !io.slot_ready(receive.slot) {
                break;
            }
            self.deferred.pop_front();
            self.receiving.push(receive);
            io.receive(receive)?;
        }
        Ok(())
    }

    /// After an IO error: the machine cancels every request, and the IO drops them (its own
    /// errors meanwhile change nothing: the first one is the one reported).
    fn abandon(&mut self, io: &mut impl RangeIo, now: Instant) {
        self.feed(now, Input::Cancel);
        while let Some(output) = self.ring.poll_output(now) {
            match output {
                Output::Cancel(id) => {
                    let _ignored = io.cancel(id);
                }
                Output::Done(result) => self.outcome = Some(result),
                _ => {}
            }
        }
        self.deferred.clear();
        self.receiving.clear();
    }
}

#[cfg(test)]
mod tests;
