//! Installing the Prometheus exporter: only the binary does this; the libraries record through
//! the `metrics` facade.

use std::net::{SocketAddr, ToSocketAddrs};

use anyhow::{Context, Result};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder};

/// Serves `/metrics` at `addr`, with bucketed histograms for every `_seconds` metric. Must run
/// inside the tokio runtime, which then also serves the endpoint.
pub fn install(addr: &str) -> Result<SocketAddr> {
    let socket: SocketAddr = addr
        .to_socket_addrs()
        .with_context(|| format!("invalid metrics address '{addr}'"))?
        .next()
        .with_context(|| format!("metrics address '{addr}' resolves to nothing"))?;
    PrometheusBuilder::new()
        .with_http_listener(socket)
        .set_buckets_for_metric(
            Matcher::Suffix("_seconds".to_string()),
            cachering_node::metrics::LATENCY_BUCKETS,
        )
        .context("invalid histogram buckets")?
        .install()
        .with_context(|| format!("cannot serve metrics on {socket}"))?;
    tracing::info!(%socket, "serving Prometheus metrics at /metrics");
    Ok(socket)
}
