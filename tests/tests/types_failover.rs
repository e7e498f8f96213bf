//! Collections under failures: hashes, sets, sorted sets and lists written and mutated through the library and a proxy
//! (two client processes) while one node is killed, frozen or cut off. Afterwards a process
//! that never saw the failure (a new proxy, a new library client) reads every key exactly as
//! written, through every entry point, and every key's replicas hold the same value at the same
//! version.

use std::time::{Duration, Instant};

use cachering_client::{Access, Client, Reply, Routed};
use cachering_tests::cluster::{Cluster, Fault};
use cachering_tests::{fast_failover_with, ProxyProcess};

const KEYS: usize = 40;

fn key(i: usize) -> String {
    format!("hash:{i}")
}

fn set_key(i: usize) -> String {
    format!("set:{i}")
}

/// A sorted set, and (sharing its hash tag, so its replicas) a copy of its range.
fn zset_keys(i: usize) -> (String, String) {
    (format!("{{z:{i}}}board"), format!("{{z:{i}}}top"))
}

/// A list, and (sharing its hash tag) the list LMOVE moves to.
fn list_keys(i: usize) -> (String, String) {
    (format!("{{q:{i}}}jobs"), format!("{{q:{i}}}done"))
}

/// The raw RESP2 reply of ZRANGE … WITHSCORES after the writes of the scenario.
const BOARD_AFTER: &str = "*4\r\n$1\r\nc\r\n$1\r\n5\r\n$1\r\na\r\n$2\r\n11\r\n";

/// The library with the same fast failure detection as the proxies.
fn library(addrs: &[String]) -> Client {
    cachering_tests::fast_failover_library(addrs)
}

/// `HGETALL`'s raw RESP2 reply for `pairs`.
fn hgetall_reply(pairs: &[(&str, String)]) -> String {
    let mut out = format!("*{}\r\n", pairs.len() * 2);
    for (field, value) in pairs {
        for part in [*field, value.as_str()] {
            out.push_str(&format!("${}\r\n{part}\r\n", part.len()));
        }
    }
    out
}

async fn scenario(fault: Fault) {
    let mut cluster = Cluster::start(fault);
    let addrs = cluster.addrs.clone();
    let writer = library(&addrs);
    let proxy = ProxyProcess::over(Vec::new(), &addrs, &fast_failover_with(&[]));
    let mut through_proxy = proxy.client();
    for i in 0..KEYS {
        writer
            .hset_many(key(i), [("owner", "library"), ("n", "0"), ("a", "old")])
            .await
            .unwrap();
        writer.sadd(set_key(i), ["a", "b"]).await.unwrap();
        let (board, _) = zset_keys(i);
        writer
            .zadd_many(&board, [(1.0, "a"), (2.0, "b"), (3.0, "c")])
            .await
            .unwrap();
        let (jobs, _) = list_keys(i);
        writer.rpush(&jobs, ["j1", "j2", "j3"]).await.unwrap();
    }
    cluster.begin(fault);
    // Both processes write every hash while the node is away: a field set by the library, a
    // counter and a delete by the proxy.
    for i in 0..KEYS {
        let k = key(i);
        writer.hset(&k, "a", format!("new{i}")).await.unwrap();
        assert_eq!(
            through_proxy.call(&["HINCRBY", &k, "n", "5"]),
            ":5\r\n",
            "{k}"
        );
        assert_eq!(through_proxy.call(&["HDEL", &k, "owner"]), ":1\r\n", "{k}");
        let s = set_key(i);
        assert_eq!(through_proxy.call(&["SADD", &s, "c"]), ":1\r\n", "{s}");
        assert_eq!(writer.srem(&s, ["a"]).await.unwrap(), 1, "{s}");
        // Sorted sets: an increment through the proxy, a pop by the typed API, a flagged
        // ZADD by `call`, and a ZRANGESTORE (two keys, one replica set) through the proxy.
        let (board, top) = zset_keys(i);
        assert_eq!(
            through_proxy.call(&["ZINCRBY", &board, "10", "a"]),
            "$2\r\n11\r\n",
            "{board}"
        );
        let popped = writer.zpop_min(&board, 1).await.unwrap();
        assert_eq!(popped, [(bytes::Bytes::from("b"), 2.0)], "{board}");
        let raised = writer
            .call(&["ZADD", &board, "GT", "CH", "5", "c", "1", "a"])
            .await
            .unwrap();
        assert_eq!(raised, Reply::Int(1), "{board}");
        assert_eq!(
            through_proxy.call(&["ZRANGESTORE", &top, &board, "0", "-1"]),
            ":2\r\n",
            "{top}"
        );
        // Lists: a push through the proxy, a pop by the typed API, an LSET by `call`, and an
        // LMOVE (two keys, one replica set) through the proxy.
        let (jobs, done) = list_keys(i);
        assert_eq!(
            through_proxy.call(&["RPUSH", &jobs, "j4"]),
            ":4\r\n",
            "{jobs}"
        );
        assert_eq!(
            writer.lpop(&jobs).await.unwrap().as_deref(),
            Some(&b"j1"[..])
        );
        let set = writer.call(&["LSET", &jobs, "-1", "J4"]).await.unwrap();
        assert_eq!(set, Reply::Status("OK".into()), "{jobs}");
        assert_eq!(
            through_proxy.call(&["LMOVE", &jobs, &done, "LEFT", "RIGHT"]),
            "$2\r\nj2\r\n",
            "{jobs}"
        );
    }
    drop(through_proxy);
    drop(proxy); // its hints die with it
    cluster.end(fault);
    let expected = |i: usize| hgetall_reply(&[("n", "5".to_string()), ("a", format!("new{i}"))]);

    // A new proxy and a new library client, which never saw the failure.
    let proxy = ProxyProcess::over(Vec::new(), &addrs, &fast_failover_with(&[]));
    let mut fresh_proxy = proxy.client();
    let bystander = library(&addrs);
    let mut stale = Vec::new();
    for i in 0..KEYS {
        let k = key(i);
        let got = fresh_proxy.call(&["HGETALL", &k]);
        if got != expected(i) {
            stale.push(format!("proxy {k}: {got:?}"));
        }
        let pairs = bystander.hgetall(&k).await.unwrap();
        let pairs: Vec<(String, String)> = pairs
            .into_iter()
            .map(|(f, v)| {
                (
                    String::from_utf8_lossy(&f).into(),
                    String::from_utf8_lossy(&v).into(),
                )
            })
            .collect();
        let want = vec![
            ("n".to_string(), "5".to_string()),
            ("a".to_string(), format!("new{i}")),
        ];
        if pairs != want {
            stale.push(format!("library {k}: {pairs:?}"));
        }
        let field = bystander.call(&["HGET", &k, "owner"]).await.unwrap();
        if field != Reply::Nil {
            stale.push(format!("call {k}: owner is {field:?}"));
        }
        let s = set_key(i);
        let got = fresh_proxy.call(&["SMEMBERS", &s]);
        let mut lines: Vec<&str> = got
            .split("\r\n")
            .filter(|l| !l.starts_with(['$', '*']))
            .collect();
        lines.sort();
        if lines != ["", "b", "c"] {
            stale.push(format!("proxy {s}: {got:?}"));
        }
        let mut members = bystander.smembers(&s).await.unwrap();
        members.sort();
        if members != ["b", "c"] {
            stale.push(format!("library {s}: {members:?}"));
        }
        let (board, top) = zset_keys(i);
        for k in [&board, &top] {
            let got = fresh_proxy.call(&["ZRANGE", k, "0", "-1", "WITHSCORES"]);
            if got != BOARD_AFTER {
                stale.push(format!("proxy {k}: {got:?}"));
            }
            let entries = bystander.zrange_withscores(k, 0, -1).await.unwrap();
            let want = [
                (bytes::Bytes::from("c"), 5.0),
                (bytes::Bytes::from("a"), 11.0),
            ];
            if entries != want {
                stale.push(format!("library {k}: {entries:?}"));
            }
        }
        if bystander.zscore(&board, "b").await.unwrap().is_some() {
            stale.push(format!("library {board}: the popped member is back"));
        }
        let (jobs, done) = list_keys(i);
        let got = fresh_proxy.call(&["LRANGE", &jobs, "0", "-1"]);
        if got != "*2\r\n$2\r\nj3\r\n$2\r\nJ4\r\n" {
            stale.push(format!("proxy {jobs}: {got:?}"));
        }
        if bystander.lrange(&jobs, 0, -1).await.unwrap() != ["j3", "J4"] {
            stale.push(format!("library {jobs}"));
        }
        if bystander.lrange(&done, 0, -1).await.unwrap() != ["j2"] {
            stale.push(format!("library {done}"));
        }
    }
    // A pipeline of reads through the library that wrote during the failure.
    let names: Vec<String> = (0..KEYS).map(key).collect();
    let commands: Vec<[&[u8]; 3]> = names
        .iter()
        .map(|k| [&b"HGET"[..], k.as_bytes(), b"a"])
        .collect();
    let routed: Vec<Routed<'_, &[u8]>> = names
        .iter()
        .zip(&commands)
        .map(|(k, args)| Routed::new(k.as_bytes(), args, Access::Read))
        .collect();
    for (i, result) in writer.pipeline(&routed).await.into_iter().enumerate() {
        let want = Reply::Bulk(format!("new{i}").into());
        if result.as_ref().ok() != Some(&want) {
            stale.push(format!("pipeline {}: {result:?}", key(i)));
        }
    }
    assert!(
        stale.is_empty(),
        "{fault:?}: {} stale reads: {stale:#?}",
        stale.len()
    );

    // One more mutation from the bystander, replayed on replicas that were behind.
    for i in 0..KEYS {
        assert_eq!(bystander.hincr_by(key(i), "n", 1).await.unwrap(), 6);
    }
    // Every key's replicas hold the same value at the same version.
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let mut differing = Vec::new();
        for k in (0..KEYS).flat_map(|i| {
            let (board, top) = zset_keys(i);
            let (jobs, done) = list_keys(i);
            [key(i), set_key(i), board, top, jobs, done]
        }) {
            let states: Vec<String> = bystander
                .replica_set(k.as_bytes())
                .into_iter()
                .map(|index| cluster.raw(index).call(&["VGET", &k]))
                .collect();
            let written = states[0].contains("new") || !k.starts_with("hash:");
            if states.windows(2).any(|pair| pair[0] != pair[1]) || !written {
                differing.push(format!("{k}: {states:?}"));
            }
        }
        if differing.is_empty() {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "{fault:?}: replicas differ: {differing:#?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn collections_survive_a_killed_node() {
    scenario(Fault::Kill).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn collections_survive_a_frozen_node() {
    scenario(Fault::Freeze).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn collections_survive_a_node_cut_off() {
    scenario(Fault::Cut).await;
}
