//! `stowage bench`: every scenario, each against its own embedded cluster (or the server at
//! `--url`) — concurrently, except those that measure rates, which run alone — then one table
//! per family.

use std::time::Duration;

use anyhow::{Context, bail};
use indicatif::{ProgressBar, ProgressStyle};

use crate::report::{self, Row};
use crate::suite::{self, Scenario, Target};

/// `stowage bench` options.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// Run against this server instead of the embedded cluster (scenarios that need the
    /// embedded cluster's cold GETs, faults or jobs are skipped).
    #[arg(long)]
    url: Option<String>,
    /// What to trust when --url is https://.
    #[command(flatten)]
    tls: crate::tls::TlsArgs,
    /// Print the rows as JSON instead of tables.
    #[arg(long)]
    json: bool,
    /// Run only the scenarios with these names, or of these families (comma-separated).
    #[arg(long, value_delimiter = ',')]
    only: Vec<String>,
    /// Seed of the clients' jitter.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// List the scenarios and what each shows, then exit.
    #[arg(long)]
    list: bool,
}

/// Runs the selected scenarios and prints the results; fails when a scenario did not behave as
/// it should.
pub(crate) async fn run(args: Args) -> anyhow::Result<()> {
    let scenarios = select(suite::all(), &args)?;
    if args.list {
        for s in &scenarios {
            let meta = s.meta();
            println!("{:<10} {:<24} {}", meta.family, meta.name, meta.about);
        }
        return Ok(());
    }
    let rows = run_all(scenarios, Target { url: args.url.clone(), seed: args.seed, tls: args.tls.config()? }).await?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&rows)?);
    } else {
        print!("{}", report::render(&rows));
    }
    let failed: Vec<&str> = rows.iter().filter(|r| !r.ok).map(|r| r.scenario.as_str()).collect();
    if !failed.is_empty() {
        bail!("{} scenario(s) did not behave as they should: {}", failed.len(), failed.join(", "));
    }
    Ok(())
}

/// The scenarios `--only` and `--url` leave.
fn select(mut scenarios: Vec<Box<dyn Scenario>>, args: &Args) -> anyhow::Result<Vec<Box<dyn Scenario>>> {
    if !args.only.is_empty() {
        let known = |n: &str| scenarios.iter().any(|s| s.meta().name == n || s.meta().family == n);
        let unknown: Vec<_> = args.only.iter().filter(|n| !known(n)).collect();
        if !unknown.is_empty() {
            let names: Vec<_> = scenarios.iter().map(|s| s.meta().name).collect();
            bail!("unknown scenario(s) {unknown:?}; known: {}", names.join(", "));
        }
        scenarios.retain(|s| args.only.iter().any(|n| n == s.meta().name || n == s.meta().family));
    }
    if args.url.is_some() {
        scenarios.retain(|s| {
            let keep = !s.needs_embedded();
            if !keep {
                eprintln!("skipping {}: it needs the embedded cluster", s.meta().name);
            }
            keep
        });
    }
    Ok(scenarios)
}

/// Runs the scenarios under a progress bar: those that measure no rate concurrently, then those
/// that do one at a time (see [`Scenario::runs_alone`]); rows come back in table order.
async fn run_all(scenarios: Vec<Box<dyn Scenario>>, target: Target) -> anyhow::Result<Vec<Row>> {
    let progress = ProgressBar::new(scenarios.len() as u64).with_style(
        ProgressStyle::with_template("{spinner} [{elapsed}] {pos}/{len} scenarios done {msg}")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    progress.enable_steady_tick(Duration::from_millis(100));
    let (alone, together): (Vec<_>, Vec<_>) = scenarios.into_iter().enumerate().partition(|(_, s)| s.runs_alone());
    let mut tasks = tokio::task::JoinSet::new();
    for (index, scenario) in together {
        let (target, progress) = (target.clone(), progress.clone());
        tasks.spawn(async move { (index, run_one(scenario.as_ref(), target, &progress).await) });
    }
    let mut rows = Vec::new();
    while let Some(joined) = tasks.join_next().await {
        let (index, row) = joined.context("a scenario panicked")?;
        rows.push((index, row?));
    }
    for (index, scenario) in alone {
        rows.push((index, run_one(scenario.as_ref(), target.clone(), &progress).await?));
    }
    progress.finish_and_clear();
    rows.sort_by_key(|(index, _)| *index);
    Ok(rows.into_iter().map(|(_, row)| row).collect())
}

async fn run_one(scenario: &dyn Scenario, target: Target, progress: &ProgressBar) -> anyhow::Result<Row> {
    let row = scenario.run(target).await;
    progress.inc(1);
    progress.set_message(format!("(last: {})", scenario.meta().name));
    row
}
