//! What the rule tests and the property tests share: services, canned answers, and a driver
//! that runs a write against scripted answers and records what it did.

// Each test binary uses its own part of this module.
#![allow(dead_code)]

use std::collections::VecDeque;
use std::time::Duration;

use bytes::Bytes;
use stowage_proto::{Completion, InputError, Instant, Machine, Output, RequestId, Retry, TransportError};
use stowage_replica::{Block, BlockWrite, PassSchedule, Service, ServiceKind, WriteConfig, WriteOutcome};

/// What a PUT gets back.
pub(crate) type Answer = Result<http::Response<Bytes>, TransportError>;

/// The uuid of service `j` in the spec's test vectors: `zzzzz-bi6l4-{j:015x}`.
pub(crate) fn uuid(j: usize) -> String {
    format!("zzzzz-bi6l4-{j:015x}")
}

/// `n` services of `kind`, `zzzzz-bi6l4-{j:015x}` at `http://keep{j}.test:25107/`.
pub(crate) fn services(n: usize, kind: &ServiceKind) -> Vec<Service> {
    (0..n).map(|j| Service::new(uuid(j), &format!("http://keep{j}.test:25107"), kind.clone()).unwrap()).collect()
}

/// `n` disk services.
pub(crate) fn disks(n: usize) -> Vec<Service> {
    services(n, &ServiceKind::Disk)
}

/// The index `j` of a service from its uuid or a request URI's host (`keep{j}.test`).
pub(crate) fn index_of_host(uri: &http::Uri) -> usize {
    let host = uri.host().unwrap();
    host.trim_start_matches("keep").trim_end_matches(".test").parse().unwrap()
}

/// The index `j` of a service from its uuid.
pub(crate) fn index_of_uuid(uuid: &str) -> usize {
    usize::from_str_radix(&uuid[12..], 16).unwrap()
}

/// The block `foo`.
pub(crate) fn foo() -> Block {
    Block::new(Bytes::from_static(b"foo")).unwrap()
}

/// A write config wanting `wanted` copies.
pub(crate) fn config(wanted: u32) -> WriteConfig {
    WriteConfig::new(wanted, "req-abcdefghij0123456789")
}

/// A keepstore's 2xx: the signed locator as body, `X-Keep-Replicas-Stored: 1` and an empty
/// `X-Keep-Storage-Classes-Confirmed`.
pub(crate) fn stored() -> Answer {
    with_headers(200, &[("x-keep-replicas-stored", "1"), ("x-keep-storage-classes-confirmed", "")])
}

/// A 2xx with these headers and a signed-locator body.
pub(crate) fn with_headers(status: u16, headers: &[(&str, &str)]) -> Answer {
    let mut builder = http::Response::builder().status(status);
    for (name, value) in headers {
        builder = builder.header(*name, *value);
    }
    let body = if (200..300).contains(&status) { "acbd18db4cc2f85cedef654fccc4a4d8+3+Afeed@12345678\n" } else { "" };
    Ok(builder.body(Bytes::from_static(body.as_bytes())).unwrap())
}

/// An answer with `status` and no headers or body.
pub(crate) fn status(code: u16) -> Answer {
    Ok(http::Response::builder().status(code).body(Bytes::new()).unwrap())
}

/// `schedule` with `n` passes in all.
pub(crate) fn passes(n: u32, schedule: PassSchedule) -> PassSchedule {
    PassSchedule { retry: Retry { max_attempts: n, ..schedule.retry }, ..schedule }
}

/// `n` seconds.
pub(crate) const fn secs(n: u64) -> Duration {
    Duration::from_secs(n)
}

/// The instant `n` seconds after the epoch.
pub(crate) const fn at(n: u64) -> Instant {
    Instant::from_nanos(n * 1_000_000_000)
}

/// Which in-flight PUT the driver answers next.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Order {
    /// The oldest first.
    Fifo,
    /// The newest first (staggered answers).
    Lifo,
    /// A pseudo-random one, from this seed.
    Shuffled(u64),
}

/// One PUT the machine sent.
#[derive(Clone, Debug)]
pub(crate) struct Sent {
    pub(crate) at: Instant,
    pub(crate) service: usize,
    pub(crate) pass: u32,
    pub(crate) request: http::Request<Bytes>,
    /// PUTs in flight once this one started (itself included).
    pub(crate) in_flight: usize,
    /// Replicas confirmed when it started.
    pub(crate) confirmed: u64,
}

/// Everything a run did.
#[derive(Debug)]
pub(crate) struct Trace {
    pub(crate) sent: Vec<Sent>,
    pub(crate) end: Instant,
    pub(crate) outcome: WriteOutcome,
}

impl Trace {
    /// The services, in the order PUTs were sent.
    pub(crate) fn services(&self) -> Vec<usize> {
        self.sent.iter().map(|s| s.service).collect()
    }

    /// The services PUT in pass `pass`.
    pub(crate) fn pass(&self, pass: u32) -> Vec<usize> {
        self.sent.iter().filter(|s| s.pass == pass).map(|s| s.service).collect()
    }

    /// When each pass's first PUT was sent.
    pub(crate) fn pass_starts(&self) -> Vec<Instant> {
        let mut starts: Vec<Instant> = vec![];
        let mut last = 0;
        for s in &self.sent {
            if s.pass != last {
                starts.push(s.at);
                last = s.pass;
            }
        }
        starts
    }

    /// The most PUTs in flight at once.
    pub(crate) fn max_in_flight(&self) -> usize {
        self.sent.iter().map(|s| s.in_flight).max().unwrap_or(0)
    }
}

/// A run longer than this is a machine that never finishes.
pub(crate) const MAX_STEPS: usize = 100_000;

/// Runs `write`, answering each PUT with `answer(service index, attempt on that service)`
/// in `order`, each answer one second after the previous one, and checks
/// the contract every machine keeps.
pub(crate) fn run(mut write: BlockWrite, mut order: Order, mut answer: impl FnMut(usize, u32) -> Answer) -> Trace {
    let mut now = Instant::ZERO;
    let mut sent = vec![];
    let mut in_flight: VecDeque<(RequestId, usize, u32)> = VecDeque::new();
    let mut attempts = std::collections::HashMap::<usize, u32>::new();
    for _ in 0..MAX_STEPS {
        while let Some(output) = write.poll_output(now) {
            match output {
                Output::Transmit(t) => {
                    let service = index_of_host(t.request.uri());
                    let attempt = attempts.entry(service).or_default();
                    *attempt += 1;
                    in_flight.push_back((t.id, service, *attempt));
                    sent.push(Sent {
                        at: now,
                        service,
                        pass: write.pass(),
                        request: t.request,
                        in_flight: write.in_flight(),
                        confirmed: write.confirmed(),
                    });
                }
                Output::Done(outcome) => {
                    assert!(write.poll_output(now).is_none(), "output after Done");
                    assert!(write.poll_timeout().is_none(), "timer after Done");
                    let late = write.handle_input(now, Completion { id: RequestId(u64::MAX), result: status(200) });
                    assert_eq!(late, Err(InputError::Finished));
                    return Trace { sent, end: now, outcome };
                }
            }
        }
        let next = match order {
            Order::Fifo => in_flight.pop_front(),
            Order::Lifo => in_flight.pop_back(),
            Order::Shuffled(ref mut state) => {
                *state = state.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
                let len = in_flight.len().max(1) as u64;
                in_flight.remove(usize::try_from((*state >> 33) % len).unwrap())
            }
        };
        if let Some((id, service, attempt)) = next {
            now = now.saturating_add(secs(1));
            write.handle_input(now, Completion { id, result: answer(service, attempt) }).unwrap();
            continue;
        }
        let wake = write.poll_timeout().expect("stalled: nothing in flight, no timer, not done");
        if wake > now {
            // An early wake-up is harmless.
            write.handle_timeout(now);
            assert!(write.poll_output(now).is_none(), "woke early and acted");
            now = wake;
        }
        write.handle_timeout(now);
    }
    panic!("no outcome after {MAX_STEPS} steps");
}
