//! [`Session`]: a TLS client connection with no IO, for a driver that moves the bytes itself
//! (the io_uring driver's `send`s and `recv`s).
//!
//! rustls's unbuffered connection does the handshake. Over TLS 1.3, [`Records`] then takes the
//! record layer over (rustls's kernel connection: its AEADs and keys, our framing), so that a
//! record is decrypted where it was received and its plaintext copied once, into where the
//! driver wants it. Over TLS 1.2 rustls keeps the record layer: its unbuffered connection
//! decrypts each record in place too but hands the plaintext out of a buffer of its own, so
//! there each byte is copied twice.

use std::ops::Range;
use std::sync::Arc;

use rustls::client::UnbufferedClientConnection;
use rustls::unbuffered::{ConnectionState, EncodeError, EncryptError, InsufficientSizeError};
use stowage_proto::TransportError;
use stowage_proto::tls::TlsError;

use crate::{TlsConfig, classify, classify_established, server_name};

mod records;

use records::{Opened, Records};

/// Room for one TLS record (16 KiB of payload and its overhead).
const RECORD: usize = 16 * 1024 + 2048;
/// The least room a receive is given: a few records.
const RECV: usize = 4 * RECORD;
/// The ciphertext buffer's size: a receive of up to this much at a time, and what is left of a
/// record cut short by it moved to the front only when less than [`RECV`] remains.
const BUFFER: usize = 16 * RECORD;

/// One TLS client connection between a driver's operations: the ciphertext to send, the
/// ciphertext received, and the plaintext, decrypted where it was received (TLS 1.3) until the
/// driver reads it into where it wants it.
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
/// Invariants: `start <= filled <= incoming.len()`, and the record layer sees
/// `incoming[start..filled]` only; at most one decrypted record waits for the driver to read
/// it (the next is decrypted only once that one is taken): in rustls, as the rest of one in
/// `spill`, or as `front`, the record at `incoming[start..]` — but for rustls's records when
/// there is plaintext to send (TLS 1.2): rustls encrypts only once every record is read, so
/// those received by then go to `spill` (never more than the ciphertext received).
pub struct Session {
    link: Link,
    /// The handshake is done, and rustls keeps the record layer (TLS 1.2).
    legacy: bool,
    /// Ciphertext received: `incoming[start..filled]` not processed yet.
    incoming: Vec<u8>,
    start: usize,
    filled: usize,
    /// The rest of a record [`Session::read`] could not fit, read first next time:
    /// `spill[taken..]`.
    spill: Vec<u8>,
    taken: usize,
    /// rustls holds a decrypted record not read yet.
    buffered: bool,
    /// With [`Records`]: the record at `incoming[start..]`, decrypted, not all read yet.
    front: Option<Front>,
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

/// Who reads and writes the records.
enum Link {
    /// rustls: the handshake, and after it over TLS 1.2.
    Rustls(Box<UnbufferedClientConnection>),
    /// Ours, after a TLS 1.3 handshake.
    Records(Box<Records>),
    /// rustls failed to hand the record layer over: nothing more can be read or sent.
    Broken,
}

/// A decrypted record not all read: its length (header included) and what is left of its
/// plaintext, both from the record's start.
#[derive(Clone, Debug)]
struct Front {
    len: usize,
    plain: Range<usize>,
}

impl std::fmt::Debug for Session {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Session")
            .field("handshaken", &self.handshaken)
            .field("notified", &self.notified)
            .field("eof", &self.eof)
            .field("ciphertext", &(self.filled - self.start))
            .field("buffered", &self.buffered)
            .field("front", &self.front)
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
            link: Link::Rustls(Box::new(conn)),
            legacy: false,
            incoming: vec![0; BUFFER],
            start: 0,
            filled: 0,
            spill: Vec::new(),
            taken: 0,
            buffered: false,
            front: None,
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
            let conn = match &mut self.link {
                Link::Rustls(conn) => conn,
                Link::Records(_) => return Ok(written + self.open_records(send, &mut out[written..])?),
                Link::Broken => return Err(TransportError::Tls(TlsError::Other)),
            };
            let window = &mut self.incoming[self.start..self.filled];
            let tls_error = if self.handshaken { established_error } else { tls_error };
            let status = conn.process_tls_records(window);
            let mut discard = status.discard;
            let mut again = false;
            match status.state.map_err(tls_error)? {
                ConnectionState::ReadTraffic(mut traffic) => {
                    // With `send` to encrypt, every record is taken (the rest to `spill`): rustls
                    // encrypts only once none is left to read.
                    while (written < out.len() || send.is_some())
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
                    again = written < out.len() || send.is_some();
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
                ConnectionState::WriteTraffic(_) if !self.legacy => {
                    // The handshake is done: the record layer is ours, or rustls's (below).
                    self.handshaken = true;
                    again = true;
                }
                ConnectionState::WriteTraffic(mut write) => {
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
            if self.handshaken && !self.legacy {
                if Records::can_take_over(conn) {
                    let Link::Rustls(conn) = std::mem::replace(&mut self.link, Link::Broken) else { continue };
                    self.link = Link::Records(Box::new(Records::take_over(*conn).map_err(tls_error)?));
                    continue;
                }
                self.legacy = true;
            }
            if !again {
                return Ok(written);
            }
        }
    }

    /// [`Session::pump`] with [`Records`]: `send` encrypted into the bytes to send; records
    /// decrypted and their plaintext moved into `out` until it is full or no whole record is
    /// left, or just up to the first one with plaintext when `out` is empty.
    fn open_records(&mut self, send: Option<&[u8]>, out: &mut [u8]) -> Result<usize, TransportError> {
        let Link::Records(records) = &mut self.link else { return Ok(0) };
        self.outgoing.truncate(self.queued);
        let mut written = 0;
        let result = (|| {
            if let Some(data) = send {
                records.seal(data, &mut self.outgoing)?;
            }
            loop {
                if let Some(front) = &mut self.front {
                    let plain = &self.incoming[self.start..][front.plain.clone()];
                    let n = plain.len().min(out.len() - written);
                    out[written..written + n].copy_from_slice(&plain[..n]);
                    written += n;
                    front.plain.start += n;
                    if !front.plain.is_empty() {
                        return Ok(());
                    }
                    self.start += front.len;
                    self.front = None;
                }
                if self.notified {
                    return Ok(());
                }
                let window = &mut self.incoming[self.start..self.filled];
                let Some(len) = Records::complete(window)? else { return Ok(()) };
                match records.open(&mut window[..len], &mut self.outgoing)? {
                    Opened::Data(plain) if plain.start <= plain.end && plain.end <= len => {
                        self.front = Some(Front { len, plain });
                    }
                    Opened::Data(_) => return Err(rustls::Error::DecryptError),
                    Opened::Handled => self.start += len,
                    Opened::Closed => {
                        self.start += len;
                        self.notified = true;
                    }
                }
            }
        })();
        self.queued = self.outgoing.len();
        result.map_err(established_error)?;
        Ok(written)
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

    /// At most how much plaintext [`Session::read`] could move now: what is decrypted and not
    /// read, and the ciphertext not processed yet counted whole (its plaintext is less); with
    /// rustls holding a record of unknown size, `usize::MAX`. For a caller that must prepare
    /// the room it reads into (zero it, say) and wants to prepare no more than it will fill.
    pub fn readable(&self) -> usize {
        if self.buffered {
            return usize::MAX;
        }
        let front = self.front.as_ref().map_or(0, |front| front.plain.len());
        (self.spill.len() - self.taken) + front + (self.filled - self.start)
    }

    /// Whether plaintext waits to be read ([`Session::read`]). Records received but not
    /// processed yet count once [`Session::process`] has met them.
    pub fn has_plain(&self) -> bool {
        self.buffered || self.taken < self.spill.len() || self.front.is_some()
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
