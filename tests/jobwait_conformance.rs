//! Conformance: the real AIStore Python SDK (2.0.0), a client no one here wrote, waits for the
//! embedded cluster's scripted jobs with its own `Job.wait` / `wait_for_idle` /
//! `wait_single_node`, and stowage's `Job` waits for twin jobs with the same scripts. Their
//! results must be the same: success, error, the poll that decided, and the end time.
//!
//! This proves both that the cluster speaks AIStore's job API as the SDK parses it, and that
//! stowage's machine decides as the reference does — including an abort on one target and an
//! idle-kind job that flaps between idle and busy before settling.
//!
//! How: for each case the test starts three jobs, A, B and C, with the same script (steps
//! counted in polls, so all see the same sequence however fast they poll). The SDK waits for
//! A, stowage's tokio driver for B and its io_uring driver (the same machine, unchanged) for C,
//! then the SDK waits for B again: A vs B and A vs C compare the decisions (and the number of
//! polls each job took), the second SDK wait on B compares the end time on the very same job.
//!
//! Which Python: see [`stowage_tests::sdk_python`]; without one the test is skipped saying how
//! to run it.

use std::collections::HashMap;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

use serde_json::Value;
use stowage_ais::Client;
use stowage_cluster::{Cluster, ClusterConfig, JobScript, JobStep, Span, TargetScript};
use stowage_jobwait::{Dispatch, JobError, JobWait, Strategy, WaitConfig, WaitOutcome};
use stowage_proto::Timeouts;
use stowage_uring::UringDriver;

/// The SDK's timeout (seconds): probing_frequency(0.8) = 0.1 s between polls.
const SDK_TIMEOUT: &str = "0.8";

struct Case {
    name: &'static str,
    kind: &'static str,
    script: JobScript,
    /// `wait`, `idle` or `single`.
    mode: &'static str,
    /// Abort through the API before waiting.
    abort: bool,
    /// The job never ends: both must time out.
    times_out: bool,
}

fn polls(n: u32) -> Span {
    Span::Polls(n)
}

fn target(steps: impl IntoIterator<Item = JobStep>) -> TargetScript {
    TargetScript::new(steps)
}

fn cases() -> Vec<Case> {
    use JobStep::{Abort, End, Idle, Running, Vanish};
    let forever = || Running(polls(1_000));
    let case = |name, kind, script, mode| Case { name, kind, script, mode, abort: false, times_out: false };
    vec![
        case(
            "idle kind that flaps idle/busy before settling",
            "copy-listrange",
            JobScript::new([
                target([Running(polls(1)), Idle(polls(1)), Running(polls(1)), Idle(polls(1_000))]),
                target([Idle(polls(1_000))]),
            ]),
            "wait",
        ),
        case(
            "idle kind aborted on one target",
            "copy-listrange",
            JobScript::new([target([Running(polls(2)), Abort("disk on fire".into())]), target([forever()])]),
            "wait",
        ),
        case(
            "wait_for_idle of an idle kind, busy again on one target",
            "download",
            JobScript::new([
                target([Idle(polls(1_000))]),
                target([Idle(polls(1)), Running(polls(1)), Idle(polls(1_000))]),
            ]),
            "idle",
        ),
        case(
            "terminal kind, targets end at different polls",
            "rebalance",
            JobScript::new([target([Running(polls(2)), End]), target([Running(polls(3)), End])]),
            "wait",
        ),
        case(
            "terminal kind aborted on one target",
            "rebalance",
            JobScript::new([target([Running(polls(1)), Abort("boom".into())]), target([forever()])]),
            "wait",
        ),
        case(
            "unknown kind waits terminal",
            "brand-new-kind",
            JobScript::new([target([Running(polls(2)), End])]),
            "wait",
        ),
        case(
            "single node (blob-download): one target finishes",
            "blob-download",
            JobScript::new([target([Running(polls(2)), End]), target([forever()])]),
            "wait",
        ),
        case(
            "single node (resilver): a target vanishes, the other ends",
            "resilver",
            JobScript::new([target([Running(polls(1)), Vanish]), target([Running(polls(3)), End])]),
            "wait",
        ),
        case(
            "wait_single_node of a terminal kind",
            "lru",
            JobScript::new([target([Running(polls(2)), End]), target([forever()])]),
            "single",
        ),
        case(
            "job id whose snapshots name no kind",
            "make-n-copies",
            JobScript { report_kind: false, ..JobScript::new([target([forever()])]) },
            "wait",
        ),
        Case {
            abort: true,
            ..case("aborted through the API", "copy-bck", JobScript::new([target([forever()])]), "wait")
        },
        Case {
            abort: true,
            ..case(
                "idle kind aborted through the API on every target",
                "put-copies",
                JobScript::new([target([Idle(polls(1_000))]), target([forever()])]),
                "wait",
            )
        },
        Case {
            times_out: true,
            ..case("never ends: both time out", "summary-bck", JobScript::new([target([forever()])]), "wait")
        },
    ]
}

/// One wait's result, the SDK's or ours, in comparable form.
#[derive(Debug, PartialEq, Eq)]
enum Got {
    Result { success: bool, error: Option<String>, end_time_us: Option<i128> },
    Raised(&'static str),
}

impl Got {
    fn of_sdk(line: &Value) -> Got {
        if let Some(raised) = line["raised"].as_str() {
            return Got::Raised(match raised {
                "Timeout" => "Timeout",
                "JobInfoNotFound" => "JobInfoNotFound",
                other => panic!("unexpected exception {other}: {line}"),
            });
        }
        // The SDK reports the `err` of a status that was not aborted as is, `""` included;
        // stowage reports no error as `None`.
        let error = line["error"].as_str().filter(|e| !e.is_empty()).map(str::to_owned);
        Got::Result {
            success: line["success"].as_bool().unwrap(),
            error,
            end_time_us: line["end_time_us"].as_i64().map(i128::from),
        }
    }

    fn of_ours(outcome: &WaitOutcome) -> Got {
        match &outcome.result {
            Ok(r) => Got::Result {
                success: r.success,
                error: r.error.clone(),
                end_time_us: r.end_time.map(|t| t.unix_nanos().div_euclid(1_000)),
            },
            Err(JobError::Timeout { .. }) => Got::Raised("Timeout"),
            Err(JobError::JobInfoNotFound { .. }) => Got::Raised("JobInfoNotFound"),
            Err(other) => panic!("stowage's wait failed: {other}"),
        }
    }

    /// The same, but end times within 1 µs (the SDK turns status end times into floats).
    fn matches(&self, other: &Got) -> bool {
        match (self, other) {
            (
                Got::Result { success: s1, error: e1, end_time_us: t1 },
                Got::Result { success: s2, error: e2, end_time_us: t2 },
            ) => {
                let close = match (t1, t2) {
                    (Some(a), Some(b)) => (a - b).abs() <= 1,
                    (a, b) => a == b,
                };
                s1 == s2 && e1 == e2 && close
            }
            (a, b) => a == b,
        }
    }

    fn without_end_time(&self) -> Got {
        match self {
            Got::Result { success, error, .. } => {
                Got::Result { success: *success, error: error.clone(), end_time_us: None }
            }
            Got::Raised(r) => Got::Raised(r),
        }
    }
}

/// Runs the SDK script over `jobs` (`id:mode[:abort]`), returning each job's result by id.
async fn sdk_waits(python: &str, url: &str, jobs: Vec<String>) -> HashMap<String, Got> {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("conformance/aistore_job_wait.py");
    let (python, url) = (python.to_owned(), url.to_owned());
    let out = tokio::task::spawn_blocking(move || {
        Command::new(python).arg(script).arg(url).arg(SDK_TIMEOUT).args(jobs).output().unwrap()
    })
    .await
    .unwrap();
    assert!(out.status.success(), "the SDK failed: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|line| {
            let line: Value = serde_json::from_str(line).unwrap();
            (line["job"].as_str().unwrap().to_owned(), Got::of_sdk(&line))
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_aistore_python_sdk_and_stowage_agree_on_every_scripted_job() {
    let Some(python) = stowage_tests::sdk_python(stowage_tests::AISTORE, "jobwait_conformance") else { return };
    let cluster = Cluster::start(ClusterConfig::default()).await.unwrap();
    let client = Client::new(&cluster.url()).unwrap();
    let cases = cases();
    let mut twins = vec![];
    for case in &cases {
        cluster.jobs().script(case.kind, case.script.clone());
        let a = client.start_job(case.kind).await.unwrap();
        let b = client.start_job(case.kind).await.unwrap();
        let c = client.start_job(case.kind).await.unwrap();
        twins.push((a.id().to_owned(), b.id().to_owned(), c.id().to_owned()));
    }
    let args = |pick: fn(&(String, String, String)) -> &String, abort: bool| -> Vec<String> {
        cases
            .iter()
            .zip(&twins)
            .map(|(case, ids)| {
                format!("{}:{}{}", pick(ids), case.mode, if abort && case.abort { ":abort" } else { "" })
            })
            .collect()
    };

    // The SDK waits for every A.
    let sdk_a = sdk_waits(&python, &cluster.url(), args(|t| &t.0, true)).await;

    // stowage waits for every B with the tokio driver and every C with the io_uring driver,
    // polling as often as the SDK (0.1 s).
    let mut ours = vec![];
    for (case, (_, b, c)) in cases.iter().zip(&twins) {
        let timeout = if case.times_out { Duration::from_millis(800) } else { Duration::from_secs(10) };
        let config = WaitConfig { interval: Some(Duration::from_millis(100)), ..WaitConfig::with_timeout(timeout) };
        let job = client.job(b.clone(), "");
        if case.abort {
            job.abort().await.unwrap();
            client.job(c.clone(), "").abort().await.unwrap();
        }
        let dispatch = match case.mode {
            "wait" => Dispatch::ByKind,
            "idle" => Dispatch::Fixed(Strategy::IdleStreak),
            "single" => Dispatch::Fixed(Strategy::SingleNode),
            other => unreachable!("{other}"),
        };
        let outcome = job.wait_with(dispatch, config, |_| {}).await;
        let (url, c_id) = (cluster.url(), c.clone());
        let uring = tokio::task::spawn_blocking(move || {
            let machine = JobWait::new(c_id, "", dispatch, config);
            UringDriver::new(&url, Timeouts::default()).unwrap().drive(machine).unwrap().outcome
        })
        .await
        .unwrap();
        ours.push((
            Got::of_ours(&outcome),
            cluster.jobs().polls(b).unwrap(),
            Got::of_ours(&uring),
            cluster.jobs().polls(c).unwrap(),
        ));
    }

    // The SDK waits for every B again (now finished, or settled): the same job as ours.
    let sdk_b = sdk_waits(&python, &cluster.url(), args(|t| &t.1, false)).await;

    for ((case, (a, b, _)), (got, b_polls, uring, c_polls)) in cases.iter().zip(&twins).zip(&ours) {
        let (sdk_a, sdk_b) = (&sdk_a[a], &sdk_b[b]);
        eprintln!("{}: SDK on A {sdk_a:?}; tokio on B {got:?}; uring on C {uring:?}; SDK on B {sdk_b:?}", case.name);
        assert_eq!(sdk_a.without_end_time(), got.without_end_time(), "{}: the decisions differ", case.name);
        assert_eq!(sdk_a.without_end_time(), uring.without_end_time(), "{}: io_uring decided otherwise", case.name);
        if !case.times_out {
            let a_polls = cluster.jobs().polls(a).unwrap();
            // Both counts include the SDK's wait on B only after ours was recorded.
            assert_eq!(a_polls, *b_polls, "{}: decided on a different poll", case.name);
            assert_eq!(a_polls, *c_polls, "{}: io_uring decided on a different poll", case.name);
        }
        assert!(sdk_b.matches(got), "{}: SDK on the same job {sdk_b:?}, stowage {got:?}", case.name);
    }
    cluster.shutdown().await;
}
