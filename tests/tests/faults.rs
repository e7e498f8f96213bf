//! The fault suite: three cachering nodes in Docker containers on a network this test creates,
//! and two workloads of reads, writes and deletes with known expected values running
//! throughout, each on its own keys: one through the client library, one through a `cachering
//! proxy` process with a plain RESP client. The faults are one table ([`SCENARIOS`]): kill,
//! pause, network disconnect with writes meanwhile, a rolling restart; then a node is added and
//! one removed (the library's node list). Every scenario asserts, for both entry points, that
//! no wrong value is ever returned, no stale value is read after the heal, reads keep
//! succeeding from replicas, and the client recovers on its own. It prints the table that
//! docs/failures.md records.
//!
//! The second test rehearses the Kubernetes shape on Compose (`tests/docker/kubernetes-shape.yml`):
//! the nodes one service found by Docker's DNS, the proxy in a container and the library in its
//! network namespace both on `dns+node:6379`; the service scaled 3 → 4 → 3, then each node
//! restarted at a new address under load. Every event: nothing failed, nothing stale; misses
//! counted. Needs Docker, docker-compose and the `cachering:latest` image
//! (`bash docker/build-local.sh`); root, to enter the namespace.

use std::collections::{BTreeSet, HashMap};
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

/// The suite's Docker tests run one at a time: each drives its own cluster and load, and both
/// at once would blur what each measures.
static DOCKER_TESTS: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

fn require_image() {
    let images = docker(&["images", "-q", "cachering:latest"]);
    assert!(
        !images.is_empty(),
        "the cachering:latest image is missing: build it with `bash docker/build-local.sh`"
    );
}

fn docker(args: &[&str]) -> String {
    run(
        Command::new("docker").args(args),
        "install Docker (docker.io) and start its daemon",
    )
}

/// Runs `command` to success; its output. `install` says how to get the program.
fn run(command: &mut Command, install: &str) -> String {
    let output = command
        .output()
        .unwrap_or_else(|e| panic!("{command:?} could not run ({e}): {install}"));
    assert!(
        output.status.success(),
        "{command:?} failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).trim().to_string()
}

/// The suite's client settings (the proxies get the same as flags): R = 2, short timeouts,
/// fast probes.
fn suite_settings(builder: ClientBuilder) -> ClientBuilder {
    builder
        .with_replicas(2)
        .with_request_timeout(TIMEOUT)
        .with_connect_timeout(TIMEOUT)
        .with_failure_threshold(THRESHOLD)
        .with_probe_interval(Duration::from_millis(100), Duration::from_millis(500))
}

struct Cluster {
    network: String,
    subnet: String,
    names: Vec<String>,
}

impl Cluster {
    fn start() -> Self {
        require_image();
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
    let _one_at_a_time = DOCKER_TESTS.lock().await;
    let mut cluster = Cluster::start();
    let client = suite_settings(
        ClientBuilder::new()
            .node_spec(cluster.spec(0))
            .node_spec(cluster.spec(1))
            .node_spec(cluster.spec(2)),
    )
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

/// The Kubernetes shape on Compose (`tests/docker/kubernetes-shape.yml`): the nodes one
/// service scaled to three, found through the service's name by Docker's DNS (every
/// container's address, as a headless Service answers); the proxy in a container beside them
/// on `dns+node:6379`.
struct Shape {
    project: String,
    subnet: String,
}

impl Shape {
    fn start() -> Self {
        let id = std::process::id();
        let shape = Self {
            project: format!("crk{id}"),
            subnet: format!("172.29.{}", id % 250 + 1),
        };
        shape.compose(&["up", "-d", "--scale", "node=3"]);
        // Containers start before their processes listen: wait for every node and the proxy.
        let mut addrs: Vec<SocketAddr> = shape
            .expected()
            .iter()
            .map(|(_, addr)| addr.parse().unwrap())
            .collect();
        addrs.push(shape.proxy_addr());
        let deadline = Instant::now() + Duration::from_secs(20);
        for addr in addrs {
            while std::net::TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_err() {
                assert!(Instant::now() < deadline, "{addr} did not start");
                std::thread::sleep(Duration::from_millis(50));
            }
        }
        shape
    }

    /// `docker-compose` for this project, with `args`.
    fn compose_command(&self, args: &[&str]) -> Command {
        let file =
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("docker/kubernetes-shape.yml");
        let mut command = Command::new("docker-compose");
        command
            .args(["-p", &self.project, "-f"])
            .arg(file)
            .args(args)
            .env("SUBNET", &self.subnet);
        command
    }

    fn compose(&self, args: &[&str]) -> String {
        run(
            &mut self.compose_command(args),
            "install it with `apt-get install -y docker-compose`",
        )
    }

    fn network(&self) -> String {
        format!("{}_ring", self.project)
    }

    fn proxy_addr(&self) -> SocketAddr {
        format!("{}.250:7000", self.subnet).parse().unwrap()
    }

    /// The node service's containers, by their number in the service.
    fn nodes(&self) -> Vec<String> {
        let listed = docker(&[
            "ps",
            "--filter",
            &format!("label=com.docker.compose.project={}", self.project),
            "--filter",
            "label=com.docker.compose.service=node",
            "--format",
            "{{.Names}}",
        ]);
        let mut names: Vec<String> = listed.lines().map(str::to_string).collect();
        names.sort_by_key(|name| {
            name.rsplit('_')
                .next()
                .and_then(|n| n.parse::<u32>().ok())
                .unwrap_or(0)
        });
        names
    }

    /// What a client should find: each node container's host name (the name the node
    /// reports) and address.
    fn expected(&self) -> BTreeSet<(String, String)> {
        self.nodes()
            .iter()
            .map(|container| {
                let found = docker(&[
                    "inspect",
                    "-f",
                    "{{.Config.Hostname}} {{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}",
                    container,
                ]);
                let (name, ip) = found.split_once(' ').expect("host name and address");
                (name.to_string(), format!("{ip}:6379"))
            })
            .collect()
    }

    /// The main process of `container` (to enter its network namespace).
    fn pid(&self, container: &str) -> u32 {
        docker(&["inspect", "-f", "{{.State.Pid}}", container])
            .parse()
            .expect("a process id")
    }

    /// Restarts `container` the way a StatefulSet pod is replaced: stopped (SIGTERM), then
    /// started again at `ip`, a new address, with its own host name and so its own name.
    fn restart_at(&self, container: &str, ip: &str) {
        let network = self.network();
        docker(&["stop", "-t", "5", container]);
        docker(&["network", "disconnect", &network, container]);
        docker(&[
            "network", "connect", "--ip", ip, "--alias", "node", &network, container,
        ]);
        docker(&["start", container]);
    }
}

impl Drop for Shape {
    fn drop(&mut self) {
        let _ = self
            .compose_command(&["down", "-t", "1", "--remove-orphans"])
            .output();
    }
}

/// The proxy's ring from its INFO: each node's (name, address) and whether all are healthy.
fn proxy_ring(addr: SocketAddr) -> (BTreeSet<(String, String)>, bool) {
    let Ok(mut client) = Raw::try_connect(addr) else {
        return (BTreeSet::new(), false);
    };
    let info = client.call(&["INFO"]);
    let mut nodes = BTreeSet::new();
    let mut healthy = true;
    for line in info.lines().filter(|l| l.starts_with("node")) {
        let fields = line.split_once(':').map_or("", |(_, fields)| fields);
        let field = |key: &str| {
            fields
                .split(',')
                .find_map(|f| f.strip_prefix(key))
                .unwrap_or_default()
                .to_string()
        };
        if field("name=").is_empty() {
            continue;
        }
        healthy &= field("state=") == "healthy";
        nodes.insert((field("name="), field("addr=")));
    }
    (nodes, healthy)
}

/// The library's ring: each node's (name, address) and whether all are healthy.
fn library_ring(client: &Client) -> (BTreeSet<(String, String)>, bool) {
    let status = client.node_status();
    let healthy = status.iter().all(|n| n.state == NodeState::Healthy);
    (
        status.into_iter().map(|n| (n.name, n.addr)).collect(),
        healthy,
    )
}

/// Waits until the library and the proxy both have exactly `expected` on their rings, every
/// node healthy; how long after `started` each got there.
async fn converged(
    client: &Client,
    proxy: SocketAddr,
    expected: &BTreeSet<(String, String)>,
    started: Instant,
    what: &str,
) -> (Duration, Duration) {
    let (mut library, mut through_proxy) = (None, None);
    while library.is_none() || through_proxy.is_none() {
        if library.is_none() && library_ring(client) == (expected.clone(), true) {
            library = Some(started.elapsed());
        }
        if through_proxy.is_none() && proxy_ring(proxy) == (expected.clone(), true) {
            through_proxy = Some(started.elapsed());
        }
        assert!(
            started.elapsed() < Duration::from_secs(90),
            "{what}: the rings never converged on {expected:?}: library {:?}, proxy {:?}",
            library_ring(client),
            proxy_ring(proxy)
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    (library.unwrap(), through_proxy.unwrap())
}

/// Starts the library's workload on a thread inside the network namespace of process `pid`
/// (the proxy's container), so the library finds `dns+node:6379` through Docker's DNS
/// (127.0.0.11 there) as an application pod's client finds a headless Service. Returns the
/// client, for its view of the ring, and the thread.
fn library_beside_the_proxy(
    pid: u32,
    workload: Arc<Workload>,
) -> (Client, std::thread::JoinHandle<()>) {
    let (sender, receiver) = std::sync::mpsc::channel();
    let thread = std::thread::spawn(move || {
        let namespace = std::fs::File::open(format!("/proc/{pid}/ns/net"))
            .expect("the proxy container's network namespace (the rehearsal needs root)");
        // SAFETY: setns(2) with a descriptor this thread owns, moving only this thread (and
        // the runtime threads it starts next) into the namespace.
        #[allow(unsafe_code)]
        let entered = unsafe {
            libc::setns(
                std::os::fd::AsRawFd::as_raw_fd(&namespace),
                libc::CLONE_NEWNET,
            )
        };
        assert_eq!(
            entered,
            0,
            "setns: {} (the rehearsal needs root)",
            std::io::Error::last_os_error()
        );
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        let client = runtime.block_on(async {
            let client = suite_settings(
                ClientBuilder::new()
                    .node("dns+node:6379")
                    .with_dns_server("127.0.0.11:53".parse().unwrap()),
            )
            .build()
            .unwrap();
            client.wait_for_discovery().await;
            // The first round of discovery is bounded by the client's short timeouts; on a
            // busy machine Docker's DNS may answer after it. The workload starts once the ring
            // has nodes (the rehearsal's events come later).
            let deadline = Instant::now() + Duration::from_secs(30);
            while client.ring().is_empty() {
                assert!(Instant::now() < deadline, "discovery found no node in 30 s");
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            for i in 0..KEYS {
                client.set(format!("lib:{i}"), "initial").await.unwrap();
            }
            client
        });
        sender.send(client.clone()).unwrap();
        let handle = runtime.handle().clone();
        workload.run(&mut Library {
            client,
            runtime: handle,
        });
    });
    let client = receiver
        .recv()
        .expect("the library started beside the proxy");
    (client, thread)
}

/// A row of the rehearsal over an event from `start` to `end`: nothing failed, nothing stale
/// or wrong at any time; misses counted (every key has a value or was deleted on purpose, so
/// each miss is one the change caused).
fn rehearsal_row(
    scenario: String,
    workload: &Workload,
    converged: Duration,
    (start, end): (Instant, Instant),
) -> String {
    let ops = workload.ops.lock().unwrap();
    let entry = workload.label;
    let during = window(&ops, start, end);
    assert_eq!(
        count(&during, Outcome::Wrong),
        0,
        "{scenario} ({entry}): wrong values"
    );
    let stale = count(&during, Outcome::Stale);
    assert_eq!(stale, 0, "{scenario} ({entry}): stale reads");
    let failed = count(&during, Outcome::Error);
    assert_eq!(failed, 0, "{scenario} ({entry}): failed operations");
    let reads: Vec<&Op> = during.iter().filter(|op| op.read).copied().collect();
    let misses = count(&reads, Outcome::Miss);
    format!(
        "| {scenario} | {entry} | {} ms | {failed} | {} | {:.1} ms | {stale} | {misses} ({:.2}%) |\n",
        converged.as_millis(),
        during.len(),
        p99(&during).as_secs_f64() * 1000.0,
        100.0 * misses as f64 / reads.len().max(1) as f64
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kubernetes_shape_rehearsed_on_docker() {
    let _one_at_a_time = DOCKER_TESTS.lock().await;
    require_image();
    let shape = Shape::start();
    let proxy = shape.proxy_addr();
    let expected = shape.expected();
    let (client, library_thread, library);
    {
        let workload = Workload::new("library", "lib:");
        let pid = shape.pid(&format!("{}_proxy_1", shape.project));
        (client, library_thread) = library_beside_the_proxy(pid, Arc::clone(&workload));
        library = workload;
    }
    converged(&client, proxy, &expected, Instant::now(), "start").await;
    let mut setup = Raw::connect(proxy);
    for i in 0..KEYS {
        assert_eq!(
            setup.call(&["SET", &format!("proxy:{i}"), "initial"]),
            "+OK\r\n"
        );
    }
    let through_proxy = Workload::new("proxy", "proxy:");
    let proxy_thread = {
        let workload = Arc::clone(&through_proxy);
        std::thread::spawn(move || workload.run(&mut ThroughProxy(Raw::connect(proxy))))
    };
    tokio::time::sleep(Duration::from_millis(500)).await;

    let mut table = String::from("| event | entry point | ring converged after | ops failed | ops during event | p99 latency | stale reads | misses (share of reads) |\n|---|---|---|---|---|---|---|---|\n");
    let mut event = |name: String, start: Instant, seen: (Duration, Duration)| {
        let end = Instant::now();
        table.push_str(&rehearsal_row(name.clone(), &library, seen.0, (start, end)));
        table.push_str(&rehearsal_row(name, &through_proxy, seen.1, (start, end)));
    };
    for (scale, name) in [
        ("node=4", "scale the node service from 3 to 4"),
        ("node=3", "scale it back to 3"),
    ] {
        let start = Instant::now();
        shape.compose(&["up", "-d", "--no-recreate", "--scale", scale, "node"]);
        let seen = converged(&client, proxy, &shape.expected(), start, name).await;
        tokio::time::sleep(Duration::from_secs(2)).await;
        event(name.to_string(), start, seen);
    }
    for (k, container) in shape.nodes().iter().enumerate() {
        let before = shape.expected();
        let start = Instant::now();
        let ip = format!("{}.{}", shape.subnet, 100 + k);
        shape.restart_at(container, &ip);
        let after = shape.expected();
        assert_ne!(before, after, "{container} came back at a new address");
        let seen = converged(&client, proxy, &after, start, container).await;
        tokio::time::sleep(Duration::from_secs(2)).await;
        event(
            format!("rolling restart at a new address: {}", k + 1),
            start,
            seen,
        );
    }

    for workload in [&library, &through_proxy] {
        workload.stop.store(true, Ordering::Release);
    }
    library_thread.join().unwrap();
    proxy_thread.join().unwrap();
    let total = library.ops.lock().unwrap().len() + through_proxy.ops.lock().unwrap().len();
    table.push_str(&format!("\n{total} operations in all (70 % GET, 22 % SET, 8 % DEL over {KEYS} keys per entry point); R = 2; request timeout {} ms, ejection after {THRESHOLD} failures; discovery every 5 s (1 s after an ejection), grace 30 s, migration window 60 s (the defaults).\n", TIMEOUT.as_millis()));
    println!("{table}");
    let target =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/rehearsal-table.md");
    let _ = std::fs::write(target, &table);
}
