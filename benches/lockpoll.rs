//! The cost of the lock-poll machine, against the obvious alternatives.
//!
//! `lockpoll/cycle`: one full lock wait — new poller, check-lock 423, HEAD 200 with a size,
//! [`POLLS`] polls still locked, one poll unlocked — fed pre-built answers, time advanced to
//! each `poll_timeout`; against computing the same sleeps with bare arithmetic and with the
//! `backon` crate's `ExponentialBuilder`.
//!
//! `lockpoll/cycle/schedule` is the machine's decision path alone (`Bounds::for_size` and the
//! `Schedule` iterator, summed), to separate the cost of deciding from that of building the
//! `http::Request` of each poll.
//!
//! `lockpoll/schedule`: `Bounds::for_size` plus collecting the whole `Schedule` into a `Vec`.

use std::hint::black_box;
use std::time::Duration;

use backon::{BackoffBuilder, ExponentialBuilder};
use criterion::{Criterion, criterion_group, criterion_main};
use stowage_lockpoll::{Bounds, LockPollConfig, LockPoller, LockWaitOutcome, Schedule};
use stowage_proto::ais::ObjectAddress;
use stowage_proto::{Completion, Instant, Machine, Output};

/// 100 GiB at the default 10 Gbit/s: bounds 10 s / 90 s, sleeps 10, 10, 10, 16, 32, 64, 38.
const SIZE: u64 = 100 << 30;
/// Polls that still say "locked" — all the sleeps the default 180 s allow for this size.
const POLLS: u32 = 7;

/// The answers of one lock wait, built once.
struct Answers {
    locked: http::Response<()>,
    unlocked: http::Response<()>,
    head: http::Response<()>,
}

impl Answers {
    fn new() -> Self {
        let response = |status: u16| http::Response::builder().status(status).body(()).unwrap();
        let head = http::Response::builder().status(200).header(http::header::CONTENT_LENGTH, SIZE).body(()).unwrap();
        Answers { locked: response(423), unlocked: response(200), head }
    }
}

/// Runs one lock wait through the machine and returns its outcome.
fn machine_cycle(address: &ObjectAddress, conf: &LockPollConfig, answers: &Answers) -> LockWaitOutcome {
    let mut poller = LockPoller::new(address.clone(), conf.clone(), 0);
    let mut now = Instant::ZERO;
    let mut answered = 0u32;
    loop {
        match poller.poll_output(now) {
            Some(Output::Transmit(t)) => {
                let response = match answered {
                    0 => &answers.locked,
                    1 => &answers.head,
                    n if n < POLLS + 2 => &answers.locked,
                    _ => &answers.unlocked,
                };
                answered += 1;
                black_box(&t.request);
                poller.handle_input(now, Completion { id: t.id, result: Ok(response.clone()) }).unwrap();
            }
            Some(Output::Done(outcome)) => return outcome,
            None => {
                now = poller.poll_timeout().unwrap();
                poller.handle_timeout(now);
            }
        }
    }
}

/// The same sleeps by hand: the bounds formula, then `clamp(2 · 2^(k−1), shortest, longest)`
/// cut to what is left of `max_cold_wait`.
fn arithmetic_cycle(size: u64, max_cold_wait: Duration) -> Duration {
    let expected = size as f64 / 1.25e9;
    let shortest = (expected / 4.0).clamp(2.0, 10.0);
    let longest = shortest.max((max_cold_wait.as_secs_f64() / 2.0).floor().min((expected * 4.0).floor()));
    let mut left = max_cold_wait;
    let mut total = Duration::ZERO;
    for k in 0..POLLS as i32 {
        let sleep = Duration::from_secs_f64((2.0 * 2f64.powi(k)).clamp(shortest, longest)).min(left);
        left -= sleep;
        total += black_box(sleep);
    }
    total
}

/// The machine's decisions without its requests: the bounds, then the schedule's sleeps.
fn schedule_cycle(size: u64, conf: &LockPollConfig) -> Duration {
    Schedule::new(Bounds::for_size(size, conf), conf, 0).map(black_box).sum()
}

/// The same number of delays from `backon` (its own exponential: min, 2·min, 4·min, … ≤ max).
fn backon_cycle(min: Duration, max: Duration) -> Duration {
    let backoff = ExponentialBuilder::new()
        .with_min_delay(min)
        .with_max_delay(max)
        .with_factor(2.0)
        .with_max_times(POLLS as usize)
        .build();
    backoff.map(black_box).sum()
}

fn cycle(c: &mut Criterion) {
    let address = ObjectAddress::from_uri(&"/v1/objects/bck/obj?provider=aws".parse().unwrap()).unwrap();
    let conf = LockPollConfig::default();
    let answers = Answers::new();
    let expected = LockWaitOutcome::Unlocked { polls: POLLS + 1, waited: Duration::from_secs(180) };
    assert_eq!(machine_cycle(&address, &conf, &answers), expected);
    assert_eq!(arithmetic_cycle(SIZE, conf.max_cold_wait), Duration::from_secs(180));
    assert_eq!(schedule_cycle(SIZE, &conf), Duration::from_secs(180));
    let bounds = Bounds::for_size(SIZE, &conf);

    let mut group = c.benchmark_group("lockpoll/cycle");
    group.bench_function("machine", |b| b.iter(|| machine_cycle(black_box(&address), &conf, &answers)));
    group.bench_function("schedule", |b| b.iter(|| schedule_cycle(black_box(SIZE), &conf)));
    group.bench_function("arithmetic", |b| b.iter(|| arithmetic_cycle(black_box(SIZE), conf.max_cold_wait)));
    group.bench_function("backon", |b| b.iter(|| backon_cycle(black_box(bounds.shortest), bounds.longest)));
    group.finish();
}

fn schedule(c: &mut Criterion) {
    let conf = LockPollConfig::default();
    let mut group = c.benchmark_group("lockpoll/schedule");
    group.bench_function("bounds+schedule", |b| {
        b.iter(|| {
            let bounds = Bounds::for_size(black_box(SIZE), &conf);
            Schedule::new(bounds, &conf, 0).collect::<Vec<_>>()
        })
    });
    group.finish();
}

criterion_group!(benches, cycle, schedule);
criterion_main!(benches);
