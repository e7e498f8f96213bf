//! What the proxy does with each command.
//!
//! - single-key commands are routed by key through the client (reads to one replica with
//!   fallback, writes to every replica, value-dependent ones run on one replica and copied);
//! - multi-key commands are split by node and merged in order;
//! - connection commands are answered here;
//! - ring-wide commands fan out to every node (their meaning over a replicated ring is in
//!   `docs/proxy.md`);
//! - what cannot work across nodes gets an error that says why.
//!
//! Command metadata (arity, flags, key positions) comes from the node's command table, so the
//! proxy accepts exactly the commands a node does, with the same arity errors.

use std::sync::atomic::Ordering;

use bytes::Bytes;
use cachering_client::{Access, Error, Reply};
use cachering_commands::{lookup, unknown_command_error, Cmd, CommandSpec, Flag, Route};
use cachering_proto::{Protocol, ReplyWriter};

use crate::state::ProxyState;

/// Per-connection state.
#[derive(Debug, Default)]
pub struct Session {
    /// RESP2 until HELLO 3.
    pub protocol: Protocol,
    /// False until AUTH when the proxy has a password.
    pub authenticated: bool,
    /// This client's id.
    pub id: u64,
    /// CLIENT SETNAME.
    pub name: String,
    /// Commands queued since MULTI.
    pub queued: Option<Vec<Vec<Bytes>>>,
    /// A queued command was refused.
    pub transaction_failed: bool,
}

/// What the connection does next.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flow {
    /// Keep serving.
    Continue,
    /// Flush and close.
    Close,
}

const NOAUTH: &str = "NOAUTH Authentication required.";
const CROSS_NODE_TRANSACTION: &str =
    "EXECABORT Transaction discarded because its keys map to different nodes; keep a transaction's keys on one node with a {hash tag}";

fn is(arg: &[u8], word: &str) -> bool {
    arg.eq_ignore_ascii_case(word.as_bytes())
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

/// Writes a client error: a node's own error reply as it is, anything else as `ERR`.
pub fn write_error(out: &mut ReplyWriter<'_>, error: &Error) {
    if error.is_server_error() || error.kind() == cachering_client::ErrorKind::Command {
        out.error(error.detail());
    } else {
        out.error(&format!("ERR {error}"));
    }
}

/// The keys of a command, by its table entry.
fn keys_of<'a>(spec: &CommandSpec, args: &'a [Bytes]) -> Vec<&'a [u8]> {
    spec.keys.keys(args).collect()
}

/// A request that may run concurrently with its neighbours in a pipeline: its table entry and
/// its keys.
pub struct Concurrent<'a> {
    /// The command's table entry.
    pub spec: &'static CommandSpec,
    /// Its keys, in argument order.
    pub keys: Vec<&'a [u8]>,
}

impl<'a> Concurrent<'a> {
    /// A known keyed command with a valid arity, from an authenticated client outside a
    /// transaction. Such a request reads or changes nothing but its keys, so neighbours with
    /// other keys cannot observe each other's order.
    pub fn of(session: &Session, args: &'a [Bytes]) -> Option<Self> {
        if session.queued.is_some() || !session.authenticated {
            return None;
        }
        let spec = lookup(&args[0])?;
        if !spec.arity_ok(args.len())
            || matches!(spec.id, Cmd::MSet | Cmd::MSetNx) && args.len() % 2 == 0
        {
            return None;
        }
        let keys = keys_of(spec, args);
        (!keys.is_empty()).then_some(Self { spec, keys })
    }

    /// Whether the request takes the generic single-key route (the `_` arm of `run`): its
    /// key and access, so it can join a client pipeline.
    pub fn single_key_route(&self, args: &[Bytes]) -> Option<(&'a [u8], Access)> {
        let access = self.spec.route.access(args)?;
        match self.keys[..] {
            [key] => Some((key, access)),
            _ => None,
        }
    }
}

/// Runs a request that [`Concurrent::of`] accepted; its reply goes to a buffer of its own.
pub async fn dispatch_concurrent(
    state: &ProxyState,
    protocol: Protocol,
    spec: &'static CommandSpec,
    args: &[Bytes],
) -> bytes::BytesMut {
    let mut session = Session {
        protocol,
        authenticated: true,
        ..Session::default()
    };
    let mut out = bytes::BytesMut::new();
    state.commands_processed.fetch_add(1, Ordering::Relaxed);
    state.metrics.command(spec);
    run(
        state,
        &mut session,
        spec,
        args,
        &mut ReplyWriter::new(&mut out, protocol),
    )
    .await;
    out
}

/// Runs one request, appending its reply to `out`.
pub async fn dispatch(
    state: &ProxyState,
    session: &mut Session,
    out: &mut bytes::BytesMut,
    args: &[Bytes],
) -> Flow {
    let Some(spec) = lookup(&args[0]) else {
        if session.queued.is_some() {
            session.transaction_failed = true;
        }
        ReplyWriter::new(out, session.protocol).error(&unknown_command_error(args));
        return Flow::Continue;
    };
    let mut reply = ReplyWriter::new(out, session.protocol);
    if !session.authenticated && !matches!(spec.name, "auth" | "hello" | "quit") {
        session.transaction_failed |= session.queued.is_some();
        reply.error(NOAUTH);
        return Flow::Continue;
    }
    if !spec.arity_ok(args.len()) {
        session.transaction_failed |= session.queued.is_some();
        reply.error(&format!(
            "ERR wrong number of arguments for '{}' command",
            spec.name
        ));
        return Flow::Continue;
    }
    if !matches!(spec.name, "exec" | "discard" | "multi" | "quit" | "reset") {
        if let Some(queued) = session.queued.as_mut() {
            if spec.has(Flag::NoMulti) {
                session.transaction_failed = true;
                reply.error("ERR Command not allowed inside a transaction");
            } else {
                queued.push(args.iter().map(|a| Bytes::copy_from_slice(a)).collect());
                reply.simple("QUEUED");
            }
            return Flow::Continue;
        }
    }
    state.commands_processed.fetch_add(1, Ordering::Relaxed);
    state.metrics.command(spec);
    if spec.name == "exec" {
        return exec(state, session, out).await;
    }
    run(
        state,
        session,
        spec,
        args,
        &mut ReplyWriter::new(out, session.protocol),
    )
    .await
}

async fn exec(state: &ProxyState, session: &mut Session, out: &mut bytes::BytesMut) -> Flow {
    let failed = std::mem::take(&mut session.transaction_failed);
    let Some(queued) = session.queued.take() else {
        ReplyWriter::new(out, session.protocol).error("ERR EXEC without MULTI");
        return Flow::Continue;
    };
    if failed {
        ReplyWriter::new(out, session.protocol)
            .error("EXECABORT Transaction discarded because of previous errors.");
        return Flow::Continue;
    }
    // Every key must live on the same replicas: a transaction cannot span nodes.
    let mut sets = Vec::new();
    for args in &queued {
        let spec = lookup(&args[0]).expect("only known commands are queued");
        for key in keys_of(spec, args) {
            let set = state.client.replica_set(key);
            if !sets.contains(&set) {
                sets.push(set);
            }
        }
    }
    if sets.len() > 1 {
        ReplyWriter::new(out, session.protocol).error(CROSS_NODE_TRANSACTION);
        return Flow::Continue;
    }
    ReplyWriter::new(out, session.protocol).array(queued.len());
    let mut flow = Flow::Continue;
    for args in &queued {
        let spec = lookup(&args[0]).expect("only known commands are queued");
        if run(
            state,
            session,
            spec,
            args,
            &mut ReplyWriter::new(out, session.protocol),
        )
        .await
            == Flow::Close
        {
            flow = Flow::Close;
        }
    }
    flow
}

async fn run(
    state: &ProxyState,
    session: &mut Session,
    spec: &CommandSpec,
    args: &[Bytes],
    reply: &mut ReplyWriter<'_>,
) -> Flow {
    let client = &state.client;
    match spec.name {
        "ping" => match args.get(1) {
            Some(message) => reply.bulk(message),
            None => reply.simple("PONG"),
        },
        "echo" => reply.bulk(&args[1]),
        "quit" => {
            reply.ok();
            return Flow::Close;
        }
        "reset" => {
            *session = Session {
                id: session.id,
                authenticated: state.config.requirepass.is_none(),
                ..Session::default()
            };
            reply.simple("RESET");
        }
        "select" => match cachering_proto::parse_i64(&args[1]) {
            Some(0) => reply.ok(),
            Some(_) => reply.error("ERR DB index is out of range"),
            None => reply.error("ERR value is not an integer or out of range"),
        },
        "auth" => {
            let (user, password): (&[u8], &[u8]) = if args.len() == 3 {
                (&args[1], &args[2])
            } else {
                (b"default", &args[1])
            };
            match &state.config.requirepass {
                None => reply.error("ERR AUTH <password> called without any password configured for the default user. Are you sure your configuration is correct?"),
                Some(expected) if user == b"default" && cachering_node::command::password_matches(expected.as_bytes(), password) => {
                    session.authenticated = true;
                    reply.ok();
                }
                Some(_) => reply.error("WRONGPASS invalid username-password pair or user is disabled."),
            }
        }
        "hello" => hello(state, session, args, reply),
        "client" => client_command(session, args, reply),
        "time" => {
            let micros = cachering_node::clock::now_us();
            reply.array(2);
            reply.bulk((micros / 1_000_000).to_string().as_bytes());
            reply.bulk((micros % 1_000_000).to_string().as_bytes());
        }
        "info" => {
            let text = crate::info::render(state);
            reply.verbatim(text.as_bytes());
        }
        "command" => match forward_to_any_node(state, args).await {
            Ok(answer) => write_reply(reply, &answer),
            Err(error) => write_error(reply, &error),
        },
        "multi" => {
            if session.queued.is_some() {
                reply.error("ERR MULTI calls can not be nested");
            } else {
                session.queued = Some(Vec::new());
                session.transaction_failed = false;
                reply.ok();
            }
        }
        "discard" => {
            session.transaction_failed = false;
            if session.queued.take().is_some() {
                reply.ok();
            } else {
                reply.error("ERR DISCARD without MULTI");
            }
        }
        _ if spec.route == Route::NodeOnly => reply.error(&format!(
            "ERR {} is not available through the proxy; send it to a node",
            spec.name.to_uppercase()
        )),
        _ => match client.call(args).await {
            Ok(answer) => write_reply(reply, &answer),
            Err(error) => write_error(reply, &error),
        },
    }
    Flow::Continue
}

async fn forward_to_any_node(state: &ProxyState, args: &[Bytes]) -> Result<Reply, Error> {
    let raw: Vec<&[u8]> = args.iter().map(|a| a.as_ref()).collect();
    let mut last = None;
    for index in 0..state.client.node_count() {
        match state.client.on_node(index, &raw).await {
            Ok(reply) => return Ok(reply),
            Err(error) => last = Some(error),
        }
    }
    Err(last.expect("a ring has at least one node"))
}

fn hello(state: &ProxyState, session: &mut Session, args: &[Bytes], reply: &mut ReplyWriter<'_>) {
    let mut protocol = session.protocol;
    if let Some(version) = args.get(1) {
        match cachering_proto::parse_i64(version) {
            Some(2) => protocol = Protocol::Resp2,
            Some(3) => protocol = Protocol::Resp3,
            Some(_) => return reply.error("NOPROTO unsupported protocol version"),
            None => return reply.error("ERR Protocol version is not an integer or out of range"),
        }
    }
    let mut i = 2;
    while i < args.len() {
        if is(&args[i], "AUTH") && i + 2 < args.len() {
            let ok = matches!(&state.config.requirepass, Some(expected) if args[i + 1].as_ref() == b"default" && cachering_node::command::password_matches(expected.as_bytes(), &args[i + 2]));
            if !ok {
                return reply
                    .error("WRONGPASS invalid username-password pair or user is disabled.");
            }
            session.authenticated = true;
            i += 3;
        } else if is(&args[i], "SETNAME") && i + 1 < args.len() {
            session.name = String::from_utf8_lossy(&args[i + 1]).into_owned();
            i += 2;
        } else {
            return reply.error(&format!(
                "ERR Syntax error in HELLO option '{}'",
                String::from_utf8_lossy(&args[i])
            ));
        }
    }
    if !session.authenticated {
        return reply.error("NOAUTH HELLO must be called with the client already authenticated, otherwise the HELLO <proto> AUTH <user> <pass> option can be used to authenticate the client and select the RESP protocol version at the same time");
    }
    session.protocol = protocol;
    reply.set_protocol(protocol);
    cachering_node::command::write_hello(reply, session.id);
}

fn client_command(session: &mut Session, args: &[Bytes], reply: &mut ReplyWriter<'_>) {
    let sub = String::from_utf8_lossy(&args[1]).to_ascii_lowercase();
    match (sub.as_str(), args.len()) {
        ("id", 2) => reply.int(session.id as i64),
        ("getname", 2) => {
            if session.name.is_empty() {
                reply.null();
            } else {
                reply.bulk(session.name.as_bytes());
            }
        }
        ("setname", 3) => {
            if args[2].iter().all(|&b| (b'!'..=b'~').contains(&b)) {
                session.name = String::from_utf8_lossy(&args[2]).into_owned();
                reply.ok();
            } else {
                reply.error(
                    "ERR Client names cannot contain spaces, newlines or special characters.",
                );
            }
        }
        ("setinfo", 4) | ("no-evict", 3) | ("no-touch", 3) => reply.ok(),
        ("info", 2) | ("list", _) => {
            let line = format!(
                "id={} name={} db=0 resp={}\n",
                session.id,
                session.name,
                if session.protocol == Protocol::Resp3 {
                    3
                } else {
                    2
                }
            );
            reply.verbatim(line.as_bytes());
        }
        ("id" | "getname" | "setname" | "setinfo" | "info", _) => reply.error(&format!(
            "ERR wrong number of arguments for 'client|{sub}' command"
        )),
        _ => reply.error(&format!(
            "ERR unknown subcommand '{}'. Try CLIENT HELP.",
            String::from_utf8_lossy(&args[1])
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(words: &[&str]) -> Vec<Bytes> {
        words
            .iter()
            .map(|w| Bytes::copy_from_slice(w.as_bytes()))
            .collect()
    }

    #[test]
    fn keys_by_table() {
        let a = args(&["MSET", "a", "1", "b", "2"]);
        assert_eq!(keys_of(lookup(b"mset").unwrap(), &a), vec![&b"a"[..], b"b"]);
        let a = args(&["PING"]);
        assert!(keys_of(lookup(b"ping").unwrap(), &a).is_empty());
    }
}
