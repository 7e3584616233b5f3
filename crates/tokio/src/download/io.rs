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
use stowage_ringslot::{ByteRange, Fetch, Notice, Plan, Receive, Slot};
use tokio::sync::mpsc;
use tokio::task::AbortHandle;
use tracing::warn;

use super::fetch::{self, Event, Go};
use crate::HyperTransport;

/// How many handed-out chunks are watched for reuse.
const MAX_HANDED: usize = 64;
/// The bytes a file is read back in, to verify it.
const READ_BACK_BLOCK: u64 = 1 << 20;

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
    /// The range it asked for.
    range: ByteRange,
    /// Where the go-aheads for its body go.
    go: Go,
    /// The buffer made for the range it asked for, until a piece of the body takes it.
    buffer: Option<BytesMut>,
    /// The piece of the body being read, and its slot.
    piece: Option<Receive>,
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
                let task = self.tasks.get_mut(&id)?;
                let piece = task.piece.take()?;
                let complete = error.is_none() && received == piece.range.len();
                if !complete || piece.ends_body {
                    // The body is over (or broken): its task ends.
                    self.tasks.remove(&id);
                }
                match (complete, piece.skip) {
                    (true, false) => {
                        self.filled.insert(piece.slot, buffer);
                    }
                    // Unwanted bytes: the buffer was scratch.
                    (_, true) => {}
                    (false, false) => self.park(piece.range, buffer),
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
        // Made now: new ranges are fetched in order, which a whole-object buffer's pieces need.
        // (Not for the first range before the size is known, nor for more than a range: those
        // are received in pieces, each with its own.)
        let planned = self.plan.is_some_and(|plan| fetch.range.len() <= plan.chunk);
        let buffer = if planned { Some(self.buffer_for(fetch.range)?) } else { None };
        let (go, pieces) = mpsc::unbounded_channel();
        let request = fetch.request(uri);
        let task = tokio::spawn(fetch::range(self.transport.clone(), fetch.id, request, pieces, self.events.clone()));
        self.tasks.insert(fetch.id, Task { abort: task.abort_handle(), range: fetch.range, go, buffer, piece: None });
        Ok(())
    }

    fn receive(&mut self, receive: Receive) -> Result<(), GetError> {
        let len = usize::try_from(receive.range.len()).map_err(|_| GetError::TooLarge { size: receive.range.len() })?;
        let Some(task) = self.tasks.get_mut(&receive.id) else { return Ok(()) };
        // The range it asked for takes the buffer made for it; another piece (of a server
        // that ignores Range) its own, and unwanted bytes a scratch one.
        let own = task.buffer.take();
        let (made, unused) = if receive.range == task.range && !receive.skip { (own, None) } else { (None, own) };
        let asked = task.range;
        task.piece = Some(receive);
        if let Some(buffer) = unused {
            self.park(asked, buffer);
        }
        let buffer = match made {
            Some(buffer) => buffer,
            None if receive.skip => self.recycle(len).unwrap_or_else(|| BytesMut::with_capacity(len)),
            None => self.buffer_for(receive.range)?,
        };
        if let Some(task) = self.tasks.get(&receive.id) {
            let _ = task.go.send(fetch::Piece { buffer, len, ends_body: receive.ends_body });
        }
        Ok(())
    }

    fn cancel(&mut self, id: RequestId) -> Result<(), GetError> {
        let Some(task) = self.tasks.remove(&id) else { return Ok(()) };
        task.abort.abort();
        // A buffer no piece took stays here (a whole-object piece, for the range's retry).
        if let Some(buffer) = task.buffer {
            self.park(task.range, buffer);
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

    fn notice(&mut self, notice: Notice) {
        warn!("{}", notice);
    }

    fn deliver(&mut self, slot: Slot, _range: ByteRange) {
        let bytes = self.filled.remove(&slot).map(BytesMut::freeze).unwrap_or_default();
        self.ready.push_back((slot, bytes));
    }

    fn slot_bytes(&self, slot: Slot, len: usize) -> &[u8] {
        self.filled.get(&slot).map_or(&[], |buffer| &buffer[..len.min(buffer.len())])
    }

    fn read_back(&mut self, range: ByteRange, sink: &mut dyn FnMut(&[u8])) -> Result<bool, GetError> {
        match &self.sink {
            Sink::Memory { landed, .. } => {
                landed.range(range.start..range.end).for_each(|(_, piece)| sink(piece));
                Ok(true)
            }
            Sink::File { file, path, .. } => {
                // On this task: the pages were just written, so this is a copy from the page
                // cache, as fast as the hash takes it.
                let offset = self.plan.map_or(0, |plan| plan.start);
                read_file(file, range.start - offset, range.len(), sink)
                    .map_err(|source| GetError::File { path: path.clone(), source })?;
                Ok(true)
            }
            Sink::Stream => Ok(false),
        }
    }
}

/// Feeds `len` bytes of `file` from `offset` to `sink`, a block at a time.
fn read_file(file: &File, offset: u64, len: u64, sink: &mut dyn FnMut(&[u8])) -> std::io::Result<()> {
    let mut block = vec![0; READ_BACK_BLOCK.min(len) as usize];
    let mut done = 0;
    while done < len {
        let want = (len - done).min(READ_BACK_BLOCK) as usize;
        file.read_exact_at(&mut block[..want], offset + done)?;
        sink(&block[..want]);
        done += want as u64;
    }
    Ok(())
}

impl Drop for TokioIo {
    fn drop(&mut self) {
        // Every request still running ends with the download.
        for task in self.tasks.values() {
            task.abort.abort();
        }
    }
}
