//! Per-request overhead of the two drivers: one small GET (4 KiB from an `ais` bucket, so no
//! lock polling) through the `ColdGet` machine, against the embedded cluster on loopback, on a
//! kept-alive connection.
//!
//! `drivers/get-4k/tokio` is `Client::get_object` (hyper, on a current-thread runtime);
//! `drivers/get-4k/uring` is `UringDriver::drive` of the same machine on the bench's thread.
//! `drivers/ranges-4k`: a 1 MiB generated object in 4 KiB ranges (256 range requests, 8
//! workers, in order) through the `RingSlot` machine: `tokio` is `Downloader::get` (one task per
//! range, hyper's pool), `uring` is `UringDriver::get` (kept-alive connections, bodies received
//! into registered slots). Throughput is in range requests.
//!
//! The cluster runs on its own two-thread runtime in all of them, so the figures include its
//! work too: compare them with each other, not with other benches.

use std::time::Duration;

use bytes::Bytes;
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use stowage_ais::Client;
use stowage_cluster::{Cluster, ClusterConfig};
use stowage_lockpoll::{ColdGet, ColdGetConfig, ColdGetOutcome};
use stowage_proto::Timeouts;
use stowage_proto::ais::{Bucket, ObjectAddress, Provider};
use stowage_ringslot::Config;
use stowage_tokio::download::Downloader;
use stowage_uring::UringDriver;

const SIZE: usize = 4 << 10;
/// The object of `drivers/ranges-4k`, and its ranges.
const RANGED: u64 = 1 << 20;
const RANGE: u64 = 4 << 10;

fn get_4k(c: &mut Criterion) {
    let server = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    let cluster = server.block_on(Cluster::start(ClusterConfig::default())).unwrap();
    let bucket = Bucket::new("local", Provider::Ais);
    let address = ObjectAddress::new(bucket.clone(), "small.bin");
    cluster.put_object(&bucket, &address.object(), Bytes::from(vec![7u8; SIZE]));
    let url = cluster.url();
    let timeouts = Timeouts { read: Duration::from_secs(5), ..Timeouts::default() };

    let client_rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let client = Client::builder(&url).timeouts(timeouts).build().unwrap();
    let mut uring = UringDriver::new(&url, timeouts).unwrap();
    let request = http::Request::get(address.uri(&[])).body(Bytes::new()).unwrap();
    let uring_get = |driver: &mut UringDriver| {
        let mut driven = driver.drive(ColdGet::new(request.clone(), ColdGetConfig::default(), 0)).unwrap();
        let ColdGetOutcome::Response { id, .. } = driven.outcome else { panic!("the GET failed") };
        driven.responses.take(id).unwrap()
    };
    assert_eq!(client_rt.block_on(client.get_object(&address)).unwrap().response.body().len(), SIZE);
    assert_eq!(uring_get(&mut uring).body().len(), SIZE);

    let mut group = c.benchmark_group("drivers/get-4k");
    group.bench_function("tokio", |b| b.iter(|| client_rt.block_on(client.get_object(&address)).unwrap()));
    group.bench_function("uring", |b| b.iter(|| uring_get(&mut uring)));
    group.finish();
    server.block_on(cluster.shutdown());
}

fn ranges_4k(c: &mut Criterion) {
    let server = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    let cluster = server.block_on(Cluster::start(ClusterConfig::default())).unwrap();
    cluster.put_generated(&Bucket::new("local", Provider::Ais), "ranged.bin", RANGED);
    let url = format!("{}/v1/objects/local/ranged.bin?provider=ais", cluster.url());
    let timeouts = Timeouts { read: Duration::from_secs(5), ..Timeouts::default() };
    // The size is given: no HEAD, only range requests. No hedging: nothing straggles here.
    let config = Config { size: Some(RANGED), chunk: Some(RANGE), hedge: None, ..Config::default() };

    let client_rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let tokio_get = || {
        client_rt.block_on(async {
            // A downloader per download, as a one-off `stowage get` makes.
            let downloader = Downloader::for_url(&url, timeouts).unwrap();
            let mut stream = downloader.get(&url, config.clone()).unwrap();
            let mut total = 0;
            while let Some(chunk) = futures_util::StreamExt::next(&mut stream).await {
                total += chunk.unwrap().len() as u64;
            }
            total
        })
    };
    let mut uring = UringDriver::new(&cluster.url(), timeouts).unwrap();
    let mut uring_get = || {
        let mut download = uring.get(&url, config.clone()).unwrap();
        let mut total = 0;
        while let Some(chunk) = download.next_chunk().unwrap() {
            total += chunk.len() as u64;
        }
        total
    };
    assert_eq!(tokio_get(), RANGED);
    assert_eq!(uring_get(), RANGED);

    let mut group = c.benchmark_group("drivers/ranges-4k");
    group.throughput(Throughput::Elements(RANGED / RANGE));
    group.bench_function("tokio", |b| b.iter(&tokio_get));
    group.bench_function("uring", |b| b.iter(&mut uring_get));
    group.finish();
    server.block_on(cluster.shutdown());
}

criterion_group!(benches, get_4k, ranges_4k);
criterion_main!(benches);
