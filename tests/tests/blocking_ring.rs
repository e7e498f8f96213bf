//! The blocking list commands through the ring: through the proxy (RESP2 and RESP3) and the
//! library (typed, `call`, `pipeline`), with producers and consumers in different processes.
//! A waiter wakes on a push, on its timeout, on CLIENT UNBLOCK; one that goes away takes
//! nothing; each element reaches one consumer; replicas hold the same list afterwards. Then
//! the replica a waiter waits on is killed, frozen or cut off: the waiter still receives what
//! another process pushes, exactly once, and the replicas agree once the node is back.

use std::time::{Duration, Instant};

use cachering_client::{Access, ErrorKind, ListEnd, Reply, Routed};
use cachering_tests::cluster::{Cluster, Fault};
use cachering_tests::{array, bulk, fast_failover_with, Client, NodeProcess, ProxyProcess};

/// Blocked clients on every node (a ring wait is a VWAIT there).
fn blocked_on_nodes(nodes: &[NodeProcess]) -> u64 {
    nodes.iter().map(|n| n.client().blocked_clients()).sum()
}

/// Waits until the nodes hold `want` waits in all.
fn until_waiting(nodes: &[NodeProcess], want: u64) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while blocked_on_nodes(nodes) != want {
        assert!(
            Instant::now() < deadline,
            "the nodes never held {want} waits"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// `LRANGE key 0 -1` on every node, sorted: the key's replicas and the others.
fn on_each_node(nodes: &[NodeProcess], key: &str) -> Vec<String> {
    let mut lists: Vec<String> = nodes
        .iter()
        .map(|n| n.client().call(&["LRANGE", key, "0", "-1"]))
        .collect();
    lists.sort();
    lists
}

fn open(proxy: &ProxyProcess, resp3: bool) -> Client {
    let mut client = proxy.client();
    if resp3 {
        client.set_resp3(true);
        assert!(client.call(&["HELLO", "3"]).starts_with('%'));
    }
    client
}

#[test]
fn through_the_proxy_a_waiter_wakes_on_a_push_and_on_its_timeout() {
    let proxy = ProxyProcess::start(&[], &[]);
    for resp3 in [false, true] {
        let null_array = if resp3 { "_\r\n" } else { "*-1\r\n" };
        let null = if resp3 { "_\r\n" } else { "$-1\r\n" };
        let tag = if resp3 { "{r3}" } else { "{r2}" };
        let key = |name: &str| format!("{tag}{name}");
        let (none, jobs) = (key("none"), key("jobs"));
        let mut waiter = open(&proxy, resp3);
        let mut producer = open(&proxy, resp3);
        // Pipelined after the blocking command, PING waits for it, as on a node.
        waiter.send(&["BLPOP", &none, &jobs, "0"]);
        waiter.send(&["PING"]);
        producer.until_blocked(1);
        until_waiting(&proxy.nodes, 1);
        assert_eq!(producer.call(&["RPUSH", &jobs, "j1", "j2"]), ":2\r\n");
        assert_eq!(waiter.read_reply().unwrap(), array(&[&jobs, "j1"]));
        assert_eq!(waiter.read_reply().unwrap(), "+PONG\r\n");
        assert_eq!(producer.blocked_clients(), 0);
        // The pop reached both replicas; the third node never held the key.
        assert_eq!(
            on_each_node(&proxy.nodes, &jobs),
            [array(&[]), array(&["j2"]), array(&["j2"])]
        );
        assert_eq!(producer.call(&["LPOP", &jobs]), bulk("j2"));

        // BLMOVE and BLMPOP wake the same way.
        let (src, dst) = (key("src"), key("dst"));
        waiter.send(&["BLMOVE", &src, &dst, "LEFT", "RIGHT", "0"]);
        producer.until_blocked(1);
        assert_eq!(producer.call(&["LPUSH", &src, "m"]), ":1\r\n");
        assert_eq!(waiter.read_reply().unwrap(), bulk("m"));
        assert_eq!(producer.call(&["LRANGE", &dst, "0", "-1"]), array(&["m"]));
        let (a, b) = (key("a"), key("b"));
        waiter.send(&["BLMPOP", "0", "2", &a, &b, "RIGHT", "COUNT", "5"]);
        producer.until_blocked(1);
        producer.call(&["RPUSH", &b, "1", "2"]);
        assert_eq!(
            waiter.read_reply().unwrap(),
            format!("*2\r\n{}{}", bulk(&b), array(&["2", "1"]))
        );

        // Timeouts, and inside MULTI no wait at all.
        assert_eq!(waiter.call(&["BLPOP", &none, "0.05"]), null_array);
        assert_eq!(
            waiter.call(&["BRPOPLPUSH", &none, &dst, "0.05"]),
            null_array
        );
        assert_eq!(
            waiter.call(&["BLMPOP", "0.05", "1", &none, "LEFT"]),
            null_array
        );
        assert_eq!(waiter.call(&["MULTI"]), "+OK\r\n");
        assert_eq!(waiter.call(&["BLPOP", &none, "0"]), "+QUEUED\r\n");
        assert_eq!(
            waiter.call(&["BLMOVE", &none, &dst, "LEFT", "LEFT", "0"]),
            "+QUEUED\r\n"
        );
        assert_eq!(waiter.call(&["EXEC"]), format!("*2\r\n{null_array}{null}"));

        // Errors as a node gives them.
        assert_eq!(
            waiter.call(&["BLPOP", &none, "-1"]),
            "-ERR timeout is negative\r\n"
        );
        assert_eq!(
            waiter.call(&["BLPOP", &none, "soon"]),
            "-ERR timeout is not a float or out of range\r\n"
        );
        producer.call(&["SET", &key("text"), "v"]);
        assert!(waiter
            .call(&["BLPOP", &key("text"), "0"])
            .starts_with("-WRONGTYPE"));
        assert_eq!(producer.blocked_clients(), 0);
    }
}

#[test]
fn through_the_proxy_client_unblock_and_a_departed_waiter_take_nothing() {
    let proxy = ProxyProcess::start(&[], &[]);
    let mut waiter = proxy.client();
    let mut admin = proxy.client();
    let id = waiter.call(&["CLIENT", "ID"]);
    let id = id.trim_start_matches(':').trim().to_string();
    waiter.send(&["BRPOP", "q", "0"]);
    admin.until_blocked(1);
    assert_eq!(admin.call(&["CLIENT", "UNBLOCK", &id, "TIMEOUT"]), ":1\r\n");
    assert_eq!(waiter.read_reply().unwrap(), "*-1\r\n");
    waiter.send(&["BRPOP", "q", "0"]);
    admin.until_blocked(1);
    assert_eq!(admin.call(&["CLIENT", "UNBLOCK", &id, "ERROR"]), ":1\r\n");
    assert_eq!(
        waiter.read_reply().unwrap(),
        "-UNBLOCKED client unblocked via CLIENT UNBLOCK\r\n"
    );
    // The unblocked waits ended on the nodes too.
    until_waiting(&proxy.nodes, 0);
    // A waiter that disconnects: its wait ends everywhere, and a push stays in the list.
    waiter.send(&["BLPOP", "q", "0"]);
    admin.until_blocked(1);
    until_waiting(&proxy.nodes, 1);
    drop(waiter);
    admin.until_blocked(0);
    until_waiting(&proxy.nodes, 0);
    assert_eq!(admin.call(&["RPUSH", "q", "kept"]), ":1\r\n");
    assert_eq!(admin.call(&["LRANGE", "q", "0", "-1"]), array(&["kept"]));
    assert_eq!(
        on_each_node(&proxy.nodes, "q"),
        [array(&[]), array(&["kept"]), array(&["kept"])]
    );
    // CLIENT KILL ends a blocked proxy client.
    let mut waiter = proxy.client();
    let id = waiter.call(&["CLIENT", "ID"]);
    let id = id.trim_start_matches(':').trim().to_string();
    waiter.send(&["BLPOP", "other", "0"]);
    admin.until_blocked(1);
    assert_eq!(admin.call(&["CLIENT", "KILL", "ID", &id]), ":1\r\n");
    assert!(waiter.is_closed());
    until_waiting(&proxy.nodes, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_library_waits_through_every_entry_point() {
    let proxy = ProxyProcess::start(&[], &[]);
    let addrs: Vec<String> = proxy.nodes.iter().map(|n| n.addr.to_string()).collect();
    let library = cachering_client::ClientBuilder::new()
        .nodes(addrs.iter().cloned())
        .with_replicas(2)
        .build()
        .unwrap();
    // The producer is another process: the proxy.
    let producer = proxy.addr;
    let push = move |key: &'static str, element: &'static str| {
        let mut client = Client::connect(producer);
        assert_eq!(client.call(&["RPUSH", key, element]), ":1\r\n");
    };
    let nodes = &proxy.nodes;

    // Typed.
    let waiting = tokio::spawn({
        let library = library.clone();
        async move {
            library
                .blpop(["typed"], Some(Duration::from_secs(20)))
                .await
        }
    });
    tokio::task::block_in_place(|| until_waiting(nodes, 1));
    push("typed", "t1");
    let (key, element) = waiting.await.unwrap().unwrap().unwrap();
    assert_eq!((&key[..], &element[..]), (&b"typed"[..], &b"t1"[..]));
    // A timeout with nothing pushed.
    let started = Instant::now();
    assert_eq!(
        library
            .brpop(["typed"], Some(Duration::from_millis(100)))
            .await
            .unwrap(),
        None
    );
    assert!(started.elapsed() >= Duration::from_millis(100));

    // By `call`.
    let waiting = tokio::spawn({
        let library = library.clone();
        async move { library.call(&["BRPOP", "called", "20"]).await }
    });
    tokio::task::block_in_place(|| until_waiting(nodes, 1));
    push("called", "c1");
    assert_eq!(
        waiting.await.unwrap().unwrap(),
        Reply::Array(vec![Reply::Bulk("called".into()), Reply::Bulk("c1".into())])
    );

    // In a pipeline, beside a write.
    let waiting = tokio::spawn({
        let library = library.clone();
        async move {
            let blpop = ["BLPOP", "piped", "20"];
            let set = ["SET", "beside", "1"];
            library
                .pipeline(&[
                    Routed::new(b"piped", &blpop, Access::Mutation),
                    Routed::new(b"beside", &set, Access::Write),
                ])
                .await
        }
    });
    tokio::task::block_in_place(|| until_waiting(nodes, 1));
    push("piped", "p1");
    let results = waiting.await.unwrap();
    assert_eq!(
        results[0].as_ref().unwrap(),
        &Reply::Array(vec![Reply::Bulk("piped".into()), Reply::Bulk("p1".into())])
    );
    assert!(results[1].is_ok());

    // BLMOVE, typed, over a hash tag.
    let waiting = tokio::spawn({
        let library = library.clone();
        async move {
            library
                .blmove("{m}src", "{m}dst", ListEnd::Right, ListEnd::Left, None)
                .await
        }
    });
    tokio::task::block_in_place(|| until_waiting(nodes, 1));
    push("{m}src", "moved");
    assert_eq!(
        waiting.await.unwrap().unwrap().as_deref(),
        Some(&b"moved"[..])
    );
    assert_eq!(library.lrange("{m}dst", 0, -1).await.unwrap(), ["moved"]);
    assert_eq!(library.llen("{m}src").await.unwrap(), 0);

    // Keys on different replicas cannot be waited on together.
    let other = (0..100)
        .map(|i| format!("k{i}"))
        .find(|k| library.replica_set(k.as_bytes()) != library.replica_set(b"typed"))
        .unwrap();
    let error = library
        .blpop(["typed", other.as_str()], Some(Duration::from_millis(10)))
        .await
        .unwrap_err();
    assert_eq!(error.kind(), ErrorKind::Command);
    assert!(
        error.to_string().contains("map to different nodes"),
        "{error}"
    );
    assert_eq!(blocked_on_nodes(nodes), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_element_reaches_one_consumer() {
    let proxy = ProxyProcess::start(&[], &[]);
    let addrs: Vec<String> = proxy.nodes.iter().map(|n| n.addr.to_string()).collect();
    let build = || {
        cachering_client::ClientBuilder::new()
            .nodes(addrs.iter().cloned())
            .with_replicas(2)
            .build()
            .unwrap()
    };
    const ELEMENTS: usize = 60;
    // Two library consumers (each its own client, as two processes) and two through the
    // proxy; each takes until a wait of 2 s brings nothing.
    let mut consumers = Vec::new();
    for _ in 0..2 {
        let library = build();
        consumers.push(tokio::spawn(async move {
            let mut got = Vec::new();
            while let Some((_, element)) = library
                .blpop(["work"], Some(Duration::from_secs(2)))
                .await
                .unwrap()
            {
                got.push(String::from_utf8(element.to_vec()).unwrap());
            }
            got
        }));
    }
    let addr = proxy.addr;
    for _ in 0..2 {
        consumers.push(tokio::task::spawn_blocking(move || {
            let mut client = Client::connect(addr);
            let mut got = Vec::new();
            loop {
                let reply = client.call(&["BLPOP", "work", "2"]);
                if reply == "*-1\r\n" {
                    return got;
                }
                let element = reply.rsplit("\r\n").nth(1).unwrap().to_string();
                got.push(element);
            }
        }));
    }
    tokio::task::block_in_place(|| until_waiting(&proxy.nodes, 4));
    let producer = build();
    for chunk in 0..ELEMENTS / 3 {
        let elements: Vec<String> = (0..3).map(|i| format!("e{}", chunk * 3 + i)).collect();
        producer.rpush("work", &elements).await.unwrap();
    }
    let mut all = Vec::new();
    let mut per_consumer = Vec::new();
    for consumer in consumers {
        let got = consumer.await.unwrap();
        per_consumer.push(got.len());
        all.extend(got);
    }
    all.sort();
    let mut want: Vec<String> = (0..ELEMENTS).map(|i| format!("e{i}")).collect();
    want.sort();
    assert_eq!(all, want, "per consumer: {per_consumer:?}");
    assert_eq!(
        on_each_node(&proxy.nodes, "work"),
        [array(&[]), array(&[]), array(&[])]
    );
}

/// Four waits on keys whose first replica is node 0 (two typed, one by `call`, one through
/// a proxy process); node 0 fails; a second proxy process pushes one element to each key.
async fn scenario(fault: Fault) {
    let mut cluster = Cluster::start(fault);
    let addrs = cluster.addrs.clone();
    let consumer = cachering_tests::fast_failover_library(&addrs);
    let consumer_proxy = ProxyProcess::over(Vec::new(), &addrs, &fast_failover_with(&[]));
    let producer = ProxyProcess::over(Vec::new(), &addrs, &fast_failover_with(&[]));
    let keys: Vec<String> = (0..)
        .map(|i| format!("{{w{i}}}q"))
        .filter(|k| consumer.replica_set(k.as_bytes())[0] == 0)
        .take(4)
        .collect();
    let wait = Some(Duration::from_secs(30));
    let mut waits = Vec::new();
    for key in &keys[..2] {
        let (consumer, key) = (consumer.clone(), key.clone());
        waits.push(tokio::spawn(async move {
            consumer
                .blpop([key.as_str()], wait)
                .await
                .map(|got| got.map(|(_, e)| String::from_utf8(e.to_vec()).unwrap()))
        }));
    }
    {
        let (consumer, key) = (consumer.clone(), keys[2].clone());
        waits.push(tokio::spawn(async move {
            consumer
                .call(&["BRPOP", key.as_str(), "30"])
                .await
                .map(|got| match got {
                    Reply::Array(items) => match &items[1] {
                        Reply::Bulk(e) => Some(String::from_utf8(e.to_vec()).unwrap()),
                        _ => None,
                    },
                    _ => None,
                })
        }));
    }
    let through = consumer_proxy.addr;
    let proxied_key = keys[3].clone();
    let proxied = tokio::task::spawn_blocking(move || {
        Client::connect(through).call(&["BLPOP", &proxied_key, "30"])
    });
    tokio::task::block_in_place(|| cluster.raw(0).until_blocked(4));

    cluster.begin(fault);
    let pushed_at = Instant::now();
    tokio::task::block_in_place(|| {
        let mut client = producer.client();
        for key in &keys {
            assert_eq!(
                client.call(&["RPUSH", key, &format!("e-{key}")]),
                ":1\r\n",
                "{fault:?}"
            );
        }
    });
    for (key, waited) in keys.iter().zip(waits) {
        let got = waited.await.unwrap();
        assert_eq!(got.unwrap(), Some(format!("e-{key}")), "{fault:?}: {key}");
    }
    let reply = proxied.await.unwrap();
    assert_eq!(
        reply,
        array(&[&keys[3], &format!("e-{}", keys[3])]),
        "{fault:?}"
    );
    let waited = pushed_at.elapsed();

    cluster.end(fault);
    producer.wait_repaired(0);
    // After the heal no replica holds an element (each key is deleted everywhere: the tombstones
    // may carry different versions, since repair invalidates at the version a node missed);
    // and a new wait on node 0's keys is served again.
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let mut differing = Vec::new();
        for key in &keys {
            let states: Vec<String> = consumer
                .replica_set(key.as_bytes())
                .into_iter()
                .map(|index| cluster.raw(index).call(&["VGET", key]))
                .collect();
            if states
                .iter()
                .any(|state| !state.starts_with("*2\r\n$-1\r\n:-"))
            {
                differing.push(format!("{key}: {states:?}"));
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
    let fresh = ProxyProcess::over(Vec::new(), &addrs, &[]);
    for key in &keys {
        assert_eq!(fresh.client().call(&["LLEN", key]), ":0\r\n", "{fault:?}");
    }
    let again = tokio::spawn({
        let (consumer, key) = (consumer.clone(), keys[0].clone());
        async move { consumer.blpop([key.as_str()], wait).await }
    });
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(
        producer.client().call(&["RPUSH", &keys[0], "after"]),
        ":1\r\n"
    );
    let (_, element) = again.await.unwrap().unwrap().unwrap();
    assert_eq!(&element[..], b"after");
    eprintln!("{fault:?}: the waiters received their elements {waited:?} after the pushes began");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn waiters_survive_a_killed_node() {
    scenario(Fault::Kill).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn waiters_survive_a_frozen_node() {
    scenario(Fault::Freeze).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn waiters_survive_a_node_cut_off() {
    scenario(Fault::Cut).await;
}
