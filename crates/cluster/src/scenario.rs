//! Scenarios: the cluster's configuration, in code or in a TOML or JSON file.
//!
//! A file says how many targets stand behind a proxy (`targets = N`; one node when absent), and
//! lists buckets (`[[bucket]]`), their objects (`[[bucket.object]]`), fault rules (`[[fault]]`),
//! the link object GETs go through (`[link]`: a per-connection bandwidth cap and first-byte
//! latency), range fault rules (`[[range_fault]]`) and per-node events (`[[node_event]]`); see
//! `scenarios/cold-get.toml`, `scenarios/ranged.toml` and `scenarios/topology.toml` in this
//! crate for commented examples, and `scenarios/faults.json` for the JSON shape (`{"bucket":
//! [...], "fault": [...]}`; the plural keys `buckets`, `objects`, `faults`, `range_faults` and
//! `node_events` are accepted too). Unknown keys are errors.
//!
//! Parsing checks the shape; [`ClusterConfig::validate`] (run by every constructor here and
//! by [`Cluster::start`](crate::Cluster::start)) checks the meaning and names what is wrong.

use std::collections::HashSet;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use bytes::Bytes;
use serde::Deserialize;
use stowage_proto::ais::{Bucket, Namespace, Provider, UnknownProvider};

use crate::faults::{FaultRule, InvalidFault};
use crate::node_faults::NodeEvent;
use crate::shaping::{InvalidLink, Link, RangeFaultRule};
use crate::store::{Content, DEFAULT_COLD_GET_LOCK};
use crate::topology::NodeError;

/// The largest generated object a scenario may declare: 64 GiB.
pub const MAX_GENERATED_SIZE: u64 = 64 << 30;
/// The most targets a cluster may have.
pub const MAX_TARGETS: u32 = 128;

/// Everything [`Cluster::start`](crate::Cluster::start) needs.
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClusterConfig {
    /// Where to listen (the proxy, in a multi-node cluster); `127.0.0.1:0` (a free port) when
    /// `None`. Targets listen on free ports of the same IP.
    #[serde(default)]
    pub addr: Option<SocketAddr>,
    /// `None` (the default): one node that serves everything itself, as a proxy and a target
    /// in one. `Some(n)`, 1 ≤ n ≤ [`MAX_TARGETS`]: a proxy that redirects every object request
    /// to the one of `n` targets that owns the object (see [`Cluster`](crate::Cluster)).
    #[serde(default)]
    pub targets: Option<u32>,
    /// The buckets and their objects (`[[bucket]]` in TOML, `"bucket": [...]` in JSON).
    #[serde(default, rename = "bucket", alias = "buckets")]
    pub buckets: Vec<BucketSpec>,
    /// Fault rules, tried in order (`[[fault]]`, `"fault": [...]`).
    #[serde(default, rename = "fault", alias = "faults")]
    pub faults: Vec<FaultRule>,
    /// The bandwidth cap per connection and first-byte latency of object GETs (`[link]`);
    /// no cap, no latency by default.
    #[serde(default)]
    pub link: Link,
    /// Range fault rules, tried in order (`[[range_fault]]`, `"range_fault": [...]`).
    #[serde(default, rename = "range_fault", alias = "range_faults")]
    pub range_faults: Vec<RangeFaultRule>,
    /// Per-node faults on a schedule (`[[node_event]]`, `"node_event": [...]`); a multi-node
    /// cluster only.
    #[serde(default, rename = "node_event", alias = "node_events")]
    pub node_events: Vec<NodeEvent>,
}

/// A bucket to create at start.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BucketSpec {
    /// The bucket name: letters, digits, `-`, `_` and `.`.
    pub name: String,
    /// `ais` (the default), `aws`/`s3`, `gcp`/`gs`, `azure`/`az`, `oci` or `ht`.
    #[serde(default = "default_provider")]
    pub provider: String,
    /// `""` (the default, global namespace), `@uuid`, `@uuid#name` or `#name`.
    #[serde(default)]
    pub namespace: String,
    /// How long a cold GET holds the object's write lock, in milliseconds; default 2000.
    #[serde(default = "default_cold_get_lock_ms")]
    pub cold_get_lock_ms: u64,
    /// The objects in the bucket's backend (`[[bucket.object]]`).
    #[serde(default, rename = "object", alias = "objects")]
    pub objects: Vec<ObjectSpec>,
}

/// An object to create at start: exactly one of `size` (generated content) or `content`.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ObjectSpec {
    /// The object name; may contain `/`.
    pub name: String,
    /// Generate this many bytes (see [`Generator`](crate::Generator)); at most
    /// [`MAX_GENERATED_SIZE`].
    #[serde(default)]
    pub size: Option<u64>,
    /// Use these bytes (UTF-8 text).
    #[serde(default)]
    pub content: Option<String>,
}

/// What is wrong with a scenario.
#[derive(Debug, thiserror::Error)]
pub enum ScenarioError {
    /// The file could not be read.
    #[error("cannot read scenario file {}: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The file name ends in neither `.toml` nor `.json`.
    #[error("scenario file {} must end in .toml or .json", path.display())]
    UnsupportedFormat {
        /// The file.
        path: PathBuf,
    },
    /// Not TOML, or not the shape of a scenario (unknown key, wrong type, …).
    #[error("invalid TOML scenario: {0}")]
    Toml(#[from] toml::de::Error),
    /// Not JSON, or not the shape of a scenario.
    #[error("invalid JSON scenario: {0}")]
    Json(#[from] serde_json::Error),
    /// A bucket with an empty name.
    #[error("bucket #{index} has an empty name")]
    EmptyBucketName {
        /// Its position in the list, from 0.
        index: usize,
    },
    /// A bucket name with characters AIStore does not allow.
    #[error("bucket {bucket:?}: bad name (letters, digits, '-', '_' and '.' only)")]
    BadBucketName {
        /// The name.
        bucket: String,
    },
    /// A provider AIStore does not know.
    #[error("bucket {bucket:?}: {source}")]
    UnknownProvider {
        /// The bucket name.
        bucket: String,
        /// The provider.
        source: UnknownProvider,
    },
    /// A namespace not of the form `@uuid#name`.
    #[error(
        "bucket {bucket:?}: bad namespace {namespace:?} (expected \"\", \"@uuid\", \"@uuid#name\" or \"#name\"; \
         letters, digits, '-', '_' and '.')"
    )]
    BadNamespace {
        /// The bucket name.
        bucket: String,
        /// The namespace.
        namespace: String,
    },
    /// Two buckets with the same name, provider and namespace.
    #[error("bucket {bucket} is declared twice")]
    DuplicateBucket {
        /// The bucket, as `provider://[namespace/]name`.
        bucket: String,
    },
    /// An object with an empty name.
    #[error("bucket {bucket}: object #{index} has an empty name")]
    EmptyObjectName {
        /// The bucket, as `provider://[namespace/]name`.
        bucket: String,
        /// The object's position in the bucket's list, from 0.
        index: usize,
    },
    /// Two objects with the same name in one bucket.
    #[error("bucket {bucket}: object {object:?} is declared twice")]
    DuplicateObject {
        /// The bucket, as `provider://[namespace/]name`.
        bucket: String,
        /// The object name.
        object: String,
    },
    /// An object with neither `size` nor `content`.
    #[error("bucket {bucket}: object {object:?} needs `size` (generated bytes) or `content`")]
    MissingContent {
        /// The bucket, as `provider://[namespace/]name`.
        bucket: String,
        /// The object name.
        object: String,
    },
    /// An object with both `size` and `content`.
    #[error("bucket {bucket}: object {object:?} has both `size` and `content`; give one")]
    AmbiguousContent {
        /// The bucket, as `provider://[namespace/]name`.
        bucket: String,
        /// The object name.
        object: String,
    },
    /// A generated object larger than [`MAX_GENERATED_SIZE`].
    #[error("bucket {bucket}: object {object:?} size {size} exceeds the limit of {MAX_GENERATED_SIZE} bytes")]
    ObjectTooLarge {
        /// The bucket, as `provider://[namespace/]name`.
        bucket: String,
        /// The object name.
        object: String,
        /// The declared size.
        size: u64,
    },
    /// A fault rule that cannot be applied.
    #[error("fault #{index}: {source}")]
    Fault {
        /// Its position in the list, from 0.
        index: usize,
        /// What is wrong.
        source: InvalidFault,
    },
    /// A range fault rule that cannot be applied.
    #[error("range_fault #{index}: {source}")]
    RangeFault {
        /// Its position in the list, from 0.
        index: usize,
        /// What is wrong.
        source: InvalidFault,
    },
    /// A link that cannot be applied.
    #[error(transparent)]
    Link(#[from] InvalidLink),
    /// A number of targets out of range.
    #[error("targets = {targets}: a cluster has 1 to {MAX_TARGETS} targets (leave it out for a single node)")]
    Targets {
        /// The number asked for.
        targets: u32,
    },
    /// A node event that cannot be applied.
    #[error("node_event #{index}: {source}")]
    NodeEvent {
        /// Its position in the list, from 0.
        index: usize,
        /// What is wrong.
        source: NodeError,
    },
}

/// A validated configuration, ready to seed a cluster.
#[derive(Debug)]
pub(crate) struct Scenario {
    /// The number of targets behind the proxy; 0: a single node.
    pub(crate) targets: usize,
    pub(crate) buckets: Vec<SeedBucket>,
    pub(crate) faults: Vec<FaultRule>,
    pub(crate) link: Link,
    pub(crate) range_faults: Vec<RangeFaultRule>,
    pub(crate) node_events: Vec<NodeEvent>,
}

/// A validated bucket and its backend's objects.
#[derive(Debug)]
pub(crate) struct SeedBucket {
    pub(crate) bucket: Bucket,
    pub(crate) cold_get_lock: Duration,
    pub(crate) objects: Vec<(String, Content)>,
}

impl ClusterConfig {
    /// Reads a `.toml` or `.json` scenario file (by extension, case-insensitive).
    pub fn from_file(path: &Path) -> Result<Self, ScenarioError> {
        let extension = path.extension().and_then(|e| e.to_str()).map(str::to_ascii_lowercase);
        let parse = match extension.as_deref() {
            Some("toml") => Self::from_toml_str,
            Some("json") => Self::from_json_str,
            _ => return Err(ScenarioError::UnsupportedFormat { path: path.to_owned() }),
        };
        let text =
            std::fs::read_to_string(path).map_err(|source| ScenarioError::Io { path: path.to_owned(), source })?;
        parse(&text)
    }

    /// Parses and validates a TOML scenario.
    pub fn from_toml_str(s: &str) -> Result<Self, ScenarioError> {
        let config: Self = toml::from_str(s)?;
        config.validate()?;
        Ok(config)
    }

    /// Parses and validates a JSON scenario.
    pub fn from_json_str(s: &str) -> Result<Self, ScenarioError> {
        let config: Self = serde_json::from_str(s)?;
        config.validate()?;
        Ok(config)
    }

    /// Checks the number of targets, names, providers, namespaces, object contents, fault
    /// rules, the link and the node events.
    pub fn validate(&self) -> Result<(), ScenarioError> {
        self.resolve().map(drop)
    }

    /// Validates and converts to the form the cluster is seeded from.
    pub(crate) fn resolve(&self) -> Result<Scenario, ScenarioError> {
        let targets = match self.targets {
            None => 0,
            Some(n @ 1..=MAX_TARGETS) => n as usize,
            Some(targets) => return Err(ScenarioError::Targets { targets }),
        };
        let mut seen = HashSet::new();
        let mut buckets = Vec::with_capacity(self.buckets.len());
        for (index, spec) in self.buckets.iter().enumerate() {
            let seed = spec.resolve(index)?;
            if !seen.insert(seed.bucket.clone()) {
                return Err(ScenarioError::DuplicateBucket { bucket: display_bucket(&seed.bucket) });
            }
            buckets.push(seed);
        }
        for (index, rule) in self.faults.iter().enumerate() {
            rule.validate().map_err(|source| ScenarioError::Fault { index, source })?;
        }
        for (index, rule) in self.range_faults.iter().enumerate() {
            rule.validate().map_err(|source| ScenarioError::RangeFault { index, source })?;
        }
        self.link.validate()?;
        for (index, event) in self.node_events.iter().enumerate() {
            event.validate(targets).map_err(|source| ScenarioError::NodeEvent { index, source })?;
        }
        Ok(Scenario {
            targets,
            buckets,
            faults: self.faults.clone(),
            link: self.link,
            range_faults: self.range_faults.clone(),
            node_events: self.node_events.clone(),
        })
    }
}

impl BucketSpec {
    /// An empty bucket with the default namespace and cold-GET lock.
    pub fn new(name: impl Into<String>, provider: impl Into<String>) -> Self {
        BucketSpec {
            name: name.into(),
            provider: provider.into(),
            namespace: String::new(),
            cold_get_lock_ms: default_cold_get_lock_ms(),
            objects: Vec::new(),
        }
    }

    /// Adds an object.
    pub fn object(mut self, object: ObjectSpec) -> Self {
        self.objects.push(object);
        self
    }

    fn resolve(&self, index: usize) -> Result<SeedBucket, ScenarioError> {
        let name = &self.name;
        if name.is_empty() {
            return Err(ScenarioError::EmptyBucketName { index });
        }
        if !is_name(name) {
            return Err(ScenarioError::BadBucketName { bucket: name.clone() });
        }
        let provider: Provider =
            self.provider.parse().map_err(|source| ScenarioError::UnknownProvider { bucket: name.clone(), source })?;
        let namespace = parse_namespace(&self.namespace)
            .ok_or_else(|| ScenarioError::BadNamespace { bucket: name.clone(), namespace: self.namespace.clone() })?;
        let bucket = Bucket { name: name.clone(), provider, namespace };
        let shown = display_bucket(&bucket);

        let mut seen = HashSet::new();
        let mut objects = Vec::with_capacity(self.objects.len());
        for (index, spec) in self.objects.iter().enumerate() {
            if spec.name.is_empty() {
                return Err(ScenarioError::EmptyObjectName { bucket: shown, index });
            }
            if !seen.insert(spec.name.as_str()) {
                return Err(ScenarioError::DuplicateObject { bucket: shown, object: spec.name.clone() });
            }
            let content = spec.content(&shown)?;
            objects.push((spec.name.clone(), content));
        }
        Ok(SeedBucket { bucket, cold_get_lock: Duration::from_millis(self.cold_get_lock_ms), objects })
    }
}

impl Default for BucketSpec {
    /// An unnamed `ais` bucket (fill in `name`).
    fn default() -> Self {
        BucketSpec::new("", default_provider())
    }
}

impl ObjectSpec {
    /// An object of `size` generated bytes.
    pub fn generated(name: impl Into<String>, size: u64) -> Self {
        ObjectSpec { name: name.into(), size: Some(size), content: None }
    }

    /// An object holding `content`.
    pub fn text(name: impl Into<String>, content: impl Into<String>) -> Self {
        ObjectSpec { name: name.into(), size: None, content: Some(content.into()) }
    }

    fn content(&self, bucket: &str) -> Result<Content, ScenarioError> {
        let (bucket, object) = (bucket.to_owned(), self.name.clone());
        match (self.size, &self.content) {
            (Some(size), None) if size > MAX_GENERATED_SIZE => {
                Err(ScenarioError::ObjectTooLarge { bucket, object, size })
            }
            (Some(size), None) => Ok(Content::generated(&self.name, size)),
            (None, Some(text)) => Ok(Content::Bytes(Bytes::from(text.clone()))),
            (None, None) => Err(ScenarioError::MissingContent { bucket, object }),
            (Some(_), Some(_)) => Err(ScenarioError::AmbiguousContent { bucket, object }),
        }
    }
}

/// `provider://name`, or `provider://@uuid#ns/name` outside the global namespace (AIStore's
/// notation).
pub(crate) fn display_bucket(bucket: &Bucket) -> String {
    if bucket.namespace.is_global() {
        format!("{}://{}", bucket.provider, bucket.name)
    } else {
        format!("{}://{}/{}", bucket.provider, bucket.namespace, bucket.name)
    }
}

/// `""`, `@uuid`, `@uuid#name` or `#name`, each part a [name](is_name) or empty.
fn parse_namespace(s: &str) -> Option<Namespace> {
    if !(s.is_empty() || s.starts_with('@') || s.starts_with('#')) {
        return None;
    }
    let namespace = Namespace::parse(s);
    let part_ok = |part: &str| part.is_empty() || is_name(part);
    (part_ok(&namespace.uuid) && part_ok(&namespace.name)).then_some(namespace)
}

/// AIStore's name alphabet: ASCII letters and digits, `-`, `_`, `.`; not empty.
fn is_name(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
}

fn default_provider() -> String {
    Provider::Ais.as_str().to_owned()
}

fn default_cold_get_lock_ms() -> u64 {
    DEFAULT_COLD_GET_LOCK.as_millis() as u64
}
