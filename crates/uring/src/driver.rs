//! The event loop's core: requests on keep-alive connections, file writes, one timer and
//! cancellation, all as io_uring operations on one thread.
//!
//! The front ends ([`UringDriver::drive`] for any HTTP machine, the ranged downloads of
//! [`crate::download`]) start requests here and act on the [`Event`]s they produce.

use std::collections::VecDeque;
use std::fs::File;
use std::io;
use std::marker::PhantomData;
use std::os::fd::AsRawFd;
use std::sync::Arc;
use std::sync::atomic::AtomicU64;
use std::time::Duration;
use stowage_tls::{Session, TlsConfig};

use bytes::{Bytes, BytesMut};
use io_uring::{opcode, types};
use socket2::{Domain, Protocol, SockAddr, Socket, Type};
use stowage_http1::{self as http1, Progress, ResponseReader};
use stowage_proto::redirect::RedirectPolicy;
use stowage_proto::{DEFAULT_MAX_BODY, Instant, RequestId, Timeouts, TransportError};

use crate::buffers::Buffers;
use crate::endpoint::{Endpoint, Peer, Route};
use crate::ring::Ring;
use stowage_ringslot::Slot;

use crate::UringError;

/// Submission entries of the ring.
const RING_ENTRIES: u32 = 256;
/// Bytes one `recv` of a whole response may fill.
const RECV_BUFFER: usize = 64 << 10;
/// Bytes one `recv` of a ranged response's head may fill: small, because body bytes that
/// arrive with the head are copied into the slot (the rest of the body is received in place).
const HEAD_BUFFER: usize = 4 << 10;
/// User data bit of timer operations (the rest is the timer's generation).
const TIMER: u64 = 1 << 63;
/// User data of cancellations and timer removals, whose completions say nothing we need.
const CANCEL: u64 = 1 << 62;
/// User data bit of file writes (the rest is the write's index).
const WRITE: u64 = 1 << 61;
/// The most plaintext a TLS exchange is handed at once (what fits a recv's `i32` result).
const MAX_DELIVERY: usize = 1 << 30;

/// The io_uring driver: HTTP/1.1 over TCP with keep-alive, timers as io_uring timeouts, no
/// async runtime.
///
/// [`UringDriver::drive`] runs any machine that speaks [`Transmit`](stowage_proto::Transmit)s
/// and [`Completion`](stowage_proto::Completion)s — the same machines, unchanged, that
/// `stowage_tokio::drive` runs — on the calling thread; [`UringDriver::get`],
/// [`UringDriver::download`] and [`UringDriver::sink`] run the
/// [`RingSlot`](stowage_ringslot::RingSlot) machine with bodies received straight into
/// registered slot buffers.
///
/// The driver belongs to the thread that made it (its ring is bound to that thread: not
/// `Send`); make it where it runs, e.g. inside `tokio::task::spawn_blocking`.
///
/// Memory safety: every buffer, address and timespec an in-flight operation points to is
/// owned by the driver (an `Exchange` or a `FileWrite` in its tables, a pending timer, or
/// the slot `Buffers`) and is freed or reused only after that operation's completion has been
/// reaped. When a run ends with operations in flight, they are cancelled and reaped before it
/// returns (and again in `Drop`); should the ring fail while doing so, their memory is leaked
/// rather than freed under the kernel.
pub struct UringDriver {
    ring: Ring,
    endpoint: Endpoint,
    pub(crate) timeouts: Timeouts,
    max_body: usize,
    /// In-flight requests, by table index; the index is their operations' user data.
    exchanges: Vec<Option<Exchange>>,
    /// File writes in flight, by table index (user data `WRITE | index`).
    writes: Vec<Option<FileWrite>>,
    /// Connections a finished response left reusable (with their TLS session, over TLS).
    idle: Vec<Idle>,
    /// What happened, for the front end to act on, in order.
    events: VecDeque<Event>,
    timer: Timer,
    reaped: Vec<(u64, i32)>,
    /// The slots of ranged downloads.
    pub(crate) buffers: Buffers,
    /// Where ranged downloads count the bytes they deliver.
    pub(crate) progress: Option<Arc<AtomicU64>>,
    /// Which redirects whole requests follow (see [`crate::follow`]).
    pub(crate) redirects: Arc<RedirectPolicy>,
    /// What `https://` connections trust.
    tls: TlsConfig,
    /// Not `Send`: the ring accepts submissions only from the thread that made it.
    _thread: PhantomData<*const ()>,
}

/// What the core reports to the front end.
#[derive(Debug)]
pub(crate) enum Event {
    /// A whole response (or why there is none), of [`UringDriver::start`].
    Response(RequestId, Result<http::Response<Bytes>, TransportError>),
    /// The head of a ranged response (or why there is none), of [`UringDriver::start_range`].
    /// After a head the exchange waits for [`UringDriver::receive_body`] or
    /// [`UringDriver::cancel`].
    Head(RequestId, Result<http::Response<()>, TransportError>),
    /// The body of a ranged response ended: `received` bytes are in its slot (`capacity + 1`
    /// means it ran long), and `error` says why it ended early, if it did.
    Body { id: RequestId, received: u64, error: Option<TransportError> },
    /// A [`UringDriver::write`] finished.
    Written { id: RequestId, result: io::Result<()> },
}

/// A connection kept alive for the next request to the same peer.
struct Idle {
    peer: Peer,
    socket: Socket,
    tls: Option<Box<Session>>,
}

/// One request on its connection, and everything the kernel may be reading or writing for it.
struct Exchange {
    id: RequestId,
    peer: Peer,
    /// The connection. Boxed address: a connect operation points to it.
    socket: Socket,
    addr: Box<SockAddr>,
    /// The request's bytes and how many are sent; a send operation points into them.
    wire: Vec<u8>,
    sent: usize,
    /// A recv operation points to this buffer.
    inbuf: Box<[u8]>,
    target: Target,
    phase: Phase,
    /// When the current operation times out.
    deadline: Instant,
    /// Whether an operation of this exchange is in flight (at most one is).
    in_flight: bool,
    /// Came from the idle pool (a stale one may be retried once on a fresh connection).
    reused: bool,
    /// Set when the driver gave up on the exchange and cancelled its operation: what to
    /// report once that operation's completion is reaped.
    abandoned: Option<Abandon>,
    /// Over TLS: the session, whose buffers the exchange's send or recv points into (after
    /// the TCP connect), and which of the two is in flight.
    tls: Option<Box<Session>>,
    tls_op: TlsOp,
}

/// The operation of a TLS exchange in flight: a send of ciphertext, or a recv of some.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum TlsOp {
    None,
    Send,
    Recv,
}

/// Where a response goes.
enum Target {
    /// All of it into memory, by the reader.
    Memory { reader: ResponseReader, method: http::Method },
    /// The head parsed here, the body straight into a slot of the [`Buffers`].
    Slot(SlotBody),
}

/// The state of a ranged response whose body goes into a slot.
#[derive(Default)]
struct SlotBody {
    /// The head's bytes so far (and the body bytes that came with it).
    head: BytesMut,
    /// The length of the head in `head` (the bytes after it are the body's first).
    head_len: usize,
    /// The body's announced length (`None`: framed by the close, or chunked).
    length: Option<u64>,
    chunked: bool,
    until_close: bool,
    keep_alive: bool,
    /// Where the body goes, once [`UringDriver::receive_body`] names it.
    slot: Option<Slot>,
    /// Bytes the range holds: never more are written into the slot.
    capacity: u64,
    /// Whether the body ends with this piece of it (else it goes on into another slot).
    ends_body: bool,
    /// Body bytes in the slot.
    received: u64,
    /// Body bytes to receive in place: the rest of the announced length, or the capacity.
    want: u64,
    /// Body bytes that went into earlier pieces (a body received into several slots).
    consumed: u64,
    /// Body bytes that came with the head and went into earlier pieces.
    early_taken: usize,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Phase {
    Connecting,
    /// Connected, the TLS handshake under way (within the connect timeout).
    Handshaking,
    Sending,
    /// The response (a whole one), or the head (of a ranged one).
    Receiving,
    /// A ranged response's head is reported; its body is not being read yet.
    Waiting,
    /// A ranged body arriving in its slot.
    Body,
    /// A body framed by the close is complete in its slot: the close (or a byte too many).
    Tail,
}

#[derive(Clone, Copy, Debug)]
enum Abandon {
    /// Past its deadline: fails with this error.
    Timeout(TransportError),
    /// The front end no longer wants it: ends without an event.
    Cancelled,
}

/// A file write of a slot's bytes, in flight.
struct FileWrite {
    id: RequestId,
    fd: types::Fd,
    slot: Slot,
    len: usize,
    offset: u64,
    written: usize,
}

/// The one armed io_uring timeout, and timespecs still referenced by submitted timeouts.
#[derive(Default)]
struct Timer {
    /// The deadline armed, and its generation (its user data is `TIMER | generation`).
    armed: Option<(Instant, u64)>,
    generation: u64,
    /// Timespecs of timeouts not reaped yet, by generation.
    specs: Vec<(u64, Box<types::Timespec>)>,
}

impl UringDriver {
    /// A driver sending origin-form requests to `endpoint` (`http://host[:port][/path]`),
    /// with `timeouts` and a body cap of [`DEFAULT_MAX_BODY`].
    ///
    /// Fails with [`UringError::Unavailable`] where the kernel or sandbox gives no io_uring.
    pub fn new(endpoint: &str, timeouts: Timeouts) -> Result<Self, UringError> {
        let endpoint = Endpoint::parse(endpoint)?;
        Ok(UringDriver {
            ring: Ring::new(RING_ENTRIES)?,
            endpoint,
            timeouts,
            max_body: DEFAULT_MAX_BODY,
            exchanges: Vec::new(),
            writes: Vec::new(),
            idle: Vec::new(),
            events: VecDeque::new(),
            timer: Timer::default(),
            reaped: Vec::new(),
            buffers: Buffers::default(),
            progress: None,
            redirects: Arc::default(),
            tls: TlsConfig::default(),
            _thread: PhantomData,
        })
    }

    /// Speaks TLS with `tls` (its roots, or any certificate) to every `https://` URI.
    #[must_use]
    pub fn with_tls(mut self, tls: &TlsConfig) -> Self {
        self.tls = tls.clone();
        self
    }

    /// Caps response bodies at `max_body` bytes (more is a [`TransportError::Protocol`]).
    pub fn with_max_body(mut self, max_body: usize) -> Self {
        self.max_body = max_body;
        self
    }

    /// Where `uri` goes (the endpoint, or the authority of an absolute URI).
    pub(crate) fn route(&self, uri: &http::Uri) -> Result<Route, TransportError> {
        self.endpoint.route(uri)
    }

    /// The request-target `uri` is sent with (its server known already).
    pub(crate) fn route_target(&self, uri: &http::Uri) -> String {
        self.endpoint.target(uri)
    }

    /// Reports that ranged request `id` could not even be started (nowhere to send it).
    pub(crate) fn refuse(&mut self, id: RequestId, error: TransportError) -> io::Result<()> {
        self.events.push_back(Event::Head(id, Err(error)));
        Ok(())
    }

    /// The absolute URI a request for `uri` goes to (the endpoint joined to an origin-form one).
    pub(crate) fn locate(&self, uri: &http::Uri) -> Option<http::Uri> {
        self.endpoint.absolute(uri)
    }

    /// The next event, if any.
    pub(crate) fn next_event(&mut self) -> Option<Event> {
        self.events.pop_front()
    }

    /// Operations in flight or exchanges open (a run with none and nothing to wait for is stuck).
    pub(crate) fn busy(&self) -> bool {
        self.exchanges.iter().flatten().next().is_some() || self.writes.iter().flatten().next().is_some()
    }

    /// Starts `request` as `id`; its whole response comes back as [`Event::Response`].
    pub(crate) fn start(&mut self, id: RequestId, request: &http::Request<Bytes>, now: Instant) -> io::Result<()> {
        let route = match self.route(request.uri()) {
            Ok(route) => route,
            Err(error) => {
                self.events.push_back(Event::Response(id, Err(error)));
                return Ok(());
            }
        };
        let wire = http1::encode_request(request, &route.host, &route.target);
        let reader = ResponseReader::new(request.method(), self.max_body);
        let target = Target::Memory { reader, method: request.method().clone() };
        self.open(id, route.peer, wire, target, RECV_BUFFER, now)
    }

    /// Starts a ranged request as `id`, with the given bytes, to `peer`; its head comes back as
    /// [`Event::Head`], and its body is read only when [`UringDriver::receive_body`] says where.
    pub(crate) fn start_range(&mut self, id: RequestId, peer: Peer, wire: Vec<u8>, now: Instant) -> io::Result<()> {
        self.open(id, peer, wire, Target::Slot(SlotBody::default()), HEAD_BUFFER, now)
    }

    /// Starts an exchange: on an idle connection to `peer` if there is one, else on a new one
    /// (with a new TLS session, for a TLS peer).
    fn open(
        &mut self,
        id: RequestId,
        peer: Peer,
        wire: Vec<u8>,
        target: Target,
        inbuf: usize,
        now: Instant,
    ) -> io::Result<()> {
        let pooled = self.idle.iter().position(|idle| idle.peer == peer).map(|i| self.idle.swap_remove(i));
        let reused = pooled.is_some();
        let fresh = || -> Result<(Socket, Option<Box<Session>>), TransportError> {
            let socket = new_socket(peer.addr).map_err(|_| TransportError::Other)?;
            Ok((socket, self.session(&peer)?))
        };
        let (socket, tls) = match pooled.map_or_else(fresh, |idle| Ok((idle.socket, idle.tls))) {
            Ok(connection) => connection,
            Err(error) => {
                self.events.push_back(failure(id, &target, error));
                return Ok(());
            }
        };
        let addr = peer.addr;
        let exchange = Exchange {
            id,
            peer,
            socket,
            addr: Box::new(SockAddr::from(addr)),
            wire,
            sent: 0,
            inbuf: vec![0; inbuf].into_boxed_slice(),
            target,
            phase: if reused { Phase::Sending } else { Phase::Connecting },
            deadline: now,
            in_flight: false,
            reused,
            abandoned: None,
            tls,
            tls_op: TlsOp::None,
        };
        let index = insert(&mut self.exchanges, exchange);
        self.submit_next(index, now)
    }

    /// A new TLS session for `peer`, if it is a TLS one.
    fn session(&self, peer: &Peer) -> Result<Option<Box<Session>>, TransportError> {
        peer.tls.as_deref().map(|name| Session::new(&self.tls, name).map(Box::new)).transpose()
    }

    /// The exchange of request `id`, by table index.
    fn find(&self, id: RequestId) -> Option<usize> {
        self.exchanges.iter().position(|e| e.as_ref().is_some_and(|e| e.id == id))
    }

    /// Reads the next `capacity` bytes of the body of the ranged response `id` (after its
    /// [`Event::Head`], or the [`Event::Body`] of its previous piece) into `slot`;
    /// [`Event::Body`] follows. Where the body should end with them (`ends_body`), one more
    /// only says it is too long; else the exchange waits for the next piece. No operation may
    /// be writing into `slot` ([`UringDriver::slot_busy`]).
    pub(crate) fn receive_body(
        &mut self,
        id: RequestId,
        slot: Slot,
        capacity: u64,
        ends_body: bool,
        now: Instant,
    ) -> io::Result<()> {
        let Some(index) = self.find(id) else { return Ok(()) };
        let Some(exchange) = self.exchanges[index].as_mut() else { return Ok(()) };
        let Target::Slot(body) = &mut exchange.target else { return Ok(()) };
        if exchange.phase != Phase::Waiting || body.slot.is_some() {
            return Ok(());
        }
        if body.chunked {
            // No server we target sends a chunked range, and its framing cannot be received in
            // place.
            return self.fail(index, TransportError::Protocol);
        }
        body.slot = Some(slot);
        (body.capacity, body.ends_body) = (capacity, ends_body);
        let left = body.length.map(|length| length.saturating_sub(body.consumed));
        body.want = left.unwrap_or(capacity).min(capacity);
        // The body bytes that came with the head go to the front of the slot (one more than
        // fits only says the body is too long, where it should end here).
        let early = body.head.get(body.head_len + body.early_taken..).unwrap_or_default();
        let fits = early.len().min(usize::try_from(capacity).unwrap_or(usize::MAX));
        let filled = self.buffers.fill(slot, &early[..fits]);
        body.received = fits as u64 + u64::from(ends_body && early.len() > fits);
        body.early_taken += fits;
        let complete = body.received >= body.want;
        if !filled {
            return self.fail(index, TransportError::Other);
        }
        if complete {
            // All of it came with the head.
            return self.body_complete(index, now);
        }
        exchange.phase = Phase::Body;
        self.submit_next(index, now)
    }

    /// Abandons request `id`: its operation is cancelled, no event follows, and its slot is
    /// not written to once this returns… after the cancellation is reaped (the slot stays
    /// untouchable until then: [`UringDriver::quiesce`] or the loop's reaping).
    pub(crate) fn cancel(&mut self, id: RequestId) -> io::Result<()> {
        let Some(index) = self.find(id) else { return Ok(()) };
        let Some(exchange) = self.exchanges[index].as_mut() else { return Ok(()) };
        if !exchange.in_flight {
            self.exchanges[index] = None;
            return Ok(());
        }
        if exchange.abandoned.is_none() {
            let cancel = opcode::AsyncCancel::new(index as u64).build().user_data(CANCEL);
            // SAFETY: a cancellation points to no memory.
            unsafe { self.ring.push(&cancel)? };
        }
        exchange.abandoned = Some(Abandon::Cancelled);
        Ok(())
    }

    /// Whether some operation may still use `slot`: a body read into it (of a request cancelled
    /// but not reaped yet), or a file write from it.
    pub(crate) fn slot_busy(&self, slot: Slot) -> bool {
        let reading = |e: &Exchange| {
            e.in_flight && e.phase == Phase::Body && matches!(&e.target, Target::Slot(b) if b.slot == Some(slot))
        };
        self.exchanges.iter().flatten().any(reading) || self.writes.iter().flatten().any(|w| w.slot == slot)
    }

    /// Writes the first `len` bytes of `slot` to `file` at `offset`; [`Event::Written`] follows.
    pub(crate) fn write(&mut self, id: RequestId, file: &File, slot: Slot, len: usize, offset: u64) -> io::Result<()> {
        let write = FileWrite { id, fd: types::Fd(file.as_raw_fd()), slot, len, offset, written: 0 };
        let index = insert(&mut self.writes, write);
        self.submit_write(index)
    }

    fn submit_write(&mut self, index: usize) -> io::Result<()> {
        let Some(write) = self.writes[index].as_ref() else { return Ok(()) };
        let Some(memory) = self.buffers.pointer(write.slot, write.written) else {
            let id = write.id;
            self.writes[index] = None;
            self.events.push_back(Event::Written { id, result: Err(io::ErrorKind::InvalidInput.into()) });
            return Ok(());
        };
        let len = u32::try_from(write.len - write.written).unwrap_or(u32::MAX);
        let offset = write.offset + write.written as u64;
        let entry = match self.buffers.registered_index(write.slot) {
            Some(buf_index) => opcode::WriteFixed::new(write.fd, memory, len, buf_index).offset(offset).build(),
            None => opcode::Write::new(write.fd, memory, len).offset(offset).build(),
        };
        // SAFETY: the entry points into the slot's memory, owned by `self.buffers`, which is
        // neither freed nor reallocated while a write is in flight (`Buffers::ensure` is only
        // called with nothing in flight, and `quiesce` reaps every write before returning).
        unsafe { self.ring.push(&entry.user_data(WRITE | index as u64)) }
    }

    fn write_done(&mut self, index: usize, result: i32) -> io::Result<()> {
        let Some(write) = self.writes.get_mut(index).and_then(Option::as_mut) else { return Ok(()) };
        let outcome = match result {
            r if r < 0 => Some(Err(io::Error::from_raw_os_error(-r))),
            0 => Some(Err(io::ErrorKind::WriteZero.into())),
            n => {
                write.written += usize::try_from(n).unwrap_or(0);
                (write.written >= write.len).then_some(Ok(()))
            }
        };
        match outcome {
            None => self.submit_write(index),
            Some(result) => {
                let id = write.id;
                self.writes[index] = None;
                self.events.push_back(Event::Written { id, result });
                Ok(())
            }
        }
    }

    /// Submits the operation the exchange at `index` waits on next, and sets its deadline.
    fn submit_next(&mut self, index: usize, now: Instant) -> io::Result<()> {
        let Some(exchange) = self.exchanges[index].as_mut() else { return Ok(()) };
        if exchange.tls.is_some() && exchange.phase != Phase::Connecting {
            return self.submit_tls(index, now);
        }
        let fd = types::Fd(exchange.socket.as_raw_fd());
        exchange.deadline = now.saturating_add(deadline_of(exchange.phase, self.timeouts));
        let entry = match (exchange.phase, &exchange.target) {
            (Phase::Connecting, _) => {
                opcode::Connect::new(fd, exchange.addr.as_ptr().cast(), exchange.addr.len()).build()
            }
            (Phase::Sending, _) => {
                let rest = &exchange.wire[exchange.sent..];
                let len = u32::try_from(rest.len()).unwrap_or(u32::MAX);
                opcode::Send::new(fd, rest.as_ptr(), len).flags(libc::MSG_NOSIGNAL).build()
            }
            (Phase::Body, Target::Slot(SlotBody { slot: Some(slot), received, want, .. })) => {
                let (slot, received) = (*slot, *received);
                self.buffers.register(&self.ring, slot);
                let Some(memory) = self.buffers.pointer_mut(slot, received) else {
                    return self.fail(index, TransportError::Other);
                };
                let len = u32::try_from(*want - received).unwrap_or(u32::MAX);
                match self.buffers.registered_index(slot) {
                    Some(buf_index) => opcode::ReadFixed::new(fd, memory, len, buf_index).build(),
                    None => opcode::Recv::new(fd, memory, len).build(),
                }
            }
            (Phase::Handshaking | Phase::Receiving | Phase::Tail, _) | (Phase::Body | Phase::Waiting, _) => {
                let len = u32::try_from(exchange.inbuf.len()).unwrap_or(u32::MAX);
                opcode::Recv::new(fd, exchange.inbuf.as_mut_ptr(), len).build()
            }
        };
        exchange.in_flight = true;
        // SAFETY: the entry points into `exchange` (its boxed address, its request bytes, its
        // boxed receive buffer), which stays in `self.exchanges` and is not touched until the
        // completion with this index's user data is reaped (`in_flight` is set until then, and
        // no exchange with `in_flight` is freed: see `advance`, `cancel`, `quiesce`), or into
        // a slot of `self.buffers`, which is not freed or reallocated while any exchange is in
        // flight (`Buffers::ensure` runs with none, `quiesce` reaps them all).
        unsafe { self.ring.push(&entry.user_data(index as u64)) }
    }

    /// Waits for completions (or `deadline`, or the nearest request deadline), then handles
    /// them; requests past their deadline are cancelled, to fail with a timeout.
    pub(crate) fn wait(&mut self, deadline: Option<Instant>, now: impl Fn() -> Instant) -> io::Result<()> {
        let nearest = self
            .exchanges
            .iter()
            .flatten()
            .filter(|e| e.in_flight && e.abandoned.is_none())
            .map(|e| e.deadline)
            .chain(deadline)
            .min();
        self.arm(nearest, now())?;
        self.ring.submit_and_wait()?;
        self.reap(now())?;
        self.expire(now())
    }

    /// Takes every completion that arrived and advances its exchange, write or timer.
    fn reap(&mut self, now: Instant) -> io::Result<()> {
        let mut reaped = std::mem::take(&mut self.reaped);
        self.ring.reap(&mut reaped);
        for &(user_data, result) in &reaped {
            match Op::of(user_data) {
                Op::Timer(generation) => self.timer.reaped(generation),
                Op::Write(index) => self.write_done(index, result)?,
                Op::Exchange(index) => self.advance(index, result, now)?,
                Op::Cancel => {}
            }
        }
        reaped.clear();
        self.reaped = reaped;
        Ok(())
    }

    /// The operation of the exchange at `index` completed with `result` (bytes or `-errno`).
    fn advance(&mut self, index: usize, result: i32, now: Instant) -> io::Result<()> {
        let Some(exchange) = self.exchanges.get_mut(index).and_then(Option::as_mut) else { return Ok(()) };
        exchange.in_flight = false;
        match exchange.abandoned {
            Some(Abandon::Cancelled) => {
                self.exchanges[index] = None;
                return Ok(());
            }
            Some(Abandon::Timeout(error)) => return self.fail(index, error),
            None => {}
        }
        if exchange.tls.is_some() && exchange.phase != Phase::Connecting {
            return self.advance_tls(index, result, now);
        }
        self.step(index, result, now)
    }

    /// The plaintext operation of the exchange at `index` completed with `result` (bytes or
    /// `-errno`): a ring operation's, or over TLS what the session delivered.
    fn step(&mut self, index: usize, result: i32, now: Instant) -> io::Result<()> {
        let Some(exchange) = self.exchanges.get_mut(index).and_then(Option::as_mut) else { return Ok(()) };
        let step = match (exchange.phase, result) {
            (Phase::Connecting, r) if r < 0 => Step::Fail(connect_error(-r)),
            (Phase::Connecting, _) => {
                exchange.phase = if exchange.tls.is_some() { Phase::Handshaking } else { Phase::Sending };
                Step::Next
            }
            (Phase::Handshaking, r) if r < 0 => Step::Fail(stream_error(-r)),
            (_, r) if r < 0 => Step::Fail(stream_error(-r)),
            (Phase::Sending, sent) => {
                exchange.sent += usize::try_from(sent).unwrap_or(0);
                if exchange.sent >= exchange.wire.len() {
                    exchange.phase = Phase::Receiving;
                }
                Step::Next
            }
            (Phase::Receiving, n) => receive(exchange, usize::try_from(n).unwrap_or(0)),
            (Phase::Body, n) => {
                let Target::Slot(body) = &mut exchange.target else { return Ok(()) };
                if n == 0 {
                    // The server closed before the body was all there.
                    let error = (!body.until_close).then_some(TransportError::Closed);
                    Step::BodyEnd(body.received, error)
                } else {
                    body.received += u64::try_from(n).unwrap_or(0);
                    if body.received < body.want {
                        Step::Next
                    } else {
                        return self.body_complete(index, now);
                    }
                }
            }
            (Phase::Tail, n) => {
                let Target::Slot(body) = &exchange.target else { return Ok(()) };
                // The close ends the body; any byte more makes it one too long.
                Step::BodyEnd(body.received + u64::from(n > 0), None)
            }
            (Phase::Waiting | Phase::Handshaking, _) => Step::Next,
        };
        let stale = matches!(step, Step::Fail(error) if is_stale(error))
            && exchange.reused
            && exchange.phase == Phase::Receiving
            && !started(exchange);
        if stale {
            // The idle connection had been closed by the server before we used it: once more,
            // on a fresh connection.
            let Ok(socket) = new_socket(exchange.peer.addr) else { return self.fail(index, TransportError::Other) };
            exchange.socket = socket;
            if let Some(name) = exchange.peer.tls.as_deref() {
                match Session::new(&self.tls, name) {
                    Ok(session) => exchange.tls = Some(Box::new(session)),
                    Err(error) => return self.fail(index, error),
                }
            }
            exchange.reused = false;
            exchange.sent = 0;
            if let Target::Memory { reader, method } = &mut exchange.target {
                *reader = ResponseReader::new(method, self.max_body);
            }
            exchange.phase = Phase::Connecting;
            return self.submit_next(index, now);
        }
        match step {
            Step::Next => self.submit_next(index, now),
            Step::Whole(response, reusable) => {
                let Some(exchange) = self.exchanges[index].take() else { return Ok(()) };
                if reusable {
                    self.idle.push(Idle { peer: exchange.peer, socket: exchange.socket, tls: exchange.tls });
                }
                self.events.push_back(Event::Response(exchange.id, Ok(response)));
                Ok(())
            }
            Step::Head(response) => {
                // The exchange waits, its body unread, until the front end wants it or not.
                exchange.phase = Phase::Waiting;
                self.events.push_back(Event::Head(exchange.id, Ok(response)));
                Ok(())
            }
            Step::BodyEnd(received, error) => {
                let id = exchange.id;
                self.exchanges[index] = None;
                self.events.push_back(Event::Body { id, received, error });
                Ok(())
            }
            Step::Fail(error) => self.fail(index, error),
        }
    }

    /// Over TLS, after the TCP connect: moves the session on (the handshake, the request
    /// encrypted, what arrived decrypted), then hands what the exchange waits for to
    /// [`UringDriver::step`] if the session has it (plaintext, or the close), else submits the
    /// send or recv of ciphertext the session needs.
    fn submit_tls(&mut self, index: usize, now: Instant) -> io::Result<()> {
        let Some(exchange) = self.exchanges[index].as_mut() else { return Ok(()) };
        let Exchange { tls: Some(tls), wire, sent, phase, .. } = exchange else { return Ok(()) };
        let send = (*phase == Phase::Sending && *sent < wire.len() && tls.handshaken()).then(|| &wire[*sent..]);
        let encrypting = send.is_some();
        if let Err(error) = tls.process(send) {
            return self.fail(index, error);
        }
        if encrypting {
            *sent = wire.len();
        }
        if *phase == Phase::Handshaking && tls.handshaken() {
            // Connected: the request is encrypted next.
            *phase = Phase::Sending;
            return self.submit_tls(index, now);
        }
        if *phase == Phase::Sending && *sent >= wire.len() && tls.outgoing().is_empty() {
            *phase = Phase::Receiving;
        }
        let fd = types::Fd(exchange.socket.as_raw_fd());
        exchange.deadline = now.saturating_add(deadline_of(exchange.phase, self.timeouts));
        // Once a response has begun, a close without close_notify may have cut it short: it is
        // never the end of a body (before that, it is a stale connection's close, for `step`).
        let begun = exchange.phase != Phase::Receiving || started(exchange);
        let Some(tls) = exchange.tls.as_mut() else { return Ok(()) };
        let entry = if !tls.outgoing().is_empty() {
            let out = tls.outgoing();
            let len = u32::try_from(out.len()).unwrap_or(u32::MAX);
            exchange.tls_op = TlsOp::Send;
            opcode::Send::new(fd, out.as_ptr(), len).flags(libc::MSG_NOSIGNAL).build()
        } else {
            match exchange.phase {
                // The server closed mid-handshake (a record cut short, say).
                Phase::Handshaking if tls.closed() => return self.fail(index, TransportError::Closed),
                Phase::Receiving | Phase::Body | Phase::Tail if !tls.has_plain() && tls.cut_short() && begun => {
                    return self.fail(index, TransportError::Closed);
                }
                Phase::Receiving | Phase::Body | Phase::Tail if tls.has_plain() || tls.closed() => {
                    return self.deliver(index, now);
                }
                Phase::Handshaking | Phase::Receiving | Phase::Body | Phase::Tail => {
                    let room = tls.recv_buffer();
                    let len = u32::try_from(room.len()).unwrap_or(u32::MAX);
                    exchange.tls_op = TlsOp::Recv;
                    opcode::Recv::new(fd, room.as_mut_ptr(), len).build()
                }
                // A ranged response's body waits to be asked for.
                Phase::Connecting | Phase::Sending | Phase::Waiting => return Ok(()),
            }
        };
        exchange.in_flight = true;
        // SAFETY: the entry points into the exchange's boxed TLS session (the ciphertext to
        // send, or the room after the ciphertext received), which stays in `self.exchanges`
        // and is neither touched nor moved out until the completion with this index's user
        // data is reaped (`in_flight` is set until then; see `submit_next`).
        unsafe { self.ring.push(&entry.user_data(index as u64)) }
    }

    /// The send or recv of ciphertext of the TLS exchange at `index` completed with `result`.
    fn advance_tls(&mut self, index: usize, result: i32, now: Instant) -> io::Result<()> {
        let Some(exchange) = self.exchanges.get_mut(index).and_then(Option::as_mut) else { return Ok(()) };
        let op = std::mem::replace(&mut exchange.tls_op, TlsOp::None);
        if result < 0 {
            // Failed as a plain connection would (a reset, a stale pooled connection).
            return self.step(index, result, now);
        }
        let Some(tls) = exchange.tls.as_mut() else { return Ok(()) };
        let n = usize::try_from(result).unwrap_or(0);
        match op {
            TlsOp::Send => tls.sent(n),
            TlsOp::Recv => tls.received(n),
            TlsOp::None => {}
        }
        self.submit_tls(index, now)
    }

    /// Hands the TLS exchange at `index` the plaintext it waits for, as a recv into its
    /// buffer (or, for a range's body, into its slot) would have: as much as fits, or the
    /// close (0 bytes) when there is none.
    fn deliver(&mut self, index: usize, now: Instant) -> io::Result<()> {
        let Some(exchange) = self.exchanges[index].as_mut() else { return Ok(()) };
        let Some(tls) = exchange.tls.as_mut() else { return Ok(()) };
        let read = match (exchange.phase, &exchange.target) {
            (Phase::Body, Target::Slot(SlotBody { slot: Some(slot), received, want, .. })) => {
                let left = usize::try_from(want.saturating_sub(*received)).unwrap_or(usize::MAX).min(MAX_DELIVERY);
                // Straight from the record, decrypted where it was received, into the slot: our one copy.
                match self.buffers.region_mut(*slot, *received, left) {
                    Some(place) => tls.read(place),
                    None => return self.fail(index, TransportError::Other),
                }
            }
            (Phase::Body, _) => return self.fail(index, TransportError::Other),
            // The close ends the body; a byte more makes it too long.
            (Phase::Tail, _) => tls.read(&mut [0; 1]),
            _ => tls.read(&mut exchange.inbuf),
        };
        // A record that could not be read (a damaged one) fails the exchange as a reset would.
        let n = match read {
            Ok(n) => n,
            Err(error) => return self.fail(index, error),
        };
        self.step(index, i32::try_from(n).unwrap_or(i32::MAX), now)
    }

    /// The body of the ranged exchange at `index` is all in its slot.
    fn body_complete(&mut self, index: usize, now: Instant) -> io::Result<()> {
        let Some(exchange) = self.exchanges[index].as_mut() else { return Ok(()) };
        let Target::Slot(body) = &mut exchange.target else { return Ok(()) };
        if !body.ends_body {
            // A piece of a body that goes on: it waits, unread, for the next.
            let (id, received) = (exchange.id, body.received);
            (body.consumed, body.slot, body.received) = (body.consumed + received, None, 0);
            exchange.phase = Phase::Waiting;
            self.events.push_back(Event::Body { id, received, error: None });
            return Ok(());
        }
        if body.until_close && body.received <= body.capacity {
            exchange.phase = Phase::Tail;
            return self.submit_next(index, now);
        }
        let (id, received, reusable) = (exchange.id, body.received, body.keep_alive && !body.until_close);
        if let Some(exchange) = self.exchanges[index].take()
            && reusable
        {
            self.idle.push(Idle { peer: exchange.peer, socket: exchange.socket, tls: exchange.tls });
        }
        self.events.push_back(Event::Body { id, received, error: None });
        Ok(())
    }

    /// Ends the exchange at `index` (nothing in flight) with `error`, reported as its target
    /// expects.
    fn fail(&mut self, index: usize, error: TransportError) -> io::Result<()> {
        if let Some(exchange) = self.exchanges[index].take_if(|e| !e.in_flight) {
            let event = match (&exchange.target, exchange.phase) {
                (Target::Slot(body), Phase::Waiting | Phase::Body | Phase::Tail) => {
                    Event::Body { id: exchange.id, received: body.received, error: Some(error) }
                }
                (target, _) => failure(exchange.id, target, error),
            };
            self.events.push_back(event);
        }
        Ok(())
    }

    /// Gives up on exchanges past their deadline: cancels their operation; they fail with a
    /// timeout once its completion is reaped.
    fn expire(&mut self, now: Instant) -> io::Result<()> {
        for (index, exchange) in self.exchanges.iter_mut().enumerate() {
            let Some(exchange) =
                exchange.as_mut().filter(|e| e.in_flight && e.abandoned.is_none() && e.deadline <= now)
            else {
                continue;
            };
            exchange.abandoned = Some(Abandon::Timeout(match exchange.phase {
                Phase::Connecting | Phase::Handshaking => TransportError::ConnectTimeout,
                _ => TransportError::ReadTimeout,
            }));
            let cancel = opcode::AsyncCancel::new(index as u64).build().user_data(CANCEL);
            // SAFETY: a cancellation points to no memory.
            unsafe { self.ring.push(&cancel)? };
        }
        Ok(())
    }

    /// Makes sure the ring wakes by `deadline`: keeps the armed timeout when it fires no later
    /// (an early wake-up only re-arms), else replaces it. Deadlines move with every operation
    /// submitted (`now + read timeout`), so re-arming on each would cost two submissions per
    /// completion.
    fn arm(&mut self, deadline: Option<Instant>, now: Instant) -> io::Result<()> {
        let early_enough = match (self.timer.armed, deadline) {
            (Some((at, _)), Some(deadline)) => at <= deadline,
            // Nothing to wait for: a pending timeout only wakes the loop once more.
            (Some(_), None) | (None, None) => true,
            (None, Some(_)) => false,
        };
        if early_enough {
            return Ok(());
        }
        if let Some((_, generation)) = self.timer.armed.take() {
            let remove = opcode::TimeoutRemove::new(TIMER | generation).build().user_data(CANCEL);
            // SAFETY: a timeout removal points to no memory.
            unsafe { self.ring.push(&remove)? };
        }
        let Some(deadline) = deadline else { return Ok(()) };
        let wait = deadline.saturating_duration_since(now).max(Duration::from_micros(1));
        self.timer.generation += 1;
        let generation = self.timer.generation;
        let spec = Box::new(types::Timespec::from(wait));
        let entry = opcode::Timeout::new(&*spec as *const types::Timespec).build().user_data(TIMER | generation);
        self.timer.specs.push((generation, spec));
        self.timer.armed = Some((deadline, generation));
        // SAFETY: the timespec is boxed in `self.timer.specs` until this timeout's completion
        // is reaped (`Timer::reaped`).
        unsafe { self.ring.push(&entry) }
    }

    /// Makes the slot buffers `count` × `size` bytes at least (registered with the kernel where
    /// it allows), reusing them when they are. Only while no operation uses slot memory.
    pub(crate) fn ensure_buffers(&mut self, count: u32, size: u64) -> io::Result<()> {
        if self.slots_in_use() {
            return Err(io::Error::other("slot buffers cannot change with operations in flight"));
        }
        self.buffers.ensure(&self.ring, count, size)
    }

    /// Whether an operation may be using slot memory: a body read into a slot, or a file write
    /// from one. (Exchanges waiting for their head, or between head and body, point into their
    /// own buffers only.)
    fn slots_in_use(&self) -> bool {
        let reading = |e: &Exchange| e.in_flight && e.phase == Phase::Body;
        self.exchanges.iter().flatten().any(reading) || self.writes.iter().flatten().next().is_some()
    }

    /// Cancels every operation still in flight and reaps them all, so no memory the kernel may
    /// still use is freed or reused. If the ring fails meanwhile, that memory is leaked instead.
    pub(crate) fn quiesce(&mut self) {
        if self.cancel_all().is_err() {
            self.leak();
            return;
        }
        while self.exchanges.iter().flatten().any(|e| e.in_flight)
            || self.writes.iter().flatten().next().is_some()
            || !self.timer.specs.is_empty()
        {
            let mut reaped = Vec::new();
            if self.ring.submit_and_wait().is_err() {
                self.leak();
                return;
            }
            self.ring.reap(&mut reaped);
            for (user_data, _) in reaped {
                match Op::of(user_data) {
                    Op::Timer(generation) => self.timer.reaped(generation),
                    // Writes to files are not cancellable: they finish, and are forgotten here.
                    Op::Write(index) => {
                        if let Some(write) = self.writes.get_mut(index) {
                            *write = None;
                        }
                    }
                    Op::Exchange(index) => {
                        if let Some(Some(exchange)) = self.exchanges.get_mut(index) {
                            exchange.in_flight = false;
                        }
                    }
                    Op::Cancel => {}
                }
            }
        }
        self.exchanges.clear();
        self.events.clear();
    }

    fn cancel_all(&mut self) -> io::Result<()> {
        for (index, exchange) in self.exchanges.iter().enumerate() {
            if exchange.as_ref().is_some_and(|e| e.in_flight) {
                let cancel = opcode::AsyncCancel::new(index as u64).build().user_data(CANCEL);
                // SAFETY: a cancellation points to no memory.
                unsafe { self.ring.push(&cancel)? };
            }
        }
        if let Some((_, generation)) = self.timer.armed.take() {
            let remove = opcode::TimeoutRemove::new(TIMER | generation).build().user_data(CANCEL);
            // SAFETY: a timeout removal points to no memory.
            unsafe { self.ring.push(&remove)? };
        }
        Ok(())
    }

    /// Gives up the memory of operations that may still be in flight, rather than free it.
    fn leak(&mut self) {
        for exchange in std::mem::take(&mut self.exchanges) {
            std::mem::forget(exchange);
        }
        std::mem::forget(std::mem::take(&mut self.timer.specs));
        std::mem::forget(std::mem::take(&mut self.buffers));
    }
}

impl Drop for UringDriver {
    fn drop(&mut self) {
        // Normally a no-op (every run quiesces before returning); after a panic in a machine or
        // a consumer, it makes sure the kernel is done with the exchanges, writes and slots
        // before they are freed.
        self.quiesce();
    }
}

impl Timer {
    /// The timeout of `generation` completed (expired or removed): its timespec may go.
    fn reaped(&mut self, generation: u64) {
        self.specs.retain(|(g, _)| *g != generation);
        if self.armed.is_some_and(|(_, g)| g == generation) {
            self.armed = None;
        }
    }
}

/// Whose operation a completion's user data names.
enum Op {
    /// The timeout of this generation.
    Timer(u64),
    /// The file write at this index.
    Write(usize),
    /// The exchange at this index.
    Exchange(usize),
    /// A cancellation or timer removal (nothing to do).
    Cancel,
}

impl Op {
    fn of(user_data: u64) -> Op {
        // An index that does not fit is no entry of a table: looked up, it finds nothing.
        let index = |bits: u64| usize::try_from(bits).unwrap_or(usize::MAX);
        if user_data & TIMER != 0 {
            Op::Timer(user_data & !TIMER)
        } else if user_data & CANCEL != 0 {
            Op::Cancel
        } else if user_data & WRITE != 0 {
            Op::Write(index(user_data & !WRITE))
        } else {
            Op::Exchange(index(user_data))
        }
    }
}

/// What an exchange does after an operation completed.
enum Step {
    Next,
    /// A whole response, and whether its connection may be reused.
    Whole(http::Response<Bytes>, bool),
    /// A ranged response's head.
    Head(http::Response<()>),
    /// A ranged body ended with this many bytes, and this error.
    BodyEnd(u64, Option<TransportError>),
    Fail(TransportError),
}

/// `n` bytes arrived in the exchange's receive buffer (0: the server closed).
fn receive(exchange: &mut Exchange, n: usize) -> Step {
    let data = &exchange.inbuf[..n.min(exchange.inbuf.len())];
    match &mut exchange.target {
        Target::Memory { reader, .. } => {
            let progress = if n == 0 {
                reader.eof().map(|r| Progress::Done { response: r, reusable: false })
            } else {
                reader.feed(data)
            };
            match progress {
                Ok(Progress::More) => Step::Next,
                Ok(Progress::Done { response, reusable }) => Step::Whole(response, reusable),
                Err(error) => Step::Fail(error.into()),
            }
        }
        Target::Slot(body) => {
            if n == 0 {
                return Step::Fail(TransportError::Closed);
            }
            body.head.extend_from_slice(data);
            let (head, length) = match http1::parse_head(&body.head, &http::Method::GET, u64::MAX) {
                Ok(Some(parsed)) => parsed,
                Ok(None) => return Step::Next,
                Err(error) => return Step::Fail(error.into()),
            };
            body.length = head.content_length();
            body.until_close = head.until_close();
            body.chunked = body.length.is_none() && !body.until_close;
            body.keep_alive = head.keep_alive();
            body.head_len = length;
            Step::Head(head.into_response())
        }
    }
}

/// Whether any byte of the exchange's response has arrived.
fn started(exchange: &Exchange) -> bool {
    match &exchange.target {
        Target::Memory { reader, .. } => reader.started(),
        Target::Slot(body) => !body.head.is_empty(),
    }
}

/// The event that reports `error` for a request that got no response head.
fn failure(id: RequestId, target: &Target, error: TransportError) -> Event {
    match target {
        Target::Memory { .. } => Event::Response(id, Err(error)),
        Target::Slot(_) => Event::Head(id, Err(error)),
    }
}

/// How long the operation of an exchange in `phase` may take: connecting (and the TLS
/// handshake, each of its operations) within the connect timeout, the rest within the read
/// timeout.
fn deadline_of(phase: Phase, timeouts: Timeouts) -> Duration {
    match phase {
        Phase::Connecting | Phase::Handshaking => timeouts.connect,
        _ => timeouts.read,
    }
}

/// Puts `item` in the first vacant place of `table` (its operations' user data), or a new one.
fn insert<T>(table: &mut Vec<Option<T>>, item: T) -> usize {
    match table.iter().position(Option::is_none) {
        Some(index) => {
            table[index] = Some(item);
            index
        }
        None => {
            table.push(Some(item));
            table.len() - 1
        }
    }
}

fn new_socket(addr: std::net::SocketAddr) -> io::Result<Socket> {
    let socket = Socket::new(Domain::for_address(addr), Type::STREAM, Some(Protocol::TCP))?;
    socket.set_tcp_nodelay(true)?;
    Ok(socket)
}

/// The kind of a failed connect, from its errno.
fn connect_error(errno: i32) -> TransportError {
    match errno {
        libc::ETIMEDOUT => TransportError::ConnectTimeout,
        libc::ECONNREFUSED | libc::ENETUNREACH | libc::EHOSTUNREACH | libc::EADDRNOTAVAIL => {
            TransportError::ConnectRefused
        }
        _ => TransportError::Other,
    }
}

/// The kind of a failed send or recv on an established connection, from its errno.
fn stream_error(errno: i32) -> TransportError {
    match errno {
        libc::ECONNRESET | libc::ECONNABORTED => TransportError::Reset,
        libc::EPIPE => TransportError::Closed,
        libc::ETIMEDOUT => TransportError::ReadTimeout,
        _ => TransportError::Other,
    }
}

/// Failures that mean an idle connection had been closed by the server.
fn is_stale(error: TransportError) -> bool {
    matches!(error, TransportError::Closed | TransportError::Reset)
}
