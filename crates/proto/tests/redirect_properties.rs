//! Properties of redirect following: whatever servers answer, a request follows at most
//! `max_hops` redirects, never asks for the same URL twice with the same method, and never
//! takes credentials to an origin it may not; and a driver's loop over a `Chain` ends within
//! `max_hops + 1` sends.

use bytes::Bytes;
use http::{HeaderValue, Method, Request, Response, StatusCode, Uri, header};
use proptest::prelude::*;
use stowage_proto::redirect::{Chain, RedirectError, RedirectPolicy, Redirects, Step};

const HOSTS: [&str; 4] = ["proxy:8080", "t1:8081", "t2:8081", "elsewhere"];
const PATHS: [&str; 5] = ["/a", "/b", "/a/../b", "/v1/objects/b/o?provider=ais", "/"];
const RELATIVE: [&str; 7] = ["x", "../y", "?q=1", "", "./a", "//t1:8081/z", "/b"];
const GARBAGE: [&str; 4] = ["ftp://x/", "http://", "a b", "mailto:x@y"];

#[derive(Clone, Debug)]
struct Answer {
    status: u16,
    location: Option<String>,
}

fn location() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => (prop::sample::select(&["http", "https"][..]), prop::sample::select(&HOSTS[..]), prop::sample::select(&PATHS[..]))
            .prop_map(|(scheme, host, path)| format!("{scheme}://{host}{path}")),
        3 => prop::sample::select(&RELATIVE[..]).prop_map(str::to_owned),
        1 => prop::sample::select(&GARBAGE[..]).prop_map(str::to_owned),
    ]
}

fn answer() -> impl Strategy<Value = Answer> {
    let status = prop_oneof![
        8 => prop::sample::select(vec![301_u16, 302, 303, 307, 308]),
        1 => prop::sample::select(vec![200_u16, 204, 304, 300, 404, 503]),
    ];
    (status, prop::option::weighted(0.9, location())).prop_map(|(status, location)| Answer { status, location })
}

fn response(answer: &Answer) -> Response<()> {
    let mut response = Response::new(());
    *response.status_mut() = StatusCode::from_u16(answer.status).unwrap();
    if let Some(location) = &answer.location {
        response.headers_mut().insert(header::LOCATION, HeaderValue::from_str(location).unwrap());
    }
    response
}

fn first_request(method: Method) -> Request<Bytes> {
    let mut request = Request::new(Bytes::from_static(b"body"));
    *request.method_mut() = method;
    *request.uri_mut() = "http://proxy:8080/v1/objects/b/o?provider=ais".parse().unwrap();
    request.headers_mut().insert(header::AUTHORIZATION, HeaderValue::from_static("Bearer t"));
    request
}

fn origin(uri: &Uri) -> (String, String, u16) {
    let scheme = uri.scheme_str().unwrap().to_ascii_lowercase();
    let port = uri.port_u16().unwrap_or(if scheme == "https" { 443 } else { 80 });
    (scheme, uri.host().unwrap().to_ascii_lowercase(), port)
}

proptest! {
    #[test]
    fn never_more_than_max_hops_never_twice_never_leaking(
        method in prop::sample::select(vec![Method::GET, Method::HEAD, Method::PUT, Method::POST, Method::DELETE]),
        max_hops in 0_u32..8,
        trust_t1 in any::<bool>(),
        answers in prop::collection::vec(answer(), 0..24),
    ) {
        let mut policy = RedirectPolicy { max_hops, ..RedirectPolicy::default() };
        if trust_t1 {
            policy = policy.trusting(["t1:8081".parse().unwrap()]);
        }
        let mut redirects = Redirects::new(&policy);
        let first = first_request(method);
        let home = origin(first.uri());
        let mut sent = vec![first];
        let mut credentials_dropped = false;
        for answer in &answers {
            let last = sent.last().unwrap();
            match redirects.follow(last, &response(answer)) {
                Ok(Some(next)) => {
                    prop_assert!(next.uri().scheme_str().is_some() && next.uri().host().is_some_and(|h| !h.is_empty()));
                    if next.method() != last.method() {
                        prop_assert!(next.method() == Method::GET && next.body().is_empty(), "{} → {}", last.method(), next.method());
                    }
                    let may_have = origin(next.uri()) == home || (trust_t1 && next.uri().authority().unwrap() == "t1:8081");
                    let has = next.headers().contains_key(header::AUTHORIZATION);
                    prop_assert!(!has || (may_have && !credentials_dropped), "credentials went to {}", next.uri());
                    credentials_dropped |= !has;
                    sent.push(next);
                }
                Ok(None) => {
                    prop_assert!(![301, 302, 303, 307, 308].contains(&answer.status));
                    break;
                }
                Err(error) => {
                    if error == RedirectError::TooManyHops {
                        prop_assert_eq!(redirects.hops(), max_hops);
                    }
                    break;
                }
            }
        }
        let followed = sent.len() - 1;
        prop_assert!(followed <= max_hops as usize, "{} redirects followed, max {}", followed, max_hops);
        prop_assert_eq!(redirects.hops() as usize, followed);
        for (i, a) in sent.iter().enumerate() {
            for b in &sent[i + 1..] {
                prop_assert!(a.method() != b.method() || a.uri() != b.uri(), "{} {} requested twice", a.method(), a.uri());
            }
        }
    }
}

proptest! {
    /// A driver's loop over a [`Chain`]: whatever the answers, an origin-form request is sent
    /// at most `max_hops + 1` times, every request after the first is absolute, the chain ends
    /// on the first answer that is not a redirect, and only a redirect ends it in an error.
    #[test]
    fn a_chain_sends_at_most_max_hops_plus_one_requests(
        max_hops in 0_u32..8,
        locatable in any::<bool>(),
        answers in prop::collection::vec(answer(), 1..24),
    ) {
        let policy = RedirectPolicy { max_hops, ..RedirectPolicy::default() };
        let mut first = first_request(Method::PUT);
        *first.uri_mut() = "/v1/objects/b/o?provider=ais".parse().unwrap();
        let mut chain = Chain::new(&policy, first);
        let locate = |uri: &Uri| locatable.then(|| format!("http://proxy:8080{uri}").parse().unwrap());
        let mut sends = 0;
        let mut ended = None;
        for answer in &answers {
            sends += 1;
            if sends > 1 {
                prop_assert!(chain.request().uri().scheme().is_some(), "{} is not absolute", chain.request().uri());
            }
            match chain.answer(&response(answer), locate) {
                Ok(Step::Follow) => prop_assert!([301, 302, 303, 307, 308].contains(&answer.status)),
                Ok(Step::Answer) => {
                    prop_assert!(![301, 302, 303, 307, 308].contains(&answer.status));
                    ended = Some(Ok(()));
                    break;
                }
                Err(error) => {
                    prop_assert!([301, 302, 303, 307, 308].contains(&answer.status));
                    if !locatable {
                        prop_assert_eq!(error, RedirectError::NotAbsolute);
                    }
                    ended = Some(Err(error));
                    break;
                }
            }
        }
        prop_assert!(sends <= max_hops as usize + 1, "{} sends, max {} hops", sends, max_hops);
        let followed = if ended.is_some() { sends - 1 } else { sends };
        prop_assert_eq!(chain.hops() as usize, followed);
    }
}
