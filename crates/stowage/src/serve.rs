//! `stowage serve`: the embedded cluster, standalone.

use std::net::SocketAddr;
use std::path::PathBuf;

use anyhow::Context;
use stowage_cluster::{Cluster, ClusterConfig};

/// Starts the cluster, prints its URL, and serves until Ctrl-C.
pub(crate) async fn run(addr: SocketAddr, scenario: Option<PathBuf>) -> anyhow::Result<()> {
    let mut config = match &scenario {
        Some(path) => ClusterConfig::from_file(path).with_context(|| format!("reading {}", path.display()))?,
        None => ClusterConfig::default(),
    };
    config.addr = Some(addr);
    let cluster = Cluster::start(config).await.context("starting the cluster")?;
    println!("stowage cluster listening on {}", cluster.url());
    tokio::signal::ctrl_c().await.context("waiting for Ctrl-C")?;
    cluster.shutdown().await;
    Ok(())
}
