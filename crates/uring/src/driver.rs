//! The event loop: runs one HTTP machine at a time over io_uring, single-threaded.

use std::collections::VecDeque;
use std::io;
use std::net::SocketAddr;
use std::time::Duration;

use bytes::Bytes;
use io_uring::{opcode, types};
use socket2::{Domain, Protocol, SockAddr, Socket, Type};
use stowage_proto::{
    Completion, CompletionBody, DEFAULT_MAX_BODY, DriveError, Driven, InputError, Instant, Machine, Output, RequestId,
    Responses, Timeouts, Transmit, TransportError,
};

use crate::endpoint::Endpoint;
use crate::http1::{self, Progress, ResponseReader};
use crate::ring::Ring;
use crate::{RunError, UringError};

/// Submission entries of the ring.
const RING_ENTRIES: u32 = 256;
/// Bytes one `recv` may fill.
const RECV_BUFFER: usize = 64 << 10;
/// User data bit of timer operations (the rest is the timer's generation).
const TIMER: u64 = 1 << 63;
/// User data of cancellations and timer removals, whose completions say nothing we need.
const CANCEL: u64 = 1 << 62;

/// The io_uring driver: HTTP/1.1 over TCP with keep-alive, timers as io_uring timeouts, no
/// async runtime.
///
/// [`UringDriver::drive`] runs any machine that speaks [`Transmit`]s and [`Completion`]s —
/// the same machines, unchanged, that `stowage_tokio::drive` runs — on the calling thread.
///
/// Memory safety: every buffer, address and timespec an in-flight operation points to is
/// owned by the driver (an [`Exchange`] in its table, or a pending timer) and is freed only
/// after that operation's completion has been reaped. When a run ends with operations in
/// flight, they are cancelled and reaped before `drive` returns; should the ring fail while
/// doing so, their memory is leaked rather than freed under the kernel.
pub struct UringDriver {
    ring: Ring,
    endpoint: Endpoint,
    timeouts: Timeouts,
    max_body: usize,
    /// In-flight requests, by slot; a slot's index is its operations' user data.
    exchanges: Vec<Option<Exchange>>,
    /// Connections a finished response left reusable.
    idle: Vec<(SocketAddr, Socket)>,
    /// Finished requests not yet fed to the machine.
    finished: VecDeque<(RequestId, Result<http::Response<Bytes>, TransportError>)>,
    timer: Timer,
    reaped: Vec<(u64, i32)>,
}

/// One request on its connection, and everything the kernel may be reading or writing for it.
struct Exchange {
    id: RequestId,
    route_addr: SocketAddr,
    /// The connection. Boxed address: a connect operation points to it.
    socket: Socket,
    addr: Box<SockAddr>,
    /// The request's bytes and how many are sent; a send operation points into them.
    wire: Vec<u8>,
    sent: usize,
    /// A recv operation points to this buffer.
    inbuf: Box<[u8]>,
    reader: ResponseReader,
    method: http::Method,
    phase: Phase,
    /// When the current phase times out.
    deadline: Instant,
    /// Whether an operation of this exchange is in flight (at most one is).
    in_flight: bool,
    /// Came from the idle pool (a stale one may be retried once on a fresh connection).
    reused: bool,
    /// Set when the driver gave up on the exchange (its deadline passed) and cancelled its
    /// operation: the error to report once that operation's completion is reaped.
    abandoned: Option<TransportError>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Phase {
    Connecting,
    Sending,
    Receiving,
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
            idle: Vec::new(),
            finished: VecDeque::new(),
            timer: Timer::default(),
            reaped: Vec::new(),
        })
    }

    /// Caps response bodies at `max_body` bytes (more is a [`TransportError::Protocol`]).
    pub fn with_max_body(mut self, max_body: usize) -> Self {
        self.max_body = max_body;
        self
    }

    /// Runs `machine` to completion, on this thread.
    ///
    /// The loop of [`Machine`]: drain `poll_output`, starting every [`Transmit`] at once; then
    /// wait in the ring for whichever comes first — an operation completing, or the timeout
    /// armed for the machine's `poll_timeout` (or a request's connect/read deadline); feed
    /// finished requests back, wake the machine when its time has come; repeat until
    /// [`Output::Done`]. Requests still in flight then are cancelled.
    ///
    /// Time: a machine [`Instant`] is the monotonic time elapsed since this call began.
    pub fn drive<M, B, T>(&mut self, mut machine: M) -> Result<Driven<T>, RunError>
    where
        M: Machine<Input = Completion<B>, Output = Output<T>, Error = InputError>,
        B: CompletionBody,
    {
        let start = std::time::Instant::now();
        let now = || Instant::from_elapsed(start.elapsed());
        let result = self.run(&mut machine, &now);
        self.quiesce();
        result
    }

    fn run<M, B, T>(&mut self, machine: &mut M, now: &impl Fn() -> Instant) -> Result<Driven<T>, RunError>
    where
        M: Machine<Input = Completion<B>, Output = Output<T>, Error = InputError>,
        B: CompletionBody,
    {
        let mut responses = Responses::default();
        loop {
            while let Some(output) = machine.poll_output(now()) {
                match output {
                    Output::Transmit(transmit) => self.start(transmit, now())?,
                    Output::Done(outcome) => return Ok(Driven { outcome, responses }),
                }
            }
            if let Some((id, result)) = self.finished.pop_front() {
                let fed = result.map(|response| {
                    let fed = B::from_response(&response);
                    responses.keep(id, response);
                    fed
                });
                machine.handle_input(now(), Completion { id, result: fed }).map_err(DriveError::from)?;
                continue;
            }
            let wake = machine.poll_timeout();
            if wake.is_none() && self.in_flight() == 0 {
                return Err(DriveError::Stalled.into());
            }
            let deadline =
                self.exchanges.iter().flatten().filter(|e| e.abandoned.is_none()).map(|e| e.deadline).chain(wake).min();
            self.arm(deadline, now())?;
            self.ring.submit_and_wait()?;
            self.reap(now())?;
            let now = now();
            self.expire(now)?;
            if wake.is_some_and(|wake| wake <= now) {
                machine.handle_timeout(now);
            }
        }
    }

    fn in_flight(&self) -> usize {
        self.exchanges.iter().flatten().count()
    }

    /// Starts `transmit`: on an idle connection to its server if there is one, else on a new one.
    fn start(&mut self, transmit: Transmit, now: Instant) -> io::Result<()> {
        let Transmit { id, request } = transmit;
        let route = match self.endpoint.route(request.uri()) {
            Ok(route) => route,
            Err(error) => {
                self.finished.push_back((id, Err(error)));
                return Ok(());
            }
        };
        let wire = http1::encode_request(&request, &route.host, &route.target);
        let pooled = self.idle.iter().position(|(addr, _)| *addr == route.addr).map(|i| self.idle.swap_remove(i).1);
        let reused = pooled.is_some();
        let socket = match pooled.map_or_else(|| new_socket(route.addr), Ok) {
            Ok(socket) => socket,
            Err(_) => {
                self.finished.push_back((id, Err(TransportError::Other)));
                return Ok(());
            }
        };
        let exchange = Exchange {
            id,
            route_addr: route.addr,
            socket,
            addr: Box::new(SockAddr::from(route.addr)),
            wire,
            sent: 0,
            inbuf: vec![0; RECV_BUFFER].into_boxed_slice(),
            reader: ResponseReader::new(request.method(), self.max_body),
            method: request.method().clone(),
            phase: if reused { Phase::Sending } else { Phase::Connecting },
            deadline: now,
            in_flight: false,
            reused,
            abandoned: None,
        };
        let slot = match self.exchanges.iter().position(Option::is_none) {
            Some(slot) => slot,
            None => {
                self.exchanges.push(None);
                self.exchanges.len() - 1
            }
        };
        self.exchanges[slot] = Some(exchange);
        self.submit_next(slot, now)
    }

    /// Submits the operation the exchange in `slot` waits on next, and sets its deadline.
    fn submit_next(&mut self, slot: usize, now: Instant) -> io::Result<()> {
        let Some(exchange) = self.exchanges[slot].as_mut() else { return Ok(()) };
        let fd = types::Fd(std::os::fd::AsRawFd::as_raw_fd(&exchange.socket));
        let entry = match exchange.phase {
            Phase::Connecting => {
                exchange.deadline = now.saturating_add(self.timeouts.connect);
                opcode::Connect::new(fd, exchange.addr.as_ptr().cast(), exchange.addr.len()).build()
            }
            Phase::Sending => {
                exchange.deadline = now.saturating_add(self.timeouts.read);
                let rest = &exchange.wire[exchange.sent..];
                let len = u32::try_from(rest.len()).unwrap_or(u32::MAX);
                opcode::Send::new(fd, rest.as_ptr(), len).flags(libc::MSG_NOSIGNAL).build()
            }
            Phase::Receiving => {
                exchange.deadline = now.saturating_add(self.timeouts.read);
                let len = u32::try_from(exchange.inbuf.len()).unwrap_or(u32::MAX);
                opcode::Recv::new(fd, exchange.inbuf.as_mut_ptr(), len).build()
            }
        };
        exchange.in_flight = true;
        // SAFETY: the entry points into `exchange` (its boxed address, its request bytes, its
        // boxed receive buffer), which stays in `self.exchanges` and is not touched until the
        // completion with this slot's user data is reaped (`in_flight` is set until then, and
        // no slot with `in_flight` is freed: see `reap`, `quiesce`).
        unsafe { self.ring.push(&entry.user_data(slot as u64)) }
    }

    /// Takes every completion that arrived and advances its exchange or timer.
    fn reap(&mut self, now: Instant) -> io::Result<()> {
        let mut reaped = std::mem::take(&mut self.reaped);
        self.ring.reap(&mut reaped);
        for &(user_data, result) in &reaped {
            if user_data & TIMER != 0 {
                self.timer.reaped(user_data & !TIMER);
            } else if user_data & CANCEL == 0 {
                let slot = usize::try_from(user_data).unwrap_or(usize::MAX);
                self.advance(slot, result, now)?;
            }
        }
        reaped.clear();
        self.reaped = reaped;
        Ok(())
    }

    /// The operation of the exchange in `slot` completed with `result` (bytes or `-errno`).
    fn advance(&mut self, slot: usize, result: i32, now: Instant) -> io::Result<()> {
        let Some(exchange) = self.exchanges.get_mut(slot).and_then(Option::as_mut) else { return Ok(()) };
        exchange.in_flight = false;
        if let Some(error) = exchange.abandoned {
            return self.finish(slot, Err(error));
        }
        let step = match (exchange.phase, result) {
            (Phase::Connecting, r) if r < 0 => Step::Fail(connect_error(-r)),
            (Phase::Connecting, _) => {
                exchange.phase = Phase::Sending;
                Step::Next
            }
            (_, r) if r < 0 => Step::Fail(stream_error(-r)),
            (Phase::Sending, sent) => {
                exchange.sent += usize::try_from(sent).unwrap_or(0);
                if exchange.sent >= exchange.wire.len() {
                    exchange.phase = Phase::Receiving;
                }
                Step::Next
            }
            (Phase::Receiving, 0) => match exchange.reader.eof() {
                Ok(response) => Step::Done(response, false),
                Err(error) => Step::Fail(error),
            },
            (Phase::Receiving, n) => {
                let n = usize::try_from(n).unwrap_or(0).min(exchange.inbuf.len());
                match exchange.reader.feed(&exchange.inbuf[..n]) {
                    Ok(Progress::More) => Step::Next,
                    Ok(Progress::Done { response, reusable }) => Step::Done(response, reusable),
                    Err(error) => Step::Fail(error),
                }
            }
        };
        let stale =
            matches!(step, Step::Fail(error) if is_stale(error)) && exchange.reused && !exchange.reader.started();
        if stale {
            // The idle connection had been closed by the server before we used it: once more,
            // on a fresh connection.
            let Ok(socket) = new_socket(exchange.route_addr) else {
                return self.finish(slot, Err(TransportError::Other));
            };
            exchange.socket = socket;
            exchange.reused = false;
            exchange.sent = 0;
            exchange.reader = ResponseReader::new(&exchange.method, self.max_body);
            exchange.phase = Phase::Connecting;
            return self.submit_next(slot, now);
        }
        match step {
            Step::Next => self.submit_next(slot, now),
            Step::Done(response, reusable) => {
                if reusable && let Some(exchange) = self.exchanges[slot].take() {
                    self.idle.push((exchange.route_addr, exchange.socket));
                    self.finished.push_back((exchange.id, Ok(response)));
                    return Ok(());
                }
                self.finish(slot, Ok(response))
            }
            Step::Fail(error) => self.finish(slot, Err(error)),
        }
    }

    /// Frees the slot of an exchange with nothing in flight and reports its result.
    fn finish(&mut self, slot: usize, result: Result<http::Response<Bytes>, TransportError>) -> io::Result<()> {
        if let Some(exchange) = self.exchanges[slot].take_if(|e| !e.in_flight) {
            self.finished.push_back((exchange.id, result));
        }
        Ok(())
    }

    /// Gives up on exchanges past their deadline: cancels their operation; they finish with
    /// a timeout once its completion is reaped.
    fn expire(&mut self, now: Instant) -> io::Result<()> {
        for (slot, exchange) in self.exchanges.iter_mut().enumerate() {
            let Some(exchange) = exchange.as_mut().filter(|e| e.abandoned.is_none() && e.deadline <= now) else {
                continue;
            };
            exchange.abandoned = Some(match exchange.phase {
                Phase::Connecting => TransportError::ConnectTimeout,
                Phase::Sending | Phase::Receiving => TransportError::ReadTimeout,
            });
            let cancel = opcode::AsyncCancel::new(slot as u64).build().user_data(CANCEL);
            // SAFETY: a cancellation points to no memory.
            unsafe { self.ring.push(&cancel)? };
        }
        Ok(())
    }

    /// Arms the ring's timeout for `deadline` (disarming the previous one), unless it already is.
    fn arm(&mut self, deadline: Option<Instant>, now: Instant) -> io::Result<()> {
        if self.timer.armed.map(|(at, _)| at) == deadline {
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

    /// Cancels every operation still in flight and reaps them all, so no memory the kernel may
    /// still use is freed. If the ring fails meanwhile, that memory is leaked instead.
    fn quiesce(&mut self) {
        if self.cancel_all().is_err() {
            self.leak();
            return;
        }
        while self.exchanges.iter().flatten().any(|e| e.in_flight) || !self.timer.specs.is_empty() {
            let mut reaped = Vec::new();
            if self.ring.submit_and_wait().is_err() {
                self.leak();
                return;
            }
            self.ring.reap(&mut reaped);
            for (user_data, _) in reaped {
                if user_data & TIMER != 0 {
                    self.timer.reaped(user_data & !TIMER);
                } else if user_data & CANCEL == 0
                    && let Some(Some(exchange)) =
                        usize::try_from(user_data).ok().and_then(|s| self.exchanges.get_mut(s))
                {
                    exchange.in_flight = false;
                }
            }
        }
        self.exchanges.clear();
        self.finished.clear();
    }

    fn cancel_all(&mut self) -> io::Result<()> {
        for (slot, exchange) in self.exchanges.iter().enumerate() {
            if exchange.as_ref().is_some_and(|e| e.in_flight) {
                let cancel = opcode::AsyncCancel::new(slot as u64).build().user_data(CANCEL);
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
    }
}

impl Drop for UringDriver {
    fn drop(&mut self) {
        // Normally a no-op (`drive` quiesces before returning); after a panic in a machine, it
        // makes sure the kernel is done with the exchanges before they are freed.
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

/// What an exchange does after an operation completed.
enum Step {
    Next,
    Done(http::Response<Bytes>, bool),
    Fail(TransportError),
}

fn new_socket(addr: SocketAddr) -> io::Result<Socket> {
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
