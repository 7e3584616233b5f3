//! An embedded, in-process AIStore-compatible HTTP/1.1 server with fault injection.
//!
//! [`Cluster::start`] binds a port on the current tokio runtime and serves AIStore's object
//! API (`/v1/objects/<bucket>/<object>`: GET with `Range`, HEAD with `presence`, PUT, and
//! the `check-lock` action) from memory. It is the default target of the stowage harness and
//! of integration tests, which is why it can also misbehave on purpose:
//!
//! - **Cold GETs.** An object in a remote bucket (a cloud provider, or a remote AIS
//!   namespace) starts cold. Its first GET takes the object's write lock for the bucket's
//!   `cold_get_lock_ms`, and every GET of it stalls, without a response head, until the lock
//!   is released; meanwhile `check-lock` answers 423 and HEAD answers the size. Then the
//!   object is warm. [`Cluster::evict`] makes it cold again. Time is `tokio::time`, so tests
//!   can run on a paused clock.
//! - **Faults.** [`FaultRule`]s add latency, answer a status, reset the connection or stall
//!   the response head, for requests matching a method and path prefix, after `skip`
//!   requests, `times` times.
//! - **Big objects for free.** An object declared by size is [generated](Generator) on the
//!   fly in 64 KiB frames: a 10 GiB object costs no memory.
//! - **Keep.** [`keep::KeepCluster`] runs keepstore- and keepproxy-compatible services on their
//!   own ports (read-only, full, busy, scripted failures, latency), counting the replicas they
//!   store so replicated writes can be checked for over-replication.
//! - **Scripted jobs.** `/v1/cluster` starts, reports and aborts jobs whose life on each
//!   target follows a [`JobScript`] (running or idle for N polls or T seconds, then end,
//!   abort, vanish), in the JSON shapes the AIStore SDK parses; see [`Cluster::jobs`].
//! - **AIStore as it is deployed.** With [`ClusterConfig::targets`] set, a proxy answers every
//!   object request with a `307` to the target that owns the object (HRW over the cluster map,
//!   which every node serves at `GET /v1/daemon?what=smap`), and targets can go down, restart,
//!   go into maintenance or be slow ([`NodeFault`]); see [Topology](Cluster#topology).
//!
//! A cluster is configured in code or from a TOML/JSON scenario file ([`ClusterConfig`]);
//! `scenarios/cold-get.toml` in this crate is a commented example. [`Cluster::stats`] counts
//! what it served.
//!
//! ```
//! use bytes::Bytes;
//! use stowage_cluster::{Cluster, ClusterConfig};
//! use stowage_proto::ais::{Bucket, Provider};
//! use tokio::io::{AsyncReadExt, AsyncWriteExt};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let cluster = Cluster::start(ClusterConfig::default()).await?;
//! cluster.put_object(&Bucket::new("local", Provider::Ais), "greeting.txt", Bytes::from_static(b"hello"));
//! println!("AIStore endpoint: {}", cluster.url()); // http://127.0.0.1:PORT
//!
//! // Any HTTP client will do; here, by hand.
//! let mut conn = tokio::net::TcpStream::connect(cluster.addr()).await?;
//! conn.write_all(b"GET /v1/objects/local/greeting.txt?provider=ais HTTP/1.1\r\n\
//!                  Host: x\r\nConnection: close\r\n\r\n").await?;
//! let mut response = String::new();
//! conn.read_to_string(&mut response).await?;
//! assert!(response.starts_with("HTTP/1.1 200 OK"));
//! assert!(response.ends_with("\r\n\r\nhello"));
//!
//! cluster.shutdown().await;
//! # Ok(())
//! # }
//! ```
#![forbid(unsafe_code)]
#![deny(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod body;
mod conn;
mod daemon;
mod faults;
mod generate;
mod jobs;
pub mod keep;
mod node;
mod node_faults;
mod objects;
mod range;
mod redirect;
mod router;
mod scenario;
mod server;
mod shaping;
mod state;
mod stats;
mod store;
mod topology;

pub use faults::{Fault, FaultRule, InvalidFault};
pub use generate::Generator;
pub use jobs::{JobScript, JobStep, Jobs, Span, TargetScript, USER_ABORT};
pub use node::SHUTDOWN_GRACE;
pub use node_faults::{NodeEvent, NodeFault};
pub use objects::MAX_PUT_BYTES;
pub use scenario::{BucketSpec, ClusterConfig, MAX_GENERATED_SIZE, MAX_TARGETS, ObjectSpec, ScenarioError};
pub use server::{Cluster, ClusterError};
pub use shaping::{InvalidLink, Link, RangeFault, RangeFaultRule};
pub use stats::Stats;
pub use store::{DEFAULT_COLD_GET_LOCK, MAX_HASHED};
pub use topology::{NodeError, NodeInfo, PROXY_ID};
