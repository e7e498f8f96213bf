//! CLIENT: this connection's id, name and info, and the registry of all of them (LIST, KILL).

use bytes::Bytes;
use cachering_proto::parse_i64;

use super::auth::valid_name;
use super::{errors, is};
use crate::dispatch::Exchange;
use crate::service::{Flow, Service};
use crate::session::Replies;
use crate::tracking::Mode;

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
    "TRACKING (ON|OFF) [REDIRECT <id>] [BCAST] [PREFIX <prefix> [...]]",
    "         [OPTIN] [OPTOUT] [NOLOOP]",
    "    Control server assisted client side caching.",
    "TRACKINGINFO",
    "    Report tracking status for the current connection.",
    "CACHING (YES|NO)",
    "    Enable/disable tracking of the keys for next command in OPTIN/OPTOUT modes.",
    "GETREDIR",
    "    Return the client ID we are redirecting to when tracking is enabled.",
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
        "id" | "getname" | "info" | "help" | "getredir" | "trackinginfo" => args.len() == 2,
        "tracking" | "caching" => args.len() >= 3,
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
        "tracking" => client_tracking(ctx, args),
        "caching" => client_caching(ctx, args),
        "getredir" => {
            let mode = ctx.client.tracking_mode();
            let redirect = if mode.on { mode.redirect as i64 } else { -1 };
            ctx.reply().int(redirect);
        }
        "trackinginfo" => client_trackinginfo(ctx),
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

/// CLIENT TRACKING ON|OFF [REDIRECT id] [BCAST] [PREFIX prefix ...] [OPTIN] [OPTOUT]
/// [NOLOOP], with Redis 7.0's checks and errors.
fn client_tracking<S: Service>(ctx: &mut Exchange<'_, S>, args: &[Bytes]) {
    let mut mode = Mode {
        on: true,
        ..Mode::default()
    };
    let mut prefixes: Vec<Bytes> = Vec::new();
    let mut j = 3;
    while j < args.len() {
        let more = j + 1 < args.len();
        let option = &args[j];
        if is(option, "REDIRECT") && more {
            j += 1;
            if mode.redirect != 0 {
                ctx.error("ERR A client can only redirect to a single other client");
                return;
            }
            let Some(id) = parse_i64(&args[j]) else {
                ctx.error(errors::NOT_INTEGER);
                return;
            };
            let exists = u64::try_from(id)
                .ok()
                .filter(|id| *id > 0)
                .and_then(|id| ctx.endpoint.clients.get(id));
            let Some(target) = exists else {
                ctx.error("ERR The client ID you want redirect to does not exist");
                return;
            };
            mode.redirect = target.id;
        } else if is(option, "BCAST") {
            mode.bcast = true;
        } else if is(option, "OPTIN") {
            mode.optin = true;
        } else if is(option, "OPTOUT") {
            mode.optout = true;
        } else if is(option, "NOLOOP") {
            mode.noloop = true;
        } else if is(option, "PREFIX") && more {
            j += 1;
            prefixes.push(args[j].clone());
        } else {
            ctx.error(errors::SYNTAX);
            return;
        }
        j += 1;
    }
    let tracking = &ctx.endpoint.tracking;
    if is(&args[2], "OFF") {
        tracking.disable(ctx.client);
        ctx.reply().ok();
        return;
    }
    if !is(&args[2], "ON") {
        ctx.error(errors::SYNTAX);
        return;
    }
    if !ctx.service.tracks_keys() {
        ctx.error("ERR CLIENT TRACKING is not available here: send it to a node");
        return;
    }
    let current = ctx.client.tracking_mode();
    let refusal = if !mode.bcast && !prefixes.is_empty() {
        Some("ERR PREFIX option requires BCAST mode to be enabled".to_string())
    } else if current.on && current.bcast != mode.bcast {
        Some("ERR You can't switch BCAST mode on/off before disabling tracking for this client, and then re-enabling it with a different mode.".to_string())
    } else if mode.bcast && (mode.optin || mode.optout) {
        Some("ERR OPTIN and OPTOUT are not compatible with BCAST".to_string())
    } else if mode.optin && mode.optout {
        Some("ERR You can't specify both OPTIN mode and OPTOUT mode".to_string())
    } else if (mode.optin && current.optout) || (mode.optout && current.optin) {
        Some("ERR You can't switch OPTIN/OPTOUT mode before disabling tracking for this client, and then re-enabling it with a different mode.".to_string())
    } else if mode.bcast {
        prefix_collision(&current.prefixes, &prefixes)
    } else {
        None
    };
    if let Some(refusal) = refusal {
        ctx.error(&refusal);
        return;
    }
    if mode.bcast && prefixes.is_empty() {
        prefixes.push(Bytes::new());
    }
    mode.prefixes = prefixes;
    tracking.enable(ctx.client, mode);
    ctx.reply().ok();
}

/// Redis's error when two BCAST prefixes would both match one key (one starts the other).
fn prefix_collision(existing: &[Bytes], new: &[Bytes]) -> Option<String> {
    let overlap = |a: &[u8], b: &[u8]| a.starts_with(b) || b.starts_with(a);
    let text = |bytes: &[u8]| String::from_utf8_lossy(bytes).into_owned();
    for (i, prefix) in new.iter().enumerate() {
        if let Some(old) = existing.iter().find(|old| overlap(old, prefix)) {
            return Some(format!(
                "ERR Prefix '{}' overlaps with an existing prefix '{}'. Prefixes for a single client must not overlap.",
                text(prefix),
                text(old)
            ));
        }
        if let Some(other) = new[i + 1..].iter().find(|other| overlap(other, prefix)) {
            return Some(format!(
                "ERR Prefix '{}' overlaps with another provided prefix '{}'. Prefixes for a single client must not overlap.",
                text(prefix),
                text(other)
            ));
        }
    }
    None
}

/// CLIENT CACHING YES|NO: whether the next command (or transaction) has its keys remembered,
/// in OPTIN or OPTOUT mode.
fn client_caching<S: Service>(ctx: &mut Exchange<'_, S>, args: &[Bytes]) {
    let mode = ctx.client.tracking_mode();
    if !mode.on {
        ctx.error("ERR CLIENT CACHING can be called only when the client is in tracking mode with OPTIN or OPTOUT mode enabled");
        return;
    }
    if is(&args[2], "YES") {
        if !mode.optin {
            ctx.error(
                "ERR CLIENT CACHING YES is only valid when tracking is enabled in OPTIN mode.",
            );
            return;
        }
    } else if is(&args[2], "NO") {
        if !mode.optout {
            ctx.error(
                "ERR CLIENT CACHING NO is only valid when tracking is enabled in OPTOUT mode.",
            );
            return;
        }
    } else {
        ctx.error(errors::SYNTAX);
        return;
    }
    ctx.session.caching = true;
    ctx.reply().ok();
}

/// CLIENT TRACKINGINFO: flags, redirect and prefixes, as Redis reports them.
fn client_trackinginfo<S: Service>(ctx: &mut Exchange<'_, S>) {
    let mode = ctx.client.tracking_mode();
    let caching = ctx.session.caching;
    let mut flags = vec![if mode.on { "on" } else { "off" }];
    if mode.bcast {
        flags.push("bcast");
    }
    if mode.optin {
        flags.push("optin");
        if caching {
            flags.push("caching-yes");
        }
    }
    if mode.optout {
        flags.push("optout");
        if caching {
            flags.push("caching-no");
        }
    }
    if mode.noloop {
        flags.push("noloop");
    }
    if mode.broken_redirect {
        flags.push("broken_redirect");
    }
    let mut reply = ctx.reply();
    reply.map(3);
    reply.bulk(b"flags");
    reply.set(flags.len());
    for flag in flags {
        reply.bulk(flag.as_bytes());
    }
    reply.bulk(b"redirect");
    reply.int(if mode.on { mode.redirect as i64 } else { -1 });
    reply.bulk(b"prefixes");
    reply.array(mode.prefixes.len());
    // In byte order, as Redis lists them from its radix tree.
    let mut prefixes = mode.prefixes;
    prefixes.sort();
    for prefix in &prefixes {
        reply.bulk(prefix);
    }
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
