//! Conformance: the real AIStore Python SDK (2.0.0), a client no one here wrote, reads a cold
//! object from stowage's embedded cluster through its own `LockPoller`.
//!
//! This proves the cluster speaks the protocol AIStore clients poll (read timeout during a cold
//! GET, `check-lock` → 423, size HEAD, unlocked, GET again).
//!
//! Which Python: see [`stowage_tests::sdk_python`]; without one the test is skipped saying how
//! to run it.

use std::path::Path;
use std::process::Command;

use bytes::Bytes;
use stowage_cluster::{BucketSpec, Cluster, ClusterConfig};
use stowage_proto::ais::{Bucket, Provider};

fn sha256_hex(python: &str, data: &[u8]) -> String {
    let script = "import hashlib,sys; print(hashlib.sha256(sys.stdin.buffer.read()).hexdigest())";
    let mut child = Command::new(python)
        .args(["-c", script])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    std::io::Write::write_all(&mut child.stdin.take().unwrap(), data).unwrap();
    String::from_utf8(child.wait_with_output().unwrap().stdout).unwrap().trim().to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_aistore_python_sdk_waits_out_our_cold_get() {
    let Some(python) = stowage_tests::sdk_python(stowage_tests::AISTORE, "conformance") else { return };
    let bucket = Bucket::new("cloud", Provider::Aws);
    let spec = BucketSpec {
        name: bucket.name.clone(),
        provider: "aws".into(),
        namespace: String::new(),
        cold_get_lock_ms: 2_500,
        objects: vec![],
    };
    let cluster = Cluster::start(ClusterConfig { buckets: vec![spec], ..ClusterConfig::default() }).await.unwrap();
    let data: Bytes = (0..1_000_000u32).map(|i| (i % 241) as u8).collect::<Vec<u8>>().into();
    cluster.put_object(&bucket, "sdk/object", data.clone());

    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("conformance/aistore_cold_get.py");
    let url = cluster.url();
    let python_run = python.clone();
    let out = tokio::task::spawn_blocking(move || {
        Command::new(python_run).arg(script).args([&url, "cloud", "aws", "sdk/object"]).output().unwrap()
    })
    .await
    .unwrap();
    assert!(out.status.success(), "the SDK failed: {}", String::from_utf8_lossy(&out.stderr));
    let got: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(got["len"], data.len());
    assert_eq!(got["sha256"], sha256_hex(&python, &data));

    let stats = cluster.stats();
    assert_eq!(stats.cold_gets, 1, "{stats:?}");
    assert_eq!(stats.object_heads, 1, "the SDK's LockPoller asks the size once: {stats:?}");
    assert!(stats.check_locks >= 2, "the SDK polled check-lock while locked and once unlocked: {stats:?}");
    assert!(stats.object_gets >= 2, "the SDK's GET timed out and was retried: {stats:?}");
}
