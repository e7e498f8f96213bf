//! The write route.
//!
//! A write goes to every replica that takes writes (not ejected), in parallel, encoded once,
//! and waits for all of them up to the request timeout. It succeeds when the write rule is met
//! (default: one acknowledgement). Every replica that missed it, ejected, failed, or still
//! pending when the caller stopped waiting, gets a repair hint and serves no read of that key
//! until the key is invalidated on it ([`WriteTally`]).

use std::sync::Arc;

use futures::future::join_all;
use smallvec::SmallVec;

use super::WriteTally;
use crate::client::Client;
use crate::connection::command;
use crate::error::Result;
use crate::node::Node;
use crate::reply::Reply;

impl Client {
    /// Sends a write of `key` to every replica that takes writes.
    pub(crate) async fn write(&self, key: &[u8], args: &[&[u8]]) -> Result<Reply> {
        // With one replica there is no fill or propagation for a write to race with, so no
        // lock: writes of a key still leave in the order they are sent, on one connection.
        let _guard = if self.inner.settings.replicas > 1 {
            Some(self.inner.stripes.lock(key).await)
        } else {
            None
        };
        let topology = self.inner.topology.load_full();
        let replicas = topology.replicas(key, self.inner.settings.replicas);
        self.fan_out(key, &replicas, args, None).await
    }

    /// The write fan-out, under the key's stripe lock. `done` names a replica that already
    /// holds the result (a mutation's), which is not written again.
    pub(crate) async fn fan_out(
        &self,
        key: &[u8],
        replicas: &[Arc<Node>],
        args: &[&[u8]],
        done: Option<&Arc<Node>>,
    ) -> Result<Reply> {
        let mut tally = WriteTally::new(key, replicas.len());
        if done.is_some() {
            tally.already_acknowledged();
        }
        let targets: SmallVec<[&Arc<Node>; 4]> = replicas
            .iter()
            .filter(|node| done.is_none_or(|d| !Arc::ptr_eq(d, node)))
            .filter(|node| tally.target(node))
            .collect();
        let bytes = command(args);
        // One replica (R = 1, or the others ejected) needs no join.
        if let [node] = targets[..] {
            let result = node.call_encoded(node.slot_for(key), bytes).await;
            tally.record(node, result);
            return tally.outcome(self.inner.settings.write_rule);
        }
        // Each answer is recorded as it arrives, so a caller that stops waiting leaves hints
        // only on the replicas that had not answered.
        let tally = std::sync::Mutex::new(tally);
        join_all(targets.iter().map(|&node| {
            let bytes = bytes.clone();
            let tally = &tally;
            async move {
                let result = node.call_encoded(node.slot_for(key), bytes).await;
                super::lock(tally).record(node, result);
            }
        }))
        .await;
        let tally = tally.into_inner().unwrap_or_else(|p| p.into_inner());
        tally.outcome(self.inner.settings.write_rule)
    }
}
