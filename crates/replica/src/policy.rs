//! How many passes a write makes, and how long it waits between them.

use std::time::Duration;

use stowage_proto::{Backoff, Instant};

/// Where the wait before the next pass is measured from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum MeasuredFrom {
    /// From the start of the pass that just ended (the Python SDK's `RetryLoop`): a long pass
    /// eats into the wait.
    PassStart,
    /// From the end of the pass that just ended.
    PassEnd,
}

/// The wait between two passes: after pass `k` (1-based), wait `schedule.delay(k)` measured
/// from the start or the end of pass `k`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct PassBackoff {
    /// The delay after pass `k` is `schedule.delay(k)`.
    pub schedule: Backoff,
    /// Where it is measured from.
    pub from: MeasuredFrom,
}

impl PassBackoff {
    /// The Python SDK 3.2.1's: 4, 8, 16, 32, 60, 60 … s, start of pass to start of pass
    /// (`RetryLoop(backoff_start=2)`: the wait doubles before each pass, capped at 60 s).
    pub const fn python_3_2_1() -> Self {
        let schedule = Backoff { multiplier: 4.0, min: Duration::ZERO, max: Duration::from_secs(60) };
        PassBackoff { schedule, from: MeasuredFrom::PassStart }
    }

    /// The same `delay` after every pass, measured from its end (the Go SDK's delay is a
    /// setting; this is its shape).
    pub fn fixed(delay: Duration) -> Self {
        let schedule = Backoff { multiplier: delay.as_secs_f64(), min: delay, max: delay };
        PassBackoff { schedule, from: MeasuredFrom::PassEnd }
    }

    /// When pass `pass + 1` may start, pass `pass` (1-based) having started at `started` and
    /// ended at `ended`.
    pub fn next_start(&self, pass: u32, started: Instant, ended: Instant) -> Instant {
        let base = match self.from {
            MeasuredFrom::PassStart => started,
            MeasuredFrom::PassEnd => ended,
        };
        base.saturating_add(self.schedule.delay(pass)).max(ended)
    }
}

/// How persistent a write is: `retries` extra passes (so up to `retries + 1`), with
/// `backoff` between them.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct RetryPolicy {
    /// Passes after the first (the Python SDK's `num_retries`, default 10; Go's default 2).
    pub retries: u32,
    /// The wait between passes.
    pub backoff: PassBackoff,
}

/// The delay of [`RetryPolicy::go`]'s default: 2 s.
pub const DEFAULT_PASS_DELAY: Duration = Duration::from_secs(2);

impl RetryPolicy {
    /// The Python SDK 3.2.1's: 10 retries (11 passes), [`PassBackoff::python_3_2_1`].
    pub const fn python_3_2_1() -> Self {
        RetryPolicy { retries: 10, backoff: PassBackoff::python_3_2_1() }
    }

    /// The Go SDK's shape: 2 retries (3 passes), `delay` after each pass.
    pub fn go(delay: Duration) -> Self {
        RetryPolicy { retries: 2, backoff: PassBackoff::fixed(delay) }
    }

    /// The most passes a write makes.
    pub fn max_passes(&self) -> u32 {
        self.retries.saturating_add(1)
    }
}

impl Default for RetryPolicy {
    /// [`RetryPolicy::go`] with [`DEFAULT_PASS_DELAY`].
    fn default() -> Self {
        RetryPolicy::go(DEFAULT_PASS_DELAY)
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
        let b = PassBackoff::python_3_2_1();
        let waits: Vec<u64> = (1..=7).map(|k| b.schedule.delay(k).as_secs()).collect();
        assert_eq!(waits, [4, 8, 16, 32, 60, 60, 60]);
        // A pass that took 1 s: the next starts 4 s after the first started.
        assert_eq!(b.next_start(1, at(0), at(1)), at(4));
        // A pass longer than the wait: the next starts at once.
        assert_eq!(b.next_start(1, at(0), at(9)), at(9));
    }

    #[test]
    fn fixed_waits_after_the_pass() {
        let b = PassBackoff::fixed(Duration::from_secs(2));
        assert_eq!(b.next_start(1, at(0), at(5)), at(7));
        assert_eq!(b.next_start(9, at(0), at(5)), at(7));
    }
}
