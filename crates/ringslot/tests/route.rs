//! Where requests go: the object's URL, or the node a redirect (or the caller) names — learned
//! once, then asked directly; forgotten when it refuses or no longer has the object.

mod support;

use std::time::Duration;

use stowage_proto::redirect::RedirectError;
use stowage_proto::{Backoff, Instant, Machine, Retry, TransportError};
use stowage_ringslot::{ByteRange, Config, DownloadError, Fetch, Output, RingSlot};

use support::{body, drain, fail, fetches, head_ok, partial, respond, status};

const T0: Instant = Instant::ZERO;
const PROXY: &str = "http://proxy:8080/v1/objects/b/o?provider=ais";
const TARGET: &str = "http://t2:9000/v1/objects/b/o?provider=ais&pid=p1&utm=1";

fn config() -> Config {
    Config {
        size: Some(40),
        chunk: Some(10),
        workers: 2,
        hedge: None,
        retry: Retry {
            max_attempts: 3,
            backoff: Backoff { multiplier: 0.01, min: Duration::from_millis(10), max: Duration::from_millis(40) },
            jitter: false,
        },
        ..Config::default()
    }
}

fn machine(config: Config) -> RingSlot {
    RingSlot::new(T0, PROXY.parse().unwrap(), config).unwrap()
}

fn redirect(location: Option<&str>) -> http::Response<()> {
    let mut builder = http::Response::builder().status(307);
    if let Some(location) = location {
        builder = builder.header("location", location);
    }
    builder.body(()).unwrap()
}

fn error_of(outputs: &[Output]) -> DownloadError {
    outputs.iter().find_map(|o| if let Output::Done(Err(e)) = o { Some(e.clone()) } else { None }).expect("an error")
}

/// Answers `fetch` correctly and whole.
fn complete(ring: &mut RingSlot, fetch: &Fetch) {
    respond(ring, T0, fetch.id, partial(fetch.range, 40));
    body(ring, T0, fetch.id, fetch.range.len(), None);
}

#[test]
fn a_redirect_is_followed_at_once_and_learned_for_every_later_range() {
    let mut ring = machine(config());
    let first = fetches(&drain(&mut ring, T0));
    assert!(first.iter().all(|f| ring.uri_for(f) == PROXY));
    respond(&mut ring, T0, first[0].id, redirect(Some(TARGET)));
    let outputs = drain(&mut ring, T0);
    assert!(outputs.iter().any(|o| matches!(o, Output::Cancel(id) if *id == first[0].id)), "its body is not read");
    let again = fetches(&outputs)[0];
    assert_eq!((again.range, again.slot), (first[0].range, first[0].slot), "the same range, at once");
    assert_eq!(ring.uri_for(&again), TARGET);
    assert_eq!(ring.target().unwrap(), TARGET);
    // The other request, sent before anything was learned, is redirected too; later ranges
    // are not.
    respond(&mut ring, T0, first[1].id, redirect(Some(TARGET)));
    let second = fetches(&drain(&mut ring, T0))[0];
    complete(&mut ring, &again);
    let later = fetches(&drain(&mut ring, T0));
    assert!(later.iter().all(|f| ring.uri_for(f) == TARGET), "straight to the target");
    complete(&mut ring, &second);
    let mut pending = later;
    pending.extend(fetches(&drain(&mut ring, T0)));
    while let Some(fetch) = pending.pop() {
        complete(&mut ring, &fetch);
        pending.extend(fetches(&drain(&mut ring, T0)));
    }
    let summary = ring.summary();
    assert_eq!((summary.bytes, summary.redirects, summary.requests, summary.retries), (40, 2, 6, 0));
}

#[test]
fn a_relative_location_is_read_against_the_url_it_answers() {
    let mut ring = machine(config());
    let first = fetches(&drain(&mut ring, T0))[0];
    respond(&mut ring, T0, first.id, redirect(Some("/elsewhere/o")));
    let again = fetches(&drain(&mut ring, T0))[0];
    assert_eq!(ring.uri_for(&again), "http://proxy:8080/elsewhere/o");
    // Against an origin-form URL, only an absolute one can be.
    let mut ring = RingSlot::new(T0, "/v1/objects/b/o".parse().unwrap(), config()).unwrap();
    let first = fetches(&drain(&mut ring, T0))[0];
    respond(&mut ring, T0, first.id, redirect(Some("/elsewhere/o")));
    let error = error_of(&drain(&mut ring, T0));
    assert_eq!(error, DownloadError::Redirect { range: Some(first.range), error: RedirectError::NotAbsolute });
}

#[test]
fn redirects_that_cannot_be_followed_end_the_download() {
    for (location, expected) in [
        (None, RedirectError::MissingLocation),
        (Some("ftp://t2/o"), RedirectError::UnsupportedScheme),
        (Some("http://bad host/o"), RedirectError::InvalidLocation),
        (Some(PROXY), RedirectError::Loop),
    ] {
        let mut ring = machine(config());
        let first = fetches(&drain(&mut ring, T0))[0];
        respond(&mut ring, T0, first.id, redirect(location));
        let error = error_of(&drain(&mut ring, T0));
        assert_eq!(error, DownloadError::Redirect { range: Some(first.range), error: expected }, "{location:?}");
    }
    // A chain that never ends.
    let mut ring = machine(config());
    let mut fetch = fetches(&drain(&mut ring, T0))[0];
    for hop in 0.. {
        respond(&mut ring, T0, fetch.id, redirect(Some(&format!("http://t{hop}:9000/o"))));
        let outputs = drain(&mut ring, T0);
        if let Some(Output::Done(result)) = outputs.last() {
            let error = result.clone().unwrap_err();
            assert_eq!(error, DownloadError::Redirect { range: Some(fetch.range), error: RedirectError::TooManyHops });
            assert_eq!(hop, 10, "ten hops followed");
            break;
        }
        fetch = fetches(&outputs)[0];
    }
}

#[test]
fn a_target_that_refuses_or_lost_the_object_is_forgotten_and_the_range_asked_through_the_proxy() {
    for answer in [Err(TransportError::ConnectRefused), Ok(status(404))] {
        let mut ring = machine(Config { target: Some(TARGET.parse().unwrap()), size: Some(10), ..config() });
        let first = fetches(&drain(&mut ring, T0));
        assert!(first.iter().all(|f| ring.uri_for(f) == TARGET), "straight to the given target");
        match answer.clone() {
            Ok(response) => respond(&mut ring, T0, first[0].id, response),
            Err(error) => fail(&mut ring, T0, first[0].id, error),
        }
        assert!(ring.target().is_none(), "forgotten");
        let outputs = drain(&mut ring, T0);
        assert!(outputs.iter().any(|o| matches!(o, Output::Cancel(id) if *id == first[0].id)));
        let due = ring.poll_timeout().expect("a retry");
        ring.handle_timeout(due);
        let retry = fetches(&drain(&mut ring, due))[0];
        assert_eq!(
            (retry.range, ring.uri_for(&retry).to_string()),
            (first[0].range, PROXY.to_owned()),
            "through the proxy"
        );
        // The proxy points at the object's new owner: learned, and the range goes there.
        respond(&mut ring, due, retry.id, redirect(Some("http://t3:9000/o")));
        let moved = fetches(&drain(&mut ring, due))[0];
        assert_eq!(ring.uri_for(&moved), "http://t3:9000/o");
        assert_eq!(ring.summary().retries, 1);
    }
    // A 404 through the proxy is the object's absence: an error, as ever.
    let mut ring = machine(config());
    let first = fetches(&drain(&mut ring, T0))[0];
    respond(&mut ring, T0, first.id, status(404));
    assert_eq!(error_of(&drain(&mut ring, T0)), DownloadError::Status { range: first.range, status: 404 });
}

#[test]
fn the_first_range_and_the_head_follow_redirects_too() {
    // The first range, before the size is known.
    let mut ring = machine(Config { size: None, ..config() });
    let probe = fetches(&drain(&mut ring, T0))[0];
    respond(&mut ring, T0, probe.id, redirect(Some(TARGET)));
    let again = fetches(&drain(&mut ring, T0))[0];
    assert_eq!((again.range, ring.uri_for(&again).to_string()), (probe.range, TARGET.to_owned()));
    respond(&mut ring, T0, again.id, partial(ByteRange { start: 0, end: 10 }, 40));
    let outputs = drain(&mut ring, T0);
    assert!(outputs.iter().any(|o| matches!(o, Output::Plan(p) if p.size == 40)));
    assert!(fetches(&outputs).iter().all(|f| ring.uri_for(f) == TARGET));
    // The HEAD.
    let mut ring = machine(Config { size: None, head: true, ..config() });
    let Some(Output::Head(head)) = drain(&mut ring, T0).into_iter().next() else { panic!("a HEAD") };
    respond(&mut ring, T0, head.id, redirect(Some(TARGET)));
    let Some(Output::Head(again)) = drain(&mut ring, T0).into_iter().next() else { panic!("the HEAD again") };
    assert_eq!(again.request.uri(), TARGET);
    respond(&mut ring, T0, again.id, head_ok(40, &[]));
    assert!(fetches(&drain(&mut ring, T0)).iter().all(|f| ring.uri_for(f) == TARGET));
}

#[test]
fn not_learning_pays_a_redirect_per_range_as_the_sdk_does() {
    let mut ring = machine(Config {
        learn_target: false,
        workers: 1,
        delivery: stowage_ringslot::Delivery::WholeObject,
        ..config()
    });
    let mut fetch = fetches(&drain(&mut ring, T0))[0];
    loop {
        assert_eq!(ring.uri_for(&fetch), PROXY, "each range asks the proxy");
        respond(&mut ring, T0, fetch.id, redirect(Some(TARGET)));
        let again = fetches(&drain(&mut ring, T0))[0];
        assert_eq!(ring.uri_for(&again), TARGET);
        complete(&mut ring, &again);
        match fetches(&drain(&mut ring, T0)).first() {
            Some(next) => fetch = *next,
            None => break,
        }
    }
    assert_eq!((ring.summary().bytes, ring.summary().redirects), (40, 4));
}
