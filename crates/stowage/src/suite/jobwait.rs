//! The jobwait family: scripted cluster jobs waited for through
//! [`Job::wait`](stowage_ais::Job::wait), with the time each wait took to notice that the job
//! had really finished.
//!
//! Every job's steps last a fixed time on the cluster's clock, so the instant it really
//! finished is known: for an idle kind, when its last target went idle for good; for a
//! terminal kind, when its last target ended; for an abort, when the first target aborted.
//! *Detection latency* is the time from that instant to the wait's return: about one poll
//! interval for a terminal job or an abort, one to two for an idle streak (two consecutive
//! idle polls are needed).

use std::time::{Duration, Instant};

use anyhow::Context;
use stowage_ais::Client;
use stowage_cluster::{Cluster, ClusterConfig, JobScript, JobStep, Span, TargetScript};
use stowage_jobwait::{JobError, WaitConfig};
use stowage_lockpoll::ColdGetConfig;
use stowage_tokio::{HyperTransport, Timeouts};

use super::{Meta, Run, Target};
use crate::counting::Counting;
use crate::report::{Cell, Row};

/// The family's name, its table's title.
const FAMILY: &str = "jobwait";
/// Every wait's timeout: `probing_frequency(20 s)` = 1 s between polls.
const TIMEOUT: Duration = Duration::from_secs(20);

/// How a scenario's wait should end.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Expect {
    Success,
    Failure,
    JobInfoNotFound,
}

/// One scenario: a job kind, its script, when it really finishes, the wait's configuration.
#[derive(Clone, Debug)]
struct JobScenario {
    name: &'static str,
    about: &'static str,
    kind: &'static str,
    script: JobScript,
    /// When the job really finishes, from its start (`None`: never).
    finishes: Option<Duration>,
    config: WaitConfig,
    expect: Expect,
}

impl super::Scenario for JobScenario {
    fn meta(&self) -> Meta {
        Meta { family: FAMILY, name: self.name, about: self.about }
    }

    fn run(&self, target: Target) -> Run<'_> {
        Box::pin(run(self, target))
    }
}

fn ms(n: u64) -> Span {
    Span::For(Duration::from_millis(n))
}

fn target(steps: impl IntoIterator<Item = JobStep>) -> TargetScript {
    TargetScript::new(steps)
}

/// The family's scenarios, in table order.
pub(super) fn scenarios() -> Vec<Box<dyn super::Scenario>> {
    use JobStep::{Abort, End, Idle, Running};
    let forever = || Running(ms(3_600_000));
    let idle_forever = || Idle(ms(3_600_000));
    let config = WaitConfig::with_timeout(TIMEOUT);
    let terminal = JobScript::new([target([Running(ms(2_500)), End]), target([Running(ms(3_200)), End])]);
    vec![
        JobScenario {
            name: "idle-flap",
            about: "copy-listrange on 2 targets flapping idle/busy, settled at 3.7 s: done after 2 idle polls in a row",
            kind: "copy-listrange",
            script: JobScript::new([
                target([Running(ms(1_500)), Idle(ms(1_200)), Running(ms(1_000)), idle_forever()]),
                target([Idle(ms(500)), Running(ms(2_000)), idle_forever()]),
            ]),
            finishes: Some(Duration::from_millis(3_700)),
            config,
            expect: Expect::Success,
        },
        JobScenario {
            name: "terminal",
            about: "rebalance on 2 targets ending at 2.5 s and 3.2 s: status polled until it has an end time",
            kind: "rebalance",
            script: terminal.clone(),
            finishes: Some(Duration::from_millis(3_200)),
            config,
            expect: Expect::Success,
        },
        JobScenario {
            name: "terminal-backoff",
            about: "the same job, interval doubling from 1 s up to 4 s: fewer polls, later detection",
            kind: "rebalance",
            script: terminal,
            finishes: Some(Duration::from_millis(3_200)),
            config: WaitConfig { backoff_cap: Some(Duration::from_secs(4)), ..config },
            expect: Expect::Success,
        },
        JobScenario {
            name: "aborted",
            about: "copy-listrange aborted on one target at 1.8 s: ends on the first poll that shows it",
            kind: "copy-listrange",
            script: JobScript::new([target([Running(ms(1_800)), Abort("disk on fire".into())]), target([forever()])]),
            finishes: Some(Duration::from_millis(1_800)),
            config,
            expect: Expect::Failure,
        },
        JobScenario {
            name: "unknown-kind",
            about: "a kind the client does not know, ending at 2.2 s: waited for like a terminal job",
            kind: "brand-new-kind",
            script: JobScript::new([target([Running(ms(2_200)), End])]),
            finishes: Some(Duration::from_millis(2_200)),
            config,
            expect: Expect::Success,
        },
        JobScenario {
            name: "no-kind",
            about: "a job id whose snapshots name no kind: job info not found after one request",
            kind: "make-n-copies",
            script: JobScript { report_kind: false, ..JobScript::new([target([forever()])]) },
            finishes: None,
            config,
            expect: Expect::JobInfoNotFound,
        },
    ]
    .into_iter()
    .map(|s| Box::new(s) as Box<dyn super::Scenario>)
    .collect()
}

async fn run(scenario: &JobScenario, target: Target) -> anyhow::Result<Row> {
    let cluster = Cluster::start(ClusterConfig::default())
        .await
        .with_context(|| format!("{}: starting the embedded cluster", scenario.name))?;
    cluster.jobs().script(scenario.kind, scenario.script.clone());
    let hyper = HyperTransport::new(&cluster.url(), Timeouts::default()).context("cluster URL")?;
    let starter = Client::with_transport(hyper.clone(), ColdGetConfig::default(), target.seed);
    // Only the wait's requests are counted.
    let (transport, counts) = Counting::new(hyper);
    let client = Client::with_transport(transport, ColdGetConfig::default(), target.seed);
    let started = Instant::now();
    let job = starter.start_job(scenario.kind).await.with_context(|| format!("{}: starting the job", scenario.name))?;
    // The wait knows the id only, as a caller handed a job id would.
    let outcome = client.job(job.id(), "").wait(scenario.config).await;
    let ended = started.elapsed();
    let detected = scenario.finishes.map_or(0.0, |at| ended.saturating_sub(at).as_secs_f64());
    let (text, got) = match &outcome.result {
        Ok(result) if result.success => {
            (format!("done ({})", outcome.strategy.map_or("?", |s| s.name())), Expect::Success)
        }
        Ok(result) => (format!("failed: {}", result.error.as_deref().unwrap_or("?")), Expect::Failure),
        Err(JobError::JobInfoNotFound { .. }) => ("job info not found".to_owned(), Expect::JobInfoNotFound),
        Err(error) => (format!("error: {error}"), Expect::Failure),
    };
    let ok = got == scenario.expect && !matches!(outcome.result, Err(JobError::Timeout { .. }));
    cluster.shutdown().await;
    Ok(Row {
        family: FAMILY,
        scenario: scenario.name.to_owned(),
        outcome: text,
        columns: vec![
            ("polls", Cell::Count(outcome.polls.into())),
            ("requests", Cell::Count(counts.requests())),
            ("detected", Cell::Seconds(detected)),
            ("elapsed", Cell::Seconds(ended.as_secs_f64())),
        ],
        ok,
    })
}
