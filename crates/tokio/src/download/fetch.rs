//! One request on the wire: send it, report its head, and read its body into buffers when
//! (and only as far as) the download asks for it.

use bytes::{Bytes, BytesMut};
use http_body_util::BodyExt;
use hyper::body::Incoming;
use stowage_proto::{RequestId, TransportError};
use tokio::sync::mpsc;
use tokio::time::timeout;

use crate::connector::TlsFault;
use crate::{HyperTransport, classify, send_following};

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

/// The go-ahead for the next piece of a request's body (usually its only one): read it into
/// this buffer.
#[derive(Debug)]
pub(super) struct Piece {
    /// Where the bytes go (cleared first).
    pub(super) buffer: BytesMut,
    /// The piece's length: never more is written into the buffer.
    pub(super) len: usize,
    /// Whether the body ends with the piece (then one byte more says it is too long); else
    /// exactly `len` bytes are read and the rest stays for the next piece.
    pub(super) ends_body: bool,
}

/// Where a request's task takes its go-aheads from. Dropping the sender ends the request (its
/// connection with it).
pub(super) type Go = mpsc::UnboundedSender<Piece>;

/// Sends the HEAD `request` (through its redirects) and reports the last head.
pub(super) async fn head(
    transport: HyperTransport,
    id: RequestId,
    request: http::Request<bytes::Bytes>,
    events: mpsc::UnboundedSender<Event>,
) {
    let result = send_following(&transport, request).await.map(|response| response.map(drop));
    let _ = events.send(Event::Head { id, result });
}

/// Sends `request`, reports its head, and for each go-ahead reads the next piece of the body
/// into the buffer it brings.
pub(super) async fn range(
    transport: HyperTransport,
    id: RequestId,
    request: http::Request<Bytes>,
    mut go: mpsc::UnboundedReceiver<Piece>,
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
    let fault = head.extensions.get::<TlsFault>().cloned();
    if events.send(Event::Head { id, result: Ok(http::Response::from_parts(head, ())) }).is_err() {
        return;
    }
    // Bytes of the last frame read that belong to the next piece.
    let mut pending = Bytes::new();
    // No (more) go-ahead: the body is not wanted, and the connection goes with it.
    while let Some(Piece { mut buffer, len, ends_body }) = go.recv().await {
        buffer.clear();
        let read_timeout = transport.timeouts().read;
        let (received, error) = read_piece(&mut body, &mut pending, &mut buffer, len, ends_body, read_timeout).await;
        // What broke the connection, where hyper says only that it broke.
        let error = error.map(|error| TlsFault::explain(fault.as_ref(), error));
        let over = ends_body || error.is_some() || received < len as u64;
        let _ = events.send(Event::Body { id, received, error, buffer });
        if over {
            return;
        }
    }
}

/// Appends the next `len` bytes of the body to `buffer` (first those `pending` from the frame
/// read before); returns the bytes received and the failure that ended it early, if any. Where
/// the body should end with them (`ends_body`), one byte more means it is too long: `len + 1`
/// is returned and reading stops there; else the bytes past `len` stay in `pending`.
async fn read_piece(
    body: &mut Incoming,
    pending: &mut Bytes,
    buffer: &mut BytesMut,
    len: usize,
    ends_body: bool,
    read_timeout: std::time::Duration,
) -> (u64, Option<TransportError>) {
    loop {
        let room = len - buffer.len();
        if pending.len() > room {
            buffer.extend_from_slice(&pending.split_to(room));
            return if ends_body { (len as u64 + 1, None) } else { (len as u64, None) };
        }
        buffer.extend_from_slice(&std::mem::take(pending));
        if buffer.len() == len && !ends_body {
            return (len as u64, None);
        }
        let frame = match timeout(read_timeout, body.frame()).await {
            Err(_) => return (buffer.len() as u64, Some(TransportError::ReadTimeout)),
            Ok(None) => return (buffer.len() as u64, None),
            Ok(Some(Err(error))) => return (buffer.len() as u64, Some(classify::stream_error(&error))),
            Ok(Some(Ok(frame))) => frame,
        };
        if let Ok(data) = frame.into_data() {
            *pending = data;
        }
    }
}
