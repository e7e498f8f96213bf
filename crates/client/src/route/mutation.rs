//! The mutation route, for commands whose result depends on the current value (INCR, APPEND,
//! SET NX, GETDEL, EXPIRE, ...): sent to all replicas, they could apply to different values and
//! diverge. So the command runs on one replica, the first that serves reads of the key, in a
//! MULTI with a read-back of the resulting state (`VGET`: value and the version that replica
//! stamped it with; `PTTL`: its time to live), and that state is written to the other replicas at the same
//! version (`VSET … PX`, or `VDEL` when the key is gone). Two processes mutating one key at
//! once through the same replica are serialised there; through different replicas (only when
//! one cannot reach the other's) the newer result wins everywhere.
//!
//! If the caller stops waiting while the command is in flight, the other replicas get a hint
//! ([`HintsOnDrop`]): the command may have applied, and they would never receive its result.

use std::sync::Arc;

use bytes::BytesMut;

use super::read::State;
use super::HintsOnDrop;
use crate::client::Client;
use crate::connection::encode_command;
use crate::error::{Error, ErrorKind, Result};
use crate::node::UNKNOWN_VERSION;
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
        let mut batch = BytesMut::new();
        encode_command(&[b"MULTI"], &mut batch);
        encode_command(args, &mut batch);
        State::encode_read(key, &mut batch);
        encode_command(&[b"EXEC"], &mut batch);
        let batch = batch.freeze();
        let mut last_error = None;
        for node in &replicas {
            if !node.serves_read(key) {
                continue;
            }
            let others = HintsOnDrop::new(
                key,
                UNKNOWN_VERSION,
                replicas
                    .iter()
                    .filter(|other| !Arc::ptr_eq(other, node))
                    .cloned(),
            );
            let answer = node.request(node.slot_for(key), batch.clone(), 5).await;
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
            let [outcome, vget, pttl] = <[Reply; 3]>::try_from(results).map_err(|_| {
                Error::new(ErrorKind::Protocol, "unexpected EXEC results").with_node(node.name())
            })?;
            let state = State::from_vget_pttl(vget, pttl).ok_or_else(|| {
                Error::new(ErrorKind::Protocol, "unexpected VGET reply").with_node(node.name())
            })?;
            self.observe_version(state.version);
            // The other replicas only need the resulting state; one already has it.
            if let Some(propagate) = state.restore(key) {
                let args: Vec<&[u8]> = propagate.iter().map(|a| a.as_ref()).collect();
                let _ = self
                    .fan_out(key, &replicas, &args, Some(node), state.version)
                    .await;
            }
            return node.reply_result(outcome);
        }
        Err(last_error.unwrap_or_else(|| {
            Error::new(ErrorKind::Unavailable, "no replica of the key can serve it")
        }))
    }
}
