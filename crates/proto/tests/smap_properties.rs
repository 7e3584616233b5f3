//! Properties of HRW placement: membership changes move only the objects they must.

use proptest::prelude::*;
use stowage_proto::ais::{
    Bucket, Namespace, NetInfo, NodeFlags, NodeMap, ObjectAddress, PlacementError, Provider, Smap, Snode,
};

/// A target: an id (unique within a map) and whether it is in maintenance.
fn target(id: String, flags: NodeFlags) -> Snode {
    let mut node = Snode::target(id, NetInfo::new("http", "127.0.0.1", 8081));
    node.flags = flags;
    node
}

fn smap(targets: Vec<Snode>) -> Smap {
    let mut smap = Smap::new(Snode::proxy("primary", NetInfo::new("http", "127.0.0.1", 8080)));
    smap.targets = targets.into_iter().collect();
    smap
}

fn flags() -> impl Strategy<Value = NodeFlags> {
    prop_oneof![
        6 => Just(NodeFlags::NONE),
        1 => Just(NodeFlags::MAINTENANCE),
        1 => Just(NodeFlags::DECOMMISSION),
        1 => Just(NodeFlags::MAINTENANCE_POST_REBALANCE),
        1 => Just(NodeFlags::IC | NodeFlags::NON_ELECTABLE),
    ]
}

/// 0–12 targets with distinct ids, in an arbitrary order.
fn targets() -> impl Strategy<Value = Vec<Snode>> {
    prop::collection::btree_set("[A-Za-z0-9]{1,10}", 0..12)
        .prop_flat_map(|ids| {
            let n = ids.len();
            (Just(ids.into_iter().collect::<Vec<_>>()), prop::collection::vec(flags(), n))
        })
        .prop_map(|(ids, flags)| ids.into_iter().zip(flags).map(|(id, f)| target(id, f)).collect::<Vec<_>>())
        .prop_shuffle()
}

fn address() -> impl Strategy<Value = ObjectAddress> {
    let provider = prop::sample::select(vec![Provider::Ais, Provider::Aws, Provider::Gcp, Provider::Ht]);
    let namespace = prop_oneof![
        3 => Just(Namespace::default()),
        1 => ("[a-z]{0,6}", "[a-z]{0,6}").prop_map(|(uuid, name)| Namespace { uuid, name }),
    ];
    (provider, namespace, "[a-z0-9.-]{1,12}", any::<String>()).prop_map(|(provider, namespace, bucket, object)| {
        let mut bucket = Bucket::new(bucket, provider);
        bucket.namespace = namespace;
        ObjectAddress::new(bucket, &object)
    })
}

fn owner<'a>(smap: &'a Smap, address: &ObjectAddress) -> Option<&'a str> {
    smap.target_for(address).ok().map(|t| t.daemon_id.as_str())
}

proptest! {
    /// The owner is a target of the map out of maintenance, and there is one exactly when the
    /// map has such a target.
    #[test]
    fn the_owner_is_always_eligible(targets in targets(), objects in prop::collection::vec(address(), 1..16)) {
        let smap = smap(targets);
        let eligible = smap.targets.nodes().filter(|t| !t.in_maintenance()).count();
        for address in &objects {
            match smap.target_for(address) {
                Ok(owner) => {
                    prop_assert!(!owner.in_maintenance());
                    prop_assert_eq!(smap.targets.get(&owner.daemon_id), Some(owner));
                }
                Err(PlacementError::NoEligibleTarget { targets }) => {
                    prop_assert_eq!(eligible, 0);
                    prop_assert_eq!(targets, smap.targets.len());
                }
            }
        }
    }

    /// Taking a target out — removing it, or putting it in maintenance — moves exactly the
    /// objects it owned, each to another eligible target; every other object stays.
    #[test]
    fn only_the_objects_of_a_leaving_target_move(
        targets in targets(),
        objects in prop::collection::vec(address(), 1..24),
        leaving in any::<prop::sample::Index>(),
        how in prop::sample::select(vec![None, Some(NodeFlags::MAINTENANCE), Some(NodeFlags::DECOMMISSION)]),
    ) {
        prop_assume!(!targets.is_empty());
        let before = smap(targets);
        let gone = before.targets.iter().nth(leaving.index(before.targets.len())).map(|(id, _)| id.to_owned());
        let gone = gone.unwrap_or_default();
        let mut after = before.clone();
        match how {
            None => { after.targets.remove(&gone); }
            Some(flags) => if let Some(node) = after.targets.get_mut(&gone) { node.flags = flags; },
        }
        for address in &objects {
            let (was, now) = (owner(&before, address), owner(&after, address));
            if was == Some(gone.as_str()) {
                prop_assert_ne!(now, Some(gone.as_str()));
            } else {
                prop_assert_eq!(was, now, "an object of another target moved");
            }
        }
    }

    /// A target joining takes objects only for itself.
    #[test]
    fn a_joining_target_takes_objects_only_for_itself(
        targets in targets(),
        objects in prop::collection::vec(address(), 1..24),
    ) {
        let before = smap(targets);
        let mut after = before.clone();
        let joining = "joining-target-with-an-id-longer-than-any-generated";
        after.targets.insert(target(joining.to_owned(), NodeFlags::NONE));
        for address in &objects {
            let (was, now) = (owner(&before, address), owner(&after, address));
            prop_assert!(now == was || now == Some(joining), "{:?} → {:?}", was, now);
        }
    }

    /// With distinct digests, the map's order does not matter (it only breaks ties).
    #[test]
    fn order_does_not_matter_without_ties(
        targets in targets(),
        objects in prop::collection::vec(address(), 1..16),
    ) {
        let reversed: NodeMap = targets.iter().rev().cloned().collect();
        let forward = smap(targets);
        let mut backward = forward.clone();
        backward.targets = reversed;
        for address in &objects {
            prop_assert_eq!(owner(&forward, address), owner(&backward, address));
        }
    }

    /// Serialising and parsing gives the same map, and so the same placement.
    #[test]
    fn serialised_maps_parse_back(targets in targets(), version in any::<i64>()) {
        let mut smap = smap(targets);
        smap.version = version;
        prop_assert_eq!(Smap::parse(&smap.to_json()), Ok(smap));
    }
}
