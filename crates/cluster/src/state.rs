//! What every connection of a cluster shares.

use crate::faults::Faults;
use crate::jobs::Jobs;
use crate::scenario::Scenario;
use crate::shaping::Shaping;
use crate::stats::{Counters, Stats};
use crate::store::{Origin, Store};
use crate::topology::Topology;

/// The store, the fault rules, the counters and the nodes of one cluster.
#[derive(Debug, Default)]
pub(crate) struct State {
    pub(crate) store: Store,
    pub(crate) faults: Faults,
    pub(crate) counters: Counters,
    pub(crate) jobs: Jobs,
    pub(crate) shaping: Shaping,
    /// The proxy, the targets and the cluster map; `None` in a single-node cluster.
    pub(crate) topology: Option<Topology>,
}

impl State {
    /// A cluster of these nodes seeded from a validated scenario: its buckets, their backends'
    /// objects (cold in remote buckets), its fault rules, its link and its range fault rules.
    pub(crate) fn seeded(scenario: Scenario, topology: Option<Topology>) -> Self {
        let state = State { topology, ..State::default() };
        for seed in scenario.buckets {
            state.store.create_bucket(&seed.bucket, seed.cold_get_lock);
            for (name, content) in seed.objects {
                state.store.put(&seed.bucket, &name, content, Origin::Backend);
            }
        }
        for rule in scenario.faults {
            state.faults.add(rule);
        }
        state.shaping.set_link(scenario.link);
        for rule in scenario.range_faults {
            state.shaping.add(rule);
        }
        state
    }

    /// A snapshot of every counter, the per-node ones included.
    pub(crate) fn stats(&self) -> Stats {
        let mut stats = self.counters.snapshot();
        if let Some(topology) = &self.topology {
            (stats.proxy_requests, stats.target_requests) = topology.requests();
        }
        stats
    }
}
