//! What every proxy connection shares.

use std::sync::Arc;

use cachering_client::Client;
use cachering_server::Endpoint;

use crate::config::ProxyConfig;

/// The proxy's shared state.
pub struct ProxyState {
    /// The client over the ring.
    pub client: Client,
    /// Settings as started (the listener's live settings are the endpoint's).
    pub config: ProxyConfig,
    /// The server layer's shared state: clients, connection counters, run id, shutdown.
    pub endpoint: Arc<Endpoint>,
    /// Metric handles.
    pub metrics: crate::metrics::ProxyMetrics,
}
