//! What an owner asks for: a [`Request`] of some [`Names`] at one [`Level`], in one [`LockMode`].

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use stowage_proto::Instant;

use crate::Level;
use crate::slab::Key;

/// A lock name. Reference-counted so that events and the monitor share it with the lock.
pub type Name = Arc<str>;

/// The priority of a request when none is given; lower numbers are more urgent (Ganeti jobs use
/// −20 … 19).
pub const DEFAULT_PRIORITY: i32 = 0;

/// A request that would have to wait with less than this left before its deadline fails at
/// once instead of queuing (Ganeti's `_LOCK_ACQUIRE_MIN_TIMEOUT`).
pub const MIN_TIMEOUT: Duration = Duration::from_millis(1);

/// Whoever holds locks: a job, a task, a thread. Not recursive: an owner never holds a lock
/// twice, and has at most one request in progress.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Owner(pub u64);

impl fmt::Display for Owner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "owner#{}", self.0)
    }
}

/// Identifies one [`Request`]; ids are handed out 0, 1, 2, … and never reused.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct LockRequestId(pub u64);

impl fmt::Display for LockRequestId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "lock-req#{}", self.0)
    }
}

/// How a lock is held.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum LockMode {
    /// Any number of sharers, no exclusive owner.
    Shared,
    /// One owner, no sharers.
    Exclusive,
}

/// Which locks of a level a request wants.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Names {
    /// Every lock of the level, plus the level's set lock in the same mode (so that no lock
    /// can be added meanwhile). Locks removed while the request waits are skipped.
    All,
    /// Exactly these (sorted and deduplicated by the machine). Every name must exist when
    /// asked; a lock deleted before it is got fails the request.
    Exact(Vec<Name>),
}

/// One acquisition: build with [`Request::exclusive`], [`Request::shared`] or [`Request::all`],
/// then refine with [`priority`](Request::priority), [`deadline`](Request::deadline) and
/// [`opportunistic`](Request::opportunistic).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Request {
    /// Who asks.
    pub owner: Owner,
    /// Where.
    pub level: Level,
    /// Which locks.
    pub names: Names,
    /// How.
    pub mode: LockMode,
    /// Lower is more urgent; [`DEFAULT_PRIORITY`] unless set.
    pub priority: i32,
    /// When to give up on the whole set (`None`: never, except when a lock is deleted).
    pub deadline: Option<Instant>,
    /// `Some(min)`: take whichever of the locks are free right now, never queuing on one, and
    /// be granted as soon as at least `min` can be had at once (Ganeti's opportunistic mode,
    /// with later Ganeti's minimum count).
    pub opportunistic: Option<usize>,
}

impl Request {
    /// `names` at `level`, exclusively.
    pub fn exclusive<N: Into<Name>>(owner: Owner, level: Level, names: impl IntoIterator<Item = N>) -> Self {
        Request::new(owner, level, Names::Exact(names.into_iter().map(Into::into).collect()), LockMode::Exclusive)
    }

    /// `names` at `level`, shared.
    pub fn shared<N: Into<Name>>(owner: Owner, level: Level, names: impl IntoIterator<Item = N>) -> Self {
        Request::new(owner, level, Names::Exact(names.into_iter().map(Into::into).collect()), LockMode::Shared)
    }

    /// Every lock at `level` (and the level's set lock) in `mode`.
    pub fn all(owner: Owner, level: Level, mode: LockMode) -> Self {
        Request::new(owner, level, Names::All, mode)
    }

    /// A request with the default priority, no deadline, not opportunistic.
    pub fn new(owner: Owner, level: Level, names: Names, mode: LockMode) -> Self {
        Request { owner, level, names, mode, priority: DEFAULT_PRIORITY, deadline: None, opportunistic: None }
    }

    /// Sets the priority (lower is more urgent).
    #[must_use]
    pub fn priority(mut self, priority: i32) -> Self {
        self.priority = priority;
        self
    }

    /// Gives up on the whole set at `deadline`.
    #[must_use]
    pub fn deadline(mut self, deadline: Instant) -> Self {
        self.deadline = Some(deadline);
        self
    }

    /// Takes only locks that are free now; granted once at least `min` of them can be had.
    #[must_use]
    pub fn opportunistic(mut self, min: usize) -> Self {
        self.opportunistic = Some(min);
        self
    }
}

/// One named lock, looked up once with [`Locks::lock_ref`](crate::Locks::lock_ref) to be asked
/// for again and again with [`Locks::request_lock`](crate::Locks::request_lock): no name
/// lookup and no name list per request.
///
/// Holds where the lock lives and its name. Stale once the lock is removed: a lock added again
/// under the same name is another lock, to be looked up again.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct LockRef {
    pub(crate) level: Level,
    pub(crate) key: Key,
    pub(crate) name: Name,
}

impl LockRef {
    /// The lock's level.
    pub fn level(&self) -> Level {
        self.level
    }

    /// The lock's name.
    pub fn name(&self) -> &Name {
        &self.name
    }
}

/// How [`Locks::request_lock`](crate::Locks::request_lock) answered.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[must_use]
pub enum Requested {
    /// The lock was free to take: it is held now, and no event follows for this request.
    Granted(LockRequestId),
    /// The request is in progress (or already ended, timed out for lack of time): its end comes
    /// out of [`poll_output`](crate::Locks::poll_output) as for any request.
    Pending(LockRequestId),
}
