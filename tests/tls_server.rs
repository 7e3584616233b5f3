//! An HTTPS server of our own that misbehaves where asked: what nginx will not do.
//!
//! [`TlsServer::start`] serves one object, at every path, with `Range` support (`bytes=a-b`
//! and `bytes=a-`: a `206` with its `Content-Range`; a `416` past the end; a `200` with the
//! whole object without `Range`), over TLS with a certificate of the test's own
//! ([`Pki::leaf`](crate::nginx::Pki::leaf)), keeping connections alive between requests. It
//! drives rustls's [`ServerConnection`] itself over a plain TCP stream, so it controls every
//! byte of ciphertext: a [`Fault`], chosen per request by the test (from the range asked for
//! and how many times it was asked for), sends the first bytes of the body and then cuts the
//! next record short, closes without `close_notify`, corrupts the next record or stalls
//! ([`FaultKind`]). A faulty response is the connection's last. Every request is logged
//! ([`TlsServer::requests`]). Dropping the server stops it and closes every connection.

use std::io::{self, Read};
use std::ops::Range;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::{ServerConfig, ServerConnection};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::runtime::Runtime;

use crate::nginx::Leaf;

/// The most plaintext one TLS record carries: a body is sent a record per this many bytes.
const RECORD: usize = 16 * 1024;
/// How long a stalled connection (or one sent a corrupted record) is held open at most,
/// waiting for the client to hang up.
const HOLD: Duration = Duration::from_secs(30);
/// The longest request head read.
const MAX_HEAD: usize = 64 * 1024;

/// How a response goes wrong once [`Fault::after`] bytes of its body are sent.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FaultKind {
    /// The first half of the next record's ciphertext, then the connection closed: a record
    /// cut short.
    CutRecord,
    /// The connection closed without `close_notify`: the body truncated.
    Truncate,
    /// As [`FaultKind::Truncate`], in a response without `Content-Length` (`Connection:
    /// close`: its body ends with the connection, cleanly only after `close_notify`).
    TruncateUntilClose,
    /// The next record with the last byte of its ciphertext flipped: its AEAD tag fails.
    CorruptRecord,
    /// Nothing more: the connection held open, silent, until the client hangs up.
    Stall,
}

/// What goes wrong in one response, and where.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Fault {
    /// What goes wrong.
    pub kind: FaultKind,
    /// The body bytes sent first, intact (at most the body's length: then the fault comes
    /// once the body is complete).
    pub after: usize,
}

/// One request the server answered.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Request {
    /// The bytes its `Range` asked for (the end clamped to the object's; empty past the
    /// end), or `None` for the whole object (no `Range`, or one that is not `bytes=a-b` or
    /// `bytes=a-`).
    pub range: Option<Range<u64>>,
    /// The requests for the same bytes so far, this one included: 1 for the first attempt.
    pub attempt: u32,
}

/// Which requests go wrong, and how: asked once per request, before it is answered.
type Faults = dyn Fn(&Request) -> Option<Fault> + Send + Sync;

/// What every connection shares.
struct Shared {
    /// The object served.
    object: Vec<u8>,
    /// Which requests go wrong.
    faults: Box<Faults>,
    /// Every request so far, in order.
    requests: Mutex<Vec<Request>>,
}

impl Shared {
    /// Logs a request for `range`, with its attempt number.
    fn record(&self, range: Option<Range<u64>>) -> Request {
        let mut requests = self.requests.lock().unwrap_or_else(PoisonError::into_inner);
        let before = requests.iter().filter(|r| r.range == range).count();
        let request = Request { range, attempt: u32::try_from(before).unwrap_or(u32::MAX) + 1 };
        requests.push(request.clone());
        request
    }
}

/// A running server on a free port of 127.0.0.1; stopped on drop.
pub struct TlsServer {
    /// The port it listens on.
    port: u16,
    /// The object, the faults and the log.
    shared: Arc<Shared>,
    /// Runs the listener and the connections; `None` once shut down.
    runtime: Option<Runtime>,
}

impl TlsServer {
    /// Serves `object` over TLS with `leaf`'s certificate and key, answering each request as
    /// `faults` says (`None`: correctly). The server runs on a runtime of its own, so it may
    /// be started, used and dropped from anywhere (a test's runtime, or a thread blocked on
    /// io_uring).
    pub fn start(
        leaf: &Leaf,
        object: Vec<u8>,
        faults: impl Fn(&Request) -> Option<Fault> + Send + Sync + 'static,
    ) -> TlsServer {
        let config = Arc::new(server_config(leaf));
        let shared = Arc::new(Shared { object, faults: Box::new(faults), requests: Mutex::default() });
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let port = listener.local_addr().unwrap().port();
        let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build().unwrap();
        let accepting = Arc::clone(&shared);
        runtime.spawn(async move {
            let listener = TcpListener::from_std(listener).unwrap();
            while let Ok((stream, _)) = listener.accept().await {
                let connection = ServerConnection::new(Arc::clone(&config)).unwrap();
                let shared = Arc::clone(&accepting);
                // A connection that fails (the client hung up mid-handshake, say) just ends.
                tokio::spawn(async move { Connection::new(stream, connection).serve(&shared).await });
            }
        });
        TlsServer { port, shared, runtime: Some(runtime) }
    }

    /// The object's URL: `https://localhost:PORT/object.bin`.
    pub fn url(&self) -> String {
        format!("https://localhost:{}/object.bin", self.port)
    }

    /// Every request answered so far, in order.
    pub fn requests(&self) -> Vec<Request> {
        self.shared.requests.lock().unwrap_or_else(PoisonError::into_inner).clone()
    }

    /// How many requests asked for the bytes `range`.
    pub fn attempts(&self, range: Range<u64>) -> usize {
        self.requests().iter().filter(|r| r.range.as_ref() == Some(&range)).count()
    }
}

impl Drop for TlsServer {
    fn drop(&mut self) {
        if let Some(runtime) = self.runtime.take() {
            runtime.shutdown_background();
        }
    }
}

impl std::fmt::Debug for TlsServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TlsServer").field("port", &self.port).finish_non_exhaustive()
    }
}

/// TLS 1.2 and 1.3 through ring, presenting `leaf`.
fn server_config(leaf: &Leaf) -> ServerConfig {
    let chain = CertificateDer::pem_file_iter(&leaf.chain).unwrap().collect::<Result<Vec<_>, _>>().unwrap();
    let key = PrivateKeyDer::from_pem_file(&leaf.key).unwrap();
    ServerConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(chain, key)
        .unwrap()
}

/// One client's connection: the socket, the TLS state over it and the plaintext received.
struct Connection {
    /// The socket: ciphertext both ways.
    stream: TcpStream,
    /// rustls's server state, fed and drained by hand.
    tls: ServerConnection,
    /// Plaintext received, not yet taken as a request.
    received: Vec<u8>,
}

impl Connection {
    /// A connection accepted on `stream`, its handshake still to come (with `tls`).
    fn new(stream: TcpStream, tls: ServerConnection) -> Self {
        Connection { stream, tls, received: Vec::new() }
    }

    /// Answers requests until the client hangs up, a response is faulty, or IO fails.
    async fn serve(mut self, shared: &Shared) -> io::Result<()> {
        while let Some(head) = self.request_head().await? {
            let request = shared.record(range(&head, shared.object.len() as u64));
            let fault = (shared.faults)(&request);
            let framed = fault.is_none_or(|fault| fault.kind != FaultKind::TruncateUntilClose);
            let (head, body) = answer(request.range, &shared.object, framed);
            self.send(head.as_bytes()).await?;
            let Some(fault) = fault else {
                for record in body.chunks(RECORD) {
                    self.send(record).await?;
                }
                continue;
            };
            let (intact, rest) = body.split_at(fault.after.min(body.len()));
            for record in intact.chunks(RECORD) {
                self.send(record).await?;
            }
            let next = &rest[..rest.len().min(RECORD)];
            return self.misbehave(fault.kind, next).await;
        }
        Ok(())
    }

    /// Does what `kind` says instead of sending `next`, the body's next record, and ends
    /// the connection.
    async fn misbehave(mut self, kind: FaultKind, next: &[u8]) -> io::Result<()> {
        match kind {
            FaultKind::CutRecord => {
                let sealed = self.seal(next)?;
                self.stream.write_all(&sealed[..sealed.len() / 2]).await?;
                self.stream.shutdown().await
            }
            FaultKind::Truncate | FaultKind::TruncateUntilClose => self.stream.shutdown().await,
            FaultKind::CorruptRecord => {
                let mut sealed = self.seal(next)?;
                if let Some(last) = sealed.last_mut() {
                    *last ^= 0x01;
                }
                self.stream.write_all(&sealed).await?;
                self.hold().await
            }
            FaultKind::Stall => self.hold().await,
        }
    }

    /// Waits, sending nothing, until the client hangs up (or [`HOLD`] passes).
    async fn hold(&mut self) -> io::Result<()> {
        let mut discard = [0; 4096];
        let drained = async {
            while self.stream.read(&mut discard).await? > 0 {}
            Ok(())
        };
        tokio::time::timeout(HOLD, drained).await.unwrap_or(Ok(()))
    }

    /// The next request's head (up to its blank line), or `None` once the client has hung up.
    async fn request_head(&mut self) -> io::Result<Option<String>> {
        loop {
            if let Some(end) = self.received.windows(4).position(|w| w == b"\r\n\r\n") {
                let head = self.received.drain(..end + 4).collect::<Vec<_>>();
                return Ok(Some(String::from_utf8_lossy(&head).into_owned()));
            }
            if self.received.len() > MAX_HEAD || !self.receive().await? {
                return Ok(None);
            }
        }
    }

    /// Receives more plaintext into `received` (sending what the handshake needs on the
    /// way); `false` once the client has hung up, with or without `close_notify`.
    async fn receive(&mut self) -> io::Result<bool> {
        let mut plain = [0; 4096];
        let mut cipher = vec![0; 2 * RECORD];
        loop {
            self.flush().await?;
            match self.tls.reader().read(&mut plain) {
                Ok(0) => return Ok(false),
                Ok(n) => {
                    self.received.extend_from_slice(&plain[..n]);
                    return Ok(true);
                }
                Err(error) if error.kind() == io::ErrorKind::WouldBlock => {}
                Err(error) if error.kind() == io::ErrorKind::UnexpectedEof => return Ok(false),
                Err(error) => return Err(error),
            }
            let n = self.stream.read(&mut cipher).await?;
            if n == 0 {
                return Ok(false);
            }
            let mut rest = &cipher[..n];
            while !rest.is_empty() {
                self.tls.read_tls(&mut rest)?;
                self.tls.process_new_packets().map_err(io::Error::other)?;
            }
        }
    }

    /// Sends `plain` (at most a record's worth: then one record) intact.
    async fn send(&mut self, plain: &[u8]) -> io::Result<()> {
        let sealed = self.seal(plain)?;
        self.stream.write_all(&sealed).await
    }

    /// `plain` encrypted, with whatever TLS data was queued before it, as the bytes to send.
    fn seal(&mut self, plain: &[u8]) -> io::Result<Vec<u8>> {
        io::Write::write_all(&mut self.tls.writer(), plain)?;
        let mut sealed = Vec::new();
        while self.tls.wants_write() {
            self.tls.write_tls(&mut sealed)?;
        }
        Ok(sealed)
    }

    /// Sends the TLS data queued (handshake messages, alerts).
    async fn flush(&mut self) -> io::Result<()> {
        let queued = self.seal(&[])?;
        self.stream.write_all(&queued).await
    }
}

/// The response to a request for `range` of `object` (`None`: all of it): its head, and its
/// body; `framed`: with its `Content-Length`, else with `Connection: close`.
fn answer(range: Option<Range<u64>>, object: &[u8], framed: bool) -> (String, &[u8]) {
    let size = object.len() as u64;
    let (status, body) = match range {
        None => ("200 OK".to_owned(), object),
        Some(range) if range.start >= size => {
            (format!("416 Range Not Satisfiable\r\nContent-Range: bytes */{size}"), &[][..])
        }
        Some(range) => (
            format!("206 Partial Content\r\nContent-Range: bytes {}-{}/{size}", range.start, range.end - 1),
            &object[range.start as usize..range.end as usize],
        ),
    };
    let end = if framed { format!("Content-Length: {}", body.len()) } else { "Connection: close".to_owned() };
    (format!("HTTP/1.1 {status}\r\nAccept-Ranges: bytes\r\n{end}\r\n\r\n"), body)
}

/// The bytes a request's `Range` asks for, clamped to an object of `size` bytes; `None`
/// without a `Range` the server understands.
fn range(head: &str, size: u64) -> Option<Range<u64>> {
    let value = head.lines().skip(1).find_map(|line| {
        let (name, value) = line.split_once(':')?;
        name.trim().eq_ignore_ascii_case("range").then_some(value.trim())
    })?;
    let (first, last) = value.strip_prefix("bytes=")?.split_once('-')?;
    let start: u64 = first.parse().ok()?;
    let end = match last {
        "" => size,
        last => last.parse::<u64>().ok().filter(|&last| last >= start)?.saturating_add(1).min(size),
    };
    Some(start..end.max(start))
}
