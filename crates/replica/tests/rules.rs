//! One test per rule of the spec (`shared/specs/replica.md`) and of Arvados story #9446.

mod support;

use std::collections::BTreeMap;

use bytes::Bytes;
use http::StatusCode;
use stowage_proto::redirect::RedirectError;
use stowage_proto::{Completion, InputError, Instant, Machine, Output, TransportError};
use stowage_replica::{
    Answer as Last, Block, BlockHash, BlockWrite, Classifier, GiveUp, PassSchedule, Service, ServiceKind, Verdict,
    WriteConfig, WriteConfigError, WriteOutcome, probe_order, weight_hex, write_order,
};
use support::*;

fn foo_hash() -> BlockHash {
    BlockHash::of(b"foo")
}

fn order_of(n: usize) -> Vec<usize> {
    probe_order(&foo_hash(), &disks(n))
}

fn write(services: &[Service], config: WriteConfig) -> BlockWrite {
    BlockWrite::new(foo(), services, config).unwrap()
}

/// The services each report names, in order.
fn reported(outcome: &WriteOutcome) -> Vec<usize> {
    outcome.per_service().iter().map(|s| index_of_uuid(&s.uuid)).collect()
}

// ---- probe order -------------------------------------------------------------------------

#[test]
fn probe_order_matches_the_spec_vectors() {
    assert_eq!(foo_hash().as_str(), "acbd18db4cc2f85cedef654fccc4a4d8");
    assert_eq!(order_of(12), [0x7, 0x3, 0x9, 0x0, 0x5, 0xa, 0x4, 0xb, 0x2, 0x1, 0x6, 0x8]);
    assert_eq!(order_of(2), [0, 1]);
    assert_eq!(order_of(3), [0, 2, 1]);
    assert_eq!(order_of(8), [7, 3, 0, 5, 4, 2, 1, 6]);
}

#[test]
fn weight_is_md5_of_hash_and_last_15_uuid_characters() {
    // md5("acbd18db4cc2f85cedef654fccc4a4d8" ++ "000000000000007")
    let by_hand = BlockHash::of(b"acbd18db4cc2f85cedef654fccc4a4d8000000000000007");
    assert_eq!(weight_hex(&foo_hash(), &uuid(7)), by_hand.as_str());
    assert_eq!(weight_hex(&foo_hash(), "xx-000000000000007"), by_hand.as_str());
}

#[test]
fn probe_order_is_stable_on_ties() {
    let twins: Vec<Service> =
        (0..3).map(|j| Service::new(uuid(5), &format!("http://keep{j}.test"), ServiceKind::Disk).unwrap()).collect();
    assert_eq!(probe_order(&foo_hash(), &twins), [0, 1, 2]);
}

#[test]
fn adding_k_services_moves_the_first_choice_by_at_most_k_places() {
    for b in 0..100u32 {
        let hash = BlockHash::of(&b.to_le_bytes());
        let first = probe_order(&hash, &disks(12))[0];
        for k in 1..=4 {
            let order = probe_order(&hash, &disks(12 + k));
            let place = order.iter().position(|&j| j == first).unwrap();
            assert!(place <= k, "block {b}: first choice moved to place {place} with {k} more services");
        }
    }
}

#[test]
fn read_only_services_and_gateways_are_never_written() {
    let mut services = disks(4);
    services[0] = services[0].clone().read_only();
    services[3] = Service::new(uuid(3), "http://keep3.test", ServiceKind::from_type(Some("gateway:x"))).unwrap();
    // Probe order for foo with 4: computed, then filtered.
    let full = probe_order(&foo_hash(), &services);
    let writable: Vec<usize> = full.iter().copied().filter(|j| *j != 0 && *j != 3).collect();
    assert_eq!(write_order(&foo_hash(), &services), writable);
    let trace = run(write(&services, config(3)), Order::Fifo, |_, _| stored());
    assert!(!trace.services().contains(&0) && !trace.services().contains(&3));
    assert!(matches!(trace.outcome, WriteOutcome::Failed { got: 2, reason: GiveUp::NoServiceLeft, .. }));
}

// ---- concurrency -------------------------------------------------------------------------

#[test]
fn all_disk_starts_as_many_puts_as_copies_wanted_in_probe_order() {
    let mut w = write(&disks(8), config(3));
    let mut sent = vec![];
    while let Some(Output::Transmit(t)) = w.poll_output(Instant::ZERO) {
        sent.push(index_of_host(t.request.uri()));
    }
    assert_eq!(sent, [7, 3, 0]);
}

#[test]
fn all_disk_never_starts_a_put_when_confirmed_plus_in_flight_reach_wanted() {
    // Staggered answers (newest first): the reference SDK stores 5 copies when asked for 3.
    for wanted in 1..=5 {
        let trace = run(write(&disks(8), config(wanted)), Order::Lifo, |_, _| stored());
        for s in &trace.sent {
            assert!(s.confirmed + s.in_flight as u64 <= u64::from(wanted), "{s:?}");
        }
        assert_eq!(trace.outcome.copies(), u64::from(wanted));
        assert_eq!(trace.sent.len(), wanted as usize);
    }
}

#[test]
fn a_failure_starts_the_next_untried_service() {
    // Order for 8: 7 3 0 5 4 2 1 6; 3 fails, so 5 starts.
    let trace = run(write(&disks(8), config(3)), Order::Fifo, |j, _| if j == 3 { status(500) } else { stored() });
    assert_eq!(trace.services(), [7, 3, 0, 5]);
    assert_eq!(trace.outcome.copies(), 3);
}

#[test]
fn any_non_disk_service_means_one_put_at_a_time() {
    let mut services = disks(8);
    services[5] = Service::new(uuid(5), "http://keep5.test", ServiceKind::Other("blob".into())).unwrap();
    let trace = run(write(&services, config(3)), Order::Fifo, |_, _| stored());
    assert_eq!(trace.max_in_flight(), 1);
    assert_eq!(trace.services(), [7, 3, 0]);
}

#[test]
fn a_proxy_storing_several_replicas_counts_them() {
    let proxies = Service::proxies(["http://keep0.test/", "http://keep1.test/"]).unwrap();
    let w = write(&proxies, config(3));
    assert!(w.is_one_at_a_time());
    let trace = run(w, Order::Fifo, |_, _| with_headers(200, &[("x-keep-replicas-stored", "2")]));
    assert_eq!(trace.sent.len(), 2);
    assert_eq!(trace.outcome.copies(), 4);
}

#[test]
fn a_proxy_answering_503_when_short_is_retried_and_its_count_ignored() {
    let proxies = Service::proxies(["http://keep0.test/"]).unwrap();
    let cfg = WriteConfig { policy: PassSchedule::go(secs(1)), ..config(2) };
    let trace = run(write(&proxies, cfg), Order::Fifo, |_, attempt| match attempt {
        1 => with_headers(503, &[("x-keep-replicas-stored", "1")]),
        _ => with_headers(200, &[("x-keep-replicas-stored", "2")]),
    });
    assert_eq!(trace.sent.len(), 2);
    assert_eq!(trace.outcome.copies(), 2, "the 503's count is ignored");
}

// ---- answers -----------------------------------------------------------------------------

#[test]
fn replicas_header_missing_or_malformed_counts_one() {
    for headers in [vec![], vec![("x-keep-replicas-stored", "many")], vec![("x-keep-replicas-stored", "-2")]] {
        let trace = run(write(&disks(3), config(2)), Order::Fifo, |_, _| with_headers(200, &headers));
        assert_eq!(trace.outcome.copies(), 2);
        assert_eq!(trace.sent.len(), 2);
    }
}

#[test]
fn replicas_stored_zero_counts_nothing_and_the_write_goes_on() {
    // 7 and 3 store nothing; 0 and 5 store one each.
    let trace = run(write(&disks(8), config(2)), Order::Fifo, |j, _| {
        let n = if j == 7 || j == 3 { "0" } else { "1" };
        with_headers(200, &[("x-keep-replicas-stored", n)])
    });
    assert_eq!(trace.services(), [7, 3, 0, 5]);
    let WriteOutcome::Stored { copies, per_service, .. } = &trace.outcome else { panic!("{:?}", trace.outcome) };
    assert_eq!(*copies, 2);
    assert_eq!(per_service[0].replicas, 0);
}

#[test]
fn replicas_stored_zero_everywhere_fails_instead_of_hanging() {
    let trace =
        run(write(&disks(3), config(1)), Order::Fifo, |_, _| with_headers(200, &[("x-keep-replicas-stored", "0")]));
    assert!(matches!(trace.outcome, WriteOutcome::Failed { got: 0, reason: GiveUp::NoServiceLeft, passes: 1, .. }));
}

#[test]
fn non_2xx_replica_headers_are_ignored() {
    let trace = run(write(&disks(3), config(1)), Order::Fifo, |j, _| {
        if j == 0 { with_headers(500, &[("x-keep-replicas-stored", "5")]) } else { stored() }
    });
    assert_eq!(trace.outcome.copies(), 1);
    assert_eq!(trace.services(), [0, 2]);
}

#[test]
fn the_locator_is_the_latest_2xx_body_trimmed() {
    let trace = run(write(&disks(3), config(2)), Order::Fifo, |j, _| {
        let body = format!(" acbd18db4cc2f85cedef654fccc4a4d8+3+A{j:040x}@00000001\n");
        Ok(http::Response::builder().status(200).body(Bytes::from(body)).unwrap())
    });
    let WriteOutcome::Stored { locator, .. } = trace.outcome else { panic!() };
    assert_eq!(locator, format!("acbd18db4cc2f85cedef654fccc4a4d8+3+A{:040x}@00000001", 2));
}

#[test]
fn a_2xx_without_a_usable_body_leaves_the_unsigned_locator() {
    let trace = run(write(&disks(3), config(1)), Order::Fifo, |_, _| {
        Ok(http::Response::builder().status(200).body(Bytes::from_static(b"\xff\xfe")).unwrap())
    });
    let WriteOutcome::Stored { locator, .. } = trace.outcome else { panic!() };
    assert_eq!(locator, "acbd18db4cc2f85cedef654fccc4a4d8+3");
}

// ---- storage classes ---------------------------------------------------------------------

fn classes_config(wanted: u32, classes: &[&str]) -> WriteConfig {
    WriteConfig { classes: classes.iter().map(|c| (*c).to_owned()).collect(), ..config(wanted) }
}

#[test]
fn pending_classes_are_sent_sorted_and_confirmed_ones_dropped() {
    // Order for 8: 7 3 0 5 …; wanted 1, classes b and a. 7 confirms a, 3 confirms b.
    let trace = run(write(&disks(8), classes_config(1, &["b", "a"])), Order::Fifo, |j, _| {
        let class = if j == 7 { "a=1" } else { "b=1" };
        with_headers(200, &[("x-keep-storage-classes-confirmed", class)])
    });
    let sent: Vec<&str> =
        trace.sent.iter().map(|s| s.request.headers()["x-keep-storage-classes"].to_str().unwrap()).collect();
    assert_eq!(sent, ["a, b", "b"]);
    let WriteOutcome::Stored { classes, copies, .. } = &trace.outcome else { panic!() };
    assert_eq!(*copies, 2, "classes need more copies than wanted");
    assert_eq!(*classes, BTreeMap::from([("a".to_owned(), 1), ("b".to_owned(), 1)]));
}

#[test]
fn an_empty_classes_header_confirms_none_and_tracking_goes_on() {
    let trace = run(write(&disks(3), classes_config(1, &["a"])), Order::Fifo, |_, _| stored());
    // Nobody confirms class a: every service is tried, the write fails short of the class.
    assert!(matches!(trace.outcome, WriteOutcome::Failed { got: 3, reason: GiveUp::NoServiceLeft, .. }));
}

#[test]
fn a_missing_classes_header_turns_class_tracking_off() {
    let trace = run(write(&disks(3), classes_config(1, &["a"])), Order::Fifo, |_, _| {
        with_headers(200, &[("x-keep-replicas-stored", "1")])
    });
    let WriteOutcome::Stored { copies, classes, .. } = &trace.outcome else { panic!() };
    assert_eq!((*copies, classes.len()), (1, 0));
}

#[test]
fn class_names_that_break_the_headers_are_refused() {
    for bad in ["", "a,b", "a=1"] {
        assert!(BlockWrite::new(foo(), &disks(1), classes_config(1, &[bad])).is_err());
    }
    let token = WriteConfig { token: Some("line\nbreak".into()), ..config(1) };
    assert!(BlockWrite::new(foo(), &disks(1), token).is_err());
}

// ---- classification ----------------------------------------------------------------------

#[test]
fn classifier_presets_match_the_spec_table() {
    let retryable = |c: Classifier| -> Vec<u16> {
        (100..1000).filter(|&s| c.status(StatusCode::from_u16(s).unwrap()) == Verdict::Retryable).collect()
    };
    let go: Vec<u16> = [408, 429].into_iter().chain((500..1000).filter(|&s| s != 507)).collect();
    assert_eq!(retryable(Classifier::Go2024), go);
    let seed: Vec<u16> = [408, 429].into_iter().chain((500..600).filter(|&s| s != 503)).collect();
    assert_eq!(retryable(Classifier::Seed2016), seed);
    let python: Vec<u16> = [408, 409, 423, 500, 502, 503, 504].into_iter().chain(600..1000).collect();
    assert_eq!(retryable(Classifier::Python321), python);
    for c in Classifier::ALL {
        assert_eq!(c.status(StatusCode::CREATED), Verdict::Stored);
        for error in TransportError::ALL {
            let expected = if error.is_permanent() { Verdict::Permanent } else { Verdict::Retryable };
            assert_eq!(c.transport(error), expected, "{c} {error}");
        }
    }
    assert_eq!(Classifier::default(), Classifier::Go2024);
}

#[test]
fn permanent_failures_are_not_retried_in_later_passes() {
    // 507 is permanent under go-2024, retryable under none; 503 is retryable under go-2024.
    let cfg = WriteConfig { policy: PassSchedule::go(secs(1)), ..config(3) };
    let trace = run(write(&disks(3), cfg), Order::Fifo, |j, _| match j {
        0 => status(507),
        1 => status(503),
        _ => stored(),
    });
    assert_eq!(trace.pass(1), [0, 2, 1]);
    assert_eq!(trace.pass(2), [1]);
    assert_eq!(trace.pass(3), [1]);
    assert!(matches!(
        trace.outcome,
        WriteOutcome::Failed { wanted: 3, got: 1, reason: GiveUp::PassesExhausted, passes: 3, .. }
    ));
}

#[test]
fn a_redirect_that_could_not_be_followed_is_not_retried_in_later_passes() {
    let redirect = TransportError::Redirect(RedirectError::TooManyHops);
    let cfg = WriteConfig { policy: PassSchedule::go(secs(1)), ..config(3) };
    let trace = run(write(&disks(3), cfg), Order::Fifo, |j, _| match j {
        0 => Err(redirect),
        1 => status(503),
        _ => stored(),
    });
    assert_eq!(trace.pass(1), [0, 2, 1]);
    assert_eq!(trace.pass(2), [1], "service 0 is not asked again");
    let last: BTreeMap<usize, (Last, u32)> =
        trace.outcome.per_service().iter().map(|s| (index_of_uuid(&s.uuid), (s.last, s.attempts))).collect();
    assert_eq!(last[&0], (Last::Transport(redirect), 1));
}

#[test]
fn seed_2016_treats_503_as_full() {
    let cfg = WriteConfig { classifier: Classifier::Seed2016, policy: PassSchedule::go(secs(1)), ..config(2) };
    let trace = run(write(&disks(2), cfg), Order::Fifo, |j, _| if j == 0 { status(503) } else { stored() });
    assert_eq!(trace.services(), [0, 1]);
    assert!(matches!(trace.outcome, WriteOutcome::Failed { got: 1, reason: GiveUp::NoServiceLeft, .. }));
}

// ---- passes (story #9446) ----------------------------------------------------------------

#[test]
fn a_retry_pass_remembers_two_of_three_and_writes_one_more() {
    // Order for 3: 0 2 1. Pass 1: 0 and 2 store, 1 answers 500. Pass 2: only 1, once.
    let cfg = WriteConfig { policy: PassSchedule::go(secs(2)), ..config(3) };
    let trace = run(
        write(&disks(3), cfg),
        Order::Fifo,
        |j, attempt| {
            if j == 1 && attempt == 1 { status(500) } else { stored() }
        },
    );
    assert_eq!(trace.pass(1), [0, 2, 1]);
    assert_eq!(trace.pass(2), [1]);
    assert!(matches!(trace.outcome, WriteOutcome::Stored { copies: 3, passes: 2, .. }));
}

#[test]
fn a_retry_pass_skips_services_that_succeeded_or_failed_permanently() {
    // Order for 8: 7 3 0 5 4 2 1 6. 7 stores; 3 is full (507); the rest are busy once.
    let cfg = WriteConfig { policy: PassSchedule::go(secs(2)), ..config(2) };
    let trace = run(write(&disks(8), cfg), Order::Fifo, |j, attempt| match (j, attempt) {
        (7, _) => stored(),
        (3, _) => status(507),
        (_, 1) => status(503),
        _ => stored(),
    });
    assert_eq!(trace.pass(1), [7, 3, 0, 5, 4, 2, 1, 6]);
    assert_eq!(trace.pass(2), [0]);
    assert!(matches!(trace.outcome, WriteOutcome::Stored { copies: 2, passes: 2, .. }));
}

#[test]
fn the_write_stops_after_the_retry_budget() {
    for retries in [0, 1, 4] {
        let policy = passes(retries + 1, PassSchedule::go(secs(1)));
        let trace = run(write(&disks(2), WriteConfig { policy, ..config(1) }), Order::Fifo, |_, _| status(500));
        assert_eq!(trace.sent.len(), 2 * (retries as usize + 1));
        let WriteOutcome::Failed { passes, reason, .. } = trace.outcome else { panic!() };
        assert_eq!((passes, reason), (retries + 1, GiveUp::PassesExhausted));
    }
}

#[test]
fn python_backoff_waits_4_8_16_32_60_start_to_start() {
    let policy = passes(7, PassSchedule::python_3_2_1());
    let trace = run(write(&disks(1), WriteConfig { policy, ..config(1) }), Order::Fifo, |_, _| status(500));
    // Each pass takes 1 s (one answer); the next starts 4, 8, … s after it started.
    assert_eq!(trace.pass_starts(), [at(0), at(4), at(12), at(28), at(60), at(120), at(180)]);
}

#[test]
fn go_backoff_waits_after_the_pass() {
    let policy = PassSchedule::go(secs(2));
    let trace = run(write(&disks(1), WriteConfig { policy, ..config(1) }), Order::Fifo, |_, _| status(500));
    assert_eq!(trace.pass_starts(), [at(0), at(3), at(6)]);
}

#[test]
fn a_pass_with_no_eligible_service_ends_the_write_at_once() {
    let trace = run(write(&disks(3), config(2)), Order::Fifo, |_, _| status(403));
    assert_eq!(trace.end, at(3), "no wait for a pass that cannot write");
    assert!(matches!(trace.outcome, WriteOutcome::Failed { reason: GiveUp::NoServiceLeft, passes: 1, .. }));
    let none = run(write(&[], config(2)), Order::Fifo, |_, _| stored());
    assert!(matches!(none.outcome, WriteOutcome::Failed { got: 0, reason: GiveUp::NoServiceLeft, passes: 0, .. }));
}

#[test]
fn the_final_error_lists_every_contacted_service_in_probe_order_with_its_last_answer() {
    let cfg = WriteConfig { policy: PassSchedule::go(secs(1)), ..config(8) };
    let trace = run(write(&disks(4), cfg), Order::Lifo, |j, attempt| match (j, attempt) {
        (0, _) => Err(TransportError::ConnectRefused),
        (1, 1) => status(503),
        (1, _) => status(429),
        (2, _) => status(507),
        _ => stored(),
    });
    let order = order_of(4);
    assert_eq!(reported(&trace.outcome), order);
    let last: BTreeMap<usize, (Last, u32)> =
        trace.outcome.per_service().iter().map(|s| (index_of_uuid(&s.uuid), (s.last, s.attempts))).collect();
    assert_eq!(last[&0], (Last::Transport(TransportError::ConnectRefused), 3));
    assert_eq!(last[&1], (Last::Status(StatusCode::TOO_MANY_REQUESTS), 3));
    assert_eq!(last[&2], (Last::Status(StatusCode::INSUFFICIENT_STORAGE), 1));
    assert_eq!(last[&3], (Last::Status(StatusCode::OK), 1));
}

#[test]
fn wanted_below_one_returns_the_locator_without_writing() {
    let trace = run(write(&disks(3), config(0)), Order::Fifo, |_, _| stored());
    assert!(trace.sent.is_empty());
    let WriteOutcome::Stored { locator, copies, passes, .. } = trace.outcome else { panic!() };
    assert_eq!((locator.as_str(), copies, passes), ("acbd18db4cc2f85cedef654fccc4a4d8+3", 0, 0));
}

// ---- wire --------------------------------------------------------------------------------

#[test]
fn puts_carry_the_keep_headers_and_the_shared_block() {
    let data = Bytes::from(vec![7u8; 1000]);
    let block = Block::new(data.clone()).unwrap();
    let cfg = WriteConfig { token: Some("t0ken".into()), ..config(2) };
    let mut w = BlockWrite::new(block.clone(), &disks(3), cfg).unwrap();
    let Some(Output::Transmit(t)) = w.poll_output(Instant::ZERO) else { panic!() };
    let r = &t.request;
    assert_eq!(r.method(), http::Method::PUT);
    assert!(r.uri().to_string().starts_with("http://keep"));
    assert_eq!(r.uri().path(), format!("/{}", block.hash()));
    assert_eq!(r.headers()["authorization"], "Bearer t0ken");
    assert_eq!(r.headers()["x-keep-desired-replicas"], "2");
    assert_eq!(r.headers()["x-request-id"], "req-abcdefghij0123456789");
    assert_eq!(r.headers()["content-length"], "1000");
    assert!(r.headers().get("x-keep-storage-classes").is_none());
    assert_eq!(r.body().as_ptr(), data.as_ptr(), "the body is the caller's buffer, not a copy");
}

#[test]
fn desired_replicas_is_the_callers_total_on_every_pass() {
    let cfg = WriteConfig { policy: PassSchedule::go(secs(1)), ..config(3) };
    let trace = run(
        write(&disks(3), cfg),
        Order::Fifo,
        |j, attempt| if j == 1 && attempt == 1 { status(500) } else { stored() },
    );
    assert!(trace.sent.iter().all(|s| s.request.headers()["x-keep-desired-replicas"] == "3"));
}

#[test]
fn an_empty_block_is_still_written() {
    let block = Block::new(Bytes::new()).unwrap();
    let trace = run(BlockWrite::new(block, &disks(2), config(1)).unwrap(), Order::Fifo, |_, _| stored());
    assert_eq!(trace.sent.len(), 1);
    assert_eq!(trace.sent[0].request.headers()["content-length"], "0");
}

// ---- the machine contract ----------------------------------------------------------------

#[test]
fn unexpected_completions_are_refused_and_change_nothing() {
    let mut w = write(&disks(3), config(1));
    let Some(Output::Transmit(t)) = w.poll_output(Instant::ZERO) else { panic!() };
    let bogus = stowage_proto::RequestId(t.id.0 + 1);
    assert_eq!(
        w.handle_input(at(1), Completion { id: bogus, result: stored() }),
        Err(InputError::UnexpectedCompletion(bogus))
    );
    assert_eq!(w.in_flight(), 1);
    w.handle_input(at(1), Completion { id: t.id, result: stored() }).unwrap();
    assert!(matches!(w.poll_output(at(1)), Some(Output::Done(WriteOutcome::Stored { copies: 1, .. }))));
    assert_eq!(w.handle_input(at(1), Completion { id: t.id, result: stored() }), Err(InputError::Finished));
}

#[test]
fn time_going_backwards_counts_as_no_time() {
    let policy = PassSchedule::go(secs(2));
    let mut w = write(&disks(1), WriteConfig { policy, ..config(1) });
    let Some(Output::Transmit(t)) = w.poll_output(at(10)) else { panic!() };
    w.handle_input(at(11), Completion { id: t.id, result: status(500) }).unwrap();
    assert_eq!(w.poll_timeout(), Some(at(13)));
    w.handle_timeout(at(5));
    assert!(w.poll_output(at(5)).is_none(), "going back to t=5 must not reach t=13");
    assert!(matches!(w.poll_output(at(13)), Some(Output::Transmit(_))));
}

#[test]
fn configs_that_cannot_run_are_refused() {
    let new = |cfg: WriteConfig| BlockWrite::new(foo(), &disks(2), cfg).err();
    let classes = vec!["a,b".to_owned()];
    assert_eq!(new(WriteConfig { classes, ..config(2) }), Some(WriteConfigError::BadClass("a,b".into())));
    let mut policy = PassSchedule::default();
    policy.retry.jitter = true;
    assert_eq!(new(WriteConfig { policy, ..config(2) }), Some(WriteConfigError::Jitter));
}
