//! `stowage serve`: the embedded cluster, standalone.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context;
use stowage_cluster::{Cluster, ClusterConfig, RangeFaultRule};

use crate::units::{parse_duration, parse_rate};

/// The arguments of `stowage serve`.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:0")]
    addr: SocketAddr,
    /// A scenario file (TOML or JSON) with the topology, buckets, objects, faults, the link,
    /// range faults and node events.
    #[arg(long)]
    scenario: Option<PathBuf>,
    /// Deploy as AIStore is: a proxy at --addr that redirects every object request to the one
    /// of N targets (each on its own port) that owns the object. Default: one node that serves
    /// everything itself. Overrides the scenario's.
    #[arg(long, value_name = "N")]
    targets: Option<u32>,
    /// Cap every object GET's body at this rate (per response, so per connection): e.g. 100M
    /// (100 MB/s), 64Mi. Overrides the scenario's.
    #[arg(long, value_parser = parse_rate, value_name = "RATE")]
    link_cap: Option<u64>,
    /// Hold every object GET's response head this long (first-byte latency): e.g. 5ms.
    /// Overrides the scenario's.
    #[arg(long, value_parser = parse_duration, value_name = "DURATION")]
    first_byte: Option<Duration>,
    /// A range fault rule, in the scenario file's JSON shape, after the scenario's (repeatable):
    /// '{"fault": {"kind": "status", "status": 503}, "skip": 25, "every": 50}'.
    #[arg(long, value_parser = parse_range_fault, value_name = "JSON")]
    range_fault: Vec<RangeFaultRule>,
}

fn parse_range_fault(text: &str) -> Result<RangeFaultRule, String> {
    let rule: RangeFaultRule = serde_json::from_str(text).map_err(|e| format!("not a range fault rule: {e}"))?;
    rule.validate().map_err(|e| e.to_string())?;
    Ok(rule)
}

impl Args {
    /// The cluster's configuration: the scenario's (or an empty one), with the flags applied.
    fn config(self) -> anyhow::Result<ClusterConfig> {
        let mut config = match &self.scenario {
            Some(path) => ClusterConfig::from_file(path).with_context(|| format!("reading {}", path.display()))?,
            None => ClusterConfig::default(),
        };
        config.addr = Some(self.addr);
        if let Some(targets) = self.targets {
            config.targets = Some(targets);
        }
        if let Some(rate) = self.link_cap {
            config.link.bytes_per_sec = Some(rate);
        }
        if let Some(first_byte) = self.first_byte {
            config.link.first_byte = first_byte;
        }
        config.range_faults.extend(self.range_fault);
        config.validate()?;
        Ok(config)
    }
}

/// Starts the cluster, prints its URL (and its targets'), and serves until Ctrl-C.
pub(crate) async fn run(args: Args) -> anyhow::Result<()> {
    let cluster = Cluster::start(args.config()?).await.context("starting the cluster")?;
    println!("stowage cluster listening on {}", cluster.url());
    for target in cluster.targets() {
        println!("  target {} at {}", target.id, target.url());
    }
    tokio::signal::ctrl_c().await.context("waiting for Ctrl-C")?;
    cluster.shutdown().await;
    Ok(())
}

#[cfg(test)]
mod tests {
    use clap::Parser;
    use stowage_cluster::{Link, RangeFault};

    use super::*;

    #[derive(Parser)]
    struct Serve {
        #[command(flatten)]
        args: Args,
    }

    fn config(flags: &[&str]) -> anyhow::Result<ClusterConfig> {
        Serve::try_parse_from(std::iter::once("serve").chain(flags.iter().copied()))?.args.config()
    }

    fn example(name: &str) -> String {
        format!("{}/../cluster/scenarios/{name}", env!("CARGO_MANIFEST_DIR"))
    }

    #[test]
    fn flags_set_the_link_and_add_range_faults() {
        let config = config(&[
            "--link-cap",
            "100M",
            "--first-byte",
            "5ms",
            "--range-fault",
            r#"{"fault": {"kind": "status", "status": 503}, "every": 50}"#,
            "--range-fault",
            r#"{"fault": {"kind": "cut_mid_body"}, "times": 1}"#,
        ])
        .unwrap();
        assert_eq!(config.link, Link { bytes_per_sec: Some(100_000_000), first_byte: Duration::from_millis(5) });
        assert_eq!(
            config.range_faults,
            [
                RangeFaultRule::new(RangeFault::Status { status: 503 }).every(50),
                RangeFaultRule::new(RangeFault::CutMidBody).times(1),
            ]
        );
        assert_eq!(config.addr, Some("127.0.0.1:0".parse().unwrap()));
    }

    #[test]
    fn flags_override_the_scenario_and_come_after_its_range_faults() {
        let scenario = example("ranged.toml");
        let from_file = config(&["--scenario", &scenario]).unwrap();
        assert_eq!(from_file.link.first_byte, Duration::from_millis(5));
        let config = config(&[
            "--scenario",
            &scenario,
            "--first-byte",
            "0",
            "--range-fault",
            r#"{"fault": {"kind": "ignore_range"}}"#,
        ])
        .unwrap();
        assert_eq!(config.link, Link { first_byte: Duration::ZERO, ..from_file.link });
        assert_eq!(config.range_faults.len(), from_file.range_faults.len() + 1);
        assert_eq!(config.range_faults.last(), Some(&RangeFaultRule::new(RangeFault::IgnoreRange)));
    }

    #[test]
    fn targets_come_from_the_flag_or_the_scenario() {
        assert_eq!(config(&[]).unwrap().targets, None, "one node by default");
        assert_eq!(config(&["--targets", "3"]).unwrap().targets, Some(3));
        let scenario = example("topology.toml");
        assert_eq!(config(&["--scenario", &scenario]).unwrap().targets, Some(3));
        let config = config(&["--scenario", &scenario, "--targets", "5"]).unwrap();
        assert_eq!(config.targets, Some(5));
        assert_eq!(config.node_events.len(), 5, "the scenario's node events stay");
    }

    #[test]
    fn bad_flags_are_refused() {
        for flags in [
            &["--link-cap", "0"][..],
            &["--targets", "0"],
            &["--targets", "-1"],
            &["--link-cap", "fast"],
            &["--first-byte", "soon"],
            &["--range-fault", r#"{"fault": {"kind": "explode"}}"#],
            &["--range-fault", r#"{"fault": {"kind": "status", "status": 99}}"#],
            &["--range-fault", r#"{"path_prefix": "v1", "fault": {"kind": "cut_mid_body"}}"#],
        ] {
            assert!(config(flags).is_err(), "{flags:?}");
        }
    }
}
