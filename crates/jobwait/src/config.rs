//! How long to wait, how often to poll, how many idle polls make a streak.

use std::time::Duration;

use stowage_proto::Backoff;

/// The reference's default wait: 300 s.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(300);
/// Consecutive all-idle polls that end an idle-streak wait (Go's `xact.numConsecutiveIdle`).
pub const NUM_CONSECUTIVE_IDLE: u32 = 2;

/// The poll interval the reference derives from a timeout (`utils.probing_frequency`):
/// `max(max(timeout/64, min(timeout/8, 1 s)), 100 ms)`.
///
/// ```
/// use std::time::Duration;
/// use stowage_jobwait::probing_frequency;
///
/// assert_eq!(probing_frequency(Duration::from_secs(300)), Duration::from_nanos(4_687_500_000));
/// assert_eq!(probing_frequency(Duration::from_secs(4)), Duration::from_millis(500));
/// assert_eq!(probing_frequency(Duration::ZERO), Duration::from_millis(100));
/// ```
pub fn probing_frequency(timeout: Duration) -> Duration {
    (timeout / 64).max((timeout / 8).min(Duration::from_secs(1))).max(Duration::from_millis(100))
}

/// How a wait is paced and bounded.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct WaitConfig {
    /// The longest the wait may last, measured on the clock the machine is given (default
    /// [`DEFAULT_TIMEOUT`]).
    pub timeout: Duration,
    /// The interval between polls; `None` (the default) means
    /// [`probing_frequency(timeout)`](probing_frequency).
    pub interval: Option<Duration>,
    /// When set, the interval doubles after every poll up to this cap (never below the
    /// interval), so a long job is not polled at the initial pace for hours. Off by default,
    /// as in the reference.
    pub backoff_cap: Option<Duration>,
    /// Consecutive all-idle polls that end an idle-streak wait (default
    /// [`NUM_CONSECUTIVE_IDLE`]; 0 behaves as 1).
    pub idle_streak: u32,
}

impl Default for WaitConfig {
    fn default() -> Self {
        WaitConfig { timeout: DEFAULT_TIMEOUT, interval: None, backoff_cap: None, idle_streak: NUM_CONSECUTIVE_IDLE }
    }
}

impl WaitConfig {
    /// The defaults, with `timeout`.
    pub fn with_timeout(timeout: Duration) -> Self {
        WaitConfig { timeout, ..WaitConfig::default() }
    }

    /// The interval before the first backoff step.
    pub fn base_interval(&self) -> Duration {
        self.interval.unwrap_or_else(|| probing_frequency(self.timeout))
    }

    /// The sleep after poll `polls` (1-based): the base interval, or with a backoff cap
    /// `clamp(base · 2^(polls−1), base, cap)`.
    pub fn sleep_after(&self, polls: u32) -> Duration {
        let base = self.base_interval();
        match self.backoff_cap {
            None => base,
            Some(cap) => Backoff { multiplier: base.as_secs_f64(), min: base, max: cap.max(base) }.delay(polls),
        }
    }
}
