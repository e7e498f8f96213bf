//! Consistency across client processes: several processes (proxy processes with plain RESP
//! clients, and this test's own library client) over the same three node processes, R = 2,
//! with the default settings (versioned writes, newest reads). Each scenario counts stale and
//! wrong reads, or checks the replicas themselves.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::process::Child;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use cachering_client::{Client, ClientBuilder};
use cachering_tests::netns::Namespace;
use cachering_tests::{
    binary, fast_failover_with, free_port, Client as Raw, NodeProcess, ProxyProcess, FAST_FAILOVER,
};

const KEYS: usize = 120;

fn key(i: usize) -> String {
    format!("key:{i}")
}

fn words(items: &[&str]) -> Vec<String> {
    items.iter().map(|w| w.to_string()).collect()
}

/// The library with the same fast failure detection as the proxies.
fn library(addrs: &[String]) -> Client {
    cachering_tests::fast_failover_library(addrs)
}

/// A proxy process over `addrs`, with fast failure detection and `extra` flags.
fn proxy(addrs: &[String], extra: &[&str]) -> ProxyProcess {
    ProxyProcess::over(Vec::new(), addrs, &fast_failover_with(extra))
}

/// A proxy process inside `namespace`, listening on its address, killed when dropped.
struct NamespacedProxy {
    child: Child,
    addr: SocketAddr,
}

impl NamespacedProxy {
    fn start(namespace: &Namespace, addrs: &[String]) -> Self {
        let bind = namespace.inside_ip();
        let port = free_port().to_string();
        let nodes = addrs.join(",");
        let mut args = vec![
            "proxy",
            "--bind",
            &bind,
            "--port",
            &port,
            "--nodes",
            &nodes,
            "--log-level",
            "warn",
        ];
        args.extend_from_slice(FAST_FAILOVER);
        let mut child = namespace.spawn(&binary(), &args);
        let addr: SocketAddr = format!("{bind}:{port}").parse().unwrap();
        let deadline = Instant::now() + Duration::from_secs(10);
        while Raw::try_connect(addr).is_err() {
            if child.try_wait().ok().flatten().is_some() || Instant::now() > deadline {
                let _ = child.kill();
                panic!("the proxy in the namespace did not start");
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        Self { child, addr }
    }

    fn client(&self) -> Raw {
        Raw::connect(self.addr)
    }
}

impl Drop for NamespacedProxy {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn cluster() -> (Vec<NodeProcess>, Vec<String>) {
    let nodes: Vec<NodeProcess> = (0..3).map(|_| NodeProcess::start(&[])).collect();
    let addrs = nodes.iter().map(|n| n.addr.to_string()).collect();
    (nodes, addrs)
}

/// Each key's reply read through `client` in one pipeline.
fn read_all(client: &mut Raw, keys: &[String]) -> Vec<String> {
    let gets: Vec<Vec<String>> = keys.iter().map(|k| words(&["GET", k])).collect();
    client.pipeline(&gets)
}

/// Stale and lost reads among `replies` (raw GET replies) against `expected`.
fn count_stale(
    keys: &[String],
    replies: &[String],
    expected: &HashMap<String, Option<String>>,
) -> (usize, usize) {
    let (mut stale, mut lost) = (0, 0);
    for (name, reply) in keys.iter().zip(replies) {
        let want = expected[name]
            .as_ref()
            .map(|v| format!("${}\r\n{v}\r\n", v.len()));
        match (reply.as_str(), want) {
            ("$-1\r\n", Some(_)) => {
                eprintln!("{name}: lost");
                lost += 1;
            }
            (got, want)
                if Some(got) != want.as_deref() && !(got == "$-1\r\n" && want.is_none()) =>
            {
                eprintln!("{name}: {got:?}, expected {want:?}");
                stale += 1;
            }
            _ => {}
        }
    }
    (stale, lost)
}

/// What every replica of `name` holds: `VGET` on each node, directly.
fn replica_states(nodes: &mut [Raw], client: &Client, name: &str) -> Vec<String> {
    client
        .replica_set(name.as_bytes())
        .into_iter()
        .map(|index| nodes[index].call(&["VGET", name]))
        .collect()
}

/// Two processes (a proxy and this test's library client) write the same keys as fast as they
/// can, repeatedly, and a node pauses for 200 ms (below the request timeout, like a GC pause) as
/// each round of writes ends. Afterwards every key's replicas hold the same bytes at the same
/// version, and a read returns exactly that.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_writers_leave_replicas_identical() {
    let (nodes, addrs) = cluster();
    let proxy = proxy(&addrs, &["--request-timeout-ms", "1000"]);
    let client = ClientBuilder::new()
        .nodes(addrs.iter().cloned())
        .with_request_timeout(Duration::from_secs(1))
        .build()
        .unwrap();
    let names: Vec<String> = (0..8).map(|i| format!("race:{i}")).collect();
    for round in 0..6 {
        let stop = Arc::new(AtomicBool::new(false));
        let writer = {
            let (stop, names, addr) = (Arc::clone(&stop), names.clone(), proxy.addr);
            std::thread::spawn(move || {
                let mut raw = Raw::connect(addr);
                let mut n = 0;
                while !stop.load(Ordering::Acquire) {
                    let sets: Vec<Vec<String>> = names
                        .iter()
                        .map(|k| words(&["SET", k, &format!("proxy-{round}-{n}")]))
                        .collect();
                    for reply in raw.pipeline(&sets) {
                        assert_eq!(reply, "+OK\r\n");
                    }
                    n += 1;
                }
            })
        };
        let started = Instant::now();
        let mut n = 0;
        let paused = &nodes[round % 3];
        let mut frozen = false;
        while started.elapsed() < Duration::from_millis(500) {
            if !frozen && started.elapsed() > Duration::from_millis(300) {
                paused.signal("STOP");
                frozen = true;
            }
            let values: Vec<(String, String)> = names
                .iter()
                .map(|k| (k.clone(), format!("library-{round}-{n}")))
                .collect();
            client.mset(values).await.unwrap();
            n += 1;
        }
        stop.store(true, Ordering::Release);
        tokio::time::sleep(Duration::from_millis(200)).await;
        paused.signal("CONT");
        writer.join().unwrap();
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    let mut raw: Vec<Raw> = nodes.iter().map(|n| n.client()).collect();
    let mut differing = 0;
    for name in &names {
        let states = replica_states(&mut raw, &client, name);
        if states.windows(2).any(|pair| pair[0] != pair[1]) {
            eprintln!("{name}: {states:?}");
            differing += 1;
        }
        let read = client.get(name).await.unwrap().unwrap();
        let read = String::from_utf8(read.to_vec()).unwrap();
        assert!(
            states[0].contains(&read),
            "{name}: read {read:?}, replicas {states:?}"
        );
    }
    assert_eq!(differing, 0, "keys whose replicas differ");
}

/// The writing process is restarted while a node it wrote past is frozen; the node thaws. The
/// new process, which never saw the failure, and a bystander read no stale value.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restarted_writer_and_a_bystander_read_nothing_stale_after_a_thaw() {
    let (nodes, addrs) = cluster();
    let names: Vec<String> = (0..KEYS).map(key).collect();
    let writer = proxy(&addrs, &[]);
    let mut raw = writer.client();
    let sets: Vec<Vec<String>> = (0..KEYS)
        .map(|i| words(&["SET", &key(i), &format!("old{i}")]))
        .collect();
    raw.pipeline(&sets);
    nodes[0].signal("STOP");
    // One at a time: the first few wait for the frozen node and eject it; the rest never go
    // to it, so it misses them for good, and only the writer's hints know which.
    for i in 0..KEYS {
        assert_eq!(raw.call(&["SET", &key(i), &format!("new{i}")]), "+OK\r\n");
    }
    drop(raw);
    drop(writer); // its hints die with it
    let restarted = proxy(&addrs, &[]);
    let bystander = library(&addrs);
    nodes[0].signal("CONT");
    let expected: HashMap<String, Option<String>> = (0..KEYS)
        .map(|i| (key(i), Some(format!("new{i}"))))
        .collect();
    let replies = read_all(&mut restarted.client(), &names);
    assert_eq!(
        count_stale(&names, &replies, &expected),
        (0, 0),
        "through the restarted proxy"
    );
    for i in 0..KEYS {
        let value = bystander.get(key(i)).await.unwrap();
        assert_eq!(
            value.as_deref(),
            Some(format!("new{i}").as_bytes()),
            "bystander {}",
            key(i)
        );
    }
}

/// A process writes while a node is frozen for 8 s; another, which sent nothing meanwhile,
/// reads from the first moment after the thaw, for 3 s: every read returns the last write.
#[test]
fn a_bystander_reads_nothing_stale_from_the_first_moment_after_a_long_freeze() {
    let (nodes, addrs) = cluster();
    let names: Vec<String> = (0..KEYS).map(key).collect();
    let writer = proxy(&addrs, &[]);
    let bystander = proxy(&addrs, &[]);
    let mut w = writer.client();
    let mut expected: HashMap<String, Option<String>> = HashMap::new();
    let sets: Vec<Vec<String>> = (0..KEYS)
        .map(|i| words(&["SET", &key(i), &format!("old{i}")]))
        .collect();
    w.pipeline(&sets);
    // The bystander reads (and connects to every node) before the freeze.
    read_all(&mut bystander.client(), &names);
    nodes[1].signal("STOP");
    let frozen_at = Instant::now();
    let mut generation = 0;
    while frozen_at.elapsed() < Duration::from_secs(8) {
        let sets: Vec<Vec<String>> = (0..KEYS)
            .filter(|i| (i + generation) % 3 != 0)
            .map(|i| words(&["SET", &key(i), &format!("gen{generation}-{i}")]))
            .collect();
        for (set, reply) in sets.iter().zip(w.pipeline(&sets)) {
            assert_eq!(reply, "+OK\r\n");
            expected.insert(set[1].clone(), Some(set[2].clone()));
        }
        generation += 1;
        std::thread::sleep(Duration::from_millis(100));
    }
    for i in 0..KEYS {
        expected
            .entry(key(i))
            .or_insert_with(|| Some(format!("old{i}")));
    }
    nodes[1].signal("CONT");
    let mut reader = bystander.client();
    let (mut stale, mut lost, mut reads) = (0, 0, 0);
    let thawed = Instant::now();
    while thawed.elapsed() < Duration::from_secs(3) {
        let replies = read_all(&mut reader, &names);
        let (s, l) = count_stale(&names, &replies, &expected);
        stale += s;
        lost += l;
        reads += names.len();
    }
    assert!(reads > KEYS * 3);
    assert_eq!((stale, lost), (0, 0), "in {reads} reads after the thaw");
}

/// One process (a proxy in its own network namespace) is cut off from one node; the other
/// (this test's library client) is not. The other reads the cut-off process's acknowledged
/// writes and deletes during and after the cut.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_process_cut_off_from_a_node_and_one_that_is_not_agree() {
    let namespace = Namespace::new(3);
    let nodes: Vec<NodeProcess> = (0..3)
        .map(|i| NodeProcess::start_at(&namespace.host_ip(i), &[]))
        .collect();
    let addrs: Vec<String> = nodes.iter().map(|n| n.addr.to_string()).collect();
    let cut_off = NamespacedProxy::start(&namespace, &addrs);
    let other = library(&addrs);
    let names: Vec<String> = (0..KEYS).map(key).collect();
    for i in 0..KEYS {
        other.set(key(i), format!("old{i}")).await.unwrap();
    }
    namespace.cut(&namespace.host_ip(2));
    let mut writer = cut_off.client();
    let sets: Vec<Vec<String>> = (0..KEYS / 2)
        .map(|i| words(&["SET", &key(i), &format!("new{i}")]))
        .collect();
    for reply in writer.pipeline(&sets) {
        assert_eq!(reply, "+OK\r\n");
    }
    let mut del = vec!["DEL".to_string()];
    del.extend((KEYS / 2..KEYS * 3 / 4).map(key));
    let del: Vec<&str> = del.iter().map(String::as_str).collect();
    assert_eq!(writer.call(&del), format!(":{}\r\n", KEYS / 4));
    let expected = |i: usize| match i {
        i if i < KEYS / 2 => Some(format!("new{i}")),
        i if i < KEYS * 3 / 4 => None,
        i => Some(format!("old{i}")),
    };
    for phase in ["during the cut", "after the heal"] {
        if phase == "after the heal" {
            namespace.heal(&namespace.host_ip(2));
        }
        let values = other.mget(&names).await.unwrap();
        let stale = values
            .iter()
            .enumerate()
            .filter(|(i, v)| v.as_deref() != expected(*i).as_deref().map(str::as_bytes))
            .count();
        assert_eq!(
            stale, 0,
            "{phase}: stale reads by the process that can reach every node"
        );
    }
    let expected: HashMap<String, Option<String>> =
        (0..KEYS).map(|i| (key(i), expected(i))).collect();
    let replies = read_all(&mut writer, &names);
    assert_eq!(
        count_stale(&names, &replies, &expected),
        (0, 0),
        "the cut-off process after the heal"
    );
}

/// Two processes increment one counter and append to one string at once: no increment or
/// append is lost, and the replicas end the same.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_processes_mutating_one_key_lose_nothing_and_converge() {
    let (nodes, addrs) = cluster();
    let proxy = proxy(&addrs, &["--request-timeout-ms", "1000"]);
    let client = library(&addrs);
    const EACH: usize = 300;
    let other = std::thread::spawn({
        let addr = proxy.addr;
        move || {
            let mut raw = Raw::connect(addr);
            for _ in 0..EACH {
                assert!(raw.call(&["INCR", "counter"]).starts_with(':'));
                assert!(raw.call(&["APPEND", "log", "p"]).starts_with(':'));
            }
        }
    });
    for _ in 0..EACH {
        client.incr("counter").await.unwrap();
        client.call(&["APPEND", "log", "l"]).await.unwrap();
    }
    other.join().unwrap();
    assert_eq!(
        client.get("counter").await.unwrap().as_deref(),
        Some((2 * EACH).to_string().as_bytes())
    );
    let log = client.get("log").await.unwrap().unwrap();
    assert_eq!(log.len(), 2 * EACH);
    assert_eq!(log.iter().filter(|&&b| b == b'p').count(), EACH);
    let mut raw: Vec<Raw> = nodes.iter().map(|n| n.client()).collect();
    for name in ["counter", "log"] {
        let states = replica_states(&mut raw, &client, name);
        assert_eq!(states[0], states[1], "{name}'s replicas differ");
    }
}

fn behind_by_ten_seconds() -> u64 {
    now_ms() - 10_000
}

fn ahead_by_ten_seconds() -> u64 {
    now_ms() + 10_000
}

fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64
}

/// A wall clock that steps back by a second on every reading.
fn stepping_back() -> u64 {
    static STEPS: AtomicU64 = AtomicU64::new(0);
    now_ms() - 1_000 * STEPS.fetch_add(1, Ordering::Relaxed)
}

/// The clock assumption, shown: a process never loses its own acknowledged write to an older
/// one of its own, even when its wall clock steps back; between processes, a write from a
/// process whose clock is behind loses to an earlier write from one whose clock is ahead, for
/// as long as the skew, unless it has read that write first (it then writes above it).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn clock_skew_orders_writes_as_documented() {
    let (_nodes, addrs) = cluster();
    let stepping = ClientBuilder::new()
        .nodes(addrs.iter().cloned())
        .with_wall_clock(stepping_back)
        .build()
        .unwrap();
    for n in 0..20 {
        stepping.set("own", n.to_string()).await.unwrap();
        assert_eq!(
            stepping.get("own").await.unwrap().as_deref(),
            Some(n.to_string().as_bytes())
        );
    }
    let ahead = ClientBuilder::new()
        .nodes(addrs.iter().cloned())
        .with_wall_clock(ahead_by_ten_seconds)
        .build()
        .unwrap();
    let behind = ClientBuilder::new()
        .nodes(addrs.iter().cloned())
        .with_wall_clock(behind_by_ten_seconds)
        .build()
        .unwrap();
    ahead.set("shared", "from the process ahead").await.unwrap();
    // Later in real time, but with a version from 20 s earlier: it loses.
    behind
        .set("shared", "blind write from behind")
        .await
        .unwrap();
    assert_eq!(
        ahead.get("shared").await.unwrap().as_deref(),
        Some(&b"from the process ahead"[..])
    );
    // Having read the newer write, the process behind writes above it.
    assert_eq!(
        behind.get("shared").await.unwrap().as_deref(),
        Some(&b"from the process ahead"[..])
    );
    behind
        .set("shared", "informed write from behind")
        .await
        .unwrap();
    assert_eq!(
        ahead.get("shared").await.unwrap().as_deref(),
        Some(&b"informed write from behind"[..])
    );
}
