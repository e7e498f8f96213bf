//! What every connection of one node shares: the store, the settings that CONFIG SET can change,
//! the counters INFO reports, the client registry and the shutdown signal.

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, RwLock};
use std::time::Instant;

use tokio::sync::watch;

use crate::clients::ClientRegistry;
use crate::config::NodeConfig;
use crate::store::Store;

/// Counters behind INFO's stats section. Relaxed atomics: each is a tally, never a guard.
#[derive(Debug, Default)]
pub struct Stats {
    /// Connections accepted.
    pub connections_received: AtomicU64,
    /// Connections refused (over `maxclients`).
    pub rejected_connections: AtomicU64,
    /// Commands run.
    pub commands_processed: AtomicU64,
    /// Reads that found their key.
    pub keyspace_hits: AtomicU64,
    /// Reads that did not.
    pub keyspace_misses: AtomicU64,
    /// Bytes read from clients.
    pub net_input_bytes: AtomicU64,
    /// Bytes written to clients.
    pub net_output_bytes: AtomicU64,
    /// Protocol errors (requests that could not be framed).
    pub protocol_errors: AtomicU64,
    /// Error replies sent.
    pub error_replies: AtomicU64,
    /// Operations per second over the last sampling window, for INFO.
    pub instantaneous_ops_per_sec: AtomicU64,
}

impl Stats {
    /// Zeroes the counters CONFIG RESETSTAT resets.
    pub fn reset(&self) {
        for counter in [
            &self.connections_received,
            &self.rejected_connections,
            &self.commands_processed,
            &self.keyspace_hits,
            &self.keyspace_misses,
            &self.net_input_bytes,
            &self.net_output_bytes,
            &self.protocol_errors,
            &self.error_replies,
        ] {
            counter.store(0, Ordering::Relaxed);
        }
    }
}

/// The node's shared state.
pub struct NodeState {
    /// The key space.
    pub store: Arc<dyn Store>,
    /// Current settings; CONFIG SET writes here.
    pub config: RwLock<NodeConfig>,
    /// INFO counters.
    pub stats: Stats,
    /// Connected clients.
    pub clients: ClientRegistry,
    /// 40 hex characters, new on every start: tells a client this node lost its data.
    pub run_id: String,
    /// When the node started.
    pub started: Instant,
    /// The port actually bound (differs from the config's when it asked for 0).
    pub port: AtomicUsize,
    /// Set to true to stop the node.
    pub shutdown: watch::Sender<bool>,
    /// Metric handles.
    pub metrics: crate::metrics::NodeMetrics,
    /// Whether commands are timed (metrics are being exported).
    pub timing: bool,
}

impl NodeState {
    /// State for a node with `config` and `store`, labelled `name` in metrics.
    pub fn new(config: NodeConfig, store: Arc<dyn Store>, name: &str) -> Self {
        let (shutdown, _) = watch::channel(false);
        Self {
            metrics: crate::metrics::NodeMetrics::new(name),
            timing: config.metrics_addr.is_some(),
            store,
            config: RwLock::new(config),
            stats: Stats::default(),
            clients: ClientRegistry::default(),
            run_id: new_run_id(),
            started: Instant::now(),
            port: AtomicUsize::new(0),
            shutdown,
        }
    }

    /// A copy of the current settings.
    pub fn config(&self) -> NodeConfig {
        self.config
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .clone()
    }

    /// Reads the settings without copying them.
    pub fn with_config<T>(&self, f: impl FnOnce(&NodeConfig) -> T) -> T {
        f(&self
            .config
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner()))
    }

    /// Changes the settings.
    pub fn update_config<T>(&self, f: impl FnOnce(&mut NodeConfig) -> T) -> T {
        f(&mut self
            .config
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner()))
    }

    /// Asks the node to stop.
    pub fn request_shutdown(&self) {
        self.shutdown.send_replace(true);
    }

    /// Whether the node is stopping.
    pub fn is_shutting_down(&self) -> bool {
        *self.shutdown.borrow()
    }
}

fn new_run_id() -> String {
    let bytes: [u8; 20] = rand::random();
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
