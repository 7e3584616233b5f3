//! Calls that do not fit the state: typed errors, never panics. A refused call changes nothing.

use crate::{Level, LockRequestId, Name, Owner};

/// Why a call was refused. The machine is left exactly as it was.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum LockError {
    /// An exact request (or a release, downgrade) named a lock the level does not have.
    #[error("no lock {name} at level {level}")]
    UnknownLock {
        /// The level.
        level: Level,
        /// The name.
        name: Name,
    },
    /// A [`LockRef`](crate::LockRef) to a lock removed since it was looked up.
    #[error("lock {name} at level {level} was removed after it was looked up")]
    StaleLock {
        /// The level.
        level: Level,
        /// The name.
        name: Name,
    },
    /// The owner already holds locks at this level: all locks of one level are asked for together.
    #[error("{owner} already holds locks at level {level}")]
    DoubleAcquire {
        /// Who asked.
        owner: Owner,
        /// The level.
        level: Level,
    },
    /// The owner holds a lock at a later level than the one asked for.
    #[error("{owner} asked for level {requested} while holding level {held}")]
    LevelOrder {
        /// Who asked.
        owner: Owner,
        /// The level asked for.
        requested: Level,
        /// The latest level held.
        held: Level,
    },
    /// Any level but the cluster level needs the Big Ganeti Lock held first.
    #[error("{owner} must hold the BGL before using level {level}")]
    BglNotHeld {
        /// Who asked.
        owner: Owner,
        /// The level.
        level: Level,
    },
    /// The BGL cannot be released while locks of other levels are held.
    #[error("{owner} cannot release the BGL while holding level {held}")]
    BglStillNeeded {
        /// Who asked.
        owner: Owner,
        /// The latest level held.
        held: Level,
    },
    /// Releasing or downgrading a lock the owner does not hold.
    #[error("{owner} does not hold {} at level {level}", name.as_deref().unwrap_or("anything"))]
    NotHeld {
        /// Who asked.
        owner: Owner,
        /// The level.
        level: Level,
        /// The lock (`None`: nothing at all at this level).
        name: Option<Name>,
    },
    /// The owner has a request in progress; it must end (or be cancelled) first.
    #[error("{owner} has {req} in progress")]
    OwnerBusy {
        /// Who asked.
        owner: Owner,
        /// The request in progress.
        req: LockRequestId,
    },
    /// No request in progress has this id.
    #[error("no {0} in progress")]
    UnknownRequest(LockRequestId),
    /// Locks cannot be added to or removed from the cluster and node-alloc levels.
    #[error("level {0} is not modifiable")]
    NotModifiable(Level),
    /// Adding a name the level already has (or the same name twice).
    #[error("lock {name} already exists at level {level}")]
    DuplicateName {
        /// The level.
        level: Level,
        /// The name.
        name: Name,
    },
    /// Adding needs the level's set lock exclusively: held by the caller, or free to take.
    #[error("the set lock of level {0} is held or wanted by someone else")]
    SetLockBusy(Level),
    /// Adding (or removing) at a level of which the caller holds only part, or holds shared.
    #[error("{owner} holds level {level} only partly or shared")]
    PartlyOwned {
        /// Who asked.
        owner: Owner,
        /// The level.
        level: Level,
    },
    /// Removing a lock someone else holds (acquire it exclusively first).
    #[error("lock {name} at level {level} is held by someone else")]
    LockBusy {
        /// The level.
        level: Level,
        /// The name.
        name: Name,
    },
    /// Removing a lock one holds shared.
    #[error("cannot delete {name} at level {level} while sharing it")]
    DeleteWhileSharing {
        /// The level.
        level: Level,
        /// The name.
        name: Name,
    },
    /// An opportunistic minimum larger than the number of names asked for can never be met.
    #[error("opportunistic minimum {min} exceeds the {names} names asked for")]
    UnreachableMinimum {
        /// The minimum.
        min: usize,
        /// How many distinct names were asked for.
        names: usize,
    },
    /// More locks than the machine can address (2³²).
    #[error("too many locks")]
    TooManyLocks,
}
