//! The text of INFO, section by section, in Redis's `field:value` format.
//!
//! Client libraries and tools read some of these fields (`redis_version`, `run_id`,
//! `connected_clients`, `used_memory`, `keyspace_hits`, `db0:keys=…`), so their names and
//! formats are Redis's. Fields specific to cachering carry a `cachering_` prefix or sit in the
//! `store` field.

use std::fmt::Write;
use std::sync::atomic::Ordering;

use crate::state::NodeState;
use cachering_server::commands::auth::REDIS_VERSION;

/// Sections in the order INFO prints them; `default`/`all`/`everything` select all of them.
pub const SECTIONS: &[&str] = &[
    "server",
    "clients",
    "memory",
    "stats",
    "replication",
    "cpu",
    "cluster",
    "keyspace",
];

/// Resident set size of this process in bytes, from `/proc/self/statm` (0 where unavailable).
pub fn rss_bytes() -> u64 {
    let Ok(statm) = std::fs::read_to_string("/proc/self/statm") else {
        return 0;
    };
    let pages: u64 = statm
        .split_whitespace()
        .nth(1)
        .and_then(|p| p.parse().ok())
        .unwrap_or(0);
    pages * 4096
}

/// Bytes in Redis's human form (`1.50M`).
pub fn human_bytes(bytes: u64) -> String {
    let units = [("G", 1u64 << 30), ("M", 1 << 20), ("K", 1 << 10)];
    for (suffix, size) in units {
        if bytes >= size {
            return format!("{:.2}{suffix}", bytes as f64 / size as f64);
        }
    }
    format!("{bytes}B")
}

/// Renders the requested sections (all when `requested` is empty or names `all`).
pub fn render(node: &NodeState, requested: &[String]) -> String {
    let all = requested.is_empty()
        || requested
            .iter()
            .any(|s| matches!(s.as_str(), "all" | "everything" | "default"));
    let mut text = String::new();
    for section in SECTIONS {
        if !all && !requested.iter().any(|s| s == section) {
            continue;
        }
        if !text.is_empty() {
            text.push_str("\r\n");
        }
        match *section {
            "server" => server(node, &mut text),
            "clients" => clients(node, &mut text),
            "memory" => memory(node, &mut text),
            "stats" => stats(node, &mut text),
            "replication" => {
                text.push_str("# Replication\r\nrole:master\r\nconnected_slaves:0\r\n")
            }
            "cpu" => cpu(&mut text),
            // A node is not a Redis Cluster member: the ring lives in the clients.
            "cluster" => text.push_str("# Cluster\r\ncluster_enabled:0\r\n"),
            _ => keyspace(node, &mut text),
        }
    }
    text
}

fn server(node: &NodeState, text: &mut String) {
    let uptime = node.endpoint.started.elapsed().as_secs();
    let config = node.config();
    let _ = write!(
        text,
        "# Server\r\nredis_version:{}\r\nredis_mode:standalone\r\ncachering_version:{}\r\ncachering_node_name:{}\r\nos:{} {}\r\narch_bits:64\r\nprocess_id:{}\r\nrun_id:{}\r\ntcp_port:{}\r\nuptime_in_seconds:{uptime}\r\nuptime_in_days:{}\r\nhz:10\r\nstore:{}\r\nexecutable:{}\r\n",
        REDIS_VERSION,
        env!("CARGO_PKG_VERSION"),
        node.name,
        std::env::consts::OS,
        std::env::consts::ARCH,
        std::process::id(),
        node.endpoint.run_id,
        node.endpoint.port(),
        uptime / 86_400,
        config.store.name(),
        std::env::current_exe().map(|p| p.display().to_string()).unwrap_or_default(),
    );
}

fn clients(node: &NodeState, text: &mut String) {
    let _ = write!(
        text,
        "# Clients\r\nconnected_clients:{}\r\nmaxclients:{}\r\nblocked_clients:{}\r\ntracking_clients:{}\r\n",
        node.endpoint.clients.len(),
        node.endpoint.with_settings(|s| s.maxclients),
        node.endpoint.clients.blocked(),
        node.endpoint.tracking.counts().0,
    );
}

fn memory(node: &NodeState, text: &mut String) {
    let stats = node.store.stats();
    let rss = rss_bytes();
    let _ = write!(
        text,
        "# Memory\r\nused_memory:{used}\r\nused_memory_human:{}\r\nused_memory_rss:{rss}\r\nused_memory_rss_human:{}\r\nmaxmemory:{limit}\r\nmaxmemory_human:{}\r\nmaxmemory_policy:allkeys-lru\r\nmem_fragmentation_ratio:{:.2}\r\n",
        human_bytes(stats.used_bytes),
        human_bytes(rss),
        human_bytes(stats.limit_bytes),
        if stats.used_bytes == 0 { 0.0 } else { rss as f64 / stats.used_bytes as f64 },
        used = stats.used_bytes,
        limit = stats.limit_bytes,
    );
}

fn stats(node: &NodeState, text: &mut String) {
    let s = &node.endpoint.stats;
    let keyspace = &node.stats;
    let store = node.store.stats();
    let tracking = node.endpoint.tracking.counts();
    let get = |counter: &std::sync::atomic::AtomicU64| counter.load(Ordering::Relaxed);
    let _ = write!(
        text,
        "# Stats\r\ntotal_connections_received:{}\r\ntotal_commands_processed:{}\r\ninstantaneous_ops_per_sec:{}\r\ntotal_net_input_bytes:{}\r\ntotal_net_output_bytes:{}\r\nrejected_connections:{}\r\nexpired_keys:{}\r\nevicted_keys:{}\r\ntombstones:{}\r\nkeyspace_hits:{}\r\nkeyspace_misses:{}\r\ntotal_error_replies:{}\r\nprotocol_errors:{}\r\ntracking_total_keys:{}\r\ntracking_total_items:{}\r\ntracking_total_prefixes:{}\r\n",
        get(&s.connections_received),
        get(&s.commands_processed),
        get(&keyspace.instantaneous_ops_per_sec),
        get(&s.net_input_bytes),
        get(&s.net_output_bytes),
        get(&s.rejected_connections),
        store.expired_keys,
        store.evicted_keys,
        store.tombstones,
        get(&keyspace.keyspace_hits),
        get(&keyspace.keyspace_misses),
        get(&s.error_replies),
        get(&s.protocol_errors),
        tracking.1,
        tracking.2,
        tracking.3,
    );
}

/// CPU time this process (and its waited-for children) used, in seconds, as Redis prints it.
fn cpu(text: &mut String) {
    let (user, sys) = cpu_seconds(libc::RUSAGE_SELF);
    let (user_children, sys_children) = cpu_seconds(libc::RUSAGE_CHILDREN);
    let _ = write!(
        text,
        "# CPU\r\nused_cpu_sys:{sys:.6}\r\nused_cpu_user:{user:.6}\r\nused_cpu_sys_children:{sys_children:.6}\r\nused_cpu_user_children:{user_children:.6}\r\n",
    );
}

/// User and system CPU seconds from `getrusage(who)` (zeros if it fails).
fn cpu_seconds(who: libc::c_int) -> (f64, f64) {
    let mut usage = std::mem::MaybeUninit::<libc::rusage>::zeroed();
    // SAFETY: getrusage writes one rusage into the buffer it is given, which is large enough
    // and zeroed; it is read only if the call succeeded.
    #[allow(unsafe_code)]
    let usage = unsafe {
        if libc::getrusage(who, usage.as_mut_ptr()) != 0 {
            return (0.0, 0.0);
        }
        usage.assume_init()
    };
    let seconds = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
    (seconds(usage.ru_utime), seconds(usage.ru_stime))
}

fn keyspace(node: &NodeState, text: &mut String) {
    text.push_str("# Keyspace\r\n");
    let stats = node.store.stats();
    if stats.keys > 0 {
        let _ = write!(
            text,
            "db0:keys={},expires={},avg_ttl=0\r\n",
            stats.keys, stats.keys_with_deadline
        );
    }
}
