//! The fault suite: three cachering nodes in Docker containers on a network this test creates,
//! and two workloads of reads, writes and deletes with known expected values running
//! throughout, each on its own keys: one through the client library, one through a `cachering
//! proxy` process with a plain RESP client. The faults are one table ([`SCENARIOS`]): kill,
//! pause, network disconnect with writes meanwhile, a rolling restart; then a node is added and
//! one removed (the library's node list). Every scenario asserts, for both entry points, that
//! no wrong value is ever returned, no stale value is read after the heal, reads keep
//! succeeding from replicas, and the client recovers on its own. It prints the table that
//! docs/failures.md records. Needs Docker and the `cachering:latest` image
//! (`bash docker/build-local.sh`).

use std::collections::HashMap;
use std::net::SocketAddr;
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use cachering_client::{Client, ClientBuilder, NodeSpec, NodeState};
use cachering_tests::{Client as Raw, NodeProcess, ProxyProcess};

const TIMEOUT: Duration = Duration::from_millis(200);
const THRESHOLD: u32 = 3;
const KEYS: usize = 200;
/// Workload operations stop after this many, whatever happens.
const MAX_OPS: usize = 2_000_000;

fn docker(args: &[&str]) -> String {
    let output = Command::new("docker")
        .args(args)
        .output()
        .unwrap_or_else(|e| {
            panic!("docker is missing ({e}): install Docker (docker.io) and start its daemon")
        });
    assert!(
        output.status.success(),
        "docker {} failed: {}",
        args.join(" "),
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).trim().to_string()
}

struct Cluster {
    network: String,
    subnet: String,
    names: Vec<String>,
}

impl Cluster {
    fn start() -> Self {
        let images = docker(&["images", "-q", "cachering:latest"]);
        assert!(
            !images.is_empty(),
            "the cachering:latest image is missing: build it with `bash docker/build-local.sh`"
        );
        let id = std::process::id();
        let network = format!("crf{id}");
        let subnet = format!("172.30.{}", id % 250 + 1);
        docker(&[
            "network",
            "create",
            "--subnet",
            &format!("{subnet}.0/24"),
            &network,
        ]);
        let mut cluster = Self {
            network,
            subnet,
            names: Vec::new(),
        };
        for i in 0..3 {
            cluster.add_node(i);
        }
        cluster
    }

    fn ip(&self, i: usize) -> String {
        format!("{}.{}", self.subnet, 10 + i)
    }

    fn addr(&self, i: usize) -> String {
        format!("{}:6379", self.ip(i))
    }

    fn add_node(&mut self, i: usize) {
        let name = format!("{}n{i}", self.network);
        docker(&[
            "run",
            "-d",
            "--name",
            &name,
            "--network",
            &self.network,
            "--ip",
            &self.ip(i),
            "cachering:latest",
        ]);
        self.names.push(name);
        let deadline = Instant::now() + Duration::from_secs(20);
        while std::net::TcpStream::connect_timeout(
            &self.addr(i).parse().unwrap(),
            Duration::from_millis(200),
        )
        .is_err()
        {
            assert!(Instant::now() < deadline, "node {i} did not start");
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn spec(&self, i: usize) -> NodeSpec {
        NodeSpec::new(self.addr(i)).with_name(format!("node{i}"))
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        for name in &self.names {
            let _ = Command::new("docker").args(["rm", "-f", name]).output();
        }
        let _ = Command::new("docker")
            .args(["network", "rm", &self.network])
            .output();
    }
}

/// A fault and its heal.
#[derive(Debug, Clone, Copy)]
enum Fault {
    /// `docker kill` (SIGKILL), then `docker start`: the node comes back empty.
    Kill,
    /// `docker pause` (the cgroup freezer), then `docker unpause`.
    Pause,
    /// `docker network disconnect`, then connect again at the same address.
    Disconnect,
    /// `docker restart`: a stop and a start, healed by itself.
    Restart,
}

impl Fault {
    fn inject(self, cluster: &Cluster, node: usize) {
        let name = &cluster.names[node];
        match self {
            Fault::Kill => docker(&["kill", name]),
            Fault::Pause => docker(&["pause", name]),
            Fault::Disconnect => docker(&["network", "disconnect", &cluster.network, name]),
            Fault::Restart => docker(&["restart", "-t", "1", name]),
        };
    }

    fn heal(self, cluster: &Cluster, node: usize) {
        let name = &cluster.names[node];
        match self {
            Fault::Kill => {
                docker(&["start", name]);
            }
            Fault::Pause => {
                docker(&["unpause", name]);
            }
            Fault::Disconnect => {
                docker(&[
                    "network",
                    "connect",
                    "--ip",
                    &cluster.ip(node),
                    &cluster.network,
                    name,
                ]);
            }
            Fault::Restart => {}
        }
    }

    /// Whether the client must eject the node (a restart is over before three failures).
    fn ejects(self) -> bool {
        !matches!(self, Fault::Restart)
    }
}

/// One row of the table: what happens to which node.
struct Scenario {
    name: &'static str,
    node: usize,
    fault: Fault,
}

/// Every fault the suite injects, in order.
const SCENARIOS: &[Scenario] = &[
    Scenario {
        name: "kill -9 a node, then start it again",
        node: 1,
        fault: Fault::Kill,
    },
    Scenario {
        name: "freeze a node (docker pause)",
        node: 2,
        fault: Fault::Pause,
    },
    Scenario {
        name: "cut a node off the network, writes meanwhile",
        node: 0,
        fault: Fault::Disconnect,
    },
    Scenario {
        name: "rolling restart: node0",
        node: 0,
        fault: Fault::Restart,
    },
    Scenario {
        name: "rolling restart: node1",
        node: 1,
        fault: Fault::Restart,
    },
    Scenario {
        name: "rolling restart: node2",
        node: 2,
        fault: Fault::Restart,
    },
];

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Outcome {
    Ok,
    Miss,
    Stale,
    Wrong,
    Error,
}

struct Op {
    at: Instant,
    latency: Duration,
    read: bool,
    outcome: Outcome,
}

/// A cache the workload drives, blocking.
trait Cache {
    fn get(&mut self, key: &str) -> Result<Option<String>, String>;
    fn set(&mut self, key: &str, value: &str) -> Result<(), String>;
    fn del(&mut self, key: &str) -> Result<(), String>;
}

/// The client library, from a thread outside its runtime.
struct Library {
    client: Client,
    runtime: tokio::runtime::Handle,
}

impl Cache for Library {
    fn get(&mut self, key: &str) -> Result<Option<String>, String> {
        self.runtime
            .block_on(self.client.get(key))
            .map(|v| v.map(|v| String::from_utf8_lossy(&v).into_owned()))
            .map_err(|e| e.to_string())
    }

    fn set(&mut self, key: &str, value: &str) -> Result<(), String> {
        self.runtime
            .block_on(self.client.set(key, value))
            .map_err(|e| e.to_string())
    }

    fn del(&mut self, key: &str) -> Result<(), String> {
        self.runtime
            .block_on(self.client.del(key))
            .map(drop)
            .map_err(|e| e.to_string())
    }
}

/// A plain RESP client talking to the proxy.
struct ThroughProxy(Raw);

impl Cache for ThroughProxy {
    fn get(&mut self, key: &str) -> Result<Option<String>, String> {
        let reply = self.0.call(&["GET", key]);
        match reply.as_bytes().first() {
            Some(b'$') if reply.starts_with("$-1") => Ok(None),
            Some(b'$') => Ok(reply.split("\r\n").nth(1).map(str::to_string)),
            _ => Err(reply),
        }
    }

    fn set(&mut self, key: &str, value: &str) -> Result<(), String> {
        let reply = self.0.call(&["SET", key, value]);
        (reply == "+OK\r\n").then_some(()).ok_or(reply)
    }

    fn del(&mut self, key: &str) -> Result<(), String> {
        let reply = self.0.call(&["DEL", key]);
        reply.starts_with(':').then_some(()).ok_or(reply)
    }
}

/// One workload's record, shared with the thread that runs it.
struct Workload {
    label: &'static str,
    prefix: &'static str,
    ops: Mutex<Vec<Op>>,
    stop: AtomicBool,
}

impl Workload {
    fn new(label: &'static str, prefix: &'static str) -> Arc<Self> {
        Arc::new(Self {
            label,
            prefix,
            ops: Mutex::new(Vec::new()),
            stop: AtomicBool::new(false),
        })
    }

    /// Runs operations one at a time until stopped, classifying every read against the
    /// values a correct cache could return.
    fn run(&self, cache: &mut dyn Cache) {
        // For each key: the values acceptable now (more than one after a write whose outcome
        // is unknown), and every value ever written (to tell stale from wrong). Every key
        // starts as "initial", written before the workload starts.
        let mut acceptable: HashMap<usize, Vec<Option<String>>> = (0..KEYS)
            .map(|i| (i, vec![Some("initial".to_string())]))
            .collect();
        let mut history: HashMap<usize, Vec<String>> = (0..KEYS)
            .map(|i| (i, vec!["initial".to_string()]))
            .collect();
        for seq in 0..MAX_OPS {
            if self.stop.load(Ordering::Acquire) {
                break;
            }
            let key_index = rand::random_range(0..KEYS);
            let key = format!("{}{key_index}", self.prefix);
            let roll = rand::random_range(0..100);
            let started = Instant::now();
            let (read, outcome) = if roll < 70 {
                let outcome = match cache.get(&key) {
                    Err(_) => Outcome::Error,
                    Ok(value) => {
                        let allowed = &acceptable[&key_index];
                        if allowed.contains(&value) {
                            Outcome::Ok
                        } else if value.is_none() {
                            Outcome::Miss
                        } else if history[&key_index].contains(value.as_ref().unwrap()) {
                            Outcome::Stale
                        } else {
                            Outcome::Wrong
                        }
                    }
                };
                (true, outcome)
            } else {
                let value = (roll < 92).then(|| format!("v{seq}"));
                if let Some(value) = &value {
                    history.entry(key_index).or_default().push(value.clone());
                }
                let result = match &value {
                    Some(value) => cache.set(&key, value),
                    None => cache.del(&key),
                };
                match result {
                    Ok(()) => {
                        acceptable.insert(key_index, vec![value]);
                        (false, Outcome::Ok)
                    }
                    Err(_) => {
                        acceptable.entry(key_index).or_default().push(value);
                        (false, Outcome::Error)
                    }
                }
            };
            self.ops.lock().unwrap().push(Op {
                at: started,
                latency: started.elapsed(),
                read,
                outcome,
            });
            std::thread::sleep(Duration::from_millis(1));
        }
    }
}

struct Row {
    scenario: &'static str,
    entry: &'static str,
    detect: Option<Duration>,
    failed: usize,
    slowed: usize,
    total: usize,
    p99: Duration,
    stale_after_heal: usize,
    misses_after: String,
}

/// The 99th-percentile latency of `ops`.
fn p99(ops: &[&Op]) -> Duration {
    let mut latencies: Vec<Duration> = ops.iter().map(|op| op.latency).collect();
    latencies.sort();
    latencies
        .get(latencies.len().saturating_sub(1) * 99 / 100)
        .copied()
        .unwrap_or_default()
}

fn window(ops: &[Op], from: Instant, to: Instant) -> Vec<&Op> {
    ops.iter()
        .filter(|op| op.at >= from && op.at < to)
        .collect()
}

fn count(ops: &[&Op], outcome: Outcome) -> usize {
    ops.iter().filter(|op| op.outcome == outcome).count()
}

/// A row for `workload` over an event from `start` to `healed`, observed until `end`, after
/// asserting what must hold: no wrong value ever, no stale value after the heal, no failed
/// read.
fn row(
    scenario: &'static str,
    workload: &Workload,
    detect: Option<Duration>,
    (start, healed, end): (Instant, Instant, Instant),
    miss_note: &str,
) -> Row {
    let ops = workload.ops.lock().unwrap();
    let entry = workload.label;
    let during = window(&ops, start, healed);
    let after = window(&ops, healed, end);
    assert_eq!(
        count(&window(&ops, start, end), Outcome::Wrong),
        0,
        "{scenario} ({entry}): wrong values returned"
    );
    let stale_after_heal = count(&after, Outcome::Stale);
    assert_eq!(
        stale_after_heal, 0,
        "{scenario} ({entry}): stale reads after the heal"
    );
    let read_errors = during
        .iter()
        .chain(after.iter())
        .filter(|op| op.read && op.outcome == Outcome::Error)
        .count();
    assert_eq!(
        read_errors, 0,
        "{scenario} ({entry}): reads failed although a replica was up"
    );
    let reads_after: Vec<&Op> = after.iter().filter(|op| op.read).copied().collect();
    Row {
        scenario,
        entry,
        detect,
        failed: count(&during, Outcome::Error),
        slowed: during.iter().filter(|op| op.latency >= TIMEOUT / 2).count(),
        total: during.len(),
        p99: p99(&during),
        stale_after_heal,
        misses_after: format!(
            "{:.2}%{miss_note}",
            100.0 * count(&reads_after, Outcome::Miss) as f64 / reads_after.len().max(1) as f64
        ),
    }
}

/// Waits until the library and the proxy each eject node `index`; how long after `started`
/// (the fault) each did.
async fn wait_ejected(
    client: &Client,
    proxy: &ProxyProcess,
    index: usize,
    started: Instant,
) -> (Option<Duration>, Option<Duration>) {
    let name = format!("node{index}");
    let (mut library, mut through_proxy) = (None, None);
    while started.elapsed() < Duration::from_secs(15)
        && (library.is_none() || through_proxy.is_none())
    {
        if library.is_none()
            && client
                .node_status()
                .iter()
                .any(|n| n.name == name && n.state == NodeState::Ejected)
        {
            library = Some(started.elapsed());
        }
        if through_proxy.is_none() && proxy.node_line(index).contains("state=ejected") {
            through_proxy = Some(started.elapsed());
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    (library, through_proxy)
}

/// Waits until the library and the proxy see every node healthy.
async fn all_healthy(client: &Client, proxy: &ProxyProcess) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while client
        .node_status()
        .iter()
        .any(|n| n.state != NodeState::Healthy)
        || (0..3).any(|i| !proxy.node_line(i).contains("state=healthy"))
    {
        assert!(
            Instant::now() < deadline,
            "the client did not recover: {:?}",
            client.node_status()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn faults_on_a_docker_cluster() {
    let mut cluster = Cluster::start();
    let client = ClientBuilder::new()
        .node_spec(cluster.spec(0))
        .node_spec(cluster.spec(1))
        .node_spec(cluster.spec(2))
        .with_replicas(2)
        .with_request_timeout(TIMEOUT)
        .with_connect_timeout(TIMEOUT)
        .with_failure_threshold(THRESHOLD)
        .with_probe_interval(Duration::from_millis(100), Duration::from_millis(500))
        .build()
        .unwrap();
    let addrs: Vec<String> = (0..3)
        .map(|i| format!("node{i}={}", cluster.addr(i)))
        .collect();
    let timeout = TIMEOUT.as_millis().to_string();
    let threshold = THRESHOLD.to_string();
    let proxy = ProxyProcess::over(
        Vec::<NodeProcess>::new(),
        &addrs,
        &[
            "--request-timeout-ms",
            &timeout,
            "--connect-timeout-ms",
            &timeout,
            "--failure-threshold",
            &threshold,
            "--probe-interval-ms",
            "100",
            "--max-probe-interval-ms",
            "500",
        ],
    );
    let library = Workload::new("library", "lib:");
    let through_proxy = Workload::new("proxy", "proxy:");
    for i in 0..KEYS {
        client.set(format!("lib:{i}"), "initial").await.unwrap();
    }
    let mut setup = proxy.client();
    for i in 0..KEYS {
        assert_eq!(
            setup.call(&["SET", &format!("proxy:{i}"), "initial"]),
            "+OK\r\n"
        );
    }
    let threads = [
        {
            let (workload, client) = (Arc::clone(&library), client.clone());
            let runtime = tokio::runtime::Handle::current();
            std::thread::spawn(move || workload.run(&mut Library { client, runtime }))
        },
        {
            let workload = Arc::clone(&through_proxy);
            let addr: SocketAddr = proxy.addr;
            std::thread::spawn(move || workload.run(&mut ThroughProxy(Raw::connect(addr))))
        },
    ];
    tokio::time::sleep(Duration::from_millis(500)).await;

    let mut rows = Vec::new();
    for scenario in SCENARIOS {
        let node = format!("node{}", scenario.node);
        let start = Instant::now();
        scenario.fault.inject(&cluster, scenario.node);
        let (detect, proxy_detect) = if scenario.fault.ejects() {
            let detected = wait_ejected(&client, &proxy, scenario.node, start).await;
            assert!(
                detected.0.is_some() && detected.1.is_some(),
                "{}: {node} was never ejected by both: {detected:?}",
                scenario.name
            );
            detected
        } else {
            (None, None)
        };
        tokio::time::sleep(Duration::from_secs(2)).await;
        scenario.fault.heal(&cluster, scenario.node);
        let healed = Instant::now();
        all_healthy(&client, &proxy).await;
        tokio::time::sleep(Duration::from_secs(2)).await;
        let span = (start, healed, Instant::now());
        rows.push(row(scenario.name, &library, detect, span, ""));
        rows.push(row(scenario.name, &through_proxy, proxy_detect, span, ""));
    }

    // Topology: add a fourth node, then remove the first, in the library's node list (the
    // proxy's is fixed at start).
    cluster.add_node(3);
    let added = Instant::now();
    client
        .set_nodes((0..4).map(|i| cluster.spec(i)).collect())
        .unwrap();
    tokio::time::sleep(Duration::from_secs(2)).await;
    client
        .set_nodes((1..4).map(|i| cluster.spec(i)).collect())
        .unwrap();
    tokio::time::sleep(Duration::from_secs(2)).await;
    let span = (added, Instant::now(), Instant::now());
    let mut topology = row(
        "add a 4th node, then remove one",
        &library,
        None,
        (span.0, span.1, span.1),
        "",
    );
    {
        let ops = library.ops.lock().unwrap();
        let during = window(&ops, added, span.1);
        let reads: Vec<&Op> = during.iter().filter(|op| op.read).copied().collect();
        topology.misses_after = format!(
            "{:.2}% (moved keys, during)",
            100.0 * count(&reads, Outcome::Miss) as f64 / reads.len().max(1) as f64
        );
    }
    rows.push(topology);

    for workload in [&library, &through_proxy] {
        workload.stop.store(true, Ordering::Release);
    }
    for thread in threads {
        thread.join().unwrap();
    }
    let total = library.ops.lock().unwrap().len() + through_proxy.ops.lock().unwrap().len();
    let mut table = String::from("| scenario | entry point | detected and ejected after | ops failed | ops slowed (>100 ms) | ops during event | p99 latency during event | stale reads after heal | miss ratio after heal |\n|---|---|---|---|---|---|---|---|---|\n");
    for row in &rows {
        table.push_str(&format!(
            "| {} | {} | {} | {} | {} | {} | {:.1} ms | {} | {} |\n",
            row.scenario,
            row.entry,
            row.detect
                .map_or("-".to_string(), |d| format!("{} ms", d.as_millis())),
            row.failed,
            row.slowed,
            row.total,
            row.p99.as_secs_f64() * 1000.0,
            row.stale_after_heal,
            row.misses_after
        ));
    }
    table.push_str(&format!("\n{total} operations in all (70 % GET, 22 % SET, 8 % DEL over {KEYS} keys per entry point); request timeout {} ms, ejection after {THRESHOLD} failures, probes from 100 ms to 500 ms, R = 2.\n", TIMEOUT.as_millis()));
    println!("{table}");
    let target =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/failures-table.md");
    let _ = std::fs::write(target, &table);
}
