//! A load generator for the client library: `clients` tasks, each sending `depth` requests at
//! a time (GET or SET of 32-byte values over a 100,000-key space) through one shared client,
//! until `requests` have been made; prints requests per second and the p50 and p99 latency of
//! a request (a batch's latency counts for each request in it, as redis-benchmark counts a
//! pipeline's). Used by `benches/load/consistency_cost.py`.
//!
//!     client_load --nodes a:1,b:2,c:3 --replicas 2 --consistency newest --test get --depth 16

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use cachering_client::{ClientBuilder, ReadConsistency};
use clap::Parser;
use futures::future::join_all;

/// Load through the client library.
#[derive(Debug, Parser)]
struct Args {
    /// The nodes, comma-separated host:port.
    #[arg(long, value_delimiter = ',')]
    nodes: Vec<String>,
    /// Copies of each key.
    #[arg(long, default_value_t = 2)]
    replicas: usize,
    /// newest or one.
    #[arg(long, default_value = "newest")]
    consistency: String,
    /// get or set.
    #[arg(long, default_value = "get")]
    test: String,
    /// Requests in flight per task.
    #[arg(long, default_value_t = 1)]
    depth: usize,
    /// Concurrent tasks.
    #[arg(long, default_value_t = 50)]
    clients: usize,
    /// Requests in all.
    #[arg(long, default_value_t = 200_000)]
    requests: usize,
}

fn main() {
    let args = Args::parse();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime");
    runtime.block_on(run(args));
}

async fn run(args: Args) {
    let consistency = match args.consistency.as_str() {
        "one" => ReadConsistency::One,
        _ => ReadConsistency::Newest,
    };
    let client = ClientBuilder::new()
        .nodes(args.nodes.iter().cloned())
        .with_replicas(args.replicas)
        .with_read_consistency(consistency)
        .build()
        .expect("a client");
    let value = vec![b'x'; 32];
    let keys: Vec<String> = (0..100_000).map(|i| format!("key:{i:06}")).collect();
    // Every key exists, so GETs read values.
    for chunk in keys.chunks(1000) {
        client
            .mset(chunk.iter().map(|k| (k.as_str(), value.as_slice())))
            .await
            .expect("preload");
    }
    let keys = Arc::new(keys);
    let issued = Arc::new(AtomicUsize::new(0));
    let started = Instant::now();
    let tasks = (0..args.clients).map(|task| {
        let (client, keys, issued, value) = (
            client.clone(),
            Arc::clone(&keys),
            Arc::clone(&issued),
            value.clone(),
        );
        let (depth, requests, is_set) = (args.depth, args.requests, args.test == "set");
        tokio::spawn(async move {
            let mut latencies = Vec::new();
            let mut seed = task as u64 * 7919 + 1;
            while issued.fetch_add(depth, Ordering::Relaxed) < requests {
                let batch: Vec<&str> = (0..depth)
                    .map(|_| {
                        seed = seed
                            .wrapping_mul(6364136223846793005)
                            .wrapping_add(1442695040888963407);
                        keys[(seed >> 33) as usize % keys.len()].as_str()
                    })
                    .collect();
                let sent = Instant::now();
                if is_set {
                    join_all(batch.iter().map(|k| client.set(*k, value.as_slice()))).await;
                } else {
                    join_all(batch.iter().map(|k| client.get(*k))).await;
                }
                let elapsed = sent.elapsed();
                latencies.extend(std::iter::repeat_n(elapsed, depth));
            }
            latencies
        })
    });
    let mut latencies: Vec<Duration> = join_all(tasks)
        .await
        .into_iter()
        .flat_map(|t| t.expect("a task"))
        .collect();
    let elapsed = started.elapsed();
    latencies.sort_unstable();
    let at = |q: f64| latencies[((latencies.len() - 1) as f64 * q) as usize];
    println!(
        "rps={:.0} p50_ms={:.3} p99_ms={:.3}",
        latencies.len() as f64 / elapsed.as_secs_f64(),
        at(0.5).as_secs_f64() * 1000.0,
        at(0.99).as_secs_f64() * 1000.0
    );
}
