//! Commands: one data-driven table (name, arity, flags, key positions, docs, handler) and the
//! dispatcher that checks authentication, arity and MULTI state before calling a handler.
//!
//! Handlers live by family (`strings`, `keys`, `expire`, `connection`, `server`,
//! `transaction`); each is a plain function over a [`Ctx`] and the request's arguments and
//! writes exactly one reply. Error texts are Redis's, word for word.

mod args;
mod connection;
mod expire;
mod keys;
mod server;
mod strings;
mod table;
mod transaction;

use bytes::{Bytes, BytesMut};
use cachering_proto::{Protocol, ReplyWriter};

use crate::clients::ClientInfo;
use crate::state::NodeState;
use crate::store::StoreError;

pub use cachering_commands::{lookup, unknown_command_error, CommandSpec, COMMANDS};
pub use connection::{password_matches, write_hello, REDIS_VERSION};

/// Redis's error texts used by more than one command.
pub(crate) mod errors {
    pub const SYNTAX: &str = "ERR syntax error";
    pub const NOT_INTEGER: &str = "ERR value is not an integer or out of range";
    pub const NOT_FLOAT: &str = "ERR value is not a valid float";
    pub const OOM: &str = "OOM command not allowed when used memory > 'maxmemory'.";
    pub const NOAUTH: &str = "NOAUTH Authentication required.";
    pub const OVERFLOW: &str = "ERR increment or decrement would overflow";
}

/// Per-connection protocol state that commands read and change.
#[derive(Debug, Default)]
pub struct Session {
    /// RESP2 until `HELLO 3`.
    pub protocol: Protocol,
    /// False until AUTH succeeds when the node has a password.
    pub authenticated: bool,
    /// Commands queued since MULTI; `None` outside a transaction.
    pub queued: Option<Vec<Vec<Bytes>>>,
    /// Bytes held by the queued commands.
    pub queued_bytes: usize,
    /// A queued command was refused: EXEC must abort.
    pub transaction_failed: bool,
    /// Key reads that hit and missed since the connection last reported them.
    pub hits: u64,
    /// See `hits`.
    pub misses: u64,
    /// Commands run since the connection last reported them (it adds them to the node's
    /// counter once per batch rather than touching a shared counter per command).
    pub processed: u64,
    /// The last command looked up: pipelines repeat commands, and comparing one name is
    /// cheaper than hashing it.
    pub last_spec: Option<&'static CommandSpec>,
}

/// What the connection does after a command.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flow {
    /// Keep serving.
    Continue,
    /// Flush the replies and close (QUIT, SHUTDOWN).
    Close,
}

/// What a handler works with.
pub struct Ctx<'a> {
    /// The node.
    pub node: &'a NodeState,
    /// This client, as the registry shows it.
    pub client: &'a ClientInfo,
    /// This connection's protocol state.
    pub session: &'a mut Session,
    /// The output buffer replies are appended to.
    pub out: &'a mut BytesMut,
    /// The time the command started, in Unix milliseconds.
    pub now: u64,
}

impl Ctx<'_> {
    /// A writer for this command's reply.
    pub fn reply(&mut self) -> ReplyWriter<'_> {
        ReplyWriter::new(self.out, self.session.protocol)
    }

    /// Replies with an error and counts it.
    pub fn error(&mut self, text: &str) {
        self.node
            .stats
            .error_replies
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
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
        self.error(&format!(
            "ERR wrong number of arguments for '{name}' command"
        ));
    }

    /// Counts a read as a hit or a miss (in the session; the connection adds the counts to
    /// the node's once per batch).
    pub fn count_read(&mut self, hit: bool) {
        if hit {
            self.session.hits += 1;
        } else {
            self.session.misses += 1;
        }
    }
}

/// Commands a client may run before authenticating.
fn allowed_before_auth(spec: &CommandSpec) -> bool {
    spec.has(cachering_commands::Flag::NoAuth)
}

/// Commands that run at once inside MULTI instead of being queued.
fn runs_inside_multi(spec: &CommandSpec) -> bool {
    use cachering_commands::Cmd;
    matches!(
        spec.id,
        Cmd::Exec | Cmd::Discard | Cmd::Multi | Cmd::Quit | Cmd::Reset
    )
}

/// Runs one request, writing its reply.
pub fn dispatch(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Flow {
    let cached = ctx
        .session
        .last_spec
        .filter(|spec| args[0].eq_ignore_ascii_case(spec.name.as_bytes()));
    let Some(spec) = cached.or_else(|| lookup(&args[0])) else {
        if ctx.session.queued.is_some() {
            ctx.session.transaction_failed = true;
        }
        ctx.error(&unknown_command_error(args));
        return Flow::Continue;
    };
    ctx.session.last_spec = Some(spec);
    if !ctx.session.authenticated && !allowed_before_auth(spec) {
        if ctx.session.queued.is_some() {
            ctx.session.transaction_failed = true;
        }
        ctx.error(errors::NOAUTH);
        return Flow::Continue;
    }
    if !spec.arity_ok(args.len()) {
        if ctx.session.queued.is_some() {
            ctx.session.transaction_failed = true;
        }
        ctx.wrong_arity(spec.name);
        return Flow::Continue;
    }
    if ctx.session.queued.is_some() && !runs_inside_multi(spec) {
        if spec.has(cachering_commands::Flag::NoMulti) {
            ctx.session.transaction_failed = true;
            ctx.error("ERR Command not allowed inside a transaction");
            return Flow::Continue;
        }
        transaction::queue(ctx, args);
        return Flow::Continue;
    }
    run(ctx, spec, args)
}

/// Runs a command whose checks passed (also used by EXEC for queued commands).
fn run(ctx: &mut Ctx<'_>, spec: &CommandSpec, args: &[Bytes]) -> Flow {
    ctx.session.processed += 1;
    ctx.client
        .last_command
        .store(spec.index(), std::sync::atomic::Ordering::Relaxed);
    if !ctx.node.timing {
        return table::handler(spec.id)(ctx, args);
    }
    let started = std::time::Instant::now();
    let flow = table::handler(spec.id)(ctx, args);
    ctx.node
        .metrics
        .command(spec.index(), started.elapsed().as_secs_f64());
    flow
}
