//! The idle-streak condition (Go's `xact.snapsIdle`, the SDK's `_IdleStreak`).

use stowage_proto::ais::job::Snapshots;

/// Counts consecutive polls on which every snapshot is idle (or aborted).
///
/// [`IdleStreak::observe`] one poll's snapshots: any aborted → done at once; all idle or
/// aborted → the streak grows, done once it reaches `needed`; otherwise the streak resets. A
/// poll with no snapshots changes nothing ("no info yet").
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct IdleStreak {
    count: u32,
    needed: u32,
}

impl IdleStreak {
    /// A streak that is done after `needed` consecutive all-idle polls (0 behaves as 1).
    pub const fn new(needed: u32) -> Self {
        IdleStreak { count: 0, needed }
    }

    /// The current streak.
    pub const fn count(&self) -> u32 {
        self.count
    }

    /// Takes one poll's snapshots into account; true when the wait is done.
    pub fn observe(&mut self, snapshots: &Snapshots) -> bool {
        if snapshots.is_empty() {
            return false;
        }
        if snapshots.any_aborted() {
            return true;
        }
        if snapshots.all_idle() {
            self.count = self.count.saturating_add(1);
            return self.count >= self.needed;
        }
        self.count = 0;
        false
    }
}
