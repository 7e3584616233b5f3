//! One Keep service: its state and how it answers a request.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::{SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use http::header::{AUTHORIZATION, CONNECTION, CONTENT_LENGTH};
use http::{HeaderValue, Method, Request, Response, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use md5::{Digest, Md5};

use super::config::{KeepClusterConfig, KeepKind, KeepServiceSpec, Scripted};
use super::sign::{SIGNATURE_TTL_SECS, hex, signed_locator};
use super::{Arrival, KeepServiceStats};

/// The largest block a keepstore accepts: 64 MiB.
pub const MAX_BLOCK_BYTES: u64 = 64 << 20;

/// The error a handler returns to make hyper drop the connection unanswered.
#[derive(Debug, thiserror::Error)]
#[error("scripted: connection dropped")]
pub(crate) struct Dropped;

/// What the whole Keep cluster shares: the settings and the arrival log.
#[derive(Debug)]
pub(crate) struct Shared {
    pub(crate) token: Option<String>,
    pub(crate) signing_key: String,
    pub(crate) trust_hashes: bool,
    pub(crate) services: Vec<ServiceState>,
    arrivals: Mutex<Vec<Arrival>>,
}

impl Shared {
    pub(crate) fn new(config: KeepClusterConfig, services: Vec<ServiceState>) -> Self {
        let KeepClusterConfig { token, signing_key, trust_hashes, services: _ } = config;
        Shared { token, signing_key, trust_hashes, services, arrivals: Mutex::new(vec![]) }
    }

    pub(crate) fn arrivals(&self) -> Vec<Arrival> {
        lock(&self.arrivals).clone()
    }
}

/// The state of one service.
#[derive(Debug)]
pub(crate) struct ServiceState {
    pub(crate) spec: KeepServiceSpec,
    puts: AtomicU64,
    in_flight: AtomicU32,
    blocks: Mutex<Blocks>,
    counters: Mutex<KeepServiceStats>,
}

/// What a service holds.
#[derive(Debug, Default)]
struct Blocks {
    /// Replicas stored per block hash (a disk holds at most one; a proxy counts every
    /// replica it reported stored).
    replicas: HashMap<String, u64>,
    /// Bytes held.
    used: u64,
}

impl ServiceState {
    pub(crate) fn new(spec: KeepServiceSpec) -> Self {
        ServiceState {
            spec,
            puts: AtomicU64::new(0),
            in_flight: AtomicU32::new(0),
            blocks: Mutex::new(Blocks::default()),
            counters: Mutex::new(KeepServiceStats::default()),
        }
    }

    pub(crate) fn replicas_of(&self, hash: &str) -> u64 {
        lock(&self.blocks).replicas.get(hash).copied().unwrap_or(0)
    }

    pub(crate) fn stats(&self) -> KeepServiceStats {
        let mut stats = lock(&self.counters).clone();
        let blocks = lock(&self.blocks);
        stats.blocks = blocks.replicas.len() as u64;
        stats.replicas = blocks.replicas.values().sum();
        stats.bytes = blocks.used;
        stats
    }

    fn count(&self, status: StatusCode) {
        let mut counters = lock(&self.counters);
        counters.puts += 1;
        *counters.statuses.entry(status.as_u16()).or_default() += 1;
    }
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    // Every update is complete before the lock is released: a panic elsewhere leaves it
    // consistent.
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Counts a PUT in flight while alive.
struct InFlight<'a>(&'a AtomicU32);

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

type Answer = Result<Response<Full<Bytes>>, Dropped>;

/// Answers one request to service `index`.
pub(crate) async fn handle(shared: &Shared, index: usize, request: Request<Incoming>) -> Answer {
    let Some(service) = shared.services.get(index) else { return Ok(plain(StatusCode::NOT_FOUND, "no such service")) };
    let hash = request.uri().path().trim_start_matches('/').to_owned();
    if request.method() != Method::PUT {
        return Ok(close_unless_success(plain(StatusCode::METHOD_NOT_ALLOWED, "only PUT is served")));
    }
    let attempt = service.puts.fetch_add(1, Ordering::Relaxed);
    lock(&shared.arrivals).push(Arrival { service: index, hash: hash.clone() });
    let scripted = usize::try_from(attempt)
        .ok()
        .and_then(|a| service.spec.script.get(a).copied())
        .or(service.spec.always)
        .unwrap_or(Scripted::Normal);
    tokio::time::sleep(service.spec.latency).await;
    let response = match scripted {
        Scripted::Normal => put(shared, service, &hash, request).await,
        Scripted::DelayMs(ms) => {
            tokio::time::sleep(std::time::Duration::from_millis(ms)).await;
            put(shared, service, &hash, request).await
        }
        Scripted::Status(code) => {
            let status = StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
            plain(status, "scripted failure")
        }
        Scripted::Drop => {
            lock(&service.counters).dropped += 1;
            return Err(Dropped);
        }
    };
    service.count(response.status());
    Ok(close_unless_success(response))
}

/// Closes the connection after an answer that may have left the body unread: a client that
/// sent `Expect: 100-continue` and got a final answer does not send the body, so the
/// connection cannot carry another request (Go's `net/http`, keepstore's server, does the same).
fn close_unless_success(mut response: Response<Full<Bytes>>) -> Response<Full<Bytes>> {
    if !response.status().is_success() {
        response.headers_mut().insert(CONNECTION, HeaderValue::from_static("close"));
    }
    response
}

/// A keepstore's (or keepproxy's) PUT.
async fn put(shared: &Shared, service: &ServiceState, hash: &str, request: Request<Incoming>) -> Response<Full<Bytes>> {
    if hash.len() != 32 || !hash.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)) {
        return plain(StatusCode::BAD_REQUEST, "the path is not an md5 hash");
    }
    if let Some(token) = &shared.token {
        let auth = request.headers().get(AUTHORIZATION).and_then(|v| v.to_str().ok()).unwrap_or_default();
        let given = auth.strip_prefix("Bearer ").or_else(|| auth.strip_prefix("OAuth2 "));
        if given != Some(token.as_str()) {
            return plain(StatusCode::UNAUTHORIZED, "missing or wrong token");
        }
    }
    if service.spec.read_only {
        lock(&service.counters).read_only_writes += 1;
        return plain(StatusCode::FORBIDDEN, "read-only service");
    }
    let Some(size) = request.headers().get(CONTENT_LENGTH).and_then(|v| v.to_str().ok()).and_then(|v| v.parse().ok())
    else {
        return plain(StatusCode::LENGTH_REQUIRED, "Content-Length required");
    };
    if size > MAX_BLOCK_BYTES {
        return plain(StatusCode::PAYLOAD_TOO_LARGE, "blocks are at most 64 MiB");
    }
    let limit = service.spec.max_concurrent.unwrap_or(u32::MAX);
    if service.in_flight.fetch_add(1, Ordering::Relaxed) >= limit {
        service.in_flight.fetch_sub(1, Ordering::Relaxed);
        return plain(StatusCode::SERVICE_UNAVAILABLE, "busy");
    }
    let _in_flight = InFlight(&service.in_flight);
    if let Some(capacity) = service.spec.capacity
        && lock(&service.blocks).used.saturating_add(size) > capacity
    {
        return plain(StatusCode::INSUFFICIENT_STORAGE, "full");
    }
    let desired: u64 = request
        .headers()
        .get("x-keep-desired-replicas")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(1);
    let token = request.headers().get(AUTHORIZATION).and_then(|v| v.to_str().ok()).unwrap_or_default().to_owned();
    // Reading the body is what makes hyper answer `Expect: 100-continue`: a refusal above
    // never asks the client for the body.
    let verify = (!shared.trust_hashes).then(Md5::new);
    let Some(received) = receive(request.into_body(), size, verify).await else {
        return plain(StatusCode::BAD_REQUEST, "body unreadable, or not Content-Length bytes");
    };
    if received.is_some_and(|digest| digest != hash) {
        return plain(StatusCode::BAD_REQUEST, "hash mismatch");
    }
    let replicas = match service.spec.kind {
        KeepKind::Disk => 1,
        KeepKind::Proxy { replicas } => desired.clamp(1, u64::from(replicas)),
    };
    {
        let mut blocks = lock(&service.blocks);
        let held = blocks.replicas.entry(hash.to_owned()).or_default();
        let fresh = *held == 0;
        *held = match service.spec.kind {
            KeepKind::Disk => 1,
            KeepKind::Proxy { .. } => held.saturating_add(replicas),
        };
        if fresh {
            blocks.used = blocks.used.saturating_add(size);
        }
    }
    let expiry = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs()) + SIGNATURE_TTL_SECS;
    let locator = signed_locator(&shared.signing_key, hash, size, &token, expiry);
    let classes: Vec<String> = service.spec.classes.iter().map(|c| format!("{c}={replicas}")).collect();
    let status = if replicas < desired && matches!(service.spec.kind, KeepKind::Proxy { .. }) {
        StatusCode::SERVICE_UNAVAILABLE
    } else {
        StatusCode::OK
    };
    let body = if status == StatusCode::OK { format!("{locator}\n") } else { "stored too few replicas\n".to_owned() };
    let mut response = plain(status, &body);
    let headers = response.headers_mut();
    headers.insert("x-keep-replicas-stored", HeaderValue::from(replicas));
    if let Ok(value) = HeaderValue::from_str(&classes.join(", ")) {
        headers.insert("x-keep-storage-classes-confirmed", value);
    }
    response
}

/// Reads a PUT's body of `size` bytes (its `Content-Length`), hashing each frame as it
/// arrives when `verify` is given: nothing is collected or copied, and the hash is done when
/// the last frame is in. `None` when the body cannot be read or its length is not `size`;
/// otherwise the hex md5 (when verifying).
async fn receive(mut body: Incoming, size: u64, mut verify: Option<Md5>) -> Option<Option<String>> {
    let mut received: u64 = 0;
    while let Some(frame) = body.frame().await {
        let Ok(data) = frame.ok()?.into_data() else { continue };
        received = received.saturating_add(data.len() as u64);
        if received > size {
            return None;
        }
        if let Some(md5) = &mut verify {
            md5.update(&data);
        }
    }
    (received == size).then(|| verify.map(|md5| hex(&md5.finalize().into())))
}

fn plain(status: StatusCode, body: &str) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(Bytes::from(body.trim_end().to_owned() + "\n")));
    *response.status_mut() = status;
    response
}
