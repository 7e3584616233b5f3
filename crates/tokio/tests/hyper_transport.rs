//! `HyperTransport` against real sockets: raw TCP servers that misbehave in one precise way
//! each, and the `TransportError` every misbehaviour must map to.

use std::net::SocketAddr;
use std::time::Duration;

use bytes::Bytes;
use http::{Method, Request};
use stowage_proto::TransportError;
use stowage_tokio::{HyperTransport, Timeouts, Transport};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpSocket, TcpStream};
use tokio::sync::oneshot;

const TIMEOUTS: Timeouts = Timeouts { connect: Duration::from_millis(300), read: Duration::from_millis(300) };

/// Long enough to outlast any test: a server "never" answering sleeps this long.
const FOREVER: Duration = Duration::from_secs(60);

/// Accepts one connection, reads the request head, sends it on `heads`, then hands the
/// socket to `then`.
async fn serve_one<F, Fut>(then: F) -> (SocketAddr, oneshot::Receiver<String>)
where
    F: FnOnce(TcpStream) -> Fut + Send + 'static,
    Fut: Future<Output = ()> + Send,
{
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let (head_tx, head_rx) = oneshot::channel();
    tokio::spawn(async move {
        let (mut stream, _) = listener.accept().await.unwrap();
        let mut head = Vec::new();
        while !head.ends_with(b"\r\n\r\n") {
            let mut byte = [0; 1];
            if stream.read(&mut byte).await.unwrap() == 0 {
                return;
            }
            head.push(byte[0]);
        }
        let _ = head_tx.send(String::from_utf8(head).unwrap());
        then(stream).await;
    });
    (address, head_rx)
}

/// A server that writes `bytes`, then either closes (`close`) or holds the connection open.
async fn answer(bytes: &'static [u8], close: bool) -> (SocketAddr, oneshot::Receiver<String>) {
    serve_one(move |mut stream| async move {
        stream.write_all(bytes).await.unwrap();
        if !close {
            tokio::time::sleep(FOREVER).await;
        }
    })
    .await
}

fn transport(address: SocketAddr) -> HyperTransport {
    HyperTransport::new(&format!("http://{address}"), TIMEOUTS).unwrap()
}

fn get(uri: &str) -> Request<Bytes> {
    Request::get(uri).body(Bytes::new()).unwrap()
}

async fn send(address: SocketAddr) -> Result<http::Response<Bytes>, TransportError> {
    transport(address).send(get("/v1/objects/b/o?provider=aws")).await
}

#[tokio::test]
async fn a_response_is_collected_and_origin_form_joins_the_endpoint_path() {
    let (address, head) = answer(b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello", false).await;
    let transport = HyperTransport::new(&format!("http://{address}/base/"), TIMEOUTS).unwrap();
    let response = transport.send(get("/v1/objects/b/o?provider=aws")).await.unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.body(), "hello");
    let head = head.await.unwrap();
    assert!(head.starts_with("GET /base/v1/objects/b/o?provider=aws HTTP/1.1\r\n"), "{head}");
    assert!(head.to_ascii_lowercase().contains(&format!("host: {address}\r\n")), "{head}");
}

#[tokio::test]
async fn absolute_uris_are_sent_where_they_point() {
    let (address, head) = answer(b"HTTP/1.1 204 No Content\r\n\r\n", false).await;
    let elsewhere = transport(closed_port().await);
    let response = elsewhere.send(get(&format!("http://{address}/v1/health"))).await.unwrap();
    assert_eq!(response.status(), 204);
    assert!(head.await.unwrap().starts_with("GET /v1/health HTTP/1.1\r\n"));
}

#[tokio::test]
async fn a_server_that_never_answers_is_a_read_timeout() {
    let (address, _head) = serve_one(|stream| async move {
        tokio::time::sleep(FOREVER).await;
        drop(stream);
    })
    .await;
    assert_eq!(send(address).await.unwrap_err(), TransportError::ReadTimeout);
}

#[tokio::test]
async fn a_body_that_stalls_is_a_read_timeout() {
    let (address, _head) = answer(b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc", false).await;
    assert_eq!(send(address).await.unwrap_err(), TransportError::ReadTimeout);
}

#[tokio::test]
async fn a_reset_is_a_reset() {
    let (address, _head) = serve_one(|stream| async move {
        stream.set_zero_linger().unwrap();
        drop(stream);
    })
    .await;
    assert_eq!(send(address).await.unwrap_err(), TransportError::Reset);
}

#[tokio::test]
async fn closing_mid_head_is_closed() {
    let (address, _head) = answer(b"HTTP/1.1 200 OK\r\nContent-Le", true).await;
    assert_eq!(send(address).await.unwrap_err(), TransportError::Closed);
}

#[tokio::test]
async fn closing_mid_body_is_closed() {
    let (address, _head) = answer(b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc", true).await;
    assert_eq!(send(address).await.unwrap_err(), TransportError::Closed);
}

#[tokio::test]
async fn garbage_is_a_protocol_error() {
    let (address, _head) = answer(b"SSH-2.0-OpenSSH_9.6\r\n\r\n", false).await;
    assert_eq!(send(address).await.unwrap_err(), TransportError::Protocol);
}

/// A port nothing listens on.
async fn closed_port() -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    listener.local_addr().unwrap()
}

#[tokio::test]
async fn a_closed_port_is_connect_refused() {
    assert_eq!(send(closed_port().await).await.unwrap_err(), TransportError::ConnectRefused);
}

#[tokio::test]
async fn a_full_accept_queue_is_a_connect_timeout() {
    // Linux drops SYNs to a listener whose accept queue is full: connecting hangs.
    let socket = TcpSocket::new_v4().unwrap();
    socket.bind("127.0.0.1:0".parse().unwrap()).unwrap();
    let listener = socket.listen(0).unwrap();
    let address = listener.local_addr().unwrap();
    let mut fillers = Vec::new();
    for _ in 0..4 {
        if let Ok(Ok(stream)) = tokio::time::timeout(Duration::from_millis(100), TcpStream::connect(address)).await {
            fillers.push(stream);
        }
    }
    assert_eq!(send(address).await.unwrap_err(), TransportError::ConnectTimeout);
    // The read timeout only starts once connected: shorter than the connect timeout, it must
    // not turn a slow connect into a read timeout.
    let short_read = Timeouts { read: Duration::from_millis(20), ..TIMEOUTS };
    let transport = HyperTransport::new(&format!("http://{address}"), short_read).unwrap();
    assert_eq!(transport.send(get("/v1/objects/b/o")).await.unwrap_err(), TransportError::ConnectTimeout);
    drop((listener, fillers));
}

#[tokio::test]
async fn a_content_length_over_the_cap_fails_without_reading_the_body() {
    // Only 10 of the announced bytes ever come: reading them all would time out instead.
    let (address, _head) = answer(b"HTTP/1.1 200 OK\r\nContent-Length: 1000000\r\n\r\n0123456789", false).await;
    let transport = transport(address).with_max_body(1000);
    let error = transport.send(get("/v1/objects/b/o")).await.unwrap_err();
    assert_eq!(error, TransportError::Protocol);
}

#[tokio::test]
async fn a_chunked_body_over_the_cap_fails_as_soon_as_it_passes_it() {
    let response = format!("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n7d0\r\n{}\r\n", "x".repeat(2000));
    let response: &'static [u8] = response.into_bytes().leak();
    let (address, _head) = answer(response, false).await;
    let transport = transport(address).with_max_body(1000);
    assert_eq!(transport.send(get("/v1/objects/b/o")).await.unwrap_err(), TransportError::Protocol);
}

#[tokio::test]
async fn a_head_response_announcing_a_huge_object_is_fine() {
    let (address, _head) = answer(b"HTTP/1.1 200 OK\r\nContent-Length: 107374182400\r\n\r\n", false).await;
    let transport = transport(address).with_max_body(1000);
    let head = Request::builder().method(Method::HEAD).uri("/v1/objects/b/o").body(Bytes::new()).unwrap();
    let response = transport.send(head).await.unwrap();
    assert_eq!(response.headers()["content-length"], "107374182400");
    assert!(response.body().is_empty());
}
