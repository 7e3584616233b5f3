//! The async lock manager: guards, timeouts on tokio's (paused) clock, cancellation safety, and
//! a many-seed stress run where tasks take random node locks with random priorities, modes and
//! timeouts, hold them across random sleeps, and sometimes abandon a wait — checking mutual
//! exclusion while they hold, that every task finishes (no waiter starves), and that nothing
//! is held or pending at the end (no guard is lost).

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Duration;

use stowage_locks::{BGL, FailReason, Level, LockError, Mode, Owner, Request};
use stowage_tokio::locks::{AcquireError, LockManager};

const NODES: [&str; 5] = ["n0", "n1", "n2", "n3", "n4"];

fn manager() -> LockManager {
    let manager = LockManager::new();
    manager.register(Level::Node, NODES).unwrap();
    manager
}

fn assert_idle(manager: &LockManager) {
    for info in manager.monitor() {
        assert!(info.owners.is_empty() && info.pending.is_empty(), "left over: {info:?}");
    }
    assert_eq!(manager.inspect(|l| l.requests_in_progress()), 0);
}

#[tokio::test(start_paused = true)]
async fn guard_releases_on_drop_and_wakes_the_next_waiter() {
    let m = manager();
    let a_bgl = m.acquire(Request::shared(Owner(1), Level::Cluster, [BGL]), None).await.unwrap();
    let b_bgl = m.acquire(Request::shared(Owner(2), Level::Cluster, [BGL]), None).await.unwrap();
    let a = m.acquire(Request::exclusive(Owner(1), Level::Node, ["n1"]), None).await.unwrap();
    let m2 = m.clone();
    let waiter = tokio::spawn(async move {
        let guard = m2.acquire(Request::shared(Owner(2), Level::Node, ["n1"]), None).await.unwrap();
        guard.names().to_vec()
    });
    tokio::time::sleep(Duration::from_millis(10)).await;
    assert!(!waiter.is_finished());
    drop(a);
    assert_eq!(waiter.await.unwrap(), vec!["n1".into()]);
    drop((a_bgl, b_bgl));
    assert_idle(&m);
}

#[tokio::test(start_paused = true)]
async fn timeout_runs_on_tokio_time() {
    let m = manager();
    let _a_bgl = m.acquire(Request::shared(Owner(1), Level::Cluster, [BGL]), None).await.unwrap();
    let _b_bgl = m.acquire(Request::shared(Owner(2), Level::Cluster, [BGL]), None).await.unwrap();
    let _a = m.acquire(Request::exclusive(Owner(1), Level::Node, ["n1"]), None).await.unwrap();
    let start = tokio::time::Instant::now();
    let got = m.acquire(Request::exclusive(Owner(2), Level::Node, ["n0", "n1"]), Some(Duration::from_secs(3))).await;
    assert_eq!(got.unwrap_err(), AcquireError::TimedOut);
    assert!(start.elapsed() >= Duration::from_secs(3));
    // Released what it got (n0) on the way out.
    assert!(m.inspect(|l| l.owned(Owner(2), Level::Node)).is_empty());
}

#[tokio::test(start_paused = true)]
async fn try_acquire_never_waits() {
    let m = manager();
    let _a_bgl = m.try_acquire(Request::shared(Owner(1), Level::Cluster, [BGL])).unwrap();
    let _b_bgl = m.try_acquire(Request::shared(Owner(2), Level::Cluster, [BGL])).unwrap();
    let a = m.try_acquire(Request::exclusive(Owner(1), Level::Node, ["n1"])).unwrap();
    assert_eq!(m.try_acquire(Request::shared(Owner(2), Level::Node, ["n1"])).unwrap_err(), AcquireError::TimedOut);
    drop(a);
    assert!(m.try_acquire(Request::shared(Owner(2), Level::Node, ["n1"])).is_ok());
}

#[tokio::test(start_paused = true)]
async fn refusals_and_deletions_are_errors() {
    let m = manager();
    assert_eq!(
        m.acquire(Request::shared(Owner(1), Level::Node, ["n1"]), None).await.unwrap_err(),
        AcquireError::Refused(LockError::BglNotHeld { owner: Owner(1), level: Level::Node })
    );
    let _a_bgl = m.acquire(Request::shared(Owner(1), Level::Cluster, [BGL]), None).await.unwrap();
    let _b_bgl = m.acquire(Request::shared(Owner(2), Level::Cluster, [BGL]), None).await.unwrap();
    let a = m.acquire(Request::exclusive(Owner(1), Level::Node, ["n1"]), None).await.unwrap();
    let m2 = m.clone();
    let waiter = tokio::spawn(async move { m2.acquire(Request::shared(Owner(2), Level::Node, ["n1"]), None).await });
    tokio::time::sleep(Duration::from_millis(1)).await;
    // Owner 1 deletes the lock it holds: the waiter fails; the guard then has nothing to release.
    assert_eq!(m.remove(Owner(1), Level::Node, ["n1"]).unwrap(), vec!["n1".into()]);
    assert_eq!(waiter.await.unwrap().unwrap_err(), AcquireError::Failed(FailReason::LockDeleted("n1".into())));
    drop(a);
    assert!(m.inspect(|l| l.owned(Owner(1), Level::Node)).is_empty());
}

#[tokio::test(start_paused = true)]
async fn dropping_the_future_withdraws_the_request() {
    let m = manager();
    let _a_bgl = m.acquire(Request::shared(Owner(1), Level::Cluster, [BGL]), None).await.unwrap();
    let _b_bgl = m.acquire(Request::shared(Owner(2), Level::Cluster, [BGL]), None).await.unwrap();
    let _c_bgl = m.acquire(Request::shared(Owner(3), Level::Cluster, [BGL]), None).await.unwrap();
    let a = m.acquire(Request::exclusive(Owner(1), Level::Node, ["n1"]), None).await.unwrap();
    // Owner 2 gives up after 5 ms by dropping its future (no machine deadline involved).
    let abandoned = tokio::time::timeout(
        Duration::from_millis(5),
        m.acquire(Request::exclusive(Owner(2), Level::Node, ["n1"]), None),
    )
    .await;
    assert!(abandoned.is_err());
    assert_eq!(m.inspect(|l| l.in_progress(Owner(2))), None);
    // Owner 3 queued behind nobody now.
    let m3 = m.clone();
    let c = tokio::spawn(async move { m3.acquire(Request::shared(Owner(3), Level::Node, ["n1"]), None).await.is_ok() });
    tokio::time::sleep(Duration::from_millis(1)).await;
    drop(a);
    assert!(c.await.unwrap());
}

#[tokio::test(start_paused = true)]
async fn granted_but_never_polled_is_released() {
    let m = manager();
    let _a_bgl = m.acquire(Request::shared(Owner(1), Level::Cluster, [BGL]), None).await.unwrap();
    let _b_bgl = m.acquire(Request::shared(Owner(2), Level::Cluster, [BGL]), None).await.unwrap();
    let a = m.acquire(Request::exclusive(Owner(1), Level::Node, ["n1"]), None).await.unwrap();
    let mut fut = Box::pin(m.acquire(Request::exclusive(Owner(2), Level::Node, ["n1"]), None));
    // Poll once so the request is queued, then grant it and drop the future unpolled.
    assert!(futures_util::poll!(fut.as_mut()).is_pending());
    drop(a);
    drop(fut);
    assert!(m.inspect(|l| l.owned(Owner(2), Level::Node)).is_empty());
    assert!(m.try_acquire(Request::exclusive(Owner(1), Level::Node, ["n1"])).is_ok());
}

#[tokio::test(start_paused = true)]
async fn bgl_guard_dropped_first_is_released_once_allowed() {
    let m = manager();
    let bgl = m.acquire(Request::shared(Owner(1), Level::Cluster, [BGL]), None).await.unwrap();
    let nodes = m.acquire(Request::exclusive(Owner(1), Level::Node, ["n1"]), None).await.unwrap();
    drop(bgl); // refused by the machine for now: deferred
    assert_eq!(m.inspect(|l| l.owned(Owner(1), Level::Cluster)).len(), 1);
    drop(nodes);
    assert_idle(&m);
}

/// SplitMix64, so each seed replays the same schedule.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

/// Per node: +1000 for an exclusive holder, +1 per sharer, as the tasks see it.
type Holders = Arc<Vec<AtomicI64>>;

async fn job(m: LockManager, owner: u64, seed: u64, rounds: u32, holders: Holders) -> u32 {
    let mut rng = Rng(seed ^ owner.wrapping_mul(0x1234_5678_9abc));
    let mut got = 0;
    for _ in 0..rounds {
        let bgl = m.acquire(Request::shared(Owner(owner), Level::Cluster, [BGL]), None).await.unwrap();
        let picked: Vec<&str> = NODES.iter().copied().filter(|_| rng.below(3) == 0).collect();
        let mode = if rng.below(2) == 0 { Mode::Shared } else { Mode::Exclusive };
        let mut request = Request::new(
            Owner(owner),
            Level::Node,
            stowage_locks::Names::Exact(picked.iter().map(|&n| n.into()).collect()),
            mode,
        )
        .priority(rng.below(3) as i32 - 1);
        if rng.below(4) == 0 {
            request = request.opportunistic((rng.below(2) as usize).min(picked.len()));
        }
        let timeout = (rng.below(3) == 0).then(|| Duration::from_millis(rng.below(20)));
        let attempt = m.acquire(request, timeout);
        let result = if rng.below(5) == 0 {
            // Abandon the wait after a while: the future is dropped mid-wait.
            match tokio::time::timeout(Duration::from_millis(rng.below(10)), attempt).await {
                Ok(result) => result,
                Err(_) => Err(AcquireError::TimedOut),
            }
        } else {
            attempt.await
        };
        match result {
            Ok(guard) => {
                got += 1;
                let weight = if mode == Mode::Exclusive { 1000 } else { 1 };
                for name in guard.names() {
                    let i = NODES.iter().position(|n| **n == **name).unwrap();
                    let before = holders[i].fetch_add(weight, Ordering::SeqCst);
                    assert!(before == 0 || (weight == 1 && before < 1000), "{name}: exclusive with another holder");
                }
                tokio::time::sleep(Duration::from_millis(rng.below(5))).await;
                if rng.below(4) == 0 {
                    tokio::task::yield_now().await;
                }
                for name in guard.names() {
                    let i = NODES.iter().position(|n| **n == **name).unwrap();
                    holders[i].fetch_sub(weight, Ordering::SeqCst);
                }
                drop(guard);
            }
            Err(AcquireError::TimedOut) => {}
            Err(other) => panic!("unexpected {other}"),
        }
        drop(bgl);
    }
    got
}

async fn stress(seed: u64, tasks: u64, rounds: u32) {
    let m = manager();
    let holders: Holders = Arc::new(NODES.iter().map(|_| AtomicI64::new(0)).collect());
    let handles: Vec<_> =
        (0..tasks).map(|owner| tokio::spawn(job(m.clone(), owner, seed, rounds, holders.clone()))).collect();
    let mut granted = 0;
    for handle in handles {
        granted += handle.await.unwrap();
    }
    assert!(granted > 0);
    assert_idle(&m);
}

#[tokio::test(start_paused = true)]
async fn stress_many_seeds_on_one_thread() {
    for seed in 0..64 {
        // Simulated time: a deadlock or a starving waiter would never finish.
        tokio::time::timeout(Duration::from_secs(3600), stress(seed, 12, 30))
            .await
            .unwrap_or_else(|_| panic!("seed {seed}: a waiter starved"));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn stress_on_four_threads() {
    for seed in 0..4 {
        tokio::time::timeout(Duration::from_secs(120), stress(seed, 16, 20))
            .await
            .unwrap_or_else(|_| panic!("seed {seed}: a waiter starved"));
    }
}
