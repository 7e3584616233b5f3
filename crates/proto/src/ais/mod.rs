//! AIStore's wire vocabulary: buckets, providers, namespaces, object addressing, `ActionMsg`,
//! the RFC 3339 [`Timestamp`]s it reports, its [`job`] API, and the cluster map with its
//! placement of objects on targets ([`smap`]).
//!
//! Names and values are those of AIStore's REST API (`api/apc` in the Go sources, `const.py`
//! in the Python SDK).

mod action;
mod bucket;
pub mod job;
mod object;
mod provider;
pub mod smap;
mod timestamp;

pub use action::ActionMsg;
pub use bucket::{Bucket, Namespace};
pub use object::{AddressError, ObjectAddress, encode_object_name};
pub use provider::{Provider, UnknownProvider};
pub use smap::{
    DirectUrlError, NetInfo, NodeFlags, NodeMap, PlacementError, Smap, SmapError, Snode, node_digest, object_uname,
    xoshiro256_hash,
};
pub use timestamp::{Timestamp, TimestampError};

/// The API version prefix of every AIStore REST path.
pub const API_PREFIX: &str = "/v1";
/// The path segment after [`API_PREFIX`] that names object requests (`/v1/objects/<bucket>/<obj>`).
pub const URL_PATH_OBJECTS: &str = "objects";

/// HTTP 423 Locked: AIStore's answer to `check-lock` while an object is write-locked.
pub const STATUS_LOCKED: http::StatusCode = http::StatusCode::LOCKED;

/// Query parameter names.
pub mod qparam {
    /// The bucket's provider (`ais`, `aws`, `gcp`, …).
    pub const PROVIDER: &str = "provider";
    /// The bucket's namespace (`@uuid#name`).
    pub const NAMESPACE: &str = "namespace";
    /// Which properties a HEAD should return (`size`, …).
    pub const PROPS: &str = "props";
    /// The presence filter of a HEAD (see [`super::presence`]).
    pub const FLT_PRESENCE: &str = "presence";
}

/// Values of the [`qparam::FLT_PRESENCE`] filter (AIStore's `apc.FltPresence`).
pub mod presence {
    /// The object exists inside and/or outside the cluster (may ask the remote backend).
    pub const FLT_EXISTS: u8 = 0;
    /// The object is present in the cluster and properly located (local only).
    pub const FLT_PRESENT: u8 = 2;
}

/// Names of AIStore actions sent in an [`ActionMsg`].
pub mod action_name {
    /// Ask whether an object is write-locked (answered 423 when it is).
    pub const CHECK_LOCK: &str = "check-lock";
}

/// AIStore's object-property response headers.
pub mod header {
    /// The object's checksum type (`xxhash`, `md5`, …).
    pub const CHECKSUM_TYPE: &str = "ais-checksum-type";
    /// The object's checksum value.
    pub const CHECKSUM_VALUE: &str = "ais-checksum-value";
    /// The object's last access time.
    pub const ACCESS_TIME: &str = "ais-atime";
    /// The object's version.
    pub const VERSION: &str = "ais-version";
    /// The bucket's name.
    pub const BUCKET_NAME: &str = "ais-bucket-name";
    /// The bucket's provider.
    pub const BUCKET_PROVIDER: &str = "ais-bucket-provider";
    /// The object's name.
    pub const OBJECT_NAME: &str = "ais-name";
    /// Where the object lives (target and mountpath).
    pub const LOCATION: &str = "ais-location";
    /// Whether the object is present in the cluster.
    pub const PRESENT: &str = "ais-present";
}
