//! [`Locks`]: the lock manager — every level's locks, the owners, the requests in progress.

use std::collections::{BTreeMap, BTreeSet, VecDeque};

use stowage_proto::{Clock, Instant};

use crate::hash::FastMap;
use crate::holdings::Holdings;
use crate::lock::{Entry, Lock, Position};
use crate::slab::{Key, Slab};
use crate::{
    BGL, Event, FailReason, Level, LockError, LockMode, LockRef, LockRequestId, MIN_TIMEOUT, NAL, Name, Names, Owner,
    Request, Requested,
};

/// The locks of one level: its set lock, and its named locks in name order.
#[derive(Debug)]
struct LevelSet {
    set_lock: Key,
    names: BTreeMap<Name, Key>,
}

/// What an owner holds and whether it has a request in progress.
///
/// Holdings are kept per level ([`Holdings`]: O(1) per lock, touched on every call). Nothing
/// iterates them where the order could show: callers sort by name where order matters.
///
/// Invariants: bit `i` of `levels` is set exactly when `held[i]` is not empty (so the level
/// checks of every request are a few bit operations); an owner that holds nothing and has
/// nothing in progress has no entry at all.
#[derive(Debug, Default)]
struct OwnerState {
    held: [Holdings; Level::ALL.len()],
    levels: u8,
    pending: Option<LockRequestId>,
}

impl OwnerState {
    #[inline]
    fn holds_at(&self, level: Level) -> bool {
        self.levels & (1 << level.index()) != 0
    }

    /// The latest level held strictly after `level`.
    #[inline]
    fn held_after(&self, level: Level) -> Option<Level> {
        let after = self.levels & !((2u8 << level.index()).wrapping_sub(1));
        let latest = (u8::BITS - 1).checked_sub(after.leading_zeros())?;
        Level::ALL.get(latest as usize).copied()
    }

    fn held_at(&self, level: Level) -> impl Iterator<Item = (Key, LockMode)> + '_ {
        self.held[level.index()].iter()
    }

    #[inline]
    fn mode(&self, level: Level, key: Key) -> Option<LockMode> {
        self.held[level.index()].get(key)
    }

    #[inline]
    fn insert(&mut self, level: Level, key: Key, mode: LockMode) {
        self.held[level.index()].insert(key, mode);
        self.levels |= 1 << level.index();
    }

    #[inline]
    fn remove(&mut self, level: Level, key: Key) -> Option<LockMode> {
        let mode = self.held[level.index()].remove(key);
        self.note_emptied(level);
        mode
    }

    /// Takes out the only lock held at `level`, if exactly one is.
    #[inline]
    fn take_single(&mut self, level: Level) -> Option<(Key, LockMode)> {
        let single = self.held[level.index()].take_single()?;
        self.note_emptied(level);
        Some(single)
    }

    #[inline]
    fn note_emptied(&mut self, level: Level) {
        if self.held[level.index()].is_empty() {
            self.levels &= !(1 << level.index());
        }
    }

    /// Whether this owner may ask for locks at `level` now: no request in progress, nothing
    /// held at `level` or later, the BGL held unless `level` is the cluster level.
    #[inline]
    fn may_take(&self, level: Level, bgl: Key) -> bool {
        self.pending.is_none()
            && self.levels >> level.index() == 0
            && (level == Level::Cluster || self.mode(Level::Cluster, bgl).is_some())
    }

    /// [`may_take`](OwnerState::may_take) for `owner`, with this state if it has one; a
    /// refusal says which rule, checked in that order.
    fn may_request(state: Option<&OwnerState>, owner: Owner, level: Level, bgl: Key) -> Result<(), LockError> {
        let Some(state) = state else {
            return match level {
                Level::Cluster => Ok(()),
                _ => Err(LockError::BglNotHeld { owner, level }),
            };
        };
        if state.may_take(level, bgl) {
            return Ok(());
        }
        if let Some(req) = state.pending {
            return Err(LockError::OwnerBusy { owner, req });
        }
        if state.holds_at(level) {
            return Err(LockError::DoubleAcquire { owner, level });
        }
        if let Some(held) = state.held_after(level) {
            return Err(LockError::LevelOrder { owner, requested: level, held });
        }
        Err(LockError::BglNotHeld { owner, level })
    }

    #[inline]
    fn is_idle(&self) -> bool {
        self.pending.is_none() && self.levels == 0
    }
}

/// A request in progress.
///
/// Invariants: `held` lists every lock it got so far (its owner holds them, in `mode`), the set
/// lock first; `got` names the named ones; in `Waiting` it is a live member of exactly one queue
/// entry, in `Parked` it watches each lock `i` with `watching[i]`.
#[derive(Debug)]
struct Pending {
    owner: Owner,
    level: Level,
    mode: LockMode,
    priority: i32,
    deadline: Option<Instant>,
    all: bool,
    set_held: bool,
    opportunistic: Option<usize>,
    /// The locks to take, sorted by name (for `All`: filled when the set lock is got).
    targets: Vec<(Name, Key)>,
    /// The next target to take (exact and `All` requests).
    next: usize,
    got: Vec<Name>,
    held: Vec<Key>,
    state: State,
}

#[derive(Debug)]
enum State {
    Running,
    Waiting { lock: Key, pos: Position },
    Parked { watching: Vec<bool> },
}

/// How a request ends.
enum End {
    Granted,
    TimedOut,
    Failed(FailReason),
    Cancelled,
}

/// Ganeti's lock manager as a sans-IO machine: shared/exclusive named locks at ordered
/// [`Level`]s, with priorities, FIFO fairness, deadlines, lock sets and a monitor.
///
/// Owners are ids ([`Owner`]), time is an argument. Calls ([`request`](Locks::request),
/// [`release`](Locks::release), [`downgrade`](Locks::downgrade), [`add`](Locks::add),
/// [`remove`](Locks::remove), [`cancel`](Locks::cancel)) change the state at once and return
/// what they must (a request id, the names removed) or a [`LockError`] that leaves the state
/// unchanged. A lock taken again and again can be looked up once ([`lock_ref`](Locks::lock_ref))
/// and asked for with [`request_lock`](Locks::request_lock), which answers a grant at once
/// itself. How requests end comes out of [`poll_output`](Locks::poll_output) as [`Event`]s;
/// [`poll_timeout`](Locks::poll_timeout) is the nearest deadline and
/// [`handle_timeout`](Locks::handle_timeout) expires what is due.
///
/// Every call taking `now` first expires the requests whose deadline is at or before `now`
/// (time going backwards counts as no time), then does its work, then grants whatever that
/// work freed, in order. Rules (Ganeti `locking.py`):
///
/// - A lock is taken at once only if nobody is queued and the mode fits (no barging).
/// - Otherwise the request queues by priority (lower first), then arrival. Shared requests of
///   one priority form one group, which later shared requests of that priority join until it
///   is granted; the whole group is granted at once.
/// - Only the top of a queue is granted, when the lock comes free (exclusive owner or last
///   sharer gone), or, on a downgrade, the shared group of the most urgent queued priority.
/// - A request that would have to wait with less than [`MIN_TIMEOUT`] before its deadline
///   times out at once. Deadlines cover the whole set; a request that ends without being
///   granted releases everything it got.
/// - The names of a request are taken one by one in sorted order (the set lock first for
///   [`Names::All`]), holding what it got while it waits for the next.
///
/// Invariants (checked by the property tests against a naive model): never an exclusive holder
/// with any other holder; a lock without holders has nobody queued; every request ends once;
/// after every owner released everything, nothing is held or pending.
///
/// Cost: O(log n) per call in the number of queued requests and locks, plus O(k) in the names
/// the call touches; memory is proportional to locks + requests (an uncontended lock
/// allocates nothing besides its name).
///
/// # Why calls rather than [`stowage_proto::Machine`]
///
/// `Machine::handle_input` returns `Result<(), Error>`, but a lock request must hand back its
/// id (the driver matches events with it), `remove` the names it removed, `monitor` a snapshot,
/// and each call has its own refusals. So the inputs are methods; the outputs keep the shape
/// and names of `Machine`: `poll_output`, `poll_timeout`, `handle_timeout`.
///
/// # Example
///
/// ```
/// use stowage_locks::{BGL, Event, Level, Locks, LockMode, Names, Owner, Request};
/// use stowage_proto::Instant;
///
/// let mut locks = Locks::new();
/// locks.register(Level::Node, ["node1", "node2"])?;
/// let t = Instant::ZERO;
/// let (a, b) = (Owner(1), Owner(2));
///
/// for owner in [a, b] {
///     locks.request(t, Request::shared(owner, Level::Cluster, [BGL]))?;
/// }
/// let ra = locks.request(t, Request::exclusive(a, Level::Node, ["node1", "node2"]))?;
/// // b wants node2 shared, with a deadline: it waits behind a.
/// let rb = locks.request(t, Request::shared(b, Level::Node, ["node2"]).deadline(Instant::from_nanos(5_000_000)))?;
///
/// let events: Vec<Event> = std::iter::from_fn(|| locks.poll_output()).collect();
/// assert_eq!(events.len(), 3); // the two BGLs and a's nodes
/// assert_eq!(events[2], Event::Granted { req: ra, names: vec!["node1".into(), "node2".into()] });
/// assert_eq!(locks.poll_timeout(), Some(Instant::from_nanos(5_000_000)));
///
/// locks.release(t, a, Level::Node, Names::All)?;
/// assert_eq!(locks.poll_output(), Some(Event::Granted { req: rb, names: vec!["node2".into()] }));
/// assert_eq!(locks.owned(b, Level::Node), vec![("node2".into(), LockMode::Shared)]);
/// # Ok::<(), stowage_locks::LockError>(())
/// ```
#[derive(Debug)]
pub struct Locks {
    clock: Clock,
    locks: Slab<Lock>,
    levels: Vec<LevelSet>,
    /// The BGL's key (the cluster level is not modifiable, so it never changes).
    bgl: Key,
    /// Owners holding or wanting something (iterated only by the monitor, which sorts).
    owners: FastMap<Owner, OwnerState>,
    requests: BTreeMap<LockRequestId, Pending>,
    deadlines: BTreeSet<(Instant, LockRequestId)>,
    next_req: u64,
    events: VecDeque<Event>,
    /// Locks that came free during the current call, to grant in order.
    freed: VecDeque<Key>,
}

impl Default for Locks {
    fn default() -> Self {
        Locks::new()
    }
}

impl Locks {
    /// A manager with every level's set lock, the [`BGL`] and the [`NAL`], and nothing else.
    pub fn new() -> Self {
        let mut locks = Slab::default();
        let levels: Vec<LevelSet> = Level::ALL
            .iter()
            .map(|&level| {
                let set_lock = locks.insert(Lock::new(None, level));
                let mut names = BTreeMap::new();
                let fixed = match level {
                    Level::Cluster => Some(BGL),
                    Level::NodeAlloc => Some(NAL),
                    _ => None,
                };
                if let Some(name) = fixed {
                    let name: Name = name.into();
                    names.insert(name.clone(), locks.insert(Lock::new(Some(name), level)));
                }
                LevelSet { set_lock, names }
            })
            .collect();
        let bgl = levels[Level::Cluster.index()].names.get(BGL).copied().unwrap_or(Key::MAX);
        Locks {
            clock: Clock::default(),
            locks,
            levels,
            bgl,
            owners: FastMap::default(),
            requests: BTreeMap::new(),
            deadlines: BTreeSet::new(),
            next_req: 0,
            events: VecDeque::new(),
            freed: VecDeque::new(),
        }
    }

    // ---- calls ------------------------------------------------------------------------------

    /// Registers free locks at a modifiable level, without an owner (to populate a manager).
    /// Refused for a duplicate name, or while anyone holds or waits for the level's set lock.
    pub fn register<N: Into<Name>>(
        &mut self,
        level: Level,
        names: impl IntoIterator<Item = N>,
    ) -> Result<(), LockError> {
        if !level.is_modifiable() {
            return Err(LockError::NotModifiable(level));
        }
        if !self.set_lock_free(level) {
            return Err(LockError::SetLockBusy(level));
        }
        let names = self.new_names(level, names)?;
        self.insert_locks(level, names, None);
        Ok(())
    }

    /// Asks for locks; the answer comes later as an [`Event`] (at once if nothing is in the way).
    ///
    /// Refused when the owner has a request in progress, already holds locks at this level or a
    /// later one, does not hold the BGL (for any level but [`Level::Cluster`]), names a lock the
    /// level does not have, or asks for an opportunistic minimum above the number of names.
    pub fn request(&mut self, now: Instant, request: Request) -> Result<LockRequestId, LockError> {
        let now = self.begin(now);
        let Request { owner, level, names, mode, priority, deadline, opportunistic } = request;
        let mut state = self.owners.get_mut(&owner);
        OwnerState::may_request(state.as_deref(), owner, level, self.bgl)?;
        let (all, targets) = match names {
            Names::All => (true, Vec::new()),
            Names::Exact(mut names) => {
                if names.len() > 1 {
                    names.sort_unstable();
                    names.dedup();
                }
                if let Some(min) = opportunistic
                    && min > names.len()
                {
                    return Err(LockError::UnreachableMinimum { min, names: names.len() });
                }
                let level_set = &self.levels[level.index()];
                if let [name] = names.as_slice()
                    && opportunistic.is_none()
                    && let Some(&key) = level_set.names.get(name)
                    && let Some(lock) = self.locks.get_mut(key)
                    && lock.can_take(mode)
                {
                    // The most common call, one free lock: granted with one owner lookup.
                    lock.hold(owner, mode);
                    match state.take() {
                        Some(state) => state.insert(level, key, mode),
                        None => self.owners.entry(owner).or_default().insert(level, key, mode),
                    }
                    return Ok(self.granted_at_once(names));
                }
                let mut keys = Vec::with_capacity(names.len());
                let mut free = true;
                for name in &names {
                    match level_set.names.get(name) {
                        Some(&key) => {
                            free &= self.locks.get(key).is_some_and(|l| l.can_take(mode));
                            keys.push(key);
                        }
                        None => return Err(LockError::UnknownLock { level, name: name.clone() }),
                    }
                }
                if free && opportunistic.is_none() {
                    return Ok(self.grant_at_once(owner, level, mode, names, &keys));
                }
                let targets = names.into_iter().zip(keys).collect();
                (false, targets)
            }
        };
        let id = self.next_request_id();
        self.owners.entry(owner).or_default().pending = Some(id);
        let pending = Pending {
            owner,
            level,
            mode,
            priority,
            deadline,
            all,
            set_held: false,
            opportunistic,
            targets,
            next: 0,
            got: Vec::new(),
            held: Vec::new(),
            state: State::Running,
        };
        self.advance(now, id, pending);
        if let Some(deadline) = deadline
            && self.requests.contains_key(&id)
        {
            self.deadlines.insert((deadline, id));
        }
        self.settle(now);
        Ok(id)
    }

    /// The fast path of [`request`](Locks::request): every lock of an exact request is free to
    /// take now, so it is granted without queuing — the same outcome as taking them one by one.
    fn grant_at_once(
        &mut self,
        owner: Owner,
        level: Level,
        mode: LockMode,
        names: Vec<Name>,
        keys: &[Key],
    ) -> LockRequestId {
        let state = self.owners.entry(owner).or_default();
        for &key in keys {
            if let Some(lock) = self.locks.get_mut(key) {
                lock.hold(owner, mode);
                state.insert(level, key, mode);
            }
        }
        self.granted_at_once(names)
    }

    /// A new request id, granted `names` at once.
    fn granted_at_once(&mut self, names: Vec<Name>) -> LockRequestId {
        let id = self.next_request_id();
        self.events.push_back(Event::Granted { req: id, names });
        id
    }

    fn next_request_id(&mut self) -> LockRequestId {
        let id = LockRequestId(self.next_req);
        self.next_req += 1;
        id
    }

    /// Looks up a named lock once, for [`request_lock`](Locks::request_lock).
    pub fn lock_ref(&self, level: Level, name: &str) -> Option<LockRef> {
        let (name, &key) = self.levels[level.index()].names.get_key_value(name)?;
        Some(LockRef { level, key, name: name.clone() })
    }

    /// Asks for one lock looked up beforehand: the same rules and the same outcome as
    /// [`request`](Locks::request) of [`Names::Exact`] with its one name (not opportunistic),
    /// but no name is looked up or listed, and a lock free to take is granted in the answer
    /// ([`Requested::Granted`]) instead of by an event (nothing allocated on that path).
    ///
    /// Refused as `request` is, and with [`LockError::StaleLock`] once the lock was removed.
    ///
    /// ```
    /// use stowage_locks::{BGL, Level, Locks, LockMode, Names, Owner, Request, Requested};
    /// use stowage_proto::Instant;
    ///
    /// let mut locks = Locks::new();
    /// locks.register(Level::Node, ["node1"])?;
    /// let (t, job) = (Instant::ZERO, Owner(1));
    /// locks.request(t, Request::shared(job, Level::Cluster, [BGL]))?;
    /// let node1 = locks.lock_ref(Level::Node, "node1").expect("registered");
    /// for _ in 0..3 {
    ///     let Requested::Granted(_) = locks.request_lock(t, job, &node1, LockMode::Exclusive, 0, None)? else {
    ///         unreachable!("nobody else wants node1")
    ///     };
    ///     locks.release(t, job, Level::Node, Names::All)?;
    /// }
    /// # Ok::<(), stowage_locks::LockError>(())
    /// ```
    #[inline]
    pub fn request_lock(
        &mut self,
        now: Instant,
        owner: Owner,
        lock: &LockRef,
        mode: LockMode,
        priority: i32,
        deadline: Option<Instant>,
    ) -> Result<Requested, LockError> {
        let now = self.begin(now);
        let level = lock.level;
        if let Some(state) = self.owners.get_mut(&owner)
            && state.may_take(level, self.bgl)
            && let Some(target) = self.locks.get_mut(lock.key)
            && target.can_take(mode)
        {
            target.hold(owner, mode);
            state.insert(level, lock.key, mode);
            return Ok(Requested::Granted(self.next_request_id()));
        }
        // Not free to take, or refused: as an ordinary request for the name.
        OwnerState::may_request(self.owners.get(&owner), owner, level, self.bgl)?;
        let Some(target) = self.locks.get_mut(lock.key) else {
            return Err(LockError::StaleLock { level, name: lock.name.clone() });
        };
        if target.can_take(mode) {
            // An owner without an entry yet (asking for the BGL) takes a free lock here.
            target.hold(owner, mode);
            self.owners.entry(owner).or_default().insert(level, lock.key, mode);
            return Ok(Requested::Granted(self.next_request_id()));
        }
        let request = Request {
            owner,
            level,
            names: Names::Exact(vec![lock.name.clone()]),
            mode,
            priority,
            deadline,
            opportunistic: None,
        };
        self.request(now, request).map(Requested::Pending)
    }

    /// Withdraws a request in progress: it leaves its queue and releases what it got, without
    /// an event. Refused if the request already ended (its event is then in the output).
    pub fn cancel(&mut self, now: Instant, req: LockRequestId) -> Result<(), LockError> {
        let now = self.begin(now);
        let pending = self.requests.remove(&req).ok_or(LockError::UnknownRequest(req))?;
        self.end(req, pending, End::Cancelled);
        self.settle(now);
        Ok(())
    }

    /// Releases locks of one level: [`Names::All`] releases everything held there, an exact
    /// list releases those names (all must be held). The level's set lock, if held, is
    /// released in both cases (first). Refused while the owner has a request in progress, and
    /// for the BGL while the owner holds locks of other levels.
    #[inline]
    pub fn release(&mut self, now: Instant, owner: Owner, level: Level, names: Names) -> Result<(), LockError> {
        let now = self.begin(now);
        if level != Level::Cluster
            && names == Names::All
            && let Some(state) = self.owners.get_mut(&owner)
            && state.pending.is_none()
            && let Some((key, mode)) = state.take_single(level)
        {
            // One lock at a non-cluster level: one owner lookup, no list to build.
            if state.is_idle() {
                self.owners.remove(&owner);
            }
            self.unhold_lock(key, mode);
            self.settle(now);
            return Ok(());
        }
        self.release_listed(now, owner, level, &names)
    }

    /// [`release`](Locks::release) but for its fast path: the keys to release listed first,
    /// so that a refusal changes nothing.
    fn release_listed(&mut self, now: Instant, owner: Owner, level: Level, names: &Names) -> Result<(), LockError> {
        let keys = self.held_keys(owner, level, names)?;
        if level == Level::Cluster
            && let Some(state) = self.owners.get(&owner)
            && let Some(held) = state.held_after(Level::Cluster)
        {
            return Err(LockError::BglStillNeeded { owner, held });
        }
        for key in keys {
            self.unhold(owner, level, key);
        }
        self.forget_if_idle(owner);
        self.settle(now);
        Ok(())
    }

    /// Releases everything `owner` holds, latest level first. Refused while it has a request
    /// in progress.
    pub fn release_all(&mut self, now: Instant, owner: Owner) -> Result<(), LockError> {
        let now = self.begin(now);
        let Some(state) = self.owners.get(&owner) else { return Ok(()) };
        if let Some(req) = state.pending {
            return Err(LockError::OwnerBusy { owner, req });
        }
        for level in Level::ALL.into_iter().rev() {
            if self.owners.get(&owner).is_some_and(|s| s.holds_at(level)) {
                let keys = self.held_keys(owner, level, &Names::All)?;
                for key in keys {
                    self.unhold(owner, level, key);
                }
            }
        }
        self.forget_if_idle(owner);
        self.settle(now);
        Ok(())
    }

    /// Turns exclusive holdings of one level into shared ones ([`Names::All`]: every one
    /// held). Each lock that really changes mode grants the pending shared group of the most
    /// urgent queued priority, if there is one. The set lock follows once no lock of the level
    /// is held exclusively. Downgrading a shared holding does nothing.
    pub fn downgrade(&mut self, now: Instant, owner: Owner, level: Level, names: Names) -> Result<(), LockError> {
        let now = self.begin(now);
        let keys = self.held_keys(owner, level, &names)?;
        let set_lock = self.levels[level.index()].set_lock;
        for key in keys.into_iter().filter(|&k| k != set_lock) {
            self.downgrade_one(now, owner, level, key);
        }
        let state = self.owners.get(&owner);
        let set_exclusive = state.is_some_and(|s| s.mode(level, set_lock) == Some(LockMode::Exclusive));
        let any_exclusive =
            state.is_some_and(|s| s.held_at(level).any(|(k, m)| k != set_lock && m == LockMode::Exclusive));
        if set_exclusive && !any_exclusive {
            self.downgrade_one(now, owner, level, set_lock);
        }
        self.settle(now);
        Ok(())
    }

    /// Adds locks to a modifiable level, free or held by `owner` in `acquired` mode.
    ///
    /// Needs the BGL and the level's set lock exclusively: held by `owner`, or, when `owner`
    /// holds nothing at the level, free (taken for the duration of the call). Refused for a
    /// duplicate name, and for `acquired` locks while `owner` holds a later level.
    pub fn add<N: Into<Name>>(
        &mut self,
        now: Instant,
        owner: Owner,
        level: Level,
        names: impl IntoIterator<Item = N>,
        acquired: Option<LockMode>,
    ) -> Result<(), LockError> {
        self.begin(now);
        self.check_modify(owner, level)?;
        let state = self.owners.get(&owner);
        if acquired.is_some()
            && let Some(held) = state.and_then(|s| s.held_after(level))
        {
            return Err(LockError::LevelOrder { owner, requested: level, held });
        }
        let set_lock = self.levels[level.index()].set_lock;
        if state.is_some_and(|s| s.holds_at(level)) {
            if state.and_then(|s| s.mode(level, set_lock)) != Some(LockMode::Exclusive) {
                return Err(LockError::PartlyOwned { owner, level });
            }
        } else if !self.set_lock_free(level) {
            return Err(LockError::SetLockBusy(level));
        }
        let names = self.new_names(level, names)?;
        self.insert_locks(level, names, acquired.map(|mode| (owner, mode)));
        Ok(())
    }

    /// Deletes locks of a modifiable level; every request waiting for one of them fails with
    /// [`FailReason::LockDeleted`] (an [`Names::All`] request skips it instead), and so does any
    /// request that reaches it later. Unknown names are skipped; returns the names removed.
    ///
    /// Needs the BGL. If `owner` holds locks at the level, it must hold every named lock,
    /// exclusively; otherwise each lock must be free (Ganeti's `delete` would wait for it: here
    /// acquire it exclusively first, with the priority and deadline you want).
    pub fn remove<N: Into<Name>>(
        &mut self,
        now: Instant,
        owner: Owner,
        level: Level,
        names: impl IntoIterator<Item = N>,
    ) -> Result<Vec<Name>, LockError> {
        let now = self.begin(now);
        self.check_modify(owner, level)?;
        let holds_level = self.owners.get(&owner).is_some_and(|s| s.holds_at(level));
        if !holds_level && let Some(held) = self.owners.get(&owner).and_then(|s| s.held_after(level)) {
            return Err(LockError::LevelOrder { owner, requested: level, held });
        }
        let mut names: Vec<Name> = names.into_iter().map(Into::into).collect();
        names.sort_unstable();
        names.dedup();
        let mut doomed = Vec::with_capacity(names.len());
        for name in names {
            let Some(&key) = self.levels[level.index()].names.get(&name) else { continue };
            let mine = self.owners.get(&owner).and_then(|s| s.mode(level, key));
            match mine {
                Some(LockMode::Shared) => return Err(LockError::DeleteWhileSharing { level, name }),
                Some(LockMode::Exclusive) => {}
                None if holds_level => return Err(LockError::PartlyOwned { owner, level }),
                None if !self.locks.get(key).is_some_and(Lock::is_free) => {
                    return Err(LockError::LockBusy { level, name });
                }
                None => {}
            }
            doomed.push((name, key));
        }
        let mut removed = Vec::with_capacity(doomed.len());
        for (name, key) in doomed {
            self.delete(now, owner, level, &name, key);
            removed.push(name);
        }
        self.forget_if_idle(owner);
        self.settle(now);
        Ok(removed)
    }

    // ---- outputs ----------------------------------------------------------------------------

    /// The next event, in the order the rules produced them.
    #[inline]
    pub fn poll_output(&mut self) -> Option<Event> {
        self.events.pop_front()
    }

    /// The latest `now` a call was given (time going backwards counts as no time).
    ///
    /// Time matters only to deadlines: while [`poll_timeout`](Locks::poll_timeout) is `None`,
    /// a call that brings no deadline of its own (any call but a `request` with one) has the
    /// same outcome for every `now` from this one on. A driver may then pass this instead of
    /// reading its clock.
    #[inline]
    pub fn now(&self) -> Instant {
        self.clock.latest()
    }

    /// The nearest deadline of a request in progress.
    #[inline]
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.deadlines.first().map(|&(deadline, _)| deadline)
    }

    /// Times out every request whose deadline is at or before `now` (earliest first), and
    /// grants what that frees. Harmless when called early.
    pub fn handle_timeout(&mut self, now: Instant) {
        let now = self.begin(now);
        self.settle(now);
    }

    // ---- queries ----------------------------------------------------------------------------

    /// The named locks `owner` holds at `level`, sorted by name (the set lock is not listed).
    pub fn owned(&self, owner: Owner, level: Level) -> Vec<(Name, LockMode)> {
        let Some(state) = self.owners.get(&owner) else { return Vec::new() };
        let mut owned: Vec<(Name, LockMode)> =
            state.held_at(level).filter_map(|(key, mode)| Some((self.locks.get(key)?.name.clone()?, mode))).collect();
        owned.sort_unstable_by(|a, b| a.0.cmp(&b.0));
        owned
    }

    /// Whether `owner` holds the set lock of `level`, and how.
    pub fn owned_set_lock(&self, owner: Owner, level: Level) -> Option<LockMode> {
        let set_lock = self.levels[level.index()].set_lock;
        self.owners.get(&owner)?.mode(level, set_lock)
    }

    /// The request `owner` has in progress, if any.
    pub fn in_progress(&self, owner: Owner) -> Option<LockRequestId> {
        self.owners.get(&owner)?.pending
    }

    /// How many requests are in progress (queued or parked).
    pub fn requests_in_progress(&self) -> usize {
        self.requests.len()
    }

    /// How many named locks `level` has.
    pub fn len(&self, level: Level) -> usize {
        self.levels[level.index()].names.len()
    }

    /// Whether `level` has no named lock.
    pub fn is_empty(&self, level: Level) -> bool {
        self.levels[level.index()].names.is_empty()
    }

    /// Every lock of every level — level order; in a level the set lock (`name: None`) first,
    /// then by name — with its mode, owners and pending requests in queue order.
    pub fn monitor(&self) -> Vec<crate::LockInfo> {
        let mut owners_of: BTreeMap<Key, Vec<Owner>> = BTreeMap::new();
        for (&owner, state) in &self.owners {
            for (key, _) in state.held.iter().flat_map(Holdings::iter) {
                owners_of.entry(key).or_default().push(owner);
            }
        }
        owners_of.values_mut().for_each(|owners| owners.sort_unstable());
        let mut infos = Vec::new();
        for level_set in &self.levels {
            let keys = std::iter::once(level_set.set_lock).chain(level_set.names.values().copied());
            for key in keys {
                let Some(lock) = self.locks.get(key) else { continue };
                let mode = match (lock.exclusive, lock.sharers) {
                    (Some(_), _) => Some(LockMode::Exclusive),
                    (None, 0) => None,
                    (None, _) => Some(LockMode::Shared),
                };
                let pending = lock
                    .waiters
                    .iter()
                    .flat_map(|w| w.queue.iter())
                    .map(|(&pos, entry)| crate::PendingInfo {
                        mode: entry.mode,
                        owners: entry
                            .members
                            .iter()
                            .filter(|&&m| self.waits_at(m, key, pos))
                            .filter_map(|m| Some(self.requests.get(m)?.owner))
                            .collect(),
                    })
                    .collect();
                infos.push(crate::LockInfo {
                    level: lock.level,
                    name: lock.name.clone(),
                    mode,
                    owners: owners_of.remove(&key).unwrap_or_default(),
                    pending,
                });
            }
        }
        infos
    }

    // ---- the engine -------------------------------------------------------------------------

    /// Every call starts here: the monotonic `now`, and the deadlines that passed.
    ///
    /// Every call ends with [`settle`](Locks::settle), so nothing is left to grant on entry
    /// but what the expired requests free.
    #[inline]
    fn begin(&mut self, now: Instant) -> Instant {
        let now = self.clock.observe(now);
        if self.deadlines.first().is_some_and(|&(deadline, _)| deadline <= now) {
            self.expire(now);
        }
        now
    }

    /// Times out the requests whose deadline is at or before `now`, and grants what that frees.
    #[cold]
    fn expire(&mut self, now: Instant) {
        let mut expired = false;
        while let Some(&(deadline, req)) = self.deadlines.first() {
            if deadline > now {
                break;
            }
            self.deadlines.pop_first();
            if let Some(pending) = self.requests.remove(&req) {
                self.end(req, pending, End::TimedOut);
                expired = true;
            }
        }
        if expired {
            self.settle(now);
        }
    }

    /// Grants, in order, the queues of the locks that came free.
    #[inline]
    fn settle(&mut self, now: Instant) {
        if !self.freed.is_empty() {
            self.grant_freed(now);
        }
    }

    fn grant_freed(&mut self, now: Instant) {
        while let Some(key) = self.freed.pop_front() {
            let Some(lock) = self.locks.get_mut(key) else { continue };
            if !lock.is_free() {
                continue;
            }
            if let Some((pos, entry)) = lock.pop_top() {
                self.grant_entry(now, key, pos, entry);
            } else {
                for (req, index) in lock.take_watchers() {
                    self.retry_parked(now, req, index);
                }
            }
        }
    }

    /// Takes the next locks of a running request, until it is granted, has to wait (or park),
    /// or ends.
    fn advance(&mut self, now: Instant, id: LockRequestId, mut p: Pending) {
        if p.all && !p.set_held {
            let set_lock = self.levels[p.level.index()].set_lock;
            if !self.locks.get(set_lock).is_some_and(|l| l.can_take(p.mode)) {
                return self.wait(now, id, p, set_lock);
            }
            self.take(&mut p, set_lock);
            self.got_set_lock(&mut p);
        }
        if let Some(min) = p.opportunistic {
            return self.take_opportunistically(now, id, p, min);
        }
        while let Some((name, key)) = p.targets.get(p.next) {
            match self.locks.get(*key) {
                None if p.all => p.next += 1,
                None => {
                    let name = name.clone();
                    return self.end(id, p, End::Failed(FailReason::LockDeleted(name)));
                }
                Some(lock) if lock.can_take(p.mode) => {
                    let (name, key) = (name.clone(), *key);
                    self.take(&mut p, key);
                    p.got.push(name);
                    p.next += 1;
                }
                Some(_) => {
                    let key = *key;
                    return self.wait(now, id, p, key);
                }
            }
        }
        self.end(id, p, End::Granted)
    }

    /// Opportunistic: takes every target that is free now, never queuing; granted with at
    /// least `min`, else gives them back and parks until one of the others comes free.
    fn take_opportunistically(&mut self, now: Instant, id: LockRequestId, mut p: Pending, min: usize) {
        let mut missed = Vec::new();
        for index in 0..p.targets.len() {
            let (name, key) = (&p.targets[index].0, p.targets[index].1);
            match self.locks.get(key) {
                None => {}
                Some(lock) if lock.can_take(p.mode) => {
                    let name = name.clone();
                    self.take(&mut p, key);
                    p.got.push(name);
                }
                Some(_) => missed.push(index),
            }
        }
        if p.got.len() >= min {
            return self.end(id, p, End::Granted);
        }
        let set_lock = self.levels[p.level.index()].set_lock;
        for key in std::mem::take(&mut p.held) {
            if key == set_lock {
                p.held.push(key);
            } else {
                self.unhold(p.owner, p.level, key);
            }
        }
        p.got.clear();
        if too_close(p.deadline, now) {
            return self.end(id, p, End::TimedOut);
        }
        let mut watching = match std::mem::replace(&mut p.state, State::Running) {
            State::Parked { watching } => watching,
            _ => vec![false; p.targets.len()],
        };
        let requests = &self.requests;
        for index in missed {
            if !watching[index]
                && let Some(lock) = self.locks.get_mut(p.targets[index].1)
            {
                lock.watch(id, index, |r, i| watches(requests, r, i));
                watching[index] = true;
            }
        }
        p.state = State::Parked { watching };
        self.requests.insert(id, p);
    }

    /// A watched lock came free: a parked opportunistic request tries again.
    fn retry_parked(&mut self, now: Instant, req: LockRequestId, index: usize) {
        if !watches(&self.requests, req, index) {
            return;
        }
        let Some(mut p) = self.requests.remove(&req) else { return };
        if let State::Parked { watching } = &mut p.state {
            watching[index] = false;
        }
        let min = p.opportunistic.unwrap_or(0);
        self.take_opportunistically(now, req, p, min);
    }

    /// Queues a running request on `key`, or times it out if its deadline is too close.
    fn wait(&mut self, now: Instant, id: LockRequestId, mut p: Pending, key: Key) {
        if too_close(p.deadline, now) {
            return self.end(id, p, End::TimedOut);
        }
        let Some(lock) = self.locks.get_mut(key) else { return self.end(id, p, End::TimedOut) };
        let pos = lock.enqueue(id, p.mode, p.priority);
        p.state = State::Waiting { lock: key, pos };
        self.requests.insert(id, p);
    }

    /// Grants a queue entry that was taken off `key`: every member still waiting there, in
    /// arrival order, each going on with its next locks.
    fn grant_entry(&mut self, now: Instant, key: Key, pos: Position, entry: Entry) {
        let mut granted = 0;
        for member in entry.members {
            if !self.waits_at(member, key, pos) {
                continue;
            }
            let Some(mut p) = self.requests.remove(&member) else { continue };
            granted += 1;
            p.state = State::Running;
            self.take(&mut p, key);
            if p.all && !p.set_held {
                self.got_set_lock(&mut p);
            } else if let Some((name, _)) = p.targets.get(p.next) {
                p.got.push(name.clone());
                p.next += 1;
            }
            self.advance(now, member, p);
        }
        if granted == 0 {
            self.freed.push_back(key);
        }
    }

    fn downgrade_one(&mut self, now: Instant, owner: Owner, level: Level, key: Key) {
        let Some(state) = self.owners.get_mut(&owner) else { return };
        let Some(mode) = state.held[level.index()].get_mut(key) else { return };
        if *mode == LockMode::Shared {
            return;
        }
        *mode = LockMode::Shared;
        let Some(lock) = self.locks.get_mut(key) else { return };
        lock.unhold(LockMode::Exclusive);
        lock.hold(owner, LockMode::Shared);
        if let Some((pos, entry)) = lock.pop_top_priority_group() {
            self.grant_entry(now, key, pos, entry);
        }
    }

    /// Deletes a lock (free, or held exclusively by `owner`); its waiters fail or skip it.
    fn delete(&mut self, now: Instant, owner: Owner, level: Level, name: &Name, key: Key) {
        self.levels[level.index()].names.remove(name);
        let Some(mut lock) = self.locks.remove(key) else { return };
        if let Some(state) = self.owners.get_mut(&owner) {
            state.remove(level, key);
        }
        let Some(waiters) = lock.waiters.take() else { return };
        for (pos, entry) in waiters.queue {
            for member in entry.members {
                if !self.waits_at(member, key, pos) {
                    continue;
                }
                let Some(mut p) = self.requests.remove(&member) else { continue };
                p.state = State::Running;
                if p.all {
                    p.next += 1;
                    self.advance(now, member, p);
                } else {
                    self.end(member, p, End::Failed(FailReason::LockDeleted(name.clone())));
                }
            }
        }
    }

    /// Ends a request (already out of `requests`): leaves its queue, gives back what it got
    /// unless granted, and says so.
    fn end(&mut self, id: LockRequestId, mut p: Pending, end: End) {
        if let Some(deadline) = p.deadline {
            self.deadlines.remove(&(deadline, id));
        }
        if let State::Waiting { lock: key, pos } = p.state {
            let requests = &self.requests;
            if let Some(lock) = self.locks.get_mut(key) {
                lock.dequeue(pos, |m| waits_at(requests, m, key, pos));
            }
        }
        if let Some(state) = self.owners.get_mut(&p.owner) {
            state.pending = None;
        }
        let granted = matches!(end, End::Granted);
        let event = match end {
            End::Granted => Some(Event::Granted { req: id, names: std::mem::take(&mut p.got) }),
            End::TimedOut => Some(Event::TimedOut { req: id }),
            End::Failed(reason) => Some(Event::Failed { req: id, reason }),
            End::Cancelled => None,
        };
        if !granted {
            for key in std::mem::take(&mut p.held) {
                self.unhold(p.owner, p.level, key);
            }
        }
        self.forget_if_idle(p.owner);
        if let Some(event) = event {
            self.events.push_back(event);
        }
    }

    fn take(&mut self, p: &mut Pending, key: Key) {
        if let Some(lock) = self.locks.get_mut(key) {
            lock.hold(p.owner, p.mode);
        }
        let state = self.owners.entry(p.owner).or_default();
        state.insert(p.level, key, p.mode);
        p.held.push(key);
    }

    /// Drops one holding of `owner`; a lock that comes free is granted at the end of the call.
    fn unhold(&mut self, owner: Owner, level: Level, key: Key) {
        let Some(state) = self.owners.get_mut(&owner) else { return };
        let Some(mode) = state.remove(level, key) else { return };
        if state.is_idle() {
            self.owners.remove(&owner);
        }
        self.unhold_lock(key, mode);
    }

    /// Drops one holding of lock `key`; if that frees it, it is granted at the end of the call.
    #[inline]
    fn unhold_lock(&mut self, key: Key, mode: LockMode) {
        // A free lock nobody waits for or watches needs no wake-up.
        if let Some(lock) = self.locks.get_mut(key)
            && lock.unhold(mode)
            && lock.waiters.is_some()
        {
            self.freed.push_back(key);
        }
    }

    fn got_set_lock(&self, p: &mut Pending) {
        p.set_held = true;
        p.targets = self.levels[p.level.index()].names.iter().map(|(name, &key)| (name.clone(), key)).collect();
    }

    fn forget_if_idle(&mut self, owner: Owner) {
        if self.owners.get(&owner).is_some_and(OwnerState::is_idle) {
            self.owners.remove(&owner);
        }
    }

    // ---- helpers ----------------------------------------------------------------------------

    fn holds_bgl(&self, owner: Owner) -> bool {
        self.owners.get(&owner).is_some_and(|state| state.mode(Level::Cluster, self.bgl).is_some())
    }

    fn set_lock_free(&self, level: Level) -> bool {
        self.locks.get(self.levels[level.index()].set_lock).is_some_and(|l| l.can_take(LockMode::Exclusive))
    }

    fn check_modify(&self, owner: Owner, level: Level) -> Result<(), LockError> {
        if !level.is_modifiable() {
            return Err(LockError::NotModifiable(level));
        }
        if let Some(req) = self.owners.get(&owner).and_then(|s| s.pending) {
            return Err(LockError::OwnerBusy { owner, req });
        }
        if !self.holds_bgl(owner) {
            return Err(LockError::BglNotHeld { owner, level });
        }
        Ok(())
    }

    /// The keys `names` means among what `owner` holds at `level` (the set lock first, then by
    /// name), or why not.
    fn held_keys(&self, owner: Owner, level: Level, names: &Names) -> Result<Vec<Key>, LockError> {
        let not_held = |name| LockError::NotHeld { owner, level, name };
        let state = self.owners.get(&owner).ok_or_else(|| not_held(None))?;
        if let Some(req) = state.pending {
            return Err(LockError::OwnerBusy { owner, req });
        }
        let name_of = |key: Key| self.locks.get(key).and_then(|l| l.name.as_ref());
        let mut keys: Vec<Key> = match names {
            Names::All => {
                if !state.holds_at(level) {
                    return Err(not_held(None));
                }
                state.held_at(level).map(|(key, _)| key).collect()
            }
            Names::Exact(list) => {
                let set_lock = self.levels[level.index()].set_lock;
                let mut keys: Vec<Key> = state.mode(level, set_lock).map(|_| set_lock).into_iter().collect();
                for name in list {
                    let key = self.levels[level.index()]
                        .names
                        .get(name)
                        .copied()
                        .ok_or_else(|| LockError::UnknownLock { level, name: name.clone() })?;
                    if state.mode(level, key).is_none() {
                        return Err(not_held(Some(name.clone())));
                    }
                    keys.push(key);
                }
                keys
            }
        };
        // The set lock (no name) first, then by name; each lock once. Only the locks someone
        // waits for need the order (it decides whose grant comes first), so a release of many
        // uncontended locks does not pay for sorting.
        if keys.len() > 1 {
            let contended = |key: Key| self.locks.get(key).is_some_and(|l| l.waiters.is_some());
            let (mut ordered, rest): (Vec<Key>, Vec<Key>) = keys.into_iter().partition(|&k| contended(k));
            ordered.sort_unstable_by(|&a, &b| name_of(a).cmp(&name_of(b)));
            ordered.dedup();
            keys = ordered;
            keys.extend(rest);
        }
        Ok(keys)
    }

    /// Sorted names new to `level`, or the first duplicate.
    fn new_names<N: Into<Name>>(
        &self,
        level: Level,
        names: impl IntoIterator<Item = N>,
    ) -> Result<Vec<Name>, LockError> {
        let mut names: Vec<Name> = names.into_iter().map(Into::into).collect();
        names.sort_unstable();
        let existing = &self.levels[level.index()].names;
        for (i, name) in names.iter().enumerate() {
            if existing.contains_key(name) || (i > 0 && names[i - 1] == *name) {
                return Err(LockError::DuplicateName { level, name: name.clone() });
            }
        }
        if !self.locks.has_room(names.len()) {
            return Err(LockError::TooManyLocks);
        }
        Ok(names)
    }

    fn insert_locks(&mut self, level: Level, names: Vec<Name>, holder: Option<(Owner, LockMode)>) {
        for name in names {
            let mut lock = Lock::new(Some(name.clone()), level);
            if let Some((owner, mode)) = holder {
                lock.hold(owner, mode);
            }
            let key = self.locks.insert(lock);
            if let Some((owner, mode)) = holder {
                let state = self.owners.entry(owner).or_default();
                state.insert(level, key, mode);
            }
            self.levels[level.index()].names.insert(name, key);
        }
    }

    fn waits_at(&self, req: LockRequestId, key: Key, pos: Position) -> bool {
        waits_at(&self.requests, req, key, pos)
    }
}

/// Whether `req` is waiting in the queue entry at `pos` of lock `key`.
fn waits_at(requests: &BTreeMap<LockRequestId, Pending>, req: LockRequestId, key: Key, pos: Position) -> bool {
    matches!(requests.get(&req).map(|p| &p.state), Some(&State::Waiting { lock, pos: at }) if lock == key && at == pos)
}

/// Whether `req` is parked and watching its `index`-th lock.
fn watches(requests: &BTreeMap<LockRequestId, Pending>, req: LockRequestId, index: usize) -> bool {
    matches!(requests.get(&req).map(|p| &p.state), Some(State::Parked { watching }) if watching.get(index) == Some(&true))
}

/// Whether a request that would have to wait now must time out instead.
fn too_close(deadline: Option<Instant>, now: Instant) -> bool {
    deadline.is_some_and(|d| d.saturating_duration_since(now) < MIN_TIMEOUT)
}
