//! Keys whose replicas changed with the ring. For `migration_window` after each change (nodes
//! added or removed, by discovery or [`Client::set_nodes`]), the client remembers the rings it
//! replaced:
//!
//! - a read whose key none of its new replicas knows (no value, no delete, on any replica that
//!   answered) looks on the key's replicas of the previous rings that are not replicas now,
//!   copies the newest state it finds to the new replicas (`VSET`/`VDEL` at its version, with
//!   the remaining time to live), and answers from them: adding or removing a node costs no
//!   misses, whichever entry point reads;
//! - a mutation of such a key first copies it the same way, so INCR continues from the value;
//! - a write or delete, once applied, deletes the key at the write's version on the nodes that
//!   held it on a previous ring and hold it no longer, so a later change that gives the key
//!   back to one of them cannot bring an older value back.
//!
//! With a single node added or removed, one of a key's two replicas stays the same, and the
//! newest read finds the value there (and repairs the new one); the previous ring matters when
//! several nodes change at once, or with one replica.

use std::sync::Arc;

use bytes::BytesMut;
use futures::future::join_all;
use smallvec::SmallVec;
use tokio::time::Instant;

use super::read::State;
use crate::client::Client;
use crate::connection::{command, encode_command};
use crate::node::{Node, UNKNOWN_VERSION};
use crate::reply::Reply;
use crate::topology::Topology;

/// A ring replaced less than the migration window ago.
#[derive(Clone)]
pub(crate) struct PreviousRing {
    pub topology: Arc<Topology>,
    pub until: Instant,
}

/// Nodes that held a key on a previous ring and do not hold it now.
pub(crate) type Moved = SmallVec<[Arc<Node>; 4]>;

impl Client {
    /// The nodes that held `key` on a ring still in the migration window and are not among
    /// `current` (its replicas now), newest ring first. Empty, at the cost of one atomic load,
    /// when no ring changed lately.
    pub(crate) fn moved_from(&self, key: &[u8], current: &[Arc<Node>]) -> Moved {
        let previous = self.inner.previous.load();
        let mut moved = Moved::new();
        if previous.is_empty() {
            return moved;
        }
        let now = Instant::now();
        for ring in previous.iter().filter(|ring| ring.until > now) {
            for node in ring.topology.replicas(key, self.inner.settings.replicas) {
                let held_now = current.iter().any(|n| n.spec.name == node.spec.name);
                let listed = moved.iter().any(|n| Arc::ptr_eq(n, &node));
                if !held_now && !listed {
                    moved.push(node);
                }
            }
        }
        moved
    }

    /// Copies the newest state of `key` found on `moved` (its former replicas) to `current`
    /// (its replicas now) at its version. True if a state was found and copied.
    pub(crate) async fn migrate(
        &self,
        key: &[u8],
        moved: &[Arc<Node>],
        current: &[Arc<Node>],
    ) -> bool {
        self.copy_state(key, moved, current, |node| &node.metrics.migrated_keys)
            .await
    }

    /// Copies the newest state of `key` found on `from` to `to` at its version (applied only
    /// where it is newer), counting each node it reached in `counter`. True if a state was
    /// found and copied.
    pub(crate) async fn copy_state(
        &self,
        key: &[u8],
        moved: &[Arc<Node>],
        current: &[Arc<Node>],
        counter: fn(&Node) -> &metrics::Counter,
    ) -> bool {
        let mut batch = BytesMut::new();
        encode_command(&[b"MULTI"], &mut batch);
        State::encode_read(key, &mut batch);
        encode_command(&[b"EXEC"], &mut batch);
        let batch = batch.freeze();
        let states = join_all(moved.iter().map(|node| {
            let batch = batch.clone();
            async move {
                let replies = node.request(node.slot_for(key), batch, 4).await.ok()?;
                let Some(Reply::Array(results)) = replies.into_iter().nth(3) else {
                    return None;
                };
                let [vget, pttl] = <[Reply; 2]>::try_from(results).ok()?;
                State::from_vget_pttl(vget, pttl)
            }
        }))
        .await;
        let Some(newest) = states
            .into_iter()
            .flatten()
            .filter(|state| state.version > 0)
            .max_by_key(State::rank)
        else {
            return false;
        };
        self.observe_version(newest.version);
        let Some(restore) = newest.restore(key) else {
            return false;
        };
        let args: Vec<&[u8]> = restore.iter().map(|a| a.as_ref()).collect();
        let bytes = command(&args);
        let copied = join_all(current.iter().filter(|n| n.takes_writes()).map(|node| {
            let bytes = bytes.clone();
            async move {
                let copied = node.call_encoded(node.slot_for(key), bytes).await.is_ok();
                if copied {
                    counter(node).increment(1);
                }
                copied
            }
        }))
        .await;
        copied.into_iter().any(|copied| copied)
    }

    /// After a write of `key` at `version` to its replicas now: deletes the key on the nodes
    /// that held it on a previous ring and hold it no longer (at the write's version, so a
    /// newer write there is kept; a plain DEL for an unversioned write).
    pub(crate) async fn invalidate_moved(&self, key: &[u8], current: &[Arc<Node>], version: u64) {
        let moved = self.moved_from(key, current);
        if moved.is_empty() {
            return;
        }
        let mut text = itoa::Buffer::new();
        let bytes = if version == UNKNOWN_VERSION {
            command(&[b"DEL", key])
        } else {
            command(&[b"VDEL", key, text.format(version).as_bytes()])
        };
        join_all(moved.iter().map(|node| {
            let bytes = bytes.clone();
            async move {
                if node.call_encoded(node.slot_for(key), bytes).await.is_ok() {
                    node.metrics.moved_away.increment(1);
                }
            }
        }))
        .await;
    }

    /// Records that the ring `replaced` gave way to a new one: it stays in the migration
    /// window until `window` from now. Rings past their window are forgotten (and their
    /// nodes that left the ring with them). Nothing migrates from an empty ring (discovery's
    /// before its first answer) or from one that placed keys as the new one does (the same
    /// names and weights, a node at a new address).
    pub(crate) fn remember_ring(&self, replaced: Arc<Topology>) {
        let placement = |topology: &Topology| {
            let mut nodes: Vec<(String, u64)> = topology
                .nodes
                .iter()
                .map(|node| (node.spec.name.clone(), node.spec.weight.to_bits()))
                .collect();
            nodes.sort();
            nodes
        };
        if placement(&replaced) == placement(&self.inner.topology.load()) {
            return;
        }
        let window = self.inner.settings.migration_window;
        let now = Instant::now();
        let mut rings: Vec<PreviousRing> = self
            .inner
            .previous
            .load()
            .iter()
            .filter(|ring| ring.until > now)
            .cloned()
            .collect();
        if !window.is_zero() && !replaced.nodes.is_empty() {
            rings.insert(
                0,
                PreviousRing {
                    topology: replaced,
                    until: now + window,
                },
            );
        }
        self.inner.previous.store(Arc::new(rings));
    }

    /// Forgets rings past their migration window.
    pub(crate) fn forget_old_rings(&self) {
        let previous = self.inner.previous.load();
        if previous.is_empty() {
            return;
        }
        let now = Instant::now();
        if previous.iter().any(|ring| ring.until <= now) {
            let kept: Vec<PreviousRing> = previous
                .iter()
                .filter(|ring| ring.until > now)
                .cloned()
                .collect();
            self.inner.previous.store(Arc::new(kept));
        }
    }

    /// Whether a ring change is still in its migration window, and how long it has left.
    pub fn migration_remaining(&self) -> Option<std::time::Duration> {
        let now = Instant::now();
        self.inner
            .previous
            .load()
            .iter()
            .map(|ring| ring.until.saturating_duration_since(now))
            .filter(|left| !left.is_zero())
            .max()
    }
}
