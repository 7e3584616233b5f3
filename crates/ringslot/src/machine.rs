//! The ring-slot machine.

use std::collections::VecDeque;
use std::fmt;
use std::time::Duration;

use bytes::Bytes;
use http::header::RANGE;
use http::{HeaderValue, Uri};
use stowage_checksum::{ChecksumError, Expected};
use stowage_proto::redirect;
use stowage_proto::{
    Clock, Completion, InputError, Instant, Machine, RequestId, RequestIds, Retry, Transmit, TransportError,
};

use crate::check::{self, Identity, Probed, Verdict};
use crate::config::DEFAULT_CHUNK;
use crate::exact::Usual;
use crate::single::Single;
use crate::{ByteRange, Config, ConfigError, Delivery, DownloadError, Failure, Hedge, Plan};

/// One buffer of the ring, named by its index `0..slots`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Slot(pub u32);

impl fmt::Display for Slot {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "slot#{}", self.0)
    }
}

/// A range request to send. Its response head is fed back as [`Input::Response`]; its body is
/// read only when the machine says so ([`Output::Receive`]).
///
/// A plain value (no allocation): the driver gets the HTTP request from
/// [`RingSlot::request`], or encodes `GET` with `Range: bytes=start-(end-1)` itself
/// ([`ByteRange::header_value`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Fetch {
    /// Matches the [`Input::Response`] and [`Input::Body`] the driver feeds back.
    pub id: RequestId,
    /// The bytes asked for.
    pub range: ByteRange,
    /// The buffer reserved for its body (named again by its [`Receive`]).
    pub slot: Slot,
    /// Whether this is a duplicate of a slow head-of-line request.
    pub hedge: bool,
}

impl Fetch {
    /// The HTTP request of this fetch for the object at `uri`: `GET` with
    /// `Range: bytes=start-(end-1)`.
    pub fn request(&self, uri: &Uri) -> http::Request<Bytes> {
        let mut request = http::Request::new(Bytes::new());
        *request.uri_mut() = uri.clone();
        // Digits, '=' and '-' only: always a valid header value.
        if let Ok(value) = HeaderValue::try_from(self.range.header_value()) {
            request.headers_mut().insert(RANGE, value);
        }
        request
    }
}

/// Read the body of an accepted response into a slot: the machine checked the head and wants
/// these bytes.
///
/// The driver reads `range.len()` bytes of the body into `slot` and then feeds back
/// [`Input::Body`]. Where the body ends with them (`ends_body`), it reads one byte more only to
/// learn that the body is too long; elsewhere (a server that ignored `Range` sends the whole
/// object in one body, received piece by piece: several receives name the same request, in
/// order) it reads exactly `range.len()` and leaves the rest of the body for the next receive.
/// It never writes past the range's length. In whole-object mode the bytes belong at offset
/// `range.start − plan.start` of the destination; `slot` is where they wait until they are
/// there — unless `skip` says they are not wanted (a one-stream body's bytes before the plan,
/// or bytes delivered before it failed and was asked for again): then they are received and
/// dropped, never delivered nor landed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Receive {
    /// The request whose body it is.
    pub id: RequestId,
    /// The buffer to fill.
    pub slot: Slot,
    /// The object's bytes the body holds.
    pub range: ByteRange,
    /// Whether the body ends with these bytes (else it goes on past them).
    pub ends_body: bool,
    /// Whether the bytes are not wanted: read them, and drop them.
    pub skip: bool,
}

/// Something the driver should tell its user, though nothing failed.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Notice {
    /// The server ignored `Range` (it answered the request for `range` with a 200 and the
    /// whole object): the download goes on as one stream, in order.
    #[error("the server ignored Range (asked for {range}, it sent the whole object): downloading in one stream")]
    RangeIgnored {
        /// The range asked for.
        range: ByteRange,
    },
    /// Responses state different checksums for the object (AIStore with
    /// `checksum.enable_read_range` states each range's own): the download is not verified.
    /// From [`Transfer`](crate::transfer::Transfer), which verifies.
    #[error("the server states {} {} and then {} {}: not verifying the download",
        first.header(), first.render(), then.header(), then.render())]
    ChecksumVaries {
        /// The checksum stated first.
        first: Expected,
        /// A different one stated later.
        then: Expected,
    },
    /// A response states a checksum that cannot be read: the download is not verified. From
    /// [`Transfer`](crate::transfer::Transfer).
    #[error("not verifying the download: {error}")]
    ChecksumUnusable {
        /// What is wrong with it.
        error: ChecksumError,
    },
}

/// What the driver feeds the machine.
#[derive(Debug)]
pub enum Input {
    /// The response head (or transport failure) of the HEAD or of a [`Fetch`]. A fetch's head
    /// is answered with [`Output::Receive`] (read the body) or [`Output::Cancel`] (drop it).
    Response(Completion),
    /// The body of a [`Receive`] ended: `received` bytes arrived (the driver stops reading at
    /// one byte past the range), and `error` says why it ended early, if it did.
    Body {
        /// The fetch.
        id: RequestId,
        /// Bytes received (at most `range.len() + 1`).
        received: u64,
        /// The transport failure that ended the body, if any (a reset, a stall past the read
        /// timeout, …).
        error: Option<TransportError>,
    },
    /// The consumer is done with a [delivered](Output::Deliver) slot (stream mode).
    Release(Slot),
    /// The consumer gives up: every request is cancelled and the download ends.
    Cancel,
}

/// What the machine asks of the driver.
#[derive(Clone, Debug)]
pub enum Output {
    /// Send this HEAD and feed back its [`Input::Response`].
    ///
    /// Boxed: an `http::Request` would make every output four times as large (264 bytes, not
    /// 64), and two outputs go through the machine's queue for every range; the HEAD is sent
    /// once per download, if at all.
    Head(Box<Transmit>),
    /// The object's size is known and the download is cut thus (emitted once, before any
    /// [`Output::Fetch`]).
    Plan(Plan),
    /// Send this range request and feed back its response head; do not read its body yet.
    Fetch(Fetch),
    /// The head of this fetch was accepted: read its body into the slot, then feed back
    /// [`Input::Body`].
    Receive(Receive),
    /// Stream mode: `slot` holds `range`, the next bytes in order. Hand them to the consumer
    /// and feed back [`Input::Release`] when the slot may be reused.
    Deliver {
        /// The slot holding the bytes.
        slot: Slot,
        /// Which bytes.
        range: ByteRange,
    },
    /// Whole-object mode: `range` has landed at its offset of the destination.
    Landed {
        /// Which bytes.
        range: ByteRange,
    },
    /// Tell the user this (e.g. log a warning); nothing to do.
    Notice(Notice),
    /// Abandon this request: do not (or no longer) read its body, and never write its bytes
    /// anywhere. It follows a fetch's head the machine rejected, a hedge that lost, and every
    /// request in flight when the download ends.
    Cancel(RequestId),
    /// The download is over; nothing follows.
    Done(Result<Summary, DownloadError>),
}

/// What a finished download did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Summary {
    /// Bytes delivered (or landed): `plan.len()`.
    pub bytes: u64,
    /// Ranges delivered.
    pub ranges: u64,
    /// Range requests sent, retries and hedges included.
    pub requests: u64,
    /// Range attempts that failed and were retried.
    pub retries: u64,
    /// Hedge requests sent.
    pub hedges: u64,
    /// Ranges whose hedge finished first.
    pub hedge_wins: u64,
    /// Redirects followed (each paid once: later requests go where it pointed).
    pub redirects: u64,
    /// The server ignored `Range`: the object came as one stream.
    pub one_stream: bool,
    /// Bytes that were already in the destination ([`Config::resume`]): not fetched, not in
    /// `bytes`.
    pub resumed: u64,
    /// The checksum the bytes were verified against ([`Config::verify`](crate::Config::verify),
    /// by [`Transfer`](crate::transfer::Transfer)); `None` when none was checked (none stated,
    /// verification off, or given up with a [`Notice`]).
    pub verified: Option<Expected>,
}

/// Why the machine refused an input (a driver bug, or a fuzzer): its state is unchanged.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Rejected {
    /// An unknown or cancelled request id, a body before its head, or an input after `Done`
    /// (other than a release).
    #[error(transparent)]
    Input(#[from] InputError),
    /// A release of a slot that holds no delivered range.
    #[error("{0} holds no delivered range")]
    NotDelivered(Slot),
}

/// Parallel ranged download through a ring of slots, as a sans-IO machine.
///
/// Unless the size is given, it asks for the first range without it and learns it from the
/// answer's `Content-Range` total (or with a HEAD first, if [`Config::head`] says so), cuts
/// `[offset, end)` into ranges of `chunk` bytes, and keeps up to `workers` range requests in
/// flight, each into a free slot. In [stream mode](Delivery::Stream) ranges are delivered strictly in order and a slot is
/// refilled only after the consumer releases it; in [whole-object mode](Delivery::WholeObject)
/// each range lands at its own offset, in any order. Every response head is checked (206, the
/// exact `Content-Range`, the length, the object's identity); retryable failures (5xx, 429,
/// transport errors but a redirect the driver could not follow, stalls) are retried per range
/// with backoff, up to [`Config::retry`]'s `max_attempts`, without touching other ranges; anything
/// else ends the download. Optionally the head-of-line range is [hedged](Hedge).
///
/// The machine never sees a byte of a body: it names the slot and the range, and the driver
/// reports how many bytes arrived.
///
/// Every fetch's response head is answered with exactly one [`Output::Receive`] (the body is
/// wanted: read it into the slot) or [`Output::Cancel`] (it is not): the driver never reads a
/// body the machine has not asked for.
///
/// Invariants (property-tested): range requests in flight ≤ `workers`; slots filling, full or
/// delivered-but-unreleased ≤ `slots`; a slot is written only when it holds nothing
/// undelivered or unreleased; delivery is in order, gap-free, each byte once, and adds up to
/// `plan.len()` on success; each range is attempted at most `max_attempts` times; a hedged
/// range is delivered once; after [`Output::Done`] nothing is emitted and every input but the
/// release of a delivered slot is refused.
///
/// # Example
///
/// A 10-byte object in 4-byte ranges, two workers; the "server" answers every request at once.
/// The size is not given: the first range's answer says it (`…/10`), and then the plan follows.
///
/// ```
/// use stowage_proto::{Completion, Instant, Machine};
/// use stowage_ringslot::{Config, Input, Output, RingSlot};
///
/// let config = Config { chunk: Some(4), workers: 2, ..Config::default() };
/// let now = Instant::ZERO;
/// let mut ring = RingSlot::new(now, "/v1/objects/b/o?provider=ais".parse().unwrap(), config).unwrap();
/// let mut delivered = Vec::new();
/// while let Some(output) = ring.poll_output(now) {
///     match output {
///         Output::Fetch(fetch) => {
///             let (first, last) = (fetch.range.start, fetch.range.end - 1);
///             let partial = http::Response::builder()
///                 .status(206)
///                 .header("content-range", format!("bytes {first}-{last}/10"))
///                 .body(())
///                 .unwrap();
///             ring.handle_input(now, Input::Response(Completion { id: fetch.id, result: Ok(partial) })).unwrap();
///         }
///         Output::Receive(receive) => {
///             // The driver fills the slot with the body, then says how much arrived.
///             let received = receive.range.len();
///             ring.handle_input(now, Input::Body { id: receive.id, received, error: None }).unwrap();
///         }
///         Output::Deliver { slot, range } => {
///             delivered.push((range.start, range.end));
///             ring.handle_input(now, Input::Release(slot)).unwrap();
///         }
///         Output::Done(result) => assert_eq!(result.unwrap().bytes, 10),
///         Output::Plan(plan) => assert_eq!(plan.size, 10),
///         Output::Head(_) => unreachable!("only with Config::head"),
///         Output::Landed { .. } | Output::Cancel(_) | Output::Notice(_) => {}
///     }
/// }
/// assert_eq!(delivered, [(0, 4), (4, 8), (8, 10)]);
/// ```
#[derive(Clone, Debug)]
pub struct RingSlot {
    pub(crate) uri: Uri,
    /// The node requests go to, learned from a redirect or given ([`Config::target`]).
    pub(crate) target: Option<Uri>,
    /// Whether new requests go to `target` ([`Config::learn_target`]).
    pub(crate) learn_target: bool,
    /// [`Config::verify`], for what runs the machine.
    verify: bool,
    /// Whether the download continues an interrupted one ([`Config::resume`]).
    resuming: bool,
    /// Ranges already in the destination ([`Config::resume`]): never fetched.
    done: std::collections::BTreeSet<u64>,
    workers: usize,
    pub(crate) delivery: Delivery,
    pub(crate) retry: Retry,
    hedge: Option<Hedge>,
    /// The caller's chunk size, if any.
    chunk: Option<u64>,
    offset: u64,
    end: Option<u64>,
    clock: Clock,
    pub(crate) ids: RequestIds,
    pub(crate) phase: Phase,
    pub(crate) plan: Plan,
    pub(crate) identity: Identity,
    /// What the usual answers to this plan's ranges have in common (set with the plan).
    pub(crate) usual: Usual,
    /// Ranges `base..base + window.len()`: started and not yet delivered (or landed).
    window: VecDeque<Entry>,
    /// A range request was answered 206: the server honours `Range` (a 200 later is an error,
    /// not a reason to fall back to one stream).
    partial_seen: bool,
    /// The index of the range at the front of `window`.
    base: u64,
    /// Requests in flight; at most `workers`.
    pub(crate) flights: Vec<Flight>,
    /// What each slot holds.
    slots: Vec<SlotState>,
    /// Free slots (a stack).
    free: Vec<Slot>,
    /// Entries of `window` in [`EntryState::Backoff`] (so a ring without retries pending never
    /// scans the window for them).
    backoffs: usize,
    /// `plan.ranges()`, computed once.
    ranges: u64,
    /// Outputs waiting to be polled, in order.
    pub(crate) outputs: VecDeque<Output>,
    /// Durations of finished ranges (hedging only).
    samples: crate::samples::Samples,
    /// Cached median of `samples` (hedging only).
    median: Option<Duration>,
    pub(crate) summary: Summary,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Phase {
    /// Waiting for the HEAD's answer; `attempts` made so far, after `hops` redirects.
    Head { id: RequestId, attempts: u32, hops: u32 },
    /// The HEAD failed; the next attempt is due at `until`.
    HeadBackoff { until: Instant, attempts: u32 },
    /// The size is not known and the first range is asked for without it (the one flight);
    /// `attempts` made so far. Its answer gives the size.
    Probe { attempts: u32 },
    /// The first range failed before the size was known; the next attempt is due at `until`.
    ProbeBackoff { until: Instant, attempts: u32 },
    /// Fetching ranges.
    Running,
    /// The server ignores `Range`: one body carries the object.
    Single(Single),
    /// Finished.
    Done,
}

/// A started range that is not yet delivered.
#[derive(Clone, Copy, Debug)]
struct Entry {
    state: EntryState,
    /// Attempts made (hedges not counted).
    attempts: u32,
    /// Whether the current attempt has been hedged.
    hedged: bool,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum EntryState {
    /// One or two requests (a hedge) are in flight.
    Fetching,
    /// The last attempt failed; the next is due at `until`, into `slot` (kept reserved).
    Backoff { until: Instant, slot: Slot },
    /// All its bytes are in `slot`, waiting for the ranges before it to be delivered.
    Ready { slot: Slot },
    /// Whole-object mode: landed, waiting for the ranges before it to land.
    Landed,
}

/// One range request in flight.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Flight {
    pub(crate) id: RequestId,
    pub(crate) index: u64,
    /// `plan.range(index)`, kept: its answer is checked against it.
    pub(crate) range: ByteRange,
    pub(crate) slot: Slot,
    pub(crate) started: Instant,
    /// The response head was accepted; the body is arriving.
    pub(crate) receiving: bool,
    pub(crate) hedge: bool,
    /// Sent to the learned node (else to the object's URL).
    pub(crate) via_target: bool,
    /// Redirects followed to get here.
    pub(crate) hops: u32,
}

/// What a slot holds (for refusing bad releases and for the invariants).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum SlotState {
    Free,
    /// Being filled, or reserved for a retry.
    Busy,
    /// Delivered to the consumer, not yet released.
    Delivered,
}

impl RingSlot {
    /// A download of the object at `uri` (origin-form or absolute), starting at `now`. Its first
    /// output is the HEAD, or, when `config.size` is given, the [`Plan`] and the first fetches.
    pub fn new(now: Instant, uri: Uri, config: Config) -> Result<Self, ConfigError> {
        config.validate()?;
        let slots = config.slot_count();
        let mut ring = RingSlot {
            uri,
            target: config.target.clone(),
            learn_target: config.learn_target,
            verify: config.verify,
            resuming: config.resume.is_some(),
            done: Default::default(),
            workers: config.workers as usize,
            delivery: config.delivery,
            retry: config.retry,
            hedge: config.hedge.filter(|_| config.delivery == Delivery::Stream),
            chunk: config.chunk,
            offset: config.offset,
            end: config.end,
            clock: Clock::starting_at(now),
            ids: RequestIds::default(),
            phase: Phase::Done,
            plan: Plan::new(0, 0, None, DEFAULT_CHUNK),
            identity: Identity::default(),
            usual: Usual::default(),
            window: VecDeque::with_capacity(slots as usize),
            partial_seen: false,
            base: 0,
            flights: Vec::with_capacity(config.workers as usize),
            slots: vec![SlotState::Free; slots as usize],
            free: (0..slots).rev().map(Slot).collect(),
            backoffs: 0,
            ranges: 0,
            outputs: VecDeque::with_capacity(slots as usize + 2),
            samples: crate::samples::Samples::default(),
            median: None,
            summary: Summary::default(),
        };
        if let Some(resume) = config.resume {
            ring.identity = Identity::recorded(resume.etag.as_deref(), resume.version.as_deref())
                .ok_or(ConfigError::ResumeNotWhole)?;
            ring.chunk = Some(resume.chunk);
            ring.done = resume.done;
            ring.start(now, resume.size, None);
            return Ok(ring);
        }
        match config.size {
            Some(size) => ring.start(now, size, None),
            None if config.head || ring.first_range().is_empty() => ring.send_head(1),
            None => ring.send_probe(now, 1),
        }
        Ok(ring)
    }

    /// The plan, once the size is known.
    pub fn plan(&self) -> Option<Plan> {
        matches!(self.phase, Phase::Running | Phase::Single(_) | Phase::Done).then_some(self.plan)
    }

    /// Range requests in flight (hedges included).
    pub fn in_flight(&self) -> usize {
        self.flights.len()
    }

    /// Slots that are not free (filling, reserved for a retry, full, or delivered and not yet
    /// released).
    pub fn slots_in_use(&self) -> usize {
        self.slots.len() - self.free.len()
    }

    /// Whether the download is over (its result may still be waiting in `poll_output`).
    pub fn is_done(&self) -> bool {
        matches!(self.phase, Phase::Done)
    }

    /// What happened so far.
    pub fn summary(&self) -> Summary {
        self.summary
    }

    /// The object's URI, as given.
    pub fn uri(&self) -> &Uri {
        &self.uri
    }

    /// The request of `fetch`: `GET` of the object with `Range: bytes=start-(end-1)`
    /// ([`Fetch::request`] for this machine's URI).
    pub fn request(&self, fetch: &Fetch) -> http::Request<Bytes> {
        fetch.request(&self.uri)
    }

    /// Whether the bytes are to be verified ([`Config::verify`]): by what runs the machine,
    /// which sees them ([`Transfer`](crate::transfer::Transfer)).
    pub fn verify(&self) -> bool {
        self.verify
    }

    /// Whether the download continues an interrupted one ([`Config::resume`]).
    pub fn resuming(&self) -> bool {
        self.resuming
    }

    /// The object's `ETag` and `ais-version` as first answered (or as the resumed download
    /// recorded them), for a [`Journal`](crate::Journal).
    pub fn validators(&self) -> (Option<String>, Option<String>) {
        self.identity.values()
    }

    /// How ranges are handed over.
    pub fn delivery(&self) -> Delivery {
        self.delivery
    }

    /// The number of slots.
    pub fn slot_count(&self) -> u32 {
        // At most `u32::MAX` slots were made, from the config's `u32`.
        u32::try_from(self.slots.len()).unwrap_or(u32::MAX)
    }

    fn send_head(&mut self, attempts: u32) {
        let id = self.ids.next_id();
        let head = self.head_request(id);
        self.outputs.push_back(Output::Head(head));
        self.phase = Phase::Head { id, attempts, hops: 0 };
    }

    /// The size is known: plan, and start fetching (or finish at once when there is nothing).
    fn start(&mut self, now: Instant, size: u64, max_chunk: Option<u64>) {
        self.set_plan(size, max_chunk);
        let ranges = self.ranges;
        self.done.retain(|&index| index < ranges);
        self.summary.resumed = self.done.iter().filter_map(|&index| self.plan.range(index)).map(|r| r.len()).sum();
        if self.plan.is_empty() {
            self.finish(Ok(self.summary));
        } else {
            self.schedule(now);
        }
    }

    /// Cuts the download for a `size`-byte object and says so ([`Output::Plan`]).
    fn set_plan(&mut self, size: u64, max_chunk: Option<u64>) {
        let chunk = self.chunk.or(max_chunk).unwrap_or(DEFAULT_CHUNK);
        self.plan = Plan::new(size, self.offset, self.end, chunk);
        self.ranges = self.plan.ranges();
        self.usual = Usual::new(&self.plan);
        self.phase = Phase::Running;
        self.outputs.push_back(Output::Plan(self.plan));
    }

    /// The first range asked for while the size is not known: `chunk` bytes from the offset,
    /// short of the caller's end.
    fn first_range(&self) -> ByteRange {
        let chunk = self.chunk.unwrap_or(DEFAULT_CHUNK);
        let end = self.offset.saturating_add(chunk).min(self.end.unwrap_or(u64::MAX));
        ByteRange { start: self.offset, end: end.max(self.offset) }
    }

    /// Asks for the first range without knowing the size: its answer gives it.
    fn send_probe(&mut self, now: Instant, attempts: u32) {
        let Some(slot) = self.take_slot() else { return };
        let range = self.first_range();
        let id = self.ids.next_id();
        let via_target = self.via_target();
        let flight =
            Flight { id, index: 0, range, slot, started: now, receiving: false, hedge: false, via_target, hops: 0 };
        self.flights.push(flight);
        self.summary.requests += 1;
        self.outputs.push_back(Output::Fetch(Fetch { id, range, slot, hedge: false }));
        self.phase = Phase::Probe { attempts };
    }

    /// The first range failed (before the size is known) in a way worth retrying.
    fn probe_failed(&mut self, now: Instant, position: usize, last: Failure) {
        let Phase::Probe { attempts } = self.phase else { return };
        let flight = self.flights.swap_remove(position);
        self.outputs.push_back(Output::Cancel(flight.id));
        self.free_slot(flight.slot);
        if attempts >= self.retry.max_attempts {
            self.finish(Err(DownloadError::RetriesExhausted { range: Some(flight.range), attempts, last }));
        } else {
            let until = now.saturating_add(self.retry.backoff.delay(attempts));
            self.phase = Phase::ProbeBackoff { until, attempts };
        }
    }

    /// The request at `position` failed in a way worth retrying, whatever the phase.
    fn request_failed(&mut self, now: Instant, position: usize, last: Failure) {
        match self.phase {
            Phase::Probe { .. } => self.probe_failed(now, position, last),
            Phase::Single(_) => self.single_request_failed(now, position, last),
            _ => {
                let flight = self.flights[position];
                self.outputs.push_back(Output::Cancel(flight.id));
                self.fail(now, position, flight.range, last);
            }
        }
    }

    /// The first range's answer: the size, then that range is the plan's first.
    fn on_probe(&mut self, now: Instant, position: usize, result: &Result<http::Response<()>, TransportError>) {
        let Phase::Probe { attempts } = self.phase else { return };
        let asked = self.flights[position].range;
        match check::probe(result, asked, &mut self.identity) {
            Verdict::Retry(last) => self.probe_failed(now, position, last),
            Verdict::Fatal(error) => self.finish(Err(error)),
            Verdict::Accept(Probed::Partial { size, range }) => {
                self.set_plan(size, None);
                if self.plan.range(0) != Some(range) {
                    let got = format!("bytes {}-{}/{size}", range.start, range.end.saturating_sub(1));
                    return self.finish(Err(DownloadError::WrongRange { range: asked, got }));
                }
                // The probe is range 0's first attempt; its body is wanted.
                self.partial_seen = true;
                self.window.push_back(Entry { state: EntryState::Fetching, attempts, hedged: false });
                let flight = &mut self.flights[position];
                (flight.range, flight.receiving) = (range, true);
                let receive = Receive { id: flight.id, slot: flight.slot, range, ends_body: true, skip: false };
                self.outputs.push_back(Output::Receive(receive));
                self.schedule(now);
            }
            Verdict::Accept(Probed::Unsatisfiable { size }) => {
                self.set_plan(size, None);
                if !self.plan.is_empty() {
                    return self.finish(Err(DownloadError::Status { range: asked, status: 416 }));
                }
                self.finish(Ok(self.summary));
            }
            Verdict::Accept(Probed::Whole { size }) => {
                self.set_plan(size, None);
                if self.plan.is_empty() {
                    return self.finish(Ok(self.summary));
                }
                self.single_stream(position, attempts);
            }
        }
    }

    pub(crate) fn finish(&mut self, result: Result<Summary, DownloadError>) {
        for flight in self.flights.drain(..) {
            self.outputs.push_back(Output::Cancel(flight.id));
        }
        self.phase = Phase::Done;
        self.outputs.push_back(Output::Done(result));
    }

    fn entry(&mut self, index: u64) -> Option<&mut Entry> {
        let offset = usize::try_from(index.checked_sub(self.base)?).ok()?;
        self.window.get_mut(offset)
    }

    pub(crate) fn take_slot(&mut self) -> Option<Slot> {
        let slot = self.free.pop()?;
        self.slots[slot.0 as usize] = SlotState::Busy;
        Some(slot)
    }

    pub(crate) fn free_slot(&mut self, slot: Slot) {
        self.slots[slot.0 as usize] = SlotState::Free;
        self.free.push(slot);
    }

    /// Hands `slot`, which holds `range`, to the consumer (stream mode).
    pub(crate) fn deliver_slot(&mut self, slot: Slot, range: ByteRange) {
        self.slots[slot.0 as usize] = SlotState::Delivered;
        self.outputs.push_back(Output::Deliver { slot, range });
    }

    /// Forgets every started range, giving back the slots their retries held (the requests in
    /// flight are the caller's to cancel).
    pub(crate) fn discard_window(&mut self) {
        for entry in std::mem::take(&mut self.window) {
            if let EntryState::Backoff { slot, .. } = entry.state {
                self.free_slot(slot);
            }
        }
        (self.base, self.backoffs) = (0, 0);
    }

    /// Sends a request for range `index` into `slot`.
    fn send_range(&mut self, now: Instant, index: u64, slot: Slot, hedge: bool) {
        let Some(range) = self.plan.range(index) else { return };
        let id = self.ids.next_id();
        let via_target = self.via_target();
        self.flights.push(Flight {
            id,
            index,
            range,
            slot,
            started: now,
            receiving: false,
            hedge,
            via_target,
            hops: 0,
        });
        self.summary.requests += 1;
        if hedge {
            self.summary.hedges += 1;
        }
        self.outputs.push_back(Output::Fetch(Fetch { id, range, slot, hedge }));
    }

    /// Starts what can be started. Nothing can start without a free worker, so this returns
    /// at once when every worker is busy (most inputs leave them so).
    #[inline]
    fn schedule(&mut self, now: Instant) {
        if matches!(self.phase, Phase::Running) && self.flights.len() < self.workers {
            self.start_work(now);
        } else if let Phase::Single(_) = self.phase {
            self.single_step();
        }
    }

    /// Starts due retries first, then a hedge of the head of line, then new ranges, while a
    /// worker is free.
    fn start_work(&mut self, now: Instant) {
        // Due retries, oldest range first.
        for offset in 0..if self.backoffs > 0 { self.window.len() } else { 0 } {
            if self.flights.len() >= self.workers {
                return;
            }
            let entry = &mut self.window[offset];
            if let EntryState::Backoff { until, slot } = entry.state
                && until <= now
            {
                entry.state = EntryState::Fetching;
                entry.attempts += 1;
                entry.hedged = false;
                self.backoffs -= 1;
                self.summary.retries += 1;
                self.send_range(now, self.base + offset as u64, slot, false);
            }
        }
        if self.hedge.is_some() {
            self.hedge_head(now);
        }
        let ranges = self.ranges;
        while self.flights.len() < self.workers {
            // With hedging on, new ranges behind a head of line leave one slot free for its
            // hedge: otherwise the ranges behind a straggler fill every slot and it can never be
            // hedged. (With an empty window there is no head of line: nothing is held back.)
            let spare = usize::from(self.hedge.is_some() && !self.window.is_empty());
            let index = self.base + self.window.len() as u64;
            if index >= ranges || self.window.len() + spare >= self.slots.len() || self.free.len() <= spare {
                break;
            }
            if self.done.contains(&index) {
                // Already in the destination: nothing to fetch, it is passed at once.
                self.window.push_back(Entry { state: EntryState::Landed, attempts: 0, hedged: false });
                self.advance();
                continue;
            }
            let Some(slot) = self.take_slot() else { break };
            self.window.push_back(Entry { state: EntryState::Fetching, attempts: 1, hedged: false });
            self.send_range(now, index, slot, false);
        }
        if self.base >= ranges && self.flights.is_empty() {
            // Every range was already in the destination.
            self.finish(Ok(self.summary));
        }
    }

    /// When the head-of-line request becomes due for a hedge, if it can be hedged at all.
    fn hedge_due(&self) -> Option<(Instant, RequestId)> {
        let hedge = self.hedge?;
        if self.samples.total() < u64::from(hedge.min_samples) {
            return None;
        }
        let front = self.window.front()?;
        if front.state != EntryState::Fetching || front.hedged {
            return None;
        }
        let flight = self.flights.iter().find(|f| f.index == self.base)?;
        // Saturating: a huge factor means "practically never", not a panic.
        let scaled = Duration::try_from_secs_f64(self.median?.as_secs_f64() * hedge.factor).unwrap_or(Duration::MAX);
        let threshold = scaled.max(hedge.floor);
        Some((flight.started.saturating_add(threshold), flight.id))
    }

    fn hedge_head(&mut self, now: Instant) {
        if self.flights.len() >= self.workers || self.free.is_empty() {
            return;
        }
        let Some((due, _)) = self.hedge_due() else { return };
        if due > now {
            return;
        }
        let Some(slot) = self.take_slot() else { return };
        if let Some(front) = self.window.front_mut() {
            front.hedged = true;
        }
        self.send_range(now, self.base, slot, true);
    }

    fn on_head(&mut self, now: Instant, result: &Result<http::Response<()>, TransportError>) {
        let Phase::Head { attempts, .. } = self.phase else { return };
        if let Ok(response) = result
            && redirect::is_redirect(response.status())
        {
            if let Err(error) = self.follow_head(response) {
                self.finish(Err(error));
            }
            return;
        }
        let verdict = match self.target_failed(self.target.is_some(), result) {
            Some(failure) => Verdict::Retry(failure),
            None => check::head(result, &mut self.identity),
        };
        match verdict {
            Verdict::Accept(head) => self.start(now, head.size, head.max_chunk),
            Verdict::Fatal(error) => self.finish(Err(error)),
            Verdict::Retry(last) => {
                if attempts >= self.retry.max_attempts {
                    self.finish(Err(DownloadError::RetriesExhausted { range: None, attempts, last }));
                } else {
                    let until = now.saturating_add(self.retry.backoff.delay(attempts));
                    self.phase = Phase::HeadBackoff { until, attempts };
                }
            }
        }
    }

    fn on_response(&mut self, now: Instant, position: usize, result: &Result<http::Response<()>, TransportError>) {
        let range = self.flights[position].range;
        if let Ok(whole) = result
            && whole.status() == http::StatusCode::OK
            && !self.partial_seen
        {
            // The server ignores Range: the object comes as one stream, whatever was asked.
            return match check::whole(whole, self.plan.size, &mut self.identity) {
                Ok(()) => {
                    let attempts = self.entry(self.flights[position].index).map_or(1, |e| e.attempts);
                    self.single_stream(position, attempts);
                }
                Err(error) => self.finish(Err(error)),
            };
        }
        match check::range(result, range, self.plan.size, &self.usual, &mut self.identity) {
            Verdict::Accept(()) => {
                self.partial_seen = true;
                let flight = &mut self.flights[position];
                flight.receiving = true;
                let receive = Receive { id: flight.id, slot: flight.slot, range, ends_body: true, skip: false };
                self.outputs.push_back(Output::Receive(receive));
            }
            Verdict::Retry(failure) => self.request_failed(now, position, failure),
            // The download ends: every request in flight, this one included, is cancelled.
            Verdict::Fatal(error) => self.finish(Err(error)),
        }
    }

    fn on_body(&mut self, now: Instant, position: usize, received: u64, error: Option<TransportError>) {
        let flight = self.flights[position];
        let range = flight.range;
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
                Some(error) => self.fail(now, position, range, Failure::Transport(error)),
                None => self.finish(Err(DownloadError::ShortBody { range, received })),
            };
        }
        self.flights.swap_remove(position);
        if self.hedge.is_some() {
            self.samples.push(now.saturating_duration_since(flight.started));
            self.median = self.samples.median();
            // The other request for the same range, if hedged, lost.
            if let Some(loser) = self.flights.iter().position(|f| f.index == flight.index) {
                let loser = self.flights.swap_remove(loser);
                self.outputs.push_back(Output::Cancel(loser.id));
                self.free_slot(loser.slot);
                if flight.hedge {
                    self.summary.hedge_wins += 1;
                }
            }
        }
        let delivery = self.delivery;
        let Some(entry) = self.entry(flight.index) else { return };
        match delivery {
            Delivery::Stream => entry.state = EntryState::Ready { slot: flight.slot },
            Delivery::WholeObject => {
                entry.state = EntryState::Landed;
                self.free_slot(flight.slot);
                self.outputs.push_back(Output::Landed { range });
                self.summary.bytes += range.len();
                self.summary.ranges += 1;
            }
        }
        self.advance();
        if self.base >= self.ranges {
            self.finish(Ok(self.summary));
        }
    }

    /// Pops the front of the window while it is done: delivers ready slots in order (stream
    /// mode) or drops landed ranges (whole-object mode).
    fn advance(&mut self) {
        while let Some(front) = self.window.front() {
            match front.state {
                EntryState::Ready { slot } => {
                    let Some(range) = self.plan.range(self.base) else { return };
                    self.deliver_slot(slot, range);
                    self.summary.bytes += range.len();
                    self.summary.ranges += 1;
                }
                EntryState::Landed => {}
                EntryState::Fetching | EntryState::Backoff { .. } => return,
            }
            self.window.pop_front();
            self.base += 1;
        }
    }

    /// A request for `range` failed in a retryable way: retry the range later, unless its
    /// hedge partner is still running or it is out of attempts.
    fn fail(&mut self, now: Instant, position: usize, range: ByteRange, last: Failure) {
        let flight = self.flights.swap_remove(position);
        if self.flights.iter().any(|f| f.index == flight.index) {
            self.free_slot(flight.slot);
            return;
        }
        let backoff = self.retry.backoff;
        let max_attempts = self.retry.max_attempts;
        let Some(entry) = self.entry(flight.index) else { return };
        let attempts = entry.attempts;
        if attempts >= max_attempts {
            return self.finish(Err(DownloadError::RetriesExhausted { range: Some(range), attempts, last }));
        }
        let until = now.saturating_add(backoff.delay(attempts));
        entry.state = EntryState::Backoff { until, slot: flight.slot };
        self.backoffs += 1;
    }

    /// When the earliest retry in backoff is due.
    fn next_retry(&self) -> Option<Instant> {
        if self.backoffs == 0 {
            return None;
        }
        let due = self.window.iter().filter_map(|entry| match entry.state {
            EntryState::Backoff { until, .. } => Some(until),
            _ => None,
        });
        due.min()
    }

    fn release(&mut self, slot: Slot) -> Result<(), Rejected> {
        match self.slots.get(slot.0 as usize) {
            Some(SlotState::Delivered) => {
                self.free_slot(slot);
                Ok(())
            }
            _ => Err(Rejected::NotDelivered(slot)),
        }
    }
}

impl Machine for RingSlot {
    type Input = Input;
    type Output = Output;
    type Error = Rejected;

    fn handle_input(&mut self, now: Instant, input: Input) -> Result<(), Rejected> {
        if self.is_done() {
            // The consumer may still give back the slots it holds; nothing else fits.
            return match input {
                Input::Release(slot) => self.release(slot),
                _ => Err(InputError::Finished.into()),
            };
        }
        // Matched by reference: the input (a response head and its header map) is read where
        // the driver put it and dropped in place, never moved.
        match &input {
            Input::Response(completion) => {
                let id = completion.id;
                if let Phase::Head { id: head, .. } = self.phase {
                    if head != id {
                        return Err(InputError::UnexpectedCompletion(id).into());
                    }
                    let now = self.clock.observe(now);
                    self.on_head(now, &completion.result);
                    return Ok(());
                }
                let position = self.flights.iter().position(|f| f.id == id && !f.receiving);
                let position = position.ok_or(InputError::UnexpectedCompletion(id))?;
                let now = self.clock.observe(now);
                let result = &completion.result;
                if let Ok(response) = result
                    && redirect::is_redirect(response.status())
                {
                    if let Err(error) = self.follow(position, response) {
                        self.finish(Err(error));
                    }
                } else if let Some(failure) = self.target_failed(self.flights[position].via_target, result) {
                    self.request_failed(now, position, failure);
                } else {
                    match self.phase {
                        Phase::Probe { .. } => self.on_probe(now, position, result),
                        Phase::Single(_) => self.on_single_response(now, position, result),
                        _ => self.on_response(now, position, result),
                    }
                }
            }
            &Input::Body { id, received, error } => {
                let position = self.flights.iter().position(|f| f.id == id && f.receiving);
                // One stream: a body is expected only while a piece of it is asked for.
                let position = position.filter(|_| self.expects_piece());
                let position = position.ok_or(InputError::UnexpectedCompletion(id))?;
                let now = self.clock.observe(now);
                match self.phase {
                    Phase::Single(_) => self.on_single_body(now, position, received, error),
                    _ => self.on_body(now, position, received, error),
                }
            }
            &Input::Release(slot) => {
                self.release(slot)?;
                self.clock.observe(now);
            }
            Input::Cancel => {
                self.clock.observe(now);
                self.finish(Err(DownloadError::Cancelled));
            }
        }
        let now = self.clock.latest();
        self.schedule(now);
        Ok(())
    }

    /// Inlined: a driver's `match` then reads the output where the queue holds it, instead of
    /// a copy of the whole `Output` made through the return slot for every fetch and delivery.
    #[inline]
    fn poll_output(&mut self, now: Instant) -> Option<Output> {
        self.clock.observe(now);
        self.outputs.pop_front()
    }

    fn poll_timeout(&self) -> Option<Instant> {
        match self.phase {
            Phase::HeadBackoff { until, .. } | Phase::ProbeBackoff { until, .. } => return Some(until),
            Phase::Single(_) => return self.single_retry_due(),
            Phase::Running => {}
            Phase::Head { .. } | Phase::Probe { .. } | Phase::Done => return None,
        }
        // Only wake for what a free worker could start; a busy ring is woken by its inputs.
        if self.flights.len() >= self.workers {
            return None;
        }
        let retry = self.next_retry();
        let hedge = self.hedge_due().filter(|_| !self.free.is_empty()).map(|(due, _)| due);
        match (retry, hedge) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    fn handle_timeout(&mut self, now: Instant) {
        let now = self.clock.observe(now);
        match self.phase {
            Phase::HeadBackoff { until, attempts } if now >= until => self.send_head(attempts + 1),
            Phase::ProbeBackoff { until, attempts } if now >= until => self.send_probe(now, attempts + 1),
            Phase::Running => self.schedule(now),
            Phase::Single(_) => self.single_retry(now),
            _ => {}
        }
    }
}
