//! One test per rule of the lockpoll spec (`specs/lockpoll.md`), driven through the machines'
//! public interface. The bounds formula and the bare schedule have their own unit tests in
//! `src/bounds.rs`; here the machines must follow them.
//!
//! Every run goes through [`support::drive`], which also checks the contract common to all
//! rules: one request at a time, early wake-ups are harmless, nothing after `Done`.

mod support;

use std::time::Duration;

use bytes::Bytes;
use http::{Method, header};
use stowage_lockpoll::{
    Bounds, ColdGet, ColdGetConfig, ColdGetOutcome, GiveUpReason, Ineligible, LockPollConfig, LockPoller,
    LockWaitOutcome, Report, Schedule,
};
use stowage_proto::{
    Backoff, Completion, InputError, Instant, Machine, Output, RequestId, Retry, Transmit, TransportError,
};

use support::{Answer, at, delayed, drive, instantly, locked, secs, sized, status, with_length};

const GIB: u64 = 1 << 30;
/// A failed GET's URI: a remote bucket in a named namespace, plus a signing key to be dropped.
const FAILED_URI: &str = "/v1/objects/bck/dir/obj?provider=s3&namespace=%40uuid%23ns&sig=s3cr3t";
/// Where every check-lock goes.
const CHECK_LOCK_URI: &str = "/v1/objects/bck/dir/obj?provider=aws&namespace=%40uuid%23ns";

fn poller(conf: LockPollConfig) -> LockPoller {
    LockPoller::new(support::address(FAILED_URI), conf, 0)
}

fn with_max_wait(max_cold_wait: Duration) -> LockPollConfig {
    LockPollConfig { max_cold_wait, ..LockPollConfig::default() }
}

/// Answers the size HEAD with `head` and every check-lock with 423, instantly.
fn locked_forever(head: impl Fn() -> Answer) -> impl FnMut(&Transmit) -> (Duration, Answer) {
    move |t| (Duration::ZERO, if t.request.method() == Method::HEAD { head() } else { locked() })
}

/// The answer a machine refuses must leave it exactly as it was.
fn assert_refused<M>(machine: &mut M, now: Instant, id: RequestId, expected: InputError)
where
    M: Machine<Input = Completion, Error = InputError> + std::fmt::Debug,
{
    let before = format!("{machine:?}");
    assert_eq!(machine.handle_input(now, Completion { id, result: locked() }), Err(expected));
    assert_eq!(format!("{machine:?}"), before, "a refused completion changed the state");
}

fn transmit<M, T>(machine: &mut M, now: Instant) -> Transmit
where
    M: Machine<Output = Output<T>>,
    T: std::fmt::Debug,
{
    match machine.poll_output(now) {
        Some(Output::Transmit(t)) => t,
        other => panic!("expected a request, got {other:?}"),
    }
}

// ---------------------------------------------------------------------------------------------
// LockPoller

#[test]
fn check_lock_comes_first() {
    let mut p = poller(LockPollConfig::default());
    assert_eq!(p.poll_timeout(), None);
    let t = transmit(&mut p, at(0));
    assert_eq!(t.request.method(), Method::POST);
    assert_eq!(t.request.uri(), CHECK_LOCK_URI);
    assert_eq!(t.request.headers()[header::CONTENT_TYPE], "application/json");
    assert_eq!(&t.request.body()[..], br#"{"action":"check-lock","name":"","value":null}"#);
}

#[test]
fn any_status_but_423_is_not_locked_and_sends_no_head() {
    for code in [100, 200, 204, 404, 409, 500, 503, 999] {
        let mut p = poller(LockPollConfig::default());
        let trace = drive(&mut p, at(5), instantly([status(code)]));
        assert_eq!(trace.outcome, LockWaitOutcome::NotLocked, "status {code}");
        assert_eq!(trace.sent.len(), 1, "status {code}");
        assert_eq!((trace.sleeps.len(), trace.end), (0, at(5)));
        assert_eq!(p.bounds(), None);
    }
}

#[test]
fn first_check_lock_transport_error_gives_up_at_once() {
    for error in TransportError::ALL {
        let mut p = poller(LockPollConfig::default());
        let trace = drive(&mut p, at(0), instantly([Err(error)]));
        let expected =
            LockWaitOutcome::GaveUp { reason: GiveUpReason::CheckLockFailed(error), polls: 0, waited: Duration::ZERO };
        assert_eq!(trace.outcome, expected);
        assert_eq!(trace.sent.len(), 1);
    }
}

#[test]
fn head_keeps_bucket_params_and_adds_presence_and_props() {
    for (enable_remote_head, presence) in [(true, "0"), (false, "2")] {
        let conf = LockPollConfig { enable_remote_head, ..LockPollConfig::default() };
        let trace = drive(&mut poller(conf), at(0), instantly([locked(), sized(0), status(200)]));
        assert_eq!(trace.methods(), [Method::POST, Method::HEAD, Method::POST]);
        let head = &trace.sent[1].1.request;
        assert_eq!(head.uri().to_string(), format!("{CHECK_LOCK_URI}&presence={presence}&props=size"));
        assert!(head.body().is_empty());
        let poll = &trace.sent[2].1.request;
        assert_eq!(poll.uri(), CHECK_LOCK_URI);
        assert_eq!(poll.body(), trace.sent[0].1.request.body());
    }
}

#[test]
fn a_useless_head_answer_means_size_zero() {
    let useless: Vec<(&str, Answer)> = vec![
        ("404", status(404)),
        ("500", status(500)),
        ("206 with a length", with_length(206, b"107374182400")),
        ("read timeout", Err(TransportError::ReadTimeout)),
        ("reset", Err(TransportError::Reset)),
        ("no Content-Length", status(200)),
        ("empty", with_length(200, b"")),
        ("letters", with_length(200, b"abc")),
        ("negative", with_length(200, b"-5")),
        ("exponent", with_length(200, b"1e11")),
        ("hex", with_length(200, b"0x1F")),
        ("two numbers", with_length(200, b"1 2")),
        ("2^64", with_length(200, b"18446744073709551616")),
        ("not UTF-8", with_length(200, b"\xff\xfe1")),
    ];
    let zero = Bounds::for_size(0, &LockPollConfig::default());
    assert_eq!(zero, Bounds { shortest: secs(2), longest: secs(2) });
    for (what, head) in useless {
        let mut p = poller(LockPollConfig::default());
        let trace = drive(&mut p, at(0), instantly([locked(), head, status(200)]));
        assert_eq!(p.bounds(), Some(zero), "{what}");
        assert!(matches!(trace.outcome, LockWaitOutcome::Unlocked { polls: 1, .. }), "{what}");
    }
}

#[test]
fn head_size_scales_the_bounds() {
    let cases = [
        (LockPollConfig::default(), sized(0), secs(2), secs(2)),
        (LockPollConfig::default(), sized(100 * GIB), secs(10), secs(90)),
        (LockPollConfig::default(), with_length(200, b" 107374182400 "), secs(10), secs(90)),
        // Huge sizes: the bounds saturate at the ceiling and half of max_cold_wait.
        (LockPollConfig::default(), sized(1 << 63), secs(10), secs(90)),
        (LockPollConfig::default(), sized(u64::MAX), secs(10), secs(90)),
        (LockPollConfig { est_bandwidth_bps: 1, ..LockPollConfig::default() }, sized(u64::MAX), secs(10), secs(90)),
        (with_max_wait(secs(1000)), sized(u64::MAX), secs(10), secs(500)),
    ];
    for (conf, head, shortest, longest) in cases {
        let mut p = poller(conf.clone());
        drive(&mut p, at(0), instantly([locked(), head, status(200)]));
        assert_eq!(p.bounds(), Some(Bounds { shortest, longest }), "{conf:?}");
        assert!(longest <= conf.max_cold_wait / 2);
    }
}

#[test]
fn sleeps_follow_the_schedule_and_the_last_is_cut_to_the_deadline() {
    let conf = LockPollConfig::default();
    let mut p = poller(conf.clone());
    let trace = drive(&mut p, at(0), locked_forever(|| sized(100 * GIB)));
    // clamp(2·2^(k−1), 10, 90) = 10, 10, 10, 16, 32, 64, 90 — the 90 cut to the 38 s left of 180.
    assert_eq!(trace.sleep_lengths(), [10, 10, 10, 16, 32, 64, 38].map(secs));
    let schedule: Vec<_> = Schedule::new(p.bounds().unwrap(), &conf, 0).collect();
    assert_eq!(trace.sleep_lengths(), schedule);
    let poll_times: Vec<_> = trace.sent[2..].iter().map(|(t, _)| *t).collect();
    assert_eq!(poll_times, [0, 10, 20, 30, 46, 78, 142, 180].map(at));
    let expected = LockWaitOutcome::GaveUp { reason: GiveUpReason::StillLocked, polls: 8, waited: secs(180) };
    assert_eq!(trace.outcome, expected);
}

#[test]
fn unknown_size_polls_every_two_seconds_until_max_cold_wait() {
    let mut p = poller(with_max_wait(secs(60)));
    let trace = drive(&mut p, at(0), locked_forever(|| Err(TransportError::Reset)));
    assert_eq!(trace.sleep_lengths(), vec![secs(2); 30]);
    assert_eq!(
        trace.outcome,
        LockWaitOutcome::GaveUp { reason: GiveUpReason::StillLocked, polls: 31, waited: secs(60) }
    );
}

#[test]
fn zero_max_cold_wait_gives_up_after_the_first_poll() {
    let trace = drive(&mut poller(with_max_wait(Duration::ZERO)), at(3), locked_forever(|| sized(GIB)));
    assert!(trace.sleeps.is_empty());
    let expected = LockWaitOutcome::GaveUp { reason: GiveUpReason::StillLocked, polls: 1, waited: Duration::ZERO };
    assert_eq!(trace.outcome, expected);
}

#[test]
fn unlock_ends_the_wait_with_polls_and_time_from_the_first_poll() {
    // Every answer takes 1 s: check-lock 0→1, HEAD 1→2, poll 1 at 2→3, sleep 2 s, poll 2 at
    // 5→6, sleep 2 s, poll 3 at 8→9 says unlocked.
    let one = secs(1);
    let script = [locked(), sized(0), locked(), locked(), status(200)].map(|a| (one, a));
    let trace = drive(&mut poller(LockPollConfig::default()), at(0), delayed(script));
    assert_eq!(trace.outcome, LockWaitOutcome::Unlocked { polls: 3, waited: secs(7) });
    assert_eq!(trace.end, at(9));
    assert_eq!(trace.sleep_lengths(), [secs(2), secs(2)]);
}

#[test]
fn poll_transport_error_gives_up() {
    let script = [locked(), sized(0), locked(), locked(), Err(TransportError::Reset), locked()];
    let trace = drive(&mut poller(LockPollConfig::default()), at(0), instantly(script));
    let expected = LockWaitOutcome::GaveUp {
        reason: GiveUpReason::CheckLockFailed(TransportError::Reset),
        polls: 3,
        waited: secs(4),
    };
    assert_eq!(trace.outcome, expected);
    assert_eq!(trace.sent.len(), 5);
}

#[test]
fn slow_answers_never_push_a_sleep_past_the_deadline() {
    let conf = with_max_wait(secs(10));
    // Poll 1 takes 9 s: only 1 s is left, so the sleep is cut to 1 s and poll 2 goes out at
    // the deadline; its "locked" ends the wait.
    let script =
        [(Duration::ZERO, locked()), (Duration::ZERO, sized(0)), (secs(9), locked()), (Duration::ZERO, locked())];
    let trace = drive(&mut poller(conf.clone()), at(0), delayed(script));
    assert_eq!(trace.sleep_lengths(), [secs(1)]);
    assert_eq!(trace.sent.last().unwrap().0, at(10));
    assert_eq!(
        trace.outcome,
        LockWaitOutcome::GaveUp { reason: GiveUpReason::StillLocked, polls: 2, waited: secs(10) }
    );

    // A "locked" that arrives after the deadline ends the wait without another sleep.
    let script = [(Duration::ZERO, locked()), (Duration::ZERO, sized(0)), (secs(11), locked())];
    let trace = drive(&mut poller(conf), at(0), delayed(script));
    assert!(trace.sleeps.is_empty());
    assert_eq!(
        trace.outcome,
        LockWaitOutcome::GaveUp { reason: GiveUpReason::StillLocked, polls: 1, waited: secs(11) }
    );
}

#[test]
fn max_cold_wait_beyond_the_end_of_time_still_ends() {
    let trace = drive(&mut poller(with_max_wait(Duration::MAX)), at(0), locked_forever(|| sized(u64::MAX)));
    assert_eq!(trace.end, Instant::MAX);
    assert!(matches!(trace.outcome, LockWaitOutcome::GaveUp { reason: GiveUpReason::StillLocked, .. }));
}

#[test]
fn jitter_stays_between_shortest_and_nominal_and_is_reproducible() {
    let conf = LockPollConfig { jitter: true, ..LockPollConfig::default() };
    let run = |seed| {
        let mut p = LockPoller::new(support::address(FAILED_URI), conf.clone(), seed);
        let trace = drive(&mut p, at(0), locked_forever(|| sized(100 * GIB)));
        (p.bounds().unwrap(), trace.sleep_lengths())
    };
    let (bounds, sleeps) = run(7);
    assert_eq!(sleeps, run(7).1);
    assert_ne!(sleeps, run(8).1);
    assert_eq!(sleeps, Schedule::new(bounds, &conf, 7).collect::<Vec<_>>());
    assert!(sleeps.iter().sum::<Duration>() <= conf.max_cold_wait);
    let (last, full) = sleeps.split_last().unwrap();
    for (k, sleep) in (1..).zip(full) {
        assert!(bounds.shortest <= *sleep && *sleep <= bounds.sleep_after(k, None), "sleep {k}: {sleep:?}");
    }
    assert!(*last <= bounds.sleep_after(sleeps.len() as u32, None));
}

#[test]
fn time_going_backwards_counts_as_no_time_passing() {
    let mut p = poller(LockPollConfig::default());
    let check = transmit(&mut p, at(50));
    p.handle_input(at(50), Completion { id: check.id, result: locked() }).unwrap();
    let head = transmit(&mut p, at(40));
    p.handle_input(at(50), Completion { id: head.id, result: sized(0) }).unwrap();
    let poll = transmit(&mut p, at(0));
    // The answer "arrives" before polling began: taken as 50, the sleep ends at 52.
    p.handle_input(at(10), Completion { id: poll.id, result: locked() }).unwrap();
    assert_eq!(p.poll_timeout(), Some(at(52)));
    for early in [at(0), at(51), at(20)] {
        p.handle_timeout(early);
        assert!(p.poll_output(early).is_none());
    }
    p.handle_timeout(at(52));
    let poll = transmit(&mut p, at(1));
    p.handle_input(at(0), Completion { id: poll.id, result: status(200) }).unwrap();
    let Some(Output::Done(outcome)) = p.poll_output(at(0)) else { panic!("not done") };
    assert_eq!(outcome, LockWaitOutcome::Unlocked { polls: 2, waited: secs(2) });
}

#[test]
fn unexpected_completions_are_refused_and_change_nothing() {
    let mut p = poller(LockPollConfig::default());
    let stray = RequestId(99);
    let check = transmit(&mut p, at(0));
    assert_refused(&mut p, at(1000), stray, InputError::UnexpectedCompletion(stray));
    p.handle_input(at(0), Completion { id: check.id, result: locked() }).unwrap();
    let head = transmit(&mut p, at(0));
    assert_refused(&mut p, at(1000), check.id, InputError::UnexpectedCompletion(check.id));
    p.handle_input(at(0), Completion { id: head.id, result: sized(0) }).unwrap();
    let poll = transmit(&mut p, at(0));
    assert_refused(&mut p, at(1000), head.id, InputError::UnexpectedCompletion(head.id));
    p.handle_input(at(0), Completion { id: poll.id, result: locked() }).unwrap();
    // Asleep, nothing is outstanding: even the last poll's id is refused.
    assert_refused(&mut p, at(1000), poll.id, InputError::UnexpectedCompletion(poll.id));
    assert_eq!(p.poll_timeout(), Some(at(2)));
    p.handle_timeout(at(2));
    let poll = transmit(&mut p, at(2));
    p.handle_input(at(2), Completion { id: poll.id, result: status(200) }).unwrap();
    // Refused inputs moved no clock: the wait is 2 s, not 1000.
    let Some(Output::Done(outcome)) = p.poll_output(at(2)) else { panic!("not done") };
    assert_eq!(outcome, LockWaitOutcome::Unlocked { polls: 2, waited: secs(2) });
    assert_refused(&mut p, at(1000), poll.id, InputError::Finished);
}

#[test]
fn nothing_after_done() {
    let mut p = poller(LockPollConfig::default());
    drive(&mut p, at(0), instantly([status(200)]));
    assert!(p.is_done());
    p.handle_timeout(Instant::MAX);
    assert!(p.poll_output(Instant::MAX).is_none());
    assert_eq!(p.poll_timeout(), None);
    assert_refused(&mut p, at(1), RequestId(0), InputError::Finished);
}

// ---------------------------------------------------------------------------------------------
// ColdGet

const REMOTE_GET: &str = "/v1/objects/bck/obj?provider=aws&sig=s3cr3t";

fn request(method: Method, uri: &str) -> http::Request<Bytes> {
    http::Request::builder().method(method).uri(uri).body(Bytes::new()).unwrap()
}

/// Retries with a fixed (jitter-free) network backoff of 1, 2, 4, … s up to 30 s.
fn retry(max_attempts: u32) -> ColdGetConfig {
    let backoff = Backoff { multiplier: 1.0, min: secs(1), max: secs(30) };
    ColdGetConfig { retry: Retry { max_attempts, backoff, jitter: false }, lock: LockPollConfig::default() }
}

/// Answers attempts (requests equal to `original`) from `attempts`, lock-wait requests from
/// `locks`, instantly.
fn answers<A, L>(
    original: &http::Request<Bytes>,
    attempts: A,
    locks: L,
) -> impl FnMut(&Transmit) -> (Duration, Answer) + use<A, L>
where
    A: IntoIterator<Item = Answer>,
    L: IntoIterator<Item = Answer>,
{
    let (method, uri) = (original.method().clone(), original.uri().clone());
    let (mut attempts, mut locks) = (instantly(attempts), instantly(locks));
    move |t| if t.request.method() == method && t.request.uri() == &uri { attempts(t) } else { locks(t) }
}

fn run(
    req: http::Request<Bytes>,
    conf: ColdGetConfig,
    attempts: Vec<Answer>,
    locks: Vec<Answer>,
) -> support::Trace<ColdGetOutcome> {
    let answer = answers(&req, attempts, locks);
    drive(&mut ColdGet::new(req, conf, 0), at(0), answer)
}

fn report(outcome: &ColdGetOutcome) -> &Report {
    match outcome {
        ColdGetOutcome::Response { report, .. } | ColdGetOutcome::Failed { report, .. } => report,
    }
}

#[test]
fn read_timeout_of_a_remote_get_waits_for_the_lock_then_backs_off_then_retries() {
    let req = request(Method::GET, REMOTE_GET);
    let locks = vec![locked(), status(200), locked(), status(200)];
    let trace = run(req.clone(), retry(7), vec![Err(TransportError::ReadTimeout), status(200)], locks);
    use Method as M;
    assert_eq!(trace.methods(), [M::GET, M::POST, M::HEAD, M::POST, M::POST, M::GET]);
    // The lock wait's 2 s sleep, then the network backoff's 1 s.
    assert_eq!(trace.sleep_lengths(), [secs(2), secs(1)]);
    let (sent_at, retried) = trace.sent.last().unwrap();
    assert_eq!((retried.request.method(), retried.request.uri()), (req.method(), req.uri()));
    assert_eq!(*sent_at, at(3));
    let expected_report = Report {
        attempts: 2,
        lock_waits: vec![LockWaitOutcome::Unlocked { polls: 2, waited: secs(2) }],
        ineligible: None,
    };
    assert_eq!(trace.outcome, ColdGetOutcome::Response { id: retried.id, report: expected_report });
}

#[test]
fn other_transport_errors_back_off_without_a_lock_wait() {
    for error in TransportError::ALL.into_iter().filter(|e| *e != TransportError::ReadTimeout && !e.is_permanent()) {
        let trace = run(request(Method::GET, REMOTE_GET), retry(7), vec![Err(error), status(200)], vec![]);
        assert_eq!(trace.methods(), [Method::GET, Method::GET], "{error}");
        assert_eq!(trace.sleep_lengths(), [secs(1)]);
        assert!(report(&trace.outcome).lock_waits.is_empty());
    }
}

#[test]
fn a_redirect_that_could_not_be_followed_or_a_tls_failure_is_not_retried() {
    for error in TransportError::ALL.into_iter().filter(|e| e.is_permanent()) {
        let trace = run(request(Method::GET, REMOTE_GET), retry(7), vec![Err(error), status(200)], vec![]);
        assert_eq!(trace.methods(), [Method::GET], "{error}");
        assert!(trace.sleep_lengths().is_empty());
        let ColdGetOutcome::Failed { error: failed, report } = &trace.outcome else { panic!("{:?}", trace.outcome) };
        assert_eq!((*failed, report.attempts), (error, 1));
        assert!(report.lock_waits.is_empty());
    }
}

#[test]
fn ineligible_requests_back_off_without_a_lock_wait() {
    let cases = [
        (Method::PUT, REMOTE_GET, Ineligible::NotGet),
        (Method::HEAD, REMOTE_GET, Ineligible::NotGet),
        (Method::GET, "/v1/objects/bck/obj?provider=ais", Ineligible::NotRemote),
        (Method::GET, "/v1/objects/bck/obj", Ineligible::NotRemote),
    ];
    for (method, uri, why) in cases {
        let trace =
            run(request(method.clone(), uri), retry(7), vec![Err(TransportError::ReadTimeout), status(200)], vec![]);
        assert_eq!(trace.methods(), [method.clone(), method]);
        assert_eq!(trace.sleep_lengths(), [secs(1)]);
        let report = report(&trace.outcome);
        assert!(report.lock_waits.is_empty());
        assert_eq!(report.ineligible, Some(why));
    }
    let trace = run(
        request(Method::GET, "/v1/buckets/bck?provider=aws"),
        retry(2),
        vec![Err(TransportError::ReadTimeout); 2],
        vec![],
    );
    assert!(matches!(report(&trace.outcome).ineligible, Some(Ineligible::NotAnObject(_))));
    assert!(report(&trace.outcome).lock_waits.is_empty());
}

#[test]
fn max_attempts_bounds_the_attempts_and_zero_means_one() {
    for (max_attempts, attempts) in [(0, 1), (1, 1), (2, 2), (5, 5)] {
        let trace =
            run(request(Method::GET, REMOTE_GET), retry(max_attempts), vec![Err(TransportError::Reset); 9], vec![]);
        assert_eq!(trace.sent.len(), attempts as usize, "max_attempts {max_attempts}");
        let ColdGetOutcome::Failed { error, report } = trace.outcome else { panic!("not failed") };
        assert_eq!((error, report.attempts), (TransportError::Reset, attempts));
    }
    // Read timeouts: a lock wait after every failed attempt but the last.
    let trace = run(
        request(Method::GET, REMOTE_GET),
        retry(3),
        vec![Err(TransportError::ReadTimeout); 3],
        vec![status(200), status(200)],
    );
    use Method as M;
    assert_eq!(trace.methods(), [M::GET, M::POST, M::GET, M::POST, M::GET]);
    let ColdGetOutcome::Failed { error, report } = trace.outcome else { panic!("not failed") };
    assert_eq!(error, TransportError::ReadTimeout);
    assert_eq!((report.attempts, report.lock_waits), (3, vec![LockWaitOutcome::NotLocked; 2]));
}

#[test]
fn any_http_status_is_a_response() {
    for code in [200, 206, 404, 423, 500, 503] {
        let trace = run(request(Method::GET, REMOTE_GET), retry(7), vec![status(code)], vec![]);
        let report = Report { attempts: 1, ..Report::default() };
        assert_eq!(trace.outcome, ColdGetOutcome::Response { id: RequestId(0), report }, "status {code}");
    }
}

#[test]
fn backoff_delays_follow_the_network_retry() {
    let mut attempts = vec![Err(TransportError::Reset); 6];
    attempts.push(status(200));
    let conf = retry(7);
    let trace = run(request(Method::GET, REMOTE_GET), conf.clone(), attempts.clone(), vec![]);
    assert_eq!(trace.sleep_lengths(), [1, 2, 4, 8, 16, 30].map(secs));
    let nominal: Vec<_> = (1..=6).map(|k| conf.retry.backoff.delay(k)).collect();
    assert_eq!(trace.sleep_lengths(), nominal);

    // With jitter: each delay in [min, nominal], the same for the same seed.
    let jittered = ColdGetConfig { retry: Retry { jitter: true, ..conf.retry }, ..conf };
    let run_seeded = |seed| {
        let req = request(Method::GET, REMOTE_GET);
        let answer = answers(&req, attempts.clone(), vec![]);
        drive(&mut ColdGet::new(req, jittered.clone(), seed), at(0), answer).sleep_lengths()
    };
    let sleeps = run_seeded(3);
    assert_eq!(sleeps, run_seeded(3));
    assert_ne!(sleeps, run_seeded(4));
    for (sleep, nominal) in sleeps.iter().zip(&nominal) {
        assert!(secs(1) <= *sleep && sleep <= nominal, "{sleep:?} > {nominal:?}");
    }
}

#[test]
fn report_sums_polls_and_waits_over_lock_waits() {
    let locks = vec![
        // Wait 1: locked, size 0, poll 1 locked, poll 2 unlocked after 2 s.
        locked(),
        status(200),
        locked(),
        status(200),
        // Wait 2: locked, size 0, poll 1 fails.
        locked(),
        status(200),
        Err(TransportError::Reset),
        // Wait 3: not locked.
        status(200),
    ];
    let trace = run(request(Method::GET, REMOTE_GET), retry(4), vec![Err(TransportError::ReadTimeout); 4], locks);
    let report = report(&trace.outcome);
    assert_eq!(
        report.lock_waits,
        [
            LockWaitOutcome::Unlocked { polls: 2, waited: secs(2) },
            LockWaitOutcome::GaveUp {
                reason: GiveUpReason::CheckLockFailed(TransportError::Reset),
                polls: 1,
                waited: Duration::ZERO
            },
            LockWaitOutcome::NotLocked,
        ]
    );
    assert_eq!((report.polls(), report.waited()), (3, secs(2)));
}

#[test]
fn cold_get_refuses_unexpected_completions_and_changes_nothing() {
    let conf = retry(3);
    let mut get = ColdGet::new(request(Method::GET, REMOTE_GET), conf, 0);
    let stray = RequestId(99);
    let first = transmit(&mut get, at(0));
    assert_refused(&mut get, at(1000), stray, InputError::UnexpectedCompletion(stray));
    get.handle_input(at(0), Completion { id: first.id, result: Err(TransportError::ReadTimeout) }).unwrap();
    let check = transmit(&mut get, at(0));
    assert_refused(&mut get, at(1000), first.id, InputError::UnexpectedCompletion(first.id));
    get.handle_input(at(0), Completion { id: check.id, result: locked() }).unwrap();
    let head = transmit(&mut get, at(0));
    get.handle_input(at(0), Completion { id: head.id, result: sized(0) }).unwrap();
    let poll = transmit(&mut get, at(0));
    get.handle_input(at(0), Completion { id: poll.id, result: locked() }).unwrap();
    // The poller sleeps: nothing is outstanding.
    assert_refused(&mut get, at(1000), poll.id, InputError::UnexpectedCompletion(poll.id));
    get.handle_timeout(at(2));
    let poll = transmit(&mut get, at(2));
    get.handle_input(at(2), Completion { id: poll.id, result: status(200) }).unwrap();
    assert!(get.poll_output(at(2)).is_none());
    // Backing off: nothing is outstanding.
    assert_refused(&mut get, at(1000), poll.id, InputError::UnexpectedCompletion(poll.id));
    assert_eq!(get.poll_timeout(), Some(at(3)));
    get.handle_timeout(at(3));
    let second = transmit(&mut get, at(3));
    get.handle_input(at(3), Completion { id: second.id, result: status(200) }).unwrap();
    let Some(Output::Done(ColdGetOutcome::Response { id, report })) = get.poll_output(at(3)) else {
        panic!("not done")
    };
    assert_eq!((id, report.waited()), (second.id, secs(2)));
    assert_refused(&mut get, at(1000), second.id, InputError::Finished);
}
