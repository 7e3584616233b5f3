//! Issue 16's "a truncated TLS record": an HTTPS server that misbehaves mid-body
//! ([`stowage_tests::tls_server`]) — a record cut short, a close without `close_notify` (of a
//! body with its `Content-Length`, or of one that ends with the connection), a corrupted
//! record, a stall — and what each driver makes of it, in order (a stream) and into a file.
//!
//! - On the first attempt of some ranges only, each costs those ranges one retry each: the
//!   download is byte-exact.
//! - On every attempt of one range of a download into a file, the download fails with its
//!   retries exhausted, the last failure naming the transport's error, the same through both
//!   drivers (`Closed` for a cut or a truncation — never the end of a body —, `Tls(Record)` for
//!   a corrupted record, `ReadTimeout` for a stall); the file does not appear, its `.part` is
//!   kept, and a resume completes it.
//!
//! No nginx needed: the server is ours.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use stowage_proto::tls::TlsError;
use stowage_proto::{Timeouts, TransportError};
use stowage_ringslot::transfer::GetError;
use stowage_ringslot::{ByteRange, DownloadError, Failure, Summary};
use stowage_tests::fetch::{CHUNK, Fetch, Into, config};
use stowage_tests::nginx::{Pki, temp_dir};
use stowage_tests::object::random;
use stowage_tests::tls_server::{Fault, FaultKind, Request, TlsServer};
use stowage_tests::{Driver, with_each_driver};
use stowage_tls::{TlsConfig, TlsOptions};

/// The object's size: 8 ranges and a short last one.
const SIZE: usize = 2 * 1024 * 1024 + 17;
/// The ranges of the object.
const RANGES: u64 = (SIZE as u64).div_ceil(CHUNK);
/// Attempts per range.
const ATTEMPTS: u32 = 3;
/// The range that faults on every attempt.
const DOOMED: u64 = 2;

with_each_driver!(
    a_record_cut_short_mid_body_is_retried,
    a_close_without_close_notify_mid_body_is_retried,
    a_close_without_close_notify_mid_an_until_close_body_is_retried,
    a_corrupted_record_mid_body_is_retried,
    a_stall_mid_body_is_a_read_timeout_retried,
);

/// A record cut short: the connection closed (see [`retried`]).
async fn a_record_cut_short_mid_body_is_retried(driver: Driver) {
    retried(driver, FaultKind::CutRecord, TransportError::Closed).await;
}

/// A close without `close_notify`: the connection closed (see [`retried`]).
async fn a_close_without_close_notify_mid_body_is_retried(driver: Driver) {
    retried(driver, FaultKind::Truncate, TransportError::Closed).await;
}

/// A close without `close_notify` in a body without `Content-Length`, which would end with the
/// connection: the body truncated all the same (see [`retried`]).
async fn a_close_without_close_notify_mid_an_until_close_body_is_retried(driver: Driver) {
    retried(driver, FaultKind::TruncateUntilClose, TransportError::Closed).await;
}

/// A stall: a read timeout (see [`retried`]).
async fn a_stall_mid_body_is_a_read_timeout_retried(driver: Driver) {
    retried(driver, FaultKind::Stall, TransportError::ReadTimeout).await;
}

/// A corrupted record: a TLS record that fails its authentication, which another connection
/// need not see (see [`retried`]).
async fn a_corrupted_record_mid_body_is_retried(driver: Driver) {
    retried(driver, FaultKind::CorruptRecord, TransportError::Tls(TlsError::Record)).await;
}

/// A `kind` fault, which `driver` sees as `error`: on the first attempt of every third range
/// (the first among them), through a stream and into a file, retried; then on every attempt
/// of range [`DOOMED`] of a download into a file, which fails (and a resume completes).
async fn retried(driver: Driver, kind: FaultKind, error: TransportError) {
    let site = Site::new(&format!("{kind:?}"));
    let faulty = |r: &Request| r.range.as_ref().is_some_and(|r| (r.start / CHUNK).is_multiple_of(3));
    for into in [Into::Stream, Into::File] {
        let server = site.serve(move |r| (r.attempt == 1 && faulty(r)).then_some(fault(kind)));
        let summary = site.fetch(driver, &server, into).await.unwrap_or_else(|e| panic!("{into:?}: {e:?}"));
        let faults = (0..RANGES).filter(|i| i.is_multiple_of(3)).count() as u64;
        assert_eq!((summary.ranges, summary.retries), (RANGES, faults), "{into:?}: {summary:?}");
        assert_eq!(server.requests().len() as u64, RANGES + faults, "{into:?}: {:?}", server.requests());
    }
    // Every attempt of this download (into a file); a resume's is fine.
    let doomed = range(DOOMED);
    let server = site.serve(move |r| (r.attempt <= ATTEMPTS && is(r, doomed)).then_some(fault(kind)));
    let started = Instant::now();
    let failed = site.fetch(driver, &server, Into::File).await.unwrap_err();
    let GetError::Download(DownloadError::RetriesExhausted { range, attempts, last }) = &failed else {
        panic!("expected the attempts to fail, got {failed:?}")
    };
    assert_eq!((*range, *attempts, *last), (Some(doomed), ATTEMPTS, Failure::Transport(error)));
    assert_eq!(server.attempts(doomed.start..doomed.end), ATTEMPTS as usize);
    assert!(started.elapsed() < Duration::from_secs(8), "took {:?}", started.elapsed());
    site.resumes(driver, &server).await;
}

/// A scenario's object, certificate and destination directory.
struct Site {
    /// The CA the drivers trust, which signs each server's certificate.
    pki: Pki,
    /// The object.
    data: Vec<u8>,
    /// Where downloads into a file go; removed on drop.
    dir: PathBuf,
}

impl Site {
    /// A fresh CA, object and directory, `name`d.
    fn new(name: &str) -> Site {
        Site {
            pki: Pki::new(name),
            data: random(SIZE, name.len() as u64),
            dir: temp_dir(&format!("tls-faults-{name}")),
        }
    }

    /// A server of the object for `localhost`, faulting as `faults` says.
    fn serve(&self, faults: impl Fn(&Request) -> Option<Fault> + Send + Sync + 'static) -> TlsServer {
        TlsServer::start(&self.pki.leaf(&["localhost"]), self.data.clone(), faults)
    }

    /// Where a download into a file goes.
    fn path(&self) -> PathBuf {
        self.dir.join("object.bin")
    }

    /// Downloads the object from `server` through `driver`, consumed `into`, checking that
    /// the bytes are the object's if it succeeds, and, into a file, that the file does not
    /// exist if it fails while its `.part` does.
    async fn fetch(&self, driver: Driver, server: &TlsServer, into: Into) -> Result<Summary, GetError> {
        let (url, tls, path) = (server.url(), cacert(&self.pki), self.path());
        let fetch =
            Fetch { url: &url, config: config(ATTEMPTS, Duration::from_millis(20)), timeouts: QUICK, tls: Some(&tls) };
        match into {
            Into::Stream => {
                let got = fetch.run(driver, Into::Stream).await?;
                assert!(got.bytes == self.data, "{} bytes, not the object's {}", got.bytes.len(), self.data.len());
                Ok(got.summary)
            }
            _ => match fetch.to_file(driver, &path, false).await {
                Ok(summary) => {
                    assert!(std::fs::read(&path).unwrap() == self.data, "the file is not the object");
                    std::fs::remove_file(&path).unwrap();
                    Ok(summary)
                }
                Err(error) => {
                    assert!(!path.exists(), "a failed download left {}", path.display());
                    assert!(part(&path).exists(), "a failed download left no {}", part(&path).display());
                    Err(error)
                }
            },
        }
    }

    /// Resumes the interrupted download into [`Site::path`] from `server` (which answers
    /// correctly now): byte-exact, whatever had landed not fetched again.
    async fn resumes(&self, driver: Driver, server: &TlsServer) {
        let (url, tls, path) = (server.url(), cacert(&self.pki), self.path());
        let fetch =
            Fetch { url: &url, config: config(ATTEMPTS, Duration::from_millis(20)), timeouts: QUICK, tls: Some(&tls) };
        let summary = fetch.to_file(driver, &path, true).await.unwrap();
        assert_eq!(summary.resumed + summary.bytes, SIZE as u64, "{summary:?}");
        assert!(std::fs::read(&path).unwrap() == self.data, "the resumed file is not the object");
        assert!(!part(&path).exists());
        std::fs::remove_file(&path).unwrap();
    }
}

impl Drop for Site {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// A fault of `kind` some way into a range's body, not at a record's boundary.
fn fault(kind: FaultKind) -> Fault {
    Fault { kind, after: 100_003 }
}

/// The `index`th range of the object.
fn range(index: u64) -> ByteRange {
    ByteRange { start: index * CHUNK, end: ((index + 1) * CHUNK).min(SIZE as u64) }
}

/// Whether `request` asks for `range`.
fn is(request: &Request, range: ByteRange) -> bool {
    request.range == Some(range.start..range.end)
}

/// The `.part` a download into `path` writes.
fn part(path: &Path) -> PathBuf {
    path.with_extension("bin.part")
}

/// A read timeout short enough for a stall to cost about a second.
const QUICK: Timeouts = Timeouts { connect: Duration::from_secs(5), read: Duration::from_secs(1) };

/// Trusts `pki`'s CA only.
fn cacert(pki: &Pki) -> TlsConfig {
    TlsConfig::new(&TlsOptions { cacert: Some(pki.ca_file()), insecure: false }).unwrap()
}
