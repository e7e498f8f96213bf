//! Many single-key commands at once: each node connection gets one write and one wait for all
//! the commands routed to it, instead of one of each per command.
//!
//! Each command takes its route ([`super`]): a read asks the first replica that serves reads
//! for the answer and, with [`ReadConsistency::Newest`], every other replica for its version,
//! all within the same writes; a read whose replicas disagree or fail is finished on its own
//! by the read route (newest answer, read repair). A write goes, versioned, to every replica
//! that takes writes, under the key's stripe lock, with a hint for each one that missed it (or
//! was still pending when the caller stopped waiting); a mutation runs on its own, as
//! [`Client::command`] runs it.

use std::sync::Arc;

use bytes::BytesMut;
use futures::future::join_all;

use smallvec::SmallVec;

use super::read::Rank;
use super::write::Answer;
use super::{lock, Access, Asked, ReadKind, WriteTally};
use crate::client::Client;
use crate::connection::encode_command;
use crate::error::{Error, ErrorKind, Result};
use crate::node::Node;
use crate::options::ReadConsistency;
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

/// What one command asks of one node connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Part {
    /// A write (one reply).
    Write,
    /// A read's answer, consistency One (one reply).
    Read,
    /// A read's answer with its rank: `VGET` (one reply) or `VVER` and the command (two).
    Full { is_get: bool },
}

impl Part {
    fn replies(self) -> usize {
        match self {
            Part::Full { is_get: false } => 2,
            _ => 1,
        }
    }
}

/// A newest-read's answers so far.
#[derive(Default)]
struct Newest {
    /// The first replica's answer.
    full: Option<Reply>,
    /// The rank every replica answered so far, unless they differ.
    seen: Option<Rank>,
    /// Two replicas answered different ranks.
    differ: bool,
    /// A replica did not answer.
    failed: bool,
    /// The replica asked for the answer, when it is not the key's first (a fallback read).
    fallback: Option<Arc<Node>>,
}

impl Newest {
    fn saw(&mut self, rank: Rank) {
        match self.seen {
            Some(seen) if seen != rank => self.differ = true,
            _ => self.seen = Some(rank),
        }
    }

    /// The answer, when every replica answered with the same rank; else the read finishes
    /// on its own.
    fn settled(self) -> Option<(Rank, Reply)> {
        match (self.full, self.seen) {
            (Some(reply), Some(rank)) if !self.failed && !self.differ => {
                if let Some(node) = self.fallback {
                    node.metrics.fallback_reads.increment(1);
                }
                Some((rank, reply))
            }
            _ => None,
        }
    }
}

/// What a pipeline has learnt so far: results, the writes' tallies, the newest-reads' answers,
/// and reads to finish on their own.
struct Answers<'k> {
    results: Vec<Option<Result<Reply>>>,
    tallies: Vec<Option<WriteTally<'k>>>,
    newest: Vec<Option<Newest>>,
    again: Vec<(usize, Asked)>,
}

impl Answers<'_> {
    /// Records one node connection's answer to the commands `members`, followed by one
    /// `VVER` for the reads `checks` when there are any.
    #[allow(clippy::too_many_arguments)]
    fn record<A: AsRef<[u8]>>(
        &mut self,
        node: &Arc<Node>,
        members: &[(usize, Part)],
        checks: &[usize],
        outcome: Result<Vec<Reply>>,
        commands: &[Routed<'_, A>],
        fallback: &[bool],
    ) {
        let mut replies = match outcome {
            Ok(replies) => replies.into_iter(),
            Err(error) => {
                for &(index, part) in members {
                    match part {
                        Part::Write => {
                            if let Some(tally) = self.tallies[index].as_mut() {
                                tally.record(node, Err(error.clone()));
                            }
                        }
                        Part::Read => self
                            .again
                            .push((index, Asked::Failed(Arc::clone(node), error.clone()))),
                        Part::Full { .. } => self.check_failed(index),
                    }
                }
                for &index in checks {
                    self.check_failed(index);
                }
                return;
            }
        };
        for &(index, part) in members {
            let command = &commands[index];
            let mine: Vec<Reply> = replies.by_ref().take(part.replies()).collect();
            match part {
                Part::Write => {
                    let reply = mine.into_iter().next().unwrap_or(Reply::Nil);
                    if let Some(tally) = self.tallies[index].as_mut() {
                        tally.record(node, node.reply_result(reply));
                    }
                }
                Part::Read => {
                    let reply = mine.into_iter().next().unwrap_or(Reply::Nil);
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
                Part::Full { is_get } => {
                    let Some(newest) = self.newest[index].as_mut() else {
                        continue;
                    };
                    match Client::full_answer(node, mine, is_get) {
                        Ok((rank, reply, _)) => {
                            newest.saw(rank);
                            newest.full = Some(reply);
                        }
                        Err(error) if error.is_server_error() => {
                            self.results[index] = Some(Err(error));
                        }
                        Err(_) => newest.failed = true,
                    }
                }
            }
        }
        if checks.is_empty() {
            return;
        }
        match replies.next() {
            Some(Reply::Array(versions)) if versions.len() == checks.len() => {
                for (&index, version) in checks.iter().zip(versions) {
                    match (self.newest[index].as_mut(), version.as_int()) {
                        (Some(newest), Some(version)) => newest.saw(Rank::from_signed(version)),
                        _ => self.check_failed(index),
                    }
                }
            }
            _ => checks.iter().for_each(|&index| self.check_failed(index)),
        }
    }

    /// Marks a newest-read as not settled by this pipeline.
    fn check_failed(&mut self, index: usize) {
        if let Some(newest) = self.newest[index].as_mut() {
            newest.failed = true;
        }
    }
}

fn slices<A: AsRef<[u8]>>(args: &[A]) -> Vec<&[u8]> {
    args.iter().map(|a| a.as_ref()).collect()
}

/// The commands one node connection carries in this pipeline.
struct Group<'k> {
    node: Arc<Node>,
    slot: usize,
    bytes: BytesMut,
    replies: usize,
    members: Vec<(usize, Part)>,
    /// Newest-reads that only need this replica's version: one `VVER` for all, at the end.
    checks: Vec<(usize, &'k [u8])>,
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

        let newest_reads = self.inner.settings.read_consistency == ReadConsistency::Newest
            && self.versioned_replicas();
        let mut answers = Answers {
            results: (0..commands.len()).map(|_| None).collect(),
            tallies: (0..commands.len()).map(|_| None).collect(),
            newest: (0..commands.len()).map(|_| None).collect(),
            again: Vec::new(),
        };
        let mut reply_as = vec![Answer::AsIs; commands.len()];
        // Writes hold their keys' stripe locks until every replica answered (with one
        // replica there is nothing for them to race with; see `write`).
        let replicated = self.inner.settings.replicas > 1 || self.inner.stripes.near_cached();
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

        let topology = self.topology().await;
        // Reads that go to a later replica because earlier ones cannot serve them.
        let mut fallback = vec![false; commands.len()];
        let mut groups: Vec<Group> = Vec::new();
        let mut version_text = itoa::Buffer::new();
        for (index, command) in commands.iter().enumerate() {
            let replicas = topology.replicas(command.key, self.inner.settings.replicas);
            let args = slices(command.args);
            match command.access {
                Access::Read if newest_reads => {
                    let candidates: SmallVec<[&Arc<Node>; 4]> =
                        replicas.iter().filter(|n| n.takes_writes()).collect();
                    if candidates.is_empty() {
                        answers.results[index] = Some(Err(Error::new(
                            ErrorKind::Unavailable,
                            "no replica of the key can serve reads",
                        )));
                        continue;
                    }
                    let primary = candidates
                        .iter()
                        .position(|n| n.serves_read(command.key))
                        .unwrap_or(0);
                    let is_get = args
                        .first()
                        .and_then(|name| cachering_commands::lookup(name))
                        .map(|spec| spec.id)
                        == Some(cachering_commands::Cmd::Get);
                    answers.newest[index] = Some(Newest {
                        fallback: replicas
                            .first()
                            .filter(|first| !Arc::ptr_eq(first, candidates[primary]))
                            .map(|_| Arc::clone(candidates[primary])),
                        ..Newest::default()
                    });
                    for (i, node) in candidates.iter().enumerate() {
                        if i == primary {
                            let part = Part::Full { is_get };
                            if is_get {
                                add(
                                    &mut groups,
                                    node,
                                    command.key,
                                    (index, part),
                                    None,
                                    &[&b"VGET"[..], command.key],
                                );
                            } else {
                                // Two commands for one member: counted by the part.
                                add(
                                    &mut groups,
                                    node,
                                    command.key,
                                    (index, part),
                                    Some(&[&b"VVER"[..], command.key]),
                                    &args,
                                );
                            }
                        } else {
                            group(&mut groups, node, command.key)
                                .checks
                                .push((index, command.key));
                        }
                    }
                }
                Access::Read => match replicas.iter().position(|n| n.serves_read(command.key)) {
                    Some(position) => {
                        fallback[index] = position > 0;
                        add(
                            &mut groups,
                            &replicas[position],
                            command.key,
                            (index, Part::Read),
                            None,
                            &args,
                        );
                    }
                    None => {
                        answers.results[index] = Some(Err(Error::new(
                            ErrorKind::Unavailable,
                            "no replica of the key can serve reads",
                        )))
                    }
                },
                Access::Write => {
                    let (wire, answer, version) = self.wire_form(&args, &mut version_text);
                    reply_as[index] = answer;
                    let tally = answers.tallies[index].insert(WriteTally::new(
                        command.key,
                        version,
                        replicas.len(),
                    ));
                    for node in &replicas {
                        if tally.target(node) {
                            add(
                                &mut groups,
                                node,
                                command.key,
                                (index, Part::Write),
                                None,
                                &wire,
                            );
                        }
                    }
                }
                // Run alone below, after the stripe locks are released.
                _ => {}
            }
        }

        // Each node connection's answers are recorded as they arrive, so a caller that stops
        // waiting leaves hints only on the replicas that had not answered.
        let answers = std::sync::Mutex::new(answers);
        let sends = groups.iter_mut().map(|group| {
            let mut replies = group.replies;
            let checks: Vec<usize> = group.checks.iter().map(|(index, _)| *index).collect();
            if !group.checks.is_empty() {
                let mut args: Vec<&[u8]> = Vec::with_capacity(group.checks.len() + 1);
                args.push(b"VVER");
                args.extend(group.checks.iter().map(|(_, key)| *key));
                encode_command(&args, &mut group.bytes);
                replies += 1;
            }
            let bytes = std::mem::take(&mut group.bytes).freeze();
            let node = Arc::clone(&group.node);
            let members = std::mem::take(&mut group.members);
            let (answers, fallback) = (&answers, &fallback);
            async move {
                let outcome = node.request(group.slot, bytes, replies).await;
                lock(answers).record(&node, &members, &checks, outcome, commands, fallback);
            }
        });
        join_all(sends).await;
        drop(guards);
        let Answers {
            mut results,
            mut tallies,
            newest,
            again,
        } = answers.into_inner().unwrap_or_else(|p| p.into_inner());
        let migrating = !self.inner.previous.load().is_empty();
        let mut written = Vec::new();
        for (index, tally) in tallies.iter_mut().enumerate() {
            if let Some(tally) = tally.take() {
                if migrating {
                    written.push((index, tally.version()));
                }
                results[index] = Some(
                    tally
                        .outcome(self.inner.settings.write_rule)
                        .map(|r| reply_as[index].reply(r)),
                );
            }
        }
        // After a ring change: the copies left on written keys' former replicas go.
        for (index, version) in written {
            let key = commands[index].key;
            let replicas = topology.replicas(key, self.inner.settings.replicas);
            Box::pin(self.invalidate_moved(key, &replicas, version)).await;
        }
        // Newest-reads whose replicas agree are answered; the others finish on their own.
        let mut unsettled = Vec::new();
        for (index, newest) in newest.into_iter().enumerate() {
            let Some(newest) = newest else { continue };
            if results[index].is_some() {
                continue;
            }
            match newest.settled() {
                // After a ring change, a key whose replicas changed is read by the read
                // route, which asks its former replicas too.
                Some(_)
                    if migrating
                        && !self
                            .moved_from(
                                commands[index].key,
                                &topology
                                    .replicas(commands[index].key, self.inner.settings.replicas),
                            )
                            .is_empty() =>
                {
                    unsettled.push(index)
                }
                Some((rank, reply)) => {
                    self.observe_version(rank.version());
                    results[index] = Some(Ok(reply));
                }
                None => unsettled.push(index),
            }
        }
        for index in unsettled {
            let command = &commands[index];
            let args = slices(command.args);
            results[index] = Some(Box::pin(self.read_newest(command.key, &args)).await);
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
        // One-replica reads that missed after a ring change: the read route looks at the key's
        // former replicas.
        if migrating && !newest_reads {
            for (index, command) in commands.iter().enumerate() {
                let kind = ReadKind::of(command.args);
                let missed = matches!(&results[index], Some(Ok(reply)) if kind.is_miss(reply));
                if command.access == Access::Read && missed {
                    let replicas = topology.replicas(command.key, self.inner.settings.replicas);
                    if !self.moved_from(command.key, &replicas).is_empty() {
                        let args = slices(command.args);
                        results[index] =
                            Some(Box::pin(self.read_after(command.key, &args, kind, None)).await);
                    }
                }
            }
        }
        for (index, command) in commands.iter().enumerate() {
            if command.access == Access::Mutation {
                let args = slices(command.args);
                let blocking = args
                    .first()
                    .and_then(|name| cachering_commands::lookup(name))
                    .filter(|spec| spec.has(cachering_commands::Flag::Blocking));
                results[index] = Some(match blocking {
                    // BLPOP and its kin wait, as through `call`.
                    Some(spec) => Box::pin(self.blocking(spec, &args, true)).await,
                    None => Box::pin(self.mutate(command.key, &args)).await,
                });
            }
        }
        results
            .into_iter()
            .map(|result| result.expect("every command has a result"))
            .collect()
    }
}

/// The group of `node`'s connection for `key`, made when it is the first.
fn group<'g, 'k>(
    groups: &'g mut Vec<Group<'k>>,
    node: &Arc<Node>,
    key: &[u8],
) -> &'g mut Group<'k> {
    let slot = node.slot_for(key);
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
                replies: 0,
                members: Vec::new(),
                checks: Vec::new(),
            });
            groups.len() - 1
        }
    };
    &mut groups[position]
}

/// Adds a member to the group of `node`'s connection for `key`: the command `args`, after
/// `first` when the member sends two.
fn add(
    groups: &mut Vec<Group<'_>>,
    node: &Arc<Node>,
    key: &[u8],
    member: (usize, Part),
    first: Option<&[&[u8]]>,
    args: &[&[u8]],
) {
    let group = group(groups, node, key);
    if let Some(first) = first {
        encode_command(first, &mut group.bytes);
    }
    encode_command(args, &mut group.bytes);
    group.replies += member.1.replies();
    group.members.push(member);
}
