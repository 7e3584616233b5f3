//! Fuzzes `Smap::parse` over arbitrary bytes and over maps built from arbitrary nodes, and
//! placement over arbitrary object names, and checks:
//!
//! - nothing panics: any bytes are a map or a typed `SmapError`;
//! - a parsed map places every object on one of its targets that is out of maintenance, or
//!   says, typed, that it has none (and then it has none);
//! - placing by address and by the address's uname agree;
//! - serialising a map and parsing it again gives the same map, and the same placements.
#![no_main]

use arbitrary::{Arbitrary, Unstructured};
use libfuzzer_sys::fuzz_target;
use stowage_proto::ais::{
    Bucket, Namespace, NetInfo, NodeFlags, ObjectAddress, PlacementError, Provider, Smap, Snode, object_uname,
};

/// Bytes up to the first 0xFF (which JSON in UTF-8 never holds) are the map's JSON, as a
/// cluster might answer `GET /v1/daemon?what=smap` (so a corpus of real maps works as it is);
/// what follows is the objects to place (a few fixed ones when there is nothing). Bytes that
/// start with 0xFF build a map of arbitrary targets instead, serialised by us first.
enum Case {
    Json { json: Vec<u8>, objects: Vec<Object> },
    Built { nodes: Vec<Node>, objects: Vec<Object> },
}

impl Case {
    fn from_bytes(data: &[u8]) -> Self {
        let (json, rest) = match data.iter().position(|&b| b == 0xFF) {
            Some(at) => (&data[..at], &data[at + 1..]),
            None => (data, &[][..]),
        };
        let mut rest = Unstructured::new(rest);
        if json.is_empty() && !rest.is_empty() {
            let nodes = rest.arbitrary().unwrap_or_default();
            return Case::Built { nodes, objects: objects(rest) };
        }
        Case::Json { json: json.to_vec(), objects: objects(rest) }
    }
}

fn objects(mut rest: Unstructured<'_>) -> Vec<Object> {
    let objects: Vec<Object> = rest.arbitrary().unwrap_or_default();
    if !objects.is_empty() {
        return objects;
    }
    ["obj", "dir/a b", "/abs", "ü/日本"]
        .into_iter()
        .enumerate()
        .map(|(i, name)| Object { provider: i as u8, namespace: None, bucket: "bck".into(), name: name.into() })
        .collect()
}

#[derive(Debug, Arbitrary)]
struct Node {
    id: String,
    flags: u64,
    digest: Option<u64>,
}

#[derive(Debug, Arbitrary)]
struct Object {
    provider: u8,
    namespace: Option<(String, String)>,
    bucket: String,
    name: String,
}

const PROVIDERS: [Provider; 6] =
    [Provider::Ais, Provider::Aws, Provider::Gcp, Provider::Azure, Provider::Oci, Provider::Ht];

fn built(nodes: Vec<Node>) -> Vec<u8> {
    let mut smap = Smap::new(Snode::proxy("p", NetInfo::new("http", "127.0.0.1", 8080)));
    smap.targets = nodes
        .into_iter()
        .map(|node| {
            let mut target = Snode::target(node.id, NetInfo::new("http", "127.0.0.1", 8081));
            target.flags = NodeFlags(node.flags);
            target.id_digest = node.digest.unwrap_or(target.id_digest);
            target
        })
        .collect();
    let json = smap.to_json();
    assert_eq!(Smap::parse(&json).as_ref(), Ok(&smap), "a map we serialised does not parse back");
    json
}

fn address(object: &Object) -> ObjectAddress {
    let mut bucket = Bucket::new(object.bucket.clone(), PROVIDERS[usize::from(object.provider) % PROVIDERS.len()]);
    if let Some((uuid, name)) = &object.namespace {
        bucket.namespace = Namespace { uuid: uuid.clone(), name: name.clone() };
    }
    ObjectAddress::new(bucket, &object.name)
}

fn check_placement(smap: &Smap, object: &Object) -> Option<String> {
    let address = address(object);
    let placed = smap.target_for(&address);
    let uname = object_uname(address.bucket(), &object.name);
    assert_eq!(placed, smap.target_for_uname(uname.as_bytes()), "by address and by uname {uname:?}");
    match placed {
        Ok(owner) => {
            assert!(!owner.in_maintenance(), "placed on {owner}, which is in maintenance");
            assert!(smap.targets.nodes().any(|t| std::ptr::eq(t, owner)), "placed on a node not in tmap");
            Some(owner.daemon_id.clone())
        }
        Err(PlacementError::NoEligibleTarget { targets }) => {
            assert_eq!(targets, smap.targets.len());
            assert!(smap.targets.nodes().all(Snode::in_maintenance), "no target placed, yet one is eligible");
            None
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let (json, objects) = match Case::from_bytes(data) {
        Case::Json { json, objects } => (json, objects),
        Case::Built { nodes, objects } => (built(nodes), objects),
    };
    let Ok(smap) = Smap::parse(&json) else { return };
    let owners: Vec<_> = objects.iter().take(8).map(|object| check_placement(&smap, object)).collect();
    let again = Smap::parse(&smap.to_json());
    assert_eq!(again.as_ref(), Ok(&smap), "serialise → parse changed the map");
    if let Ok(again) = again {
        let owners_again: Vec<_> = objects.iter().take(8).map(|object| check_placement(&again, object)).collect();
        assert_eq!(owners, owners_again);
    }
});
