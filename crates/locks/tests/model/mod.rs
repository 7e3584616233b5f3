//! A naive reference model of the lock manager — plain vectors, linear scans, ownership read
//! off the locks themselves — plus call scripts that run both side by side and compare every
//! result, every event, every deadline and every monitor snapshot, and check the invariants.
//!
//! Shared by `tests/properties.rs` (proptest) and the `locks` fuzz target (included by path).

#![allow(dead_code)]

use std::collections::VecDeque;

use stowage_locks::{
    Event, FailReason, Level, LockError, LockInfo, LockMode, LockRequestId, Locks, MIN_TIMEOUT, Name, Names, Owner,
    PendingInfo, Request, Requested,
};
use stowage_proto::Instant;

/// The levels scripts use, and the names each starts with.
pub(crate) const LEVELS: [Level; 3] = [Level::Cluster, Level::Instance, Level::Node];
/// Names a script can mention at a modifiable level (the first `INITIAL` exist at start).
pub(crate) const NAMES: [&str; 6] = ["a", "b", "c", "d", "e", "f"];
pub(crate) const INITIAL: usize = 4;
pub(crate) const OWNERS: u64 = 5;

/// Which names of a level a call means.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Pick {
    All,
    /// Bit `i` set: `NAMES[i]` (at the cluster level: the BGL whatever the bits).
    Mask(u8),
}

/// One call of a script.
#[derive(Clone, Debug)]
pub(crate) enum Op {
    Request {
        owner: u64,
        level: usize,
        pick: Pick,
        exclusive: bool,
        priority: i8,
        timeout_ms: Option<u8>,
        min: Option<u8>,
    },
    Release {
        owner: u64,
        level: usize,
        pick: Pick,
    },
    ReleaseAll {
        owner: u64,
    },
    Downgrade {
        owner: u64,
        level: usize,
        pick: Pick,
    },
    Add {
        owner: u64,
        level: usize,
        name: usize,
        acquired: Option<bool>,
    },
    Remove {
        owner: u64,
        level: usize,
        mask: u8,
    },
    Cancel {
        owner: u64,
    },
    /// Moves time by this many ms (negative: backwards), then `handle_timeout`.
    Tick {
        ms: i8,
    },
}

fn level(i: usize) -> Level {
    LEVELS[i % LEVELS.len()]
}

fn pick_names(level: Level, pick: Pick) -> Names {
    match pick {
        Pick::All => Names::All,
        Pick::Mask(_) if level == Level::Cluster => Names::Exact(vec![stowage_locks::BGL.into()]),
        Pick::Mask(mask) => Names::Exact(mask_names(mask)),
    }
}

fn mask_names(mask: u8) -> Vec<Name> {
    NAMES.iter().enumerate().filter(|(i, _)| mask & (1 << i) != 0).map(|(_, n)| Name::from(*n)).collect()
}

fn mode(exclusive: bool) -> LockMode {
    if exclusive { LockMode::Exclusive } else { LockMode::Shared }
}

/// The machine and the model, side by side.
pub(crate) struct Pair {
    pub(crate) real: Locks,
    pub(crate) model: Model,
    now: u64,
    ended: std::collections::BTreeSet<LockRequestId>,
    issued: Vec<LockRequestId>,
    /// The grant of the last call, if `request_lock` answered with it rather than an event.
    direct: Option<Event>,
}

impl Default for Pair {
    fn default() -> Self {
        Pair::new()
    }
}

impl Pair {
    pub(crate) fn new() -> Self {
        let mut real = Locks::new();
        let mut model = Model::new();
        for l in [Level::Instance, Level::Node] {
            real.register(l, NAMES[..INITIAL].iter().copied()).unwrap();
            model.register(l, &NAMES[..INITIAL]);
        }
        Pair { real, model, now: 0, ended: Default::default(), issued: Vec::new(), direct: None }
    }

    fn at(&self) -> Instant {
        Instant::from_nanos(self.now)
    }

    /// Applies one call to both and checks they agree and the invariants hold.
    pub(crate) fn apply(&mut self, op: &Op) {
        let now = self.at();
        let (real_ok, model_ok) = match *op {
            Op::Request { owner, level: l, pick, exclusive, priority, timeout_ms, min } => {
                let level = if l >= LEVELS.len() { self.next_level(Owner(owner), l) } else { level(l) };
                // Bit 4: one name asked for through `request_lock`, where the request allows it.
                let by_ref = matches!(pick, Pick::Mask(mask) if mask & 0x10 != 0);
                // Mostly names that exist from the start; with bit 7, any (maybe added or removed).
                let pick = match pick {
                    Pick::Mask(mask) if mask & 0x80 == 0 => Pick::Mask(mask & 0x0f),
                    other => other,
                };
                let mut request = Request::new(Owner(owner), level, pick_names(level, pick), mode(exclusive))
                    .priority(i32::from(priority));
                if let Some(t) = timeout_ms {
                    // 0 → 0.5 ms: below the minimum timeout.
                    let nanos = if t == 0 { 500_000 } else { u64::from(t) * 1_000_000 };
                    request = request.deadline(Instant::from_nanos(self.now.saturating_add(nanos)));
                }
                if let Some(min) = min {
                    request = request.opportunistic(usize::from(min));
                }
                let real = match &request.names {
                    Names::Exact(names) if by_ref && names.len() == 1 && request.opportunistic.is_none() => {
                        self.request_by_ref(now, &request, &names[0])
                    }
                    _ => self.real.request(now, request.clone()),
                };
                let model = self.model.request(now, request);
                if let (Ok(r), Ok(m)) = (&real, &model) {
                    assert_eq!(r, m, "request ids differ");
                    self.issued.push(*r);
                }
                (real.is_ok(), model.is_ok())
            }
            Op::Release { owner, level: l, pick } => {
                let level = level(l);
                let names = self.held_part(Owner(owner), level, pick);
                (
                    self.real.release(now, Owner(owner), level, names.clone()).is_ok(),
                    self.model.release(now, Owner(owner), level, &names),
                )
            }
            Op::ReleaseAll { owner } => {
                (self.real.release_all(now, Owner(owner)).is_ok(), self.model.release_all(now, Owner(owner)))
            }
            Op::Downgrade { owner, level: l, pick } => {
                let level = level(l);
                let names = self.held_part(Owner(owner), level, pick);
                (
                    self.real.downgrade(now, Owner(owner), level, names.clone()).is_ok(),
                    self.model.downgrade(now, Owner(owner), level, &names),
                )
            }
            Op::Add { owner, level: l, name, acquired } => {
                let level = level(l);
                let name = NAMES[name % NAMES.len()];
                let acquired = acquired.map(mode);
                (
                    self.real.add(now, Owner(owner), level, [name], acquired).is_ok(),
                    self.model.add(now, Owner(owner), level, name, acquired),
                )
            }
            Op::Remove { owner, level: l, mask } => {
                let level = level(l);
                // Mostly remove what one holds (the useful case), sometimes anything.
                let held: Vec<Name> = self.real.owned(Owner(owner), level).into_iter().map(|(n, _)| n).collect();
                let mut names = mask_names(mask);
                if !held.is_empty() && mask & 0x80 == 0 {
                    names.retain(|n| held.contains(n));
                }
                let real = self.real.remove(now, Owner(owner), level, names.clone());
                let model = self.model.remove(now, Owner(owner), level, &names);
                if let (Ok(r), Some(m)) = (&real, &model) {
                    assert_eq!(r, m, "removed names differ");
                }
                (real.is_ok(), model.is_some())
            }
            Op::Cancel { owner } => {
                let req = self.real.in_progress(Owner(owner)).unwrap_or(LockRequestId(u64::MAX));
                (self.real.cancel(now, req).is_ok(), self.model.cancel(now, req))
            }
            Op::Tick { ms } => {
                let step = u64::from(ms.unsigned_abs()) * 1_000_000;
                self.now = if ms >= 0 { self.now.saturating_add(step) } else { self.now.saturating_sub(step) };
                let now = self.at();
                self.real.handle_timeout(now);
                self.model.handle_timeout(now);
                (true, true)
            }
        };
        assert_eq!(real_ok, model_ok, "{op:?}: machine and model disagree on whether the call fits");
        self.compare();
    }

    /// `request` of one name made through [`Locks::request_lock`]: a grant in the answer
    /// stands for the event `request` would have emitted (after the call's other events).
    fn request_by_ref(&mut self, now: Instant, request: &Request, name: &Name) -> Result<LockRequestId, LockError> {
        let Some(lock) = self.real.lock_ref(request.level, name) else {
            return self.real.request(now, request.clone());
        };
        assert_eq!((lock.level(), lock.name()), (request.level, name));
        let requested =
            self.real.request_lock(now, request.owner, &lock, request.mode, request.priority, request.deadline)?;
        Ok(match requested {
            Requested::Granted(req) => {
                self.direct = Some(Event::Granted { req, names: vec![name.clone()] });
                req
            }
            Requested::Pending(req) => req,
        })
    }

    /// The names `pick` means, mostly cut down to what the owner holds (sometimes not, to
    /// exercise the refusals).
    fn held_part(&self, owner: Owner, level: Level, pick: Pick) -> Names {
        match (level, pick) {
            (Level::Cluster, _) | (_, Pick::All) => pick_names(level, pick),
            (_, Pick::Mask(mask)) => {
                let held: Vec<Name> = self.real.owned(owner, level).into_iter().map(|(n, _)| n).collect();
                let mut names = mask_names(mask);
                if mask & 0x40 == 0 {
                    names.retain(|n| held.contains(n));
                }
                Names::Exact(names)
            }
        }
    }

    /// A level the owner may ask for next: the cluster without the BGL, else a later level.
    fn next_level(&self, owner: Owner, choice: usize) -> Level {
        let holds =
            |level| !self.real.owned(owner, level).is_empty() || self.real.owned_set_lock(owner, level).is_some();
        if !holds(Level::Cluster) {
            return Level::Cluster;
        }
        let later: Vec<Level> =
            LEVELS[1..].iter().copied().filter(|&l| !LEVELS.iter().any(|&h| h >= l && holds(h))).collect();
        later.get(choice % later.len().max(1)).copied().unwrap_or(Level::Node)
    }

    /// Compares events, deadlines and the monitor, and checks the invariants.
    fn compare(&mut self) {
        let mut events: Vec<Event> = std::iter::from_fn(|| self.real.poll_output()).collect();
        events.extend(self.direct.take());
        let expected = std::mem::take(&mut self.model.events);
        assert_eq!(events, expected, "event sequences differ");
        for event in &events {
            assert!(self.ended.insert(event.req()), "{} ended twice", event.req());
            assert!(self.issued.contains(&event.req()), "event for an unknown request");
        }
        assert_eq!(self.real.poll_timeout(), self.model.poll_timeout(), "next deadlines differ");
        let monitor = self.real.monitor();
        assert_eq!(monitor, self.model.monitor(), "monitors differ");
        check_invariants(&monitor);
    }

    /// Cancels whatever is in progress and releases everything; then nothing may be held or
    /// pending.
    pub(crate) fn finish(&mut self) {
        for owner in 0..OWNERS {
            self.apply(&Op::Cancel { owner });
        }
        for owner in 0..OWNERS {
            self.apply(&Op::ReleaseAll { owner });
        }
        assert_eq!(self.real.requests_in_progress(), 0);
        for info in self.real.monitor() {
            assert!(info.owners.is_empty() && info.pending.is_empty() && info.mode.is_none(), "left over: {info:?}");
        }
    }
}

/// Never an exclusive holder with another holder; a lock without holders has nobody queued;
/// no owner twice on one lock or in one queue.
pub(crate) fn check_invariants(monitor: &[LockInfo]) {
    for info in monitor {
        match info.mode {
            Some(LockMode::Exclusive) => assert_eq!(info.owners.len(), 1, "exclusive with others: {info:?}"),
            Some(LockMode::Shared) => assert!(!info.owners.is_empty()),
            None => {
                assert!(info.owners.is_empty());
                assert!(info.pending.is_empty(), "free lock with a queue: {info:?}");
            }
        }
        let mut seen: Vec<Owner> = info.owners.clone();
        seen.extend(info.pending.iter().flat_map(|p| p.owners.iter().copied()));
        let count = seen.len();
        seen.sort();
        seen.dedup();
        assert_eq!(seen.len(), count, "an owner twice on one lock: {info:?}");
        assert!(info.pending.iter().all(|p| !p.owners.is_empty()), "empty queue entry: {info:?}");
    }
}

// ---- the model ------------------------------------------------------------------------------

#[derive(Debug)]
struct MLock {
    level: Level,
    name: Option<Name>,
    alive: bool,
    holders: Vec<(Owner, LockMode)>,
    /// In grant order.
    queue: Vec<MEntry>,
    watchers: Vec<(LockRequestId, usize)>,
}

#[derive(Debug)]
struct MEntry {
    priority: i32,
    mode: LockMode,
    members: Vec<LockRequestId>,
}

#[derive(Debug, PartialEq)]
enum MState {
    Running,
    Waiting(usize),
    Parked(Vec<bool>),
}

#[derive(Debug)]
struct MReq {
    id: LockRequestId,
    owner: Owner,
    level: Level,
    mode: LockMode,
    priority: i32,
    deadline: Option<Instant>,
    all: bool,
    set_held: bool,
    min: Option<usize>,
    targets: Vec<(Name, usize)>,
    next: usize,
    got: Vec<Name>,
    held: Vec<usize>,
    state: MState,
}

enum MEnd {
    Granted,
    TimedOut,
    Failed(Name),
    Cancelled,
}

/// The reference: the rules of the spec over plain vectors.
#[derive(Debug)]
pub(crate) struct Model {
    locks: Vec<MLock>,
    reqs: Vec<MReq>,
    pending: Vec<(Owner, LockRequestId)>,
    next_id: u64,
    latest: Instant,
    pub(crate) events: Vec<Event>,
    freed: VecDeque<usize>,
}

impl Model {
    pub(crate) fn new() -> Self {
        let mut model = Model {
            locks: Vec::new(),
            reqs: Vec::new(),
            pending: Vec::new(),
            next_id: 0,
            latest: Instant::ZERO,
            events: Vec::new(),
            freed: VecDeque::new(),
        };
        for level in Level::ALL {
            model.push_lock(level, None);
            match level {
                Level::Cluster => model.push_lock(level, Some(stowage_locks::BGL.into())),
                Level::NodeAlloc => model.push_lock(level, Some(stowage_locks::NAL.into())),
                _ => {}
            }
        }
        model
    }

    fn push_lock(&mut self, level: Level, name: Option<Name>) {
        self.locks.push(MLock {
            level,
            name,
            alive: true,
            holders: Vec::new(),
            queue: Vec::new(),
            watchers: Vec::new(),
        });
    }

    pub(crate) fn register(&mut self, level: Level, names: &[&str]) {
        for n in names {
            self.push_lock(level, Some((*n).into()));
        }
    }

    fn find(&self, level: Level, name: &str) -> Option<usize> {
        self.locks.iter().position(|l| l.alive && l.level == level && l.name.as_deref() == Some(name))
    }

    fn set_lock(&self, level: Level) -> usize {
        self.locks.iter().position(|l| l.level == level && l.name.is_none()).unwrap()
    }

    fn mode_of(&self, owner: Owner, lock: usize) -> Option<LockMode> {
        self.locks[lock].holders.iter().find(|h| h.0 == owner).map(|h| h.1)
    }

    fn holds_at(&self, owner: Owner, level: Level) -> bool {
        self.locks.iter().any(|l| l.alive && l.level == level && l.holders.iter().any(|h| h.0 == owner))
    }

    fn held_after(&self, owner: Owner, level: Level) -> Option<Level> {
        Level::ALL.iter().rev().copied().find(|&l| l > level && self.holds_at(owner, l))
    }

    fn holds_bgl(&self, owner: Owner) -> bool {
        self.find(Level::Cluster, stowage_locks::BGL).is_some_and(|l| self.mode_of(owner, l).is_some())
    }

    fn pending_of(&self, owner: Owner) -> Option<LockRequestId> {
        self.pending.iter().find(|p| p.0 == owner).map(|p| p.1)
    }

    fn is_free(&self, lock: usize) -> bool {
        self.locks[lock].holders.is_empty()
    }

    fn can_take(&self, lock: usize, mode: LockMode) -> bool {
        let l = &self.locks[lock];
        l.queue.is_empty()
            && match mode {
                LockMode::Shared => l.holders.iter().all(|h| h.1 == LockMode::Shared),
                LockMode::Exclusive => l.holders.is_empty(),
            }
    }

    fn begin(&mut self, now: Instant) -> Instant {
        self.latest = self.latest.max(now);
        let now = self.latest;
        loop {
            let due = self.reqs.iter().filter_map(|r| r.deadline.filter(|&d| d <= now).map(|d| (d, r.id))).min();
            let Some((_, id)) = due else { break };
            let r = self.take_req(id).unwrap();
            self.end(r, MEnd::TimedOut);
        }
        self.settle(now);
        now
    }

    fn take_req(&mut self, id: LockRequestId) -> Option<MReq> {
        let i = self.reqs.iter().position(|r| r.id == id)?;
        Some(self.reqs.remove(i))
    }

    pub(crate) fn poll_timeout(&self) -> Option<Instant> {
        self.reqs.iter().filter_map(|r| r.deadline).min()
    }

    pub(crate) fn request(&mut self, now: Instant, request: Request) -> Result<LockRequestId, ()> {
        let now = self.begin(now);
        let Request { owner, level, names, mode, priority, deadline, opportunistic } = request;
        if self.pending_of(owner).is_some() || self.holds_at(owner, level) || self.held_after(owner, level).is_some() {
            return Err(());
        }
        if level != Level::Cluster && !self.holds_bgl(owner) {
            return Err(());
        }
        let (all, targets) = match names {
            Names::All => (true, Vec::new()),
            Names::Exact(mut names) => {
                names.sort();
                names.dedup();
                let mut targets = Vec::new();
                for n in names {
                    let lock = self.find(level, &n).ok_or(())?;
                    targets.push((n, lock));
                }
                if opportunistic.is_some_and(|m| m > targets.len()) {
                    return Err(());
                }
                (false, targets)
            }
        };
        let id = LockRequestId(self.next_id);
        self.next_id += 1;
        self.pending.push((owner, id));
        let r = MReq {
            id,
            owner,
            level,
            mode,
            priority,
            deadline,
            all,
            set_held: false,
            min: opportunistic,
            targets,
            next: 0,
            got: Vec::new(),
            held: Vec::new(),
            state: MState::Running,
        };
        self.advance(now, r);
        self.settle(now);
        Ok(id)
    }

    fn take(&mut self, r: &mut MReq, lock: usize) {
        self.locks[lock].holders.push((r.owner, r.mode));
        r.held.push(lock);
    }

    fn unhold(&mut self, owner: Owner, lock: usize) {
        let l = &mut self.locks[lock];
        if let Some(i) = l.holders.iter().position(|h| h.0 == owner) {
            l.holders.remove(i);
            if l.holders.is_empty() {
                self.freed.push_back(lock);
            }
        }
    }

    fn got_set_lock(&self, r: &mut MReq) {
        r.set_held = true;
        let mut targets: Vec<(Name, usize)> = self
            .locks
            .iter()
            .enumerate()
            .filter(|(_, l)| l.alive && l.level == r.level && l.name.is_some())
            .map(|(i, l)| (l.name.clone().unwrap(), i))
            .collect();
        targets.sort();
        r.targets = targets;
    }

    fn advance(&mut self, now: Instant, mut r: MReq) {
        if r.all && !r.set_held {
            let set = self.set_lock(r.level);
            if !self.can_take(set, r.mode) {
                return self.wait(now, r, set);
            }
            self.take(&mut r, set);
            self.got_set_lock(&mut r);
        }
        if let Some(min) = r.min {
            return self.opportunistic(now, r, min);
        }
        while r.next < r.targets.len() {
            let (name, lock) = r.targets[r.next].clone();
            if !self.locks[lock].alive {
                if r.all {
                    r.next += 1;
                    continue;
                }
                return self.end(r, MEnd::Failed(name));
            }
            if !self.can_take(lock, r.mode) {
                return self.wait(now, r, lock);
            }
            self.take(&mut r, lock);
            r.got.push(name);
            r.next += 1;
        }
        self.end(r, MEnd::Granted)
    }

    fn opportunistic(&mut self, now: Instant, mut r: MReq, min: usize) {
        let mut missed = Vec::new();
        for i in 0..r.targets.len() {
            let (name, lock) = r.targets[i].clone();
            if !self.locks[lock].alive {
                continue;
            }
            if self.can_take(lock, r.mode) {
                self.take(&mut r, lock);
                r.got.push(name);
            } else {
                missed.push(i);
            }
        }
        if r.got.len() >= min {
            return self.end(r, MEnd::Granted);
        }
        let set = self.set_lock(r.level);
        for lock in std::mem::take(&mut r.held) {
            if lock == set {
                r.held.push(lock);
            } else {
                self.unhold(r.owner, lock);
            }
        }
        r.got.clear();
        if too_close(r.deadline, now) {
            return self.end(r, MEnd::TimedOut);
        }
        let mut watching = match std::mem::replace(&mut r.state, MState::Running) {
            MState::Parked(w) => w,
            _ => vec![false; r.targets.len()],
        };
        for i in missed {
            if !watching[i] {
                self.locks[r.targets[i].1].watchers.push((r.id, i));
                watching[i] = true;
            }
        }
        r.state = MState::Parked(watching);
        self.reqs.push(r);
    }

    fn wait(&mut self, now: Instant, mut r: MReq, lock: usize) {
        if too_close(r.deadline, now) {
            return self.end(r, MEnd::TimedOut);
        }
        let queue = &mut self.locks[lock].queue;
        let joined = r.mode == LockMode::Shared
            && queue
                .iter_mut()
                .find(|e| e.priority == r.priority && e.mode == LockMode::Shared)
                .map(|e| e.members.push(r.id))
                .is_some();
        if !joined {
            let at = queue.iter().position(|e| e.priority > r.priority).unwrap_or(queue.len());
            queue.insert(at, MEntry { priority: r.priority, mode: r.mode, members: vec![r.id] });
        }
        r.state = MState::Waiting(lock);
        self.reqs.push(r);
    }

    fn settle(&mut self, now: Instant) {
        while let Some(lock) = self.freed.pop_front() {
            if !self.locks[lock].alive || !self.is_free(lock) {
                continue;
            }
            if self.locks[lock].queue.is_empty() {
                for (id, i) in std::mem::take(&mut self.locks[lock].watchers) {
                    let parked = self.reqs.iter().any(|r| r.id == id && matches!(&r.state, MState::Parked(w) if w[i]));
                    if parked {
                        let mut r = self.take_req(id).unwrap();
                        if let MState::Parked(w) = &mut r.state {
                            w[i] = false;
                        }
                        let min = r.min.unwrap();
                        self.opportunistic(now, r, min);
                    }
                }
            } else {
                let entry = self.locks[lock].queue.remove(0);
                self.grant(now, lock, entry.members);
            }
        }
    }

    fn grant(&mut self, now: Instant, lock: usize, members: Vec<LockRequestId>) {
        for id in members {
            let mut r = self.take_req(id).unwrap();
            r.state = MState::Running;
            self.take(&mut r, lock);
            if r.all && !r.set_held {
                self.got_set_lock(&mut r);
            } else {
                r.got.push(r.targets[r.next].0.clone());
                r.next += 1;
            }
            self.advance(now, r);
        }
    }

    fn end(&mut self, mut r: MReq, end: MEnd) {
        if let MState::Waiting(lock) = r.state {
            let queue = &mut self.locks[lock].queue;
            for e in queue.iter_mut() {
                e.members.retain(|&m| m != r.id);
            }
            queue.retain(|e| !e.members.is_empty());
        }
        self.pending.retain(|p| p.1 != r.id);
        let event = match end {
            MEnd::Granted => Some(Event::Granted { req: r.id, names: std::mem::take(&mut r.got) }),
            MEnd::TimedOut => Some(Event::TimedOut { req: r.id }),
            MEnd::Failed(name) => Some(Event::Failed { req: r.id, reason: FailReason::LockDeleted(name) }),
            MEnd::Cancelled => None,
        };
        if !matches!(event, Some(Event::Granted { .. })) {
            for lock in std::mem::take(&mut r.held) {
                self.unhold(r.owner, lock);
            }
        }
        self.events.extend(event);
    }

    pub(crate) fn cancel(&mut self, now: Instant, req: LockRequestId) -> bool {
        let now = self.begin(now);
        let Some(r) = self.take_req(req) else { return false };
        self.end(r, MEnd::Cancelled);
        self.settle(now);
        true
    }

    /// The locks `names` means among those `owner` holds at `level`: set lock first, then by name.
    fn held_locks(&self, owner: Owner, level: Level, names: &Names) -> Option<Vec<usize>> {
        let holds_any = self.locks.iter().any(|l| l.alive && l.holders.iter().any(|h| h.0 == owner));
        if self.pending_of(owner).is_some() || !holds_any {
            return None;
        }
        let set = self.set_lock(level);
        let mut locks: Vec<usize> = self.mode_of(owner, set).map(|_| set).into_iter().collect();
        match names {
            Names::All => {
                if !self.holds_at(owner, level) {
                    return None;
                }
                let mut named: Vec<(Name, usize)> = self
                    .locks
                    .iter()
                    .enumerate()
                    .filter(|(_, l)| {
                        l.alive && l.level == level && l.name.is_some() && l.holders.iter().any(|h| h.0 == owner)
                    })
                    .map(|(i, l)| (l.name.clone().unwrap(), i))
                    .collect();
                named.sort();
                locks.extend(named.into_iter().map(|(_, i)| i));
            }
            Names::Exact(list) => {
                let mut list = list.clone();
                list.sort();
                list.dedup();
                for n in list {
                    let lock = self.find(level, &n)?;
                    self.mode_of(owner, lock)?;
                    locks.push(lock);
                }
            }
        }
        Some(locks)
    }

    pub(crate) fn release(&mut self, now: Instant, owner: Owner, level: Level, names: &Names) -> bool {
        let now = self.begin(now);
        let Some(locks) = self.held_locks(owner, level, names) else { return false };
        if level == Level::Cluster && self.held_after(owner, Level::Cluster).is_some() {
            return false;
        }
        for lock in locks {
            self.unhold(owner, lock);
        }
        self.settle(now);
        true
    }

    pub(crate) fn release_all(&mut self, now: Instant, owner: Owner) -> bool {
        let now = self.begin(now);
        if self.pending_of(owner).is_some() {
            return false;
        }
        for level in Level::ALL.into_iter().rev() {
            if self.holds_at(owner, level) {
                for lock in self.held_locks(owner, level, &Names::All).unwrap() {
                    self.unhold(owner, lock);
                }
            }
        }
        self.settle(now);
        true
    }

    fn downgrade_one(&mut self, now: Instant, owner: Owner, lock: usize) {
        let l = &mut self.locks[lock];
        let Some(h) = l.holders.iter_mut().find(|h| h.0 == owner) else { return };
        if h.1 == LockMode::Shared {
            return;
        }
        h.1 = LockMode::Shared;
        let Some(top) = l.queue.first().map(|e| e.priority) else { return };
        if let Some(i) = l.queue.iter().position(|e| e.priority == top && e.mode == LockMode::Shared) {
            let entry = l.queue.remove(i);
            self.grant(now, lock, entry.members);
        }
    }

    pub(crate) fn downgrade(&mut self, now: Instant, owner: Owner, level: Level, names: &Names) -> bool {
        let now = self.begin(now);
        let Some(locks) = self.held_locks(owner, level, names) else { return false };
        let set = self.set_lock(level);
        for lock in locks.into_iter().filter(|&l| l != set) {
            self.downgrade_one(now, owner, lock);
        }
        let any_exclusive = self.locks.iter().any(|l| {
            l.alive && l.level == level && l.name.is_some() && l.holders.contains(&(owner, LockMode::Exclusive))
        });
        if self.mode_of(owner, set) == Some(LockMode::Exclusive) && !any_exclusive {
            self.downgrade_one(now, owner, set);
        }
        self.settle(now);
        true
    }

    fn may_modify(&self, owner: Owner, level: Level) -> bool {
        level.is_modifiable() && self.pending_of(owner).is_none() && self.holds_bgl(owner)
    }

    pub(crate) fn add(
        &mut self,
        now: Instant,
        owner: Owner,
        level: Level,
        name: &str,
        acquired: Option<LockMode>,
    ) -> bool {
        self.begin(now);
        if !self.may_modify(owner, level) || (acquired.is_some() && self.held_after(owner, level).is_some()) {
            return false;
        }
        let set = self.set_lock(level);
        if self.holds_at(owner, level) {
            if self.mode_of(owner, set) != Some(LockMode::Exclusive) {
                return false;
            }
        } else if !self.can_take(set, LockMode::Exclusive) {
            return false;
        }
        if self.find(level, name).is_some() {
            return false;
        }
        self.push_lock(level, Some(name.into()));
        if let Some(mode) = acquired {
            self.locks.last_mut().unwrap().holders.push((owner, mode));
        }
        true
    }

    pub(crate) fn remove(&mut self, now: Instant, owner: Owner, level: Level, names: &[Name]) -> Option<Vec<Name>> {
        let now = self.begin(now);
        if !self.may_modify(owner, level) {
            return None;
        }
        let holds_level = self.holds_at(owner, level);
        if !holds_level && self.held_after(owner, level).is_some() {
            return None;
        }
        let mut names = names.to_vec();
        names.sort();
        names.dedup();
        let mut doomed = Vec::new();
        for n in names {
            let Some(lock) = self.find(level, &n) else { continue };
            match self.mode_of(owner, lock) {
                Some(LockMode::Shared) => return None,
                Some(LockMode::Exclusive) => {}
                None if holds_level || !self.is_free(lock) => return None,
                None => {}
            }
            doomed.push((n, lock));
        }
        let mut removed = Vec::new();
        for (name, lock) in doomed {
            let l = &mut self.locks[lock];
            l.alive = false;
            l.holders.clear();
            l.watchers.clear();
            let queue = std::mem::take(&mut l.queue);
            for entry in queue {
                for id in entry.members {
                    let mut r = self.take_req(id).unwrap();
                    r.state = MState::Running;
                    if r.all {
                        r.next += 1;
                        self.advance(now, r);
                    } else {
                        self.end(r, MEnd::Failed(name.clone()));
                    }
                }
            }
            removed.push(name);
        }
        self.settle(now);
        Some(removed)
    }

    pub(crate) fn handle_timeout(&mut self, now: Instant) {
        let now = self.begin(now);
        self.settle(now);
    }

    pub(crate) fn monitor(&self) -> Vec<LockInfo> {
        let mut out = Vec::new();
        for level in Level::ALL {
            let mut locks: Vec<usize> =
                (0..self.locks.len()).filter(|&i| self.locks[i].alive && self.locks[i].level == level).collect();
            locks.sort_by(|&a, &b| self.locks[a].name.cmp(&self.locks[b].name));
            for i in locks {
                let l = &self.locks[i];
                let mut owners: Vec<Owner> = l.holders.iter().map(|h| h.0).collect();
                owners.sort();
                let mode = if l.holders.is_empty() {
                    None
                } else if l.holders.iter().any(|h| h.1 == LockMode::Exclusive) {
                    Some(LockMode::Exclusive)
                } else {
                    Some(LockMode::Shared)
                };
                let pending = l
                    .queue
                    .iter()
                    .map(|e| PendingInfo {
                        mode: e.mode,
                        owners: e
                            .members
                            .iter()
                            .map(|m| self.reqs.iter().find(|r| r.id == *m).unwrap().owner)
                            .collect(),
                    })
                    .collect();
                out.push(LockInfo { level, name: l.name.clone(), mode, owners, pending });
            }
        }
        out
    }
}

fn too_close(deadline: Option<Instant>, now: Instant) -> bool {
    deadline.is_some_and(|d| d.saturating_duration_since(now) < MIN_TIMEOUT)
}
