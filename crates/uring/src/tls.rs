//! TLS for the io_uring driver: rustls's unbuffered, sans-IO client connection, its bytes moved
//! by the ring.
//!
//! kTLS (the kernel encrypting after a userspace handshake) would let bodies still land in the
//! slots with `READ_FIXED`, but it needs the `tls` upper-layer protocol, which not every kernel
//! offers (`/proc/sys/net/ipv4/tcp_available_ulp`; the machines this was built on list only
//! `mptcp`). So TLS runs in userspace: a [`TlsSession`] owns the ciphertext both ways and the
//! plaintext received; the driver submits a `send` of [`TlsSession::outgoing`] or a `recv`
//! into [`TlsSession::recv_buffer`], reports what completed, and reads the plaintext — which it
//! then handles as the bytes of a plain connection (a range's body is copied from here into its
//! slot). Nothing here does IO, so the memory an operation points to is the session's own, and
//! it is not touched until that operation is reaped.

use std::sync::Arc;

use rustls::client::UnbufferedClientConnection;
use rustls::unbuffered::{ConnectionState, EncodeError, EncryptError, InsufficientSizeError};
use stowage_proto::TransportError;
use stowage_tls::{TlsConfig, rustls};

/// Room for one TLS record (16 KiB of payload and its overhead).
const RECORD: usize = 16 * 1024 + 2048;
/// What one `recv` may fill: a few records.
const RECV: usize = 4 * RECORD;

/// One TLS client connection's state, between the ring's operations.
pub(crate) struct TlsSession {
    conn: UnbufferedClientConnection,
    /// Ciphertext received and not processed yet: `incoming[..filled]`.
    incoming: Vec<u8>,
    filled: usize,
    /// Ciphertext to send: `outgoing[sent..queued]`.
    outgoing: Vec<u8>,
    queued: usize,
    sent: usize,
    /// Plaintext received and not consumed yet: `plain[taken..]`.
    plain: Vec<u8>,
    taken: usize,
    handshaken: bool,
    /// The peer sent `close_notify`, or closed the connection.
    closed: bool,
}

impl TlsSession {
    /// A session with `server` (a DNS name or an IP address) under `config`.
    pub(crate) fn new(config: &TlsConfig, server: &str) -> Result<Box<Self>, TransportError> {
        let name = stowage_tls::server_name(server).map_err(TransportError::Tls)?;
        let conn = UnbufferedClientConnection::new(Arc::clone(config.rustls()), name).map_err(tls_error)?;
        Ok(Box::new(TlsSession {
            conn,
            incoming: vec![0; RECORD],
            filled: 0,
            outgoing: Vec::new(),
            queued: 0,
            sent: 0,
            plain: Vec::new(),
            taken: 0,
            handshaken: false,
            closed: false,
        }))
    }

    /// Processes the ciphertext received so far — handshake messages (queueing our answers to
    /// send), application data (to [`TlsSession::plain`]), `close_notify` — and, once the
    /// handshake is done, encrypts `send` into the bytes to send.
    pub(crate) fn process(&mut self, mut send: Option<&[u8]>) -> Result<(), TransportError> {
        loop {
            let status = self.conn.process_tls_records(&mut self.incoming[..self.filled]);
            let mut discard = status.discard;
            let mut again = false;
            match status.state.map_err(tls_error)? {
                ConnectionState::ReadTraffic(mut traffic) => {
                    while let Some(record) = traffic.next_record() {
                        let record = record.map_err(tls_error)?;
                        discard += record.discard;
                        self.plain.extend_from_slice(record.payload);
                    }
                    again = true;
                }
                ConnectionState::EncodeTlsData(mut encode) => {
                    loop {
                        match encode.encode(&mut self.outgoing[self.queued..]) {
                            Ok(written) => {
                                self.queued += written;
                                break;
                            }
                            Err(EncodeError::InsufficientSize(InsufficientSizeError { required_size })) => {
                                self.outgoing.resize(self.queued + required_size, 0);
                            }
                            Err(_) => return Err(TransportError::Other),
                        }
                    }
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
                        loop {
                            match write.encrypt(data, &mut self.outgoing[self.queued..]) {
                                Ok(written) => {
                                    self.queued += written;
                                    break;
                                }
                                Err(EncryptError::InsufficientSize(InsufficientSizeError { required_size })) => {
                                    self.outgoing.resize(self.queued + required_size, 0);
                                }
                                Err(_) => return Err(TransportError::Other),
                            }
                        }
                    }
                }
                ConnectionState::PeerClosed | ConnectionState::Closed => self.closed = true,
                // More ciphertext needed; early data is the server's.
                _ => {}
            }
            self.discard(discard);
            if !again {
                return Ok(());
            }
        }
    }

    fn discard(&mut self, n: usize) {
        let n = n.min(self.filled);
        self.incoming.copy_within(n..self.filled, 0);
        self.filled -= n;
    }

    /// Whether the handshake is done (application data may be sent).
    pub(crate) fn handshaken(&self) -> bool {
        self.handshaken
    }

    /// Whether the peer ended the connection (`close_notify`, or [`TlsSession::eof`]).
    pub(crate) fn closed(&self) -> bool {
        self.closed
    }

    /// The ciphertext to send next (empty: nothing).
    pub(crate) fn outgoing(&self) -> &[u8] {
        &self.outgoing[self.sent..self.queued]
    }

    /// `n` bytes of [`TlsSession::outgoing`] were sent.
    pub(crate) fn sent(&mut self, n: usize) {
        self.sent = (self.sent + n).min(self.queued);
        if self.sent == self.queued {
            (self.sent, self.queued) = (0, 0);
        }
    }

    /// Where the next `recv` puts ciphertext (room for a record at least).
    pub(crate) fn recv_buffer(&mut self) -> &mut [u8] {
        if self.incoming.len() - self.filled < RECV {
            self.incoming.resize(self.filled + RECV, 0);
        }
        &mut self.incoming[self.filled..]
    }

    /// A `recv` put `n` bytes into [`TlsSession::recv_buffer`] (0: the peer closed).
    pub(crate) fn received(&mut self, n: usize) {
        if n == 0 {
            self.closed = true;
        }
        self.filled = (self.filled + n).min(self.incoming.len());
    }

    /// Plaintext received and not taken yet.
    pub(crate) fn plain(&self) -> &[u8] {
        &self.plain[self.taken..]
    }

    /// Takes the first `n` bytes of [`TlsSession::plain`].
    pub(crate) fn take(&mut self, n: usize) {
        self.taken = (self.taken + n).min(self.plain.len());
        if self.taken == self.plain.len() {
            self.plain.clear();
            self.taken = 0;
        }
    }
}

/// A rustls error as the machines' kind.
fn tls_error(error: rustls::Error) -> TransportError {
    TransportError::Tls(stowage_tls::classify(&error))
}
