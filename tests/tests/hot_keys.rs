//! Hot keys: the client's detector finds a key taking half of a process's requests; with
//! spreading, its reads go to each of its replicas in turn, so the busiest node takes about
//! an even share of the requests instead of the hot key's whole half. Through the library and
//! through a proxy (whose INFO and `cachering status` show the hot key); and with the near
//! cache limited to hot keys, only the hot key is served from it.

use cachering_client::{ClientBuilder, ReadConsistency};
use cachering_tests::{NodeProcess, ProxyProcess};

/// Requests sent before the counted ones, so the detector has published the hot key.
const WARM: usize = 6000;
/// Requests counted.
const COUNTED: usize = 6000;

fn processed(nodes: &[NodeProcess]) -> Vec<u64> {
    nodes.iter().map(NodeProcess::commands_processed).collect()
}

/// The busiest node's share of the requests `run` sends.
fn busiest_share(nodes: &[NodeProcess], run: impl FnOnce()) -> f64 {
    let before = processed(nodes);
    run();
    let after = processed(nodes);
    let deltas: Vec<u64> = after.iter().zip(&before).map(|(a, b)| a - b).collect();
    let total: u64 = deltas.iter().sum();
    *deltas.iter().max().unwrap() as f64 / total as f64
}

/// The `i`-th key of the workload: every other request asks for `hot`.
fn key_of(i: usize) -> String {
    if i.is_multiple_of(2) {
        "hot".to_string()
    } else {
        format!("cold:{}", (i / 2) * 7919 % 500)
    }
}

fn cluster() -> (Vec<NodeProcess>, Vec<String>) {
    let nodes: Vec<NodeProcess> = (0..3).map(|_| NodeProcess::start(&[])).collect();
    let addrs: Vec<String> = nodes.iter().map(|n| n.addr.to_string()).collect();
    for node in &nodes {
        let mut raw = node.client();
        raw.call(&["SET", "hot", "h"]);
        for i in 0..500 {
            raw.call(&["SET", &format!("cold:{i}"), "c"]);
        }
    }
    (nodes, addrs)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn spread_reads_of_a_hot_key_load_its_replicas_evenly() {
    let (nodes, addrs) = cluster();
    let library = |spread: bool| {
        ClientBuilder::new()
            .nodes(addrs.iter().cloned())
            .with_replicas(3)
            .with_read_consistency(ReadConsistency::One)
            .with_hot_key_spreading(spread)
            .build()
            .unwrap()
    };
    let mut shares = Vec::new();
    for spread in [false, true] {
        let client = library(spread);
        for i in 0..WARM {
            client.get(key_of(i)).await.unwrap();
        }
        let hot = client.hot_keys();
        assert_eq!(hot.len(), 1, "{hot:?}");
        assert_eq!(hot[0].key, "hot");
        assert!((hot[0].share - 0.5).abs() < 0.1, "{hot:?}");
        let share = busiest_share(&nodes, || {
            tokio::task::block_in_place(|| {
                tokio::runtime::Handle::current().block_on(async {
                    for i in 0..COUNTED {
                        client.get(key_of(i)).await.unwrap();
                    }
                })
            })
        });
        shares.push(share);
    }
    eprintln!(
        "library, R = 3 of 3 nodes, one read in two of one key: busiest node's share {:.3} without spreading, {:.3} with (even: 0.333)",
        shares[0], shares[1]
    );
    assert!(shares[0] > 0.55, "without spreading: {shares:?}");
    assert!(shares[1] < 0.37, "with spreading: {shares:?}");
}

#[test]
fn through_the_proxy_the_hot_key_is_shown_and_spread() {
    let (nodes, addrs) = cluster();
    let mut shares = Vec::new();
    for flags in [&[][..], &["--hot-key-spreading"][..]] {
        let mut all = vec!["--replicas", "3", "--read-consistency", "one"];
        all.extend_from_slice(flags);
        let proxy = ProxyProcess::over(Vec::new(), &addrs, &all);
        let mut client = proxy.client();
        for i in 0..WARM {
            client.call(&["GET", &key_of(i)]);
        }
        let info = client.call(&["INFO"]);
        assert!(
            info.contains("hot_keys:1\r\nhotkey0:key=hot,share=0."),
            "{info}"
        );
        shares.push(busiest_share(&nodes, || {
            for i in 0..COUNTED {
                client.call(&["GET", &key_of(i)]);
            }
        }));
        let status = std::process::Command::new(cachering_tests::binary())
            .args(["status", "--proxy", &proxy.addr.to_string()])
            .output()
            .unwrap();
        let shown = String::from_utf8_lossy(&status.stdout);
        assert!(shown.contains("hot keys: hot ("), "{shown}");
    }
    eprintln!(
        "proxy, R = 3 of 3 nodes, one read in two of one key: busiest node's share {:.3} without spreading, {:.3} with (even: 0.333)",
        shares[0], shares[1]
    );
    assert!(shares[0] > 0.55, "without spreading: {shares:?}");
    assert!(shares[1] < 0.37, "with spreading: {shares:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_near_cache_for_hot_keys_only_serves_the_hot_key() {
    let (nodes, addrs) = cluster();
    let client = ClientBuilder::new()
        .nodes(addrs.iter().cloned())
        .with_replicas(2)
        .with_near_cache(64 << 20)
        .with_near_cache_hot_only(true)
        .build()
        .unwrap();
    for i in 0..WARM {
        client.get(key_of(i)).await.unwrap();
    }
    assert_eq!(client.hot_keys()[0].key, "hot");
    // The hot key's reads reach no node; every cold read does.
    let before: u64 = processed(&nodes).iter().sum();
    for _ in 0..100 {
        assert_eq!(client.get("hot").await.unwrap().as_deref(), Some(&b"h"[..]));
    }
    let hot_reached: u64 = processed(&nodes).iter().sum::<u64>() - before;
    let before: u64 = processed(&nodes).iter().sum();
    for i in 0..100 {
        client.get(format!("cold:{i}")).await.unwrap();
        client.get(format!("cold:{i}")).await.unwrap();
    }
    let cold_reached: u64 = processed(&nodes).iter().sum::<u64>() - before;
    assert!(hot_reached < 20, "{hot_reached} commands for 100 hot reads");
    // Two commands a read (the value and the other replica's version), 200 reads.
    assert!(
        cold_reached >= 400,
        "{cold_reached} commands for 200 cold reads"
    );
}
