//! One node of the cluster map: its id, kind, networks and flags.

use std::fmt;
use std::ops::BitOr;

use serde::{Deserialize, Deserializer, Serialize};

use super::hrw::node_digest;

/// A node's address on one of its networks (AIStore's `meta.NetInfo`).
///
/// Every field may be absent on the wire (the SDK's model defaults them to `""`).
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct NetInfo {
    /// The host name or IP address (`node_ip_addr` on the wire; the SDK 2.0.0 model calls it
    /// `node_hostname`, a name aisnode never sends, so the SDK always sees `""` there).
    #[serde(rename = "node_ip_addr", default)]
    pub hostname: String,
    /// The TCP port, as a decimal string (`daemon_port`).
    #[serde(rename = "daemon_port", default)]
    pub port: String,
    /// The URL clients use to reach the node on this network (`direct_url`): where the SDK sends
    /// a request it routes straight to a target.
    #[serde(rename = "direct_url", default)]
    pub url: String,
}

impl NetInfo {
    /// `scheme://hostname:port` (an IPv6 address in brackets), as aisnode's `NetInfo.Init`
    /// builds it.
    pub fn new(scheme: &str, hostname: impl Into<String>, port: u16) -> Self {
        let hostname = hostname.into();
        let url = if hostname.contains(':') {
            format!("{scheme}://[{hostname}]:{port}")
        } else {
            format!("{scheme}://{hostname}:{port}")
        };
        NetInfo { hostname, port: port.to_string(), url }
    }
}

/// The flags of a node (AIStore's `Snode.Flags`, `core/meta/smap.go`: a `cos.BitFlags`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct NodeFlags(pub u64);

impl NodeFlags {
    /// No flag set.
    pub const NONE: NodeFlags = NodeFlags(0);
    /// A proxy that may not become primary (`SnodeNonElectable`, bit 0).
    pub const NON_ELECTABLE: NodeFlags = NodeFlags(1 << 0);
    /// A proxy of the Information Center (`SnodeIC`, bit 1).
    pub const IC: NodeFlags = NodeFlags(1 << 1);
    /// In maintenance mode (`SnodeMaint`, bit 2).
    pub const MAINTENANCE: NodeFlags = NodeFlags(1 << 2);
    /// Being decommissioned (`SnodeDecomm`, bit 3).
    pub const DECOMMISSION: NodeFlags = NodeFlags(1 << 3);
    /// In maintenance, and the rebalance that moved its objects away is done
    /// (`SnodeMaintPostReb`, bit 4).
    pub const MAINTENANCE_POST_REBALANCE: NodeFlags = NodeFlags(1 << 4);
    /// The flags that take a target out of placement: maintenance or decommission
    /// (`SnodeMaintDecomm`; the SDK's `Snode.in_maint_or_decomm` tests `1 << 2 | 1 << 3`).
    pub const MAINTENANCE_OR_DECOMMISSION: NodeFlags = NodeFlags(Self::MAINTENANCE.0 | Self::DECOMMISSION.0);

    /// Whether any flag of `other` is set here.
    pub const fn contains_any(self, other: NodeFlags) -> bool {
        self.0 & other.0 != 0
    }
}

impl BitOr for NodeFlags {
    type Output = NodeFlags;

    fn bitor(self, other: NodeFlags) -> NodeFlags {
        NodeFlags(self.0 | other.0)
    }
}

/// A node of the cluster: a proxy (gateway) or a target (storage), AIStore's `meta.Snode`.
///
/// Invariant of maps aisnode builds, not enforced on parse: `id_digest` is
/// [`node_digest`]`(daemon_id)` (aisnode fills it in when it is 0). Placement uses `id_digest`
/// as the map gives it, as the SDK does: a node whose map omits it hashes as digest 0.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Snode {
    /// The node's id, unique in the cluster (`daemon_id`).
    pub daemon_id: String,
    /// `"proxy"` or `"target"` ([`Snode::PROXY`], [`Snode::TARGET`]); any string parses, as
    /// in the SDK's model.
    pub daemon_type: String,
    /// Where clients reach it (`public_net`); empty when the map omits it or sends `null`.
    #[serde(default, deserialize_with = "null_as_default")]
    pub public_net: NetInfo,
    /// The intra-cluster control network (`intra_control_net`).
    #[serde(default, deserialize_with = "null_as_default")]
    pub intra_control_net: NetInfo,
    /// The intra-cluster data network (`intra_data_net`).
    #[serde(default, deserialize_with = "null_as_default")]
    pub intra_data_net: NetInfo,
    /// Its flags (`flags`, default none).
    #[serde(default)]
    pub flags: NodeFlags,
    /// The hash of its id that placement mixes with an object's (`id_digest`, default 0).
    #[serde(default)]
    pub id_digest: u64,
}

impl Snode {
    /// The `daemon_type` of a proxy.
    pub const PROXY: &'static str = "proxy";
    /// The `daemon_type` of a target.
    pub const TARGET: &'static str = "target";

    /// A target with id `daemon_id`, reached at `net` on all three networks, no flags, and its
    /// `id_digest` computed as aisnode does.
    pub fn target(daemon_id: impl Into<String>, net: NetInfo) -> Self {
        Self::new(daemon_id.into(), Self::TARGET, net)
    }

    /// A proxy, as [`Snode::target`] builds a target.
    pub fn proxy(daemon_id: impl Into<String>, net: NetInfo) -> Self {
        Self::new(daemon_id.into(), Self::PROXY, net)
    }

    fn new(daemon_id: String, daemon_type: &str, net: NetInfo) -> Self {
        Snode {
            id_digest: node_digest(&daemon_id),
            daemon_id,
            daemon_type: daemon_type.to_owned(),
            public_net: net.clone(),
            intra_control_net: net.clone(),
            intra_data_net: net,
            flags: NodeFlags::NONE,
        }
    }

    /// Whether the node is in maintenance or being decommissioned: placement skips such a
    /// target (the SDK's `Snode.in_maint_or_decomm`, aisnode's `InMaintOrDecomm`).
    pub const fn in_maintenance(&self) -> bool {
        self.flags.contains_any(NodeFlags::MAINTENANCE_OR_DECOMMISSION)
    }

    /// Whether `daemon_type` is [`Snode::TARGET`].
    pub fn is_target(&self) -> bool {
        self.daemon_type == Self::TARGET
    }

    /// Whether `daemon_type` is [`Snode::PROXY`].
    pub fn is_proxy(&self) -> bool {
        self.daemon_type == Self::PROXY
    }
}

impl fmt::Display for Snode {
    /// `t[id]` or `p[id]`, as aisnode names nodes in its logs.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let prefix = if self.is_proxy() { 'p' } else { 't' };
        write!(f, "{prefix}[{}]", self.daemon_id)
    }
}

/// A network that is absent or `null` is empty (the SDK's model has them `Optional`).
fn null_as_default<'de, D: Deserializer<'de>>(deserializer: D) -> Result<NetInfo, D::Error> {
    Ok(Option::<NetInfo>::deserialize(deserializer)?.unwrap_or_default())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn maintenance_is_bit_2_or_3() {
        let mut node = Snode::target("t1", NetInfo::new("http", "127.0.0.1", 8081));
        assert!(!node.in_maintenance());
        for (flags, skipped) in [
            (NodeFlags::NON_ELECTABLE, false),
            (NodeFlags::IC, false),
            (NodeFlags::MAINTENANCE, true),
            (NodeFlags::DECOMMISSION, true),
            (NodeFlags::MAINTENANCE_POST_REBALANCE, false),
            (NodeFlags::MAINTENANCE | NodeFlags::MAINTENANCE_POST_REBALANCE, true),
            (NodeFlags(u64::MAX), true),
        ] {
            node.flags = flags;
            assert_eq!(node.in_maintenance(), skipped, "{flags:?}");
        }
    }

    #[test]
    fn constructors_fill_in_the_digest_and_urls() {
        let node = Snode::proxy("p1", NetInfo::new("https", "::1", 443));
        assert_eq!(node.id_digest, node_digest("p1"));
        assert_eq!(node.public_net.url, "https://[::1]:443");
        assert_eq!(node.intra_data_net, node.public_net);
        assert!(node.is_proxy() && !node.is_target());
        assert_eq!(node.to_string(), "p[p1]");
        assert_eq!(Snode::target("t1", NetInfo::default()).to_string(), "t[t1]");
    }

    #[test]
    fn networks_may_be_absent_or_null() {
        let node: Snode =
            serde_json::from_str(r#"{"daemon_id":"t","daemon_type":"target","public_net":null}"#).unwrap();
        assert_eq!((node.public_net, node.intra_data_net), (NetInfo::default(), NetInfo::default()));
        assert_eq!((node.flags, node.id_digest), (NodeFlags::NONE, 0));
    }
}
