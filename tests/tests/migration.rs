//! Ring changes over real node processes, R = 2: two of three nodes replaced at once, so many
//! keys have no replica in common between the old ring and the new. Within the migration
//! window every entry point still reads every key (copied from its former replicas), INCR
//! continues from the value, writes delete the copies left behind, and changing the ring back
//! brings no old value back. With the window off the same change loses keys: the test can fail.

use std::time::Duration;

use cachering_client::{Access, Client, ClientBuilder, NodeSpec, Reply, Routed};
use cachering_tests::{NodeProcess, ProxyProcess};

const KEYS: usize = 300;

fn client(addrs: &[String], window: Duration) -> Client {
    ClientBuilder::new()
        .nodes(addrs.iter().cloned())
        .with_replicas(2)
        .with_migration_window(window)
        .build()
        .unwrap()
}

fn specs(addrs: &[&String]) -> Vec<NodeSpec> {
    addrs.iter().map(|a| NodeSpec::new(a.as_str())).collect()
}

/// Keys whose two replicas on `after` are both new (neither held them on `before`).
fn fully_moved(before: &Client, after_specs: &[NodeSpec], keys: &[String]) -> Vec<String> {
    let old = before.ring();
    let names: Vec<(&str, f64)> = after_specs.iter().map(|s| (s.name.as_str(), 1.0)).collect();
    let new = cachering_client::ring::Ring::new(&names);
    keys.iter()
        .filter(|key| {
            let was: Vec<&String> = old
                .replicas(key.as_bytes(), 2)
                .into_iter()
                .map(|i| &old.names()[i])
                .collect();
            new.replicas(key.as_bytes(), 2)
                .into_iter()
                .all(|i| !was.contains(&&new.names()[i]))
        })
        .cloned()
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replacing_two_of_three_nodes_loses_no_key_on_any_entry_point() {
    let nodes: Vec<NodeProcess> = (0..5).map(|_| NodeProcess::start(&[])).collect();
    let addrs: Vec<String> = nodes.iter().map(|n| n.addr.to_string()).collect();
    let client = client(&addrs[..3], Duration::from_secs(60));
    let keys: Vec<String> = (0..KEYS).map(|i| format!("key:{i}")).collect();
    for (i, key) in keys.iter().enumerate() {
        client.set(key, format!("v{i}")).await.unwrap();
    }
    for i in 0..50 {
        client.incr_by(format!("counter:{i}"), 10).await.unwrap();
    }
    let after = specs(&[&addrs[0], &addrs[3], &addrs[4]]);
    let moved = fully_moved(&client, &after, &keys);
    assert!(
        moved.len() > KEYS / 10,
        "the change moves many keys off both replicas ({} of {KEYS})",
        moved.len()
    );
    client.set_nodes(after).unwrap();
    assert!(client.migration_remaining().is_some());

    // Every entry point, each over its own share of the keys.
    let value = |i: usize| format!("v{i}");
    for (i, key) in keys.iter().enumerate().take(75) {
        let got = client.get(key).await.unwrap();
        assert_eq!(got.as_deref(), Some(value(i).as_bytes()), "get {key}");
    }
    for (i, key) in keys.iter().enumerate().take(150).skip(75) {
        let args: [&[u8]; 2] = [b"STRLEN", key.as_bytes()];
        let got = client
            .command(key.as_bytes(), &args, Access::Read)
            .await
            .unwrap();
        assert_eq!(got, Reply::Int(value(i).len() as i64), "STRLEN {key}");
    }
    let got = client.mget(&keys[150..225]).await.unwrap();
    for (offset, got) in got.into_iter().enumerate() {
        let i = 150 + offset;
        assert_eq!(
            got.as_deref(),
            Some(value(i).as_bytes()),
            "mget {}",
            keys[i]
        );
    }
    let args: Vec<[&[u8]; 2]> = keys[225..]
        .iter()
        .map(|k| [&b"GET"[..], k.as_bytes()])
        .collect();
    let routed: Vec<Routed<'_, &[u8]>> = keys[225..]
        .iter()
        .zip(&args)
        .map(|(k, a)| Routed::new(k.as_bytes(), a, Access::Read))
        .collect();
    for (offset, got) in client.pipeline(&routed).await.into_iter().enumerate() {
        let i = 225 + offset;
        assert_eq!(
            got.unwrap(),
            Reply::Bulk(value(i).into()),
            "pipeline {}",
            keys[i]
        );
    }
    for i in 0..50 {
        assert_eq!(
            client.incr(format!("counter:{i}")).await.unwrap(),
            11,
            "INCR continues from the value"
        );
    }

    // Writes after the change delete the copies left on former replicas; changing the ring
    // back brings none of the old values back.
    for key in &moved {
        client.set(key, "new").await.unwrap();
    }
    let mut old_node = nodes[1].client();
    let mut other_old = nodes[2].client();
    for key in &moved {
        for raw in [&mut old_node, &mut other_old] {
            let held = raw.call(&["GET", key]);
            assert!(
                held == "$-1\r\n" || held == "$3\r\nnew\r\n",
                "{key}: a former replica still holds {held:?}"
            );
        }
    }
    client
        .set_nodes(specs(&[&addrs[0], &addrs[1], &addrs[2]]))
        .unwrap();
    for key in &moved {
        let got = client.get(key).await.unwrap();
        assert_eq!(
            got.as_deref(),
            Some(&b"new"[..]),
            "{key} after the ring came back"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_the_window_the_same_change_loses_keys() {
    let nodes: Vec<NodeProcess> = (0..5).map(|_| NodeProcess::start(&[])).collect();
    let addrs: Vec<String> = nodes.iter().map(|n| n.addr.to_string()).collect();
    let client = client(&addrs[..3], Duration::ZERO);
    let keys: Vec<String> = (0..KEYS).map(|i| format!("key:{i}")).collect();
    for key in &keys {
        client.set(key, "v").await.unwrap();
    }
    let after = specs(&[&addrs[0], &addrs[3], &addrs[4]]);
    let moved = fully_moved(&client, &after, &keys);
    client.set_nodes(after).unwrap();
    assert!(client.migration_remaining().is_none());
    let values = client.mget(&moved).await.unwrap();
    let lost = values.iter().filter(|v| v.is_none()).count();
    assert_eq!(lost, moved.len(), "every key off both replicas is a miss");
}

/// Keys read through a proxy with a plain RESP client, in one pipeline: how many are missing.
fn missing_through(proxy: &ProxyProcess, keys: &[String]) -> usize {
    let gets: Vec<Vec<String>> = keys.iter().map(|k| vec!["GET".into(), k.clone()]).collect();
    proxy
        .client()
        .pipeline(&gets)
        .iter()
        .filter(|reply| reply.as_str() == "$-1\r\n")
        .count()
}

#[test]
fn the_proxy_reloads_its_node_list_on_sighup_and_migrates_keys() {
    let nodes: Vec<NodeProcess> = (0..5).map(|_| NodeProcess::start(&[])).collect();
    let addrs: Vec<String> = nodes.iter().map(|n| n.addr.to_string()).collect();
    let dir = std::env::temp_dir().join(format!("cachering-reload-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("proxy.toml");
    let write_nodes = |list: &[&String]| {
        let quoted: Vec<String> = list.iter().map(|a| format!("\"{a}\"")).collect();
        std::fs::write(
            &file,
            format!("nodes = [{}]\nreplicas = 2\n", quoted.join(", ")),
        )
        .unwrap();
    };
    write_nodes(&[&addrs[0], &addrs[1], &addrs[2]]);
    let proxy = ProxyProcess::with_flags(Vec::new(), &["--config", file.to_str().unwrap()]);
    let keys: Vec<String> = (0..KEYS).map(|i| format!("key:{i}")).collect();
    let sets: Vec<Vec<String>> = keys
        .iter()
        .map(|k| vec!["SET".into(), k.clone(), "v".into()])
        .collect();
    assert!(proxy
        .client()
        .pipeline(&sets)
        .iter()
        .all(|r| r == "+OK\r\n"));

    write_nodes(&[&addrs[0], &addrs[3], &addrs[4]]);
    let status = std::process::Command::new("kill")
        .args(["-HUP", &proxy.child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        let info = proxy.client().call(&["INFO"]);
        if info.contains(&format!("addr={},", addrs[4])) {
            assert!(!info.contains("migration_remaining_ms:0\r\n"), "{info}");
            break;
        }
        assert!(std::time::Instant::now() < deadline, "no reload: {info}");
        std::thread::sleep(Duration::from_millis(20));
    }
    assert_eq!(
        missing_through(&proxy, &keys),
        0,
        "keys read after the reload"
    );
    let status = std::process::Command::new(cachering_tests::binary())
        .args(["status", "--proxy", &proxy.addr.to_string()])
        .output()
        .unwrap();
    let shown = String::from_utf8_lossy(&status.stdout);
    assert!(
        shown.contains("ring: 3 nodes; migration in progress"),
        "{shown}"
    );
    // A broken file leaves the ring as it is.
    std::fs::write(&file, "nodes = [").unwrap();
    std::process::Command::new("kill")
        .args(["-HUP", &proxy.child.id().to_string()])
        .status()
        .unwrap();
    std::thread::sleep(Duration::from_millis(200));
    let info = proxy.client().call(&["INFO"]);
    assert!(info.contains(&format!("addr={},", addrs[4])), "{info}");
    assert_eq!(missing_through(&proxy, &keys), 0);
    let _ = std::fs::remove_dir_all(&dir);
}

/// Restarts node `index` on its port, empty.
fn restart(nodes: &mut [NodeProcess], index: usize) {
    let port = nodes[index].addr.port();
    nodes[index].signal("KILL");
    nodes[index].wait_exit(Duration::from_secs(5));
    nodes[index] = NodeProcess::start_on(port, &[]);
}

/// Waits until node `index` holds `expected` keys, poking it through `poke` (a request that
/// makes the process reconnect and meet the node's new run id) meanwhile.
async fn wait_refilled(
    nodes: &[NodeProcess],
    index: usize,
    expected: usize,
    mut poke: impl FnMut(),
) {
    let want = format!(":{expected}\r\n");
    for _ in 0..400 {
        poke();
        if nodes[index].client().call(&["DBSIZE"]) == want {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!(
        "node {index} was never refilled: {} of {expected} keys",
        nodes[index].client().call(&["DBSIZE"]).trim()
    );
}

/// A rolling restart with nobody reading: node 0 restarts empty and only the library meets
/// it, then node 2 restarts and only the proxy meets it, then node 1 dies for good. Keys whose
/// replicas were nodes 0 and 1 (or 1 and 2) survive only if the restarted node got its copies
/// back, which no read gave it: each process's background refill does. Without it those keys
/// are lost, so the test can fail.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_that_restarts_empty_is_refilled_before_its_partner_goes() {
    let mut nodes: Vec<NodeProcess> = (0..3).map(|_| NodeProcess::start(&[])).collect();
    let addrs: Vec<String> = nodes.iter().map(|n| n.addr.to_string()).collect();
    let client = client(&addrs, Duration::from_secs(60));
    let keys: Vec<String> = (0..2 * KEYS).map(|i| format!("key:{i}")).collect();
    client
        .mset(keys.iter().map(|k| (k.as_str(), "v")))
        .await
        .unwrap();
    let held_by = |index: usize| {
        keys.iter()
            .filter(|k| client.replica_set(k.as_bytes()).contains(&index))
            .count()
    };
    let (on_0, on_2) = (held_by(0), held_by(2));

    // Node 0 restarts; the library meets it (a PING, no key read) and refills it.
    restart(&mut nodes, 0);
    let poke = || {
        let client = client.clone();
        tokio::spawn(async move {
            let _ = client.on_node(0, &[b"PING"]).await;
        });
    };
    wait_refilled(&nodes, 0, on_0, poke).await;

    // The proxy starts over the same nodes; node 2 restarts and only the proxy meets it.
    let proxy = ProxyProcess::over(Vec::new(), &addrs, &["--replicas", "2"]);
    assert_eq!(
        proxy.client().call(&["DBSIZE"]),
        format!(":{}\r\n", keys.len()),
        "the proxy has met every node"
    );
    restart(&mut nodes, 2);
    let proxy_addr = proxy.addr;
    wait_refilled(&nodes, 2, on_2, move || {
        let _ = cachering_tests::Client::connect(proxy_addr).call(&["DBSIZE"]);
    })
    .await;
    assert!(
        proxy.node_line(2).contains("refilling="),
        "{}",
        proxy.node_line(2)
    );

    // Node 1 goes for good: every key is still read, by every entry point.
    nodes[1].signal("KILL");
    let values = client.mget(&keys).await.unwrap();
    let lost: Vec<&String> = keys
        .iter()
        .zip(&values)
        .filter(|(_, v)| v.is_none())
        .map(|(k, _)| k)
        .collect();
    assert!(
        lost.is_empty(),
        "{} keys lost through the library: {lost:?}",
        lost.len()
    );
    for key in keys.iter().step_by(7) {
        assert_eq!(
            client.get(key).await.unwrap().as_deref(),
            Some(&b"v"[..]),
            "{key}"
        );
    }
    assert_eq!(
        missing_through(&proxy, &keys),
        0,
        "keys lost through the proxy"
    );
}

/// RENAME, RENAMENX and COPY on the ring: keys that share their replicas (a hash tag) change
/// together on every replica, through the library and the proxy; keys that do not are refused
/// with a clear error and nothing changes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn renames_and_copies_keep_replicas_identical() {
    let nodes: Vec<NodeProcess> = (0..3).map(|_| NodeProcess::start(&[])).collect();
    let addrs: Vec<String> = nodes.iter().map(|n| n.addr.to_string()).collect();
    let client = client(&addrs, Duration::from_secs(60));
    let proxy = ProxyProcess::over(Vec::new(), &addrs, &["--replicas", "2"]);
    // Every replica's state of `key`: its VGET on each node of its replica set.
    let states = |key: &str| -> Vec<String> {
        client
            .replica_set(key.as_bytes())
            .into_iter()
            .map(|i| nodes[i].client().call(&["VGET", key]))
            .collect()
    };
    let identical = |key: &str| {
        let seen = states(key);
        assert!(seen.windows(2).all(|w| w[0] == w[1]), "{key}: {seen:?}");
        seen[0].clone()
    };

    client.set("{u}a", "1").await.unwrap();
    let rename: [&[u8]; 3] = [b"RENAME", b"{u}a", b"{u}b"];
    assert_eq!(
        client.call(&rename).await.unwrap(),
        Reply::Status("OK".into())
    );
    assert!(
        identical("{u}a").starts_with("*2\r\n$-1\r\n:-"),
        "a delete on every replica"
    );
    assert!(identical("{u}b").starts_with("*2\r\n$1\r\n1\r\n"));
    let copy: [&[u8]; 3] = [b"COPY", b"{u}b", b"{u}c"];
    assert_eq!(client.call(&copy).await.unwrap(), Reply::Int(1));
    identical("{u}c");
    assert_eq!(
        client.get("{u}c").await.unwrap().as_deref(),
        Some(&b"1"[..])
    );

    let mut raw = proxy.client();
    assert_eq!(raw.call(&["RENAMENX", "{u}c", "{u}d"]), ":1\r\n");
    assert_eq!(raw.call(&["RENAMENX", "{u}b", "{u}d"]), ":0\r\n");
    assert_eq!(raw.call(&["COPY", "{u}d", "{u}b", "REPLACE"]), ":1\r\n");
    assert_eq!(
        raw.call(&["RENAME", "{u}nosuch", "{u}e"]),
        "-ERR no such key\r\n"
    );
    for key in ["{u}b", "{u}c", "{u}d"] {
        identical(key);
    }
    assert_eq!(
        client.get("{u}d").await.unwrap().as_deref(),
        Some(&b"1"[..])
    );
    assert_eq!(client.get("{u}c").await.unwrap(), None);
    // LCS reads both keys from one replica.
    client.set("{u}x", "ohmytext").await.unwrap();
    client.set("{u}y", "mynewtext").await.unwrap();
    let lcs: [&[u8]; 3] = [b"LCS", b"{u}x", b"{u}y"];
    assert_eq!(
        client.call(&lcs).await.unwrap(),
        Reply::Bulk("mytext".into())
    );
    assert_eq!(raw.call(&["LCS", "{u}x", "{u}y", "LEN"]), ":6\r\n");
    let elsewhere = (0..100)
        .map(|i| format!("other{i}"))
        .find(|k| client.replica_set(k.as_bytes()) != client.replica_set(b"{u}x"))
        .unwrap();
    let reply = raw.call(&["LCS", "{u}x", &elsewhere]);
    assert!(
        reply.starts_with("-ERR LCS keys map to different nodes"),
        "{reply}"
    );

    // Two names on different replica sets: refused, nothing moves.
    let names: Vec<String> = (0..100).map(|i| format!("plain{i}")).collect();
    let apart = names
        .iter()
        .find(|k| client.replica_set(k.as_bytes()) != client.replica_set(b"plain0"))
        .unwrap();
    client.set("plain0", "p").await.unwrap();
    let error = client
        .call(&[&b"RENAME"[..], b"plain0", apart.as_bytes()])
        .await
        .unwrap_err();
    assert!(
        error
            .to_string()
            .contains("RENAME keys map to different nodes"),
        "{error}"
    );
    let reply = raw.call(&["COPY", "plain0", apart]);
    assert!(
        reply.starts_with("-ERR COPY keys map to different nodes"),
        "{reply}"
    );
    assert_eq!(
        client.get("plain0").await.unwrap().as_deref(),
        Some(&b"p"[..])
    );
    assert_eq!(client.get(apart).await.unwrap(), None);
}
