//! A hand-written HTTP/1.1 server on loopback, for answers no real server gives.

#![allow(dead_code, reason = "each test binary uses a part of it")]

use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::thread;

/// A request as the server saw it.
pub(crate) struct Request {
    /// The request-target.
    pub(crate) path: String,
    /// `Range: bytes=first-last`, as `first..last + 1`.
    pub(crate) range: Option<(u64, u64)>,
}

/// What a test server does with one request.
pub(crate) enum Reply {
    /// Writes these bytes and waits for the next request on the connection.
    Answer(Vec<u8>),
    /// Writes these bytes and closes the connection.
    AnswerAndClose(Vec<u8>),
    /// Closes the connection without answering.
    Close,
}

/// A server on loopback that handles each request on a connection with `respond(request)`;
/// counts the connections it accepted.
pub(crate) fn serve(respond: impl Fn(&Request) -> Reply + Send + Sync + 'static) -> (String, Arc<AtomicUsize>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let accepted = Arc::new(AtomicUsize::new(0));
    let (count, respond) = (Arc::clone(&accepted), Arc::new(respond));
    thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            count.fetch_add(1, Ordering::SeqCst);
            let respond = Arc::clone(&respond);
            thread::spawn(move || answer_all(stream, &*respond));
        }
    });
    (url, accepted)
}

fn answer_all(stream: TcpStream, respond: &dyn Fn(&Request) -> Reply) {
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    let mut writer = stream;
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).unwrap_or(0) == 0 {
            return;
        }
        let mut request = Request { path: line.split(' ').nth(1).unwrap_or("").to_owned(), range: None };
        loop {
            let mut header = String::new();
            if reader.read_line(&mut header).unwrap_or(0) == 0 || header == "\r\n" {
                break;
            }
            if let Some(value) = header.to_ascii_lowercase().strip_prefix("range: bytes=") {
                let (first, last) = value.trim().split_once('-').unwrap();
                request.range = Some((first.parse().unwrap(), last.parse::<u64>().unwrap() + 1));
            }
        }
        match respond(&request) {
            Reply::Answer(bytes) => {
                if writer.write_all(&bytes).is_err() {
                    return;
                }
            }
            Reply::AnswerAndClose(bytes) => {
                let _ = writer.write_all(&bytes);
                return;
            }
            Reply::Close => return,
        }
    }
}
