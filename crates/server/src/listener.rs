//! Binding, accepting and stopping.
//!
//! - A connection over `maxclients` is refused with Redis's error before anything is spawned
//!   for it: the client is registered (and counted) in the accept loop itself, so a burst of
//!   connects cannot pass the limit.
//! - Stopping ([`Endpoint::request_shutdown`], SIGTERM in the binary, SHUTDOWN on a node)
//!   stops accepting; each connection answers what its client had already sent and closes;
//!   after the shutdown timeout the connections still open are cut.

use std::io;
use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use tokio::io::AsyncWriteExt;
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;
use tokio_util::task::TaskTracker;

use crate::endpoint::Endpoint;
use crate::service::Service;

/// After the shutdown timeout, connections still open are cut; this long is allowed for that.
const FORCED_CLOSE: Duration = Duration::from_secs(1);
/// How long a refused client is given to read its error.
const REFUSAL_WRITE: Duration = Duration::from_secs(1);
/// After a failed accept (out of file descriptors), wait before the next instead of spinning.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(50);

/// A socket bound, not yet serving (so the caller can learn its address first).
pub struct Bound {
    listener: TcpListener,
    addr: SocketAddr,
}

impl Bound {
    /// Binds `bind:port` (port 0 picks a free one).
    pub async fn bind(bind: &str, port: u16) -> io::Result<Self> {
        let listener = TcpListener::bind((bind, port)).await?;
        let addr = listener.local_addr()?;
        Ok(Self { listener, addr })
    }

    /// The address bound.
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// Serves `service` on this socket until `endpoint` is asked to stop.
    pub fn serve<S: Service>(self, endpoint: Arc<Endpoint>, service: Arc<S>) -> ServerHandle {
        endpoint.set_port(self.addr.port());
        let task = tokio::spawn(accept_loop(self.listener, Arc::clone(&endpoint), service));
        ServerHandle {
            endpoint,
            addr: self.addr,
            task,
        }
    }
}

/// A running server.
pub struct ServerHandle {
    endpoint: Arc<Endpoint>,
    addr: SocketAddr,
    task: JoinHandle<()>,
}

impl ServerHandle {
    /// Where the server listens.
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// The server's shared state.
    pub fn endpoint(&self) -> &Arc<Endpoint> {
        &self.endpoint
    }

    /// Asks the server to stop.
    pub fn shutdown(&self) {
        self.endpoint.request_shutdown();
    }

    /// Waits until the server has stopped and every connection is closed.
    pub async fn stopped(self) {
        let _ = self.task.await;
    }
}

async fn accept_loop<S: Service>(listener: TcpListener, endpoint: Arc<Endpoint>, service: Arc<S>) {
    let connections = TaskTracker::new();
    let mut shutdown = endpoint.shutdown_signal();
    loop {
        tokio::select! {
            () = async { let _ = shutdown.wait_for(|stopping| *stopping).await; } => break,
            accepted = listener.accept() => match accepted {
                Ok((stream, addr)) => {
                    endpoint.stats.connections_received.fetch_add(1, Ordering::Relaxed);
                    let maxclients = endpoint.with_settings(|s| s.maxclients);
                    if endpoint.clients.len() >= maxclients {
                        endpoint.stats.rejected_connections.fetch_add(1, Ordering::Relaxed);
                        connections.spawn(refuse(stream, addr));
                        continue;
                    }
                    let local = stream.local_addr().unwrap_or(addr);
                    let client = endpoint.clients.register(addr, local);
                    connections.spawn(crate::connection::serve(
                        stream,
                        Arc::clone(&endpoint),
                        Arc::clone(&service),
                        client,
                    ));
                }
                Err(error) => {
                    tracing::warn!(%error, "accept failed");
                    tokio::time::sleep(ACCEPT_BACKOFF).await;
                }
            }
        }
    }
    drop(listener);
    connections.close();
    let grace = Duration::from_secs(endpoint.with_settings(|s| s.shutdown_timeout));
    tracing::info!(connections = endpoint.clients.len(), "stopping");
    if tokio::time::timeout(grace, connections.wait())
        .await
        .is_err()
    {
        tracing::warn!(
            connections = endpoint.clients.len(),
            "shutdown timeout reached; closing remaining connections"
        );
        endpoint.clients.kill_all();
        let _ = tokio::time::timeout(FORCED_CLOSE, connections.wait()).await;
    }
    tracing::info!("stopped");
}

/// Refuses a connection over `maxclients` with Redis's error.
async fn refuse(mut stream: TcpStream, addr: SocketAddr) {
    tracing::warn!(%addr, "refusing connection: max number of clients reached");
    let _ = tokio::time::timeout(
        REFUSAL_WRITE,
        stream.write_all(b"-ERR max number of clients reached\r\n"),
    )
    .await;
}
