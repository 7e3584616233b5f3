//! [`Cluster`]: its nodes and the handle tests and the harness hold.

use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use stowage_proto::ais::{Bucket, ObjectAddress};
use tokio::task::JoinHandle;

use crate::faults::{FaultRule, InvalidFault};
use crate::node::{Bound, Nodes, Role};
use crate::node_faults::{self, NodeFault};
use crate::scenario::{ClusterConfig, ScenarioError};
use crate::shaping::{Link, RangeFaultRule};
use crate::state::State;
use crate::stats::Stats;
use crate::store::{Content, Origin};
use crate::topology::{NodeError, NodeInfo, Topology};

/// Why a cluster could not start.
#[derive(Debug, thiserror::Error)]
pub enum ClusterError {
    /// The configuration is invalid.
    #[error("invalid cluster configuration: {0}")]
    Scenario(#[from] ScenarioError),
    /// The listening socket could not be set up.
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// The address asked for.
        addr: SocketAddr,
        /// Why.
        source: std::io::Error,
    },
}

/// A running embedded AIStore cluster.
///
/// It serves until [`Cluster::shutdown`] (graceful) or until it is dropped (connections are
/// cut at once). Objects and fault rules can be added while it runs.
///
/// # Topology
///
/// By default a cluster is one node that answers everything itself. With
/// [`ClusterConfig::targets`] = `Some(n)` it is deployed as AIStore is: a proxy
/// ([`Cluster::url`]) and `n` targets, each on its own port. The proxy answers every object
/// request (GET, HEAD, PUT, POST) with `307 Temporary Redirect` to the target that owns the
/// object under the cluster map (AIStore's HRW placement), and serves the cluster-wide APIs
/// (jobs). Targets serve objects as the single node does, but only those they own: a request
/// for any other object answers 404, as after a rebalance, so a client with a stale map goes
/// back through the proxy. The objects live in one store shared by all targets: moving
/// ownership (maintenance) moves no data. Every node answers `GET /v1/daemon?what=smap` with
/// the cluster map. Per-node faults ([`NodeFault`]: down, restart, maintenance, slow) apply
/// from code ([`Cluster::apply`]) or on a schedule from the scenario; the fault rules of
/// [`Cluster::add_fault`] see every request at every node.
///
/// ```
/// use bytes::Bytes;
/// use stowage_cluster::{Cluster, ClusterConfig};
/// use stowage_proto::ais::{Bucket, Provider};
/// use tokio::io::{AsyncReadExt, AsyncWriteExt};
///
/// async fn get(addr: std::net::SocketAddr, uri: &str) -> std::io::Result<String> {
///     let mut conn = tokio::net::TcpStream::connect(addr).await?;
///     conn.write_all(format!("GET {uri} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").as_bytes()).await?;
///     let mut response = String::new();
///     conn.read_to_string(&mut response).await?;
///     Ok(response)
/// }
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let cluster = Cluster::start(ClusterConfig { targets: Some(3), ..ClusterConfig::default() }).await?;
/// let bucket = Bucket::new("local", Provider::Ais);
/// cluster.put_object(&bucket, "greeting.txt", Bytes::from_static(b"hello"));
/// let owner = cluster.owner(&bucket, "greeting.txt").expect("a target owns it");
///
/// let uri = "/v1/objects/local/greeting.txt?provider=ais";
/// let redirect = get(cluster.addr(), uri).await?;
/// assert!(redirect.starts_with("HTTP/1.1 307 Temporary Redirect"));
/// assert!(redirect.contains(&format!("location: {}{uri}&pid=p1&utm=", owner.url())));
///
/// assert!(get(owner.addr, uri).await?.ends_with("\r\n\r\nhello"));
/// cluster.start_maintenance(&owner.id).await?;
/// assert!(get(owner.addr, uri).await?.starts_with("HTTP/1.1 404 Not Found"), "no longer its object");
/// # Ok(())
/// # }
/// ```
#[derive(Debug)]
pub struct Cluster {
    nodes: Arc<Nodes>,
    /// The scenario's node events, applied on schedule; `None` without any, or once shut down.
    events: Option<JoinHandle<()>>,
}

impl Cluster {
    /// Validates `config`, binds its addresses (`127.0.0.1:0` by default, and a free port of
    /// the same IP for each target) and starts serving on the current tokio runtime.
    pub async fn start(config: ClusterConfig) -> Result<Cluster, ClusterError> {
        let started = tokio::time::Instant::now();
        let mut scenario = config.resolve()?;
        let addr = config.addr.unwrap_or(SocketAddr::from((Ipv4Addr::LOCALHOST, 0)));
        let bind = |role, addr| async move {
            Bound::bind(role, addr).await.map_err(|source| ClusterError::Bind { addr, source })
        };
        let entry_role = if scenario.targets == 0 { Role::Single } else { Role::Proxy };
        let entry = bind(entry_role, addr).await?;
        let mut targets = Vec::with_capacity(scenario.targets);
        for index in 0..scenario.targets {
            targets.push(bind(Role::Target(index), SocketAddr::new(addr.ip(), 0)).await?);
        }
        let topology = (scenario.targets > 0).then(|| {
            let target_addrs: Vec<SocketAddr> = targets.iter().map(Bound::addr).collect();
            Topology::new(entry.addr(), &target_addrs)
        });
        let events = std::mem::take(&mut scenario.node_events);
        let state = Arc::new(State::seeded(scenario, topology));
        let nodes = Nodes::serve(state, entry, targets);
        let events = (!events.is_empty()).then(|| tokio::spawn(node_faults::run(Arc::clone(&nodes), started, events)));
        Ok(Cluster { nodes, events })
    }

    fn state(&self) -> &State {
        self.nodes.state()
    }

    /// The address it listens on: the single node's, or the proxy's.
    pub fn addr(&self) -> SocketAddr {
        self.nodes.entry_addr()
    }

    /// Its jobs: script them by kind, start them, see how often they were polled.
    pub fn jobs(&self) -> &crate::Jobs {
        &self.state().jobs
    }

    /// Its base URL, `http://ip:port`: the single node's, or the proxy's.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr())
    }

    /// The proxy; `None` in a single-node cluster.
    pub fn proxy(&self) -> Option<NodeInfo> {
        self.state().topology.as_ref().map(|t| t.proxy().clone())
    }

    /// The targets, in order (`t1`, `t2`, …); empty in a single-node cluster.
    pub fn targets(&self) -> Vec<NodeInfo> {
        self.state().topology.as_ref().map_or_else(Vec::new, |t| t.targets().cloned().collect())
    }

    /// The target that owns object `name` of `bucket` under the current cluster map; `None`
    /// in a single-node cluster, or when every target is in maintenance.
    pub fn owner(&self, bucket: &Bucket, name: &str) -> Option<NodeInfo> {
        let topology = self.state().topology.as_ref()?;
        let index = topology.owner(&ObjectAddress::new(bucket.clone(), name)).ok()?;
        topology.target(index).cloned()
    }

    /// The cluster map's version (it bumps when a target goes into or out of maintenance);
    /// `None` in a single-node cluster.
    pub fn smap_version(&self) -> Option<i64> {
        self.state().topology.as_ref().map(Topology::version)
    }

    /// Applies a per-node fault to the node called `node` (`t1`…`tN`, or `p1` for
    /// [`NodeFault::Slow`]).
    pub async fn apply(&self, node: &str, fault: NodeFault) -> Result<(), NodeError> {
        node_faults::apply(&self.nodes, node, fault).await
    }

    /// Takes a target down: see [`NodeFault::Down`].
    pub async fn stop_target(&self, node: &str) -> Result<(), NodeError> {
        self.apply(node, NodeFault::Down).await
    }

    /// Restarts a target on the same port: see [`NodeFault::Restart`].
    pub async fn restart_target(&self, node: &str) -> Result<(), NodeError> {
        self.apply(node, NodeFault::Restart).await
    }

    /// Puts a target in maintenance: see [`NodeFault::StartMaintenance`].
    pub async fn start_maintenance(&self, node: &str) -> Result<(), NodeError> {
        self.apply(node, NodeFault::StartMaintenance).await
    }

    /// Takes a target out of maintenance: see [`NodeFault::StopMaintenance`].
    pub async fn stop_maintenance(&self, node: &str) -> Result<(), NodeError> {
        self.apply(node, NodeFault::StopMaintenance).await
    }

    /// Makes every request to a node wait `first_byte` before it is handled: see
    /// [`NodeFault::Slow`].
    pub async fn set_slow(&self, node: &str, first_byte: Duration) -> Result<(), NodeError> {
        self.apply(node, NodeFault::Slow { first_byte }).await
    }

    /// Stores `data` as object `name`, creating the bucket if missing. The object is in the
    /// bucket's backend: in a remote bucket it starts cold (its first GET is a cold GET).
    pub fn put_object(&self, bucket: &Bucket, name: &str, data: Bytes) {
        self.state().store.put(bucket, name, Content::Bytes(data), Origin::Backend);
    }

    /// Like [`Cluster::put_object`] with `size` bytes of generated content (see
    /// [`Generator`](crate::Generator)), which is never held in memory.
    pub fn put_generated(&self, bucket: &Bucket, name: &str, size: u64) {
        self.state().store.put(bucket, name, Content::generated(name, size), Origin::Backend);
    }

    /// Creates `bucket` if missing, and sets how long its cold GETs hold an object's write
    /// lock (buckets created implicitly use [`DEFAULT_COLD_GET_LOCK`](crate::DEFAULT_COLD_GET_LOCK)).
    pub fn create_bucket(&self, bucket: &Bucket, cold_get_lock: Duration) {
        self.state().store.create_bucket(bucket, cold_get_lock);
    }

    /// Makes a remote object cold again: its next GET is a cold GET. False if the object is
    /// absent or its bucket is not remote (objects of `ais` buckets are never cold).
    pub fn evict(&self, bucket: &Bucket, name: &str) -> bool {
        self.state().store.evict(bucket, name)
    }

    /// Appends a fault rule (tried after the existing ones). A rule that does not
    /// [validate](FaultRule::validate) is kept, logged, and answered as follows: a bad method
    /// or path prefix never matches; a bad status is answered 500 saying why. Use
    /// [`Cluster::try_add_fault`] to be told instead.
    pub fn add_fault(&self, rule: FaultRule) {
        if let Err(error) = rule.validate() {
            tracing::warn!(%error, "adding an invalid fault rule");
        }
        self.state().faults.add(rule);
    }

    /// Appends a fault rule if it is valid.
    pub fn try_add_fault(&self, rule: FaultRule) -> Result<(), InvalidFault> {
        rule.validate()?;
        self.state().faults.add(rule);
        Ok(())
    }

    /// Sets the bandwidth cap per connection and the first-byte latency of object GETs.
    pub fn set_link(&self, link: Link) {
        self.state().shaping.set_link(link);
    }

    /// Appends a range fault rule (tried after the existing ones).
    pub fn add_range_fault(&self, rule: RangeFaultRule) {
        self.state().shaping.add(rule);
    }

    /// A snapshot of the request counters.
    pub fn stats(&self) -> Stats {
        self.state().stats()
    }

    /// Stops accepting, lets open connections finish the request in flight (closing idle
    /// ones at once), and returns when all are closed or after
    /// [`SHUTDOWN_GRACE`](crate::SHUTDOWN_GRACE), when the rest are cut.
    pub async fn shutdown(mut self) {
        if let Some(events) = self.events.take() {
            events.abort();
        }
        self.nodes.shutdown().await;
    }
}

impl Drop for Cluster {
    /// Cuts the cluster: aborting the accept loops drops every connection task with them.
    fn drop(&mut self) {
        if let Some(events) = self.events.take() {
            events.abort();
        }
        self.nodes.abort();
    }
}
