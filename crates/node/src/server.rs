//! Starting and stopping a node: the server layer serves its connections; this adds the
//! store and the background tasks (active expiry, the ops/sec sampler, metrics publishing).
//!
//! A node is a library first: [`start`] binds any address (port 0 included) inside a running
//! tokio runtime and returns a [`NodeHandle`]; the `cachering node` binary and tests use the
//! same call.

use std::collections::VecDeque;
use std::io;
use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use cachering_server::{Bound, Endpoint, ServerHandle};
use tokio::task::JoinHandle;

use crate::command::NodeService;
use crate::config::NodeConfig;
use crate::state::NodeState;
use crate::store;

/// Redis's `hz`: background work runs ten times a second.
const TICK: Duration = Duration::from_millis(100);
/// Entries examined per sweep step; the sweep repeats while more than a tenth of a step was
/// expired, as Redis's active expiry does, within [`SWEEP_TIME_BUDGET`] per tick.
const SWEEP_STEP: usize = 200;
const SWEEP_TIME_BUDGET: Duration = Duration::from_millis(5);
/// Samples kept for `instantaneous_ops_per_sec` (one per tick: the last second and a half).
const OPS_SAMPLES: usize = 16;

/// A running node.
pub struct NodeHandle {
    state: Arc<NodeState>,
    server: ServerHandle,
    background: JoinHandle<()>,
}

impl NodeHandle {
    /// The address the node listens on (with the real port when it was started on port 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.server.local_addr()
    }

    /// The run id INFO reports; new on every start.
    pub fn run_id(&self) -> &str {
        &self.state.endpoint.run_id
    }

    /// The node's shared state (store, stats, settings).
    pub fn state(&self) -> &Arc<NodeState> {
        &self.state
    }

    /// Asks the node to stop: it stops accepting, lets connections finish what they were sent,
    /// and ends within the shutdown timeout.
    pub fn shutdown(&self) {
        self.server.shutdown();
    }

    /// Waits until the node has stopped (after [`shutdown`](Self::shutdown) or a SHUTDOWN command).
    pub async fn stopped(self) {
        self.server.stopped().await;
        self.background.abort();
        tracing::info!("node stopped");
    }

    /// Stops the node and waits for it.
    pub async fn stop(self) {
        self.shutdown();
        self.stopped().await;
    }
}

/// Binds and starts a node inside the current tokio runtime.
pub async fn start(config: NodeConfig) -> io::Result<NodeHandle> {
    if let Some(name) = &config.name {
        let printable = name.bytes().all(|b| b.is_ascii_graphic());
        if name.is_empty() || name.len() > 255 || !printable {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("invalid node name {name:?}: 1 to 255 printable characters, no spaces"),
            ));
        }
    }
    let bound = Bound::bind(&config.listener.bind, config.port()).await?;
    let addr = bound.local_addr();
    let store = store::build(config.store, config.maxmemory.bytes());
    tracing::info!(
        %addr,
        store = config.store.name(),
        maxmemory = config.maxmemory.bytes(),
        maxclients = config.listener.maxclients,
        auth = config.listener.requirepass.is_some(),
        timeout = config.listener.timeout,
        "node listening"
    );
    let endpoint = Arc::new(Endpoint::new(config.listener.clone()));
    let state = Arc::new(NodeState::new(
        config,
        store,
        endpoint.clone(),
        &addr.to_string(),
    ));
    let server = bound.serve(endpoint, Arc::new(NodeService::new(Arc::clone(&state))));
    let background = tokio::spawn(background(Arc::clone(&state)));
    Ok(NodeHandle {
        state,
        server,
        background,
    })
}

/// Active expiry and the ops/sec sampler, ten times a second.
async fn background(state: Arc<NodeState>) {
    let mut ticker = tokio::time::interval(TICK);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    let mut samples: VecDeque<(Instant, u64)> = VecDeque::with_capacity(OPS_SAMPLES);
    loop {
        ticker.tick().await;
        let store = Arc::clone(&state.store);
        // The sweep takes shard locks briefly; keep it off the async workers' hot path.
        let _ = tokio::task::spawn_blocking(move || sweep(&*store)).await;
        let now = Instant::now();
        let processed = state
            .endpoint
            .stats
            .commands_processed
            .load(Ordering::Relaxed);
        if samples.len() == OPS_SAMPLES {
            samples.pop_front();
        }
        samples.push_back((now, processed));
        if state.timing {
            // Only for an exporter (INFO reads the same counters itself): publishing reads the
            // process's resident memory from /proc, four system calls ten times a second.
            state.metrics.publish(&state);
        }
        if let (Some(first), Some(last)) = (samples.front(), samples.back()) {
            let elapsed = last.0.duration_since(first.0).as_secs_f64();
            if elapsed > 0.0 {
                let rate = last.1.saturating_sub(first.1) as f64 / elapsed;
                state
                    .stats
                    .instantaneous_ops_per_sec
                    .store(rate as u64, Ordering::Relaxed);
            }
        }
    }
}

/// One tick of active expiry: sweep steps while they keep finding expired keys.
fn sweep(store: &dyn store::Store) {
    let started = Instant::now();
    loop {
        let step = store.sweep_expired(crate::clock::now_ms(), SWEEP_STEP);
        if step.examined == 0
            || step.expired * 10 < step.examined
            || started.elapsed() > SWEEP_TIME_BUDGET
        {
            break;
        }
    }
}
