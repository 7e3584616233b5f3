//! Fuzzes the lock manager with any script of calls — requests of any names, mode, priority,
//! deadline and opportunistic minimum; releases, downgrades, adds, removes, cancels; time
//! jumping both ways — run side by side with the naive reference model of the property tests
//! (`crates/locks/tests/model`), and checks after every call:
//!
//! - nothing panics, and machine and model agree on every result, every event (in order), the
//!   next deadline and the whole monitor;
//! - never an exclusive holder with another holder, no free lock with a queue, no owner twice
//!   on one lock, every request ends at most once;
//! - once every owner cancels and releases, nothing is held or pending.
#![no_main]

use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;

#[path = "../../crates/locks/tests/model/mod.rs"]
mod model;

use model::{Op, Pair, Pick};

#[derive(Debug, Arbitrary)]
enum Call {
    Request {
        owner: u8,
        level: u8,
        all: bool,
        mask: u8,
        exclusive: bool,
        priority: i8,
        timeout_ms: Option<u8>,
        min: Option<u8>,
    },
    Release {
        owner: u8,
        level: u8,
        all: bool,
        mask: u8,
    },
    ReleaseAll {
        owner: u8,
    },
    Downgrade {
        owner: u8,
        level: u8,
        all: bool,
        mask: u8,
    },
    Add {
        owner: u8,
        level: u8,
        name: u8,
        acquired: Option<bool>,
    },
    Remove {
        owner: u8,
        level: u8,
        mask: u8,
    },
    Cancel {
        owner: u8,
    },
    Tick {
        ms: i8,
    },
}

fn pick(all: bool, mask: u8) -> Pick {
    if all { Pick::All } else { Pick::Mask(mask) }
}

impl Call {
    fn op(&self) -> Op {
        let o = |owner: &u8| u64::from(*owner) % model::OWNERS;
        let l = |level: &u8| usize::from(*level) % 3;
        match self {
            Call::Request { owner, level, all, mask, exclusive, priority, timeout_ms, min } => Op::Request {
                owner: o(owner),
                level: usize::from(*level) % 10,
                pick: pick(*all, *mask),
                exclusive: *exclusive,
                priority: *priority,
                timeout_ms: *timeout_ms,
                min: min.map(|m| m % 8),
            },
            Call::Release { owner, level, all, mask } => {
                Op::Release { owner: o(owner), level: l(level), pick: pick(*all, *mask) }
            }
            Call::ReleaseAll { owner } => Op::ReleaseAll { owner: o(owner) },
            Call::Downgrade { owner, level, all, mask } => {
                Op::Downgrade { owner: o(owner), level: l(level), pick: pick(*all, *mask) }
            }
            Call::Add { owner, level, name, acquired } => {
                Op::Add { owner: o(owner), level: l(level), name: usize::from(*name), acquired: *acquired }
            }
            Call::Remove { owner, level, mask } => Op::Remove { owner: o(owner), level: l(level), mask: *mask },
            Call::Cancel { owner } => Op::Cancel { owner: o(owner) },
            Call::Tick { ms } => Op::Tick { ms: *ms },
        }
    }
}

fuzz_target!(|calls: Vec<Call>| {
    let mut pair = Pair::new();
    for call in calls.iter().take(400) {
        pair.apply(&call.op());
    }
    pair.finish();
});
