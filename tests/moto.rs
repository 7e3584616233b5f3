//! A real S3 implementation to test against: moto's server, run by the conformance Python.
//!
//! [`Moto::start`] runs moto's server (`conformance/s3_moto.py serve`) on a free loopback
//! port; [`Moto::put`] puts objects with boto3 (`s3_moto.py put`) and returns presigned GET URLs
//! of them; [`Moto::requests`] is what the server logged having answered. Dropping it kills the
//! server.
//!
//! moto checks no signature and no expiry: the bucket's policy (see the script) has it refuse a
//! HEAD, as S3 refuses one to a URL signed for GET, and every GET of a key under `refused/`, as
//! S3 refuses a URL past its expiry (403).

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use crate::{MOTO, python_with};

/// How long moto may take to start (it imports Flask and every mocked service).
const START: Duration = Duration::from_secs(60);

/// A running moto server. Killed on drop; it also ends by itself once its stdin closes, so it
/// does not outlive a test process that is killed.
#[derive(Debug)]
pub struct Moto {
    /// The server (its stdin is the pipe whose end it waits for).
    child: Child,
    python: String,
    endpoint: String,
    log: Arc<Log>,
    /// Where the objects to put are written for the script (removed on drop).
    dir: PathBuf,
    /// Numbers the files in `dir` and the [`Moto::requests`] markers.
    counter: AtomicU64,
}

/// A request moto answered, as its log line says.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Request {
    /// `GET`, `HEAD`, `PUT`, …
    pub method: String,
    /// The path, query cut off (as logged: percent-decoded).
    pub path: String,
    /// The status answered.
    pub status: u16,
}

/// What moto wrote to stderr, line by line, as a thread reads it.
#[derive(Debug, Default)]
struct Log {
    lines: Mutex<Vec<String>>,
    grew: Condvar,
}

impl Log {
    /// Waits until a line satisfies `found` (or `timeout` passes); returns what `found` made of it.
    fn wait_for<T>(&self, timeout: Duration, mut found: impl FnMut(&str) -> Option<T>) -> Option<T> {
        let deadline = Instant::now() + timeout;
        let mut lines = self.lines.lock().unwrap();
        let mut seen = 0;
        loop {
            if let Some(hit) = lines[seen..].iter().find_map(|line| found(line)) {
                return Some(hit);
            }
            seen = lines.len();
            let left = deadline.checked_duration_since(Instant::now())?;
            lines = self.grew.wait_timeout(lines, left).unwrap().0;
        }
    }
}

impl Moto {
    /// Starts moto's server on a free port of 127.0.0.1 and waits until it answers. `None`,
    /// after printing how to run the test (`cargo test {run}`), where no Python has moto.
    pub fn start(run: &str) -> Option<Moto> {
        let python = python_with(MOTO, run)?;
        let mut child = Command::new(&python)
            .arg(script())
            .arg("serve")
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("python runs");
        let log = Arc::new(Log::default());
        let stderr = child.stderr.take().expect("stderr is piped");
        let reader = Arc::clone(&log);
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines() {
                let Ok(line) = line else { break };
                reader.lines.lock().unwrap().push(strip_ansi(&line));
                reader.grew.notify_all();
            }
        });
        // Port 0: the system picks a free port, and werkzeug says which once it listens.
        let port: Option<u16> =
            log.wait_for(START, |line| line.split("Running on http://127.0.0.1:").nth(1)?.trim().parse().ok());
        let Some(port) = port else {
            let _ = child.kill();
            let _ = child.wait();
            panic!("moto did not start within {START:?}: {:?}", log.lines.lock().unwrap());
        };
        let endpoint = format!("http://127.0.0.1:{port}");
        let dir = std::env::temp_dir().join(format!("stowage-moto-{}-{port}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let moto = Moto { child, python, endpoint, log, dir, counter: AtomicU64::new(0) };
        moto.http("GET", "/", &[]);
        Some(moto)
    }

    /// `http://127.0.0.1:port`.
    pub fn endpoint(&self) -> &str {
        &self.endpoint
    }

    /// Puts `objects` (key, bytes) into `bucket` (created if it does not exist) and returns a
    /// presigned GET URL (SigV4) of each, in order.
    pub fn put(&self, bucket: &str, objects: &[(&str, &[u8])]) -> Vec<String> {
        let mut args = vec![self.endpoint.clone(), bucket.to_owned()];
        let mut files = Vec::new();
        for (key, bytes) in objects {
            let file = self.dir.join(self.counter.fetch_add(1, Ordering::Relaxed).to_string());
            std::fs::write(&file, bytes).unwrap();
            args.push(format!("{key}={}", file.display()));
            files.push(file);
        }
        let out = Command::new(&self.python).arg(script()).arg("put").args(&args).output().expect("python runs");
        for file in files {
            let _ = std::fs::remove_file(file);
        }
        assert!(out.status.success(), "s3_moto.py failed: {}", String::from_utf8_lossy(&out.stderr));
        let urls: Vec<String> = String::from_utf8(out.stdout).unwrap().lines().map(str::to_owned).collect();
        assert_eq!(urls.len(), objects.len(), "one URL per object");
        urls
    }

    /// Sends `method path` with `headers` (no body) and returns the response's head as text
    /// (status line and headers). For what the tests ask of the server beside the download.
    pub fn http(&self, method: &str, target: &str, headers: &[(&str, &str)]) -> String {
        let authority = self.endpoint.trim_start_matches("http://");
        let mut stream = TcpStream::connect(authority).unwrap();
        stream.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
        let mut request = format!("{method} {target} HTTP/1.1\r\nhost: {authority}\r\nconnection: close\r\n");
        for (name, value) in headers {
            request.push_str(&format!("{name}: {value}\r\n"));
        }
        request.push_str("\r\n");
        stream.write_all(request.as_bytes()).unwrap();
        let mut response = Vec::new();
        // moto closes the connection after each answer.
        let _ = stream.read_to_end(&mut response);
        let text = String::from_utf8_lossy(&response);
        text.split("\r\n\r\n").next().unwrap_or_default().to_owned()
    }

    /// The requests moto answered so far, in the order it answered them, every one sent before
    /// this call included (a marker request is sent and waited for in the log).
    pub fn requests(&self) -> Vec<Request> {
        let marker = format!("/stowage-marker-{}", self.counter.fetch_add(1, Ordering::Relaxed));
        self.http("GET", &marker, &[]);
        let logged =
            self.log.wait_for(Duration::from_secs(30), |line| parse_request(line).filter(|r| r.path == marker));
        assert!(logged.is_some(), "moto did not log {marker}");
        let lines = self.log.lines.lock().unwrap();
        lines
            .iter()
            .filter_map(|line| parse_request(line))
            .filter(|r| !r.path.starts_with("/stowage-marker-"))
            .collect()
    }
}

/// The script that runs and fills the server.
fn script() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("conformance/s3_moto.py")
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// A werkzeug access-log line, `127.0.0.1 - - [date] "GET /path?query HTTP/1.1" 206 -` (ANSI
/// colours stripped), as a [`Request`]; `None` for any other line.
fn parse_request(line: &str) -> Option<Request> {
    let (_, rest) = line.split_once("] \"")?;
    let (request, rest) = rest.split_once("\" ")?;
    let (method, target) = request.split_once(' ')?;
    let (target, _version) = target.rsplit_once(' ')?;
    let path = target.split('?').next()?.to_owned();
    let status = rest.split(' ').next()?.parse().ok()?;
    Some(Request { method: method.to_owned(), path, status })
}

/// `line` without ANSI escape sequences (werkzeug colours its log even into a pipe).
fn strip_ansi(line: &str) -> String {
    let mut out = String::with_capacity(line.len());
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            // ESC [ parameters… final letter
            for c in chars.by_ref() {
                if c.is_ascii_alphabetic() {
                    break;
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}
