//! [`Records`]: TLS 1.3's record layer once the handshake is done — rustls's own AEADs (from
//! its crypto provider, the suite it negotiated), driven over the session's receive buffer so
//! that a record is decrypted where it was received and nothing of it is copied but its
//! plaintext, once, to where the driver wants it.
//!
//! rustls hands this over itself (its "kernel connection", made for kTLS): the traffic secrets
//! and sequence numbers at the end of the handshake, and what is left of the protocol — a new
//! session ticket to keep, a key update to derive. Everything else here is framing: a record's
//! header, its sequence number, the content type inside.

use std::ops::Range;

use rustls::client::{ClientConnectionData, UnbufferedClientConnection};
use rustls::crypto::cipher::{
    AeadKey, InboundOpaqueMessage, Iv, MessageDecrypter, MessageEncrypter, OutboundPlainMessage, Tls13AeadAlgorithm,
};
use rustls::kernel::KernelConnection;
use rustls::{
    AlertDescription, ConnectionTrafficSecrets, ContentType, Error, HandshakeType, InvalidMessage, ProtocolVersion,
    SupportedCipherSuite,
};

/// A record's header: content type, legacy version, length.
pub(super) const HEADER: usize = 5;
/// The most ciphertext a TLS 1.3 record may carry (RFC 8446 §5.2: 2^14 + 256).
const MAX_CIPHERTEXT: usize = (1 << 14) + 256;
/// The most plaintext a record we send carries.
const MAX_PLAINTEXT: usize = 1 << 14;

/// What a record held.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Opened {
    /// Application data: its plaintext, decrypted in place, at this range of the record.
    Data(Range<usize>),
    /// A message of the protocol's own, handled (a session ticket, a key update).
    Handled,
    /// The peer's `close_notify`.
    Closed,
}

/// The record layer of an established TLS 1.3 connection.
///
/// Invariants: `rx_seq` and `tx_seq` are the sequence numbers of the next record in each
/// direction under the current keys (each record's nonce is unique); `tx_seq` stays below the
/// suite's confidentiality limit.
pub(super) struct Records {
    kernel: KernelConnection<ClientConnectionData>,
    aead: &'static dyn Tls13AeadAlgorithm,
    confidentiality_limit: u64,
    decrypter: Box<dyn MessageDecrypter>,
    rx_seq: u64,
    encrypter: Box<dyn MessageEncrypter>,
    tx_seq: u64,
}

impl Records {
    /// Takes the record layer over from `conn`, whose handshake is done, which has nothing
    /// left to send, whose configuration allows it (`enable_secret_extraction`) and which
    /// negotiated TLS 1.3 (ask [`Records::can_take_over`] first: `conn` is gone either way).
    pub(super) fn take_over(conn: UnbufferedClientConnection) -> Result<Self, Error> {
        let (secrets, kernel) = conn.dangerous_into_kernel_connection()?;
        let SupportedCipherSuite::Tls13(suite) = kernel.negotiated_cipher_suite() else {
            return Err(Error::General("TLS 1.3 records on a connection that is not TLS 1.3".into()));
        };
        let aead = suite.aead_alg;
        let ((tx_seq, tx), (rx_seq, rx)) = (secrets.tx, secrets.rx);
        let (key, iv) = keys(rx)?;
        let decrypter = aead.decrypter(key, iv);
        let (key, iv) = keys(tx)?;
        let encrypter = aead.encrypter(key, iv);
        let confidentiality_limit = suite.common.confidentiality_limit;
        Ok(Records { kernel, aead, confidentiality_limit, decrypter, rx_seq, encrypter, tx_seq })
    }

    /// Whether [`Records::take_over`] can take `conn` over.
    pub(super) fn can_take_over(conn: &UnbufferedClientConnection) -> bool {
        !conn.is_handshaking()
            && conn.protocol_version() == Some(ProtocolVersion::TLSv1_3)
            && matches!(conn.negotiated_cipher_suite(), Some(SupportedCipherSuite::Tls13(_)))
    }

    /// The length of the record at the start of `received`, header included, once all of it
    /// has arrived (`None` before). A length no TLS 1.3 record may have is an error.
    pub(super) fn complete(received: &[u8]) -> Result<Option<usize>, Error> {
        let Some(&[_, _, _, high, low]) = received.get(..HEADER) else { return Ok(None) };
        let len = usize::from(u16::from_be_bytes([high, low]));
        if len > MAX_CIPHERTEXT {
            return Err(Error::PeerSentOversizedRecord);
        }
        Ok((received.len() >= HEADER + len).then_some(HEADER + len))
    }

    /// Decrypts `record` (header included, whole: [`Records::complete`]) in place and acts on
    /// it; a key update the peer asks to be answered appends our records to `send`.
    pub(super) fn open(&mut self, record: &mut [u8], send: &mut Vec<u8>) -> Result<Opened, Error> {
        let (header, payload) = record.split_at_mut(HEADER.min(record.len()));
        // Every record after the handshake is "application data" outside (RFC 8446 §5.2).
        if header.first() != Some(&u8::from(ContentType::ApplicationData)) {
            return Err(Error::InvalidMessage(InvalidMessage::InvalidContentType));
        }
        let seq = self.rx_seq;
        self.rx_seq = seq.checked_add(1).ok_or(Error::DecryptError)?;
        let start = payload.as_ptr() as usize;
        let opaque = InboundOpaqueMessage::new(ContentType::ApplicationData, ProtocolVersion::TLSv1_2, payload);
        let plain = self.decrypter.decrypt(opaque, seq)?;
        match plain.typ {
            ContentType::ApplicationData => {
                // The plaintext is a part of `payload`, where it was decrypted.
                let from = (plain.payload.as_ptr() as usize).checked_sub(start).ok_or(Error::DecryptError)?;
                Ok(Opened::Data(HEADER + from..HEADER + from + plain.payload.len()))
            }
            ContentType::Handshake => {
                self.handshake(plain.payload, send)?;
                Ok(Opened::Handled)
            }
            ContentType::Alert => match plain.payload {
                [_, 0] => Ok(Opened::Closed),
                [_, description] => Err(Error::AlertReceived(AlertDescription::from(*description))),
                _ => Err(Error::InvalidMessage(InvalidMessage::InvalidContentType)),
            },
            _ => Err(Error::InvalidMessage(InvalidMessage::InvalidContentType)),
        }
    }

    /// Encrypts `data` as application data records appended to `send`.
    pub(super) fn seal(&mut self, data: &[u8], send: &mut Vec<u8>) -> Result<(), Error> {
        for chunk in data.chunks(MAX_PLAINTEXT) {
            self.seal_one(ContentType::ApplicationData, chunk, send)?;
        }
        Ok(())
    }

    fn seal_one(&mut self, typ: ContentType, data: &[u8], send: &mut Vec<u8>) -> Result<(), Error> {
        let seq = self.tx_seq;
        if seq >= self.confidentiality_limit {
            return Err(Error::EncryptError);
        }
        self.tx_seq += 1;
        let message = OutboundPlainMessage { typ, version: ProtocolVersion::TLSv1_2, payload: data.into() };
        send.extend_from_slice(&self.encrypter.encrypt(message, seq)?.encode());
        Ok(())
    }

    /// The handshake messages after the handshake (RFC 8446 §4.6): session tickets, kept for
    /// resumption, and key updates. A message split across records is refused (no server we
    /// know of sends one after the handshake), as is any other message.
    fn handshake(&mut self, mut messages: &[u8], send: &mut Vec<u8>) -> Result<(), Error> {
        while !messages.is_empty() {
            let &[typ, a, b, c, ref rest @ ..] = messages else {
                return Err(Error::InvalidMessage(InvalidMessage::MessageTooShort));
            };
            let len = u32::from_be_bytes([0, a, b, c]) as usize;
            let (body, rest) =
                rest.split_at_checked(len).ok_or(Error::InvalidMessage(InvalidMessage::MessageTooShort))?;
            messages = rest;
            match HandshakeType::from(typ) {
                HandshakeType::NewSessionTicket => self.kernel.handle_new_session_ticket(body)?,
                HandshakeType::KeyUpdate => {
                    let answer = match body {
                        [0] => false,
                        [1] => true,
                        _ => return Err(Error::InvalidMessage(InvalidMessage::InvalidKeyUpdate)),
                    };
                    let (seq, secrets) = self.kernel.update_rx_secret()?;
                    let (key, iv) = keys(secrets)?;
                    (self.decrypter, self.rx_seq) = (self.aead.decrypter(key, iv), seq);
                    if answer {
                        // Ours, under the old keys, asking for nothing back; then the new keys.
                        let update = [u8::from(HandshakeType::KeyUpdate), 0, 0, 1, 0];
                        self.seal_one(ContentType::Handshake, &update, send)?;
                        let (seq, secrets) = self.kernel.update_tx_secret()?;
                        let (key, iv) = keys(secrets)?;
                        (self.encrypter, self.tx_seq) = (self.aead.encrypter(key, iv), seq);
                    }
                }
                got_type => {
                    return Err(Error::InappropriateHandshakeMessage {
                        expect_types: vec![HandshakeType::NewSessionTicket, HandshakeType::KeyUpdate],
                        got_type,
                    });
                }
            }
        }
        Ok(())
    }
}

/// The key and IV of one direction's traffic secrets.
fn keys(secrets: ConnectionTrafficSecrets) -> Result<(AeadKey, Iv), Error> {
    match secrets {
        ConnectionTrafficSecrets::Aes128Gcm { key, iv }
        | ConnectionTrafficSecrets::Aes256Gcm { key, iv }
        | ConnectionTrafficSecrets::Chacha20Poly1305 { key, iv } => Ok((key, iv)),
        _ => Err(Error::General("a cipher suite without TLS 1.3 record protection here".into())),
    }
}
