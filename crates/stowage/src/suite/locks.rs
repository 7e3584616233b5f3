//! The locks family: simulated Ganeti jobs contending for instance and node locks through the
//! tokio [`LockManager`], with the throughput of grants, the 99th-percentile wait of each
//! priority class and the invariant violations seen (which must be zero).
//!
//! Each of the [`JOBS`] jobs runs [`ROUNDS`] rounds: the BGL shared, then 1–3 of
//! [`INSTANCES`] instances and 1–3 of [`NODES`] nodes, each set shared or exclusive at random,
//! with the job's priority (a third each of −20, 0 and 19) and a 2 s timeout per set; it holds
//! them for up to 2 ms and drops its guards. While a job holds a lock it checks, with a
//! counter per lock, that nobody holds it incompatibly; at the end nothing may be held or
//! pending. No cluster is involved: the locks are the client's own.

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use stowage_lock_manager::{AcquireError, LockManager};
use stowage_locks::{BGL, Level, LockMode, Name, Names, Owner, Request};
use stowage_proto::Jitter;

use super::{Meta, Run, Target};
use crate::report::{Cell, Row};

/// The family's name, its table's title.
const FAMILY: &str = "locks";
/// Simulated jobs.
const JOBS: u64 = 64;
/// Rounds per job.
const ROUNDS: u32 = 40;
/// Instance locks.
const INSTANCES: usize = 24;
/// Node locks.
const NODES: usize = 16;
/// The priority classes, most urgent first.
const PRIORITIES: [i32; 3] = [-20, 0, 19];
/// Each set's timeout.
const TIMEOUT: Duration = Duration::from_secs(2);

struct Jobs;

impl super::Scenario for Jobs {
    fn meta(&self) -> Meta {
        Meta {
            family: FAMILY,
            name: "lock-jobs",
            about: "64 jobs taking random instance and node locks with priorities −20/0/19: grants per second, p99 wait per priority, invariant violations",
        }
    }

    fn needs_embedded(&self) -> bool {
        // No server at all: the locks live in the client.
        false
    }

    fn runs_alone(&self) -> bool {
        // Grants per second and wait percentiles: alone.
        true
    }

    fn run(&self, target: Target) -> Run<'_> {
        Box::pin(run(target.seed))
    }
}

/// The family's scenarios, in table order.
pub(super) fn scenarios() -> Vec<Box<dyn super::Scenario>> {
    vec![Box::new(Jobs)]
}

/// What the jobs saw, shared between them.
struct Tally {
    /// Per lock (instances, then nodes): +1000 per exclusive holder, +1 per sharer.
    holders: Vec<AtomicI64>,
    violations: AtomicU64,
    grants: AtomicU64,
    timeouts: AtomicU64,
    /// Waits in microseconds, per priority class.
    waits: [std::sync::Mutex<Vec<u64>>; 3],
}

fn names(prefix: &str, count: usize) -> Vec<Name> {
    (0..count).map(|i| Name::from(format!("{prefix}{i:02}"))).collect()
}

async fn run(seed: u64) -> anyhow::Result<Row> {
    let manager = LockManager::new();
    let instances = names("inst", INSTANCES);
    let nodes = names("node", NODES);
    manager.register(Level::Instance, instances.iter().cloned())?;
    manager.register(Level::Node, nodes.iter().cloned())?;
    let tally = Arc::new(Tally {
        holders: (0..INSTANCES + NODES).map(|_| AtomicI64::new(0)).collect(),
        violations: AtomicU64::new(0),
        grants: AtomicU64::new(0),
        timeouts: AtomicU64::new(0),
        waits: Default::default(),
    });
    let started = Instant::now();
    let jobs: Vec<_> = (0..JOBS)
        .map(|job| {
            let (manager, tally) = (manager.clone(), tally.clone());
            let (instances, nodes) = (instances.clone(), nodes.clone());
            tokio::spawn(async move {
                let mut rng = Jitter::from_seed(seed ^ job.wrapping_mul(0x9e37_79b9));
                let class = (job % 3) as usize;
                for _ in 0..ROUNDS {
                    one_round(&manager, &tally, &mut rng, Owner(job), class, &instances, &nodes).await?;
                }
                anyhow::Ok(())
            })
        })
        .collect();
    for job in jobs {
        job.await??;
    }
    let elapsed = started.elapsed();
    let leftovers = manager.monitor().iter().filter(|i| !i.owners.is_empty() || !i.pending.is_empty()).count() as u64;
    let violations = tally.violations.load(Ordering::SeqCst) + leftovers;
    let grants = tally.grants.load(Ordering::SeqCst);
    let p99 = |class: usize| {
        let mut waits = tally.waits[class].lock().map(|w| w.clone()).unwrap_or_default();
        waits.sort_unstable();
        let at = (waits.len() * 99 / 100).min(waits.len().saturating_sub(1));
        Cell::Count(waits.get(at).copied().unwrap_or(0))
    };
    Ok(Row {
        family: FAMILY,
        scenario: "lock-jobs".to_owned(),
        outcome: format!("{grants} sets granted, {} timed out", tally.timeouts.load(Ordering::SeqCst)),
        columns: vec![
            ("jobs", Cell::Count(JOBS)),
            ("grants", Cell::Count(grants)),
            ("grants_per_s", Cell::Count((grants as f64 / elapsed.as_secs_f64().max(1e-9)) as u64)),
            ("p99_wait_us_prio_-20", p99(0)),
            ("p99_wait_us_prio_0", p99(1)),
            ("p99_wait_us_prio_19", p99(2)),
            ("violations", Cell::Count(violations)),
            ("elapsed", Cell::Seconds(elapsed.as_secs_f64())),
        ],
        ok: violations == 0 && grants > 0,
    })
}

/// One job's round: BGL, some instances, some nodes, hold, release.
async fn one_round(
    manager: &LockManager,
    tally: &Tally,
    rng: &mut Jitter,
    owner: Owner,
    class: usize,
    instances: &[Name],
    nodes: &[Name],
) -> anyhow::Result<()> {
    let priority = PRIORITIES[class];
    let _bgl = manager.acquire(Request::shared(owner, Level::Cluster, [BGL]).priority(priority), None).await?;
    let mut held = Vec::new();
    for (level, pool, offset) in [(Level::Instance, instances, 0), (Level::Node, nodes, INSTANCES)] {
        let count = 1 + (rng.next_u64() % 3) as usize;
        let picked: Vec<Name> =
            (0..count).map(|_| pool[(rng.next_u64() % pool.len() as u64) as usize].clone()).collect();
        let mode = if rng.next_u64().is_multiple_of(2) { LockMode::Shared } else { LockMode::Exclusive };
        let request = Request::new(owner, level, Names::Exact(picked), mode).priority(priority);
        let asked = Instant::now();
        match manager.acquire(request, Some(TIMEOUT)).await {
            Ok(guard) => {
                let waited = u64::try_from(asked.elapsed().as_micros()).unwrap_or(u64::MAX);
                if let Ok(mut waits) = tally.waits[class].lock() {
                    waits.push(waited);
                }
                tally.grants.fetch_add(1, Ordering::SeqCst);
                let weight = if mode == LockMode::Exclusive { 1000 } else { 1 };
                for name in guard.names() {
                    let index = offset + pool.iter().position(|n| n == name).unwrap_or(0);
                    let before = tally.holders[index].fetch_add(weight, Ordering::SeqCst);
                    if !(before == 0 || (weight == 1 && before < 1000)) {
                        tally.violations.fetch_add(1, Ordering::SeqCst);
                    }
                }
                held.push((guard, weight, offset, pool));
            }
            Err(AcquireError::TimedOut) => {
                tally.timeouts.fetch_add(1, Ordering::SeqCst);
                break;
            }
            Err(error) => return Err(error.into()),
        }
    }
    tokio::time::sleep(Duration::from_micros(rng.next_u64() % 2_000)).await;
    // Latest level first, as the guards' order requires.
    while let Some((guard, weight, offset, pool)) = held.pop() {
        for name in guard.names() {
            let index = offset + pool.iter().position(|n| n == name).unwrap_or(0);
            tally.holders[index].fetch_sub(weight, Ordering::SeqCst);
        }
        drop(guard);
    }
    Ok(())
}
