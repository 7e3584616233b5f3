//! Fuzzes `JobWait` over raw JSON bytes and over decoded snapshot sequences, with any
//! configuration, statuses, transport errors, stray ids, clock jumps both ways and spurious
//! wake-ups, and checks its invariants:
//!
//! - nothing panics; any body is a decision or a typed error;
//! - at most one request is outstanding; its completion is accepted, any other refused;
//! - no wake-up is scheduled past the deadline (`first request + timeout`), and an answer
//!   after the deadline ends the wait (a late wake-up still gets its one poll);
//! - a wait decided on a snapshot poll that shows an abort fails, on that very poll;
//! - after `Done`, nothing is emitted, no timer is set and every input is refused;
//! - parsing, serialising and parsing again gives the same snapshots.
#![no_main]

use std::time::Duration;

use arbitrary::Arbitrary;
use bytes::Bytes;
use libfuzzer_sys::fuzz_target;
use stowage_jobwait::{Dispatch, JobSnap, JobWait, Snapshots, Strategy, TargetSnaps, Timestamp, WaitConfig};
use stowage_proto::{Completion, InputError, Instant, Machine, Output, RequestId, Transmit, TransportError};

#[derive(Debug, Arbitrary)]
struct Case {
    job_id: bool,
    kind: Kind,
    mode: u8,
    timeout_ms: u32,
    interval_ms: Option<u16>,
    backoff_cap_ms: Option<u32>,
    idle_streak: u8,
    events: Vec<Event>,
}

#[derive(Debug, Arbitrary)]
enum Kind {
    Empty,
    Idle,
    Single,
    Terminal,
    Unknown,
}

#[derive(Debug, Arbitrary)]
enum Event {
    /// Answer the outstanding request with raw bytes.
    Raw { status: u16, body: Vec<u8>, latency_ms: u16 },
    /// Answer it with generated snapshots.
    Snaps { targets: Vec<Vec<Snap>>, latency_ms: u16 },
    /// Answer it with a status.
    Status { end_time: i64, err: bool, aborted: bool, latency_ms: u16 },
    /// Fail it below HTTP.
    Fail(u8),
    /// Feed a completion with a made-up id.
    Stray(u64),
    /// Move the clock (both ways) and wake the machine.
    Wake { jump_ms: i32 },
}

#[derive(Debug, Arbitrary)]
struct Snap {
    kind: bool,
    idle: bool,
    aborted: bool,
    abort_err: bool,
    end: Option<i64>,
}

fn snapshots(targets: &[Vec<Snap>]) -> Snapshots {
    let targets = targets
        .iter()
        .enumerate()
        .map(|(i, snaps)| TargetSnaps {
            target: format!("t{i}"),
            snaps: snaps
                .iter()
                .map(|s| JobSnap {
                    id: "job".into(),
                    kind: if s.kind { "copy-listrange".into() } else { String::new() },
                    is_idle: s.idle,
                    aborted: s.aborted,
                    abort_err: if s.abort_err { "err".into() } else { String::new() },
                    end_time: s.end.map(Timestamp::from_unix_nanos).filter(|t| !t.is_go_zero()),
                    ..JobSnap::default()
                })
                .collect(),
        })
        .collect();
    Snapshots::from_targets(targets)
}

fn ok(status: u16, body: Vec<u8>) -> Result<http::Response<Bytes>, TransportError> {
    let mut response = http::Response::new(Bytes::from(body));
    if let Ok(status) = http::StatusCode::from_u16(status) {
        *response.status_mut() = status;
    }
    Ok(response)
}

fuzz_target!(|case: Case| {
    let kind = match case.kind {
        Kind::Empty => "",
        Kind::Idle => "copy-listrange",
        Kind::Single => "resilver",
        Kind::Terminal => "rebalance",
        Kind::Unknown => "brand-new-kind",
    };
    let dispatch = match case.mode % 4 {
        0 => Dispatch::ByKind,
        1 => Dispatch::Fixed(Strategy::IdleStreak),
        2 => Dispatch::Fixed(Strategy::SingleNode),
        _ => Dispatch::Fixed(Strategy::Terminal),
    };
    let timeout = Duration::from_millis(u64::from(case.timeout_ms));
    let config = WaitConfig {
        timeout,
        interval: case.interval_ms.map(|ms| Duration::from_millis(u64::from(ms))),
        backoff_cap: case.backoff_cap_ms.map(|ms| Duration::from_millis(u64::from(ms))),
        idle_streak: u32::from(case.idle_streak % 5),
    };
    let job_id = if case.job_id { "job" } else { "" };
    let mut wait = JobWait::new(job_id, kind, dispatch, config);
    let mut now = Instant::from_nanos(1_000_000_000_000);
    let mut started: Option<Instant> = None;
    let mut outstanding: Option<Transmit> = None;
    let mut done = false;
    for event in case.events {
        // Drain.
        while let Some(output) = wait.poll_output(now) {
            assert!(!done, "output after Done");
            match output {
                Output::Transmit(t) => {
                    assert!(outstanding.is_none(), "two requests outstanding");
                    started.get_or_insert(now);
                    outstanding = Some(t);
                }
                Output::Done(_) => done = true,
            }
        }
        if done {
            assert_eq!(wait.poll_timeout(), None);
        }
        if let (Some(wake), Some(start)) = (wait.poll_timeout(), started) {
            assert!(wake <= start.saturating_add(timeout), "a wake-up scheduled past the deadline");
        }
        let (result, latency, shows_abort) = match event {
            Event::Raw { status, body, latency_ms } => (ok(status, body), latency_ms, false),
            Event::Snaps { targets, latency_ms } => {
                let snaps = snapshots(&targets);
                let json = snaps.to_json();
                let again = Snapshots::parse(&json).expect("our own JSON parses");
                assert_eq!(again, snaps, "round trip");
                (ok(200, json), latency_ms, snaps.any_aborted())
            }
            Event::Status { end_time, err, aborted, latency_ms } => {
                let body = serde_json::json!({"uuid": "job", "end_time": end_time, "err": if err { "e" } else { "" }, "aborted": aborted});
                (ok(200, body.to_string().into_bytes()), latency_ms, false)
            }
            Event::Fail(i) => (Err(TransportError::ALL[usize::from(i) % TransportError::ALL.len()]), 0, false),
            Event::Stray(id) => {
                let stray = RequestId(id);
                if outstanding.as_ref().is_some_and(|t| t.id == stray) {
                    continue;
                }
                let refused = wait.handle_input(now, Completion { id: stray, result: Err(TransportError::Other) });
                assert!(refused.is_err(), "a stray completion was accepted");
                continue;
            }
            Event::Wake { jump_ms } => {
                let jump = Duration::from_millis(u64::from(jump_ms.unsigned_abs()));
                now = if jump_ms >= 0 {
                    now.saturating_add(jump)
                } else {
                    Instant::from_nanos(now.as_nanos().saturating_sub(jump.as_nanos() as u64))
                };
                wait.handle_timeout(now);
                continue;
            }
        };
        let Some(t) = outstanding.take() else {
            if done {
                let late = wait.handle_input(now, Completion { id: RequestId(0), result });
                assert_eq!(late, Err(InputError::Finished));
            }
            continue;
        };
        now = now.saturating_add(Duration::from_millis(u64::from(latency)));
        let snapshot_poll = wait.strategy().is_some_and(|s| s != Strategy::Terminal);
        wait.handle_input(now, Completion { id: t.id, result }).expect("the outstanding completion is accepted");
        let past_deadline = started.is_some_and(|start| now > start.saturating_add(timeout));
        if past_deadline && !shows_abort {
            // An answer after the deadline ends the wait: no further request.
            match wait.poll_output(now) {
                Some(Output::Done(_)) => done = true,
                other => panic!("an answer after the deadline did not end the wait: {other:?}"),
            }
        }
        if shows_abort && snapshot_poll {
            // An abort ends a snapshot wait on the poll that shows it, as a failure.
            match wait.poll_output(now) {
                Some(Output::Done(outcome)) => {
                    done = true;
                    let result = outcome.result.expect("a well-formed abort is a result");
                    assert!(!result.success, "an aborted job succeeded");
                }
                other => panic!("an abort did not end the wait: {other:?}"),
            }
        }
    }
});
