//! The blocking list commands on a node: a blocked client wakes on a push, on its timeout, on
//! CLIENT UNBLOCK, and is counted in INFO; a client that goes away while blocked takes
//! nothing; one push serves one blocked client. Through the ring: tests/tests/blocking_ring.rs.

use cachering_tests::{array, bulk, Client, NodeProcess};

/// Waits until `want` clients are blocked on `node`.
fn until_blocked(node: &NodeProcess, want: u64) {
    node.client().until_blocked(want);
}

fn send(client: &mut Client, args: &[&str]) {
    client.send(args);
}

#[test]
fn a_push_wakes_a_blocked_client() {
    let node = NodeProcess::start(&[]);
    let mut waiter = node.client();
    // Pipelined after the blocking command, PING waits for it, as in Redis.
    send(&mut waiter, &["BLPOP", "none", "jobs", "0"]);
    send(&mut waiter, &["PING"]);
    until_blocked(&node, 1);
    assert_eq!(node.client().call(&["RPUSH", "jobs", "j1", "j2"]), ":2\r\n");
    assert_eq!(waiter.read_reply().unwrap(), array(&["jobs", "j1"]));
    assert_eq!(waiter.read_reply().unwrap(), "+PONG\r\n");
    assert_eq!(node.client().blocked_clients(), 0);
    assert_eq!(
        node.client().call(&["LRANGE", "jobs", "0", "-1"]),
        array(&["j2"])
    );
    // BLMOVE and BLMPOP wake the same way.
    send(&mut waiter, &["BLMOVE", "src", "dst", "LEFT", "RIGHT", "0"]);
    until_blocked(&node, 1);
    node.client().call(&["LPUSH", "src", "m"]);
    assert_eq!(waiter.read_reply().unwrap(), bulk("m"));
    assert_eq!(
        node.client().call(&["LRANGE", "dst", "0", "-1"]),
        array(&["m"])
    );
    send(
        &mut waiter,
        &["BLMPOP", "0", "2", "a", "b", "RIGHT", "COUNT", "5"],
    );
    until_blocked(&node, 1);
    node.client().call(&["RPUSH", "b", "1", "2"]);
    assert_eq!(
        waiter.read_reply().unwrap(),
        format!("*2\r\n{}{}", bulk("b"), array(&["2", "1"]))
    );
}

#[test]
fn timeouts_and_client_unblock_end_the_wait() {
    let node = NodeProcess::start(&[]);
    let mut waiter = node.client();
    assert_eq!(waiter.call(&["BLPOP", "none", "0.05"]), "*-1\r\n");
    assert_eq!(waiter.call(&["BRPOPLPUSH", "none", "d", "0.05"]), "*-1\r\n");
    let id = waiter.call(&["CLIENT", "ID"]);
    let id = id.trim_start_matches(':').trim().to_string();
    send(&mut waiter, &["BRPOP", "none", "0"]);
    until_blocked(&node, 1);
    assert_eq!(
        node.client().call(&["CLIENT", "UNBLOCK", &id, "TIMEOUT"]),
        ":1\r\n"
    );
    assert_eq!(waiter.read_reply().unwrap(), "*-1\r\n");
    send(&mut waiter, &["BRPOP", "none", "0"]);
    until_blocked(&node, 1);
    assert_eq!(
        node.client().call(&["CLIENT", "UNBLOCK", &id, "ERROR"]),
        ":1\r\n"
    );
    assert_eq!(
        waiter.read_reply().unwrap(),
        "-UNBLOCKED client unblocked via CLIENT UNBLOCK\r\n"
    );
    assert_eq!(node.client().call(&["CLIENT", "UNBLOCK", &id]), ":0\r\n");
    // CLIENT KILL ends a blocked client too.
    send(&mut waiter, &["BLPOP", "none", "0"]);
    until_blocked(&node, 1);
    assert_eq!(node.client().call(&["CLIENT", "KILL", "ID", &id]), ":1\r\n");
    assert!(waiter.is_closed());
    until_blocked(&node, 0);
}

#[test]
fn a_list_renamed_to_the_key_wakes_its_waiter() {
    let node = NodeProcess::start(&[]);
    let mut waiter = node.client();
    send(&mut waiter, &["BLPOP", "jobs", "0"]);
    until_blocked(&node, 1);
    let mut other = node.client();
    assert_eq!(other.call(&["RPUSH", "staging", "s1"]), ":1\r\n");
    assert_eq!(other.call(&["RENAME", "staging", "jobs"]), "+OK\r\n");
    assert_eq!(waiter.read_reply().unwrap(), array(&["jobs", "s1"]));
}

#[test]
fn a_client_gone_while_blocked_takes_nothing() {
    let node = NodeProcess::start(&[]);
    let mut gone = node.client();
    send(&mut gone, &["BLPOP", "jobs", "0"]);
    until_blocked(&node, 1);
    drop(gone);
    until_blocked(&node, 0);
    let mut producer = node.client();
    assert_eq!(producer.call(&["RPUSH", "jobs", "kept"]), ":1\r\n");
    assert_eq!(
        producer.call(&["LRANGE", "jobs", "0", "-1"]),
        array(&["kept"])
    );
}

#[test]
fn one_push_serves_one_blocked_client() {
    let node = NodeProcess::start(&[]);
    let mut first = node.client();
    let mut second = node.client();
    send(&mut first, &["BLPOP", "jobs", "0"]);
    send(&mut second, &["BLPOP", "jobs", "0"]);
    until_blocked(&node, 2);
    node.client().call(&["RPUSH", "jobs", "one"]);
    until_blocked(&node, 1);
    node.client().call(&["RPUSH", "jobs", "two"]);
    let replies = [first.read_reply().unwrap(), second.read_reply().unwrap()];
    let mut got: Vec<&str> = replies
        .iter()
        .map(|r| if r.contains("one") { "one" } else { "two" })
        .collect();
    got.sort();
    assert_eq!(got, ["one", "two"], "{replies:?}");
    assert_eq!(node.client().call(&["LLEN", "jobs"]), ":0\r\n");
}

#[test]
fn vwait_waits_for_a_value_and_takes_nothing() {
    let node = NodeProcess::start(&[]);
    let mut waiter = node.client();
    assert_eq!(waiter.call(&["VWAIT", "0.05", "a", "b"]), "*-1\r\n");
    send(&mut waiter, &["VWAIT", "0", "a", "b"]);
    until_blocked(&node, 1);
    assert_eq!(node.client().call(&["RPUSH", "b", "x"]), ":1\r\n");
    assert_eq!(waiter.read_reply().unwrap(), ":1\r\n");
    assert_eq!(
        node.client().call(&["LRANGE", "b", "0", "-1"]),
        array(&["x"])
    );
    // A key of any type answers at once (the pop that follows gives WRONGTYPE).
    node.client().call(&["SET", "s", "v"]);
    assert_eq!(waiter.call(&["VWAIT", "0", "s"]), ":1\r\n");
    assert_eq!(
        waiter.call(&["VWAIT", "-1", "a"]),
        "-ERR timeout is negative\r\n"
    );
}
