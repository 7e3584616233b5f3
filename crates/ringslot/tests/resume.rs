//! Continuing an interrupted whole-object download ([`Config::resume`]): only the missing ranges
//! are fetched, every range is in the destination once, and an object that changed since is
//! refused.

mod support;

use std::collections::BTreeSet;

use proptest::prelude::*;
use stowage_proto::Instant;
use stowage_ringslot::{ByteRange, Config, ConfigError, Delivery, DownloadError, Output, Resume, RingSlot, Summary};

use support::{URI, body, drain, fetches, partial, partial_with, respond};

const T0: Instant = Instant::ZERO;

fn resumed(size: u64, chunk: u64, done: impl IntoIterator<Item = u64>, workers: u32) -> Result<RingSlot, ConfigError> {
    let resume = Resume {
        size,
        chunk,
        etag: Some("\"v1\"".into()),
        version: Some("1".into()),
        done: done.into_iter().collect(),
    };
    let config =
        Config { delivery: Delivery::WholeObject, workers, hedge: None, resume: Some(resume), ..Config::default() };
    RingSlot::new(T0, URI.parse().unwrap(), config)
}

const SAME: [(&str, &str); 2] = [("etag", "\"v1\""), ("ais-version", "1")];

/// Answers every fetch in full, as the object `SAME` describes, until the download ends: the
/// ranges fetched, in order, and the outcome.
fn run(ring: &mut RingSlot, size: u64) -> (Vec<ByteRange>, Result<Summary, DownloadError>) {
    let mut fetched = Vec::new();
    let mut outputs = drain(ring, T0);
    loop {
        if let Some(result) = outputs.iter().find_map(|o| if let Output::Done(r) = o { Some(r.clone()) } else { None })
        {
            return (fetched, result);
        }
        let asked = fetches(&outputs);
        assert!(!asked.is_empty(), "stalled: {outputs:?}");
        for fetch in asked {
            fetched.push(fetch.range);
            respond(ring, T0, fetch.id, partial_with(fetch.range, size, &SAME));
            body(ring, T0, fetch.id, fetch.range.len(), None);
        }
        outputs = drain(ring, T0);
    }
}

#[test]
fn only_the_missing_ranges_are_fetched() {
    let mut ring = resumed(10, 2, [0, 2, 3], 2).unwrap();
    let (fetched, result) = run(&mut ring, 10);
    assert_eq!(fetched, [ByteRange { start: 2, end: 4 }, ByteRange { start: 8, end: 10 }]);
    let summary = result.unwrap();
    assert_eq!((summary.bytes, summary.resumed, summary.ranges), (4, 6, 2));
}

#[test]
fn a_download_with_every_range_done_ends_at_once() {
    let mut ring = resumed(10, 4, [0, 1, 2], 1).unwrap();
    let (fetched, result) = run(&mut ring, 10);
    assert!(fetched.is_empty());
    assert_eq!(result.unwrap().resumed, 10);
}

#[test]
fn an_object_that_changed_since_is_refused() {
    for (extra, header) in [
        ([("etag", "\"v2\""), ("ais-version", "1")], "ETag"),
        ([("etag", "\"v1\""), ("ais-version", "2")], "ais-version"),
    ] {
        let mut ring = resumed(10, 5, [0], 1).unwrap();
        let fetch = fetches(&drain(&mut ring, T0))[0];
        respond(&mut ring, T0, fetch.id, partial_with(fetch.range, 10, &extra));
        let outputs = drain(&mut ring, T0);
        let error = outputs.iter().find_map(|o| if let Output::Done(Err(e)) = o { Some(e.clone()) } else { None });
        assert!(matches!(error, Some(DownloadError::ObjectChanged { header: h, .. }) if h == header), "{outputs:?}");
    }
    // Another size.
    let mut ring = resumed(10, 5, [0], 1).unwrap();
    let fetch = fetches(&drain(&mut ring, T0))[0];
    respond(&mut ring, T0, fetch.id, partial(fetch.range, 11));
    let outputs = drain(&mut ring, T0);
    assert!(outputs.iter().any(|o| matches!(o, Output::Done(Err(_)))), "{outputs:?}");
}

#[test]
fn only_a_whole_object_download_resumes() {
    let resume = Some(Resume { size: 10, chunk: 5, ..Resume::default() });
    for config in [
        Config { resume: resume.clone(), ..Config::default() },
        Config { resume: resume.clone(), delivery: Delivery::WholeObject, offset: 1, ..Config::default() },
        Config { resume: resume.clone(), delivery: Delivery::WholeObject, end: Some(5), ..Config::default() },
    ] {
        assert_eq!(RingSlot::new(T0, URI.parse().unwrap(), config).err(), Some(ConfigError::ResumeNotWhole));
    }
    let zero = Some(Resume { size: 10, chunk: 0, ..Resume::default() });
    let config = Config { resume: zero, delivery: Delivery::WholeObject, ..Config::default() };
    assert_eq!(RingSlot::new(T0, URI.parse().unwrap(), config).err(), Some(ConfigError::ZeroChunk));
    // Done ranges past the end (a journal of a larger object) are not counted.
    let mut ring = resumed(10, 5, [1, 7], 1).unwrap();
    let (fetched, result) = run(&mut ring, 10);
    assert_eq!((fetched.len(), result.unwrap().resumed), (1, 5));
}

proptest! {
    /// Every range is in the destination exactly once: fetched now or done before.
    #[test]
    fn fetched_and_done_ranges_cover_the_object_once(
        size in 1u64..200,
        chunk in 1u64..40,
        done in proptest::collection::btree_set(0u64..60, 0..30),
        workers in 1u32..5,
    ) {
        let ranges = size.div_ceil(chunk);
        let mut ring = resumed(size, chunk, done.clone(), workers).unwrap();
        let (fetched, result) = run(&mut ring, size);
        let summary = result.unwrap();
        let done: BTreeSet<u64> = done.into_iter().filter(|&i| i < ranges).collect();
        let fetched_indices: BTreeSet<u64> = fetched.iter().map(|r| r.start / chunk).collect();
        prop_assert_eq!(fetched_indices.len(), fetched.len(), "a range fetched twice");
        prop_assert!(fetched_indices.is_disjoint(&done), "a done range fetched again");
        prop_assert_eq!(fetched_indices.len() as u64 + done.len() as u64, ranges);
        prop_assert_eq!(summary.bytes + summary.resumed, size);
    }
}
