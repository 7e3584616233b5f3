//! Redirects through both drivers: AIStore as it is deployed (a proxy that answers every object
//! request with a `307` to the owning target, `ClusterConfig { targets: Some(3), .. }`), and
//! servers that redirect badly. Every scenario runs once through the tokio driver and once
//! through the io_uring driver (the same machines, unchanged).
//!
//! - A cold GET of a remote object waits for its write lock through the proxy: the GET, each
//!   `check-lock`, the sizing `HEAD` and the retried GET go to the proxy, as the SDK's
//!   `LockPoller` sends them, and each is redirected to the owner; a job wait, and plain PUTs and
//!   GETs, work through the proxy too.
//! - A loop, a `Location` that is not a URL, a redirect without one, and too many hops reach
//!   the caller as `TransportError::Redirect`, after one attempt (no machine retries them).
//! - `Authorization` goes on to a trusted authority and is dropped on the way to any other.
//! - A download's `HEAD`, and a Keep PUT a keepproxy redirects to a keepstore, follow too.
//!
//! The servers that misbehave are hand-written ([`serve`]): each records what it received.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use http::{Method, Request, Response, header};
use stowage_ais::{Client, ColdGetError};
use stowage_cluster::{BucketSpec, Cluster, ClusterConfig, JobScript, JobStep, Span, TargetScript};
use stowage_jobwait::{Dispatch, JobWait, WaitConfig};
use stowage_keep::KeepClient;
use stowage_lockpoll::{
    ColdGet, ColdGetConfig, ColdGetOutcome, LockPollConfig, LockWaitOutcome, NETWORK_RETRY, Report,
};
use stowage_proto::ais::{Bucket, ObjectAddress, Provider};
use stowage_proto::redirect::{RedirectError, RedirectPolicy};
use stowage_proto::{Retry, Timeouts, TransportError};
use stowage_replica::{Block, BlockWrite, Service, ServiceKind, WriteConfig, WriteOutcome};
use stowage_ringslot::Config;
use stowage_tests::{Driver, with_each_driver};
use stowage_tokio::HyperTransport;
use stowage_tokio::download::Downloader;
use stowage_uring::UringDriver;

const READ_TIMEOUT: Duration = Duration::from_millis(300);

fn timeouts() -> Timeouts {
    Timeouts { read: READ_TIMEOUT, ..Timeouts::default() }
}

/// Three attempts, no jitter, default lock waits.
fn config() -> ColdGetConfig {
    ColdGetConfig { retry: Retry { jitter: false, max_attempts: 3, ..NETWORK_RETRY }, lock: LockPollConfig::default() }
}

/// What a request came to through a cold-GET retry: the response, or the last error; and the
/// report (attempts, lock waits).
type Got = (Result<Response<Bytes>, TransportError>, Report);

/// Sends `request` to `endpoint` through `driver` with the cold-GET retry around it
/// ([`ColdGet`]: the tokio client's `cold_get`, the same machine driven by io_uring), following
/// redirects as `policy` says.
async fn cold_get(driver: Driver, endpoint: &str, policy: RedirectPolicy, request: Request<Bytes>) -> Got {
    match driver {
        Driver::Tokio => {
            let transport = HyperTransport::new(endpoint, timeouts()).unwrap().with_redirects(policy);
            match Client::with_transport(transport, config(), 7).cold_get(request).await {
                Ok(got) => (Ok(got.response), got.report),
                Err(ColdGetError::Failed { error, report }) => (Err(error), report),
            }
        }
        Driver::Uring => {
            let endpoint = endpoint.to_owned();
            tokio::task::spawn_blocking(move || {
                let mut driver = UringDriver::new(&endpoint, timeouts()).unwrap().with_redirects(policy);
                let mut driven = driver.drive(ColdGet::new(request, config(), 7)).unwrap();
                match driven.outcome {
                    ColdGetOutcome::Response { id, report } => (Ok(driven.responses.take(id).unwrap()), report),
                    ColdGetOutcome::Failed { error, report } => (Err(error), report),
                }
            })
            .await
            .unwrap()
        }
    }
}

fn request(method: Method, uri: &str, body: &'static [u8]) -> Request<Bytes> {
    Request::builder().method(method).uri(uri).body(Bytes::from_static(body)).unwrap()
}

// -- AIStore as it is deployed ---------------------------------------------------------------

async fn topology(buckets: Vec<BucketSpec>) -> Cluster {
    Cluster::start(ClusterConfig { targets: Some(3), buckets, ..ClusterConfig::default() }).await.unwrap()
}

fn data() -> Bytes {
    (0..256 * 1024).map(|i| (i % 251) as u8).collect::<Vec<u8>>().into()
}

/// Every object request went to the proxy and on to the owner of `name`, which alone served
/// them.
fn all_through_the_proxy_to_the_owner(cluster: &Cluster, bucket: &Bucket, name: &str) {
    let stats = cluster.stats();
    let served = stats.object_gets + stats.object_heads + stats.object_puts + stats.check_locks;
    assert_eq!(stats.redirects, served, "each object request was redirected once: {stats:?}");
    assert_eq!(stats.misdirected, 0, "{stats:?}");
    let owner = cluster.owner(bucket, name).unwrap();
    let index = cluster.targets().iter().position(|t| *t == owner).unwrap();
    assert_eq!(stats.target_requests[index], stats.target_requests.iter().sum::<u64>(), "{stats:?}");
    assert_eq!(stats.target_requests[index], served, "{stats:?}");
}

with_each_driver!(
    a_cold_get_waits_for_the_lock_through_the_proxy,
    objects_are_put_and_read_through_the_proxy,
    a_job_wait_runs_through_the_proxy,
    a_redirect_loop_is_a_typed_error,
    a_location_that_is_not_a_url_is_a_typed_error,
    a_redirect_without_location_is_a_typed_error,
    too_many_hops_are_a_typed_error,
    credentials_go_only_to_trusted_authorities,
    a_download_head_follows_its_redirect,
    a_keep_put_follows_a_keepproxy_to_a_keepstore,
);

async fn a_cold_get_waits_for_the_lock_through_the_proxy(driver: Driver) {
    let bucket = Bucket::new("cloud", Provider::Aws);
    let cluster = topology(vec![BucketSpec { cold_get_lock_ms: 1_500, ..BucketSpec::new("cloud", "aws") }]).await;
    cluster.put_object(&bucket, "dir/object", data());
    let address = ObjectAddress::new(bucket.clone(), "dir/object");
    let get = request(Method::GET, &address.uri(&[]).to_string(), b"");

    let (response, report) = cold_get(driver, &cluster.url(), RedirectPolicy::default(), get).await;
    let response = response.unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.body(), &data(), "the target's body, not the proxy's HTML");
    assert_eq!(report.attempts, 2, "{report:?}");
    assert!(matches!(report.lock_waits[..], [LockWaitOutcome::Unlocked { polls, .. }] if polls >= 1), "{report:?}");
    let stats = cluster.stats();
    assert_eq!((stats.cold_gets, stats.object_gets, stats.object_heads), (1, 2, 1), "{stats:?}");
    assert!(stats.check_locks >= 2, "{stats:?}");
    // The GET, every check-lock, the HEAD and the retried GET: each sent to the proxy.
    assert_eq!(stats.proxy_requests, stats.redirects, "{stats:?}");
    all_through_the_proxy_to_the_owner(&cluster, &bucket, "dir/object");
}

async fn objects_are_put_and_read_through_the_proxy(driver: Driver) {
    let bucket = Bucket::new("local", Provider::Ais);
    let cluster = topology(vec![BucketSpec::new("local", "ais")]).await;
    let address = ObjectAddress::new(bucket.clone(), "dir/new object.bin");
    let uri = address.uri(&[]).to_string();
    match driver {
        Driver::Tokio => {
            let client = Client::builder(&cluster.url()).seed(7).build().unwrap();
            assert_eq!(client.put_object(&address, data()).await.unwrap(), 200);
            let got = client.get_object(&address).await.unwrap();
            assert_eq!((got.response.status(), got.response.body()), (http::StatusCode::OK, &data()));
        }
        Driver::Uring => {
            let put = Request::put(uri.as_str()).body(data()).unwrap();
            let (response, _) = cold_get(driver, &cluster.url(), RedirectPolicy::default(), put).await;
            assert_eq!(response.unwrap().status(), 200);
            let get = request(Method::GET, &uri, b"");
            let (response, _) = cold_get(driver, &cluster.url(), RedirectPolicy::default(), get).await;
            assert_eq!(response.unwrap().body(), &data());
        }
    }
    let stats = cluster.stats();
    assert_eq!((stats.redirects, stats.object_puts, stats.object_gets), (2, 1, 1), "{stats:?}");
    all_through_the_proxy_to_the_owner(&cluster, &bucket, "dir/new object.bin");
}

async fn a_job_wait_runs_through_the_proxy(driver: Driver) {
    let cluster = topology(vec![]).await;
    let target = |steps: Vec<JobStep>| TargetScript::new(steps);
    let script = JobScript::new([
        target(vec![JobStep::Running(Span::Polls(2)), JobStep::End]),
        target(vec![JobStep::Running(Span::Polls(3)), JobStep::End]),
    ]);
    cluster.jobs().script("rebalance", script);
    let client = Client::new(&cluster.url()).unwrap();
    let job = client.start_job("rebalance").await.unwrap();
    let config =
        WaitConfig { interval: Some(Duration::from_millis(20)), ..WaitConfig::with_timeout(Duration::from_secs(10)) };
    let outcome = match driver {
        Driver::Tokio => client.job(job.id(), "").wait(config).await,
        Driver::Uring => {
            let (url, id) = (cluster.url(), job.id().to_owned());
            tokio::task::spawn_blocking(move || {
                let machine = JobWait::new(id, "", Dispatch::ByKind, config);
                UringDriver::new(&url, Timeouts::default()).unwrap().drive(machine).unwrap().outcome
            })
            .await
            .unwrap()
        }
    };
    let result = outcome.result.unwrap();
    assert!(result.success && result.end_time.is_some(), "{result:?}");
    assert_eq!(cluster.jobs().polls(job.id()), Some(4), "decided on the poll where the last target ended");
    assert_eq!(cluster.stats().redirects, 0, "the proxy answers the job API itself");
}

// -- Servers that redirect badly -------------------------------------------------------------

/// A request as a hand-written server received it.
#[derive(Clone, Debug)]
struct Seen {
    method: String,
    target: String,
    /// Names in lower case.
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Seen {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str())
    }
}

/// A hand-written HTTP/1.1 server on loopback (keep-alive; `Content-Length` bodies only) that
/// answers each request with the bytes `respond` makes, recording what it received.
struct Raw {
    url: String,
    seen: Arc<Mutex<Vec<Seen>>>,
    accepted: Arc<AtomicUsize>,
}

impl Raw {
    fn authority(&self) -> http::uri::Authority {
        self.url.strip_prefix("http://").unwrap().parse().unwrap()
    }

    fn seen(&self) -> Vec<Seen> {
        self.seen.lock().unwrap().clone()
    }
}

fn serve(respond: impl Fn(&Seen) -> Vec<u8> + Send + Sync + 'static) -> Raw {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let (seen, accepted) = (Arc::<Mutex<Vec<Seen>>>::default(), Arc::new(AtomicUsize::new(0)));
    let (log, count, respond) = (Arc::clone(&seen), Arc::clone(&accepted), Arc::new(respond));
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            count.fetch_add(1, Ordering::SeqCst);
            let (log, respond) = (Arc::clone(&log), Arc::clone(&respond));
            std::thread::spawn(move || answer_all(stream, &log, &*respond));
        }
    });
    Raw { url, seen, accepted }
}

fn answer_all(stream: TcpStream, log: &Mutex<Vec<Seen>>, respond: &dyn Fn(&Seen) -> Vec<u8>) {
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    let mut writer = stream;
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).unwrap_or(0) == 0 {
            return;
        }
        let mut words = line.split(' ');
        let (method, target) = (words.next().unwrap_or("").to_owned(), words.next().unwrap_or("").to_owned());
        let mut headers = vec![];
        loop {
            let mut header = String::new();
            if reader.read_line(&mut header).unwrap_or(0) == 0 || header == "\r\n" {
                break;
            }
            if let Some((name, value)) = header.split_once(':') {
                headers.push((name.trim().to_ascii_lowercase(), value.trim().to_owned()));
            }
        }
        let mut seen = Seen { method, target, headers, body: vec![] };
        let length = seen.header("content-length").map_or(0, |l| l.parse().unwrap());
        seen.body.resize(length, 0);
        if reader.read_exact(&mut seen.body).is_err() {
            return;
        }
        let answer = respond(&seen);
        log.lock().unwrap().push(seen);
        if writer.write_all(&answer).is_err() {
            return;
        }
    }
}

/// A response's bytes: `status` (`"307 Temporary Redirect"`), `headers`, and `body` (sent
/// unless the request was a HEAD; its length is announced either way).
fn reply(seen: &Seen, status: &str, headers: &[(&str, &str)], body: &[u8]) -> Vec<u8> {
    let mut head = format!("HTTP/1.1 {status}\r\nContent-Length: {}\r\n", body.len()).into_bytes();
    for (name, value) in headers {
        head.extend_from_slice(format!("{name}: {value}\r\n").as_bytes());
    }
    head.extend_from_slice(b"\r\n");
    if seen.method != "HEAD" {
        head.extend_from_slice(body);
    }
    head
}

/// A `307` to `location` with an HTML body, as Go's `http.Redirect` (and so AIStore's proxy)
/// writes it.
fn redirect(seen: &Seen, location: &[u8]) -> Vec<u8> {
    let mut answer =
        b"HTTP/1.1 307 Temporary Redirect\r\nContent-Type: text/html; charset=utf-8\r\nLocation: ".to_vec();
    answer.extend_from_slice(location);
    let body = b"<a href=\"/elsewhere\">Temporary Redirect</a>.\n\n";
    answer.extend_from_slice(format!("\r\nContent-Length: {}\r\n\r\n", body.len()).as_bytes());
    if seen.method != "HEAD" {
        answer.extend_from_slice(body);
    }
    answer
}

const OBJECT: &str = "/v1/objects/b/o?provider=ais";

/// A GET of [`OBJECT`] from `server` gives up with `error` after one attempt.
async fn fails_with(driver: Driver, server: &Raw, policy: RedirectPolicy, error: RedirectError) {
    let (got, report) = cold_get(driver, &server.url, policy, request(Method::GET, OBJECT, b"")).await;
    assert_eq!(got.unwrap_err(), TransportError::Redirect(error));
    assert_eq!(report.attempts, 1, "a redirect that cannot be followed is not retried: {report:?}");
}

async fn a_redirect_loop_is_a_typed_error(driver: Driver) {
    // /v1/… → /elsewhere → /v1/… again.
    let server = serve(|seen| {
        let location = if seen.target == OBJECT { "/elsewhere".as_bytes() } else { OBJECT.as_bytes() };
        redirect(seen, location)
    });
    fails_with(driver, &server, RedirectPolicy::default(), RedirectError::Loop).await;
    assert_eq!(server.seen().len(), 2);
}

async fn a_location_that_is_not_a_url_is_a_typed_error(driver: Driver) {
    for (location, error) in [
        (&b"not a url"[..], RedirectError::InvalidLocation),
        (&b"/caf\xc3\xa9"[..], RedirectError::InvalidLocation),
        (&b"http://[::1/"[..], RedirectError::InvalidLocation),
        (&b"ftp://127.0.0.1/x"[..], RedirectError::UnsupportedScheme),
    ] {
        let server = serve(move |seen| redirect(seen, location));
        fails_with(driver, &server, RedirectPolicy::default(), error).await;
        assert_eq!(server.seen().len(), 1, "{}", String::from_utf8_lossy(location));
    }
}

async fn a_redirect_without_location_is_a_typed_error(driver: Driver) {
    let server = serve(|seen| reply(seen, "307 Temporary Redirect", &[], b"<a>nowhere</a>"));
    fails_with(driver, &server, RedirectPolicy::default(), RedirectError::MissingLocation).await;
}

async fn too_many_hops_are_a_typed_error(driver: Driver) {
    // Every answer a redirect to one more hop: /hop/1, /hop/2, …
    let server = serve(|seen| {
        let next = seen.target.strip_prefix("/hop/").map_or(0, |n| n.parse::<u32>().unwrap()) + 1;
        redirect(seen, format!("/hop/{next}").as_bytes())
    });
    let policy = RedirectPolicy { max_hops: 3, ..RedirectPolicy::default() };
    fails_with(driver, &server, policy, RedirectError::TooManyHops).await;
    let targets: Vec<String> = server.seen().into_iter().map(|s| s.target).collect();
    assert_eq!(targets, [OBJECT, "/hop/1", "/hop/2", "/hop/3"], "the first and 3 hops");
}

async fn credentials_go_only_to_trusted_authorities(driver: Driver) {
    let target = serve(|seen| reply(seen, "200 OK", &[], b"from the target"));
    let location = format!("{}/v1/objects/b/o?provider=ais&pid=p1", target.url);
    let proxy = serve(move |seen| redirect(seen, location.as_bytes()));
    let with_token = || {
        let mut put = request(Method::PUT, OBJECT, b"payload");
        put.headers_mut().insert(header::AUTHORIZATION, "Bearer s3cr3t".parse().unwrap());
        put.headers_mut().insert(header::COOKIE, "session=1".parse().unwrap());
        put
    };

    let (response, _) = cold_get(driver, &proxy.url, RedirectPolicy::default(), with_token()).await;
    assert_eq!(response.unwrap().body(), "from the target");
    let trusted = RedirectPolicy::default().trusting([target.authority()]);
    let (response, _) = cold_get(driver, &proxy.url, trusted, with_token()).await;
    assert_eq!(response.unwrap().body(), "from the target");

    let at_proxy = proxy.seen();
    assert!(at_proxy.iter().all(|s| s.header("authorization") == Some("Bearer s3cr3t")), "{at_proxy:?}");
    let [foreign, trusted] = &target.seen()[..] else { panic!("{:?}", target.seen()) };
    assert_eq!(
        (foreign.method.as_str(), foreign.body.as_slice()),
        ("PUT", &b"payload"[..]),
        "307 keeps method and body"
    );
    assert_eq!(
        (foreign.header("authorization"), foreign.header("cookie")),
        (None, None),
        "dropped on the way to another host"
    );
    assert_eq!(trusted.header("authorization"), Some("Bearer s3cr3t"), "kept to a trusted one");
    assert_eq!(trusted.header("cookie"), Some("session=1"));
    assert!(trusted.target.ends_with("&pid=p1"));
    assert!(target.accepted.load(Ordering::SeqCst) >= 1, "a connection to the target's own port");
}

async fn a_download_head_follows_its_redirect(driver: Driver) {
    const SIZE: usize = 100_000;
    let object: Arc<Vec<u8>> = Arc::new((0..SIZE).map(|i| (i % 247) as u8).collect());
    // The sizing HEAD is redirected to `sizer`; the ranges are served where they were asked.
    let sizer = serve(|seen| reply(seen, "200 OK", &[], &vec![0; SIZE]));
    let location = format!("{}/sized", sizer.url);
    let body = Arc::clone(&object);
    let server = serve(move |seen| {
        if seen.method == "HEAD" {
            return redirect(seen, location.as_bytes());
        }
        let range = seen.header("range").unwrap().strip_prefix("bytes=").unwrap();
        let (first, last) = range.split_once('-').unwrap();
        let (first, last): (usize, usize) = (first.parse().unwrap(), last.parse().unwrap());
        let content_range = format!("bytes {first}-{last}/{SIZE}");
        reply(seen, "206 Partial Content", &[("Content-Range", &content_range)], &body[first..=last])
    });
    let url = format!("{}/object.bin", server.url);
    let config = Config { head: true, workers: 2, chunk: Some(16 * 1024), hedge: None, ..Config::default() };
    let got = match driver {
        Driver::Tokio => {
            Downloader::for_url(&url, timeouts()).unwrap().read_all(&url, config).await.unwrap().bytes.to_vec()
        }
        Driver::Uring => tokio::task::spawn_blocking(move || {
            let mut driver = UringDriver::new(&url, timeouts()).unwrap();
            let mut download = driver.get(&url, config).unwrap();
            let mut all = vec![];
            while let Some(chunk) = download.next_chunk().unwrap() {
                all.extend_from_slice(chunk);
            }
            all
        })
        .await
        .unwrap(),
    };
    assert_eq!(got, *object);
    let heads = |raw: &Raw| raw.seen().iter().filter(|s| s.method == "HEAD").count();
    assert_eq!((heads(&server), heads(&sizer)), (1, 1), "the HEAD went on to where it was sent");
}

async fn a_keep_put_follows_a_keepproxy_to_a_keepstore(driver: Driver) {
    const FOO_MD5: &str = "acbd18db4cc2f85cedef654fccc4a4d8";
    let keepstore = serve(|seen| {
        let locator = format!("{FOO_MD5}+3+Aabc@6a000000\n");
        reply(seen, "200 OK", &[("X-Keep-Replicas-Stored", "2")], locator.as_bytes())
    });
    let location = format!("{}/{FOO_MD5}", keepstore.url);
    let keepproxy = serve(move |seen| redirect(seen, location.as_bytes()));
    let services = vec![Service::new("zzzzz-bi6l4-000000000000000", &keepproxy.url, ServiceKind::Proxy).unwrap()];
    let block = Bytes::from_static(b"foo");
    let (locator, copies) = match driver {
        Driver::Tokio => {
            let keep = KeepClient::builder(services).token("t0ken").seed(7).build().unwrap();
            let stored = keep.put(block, 2, &[]).await.unwrap();
            (stored.locator, stored.copies)
        }
        Driver::Uring => {
            let endpoint = keepproxy.url.clone();
            tokio::task::spawn_blocking(move || {
                let config =
                    WriteConfig { token: Some("t0ken".into()), ..WriteConfig::new(2, "req-00000000000000000000") };
                let machine = BlockWrite::new(Block::new(block).unwrap(), &services, config).unwrap();
                match UringDriver::new(&endpoint, timeouts()).unwrap().drive(machine).unwrap().outcome {
                    WriteOutcome::Stored { locator, copies, .. } => (locator, copies),
                    failed => panic!("{failed:?}"),
                }
            })
            .await
            .unwrap()
        }
    };
    assert_eq!((locator.as_str(), copies), ("acbd18db4cc2f85cedef654fccc4a4d8+3+Aabc@6a000000", 2));
    let [stored] = &keepstore.seen()[..] else { panic!("{:?}", keepstore.seen()) };
    assert_eq!((stored.method.as_str(), stored.body.as_slice()), ("PUT", &b"foo"[..]));
    assert_eq!(stored.header("x-keep-desired-replicas"), Some("2"), "the PUT as the machine made it");
    assert_eq!(stored.header("authorization"), None, "the token stays with the services");
    assert_eq!(keepproxy.seen()[0].header("authorization"), Some("Bearer t0ken"));
}
