//! What every connection of a cluster shares.

use crate::faults::Faults;
use crate::jobs::Jobs;
use crate::scenario::Scenario;
use crate::shaping::Shaping;
use crate::stats::Counters;
use crate::store::{Origin, Store};

/// The store, the fault rules and the counters of one cluster.
#[derive(Debug, Default)]
pub(crate) struct State {
    pub(crate) store: Store,
    pub(crate) faults: Faults,
    pub(crate) counters: Counters,
    pub(crate) jobs: Jobs,
    pub(crate) shaping: Shaping,
}

impl State {
    /// A cluster seeded from a validated scenario: its buckets, their backends' objects (cold
    /// in remote buckets), its fault rules, its link and its range fault rules.
    pub(crate) fn seeded(scenario: Scenario) -> Self {
        let state = State::default();
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
}
