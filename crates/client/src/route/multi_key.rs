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
//! MSETNX, RENAME, RENAMENX and COPY cannot be split (their keys change together): they run
//! when every key has the same replicas (use a `{hash tag}`), on one replica, and the
//! resulting state of every key is copied to the others.

use std::collections::HashMap;
use std::sync::Arc;

use bytes::{Bytes, BytesMut};
use cachering_commands::{CommandSpec, Merge};
use futures::future::join_all;

use super::read::State;
use super::{Access, HintsOnDrop, Routed};
use crate::client::Client;
use crate::connection::encode_command;
use crate::error::{Error, ErrorKind, Result};
use crate::node::{Node, UNKNOWN_VERSION};
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
        if spec.keys.movable() && spec.keys.keys(args).next().is_none() {
            // A key count that names no key (0, not a number, more than the arguments): the
            // node answers Redis's error for it.
            return self.on_any_node(args).await;
        }
        if spec.keys.step == 2 && args.len() % 2 == 0 {
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
                let keys: Vec<&[u8]> = spec.keys.keys(args).collect();
                if matches!(
                    spec.route,
                    cachering_commands::Route::MultiKey(Access::Read, _)
                ) {
                    self.read_on_one_replica_set(spec, args, &keys).await
                } else {
                    self.on_one_replica_set(spec, args, &keys).await
                }
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

    /// The replicas `keys` share, or the error that says they share none.
    pub(super) async fn shared_replicas(
        &self,
        spec: &CommandSpec,
        keys: &[&[u8]],
    ) -> Result<Vec<Arc<crate::node::Node>>> {
        let topology = self.topology().await;
        let Some(first) = keys.first() else {
            return Err(Error::new(ErrorKind::Command, "ERR no key"));
        };
        let replicas = topology.replicas(first, self.inner.settings.replicas);
        let same = keys.iter().all(|key| {
            topology
                .replicas(key, self.inner.settings.replicas)
                .iter()
                .zip(&replicas)
                .all(|(a, b)| Arc::ptr_eq(a, b))
        });
        if !same {
            return Err(Error::new(
                ErrorKind::Command,
                format!(
                    "ERR {} keys map to different nodes, so it cannot be atomic; keep them on one node with a {{hash tag}}",
                    spec.name.to_ascii_uppercase()
                ),
            ));
        }
        Ok(replicas.to_vec())
    }

    /// A read over keys that must be read together (LCS), when they share their replicas:
    /// asked of the first replica that serves reads of every key, the next on a failure.
    async fn read_on_one_replica_set(
        &self,
        spec: &CommandSpec,
        args: &[&[u8]],
        keys: &[&[u8]],
    ) -> Result<Reply> {
        let replicas = self.shared_replicas(spec, keys).await?;
        let mut last_error = None;
        for node in replicas
            .iter()
            .filter(|node| keys.iter().all(|key| node.serves_read(key)))
        {
            match node.call(node.slot_for(keys[0]), args).await {
                Err(error) if !error.is_server_error() => last_error = Some(error),
                answer => return answer,
            }
        }
        Err(last_error.unwrap_or_else(|| {
            Error::new(
                ErrorKind::Unavailable,
                "no replica of the keys can serve reads",
            )
        }))
    }

    /// A command over keys that must change together (MSETNX, RENAME, RENAMENX, COPY, SMOVE,
    /// SINTERSTORE, ...), when they share their replicas: run on one replica at this process's
    /// version (`VAPPLY first-key * version`, as the mutation route), and unless it answered
    /// an error every key's resulting state is written to the others.
    pub(super) async fn on_one_replica_set(
        &self,
        spec: &CommandSpec,
        args: &[&[u8]],
        all_keys: &[&[u8]],
    ) -> Result<Reply> {
        let replicas = self.shared_replicas(spec, all_keys).await?;
        let _guards = self.inner.stripes.lock_all(all_keys.iter().copied()).await;
        // The command and a read-back of every key's resulting state, in one transaction.
        let (keys, _) = distinct(all_keys.iter().copied());
        let expected = 2 * keys.len() + 3;
        let mut last_error = None;
        for node in &replicas {
            if !keys.iter().all(|key| node.serves_read(key)) {
                continue;
            }
            // Each attempt at a version of its own (see `Client::mutate`).
            let version = self.next_version().to_string();
            let versioned = super::vapply(all_keys[0], "*", &version, args);
            let mut batch = BytesMut::new();
            encode_command(&[b"MULTI"], &mut batch);
            encode_command(&versioned, &mut batch);
            for key in &keys {
                State::encode_read(key, &mut batch);
            }
            encode_command(&[b"EXEC"], &mut batch);
            let others: Vec<HintsOnDrop<'_>> = keys
                .iter()
                .map(|&key| {
                    HintsOnDrop::new(
                        key,
                        UNKNOWN_VERSION,
                        replicas.iter().filter(|o| !Arc::ptr_eq(o, node)).cloned(),
                    )
                })
                .collect();
            let answer = node
                .request(node.slot_for(keys[0]), batch.freeze(), expected)
                .await;
            others.into_iter().for_each(HintsOnDrop::disarm);
            let replies = match answer {
                Ok(replies) => replies,
                Err(error) => {
                    for key in &keys {
                        node.add_hint(key, UNKNOWN_VERSION);
                    }
                    last_error = Some(error);
                    continue;
                }
            };
            let Some(Reply::Array(mut results)) = replies.into_iter().last() else {
                return Err(Error::new(ErrorKind::Protocol, "unexpected reply to EXEC")
                    .with_node(node.name()));
            };
            if results.len() != 2 * keys.len() + 1 {
                return Err(Error::new(ErrorKind::Protocol, "unexpected EXEC results")
                    .with_node(node.name()));
            }
            let outcome = results.remove(0);
            // Copied whatever the answer but an error: a 0 may still have changed keys
            // (SINTERSTORE of an empty result deletes its destination); a state the other
            // replicas already hold is a no-op there.
            if !matches!(outcome, Reply::Error(_)) {
                self.copy_states(node, &replicas, &keys, results).await;
            }
            return node.reply_result(outcome);
        }
        Err(last_error.unwrap_or_else(|| {
            Error::new(
                ErrorKind::Unavailable,
                "no replica of the keys can serve it",
            )
        }))
    }

    /// Writes to the other `replicas` the state every key of `keys` now has on `node`, as
    /// its `VGET` and `PTTL` replies (`results`, two per key) give it, at the version `node`
    /// stamped.
    pub(super) async fn copy_states(
        &self,
        node: &Arc<Node>,
        replicas: &[Arc<Node>],
        keys: &[&[u8]],
        results: Vec<Reply>,
    ) {
        let mut results = results.into_iter();
        let states: Vec<Option<State>> = keys
            .iter()
            .map(|_| State::from_vget_pttl(results.next()?, results.next()?))
            .collect();
        let copies = keys.iter().zip(states).filter_map(|(&key, state)| {
            let state = state?;
            self.observe_version(state.version);
            let restore = state.restore(key)?;
            Some(async move {
                let args: Vec<&[u8]> = restore.iter().map(|a| a.as_ref()).collect();
                self.fan_out(key, replicas, &args, Some(node), state.version, None)
                    .await
            })
        });
        join_all(copies).await;
    }
}
