//! Parallel ranged downloads: the [`RingSlot`](stowage_ringslot::RingSlot) machine, run by the
//! shared [`Transfer`] loop over io_uring, each range's body received straight into the slot
//! the machine names.
//!
//! The slots are one buffer each, the ring's fixed buffers where the kernel allows (a sparse
//! table, each slot registered when it is first used): a range's body is read from its socket
//! into its slot with `READ_FIXED` (only the few body bytes that arrive with the response head
//! are copied); a download to a file writes each complete slot at its offset with
//! `WRITE_FIXED`. One worker is one connection (kept alive from range to range).
//!
//! - [`UringDriver::get`]: in order, slot by slot ([`Download::next_chunk`] lends the bytes
//!   in place; the slot is refilled after the next call).
//! - [`UringDriver::download`]: into a file, ranges landing at their offsets in any order,
//!   `fsync` at the end.
//! - [`UringDriver::sink`]: the bytes are received and dropped (for measuring).

use std::collections::VecDeque;
use std::io;
use std::os::unix::fs::FileExt;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use http::Uri;
use stowage_http1 as http1;
use stowage_partfile::PartFile;
use stowage_proto::{Completion, Instant, RequestId, Transmit, TransportError};
use stowage_ringslot::transfer::{GetError, IoEvent, Landing, RangeIo, Transfer};
use stowage_ringslot::{
    ByteRange, Config, Delivery, DownloadError, Fetch, Notice, Plan, Receive, RingSlot, Slot, Summary,
};

use crate::UringDriver;
use crate::driver::Event;
use crate::endpoint::Peer;
use crate::follow::Following;

/// The bytes a file is read back in, to verify it.
const READ_BACK_BLOCK: u64 = 1 << 20;

/// A download in progress, in order ([`UringDriver::get`]): pull its bytes with
/// [`Download::next_chunk`]. Dropping it mid-way cancels every request and waits until the
/// kernel is done with the slots.
pub struct Download<'d> {
    transfer: Transfer,
    io: Io<'d>,
    /// Stream mode: the slot lent by the last [`Download::next_chunk`].
    lent: Option<Slot>,
    /// Bytes already added to the driver's progress counter.
    published: u64,
    /// The outcome was returned (or an error was): every later call returns `None`.
    finished: bool,
}

/// The driver as the [`Transfer`]'s range IO: where the object is, where its bytes go.
struct Io<'d> {
    driver: &'d mut UringDriver,
    epoch: std::time::Instant,
    /// Where requests go: the object's URL first (origin-form for the driver's endpoint, or
    /// absolute), then wherever the machine learned it lives; each server resolved once.
    servers: Vec<Server>,
    destination: Destination,
    plan: Option<Plan>,
    /// Stream mode: delivered slots not yet lent to the consumer, in order.
    ready: VecDeque<(Slot, ByteRange)>,
    /// The HEAD, through its redirects (ranges are the machine's to redirect).
    following: Following,
}

/// Where the bytes go.
enum Destination {
    /// To the consumer, in order.
    Stream,
    /// Nowhere.
    Sink,
    /// Into this file (`FILE.part`, renamed once complete), at their offsets, each recorded in
    /// its journal.
    File(PartFile),
}

impl UringDriver {
    /// Downloads `uri` (origin-form for this driver's endpoint, or an absolute `http://` URL)
    /// in order, through `config.slots` slots ([`Delivery::Stream`] whatever `config.delivery` says).
    pub fn get(&mut self, uri: &str, config: Config) -> Result<Download<'_>, GetError> {
        Download::new(self, uri, Config { delivery: Delivery::Stream, ..config }, Destination::Stream)
    }

    /// Downloads `uri` into the file at `path` ([`Delivery::WholeObject`]): each range written at its
    /// offset in `path.part` as soon as it is complete and recorded in its journal
    /// ([`PartFile`]), the file `fsync`ed and renamed to `path` at the end, so `path` never
    /// holds part of the object. With [`Config::verify`] the file is read back and hashed once
    /// complete.
    ///
    /// An interrupted download leaves `path.part` and its journal for [`UringDriver::resume`];
    /// a checksum mismatch leaves nothing.
    pub fn download(&mut self, uri: &str, config: Config, path: impl AsRef<Path>) -> Result<Summary, GetError> {
        self.download_to(uri, config, path.as_ref(), false)
    }

    /// Like [`UringDriver::download`], continuing what an interrupted download to `path` left
    /// (`path.part` and its journal): only the missing ranges are fetched, and the object must
    /// still be the one it was (size, `ETag`, `ais-version`). A new download where there is
    /// nothing to continue. [`Summary::resumed`] says what was kept.
    pub fn resume(&mut self, uri: &str, config: Config, path: impl AsRef<Path>) -> Result<Summary, GetError> {
        self.download_to(uri, config, path.as_ref(), true)
    }

    fn download_to(&mut self, uri: &str, config: Config, path: &Path, continuing: bool) -> Result<Summary, GetError> {
        let parsed: Uri = uri
            .parse()
            .map_err(|e: http::uri::InvalidUri| GetError::Url { url: uri.to_owned(), reason: e.to_string() })?;
        let part = PartFile::open(path, &parsed, continuing)?;
        let config = Config { delivery: Delivery::WholeObject, resume: part.resume().cloned(), ..config };
        let result = Download::new(self, uri, config, Destination::File(part)).and_then(|mut download| {
            let summary = download.run()?;
            if let Destination::File(part) = std::mem::replace(&mut download.io.destination, Destination::Sink) {
                part.commit()?;
            }
            Ok(summary)
        });
        if let Err(GetError::Download(DownloadError::Integrity(_))) = &result {
            PartFile::discard(path);
        }
        result
    }

    /// Downloads `uri` and drops the bytes as they land ([`Delivery::WholeObject`]): the whole
    /// transfer, nothing kept — for measuring.
    pub fn sink(&mut self, uri: &str, config: Config) -> Result<Summary, GetError> {
        Download::new(self, uri, Config { delivery: Delivery::WholeObject, ..config }, Destination::Sink)?.run()
    }

    /// Adds the bytes each download delivers (or lands) to `counter`, as they do (for progress
    /// bars on another thread).
    pub fn set_progress(&mut self, counter: Option<Arc<AtomicU64>>) {
        self.progress = counter;
    }
}

impl<'d> Download<'d> {
    fn new(driver: &'d mut UringDriver, uri: &str, config: Config, destination: Destination) -> Result<Self, GetError> {
        let bad = |reason: String| GetError::Url { url: uri.to_owned(), reason };
        let parsed: Uri = uri.parse().map_err(|e: http::uri::InvalidUri| bad(e.to_string()))?;
        let route = driver.route(&parsed).map_err(|e| bad(e.to_string()))?;
        let epoch = std::time::Instant::now();
        let server = Server { authority: authority(&parsed), peer: route.peer, host: route.host };
        let ring = RingSlot::new(Instant::ZERO, parsed, config)?;
        let following = Following::new(driver);
        let io =
            Io { driver, epoch, servers: vec![server], destination, plan: None, ready: VecDeque::new(), following };
        Ok(Download { transfer: Transfer::new(ring), io, lent: None, published: 0, finished: false })
    }

    /// The next bytes in order, lent in place from their slot until the next call; `None` at
    /// the end. After an error, every later call returns `None`.
    pub fn next_chunk(&mut self) -> Result<Option<&[u8]>, GetError> {
        if let Some(slot) = self.lent.take() {
            let now = self.io.now();
            self.transfer.release(now, slot);
        }
        loop {
            if self.finished {
                return Ok(None);
            }
            if let Some((slot, range)) = self.io.ready.pop_front() {
                self.lent = Some(slot);
                return Ok(self.io.driver.buffers.bytes(slot, range.len()));
            }
            if let Some(outcome) = self.transfer.outcome() {
                let result = outcome.clone().map(|_| None).map_err(GetError::from);
                self.finished = true;
                self.io.driver.quiesce();
                return result;
            }
            if let Err(error) = self.pump() {
                self.finished = true;
                return Err(error);
            }
        }
    }

    /// What the download did so far (all of it, once [`Download::next_chunk`] returned `None`).
    pub fn summary(&self) -> Summary {
        self.transfer.summary()
    }

    /// How the object is cut, once its size is known.
    pub fn plan(&self) -> Option<Plan> {
        self.transfer.plan()
    }

    /// Whether the slots are the ring's fixed buffers (each is registered when first used, and
    /// then read into with `READ_FIXED`); else bodies are received into the same memory without
    /// it (the kernel gave no fixed-buffer table).
    pub fn registered(&self) -> bool {
        self.io.driver.buffers.registered()
    }

    /// Runs a whole-object download to its end.
    fn run(&mut self) -> Result<Summary, GetError> {
        let result = loop {
            if let Some(outcome) = self.transfer.outcome() {
                break outcome.clone().map_err(GetError::from);
            }
            if let Err(error) = self.pump() {
                break Err(error);
            }
        };
        self.io.driver.quiesce();
        result
    }

    /// Runs the loop until there is something to lend (stream mode) or the download is over.
    fn pump(&mut self) -> Result<(), GetError> {
        loop {
            let now = self.io.now();
            self.transfer.pump(&mut self.io, now)?;
            self.publish();
            if self.transfer.outcome().is_some() || !self.io.ready.is_empty() {
                return Ok(());
            }
            if let Some(event) = self.io.driver.next_event() {
                // A redirected HEAD is on its way again: nothing to tell the machine yet.
                let Some(event) = self.io.translate(event)? else { continue };
                let now = self.io.now();
                self.transfer.handle(&mut self.io, now, event)?;
                continue;
            }
            let wake = self.transfer.poll_timeout();
            if wake.is_none() && !self.io.driver.busy() {
                return Err(GetError::Stalled);
            }
            let epoch = self.io.epoch;
            self.io.driver.wait(wake, || Instant::from_elapsed(epoch.elapsed())).map_err(ring_failed)?;
            let now = self.io.now();
            if wake.is_some_and(|wake| wake <= now) {
                self.transfer.handle_timeout(now);
            }
        }
    }

    /// Adds the bytes delivered (or landed) since the last call to the driver's counter.
    fn publish(&mut self) {
        let bytes = self.transfer.bytes();
        if let Some(progress) = &self.io.driver.progress {
            progress.fetch_add(bytes - self.published, Ordering::Relaxed);
        }
        self.published = bytes;
    }
}

impl Drop for Download<'_> {
    fn drop(&mut self) {
        // Mid-way: every request is cancelled and reaped before the slots can be reused.
        self.io.driver.quiesce();
    }
}

/// A server ranges are sent to: its address and `Host`, by the URL authority that named it
/// (empty: the driver's endpoint).
struct Server {
    authority: String,
    peer: Peer,
    host: String,
}

/// The scheme and authority a URI names (empty for origin-form).
fn authority(uri: &Uri) -> String {
    uri.authority().map_or_else(String::new, |a| format!("{}://{a}", uri.scheme_str().unwrap_or("")))
}

impl Io<'_> {
    fn now(&self) -> Instant {
        Instant::from_elapsed(self.epoch.elapsed())
    }

    /// The server `uri` goes to (resolved the first time it is named) and its request-target.
    fn server(&mut self, uri: &Uri) -> Result<(&Server, String), TransportError> {
        let name = authority(uri);
        let known = self.servers.iter().position(|s| s.authority == name);
        let (index, target) = match known {
            Some(index) => (index, self.driver.route_target(uri)),
            None => {
                let route = self.driver.route(uri)?;
                self.servers.push(Server { authority: name, peer: route.peer, host: route.host });
                (self.servers.len() - 1, route.target)
            }
        };
        Ok((&self.servers[index], target))
    }

    /// The core's event as the transfer's (`None`: a redirect of the HEAD, followed).
    fn translate(&mut self, event: Event) -> Result<Option<IoEvent>, GetError> {
        Ok(Some(match event {
            // The HEAD's whole response, after its redirects: only its head matters.
            Event::Response(id, result) => {
                let now = self.now();
                let Some(result) = self.following.answer(self.driver, id, result, now).map_err(ring_failed)? else {
                    return Ok(None);
                };
                IoEvent::Response(Completion { id, result: result.map(|r| r.map(drop)) })
            }
            Event::Head(id, result) => IoEvent::Response(Completion { id, result }),
            Event::Body { id, received, error } => IoEvent::Body { id, received, error },
            Event::Written { id, result } => {
                let result = result.map_err(|source| match &self.destination {
                    Destination::File(part) => GetError::File { path: part.part_path().to_owned(), source },
                    Destination::Stream | Destination::Sink => ring_failed(source),
                });
                IoEvent::Landed { id, result }
            }
        }))
    }
}

impl RangeIo for Io<'_> {
    fn send(&mut self, transmit: Transmit) -> Result<(), GetError> {
        let now = self.now();
        self.following.start(self.driver, transmit, now).map_err(ring_failed)
    }

    fn fetch(&mut self, fetch: Fetch, uri: &Uri) -> Result<(), GetError> {
        let now = self.now();
        let (peer, wire) = match self.server(uri) {
            Ok((server, target)) => {
                (server.peer.clone(), http1::encode_range_get(&server.host, &target, &fetch.range.header_value()))
            }
            // Nowhere to send it: the machine hears so, as of any failure to connect.
            Err(error) => return self.driver.refuse(fetch.id, error).map_err(ring_failed),
        };
        self.driver.start_range(fetch.id, peer, wire, now).map_err(ring_failed)
    }

    fn slot_ready(&self, slot: Slot) -> bool {
        !self.driver.slot_busy(slot)
    }

    fn receive(&mut self, receive: Receive) -> Result<(), GetError> {
        let now = self.now();
        let (id, slot, len) = (receive.id, receive.slot, receive.range.len());
        self.driver.receive_body(id, slot, len, receive.ends_body, now).map_err(ring_failed)
    }

    fn cancel(&mut self, id: RequestId) -> Result<(), GetError> {
        self.driver.cancel(id).map_err(ring_failed)
    }

    fn plan(&mut self, plan: Plan, slots: u32) -> Result<(), GetError> {
        self.plan = Some(plan);
        let size = plan.chunk.min(plan.len());
        self.driver.ensure_buffers(slots, size).map_err(|source| GetError::Driver { what: "slot buffers", source })?;
        if let Destination::File(part) = &self.destination {
            let path = part.part_path();
            part.file().set_len(plan.len()).map_err(|source| GetError::File { path: path.to_owned(), source })?;
        }
        Ok(())
    }

    fn land(&mut self, id: RequestId, slot: Slot, range: ByteRange) -> Result<Landing, GetError> {
        let (Destination::File(part), Some(plan)) = (&self.destination, self.plan) else {
            return Ok(Landing::Done);
        };
        let len = usize::try_from(range.len()).unwrap_or(usize::MAX);
        self.driver.write(id, part.file(), slot, len, range.start - plan.start).map_err(ring_failed)?;
        Ok(Landing::Pending)
    }

    fn deliver(&mut self, slot: Slot, range: ByteRange) {
        self.ready.push_back((slot, range));
    }

    fn record(&mut self, lines: &str) -> Result<(), GetError> {
        match &mut self.destination {
            Destination::File(part) => part.record(lines),
            Destination::Stream | Destination::Sink => Ok(()),
        }
    }

    fn slot_bytes(&self, slot: Slot, len: usize) -> &[u8] {
        self.driver.buffers.bytes(slot, len as u64).unwrap_or_default()
    }

    fn read_back(&mut self, range: ByteRange, sink: &mut dyn FnMut(&[u8])) -> Result<bool, GetError> {
        let (Destination::File(part), Some(plan)) = (&self.destination, self.plan) else {
            // A sink keeps nothing (and stream mode hashes as it delivers).
            return Ok(false);
        };
        // On the ring's thread, from the page cache the fixed writes just filled.
        let mut block = vec![0; READ_BACK_BLOCK.min(range.len()) as usize];
        let mut at = range.start;
        while at < range.end {
            let len = (range.end - at).min(READ_BACK_BLOCK) as usize;
            part.file()
                .read_exact_at(&mut block[..len], at - plan.start)
                .map_err(|source| GetError::File { path: part.part_path().to_owned(), source })?;
            sink(&block[..len]);
            at += len as u64;
        }
        Ok(true)
    }

    fn notice(&mut self, notice: Notice) {
        tracing::warn!("{}", notice);
    }
}

/// The ring itself failed.
fn ring_failed(source: io::Error) -> GetError {
    GetError::Driver { what: "io_uring", source }
}
