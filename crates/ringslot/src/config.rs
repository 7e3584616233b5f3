//! What a download is asked to do: where, how many at once, how big, how to retry and hedge.

use std::time::Duration;

use http::Uri;
use stowage_proto::Backoff;

/// The chunk size when neither the caller nor the object's HEAD names one: 8 MiB (the
/// reference SDK's `DEFAULT_PARALLEL_CHUNK_SIZE`).
pub const DEFAULT_CHUNK: u64 = 8 << 20;

/// The HEAD response header of a chunked AIStore object naming its largest chunk; used as the
/// range size when the caller gives none.
pub const MAX_CHUNK_SIZE_HEADER: &str = "ais-chunks-max-chunk-size";

/// How ranges are handed over.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Mode {
    /// In order, one slot at a time: [`Output::Deliver`](crate::Output::Deliver) names the slot
    /// holding the next range, and the slot is refilled only after the consumer
    /// [releases](crate::Input::Release) it.
    #[default]
    Stream,
    /// Every range lands at its own offset of one destination, in any order:
    /// [`Output::Landed`](crate::Output::Landed) says which; nothing is released.
    WholeObject,
}

/// How a range that failed in a retryable way is retried.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct RetryPolicy {
    /// Attempts per range (and for the HEAD), the first included; at least 1.
    pub max_attempts: u32,
    /// The wait before attempt `k + 1` is `backoff.delay(k)`.
    pub backoff: Backoff,
}

impl RetryPolicy {
    /// A range's retries: 5 attempts, waiting 20, 40, 80, 160 ms (doubling, at most 1 s).
    ///
    /// Short, because one range's wait holds back only its own slot while the other ranges go
    /// on: a long first backoff would only idle that slot (a lone request would rather wait
    /// longer, as the reference SDKs' 1 s do).
    pub const RANGE: RetryPolicy = RetryPolicy {
        max_attempts: 5,
        backoff: Backoff { multiplier: 0.02, min: Duration::from_millis(20), max: Duration::from_secs(1) },
    };
}

impl Default for RetryPolicy {
    /// [`RetryPolicy::RANGE`].
    fn default() -> Self {
        RetryPolicy::RANGE
    }
}

/// When to start a duplicate request for the head-of-line range (stream mode only).
///
/// Once `min_samples` ranges have finished, a head-of-line range whose request has run longer
/// than `max(factor × median of the finished ranges' durations, floor)` gets a second request
/// into a free slot, if a worker and a slot are free. The first of the two to finish wins; the
/// other is cancelled. A range is hedged at most once per attempt. With hedging on, new ranges
/// leave one slot free for the hedge, so `slots` should exceed `workers`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Hedge {
    /// `k`: how many medians a range may take before it is hedged.
    pub factor: f64,
    /// Finished ranges needed before the median is trusted.
    pub min_samples: u32,
    /// Never hedge a request younger than this.
    pub floor: Duration,
}

impl Default for Hedge {
    /// `k = 3`, after 4 finished ranges, never before 50 ms.
    fn default() -> Self {
        Hedge { factor: 3.0, min_samples: 4, floor: Duration::from_millis(50) }
    }
}

/// The parameters of one download.
#[derive(Clone, Debug, PartialEq)]
pub struct Config {
    /// The object's size, if known. `None`: the first range is asked for without it and its
    /// answer's `Content-Range` total gives it (no round trip of its own), or a HEAD asks
    /// first when [`Config::head`] says so.
    pub size: Option<u64>,
    /// Learn an unknown size with a HEAD before any range (and take the chunk size from its
    /// [`MAX_CHUNK_SIZE_HEADER`]) rather than from the first range's answer. Off by default:
    /// a HEAD costs a round trip, and some servers refuse it (an S3 presigned GET URL signs
    /// only GET).
    pub head: bool,
    /// The first byte to fetch.
    pub offset: u64,
    /// One past the last byte to fetch; the object's end when `None` (clamped to the size).
    pub end: Option<u64>,
    /// The range size; `None`: the HEAD's [`MAX_CHUNK_SIZE_HEADER`] (with [`Config::head`]),
    /// else [`DEFAULT_CHUNK`].
    pub chunk: Option<u64>,
    /// Range requests in flight at most (hedges included); at least 1.
    pub workers: u32,
    /// Buffers; at least `workers`. `None`: `2 × workers`. In whole-object mode they bound how
    /// far past the oldest unfinished range the machine fetches.
    pub slots: Option<u32>,
    /// Stream or whole object.
    pub mode: Mode,
    /// Per-range retries.
    pub retry: RetryPolicy,
    /// The node that serves the object, if known (an AIStore target, from the cluster map:
    /// what the SDK's `direct=True` reads do): requests go straight to it, and the object's URL
    /// is the way back when it refuses the connection or no longer has the object. `None`: the
    /// object's URL, until a redirect points elsewhere (then there, from then on).
    pub target: Option<Uri>,
    /// Send every later range where a redirect pointed (on by default). Off: each range asks
    /// the object's URL and follows its redirect, as the AIStore SDK does (for comparison).
    pub learn_target: bool,
    /// Duplicate requests for a slow head-of-line range (stream mode only: in whole-object
    /// mode a duplicate would fill the same destination bytes, so it is ignored); off when
    /// `None`.
    pub hedge: Option<Hedge>,
    /// Verify the bytes against the checksum the server states (on by default; see
    /// [`transfer`](crate::transfer)): a mismatch fails the download with
    /// [`DownloadError::Integrity`](crate::DownloadError::Integrity). The machine itself ignores
    /// it: the [`Transfer`](crate::transfer::Transfer) that runs it hashes.
    pub verify: bool,
}

impl Default for Config {
    /// What a download of many ranges wants: the size from the first range's answer, the
    /// whole object, 8 workers, 16 slots, stream mode, and
    /// - [`RetryPolicy::RANGE`]: a failed range is retried soon (the other ranges go on
    ///   meanwhile);
    /// - hedging on ([`Hedge::default`]: a head-of-line range taking 3 × the median, and at
    ///   least 50 ms, gets a second request), so a stalled or straggling range costs about one
    ///   range time instead of a read timeout. Stream mode only; set `hedge: None` to never
    ///   send duplicates.
    fn default() -> Self {
        Config {
            size: None,
            head: false,
            target: None,
            learn_target: true,
            verify: true,
            offset: 0,
            end: None,
            chunk: None,
            workers: 8,
            slots: None,
            mode: Mode::Stream,
            retry: RetryPolicy::RANGE,
            hedge: Some(Hedge::default()),
        }
    }
}

/// Why a [`Config`] cannot be run.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum ConfigError {
    /// `workers` is 0.
    #[error("workers must be at least 1")]
    NoWorkers,
    /// Fewer slots than workers.
    #[error("slots ({slots}) must be at least workers ({workers})")]
    TooFewSlots {
        /// Slots asked for.
        slots: u32,
        /// Workers asked for.
        workers: u32,
    },
    /// A chunk size of 0.
    #[error("chunk size must be at least 1 byte")]
    ZeroChunk,
    /// `retry.max_attempts` is 0.
    #[error("retry.max_attempts must be at least 1")]
    NoAttempts,
    /// A hedging factor that is not a positive finite number.
    #[error("hedge factor {0} must be a positive finite number")]
    HedgeFactor(f64),
}

impl Config {
    /// The number of slots in effect.
    pub fn slot_count(&self) -> u32 {
        self.slots.unwrap_or_else(|| self.workers.saturating_mul(2))
    }

    /// Checks that the configuration can be run.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.workers == 0 {
            return Err(ConfigError::NoWorkers);
        }
        let slots = self.slot_count();
        if slots < self.workers {
            return Err(ConfigError::TooFewSlots { slots, workers: self.workers });
        }
        if self.chunk == Some(0) {
            return Err(ConfigError::ZeroChunk);
        }
        if self.retry.max_attempts == 0 {
            return Err(ConfigError::NoAttempts);
        }
        if let Some(hedge) = self.hedge
            && !(hedge.factor.is_finite() && hedge.factor > 0.0)
        {
            return Err(ConfigError::HedgeFactor(hedge.factor));
        }
        Ok(())
    }
}
