//! GET through the near cache (`crate::near`): served from it when it may be, else read by the
//! read route together with the key's time to live and cached if no invalidation arrived
//! meanwhile; misses of a key whose fill is in flight share it.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use futures::FutureExt;

use super::ReadKind;
use crate::client::Client;
use crate::error::Result;
use crate::near::{Miss, NearCache, Ticket};
use crate::options::ReadConsistency;
use crate::reply::Reply;

impl Client {
    /// A GET of `key` (`args`) through the near cache.
    pub(crate) async fn read_near(
        &self,
        near: &Arc<NearCache>,
        key: &[u8],
        args: &[&[u8]],
        kind: ReadKind,
    ) -> Result<Reply> {
        let topology = self.topology().await;
        let replicas = topology.replicas(key, self.inner.settings.replicas);
        for node in replicas.iter() {
            near.ensure_stream(node, self.inner.settings.password.as_ref());
        }
        if let Some(value) = near.get(key, &replicas) {
            return Ok(Reply::Bulk(value));
        }
        match near.miss(key, &replicas) {
            Miss::Join(flight) => flight.await,
            Miss::Fill(ticket) => {
                let ticket = Arc::new(ticket);
                let flight = self
                    .clone()
                    .fill_near(Bytes::copy_from_slice(key), Arc::clone(&ticket))
                    .boxed()
                    .shared();
                near.share(&ticket, &flight);
                drop(ticket);
                flight.await
            }
            Miss::Uncached => self.read_routed(key, args, kind).await,
        }
    }

    /// Reads `key` with its time to live and caches it under `ticket`.
    async fn fill_near(self, key: Bytes, ticket: Arc<Ticket>) -> Result<Reply> {
        let get: &[&[u8]] = &[b"GET", &key];
        let (reply, ttl) = match self.inner.settings.read_consistency {
            ReadConsistency::Newest if self.versioned_replicas() => {
                Box::pin(self.read_newest_with(&key, get, true)).await?
            }
            _ => {
                // The One route asks the key's first replica that serves reads for both, side
                // by side on its connection.
                let pttl: &[&[u8]] = &[b"PTTL", &key];
                let (reply, ttl) = futures::join!(
                    Box::pin(self.read_after(&key, get, ReadKind::GET, None)),
                    Box::pin(self.read_after(&key, pttl, ReadKind::of(pttl), None))
                );
                (reply?, ttl.ok().and_then(|ttl| ttl.as_int()))
            }
        };
        if let Some(near) = &self.inner.near {
            if let Reply::Bulk(value) = &reply {
                match ttl {
                    Some(-1) => near.fill(&ticket, value.clone(), None),
                    Some(ms) if ms > 0 => near.fill(
                        &ticket,
                        value.clone(),
                        Some(Duration::from_millis(ms.unsigned_abs())),
                    ),
                    // The key expired or went between the two reads: not cached.
                    _ => {}
                }
            }
        }
        Ok(reply)
    }
}
