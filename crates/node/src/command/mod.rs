//! The node's commands, as the server layer's [`Service`]: the server layer decodes, checks
//! and answers the connection commands; every other request arrives here, in runs, and runs
//! synchronously against the store.
//!
//! Handlers live by family (`strings`, `bitmaps`, `hyperloglog`, `hashes`, `sets`, `zsets`, `lists`, `keys`, `expire`, `server`; `collection` has
//! what the collection families share); each is a plain function
//! over a [`Ctx`] and the request's arguments and writes exactly one reply ([`table`] says
//! which function runs which command). Error texts are Redis's, word for word.

mod args;
mod bitmaps;
mod collection;
mod expire;
mod hashes;
mod hyperloglog;
mod keys;
mod lists;
mod server;
mod sets;
mod strings;
mod table;
mod versioned;
mod zsets;

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use cachering_commands::CommandSpec;
use cachering_proto::{Protocol, ReplyWriter};
use cachering_server::clients::ClientInfo;
use cachering_server::{Flow, Request, Service};

use crate::state::NodeState;
use crate::store::{Change, StoreError, Value};
use crate::versions::Stamping;

/// Redis's error texts used by more than one command.
pub(crate) mod errors {
    pub const SYNTAX: &str = "ERR syntax error";
    pub const NOT_INTEGER: &str = "ERR value is not an integer or out of range";
    pub const NOT_FLOAT: &str = "ERR value is not a valid float";
    pub const OOM: &str = "OOM command not allowed when used memory > 'maxmemory'.";
    pub const OVERFLOW: &str = "ERR increment or decrement would overflow";
    pub const WRONGTYPE: &str = "WRONGTYPE Operation against a key holding the wrong kind of value";
}

/// Key reads a connection counted since it last added them to the node's counters.
#[derive(Debug, Default)]
pub struct Tally {
    /// Reads that found their key.
    pub hits: u64,
    /// Reads that did not.
    pub misses: u64,
}

/// What a handler works with.
pub struct Ctx<'a> {
    /// The node.
    pub node: &'a NodeState,
    /// This client, as the registry shows it.
    pub client: &'a ClientInfo,
    /// The connection's protocol.
    pub protocol: Protocol,
    /// This connection's read counts.
    pub tally: &'a mut Tally,
    /// The output buffer replies are appended to.
    pub out: &'a mut BytesMut,
    /// The time the run started, in Unix milliseconds.
    pub now: u64,
    /// How this command's writes are stamped: the node's clock, or as VAPPLY asks.
    pub stamping: Stamping,
    /// Whether a replayed write found its key at the expected version (VAPPLY's answer).
    pub matched: bool,
    /// The most output the connection holds before it is closed: a reply of unbounded
    /// length (HRANDFIELD with a huge negative count) stops once past it.
    pub output_limit: usize,
    /// Whether a blocking command may wait (not inside EXEC).
    pub may_block: bool,
    /// Set by a blocking command that found nothing and may wait: until when (`None`: no
    /// limit). It has written no reply; the node runs it again when a list changes.
    pub blocked: Option<Option<std::time::Instant>>,
}

impl Ctx<'_> {
    /// A write of `key` by the running command, stamped as [`Ctx::stamping`] says.
    pub fn write(
        &mut self,
        key: &[u8],
        decide: &mut dyn FnMut(Option<&Value>) -> Change,
    ) -> Result<(), StoreError> {
        let matched =
            self.node
                .write(key, self.now, self.stamping, Some(self.client.id), decide)?;
        self.matched = matched;
        Ok(())
    }

    /// A plain SET of `key` by the running command.
    pub fn set(&mut self, key: &[u8], value: Value) -> Result<(), StoreError> {
        self.write(key, &mut |_| Change::Put(value.clone()))
    }

    /// What the STORE forms (SINTERSTORE, ZUNIONSTORE, BITOP, ...) do with their result:
    /// `value` replaces whatever `key` holds, or with none (an empty result) the key is
    /// deleted; then the reply `count`, or the store's error.
    pub fn store_result(&mut self, key: &[u8], value: Option<Value>, count: i64) {
        let written = self.write(key, &mut |_| match &value {
            Some(value) => Change::Put(value.clone()),
            None => Change::Remove,
        });
        match written {
            Ok(()) => self.reply().int(count),
            Err(e) => self.store_error(&e),
        }
    }

    /// A plain DEL of `key` by the running command; true if a live key was deleted.
    pub fn remove(&mut self, key: &[u8]) -> bool {
        let mut removed = false;
        // A delete cannot fail: a tombstone is smaller than any value.
        let _ = self.write(key, &mut |live| {
            removed = live.is_some();
            Change::Remove
        });
        removed
    }
}

impl Ctx<'_> {
    /// A writer for this command's reply.
    pub fn reply(&mut self) -> ReplyWriter<'_> {
        ReplyWriter::new(self.out, self.protocol)
    }

    /// Replies with an error and counts it.
    pub fn error(&mut self, text: &str) {
        self.node
            .endpoint
            .stats
            .error_replies
            .fetch_add(1, Ordering::Relaxed);
        self.node.metrics.error(text);
        self.reply().error(text);
    }

    /// Replies with the error for a refused store write.
    pub fn store_error(&mut self, error: &StoreError) {
        match error {
            StoreError::TooLarge { .. } => self.error(errors::OOM),
            StoreError::Unsupported(why) => self.error(&format!("ERR {why}")),
        }
    }

    /// Replies with Redis's arity error for `name`.
    pub fn wrong_arity(&mut self, name: &str) {
        self.error(&cachering_commands::wrong_arity_error(name));
    }

    /// Counts a read as a hit or a miss (the connection adds the counts to the node's once per
    /// batch).
    pub fn count_read(&mut self, hit: bool) {
        if hit {
            self.tally.hits += 1;
        } else {
            self.tally.misses += 1;
        }
    }
}

/// The node as a service of the server layer.
#[derive(Clone)]
pub struct NodeService {
    node: Arc<NodeState>,
}

impl NodeService {
    /// The service over `node`.
    pub fn new(node: Arc<NodeState>) -> Self {
        Self { node }
    }
}

impl NodeService {
    /// The context a command of this run runs in (`may_block`: a blocking command may wait).
    /// The time is read once per context, as Redis caches its time per event-loop turn.
    fn ctx<'c>(
        &'c self,
        ctx: &'c mut cachering_server::Ctx<'_, Tally>,
        may_block: bool,
    ) -> Ctx<'c> {
        Ctx {
            node: &self.node,
            client: ctx.client,
            protocol: ctx.session.protocol,
            tally: ctx.local,
            out: ctx.out,
            now: crate::clock::now_ms(),
            stamping: Stamping::Clock,
            matched: false,
            output_limit: ctx.output_limit,
            may_block,
            blocked: None,
        }
    }

    /// Runs requests among which a blocking command (BLPOP, ...) is: one that finds nothing
    /// waits, without a reply, until a list changes (then runs again), its timeout passes
    /// (the null array), CLIENT UNBLOCK (the null array, or an error), or CLIENT KILL. The
    /// connection drops this future when the client goes away meanwhile, which ends the wait
    /// before anything is popped for it.
    async fn run_blocking(
        &self,
        ctx: &mut cachering_server::Ctx<'_, Tally>,
        requests: &[Request],
    ) -> Flow {
        let client = ctx.client;
        let mut flow = Flow::Continue;
        for request in requests {
            // The first attempt's deadline stands through the retries.
            let mut deadline: Option<Option<std::time::Instant>> = None;
            loop {
                // Registered before the attempt, so a change made after it wakes the wait.
                let changed = self.node.lists_changed.notified();
                tokio::pin!(changed);
                changed.as_mut().enable();
                let blocked = {
                    let mut node_ctx = self.ctx(ctx, true);
                    flow = run(
                        &mut node_ctx,
                        request.spec(),
                        &request.args,
                        &mut lap(&self.node),
                    );
                    node_ctx.blocked
                };
                let Some(until) = blocked else {
                    break;
                };
                let until = *deadline.get_or_insert(until);
                let _blocked = client.block();
                let timeout = async {
                    match until {
                        Some(at) => tokio::time::sleep_until(at.into()).await,
                        None => std::future::pending().await,
                    }
                };
                tokio::select! {
                    () = &mut changed => continue,
                    () = timeout => {
                        ReplyWriter::new(ctx.out, ctx.session.protocol).null_array();
                    }
                    with_error = client.unblocked() => {
                        let mut reply = ReplyWriter::new(ctx.out, ctx.session.protocol);
                        if with_error {
                            reply.error("UNBLOCKED client unblocked via CLIENT UNBLOCK");
                        } else {
                            reply.null_array();
                        }
                    }
                    () = client.killed() => return Flow::Close,
                }
                break;
            }
            if flow == Flow::Close || ctx.out.len() > ctx.output_limit {
                return Flow::Close;
            }
        }
        flow
    }
}

/// When the command about to run started, while metrics are exported: the clock is read once
/// per command, each command's end being the next one's start (two reads per command cost
/// about 6 % of the node's CPU at depth 16, perf), and read from the TSC (quanta) rather than
/// the system clock.
type Lap = Option<quanta::Instant>;

/// The lap of a run of commands starting now.
fn lap(node: &NodeState) -> Lap {
    node.timing.then(quanta::Instant::now)
}

/// Runs a command, timed when metrics are exported.
fn run(ctx: &mut Ctx<'_>, spec: &'static CommandSpec, args: &[Bytes], lap: &mut Lap) -> Flow {
    let flow = table::handler(spec.id)(ctx, args);
    if let Some(started) = lap {
        let now = quanta::Instant::now();
        ctx.node
            .metrics
            .command(spec.index(), now.saturating_duration_since(*started));
        *started = now;
    }
    flow
}

impl Service for NodeService {
    type Local = Tally;

    fn run<'a>(
        &'a self,
        ctx: &'a mut cachering_server::Ctx<'_, Tally>,
        requests: &'a [Request],
    ) -> impl std::future::Future<Output = Flow> + Send + 'a {
        if !ctx.session.executing()
            && requests
                .iter()
                .any(|request| request.spec().has(cachering_commands::Flag::Blocking))
        {
            return futures::future::Either::Right(Box::pin(self.run_blocking(ctx, requests)));
        }
        let output_limit = ctx.output_limit;
        let mut node_ctx = self.ctx(ctx, false);
        let mut flow = Flow::Continue;
        let mut lap = lap(&self.node);
        for request in requests {
            flow = run(&mut node_ctx, request.spec(), &request.args, &mut lap);
            if flow == Flow::Close || node_ctx.out.len() > output_limit {
                flow = Flow::Close;
                break;
            }
        }
        futures::future::Either::Left(std::future::ready(flow))
    }

    fn info(&self, sections: &[String]) -> String {
        crate::info::render(&self.node, sections)
    }

    fn batch_done(&self, tally: &mut Tally) {
        let stats = &self.node.stats;
        if tally.hits > 0 {
            stats
                .keyspace_hits
                .fetch_add(std::mem::take(&mut tally.hits), Ordering::Relaxed);
        }
        if tally.misses > 0 {
            stats
                .keyspace_misses
                .fetch_add(std::mem::take(&mut tally.misses), Ordering::Relaxed);
        }
    }

    fn timing(&self) -> bool {
        self.node.timing
    }

    fn tracks_keys(&self) -> bool {
        true
    }

    fn observe(&self, spec: &'static CommandSpec, elapsed: Option<Duration>) {
        if let Some(elapsed) = elapsed {
            self.node.metrics.command(spec.index(), elapsed);
        }
    }

    fn observe_error(&self, text: &str) {
        self.node.metrics.error(text);
    }
}
