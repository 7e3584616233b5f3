//! One test per rule of the ringslot spec (`specs/ringslot.md` and issue 4), driven through the
//! machine's public interface.

mod support;

use std::time::Duration;

use http::header::RANGE;
use stowage_proto::redirect::RedirectError;
use stowage_proto::tls::TlsError;
use stowage_proto::{Backoff, InputError, Instant, Machine, RequestId, Retry, TransportError};
use stowage_ringslot::{
    ByteRange, Config, ConfigError, DEFAULT_CHUNK, Delivery, DownloadError, Failure, Hedge, Input,
    MAX_CHUNK_SIZE_HEADER, Output, Plan, RANGE_RETRY, Rejected, RingSlot, Slot,
};

use support::{URI, body, drain, fail, fetches, head_ok, partial, partial_with, respond, status};

const T0: Instant = Instant::ZERO;

fn ring(config: Config) -> RingSlot {
    RingSlot::new(T0, URI.parse().unwrap(), config).unwrap()
}

/// A known size, no hedging (the rules of hedging have their own tests).
fn sized(size: u64, chunk: u64, workers: u32) -> Config {
    Config { size: Some(size), chunk: Some(chunk), workers, hedge: None, ..Config::default() }
}

fn range(start: u64, end: u64) -> ByteRange {
    ByteRange { start, end }
}

fn ms(n: u64) -> Instant {
    Instant::from_nanos(n * 1_000_000)
}

/// Answers a fetch with a correct 206 and its whole body.
fn complete(ring: &mut RingSlot, now: Instant, fetch: &stowage_ringslot::Fetch, size: u64) {
    respond(ring, now, fetch.id, partial(fetch.range, size));
    body(ring, now, fetch.id, fetch.range.len(), None);
}

fn done(outputs: &[Output]) -> Option<&Result<stowage_ringslot::Summary, DownloadError>> {
    outputs.iter().find_map(|o| if let Output::Done(r) = o { Some(r) } else { None })
}

fn error_of(outputs: &[Output]) -> DownloadError {
    done(outputs).expect("done").clone().expect_err("an error")
}

/// A download that asks for the size with a HEAD, answered with `answer`.
fn head_then(config: Config, answer: http::Response<()>) -> (RingSlot, Vec<Output>) {
    let mut ring = ring(Config { head: true, ..config });
    let outputs = drain(&mut ring, T0);
    let Some(Output::Head(head)) = outputs.first() else { panic!("expected a HEAD first: {outputs:?}") };
    assert_eq!(head.request.method(), http::Method::HEAD);
    assert_eq!(head.request.uri(), URI);
    let id = head.id;
    respond(&mut ring, T0, id, answer);
    let outputs = drain(&mut ring, T0);
    (ring, outputs)
}

#[test]
fn setup_heads_for_the_size_and_uses_the_callers_chunk() {
    let config = Config { chunk: Some(100), workers: 2, ..Config::default() };
    let (_, outputs) = head_then(config, head_ok(250, &[(MAX_CHUNK_SIZE_HEADER, "64")]));
    assert!(matches!(outputs[0], Output::Plan(Plan { size: 250, start: 0, end: 250, chunk: 100 })));
}

#[test]
fn setup_chunk_falls_back_to_the_max_chunk_size_header() {
    let (_, outputs) = head_then(Config::default(), head_ok(250, &[(MAX_CHUNK_SIZE_HEADER, "64")]));
    assert!(matches!(outputs[0], Output::Plan(Plan { chunk: 64, .. })));
}

#[test]
fn setup_chunk_defaults_to_8_mib() {
    let (_, outputs) = head_then(Config::default(), head_ok(250, &[(MAX_CHUNK_SIZE_HEADER, "0")]));
    assert!(matches!(outputs[0], Output::Plan(Plan { chunk: DEFAULT_CHUNK, .. })));
    assert_eq!(DEFAULT_CHUNK, 8 * 1024 * 1024);
}

#[test]
fn setup_given_size_skips_the_head() {
    let mut ring = ring(sized(10, 4, 1));
    let outputs = drain(&mut ring, T0);
    assert!(matches!(outputs[0], Output::Plan(_)));
    assert_eq!(fetches(&outputs).len(), 1);
}

#[test]
fn ranges_are_consecutive_from_offset_and_the_last_is_short() {
    let config = Config { offset: 3, ..sized(14, 4, 8) };
    let mut ring = ring(config);
    let fetched: Vec<_> = fetches(&drain(&mut ring, T0)).iter().map(|f| f.range).collect();
    assert_eq!(fetched, [range(3, 7), range(7, 11), range(11, 14)]);
}

#[test]
fn each_range_is_a_get_with_a_range_header() {
    let mut ring = ring(sized(10, 4, 8));
    let all = fetches(&drain(&mut ring, T0));
    let first = ring.request(&all[0]);
    assert_eq!(first.method(), http::Method::GET);
    assert_eq!(first.uri(), URI);
    assert_eq!(first.headers()[RANGE], "bytes=0-3");
    assert_eq!(ring.request(&all[2]).headers()[RANGE], "bytes=8-9");
}

#[test]
fn an_optional_end_stops_early() {
    let config = Config { offset: 2, end: Some(9), ..sized(100, 4, 8) };
    let mut ring = ring(config);
    let fetched: Vec<_> = fetches(&drain(&mut ring, T0)).iter().map(|f| f.range).collect();
    assert_eq!(fetched, [range(2, 6), range(6, 9)]);
}

#[test]
fn at_most_workers_ranges_in_flight() {
    let mut ring = ring(Config { slots: Some(8), ..sized(100, 10, 3) });
    let first = fetches(&drain(&mut ring, T0));
    assert_eq!(first.len(), 3);
    assert_eq!(ring.in_flight(), 3);
    complete(&mut ring, T0, &first[1], 100);
    let next = fetches(&drain(&mut ring, T0));
    assert_eq!(next.len(), 1, "one finished, one more started");
    assert_eq!(next[0].range, range(30, 40));
}

#[test]
fn slots_default_to_twice_the_workers() {
    assert_eq!(Config { workers: 3, ..Config::default() }.slot_count(), 6);
    // 2 workers, 4 slots: with the consumer never releasing, 4 ranges are fetched, then none.
    let mut ring = ring(sized(100, 10, 2));
    let mut started = fetches(&drain(&mut ring, T0));
    let mut total = 0;
    while let Some(fetch) = started.pop() {
        total += 1;
        complete(&mut ring, T0, &fetch, 100);
        started.extend(fetches(&drain(&mut ring, T0)));
    }
    assert_eq!(total, 4);
    assert_eq!(ring.slots_in_use(), 4);
    assert_eq!(ring.in_flight(), 0);
}

#[test]
fn stream_delivers_strictly_in_order() {
    let mut ring = ring(sized(30, 10, 3));
    let all = fetches(&drain(&mut ring, T0));
    complete(&mut ring, T0, &all[2], 30);
    complete(&mut ring, T0, &all[1], 30);
    assert!(!drain(&mut ring, T0).iter().any(|o| matches!(o, Output::Deliver { .. })), "range 0 is not there yet");
    complete(&mut ring, T0, &all[0], 30);
    let delivered: Vec<_> = drain(&mut ring, T0)
        .into_iter()
        .filter_map(|o| if let Output::Deliver { range, .. } = o { Some(range) } else { None })
        .collect();
    assert_eq!(delivered, [range(0, 10), range(10, 20), range(20, 30)]);
}

#[test]
fn stream_reuses_a_slot_only_after_release() {
    let mut ring = ring(Config { slots: Some(1), ..sized(20, 10, 1) });
    let first = fetches(&drain(&mut ring, T0));
    complete(&mut ring, T0, &first[0], 20);
    let outputs = drain(&mut ring, T0);
    let slot = outputs.iter().find_map(|o| if let Output::Deliver { slot, .. } = o { Some(*slot) } else { None });
    assert_eq!(slot, Some(first[0].slot));
    assert!(fetches(&outputs).is_empty(), "the only slot is still held by the consumer");
    ring.handle_input(T0, Input::Release(first[0].slot)).unwrap();
    let next = fetches(&drain(&mut ring, T0));
    assert_eq!(next.len(), 1);
    assert_eq!(next[0].slot, first[0].slot);
}

#[test]
fn whole_object_lands_ranges_in_any_order_without_releases() {
    let config = Config { delivery: Delivery::WholeObject, ..sized(30, 10, 3) };
    let mut ring = ring(config);
    let all = fetches(&drain(&mut ring, T0));
    complete(&mut ring, T0, &all[2], 30);
    let outputs = drain(&mut ring, T0);
    assert!(matches!(outputs[..], [Output::Receive(_), Output::Landed { range: ByteRange { start: 20, end: 30 } }]));
    complete(&mut ring, T0, &all[0], 30);
    complete(&mut ring, T0, &all[1], 30);
    let outputs = drain(&mut ring, T0);
    assert_eq!(done(&outputs).unwrap().as_ref().unwrap().bytes, 30);
}

#[test]
fn whole_object_keeps_up_to_workers_in_flight() {
    let config = Config { delivery: Delivery::WholeObject, ..sized(1000, 10, 4) };
    let mut ring = ring(config);
    let mut pending = fetches(&drain(&mut ring, T0));
    let mut max = 0;
    while let Some(fetch) = pending.pop() {
        max = max.max(ring.in_flight());
        complete(&mut ring, T0, &fetch, 1000);
        pending.extend(fetches(&drain(&mut ring, T0)));
    }
    assert_eq!(max, 4);
    assert!(ring.is_done());
}

#[test]
fn check_200_after_a_206_is_range_ignored() {
    // A server that honoured Range once and then sends a whole object is not one stream.
    let mut ring = ring(sized(20, 10, 2));
    let all = fetches(&drain(&mut ring, T0));
    respond(&mut ring, T0, all[0].id, partial(all[0].range, 20));
    respond(&mut ring, T0, all[1].id, http::Response::builder().status(200).body(()).unwrap());
    let outputs = drain(&mut ring, T0);
    assert_eq!(error_of(&outputs), DownloadError::RangeIgnored { range: range(10, 20) });
    assert!(outputs.iter().any(|o| matches!(o, Output::Cancel(id) if *id == all[0].id)), "the rest is cancelled");
}

#[test]
fn check_wrong_content_range_is_an_error() {
    for bad in ["bytes 1-10/20", "bytes 0-10/20", "bytes */20", "garbage"] {
        let mut ring = ring(sized(20, 10, 1));
        let fetch = fetches(&drain(&mut ring, T0)).remove(0);
        let response = http::Response::builder().status(206).header("content-range", bad).body(()).unwrap();
        respond(&mut ring, T0, fetch.id, response);
        let error = error_of(&drain(&mut ring, T0));
        assert_eq!(error, DownloadError::WrongRange { range: range(0, 10), got: bad.to_owned() });
    }
    let mut ring = ring(sized(20, 10, 1));
    let fetch = fetches(&drain(&mut ring, T0)).remove(0);
    respond(&mut ring, T0, fetch.id, status(206));
    assert!(matches!(error_of(&drain(&mut ring, T0)), DownloadError::WrongRange { got, .. } if got.is_empty()));
}

#[test]
fn check_large_objects_answers_as_strictly() {
    // Values long enough for the quick comparison of the usual spelling: the same verdicts as
    // the parser's, which small objects' answers (above) go through.
    const SIZE: u64 = 8 << 30;
    const CHUNK: u64 = 8 << 20;
    let first = range(0, CHUNK);
    let answer = |content_range: &str, content_length: u64| {
        http::Response::builder()
            .status(206)
            .header("content-range", content_range)
            .header("content-length", content_length)
            .body(())
            .unwrap()
    };
    let usual = format!("bytes 0-{}/{SIZE}", CHUNK - 1);
    for (content_range, content_length, expected) in [
        (usual.clone(), CHUNK, None),
        (format!("bytes 000-{}/{SIZE}", CHUNK - 1), CHUNK, None),
        (
            format!("bytes 0-{}/{SIZE}", CHUNK),
            CHUNK,
            Some(DownloadError::WrongRange { range: first, got: String::new() }),
        ),
        (
            format!("bytes 1-{}/{SIZE}", CHUNK - 1),
            CHUNK,
            Some(DownloadError::WrongRange { range: first, got: String::new() }),
        ),
        (
            format!("bytes 0-{}/{}", CHUNK - 1, SIZE + 1),
            CHUNK,
            Some(DownloadError::SizeChanged { was: SIZE, now: SIZE + 1 }),
        ),
        (usual.clone(), CHUNK + 1, Some(DownloadError::LongBody { range: first, received: CHUNK + 1 })),
        (usual.clone(), CHUNK - 1, Some(DownloadError::ShortBody { range: first, received: CHUNK - 1 })),
    ] {
        let mut ring = ring(sized(SIZE, CHUNK, 1));
        let fetch = fetches(&drain(&mut ring, T0)).remove(0);
        respond(&mut ring, T0, fetch.id, answer(&content_range, content_length));
        let outputs = drain(&mut ring, T0);
        match expected {
            None => assert!(done(&outputs).is_none(), "{content_range} accepted"),
            Some(DownloadError::WrongRange { range, .. }) => {
                assert_eq!(error_of(&outputs), DownloadError::WrongRange { range, got: content_range });
            }
            Some(error) => assert_eq!(error_of(&outputs), error, "{content_range}, {content_length}"),
        }
    }
}

#[test]
fn check_size_changed_since_the_head() {
    let mut ring = ring(sized(20, 10, 1));
    let fetch = fetches(&drain(&mut ring, T0)).remove(0);
    respond(&mut ring, T0, fetch.id, partial(fetch.range, 21));
    assert_eq!(error_of(&drain(&mut ring, T0)), DownloadError::SizeChanged { was: 20, now: 21 });
}

#[test]
fn check_etag_changed_since_the_head() {
    let config = Config { chunk: Some(10), workers: 1, ..Config::default() };
    let (mut ring, outputs) = head_then(config, head_ok(20, &[("etag", "\"v1\"")]));
    let fetch = fetches(&outputs).remove(0);
    respond(&mut ring, T0, fetch.id, partial_with(fetch.range, 20, &[("etag", "\"v2\"")]));
    let error = error_of(&drain(&mut ring, T0));
    assert!(matches!(error, DownloadError::ObjectChanged { header: "ETag", .. }), "{error:?}");
}

#[test]
fn check_ais_version_changed_between_ranges() {
    let mut ring = ring(sized(20, 10, 2));
    let all = fetches(&drain(&mut ring, T0));
    respond(&mut ring, T0, all[0].id, partial_with(all[0].range, 20, &[("ais-version", "1")]));
    respond(&mut ring, T0, all[1].id, partial_with(all[1].range, 20, &[("ais-version", "2")]));
    assert!(matches!(error_of(&drain(&mut ring, T0)), DownloadError::ObjectChanged { header: "ais-version", .. }));
}

#[test]
fn check_long_body_is_an_error() {
    let mut ring = ring(sized(20, 10, 1));
    let fetch = fetches(&drain(&mut ring, T0)).remove(0);
    respond(&mut ring, T0, fetch.id, partial(fetch.range, 20));
    body(&mut ring, T0, fetch.id, 11, None);
    assert_eq!(error_of(&drain(&mut ring, T0)), DownloadError::LongBody { range: range(0, 10), received: 11 });
}

#[test]
fn check_huge_content_length_is_refused_before_the_body() {
    let mut ring = ring(sized(20, 10, 1));
    let fetch = fetches(&drain(&mut ring, T0)).remove(0);
    let huge = http::Response::builder()
        .status(206)
        .header("content-range", "bytes 0-9/20")
        .header("content-length", u64::MAX)
        .body(())
        .unwrap();
    respond(&mut ring, T0, fetch.id, huge);
    assert_eq!(error_of(&drain(&mut ring, T0)), DownloadError::LongBody { range: range(0, 10), received: u64::MAX });
}

#[test]
fn check_short_body_is_an_error() {
    let mut ring = ring(sized(20, 10, 1));
    let fetch = fetches(&drain(&mut ring, T0)).remove(0);
    respond(&mut ring, T0, fetch.id, partial(fetch.range, 20));
    body(&mut ring, T0, fetch.id, 9, None);
    assert_eq!(error_of(&drain(&mut ring, T0)), DownloadError::ShortBody { range: range(0, 10), received: 9 });
}

#[test]
fn check_other_statuses_are_errors() {
    let mut ring = ring(sized(20, 10, 1));
    let fetch = fetches(&drain(&mut ring, T0)).remove(0);
    respond(&mut ring, T0, fetch.id, status(416));
    assert_eq!(error_of(&drain(&mut ring, T0)), DownloadError::Status { range: range(0, 10), status: 416 });
}

fn retry_policy(max_attempts: u32) -> Retry {
    Retry {
        max_attempts,
        backoff: Backoff { multiplier: 0.1, min: Duration::from_millis(100), max: Duration::from_secs(1) },
        jitter: false,
    }
}

#[test]
fn retry_5xx_after_backoff_into_the_same_slot() {
    let config = Config { retry: retry_policy(3), ..sized(10, 10, 1) };
    let mut ring = ring(config);
    let first = fetches(&drain(&mut ring, T0)).remove(0);
    respond(&mut ring, T0, first.id, status(503));
    assert!(fetches(&drain(&mut ring, T0)).is_empty());
    assert_eq!(ring.poll_timeout(), Some(ms(100)));
    ring.handle_timeout(ms(99));
    assert!(fetches(&drain(&mut ring, ms(99))).is_empty(), "not before the backoff");
    ring.handle_timeout(ms(100));
    let retry = fetches(&drain(&mut ring, ms(100))).remove(0);
    assert_eq!((retry.range, retry.slot), (first.range, first.slot));
    assert_ne!(retry.id, first.id);
}

#[test]
fn retry_resets_mid_body_and_stalls() {
    for error in [TransportError::Reset, TransportError::ReadTimeout, TransportError::Closed] {
        let config = Config { retry: retry_policy(2), ..sized(10, 10, 1) };
        let mut ring = ring(config);
        let first = fetches(&drain(&mut ring, T0)).remove(0);
        respond(&mut ring, T0, first.id, partial(first.range, 10));
        body(&mut ring, T0, first.id, 4, Some(error));
        ring.handle_timeout(ms(100));
        let retry = fetches(&drain(&mut ring, ms(100))).remove(0);
        complete(&mut ring, ms(100), &retry, 10);
        let outputs = drain(&mut ring, ms(100));
        let summary = done(&outputs).unwrap().clone().unwrap();
        assert_eq!((summary.bytes, summary.retries, summary.requests), (10, 1, 2));
    }
}

#[test]
fn a_redirect_that_could_not_be_followed_is_not_retried() {
    for redirect in RedirectError::ALL {
        let error = TransportError::Redirect(redirect);
        // The HEAD.
        let config = Config { retry: retry_policy(3), head: true, ..Config::default() };
        let mut heading = ring(config);
        let outputs = drain(&mut heading, T0);
        let Some(Output::Head(head)) = outputs.first() else { panic!("{outputs:?}") };
        fail(&mut heading, T0, head.id, error);
        assert_eq!(error_of(&drain(&mut heading, T0)), DownloadError::Redirect { range: None, error: redirect });
        // A range's head, and (never sent by a driver, yet) a range's body.
        for mid_body in [false, true] {
            let (ring, _, outputs) = first_range_fails(3, mid_body, error);
            assert_eq!(error_of(&outputs), DownloadError::Redirect { range: Some(range(0, 10)), error: redirect });
            assert!(fetches(&outputs).is_empty() && ring.poll_timeout().is_none(), "{redirect}: retried");
        }
    }
}

/// A 10-byte download in one range, `attempts` a range, whose first request fails with
/// `error` (at its head, or `mid_body` after 4 bytes — which no driver sends for a redirect, yet
/// the machine must take): the machine, that request, and what it did.
fn first_range_fails(
    attempts: u32,
    mid_body: bool,
    error: TransportError,
) -> (RingSlot, stowage_ringslot::Fetch, Vec<Output>) {
    let mut ring = ring(Config { retry: retry_policy(attempts), ..sized(10, 10, 1) });
    let first = fetches(&drain(&mut ring, T0)).remove(0);
    if mid_body {
        respond(&mut ring, T0, first.id, partial(first.range, 10));
        body(&mut ring, T0, first.id, 4, Some(error));
    } else {
        fail(&mut ring, T0, first.id, error);
    }
    let outputs = drain(&mut ring, T0);
    (ring, first, outputs)
}

#[test]
fn a_failed_tls_handshake_is_not_retried() {
    for tls in TlsError::ALL.into_iter().filter(|&tls| TransportError::Tls(tls).is_permanent()) {
        let error = TransportError::Tls(tls);
        let config = Config { retry: retry_policy(3), head: true, ..Config::default() };
        let mut heading = ring(config);
        let outputs = drain(&mut heading, T0);
        let Some(Output::Head(head)) = outputs.first() else { panic!("{outputs:?}") };
        fail(&mut heading, T0, head.id, error);
        assert_eq!(error_of(&drain(&mut heading, T0)), DownloadError::Tls { range: None, error: tls });
        for mid_body in [false, true] {
            let (ring, _, outputs) = first_range_fails(3, mid_body, error);
            assert_eq!(error_of(&outputs), DownloadError::Tls { range: Some(range(0, 10)), error: tls });
            assert!(fetches(&outputs).is_empty() && ring.poll_timeout().is_none(), "{tls}: retried");
        }
    }
}

#[test]
fn a_damaged_tls_record_is_retried_as_a_reset_would_be() {
    let error = TransportError::Tls(TlsError::Record);
    for mid_body in [false, true] {
        let (mut ring, first, outputs) = first_range_fails(2, mid_body, error);
        assert!(done(&outputs).is_none() && ring.poll_timeout().is_some(), "mid body {mid_body}: {outputs:?}");
        ring.handle_timeout(ms(100));
        let second = fetches(&drain(&mut ring, ms(100))).remove(0);
        assert_eq!(second.range, first.range);
        fail(&mut ring, ms(100), second.id, error);
        let last = Failure::Transport(error);
        let exhausted = DownloadError::RetriesExhausted { range: Some(range(0, 10)), attempts: 2, last };
        assert_eq!(error_of(&drain(&mut ring, ms(100))), exhausted);
    }
}

#[test]
fn retry_is_bounded_by_max_attempts() {
    let config = Config { retry: retry_policy(2), ..sized(10, 10, 1) };
    let mut ring = ring(config);
    let first = fetches(&drain(&mut ring, T0)).remove(0);
    fail(&mut ring, T0, first.id, TransportError::Reset);
    ring.handle_timeout(ms(100));
    let second = fetches(&drain(&mut ring, ms(100))).remove(0);
    respond(&mut ring, ms(100), second.id, status(500));
    let error = error_of(&drain(&mut ring, ms(100)));
    assert_eq!(
        error,
        DownloadError::RetriesExhausted { range: Some(range(0, 10)), attempts: 2, last: Failure::Status(500) }
    );
}

#[test]
fn retry_does_not_disturb_delivered_ranges() {
    let config = Config { retry: retry_policy(3), ..sized(30, 10, 3) };
    let mut ring = ring(config);
    let all = fetches(&drain(&mut ring, T0));
    complete(&mut ring, T0, &all[0], 30);
    fail(&mut ring, T0, all[1].id, TransportError::Reset);
    complete(&mut ring, T0, &all[2], 30);
    let outputs = drain(&mut ring, T0);
    let delivered: Vec<_> = outputs
        .iter()
        .filter_map(|o| if let Output::Deliver { range, .. } = o { Some(*range) } else { None })
        .collect();
    assert_eq!(delivered, [range(0, 10)]);
    ring.handle_timeout(ms(100));
    let retry = fetches(&drain(&mut ring, ms(100))).remove(0);
    assert_eq!(retry.range, range(10, 20));
    complete(&mut ring, ms(100), &retry, 30);
    let outputs = drain(&mut ring, ms(100));
    let delivered: Vec<_> = outputs
        .iter()
        .filter_map(|o| if let Output::Deliver { range, .. } = o { Some(*range) } else { None })
        .collect();
    assert_eq!(delivered, [range(10, 20), range(20, 30)]);
    assert_eq!(done(&outputs).unwrap().as_ref().unwrap().bytes, 30);
}

#[test]
fn head_5xx_is_retried_and_4xx_is_an_error() {
    let config = Config { retry: retry_policy(2), ..Config::default() };
    let (mut ring, outputs) = head_then(config.clone(), status(503));
    assert!(outputs.is_empty());
    assert_eq!(ring.poll_timeout(), Some(ms(100)));
    ring.handle_timeout(ms(100));
    let outputs = drain(&mut ring, ms(100));
    let Some(Output::Head(again)) = outputs.first() else { panic!("{outputs:?}") };
    respond(&mut ring, ms(100), again.id, status(503));
    let error = error_of(&drain(&mut ring, ms(100)));
    assert!(matches!(error, DownloadError::RetriesExhausted { range: None, attempts: 2, .. }));

    let (_, outputs) = head_then(config.clone(), status(404));
    assert_eq!(error_of(&outputs), DownloadError::HeadStatus { status: 404 });
    let (_, outputs) = head_then(config, http::Response::builder().header("content-length", "x").body(()).unwrap());
    assert_eq!(error_of(&outputs), DownloadError::NoSize);
}

#[test]
fn size_zero_and_offset_past_the_end_finish_empty() {
    for config in [sized(0, 10, 2), Config { offset: 10, ..sized(10, 4, 2) }, Config { offset: 99, ..sized(10, 4, 2) }]
    {
        let mut ring = ring(config);
        let outputs = drain(&mut ring, T0);
        assert!(fetches(&outputs).is_empty());
        assert_eq!(done(&outputs).unwrap().as_ref().unwrap().bytes, 0);
    }
    let (_, outputs) = head_then(Config::default(), head_ok(0, &[]));
    assert_eq!(done(&outputs).unwrap().as_ref().unwrap().bytes, 0);
}

fn hedged(size: u64) -> Config {
    let hedge = Hedge { factor: 2.0, min_samples: 2, floor: Duration::ZERO };
    Config { hedge: Some(hedge), slots: Some(8), ..sized(size, 10, 2) }
}

#[test]
fn hedge_the_head_of_line_after_k_medians_first_finisher_wins() {
    let mut ring = ring(hedged(60));
    let a = fetches(&drain(&mut ring, T0));
    // Range 1 finishes in 10 ms, then ranges 2 and 3 too: the median is 10 ms; range 0 lags.
    complete(&mut ring, ms(10), &a[1], 60);
    let b = fetches(&drain(&mut ring, ms(10)));
    complete(&mut ring, ms(15), &b[0], 60);
    let c = fetches(&drain(&mut ring, ms(15)));
    assert!(c.iter().all(|f| !f.hedge), "range 0 is at 15 ms, not yet 2 × 10 ms");
    assert_eq!(ring.poll_timeout(), None, "both workers are busy");
    complete(&mut ring, ms(25), &c[0], 60);
    let d = fetches(&drain(&mut ring, ms(25)));
    // Now a worker is free but range 0 is due for a hedge only at 2 × 10 ms = 20 ms: it already is.
    let hedge = d.iter().find(|f| f.hedge).expect("a hedge of range 0");
    assert_eq!(hedge.range, a[0].range);
    assert_ne!(hedge.slot, a[0].slot);
    assert!(ring.in_flight() <= 2);
    // The hedge wins; the original is cancelled and range 0 is delivered once, from the hedge's slot.
    complete(&mut ring, ms(30), hedge, 60);
    let outputs = drain(&mut ring, ms(30));
    assert!(outputs.iter().any(|o| matches!(o, Output::Cancel(id) if *id == a[0].id)));
    let first =
        outputs.iter().find_map(|o| if let Output::Deliver { slot, range } = o { Some((*slot, *range)) } else { None });
    assert_eq!(first, Some((hedge.slot, a[0].range)));
    let refused = ring.handle_input(ms(30), Input::Body { id: a[0].id, received: 10, error: None });
    assert_eq!(refused, Err(Rejected::Input(InputError::UnexpectedCompletion(a[0].id))));
    assert_eq!(ring.summary().hedge_wins, 1);
}

#[test]
fn hedge_waits_for_its_due_time() {
    let mut ring = ring(Config { workers: 3, ..hedged(60) });
    let a = fetches(&drain(&mut ring, T0));
    complete(&mut ring, ms(10), &a[1], 60);
    complete(&mut ring, ms(10), &a[2], 60);
    // Median 10 ms, k = 2: range 0 (started at 0) is due at 20 ms; a worker is free? No: two
    // new ranges started; complete one so a worker frees.
    let b = fetches(&drain(&mut ring, ms(10)));
    complete(&mut ring, ms(12), &b[0], 60);
    let c = fetches(&drain(&mut ring, ms(12)));
    assert!(c.iter().all(|f| !f.hedge));
    if ring.in_flight() < 3 {
        assert_eq!(ring.poll_timeout(), Some(ms(20)));
        ring.handle_timeout(ms(20));
        assert!(fetches(&drain(&mut ring, ms(20))).iter().any(|f| f.hedge));
    }
}

#[test]
fn cancel_cancels_every_request_and_ends() {
    let mut ring = ring(sized(100, 10, 3));
    let all = fetches(&drain(&mut ring, T0));
    ring.handle_input(T0, Input::Cancel).unwrap();
    let outputs = drain(&mut ring, T0);
    let cancelled: Vec<RequestId> =
        outputs.iter().filter_map(|o| if let Output::Cancel(id) = o { Some(*id) } else { None }).collect();
    assert_eq!(cancelled.len(), all.len());
    assert_eq!(error_of(&outputs), DownloadError::Cancelled);
    assert_eq!(ring.handle_input(T0, Input::Cancel), Err(Rejected::Input(InputError::Finished)));
    assert_eq!(ring.poll_timeout(), None);
}

#[test]
fn inputs_that_do_not_fit_are_refused_and_change_nothing() {
    let mut ring = ring(sized(20, 10, 1));
    let fetch = fetches(&drain(&mut ring, T0)).remove(0);
    let stray = RequestId(99);
    assert_eq!(
        ring.handle_input(T0, Input::Body { id: fetch.id, received: 10, error: None }),
        Err(Rejected::Input(InputError::UnexpectedCompletion(fetch.id))),
        "a body before its head"
    );
    assert!(ring.handle_input(T0, Input::Body { id: stray, received: 1, error: None }).is_err());
    assert_eq!(ring.handle_input(T0, Input::Release(Slot(0))), Err(Rejected::NotDelivered(Slot(0))));
    assert_eq!(ring.handle_input(T0, Input::Release(Slot(77))), Err(Rejected::NotDelivered(Slot(77))));
    assert!(drain(&mut ring, T0).is_empty());
    complete(&mut ring, T0, &fetch, 20);
}

#[test]
fn configs_that_cannot_run_are_refused() {
    let new = |config: Config| RingSlot::new(T0, URI.parse().unwrap(), config).err();
    assert_eq!(new(Config { workers: 0, ..Config::default() }), Some(ConfigError::NoWorkers));
    assert_eq!(
        new(Config { workers: 4, slots: Some(3), ..Config::default() }),
        Some(ConfigError::TooFewSlots { slots: 3, workers: 4 })
    );
    assert_eq!(new(Config { chunk: Some(0), ..Config::default() }), Some(ConfigError::ZeroChunk));
    let retry = Retry { max_attempts: 0, ..RANGE_RETRY };
    assert_eq!(new(Config { retry, ..Config::default() }), Some(ConfigError::NoAttempts));
    let retry = Retry { jitter: true, ..RANGE_RETRY };
    assert_eq!(new(Config { retry, ..Config::default() }), Some(ConfigError::Jitter));
    let hedge = Hedge { factor: f64::NAN, ..Hedge::default() };
    assert!(matches!(new(Config { hedge: Some(hedge), ..Config::default() }), Some(ConfigError::HedgeFactor(_))));
}

#[test]
fn huge_objects_need_no_memory_up_front() {
    let mut ring = ring(Config { delivery: Delivery::WholeObject, ..sized(u64::MAX, 1, 2) });
    let outputs = drain(&mut ring, T0);
    assert!(matches!(outputs[0], Output::Plan(Plan { size: u64::MAX, .. })));
    assert_eq!(fetches(&outputs).len(), 2);
}

#[test]
fn hedge_keeps_a_slot_free_so_a_straggler_behind_a_full_window_is_hedged() {
    let hedge = Hedge { factor: 2.0, min_samples: 2, floor: Duration::ZERO };
    let mut ring = ring(Config { hedge: Some(hedge), slots: Some(4), ..sized(1000, 10, 2) });
    let mut pending = fetches(&drain(&mut ring, T0));
    let straggler = pending.remove(0);
    // Everything behind range 0 finishes fast and nothing can be delivered: new ranges stop at
    // slots − 1, and the last slot goes to the hedge of range 0.
    let (mut t, mut hedges) = (0, Vec::new());
    while let Some(fetch) = pending.pop() {
        t += 1;
        complete(&mut ring, ms(t), &fetch, 1000);
        let (hedged, plain): (Vec<_>, Vec<_>) = fetches(&drain(&mut ring, ms(t))).into_iter().partition(|f| f.hedge);
        hedges.extend(hedged);
        pending.extend(plain);
    }
    if hedges.is_empty() {
        let due = ring.poll_timeout().expect("a hedge is due");
        ring.handle_timeout(due);
        hedges.extend(fetches(&drain(&mut ring, due)).into_iter().filter(|f| f.hedge));
    }
    assert_eq!(hedges.len(), 1);
    assert_eq!(hedges[0].range, straggler.range);
    assert_eq!(ring.slots_in_use(), 4);
}

#[test]
fn a_huge_hedge_factor_means_never_not_a_panic() {
    let hedge = Hedge { factor: 1e300, min_samples: 1, floor: Duration::ZERO };
    let mut ring = ring(Config { hedge: Some(hedge), ..sized(100, 10, 2) });
    let all = fetches(&drain(&mut ring, T0));
    complete(&mut ring, ms(1), &all[1], 100);
    assert!(fetches(&drain(&mut ring, ms(1))).iter().all(|f| !f.hedge));
    assert_eq!(ring.poll_timeout(), None, "both workers busy");
}

#[test]
fn defaults_are_the_tuned_download_policy() {
    let config = Config::default();
    assert_eq!((config.workers, config.slot_count(), config.chunk), (8, 16, None));
    assert_eq!(config.retry, RANGE_RETRY);
    assert_eq!(RANGE_RETRY.max_attempts, 5);
    let waits: Vec<_> = (1..=5).map(|k| RANGE_RETRY.backoff.delay(k).as_millis()).collect();
    assert_eq!(waits, [20, 40, 80, 160, 320]);
    assert_eq!(config.hedge, Some(Hedge::default()));
    assert_eq!(Hedge::default(), Hedge { factor: 3.0, min_samples: 4, floor: Duration::from_millis(50) });
}

#[test]
fn every_head_is_answered_by_one_receive_or_cancel() {
    // Accepted: read the body into the fetch's own slot.
    let mut accepted = ring(sized(20, 10, 2));
    let all = fetches(&drain(&mut accepted, T0));
    respond(&mut accepted, T0, all[0].id, partial(all[0].range, 20));
    let outputs = drain(&mut accepted, T0);
    assert!(
        matches!(outputs[..], [Output::Receive(r)] if (r.id, r.slot, r.range) == (all[0].id, all[0].slot, all[0].range)),
        "{outputs:?}"
    );
    // Retryable: dropped (and retried later).
    respond(&mut accepted, T0, all[1].id, status(503));
    let outputs = drain(&mut accepted, T0);
    assert!(matches!(outputs[..], [Output::Cancel(id)] if id == all[1].id), "{outputs:?}");
    // Fatal: dropped with everything else.
    let mut fatal = ring(sized(20, 10, 2));
    let all = fetches(&drain(&mut fatal, T0));
    respond(&mut fatal, T0, all[0].id, status(416));
    let outputs = drain(&mut fatal, T0);
    for fetch in &all {
        assert_eq!(outputs.iter().filter(|o| matches!(o, Output::Cancel(id) if *id == fetch.id)).count(), 1);
    }
    assert!(!outputs.iter().any(|o| matches!(o, Output::Receive(_))));
}

#[test]
fn a_download_starts_at_the_now_it_is_made() {
    // Ranges fetched at once by `new` are timed from its `now`: a hedge of range 0 is due two
    // medians after 1 s, not after the epoch.
    let hedge = Hedge { factor: 2.0, min_samples: 1, floor: Duration::ZERO };
    let config = Config { hedge: Some(hedge), slots: Some(8), ..sized(20, 10, 2) };
    let mut ring = RingSlot::new(ms(1000), URI.parse().unwrap(), config).unwrap();
    let all = fetches(&drain(&mut ring, ms(1000)));
    complete(&mut ring, ms(1010), &all[1], 20);
    assert!(fetches(&drain(&mut ring, ms(1010))).is_empty(), "range 0 is 10 ms old, not yet 2 × 10 ms");
    assert_eq!(ring.poll_timeout(), Some(ms(1020)));
}

/// A download of unknown size: 4-byte ranges, two workers, no hedging.
fn unsized_config() -> Config {
    Config { chunk: Some(4), workers: 2, hedge: None, ..Config::default() }
}

fn answer(status: u16, content_range: Option<&str>) -> http::Response<()> {
    let mut builder = http::Response::builder().status(status);
    if let Some(value) = content_range {
        builder = builder.header("content-range", value);
    }
    builder.body(()).unwrap()
}

#[test]
fn size_unknown_the_first_range_asks_without_a_head_and_its_answer_gives_the_size() {
    let mut ring = ring(unsized_config());
    let outputs = drain(&mut ring, T0);
    assert!(
        matches!(outputs[..], [Output::Fetch(stowage_ringslot::Fetch { range: ByteRange { start: 0, end: 4 }, .. })]),
        "{outputs:?}"
    );
    assert_eq!(ring.plan(), None);
    let first = fetches(&outputs)[0];
    respond(&mut ring, T0, first.id, partial(first.range, 10));
    let outputs = drain(&mut ring, T0);
    assert!(matches!(outputs[0], Output::Plan(Plan { size: 10, start: 0, end: 10, chunk: 4 })), "{outputs:?}");
    assert!(matches!(outputs[1], Output::Receive(r) if (r.id, r.slot, r.range) == (first.id, first.slot, first.range)));
    assert_eq!(fetches(&outputs).iter().map(|f| f.range).collect::<Vec<_>>(), [range(4, 8)]);
    body(&mut ring, T0, first.id, 4, None);
    let delivered =
        drain(&mut ring, T0).into_iter().any(|o| matches!(o, Output::Deliver { range: r, .. } if r == first.range));
    assert!(delivered);
    assert_eq!(ring.summary().requests, 3, "the first range is a range request like the others");
}

#[test]
fn the_first_range_of_a_smaller_object_is_cut_at_its_end() {
    let mut ring = ring(Config { offset: 1, ..unsized_config() });
    let first = fetches(&drain(&mut ring, T0))[0];
    assert_eq!(first.range, range(1, 5));
    respond(&mut ring, T0, first.id, partial(range(1, 3), 3));
    let outputs = drain(&mut ring, T0);
    assert!(matches!(outputs[0], Output::Plan(Plan { size: 3, start: 1, end: 3, .. })));
    assert!(matches!(outputs[1], Output::Receive(r) if r.range == range(1, 3)));
    body(&mut ring, T0, first.id, 2, None);
    assert_eq!(done(&drain(&mut ring, T0)).unwrap().as_ref().unwrap().bytes, 2);
}

#[test]
fn an_empty_object_or_an_offset_past_its_end_is_a_416_and_nothing_to_do() {
    for (offset, size) in [(0, 0), (10, 5), (5, 5)] {
        let mut ring = ring(Config { offset, ..unsized_config() });
        let first = fetches(&drain(&mut ring, T0))[0];
        respond(&mut ring, T0, first.id, answer(416, Some(&format!("bytes */{size}"))));
        let outputs = drain(&mut ring, T0);
        assert!(matches!(outputs[0], Output::Plan(Plan { size: s, .. }) if s == size), "{outputs:?}");
        assert!(outputs.iter().any(|o| matches!(o, Output::Cancel(id) if *id == first.id)));
        assert_eq!(done(&outputs).unwrap().as_ref().unwrap().bytes, 0);
    }
    // A 416 without a `Content-Range` (as S3 answers for an empty object): from byte 0 it says
    // there is no byte; from further on, how many there are is not known.
    let mut empty = ring(unsized_config());
    let first = fetches(&drain(&mut empty, T0))[0];
    respond(&mut empty, T0, first.id, answer(416, None));
    let outputs = drain(&mut empty, T0);
    assert!(matches!(outputs[0], Output::Plan(Plan { size: 0, .. })), "{outputs:?}");
    assert_eq!(done(&outputs).unwrap().as_ref().unwrap().bytes, 0);
    let mut past = ring(Config { offset: 5, ..unsized_config() });
    let first = fetches(&drain(&mut past, T0))[0];
    respond(&mut past, T0, first.id, answer(416, None));
    assert_eq!(error_of(&drain(&mut past, T0)), DownloadError::NoSize);
    // A 416 although the object has bytes there is an error.
    let mut ring = ring(unsized_config());
    let first = fetches(&drain(&mut ring, T0))[0];
    respond(&mut ring, T0, first.id, answer(416, Some("bytes */10")));
    assert_eq!(error_of(&drain(&mut ring, T0)), DownloadError::Status { range: range(0, 4), status: 416 });
}

#[test]
fn the_first_range_is_retried_before_the_size_is_known() {
    let config = Config { retry: retry_policy(2), ..unsized_config() };
    let mut ring = ring(config);
    let first = fetches(&drain(&mut ring, T0))[0];
    respond(&mut ring, T0, first.id, status(503));
    let outputs = drain(&mut ring, T0);
    assert!(matches!(outputs[..], [Output::Cancel(id)] if id == first.id), "{outputs:?}");
    assert_eq!(ring.poll_timeout(), Some(ms(100)));
    ring.handle_timeout(ms(100));
    let again = fetches(&drain(&mut ring, ms(100)))[0];
    assert_eq!((again.range, again.slot), (first.range, first.slot));
    fail(&mut ring, ms(100), again.id, TransportError::Reset);
    let error = error_of(&drain(&mut ring, ms(100)));
    let last = Failure::Transport(TransportError::Reset);
    assert_eq!(error, DownloadError::RetriesExhausted { range: Some(range(0, 4)), attempts: 2, last });
}

#[test]
fn hostile_first_answers_are_typed_errors() {
    let wrong = |got: &str| DownloadError::WrongRange { range: range(0, 4), got: got.to_owned() };
    for (answer, expected) in [
        (answer(206, Some("bytes 0-3/*")), wrong("bytes 0-3/*")),
        (answer(206, Some("bytes 1-3/10")), wrong("bytes 1-3/10")),
        (answer(206, Some("bytes 0-4/10")), wrong("bytes 0-4/10")),
        (answer(206, Some("bytes 0-2/10")), wrong("bytes 0-2/10")),
        (answer(206, Some("bytes 0-3/2")), wrong("bytes 0-3/2")),
        (answer(206, None), wrong("")),
        (answer(200, None), DownloadError::NoSize),
        (answer(416, Some("bytes */x")), DownloadError::NoSize),
        (answer(404, None), DownloadError::Status { range: range(0, 4), status: 404 }),
    ] {
        let mut ring = ring(unsized_config());
        let first = fetches(&drain(&mut ring, T0))[0];
        respond(&mut ring, T0, first.id, answer);
        let outputs = drain(&mut ring, T0);
        assert_eq!(error_of(&outputs), expected);
        assert!(outputs.iter().any(|o| matches!(o, Output::Cancel(id) if *id == first.id)));
    }
}

#[test]
fn a_head_only_when_asked_or_when_no_range_could_be() {
    let (_, outputs) = head_then(unsized_config(), head_ok(10, &[]));
    assert!(matches!(outputs[0], Output::Plan(Plan { size: 10, .. })));
    // An empty span (end at the offset) has no first range to ask for: a HEAD gives the size.
    let mut ring = ring(Config { offset: 3, end: Some(3), ..unsized_config() });
    assert!(matches!(drain(&mut ring, T0)[..], [Output::Head(_)]));
}
