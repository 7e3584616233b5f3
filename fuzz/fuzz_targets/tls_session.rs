//! Fuzzes the io_uring driver's TLS client session (`stowage_tls::Session`) against a real
//! rustls server in memory: any body, the server's ciphertext cut into any receives, read at
//! any pace, and spoiled — a byte flipped anywhere (the handshake included), the stream cut
//! short anywhere, or garbage after it; over TLS 1.3 (the session's own record layer) with the
//! server's keys updated anywhere in the body, or over TLS 1.2 (rustls's). Checks:
//!
//! - nothing panics, and every failure is a typed `TransportError`;
//! - the plaintext read is always a prefix of the body the server sent: a spoiled record never
//!   yields a wrong byte;
//! - unspoiled, the whole body arrives, and the session says the peer closed;
//! - the receive room stays bounded when the plaintext is read as it comes (no growth on
//!   hostile bytes).
#![no_main]

use std::io::{Read, Write};
use std::sync::Arc;

use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;
use rustls::ServerConnection;
use stowage_tls::Session;

/// The most the receive room may be: the session's buffer and a few records over it.
const MAX_ROOM: usize = 1 << 20;

#[derive(Arbitrary, Debug)]
struct Input {
    /// The body's length (its bytes follow from it).
    len: u16,
    /// The server's ciphertext reaches the client in receives of these sizes (cycled).
    cuts: Vec<u16>,
    /// Take the plaintext only every this many receives.
    read_every: u8,
    close_notify: bool,
    /// The server speaks TLS 1.2 only.
    tls12: bool,
    /// Over TLS 1.3, the server updates its keys (asking for ours to change too) after this
    /// many bytes of the body.
    key_update_at: Option<u16>,
    spoil: Spoil,
}

#[derive(Arbitrary, Debug)]
enum Spoil {
    None,
    /// The byte at this offset of the server's ciphertext is xored with a nonzero value.
    Flip { at: u32, xor: u8 },
    /// The ciphertext ends at this offset (then the connection closes).
    Cut { at: u32 },
    /// These bytes follow the server's last.
    Trailing(Vec<u8>),
}

fuzz_target!(|input: Input| {
    let body: Vec<u8> = (0..usize::from(input.len % 16_384) * 4).map(|i| (i * 31 + i / 997) as u8).collect();
    let cuts: Vec<usize> = input.cuts.iter().map(|&c| usize::from(c).max(1)).collect();
    let cuts = if cuts.is_empty() { vec![usize::MAX] } else { cuts };
    let read_every = usize::from(input.read_every.max(1));
    let (server_config, client_config) = stowage_tls::testing::localhost();
    let server_config = if input.tls12 {
        stowage_tls::testing::server(&[&rustls::version::TLS12])
    } else {
        Arc::clone(server_config)
    };
    let mut server = ServerConnection::new(server_config).unwrap();
    server.set_buffer_limit(None);
    let mut client = Session::new(client_config, "localhost").unwrap();

    // The server's ciphertext as the client gets it, and how far the client has it.
    let (mut wire, mut delivered, mut produced) = (Vec::new(), 0usize, 0usize);
    let (mut asked, mut answered, mut trailed) = (false, false, false);
    // Steps in a row with nothing moving either way: then the server closes the connection.
    let mut quiet = 0;
    let mut got = Vec::new();
    let mut receives = 0usize;
    let mut failed = false;
    for _ in 0..200_000 {
        let send = (client.handshaken() && !asked).then_some(&b"GET / HTTP/1.1\r\n\r\n"[..]);
        if client.process(send).is_err() {
            failed = true;
            break;
        }
        asked |= send.is_some();
        if receives % read_every == 0 || client.closed() {
            let mut out = [0; 5000];
            loop {
                let Ok(n) = client.read(&mut out) else {
                    failed = true;
                    break;
                };
                if n == 0 {
                    break;
                }
                got.extend_from_slice(&out[..n]);
            }
            assert!(body.starts_with(&got), "a wrong byte at or before {}", got.len());
            if failed {
                break;
            }
        }
        if client.closed() && !client.has_plain() {
            break;
        }
        let out = client.outgoing().to_vec();
        client.sent(out.len());
        if !out.is_empty() && server.read_tls(&mut &out[..]).is_ok() && server.process_new_packets().is_ok() {
            let mut request = [0; 64];
            if matches!(server.reader().read(&mut request), Ok(n) if n > 0) && !answered {
                let at = input.key_update_at.map_or(body.len(), |at| usize::from(at).min(body.len()));
                server.writer().write_all(&body[..at]).unwrap();
                if input.key_update_at.is_some() && !input.tls12 {
                    server.refresh_traffic_keys().unwrap();
                }
                server.writer().write_all(&body[at..]).unwrap();
                if input.close_notify {
                    server.send_close_notify();
                }
                answered = true;
            }
        }
        while server.wants_write() {
            let mut fresh = Vec::new();
            server.write_tls(&mut fresh).unwrap();
            for byte in fresh {
                match input.spoil {
                    Spoil::Flip { at, xor } if produced == at as usize => wire.push(byte ^ xor.max(1)),
                    Spoil::Cut { at } if produced >= at as usize => {}
                    _ => wire.push(byte),
                }
                produced += 1;
            }
        }
        if answered
            && let Spoil::Trailing(extra) = &input.spoil
            && !trailed
        {
            wire.extend_from_slice(extra);
            trailed = true;
        }
        let room = client.recv_buffer();
        // Read every step, as a driver does, the ciphertext never piles up.
        assert!(!room.is_empty() && (read_every > 1 || room.len() <= MAX_ROOM), "room of {} bytes", room.len());
        if delivered < wire.len() {
            let n = cuts[receives % cuts.len()].min(room.len()).min(wire.len() - delivered);
            room[..n].copy_from_slice(&wire[delivered..delivered + n]);
            client.received(n);
            (delivered, receives) = (delivered + n, receives + 1);
            quiet = 0;
        } else if out.is_empty() {
            quiet += 1;
            if quiet > 1 {
                // All there is: the server closes the connection.
                client.received(0);
                receives += 1;
            }
        }
    }
    if matches!(input.spoil, Spoil::None) {
        assert!(!failed, "an unspoiled exchange failed");
        assert!(got == body, "{} of {} bytes", got.len(), body.len());
        assert!(client.closed());
    }
});
