//! The client's metrics, declared and described in one place. Recorded through the `metrics`
//! facade: a program that links the client installs whatever exporter it likes.

use metrics::{
    describe_counter, describe_gauge, describe_histogram, Counter, Gauge, Histogram, Unit,
};

/// Requests sent to a node.
pub const REQUESTS: &str = "cachering_client_requests_total";
/// Requests that failed at a node (connection errors and timeouts).
pub const ERRORS: &str = "cachering_client_errors_total";
/// Requests that timed out at a node.
pub const TIMEOUTS: &str = "cachering_client_timeouts_total";
/// Request latency per node.
pub const LATENCY: &str = "cachering_client_request_duration_seconds";
/// Node state: 0 healthy, 1 ejected, 2 recovering.
pub const NODE_STATE: &str = "cachering_client_node_state";
/// Nodes ejected.
pub const EJECTIONS: &str = "cachering_client_ejections_total";
/// Probes of ejected nodes.
pub const PROBES: &str = "cachering_client_probes_total";
/// Nodes taken back after an ejection.
pub const READMISSIONS: &str = "cachering_client_readmissions_total";
/// Reads served by a replica other than the key's first healthy one.
pub const FALLBACK_READS: &str = "cachering_client_fallback_reads_total";
/// Replicas found behind by a read and brought to the newest state.
pub const READ_REPAIRS: &str = "cachering_client_read_repairs_total";
/// Keys a node is known to have missed and that are not repaired yet.
pub const HINTS_PENDING: &str = "cachering_client_hints_pending";
/// Hinted keys invalidated on a returning node.
pub const HINTS_REPLAYED: &str = "cachering_client_hints_replayed_total";
/// Nodes emptied because their hints overflowed.
pub const FLUSHES: &str = "cachering_client_repair_flushes_total";
/// Values copied from a replica into a node that came back empty.
pub const WARMUP_FILLS: &str = "cachering_client_warmup_fills_total";
/// Keys copied into a node from their replicas on a previous ring (after the ring changed).
pub const MIGRATED_KEYS: &str = "cachering_client_migrated_keys_total";
/// Copies of keys deleted from a node that held them on a previous ring and no longer does.
pub const MOVED_AWAY: &str = "cachering_client_moved_away_total";
/// Keys copied into a node that came back empty or joined the ring, by the background refill.
pub const REFILLED_KEYS: &str = "cachering_client_refilled_keys_total";
/// Collections copied whole to the node because a replayed write found it at another version.
pub const REPLAY_COPIES: &str = "cachering_client_replay_copies_total";
/// 1 while a refill of the node runs.
pub const REFILLING: &str = "cachering_client_refilling";
/// Loader calls made by `get_or_load` (misses that this process loaded).
pub const LOADS: &str = "cachering_client_loads_total";
/// `get_or_load` calls that shared a load already in flight in this process.
pub const SHARED_LOADS: &str = "cachering_client_shared_loads_total";
/// `get_or_load` misses that waited for another process holding the key's lease.
pub const LEASE_WAITS: &str = "cachering_client_lease_waits_total";
/// GETs served from the near cache.
pub const NEAR_HITS: &str = "cachering_client_near_hits_total";
/// GETs the near cache could not serve.
pub const NEAR_MISSES: &str = "cachering_client_near_misses_total";
/// Keys the nodes' invalidation streams dropped from the near cache.
pub const NEAR_INVALIDATIONS: &str = "cachering_client_near_invalidations_total";
/// Near-cache entries evicted to stay within its bytes.
pub const NEAR_EVICTIONS: &str = "cachering_client_near_evictions_total";
/// Bytes the near cache holds (keys, values, per-entry overhead).
pub const NEAR_BYTES: &str = "cachering_client_near_bytes";
/// Keys the hot-key detector holds hot.
pub const HOT_KEYS: &str = "cachering_client_hot_keys";
/// Reads of hot keys sent to a replica other than the key's first, to spread them.
pub const SPREAD_READS: &str = "cachering_client_spread_reads_total";

/// Every metric name the client registers.
pub const ALL: &[&str] = &[
    REQUESTS,
    ERRORS,
    TIMEOUTS,
    LATENCY,
    NODE_STATE,
    EJECTIONS,
    PROBES,
    READMISSIONS,
    FALLBACK_READS,
    READ_REPAIRS,
    HINTS_PENDING,
    HINTS_REPLAYED,
    FLUSHES,
    WARMUP_FILLS,
    MIGRATED_KEYS,
    MOVED_AWAY,
    REFILLED_KEYS,
    REPLAY_COPIES,
    REFILLING,
    LOADS,
    SHARED_LOADS,
    LEASE_WAITS,
    NEAR_HITS,
    NEAR_MISSES,
    NEAR_INVALIDATIONS,
    NEAR_EVICTIONS,
    NEAR_BYTES,
    HOT_KEYS,
    SPREAD_READS,
];

/// Describes every metric to the installed recorder.
pub fn describe() {
    describe_counter!(REQUESTS, "Requests sent to a node.");
    describe_counter!(
        ERRORS,
        "Requests that failed at a node: connection errors and timeouts."
    );
    describe_counter!(TIMEOUTS, "Requests that timed out at a node.");
    describe_histogram!(LATENCY, Unit::Seconds, "Request latency per node.");
    describe_gauge!(
        NODE_STATE,
        "Node state as the client sees it: 0 healthy, 1 ejected, 2 recovering."
    );
    describe_counter!(EJECTIONS, "Nodes ejected after consecutive failures.");
    describe_counter!(
        PROBES,
        "Probes of an ejected node (connect, PING every connection, read its run id)."
    );
    describe_counter!(
        READMISSIONS,
        "Ejected nodes taken back after a successful probe and repair."
    );
    describe_counter!(FALLBACK_READS, "Reads served by a later replica because an earlier one failed, was ejected, was being repaired, or missed the key while warming up.");
    describe_counter!(
        READ_REPAIRS,
        "Keys a read found behind on this node and brought to the newest version."
    );
    describe_gauge!(
        HINTS_PENDING,
        "Keys a node missed writes for that are not yet invalidated on it."
    );
    describe_counter!(HINTS_REPLAYED, "Hinted keys invalidated on a node.");
    describe_counter!(
        FLUSHES,
        "Nodes emptied before re-admission because their hints overflowed."
    );
    describe_counter!(
        WARMUP_FILLS,
        "Values copied from a replica into a node that came back empty."
    );
    describe_counter!(
        MIGRATED_KEYS,
        "Keys copied into this node from their replicas on the previous ring, after a ring change."
    );
    describe_counter!(
        MOVED_AWAY,
        "Keys written after a ring change deleted on this node, which held them on the previous ring."
    );
    describe_counter!(
        REFILLED_KEYS,
        "Keys copied into this node, after it came back empty or joined the ring, from the other nodes by the background refill."
    );
    describe_counter!(
        REPLAY_COPIES,
        "Collections copied whole into this node because a replayed write found it at another version than the replica that ran it."
    );
    describe_gauge!(
        REFILLING,
        "1 while the background refill of this node runs, else 0."
    );
    describe_counter!(
        LOADS,
        "Loader calls made by get_or_load: misses this process loaded."
    );
    describe_counter!(
        SHARED_LOADS,
        "get_or_load calls that shared a load already in flight in this process."
    );
    describe_counter!(
        LEASE_WAITS,
        "get_or_load misses that waited for the process holding the key's lease."
    );
    describe_counter!(NEAR_HITS, "GETs served from the near cache.");
    describe_counter!(NEAR_MISSES, "GETs the near cache could not serve.");
    describe_counter!(
        NEAR_INVALIDATIONS,
        "Keys the nodes' invalidation streams dropped from the near cache."
    );
    describe_counter!(
        NEAR_EVICTIONS,
        "Near-cache entries evicted to stay within its bytes."
    );
    describe_gauge!(
        HOT_KEYS,
        "Keys the hot-key detector holds hot (each at least 2 % of this process's requests)."
    );
    describe_counter!(
        SPREAD_READS,
        "Reads of hot keys sent to a replica other than the key's first, to spread them."
    );
    describe_gauge!(
        NEAR_BYTES,
        Unit::Bytes,
        "Bytes the near cache holds: keys, values and per-entry overhead."
    );
}

/// Handles for the near cache's metrics.
pub(crate) struct NearMetrics {
    pub hits: Counter,
    pub misses: Counter,
    pub invalidations: Counter,
    pub evictions: Counter,
    pub bytes: Gauge,
}

impl NearMetrics {
    pub fn new() -> Self {
        Self {
            hits: metrics::counter!(NEAR_HITS),
            misses: metrics::counter!(NEAR_MISSES),
            invalidations: metrics::counter!(NEAR_INVALIDATIONS),
            evictions: metrics::counter!(NEAR_EVICTIONS),
            bytes: metrics::gauge!(NEAR_BYTES),
        }
    }
}

/// Handles for the client's own metrics (not about one node).
pub(crate) struct ClientMetrics {
    pub loads: Counter,
    pub shared_loads: Counter,
    pub lease_waits: Counter,
    pub spread_reads: Counter,
}

impl ClientMetrics {
    pub fn new() -> Self {
        Self {
            loads: metrics::counter!(LOADS),
            shared_loads: metrics::counter!(SHARED_LOADS),
            lease_waits: metrics::counter!(LEASE_WAITS),
            spread_reads: metrics::counter!(SPREAD_READS),
        }
    }
}

/// Handles for one node's metrics, resolved once (a cached handle costs about 9 ns per
/// increment; looking the name up each time costs about 74 ns).
pub(crate) struct NodeMetrics {
    pub requests: Counter,
    pub errors: Counter,
    pub timeouts: Counter,
    pub latency: Histogram,
    pub state: Gauge,
    pub ejections: Counter,
    pub probes: Counter,
    pub readmissions: Counter,
    pub fallback_reads: Counter,
    pub read_repairs: Counter,
    pub hints_pending: Gauge,
    pub hints_replayed: Counter,
    pub flushes: Counter,
    pub warmup_fills: Counter,
    pub migrated_keys: Counter,
    pub moved_away: Counter,
    pub refilled_keys: Counter,
    pub replay_copies: Counter,
    pub refilling: Gauge,
}

impl NodeMetrics {
    pub fn new(node: &str) -> Self {
        let label = [("node", node.to_string())];
        Self {
            requests: metrics::counter!(REQUESTS, &label),
            errors: metrics::counter!(ERRORS, &label),
            timeouts: metrics::counter!(TIMEOUTS, &label),
            latency: metrics::histogram!(LATENCY, &label),
            state: metrics::gauge!(NODE_STATE, &label),
            ejections: metrics::counter!(EJECTIONS, &label),
            probes: metrics::counter!(PROBES, &label),
            readmissions: metrics::counter!(READMISSIONS, &label),
            fallback_reads: metrics::counter!(FALLBACK_READS, &label),
            read_repairs: metrics::counter!(READ_REPAIRS, &label),
            hints_pending: metrics::gauge!(HINTS_PENDING, &label),
            hints_replayed: metrics::counter!(HINTS_REPLAYED, &label),
            flushes: metrics::counter!(FLUSHES, &label),
            warmup_fills: metrics::counter!(WARMUP_FILLS, &label),
            migrated_keys: metrics::counter!(MIGRATED_KEYS, &label),
            moved_away: metrics::counter!(MOVED_AWAY, &label),
            refilled_keys: metrics::counter!(REFILLED_KEYS, &label),
            replay_copies: metrics::counter!(REPLAY_COPIES, &label),
            refilling: metrics::gauge!(REFILLING, &label),
        }
    }
}
