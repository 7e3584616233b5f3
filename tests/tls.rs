//! Downloads over `https://` from a real nginx with certificates made at test time
//! ([`stowage_tests::nginx`]), through each driver: what `stowage get --cacert`/`--insecure`
//! does; and what a refused certificate, a certificate for another name, a server that is not
//! TLS, a TLS record cut short and a stalled handshake become (typed errors, quickly, no
//! retry of an answer that would come again). The machines other than the download run over
//! https through nginx proxying to the embedded cluster (tokio driver: the facades).
//!
//! Without nginx the nginx tests are skipped, saying how to install it.

use std::io::{Read, Write};
use std::net::TcpListener;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use stowage_proto::tls::TlsError;
use stowage_proto::{Timeouts, TransportError};
use stowage_ringslot::transfer::GetError;
use stowage_ringslot::{Config, DownloadError, Failure};
use stowage_tests::fetch::{EVERY_WAY, Fetch, Into, PATIENT, SIZE, assert_exact};
use stowage_tests::nginx::{Leaf, Nginx, Pki, Serve, Site, temp_dir};
use stowage_tests::object::random;
use stowage_tests::{Driver, with_each_driver};
use stowage_tls::{TlsConfig, TlsOptions};
use stowage_uring::UringDriver;

use bytes::Bytes;
use stowage_ais::{Client, ColdGetError};
use stowage_cluster::keep::{KeepCluster, KeepClusterConfig};
use stowage_cluster::{BucketSpec, Cluster, ClusterConfig, JobScript, JobStep, Span, TargetScript};
use stowage_jobwait::{Dispatch, JobWait, WaitConfig};
use stowage_keep::KeepClient;
use stowage_lockpoll::{ColdGet, ColdGetConfig, ColdGetOutcome};
use stowage_proto::ais::{Bucket, ObjectAddress, Provider};
use stowage_replica::{Block, BlockWrite, Service, ServiceKind, WriteConfig, WriteOutcome};

/// How to run these tests (for the message when they are skipped).
const RUN: &str = "-p stowage-tests --test tls";

/// 4 workers, 256 KiB ranges, 3 quick attempts, no hedging.
fn config() -> Config {
    stowage_tests::fetch::config(3, Duration::from_millis(20))
}

/// A directory holding `object.bin` (`data`), for nginx to serve.
fn www(data: &[u8]) -> PathBuf {
    let dir = temp_dir("www");
    std::fs::write(dir.join("object.bin"), data).unwrap();
    dir
}

fn cacert(pki: &Pki) -> TlsConfig {
    TlsConfig::new(&TlsOptions { cacert: Some(pki.ca_file()), insecure: false }).unwrap()
}

fn insecure() -> TlsConfig {
    TlsConfig::new(&TlsOptions { cacert: None, insecure: true }).unwrap()
}

/// Downloads `url` through `driver` with `tls` and [`config`], consumed `into`.
async fn fetch(driver: Driver, url: &str, tls: &TlsConfig, into: Into) -> Result<Vec<u8>, GetError> {
    let fetch = Fetch { url, config: config(), timeouts: PATIENT, tls: Some(tls) };
    fetch.run(driver, into).await.map(|got| got.bytes)
}

/// The TLS failure a download ended with, at once (`DownloadError::Tls`: never retried).
fn tls_failure(error: &GetError) -> TlsError {
    match error {
        GetError::Download(DownloadError::Tls { error, .. }) => *error,
        other => panic!("expected a TLS failure, got {other:?}"),
    }
}

/// nginx serving `data` on one site with `leaf`.
fn serving(leaf: Leaf, data: &[u8]) -> Option<(Nginx, PathBuf)> {
    let root = www(data);
    let nginx = Nginx::start(RUN, &[Site::https(leaf, Serve::Files(root.clone()))])?;
    Some((nginx, root))
}

with_each_driver!(
    downloads_over_https_with_cacert_are_byte_exact,
    insecure_accepts_a_self_signed_certificate,
    a_certificate_from_an_untrusted_ca_is_refused_unretried,
    a_certificate_for_another_name_is_refused,
    a_server_that_does_not_speak_tls_is_a_tls_error,
    a_truncated_tls_record_is_a_typed_error,
    a_stalled_handshake_is_a_connect_timeout,
    every_machine_runs_over_https,
);

async fn downloads_over_https_with_cacert_are_byte_exact(driver: Driver) {
    let pki = Pki::new("good");
    let data = random(SIZE, 1);
    let Some((nginx, _root)) = serving(pki.leaf(&["localhost", "127.0.0.1"]), &data) else { return };
    let url = format!("{}/object.bin", nginx.url(0));
    let tls = cacert(&pki);
    for into in EVERY_WAY {
        let got = fetch(driver, &url, &tls, into).await.unwrap();
        assert_exact(driver, into, &got, &data);
    }
    // By IP address too: the certificate names 127.0.0.1.
    let by_ip = format!("https://127.0.0.1:{}/object.bin", nginx.port(0));
    assert_exact(driver, Into::File, &fetch(driver, &by_ip, &tls, Into::File).await.unwrap(), &data);
    let ranges = nginx.requests().iter().filter(|r| r.starts_with("GET /object.bin 206")).count();
    assert!(ranges >= 4 * 13, "{:?}", nginx.requests());
}

async fn insecure_accepts_a_self_signed_certificate(driver: Driver) {
    let pki = Pki::new("self");
    let data = random(SIZE, 2);
    let Some((nginx, _root)) = serving(pki.self_signed(&["some.other.name"]), &data) else { return };
    let url = format!("{}/object.bin", nginx.url(0));
    for into in EVERY_WAY {
        let got = fetch(driver, &url, &insecure(), into).await.unwrap();
        assert_exact(driver, into, &got, &data);
    }
    // Without --insecure, neither the built-in roots nor the CA trust it.
    for tls in [TlsConfig::default(), cacert(&pki)] {
        let error = fetch(driver, &url, &tls, Into::File).await.unwrap_err();
        assert_eq!(tls_failure(&error), TlsError::UnknownIssuer, "{error:?}");
    }
}

async fn a_certificate_from_an_untrusted_ca_is_refused_unretried(driver: Driver) {
    let (pki, other) = (Pki::new("server"), Pki::new("client"));
    let Some((nginx, _root)) = serving(pki.leaf(&["localhost"]), &random(1000, 3)) else { return };
    let url = format!("{}/object.bin", nginx.url(0));
    for tls in [cacert(&other), TlsConfig::default()] {
        for into in EVERY_WAY {
            let error = fetch(driver, &url, &tls, into).await.unwrap_err();
            assert_eq!(tls_failure(&error), TlsError::UnknownIssuer, "{into:?}: {error:?}");
            let GetError::Download(error) = error else { unreachable!() };
            let message = error.to_string();
            assert!(message.contains("TLS: the server's certificate is not signed by a trusted CA"), "{message}");
        }
    }
    // Refused at the handshake: nginx answered no request.
    assert!(nginx.requests().is_empty(), "{:?}", nginx.requests());
}

async fn a_certificate_for_another_name_is_refused(driver: Driver) {
    let pki = Pki::new("names");
    let Some((nginx, _root)) = serving(pki.leaf(&["elsewhere.test"]), &random(1000, 4)) else { return };
    let tls = cacert(&pki);
    for url in [format!("{}/object.bin", nginx.url(0)), format!("https://127.0.0.1:{}/object.bin", nginx.port(0))] {
        let error = fetch(driver, &url, &tls, Into::Stream).await.unwrap_err();
        assert_eq!(tls_failure(&error), TlsError::NotValidForName, "{url}: {error:?}");
    }
    assert!(nginx.requests().is_empty(), "{:?}", nginx.requests());
}

/// A TCP server on a free port of 127.0.0.1 that answers each connection with `answer` (after
/// reading what the client sends first, unless `answer` is `None`: then it holds the
/// connection open, silent, for `hold`), then closes it. It counts the connections.
fn tiny_server(answer: Option<&'static [u8]>, hold: Duration) -> (String, Arc<AtomicUsize>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let count = Arc::new(AtomicUsize::new(0));
    let counted = Arc::clone(&count);
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { return };
            counted.fetch_add(1, Ordering::SeqCst);
            std::thread::spawn(move || {
                let mut first = [0; 4096];
                let _ = stream.set_read_timeout(Some(Duration::from_secs(5)));
                match answer {
                    Some(answer) => {
                        let _ = stream.read(&mut first);
                        let _ = stream.write_all(answer);
                    }
                    None => std::thread::sleep(hold),
                }
            });
        }
    });
    (format!("https://localhost:{port}/object.bin"), count)
}

async fn a_server_that_does_not_speak_tls_is_a_tls_error(driver: Driver) {
    let answer: &[u8] = b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";
    let (url, connections) = tiny_server(Some(answer), Duration::ZERO);
    let error = fetch(driver, &url, &insecure(), Into::Stream).await.unwrap_err();
    assert_eq!(tls_failure(&error), TlsError::Protocol, "{error:?}");
    assert_eq!(connections.load(Ordering::SeqCst), 1, "not retried");
}

async fn a_truncated_tls_record_is_a_typed_error(driver: Driver) {
    // A handshake record announcing 0x200 bytes, 7 of them sent, then the connection closed.
    let answer: &[u8] = &[0x16, 0x03, 0x03, 0x02, 0x00, 0x02, 0x00, 0x01, 0xfc, 0x03, 0x03, 0x11];
    let (url, connections) = tiny_server(Some(answer), Duration::ZERO);
    let started = Instant::now();
    let error = fetch(driver, &url, &insecure(), Into::File).await.unwrap_err();
    // The connection closed mid-record: bad luck on the network, retried, then given up.
    let GetError::Download(DownloadError::RetriesExhausted { attempts, last, .. }) = &error else {
        panic!("expected the attempts to fail, got {error:?}")
    };
    assert_eq!((*attempts, *last), (3, Failure::Transport(TransportError::Closed)), "{error:?}");
    assert_eq!(connections.load(Ordering::SeqCst), 3);
    assert!(started.elapsed() < Duration::from_secs(5), "took {:?}", started.elapsed());
}

async fn a_stalled_handshake_is_a_connect_timeout(driver: Driver) {
    let (url, _connections) = tiny_server(None, Duration::from_secs(10));
    let quick = Timeouts { connect: Duration::from_millis(300), read: Duration::from_secs(10) };
    let started = Instant::now();
    let tls = insecure();
    let fetch = Fetch { url: &url, config: config(), timeouts: quick, tls: Some(&tls) };
    let error = fetch.run(driver, Into::Whole).await.unwrap_err();
    let GetError::Download(DownloadError::RetriesExhausted { last, .. }) = &error else { panic!("got {error:?}") };
    assert_eq!(*last, Failure::Transport(TransportError::ConnectTimeout), "{error:?}");
    assert!(started.elapsed() < Duration::from_secs(5), "took {:?}", started.elapsed());
}

/// A cold GET (lockpoll), a job wait (jobwait) and a replicated Keep write (replica), each
/// through nginx's TLS in front of the embedded cluster and keepstores; then a certificate
/// from an untrusted CA, which the cold-GET retry and the Keep write do not retry.
async fn every_machine_runs_over_https(driver: Driver) {
    let pki = Pki::new("machines");
    let cluster =
        Cluster::start(ClusterConfig { buckets: vec![BucketSpec::new("local", "ais")], ..ClusterConfig::default() })
            .await
            .unwrap();
    let keep = KeepCluster::start(KeepClusterConfig::disks(2)).await.unwrap();
    let leaf = pki.leaf(&["localhost"]);
    let site = |upstream: &str| Site::https(leaf.clone(), Serve::Proxy(upstream.to_owned()));
    let mut sites = vec![site(&cluster.url())];
    sites.extend(keep.services().iter().map(|s| site(&s.root)));
    let Some(nginx) = Nginx::start(RUN, &sites) else { return };
    let tls = cacert(&pki);
    let object = Bytes::from(random(100_000, 5));
    let address = ObjectAddress::new(Bucket::new("local", Provider::Ais), "dir/object.bin");
    cluster.put_object(address.bucket(), &address.object(), object.clone());
    let services: Vec<Service> = keep
        .services()
        .iter()
        .enumerate()
        .map(|(i, s)| Service::new(&s.uuid, &format!("{}/", nginx.url(i + 1)), ServiceKind::Disk).unwrap())
        .collect();
    cluster
        .jobs()
        .script("rebalance", JobScript::new([TargetScript::new(vec![JobStep::Running(Span::Polls(2)), JobStep::End])]));
    let wait =
        WaitConfig { interval: Some(Duration::from_millis(20)), ..WaitConfig::with_timeout(Duration::from_secs(10)) };
    let uri = address.uri(&[]).to_string();
    let get = move || http::Request::get(uri.as_str()).body(Bytes::new()).unwrap();
    let block = Bytes::from_static(b"foo");
    match driver {
        Driver::Tokio => {
            let client = Client::builder(&nginx.url(0)).tls(tls.clone()).seed(7).build().unwrap();
            let got = client.cold_get(get()).await.unwrap();
            assert_eq!(got.response.body(), &object);
            let job = client.start_job("rebalance").await.unwrap();
            let result = client.job(job.id(), "").wait(wait).await.result.unwrap();
            assert!(result.success, "{result:?}");
            let stored = KeepClient::builder(services.clone()).tls(tls.clone()).seed(7).build().unwrap();
            assert_eq!(stored.put(block.clone(), 2, &[]).await.unwrap().copies, 2);
            // A certificate nobody trusts: one attempt each.
            let untrusted = cacert(&Pki::new("nobody"));
            let client = Client::builder(&nginx.url(0)).tls(untrusted.clone()).seed(7).build().unwrap();
            let Err(ColdGetError::Failed { error, report }) = client.cold_get(get()).await else { panic!() };
            assert_eq!((error, report.attempts), (TransportError::Tls(TlsError::UnknownIssuer), 1));
            let refused = KeepClient::builder(services).tls(untrusted).seed(7).build().unwrap();
            let error = refused.put(block, 2, &[]).await.unwrap_err();
            assert!(matches!(error, stowage_keep::KeepError::Failed { got: 0, .. }), "{error}");
        }
        Driver::Uring => {
            let (url, tls) = (nginx.url(0), tls.clone());
            let object = object.clone();
            let started = Client::builder(&cluster.url()).build().unwrap().start_job("rebalance").await.unwrap();
            let id = started.id().to_owned();
            tokio::task::spawn_blocking(move || {
                let mut driver = UringDriver::new(&url, PATIENT).unwrap().with_tls(&tls);
                let machine = ColdGet::new(get(), ColdGetConfig::default(), 7);
                let driven = driver.drive(machine).unwrap();
                let ColdGetOutcome::Response { id: answered, .. } = driven.outcome else {
                    panic!("{:?}", driven.outcome)
                };
                assert_eq!(driven.responses.get(answered).map(|r| r.body().clone()), Some(object));
                let result =
                    driver.drive(JobWait::new(id, "", Dispatch::ByKind, wait)).unwrap().outcome.result.unwrap();
                assert!(result.success, "{result:?}");
                let config = WriteConfig::new(2, "req-00000000000000000000");
                let machine = BlockWrite::new(Block::new(block.clone()).unwrap(), &services, config.clone()).unwrap();
                let WriteOutcome::Stored { copies, .. } = driver.drive(machine).unwrap().outcome else { panic!() };
                assert_eq!(copies, 2);
                let untrusted = cacert(&Pki::new("nobody"));
                let mut driver = UringDriver::new(&url, PATIENT).unwrap().with_tls(&untrusted);
                let driven = driver.drive(ColdGet::new(get(), ColdGetConfig::default(), 7)).unwrap();
                let ColdGetOutcome::Failed { error, report } = driven.outcome else { panic!("{:?}", driven.outcome) };
                assert_eq!((error, report.attempts), (TransportError::Tls(TlsError::UnknownIssuer), 1));
                let machine = BlockWrite::new(Block::new(block).unwrap(), &services, config).unwrap();
                let outcome = driver.drive(machine).unwrap().outcome;
                assert!(matches!(outcome, WriteOutcome::Failed { got: 0, .. }), "{outcome:?}");
            })
            .await
            .unwrap();
        }
    }
    assert_eq!(keep.replicas("acbd18db4cc2f85cedef654fccc4a4d8"), 2);
}
