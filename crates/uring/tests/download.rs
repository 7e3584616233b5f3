//! Ranged downloads over io_uring, beyond the scenarios both drivers share
//! (`tests/download.rs` of the workspace): registered slots, sink and file destinations,
//! dropping a download (or the whole driver) mid-flight under faults, and answers no real
//! server gives. `cargo xtask ci` also runs this file under AddressSanitizer.

mod server;

use std::time::Duration;

use stowage_cluster::{Cluster, ClusterConfig, Generator, RangeFault, RangeFaultRule};
use stowage_proto::ais::{Bucket, Provider};
use stowage_proto::{Backoff, Retry, Timeouts, TransportError};
use stowage_ringslot::{Config, DownloadError, Failure};
use stowage_uring::{GetError, UringDriver};

use server::{Reply, serve};

const SIZE: u64 = 2 * 1024 * 1024 + 5;
const CHUNK: u64 = 128 * 1024;

fn config() -> Config {
    Config {
        workers: 4,
        chunk: Some(CHUNK),
        retry: Retry {
            max_attempts: 3,
            backoff: Backoff { multiplier: 0.01, min: Duration::from_millis(2), max: Duration::from_millis(20) },
            jitter: false,
        },
        hedge: None,
        ..Config::default()
    }
}

fn timeouts() -> Timeouts {
    Timeouts { connect: Duration::from_secs(2), read: Duration::from_millis(300) }
}

fn expected() -> Vec<u8> {
    let mut all = vec![0; SIZE as usize];
    Generator::for_object("big.bin").fill(0, &mut all);
    all
}

/// The embedded cluster on its own runtime's threads (the driver blocks the test's thread); it
/// stops with the runtime.
struct Embedded {
    cluster: Cluster,
    url: String,
    _runtime: tokio::runtime::Runtime,
}

impl Embedded {
    fn start() -> Self {
        let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
        let cluster = runtime.block_on(Cluster::start(ClusterConfig::default())).unwrap();
        cluster.put_generated(&Bucket::new("local", Provider::Ais), "big.bin", SIZE);
        let url = format!("{}/v1/objects/local/big.bin?provider=ais", cluster.url());
        Embedded { cluster, url, _runtime: runtime }
    }

    fn driver(&self) -> UringDriver {
        UringDriver::new(&self.cluster.url(), timeouts()).unwrap()
    }
}

/// Whether `RLIMIT_MEMLOCK` lets this process pin `bytes` (root may pin more, whatever it says).
fn memlock_allows(bytes: u64) -> bool {
    let limits = std::fs::read_to_string("/proc/self/limits").unwrap_or_default();
    let soft = limits.lines().find(|l| l.starts_with("Max locked memory")).and_then(|l| l.split_whitespace().nth(3));
    soft.is_some_and(|soft| soft == "unlimited" || soft.parse::<u64>().is_ok_and(|n| n >= bytes))
}

fn stream_all(driver: &mut UringDriver, url: &str, config: Config) -> Result<Vec<u8>, GetError> {
    let mut download = driver.get(url, config)?;
    let mut all = Vec::new();
    while let Some(chunk) = download.next_chunk()? {
        all.extend_from_slice(chunk);
    }
    Ok(all)
}

#[test]
fn slots_are_registered_and_every_destination_gets_every_byte() {
    let embedded = Embedded::start();
    let mut driver = embedded.driver();
    let mut download = driver.get(&embedded.url, config()).unwrap();
    let mut all = Vec::new();
    while let Some(chunk) = download.next_chunk().unwrap() {
        all.extend_from_slice(chunk);
    }
    // Where the memlock limit is too small the kernel refuses, and plain memory is right.
    assert!(download.registered() || !memlock_allows(8 * CHUNK), "the kernel refused to register the slots");
    assert_eq!(download.summary().ranges, SIZE.div_ceil(CHUNK));
    drop(download);
    assert!(all == expected());

    let summary = driver.sink(&embedded.url, config()).unwrap();
    assert_eq!((summary.bytes, summary.requests), (SIZE, SIZE.div_ceil(CHUNK)));

    let path = std::env::temp_dir().join(format!("stowage-uring-download-{}.bin", std::process::id()));
    driver.download(&embedded.url, config(), &path).unwrap();
    let written = std::fs::read(&path).unwrap();
    std::fs::remove_file(&path).unwrap();
    assert!(written == expected());
}

#[test]
fn a_download_dropped_mid_flight_under_faults_leaves_the_driver_sound() {
    let embedded = Embedded::start();
    let faults = || {
        let cluster = &embedded.cluster;
        cluster.add_range_fault(RangeFaultRule::new(RangeFault::StallMidBody { ms: 5_000 }).skip(2).every(3).times(3));
        cluster.add_range_fault(RangeFaultRule::new(RangeFault::CutMidBody).skip(1).every(4).times(3));
        cluster.add_range_fault(RangeFaultRule::new(RangeFault::Delay { ms: 100 }).every(5).times(3));
    };
    let mut driver = embedded.driver();
    for taken in 0..4 {
        faults();
        let mut download = driver.get(&embedded.url, config()).unwrap();
        for _ in 0..taken {
            // Whether a range gives up under these faults does not matter here.
            let _ = download.next_chunk();
        }
        // Requests are in flight, some stalled mid-body, receiving into registered slots.
        drop(download);
    }
    // A consumer that panics mid-way: the unwinding drops the download, which reaps first.
    faults();
    let unwound = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        let mut download = driver.get(&embedded.url, config()).unwrap();
        let _ = download.next_chunk();
        panic!("the consumer gives up");
    }));
    assert!(unwound.is_err());
    // The driver goes on, and the slots were not left to stale operations: exact bytes (from a
    // cluster without faults; the driver follows the absolute URL).
    let clean = Embedded::start();
    assert!(stream_all(&mut driver, &clean.url, config()).unwrap() == expected());
}

/// A ranged server of `size` bytes (`i % 251`) whose 206 answers are shaped by `answer(first,
/// last + 1, body)`.
fn ranged(size: u64, answer: impl Fn(u64, u64, Vec<u8>) -> Reply + Send + Sync + 'static) -> String {
    let (url, _) = serve(move |request| {
        let (first, end) = request.range.unwrap_or((0, size));
        let body: Vec<u8> = (first..end).map(|i| (i % 251) as u8).collect();
        answer(first, end, body)
    });
    url
}

fn partial(first: u64, end: u64, size: u64, extra_headers: &str, body: &[u8]) -> Vec<u8> {
    let head = format!(
        "HTTP/1.1 206 Partial Content\r\nContent-Range: bytes {first}-{}/{size}\r\n{extra_headers}\r\n",
        end - 1
    );
    [head.as_bytes(), body].concat()
}

fn sized(size: u64) -> Config {
    Config { size: Some(size), chunk: Some(1000), workers: 2, ..config() }
}

fn fetch(url: &str, config: Config) -> Result<Vec<u8>, GetError> {
    let mut driver = UringDriver::new(url, timeouts()).unwrap();
    stream_all(&mut driver, "/o", config)
}

#[test]
fn bodies_framed_by_length_or_by_the_close_land_whole() {
    const N: u64 = 4321;
    let want: Vec<u8> = (0..N).map(|i| (i % 251) as u8).collect();
    let url = ranged(N, |first, end, body| {
        Reply::Answer(partial(first, end, N, &format!("Content-Length: {}\r\n", body.len()), &body))
    });
    assert_eq!(fetch(&url, sized(N)).unwrap(), want);
    let url =
        ranged(N, |first, end, body| Reply::AnswerAndClose(partial(first, end, N, "Connection: close\r\n", &body)));
    assert_eq!(fetch(&url, sized(N)).unwrap(), want);
}

#[test]
fn hostile_ranged_answers_are_typed_errors() {
    const N: u64 = 3000;
    // Announces more than the range: the machine refuses it, nothing is read past the slot.
    let url = ranged(N, |first, end, body| {
        Reply::Answer(partial(first, end, N, &format!("Content-Length: {}\r\n", u64::MAX / 2), &body))
    });
    let error = fetch(&url, sized(N)).unwrap_err();
    assert!(matches!(error, GetError::Download(DownloadError::LongBody { .. })), "{error}");

    // A close-framed body that runs past the range.
    let url = ranged(N, |first, end, mut body| {
        body.extend_from_slice(b"too much");
        Reply::AnswerAndClose(partial(first, end, N, "Connection: close\r\n", &body))
    });
    let error = fetch(&url, sized(N)).unwrap_err();
    assert!(matches!(error, GetError::Download(DownloadError::LongBody { .. })), "{error}");

    // A body cut short by the close, every time: retried, then given up with the cause.
    let url = ranged(N, |first, end, body| {
        Reply::AnswerAndClose(partial(first, end, N, &format!("Content-Length: {}\r\n", body.len()), &body[..10]))
    });
    let error = fetch(&url, sized(N)).unwrap_err();
    let closed = Failure::Transport(TransportError::Closed);
    assert!(
        matches!(error, GetError::Download(DownloadError::RetriesExhausted { attempts: 3, last, .. }) if last == closed),
        "{error}"
    );

    // Chunked ranged bodies cannot be received in place: a protocol error, retried, given up.
    let url = ranged(N, |first, end, body| {
        let chunked = [format!("{:x}\r\n", body.len()).as_bytes(), &body, b"\r\n0\r\n\r\n"].concat();
        Reply::Answer(partial(first, end, N, "Transfer-Encoding: chunked\r\n", &chunked))
    });
    let error = fetch(&url, sized(N)).unwrap_err();
    let protocol = Failure::Transport(TransportError::Protocol);
    assert!(
        matches!(error, GetError::Download(DownloadError::RetriesExhausted { last, .. }) if last == protocol),
        "{error}"
    );

    // Garbage instead of HTTP.
    let (url, _) = serve(|_| Reply::AnswerAndClose(b"garbage\r\n\r\n".to_vec()));
    let error = fetch(&url, sized(N)).unwrap_err();
    assert!(matches!(error, GetError::Download(DownloadError::RetriesExhausted { last, .. }) if last == protocol));
}

#[test]
fn impossible_slot_sizes_are_an_error_not_an_abort() {
    let url = ranged(10, |first, end, body| Reply::Answer(partial(first, end, 10, "", &body)));
    let config = Config { size: Some(u64::MAX), chunk: Some(u64::MAX / 4), workers: 64, ..config() };
    let error = fetch(&url, config).unwrap_err();
    assert!(matches!(error, GetError::Driver { what: "slot buffers", .. }), "{error}");
}

#[test]
fn urls_this_driver_cannot_fetch_say_why() {
    let mut driver = UringDriver::new("http://127.0.0.1:1", timeouts()).unwrap();
    let error = driver.sink("https://example.com/x", config()).unwrap_err();
    assert!(matches!(error, GetError::Url { .. }), "{error}");
    assert!(error.to_string().contains("https://example.com/x"), "{error}");
}

#[test]
fn a_server_that_ignores_range_is_read_as_one_stream_into_the_slots() {
    const N: u64 = 5555;
    let want: Vec<u8> = (0..N).map(|i| (i % 251) as u8).collect();
    // Every request, ranged or not, gets the whole object: with a length, and framed by the
    // close; small chunks, so the bytes that come with the head span several pieces.
    for close in [false, true] {
        let (url, _) = serve(move |_| {
            let body: Vec<u8> = (0..N).map(|i| (i % 251) as u8).collect();
            let framing = if close { "Connection: close\r\n".to_owned() } else { format!("Content-Length: {N}\r\n") };
            let head = format!("HTTP/1.1 200 OK\r\n{framing}\r\n");
            let answer = [head.as_bytes(), &body].concat();
            if close { Reply::AnswerAndClose(answer) } else { Reply::Answer(answer) }
        });
        for chunk in [1000, 64] {
            // A body framed by the close states no size: the caller gives it.
            let config = Config { chunk: Some(chunk), size: close.then_some(N), ..config() };
            assert!(fetch(&url, config.clone()).unwrap() == want, "stream, chunk {chunk}, close {close}");
            let mut driver = UringDriver::new(&url, timeouts()).unwrap();
            let path = std::env::temp_dir().join(format!("stowage-one-stream-{}-{chunk}.bin", std::process::id()));
            let summary = driver.download("/o", config.clone(), &path).unwrap();
            let written = std::fs::read(&path).unwrap();
            std::fs::remove_file(&path).unwrap();
            assert!(written == want && summary.one_stream, "file, chunk {chunk}, close {close}");
            let part = Config { offset: 1234, end: Some(4321), ..config };
            assert!(fetch(&url, part).unwrap() == want[1234..4321], "part, chunk {chunk}, close {close}");
        }
    }
}

#[test]
fn one_stream_cut_mid_body_is_asked_again_and_each_byte_delivered_once() {
    const N: u64 = 5000;
    let want: Vec<u8> = (0..N).map(|i| (i % 251) as u8).collect();
    let answered = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let count = std::sync::Arc::clone(&answered);
    // Every answer is the whole object; the first is closed after 2100 of its bytes.
    let (url, _) = serve(move |_| {
        let body: Vec<u8> = (0..N).map(|i| (i % 251) as u8).collect();
        let head = format!("HTTP/1.1 200 OK\r\nContent-Length: {N}\r\n\r\n");
        match count.fetch_add(1, std::sync::atomic::Ordering::SeqCst) {
            0 => Reply::AnswerAndClose([head.as_bytes(), &body[..2100]].concat()),
            _ => Reply::Answer([head.as_bytes(), &body].concat()),
        }
    });
    assert!(fetch(&url, Config { chunk: Some(1000), ..config() }).unwrap() == want);
    assert!(answered.load(std::sync::atomic::Ordering::SeqCst) >= 2, "asked again");
}
