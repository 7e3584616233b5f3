//! AIStore's job vocabulary (`/v1/cluster`): which job a request is about ([`JobArgs`]), the
//! actions that start and stop one, and the two answers about it — each target's snapshots
//! ([`Snapshots`] of [`JobSnap`]s) and the cluster's summary ([`JobStatus`]).
//!
//! Parsing is lenient where the reference SDK is (unknown fields ignored, missing fields
//! defaulted) and more (a `null` anywhere is a default); a body that is not what it should be
//! is a [`ParseError`] naming the target and field, never a panic. Serialising gives the
//! bodies a cluster sends, so a server and a client share one definition of the wire.
//!
//! ```
//! use stowage_proto::ais::job::Snapshots;
//!
//! let body = br#"{"t1":[{"id":"j1","kind":"lru","is_idle":true}],"t2":null}"#;
//! let snapshots = Snapshots::parse(body)?;
//! assert_eq!(snapshots.first_kind(), Some("lru"));
//! assert!(snapshots.all_idle());
//! assert!(Snapshots::parse(br#"{"t1":[{"is_idle":"yes"}]}"#).is_err());
//! # Ok::<(), stowage_proto::ais::job::ParseError>(())
//! ```

mod args;
mod de;
mod error;
mod snap;
mod status;

pub use args::{ACT_START, ACT_STOP, JobArgs};
pub use error::{Body, ParseError};
pub use snap::{JobSnap, JobStats, SnapBucket, SnapNamespace, Snapshots, TargetSnaps};
pub use status::JobStatus;
