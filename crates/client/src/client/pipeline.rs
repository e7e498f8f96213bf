//! Many single-key commands at once: each node connection gets one write and one wait for all
//! the commands routed to it, instead of one of each per command.
//!
//! The routes are those of [`Client::command`]: a read goes to the first replica that serves
//! reads and, if that node fails, to the next; a write goes to every replica that takes
//! writes, under the key's stripe lock, with a hint for each one that missed it; a mutation
//! runs on its own, as [`Client::command`] runs it.

use std::sync::Arc;

use bytes::BytesMut;
use futures::future::join_all;

use super::{Access, Client};
use crate::connection::encode_command;
use crate::error::{Error, ErrorKind, Result};
use crate::node::Node;
use crate::reply::Reply;

/// One command of a [`Client::pipeline`]: the key it is routed by, the command in full (name
/// first), and how it is routed.
#[derive(Debug, Clone, Copy)]
pub struct Routed<'a, A> {
    /// The key that places the command on the ring.
    pub key: &'a [u8],
    /// The command and its arguments.
    pub args: &'a [A],
    /// Read, write or mutation.
    pub access: Access,
}

impl<'a, A: AsRef<[u8]>> Routed<'a, A> {
    /// A command routed by `key`.
    pub fn new(key: &'a [u8], args: &'a [A], access: Access) -> Self {
        Self { key, args, access }
    }
}

fn slices<A: AsRef<[u8]>>(args: &[A]) -> Vec<&[u8]> {
    args.iter().map(|a| a.as_ref()).collect()
}

/// The commands one node connection carries in this pipeline.
struct Group {
    node: Arc<Node>,
    slot: usize,
    bytes: BytesMut,
    members: Vec<usize>,
}

/// A write's acknowledgements so far.
#[derive(Default)]
pub(super) struct WriteTally {
    pub replicas: usize,
    pub acknowledged: usize,
    pub first_reply: Option<Reply>,
    pub last_error: Option<Error>,
}

impl WriteTally {
    /// Counts one replica's answer to the write of `key`. A replica that failed or refused it
    /// may hold the old value, so it gets a hint.
    pub fn record(&mut self, node: &Node, key: &[u8], result: Result<Reply>) {
        match result {
            Ok(reply) => {
                self.acknowledged += 1;
                self.first_reply.get_or_insert(reply);
            }
            Err(error) => {
                node.add_hint(key);
                self.last_error = Some(error);
            }
        }
    }
}

impl Client {
    /// Runs single-key commands on distinct keys together and returns their results in input
    /// order. Each is routed and replicated exactly as [`Client::command`] would do it; what
    /// changes is that all the commands bound for one node connection travel in one write and
    /// are answered in one wait. If two commands share a key, the commands run one after the
    /// other instead, so each sees the one before it.
    ///
    /// ```no_run
    /// # #[tokio::main]
    /// # async fn main() -> cachering_client::Result<()> {
    /// use cachering_client::{Access, ClientBuilder, Routed};
    ///
    /// let client = ClientBuilder::new().nodes(["127.0.0.1:7001", "127.0.0.1:7002"]).build()?;
    /// let set: [&[u8]; 3] = [b"SET", b"a", b"1"];
    /// let get: [&[u8]; 2] = [b"GET", b"b"];
    /// let results = client
    ///     .pipeline(&[
    ///         Routed::new(b"a", &set, Access::Write),
    ///         Routed::new(b"b", &get, Access::Read),
    ///     ])
    ///     .await;
    /// assert!(results[0].is_ok());
    /// # Ok(())
    /// # }
    /// ```
    pub async fn pipeline<A: AsRef<[u8]>>(&self, commands: &[Routed<'_, A>]) -> Vec<Result<Reply>> {
        let mut keys: Vec<&[u8]> = commands.iter().map(|c| c.key).collect();
        keys.sort_unstable();
        if keys.windows(2).any(|pair| pair[0] == pair[1]) {
            let mut results = Vec::with_capacity(commands.len());
            for command in commands {
                let args = slices(command.args);
                results.push(self.command(command.key, &args, command.access).await);
            }
            return results;
        }

        let mut results: Vec<Option<Result<Reply>>> = (0..commands.len()).map(|_| None).collect();
        let mut tallies: Vec<WriteTally> =
            (0..commands.len()).map(|_| WriteTally::default()).collect();
        // Writes hold their keys' stripe locks until every replica answered (with one
        // replica there is nothing for them to race with; see `write`).
        let replicated = self.inner.settings.replicas > 1;
        let guards = self
            .lock_keys(
                commands
                    .iter()
                    .filter(|c| replicated && c.access == Access::Write)
                    .map(|c| c.key),
            )
            .await;

        let topology = self.inner.topology.load_full();
        // Reads that go to a later replica because earlier ones cannot serve them.
        let mut fallback = vec![false; commands.len()];
        let mut groups: Vec<Group> = Vec::new();
        let mut add = |node: &Arc<Node>, index: usize, command: &Routed<'_, A>| {
            let slot = node.slot_for(command.key);
            let position = match groups
                .iter()
                .position(|g| g.slot == slot && Arc::ptr_eq(&g.node, node))
            {
                Some(position) => position,
                None => {
                    groups.push(Group {
                        node: Arc::clone(node),
                        slot,
                        bytes: BytesMut::new(),
                        members: Vec::new(),
                    });
                    groups.len() - 1
                }
            };
            encode_command(command.args, &mut groups[position].bytes);
            groups[position].members.push(index);
        };
        for (index, command) in commands.iter().enumerate() {
            let replicas = self.replicas(&topology, command.key);
            match command.access {
                Access::Read => match replicas.iter().position(|n| n.serves_read(command.key)) {
                    Some(position) => {
                        fallback[index] = position > 0;
                        add(&replicas[position], index, command);
                    }
                    None => {
                        results[index] = Some(Err(Error::new(
                            ErrorKind::Unavailable,
                            "no replica of the key can serve reads",
                        )))
                    }
                },
                Access::Write => {
                    tallies[index].replicas = replicas.len();
                    for node in &replicas {
                        if node.takes_writes() {
                            add(node, index, command);
                        } else {
                            node.add_hint(command.key);
                        }
                    }
                }
                // Run alone below, after the stripe locks are released.
                Access::Mutation => {}
            }
        }

        let sends = groups.iter_mut().map(|group| {
            let bytes = std::mem::take(&mut group.bytes).freeze();
            let replies = group.members.len();
            let node = Arc::clone(&group.node);
            let slot = group.slot;
            async move { node.request(slot, bytes, replies).await }
        });
        let outcomes = join_all(sends).await;
        let mut failed_reads: Vec<(usize, Arc<Node>, Error)> = Vec::new();
        for (group, outcome) in groups.iter().zip(outcomes) {
            let node = &group.node;
            match outcome {
                Ok(replies) => {
                    for (&index, reply) in group.members.iter().zip(replies) {
                        let command = &commands[index];
                        if command.access == Access::Read {
                            if fallback[index] {
                                node.metrics.fallback_reads.increment(1);
                            }
                            results[index] = Some(match reply {
                                Reply::Error(text) => Err(node.server_error(&text)),
                                reply => Ok(reply),
                            });
                            continue;
                        }
                        let result = match reply {
                            Reply::Error(text) => Err(node.server_error(&text)),
                            reply => Ok(reply),
                        };
                        tallies[index].record(node, command.key, result);
                    }
                }
                Err(error) => {
                    for &index in &group.members {
                        let command = &commands[index];
                        if command.access == Access::Read {
                            failed_reads.push((index, Arc::clone(node), error.clone()));
                        } else {
                            tallies[index].record(node, command.key, Err(error.clone()));
                        }
                    }
                }
            }
        }
        drop(guards);
        for (index, command) in commands.iter().enumerate() {
            if command.access == Access::Write {
                results[index] = Some(self.write_outcome(std::mem::take(&mut tallies[index])));
            }
        }

        // The rare paths, one command at a time: reads whose replica failed go on to the next
        // replica; mutations run as they always do.
        for (index, node, error) in failed_reads {
            let command = &commands[index];
            let args = slices(command.args);
            results[index] = Some(
                self.read_past(command.key, &args, false, Some((&node, error)))
                    .await,
            );
        }
        for (index, command) in commands.iter().enumerate() {
            if command.access == Access::Mutation {
                let args = slices(command.args);
                results[index] = Some(self.mutate(command.key, &args).await);
            }
        }
        results
            .into_iter()
            .map(|result| result.expect("every command has a result"))
            .collect()
    }

    /// A write's result from its acknowledgements, by the write rule.
    pub(super) fn write_outcome(&self, tally: WriteTally) -> Result<Reply> {
        let required = self.inner.settings.write_rule.required(tally.replicas);
        if tally.acknowledged >= required {
            return Ok(tally
                .first_reply
                .unwrap_or(Reply::Status(bytes::Bytes::from_static(b"OK"))));
        }
        let acknowledged = tally.acknowledged;
        match tally.last_error {
            Some(error) if error.is_server_error() => Err(error),
            Some(error) => Err(Error::new(
                ErrorKind::WriteNotAcknowledged,
                format!("{acknowledged} of {required} required replicas acknowledged: {error}"),
            )),
            None => Err(Error::new(
                ErrorKind::Unavailable,
                "every replica of the key is ejected",
            )),
        }
    }
}
