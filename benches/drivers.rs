//! Per-request overhead of the two drivers: one small GET (4 KiB from an `ais` bucket, so no
//! lock polling) through the `ColdGet` machine, against the embedded cluster on loopback, on a
//! kept-alive connection.
//!
//! `drivers/get-4k/tokio` is `Client::get_object` (hyper, on a current-thread runtime);
//! `drivers/get-4k/uring` is `UringDriver::drive` of the same machine on the bench's thread.
//! The cluster runs on its own two-thread runtime in both, so the figures include its work too:
//! compare them with each other, not with other benches.

use std::time::Duration;

use bytes::Bytes;
use criterion::{Criterion, criterion_group, criterion_main};
use stowage_cluster::{Cluster, ClusterConfig};
use stowage_lockpoll::{ColdGet, ColdGetConfig, ColdGetOutcome};
use stowage_proto::Timeouts;
use stowage_proto::ais::{Bucket, ObjectAddress, Provider};
use stowage_tokio::Client;
use stowage_uring::UringDriver;

const SIZE: usize = 4 << 10;

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

criterion_group!(benches, get_4k);
criterion_main!(benches);
