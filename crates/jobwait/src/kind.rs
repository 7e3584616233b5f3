//! Job kinds, and how a wait is decided for each (the SDK's `xact_const.py`).

/// Kinds that idle between requests instead of ending (`Descriptor.Idles` in AIStore's
/// `xact.Table`, the SDK 2.0.0's `IDLE_KINDS`): waited for with an idle streak.
pub const IDLE_KINDS: [&str; 10] = [
    "ec-get",
    "ec-put",
    "ec-resp",
    "put-copies",
    "archive",
    "copy-listrange",
    "etl-listrange",
    "download",
    "list",
    "get-batch",
];

/// Kinds that run on one target outside the IC (`blob-download`, `resilver`): waited for
/// until any snapshot has finished.
pub const SINGLE_NODE_KINDS: [&str; 2] = ["blob-download", "resilver"];

/// Every kind in AIStore's `xact.Table` (the SDK 2.0.0's `KNOWN_KINDS`). A kind not listed is
/// not an error: it is waited for like any terminal job.
pub const KNOWN_KINDS: [&str; 34] = [
    "rebalance",
    "resilver",
    "election",
    "lru",
    "cleanup-store",
    "summary-bck",
    "summary-shard",
    "rechunk",
    "index-shard",
    "ec-get",
    "ec-put",
    "ec-resp",
    "ec-encode",
    "put-copies",
    "make-n-copies",
    "archive",
    "copy-listrange",
    "etl-listrange",
    "delete-listrange",
    "evict-listrange",
    "prefetch-listrange",
    "blob-download",
    "download",
    "dsort",
    "promote",
    "move-bck",
    "copy-bck",
    "etl-bck",
    "etl-inline",
    "evict-remote-bck",
    "list",
    "get-batch",
    "create-inventory",
    "load-lom-cache",
];

/// How a job's end is detected.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Strategy {
    /// Poll snapshots until every target is idle on enough consecutive polls (an abort
    /// anywhere ends at once).
    IdleStreak,
    /// Poll snapshots until any one of them is aborted or has ended.
    SingleNode,
    /// Poll the job's status until it has an end time.
    Terminal,
}

impl Strategy {
    /// The strategy for a job of `kind`: idle kinds → [`Strategy::IdleStreak`],
    /// `blob-download` and `resilver` → [`Strategy::SingleNode`], anything else (an unknown
    /// kind, or none) → [`Strategy::Terminal`].
    pub fn for_kind(kind: &str) -> Strategy {
        if IDLE_KINDS.contains(&kind) {
            Strategy::IdleStreak
        } else if SINGLE_NODE_KINDS.contains(&kind) {
            Strategy::SingleNode
        } else {
            Strategy::Terminal
        }
    }

    /// Its name in tables and logs.
    pub const fn name(self) -> &'static str {
        match self {
            Strategy::IdleStreak => "idle-streak",
            Strategy::SingleNode => "single-node",
            Strategy::Terminal => "terminal",
        }
    }
}

/// Whether `kind` is in AIStore's kind table.
pub fn is_known_kind(kind: &str) -> bool {
    KNOWN_KINDS.contains(&kind)
}
