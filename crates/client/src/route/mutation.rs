//! The mutation route, for commands whose result depends on the current value (INCR, APPEND,
//! SET NX, GETDEL, EXPIRE, ...): sent to all replicas, they could apply to different values and
//! diverge. So the command runs on one replica, the first that serves reads of the key, at this
//! process's version (`VAPPLY key * version command`: stamped with that version, or just above
//! the key's own if that is higher, so a command that waited in a frozen node's socket and runs
//! after the thaw is no newer than when it was sent), in a MULTI with a read-back of the resulting state (`VGET`: value and the version that replica
//! stamped it with; `PTTL`: its time to live), and that state is written to the other replicas at the same
//! version (`VSET … PX`, or `VDEL` when the key is gone). Two processes mutating one key at
//! once through the same replica are serialised there; through different replicas (only when
//! one cannot reach the other's) the newer result wins everywhere.
//!
//! A collection write (HSET, HDEL, ...) would copy the whole collection that way, so it is
//! replayed instead: the replica that ran it reports the key's version before and after, and
//! the others run the same command with `VAPPLY`, which applies only at that same version
//! before (so it meets the same value and leaves the same one) and stamps the same version
//! after. A replica that held another version gets the whole value copied.
//!
//! If the caller stops waiting while the command is in flight, the other replicas get a hint
//! ([`HintsOnDrop`]): the command may have applied, and they would never receive its result.

use std::sync::Arc;

use bytes::BytesMut;
use cachering_commands::lookup;
use futures::future::join_all;
use smallvec::SmallVec;

use super::read::{signed_vver, State};
use super::{vapply, HintsOnDrop};
use crate::client::Client;
use crate::connection::{command, encode_command};
use crate::error::{Error, ErrorKind, Result};
use crate::node::{Node, UNKNOWN_VERSION};
use crate::reply::Reply;

impl Client {
    /// Runs a value-dependent command on one replica and copies the resulting value (and TTL)
    /// to the others.
    pub(crate) async fn mutate(&self, key: &[u8], args: &[&[u8]]) -> Result<Reply> {
        let _guard = self.inner.stripes.lock(key).await;
        let topology = self.topology().await;
        let replicas = topology.replicas(key, self.inner.settings.replicas);
        // After a ring change the key may still live only on its former replicas: copied
        // first, so the command applies to its value.
        let moved = self.moved_from(key, &replicas);
        if !moved.is_empty() {
            Box::pin(self.migrate(key, &moved, &replicas)).await;
        }
        let replayed = lookup(args[0]).is_some_and(|spec| spec.replayable());
        let mut last_error = None;
        for node in &replicas {
            if !node.serves_read(key) {
                continue;
            }
            let batch = Self::mutation_batch(key, args, replayed, self.next_version());
            let others = HintsOnDrop::new(
                key,
                UNKNOWN_VERSION,
                replicas
                    .iter()
                    .filter(|other| !Arc::ptr_eq(other, node))
                    .cloned(),
            );
            let answer = node.request(node.slot_for(key), batch, 5).await;
            others.disarm();
            let replies = match answer {
                Ok(replies) => replies,
                Err(error) => {
                    // It may or may not have applied there: that replica is invalidated, and
                    // the next one runs the command and propagates its result.
                    node.add_hint(key, UNKNOWN_VERSION);
                    last_error = Some(error);
                    continue;
                }
            };
            let Some(Reply::Array(results)) = replies.into_iter().nth(4) else {
                return Err(Error::new(ErrorKind::Protocol, "unexpected reply to EXEC")
                    .with_node(node.name()));
            };
            let unexpected = || {
                Error::new(ErrorKind::Protocol, "unexpected EXEC results").with_node(node.name())
            };
            if replayed {
                let [before, outcome, after] =
                    <[Reply; 3]>::try_from(results).map_err(|_| unexpected())?;
                let (Some(before), Some(after)) = (signed_vver(&before), signed_vver(&after))
                else {
                    return Err(unexpected());
                };
                self.observe_version(after.unsigned_abs());
                if after != before {
                    self.replay(key, &replicas, node, (before, after), args)
                        .await;
                }
                return node.reply_result(outcome);
            }
            let [outcome, vget, pttl] =
                <[Reply; 3]>::try_from(results).map_err(|_| unexpected())?;
            let state = State::from_vget_pttl(vget, pttl).ok_or_else(|| {
                Error::new(ErrorKind::Protocol, "unexpected VGET reply").with_node(node.name())
            })?;
            self.observe_version(state.version);
            // The other replicas only need the resulting state; one already has it.
            if let Some(propagate) = state.restore(key) {
                let args: Vec<&[u8]> = propagate.iter().map(|a| a.as_ref()).collect();
                let _ = self
                    .fan_out(key, &replicas, &args, Some(node), state.version, None)
                    .await;
            }
            return node.reply_result(outcome);
        }
        Err(last_error.unwrap_or_else(|| {
            Error::new(ErrorKind::Unavailable, "no replica of the key can serve it")
        }))
    }

    /// The transaction that runs a mutation on one replica at `version`, each attempt at a
    /// version of its own: an attempt that timed out against a frozen node may still run there
    /// after the thaw, and must then lose to the attempt that ran on the next replica (at one
    /// version, the two would tie with different values).
    fn mutation_batch(key: &[u8], args: &[&[u8]], replayed: bool, version: u64) -> bytes::Bytes {
        // Run at this process's version (or just above the key's): if it waits in a frozen
        // node and runs after the thaw, it is no newer than when it was sent.
        let version = version.to_string();
        let versioned = vapply(key, "*", &version, args);
        let mut batch = BytesMut::new();
        encode_command(&[b"MULTI"], &mut batch);
        if replayed {
            // The key's versions before and after, so the other replicas can replay the
            // command (VAPPLY) instead of receiving the whole collection.
            encode_command(&[b"VVER", key], &mut batch);
            encode_command(&versioned, &mut batch);
            encode_command(&[b"VVER", key], &mut batch);
        } else {
            encode_command(&versioned, &mut batch);
            State::encode_read(key, &mut batch);
        }
        encode_command(&[b"EXEC"], &mut batch);
        batch.freeze()
    }

    /// Brings the other replicas of `key` to what the command did on `done`, which moved the
    /// key from version `before` to `after` (VVER's signed form): each replays the command if
    /// it holds `before` (VAPPLY), which costs the command, not the collection; a replica
    /// elsewhere gets the whole value copied from `done`; one that cannot be reached, or that
    /// the caller stops waiting for, gets a hint.
    async fn replay(
        &self,
        key: &[u8],
        replicas: &[Arc<Node>],
        done: &Arc<Node>,
        (before, after): (i64, i64),
        args: &[&[u8]],
    ) {
        let version = after.unsigned_abs();
        let (before, stamp) = (before.to_string(), version.to_string());
        let bytes = command(&vapply(key, &before, &stamp, args));
        let others: Nodes<'_> = replicas
            .iter()
            .filter(|node| !Arc::ptr_eq(node, done))
            .collect();
        let (targets, missed): (Nodes<'_>, Nodes<'_>) =
            others.into_iter().partition(|node| node.takes_writes());
        for node in missed {
            node.add_hint(key, version);
        }
        let pending = HintsOnDrop::new(key, version, targets.iter().map(|&node| node.clone()));
        let answers = join_all(targets.iter().map(|node| {
            let bytes = bytes.clone();
            async move { node.call_encoded(node.slot_for(key), bytes).await }
        }))
        .await;
        pending.disarm();
        let mut elsewhere = Vec::new();
        for (node, answer) in targets.iter().zip(answers) {
            match answer {
                Ok(Reply::Int(1)) => {}
                Ok(_) => elsewhere.push(Arc::clone(node)),
                Err(_) => node.add_hint(key, version),
            }
        }
        if !elsewhere.is_empty() {
            let copied = self
                .copy_state(key, std::slice::from_ref(done), &elsewhere, |node| {
                    &node.metrics.replay_copies
                })
                .await;
            if !copied {
                for node in &elsewhere {
                    node.add_hint(key, version);
                }
            }
        }
    }
}

/// Some of a key's replicas.
type Nodes<'a> = SmallVec<[&'a Arc<Node>; 4]>;
