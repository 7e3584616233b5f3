//! The cost of deciding one poll of a job wait, against the cost of reading its answer.
//!
//! The answer: 16 targets × 4 snapshots (a busy `copy-listrange` job: one snapshot running,
//! the rest idle), about 33 KB of JSON as AIStore sends it.
//!
//! `jobwait/poll`:
//! - `decide`: the idle-streak decision on already-parsed snapshots ([`IdleStreak::observe`]
//!   plus the per-target progress counts);
//! - `parse/typed`: [`Snapshots::parse`], the machine's parser (lenient, field-naming errors);
//! - `parse/value`: the obvious alternative: `serde_json::Value`, then walking it by hand for
//!   the same decision;
//! - `step/machine`: one whole poll through [`JobWait`]: feed the answer, decide, sleep, wake,
//!   emit the next request.

use std::hint::black_box;
use std::time::Duration;

use bytes::Bytes;
use criterion::{Criterion, criterion_group, criterion_main};
use serde_json::{Value, json};
use stowage_jobwait::{Dispatch, IdleStreak, JobWait, Snapshots, TargetCounts, WaitConfig};
use stowage_proto::{Completion, Instant, Machine, Output};

const TARGETS: usize = 16;
const SNAPS: usize = 4;

/// The answer of one poll.
fn body() -> Bytes {
    let snap = |t: usize, s: usize| {
        json!({
            "id": "g7Xq2", "kind": "copy-listrange", "start-time": "2026-11-23T17:40:00.123456789Z",
            "end-time": "0001-01-01T00:00:00Z", "aborted": false, "is_idle": !(t == 3 && s == 0),
            "abort-err": "", "glob.id": 8_589_934_596_i64,
            "bck": {"name": "src", "provider": "ais", "namespace": {"uuid": "", "name": ""}},
            "src-bck": {"name": "src", "provider": "ais", "namespace": {"uuid": "", "name": ""}},
            "dst-bck": {"name": "dst", "provider": "ais", "namespace": {"uuid": "", "name": ""}},
            "stats": {"loc-objs": 1200, "loc-bytes": 1_258_291_200, "out-objs": 0, "out-bytes": 0, "in-objs": 0, "in-bytes": 0},
        })
    };
    let map: serde_json::Map<String, Value> =
        (0..TARGETS).map(|t| (format!("t[{t:02}]"), (0..SNAPS).map(|s| snap(t, s)).collect())).collect();
    Bytes::from(Value::Object(map).to_string())
}

/// The same decision over a `serde_json::Value`: any aborted → done, all idle → streak.
fn value_decision(body: &[u8], streak: &mut u32) -> bool {
    let value: Value = serde_json::from_slice(body).unwrap();
    let snaps = || value.as_object().into_iter().flat_map(|m| m.values()).filter_map(Value::as_array).flatten();
    let flag = |s: &Value, k: &str| s.get(k).and_then(Value::as_bool).unwrap_or(false);
    let aborted =
        |s: &Value| flag(s, "aborted") || s.get("abort-err").and_then(Value::as_str).is_some_and(|e| !e.is_empty());
    if snaps().next().is_none() {
        return false;
    }
    if snaps().any(aborted) {
        return true;
    }
    if snaps().all(|s| flag(s, "is_idle") || aborted(s)) {
        *streak += 1;
        return *streak >= 2;
    }
    *streak = 0;
    false
}

fn poll(c: &mut Criterion) {
    let body = body();
    let snapshots = Snapshots::parse(&body).unwrap();
    assert_eq!(snapshots.len(), TARGETS * SNAPS);
    assert!(!IdleStreak::new(2).observe(&snapshots));
    assert!(!value_decision(&body, &mut 0));

    let mut group = c.benchmark_group("jobwait/poll");
    group.bench_function("decide", |b| {
        b.iter(|| {
            let mut streak = IdleStreak::new(2);
            (streak.observe(black_box(&snapshots)), TargetCounts::of(&snapshots))
        })
    });
    group.bench_function("parse/typed", |b| b.iter(|| Snapshots::parse(black_box(&body)).unwrap()));
    group.bench_function("parse/value", |b| b.iter(|| value_decision(black_box(&body), &mut 0)));

    // A wait that never times out, polling every millisecond: every answer is busy.
    let config = WaitConfig { interval: Some(Duration::from_millis(1)), ..WaitConfig::with_timeout(Duration::MAX) };
    let mut wait = JobWait::new("g7Xq2", "copy-listrange", Dispatch::ByKind, config);
    let mut now = Instant::ZERO;
    let Some(Output::Transmit(mut transmit)) = wait.poll_output(now) else { panic!("no first request") };
    group.bench_function("step/machine", |b| {
        b.iter(|| {
            let response = http::Response::new(body.clone());
            wait.handle_input(now, Completion { id: transmit.id, result: Ok(response) }).unwrap();
            now = wait.poll_timeout().unwrap();
            wait.handle_timeout(now);
            let Some(Output::Transmit(next)) = wait.poll_output(now) else { panic!("the wait ended") };
            transmit = black_box(next);
        })
    });
    group.finish();
}

criterion_group!(benches, poll);
criterion_main!(benches);
