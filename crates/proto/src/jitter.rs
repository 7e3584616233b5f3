//! Seeded randomness: jitter for backoffs, and a seed per call for clients.

use std::sync::atomic::{AtomicU64, Ordering};

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

/// One seed per call, drawn from a client's seed: call `n` (0, 1, …) gets the first
/// [`Jitter`] output for `seed + n`.
///
/// A client that runs a machine per call seeds each one from here, so concurrent calls do not
/// jitter in lockstep, while a client built with a fixed seed replays every call's seed. Draws
/// are numbered in the order they happen; the sequence is the same whoever draws, from any
/// number of threads (share it behind an `Arc`).
///
/// ```
/// use stowage_proto::{Jitter, Seeds};
///
/// let seeds = Seeds::new(7);
/// let first = seeds.draw();
/// assert_ne!(seeds.draw(), first);
/// assert_eq!(first, Jitter::from_seed(7).next_u64());
/// assert_eq!(Seeds::new(7).draw(), first, "a fixed seed replays");
/// ```
#[derive(Debug)]
pub struct Seeds {
    seed: u64,
    /// Seeds drawn so far: the number of the next call.
    drawn: AtomicU64,
}

impl Seeds {
    /// The seeds of `seed`, none drawn yet.
    pub const fn new(seed: u64) -> Self {
        Seeds { seed, drawn: AtomicU64::new(0) }
    }

    /// The next call's seed.
    pub fn draw(&self) -> u64 {
        let n = self.drawn.fetch_add(1, Ordering::Relaxed);
        Jitter::from_seed(self.seed.wrapping_add(n)).next_u64()
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

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

    #[test]
    fn every_call_draws_a_different_seed() {
        let seeds = Seeds::new(7);
        let drawn: Vec<u64> = (0..100).map(|_| seeds.draw()).collect();
        let mut unique = drawn.clone();
        unique.sort_unstable();
        unique.dedup();
        assert_eq!(unique.len(), drawn.len());
        let again = Seeds::new(7);
        assert_eq!(again.draw(), drawn[0], "a fixed seed is reproducible");
    }

    proptest! {
        /// Draw `n` is the first output of `Jitter` seeded with `seed + n`, wrapping.
        #[test]
        fn draws_follow_the_model(seed: u64, calls in 1usize..64) {
            let seeds = Seeds::new(seed);
            for n in 0..calls as u64 {
                prop_assert_eq!(seeds.draw(), Jitter::from_seed(seed.wrapping_add(n)).next_u64());
            }
        }
    }
}
