//! The cost of the replicated-write machine, against the obvious alternatives.
//!
//! `replica/probe-order`: the rendezvous order of 1,000 services for one block — the
//! machine's [`probe_order`] (md5 digests compared as bytes) against the reference SDKs'
//! way (each weight formatted as a hex `String`, the list sorted by it, descending).
//!
//! `replica/write`: one full put decision sequence — a new [`BlockWrite`] of a 64 KiB block
//! to 8 disk services wanting 3 copies, the first PUT answered 503 and the rest 2xx, fed
//! pre-built answers — against building the same four `http::Request`s by hand with no
//! decision at all (the floor any driver pays).

use std::hint::black_box;

use bytes::Bytes;
use criterion::{Criterion, criterion_group, criterion_main};
use stowage_proto::{Completion, Instant, Machine, Output};
use stowage_replica::{
    Block, BlockHash, BlockWrite, Service, ServiceKind, WriteConfig, WriteOutcome, probe_order, weight_hex,
};

fn services(n: usize) -> Vec<Service> {
    (0..n)
        .map(|j| {
            Service::new(format!("zzzzz-bi6l4-{j:015x}"), &format!("http://keep{j}:25107"), ServiceKind::Disk).unwrap()
        })
        .collect()
}

/// The reference SDKs' probe order: hex-string weights, sorted descending.
fn naive_order(hash: &BlockHash, services: &[Service]) -> Vec<usize> {
    let mut weighted: Vec<(String, usize)> =
        services.iter().enumerate().map(|(i, s)| (weight_hex(hash, s.uuid()), i)).collect();
    weighted.sort_by(|a, b| b.0.cmp(&a.0));
    weighted.into_iter().map(|(_, i)| i).collect()
}

fn bench_probe_order(c: &mut Criterion) {
    let services = services(1_000);
    let hash = BlockHash::of(b"foo");
    assert_eq!(probe_order(&hash, &services), naive_order(&hash, &services));
    let mut group = c.benchmark_group("replica/probe-order");
    group.bench_function("machine/1000", |b| b.iter(|| probe_order(black_box(&hash), black_box(&services))));
    group.bench_function("hex-strings/1000", |b| b.iter(|| naive_order(black_box(&hash), black_box(&services))));
    group.finish();
}

fn answer(status: u16) -> http::Response<Bytes> {
    http::Response::builder()
        .status(status)
        .header("x-keep-replicas-stored", "1")
        .header("x-keep-storage-classes-confirmed", "default=1")
        .body(Bytes::from_static(
            b"d9b5e8c51d1c1d4a5e2a7a2e6e1a5a0b+65536+A0000000000000000000000000000000000000000@65f00000\n",
        ))
        .unwrap()
}

fn machine_write(
    block: &Block,
    services: &[Service],
    busy: &http::Response<Bytes>,
    ok: &http::Response<Bytes>,
) -> WriteOutcome {
    let mut write = BlockWrite::new(block.clone(), services, WriteConfig::new(3, "req-0123456789abcdefghij")).unwrap();
    let now = Instant::ZERO;
    let mut queued = Vec::with_capacity(4);
    let mut answered = 0;
    loop {
        while let Some(output) = write.poll_output(now) {
            match output {
                Output::Transmit(t) => queued.push(t.id),
                Output::Done(outcome) => return outcome,
            }
        }
        let id = queued.remove(0);
        let response = if answered == 0 { busy.clone() } else { ok.clone() };
        answered += 1;
        write.handle_input(now, Completion { id, result: Ok(response) }).unwrap();
    }
}

fn by_hand(block: &Block, services: &[Service]) -> Vec<http::Request<Bytes>> {
    services[..4]
        .iter()
        .map(|s| {
            http::Request::put(format!("{}{}", s.root(), block.hash()))
                .header("content-length", block.size())
                .header("x-keep-desired-replicas", 3)
                .header("x-request-id", "req-0123456789abcdefghij")
                .body(block.data().clone())
                .unwrap()
        })
        .collect()
}

fn bench_write(c: &mut Criterion) {
    let services = services(8);
    let block = Block::new(Bytes::from(vec![0x5a; 64 << 10])).unwrap();
    let (busy, ok) = (answer(503), answer(200));
    assert!(matches!(machine_write(&block, &services, &busy, &ok), WriteOutcome::Stored { copies: 3, .. }));
    let mut group = c.benchmark_group("replica/write");
    group.bench_function("machine/8-disks-3-copies", |b| {
        b.iter(|| machine_write(black_box(&block), black_box(&services), &busy, &ok))
    });
    group.bench_function("requests-by-hand/4", |b| b.iter(|| by_hand(black_box(&block), black_box(&services))));
    group.finish();
}

criterion_group!(benches, bench_probe_order, bench_write);
criterion_main!(benches);
