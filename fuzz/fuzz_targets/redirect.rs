//! Fuzzes `Redirects::follow` with any method, any chain of answers (any status, any
//! `Location` bytes) and any trusted authorities, and checks:
//!
//! - nothing panics: every answer is "not a redirect", a request to send, or a typed error;
//! - at most `max_hops` redirects are followed, and no URL is requested twice with one method;
//! - every request sent is absolute `http`/`https` with a host;
//! - a method changes only into `GET`, and then without a body;
//! - credentials never reach an origin other than the first request's unless it is trusted,
//!   and never come back once dropped.
#![no_main]

use arbitrary::Arbitrary;
use bytes::Bytes;
use http::{HeaderValue, Method, Request, Response, StatusCode, header};
use libfuzzer_sys::fuzz_target;
use stowage_proto::redirect::{RedirectError, RedirectPolicy, Redirects};

#[derive(Debug, Arbitrary)]
struct Case {
    method: u8,
    max_hops: u8,
    trusted: Vec<String>,
    answers: Vec<Answer>,
}

#[derive(Debug, Arbitrary)]
struct Answer {
    status: u16,
    location: Option<Vec<u8>>,
}

const METHODS: [Method; 6] = [Method::GET, Method::HEAD, Method::PUT, Method::POST, Method::DELETE, Method::PATCH];
const FIRST: &str = "http://proxy:8080/v1/objects/b/o?provider=ais";

fn origin(uri: &http::Uri) -> (String, String, u16) {
    let scheme = uri.scheme_str().unwrap_or_default().to_ascii_lowercase();
    let port = uri.port_u16().unwrap_or(if scheme == "https" { 443 } else { 80 });
    (scheme, uri.host().unwrap_or_default().to_ascii_lowercase(), port)
}

fuzz_target!(|case: Case| {
    let trusted: Vec<http::uri::Authority> = case.trusted.iter().filter_map(|a| a.parse().ok()).collect();
    let policy = RedirectPolicy { max_hops: u32::from(case.max_hops % 16), trusted: trusted.clone() };
    let is_trusted = |uri: &http::Uri| {
        let (scheme, host, port) = origin(uri);
        let default = if scheme == "https" { 443 } else { 80 };
        trusted.iter().any(|t| t.host().eq_ignore_ascii_case(&host) && t.port_u16().unwrap_or(default) == port)
    };
    let mut first = Request::new(Bytes::from_static(b"body"));
    *first.method_mut() = METHODS[usize::from(case.method) % METHODS.len()].clone();
    *first.uri_mut() = http::Uri::from_static(FIRST);
    first.headers_mut().insert(header::AUTHORIZATION, HeaderValue::from_static("Bearer t"));
    let home = origin(first.uri());

    let mut redirects = Redirects::new(&policy);
    let mut sent = vec![first];
    let mut dropped = false;
    for answer in &case.answers {
        let Ok(status) = StatusCode::from_u16(answer.status) else { continue };
        let mut response = Response::new(());
        *response.status_mut() = status;
        if let Some(location) = answer.location.as_deref().and_then(|l| HeaderValue::from_bytes(l).ok()) {
            response.headers_mut().insert(header::LOCATION, location);
        }
        let last = sent.last().unwrap_or_else(|| unreachable!());
        match redirects.follow(last, &response) {
            Ok(Some(next)) => {
                let uri = next.uri();
                assert!(matches!(origin(uri).0.as_str(), "http" | "https"), "{uri}");
                assert!(uri.host().is_some_and(|h| !h.is_empty()), "{uri}");
                if next.method() != last.method() {
                    assert!(
                        next.method() == Method::GET && next.body().is_empty(),
                        "{} → {}",
                        last.method(),
                        next.method()
                    );
                }
                let has = next.headers().contains_key(header::AUTHORIZATION);
                assert!(!has || (!dropped && (origin(uri) == home || is_trusted(uri))), "credentials went to {uri}");
                dropped |= !has;
                sent.push(next);
            }
            Ok(None) => break,
            Err(RedirectError::TooManyHops) => {
                assert_eq!(redirects.hops(), policy.max_hops);
                break;
            }
            Err(_) => break,
        }
    }
    assert!(sent.len() - 1 <= policy.max_hops as usize);
    assert_eq!(redirects.hops() as usize, sent.len() - 1);
    for (i, a) in sent.iter().enumerate() {
        for b in &sent[i + 1..] {
            assert!(a.method() != b.method() || a.uri() != b.uri(), "{} {} requested twice", a.method(), a.uri());
        }
    }
});
