//! Cluster jobs: start, wait, query and abort them (AIStore's `Job` API).

use std::time::Duration;

use bytes::Bytes;
use stowage_jobwait::{
    Dispatch, JobArgs, JobError, JobStatus, JobWait, Progress, Snapshots, Strategy, WaitConfig, WaitOutcome,
    abort_request, response_body, snapshots_request, start_request, status_request,
};
use stowage_proto::redirect::RedirectPolicy;
use stowage_proto::{DEFAULT_READ_TIMEOUT, TransportError};
use stowage_tokio::{HyperTransport, Transport, drive_observed, send_following};
use tracing::{debug, error, info};

use crate::Client;

/// One cluster job, by id and/or kind, as the AIStore SDK's `Job`.
///
/// The waits run [`JobWait`] (all decisions are the machine's: dispatch, idle streak, poll
/// interval, deadline); the one-shot calls send the machine crate's requests and parse the
/// answers with its parsers. Every request is bounded by [`Job::request_timeout`] (default
/// 20 s), on top of the transport's own connect and read timeouts.
///
/// ```no_run
/// use std::time::Duration;
///
/// use stowage_ais::Client;
/// use stowage_jobwait::WaitConfig;
///
/// # #[tokio::main]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let client = Client::new("http://localhost:8080")?;
/// let job = client.job("Xq2-9vB", "");
/// let outcome = job.wait(WaitConfig::with_timeout(Duration::from_secs(600))).await;
/// match outcome.result {
///     Ok(result) if result.success => println!("done at {:?} after {} polls", result.end_time, outcome.polls),
///     Ok(result) => println!("failed: {:?}", result.error),
///     Err(error) => println!("{error}"),
/// }
/// # Ok(())
/// # }
/// ```
#[derive(Clone, Debug)]
pub struct Job<T: Transport = HyperTransport> {
    transport: T,
    id: String,
    kind: String,
    request_timeout: Duration,
}

impl<T: Transport> Client<T> {
    /// The job `id` of `kind` (either may be empty, as in the SDK).
    pub fn job(&self, id: impl Into<String>, kind: impl Into<String>) -> Job<T> {
        Job::new(self.transport().clone(), id, kind)
    }

    /// Starts a job of `kind` (`PUT /v1/cluster` with `{"action":"start",…}`) and returns it
    /// with the id the cluster gave it.
    pub async fn start_job(&self, kind: &str) -> Result<Job<T>, JobError> {
        let job = self.job("", kind);
        let response = job.send(start_request(&JobArgs::job("", kind))).await?;
        let id = String::from_utf8_lossy(response_body(&response)?).trim().to_owned();
        info!(%kind, %id, "job started");
        Ok(Job { id, ..job })
    }
}

impl<T: Transport> Job<T> {
    /// The job `id` of `kind` over `transport`.
    pub fn new(transport: T, id: impl Into<String>, kind: impl Into<String>) -> Self {
        Job { transport, id: id.into(), kind: kind.into(), request_timeout: DEFAULT_READ_TIMEOUT }
    }

    /// Bounds every request of this job (default 20 s): one that takes longer fails with
    /// [`TransportError::ReadTimeout`].
    #[must_use]
    pub fn request_timeout(mut self, timeout: Duration) -> Self {
        self.request_timeout = timeout;
        self
    }

    /// The job id.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// The job kind, as given.
    pub fn kind(&self) -> &str {
        &self.kind
    }

    /// Waits until the job is done as its kind requires (the SDK's `wait`): idle kinds until
    /// idle on consecutive polls, `blob-download`/`resilver` until one node finishes,
    /// anything else until the job has an end time; the kind is looked up first when only
    /// the id is known.
    pub async fn wait(&self, config: WaitConfig) -> WaitOutcome {
        self.wait_with(Dispatch::ByKind, config, |_| {}).await
    }

    /// Waits until every target is idle on consecutive polls (the SDK's `wait_for_idle`).
    pub async fn wait_for_idle(&self, config: WaitConfig) -> WaitOutcome {
        self.wait_with(Dispatch::Fixed(Strategy::IdleStreak), config, |_| {}).await
    }

    /// Waits until any target's snapshot has finished (the SDK's `wait_single_node`).
    pub async fn wait_single_node(&self, config: WaitConfig) -> WaitOutcome {
        self.wait_with(Dispatch::Fixed(Strategy::SingleNode), config, |_| {}).await
    }

    /// Waits as `dispatch` says, calling `on_progress` with what each poll saw.
    ///
    /// Never fails as such: how the wait ended is [`WaitOutcome::result`]. A driver failure (a
    /// machine bug, never the server's doing) is logged and reported as
    /// [`JobError::Transport`] with [`TransportError::Other`].
    pub async fn wait_with(
        &self,
        dispatch: Dispatch,
        config: WaitConfig,
        mut on_progress: impl FnMut(Progress),
    ) -> WaitOutcome {
        let machine = JobWait::new(self.id.clone(), self.kind.clone(), dispatch, config);
        let transport = Bounded { inner: self.transport.clone(), limit: self.request_timeout };
        let driven = drive_observed(machine, &transport, |wait| {
            if let Some(progress) = wait.poll_progress() {
                debug!(job = %self.id, ?progress, "job progress");
                on_progress(progress);
            }
        })
        .await;
        let outcome = match driven {
            Ok(driven) => driven.outcome,
            Err(drive_error) => {
                error!(%drive_error, job = %self.id, "job wait driver failure");
                WaitOutcome {
                    result: Err(JobError::Transport(TransportError::Other)),
                    strategy: None,
                    kind: self.kind.clone(),
                    polls: 0,
                    requests: 0,
                    elapsed: Duration::ZERO,
                }
            }
        };
        match &outcome.result {
            Ok(result) => info!(job = %self.id, success = result.success, polls = outcome.polls, "job wait ended"),
            Err(error) => info!(job = %self.id, %error, polls = outcome.polls, "job wait failed"),
        }
        outcome
    }

    /// The job's status (`GET /v1/cluster?what=status`).
    pub async fn status(&self) -> Result<JobStatus, JobError> {
        let response = self.send(status_request(&self.args())).await?;
        Ok(JobStatus::parse(response_body(&response)?)?)
    }

    /// The job's snapshots on every target (`GET /v1/cluster?what=qryxstats`).
    pub async fn details(&self) -> Result<Snapshots, JobError> {
        let response = self.send(snapshots_request(&self.args())).await?;
        Ok(Snapshots::parse(response_body(&response)?)?)
    }

    /// Aborts the job (`PUT /v1/cluster` with `{"action":"stop",…}`).
    pub async fn abort(&self) -> Result<(), JobError> {
        let response = self.send(abort_request(&self.args())).await?;
        response_body(&response)?;
        info!(job = %self.id, "job aborted");
        Ok(())
    }

    fn args(&self) -> JobArgs {
        JobArgs::job(&self.id, &self.kind)
    }

    async fn send(&self, request: http::Request<Bytes>) -> Result<http::Response<Bytes>, JobError> {
        let bounded = Bounded { inner: self.transport.clone(), limit: self.request_timeout };
        Ok(send_following(&bounded, request).await?)
    }
}

/// A transport whose every request is bounded by `limit` as a whole.
#[derive(Clone, Debug)]
struct Bounded<T> {
    inner: T,
    limit: Duration,
}

impl<T: Transport> Transport for Bounded<T> {
    fn send(
        &self,
        request: http::Request<Bytes>,
    ) -> impl Future<Output = Result<http::Response<Bytes>, TransportError>> + Send {
        let (response, limit) = (self.inner.send(request), self.limit);
        async move { tokio::time::timeout(limit, response).await.unwrap_or(Err(TransportError::ReadTimeout)) }
    }

    fn locate(&self, uri: &http::Uri) -> Option<http::Uri> {
        self.inner.locate(uri)
    }

    fn redirect_policy(&self) -> &RedirectPolicy {
        self.inner.redirect_policy()
    }
}
