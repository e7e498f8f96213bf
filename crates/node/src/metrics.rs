//! The node's metrics, declared and described in one place and recorded through the `metrics`
//! facade (the binary installs the Prometheus exporter; the library never does).
//!
//! INFO and `/metrics` read the same numbers: the counters INFO prints live in atomics
//! ([`Stats`](crate::state::Stats) and the store's counters), and ten times a second the node
//! publishes them as absolute values here. Per-command counts and latencies are kept by the
//! node itself ([`CommandStats`]) and written out at scrape time by [`render_commands`], only
//! for commands that have run. Every series carries a `node` label (the node's listening
//! address), so several nodes in one process (`cachering up`) stay apart.

use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;

use metrics::{describe_counter, describe_gauge, Counter, Gauge, Unit};

use crate::state::NodeState;
use cachering_commands::COMMANDS;

/// Commands run, by command.
pub const COMMANDS_TOTAL: &str = "cachering_node_commands_total";
/// Command latency, by command.
pub const COMMAND_DURATION: &str = "cachering_node_command_duration_seconds";
/// Error replies and protocol errors, by kind.
pub const ERRORS: &str = "cachering_node_errors_total";
/// Key reads, by result (hit, miss).
pub const KEYSPACE_READS: &str = "cachering_node_keyspace_reads_total";
/// Keys held.
pub const KEYS: &str = "cachering_node_keys";
/// Keys with a time to live.
pub const KEYS_WITH_TTL: &str = "cachering_node_keys_with_ttl";
/// Tombstones held (deleted keys remembered for `tombstone-ttl`).
pub const TOMBSTONES: &str = "cachering_node_tombstones";
/// Bytes charged against the limit.
pub const MEMORY_USED: &str = "cachering_node_memory_used_bytes";
/// The memory limit.
pub const MEMORY_LIMIT: &str = "cachering_node_memory_limit_bytes";
/// Resident memory of the process.
pub const MEMORY_RSS: &str = "cachering_node_memory_rss_bytes";
/// Keys evicted to stay under the limit.
pub const EVICTIONS: &str = "cachering_node_evicted_keys_total";
/// Keys removed at their deadline.
pub const EXPIRATIONS: &str = "cachering_node_expired_keys_total";
/// Clients connected now.
pub const CONNECTIONS: &str = "cachering_node_connections";
/// Connections, by result (accepted, rejected).
pub const CONNECTIONS_TOTAL: &str = "cachering_node_connections_total";
/// Bytes read and written, by direction (in, out).
pub const NET_BYTES: &str = "cachering_node_net_bytes_total";
/// Seconds since start.
pub const UPTIME: &str = "cachering_node_uptime_seconds";

/// Every metric name the node registers.
pub const ALL: &[&str] = &[
    COMMANDS_TOTAL,
    COMMAND_DURATION,
    ERRORS,
    KEYSPACE_READS,
    KEYS,
    KEYS_WITH_TTL,
    TOMBSTONES,
    MEMORY_USED,
    MEMORY_LIMIT,
    MEMORY_RSS,
    EVICTIONS,
    EXPIRATIONS,
    CONNECTIONS,
    CONNECTIONS_TOTAL,
    NET_BYTES,
    UPTIME,
];

/// Latency buckets: 10 µs to 1 s (a summary's quantiles were wrong on a series' first scrape
/// in metrics-exporter-prometheus 0.18.3, so latency is a bucketed histogram).
pub const LATENCY_BUCKETS: &[f64] = &[
    0.000_01, 0.000_025, 0.000_05, 0.000_1, 0.000_25, 0.000_5, 0.001, 0.002_5, 0.005, 0.01, 0.025,
    0.05, 0.1, 0.25, 0.5, 1.0,
];

/// Help of [`COMMANDS_TOTAL`].
const COMMANDS_TOTAL_HELP: &str = "Commands run, by command.";
/// Help of [`COMMAND_DURATION`].
const COMMAND_DURATION_HELP: &str =
    "Time to run a command (decoding and writing excluded), by command.";

/// Describes every metric recorded through the facade to the installed recorder (the
/// per-command ones are written by [`render_commands`]).
pub fn describe() {
    describe_counter!(ERRORS, "Error replies by their first word (ERR, WRONGPASS, OOM, ...), and protocol errors (kind=protocol).");
    describe_counter!(KEYSPACE_READS, "Key reads by result: hit or miss.");
    describe_gauge!(KEYS, "Keys held, expired keys not yet reclaimed included.");
    describe_gauge!(KEYS_WITH_TTL, "Keys with a time to live.");
    describe_gauge!(
        TOMBSTONES,
        "Deleted keys remembered for tombstone-ttl, charged against maxmemory."
    );
    describe_gauge!(
        MEMORY_USED,
        Unit::Bytes,
        "Bytes charged against maxmemory: keys, values and per-entry overhead."
    );
    describe_gauge!(MEMORY_LIMIT, Unit::Bytes, "maxmemory; 0 when unlimited.");
    describe_gauge!(
        MEMORY_RSS,
        Unit::Bytes,
        "Resident memory of the node process."
    );
    describe_counter!(EVICTIONS, "Keys evicted to stay under maxmemory.");
    describe_counter!(EXPIRATIONS, "Keys removed because their deadline passed.");
    describe_gauge!(CONNECTIONS, "Clients connected now.");
    describe_counter!(
        CONNECTIONS_TOTAL,
        "Connections by result: accepted, or rejected over maxclients."
    );
    describe_counter!(
        NET_BYTES,
        Unit::Bytes,
        "Bytes read from and written to clients, by direction."
    );
    describe_gauge!(UPTIME, Unit::Seconds, "Seconds since the node started.");
}

/// Latency buckets in nanoseconds, [`LATENCY_BUCKETS`] with the `+Inf` bucket after them.
const BOUNDS_NS: [u64; 16] = [
    10_000,
    25_000,
    50_000,
    100_000,
    250_000,
    500_000,
    1_000_000,
    2_500_000,
    5_000_000,
    10_000_000,
    25_000_000,
    50_000_000,
    100_000_000,
    250_000_000,
    500_000_000,
    1_000_000_000,
];
/// Buckets per command: the bounds and `+Inf`.
const BUCKETS: usize = BOUNDS_NS.len() + 1;
/// Shards of a [`CommandStats`]: each thread records into one, chosen when it first records.
const SHARDS: usize = 4;

/// One command's runs: how many fell in each latency bucket (not cumulative), and their time.
#[derive(Default)]
struct Row {
    buckets: [AtomicU64; BUCKETS],
    nanos: AtomicU64,
}

/// One shard's rows, one per command, in an allocation of its own (so threads recording into
/// different shards do not write to the same cache lines).
struct Shard(Box<[Row]>);

static NEXT_SHARD: AtomicUsize = AtomicUsize::new(0);

thread_local! {
    /// The shard this thread records into.
    static SHARD: usize = NEXT_SHARD.fetch_add(1, Ordering::Relaxed) % SHARDS;
}

/// Runs and latency of every command of one node, kept by the node and written out at scrape
/// time.
///
/// Measured with `benches/load/metrics_cost.py`: recording each command into the exporter's
/// histogram (a value pushed into a shared lock-free bucket, drained and bucketed every five
/// seconds) and a counter, with two clock reads per command, cost 4 % of throughput at
/// depth 1 and 10-22 % at depth 16. Here a run is two relaxed atomic adds into this thread's
/// shard, and the clock is read once per command (see `command::run`).
pub struct CommandStats {
    node: String,
    shards: [Shard; SHARDS],
}

impl CommandStats {
    /// Empty statistics for the node listening on `node`, visible to [`render_commands`]
    /// while they live.
    pub fn new(node: &str) -> Arc<Self> {
        let stats = Arc::new(Self {
            node: node.to_string(),
            shards: std::array::from_fn(|_| {
                Shard((0..COMMANDS.len()).map(|_| Row::default()).collect())
            }),
        });
        let mut live = LIVE.lock().unwrap_or_else(|poison| poison.into_inner());
        live.retain(|stats| stats.strong_count() > 0);
        live.push(Arc::downgrade(&stats));
        stats
    }

    /// Records one run of the command at `index` in the command table that took `elapsed`.
    pub fn record(&self, index: usize, elapsed: Duration) {
        let nanos = u64::try_from(elapsed.as_nanos()).unwrap_or(u64::MAX);
        let shard = SHARD.with(|shard| *shard);
        let Some(row) = self.shards[shard].0.get(index) else {
            return;
        };
        let bucket = BOUNDS_NS
            .iter()
            .position(|&bound| nanos <= bound)
            .unwrap_or(BOUNDS_NS.len());
        row.buckets[bucket].fetch_add(1, Ordering::Relaxed);
        row.nanos.fetch_add(nanos, Ordering::Relaxed);
    }

    /// The command at `index`'s runs so far: cumulative bucket counts (the last is the total)
    /// and their time in nanoseconds.
    fn totals(&self, index: usize) -> ([u64; BUCKETS], u64) {
        let mut buckets = [0u64; BUCKETS];
        let mut nanos = 0u64;
        for shard in &self.shards {
            let row = &shard.0[index];
            for (total, bucket) in buckets.iter_mut().zip(&row.buckets) {
                *total += bucket.load(Ordering::Relaxed);
            }
            nanos = nanos.wrapping_add(row.nanos.load(Ordering::Relaxed));
        }
        for i in 1..BUCKETS {
            buckets[i] += buckets[i - 1];
        }
        (buckets, nanos)
    }
}

/// The command statistics of every node of this process.
static LIVE: Mutex<Vec<Weak<CommandStats>>> = Mutex::new(Vec::new());

/// Writes, in the Prometheus text format, [`COMMANDS_TOTAL`] and the [`COMMAND_DURATION`]
/// histogram of every command that has run on a node of this process (as Redis's INFO
/// commandstats lists only commands called: an idle node exports a few dozen series, not
/// thousands of empty ones).
pub fn render_commands(out: &mut String) {
    let live: Vec<Arc<CommandStats>> = LIVE
        .lock()
        .unwrap_or_else(|poison| poison.into_inner())
        .iter()
        .filter_map(Weak::upgrade)
        .collect();
    let mut ran = Vec::new();
    for stats in &live {
        for (index, spec) in COMMANDS.iter().enumerate() {
            let (buckets, nanos) = stats.totals(index);
            if buckets[BUCKETS - 1] > 0 {
                let labels = format!(
                    "node=\"{}\",cmd=\"{}\"",
                    escape(&stats.node),
                    escape(spec.name)
                );
                ran.push((labels, buckets, nanos));
            }
        }
    }
    if ran.is_empty() {
        return;
    }
    let _ = writeln!(out, "# HELP {COMMANDS_TOTAL} {COMMANDS_TOTAL_HELP}");
    let _ = writeln!(out, "# TYPE {COMMANDS_TOTAL} counter");
    for (labels, buckets, _) in &ran {
        let _ = writeln!(out, "{COMMANDS_TOTAL}{{{labels}}} {}", buckets[BUCKETS - 1]);
    }
    out.push('\n');
    let _ = writeln!(out, "# HELP {COMMAND_DURATION} {COMMAND_DURATION_HELP}");
    let _ = writeln!(out, "# TYPE {COMMAND_DURATION} histogram");
    for (labels, buckets, nanos) in &ran {
        for (bound, count) in LATENCY_BUCKETS.iter().zip(buckets) {
            let _ = writeln!(
                out,
                "{COMMAND_DURATION}_bucket{{{labels},le=\"{bound}\"}} {count}"
            );
        }
        let total = buckets[BUCKETS - 1];
        let _ = writeln!(
            out,
            "{COMMAND_DURATION}_bucket{{{labels},le=\"+Inf\"}} {total}"
        );
        let seconds = *nanos as f64 / 1e9;
        let _ = writeln!(out, "{COMMAND_DURATION}_sum{{{labels}}} {seconds}");
        let _ = writeln!(out, "{COMMAND_DURATION}_count{{{labels}}} {total}");
    }
    out.push('\n');
}

/// A label value as the text format writes it.
fn escape(value: &str) -> std::borrow::Cow<'_, str> {
    if !value.contains(['\\', '"', '\n']) {
        return value.into();
    }
    value
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
        .into()
}

/// Handles resolved once per node (a cached handle costs about 9 ns per increment; resolving
/// the name on each call about 74 ns).
pub struct NodeMetrics {
    /// Runs and latency per command.
    pub commands: Arc<CommandStats>,
    hits: Counter,
    misses: Counter,
    protocol_errors: Counter,
    keys: Gauge,
    keys_with_ttl: Gauge,
    tombstones: Gauge,
    memory_used: Gauge,
    memory_limit: Gauge,
    memory_rss: Gauge,
    evictions: Counter,
    expirations: Counter,
    connections: Gauge,
    accepted: Counter,
    rejected: Counter,
    bytes_in: Counter,
    bytes_out: Counter,
    uptime: Gauge,
    node: String,
}

impl NodeMetrics {
    /// Handles for the node listening on `node`.
    pub fn new(node: &str) -> Self {
        describe();
        let label = |extra: (&'static str, &'static str)| {
            [("node", node.to_string()), (extra.0, extra.1.to_string())]
        };
        let plain = [("node", node.to_string())];
        Self {
            commands: CommandStats::new(node),
            hits: metrics::counter!(KEYSPACE_READS, &label(("result", "hit"))),
            misses: metrics::counter!(KEYSPACE_READS, &label(("result", "miss"))),
            protocol_errors: metrics::counter!(ERRORS, &label(("kind", "protocol"))),
            keys: metrics::gauge!(KEYS, &plain),
            keys_with_ttl: metrics::gauge!(KEYS_WITH_TTL, &plain),
            tombstones: metrics::gauge!(TOMBSTONES, &plain),
            memory_used: metrics::gauge!(MEMORY_USED, &plain),
            memory_limit: metrics::gauge!(MEMORY_LIMIT, &plain),
            memory_rss: metrics::gauge!(MEMORY_RSS, &plain),
            evictions: metrics::counter!(EVICTIONS, &plain),
            expirations: metrics::counter!(EXPIRATIONS, &plain),
            connections: metrics::gauge!(CONNECTIONS, &plain),
            accepted: metrics::counter!(CONNECTIONS_TOTAL, &label(("result", "accepted"))),
            rejected: metrics::counter!(CONNECTIONS_TOTAL, &label(("result", "rejected"))),
            bytes_in: metrics::counter!(NET_BYTES, &label(("direction", "in"))),
            bytes_out: metrics::counter!(NET_BYTES, &label(("direction", "out"))),
            uptime: metrics::gauge!(UPTIME, &plain),
            node: node.to_string(),
        }
    }

    /// Records one run of the command at `index` in the command table.
    pub fn command(&self, index: usize, elapsed: Duration) {
        self.commands.record(index, elapsed);
    }

    /// Counts an error reply by its first word.
    pub fn error(&self, text: &str) {
        let kind = text.split(' ').next().unwrap_or("ERR").to_string();
        metrics::counter!(ERRORS, "node" => self.node.clone(), "kind" => kind).increment(1);
    }

    /// Publishes the counters INFO reads, so INFO and `/metrics` agree.
    pub fn publish(&self, node: &NodeState) {
        let stats = &node.endpoint.stats;
        let store = node.store.stats();
        let get = |counter: &std::sync::atomic::AtomicU64| counter.load(Ordering::Relaxed);
        self.hits.absolute(get(&node.stats.keyspace_hits));
        self.misses.absolute(get(&node.stats.keyspace_misses));
        self.protocol_errors.absolute(get(&stats.protocol_errors));
        self.keys.set(store.keys as f64);
        self.keys_with_ttl.set(store.keys_with_deadline as f64);
        self.tombstones.set(store.tombstones as f64);
        self.memory_used.set(store.used_bytes as f64);
        self.memory_limit.set(store.limit_bytes as f64);
        self.memory_rss.set(crate::info::rss_bytes() as f64);
        self.evictions.absolute(store.evicted_keys);
        self.expirations.absolute(store.expired_keys);
        self.connections.set(node.endpoint.clients.len() as f64);
        self.accepted.absolute(
            get(&stats.connections_received).saturating_sub(get(&stats.rejected_connections)),
        );
        self.rejected.absolute(get(&stats.rejected_connections));
        self.bytes_in.absolute(get(&stats.net_input_bytes));
        self.bytes_out.absolute(get(&stats.net_output_bytes));
        self.uptime
            .set(node.endpoint.started.elapsed().as_secs_f64());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_unique_and_follow_the_convention() {
        let mut seen = std::collections::HashSet::new();
        for name in ALL {
            assert!(seen.insert(name), "{name} registered twice");
            assert!(name.starts_with("cachering_node_"), "{name}");
        }
    }

    #[test]
    fn nanosecond_bounds_are_the_latency_buckets() {
        let seconds: Vec<f64> = BOUNDS_NS.iter().map(|&ns| ns as f64 / 1e9).collect();
        assert_eq!(seconds, LATENCY_BUCKETS);
    }

    #[test]
    fn only_commands_that_ran_are_written_with_cumulative_buckets() {
        let node = "test:only_commands_that_ran";
        let stats = CommandStats::new(node);
        let get = COMMANDS.iter().position(|spec| spec.name == "get").unwrap();
        stats.record(get, Duration::from_nanos(10_000)); // on the first bound: in it
        stats.record(get, Duration::from_nanos(10_001));
        // From another thread, so another shard.
        std::thread::scope(|scope| {
            scope.spawn(|| stats.record(get, Duration::from_secs(2)));
        });
        assert_eq!(stats.totals(get).0[BUCKETS - 1], 3);
        let mut text = String::new();
        render_commands(&mut text);
        let ours: Vec<&str> = text.lines().filter(|line| line.contains(node)).collect();
        let labels = format!("node=\"{node}\",cmd=\"get\"");
        assert!(
            ours.contains(&format!("{COMMANDS_TOTAL}{{{labels}}} 3").as_str()),
            "{text}"
        );
        let bucket =
            |le: &str, n: u64| format!("{COMMAND_DURATION}_bucket{{{labels},le=\"{le}\"}} {n}");
        for (le, n) in [("0.00001", 1), ("0.000025", 2), ("1", 2), ("+Inf", 3)] {
            assert!(ours.contains(&bucket(le, n).as_str()), "{le}: {ours:?}");
        }
        let sum = format!("{COMMAND_DURATION}_sum{{{labels}}} 2.000020001");
        assert!(ours.contains(&sum.as_str()), "{ours:?}");
        // One counter line, 17 buckets, a sum and a count: GET only.
        assert_eq!(ours.len(), 1 + BUCKETS + 2, "{ours:?}");
        assert_eq!(
            text.matches("# TYPE cachering_node_commands_total counter")
                .count(),
            1
        );
        drop(stats);
        let mut text = String::new();
        render_commands(&mut text);
        assert!(!text.contains(node), "a dropped node's series are gone");
    }
}
