//! Scenario files: the examples, both formats, and every validation error.

mod common;

use std::path::{Path, PathBuf};

use common::*;
use http::{Method, StatusCode};
use http_body_util::Full;
use std::time::Duration;

use stowage_cluster::{
    BucketSpec, Cluster, ClusterConfig, ClusterError, Fault, FaultRule, InvalidFault, InvalidLink, Link, NodeEvent,
    NodeFault, ObjectSpec, RangeFault, RangeFaultRule, ScenarioError,
};
use stowage_proto::ais::{Bucket, Namespace, Provider};

fn example(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios").join(name)
}

fn toml_err(s: &str) -> ScenarioError {
    ClusterConfig::from_toml_str(s).expect_err(s)
}

#[test]
fn the_toml_example_parses() {
    let config = ClusterConfig::from_file(&example("cold-get.toml")).unwrap();
    assert_eq!(config.addr, None);
    let names: Vec<_> = config.buckets.iter().map(|b| b.name.as_str()).collect();
    assert_eq!(names, ["cloud", "mirror", "local"]);
    let cloud = &config.buckets[0];
    assert_eq!((cloud.provider.as_str(), cloud.cold_get_lock_ms), ("s3", 3000));
    assert_eq!(cloud.objects[1], ObjectSpec::generated("shards/shard-000.tar", 100 << 20));
    assert_eq!(config.buckets[2].provider, "ais");
    assert_eq!(config.buckets[2].cold_get_lock_ms, 2000);
    assert_eq!(
        config.faults[0],
        FaultRule::new(Fault::Reset).method("POST").path_prefix("/v1/objects/cloud/").times(1)
    );
    assert_eq!(config.faults[1].skip, 1);
}

#[tokio::test]
async fn the_toml_example_serves() {
    let cluster = Cluster::start(ClusterConfig::from_file(&example("cold-get.toml")).unwrap()).await.unwrap();
    let addr = cluster.addr();
    let local = Bucket::new("local", Provider::Ais);
    let reply = get(addr, &object_uri(&local, "notes/readme.md", &[])).await;
    assert_eq!((reply.status, &reply.body[..]), (StatusCode::OK, &b"# always warm\n"[..]));

    let cloud = Bucket::new("cloud", Provider::Aws);
    let uri = object_uri(&cloud, "hello.txt", &[]);
    let msg = stowage_proto::ais::ActionMsg::new("check-lock").to_body();
    let first = request(Method::POST, &uri).body(Full::new(msg)).unwrap();
    assert!(send(addr, first).await.is_err(), "the first check-lock on cloud is reset");
    assert_eq!(check_lock(addr, &uri).await, StatusCode::OK);

    let mut mirror = Bucket::new("mirror", Provider::Ais);
    mirror.namespace = Namespace::parse("@remote-uuid#prod");
    let reply = head(addr, &object_uri(&mirror, "model.bin", &[("presence", "2")])).await;
    assert_eq!(reply.status, StatusCode::NOT_FOUND, "cold in the remote namespace");
    let reply = head(addr, &object_uri(&cloud, "shards/shard-000.tar", &[])).await;
    assert_eq!(reply.header("content-length"), (100 << 20).to_string());
}

#[tokio::test]
async fn the_json_example_parses_and_serves() {
    let config = ClusterConfig::from_file(&example("faults.json")).unwrap();
    assert_eq!(config.buckets[0].provider, "gcp");
    assert_eq!(config.faults[1].fault, Fault::Stall { ms: 5000 });
    let cluster = Cluster::start(config).await.unwrap();
    let data = Bucket::new("data", Provider::Gcp);
    let uri = object_uri(&data, "small", &[]);
    assert_eq!(get(cluster.addr(), &uri).await.status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(get(cluster.addr(), &uri).await.status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(cluster.stats().cold_gets, 0, "status faults answer before routing");
}

#[test]
fn json_and_toml_read_the_same() {
    let toml = r##"
        addr = "127.0.0.1:0"
        [[bucket]]
        name = "b"
        provider = "az"
        namespace = "#team"
        [[bucket.object]]
        name = "x"
        size = 10
        [[fault]]
        fault = { kind = "status", status = 503 }
    "##;
    let json = r##"{
        "addr": "127.0.0.1:0",
        "buckets": [{"name": "b", "provider": "az", "namespace": "#team", "objects": [{"name": "x", "size": 10}]}],
        "faults": [{"fault": {"kind": "status", "status": 503}}]
    }"##;
    let from_toml = ClusterConfig::from_toml_str(toml).unwrap();
    assert_eq!(from_toml, ClusterConfig::from_json_str(json).unwrap());
    let expected = ClusterConfig {
        addr: Some("127.0.0.1:0".parse().unwrap()),
        buckets: vec![
            BucketSpec { namespace: "#team".into(), ..BucketSpec::new("b", "az") }
                .object(ObjectSpec::generated("x", 10)),
        ],
        faults: vec![FaultRule::new(Fault::Status { status: 503 })],
        ..ClusterConfig::default()
    };
    assert_eq!(from_toml, expected);
    assert_eq!(ClusterConfig::from_toml_str("").unwrap(), ClusterConfig::default());
}

#[test]
fn fault_kinds_in_both_formats() {
    for (toml, fault) in [
        (r#"{ kind = "latency", ms = 5 }"#, Fault::Latency { ms: 5 }),
        (r#"{ kind = "status", status = 429 }"#, Fault::Status { status: 429 }),
        (r#"{ kind = "reset" }"#, Fault::Reset),
        (r#"{ kind = "stall", ms = 7 }"#, Fault::Stall { ms: 7 }),
    ] {
        let config = ClusterConfig::from_toml_str(&format!("[[fault]]\nfault = {toml}")).unwrap();
        assert_eq!(config.faults[0].fault, fault);
    }
    let json = r#"{"fault": [{"fault": {"kind": "reset"}, "skip": 2, "times": 3, "method": "GET"}]}"#;
    let rule = &ClusterConfig::from_json_str(json).unwrap().faults[0];
    assert_eq!(*rule, FaultRule::new(Fault::Reset).method("GET").skip(2).times(3));
}

#[test]
fn the_ranged_example_parses() {
    let config = ClusterConfig::from_file(&example("ranged.toml")).unwrap();
    assert_eq!(config.link, Link { bytes_per_sec: Some(100_000_000), first_byte: Duration::from_millis(5) });
    assert_eq!(
        config.range_faults,
        [
            RangeFaultRule::new(RangeFault::Status { status: 503 }).path_prefix("/v1/objects/data/").skip(25).every(50),
            RangeFaultRule::new(RangeFault::StallMidBody { ms: 5000 }).skip(50).every(100).times(10),
        ]
    );
}

#[tokio::test]
async fn range_faults_and_the_link_from_a_file_are_applied() {
    let json = r#"{
        "bucket": [{"name": "data", "object": [{"name": "o", "size": 1000}]}],
        "link": {"bytes_per_sec": 1000000000, "first_byte_ms": 1},
        "range_fault": [
            {"fault": {"kind": "status", "status": 503}, "skip": 1, "times": 1},
            {"path_prefix": "/v1/objects/data/", "fault": {"kind": "wrong_content_range"}, "times": 1},
            {"fault": {"kind": "ignore_range"}, "times": 1}
        ]
    }"#;
    let cluster = Cluster::start(ClusterConfig::from_json_str(json).unwrap()).await.unwrap();
    let uri = object_uri(&Bucket::new("data", Provider::Ais), "o", &[]);
    let addr = cluster.addr();
    // Rule 1 lets the first range through (rule 2 takes it), answers the second 503; rule 3
    // takes the third; then none is left.
    let reply = get_range(addr, &uri, "bytes=0-9").await;
    assert_eq!((reply.status, reply.header("content-range")), (StatusCode::PARTIAL_CONTENT, "bytes 1-10/1000"));
    assert_eq!(get_range(addr, &uri, "bytes=0-9").await.status, StatusCode::SERVICE_UNAVAILABLE);
    let reply = get_range(addr, &uri, "bytes=0-9").await;
    assert_eq!((reply.status, reply.body.len()), (StatusCode::OK, 1000));
    let reply = get_range(addr, &uri, "bytes=0-9").await;
    assert_eq!((reply.status, reply.header("content-range")), (StatusCode::PARTIAL_CONTENT, "bytes 0-9/1000"));
    assert_eq!(get(addr, &uri).await.status, StatusCode::OK, "range faults leave whole GETs alone");
    assert_eq!(cluster.stats().faults_injected, 3);
}

#[test]
fn range_fault_kinds_in_both_formats() {
    for (toml, fault) in [
        (r#"{ kind = "status", status = 500 }"#, RangeFault::Status { status: 500 }),
        (r#"{ kind = "cut_mid_body" }"#, RangeFault::CutMidBody),
        (r#"{ kind = "stall_mid_body", ms = 9 }"#, RangeFault::StallMidBody { ms: 9 }),
        (r#"{ kind = "delay", ms = 3 }"#, RangeFault::Delay { ms: 3 }),
        (r#"{ kind = "wrong_content_range" }"#, RangeFault::WrongContentRange),
        (r#"{ kind = "ignore_range" }"#, RangeFault::IgnoreRange),
    ] {
        let config = ClusterConfig::from_toml_str(&format!("[[range_fault]]\nfault = {toml}")).unwrap();
        assert_eq!(config.range_faults, [RangeFaultRule::new(fault)]);
    }
    let json =
        r#"{"range_faults": [{"fault": {"kind": "cut_mid_body"}, "skip": 2, "every": 3, "times": 4}], "link": {}}"#;
    let config = ClusterConfig::from_json_str(json).unwrap();
    assert_eq!(config.range_faults, [RangeFaultRule::new(RangeFault::CutMidBody).skip(2).every(3).times(4)]);
    assert_eq!(config.link, Link::default());
}

#[test]
fn range_fault_and_link_errors() {
    for bad in [
        "[[range_fault]]\nfault = { kind = \"cut_mid_body\", ms = 1 }",
        "[[range_fault]]\nfault = { kind = \"explode\" }",
        "[[range_fault]]\nfault = { kind = \"delay\" }",
        "[[range_fault]]\nfault = { kind = \"ignore_range\" }\nmethod = \"GET\"",
        "[[range_fault]]\nskip = 1",
        "[link]\nfirst_byte = 5",
        "[link]\nbytes_per_sec = -1",
    ] {
        assert!(matches!(toml_err(bad), ScenarioError::Toml(_)), "{bad}");
    }
    let status = toml_err(
        "[[range_fault]]\nfault = { kind = \"ignore_range\" }\n[[range_fault]]\nfault = { kind = \"status\", status = 99 }",
    );
    assert!(matches!(status, ScenarioError::RangeFault { index: 1, source: InvalidFault::Status { status: 99 } }));
    assert!(status.to_string().starts_with("range_fault #1: "), "{status}");
    let prefix = toml_err("[[range_fault]]\npath_prefix = \"v1\"\nfault = { kind = \"cut_mid_body\" }");
    assert!(matches!(prefix, ScenarioError::RangeFault { index: 0, source: InvalidFault::PathPrefix { .. } }));
    let rate = toml_err("[link]\nbytes_per_sec = 0");
    assert!(matches!(rate, ScenarioError::Link(InvalidLink::ZeroRate)), "{rate}");
}

#[test]
fn shape_errors() {
    for bad in [
        "unknown = 1",
        "[[bucket]]\nname = \"b\"\ncolour = \"red\"",
        "[[bucket]]\nname = \"b\"\n[[bucket.object]]\nname = \"o\"\nsize = 1\nmode = 2",
        "[[fault]]\nfault = { kind = \"reset\" }\nprefix = \"/\"",
        "[[fault]]\nfault = { kind = \"latency\", ms = 1, jitter = 2 }",
        "[[fault]]\nfault = { kind = \"reset\", ms = 1 }",
        "[[fault]]\nfault = { kind = \"explode\" }",
        "[[fault]]\nfault = { kind = \"latency\" }",
        "[[bucket]]\nprovider = \"aws\"",
        "[[bucket]]\nname = \"b\"\ncold_get_lock_ms = -1",
        "[[bucket]\nname = \"b\"",
    ] {
        assert!(matches!(toml_err(bad), ScenarioError::Toml(_)), "{bad}");
    }
    let error = toml_err("[[bucket]]\nname = \"b\"\ncolour = \"red\"");
    assert!(error.to_string().contains("colour"), "{error}");
    for bad in [
        r#"{"bucket": {"name": "b"}}"#,
        r#"{"extra": true}"#,
        "{",
        r#"{"fault": [{"fault": {"kind": "reset", "ms": 3}}]}"#,
    ] {
        assert!(matches!(ClusterConfig::from_json_str(bad), Err(ScenarioError::Json(_))), "{bad}");
    }
}

/// Whether an error is the expected variant.
type Matcher = fn(&ScenarioError) -> bool;

#[test]
fn validation_errors_name_what_is_wrong() {
    let bucket = |body: &str| format!("[[bucket]]\n{body}");
    let cases: Vec<(String, Matcher, &str)> = vec![
        (bucket("name = \"\""), |e| matches!(e, ScenarioError::EmptyBucketName { index: 0 }), "empty name"),
        (bucket("name = \"a/b\""), |e| matches!(e, ScenarioError::BadBucketName { .. }), "\"a/b\""),
        (bucket("name = \"b\"\nprovider = \"ftp\""), |e| matches!(e, ScenarioError::UnknownProvider { .. }), "\"ftp\""),
        (bucket("name = \"b\"\nnamespace = \"ns\""), |e| matches!(e, ScenarioError::BadNamespace { .. }), "\"ns\""),
        (bucket("name = \"b\"\nnamespace = \"@u u\""), |e| matches!(e, ScenarioError::BadNamespace { .. }), "@u u"),
        (
            format!("{}\n{}", bucket("name = \"b\"\nprovider = \"aws\""), bucket("name = \"b\"\nprovider = \"s3\"")),
            |e| matches!(e, ScenarioError::DuplicateBucket { .. }),
            "aws://b is declared twice",
        ),
        (
            bucket("name = \"b\"\n[[bucket.object]]\nname = \"\"\nsize = 1"),
            |e| matches!(e, ScenarioError::EmptyObjectName { index: 0, .. }),
            "object #0 has an empty name",
        ),
        (
            bucket(
                "name = \"b\"\n[[bucket.object]]\nname = \"o\"\nsize = 1\n[[bucket.object]]\nname = \"o\"\nsize = 2",
            ),
            |e| matches!(e, ScenarioError::DuplicateObject { .. }),
            "\"o\" is declared twice",
        ),
        (
            bucket("name = \"b\"\n[[bucket.object]]\nname = \"o\""),
            |e| matches!(e, ScenarioError::MissingContent { .. }),
            "needs `size`",
        ),
        (
            bucket("name = \"b\"\n[[bucket.object]]\nname = \"o\"\nsize = 1\ncontent = \"x\""),
            |e| matches!(e, ScenarioError::AmbiguousContent { .. }),
            "both",
        ),
        (
            bucket("name = \"b\"\n[[bucket.object]]\nname = \"o\"\nsize = 68719476737"),
            |e| matches!(e, ScenarioError::ObjectTooLarge { size: 68_719_476_737, .. }),
            "exceeds",
        ),
        (
            "[[fault]]\nfault = { kind = \"status\", status = 99 }".into(),
            |e| matches!(e, ScenarioError::Fault { index: 0, source: InvalidFault::Status { status: 99 } }),
            "fault #0",
        ),
        (
            "[[fault]]\nfault = { kind = \"status\", status = 600 }".into(),
            |e| matches!(e, ScenarioError::Fault { source: InvalidFault::Status { status: 600 }, .. }),
            "600",
        ),
        (
            "[[fault]]\nfault = { kind = \"status\", status = 101 }".into(),
            |e| matches!(e, ScenarioError::Fault { source: InvalidFault::Status { status: 101 }, .. }),
            "1xx",
        ),
        (
            "[[fault]]\nmethod = \"GET POST\"\nfault = { kind = \"reset\" }".into(),
            |e| matches!(e, ScenarioError::Fault { source: InvalidFault::Method { .. }, .. }),
            "not an HTTP method",
        ),
        (
            "[[fault]]\npath_prefix = \"v1/\"\nfault = { kind = \"reset\" }".into(),
            |e| matches!(e, ScenarioError::Fault { source: InvalidFault::PathPrefix { .. }, .. }),
            "start with '/'",
        ),
    ];
    for (toml, is_expected, mentions) in cases {
        let error = toml_err(&toml);
        assert!(is_expected(&error), "{toml}\n=> {error:?}");
        assert!(error.to_string().contains(mentions), "{error} should mention {mentions}");
    }
    // The largest allowed generated object is fine.
    ClusterConfig::from_toml_str(&bucket("name = \"b\"\n[[bucket.object]]\nname = \"o\"\nsize = 68719476736")).unwrap();
}

#[test]
fn file_errors() {
    let dir = std::env::temp_dir();
    let yaml = dir.join("stowage-cluster-scenario.yaml");
    assert!(matches!(ClusterConfig::from_file(&yaml), Err(ScenarioError::UnsupportedFormat { .. })));
    let missing = dir.join("stowage-cluster-no-such-scenario.toml");
    let error = ClusterConfig::from_file(&missing).unwrap_err();
    assert!(matches!(error, ScenarioError::Io { .. }));
    assert!(error.to_string().contains("no-such-scenario"), "{error}");

    let upper = dir.join(format!("stowage-cluster-{}.JSON", std::process::id()));
    std::fs::write(&upper, r#"{"bucket": [{"name": "b", "provider": "oci"}]}"#).unwrap();
    let config = ClusterConfig::from_file(&upper);
    std::fs::remove_file(&upper).unwrap();
    assert_eq!(config.unwrap().buckets[0].provider, "oci");
}

#[tokio::test]
async fn start_validates_configs_built_in_code() {
    let config = ClusterConfig { buckets: vec![BucketSpec::new("b", "nope")], ..Default::default() };
    let error = Cluster::start(config).await.unwrap_err();
    assert!(matches!(error, ClusterError::Scenario(ScenarioError::UnknownProvider { .. })), "{error}");

    let taken = Cluster::start(ClusterConfig::default()).await.unwrap();
    let config = ClusterConfig { addr: Some(taken.addr()), ..Default::default() };
    assert!(matches!(Cluster::start(config).await, Err(ClusterError::Bind { .. })));
}

#[test]
fn the_topology_example_parses() {
    let config = ClusterConfig::from_file(&example("topology.toml")).unwrap();
    assert_eq!(config.targets, Some(3));
    assert_eq!(
        config.node_events,
        [
            NodeEvent::new("t3", Duration::ZERO, NodeFault::Slow { first_byte: Duration::from_millis(50) }),
            NodeEvent::new("t2", Duration::from_secs(10), NodeFault::Down),
            NodeEvent::new("t2", Duration::from_secs(15), NodeFault::Restart),
            NodeEvent::new("t1", Duration::from_secs(20), NodeFault::StartMaintenance),
            NodeEvent::new("t1", Duration::from_secs(30), NodeFault::StopMaintenance),
        ]
    );
}

#[tokio::test]
async fn the_topology_example_serves_through_its_proxy() {
    let cluster = Cluster::start(ClusterConfig::from_file(&example("topology.toml")).unwrap()).await.unwrap();
    assert_eq!(cluster.targets().len(), 3);
    let uri = object_uri(&Bucket::new("data", Provider::Ais), "hello.txt", &[]);
    let (target, path) = location(&get(cluster.addr(), &uri).await);
    let reply = get(target, &path).await;
    assert_eq!((reply.status, &reply.body[..]), (StatusCode::OK, &b"hello from whichever target owns me\n"[..]));
}

#[test]
fn node_fault_kinds_in_both_formats() {
    for (toml, fault) in [
        (r#"{ kind = "down" }"#, NodeFault::Down),
        (r#"{ kind = "restart" }"#, NodeFault::Restart),
        (r#"{ kind = "start_maintenance" }"#, NodeFault::StartMaintenance),
        (r#"{ kind = "stop_maintenance" }"#, NodeFault::StopMaintenance),
        (r#"{ kind = "slow", first_byte_ms = 7 }"#, NodeFault::Slow { first_byte: Duration::from_millis(7) }),
    ] {
        let config =
            ClusterConfig::from_toml_str(&format!("targets = 1\n[[node_event]]\nnode = \"t1\"\nfault = {toml}"))
                .unwrap();
        assert_eq!(config.node_events, [NodeEvent::new("t1", Duration::ZERO, fault)]);
    }
    let json = r#"{"targets": 2, "node_events": [{"node": "p1", "after_ms": 5, "fault": {"kind": "slow", "first_byte_ms": 1}}]}"#;
    let config = ClusterConfig::from_json_str(json).unwrap();
    let slow = NodeFault::Slow { first_byte: Duration::from_millis(1) };
    assert_eq!(config.node_events, [NodeEvent::new("p1", Duration::from_millis(5), slow)]);
}

#[test]
fn topology_errors_name_what_is_wrong() {
    for (toml, expected) in [
        ("targets = 0", "targets = 0: a cluster has 1 to 128 targets"),
        ("targets = 129", "targets = 129"),
        ("[[node_event]]\nnode = \"t1\"\nfault = { kind = \"down\" }", "node_event #0: no node \"t1\""),
        ("targets = 2\n[[node_event]]\nnode = \"t3\"\nfault = { kind = \"down\" }", "t1..t2"),
        ("targets = 2\n[[node_event]]\nnode = \"p1\"\nfault = { kind = \"restart\" }", "p1 is the proxy"),
    ] {
        let error = toml_err(toml);
        assert!(matches!(error, ScenarioError::Targets { .. } | ScenarioError::NodeEvent { .. }), "{toml}: {error:?}");
        assert!(error.to_string().contains(expected), "{toml}: {error}");
    }
    for bad in [
        "targets = -1",
        "targets = \"3\"",
        "targets = 1\n[[node_event]]\nnode = \"t1\"\nfault = { kind = \"down\", ms = 3 }",
        "targets = 1\n[[node_event]]\nnode = \"t1\"\nfault = { kind = \"explode\" }",
        "targets = 1\n[[node_event]]\nnode = \"t1\"\nfault = { kind = \"slow\" }",
        "targets = 1\n[[node_event]]\nfault = { kind = \"down\" }",
        "targets = 1\n[[node_event]]\nnode = \"t1\"\nfault = { kind = \"down\" }\nat = 5",
    ] {
        assert!(matches!(toml_err(bad), ScenarioError::Toml(_)), "{bad}");
    }
}
