//! The read route.
//!
//! A read goes to the key's first replica that serves reads: healthy, and not known to have
//! missed a write of the key. On a timeout or connection error it goes on to the next. A miss
//! is a miss, except on a node that is warming up (it restarted empty, or had keys
//! invalidated by repair, a short while ago): there the miss may be a lost value, so the next
//! replica is asked and its answer returned; for GET a value found there is also copied back,
//! with its remaining time to live.

use std::sync::Arc;

use bytes::BytesMut;

use super::ReadKind;
use crate::client::Client;
use crate::connection::encode_command;
use crate::error::{Error, ErrorKind, Result};
use crate::node::Node;
use crate::reply::Reply;

/// A replica already asked for this read, elsewhere (a pipeline asks first replicas in bulk).
pub(crate) enum Asked {
    /// It failed (timeout, connection error).
    Failed(Arc<Node>, Error),
    /// It answered with a miss while warming up.
    Missed(Arc<Node>, Reply),
}

fn unavailable() -> Error {
    Error::new(
        ErrorKind::Unavailable,
        "no replica of the key can serve reads",
    )
}

impl Client {
    /// Serves a read of `key` from the first replica that can answer it.
    pub(crate) async fn read(&self, key: &[u8], args: &[&[u8]], kind: ReadKind) -> Result<Reply> {
        self.read_after(key, args, kind, None).await
    }

    /// [`Client::read`], continuing past a replica already asked.
    pub(crate) async fn read_after(
        &self,
        key: &[u8],
        args: &[&[u8]],
        kind: ReadKind,
        asked: Option<Asked>,
    ) -> Result<Reply> {
        let topology = self.inner.topology.load_full();
        let replicas = topology.replicas(key, self.inner.settings.replicas);
        let mut skipped = asked.is_some();
        let mut last_error = None;
        // A miss from a warming node, kept in case no later replica can answer.
        let mut warming_miss: Option<(Arc<Node>, Reply)> = None;
        let asked_node = match asked {
            Some(Asked::Failed(node, error)) => {
                last_error = Some(error);
                Some(node)
            }
            Some(Asked::Missed(node, reply)) => {
                warming_miss = Some((Arc::clone(&node), reply));
                Some(node)
            }
            None => None,
        };
        for node in &replicas {
            if !node.serves_read(key) || asked_node.as_ref().is_some_and(|a| Arc::ptr_eq(a, node)) {
                skipped = true;
                continue;
            }
            match node.call_key(key, args).await {
                Ok(reply)
                    if warming_miss.is_none() && kind.is_miss(&reply) && node.is_warming() =>
                {
                    warming_miss = Some((Arc::clone(node), reply));
                    skipped = true;
                }
                Ok(reply) => {
                    if skipped {
                        node.metrics.fallback_reads.increment(1);
                    }
                    if let Some((empty, _)) = &warming_miss {
                        if kind.fills && !kind.is_miss(&reply) {
                            // Boxed: the rare path, kept out of every read's future.
                            Box::pin(self.fill(key, empty, node)).await;
                        }
                    }
                    return Ok(reply);
                }
                Err(error) if error.is_server_error() => return Err(error),
                Err(error) => {
                    skipped = true;
                    last_error = Some(error);
                }
            }
        }
        match warming_miss {
            Some((_, reply)) => Ok(reply),
            None => Err(last_error.unwrap_or_else(unavailable)),
        }
    }

    /// Copies `key` from `source` into `empty` (a node warming up), unless written meanwhile:
    /// under the key's stripe lock, with `SET … NX` and the remaining time to live.
    async fn fill(&self, key: &[u8], empty: &Arc<Node>, source: &Arc<Node>) {
        let _guard = self.inner.stripes.lock(key).await;
        let mut batch = BytesMut::new();
        encode_command(&[b"GET", key], &mut batch);
        encode_command(&[b"PTTL", key], &mut batch);
        let Ok(replies) = source
            .request(source.slot_for(key), batch.freeze(), 2)
            .await
        else {
            return;
        };
        let (Some(Reply::Bulk(value)), Some(Reply::Int(ttl))) = (replies.first(), replies.get(1))
        else {
            return;
        };
        let ttl_text;
        let mut args: Vec<&[u8]> = vec![b"SET", key, value, b"NX"];
        if *ttl > 0 {
            ttl_text = ttl.to_string();
            args.extend([&b"PX"[..], ttl_text.as_bytes()]);
        } else if *ttl != -1 {
            return;
        }
        if empty.call_key(key, &args).await.is_ok() {
            empty.metrics.warmup_fills.increment(1);
        }
    }
}
