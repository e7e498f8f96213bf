//! The mutation route, for commands whose result depends on the current value (INCR, APPEND,
//! SET NX, GETDEL, ...): sent to all replicas, they could apply to different values and
//! diverge. So the command runs on one replica, the first that serves reads of the key, in a
//! MULTI with a read-back of the value and its time to live, and that resulting state is
//! written to the other replicas (`SET … PX`, or `DEL` when the key is gone).
//!
//! If the caller stops waiting while the command is in flight, the other replicas get a hint
//! ([`HintsOnDrop`]): the command may have applied, and they would never receive its result.

use std::sync::Arc;

use bytes::BytesMut;

use super::HintsOnDrop;
use crate::client::Client;
use crate::connection::encode_command;
use crate::error::{Error, ErrorKind, Result};
use crate::reply::Reply;

impl Client {
    /// Runs a value-dependent command on one replica and copies the resulting value (and TTL)
    /// to the others.
    pub(crate) async fn mutate(&self, key: &[u8], args: &[&[u8]]) -> Result<Reply> {
        let _guard = self.inner.stripes.lock(key).await;
        let topology = self.inner.topology.load_full();
        let replicas = topology.replicas(key, self.inner.settings.replicas);
        let mut batch = BytesMut::new();
        encode_command(&[b"MULTI"], &mut batch);
        encode_command(args, &mut batch);
        encode_command(&[b"GET", key], &mut batch);
        encode_command(&[b"PTTL", key], &mut batch);
        encode_command(&[b"EXEC"], &mut batch);
        let batch = batch.freeze();
        let mut last_error = None;
        for node in &replicas {
            if !node.serves_read(key) {
                continue;
            }
            let others = HintsOnDrop::new(
                key,
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
                    node.add_hint(key);
                    last_error = Some(error);
                    continue;
                }
            };
            let Some(Reply::Array(results)) = replies.into_iter().nth(4) else {
                return Err(Error::new(ErrorKind::Protocol, "unexpected reply to EXEC")
                    .with_node(node.name()));
            };
            let [outcome, value, ttl] = <[Reply; 3]>::try_from(results).map_err(|_| {
                Error::new(ErrorKind::Protocol, "unexpected EXEC results").with_node(node.name())
            })?;
            let ttl_text;
            let propagate: Vec<&[u8]> = match (&value, &ttl) {
                (Reply::Bulk(value), Reply::Int(ttl)) if *ttl > 0 => {
                    ttl_text = ttl.to_string();
                    vec![b"SET", key, value, b"PX", ttl_text.as_bytes()]
                }
                (Reply::Bulk(value), _) => vec![b"SET", key, value],
                _ => vec![b"DEL", key],
            };
            // The other replicas only need the resulting state; one already has it.
            let _ = self.fan_out(key, &replicas, &propagate, Some(node)).await;
            return node.reply_result(outcome);
        }
        Err(last_error.unwrap_or_else(|| {
            Error::new(ErrorKind::Unavailable, "no replica of the key can serve it")
        }))
    }
}
