//! The README's main commands, run as a user runs them (debug build, a subset of scenarios).

use std::process::Command;

use stowage_tests::moto::Moto;

fn stowage(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_stowage")).args(args).output().expect("the stowage binary runs")
}

#[test]
fn a_failed_get_says_why_and_no_more_even_under_rust_backtrace() {
    // Port 1 on loopback: nothing listens, every attempt is refused at once.
    let out = Command::new(env!("CARGO_BIN_EXE_stowage"))
        .args(["get", "-q", "--sink", "http://127.0.0.1:1/object"])
        .env("RUST_BACKTRACE", "1")
        .output()
        .expect("the stowage binary runs");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.starts_with("Error: GET http://127.0.0.1:1/object\n\nCaused by:\n    range "), "{stderr}");
    assert!(stderr.contains("connection refused") && !stderr.contains("backtrace"), "{stderr}");
}

#[test]
fn bench_reads_the_cold_object_after_waiting_for_its_lock() {
    let out = stowage(&["bench", "--json", "--only", "warm-get,cold-get,check-lock-reset"]);
    assert!(out.status.success(), "stderr: {}", String::from_utf8_lossy(&out.stderr));
    let rows: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let rows = rows.as_array().unwrap();
    assert_eq!(rows.len(), 3);
    for row in rows {
        assert_eq!(row["verified"], true, "{row}");
        assert_eq!(row["ok"], true, "{row}");
        assert_eq!(row["family"], "lockpoll", "{row}");
    }
    let cold = &rows[1];
    assert_eq!(cold["scenario"], "cold-get");
    assert_eq!(cold["attempts"], 2, "{cold}");
    assert!(cold["polls"].as_u64().unwrap() >= 1, "{cold}");
    assert!(cold["outcome"].as_str().unwrap().contains("unlocked"), "{cold}");
}

#[test]
fn bench_prints_a_table() {
    let out = stowage(&["bench", "--only", "warm-get"]);
    assert!(out.status.success(), "stderr: {}", String::from_utf8_lossy(&out.stderr));
    let text = String::from_utf8(out.stdout).unwrap();
    let mut lines = text.lines();
    assert!(lines.next().unwrap().starts_with("scenario  outcome"));
    assert!(lines.next().unwrap().starts_with("warm-get"));
}

#[test]
fn unknown_scenarios_are_refused_with_the_known_names() {
    let out = stowage(&["bench", "--only", "nope"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("known: warm-get"));
}

#[test]
fn get_downloads_presigned_s3_urls_with_either_driver() {
    let Some(moto) = Moto::start("-p stowage --test cli") else { return };
    let bytes = |len: usize| -> Vec<u8> { (0..len).map(|i| (i * 13 + i / 1021) as u8).collect() };
    // Two ranges of the default size (8 MiB), the second short; and less than one range.
    let objects = [("cli/big.bin", bytes(9 * 1024 * 1024 + 5)), ("cli/small.bin", bytes(100_000))];
    let named: Vec<(&str, &[u8])> = objects.iter().map(|(key, data)| (*key, &data[..])).collect();
    let urls = moto.put("stowage", &named);
    let dir = std::env::temp_dir().join(format!("stowage-cli-s3-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    for ((key, data), url) in objects.iter().zip(&urls) {
        for driver in ["tokio", "uring"] {
            let path = dir.join(format!("{driver}.bin"));
            let out = stowage(&["get", url, "-o", path.to_str().unwrap(), "--driver", driver]);
            let stderr = String::from_utf8_lossy(&out.stderr);
            assert!(out.status.success(), "{key} with {driver}: {stderr}");
            assert!(std::fs::read(&path).unwrap() == *data, "{key} with {driver}: the file is not the object");
            // Each range's ETag is the single-part object's MD5.
            assert!(stderr.contains("verified against etag (md5) "), "{key} with {driver}: {stderr}");
        }
    }
    std::fs::remove_dir_all(&dir).unwrap();
    // The size came from the first range: S3 refuses a HEAD of a URL signed for GET.
    let reads: Vec<_> =
        moto.requests().into_iter().filter(|r| r.method != "PUT" && r.path.starts_with("/stowage/cli/")).collect();
    assert!(reads.iter().all(|r| r.method == "GET" && r.status == 206), "{reads:?}");
    assert_eq!(reads.len(), 2 * (2 + 1), "{reads:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn get_direct_reads_from_the_owning_target_without_a_redirect() {
    use stowage_cluster::{Cluster, ClusterConfig, Generator};
    use stowage_proto::ais::{Bucket, Provider};

    let cluster = Cluster::start(ClusterConfig { targets: Some(3), ..ClusterConfig::default() }).await.unwrap();
    let size = (20 << 20) + 7;
    cluster.put_generated(&Bucket::new("local", Provider::Ais), "direct.bin", size);
    let mut expected = vec![0; size as usize];
    Generator::for_object("direct.bin").fill(0, &mut expected);
    let url = format!("{}/v1/objects/local/direct.bin?provider=ais", cluster.url());
    let dir = std::env::temp_dir().join(format!("stowage-cli-direct-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    for driver in ["tokio", "uring"] {
        let before = cluster.stats();
        let path = dir.join(format!("{driver}.bin"));
        let args = ["get", &url, "--direct", "-o", path.to_str().unwrap(), "--driver", driver, "--quiet"];
        let args: Vec<String> = args.iter().map(|a| a.to_string()).collect();
        let out = tokio::task::spawn_blocking(move || stowage(&args.iter().map(String::as_str).collect::<Vec<_>>()))
            .await
            .unwrap();
        assert!(out.status.success(), "{driver}: {}", String::from_utf8_lossy(&out.stderr));
        assert!(std::fs::read(&path).unwrap() == expected, "{driver}: the bytes differ");
        let after = cluster.stats();
        // The proxy is asked for the map only; no range meets a redirect.
        let proxy = after.proxy_requests - before.proxy_requests;
        assert_eq!((proxy, after.redirects - before.redirects), (1, 0), "{driver}: {after:?}");
    }
    let _ = std::fs::remove_dir_all(&dir);

    // Not an AIStore object URL: a clear error, no download.
    let plain = format!("{}/elsewhere", cluster.url());
    let out =
        tokio::task::spawn_blocking(move || stowage(&["get", &plain, "--direct", "--sink", "--quiet"])).await.unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("--direct needs an AIStore object URL"));
    cluster.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn get_refuses_bytes_that_do_not_match_the_stated_checksum_unless_told_not_to_verify() {
    use stowage_cluster::{Cluster, ClusterConfig, RangeFault, RangeFaultRule};
    use stowage_proto::ais::{Bucket, Provider};

    let cluster = Cluster::start(ClusterConfig::default()).await.unwrap();
    cluster.put_generated(&Bucket::new("local", Provider::Ais), "sum.bin", (3 << 20) + 1);
    let url = format!("{}/v1/objects/local/sum.bin?provider=ais", cluster.url());
    let dir = std::env::temp_dir().join(format!("stowage-cli-verify-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let run = |args: Vec<String>| {
        tokio::task::spawn_blocking(move || stowage(&args.iter().map(String::as_str).collect::<Vec<_>>()))
    };
    for driver in ["tokio", "uring"] {
        let path = dir.join(format!("{driver}.bin"));
        let args = |extra: &[&str]| -> Vec<String> {
            let base = ["get", &url, "-o", path.to_str().unwrap(), "--driver", driver, "--chunk", "1M"];
            base.iter().chain(extra).map(|a| a.to_string()).collect()
        };
        let out = run(args(&[])).await.unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success() && stderr.contains("verified against ais-checksum-value (xxhash2) "), "{stderr}");

        std::fs::remove_file(&path).unwrap();
        cluster.add_range_fault(RangeFaultRule::new(RangeFault::Corrupt).skip(1).times(1));
        let out = run(args(&[])).await.unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success() && stderr.contains("checksum mismatch: ais-checksum-value (xxhash2) states"));
        assert!(!path.exists(), "{driver}: a file that is not the object was left behind");
        for left in [".part", ".part.journal"].map(|suffix| dir.join(format!("{driver}.bin{suffix}"))) {
            assert!(!left.exists(), "{driver}: {} was left behind", left.display());
        }

        cluster.add_range_fault(RangeFaultRule::new(RangeFault::Corrupt).skip(1).times(1));
        let out = run(args(&["--no-verify"])).await.unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    }
    let _ = std::fs::remove_dir_all(&dir);
    cluster.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn get_continue_finishes_a_killed_download_with_only_the_missing_ranges() {
    use std::time::Duration;

    use stowage_cluster::{Cluster, ClusterConfig, Generator, Link};
    use stowage_proto::ais::{Bucket, Provider};

    let cluster = Cluster::start(ClusterConfig::default()).await.unwrap();
    let size: u64 = 24 << 20;
    cluster.put_generated(&Bucket::new("local", Provider::Ais), "killed.bin", size);
    let mut expected = vec![0; size as usize];
    Generator::for_object("killed.bin").fill(0, &mut expected);
    let url = format!("{}/v1/objects/local/killed.bin?provider=ais", cluster.url());
    let dir = std::env::temp_dir().join(format!("stowage-cli-continue-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    for driver in ["tokio", "uring"] {
        let path = dir.join(format!("{driver}.bin"));
        let journal = dir.join(format!("{driver}.bin.part.journal"));
        let args = ["get", &url, "-o", path.to_str().unwrap(), "--driver", driver, "--chunk", "1M", "--workers", "2"];
        // 1 MiB ranges at 8 MiB/s a connection: about 1.5 s for the lot; killed well before.
        cluster.set_link(Link { bytes_per_sec: Some(8 << 20), first_byte: Duration::ZERO });
        let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_stowage")).args(args).spawn().unwrap();
        let deadline = std::time::Instant::now() + Duration::from_secs(20);
        while std::fs::read_to_string(&journal).map_or(0, |j| j.matches("done ").count()) < 3 {
            assert!(std::time::Instant::now() < deadline, "{driver}: no range landed");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        child.kill().unwrap();
        child.wait().unwrap();
        assert!(!path.exists(), "{driver}: killed mid-way, FILE must not exist");

        cluster.set_link(Link::default());
        let before = cluster.stats().object_gets;
        let mut resumed = args.iter().map(|a| a.to_string()).collect::<Vec<_>>();
        resumed.push("--continue".into());
        let out = tokio::task::spawn_blocking(move || stowage(&resumed.iter().map(String::as_str).collect::<Vec<_>>()))
            .await
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "{driver}: {stderr}");
        assert!(stderr.contains("bytes were already there"), "{driver}: {stderr}");
        assert!(std::fs::read(&path).unwrap() == expected, "{driver}: the bytes differ");
        let fetched = cluster.stats().object_gets - before;
        assert!(fetched <= 24 - 3, "{driver}: {fetched} ranges fetched again");
    }
    let _ = std::fs::remove_dir_all(&dir);
    cluster.shutdown().await;
}
