//! `stowage bench`: every scenario, concurrently, each against its own embedded cluster.

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use bytes::Bytes;
use indicatif::{ProgressBar, ProgressStyle};
use stowage_cluster::{BucketSpec, Cluster, ClusterConfig};
use stowage_lockpoll::{GiveUpReason, Outcome, Report};
use stowage_proto::ais::ObjectAddress;
use stowage_tokio::{Client, ColdGetError, HyperTransport, Timeouts};

use crate::counting::{Counting, Counts};
use crate::scenario::{self, OBJECT_SIZE, READ_TIMEOUT, Scenario};
use crate::table::{self, Row};

/// `stowage bench` options.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// Run against this server instead of the embedded cluster (scenarios that need the
    /// embedded cluster's cold GETs or faults are skipped).
    #[arg(long)]
    url: Option<String>,
    /// Print the rows as JSON instead of a table.
    #[arg(long)]
    json: bool,
    /// Run only the scenarios with these names (comma-separated).
    #[arg(long, value_delimiter = ',')]
    only: Vec<String>,
    /// Seed of the clients' jitter.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// List the scenarios and what each shows, then exit.
    #[arg(long)]
    list: bool,
}

/// Runs the selected scenarios and prints the table.
pub(crate) async fn run(args: Args) -> anyhow::Result<()> {
    let mut scenarios = scenario::all();
    if args.list {
        for s in &scenarios {
            println!("{:<20} {}", s.name, s.about);
        }
        return Ok(());
    }
    if !args.only.is_empty() {
        let unknown: Vec<_> = args.only.iter().filter(|n| !scenarios.iter().any(|s| s.name == n.as_str())).collect();
        if !unknown.is_empty() {
            let known: Vec<_> = scenarios.iter().map(|s| s.name).collect();
            bail!("unknown scenario(s) {unknown:?}; known: {}", known.join(", "));
        }
        scenarios.retain(|s| args.only.iter().any(|n| n == s.name));
    }
    if args.url.is_some() {
        scenarios.retain(|s| {
            let keep = !s.needs_embedded();
            if !keep {
                eprintln!("skipping {}: it needs the embedded cluster's cold GETs or faults", s.name);
            }
            keep
        });
    }
    let progress = ProgressBar::new(scenarios.len() as u64).with_style(
        ProgressStyle::with_template("{spinner} [{elapsed}] {pos}/{len} scenarios done {msg}")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    progress.enable_steady_tick(Duration::from_millis(100));
    let data = object_bytes();
    let mut tasks = tokio::task::JoinSet::new();
    for (index, scenario) in scenarios.into_iter().enumerate() {
        let (url, data, progress, seed) = (args.url.clone(), data.clone(), progress.clone(), args.seed);
        tasks.spawn(async move {
            let row = run_one(&scenario, url, data, seed).await;
            progress.inc(1);
            progress.set_message(format!("(last: {})", scenario.name));
            (index, row)
        });
    }
    let mut rows = Vec::new();
    while let Some(joined) = tasks.join_next().await {
        let (index, row) = joined.context("a scenario panicked")?;
        rows.push((index, row?));
    }
    progress.finish_and_clear();
    rows.sort_by_key(|(index, _)| *index);
    let rows: Vec<Row> = rows.into_iter().map(|(_, row)| row).collect();
    if args.json {
        println!("{}", serde_json::to_string_pretty(&rows)?);
    } else {
        print!("{}", table::render(&rows));
    }
    Ok(())
}

/// The object every scenario writes and reads back: a deterministic pattern.
fn object_bytes() -> Bytes {
    (0..OBJECT_SIZE).map(|i| (i % 251) as u8).collect::<Vec<u8>>().into()
}

async fn run_one(scenario: &Scenario, url: Option<String>, data: Bytes, seed: u64) -> anyhow::Result<Row> {
    let address = ObjectAddress::new(scenario.bucket.clone(), "bench/object.bin");
    // Keep the cluster alive until the read is over.
    let (cluster, url) = match url {
        Some(url) => (None, url),
        None => {
            let cluster = start_cluster(scenario).await?;
            cluster.put_object(&scenario.bucket, &address.object(), data.clone());
            let url = cluster.url();
            (Some(cluster), url)
        }
    };
    let timeouts = Timeouts { read: READ_TIMEOUT, ..Timeouts::default() };
    let hyper = HyperTransport::new(&url, timeouts).with_context(|| format!("bad --url {url}"))?;
    let (transport, counts) = Counting::new(hyper);
    let client = Client::with_transport(transport, scenario.config.clone(), seed);
    if cluster.is_none() {
        let status = client.put_object(&address, data.clone()).await.context("writing the object")?;
        if !status.is_success() {
            bail!("{}: writing the object failed with HTTP {status}", scenario.name);
        }
    }
    let started = Instant::now();
    let result = client.get_object(&address).await;
    let elapsed = started.elapsed();
    Ok(row(scenario, result, &data, &counts, elapsed))
}

async fn start_cluster(scenario: &Scenario) -> anyhow::Result<Cluster> {
    let bucket = &scenario.bucket;
    let spec = BucketSpec {
        name: bucket.name.clone(),
        provider: bucket.provider.to_string(),
        namespace: if bucket.namespace.is_global() { String::new() } else { bucket.namespace.to_string() },
        cold_get_lock_ms: u64::try_from(scenario.lock_hold.as_millis()).unwrap_or(u64::MAX),
        objects: vec![],
    };
    let config = ClusterConfig { buckets: vec![spec], faults: scenario.faults.clone(), ..ClusterConfig::default() };
    Cluster::start(config).await.with_context(|| format!("{}: starting the embedded cluster", scenario.name))
}

fn row(
    scenario: &Scenario,
    result: Result<stowage_tokio::ColdGetResponse, ColdGetError>,
    data: &Bytes,
    counts: &Arc<Counts>,
    elapsed: Duration,
) -> Row {
    let (outcome, report, verified) = match result {
        Ok(got) => {
            let status = got.response.status();
            let verified = status.is_success() && got.response.body() == data;
            let outcome = if verified {
                format!("read {} MiB{}", data.len() >> 20, lock_note(&got.report))
            } else {
                format!("HTTP {status}, {} bytes", got.response.body().len())
            };
            (outcome, got.report, verified)
        }
        Err(ColdGetError::Failed { error, report }) => (format!("failed: {error}"), report, false),
    };
    Row {
        scenario: scenario.name.to_owned(),
        outcome,
        attempts: report.attempts,
        polls: report.polls(),
        waited_s: report.waited().as_secs_f64(),
        requests: counts.requests(),
        errors: counts.errors(),
        elapsed_s: elapsed.as_secs_f64(),
        verified,
    }
}

/// How the lock waits went, e.g. " after lock wait (unlocked)".
fn lock_note(report: &Report) -> String {
    let waits: Vec<&str> = report
        .lock_waits
        .iter()
        .map(|o| match o {
            Outcome::NotLocked => "not locked",
            Outcome::Unlocked { .. } => "unlocked",
            Outcome::GaveUp { reason: GiveUpReason::StillLocked, .. } => "gave up: still locked",
            Outcome::GaveUp { reason: GiveUpReason::CheckLockFailed(_), .. } => "gave up: check-lock failed",
        })
        .collect();
    if waits.is_empty() { String::new() } else { format!(" after lock waits ({})", waits.join(", ")) }
}
