//! What every connection of one node shares beyond the server layer's endpoint: the store, the
//! node's own settings, the key-space counters INFO reports, and the metric handles.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};

use cachering_server::Endpoint;

use crate::config::NodeConfig;
use crate::store::Store;

/// Key-space counters behind INFO's stats section (the connection counters live in the
/// endpoint). Relaxed atomics: each is a tally, never a guard.
#[derive(Debug, Default)]
pub struct Stats {
    /// Reads that found their key.
    pub keyspace_hits: AtomicU64,
    /// Reads that did not.
    pub keyspace_misses: AtomicU64,
    /// Operations per second over the last sampling window, for INFO.
    pub instantaneous_ops_per_sec: AtomicU64,
}

impl Stats {
    /// Zeroes the counters CONFIG RESETSTAT resets.
    pub fn reset(&self) {
        self.keyspace_hits.store(0, Ordering::Relaxed);
        self.keyspace_misses.store(0, Ordering::Relaxed);
    }
}

/// The node's shared state.
pub struct NodeState {
    /// The key space.
    pub store: Arc<dyn Store>,
    /// The node's settings as started, with CONFIG SET's changes to its own fields. The
    /// listener's live settings are the endpoint's; [`NodeState::config`] joins the two.
    config: RwLock<NodeConfig>,
    /// The server layer's shared state: listener settings, clients, connection counters,
    /// run id, shutdown.
    pub endpoint: Arc<Endpoint>,
    /// Key-space counters.
    pub stats: Stats,
    /// The node's clock and tombstone lifetime.
    pub versions: crate::versions::Versions,
    /// Metric handles.
    pub metrics: crate::metrics::NodeMetrics,
    /// Whether commands are timed (metrics are being exported).
    pub timing: bool,
    /// The node's name (INFO `cachering_node_name`): the configured one, or the host name.
    pub name: String,
    /// Woken whenever a list changes, so the clients blocked in BLPOP and its kin look again.
    pub lists_changed: tokio::sync::Notify,
}

impl NodeState {
    /// A key's value changed (written, deleted, expired or evicted; `writer` when a client
    /// wrote it): clients that track it are told (CLIENT TRACKING).
    pub fn key_changed(&self, key: &[u8], writer: Option<u64>) {
        self.endpoint
            .tracking
            .invalidate(&self.endpoint.clients, key, writer);
    }

    /// State for a node with `config` and `store` behind `endpoint`, labelled `name` in
    /// metrics.
    pub fn new(
        config: NodeConfig,
        store: Arc<dyn Store>,
        endpoint: Arc<Endpoint>,
        name: &str,
    ) -> Self {
        // Keys that expire or are evicted are invalidated for the clients that track them.
        let departures = Arc::clone(&endpoint);
        store.on_departure(Box::new(move |key| {
            departures
                .tracking
                .invalidate(&departures.clients, key, None);
        }));
        let timing = config.metrics_addr.is_some();
        if timing {
            // Calibrates the clock commands are timed with (up to 200 ms, once per process)
            // now rather than on the first command.
            let _ = quanta::Instant::now();
        }
        Self {
            name: config
                .name
                .clone()
                .unwrap_or_else(|| gethostname::gethostname().to_string_lossy().into_owned()),
            metrics: crate::metrics::NodeMetrics::new(name),
            timing,
            versions: crate::versions::Versions::new(config.tombstone_ttl),
            store,
            config: RwLock::new(config),
            endpoint,
            stats: Stats::default(),
            lists_changed: tokio::sync::Notify::new(),
        }
    }

    /// A copy of the current settings, the listener's included.
    pub fn config(&self) -> NodeConfig {
        let mut config = self
            .config
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .clone();
        config.listener = self.endpoint.with_settings(Clone::clone);
        config
    }

    /// Changes the node's own settings (the listener's are changed on the endpoint).
    pub fn update_config<T>(&self, f: impl FnOnce(&mut NodeConfig) -> T) -> T {
        f(&mut self
            .config
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner()))
    }
}
