//! The lock-poll machine.

use std::time::Duration;

use bytes::Bytes;
use http::{HeaderValue, Method, StatusCode, header};
use stowage_proto::ais::{ActionMsg, ObjectAddress, STATUS_LOCKED, action_name, presence, qparam};
use stowage_proto::{
    Clock, Completion, InputError, Instant, Jitter, Machine, Output, RequestId, RequestIds, Transmit, TransportError,
};

use crate::{Bounds, LockPollConfig};

/// How a lock wait ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LockWaitOutcome {
    /// The first check-lock said the object is not write-locked: no wait at all.
    NotLocked,
    /// The object was locked and a later poll found it unlocked.
    Unlocked {
        /// Check-lock polls after the size HEAD (the last one said unlocked).
        polls: u32,
        /// Time from the first of those polls to the answer "unlocked".
        waited: Duration,
    },
    /// The poller stopped waiting; the caller's retry goes ahead anyway (it is best effort).
    GaveUp {
        /// Why.
        reason: GiveUpReason,
        /// Check-lock polls after the size HEAD.
        polls: u32,
        /// Time from the first of those polls to giving up (zero if polling never started).
        waited: Duration,
    },
}

/// Why a lock wait gave up.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum GiveUpReason {
    /// A check-lock request failed below HTTP.
    #[error("check-lock failed: {0}")]
    CheckLockFailed(TransportError),
    /// `max_cold_wait` passed and the object was still locked.
    #[error("still locked after max_cold_wait")]
    StillLocked,
}

/// Polls an object's write lock after a cold-GET read timeout, with size-scaled exponential
/// backoff (AIStore's `LockPoller`), as a sans-IO machine.
///
/// The decision sequence:
/// 1. `POST` check-lock (`{"action":"check-lock"}`); any answer but 423 → [`LockWaitOutcome::NotLocked`];
///    a transport error → [`LockWaitOutcome::GaveUp`].
/// 2. `HEAD` with `props=size` for the object's size (`Content-Length` of a 200; anything
///    else, including a transport error or a malformed header, means size 0).
/// 3. [`Bounds::for_size`].
/// 4. Poll check-lock; after poll `k` still says locked, sleep
///    [`Bounds::sleep_after(k)`](Bounds::sleep_after), never past the deadline
///    `first poll + max_cold_wait`.
/// 5. Stop when unlocked, on a transport error, or when a locked answer arrives at or after
///    the deadline.
///
/// Invariants (checked by property tests): at most one request outstanding; every sleep lies
/// in `[shortest, longest]` except the last, which may be cut short by the deadline; the sum of
/// sleeps never exceeds `max_cold_wait`; the first "unlocked" answer ends the wait; after
/// [`Output::Done`] the machine emits nothing. Time going backwards is treated as no time
/// passing.
///
/// # Example
///
/// Drive it by hand: the object is locked, 100 MB, and unlocks on the second poll.
///
/// ```
/// use std::time::Duration;
/// use stowage_lockpoll::{LockPollConfig, LockPoller, LockWaitOutcome};
/// use stowage_proto::ais::ObjectAddress;
/// use stowage_proto::{Completion, Instant, Machine, Output};
///
/// let uri = "/v1/objects/bck/obj?provider=aws&sig=s3cr3t".parse().unwrap();
/// let address = ObjectAddress::from_uri(&uri).unwrap();
/// let mut poller = LockPoller::new(address, LockPollConfig::default(), 0);
/// let mut now = Instant::ZERO;
/// let answer = |status: u16, len: u64| {
///     http::Response::builder().status(status).header("content-length", len).body(()).unwrap()
/// };
/// let statuses = [423, 200, 423, 200]; // check-lock, HEAD, poll 1, poll 2
/// let mut statuses = statuses.into_iter();
/// let outcome = loop {
///     match poller.poll_output(now) {
///         Some(Output::Transmit(t)) => {
///             let response = answer(statuses.next().unwrap(), 100_000_000);
///             poller.handle_input(now, Completion { id: t.id, result: Ok(response) }).unwrap();
///         }
///         Some(Output::Done(outcome)) => break outcome,
///         None => {
///             now = poller.poll_timeout().unwrap();
///             poller.handle_timeout(now);
///         }
///     }
/// };
/// assert_eq!(outcome, LockWaitOutcome::Unlocked { polls: 2, waited: Duration::from_secs(2) });
/// ```
#[derive(Clone, Debug)]
pub struct LockPoller {
    address: ObjectAddress,
    /// The check-lock request, built once: every poll sends a copy.
    check_lock: http::Request<Bytes>,
    conf: LockPollConfig,
    jitter: Option<Jitter>,
    ids: RequestIds,
    clock: Clock,
    phase: Phase,
    /// The next output, not yet drained.
    pending: Option<Output<LockWaitOutcome>>,
    /// Set once the size is known: when polling began, and the bounds it uses.
    polling: Option<(Instant, Bounds)>,
    polls: u32,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Phase {
    /// Waiting for the first check-lock's answer.
    FirstCheck(RequestId),
    /// Waiting for the size HEAD's answer.
    Head(RequestId),
    /// Waiting for a poll's answer.
    Poll(RequestId),
    /// Sleeping until the next poll.
    Sleep(Instant),
    /// Finished.
    Done,
}

impl LockPoller {
    /// A poller for the object at `address`; `seed` feeds the jitter when `conf.jitter`.
    /// Its first output is the check-lock request.
    pub fn new(address: ObjectAddress, conf: LockPollConfig, seed: u64) -> Self {
        let mut poller = LockPoller {
            jitter: conf.jitter.then(|| Jitter::from_seed(seed)),
            check_lock: check_lock_request(&address),
            address,
            conf,
            ids: RequestIds::default(),
            clock: Clock::default(),
            phase: Phase::Done,
            pending: None,
            polling: None,
            polls: 0,
        };
        let id = poller.send_check_lock();
        poller.phase = Phase::FirstCheck(id);
        poller
    }

    /// The object being polled.
    pub fn address(&self) -> &ObjectAddress {
        &self.address
    }

    /// The backoff bounds, once the size is known.
    pub fn bounds(&self) -> Option<Bounds> {
        self.polling.map(|(_, bounds)| bounds)
    }

    /// Whether the machine has finished (its outcome may still be waiting in `poll_output`).
    pub fn is_done(&self) -> bool {
        self.phase == Phase::Done
    }

    /// The request whose completion the machine is waiting for, if any.
    fn awaited(&self) -> Option<RequestId> {
        match self.phase {
            Phase::FirstCheck(id) | Phase::Head(id) | Phase::Poll(id) => Some(id),
            Phase::Sleep(_) | Phase::Done => None,
        }
    }

    fn send_check_lock(&mut self) -> RequestId {
        self.send(self.check_lock.clone())
    }

    fn send_head(&mut self) -> RequestId {
        let filter = if self.conf.enable_remote_head { presence::FLT_EXISTS } else { presence::FLT_PRESENT };
        let filter = filter.to_string();
        let uri = self.address.uri(&[(qparam::FLT_PRESENCE, &filter), (qparam::PROPS, "size")]);
        self.send(request(Method::HEAD, uri, Bytes::new()))
    }

    fn send(&mut self, request: http::Request<Bytes>) -> RequestId {
        let id = self.ids.next_id();
        self.pending = Some(Output::Transmit(Transmit { id, request }));
        id
    }

    fn finish(&mut self, outcome: LockWaitOutcome) {
        self.phase = Phase::Done;
        self.pending = Some(Output::Done(outcome));
    }

    fn waited(&self, now: Instant) -> Duration {
        self.polling.map_or(Duration::ZERO, |(start, _)| now.saturating_duration_since(start))
    }

    fn give_up(&mut self, now: Instant, reason: GiveUpReason) {
        let outcome = LockWaitOutcome::GaveUp { reason, polls: self.polls, waited: self.waited(now) };
        self.finish(outcome);
    }

    fn start_polling(&mut self, now: Instant, size: u64) {
        self.polling = Some((now, Bounds::for_size(size, &self.conf)));
        let id = self.send_check_lock();
        self.phase = Phase::Poll(id);
    }

    fn on_poll(&mut self, now: Instant, result: Result<http::Response<()>, TransportError>) {
        self.polls = self.polls.saturating_add(1);
        let Some((start, bounds)) = self.polling else { return };
        match result {
            Err(error) => self.give_up(now, GiveUpReason::CheckLockFailed(error)),
            Ok(response) if response.status() != STATUS_LOCKED => {
                let outcome = LockWaitOutcome::Unlocked { polls: self.polls, waited: self.waited(now) };
                self.finish(outcome);
            }
            Ok(_) => {
                let deadline = start.saturating_add(self.conf.max_cold_wait);
                if now >= deadline {
                    return self.give_up(now, GiveUpReason::StillLocked);
                }
                let sleep = bounds.sleep_after(self.polls, self.jitter.as_mut());
                self.phase = Phase::Sleep(now.saturating_add(sleep).min(deadline));
            }
        }
    }
}

/// `POST <object>?provider=…[&namespace=…]` with `{"action":"check-lock"}`.
fn check_lock_request(address: &ObjectAddress) -> http::Request<Bytes> {
    let body = ActionMsg::new(action_name::CHECK_LOCK).to_body();
    let mut request = request(Method::POST, address.uri(&[]), body);
    request.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    request
}

/// A request from parts that are valid by construction (so, unlike the builder, it cannot fail).
fn request(method: Method, uri: http::Uri, body: Bytes) -> http::Request<Bytes> {
    let mut request = http::Request::new(body);
    *request.method_mut() = method;
    *request.uri_mut() = uri;
    request
}

/// The object size a size-HEAD answer gives: the `Content-Length` of a 200, else 0.
fn head_size(result: &Result<http::Response<()>, TransportError>) -> u64 {
    let Ok(response) = result else { return 0 };
    if response.status() != StatusCode::OK {
        return 0;
    }
    response
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0)
}

impl Machine for LockPoller {
    type Input = Completion;
    type Output = Output<LockWaitOutcome>;
    type Error = InputError;

    fn handle_input(&mut self, now: Instant, input: Completion) -> Result<(), InputError> {
        let Completion { id, result } = input;
        if self.is_done() {
            return Err(InputError::Finished);
        }
        if self.awaited() != Some(id) {
            return Err(InputError::UnexpectedCompletion(id));
        }
        // Only an accepted completion tells the time: a refused one leaves the state as it was.
        let now = self.clock.observe(now);
        match self.phase {
            // Refused above.
            Phase::Sleep(_) | Phase::Done => {}
            Phase::FirstCheck(_) => match result {
                Err(error) => self.give_up(now, GiveUpReason::CheckLockFailed(error)),
                Ok(response) if response.status() != STATUS_LOCKED => self.finish(LockWaitOutcome::NotLocked),
                Ok(_) => {
                    let head = self.send_head();
                    self.phase = Phase::Head(head);
                }
            },
            Phase::Head(_) => self.start_polling(now, head_size(&result)),
            Phase::Poll(_) => self.on_poll(now, result),
        }
        Ok(())
    }

    fn poll_output(&mut self, now: Instant) -> Option<Output<LockWaitOutcome>> {
        self.clock.observe(now);
        self.pending.take()
    }

    fn poll_timeout(&self) -> Option<Instant> {
        match self.phase {
            Phase::Sleep(until) => Some(until),
            _ => None,
        }
    }

    fn handle_timeout(&mut self, now: Instant) {
        let now = self.clock.observe(now);
        if let Phase::Sleep(until) = self.phase
            && now >= until
        {
            let id = self.send_check_lock();
            self.phase = Phase::Poll(id);
        }
    }
}
