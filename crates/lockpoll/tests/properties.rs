//! Property tests: the machines against scripted answers of any kind and timing, checked
//! against their invariants and against a reference model written straight from the spec.

mod support;

use std::time::Duration;

use bytes::Bytes;
use http::Method;
use proptest::prelude::*;
use stowage_lockpoll::{
    Bounds, ColdGet, ColdGetConfig, ColdGetOutcome, GiveUpReason, LockPollConfig, LockPoller, LockWaitOutcome,
    lock_wait_target,
};
use stowage_proto::{Backoff, Instant, Retry, Transmit, TransportError};

use support::{Answer, Trace, drive};

/// The answer to a check-lock.
#[derive(Clone, Debug)]
enum Reply {
    Locked,
    Status(u16),
    Failed(TransportError),
}

impl Reply {
    fn answer(&self) -> Answer {
        match self {
            Reply::Locked => support::locked(),
            Reply::Status(code) => support::status(*code),
            Reply::Failed(error) => Err(*error),
        }
    }
}

/// The answer to the size HEAD.
#[derive(Clone, Debug)]
enum Head {
    /// A `Content-Length` that is a valid size.
    Sized(u16, u64),
    /// A `Content-Length` that is not a number (or not one that fits).
    Garbage(u16, &'static [u8]),
    Missing(u16),
    Failed(TransportError),
}

impl Head {
    fn answer(&self) -> Answer {
        match self {
            Head::Sized(code, size) => support::with_length(*code, size.to_string().as_bytes()),
            Head::Garbage(code, bytes) => support::with_length(*code, bytes),
            Head::Missing(code) => support::status(*code),
            Head::Failed(error) => Err(*error),
        }
    }

    /// The size the spec says the poller learns: the Content-Length of a 200, else 0.
    fn size(&self) -> u64 {
        match self {
            Head::Sized(200, size) => *size,
            _ => 0,
        }
    }
}

/// What a lock wait hears: the first check-lock, the HEAD, then the polls (in order; once they
/// run out, every poll says "locked" at once). Each with how long it takes.
#[derive(Clone, Debug)]
struct Script {
    first: (Duration, Reply),
    head: (Duration, Head),
    polls: Vec<(Duration, Reply)>,
}

/// The reference model: what the spec's decision sequence concludes from `script` (no jitter).
/// Time is counted in nanoseconds from the first poll.
fn model(conf: &LockPollConfig, script: &Script) -> LockWaitOutcome {
    match script.first.1 {
        Reply::Failed(e) => {
            return LockWaitOutcome::GaveUp {
                reason: GiveUpReason::CheckLockFailed(e),
                polls: 0,
                waited: Duration::ZERO,
            };
        }
        Reply::Status(code) if code != 423 => return LockWaitOutcome::NotLocked,
        _ => {}
    }
    let bw = if conf.est_bandwidth_bps == 0 { 1.25e9 } else { conf.est_bandwidth_bps as f64 };
    let expected = script.head.1.size() as f64 / bw;
    let shortest = (expected / 4.0).clamp(2.0, 10.0);
    let longest = shortest.max((conf.max_cold_wait.as_secs_f64() / 2.0).floor().min((expected * 4.0).floor()));
    let max = conf.max_cold_wait.as_nanos();
    let mut t = 0u128;
    for k in 1u32.. {
        let (delay, reply) = script.polls.get(k as usize - 1).cloned().unwrap_or((Duration::ZERO, Reply::Locked));
        t += delay.as_nanos();
        let waited = Duration::from_nanos(t as u64);
        match reply {
            Reply::Failed(e) => {
                return LockWaitOutcome::GaveUp { reason: GiveUpReason::CheckLockFailed(e), polls: k, waited };
            }
            Reply::Status(code) if code != 423 => return LockWaitOutcome::Unlocked { polls: k, waited },
            _ if t >= max => return LockWaitOutcome::GaveUp { reason: GiveUpReason::StillLocked, polls: k, waited },
            _ => {}
        }
        let nominal = 2.0 * 2f64.powi(k.min(1000) as i32 - 1);
        t += Duration::from_secs_f64(nominal.clamp(shortest, longest)).as_nanos().min(max - t);
    }
    unreachable!("the loop only ends by returning")
}

/// Runs a lock poller over `script` from `start`; checks the invariants, and the outcome
/// against the model when `model_applies`.
fn check_lock_wait(
    conf: &LockPollConfig,
    seed: u64,
    script: &Script,
    start: Instant,
    model_applies: bool,
) -> Result<(), TestCaseError> {
    let address = support::address("/v1/objects/bck/obj?provider=gcp");
    let mut poller = LockPoller::new(address, conf.clone(), seed);
    let mut answers = [(script.first.0, script.first.1.answer()), (script.head.0, script.head.1.answer())]
        .into_iter()
        .chain(script.polls.iter().map(|(d, r)| (*d, r.answer())));
    let answer = move |_: &Transmit| answers.next().unwrap_or((Duration::ZERO, support::locked()));
    let trace = drive(&mut poller, start, answer);
    if model_applies && !conf.jitter {
        prop_assert_eq!(trace.outcome, model(conf, script));
    }
    match poller.bounds() {
        Some(bounds) => check_polling(conf, script, &trace, bounds),
        None => {
            prop_assert_eq!(trace.sent.len(), 1);
            prop_assert!(trace.sleeps.is_empty());
            let ended_at_once =
                matches!(trace.outcome, LockWaitOutcome::NotLocked | LockWaitOutcome::GaveUp { polls: 0, .. });
            prop_assert!(ended_at_once, "{:?} without polling", trace.outcome);
            Ok(())
        }
    }
}

/// Checks the invariants of one lock wait that reached the polling stage.
fn check_polling(
    conf: &LockPollConfig,
    script: &Script,
    trace: &Trace<LockWaitOutcome>,
    bounds: Bounds,
) -> Result<(), TestCaseError> {
    let polls = &trace.sent[2..];
    let start = polls[0].0;
    let deadline = start.saturating_add(conf.max_cold_wait);
    for (sent, _) in polls {
        prop_assert!(*sent <= deadline, "poll sent at {sent} after the deadline {deadline}");
    }
    let sleeps = trace.sleep_lengths();
    let mut total = Duration::ZERO;
    for (k, ((_, until), sleep)) in (1u32..).zip(trace.sleeps.iter().zip(&sleeps)) {
        prop_assert!(*until <= deadline, "sleep {k} ends at {until}, past the deadline {deadline}");
        let nominal = bounds.sleep_after(k, None);
        let cut = *until == deadline;
        prop_assert!(*sleep <= nominal, "sleep {k}: {sleep:?} > nominal {nominal:?}");
        prop_assert!(cut || *sleep >= bounds.shortest, "sleep {k}: {sleep:?} < shortest {:?}", bounds.shortest);
        prop_assert!(bounds.shortest <= nominal && nominal <= bounds.longest);
        if !conf.jitter {
            prop_assert!(cut || *sleep == nominal, "sleep {k}: {sleep:?} != {nominal:?}");
        }
        total += *sleep;
    }
    prop_assert!(total <= conf.max_cold_wait, "slept {total:?} in all");
    if !conf.jitter {
        let uncut = sleeps.iter().zip(&trace.sleeps).filter(|(_, (_, until))| *until < deadline).map(|(s, _)| s);
        let uncut: Vec<_> = uncut.collect();
        prop_assert!(uncut.windows(2).all(|w| w[0] <= w[1]), "sleeps decrease: {sleeps:?}");
    }
    // The wait ends at the first answer that is not "locked", or at the deadline.
    let first_other = script.polls.iter().position(|(_, r)| !matches!(r, Reply::Locked | Reply::Status(423)));
    let n = polls.len();
    match trace.outcome {
        LockWaitOutcome::Unlocked { polls, .. }
        | LockWaitOutcome::GaveUp { reason: GiveUpReason::CheckLockFailed(_), polls, .. } => {
            prop_assert_eq!(Some(n - 1), first_other);
            prop_assert_eq!(polls as usize, n);
        }
        LockWaitOutcome::GaveUp { reason: GiveUpReason::StillLocked, polls, .. } => {
            prop_assert!(first_other.is_none_or(|i| i >= n), "went on after answer {first_other:?}");
            prop_assert_eq!(polls as usize, n);
            prop_assert!(trace.end >= deadline);
        }
        LockWaitOutcome::NotLocked => prop_assert!(false, "NotLocked after polling"),
    }
    Ok(())
}

fn transport_error() -> impl Strategy<Value = TransportError> {
    prop::sample::select(TransportError::ALL.to_vec())
}

fn reply() -> impl Strategy<Value = Reply> {
    prop_oneof![
        12 => Just(Reply::Locked),
        1 => (100u16..=999).prop_map(Reply::Status),
        1 => transport_error().prop_map(Reply::Failed),
    ]
}

fn status_code() -> impl Strategy<Value = u16> {
    prop_oneof![3 => Just(200u16), 1 => 100u16..=999]
}

fn size() -> impl Strategy<Value = u64> {
    prop_oneof![Just(0), Just(u64::MAX), Just(1 << 63), 0u64..1 << 40, any::<u64>()]
}

fn head() -> impl Strategy<Value = Head> {
    let garbage: Vec<&'static [u8]> =
        vec![b"", b"abc", b"-5", b"1e11", b"0x10", b"1 2", b"18446744073709551616", b"\xff\xfe7", b"12abc"];
    prop_oneof![
        4 => (status_code(), size()).prop_map(|(c, s)| Head::Sized(c, s)),
        1 => (status_code(), prop::sample::select(garbage)).prop_map(|(c, g)| Head::Garbage(c, g)),
        1 => status_code().prop_map(Head::Missing),
        1 => transport_error().prop_map(Head::Failed),
    ]
}

/// Answer times: often instant, otherwise up to a minute (to the nanosecond).
fn delay() -> impl Strategy<Value = Duration> {
    prop_oneof![Just(Duration::ZERO), (0u64..60_000_000_000).prop_map(Duration::from_nanos)]
}

fn script() -> impl Strategy<Value = Script> {
    let first = prop_oneof![
        3 => Just(Reply::Locked),
        1 => (100u16..=999).prop_map(Reply::Status),
        1 => transport_error().prop_map(Reply::Failed),
    ];
    // A third of the scripts stay locked until the deadline.
    let polls = prop_oneof![
        2 => prop::collection::vec((delay(), reply()), 0..40),
        1 => prop::collection::vec((delay(), Just(Reply::Locked)), 0..40),
    ];
    ((delay(), first), (delay(), head()), polls).prop_map(|(first, head, polls)| Script { first, head, polls })
}

fn lock_conf(max_secs: u64) -> impl Strategy<Value = LockPollConfig> {
    (
        prop_oneof![Just(0), Just(1), 1u64..10_000_000_000, any::<u64>()],
        (0u64..max_secs * 1_000_000_000).prop_map(Duration::from_nanos),
        any::<bool>(),
        any::<bool>(),
    )
        .prop_map(|(est_bandwidth_bps, max_cold_wait, enable_remote_head, jitter)| LockPollConfig {
            est_bandwidth_bps,
            max_cold_wait,
            enable_remote_head,
            jitter,
        })
}

fn start() -> impl Strategy<Value = Instant> {
    prop_oneof![Just(Instant::ZERO), (0u64..1 << 62).prop_map(Instant::from_nanos)]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 128, ..ProptestConfig::default() })]

    /// Without jitter, the machine concludes exactly what the spec's model does; with or
    /// without, every sleep, poll and stop obeys the invariants.
    #[test]
    fn lock_poller_obeys_the_spec(conf in lock_conf(1000), seed: u64, script in script(), start in start()) {
        check_lock_wait(&conf, seed, &script, start, true)?;
    }

    /// Near the end of time, where every instant saturates, the invariants still hold and the
    /// wait still ends.
    #[test]
    fn lock_poller_survives_the_end_of_time(conf in lock_conf(1000), seed: u64, script in script(), before_end in 0u64..2_000_000_000_000) {
        check_lock_wait(&conf, seed, &script, Instant::from_nanos(u64::MAX - before_end), false)?;
    }
}

/// The requests a [`ColdGet`] may be given: eligible for a lock wait or not.
fn original_request() -> impl Strategy<Value = http::Request<Bytes>> {
    let cases = vec![
        (Method::GET, "/v1/objects/bck/obj?provider=aws&sig=x"),
        (Method::GET, "/v1/objects/bck/obj?provider=ais&namespace=%40remote%23ns"),
        (Method::GET, "/v1/objects/bck/obj?provider=ais"),
        (Method::GET, "/v1/buckets/bck?provider=aws"),
        (Method::PUT, "/v1/objects/bck/obj?provider=aws"),
        (Method::HEAD, "/v1/objects/bck/obj?provider=gcp"),
    ];
    prop::sample::select(cases)
        .prop_map(|(method, uri)| http::Request::builder().method(method).uri(uri).body(Bytes::new()).unwrap())
}

fn network_retry() -> impl Strategy<Value = Retry> {
    (0u32..8, 0.0f64..4.0, 0u64..5_000, 0u64..60_000, any::<bool>()).prop_map(
        |(max_attempts, multiplier, min, max, jitter)| {
            let backoff = Backoff { multiplier, min: Duration::from_millis(min), max: Duration::from_millis(max) };
            Retry { max_attempts, backoff, jitter }
        },
    )
}

/// The answer to an attempt.
fn attempt_answer() -> impl Strategy<Value = (Duration, Result<u16, TransportError>)> {
    let result = prop_oneof![
        1 => (100u16..=999).prop_map(Ok),
        2 => Just(Err(TransportError::ReadTimeout)),
        1 => transport_error().prop_map(Err),
    ];
    (delay(), result)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 128, ..ProptestConfig::default() })]

    /// A cold GET makes at most `max_attempts` attempts (at least one), waits on the lock only
    /// after an eligible read timeout that is not the last attempt, backs off as configured,
    /// never retries a redirect it could not follow, and ends with the last attempt's answer.
    #[test]
    fn cold_get_obeys_the_spec(
        original in original_request(),
        retry in network_retry(),
        lock in lock_conf(30),
        seed: u64,
        attempts in prop::collection::vec(attempt_answer(), 0..10),
        locks in prop::collection::vec((delay(), reply()), 0..30),
    ) {
        let eligible = lock_wait_target(original.method(), original.uri()).is_ok();
        let conf = ColdGetConfig { retry, lock };
        let is_attempt = {
            let (method, uri) = (original.method().clone(), original.uri().clone());
            move |t: &Transmit| t.request.method() == method && t.request.uri() == &uri
        };
        let mut attempt_answers = attempts.clone().into_iter();
        let mut lock_answers = locks.into_iter();
        let mut answered = Vec::new();
        let answer = |t: &Transmit| {
            if is_attempt(t) {
                let (delay, result) = attempt_answers.next().unwrap_or((Duration::ZERO, Err(TransportError::ReadTimeout)));
                answered.push(result);
                (delay, result.map(|code| support::status(code).unwrap()))
            } else {
                lock_answers.next().map_or((Duration::ZERO, support::locked()), |(d, r)| (d, r.answer()))
            }
        };
        let trace = drive(&mut ColdGet::new(original, conf, seed), Instant::ZERO, answer);

        let max = retry.max_attempts.max(1) as usize;
        let attempt_at: Vec<usize> = trace.sent.iter().enumerate().filter(|(_, (_, t))| is_attempt(t)).map(|(i, _)| i).collect();
        prop_assert_eq!(attempt_at[0], 0);
        prop_assert!(attempt_at.len() <= max);
        prop_assert_eq!(answered.len(), attempt_at.len());
        // Between attempts: a lock wait exactly after an eligible read timeout.
        let mut waits = 0;
        for (k, &i) in attempt_at.iter().enumerate() {
            let next = attempt_at.get(k + 1).copied().unwrap_or(trace.sent.len());
            let lock_requests = next - i - 1;
            let waited = answered[k] == Err(TransportError::ReadTimeout) && eligible && k + 1 < max;
            prop_assert_eq!(lock_requests > 0, waited, "attempt {} answered {:?}", k + 1, answered[k]);
            waits += usize::from(waited);
            if let Some(&next) = attempt_at.get(k + 1) {
                // The sleep that ends at the next attempt is the network backoff.
                let (sent, _) = trace.sent[next];
                let backoff = trace.sleeps.iter().rev().find(|(_, until)| *until == sent);
                let backoff = backoff.map(|(from, until)| until.saturating_duration_since(*from));
                prop_assert!(backoff.is_some(), "no backoff before attempt {}", k + 2);
                let (backoff, nominal) = (backoff.unwrap_or_default(), retry.backoff.delay(k as u32 + 1));
                if retry.jitter {
                    prop_assert!(retry.backoff.min <= backoff && backoff <= nominal, "backoff {backoff:?} vs {nominal:?}");
                } else {
                    prop_assert_eq!(backoff, nominal);
                }
            }
        }
        let report = match &trace.outcome {
            ColdGetOutcome::Response { id, report } => {
                let (_, last) = &trace.sent[*attempt_at.last().unwrap()];
                prop_assert_eq!(*id, last.id);
                prop_assert!(answered.last().unwrap().is_ok());
                report
            }
            ColdGetOutcome::Failed { error, report } => {
                prop_assert_eq!(Err(*error), *answered.last().unwrap());
                // Out of attempts, or a redirect that could not be followed: never retried.
                prop_assert!(attempt_at.len() == max || error.is_permanent(), "gave up after {} of {max}", attempt_at.len());
                report
            }
        };
        prop_assert!(answered[..answered.len() - 1].iter().all(Result::is_err), "went on after a response");
        prop_assert!(
            !answered[..answered.len() - 1].iter().any(|a| a.is_err_and(TransportError::is_permanent)),
            "went on after a redirect it could not follow"
        );
        prop_assert_eq!(report.attempts as usize, attempt_at.len());
        prop_assert_eq!(report.lock_waits.len(), waits);
        prop_assert_eq!(report.ineligible.is_none(), eligible);
    }
}
