//! Scale: a million locks and a hundred thousand queued requests, driven to the end with the
//! expected number of events in the expected order. It runs in the debug test profile (a few
//! seconds); the per-operation cost at 1k/10k/100k waiters is measured by the `locks` criterion
//! bench (`queue-churn`), not here — tests never assert timings.

use stowage_locks::{BGL, Event, Level, Locks, Names, Owner, Request};
use stowage_proto::Instant;

const LOCKS: usize = 1_000_000;
const WAITERS: u64 = 100_000;

fn name(i: usize) -> String {
    format!("n{i:07}")
}

#[test]
fn a_million_locks_and_a_hundred_thousand_waiters() {
    let mut locks = Locks::new();
    locks.register(Level::Node, (0..LOCKS).map(name)).unwrap();
    assert_eq!(locks.len(Level::Node), LOCKS);
    let t = Instant::ZERO;
    for owner in 0..=WAITERS {
        locks.request(t, Request::shared(Owner(owner), Level::Cluster, [BGL])).unwrap();
    }
    assert_eq!(std::iter::from_fn(|| locks.poll_output()).count(), WAITERS as usize + 1);

    // Owner 0 holds the hot lock; every other owner queues on it, priorities 0..4, a third of
    // them with a deadline at 1 s; each also spreads one uncontended lock over the million.
    let hot = name(0);
    locks.request(t, Request::exclusive(Owner(0), Level::Node, [hot.as_str()])).unwrap();
    let mut with_deadline = 0;
    for owner in 1..=WAITERS {
        let mut request =
            Request::exclusive(Owner(owner), Level::Node, [hot.clone(), name(owner as usize * 7 % LOCKS)])
                .priority((owner % 5) as i32);
        if owner % 3 == 0 {
            request = request.deadline(Instant::from_nanos(1_000_000_000));
            with_deadline += 1;
        }
        locks.request(t, request).unwrap();
    }
    assert_eq!(locks.requests_in_progress(), WAITERS as usize);
    locks.poll_output();
    assert_eq!(locks.poll_timeout(), Some(Instant::from_nanos(1_000_000_000)));

    let now = Instant::from_nanos(1_000_000_000);
    locks.handle_timeout(now);
    let timed_out = std::iter::from_fn(|| locks.poll_output()).filter(|e| matches!(e, Event::TimedOut { .. })).count();
    assert_eq!(timed_out, with_deadline);

    // Release the hot lock down the queue: each release grants exactly the next waiter, by
    // priority then arrival.
    let mut holder = Owner(0);
    let mut granted = 0;
    let mut last = (-1i64, 0u64);
    loop {
        locks.release(now, holder, Level::Node, Names::All).unwrap();
        let Some(Event::Granted { req, .. }) = locks.poll_output() else { break };
        let owner = req.0 - (WAITERS + 1); // ids: 0..=WAITERS for the BGLs, then owner 0, then the waiters
        holder = Owner(owner);
        let key = ((owner % 5) as i64, owner);
        assert!(key > last, "granted out of order: {key:?} after {last:?}");
        last = key;
        granted += 1;
    }
    assert_eq!(granted, WAITERS as usize - with_deadline);
    assert_eq!(locks.requests_in_progress(), 0);
}
