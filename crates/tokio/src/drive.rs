//! The generic driver loop: runs any HTTP machine over a [`Transport`].

use bytes::Bytes;
use futures_util::StreamExt;
use futures_util::stream::FuturesUnordered;
use http::Response;
use stowage_proto::{Completion, InputError, Instant, Machine, Output, RequestId, Transmit, TransportError};
use tracing::debug;

use crate::Transport;

/// Why [`drive`] stopped before the machine finished: a bug in the machine (or the driver),
/// never the server's doing.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum DriveError {
    /// The machine refused a completion.
    #[error("the machine refused a completion: {0}")]
    Input(#[from] InputError),
    /// The machine is not finished, yet has nothing to send, nothing in flight and no wake-up
    /// time: it would wait forever.
    #[error("the machine stalled: not finished, yet nothing to send, nothing in flight and no timer")]
    Stalled,
    /// The machine's outcome names the response to this request, which the driver did not
    /// keep (see [`Responses`]).
    #[error("the outcome names the response to {0}, which the driver did not keep")]
    NoResponse(RequestId),
}

/// What [`drive`] returns: the machine's result and the response it may name.
#[derive(Debug)]
pub struct Driven<T> {
    /// What the machine finished with.
    pub outcome: T,
    /// The response the driver still holds.
    pub responses: Responses,
}

/// The response [`drive`] kept when the machine finished.
///
/// Machines see response heads only; the driver keeps the bodies. It keeps the response of
/// the **latest completion** and drops the one before as soon as a newer one arrives, so at
/// most one body is held between completions however many requests a machine makes. That is
/// the response an outcome names when the machine finishes on it — as
/// [`ColdGet`](stowage_lockpoll::ColdGet) does on the first attempt that gets a response: its
/// result body is kept, and no other GET body is ever buffered (failed attempts have none).
#[derive(Debug, Default)]
pub struct Responses {
    latest: Option<(RequestId, Response<Bytes>)>,
}

impl Responses {
    /// The response to request `id`, if it is the one kept.
    pub fn get(&self, id: RequestId) -> Option<&Response<Bytes>> {
        self.latest.as_ref().filter(|(kept, _)| *kept == id).map(|(_, response)| response)
    }

    /// Takes the response to request `id`, if it is the one kept.
    pub fn take(&mut self, id: RequestId) -> Option<Response<Bytes>> {
        self.latest.take_if(|(kept, _)| *kept == id).map(|(_, response)| response)
    }

    fn keep(&mut self, id: RequestId, response: Response<Bytes>) {
        self.latest = Some((id, response));
    }
}

/// Runs `machine` to completion over `transport`.
///
/// The loop of [`Machine`]: drain [`poll_output`](Machine::poll_output), sending every
/// [`Transmit`] at once (requests run concurrently); then wait for whichever comes first — a
/// request completing, fed back with [`handle_input`](Machine::handle_input) as its head, or
/// the instant [`poll_timeout`](Machine::poll_timeout) named, signalled with
/// [`handle_timeout`](Machine::handle_timeout); repeat until [`Output::Done`]. Requests still
/// in flight then are cancelled.
///
/// Time: a machine [`Instant`] is the tokio clock's time elapsed since this call began, so a
/// paused tokio clock (`tokio::time::pause`) drives the machine as well.
///
/// The driver makes no decision of its own: what to send, when to wait and when to stop are
/// the machine's. Bodies stay here; see [`Responses`] for which one is kept.
pub async fn drive<M, T>(mut machine: M, transport: &impl Transport) -> Result<Driven<T>, DriveError>
where
    M: Machine<Input = Completion, Output = Output<T>, Error = InputError>,
{
    let clock = LoopClock::start();
    let mut responses = Responses::default();
    let mut in_flight = FuturesUnordered::new();
    loop {
        let now = clock.now();
        while let Some(output) = machine.poll_output(now) {
            match output {
                Output::Transmit(transmit) => {
                    let request = &transmit.request;
                    debug!(id = %transmit.id, method = %request.method(), uri = %request.uri(), "sending");
                    in_flight.push(exchange(transport, transmit));
                }
                Output::Done(outcome) => return Ok(Driven { outcome, responses }),
            }
        }
        let wake = machine.poll_timeout();
        if in_flight.is_empty() && wake.is_none() {
            return Err(DriveError::Stalled);
        }
        tokio::select! {
            biased;
            Some((id, result)) = in_flight.next(), if !in_flight.is_empty() => {
                let result = result.map(|response| {
                    debug!(%id, status = %response.status(), bytes = response.body().len(), "response");
                    let head = head_of(&response);
                    responses.keep(id, response);
                    head
                });
                if let Err(error) = &result {
                    debug!(%id, %error, "transport error");
                }
                machine.handle_input(clock.now(), Completion { id, result })?;
            }
            () = clock.sleep_until(wake) => machine.handle_timeout(clock.now()),
        }
    }
}

/// Sends one transmit, keeping its id with the result.
async fn exchange(
    transport: &impl Transport,
    Transmit { id, request }: Transmit,
) -> (RequestId, Result<Response<Bytes>, TransportError>) {
    (id, transport.send(request).await)
}

/// A copy of `response` without its body (and extensions, which machines do not read).
fn head_of(response: &Response<Bytes>) -> Response<()> {
    let mut head = Response::new(());
    *head.status_mut() = response.status();
    *head.version_mut() = response.version();
    *head.headers_mut() = response.headers().clone();
    head
}

/// Machine time for one run of the loop: the tokio clock's time since the loop began.
struct LoopClock {
    start: tokio::time::Instant,
}

impl LoopClock {
    fn start() -> Self {
        LoopClock { start: tokio::time::Instant::now() }
    }

    fn now(&self) -> Instant {
        Instant::from_elapsed(self.start.elapsed())
    }

    /// Sleeps until machine instant `wake`; forever if there is none (or it is beyond what
    /// tokio can represent).
    async fn sleep_until(&self, wake: Option<Instant>) {
        match wake.and_then(|at| self.start.checked_add(at.elapsed_since_epoch())) {
            Some(deadline) => tokio::time::sleep_until(deadline).await,
            None => std::future::pending().await,
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::time::Duration;

    use stowage_proto::RequestIds;
    use tokio::sync::Barrier;

    use super::*;

    /// Answers 200 with the request's path as the body, once `barrier` lets it.
    #[derive(Clone)]
    struct Echo {
        barrier: Arc<Barrier>,
    }

    impl Echo {
        fn new(concurrent: usize) -> Self {
            Echo { barrier: Arc::new(Barrier::new(concurrent)) }
        }
    }

    impl Transport for Echo {
        async fn send(&self, request: http::Request<Bytes>) -> Result<Response<Bytes>, TransportError> {
            self.barrier.wait().await;
            Ok(Response::new(Bytes::copy_from_slice(request.uri().path().as_bytes())))
        }
    }

    /// Sends each batch of paths at once, the next batch once the previous has completed;
    /// finishes with the ids in completion order.
    struct Batches {
        batches: std::vec::IntoIter<Vec<&'static str>>,
        ids: RequestIds,
        queued: Vec<Transmit>,
        outstanding: Vec<RequestId>,
        completed: Vec<RequestId>,
    }

    impl Batches {
        fn new(batches: Vec<Vec<&'static str>>) -> Self {
            let mut machine = Batches {
                batches: batches.into_iter(),
                ids: RequestIds::default(),
                queued: vec![],
                outstanding: vec![],
                completed: vec![],
            };
            machine.next_batch();
            machine
        }

        fn next_batch(&mut self) {
            for path in self.batches.next().unwrap_or_default() {
                let id = self.ids.next_id();
                let request = http::Request::get(path).body(Bytes::new()).unwrap();
                self.outstanding.push(id);
                self.queued.push(Transmit { id, request });
            }
        }
    }

    impl Machine for Batches {
        type Input = Completion;
        type Output = Output<Vec<RequestId>>;
        type Error = InputError;

        fn handle_input(&mut self, _: Instant, input: Completion) -> Result<(), InputError> {
            let Some(at) = self.outstanding.iter().position(|id| *id == input.id) else {
                return Err(InputError::UnexpectedCompletion(input.id));
            };
            self.outstanding.remove(at);
            self.completed.push(input.id);
            if self.outstanding.is_empty() {
                self.next_batch();
            }
            Ok(())
        }

        fn poll_output(&mut self, _: Instant) -> Option<Self::Output> {
            if let Some(transmit) = self.queued.pop() {
                return Some(Output::Transmit(transmit));
            }
            self.outstanding.is_empty().then(|| Output::Done(std::mem::take(&mut self.completed)))
        }

        fn poll_timeout(&self) -> Option<Instant> {
            None
        }

        fn handle_timeout(&mut self, _: Instant) {}
    }

    /// Wants to be woken at `at` (if any), then finishes with the `now` it was woken at.
    struct Sleeper {
        at: Option<Instant>,
        woken: Option<Instant>,
    }

    impl Machine for Sleeper {
        type Input = Completion;
        type Output = Output<Instant>;
        type Error = InputError;

        fn handle_input(&mut self, _: Instant, input: Completion) -> Result<(), InputError> {
            Err(InputError::UnexpectedCompletion(input.id))
        }

        fn poll_output(&mut self, _: Instant) -> Option<Self::Output> {
            self.woken.map(Output::Done)
        }

        fn poll_timeout(&self) -> Option<Instant> {
            self.at
        }

        fn handle_timeout(&mut self, now: Instant) {
            if self.at.is_some_and(|at| now >= at) {
                self.woken = Some(now);
            }
        }
    }

    #[tokio::test(start_paused = true)]
    async fn transmits_run_concurrently() {
        // Each response waits until both requests are in flight: a sequential driver hangs.
        let machine = Batches::new(vec![vec!["/a", "/b"]]);
        let driven = tokio::time::timeout(Duration::from_secs(60), drive(machine, &Echo::new(2))).await;
        let mut completed = driven.expect("requests were sent one at a time").unwrap().outcome;
        completed.sort();
        assert_eq!(completed, [RequestId(0), RequestId(1)]);
    }

    #[tokio::test]
    async fn only_the_latest_response_is_kept() {
        let machine = Batches::new(vec![vec!["/first"], vec!["/second"]]);
        let Driven { outcome, mut responses } = drive(machine, &Echo::new(1)).await.unwrap();
        assert_eq!(outcome, [RequestId(0), RequestId(1)]);
        assert!(responses.get(RequestId(0)).is_none());
        assert_eq!(responses.take(RequestId(1)).unwrap().body(), "/second");
        assert!(responses.take(RequestId(1)).is_none());
    }

    #[tokio::test(start_paused = true)]
    async fn timers_follow_the_tokio_clock() {
        let at = Instant::from_elapsed(Duration::from_secs(5));
        let driven = drive(Sleeper { at: Some(at), woken: None }, &Echo::new(1)).await.unwrap();
        assert_eq!(driven.outcome, at);
    }

    #[tokio::test]
    async fn a_machine_with_nothing_to_wait_for_is_an_error() {
        let driven = drive(Sleeper { at: None, woken: None }, &Echo::new(1)).await;
        assert_eq!(driven.unwrap_err(), DriveError::Stalled);
    }
}
