//! Property tests: for any service set and any answer script, the machine keeps its
//! invariants, and its accounting agrees with a simple reference model folded over the
//! answers it was given.

mod support;

use std::collections::{BTreeMap, BTreeSet};

use proptest::prelude::*;
use stowage_proto::TransportError;
use stowage_replica::{
    Answer as Last, BlockWrite, Classifier, PassSchedule, Service, ServiceKind, Verdict, WriteConfig, WriteOutcome,
    write_order,
};
use support::*;

/// What a scripted PUT answers.
#[derive(Clone, Copy, Debug)]
enum Scripted {
    /// 2xx with `X-Keep-Replicas-Stored: n` (None: no header).
    Stored(Option<u8>),
    Status(u16),
    Transport(TransportError),
}

fn scripted() -> impl Strategy<Value = Scripted> {
    prop_oneof![
        4 => prop_oneof![Just(None), (0u8..3).prop_map(Some)].prop_map(Scripted::Stored),
        3 => prop::sample::select(vec![400u16, 403, 408, 409, 423, 429, 500, 502, 503, 504, 507, 999]).prop_map(Scripted::Status),
        1 => prop::sample::select(vec![TransportError::ConnectRefused, TransportError::ReadTimeout, TransportError::Reset])
            .prop_map(Scripted::Transport),
    ]
}

fn answer_of(s: Scripted) -> Answer {
    match s {
        Scripted::Stored(None) => with_headers(200, &[]),
        Scripted::Stored(Some(n)) => with_headers(200, &[("x-keep-replicas-stored", &n.to_string())]),
        Scripted::Status(code) => status(code),
        Scripted::Transport(e) => Err(e),
    }
}

#[derive(Clone, Debug)]
struct Case {
    kinds: Vec<(u8, bool)>,
    wanted: u32,
    retries: u32,
    classifier: Classifier,
    script: Vec<Scripted>,
    seed: u64,
}

fn case() -> impl Strategy<Value = Case> {
    (
        prop::collection::vec((0u8..10, prop::bool::weighted(0.15)), 0..10),
        0u32..6,
        0u32..4,
        prop::sample::select(Classifier::ALL.to_vec()),
        prop::collection::vec(scripted(), 1..40),
        any::<u64>(),
    )
        .prop_map(|(kinds, wanted, retries, classifier, script, seed)| Case {
            kinds,
            wanted,
            retries,
            classifier,
            script,
            seed,
        })
}

impl Case {
    /// Mostly disks; kind 9 a proxy, 8 another type.
    fn services(&self) -> Vec<Service> {
        self.kinds
            .iter()
            .enumerate()
            .map(|(j, &(kind, read_only))| {
                let kind = match kind {
                    9 => ServiceKind::Proxy,
                    8 => ServiceKind::Other("blob".into()),
                    _ => ServiceKind::Disk,
                };
                let s = Service::new(uuid(j), &format!("http://keep{j}.test"), kind).unwrap();
                if read_only { s.read_only() } else { s }
            })
            .collect()
    }

    fn scripted(&self, service: usize, attempt: u32) -> Scripted {
        self.script[(service * 7 + attempt as usize) % self.script.len()]
    }
}

/// The reference model of one service over the write: a fold of the answers it gave.
#[derive(Clone, Debug, Default, PartialEq)]
struct ModelService {
    attempts: u32,
    last: Option<Last>,
    replicas: u64,
    done: bool,
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

    #[test]
    fn invariants_hold_and_accounting_matches_the_model(case in case()) {
        let services = case.services();
        let policy = passes(case.retries + 1, PassSchedule::go(secs(1)));
        let cfg = WriteConfig { classifier: case.classifier, policy, ..config(case.wanted) };
        let write = BlockWrite::new(foo(), &services, cfg).unwrap();
        let one_at_a_time = write.is_one_at_a_time();
        let order = write_order(&foo().hash(), &services);
        let trace = run(write, Order::Shuffled(case.seed), |j, attempt| answer_of(case.scripted(j, attempt)));
        let wanted = u64::from(case.wanted);

        // Concurrency.
        for s in &trace.sent {
            if one_at_a_time {
                prop_assert_eq!(s.in_flight, 1);
            } else {
                prop_assert!(s.confirmed + s.in_flight as u64 <= wanted, "{:?}", s);
            }
            prop_assert!(!services[s.service].is_read_only());
        }
        // At most one PUT per service per pass; at most retries + 1 passes.
        let mut per_pass = BTreeSet::new();
        for s in &trace.sent {
            prop_assert!(per_pass.insert((s.pass, s.service)), "{} twice in pass {}", s.service, s.pass);
            prop_assert!(s.pass >= 1 && s.pass <= case.retries + 1);
        }
        // First contacts follow the write order: the contacted set is a prefix of it.
        let mut first_contacts = vec![];
        for j in trace.services() {
            if !first_contacts.contains(&j) { first_contacts.push(j); }
        }
        prop_assert_eq!(&first_contacts[..], &order[..first_contacts.len()]);

        // The reference model: fold the answers each service gave.
        let mut model: BTreeMap<usize, ModelService> = BTreeMap::new();
        let mut attempts: BTreeMap<usize, u32> = BTreeMap::new();
        let mut copies = 0u64;
        let mut skipped_by_pass: BTreeMap<u32, BTreeSet<usize>> = BTreeMap::new();
        for s in &trace.sent {
            let done_before: BTreeSet<usize> = model.iter().filter(|(_, m)| m.done).map(|(j, _)| *j).collect();
            skipped_by_pass.entry(s.pass).or_insert(done_before.clone());
            prop_assert!(!done_before.contains(&s.service), "{} was tried after succeeding or failing permanently", s.service);
            let attempt = attempts.entry(s.service).or_default();
            *attempt += 1;
            let scripted = case.scripted(s.service, *attempt);
            let m = model.entry(s.service).or_default();
            m.attempts += 1;
            match scripted {
                Scripted::Stored(n) => {
                    let n = n.map_or(1, u64::from);
                    m.replicas += n;
                    copies += n;
                    m.done = true;
                    m.last = Some(Last::Status(http::StatusCode::OK));
                }
                Scripted::Status(code) => {
                    let code = http::StatusCode::from_u16(code).unwrap();
                    m.done = case.classifier.status(code) == Verdict::Permanent;
                    m.last = Some(Last::Status(code));
                }
                Scripted::Transport(e) => m.last = Some(Last::Transport(e)),
            }
        }
        prop_assert_eq!(trace.outcome.copies(), copies);
        // The outcome lists every contacted service, in write order, as the model has it.
        let listed: Vec<(usize, u32, Last, u64)> = trace.outcome.per_service().iter()
            .map(|r| (index_of_uuid(&r.uuid), r.attempts, r.last, r.replicas)).collect();
        let expected: Vec<(usize, u32, Last, u64)> = order.iter().filter_map(|j| {
            model.get(j).map(|m| (*j, m.attempts, m.last.unwrap(), m.replicas))
        }).collect();
        prop_assert_eq!(listed, expected);
        match &trace.outcome {
            WriteOutcome::Stored { copies, .. } => prop_assert!(*copies >= wanted),
            WriteOutcome::Failed { got, wanted: w, .. } => {
                prop_assert!(*got < wanted);
                prop_assert_eq!(*w, case.wanted);
            }
        }
        // All-disk writes whose services store at most one replica never over-replicate.
        let writable_all_disk = !one_at_a_time;
        if writable_all_disk && case.script.iter().all(|s| !matches!(s, Scripted::Stored(Some(2)))) {
            prop_assert!(copies <= wanted);
        }
        // wanted 0: no PUT at all.
        if case.wanted == 0 {
            prop_assert!(trace.sent.is_empty());
        }
    }
}
