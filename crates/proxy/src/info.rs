//! The proxy's INFO: its own sections plus one line per node as the proxy's client sees it.

use std::fmt::Write;
use std::sync::atomic::Ordering;

use cachering_server::commands::auth::REDIS_VERSION;

use cachering_client::NodeState;

use crate::state::ProxyState;

/// Renders INFO (every section).
pub fn render(state: &ProxyState) -> String {
    let mut text = String::new();
    let endpoint = &state.endpoint;
    let uptime = endpoint.started.elapsed().as_secs();
    let _ = write!(
        text,
        "# Server\r\nredis_version:{}\r\nredis_mode:proxy\r\ncachering_version:{}\r\nrun_id:{}\r\ntcp_port:{}\r\nuptime_in_seconds:{uptime}\r\nprocess_id:{}\r\nreplicas:{}\r\n\r\n",
        REDIS_VERSION,
        env!("CARGO_PKG_VERSION"),
        endpoint.run_id,
        endpoint.port(),
        std::process::id(),
        state.config.replicas,
    );
    let _ = write!(
        text,
        "# Clients\r\nconnected_clients:{}\r\nmaxclients:{}\r\nblocked_clients:{}\r\n\r\n# Stats\r\ntotal_connections_received:{}\r\ntotal_commands_processed:{}\r\nrejected_connections:{}\r\n\r\n# Cluster\r\ncluster_enabled:0\r\n\r\n# Nodes\r\n",
        endpoint.clients.len(),
        endpoint.with_settings(|s| s.maxclients),
        endpoint.clients.blocked(),
        endpoint.stats.connections_received.load(Ordering::Relaxed),
        endpoint.stats.commands_processed.load(Ordering::Relaxed),
        endpoint.stats.rejected_connections.load(Ordering::Relaxed),
    );
    let nodes = state.client.node_status();
    let migration_ms = state
        .client
        .migration_remaining()
        .map_or(0, |left| left.as_millis());
    let _ = write!(
        text,
        "nodes:{}\r\nmigration_remaining_ms:{migration_ms}\r\n",
        nodes.len()
    );
    for (index, node) in nodes.iter().enumerate() {
        let status = match node.state {
            NodeState::Healthy => "healthy",
            NodeState::Ejected => "ejected",
            NodeState::Recovering => "recovering",
            _ => "unknown",
        };
        let _ = write!(
            text,
            "node{index}:name={},addr={},state={status},run_id={},failures={},hints_pending={},warming={},refilling={}\r\n",
            node.name,
            node.addr,
            node.run_id.as_deref().unwrap_or("-"),
            node.failures,
            node.hints_pending,
            u8::from(node.warming),
            u8::from(node.refilling),
        );
    }
    // The hot keys, as the client's detector sees them (printable bytes as they are, others
    // escaped as \xNN).
    let hot = state.client.hot_keys();
    let _ = write!(text, "\r\n# Hotkeys\r\nhot_keys:{}\r\n", hot.len());
    for (index, hot) in hot.iter().enumerate() {
        let _ = write!(
            text,
            "hotkey{index}:key={},share={:.3}\r\n",
            hot.key.escape_ascii(),
            hot.share
        );
    }
    text
}
