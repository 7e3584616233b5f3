//! The wait machine.

use std::time::Duration;

use bytes::Bytes;
use stowage_proto::{Clock, Completion, InputError, Instant, Machine, Output, RequestId, RequestIds, Transmit};

use crate::{
    IdleStreak, JobArgs, JobError, JobStatus, LastSeen, Progress, Snapshots, Strategy, WaitConfig, WaitResult,
    response_body, snapshots_request, status_request,
};

/// Which wait: the SDK's `wait` (by kind), `wait_for_idle` or `wait_single_node` — or a
/// terminal wait directly.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Dispatch {
    /// Decide by the job's kind ([`Strategy::for_kind`]), learning the kind first when only
    /// the id is known.
    ByKind,
    /// Always this strategy, whatever the kind.
    Fixed(Strategy),
}

/// How a wait ended, and what it took.
#[derive(Debug)]
pub struct WaitOutcome {
    /// The result, or why there is none.
    pub result: Result<WaitResult, JobError>,
    /// The strategy used (`None` if the wait ended while learning the kind).
    pub strategy: Option<Strategy>,
    /// The job's kind, as given or as learned.
    pub kind: String,
    /// Polls made (snapshot or status requests of the wait itself, not the kind lookup).
    pub polls: u32,
    /// Requests sent, the kind lookup included.
    pub requests: u32,
    /// Time from the first request to the end.
    pub elapsed: Duration,
}

/// Waits for a cluster job to be done, as the AIStore SDK's `Job.wait` does, as a sans-IO
/// machine.
///
/// The decision sequence:
/// 1. [`Dispatch::ByKind`] with an empty kind and an id: fetch the snapshots; the first one with
///    a kind gives it; none → [`JobError::JobInfoNotFound`].
/// 2. Dispatch: idle kinds → [`Strategy::IdleStreak`], `blob-download`/`resilver` →
///    [`Strategy::SingleNode`], anything else → [`Strategy::Terminal`].
/// 3. Poll at once, then after every poll that is not conclusive sleep
///    [`WaitConfig::sleep_after`] (never past the deadline) and poll again:
///    - idle streak: any snapshot aborted → done; all idle (or aborted) → streak + 1, done
///      at [`WaitConfig::idle_streak`]; otherwise the streak resets; a poll with no
///      snapshots changes nothing;
///    - single node: any snapshot aborted or ended → done;
///    - terminal: the status has an end time → done.
/// 4. A poll answered at or after the deadline (`first request + timeout`) that is not done
///    ends the wait with [`JobError::Timeout`], carrying what it saw; so does a kind lookup
///    answered after the deadline.
/// 5. A transport error, a status other than 200, or a body that does not parse ends the
///    wait with that error.
///
/// **Where it differs from the reference.** The SDK counts the time it *slept*
/// (`passed += interval`) and raises its timeout on the first poll after more than `timeout`
/// of sleeping; slow responses do not count. This machine measures time on the clock it is
/// given, so slow responses count, the deadline is `timeout` after the first request, and
/// the last poll happens at the deadline (never later). And a poll that shows the job done
/// is done even at the deadline (the SDK checks its timeout first).
///
/// Invariants (checked by property tests): at most one request outstanding; the decision on
/// each poll equals the spec's reference model; an abort ends the wait on the first poll that
/// shows it; no poll is sent after the deadline; after [`Output::Done`] nothing is emitted.
///
/// Progress: after each poll, [`JobWait::poll_progress`] returns what it saw (only the latest
/// is kept).
///
/// # Example
///
/// A `copy-listrange` job (an idle kind) on two targets: busy, then idle twice.
///
/// ```
/// use bytes::Bytes;
/// use stowage_jobwait::{JobWait, Dispatch, WaitConfig};
/// use stowage_proto::{Completion, Instant, Machine, Output};
///
/// let mut wait = JobWait::new("job-1", "copy-listrange", Dispatch::ByKind, WaitConfig::default());
/// let busy = r#"{"t1":[{"id":"job-1","is_idle":false}],"t2":[{"id":"job-1","is_idle":true}]}"#;
/// let idle = r#"{"t1":[{"id":"job-1","is_idle":true,"end-time":"2026-11-23T17:43:05Z"}],"t2":[{"id":"job-1","is_idle":true}]}"#;
/// let mut answers = [busy, idle, idle].into_iter();
/// let mut now = Instant::ZERO;
/// let outcome = loop {
///     match wait.poll_output(now) {
///         Some(Output::Transmit(t)) => {
///             assert_eq!(t.request.uri(), "/v1/cluster?what=qryxstats");
///             let body = Bytes::from(answers.next().unwrap());
///             let response = http::Response::new(body);
///             wait.handle_input(now, Completion { id: t.id, result: Ok(response) }).unwrap();
///         }
///         Some(Output::Done(outcome)) => break outcome,
///         None => {
///             now = wait.poll_timeout().unwrap();
///             wait.handle_timeout(now);
///         }
///     }
/// };
/// let result = outcome.result.unwrap();
/// assert!(result.success);
/// assert_eq!(result.end_time, None, "t2 has not ended");
/// assert_eq!(outcome.polls, 3);
/// ```
#[derive(Debug)]
pub struct JobWait {
    job_id: String,
    kind: String,
    config: WaitConfig,
    strategy: Option<Strategy>,
    ids: RequestIds,
    clock: Clock,
    /// The instant of the first request (set when it is drained).
    started: Option<Instant>,
    phase: Phase,
    pending: Option<Output<WaitOutcome>>,
    progress: Option<Progress>,
    last: LastSeen,
    streak: IdleStreak,
    polls: u32,
    requests: u32,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Phase {
    /// Waiting for the snapshots that name the kind.
    Resolve(RequestId),
    /// Waiting for a poll's answer.
    Poll(RequestId),
    /// Sleeping until the next poll.
    Sleep(Instant),
    /// Finished.
    Done,
}

impl JobWait {
    /// A wait for job `job_id` of `kind` (either may be empty). Its first output is a request:
    /// the kind lookup, or the first poll.
    pub fn new(job_id: impl Into<String>, kind: impl Into<String>, dispatch: Dispatch, config: WaitConfig) -> Self {
        let (job_id, kind) = (job_id.into(), kind.into());
        let strategy = match dispatch {
            Dispatch::Fixed(strategy) => Some(strategy),
            Dispatch::ByKind if kind.is_empty() && !job_id.is_empty() => None,
            Dispatch::ByKind => Some(Strategy::for_kind(&kind)),
        };
        let mut wait = JobWait {
            job_id,
            kind,
            config,
            strategy,
            ids: RequestIds::default(),
            clock: Clock::default(),
            started: None,
            phase: Phase::Done,
            pending: None,
            progress: None,
            last: LastSeen::Nothing,
            streak: IdleStreak::new(config.idle_streak),
            polls: 0,
            requests: 0,
        };
        wait.phase = match strategy {
            None => Phase::Resolve(wait.send(snapshots_request(&wait.args()))),
            Some(strategy) => Phase::Poll(wait.send_poll(strategy)),
        };
        wait
    }

    /// The job id.
    pub fn job_id(&self) -> &str {
        &self.job_id
    }

    /// The job kind, as given or once learned.
    pub fn kind(&self) -> &str {
        &self.kind
    }

    /// The strategy, once known.
    pub fn strategy(&self) -> Option<Strategy> {
        self.strategy
    }

    /// Whether the machine has finished (its outcome may still wait in `poll_output`).
    pub fn is_done(&self) -> bool {
        self.phase == Phase::Done
    }

    /// What the latest poll saw, once: `None` until a poll is answered, and after each one
    /// has been taken. A newer poll replaces a progress not yet taken.
    pub fn poll_progress(&mut self) -> Option<Progress> {
        self.progress.take()
    }

    fn args(&self) -> JobArgs {
        JobArgs::job(&self.job_id, &self.kind)
    }

    fn send(&mut self, request: http::Request<Bytes>) -> RequestId {
        let id = self.ids.next_id();
        self.requests = self.requests.saturating_add(1);
        self.pending = Some(Output::Transmit(Transmit { id, request }));
        id
    }

    fn send_poll(&mut self, strategy: Strategy) -> RequestId {
        let args = self.args();
        match strategy {
            Strategy::Terminal => self.send(status_request(&args)),
            Strategy::IdleStreak | Strategy::SingleNode => self.send(snapshots_request(&args)),
        }
    }

    fn elapsed(&self, now: Instant) -> Duration {
        self.started.map_or(Duration::ZERO, |start| now.saturating_duration_since(start))
    }

    fn deadline(&self) -> Instant {
        self.started.unwrap_or(Instant::ZERO).saturating_add(self.config.timeout)
    }

    fn finish(&mut self, now: Instant, result: Result<WaitResult, JobError>) {
        self.phase = Phase::Done;
        let outcome = WaitOutcome {
            result,
            strategy: self.strategy,
            kind: self.kind.clone(),
            polls: self.polls,
            requests: self.requests,
            elapsed: self.elapsed(now),
        };
        self.pending = Some(Output::Done(outcome));
    }

    fn time_out(&mut self, now: Instant) {
        let error = JobError::Timeout {
            job_id: self.job_id.clone(),
            timeout: self.config.timeout,
            polls: self.polls,
            last: Box::new(std::mem::take(&mut self.last)),
        };
        self.finish(now, Err(error));
    }

    fn on_resolve(&mut self, now: Instant, body: &[u8]) {
        let snapshots = match Snapshots::parse(body) {
            Ok(snapshots) => snapshots,
            Err(error) => return self.finish(now, Err(error.into())),
        };
        let Some(kind) = snapshots.first_kind() else {
            let job_id = self.job_id.clone();
            return self.finish(now, Err(JobError::JobInfoNotFound { job_id }));
        };
        self.kind = kind.to_owned();
        let strategy = Strategy::for_kind(&self.kind);
        self.strategy = Some(strategy);
        if now > self.deadline() {
            self.last = LastSeen::Snapshots(snapshots);
            return self.time_out(now);
        }
        self.phase = Phase::Poll(self.send_poll(strategy));
    }

    /// Decides on one poll's body: `Some(result)` when the job is done.
    fn decide(&mut self, now: Instant, strategy: Strategy, body: &[u8]) -> Result<Option<WaitResult>, JobError> {
        let elapsed = self.elapsed(now);
        if strategy == Strategy::Terminal {
            let status = JobStatus::parse(body)?;
            self.progress = Some(Progress { polls: self.polls, elapsed, ..Progress::default() });
            let done = status.has_ended().then(|| WaitResult::from_status(&status));
            self.last = LastSeen::Status(status);
            return Ok(done);
        }
        let snapshots = Snapshots::parse(body)?;
        let done = match strategy {
            Strategy::SingleNode => snapshots.any_finished(),
            // Terminal waits returned above.
            Strategy::IdleStreak | Strategy::Terminal => self.streak.observe(&snapshots),
        };
        self.progress = Some(Progress::of_snapshots(self.polls, elapsed, &snapshots, self.streak.count()));
        let result = done.then(|| WaitResult::from_snapshots(&self.job_id, snapshots.iter()));
        self.last = LastSeen::Snapshots(snapshots);
        Ok(result)
    }

    fn on_poll(&mut self, now: Instant, body: &[u8]) {
        self.polls = self.polls.saturating_add(1);
        let Some(strategy) = self.strategy else { return };
        match self.decide(now, strategy, body) {
            Err(error) => self.finish(now, Err(error)),
            Ok(Some(result)) => self.finish(now, Ok(result)),
            Ok(None) => {
                let deadline = self.deadline();
                if now >= deadline {
                    return self.time_out(now);
                }
                let wake = now.saturating_add(self.config.sleep_after(self.polls)).min(deadline);
                self.phase = Phase::Sleep(wake);
            }
        }
    }
}

impl Machine for JobWait {
    type Input = Completion<Bytes>;
    type Output = Output<WaitOutcome>;
    type Error = InputError;

    fn handle_input(&mut self, now: Instant, input: Completion<Bytes>) -> Result<(), InputError> {
        let Completion { id, result } = input;
        let awaited = match self.phase {
            Phase::Done => return Err(InputError::Finished),
            Phase::Resolve(awaited) | Phase::Poll(awaited) => Some(awaited),
            Phase::Sleep(_) => None,
        };
        if awaited != Some(id) {
            return Err(InputError::UnexpectedCompletion(id));
        }
        let now = self.clock.observe(now);
        let response = match result {
            Ok(response) => response,
            Err(error) => {
                self.finish(now, Err(JobError::Transport(error)));
                return Ok(());
            }
        };
        let body = match response_body(&response) {
            Ok(body) => body,
            Err(error) => {
                self.finish(now, Err(error));
                return Ok(());
            }
        };
        match self.phase {
            Phase::Resolve(_) => self.on_resolve(now, body),
            Phase::Poll(_) => self.on_poll(now, body),
            // Refused above.
            Phase::Sleep(_) | Phase::Done => {}
        }
        Ok(())
    }

    fn poll_output(&mut self, now: Instant) -> Option<Output<WaitOutcome>> {
        let now = self.clock.observe(now);
        if self.started.is_none() && self.pending.is_some() {
            self.started = Some(now);
        }
        self.pending.take()
    }

    fn poll_timeout(&self) -> Option<Instant> {
        match self.phase {
            Phase::Sleep(until) => Some(until),
            _ => None,
        }
    }

    fn handle_timeout(&mut self, now: Instant) {
        let now = self.clock.observe(now);
        if let Phase::Sleep(until) = self.phase
            && now >= until
            && let Some(strategy) = self.strategy
        {
            self.phase = Phase::Poll(self.send_poll(strategy));
        }
    }
}
