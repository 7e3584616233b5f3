//! The io_uring driver's own duties, against hand-written servers on loopback: keep-alive
//! reuse, a stale idle connection retried, refused connections, garbage, stalls, and requests
//! still in flight when the machine finishes.

mod server;

use std::sync::atomic::Ordering;
use std::time::Duration;

use bytes::Bytes;
use stowage_proto::{
    Completion, InputError, Instant, Machine, Output, RequestId, RequestIds, Timeouts, Transmit, TransportError,
};
use stowage_uring::UringDriver;

use server::{Reply, serve};

/// What a request came to: the status and body, or the transport error.
type Outcome = Result<(u16, Bytes), TransportError>;

/// A test machine: sends `paths` (`together`: all at once, else one after the other) and is done
/// with every outcome in order — or, with `first_wins`, with the first one that completes.
struct Fetch {
    paths: Vec<&'static str>,
    together: bool,
    first_wins: bool,
    ids: RequestIds,
    sent: usize,
    outcomes: Vec<(RequestId, Outcome)>,
    done: bool,
}

impl Fetch {
    fn one_by_one(paths: &[&'static str]) -> Self {
        Fetch::new(paths, false, false)
    }

    fn new(paths: &[&'static str], together: bool, first_wins: bool) -> Self {
        Fetch {
            paths: paths.to_vec(),
            together,
            first_wins,
            ids: RequestIds::default(),
            sent: 0,
            outcomes: Vec::new(),
            done: false,
        }
    }
}

impl Machine for Fetch {
    type Input = Completion<Bytes>;
    type Output = Output<Vec<Outcome>>;
    type Error = InputError;

    fn handle_input(&mut self, _now: Instant, input: Completion<Bytes>) -> Result<(), InputError> {
        let outcome = input.result.map(|r| (r.status().as_u16(), r.body().clone()));
        self.outcomes.push((input.id, outcome));
        Ok(())
    }

    fn poll_output(&mut self, _now: Instant) -> Option<Output<Vec<Outcome>>> {
        if self.done {
            return None;
        }
        let finished = self.outcomes.len() == self.paths.len() || (self.first_wins && !self.outcomes.is_empty());
        if finished {
            self.done = true;
            self.outcomes.sort_by_key(|(id, _)| *id);
            return Some(Output::Done(self.outcomes.drain(..).map(|(_, o)| o).collect()));
        }
        let may_send = self.sent < self.paths.len() && (self.together || self.outcomes.len() == self.sent);
        if !may_send {
            return None;
        }
        let request = http::Request::get(self.paths[self.sent]).body(Bytes::new()).unwrap();
        self.sent += 1;
        Some(Output::Transmit(Transmit { id: self.ids.next_id(), request }))
    }

    fn poll_timeout(&self) -> Option<Instant> {
        None
    }

    fn handle_timeout(&mut self, _now: Instant) {}
}

fn ok(body: &str) -> Reply {
    Reply::Answer(format!("HTTP/1.1 200 OK\r\nContent-Length: {}\r\n\r\n{body}", body.len()).into_bytes())
}

fn driver(url: &str, read: Duration) -> UringDriver {
    UringDriver::new(url, Timeouts { connect: Duration::from_secs(3), read }).unwrap()
}

#[test]
fn keep_alive_carries_every_request_on_one_connection() {
    let (url, accepted) = serve(|r| ok(&r.path));
    let outcomes = driver(&url, Duration::from_secs(5)).drive(Fetch::one_by_one(&["/a", "/b", "/c"])).unwrap().outcome;
    let bodies: Vec<Bytes> = outcomes.into_iter().map(|o| o.unwrap().1).collect();
    assert_eq!(bodies, ["/a", "/b", "/c"]);
    assert_eq!(accepted.load(Ordering::SeqCst), 1);
}

#[test]
fn concurrent_requests_each_get_their_own_connection_and_answer() {
    let (url, accepted) = serve(|r| ok(&r.path));
    let paths = ["/1", "/2", "/3", "/4"];
    let outcomes = driver(&url, Duration::from_secs(5)).drive(Fetch::new(&paths, true, false)).unwrap().outcome;
    let bodies: Vec<Bytes> = outcomes.into_iter().map(|o| o.unwrap().1).collect();
    assert_eq!(bodies, paths);
    assert_eq!(accepted.load(Ordering::SeqCst), 4);
}

#[test]
fn an_idle_connection_the_server_closed_is_retried_once_on_a_fresh_one() {
    let (url, accepted) = serve(|r| if r.path == "/close" { Reply::Close } else { ok(&r.path) });
    let outcomes = driver(&url, Duration::from_secs(5)).drive(Fetch::one_by_one(&["/x", "/close"])).unwrap().outcome;
    assert_eq!(outcomes[0].as_ref().unwrap().1, "/x");
    // `/close` finds the reused connection closed before any answer: it is sent once more on a
    // fresh connection, which the server closes too.
    assert_eq!(outcomes[1], Err(TransportError::Closed));
    assert_eq!(accepted.load(Ordering::SeqCst), 2);
}

#[test]
fn a_closed_port_is_connect_refused() {
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let url = format!("http://127.0.0.1:{port}");
    let outcomes = driver(&url, Duration::from_secs(5)).drive(Fetch::one_by_one(&["/"])).unwrap().outcome;
    assert_eq!(outcomes, [Err(TransportError::ConnectRefused)]);
}

#[test]
fn garbage_is_a_protocol_error() {
    let (url, _) = serve(|_| Reply::Answer(b"SSH-2.0-OpenSSH_9.6\r\n\r\n".to_vec()));
    let outcomes = driver(&url, Duration::from_secs(5)).drive(Fetch::one_by_one(&["/"])).unwrap().outcome;
    assert_eq!(outcomes, [Err(TransportError::Protocol)]);
}

#[test]
fn a_stalled_answer_is_a_read_timeout_and_the_driver_goes_on() {
    let (url, _) = serve(|r| {
        if r.path == "/stall" {
            std::thread::sleep(Duration::from_secs(2));
        }
        ok(&r.path)
    });
    let mut driver = driver(&url, Duration::from_millis(200));
    let outcomes = driver.drive(Fetch::one_by_one(&["/stall", "/fine"])).unwrap().outcome;
    assert_eq!(outcomes[0], Err(TransportError::ReadTimeout));
    assert_eq!(outcomes[1].as_ref().unwrap().1, "/fine");
    let again = driver.drive(Fetch::one_by_one(&["/again"])).unwrap().outcome;
    assert_eq!(again[0].as_ref().unwrap().1, "/again");
}

#[test]
fn requests_in_flight_when_the_machine_finishes_are_cancelled() {
    // `/stall` never answers and the read timeout is an hour: `drive` returns only because
    // it cancels that request once the machine is done with `/fast`.
    let (url, _) = serve(|r| {
        if r.path == "/stall" {
            std::thread::sleep(Duration::from_secs(3600));
        }
        ok(&r.path)
    });
    let mut driver = driver(&url, Duration::from_secs(3600));
    let outcomes = driver.drive(Fetch::new(&["/stall", "/fast"], true, true)).unwrap().outcome;
    assert_eq!(outcomes.len(), 1);
    assert_eq!(outcomes[0].as_ref().unwrap().1, "/fast");
    drop(driver);
}

#[test]
fn chunked_and_close_framed_bodies_arrive_whole() {
    let (url, accepted) = serve(|r| match r.path.as_str() {
        "/chunked" => Reply::Answer(
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n".to_vec(),
        ),
        _ => Reply::AnswerAndClose(b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\nuntil-close".to_vec()),
    });
    let paths = ["/chunked", "/close", "/chunked"];
    let outcomes = driver(&url, Duration::from_secs(5)).drive(Fetch::one_by_one(&paths)).unwrap().outcome;
    let bodies: Vec<Bytes> = outcomes.into_iter().map(|o| o.unwrap().1).collect();
    assert_eq!(bodies, ["abcde", "until-close", "abcde"]);
    assert_eq!(accepted.load(Ordering::SeqCst), 2, "a close-framed body ends the connection");
}

#[test]
fn unavailable_io_uring_says_how_to_fall_back() {
    // ENOSYS: what a kernel without io_uring answers `io_uring_setup` with.
    let error = stowage_uring::UringError::Unavailable { source: std::io::Error::from_raw_os_error(38) };
    let message = error.to_string();
    assert!(message.contains("io_uring is unavailable"), "{message}");
    assert!(message.contains("tokio driver"), "{message}");
}
