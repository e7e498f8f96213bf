//! The commands a server answers about the connection itself (the command table's connection
//! route), the same on a node and on the proxy: PING, ECHO, QUIT, RESET, SELECT, TIME and INFO
//! (whose text the service writes) here; AUTH and HELLO ([`auth`]), CLIENT ([`client`]),
//! COMMAND ([`introspection`]), MULTI/EXEC/DISCARD ([`transaction`]). Error texts are
//! Redis's, word for word.

pub mod auth;
mod client;
mod introspection;
pub(crate) mod transaction;

use std::sync::atomic::Ordering;

use bytes::Bytes;
use cachering_commands::{Cmd, CommandSpec};
use cachering_proto::{parse_i64, Protocol};

use crate::dispatch::{errors, Exchange};
use crate::service::{Flow, Service};

/// Whether `arg` is `word`, ignoring ASCII case.
pub(crate) fn is(arg: &[u8], word: &str) -> bool {
    arg.eq_ignore_ascii_case(word.as_bytes())
}

/// Runs a connection command whose checks passed.
pub(crate) async fn run<S: Service>(
    x: &mut Exchange<'_, S>,
    spec: &'static CommandSpec,
    args: &[Bytes],
) -> Flow {
    match spec.id {
        Cmd::Ping => ping(x, args),
        Cmd::Echo => x.reply().bulk(&args[1]),
        Cmd::Quit => {
            x.reply().ok();
            return Flow::Close;
        }
        Cmd::Reset => reset(x),
        Cmd::Select => match parse_i64(&args[1]) {
            Some(0) => x.reply().ok(),
            Some(_) => x.error("ERR DB index is out of range"),
            None => x.error(errors::NOT_INTEGER),
        },
        Cmd::Time => {
            let micros = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |elapsed| elapsed.as_micros() as u64);
            let mut reply = x.reply();
            reply.array(2);
            reply.bulk((micros / 1_000_000).to_string().as_bytes());
            reply.bulk((micros % 1_000_000).to_string().as_bytes());
        }
        Cmd::Auth => auth::auth(x, args),
        Cmd::Hello => auth::hello(x, args),
        Cmd::Client => return client::client(x, args),
        Cmd::Command => introspection::command(x, args),
        Cmd::Info => {
            let sections: Vec<String> = args[1..]
                .iter()
                .map(|s| String::from_utf8_lossy(s).to_ascii_lowercase())
                .collect();
            let text = x.service.info(&sections);
            x.reply().verbatim(text.as_bytes());
        }
        Cmd::Monitor => {
            if x.session.monitor.is_none() {
                x.session.monitor = Some(x.endpoint.monitors.subscribe());
            }
            x.reply().ok();
        }
        Cmd::Subscribe => subscribe(x, args),
        Cmd::Unsubscribe => unsubscribe(x, args),
        Cmd::Multi => transaction::multi(x),
        Cmd::Discard => transaction::discard(x),
        Cmd::Exec => return Box::pin(transaction::exec(x)).await,
        _ => x.error(&format!(
            "ERR {} is not a connection command",
            spec.name.to_uppercase()
        )),
    }
    Flow::Continue
}

/// PING [message]; in RESP2's Pub/Sub mode `[pong, message]`, as Redis answers there.
fn ping<S: Service>(x: &mut Exchange<'_, S>, args: &[Bytes]) {
    if args.len() > 2 {
        return x.wrong_arity("ping");
    }
    if x.session.in_pubsub() {
        let mut reply = x.reply();
        reply.array(2);
        reply.bulk(b"pong");
        reply.bulk(args.get(1).map_or(&b""[..], |m| &m[..]));
        return;
    }
    match args.get(1) {
        Some(message) => x.reply().bulk(message),
        None => x.reply().simple("PONG"),
    }
}

/// A Pub/Sub confirmation (`subscribe`/`unsubscribe`, the channel or nil, the count): an
/// array in RESP2, a push in RESP3.
fn confirm<S: Service>(x: &mut Exchange<'_, S>, kind: &[u8], channel: Option<&[u8]>) {
    let count = i64::from(x.session.subscribed);
    let header: &[u8] = if x.session.protocol == Protocol::Resp3 {
        b">3\r\n"
    } else {
        b"*3\r\n"
    };
    x.out.extend_from_slice(header);
    let mut reply = x.reply();
    reply.bulk(kind);
    match channel {
        Some(channel) => reply.bulk(channel),
        None => reply.null(),
    }
    reply.int(count);
}

/// SUBSCRIBE channel…: cachering has no PUBLISH, so the only channel is
/// `__redis__:invalidate`, where CLIENT TRACKING's invalidations go for a RESP2 connection
/// that others redirect them to.
fn subscribe<S: Service>(x: &mut Exchange<'_, S>, args: &[Bytes]) {
    if let Some(other) = args[1..]
        .iter()
        .find(|c| c[..] != *crate::tracking::CHANNEL)
    {
        x.error(&format!(
            "ERR cachering has no Pub/Sub: only {} can be subscribed to (CLIENT TRACKING's invalidations), not '{}'",
            String::from_utf8_lossy(crate::tracking::CHANNEL),
            String::from_utf8_lossy(other)
        ));
        return;
    }
    for channel in &args[1..] {
        x.session.subscribed = true;
        confirm(x, b"subscribe", Some(channel));
    }
}

/// UNSUBSCRIBE [channel…]: with no channel, from every channel (a nil channel when there was
/// none).
fn unsubscribe<S: Service>(x: &mut Exchange<'_, S>, args: &[Bytes]) {
    if args.len() == 1 {
        if x.session.subscribed {
            x.session.subscribed = false;
            confirm(x, b"unsubscribe", Some(crate::tracking::CHANNEL));
        } else {
            confirm(x, b"unsubscribe", None);
        }
        return;
    }
    for channel in &args[1..] {
        if channel[..] == *crate::tracking::CHANNEL {
            x.session.subscribed = false;
        }
        confirm(x, b"unsubscribe", Some(channel));
    }
}

/// RESET: back to a fresh connection's state.
fn reset<S: Service>(x: &mut Exchange<'_, S>) {
    let authenticated = x.endpoint.with_settings(|s| s.requirepass.is_none());
    x.session.reset(authenticated);
    x.endpoint.tracking.disable(x.client);
    x.client.multi.store(-1, Ordering::Relaxed);
    x.client.resp.store(2, Ordering::Relaxed);
    x.client
        .name
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .clear();
    debug_assert_eq!(x.session.protocol, Protocol::Resp2);
    x.reply().simple("RESET");
}
