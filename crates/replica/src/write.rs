//! The write machine.

use std::collections::BTreeMap;

use bytes::Bytes;
use http::header::{AUTHORIZATION, CONTENT_LENGTH};
use http::{HeaderMap, HeaderName, HeaderValue, Method, Request, Uri};
use stowage_proto::{Clock, Completion, InputError, Instant, Machine, Output, RequestId, RequestIds, Transmit};

use crate::wire::{self, ClassesConfirmed};
use crate::{
    Answer, Block, Classifier, GiveUp, PassSchedule, Service, ServiceKind, ServiceReport, Verdict, WriteOutcome,
    write_order,
};

/// What to write and how persistently: everything but the block and the services.
#[derive(Clone, Debug, PartialEq)]
pub struct WriteConfig {
    /// Copies wanted (`X-Keep-Desired-Replicas`); 0 returns the locator without writing.
    pub wanted: u32,
    /// Storage classes each wanted in `wanted` copies (empty: any class).
    pub classes: Vec<String>,
    /// Passes and the wait between them.
    pub policy: PassSchedule,
    /// Which failures are retryable.
    pub classifier: Classifier,
    /// The API token, sent as `Authorization: Bearer <token>` (none: no header).
    pub token: Option<String>,
    /// `X-Request-Id`, the same on every PUT of the write (see [`request_id`](crate::request_id)).
    pub request_id: String,
}

impl WriteConfig {
    /// `wanted` copies, no classes, the default policy and classifier, no token.
    pub fn new(wanted: u32, request_id: impl Into<String>) -> Self {
        WriteConfig {
            wanted,
            classes: Vec::new(),
            policy: PassSchedule::default(),
            classifier: Classifier::default(),
            token: None,
            request_id: request_id.into(),
        }
    }
}

/// Why a write could not be set up.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum WriteConfigError {
    /// A header would not be a valid header value.
    #[error("{name} is not a valid header value")]
    BadHeader {
        /// Which setting.
        name: &'static str,
    },
    /// A storage class name is empty or holds `,` or `=` (which the headers use as separators).
    #[error("storage class {0:?} is empty or holds ',' or '='")]
    BadClass(String),
    /// A service's block URI could not be formed.
    #[error("service {0}: cannot form the block URI")]
    BadService(String),
    /// `policy.retry.jitter` is set: the machine is handed no seed to draw from.
    #[error("policy.retry.jitter is not supported: passes wait the nominal backoff")]
    Jitter,
}

/// How many PUTs may be in flight at once.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Concurrency {
    /// Every writable service is a `disk`: one replica per PUT, so as many PUTs as copies
    /// (and classes) are still missing.
    AllDisk,
    /// Some writable service may store several replicas per PUT: one PUT at a time.
    OneAtATime,
}

/// Where a service stands for the rest of the write.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Standing {
    /// Not yet tried, or failed retryably: may be tried (once per pass).
    Eligible,
    /// Answered 2xx: never tried again.
    Succeeded,
    /// Failed permanently: never tried again.
    Refused,
}

/// A writable service and what became of it.
#[derive(Clone, Debug)]
struct Target {
    uuid: String,
    uri: Uri,
    standing: Standing,
    tried_this_pass: bool,
    in_flight: Option<RequestId>,
    attempts: u32,
    last: Option<Answer>,
    replicas: u64,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Phase {
    /// Not started: the first `poll_output` starts pass 1.
    Idle,
    /// Pass `number` (1-based), started at `started`.
    Pass { number: u32, started: Instant },
    /// Waiting until `until` to start pass `next`.
    Backoff { next: u32, until: Instant },
    /// The outcome is waiting in `pending`, or was drained.
    Done,
}

/// Writes one block to `wanted` copies across Keep services, as a sans-IO machine: the
/// Arvados Keep client's parallel write (story #9446), without its over-replication.
///
/// Rules:
/// - **Order.** Services are tried in rendezvous order ([`write_order`]: heaviest
///   [`weight`](crate::weight) first, read-only services and gateways left out).
/// - **Concurrency.** If every writable service is a `disk`, a PUT is started only while
///   `in_flight < deficit`, where `deficit` is the copies still missing (or, while storage
///   classes are tracked, the most copies any pending class misses). So with no classes,
///   `confirmed + in_flight ≤ wanted` whenever a PUT starts. Any other service in the set
///   (a proxy stores several replicas per PUT): one PUT at a time.
/// - **Answers.** 2xx counts `X-Keep-Replicas-Stored` replicas (missing or malformed: 1; 0
///   counts nothing and the write goes on) and adds `X-Keep-Storage-Classes-Confirmed` per
///   class; a 2xx without that header turns class tracking off (copies alone decide). Other
///   answers are classified by the [`Classifier`]; a failure frees its slot and the next
///   untried service starts.
/// - **Passes.** A pass tries each eligible service at most once, in order. If it ends short
///   of `wanted`, the next pass (after the policy's wait) keeps the confirmed count and skips
///   services that answered 2xx or failed permanently. A pass that would have no service
///   ends the write at once; so does running out of passes.
/// - **End.** [`WriteOutcome::Stored`] once copies (and tracked classes) are satisfied and no
///   PUT is in flight, else [`WriteOutcome::Failed`]; both list every contacted service in
///   probe order. `wanted == 0` ends at once with `md5+size` and no PUT.
///
/// Invariants (checked by property tests): every service is sent at most one PUT per pass;
/// services are first contacted in write order, so the contacted set is a prefix of it; with
/// all-disk services and no classes, PUTs never start past `wanted` (confirmed copies never
/// exceed `wanted` when each PUT stores at most one replica); with any other service, at most
/// one PUT is in flight; at most [`PassSchedule::max_passes`] passes; nothing is emitted after
/// [`Output::Done`]; time going backwards counts as no time.
///
/// Requests are `PUT <root><md5>` with absolute URIs (each names its service) and carry the
/// block's bytes (shared, not copied), `Content-Length`, `X-Keep-Desired-Replicas`,
/// `X-Request-Id`, `Authorization: Bearer <token>` when a token is set, and
/// `X-Keep-Storage-Classes` while classes are pending. The machine is fed whole responses
/// ([`Completion<Bytes>`]): the body of a 2xx is the signed locator.
///
/// # Example
///
/// Two copies on three disk services; the first answers 503 (retryable under the default
/// classifier), the next two store the block.
///
/// ```
/// use bytes::Bytes;
/// use stowage_proto::{Completion, Instant, Machine, Output};
/// use stowage_replica::{Block, BlockWrite, Service, ServiceKind, WriteConfig, WriteOutcome};
///
/// let services: Vec<Service> = (0..3)
///     .map(|i| Service::new(format!("zzzzz-bi6l4-{i:015x}"), &format!("http://keep{i}:25107"), ServiceKind::Disk))
///     .collect::<Result<_, _>>()
///     .unwrap();
/// let block = Block::new(Bytes::from_static(b"foo")).unwrap();
/// let mut write = BlockWrite::new(block, &services, WriteConfig::new(2, "req-000000000000000000000")).unwrap();
/// let now = Instant::ZERO;
/// let mut statuses = [503, 200, 200].into_iter();
/// let outcome = loop {
///     match write.poll_output(now) {
///         Some(Output::Transmit(t)) => {
///             let status = statuses.next().unwrap();
///             // A keepstore's 2xx body is the signed locator.
///             let body = if status == 200 { "acbd18db4cc2f85cedef654fccc4a4d8+3+A0@1\n" } else { "" };
///             let response = http::Response::builder().status(status).body(Bytes::from(body)).unwrap();
///             write.handle_input(now, Completion { id: t.id, result: Ok(response) }).unwrap();
///         }
///         Some(Output::Done(outcome)) => break outcome,
///         None => unreachable!("a one-pass all-disk write never waits"),
///     }
/// };
/// let WriteOutcome::Stored { locator, copies, per_service, .. } = outcome else { panic!() };
/// assert_eq!(copies, 2);
/// assert_eq!(locator, "acbd18db4cc2f85cedef654fccc4a4d8+3+A0@1");
/// // Probe order for "foo" with 3 services: 0, 2, 1.
/// let contacted: Vec<_> = per_service.iter().map(|s| &s.uuid[12..]).collect();
/// assert_eq!(contacted, ["000000000000000", "000000000000002", "000000000000001"]);
/// ```
#[derive(Clone, Debug)]
pub struct BlockWrite {
    block: Block,
    locator: String,
    wanted: u32,
    classes: Vec<String>,
    policy: PassSchedule,
    classifier: Classifier,
    concurrency: Concurrency,
    /// The headers every PUT carries.
    headers: HeaderMap,
    /// Writable services in write order.
    targets: Vec<Target>,
    ids: RequestIds,
    clock: Clock,
    phase: Phase,
    pending: Option<WriteOutcome>,
    confirmed: u64,
    class_confirmed: BTreeMap<String, u64>,
    tracking_classes: bool,
    in_flight: usize,
    /// Passes started.
    passes: u32,
    signed: Option<String>,
}

impl BlockWrite {
    /// A write of `block` to `services` (in any order; read-only services and gateways are
    /// never written).
    pub fn new(block: Block, services: &[Service], config: WriteConfig) -> Result<Self, WriteConfigError> {
        let WriteConfig { wanted, mut classes, policy, classifier, token, request_id } = config;
        if policy.retry.jitter {
            return Err(WriteConfigError::Jitter);
        }
        if let Some(bad) = classes.iter().find(|c| c.is_empty() || c.contains([',', '='])) {
            return Err(WriteConfigError::BadClass(bad.clone()));
        }
        classes.sort();
        classes.dedup();
        let headers = common_headers(&block, wanted, token.as_deref(), &request_id)?;
        let hash = block.hash();
        let order = write_order(&hash, services);
        let concurrency = if order.iter().all(|&i| *services[i].kind() == ServiceKind::Disk) {
            Concurrency::AllDisk
        } else {
            Concurrency::OneAtATime
        };
        let targets = order
            .into_iter()
            .map(|i| {
                let service = &services[i];
                let uri = service
                    .block_uri(hash.as_str())
                    .ok_or_else(|| WriteConfigError::BadService(service.uuid().to_owned()))?;
                Ok(Target {
                    uuid: service.uuid().to_owned(),
                    uri,
                    standing: Standing::Eligible,
                    tried_this_pass: false,
                    in_flight: None,
                    attempts: 0,
                    last: None,
                    replicas: 0,
                })
            })
            .collect::<Result<Vec<_>, WriteConfigError>>()?;
        Ok(BlockWrite {
            locator: block.locator(),
            block,
            wanted,
            classes,
            policy,
            classifier,
            concurrency,
            headers,
            targets,
            ids: RequestIds::default(),
            clock: Clock::default(),
            phase: Phase::Idle,
            pending: None,
            confirmed: 0,
            class_confirmed: BTreeMap::new(),
            tracking_classes: true,
            in_flight: 0,
            passes: 0,
            signed: None,
        })
    }

    /// Replicas confirmed so far.
    pub fn confirmed(&self) -> u64 {
        self.confirmed
    }

    /// PUTs in flight.
    pub fn in_flight(&self) -> usize {
        self.in_flight
    }

    /// The current pass: 0 before the first; between passes and once done, the last one made.
    pub fn pass(&self) -> u32 {
        self.passes
    }

    /// The uuids of the writable services, in write order.
    pub fn write_order(&self) -> impl Iterator<Item = &str> {
        self.targets.iter().map(|t| t.uuid.as_str())
    }

    /// Whether every PUT is one at a time (some writable service is not a `disk`).
    pub fn is_one_at_a_time(&self) -> bool {
        self.concurrency == Concurrency::OneAtATime
    }

    /// Whether the machine has finished (its outcome may still be waiting in `poll_output`).
    pub fn is_done(&self) -> bool {
        self.phase == Phase::Done
    }

    /// The classes not yet confirmed in `wanted` copies (none while classes are not tracked).
    fn pending_classes(&self) -> impl Iterator<Item = &String> {
        let wanted = u64::from(self.wanted);
        self.classes
            .iter()
            .filter(move |c| self.tracking_classes && self.class_confirmed.get(*c).copied().unwrap_or(0) < wanted)
    }

    /// Copies still needed: the copies missing, or the most any pending class misses.
    fn deficit(&self) -> u64 {
        let wanted = u64::from(self.wanted);
        let copies = wanted.saturating_sub(self.confirmed);
        let classes = self
            .pending_classes()
            .map(|c| wanted.saturating_sub(self.class_confirmed.get(c).copied().unwrap_or(0)))
            .max()
            .unwrap_or(0);
        copies.max(classes)
    }

    /// Whether another PUT may start now (slots only; a service must also be free).
    fn has_room(&self) -> bool {
        let deficit = self.deficit();
        let in_flight = self.in_flight as u64;
        match self.concurrency {
            Concurrency::AllDisk => in_flight < deficit,
            Concurrency::OneAtATime => deficit > 0 && in_flight == 0,
        }
    }

    /// The next service of this pass to try.
    fn next_target(&self) -> Option<usize> {
        self.targets.iter().position(|t| t.standing == Standing::Eligible && !t.tried_this_pass)
    }

    fn start_pass(&mut self, number: u32, now: Instant) {
        for target in &mut self.targets {
            target.tried_this_pass = false;
        }
        if self.next_target().is_none() {
            return self.finish_failed(GiveUp::NoServiceLeft, number.saturating_sub(1));
        }
        self.passes = number;
        self.phase = Phase::Pass { number, started: now };
    }

    /// Starts the next PUT if there is room and a service.
    fn start_put(&mut self) -> Option<Transmit> {
        if !matches!(self.phase, Phase::Pass { .. }) || !self.has_room() {
            return None;
        }
        let index = self.next_target()?;
        let id = self.ids.next_id();
        let request = self.put_request(index);
        let target = &mut self.targets[index];
        target.tried_this_pass = true;
        target.in_flight = Some(id);
        target.attempts = target.attempts.saturating_add(1);
        self.in_flight += 1;
        Some(Transmit { id, request })
    }

    fn put_request(&self, index: usize) -> Request<Bytes> {
        let mut request = Request::new(self.block.data().clone());
        *request.method_mut() = Method::PUT;
        *request.uri_mut() = self.targets[index].uri.clone();
        *request.headers_mut() = self.headers.clone();
        let pending: Vec<&str> = self.pending_classes().map(String::as_str).collect();
        // Class names were checked to be valid header text when the write was set up.
        if !pending.is_empty()
            && let Ok(value) = HeaderValue::from_str(&pending.join(", "))
        {
            request.headers_mut().insert(HeaderName::from_static(wire::STORAGE_CLASSES), value);
        }
        request
    }

    /// Records an answer from target `index`.
    fn record(&mut self, index: usize, result: Result<http::Response<Bytes>, stowage_proto::TransportError>) {
        let (verdict, answer) = match &result {
            Ok(response) => (self.classifier.status(response.status()), Answer::Status(response.status())),
            Err(error) => (self.classifier.transport(*error), Answer::Transport(*error)),
        };
        let target = &mut self.targets[index];
        target.in_flight = None;
        target.last = Some(answer);
        self.in_flight = self.in_flight.saturating_sub(1);
        match verdict {
            Verdict::Retryable => {}
            Verdict::Permanent => target.standing = Standing::Refused,
            Verdict::Stored => {
                target.standing = Standing::Succeeded;
                let Ok(response) = result else { return };
                let replicas = wire::replicas_stored(response.headers());
                target.replicas = target.replicas.saturating_add(replicas);
                self.confirmed = self.confirmed.saturating_add(replicas);
                match wire::classes_confirmed(response.headers()) {
                    ClassesConfirmed::NotReported => self.tracking_classes = false,
                    ClassesConfirmed::Confirmed(classes) => {
                        for (class, n) in classes {
                            let total = self.class_confirmed.entry(class).or_default();
                            *total = total.saturating_add(n);
                        }
                    }
                }
                if let Some(locator) = signed_locator(response.body()) {
                    self.signed = Some(locator);
                }
            }
        }
    }

    /// After an answer: finish, end the pass, or go on.
    fn settle(&mut self, now: Instant) {
        let Phase::Pass { number, started } = self.phase else { return };
        if self.in_flight > 0 {
            return;
        }
        if self.deficit() == 0 {
            return self.finish_stored(number);
        }
        if self.next_target().is_some() {
            return; // `poll_output` starts it.
        }
        if number >= self.policy.max_passes() {
            return self.finish_failed(GiveUp::PassesExhausted, number);
        }
        if !self.targets.iter().any(|t| t.standing == Standing::Eligible) {
            return self.finish_failed(GiveUp::NoServiceLeft, number);
        }
        let until = self.policy.next_start(number, started, now);
        self.phase = Phase::Backoff { next: number.saturating_add(1), until };
    }

    fn report(&self) -> Vec<ServiceReport> {
        self.targets
            .iter()
            .filter_map(|t| {
                let last = t.last?;
                Some(ServiceReport { uuid: t.uuid.clone(), attempts: t.attempts, last, replicas: t.replicas })
            })
            .collect()
    }

    fn finish_stored(&mut self, passes: u32) {
        let locator = self.signed.clone().unwrap_or_else(|| self.locator.clone());
        let classes = if self.tracking_classes { self.class_confirmed.clone() } else { BTreeMap::new() };
        self.finish(WriteOutcome::Stored {
            locator,
            copies: self.confirmed,
            classes,
            per_service: self.report(),
            passes,
        });
    }

    fn finish_failed(&mut self, reason: GiveUp, passes: u32) {
        let per_service = self.report();
        self.finish(WriteOutcome::Failed { wanted: self.wanted, got: self.confirmed, reason, per_service, passes });
    }

    fn finish(&mut self, outcome: WriteOutcome) {
        self.phase = Phase::Done;
        self.pending = Some(outcome);
    }
}

/// The headers every PUT of a write carries.
fn common_headers(
    block: &Block,
    wanted: u32,
    token: Option<&str>,
    request_id: &str,
) -> Result<HeaderMap, WriteConfigError> {
    let mut headers = HeaderMap::new();
    headers.insert(CONTENT_LENGTH, HeaderValue::from(block.size()));
    headers.insert(HeaderName::from_static(wire::DESIRED_REPLICAS), HeaderValue::from(wanted));
    let id = HeaderValue::from_str(request_id).map_err(|_| WriteConfigError::BadHeader { name: "request id" })?;
    headers.insert(HeaderName::from_static(wire::REQUEST_ID), id);
    if let Some(token) = token {
        let mut auth = HeaderValue::from_str(&format!("Bearer {token}"))
            .map_err(|_| WriteConfigError::BadHeader { name: "token" })?;
        auth.set_sensitive(true);
        headers.insert(AUTHORIZATION, auth);
    }
    Ok(headers)
}

/// The locator in a 2xx body: the body trimmed, if it is non-empty UTF-8.
fn signed_locator(body: &Bytes) -> Option<String> {
    let text = std::str::from_utf8(body).ok()?.trim();
    (!text.is_empty()).then(|| text.to_owned())
}

impl Machine for BlockWrite {
    type Input = Completion<Bytes>;
    type Output = Output<WriteOutcome>;
    type Error = InputError;

    fn handle_input(&mut self, now: Instant, input: Completion<Bytes>) -> Result<(), InputError> {
        let Completion { id, result } = input;
        if self.is_done() {
            return Err(InputError::Finished);
        }
        let Some(index) = self.targets.iter().position(|t| t.in_flight == Some(id)) else {
            return Err(InputError::UnexpectedCompletion(id));
        };
        let now = self.clock.observe(now);
        self.record(index, result);
        self.settle(now);
        Ok(())
    }

    fn poll_output(&mut self, now: Instant) -> Option<Output<WriteOutcome>> {
        let now = self.clock.observe(now);
        match self.phase {
            Phase::Idle if self.wanted == 0 => {
                let locator = self.locator.clone();
                let outcome = WriteOutcome::Stored {
                    locator,
                    copies: 0,
                    classes: BTreeMap::new(),
                    per_service: vec![],
                    passes: 0,
                };
                self.finish(outcome);
            }
            Phase::Idle => self.start_pass(1, now),
            Phase::Backoff { next, until } if now >= until => self.start_pass(next, now),
            _ => {}
        }
        if let Some(outcome) = self.pending.take() {
            return Some(Output::Done(outcome));
        }
        self.start_put().map(Output::Transmit)
    }

    fn poll_timeout(&self) -> Option<Instant> {
        match self.phase {
            Phase::Backoff { until, .. } => Some(until),
            _ => None,
        }
    }

    fn handle_timeout(&mut self, now: Instant) {
        let now = self.clock.observe(now);
        if let Phase::Backoff { next, until } = self.phase
            && now >= until
        {
            self.start_pass(next, now);
        }
    }
}
