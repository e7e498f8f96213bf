//! The proxy's own metrics (the client it runs records `cachering_client_*` per node).

use std::sync::atomic::Ordering;
use std::sync::OnceLock;

use cachering_server::Endpoint;
use metrics::{describe_counter, describe_gauge, Counter, Gauge};

use cachering_commands::{CommandSpec, COMMANDS};

/// Commands received, by command.
pub const COMMANDS_TOTAL: &str = "cachering_proxy_commands_total";
/// Clients connected now.
pub const CONNECTIONS: &str = "cachering_proxy_connections";
/// Connections, by result (accepted, rejected).
pub const CONNECTIONS_TOTAL: &str = "cachering_proxy_connections_total";

/// Every metric name the proxy registers.
pub const ALL: &[&str] = &[COMMANDS_TOTAL, CONNECTIONS, CONNECTIONS_TOTAL];

/// Describes every metric to the installed recorder.
pub fn describe() {
    describe_counter!(
        COMMANDS_TOTAL,
        "Commands received by the proxy, by command."
    );
    describe_gauge!(CONNECTIONS, "Clients connected to the proxy now.");
    describe_counter!(
        CONNECTIONS_TOTAL,
        "Connections to the proxy by result: accepted, or rejected over maxclients."
    );
}

/// Per-command counters, indexed like the command table and registered on a command's first
/// call (an idle proxy exports no series for commands it never saw), and the connection
/// counters.
pub struct ProxyMetrics {
    commands: Vec<OnceLock<Counter>>,
    connections: Gauge,
    accepted: Counter,
    rejected: Counter,
}

impl ProxyMetrics {
    /// Resolves the handles.
    pub fn new() -> Self {
        describe();
        Self {
            commands: COMMANDS.iter().map(|_| OnceLock::new()).collect(),
            connections: metrics::gauge!(CONNECTIONS),
            accepted: metrics::counter!(CONNECTIONS_TOTAL, "result" => "accepted"),
            rejected: metrics::counter!(CONNECTIONS_TOTAL, "result" => "rejected"),
        }
    }

    /// Publishes the connection counters of `endpoint` as absolute values.
    pub fn publish(&self, endpoint: &Endpoint) {
        let stats = &endpoint.stats;
        let received = stats.connections_received.load(Ordering::Relaxed);
        let rejected = stats.rejected_connections.load(Ordering::Relaxed);
        self.connections.set(endpoint.clients.len() as f64);
        self.accepted.absolute(received.saturating_sub(rejected));
        self.rejected.absolute(rejected);
    }

    /// Counts one command.
    pub fn command(&self, spec: &CommandSpec) {
        if let Some(counter) = self.commands.get(spec.index()) {
            counter
                .get_or_init(|| metrics::counter!(COMMANDS_TOTAL, "cmd" => spec.name))
                .increment(1);
        }
    }
}

impl Default for ProxyMetrics {
    fn default() -> Self {
        Self::new()
    }
}
