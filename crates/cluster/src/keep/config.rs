//! How an embedded Keep cluster is made up: its services and how each behaves.

use std::time::Duration;

/// What kind of Keep service to run.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Deserialize, serde::Serialize)]
#[serde(rename_all = "snake_case", tag = "type")]
pub enum KeepKind {
    /// A keepstore: stores one replica per PUT.
    Disk,
    /// A keepproxy: stores up to `replicas` replicas per PUT (as many as the client's
    /// `X-Keep-Desired-Replicas`), and answers 503 (with the count it stored) when that is
    /// fewer than desired.
    Proxy {
        /// The most replicas one PUT stores.
        replicas: u32,
    },
}

impl KeepKind {
    /// The `service_type` Arvados lists it as.
    pub fn service_type(self) -> &'static str {
        match self {
            KeepKind::Disk => "disk",
            KeepKind::Proxy { .. } => "proxy",
        }
    }
}

/// What one PUT attempt on a service does, overriding its normal behaviour.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Deserialize, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Scripted {
    /// Behave normally.
    Normal,
    /// Answer this status without reading the body (no `X-Keep-Replicas-Stored`).
    Status(u16),
    /// Close the connection without answering.
    Drop,
    /// Wait this long, then behave normally.
    DelayMs(u64),
}

/// One Keep service of an embedded Keep cluster.
#[derive(Clone, Debug, PartialEq, Eq, serde::Deserialize, serde::Serialize)]
#[serde(default)]
pub struct KeepServiceSpec {
    /// Its uuid; default `zzzzz-bi6l4-<index, 15 hex digits>`.
    pub uuid: Option<String>,
    /// Disk or proxy.
    pub kind: KeepKind,
    /// Read-only: every PUT is refused (403), and counted as a write to a read-only service.
    pub read_only: bool,
    /// Bytes it can hold; a PUT that would exceed them answers 507.
    pub capacity: Option<u64>,
    /// PUTs it serves at once; one more answers 503.
    pub max_concurrent: Option<u32>,
    /// Added before every answer.
    pub latency: Duration,
    /// Storage classes its volumes hold (confirmed on every stored replica).
    pub classes: Vec<String>,
    /// What its 1st, 2nd, … PUT does (then: normal).
    pub script: Vec<Scripted>,
    /// What every PUT past the script does instead of behaving normally (e.g. always 500).
    pub always: Option<Scripted>,
}

impl Default for KeepServiceSpec {
    fn default() -> Self {
        KeepServiceSpec {
            uuid: None,
            kind: KeepKind::Disk,
            read_only: false,
            capacity: None,
            max_concurrent: None,
            latency: Duration::ZERO,
            classes: vec!["default".to_owned()],
            script: vec![],
            always: None,
        }
    }
}

impl KeepServiceSpec {
    /// A keepstore with the defaults: writable, unbounded, class `default`.
    pub fn disk() -> Self {
        KeepServiceSpec::default()
    }

    /// A keepproxy storing up to `replicas` per PUT.
    pub fn proxy(replicas: u32) -> Self {
        KeepServiceSpec { kind: KeepKind::Proxy { replicas }, ..KeepServiceSpec::default() }
    }
}

/// An embedded Keep cluster: services on their own ports, and what they require.
#[derive(Clone, Debug, PartialEq, Eq, Default, serde::Deserialize, serde::Serialize)]
#[serde(default)]
pub struct KeepClusterConfig {
    /// The services, in uuid order.
    pub services: Vec<KeepServiceSpec>,
    /// When set, PUTs must carry `Authorization: Bearer <token>` (or `OAuth2 <token>`), else 401.
    pub token: Option<String>,
    /// The key locators are signed with.
    pub signing_key: String,
    /// Skip the md5 verification of bodies (sizes are still checked). Keepstore always
    /// verifies; this is for measuring clients without the servers' hashing on the same CPUs.
    pub trust_hashes: bool,
}

impl KeepClusterConfig {
    /// `n` keepstores with the defaults.
    pub fn disks(n: usize) -> Self {
        KeepClusterConfig { services: vec![KeepServiceSpec::disk(); n], ..KeepClusterConfig::default() }
    }
}
