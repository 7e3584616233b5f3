//! A minimal HTTP/1.1 client for the tests: one fresh connection per request, so concurrent
//! requests never queue behind each other on a keep-alive connection.
#![allow(dead_code, unreachable_pub)]

use std::net::SocketAddr;

use bytes::Bytes;
use http::{HeaderMap, Method, Request, Response, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use stowage_proto::ais::{ActionMsg, Bucket, ObjectAddress, action_name};
use tokio::net::TcpStream;

/// A collected response.
#[derive(Debug)]
pub struct Reply {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Bytes,
}

impl Reply {
    pub fn header(&self, name: &str) -> &str {
        self.headers.get(name).map(|v| v.to_str().unwrap()).unwrap_or_else(|| panic!("no {name} header"))
    }
}

/// `/v1/objects/<bucket>/<object>?provider=…[&namespace=…]` plus `extra` params.
pub fn object_uri(bucket: &Bucket, object: &str, extra: &[(&str, &str)]) -> String {
    ObjectAddress::new(bucket.clone(), object).uri(extra).to_string()
}

pub fn request(method: Method, uri: &str) -> http::request::Builder {
    Request::builder().method(method).uri(uri).header(http::header::HOST, "cluster")
}

/// Sends `req` on a new connection; the response body is left to stream.
pub async fn send(addr: SocketAddr, req: Request<Full<Bytes>>) -> Result<Response<Incoming>, hyper::Error> {
    let stream = TcpStream::connect(addr).await.expect("connect");
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream)).await?;
    tokio::spawn(async move {
        let _ = conn.await;
    });
    sender.send_request(req).await
}

/// Sends `req` and collects the response.
pub async fn fetch(addr: SocketAddr, req: Request<Full<Bytes>>) -> Result<Reply, hyper::Error> {
    let response = send(addr, req).await?;
    let (parts, body) = response.into_parts();
    let body = body.collect().await?.to_bytes();
    Ok(Reply { status: parts.status, headers: parts.headers, body })
}

pub async fn get(addr: SocketAddr, uri: &str) -> Reply {
    fetch(addr, request(Method::GET, uri).body(Full::default()).unwrap()).await.unwrap()
}

pub async fn get_range(addr: SocketAddr, uri: &str, range: &str) -> Reply {
    let req = request(Method::GET, uri).header(http::header::RANGE, range).body(Full::default()).unwrap();
    fetch(addr, req).await.unwrap()
}

pub async fn head(addr: SocketAddr, uri: &str) -> Reply {
    fetch(addr, request(Method::HEAD, uri).body(Full::default()).unwrap()).await.unwrap()
}

pub async fn put(addr: SocketAddr, uri: &str, body: impl Into<Bytes>) -> Reply {
    fetch(addr, request(Method::PUT, uri).body(Full::new(body.into())).unwrap()).await.unwrap()
}

pub async fn post(addr: SocketAddr, uri: &str, body: impl Into<Bytes>) -> Reply {
    let req = request(Method::POST, uri)
        .header(http::header::CONTENT_TYPE, "application/json")
        .body(Full::new(body.into()))
        .unwrap();
    fetch(addr, req).await.unwrap()
}

/// `POST {"action":"check-lock"}`; the status.
pub async fn check_lock(addr: SocketAddr, uri: &str) -> StatusCode {
    post(addr, uri, ActionMsg::new(action_name::CHECK_LOCK).to_body()).await.status
}

/// Yields to the runtime until `done` holds, without letting a paused clock advance.
pub async fn until(mut done: impl FnMut() -> bool) {
    for _ in 0..100_000 {
        if done() {
            return;
        }
        tokio::task::yield_now().await;
    }
    panic!("condition never became true");
}

/// Where a redirect points: the target's address and the origin-form URI to send there.
pub fn location(reply: &Reply) -> (SocketAddr, String) {
    assert_eq!(reply.status, StatusCode::TEMPORARY_REDIRECT, "not a redirect: {reply:?}");
    let uri: http::Uri = reply.header("location").parse().expect("Location is a URI");
    assert_eq!(uri.scheme_str(), Some("http"));
    let addr = uri.authority().expect("Location names a host").as_str().parse().expect("host is ip:port");
    (addr, uri.path_and_query().expect("Location has a path").to_string())
}

/// `GET /v1/daemon?what=smap` at `addr`, parsed with the proto type.
pub async fn smap(addr: SocketAddr) -> stowage_proto::ais::Smap {
    let reply = get(addr, "/v1/daemon?what=smap").await;
    assert_eq!(reply.status, StatusCode::OK, "{reply:?}");
    assert_eq!(reply.header("content-type"), "application/json");
    stowage_proto::ais::Smap::parse(&reply.body).expect("the cluster map parses")
}
