//! Waiting for an AIStore cluster job to be done, as the AIStore SDK's `Job.wait` decides it,
//! as a sans-IO machine.
//!
//! A job (an *xaction*: a copy, a rebalance, a download…) runs on the cluster's targets. Some
//! kinds end (they get an end time); others, the *idle kinds*, never end on their own but go
//! idle between requests. [`JobWait`] decides when a job is done:
//!
//! - **dispatch** by kind ([`Strategy::for_kind`]), learning the kind from the job's
//!   snapshots when only its id is known;
//! - **idle streak** for idle kinds: every target idle on [`NUM_CONSECUTIVE_IDLE`] consecutive
//!   polls; an abort on any target ends the wait at once;
//! - **single node** for `blob-download` and `resilver`: any snapshot finished;
//! - **terminal** for everything else, unknown kinds included: the job's status has an end
//!   time;
//! - the **result** ([`WaitResult`]: success, error, end time) by the reference's rules;
//! - **timing**: the reference's poll interval ([`probing_frequency`]), an optional capped
//!   backoff, and a deadline on the clock it is given; a timeout carries what the last poll saw.
//!
//! It also builds the requests it sends ([`snapshots_request`], [`status_request`],
//! [`abort_request`], [`start_request`]). The job API's vocabulary — [`JobArgs`], the answers
//! ([`Snapshots`], [`JobStatus`]) and their lenient parsing, which fails with a [`ParseError`]
//! naming the target and field, never a panic — is [`stowage_proto::ais::job`], shared with
//! the embedded cluster; it is re-exported here.
//!
//! The machine emits `http::Request`s with origin-form URIs and is fed whole responses
//! ([`Completion<Bytes>`](stowage_proto::Completion)): the answers are small JSON documents it
//! decides on. `stowage-ais` drives it over the tokio driver (`Job::wait`).
#![forbid(unsafe_code)]
#![deny(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod config;
mod error;
mod kind;
mod machine;
mod progress;
mod result;
mod streak;
mod wire;

pub use config::{DEFAULT_TIMEOUT, NUM_CONSECUTIVE_IDLE, WaitConfig, probing_frequency};
pub use error::{JobError, LastSeen, response_body};
pub use kind::{IDLE_KINDS, KNOWN_KINDS, SINGLE_NODE_KINDS, Strategy, is_known_kind};
pub use machine::{Dispatch, JobWait, WaitOutcome};
pub use progress::{Progress, TargetCounts};
pub use result::{ABORTED, WaitResult};
pub use streak::IdleStreak;
pub use wire::{
    CLUSTER_PATH, SNAPSHOTS_PATH, STATUS_PATH, abort_request, snapshots_request, start_request, status_request,
};

pub use stowage_proto::ais::job::{
    ACT_START, ACT_STOP, Body, JobArgs, JobSnap, JobStats, JobStatus, ParseError, SnapBucket, SnapNamespace, Snapshots,
    TargetSnaps,
};
pub use stowage_proto::ais::{Timestamp, TimestampError};
