//! The scenarios of Ganeti's `ganeti.locking_unittest.py` (SharedLock, LockSet,
//! GanetiLockManager, LockMonitor) as deterministic scripts of calls with the exact event
//! sequence each must produce. Threads become owners; sleeping threads become queued requests.

use std::time::Duration;

use stowage_locks::{
    BGL, Event, FailReason, Level, LockError, LockInfo, LockMode, LockRequestId, Locks, MIN_TIMEOUT, NAL, Name, Names,
    Owner, PendingInfo, Request, Requested,
};
use stowage_proto::Instant;

const T0: Instant = Instant::ZERO;
const A: Owner = Owner(1);
const B: Owner = Owner(2);
const C: Owner = Owner(3);
const D: Owner = Owner(4);

fn ms(n: u64) -> Instant {
    Instant::from_nanos(n * 1_000_000)
}

fn names(list: &[&str]) -> Vec<Name> {
    list.iter().map(|&n| Name::from(n)).collect()
}

fn exact(list: &[&str]) -> Names {
    Names::Exact(names(list))
}

/// A manager with nodes n1…n5 and instances i1…i3, and `owners` holding the BGL shared.
fn cluster(owners: &[Owner]) -> Locks {
    let mut locks = Locks::new();
    locks.register(Level::Node, ["n1", "n2", "n3", "n4", "n5"]).unwrap();
    locks.register(Level::Instance, ["i1", "i2", "i3"]).unwrap();
    for &owner in owners {
        locks.request(T0, Request::shared(owner, Level::Cluster, [BGL])).unwrap();
    }
    drain(&mut locks);
    locks
}

fn drain(locks: &mut Locks) -> Vec<Event> {
    std::iter::from_fn(|| locks.poll_output()).collect()
}

fn granted(req: LockRequestId, list: &[&str]) -> Event {
    Event::Granted { req, names: names(list) }
}

fn timed_out(req: LockRequestId) -> Event {
    Event::TimedOut { req }
}

fn deleted(req: LockRequestId, name: &str) -> Event {
    Event::Failed { req, reason: FailReason::LockDeleted(name.into()) }
}

fn node(locks: &Locks, name: &str) -> LockInfo {
    locks.monitor().into_iter().find(|i| i.level == Level::Node && i.name.as_deref() == Some(name)).unwrap()
}

fn ask(locks: &mut Locks, now: Instant, request: Request) -> LockRequestId {
    locks.request(now, request).unwrap()
}

// ---- SharedLock ---------------------------------------------------------------------------

#[test]
fn sharers_hold_together() {
    let mut l = cluster(&[A, B, C]);
    let ra = ask(&mut l, T0, Request::shared(A, Level::Node, ["n1"]));
    let rb = ask(&mut l, T0, Request::shared(B, Level::Node, ["n1"]));
    assert_eq!(drain(&mut l), vec![granted(ra, &["n1"]), granted(rb, &["n1"])]);
    let info = node(&l, "n1");
    assert_eq!((info.mode, info.owners), (Some(LockMode::Shared), vec![A, B]));
}

#[test]
fn exclusive_blocks_exclusive_until_released() {
    let mut l = cluster(&[A, B]);
    let ra = ask(&mut l, T0, Request::exclusive(A, Level::Node, ["n1"]));
    let rb = ask(&mut l, T0, Request::exclusive(B, Level::Node, ["n1"]));
    assert_eq!(drain(&mut l), vec![granted(ra, &["n1"])]);
    l.release(ms(1), A, Level::Node, Names::All).unwrap();
    assert_eq!(drain(&mut l), vec![granted(rb, &["n1"])]);
}

#[test]
fn exclusive_blocks_sharer_and_sharer_blocks_exclusive() {
    let mut l = cluster(&[A, B]);
    ask(&mut l, T0, Request::exclusive(A, Level::Node, ["n1"]));
    let rb = ask(&mut l, T0, Request::shared(B, Level::Node, ["n1"]));
    drain(&mut l);
    l.release(T0, A, Level::Node, Names::All).unwrap();
    assert_eq!(drain(&mut l), vec![granted(rb, &["n1"])]);
    let ra = ask(&mut l, T0, Request::exclusive(A, Level::Node, ["n1"]));
    assert_eq!(drain(&mut l), vec![]);
    l.release(T0, B, Level::Node, Names::All).unwrap();
    assert_eq!(drain(&mut l), vec![granted(ra, &["n1"])]);
}

#[test]
fn waiting_exclusive_blocks_new_sharer_no_barging() {
    let mut l = cluster(&[A, B, C]);
    ask(&mut l, T0, Request::shared(A, Level::Node, ["n1"]));
    let rb = ask(&mut l, T0, Request::exclusive(B, Level::Node, ["n1"]));
    // The lock is held shared, so C could share it — but B is queued, so C queues behind B.
    let rc = ask(&mut l, T0, Request::shared(C, Level::Node, ["n1"]));
    drain(&mut l);
    l.release(T0, A, Level::Node, Names::All).unwrap();
    assert_eq!(drain(&mut l), vec![granted(rb, &["n1"])]);
    l.release(T0, B, Level::Node, Names::All).unwrap();
    assert_eq!(drain(&mut l), vec![granted(rc, &["n1"])]);
}

#[test]
fn waiting_sharer_blocks_new_exclusive() {
    let mut l = cluster(&[A, B, C]);
    ask(&mut l, T0, Request::exclusive(A, Level::Node, ["n1"]));
    let rb = ask(&mut l, T0, Request::shared(B, Level::Node, ["n1"]));
    let rc = ask(&mut l, T0, Request::exclusive(C, Level::Node, ["n1"]));
    drain(&mut l);
    l.release(T0, A, Level::Node, Names::All).unwrap();
    assert_eq!(drain(&mut l), vec![granted(rb, &["n1"])]);
    l.release(T0, B, Level::Node, Names::All).unwrap();
    assert_eq!(drain(&mut l), vec![granted(rc, &["n1"])]);
}

#[test]
fn shared_requests_of_one_priority_form_one_group_ahead_of_later_exclusives() {
    let mut l = cluster(&[A, B, C, D]);
    ask(&mut l, T0, Request::exclusive(A, Level::Node, ["n1"]));
    let rb = ask(&mut l, T0, Request::shared(B, Level::Node, ["n1"]));
    let rc = ask(&mut l, T0, Request::exclusive(C, Level::Node, ["n1"]));
    // D's shared request joins B's group, ahead of C.
    let rd = ask(&mut l, T0, Request::shared(D, Level::Node, ["n1"]));
    drain(&mut l);
    let info = node(&l, "n1");
    assert_eq!(
        info.pending,
        vec![
            PendingInfo { mode: LockMode::Shared, owners: vec![B, D] },
            PendingInfo { mode: LockMode::Exclusive, owners: vec![C] }
        ]
    );
    l.release(T0, A, Level::Node, Names::All).unwrap();
    assert_eq!(drain(&mut l), vec![granted(rb, &["n1"]), granted(rd, &["n1"])]);
    l.release(T0, B, Level::Node, Names::All).unwrap();
    assert_eq!(drain(&mut l), vec![]);
    l.release(T0, D, Level::Node, Names::All).unwrap();
    assert_eq!(drain(&mut l), vec![granted(rc, &["n1"])]);
}

#[test]
fn a_woken_shared_group_is_not_joined_later() {
    let mut l = cluster(&[A, B, C, D]);
    ask(&mut l, T0, Request::exclusive(A, Level::Node, ["n1"]));
    ask(&mut l, T0, Request::shared(B, Level::Node, ["n1"]));
    let rc = ask(&mut l, T0, Request::exclusive(C, Level::Node, ["n1"]));
    drain(&mut l);
    l.release(T0, A, Level::Node, Names::All).unwrap(); // B's group is granted
    drain(&mut l);
    // D arrives while C waits: the group it would have joined is gone, so it queues behind C.
    let rd = ask(&mut l, T0, Request::shared(D, Level::Node, ["n1"]));
    assert_eq!(drain(&mut l), vec![]);
    l.release(T0, B, Level::Node, Names::All).unwrap();
    assert_eq!(drain(&mut l), vec![granted(rc, &["n1"])]);
    l.release(T0, C, Level::Node, Names::All).unwrap();
    assert_eq!(drain(&mut l), vec![granted(rd, &["n1"])]);
}

#[test]
fn priority_then_arrival_decides_the_order() {
    let owners: Vec<Owner> = (1..=7).map(Owner).collect();
    let mut l = cluster(&owners);
    ask(&mut l, T0, Request::exclusive(owners[0], Level::Node, ["n1"]));
    // (owner, mode, priority) in arrival order
    let wanted = [
        (1, LockMode::Exclusive, 5),
        (2, LockMode::Shared, 0),
        (3, LockMode::Exclusive, -10),
        (4, LockMode::Shared, 5),
        (5, LockMode::Exclusive, 0),
        (6, LockMode::Shared, 0),
    ];
    let reqs: Vec<LockRequestId> = wanted
        .iter()
        .map(|&(i, mode, prio)| {
            let r = Request::new(owners[i], Level::Node, exact(&["n1"]), mode).priority(prio);
            ask(&mut l, T0, r)
        })
        .collect();
    let modes = |l: &Locks| node(l, "n1").pending.iter().map(|p| (p.mode, p.owners.clone())).collect::<Vec<_>>();
    assert_eq!(
        modes(&l),
        vec![
            (LockMode::Exclusive, vec![owners[3]]),
            (LockMode::Shared, vec![owners[2], owners[6]]),
            (LockMode::Exclusive, vec![owners[5]]),
            (LockMode::Exclusive, vec![owners[1]]),
            (LockMode::Shared, vec![owners[4]]),
        ]
    );
    drain(&mut l);
    let mut holder = vec![owners[0]];
    let mut order = Vec::new();
    while !holder.is_empty() {
        for owner in std::mem::take(&mut holder) {
            l.release(T0, owner, Level::Node, Names::All).unwrap();
            for e in drain(&mut l) {
                let i = reqs.iter().position(|&r| r == e.req()).unwrap();
                order.push(i);
                holder.push(owners[wanted[i].0]);
            }
        }
    }
    // -10 first; then priority 0: the shared group (owners 2 and 6), then owner 5; then 5s.
    assert_eq!(order, vec![2, 1, 5, 4, 0, 3]);
}

#[test]
fn only_the_top_of_the_queue_is_granted() {
    let mut l = cluster(&[A, B, C, D]);
    ask(&mut l, T0, Request::exclusive(A, Level::Node, ["n1"]));
    let rb = ask(&mut l, T0, Request::shared(B, Level::Node, ["n1"]).priority(0));
    let rc = ask(&mut l, T0, Request::shared(C, Level::Node, ["n1"]).priority(1));
    drain(&mut l);
    l.release(T0, A, Level::Node, Names::All).unwrap();
    // C's group is compatible with B's, but it is not the top: it waits for the last sharer.
    assert_eq!(drain(&mut l), vec![granted(rb, &["n1"])]);
    l.release(T0, B, Level::Node, Names::All).unwrap();
    assert_eq!(drain(&mut l), vec![granted(rc, &["n1"])]);
}

#[test]
fn timed_out_request_leaves_the_queue_and_the_next_one_is_considered() {
    let mut l = cluster(&[A, B, C]);
    ask(&mut l, T0, Request::exclusive(A, Level::Node, ["n1"]));
    let rb = ask(&mut l, T0, Request::exclusive(B, Level::Node, ["n1"]).deadline(ms(10)));
    let rc = ask(&mut l, T0, Request::exclusive(C, Level::Node, ["n1"]));
    drain(&mut l);
    assert_eq!(l.poll_timeout(), Some(ms(10)));
    l.handle_timeout(ms(9));
    assert_eq!(drain(&mut l), vec![]);
    l.handle_timeout(ms(10));
    assert_eq!(drain(&mut l), vec![timed_out(rb)]);
    assert_eq!(l.poll_timeout(), None);
    l.release(ms(11), A, Level::Node, Names::All).unwrap();
    assert_eq!(drain(&mut l), vec![granted(rc, &["n1"])]);
}

#[test]
fn expired_top_of_a_free_lock_hands_over_to_the_next() {
    let mut l = cluster(&[A, B, C]);
    ask(&mut l, T0, Request::exclusive(A, Level::Node, ["n1"]));
    let rb = ask(&mut l, T0, Request::exclusive(B, Level::Node, ["n1"]).deadline(ms(5)));
    let rc = ask(&mut l, T0, Request::shared(C, Level::Node, ["n1"]));
    drain(&mut l);
    // The release comes after B's deadline: B expires first, then C is granted.
    l.release(ms(6), A, Level::Node, Names::All).unwrap();
    assert_eq!(drain(&mut l), vec![timed_out(rb), granted(rc, &["n1"])]);
}

#[test]
fn timeout_below_one_millisecond_on_a_busy_lock_fails_at_once() {
    let mut l = cluster(&[A, B]);
    ask(&mut l, T0, Request::exclusive(A, Level::Node, ["n1"]));
    drain(&mut l);
    let almost = Instant::ZERO.saturating_add(MIN_TIMEOUT - Duration::from_nanos(1));
    let rb = ask(&mut l, T0, Request::shared(B, Level::Node, ["n1"]).deadline(almost));
    assert_eq!(drain(&mut l), vec![timed_out(rb)]);
    assert!(node(&l, "n1").pending.is_empty());
    // On a free lock, even a zero timeout succeeds.
    let rb = ask(&mut l, T0, Request::shared(B, Level::Node, ["n2"]).deadline(T0));
    assert_eq!(drain(&mut l), vec![granted(rb, &["n2"])]);
}

#[test]
fn request_without_deadline_waits_until_granted() {
    let mut l = cluster(&[A, B]);
    ask(&mut l, T0, Request::exclusive(A, Level::Node, ["n1"]));
    let rb = ask(&mut l, T0, Request::exclusive(B, Level::Node, ["n1"]));
    l.handle_timeout(Instant::MAX);
    assert_eq!(l.poll_timeout(), None);
    drain(&mut l);
    l.release(Instant::MAX, A, Level::Node, Names::All).unwrap();
    assert_eq!(drain(&mut l), vec![granted(rb, &["n1"])]);
}

#[test]
fn downgrade_lets_the_pending_shared_group_jump_ahead_of_exclusives() {
    let mut l = cluster(&[A, B, C, D]);
    ask(&mut l, T0, Request::exclusive(A, Level::Node, ["n1"]));
    let rb = ask(&mut l, T0, Request::exclusive(B, Level::Node, ["n1"]));
    let rc = ask(&mut l, T0, Request::shared(C, Level::Node, ["n1"]));
    let rd = ask(&mut l, T0, Request::shared(D, Level::Node, ["n1"]).priority(1));
    drain(&mut l);
    l.downgrade(T0, A, Level::Node, Names::All).unwrap();
    // C's group (priority 0, the top priority) jumps ahead of B; D's (priority 1) does not.
    assert_eq!(drain(&mut l), vec![granted(rc, &["n1"])]);
    assert_eq!(l.owned(A, Level::Node), vec![("n1".into(), LockMode::Shared)]);
    // Downgrading a shared lock does nothing.
    l.downgrade(T0, A, Level::Node, Names::All).unwrap();
    assert_eq!(drain(&mut l), vec![]);
    l.release(T0, A, Level::Node, Names::All).unwrap();
    l.release(T0, C, Level::Node, Names::All).unwrap();
    assert_eq!(drain(&mut l), vec![granted(rb, &["n1"])]);
    l.release(T0, B, Level::Node, Names::All).unwrap();
    assert_eq!(drain(&mut l), vec![granted(rd, &["n1"])]);
}

#[test]
fn downgrade_without_a_top_priority_shared_group_grants_nothing() {
    let mut l = cluster(&[A, B, C]);
    ask(&mut l, T0, Request::exclusive(A, Level::Node, ["n1"]));
    ask(&mut l, T0, Request::exclusive(B, Level::Node, ["n1"]));
    ask(&mut l, T0, Request::shared(C, Level::Node, ["n1"]).priority(3));
    drain(&mut l);
    l.downgrade(T0, A, Level::Node, Names::All).unwrap();
    assert_eq!(drain(&mut l), vec![]);
}

#[test]
fn downgrading_what_is_not_held_is_an_error() {
    let mut l = cluster(&[A]);
    assert_eq!(
        l.downgrade(T0, A, Level::Node, exact(&["n1"])),
        Err(LockError::NotHeld { owner: A, level: Level::Node, name: Some("n1".into()) })
    );
}

#[test]
fn delete_fails_every_pending_and_future_request() {
    let mut l = cluster(&[A, B, C, D]);
    ask(&mut l, T0, Request::exclusive(A, Level::Node, ["n1"]));
    let rb = ask(&mut l, T0, Request::shared(B, Level::Node, ["n1"]));
    let rc = ask(&mut l, T0, Request::exclusive(C, Level::Node, ["n1"]).priority(-1));
    let rd = ask(&mut l, T0, Request::shared(D, Level::Node, ["n1"]).deadline(ms(100)));
    drain(&mut l);
    assert_eq!(l.remove(T0, A, Level::Node, ["n1"]), Ok(names(&["n1"])));
    // In queue order: C (priority −1), then the shared group B, D.
    assert_eq!(drain(&mut l), vec![deleted(rc, "n1"), deleted(rb, "n1"), deleted(rd, "n1")]);
    assert_eq!(l.poll_timeout(), None);
    assert_eq!(l.owned(A, Level::Node), vec![]);
    assert_eq!(
        l.request(T0, Request::shared(B, Level::Node, ["n1"])),
        Err(LockError::UnknownLock { level: Level::Node, name: "n1".into() })
    );
}

#[test]
fn delete_while_sharing_is_an_error_and_busy_locks_are_not_deleted() {
    let mut l = cluster(&[A, B]);
    ask(&mut l, T0, Request::shared(A, Level::Node, ["n1"]));
    assert_eq!(
        l.remove(T0, A, Level::Node, ["n1"]),
        Err(LockError::DeleteWhileSharing { level: Level::Node, name: "n1".into() })
    );
    assert_eq!(
        l.remove(T0, B, Level::Node, ["n1"]),
        Err(LockError::LockBusy { level: Level::Node, name: "n1".into() })
    );
    // A free lock is deleted at once; unknown names are skipped.
    assert_eq!(l.remove(T0, B, Level::Node, ["n2", "zz"]), Ok(names(&["n2"])));
}

#[test]
fn not_recursive_double_acquire_is_an_error() {
    let mut l = cluster(&[A]);
    ask(&mut l, T0, Request::exclusive(A, Level::Node, ["n1"]));
    assert_eq!(
        l.request(T0, Request::exclusive(A, Level::Node, ["n2"])),
        Err(LockError::DoubleAcquire { owner: A, level: Level::Node })
    );
    assert_eq!(
        l.request(T0, Request::shared(A, Level::Cluster, [BGL])),
        Err(LockError::DoubleAcquire { owner: A, level: Level::Cluster })
    );
}

#[test]
fn releasing_what_is_not_held_is_an_error() {
    let mut l = cluster(&[A, B]);
    ask(&mut l, T0, Request::exclusive(A, Level::Node, ["n1"]));
    let not_held =
        |owner, name: Option<&str>| LockError::NotHeld { owner, level: Level::Node, name: name.map(Into::into) };
    assert_eq!(l.release(T0, B, Level::Node, exact(&["n1"])), Err(not_held(B, Some("n1"))));
    assert_eq!(l.release(T0, A, Level::Node, exact(&["n2"])), Err(not_held(A, Some("n2"))));
    assert_eq!(l.release(T0, B, Level::Node, Names::All), Err(not_held(B, None)));
    assert_eq!(l.owned(A, Level::Node), vec![("n1".into(), LockMode::Exclusive)]);
}

#[test]
fn one_request_at_a_time_per_owner() {
    let mut l = cluster(&[A, B]);
    ask(&mut l, T0, Request::exclusive(A, Level::Node, ["n1"]));
    let rb = ask(&mut l, T0, Request::exclusive(B, Level::Node, ["n1"]));
    assert_eq!(
        l.request(T0, Request::shared(B, Level::Network, ["x"])),
        Err(LockError::OwnerBusy { owner: B, req: rb })
    );
    assert_eq!(l.release(T0, B, Level::Cluster, Names::All), Err(LockError::OwnerBusy { owner: B, req: rb }));
    // Cancelling withdraws it silently.
    drain(&mut l);
    l.cancel(T0, rb).unwrap();
    assert!(node(&l, "n1").pending.is_empty());
    assert_eq!(l.cancel(T0, rb), Err(LockError::UnknownRequest(rb)));
    l.release(T0, A, Level::Node, Names::All).unwrap();
    assert_eq!(drain(&mut l), vec![]);
    let rb = ask(&mut l, T0, Request::shared(B, Level::Network, Vec::<Name>::new()));
    assert_eq!(drain(&mut l), vec![granted(rb, &[])]);
}

// ---- LockSet --------------------------------------------------------------------------------

#[test]
fn set_is_acquired_in_sorted_order_and_reported_sorted() {
    let mut l = cluster(&[A]);
    let ra = ask(&mut l, T0, Request::exclusive(A, Level::Node, ["n3", "n1", "n2", "n1"]));
    assert_eq!(drain(&mut l), vec![granted(ra, &["n1", "n2", "n3"])]);
    l.release(T0, A, Level::Node, exact(&["n2"])).unwrap();
    assert_eq!(l.owned(A, Level::Node), vec![("n1".into(), LockMode::Exclusive), ("n3".into(), LockMode::Exclusive)]);
}

#[test]
fn set_holds_what_it_got_while_waiting_for_the_next_name() {
    let mut l = cluster(&[A, B, C]);
    ask(&mut l, T0, Request::exclusive(A, Level::Node, ["n2"]));
    let rb = ask(&mut l, T0, Request::exclusive(B, Level::Node, ["n1", "n2", "n3"]));
    drain(&mut l);
    assert_eq!(node(&l, "n1").owners, vec![B]);
    assert_eq!(node(&l, "n3").owners, vec![]);
    // C wants n1: queued behind B's holding.
    let rc = ask(&mut l, T0, Request::shared(C, Level::Node, ["n1"]));
    l.release(T0, A, Level::Node, Names::All).unwrap();
    assert_eq!(drain(&mut l), vec![granted(rb, &["n1", "n2", "n3"])]);
    l.release(T0, B, Level::Node, Names::All).unwrap();
    assert_eq!(drain(&mut l), vec![granted(rc, &["n1"])]);
}

#[test]
fn set_timeout_covers_the_whole_set_and_releases_what_it_got() {
    let mut l = cluster(&[A, B, C]);
    ask(&mut l, T0, Request::exclusive(A, Level::Node, ["n3"]));
    let rb = ask(&mut l, T0, Request::exclusive(B, Level::Node, ["n1", "n2", "n3"]).deadline(ms(50)));
    let rc = ask(&mut l, T0, Request::exclusive(C, Level::Node, ["n1"]));
    drain(&mut l);
    l.handle_timeout(ms(50));
    assert_eq!(drain(&mut l), vec![timed_out(rb), granted(rc, &["n1"])]);
    assert_eq!(l.owned(B, Level::Node), vec![]);
}

#[test]
fn set_fails_when_a_lock_it_still_needs_is_deleted() {
    let mut l = cluster(&[A, B, C]);
    ask(&mut l, T0, Request::exclusive(A, Level::Node, ["n2"]));
    // B gets n1, waits for n2, still needs n3.
    let rb = ask(&mut l, T0, Request::shared(B, Level::Node, ["n1", "n2", "n3"]));
    drain(&mut l);
    // C (not at this level) deletes the free n3.
    assert_eq!(l.remove(T0, C, Level::Node, ["n3"]), Ok(names(&["n3"])));
    assert_eq!(drain(&mut l), vec![]);
    l.release(T0, A, Level::Node, Names::All).unwrap();
    assert_eq!(drain(&mut l), vec![deleted(rb, "n3")]);
    assert_eq!(node(&l, "n1").owners, vec![]);
    assert_eq!(node(&l, "n2").owners, vec![]);
}

#[test]
fn unknown_name_in_an_exact_set_is_an_error() {
    let mut l = cluster(&[A]);
    assert_eq!(
        l.request(T0, Request::exclusive(A, Level::Node, ["n1", "nope"])),
        Err(LockError::UnknownLock { level: Level::Node, name: "nope".into() })
    );
    assert_eq!(l.owned(A, Level::Node), vec![]);
}

#[test]
fn empty_set_is_granted_at_once() {
    let mut l = cluster(&[A]);
    let ra = ask(&mut l, T0, Request::exclusive(A, Level::Node, Vec::<Name>::new()));
    assert_eq!(drain(&mut l), vec![granted(ra, &[])]);
}

#[test]
fn all_takes_the_set_lock_and_every_lock() {
    let mut l = cluster(&[A, B]);
    let ra = ask(&mut l, T0, Request::all(A, Level::Node, LockMode::Shared));
    assert_eq!(drain(&mut l), vec![granted(ra, &["n1", "n2", "n3", "n4", "n5"])]);
    assert_eq!(l.owned_set_lock(A, Level::Node), Some(LockMode::Shared));
    // The set lock is held, so nobody can add.
    assert_eq!(l.add(T0, B, Level::Node, ["n6"], None), Err(LockError::SetLockBusy(Level::Node)));
    // Sharers of all do not block each other.
    let rb = ask(&mut l, T0, Request::all(B, Level::Node, LockMode::Shared));
    assert_eq!(drain(&mut l), vec![granted(rb, &["n1", "n2", "n3", "n4", "n5"])]);
    l.release(T0, A, Level::Node, Names::All).unwrap();
    l.release(T0, B, Level::Node, Names::All).unwrap();
    assert_eq!(l.owned_set_lock(A, Level::Node), None);
    l.add(T0, B, Level::Node, ["n6"], None).unwrap();
}

#[test]
fn all_skips_locks_removed_while_it_waits() {
    let mut l = cluster(&[A, B]);
    ask(&mut l, T0, Request::exclusive(A, Level::Node, ["n2"]));
    let rb = ask(&mut l, T0, Request::all(B, Level::Node, LockMode::Exclusive));
    drain(&mut l);
    // B holds the set lock and n1, waits on n2; A deletes n2: B skips it.
    assert_eq!(l.remove(T0, A, Level::Node, ["n2"]), Ok(names(&["n2"])));
    assert_eq!(drain(&mut l), vec![granted(rb, &["n1", "n3", "n4", "n5"])]);
}

#[test]
fn all_waits_for_the_set_lock_held_by_an_adder() {
    let mut l = cluster(&[A, B]);
    let ra = ask(&mut l, T0, Request::all(A, Level::Node, LockMode::Exclusive));
    let rb = ask(&mut l, T0, Request::all(B, Level::Node, LockMode::Shared));
    assert_eq!(drain(&mut l), vec![granted(ra, &["n1", "n2", "n3", "n4", "n5"])]);
    // A holds the whole set exclusively: it may add, and hold what it adds.
    l.add(T0, A, Level::Node, ["n6"], Some(LockMode::Exclusive)).unwrap();
    l.release(T0, A, Level::Node, Names::All).unwrap();
    assert_eq!(drain(&mut l), vec![granted(rb, &["n1", "n2", "n3", "n4", "n5", "n6"])]);
}

#[test]
fn opportunistic_takes_only_free_locks_and_never_waits() {
    let mut l = cluster(&[A, B, C]);
    ask(&mut l, T0, Request::exclusive(A, Level::Node, ["n2"]));
    ask(&mut l, T0, Request::shared(B, Level::Node, ["n4"]));
    let rc = ask(&mut l, T0, Request::exclusive(C, Level::Node, ["n1", "n2", "n3", "n4"]).opportunistic(0));
    let events = drain(&mut l);
    assert_eq!(events.last(), Some(&granted(rc, &["n1", "n3"])));
    assert!(node(&l, "n2").pending.is_empty());
}

#[test]
fn opportunistic_does_not_barge_past_a_queue() {
    let mut l = cluster(&[A, B, C]);
    ask(&mut l, T0, Request::shared(A, Level::Node, ["n1"]));
    ask(&mut l, T0, Request::exclusive(B, Level::Node, ["n1"]));
    let rc = ask(&mut l, T0, Request::shared(C, Level::Node, ["n1", "n2"]).opportunistic(0));
    assert_eq!(drain(&mut l).last(), Some(&granted(rc, &["n2"])));
}

#[test]
fn opportunistic_minimum_waits_until_enough_are_free_at_once() {
    let mut l = cluster(&[A, B, C]);
    ask(&mut l, T0, Request::exclusive(A, Level::Node, ["n1", "n2"]));
    drain(&mut l);
    let rb = ask(&mut l, T0, Request::exclusive(B, Level::Node, ["n1", "n2", "n3"]).opportunistic(2));
    // Only n3 is free: B holds nothing while it waits.
    assert_eq!(drain(&mut l), vec![]);
    assert_eq!(node(&l, "n3").owners, vec![]);
    let rc = ask(&mut l, T0, Request::exclusive(C, Level::Node, ["n3"]));
    assert_eq!(drain(&mut l), vec![granted(rc, &["n3"])]);
    l.release(T0, A, Level::Node, exact(&["n1"])).unwrap();
    // n1 alone is not enough: B tries, gives it back, and waits on.
    assert_eq!(drain(&mut l), vec![]);
    assert_eq!(node(&l, "n1").owners, vec![]);
    l.release(T0, A, Level::Node, exact(&["n2"])).unwrap();
    assert_eq!(drain(&mut l), vec![granted(rb, &["n1", "n2"])]);
}

#[test]
fn opportunistic_minimum_times_out_with_nothing_held() {
    let mut l = cluster(&[A, B]);
    ask(&mut l, T0, Request::exclusive(A, Level::Node, ["n1"]));
    let rb = ask(&mut l, T0, Request::exclusive(B, Level::Node, ["n1", "n2"]).opportunistic(2).deadline(ms(3)));
    drain(&mut l);
    l.handle_timeout(ms(3));
    assert_eq!(drain(&mut l), vec![timed_out(rb)]);
    assert_eq!(l.owned(B, Level::Node), vec![]);
    assert_eq!(
        l.request(T0, Request::exclusive(B, Level::Node, ["n1"]).opportunistic(2)),
        Err(LockError::UnreachableMinimum { min: 2, names: 1 })
    );
}

#[test]
fn add_and_remove_while_holding_the_whole_set() {
    let mut l = cluster(&[A, B]);
    ask(&mut l, T0, Request::all(A, Level::Instance, LockMode::Exclusive));
    drain(&mut l);
    l.add(T0, A, Level::Instance, ["i4"], Some(LockMode::Exclusive)).unwrap();
    assert_eq!(
        l.add(T0, A, Level::Instance, ["i1"], None),
        Err(LockError::DuplicateName { level: Level::Instance, name: "i1".into() })
    );
    assert_eq!(l.remove(T0, A, Level::Instance, ["i1", "i4"]), Ok(names(&["i1", "i4"])));
    assert_eq!(
        l.owned(A, Level::Instance),
        vec![("i2".into(), LockMode::Exclusive), ("i3".into(), LockMode::Exclusive)]
    );
    l.release(T0, A, Level::Instance, Names::All).unwrap();
    assert_eq!(l.len(Level::Instance), 2);
}

#[test]
fn add_needs_the_whole_set_exclusively_when_holding_part_of_it() {
    let mut l = cluster(&[A]);
    ask(&mut l, T0, Request::exclusive(A, Level::Instance, ["i1"]));
    assert_eq!(
        l.add(T0, A, Level::Instance, ["i9"], None),
        Err(LockError::PartlyOwned { owner: A, level: Level::Instance })
    );
    // Removing needs the caller to hold every named lock it removes, when it holds some.
    assert_eq!(
        l.remove(T0, A, Level::Instance, ["i2"]),
        Err(LockError::PartlyOwned { owner: A, level: Level::Instance })
    );
}

#[test]
fn added_lock_can_be_acquired_and_removed_lock_cannot() {
    let mut l = cluster(&[A, B]);
    l.add(T0, A, Level::Node, ["n9"], None).unwrap();
    let rb = ask(&mut l, T0, Request::shared(B, Level::Node, ["n9"]));
    assert_eq!(drain(&mut l), vec![granted(rb, &["n9"])]);
    l.release(T0, B, Level::Node, Names::All).unwrap();
    l.remove(T0, A, Level::Node, ["n9"]).unwrap();
    assert!(l.request(T0, Request::shared(B, Level::Node, ["n9"])).is_err());
}

// ---- GanetiLockManager ----------------------------------------------------------------------

#[test]
fn levels_hold_their_fixed_locks() {
    let l = Locks::new();
    let monitor = l.monitor();
    let named: Vec<(Level, Option<&str>)> = monitor.iter().map(|i| (i.level, i.name.as_deref())).collect();
    assert!(named.contains(&(Level::Cluster, Some(BGL))));
    assert!(named.contains(&(Level::NodeAlloc, Some(NAL))));
    assert_eq!(monitor.iter().filter(|i| i.name.is_none()).count(), Level::ALL.len());
}

#[test]
fn every_level_but_the_cluster_needs_the_bgl() {
    let mut l = cluster(&[]);
    assert_eq!(
        l.request(T0, Request::shared(A, Level::Node, ["n1"])),
        Err(LockError::BglNotHeld { owner: A, level: Level::Node })
    );
    assert_eq!(l.add(T0, A, Level::Node, ["n9"], None), Err(LockError::BglNotHeld { owner: A, level: Level::Node }));
}

#[test]
fn levels_are_acquired_in_order() {
    let mut l = cluster(&[A]);
    ask(&mut l, T0, Request::shared(A, Level::Node, ["n1"]));
    assert_eq!(
        l.request(T0, Request::shared(A, Level::Instance, ["i1"])),
        Err(LockError::LevelOrder { owner: A, requested: Level::Instance, held: Level::Node })
    );
    // A later level is fine.
    l.register(Level::NodeRes, ["n1"]).unwrap();
    let rr = ask(&mut l, T0, Request::exclusive(A, Level::NodeRes, ["n1"]));
    assert_eq!(drain(&mut l).last(), Some(&granted(rr, &["n1"])));
}

#[test]
fn bgl_cannot_be_released_before_the_other_levels() {
    let mut l = cluster(&[A]);
    ask(&mut l, T0, Request::shared(A, Level::Instance, ["i1"]));
    assert_eq!(
        l.release(T0, A, Level::Cluster, Names::All),
        Err(LockError::BglStillNeeded { owner: A, held: Level::Instance })
    );
    l.release_all(T0, A).unwrap();
    assert!(l.monitor().iter().all(|i| i.owners.is_empty()));
}

#[test]
fn fixed_levels_are_not_modifiable() {
    let mut l = cluster(&[A]);
    assert_eq!(l.add(T0, A, Level::NodeAlloc, ["x"], None), Err(LockError::NotModifiable(Level::NodeAlloc)));
    assert_eq!(l.remove(T0, A, Level::Cluster, [BGL]), Err(LockError::NotModifiable(Level::Cluster)));
    assert_eq!(l.register(Level::Cluster, ["x"]), Err(LockError::NotModifiable(Level::Cluster)));
}

#[test]
fn bgl_exclusive_waits_for_every_sharer() {
    let mut l = cluster(&[A, B]);
    let rc = ask(&mut l, T0, Request::exclusive(C, Level::Cluster, [BGL]));
    let rd = ask(&mut l, T0, Request::shared(D, Level::Cluster, [BGL]));
    assert_eq!(drain(&mut l), vec![]);
    l.release(T0, A, Level::Cluster, Names::All).unwrap();
    assert_eq!(drain(&mut l), vec![]);
    l.release(T0, B, Level::Cluster, Names::All).unwrap();
    assert_eq!(drain(&mut l), vec![granted(rc, &[BGL])]);
    l.release(T0, C, Level::Cluster, Names::All).unwrap();
    assert_eq!(drain(&mut l), vec![granted(rd, &[BGL])]);
}

// ---- LockMonitor ----------------------------------------------------------------------------

#[test]
fn monitor_lists_levels_in_order_then_set_lock_then_names() {
    let mut l = cluster(&[A, B, C]);
    ask(&mut l, T0, Request::exclusive(A, Level::Node, ["n2"]));
    ask(&mut l, T0, Request::shared(B, Level::Node, ["n2"]));
    ask(&mut l, T0, Request::shared(C, Level::Node, ["n2"]));
    let monitor = l.monitor();
    let order: Vec<(Level, Option<String>)> =
        monitor.iter().map(|i| (i.level, i.name.as_deref().map(str::to_owned))).collect();
    let mut sorted = order.clone();
    sorted.sort();
    assert_eq!(order, sorted);
    assert_eq!(
        node(&l, "n2"),
        LockInfo {
            level: Level::Node,
            name: Some("n2".into()),
            mode: Some(LockMode::Exclusive),
            owners: vec![A],
            pending: vec![PendingInfo { mode: LockMode::Shared, owners: vec![B, C] }],
        }
    );
    let bgl = monitor.iter().find(|i| i.name.as_deref() == Some(BGL)).unwrap();
    assert_eq!((bgl.mode, bgl.owners.clone()), (Some(LockMode::Shared), vec![A, B, C]));
}

#[test]
fn time_going_backwards_counts_as_no_time() {
    let mut l = cluster(&[A, B]);
    ask(&mut l, T0, Request::exclusive(A, Level::Node, ["n1"]));
    let rb = ask(&mut l, ms(10), Request::exclusive(B, Level::Node, ["n1"]).deadline(ms(15)));
    drain(&mut l);
    l.handle_timeout(ms(1));
    assert_eq!(drain(&mut l), vec![]);
    l.handle_timeout(ms(15));
    assert_eq!(drain(&mut l), vec![timed_out(rb)]);
}

#[test]
fn an_owner_holding_many_locks_releases_and_downgrades_them_by_name() {
    let mut locks = cluster(&[A, B, C, D]);
    let many: Vec<String> = (0..40).map(|i| format!("m{i:02}")).collect();
    locks.register(Level::Node, many.iter().map(String::as_str)).unwrap();
    let many: Vec<&str> = many.iter().map(String::as_str).collect();
    let ra = locks.request(T0, Request::exclusive(A, Level::Node, many.iter().copied())).unwrap();
    let rb = locks.request(T0, Request::shared(B, Level::Node, ["m05"])).unwrap();
    let rc = locks.request(T0, Request::exclusive(C, Level::Node, ["m15"])).unwrap();
    let rd = locks.request(T0, Request::exclusive(D, Level::Node, ["m39"])).unwrap();
    assert_eq!(drain(&mut locks), vec![granted(ra, &many)]);

    locks.downgrade(T0, A, Level::Node, exact(&["m05"])).unwrap();
    assert_eq!(drain(&mut locks), vec![granted(rb, &["m05"])]);
    locks.release(T0, A, Level::Node, exact(&many[10..30])).unwrap();
    assert_eq!(drain(&mut locks), vec![granted(rc, &["m15"])]);
    let owned = locks.owned(A, Level::Node);
    assert_eq!(owned.len(), 20);
    assert!(owned.iter().all(|(name, mode)| (name.as_ref() == "m05") == (*mode == LockMode::Shared)));
    assert_eq!(
        locks.release(T0, A, Level::Node, exact(&["m15"])),
        Err(LockError::NotHeld { owner: A, level: Level::Node, name: Some("m15".into()) })
    );

    locks.release(T0, A, Level::Node, Names::All).unwrap();
    assert_eq!(drain(&mut locks), vec![granted(rd, &["m39"])]);
    assert!(locks.owned(A, Level::Node).is_empty());
    assert_eq!(node(&locks, "m05").owners, vec![B]);
}

#[test]
fn time_matters_only_to_deadlines() {
    // The same calls, none with a deadline, once with time passing and once all at T0: the
    // same events (what lets a driver pass `Locks::now` instead of reading its clock).
    let run = |at: &dyn Fn(u64) -> Instant| {
        let mut locks = cluster(&[A, B, C, D]);
        locks.request(at(1), Request::exclusive(A, Level::Node, ["n1", "n2"])).unwrap();
        locks.request(at(2), Request::shared(B, Level::Node, ["n2", "n3"])).unwrap();
        locks.request(at(3), Request::shared(C, Level::Node, ["n2"]).priority(-1)).unwrap();
        locks.request(at(4), Request::exclusive(D, Level::Node, ["n3", "n4"]).opportunistic(2)).unwrap();
        locks.downgrade(at(5), A, Level::Node, exact(&["n2"])).unwrap();
        locks.release(at(6), A, Level::Node, Names::All).unwrap();
        locks.release(at(7), C, Level::Node, Names::All).unwrap();
        locks.release(at(8), D, Level::Node, Names::All).unwrap();
        locks.release(at(9), B, Level::Node, Names::All).unwrap();
        assert_eq!(locks.poll_timeout(), None);
        (drain(&mut locks), locks.monitor())
    };
    let (events, monitor) = run(&|n| ms(n * 1000));
    assert_eq!(events.len(), 4, "{events:?}");
    assert_eq!((events, monitor), run(&|_| T0));
    let mut locks = cluster(&[A]);
    locks.handle_timeout(ms(7));
    assert_eq!(locks.now(), ms(7));
}

// ---- one lock looked up once (`lock_ref` + `request_lock`) -----------------------------------

#[test]
fn a_free_lock_asked_for_by_ref_is_granted_in_the_answer_without_an_event() {
    let mut l = cluster(&[A, B]);
    let n1 = l.lock_ref(Level::Node, "n1").unwrap();
    assert_eq!((n1.level(), n1.name().as_ref()), (Level::Node, "n1"));
    let Requested::Granted(req) = l.request_lock(T0, A, &n1, LockMode::Exclusive, 0, None).unwrap() else {
        panic!("n1 is free")
    };
    assert_eq!(drain(&mut l), vec![]);
    assert_eq!(l.owned(A, Level::Node), vec![("n1".into(), LockMode::Exclusive)]);
    // Ids stay one sequence with `request`'s.
    let next = ask(&mut l, T0, Request::shared(B, Level::Node, ["n2"]));
    assert_eq!(next, LockRequestId(req.0 + 1));
    assert!(l.lock_ref(Level::Node, "n9").is_none());
}

#[test]
fn by_ref_a_busy_lock_queues_as_a_request_for_its_name_would() {
    let mut l = cluster(&[A, B, C]);
    let n1 = l.lock_ref(Level::Node, "n1").unwrap();
    let ra = ask(&mut l, T0, Request::shared(A, Level::Node, ["n1"]));
    ask(&mut l, T0, Request::exclusive(B, Level::Node, ["n1"]));
    // Shared would fit A's holding, but B is queued: no barging by ref either.
    let Requested::Pending(rc) = l.request_lock(T0, C, &n1, LockMode::Shared, 0, None).unwrap() else {
        panic!("B is queued")
    };
    let pending: Vec<(LockMode, Vec<Owner>)> = node(&l, "n1").pending.into_iter().map(|p| (p.mode, p.owners)).collect();
    assert_eq!(pending, vec![(LockMode::Exclusive, vec![B]), (LockMode::Shared, vec![C])]);
    assert_eq!(l.in_progress(C), Some(rc));
    assert_eq!(drain(&mut l), vec![granted(ra, &["n1"])]);
}

#[test]
fn by_ref_a_deadline_below_the_minimum_on_a_busy_lock_times_out_at_once() {
    let mut l = cluster(&[A, B]);
    let n1 = l.lock_ref(Level::Node, "n1").unwrap();
    ask(&mut l, T0, Request::exclusive(A, Level::Node, ["n1"]));
    drain(&mut l);
    let Requested::Pending(rb) = l.request_lock(T0, B, &n1, LockMode::Shared, 0, Some(T0)).unwrap() else {
        panic!("A holds n1")
    };
    assert_eq!(drain(&mut l), vec![timed_out(rb)]);
    assert_eq!(l.requests_in_progress(), 0);
}

#[test]
fn by_ref_the_owner_rules_refuse_as_request_does() {
    let mut l = cluster(&[A]);
    let n1 = l.lock_ref(Level::Node, "n1").unwrap();
    let i1 = l.lock_ref(Level::Instance, "i1").unwrap();
    let bgl = l.lock_ref(Level::Cluster, BGL).unwrap();
    assert_eq!(
        l.request_lock(T0, B, &n1, LockMode::Shared, 0, None),
        Err(LockError::BglNotHeld { owner: B, level: Level::Node })
    );
    // The BGL itself by ref, for an owner that holds nothing yet.
    assert!(matches!(l.request_lock(T0, B, &bgl, LockMode::Shared, 0, None), Ok(Requested::Granted(_))));
    assert!(matches!(l.request_lock(T0, A, &n1, LockMode::Shared, 0, None), Ok(Requested::Granted(_))));
    assert_eq!(
        l.request_lock(T0, A, &n1, LockMode::Shared, 0, None),
        Err(LockError::DoubleAcquire { owner: A, level: Level::Node })
    );
    assert_eq!(
        l.request_lock(T0, A, &i1, LockMode::Shared, 0, None),
        Err(LockError::LevelOrder { owner: A, requested: Level::Instance, held: Level::Node })
    );
    assert_eq!(drain(&mut l), vec![]);
}

#[test]
fn a_ref_goes_stale_when_its_lock_is_removed_even_if_the_name_comes_back() {
    let mut l = cluster(&[A]);
    let n1 = l.lock_ref(Level::Node, "n1").unwrap();
    l.remove(T0, A, Level::Node, ["n1"]).unwrap();
    l.add(T0, A, Level::Node, ["n1"], None).unwrap();
    let stale = LockError::StaleLock { level: Level::Node, name: "n1".into() };
    assert_eq!(stale.to_string(), "lock n1 at level node was removed after it was looked up");
    assert_eq!(l.request_lock(T0, A, &n1, LockMode::Exclusive, 0, None), Err(stale));
    let fresh = l.lock_ref(Level::Node, "n1").unwrap();
    assert_ne!(fresh, n1);
    assert!(matches!(l.request_lock(T0, A, &fresh, LockMode::Exclusive, 0, None), Ok(Requested::Granted(_))));
}
