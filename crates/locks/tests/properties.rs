//! Property tests: random call scripts run on the machine and on a naive reference model
//! (`tests/model`): identical results, identical event sequences, identical deadlines and
//! monitor snapshots after every call; the invariants hold throughout (never an exclusive
//! holder with another, no free lock with a queue, every request ends at most once); and once
//! every owner cancels and releases, nothing is held or pending.

mod model;

use model::{NAMES, OWNERS, Op, Pair, Pick};
use proptest::prelude::*;

fn pick() -> impl Strategy<Value = Pick> {
    prop_oneof![1 => Just(Pick::All), 4 => any::<u8>().prop_map(Pick::Mask)]
}

fn op() -> impl Strategy<Value = Op> {
    let owner = 0..OWNERS;
    let level = 0usize..3;
    // 3 and up: a level the owner may ask for next (see `Pair::next_level`).
    let request_level = 0usize..10;
    prop_oneof![
        8 => (owner.clone(), request_level, pick(), any::<bool>(), -1i8..=1, prop::option::weighted(0.4, 0u8..20),
            prop::option::weighted(0.2, 0u8..3))
            .prop_map(|(owner, level, pick, exclusive, priority, timeout_ms, min)| Op::Request {
                owner, level, pick, exclusive, priority, timeout_ms, min
            }),
        4 => (owner.clone(), level.clone(), pick()).prop_map(|(owner, level, pick)| Op::Release { owner, level, pick }),
        2 => owner.clone().prop_map(|owner| Op::ReleaseAll { owner }),
        2 => (owner.clone(), level.clone(), pick()).prop_map(|(owner, level, pick)| Op::Downgrade { owner, level, pick }),
        1 => (owner.clone(), level.clone(), 0..NAMES.len(), prop::option::of(any::<bool>()))
            .prop_map(|(owner, level, name, acquired)| Op::Add { owner, level, name, acquired }),
        2 => (owner.clone(), level.clone(), any::<u8>()).prop_map(|(owner, level, mask)| Op::Remove { owner, level, mask }),
        1 => owner.prop_map(|owner| Op::Cancel { owner }),
        3 => (-2i8..12).prop_map(|ms| Op::Tick { ms }),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn machine_matches_the_model_and_keeps_its_invariants(script in prop::collection::vec(op(), 1..120)) {
        let mut pair = Pair::new();
        for op in &script {
            pair.apply(op);
        }
        pair.finish();
    }
}
