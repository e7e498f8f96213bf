//! The proxy as a service of the server layer: every request the server layer does not answer
//! itself goes through the client's routes ([`Client::call`]), so a RESP client gets exactly
//! the library's routing, replication, failover and repair. The proxy adds three things:
//!
//! - its own INFO text (its sections and one line per node);
//! - commands about one node's process or settings (CONFIG, SHUTDOWN) are refused, since no
//!   one node is "the" server here;
//! - pipelining: a run of requests with disjoint keys goes to the nodes at once. Single-key
//!   commands become one client pipeline (one write and one wait per node connection), other
//!   keyed commands run side by side; replies are written in request order. A request that
//!   shares a key with an earlier one of the run waits for it, so each sees the one before.
//!
//! A transaction (MULTI/EXEC) runs only when all its keys live on the same replicas.
//!
//! A blocking list command (BLPOP, BRPOP, BLMOVE, BRPOPLPUSH, BLMPOP) takes the client's
//! blocking route; the proxy's client is counted as blocked meanwhile, and CLIENT UNBLOCK
//! and CLIENT KILL end the wait. Requests pipelined after it wait for it.
//!
//! [`Client::call`]: cachering_client::Client::call

use std::collections::HashSet;
use std::sync::Arc;

use bytes::{Bytes, BytesMut};
use cachering_client::{Error, ErrorKind, Reply, Routed};
use cachering_commands::{Cmd, CommandSpec, Flag, Resp3Shape, Route};
use cachering_proto::{Protocol, ReplyWriter};
use cachering_server::{Ctx, Flow, Request, Service};
use futures::future::join_all;

use crate::state::ProxyState;

/// Most requests sent to the nodes at once from one pipeline.
const MAX_CONCURRENT: usize = 64;

const CROSS_NODE_TRANSACTION: &str =
    "EXECABORT Transaction discarded because its keys map to different nodes; keep a transaction's keys on one node with a {hash tag}";

/// Writes a reply from a node in the shape the connection's protocol gives it (nodes answer the
/// proxy in RESP2).
pub fn write_shaped(out: &mut ReplyWriter<'_>, reply: &Reply, spec: &CommandSpec, args: &[Bytes]) {
    let shape = if out.protocol() == Protocol::Resp3 {
        spec.resp3_shape(args)
    } else {
        Resp3Shape::AsIs
    };
    match (shape, reply) {
        (Resp3Shape::Map, Reply::Array(items)) if items.len() % 2 == 0 => {
            out.map(items.len() / 2);
            for item in items {
                write_reply(out, item);
            }
        }
        (Resp3Shape::Pairs, Reply::Array(items)) if items.len() % 2 == 0 => {
            out.array(items.len() / 2);
            for pair in items.chunks(2) {
                out.array(2);
                write_reply(out, &pair[0]);
                write_reply(out, &pair[1]);
            }
        }
        (Resp3Shape::Set, Reply::Array(items)) => {
            out.set(items.len());
            for item in items {
                write_reply(out, item);
            }
        }
        (_, Reply::Nil) if spec.nil_is_array(args) => out.null_array(),
        (Resp3Shape::Double, reply) => write_score(out, reply),
        (Resp3Shape::Doubles, Reply::Array(items)) => {
            out.array(items.len());
            for item in items {
                write_score(out, item);
            }
        }
        (Resp3Shape::ScorePairs, Reply::Array(items)) if items.len() % 2 == 0 => {
            out.array(items.len() / 2);
            for pair in items.chunks(2) {
                out.array(2);
                write_reply(out, &pair[0]);
                write_score(out, &pair[1]);
            }
        }
        (Resp3Shape::Scores, Reply::Array(items)) if items.len() % 2 == 0 => {
            out.array(items.len());
            for pair in items.chunks(2) {
                write_reply(out, &pair[0]);
                write_score(out, &pair[1]);
            }
        }
        _ => write_reply(out, reply),
    }
}

/// Writes a score a node sent as a bulk string (formatted as Redis formats scores) as a
/// double; anything else as it is.
fn write_score(out: &mut ReplyWriter<'_>, reply: &Reply) {
    match reply {
        Reply::Bulk(text) => out.score_text(text),
        other => write_reply(out, other),
    }
}

/// Writes a reply from a node.
pub fn write_reply(out: &mut ReplyWriter<'_>, reply: &Reply) {
    match reply {
        Reply::Nil => out.null(),
        Reply::Status(text) => out.simple(&String::from_utf8_lossy(text)),
        Reply::Int(n) => out.int(*n),
        Reply::Bulk(bytes) => out.bulk(bytes),
        Reply::Array(items) => {
            out.array(items.len());
            for item in items {
                write_reply(out, item);
            }
        }
        Reply::Error(text) => out.error(&String::from_utf8_lossy(text)),
        _ => out.error("ERR unsupported reply from a node"),
    }
}

/// Writes a client error: a node's own error reply, or a command error in Redis's wording, as
/// it is; anything else (a timeout, no replica reachable) as `ERR`.
pub fn write_error(out: &mut ReplyWriter<'_>, error: &Error) {
    if error.is_server_error() || error.kind() == ErrorKind::Command {
        out.error(error.detail());
    } else {
        out.error(&format!("ERR {error}"));
    }
}

/// The proxy's service.
pub struct ProxyService {
    state: Arc<ProxyState>,
}

impl ProxyService {
    /// The service over `state`.
    pub fn new(state: Arc<ProxyState>) -> Self {
        Self { state }
    }

    /// Runs one request, appending its reply to `out`.
    async fn run_one(&self, request: &Request, protocol: Protocol, out: &mut BytesMut) {
        let spec = request.spec();
        self.state.metrics.command(spec);
        let mut reply = ReplyWriter::new(out, protocol);
        match spec.route {
            Route::Connection | Route::NodeOnly => reply.error(&format!(
                "ERR {} is not available through the proxy; send it to a node",
                spec.name.to_uppercase()
            )),
            _ => match self.state.client.call(&request.args).await {
                Ok(answer) => write_shaped(&mut reply, &answer, spec, &request.args),
                Err(error) => write_error(&mut reply, &error),
            },
        }
    }

    /// Runs a blocking list command (BLPOP, ...): the client marked blocked while it waits
    /// (INFO's `blocked_clients`), ended early by CLIENT UNBLOCK or CLIENT KILL, which drop
    /// the wait. Inside EXEC it answers at once, as Redis does there.
    async fn run_blocking(&self, ctx: &mut Ctx<'_, ()>, request: &Request) -> Flow {
        let spec = request.spec();
        self.state.metrics.command(spec);
        let client = &self.state.client;
        if ctx.session.executing() {
            let answer = client.call_without_waiting(&request.args).await;
            let mut reply = ctx.reply();
            match answer {
                // BLMOVE and BRPOPLPUSH answer LMOVE's null bulk string there.
                Ok(cachering_client::Reply::Nil)
                    if matches!(spec.id, Cmd::BLMove | Cmd::BRPopLPush) =>
                {
                    reply.null()
                }
                Ok(answer) => write_shaped(&mut reply, &answer, spec, &request.args),
                Err(error) => write_error(&mut reply, &error),
            }
            return Flow::Continue;
        }
        let info = ctx.client;
        let _blocked = info.block();
        let answer = tokio::select! {
            answer = client.call(&request.args) => answer,
            with_error = info.unblocked() => {
                let mut reply = ctx.reply();
                if with_error {
                    reply.error("UNBLOCKED client unblocked via CLIENT UNBLOCK");
                } else {
                    reply.null_array();
                }
                return Flow::Continue;
            }
            () = info.killed() => return Flow::Close,
        };
        let mut reply = ctx.reply();
        match answer {
            Ok(answer) => write_shaped(&mut reply, &answer, spec, &request.args),
            Err(error) => write_error(&mut reply, &error),
        }
        Flow::Continue
    }

    /// Runs requests with disjoint keys together and writes their replies in request order.
    async fn run_together(&self, requests: &[Request], protocol: Protocol, out: &mut BytesMut) {
        let mut piped = Vec::with_capacity(requests.len());
        let mut positions = Vec::with_capacity(requests.len());
        let mut alone = Vec::new();
        for (position, request) in requests.iter().enumerate() {
            let spec = request.spec();
            let key = spec.keys.first_key(&request.args);
            match (key, spec.route.access(&request.args)) {
                (Some(key), Some(access)) => {
                    self.state.metrics.command(spec);
                    piped.push(Routed::new(key, &request.args, access));
                    positions.push(position);
                }
                _ => alone.push(position),
            }
        }
        // Boxed: a request's future holds the whole client call chain (kilobytes), and
        // join_all moves each one on completion; unboxed, those moves took 5 % of the proxy's
        // CPU (perf).
        let (piped_results, alone_replies) = futures::join!(
            self.state.client.pipeline(&piped),
            join_all(alone.iter().map(|&position| Box::pin(async move {
                let mut out = BytesMut::new();
                self.run_one(&requests[position], protocol, &mut out).await;
                out
            })))
        );
        let mut piped_results = positions.into_iter().zip(piped_results).peekable();
        let mut alone_replies = alone.into_iter().zip(alone_replies).peekable();
        for (position, request) in requests.iter().enumerate() {
            if piped_results.peek().is_some_and(|(p, _)| *p == position) {
                let (_, result) = piped_results.next().expect("peeked");
                let mut writer = ReplyWriter::new(out, protocol);
                match result {
                    Ok(answer) => write_shaped(&mut writer, &answer, request.spec(), &request.args),
                    Err(error) => write_error(&mut writer, &error),
                }
            } else {
                let (_, reply) = alone_replies.next().expect("every request has a reply");
                out.extend_from_slice(&reply);
            }
        }
    }
}

/// How many requests from the start of `requests` can run together: keyed commands routed
/// over the ring, no key named twice. Such requests read or change nothing but their keys, so
/// they cannot observe each other's order.
fn together(requests: &[Request]) -> usize {
    let mut seen: HashSet<&[u8]> = HashSet::new();
    let mut count = 0;
    for request in requests.iter().take(MAX_CONCURRENT) {
        let spec = request.spec();
        // A blocking command runs alone: what follows it waits for it, as on a node.
        if !routed_by_keys(spec) || spec.has(Flag::Blocking) {
            break;
        }
        let mut keys = spec.keys.keys(&request.args).peekable();
        if keys.peek().is_none() {
            break;
        }
        let keys: Vec<&[u8]> = keys.collect();
        if keys.iter().any(|key| seen.contains(key)) {
            break;
        }
        seen.extend(keys);
        count += 1;
    }
    count
}

fn routed_by_keys(spec: &CommandSpec) -> bool {
    !matches!(
        spec.route,
        Route::Connection | Route::NodeOnly | Route::RingWide
    )
}

impl Service for ProxyService {
    type Local = ();

    async fn run(&self, ctx: &mut Ctx<'_, ()>, requests: &[Request]) -> Flow {
        let protocol = ctx.session.protocol;
        let mut i = 0;
        while i < requests.len() {
            // At pipeline depth 1, every request: it runs alone without the check.
            let run = if requests.len() - i > 1 {
                together(&requests[i..])
            } else {
                0
            };
            if run > 1 {
                self.run_together(&requests[i..i + run], protocol, ctx.out)
                    .await;
                i += run;
            } else if requests[i].spec().has(Flag::Blocking) {
                if self.run_blocking(ctx, &requests[i]).await == Flow::Close {
                    return Flow::Close;
                }
                i += 1;
            } else {
                self.run_one(&requests[i], protocol, ctx.out).await;
                i += 1;
            }
            if ctx.output_full() {
                return Flow::Close;
            }
        }
        Flow::Continue
    }

    fn info(&self, _sections: &[String]) -> String {
        crate::info::render(&self.state)
    }

    /// A transaction cannot span nodes: every key must live on the same replicas.
    fn check_transaction(&self, queued: &[Request]) -> Result<(), String> {
        let mut sets = Vec::new();
        for request in queued {
            for key in request.spec().keys.keys(&request.args) {
                let set = self.state.client.replica_set(key);
                if !sets.contains(&set) {
                    sets.push(set);
                }
            }
        }
        if sets.len() > 1 {
            return Err(CROSS_NODE_TRANSACTION.to_string());
        }
        Ok(())
    }

    fn observe(&self, spec: &'static CommandSpec, _elapsed: Option<std::time::Duration>) {
        self.state.metrics.command(spec);
    }
}

#[cfg(test)]
mod tests {
    use bytes::Bytes;

    use super::*;

    fn request(words: &[&str]) -> Request {
        Request::new(
            words
                .iter()
                .map(|w| Bytes::copy_from_slice(w.as_bytes()))
                .collect(),
        )
    }

    #[test]
    fn runs_end_at_a_repeated_key_or_an_unkeyed_command() {
        let requests = [
            request(&["SET", "a", "1"]),
            request(&["MGET", "b", "c"]),
            request(&["GET", "d"]),
            request(&["GET", "c"]),
            request(&["GET", "e"]),
        ];
        assert_eq!(together(&requests), 3);
        let requests = [
            request(&["GET", "a"]),
            request(&["DBSIZE"]),
            request(&["GET", "b"]),
        ];
        assert_eq!(together(&requests), 1);
    }
}
