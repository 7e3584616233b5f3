//! The durations of recently finished ranges, and their median (for hedging).

use std::time::Duration;

/// How many durations are kept: the most recent ones.
const KEPT: usize = 32;

/// The last [`KEPT`] range durations, in nanoseconds.
///
/// Invariant: `len <= KEPT`; the first `len` entries of `values` (in ring order) are samples.
#[derive(Clone, Debug)]
pub(crate) struct Samples {
    values: [u64; KEPT],
    len: usize,
    next: usize,
    /// Samples recorded in total.
    total: u64,
}

impl Default for Samples {
    fn default() -> Self {
        Samples { values: [0; KEPT], len: 0, next: 0, total: 0 }
    }
}

impl Samples {
    /// Records one duration, replacing the oldest once full.
    pub(crate) fn push(&mut self, duration: Duration) {
        self.values[self.next] = u64::try_from(duration.as_nanos()).unwrap_or(u64::MAX);
        self.next = (self.next + 1) % KEPT;
        self.len = (self.len + 1).min(KEPT);
        self.total = self.total.saturating_add(1);
    }

    /// Samples recorded in total (not only those kept).
    pub(crate) fn total(&self) -> u64 {
        self.total
    }

    /// The median of the kept samples (the upper one of an even count); `None` when empty.
    pub(crate) fn median(&self) -> Option<Duration> {
        if self.len == 0 {
            return None;
        }
        let mut sorted = self.values;
        let kept = &mut sorted[..self.len];
        let middle = kept.len() / 2;
        let (_, median, _) = kept.select_nth_unstable(middle);
        Some(Duration::from_nanos(*median))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn median_of_the_most_recent() {
        let mut samples = Samples::default();
        assert_eq!(samples.median(), None);
        for ms in [5, 1, 3] {
            samples.push(Duration::from_millis(ms));
        }
        assert_eq!(samples.median(), Some(Duration::from_millis(3)));
        for _ in 0..KEPT {
            samples.push(Duration::from_millis(10));
        }
        assert_eq!(samples.median(), Some(Duration::from_millis(10)));
        assert_eq!(samples.total(), 3 + KEPT as u64);
    }
}
