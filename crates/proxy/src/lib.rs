//! `cachering proxy`: a Redis-protocol endpoint for the whole ring.
//!
//! redis-cli, Python, Node, Go and shell scripts talk to the proxy as to one Redis; the proxy
//! runs the cachering client, so they get the ring's routing, replication, failover and repair.
//! It uses the node's request decoder and limits and answers in RESP2 or RESP3.

pub mod config;
mod connection;
pub mod dispatch;
mod info;
pub mod metrics;
pub mod state;

use std::io;
use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpListener;
use tokio::task::JoinHandle;
use tokio_util::task::TaskTracker;

pub use config::{ProxyArgs, ProxyConfig};
use state::ProxyState;

/// A running proxy.
pub struct ProxyHandle {
    state: Arc<ProxyState>,
    addr: SocketAddr,
    task: JoinHandle<()>,
}

impl ProxyHandle {
    /// Where the proxy listens.
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// The proxy's shared state (its client included).
    pub fn state(&self) -> &Arc<ProxyState> {
        &self.state
    }

    /// Asks the proxy to stop accepting and finish.
    pub fn shutdown(&self) {
        self.state.shutdown.send_replace(true);
    }

    /// Waits until the proxy has stopped.
    pub async fn stopped(self) {
        let _ = self.task.await;
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
    let listener = TcpListener::bind((config.bind.as_str(), config.port)).await?;
    let addr = listener.local_addr()?;
    tracing::info!(%addr, nodes = ?config.nodes, replicas = config.replicas, "proxy listening");
    let state = Arc::new(ProxyState::new(client, config));
    state.port.store(addr.port() as usize, Ordering::Relaxed);
    let task = tokio::spawn(run(listener, Arc::clone(&state)));
    Ok(ProxyHandle { state, addr, task })
}

async fn run(listener: TcpListener, state: Arc<ProxyState>) {
    let connections = TaskTracker::new();
    let mut shutdown = state.shutdown.subscribe();
    loop {
        tokio::select! {
            () = async { let _ = shutdown.wait_for(|stopping| *stopping).await; } => break,
            accepted = listener.accept() => match accepted {
                Ok((stream, addr)) => {
                    state.connections_received.fetch_add(1, Ordering::Relaxed);
                    if state.connected.load(Ordering::Relaxed) >= state.config.maxclients {
                        state.rejected_connections.fetch_add(1, Ordering::Relaxed);
                        ::metrics::counter!(metrics::CONNECTIONS_TOTAL, "result" => "rejected").increment(1);
                        connections.spawn(cachering_node::connection::refuse(stream, addr));
                        continue;
                    }
                    ::metrics::counter!(metrics::CONNECTIONS_TOTAL, "result" => "accepted").increment(1);
                    connections.spawn(connection::serve(stream, Arc::clone(&state)));
                }
                Err(error) => {
                    tracing::warn!(%error, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            }
        }
    }
    drop(listener);
    connections.close();
    let grace = Duration::from_secs(state.config.shutdown_timeout);
    if tokio::time::timeout(grace, connections.wait())
        .await
        .is_err()
    {
        tracing::warn!("shutdown timeout reached; closing remaining connections");
    }
    tracing::info!("proxy stopped");
}
