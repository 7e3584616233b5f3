//! A job's snapshots: what each target reports about it (`GET /v1/cluster?what=qryxstats`).

use std::collections::HashMap;
use std::fmt;

use serde::de::{self, Deserializer, MapAccess, Visitor};
use serde::ser::{SerializeMap, Serializer};
use serde::{Deserialize, Serialize};

use super::ParseError;
use crate::ais::Timestamp;

mod field {
    crate::ais::job::de::fields! {
        id => "id", kind => "kind", bck => "bck", src_bck => "src-bck", dst_bck => "dst-bck",
        stats => "stats", aborted => "aborted", is_idle => "is_idle", abort_err => "abort-err",
        packed => "glob.id", objects => "loc-objs", bytes => "loc-bytes", out_objects => "out-objs",
        out_bytes => "out-bytes", in_objects => "in-objs", in_bytes => "in-bytes", name => "name",
        provider => "provider", namespace => "namespace", uuid => "uuid",
    }

    pub(crate) fn start_time<'de, D: serde::Deserializer<'de>>(
        d: D,
    ) -> Result<Option<crate::ais::Timestamp>, D::Error> {
        crate::ais::job::de::time(d, "start-time")
    }

    pub(crate) fn end_time<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<crate::ais::Timestamp>, D::Error> {
        crate::ais::job::de::time(d, "end-time")
    }

    /// A time as AIStore writes it: none is Go's zero time.
    pub(crate) fn write_time<S: serde::Serializer>(t: &Option<crate::ais::Timestamp>, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(&t.unwrap_or(crate::ais::Timestamp::GO_ZERO))
    }
}

/// What one target reports about a job (AIStore's `core.Snap`, the SDK's `JobSnap`).
///
/// Read leniently (see the crate docs): unknown fields ignored, missing or `null` ones
/// defaulted. Times are parsed; an empty time or Go's zero time is `None`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct JobSnap {
    /// The job id.
    #[serde(deserialize_with = "field::id")]
    pub id: String,
    /// The job kind (`rebalance`, `copy-listrange`, …).
    #[serde(deserialize_with = "field::kind")]
    pub kind: String,
    /// When the job started on this target.
    #[serde(rename = "start-time", deserialize_with = "field::start_time", serialize_with = "field::write_time")]
    pub start_time: Option<Timestamp>,
    /// When the job ended on this target; `None` while it runs.
    #[serde(rename = "end-time", deserialize_with = "field::end_time", serialize_with = "field::write_time")]
    pub end_time: Option<Timestamp>,
    /// The bucket the job works on.
    #[serde(deserialize_with = "field::bck")]
    pub bck: Option<SnapBucket>,
    /// The source bucket of a copy or transform.
    #[serde(rename = "src-bck", deserialize_with = "field::src_bck")]
    pub src_bck: Option<SnapBucket>,
    /// The destination bucket of a copy or transform.
    #[serde(rename = "dst-bck", deserialize_with = "field::dst_bck")]
    pub dst_bck: Option<SnapBucket>,
    /// Counters, when the target reports them.
    #[serde(deserialize_with = "field::stats")]
    pub stats: Option<JobStats>,
    /// The job was aborted on this target.
    #[serde(deserialize_with = "field::aborted")]
    pub aborted: bool,
    /// The job is idle on this target (idle kinds wait for more work rather than end).
    #[serde(deserialize_with = "field::is_idle")]
    pub is_idle: bool,
    /// Why the job was aborted, if it was with an error.
    #[serde(rename = "abort-err", deserialize_with = "field::abort_err")]
    pub abort_err: String,
    /// Joggers, workers and channel-full count, bit-packed.
    #[serde(rename = "glob.id", deserialize_with = "field::packed")]
    pub packed: i64,
}

impl JobSnap {
    /// Aborted, or aborted with an error.
    pub fn is_aborted(&self) -> bool {
        self.aborted || !self.abort_err.is_empty()
    }

    /// Has an end time (Go's zero time is none).
    pub fn has_ended(&self) -> bool {
        self.end_time.is_some()
    }
}

/// A job's counters on one target (the SDK's `JobStats`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct JobStats {
    /// Objects processed locally.
    #[serde(rename = "loc-objs", deserialize_with = "field::objects")]
    pub objects: i64,
    /// Bytes processed locally.
    #[serde(rename = "loc-bytes", deserialize_with = "field::bytes")]
    pub bytes: i64,
    /// Objects sent.
    #[serde(rename = "out-objs", deserialize_with = "field::out_objects")]
    pub out_objects: i64,
    /// Bytes sent.
    #[serde(rename = "out-bytes", deserialize_with = "field::out_bytes")]
    pub out_bytes: i64,
    /// Objects received.
    #[serde(rename = "in-objs", deserialize_with = "field::in_objects")]
    pub in_objects: i64,
    /// Bytes received.
    #[serde(rename = "in-bytes", deserialize_with = "field::in_bytes")]
    pub in_bytes: i64,
}

/// A bucket as a snapshot names it.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct SnapBucket {
    /// The bucket name.
    #[serde(deserialize_with = "field::name")]
    pub name: String,
    /// Its provider (`ais`, `aws`, …).
    #[serde(deserialize_with = "field::provider")]
    pub provider: String,
    /// Its namespace.
    #[serde(deserialize_with = "field::namespace")]
    pub namespace: SnapNamespace,
}

/// A namespace as a snapshot names it.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct SnapNamespace {
    /// The cluster that owns the bucket (empty: this one).
    #[serde(deserialize_with = "field::uuid")]
    pub uuid: String,
    /// The namespace name.
    #[serde(deserialize_with = "field::name")]
    pub name: String,
}

/// The snapshots of one target.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TargetSnaps {
    /// The target's id.
    pub target: String,
    /// What it reports, in its order (empty when it maps to `null` or `[]`).
    pub snaps: Vec<JobSnap>,
}

/// A job's snapshots, grouped by target, in the order the cluster sent them (the SDK's
/// `AggregatedJobSnap`): `{"<target-id>": [JobSnap, …], …}`.
///
/// Parsed by [`Snapshots::parse`]; a target mapped to `null` has no snapshots, a whole body of
/// `null` has no targets, and a target named twice keeps its first place and its last value
/// (as Python's `json` does). Conditions are over all snapshots of all targets, flattened in
/// order ([`Snapshots::iter`]).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Snapshots {
    targets: Vec<TargetSnaps>,
}

impl Snapshots {
    /// The snapshots in `body`.
    pub fn parse(body: &[u8]) -> Result<Self, ParseError> {
        serde_json::from_slice(body).map_err(ParseError::snapshots)
    }

    /// Snapshots of these targets.
    pub fn from_targets(targets: Vec<TargetSnaps>) -> Self {
        Snapshots { targets }
    }

    /// The targets, in order.
    pub fn targets(&self) -> &[TargetSnaps] {
        &self.targets
    }

    /// Every snapshot of every target, flattened in order.
    pub fn iter(&self) -> impl Iterator<Item = &JobSnap> {
        self.targets.iter().flat_map(|t| t.snaps.iter())
    }

    /// How many snapshots in all.
    pub fn len(&self) -> usize {
        self.targets.iter().map(|t| t.snaps.len()).sum()
    }

    /// No snapshot at all (no target, or none reporting): "no info yet".
    pub fn is_empty(&self) -> bool {
        self.targets.iter().all(|t| t.snaps.is_empty())
    }

    /// Some snapshot is aborted (or has an abort error).
    pub fn any_aborted(&self) -> bool {
        self.iter().any(JobSnap::is_aborted)
    }

    /// Every snapshot is idle or aborted (true when there are none).
    pub fn all_idle(&self) -> bool {
        self.iter().all(|s| s.is_idle || s.is_aborted())
    }

    /// Some snapshot is aborted or has ended: the single-node condition.
    pub fn any_finished(&self) -> bool {
        self.iter().any(|s| s.is_aborted() || s.has_ended())
    }

    /// The first non-empty kind, in order: how a job given by id alone learns its kind.
    pub fn first_kind(&self) -> Option<&str> {
        self.iter().map(|s| s.kind.as_str()).find(|k| !k.is_empty())
    }

    /// The body the cluster sends for these snapshots.
    pub fn to_json(&self) -> Vec<u8> {
        // A map of strings to plain structs: serialising into a Vec cannot fail.
        serde_json::to_vec(self).unwrap_or_default()
    }
}

impl Serialize for Snapshots {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(self.targets.len()))?;
        for target in &self.targets {
            map.serialize_entry(&target.target, &target.snaps)?;
        }
        map.end()
    }
}

impl<'de> Deserialize<'de> for Snapshots {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_option(SnapshotsVisitor)
    }
}

struct SnapshotsVisitor;

impl<'de> Visitor<'de> for SnapshotsVisitor {
    type Value = Snapshots;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a map of target ids to lists of job snapshots")
    }

    fn visit_none<E: de::Error>(self) -> Result<Snapshots, E> {
        Ok(Snapshots::default())
    }

    fn visit_unit<E: de::Error>(self) -> Result<Snapshots, E> {
        Ok(Snapshots::default())
    }

    fn visit_some<D: Deserializer<'de>>(self, deserializer: D) -> Result<Snapshots, D::Error> {
        deserializer.deserialize_map(self)
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Snapshots, A::Error> {
        let mut targets: Vec<TargetSnaps> = Vec::new();
        let mut seen: HashMap<String, usize> = HashMap::new();
        while let Some(target) = map.next_key::<String>()? {
            let snaps = map.next_value::<Option<Vec<JobSnap>>>().map_err(|error| {
                de::Error::custom(format_args!(
                    "target {target:?}: {}",
                    super::de::without_position(&error.to_string())
                ))
            })?;
            let snaps = snaps.unwrap_or_default();
            match seen.get(&target) {
                Some(&at) => targets[at].snaps = snaps,
                None => {
                    seen.insert(target.clone(), targets.len());
                    targets.push(TargetSnaps { target, snaps });
                }
            }
        }
        Ok(Snapshots { targets })
    }
}
