//! Parallel ranged downloads: the [`RingSlot`] machine over io_uring, each range's body
//! received straight into the slot the machine names.
//!
//! The slots are one buffer each, the ring's fixed buffers where the kernel allows (a sparse
//! table, each slot registered when it is first used): a range's body is read from its socket into its slot with `READ_FIXED`
//! (only the few body bytes that arrive with the response head are copied); a download to a
//! file writes each complete slot at its offset with `WRITE_FIXED`. One worker is one
//! connection (kept alive from range to range).
//!
//! - [`UringDriver::get`]: in order, slot by slot ([`Download::next_chunk`] lends the bytes
//!   in place; the slot is refilled after the next call).
//! - [`UringDriver::download`]: into a file, ranges landing at their offsets in any order,
//!   `fsync` at the end.
//! - [`UringDriver::sink`]: the bytes are received and dropped (for measuring).

use std::collections::VecDeque;
use std::fs::File;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use stowage_http1 as http1;
use stowage_proto::{Completion, Instant, Machine, RequestId};
use stowage_ringslot::{ByteRange, Config, Fetch, Input, Mode, Output, Plan, RingSlot, Slot, Summary};

use crate::driver::Event;
use crate::{GetError, UringDriver};

/// A download in progress, in order ([`UringDriver::get`]): pull its bytes with
/// [`Download::next_chunk`]. Dropping it mid-way cancels every request and waits until the
/// kernel is done with the slots.
pub struct Download<'d> {
    driver: &'d mut UringDriver,
    ring: RingSlot,
    epoch: std::time::Instant,
    /// Where the object is: its server and request-target.
    addr: SocketAddr,
    host: String,
    target: String,
    slots: u32,
    destination: Destination,
    plan: Option<Plan>,
    /// Range requests in flight (or their file write): their slot and range.
    fetches: Vec<(RequestId, Slot, ByteRange)>,
    /// Fetches waiting for their slot to be let go by a cancelled request.
    deferred: VecDeque<Fetch>,
    /// Stream mode: delivered slots not yet lent to the consumer, in order.
    ready: VecDeque<(Slot, ByteRange)>,
    /// Stream mode: the slot lent by the last [`Download::next_chunk`].
    lent: Option<Slot>,
    done: Option<Result<Summary, GetError>>,
    progress: Option<Arc<AtomicU64>>,
}

/// Where the bytes go.
enum Destination {
    /// To the consumer, in order.
    Stream,
    /// Nowhere.
    Sink,
    /// Into this file, at their offsets.
    File { file: File, path: PathBuf },
}

impl UringDriver {
    /// Downloads `uri` (origin-form for this driver's endpoint, or an absolute `http://` URL)
    /// in order, through `config.slots` slots ([`Mode::Stream`] whatever `config.mode` says).
    pub fn get(&mut self, uri: &str, config: Config) -> Result<Download<'_>, GetError> {
        Download::new(self, uri, Config { mode: Mode::Stream, ..config }, Destination::Stream)
    }

    /// Downloads `uri` into the file at `path` (created or truncated), each range written at its
    /// offset as soon as it is complete, `fsync` at the end ([`Mode::WholeObject`]).
    pub fn download(&mut self, uri: &str, config: Config, path: impl AsRef<Path>) -> Result<Summary, GetError> {
        let path = path.as_ref().to_path_buf();
        let file = File::create(&path).map_err(|source| GetError::File { path: path.clone(), source })?;
        let config = Config { mode: Mode::WholeObject, ..config };
        let mut download = Download::new(self, uri, config, Destination::File { file, path })?;
        let summary = download.run()?;
        if let Destination::File { file, path } = &download.destination {
            file.sync_all().map_err(|source| GetError::File { path: path.clone(), source })?;
        }
        Ok(summary)
    }

    /// Downloads `uri` and drops the bytes as they land ([`Mode::WholeObject`]): the whole
    /// transfer, nothing kept — for measuring.
    pub fn sink(&mut self, uri: &str, config: Config) -> Result<Summary, GetError> {
        Download::new(self, uri, Config { mode: Mode::WholeObject, ..config }, Destination::Sink)?.run()
    }

    /// Adds the bytes each download delivers (or lands) to `counter`, as they do (for progress
    /// bars on another thread).
    pub fn set_progress(&mut self, counter: Option<Arc<AtomicU64>>) {
        self.progress = counter;
    }
}

impl<'d> Download<'d> {
    fn new(driver: &'d mut UringDriver, uri: &str, config: Config, destination: Destination) -> Result<Self, GetError> {
        let bad = |reason: String| GetError::BadUri { uri: uri.to_owned(), reason };
        let parsed: http::Uri = uri.parse().map_err(|e: http::uri::InvalidUri| bad(e.to_string()))?;
        let route = driver.route(&parsed).map_err(|e| bad(e.to_string()))?;
        let slots = config.slot_count();
        let ring = RingSlot::new(parsed, config)?;
        let progress = driver.progress.clone();
        Ok(Download {
            driver,
            ring,
            epoch: std::time::Instant::now(),
            addr: route.addr,
            host: route.host,
            target: route.target,
            slots,
            destination,
            plan: None,
            fetches: Vec::new(),
            deferred: VecDeque::new(),
            ready: VecDeque::new(),
            lent: None,
            done: None,
            progress,
        })
    }

    /// The next bytes in order, lent in place from their slot until the next call; `None` at
    /// the end. After an error, every later call returns `None`.
    pub fn next_chunk(&mut self) -> Result<Option<&[u8]>, GetError> {
        if let Some(slot) = self.lent.take() {
            self.feed(Input::Release(slot));
        }
        loop {
            if let Some((slot, range)) = self.ready.pop_front() {
                self.lent = Some(slot);
                return Ok(self.driver.buffers.bytes(slot, range.len()));
            }
            if let Some(done) = self.done.take() {
                self.driver.quiesce();
                self.done = Some(Ok(self.ring.summary()));
                return done.map(|_| None);
            }
            self.pump()?;
        }
    }

    /// What the download did so far (all of it, once [`Download::next_chunk`] returned `None`).
    pub fn summary(&self) -> Summary {
        self.ring.summary()
    }

    /// How the object is cut, once its size is known.
    pub fn plan(&self) -> Option<Plan> {
        self.plan
    }

    /// Whether the slots are the ring's fixed buffers (each is registered when first used, and
    /// then read into with `READ_FIXED`); else bodies are received into the same memory without
    /// it (the kernel gave no fixed-buffer table).
    pub fn registered(&self) -> bool {
        self.driver.buffers.registered()
    }

    /// Runs a whole-object download to its end.
    fn run(&mut self) -> Result<Summary, GetError> {
        let result = loop {
            if let Some(done) = self.done.take() {
                break done;
            }
            if let Err(error) = self.pump() {
                break Err(error);
            }
        };
        self.driver.quiesce();
        result
    }

    fn now(&self) -> Instant {
        Instant::from_elapsed(self.epoch.elapsed())
    }

    /// Runs the loop until there is something to lend (stream mode) or the download is over.
    fn pump(&mut self) -> Result<(), GetError> {
        loop {
            while let Some(output) = self.ring.poll_output(self.now()) {
                self.act(output)?;
            }
            if self.done.is_some() || !self.ready.is_empty() {
                return Ok(());
            }
            self.start_deferred()?;
            if let Some(event) = self.driver.next_event() {
                self.on_event(event)?;
                continue;
            }
            let wake = self.ring.poll_timeout();
            if wake.is_none() && !self.driver.busy() {
                return Err(GetError::Stalled);
            }
            let epoch = self.epoch;
            self.driver.wait(wake, || Instant::from_elapsed(epoch.elapsed()))?;
            let now = self.now();
            if wake.is_some_and(|wake| wake <= now) {
                self.ring.handle_timeout(now);
            }
        }
    }

    /// Feeds the machine. A refusal is a stray event (a request cancelled meanwhile): ignored.
    fn feed(&mut self, input: Input) {
        let now = self.now();
        let _refused = self.ring.handle_input(now, input);
    }

    fn act(&mut self, output: Output) -> Result<(), GetError> {
        match output {
            Output::Head(transmit) => self.driver.start(transmit.id, &transmit.request, self.now())?,
            Output::Plan(plan) => self.on_plan(plan)?,
            Output::Fetch(fetch) => {
                self.deferred.push_back(fetch);
                self.start_deferred()?;
            }
            Output::Deliver { slot, range } => {
                self.ready.push_back((slot, range));
                self.count(range);
            }
            Output::Landed { range } => self.count(range),
            Output::Cancel(id) => {
                self.driver.cancel(id)?;
                self.fetches.retain(|(f, _, _)| *f != id);
                self.deferred.retain(|f| f.id != id);
            }
            Output::Done(result) => self.done = Some(result.map_err(GetError::from)),
        }
        Ok(())
    }

    fn count(&self, range: ByteRange) {
        if let Some(progress) = &self.progress {
            progress.fetch_add(range.len(), Ordering::Relaxed);
        }
    }

    fn on_plan(&mut self, plan: Plan) -> Result<(), GetError> {
        self.plan = Some(plan);
        let size = plan.chunk.min(plan.end - plan.start);
        self.driver.ensure_buffers(self.slots, size).map_err(GetError::Buffers)?;
        if let Destination::File { file, path } = &self.destination {
            file.set_len(plan.end - plan.start).map_err(|source| GetError::File { path: path.clone(), source })?;
        }
        Ok(())
    }

    /// Starts the fetches whose slot no cancelled request may still be writing, in order.
    fn start_deferred(&mut self) -> Result<(), GetError> {
        while let Some(fetch) = self.deferred.front() {
            if self.driver.slot_busy(fetch.slot) {
                return Ok(());
            }
            let Some(fetch) = self.deferred.pop_front() else { return Ok(()) };
            let wire = http1::encode_range_get(&self.host, &self.target, &fetch.range.header_value());
            self.fetches.push((fetch.id, fetch.slot, fetch.range));
            let now = self.now();
            self.driver.start_range(fetch.id, self.addr, wire, fetch.slot, fetch.range.len(), now)?;
        }
        Ok(())
    }

    fn on_event(&mut self, event: Event) -> Result<(), GetError> {
        match event {
            Event::Response(id, result) => {
                // The HEAD.
                self.feed(Input::Response(Completion { id, result: result.map(|r| r.map(drop)) }));
            }
            Event::Head(id, result) => {
                let partial = result.as_ref().is_ok_and(|r| r.status() == http::StatusCode::PARTIAL_CONTENT);
                if !partial {
                    self.fetches.retain(|(f, _, _)| *f != id);
                }
                self.feed(Input::Response(Completion { id, result }));
                if partial {
                    let now = self.now();
                    self.driver.receive_body(id, now)?;
                }
            }
            Event::Body { id, received, error } => {
                let Some(&(_, slot, range)) = self.fetches.iter().find(|(f, _, _)| *f == id) else { return Ok(()) };
                let complete = error.is_none() && received == range.len();
                if let (Destination::File { file, .. }, true, Some(plan)) = (&self.destination, complete, self.plan) {
                    let len = usize::try_from(range.len()).unwrap_or(usize::MAX);
                    self.driver.write(id, file, slot, len, range.start - plan.start)?;
                    return Ok(());
                }
                self.fetches.retain(|(f, _, _)| *f != id);
                self.feed(Input::Body { id, received, error });
            }
            Event::Written { id, result } => {
                let Some(position) = self.fetches.iter().position(|(f, _, _)| *f == id) else { return Ok(()) };
                let (_, _, range) = self.fetches.swap_remove(position);
                if let Err(source) = result {
                    let path = match &self.destination {
                        Destination::File { path, .. } => path.clone(),
                        Destination::Stream | Destination::Sink => PathBuf::new(),
                    };
                    self.feed(Input::Cancel);
                    return Err(GetError::File { path, source });
                }
                self.feed(Input::Body { id, received: range.len(), error: None });
            }
        }
        Ok(())
    }
}

impl Drop for Download<'_> {
    fn drop(&mut self) {
        // Mid-way: every request is cancelled and reaped before the slots can be reused.
        self.driver.quiesce();
    }
}
