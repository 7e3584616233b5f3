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
//!   redirects too, and stowage's cold GET, through each driver, sends what the SDK sends: the
//!   GET, the `check-lock`s, the sizing `HEAD` and the retried GET all to the proxy, each
//!   redirected to the owner;
//! - the SDK's `Job.wait` and stowage's (each driver) decide alike on twin jobs through the
//!   proxy.
//!
//! Which Python: see [`stowage_tests::sdk_python`]; without one the tests are skipped saying how
//! to run them.

use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Child, ChildStdout, Command, Stdio};

use std::time::Duration;

use bytes::Bytes;
use stowage_ais::Client;
use stowage_cluster::{BucketSpec, Cluster, ClusterConfig, JobScript, JobStep, Span, Stats, TargetScript};
use stowage_jobwait::{Dispatch, JobWait, WaitConfig};
use stowage_lockpoll::{ColdGet, ColdGetConfig, ColdGetOutcome, LockPollConfig};
use stowage_proto::ais::{Bucket, ObjectAddress, Provider};
use stowage_proto::{Backoff, Retry, Timeouts};
use stowage_tests::Driver;
use stowage_tokio::HyperTransport;
use stowage_uring::UringDriver;

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
    // The SDK goes on to its direct reads without waiting for us: `after_proxy` may count some
    // of them already. Each object was read once through the proxy, then once direct.
    assert!(after_direct.object_gets >= 2 * names.len() as u64, "{after_direct:?}");
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

    // stowage, through each driver, with the SDK's read timeout: the same requests, the same way.
    let address = ObjectAddress::new(bucket.clone(), "sdk/object");
    let sdk = stats;
    let mut before = sdk.clone();
    for driver in [Driver::Tokio, Driver::Uring] {
        assert!(cluster.evict(&bucket, "sdk/object"));
        assert_eq!(stowage_cold_get(driver, &cluster.url(), &address).await, data, "{driver:?}");
        let after = cluster.stats();
        let ours = delta(&before, &after);
        assert_eq!(ours.cold_gets, 1, "{driver:?}: {ours:?}");
        assert_eq!(
            (ours.object_gets, ours.object_heads),
            (sdk.object_gets, sdk.object_heads),
            "{driver:?}: the GETs and the sizing HEAD, as the SDK sent them: {ours:?} vs {sdk:?}"
        );
        assert!(ours.check_locks >= 2, "{driver:?}: polled check-lock through the proxy: {ours:?}");
        let served = ours.object_gets + ours.object_heads + ours.check_locks;
        assert_eq!(ours.redirects, served, "{driver:?}: every one sent to the proxy and redirected: {ours:?}");
        assert_eq!(ours.proxy_requests, ours.redirects, "{driver:?}: {ours:?}");
        assert_eq!(ours.target_requests[index], served, "{driver:?}: only the owner served them: {ours:?}");
        before = after;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_aistore_python_sdk_and_stowage_wait_alike_for_jobs_through_the_proxy() {
    let Some(python) = stowage_tests::sdk_python(stowage_tests::AISTORE, TEST) else { return };
    let cluster = Cluster::start(ClusterConfig { targets: Some(3), ..ClusterConfig::default() }).await.unwrap();
    use JobStep::{End, Idle, Running};
    let polls = Span::Polls;
    let cases = [
        ("rebalance", vec![vec![Running(polls(2)), End], vec![Running(polls(3)), End]]),
        ("copy-listrange", vec![vec![Running(polls(1)), Idle(polls(1_000))], vec![Idle(polls(1_000))]]),
        ("blob-download", vec![vec![Running(polls(2)), End], vec![Running(polls(1_000))]]),
    ];
    let client = Client::new(&cluster.url()).unwrap();
    // Jobs A (the SDK's), B (tokio's) and C (io_uring's) of each kind, with one script.
    let mut twins = vec![];
    for (kind, targets) in &cases {
        cluster.jobs().script(kind, JobScript::new(targets.iter().cloned().map(TargetScript::new)));
        let mut ids = vec![];
        for _ in 0..3 {
            ids.push(client.start_job(kind).await.unwrap().id().to_owned());
        }
        twins.push(ids);
    }

    let url = cluster.url();
    let jobs: Vec<String> = twins.iter().map(|ids| format!("{}:wait", ids[0])).collect();
    let script = script("aistore_job_wait.py");
    let out = tokio::task::spawn_blocking(move || {
        Command::new(python).arg(script).arg(url).arg("10").args(jobs).output().unwrap()
    })
    .await
    .unwrap();
    assert!(out.status.success(), "the SDK failed: {}", String::from_utf8_lossy(&out.stderr));
    let sdk: Vec<serde_json::Value> =
        String::from_utf8(out.stdout).unwrap().lines().map(|line| serde_json::from_str(line).unwrap()).collect();

    let config =
        WaitConfig { interval: Some(Duration::from_millis(100)), ..WaitConfig::with_timeout(Duration::from_secs(10)) };
    for ((kind, _), (ids, sdk)) in cases.iter().zip(twins.iter().zip(&sdk)) {
        assert_eq!(sdk["job"], ids[0].as_str());
        let tokio = client.job(ids[1].clone(), "").wait(config).await.result.unwrap();
        let (url, id) = (cluster.url(), ids[2].clone());
        let uring = tokio::task::spawn_blocking(move || {
            let machine = JobWait::new(id, "", Dispatch::ByKind, config);
            UringDriver::new(&url, Timeouts::default()).unwrap().drive(machine).unwrap().outcome
        })
        .await
        .unwrap()
        .result
        .unwrap();
        assert_eq!((sdk["success"].as_bool(), tokio.success, uring.success), (Some(true), true, true), "{kind}: {sdk}");
        let polls: Vec<u32> = ids.iter().map(|id| cluster.jobs().polls(id).unwrap()).collect();
        assert_eq!((polls[1], polls[2]), (polls[0], polls[0]), "{kind}: decided on the poll the SDK did");
    }
    assert_eq!(cluster.stats().redirects, 0, "the proxy answers the job API itself");
}

/// The object at `address` read by stowage's cold-GET retry through `driver`, configured as
/// the SDK script is (0.5 s read timeout, 4 attempts, 0.1 s between them, 30 s of lock waits).
async fn stowage_cold_get(driver: Driver, url: &str, address: &ObjectAddress) -> Bytes {
    let timeouts = Timeouts { connect: Duration::from_secs(3), read: Duration::from_millis(500) };
    let fixed = Backoff { multiplier: 0.0, min: Duration::from_millis(100), max: Duration::from_millis(100) };
    let retry = Retry { max_attempts: 4, backoff: fixed, jitter: false };
    let config = ColdGetConfig {
        retry,
        lock: LockPollConfig { max_cold_wait: Duration::from_secs(30), ..LockPollConfig::default() },
    };
    match driver {
        Driver::Tokio => {
            let client = Client::with_transport(HyperTransport::new(url, timeouts).unwrap(), config, 7);
            client.get_object(address).await.unwrap().response.into_body()
        }
        Driver::Uring => {
            let (url, uri) = (url.to_owned(), address.uri(&[]));
            tokio::task::spawn_blocking(move || {
                let get = http::Request::get(uri).body(Bytes::new()).unwrap();
                let mut driver = UringDriver::new(&url, timeouts).unwrap();
                let mut driven = driver.drive(ColdGet::new(get, config, 7)).unwrap();
                let ColdGetOutcome::Response { id, .. } = driven.outcome else { panic!("{:?}", driven.outcome) };
                driven.responses.take(id).unwrap().into_body()
            })
            .await
            .unwrap()
        }
    }
}

/// What the cluster counted between `before` and `after`.
fn delta(before: &Stats, after: &Stats) -> Stats {
    let per_target = after.target_requests.iter().zip(&before.target_requests).map(|(a, b)| a - b).collect();
    Stats {
        requests: after.requests - before.requests,
        object_gets: after.object_gets - before.object_gets,
        object_heads: after.object_heads - before.object_heads,
        object_puts: after.object_puts - before.object_puts,
        check_locks: after.check_locks - before.check_locks,
        cold_gets: after.cold_gets - before.cold_gets,
        faults_injected: after.faults_injected - before.faults_injected,
        redirects: after.redirects - before.redirects,
        misdirected: after.misdirected - before.misdirected,
        other: after.other - before.other,
        proxy_requests: after.proxy_requests - before.proxy_requests,
        target_requests: per_target,
    }
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
