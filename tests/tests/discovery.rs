//! Nodes found by DNS, over real node processes: `dns+NAME:PORT` (A records, here several
//! `/etc/hosts` lines for one name on loopback addresses sharing a port, as a headless Service
//! answers) and `dnssrv+NAME` (SRV records from a DNS server this test runs). Nodes join when
//! they appear, keep their ring place by name when they come back at a new address, and leave
//! only after the grace period; the library and the proxy see the same ring.

use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::str::FromStr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use cachering_client::{Access, Client, ClientBuilder, ErrorKind, Routed};
use cachering_tests::hosts::Hosts;
use cachering_tests::{free_port, NodeProcess, ProxyProcess};
use hickory_proto::rr::rdata::{SOA, SRV};
use hickory_proto::rr::{LowerName, Name, RData, Record, RecordType, RrKey};
use hickory_server::authority::{AuthorityObject, Catalog, ZoneType};
use hickory_server::store::in_memory::InMemoryAuthority;
use hickory_server::ServerFuture;

const INTERVAL: Duration = Duration::from_millis(200);
const GRACE: Duration = Duration::from_millis(1500);

/// Nodes named `names` on `ips`, all on one port (retried until a port is free on all).
fn nodes_on_one_port(ips: &[&str], names: &[&str]) -> (u16, Vec<NodeProcess>) {
    for _ in 0..10 {
        let port = free_port();
        let started: Vec<Option<NodeProcess>> = ips
            .iter()
            .zip(names)
            .map(|(ip, name)| NodeProcess::start_at_port(ip, port, &["--name", name]))
            .collect();
        if started.iter().all(Option::is_some) {
            return (port, started.into_iter().flatten().collect());
        }
    }
    panic!("no port was free on every address");
}

fn ring_names(client: &Client) -> BTreeSet<String> {
    client.ring().names().iter().cloned().collect()
}

fn names(list: &[&str]) -> BTreeSet<String> {
    list.iter().map(|s| s.to_string()).collect()
}

/// Waits until `done` holds, failing with `what` after 10 s.
async fn eventually(what: &str, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while !done() {
        assert!(Instant::now() < deadline, "{what}");
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nodes_found_by_a_records_join_move_and_leave_by_name() {
    let hosts = Hosts::new("a-records");
    let host = format!("nodes-{}.cachering.test", std::process::id());
    let (port, mut nodes) = nodes_on_one_port(
        &["127.0.0.2", "127.0.0.3", "127.0.0.4"],
        &["cache-0", "cache-1", "cache-2"],
    );
    for ip in ["127.0.0.2", "127.0.0.3", "127.0.0.4"] {
        hosts.add(ip, &host);
    }
    let client = ClientBuilder::new()
        .node(format!("dns+{host}:{port}"))
        .with_discovery_interval(INTERVAL)
        .with_discovery_grace(GRACE)
        .build()
        .unwrap();
    // The first request waits for the first lookup.
    for i in 0..200 {
        client.set(format!("k{i}"), format!("v{i}")).await.unwrap();
    }
    assert_eq!(
        ring_names(&client),
        names(&["cache-0", "cache-1", "cache-2"]),
        "A-record nodes are placed by the names they report"
    );
    // The proxy finds the same ring.
    let proxy = ProxyProcess::over(
        Vec::new(),
        &[format!("dns+{host}:{port}")],
        &["--discovery-interval-ms", "200"],
    );
    let mut raw = proxy.client();
    assert_eq!(raw.call(&["GET", "k7"]), "$2\r\nv7\r\n");
    let info = raw.call(&["INFO"]);
    for name in ["cache-0", "cache-1", "cache-2"] {
        assert!(info.contains(&format!("name={name},")), "{info}");
    }

    // `cachering status` finds them the same way.
    let status = std::process::Command::new(cachering_tests::binary())
        .args(["status", "--nodes", &format!("dns+{host}:{port}")])
        .output()
        .unwrap();
    let shown = String::from_utf8_lossy(&status.stdout);
    assert!(shown.contains("ring: 3 nodes found by DNS"), "{shown}");
    for name in ["cache-0", "cache-1", "cache-2"] {
        assert!(shown.contains(name), "{shown}");
    }

    // A fourth pod appears.
    let extra = NodeProcess::start_at_port("127.0.0.5", port, &["--name", "cache-3"])
        .expect("the port is free on 127.0.0.5");
    hosts.add("127.0.0.5", &host);
    eventually("the fourth node joins", || ring_names(&client).len() == 4).await;
    assert!(ring_names(&client).contains("cache-3"));

    // cache-1 comes back at a new address: same name, same place on the ring, and nothing to
    // migrate (the window the fourth node opened runs on, not restarted).
    let ring_before = client.ring();
    let window_before = client
        .migration_remaining()
        .expect("the fourth node opened a migration window");
    drop(nodes.remove(1));
    let moved = NodeProcess::start_at_port("127.0.0.6", port, &["--name", "cache-1"])
        .expect("the port is free on 127.0.0.6");
    hosts.remove("127.0.0.3", &host);
    hosts.add("127.0.0.6", &host);
    eventually("cache-1 is found at its new address", || {
        client
            .node_status()
            .iter()
            .any(|n| n.name == "cache-1" && n.addr == format!("127.0.0.6:{port}"))
    })
    .await;
    let ring_after = client.ring();
    for i in 0..200 {
        let key = format!("k{i}");
        let place = |ring: &cachering_client::ring::Ring| -> Vec<String> {
            ring.replicas(key.as_bytes(), 2)
                .into_iter()
                .map(|index| ring.names()[index].clone())
                .collect()
        };
        assert_eq!(place(&ring_before), place(&ring_after), "{key} moved");
    }
    let window_after = client.migration_remaining().unwrap_or_default();
    assert!(
        window_after <= window_before,
        "a new address restarted the migration window: {window_before:?} then {window_after:?}"
    );

    // cache-3 leaves the answers: kept for the grace period, then gone.
    hosts.remove("127.0.0.5", &host);
    let left = Instant::now();
    tokio::time::sleep(INTERVAL * 3).await;
    assert!(
        ring_names(&client).contains("cache-3") || left.elapsed() >= GRACE,
        "a node left out of one answer stays for the grace period"
    );
    eventually("cache-3 leaves after the grace period", || {
        !ring_names(&client).contains("cache-3")
    })
    .await;
    assert!(left.elapsed() >= GRACE, "left after {:?}", left.elapsed());
    drop((extra, moved, proxy));
}

/// A DNS server for `zone` on loopback, whose records the test changes as it goes.
struct Dns {
    addr: SocketAddr,
    zone: Arc<InMemoryAuthority>,
    origin: Name,
    serial: std::sync::atomic::AtomicU32,
    _server: tokio::task::JoinHandle<()>,
}

impl Dns {
    async fn start(zone: &str) -> Self {
        let origin = Name::from_str(zone).unwrap();
        let mut authority = InMemoryAuthority::empty(origin.clone(), ZoneType::Primary, false);
        let soa = SOA::new(
            Name::from_str(&format!("ns.{zone}")).unwrap(),
            Name::from_str(&format!("admin.{zone}")).unwrap(),
            1,
            60,
            60,
            60,
            0,
        );
        authority.upsert_mut(Record::from_rdata(origin.clone(), 0, RData::SOA(soa)), 1);
        let zone_authority = Arc::new(authority);
        let mut catalog = Catalog::new();
        let object: Arc<dyn AuthorityObject> = zone_authority.clone();
        catalog.upsert(LowerName::new(&origin), vec![object]);
        let socket = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let addr = socket.local_addr().unwrap();
        let mut server = ServerFuture::new(catalog);
        server.register_socket(socket);
        let task = tokio::spawn(async move {
            let _ = server.block_until_done().await;
        });
        Self {
            addr,
            zone: zone_authority,
            origin,
            serial: 2.into(),
            _server: task,
        }
    }

    /// Makes `name`'s SRV records exactly `targets` (host, port).
    async fn set_srv(&self, name: &str, targets: &[(&str, u16)]) {
        let name = Name::from_str(name).unwrap();
        let serial = self
            .serial
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        self.zone
            .records_mut()
            .await
            .remove(&RrKey::new(LowerName::new(&name), RecordType::SRV));
        for (host, port) in targets {
            let srv = SRV::new(0, 10, *port, Name::from_str(host).unwrap());
            self.zone
                .upsert(Record::from_rdata(name.clone(), 0, RData::SRV(srv)), serial)
                .await;
        }
        assert!(self.origin.zone_of(&name));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nodes_found_by_srv_records_are_named_by_their_targets() {
    let hosts = Hosts::new("srv-records");
    let zone = format!("srv{}.cachering.test.", std::process::id());
    let dns = Dns::start(&zone).await;
    let mut nodes = Vec::new();
    let mut targets = Vec::new();
    for (i, ip) in ["127.0.0.7", "127.0.0.8", "127.0.0.9", "127.0.0.10"]
        .iter()
        .enumerate()
    {
        let target = format!("cache-{i}.{zone}");
        // Pods' own names resolve through the system (here /etc/hosts), as in a cluster.
        hosts.add(ip, target.trim_end_matches('.'));
        let node = NodeProcess::start_at(ip, &[]);
        targets.push((target, node.addr.port()));
        nodes.push(node);
    }
    let service = format!("_redis._tcp.cache.{zone}");
    let first: Vec<(&str, u16)> = targets[..3].iter().map(|(t, p)| (t.as_str(), *p)).collect();
    dns.set_srv(&service, &first).await;
    let client = ClientBuilder::new()
        .node(format!("dnssrv+{service}"))
        .with_dns_server(dns.addr)
        .with_discovery_interval(INTERVAL)
        .with_discovery_grace(GRACE)
        .build()
        .unwrap();
    for i in 0..100 {
        client.set(format!("s{i}"), "v").await.unwrap();
    }
    let target_names = |n: usize| -> BTreeSet<String> {
        targets[..n]
            .iter()
            .map(|(t, _)| t.trim_end_matches('.').to_string())
            .collect()
    };
    assert_eq!(ring_names(&client), target_names(3));

    let all: Vec<(&str, u16)> = targets.iter().map(|(t, p)| (t.as_str(), *p)).collect();
    dns.set_srv(&service, &all).await;
    eventually("the fourth SRV target joins", || {
        ring_names(&client) == target_names(4)
    })
    .await;

    dns.set_srv(&service, &first).await;
    eventually(
        "the fourth SRV target leaves after the grace period",
        || ring_names(&client) == target_names(3),
    )
    .await;
    for i in 0..100 {
        client.set(format!("s{i}"), "w").await.unwrap();
    }
}

#[tokio::test]
async fn malformed_sources_are_refused_at_build() {
    for bad in ["dns+nohost", "dns+name:0", "dnssrv+", "dnssrv+name:1"] {
        let error = ClientBuilder::new().node(bad).build().unwrap_err();
        assert!(error.to_string().contains(bad), "{bad}: {error}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_empty_ring_refuses_every_request_until_a_node_is_found() {
    let zone = format!("none{}.cachering.test.", std::process::id());
    let dns = Dns::start(&zone).await;
    let service = format!("_redis._tcp.cache.{zone}");
    let client = ClientBuilder::new()
        .node(format!("dnssrv+{service}"))
        .with_dns_server(dns.addr)
        .with_discovery_interval(INTERVAL)
        .build()
        .unwrap();
    // DNS lists no node: no request may claim success (a write acknowledged by no one would be
    // lost) and none may panic.
    fn refused<T: std::fmt::Debug>(what: &str, result: cachering_client::Result<T>) {
        match result {
            Err(error) => assert_eq!(error.kind(), ErrorKind::Unavailable, "{what}: {error}"),
            Ok(answer) => panic!("{what} answered {answer:?} with no node in the ring"),
        }
    }
    refused("SET", client.set("k", "v").await);
    refused("GET", client.get("k").await);
    refused("DEL", client.del("k").await);
    refused("INCR", client.incr("n").await);
    refused("MSET", client.mset([("a", "1"), ("b", "2")]).await);
    refused("MGET", client.mget(["a", "b"]).await);
    refused("flush_all", client.flush_all().await);
    for command in [
        &["DBSIZE"][..],
        &["RANDOMKEY"],
        &["KEYS", "*"],
        &["SCAN", "0"],
        &["FLUSHALL"],
    ] {
        refused(command[0], client.call(command).await);
    }
    let set: [&[u8]; 3] = [b"SET", b"p", b"1"];
    let get: [&[u8]; 2] = [b"GET", b"p"];
    let results = client
        .pipeline(&[
            Routed::new(b"p", &set, Access::Write),
            Routed::new(b"p", &get, Access::Read),
        ])
        .await;
    for result in results {
        refused("a pipeline's command", result);
    }

    // The proxy over the same source answers each with an error too.
    let proxy = ProxyProcess::with_flags(
        Vec::new(),
        &[
            "--nodes",
            &format!("dnssrv+{service}"),
            "--dns-server",
            &dns.addr.to_string(),
            "--discovery-interval-ms",
            "200",
        ],
    );
    let mut raw = proxy.client();
    for command in [
        &["SET", "k", "v"][..],
        &["GET", "k"],
        &["DBSIZE"],
        &["RANDOMKEY"],
    ] {
        let reply = raw.call(command);
        assert!(reply.starts_with('-'), "{command:?} answered {reply:?}");
    }
    assert_eq!(
        raw.call(&["PING"]),
        "+PONG\r\n",
        "the proxy itself stays up"
    );

    // A node appears in DNS: the same client and proxy serve.
    let node = NodeProcess::start(&[]);
    dns.set_srv(&service, &[("localhost.", node.addr.port())])
        .await;
    eventually("the node is found", || client.node_count() == 1).await;
    client.set("k", "v").await.unwrap();
    assert_eq!(client.get("k").await.unwrap().as_deref(), Some(&b"v"[..]));
    let deadline = Instant::now() + Duration::from_secs(10);
    while raw.call(&["GET", "k"]) != "$1\r\nv\r\n" {
        assert!(Instant::now() < deadline, "the proxy never found the node");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
