//! What [`Locks::monitor`](crate::Locks::monitor) reports (Ganeti's lock monitor).

use crate::{Level, LockMode, Name, Owner};

/// One lock as the monitor sees it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LockInfo {
    /// Its level.
    pub level: Level,
    /// Its name; `None` for the level's set lock.
    pub name: Option<Name>,
    /// How it is held; `None` when free.
    pub mode: Option<LockMode>,
    /// Who holds it, sorted.
    pub owners: Vec<Owner>,
    /// Who waits for it, in queue order: one entry per exclusive request or shared group.
    pub pending: Vec<PendingInfo>,
}

/// One queue entry of a lock: an exclusive request, or a group of shared ones.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PendingInfo {
    /// The mode wanted.
    pub mode: LockMode,
    /// The owners waiting, in arrival order.
    pub owners: Vec<Owner>,
}
