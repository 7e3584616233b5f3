//! One request on the wire: send it, report its head, and read its body into a buffer when
//! (and only if) the download asks for it.

use bytes::BytesMut;
use http_body_util::BodyExt;
use hyper::body::Incoming;
use stowage_proto::{RequestId, TransportError};
use tokio::sync::{mpsc, oneshot};
use tokio::time::timeout;

use crate::{HyperTransport, Transport, classify};

/// What a request's task tells the download loop, in this order: its head, then (if its body
/// was asked for) the body's end.
#[derive(Debug)]
pub(super) enum Event {
    /// The response head, or why there was none.
    Head { id: RequestId, result: Result<http::Response<()>, TransportError> },
    /// The body ended: `received` bytes (at most the range's length + 1), and why it ended
    /// early, if it did. `buffer` holds the bytes received (at most the range's length).
    Body { id: RequestId, received: u64, error: Option<TransportError>, buffer: BytesMut },
    /// A complete range was written to its file at its offset (or the write failed).
    Written { id: RequestId, result: std::io::Result<()>, buffer: BytesMut },
}

/// The go-ahead for a request's body: the buffer to read it into and the most bytes it may
/// hold. Dropping it unsent ends the request (its connection with it).
pub(super) type Go = oneshot::Sender<(BytesMut, usize)>;

/// Sends the HEAD `request` and reports its head.
pub(super) async fn head(
    transport: HyperTransport,
    id: RequestId,
    request: http::Request<bytes::Bytes>,
    events: mpsc::UnboundedSender<Event>,
) {
    let result = transport.send(request).await.map(|response| response.map(drop));
    let _ = events.send(Event::Head { id, result });
}

/// Sends `request`, reports its head, and waits for the go-ahead: then reads the body into the
/// buffer it brings (cleared first; never past the length it names).
pub(super) async fn range(
    transport: HyperTransport,
    id: RequestId,
    request: http::Request<bytes::Bytes>,
    go: oneshot::Receiver<(BytesMut, usize)>,
    events: mpsc::UnboundedSender<Event>,
) {
    let response = match transport.open(request).await {
        Ok(response) => response,
        Err(error) => {
            let _ = events.send(Event::Head { id, result: Err(error) });
            return;
        }
    };
    let (head, mut body) = response.into_parts();
    if events.send(Event::Head { id, result: Ok(http::Response::from_parts(head, ())) }).is_err() {
        return;
    }
    // No go-ahead: the body is not wanted, and the connection goes with it.
    let Ok((mut buffer, len)) = go.await else { return };
    buffer.clear();
    let (received, error) = read_body(&mut body, &mut buffer, len, transport.timeouts().read).await;
    let _ = events.send(Event::Body { id, received, error, buffer });
}

/// Appends the body to `buffer`, at most `len` bytes; returns the bytes received (`len + 1`
/// when the body is longer: reading stops there) and the failure that ended it early, if any.
async fn read_body(
    body: &mut Incoming,
    buffer: &mut BytesMut,
    len: usize,
    read_timeout: std::time::Duration,
) -> (u64, Option<TransportError>) {
    loop {
        let frame = match timeout(read_timeout, body.frame()).await {
            Err(_) => return (buffer.len() as u64, Some(TransportError::ReadTimeout)),
            Ok(None) => return (buffer.len() as u64, None),
            Ok(Some(Err(error))) => return (buffer.len() as u64, Some(classify::stream_error(&error))),
            Ok(Some(Ok(frame))) => frame,
        };
        let Ok(data) = frame.into_data() else { continue };
        let room = len - buffer.len();
        if data.len() > room {
            buffer.extend_from_slice(&data[..room]);
            return (len as u64 + 1, None);
        }
        buffer.extend_from_slice(&data);
    }
}
