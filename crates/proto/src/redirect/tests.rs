use bytes::Bytes;
use http::{HeaderValue, Version};

use super::*;

const ALL_REDIRECTS: [u16; 5] = [301, 302, 303, 307, 308];

fn request(method: Method, uri: &str) -> Request<Bytes> {
    let mut request = Request::new(if method == Method::GET || method == Method::HEAD {
        Bytes::new()
    } else {
        Bytes::from_static(b"payload")
    });
    *request.method_mut() = method;
    *request.uri_mut() = uri.parse().unwrap();
    let headers = request.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    headers.insert(header::CONTENT_LENGTH, HeaderValue::from_static("7"));
    headers.insert(header::AUTHORIZATION, HeaderValue::from_static("Bearer secret"));
    headers.insert(header::PROXY_AUTHORIZATION, HeaderValue::from_static("Basic cHJveHk="));
    headers.insert(header::COOKIE, HeaderValue::from_static("session=1"));
    headers.insert(header::HOST, HeaderValue::from_static("proxy:8080"));
    headers.insert(header::RANGE, HeaderValue::from_static("bytes=0-9"));
    request
}

fn redirect(status: u16, location: Option<&str>) -> Response<()> {
    let mut response = Response::new(());
    *response.status_mut() = StatusCode::from_u16(status).unwrap();
    if let Some(location) = location {
        response.headers_mut().insert(header::LOCATION, HeaderValue::from_str(location).unwrap());
    }
    response
}

fn follow_once(policy: &RedirectPolicy, sent: &Request<Bytes>, status: u16, location: &str) -> Request<Bytes> {
    Redirects::new(policy).follow(sent, &redirect(status, Some(location))).unwrap().unwrap()
}

const PROXY: &str = "http://proxy:8080/v1/objects/b/o?provider=ais";
const TARGET: &str = "http://target:8081/v1/objects/b/o?provider=ais";

#[test]
fn answers_that_are_not_redirects_go_to_the_caller() {
    let sent = request(Method::GET, PROXY);
    for status in [200, 204, 206, 300, 304, 305, 306, 399, 404, 423, 500, 503] {
        let mut redirects = Redirects::new(RedirectPolicy::default());
        assert_eq!(
            redirects.follow(&sent, &redirect(status, Some(TARGET))).map(|r| r.is_some()),
            Ok(false),
            "{status}"
        );
        assert_eq!(redirects.hops(), 0);
    }
    assert!(!is_redirect(StatusCode::NOT_MODIFIED) && is_redirect(StatusCode::PERMANENT_REDIRECT));
}

#[test]
fn temporary_and_permanent_redirects_keep_method_and_body() {
    let policy = RedirectPolicy::default();
    for status in [307, 308] {
        for method in [Method::GET, Method::HEAD, Method::PUT, Method::POST, Method::DELETE, Method::PATCH] {
            let sent = request(method.clone(), PROXY);
            let next = follow_once(&policy, &sent, status, TARGET);
            assert_eq!((next.method(), next.uri().to_string().as_str()), (&method, TARGET), "{status} {method}");
            assert_eq!(next.body(), sent.body());
            assert_eq!(next.headers()[header::CONTENT_TYPE], "application/json");
            assert_eq!(next.headers()[header::CONTENT_LENGTH], "7");
        }
    }
}

#[test]
fn see_other_is_a_get_without_body_but_head_stays_head() {
    let policy = RedirectPolicy::default();
    for (method, expected) in [
        (Method::POST, Method::GET),
        (Method::PUT, Method::GET),
        (Method::DELETE, Method::GET),
        (Method::GET, Method::GET),
        (Method::HEAD, Method::HEAD),
    ] {
        let next = follow_once(&policy, &request(method.clone(), PROXY), 303, TARGET);
        assert_eq!(next.method(), expected, "{method}");
        assert!(next.body().is_empty(), "{method}");
        for name in &BODY_HEADERS {
            assert!(!next.headers().contains_key(name), "{method} kept {name}");
        }
        assert_eq!(next.headers()[header::RANGE], "bytes=0-9", "other headers stay");
    }
}

#[test]
fn moved_and_found_turn_only_post_into_get() {
    let policy = RedirectPolicy::default();
    for status in [301, 302] {
        let next = follow_once(&policy, &request(Method::POST, PROXY), status, TARGET);
        assert_eq!(next.method(), Method::GET);
        assert!(next.body().is_empty() && !next.headers().contains_key(header::CONTENT_LENGTH));
        for method in [Method::PUT, Method::DELETE, Method::GET, Method::HEAD] {
            let sent = request(method.clone(), PROXY);
            let next = follow_once(&policy, &sent, status, TARGET);
            assert_eq!((next.method(), next.body()), (&method, sent.body()), "{status} {method}");
            assert_eq!(next.headers()[header::CONTENT_TYPE], "application/json");
        }
    }
}

#[test]
fn relative_locations_resolve_against_the_url_requested() {
    let policy = RedirectPolicy::default();
    let sent = request(Method::GET, "http://proxy:8080/v1/objects/b/dir/o?provider=ais");
    for (location, expected) in [
        ("/v1/objects/b/x", "http://proxy:8080/v1/objects/b/x"),
        ("other?provider=aws", "http://proxy:8080/v1/objects/b/dir/other?provider=aws"),
        ("../up", "http://proxy:8080/v1/objects/b/up"),
        ("?provider=gcp", "http://proxy:8080/v1/objects/b/dir/o?provider=gcp"),
        ("//target:8081/v1/objects/b/dir/o", "http://target:8081/v1/objects/b/dir/o"),
        ("https://target/secure#frag", "https://target/secure"),
    ] {
        assert_eq!(follow_once(&policy, &sent, 307, location).uri().to_string(), expected, "{location}");
    }
}

#[test]
fn a_redirect_without_location_is_an_error() {
    for status in ALL_REDIRECTS {
        let mut redirects = Redirects::new(RedirectPolicy::default());
        let sent = request(Method::GET, PROXY);
        assert_eq!(
            redirects.follow(&sent, &redirect(status, None)).err(),
            Some(RedirectError::MissingLocation),
            "{status}"
        );
    }
}

#[test]
fn a_location_that_is_not_an_http_url_is_an_error() {
    let sent = request(Method::GET, PROXY);
    let mut opaque = redirect(307, None);
    opaque.headers_mut().insert(header::LOCATION, HeaderValue::from_bytes(b"/caf\xe9").unwrap());
    assert_eq!(
        Redirects::new(RedirectPolicy::default()).follow(&sent, &opaque).err(),
        Some(RedirectError::InvalidLocation)
    );
    for (location, error) in [
        ("ftp://files/x", RedirectError::UnsupportedScheme),
        ("javascript:alert(1)", RedirectError::UnsupportedScheme),
        ("http://", RedirectError::InvalidLocation),
        ("http://exa mple/", RedirectError::InvalidLocation),
        ("1nvalid:scheme", RedirectError::InvalidLocation),
    ] {
        let mut redirects = Redirects::new(RedirectPolicy::default());
        assert_eq!(redirects.follow(&sent, &redirect(302, Some(location))).err(), Some(error), "{location}");
    }
}

#[test]
fn a_request_without_an_absolute_uri_cannot_be_redirected() {
    let sent = request(Method::GET, "/v1/objects/b/o");
    let mut redirects = Redirects::new(RedirectPolicy::default());
    assert_eq!(redirects.follow(&sent, &redirect(307, Some(TARGET))).err(), Some(RedirectError::NotAbsolute));
}

#[test]
fn a_url_requested_again_with_the_same_method_is_a_loop() {
    let policy = RedirectPolicy::default();
    let mut redirects = Redirects::new(&policy);
    let first = request(Method::GET, PROXY);
    assert_eq!(redirects.follow(&first, &redirect(307, Some(PROXY))).err(), Some(RedirectError::Loop), "to itself");

    let mut redirects = Redirects::new(&policy);
    let second = redirects.follow(&first, &redirect(302, Some(TARGET))).unwrap().unwrap();
    assert_eq!(redirects.follow(&second, &redirect(302, Some(PROXY))).err(), Some(RedirectError::Loop), "back");

    // The same URL with another method is no loop: POST /o → 303 → GET /o.
    let mut redirects = Redirects::new(&policy);
    let post = request(Method::POST, PROXY);
    let get = redirects.follow(&post, &redirect(303, Some(PROXY))).unwrap().unwrap();
    assert_eq!(get.method(), Method::GET);
    assert_eq!(redirects.follow(&get, &redirect(307, Some(PROXY))).err(), Some(RedirectError::Loop));
}

#[test]
fn at_most_max_hops_are_followed() {
    for max_hops in [0, 1, 3, DEFAULT_MAX_HOPS] {
        let policy = RedirectPolicy { max_hops, ..RedirectPolicy::default() };
        let mut redirects = Redirects::new(&policy);
        let mut sent = request(Method::GET, PROXY);
        for hop in 0..max_hops {
            let location = format!("http://node-{hop}:8081/v1/objects/b/o");
            sent = redirects.follow(&sent, &redirect(307, Some(&location))).unwrap().unwrap();
            assert_eq!(redirects.hops(), hop + 1);
        }
        let result = redirects.follow(&sent, &redirect(307, Some("http://one-more/x")));
        assert_eq!(result.err(), Some(RedirectError::TooManyHops), "max_hops {max_hops}");
        let answer = Response::new(());
        assert_eq!(
            redirects.follow(&sent, &answer).map(|next| next.is_none()),
            Ok(true),
            "an answer goes to the caller"
        );
    }
    assert_eq!(RedirectPolicy::default().max_hops, 10);
}

#[test]
fn credentials_stay_with_the_origin() {
    let policy = RedirectPolicy::default();
    let sent = request(Method::GET, "https://Proxy:443/v1/objects/b/o");
    let has_credentials = |r: &Request<Bytes>| CREDENTIALS.iter().all(|name| r.headers().contains_key(name));
    let has_none = |r: &Request<Bytes>| CREDENTIALS.iter().all(|name| !r.headers().contains_key(name));
    for same in ["/elsewhere", "https://proxy/x", "https://PROXY:443/y"] {
        let next = follow_once(&policy, &sent, 307, same);
        assert!(has_credentials(&next), "{same}");
        assert!(!next.headers().contains_key(header::HOST), "Host comes from the URI");
    }
    for other in ["https://target/x", "https://proxy:8443/x", "http://proxy:443/x", "http://proxy/x"] {
        assert!(has_none(&follow_once(&policy, &sent, 307, other)), "{other}");
    }
}

#[test]
fn trusted_authorities_get_credentials() {
    let policy = RedirectPolicy::default().trusting(["target:8081".parse().unwrap(), "gateway".parse().unwrap()]);
    let sent = request(Method::GET, PROXY);
    let has_authorization = |r: Request<Bytes>| r.headers().contains_key(header::AUTHORIZATION);
    assert!(has_authorization(follow_once(&policy, &sent, 307, TARGET)));
    assert!(has_authorization(follow_once(&policy, &sent, 307, "http://TARGET:8081/x")));
    assert!(has_authorization(follow_once(&policy, &sent, 307, "http://gateway/x")), "default port 80");
    assert!(has_authorization(follow_once(&policy, &sent, 307, "https://gateway/x")), "default port 443");
    assert!(!has_authorization(follow_once(&policy, &sent, 307, "http://target:9999/x")));
    assert!(!has_authorization(follow_once(&policy, &sent, 307, "http://gateway:8080/x")));
}

#[test]
fn dropped_credentials_are_not_restored() {
    let policy = RedirectPolicy::default();
    let mut redirects = Redirects::new(&policy);
    let sent = request(Method::GET, PROXY);
    let away = redirects.follow(&sent, &redirect(302, Some("http://elsewhere/x"))).unwrap().unwrap();
    assert!(!away.headers().contains_key(header::AUTHORIZATION));
    let back = redirects.follow(&away, &redirect(302, Some("http://proxy:8080/y"))).unwrap().unwrap();
    assert!(!back.headers().contains_key(header::AUTHORIZATION));
}

#[test]
fn version_extensions_and_other_headers_carry_over() {
    let mut sent = request(Method::GET, PROXY);
    *sent.version_mut() = Version::HTTP_10;
    sent.extensions_mut().insert(7_u32);
    sent.headers_mut().insert("x-custom", HeaderValue::from_static("kept"));
    let next = follow_once(&RedirectPolicy::default(), &sent, 308, TARGET);
    assert_eq!(next.version(), Version::HTTP_10);
    assert_eq!(next.extensions().get::<u32>(), Some(&7));
    assert_eq!(next.headers()["x-custom"], "kept");
    assert_eq!(next.headers()[header::RANGE], "bytes=0-9");
}

#[test]
fn requests_without_a_body_type_work_too() {
    let mut sent = Request::new(());
    *sent.method_mut() = Method::POST;
    *sent.uri_mut() = PROXY.parse().unwrap();
    let mut redirects = Redirects::new(RedirectPolicy::default());
    let next = redirects.follow(&sent, &redirect(303, Some(TARGET))).unwrap().unwrap();
    assert_eq!(next.method(), Method::GET);
}

#[test]
fn errors_say_redirect_and_differ() {
    let messages: std::collections::BTreeSet<String> = RedirectError::ALL.iter().map(|e| e.to_string()).collect();
    assert_eq!(messages.len(), RedirectError::ALL.len());
    assert!(messages.iter().all(|m| m.contains("redirect")), "{messages:?}");
}
