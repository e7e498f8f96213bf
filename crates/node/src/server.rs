//! Starting and stopping a node: the accept loop, the connection limit, the background tasks
//! (active expiry, the ops/sec sampler) and graceful shutdown.
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

use tokio::net::TcpListener;
use tokio::task::JoinHandle;
use tokio_util::task::TaskTracker;

use crate::config::NodeConfig;
use crate::connection;
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
/// After the shutdown timeout, connections still open are cut; this long is allowed for that.
const FORCED_CLOSE: Duration = Duration::from_secs(1);

/// A running node.
pub struct NodeHandle {
    state: Arc<NodeState>,
    addr: SocketAddr,
    task: JoinHandle<()>,
}

impl NodeHandle {
    /// The address the node listens on (with the real port when it was started on port 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// The run id INFO reports; new on every start.
    pub fn run_id(&self) -> &str {
        &self.state.run_id
    }

    /// The node's shared state (store, stats, settings).
    pub fn state(&self) -> &Arc<NodeState> {
        &self.state
    }

    /// Asks the node to stop: it stops accepting, lets connections finish what they were sent,
    /// and ends within the shutdown timeout.
    pub fn shutdown(&self) {
        self.state.request_shutdown();
    }

    /// Waits until the node has stopped (after [`shutdown`](Self::shutdown) or a SHUTDOWN command).
    pub async fn stopped(self) {
        let _ = self.task.await;
    }

    /// Stops the node and waits for it.
    pub async fn stop(self) {
        self.shutdown();
        self.stopped().await;
    }
}

/// Binds and starts a node inside the current tokio runtime.
pub async fn start(config: NodeConfig) -> io::Result<NodeHandle> {
    let listener = TcpListener::bind((config.bind.as_str(), config.port)).await?;
    let addr = listener.local_addr()?;
    let store = store::build(config.store, config.maxmemory.bytes());
    tracing::info!(
        %addr,
        store = config.store.name(),
        maxmemory = config.maxmemory.bytes(),
        maxclients = config.maxclients,
        auth = config.requirepass.is_some(),
        timeout = config.timeout,
        "node listening"
    );
    let state = Arc::new(NodeState::new(config, store, &addr.to_string()));
    state.port.store(addr.port() as usize, Ordering::Relaxed);
    let task = tokio::spawn(run(listener, Arc::clone(&state)));
    Ok(NodeHandle { state, addr, task })
}

async fn run(listener: TcpListener, state: Arc<NodeState>) {
    let connections = TaskTracker::new();
    let background = tokio::spawn(background(Arc::clone(&state)));
    let mut shutdown = state.shutdown.subscribe();
    loop {
        tokio::select! {
            () = async { let _ = shutdown.wait_for(|stopping| *stopping).await; } => break,
            accepted = listener.accept() => match accepted {
                Ok((stream, addr)) => {
                    state.stats.connections_received.fetch_add(1, Ordering::Relaxed);
                    if state.clients.len() >= state.with_config(|c| c.maxclients) {
                        state.stats.rejected_connections.fetch_add(1, Ordering::Relaxed);
                        connections.spawn(connection::refuse(stream, addr));
                        continue;
                    }
                    let local = stream.local_addr().unwrap_or(addr);
                    let client = state.clients.register(addr, local);
                    connections.spawn(connection::serve(stream, Arc::clone(&state), client));
                }
                Err(error) => {
                    // Out of file descriptors and similar: back off instead of spinning.
                    tracing::warn!(%error, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            }
        }
    }
    drop(listener);
    connections.close();
    let grace = Duration::from_secs(state.with_config(|c| c.shutdown_timeout));
    tracing::info!(connections = state.clients.len(), "node stopping");
    if tokio::time::timeout(grace, connections.wait())
        .await
        .is_err()
    {
        tracing::warn!(
            connections = state.clients.len(),
            "shutdown timeout reached; closing remaining connections"
        );
        state.clients.kill_all();
        let _ = tokio::time::timeout(FORCED_CLOSE, connections.wait()).await;
    }
    background.abort();
    tracing::info!("node stopped");
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
        let processed = state.stats.commands_processed.load(Ordering::Relaxed);
        if samples.len() == OPS_SAMPLES {
            samples.pop_front();
        }
        samples.push_back((now, processed));
        state.metrics.publish(&state);
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
