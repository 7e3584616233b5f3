//! [`Session`]: a TLS client connection with no IO, for a driver that moves the bytes itself
//! (the io_uring driver's `send`s and `recv`s).
//!
//! rustls 0.23's unbuffered connection decrypts each record where it arrived and hands its
//! plaintext out of a buffer of its own (handing it out in place is planned there), so the
//! plaintext is pulled record by record straight into where the driver wants it: no buffer of
//! ours in between, but for the rest of a record that did not fit.

use std::sync::Arc;

use rustls::client::UnbufferedClientConnection;
use rustls::unbuffered::{ConnectionState, EncodeError, EncryptError, InsufficientSizeError};
use stowage_proto::TransportError;

use crate::{TlsConfig, classify, classify_established, server_name};

/// Room for one TLS record (16 KiB of payload and its overhead).
const RECORD: usize = 16 * 1024 + 2048;
/// The least room a receive is given: a few records.
const RECV: usize = 4 * RECORD;
/// The ciphertext buffer's size: a receive of up to this much at a time, and what is left of a
/// record cut short by it moved to the front only when less than [`RECV`] remains.
const BUFFER: usize = 16 * RECORD;

/// One TLS client connection between a driver's operations: the ciphertext to send, the
/// ciphertext received, and the plaintext — held by rustls until the driver reads it into
/// where it wants it, so a body's bytes are copied once on our side, from rustls's record into
/// the destination.
///
/// The driver loop: [`Session::process`] (the handshake, a request to encrypt, what arrived),
/// then send [`Session::outgoing`] and report it with [`Session::sent`], or receive into
/// [`Session::recv_buffer`] and report it with [`Session::received`], and take the plaintext
/// with [`Session::read`] while [`Session::has_plain`].
///
/// Nothing here does IO or reads a clock. The memory [`Session::outgoing`] and
/// [`Session::recv_buffer`] return is the session's own heap memory: it does not move when the
/// session does, and it is not touched until the next call that takes `&mut self` — so a
/// driver may hand it to the kernel until the operation completes.
///
/// Invariants: `start <= filled <= incoming.len()`, and rustls sees `incoming[start..filled]`
/// only; rustls holds at most one decrypted record the driver has not read (it decrypts the
/// next only once that one is taken), and `spill` at most the rest of one record.
pub struct Session {
    conn: UnbufferedClientConnection,
    /// Ciphertext received: `incoming[start..filled]` not processed by rustls yet.
    incoming: Vec<u8>,
    start: usize,
    filled: usize,
    /// The rest of a record [`Session::read`] could not fit, read first next time:
    /// `spill[taken..]`.
    spill: Vec<u8>,
    taken: usize,
    /// rustls holds a decrypted record not read yet.
    buffered: bool,
    /// Ciphertext to send: `outgoing[sent..queued]`.
    outgoing: Vec<u8>,
    queued: usize,
    sent: usize,
    handshaken: bool,
    /// The peer sent `close_notify`.
    notified: bool,
    /// The connection closed (a receive of 0).
    eof: bool,
}

impl std::fmt::Debug for Session {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Session")
            .field("handshaken", &self.handshaken)
            .field("notified", &self.notified)
            .field("eof", &self.eof)
            .field("ciphertext", &(self.filled - self.start))
            .field("buffered", &self.buffered)
            .field("spilled", &(self.spill.len() - self.taken))
            .field("to_send", &(self.queued - self.sent))
            .finish()
    }
}

impl Session {
    /// A session with `server` (a DNS name or an IP address) under `config`.
    pub fn new(config: &TlsConfig, server: &str) -> Result<Self, TransportError> {
        let name = server_name(server).map_err(TransportError::Tls)?;
        let conn = UnbufferedClientConnection::new(Arc::clone(config.rustls()), name).map_err(tls_error)?;
        Ok(Session {
            conn,
            incoming: vec![0; BUFFER],
            start: 0,
            filled: 0,
            spill: Vec::new(),
            taken: 0,
            buffered: false,
            outgoing: Vec::new(),
            queued: 0,
            sent: 0,
            handshaken: false,
            notified: false,
            eof: false,
        })
    }

    /// Processes the ciphertext received so far — handshake messages (queueing our answers to
    /// send), `close_notify` — up to the first application data, which waits for
    /// [`Session::read`]; and, once the handshake is done, encrypts `send` into the bytes to
    /// send (`send` is dropped before then: ask [`Session::handshaken`] first).
    pub fn process(&mut self, send: Option<&[u8]>) -> Result<(), TransportError> {
        self.pump(send, &mut []).map(drop)
    }

    /// Moves as much plaintext as fits into `out`, decrypting the records received so far as
    /// it goes; returns how much: 0 only if there is none ([`Session::has_plain`]) or `out` is
    /// empty.
    pub fn read(&mut self, out: &mut [u8]) -> Result<usize, TransportError> {
        let spilled = &self.spill[self.taken..];
        let n = spilled.len().min(out.len());
        out[..n].copy_from_slice(&spilled[..n]);
        self.taken += n;
        if self.taken == self.spill.len() {
            self.spill.clear();
            self.taken = 0;
        }
        if n == out.len() {
            return Ok(n);
        }
        Ok(n + self.pump(None, &mut out[n..])?)
    }

    /// rustls's states: the handshake, our messages to encode, `send` to encrypt, application
    /// data into `out` (the rest of a record that does not fit to `spill`; with no room, left
    /// to rustls). Returns the plaintext written to `out`.
    fn pump(&mut self, mut send: Option<&[u8]>, out: &mut [u8]) -> Result<usize, TransportError> {
        let mut written = 0;
        loop {
            let window = &mut self.incoming[self.start..self.filled];
            let tls_error = if self.handshaken { established_error } else { tls_error };
            let status = self.conn.process_tls_records(window);
            let mut discard = status.discard;
            let mut again = false;
            match status.state.map_err(tls_error)? {
                ConnectionState::ReadTraffic(mut traffic) => {
                    while written < out.len()
                        && let Some(record) = traffic.next_record()
                    {
                        let record = record.map_err(tls_error)?;
                        discard += record.discard;
                        let n = record.payload.len().min(out.len() - written);
                        out[written..written + n].copy_from_slice(&record.payload[..n]);
                        // Not empty only when `out` is full: then read first, next time.
                        self.spill.extend_from_slice(&record.payload[n..]);
                        written += n;
                    }
                    self.buffered = traffic.peek_len().is_some();
                    // With room left, every record so far was taken: on to the next.
                    again = written < out.len();
                }
                ConnectionState::EncodeTlsData(mut encode) => {
                    let needs = |error: &EncodeError| match error {
                        EncodeError::InsufficientSize(InsufficientSizeError { required_size }) => Some(*required_size),
                        _ => None,
                    };
                    queue(&mut self.outgoing, &mut self.queued, |room| encode.encode(room), needs)?;
                    again = true;
                }
                ConnectionState::TransmitTlsData(transmit) => {
                    // Queued: the driver sends `outgoing` before it receives again.
                    transmit.done();
                    again = true;
                }
                ConnectionState::WriteTraffic(mut write) => {
                    self.handshaken = true;
                    if let Some(data) = send.take() {
                        let needs = |error: &EncryptError| match error {
                            EncryptError::InsufficientSize(InsufficientSizeError { required_size }) => {
                                Some(*required_size)
                            }
                            _ => None,
                        };
                        queue(&mut self.outgoing, &mut self.queued, |room| write.encrypt(data, room), needs)?;
                    }
                }
                ConnectionState::PeerClosed | ConnectionState::Closed => self.notified = true,
                // More ciphertext needed; early data is the server's.
                _ => {}
            }
            // Processed: out of rustls's sight, with no copy.
            self.start = (self.start + discard).min(self.filled);
            if !again {
                return Ok(written);
            }
        }
    }

    /// Whether the handshake is done (application data may be sent).
    pub fn handshaken(&self) -> bool {
        self.handshaken
    }

    /// Whether the peer ended the connection (`close_notify`, or [`Session::received`] 0).
    /// Plaintext may still wait to be read.
    pub fn closed(&self) -> bool {
        self.notified || self.eof
    }

    /// Whether the connection closed without `close_notify`: what the peer sent last may not
    /// all have arrived (a truncation — by an attacker, or by a peer gone), so a body that
    /// ends with the connection did not end here. rustls's own streams call it `UnexpectedEof`.
    pub fn cut_short(&self) -> bool {
        self.eof && !self.notified
    }

    /// The ciphertext to send next (empty: nothing).
    pub fn outgoing(&self) -> &[u8] {
        &self.outgoing[self.sent..self.queued]
    }

    /// `n` bytes of [`Session::outgoing`] were sent.
    pub fn sent(&mut self, n: usize) {
        self.sent = (self.sent + n).min(self.queued);
        if self.sent == self.queued {
            (self.sent, self.queued) = (0, 0);
        }
    }

    /// Where the next receive puts ciphertext: room for a few records at least. What rustls
    /// has not processed yet (a record cut short) is moved to the front only when the room
    /// left would be less than that, not after every receive.
    pub fn recv_buffer(&mut self) -> &mut [u8] {
        if self.start == self.filled {
            // Everything processed: start over, nothing to move.
            (self.start, self.filled) = (0, 0);
        }
        if self.incoming.len() - self.filled < RECV {
            self.incoming.copy_within(self.start..self.filled, 0);
            (self.start, self.filled) = (0, self.filled - self.start);
            if self.incoming.len() - self.filled < RECV {
                self.incoming.resize(self.filled + RECV, 0);
            }
        }
        &mut self.incoming[self.filled..]
    }

    /// A receive put `n` bytes into [`Session::recv_buffer`] (0: the peer closed).
    pub fn received(&mut self, n: usize) {
        if n == 0 {
            self.eof = true;
        }
        self.filled = (self.filled + n).min(self.incoming.len());
    }

    /// Whether plaintext waits to be read ([`Session::read`]). Records received but not
    /// processed yet count once [`Session::process`] has met them.
    pub fn has_plain(&self) -> bool {
        self.buffered || self.taken < self.spill.len()
    }
}

/// Appends to `outgoing[..queued]` what `write` puts in the room after it, growing the room by
/// what rustls `needs` when it says it is too small.
fn queue<E>(
    outgoing: &mut Vec<u8>,
    queued: &mut usize,
    mut write: impl FnMut(&mut [u8]) -> Result<usize, E>,
    needs: impl Fn(&E) -> Option<usize>,
) -> Result<(), TransportError> {
    loop {
        match write(&mut outgoing[*queued..]) {
            Ok(written) => {
                *queued += written;
                return Ok(());
            }
            Err(error) => match needs(&error) {
                Some(size) => outgoing.resize(*queued + size, 0),
                None => return Err(TransportError::Other),
            },
        }
    }
}

/// A rustls error as the machines' kind.
fn tls_error(error: rustls::Error) -> TransportError {
    TransportError::Tls(classify(&error))
}

/// A rustls error after the handshake as the machines' kind (a damaged record is
/// [`TlsError::Record`](stowage_proto::tls::TlsError::Record): retried).
fn established_error(error: rustls::Error) -> TransportError {
    TransportError::Tls(classify_established(&error))
}

#[cfg(test)]
mod tests;
