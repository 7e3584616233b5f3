//! The loop that runs a [`RingSlot`] over hyper: one task per range request, buffers kept
//! here, decisions left to the machine.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::fs::File;
use std::os::unix::fs::FileExt;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use bytes::{Bytes, BytesMut};
use stowage_proto::{Completion, Instant, Machine, RequestId};
use stowage_ringslot::{ByteRange, DownloadError, Input, Output, Plan, RingSlot, Slot, Summary};
use tokio::sync::mpsc;
use tokio::task::AbortHandle;

use super::GetError;
use super::fetch::{self, Event};
use crate::{HyperTransport, Transport};

/// How many handed-out chunks are watched for reuse.
const MAX_HANDED: usize = 64;

/// Where the bytes of the ranges go.
#[derive(Debug)]
pub(super) enum Sink {
    /// Stream mode: a fresh buffer per request; delivered slots are handed to the consumer.
    Stream,
    /// Whole-object mode into one allocation of `plan.len()` bytes: each range is filled in
    /// place in its own piece, and the pieces are joined back without a copy.
    Memory {
        /// The part not yet handed out to a range (ranges start in order).
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

/// What a finished run leaves: the machine's summary and, for [`Sink::Memory`], the bytes.
#[derive(Debug)]
pub(super) struct Finished {
    pub(super) summary: Summary,
    pub(super) bytes: Option<Bytes>,
}

/// A request in flight: its task, its slot and its range.
#[derive(Debug)]
struct Task {
    abort: Option<AbortHandle>,
    slot: Slot,
    range: ByteRange,
}

/// Runs one download.
pub(super) struct Engine {
    ring: RingSlot,
    transport: HyperTransport,
    epoch: tokio::time::Instant,
    sink: Sink,
    plan: Option<Plan>,
    head: Option<RequestId>,
    tasks: HashMap<RequestId, Task>,
    /// Stream mode: the buffer each slot holds once its range is complete.
    filled: HashMap<Slot, BytesMut>,
    /// Whole-object mode: the buffer of a range whose request ended, for its landing or retry.
    parked: HashMap<u64, BytesMut>,
    /// Stream mode: delivered slots not yet handed to the consumer.
    ready: VecDeque<(Slot, Bytes)>,
    /// Stream mode: the slot of the chunk waiting in the channel for the consumer.
    in_channel: Option<Slot>,
    /// Stream mode: the chunks handed to the consumer, most recent last; one the consumer has
    /// dropped is unique here and its allocation is reused (no fresh pages per range).
    handed: VecDeque<Bytes>,
    events: mpsc::UnboundedReceiver<Event>,
    sender: mpsc::UnboundedSender<Event>,
    progress: Option<Arc<AtomicU64>>,
}

impl Engine {
    pub(super) fn new(ring: RingSlot, transport: HyperTransport, sink: Sink, progress: Option<Arc<AtomicU64>>) -> Self {
        let (sender, events) = mpsc::unbounded_channel();
        Engine {
            ring,
            transport,
            epoch: tokio::time::Instant::now(),
            sink,
            plan: None,
            head: None,
            tasks: HashMap::new(),
            filled: HashMap::new(),
            parked: HashMap::new(),
            ready: VecDeque::new(),
            in_channel: None,
            handed: VecDeque::new(),
            events,
            sender,
            progress,
        }
    }

    fn now(&self) -> Instant {
        Instant::from_elapsed(self.epoch.elapsed())
    }

    /// Runs to the end. In stream mode, delivered bytes go to `out` as the consumer takes
    /// them; a consumer that goes away cancels the download.
    pub(super) async fn run(
        mut self,
        out: Option<mpsc::Sender<Result<Bytes, GetError>>>,
    ) -> Result<Finished, GetError> {
        let result = self.drive(out.as_ref()).await;
        for task in self.tasks.values().filter_map(|t| t.abort.as_ref()) {
            task.abort();
        }
        let summary = result?;
        let bytes = match std::mem::replace(&mut self.sink, Sink::Stream) {
            Sink::Memory { landed, .. } => Some(join(landed)),
            Sink::File { file, path, .. } => {
                tokio::task::spawn_blocking(move || file.sync_all().map_err(|source| GetError::Io { path, source }))
                    .await
                    .map_err(|_| GetError::Cancelled)??;
                None
            }
            Sink::Stream => None,
        };
        Ok(Finished { summary, bytes })
    }

    async fn drive(&mut self, out: Option<&mpsc::Sender<Result<Bytes, GetError>>>) -> Result<Summary, GetError> {
        let mut done: Option<Result<Summary, DownloadError>> = None;
        loop {
            while let Some(output) = self.ring.poll_output(self.now()) {
                if let Some(result) = self.act(output)? {
                    done = Some(result);
                }
            }
            if let Some(result) = &done
                && (result.is_err() || self.ready.is_empty())
            {
                return result.clone().map_err(GetError::Download);
            }
            let deadline = self.ring.poll_timeout().map(|at| self.epoch + at.elapsed_since_epoch());
            tokio::select! {
                event = self.events.recv() => {
                    // The loop holds a sender: the channel never closes.
                    if let Some(event) = event {
                        self.on_event(event)?;
                    }
                }
                () = sleep_until(deadline) => {
                    let now = self.now();
                    self.ring.handle_timeout(now);
                }
                // The channel holds one chunk: room in it means the consumer has taken the last
                // one sent, whose slot is released only then.
                permit = reserve(out), if !self.ready.is_empty() || self.in_channel.is_some() => {
                    let Some(permit) = permit else {
                        // The consumer went away.
                        self.feed(Input::Cancel);
                        return Err(GetError::Cancelled);
                    };
                    if let Some(slot) = self.in_channel.take() {
                        self.feed(Input::Release(slot));
                    }
                    if let Some((slot, bytes)) = self.ready.pop_front() {
                        self.handed.push_back(bytes.clone());
                        if self.handed.len() > MAX_HANDED {
                            self.handed.pop_front();
                        }
                        permit.send(Ok(bytes));
                        self.in_channel = Some(slot);
                    }
                }
            }
        }
    }

    fn feed(&mut self, input: Input) {
        let now = self.now();
        if let Err(error) = self.ring.handle_input(now, input) {
            tracing::debug!(%error, "input refused");
        }
    }

    /// Acts on one output; returns the result when it is `Done`.
    fn act(&mut self, output: Output) -> Result<Option<Result<Summary, DownloadError>>, GetError> {
        match output {
            Output::Head(transmit) => {
                self.head = Some(transmit.id);
                let (transport, sender) = (self.transport.clone(), self.sender.clone());
                tokio::spawn(async move {
                    let result = transport.send(transmit.request).await.map(|r| r.map(drop));
                    let _ = sender.send(Event::Head { id: transmit.id, result, buffer: None });
                });
            }
            Output::Plan(plan) => self.on_plan(plan)?,
            Output::Fetch(fetch) => {
                let buffer = self.buffer_for(fetch.range)?;
                let (id, slot, range) = (fetch.id, fetch.slot, fetch.range);
                let request = self.ring.request(&fetch);
                let task =
                    tokio::spawn(fetch::run(self.transport.clone(), fetch, request, buffer, self.sender.clone()));
                self.tasks.insert(id, Task { abort: Some(task.abort_handle()), slot, range });
            }
            Output::Deliver { slot, range } => {
                let bytes = self.filled.remove(&slot).map(BytesMut::freeze).unwrap_or_default();
                self.ready.push_back((slot, bytes));
                self.progress(range);
            }
            Output::Landed { range } => {
                if let Some(buffer) = self.parked.remove(&range.start) {
                    match &mut self.sink {
                        Sink::Memory { landed, .. } => {
                            landed.insert(range.start, buffer);
                        }
                        Sink::File { pool, .. } => pool.push(buffer),
                        Sink::Stream => {}
                    }
                }
                self.progress(range);
            }
            Output::Cancel(id) => {
                if let Some(task) = self.tasks.remove(&id).and_then(|t| t.abort) {
                    task.abort();
                }
            }
            Output::Done(result) => return Ok(Some(result)),
        }
        Ok(None)
    }

    fn progress(&self, range: ByteRange) {
        if let Some(progress) = &self.progress {
            progress.fetch_add(range.len(), Ordering::Relaxed);
        }
    }

    fn on_plan(&mut self, plan: Plan) -> Result<(), GetError> {
        self.plan = Some(plan);
        match &mut self.sink {
            Sink::Memory { rest, .. } => {
                let len = usize::try_from(plan.len()).map_err(|_| GetError::TooLarge { size: plan.len() })?;
                // Refuse (rather than abort on) an allocation that cannot succeed, then take
                // lazily zeroed memory: pages are touched only when the bytes arrive.
                Vec::<u8>::new().try_reserve_exact(len).map_err(|_| GetError::TooLarge { size: plan.len() })?;
                *rest = BytesMut::zeroed(len);
            }
            Sink::File { file, path, .. } => {
                file.set_len(plan.len()).map_err(|source| GetError::Io { path: path.clone(), source })?;
            }
            Sink::Stream => {}
        }
        Ok(())
    }

    /// The buffer a request for `range` fills.
    fn buffer_for(&mut self, range: ByteRange) -> Result<BytesMut, GetError> {
        let len = usize::try_from(range.len()).map_err(|_| GetError::TooLarge { size: range.len() })?;
        if let Some(parked) = self.parked.remove(&range.start) {
            return Ok(parked);
        }
        Ok(match &mut self.sink {
            // Ranges start in order, so the next piece is at the front of the rest.
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

    fn on_event(&mut self, event: Event) -> Result<(), GetError> {
        match event {
            Event::Head { id, result, buffer } => {
                if self.head == Some(id) {
                    self.head = None;
                } else {
                    let Some(task) = self.tasks.get(&id) else { return Ok(()) };
                    if let Some(buffer) = buffer {
                        // No body follows: the request is over.
                        self.parked.insert(task.range.start, buffer);
                        self.tasks.remove(&id);
                    }
                }
                self.feed(Input::Response(Completion { id, result }));
            }
            Event::Body { id, received, error, buffer } => {
                let Some(task) = self.tasks.get_mut(&id) else { return Ok(()) };
                let complete = error.is_none() && received == task.range.len();
                if let (Sink::File { file, .. }, true) = (&self.sink, complete) {
                    let (file, sender, offset) = (Arc::clone(file), self.sender.clone(), task.range.start);
                    task.abort = None; // The write runs to its end.
                    tokio::task::spawn_blocking(move || {
                        let result = file.write_all_at(&buffer, offset);
                        let _ = sender.send(Event::Written { id, received, result, buffer });
                    });
                    return Ok(());
                }
                self.body_done(id, received, error, buffer);
            }
            Event::Written { id, received, result, buffer } => {
                if let Err(source) = result {
                    let path = match &self.sink {
                        Sink::File { path, .. } => path.clone(),
                        _ => PathBuf::new(),
                    };
                    self.feed(Input::Cancel);
                    return Err(GetError::Io { path, source });
                }
                self.body_done(id, received, None, buffer);
            }
        }
        Ok(())
    }

    fn body_done(
        &mut self,
        id: RequestId,
        received: u64,
        error: Option<stowage_proto::TransportError>,
        buffer: BytesMut,
    ) {
        let Some(task) = self.tasks.remove(&id) else { return };
        match self.sink {
            Sink::Stream => {
                self.filled.insert(task.slot, buffer);
            }
            Sink::Memory { .. } | Sink::File { .. } => {
                self.parked.insert(task.range.start, buffer);
            }
        }
        self.feed(Input::Body { id, received, error });
    }
}

/// Joins the landed pieces, in order, back into the one allocation they were cut from.
fn join(landed: BTreeMap<u64, BytesMut>) -> Bytes {
    let mut pieces = landed.into_values();
    let Some(mut all) = pieces.next() else { return Bytes::new() };
    for piece in pieces {
        // Contiguous pieces of one allocation: O(1), no copy.
        all.unsplit(piece);
    }
    all.freeze()
}

async fn sleep_until(deadline: Option<tokio::time::Instant>) {
    match deadline {
        Some(deadline) => tokio::time::sleep_until(deadline).await,
        None => std::future::pending().await,
    }
}

/// A permit to send one item to the consumer; `None` when it went away (or there is none).
async fn reserve(
    out: Option<&mpsc::Sender<Result<Bytes, GetError>>>,
) -> Option<mpsc::Permit<'_, Result<Bytes, GetError>>> {
    out?.reserve().await.ok()
}
