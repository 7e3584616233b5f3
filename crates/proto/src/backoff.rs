//! Exponential backoff, as tenacity's `wait_exponential` and `wait_random_exponential` define it.

use std::time::Duration;

use crate::Jitter;

/// Exponential backoff: after attempt `k` (1-based) wait `clamp(multiplier · 2^(k−1), min, max)`.
///
/// This is tenacity's `wait_exponential(multiplier, min, max)`, the schedule both reference
/// SDKs build their retries on. [`Backoff::jittered`] is `wait_random_exponential`: a uniform
/// draw between `min` and that delay.
///
/// Invariants: every delay lies in `[min, max.max(min)]`; [`Backoff::delay`] is non-decreasing
/// in `k`; no input (a huge `k`, a zero or non-finite multiplier) panics.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Backoff {
    /// The delay after the first attempt, before clamping (seconds).
    pub multiplier: f64,
    /// The shortest delay.
    pub min: Duration,
    /// The longest delay (if below `min`, `min` wins, as in tenacity).
    pub max: Duration,
}

/// Exponents past this are already far beyond any `Duration`; capping keeps `powi` finite.
const MAX_EXPONENT: u32 = 1_000;

impl Backoff {
    /// The nominal delay after attempt `attempt` (1-based; 0 is treated as 1).
    #[inline]
    pub fn delay(&self, attempt: u32) -> Duration {
        secs_to_duration(self.delay_secs(attempt))
    }

    /// A delay drawn uniformly from `[min, delay(attempt)]` (full jitter above the floor).
    #[inline]
    pub fn jittered(&self, attempt: u32, jitter: &mut Jitter) -> Duration {
        let high = self.delay_secs(attempt);
        secs_to_duration(jitter.uniform(self.min.as_secs_f64(), high))
    }

    #[inline]
    fn delay_secs(&self, attempt: u32) -> f64 {
        let exponent = attempt.saturating_sub(1).min(MAX_EXPONENT);
        let exponent = i32::try_from(exponent).unwrap_or(i32::MAX);
        let raw = self.multiplier * 2f64.powi(exponent);
        let raw = if raw.is_nan() { 0.0 } else { raw };
        let (min, max) = (self.min.as_secs_f64(), self.max.as_secs_f64());
        min.max(raw.min(max))
    }
}

/// Seconds as a `Duration`, saturating: negative or NaN → zero, too large → `Duration::MAX`.
#[inline]
pub(crate) fn secs_to_duration(secs: f64) -> Duration {
    if secs.is_nan() || secs <= 0.0 {
        return Duration::ZERO;
    }
    Duration::try_from_secs_f64(secs).unwrap_or(Duration::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secs(s: u64) -> Duration {
        Duration::from_secs(s)
    }

    #[test]
    fn doubles_then_caps() {
        let b = Backoff { multiplier: 2.0, min: secs(2), max: secs(10) };
        let got: Vec<_> = (1..=5).map(|k| b.delay(k)).collect();
        assert_eq!(got, [secs(2), secs(4), secs(8), secs(10), secs(10)]);
    }

    #[test]
    fn min_wins_over_max() {
        let b = Backoff { multiplier: 1.0, min: secs(5), max: secs(1) };
        assert_eq!(b.delay(1), secs(5));
    }

    #[test]
    fn huge_attempts_do_not_overflow() {
        let b = Backoff { multiplier: 1.0, min: secs(1), max: secs(30) };
        assert_eq!(b.delay(u32::MAX), secs(30));
        let inf = Backoff { multiplier: f64::INFINITY, min: secs(1), max: Duration::MAX };
        assert_eq!(inf.delay(3), Duration::MAX);
        let nan = Backoff { multiplier: f64::NAN, min: secs(1), max: secs(3) };
        assert_eq!(nan.delay(3), secs(1));
    }

    #[test]
    fn jittered_stays_between_min_and_nominal() {
        let b = Backoff { multiplier: 1.0, min: secs(1), max: secs(30) };
        let mut j = Jitter::from_seed(42);
        for k in 1..20 {
            let d = b.jittered(k, &mut j);
            assert!(d >= secs(1) && d <= b.delay(k), "attempt {k}: {d:?}");
        }
    }
}
