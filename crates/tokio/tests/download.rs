//! Parallel ranged downloads against servers that honour `Range` (wiremock, answering from a
//! byte array) and against hostile ones: wrong `Content-Range`, 200 instead of 206, short and
//! long bodies, a huge `Content-Length`, resets, stalls.

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use futures_util::StreamExt;
use stowage_proto::{Backoff, Retry, TransportError};
use stowage_ringslot::{Config, DownloadError, Failure};
use stowage_tokio::Timeouts;
use stowage_tokio::download::{Downloaded, Downloader, GetError};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate, matchers};

const PATH: &str = "/v1/objects/bck/obj";

fn content(size: usize) -> Vec<u8> {
    (0..size).map(|i| (i * 7 + i / 251) as u8).collect()
}

/// `bytes=a-b` → `(a, b + 1)`.
fn asked(request: &Request) -> Option<(usize, usize)> {
    let value = request.headers.get("range")?.to_str().ok()?;
    let (a, b) = value.strip_prefix("bytes=")?.split_once('-')?;
    Some((a.parse().ok()?, b.parse::<usize>().ok()? + 1))
}

/// Replaces the answer to range request `n` (0-based) for `start..end` of the data, or not.
type Misbehave = Box<dyn Fn(u32, usize, usize, &[u8]) -> Option<ResponseTemplate> + Send + Sync>;

/// Serves `data` honouring `Range`; `misbehave` may replace the answer to request `n` (0-based).
struct Ranged {
    data: Arc<Vec<u8>>,
    count: AtomicU32,
    misbehave: Misbehave,
}

impl Respond for Ranged {
    fn respond(&self, request: &Request) -> ResponseTemplate {
        let size = self.data.len();
        if request.method == http::Method::HEAD {
            return ResponseTemplate::new(200).insert_header("content-length", size.to_string().as_str());
        }
        let Some((start, end)) = asked(request) else {
            return ResponseTemplate::new(200).set_body_bytes(self.data.to_vec());
        };
        let n = self.count.fetch_add(1, Ordering::SeqCst);
        if start >= size {
            return ResponseTemplate::new(416).insert_header("content-range", format!("bytes */{size}").as_str());
        }
        let end = end.min(size);
        if let Some(answer) = (self.misbehave)(n, start, end, &self.data) {
            return answer;
        }
        ResponseTemplate::new(206)
            .insert_header("content-range", format!("bytes {start}-{}/{size}", end - 1).as_str())
            .set_body_bytes(self.data[start..end].to_vec())
    }
}

async fn serve(
    data: &Arc<Vec<u8>>,
    misbehave: impl Fn(u32, usize, usize, &[u8]) -> Option<ResponseTemplate> + Send + Sync + 'static,
) -> MockServer {
    let server = MockServer::start().await;
    let responder = Ranged { data: Arc::clone(data), count: AtomicU32::new(0), misbehave: Box::new(misbehave) };
    Mock::given(matchers::path(PATH)).respond_with(responder).mount(&server).await;
    server
}

fn url(server: &MockServer) -> String {
    format!("{}{PATH}?provider=ais", server.uri())
}

fn options(workers: u32, chunk: u64) -> Config {
    Config {
        workers,
        chunk: Some(chunk),
        retry: Retry {
            max_attempts: 3,
            backoff: Backoff { multiplier: 0.01, min: Duration::from_millis(10), max: Duration::from_millis(50) },
            jitter: false,
        },
        ..Config::default()
    }
}

/// A downloader for `url`'s server with a short read timeout.
fn downloader(url: &str) -> Downloader {
    let timeouts = Timeouts { connect: Duration::from_secs(2), read: Duration::from_millis(300) };
    Downloader::for_url(url, timeouts).unwrap()
}

async fn read_all(url: &str, config: Config) -> Result<Downloaded, GetError> {
    downloader(url).read_all(url, config).await
}

async fn collect(url: &str, config: Config) -> Result<Vec<u8>, GetError> {
    let mut stream = downloader(url).get(url, config)?;
    let mut all = Vec::new();
    while let Some(chunk) = stream.next().await {
        all.extend_from_slice(&chunk?);
    }
    Ok(all)
}

fn honest(_: u32, _: usize, _: usize, _: &[u8]) -> Option<ResponseTemplate> {
    None
}

#[tokio::test]
async fn get_streams_the_object_in_order() {
    let data = Arc::new(content(100_003));
    let server = serve(&data, honest).await;
    let got = collect(&url(&server), options(4, 4096)).await.unwrap();
    assert_eq!(got, *data);
}

#[tokio::test]
async fn read_all_fills_one_buffer() {
    let data = Arc::new(content(77_777));
    let server = serve(&data, honest).await;
    let got = read_all(&url(&server), options(8, 1000)).await.unwrap();
    assert_eq!(&got.bytes[..], &data[..]);
}

#[tokio::test]
async fn read_all_counts_the_requests() {
    let data = Arc::new(content(20_000));
    // The second range request answers 503 once.
    let server = serve(&data, |n, _, _, _| (n == 2).then(|| ResponseTemplate::new(503))).await;
    let got = read_all(&url(&server), options(4, 1000)).await.unwrap();
    assert_eq!(&got.bytes[..], &data[..]);
    let summary = got.summary;
    assert_eq!((summary.bytes, summary.ranges, summary.requests, summary.retries), (20_000, 20, 21, 1));
}

#[tokio::test]
async fn download_writes_the_file_at_offsets() {
    let data = Arc::new(content(50_000));
    let server = serve(&data, honest).await;
    let dir = std::env::temp_dir().join(format!("stowage-download-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("obj.bin");
    let url = url(&server);
    let summary = downloader(&url).download(&url, options(3, 999), &path).await.unwrap();
    assert_eq!(summary.bytes, 50_000);
    assert_eq!(std::fs::read(&path).unwrap(), *data);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[tokio::test]
async fn offset_end_and_empty_objects() {
    let data = Arc::new(content(10_000));
    let server = serve(&data, honest).await;
    let part = Config { offset: 1234, end: Some(5678), ..options(2, 500) };
    assert_eq!(collect(&url(&server), part).await.unwrap(), data[1234..5678]);
    let past = Config { offset: 10_000, ..options(2, 500) };
    assert!(collect(&url(&server), past).await.unwrap().is_empty());
    let empty = Arc::new(Vec::new());
    let empty_server = serve(&empty, honest).await;
    assert!(read_all(&url(&empty_server), options(2, 500)).await.unwrap().bytes.is_empty());
}

#[tokio::test]
async fn an_object_smaller_than_a_range_is_delivered_whole() {
    // The first range asks for 4096 bytes and is answered 1000: the body holds the answer's.
    let data = Arc::new(content(1000));
    let server = serve(&data, honest).await;
    let url = url(&server);
    assert_eq!(collect(&url, options(2, 4096)).await.unwrap(), *data);
    assert_eq!(&read_all(&url, options(2, 4096)).await.unwrap().bytes[..], &data[..]);
    let dir = std::env::temp_dir().join(format!("stowage-download-small-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("small.bin");
    assert_eq!(downloader(&url).download(&url, options(2, 4096), &path).await.unwrap().bytes, 1000);
    assert_eq!(std::fs::read(&path).unwrap(), *data);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[tokio::test]
async fn a_5xx_is_retried_per_range() {
    let data = Arc::new(content(20_000));
    let server = serve(&data, |n, _, _, _| (n % 4 == 1 && n < 12).then(|| ResponseTemplate::new(503))).await;
    let got = collect(&url(&server), options(4, 1000)).await.unwrap();
    assert_eq!(got, *data);
}

#[tokio::test]
async fn a_stall_past_the_read_timeout_is_retried() {
    let data = Arc::new(content(8_000));
    let server = serve(&data, |n, start, end, data: &[u8]| {
        (n == 2).then(|| {
            ResponseTemplate::new(206)
                .insert_header("content-range", format!("bytes {start}-{}/{}", end - 1, data.len()).as_str())
                .set_body_bytes(data[start..end].to_vec())
                .set_delay(Duration::from_secs(2))
        })
    })
    .await;
    let got = read_all(&url(&server), options(2, 1000)).await.unwrap();
    assert_eq!(&got.bytes[..], &data[..]);
}

async fn hostile(misbehave: fn(u32, usize, usize, &[u8]) -> Option<ResponseTemplate>) -> GetError {
    let data = Arc::new(content(10_000));
    let server = serve(&data, misbehave).await;
    collect(&url(&server), options(2, 1000)).await.unwrap_err()
}

#[tokio::test]
async fn a_server_that_ignores_range_is_read_as_one_stream() {
    let data = Arc::new(content(10_000));
    let ignore =
        |_: u32, _: usize, _: usize, data: &[u8]| Some(ResponseTemplate::new(200).set_body_bytes(data.to_vec()));
    let server = serve(&data, ignore).await;
    let url = url(&server);
    // In order; whole into memory; and from an offset to an end (the bytes before it skipped).
    assert_eq!(collect(&url, options(2, 1000)).await.unwrap(), *data);
    let got = read_all(&url, options(2, 1000)).await.unwrap();
    assert_eq!((&got.bytes[..], got.summary.one_stream), (&data[..], true));
    let part = Config { offset: 2500, end: Some(7001), ..options(2, 1000) };
    assert_eq!(collect(&url, part.clone()).await.unwrap(), data[2500..7001]);
    assert_eq!(read_all(&url, part).await.unwrap().bytes, data[2500..7001]);
}

#[tokio::test]
async fn a_200_after_a_206_is_an_error() {
    let error =
        hostile(|n, _, _, data| (n == 3).then(|| ResponseTemplate::new(200).set_body_bytes(data.to_vec()))).await;
    assert!(matches!(error, GetError::Download(DownloadError::RangeIgnored { .. })), "{error}");
}

#[tokio::test]
async fn a_wrong_content_range_is_an_error() {
    let error = hostile(|_, start, end, data| {
        Some(
            ResponseTemplate::new(206)
                .insert_header("content-range", format!("bytes {}-{}/{}", start + 1, end, data.len()).as_str())
                .set_body_bytes(data[start..end].to_vec()),
        )
    })
    .await;
    assert!(matches!(error, GetError::Download(DownloadError::WrongRange { .. })), "{error}");
}

#[tokio::test]
async fn long_and_short_bodies_are_errors() {
    let error = hostile(|_, start, end, data| {
        Some(
            ResponseTemplate::new(206)
                .insert_header("content-range", format!("bytes {start}-{}/{}", end - 1, data.len()).as_str())
                .set_body_bytes(data[start..(end + 10).min(data.len())].to_vec()),
        )
    })
    .await;
    assert!(matches!(error, GetError::Download(DownloadError::LongBody { .. })), "{error}");
    let error = hostile(|_, start, end, data| {
        Some(
            ResponseTemplate::new(206)
                .insert_header("content-range", format!("bytes {start}-{}/{}", end - 1, data.len()).as_str())
                .set_body_bytes(data[start..end - 1].to_vec()),
        )
    })
    .await;
    assert!(matches!(error, GetError::Download(DownloadError::ShortBody { .. })), "{error}");
}

#[tokio::test]
async fn a_changed_object_is_an_error() {
    let error = hostile(|n, start, end, data| {
        Some(
            ResponseTemplate::new(206)
                .insert_header("content-range", format!("bytes {start}-{}/{}", end - 1, data.len()).as_str())
                .insert_header("etag", format!("\"v{}\"", n.min(1)).as_str())
                .set_body_bytes(data[start..end].to_vec()),
        )
    })
    .await;
    assert!(matches!(error, GetError::Download(DownloadError::ObjectChanged { .. })), "{error}");
}

/// A raw HTTP server: every connection gets `answer(request head)` written, then is closed
/// (or reset, when `reset`).
async fn raw(answer: fn(&str) -> (Vec<u8>, bool)) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        loop {
            let Ok((mut socket, _)) = listener.accept().await else { return };
            tokio::spawn(async move {
                let mut head = Vec::new();
                let mut buf = [0u8; 1024];
                while !head.windows(4).any(|w| w == b"\r\n\r\n") {
                    match socket.read(&mut buf).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => head.extend_from_slice(&buf[..n]),
                    }
                }
                let (bytes, reset) = answer(&String::from_utf8_lossy(&head));
                let _ = socket.write_all(&bytes).await;
                if reset {
                    let _ = socket.set_zero_linger();
                } else {
                    let _ = socket.shutdown().await;
                }
            });
        }
    });
    format!("http://{addr}{PATH}")
}

#[tokio::test]
async fn a_huge_content_length_is_refused_from_the_head() {
    let url = raw(|_| (b"HTTP/1.1 206 Partial Content\r\ncontent-range: bytes 0-9/10\r\ncontent-length: 99999999999999\r\n\r\n0123456789".to_vec(), false)).await;
    let options = Config { size: Some(10), ..options(1, 10) };
    let error = collect(&url, options).await.unwrap_err();
    assert!(matches!(error, GetError::Download(DownloadError::LongBody { .. })), "{error}");
}

#[tokio::test]
async fn a_huge_size_in_the_head_is_refused_without_allocating() {
    let url = raw(|_| (b"HTTP/1.1 200 OK\r\ncontent-length: 9223372036854775807\r\n\r\n".to_vec(), false)).await;
    let error = read_all(&url, Config { head: true, ..options(1, 10) }).await.unwrap_err();
    assert!(matches!(error, GetError::TooLarge { .. }), "{error}");
}

#[tokio::test]
async fn resets_mid_body_are_retried_until_the_attempts_run_out() {
    let url = raw(|_| {
        (
            b"HTTP/1.1 206 Partial Content\r\ncontent-range: bytes 0-9/10\r\ncontent-length: 10\r\n\r\n01234".to_vec(),
            true,
        )
    })
    .await;
    let options = Config { size: Some(10), ..options(1, 10) };
    let error = collect(&url, options).await.unwrap_err();
    let GetError::Download(DownloadError::RetriesExhausted { attempts, last, .. }) = error else { panic!("{error}") };
    assert_eq!(attempts, 3);
    assert!(matches!(last, Failure::Transport(TransportError::Reset | TransportError::Closed)), "{last:?}");
}

#[tokio::test]
async fn a_body_without_length_that_runs_long_is_cut_and_refused() {
    // No Content-Length: the body runs until the connection closes, past the range.
    let url = raw(|_| {
        (
            b"HTTP/1.1 206 Partial Content\r\ncontent-range: bytes 0-9/10\r\nconnection: close\r\n\r\n0123456789EXTRA"
                .to_vec(),
            false,
        )
    })
    .await;
    let options = Config { size: Some(10), ..options(1, 10) };
    let error = read_all(&url, options).await.unwrap_err();
    assert!(matches!(error, GetError::Download(DownloadError::LongBody { received: 11, .. })), "{error}");
}

#[tokio::test]
async fn dropping_the_stream_cancels_the_download() {
    let data = Arc::new(content(100_000));
    let server = serve(&data, honest).await;
    let url = url(&server);
    let mut stream = downloader(&url).get(&url, options(2, 1000)).unwrap();
    let first = stream.next().await.unwrap().unwrap();
    assert_eq!(first[..], data[..1000]);
    drop(stream);
    tokio::time::sleep(Duration::from_millis(100)).await;
    let requests = server.received_requests().await.unwrap().len();
    assert!(requests < 20, "{requests} requests after the consumer left");
}

#[tokio::test]
async fn one_stream_cut_mid_body_is_asked_again_and_each_byte_delivered_once() {
    static ANSWERED: AtomicU32 = AtomicU32::new(0);
    // Every answer is the whole object; the first is reset after 4500 of its 10 000 bytes.
    let url = raw(|_| {
        let body = content(10_000);
        let head = b"HTTP/1.1 200 OK\r\ncontent-length: 10000\r\n\r\n";
        match ANSWERED.fetch_add(1, Ordering::SeqCst) {
            0 => ([&head[..], &body[..4500]].concat(), true),
            _ => ([&head[..], &body[..]].concat(), false),
        }
    })
    .await;
    assert_eq!(collect(&url, options(2, 1000)).await.unwrap(), content(10_000));
    assert!(ANSWERED.load(Ordering::SeqCst) >= 2, "asked again");
}
