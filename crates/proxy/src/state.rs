//! What every proxy connection shares.

use std::sync::atomic::{AtomicU64, AtomicUsize};
use std::time::Instant;

use cachering_client::Client;
use tokio::sync::watch;

use crate::config::ProxyConfig;

/// The proxy's shared state.
pub struct ProxyState {
    /// The client over the ring.
    pub client: Client,
    /// Settings.
    pub config: ProxyConfig,
    /// 40 hex characters, new on every start.
    pub run_id: String,
    /// When the proxy started.
    pub started: Instant,
    /// The port bound.
    pub port: AtomicUsize,
    /// Connected clients.
    pub connected: AtomicUsize,
    /// Connections accepted.
    pub connections_received: AtomicU64,
    /// Connections refused over `maxclients`.
    pub rejected_connections: AtomicU64,
    /// Commands run.
    pub commands_processed: AtomicU64,
    /// Next client id.
    pub next_client_id: AtomicU64,
    /// Set to true to stop.
    pub shutdown: watch::Sender<bool>,
    /// Metric handles.
    pub metrics: crate::metrics::ProxyMetrics,
}

impl ProxyState {
    /// State for a proxy.
    pub fn new(client: Client, config: ProxyConfig) -> Self {
        let bytes: [u8; 20] = rand::random();
        Self {
            client,
            config,
            run_id: bytes.iter().map(|b| format!("{b:02x}")).collect(),
            started: Instant::now(),
            port: AtomicUsize::new(0),
            connected: AtomicUsize::new(0),
            connections_received: AtomicU64::new(0),
            rejected_connections: AtomicU64::new(0),
            commands_processed: AtomicU64::new(0),
            next_client_id: AtomicU64::new(1),
            shutdown: watch::channel(false).0,
            metrics: crate::metrics::ProxyMetrics::new(),
        }
    }
}
