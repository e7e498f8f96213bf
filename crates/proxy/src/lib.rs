//! `cachering proxy`: a Redis-protocol endpoint for the whole ring.
//!
//! redis-cli, Python, Node, Go and shell scripts talk to the proxy as to one Redis; the proxy
//! runs the cachering client, so they get the ring's routing, replication, failover and repair,
//! exactly as a Rust program linking the client does. The listener, connections and
//! connection commands are the server layer's (`cachering-server`), the same as a node's.

pub mod config;
mod info;
pub mod metrics;
pub mod service;
pub mod state;

use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use cachering_server::{Bound, Endpoint, ServerHandle};
use tokio::task::JoinHandle;

pub use config::{ProxyArgs, ProxyConfig};
pub use service::ProxyService;
use state::ProxyState;

/// How often the connection counters are published as metrics.
const PUBLISH_EVERY: Duration = Duration::from_millis(100);

/// A running proxy.
pub struct ProxyHandle {
    state: Arc<ProxyState>,
    server: ServerHandle,
    publisher: JoinHandle<()>,
}

impl ProxyHandle {
    /// Where the proxy listens.
    pub fn local_addr(&self) -> SocketAddr {
        self.server.local_addr()
    }

    /// The proxy's shared state (its client included).
    pub fn state(&self) -> &Arc<ProxyState> {
        &self.state
    }

    /// Asks the proxy to stop accepting and finish.
    pub fn shutdown(&self) {
        self.server.shutdown();
    }

    /// Waits until the proxy has stopped.
    pub async fn stopped(self) {
        self.server.stopped().await;
        self.publisher.abort();
        tracing::info!("proxy stopped");
    }

    /// Takes the node list of `config` (the config file read again, on SIGHUP): a static list
    /// replaces the ring (keys then migrate as after any ring change); nodes found by DNS
    /// follow DNS, so with `dns+`/`dnssrv+` sources the list is left as it is. Nothing else
    /// changes without a restart. Returns what it did, for the log.
    ///
    /// # Errors
    ///
    /// A node list that does not parse, or is empty; the ring is left as it was.
    pub fn reload_nodes(&self, config: &ProxyConfig) -> Result<String, String> {
        if config.nodes.is_empty() {
            return Err("the reloaded configuration has no nodes; keeping the ring".to_string());
        }
        if config
            .nodes
            .iter()
            .any(|n| n.starts_with("dns+") || n.starts_with("dnssrv+"))
        {
            return Ok("nodes found by DNS follow DNS; the node list is unchanged".to_string());
        }
        let specs = config
            .nodes
            .iter()
            .map(|node| cachering_client::NodeSpec::parse(node).map_err(|e| e.to_string()))
            .collect::<Result<Vec<_>, _>>()?;
        let count = specs.len();
        self.state
            .client
            .set_nodes(specs)
            .map_err(|e| e.to_string())?;
        Ok(format!("node list reloaded: {count} nodes"))
    }

    /// Stops and waits.
    pub async fn stop(self) {
        self.shutdown();
        self.stopped().await;
    }
}

/// Binds and starts a proxy inside the current tokio runtime.
pub async fn start(config: ProxyConfig) -> io::Result<ProxyHandle> {
    let client = config
        .client_builder()
        .and_then(|builder| {
            builder
                .build()
                .map_err(|e| config::ConfigError::Invalid(e.to_string()))
        })
        .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e.to_string()))?;
    let bound = Bound::bind(&config.listener.bind, config.port()).await?;
    let addr = bound.local_addr();
    tracing::info!(%addr, nodes = ?config.nodes, replicas = config.replicas, "proxy listening");
    let endpoint = Arc::new(Endpoint::new(config.listener.clone()));
    let state = Arc::new(ProxyState {
        client,
        config,
        endpoint: Arc::clone(&endpoint),
        metrics: metrics::ProxyMetrics::new(),
    });
    let server = bound.serve(endpoint, Arc::new(ProxyService::new(Arc::clone(&state))));
    let publisher = tokio::spawn(publish(Arc::clone(&state)));
    Ok(ProxyHandle {
        state,
        server,
        publisher,
    })
}

/// Publishes the connection counters the server layer keeps.
async fn publish(state: Arc<ProxyState>) {
    let mut tick = tokio::time::interval(PUBLISH_EVERY);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    loop {
        tick.tick().await;
        state.metrics.publish(&state.endpoint);
    }
}
