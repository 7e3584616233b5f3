//! Conformance: the real Arvados Python SDK (`arvados-python-client==3.2.1`), a client no one
//! here wrote, writes blocks to stowage's embedded Keep services, and the order in which it
//! first contacts them is the probe order of stowage's `BlockWrite` machine.
//!
//! This proves the embedded keepstores speak the protocol Keep clients use (PUT `<root><md5>`,
//! `Authorization`, `X-Keep-Desired-Replicas`, 100-continue, replica headers, signed locators)
//! and that the machine's rendezvous order is the SDK's. The SDK's stored copies are not
//! compared: with staggered answers it over-replicates, which stowage deliberately does not.
//!
//! Which Python: `$STOWAGE_PYTHON` if set (it must have `arvados-python-client==3.2.1`;
//! `.ci/run` makes such a venv), else `python3` if it can import `arvados`. Otherwise the test
//! is skipped with a message saying how to run it.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::{Command, Stdio};

use serde_json::{Value, json};
use std::time::Duration;
use stowage_cluster::keep::{KeepCluster, KeepClusterConfig, KeepServiceInfo, KeepServiceSpec, Scripted};

use bytes::Bytes;
use stowage_keep::KeepClient;
use stowage_replica::{BlockHash, PassSchedule, Service, ServiceKind, write_order};

const TOKEN: &str = "conformance-token";

/// Runs `tests/conformance/arvados_keep_put.py` with `config` on stdin; returns its JSON.
async fn run_sdk(python: String, config: Value) -> Value {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("conformance/arvados_keep_put.py");
    let out = tokio::task::spawn_blocking(move || {
        let mut child = Command::new(python)
            .arg(script)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        std::io::Write::write_all(&mut child.stdin.take().unwrap(), config.to_string().as_bytes()).unwrap();
        child.wait_with_output().unwrap()
    })
    .await
    .unwrap();
    assert!(out.status.success(), "the SDK failed: {}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout).unwrap()
}

fn listed(services: &[KeepServiceInfo]) -> Value {
    services
        .iter()
        .map(|s| json!({"uuid": s.uuid, "root": s.root, "service_type": s.service_type, "read_only": s.read_only}))
        .collect()
}

/// The services each block's PUTs reached, in arrival order, first contacts only.
fn first_contacts(cluster: &KeepCluster) -> BTreeMap<String, Vec<usize>> {
    let mut contacts: BTreeMap<String, Vec<usize>> = BTreeMap::new();
    for arrival in cluster.arrivals() {
        let seen = contacts.entry(arrival.hash).or_default();
        if !seen.contains(&arrival.service) {
            seen.push(arrival.service);
        }
    }
    contacts
}

fn sdk_hashes(got: &Value) -> Vec<String> {
    let blocks = got["blocks"].as_array().unwrap();
    for block in blocks {
        assert!(block["error"].is_null(), "the SDK's PUT failed: {block}");
        let locator = block["locator"].as_str().unwrap();
        let hash = block["hash"].as_str().unwrap();
        assert!(locator.starts_with(hash) && locator.contains("+A"), "not a signed locator: {locator}");
    }
    blocks.iter().map(|b| b["hash"].as_str().unwrap().to_owned()).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_arvados_sdk_writes_to_our_keepstores_in_our_probe_order() {
    let Some(python) = stowage_tests::sdk_python(stowage_tests::ARVADOS, "replica_conformance") else { return };
    // 8 keepstores: 2 always fails (500, retryable: the SDK moves on), 5 is read-only.
    let mut specs = vec![KeepServiceSpec::disk(); 8];
    specs[2].always = Some(Scripted::Status(500));
    specs[5].read_only = true;
    let config = KeepClusterConfig { services: specs, token: Some(TOKEN.into()), ..KeepClusterConfig::default() };
    let cluster = KeepCluster::start(config).await.unwrap();
    let sdk = json!({"mode": "disk", "services": listed(cluster.services()), "token": TOKEN, "copies": 2,
                     "blocks": 100, "seed": 9446, "num_retries": 2});
    let got = run_sdk(python, sdk).await;
    let hashes = sdk_hashes(&got);
    assert_eq!(hashes.len(), 100);

    let services: Vec<Service> = cluster
        .services()
        .iter()
        .map(|s| {
            let service = Service::new(&s.uuid, &s.root, ServiceKind::from_type(Some(s.service_type))).unwrap();
            if s.read_only { service.read_only() } else { service }
        })
        .collect();
    let contacts = first_contacts(&cluster);
    for hash in &hashes {
        let order = write_order(&hash.parse::<BlockHash>().unwrap(), &services);
        let contacted = &contacts[hash];
        // Two uploads run at once, so arrivals may swap neighbours: compare sets.
        let mut sorted = contacted.clone();
        sorted.sort_unstable();
        let mut prefix = order[..contacted.len()].to_vec();
        prefix.sort_unstable();
        assert_eq!(sorted, prefix, "block {hash}: the SDK contacted {contacted:?}, our order is {order:?}");
        assert!(cluster.replicas(hash) >= 2);
    }
    assert_eq!(cluster.stats()[5].read_only_writes, 0, "the SDK wrote to a read-only service");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_arvados_sdk_through_proxy_settings_follows_our_exact_order() {
    let Some(python) = stowage_tests::sdk_python(stowage_tests::ARVADOS, "replica_conformance") else { return };
    // Configured as proxies, the SDK writes one PUT at a time: its arrival order is its probe
    // order, exactly. 1 always answers 500 (retryable), 3 is full (507, permanent for 3.2.1).
    let mut specs = vec![KeepServiceSpec::disk(); 6];
    specs[1].always = Some(Scripted::Status(500));
    specs[3].always = Some(Scripted::Status(507));
    let config = KeepClusterConfig { services: specs, token: Some(TOKEN.into()), ..KeepClusterConfig::default() };
    let cluster = KeepCluster::start(config).await.unwrap();
    let sdk = json!({"mode": "proxy", "services": listed(cluster.services()), "token": TOKEN, "copies": 2,
                     "blocks": 100, "seed": 2016, "num_retries": 2});
    let got = run_sdk(python, sdk).await;
    let hashes = sdk_hashes(&got);

    let roots: Vec<&str> = cluster.services().iter().map(|s| s.root.as_str()).collect();
    let proxies = Service::proxies(roots).unwrap();
    let contacts = first_contacts(&cluster);
    for hash in &hashes {
        let order = write_order(&hash.parse::<BlockHash>().unwrap(), &proxies);
        let contacted = &contacts[hash];
        assert_eq!(contacted[..], order[..contacted.len()], "block {hash}");
        assert!(contacted.len() >= 2);
    }
}

/// 8 keepstores answering after 0, 15, 30, … ms: staggered answers.
fn staggered() -> KeepClusterConfig {
    let services = (0..8u64)
        .map(|j| KeepServiceSpec { latency: Duration::from_millis(15 * j), ..KeepServiceSpec::disk() })
        .collect();
    KeepClusterConfig { services, token: Some(TOKEN.into()), ..KeepClusterConfig::default() }
}

fn services_of(cluster: &KeepCluster) -> Vec<Service> {
    cluster.services().iter().map(|s| Service::new(&s.uuid, &s.root, ServiceKind::Disk).unwrap()).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_staggered_answers_the_sdk_over_replicates_and_we_do_not() {
    const COPIES: u64 = 3;
    const BLOCKS: usize = 20;
    // Ours: exactly 3 copies of every block, whatever the answer order.
    let cluster = KeepCluster::start(staggered()).await.unwrap();
    let keep = KeepClient::builder(services_of(&cluster))
        .token(TOKEN)
        .policy(PassSchedule::go(Duration::from_millis(10)))
        .seed(1)
        .build()
        .unwrap();
    for b in 0..BLOCKS {
        let block = Bytes::from(format!("block {b} of the staggered run").into_bytes());
        let hash = BlockHash::of(&block);
        let stored = keep.put(block, COPIES as u32, &[]).await.unwrap();
        assert_eq!(stored.copies, COPIES);
        assert_eq!(cluster.replicas(hash.as_str()), COPIES, "block {b} over-replicated");
    }

    // The SDK on the same kind of cluster: report its excess copies (not asserted: it is the
    // reference's behaviour, not ours).
    let Some(python) = stowage_tests::sdk_python(stowage_tests::ARVADOS, "replica_conformance") else { return };
    let cluster = KeepCluster::start(staggered()).await.unwrap();
    let sdk = json!({"mode": "disk", "services": listed(cluster.services()), "token": TOKEN, "copies": COPIES,
                     "blocks": BLOCKS, "seed": 9180, "num_retries": 0});
    let hashes = sdk_hashes(&run_sdk(python, sdk).await);
    let excess: u64 = hashes.iter().map(|h| cluster.replicas(h).saturating_sub(COPIES)).sum();
    eprintln!("the Arvados SDK stored {excess} excess copies over {BLOCKS} blocks of {COPIES} copies");
    assert!(hashes.iter().all(|h| cluster.replicas(h) >= COPIES));
}
