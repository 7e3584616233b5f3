//! How persistently something is retried: how many attempts, and the wait between them.

use std::time::Duration;

use crate::{Backoff, Jitter};

/// A retry: at most `max_attempts` attempts, attempt `k + 1` after waiting [`Retry::delay`]`(k)`.
///
/// The one retry shape of every machine: the cold-GET network retry (`stowage-lockpoll`), a
/// range's retries (`stowage-ringslot`) and a block write's passes (`stowage-replica`, which
/// adds where the wait is measured from). Each machine names its own defaults next to it.
///
/// Invariants: at least one attempt is always made ([`Retry::attempts`] is at least 1, whatever
/// `max_attempts` says); every wait lies in `[backoff.min, backoff.delay(k)]` (exactly
/// `backoff.delay(k)` without jitter).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Retry {
    /// Attempts in all, the first included (`0` is taken as 1, unless a machine refuses it as a
    /// configuration error).
    pub max_attempts: u32,
    /// The nominal wait after attempt `k` (1-based): [`Backoff::delay`]`(k)`.
    pub backoff: Backoff,
    /// Draw each wait uniformly from `[backoff.min, backoff.delay(k)]` (tenacity's
    /// `wait_random_exponential`) rather than waiting the nominal delay. Only machines that are
    /// handed a seed draw; the others refuse `true` as a configuration error.
    pub jitter: bool,
}

impl Retry {
    /// The attempts that may be made, the first included: `max_attempts`, at least 1.
    #[inline]
    pub const fn attempts(&self) -> u32 {
        if self.max_attempts == 0 { 1 } else { self.max_attempts }
    }

    /// The wait after attempt `attempt` (1-based) before the next: drawn from `jitter` when
    /// [`Retry::jitter`] is set, else the nominal [`Backoff::delay`].
    #[inline]
    pub fn delay(&self, attempt: u32, jitter: &mut Jitter) -> Duration {
        if self.jitter { self.backoff.jittered(attempt, jitter) } else { self.backoff.delay(attempt) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const BACKOFF: Backoff = Backoff { multiplier: 1.0, min: Duration::from_secs(1), max: Duration::from_secs(30) };

    #[test]
    fn at_least_one_attempt() {
        let retry = Retry { max_attempts: 0, backoff: BACKOFF, jitter: false };
        assert_eq!(retry.attempts(), 1);
        assert_eq!(Retry { max_attempts: 7, ..retry }.attempts(), 7);
    }

    #[test]
    fn nominal_without_jitter_bounded_with_it() {
        let mut jitter = Jitter::from_seed(3);
        let plain = Retry { max_attempts: 7, backoff: BACKOFF, jitter: false };
        let jittered = Retry { jitter: true, ..plain };
        for k in 1..=8 {
            assert_eq!(plain.delay(k, &mut jitter), BACKOFF.delay(k));
            let d = jittered.delay(k, &mut jitter);
            assert!(BACKOFF.min <= d && d <= BACKOFF.delay(k), "{k}: {d:?}");
        }
    }
}
