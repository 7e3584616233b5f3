//! Progress events: what each poll saw, for a progress bar.

use std::time::Duration;

use stowage_proto::ais::job::Snapshots;

/// How many targets are in each state, by their snapshots of the job.
///
/// A target is *aborted* if any of its snapshots is; else *finished* if all have ended; else
/// *idle* if all are idle; else *running*. Targets that report nothing are not counted.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TargetCounts {
    /// Targets working on the job.
    pub running: u32,
    /// Targets idle.
    pub idle: u32,
    /// Targets where the job was aborted.
    pub aborted: u32,
    /// Targets where the job has ended.
    pub finished: u32,
}

impl TargetCounts {
    /// Counts the targets of `snapshots`.
    pub fn of(snapshots: &Snapshots) -> Self {
        let mut counts = TargetCounts::default();
        for target in snapshots.targets().iter().filter(|t| !t.snaps.is_empty()) {
            let snaps = &target.snaps;
            let slot = if snaps.iter().any(|s| s.is_aborted()) {
                &mut counts.aborted
            } else if snaps.iter().all(|s| s.has_ended()) {
                &mut counts.finished
            } else if snaps.iter().all(|s| s.is_idle) {
                &mut counts.idle
            } else {
                &mut counts.running
            };
            *slot = slot.saturating_add(1);
        }
        counts
    }
}

/// What one poll saw.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Progress {
    /// Polls so far, this one included.
    pub polls: u32,
    /// Time since the wait began.
    pub elapsed: Duration,
    /// Targets by state (`None` for a status poll, which does not report targets).
    pub targets: Option<TargetCounts>,
    /// Objects processed, summed over the snapshots' `stats` (`loc-objs`).
    pub objects: u64,
    /// Bytes processed, summed over the snapshots' `stats` (`loc-bytes`).
    pub bytes: u64,
    /// Consecutive all-idle polls so far (idle-streak waits).
    pub idle_streak: u32,
}

impl Progress {
    /// A snapshot poll's progress.
    pub(crate) fn of_snapshots(polls: u32, elapsed: Duration, snapshots: &Snapshots, idle_streak: u32) -> Self {
        let stats = || snapshots.iter().filter_map(|s| s.stats);
        let sum = |values: &mut dyn Iterator<Item = i64>| {
            values.fold(0u64, |acc, v| acc.saturating_add(u64::try_from(v).unwrap_or(0)))
        };
        Progress {
            polls,
            elapsed,
            targets: Some(TargetCounts::of(snapshots)),
            objects: sum(&mut stats().map(|s| s.objects)),
            bytes: sum(&mut stats().map(|s| s.bytes)),
            idle_streak,
        }
    }
}
