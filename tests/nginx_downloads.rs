//! Downloads from a real nginx that redirects, ignores `Range` or refuses `HEAD`, through each
//! driver, byte-exact, consumed every way (in order, whole, into a file):
//!
//! - `return 307` to another listener (another port, over https) and a relative `Location` (the
//!   same listener): the redirect is paid once per download — nginx logs one `307`, and every
//!   range then goes to where it pointed; a `307` to itself is `RedirectError::Loop` and two
//!   locations redirecting to each other `RedirectError::TooManyHops`, each after the hops it
//!   takes and no retry.
//! - `max_ranges 0` (nginx then answers a `Range` request `200` with the whole body), over http
//!   and https: the download falls back to one stream (`Summary::one_stream`); the same where
//!   nginx also refuses `HEAD` (the download sends none; a download told to size the object with
//!   a `HEAD` first fails with the status, unretried).
//!
//! Without nginx the tests are skipped, saying how to install it.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use stowage_proto::redirect::{DEFAULT_MAX_HOPS, RedirectError};
use stowage_ringslot::transfer::GetError;
use stowage_ringslot::{Config, DownloadError};
use stowage_tests::fetch::{CHUNK, EVERY_WAY, Fetch, Got, Into, PATIENT, SIZE, assert_exact};
use stowage_tests::nginx::{Nginx, Pki, Serve, Site, temp_dir};
use stowage_tests::object::random;
use stowage_tests::{Driver, with_each_driver};
use stowage_tls::{TlsConfig, TlsOptions};

/// How to run these tests (for the message when they are skipped).
const RUN: &str = "-p stowage-tests --test nginx_downloads";
/// The object's ranges.
const RANGES: usize = SIZE.div_ceil(CHUNK as usize);

/// The sites nginx runs: the first two over https, the third over plain http.
const REDIRECTING: usize = 0;
const TARGET: usize = 1;
const PLAIN: usize = 2;

/// 4 workers, 256 KiB ranges, 3 quick attempts, no hedging.
fn config() -> Config {
    stowage_tests::fetch::config(3, Duration::from_millis(20))
}

/// What the first two sites add to the files of `root` (`root/files/object.bin`): redirects,
/// a location that ignores `Range` and one that also refuses `HEAD`.
fn locations(root: &Path) -> String {
    let files = root.join("files");
    let files = files.display();
    [
        // To the other https listener, by address: another origin.
        format!("location ~ ^/redirect/(.*)$ {{ return 307 https://127.0.0.1:{{port:{TARGET}}}/files/$1; }}"),
        // `Location: /files/…`, resolved against the URL asked for.
        "location ~ ^/relative/(.*)$ { absolute_redirect off; return 307 /files/$1; }".to_owned(),
        "location /loop/ { absolute_redirect off; return 307 $uri; }".to_owned(),
        "location ~ ^/ping/(.*)$ { absolute_redirect off; return 307 /pong/$1; }".to_owned(),
        "location ~ ^/pong/(.*)$ { absolute_redirect off; return 307 /ping/$1; }".to_owned(),
        // nginx answers a `Range` request 200 with the whole body.
        format!("location /whole/ {{ alias {files}/; max_ranges 0; }}"),
        format!("location /nohead/ {{ alias {files}/; max_ranges 0; if ($request_method = HEAD) {{ return 405; }} }}"),
    ]
    .join("\n    ")
}

/// nginx with `data` as `/files/object.bin` on three sites (see [`REDIRECTING`]), and the PKI
/// whose CA signed their certificate (for `localhost` and `127.0.0.1`).
fn nginx(data: &[u8]) -> Option<(Nginx, Pki, PathBuf)> {
    let root = temp_dir("www");
    std::fs::create_dir_all(root.join("files")).unwrap();
    std::fs::write(root.join("files/object.bin"), data).unwrap();
    let pki = Pki::new("nginx-downloads");
    let leaf = pki.leaf(&["localhost", "127.0.0.1"]);
    let with = || Serve::FilesWith { root: root.clone(), directives: locations(&root) };
    let sites = [Site::https(leaf.clone(), with()), Site::https(leaf, Serve::Files(root.clone())), Site::http(with())];
    let nginx = Nginx::start(RUN, &sites)?;
    Some((nginx, pki, root))
}

fn cacert(pki: &Pki) -> TlsConfig {
    TlsConfig::new(&TlsOptions { cacert: Some(pki.ca_file()), insecure: false }).unwrap()
}

/// Downloads `url` through `driver` with `tls` and `config`, consumed `into`.
async fn fetch(driver: Driver, url: &str, tls: &TlsConfig, into: Into, config: Config) -> Result<Got, GetError> {
    Fetch { url, config, timeouts: PATIENT, tls: Some(tls) }.run(driver, into).await
}

/// nginx's log lines after the `skip` first, each `METHOD URI STATUS BYTES PORT`, once there
/// are at least `want` (nginx logs a request after its last byte is sent, so the client may have
/// it first), or all there are after a few seconds.
fn logged_since(nginx: &Nginx, skip: usize, want: usize) -> Vec<String> {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let lines: Vec<String> = nginx.requests().into_iter().skip(skip).collect();
        if lines.len() >= want || Instant::now() > deadline {
            return lines;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// How many of `lines` start with `prefix` and were answered on `port`.
fn count(lines: &[String], prefix: &str, port: u16) -> usize {
    lines.iter().filter(|line| line.starts_with(prefix) && line.ends_with(&format!(" {port}"))).count()
}

/// The redirect error a download ended with.
fn redirect_error(error: GetError) -> RedirectError {
    match error {
        GetError::Download(DownloadError::Redirect { error, .. }) => error,
        other => panic!("expected a redirect that cannot be followed, got {other:?}"),
    }
}

with_each_driver!(
    a_redirect_to_another_port_is_paid_once,
    a_relative_redirect_is_followed,
    a_redirect_loop_is_a_typed_error,
    a_server_that_ignores_range_is_read_as_one_stream,
    a_server_that_refuses_head_and_ignores_range_is_read_as_one_stream,
);

/// `https://localhost:A/redirect/object.bin` → `307 https://127.0.0.1:B/files/object.bin`: one
/// 307 per download, then every range from B.
async fn a_redirect_to_another_port_is_paid_once(driver: Driver) {
    let data = random(SIZE, 1);
    let Some((nginx, pki, _root)) = nginx(&data) else { return };
    let tls = cacert(&pki);
    let url = format!("{}/redirect/object.bin", nginx.url(REDIRECTING));
    for into in EVERY_WAY {
        let before = nginx.requests().len();
        let Got { bytes, summary } = fetch(driver, &url, &tls, into, config()).await.unwrap();
        assert_exact(driver, into, &bytes, &data);
        assert_eq!((summary.redirects, summary.one_stream), (1, false), "{into:?}: {summary:?}");
        let log = logged_since(&nginx, before, 1 + RANGES);
        let (from, to) = (nginx.port(REDIRECTING), nginx.port(TARGET));
        assert_eq!(count(&log, "GET /redirect/object.bin 307", from), 1, "{into:?}: {log:#?}");
        // The first range asked again there, then the others: each once (no hedges, no retries).
        assert_eq!(count(&log, "GET /files/object.bin 206", to), RANGES, "{into:?}: {log:#?}");
        assert_eq!(log.len(), 1 + RANGES, "{into:?}: {log:#?}");
    }
}

/// `Location: /files/object.bin`, relative: resolved against the URL asked for (the same
/// listener), over https and over http.
async fn a_relative_redirect_is_followed(driver: Driver) {
    let data = random(SIZE, 2);
    let Some((nginx, pki, _root)) = nginx(&data) else { return };
    let tls = cacert(&pki);
    for site in [REDIRECTING, PLAIN] {
        let url = format!("{}/relative/object.bin", nginx.url(site));
        for into in EVERY_WAY {
            let before = nginx.requests().len();
            let Got { bytes, summary } = fetch(driver, &url, &tls, into, config()).await.unwrap();
            assert_exact(driver, into, &bytes, &data);
            assert_eq!(summary.redirects, 1, "{into:?}: {summary:?}");
            let log = logged_since(&nginx, before, 1 + RANGES);
            let port = nginx.port(site);
            assert_eq!(count(&log, "GET /relative/object.bin 307", port), 1, "{into:?}: {log:#?}");
            assert_eq!(count(&log, "GET /files/object.bin 206", port), RANGES, "{into:?}: {log:#?}");
        }
    }
}

/// A 307 to itself ends the download at once (`Loop`, one request); two locations redirecting
/// to each other after [`DEFAULT_MAX_HOPS`] hops (`TooManyHops`); neither is retried.
async fn a_redirect_loop_is_a_typed_error(driver: Driver) {
    let Some((nginx, pki, _root)) = nginx(&random(1000, 3)) else { return };
    let tls = cacert(&pki);
    for site in [REDIRECTING, PLAIN] {
        for into in EVERY_WAY {
            let before = nginx.requests().len();
            let url = format!("{}/loop/object.bin", nginx.url(site));
            let error = fetch(driver, &url, &tls, into, config()).await.unwrap_err();
            assert_eq!(redirect_error(error), RedirectError::Loop, "{into:?}");
            let log = logged_since(&nginx, before, 1);
            assert_eq!(log.len(), 1, "{into:?}: {log:#?}");

            let before = nginx.requests().len();
            let url = format!("{}/ping/object.bin", nginx.url(site));
            let error = fetch(driver, &url, &tls, into, config()).await.unwrap_err();
            assert_eq!(redirect_error(error), RedirectError::TooManyHops, "{into:?}");
            // The request, then one per hop followed.
            let hops = usize::try_from(DEFAULT_MAX_HOPS).unwrap();
            let log = logged_since(&nginx, before, 1 + hops);
            assert_eq!(log.len(), 1 + hops, "{into:?}: {log:#?}");
            assert!(log.iter().all(|line| line.contains(" 307 ")), "{into:?}: {log:#?}");
        }
    }
}

/// nginx with `max_ranges 0` answers the first range `200` with the whole object: read as one
/// stream, one request, over https and http.
async fn a_server_that_ignores_range_is_read_as_one_stream(driver: Driver) {
    let data = random(SIZE, 4);
    let Some((nginx, pki, _root)) = nginx(&data) else { return };
    let tls = cacert(&pki);
    for site in [REDIRECTING, PLAIN] {
        let url = format!("{}/whole/object.bin", nginx.url(site));
        for into in EVERY_WAY {
            let before = nginx.requests().len();
            let Got { bytes, summary } = fetch(driver, &url, &tls, into, config()).await.unwrap();
            assert_exact(driver, into, &bytes, &data);
            assert!(summary.one_stream, "{into:?}: {summary:?}");
            assert_eq!(summary.bytes, SIZE as u64, "{into:?}: {summary:?}");
            // What nginx did: one 200, the whole body.
            let log = logged_since(&nginx, before, 1);
            assert_eq!(log, [format!("GET /whole/object.bin 200 {SIZE} {}", nginx.port(site))], "{into:?}");
        }
    }
}

/// The same where nginx also answers `HEAD` with 405: the download sends no `HEAD`; one told to
/// size the object with a `HEAD` first (`Config::head`) fails with the status, once.
async fn a_server_that_refuses_head_and_ignores_range_is_read_as_one_stream(driver: Driver) {
    let data = random(SIZE, 5);
    let Some((nginx, pki, _root)) = nginx(&data) else { return };
    let tls = cacert(&pki);
    for site in [REDIRECTING, PLAIN] {
        let url = format!("{}/nohead/object.bin", nginx.url(site));
        let port = nginx.port(site);
        for into in EVERY_WAY {
            let before = nginx.requests().len();
            let Got { bytes, summary } = fetch(driver, &url, &tls, into, config()).await.unwrap();
            assert_exact(driver, into, &bytes, &data);
            assert!(summary.one_stream, "{into:?}: {summary:?}");
            let log = logged_since(&nginx, before, 1);
            assert_eq!(log, [format!("GET /nohead/object.bin 200 {SIZE} {port}")], "{into:?}");
        }
        // What the server does with a HEAD, and what a HEAD-first download makes of it.
        let before = nginx.requests().len();
        let head = Config { head: true, ..config() };
        let error = fetch(driver, &url, &tls, Into::File, head).await.unwrap_err();
        assert!(
            matches!(error, GetError::Download(DownloadError::HeadStatus { status: 405 })),
            "expected the HEAD's 405, got {error:?}"
        );
        assert_eq!(logged_since(&nginx, before, 1), [format!("HEAD /nohead/object.bin 405 0 {port}")]);
    }
}
