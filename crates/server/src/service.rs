//! What a server serves: the [`Service`] trait a node and a proxy each implement, and what a
//! service is handed for each run of requests.

use std::future::Future;
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use cachering_commands::CommandSpec;
use cachering_proto::{Protocol, ReplyWriter};

use crate::clients::ClientInfo;
use crate::endpoint::Endpoint;
use crate::session::Session;

/// What the connection does after a command.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flow {
    /// Keep serving.
    Continue,
    /// Write the replies so far and close (QUIT, SHUTDOWN, CLIENT KILL of oneself).
    Close,
}

/// One decoded request: its arguments (name first, slices of the read buffer) and, once
/// looked up, its command table entry.
#[derive(Debug, Default)]
pub struct Request {
    spec: Option<&'static CommandSpec>,
    /// The arguments, name first.
    pub args: Vec<Bytes>,
}

impl Request {
    /// A request for `args`, looked up in the command table.
    pub fn new(args: Vec<Bytes>) -> Self {
        let spec = args
            .first()
            .and_then(|name| cachering_commands::lookup(name));
        Self { spec, args }
    }

    /// The command's table entry. Every request handed to a [`Service`] names a known command
    /// with a valid arity.
    ///
    /// # Panics
    ///
    /// On a request whose command is unknown, which the server layer never hands to a service.
    pub fn spec(&self) -> &'static CommandSpec {
        self.spec
            .expect("the server layer hands services known commands only")
    }

    pub(crate) fn known(&self) -> Option<&'static CommandSpec> {
        self.spec
    }

    /// Takes `args`, looked up unless `cached` already names their command.
    pub(crate) fn reuse_with(&mut self, args: Vec<Bytes>, cached: Option<&'static CommandSpec>) {
        self.spec = cached.or_else(|| {
            args.first()
                .and_then(|name| cachering_commands::lookup(name))
        });
        self.args = args;
    }

    /// Bytes held by the arguments.
    pub fn size(&self) -> usize {
        self.args.iter().map(Bytes::len).sum()
    }

    /// A copy that owns its arguments, so it does not pin the read buffer (MULTI's queue).
    pub(crate) fn detached(&self) -> Self {
        Self {
            spec: self.spec,
            args: self
                .args
                .iter()
                .map(|a| Bytes::copy_from_slice(a))
                .collect(),
        }
    }
}

/// What a service works with while it runs requests for one connection.
pub struct Ctx<'a, L> {
    /// The server's shared state.
    pub endpoint: &'a Endpoint,
    /// This client, as the registry shows it.
    pub client: &'a ClientInfo,
    /// This connection's protocol state.
    pub session: &'a mut Session,
    /// What the service keeps per connection.
    pub local: &'a mut L,
    /// Where replies are appended.
    pub out: &'a mut BytesMut,
    /// `client-output-buffer-limit`: a service that appends many replies stops once `out`
    /// grows past it (the connection is then closed without them).
    pub output_limit: usize,
}

impl<L> Ctx<'_, L> {
    /// Whether the pending replies passed the output buffer limit.
    pub fn output_full(&self) -> bool {
        self.out.len() > self.output_limit
    }

    /// A writer for the next reply, in this connection's protocol.
    pub fn reply(&mut self) -> ReplyWriter<'_> {
        ReplyWriter::new(self.out, self.session.protocol)
    }

    /// The connection's protocol.
    pub fn protocol(&self) -> Protocol {
        self.session.protocol
    }
}

/// The commands a server runs beyond the connection-level ones it answers itself (the command
/// table's connection route: PING, ECHO, QUIT, RESET, SELECT, AUTH, HELLO, CLIENT, COMMAND,
/// TIME, INFO, MULTI, EXEC, DISCARD).
///
/// The server layer decodes, looks each request up in the command table, answers unknown
/// commands, wrong arities and unauthenticated clients with Redis's errors, queues commands
/// inside MULTI, and hands every other request to [`Service::run`], in order, in runs of
/// consecutive requests: a pipeline of GETs arrives as one run.
pub trait Service: Send + Sync + 'static {
    /// What the service keeps per connection (tallies it folds into shared counters once per
    /// batch, caches).
    type Local: Default + Send;

    /// Runs `requests` (known commands, valid arities, the client authenticated), appending
    /// exactly one reply per request to `ctx.out`, in order. A service that answers without
    /// waiting returns a ready future: the node's hot path stays synchronous.
    fn run<'a>(
        &'a self,
        ctx: &'a mut Ctx<'_, Self::Local>,
        requests: &'a [Request],
    ) -> impl Future<Output = Flow> + Send + 'a;

    /// INFO's text for `sections` (lower-case; empty for the default set).
    fn info(&self, sections: &[String]) -> String;

    /// Whether EXEC may run `queued`: the error reply if not (the proxy refuses a transaction
    /// whose keys live on different nodes).
    fn check_transaction(&self, _queued: &[Request]) -> Result<(), String> {
        Ok(())
    }

    /// A batch of requests is done: fold the connection's tallies into shared counters.
    fn batch_done(&self, _local: &mut Self::Local) {}

    /// Whether commands should be timed (metrics are being exported).
    fn timing(&self) -> bool {
        false
    }

    /// Whether the service sends invalidations for the keys it changes (CLIENT TRACKING):
    /// the server layer refuses tracking where it does not.
    fn tracks_keys(&self) -> bool {
        false
    }

    /// A command the server layer answered itself, with its duration when timing, so the
    /// service's per-command metrics see every command.
    fn observe(&self, _spec: &'static CommandSpec, _elapsed: Option<Duration>) {}

    /// An error reply the server layer wrote (unknown command, wrong arity, NOAUTH, ...).
    fn observe_error(&self, _text: &str) {}
}
