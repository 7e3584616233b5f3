//! The cluster's error answers: its message quoted, and bounded. (The parsing of the job JSON
//! is tested with it, in `stowage-proto`.)

use stowage_jobwait::{JobError, response_body};

#[test]
fn error_bodies_are_quoted_at_most_512_bytes() {
    let long = format!(r#"{{"message":"{}"}}"#, "é".repeat(1_000));
    let response = http::Response::builder().status(500).body(bytes::Bytes::from(long)).unwrap();
    let Err(JobError::Status { status, message }) = response_body(&response) else { panic!() };
    assert_eq!(status.as_u16(), 500);
    assert!(message.len() <= 512 + '…'.len_utf8() && message.ends_with('…'));
}
