//! Connection commands: PING, ECHO, QUIT, RESET, SELECT, AUTH, HELLO and CLIENT.

use std::sync::atomic::Ordering;

use bytes::Bytes;
use cachering_proto::Protocol;
use subtle::ConstantTimeEq;

use super::args::{is, parse_i64};
use super::{errors, Ctx, Flow};

/// What HELLO and INFO report as the Redis version this node behaves like: client libraries
/// choose features by it, and the commands here follow Redis 7.0.
pub const REDIS_VERSION: &str = "7.0.0";

const WRONGPASS: &str = "WRONGPASS invalid username-password pair or user is disabled.";

/// Compares a password in time that depends only on what the client sent: `given` is checked
/// against the password stretched to its length, so neither the password's bytes nor its
/// length can be learnt by timing.
pub fn password_matches(expected: &[u8], given: &[u8]) -> bool {
    let stretched: Vec<u8> = if expected.is_empty() {
        vec![0; given.len()]
    } else {
        expected.iter().cycle().take(given.len()).copied().collect()
    };
    let same_bytes = stretched.ct_eq(given);
    let same_len = (expected.len() as u64).ct_eq(&(given.len() as u64));
    (same_bytes & same_len).into()
}

/// Checks credentials; `Err` holds the error to send.
fn check_credentials(ctx: &Ctx<'_>, user: &[u8], password: &[u8]) -> Result<(), &'static str> {
    let Some(expected) = ctx.node.with_config(|config| config.requirepass.clone()) else {
        return Err("ERR AUTH <password> called without any password configured for the default user. Are you sure your configuration is correct?");
    };
    // Evaluate both parts so a wrong user name costs the same time as a wrong password.
    let user_ok = user == b"default";
    let password_ok = password_matches(expected.as_bytes(), password);
    if user_ok && password_ok {
        Ok(())
    } else {
        Err(WRONGPASS)
    }
}

/// PING [message]
pub fn ping(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Flow {
    if args.len() > 2 {
        ctx.wrong_arity("ping");
        return Flow::Continue;
    }
    match args.get(1) {
        Some(message) => ctx.reply().bulk(message),
        None => ctx.reply().simple("PONG"),
    }
    Flow::Continue
}

/// ECHO message
pub fn echo(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Flow {
    ctx.reply().bulk(&args[1]);
    Flow::Continue
}

/// QUIT
pub fn quit(ctx: &mut Ctx<'_>, _args: &[Bytes]) -> Flow {
    ctx.reply().ok();
    Flow::Close
}

/// RESET: back to a fresh connection's state.
pub fn reset(ctx: &mut Ctx<'_>, _args: &[Bytes]) -> Flow {
    ctx.session.queued = None;
    ctx.session.transaction_failed = false;
    ctx.session.queued_bytes = 0;
    ctx.session.protocol = Protocol::Resp2;
    ctx.session.authenticated = ctx.node.with_config(|config| config.requirepass.is_none());
    ctx.client.multi.store(-1, Ordering::Relaxed);
    ctx.client.resp.store(2, Ordering::Relaxed);
    ctx.client
        .name
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .clear();
    ctx.reply().simple("RESET");
    Flow::Continue
}

/// SELECT index: a node has database 0 only.
pub fn select(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Flow {
    match parse_i64(&args[1]) {
        Some(0) => ctx.reply().ok(),
        Some(_) => ctx.error("ERR DB index is out of range"),
        None => ctx.error(errors::NOT_INTEGER),
    }
    Flow::Continue
}

/// AUTH [username] password
pub fn auth(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Flow {
    let (user, password): (&[u8], &[u8]) = match args.len() {
        2 => (b"default", &args[1]),
        3 => (&args[1], &args[2]),
        _ => {
            ctx.error(errors::SYNTAX);
            return Flow::Continue;
        }
    };
    match check_credentials(ctx, user, password) {
        Ok(()) => {
            ctx.session.authenticated = true;
            ctx.reply().ok();
        }
        Err(message) => ctx.error(message),
    }
    Flow::Continue
}

fn valid_name(name: &[u8]) -> bool {
    name.iter().all(|&b| (b'!'..=b'~').contains(&b))
}

/// HELLO [protover [AUTH username password] [SETNAME clientname]]
pub fn hello(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Flow {
    let mut protocol = ctx.session.protocol;
    if let Some(version) = args.get(1) {
        match parse_i64(version) {
            Some(2) => protocol = Protocol::Resp2,
            Some(3) => protocol = Protocol::Resp3,
            Some(_) => {
                ctx.error("NOPROTO unsupported protocol version");
                return Flow::Continue;
            }
            None => {
                ctx.error("ERR Protocol version is not an integer or out of range");
                return Flow::Continue;
            }
        }
    }
    let mut credentials = None;
    let mut name = None;
    let mut i = 2;
    while i < args.len() {
        if is(&args[i], "AUTH") && i + 2 < args.len() {
            credentials = Some((&args[i + 1], &args[i + 2]));
            i += 3;
        } else if is(&args[i], "SETNAME") && i + 1 < args.len() {
            name = Some(&args[i + 1]);
            i += 2;
        } else {
            ctx.error(&format!(
                "ERR Syntax error in HELLO option '{}'",
                String::from_utf8_lossy(&args[i])
            ));
            return Flow::Continue;
        }
    }
    if let Some((user, password)) = credentials {
        if let Err(message) = check_credentials(ctx, user, password) {
            ctx.error(message);
            return Flow::Continue;
        }
        ctx.session.authenticated = true;
    }
    if !ctx.session.authenticated {
        ctx.error("NOAUTH HELLO must be called with the client already authenticated, otherwise the HELLO <proto> AUTH <user> <pass> option can be used to authenticate the client and select the RESP protocol version at the same time");
        return Flow::Continue;
    }
    if let Some(name) = name {
        if !valid_name(name) {
            ctx.error("ERR Client names cannot contain spaces, newlines or special characters.");
            return Flow::Continue;
        }
        *ctx.client.name.lock().unwrap_or_else(|p| p.into_inner()) =
            String::from_utf8_lossy(name).into_owned();
    }
    ctx.session.protocol = protocol;
    ctx.client.resp.store(
        if protocol == Protocol::Resp3 { 3 } else { 2 },
        Ordering::Relaxed,
    );
    let id = ctx.client.id;
    write_hello(&mut ctx.reply(), id);
    Flow::Continue
}

/// HELLO's reply map, in the writer's protocol; the proxy answers HELLO with the same map.
pub fn write_hello(reply: &mut cachering_proto::ReplyWriter<'_>, client_id: u64) {
    let proto = if reply.protocol() == Protocol::Resp3 {
        3
    } else {
        2
    };
    reply.map(7);
    reply.bulk(b"server");
    reply.bulk(b"redis");
    reply.bulk(b"version");
    reply.bulk(REDIS_VERSION.as_bytes());
    reply.bulk(b"proto");
    reply.int(proto);
    reply.bulk(b"id");
    reply.int(client_id as i64);
    reply.bulk(b"mode");
    reply.bulk(b"standalone");
    reply.bulk(b"role");
    reply.bulk(b"master");
    reply.bulk(b"modules");
    reply.array(0);
}

const CLIENT_HELP: &[&str] = &[
    "CLIENT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
    "GETNAME",
    "    Return the name of the current connection.",
    "ID",
    "    Return the ID of the current connection.",
    "INFO",
    "    Return information about the current client connection.",
    "KILL <ip:port>",
    "    Kill connection made from <ip:port>.",
    "KILL <option> <value> [<option> <value> [...]]",
    "    Kill connections. Options are: ID <client-id>, ADDR <ip:port>, LADDR <ip:port>,",
    "    USER <username>, SKIPME (YES|NO).",
    "LIST [TYPE (NORMAL|MASTER|REPLICA|PUBSUB)] [ID <client-id> [...]]",
    "    Return information about client connections.",
    "SETINFO <LIB-NAME|LIB-VER> <value>",
    "    Set client library name or version.",
    "SETNAME <name>",
    "    Assign the name <name> to the current connection.",
    "NO-EVICT (ON|OFF)",
    "NO-TOUCH (ON|OFF)",
    "    Accepted for compatibility; they change nothing here.",
    "HELP",
    "    Print this help.",
];

/// CLIENT subcommand [args]
pub fn client(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Flow {
    let sub = String::from_utf8_lossy(&args[1]).to_ascii_lowercase();
    let arity_ok = match sub.as_str() {
        "id" | "getname" | "info" | "help" => args.len() == 2,
        "setname" | "no-evict" | "no-touch" => args.len() == 3,
        "setinfo" => args.len() == 4,
        "list" => true,
        "kill" => args.len() >= 3,
        _ => {
            ctx.error(&format!(
                "ERR unknown subcommand '{}'. Try CLIENT HELP.",
                String::from_utf8_lossy(&args[1])
                    .chars()
                    .take(128)
                    .collect::<String>()
            ));
            return Flow::Continue;
        }
    };
    if !arity_ok {
        ctx.wrong_arity(&format!("client|{sub}"));
        return Flow::Continue;
    }
    match sub.as_str() {
        "id" => {
            let id = ctx.client.id as i64;
            ctx.reply().int(id);
        }
        "getname" => {
            let name = ctx.client.name();
            if name.is_empty() {
                ctx.reply().null();
            } else {
                ctx.reply().bulk(name.as_bytes());
            }
        }
        "setname" => {
            if !valid_name(&args[2]) {
                ctx.error(
                    "ERR Client names cannot contain spaces, newlines or special characters.",
                );
            } else {
                *ctx.client.name.lock().unwrap_or_else(|p| p.into_inner()) =
                    String::from_utf8_lossy(&args[2]).into_owned();
                ctx.reply().ok();
            }
        }
        "setinfo" => client_setinfo(ctx, args),
        "info" => {
            let line = ctx.client.describe() + "\n";
            ctx.reply().verbatim(line.as_bytes());
        }
        "list" => client_list(ctx, args),
        "kill" => return client_kill(ctx, args),
        "no-evict" | "no-touch" => {
            if is(&args[2], "ON") || is(&args[2], "OFF") {
                ctx.reply().ok();
            } else {
                ctx.error(errors::SYNTAX);
            }
        }
        _ => {
            let mut reply = ctx.reply();
            reply.array(CLIENT_HELP.len());
            for line in CLIENT_HELP {
                reply.simple(line);
            }
        }
    }
    Flow::Continue
}

fn client_setinfo(ctx: &mut Ctx<'_>, args: &[Bytes]) {
    let field = if is(&args[2], "LIB-NAME") {
        &ctx.client.lib_name
    } else if is(&args[2], "LIB-VER") {
        &ctx.client.lib_ver
    } else {
        ctx.error(&format!(
            "ERR Unrecognized option '{}'",
            String::from_utf8_lossy(&args[2])
        ));
        return;
    };
    if !valid_name(&args[3]) {
        let attribute = String::from_utf8_lossy(&args[2]).to_ascii_lowercase();
        ctx.error(&format!(
            "ERR {attribute} cannot contain spaces, newlines or special characters."
        ));
        return;
    }
    *field.lock().unwrap_or_else(|p| p.into_inner()) =
        String::from_utf8_lossy(&args[3]).into_owned();
    ctx.reply().ok();
}

fn client_list(ctx: &mut Ctx<'_>, args: &[Bytes]) {
    let mut ids: Option<Vec<u64>> = None;
    let mut i = 2;
    while i < args.len() {
        if is(&args[i], "TYPE") && i + 1 < args.len() {
            let kind = &args[i + 1];
            if !(is(kind, "normal")
                || is(kind, "master")
                || is(kind, "replica")
                || is(kind, "pubsub"))
            {
                ctx.error(&format!(
                    "ERR Unknown client type '{}'",
                    String::from_utf8_lossy(kind)
                ));
                return;
            }
            if !is(kind, "normal") {
                ids = Some(Vec::new());
            }
            i += 2;
        } else if is(&args[i], "ID") && i + 1 < args.len() {
            let mut wanted = Vec::new();
            for arg in &args[i + 1..] {
                match parse_i64(arg) {
                    Some(id) if id > 0 => wanted.push(id as u64),
                    _ => {
                        ctx.error("ERR Invalid client ID");
                        return;
                    }
                }
            }
            ids = Some(wanted);
            i = args.len();
        } else {
            ctx.error(errors::SYNTAX);
            return;
        }
    }
    let mut text = String::new();
    for client in ctx.node.clients.all() {
        if ids.as_ref().is_none_or(|ids| ids.contains(&client.id)) {
            text.push_str(&client.describe());
            text.push('\n');
        }
    }
    ctx.reply().verbatim(text.as_bytes());
}

fn client_kill(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Flow {
    let me = ctx.client.id;
    if args.len() == 3 {
        // The old form: CLIENT KILL ip:port, replying OK.
        let wanted = String::from_utf8_lossy(&args[2]).into_owned();
        match ctx
            .node
            .clients
            .all()
            .into_iter()
            .find(|c| c.addr.to_string() == wanted)
        {
            Some(client) => {
                client.kill();
                ctx.reply().ok();
                return if client.id == me {
                    Flow::Close
                } else {
                    Flow::Continue
                };
            }
            None => {
                ctx.error("ERR No such client");
                return Flow::Continue;
            }
        }
    }
    let (mut id, mut addr, mut laddr, mut user) = (None, None, None, None);
    let mut skip_me = true;
    let mut i = 2;
    while i < args.len() {
        if i + 1 >= args.len() {
            ctx.error(errors::SYNTAX);
            return Flow::Continue;
        }
        let value = &args[i + 1];
        if is(&args[i], "ID") {
            match parse_i64(value) {
                Some(n) if n > 0 => id = Some(n as u64),
                _ => {
                    ctx.error("ERR client-id should be greater than 0");
                    return Flow::Continue;
                }
            }
        } else if is(&args[i], "ADDR") {
            addr = Some(String::from_utf8_lossy(value).into_owned());
        } else if is(&args[i], "LADDR") {
            laddr = Some(String::from_utf8_lossy(value).into_owned());
        } else if is(&args[i], "USER") {
            user = Some(value.clone());
        } else if is(&args[i], "SKIPME") {
            if is(value, "YES") {
                skip_me = true;
            } else if is(value, "NO") {
                skip_me = false;
            } else {
                ctx.error(errors::SYNTAX);
                return Flow::Continue;
            }
        } else if is(&args[i], "TYPE") {
            if !is(value, "normal") {
                ctx.reply().int(0);
                return Flow::Continue;
            }
        } else {
            ctx.error(errors::SYNTAX);
            return Flow::Continue;
        }
        i += 2;
    }
    let mut killed = 0;
    let mut killed_me = false;
    for client in ctx.node.clients.all() {
        let matches = id.is_none_or(|id| client.id == id)
            && addr.as_ref().is_none_or(|a| client.addr.to_string() == *a)
            && laddr
                .as_ref()
                .is_none_or(|a| client.local_addr.to_string() == *a)
            && user.as_ref().is_none_or(|u| u.as_ref() == b"default");
        if !matches || (skip_me && client.id == me) {
            continue;
        }
        client.kill();
        killed += 1;
        killed_me |= client.id == me;
    }
    ctx.reply().int(killed);
    if killed_me {
        Flow::Close
    } else {
        Flow::Continue
    }
}

#[cfg(test)]
mod tests {
    use super::password_matches;

    #[test]
    fn passwords() {
        assert!(password_matches(b"secret", b"secret"));
        assert!(!password_matches(b"secret", b"secreT"));
        assert!(!password_matches(b"secret", b"secretsecret"));
        assert!(!password_matches(b"secret", b"sec"));
        assert!(!password_matches(b"secret", b""));
        assert!(password_matches(b"", b""));
    }
}
