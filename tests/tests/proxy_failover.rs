//! The failover scenarios of `client.rs`, through `cachering proxy` with a plain RESP client,
//! as redis-cli or a client in any language meets them: kill -9 and an empty restart, a freeze
//! while keys are overwritten and deleted, and a node cut off in its own network namespace and
//! healed. Three nodes, R = 2. Every key is read one of three ways (one by one, in one
//! pipeline, in one MGET): none fails, none is nil while it has a value, none is stale.

use std::collections::HashMap;
use std::time::Duration;

use cachering_tests::netns::IsolatedNode;
use cachering_tests::{fast_failover_with, Client, NodeProcess, ProxyProcess};

const KEYS: usize = 300;
fn key(i: usize) -> String {
    format!("key:{i}")
}

fn command(words: &[&str]) -> Vec<String> {
    words.iter().map(|w| w.to_string()).collect()
}

/// Writes every key as `{prefix}{i}` in one pipeline.
fn write_all(client: &mut Client, prefix: &str) {
    let sets: Vec<Vec<String>> = (0..KEYS)
        .map(|i| command(&["SET", &key(i), &format!("{prefix}{i}")]))
        .collect();
    for (i, reply) in client.pipeline(&sets).into_iter().enumerate() {
        assert_eq!(reply, "+OK\r\n", "SET {}", key(i));
    }
}

/// The ways a RESP client reads.
#[derive(Debug, Clone, Copy)]
enum Way {
    OneByOne,
    Pipeline,
    MGet,
}

const WAYS: [Way; 3] = [Way::OneByOne, Way::Pipeline, Way::MGet];

/// Splits an array reply of bulk strings into each element's raw text.
fn elements(reply: &str) -> Vec<String> {
    let mut lines = reply.split("\r\n");
    let header = lines.next().unwrap_or_default();
    let count: usize = header
        .strip_prefix('*')
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("not an array: {reply:?}"));
    let mut out = Vec::with_capacity(count);
    for _ in 0..count {
        let head = lines.next().unwrap();
        if head == "$-1" {
            out.push("$-1\r\n".to_string());
        } else {
            out.push(format!("{head}\r\n{}\r\n", lines.next().unwrap()));
        }
    }
    out
}

/// Each key's raw reply, read `way`.
fn read(client: &mut Client, way: Way, keys: &[String]) -> Vec<String> {
    match way {
        Way::OneByOne => keys.iter().map(|k| client.call(&["GET", k])).collect(),
        Way::Pipeline => {
            let gets: Vec<Vec<String>> = keys.iter().map(|k| command(&["GET", k])).collect();
            client.pipeline(&gets)
        }
        Way::MGet => {
            let mut words = vec!["MGET"];
            words.extend(keys.iter().map(String::as_str));
            elements(&client.call(&words))
        }
    }
}

#[derive(Debug, Default, PartialEq, Eq)]
struct Tally {
    failed: usize,
    lost: usize,
    stale: usize,
}

/// Reads every key, each third of them one way, and counts failed, lost and stale reads.
fn read_every_way(client: &mut Client, expected: &HashMap<String, Option<String>>) -> Tally {
    let mut tally = Tally::default();
    for (n, way) in WAYS.iter().enumerate() {
        let keys: Vec<String> = (0..KEYS).filter(|i| i % WAYS.len() == n).map(key).collect();
        for (name, reply) in keys.iter().zip(read(client, *way, &keys)) {
            let want = expected[name]
                .as_ref()
                .map(|v| format!("${}\r\n{v}\r\n", v.len()));
            match (reply.as_str(), &want) {
                (r, _) if r.starts_with('-') => {
                    eprintln!("{way:?} {name}: {r:?}");
                    tally.failed += 1;
                }
                ("$-1\r\n", Some(_)) => {
                    eprintln!("{way:?} {name}: nil, expected {want:?}");
                    tally.lost += 1;
                }
                ("$-1\r\n", None) => {}
                (r, _) if Some(r) != want.as_deref() => {
                    eprintln!("{way:?} {name}: {r:?}, expected {want:?}");
                    tally.stale += 1;
                }
                _ => {}
            }
        }
    }
    tally
}

/// Overwrites the first half of the keys and deletes the next quarter; the values expected
/// afterwards.
fn overwrite_and_delete(client: &mut Client) -> HashMap<String, Option<String>> {
    let sets: Vec<Vec<String>> = (0..KEYS / 2)
        .map(|i| command(&["SET", &key(i), &format!("new{i}")]))
        .collect();
    for (i, reply) in client.pipeline(&sets).into_iter().enumerate() {
        assert_eq!(reply, "+OK\r\n", "SET {}", key(i));
    }
    let doomed: Vec<String> = (KEYS / 2..KEYS * 3 / 4).map(key).collect();
    let mut del = vec!["DEL"];
    del.extend(doomed.iter().map(String::as_str));
    assert_eq!(client.call(&del), format!(":{}\r\n", doomed.len()));
    (0..KEYS)
        .map(|i| {
            let value = match i {
                i if i < KEYS / 2 => Some(format!("new{i}")),
                i if i < KEYS * 3 / 4 => None,
                i => Some(format!("old{i}")),
            };
            (key(i), value)
        })
        .collect()
}

/// Nothing overwritten or deleted keeps its old value on the node itself.
fn no_old_value_on(node: &mut Client) {
    for i in 0..KEYS * 3 / 4 {
        let held = node.call(&["GET", &key(i)]);
        assert!(
            !held.contains("old"),
            "{} still holds {held:?} on the returning node",
            key(i)
        );
    }
}

/// The proxy's flags for a read consistency.
fn flags(consistency: &'static str) -> Vec<&'static str> {
    fast_failover_with(&["--read-consistency", consistency])
}

#[test]
fn a_node_killed_and_restarted_empty_loses_no_read() {
    killed_and_restarted("newest");
}

#[test]
fn a_node_killed_and_restarted_empty_loses_no_one_replica_read() {
    killed_and_restarted("one");
}

fn killed_and_restarted(consistency: &'static str) {
    let mut proxy = ProxyProcess::start(&[], &flags(consistency));
    let mut client = proxy.client();
    write_all(&mut client, "v");
    let port = proxy.nodes[0].addr.port();
    proxy.nodes[0].signal("KILL");
    proxy.nodes[0].wait_exit(Duration::from_secs(5)).unwrap();
    proxy.nodes[0] = NodeProcess::start_on(port, &[]);
    let expected = (0..KEYS).map(|i| (key(i), Some(format!("v{i}")))).collect();
    assert_eq!(read_every_way(&mut client, &expected), Tally::default());
    assert!(
        proxy.node_line(0).contains("warming=1"),
        "{}",
        proxy.node_line(0)
    );
}

#[test]
fn a_frozen_node_that_missed_overwrites_and_deletes_serves_no_stale_and_loses_nothing() {
    frozen("newest");
}

#[test]
fn a_frozen_node_that_missed_overwrites_and_deletes_serves_no_stale_to_one_replica_reads() {
    frozen("one");
}

fn frozen(consistency: &'static str) {
    let proxy = ProxyProcess::start(&[], &flags(consistency));
    let mut client = proxy.client();
    write_all(&mut client, "old");
    proxy.nodes[0].signal("STOP");
    let expected = overwrite_and_delete(&mut client);
    assert_eq!(
        read_every_way(&mut client, &expected),
        Tally::default(),
        "while frozen"
    );
    proxy.nodes[0].signal("CONT");
    proxy.wait_repaired(0);
    assert_eq!(
        read_every_way(&mut client, &expected),
        Tally::default(),
        "after the thaw"
    );
    no_old_value_on(&mut proxy.nodes[0].client());
}

#[test]
fn a_node_cut_off_and_healed_serves_no_stale_and_loses_nothing() {
    cut_off("newest");
}

#[test]
fn a_node_cut_off_and_healed_serves_no_stale_to_one_replica_reads() {
    cut_off("one");
}

fn cut_off(consistency: &'static str) {
    let isolated = IsolatedNode::start(&[]);
    let others: Vec<NodeProcess> = (0..2).map(|_| NodeProcess::start(&[])).collect();
    let addrs = vec![
        isolated.addr.to_string(),
        others[0].addr.to_string(),
        others[1].addr.to_string(),
    ];
    let proxy = ProxyProcess::over(others, &addrs, &flags(consistency));
    let mut client = proxy.client();
    write_all(&mut client, "old");
    isolated.cut();
    let expected = overwrite_and_delete(&mut client);
    assert_eq!(
        read_every_way(&mut client, &expected),
        Tally::default(),
        "during the cut"
    );
    isolated.heal();
    proxy.wait_repaired(0);
    assert_eq!(
        read_every_way(&mut client, &expected),
        Tally::default(),
        "after the heal"
    );
    no_old_value_on(&mut Client::connect(isolated.addr));
}
