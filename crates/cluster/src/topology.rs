//! The nodes of a multi-node cluster and the cluster map that places objects on them.
//!
//! A multi-node cluster is one proxy (id [`PROXY_ID`]) and N targets (ids `t1`…`tN`), each on
//! its own port. The cluster map ([`Smap`], AIStore's *smap*) names them with their URLs and
//! flags and has a version; placement is the map's HRW ([`Smap::target_for`]). A target put in
//! maintenance is flagged, the version bumps, and placement skips it, so its objects belong to
//! the next target of their HRW order.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use stowage_proto::ais::{NetInfo, NodeFlags, ObjectAddress, PlacementError, Smap, Snode};

use crate::node::Role;

/// The daemon id of the proxy.
pub const PROXY_ID: &str = "p1";

/// The daemon id of target `index` (from 0): `t1`, `t2`, ….
pub(crate) fn target_id(index: usize) -> String {
    format!("t{}", index + 1)
}

/// A node of a multi-node cluster, as [`Cluster::targets`](crate::Cluster::targets) and
/// [`Cluster::proxy`](crate::Cluster::proxy) describe it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NodeInfo {
    /// Its daemon id in the cluster map.
    pub id: String,
    /// The address it listens on (kept across restarts).
    pub addr: SocketAddr,
}

impl NodeInfo {
    /// Its URL, `http://ip:port` (the map's `direct_url`).
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }
}

/// Why a per-node operation cannot be done.
#[derive(Debug, thiserror::Error)]
pub enum NodeError {
    /// No node has this id.
    #[error("no node {id:?} in this cluster ({known})")]
    Unknown {
        /// The id asked for.
        id: String,
        /// What the nodes are.
        known: String,
    },
    /// The operation is for targets, and this is the proxy.
    #[error("{id} is the proxy: only targets go down, restart or go into maintenance")]
    NotATarget {
        /// The proxy's id.
        id: String,
    },
    /// A restarted target could not listen on its port again.
    #[error("cannot listen on {addr} again: {source}")]
    Bind {
        /// Its address.
        addr: SocketAddr,
        /// Why.
        source: std::io::Error,
    },
    /// The cluster is shutting down: nothing restarts.
    #[error("the cluster is shutting down")]
    ShuttingDown,
}

/// Resolves a daemon id in a cluster of `targets` targets (0: the single node, which has no
/// named nodes).
pub(crate) fn resolve(id: &str, targets: usize) -> Result<Role, NodeError> {
    if targets > 0 && id == PROXY_ID {
        return Ok(Role::Proxy);
    }
    let digits = id.strip_prefix('t').filter(|n| !n.starts_with('0') && n.bytes().all(|b| b.is_ascii_digit()));
    let index = digits.and_then(|n| n.parse::<usize>().ok());
    match index {
        Some(n) if (1..=targets).contains(&n) => Ok(Role::Target(n - 1)),
        _ => {
            let known = match targets {
                0 => "a single-node cluster has no named nodes; set `targets`".to_owned(),
                1 => format!("its nodes are {PROXY_ID} and t1"),
                n => format!("its nodes are {PROXY_ID} and t1..t{n}"),
            };
            Err(NodeError::Unknown { id: id.to_owned(), known })
        }
    }
}

/// Resolves the id of a target.
pub(crate) fn resolve_target(id: &str, targets: usize) -> Result<usize, NodeError> {
    match resolve(id, targets)? {
        Role::Target(index) => Ok(index),
        Role::Proxy | Role::Single => Err(NodeError::NotATarget { id: id.to_owned() }),
    }
}

/// The live state of one node: how slow it is and how many requests it got.
#[derive(Debug)]
struct Node {
    info: NodeInfo,
    /// Every request waits this long before it is handled, in nanoseconds.
    first_byte: AtomicU64,
    /// Requests received.
    requests: AtomicU64,
}

impl Node {
    fn new(id: String, addr: SocketAddr) -> Self {
        Node { info: NodeInfo { id, addr }, first_byte: AtomicU64::new(0), requests: AtomicU64::new(0) }
    }
}

/// The proxy, the targets and the cluster map of a multi-node cluster.
#[derive(Debug)]
pub(crate) struct Topology {
    proxy: Node,
    /// In the order of the map's `tmap`.
    targets: Vec<Node>,
    smap: Mutex<Smap>,
}

impl Topology {
    /// The nodes listening on these addresses; map version 1, no target in maintenance.
    pub(crate) fn new(proxy: SocketAddr, targets: &[SocketAddr]) -> Self {
        let net = |addr: SocketAddr| NetInfo::new("http", addr.ip().to_string(), addr.port());
        let proxy = Node::new(PROXY_ID.to_owned(), proxy);
        let targets: Vec<Node> = targets.iter().enumerate().map(|(i, addr)| Node::new(target_id(i), *addr)).collect();
        let mut smap = Smap::new(Snode::proxy(PROXY_ID, net(proxy.info.addr)));
        smap.targets = targets.iter().map(|node| Snode::target(node.info.id.clone(), net(node.info.addr))).collect();
        smap.version = 1;
        smap.uuid = format!("stowage-{}", proxy.info.addr.port());
        Topology { proxy, targets, smap: Mutex::new(smap) }
    }

    fn node(&self, role: Role) -> Option<&Node> {
        match role {
            Role::Single => None,
            Role::Proxy => Some(&self.proxy),
            Role::Target(index) => self.targets.get(index),
        }
    }

    /// The number of targets.
    pub(crate) fn target_count(&self) -> usize {
        self.targets.len()
    }

    /// The proxy.
    pub(crate) fn proxy(&self) -> &NodeInfo {
        &self.proxy.info
    }

    /// The targets, in order.
    pub(crate) fn targets(&self) -> impl Iterator<Item = &NodeInfo> {
        self.targets.iter().map(|node| &node.info)
    }

    /// Target `index`, if there is one.
    pub(crate) fn target(&self, index: usize) -> Option<&NodeInfo> {
        self.targets.get(index).map(|node| &node.info)
    }

    /// Counts a request received by `role`.
    pub(crate) fn count(&self, role: Role) {
        if let Some(node) = self.node(role) {
            node.requests.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// The requests received by the proxy and by each target.
    pub(crate) fn requests(&self) -> (u64, Vec<u64>) {
        let get = |node: &Node| node.requests.load(Ordering::Relaxed);
        (get(&self.proxy), self.targets.iter().map(get).collect())
    }

    /// How long every request to `role` waits before it is handled.
    pub(crate) fn first_byte(&self, role: Role) -> Duration {
        self.node(role).map_or(Duration::ZERO, |node| Duration::from_nanos(node.first_byte.load(Ordering::Relaxed)))
    }

    /// Sets how long every request to `role` waits before it is handled.
    pub(crate) fn set_first_byte(&self, role: Role, delay: Duration) {
        if let Some(node) = self.node(role) {
            let nanos = u64::try_from(delay.as_nanos()).unwrap_or(u64::MAX);
            node.first_byte.store(nanos, Ordering::Relaxed);
        }
    }

    /// Puts target `index` in maintenance (`on`) or takes it out; the map's version bumps if
    /// that changed its flags.
    pub(crate) fn set_maintenance(&self, index: usize, on: bool) {
        let Some(node) = self.targets.get(index) else { return };
        let mut smap = self.smap();
        let Some(snode) = smap.targets.get_mut(&node.info.id) else { return };
        let flags = if on {
            snode.flags | NodeFlags::MAINTENANCE
        } else {
            NodeFlags(snode.flags.0 & !NodeFlags::MAINTENANCE.0)
        };
        if flags != snode.flags {
            snode.flags = flags;
            smap.version += 1;
        }
    }

    /// The map's version.
    pub(crate) fn version(&self) -> i64 {
        self.smap().version
    }

    /// The index of the target that owns `address` under the current map.
    pub(crate) fn owner(&self, address: &ObjectAddress) -> Result<usize, PlacementError> {
        let smap = self.smap();
        let owner = smap.target_for(address)?;
        // Every target of the map is one of `targets`, under the same id.
        Ok(self.targets.iter().position(|node| node.info.id == owner.daemon_id).unwrap_or_default())
    }

    /// The cluster map as `GET /v1/daemon?what=smap` answers it.
    pub(crate) fn smap_json(&self) -> Vec<u8> {
        self.smap().to_json()
    }

    fn smap(&self) -> MutexGuard<'_, Smap> {
        // Every update under the lock leaves a whole map.
        self.smap.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;
    use std::net::Ipv4Addr;

    use proptest::prelude::*;
    use stowage_proto::ais::{Bucket, Provider};

    use super::*;

    fn topology(targets: u16) -> Topology {
        let addr = |port| SocketAddr::from((Ipv4Addr::LOCALHOST, port));
        Topology::new(addr(1), &(0..targets).map(|i| addr(100 + i)).collect::<Vec<_>>())
    }

    fn addresses() -> Vec<ObjectAddress> {
        (0..64).map(|i| ObjectAddress::new(Bucket::new("b", Provider::Ais), &format!("o{i}"))).collect()
    }

    proptest! {
        /// Against a model (the set of targets in maintenance, and a count of its changes):
        /// the version is 1 + the changes, no object is placed on a target in maintenance, and
        /// a change moves only what it must — into maintenance, only the target's own objects;
        /// out of it, only objects to that target.
        #[test]
        fn maintenance_moves_only_what_it_must(
            targets in 1u16..6,
            toggles in proptest::collection::vec((0usize..6, any::<bool>()), 0..24),
        ) {
            let topology = topology(targets);
            let addresses = addresses();
            let mut in_maintenance = BTreeSet::new();
            let mut changes = 0;
            let mut owners: Vec<_> = addresses.iter().map(|a| topology.owner(a).ok()).collect();
            for (index, on) in toggles {
                let index = index % usize::from(targets);
                topology.set_maintenance(index, on);
                let changed = if on { in_maintenance.insert(index) } else { in_maintenance.remove(&index) };
                changes += i64::from(changed);
                prop_assert_eq!(topology.version(), 1 + changes);
                for (address, before) in addresses.iter().zip(&mut owners) {
                    let now = topology.owner(address).ok();
                    if in_maintenance.len() == usize::from(targets) {
                        prop_assert_eq!(now, None);
                    } else {
                        let now = now.expect("a target is out of maintenance");
                        prop_assert!(!in_maintenance.contains(&now));
                        match (*before, on) {
                            (Some(b), true) if b != index => prop_assert_eq!(now, b, "only t{}'s objects move", index + 1),
                            (Some(b), false) if now != index => prop_assert_eq!(now, b, "only objects to t{} move", index + 1),
                            _ => {}
                        }
                    }
                    *before = now;
                }
            }
        }
    }

    #[test]
    fn the_map_names_every_node_and_flags_maintenance() {
        let topology = topology(3);
        topology.set_maintenance(1, true);
        let smap = Smap::parse(&topology.smap_json()).unwrap();
        assert_eq!((smap.version, smap.primary.daemon_id.as_str()), (2, PROXY_ID));
        assert_eq!(smap.primary.public_net.url, "http://127.0.0.1:1");
        let flags: Vec<_> = smap.targets.nodes().map(|t| (t.daemon_id.as_str(), t.in_maintenance())).collect();
        assert_eq!(flags, [("t1", false), ("t2", true), ("t3", false)]);
        assert_eq!(smap.targets.get("t3").unwrap().public_net.url, "http://127.0.0.1:102");
    }

    #[test]
    fn ids_resolve() {
        assert_eq!(resolve("p1", 3).unwrap(), Role::Proxy);
        assert_eq!(resolve("t1", 3).unwrap(), Role::Target(0));
        assert_eq!(resolve("t3", 3).unwrap(), Role::Target(2));
        for bad in ["t0", "t4", "t01", "t", "x1", "", "T1", "t+1"] {
            assert!(matches!(resolve(bad, 3), Err(NodeError::Unknown { .. })), "{bad}");
        }
        assert!(matches!(resolve("p1", 0), Err(NodeError::Unknown { .. })));
        assert!(matches!(resolve_target("p1", 2), Err(NodeError::NotATarget { .. })));
        assert_eq!(resolve_target("t2", 2).unwrap(), 1);
        let message = resolve("t9", 2).unwrap_err().to_string();
        assert!(message.contains("p1 and t1..t2"), "{message}");
    }
}
