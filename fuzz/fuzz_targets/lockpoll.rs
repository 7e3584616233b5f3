//! Fuzzes `LockPoller` and `ColdGet` with any configuration, any answers (every status code,
//! any `Content-Length` bytes, transport errors), stray request ids, clock jumps in both
//! directions and spurious wake-ups, and checks their invariants:
//!
//! - nothing panics;
//! - at most one request is outstanding; the completion of that one is always accepted, and
//!   any other is refused;
//! - the poller never schedules a wake-up past `first poll + max_cold_wait`, and its sleeps
//!   add up to at most `max_cold_wait`;
//! - a cold GET makes at most `max_attempts` attempts (at least one), and none after a redirect
//!   the driver could not follow;
//! - after `Done`, nothing is emitted, no timer is set and every input is refused;
//! - `Bounds::for_size` and `Schedule` keep their documented ranges.
#![no_main]

use std::time::Duration;

use arbitrary::Arbitrary;
use bytes::Bytes;
use libfuzzer_sys::fuzz_target;
use stowage_lockpoll::{
    Bounds, ColdGet, ColdGetConfig, ColdGetOutcome, LockPollConfig, LockPoller, LockWaitOutcome, Schedule,
};
use stowage_proto::ais::ObjectAddress;
use stowage_proto::{
    Backoff, Completion, InputError, Instant, Machine, Output, RequestId, Retry, Transmit, TransportError,
};

#[derive(Debug, Arbitrary)]
struct Case {
    lock: LockConf,
    retry: RetryCase,
    target: Target,
    seed: u64,
    start: u64,
    events: Vec<Event>,
}

#[derive(Debug, Arbitrary)]
struct LockConf {
    est_bandwidth_bps: u64,
    max_cold_wait: Wait,
    enable_remote_head: bool,
    jitter: bool,
}

#[derive(Debug, Arbitrary)]
enum Wait {
    Secs(u16),
    Nanos(u64),
    Forever,
}

#[derive(Debug, Arbitrary)]
struct RetryCase {
    max_attempts: u8,
    multiplier: f64,
    min_millis: u32,
    max_millis: u32,
    jitter: bool,
}

#[derive(Debug, Arbitrary)]
enum Target {
    /// Run a lock poller for this object.
    Poller(UriChoice),
    /// Run a cold GET of `method` on this URI.
    ColdGet(u8, UriChoice),
}

#[derive(Debug, Arbitrary)]
enum UriChoice {
    Known(u8),
    Raw(String),
}

const URIS: [&str; 6] = [
    "/v1/objects/bck/obj?provider=aws&sig=x",
    "/v1/objects/bck/dir/objects/o?provider=gcp&namespace=%40uuid%23ns",
    "/v1/objects/bck/obj?provider=ais&namespace=%40remote%23",
    "/v1/objects/bck/obj?provider=ais",
    "/v1/buckets/bck?provider=aws",
    "http://proxy:8080/v1/objects/b/o?provider=oci",
];
const METHODS: [http::Method; 4] = [http::Method::GET, http::Method::PUT, http::Method::HEAD, http::Method::POST];

impl UriChoice {
    fn uri(&self) -> http::Uri {
        match self {
            UriChoice::Known(i) => http::Uri::from_static(URIS[usize::from(*i) % URIS.len()]),
            UriChoice::Raw(s) => s.parse().unwrap_or_else(|_| http::Uri::from_static(URIS[0])),
        }
    }
}

#[derive(Debug, Arbitrary)]
enum Event {
    /// Answer the outstanding request (if any; else a stray id) after `centis` hundredths of
    /// a second.
    Answer { centis: u16, reply: Reply },
    /// A completion with this id, outstanding or not.
    Completion { id: u64, reply: Reply },
    /// The driver's clock jumps (possibly backwards).
    Jump { backwards: bool, nanos: u64 },
    /// `handle_timeout` now, whether or not a timer is due.
    SpuriousWake,
    /// Advance to the machine's timer (if any) and wake it.
    Wake,
}

#[derive(Debug, Clone, Arbitrary)]
enum Reply {
    /// 423, spelled out: the answer that keeps a lock wait going.
    Locked,
    Status(u16, Length),
    Transport(u8),
}

#[derive(Debug, Clone, Arbitrary)]
enum Length {
    None,
    Size(u64),
    Bytes(Vec<u8>),
}

impl Reply {
    fn result(&self) -> Result<http::Response<()>, TransportError> {
        let (code, length) = match self {
            Reply::Locked => (423, &Length::None),
            Reply::Transport(i) => return Err(TransportError::ALL[usize::from(*i) % TransportError::ALL.len()]),
            Reply::Status(code, length) => (code % 1000, length),
        };
        // A status a driver cannot represent reaches the machine as a malformed response.
        let status = http::StatusCode::from_u16(code).map_err(|_| TransportError::Protocol)?;
        let mut response = http::Response::new(());
        *response.status_mut() = status;
        let value = match length {
            Length::None => None,
            Length::Size(size) => Some(http::HeaderValue::from(*size)),
            Length::Bytes(bytes) => http::HeaderValue::from_bytes(bytes).ok(),
        };
        if let Some(value) = value {
            response.headers_mut().insert(http::header::CONTENT_LENGTH, value);
        }
        Ok(response)
    }
}

impl LockConf {
    fn conf(&self) -> LockPollConfig {
        let max_cold_wait = match self.max_cold_wait {
            Wait::Secs(s) => Duration::from_secs(s.into()),
            Wait::Nanos(n) => Duration::from_nanos(n),
            Wait::Forever => Duration::MAX,
        };
        LockPollConfig {
            est_bandwidth_bps: self.est_bandwidth_bps,
            max_cold_wait,
            enable_remote_head: self.enable_remote_head,
            jitter: self.jitter,
        }
    }
}

impl RetryCase {
    fn conf(&self) -> Retry {
        let backoff = Backoff {
            multiplier: self.multiplier,
            min: Duration::from_millis(self.min_millis.into()),
            max: Duration::from_millis(self.max_millis.into()),
        };
        Retry { max_attempts: u32::from(self.max_attempts % 16), backoff, jitter: self.jitter }
    }
}

/// What each kind of machine additionally checks as it runs.
trait Watch<T> {
    fn sent(&mut self, now: Instant, transmit: &Transmit);
    /// The completion of `transmit` was accepted; `failure` is its transport error, if any.
    fn accepted(&mut self, now: Instant, transmit: &Transmit, failure: Option<TransportError>);
    fn timer(&mut self, now: Instant, until: Instant);
    fn done(&mut self, outcome: &T);
}

/// The lock poller's watch: sleeps stay before the deadline and add up to at most
/// `max_cold_wait`.
struct PollerWatch {
    max_cold_wait: Duration,
    /// When polling began (the size HEAD's answer was accepted).
    start: Option<Instant>,
    /// The sleep in progress: set at, until.
    sleep: Option<(Instant, Instant)>,
    slept: Duration,
    polls: u32,
}

impl Watch<LockWaitOutcome> for PollerWatch {
    fn sent(&mut self, _: Instant, transmit: &Transmit) {
        if self.start.is_some() {
            assert_eq!(transmit.request.method(), http::Method::POST, "polls are check-locks");
            self.polls += 1;
        }
        if let Some((from, until)) = self.sleep.take() {
            self.slept += until.saturating_duration_since(from);
            assert!(self.slept <= self.max_cold_wait, "slept {:?} > {:?}", self.slept, self.max_cold_wait);
        }
    }

    fn accepted(&mut self, now: Instant, transmit: &Transmit, _: Option<TransportError>) {
        if transmit.request.method() == http::Method::HEAD {
            self.start = Some(now);
        }
    }

    fn timer(&mut self, now: Instant, until: Instant) {
        let start = self.start.expect("a timer before polling began");
        let deadline = start.saturating_add(self.max_cold_wait);
        assert!(until <= deadline, "wake-up at {until} past the deadline {deadline}");
        // The sleep began when the last answer was accepted, at or before `now`.
        self.sleep.get_or_insert((now, until));
    }

    fn done(&mut self, outcome: &LockWaitOutcome) {
        match *outcome {
            LockWaitOutcome::NotLocked => assert_eq!((self.start, self.polls), (None, 0)),
            LockWaitOutcome::Unlocked { polls, .. } | LockWaitOutcome::GaveUp { polls, .. } => {
                assert_eq!(polls, self.polls)
            }
        }
    }
}

/// The cold GET's watch: at most `max_attempts` attempts, none after a redirect that could not
/// be followed, and the response is the last one's.
struct ColdGetWatch {
    original: (http::Method, http::Uri),
    max_attempts: u32,
    attempts: Vec<RequestId>,
    /// The redirect error an attempt failed with, if one did.
    redirected: Option<TransportError>,
}

impl Watch<ColdGetOutcome> for ColdGetWatch {
    fn sent(&mut self, _: Instant, transmit: &Transmit) {
        let request = &transmit.request;
        if (request.method(), request.uri()) == (&self.original.0, &self.original.1) {
            self.attempts.push(transmit.id);
            assert!(self.attempts.len() <= self.max_attempts.max(1) as usize, "attempt {} > max", self.attempts.len());
            assert_eq!(self.redirected, None, "an attempt after a redirect that could not be followed");
        }
    }

    fn accepted(&mut self, _: Instant, transmit: &Transmit, failure: Option<TransportError>) {
        if self.attempts.last() == Some(&transmit.id) {
            self.redirected = failure.filter(|e| e.is_redirect());
        }
    }

    fn timer(&mut self, _: Instant, _: Instant) {}

    fn done(&mut self, outcome: &ColdGetOutcome) {
        let report = match outcome {
            ColdGetOutcome::Response { id, report } => {
                assert_eq!(Some(id), self.attempts.last());
                report
            }
            ColdGetOutcome::Failed { error, report } => {
                assert!(self.redirected.is_none_or(|redirected| redirected == *error));
                report
            }
        };
        assert_eq!(report.attempts as usize, self.attempts.len());
        assert!(report.lock_waits.len() < self.attempts.len().max(1));
    }
}

/// The driver: runs a machine as a real driver would, except that the fuzzer decides what
/// happens, and checks the contract every machine keeps.
struct Driver<M, W> {
    machine: M,
    watch: W,
    /// The driver's clock (it may jump backwards).
    now: Instant,
    /// The machine's view of time: the latest `now` it was handed and took.
    latest: Instant,
    outstanding: Option<Transmit>,
    done: bool,
}

impl<M, T, W> Driver<M, W>
where
    M: Machine<Input = Completion, Output = Output<T>, Error = InputError>,
    W: Watch<T>,
{
    fn run(machine: M, watch: W, start: Instant, events: &[Event]) {
        let mut driver = Driver { machine, watch, now: start, latest: start, outstanding: None, done: false };
        driver.drain();
        for event in events {
            driver.step(event);
            driver.drain();
        }
    }

    fn step(&mut self, event: &Event) {
        match event {
            Event::Answer { centis, reply } => {
                self.now = self.now.saturating_add(Duration::from_millis(u64::from(*centis) * 10));
                let id = self.outstanding.as_ref().map_or(RequestId(u64::MAX), |t| t.id);
                self.complete(id, reply);
            }
            Event::Completion { id, reply } => self.complete(RequestId(*id), reply),
            Event::Jump { backwards, nanos } => {
                let n = self.now.as_nanos();
                let n = if *backwards { n.saturating_sub(*nanos) } else { n.saturating_add(*nanos) };
                self.now = Instant::from_nanos(n);
            }
            Event::SpuriousWake => self.wake(),
            Event::Wake => {
                if let Some(until) = self.machine.poll_timeout() {
                    self.now = self.now.max(until);
                }
                self.wake();
            }
        }
    }

    fn wake(&mut self) {
        self.latest = self.latest.max(self.now);
        self.machine.handle_timeout(self.now);
    }

    /// Feeds a completion with `id`: accepted exactly when it is the outstanding request's.
    fn complete(&mut self, id: RequestId, reply: &Reply) {
        let failure = reply.result().err();
        let result = self.machine.handle_input(self.now, Completion { id, result: reply.result() });
        match self.outstanding.take_if(|t| t.id == id) {
            Some(t) => {
                assert_eq!(result, Ok(()), "the outstanding request's completion was refused");
                self.latest = self.latest.max(self.now);
                self.watch.accepted(self.latest, &t, failure);
            }
            None if self.done => assert_eq!(result, Err(InputError::Finished)),
            None => assert_eq!(result, Err(InputError::UnexpectedCompletion(id))),
        }
    }

    /// Takes every output, then checks the machine is waiting for exactly one thing: an answer,
    /// a timer, or nothing at all once done.
    fn drain(&mut self) {
        self.latest = self.latest.max(self.now);
        while let Some(output) = self.machine.poll_output(self.now) {
            assert!(!self.done, "output after Done");
            match output {
                Output::Transmit(t) => {
                    assert!(self.outstanding.is_none(), "a second request while one is outstanding");
                    self.watch.sent(self.latest, &t);
                    self.outstanding = Some(t);
                }
                Output::Done(outcome) => {
                    assert!(self.outstanding.is_none(), "done with a request outstanding");
                    self.watch.done(&outcome);
                    self.done = true;
                }
            }
        }
        match self.machine.poll_timeout() {
            Some(_) if self.done => panic!("a timer after Done"),
            Some(_) if self.outstanding.is_some() => panic!("a timer with a request outstanding"),
            Some(until) => self.watch.timer(self.latest, until),
            None => assert!(self.done || self.outstanding.is_some(), "stuck: nothing outstanding and no timer"),
        }
    }
}

/// `Bounds::for_size` and `Schedule` for any size under any configuration.
fn check_bounds(conf: &LockPollConfig, size: u64, seed: u64) {
    let bounds = Bounds::for_size(size, conf);
    assert!(Duration::from_secs(2) <= bounds.shortest && bounds.shortest <= Duration::from_secs(10), "{bounds:?}");
    assert!(bounds.shortest <= bounds.longest, "{bounds:?}");
    let mut total = Duration::ZERO;
    for sleep in Schedule::new(bounds, conf, seed).take(1_000) {
        assert!(sleep <= bounds.longest);
        total = total.checked_add(sleep).expect("the schedule overflowed");
        assert!(total <= conf.max_cold_wait);
    }
}

fuzz_target!(|case: Case| {
    let lock = case.lock.conf();
    check_bounds(&lock, case.seed, case.seed.rotate_left(17));
    let start = Instant::from_nanos(case.start);
    match &case.target {
        Target::Poller(uri) => {
            let Ok(address) = ObjectAddress::from_uri(&uri.uri()) else { return };
            let watch = PollerWatch {
                max_cold_wait: lock.max_cold_wait,
                start: None,
                sleep: None,
                slept: Duration::ZERO,
                polls: 0,
            };
            Driver::run(LockPoller::new(address, lock, case.seed), watch, start, &case.events);
        }
        Target::ColdGet(method, uri) => {
            let method = METHODS[usize::from(*method) % METHODS.len()].clone();
            let request = http::Request::builder().method(method.clone()).uri(uri.uri()).body(Bytes::new());
            let Ok(request) = request else { return };
            let retry = case.retry.conf();
            let watch = ColdGetWatch {
                original: (method, request.uri().clone()),
                max_attempts: retry.max_attempts,
                attempts: Vec::new(),
                redirected: None,
            };
            Driver::run(ColdGet::new(request, ColdGetConfig { retry, lock }, case.seed), watch, start, &case.events);
        }
    }
});
