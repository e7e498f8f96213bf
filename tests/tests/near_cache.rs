//! The near cache (`with_near_cache`, the proxy's `--near-cache`): repeated GETs are served
//! from the process's memory, and a value another process changes is never served once that
//! write is acknowledged and its invalidation has arrived (measured at 0.007 ms p50, 0.04 ms
//! p99 after the write's reply on loopback in docs/benchmarks.md; the tests allow 50 ms). The
//! same with a replica of the keys killed, frozen or cut off between the reads and the write:
//! 0 stale reads, through the library and through a proxy, after the heal too.

use std::time::{Duration, Instant};

use cachering_client::ClientBuilder;
use cachering_tests::cluster::{Cluster, Fault};
use cachering_tests::{bulk, fast_failover_with, NodeProcess, ProxyProcess};

/// Time allowed for an invalidation to arrive after the write's acknowledgement.
const INVALIDATION: Duration = Duration::from_millis(50);

fn commands_processed(nodes: &[NodeProcess]) -> u64 {
    nodes.iter().map(NodeProcess::commands_processed).sum()
}

/// Three node processes and their addresses.
fn three_nodes() -> (Vec<NodeProcess>, Vec<String>) {
    let nodes: Vec<NodeProcess> = (0..3).map(|_| NodeProcess::start(&[])).collect();
    let addrs = nodes.iter().map(|n| n.addr.to_string()).collect();
    (nodes, addrs)
}

/// A library client with R = 2 and a near cache of 64 MiB.
fn near_library(addrs: &[String]) -> cachering_client::Client {
    ClientBuilder::new()
        .nodes(addrs.iter().cloned())
        .with_replicas(2)
        .with_near_cache(64 << 20)
        .build()
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn repeated_reads_are_served_near_and_another_process_s_writes_are_seen() {
    let (nodes, addrs) = three_nodes();
    // A writes through a proxy process; B reads through the library with a near cache, and
    // B' through a proxy process with one.
    let writer = ProxyProcess::over(Vec::new(), &addrs, &[]);
    let near_proxy = ProxyProcess::over(Vec::new(), &addrs, &["--near-cache", "64mb"]);
    let library = near_library(&addrs);
    let keys: Vec<String> = (0..50).map(|i| format!("page:{i}")).collect();
    let mut a = writer.client();
    for key in &keys {
        a.call(&["SET", key, "v0"]);
    }
    let mut b_proxy = near_proxy.client();
    // The first reads open the invalidation streams; the next fill the near caches.
    for _ in 0..2 {
        for key in &keys {
            assert_eq!(library.get(key).await.unwrap().as_deref(), Some(&b"v0"[..]));
            assert_eq!(b_proxy.call(&["GET", key]), bulk("v0"));
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // Served near: 100 more reads reach no node (a few heartbeats and the INFOs do).
    let before = commands_processed(&nodes);
    for key in &keys {
        assert_eq!(library.get(key).await.unwrap().as_deref(), Some(&b"v0"[..]));
        assert_eq!(b_proxy.call(&["GET", key]), bulk("v0"));
    }
    let reached = commands_processed(&nodes) - before;
    assert!(
        reached < 30,
        "{reached} commands reached the nodes for 100 near reads"
    );
    // Another process writes; after its acknowledgement and the invalidation's way, neither
    // reader returns the old value.
    let mut stale = Vec::new();
    for round in 1..=20 {
        let key = &keys[round % 5];
        let value = format!("v{round}");
        assert_eq!(a.call(&["SET", key, &value]), "+OK\r\n");
        tokio::time::sleep(INVALIDATION).await;
        let got = library.get(key).await.unwrap();
        if got.as_deref() != Some(value.as_bytes()) {
            stale.push(format!("library {key}: {got:?} after {value}"));
        }
        let got = b_proxy.call(&["GET", key]);
        if got != bulk(&value) {
            stale.push(format!("proxy {key}: {got:?} after {value}"));
        }
    }
    // Deletes and expiries too.
    a.call(&["DEL", &keys[7]]);
    a.call(&["PEXPIRE", &keys[8], "100"]);
    tokio::time::sleep(Duration::from_millis(300)).await;
    for key in &keys[7..9] {
        if library.get(key).await.unwrap().is_some() {
            stale.push(format!("library {key}: still there"));
        }
        if b_proxy.call(&["GET", key]) != "$-1\r\n" {
            stale.push(format!("proxy {key}: still there"));
        }
    }
    // This process's own write is seen at once.
    library.set(&keys[9], "mine").await.unwrap();
    if library.get(&keys[9]).await.unwrap().as_deref() != Some(&b"mine"[..]) {
        stale.push("own write not seen".to_string());
    }
    // The per-read opt-out reads the nodes.
    assert_eq!(
        library.get_uncached(&keys[9]).await.unwrap().as_deref(),
        Some(&b"mine"[..])
    );
    assert!(stale.is_empty(), "{} stale reads: {stale:#?}", stale.len());
}

/// Misses of one key that arrive while its fill is in flight share that read: 100 concurrent
/// GETs of a key not cached cost the nodes one read, not 100.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_misses_share_one_read() {
    let (nodes, addrs) = three_nodes();
    let library = near_library(&addrs);
    let mut raw = nodes[0].client();
    for i in 0..30 {
        raw.call(&["SET", &format!("warm:{i}"), "x"]);
    }
    // Opens every node's invalidation stream.
    for i in 0..30 {
        library.get(format!("warm:{i}")).await.unwrap();
    }
    tokio::time::sleep(Duration::from_millis(100)).await;
    library.set("hot", "value").await.unwrap();
    // Another process's write drops it from the near cache (this process's own write put it
    // there).
    let writer = ProxyProcess::over(Vec::new(), &addrs, &[]);
    writer.client().call(&["SET", "hot", "value2"]);
    tokio::time::sleep(INVALIDATION).await;
    let before = commands_processed(&nodes);
    let reads = futures::future::join_all((0..100).map(|_| library.get("hot"))).await;
    let reached = commands_processed(&nodes) - before;
    for read in reads {
        assert_eq!(read.unwrap().as_deref(), Some(&b"value2"[..]));
    }
    // One fill: VGET and PTTL on a replica, VVER on the other, and the three INFOs.
    assert!(
        reached < 15,
        "{reached} commands reached the nodes for 100 concurrent misses"
    );
}

/// This process's writes go through to its near cache (its reads after them reach no node),
/// and writes of the same key by another process, racing with them (and with each other), are
/// never hidden by that:
/// after both are acknowledged and the invalidation's way, the near cache returns what the
/// nodes hold. Through the library (typed `set`, `call`) and through a proxy with a near cache.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn own_writes_go_through_and_racing_writes_stay_exact() {
    let (nodes, addrs) = three_nodes();
    let writer = ProxyProcess::over(Vec::new(), &addrs, &[]);
    let near_proxy = ProxyProcess::over(Vec::new(), &addrs, &["--near-cache", "64mb"]);
    let library = near_library(&addrs);
    let keys: Vec<String> = (0..20).map(|i| format!("race:{i}")).collect();
    let mut b_proxy = near_proxy.client();
    for key in &keys {
        library.set(key, "v0").await.unwrap();
        library.get(key).await.unwrap();
        b_proxy.call(&["GET", key]);
    }
    tokio::time::sleep(Duration::from_millis(100)).await;
    // Own writes are read back near (the library's keys and the proxy's apart: a write by one
    // is another process's write for the other).
    let (library_keys, proxy_keys) = keys.split_at(10);
    for (mine, theirs) in library_keys.iter().zip(proxy_keys) {
        library.set(mine, "mine").await.unwrap();
        assert_eq!(b_proxy.call(&["SET", theirs, "mine"]), "+OK\r\n");
    }
    tokio::time::sleep(INVALIDATION).await;
    let before = commands_processed(&nodes);
    for (mine, theirs) in library_keys.iter().zip(proxy_keys) {
        for _ in 0..2 {
            assert_eq!(
                library.get(mine).await.unwrap().as_deref(),
                Some(&b"mine"[..])
            );
            assert_eq!(b_proxy.call(&["GET", theirs]), bulk("mine"));
        }
    }
    let reached = commands_processed(&nodes) - before;
    assert!(
        reached < 20,
        "{reached} commands reached the nodes for 40 reads after own writes"
    );
    // Racing writes: this process and another write one key at once.
    let mut stale = Vec::new();
    for round in 0..60 {
        let key = keys[round % keys.len()].clone();
        let theirs = format!("a{round}");
        let mut a = writer.client();
        let other = tokio::task::spawn_blocking({
            let (key, theirs) = (key.clone(), theirs.clone());
            move || a.call(&["SET", &key, &theirs])
        });
        let mine = format!("b{round}");
        match round % 3 {
            // Two writes of this process at once, too.
            0 => {
                let (first, second) = futures::join!(
                    library.set(&key, mine.as_str()),
                    library.set(&key, format!("{mine}'"))
                );
                first.unwrap();
                second.unwrap();
            }
            1 => {
                library.call(&["SET", &key, &mine]).await.unwrap();
            }
            _ => assert_eq!(b_proxy.call(&["SET", &key, &mine]), "+OK\r\n"),
        }
        assert_eq!(other.await.unwrap(), "+OK\r\n");
        tokio::time::sleep(INVALIDATION).await;
        let held = library.get_uncached(&key).await.unwrap();
        let near = library.get(&key).await.unwrap();
        if near != held {
            stale.push(format!("library {key}: {near:?}, the nodes hold {held:?}"));
        }
        let proxy_got = b_proxy.call(&["GET", &key]);
        let held = held.map_or("$-1\r\n".to_string(), |v| {
            bulk(std::str::from_utf8(&v).unwrap())
        });
        if proxy_got != held {
            stale.push(format!(
                "proxy {key}: {proxy_got:?}, the nodes hold {held:?}"
            ));
        }
    }
    assert!(stale.is_empty(), "{} stale reads: {stale:#?}", stale.len());
}

/// Near caches fill; node 0 (a replica of every key used) fails; another process writes
/// every key; both near caches read every key: 0 stale, during the fault and after the heal.
async fn scenario(fault: Fault) {
    let mut cluster = Cluster::start(fault);
    let addrs = cluster.addrs.clone();
    let writer = ProxyProcess::over(Vec::new(), &addrs, &fast_failover_with(&[]));
    let near_proxy = ProxyProcess::over(
        Vec::new(),
        &addrs,
        &fast_failover_with(&["--near-cache", "64mb"]),
    );
    let library = ClientBuilder::new()
        .nodes(addrs.iter().cloned())
        .with_replicas(2)
        .with_request_timeout(Duration::from_millis(200))
        .with_connect_timeout(Duration::from_millis(200))
        .with_probe_interval(Duration::from_millis(100), Duration::from_millis(500))
        .with_near_cache(64 << 20)
        .build()
        .unwrap();
    let keys: Vec<String> = (0..)
        .map(|i| format!("near:{i}"))
        .filter(|k| library.replica_set(k.as_bytes()).contains(&0))
        .take(30)
        .collect();
    let mut a = writer.client();
    let mut b_proxy = near_proxy.client();
    for key in &keys {
        a.call(&["SET", key, "old"]);
    }
    for _ in 0..2 {
        for key in &keys {
            library.get(key).await.unwrap();
            b_proxy.call(&["GET", key]);
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // The reads before the fault are served near (or this would show nothing).
    let processed =
        |cluster: &Cluster| -> u64 { (0..3).map(|i| cluster.raw(i).commands_processed()).sum() };
    let before = processed(&cluster);
    for key in &keys {
        assert_eq!(
            library.get(key).await.unwrap().as_deref(),
            Some(&b"old"[..])
        );
        assert_eq!(b_proxy.call(&["GET", key]), bulk("old"));
    }
    let reached = processed(&cluster) - before;
    assert!(
        reached < 30,
        "{fault:?}: {reached} commands reached the nodes for 60 near reads"
    );
    cluster.begin(fault);
    let started = Instant::now();
    for key in &keys {
        assert_eq!(a.call(&["SET", key, "new"]), "+OK\r\n", "{fault:?}");
    }
    tokio::time::sleep(INVALIDATION).await;
    let mut stale = Vec::new();
    let check = |stale: &mut Vec<String>,
                 when: &str,
                 library_got: Option<bytes::Bytes>,
                 proxy_got: String,
                 key: &str| {
        if library_got.as_deref() != Some(&b"new"[..]) {
            stale.push(format!("{when}: library {key}: {library_got:?}"));
        }
        if proxy_got != bulk("new") {
            stale.push(format!("{when}: proxy {key}: {proxy_got:?}"));
        }
    };
    for key in &keys {
        let got = library.get(key).await.unwrap();
        let proxy_got = b_proxy.call(&["GET", key]);
        check(&mut stale, "during", got, proxy_got, key);
    }
    let during = started.elapsed();
    cluster.end(fault);
    writer.wait_repaired(0);
    near_proxy.wait_repaired(0);
    for _ in 0..2 {
        for key in &keys {
            let got = library.get(key).await.unwrap();
            let proxy_got = b_proxy.call(&["GET", key]);
            check(&mut stale, "after", got, proxy_got, key);
        }
    }
    eprintln!("{fault:?}: writes and reads during the fault took {during:?}");
    assert!(
        stale.is_empty(),
        "{fault:?}: {} stale reads: {stale:#?}",
        stale.len()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn near_caches_survive_a_killed_node() {
    scenario(Fault::Kill).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn near_caches_survive_a_frozen_node() {
    scenario(Fault::Freeze).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn near_caches_survive_a_node_cut_off() {
    scenario(Fault::Cut).await;
}
