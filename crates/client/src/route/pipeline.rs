//! Many single-key commands at once: each node connection gets one write and one wait for all
//! the commands routed to it, instead of one of each per command.
//!
//! Each command takes its route ([`super`]): a read goes to the first replica that serves
//! reads, and if that node fails, or misses while warming up, on to the next; a write goes to
//! every replica that takes writes, under the key's stripe lock, with a hint for each one that
//! missed it (or was still pending when the caller stopped waiting); a mutation runs on its
//! own, as [`Client::command`] runs it.

use std::sync::Arc;

use bytes::BytesMut;
use futures::future::join_all;

use super::{lock, Access, Asked, ReadKind, WriteTally};
use crate::client::Client;
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

/// What a pipeline has learnt so far: results of reads, the writes' tallies, and reads to
/// ask of a later replica (their first one failed, or missed while warming).
struct Answers<'k> {
    results: Vec<Option<Result<Reply>>>,
    tallies: Vec<Option<WriteTally<'k>>>,
    again: Vec<(usize, Asked)>,
}

impl Answers<'_> {
    /// Records one node connection's answer to the commands `members`.
    fn record<A: AsRef<[u8]>>(
        &mut self,
        node: &Arc<Node>,
        members: &[usize],
        outcome: Result<Vec<Reply>>,
        commands: &[Routed<'_, A>],
        fallback: &[bool],
    ) {
        match outcome {
            Ok(replies) => {
                for (&index, reply) in members.iter().zip(replies) {
                    let command = &commands[index];
                    if command.access != Access::Read {
                        if let Some(tally) = self.tallies[index].as_mut() {
                            tally.record(node, node.reply_result(reply));
                        }
                        continue;
                    }
                    if node.is_warming() && ReadKind::of(command.args).is_miss(&reply) {
                        self.again
                            .push((index, Asked::Missed(Arc::clone(node), reply)));
                        continue;
                    }
                    if fallback[index] {
                        node.metrics.fallback_reads.increment(1);
                    }
                    self.results[index] = Some(node.reply_result(reply));
                }
            }
            Err(error) => {
                for &index in members {
                    let command = &commands[index];
                    if command.access == Access::Read {
                        self.again
                            .push((index, Asked::Failed(Arc::clone(node), error.clone())));
                    } else if let Some(tally) = self.tallies[index].as_mut() {
                        tally.record(node, Err(error.clone()));
                    }
                }
            }
        }
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

impl Client {
    /// Runs single-key commands on distinct keys together and returns their results in input
    /// order. Each is routed and replicated exactly as [`Client::command`] would do it; what
    /// changes is that all the commands bound for one node connection travel in one write and
    /// are answered in one wait. If two commands share a key, the commands run one after the
    /// other instead, so each sees the one before it.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let node = cachering_node::start(cachering_node::NodeConfig::ephemeral()).await?;
    /// # let addr = node.local_addr().to_string();
    /// use cachering_client::{Access, ClientBuilder, Reply, Routed};
    ///
    /// let client = ClientBuilder::new().node(&addr).build()?;
    /// let set: [&[u8]; 3] = [b"SET", b"a", b"1"];
    /// let get: [&[u8]; 2] = [b"GET", b"b"];
    /// let incr: [&[u8]; 2] = [b"INCR", b"c"];
    /// let results = client
    ///     .pipeline(&[
    ///         Routed::new(b"a", &set, Access::Write),
    ///         Routed::new(b"b", &get, Access::Read),
    ///         Routed::new(b"c", &incr, Access::Mutation),
    ///     ])
    ///     .await;
    /// assert_eq!(results[1].as_ref().unwrap(), &Reply::Nil);
    /// assert_eq!(results[2].as_ref().unwrap(), &Reply::Int(1));
    /// # Ok(())
    /// # }
    /// ```
    ///
    /// # Errors
    ///
    /// Each command's result carries its own error, as [`Client::command`] would return it.
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
        let mut tallies: Vec<Option<WriteTally<'_>>> = (0..commands.len()).map(|_| None).collect();
        // Writes hold their keys' stripe locks until every replica answered (with one
        // replica there is nothing for them to race with; see `write`).
        let replicated = self.inner.settings.replicas > 1;
        let guards = self
            .inner
            .stripes
            .lock_all(
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
            let replicas = topology.replicas(command.key, self.inner.settings.replicas);
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
                    let tally = tallies[index].insert(WriteTally::new(command.key, replicas.len()));
                    for node in &replicas {
                        if tally.target(node) {
                            add(node, index, command);
                        }
                    }
                }
                // Run alone below, after the stripe locks are released.
                _ => {}
            }
        }

        // Each node connection's answers are recorded as they arrive, so a caller that stops
        // waiting leaves hints only on the replicas that had not answered.
        let answers = std::sync::Mutex::new(Answers {
            results,
            tallies,
            again: Vec::new(),
        });
        let sends = groups.iter_mut().map(|group| {
            let bytes = std::mem::take(&mut group.bytes).freeze();
            let replies = group.members.len();
            let node = Arc::clone(&group.node);
            let members = std::mem::take(&mut group.members);
            let (answers, fallback) = (&answers, &fallback);
            async move {
                let outcome = node.request(group.slot, bytes, replies).await;
                lock(answers).record(&node, &members, outcome, commands, fallback);
            }
        });
        join_all(sends).await;
        drop(guards);
        let Answers {
            mut results,
            mut tallies,
            again,
        } = answers.into_inner().unwrap_or_else(|p| p.into_inner());
        for (index, tally) in tallies.iter_mut().enumerate() {
            if let Some(tally) = tally.take() {
                results[index] = Some(tally.outcome(self.inner.settings.write_rule));
            }
        }

        // The rare paths, one command at a time: reads go on to the next replica; mutations
        // run as they always do.
        for (index, asked) in again {
            let command = &commands[index];
            let args = slices(command.args);
            let kind = ReadKind::of(command.args);
            results[index] =
                Some(Box::pin(self.read_after(command.key, &args, kind, Some(asked))).await);
        }
        for (index, command) in commands.iter().enumerate() {
            if command.access == Access::Mutation {
                let args = slices(command.args);
                results[index] = Some(Box::pin(self.mutate(command.key, &args)).await);
            }
        }
        results
            .into_iter()
            .map(|result| result.expect("every command has a result"))
            .collect()
    }
}
