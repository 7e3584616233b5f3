//! The async lock manager: guards, release and downgrade by name, timeouts on tokio's (paused)
//! clock, cancellation safety, and a many-seed stress run where tasks take the BGL (sometimes
//! exclusively) and random node locks with random priorities, modes and timeouts, hold them
//! across random sleeps, release or downgrade part of them, sometimes abandon a wait, and are
//! sometimes aborted outright; single nodes are also taken by lock ref (`acquire_lock`) — checking mutual exclusion while they hold, that every task
//! finishes (no waiter starves), and that nothing is held or pending at the end (no guard is
//! lost), on one thread with the paused clock and on four worker threads.

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Duration;

use stowage_lock_manager::{AcquireError, Guard, LockManager};
use stowage_locks::{BGL, FailReason, Level, LockError, LockMode, LockRef, Names, Owner, Request};

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
    let waiter = tokio::spawn(async move {
        m2.acquire(Request::shared(Owner(2), Level::Node, ["n1"]), None).await.map(Guard::into_owned)
    });
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

#[tokio::test(start_paused = true)]
async fn release_by_name_lets_part_of_a_level_go() {
    let m = manager();
    let _a_bgl = m.acquire(Request::shared(Owner(1), Level::Cluster, [BGL]), None).await.unwrap();
    let _b_bgl = m.acquire(Request::shared(Owner(2), Level::Cluster, [BGL]), None).await.unwrap();
    let _c_bgl = m.acquire(Request::shared(Owner(3), Level::Cluster, [BGL]), None).await.unwrap();
    let mut a = m.acquire(Request::exclusive(Owner(1), Level::Node, ["n0", "n1", "n2"]), None).await.unwrap();
    let (m2, m3) = (m.clone(), m.clone());
    let on_n1 = tokio::spawn(async move {
        m2.acquire(Request::exclusive(Owner(2), Level::Node, ["n1"]), None).await.map(Guard::into_owned)
    });
    let on_n2 = tokio::spawn(async move {
        m3.acquire(Request::exclusive(Owner(3), Level::Node, ["n2"]), None).await.map(Guard::into_owned)
    });
    tokio::time::sleep(Duration::from_millis(1)).await;

    // Not held: refused, nothing changes.
    assert_eq!(
        a.release(["n3"]).unwrap_err(),
        LockError::NotHeld { owner: Owner(1), level: Level::Node, name: Some("n3".into()) }
    );
    assert_eq!(a.names().len(), 3);

    a.release(["n1"]).unwrap();
    let b = on_n1.await.unwrap().unwrap();
    assert_eq!(b.names(), ["n1".into()]);
    assert_eq!(a.names(), ["n0".into(), "n2".into()]);
    assert_eq!(a.modes(), vec![("n0".into(), LockMode::Exclusive), ("n2".into(), LockMode::Exclusive)]);
    tokio::time::sleep(Duration::from_millis(1)).await;
    assert!(!on_n2.is_finished(), "n2 is still held");

    drop(a); // releases the rest
    let c = on_n2.await.unwrap().unwrap();
    assert_eq!(c.names(), ["n2".into()]);
    drop((b, c));
    assert!(m.monitor().iter().filter(|i| i.level == Level::Node).all(|i| i.owners.is_empty()));
}

#[tokio::test(start_paused = true)]
async fn a_guard_released_by_name_does_not_touch_a_later_guard() {
    let m = manager();
    let _bgl = m.acquire(Request::shared(Owner(1), Level::Cluster, [BGL]), None).await.unwrap();
    let mut first = m.acquire(Request::exclusive(Owner(1), Level::Node, ["n0", "n1"]), None).await.unwrap();
    first.release(["n1", "n0"]).unwrap();
    assert!(first.names().is_empty());
    // The owner holds nothing at the level: it may take it again, under a new guard.
    let second = m.acquire(Request::exclusive(Owner(1), Level::Node, ["n0"]), None).await.unwrap();
    assert_eq!(
        first.release(["n0"]).unwrap_err(),
        LockError::NotHeld { owner: Owner(1), level: Level::Node, name: Some("n0".into()) }
    );
    assert!(first.downgrade().is_err());
    drop(first);
    assert_eq!(second.modes(), vec![("n0".into(), LockMode::Exclusive)]);
    drop(second);
    assert!(m.inspect(|l| l.owned(Owner(1), Level::Node)).is_empty());
}

#[tokio::test(start_paused = true)]
async fn releasing_part_of_an_all_guard_gives_up_the_set_lock() {
    let m = manager();
    let _a_bgl = m.acquire(Request::shared(Owner(1), Level::Cluster, [BGL]), None).await.unwrap();
    let _b_bgl = m.acquire(Request::shared(Owner(2), Level::Cluster, [BGL]), None).await.unwrap();
    let mut all = m.acquire(Request::all(Owner(1), Level::Node, LockMode::Shared), None).await.unwrap();
    assert_eq!(all.names().len(), NODES.len());
    assert_eq!(m.add(Owner(2), Level::Node, ["n9"]).unwrap_err(), LockError::SetLockBusy(Level::Node));
    all.release(["n4"]).unwrap();
    assert_eq!(m.inspect(|l| l.owned_set_lock(Owner(1), Level::Node)), None);
    m.add(Owner(2), Level::Node, ["n9"]).unwrap();
    assert_eq!(all.names().len(), NODES.len() - 1);
}

#[tokio::test(start_paused = true)]
async fn downgrade_by_name_lets_the_pending_sharers_of_those_names_in() {
    let m = manager();
    let _a_bgl = m.acquire(Request::shared(Owner(1), Level::Cluster, [BGL]), None).await.unwrap();
    let _b_bgl = m.acquire(Request::shared(Owner(2), Level::Cluster, [BGL]), None).await.unwrap();
    let _c_bgl = m.acquire(Request::shared(Owner(3), Level::Cluster, [BGL]), None).await.unwrap();
    let a = m.acquire(Request::exclusive(Owner(1), Level::Node, ["n0", "n1"]), None).await.unwrap();
    let (m2, m3) = (m.clone(), m.clone());
    let on_n0 = tokio::spawn(async move {
        m2.acquire(Request::shared(Owner(2), Level::Node, ["n0"]), None).await.map(Guard::into_owned)
    });
    let on_n1 = tokio::spawn(async move {
        m3.acquire(Request::shared(Owner(3), Level::Node, ["n1"]), None).await.map(Guard::into_owned)
    });
    tokio::time::sleep(Duration::from_millis(1)).await;

    assert!(a.downgrade_names(["n4"]).is_err());
    a.downgrade_names(["n0"]).unwrap();
    let b = on_n0.await.unwrap().unwrap();
    assert_eq!(b.modes(), vec![("n0".into(), LockMode::Shared)]);
    assert_eq!(a.modes(), vec![("n0".into(), LockMode::Shared), ("n1".into(), LockMode::Exclusive)]);
    tokio::time::sleep(Duration::from_millis(1)).await;
    assert!(!on_n1.is_finished(), "n1 is still exclusive");

    a.downgrade().unwrap();
    let c = on_n1.await.unwrap().unwrap();
    assert_eq!(c.modes(), vec![("n1".into(), LockMode::Shared)]);
    drop((a, b, c));
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

/// Per lock (the nodes, then the BGL): +1000 for an exclusive holder, +1 per sharer, as the
/// tasks see it.
type Holders = Arc<Vec<AtomicI64>>;

const BGL_SLOT: usize = NODES.len();
const EXCLUSIVE: i64 = 1000;

/// What one task counts itself as holding in `Holders`; taken back when dropped — before the
/// guard it mirrors (declared after it), also when the task is aborted.
struct Held {
    holders: Holders,
    slots: Vec<(usize, i64)>,
}

impl Held {
    /// Counts `slots` held in `mode`, checking that nobody holds them incompatibly.
    fn new(holders: &Holders, slots: impl IntoIterator<Item = usize>, mode: LockMode) -> Held {
        let weight = if mode == LockMode::Exclusive { EXCLUSIVE } else { 1 };
        let mut held = Held { holders: holders.clone(), slots: Vec::new() };
        for slot in slots {
            let before = holders[slot].fetch_add(weight, Ordering::SeqCst);
            held.slots.push((slot, weight));
            assert!(before == 0 || (weight == 1 && before < EXCLUSIVE), "slot {slot}: exclusive with another holder");
        }
        held
    }

    /// Stops counting `slot` (before its lock is released).
    fn forget(&mut self, slot: usize) {
        if let Some(at) = self.slots.iter().position(|&(s, _)| s == slot) {
            let (_, weight) = self.slots.swap_remove(at);
            self.holders[slot].fetch_sub(weight, Ordering::SeqCst);
        }
    }

    /// Counts `slot` as shared from now on (before its lock is downgraded).
    fn share(&mut self, slot: usize) {
        if let Some(held) = self.slots.iter_mut().find(|(s, _)| *s == slot)
            && held.1 == EXCLUSIVE
        {
            self.holders[slot].fetch_sub(EXCLUSIVE - 1, Ordering::SeqCst);
            held.1 = 1;
        }
    }
}

impl Drop for Held {
    fn drop(&mut self) {
        for &(slot, weight) in &self.slots {
            self.holders[slot].fetch_sub(weight, Ordering::SeqCst);
        }
    }
}

fn slot(name: &str) -> usize {
    NODES.iter().position(|n| *n == name).unwrap()
}

/// Rounds of: the BGL (now and then exclusively), random nodes with random mode, priority,
/// timeout and opportunism, sometimes abandoned mid-wait; while holding, random sleeps,
/// partial releases and downgrades by name, checked against `holders`.
async fn job(m: LockManager, owner: u64, seed: u64, rounds: u32, holders: Holders) -> u32 {
    let mut rng = Rng(seed ^ owner.wrapping_mul(0x1234_5678_9abc));
    let refs: Vec<LockRef> = NODES.iter().map(|name| m.lock_ref(Level::Node, name).unwrap()).collect();
    let mut got = 0;
    for _ in 0..rounds {
        let bgl_mode = if rng.below(8) == 0 { LockMode::Exclusive } else { LockMode::Shared };
        let bgl =
            m.acquire(Request::new(Owner(owner), Level::Cluster, Names::Exact(vec![BGL.into()]), bgl_mode), None).await;
        let bgl = bgl.unwrap();
        let _bgl_held = Held::new(&holders, [BGL_SLOT], bgl_mode);
        let picked: Vec<&str> = NODES.iter().copied().filter(|_| rng.below(3) == 0).collect();
        let mode = if rng.below(2) == 0 { LockMode::Shared } else { LockMode::Exclusive };
        let mut request =
            Request::new(Owner(owner), Level::Node, Names::Exact(picked.iter().map(|&n| n.into()).collect()), mode)
                .priority(rng.below(3) as i32 - 1);
        if rng.below(4) == 0 {
            request = request.opportunistic((rng.below(2) as usize).min(picked.len()));
        }
        let timeout = (rng.below(3) == 0).then(|| Duration::from_millis(rng.below(20)));
        // One node, half the time: by its lock ref.
        let attempt = match (picked.as_slice(), request.opportunistic) {
            ([one], None) if rng.below(2) == 0 => {
                m.acquire_lock(Owner(owner), &refs[slot(one)], mode, request.priority, timeout)
            }
            _ => m.acquire(request, timeout),
        };
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
            Ok(mut guard) => {
                got += 1;
                let mut held = Held::new(&holders, guard.names().iter().map(|n| slot(n)), mode);
                tokio::time::sleep(Duration::from_millis(rng.below(5))).await;
                if let Some(name) = guard.names().first().cloned() {
                    match rng.below(4) {
                        0 => {
                            held.forget(slot(&name));
                            guard.release([name]).unwrap();
                        }
                        1 => {
                            held.share(slot(&name));
                            guard.downgrade_names([name]).unwrap();
                        }
                        _ => {}
                    }
                }
                if rng.below(4) == 0 {
                    tokio::task::yield_now().await;
                }
                tokio::time::sleep(Duration::from_millis(rng.below(3))).await;
                drop(held);
                drop(guard);
            }
            Err(AcquireError::TimedOut) => {}
            Err(other) => panic!("unexpected {other}"),
        }
        drop(_bgl_held);
        drop(bgl);
    }
    got
}

/// `tasks` jobs on one manager; a few of them are aborted at a random moment (cancellation at
/// any await point: waiting, or holding guards). At the end nothing is held or pending.
/// Returns how many tasks were aborted before they finished.
async fn stress(seed: u64, tasks: u64, rounds: u32) -> u64 {
    let m = manager();
    let holders: Holders = Arc::new((0..=NODES.len()).map(|_| AtomicI64::new(0)).collect());
    let handles: Vec<_> =
        (0..tasks).map(|owner| tokio::spawn(job(m.clone(), owner, seed, rounds, holders.clone()))).collect();
    let mut rng = Rng(seed);
    for _ in 0..tasks / 4 {
        tokio::time::sleep(Duration::from_millis(rng.below(40))).await;
        handles[rng.below(tasks) as usize].abort();
    }
    let (mut granted, mut aborted) = (0, 0);
    for handle in handles {
        match handle.await {
            Ok(got) => granted += got,
            Err(e) if e.is_cancelled() => aborted += 1,
            Err(e) => std::panic::resume_unwind(e.into_panic()),
        }
    }
    assert!(granted > 0 && aborted < tasks);
    assert!(holders.iter().all(|h| h.load(Ordering::SeqCst) == 0));
    assert_idle(&m);
    aborted
}

#[tokio::test(start_paused = true)]
async fn stress_many_seeds_on_one_thread() {
    let mut aborted = 0;
    for seed in 0..64 {
        // Simulated time: a deadlock or a starving waiter would never finish.
        aborted += tokio::time::timeout(Duration::from_secs(3600), stress(seed, 12, 30))
            .await
            .unwrap_or_else(|_| panic!("seed {seed}: a waiter starved"));
    }
    assert!(aborted > 0, "no task was aborted mid-run");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn stress_on_four_threads() {
    for seed in 0..8 {
        tokio::time::timeout(Duration::from_secs(120), stress(seed, 16, 20))
            .await
            .unwrap_or_else(|_| panic!("seed {seed}: a waiter starved"));
    }
}

#[tokio::test(start_paused = true)]
async fn locks_added_acquired_come_with_a_guard_that_releases_them() {
    let m = manager();
    let _bgl = m.acquire(Request::shared(Owner(1), Level::Cluster, [BGL]), None).await.unwrap();
    let added = m.add_acquired(Owner(1), Level::Node, ["n9", "n8"], LockMode::Exclusive).unwrap();
    assert_eq!(added.names(), ["n8".into(), "n9".into()]);
    assert_eq!(
        m.add_acquired(Owner(1), Level::Node, ["n7"], LockMode::Shared).unwrap_err(),
        LockError::DoubleAcquire { owner: Owner(1), level: Level::Node },
        "a second guard for the level would release the first one's locks"
    );
    drop(added);
    assert!(m.inspect(|l| l.owned(Owner(1), Level::Node)).is_empty());
    // The level is free again for the owner: no lock was left behind without a guard.
    let again = m.acquire(Request::exclusive(Owner(1), Level::Node, ["n9"]), None).await.unwrap();
    assert_eq!(again.names(), ["n9".into()]);
}

#[tokio::test(start_paused = true)]
async fn a_guard_of_the_whole_level_adds_and_deletes_its_own_locks() {
    let m = manager();
    let _bgl = m.acquire(Request::shared(Owner(1), Level::Cluster, [BGL]), None).await.unwrap();
    let mut all = m.acquire(Request::all(Owner(1), Level::Node, LockMode::Exclusive), None).await.unwrap();
    all.add(["n9"], Some(LockMode::Exclusive)).unwrap();
    all.add(["n10"], None).unwrap();
    assert!(all.names().contains(&"n9".into()) && !all.names().contains(&"n10".into()));
    assert_eq!(all.remove(["n9", "n0", "absent"]).unwrap(), vec!["n0".into(), "n9".into()]);
    assert!(!all.names().contains(&"n9".into()) && !all.names().contains(&"n0".into()));
    drop(all);
    assert!(
        m.inspect(|l| l.owned(Owner(1), Level::Node).is_empty() && l.owned_set_lock(Owner(1), Level::Node).is_none())
    );
    // n9 and n10 added, n9 and n0 deleted.
    assert_eq!(m.inspect(|l| l.len(Level::Node)), NODES.len());
}

#[tokio::test(start_paused = true)]
async fn a_guard_outlives_the_handle_it_was_acquired_through() {
    let m = manager();
    let bgl = m.acquire(Request::shared(Owner(1), Level::Cluster, [BGL]), None).await.unwrap().into_owned();
    let m2 = m.clone();
    let node = tokio::spawn(async move {
        let guard = m2.acquire(Request::exclusive(Owner(1), Level::Node, ["n1"]), None).await.unwrap();
        guard.into_owned()
    })
    .await
    .unwrap();
    assert_eq!(node.names(), ["n1".into()]);
    drop(node);
    drop(bgl);
    assert_idle(&m);
}

#[tokio::test(start_paused = true)]
async fn a_lock_ref_is_acquired_like_its_name_and_its_guard_borrows_the_name() {
    let m = manager();
    let n1 = m.lock_ref(Level::Node, "n1").unwrap();
    let (a, b) = (Owner(1), Owner(2));
    let _a_bgl = m.acquire(Request::shared(a, Level::Cluster, [BGL]), None).await.unwrap();
    let _b_bgl = m.acquire(Request::shared(b, Level::Cluster, [BGL]), None).await.unwrap();
    let held = m.acquire_lock(a, &n1, LockMode::Exclusive, 0, None).await.unwrap();
    assert_eq!(held.names(), ["n1".into()]);
    assert_eq!(held.modes(), vec![("n1".into(), LockMode::Exclusive)]);

    // Busy: a zero timeout ends at the first poll, a longer one on tokio time.
    let zero = m.acquire_lock(b, &n1, LockMode::Shared, 0, Some(Duration::ZERO)).await;
    assert_eq!(zero.unwrap_err(), AcquireError::TimedOut);
    let start = tokio::time::Instant::now();
    let late = m.acquire_lock(b, &n1, LockMode::Shared, 0, Some(Duration::from_millis(30))).await;
    assert_eq!((late.unwrap_err(), start.elapsed()), (AcquireError::TimedOut, Duration::from_millis(30)));

    // Waiting by ref, granted when the holder lets go; dropping a waiting future withdraws it.
    let m2 = m.clone();
    let waiter = tokio::spawn(async move {
        let n1 = m2.lock_ref(Level::Node, "n1").unwrap();
        let guard = m2.acquire_lock(b, &n1, LockMode::Shared, -1, None).await.unwrap().into_owned();
        (guard.names().to_vec(), guard.modes())
    });
    tokio::time::sleep(Duration::from_millis(5)).await;
    assert_eq!(m.monitor().iter().map(|i| i.pending.len()).sum::<usize>(), 1);
    drop(held);
    assert_eq!(waiter.await.unwrap(), (vec!["n1".into()], vec![("n1".into(), LockMode::Shared)]));
    let _blocker = m.acquire_lock(a, &n1, LockMode::Exclusive, 0, None).await.unwrap();
    let abandoned = tokio::time::timeout(Duration::from_millis(5), m.acquire_lock(b, &n1, LockMode::Shared, 0, None));
    assert!(abandoned.await.is_err());
    assert_eq!(m.inspect(|l| l.requests_in_progress()), 0);
}

#[tokio::test(start_paused = true)]
async fn a_lock_ref_to_a_removed_lock_is_refused() {
    let m = manager();
    let n1 = m.lock_ref(Level::Node, "n1").unwrap();
    let a = Owner(1);
    let _bgl = m.acquire(Request::shared(a, Level::Cluster, [BGL]), None).await.unwrap();
    m.remove(a, Level::Node, ["n1"]).unwrap();
    let refused = m.acquire_lock(a, &n1, LockMode::Shared, 0, None).await.unwrap_err();
    assert_eq!(refused, AcquireError::Refused(LockError::StaleLock { level: Level::Node, name: "n1".into() }));
    assert!(m.lock_ref(Level::Node, "n1").is_none());
}
