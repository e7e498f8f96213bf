//! The node's metrics, declared and described in one place and recorded through the `metrics`
//! facade (the binary installs the Prometheus exporter; the library never does).
//!
//! INFO and `/metrics` read the same numbers: the counters INFO prints live in atomics
//! ([`Stats`](crate::state::Stats) and the store's counters), and ten times a second the node
//! publishes them as absolute values here. Per-command counts and latencies are recorded as
//! commands run. Every series carries a `node` label (the node's listening address), so several
//! nodes in one process (`cachering up`) stay apart.

use std::sync::atomic::Ordering;

use metrics::{
    describe_counter, describe_gauge, describe_histogram, Counter, Gauge, Histogram, Unit,
};

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

/// Describes every metric to the installed recorder.
pub fn describe() {
    describe_counter!(COMMANDS_TOTAL, "Commands run, by command.");
    describe_histogram!(
        COMMAND_DURATION,
        Unit::Seconds,
        "Time to run a command (decoding and writing excluded), by command."
    );
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

struct CommandMetrics {
    calls: Counter,
    latency: Histogram,
}

/// Handles resolved once per node (a cached handle costs about 9 ns per increment; resolving
/// the name on each call about 74 ns).
pub struct NodeMetrics {
    commands: Vec<CommandMetrics>,
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
            commands: COMMANDS
                .iter()
                .map(|spec| {
                    let labels = [("node", node.to_string()), ("cmd", spec.name.to_string())];
                    CommandMetrics {
                        calls: metrics::counter!(COMMANDS_TOTAL, &labels),
                        latency: metrics::histogram!(COMMAND_DURATION, &labels),
                    }
                })
                .collect(),
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
    pub fn command(&self, index: usize, seconds: f64) {
        if let Some(command) = self.commands.get(index) {
            command.calls.increment(1);
            command.latency.record(seconds);
        }
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
}
