//! A load generator for the client library: `clients` tasks, each sending `depth` requests at
//! a time (GET, SET, or a mix of the two, of 32-byte values over a key space of `keys`, chosen
//! uniformly or by a Zipf law) through one shared client, or with `--resp ADDR` over plain RESP
//! connections (one per task) to a proxy, until `requests` have been made; prints requests per
//! second and the p50 and p99 latency of a request (a batch's latency counts for each request
//! in it, as redis-benchmark counts a pipeline's). Used by `benches/load/consistency_cost.py`
//! and `benches/load/near_cache.py`.
//!
//!     client_load --nodes a:1,b:2,c:3 --replicas 2 --consistency newest --test get --depth 16
//!     client_load --nodes … --test mixed --read-ratio 0.9 --keys 1000000 --zipf 1.1 --near-cache 268435456

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
    /// Keys in the key space (all written before the run).
    #[arg(long, default_value_t = 100_000)]
    keys: usize,
    /// Zipf exponent of the key choice; 0 chooses uniformly.
    #[arg(long, default_value_t = 0.0)]
    zipf: f64,
    /// For `--test mixed`: the fraction of GETs (the rest are SETs).
    #[arg(long, default_value_t = 0.9)]
    read_ratio: f64,
    /// The client's near cache, in bytes (0: none).
    #[arg(long, default_value_t = 0)]
    near_cache: u64,
    /// Send plain RESP to this address (a proxy) instead of using the library.
    #[arg(long)]
    resp: Option<String>,
    /// Runtime threads: 1 runs one current-thread runtime, more a multi-thread one.
    #[arg(long, default_value_t = 1)]
    threads: usize,
}

/// What one request does.
#[derive(Clone, Copy)]
enum Op {
    Get(usize),
    Set(usize),
}

/// Draws requests: keys uniformly or by a Zipf law, GETs with `read_ratio`.
struct Draw {
    rng: rand::rngs::SmallRng,
    zipf: Option<rand_distr::Zipf<f64>>,
    keys: usize,
    read_ratio: f64,
}

impl Draw {
    fn new(seed: u64, args: &Args) -> Self {
        use rand::SeedableRng;
        let read_ratio = match args.test.as_str() {
            "set" => 0.0,
            "mixed" => args.read_ratio,
            _ => 1.0,
        };
        Self {
            rng: rand::rngs::SmallRng::seed_from_u64(seed),
            zipf: (args.zipf > 0.0)
                .then(|| rand_distr::Zipf::new(args.keys as f64, args.zipf).expect("a Zipf law")),
            keys: args.keys,
            read_ratio,
        }
    }

    fn next(&mut self) -> Op {
        use rand::Rng;
        use rand_distr::Distribution;
        let key = match &self.zipf {
            // Zipf draws 1..=n, the most frequent first.
            Some(zipf) => zipf.sample(&mut self.rng) as usize - 1,
            None => self.rng.random_range(0..self.keys),
        };
        if self.rng.random_bool(self.read_ratio) {
            Op::Get(key)
        } else {
            Op::Set(key)
        }
    }
}

fn main() {
    let args = Args::parse();
    let runtime = if args.threads > 1 {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(args.threads)
            .enable_all()
            .build()
    } else {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
    }
    .expect("a runtime");
    runtime.block_on(run(args));
}

async fn run(args: Args) {
    // The client's own metrics, for the near cache's hit ratio.
    let metrics = metrics_exporter_prometheus::PrometheusBuilder::new()
        .install_recorder()
        .expect("a metrics recorder");
    let consistency = match args.consistency.as_str() {
        "one" => ReadConsistency::One,
        _ => ReadConsistency::Newest,
    };
    let client = ClientBuilder::new()
        .nodes(args.nodes.iter().cloned())
        .with_replicas(args.replicas)
        .with_read_consistency(consistency)
        .with_near_cache(args.near_cache)
        .build()
        .expect("a client");
    let value = vec![b'x'; 32];
    let keys: Vec<String> = (0..args.keys).map(|i| format!("key:{i:07}")).collect();
    // Every key exists, so GETs read values.
    for chunk in keys.chunks(1000) {
        client
            .mset(chunk.iter().map(|k| (k.as_str(), value.as_slice())))
            .await
            .expect("preload");
    }
    let keys = Arc::new(keys);
    let args = Arc::new(args);
    let issued = Arc::new(AtomicUsize::new(0));
    let started = Instant::now();
    let tasks = (0..args.clients).map(|task| {
        let (client, keys, issued, value, args) = (
            client.clone(),
            Arc::clone(&keys),
            Arc::clone(&issued),
            value.clone(),
            Arc::clone(&args),
        );
        tokio::spawn(async move {
            let mut draw = Draw::new(task as u64 * 7919 + 1, &args);
            let mut resp = match &args.resp {
                Some(addr) => Some(Resp::connect(addr).await),
                None => None,
            };
            let depth = args.depth;
            let mut latencies = Vec::new();
            while issued.fetch_add(depth, Ordering::Relaxed) < args.requests {
                let batch: Vec<Op> = (0..depth).map(|_| draw.next()).collect();
                let sent = Instant::now();
                if let Some(resp) = resp.as_mut() {
                    resp.run(&batch, &keys, &value).await;
                } else {
                    join_all(batch.iter().map(|op| {
                        let client = &client;
                        let (keys, value) = (&keys, &value);
                        async move {
                            match *op {
                                Op::Get(k) => {
                                    client.get(&keys[k]).await.expect("get");
                                }
                                Op::Set(k) => {
                                    client.set(&keys[k], value.as_slice()).await.expect("set")
                                }
                            }
                        }
                    }))
                    .await;
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
    let mut report = format!(
        "rps={:.0} p50_ms={:.3} p99_ms={:.3}",
        latencies.len() as f64 / elapsed.as_secs_f64(),
        at(0.5).as_secs_f64() * 1000.0,
        at(0.99).as_secs_f64() * 1000.0
    );
    if args.near_cache > 0 {
        let rendered = metrics.render();
        let total = |name: &str| -> f64 {
            rendered
                .lines()
                .filter(|line| line.starts_with(name))
                .filter_map(|line| line.rsplit(' ').next()?.parse::<f64>().ok())
                .sum()
        };
        let (hits, misses) = (
            total("cachering_client_near_hits_total"),
            total("cachering_client_near_misses_total"),
        );
        report += &format!(" near_hit_ratio={:.4}", hits / (hits + misses).max(1.0));
    }
    println!("{report}");
}

/// A plain RESP connection (to a proxy): a batch is written at once and its replies read.
struct Resp {
    stream: tokio::net::TcpStream,
    input: Vec<u8>,
}

impl Resp {
    async fn connect(addr: &str) -> Self {
        let stream = tokio::net::TcpStream::connect(addr).await.expect("connect");
        stream.set_nodelay(true).expect("nodelay");
        Self {
            stream,
            input: Vec::new(),
        }
    }

    async fn run(&mut self, batch: &[Op], keys: &[String], value: &[u8]) {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let mut out = Vec::new();
        for op in batch {
            let (name, key, value): (&[u8], &str, Option<&[u8]>) = match *op {
                Op::Get(k) => (b"GET", &keys[k], None),
                Op::Set(k) => (b"SET", &keys[k], Some(value)),
            };
            let parts = if value.is_some() { 3 } else { 2 };
            out.extend_from_slice(format!("*{parts}\r\n${}\r\n", name.len()).as_bytes());
            out.extend_from_slice(name);
            out.extend_from_slice(format!("\r\n${}\r\n{key}\r\n", key.len()).as_bytes());
            if let Some(value) = value {
                out.extend_from_slice(format!("${}\r\n", value.len()).as_bytes());
                out.extend_from_slice(value);
                out.extend_from_slice(b"\r\n");
            }
        }
        self.stream.write_all(&out).await.expect("write");
        let mut replies = 0;
        while replies < batch.len() {
            match reply_len(&self.input) {
                Some(len) => {
                    assert!(
                        self.input[0] != b'-',
                        "error reply: {:?}",
                        String::from_utf8_lossy(&self.input[..len])
                    );
                    self.input.drain(..len);
                    replies += 1;
                }
                None => {
                    let mut chunk = [0u8; 16384];
                    let n = self.stream.read(&mut chunk).await.expect("read");
                    assert!(n > 0, "the proxy closed the connection");
                    self.input.extend_from_slice(&chunk[..n]);
                }
            }
        }
    }
}

/// The length of the complete GET or SET reply at the start of `input` (a bulk string,
/// status or error), if it is all there.
fn reply_len(input: &[u8]) -> Option<usize> {
    let line = input.windows(2).position(|w| w == b"\r\n")? + 2;
    if input[0] != b'$' {
        return Some(line);
    }
    let len: i64 = std::str::from_utf8(&input[1..line - 2])
        .ok()?
        .parse()
        .ok()?;
    let end = if len < 0 {
        line
    } else {
        line + len as usize + 2
    };
    (input.len() >= end).then_some(end)
}
