//! What the rule tests and the property tests share: canned answers, and a driver that runs any
//! of the crate's machines against scripted answers, records what it did, and checks the
//! contract every machine keeps (one request at a time, early wake-ups are harmless, nothing
//! after `Done`).

// Each test binary uses its own part of this module.
#![allow(dead_code)]

use std::time::Duration;

use stowage_proto::ais::ObjectAddress;
use stowage_proto::{Completion, InputError, Instant, Machine, Output, RequestId, Transmit, TransportError};

/// What a request gets back: a response head, or a transport failure.
pub(crate) type Answer = Result<http::Response<()>, TransportError>;

/// A response head with `status` and no headers.
pub(crate) fn status(code: u16) -> Answer {
    Ok(http::Response::builder().status(code).body(()).unwrap())
}

/// 423 Locked: check-lock's answer while the object is write-locked.
pub(crate) fn locked() -> Answer {
    status(423)
}

/// A response head with `status` and a `Content-Length` of exactly these bytes.
pub(crate) fn with_length(code: u16, value: &[u8]) -> Answer {
    let value = http::HeaderValue::from_bytes(value).unwrap();
    Ok(http::Response::builder().status(code).header(http::header::CONTENT_LENGTH, value).body(()).unwrap())
}

/// A 200 HEAD answer for an object of `size` bytes.
pub(crate) fn sized(size: u64) -> Answer {
    with_length(200, size.to_string().as_bytes())
}

/// The address of an object, from a request URI.
pub(crate) fn address(uri: &str) -> ObjectAddress {
    ObjectAddress::from_uri(&uri.parse().unwrap()).unwrap()
}

/// `n` seconds.
pub(crate) const fn secs(n: u64) -> Duration {
    Duration::from_secs(n)
}

/// The instant `n` seconds after the epoch.
pub(crate) const fn at(n: u64) -> Instant {
    Instant::from_nanos(n * 1_000_000_000)
}

/// Everything a run did.
#[derive(Debug)]
pub(crate) struct Trace<T> {
    /// Each request, with the instant it was emitted.
    pub(crate) sent: Vec<(Instant, Transmit)>,
    /// Each sleep: the instant the machine went idle and the instant it asked to be woken.
    pub(crate) sleeps: Vec<(Instant, Instant)>,
    /// When the machine finished.
    pub(crate) end: Instant,
    /// What it finished with.
    pub(crate) outcome: T,
}

impl<T> Trace<T> {
    /// The length of each sleep, in order.
    pub(crate) fn sleep_lengths(&self) -> Vec<Duration> {
        self.sleeps.iter().map(|(from, until)| until.saturating_duration_since(*from)).collect()
    }

    /// The method of each request, in order.
    pub(crate) fn methods(&self) -> Vec<http::Method> {
        self.sent.iter().map(|(_, t)| t.request.method().clone()).collect()
    }
}

/// A run longer than this is a machine that never finishes.
pub(crate) const MAX_STEPS: usize = 100_000;

/// Runs `machine` from `start` until it is done, answering each request with `answer` (which
/// says how long the answer takes and what it is) and waking the machine exactly when it asks.
///
/// Checks on the way: no second output and no timer while a request is outstanding; an early
/// or spurious `handle_timeout` does nothing; every completion of the outstanding request is
/// accepted; after `Done`, nothing is emitted, no timer is set and inputs are refused.
pub(crate) fn drive<M, T>(
    machine: &mut M,
    start: Instant,
    mut answer: impl FnMut(&Transmit) -> (Duration, Answer),
) -> Trace<T>
where
    M: Machine<Input = Completion, Output = Output<T>, Error = InputError>,
{
    let mut now = start;
    let mut sent = Vec::new();
    let mut sleeps = Vec::new();
    for _ in 0..MAX_STEPS {
        match machine.poll_output(now) {
            Some(Output::Transmit(transmit)) => {
                let id = transmit.id;
                assert!(machine.poll_output(now).is_none(), "a second output while {id} is outstanding");
                assert_eq!(machine.poll_timeout(), None, "a timer while {id} is outstanding");
                machine.handle_timeout(now);
                assert!(
                    machine.poll_output(now).is_none(),
                    "a spurious wake-up emitted something while {id} is outstanding"
                );
                let (delay, result) = answer(&transmit);
                sent.push((now, transmit));
                now = now.saturating_add(delay);
                machine.handle_input(now, Completion { id, result }).unwrap();
            }
            Some(Output::Done(outcome)) => {
                assert!(machine.poll_output(now).is_none(), "output after Done");
                assert_eq!(machine.poll_timeout(), None, "a timer after Done");
                machine.handle_timeout(Instant::MAX);
                assert!(machine.poll_output(Instant::MAX).is_none(), "output after Done");
                let late = Completion { id: RequestId(0), result: Err(TransportError::Other) };
                assert_eq!(machine.handle_input(now, late), Err(InputError::Finished));
                return Trace { sent, sleeps, end: now, outcome };
            }
            None => {
                let wake = machine.poll_timeout().expect("no output, no request outstanding and no timer: stuck");
                if wake > now {
                    machine.handle_timeout(now);
                    assert!(machine.poll_output(now).is_none(), "woken early, it emitted something");
                }
                sleeps.push((now, wake));
                now = now.max(wake);
                machine.handle_timeout(now);
            }
        }
    }
    panic!("not done after {MAX_STEPS} steps");
}

/// An `answer` for [`drive`] that hands out `script` in order, each taking no time.
pub(crate) fn instantly(script: impl IntoIterator<Item = Answer>) -> impl FnMut(&Transmit) -> (Duration, Answer) {
    let mut script = script.into_iter();
    move |t| (Duration::ZERO, script.next().unwrap_or_else(|| panic!("unscripted request {:?}", t.request)))
}

/// An `answer` for [`drive`] that hands out `script` in order, each taking its delay.
pub(crate) fn delayed(
    script: impl IntoIterator<Item = (Duration, Answer)>,
) -> impl FnMut(&Transmit) -> (Duration, Answer) {
    let mut script = script.into_iter();
    move |t| script.next().unwrap_or_else(|| panic!("unscripted request {:?}", t.request))
}
