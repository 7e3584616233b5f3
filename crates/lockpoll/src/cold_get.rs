//! The whole cold-GET retry: GET → read timeout → wait for the lock → back off → GET again.

use std::time::Duration;

use bytes::Bytes;
use stowage_proto::ais::ObjectAddress;
use stowage_proto::{
    Backoff, Clock, Completion, InputError, Instant, Jitter, Machine, Output, RequestId, RequestIds, Retry, Transmit,
    TransportError,
};

use crate::{Ineligible, LockPollConfig, LockPoller, LockWaitOutcome, lock_wait_target, suggests_lock};

/// The network retry around a request: the reference's `RetryConfig.default().network_retry`,
/// 7 attempts, waits drawn between 1 s and an exponential nominal capped at 30 s.
pub const NETWORK_RETRY: Retry = Retry {
    max_attempts: 7,
    backoff: Backoff { multiplier: 1.0, min: Duration::from_secs(1), max: Duration::from_secs(30) },
    jitter: true,
};

/// How a [`ColdGet`] retries and waits.
#[derive(Clone, Debug, PartialEq)]
pub struct ColdGetConfig {
    /// The network retry (jittered from the [`ColdGet`]'s seed when `retry.jitter` is set).
    pub retry: Retry,
    /// The lock wait between attempts, after a read timeout of a remote-object GET.
    pub lock: LockPollConfig,
}

impl Default for ColdGetConfig {
    /// [`NETWORK_RETRY`] and the default lock wait.
    fn default() -> Self {
        ColdGetConfig { retry: NETWORK_RETRY, lock: LockPollConfig::default() }
    }
}

/// What a [`ColdGet`] did along the way.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Report {
    /// Attempts made (at least 1).
    pub attempts: u32,
    /// The outcome of each lock wait, in order (at most one per failed attempt).
    pub lock_waits: Vec<LockWaitOutcome>,
    /// Why no lock wait could happen, if the request is not a remote-object GET.
    pub ineligible: Option<Ineligible>,
}

impl Report {
    /// Check-lock polls made in all lock waits (after each size HEAD).
    pub fn polls(&self) -> u32 {
        self.lock_waits
            .iter()
            .map(|o| match o {
                LockWaitOutcome::NotLocked => 0,
                LockWaitOutcome::Unlocked { polls, .. } | LockWaitOutcome::GaveUp { polls, .. } => *polls,
            })
            .sum()
    }

    /// Time spent in lock waits (from each wait's first poll).
    pub fn waited(&self) -> Duration {
        self.lock_waits
            .iter()
            .map(|o| match o {
                LockWaitOutcome::NotLocked => Duration::ZERO,
                LockWaitOutcome::Unlocked { waited, .. } | LockWaitOutcome::GaveUp { waited, .. } => *waited,
            })
            .sum()
    }
}

/// How a [`ColdGet`] ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ColdGetOutcome {
    /// An attempt got an HTTP response (of any status: HTTP errors are the caller's to judge);
    /// `id` names the [`Transmit`] whose response the driver holds.
    Response {
        /// The successful attempt's request id.
        id: RequestId,
        /// What happened on the way.
        report: Report,
    },
    /// Every attempt failed below HTTP (or one was a redirect that could not be followed).
    Failed {
        /// The last attempt's error.
        error: TransportError,
        /// What happened on the way.
        report: Report,
    },
}

/// One request with the cold-GET retry around it, as a sans-IO machine.
///
/// Sends the request; when an attempt fails below HTTP and attempts remain, first — only if it
/// was a **read timeout** of a **GET** of an **object in a remote bucket** — runs a
/// [`LockPoller`] for the object, then sleeps the network backoff, then tries again. Any other
/// request (non-GET, non-object URL, `ais` bucket) or error (connect failure, reset) is retried
/// without polling, except a redirect the driver could not follow
/// ([`TransportError::Redirect`]) or a failed TLS handshake ([`TransportError::Tls`]), which
/// end it at once: the server would answer the same again ([`TransportError::is_permanent`]).
///
/// Invariants: at most one request outstanding; at most `max_attempts` attempts; at most one
/// lock wait per failed attempt and none after the last; nothing emitted after
/// [`Output::Done`].
///
/// # Example
///
/// ```
/// use stowage_lockpoll::{ColdGet, ColdGetConfig, ColdGetOutcome};
/// use stowage_proto::{Completion, Instant, Machine, Output, TransportError};
///
/// let request = http::Request::get("/v1/objects/b/o?provider=aws").body(bytes::Bytes::new()).unwrap();
/// let mut get = ColdGet::new(request, ColdGetConfig::default(), 7);
/// let mut now = Instant::ZERO;
/// // The GET times out once; check-lock says unlocked; the second GET answers 200.
/// let mut answers = vec![Err(TransportError::ReadTimeout), Ok(200), Ok(200)].into_iter();
/// let outcome = loop {
///     match get.poll_output(now) {
///         Some(Output::Transmit(t)) => {
///             let result = answers.next().unwrap().map(|s| http::Response::builder().status(s).body(()).unwrap());
///             get.handle_input(now, Completion { id: t.id, result }).unwrap();
///         }
///         Some(Output::Done(outcome)) => break outcome,
///         None => {
///             now = get.poll_timeout().unwrap();
///             get.handle_timeout(now);
///         }
///     }
/// };
/// let ColdGetOutcome::Response { report, .. } = outcome else { panic!() };
/// assert_eq!(report.attempts, 2);
/// ```
#[derive(Clone, Debug)]
pub struct ColdGet {
    request: http::Request<Bytes>,
    target: Result<ObjectAddress, Ineligible>,
    conf: ColdGetConfig,
    jitter: Jitter,
    ids: RequestIds,
    clock: Clock,
    phase: Phase,
    pending: Option<Output<ColdGetOutcome>>,
    report: Report,
}

#[derive(Clone, Debug)]
enum Phase {
    /// Waiting for attempt `report.attempts`'s answer.
    Fetch(RequestId),
    /// Waiting on a lock poller; `outstanding` maps our id of its request to its own.
    Lock { poller: Box<LockPoller>, outstanding: Option<(RequestId, RequestId)> },
    /// Backing off until the next attempt.
    Backoff(Instant),
    /// Finished.
    Done,
}

impl ColdGet {
    /// `request` with the retry of `conf` around it; `seed` feeds all jitter.
    /// Its first output is the first attempt.
    pub fn new(request: http::Request<Bytes>, conf: ColdGetConfig, seed: u64) -> Self {
        let target = lock_wait_target(request.method(), request.uri());
        let mut get = ColdGet {
            report: Report { ineligible: target.as_ref().err().cloned(), ..Report::default() },
            request,
            target,
            conf,
            jitter: Jitter::from_seed(seed),
            ids: RequestIds::default(),
            clock: Clock::default(),
            phase: Phase::Done,
            pending: None,
        };
        get.attempt();
        get
    }

    /// What happened so far.
    pub fn report(&self) -> &Report {
        &self.report
    }

    fn attempt(&mut self) {
        let id = self.ids.next_id();
        self.report.attempts += 1;
        self.pending = Some(Output::Transmit(Transmit { id, request: self.request.clone() }));
        self.phase = Phase::Fetch(id);
    }

    fn finish(&mut self, outcome: impl FnOnce(Report) -> ColdGetOutcome) {
        self.phase = Phase::Done;
        self.pending = Some(Output::Done(outcome(std::mem::take(&mut self.report))));
    }

    fn on_failure(&mut self, now: Instant, error: TransportError) {
        // A redirect that could not be followed, a refused certificate: the server's answer,
        // asking again gets it again.
        if self.report.attempts >= self.conf.retry.attempts() || error.is_permanent() {
            return self.finish(|report| ColdGetOutcome::Failed { error, report });
        }
        match &self.target {
            Ok(address) if suggests_lock(error) => {
                let poller = LockPoller::new(address.clone(), self.conf.lock.clone(), self.jitter.next_u64());
                self.phase = Phase::Lock { poller: Box::new(poller), outstanding: None };
            }
            _ => self.back_off(now),
        }
    }

    fn back_off(&mut self, now: Instant) {
        let delay = self.conf.retry.delay(self.report.attempts, &mut self.jitter);
        self.phase = Phase::Backoff(now.saturating_add(delay));
    }
}

impl Machine for ColdGet {
    type Input = Completion;
    type Output = Output<ColdGetOutcome>;
    type Error = InputError;

    fn handle_input(&mut self, now: Instant, input: Completion) -> Result<(), InputError> {
        // Only an accepted completion tells the time: a refused one leaves the state as it was.
        match &mut self.phase {
            Phase::Done => Err(InputError::Finished),
            Phase::Fetch(expected) if *expected == input.id => {
                let now = self.clock.observe(now);
                match input.result {
                    Ok(_) => self.finish(|report| ColdGetOutcome::Response { id: input.id, report }),
                    Err(error) => self.on_failure(now, error),
                }
                Ok(())
            }
            Phase::Lock { poller, outstanding } => match *outstanding {
                Some((ours, theirs)) if ours == input.id => {
                    let now = self.clock.observe(now);
                    *outstanding = None;
                    poller.handle_input(now, Completion { id: theirs, result: input.result })
                }
                _ => Err(InputError::UnexpectedCompletion(input.id)),
            },
            _ => Err(InputError::UnexpectedCompletion(input.id)),
        }
    }

    fn poll_output(&mut self, now: Instant) -> Option<Output<ColdGetOutcome>> {
        let now = self.clock.observe(now);
        if let Some(output) = self.pending.take() {
            return Some(output);
        }
        let Phase::Lock { poller, outstanding } = &mut self.phase else { return None };
        match poller.poll_output(now)? {
            Output::Transmit(Transmit { id, request }) => {
                let ours = self.ids.next_id();
                *outstanding = Some((ours, id));
                Some(Output::Transmit(Transmit { id: ours, request }))
            }
            Output::Done(outcome) => {
                self.report.lock_waits.push(outcome);
                self.back_off(now);
                None
            }
        }
    }

    fn poll_timeout(&self) -> Option<Instant> {
        match &self.phase {
            Phase::Lock { poller, .. } => poller.poll_timeout(),
            Phase::Backoff(until) => Some(*until),
            Phase::Fetch(_) | Phase::Done => None,
        }
    }

    fn handle_timeout(&mut self, now: Instant) {
        let now = self.clock.observe(now);
        match &mut self.phase {
            Phase::Lock { poller, .. } => poller.handle_timeout(now),
            Phase::Backoff(until) if now >= *until => self.attempt(),
            _ => {}
        }
    }
}
