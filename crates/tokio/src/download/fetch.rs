//! One range request on the wire: send it, report its head, read its body into a buffer.

use bytes::BytesMut;
use http_body_util::BodyExt;
use hyper::body::Incoming;
use stowage_proto::{RequestId, TransportError};
use stowage_ringslot::Fetch;
use tokio::sync::mpsc;
use tokio::time::timeout;

use crate::{HyperTransport, classify};

/// What a fetch task tells the download loop, in this order: its head, then (for a 206) its
/// body's end. Every path hands the buffer back.
#[derive(Debug)]
pub(super) enum Event {
    /// The response head, or why there was none. For anything but a 206 the task ends here and
    /// `buffer` is returned; for a 206 the body follows.
    Head { id: RequestId, result: Result<http::Response<()>, TransportError>, buffer: Option<BytesMut> },
    /// The body ended: `received` bytes (at most the range's length + 1), and why it ended
    /// early, if it did. `buffer` holds the bytes received (at most the range's length).
    Body { id: RequestId, received: u64, error: Option<TransportError>, buffer: BytesMut },
    /// A complete range was written to its file at its offset (or the write failed).
    Written { id: RequestId, received: u64, result: std::io::Result<()>, buffer: BytesMut },
}

/// Sends `request` (the one of `fetch`) and reads its body into `buffer` (cleared first; its capacity must be at least
/// the range's length, and is never exceeded).
pub(super) async fn run(
    transport: HyperTransport,
    fetch: Fetch,
    request: http::Request<bytes::Bytes>,
    mut buffer: BytesMut,
    events: mpsc::UnboundedSender<Event>,
) {
    let id = fetch.id;
    let response = match transport.open(request).await {
        Ok(response) => response,
        Err(error) => {
            let _ = events.send(Event::Head { id, result: Err(error), buffer: Some(buffer) });
            return;
        }
    };
    let (head, mut body) = response.into_parts();
    let partial = head.status == http::StatusCode::PARTIAL_CONTENT;
    let head = http::Response::from_parts(head, ());
    if !partial {
        let _ = events.send(Event::Head { id, result: Ok(head), buffer: Some(buffer) });
        return;
    }
    if events.send(Event::Head { id, result: Ok(head), buffer: None }).is_err() {
        return;
    }
    buffer.clear();
    // The range's length: fits in usize because the buffer was allocated for it.
    let len = usize::try_from(fetch.range.len()).unwrap_or(usize::MAX);
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
