//! The tokio driver as a [`RangeIo`]: one task per request, the buffers kept here.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::fs::File;
use std::os::unix::fs::FileExt;
use std::path::PathBuf;
use std::sync::Arc;

use bytes::{Bytes, BytesMut};
use http::Uri;
use stowage_proto::{Completion, RequestId, Transmit};
use stowage_ringslot::transfer::{GetError, IoEvent, Landing, RangeIo};
use stowage_ringslot::{ByteRange, Fetch, Plan, Receive, Slot};
use tokio::sync::{mpsc, oneshot};
use tokio::task::AbortHandle;

use super::fetch::{self, Event, Go};
use crate::HyperTransport;

/// How many handed-out chunks are watched for reuse.
const MAX_HANDED: usize = 64;

/// Where the bytes of the ranges go.
#[derive(Debug)]
pub(super) enum Sink {
    /// Stream mode: a buffer per request (a handed-out chunk's allocation reused once the
    /// consumer dropped it); delivered slots are handed to the consumer.
    Stream,
    /// Whole-object mode into one allocation of `plan.len()` bytes: each range is filled in
    /// place in its own piece, and the pieces are joined back without a copy.
    Memory {
        /// The part not yet handed out to a range (new ranges are fetched in order).
        rest: BytesMut,
        /// Pieces that landed, by range start.
        landed: BTreeMap<u64, BytesMut>,
    },
    /// Whole-object mode into a file: each range is written at its offset once complete.
    File {
        /// The file, for positional writes.
        file: Arc<File>,
        /// Where it is (for error messages).
        path: PathBuf,
        /// Buffers of written ranges, for reuse.
        pool: Vec<BytesMut>,
    },
}

/// A request's task and what it holds.
#[derive(Debug)]
struct Task {
    abort: AbortHandle,
    /// The bytes asked for; once the body is asked for, the bytes it holds (the receive's
    /// range: the first range of an object smaller than it is cut at the object's end).
    range: ByteRange,
    /// Until the body is asked for: the go-ahead, and the buffer it will bring.
    waiting: Option<(Go, BytesMut)>,
    /// Once it is: the slot it goes into.
    slot: Option<Slot>,
}

/// The tokio driver's range IO.
#[derive(Debug)]
pub(super) struct TokioIo {
    transport: HyperTransport,
    events: mpsc::UnboundedSender<Event>,
    sink: Sink,
    plan: Option<Plan>,
    tasks: HashMap<RequestId, Task>,
    /// The buffer each slot holds once its range is complete.
    filled: HashMap<Slot, BytesMut>,
    /// Whole-object mode: the buffer of a range whose attempt failed, for its retry.
    parked: HashMap<u64, BytesMut>,
    /// Stream mode: delivered slots not yet handed to the consumer.
    pub(super) ready: VecDeque<(Slot, Bytes)>,
    /// Stream mode: the chunks handed to the consumer, most recent last; one the consumer has
    /// dropped is unique here and its allocation is reused (no fresh pages per range).
    handed: VecDeque<Bytes>,
}

impl TokioIo {
    pub(super) fn new(transport: HyperTransport, sink: Sink, events: mpsc::UnboundedSender<Event>) -> Self {
        TokioIo {
            transport,
            events,
            sink,
            plan: None,
            tasks: HashMap::new(),
            filled: HashMap::new(),
            parked: HashMap::new(),
            ready: VecDeque::new(),
            handed: VecDeque::new(),
        }
    }

    /// A task's event as the transfer's (`None`: nothing for it, only a buffer back).
    pub(super) fn translate(&mut self, event: Event) -> Option<IoEvent> {
        match event {
            Event::Head { id, result } => Some(IoEvent::Response(Completion { id, result })),
            Event::Body { id, received, error, buffer } => {
                let task = self.tasks.remove(&id)?;
                let complete = error.is_none() && received == task.range.len();
                match (complete, task.slot) {
                    (true, Some(slot)) => {
                        self.filled.insert(slot, buffer);
                    }
                    _ => self.park(task.range, buffer),
                }
                Some(IoEvent::Body { id, received, error })
            }
            Event::Written { id, result, buffer } => {
                let path = match &mut self.sink {
                    Sink::File { pool, path, .. } => {
                        pool.push(buffer);
                        path.clone()
                    }
                    Sink::Stream | Sink::Memory { .. } => PathBuf::new(),
                };
                Some(IoEvent::Landed { id, result: result.map_err(|source| GetError::File { path, source }) })
            }
        }
    }

    /// The destination, at the end.
    pub(super) fn take_sink(&mut self) -> Sink {
        std::mem::replace(&mut self.sink, Sink::Stream)
    }

    /// Hands the next ready chunk to the consumer, remembering it for reuse of its allocation.
    pub(super) fn next_ready(&mut self) -> Option<(Slot, Bytes)> {
        let (slot, bytes) = self.ready.pop_front()?;
        self.handed.push_back(bytes.clone());
        if self.handed.len() > MAX_HANDED {
            self.handed.pop_front();
        }
        Some((slot, bytes))
    }

    /// Keeps the buffer of a failed attempt for the range's retry (whole-object memory: it is
    /// that range's own piece), or for reuse.
    fn park(&mut self, range: ByteRange, buffer: BytesMut) {
        match &mut self.sink {
            Sink::Memory { .. } => {
                self.parked.insert(range.start, buffer);
            }
            Sink::File { pool, .. } => pool.push(buffer),
            Sink::Stream => {}
        }
    }

    /// The buffer a request for `range` fills.
    fn buffer_for(&mut self, range: ByteRange) -> Result<BytesMut, GetError> {
        let len = usize::try_from(range.len()).map_err(|_| GetError::TooLarge { size: range.len() })?;
        if let Some(parked) = self.parked.remove(&range.start) {
            return Ok(parked);
        }
        Ok(match &mut self.sink {
            // New ranges are fetched in order (retries take their parked piece), so the next
            // piece is at the front of the rest.
            Sink::Memory { rest, .. } => rest.split_to(len.min(rest.len())),
            Sink::File { pool, .. } => match pool.pop() {
                Some(mut buffer) if buffer.capacity() >= len => {
                    buffer.clear();
                    buffer
                }
                _ => BytesMut::with_capacity(len),
            },
            Sink::Stream => self.recycle(len).unwrap_or_else(|| BytesMut::with_capacity(len)),
        })
    }

    /// A handed-out chunk's allocation of at least `len` bytes that the consumer has dropped.
    fn recycle(&mut self, len: usize) -> Option<BytesMut> {
        for _ in 0..self.handed.len() {
            let bytes = self.handed.pop_front()?;
            match bytes.try_into_mut() {
                Ok(mut buffer) if buffer.capacity() >= len => {
                    buffer.clear();
                    return Some(buffer);
                }
                // Too small (the last range): let it go.
                Ok(_) => {}
                Err(bytes) => self.handed.push_back(bytes),
            }
        }
        None
    }
}

impl RangeIo for TokioIo {
    fn send(&mut self, transmit: Transmit) -> Result<(), GetError> {
        let Transmit { id, request } = transmit;
        tokio::spawn(fetch::head(self.transport.clone(), id, request, self.events.clone()));
        Ok(())
    }

    fn fetch(&mut self, fetch: Fetch, uri: &Uri) -> Result<(), GetError> {
        let buffer = self.buffer_for(fetch.range)?;
        let (go, ready) = oneshot::channel();
        let request = fetch.request(uri);
        let task = tokio::spawn(fetch::range(self.transport.clone(), fetch.id, request, ready, self.events.clone()));
        let waiting = Some((go, buffer));
        self.tasks.insert(fetch.id, Task { abort: task.abort_handle(), range: fetch.range, waiting, slot: None });
        Ok(())
    }

    fn receive(&mut self, receive: Receive) -> Result<(), GetError> {
        let Some(task) = self.tasks.get_mut(&receive.id) else { return Ok(()) };
        let Some((go, buffer)) = task.waiting.take() else { return Ok(()) };
        task.slot = Some(receive.slot);
        // The body is judged complete against this range, not the one fetched.
        task.range = receive.range;
        // The range's length: fits in usize because its buffer was allocated for it.
        let len = usize::try_from(receive.range.len()).unwrap_or(usize::MAX);
        let _ = go.send((buffer, len));
        Ok(())
    }

    fn cancel(&mut self, id: RequestId) -> Result<(), GetError> {
        let Some(task) = self.tasks.remove(&id) else { return Ok(()) };
        match task.waiting {
            // Not reading: dropping the go-ahead ends it; its buffer stays here.
            Some((_go, buffer)) => self.park(task.range, buffer),
            None => task.abort.abort(),
        }
        Ok(())
    }

    fn plan(&mut self, plan: Plan, _slots: u32) -> Result<(), GetError> {
        self.plan = Some(plan);
        match &mut self.sink {
            Sink::Memory { rest, .. } => {
                let too_large = || GetError::TooLarge { size: plan.len() };
                let len = usize::try_from(plan.len()).map_err(|_| too_large())?;
                // Refuse (rather than abort on) an allocation that cannot succeed, then take
                // lazily zeroed memory: pages are touched only when the bytes arrive.
                Vec::<u8>::new().try_reserve_exact(len).map_err(|_| too_large())?;
                *rest = BytesMut::zeroed(len);
            }
            Sink::File { file, path, .. } => {
                file.set_len(plan.len()).map_err(|source| GetError::File { path: path.clone(), source })?;
            }
            Sink::Stream => {}
        }
        Ok(())
    }

    fn land(&mut self, id: RequestId, slot: Slot, range: ByteRange) -> Result<Landing, GetError> {
        let Some(buffer) = self.filled.remove(&slot) else { return Ok(Landing::Done) };
        match &mut self.sink {
            Sink::Memory { landed, .. } => {
                landed.insert(range.start, buffer);
                Ok(Landing::Done)
            }
            Sink::File { file, .. } => {
                let offset = range.start - self.plan.map_or(0, |plan| plan.start);
                let (file, events) = (Arc::clone(file), self.events.clone());
                tokio::task::spawn_blocking(move || {
                    let result = file.write_all_at(&buffer, offset);
                    let _ = events.send(Event::Written { id, result, buffer });
                });
                Ok(Landing::Pending)
            }
            Sink::Stream => Ok(Landing::Done),
        }
    }

    fn deliver(&mut self, slot: Slot, _range: ByteRange) {
        let bytes = self.filled.remove(&slot).map(BytesMut::freeze).unwrap_or_default();
        self.ready.push_back((slot, bytes));
    }
}

impl Drop for TokioIo {
    fn drop(&mut self) {
        // Every request still running ends with the download.
        for task in self.tasks.values() {
            task.abort.abort();
        }
    }
}
