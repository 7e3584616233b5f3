//! The cluster map (*Smap*): the proxies and targets of an AIStore cluster, and which target
//! owns an object.
//!
//! A real cluster is one or more proxies (gateways) and targets (storage nodes). A proxy
//! answers every object GET, HEAD, PUT and POST with a `307` to the target that owns the
//! object, chosen by highest-random-weight placement over the cluster map; a client that
//! knows the map can skip the hop and route straight to that target, as the Python SDK does
//! for `direct` reads. This module holds the map ([`Smap`], [`Snode`], [`NetInfo`],
//! [`NodeMap`]) and the placement ([`Smap::target_for`]).
//!
//! # The wire format
//!
//! `GET /v1/daemon?what=smap` answers the map as JSON: aisnode's `meta.Smap`, `meta.Snode` and
//! `meta.NetInfo` (`core/meta/smap.go`). The AIStore Python SDK 2.0.0 models it in
//! `aistore/sdk/types.py` (`Smap`, `Snode`, `NetInfo`) and parses it with pydantic
//! (`aistore/sdk/utils.py: decode_response`, `TypeAdapter(Smap).validate_json`). [`Smap::parse`]
//! takes what that model takes:
//!
//! - `tmap` and `pmap` (objects of nodes keyed by id) and `proxy_si` (the primary) are required;
//!   `version` (0), `uuid` and `creation_time` (`""`) may be absent;
//! - `version` is a JSON *string* as aisnode sends it (`json:"version,string"`); a number is
//!   taken too, as pydantic takes it. It is serialised as a string;
//! - a node requires `daemon_id` and `daemon_type`; `flags` and `id_digest` default to 0, each
//!   of the three networks (`public_net`, `intra_control_net`, `intra_data_net`) to empty, and
//!   a network's `node_ip_addr`, `daemon_port` and `direct_url` to `""`;
//! - the order of `tmap` is kept, because placement breaks ties by it;
//! - unknown fields (`pub_extra`, `ext`, …) are ignored; map keys are not checked against
//!   `daemon_id` (the SDK does not check them).
//!
//! Stricter than pydantic, where its leniency is an accident of Python that aisnode never
//! relies on: integers must be JSON integers in range (`flags` and `id_digest` are `u64`, as in
//! aisnode; pydantic would also take `"7"`, `7.0`, `true` or `-1`), and an object that lists a
//! key twice (a field, or a node id) is malformed (pydantic keeps the last value).
//!
//! Parsing allocates in proportion to the input (the map's strings and nodes), never more.
//!
//! # Placement
//!
//! See [`Smap::target_for`] and the functions it is made of: [`object_uname`], [`digest`],
//! [`node_digest`], [`xoshiro256_hash`], [`Snode::in_maintenance`].

mod hrw;
mod node;
mod node_map;

use serde::{Deserialize, Serialize};

pub use hrw::{DirectUrlError, MLCG32, PlacementError, digest, node_digest, object_uname, xoshiro256_hash};
pub use node::{NetInfo, NodeFlags, Snode};
pub use node_map::NodeMap;

/// The cluster map, as `GET /v1/daemon?what=smap` serves it.
///
/// Build one for a cluster of your own with [`Smap::new`] and its public fields; read one a
/// cluster served with [`Smap::parse`]; serve one with [`Smap::to_json`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Smap {
    /// The targets, keyed by id (`tmap`).
    #[serde(rename = "tmap")]
    pub targets: NodeMap,
    /// The proxies, keyed by id (`pmap`); the primary is normally one of them.
    #[serde(rename = "pmap")]
    pub proxies: NodeMap,
    /// The primary proxy (`proxy_si`).
    #[serde(rename = "proxy_si")]
    pub primary: Snode,
    /// The map's version: every change of membership or flags increments it (`version`).
    #[serde(default, with = "version")]
    pub version: i64,
    /// The cluster's uuid, assigned once when the cluster is created (`uuid`).
    #[serde(default)]
    pub uuid: String,
    /// When the cluster was created, as aisnode formats it (`creation_time`).
    #[serde(default)]
    pub creation_time: String,
}

/// Why bytes are not a cluster map.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum SmapError {
    /// The bytes are not JSON, or stop before the JSON does.
    #[error("cluster map is not JSON (line {line}, column {column}): {reason}")]
    NotJson {
        /// The line (from 1) where parsing stopped.
        line: usize,
        /// The column (from 1) where parsing stopped.
        column: usize,
        /// What is wrong there.
        reason: String,
    },
    /// JSON, but not a cluster map: a field is missing, or of the wrong type, or out of range.
    #[error("cluster map is malformed (line {line}, column {column}): {reason}")]
    Malformed {
        /// The line (from 1) where parsing stopped.
        line: usize,
        /// The column (from 1) where parsing stopped.
        column: usize,
        /// What is wrong there: the field missing, or the value and the type expected.
        reason: String,
    },
}

/// The longest `reason` a [`SmapError`] keeps (serde quotes offending values, which may be long).
const MAX_REASON: usize = 200;

impl SmapError {
    fn from_json(error: &serde_json::Error) -> Self {
        let (line, column) = (error.line(), error.column());
        let full = error.to_string();
        let reason = full.strip_suffix(&format!(" at line {line} column {column}")).unwrap_or(&full);
        let reason = match reason.char_indices().nth(MAX_REASON) {
            Some((end, _)) => format!("{}…", &reason[..end]),
            None => reason.to_owned(),
        };
        if error.is_data() {
            SmapError::Malformed { line, column, reason }
        } else {
            SmapError::NotJson { line, column, reason }
        }
    }
}

impl Smap {
    /// A map of one proxy, `primary`, and no target yet; version 0, no uuid.
    pub fn new(primary: Snode) -> Self {
        Smap {
            targets: NodeMap::new(),
            proxies: std::iter::once(primary.clone()).collect(),
            primary,
            version: 0,
            uuid: String::new(),
            creation_time: String::new(),
        }
    }

    /// Parses the JSON of `GET /v1/daemon?what=smap` (see the [module docs](self) for what is
    /// required and what is lenient).
    pub fn parse(json: &[u8]) -> Result<Self, SmapError> {
        serde_json::from_slice(json).map_err(|error| SmapError::from_json(&error))
    }

    /// The JSON aisnode serves (and the SDK's model parses).
    pub fn to_json(&self) -> Vec<u8> {
        // Serialising structs of strings and integers, and maps with string keys, into a Vec
        // cannot fail.
        serde_json::to_vec(self).unwrap_or_default()
    }

    /// Every node: the targets, then the proxies, in map order.
    pub fn nodes(&self) -> impl Iterator<Item = &Snode> {
        self.targets.nodes().chain(self.proxies.nodes())
    }

    /// The host and port of every node's public URL (`public_net.direct_url`), where a proxy
    /// redirects clients: what a client trusts with its credentials
    /// ([`RedirectPolicy::trusting`](crate::redirect::RedirectPolicy::trusting)). URLs that do
    /// not parse are skipped.
    pub fn public_authorities(&self) -> impl Iterator<Item = http::uri::Authority> + '_ {
        self.nodes().filter_map(|node| node.public_net.url.parse::<http::Uri>().ok()?.authority().cloned())
    }
}

/// `version`: a decimal string on the wire (Go's `,string`), a JSON integer accepted too.
mod version {
    use std::fmt;

    use serde::de::{self, Visitor};
    use serde::{Deserializer, Serializer};

    pub(super) fn serialize<S: Serializer>(version: &i64, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(version)
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<i64, D::Error> {
        deserializer.deserialize_any(VersionVisitor)
    }

    struct VersionVisitor;

    impl Visitor<'_> for VersionVisitor {
        type Value = i64;

        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("a version: a 64-bit integer, or one as a decimal string")
        }

        fn visit_i64<E: de::Error>(self, v: i64) -> Result<i64, E> {
            Ok(v)
        }

        fn visit_u64<E: de::Error>(self, v: u64) -> Result<i64, E> {
            i64::try_from(v).map_err(|_| E::invalid_value(de::Unexpected::Unsigned(v), &self))
        }

        fn visit_str<E: de::Error>(self, v: &str) -> Result<i64, E> {
            v.parse().map_err(|_| E::invalid_value(de::Unexpected::Str(v), &self))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NODE: &str = r#"{"daemon_id":"p1","daemon_type":"proxy"}"#;

    fn smap_with(fields: &str) -> Result<Smap, SmapError> {
        Smap::parse(format!(r#"{{"tmap":{{}},"pmap":{{}},"proxy_si":{NODE}{fields}}}"#).as_bytes())
    }

    #[test]
    fn version_is_a_string_or_a_number() {
        assert_eq!(smap_with(r#","version":"12""#).unwrap().version, 12);
        assert_eq!(smap_with(r#","version":12"#).unwrap().version, 12);
        assert_eq!(smap_with("").unwrap().version, 0);
        for bad in [r#""12a""#, "1.5", "true", "18446744073709551615"] {
            let error = smap_with(&format!(r#","version":{bad}"#)).unwrap_err();
            assert!(matches!(error, SmapError::Malformed { .. }), "{bad}: {error}");
        }
        let smap = smap_with(r#","version":"7""#).unwrap();
        assert!(String::from_utf8(smap.to_json()).unwrap().contains(r#""version":"7""#));
    }

    #[test]
    fn errors_say_what_is_wrong_and_where() {
        let error = Smap::parse(b"{\"tmap\": {}").unwrap_err();
        assert!(matches!(error, SmapError::NotJson { line: 1, .. }), "{error}");
        let error = Smap::parse(b"[1]").unwrap_err();
        assert!(matches!(error, SmapError::Malformed { .. }), "{error}");
        let error = smap_with(r#","tmap":{}"#).unwrap_err();
        assert!(error.to_string().contains("duplicate field `tmap`"), "{error}");
        let error = Smap::parse(br#"{"tmap":{},"pmap":{}}"#).unwrap_err();
        assert_eq!(error.to_string(), "cluster map is malformed (line 1, column 21): missing field `proxy_si`");
        let error = Smap::parse(br#"{"tmap":{"t":{"daemon_id":"t"}},"pmap":{},"proxy_si":{}}"#).unwrap_err();
        assert!(error.to_string().contains("missing field `daemon_type`"), "{error}");
        let json = format!(
            r#"{{"tmap":{{"t":{{"daemon_id":"t","daemon_type":"target","flags":-1}}}},"pmap":{{}},"proxy_si":{NODE}}}"#
        );
        let error = Smap::parse(json.as_bytes()).unwrap_err();
        assert!(error.to_string().contains("invalid value: integer `-1`"), "{error}");
    }

    #[test]
    fn long_reasons_are_cut() {
        let long = "x".repeat(10_000);
        let error = smap_with(&format!(r#","version":"{long}""#)).unwrap_err();
        let SmapError::Malformed { reason, .. } = error else { panic!("{error:?}") };
        assert!(reason.chars().count() <= MAX_REASON + 1 && reason.ends_with('…'), "{reason}");
    }

    #[test]
    fn unknown_fields_are_ignored_and_round_trips() {
        let smap = smap_with(r#","ext":{"a":[1,2]},"creation_time":"2025-01-01","uuid":"U""#).unwrap();
        assert_eq!((smap.uuid.as_str(), smap.creation_time.as_str()), ("U", "2025-01-01"));
        assert_eq!(Smap::parse(&smap.to_json()), Ok(smap));
    }

    #[test]
    fn public_authorities_are_the_nodes_direct_urls() {
        let mut smap = Smap::new(Snode::proxy("p1", NetInfo::new("http", "10.0.0.1", 8080)));
        smap.targets.insert(Snode::target("t1", NetInfo::new("https", "::1", 8081)));
        smap.targets.insert(Snode::target("t2", NetInfo { url: "not a url".into(), ..NetInfo::default() }));
        let authorities: Vec<String> = smap.public_authorities().map(|a| a.to_string()).collect();
        assert_eq!(authorities, ["[::1]:8081", "10.0.0.1:8080"]);
    }

    #[test]
    fn new_has_the_primary_among_the_proxies() {
        let primary = Snode::proxy("p1", NetInfo::new("http", "localhost", 8080));
        let smap = Smap::new(primary.clone());
        assert_eq!(smap.proxies.get("p1"), Some(&primary));
        assert_eq!(smap.nodes().count(), 1);
        assert_eq!(Smap::parse(&smap.to_json()), Ok(smap));
    }
}
