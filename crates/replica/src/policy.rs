//! How many passes a write makes, and how long it waits between them.

use std::time::Duration;

use stowage_proto::{Backoff, Instant, Retry};

/// Where the wait before the next pass is measured from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum MeasuredFrom {
    /// From the start of the pass that just ended (the Python SDK's `RetryLoop`): a long pass
    /// eats into the wait.
    PassStart,
    /// From the end of the pass that just ended.
    PassEnd,
}

/// How persistent a write is: up to `retry.max_attempts` passes (at least 1), and after pass
/// `k` (1-based) a wait of `retry.backoff.delay(k)` measured from the start or the end of pass `k`.
///
/// Invariants: a pass never starts before the one before it ended; `retry.jitter` is off (the
/// machine draws no randomness: [`BlockWrite::new`](crate::BlockWrite::new) refuses it).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct PassSchedule {
    /// Passes in all, the first included (the Python SDK's `num_retries + 1`, default 11; Go's
    /// default 3), and the delay after each.
    pub retry: Retry,
    /// Where each delay is measured from.
    pub from: MeasuredFrom,
}

/// The delay of [`PassSchedule::go`]'s default: 2 s.
pub const DEFAULT_PASS_DELAY: Duration = Duration::from_secs(2);

impl PassSchedule {
    /// The Python SDK 3.2.1's: 10 retries (11 passes), waiting 4, 8, 16, 32, 60, 60 … s, start
    /// of pass to start of pass (`RetryLoop(backoff_start=2)`: the wait doubles before each
    /// pass, capped at 60 s).
    pub const fn python_3_2_1() -> Self {
        let backoff = Backoff { multiplier: 4.0, min: Duration::ZERO, max: Duration::from_secs(60) };
        PassSchedule { retry: Retry { max_attempts: 11, backoff, jitter: false }, from: MeasuredFrom::PassStart }
    }

    /// The Go SDK's shape: 2 retries (3 passes), the same `delay` after every pass, measured
    /// from its end (the Go SDK's delay is a setting; this is its shape).
    pub fn go(delay: Duration) -> Self {
        let backoff = Backoff { multiplier: delay.as_secs_f64(), min: delay, max: delay };
        PassSchedule { retry: Retry { max_attempts: 3, backoff, jitter: false }, from: MeasuredFrom::PassEnd }
    }

    /// The most passes a write makes (at least 1).
    pub fn max_passes(&self) -> u32 {
        self.retry.attempts()
    }

    /// When pass `pass + 1` may start, pass `pass` (1-based) having started at `started` and
    /// ended at `ended`.
    pub fn next_start(&self, pass: u32, started: Instant, ended: Instant) -> Instant {
        let base = match self.from {
            MeasuredFrom::PassStart => started,
            MeasuredFrom::PassEnd => ended,
        };
        base.saturating_add(self.retry.backoff.delay(pass)).max(ended)
    }
}

impl Default for PassSchedule {
    /// [`PassSchedule::go`] with [`DEFAULT_PASS_DELAY`].
    fn default() -> Self {
        PassSchedule::go(DEFAULT_PASS_DELAY)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: u64) -> Instant {
        Instant::from_nanos(s * 1_000_000_000)
    }

    #[test]
    fn python_waits_start_to_start() {
        let b = PassSchedule::python_3_2_1();
        assert_eq!(b.max_passes(), 11);
        let waits: Vec<u64> = (1..=7).map(|k| b.retry.backoff.delay(k).as_secs()).collect();
        assert_eq!(waits, [4, 8, 16, 32, 60, 60, 60]);
        // A pass that took 1 s: the next starts 4 s after the first started.
        assert_eq!(b.next_start(1, at(0), at(1)), at(4));
        // A pass longer than the wait: the next starts at once.
        assert_eq!(b.next_start(1, at(0), at(9)), at(9));
    }

    #[test]
    fn fixed_waits_after_the_pass() {
        let b = PassSchedule::go(Duration::from_secs(2));
        assert_eq!(b.max_passes(), 3);
        assert_eq!(b.next_start(1, at(0), at(5)), at(7));
        assert_eq!(b.next_start(9, at(0), at(5)), at(7));
    }
}
