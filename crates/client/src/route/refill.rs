//! Refill: a node that came back empty (a new run id, or its name found at a new address, as
//! a restarted pod is) or joined a ring that already held keys gets, in the background, a
//! copy of every key it is now a replica of, from the other nodes. Reads repair what they
//! touch; the refill covers the keys nobody reads before the key's other replica goes too (a
//! rolling restart takes every node down in turn, so a key read by nobody between its two
//! replicas' restarts would otherwise be lost).
//!
//! The refill scans every other healthy node (`SCAN`, a batch at a time), keeps the keys the
//! node is a replica of on the current ring, compares both sides' versions (`VVER`, one per
//! batch and side) and copies the keys the source holds newer, at their versions and with
//! their remaining time to live. Versioned copies apply only if newer, so a write or delete
//! racing the refill wins, and several processes refilling one node at once agree. With one
//! replica there is nothing to copy from, and nothing is done.

use std::sync::atomic::Ordering;
use std::sync::Arc;

use bytes::Bytes;
use futures::future::join_all;

use crate::client::Client;
use crate::error::{Error, ErrorKind, Result};
use crate::node::{Node, NodeState};
use crate::reply::Reply;

/// Keys asked of a source per `SCAN`.
const SCAN_BATCH: &[u8] = b"512";

impl Client {
    /// Starts a refill of every healthy node that needs one (called from the repair tick).
    pub(crate) fn start_refills(&self) {
        if !self.versioned_replicas() {
            return;
        }
        let topology = self.inner.topology.load_full();
        if topology.nodes.len() < 2 {
            return;
        }
        for node in &topology.nodes {
            if node.state() == NodeState::Healthy && node.take_refill() {
                let (client, node) = (self.clone(), Arc::clone(node));
                tokio::spawn(async move {
                    node.metrics.refilling.set(1.0);
                    match client.refill(&node).await {
                        Ok(copied) => {
                            tracing::info!(node = node.name(), copied, "refill finished")
                        }
                        Err(error) => {
                            tracing::debug!(node = node.name(), %error, "refill stopped; will retry");
                            node.needs_refill();
                        }
                    }
                    node.metrics.refilling.set(0.0);
                    node.refill_done();
                });
            }
        }
    }

    /// Copies to `target` every key it is a replica of from each other node; the number of
    /// keys copied.
    async fn refill(&self, target: &Arc<Node>) -> Result<u64> {
        let mut copied = 0;
        let sources: Vec<Arc<Node>> = self
            .inner
            .topology
            .load()
            .nodes
            .iter()
            .filter(|node| !Arc::ptr_eq(node, target))
            .cloned()
            .collect();
        for source in sources {
            let mut cursor = Bytes::from_static(b"0");
            loop {
                if target.is_retired() || target.state() != NodeState::Healthy {
                    return Err(Error::new(ErrorKind::Unavailable, "node left service"));
                }
                if source.is_retired() || source.state() != NodeState::Healthy {
                    // Its keys have replicas elsewhere, which this loop visits too.
                    break;
                }
                let reply = source
                    .call(0, &[b"SCAN", &cursor, b"COUNT", SCAN_BATCH])
                    .await?;
                let (next, keys) = scan_page(reply).ok_or_else(|| {
                    Error::new(ErrorKind::Protocol, "unexpected SCAN reply")
                        .with_node(source.name())
                })?;
                copied += self.refill_batch(target, &source, keys).await?;
                if next.as_ref() == b"0" {
                    break;
                }
                cursor = next;
            }
        }
        Ok(copied)
    }

    /// Copies the keys of one page that belong on `target` and that `source` holds newer.
    async fn refill_batch(
        &self,
        target: &Arc<Node>,
        source: &Arc<Node>,
        keys: Vec<Bytes>,
    ) -> Result<u64> {
        let topology = self.inner.topology.load_full();
        let replicas = self.inner.settings.replicas;
        let mine: Vec<Bytes> = keys
            .into_iter()
            .filter(|key| {
                topology
                    .replicas(key, replicas)
                    .iter()
                    .any(|node| Arc::ptr_eq(node, target))
            })
            .collect();
        if mine.is_empty() {
            return Ok(0);
        }
        let keys: Vec<&[u8]> = mine.iter().map(|key| key.as_ref()).collect();
        let (theirs, ours) = futures::join!(source.versions(0, &keys), target.versions(0, &keys));
        let (theirs, ours) = (theirs?, ours?);
        let behind: Vec<&Bytes> = mine
            .iter()
            .zip(theirs.iter().zip(&ours))
            // A delete (negative) at the same version loses to a value, as on the node.
            .filter(|(_, (&theirs, &ours))| theirs > 0 && theirs >= ours.abs() && theirs != ours)
            .map(|(key, _)| key)
            .collect();
        let from = [Arc::clone(source)];
        let to = [Arc::clone(target)];
        let results = join_all(
            behind
                .iter()
                .map(|key| self.copy_state(key, &from, &to, |node| &node.metrics.refilled_keys)),
        )
        .await;
        Ok(results.into_iter().filter(|copied| *copied).count() as u64)
    }
}

/// A `SCAN` reply's next cursor and keys.
fn scan_page(reply: Reply) -> Option<(Bytes, Vec<Bytes>)> {
    let Reply::Array(parts) = reply else {
        return None;
    };
    let [cursor, keys] = <[Reply; 2]>::try_from(parts).ok()?;
    let cursor = cursor.as_bytes()?.clone();
    let Reply::Array(keys) = keys else {
        return None;
    };
    let keys = keys
        .into_iter()
        .filter_map(|key| match key {
            Reply::Bulk(key) => Some(key),
            _ => None,
        })
        .collect();
    Some((cursor, keys))
}

impl Node {
    /// Marks the node to be refilled by the next repair tick.
    pub(crate) fn needs_refill(&self) {
        self.refill.store(true, Ordering::Release);
    }

    /// Takes the refill mark, unless a refill of this node is running.
    fn take_refill(&self) -> bool {
        if self.refilling.load(Ordering::Acquire) || !self.refill.load(Ordering::Acquire) {
            return false;
        }
        self.refilling.store(true, Ordering::Release);
        self.refill.store(false, Ordering::Release);
        true
    }

    fn refill_done(&self) {
        self.refilling.store(false, Ordering::Release);
    }

    /// Whether a refill of this node is running.
    pub(crate) fn is_refilling(&self) -> bool {
        self.refilling.load(Ordering::Acquire)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scan_pages_are_read() {
        let reply = Reply::Array(vec![
            Reply::Bulk(Bytes::from_static(b"17")),
            Reply::Array(vec![
                Reply::Bulk(Bytes::from_static(b"a")),
                Reply::Bulk(Bytes::from_static(b"b")),
            ]),
        ]);
        let (cursor, keys) = scan_page(reply).unwrap();
        assert_eq!(cursor.as_ref(), b"17");
        assert_eq!(keys, [Bytes::from_static(b"a"), Bytes::from_static(b"b")]);
        assert!(scan_page(Reply::Nil).is_none());
        assert!(scan_page(Reply::Array(vec![Reply::Nil])).is_none());
    }
}
