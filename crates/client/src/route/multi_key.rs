//! Commands over several keys. Keys live on different nodes, so each command is split into
//! one single-key command per distinct key, run as one [`Client::pipeline`] (one write and one
//! wait per node connection), and the replies are merged as Redis would answer:
//!
//! - MGET: a GET per key, values in request order (a key holding another type reads as nil);
//! - MSET: a SET per key, the last value of a repeated key winning; `+OK` once all succeeded;
//! - DEL, UNLINK: one per distinct key, the number deleted;
//! - EXISTS, TOUCH: one per distinct key, counted once per time the key is named.
//!
//! Each part therefore takes the read or write route with its failover, warm-up and repair.
//! Splitting costs atomicity: another client can see some of an MSET's keys before others.
//! MSETNX cannot be split (all or none): it runs when every key has the same replicas (use a
//! `{hash tag}`), on one replica, and its result is copied to the others.

use std::collections::HashMap;
use std::sync::Arc;

use bytes::Bytes;
use cachering_commands::{CommandSpec, Merge};
use futures::future::join_all;

use super::{Access, HintsOnDrop, Routed};
use crate::client::Client;
use crate::error::{Error, ErrorKind, Result};
use crate::reply::Reply;

/// The distinct keys of `keys` in first-seen order, and for every input key the index of its
/// distinct key.
fn distinct<'k>(keys: impl Iterator<Item = &'k [u8]>) -> (Vec<&'k [u8]>, Vec<usize>) {
    let mut seen: HashMap<&[u8], usize> = HashMap::new();
    let mut unique = Vec::new();
    let positions = keys
        .map(|key| {
            *seen.entry(key).or_insert_with(|| {
                unique.push(key);
                unique.len() - 1
            })
        })
        .collect();
    (unique, positions)
}

impl Client {
    /// Runs a multi-key command by its table entry (see the module docs).
    pub(crate) async fn multi_key(
        &self,
        spec: &CommandSpec,
        merge: Merge,
        args: &[&[u8]],
    ) -> Result<Reply> {
        if matches!(merge, Merge::Status | Merge::AllOrNone) && args.len() % 2 == 0 {
            // Keys and values in pairs, or Redis's arity error.
            return Err(Error::new(
                ErrorKind::Command,
                cachering_commands::wrong_arity_error(spec.name),
            ));
        }
        match merge {
            Merge::Values => {
                let values = self.get_many(args[1..].iter().copied()).await?;
                Ok(Reply::Array(
                    values
                        .into_iter()
                        .map(|value| value.map_or(Reply::Nil, Reply::Bulk))
                        .collect(),
                ))
            }
            Merge::Count => {
                let access = match spec.route {
                    cachering_commands::Route::MultiKey(access, _) => access,
                    _ => Access::Read,
                };
                let count = self
                    .count_keys(args[0], spec.keys.keys(args), access)
                    .await?;
                Ok(Reply::Int(count as i64))
            }
            Merge::Status => {
                self.set_many(args[1..].chunks(2).map(|pair| (pair[0], pair[1])))
                    .await?;
                Ok(Reply::Status(Bytes::from_static(b"OK")))
            }
            _ => {
                let pairs: Vec<(&[u8], &[u8])> =
                    args[1..].chunks(2).map(|pair| (pair[0], pair[1])).collect();
                self.msetnx(args, &pairs).await
            }
        }
    }

    /// `name key` for each distinct key, read or written; the sum of the integer replies,
    /// counting a key once per time it is named for reads (EXISTS a a is 2) and once for
    /// writes (DEL a a is 1), as Redis does.
    pub(crate) async fn count_keys<'k>(
        &self,
        name: &[u8],
        keys: impl Iterator<Item = &'k [u8]>,
        access: Access,
    ) -> Result<u64> {
        let (unique, positions) = distinct(keys);
        let commands: Vec<[&[u8]; 2]> = unique.iter().map(|&key| [name, key]).collect();
        let routed: Vec<Routed<'_, &[u8]>> = unique
            .iter()
            .zip(&commands)
            .map(|(&key, args)| Routed::new(key, args, access))
            .collect();
        let mut counts = Vec::with_capacity(unique.len());
        for result in self.pipeline(&routed).await {
            counts.push(result?.as_int().unwrap_or(0).max(0) as u64);
        }
        Ok(if access == Access::Read {
            positions.iter().map(|&p| counts[p]).sum()
        } else {
            counts.iter().sum()
        })
    }

    /// MGET: the values of `keys`, in order.
    pub(crate) async fn get_many<'k>(
        &self,
        keys: impl Iterator<Item = &'k [u8]>,
    ) -> Result<Vec<Option<Bytes>>> {
        let (unique, positions) = distinct(keys);
        let commands: Vec<[&[u8]; 2]> = unique.iter().map(|&key| [&b"GET"[..], key]).collect();
        let routed: Vec<Routed<'_, &[u8]>> = unique
            .iter()
            .zip(&commands)
            .map(|(&key, args)| Routed::new(key, args, Access::Read))
            .collect();
        let mut values = Vec::with_capacity(unique.len());
        for result in self.pipeline(&routed).await {
            values.push(match result {
                Ok(Reply::Bulk(value)) => Some(value),
                Ok(_) => None,
                // MGET answers nil for a key of another type.
                Err(error)
                    if error.is_server_error() && error.detail().starts_with("WRONGTYPE") =>
                {
                    None
                }
                Err(error) => return Err(error),
            });
        }
        Ok(positions.iter().map(|&p| values[p].clone()).collect())
    }

    /// MSET: every pair written, the last value of a repeated key winning.
    pub(crate) async fn set_many<'p>(
        &self,
        pairs: impl Iterator<Item = (&'p [u8], &'p [u8])>,
    ) -> Result<()> {
        let pairs: Vec<(&[u8], &[u8])> = pairs.collect();
        let (unique, positions) = distinct(pairs.iter().map(|(key, _)| *key));
        let mut values = vec![&b""[..]; unique.len()];
        for (&(_, value), &p) in pairs.iter().zip(&positions) {
            values[p] = value;
        }
        let commands: Vec<[&[u8]; 3]> = unique
            .iter()
            .zip(&values)
            .map(|(&key, &value)| [&b"SET"[..], key, value])
            .collect();
        let routed: Vec<Routed<'_, &[u8]>> = unique
            .iter()
            .zip(&commands)
            .map(|(&key, args)| Routed::new(key, args, Access::Write))
            .collect();
        let mut first_error = None;
        for result in self.pipeline(&routed).await {
            if let Err(error) = result {
                first_error.get_or_insert(error);
            }
        }
        first_error.map_or(Ok(()), Err)
    }

    /// MSETNX over keys that share their replicas: run on one replica; when it set the keys,
    /// the same values are written to the others.
    async fn msetnx(&self, args: &[&[u8]], pairs: &[(&[u8], &[u8])]) -> Result<Reply> {
        let topology = self.inner.topology.load_full();
        let replicas = topology.replicas(pairs[0].0, self.inner.settings.replicas);
        let same = pairs.iter().all(|(key, _)| {
            topology
                .replicas(key, self.inner.settings.replicas)
                .iter()
                .zip(&replicas)
                .all(|(a, b)| Arc::ptr_eq(a, b))
        });
        if !same {
            return Err(Error::new(
                ErrorKind::Command,
                "ERR MSETNX keys map to different nodes, so it cannot be atomic; keep them on one node with a {hash tag}",
            ));
        }
        let _guards = self
            .inner
            .stripes
            .lock_all(pairs.iter().map(|(key, _)| *key))
            .await;
        let mut last_error = None;
        for node in &replicas {
            if !pairs.iter().all(|(key, _)| node.serves_read(key)) {
                continue;
            }
            let others: Vec<HintsOnDrop<'_>> = pairs
                .iter()
                .map(|&(key, _)| {
                    HintsOnDrop::new(
                        key,
                        replicas.iter().filter(|o| !Arc::ptr_eq(o, node)).cloned(),
                    )
                })
                .collect();
            let answer = node.call_key(pairs[0].0, args).await;
            others.into_iter().for_each(HintsOnDrop::disarm);
            match answer {
                Ok(Reply::Int(1)) => {
                    // Repeated keys: the last value is the one the node kept.
                    let mut last: HashMap<&[u8], &[u8]> = HashMap::new();
                    for (key, value) in pairs {
                        last.insert(key, value);
                    }
                    let copies = last.iter().map(|(&key, &value)| {
                        let replicas = &replicas;
                        async move {
                            self.fan_out(key, replicas, &[b"SET", key, value], Some(node))
                                .await
                        }
                    });
                    join_all(copies).await;
                    return Ok(Reply::Int(1));
                }
                Ok(reply) => return Ok(reply),
                Err(error) if error.is_server_error() => return Err(error),
                Err(error) => {
                    for (key, _) in pairs {
                        node.add_hint(key);
                    }
                    last_error = Some(error);
                }
            }
        }
        Err(last_error.unwrap_or_else(|| {
            Error::new(
                ErrorKind::Unavailable,
                "no replica of the keys can serve it",
            )
        }))
    }
}
