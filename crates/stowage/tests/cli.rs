//! The README's main commands, run as a user runs them (debug build, a subset of scenarios).

use std::process::Command;

use stowage_tests::moto::Moto;

fn stowage(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_stowage")).args(args).output().expect("the stowage binary runs")
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

        cluster.add_range_fault(RangeFaultRule::new(RangeFault::Corrupt).skip(1).times(1));
        let out = run(args(&[])).await.unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success() && stderr.contains("checksum mismatch: ais-checksum-value (xxhash2) states"));
        assert!(!path.exists(), "{driver}: a file that is not the object was left behind");

        cluster.add_range_fault(RangeFaultRule::new(RangeFault::Corrupt).skip(1).times(1));
        let out = run(args(&["--no-verify"])).await.unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    }
    let _ = std::fs::remove_dir_all(&dir);
    cluster.shutdown().await;
}
