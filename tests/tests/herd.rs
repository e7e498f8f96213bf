//! Herd control (`get_or_load`): a hot key that is missing (it expired) under 100 concurrent
//! readers in each of three processes. Without herd control every reader that misses calls the
//! loader; with it, each process loads once; with a lease, one process in all loads and the
//! others wait for its value. A lease whose holder died is waited out, then loaded. A failed
//! load reaches every reader that shared it, and the next call loads again.

use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use cachering_client::{ClientBuilder, ErrorKind, LoadOptions, SetOptions};
use cachering_tests::NodeProcess;

const READERS: usize = 100;
const PROCESSES: usize = 3;

/// Runs [`PROCESSES`] reader processes (tests/src/bin/herd_reader.rs) at once on `key`; the
/// loader calls of each, and how many readers got the value in all.
fn readers(addrs: &[String], key: &str, extra: &[&str]) -> (Vec<usize>, usize) {
    let start = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64
        + 1500;
    let children: Vec<_> = (0..PROCESSES)
        .map(|_| {
            Command::new(env!("CARGO_BIN_EXE_herd_reader"))
                .args([
                    &addrs.join(","),
                    key,
                    &READERS.to_string(),
                    &start.to_string(),
                    "60000",
                    "50",
                ])
                .args(extra)
                .stdout(std::process::Stdio::piped())
                .spawn()
                .expect("spawn herd_reader")
        })
        .collect::<Vec<_>>();
    let mut loads = Vec::new();
    let mut served = 0;
    for child in children {
        let output = child.wait_with_output().expect("run herd_reader");
        assert!(output.status.success(), "{output:?}");
        let text = String::from_utf8_lossy(&output.stdout);
        let field = |name: &str| -> usize {
            text.split_whitespace()
                .find_map(|part| part.strip_prefix(&format!("{name}=")))
                .and_then(|n| n.parse().ok())
                .unwrap_or_else(|| panic!("no {name} in {text:?}"))
        };
        loads.push(field("loads"));
        served += field("served");
    }
    (loads, served)
}

fn client(addrs: &[String]) -> cachering_client::Client {
    ClientBuilder::new()
        .nodes(addrs.iter().cloned())
        .with_replicas(2)
        .build()
        .unwrap()
}

fn nodes() -> (Vec<NodeProcess>, Vec<String>) {
    let nodes: Vec<NodeProcess> = (0..3).map(|_| NodeProcess::start(&[])).collect();
    let addrs = nodes.iter().map(|n| n.addr.to_string()).collect();
    (nodes, addrs)
}

#[test]
fn a_missing_hot_key_is_loaded_once_per_process_or_once_in_all() {
    let (_nodes, addrs) = nodes();
    let (naive, served) = readers(&addrs, "naive", &["--naive"]);
    assert_eq!(served, PROCESSES * READERS);
    let (per_process, served) = readers(&addrs, "herd", &[]);
    assert_eq!(served, PROCESSES * READERS);
    let (leased, served) = readers(&addrs, "leased", &["--lease", "2000"]);
    assert_eq!(served, PROCESSES * READERS);
    eprintln!(
        "loader calls for {PROCESSES} processes x {READERS} readers: without herd control {naive:?}, per process {per_process:?}, with a lease {leased:?}"
    );
    assert!(
        naive.iter().sum::<usize>() > PROCESSES,
        "without herd control the readers should race: {naive:?}"
    );
    assert_eq!(per_process, vec![1; PROCESSES]);
    assert_eq!(leased.iter().sum::<usize>(), 1, "{leased:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lease_whose_holder_died_is_waited_out_then_loaded() {
    let (_nodes, addrs) = nodes();
    let client = client(&addrs);
    // A process took the lease and died before writing the value.
    let taken = client
        .set_with(
            cachering_client::lease_key(b"orphan"),
            "dead",
            SetOptions::new().ttl(Duration::from_secs(60)).if_absent(),
        )
        .await
        .unwrap();
    assert!(taken.applied);
    let loads = Arc::new(AtomicUsize::new(0));
    let started = tokio::time::Instant::now();
    let counted = Arc::clone(&loads);
    let value = client
        .get_or_load_with(
            "orphan",
            LoadOptions::new(Duration::from_secs(60)).lease(Duration::from_millis(300)),
            move || async move {
                counted.fetch_add(1, Ordering::SeqCst);
                Ok::<_, String>(Bytes::from("fresh"))
            },
        )
        .await
        .unwrap();
    assert_eq!(&value[..], b"fresh");
    assert_eq!(loads.load(Ordering::SeqCst), 1);
    assert!(started.elapsed() >= Duration::from_millis(300));
    // Stored for the others, with its time to live.
    assert_eq!(
        client.get("orphan").await.unwrap().as_deref(),
        Some(&b"fresh"[..])
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_load_reaches_every_sharer_and_the_next_call_loads_again() {
    let (_nodes, addrs) = nodes();
    let client = client(&addrs);
    let loads = Arc::new(AtomicUsize::new(0));
    let tasks = (0..20).map(|_| {
        let (client, loads) = (client.clone(), Arc::clone(&loads));
        tokio::spawn(async move {
            client
                .get_or_load("flaky", Duration::from_secs(60), move || async move {
                    loads.fetch_add(1, Ordering::SeqCst);
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    Err::<Bytes, _>("the database is down")
                })
                .await
        })
    });
    for result in futures::future::join_all(tasks).await {
        let error = result.unwrap().unwrap_err();
        assert_eq!(error.kind(), ErrorKind::Load);
        assert!(
            error.to_string().contains("the database is down"),
            "{error}"
        );
    }
    assert_eq!(loads.load(Ordering::SeqCst), 1);
    assert_eq!(client.get("flaky").await.unwrap(), None);
    let value = client
        .get_or_load("flaky", Duration::from_secs(60), || async {
            Ok::<_, String>(Bytes::from("ok"))
        })
        .await
        .unwrap();
    assert_eq!(&value[..], b"ok");
}
