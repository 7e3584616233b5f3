//! The handle ([`LockManager`]), its acquire future ([`Acquire`]) and its guard ([`Guard`]).

use std::borrow::Cow;
use std::collections::HashMap;
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::task::{Context, Poll};
use std::time::Duration;

use stowage_locks::{
    Event, FailReason, Level, LockError, LockInfo, LockMode, LockRef, LockRequestId, Locks, Name, Names, Owner,
    Request, Requested,
};
use stowage_proto::Instant;
use tokio::sync::oneshot;

/// Why an acquisition did not produce a [`Guard`].
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum AcquireError {
    /// The machine refused the request (wrong level order, no BGL, unknown name, …).
    #[error(transparent)]
    Refused(#[from] LockError),
    /// The timeout passed before every lock was got; nothing is held.
    #[error("timed out waiting for the locks")]
    TimedOut,
    /// A lock was deleted while waiting for it; nothing is held.
    #[error(transparent)]
    Failed(FailReason),
}

/// The future of [`LockManager::acquire`]: the request is made when first polled, and
/// withdrawn if the future is dropped before it is granted.
///
/// Written out by hand rather than as an `async fn` so that an uncontended acquisition — the
/// request granted on the first poll — moves as little as possible: the waiting part
/// (channel, timer) is allocated only when the request has to wait.
#[must_use = "futures do nothing unless polled"]
pub struct Acquire<'a> {
    manager: &'a LockManager,
    step: Step<'a>,
}

/// Where an [`Acquire`] is.
enum Step<'a> {
    Start { request: Request, timeout: Option<Duration> },
    StartLock { owner: Owner, lock: &'a LockRef, mode: LockMode, priority: i32, timeout: Option<Duration> },
    Waiting { owner: Owner, level: Level, wait: Pin<Box<dyn Future<Output = Option<Event>> + Send + 'a>> },
    Done,
}

/// The machine's answer to a request call of [`LockManager::begin`].
enum Answer<'a> {
    /// Granted at once, these names; no event follows.
    Granted(Cow<'a, [Name]>),
    /// In progress, or ended with an event.
    Pending(LockRequestId),
}

/// What [`LockManager::start`] did with a request.
enum Started<'a> {
    /// Granted in the machine's answer (one lock, free to take; see [`Locks::request_lock`]):
    /// these are held now, no event follows.
    Granted(Cow<'a, [Name]>),
    /// It ended at once (granted, or timed out for lack of time).
    Ended(Event),
    /// It waits; its event will come on `rx`.
    Waiting { req: LockRequestId, deadline: Option<Instant>, rx: oneshot::Receiver<Event> },
}

impl std::fmt::Debug for Acquire<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let step = match self.step {
            Step::Start { .. } | Step::StartLock { .. } => "start",
            Step::Waiting { .. } => "waiting",
            Step::Done => "done",
        };
        f.debug_struct("Acquire").field("step", &step).finish_non_exhaustive()
    }
}

impl<'a> Future for Acquire<'a> {
    type Output = Result<Guard<'a>, AcquireError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.get_mut();
        let manager = this.manager;
        loop {
            let (owner, level, started) = match &mut this.step {
                // Copied out, not moved: the uncontended path moves nothing big.
                &mut Step::StartLock { owner, lock, mode, priority, timeout } => {
                    this.step = Step::Done;
                    (owner, lock.level(), manager.start_lock(owner, lock, mode, priority, timeout))
                }
                Step::Start { .. } => {
                    let Step::Start { request, timeout } = std::mem::replace(&mut this.step, Step::Done) else {
                        return Poll::Pending; // matched just above
                    };
                    (request.owner, request.level, manager.start(request, timeout))
                }
                Step::Waiting { owner, level, wait } => {
                    let Poll::Ready(event) = wait.as_mut().poll(cx) else { return Poll::Pending };
                    let (owner, level) = (*owner, *level);
                    this.step = Step::Done;
                    return Poll::Ready(match event {
                        Some(event) => manager.outcome(owner, level, event),
                        None => Err(AcquireError::TimedOut),
                    });
                }
                // Polled again after it completed (a misuse of `Future`): it never ends again.
                Step::Done => return Poll::Pending,
            };
            match started {
                Err(refused) => return Poll::Ready(Err(refused.into())),
                Ok(Started::Granted(names)) => return Poll::Ready(Ok(Guard::new(manager, owner, level, names))),
                Ok(Started::Ended(event)) => return Poll::Ready(manager.outcome(owner, level, event)),
                Ok(Started::Waiting { req, deadline, rx }) => {
                    let ticket = Ticket { manager, req, owner, level, deadline, rx, done: false };
                    this.step = Step::Waiting { owner, level, wait: Box::pin(ticket.wait()) };
                }
            }
        }
    }
}

/// A cheaply cloneable handle to one lock manager shared by tasks.
#[derive(Clone, Debug)]
pub struct LockManager {
    shared: Arc<Shared>,
}

#[derive(Debug)]
struct Shared {
    epoch: tokio::time::Instant,
    state: Mutex<State>,
}

/// The machine and who waits for which request.
///
/// Invariant (while the mutex is free): every request in progress has a sender in `waiters`,
/// and `deferred` lists level holdings whose guards were dropped while their release was
/// refused (an owner releasing the BGL before a later level, or with a request in progress);
/// they are retried after every call, so no guard's release is lost.
#[derive(Debug, Default)]
struct State {
    locks: Locks,
    waiters: HashMap<LockRequestId, oneshot::Sender<Event>>,
    deferred: Vec<(Owner, Level)>,
}

impl State {
    /// Hands every event to its waiter, then retries deferred releases.
    ///
    /// Not [`dispatch_mine`](State::dispatch_mine) with nobody's request: its `Option<Event>`,
    /// returned through memory on every call, stalled the uncontended path (store forwarding).
    #[inline]
    fn dispatch(&mut self, now: Instant) {
        loop {
            while let Some(event) = self.locks.poll_output() {
                self.wake(event);
            }
            if self.deferred.is_empty() || !self.retry_deferred(now) {
                return;
            }
        }
    }

    /// [`dispatch`](State::dispatch), but the event of `mine` (a request still being made,
    /// which has no waiter yet) is returned instead.
    fn dispatch_mine(&mut self, now: Instant, mine: LockRequestId) -> Option<Event> {
        let mut own = None;
        loop {
            while let Some(event) = self.locks.poll_output() {
                if event.req() == mine {
                    own = Some(event);
                } else {
                    self.wake(event);
                }
            }
            if self.deferred.is_empty() || !self.retry_deferred(now) {
                return own;
            }
        }
    }

    /// Sends an event to the task waiting for it.
    #[cold]
    fn wake(&mut self, event: Event) {
        if let Some(waiter) = self.waiters.remove(&event.req()) {
            // A waiter that is gone has withdrawn: its drop handler finds the request
            // ended and releases what the event granted.
            let _ = waiter.send(event);
        }
    }

    /// Releases what can now be released; true if anything was.
    #[cold]
    fn retry_deferred(&mut self, now: Instant) -> bool {
        let before = self.deferred.len();
        let deferred = std::mem::take(&mut self.deferred);
        for (owner, level) in deferred {
            self.release(now, owner, level);
        }
        self.deferred.len() < before
    }

    /// Whether `owner` holds anything (a named lock or the set lock) at `level`.
    fn holds_level(&self, owner: Owner, level: Level) -> bool {
        self.locks.owned_set_lock(owner, level).is_some() || !self.locks.owned(owner, level).is_empty()
    }

    /// Releases a dropped guard's level, or defers it if the machine refuses for now.
    fn release(&mut self, now: Instant, owner: Owner, level: Level) {
        // Anything else is done: released, or nothing left (its locks were removed meanwhile).
        if let Err(LockError::OwnerBusy { .. } | LockError::BglStillNeeded { .. }) =
            self.locks.release(now, owner, level, Names::All)
        {
            self.deferred.push((owner, level));
        }
    }
}

impl Default for LockManager {
    fn default() -> Self {
        LockManager::new()
    }
}

impl LockManager {
    /// A manager with the BGL and the NAL only; see [`register`](LockManager::register).
    pub fn new() -> Self {
        LockManager::with_locks(Locks::new())
    }

    /// A manager running `locks` (populated beforehand).
    pub fn with_locks(locks: Locks) -> Self {
        let state = State { locks, ..State::default() };
        LockManager { shared: Arc::new(Shared { epoch: tokio::time::Instant::now(), state: Mutex::new(state) }) }
    }

    /// Adds free locks to a level (see [`Locks::register`]).
    pub fn register<N: Into<Name>>(&self, level: Level, names: impl IntoIterator<Item = N>) -> Result<(), LockError> {
        self.state().locks.register(level, names)
    }

    /// Acquires `request` (its `deadline` is replaced by `timeout` from now, if given), waiting
    /// as long as the rules say. Dropping the future withdraws the request.
    pub fn acquire(&self, request: Request, timeout: Option<Duration>) -> Acquire<'_> {
        Acquire { manager: self, step: Step::Start { request, timeout } }
    }

    /// Looks up a named lock once, for [`acquire_lock`](LockManager::acquire_lock).
    pub fn lock_ref(&self, level: Level, name: &str) -> Option<LockRef> {
        self.state().locks.lock_ref(level, name)
    }

    /// Acquires one lock looked up beforehand ([`lock_ref`](LockManager::lock_ref)), as
    /// [`acquire`](LockManager::acquire) would acquire a request for its one name (see
    /// [`Locks::request_lock`]); the fast path for a lock taken again and again: no name lookup,
    /// no name list, and the guard borrows the name from `lock`. A `timeout` of zero makes it a
    /// `try_acquire` (it ends at the first poll).
    ///
    /// ```
    /// use stowage_lock_manager::LockManager;
    /// use stowage_locks::{BGL, Level, LockMode, Owner, Request};
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let manager = LockManager::new();
    /// manager.register(Level::Node, ["node1"])?;
    /// let node1 = manager.lock_ref(Level::Node, "node1").ok_or("no node1")?;
    /// let job = Owner(7);
    /// let _bgl = manager.acquire(Request::shared(job, Level::Cluster, [BGL]), None).await?;
    /// for _ in 0..3 {
    ///     let guard = manager.acquire_lock(job, &node1, LockMode::Exclusive, 0, None).await?;
    ///     assert_eq!(guard.names(), [node1.name().clone()]);
    /// }
    /// # Ok(())
    /// # }
    /// ```
    pub fn acquire_lock<'a>(
        &'a self,
        owner: Owner,
        lock: &'a LockRef,
        mode: LockMode,
        priority: i32,
        timeout: Option<Duration>,
    ) -> Acquire<'a> {
        Acquire { manager: self, step: Step::StartLock { owner, lock, mode, priority, timeout } }
    }

    /// Makes the request: its grant or event if it ended at once, else a ticket to wait for it.
    ///
    /// One name (not opportunistic) is asked for as by [`acquire_lock`](LockManager::acquire_lock)
    /// — [`Locks::request_lock`], the same rules as a request for that name — so that a free
    /// lock is granted in the machine's answer, not through its event queue.
    fn start(&self, request: Request, timeout: Option<Duration>) -> Result<Started<'static>, LockError> {
        self.begin(timeout, |locks, now, deadline| {
            let request = Request { deadline, ..request };
            let one = match (&request.names, request.opportunistic) {
                (Names::Exact(names), None) if names.len() == 1 => locks.lock_ref(request.level, &names[0]),
                _ => None,
            };
            match (one, request) {
                (Some(lock), Request { owner, mode, priority, names: Names::Exact(names), .. }) => {
                    Ok(match locks.request_lock(now, owner, &lock, mode, priority, deadline)? {
                        Requested::Granted(_) => Answer::Granted(Cow::Owned(names)),
                        Requested::Pending(req) => Answer::Pending(req),
                    })
                }
                (_, request) => locks.request(now, request).map(Answer::Pending),
            }
        })
    }

    /// [`start`](LockManager::start) for [`acquire_lock`](LockManager::acquire_lock).
    fn start_lock<'a>(
        &self,
        owner: Owner,
        lock: &'a LockRef,
        mode: LockMode,
        priority: i32,
        timeout: Option<Duration>,
    ) -> Result<Started<'a>, LockError> {
        self.begin(timeout, |locks, now, deadline| {
            Ok(match locks.request_lock(now, owner, lock, mode, priority, deadline)? {
                Requested::Granted(_) => Answer::Granted(Cow::Borrowed(std::slice::from_ref(lock.name()))),
                Requested::Pending(req) => Answer::Pending(req),
            })
        })
    }

    /// Runs a request call on the machine at the right `now`, with the deadline of `timeout`;
    /// hands out the events it caused, and makes a ticket if the request waits.
    fn begin<'a>(
        &self,
        timeout: Option<Duration>,
        call: impl FnOnce(&mut Locks, Instant, Option<Instant>) -> Result<Answer<'a>, LockError>,
    ) -> Result<Started<'a>, LockError> {
        let mut state = self.state();
        let now = if timeout.is_some() { self.now() } else { self.now_for(&state) };
        let deadline = timeout.map(|t| now.saturating_add(t));
        let req = match call(&mut state.locks, now, deadline) {
            Ok(Answer::Granted(names)) => {
                state.dispatch(now);
                return Ok(Started::Granted(names));
            }
            Ok(Answer::Pending(req)) => req,
            Err(refused) => {
                state.dispatch(now);
                return Err(refused);
            }
        };
        if let Some(event) = state.dispatch_mine(now, req) {
            return Ok(Started::Ended(event));
        }
        let (tx, rx) = oneshot::channel();
        state.waiters.insert(req, tx);
        Ok(Started::Waiting { req, deadline, rx })
    }

    /// Acquires `request` only if every lock can be had at once (a zero timeout: nothing is
    /// queued; see [`MIN_TIMEOUT`](stowage_locks::MIN_TIMEOUT)).
    pub fn try_acquire(&self, request: Request) -> Result<Guard<'_>, AcquireError> {
        let (owner, level) = (request.owner, request.level);
        let mut state = self.state();
        let now = self.now_for(&state);
        let req = state.locks.request(now, Request { deadline: Some(now), ..request })?;
        match state.dispatch_mine(now, req) {
            Some(event) => self.outcome(owner, level, event),
            // Unreachable by the machine's rules (a zero deadline ends at once); stay safe.
            None => {
                let _ = state.locks.cancel(now, req);
                state.dispatch(now);
                Err(AcquireError::TimedOut)
            }
        }
    }

    /// Adds free locks to a level on behalf of `owner` (see [`Locks::add`]: the owner needs the
    /// BGL, and the level's set lock must be free or held by it exclusively). An owner holding
    /// the level adds through its guard instead ([`Guard::add`]).
    pub fn add<N: Into<Name>>(
        &self,
        owner: Owner,
        level: Level,
        names: impl IntoIterator<Item = N>,
    ) -> Result<(), LockError> {
        self.call(|state, now| state.locks.add(now, owner, level, names, None))
    }

    /// Adds locks to a level already held by `owner` in `mode`, and returns the guard that
    /// releases them. For an owner holding nothing at the level yet (one that does adds through
    /// its guard, [`Guard::add`], so that one guard keeps holding the whole level): refused
    /// otherwise with [`LockError::DoubleAcquire`].
    pub fn add_acquired<N: Into<Name>>(
        &self,
        owner: Owner,
        level: Level,
        names: impl IntoIterator<Item = N>,
        mode: LockMode,
    ) -> Result<Guard<'_>, LockError> {
        let mut names: Vec<Name> = names.into_iter().map(Into::into).collect();
        self.call(|state, now| {
            if state.holds_level(owner, level) {
                return Err(LockError::DoubleAcquire { owner, level });
            }
            state.locks.add(now, owner, level, names.iter().cloned(), Some(mode))
        })?;
        names.sort_unstable();
        names.dedup();
        Ok(Guard::new(self, owner, level, Cow::Owned(names)))
    }

    /// Deletes locks on behalf of `owner`; their waiters fail (see [`Locks::remove`]). An owner
    /// holding locks of the level deletes through its guard instead ([`Guard::remove`]), so
    /// that the guard's names stay true.
    pub fn remove<N: Into<Name>>(
        &self,
        owner: Owner,
        level: Level,
        names: impl IntoIterator<Item = N>,
    ) -> Result<Vec<Name>, LockError> {
        self.call(|state, now| state.locks.remove(now, owner, level, names))
    }

    /// Every lock with its mode, owners and queue (see [`Locks::monitor`]).
    pub fn monitor(&self) -> Vec<LockInfo> {
        self.state().locks.monitor()
    }

    /// Runs `f` on the machine (for queries: `owned`, `len`, `requests_in_progress`, …).
    pub fn inspect<T>(&self, f: impl FnOnce(&Locks) -> T) -> T {
        f(&self.state().locks)
    }

    fn outcome(&self, owner: Owner, level: Level, event: Event) -> Result<Guard<'_>, AcquireError> {
        match event {
            Event::Granted { names, .. } => Ok(Guard::new(self, owner, level, Cow::Owned(names))),
            Event::TimedOut { .. } => Err(AcquireError::TimedOut),
            Event::Failed { reason, .. } => Err(AcquireError::Failed(reason)),
        }
    }

    /// Runs one call on the machine, at the `now` of [`now_for`](LockManager::now_for), then
    /// hands out every event it caused — also when the call was refused, since a call first
    /// expires due deadlines.
    fn call<T>(&self, f: impl FnOnce(&mut State, Instant) -> T) -> T {
        let mut state = self.state();
        let now = self.now_for(&state);
        let out = f(&mut state, now);
        state.dispatch(now);
        out
    }

    fn state(&self) -> MutexGuard<'_, State> {
        self.shared.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Machine time: nanoseconds since the manager was made, on tokio's clock.
    fn now(&self) -> Instant {
        Instant::from_elapsed(self.shared.epoch.elapsed())
    }

    /// The `now` for a call that brings no deadline: while the machine has no deadline
    /// pending, time changes nothing (see [`Locks::now`]), so the clock is not read.
    fn now_for(&self, state: &State) -> Instant {
        match state.locks.poll_timeout() {
            None => state.locks.now(),
            Some(_) => self.now(),
        }
    }

    fn wake_at(&self, deadline: Instant) -> tokio::time::Instant {
        self.shared.epoch + deadline.elapsed_since_epoch()
    }
}

/// A request being waited for; withdraws it if dropped before it ends.
struct Ticket<'a> {
    manager: &'a LockManager,
    req: LockRequestId,
    owner: Owner,
    level: Level,
    deadline: Option<Instant>,
    rx: oneshot::Receiver<Event>,
    /// Set once the request's event is out of `rx`: nothing left to withdraw.
    done: bool,
}

impl Ticket<'_> {
    /// The request's event; `None` only if the manager lost track of it (never, by the
    /// invariant of [`State`]).
    async fn wait(mut self) -> Option<Event> {
        let event = self.receive().await;
        self.done = true;
        event
    }

    async fn receive(&mut self) -> Option<Event> {
        let Some(deadline) = self.deadline else { return (&mut self.rx).await.ok() };
        let sleep = tokio::time::sleep_until(self.manager.wake_at(deadline));
        tokio::pin!(sleep);
        loop {
            tokio::select! {
                biased;
                event = &mut self.rx => return event.ok(),
                () = &mut sleep => {
                    let mut state = self.manager.state();
                    let now = self.manager.now();
                    state.locks.handle_timeout(now);
                    state.dispatch(now);
                    // The machine has now timed the request out and sent its event; if the
                    // clock conversion came up short, sleep a little more.
                    sleep.as_mut().reset(tokio::time::Instant::now() + Duration::from_micros(1));
                }
            }
        }
    }
}

impl Drop for Ticket<'_> {
    fn drop(&mut self) {
        if self.done {
            return;
        }
        let mut state = self.manager.state();
        let now = self.manager.now_for(&state);
        state.waiters.remove(&self.req);
        if state.locks.cancel(now, self.req).is_ok() {
            state.dispatch(now);
            return;
        }
        // The request had ended: its event is in our channel, or was emitted by this very call
        // (`cancel` first expires due deadlines and grants what they free).
        let event = state.dispatch_mine(now, self.req).or_else(|| self.rx.try_recv().ok());
        if let Some(Event::Granted { .. }) = event {
            // Granted just before the future was dropped: give it back.
            state.release(now, self.owner, self.level);
            state.dispatch(now);
        }
    }
}

/// The locks one owner holds at one level; released when dropped.
///
/// Part of them can go earlier ([`release`](Guard::release)) or become shared
/// ([`downgrade_names`](Guard::downgrade_names)); those calls live on the guard, not on the
/// manager, so that the guard always knows whether it still holds something: one that let go
/// of everything does nothing when dropped, even if its owner meanwhile took the level again
/// under another guard.
///
/// Drop the guards of one owner latest level first (Rust's reverse declaration order does
/// this): the machine refuses to release the BGL while later levels are held, and such a
/// release is then deferred until it is allowed, never lost.
#[derive(Debug)]
#[must_use = "the locks are released as soon as the guard is dropped"]
pub struct Guard<'a> {
    /// Borrowed from the handle that acquired it, or (after [`Guard::into_owned`]) a clone.
    manager: Cow<'a, LockManager>,
    owner: Owner,
    level: Level,
    /// Invariant: sorted; the granted names not released through the guard since. Borrowed
    /// from the [`LockRef`] of [`LockManager::acquire_lock`].
    names: Cow<'a, [Name]>,
    /// Set once the owner holds nothing at the level any more after a [`Guard::release`].
    released: bool,
}

impl<'a> Guard<'a> {
    fn new(manager: &'a LockManager, owner: Owner, level: Level, names: Cow<'a, [Name]>) -> Self {
        Guard { manager: Cow::Borrowed(manager), owner, level, names, released: false }
    }

    /// The same guard holding its own handle to the manager, so that it can outlive the
    /// handle it was acquired through (be moved into a spawned task, stored, …).
    pub fn into_owned(mut self) -> Guard<'static> {
        let released = std::mem::replace(&mut self.released, true);
        let names = std::mem::take(&mut self.names);
        Guard {
            manager: Cow::Owned(self.manager.as_ref().clone()),
            owner: self.owner,
            level: self.level,
            names: Cow::Owned(names.into_owned()),
            released,
        }
    }

    /// The owner.
    pub fn owner(&self) -> Owner {
        self.owner
    }

    /// The level.
    pub fn level(&self) -> Level {
        self.level
    }

    /// The locks granted and not released through the guard since, sorted.
    pub fn names(&self) -> &[Name] {
        &self.names
    }

    /// Releases some of the level's locks now (see [`Locks::release`]; the level's set lock,
    /// if held, goes too, as in Ganeti); the guard keeps the others. Refused, changing
    /// nothing, for a name not held or while the owner has a request in progress.
    pub fn release<N: Into<Name>>(&mut self, names: impl IntoIterator<Item = N>) -> Result<(), LockError> {
        let mut names: Vec<Name> = names.into_iter().map(Into::into).collect();
        names.sort_unstable();
        self.check_held(names.first())?;
        let (owner, level) = (self.owner, self.level);
        let holds = self.manager.call(|state, now| {
            state.locks.release(now, owner, level, Names::Exact(names.clone()))?;
            Ok(state.holds_level(owner, level))
        })?;
        self.names.to_mut().retain(|name| names.binary_search(name).is_err());
        self.released = !holds;
        Ok(())
    }

    /// Adds locks to the guard's level (see [`Locks::add`]: the guard must hold the level's
    /// set lock exclusively, as after [`Request::all`] in exclusive mode). Locks added
    /// `acquired` join the guard; the others are free.
    pub fn add<N: Into<Name>>(
        &mut self,
        names: impl IntoIterator<Item = N>,
        acquired: Option<LockMode>,
    ) -> Result<(), LockError> {
        let names: Vec<Name> = names.into_iter().map(Into::into).collect();
        self.check_held(names.first())?;
        let (owner, level) = (self.owner, self.level);
        self.manager.call(|state, now| state.locks.add(now, owner, level, names.iter().cloned(), acquired))?;
        if acquired.is_some() {
            let held = self.names.to_mut();
            held.extend(names);
            held.sort_unstable();
            held.dedup();
        }
        Ok(())
    }

    /// Deletes locks of the guard's level (see [`Locks::remove`]: each must be held by this
    /// guard exclusively); returns the names deleted, which leave the guard.
    pub fn remove<N: Into<Name>>(&mut self, names: impl IntoIterator<Item = N>) -> Result<Vec<Name>, LockError> {
        let names: Vec<Name> = names.into_iter().map(Into::into).collect();
        self.check_held(names.first())?;
        let (owner, level) = (self.owner, self.level);
        let (removed, holds) = self.manager.call(|state, now| {
            let removed = state.locks.remove(now, owner, level, names)?;
            Ok::<_, LockError>((removed, state.holds_level(owner, level)))
        })?;
        // Both sorted: the machine removes in name order.
        self.names.to_mut().retain(|name| removed.binary_search(name).is_err());
        self.released = !holds;
        Ok(removed)
    }

    /// Downgrades every lock held at this level to shared (see [`Locks::downgrade`]).
    pub fn downgrade(&self) -> Result<(), LockError> {
        self.check_held(None)?;
        self.downgrade_level(Names::All)
    }

    /// Downgrades some of the level's locks to shared (see [`Locks::downgrade`]; the set lock
    /// follows once no lock of the level is held exclusively). Refused, changing nothing, for
    /// a name not held.
    pub fn downgrade_names<N: Into<Name>>(&self, names: impl IntoIterator<Item = N>) -> Result<(), LockError> {
        let names: Vec<Name> = names.into_iter().map(Into::into).collect();
        self.check_held(names.first())?;
        self.downgrade_level(Names::Exact(names))
    }

    fn downgrade_level(&self, names: Names) -> Result<(), LockError> {
        let (owner, level) = (self.owner, self.level);
        self.manager.call(|state, now| state.locks.downgrade(now, owner, level, names))
    }

    /// Refuses calls on a guard that let go of everything (the level may be held again under
    /// another guard, which this one must not touch).
    fn check_held(&self, name: Option<&Name>) -> Result<(), LockError> {
        if self.released {
            return Err(LockError::NotHeld { owner: self.owner, level: self.level, name: name.cloned() });
        }
        Ok(())
    }

    /// How this owner holds each lock of the level now.
    pub fn modes(&self) -> Vec<(Name, LockMode)> {
        self.manager.state().locks.owned(self.owner, self.level)
    }
}

impl Drop for Guard<'_> {
    fn drop(&mut self) {
        if self.released {
            return;
        }
        let (owner, level) = (self.owner, self.level);
        self.manager.call(|state, now| state.release(now, owner, level));
    }
}
