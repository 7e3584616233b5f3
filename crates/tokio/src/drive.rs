//! The generic driver loop: runs any HTTP machine over a [`Transport`], each request through
//! its redirects.

use bytes::Bytes;
use futures_util::StreamExt;
use futures_util::stream::FuturesUnordered;
use http::{Request, Response};
use stowage_proto::redirect::{Chain, Step};
use stowage_proto::{
    Completion, CompletionBody, DriveError, Driven, InputError, Instant, Machine, Output, RequestId, Responses,
    Transmit, TransportError,
};
use tracing::debug;

use crate::Transport;

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
///
/// Each [`Transmit`] is one logical request: it follows redirects ([`send_following`]), and
/// the machine is fed — and [`Responses`] keeps — the last response only; a redirect that
/// cannot be followed is fed as [`TransportError::Redirect`].
///
/// A machine fed [`Completion<()>`](Completion) sees response heads; one fed
/// [`Completion<Bytes>`](Completion) sees whole responses (see
/// [`CompletionBody`](stowage_proto::CompletionBody)).
pub async fn drive<M, B, T>(machine: M, transport: &impl Transport) -> Result<Driven<T>, DriveError>
where
    M: Machine<Input = Completion<B>, Output = Output<T>, Error = InputError>,
    B: CompletionBody,
{
    drive_observed(machine, transport, |_| {}).await
}

/// [`drive`], letting `observe` look at the machine after every input and every wake-up — to
/// drain a machine's side events, such as progress, as they happen. `observe` decides
/// nothing: the machine's outputs are drained by the loop as in [`drive`].
pub async fn drive_observed<M, B, T>(
    mut machine: M,
    transport: &impl Transport,
    mut observe: impl FnMut(&mut M),
) -> Result<Driven<T>, DriveError>
where
    M: Machine<Input = Completion<B>, Output = Output<T>, Error = InputError>,
    B: CompletionBody,
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
                    let fed = B::from_response(&response);
                    responses.keep(id, response);
                    fed
                });
                if let Err(error) = &result {
                    debug!(%id, %error, "transport error");
                }
                machine.handle_input(clock.now(), Completion { id, result })?;
            }
            () = clock.sleep_until(wake) => machine.handle_timeout(clock.now()),
        }
        observe(&mut machine);
    }
}

/// Sends one transmit through its redirects, keeping its id with the result.
async fn exchange(
    transport: &impl Transport,
    Transmit { id, request }: Transmit,
) -> (RequestId, Result<Response<Bytes>, TransportError>) {
    (id, send_following(transport, request).await)
}

/// Sends `request` through `transport` and follows its redirects: one logical request, as
/// [`drive`] sends each [`Transmit`]. For a facade's one-shot requests.
///
/// The rules are [`stowage_proto::redirect`]'s, with the transport's
/// [`redirect_policy`](Transport::redirect_policy): at most `max_hops` redirects, no loop,
/// credentials (`Authorization`, `Cookie`) only to the first request's origin or to a trusted
/// authority. An origin-form request is [located](Transport::locate) at the transport's
/// endpoint before its `Location` is resolved. A redirect's body (an AIStore proxy sends a line
/// of HTML) is dropped; the response returned is the last one. A redirect that cannot be
/// followed is [`TransportError::Redirect`]; each hop has the transport's own timeouts.
pub async fn send_following(
    transport: &impl Transport,
    request: Request<Bytes>,
) -> Result<Response<Bytes>, TransportError> {
    let mut chain = Chain::new(transport.redirect_policy(), request);
    loop {
        let response = transport.send(chain.request().clone()).await?;
        match chain.answer(&response, |uri| transport.locate(uri)) {
            Ok(Step::Answer) => return Ok(response),
            Ok(Step::Follow) => {
                let next = chain.request();
                debug!(status = %response.status(), method = %next.method(), uri = %next.uri(), "redirected");
            }
            Err(error) => {
                debug!(status = %response.status(), %error, "redirect not followed");
                return Err(TransportError::Redirect(error));
            }
        }
    }
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

    /// `/hop/N` answers a 307 to `/hop/N-1` with an HTML body, `/hop/0` a 200 with `final`;
    /// `/loop` redirects to itself, `/nowhere` has no `Location`. Origin-form requests are
    /// located at `http://endpoint`; records every URI sent.
    #[derive(Clone, Default)]
    struct Hops {
        sent: Arc<std::sync::Mutex<Vec<String>>>,
    }

    impl Transport for Hops {
        async fn send(&self, request: http::Request<Bytes>) -> Result<Response<Bytes>, TransportError> {
            self.sent.lock().unwrap().push(request.uri().to_string());
            let path = request.uri().path();
            let redirect = |location: Option<String>| {
                let mut response = Response::new(Bytes::from_static(b"<a href=\"...\">Temporary Redirect</a>.\n"));
                *response.status_mut() = http::StatusCode::TEMPORARY_REDIRECT;
                if let Some(location) = location {
                    response.headers_mut().insert(http::header::LOCATION, location.parse().unwrap());
                }
                response
            };
            Ok(match path.strip_prefix("/hop/").map(|n| n.parse::<u32>().unwrap()) {
                Some(0) => Response::new(Bytes::from_static(b"final")),
                Some(n) => redirect(Some(format!("/hop/{}", n - 1))),
                None if path == "/loop" => redirect(Some("/loop".to_owned())),
                None => redirect(None),
            })
        }

        fn locate(&self, uri: &http::Uri) -> Option<http::Uri> {
            format!("http://endpoint{uri}").parse().ok()
        }
    }

    /// Sends one GET of `path` and finishes with its completion's status (or error), as a
    /// machine fed whole responses sees it.
    struct One {
        path: &'static str,
        sent: bool,
        got: Option<Result<(http::StatusCode, Bytes), TransportError>>,
    }

    impl Machine for One {
        type Input = Completion<Bytes>;
        type Output = Output<Result<(http::StatusCode, Bytes), TransportError>>;
        type Error = InputError;

        fn handle_input(&mut self, _: Instant, input: Completion<Bytes>) -> Result<(), InputError> {
            self.got = Some(input.result.map(|r| (r.status(), r.into_body())));
            Ok(())
        }

        fn poll_output(&mut self, _: Instant) -> Option<Self::Output> {
            if !std::mem::replace(&mut self.sent, true) {
                let request = http::Request::get(self.path).body(Bytes::new()).unwrap();
                return Some(Output::Transmit(Transmit { id: RequestId(0), request }));
            }
            self.got.clone().map(Output::Done)
        }

        fn poll_timeout(&self) -> Option<Instant> {
            None
        }

        fn handle_timeout(&mut self, _: Instant) {}
    }

    async fn one(path: &'static str) -> (Driven<Result<(http::StatusCode, Bytes), TransportError>>, Vec<String>) {
        let transport = Hops::default();
        let driven = drive(One { path, sent: false, got: None }, &transport).await.unwrap();
        (driven, transport.sent.lock().unwrap().clone())
    }

    #[tokio::test]
    async fn the_machine_sees_and_responses_keep_only_the_last_response() {
        let (mut driven, sent) = one("/hop/3").await;
        assert_eq!(driven.outcome, Ok((http::StatusCode::OK, Bytes::from_static(b"final"))));
        assert_eq!(driven.responses.take(RequestId(0)).unwrap().body(), "final");
        let expected = ["/hop/3", "http://endpoint/hop/2", "http://endpoint/hop/1", "http://endpoint/hop/0"];
        assert_eq!(sent, expected, "the first as the machine made it, then absolute");
    }

    #[tokio::test]
    async fn a_redirect_that_cannot_be_followed_is_fed_as_a_transport_error() {
        use stowage_proto::redirect::RedirectError;
        for (path, error, sends) in [
            ("/loop", RedirectError::Loop, 1),
            ("/nowhere", RedirectError::MissingLocation, 1),
            ("/hop/11", RedirectError::TooManyHops, 11),
        ] {
            let (mut driven, sent) = one(path).await;
            assert_eq!(driven.outcome, Err(TransportError::Redirect(error)), "{path}");
            assert_eq!(sent.len(), sends, "{path}: {sent:?}");
            assert!(driven.responses.take(RequestId(0)).is_none(), "{path}: no redirect body is kept");
        }
    }

    #[tokio::test]
    async fn a_transport_that_cannot_locate_fails_a_relative_redirect_as_not_absolute() {
        #[derive(Clone)]
        struct Nowhere;
        impl Transport for Nowhere {
            async fn send(&self, request: http::Request<Bytes>) -> Result<Response<Bytes>, TransportError> {
                Hops::default().send(request).await
            }
        }
        let error = send_following(&Nowhere, http::Request::get("/hop/1").body(Bytes::new()).unwrap()).await;
        let error = error.unwrap_err();
        assert_eq!(error, TransportError::Redirect(stowage_proto::redirect::RedirectError::NotAbsolute));
    }

    #[tokio::test]
    async fn a_machine_with_nothing_to_wait_for_is_an_error() {
        let driven = drive(Sleeper { at: None, woken: None }, &Echo::new(1)).await;
        assert_eq!(driven.unwrap_err(), DriveError::Stalled);
    }
}
