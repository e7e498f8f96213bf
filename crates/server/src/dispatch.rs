//! The path of every request: looked up in the command table, checked (known, authenticated,
//! valid arity, queued inside MULTI), then answered by the server layer itself (connection
//! commands) or handed to the service in runs of consecutive requests.
//!
//! This is the same for the node and the proxy, so they cannot answer bad input differently.

use std::time::Instant;

use bytes::BytesMut;
use cachering_commands::{unknown_command_error, wrong_arity_error, Cmd, CommandSpec, Flag, Route};
use cachering_proto::ReplyWriter;

use crate::clients::ClientInfo;
use crate::endpoint::Endpoint;
use crate::service::{Ctx, Flow, Request, Service};
use crate::session::{Replies, Session};

/// Redis's error texts the server layer writes.
pub(crate) mod errors {
    pub const SYNTAX: &str = "ERR syntax error";
    pub const NOT_INTEGER: &str = "ERR value is not an integer or out of range";
    pub const NOAUTH: &str = "NOAUTH Authentication required.";
    pub const NOT_IN_MULTI: &str = "ERR Command not allowed inside a transaction";
}

/// One connection's view while it runs requests.
pub struct Exchange<'a, S: Service> {
    /// The service behind the server.
    pub service: &'a S,
    /// The server's shared state.
    pub endpoint: &'a Endpoint,
    /// This client.
    pub client: &'a ClientInfo,
    /// Its protocol state.
    pub session: &'a mut Session,
    /// The service's per-connection state.
    pub local: &'a mut S::Local,
    /// Where replies go.
    pub out: &'a mut BytesMut,
    /// `client-output-buffer-limit`.
    pub output_limit: usize,
}

impl<S: Service> Exchange<'_, S> {
    /// A writer for the next reply.
    pub(crate) fn reply(&mut self) -> ReplyWriter<'_> {
        ReplyWriter::new(self.out, self.session.protocol)
    }

    /// Replies with an error and counts it.
    pub(crate) fn error(&mut self, text: &str) {
        self.endpoint
            .stats
            .error_replies
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        self.service.observe_error(text);
        self.reply().error(text);
    }

    /// Replies with Redis's arity error for `name`.
    pub(crate) fn wrong_arity(&mut self, name: &str) {
        self.error(&wrong_arity_error(name));
    }

    /// Replies with an error and, inside MULTI, dooms the transaction.
    fn refuse(&mut self, text: &str) {
        if self.session.queued.is_some() {
            self.session.transaction_failed = true;
        }
        self.error(text);
    }

    fn ctx(&mut self) -> Ctx<'_, S::Local> {
        Ctx {
            endpoint: self.endpoint,
            client: self.client,
            session: self.session,
            local: self.local,
            out: self.out,
            output_limit: self.output_limit,
        }
    }
}

/// Whether the server layer answers `spec` itself: the command table's connection route
/// (INFO included, whose text the service writes).
pub(crate) fn answered_here(spec: &CommandSpec) -> bool {
    spec.route == Route::Connection
}

/// What a connection in MONITOR mode may still send, as in Redis.
fn monitor_may_run(request: &Request) -> bool {
    request
        .known()
        .is_some_and(|spec| matches!(spec.id, Cmd::Ping | Cmd::Quit | Cmd::Reset | Cmd::Monitor))
}

/// Commands that run at once inside MULTI instead of being queued.
fn runs_inside_multi(spec: &CommandSpec) -> bool {
    matches!(
        spec.id,
        Cmd::Exec | Cmd::Discard | Cmd::Multi | Cmd::Quit | Cmd::Reset
    )
}

/// Whether `request` goes to the service as it is: known, allowed, outside MULTI, and not one
/// the server layer answers.
fn for_service(session: &Session, request: &Request) -> bool {
    let Some(spec) = request.known() else {
        return false;
    };
    (session.authenticated || spec.has(Flag::NoAuth))
        && spec.arity_ok(request.args.len())
        && session.queued.is_none()
        && session.monitor.is_none()
        && !session.in_pubsub()
        && !answered_here(spec)
}

/// What a connection in RESP2's Pub/Sub mode may still send, as in Redis.
fn pubsub_may_run(spec: &CommandSpec) -> bool {
    matches!(
        spec.id,
        Cmd::Subscribe | Cmd::Unsubscribe | Cmd::Ping | Cmd::Quit | Cmd::Reset
    )
}

/// CLIENT TRACKING: the keys of the read-only commands of `run` are remembered for this
/// client before they run (so a write that lands between the remembering and the read is
/// invalidated too), unless BCAST, or OPTIN without CLIENT CACHING YES, or OPTOUT after
/// CLIENT CACHING NO.
fn remember_reads<S: Service>(x: &Exchange<'_, S>, run: &[Request]) {
    if !x.client.is_tracking() {
        return;
    }
    let mode = x.client.tracking_mode();
    let caching = x.session.caching;
    if mode.bcast || (mode.optin && !caching) || (mode.optout && caching) {
        return;
    }
    for request in run {
        let spec = request.spec();
        if spec.has(Flag::ReadOnly) {
            x.endpoint.tracking.remember(
                &x.endpoint.clients,
                x.client.id,
                spec.keys.keys(&request.args),
            );
        }
    }
}

/// Runs `requests` in order, appending one reply per request; stops early on [`Flow::Close`]
/// or once the pending replies pass the output buffer limit (the connection then closes).
pub async fn run_batch<S: Service>(x: &mut Exchange<'_, S>, requests: &[Request]) -> Flow {
    let mut i = 0;
    while i < requests.len() {
        if x.out.len() > x.output_limit {
            return Flow::Close;
        }
        if x.session.replies != Replies::On {
            // CLIENT REPLY OFF or SKIP: one request at a time, its reply dropped.
            let flow = quietly(x, &requests[i]).await;
            if flow == Flow::Close {
                return Flow::Close;
            }
            i += 1;
            continue;
        }
        let mut end = i;
        while end < requests.len() && for_service(x.session, &requests[end]) {
            end += 1;
        }
        if end > i {
            if run_service(x, &requests[i..end]).await == Flow::Close {
                return Flow::Close;
            }
            i = end;
            continue;
        }
        if answer(x, &requests[i]).await == Flow::Close {
            return Flow::Close;
        }
        i += 1;
    }
    Flow::Continue
}

/// Hands a run of requests that all pass [`for_service`] to the service, counted.
async fn run_service<S: Service>(x: &mut Exchange<'_, S>, run: &[Request]) -> Flow {
    x.session.processed += run.len() as u64;
    x.client.last_command.store(
        run[run.len() - 1].spec().index(),
        std::sync::atomic::Ordering::Relaxed,
    );
    remember_reads(x, run);
    let service = x.service;
    let flow = service.run(&mut x.ctx(), run).await;
    feed_monitors(x, run);
    if !x.session.executing {
        // CLIENT CACHING applies to the next command (or transaction) only.
        x.session.caching = false;
    }
    flow
}

/// Shows commands that ran to the clients in MONITOR mode, after they ran (so a
/// transaction's commands come before its EXEC, as in Redis).
fn feed_monitors<S: Service>(x: &Exchange<'_, S>, ran: &[Request]) {
    if !x.endpoint.monitors.any() {
        return;
    }
    let addr = x.client.addr.to_string();
    for request in ran {
        x.endpoint.monitors.feed(request, &addr);
    }
}

/// Runs one request while replies are off or the next is skipped: its reply is dropped,
/// unless it is the CLIENT REPLY ON that turns them back on.
async fn quietly<S: Service>(x: &mut Exchange<'_, S>, request: &Request) -> Flow {
    let before = x.session.replies;
    x.session.replies_changed = false;
    let mark = x.out.len();
    let flow = if for_service(x.session, request) {
        run_service(x, std::slice::from_ref(request)).await
    } else {
        answer(x, request).await
    };
    let turned_on = x.session.replies_changed && x.session.replies == Replies::On;
    if !turned_on {
        x.out.truncate(mark);
    }
    if before == Replies::SkipNext && !x.session.replies_changed {
        x.session.replies = Replies::On;
    }
    flow
}

/// A request that is not the service's to run as it is: refused, queued, or a connection
/// command.
async fn answer<S: Service>(x: &mut Exchange<'_, S>, request: &Request) -> Flow {
    let Some(spec) = request.known() else {
        x.refuse(&unknown_command_error(&request.args));
        return Flow::Continue;
    };
    if !x.session.authenticated && !spec.has(Flag::NoAuth) {
        x.refuse(errors::NOAUTH);
        return Flow::Continue;
    }
    if !spec.arity_ok(request.args.len()) {
        x.refuse(&wrong_arity_error(spec.name));
        return Flow::Continue;
    }
    if x.session.monitor.is_some() && !monitor_may_run(request) {
        x.refuse("ERR Replica can't interact with the keyspace");
        return Flow::Continue;
    }
    if x.session.in_pubsub() && !pubsub_may_run(spec) {
        x.refuse(&format!(
            "ERR Can't execute '{}': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / PING / QUIT / RESET are allowed in this context",
            spec.name
        ));
        return Flow::Continue;
    }
    if x.session.queued.is_some() && !runs_inside_multi(spec) {
        if spec.has(Flag::NoMulti) {
            x.refuse(errors::NOT_IN_MULTI);
        } else {
            crate::commands::transaction::queue(x, request);
        }
        return Flow::Continue;
    }
    x.session.processed += 1;
    x.client
        .last_command
        .store(spec.index(), std::sync::atomic::Ordering::Relaxed);
    if !answered_here(spec) {
        // Only reachable for a service command inside EXEC: run it alone.
        remember_reads(x, std::slice::from_ref(request));
        let service = x.service;
        let flow = service
            .run(&mut x.ctx(), std::slice::from_ref(request))
            .await;
        feed_monitors(x, std::slice::from_ref(request));
        return flow;
    }
    let started = x.service.timing().then(Instant::now);
    let flow = crate::commands::run(x, spec, &request.args).await;
    if spec.id != Cmd::Client && !x.session.executing && x.session.queued.is_none() {
        // CLIENT CACHING applies to the next command (or transaction) only; any CLIENT
        // subcommand keeps it, as in Redis.
        x.session.caching = false;
    }
    x.service.observe(spec, started.map(|s| s.elapsed()));
    feed_monitors(x, std::slice::from_ref(request));
    flow
}
