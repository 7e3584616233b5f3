//! Seeded randomness for jittered backoff.

/// A deterministic source of jitter: SplitMix64 over a caller-given seed.
///
/// Machines draw no randomness of their own; where a rule calls for a random delay, the caller
/// hands in a `Jitter` (seeded from wherever it likes — the OS in production, a constant in
/// tests). The same seed gives the same sequence on every platform.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Jitter {
    state: u64,
}

impl Jitter {
    /// A jitter source seeded with `seed`.
    pub const fn from_seed(seed: u64) -> Self {
        Jitter { state: seed }
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.state = self.state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A uniform draw from `[0, 1)`.
    pub fn next_unit(&mut self) -> f64 {
        // 53 random bits scaled into [0, 1).
        (self.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
    }

    /// A uniform draw from `[low, high]` (returns `low` when `high <= low` or either is not finite).
    pub fn uniform(&mut self, low: f64, high: f64) -> f64 {
        if !(low.is_finite() && high.is_finite()) || high <= low {
            return low;
        }
        (low + (high - low) * self.next_unit()).clamp(low, high)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_seed_same_sequence() {
        let mut a = Jitter::from_seed(7);
        let mut b = Jitter::from_seed(7);
        for _ in 0..100 {
            assert_eq!(a.next_u64(), b.next_u64());
        }
    }

    #[test]
    fn uniform_stays_in_range() {
        let mut j = Jitter::from_seed(1);
        for _ in 0..10_000 {
            let x = j.uniform(2.0, 5.0);
            assert!((2.0..=5.0).contains(&x));
        }
        assert_eq!(j.uniform(3.0, 1.0), 3.0);
        assert_eq!(j.uniform(1.0, f64::INFINITY), 1.0);
    }
}
