//! `/v1/cluster`: jobs with a scripted life per target, started, queried and aborted through
//! AIStore's job API.
//!
//! - `PUT /v1/cluster` with `{"action":"start","value":{"Kind":…}}` starts a job of that kind
//!   following the script registered for the kind ([`Jobs::script`]; a kind without one runs
//!   on one target for 1 s, then ends) and answers its id as plain text.
//! - `GET /v1/cluster?what=qryxstats` with `{"ID":…,"Kind":…}` answers the job's snapshots per
//!   target, `{"<target>": [JobSnap]}`, in the shapes the AIStore SDK 2.0.0 parses; an unknown
//!   job answers `{}` (no info).
//! - `GET /v1/cluster?what=status` answers `{"uuid","err","end_time","aborted","kind"}`; an
//!   unknown job answers 404.
//! - `PUT /v1/cluster` with `{"action":"stop","value":{"ID":…}}` aborts every target that has
//!   not finished ("aborted by user"); an unknown job answers 404.
//!
//! Each query of a job (snapshots or status) is one *poll* of it: a step that lasts
//! [`Span::Polls`]`(n)` is reported on `n` polls; a step that lasts [`Span::For`] ends that
//! long after it began on the tokio clock (so tests can run on a paused clock). Times are
//! reported on the wall clock: the job's start is `SystemTime::now()` when it starts, later
//! instants are that plus tokio time elapsed.
//!
//! The job's status ends (a non-zero `end_time`) when a target aborts (at that instant), or
//! when every target has ended or vanished (at the last of those instants).
//!
//! Job requests count in [`Stats::other`](crate::Stats::other); [`Jobs::polls`] counts the
//! polls of each job.

use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::{Duration, SystemTime};

use bytes::Bytes;
use http::{Method, Request, StatusCode};
use hyper::body::Incoming;
use stowage_proto::ais::job::{ACT_START, ACT_STOP, JobArgs, JobSnap, JobStats, JobStatus, Snapshots, TargetSnaps};
use stowage_proto::ais::{ActionMsg, Timestamp};
use tokio::time::Instant;

use crate::body::ResponseBody;
use crate::objects::read_body;
use crate::router::{ApiError, Response, json};
use crate::state::State;
use crate::stats::Counter;

/// The largest request body of the job API.
const MAX_JOB_BODY: usize = 64 * 1024;
/// The `abort-err` of a job aborted through the API.
pub const USER_ABORT: &str = "aborted by user";

/// How long a step lasts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Span {
    /// Reported on this many polls of the job.
    Polls(u32),
    /// This long on the tokio clock.
    For(Duration),
}

/// One step of a target's script.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum JobStep {
    /// Working (not idle).
    Running(Span),
    /// Idle (waiting for more work).
    Idle(Span),
    /// Ends: an end time, from now on.
    End,
    /// Aborts with this error (empty: aborted without an error).
    Abort(String),
    /// Stops reporting the job (the target drops out of the snapshots).
    Vanish,
}

/// What one target does with a job: steps in order. After the last step that lasts, the
/// target stays as that step says; [`JobStep::End`], [`JobStep::Abort`] and
/// [`JobStep::Vanish`] are final.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TargetScript {
    /// The steps.
    pub steps: Vec<JobStep>,
}

impl TargetScript {
    /// A target following `steps`.
    pub fn new(steps: impl IntoIterator<Item = JobStep>) -> Self {
        TargetScript { steps: steps.into_iter().collect() }
    }
}

/// The life of a job of some kind: one script per target (targets `t1`, `t2`, … in order).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct JobScript {
    /// What each target does.
    pub targets: Vec<TargetScript>,
    /// Whether snapshots name the kind (false: `kind` is empty, so a client that knows only
    /// the id cannot learn it).
    pub report_kind: bool,
}

impl JobScript {
    /// Targets following these scripts, snapshots naming the kind.
    pub fn new(targets: impl IntoIterator<Item = TargetScript>) -> Self {
        JobScript { targets: targets.into_iter().collect(), report_kind: true }
    }
}

impl Default for JobScript {
    /// One target, running for 1 s, then ended.
    fn default() -> Self {
        JobScript::new([TargetScript::new([JobStep::Running(Span::For(Duration::from_secs(1))), JobStep::End])])
    }
}

/// The cluster's jobs: scripts by kind, and the jobs started.
#[derive(Debug, Default)]
pub struct Jobs {
    inner: Mutex<Registry>,
}

#[derive(Debug, Default)]
struct Registry {
    scripts: HashMap<String, JobScript>,
    jobs: Vec<LiveJob>,
}

impl Jobs {
    /// Jobs of `kind` started from now on follow `script`.
    pub fn script(&self, kind: &str, script: JobScript) {
        self.lock().scripts.insert(kind.to_owned(), script);
    }

    /// Starts a job of `kind` (as the start API does) and returns its id.
    pub fn start(&self, kind: &str) -> String {
        let mut registry = self.lock();
        let script = registry.scripts.get(kind).cloned().unwrap_or_default();
        let id = job_id(registry.jobs.len());
        registry.jobs.push(LiveJob::new(id.clone(), kind, script, Instant::now()));
        id
    }

    /// How many times job `id` has been polled (snapshot and status queries).
    pub fn polls(&self, id: &str) -> Option<u32> {
        self.lock().jobs.iter().find(|job| job.id == id).map(|job| job.polls)
    }

    /// The snapshots job `id` reports now, without counting a poll.
    pub fn snapshots(&self, id: &str) -> Option<Snapshots> {
        let mut registry = self.lock();
        let job = registry.jobs.iter_mut().find(|job| job.id == id)?;
        job.advance(Instant::now());
        Some(job.snapshots())
    }

    fn lock(&self) -> MutexGuard<'_, Registry> {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The latest job `args` names: by id, else by kind.
    fn find<'a>(registry: &'a mut Registry, args: &JobArgs) -> Option<&'a mut LiveJob> {
        let jobs = registry.jobs.iter_mut().rev();
        match (args.id.is_empty(), args.kind.is_empty()) {
            (false, _) => jobs.into_iter().find(|job| job.id == args.id),
            (true, false) => jobs.into_iter().find(|job| job.kind == args.kind),
            (true, true) => None,
        }
    }
}

/// AIStore-looking ids: `j` and a base-36 counter with a check letter (`jK3a`).
fn job_id(n: usize) -> String {
    const DIGITS: &[u8; 36] = b"0123456789abcdefghijklmnopqrstuvwxyz";
    let mut n = n + 1296;
    let mut digits = vec![];
    while n > 0 {
        digits.push(DIGITS[n % 36] as char);
        n /= 36;
    }
    let check = (b'A' + (digits.len() as u8 * 7 + digits[0] as u8) % 26) as char;
    format!("j{check}{}", digits.iter().rev().collect::<String>())
}

/// Handles a request under `/v1/cluster`.
pub(crate) async fn handle(state: &State, req: Request<Incoming>) -> Result<Response, ApiError> {
    state.counters.count(Counter::Other);
    let (parts, body) = req.into_parts();
    let body = read_body(body, MAX_JOB_BODY).await?;
    let what = parts.uri.query().unwrap_or("").split('&').find_map(|pair| pair.strip_prefix("what="));
    let jobs = &state.jobs;
    match (parts.method, what) {
        (Method::GET, Some("qryxstats")) => {
            let args = job_args(&body)?;
            let mut registry = jobs.lock();
            let snapshots = match Jobs::find(&mut registry, &args) {
                Some(job) => job.poll(Instant::now()),
                None => Snapshots::default(),
            };
            Ok(json(snapshots.to_json()))
        }
        (Method::GET, Some("status")) => {
            let args = job_args(&body)?;
            let mut registry = jobs.lock();
            let job = Jobs::find(&mut registry, &args).ok_or_else(|| not_found(&args))?;
            job.poll(Instant::now());
            Ok(json(job.status_json()))
        }
        (Method::PUT, None) => {
            let msg: ActionMsg = serde_json::from_slice(&body)
                .map_err(|e| ApiError::new(StatusCode::BAD_REQUEST, format!("malformed ActionMsg: {e}")))?;
            let args: JobArgs = serde_json::from_value(msg.value)
                .map_err(|e| ApiError::new(StatusCode::BAD_REQUEST, format!("malformed job arguments: {e}")))?;
            match msg.action.as_str() {
                ACT_START => {
                    let id = jobs.start(&args.kind);
                    tracing::debug!(kind = %args.kind, %id, "job started");
                    Ok(Response::new(ResponseBody::bytes(Bytes::from(id))))
                }
                ACT_STOP => {
                    let mut registry = jobs.lock();
                    let job = Jobs::find(&mut registry, &args).ok_or_else(|| not_found(&args))?;
                    job.abort(Instant::now());
                    Ok(Response::new(ResponseBody::empty()))
                }
                other => Err(ApiError::new(StatusCode::BAD_REQUEST, format!("unsupported cluster action {other:?}"))),
            }
        }
        (method, what) => Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            format!("unsupported cluster request: {method} what={}", what.unwrap_or("")),
        )),
    }
}

fn job_args(body: &[u8]) -> Result<JobArgs, ApiError> {
    if body.is_empty() {
        return Ok(JobArgs::default());
    }
    serde_json::from_slice(body)
        .map_err(|e| ApiError::new(StatusCode::BAD_REQUEST, format!("malformed job query: {e}")))
}

fn not_found(args: &JobArgs) -> ApiError {
    let name = if args.id.is_empty() { &args.kind } else { &args.id };
    ApiError::new(StatusCode::NOT_FOUND, format!("xaction {name:?} not found"))
}

/// A started job.
#[derive(Debug)]
struct LiveJob {
    id: String,
    kind: String,
    report_kind: bool,
    started: Instant,
    wall_start: Timestamp,
    targets: Vec<LiveTarget>,
    polls: u32,
}

/// Where a target is in its script.
#[derive(Debug)]
struct LiveTarget {
    steps: Vec<JobStep>,
    at: usize,
    step_began: Instant,
    polls_in_step: u32,
    finished: Option<Finished>,
}

#[derive(Clone, Debug)]
enum Finished {
    Ended(Instant),
    Aborted(Instant, String),
    Vanished(Instant),
}

impl LiveJob {
    fn new(id: String, kind: &str, script: JobScript, now: Instant) -> Self {
        let wall = SystemTime::now().duration_since(SystemTime::UNIX_EPOCH).unwrap_or_default();
        let wall_start = Timestamp::from_unix_nanos(i64::try_from(wall.as_nanos()).unwrap_or(i64::MAX));
        let targets = script
            .targets
            .into_iter()
            .map(|t| LiveTarget { steps: t.steps, at: 0, step_began: now, polls_in_step: 0, finished: None })
            .collect();
        LiveJob {
            id,
            kind: kind.to_owned(),
            report_kind: script.report_kind,
            started: now,
            wall_start,
            targets,
            polls: 0,
        }
    }

    fn wall(&self, at: Instant) -> Timestamp {
        let since = i64::try_from(at.saturating_duration_since(self.started).as_nanos()).unwrap_or(i64::MAX);
        let start = i64::try_from(self.wall_start.unix_nanos()).unwrap_or(i64::MAX);
        Timestamp::from_unix_nanos(start.saturating_add(since))
    }

    fn advance(&mut self, now: Instant) {
        for target in &mut self.targets {
            target.advance(now);
        }
    }

    /// One poll: the snapshots as of `now`, counted against each target's current step.
    fn poll(&mut self, now: Instant) -> Snapshots {
        self.advance(now);
        let snapshots = self.snapshots();
        self.polls += 1;
        for target in &mut self.targets {
            target.polls_in_step += 1;
        }
        snapshots
    }

    fn snapshots(&self) -> Snapshots {
        let targets = self
            .targets
            .iter()
            .enumerate()
            .filter(|(_, t)| !matches!(t.finished, Some(Finished::Vanished(_))))
            .map(|(i, t)| TargetSnaps { target: format!("t{}", i + 1), snaps: vec![self.snap(t)] })
            .collect();
        Snapshots::from_targets(targets)
    }

    fn snap(&self, target: &LiveTarget) -> JobSnap {
        let (end_time, aborted, abort_err) = match &target.finished {
            Some(Finished::Ended(at)) => (Some(self.wall(*at)), false, String::new()),
            Some(Finished::Aborted(at, error)) => (Some(self.wall(*at)), true, error.clone()),
            Some(Finished::Vanished(_)) | None => (None, false, String::new()),
        };
        let polls = i64::from(self.polls);
        JobSnap {
            id: self.id.clone(),
            kind: if self.report_kind { self.kind.clone() } else { String::new() },
            start_time: Some(self.wall_start),
            end_time,
            aborted,
            is_idle: target.finished.is_none() && matches!(target.current(), Some(JobStep::Idle(_))),
            abort_err,
            stats: Some(JobStats { objects: polls * 10, bytes: (polls * 10) << 20, ..JobStats::default() }),
            ..JobSnap::default()
        }
    }

    fn status(&self) -> JobStatus {
        let aborted = self.targets.iter().find_map(|t| match &t.finished {
            Some(Finished::Aborted(at, error)) => Some((*at, error.clone())),
            _ => None,
        });
        let all_done =
            self.targets.iter().all(|t| matches!(t.finished, Some(Finished::Ended(_) | Finished::Vanished(_))));
        let end = match &aborted {
            Some((at, _)) => Some(*at),
            None if all_done => self
                .targets
                .iter()
                .filter_map(|t| match t.finished {
                    Some(Finished::Ended(at) | Finished::Vanished(at)) => Some(at),
                    _ => None,
                })
                .max(),
            None => None,
        };
        let end_time = end.map_or(0, |at| i64::try_from(self.wall(at).unix_nanos()).unwrap_or(i64::MAX));
        JobStatus {
            uuid: self.id.clone(),
            err: aborted.as_ref().map(|(_, error)| error.clone()).unwrap_or_default(),
            end_time,
            aborted: aborted.is_some(),
        }
    }

    /// The status as AIStore sends it (with the kind, which the SDK ignores).
    fn status_json(&self) -> Vec<u8> {
        let status = self.status();
        let body = serde_json::json!({
            "uuid": status.uuid, "err": status.err, "end_time": status.end_time,
            "aborted": status.aborted, "kind": self.kind,
        });
        body.to_string().into_bytes()
    }

    fn abort(&mut self, now: Instant) {
        self.advance(now);
        for target in self.targets.iter_mut().filter(|t| t.finished.is_none()) {
            target.finished = Some(Finished::Aborted(now, USER_ABORT.to_owned()));
        }
    }
}

impl LiveTarget {
    /// The step the target is in (the last lasting one once the script runs out).
    fn current(&self) -> Option<&JobStep> {
        self.steps.get(self.at)
    }

    /// Moves through the steps that are over by `now`, and into a final step if reached.
    fn advance(&mut self, now: Instant) {
        while self.finished.is_none() {
            let began = self.step_began;
            match self.steps.get(self.at) {
                None => return,
                Some(JobStep::End) => self.finished = Some(Finished::Ended(began)),
                Some(JobStep::Abort(error)) => self.finished = Some(Finished::Aborted(began, error.clone())),
                Some(JobStep::Vanish) => self.finished = Some(Finished::Vanished(began)),
                Some(JobStep::Running(span) | JobStep::Idle(span)) => {
                    let over = match *span {
                        Span::Polls(n) => (self.polls_in_step >= n).then_some(now),
                        Span::For(d) => (now >= began + d).then_some(began + d),
                    };
                    let Some(ended) = over else { return };
                    if self.at + 1 >= self.steps.len() {
                        return;
                    }
                    self.at += 1;
                    self.step_began = ended;
                    self.polls_in_step = 0;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_distinct() {
        let ids: std::collections::HashSet<_> = (0..5000).map(job_id).collect();
        assert_eq!(ids.len(), 5000);
        assert!(ids.iter().all(|id| id.is_ascii() && id.starts_with('j')));
    }

    #[tokio::test(start_paused = true)]
    async fn steps_last_polls_or_time() {
        let now = Instant::now();
        let script = JobScript::new([
            TargetScript::new([JobStep::Running(Span::Polls(2)), JobStep::Idle(Span::Polls(1)), JobStep::End]),
            TargetScript::new([JobStep::Idle(Span::For(Duration::from_secs(5))), JobStep::Vanish]),
        ]);
        let mut job = LiveJob::new("j".into(), "copy-listrange", script, now);
        let states = |s: &Snapshots| {
            s.targets().iter().map(|t| (t.snaps[0].is_idle, t.snaps[0].has_ended())).collect::<Vec<_>>()
        };
        assert_eq!(states(&job.poll(now)), [(false, false), (true, false)]);
        assert_eq!(states(&job.poll(now)), [(false, false), (true, false)]);
        assert_eq!(states(&job.poll(now)), [(true, false), (true, false)]);
        assert_eq!(job.status().end_time, 0);
        assert_eq!(states(&job.poll(now + Duration::from_secs(5))), [(false, true)], "t2 vanished");
        assert_ne!(job.status().end_time, 0);
    }

    #[tokio::test(start_paused = true)]
    async fn an_abort_on_one_target_ends_the_status() {
        let now = Instant::now();
        let script = JobScript::new([
            TargetScript::new([JobStep::Running(Span::Polls(1)), JobStep::Abort("disk on fire".into())]),
            TargetScript::new([JobStep::Running(Span::Polls(100))]),
        ]);
        let mut job = LiveJob::new("j".into(), "rebalance", script, now);
        job.poll(now);
        let snaps = job.poll(now);
        assert!(snaps.any_aborted());
        let status = job.status();
        assert!(status.aborted && status.err == "disk on fire" && status.end_time > 0);
    }
}
