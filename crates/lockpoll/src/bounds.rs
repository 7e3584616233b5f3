//! The size-scaled bounds of the poll backoff, and the schedule they give.

use std::time::Duration;

use stowage_proto::{Backoff, Jitter};

use crate::LockPollConfig;

/// The shortest sleep never goes below this many seconds.
pub const MIN_WAIT_FLOOR_SECS: f64 = 2.0;
/// The shortest sleep never goes above this many seconds.
pub const MIN_WAIT_CEILING_SECS: f64 = 10.0;
/// How strongly the object's expected transfer time scales the bounds.
pub const OBJ_SIZE_SCALING_FACTOR: f64 = 4.0;
/// The backoff's multiplier: the nominal sleep after poll `k` is `2 · 2^(k−1)` seconds.
pub const BACKOFF_MULTIPLIER_SECS: f64 = 2.0;

/// The range every sleep between two polls lies in, scaled by the object's size.
///
/// With `expected = size / bandwidth` seconds:
/// `shortest = min(max(expected / 4, 2), 10)` and
/// `longest = max(shortest, min(⌊max_cold_wait / 2⌋, ⌊expected · 4⌋))`.
///
/// Invariants: `2 s ≤ shortest ≤ 10 s`, `shortest ≤ longest`, and
/// `longest ≤ max(shortest, max_cold_wait / 2)`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Bounds {
    /// The first (and smallest) sleep.
    pub shortest: Duration,
    /// The cap of the exponential growth.
    pub longest: Duration,
}

impl Bounds {
    /// The bounds for an object of `size` bytes under `conf`.
    #[inline]
    pub fn for_size(size: u64, conf: &LockPollConfig) -> Self {
        let expected = size as f64 / conf.bandwidth_bps() as f64;
        let shortest = (expected / OBJ_SIZE_SCALING_FACTOR).clamp(MIN_WAIT_FLOOR_SECS, MIN_WAIT_CEILING_SECS);
        let half_max = (conf.max_cold_wait.as_secs_f64() / 2.0).floor();
        let scaled = (expected * OBJ_SIZE_SCALING_FACTOR).floor();
        let longest = shortest.max(half_max.min(scaled));
        Bounds { shortest: secs(shortest), longest: secs(longest) }
    }

    /// The exponential backoff between these bounds.
    #[inline]
    pub fn backoff(&self) -> Backoff {
        Backoff { multiplier: BACKOFF_MULTIPLIER_SECS, min: self.shortest, max: self.longest }
    }

    /// The sleep after poll `k` (1-based) still said locked: `clamp(2 · 2^(k−1), shortest,
    /// longest)`, or with `jitter` a uniform draw from `[shortest, that]`.
    #[inline]
    pub fn sleep_after(&self, k: u32, jitter: Option<&mut Jitter>) -> Duration {
        match jitter {
            Some(j) => self.backoff().jittered(k, j),
            None => self.backoff().delay(k),
        }
    }
}

/// Both bounds are finite and non-negative by construction; saturate anyway rather than panic.
#[inline]
fn secs(s: f64) -> Duration {
    Duration::try_from_secs_f64(s).unwrap_or(Duration::MAX)
}

/// The sleeps of one lock wait, assuming every poll answers instantly and says "locked".
///
/// Yields the sleep after poll 1, 2, …; each is [`Bounds::sleep_after`], cut so the total
/// never passes `max_cold_wait`; ends once the budget is spent. This is exactly what
/// [`LockPoller`](crate::LockPoller) sleeps when responses take no time, and it is exposed
/// for tests, docs and capacity planning.
///
/// ```
/// use std::time::Duration;
/// use stowage_lockpoll::{Bounds, LockPollConfig, Schedule};
///
/// let conf = LockPollConfig { max_cold_wait: Duration::from_secs(60), ..LockPollConfig::default() };
/// let bounds = Bounds::for_size(0, &conf); // unknown size: shortest = longest = 2 s
/// let sleeps: Vec<_> = Schedule::new(bounds, &conf, 0).collect();
/// assert_eq!(sleeps, vec![Duration::from_secs(2); 30]);
/// ```
#[derive(Clone, Debug)]
pub struct Schedule {
    bounds: Bounds,
    jitter: Option<Jitter>,
    next_poll: u32,
    remaining: Duration,
}

impl Schedule {
    /// The schedule for `bounds` under `conf`; `seed` feeds the jitter when `conf.jitter`.
    #[inline]
    pub fn new(bounds: Bounds, conf: &LockPollConfig, seed: u64) -> Self {
        Schedule {
            bounds,
            jitter: conf.jitter.then(|| Jitter::from_seed(seed)),
            next_poll: 1,
            remaining: conf.max_cold_wait,
        }
    }
}

impl Iterator for Schedule {
    type Item = Duration;

    #[inline]
    fn next(&mut self) -> Option<Duration> {
        if self.remaining.is_zero() {
            return None;
        }
        let sleep = self.bounds.sleep_after(self.next_poll, self.jitter.as_mut()).min(self.remaining);
        self.remaining -= sleep;
        self.next_poll = self.next_poll.saturating_add(1);
        Some(sleep)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const GIB: u64 = 1 << 30;

    fn conf() -> LockPollConfig {
        LockPollConfig::default()
    }

    fn s(secs: u64) -> Duration {
        Duration::from_secs(secs)
    }

    #[test]
    fn size_zero_gives_two_and_two() {
        assert_eq!(Bounds::for_size(0, &conf()), Bounds { shortest: s(2), longest: s(2) });
    }

    #[test]
    fn hundred_gib_at_ten_gbit() {
        // expected = 107374182400 / 1.25e9 = 85.9 s: shortest = min(max(21.5, 2), 10) = 10,
        // longest = max(10, min(90, 343)) = 90.
        let b = Bounds::for_size(100 * GIB, &conf());
        assert_eq!(b, Bounds { shortest: s(10), longest: s(90) });
    }

    #[test]
    fn longest_is_capped_by_half_the_max_wait() {
        for max in [10, 60, 180, 181, 1000] {
            let c = LockPollConfig { max_cold_wait: s(max), ..conf() };
            let b = Bounds::for_size(u64::MAX, &c);
            assert_eq!(b.longest, s(max / 2).max(b.shortest), "max_cold_wait {max}");
        }
    }

    #[test]
    fn mid_sized_object_scales_both_bounds() {
        // 10 GB at 1.25e9 B/s: expected 8 s → shortest = max(2, 2) = 2, longest = min(90, 32) = 32.
        let b = Bounds::for_size(10_000_000_000, &conf());
        assert_eq!(b, Bounds { shortest: s(2), longest: s(32) });
        // 40 GB: expected 32 s → shortest 8 s (fractional values are kept), longest 90.
        let b = Bounds::for_size(40_000_000_000, &conf());
        assert_eq!(b, Bounds { shortest: s(8), longest: s(90) });
    }

    #[test]
    fn zero_bandwidth_means_default() {
        let c = LockPollConfig { est_bandwidth_bps: 0, ..conf() };
        assert_eq!(Bounds::for_size(100 * GIB, &c), Bounds::for_size(100 * GIB, &conf()));
    }

    #[test]
    fn sleeps_double_within_bounds() {
        let b = Bounds::for_size(100 * GIB, &conf());
        let got: Vec<u64> = (1..=8).map(|k| b.sleep_after(k, None).as_secs()).collect();
        assert_eq!(got, [10, 10, 10, 16, 32, 64, 90, 90]);
    }

    #[test]
    fn schedule_never_exceeds_max_cold_wait() {
        let b = Bounds::for_size(100 * GIB, &conf());
        let sleeps: Vec<u64> = Schedule::new(b, &conf(), 0).map(|d| d.as_secs()).collect();
        // 10+10+10+16+32+64 = 142, then 38 left of 180.
        assert_eq!(sleeps, [10, 10, 10, 16, 32, 64, 38]);
        assert_eq!(sleeps.iter().sum::<u64>(), 180);
    }

    #[test]
    fn jittered_schedule_stays_in_bounds_and_is_reproducible() {
        let c = LockPollConfig { jitter: true, ..conf() };
        let b = Bounds::for_size(100 * GIB, &c);
        let a: Vec<_> = Schedule::new(b, &c, 9).collect();
        assert_eq!(a, Schedule::new(b, &c, 9).collect::<Vec<_>>());
        assert_ne!(a, Schedule::new(b, &c, 10).collect::<Vec<_>>());
        let total: Duration = a.iter().sum();
        assert!(total <= c.max_cold_wait);
        for (k, d) in a.iter().enumerate().take(a.len() - 1) {
            assert!(*d >= b.shortest && *d <= b.sleep_after(k as u32 + 1, None));
        }
    }
}
