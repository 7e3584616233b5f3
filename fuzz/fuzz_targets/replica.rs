//! Fuzzes `BlockWrite` with any service set (kinds, read-only flags, odd uuids), any wanted
//! count, classes, classifier and retry policy, any answers (every status code, any
//! replica and class headers, any body, transport errors), completions in any order, stray
//! request ids, clock jumps in both directions and spurious wake-ups, and checks:
//!
//! - nothing panics;
//! - a completion of a PUT in flight is accepted, any other is refused;
//! - every PUT goes to a writable service, at most once per pass, and services are first
//!   contacted in write order;
//! - with all-disk services and no classes, no PUT starts when confirmed + in flight ≥ wanted;
//!   with any other service, at most one PUT is in flight;
//! - at most `retries + 1` passes; the outcome lists exactly the contacted services, in write
//!   order; `Stored` has at least `wanted` copies and `Failed` fewer;
//! - after `Done`, nothing is emitted, no timer is set and every input is refused.
#![no_main]

use std::collections::BTreeSet;
use std::time::Duration;

use arbitrary::Arbitrary;
use bytes::Bytes;
use libfuzzer_sys::fuzz_target;
use stowage_proto::{Backoff, Completion, InputError, Instant, Machine, Output, RequestId, Retry, TransportError};
use stowage_replica::{
    Block, BlockWrite, Classifier, MeasuredFrom, PassSchedule, Service, ServiceKind, WriteConfig, WriteOutcome,
    write_order,
};

#[derive(Debug, Arbitrary)]
struct Case {
    services: Vec<(u8, bool, Option<String>)>,
    wanted: u8,
    classes: Vec<u8>,
    classifier: u8,
    retries: u8,
    delay_millis: u32,
    from_start: bool,
    data: Vec<u8>,
    events: Vec<Event>,
}

#[derive(Debug, Arbitrary)]
enum Event {
    /// Answer the in-flight PUT at this position (modulo) with this answer.
    Answer(u8, Reply),
    /// Feed a completion for a made-up id.
    Stray(u64),
    /// Move the clock (forwards or backwards) by this many milliseconds.
    Clock(i32),
    /// Wake the machine now.
    Wake,
    /// Drain outputs.
    Poll,
}

#[derive(Debug, Arbitrary)]
enum Reply {
    Status(u16, Option<Vec<u8>>, Option<Vec<u8>>, Vec<u8>),
    Transport(u8),
}

fn response(reply: Reply) -> Result<http::Response<Bytes>, TransportError> {
    match reply {
        Reply::Transport(e) => Err(TransportError::ALL[usize::from(e) % TransportError::ALL.len()]),
        Reply::Status(code, replicas, classes, body) => {
            let mut response = http::Response::new(Bytes::from(body));
            *response.status_mut() = http::StatusCode::from_u16(code % 900 + 100).unwrap_or(http::StatusCode::OK);
            let headers = response.headers_mut();
            if let Some(value) = replicas.and_then(|v| http::HeaderValue::from_bytes(&v).ok()) {
                headers.insert("x-keep-replicas-stored", value);
            }
            if let Some(value) = classes.and_then(|v| http::HeaderValue::from_bytes(&v).ok()) {
                headers.insert("x-keep-storage-classes-confirmed", value);
            }
            Ok(response)
        }
    }
}

struct Checker {
    services: Vec<Service>,
    /// Writable services (indices) in write order.
    order: Vec<usize>,
    one_at_a_time: bool,
    no_classes: bool,
    wanted: u64,
    max_passes: u32,
    in_flight: Vec<(RequestId, usize)>,
    per_pass: BTreeSet<(u32, usize)>,
    contacted: Vec<usize>,
}

impl Checker {
    fn sent(&mut self, write: &BlockWrite, id: RequestId, request: &http::Request<Bytes>) {
        // Services are told apart by their root (uuids may repeat).
        let host = request.uri().authority().map(|a| a.as_str().to_owned()).unwrap_or_default();
        let index = self
            .services
            .iter()
            .position(|s| s.root().authority().map(|a| a.as_str()) == Some(host.as_str()))
            .expect("a PUT to an unknown service");
        assert!(self.services[index].is_writable());
        let pass = write.pass();
        assert!(pass >= 1 && pass <= self.max_passes, "pass {pass}");
        assert!(self.per_pass.insert((pass, index)), "service {index} twice in pass {pass}");
        if !self.contacted.contains(&index) {
            self.contacted.push(index);
            assert_eq!(self.contacted[..], self.order[..self.contacted.len()], "first contacts out of order");
        }
        self.in_flight.push((id, index));
        if self.one_at_a_time {
            assert_eq!(write.in_flight(), 1);
        } else if self.no_classes {
            assert!(write.confirmed() + write.in_flight() as u64 <= self.wanted);
        }
    }

    fn done(&self, outcome: &WriteOutcome) {
        let listed: Vec<&str> = outcome.per_service().iter().map(|s| s.uuid.as_str()).collect();
        let contacted: Vec<&str> = self.contacted.iter().map(|&i| self.services[i].uuid()).collect();
        assert_eq!(listed, contacted);
        assert!(outcome.passes() <= self.max_passes);
        match outcome {
            WriteOutcome::Stored { copies, .. } => assert!(*copies >= self.wanted),
            WriteOutcome::Failed { got, .. } => assert!(*got < self.wanted || !self.no_classes),
        }
    }
}

fuzz_target!(|case: Case| {
    let services: Vec<Service> = case
        .services
        .iter()
        .take(16)
        .enumerate()
        .map(|(j, (kind, read_only, uuid))| {
            let kind = match kind % 5 {
                0 => ServiceKind::Proxy,
                1 => ServiceKind::from_type(Some("gateway:x")),
                2 => ServiceKind::Other(String::new()),
                _ => ServiceKind::Disk,
            };
            let uuid = uuid.clone().unwrap_or_else(|| format!("zzzzz-bi6l4-{j:015x}"));
            let s = Service::new(uuid, &format!("http://keep{j}:1"), kind).unwrap();
            if *read_only { s.read_only() } else { s }
        })
        .collect();
    let classes: Vec<String> = case.classes.iter().take(4).map(|c| format!("class{}", c % 5)).collect();
    let delay = Duration::from_millis(u64::from(case.delay_millis));
    let backoff = Backoff { multiplier: delay.as_secs_f64(), min: Duration::ZERO, max: delay * 4 };
    let from = if case.from_start { MeasuredFrom::PassStart } else { MeasuredFrom::PassEnd };
    let retry = Retry { max_attempts: u32::from(case.retries % 8) + 1, backoff, jitter: false };
    let policy = PassSchedule { retry, from };
    let classifier = Classifier::ALL[usize::from(case.classifier) % 3];
    let wanted = u32::from(case.wanted % 8);
    let config = WriteConfig {
        classes: classes.clone(),
        policy,
        classifier,
        token: Some("t".into()),
        ..WriteConfig::new(wanted, "req-x")
    };
    let Ok(block) = Block::new(Bytes::from(case.data)) else { return };
    let hash = block.hash();
    let mut write = BlockWrite::new(block, &services, config).unwrap();
    let order = write_order(&hash, &services);
    let mut checker = Checker {
        one_at_a_time: write.is_one_at_a_time(),
        no_classes: classes.is_empty(),
        wanted: u64::from(wanted),
        max_passes: policy.max_passes(),
        services,
        order,
        in_flight: vec![],
        per_pass: BTreeSet::new(),
        contacted: vec![],
    };
    let mut now = Instant::from_nanos(1 << 40);
    let mut finished = false;
    let drain = |write: &mut BlockWrite, checker: &mut Checker, now: Instant, finished: &mut bool| {
        while let Some(output) = write.poll_output(now) {
            assert!(!*finished, "output after Done");
            match output {
                Output::Transmit(t) => checker.sent(write, t.id, &t.request),
                Output::Done(outcome) => {
                    checker.done(&outcome);
                    *finished = true;
                }
            }
        }
        if *finished {
            assert!(write.poll_timeout().is_none());
        }
    };
    for event in case.events.into_iter().take(512) {
        match event {
            Event::Answer(at, reply) => {
                if checker.in_flight.is_empty() {
                    continue;
                }
                let (id, _) = checker.in_flight.remove(usize::from(at) % checker.in_flight.len());
                let result = write.handle_input(now, Completion { id, result: response(reply) });
                if finished {
                    assert_eq!(result, Err(InputError::Finished));
                } else {
                    assert_eq!(result, Ok(()));
                }
            }
            Event::Stray(id) => {
                if checker.in_flight.iter().any(|(known, _)| known.0 == id) {
                    continue;
                }
                let result =
                    write.handle_input(now, Completion { id: RequestId(id), result: Err(TransportError::Other) });
                assert!(result.is_err());
            }
            Event::Clock(ms) => {
                let step = Duration::from_millis(u64::from(ms.unsigned_abs()));
                now = if ms >= 0 {
                    now.saturating_add(step)
                } else {
                    Instant::from_nanos(now.as_nanos().saturating_sub(step.as_nanos() as u64))
                };
            }
            Event::Wake => {
                if let Some(at) = write.poll_timeout() {
                    now = now.max(at);
                }
                write.handle_timeout(now);
            }
            Event::Poll => {}
        }
        drain(&mut write, &mut checker, now, &mut finished);
    }
});
