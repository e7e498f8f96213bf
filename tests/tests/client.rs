//! The client crate against three real node processes with R = 2: the API, placement, and
//! what happens when a node is killed, frozen, restarted or cut off.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use cachering_client::{
    Access, Client, ClientBuilder, NodeSpec, NodeState, ReadConsistency, Reply, Routed, SetOptions,
    Ttl,
};
use cachering_tests::netns::IsolatedNode;
use cachering_tests::relay::Relay;
use cachering_tests::{bulk, Client as Raw, NodeProcess};

const TIMEOUT: Duration = Duration::from_millis(200);
const THRESHOLD: u32 = 3;

fn builder(addrs: &[String]) -> ClientBuilder {
    ClientBuilder::new()
        .nodes(addrs.iter().cloned())
        .with_replicas(2)
        .with_request_timeout(TIMEOUT)
        .with_connect_timeout(TIMEOUT)
        .with_failure_threshold(THRESHOLD)
        .with_probe_interval(Duration::from_millis(100), Duration::from_millis(500))
}

fn cluster() -> (Vec<NodeProcess>, Vec<String>) {
    let nodes: Vec<NodeProcess> = (0..3).map(|_| NodeProcess::start(&[])).collect();
    let addrs = nodes.iter().map(|n| n.addr.to_string()).collect();
    (nodes, addrs)
}

fn key(i: usize) -> String {
    format!("key:{i}")
}

async fn write_keys(client: &Client, count: usize, value: &str) {
    for i in 0..count {
        client.set(key(i), format!("{value}{i}")).await.unwrap();
    }
}

/// Keys (of the first `count`) whose first replica is node `index`.
fn keys_on(client: &Client, index: usize, count: usize) -> Vec<usize> {
    let ring = client.ring();
    (0..count)
        .filter(|&i| ring.primary(key(i).as_bytes()) == Some(index))
        .collect()
}

/// The ways a program reads keys through the library: each must keep the same promises.
#[derive(Debug, Clone, Copy)]
enum Via {
    /// `Client::get`
    Get,
    /// `Client::command(.., Access::Read)`
    Command,
    /// `Client::call`, routed by the command table
    Call,
    /// `Client::pipeline` of GETs
    Pipeline,
    /// `Client::mget`
    MGet,
}

const VIAS: [Via; 5] = [Via::Get, Via::Command, Via::Call, Via::Pipeline, Via::MGet];

fn text(reply: Reply) -> Option<String> {
    match reply {
        Reply::Bulk(value) => Some(String::from_utf8(value.to_vec()).unwrap()),
        Reply::Nil => None,
        other => panic!("not a GET reply: {other:?}"),
    }
}

/// Reads `keys` through `via`; each key's value, or the error's text.
async fn read_via(
    client: &Client,
    via: Via,
    keys: &[String],
) -> Vec<Result<Option<String>, String>> {
    let owned = |value: Option<bytes::Bytes>| value.map(|v| String::from_utf8(v.to_vec()).unwrap());
    match via {
        Via::Get => {
            let mut values = Vec::new();
            for key in keys {
                values.push(client.get(key).await.map(owned).map_err(|e| e.to_string()));
            }
            values
        }
        Via::Command => {
            let mut values = Vec::new();
            for key in keys {
                let reply = client
                    .command(key, &[b"GET", key.as_bytes()], Access::Read)
                    .await;
                values.push(reply.map(text).map_err(|e| e.to_string()));
            }
            values
        }
        Via::Call => {
            let mut values = Vec::new();
            for key in keys {
                let reply = client.call(&["GET", key.as_str()]).await;
                values.push(reply.map(text).map_err(|e| e.to_string()));
            }
            values
        }
        Via::Pipeline => {
            let gets: Vec<[&[u8]; 2]> = keys.iter().map(|k| [&b"GET"[..], k.as_bytes()]).collect();
            let routed = routed(keys, &gets, Access::Read);
            client
                .pipeline(&routed)
                .await
                .into_iter()
                .map(|r| r.map(text).map_err(|e| e.to_string()))
                .collect()
        }
        Via::MGet => match client.mget(keys).await {
            Ok(values) => values.into_iter().map(|v| Ok(owned(v))).collect(),
            Err(error) => keys.iter().map(|_| Err(error.to_string())).collect(),
        },
    }
}

/// Failed, nil-while-a-value-exists and stale reads among `values` against `expected`.
#[derive(Debug, Default, PartialEq, Eq)]
struct Tally {
    failed: usize,
    lost: usize,
    stale: usize,
}

fn tally(
    keys: &[String],
    values: &[Result<Option<String>, String>],
    expected: &HashMap<String, Option<String>>,
) -> Tally {
    let mut tally = Tally::default();
    for (key, value) in keys.iter().zip(values) {
        match (value, &expected[key]) {
            (Err(error), _) => {
                eprintln!("{key}: {error}");
                tally.failed += 1;
            }
            (Ok(None), Some(_)) => tally.lost += 1,
            (Ok(got), want) if got != want => {
                eprintln!("{key}: {got:?}, expected {want:?}");
                tally.stale += 1
            }
            _ => {}
        }
    }
    tally
}

async fn wait_for_state(client: &Client, index: usize, state: NodeState) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while client.node_status()[index].state != state {
        assert!(
            Instant::now() < deadline,
            "node {index} never became {state:?}: {:?}",
            client.node_status()[index]
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_api_over_three_nodes() {
    let (_nodes, addrs) = cluster();
    let client = builder(&addrs).build().unwrap();
    client.set("a", "1").await.unwrap();
    assert_eq!(client.get("a").await.unwrap().as_deref(), Some(&b"1"[..]));
    assert_eq!(client.get("missing").await.unwrap(), None);
    assert!(client.exists("a").await.unwrap());
    assert_eq!(client.incr("n").await.unwrap(), 1);
    assert_eq!(client.incr_by("n", 10).await.unwrap(), 11);
    assert_eq!(client.decr("n").await.unwrap(), 10);
    let outcome = client
        .set_with("a", "2", SetOptions::new().if_absent())
        .await
        .unwrap();
    assert!(!outcome.applied);
    let outcome = client
        .set_with("a", "3", SetOptions::new().get())
        .await
        .unwrap();
    assert_eq!(
        (outcome.applied, outcome.previous.as_deref()),
        (true, Some(&b"1"[..]))
    );
    let outcome = client
        .set_with(
            "fresh",
            "x",
            SetOptions::new().if_absent().ttl(Duration::from_secs(50)),
        )
        .await
        .unwrap();
    assert!(outcome.applied);
    assert!(
        matches!(client.ttl("fresh").await.unwrap(), Ttl::ExpiresIn(d) if d > Duration::from_secs(45))
    );
    assert!(client.persist("fresh").await.unwrap());
    assert_eq!(client.ttl("fresh").await.unwrap(), Ttl::Persistent);
    assert!(client
        .expire("fresh", Duration::from_secs(100))
        .await
        .unwrap());
    assert_eq!(client.ttl("nope").await.unwrap(), Ttl::Missing);
    assert_eq!(
        client.get_del("a").await.unwrap().as_deref(),
        Some(&b"3"[..])
    );
    assert!(!client.del("a").await.unwrap());
    client
        .mset((0..50).map(|i| (key(i), format!("v{i}"))))
        .await
        .unwrap();
    let keys: Vec<String> = (0..55).map(key).collect();
    let values = client.mget(&keys).await.unwrap();
    for (i, value) in values.iter().enumerate() {
        let expected = (i < 50).then(|| format!("v{i}"));
        assert_eq!(
            value.as_deref(),
            expected.as_deref().map(str::as_bytes),
            "{}",
            key(i)
        );
    }
    assert_eq!(client.exists_many(&keys).await.unwrap(), 50);
    assert_eq!(client.del_many(&keys[..10]).await.unwrap(), 10);
    assert_eq!(client.exists_many(&keys).await.unwrap(), 40);
    let reply = client
        .command("key:20", &[b"STRLEN", b"key:20"], Access::Read)
        .await
        .unwrap();
    assert_eq!(reply, Reply::Int(3));
    client
        .command("key:20", &[b"APPEND", b"key:20", b"!"], Access::Mutation)
        .await
        .unwrap();
    assert_eq!(
        client.get("key:20").await.unwrap().as_deref(),
        Some(&b"v20!"[..])
    );
    let error = client
        .command("key:20", &[b"INCR", b"key:20"], Access::Mutation)
        .await
        .unwrap_err();
    assert!(error.is_server_error(), "{error}");
    assert!(error.detail().contains("not an integer"), "{error}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_key_is_on_its_ring_replicas_and_mutations_keep_them_equal() {
    let (nodes, addrs) = cluster();
    let client = builder(&addrs).build().unwrap();
    write_keys(&client, 300, "v").await;
    for i in 0..100 {
        client.incr(format!("counter:{i}")).await.unwrap();
        client
            .command(
                format!("text:{i}"),
                &[b"APPEND", format!("text:{i}").as_bytes(), b"abc"],
                Access::Mutation,
            )
            .await
            .unwrap();
    }
    let ring = client.ring();
    let mut raw: Vec<Raw> = nodes.iter().map(|n| n.client()).collect();
    for i in 0..300 {
        let replicas = ring.replicas(key(i).as_bytes(), 2);
        for (index, node) in raw.iter_mut().enumerate() {
            let expected = if replicas.contains(&index) {
                bulk(&format!("v{i}"))
            } else {
                "$-1\r\n".to_string()
            };
            assert_eq!(
                node.call(&["GET", &key(i)]),
                expected,
                "{} on node {index}",
                key(i)
            );
        }
    }
    for i in 0..100 {
        for name in [format!("counter:{i}"), format!("text:{i}")] {
            let replicas = ring.replicas(name.as_bytes(), 2);
            let values: Vec<String> = replicas
                .iter()
                .map(|&index| raw[index].call(&["GET", &name]))
                .collect();
            assert_eq!(values[0], values[1], "replicas of {name} diverged");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_node_costs_no_read() {
    let (mut nodes, addrs) = cluster();
    let client = builder(&addrs).build().unwrap();
    write_keys(&client, 500, "v").await;
    nodes[1].signal("KILL");
    nodes[1].wait_exit(Duration::from_secs(5)).unwrap();
    for i in 0..500 {
        let value = client
            .get(key(i))
            .await
            .unwrap_or_else(|e| panic!("{}: {e}", key(i)));
        assert_eq!(
            value.as_deref(),
            Some(format!("v{i}").as_bytes()),
            "{}",
            key(i)
        );
    }
    // Writes keep working with one replica, and reads see them.
    write_keys(&client, 100, "w").await;
    for i in 0..100 {
        assert_eq!(
            client.get(key(i)).await.unwrap().as_deref(),
            Some(format!("w{i}").as_bytes())
        );
    }
    assert_eq!(client.node_status()[1].state, NodeState::Ejected);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_frozen_node_costs_at_most_the_threshold_in_timeouts_then_is_ejected_and_readmitted() {
    let (nodes, addrs) = cluster();
    let client = builder(&addrs).build().unwrap();
    write_keys(&client, 300, "v").await;
    let frozen = 0;
    let on_frozen = keys_on(&client, frozen, 300);
    assert!(on_frozen.len() > 30);
    nodes[frozen].signal("STOP");
    let mut slow = 0;
    for &i in &on_frozen {
        let started = Instant::now();
        let value = client
            .get(key(i))
            .await
            .unwrap_or_else(|e| panic!("{}: {e}", key(i)));
        assert_eq!(value.as_deref(), Some(format!("v{i}").as_bytes()));
        // A read that waited for the frozen node takes at least one request timeout.
        if started.elapsed() >= TIMEOUT * 9 / 10 {
            slow += 1;
        }
    }
    assert!(
        slow <= THRESHOLD as usize,
        "{slow} reads waited for a timeout; the node should be ejected after {THRESHOLD}"
    );
    assert_eq!(client.node_status()[frozen].state, NodeState::Ejected);
    nodes[frozen].signal("CONT");
    wait_for_state(&client, frozen, NodeState::Healthy).await;
    for &i in &on_frozen {
        assert_eq!(
            client.get(key(i)).await.unwrap().as_deref(),
            Some(format!("v{i}").as_bytes())
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restarted_node_warms_up_from_its_replicas() {
    let (mut nodes, addrs) = cluster();
    let client = builder(&addrs).build().unwrap();
    write_keys(&client, 300, "v").await;
    let restarted = 2;
    let on_restarted = keys_on(&client, restarted, 300);
    let old_run_id = client.node_status()[restarted]
        .run_id
        .clone()
        .expect("run id known");
    let port = nodes[restarted].addr.port();
    nodes[restarted].signal("KILL");
    nodes[restarted].wait_exit(Duration::from_secs(5)).unwrap();
    // Reads during the outage come from the other replica.
    for &i in &on_restarted {
        assert_eq!(
            client.get(key(i)).await.unwrap().as_deref(),
            Some(format!("v{i}").as_bytes())
        );
    }
    nodes[restarted] = NodeProcess::start_on(port, &[]);
    wait_for_state(&client, restarted, NodeState::Healthy).await;
    let status = &client.node_status()[restarted];
    assert_ne!(status.run_id.as_deref(), Some(old_run_id.as_str()));
    assert!(status.warming);
    // The empty node's misses are served by the replica and copied back.
    for &i in &on_restarted {
        assert_eq!(
            client.get(key(i)).await.unwrap().as_deref(),
            Some(format!("v{i}").as_bytes())
        );
    }
    let mut direct = nodes[restarted].client();
    let filled = on_restarted
        .iter()
        .filter(|&&i| direct.call(&["GET", &key(i)]) == bulk(&format!("v{i}")))
        .count();
    assert_eq!(
        filled,
        on_restarted.len(),
        "warm-up should fill every key read"
    );
}

/// The heart of the client: a node cut off while keys are overwritten and deleted never serves
/// the old values after it comes back.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_cut_off_and_healed_serves_no_stale_value() {
    cut_off_scenario(ReadConsistency::Newest).await;
}

/// The same with reads from one replica, where the hints and repair alone keep it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_cut_off_and_healed_serves_no_stale_value_to_one_replica_reads() {
    cut_off_scenario(ReadConsistency::One).await;
}

async fn cut_off_scenario(consistency: ReadConsistency) {
    let isolated = IsolatedNode::start(&[]);
    let others: Vec<NodeProcess> = (0..2).map(|_| NodeProcess::start(&[])).collect();
    let addrs = vec![
        isolated.addr.to_string(),
        others[0].addr.to_string(),
        others[1].addr.to_string(),
    ];
    let client = builder(&addrs)
        .with_read_consistency(consistency)
        .build()
        .unwrap();
    const KEYS: usize = 300;
    write_keys(&client, KEYS, "old").await;
    let mut expected: HashMap<usize, Option<String>> =
        (0..KEYS).map(|i| (i, Some(format!("old{i}")))).collect();

    isolated.cut();
    for i in 0..100 {
        client
            .set(key(i), format!("new{i}"))
            .await
            .unwrap_or_else(|e| panic!("write {}: {e}", key(i)));
        expected.insert(i, Some(format!("new{i}")));
    }
    for i in 100..200 {
        client
            .del(key(i))
            .await
            .unwrap_or_else(|e| panic!("delete {}: {e}", key(i)));
        expected.insert(i, None);
    }
    assert_eq!(
        client.node_status()[0].state,
        NodeState::Ejected,
        "{:?}",
        client.node_status()[0]
    );
    assert!(client.node_status()[0].hints_pending > 0);
    // Reads during the cut are served by the other replicas.
    for i in 0..KEYS {
        let value = client
            .get(key(i))
            .await
            .unwrap_or_else(|e| panic!("read {} during the cut: {e}", key(i)));
        assert_eq!(
            value.map(|v| String::from_utf8(v.to_vec()).unwrap()),
            expected[&i],
            "{}",
            key(i)
        );
    }

    isolated.heal();
    wait_for_state(&client, 0, NodeState::Healthy).await;
    // Every way of reading, each over its own fifth of the keys, sees no stale value and
    // loses no value that the other replicas still hold.
    let expected: HashMap<String, Option<String>> =
        expected.iter().map(|(&i, v)| (key(i), v.clone())).collect();
    for (n, via) in VIAS.iter().enumerate() {
        let keys: Vec<String> = (0..KEYS).filter(|i| i % VIAS.len() == n).map(key).collect();
        let values = read_via(&client, *via, &keys).await;
        assert_eq!(
            tally(&keys, &values, &expected),
            Tally::default(),
            "{via:?} after the heal"
        );
    }
    // On the node itself, nothing overwritten or deleted keeps its old value.
    let mut direct = Raw::connect(isolated.addr);
    for i in 0..200 {
        let reply = direct.call(&["GET", &key(i)]);
        assert!(
            !reply.contains("old"),
            "{} still holds {reply:?} on the healed node",
            key(i)
        );
    }
    assert_eq!(client.node_status()[0].hints_pending, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn overflowing_hints_empty_the_node_before_it_serves_reads() {
    let (nodes, addrs) = cluster();
    let client = builder(&addrs).with_hint_capacity(10).build().unwrap();
    write_keys(&client, 300, "old").await;
    nodes[0].signal("STOP");
    write_keys(&client, 300, "new").await;
    assert!(client.node_status()[0].hints_overflowed);
    nodes[0].signal("CONT");
    wait_for_state(&client, 0, NodeState::Healthy).await;
    for i in 0..300 {
        let value = client.get(key(i)).await.unwrap();
        assert_eq!(
            value.as_deref(),
            Some(format!("new{i}").as_bytes()),
            "{}",
            key(i)
        );
    }
    let mut direct = nodes[0].client();
    for i in 0..300 {
        assert!(
            !direct.call(&["GET", &key(i)]).contains("old"),
            "{} kept its old value",
            key(i)
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_node_list_changes_at_runtime() {
    let (nodes, addrs) = cluster();
    let client = builder(&addrs[..2]).build().unwrap();
    write_keys(&client, 200, "v").await;
    let specs: Vec<NodeSpec> = addrs.iter().map(|a| NodeSpec::new(a.clone())).collect();
    client.set_nodes(specs).unwrap();
    assert_eq!(client.node_status().len(), 3);
    // Keys that moved to the new node are misses until written again; the rest still read.
    let ring = client.ring();
    for i in 0..200 {
        let value = client.get(key(i)).await.unwrap();
        if ring.primary(key(i).as_bytes()) != Some(2) {
            assert_eq!(
                value.as_deref(),
                Some(format!("v{i}").as_bytes()),
                "{}",
                key(i)
            );
        }
    }
    write_keys(&client, 200, "w").await;
    let mut direct = nodes[2].client();
    let on_new = (0..200)
        .filter(|&i| ring.replicas(key(i).as_bytes(), 2).contains(&2))
        .count();
    let dbsize = direct.call(&["DBSIZE"]);
    assert_eq!(dbsize, format!(":{on_new}\r\n"));
    // A node renamed to the same address keeps its keys where the name says.
    let renamed: Vec<NodeSpec> = addrs
        .iter()
        .enumerate()
        .map(|(i, a)| NodeSpec::new(a.clone()).with_name(format!("cache-{i}")))
        .collect();
    client.set_nodes(renamed).unwrap();
    assert_eq!(client.ring().name(0), "cache-0");
}

/// `SET name value` for each pair.
fn set_commands<'a>(names: &'a [String], values: &'a [String]) -> Vec<[&'a [u8]; 3]> {
    names
        .iter()
        .zip(values)
        .map(|(k, v)| [&b"SET"[..], k.as_bytes(), v.as_bytes()])
        .collect()
}

/// One pipeline command per key.
fn routed<'a, const N: usize>(
    names: &'a [String],
    commands: &'a [[&'a [u8]; N]],
    access: Access,
) -> Vec<Routed<'a, &'a [u8]>> {
    names
        .iter()
        .zip(commands)
        .map(|(k, args)| Routed::new(k.as_bytes(), args, access))
        .collect()
}

/// `pipeline` against a frozen node: reads the frozen node was to answer come from the other
/// replica, writes land on every replica that answers and leave a hint for the frozen one,
/// which serves no stale value once it is back.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pipeline_routes_replicates_and_fails_over_like_single_commands() {
    let (nodes, addrs) = cluster();
    let client = builder(&addrs).build().unwrap();
    let names: Vec<String> = (0..60).map(key).collect();
    let values: Vec<String> = (0..60).map(|i| format!("p{i}")).collect();
    let sets = set_commands(&names, &values);
    let counter_args: [&[u8]; 2] = [b"INCR", b"pipeline:counter"];
    let mut commands = routed(&names, &sets, Access::Write);
    commands.push(Routed::new(
        b"pipeline:counter",
        &counter_args,
        Access::Mutation,
    ));
    let results = client.pipeline(&commands).await;
    for result in &results[..60] {
        assert_eq!(result.as_ref().unwrap(), &Reply::Status("OK".into()));
    }
    assert_eq!(results[60].as_ref().unwrap(), &Reply::Int(1));
    // Every key is on exactly its ring replicas.
    let ring = client.ring();
    let mut raw: Vec<Raw> = nodes.iter().map(|n| n.client()).collect();
    for (i, name) in names.iter().enumerate() {
        let replicas = ring.replicas(name.as_bytes(), 2);
        for (index, node) in raw.iter_mut().enumerate() {
            let expected = if replicas.contains(&index) {
                bulk(&values[i])
            } else {
                "$-1\r\n".to_string()
            };
            assert_eq!(
                node.call(&["GET", name]),
                expected,
                "{name} on node {index}"
            );
        }
    }

    // Freeze one node: a pipeline of reads still answers every key, from the other replica.
    let frozen = 0;
    nodes[frozen].signal("STOP");
    let gets: Vec<[&[u8]; 2]> = names.iter().map(|k| [&b"GET"[..], k.as_bytes()]).collect();
    let reads = routed(&names, &gets, Access::Read);
    for (i, result) in client.pipeline(&reads).await.into_iter().enumerate() {
        let reply = result.unwrap_or_else(|e| panic!("{}: {e}", names[i]));
        assert_eq!(reply, Reply::Bulk(values[i].clone().into()), "{}", names[i]);
    }
    // Overwrite every key while it is frozen (and ejected by now, or soon).
    let newer: Vec<String> = (0..60).map(|i| format!("q{i}")).collect();
    let sets = set_commands(&names, &newer);
    let writes = routed(&names, &sets, Access::Write);
    for (i, result) in client.pipeline(&writes).await.into_iter().enumerate() {
        result.unwrap_or_else(|e| panic!("{}: {e}", names[i]));
    }
    nodes[frozen].signal("CONT");
    wait_for_state(&client, frozen, NodeState::Healthy).await;
    for (i, result) in client.pipeline(&reads).await.into_iter().enumerate() {
        assert_eq!(
            result.unwrap(),
            Reply::Bulk(newer[i].clone().into()),
            "{} stale after the heal",
            names[i]
        );
    }

    // The same key twice: the commands run in order, the second sees the first.
    let set: [&[u8]; 3] = [b"SET", b"twice", b"1"];
    let get: [&[u8]; 2] = [b"GET", b"twice"];
    let results = client
        .pipeline(&[
            Routed::new(b"twice", &set, Access::Write),
            Routed::new(b"twice", &get, Access::Read),
        ])
        .await;
    assert_eq!(results[1].as_ref().unwrap(), &Reply::Bulk("1".into()));
}

/// A node that restarts comes back empty. Whichever way a program reads, a key that still has
/// a value on its other replica is never read as missing: GETs are answered by the replica and
/// copied back, other reads take the replica's answer.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_read_entry_point_warms_a_restarted_node() {
    restarted_node_scenario(ReadConsistency::Newest).await;
}

/// The same with reads from one replica: the warm-up fallback does what newest reads do.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_one_replica_read_entry_point_warms_a_restarted_node() {
    restarted_node_scenario(ReadConsistency::One).await;
}

async fn restarted_node_scenario(consistency: ReadConsistency) {
    let (mut nodes, addrs) = cluster();
    let client = builder(&addrs)
        .with_read_consistency(consistency)
        .build()
        .unwrap();
    const KEYS: usize = 900;
    write_keys(&client, KEYS, "v").await;
    let restarted = 1;
    let on_restarted = keys_on(&client, restarted, KEYS);
    let groups = VIAS.len() + 1;
    let chunk = on_restarted.len() / groups;
    assert!(chunk >= 20, "{} keys on the node", on_restarted.len());
    let port = nodes[restarted].addr.port();
    nodes[restarted].signal("KILL");
    nodes[restarted].wait_exit(Duration::from_secs(5)).unwrap();
    nodes[restarted] = NodeProcess::start_on(port, &[]);

    // Reads other than GET, on keys no GET has filled yet: the replica's answer.
    for &i in &on_restarted[..chunk] {
        let name = key(i);
        let length = format!("v{i}").len() as i64;
        assert_eq!(
            client.call(&["STRLEN", &name]).await.unwrap(),
            Reply::Int(length),
            "{name}"
        );
        assert_eq!(
            client.call(&["EXISTS", &name]).await.unwrap(),
            Reply::Int(1),
            "{name}"
        );
        assert_eq!(
            client.call(&["PTTL", &name]).await.unwrap(),
            Reply::Int(-1),
            "{name}"
        );
        assert_eq!(
            client.call(&["TYPE", &name]).await.unwrap(),
            Reply::Status("string".into()),
            "{name}"
        );
        let strlen = client
            .command(&name, &[b"STRLEN", name.as_bytes()], Access::Read)
            .await
            .unwrap();
        assert_eq!(strlen, Reply::Int(length), "{name}");
        assert!(client.exists(&name).await.unwrap(), "{name}");
        assert_eq!(client.ttl(&name).await.unwrap(), Ttl::Persistent, "{name}");
    }
    let names: Vec<String> = on_restarted[..chunk].iter().map(|&i| key(i)).collect();
    assert_eq!(client.exists_many(&names).await.unwrap(), chunk as u64);

    let expected: HashMap<String, Option<String>> =
        (0..KEYS).map(|i| (key(i), Some(format!("v{i}")))).collect();
    let mut read = Vec::new();
    for (n, via) in VIAS.iter().enumerate() {
        let keys: Vec<String> = on_restarted[(n + 1) * chunk..(n + 2) * chunk]
            .iter()
            .map(|&i| key(i))
            .collect();
        let values = read_via(&client, *via, &keys).await;
        assert_eq!(
            tally(&keys, &values, &expected),
            Tally::default(),
            "{via:?}"
        );
        read.extend(keys);
    }
    assert!(client.node_status()[restarted].warming);
    // Every GET copied its value back into the restarted node.
    let mut direct = nodes[restarted].client();
    let filled = read
        .iter()
        .filter(|name| Some(direct.call(&["GET", name])) == expected[*name].as_deref().map(bulk))
        .count();
    assert_eq!(filled, read.len(), "GETs should fill every key they read");
}

/// A write the caller stops waiting for (a timeout around the call, a cancelled request) after
/// it was sent, on a replica connection that then fails: that replica may have missed it, so
/// it is repaired before it serves the key again, whatever the entry point.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_write_dropped_in_flight_is_repaired_on_the_replica_that_missed_it() {
    let nodes: Vec<NodeProcess> = (0..3).map(|_| NodeProcess::start(&[])).collect();
    let relay = Relay::start(nodes[1].addr);
    let addrs = vec![
        nodes[0].addr.to_string(),
        relay.addr.to_string(),
        nodes[2].addr.to_string(),
    ];
    let client = builder(&addrs)
        .with_request_timeout(Duration::from_secs(2))
        .build()
        .unwrap();
    let ring = client.ring();
    let relayed_first: Vec<String> = (0..)
        .map(key)
        .filter(|k| ring.replicas(k.as_bytes(), 2)[0] == 1)
        .take(2)
        .collect();
    let relayed_second = (0..)
        .map(key)
        .find(|k| ring.replicas(k.as_bytes(), 2)[1] == 1)
        .unwrap();
    for name in &relayed_first {
        client.set(name, "old").await.unwrap();
    }
    client.set(&relayed_second, "5").await.unwrap();

    // The relayed node stops receiving; each call is given up after 100 ms.
    relay.swallow(true);
    let give_up = Duration::from_millis(100);
    let set = tokio::time::timeout(give_up, client.set(&relayed_first[0], "new")).await;
    assert!(
        set.is_err(),
        "the write should still wait for the relayed node"
    );
    let args: [&[u8]; 3] = [b"SET", relayed_first[1].as_bytes(), b"new"];
    let piped = tokio::time::timeout(
        give_up,
        client.pipeline(&[Routed::new(
            relayed_first[1].as_bytes(),
            &args,
            Access::Write,
        )]),
    )
    .await;
    assert!(
        piped.is_err(),
        "the pipeline should still wait for the relayed node"
    );
    // INCR runs on the other replica; its result is copied to the relayed node.
    let incr = tokio::time::timeout(give_up, client.incr(&relayed_second)).await;
    assert!(
        incr.is_err(),
        "the copy should still wait for the relayed node"
    );
    relay.cut();
    relay.swallow(false);

    let deadline = Instant::now() + Duration::from_secs(20);
    while client.node_status()[1].hints_pending > 0
        || client.node_status()[1].state != NodeState::Healthy
    {
        assert!(Instant::now() < deadline, "{:?}", client.node_status()[1]);
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    for name in &relayed_first {
        assert_eq!(
            client.get(name).await.unwrap().as_deref(),
            Some(&b"new"[..]),
            "{name}"
        );
    }
    assert_eq!(
        client.get(&relayed_second).await.unwrap().as_deref(),
        Some(&b"6"[..])
    );
    let mut direct = nodes[1].client();
    for name in &relayed_first {
        let held = direct.call(&["GET", name]);
        assert!(
            !held.contains("old"),
            "{name} still {held:?} on the node that missed the write"
        );
    }
    let held = direct.call(&["GET", &relayed_second]);
    assert_ne!(
        held,
        bulk("5"),
        "the node that missed the INCR's result still holds the old value"
    );
}
