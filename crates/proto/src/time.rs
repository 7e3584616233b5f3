//! Time as data: an [`Instant`] is a count of nanoseconds since an epoch the driver chooses.

use std::fmt;
use std::time::Duration;

/// A point in time, in nanoseconds since an epoch chosen by whoever drives the machine.
///
/// Machines never read a clock: drivers convert their runtime's clock into an `Instant`
/// (typically nanoseconds since the driver started), tests and fuzzers make them up.
/// All arithmetic saturates, so no `Instant` value can make a machine panic.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Instant(u64);

impl Instant {
    /// The epoch itself.
    pub const ZERO: Instant = Instant(0);
    /// The latest representable instant (about 584 years after the epoch).
    pub const MAX: Instant = Instant(u64::MAX);

    /// The instant `nanos` nanoseconds after the epoch.
    pub const fn from_nanos(nanos: u64) -> Self {
        Instant(nanos)
    }

    /// The instant `elapsed` after the epoch, saturating at [`Instant::MAX`].
    pub fn from_elapsed(elapsed: Duration) -> Self {
        Instant(u64::try_from(elapsed.as_nanos()).unwrap_or(u64::MAX))
    }

    /// Nanoseconds since the epoch.
    pub const fn as_nanos(self) -> u64 {
        self.0
    }

    /// Time since the epoch.
    pub const fn elapsed_since_epoch(self) -> Duration {
        Duration::from_nanos(self.0)
    }

    /// `self + d`, saturating at [`Instant::MAX`].
    pub fn saturating_add(self, d: Duration) -> Self {
        self.checked_add(d).unwrap_or(Instant::MAX)
    }

    /// `self + d`, or `None` past [`Instant::MAX`].
    pub fn checked_add(self, d: Duration) -> Option<Self> {
        let nanos = u64::try_from(d.as_nanos()).ok()?;
        self.0.checked_add(nanos).map(Instant)
    }

    /// Time from `earlier` to `self`, zero when `earlier` is later.
    pub const fn saturating_duration_since(self, earlier: Instant) -> Duration {
        Duration::from_nanos(self.0.saturating_sub(earlier.0))
    }
}

impl fmt::Display for Instant {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "t+{:?}", self.elapsed_since_epoch())
    }
}

/// A monotonic view of the `now` values a machine is handed.
///
/// Drivers are supposed to pass non-decreasing times, but a machine must not misbehave when a
/// caller (or a fuzzer) passes time going backwards. `Clock` remembers the latest `now` seen and
/// answers that instead of anything earlier.
///
/// Invariant: [`Clock::observe`] never returns a value smaller than one it returned before.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Clock {
    latest: Instant,
}

impl Clock {
    /// A clock that has seen `start`.
    pub const fn starting_at(start: Instant) -> Self {
        Clock { latest: start }
    }

    /// Records `now` and returns the latest instant seen so far.
    #[inline]
    pub fn observe(&mut self, now: Instant) -> Instant {
        self.latest = self.latest.max(now);
        self.latest
    }

    /// The latest instant seen so far.
    pub const fn latest(&self) -> Instant {
        self.latest
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arithmetic_saturates() {
        assert_eq!(Instant::MAX.saturating_add(Duration::from_secs(1)), Instant::MAX);
        assert_eq!(Instant::ZERO.saturating_add(Duration::MAX), Instant::MAX);
        assert_eq!(Instant::ZERO.saturating_duration_since(Instant::from_nanos(5)), Duration::ZERO);
        assert_eq!(Instant::from_elapsed(Duration::MAX), Instant::MAX);
    }

    #[test]
    fn clock_never_goes_backwards() {
        let mut clock = Clock::starting_at(Instant::from_nanos(10));
        assert_eq!(clock.observe(Instant::from_nanos(5)), Instant::from_nanos(10));
        assert_eq!(clock.observe(Instant::from_nanos(20)), Instant::from_nanos(20));
        assert_eq!(clock.observe(Instant::from_nanos(15)), Instant::from_nanos(20));
    }
}
