//! One shared/exclusive lock (Ganeti's `SharedLock`): its holders and its queue.

use std::collections::BTreeMap;

use crate::{Level, LockMode, LockRequestId, Name, Owner};

/// Where a waiting request sits in a lock's queue: priority, then arrival.
pub(crate) type Position = (i32, u64);

/// One lock.
///
/// Invariants: never an exclusive holder together with sharers; a lock without holders has an
/// empty queue (whenever the last holder leaves, the top of the queue is granted); `waiters` is
/// `None` when there is neither a queue nor a watcher (so an idle lock costs no allocation).
#[derive(Debug)]
pub(crate) struct Lock {
    /// `None` for a level's set lock.
    pub(crate) name: Option<Name>,
    pub(crate) level: Level,
    pub(crate) exclusive: Option<Owner>,
    pub(crate) sharers: u32,
    pub(crate) waiters: Option<Box<Waiters>>,
}

/// The queue of a contended lock, and the opportunistic requests watching it.
#[derive(Debug, Default)]
pub(crate) struct Waiters {
    /// Entries by priority, then arrival; only the first may be granted.
    pub(crate) queue: BTreeMap<Position, Entry>,
    /// Per priority, the shared group later shared requests of that priority join (absent once
    /// it has been granted).
    pub(crate) open_shared: BTreeMap<i32, u64>,
    next_seq: u64,
    /// Parked opportunistic requests to retry when the lock comes free: (request, index of this
    /// lock among its names). Stale entries are skipped and dropped.
    pub(crate) watchers: Vec<(LockRequestId, usize)>,
}

/// One queue entry: an exclusive request, or a group of shared requests granted together.
///
/// Invariant: `live` counts the members still waiting here; `members` also keeps those that
/// left (skipped when the entry is granted, compacted when they dominate); an entry with no
/// live member is removed.
#[derive(Debug)]
pub(crate) struct Entry {
    pub(crate) mode: LockMode,
    pub(crate) members: Vec<LockRequestId>,
    pub(crate) live: u32,
}

impl Lock {
    pub(crate) fn new(name: Option<Name>, level: Level) -> Self {
        Lock { name, level, exclusive: None, sharers: 0, waiters: None }
    }

    #[inline]
    pub(crate) fn is_free(&self) -> bool {
        self.exclusive.is_none() && self.sharers == 0
    }

    #[inline]
    fn compatible(&self, mode: LockMode) -> bool {
        match mode {
            LockMode::Shared => self.exclusive.is_none(),
            LockMode::Exclusive => self.is_free(),
        }
    }

    #[inline]
    pub(crate) fn has_queue(&self) -> bool {
        self.waiters.as_ref().is_some_and(|w| !w.queue.is_empty())
    }

    /// Whether a newcomer may take the lock at once: nobody queued (no barging) and the mode fits.
    #[inline]
    pub(crate) fn can_take(&self, mode: LockMode) -> bool {
        !self.has_queue() && self.compatible(mode)
    }

    #[inline]
    pub(crate) fn hold(&mut self, owner: Owner, mode: LockMode) {
        match mode {
            LockMode::Shared => self.sharers += 1,
            LockMode::Exclusive => self.exclusive = Some(owner),
        }
    }

    /// Drops one holding; true when the lock is now free.
    #[inline]
    pub(crate) fn unhold(&mut self, mode: LockMode) -> bool {
        match mode {
            LockMode::Shared => self.sharers = self.sharers.saturating_sub(1),
            LockMode::Exclusive => self.exclusive = None,
        }
        self.is_free()
    }

    /// Queues `req`: shared requests join the open group of their priority if there is one.
    pub(crate) fn enqueue(&mut self, req: LockRequestId, mode: LockMode, priority: i32) -> Position {
        let waiters = self.waiters.get_or_insert_with(Box::default);
        if mode == LockMode::Shared
            && let Some(&seq) = waiters.open_shared.get(&priority)
            && let Some(entry) = waiters.queue.get_mut(&(priority, seq))
        {
            entry.members.push(req);
            entry.live += 1;
            return (priority, seq);
        }
        let seq = waiters.next_seq;
        waiters.next_seq += 1;
        waiters.queue.insert((priority, seq), Entry { mode, members: vec![req], live: 1 });
        if mode == LockMode::Shared {
            waiters.open_shared.insert(priority, seq);
        }
        (priority, seq)
    }

    /// Takes one waiting member out of the entry at `pos`; the entry goes when it is empty.
    /// `is_live` tells which members still wait there (for compaction).
    pub(crate) fn dequeue(&mut self, pos: Position, is_live: impl Fn(LockRequestId) -> bool) {
        let Some(waiters) = self.waiters.as_mut() else { return };
        let Some(entry) = waiters.queue.get_mut(&pos) else { return };
        entry.live = entry.live.saturating_sub(1);
        if entry.live == 0 {
            waiters.queue.remove(&pos);
            if waiters.open_shared.get(&pos.0) == Some(&pos.1) {
                waiters.open_shared.remove(&pos.0);
            }
        } else if entry.members.len() > 2 * entry.live as usize + 8 {
            entry.members.retain(|&m| is_live(m));
        }
        self.tidy();
    }

    /// Takes the top entry out of the queue.
    pub(crate) fn pop_top(&mut self) -> Option<(Position, Entry)> {
        let waiters = self.waiters.as_mut()?;
        let (pos, entry) = waiters.queue.pop_first()?;
        if waiters.open_shared.get(&pos.0) == Some(&pos.1) {
            waiters.open_shared.remove(&pos.0);
        }
        self.tidy();
        Some((pos, entry))
    }

    /// On a downgrade: takes out the open shared group of the most urgent queued priority.
    pub(crate) fn pop_top_priority_group(&mut self) -> Option<(Position, Entry)> {
        let waiters = self.waiters.as_mut()?;
        let (&(priority, _), _) = waiters.queue.first_key_value()?;
        let seq = waiters.open_shared.remove(&priority)?;
        let entry = waiters.queue.remove(&(priority, seq))?;
        self.tidy();
        Some(((priority, seq), entry))
    }

    /// Adds a watcher, dropping stale ones when the list has grown.
    pub(crate) fn watch(&mut self, req: LockRequestId, index: usize, is_live: impl Fn(LockRequestId, usize) -> bool) {
        let waiters = self.waiters.get_or_insert_with(Box::default);
        let len = waiters.watchers.len();
        if len >= 64 && len.is_power_of_two() {
            waiters.watchers.retain(|&(r, i)| is_live(r, i));
        }
        waiters.watchers.push((req, index));
    }

    pub(crate) fn take_watchers(&mut self) -> Vec<(LockRequestId, usize)> {
        let watchers = self.waiters.as_mut().map(|w| std::mem::take(&mut w.watchers)).unwrap_or_default();
        self.tidy();
        watchers
    }

    /// Frees the queue allocation once nothing is left in it.
    pub(crate) fn tidy(&mut self) {
        if self.waiters.as_ref().is_some_and(|w| w.queue.is_empty() && w.watchers.is_empty()) {
            self.waiters = None;
        }
    }
}
