//! The cost of the lock manager, against the obvious alternatives, in one group `locks`.
//!
//! - `uncontended/*`: one acquire + release of a free lock, with nobody else around — through
//!   the machine ([`Locks`]: `request` + `poll_output` + `release`, the owner already holding
//!   the BGL), through the tokio handle ([`LockManager::acquire`] polled once + dropping the
//!   guard), and with `tokio::sync::RwLock::write` and `parking_lot::RwLock::write`;
//!   `uncontended/build-request` is the part of the first two spent building the request (its
//!   name list: an allocation and a reference count), which the plain locks do not have.
//! - `handle/*`: what settles mutex vs actor for the tokio handle, both inside
//!   `Runtime::block_on` on a current-thread runtime: the whole acquire + release through the
//!   mutex-guarded machine, against one bare message round trip to an actor task (mpsc in,
//!   oneshot back — a lower bound for an actor, which would also have to run the machine); and
//!   the same two on a 2-worker multi-thread runtime, where the actor sits on a worker thread.
//! - `set100/*`: a lock set of 100 names acquired exclusively and released, through the machine
//!   and as 100 `parking_lot::RwLock` write guards taken in order.
//! - `churn/{1000,10000,100000}`: a hot lock with that many exclusive waiters queued; one
//!   iteration releases the holder (granting the top of the queue) and re-queues the old holder
//!   at the back. Constant queue length, so the time per iteration shows the per-operation cost
//!   at each size (O(log n) expected, no super-linear growth).

use std::hint::black_box;
use std::pin::pin;
use std::task::{Context, Poll, Waker};

use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
use stowage_lock_manager::LockManager;
use stowage_locks::{BGL, Event, Level, Locks, Name, Names, Owner, Request, Requested};
use stowage_proto::Instant;
use tokio::sync::{mpsc, oneshot};

const T: Instant = Instant::ZERO;

/// Polls a future once with a no-op waker; the uncontended paths are ready at once.
#[inline(always)]
fn ready<F: Future>(future: F) -> F::Output {
    let mut future = pin!(future);
    match future.as_mut().poll(&mut Context::from_waker(Waker::noop())) {
        Poll::Ready(output) => output,
        Poll::Pending => panic!("expected the uncontended path to be ready at once"),
    }
}

/// A machine with `nodes` node locks (`n0000000`, …) and `owners` owners holding the BGL.
fn machine(nodes: usize, owners: u64) -> (Locks, Vec<Name>) {
    let mut locks = Locks::new();
    let names: Vec<Name> = (0..nodes).map(|i| Name::from(format!("n{i:07}"))).collect();
    locks.register(Level::Node, names.iter().cloned()).unwrap();
    for owner in 0..owners {
        locks.request(T, Request::shared(Owner(owner), Level::Cluster, [BGL])).unwrap();
    }
    while locks.poll_output().is_some() {}
    (locks, names)
}

fn uncontended(c: &mut Criterion) {
    let mut group = c.benchmark_group("locks");

    let (mut locks, names) = machine(1, 1);
    let one = vec![names[0].clone()];
    group.bench_function("uncontended/machine", |b| {
        b.iter(|| {
            let request =
                Request::new(Owner(0), Level::Node, Names::Exact(one.clone()), stowage_locks::LockMode::Exclusive);
            locks.request(T, request).unwrap();
            black_box(locks.poll_output());
            locks.release(T, Owner(0), Level::Node, Names::All).unwrap();
        })
    });

    let node = locks.lock_ref(Level::Node, &names[0]).unwrap();
    group.bench_function("uncontended/machine-ref", |b| {
        b.iter(|| {
            let granted = locks.request_lock(T, Owner(0), &node, stowage_locks::LockMode::Exclusive, 0, None);
            let Ok(Requested::Granted(_)) = black_box(granted) else { panic!("the lock is free") };
            locks.release(T, Owner(0), Level::Node, Names::All).unwrap();
        })
    });

    let rt = tokio::runtime::Builder::new_current_thread().enable_time().build().unwrap();
    let _enter = rt.enter();
    let manager = LockManager::with_locks(machine(1, 0).0);
    let _bgl = ready(manager.acquire(Request::shared(Owner(0), Level::Cluster, [BGL]), None)).unwrap();
    group.bench_function("uncontended/tokio-handle", |b| {
        b.iter(|| {
            let request =
                Request::new(Owner(0), Level::Node, Names::Exact(one.clone()), stowage_locks::LockMode::Exclusive);
            drop(black_box(ready(manager.acquire(request, None)).unwrap()));
        })
    });

    let node = manager.lock_ref(Level::Node, &names[0]).unwrap();
    group.bench_function("uncontended/tokio-handle-ref", |b| {
        b.iter(|| {
            let acquire = manager.acquire_lock(Owner(0), &node, stowage_locks::LockMode::Exclusive, 0, None);
            drop(black_box(ready(acquire).unwrap()));
        })
    });

    group.bench_function("uncontended/tokio-handle-try", |b| {
        b.iter(|| {
            let request =
                Request::new(Owner(0), Level::Node, Names::Exact(one.clone()), stowage_locks::LockMode::Exclusive);
            drop(black_box(manager.try_acquire(request).unwrap()));
        })
    });

    // What every named acquire pays before the lock manager sees it: the request's name list.
    group.bench_function("uncontended/build-request", |b| {
        b.iter(|| {
            black_box(Request::new(
                Owner(0),
                Level::Node,
                Names::Exact(one.clone()),
                stowage_locks::LockMode::Exclusive,
            ))
        })
    });

    let tokio_lock = tokio::sync::RwLock::new(0u64);
    group.bench_function("uncontended/tokio-rwlock", |b| {
        b.iter(|| {
            let mut guard = ready(tokio_lock.write());
            *guard += 1;
        })
    });

    let parking_lock = parking_lot::RwLock::new(0u64);
    group.bench_function("uncontended/parking_lot-rwlock", |b| {
        b.iter(|| {
            let mut guard = parking_lock.write();
            *guard += 1;
        })
    });

    // Mutex vs actor, each through `block_on` so both pay the same runtime entry.
    group.bench_function("handle/mutex-block_on", |b| {
        b.iter(|| {
            let request =
                Request::new(Owner(0), Level::Node, Names::Exact(one.clone()), stowage_locks::LockMode::Exclusive);
            rt.block_on(async { drop(black_box(manager.acquire(request, None).await.unwrap())) })
        })
    });
    let (tx, mut rx) = mpsc::channel::<(u64, oneshot::Sender<u64>)>(64);
    rt.spawn(async move {
        while let Some((n, reply)) = rx.recv().await {
            let _ = reply.send(n + 1);
        }
    });
    group.bench_function("handle/actor-roundtrip-block_on", |b| {
        b.iter(|| {
            rt.block_on(async {
                let (reply, answer) = oneshot::channel();
                tx.send((1, reply)).await.unwrap();
                black_box(answer.await.unwrap())
            })
        })
    });
    // The same on a multi-thread runtime, where the actor runs on a worker thread.
    let mt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_time().build().unwrap();
    group.bench_function("handle/mutex-multi_thread", |b| {
        b.iter(|| {
            let request =
                Request::new(Owner(0), Level::Node, Names::Exact(one.clone()), stowage_locks::LockMode::Exclusive);
            mt.block_on(async { drop(black_box(manager.acquire(request, None).await.unwrap())) })
        })
    });
    let (tx, mut rx) = mpsc::channel::<(u64, oneshot::Sender<u64>)>(64);
    mt.spawn(async move {
        while let Some((n, reply)) = rx.recv().await {
            let _ = reply.send(n + 1);
        }
    });
    group.bench_function("handle/actor-roundtrip-multi_thread", |b| {
        b.iter(|| {
            mt.block_on(async {
                let (reply, answer) = oneshot::channel();
                tx.send((1, reply)).await.unwrap();
                black_box(answer.await.unwrap())
            })
        })
    });
    group.finish();
}

fn set100(c: &mut Criterion) {
    let mut group = c.benchmark_group("locks");
    let (mut locks, names) = machine(100, 1);
    group.bench_function("set100/machine", |b| {
        b.iter(|| {
            let request =
                Request::new(Owner(0), Level::Node, Names::Exact(names.clone()), stowage_locks::LockMode::Exclusive);
            locks.request(T, request).unwrap();
            black_box(locks.poll_output());
            locks.release(T, Owner(0), Level::Node, Names::All).unwrap();
        })
    });
    let parking: Vec<parking_lot::RwLock<u64>> = (0..100).map(parking_lot::RwLock::new).collect();
    group.bench_function("set100/parking_lot-rwlock", |b| {
        b.iter(|| {
            let guards: Vec<_> = parking.iter().map(|l| l.write()).collect();
            black_box(&guards);
        })
    });
    group.finish();
}

fn churn(c: &mut Criterion) {
    let mut group = c.benchmark_group("locks");
    for waiters in [1_000u64, 10_000, 100_000] {
        let (mut locks, names) = machine(1, waiters + 1);
        let hot = vec![names[0].clone()];
        let ask = |owner: u64| {
            Request::new(Owner(owner), Level::Node, Names::Exact(hot.clone()), stowage_locks::LockMode::Exclusive)
        };
        for owner in 0..=waiters {
            locks.request(T, ask(owner)).unwrap();
        }
        while locks.poll_output().is_some() {}
        assert_eq!(locks.requests_in_progress(), waiters as usize);
        let mut holder = 0u64;
        let mut next_req_owner = std::collections::VecDeque::from_iter(1..=waiters);
        group.bench_with_input(BenchmarkId::new("churn", waiters), &waiters, |b, _| {
            b.iter(|| {
                locks.release(T, Owner(holder), Level::Node, Names::All).unwrap();
                let Some(Event::Granted { .. }) = locks.poll_output() else { panic!("nobody granted") };
                locks.request(T, ask(holder)).unwrap();
                next_req_owner.push_back(holder);
                holder = next_req_owner.pop_front().unwrap();
            })
        });
    }
    group.finish();
}

criterion_group!(benches, uncontended, set100, churn);
criterion_main!(benches);
