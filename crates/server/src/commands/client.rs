//! CLIENT: this connection's id, name and info, and the registry of all of them (LIST, KILL).

use bytes::Bytes;
use cachering_proto::parse_i64;

use super::auth::valid_name;
use super::{errors, is};
use crate::dispatch::Exchange;
use crate::service::{Flow, Service};
use crate::session::Replies;

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
    "REPLY (ON|OFF|SKIP)",
    "    Control the replies sent to the current connection.",
    "NO-EVICT (ON|OFF)",
    "NO-TOUCH (ON|OFF)",
    "    Accepted for compatibility; they change nothing here.",
    "HELP",
    "    Print this help.",
];

/// CLIENT subcommand [args]
pub(super) fn client<S: Service>(ctx: &mut Exchange<'_, S>, args: &[Bytes]) -> Flow {
    let sub = String::from_utf8_lossy(&args[1]).to_ascii_lowercase();
    let arity_ok = match sub.as_str() {
        "id" | "getname" | "info" | "help" => args.len() == 2,
        "setname" | "no-evict" | "no-touch" | "reply" => args.len() == 3,
        "setinfo" => args.len() == 4,
        "list" => true,
        "kill" => args.len() >= 3,
        "unblock" => args.len() == 3 || args.len() == 4,
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
        "unblock" => client_unblock(ctx, args),
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
        "reply" => {
            // OFF and SKIP are not answered (OFF's own reply is the first one suppressed);
            // SKIP does nothing while replies are off.
            let replies = &mut ctx.session.replies;
            if is(&args[2], "ON") {
                *replies = Replies::On;
                ctx.session.replies_changed = true;
                ctx.reply().ok();
            } else if is(&args[2], "OFF") {
                *replies = Replies::Off;
                ctx.session.replies_changed = true;
            } else if is(&args[2], "SKIP") {
                if *replies != Replies::Off {
                    *replies = Replies::SkipNext;
                }
                ctx.session.replies_changed = true;
            } else {
                ctx.error(errors::SYNTAX);
            }
        }
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

/// CLIENT UNBLOCK id [TIMEOUT|ERROR]: 1 if the client was blocked and now is not.
fn client_unblock<S: Service>(ctx: &mut Exchange<'_, S>, args: &[Bytes]) {
    let Some(id) = parse_i64(&args[2]) else {
        ctx.error(errors::NOT_INTEGER);
        return;
    };
    let with_error = match args.get(3) {
        None => false,
        Some(reason) if is(reason, "TIMEOUT") => false,
        Some(reason) if is(reason, "ERROR") => true,
        Some(_) => {
            ctx.error("ERR CLIENT UNBLOCK reason should be TIMEOUT or ERROR");
            return;
        }
    };
    let unblocked = u64::try_from(id)
        .ok()
        .and_then(|id| ctx.endpoint.clients.get(id))
        .is_some_and(|client| client.unblock(with_error));
    ctx.reply().int(i64::from(unblocked));
}

fn client_setinfo<S: Service>(ctx: &mut Exchange<'_, S>, args: &[Bytes]) {
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

fn client_list<S: Service>(ctx: &mut Exchange<'_, S>, args: &[Bytes]) {
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
    for client in ctx.endpoint.clients.all() {
        if ids.as_ref().is_none_or(|ids| ids.contains(&client.id)) {
            text.push_str(&client.describe());
            text.push('\n');
        }
    }
    ctx.reply().verbatim(text.as_bytes());
}

fn client_kill<S: Service>(ctx: &mut Exchange<'_, S>, args: &[Bytes]) -> Flow {
    let me = ctx.client.id;
    if args.len() == 3 {
        // The old form: CLIENT KILL ip:port, replying OK.
        let wanted = String::from_utf8_lossy(&args[2]).into_owned();
        match ctx
            .endpoint
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
    for client in ctx.endpoint.clients.all() {
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
