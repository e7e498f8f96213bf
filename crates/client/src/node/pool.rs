//! A node's connections: a fixed number of slots, each holding one multiplexed connection. A
//! key always maps to the same slot, so every command for a key reaches the node in the order
//! it was sent.
//!
//! A dead connection is replaced on the next request that needs it, after a jittered,
//! doubling wait ([`Backoff`]) once connecting has failed, so requests to a node that is down
//! fail fast instead of each paying a connect timeout. Connecting reads the node's run id:
//! a new one means the node restarted empty ([`Node::observe_run_id`]).

use std::sync::Arc;

use arc_swap::ArcSwapOption;
use tokio::time::Instant;

use super::Node;
use crate::backoff::{Backoff, RECONNECT_MAX, RECONNECT_MIN};
use crate::connection::Connection;
use crate::error::{Error, ErrorKind, Result};

/// One connection slot: the live connection, read without waiting on every request, and the
/// reconnect state behind a lock taken only when there is no live connection.
struct Slot {
    live: ArcSwapOption<Connection>,
    reconnect: tokio::sync::Mutex<Reconnect>,
}

struct Reconnect {
    retry_at: Option<Instant>,
    backoff: Backoff,
}

pub(super) struct Pool {
    slots: Vec<Slot>,
}

impl Pool {
    pub fn new(connections: usize) -> Self {
        Self {
            slots: (0..connections.max(1))
                .map(|_| Slot {
                    live: ArcSwapOption::empty(),
                    reconnect: tokio::sync::Mutex::new(Reconnect {
                        retry_at: None,
                        backoff: Backoff::new(RECONNECT_MIN, RECONNECT_MAX),
                    }),
                })
                .collect(),
        }
    }

    pub fn len(&self) -> usize {
        self.slots.len()
    }

    /// The slot that carries `key`.
    pub fn slot_for(&self, key: &[u8]) -> usize {
        (crate::ring::key_hash(key) % self.slots.len() as u64) as usize
    }

    /// Aborts every connection (see [`Connection::abort`]); the next request reconnects.
    pub fn abort_all(&self) {
        for slot in &self.slots {
            if let Some(connection) = slot.live.swap(None) {
                connection.abort();
            }
        }
    }

    /// The live connection of `slot`, if there is one.
    pub fn live(&self, slot: usize) -> Option<Arc<Connection>> {
        self.slots[slot]
            .live
            .load_full()
            .filter(|connection| connection.is_alive())
    }
}

impl Node {
    /// The live connection of `slot`, opening one if needed (with backoff after failures).
    pub(super) async fn connection(self: &Arc<Self>, slot: usize) -> Result<Arc<Connection>> {
        if let Some(connection) = self.pool.live(slot) {
            return Ok(connection);
        }
        let entry = &self.pool.slots[slot];
        let mut reconnect = entry.reconnect.lock().await;
        // Another request may have reconnected while this one waited for the lock.
        if let Some(connection) = self.pool.live(slot) {
            return Ok(connection);
        }
        if let Some(retry_at) = reconnect.retry_at {
            if Instant::now() < retry_at {
                return Err(Error::new(ErrorKind::Io, "reconnecting after a failure")
                    .with_node(self.name()));
            }
        }
        match self.open().await {
            Ok(connection) => {
                let connection = Arc::new(connection);
                entry.live.store(Some(Arc::clone(&connection)));
                reconnect.retry_at = None;
                reconnect.backoff.reset();
                Ok(connection)
            }
            Err(e) => {
                entry.live.store(None);
                reconnect.retry_at = Some(Instant::now() + reconnect.backoff.next_wait());
                Err(e.with_node(self.name()))
            }
        }
    }

    /// Opens a connection, authenticates, and learns the node's run id.
    pub(super) async fn open(self: &Arc<Self>) -> Result<Connection> {
        let (connection, info) = Connection::open(
            &self.spec.addr,
            self.settings.connect_timeout,
            self.settings.request_timeout,
            self.settings.password.as_deref(),
        )
        .await?;
        let (run_id, name) = match &info {
            Some(text) => (parse_run_id(text), crate::discovery::reported_name(text)),
            None => (None, None),
        };
        if let Some(name) = name {
            *self.reported_name.lock().unwrap_or_else(|p| p.into_inner()) = Some(name);
        }
        if let Some(run_id) = run_id {
            self.observe_run_id(run_id);
        }
        Ok(connection)
    }

    /// The number of connection slots.
    pub(super) fn slots(&self) -> usize {
        self.pool.len()
    }
}

fn parse_run_id(info: &[u8]) -> Option<String> {
    let text = std::str::from_utf8(info).ok()?;
    text.lines()
        .find_map(|line| line.strip_prefix("run_id:"))
        .map(|id| id.trim().to_string())
}

#[cfg(test)]
mod tests {
    use super::parse_run_id;

    #[test]
    fn run_id_from_info() {
        assert_eq!(
            parse_run_id(b"# Server\r\nredis_version:7.0.0\r\nrun_id:abc123\r\n").as_deref(),
            Some("abc123")
        );
        assert_eq!(parse_run_id(b"# Server\r\n"), None);
    }
}
