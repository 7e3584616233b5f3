//! The replica family: replicated block writes through `KeepClient` to an embedded Keep
//! cluster, checked against what the services actually stored (over-replication), and the
//! Arvados Python SDK on the same cluster for comparison.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use bytes::Bytes;
use stowage_cluster::keep::{KeepCluster, KeepClusterConfig, KeepServiceSpec, Scripted};
use stowage_keep::{KeepClient, KeepError};
use stowage_replica::{PassSchedule, Service, ServiceKind};

use super::{Meta, Run, Target};
use crate::report::{Cell, Row};

/// The family's name, its table's title.
const FAMILY: &str = "replica";
/// The token every service requires.
const TOKEN: &str = "harness-token";

/// What a scenario should end with.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Expect {
    /// Every block stored, exactly `wanted` replicas of each on the services.
    Stored,
    /// Every block's write fails, without writing past `wanted`.
    Fails,
}

/// Who writes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Writer {
    /// stowage's `KeepClient`.
    Stowage,
    /// The Arvados Python SDK 3.2.1 (`$STOWAGE_PYTHON`), skipped when absent.
    ArvadosSdk,
}

#[derive(Clone, Debug)]
struct ReplicaScenario {
    name: &'static str,
    about: &'static str,
    services: Vec<KeepServiceSpec>,
    wanted: u32,
    blocks: usize,
    block_size: usize,
    writer: Writer,
    expect: Expect,
    /// The services skip md5 verification (client-cost runs).
    trust_hashes: bool,
}

impl super::Scenario for ReplicaScenario {
    fn meta(&self) -> Meta {
        Meta { family: FAMILY, name: self.name, about: self.about }
    }

    fn runs_alone(&self) -> bool {
        // MB/s: alone, or the other scenarios set the rate.
        true
    }

    fn run(&self, target: Target) -> Run<'_> {
        Box::pin(run(self, target))
    }
}

/// 8 keepstores, service `j` answering after `j × step`: staggered answers.
fn staggered(step: Duration) -> Vec<KeepServiceSpec> {
    (0..8u32).map(|j| KeepServiceSpec { latency: step * j, ..KeepServiceSpec::disk() }).collect()
}

/// The family's scenarios, in table order.
pub(super) fn scenarios() -> Vec<Box<dyn super::Scenario>> {
    let ms = Duration::from_millis;
    let base = ReplicaScenario {
        name: "replica-8-disks-2",
        about: "8 keepstores answering 0-70 ms apart, 2 copies of 32 blocks of 1 MiB",
        services: staggered(ms(10)),
        wanted: 2,
        blocks: 32,
        block_size: 1 << 20,
        writer: Writer::Stowage,
        expect: Expect::Stored,
        trust_hashes: false,
    };
    let mut failing = staggered(ms(2));
    for (j, status) in [(0, 500), (2, 503), (4, 408), (6, 429)] {
        failing[j].script = vec![Scripted::Status(status); 4];
    }
    let mut read_only = staggered(ms(2));
    read_only[1].read_only = true;
    read_only[3].read_only = true;
    let big = ReplicaScenario {
        name: "replica-64mib-x3",
        about: "throughput: 8 blocks of 64 MiB x 3 copies to 8 keepstores",
        services: vec![KeepServiceSpec::disk(); 8],
        wanted: 3,
        blocks: 8,
        block_size: 64 << 20,
        ..base.clone()
    };
    vec![
        base.clone(),
        ReplicaScenario {
            name: "replica-8-disks-3",
            about: "the same, 3 copies: never a 4th, however the answers stagger",
            wanted: 3,
            ..base.clone()
        },
        ReplicaScenario {
            name: "replica-proxy",
            about: "one keepproxy storing up to 3 per PUT, 2 copies: one PUT per block",
            services: vec![KeepServiceSpec::proxy(3)],
            ..base.clone()
        },
        ReplicaScenario {
            name: "replica-failures",
            about: "4 of 8 keepstores answer 500 / 503 / 408 / 429 to their first 4 PUTs, 3 copies",
            services: failing,
            wanted: 3,
            ..base.clone()
        },
        ReplicaScenario {
            name: "replica-read-only",
            about: "2 of 8 keepstores read-only: never written, 3 copies",
            services: read_only,
            wanted: 3,
            ..base.clone()
        },
        ReplicaScenario {
            name: "replica-too-few",
            about: "2 keepstores, 3 copies wanted: fails at once with 2 stored, no retry pass",
            services: vec![KeepServiceSpec::disk(); 2],
            wanted: 3,
            blocks: 4,
            expect: Expect::Fails,
            ..base.clone()
        },
        big.clone(),
        ReplicaScenario {
            name: "replica-64mib-x3-sdk",
            about: "the same through the Arvados Python SDK 3.2.1 ($STOWAGE_PYTHON)",
            writer: Writer::ArvadosSdk,
            ..big.clone()
        },
        ReplicaScenario {
            name: "replica-64mib-x3-trusting",
            about: "64 MiB x 3 to keepstores that skip md5 verification: the client's cost",
            trust_hashes: true,
            ..big.clone()
        },
        ReplicaScenario {
            name: "replica-64mib-x3-trusting-sdk",
            about: "the same through the Arvados Python SDK 3.2.1",
            trust_hashes: true,
            writer: Writer::ArvadosSdk,
            ..big.clone()
        },
        ReplicaScenario {
            name: "replica-8-disks-3-sdk",
            about: "the Arvados SDK with staggered answers, 3 copies: its excess copies",
            writer: Writer::ArvadosSdk,
            wanted: 3,
            ..base
        },
    ]
    .into_iter()
    .map(|s| Box::new(s) as Box<dyn super::Scenario>)
    .collect()
}

/// What a run did, over all its blocks.
#[derive(Debug, Default)]
struct Tally {
    stored: u64,
    failed: u64,
    copies: u64,
    puts: u64,
    passes: u64,
    elapsed: Duration,
    /// CPU time (user + system) the writer spent in its puts, when it could be read.
    client_cpu: Option<Duration>,
    /// CPU time the writer's process or thread spent over the whole run (puts and making the
    /// blocks): what to take off the harness process's time to leave the keepstores'.
    writer_cpu_in_process: Duration,
    hashes: Vec<String>,
}

/// The name of the threads `KeepClient` runs on in this harness.
const CLIENT_THREAD: &str = "keep-client";

/// CPU time (user + system) used so far by this process's live threads named `name`:
/// `/proc/self/task/*/schedstat` (nanoseconds). `None` where it cannot be read (not Linux).
fn threads_cpu(name: &str) -> Option<Duration> {
    let mut total = Duration::ZERO;
    for task in std::fs::read_dir("/proc/self/task").ok()? {
        let path = task.ok()?.path();
        // A thread may end between listing and reading: it is skipped.
        let (Ok(comm), Ok(stat)) =
            (std::fs::read_to_string(path.join("comm")), std::fs::read_to_string(path.join("schedstat")))
        else {
            continue;
        };
        if comm.trim_end() == name {
            total += Duration::from_nanos(stat.split_whitespace().next()?.parse().ok()?);
        }
    }
    Some(total)
}

/// CPU time (user + system) used so far by this process, all threads: `/proc/self/stat`
/// fields 14 and 15, in the kernel's fixed 100 ticks per second. `None` where it cannot be read.
fn process_cpu() -> Option<Duration> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // The command name (field 2) may hold spaces; the fields after it are plain numbers.
    let mut fields = stat.rsplit_once(')')?.1.split_whitespace().skip(11);
    let utime: u64 = fields.next()?.parse().ok()?;
    let stime: u64 = fields.next()?.parse().ok()?;
    Some(Duration::from_millis((utime + stime) * 10))
}

/// Milliseconds of CPU per GiB of block data (0 when unknown).
fn cpu_ms_per_gib(cpu: Option<Duration>, bytes: f64) -> u64 {
    cpu.map_or(0, |cpu| (cpu.as_secs_f64() * 1e3 / (bytes / f64::from(1u32 << 30))).round() as u64)
}

/// Block `b` of a scenario: deterministic bytes, different for every block.
fn block(b: usize, size: usize) -> Bytes {
    let seed = b as u64;
    (0..size).map(|i| ((i as u64).wrapping_mul(31).wrapping_add(seed * 7919) % 251) as u8).collect::<Vec<u8>>().into()
}

async fn run(scenario: &ReplicaScenario, target: Target) -> anyhow::Result<Row> {
    let config = KeepClusterConfig {
        services: scenario.services.clone(),
        token: Some(TOKEN.into()),
        trust_hashes: scenario.trust_hashes,
        ..KeepClusterConfig::default()
    };
    let cluster = KeepCluster::start(config).await.with_context(|| format!("{}: starting Keep", scenario.name))?;
    let process_before = process_cpu();
    let tally = match scenario.writer {
        Writer::Stowage => write_with_stowage(scenario, &cluster, target.seed).await?,
        Writer::ArvadosSdk => match sdk_python() {
            Some(python) => write_with_sdk(scenario, &cluster, python).await?,
            None => return Ok(skipped(scenario)),
        },
    };
    // This process runs the keepstores (and, for stowage, the writer's thread): what is left
    // once the writer's time is taken off is the keepstores' (and the idle harness's).
    let keep_cpu = process_before
        .zip(process_cpu())
        .map(|(before, after)| after.saturating_sub(before).saturating_sub(tally.writer_cpu_in_process));
    let wanted = u64::from(scenario.wanted);
    let over: u64 = tally.hashes.iter().map(|h| cluster.replicas(h).saturating_sub(wanted)).sum();
    let read_only_writes: u64 = cluster.stats().iter().map(|s| s.read_only_writes).sum();
    let bytes = (scenario.blocks * scenario.block_size) as f64;
    let mb_per_s = bytes / 1e6 / tally.elapsed.as_secs_f64().max(1e-9);
    let all = scenario.blocks as u64;
    let ok = match (scenario.writer, scenario.expect) {
        (Writer::Stowage, Expect::Stored) => tally.stored == all && over == 0 && read_only_writes == 0,
        (Writer::Stowage, Expect::Fails) => tally.failed == all && over == 0,
        // The reference over-replicates by design; its row only has to have written.
        (Writer::ArvadosSdk, _) => tally.stored == all && read_only_writes == 0,
    };
    let outcome = format!("{} of {} blocks stored, {} over-replicated copies", tally.stored, all, over);
    Ok(Row {
        family: FAMILY,
        scenario: scenario.name.to_owned(),
        outcome,
        columns: vec![
            ("wanted", Cell::Count(wanted)),
            ("stored", Cell::Count(tally.copies)),
            ("puts", Cell::Count(tally.puts)),
            ("passes", Cell::Count(tally.passes)),
            ("over", Cell::Count(over)),
            ("mb_per_s", Cell::Count(mb_per_s.round() as u64)),
            ("client_cpu_ms_per_gib", Cell::Count(cpu_ms_per_gib(tally.client_cpu, bytes))),
            ("keep_cpu_ms_per_gib", Cell::Count(cpu_ms_per_gib(keep_cpu, bytes))),
            ("elapsed", Cell::Seconds(tally.elapsed.as_secs_f64())),
        ],
        ok,
    })
}

fn skipped(scenario: &ReplicaScenario) -> Row {
    Row {
        family: FAMILY,
        scenario: scenario.name.to_owned(),
        outcome: "skipped: no Python with arvados-python-client (set STOWAGE_PYTHON)".to_owned(),
        columns: [
            "wanted",
            "stored",
            "puts",
            "passes",
            "over",
            "mb_per_s",
            "client_cpu_ms_per_gib",
            "keep_cpu_ms_per_gib",
        ]
        .into_iter()
        .map(|k| (k, Cell::Count(0)))
        .chain([("elapsed", Cell::Seconds(0.0))])
        .collect(),
        ok: true,
    }
}

/// Writes the scenario's blocks with `KeepClient`, one after the other, on a thread of its
/// own with its own single-threaded runtime (hyper's connection tasks included): the client's
/// CPU time is that of the threads named [`CLIENT_THREAD`], apart from the keepstores' on the
/// harness runtime — as the SDK's is its own process's.
async fn write_with_stowage(scenario: &ReplicaScenario, cluster: &KeepCluster, seed: u64) -> anyhow::Result<Tally> {
    let services = cluster
        .services()
        .iter()
        .map(|s| {
            let service = Service::new(&s.uuid, &s.root, ServiceKind::from_type(Some(s.service_type)))?;
            Ok(if s.read_only { service.read_only() } else { service })
        })
        .collect::<anyhow::Result<Vec<_>>>()?;
    let keep = KeepClient::builder(services)
        .token(TOKEN)
        .policy(PassSchedule::go(Duration::from_millis(100)))
        .seed(seed)
        .build()?;
    let (blocks, block_size, wanted) = (scenario.blocks, scenario.block_size, scenario.wanted);
    let client = std::thread::Builder::new().name(CLIENT_THREAD.to_owned()).spawn(move || {
        let runtime = tokio::runtime::Builder::new_current_thread().thread_name(CLIENT_THREAD).enable_all().build()?;
        let started_cpu = threads_cpu(CLIENT_THREAD);
        let mut tally = runtime.block_on(put_blocks(&keep, blocks, block_size, wanted))?;
        tally.writer_cpu_in_process =
            started_cpu.zip(threads_cpu(CLIENT_THREAD)).map_or(Duration::ZERO, |(b, a)| a.saturating_sub(b));
        anyhow::Ok(tally)
    })?;
    tokio::task::spawn_blocking(move || client.join()).await?.unwrap_or_else(|panic| std::panic::resume_unwind(panic))
}

async fn put_blocks(keep: &KeepClient, blocks: usize, block_size: usize, wanted: u32) -> anyhow::Result<Tally> {
    let mut tally = Tally::default();
    let mut client_cpu = threads_cpu(CLIENT_THREAD).map(|_| Duration::ZERO);
    for b in 0..blocks {
        let data = block(b, block_size);
        let cpu_started = threads_cpu(CLIENT_THREAD);
        let started = Instant::now();
        let result = keep.put(data, wanted, &[]).await;
        tally.elapsed += started.elapsed();
        client_cpu =
            client_cpu.zip(cpu_started).zip(threads_cpu(CLIENT_THREAD)).map(|((sum, b), a)| sum + a.saturating_sub(b));
        match result {
            Ok(stored) => {
                tally.stored += 1;
                tally.copies += stored.copies;
                tally.puts += stored.per_service.iter().map(|s| u64::from(s.attempts)).sum::<u64>();
                tally.passes += u64::from(stored.passes);
                tally.hashes.push(stored.locator.chars().take(32).collect());
            }
            Err(KeepError::Failed { hash, got, per_service, passes, .. }) => {
                tally.failed += 1;
                tally.copies += got;
                tally.puts += per_service.iter().map(|s| u64::from(s.attempts)).sum::<u64>();
                tally.passes += u64::from(passes);
                tally.hashes.push(hash.to_string());
            }
            Err(error) => return Err(error).context("the write could not run"),
        }
    }
    tally.client_cpu = client_cpu;
    Ok(tally)
}

/// A Python with the Arvados SDK: `$STOWAGE_PYTHON`, if set.
fn sdk_python() -> Option<String> {
    std::env::var("STOWAGE_PYTHON").ok()
}

/// Runs the conformance script (`tests/conformance/arvados_keep_put.py`) with this
/// scenario's blocks: random contents of `block_size` bytes.
async fn write_with_sdk(scenario: &ReplicaScenario, cluster: &KeepCluster, python: String) -> anyhow::Result<Tally> {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/conformance/arvados_keep_put.py");
    let services: Vec<serde_json::Value> = cluster
        .services()
        .iter()
        .map(|s| serde_json::json!({"uuid": s.uuid, "root": s.root, "service_type": s.service_type, "read_only": s.read_only}))
        .collect();
    let input = serde_json::json!({"mode": "disk", "services": services, "token": TOKEN, "copies": scenario.wanted,
        "blocks": scenario.blocks, "seed": 7, "num_retries": 2, "size": scenario.block_size});
    let before = cluster.puts();
    let out = tokio::task::spawn_blocking(move || -> anyhow::Result<std::process::Output> {
        let mut child = Command::new(python)
            .arg(script)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .context("starting $STOWAGE_PYTHON")?;
        if let Some(mut stdin) = child.stdin.take() {
            std::io::Write::write_all(&mut stdin, input.to_string().as_bytes())?;
        }
        Ok(child.wait_with_output()?)
    })
    .await??;
    if !out.status.success() {
        bail!("the Arvados SDK failed: {}", String::from_utf8_lossy(&out.stderr));
    }
    let got: serde_json::Value = serde_json::from_slice(&out.stdout).context("the SDK script's output")?;
    let mut tally = Tally {
        elapsed: Duration::from_secs_f64(got["seconds"].as_f64().unwrap_or(0.0)),
        client_cpu: got["cpu_seconds"].as_f64().map(Duration::from_secs_f64),
        puts: cluster.puts() - before,
        ..Tally::default()
    };
    for b in got["blocks"].as_array().map(Vec::as_slice).unwrap_or_default() {
        let hash = b["hash"].as_str().unwrap_or_default().to_owned();
        if b["error"].is_null() {
            tally.stored += 1;
        } else {
            tally.failed += 1;
        }
        tally.copies += cluster.replicas(&hash);
        tally.hashes.push(hash);
    }
    Ok(tally)
}
