//! Running a [`JobWait`] against scripted answers, and building snapshot JSON.
#![allow(dead_code, unreachable_pub, reason = "each test file uses a different part")]

use std::time::Duration;

use bytes::Bytes;
use serde_json::{Value, json};
use stowage_jobwait::{JobWait, Progress, WaitOutcome};
use stowage_proto::{Completion, Instant, Machine, Output, TransportError};

/// One scripted answer.
#[derive(Clone, Debug)]
pub enum Answer {
    /// 200 with this JSON body.
    Json(Value),
    /// This status and raw body.
    Raw(u16, &'static [u8]),
    /// A transport error.
    Fail(TransportError),
}

/// 200 with `body`.
pub fn ok(body: Value) -> Answer {
    Answer::Json(body)
}

/// What one run saw.
#[derive(Debug)]
pub struct Run {
    pub outcome: WaitOutcome,
    /// Each request sent: when, method, URI, JSON body.
    pub sent: Vec<(Instant, http::Method, String, Value)>,
    /// Every progress event, in order.
    pub progress: Vec<Progress>,
}

/// Runs `wait` to the end: answers come from `script` in order (each taking `latency`), time
/// jumps to each `poll_timeout`. Panics if the script runs out.
pub fn run(mut wait: JobWait, script: Vec<Answer>, latency: Duration) -> Run {
    let mut now = Instant::ZERO;
    let mut script = script.into_iter();
    let mut sent = vec![];
    let mut progress = vec![];
    loop {
        match wait.poll_output(now) {
            Some(Output::Transmit(t)) => {
                let body: Value = serde_json::from_slice(t.request.body()).unwrap();
                sent.push((now, t.request.method().clone(), t.request.uri().to_string(), body));
                now = now.saturating_add(latency);
                let answer = script.next().unwrap_or_else(|| panic!("script ran out after {} requests", sent.len()));
                wait.handle_input(now, Completion { id: t.id, result: respond(answer) }).unwrap();
                progress.extend(wait.poll_progress());
            }
            Some(Output::Done(outcome)) => {
                assert!(wait.poll_output(now).is_none(), "nothing after Done");
                return Run { outcome, sent, progress };
            }
            None => {
                now = wait.poll_timeout().expect("not done, nothing to send, no timer");
                wait.handle_timeout(now);
            }
        }
    }
}

/// The completion result for an answer.
pub fn respond(answer: Answer) -> Result<http::Response<Bytes>, TransportError> {
    match answer {
        Answer::Json(body) => Ok(http::Response::new(Bytes::from(body.to_string()))),
        Answer::Raw(status, body) => {
            Ok(http::Response::builder().status(status).body(Bytes::from_static(body)).unwrap())
        }
        Answer::Fail(error) => Err(error),
    }
}

/// A snapshot state, for building bodies.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum S {
    Running,
    Idle,
    Ended,
    Aborted,
    AbortErr,
}

/// One snapshot JSON of job `id`, `kind`.
pub fn snap(id: &str, kind: &str, state: S) -> Value {
    let end = if state == S::Ended { "2026-11-23T17:43:05.5Z" } else { "0001-01-01T00:00:00Z" };
    json!({
        "id": id, "kind": kind, "start-time": "2026-11-23T17:40:00Z", "end-time": end,
        "aborted": state == S::Aborted, "is_idle": state == S::Idle,
        "abort-err": if state == S::AbortErr { "disk on fire" } else { "" },
        "stats": {"loc-objs": 10, "loc-bytes": 1000}, "glob.id": 0,
    })
}

/// `{"t0": [..], "t1": [..]}`: target `i` has the snapshots of `states[i]`.
pub fn targets(id: &str, kind: &str, states: &[&[S]]) -> Value {
    let map = states
        .iter()
        .enumerate()
        .map(|(i, snaps)| (format!("t{i}"), Value::Array(snaps.iter().map(|s| snap(id, kind, *s)).collect())))
        .collect::<serde_json::Map<_, _>>();
    Value::Object(map)
}

/// A status JSON.
pub fn status(id: &str, end_time: i64, err: &str, aborted: bool) -> Value {
    json!({"uuid": id, "err": err, "end_time": end_time, "aborted": aborted})
}

pub fn secs(s: f64) -> Duration {
    Duration::from_secs_f64(s)
}
