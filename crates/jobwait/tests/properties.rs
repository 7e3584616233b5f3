//! Properties of the wait machine against a ten-line reference model of the spec.

mod support;

use std::time::Duration;

use proptest::prelude::*;
use serde_json::Value;
use stowage_jobwait::{Dispatch, JobError, JobWait, Snapshots, Strategy as Wait, WaitConfig, WaitResult};
use stowage_proto::{Completion, Instant, Machine, Output};
use support::{Answer, S, ok, run, targets};

const KIND: &str = "copy-listrange";

/// The spec's decision over a sequence of polls: the index of the poll that ends the wait.
fn model(strategy: Wait, streak_needed: u32, polls: &[Vec<Vec<S>>]) -> Option<usize> {
    let aborted = |s: &S| matches!(s, S::Aborted | S::AbortErr);
    let mut streak = 0;
    for (i, poll) in polls.iter().enumerate() {
        let snaps: Vec<S> = poll.iter().flatten().copied().collect();
        if snaps.is_empty() {
            continue;
        }
        match strategy {
            Wait::SingleNode if snaps.iter().any(|s| aborted(s) || *s == S::Ended) => return Some(i),
            Wait::IdleStreak if snaps.iter().any(aborted) => return Some(i),
            Wait::IdleStreak if snaps.iter().all(|s| aborted(s) || *s == S::Idle) => {
                streak += 1;
                if streak >= streak_needed.max(1) {
                    return Some(i);
                }
            }
            Wait::IdleStreak => streak = 0,
            _ => {}
        }
    }
    None
}

fn state() -> impl Strategy<Value = S> {
    prop_oneof![4 => Just(S::Running), 6 => Just(S::Idle), 1 => Just(S::Ended), 1 => Just(S::Aborted), 1 => Just(S::AbortErr)]
}

fn polls() -> impl Strategy<Value = Vec<Vec<Vec<S>>>> {
    prop::collection::vec(prop::collection::vec(prop::collection::vec(state(), 0..3), 0..4), 1..12)
}

fn body(poll: &[Vec<S>]) -> Value {
    let refs: Vec<&[S]> = poll.iter().map(Vec::as_slice).collect();
    targets("job-1", KIND, &refs)
}

fn config(streak: u32) -> WaitConfig {
    WaitConfig { idle_streak: streak, ..WaitConfig::with_timeout(Duration::from_secs(3600)) }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn the_decision_equals_the_model(
        polls in polls(),
        single in any::<bool>(),
        streak in 0u32..4,
    ) {
        let strategy = if single { Wait::SingleNode } else { Wait::IdleStreak };
        let expected = model(strategy, streak, &polls);
        let mut script: Vec<Answer> = polls.iter().map(|p| ok(body(p))).collect();
        // After the scripted polls, a poll that ends any wait: an abort.
        script.push(ok(targets("job-1", KIND, &[&[S::Aborted]])));
        let wait = JobWait::new("job-1", KIND, Dispatch::Fixed(strategy), config(streak));
        let r = run(wait, script, Duration::from_millis(3));
        let done_at = r.outcome.polls as usize - 1;
        prop_assert_eq!(Some(done_at).filter(|&i| i < polls.len()), expected);
        // The result is built from the deciding poll's snapshots.
        let deciding = polls.get(done_at).map(|p| body(p)).unwrap_or_else(|| targets("job-1", KIND, &[&[S::Aborted]]));
        let snapshots = Snapshots::parse(deciding.to_string().as_bytes()).unwrap();
        prop_assert_eq!(r.outcome.result.unwrap(), WaitResult::from_snapshots("job-1", snapshots.iter()));
        // Every request is a snapshot query: one at a time, each answered before the next.
        prop_assert_eq!(r.sent.len(), r.outcome.polls as usize);
    }

    #[test]
    fn a_terminal_wait_ends_on_the_first_status_with_an_end_time(
        end_times in prop::collection::vec(prop_oneof![3 => Just(0i64), 1 => any::<i64>()], 1..12),
        aborted in any::<bool>(),
        err in prop::option::of("[a-z]{1,8}"),
    ) {
        // The model: the first non-zero end time decides.
        let expected = end_times.iter().position(|&t| t != 0);
        let status = |t: i64| serde_json::json!({"uuid": "job-1", "end_time": t, "aborted": aborted, "err": err.clone().unwrap_or_default()});
        let mut script: Vec<Answer> = end_times.iter().map(|&t| ok(status(t))).collect();
        script.push(ok(status(1)));
        let wait = JobWait::new("job-1", "rebalance", Dispatch::ByKind, config(2));
        let r = run(wait, script, Duration::from_millis(3));
        let done_at = r.outcome.polls as usize - 1;
        prop_assert_eq!(Some(done_at).filter(|&i| i < end_times.len()), expected);
        let result = r.outcome.result.unwrap();
        prop_assert_eq!(result.success, !aborted && err.is_none());
        let end = end_times.get(done_at).copied().unwrap_or(1);
        prop_assert_eq!(result.end_time.is_some(), end > 0);
    }

    #[test]
    fn never_polls_after_the_deadline_nor_waits_past_it_by_more_than_one_interval(
        timeout_ms in 0u64..20_000,
        latencies in prop::collection::vec(0u64..3_000, 1..64),
        cap_ms in prop::option::of(100u64..10_000),
    ) {
        let timeout = Duration::from_millis(timeout_ms);
        let config = WaitConfig { backoff_cap: cap_ms.map(Duration::from_millis), ..WaitConfig::with_timeout(timeout) };
        let interval = config.base_interval().max(cap_ms.map_or(Duration::ZERO, Duration::from_millis));
        let mut wait = JobWait::new("job-1", "rebalance", Dispatch::ByKind, config);
        let mut now = Instant::ZERO;
        let mut latencies = latencies.iter().cycle();
        let mut last_sent = Instant::ZERO;
        let busy = serde_json::json!({"uuid": "job-1", "end_time": 0}).to_string();
        let outcome = loop {
            match wait.poll_output(now) {
                Some(Output::Transmit(t)) => {
                    prop_assert!(wait.poll_output(now).is_none(), "one request at a time");
                    last_sent = now;
                    now = now.saturating_add(Duration::from_millis(*latencies.next().unwrap()));
                    let response = http::Response::new(bytes::Bytes::from(busy.clone()));
                    wait.handle_input(now, Completion { id: t.id, result: Ok(response) }).unwrap();
                }
                Some(Output::Done(outcome)) => break outcome,
                None => {
                    now = wait.poll_timeout().unwrap();
                    wait.handle_timeout(now);
                }
            }
        };
        let deadline = Instant::ZERO.saturating_add(timeout);
        prop_assert!(last_sent <= deadline, "polled at {last_sent} after the deadline {deadline}");
        let timed_out = matches!(outcome.result, Err(JobError::Timeout { .. }));
        prop_assert!(timed_out);
        // The wait ends when the last poll (sent by the deadline) is answered.
        prop_assert!(outcome.elapsed <= timeout + interval + Duration::from_millis(3_000));
    }

    #[test]
    fn any_bytes_are_a_decision_or_a_typed_error(body in prop::collection::vec(any::<u8>(), 0..256), terminal in any::<bool>()) {
        let kind = if terminal { "rebalance" } else { KIND };
        let mut wait = JobWait::new("job-1", kind, Dispatch::ByKind, WaitConfig::default());
        let Some(Output::Transmit(t)) = wait.poll_output(Instant::ZERO) else { panic!() };
        let response = http::Response::new(bytes::Bytes::from(body));
        wait.handle_input(Instant::ZERO, Completion { id: t.id, result: Ok(response) }).unwrap();
        // Either sleeping for the next poll, or done with a result or an error.
        prop_assert!(wait.poll_timeout().is_some() || wait.is_done());
    }
}
