use std::io::{Read, Write};

use proptest::prelude::*;
use rustls::{ServerConfig, ServerConnection};

use stowage_proto::tls::TlsError;

use super::*;

/// What a client session made of a server that sent `payload` (then `close_notify` if
/// `close`) after reading the client's request: the plaintext it read, and how it ended. The
/// server's ciphertext reaches the client in receives of `cuts` bytes (cycled), the bytes at
/// `corrupt` flipped, and read (taken) only every `read_every` receives.
fn exchange(payload: &[u8], cuts: &[usize], close: bool, corrupt: Option<usize>, read_every: usize) -> Outcome {
    let (server_config, client_config) = crate::testing::localhost();
    let mut server = ServerConnection::new(Arc::clone(server_config)).unwrap();
    server.set_buffer_limit(None);
    let mut client = Session::new(client_config, "localhost").unwrap();
    let (mut wire, mut delivered, mut asked, mut answered) = (Vec::new(), 0, false, false);
    let mut got = Vec::new();
    let mut receives = 0usize;
    for _ in 0..100_000 {
        let send = (client.handshaken() && !asked).then_some(&b"GET / HTTP/1.1\r\n\r\n"[..]);
        if let Err(error) = client.process(send) {
            return Outcome { got, result: Err(error), closed: client.closed(), cut_short: client.cut_short() };
        }
        asked |= send.is_some();
        if receives.is_multiple_of(read_every) || client.closed() {
            let mut out = [0; 7000];
            loop {
                let n = match client.read(&mut out) {
                    Ok(n) => n,
                    Err(error) => {
                        return Outcome { got, result: Err(error), closed: client.closed(), cut_short: false };
                    }
                };
                if n == 0 {
                    break;
                }
                got.extend_from_slice(&out[..n]);
            }
        }
        if client.closed() && !client.has_plain() {
            return Outcome { got, result: Ok(()), closed: true, cut_short: client.cut_short() };
        }
        let out = client.outgoing().to_vec();
        client.sent(out.len());
        if !out.is_empty() {
            server.read_tls(&mut &out[..]).unwrap();
            server.process_new_packets().unwrap();
            let mut request = [0; 64];
            if let Ok(n) = server.reader().read(&mut request)
                && n > 0
                && !answered
            {
                server.writer().write_all(payload).unwrap();
                if close {
                    server.send_close_notify();
                }
                answered = true;
            }
        }
        while server.wants_write() {
            let from = wire.len();
            server.write_tls(&mut wire).unwrap();
            if let Some(at) = corrupt.filter(|at| (from..wire.len()).contains(at)) {
                wire[at] ^= 0x55;
            }
        }
        if delivered < wire.len() {
            let room = client.recv_buffer();
            let n = cuts[receives % cuts.len()].max(1).min(room.len()).min(wire.len() - delivered);
            room[..n].copy_from_slice(&wire[delivered..delivered + n]);
            client.received(n);
            (delivered, receives) = (delivered + n, receives + 1);
        } else if answered && out.is_empty() {
            // All sent: the server closes the connection.
            client.received(0);
            receives += 1;
        }
    }
    panic!("no end after 100000 steps");
}

#[derive(Debug)]
struct Outcome {
    got: Vec<u8>,
    result: Result<(), TransportError>,
    closed: bool,
    cut_short: bool,
}

fn payload(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i * 7 + i / 251) as u8).collect()
}

#[test]
fn a_body_arrives_whole_in_any_receives() {
    for (len, cuts) in
        [(300_000, &[1_000_000][..]), (40_000, &[1]), (300_000, &[5, 17_000, 3]), (300_000, &[16 * 1024 + 22])]
    {
        let body = payload(len);
        let outcome = exchange(&body, cuts, true, None, 1);
        assert!(outcome.result.is_ok() && outcome.closed && !outcome.cut_short, "{cuts:?}: {:?}", outcome.result);
        assert!(outcome.got == body, "{cuts:?}: {} of {} bytes, or wrong ones", outcome.got.len(), body.len());
    }
}

#[test]
fn plaintext_not_taken_survives_later_receives() {
    // Read only every 50 receives: the buffer moves and grows, the plaintext with it.
    let body = payload(1_000_000);
    let outcome = exchange(&body, &[9_000, 70_000], true, None, 50);
    assert!(outcome.result.is_ok(), "{:?}", outcome.result);
    assert!(outcome.got == body);
}

#[test]
fn a_close_without_close_notify_is_a_close() {
    let body = payload(40_000);
    let outcome = exchange(&body, &[4096], false, None, 1);
    assert!(outcome.closed && outcome.cut_short && outcome.result.is_ok());
    assert!(outcome.got == body);
}

#[test]
fn a_corrupt_record_fails_and_yields_none_of_it() {
    let body = payload(100_000);
    // Well past the handshake (a few KiB): in the body's records.
    let outcome = exchange(&body, &[10_000], true, Some(60_000), 1);
    let Err(TransportError::Tls(TlsError::Record)) = outcome.result else { panic!("{:?}", outcome.result) };
    assert!(body.starts_with(&outcome.got) && outcome.got.len() < 60_000);
}

#[test]
fn the_memory_for_the_kernel_does_not_move_with_the_session() {
    let (_, client) = crate::testing::localhost();
    let mut session = Session::new(client, "localhost").unwrap();
    let room = session.recv_buffer().as_ptr();
    let moved = Box::new(session);
    let mut session = *moved;
    assert_eq!(session.recv_buffer().as_ptr(), room);
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    /// Any body, any receive sizes, any reading pace: the body whole, in order.
    #[test]
    fn any_receives_deliver_the_body(
        len in 0usize..200_000,
        cuts in proptest::collection::vec(1usize..80_000, 1..8),
        read_every in 1usize..20,
        close: bool,
    ) {
        let body = payload(len);
        let outcome = exchange(&body, &cuts, close, None, read_every);
        prop_assert!(outcome.result.is_ok(), "{:?}", outcome.result);
        prop_assert!(outcome.got == body, "{} of {} bytes", outcome.got.len(), body.len());
    }

    /// A flipped byte anywhere: never a wrong byte, only (at most) fewer of them.
    #[test]
    fn a_flipped_byte_never_yields_a_wrong_one(at in 0usize..60_000, cut in 1usize..30_000) {
        let body = payload(50_000);
        let outcome = exchange(&body, &[cut], true, Some(at), 1);
        prop_assert!(body.starts_with(&outcome.got));
    }
}

/// Moves bytes between `client` and `server` until neither has any to move, the client
/// reading what plaintext it can; returns that plaintext.
fn shuttle(client: &mut Session, server: &mut ServerConnection) -> Vec<u8> {
    let mut got = Vec::new();
    for _ in 0..1000 {
        client.process(None).unwrap();
        let mut out = [0; 4096];
        loop {
            let n = client.read(&mut out).unwrap();
            if n == 0 {
                break;
            }
            got.extend_from_slice(&out[..n]);
        }
        let sent = client.outgoing().to_vec();
        client.sent(sent.len());
        if !sent.is_empty() {
            server.read_tls(&mut &sent[..]).unwrap();
            server.process_new_packets().unwrap();
        }
        let mut wire = Vec::new();
        while server.wants_write() {
            server.write_tls(&mut wire).unwrap();
        }
        if sent.is_empty() && wire.is_empty() {
            return got;
        }
        let mut wire = &wire[..];
        while !wire.is_empty() {
            let room = client.recv_buffer();
            let n = room.len().min(wire.len());
            room[..n].copy_from_slice(&wire[..n]);
            client.received(n);
            wire = &wire[n..];
            client.process(None).unwrap();
        }
    }
    panic!("no rest after 1000 exchanges");
}

/// A session with a server of `server_config`, its handshake done.
fn connected(server_config: Arc<ServerConfig>, client_config: &TlsConfig) -> (Session, ServerConnection) {
    let mut server = ServerConnection::new(server_config).unwrap();
    server.set_buffer_limit(None);
    let mut client = Session::new(client_config, "localhost").unwrap();
    shuttle(&mut client, &mut server);
    (client, server)
}

/// The plaintext `server` has read so far.
fn server_read(server: &mut ServerConnection) -> Vec<u8> {
    let mut got = vec![0; 1024];
    let n = server.reader().read(&mut got).unwrap_or(0);
    got.truncate(n);
    got
}

#[test]
fn over_tls_1_3_the_records_are_ours_and_tickets_are_kept_for_resumption() {
    let (server_config, shared) = crate::testing::localhost();
    // A session store of its own: other tests' connections leave tickets in the shared one.
    let mut fresh = rustls::ClientConfig::clone(shared.rustls());
    fresh.resumption = rustls::client::Resumption::in_memory_sessions(8);
    let client_config = &TlsConfig::from_rustls(Arc::new(fresh));
    for attempt in 0..2 {
        let (mut client, mut server) = connected(Arc::clone(server_config), client_config);
        assert!(client.handshaken() && matches!(client.link, Link::Records(_)) && !client.legacy);
        client.process(Some(b"GET / HTTP/1.1\r\n\r\n")).unwrap();
        shuttle(&mut client, &mut server);
        assert_eq!(server_read(&mut server), b"GET / HTTP/1.1\r\n\r\n");
        server.writer().write_all(&payload(100_000)).unwrap();
        assert!(shuttle(&mut client, &mut server) == payload(100_000));
        // The second connection resumes with a ticket the first one's records carried.
        let resumed = server.handshake_kind() == Some(rustls::HandshakeKind::Resumed);
        assert_eq!(resumed, attempt == 1, "attempt {attempt}");
    }
}

#[test]
fn a_key_update_is_followed_both_ways() {
    let (server_config, client_config) = crate::testing::localhost();
    let (mut client, mut server) = connected(Arc::clone(server_config), client_config);
    server.writer().write_all(b"before ").unwrap();
    // The server's keys change, and it asks for ours to change too.
    server.refresh_traffic_keys().unwrap();
    server.writer().write_all(b"after").unwrap();
    assert_eq!(shuttle(&mut client, &mut server), b"before after");
    // Our next record is under our new keys, and the server reads it.
    client.process(Some(b"under new keys")).unwrap();
    shuttle(&mut client, &mut server);
    assert_eq!(server_read(&mut server), b"under new keys");
}

#[test]
fn over_tls_1_2_rustls_keeps_the_record_layer() {
    let (_, client_config) = crate::testing::localhost();
    let (mut client, mut server) = connected(crate::testing::server(&[&rustls::version::TLS12]), client_config);
    assert!(client.handshaken() && client.legacy && matches!(client.link, Link::Rustls(_)));
    client.process(Some(b"GET / HTTP/1.1\r\n\r\n")).unwrap();
    shuttle(&mut client, &mut server);
    assert_eq!(server_read(&mut server), b"GET / HTTP/1.1\r\n\r\n");
    server.writer().write_all(&payload(100_000)).unwrap();
    server.send_close_notify();
    assert!(shuttle(&mut client, &mut server) == payload(100_000));
    assert!(client.closed() && !client.cut_short());
}

#[test]
fn a_record_longer_than_tls_allows_is_refused_before_it_arrives() {
    let (server_config, client_config) = crate::testing::localhost();
    let (mut client, _server) = connected(Arc::clone(server_config), client_config);
    let room = client.recv_buffer();
    room[..5].copy_from_slice(&[23, 3, 3, 0xff, 0xff]);
    client.received(5);
    let Err(TransportError::Tls(TlsError::Record)) = client.process(None) else { panic!("an oversized record taken") };
}

#[test]
fn over_tls_1_2_a_write_with_records_unread_is_sent_and_they_are_kept() {
    let (_, client_config) = crate::testing::localhost();
    let (mut client, mut server) = connected(crate::testing::server(&[&rustls::version::TLS12]), client_config);
    server.writer().write_all(b"unread").unwrap();
    let mut wire = Vec::new();
    server.write_tls(&mut wire).unwrap();
    let room = client.recv_buffer();
    room[..wire.len()].copy_from_slice(&wire);
    client.received(wire.len());
    // A record waits, not read; the request must not be dropped for it.
    client.process(Some(b"request")).unwrap();
    assert!(!client.outgoing().is_empty());
    // Kept, in order, for the next reads.
    assert_eq!(shuttle(&mut client, &mut server), b"unread");
    assert_eq!(server_read(&mut server), b"request");
}
