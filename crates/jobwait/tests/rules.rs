//! One test per rule of the spec (`specs/jobwait.md`), named for the rule.

mod support;

use std::time::Duration;

use serde_json::json;
use stowage_jobwait::{
    Dispatch, IDLE_KINDS, JobError, JobSnap, JobStatus, JobWait, LastSeen, Snapshots, Strategy, Timestamp, WaitConfig,
    WaitResult, probing_frequency,
};
use stowage_proto::{Completion, InputError, Instant, Machine, Output, RequestId, TransportError};
use support::{Answer, S, ok, run, secs, snap, status, targets};

const KIND: &str = "copy-listrange";

fn by_kind(kind: &str) -> JobWait {
    JobWait::new("job-1", kind, Dispatch::ByKind, WaitConfig::with_timeout(Duration::from_secs(10)))
}

fn idle_all() -> Answer {
    ok(targets("job-1", KIND, &[&[S::Idle], &[S::Idle]]))
}

fn busy() -> Answer {
    ok(targets("job-1", KIND, &[&[S::Running], &[S::Idle]]))
}

// ---- dispatch ----

#[test]
fn empty_kind_is_resolved_from_the_first_snapshot_with_a_kind() {
    let first = json!({"t0": [{"id": "job-1", "kind": ""}], "t1": [snap("job-1", "resilver", S::Running), snap("job-1", "lru", S::Running)]});
    let ended = ok(targets("job-1", "resilver", &[&[S::Ended]]));
    let r = run(by_kind(""), vec![ok(first), ended], secs(0.01));
    assert_eq!(r.outcome.kind, "resilver");
    assert_eq!(r.outcome.strategy, Some(Strategy::SingleNode));
    assert!(r.outcome.result.unwrap().success);
    assert_eq!(r.sent[0].3["Kind"], "", "the lookup asks by id alone");
    assert_eq!(r.sent[1].3["Kind"], "resilver", "the resolved kind is cached and sent");
    assert_eq!((r.outcome.polls, r.outcome.requests), (1, 2), "the lookup is a request, not a poll");
}

#[test]
fn no_snapshot_with_a_kind_is_job_info_not_found() {
    for body in [json!({}), json!(null), json!({"t0": [{"id": "job-1"}], "t1": null})] {
        let r = run(by_kind(""), vec![ok(body)], secs(0.01));
        assert!(matches!(r.outcome.result, Err(JobError::JobInfoNotFound { ref job_id }) if job_id == "job-1"));
        assert_eq!(r.outcome.strategy, None);
    }
}

#[test]
fn idle_kinds_wait_for_an_idle_streak() {
    for kind in IDLE_KINDS {
        assert_eq!(Strategy::for_kind(kind), Strategy::IdleStreak, "{kind}");
    }
    let r = run(by_kind(KIND), vec![idle_all(), idle_all()], secs(0.01));
    assert!(r.sent.iter().all(|(_, m, uri, _)| m == "GET" && uri == "/v1/cluster?what=qryxstats"));
    assert_eq!(r.outcome.strategy, Some(Strategy::IdleStreak));
}

#[test]
fn blob_download_and_resilver_wait_on_a_single_node() {
    assert_eq!(Strategy::for_kind("blob-download"), Strategy::SingleNode);
    assert_eq!(Strategy::for_kind("resilver"), Strategy::SingleNode);
}

#[test]
fn other_unknown_and_empty_kinds_wait_terminal() {
    for kind in ["rebalance", "copy-bck", "no-such-kind-yet", ""] {
        assert_eq!(Strategy::for_kind(kind), Strategy::Terminal, "{kind:?}");
    }
    // No id and no kind: nothing to resolve, terminal at once.
    let wait = JobWait::new("", "", Dispatch::ByKind, WaitConfig::default());
    let r = run(wait, vec![ok(status("", 5, "", false))], secs(0.01));
    assert_eq!(r.sent[0].2, "/v1/cluster?what=status");
    assert_eq!(r.outcome.strategy, Some(Strategy::Terminal));
    let r = run(
        by_kind("no-such-kind-yet"),
        vec![ok(status("job-1", 0, "", false)), ok(status("job-1", 9, "", false))],
        secs(0.01),
    );
    assert!(r.outcome.result.unwrap().success, "an unknown kind is not an error");
}

#[test]
fn a_fixed_mode_ignores_the_kind() {
    let wait = JobWait::new("job-1", "rebalance", Dispatch::Fixed(Strategy::IdleStreak), WaitConfig::default());
    let r = run(wait, vec![idle_all(), idle_all()], secs(0.01));
    assert_eq!(r.outcome.strategy, Some(Strategy::IdleStreak));
    assert_eq!(r.outcome.polls, 2);
}

// ---- idle streak ----

#[test]
fn any_aborted_snapshot_ends_the_idle_wait_at_once() {
    for state in [S::Aborted, S::AbortErr] {
        let r = run(by_kind(KIND), vec![busy(), ok(targets("job-1", KIND, &[&[S::Running], &[state]]))], secs(0.01));
        let result = r.outcome.result.unwrap();
        assert!(!result.success);
        assert_eq!(r.outcome.polls, 2, "detected on the poll that first shows it");
    }
}

#[test]
fn all_idle_on_consecutive_polls_ends_the_wait_at_the_streak() {
    let r = run(by_kind(KIND), vec![busy(), idle_all(), idle_all()], secs(0.01));
    assert_eq!(r.outcome.polls, 3);
    assert!(r.outcome.result.unwrap().success);
    assert_eq!(r.progress.iter().map(|p| p.idle_streak).collect::<Vec<_>>(), [0, 1, 2]);
}

#[test]
fn a_busy_poll_resets_the_streak() {
    let r = run(by_kind(KIND), vec![idle_all(), busy(), idle_all(), idle_all()], secs(0.01));
    assert_eq!(r.outcome.polls, 4);
}

#[test]
fn a_poll_without_snapshots_neither_counts_nor_resets() {
    let empty = || ok(json!({"t0": [], "t1": null}));
    let r = run(by_kind(KIND), vec![idle_all(), empty(), idle_all()], secs(0.01));
    assert_eq!(r.outcome.polls, 3, "the streak survived the empty poll");
    let r = run(by_kind(KIND), vec![empty(), idle_all(), idle_all()], secs(0.01));
    assert_eq!(r.outcome.polls, 3, "the empty poll did not count");
}

#[test]
fn the_streak_length_is_a_parameter() {
    let config = WaitConfig { idle_streak: 3, ..WaitConfig::default() };
    let wait = JobWait::new("job-1", KIND, Dispatch::ByKind, config);
    let r = run(wait, vec![idle_all(), idle_all(), idle_all()], secs(0.01));
    assert_eq!(r.outcome.polls, 3);
    let config = WaitConfig { idle_streak: 1, ..WaitConfig::default() };
    let r = run(JobWait::new("job-1", KIND, Dispatch::ByKind, config), vec![idle_all()], secs(0.01));
    assert_eq!(r.outcome.polls, 1);
}

// ---- single node ----

#[test]
fn single_node_is_done_when_any_snapshot_ended_or_aborted() {
    let kind = "blob-download";
    for state in [S::Ended, S::Aborted, S::AbortErr] {
        let running = ok(targets("job-1", kind, &[&[S::Running], &[S::Idle]]));
        let done = ok(targets("job-1", kind, &[&[S::Running], &[state]]));
        let r = run(by_kind(kind), vec![running, done], secs(0.01));
        assert_eq!(r.outcome.polls, 2, "{state:?}");
        assert_eq!(r.outcome.result.unwrap().success, state == S::Ended);
    }
}

#[test]
fn go_zero_time_is_not_an_end() {
    let body = br#"{"t":[{"end-time":"0001-01-01T00:00:00Z"},{"end-time":""},{}]}"#;
    let snapshots = Snapshots::parse(body).unwrap();
    assert!(!snapshots.any_finished());
    assert!(snapshots.iter().all(|s| s.end_time.is_none()));
}

// ---- terminal ----

#[test]
fn terminal_is_done_when_the_status_has_an_end_time() {
    let r = run(
        by_kind("rebalance"),
        vec![ok(status("job-1", 0, "", false)), ok(status("job-1", 1_795_455_785_000_000_000, "", false))],
        secs(0.01),
    );
    assert_eq!(r.outcome.polls, 2);
    let result = r.outcome.result.unwrap();
    assert_eq!(result.end_time, Some(Timestamp::from_unix_nanos(1_795_455_785_000_000_000)));
    assert!(r.progress.iter().all(|p| p.targets.is_none()));
}

#[test]
fn a_negative_end_time_ends_the_wait_without_an_end_time() {
    let r = run(by_kind("rebalance"), vec![ok(status("job-1", -5, "", false))], secs(0.01));
    assert_eq!(r.outcome.result.unwrap().end_time, None);
}

// ---- result ----

#[test]
fn result_from_snapshots_follows_the_reference() {
    let parse = |v: serde_json::Value| Snapshots::parse(v.to_string().as_bytes()).unwrap();
    let ok_all = parse(targets("j", KIND, &[&[S::Ended], &[S::Ended]]));
    let r = WaitResult::from_snapshots("j", ok_all.iter());
    assert!(r.success && r.error.is_none());
    assert_eq!(r.end_time, Timestamp::parse_rfc3339("2026-11-23T17:43:05.5Z").ok());

    let mut later = snap("j", KIND, S::Ended);
    later["end-time"] = json!("2026-11-23T18:00:00Z");
    let two = parse(json!({"a": [snap("j", KIND, S::Ended)], "b": [later]}));
    assert_eq!(
        WaitResult::from_snapshots("j", two.iter()).end_time,
        Timestamp::parse_rfc3339("2026-11-23T18:00:00Z").ok()
    );

    let one_running = parse(targets("j", KIND, &[&[S::Ended], &[S::Running]]));
    assert_eq!(WaitResult::from_snapshots("j", one_running.iter()).end_time, None, "end time only if all ended");

    let aborted = parse(targets("j", KIND, &[&[S::Aborted], &[S::Running]]));
    let r = WaitResult::from_snapshots("j", aborted.iter());
    assert_eq!((r.success, r.error.as_deref()), (false, Some("aborted")));

    let mut second_err = snap("j", KIND, S::AbortErr);
    second_err["abort-err"] = json!("second");
    let errs = parse(json!({"a": [snap("j", KIND, S::Aborted)], "b": [snap("j", KIND, S::AbortErr), second_err]}));
    assert_eq!(
        WaitResult::from_snapshots("j", errs.iter()).error.as_deref(),
        Some("disk on fire"),
        "first abort-err wins"
    );
}

#[test]
fn result_from_status_follows_the_reference() {
    let result = |err: &str, aborted: bool| {
        WaitResult::from_status(&JobStatus { uuid: "u".into(), err: err.into(), end_time: 1, aborted })
    };
    assert_eq!((result("", false).success, result("", false).error), (true, None));
    assert_eq!(result("", true).error.as_deref(), Some("aborted"));
    assert_eq!(result("boom", true).error.as_deref(), Some("boom"));
    assert_eq!(result("boom", false).error.as_deref(), Some("boom"));
    assert!(!result("boom", false).success);
    assert_eq!(result("", false).job_id, "u", "the id is the status's uuid");
}

// ---- timing ----

#[test]
fn the_interval_is_probing_frequency_of_the_timeout() {
    assert_eq!(probing_frequency(Duration::from_secs(300)), secs(4.6875));
    assert_eq!(probing_frequency(Duration::from_secs(10)), secs(1.0));
    assert_eq!(probing_frequency(Duration::from_secs(2)), secs(0.25));
    assert_eq!(probing_frequency(Duration::from_millis(100)), secs(0.1));
    let r = run(by_kind(KIND), vec![busy(), busy(), idle_all(), idle_all()], Duration::ZERO);
    let times: Vec<_> = r.sent.iter().map(|(t, ..)| t.elapsed_since_epoch()).collect();
    assert_eq!(times, [secs(0.0), secs(1.0), secs(2.0), secs(3.0)]);
}

#[test]
fn an_optional_backoff_doubles_the_interval_up_to_a_cap() {
    let config = WaitConfig {
        interval: Some(Duration::from_secs(1)),
        backoff_cap: Some(Duration::from_secs(3)),
        ..WaitConfig::with_timeout(Duration::from_secs(100))
    };
    let sleeps: Vec<_> = (1..=5).map(|k| config.sleep_after(k)).collect();
    assert_eq!(sleeps, [secs(1.0), secs(2.0), secs(3.0), secs(3.0), secs(3.0)]);
    let wait = JobWait::new("job-1", KIND, Dispatch::ByKind, config);
    let r = run(wait, vec![busy(), busy(), busy(), idle_all(), idle_all()], Duration::ZERO);
    let times: Vec<_> = r.sent.iter().map(|(t, ..)| t.elapsed_since_epoch()).collect();
    assert_eq!(times, [secs(0.0), secs(1.0), secs(3.0), secs(6.0), secs(9.0)]);
}

#[test]
fn the_deadline_is_on_the_clock_and_slow_responses_count() {
    // 10 s timeout, 1 s interval, each answer takes 2 s: polls at 0, 3, 6, 9 (answered at 11).
    let script = vec![busy(), busy(), busy(), busy(), busy()];
    let r = run(by_kind(KIND), script, secs(2.0));
    let times: Vec<_> = r.sent.iter().map(|(t, ..)| t.elapsed_since_epoch()).collect();
    assert_eq!(times, [secs(0.0), secs(3.0), secs(6.0), secs(9.0)]);
    let Err(JobError::Timeout { polls, last, .. }) = r.outcome.result else { panic!("{:?}", r.outcome.result) };
    assert_eq!(polls, 4);
    assert!(matches!(*last, LastSeen::Snapshots(ref s) if s.len() == 2), "the timeout carries the last snapshots");
}

#[test]
fn the_last_poll_is_at_the_deadline_never_after() {
    // 10 s timeout, interval 4 s: polls at 0, 4, 8, then 10 (cut), then timeout.
    let config =
        WaitConfig { interval: Some(Duration::from_secs(4)), ..WaitConfig::with_timeout(Duration::from_secs(10)) };
    let wait = JobWait::new("job-1", "rebalance", Dispatch::ByKind, config);
    let r = run(wait, vec![ok(status("job-1", 0, "", false)); 4], Duration::ZERO);
    let times: Vec<_> = r.sent.iter().map(|(t, ..)| t.elapsed_since_epoch()).collect();
    assert_eq!(times, [secs(0.0), secs(4.0), secs(8.0), secs(10.0)]);
    let Err(JobError::Timeout { last, .. }) = r.outcome.result else { panic!() };
    assert!(matches!(*last, LastSeen::Status(_)));
}

#[test]
fn a_poll_that_shows_the_job_done_wins_over_the_deadline() {
    let config = WaitConfig::with_timeout(Duration::from_secs(1));
    let wait = JobWait::new("job-1", "rebalance", Dispatch::ByKind, config);
    let r = run(wait, vec![ok(status("job-1", 7, "", false))], secs(5.0));
    assert!(r.outcome.result.is_ok());
}

// ---- errors ----

#[test]
fn a_transport_error_ends_the_wait() {
    let r = run(by_kind(KIND), vec![busy(), Answer::Fail(TransportError::Reset)], secs(0.01));
    assert!(matches!(r.outcome.result, Err(JobError::Transport(TransportError::Reset))));
    // Every kind, a redirect that could not be followed among them.
    for error in TransportError::ALL {
        let r = run(by_kind(KIND), vec![busy(), Answer::Fail(error)], secs(0.01));
        assert!(matches!(r.outcome.result, Err(JobError::Transport(e)) if e == error), "{error}");
    }
}

#[test]
fn a_non_200_status_is_an_error_with_the_server_message() {
    let body: &[u8] = br#"{"status":500,"message":"xaction not found","method":"GET"}"#;
    let r = run(by_kind(KIND), vec![Answer::Raw(500, body)], secs(0.01));
    let Err(JobError::Status { status, message }) = r.outcome.result else { panic!() };
    assert_eq!((status.as_u16(), message.as_str()), (500, "xaction not found"));
    let r = run(by_kind(KIND), vec![Answer::Raw(404, b"plain text")], secs(0.01));
    assert!(matches!(r.outcome.result, Err(JobError::Status { message, .. }) if message == "plain text"));
}

#[test]
fn a_malformed_body_is_a_parse_error_naming_what_was_wrong() {
    let r = run(by_kind(KIND), vec![Answer::Raw(200, br#"{"t1":[{"aborted":"yes"}]}"#)], secs(0.01));
    let Err(JobError::Parse(error)) = r.outcome.result else { panic!() };
    let message = error.to_string();
    assert!(message.contains("target \"t1\"") && message.contains("`aborted`"), "{message}");
    let r = run(by_kind("rebalance"), vec![Answer::Raw(200, b"{\"end_time\": \"soon\"}")], secs(0.01));
    let Err(JobError::Parse(error)) = r.outcome.result else { panic!() };
    assert!(error.to_string().contains("job status") && error.to_string().contains("`end_time`"), "{error}");
}

// ---- the machine's contract ----

#[test]
fn completions_that_do_not_fit_are_refused() {
    let mut wait = by_kind(KIND);
    let Some(Output::Transmit(t)) = wait.poll_output(Instant::ZERO) else { panic!() };
    let stray = Completion { id: RequestId(99), result: support::respond(busy()) };
    assert_eq!(wait.handle_input(Instant::ZERO, stray), Err(InputError::UnexpectedCompletion(RequestId(99))));
    wait.handle_input(Instant::ZERO, Completion { id: t.id, result: support::respond(busy()) }).unwrap();
    let again = Completion { id: t.id, result: support::respond(busy()) };
    assert_eq!(wait.handle_input(Instant::ZERO, again), Err(InputError::UnexpectedCompletion(t.id)), "while sleeping");
    let mut done = by_kind("rebalance");
    let Some(Output::Transmit(t)) = done.poll_output(Instant::ZERO) else { panic!() };
    done.handle_input(Instant::ZERO, Completion { id: t.id, result: support::respond(ok(status("x", 1, "", false))) })
        .unwrap();
    let late = Completion { id: t.id, result: Err(TransportError::Other) };
    assert_eq!(done.handle_input(Instant::ZERO, late), Err(InputError::Finished));
}

#[test]
fn time_going_backwards_is_no_time_passing() {
    let mut wait = by_kind(KIND);
    let Some(Output::Transmit(t)) = wait.poll_output(Instant::from_nanos(5_000_000_000)) else { panic!() };
    wait.handle_input(Instant::ZERO, Completion { id: t.id, result: support::respond(busy()) }).unwrap();
    assert_eq!(wait.poll_timeout(), Some(Instant::from_nanos(6_000_000_000)));
    wait.handle_timeout(Instant::ZERO);
    assert!(wait.poll_output(Instant::ZERO).is_none(), "woken early: nothing to do");
}

#[test]
fn progress_counts_targets_objects_and_bytes() {
    let body = targets("job-1", KIND, &[&[S::Running], &[S::Idle, S::Idle], &[S::Ended], &[S::Aborted, S::Idle], &[]]);
    let r = run(by_kind(KIND), vec![ok(body)], secs(0.01));
    let p = r.progress[0];
    let t = p.targets.unwrap();
    assert_eq!((t.running, t.idle, t.finished, t.aborted), (1, 1, 1, 1));
    assert_eq!((p.objects, p.bytes, p.polls), (60, 6000, 1));
}

#[test]
fn snapshots_serialise_to_what_they_parse_from() {
    let body = targets("job-1", KIND, &[&[S::Running, S::Ended], &[S::AbortErr]]);
    let parsed = Snapshots::parse(body.to_string().as_bytes()).unwrap();
    assert_eq!(Snapshots::parse(&parsed.to_json()).unwrap(), parsed);
    let snap = JobSnap::default();
    let json: serde_json::Value = serde_json::to_value(&snap).unwrap();
    assert_eq!(json["end-time"], "0001-01-01T00:00:00Z");
}

#[test]
fn a_kind_lookup_answered_after_the_deadline_times_out_without_polling() {
    let wait = JobWait::new("job-1", "", Dispatch::ByKind, WaitConfig::with_timeout(Duration::from_secs(1)));
    let r = run(wait, vec![busy()], secs(2.0));
    assert_eq!(r.sent.len(), 1);
    let Err(JobError::Timeout { polls, last, .. }) = r.outcome.result else { panic!("{:?}", r.outcome.result) };
    assert_eq!(polls, 0);
    assert!(matches!(*last, LastSeen::Snapshots(_)), "the lookup's snapshots are kept");
    assert_eq!(r.outcome.kind, KIND, "the kind was learned");
}
