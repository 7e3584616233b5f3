//! The poller's configuration (the AIStore SDK's `ColdGetConf`).

use std::time::Duration;

/// AIStore's default estimate of backend bandwidth: 10 Gbit/s = 1.25 × 10⁹ bytes/s.
pub const DEFAULT_EST_BANDWIDTH_BPS: u64 = 10 * 1_000_000_000 / 8;
/// AIStore's default bound on one lock wait: 180 s.
pub const DEFAULT_MAX_COLD_WAIT: Duration = Duration::from_secs(180);

/// How to poll an object's write lock after a cold-GET read timeout.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LockPollConfig {
    /// Estimated bandwidth from the cluster to the remote backend, bytes per second; scales the
    /// backoff bounds with the object's size. `0` means [`DEFAULT_EST_BANDWIDTH_BPS`].
    pub est_bandwidth_bps: u64,
    /// The longest one lock wait may last, counted from the first poll after the size HEAD.
    pub max_cold_wait: Duration,
    /// Let the size HEAD ask the remote backend (`presence=0`, FLT_EXISTS) rather than only
    /// the cluster (`presence=2`, FLT_PRESENT).
    pub enable_remote_head: bool,
    /// Draw each sleep uniformly from `[shortest, nominal]` instead of sleeping the nominal
    /// delay (off by default, as in the reference). Randomness comes from the seed given to
    /// the machine.
    pub jitter: bool,
}

impl Default for LockPollConfig {
    fn default() -> Self {
        LockPollConfig {
            est_bandwidth_bps: DEFAULT_EST_BANDWIDTH_BPS,
            max_cold_wait: DEFAULT_MAX_COLD_WAIT,
            enable_remote_head: true,
            jitter: false,
        }
    }
}

impl LockPollConfig {
    /// The bandwidth estimate in effect (`0` replaced by the default).
    #[inline]
    pub fn bandwidth_bps(&self) -> u64 {
        if self.est_bandwidth_bps == 0 { DEFAULT_EST_BANDWIDTH_BPS } else { self.est_bandwidth_bps }
    }
}
