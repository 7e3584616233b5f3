//! Conformance: the real AIStore Python SDK (2.0.0) against stowage's embedded cluster deployed
//! as AIStore is, a proxy and targets.
//!
//! - `Client(proxy_url)` writes, reads and HEADs objects through the proxy's 307s (requests
//!   follows them itself), parses our cluster map (`cluster().get_info()`), and its own HRW
//!   over that map picks the target our proxy redirects to;
//! - `get_reader(direct=True)` reads from the target the SDK computes, never asking the proxy;
//! - with a stale map, the old target's 404 sends the SDK to refresh the map (from that target)
//!   and read from the new owner;
//! - the SDK's cold-GET protocol (`check-lock` POSTs through its `LockPoller`) works through the
//!   redirects too.
//!
//! Which Python: see [`stowage_tests::sdk_python`]; without one the tests are skipped saying how
//! to run them.

use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Child, ChildStdout, Command, Stdio};

use stowage_cluster::{BucketSpec, Cluster, ClusterConfig};
use stowage_proto::ais::{Bucket, ObjectAddress, Provider};

const TEST: &str = "topology_conformance";

fn script(name: &str) -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("conformance").join(name)
}

/// The SDK script's next JSON line; on EOF, its exit status and stderr as the panic.
async fn next_line(child: &mut Child, stdout: BufReader<ChildStdout>) -> (serde_json::Value, BufReader<ChildStdout>) {
    let (line, stdout) = tokio::task::spawn_blocking(move || {
        let mut stdout = stdout;
        let mut line = String::new();
        stdout.read_line(&mut line).unwrap();
        (line, stdout)
    })
    .await
    .unwrap();
    if line.is_empty() {
        let mut stderr = String::new();
        std::io::Read::read_to_string(child.stderr.as_mut().unwrap(), &mut stderr).unwrap();
        panic!("the SDK stopped ({:?}): {stderr}", child.wait().unwrap());
    }
    (serde_json::from_str(&line).unwrap(), stdout)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_aistore_python_sdk_follows_redirects_reads_our_smap_and_routes_direct_reads() {
    let Some(python) = stowage_tests::sdk_python(stowage_tests::AISTORE, TEST) else { return };
    let config =
        ClusterConfig { targets: Some(3), buckets: vec![BucketSpec::new("data", "ais")], ..ClusterConfig::default() };
    let cluster = Cluster::start(config).await.unwrap();
    let bucket = Bucket::new("data", Provider::Ais);
    let names: Vec<String> = (0..12).map(|i| format!("dir/object {i}.bin")).collect();

    let mut child = Command::new(python)
        .arg(script("aistore_topology.py"))
        .args([cluster.url().as_str(), "data", "ais"])
        .args(&names)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stdout = BufReader::new(child.stdout.take().unwrap());

    // 1. Through the proxy.
    let (proxy_phase, stdout) = next_line(&mut child, stdout).await;
    assert_eq!(proxy_phase["phase"], "proxy");
    assert_eq!(proxy_phase["version"], 1);
    assert_eq!((&proxy_phase["primary"], &proxy_phase["primary_url"]), (&"p1".into(), &cluster.url().into()));
    let targets = cluster.targets();
    let sdk_targets = proxy_phase["targets"].as_object().unwrap();
    assert_eq!(sdk_targets.len(), 3);
    for target in &targets {
        assert_eq!(sdk_targets[&target.id], target.url(), "the SDK reads each target's direct_url");
    }
    let mut owners = std::collections::HashSet::new();
    for name in &names {
        let ours = cluster.owner(&bucket, name).unwrap();
        assert_eq!(proxy_phase["owners"][name], ours.id, "the SDK's HRW and ours agree on {name:?}");
        owners.insert(ours.id);
    }
    assert!(owners.len() > 1, "the objects spread over the targets");
    let after_proxy = cluster.stats();
    assert!(after_proxy.redirects >= 3 * names.len() as u64, "PUT, GET and HEAD of each went through the proxy");
    assert_eq!(after_proxy.object_puts, names.len() as u64);
    assert_eq!(after_proxy.misdirected, 0);

    // 2. Direct from the targets.
    let (direct_phase, stdout) = next_line(&mut child, stdout).await;
    assert_eq!(direct_phase["phase"], "direct");
    let after_direct = cluster.stats();
    assert_eq!(after_direct.redirects, after_proxy.redirects, "direct reads skip the proxy");
    assert!(after_direct.object_gets >= after_proxy.object_gets + names.len() as u64);
    assert_eq!(after_direct.misdirected, 0, "every direct read hit its owner");

    // 3. A stale map: the owner of one object goes into maintenance under the SDK's feet.
    let moved = &names[0];
    let old_owner = cluster.owner(&bucket, moved).unwrap();
    cluster.start_maintenance(&old_owner.id).await.unwrap();
    let new_owner = cluster.owner(&bucket, moved).unwrap();
    assert_ne!(new_owner, old_owner);
    writeln!(child.stdin.as_mut().unwrap(), "{moved}").unwrap();
    let (stale_phase, _stdout) = next_line(&mut child, stdout).await;
    assert_eq!(stale_phase["phase"], "stale");
    assert_eq!((&stale_phase["version"], &stale_phase["owner"]), (&2.into(), &new_owner.id.clone().into()));
    let after_stale = cluster.stats();
    assert_eq!(after_stale.misdirected, 1, "the old owner said 404 once: {after_stale:?}");
    assert_eq!(after_stale.redirects, after_proxy.redirects, "the SDK did not fall back to the proxy");
    assert!(child.wait().unwrap().success());

    // What the SDK wrote is there, at the owner.
    let address = ObjectAddress::new(bucket.clone(), &names[1]);
    let owner = cluster.owner(&bucket, &names[1]).unwrap();
    let body = get(owner.addr, &address.uri(&[]).to_string()).await;
    assert_eq!(body, format!("{}\n", names[1]).repeat(1000).into_bytes());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_aistore_python_sdk_waits_out_a_cold_get_through_the_proxy() {
    let Some(python) = stowage_tests::sdk_python(stowage_tests::AISTORE, TEST) else { return };
    let spec = BucketSpec { cold_get_lock_ms: 2_500, ..BucketSpec::new("cloud", "aws") };
    let config = ClusterConfig { targets: Some(3), buckets: vec![spec], ..ClusterConfig::default() };
    let cluster = Cluster::start(config).await.unwrap();
    let bucket = Bucket::new("cloud", Provider::Aws);
    let data: bytes::Bytes = (0..1_000_000u32).map(|i| (i % 241) as u8).collect::<Vec<u8>>().into();
    cluster.put_object(&bucket, "sdk/object", data.clone());

    let url = cluster.url();
    let out = tokio::task::spawn_blocking(move || {
        Command::new(python)
            .arg(script("aistore_cold_get.py"))
            .args([&url, "cloud", "aws", "sdk/object"])
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    assert!(out.status.success(), "the SDK failed: {}", String::from_utf8_lossy(&out.stderr));
    let got: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(got["len"], data.len());

    let stats = cluster.stats();
    assert_eq!(stats.cold_gets, 1, "{stats:?}");
    assert!(stats.check_locks >= 2, "check-lock went through the proxy to the target: {stats:?}");
    assert!(stats.redirects >= stats.check_locks + stats.object_heads + stats.object_gets, "{stats:?}");
    let owner = cluster.owner(&bucket, "sdk/object").unwrap();
    let index = cluster.targets().iter().position(|t| *t == owner).unwrap();
    let served: u64 = stats.target_requests.iter().sum();
    assert_eq!(stats.target_requests[index], served, "only the owner served the object: {stats:?}");
}

/// A plain GET's body, over a fresh connection (no HTTP client crate needed).
async fn get(addr: std::net::SocketAddr, uri: &str) -> Vec<u8> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut conn = tokio::net::TcpStream::connect(addr).await.unwrap();
    let head = format!("GET {uri} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    conn.write_all(head.as_bytes()).await.unwrap();
    let mut response = Vec::new();
    conn.read_to_end(&mut response).await.unwrap();
    assert!(response.starts_with(b"HTTP/1.1 200 OK\r\n"), "{}", String::from_utf8_lossy(&response[..64]));
    let end = response.windows(4).position(|w| w == b"\r\n\r\n").unwrap() + 4;
    response.split_off(end)
}
