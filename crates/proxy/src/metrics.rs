//! The proxy's own metrics (the client it runs records `cachering_client_*` per node).

use metrics::{describe_counter, describe_gauge, Counter};

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

/// Per-command counters, indexed like the node's command table.
pub struct ProxyMetrics {
    commands: Vec<Counter>,
}

impl ProxyMetrics {
    /// Resolves the handles.
    pub fn new() -> Self {
        describe();
        Self {
            commands: COMMANDS
                .iter()
                .map(|spec| metrics::counter!(COMMANDS_TOTAL, "cmd" => spec.name))
                .collect(),
        }
    }

    /// Counts one command.
    pub fn command(&self, spec: &CommandSpec) {
        if let Some(counter) = self.commands.get(spec.index()) {
            counter.increment(1);
        }
    }
}

impl Default for ProxyMetrics {
    fn default() -> Self {
        Self::new()
    }
}
