//! The `tmap` and `pmap` of a cluster map: nodes keyed by id, in the map's order.

use std::fmt;

use serde::de::{self, MapAccess, Visitor};
use serde::ser::SerializeMap;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::Snode;

/// Nodes keyed by id, in order: a JSON object `{"<id>": <node>, …}` on the wire.
///
/// The order is the order of the JSON object (or of insertion), and it matters: placement
/// breaks ties in favour of the first target in this order, as the SDK does iterating its
/// dict. Keys are unique. A key is normally its node's `daemon_id`; a parsed map keeps its
/// keys as they were even when they differ (the SDK does not check them either), and
/// serialises them back unchanged.
///
/// Lookups by key scan the map: clusters have tens to hundreds of nodes.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct NodeMap {
    entries: Vec<(String, Snode)>,
}

impl NodeMap {
    /// An empty map.
    pub fn new() -> Self {
        NodeMap::default()
    }

    /// The number of nodes.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether there is no node.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The node under `key`.
    pub fn get(&self, key: &str) -> Option<&Snode> {
        self.entries.iter().find(|(k, _)| k == key).map(|(_, node)| node)
    }

    /// The node under `key`, to change it (say, to set its flags).
    pub fn get_mut(&mut self, key: &str) -> Option<&mut Snode> {
        self.entries.iter_mut().find(|(k, _)| k == key).map(|(_, node)| node)
    }

    /// Whether a node is under `key`.
    pub fn contains(&self, key: &str) -> bool {
        self.get(key).is_some()
    }

    /// Puts `node` under its `daemon_id`: at the end if the key is new, in place of the old
    /// node (which keeps its place in the order) if not. Returns the node it replaced.
    pub fn insert(&mut self, node: Snode) -> Option<Snode> {
        match self.get_mut(&node.daemon_id) {
            Some(old) => Some(std::mem::replace(old, node)),
            None => {
                self.entries.push((node.daemon_id.clone(), node));
                None
            }
        }
    }

    /// Takes out the node under `key`; the others keep their order.
    pub fn remove(&mut self, key: &str) -> Option<Snode> {
        let position = self.entries.iter().position(|(k, _)| k == key)?;
        Some(self.entries.remove(position).1)
    }

    /// The keys and nodes, in order.
    pub fn iter(&self) -> impl ExactSizeIterator<Item = (&str, &Snode)> {
        self.entries.iter().map(|(key, node)| (key.as_str(), node))
    }

    /// The nodes, in order.
    pub fn nodes(&self) -> impl ExactSizeIterator<Item = &Snode> {
        self.entries.iter().map(|(_, node)| node)
    }
}

impl FromIterator<Snode> for NodeMap {
    /// The nodes under their ids, as by [`NodeMap::insert`] one after the other.
    fn from_iter<I: IntoIterator<Item = Snode>>(nodes: I) -> Self {
        let mut map = NodeMap::new();
        for node in nodes {
            map.insert(node);
        }
        map
    }
}

impl Serialize for NodeMap {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(self.entries.len()))?;
        for (key, node) in &self.entries {
            map.serialize_entry(key, node)?;
        }
        map.end()
    }
}

impl<'de> Deserialize<'de> for NodeMap {
    /// A JSON object of nodes, in its order. A key listed twice is an error (aisnode never
    /// sends one; the SDK would keep the first place and the last node).
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_map(NodeMapVisitor)
    }
}

struct NodeMapVisitor;

impl<'de> Visitor<'de> for NodeMapVisitor {
    type Value = NodeMap;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an object of nodes keyed by id")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut access: A) -> Result<NodeMap, A::Error> {
        let mut entries = Vec::<(String, Snode)>::new();
        while let Some(entry) = access.next_entry::<String, Snode>()? {
            entries.push(entry);
        }
        let mut keys: Vec<&str> = entries.iter().map(|(key, _)| key.as_str()).collect();
        keys.sort_unstable();
        if let Some(twice) = keys.windows(2).find_map(|pair| (pair[0] == pair[1]).then_some(pair[0])) {
            return Err(de::Error::custom(format_args!("node {twice:?} is listed twice")));
        }
        Ok(NodeMap { entries })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ais::NetInfo;

    fn node(id: &str) -> Snode {
        Snode::target(id, NetInfo::default())
    }

    #[test]
    fn keeps_order_and_replaces_in_place() {
        let mut map: NodeMap = ["c", "a", "b"].into_iter().map(node).collect();
        let mut replacement = node("a");
        replacement.id_digest = 7;
        assert_eq!(map.insert(replacement).map(|old| old.id_digest), Some(node("a").id_digest));
        let keys: Vec<_> = map.iter().map(|(k, n)| (k, n.id_digest == 7)).collect();
        assert_eq!(keys, [("c", false), ("a", true), ("b", false)]);
        assert_eq!(map.remove("c").map(|n| n.daemon_id), Some("c".to_owned()));
        assert_eq!(map.nodes().map(|n| n.daemon_id.as_str()).collect::<Vec<_>>(), ["a", "b"]);
        assert!(map.remove("c").is_none() && !map.contains("c") && map.contains("b"));
    }

    #[test]
    fn parsing_keeps_order_and_keys_and_refuses_duplicates() {
        let json = r#"{"z":{"daemon_id":"z","daemon_type":"target"},
                       "k":{"daemon_id":"other","daemon_type":"target"}}"#;
        let map: NodeMap = serde_json::from_str(json).unwrap();
        let seen: Vec<_> = map.iter().map(|(k, n)| (k, n.daemon_id.as_str())).collect();
        assert_eq!(seen, [("z", "z"), ("k", "other")]);
        let back: NodeMap = serde_json::from_slice(&serde_json::to_vec(&map).unwrap()).unwrap();
        assert_eq!(back, map);
        let twice = r#"{"z":{"daemon_id":"z","daemon_type":"target"},"a":{"daemon_id":"a","daemon_type":"target"},
                        "z":{"daemon_id":"z2","daemon_type":"target"}}"#;
        let error = serde_json::from_str::<NodeMap>(twice).unwrap_err();
        assert!(error.to_string().starts_with(r#"node "z" is listed twice"#), "{error}");
    }
}
