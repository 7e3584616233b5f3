//! Parsing the job API's answers: lenient where the reference is, typed errors naming what
//! was wrong for everything else. Hostile bodies are test cases.

use stowage_proto::ais::Timestamp;
use stowage_proto::ais::job::{Body, JobStatus, Snapshots};

fn snapshots_error(body: &str) -> String {
    let Err(error) = Snapshots::parse(body.as_bytes()) else { panic!("{body:.100} parsed") };
    assert_eq!(error.body, Body::Snapshots);
    error.to_string()
}

#[test]
fn unknown_fields_are_ignored_and_missing_ones_defaulted() {
    let body = r#"{"t1":[{"id":"j","future-field":{"deep":[1,2,3]},"kind":"lru"}],"t2":[{}]}"#;
    let snaps = Snapshots::parse(body.as_bytes()).unwrap();
    let all: Vec<_> = snaps.iter().collect();
    assert_eq!(all.len(), 2);
    assert_eq!((all[0].kind.as_str(), all[0].aborted, all[0].end_time), ("lru", false, None));
    assert_eq!(all[1].id, "");
}

#[test]
fn null_targets_null_fields_and_a_null_body_are_defaults() {
    let snaps =
        Snapshots::parse(br#"{"t1":null,"t2":[{"aborted":null,"stats":null,"end-time":null,"bck":null}]}"#).unwrap();
    assert_eq!(snaps.targets().len(), 2);
    assert!(snaps.targets()[0].snaps.is_empty());
    assert!(!snaps.any_aborted());
    assert_eq!(Snapshots::parse(b"null").unwrap(), Snapshots::default());
    assert_eq!(JobStatus::parse(br#"{"uuid":null,"end_time":null}"#).unwrap(), JobStatus::default());
}

#[test]
fn go_zero_time_and_nanosecond_times() {
    let body = r#"{"t":[{"start-time":"2026-11-23T17:43:05.123456789+02:00","end-time":"0001-01-01T00:00:00Z"}]}"#;
    let snaps = Snapshots::parse(body.as_bytes()).unwrap();
    let snap = snaps.iter().next().unwrap();
    assert_eq!(snap.end_time, None);
    assert_eq!(snap.start_time, Timestamp::parse_rfc3339("2026-11-23T15:43:05.123456789Z").ok());
}

#[test]
fn a_target_named_twice_keeps_its_first_place_and_last_value() {
    let snaps = Snapshots::parse(br#"{"a":[{"kind":"x"}],"b":[],"a":[{"kind":"y"}]}"#).unwrap();
    let names: Vec<_> = snaps.targets().iter().map(|t| t.target.as_str()).collect();
    assert_eq!(names, ["a", "b"]);
    assert_eq!(snaps.first_kind(), Some("y"));
}

#[test]
fn wrong_types_name_the_target_and_the_field() {
    let message = snapshots_error(r#"{"t7":[{"is_idle":"yes"}]}"#);
    assert!(message.contains(r#"target "t7""#) && message.contains("field `is_idle`"), "{message}");
    assert!(message.contains("expected a boolean"), "{message}");
    let message = snapshots_error(r#"{"t1":[{"stats":{"loc-objs":"many"}}]}"#);
    assert!(message.contains("field `stats`") && message.contains("field `loc-objs`"), "{message}");
    let message = snapshots_error(r#"{"t1":[{"end-time":"last tuesday"}]}"#);
    assert!(message.contains("field `end-time`") && message.contains("invalid RFC 3339 time"), "{message}");
    let message = snapshots_error(r#"{"t1":{"id":"j"}}"#);
    assert!(message.contains(r#"target "t1""#) && message.contains("expected a sequence"), "{message}");
    let error = JobStatus::parse(br#"{"end_time":"0"}"#).unwrap_err();
    assert_eq!(error.body, Body::Status);
    assert!(error.to_string().contains("field `end_time`"), "{error}");
}

#[test]
fn malformed_json_is_a_typed_error_with_a_position() {
    for body in ["", "{", r#"{"t1":[{"id":"j"}"#, "[]", "42", r#""text""#, "{\"t1\":[]} trailing", "NaN", "\u{feff}{}"]
    {
        let message = snapshots_error(body);
        assert!(message.starts_with("malformed job snapshots JSON: "), "{body:?}: {message}");
    }
    let invalid_utf8 = b"{\"t1\":[{\"id\":\"\xff\xfe\"}]}";
    assert!(Snapshots::parse(invalid_utf8).is_err());
}

#[test]
fn numbers_out_of_range_are_errors_not_wraps() {
    assert!(snapshots_error(r#"{"t":[{"glob.id":1e400}]}"#).contains("glob.id"));
    assert!(snapshots_error(r#"{"t":[{"glob.id":18446744073709551616}]}"#).contains("glob.id"));
    assert!(JobStatus::parse(br#"{"end_time":9223372036854775808}"#).is_err());
    let status = JobStatus::parse(br#"{"end_time":-9223372036854775808}"#).unwrap();
    assert!(status.has_ended() && status.end_timestamp().is_none());
}

#[test]
fn deep_nesting_never_overflows_the_stack() {
    let (open, close) = ("[".repeat(100_000), "]".repeat(100_000));
    // In an unknown field: skipped.
    let ignored = format!(r#"{{"t":[{{"x":{open}{close}}}]}}"#);
    assert_eq!(Snapshots::parse(ignored.as_bytes()).map(|s| s.len()).ok(), Some(1));
    // In a known field, or as the body: the wrong type, said at once.
    let in_stats = format!(r#"{{"t":[{{"stats":{open}{close}}}]}}"#);
    assert!(Snapshots::parse(in_stats.as_bytes()).is_err_and(|e| e.to_string().contains("field `stats`")));
    let body = format!("{open}{close}");
    assert!(Snapshots::parse(body.as_bytes()).is_err());
    let unclosed = format!(r#"{{"t":[{{"x":{open}"#);
    assert!(Snapshots::parse(unclosed.as_bytes()).is_err());
}

#[test]
fn large_bodies_parse_in_one_pass() {
    let snap = r#"{"id":"j","kind":"copy-listrange","is_idle":true}"#;
    let targets: Vec<String> = (0..2_000).map(|t| format!(r#""t{t}":[{snap},{snap}]"#)).collect();
    let body = format!("{{{}}}", targets.join(","));
    let snaps = Snapshots::parse(body.as_bytes()).unwrap();
    assert_eq!(snaps.len(), 4_000);
    assert!(snaps.all_idle());
}
