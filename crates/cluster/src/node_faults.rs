//! Per-node faults of a multi-node cluster: a target down or restarted, in maintenance or out,
//! a slow node. Applied from code ([`Cluster::apply`](crate::Cluster::apply) and the methods
//! beside it) or on a schedule from a scenario file:
//!
//! ```toml
//! targets = 3
//!
//! [[node_event]]
//! node = "t2"                       # (required) a target, t1..tN; `slow` also takes the proxy, p1
//! after_ms = 1000                   # since the cluster started; default 0
//! fault = { kind = "down" }         # down | restart | start_maintenance | stop_maintenance
//!                                   # | slow{first_byte_ms}
//! ```
//!
//! and in JSON `{"targets": 3, "node_event": [{"node": "t2", "after_ms": 1000, "fault":
//! {"kind": "down"}}]}`. Events due at the same time apply in the order they are listed.

use std::sync::Arc;
use std::time::Duration;

use serde::Deserialize;
use tokio::time::Instant;

use crate::node::{Nodes, Role};
use crate::topology::{NodeError, resolve, resolve_target};

/// What happens to a node.
///
/// Serialised internally tagged by `kind`: `{kind = "down"}`, `{kind = "restart"}`,
/// `{kind = "start_maintenance"}`, `{kind = "stop_maintenance"}`, `{kind = "slow",
/// first_byte_ms = 200}`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(from = "NodeFaultRepr")]
pub enum NodeFault {
    /// The target's listener closes and its connections are cut: connecting to it is
    /// refused. The cluster map does not change (the proxy keeps redirecting to it, as
    /// AIStore's does until it notices). A target already down stays down.
    Down,
    /// The target goes down if it is up, then listens on the same port again.
    Restart,
    /// The target goes into maintenance: the map flags it and its version bumps, and its
    /// objects belong to the next target of their HRW order (it answers 404 for them). Already
    /// in maintenance: nothing changes.
    StartMaintenance,
    /// The target leaves maintenance (the version bumps; not in maintenance: nothing changes).
    StopMaintenance,
    /// Every request to the node, the proxy included, waits this long before it is handled
    /// (zero: not slow).
    Slow {
        /// The delay before each request is handled.
        first_byte: Duration,
    },
}

/// The serde shape of [`NodeFault`] (unit variants as empty struct variants, so unknown
/// fields next to their `kind` are rejected; see `faults::FaultRepr`).
#[derive(Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
enum NodeFaultRepr {
    Down {},
    Restart {},
    StartMaintenance {},
    StopMaintenance {},
    Slow { first_byte_ms: u64 },
}

impl From<NodeFaultRepr> for NodeFault {
    fn from(repr: NodeFaultRepr) -> Self {
        match repr {
            NodeFaultRepr::Down {} => NodeFault::Down,
            NodeFaultRepr::Restart {} => NodeFault::Restart,
            NodeFaultRepr::StartMaintenance {} => NodeFault::StartMaintenance,
            NodeFaultRepr::StopMaintenance {} => NodeFault::StopMaintenance,
            NodeFaultRepr::Slow { first_byte_ms } => {
                NodeFault::Slow { first_byte: Duration::from_millis(first_byte_ms) }
            }
        }
    }
}

/// A node fault and when it happens (`[[node_event]]` in a scenario file).
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NodeEvent {
    /// The node's daemon id: `t1`…`tN`, or `p1` (the proxy, for `slow` only).
    pub node: String,
    /// How long after the cluster started, in milliseconds.
    #[serde(default)]
    pub after_ms: u64,
    /// What happens.
    pub fault: NodeFault,
}

impl NodeEvent {
    /// `fault` on `node` `after` the start.
    pub fn new(node: impl Into<String>, after: Duration, fault: NodeFault) -> Self {
        NodeEvent { node: node.into(), after_ms: u64::try_from(after.as_millis()).unwrap_or(u64::MAX), fault }
    }

    /// Checks that the node exists in a cluster of `targets` targets and can take the fault.
    pub fn validate(&self, targets: usize) -> Result<(), NodeError> {
        target_of(&self.node, self.fault, targets).map(drop)
    }
}

/// The node a fault applies to: any node for `slow`, a target otherwise.
fn target_of(id: &str, fault: NodeFault, targets: usize) -> Result<Role, NodeError> {
    match fault {
        NodeFault::Slow { .. } => resolve(id, targets),
        _ => resolve_target(id, targets).map(Role::Target),
    }
}

/// Applies `fault` to the node called `id`.
pub(crate) async fn apply(nodes: &Nodes, id: &str, fault: NodeFault) -> Result<(), NodeError> {
    let topology = nodes.state().topology.as_ref();
    let role = target_of(id, fault, topology.map_or(0, |t| t.target_count()))?;
    // Every id fails to resolve in a single-node cluster.
    let Some(topology) = topology else { return Ok(()) };
    tracing::debug!(node = id, ?fault, "node fault");
    match (fault, role) {
        (NodeFault::Slow { first_byte }, role) => topology.set_first_byte(role, first_byte),
        (NodeFault::Down, Role::Target(index)) => nodes.stop(index).await,
        (NodeFault::Restart, Role::Target(index)) => nodes.restart(index).await?,
        (NodeFault::StartMaintenance, Role::Target(index)) => {
            topology.set_maintenance(index, true);
        }
        (NodeFault::StopMaintenance, Role::Target(index)) => {
            topology.set_maintenance(index, false);
        }
        // `target_of` resolved a target for every fault but `slow`.
        (_, Role::Proxy | Role::Single) => {}
    }
    Ok(())
}

/// Applies validated `events` on schedule, counting from `start`.
pub(crate) async fn run(nodes: Arc<Nodes>, start: Instant, mut events: Vec<NodeEvent>) {
    events.sort_by_key(|event| event.after_ms);
    for event in events {
        // An instant past the clock's range never comes, nor do the events after it.
        let Some(at) = start.checked_add(Duration::from_millis(event.after_ms)) else { return };
        tokio::time::sleep_until(at).await;
        if let Err(error) = apply(&nodes, &event.node, event.fault).await {
            tracing::warn!(%error, node = %event.node, "scheduled node fault failed");
        }
    }
}
