//! What a driver does for a [`Transfer`](super::Transfer): the range IO, and what it reports.

use http::Uri;
use stowage_proto::{Completion, RequestId, Transmit, TransportError};

use super::GetError;
use crate::{ByteRange, Fetch, Notice, Plan, Receive, Slot};

/// The IO of a ranged download, as a driver provides it.
///
/// Every method only starts something (or hands something over) and returns: what becomes of a
/// request comes back later as an [`IoEvent`], which the driver passes to
/// [`Transfer::handle`](super::Transfer::handle). An `Err` is the IO itself failing (a ring, a
/// file), never a server's answer: answers, good or bad, are events.
pub trait RangeIo {
    /// Sends `transmit` (the HEAD) and reports its response head as [`IoEvent::Response`].
    fn send(&mut self, transmit: Transmit) -> Result<(), GetError>;

    /// Sends the range request of `fetch` (`GET uri` with [`Fetch::request`]'s `Range`) and
    /// reports its response head as [`IoEvent::Response`]. Its body is not read until
    /// [`RangeIo::receive`] names it.
    fn fetch(&mut self, fetch: Fetch, uri: &Uri) -> Result<(), GetError>;

    /// Whether a body may be written into `slot` now: `false` while an operation of a request
    /// cancelled earlier may still write into it (the [`Transfer`](super::Transfer) then holds
    /// the receive back until it is).
    fn slot_ready(&self, slot: Slot) -> bool {
        let _ = slot;
        true
    }

    /// Reads the body of `receive.id` into `receive.slot`: at most `receive.range.len()` bytes
    /// into the slot, one more only to learn that the body is too long. [`IoEvent::Body`]
    /// follows.
    fn receive(&mut self, receive: Receive) -> Result<(), GetError>;

    /// Abandons request `id` wherever it is (waiting for its head, its body, or neither): its
    /// connection is dropped and nothing is written for it any more. Events about it that come
    /// later are ignored.
    fn cancel(&mut self, id: RequestId) -> Result<(), GetError>;

    /// The object's size is known and the download is cut as `plan` says: make `slots` buffers
    /// of up to `plan.chunk` bytes (fewer for a shorter plan) and size the destination.
    fn plan(&mut self, plan: Plan, slots: u32) -> Result<(), GetError>;

    /// Whole-object mode: `slot` holds all of `range`; put it where it belongs in the
    /// destination (at offset `range.start − plan.start`). [`Landing::Pending`] when that takes
    /// an operation, whose end is reported as [`IoEvent::Landed`] for `id`; until then the slot
    /// is not reused.
    fn land(&mut self, id: RequestId, slot: Slot, range: ByteRange) -> Result<Landing, GetError>;

    /// Stream mode: `slot` holds `range`, the next bytes in order: hand them to the consumer,
    /// who gives the slot back with [`Transfer::release`](super::Transfer::release).
    fn deliver(&mut self, slot: Slot, range: ByteRange);

    /// Stream mode, while the bytes are verified: the first `len` bytes of `slot`, a range
    /// about to be [delivered](RangeIo::deliver) (`len` is at most what was received into it).
    fn slot_bytes(&self, slot: Slot, len: usize) -> &[u8];

    /// Whole-object mode, while the bytes are verified, once every range has landed: feed the
    /// destination's bytes of `range` (object offsets) to `sink`, in order and in pieces of any
    /// size. `Ok(false)` when the destination keeps no bytes (a sink that drops them): nothing
    /// to verify.
    fn read_back(&mut self, range: ByteRange, sink: &mut dyn FnMut(&[u8])) -> Result<bool, GetError>;

    /// Something to tell the user, though nothing failed (a server that ignores `Range`, …):
    /// log it. Nothing by default.
    fn notice(&mut self, notice: Notice) {
        let _ = notice;
    }
}

/// Whether a range is in its place yet ([`RangeIo::land`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Landing {
    /// It is (the slot is the destination, or the bytes are not kept).
    Done,
    /// An operation is putting it there; [`IoEvent::Landed`] follows.
    Pending,
}

/// What became of the IO a [`RangeIo`] started.
#[derive(Debug)]
pub enum IoEvent {
    /// The response head (or transport failure) of the HEAD or of a fetch.
    Response(Completion),
    /// The body of a [`RangeIo::receive`] ended: `received` bytes (at most the range's length
    /// + 1) are in its slot, and `error` says why it ended early, if it did.
    Body {
        /// The request.
        id: RequestId,
        /// Bytes received.
        received: u64,
        /// Why it ended before its end, if it did.
        error: Option<TransportError>,
    },
    /// A [`Landing::Pending`] range is in its place, or could not be put there.
    Landed {
        /// The request whose range it is.
        id: RequestId,
        /// How the landing went.
        result: Result<(), GetError>,
    },
}
