//! The fault suite: three cachering nodes in Docker containers on a network this test creates,
//! a client workload of reads, writes and deletes with known expected values running
//! throughout, and faults injected one after another: kill, pause, network disconnect with
//! writes meanwhile, rolling restart, a node added and one removed. Every scenario asserts that
//! no wrong value is ever returned, no stale value is read after the heal, reads keep
//! succeeding from replicas, and the client recovers on its own. It prints the table that
//! docs/failures.md records. Needs Docker and the `cachering:latest` image
//! (`bash docker/build-local.sh`).

use std::collections::HashMap;
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use cachering_client::{Client, ClientBuilder, NodeSpec, NodeState};

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
            &format!("{}:6379", self.ip(i)).parse().unwrap(),
            Duration::from_millis(200),
        )
        .is_err()
        {
            assert!(Instant::now() < deadline, "node {i} did not start");
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn spec(&self, i: usize) -> NodeSpec {
        NodeSpec::new(format!("{}:6379", self.ip(i))).with_name(format!("node{i}"))
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

/// The workload: one task, so it knows every value it wrote and in what order.
struct Workload {
    ops: Mutex<Vec<Op>>,
    stop: AtomicBool,
}

async fn run_workload(client: Client, workload: Arc<Workload>) {
    // For each key: the values acceptable now (more than one after a write whose outcome is
    // unknown), and every value ever written (to tell stale from wrong).
    // Every key starts as "initial", written before the workload starts.
    let mut acceptable: HashMap<usize, Vec<Option<String>>> = (0..KEYS)
        .map(|i| (i, vec![Some("initial".to_string())]))
        .collect();
    let mut history: HashMap<usize, Vec<String>> = (0..KEYS)
        .map(|i| (i, vec!["initial".to_string()]))
        .collect();
    let mut seq = 0u64;
    for _ in 0..MAX_OPS {
        if workload.stop.load(Ordering::Acquire) {
            break;
        }
        seq += 1;
        let key_index = rand::random_range(0..KEYS);
        let key = format!("key:{key_index}");
        let roll = rand::random_range(0..100);
        let started = Instant::now();
        let (read, outcome) = if roll < 70 {
            let result = client.get(&key).await;
            let outcome = match result {
                Err(_) => Outcome::Error,
                Ok(value) => {
                    let value = value.map(|v| String::from_utf8_lossy(&v).into_owned());
                    let allowed = acceptable
                        .get(&key_index)
                        .cloned()
                        .unwrap_or_else(|| vec![None]);
                    if allowed.contains(&value) {
                        Outcome::Ok
                    } else if value.is_none() {
                        Outcome::Miss
                    } else if history
                        .get(&key_index)
                        .is_some_and(|h| h.contains(value.as_ref().unwrap()))
                    {
                        Outcome::Stale
                    } else {
                        Outcome::Wrong
                    }
                }
            };
            (true, outcome)
        } else if roll < 92 {
            let value = format!("v{seq}");
            history.entry(key_index).or_default().push(value.clone());
            match client.set(&key, &value).await {
                Ok(()) => {
                    acceptable.insert(key_index, vec![Some(value)]);
                    (false, Outcome::Ok)
                }
                Err(_) => {
                    acceptable
                        .entry(key_index)
                        .or_insert_with(|| vec![None])
                        .push(Some(value));
                    (false, Outcome::Error)
                }
            }
        } else {
            match client.del(&key).await {
                Ok(_) => {
                    acceptable.insert(key_index, vec![None]);
                    (false, Outcome::Ok)
                }
                Err(_) => {
                    acceptable
                        .entry(key_index)
                        .or_insert_with(|| vec![None])
                        .push(None);
                    (false, Outcome::Error)
                }
            }
        };
        workload.ops.lock().unwrap().push(Op {
            at: started,
            latency: started.elapsed(),
            read,
            outcome,
        });
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
}

struct Row {
    scenario: &'static str,
    detect: Option<Duration>,
    failed: usize,
    slowed: usize,
    total: usize,
    p99: Duration,
    stale_after_heal: usize,
    warmup_miss: String,
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

/// Waits for `name` to reach `state`; how long after `started` (the fault) it did.
async fn wait_state(
    client: &Client,
    name: &str,
    state: NodeState,
    started: Instant,
    limit: Duration,
) -> Option<Duration> {
    while started.elapsed() < limit {
        if client
            .node_status()
            .iter()
            .any(|n| n.name == name && n.state == state)
        {
            return Some(started.elapsed());
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    None
}

async fn all_healthy(client: &Client) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while client
        .node_status()
        .iter()
        .any(|n| n.state != NodeState::Healthy)
    {
        assert!(
            Instant::now() < deadline,
            "the client did not recover: {:?}",
            client.node_status()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Runs one fault: `inject`, wait for detection, hold, `heal`, wait for recovery, observe.
async fn scenario(
    name: &'static str,
    client: &Client,
    workload: &Workload,
    node: &str,
    inject: impl FnOnce(),
    heal: impl FnOnce(),
    expect_ejection: bool,
) -> Row {
    let start = Instant::now();
    inject();
    let detect = if expect_ejection {
        wait_state(
            client,
            node,
            NodeState::Ejected,
            start,
            Duration::from_secs(15),
        )
        .await
    } else {
        None
    };
    assert!(
        !expect_ejection || detect.is_some(),
        "{name}: {node} was never ejected"
    );
    tokio::time::sleep(Duration::from_secs(2)).await;
    heal();
    let healed = Instant::now();
    all_healthy(client).await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    let end = Instant::now();
    let ops = workload.ops.lock().unwrap();
    let during = window(&ops, start, healed);
    let after = window(&ops, healed, end);
    let p99 = p99(&during);
    let reads_after: Vec<&&Op> = after.iter().filter(|op| op.read).collect();
    let misses_after = reads_after
        .iter()
        .filter(|op| op.outcome == Outcome::Miss)
        .count();
    let row = Row {
        scenario: name,
        detect,
        failed: during
            .iter()
            .filter(|op| op.outcome == Outcome::Error)
            .count(),
        slowed: during.iter().filter(|op| op.latency >= TIMEOUT / 2).count(),
        total: during.len(),
        p99,
        stale_after_heal: after
            .iter()
            .filter(|op| op.outcome == Outcome::Stale)
            .count(),
        warmup_miss: format!(
            "{:.2}%",
            100.0 * misses_after as f64 / reads_after.len().max(1) as f64
        ),
    };
    let wrong = ops.iter().filter(|op| op.outcome == Outcome::Wrong).count();
    assert_eq!(wrong, 0, "{name}: wrong values returned");
    assert_eq!(
        row.stale_after_heal, 0,
        "{name}: stale reads after the heal"
    );
    let read_errors = during
        .iter()
        .chain(after.iter())
        .filter(|op| op.read && op.outcome == Outcome::Error)
        .count();
    assert_eq!(
        read_errors, 0,
        "{name}: reads failed although a replica was up"
    );
    row
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
    for i in 0..KEYS {
        client.set(format!("key:{i}"), "initial").await.unwrap();
    }
    let workload = Arc::new(Workload {
        ops: Mutex::new(Vec::new()),
        stop: AtomicBool::new(false),
    });
    let task = tokio::spawn(run_workload(client.clone(), Arc::clone(&workload)));
    tokio::time::sleep(Duration::from_millis(500)).await;
    let names = cluster.names.clone();
    let network = cluster.network.clone();
    let mut rows = Vec::new();
    rows.push(
        scenario(
            "kill -9 a node, then start it again",
            &client,
            &workload,
            "node1",
            || {
                docker(&["kill", &names[1]]);
            },
            || {
                docker(&["start", &names[1]]);
            },
            true,
        )
        .await,
    );
    rows.push(
        scenario(
            "freeze a node (docker pause)",
            &client,
            &workload,
            "node2",
            || {
                docker(&["pause", &names[2]]);
            },
            || {
                docker(&["unpause", &names[2]]);
            },
            true,
        )
        .await,
    );
    let ip0 = cluster.ip(0);
    rows.push(
        scenario(
            "cut a node off the network, writes meanwhile",
            &client,
            &workload,
            "node0",
            || {
                docker(&["network", "disconnect", &network, &names[0]]);
            },
            || {
                docker(&["network", "connect", "--ip", &ip0, &network, &names[0]]);
            },
            true,
        )
        .await,
    );
    for (i, name) in names.iter().enumerate() {
        let node = ["node0", "node1", "node2"][i];
        rows.push(
            scenario(
                [
                    "rolling restart: node0",
                    "rolling restart: node1",
                    "rolling restart: node2",
                ][i],
                &client,
                &workload,
                node,
                || {
                    docker(&["restart", "-t", "1", name]);
                },
                || {},
                false,
            )
            .await,
        );
    }
    // Topology: add a fourth node, then remove the first.
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
    all_healthy(&client).await;
    {
        let ops = workload.ops.lock().unwrap();
        let during = window(&ops, added, Instant::now());
        assert_eq!(
            during
                .iter()
                .filter(|op| op.outcome == Outcome::Wrong || op.outcome == Outcome::Stale)
                .count(),
            0,
            "topology change returned a wrong or stale value"
        );
        let reads: Vec<&&Op> = during.iter().filter(|op| op.read).collect();
        rows.push(Row {
            scenario: "add a 4th node, then remove one",
            detect: None,
            failed: during
                .iter()
                .filter(|op| op.outcome == Outcome::Error)
                .count(),
            slowed: during.iter().filter(|op| op.latency >= TIMEOUT / 2).count(),
            total: during.len(),
            p99: p99(&during),
            stale_after_heal: 0,
            warmup_miss: format!(
                "{:.2}% (moved keys)",
                100.0
                    * reads
                        .iter()
                        .filter(|op| op.outcome == Outcome::Miss)
                        .count() as f64
                    / reads.len().max(1) as f64
            ),
        });
    }
    workload.stop.store(true, Ordering::Release);
    task.await.unwrap();
    let total = workload.ops.lock().unwrap().len();
    let mut table = String::from("| scenario | detected and ejected after | ops failed | ops slowed (>100 ms) | ops during event | p99 latency during event | stale reads after heal | miss ratio after heal |\n|---|---|---|---|---|---|---|---|\n");
    for row in &rows {
        table.push_str(&format!(
            "| {} | {} | {} | {} | {} | {:.1} ms | {} | {} |\n",
            row.scenario,
            row.detect
                .map_or("-".to_string(), |d| format!("{} ms", d.as_millis())),
            row.failed,
            row.slowed,
            row.total,
            row.p99.as_secs_f64() * 1000.0,
            row.stale_after_heal,
            row.warmup_miss
        ));
    }
    table.push_str(&format!("\n{total} operations in all (70 % GET, 22 % SET, 8 % DEL over {KEYS} keys); request timeout {} ms, ejection after {THRESHOLD} failures, probes from 100 ms to 500 ms, R = 2.\n", TIMEOUT.as_millis()));
    println!("{table}");
    let target =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/failures-table.md");
    let _ = std::fs::write(target, &table);
}
