//! A proxy and N targets: redirects, the cluster map, placement, per-node faults and counts.

mod common;

use std::net::SocketAddr;
use std::time::{Duration, SystemTime};

use bytes::Bytes;
use common::*;
use http::{Method, StatusCode};
use http_body_util::Full;
use stowage_cluster::{Cluster, ClusterConfig, NodeError, NodeFault, NodeInfo, RangeFault, RangeFaultRule};
use stowage_proto::ais::{ActionMsg, Bucket, NodeFlags, ObjectAddress, Provider, Snode, action_name, node_digest};
use tokio::net::TcpStream;
use tokio::time::Instant;

async fn cluster(targets: u32) -> Cluster {
    Cluster::start(ClusterConfig { targets: Some(targets), ..ClusterConfig::default() }).await.unwrap()
}

fn local() -> Bucket {
    Bucket::new("local", Provider::Ais)
}

/// A name that `target` owns under the current map.
fn owned_by(cluster: &Cluster, bucket: &Bucket, target: &str) -> String {
    (0..1000)
        .map(|i| format!("obj-{i}"))
        .find(|name| cluster.owner(bucket, name).unwrap().id == target)
        .expect("some name lands on every target")
}

fn unix_nanos() -> u64 {
    SystemTime::now().duration_since(SystemTime::UNIX_EPOCH).unwrap().as_nanos() as u64
}

/// The `utm` of a redirect's `Location`, checking the query ends `&pid=p1&utm=N`.
fn utm(location: &str) -> u64 {
    let (rest, utm) = location.rsplit_once("&utm=").expect("utm is the last parameter");
    assert!(rest.ends_with("&pid=p1") || rest.ends_with("?pid=p1"), "{location}");
    utm.parse().expect("utm is decimal nanoseconds")
}

#[tokio::test]
async fn the_default_is_one_node_and_targets_start_a_proxy_with_its_targets() {
    let single = Cluster::start(ClusterConfig::default()).await.unwrap();
    assert_eq!((single.proxy(), single.targets(), single.smap_version()), (None, vec![], None));
    assert_eq!(get(single.addr(), "/v1/daemon?what=smap").await.status, StatusCode::NOT_FOUND);

    let cluster = cluster(3).await;
    let proxy = cluster.proxy().unwrap();
    assert_eq!((proxy.id.as_str(), proxy.addr, proxy.url()), ("p1", cluster.addr(), cluster.url()));
    let targets = cluster.targets();
    let ids: Vec<_> = targets.iter().map(|t| t.id.as_str()).collect();
    assert_eq!(ids, ["t1", "t2", "t3"]);
    let mut ports: Vec<_> = targets.iter().map(|t| t.addr.port()).chain([proxy.addr.port()]).collect();
    ports.sort_unstable();
    ports.dedup();
    assert_eq!(ports.len(), 4, "every node on its own port");
    assert!(targets.iter().all(|t| t.addr.ip().is_loopback()));
    assert_eq!(cluster.smap_version(), Some(1));
}

#[tokio::test]
async fn every_object_request_to_the_proxy_is_a_307_to_the_owner_with_pid_and_utm() {
    let cluster = cluster(3).await;
    let bucket = local();
    let name = "dir/some object";
    cluster.put_object(&bucket, name, Bytes::from_static(b"payload"));
    let owner = cluster.owner(&bucket, name).unwrap();
    let uri = object_uri(&bucket, name, &[("props", "size")]);
    let proxy = cluster.addr();

    let before = unix_nanos();
    let replies = [
        get(proxy, &uri).await,
        head(proxy, &uri).await,
        put(proxy, &uri, "rewritten").await,
        post(proxy, &uri, ActionMsg::new(action_name::CHECK_LOCK).to_body()).await,
    ];
    let after = unix_nanos();
    for reply in &replies {
        let target = reply.header("location");
        assert!(target.starts_with(&format!("{}{uri}&pid=p1&utm=", owner.url())), "{target}");
        assert!((before..=after).contains(&utm(target)), "utm is the time of the redirect");
        assert_eq!(location(reply).0, owner.addr);
    }
    let [get_reply, head_reply, put_reply, post_reply] = replies;
    assert_eq!(get_reply.header("content-type"), "text/html; charset=utf-8");
    let link = String::from_utf8(get_reply.body.to_vec()).unwrap();
    assert!(link.starts_with("<a href=\"http://") && link.contains("&amp;pid=p1") && link.ends_with("</a>.\n\n"));
    assert_eq!(head_reply.header("content-type"), "text/html; charset=utf-8");
    for reply in [&put_reply, &post_reply] {
        assert!(reply.headers.get("content-type").is_none() && reply.body.is_empty());
    }

    // The proxy stored nothing: the object is as it was until the PUT reaches its target.
    let (target, path) = location(&get_reply);
    let reply = get(target, &path).await;
    assert_eq!((reply.status, &reply.body[..]), (StatusCode::OK, &b"payload"[..]));
    let (target, path) = location(&put_reply);
    assert_eq!(put(target, &path, "rewritten").await.status, StatusCode::OK);
    let (target, path) = location(&head_reply);
    let reply = head(target, &path).await;
    assert_eq!((reply.status, reply.header("content-length")), (StatusCode::OK, "9"));
    let (target, path) = location(&post_reply);
    assert_eq!(check_lock(target, &path).await, StatusCode::OK);
    let reply = get(target, &object_uri(&bucket, name, &[])).await;
    assert_eq!(&reply.body[..], b"rewritten");

    let stats = cluster.stats();
    assert_eq!((stats.requests, stats.proxy_requests, stats.redirects), (9, 4, 4));
    assert_eq!((stats.object_gets, stats.object_heads, stats.object_puts, stats.check_locks), (2, 1, 1, 1));
    let by_target: u64 = stats.target_requests.iter().sum();
    assert_eq!(by_target, 5);
    let owner_index = cluster.targets().iter().position(|t| *t == owner).unwrap();
    assert_eq!(stats.target_requests[owner_index], 5, "{stats:?}");
}

#[tokio::test]
async fn the_smap_parses_with_the_proto_type_and_its_owner_is_the_target_that_serves() {
    let cluster = cluster(4).await;
    let targets = cluster.targets();
    let from_proxy = smap(cluster.addr()).await;
    for target in &targets {
        assert_eq!(smap(target.addr).await, from_proxy, "every node serves the same map");
    }
    assert_eq!(from_proxy.version, 1);
    assert_eq!(from_proxy.primary.daemon_id, "p1");
    assert_eq!(from_proxy.primary.public_net.url, cluster.url());
    assert!(from_proxy.proxies.contains("p1") && from_proxy.primary.is_proxy());
    let ids: Vec<_> = from_proxy.targets.iter().map(|(id, _)| id).collect();
    assert_eq!(ids, ["t1", "t2", "t3", "t4"]);
    for (node, target) in from_proxy.targets.nodes().zip(&targets) {
        assert!(node.is_target());
        assert_eq!(node.id_digest, node_digest(&node.daemon_id), "ids digest as aisnode's do");
        assert_eq!(node.flags, NodeFlags::NONE);
        assert_eq!(node.public_net.url, target.url());
        assert_eq!(node.public_net.port, target.addr.port().to_string());
    }

    let bucket = Bucket::new("cloud", Provider::Aws);
    cluster.create_bucket(&bucket, Duration::ZERO);
    let mut owners = std::collections::HashSet::new();
    for i in 0..40 {
        let name = format!("shard-{i:03}.tar");
        cluster.put_object(&bucket, &name, Bytes::from(name.clone()));
        let address = ObjectAddress::new(bucket.clone(), &name);
        let owner: &Snode = from_proxy.target_for(&address).unwrap();
        owners.insert(owner.daemon_id.clone());
        assert_eq!(cluster.owner(&bucket, &name).unwrap().id, owner.daemon_id);
        let uri = object_uri(&bucket, &name, &[]);
        let redirect = get(cluster.addr(), &uri).await;
        assert!(redirect.header("location").starts_with(&format!("{}{uri}&", owner.public_net.url)));
        for target in &targets {
            let reply = get(target.addr, &uri).await;
            if target.id == owner.daemon_id {
                assert_eq!((reply.status, &reply.body[..]), (StatusCode::OK, name.as_bytes()));
            } else {
                assert_eq!(reply.status, StatusCode::NOT_FOUND, "{} does not own {name}", target.id);
                let error: serde_json::Value = serde_json::from_slice(&reply.body).unwrap();
                let message = error["message"].as_str().unwrap();
                assert!(message.starts_with(&format!("aws://cloud/{name} does not exist")), "{message}");
            }
        }
    }
    assert_eq!(owners.len(), 4, "40 objects spread over the 4 targets");
    assert_eq!(cluster.stats().misdirected, 40 * 3);
}

#[tokio::test]
async fn a_target_down_refuses_connections_and_comes_back_on_restart() {
    let cluster = cluster(2).await;
    let bucket = local();
    let name = owned_by(&cluster, &bucket, "t2");
    cluster.put_object(&bucket, &name, Bytes::from_static(b"still here"));
    let t2 = cluster.targets()[1].clone();
    let uri = object_uri(&bucket, &name, &[]);
    // An idle keep-alive connection to the target is cut too.
    let mut idle = TcpStream::connect(t2.addr).await.unwrap();

    cluster.stop_target("t2").await.unwrap();
    let refused = TcpStream::connect(t2.addr).await.unwrap_err();
    assert_eq!(refused.kind(), std::io::ErrorKind::ConnectionRefused);
    let mut buf = [0u8; 1];
    let read = tokio::io::AsyncReadExt::read(&mut idle, &mut buf).await;
    assert!(matches!(read, Ok(0) | Err(_)), "the open connection was closed");
    cluster.stop_target("t2").await.unwrap();
    // The map does not know: the proxy still sends clients there.
    assert_eq!(location(&get(cluster.addr(), &uri).await).0, t2.addr);
    assert_eq!(cluster.smap_version(), Some(1));

    cluster.restart_target("t2").await.unwrap();
    assert_eq!(cluster.targets()[1], t2, "same port again");
    let reply = get(t2.addr, &uri).await;
    assert_eq!((reply.status, &reply.body[..]), (StatusCode::OK, &b"still here"[..]));
    // Restarting a running target cuts it and brings it back.
    cluster.restart_target("t2").await.unwrap();
    assert_eq!(get(t2.addr, &uri).await.status, StatusCode::OK);
    cluster.shutdown().await;
    assert!(TcpStream::connect(t2.addr).await.is_err());
}

#[tokio::test]
async fn maintenance_bumps_the_version_and_moves_objects_to_the_next_choice() {
    let cluster = cluster(3).await;
    let bucket = local();
    let name = owned_by(&cluster, &bucket, "t2");
    cluster.put_object(&bucket, &name, Bytes::from_static(b"moved"));
    let uri = object_uri(&bucket, &name, &[]);
    let t2 = cluster.targets()[1].clone();

    cluster.start_maintenance("t2").await.unwrap();
    let map = smap(cluster.addr()).await;
    assert_eq!((map.version, cluster.smap_version()), (2, Some(2)));
    assert!(map.targets.get("t2").unwrap().in_maintenance());
    assert_eq!(map.targets.get("t2").unwrap().flags, NodeFlags::MAINTENANCE);
    let new_owner = map.target_for(&ObjectAddress::new(bucket.clone(), &name)).unwrap().daemon_id.clone();
    assert_ne!(new_owner, "t2");
    assert_eq!(cluster.owner(&bucket, &name).unwrap().id, new_owner);
    let (target, path) = location(&get(cluster.addr(), &uri).await);
    assert_ne!(target, t2.addr);
    let reply = get(target, &path).await;
    assert_eq!((reply.status, &reply.body[..]), (StatusCode::OK, &b"moved"[..]));
    assert_eq!(get(t2.addr, &uri).await.status, StatusCode::NOT_FOUND, "the old owner lost it");
    assert_eq!(smap(t2.addr).await, map, "a target in maintenance still serves the map");

    cluster.start_maintenance("t2").await.unwrap();
    assert_eq!(cluster.smap_version(), Some(2), "already in maintenance: no change");
    cluster.stop_maintenance("t2").await.unwrap();
    assert_eq!(cluster.smap_version(), Some(3));
    assert_eq!(smap(cluster.addr()).await.targets.get("t2").unwrap().flags, NodeFlags::NONE);
    assert_eq!(location(&get(cluster.addr(), &uri).await).0, t2.addr, "back home");
    assert_eq!(get(t2.addr, &uri).await.status, StatusCode::OK);
}

#[tokio::test]
async fn with_every_target_in_maintenance_the_proxy_answers_503() {
    let cluster = cluster(2).await;
    let bucket = local();
    cluster.put_object(&bucket, "o", Bytes::from_static(b"x"));
    for id in ["t1", "t2"] {
        cluster.start_maintenance(id).await.unwrap();
    }
    assert_eq!(cluster.owner(&bucket, "o"), None);
    let reply = get(cluster.addr(), &object_uri(&bucket, "o", &[])).await;
    assert_eq!(reply.status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(cluster.stats().redirects, 0);
}

#[tokio::test(start_paused = true)]
async fn a_slow_node_holds_every_request() {
    let cluster = cluster(2).await;
    let bucket = local();
    let name = owned_by(&cluster, &bucket, "t1");
    cluster.put_object(&bucket, &name, Bytes::from_static(b"x"));
    let uri = object_uri(&bucket, &name, &[]);
    let t1 = cluster.targets()[0].addr;

    cluster.set_slow("t1", Duration::from_millis(250)).await.unwrap();
    let t0 = Instant::now();
    let (target, path) = location(&get(cluster.addr(), &uri).await);
    assert_eq!(t0.elapsed(), Duration::ZERO, "the proxy is not slow");
    let reply = get(target, &path).await;
    assert_eq!((reply.status, t0.elapsed()), (StatusCode::OK, Duration::from_millis(250)));
    let t0 = Instant::now();
    assert_eq!(get(t1, "/v1/daemon?what=smap").await.status, StatusCode::OK);
    assert_eq!(t0.elapsed(), Duration::from_millis(250), "every request, not only object GETs");

    cluster.set_slow("p1", Duration::from_millis(40)).await.unwrap();
    cluster.set_slow("t1", Duration::ZERO).await.unwrap();
    let t0 = Instant::now();
    let (target, path) = location(&get(cluster.addr(), &uri).await);
    get(target, &path).await;
    assert_eq!(t0.elapsed(), Duration::from_millis(40));
}

#[tokio::test]
async fn per_node_faults_name_their_node() {
    let cluster = cluster(2).await;
    assert!(matches!(cluster.stop_target("t3").await, Err(NodeError::Unknown { .. })));
    assert!(matches!(cluster.stop_target("p1").await, Err(NodeError::NotATarget { .. })));
    assert!(matches!(cluster.start_maintenance("p1").await, Err(NodeError::NotATarget { .. })));
    assert!(cluster.set_slow("p1", Duration::ZERO).await.is_ok());
    let single = Cluster::start(ClusterConfig::default()).await.unwrap();
    let error = single.apply("t1", NodeFault::Down).await.unwrap_err();
    assert!(error.to_string().contains("single-node"), "{error}");
}

#[tokio::test]
async fn the_proxy_answers_what_it_can_without_a_redirect() {
    let cluster = cluster(2).await;
    let proxy = cluster.addr();
    let bucket = local();
    cluster.put_object(&bucket, "o", Bytes::from_static(b"x"));
    let missing = Bucket::new("nowhere", Provider::Ais);
    for reply in [
        get(proxy, &object_uri(&missing, "o", &[])).await,
        head(proxy, &object_uri(&missing, "o", &[])).await,
        post(proxy, &object_uri(&missing, "o", &[]), ActionMsg::new(action_name::CHECK_LOCK).to_body()).await,
    ] {
        assert_eq!(reply.status, StatusCode::NOT_FOUND, "{reply:?}");
    }
    let error: serde_json::Value =
        serde_json::from_slice(&get(proxy, &object_uri(&missing, "o", &[])).await.body).unwrap();
    assert_eq!(error["message"], "bucket ais://nowhere does not exist");
    // A PUT creates its bucket, at the target.
    let reply = put(proxy, &object_uri(&missing, "new", &[]), "body").await;
    let (target, path) = location(&reply);
    assert_eq!(put(target, &path, "body").await.status, StatusCode::OK);
    assert_eq!(location(&get(proxy, &object_uri(&missing, "new", &[])).await).0, target);

    assert_eq!(get(proxy, "/v1/objects/local").await.status, StatusCode::BAD_REQUEST);
    assert_eq!(get(proxy, "/v1/objects/local/o?provider=ftp").await.status, StatusCode::BAD_REQUEST);
    let delete = request(Method::DELETE, &object_uri(&bucket, "o", &[])).body(Full::default()).unwrap();
    let reply = fetch(proxy, delete).await.unwrap();
    assert_eq!((reply.status, reply.header("allow")), (StatusCode::METHOD_NOT_ALLOWED, "GET, HEAD, PUT, POST"));
    assert_eq!(get(proxy, "/v1/buckets/local").await.status, StatusCode::NOT_FOUND);
    let stats = cluster.stats();
    assert_eq!((stats.redirects, stats.other), (2, 8), "{stats:?}");
}

#[tokio::test]
async fn a_put_body_is_read_before_the_redirect_unless_the_client_waits_to_send_it() {
    let cluster = cluster(2).await;
    let uri = object_uri(&local(), "big", &[]);
    let body = Bytes::from(vec![7u8; 4 << 20]);
    // On one keep-alive connection: the 4 MiB body is read, so the next request is heard.
    let stream = TcpStream::connect(cluster.addr()).await.unwrap();
    let (mut sender, conn) = hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(stream)).await.unwrap();
    tokio::spawn(conn);
    for _ in 0..2 {
        let req = request(Method::PUT, &uri).body(Full::new(body.clone())).unwrap();
        let response = sender.send_request(req).await.unwrap();
        assert_eq!(response.status(), StatusCode::TEMPORARY_REDIRECT);
        http_body_util::BodyExt::collect(response.into_body()).await.unwrap();
    }
    // `Expect: 100-continue`: answered at once, the body never sent.
    let mut raw = TcpStream::connect(cluster.addr()).await.unwrap();
    let head = format!(
        "PUT {uri} HTTP/1.1\r\nHost: x\r\nContent-Length: 1000000\r\nExpect: 100-continue\r\nConnection: close\r\n\r\n"
    );
    tokio::io::AsyncWriteExt::write_all(&mut raw, head.as_bytes()).await.unwrap();
    let mut response = String::new();
    tokio::io::AsyncReadExt::read_to_string(&mut raw, &mut response).await.unwrap();
    assert!(response.starts_with("HTTP/1.1 307 Temporary Redirect\r\n"), "{response}");
    assert!(!response.contains("100 Continue"), "{response}");
}

#[tokio::test(start_paused = true)]
async fn cold_gets_ranges_and_range_faults_happen_at_the_target() {
    let cluster = cluster(3).await;
    let bucket = Bucket::new("cloud", Provider::Gcp);
    cluster.create_bucket(&bucket, Duration::from_millis(500));
    cluster.put_generated(&bucket, "big", 1 << 20);
    cluster.add_range_fault(RangeFaultRule::new(RangeFault::Status { status: 503 }).skip(1).times(1));
    let uri = object_uri(&bucket, "big", &[]);
    let (target, path) = location(&get(cluster.addr(), &uri).await);
    let proxy = cluster.addr();

    let t0 = Instant::now();
    let first = tokio::spawn({
        let path = path.clone();
        async move { get_range(target, &path, "bytes=0-9").await }
    });
    until(|| cluster.stats().cold_gets == 1).await;
    let (lock_target, lock_path) =
        location(&post(proxy, &uri, ActionMsg::new(action_name::CHECK_LOCK).to_body()).await);
    assert_eq!(lock_target, target);
    assert_eq!(check_lock(lock_target, &lock_path).await, StatusCode::LOCKED);
    let reply = first.await.unwrap();
    assert_eq!((reply.status, t0.elapsed()), (StatusCode::PARTIAL_CONTENT, Duration::from_millis(500)));
    assert_eq!(reply.header("content-range"), format!("bytes 0-9/{}", 1 << 20));
    assert_eq!(get_range(target, &path, "bytes=10-19").await.status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(get_range(target, &path, "bytes=10-19").await.status, StatusCode::PARTIAL_CONTENT);
}

#[tokio::test]
async fn jobs_are_served_by_the_proxy_not_the_targets() {
    let cluster = cluster(2).await;
    let start = serde_json::json!({"action": "start", "name": "", "value": {"Kind": "rebalance"}}).to_string();
    let req = |addr: SocketAddr| {
        let req = request(Method::PUT, "/v1/cluster").body(Full::new(Bytes::from(start.clone()))).unwrap();
        fetch(addr, req)
    };
    let reply = req(cluster.addr()).await.unwrap();
    assert_eq!(reply.status, StatusCode::OK);
    assert!(reply.body.starts_with(b"j"));
    assert_eq!(req(cluster.targets()[0].addr).await.unwrap().status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn fault_rules_see_requests_at_every_node() {
    let cluster = cluster(2).await;
    let bucket = local();
    cluster.put_object(&bucket, "o", Bytes::from_static(b"x"));
    cluster.add_fault(stowage_cluster::FaultRule::new(stowage_cluster::Fault::Status { status: 503 }).times(1));
    let uri = object_uri(&bucket, "o", &[]);
    assert_eq!(get(cluster.addr(), &uri).await.status, StatusCode::SERVICE_UNAVAILABLE, "the proxy's request");
    let (target, path) = location(&get(cluster.addr(), &uri).await);
    cluster.add_fault(stowage_cluster::FaultRule::new(stowage_cluster::Fault::Status { status: 500 }).times(1));
    assert_eq!(get(target, &path).await.status, StatusCode::INTERNAL_SERVER_ERROR, "the target's request");
    assert_eq!(get(target, &path).await.status, StatusCode::OK);
}

#[tokio::test(start_paused = true)]
async fn node_events_of_a_scenario_happen_on_schedule() {
    let config = ClusterConfig::from_toml_str(
        r#"
        targets = 2

        [[node_event]]
        node = "t1"
        after_ms = 100
        fault = { kind = "down" }

        [[node_event]]
        node = "t1"
        after_ms = 300
        fault = { kind = "restart" }

        [[node_event]]
        node = "t2"
        after_ms = 100
        fault = { kind = "start_maintenance" }

        [[node_event]]
        node = "p1"
        fault = { kind = "slow", first_byte_ms = 20 }
        "#,
    )
    .unwrap();
    let cluster = Cluster::start(config).await.unwrap();
    let t1: NodeInfo = cluster.targets()[0].clone();
    let t0 = Instant::now();
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert!(TcpStream::connect(t1.addr).await.is_ok());
    assert_eq!(cluster.smap_version(), Some(1));
    let before = Instant::now();
    smap(cluster.addr()).await;
    assert_eq!(before.elapsed(), Duration::from_millis(20), "the proxy is slow from the start");

    tokio::time::sleep_until(t0 + Duration::from_millis(150)).await;
    assert!(TcpStream::connect(t1.addr).await.is_err(), "t1 is down");
    assert_eq!(cluster.smap_version(), Some(2), "t2 is in maintenance");

    tokio::time::sleep_until(t0 + Duration::from_millis(350)).await;
    assert_eq!(smap(t1.addr).await.version, 2, "t1 is back");
}
