//! Server commands: CONFIG GET/SET/RESETSTAT and SHUTDOWN (the server layer answers COMMAND,
//! TIME and INFO, whose text is `crate::info`'s).

use bytes::Bytes;

use super::args::{glob_match, is, parse_i64};
use super::{errors, Ctx, Flow};
use crate::config::ByteSize;

/// SHUTDOWN [NOSAVE|SAVE] [NOW] [FORCE] [ABORT]: there is nothing to save, so the options
/// other than ABORT change nothing. The connection closes without a reply, as in Redis.
pub fn shutdown(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Flow {
    for arg in &args[1..] {
        if is(arg, "ABORT") {
            ctx.error("ERR No shutdown in progress.");
            return Flow::Continue;
        }
        if !(is(arg, "NOSAVE") || is(arg, "SAVE") || is(arg, "NOW") || is(arg, "FORCE")) {
            ctx.error(errors::SYNTAX);
            return Flow::Continue;
        }
    }
    tracing::warn!(client = ctx.client.id, "SHUTDOWN requested by a client");
    ctx.node.endpoint.request_shutdown();
    Flow::Close
}

/// Settings CONFIG GET reports, with their current values as Redis formats them.
fn config_values(ctx: &Ctx<'_>) -> Vec<(&'static str, String)> {
    let config = ctx.node.config();
    let listener = &config.listener;
    vec![
        ("bind", listener.bind.clone()),
        ("port", ctx.node.endpoint.port().to_string()),
        ("maxmemory", ctx.node.store.stats().limit_bytes.to_string()),
        ("maxmemory-policy", "allkeys-lru".to_string()),
        ("store", config.store.name().to_string()),
        (
            "tombstone-ttl",
            (ctx.node.versions.tombstone_ttl_ms() / 1000).to_string(),
        ),
        ("maxclients", listener.maxclients.to_string()),
        (
            "tracking-table-max-keys",
            ctx.node.endpoint.tracking.max_keys().to_string(),
        ),
        (
            "requirepass",
            listener.requirepass.clone().unwrap_or_default(),
        ),
        ("timeout", listener.timeout.to_string()),
        (
            "proto-max-bulk-len",
            listener.proto_max_bulk_len.to_string(),
        ),
        (
            "client-query-buffer-limit",
            listener.client_query_buffer_limit.to_string(),
        ),
        (
            "client-output-buffer-limit",
            format!("normal {} 0 0", listener.client_output_buffer_limit),
        ),
        ("loglevel", config.log_level.clone()),
        ("databases", "1".to_string()),
        ("save", String::new()),
        ("appendonly", "no".to_string()),
    ]
}

fn parse_size(value: &[u8]) -> Result<u64, String> {
    std::str::from_utf8(value)
        .map_err(|_| "argument must be a memory value".to_string())?
        .parse::<ByteSize>()
        .map(ByteSize::bytes)
        .map_err(|_| "argument must be a memory value".to_string())
}

fn parse_count(value: &[u8]) -> Result<u64, String> {
    match parse_i64(value) {
        Some(n) if n >= 0 => Ok(n as u64),
        _ => Err("argument couldn't be parsed into an integer".to_string()),
    }
}

/// Applies one CONFIG SET pair.
fn config_set_one(ctx: &Ctx<'_>, name: &str, value: &[u8]) -> Result<(), String> {
    let node = ctx.node;
    match name {
        "maxmemory" => {
            let bytes = parse_size(value)?;
            node.store.set_limit(bytes).map_err(|e| e.to_string())?;
            node.update_config(|c| c.maxmemory = ByteSize(bytes));
        }
        "tombstone-ttl" => {
            let secs = parse_count(value)?;
            node.versions.set_tombstone_ttl_secs(secs);
            node.update_config(|c| c.tombstone_ttl = secs);
        }
        "tracking-table-max-keys" => {
            let n = parse_count(value)?;
            node.endpoint.tracking.set_max_keys(n);
        }
        "maxclients" => {
            let n = parse_count(value)?;
            if n == 0 {
                return Err("argument must be between 1 and 4294967295 inclusive".to_string());
            }
            node.endpoint.update_settings(|c| c.maxclients = n as usize);
        }
        "requirepass" => {
            let password = String::from_utf8(value.to_vec())
                .map_err(|_| "the password must be UTF-8".to_string())?;
            node.endpoint
                .update_settings(|c| c.requirepass = (!password.is_empty()).then_some(password));
        }
        "timeout" => {
            let n = parse_count(value)?;
            node.endpoint.update_settings(|c| c.timeout = n);
        }
        "proto-max-bulk-len" => {
            let n = parse_size(value)?;
            if n < 1024 * 1024 {
                return Err("proto-max-bulk-len must be 1mb or greater".to_string());
            }
            node.endpoint
                .update_settings(|c| c.proto_max_bulk_len = ByteSize(n));
        }
        "client-query-buffer-limit" => {
            let n = parse_size(value)?;
            if n < 1024 * 1024 {
                return Err("argument must be 1mb or greater".to_string());
            }
            node.endpoint
                .update_settings(|c| c.client_query_buffer_limit = ByteSize(n));
        }
        "client-output-buffer-limit" => {
            // Either a plain size, or Redis's "normal <hard> <soft> <seconds> …" form, of which
            // the normal class's hard limit is the one a node applies.
            let text = String::from_utf8_lossy(value).to_ascii_lowercase();
            let words: Vec<&str> = text.split_whitespace().collect();
            let hard = match words.as_slice() {
                [size] => parse_size(size.as_bytes())?,
                [..] => {
                    let at = words.iter().position(|w| *w == "normal").ok_or_else(|| {
                        "Wrong number of arguments in buffer limit configuration.".to_string()
                    })?;
                    let size = words.get(at + 1).ok_or_else(|| {
                        "Wrong number of arguments in buffer limit configuration.".to_string()
                    })?;
                    parse_size(size.as_bytes())?
                }
            };
            node.endpoint
                .update_settings(|c| c.client_output_buffer_limit = ByteSize(hard));
        }
        _ => return Err("not settable at run time".to_string()),
    }
    Ok(())
}

const SETTABLE: &[&str] = &[
    "maxmemory",
    "tombstone-ttl",
    "maxclients",
    "tracking-table-max-keys",
    "requirepass",
    "timeout",
    "proto-max-bulk-len",
    "client-query-buffer-limit",
    "client-output-buffer-limit",
];

const CONFIG_HELP: &[&str] = &[
    "CONFIG <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
    "GET <pattern>",
    "    Return parameters matching the glob-like <pattern> and their values.",
    "SET <directive> <value>",
    "    Set the configuration <directive> to <value>.",
    "RESETSTAT",
    "    Reset statistics reported by the INFO command.",
    "HELP",
    "    Print this help.",
];

/// CONFIG GET|SET|RESETSTAT|HELP
pub fn config(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Flow {
    let sub = String::from_utf8_lossy(&args[1]).to_ascii_lowercase();
    match sub.as_str() {
        "get" if args.len() >= 3 => {
            let values = config_values(ctx);
            let matched: Vec<&(&str, String)> = values
                .iter()
                .filter(|(name, _)| {
                    args[2..]
                        .iter()
                        .any(|pattern| glob_match(&pattern.to_ascii_lowercase(), name.as_bytes()))
                })
                .collect();
            let mut reply = ctx.reply();
            reply.map(matched.len());
            for (name, value) in matched {
                reply.bulk(name.as_bytes());
                reply.bulk(value.as_bytes());
            }
        }
        "set" if args.len() >= 4 && args.len() % 2 == 0 => {
            for pair in args[2..].chunks(2) {
                let name = String::from_utf8_lossy(&pair[0]).to_ascii_lowercase();
                if !SETTABLE.contains(&name.as_str()) {
                    ctx.error(&format!(
                        "ERR Unknown option or number of arguments for CONFIG SET - '{name}'"
                    ));
                    return Flow::Continue;
                }
            }
            for pair in args[2..].chunks(2) {
                let name = String::from_utf8_lossy(&pair[0]).to_ascii_lowercase();
                if let Err(reason) = config_set_one(ctx, &name, &pair[1]) {
                    ctx.error(&format!(
                        "ERR CONFIG SET failed (possibly related to argument '{name}') - {reason}"
                    ));
                    return Flow::Continue;
                }
            }
            tracing::info!(client = ctx.client.id, "CONFIG SET applied");
            ctx.reply().ok();
        }
        "resetstat" if args.len() == 2 => {
            ctx.node.stats.reset();
            ctx.node.endpoint.stats.reset();
            ctx.reply().ok();
        }
        "help" if args.len() == 2 => {
            let mut reply = ctx.reply();
            reply.array(CONFIG_HELP.len());
            for line in CONFIG_HELP {
                reply.simple(line);
            }
        }
        "get" | "set" | "resetstat" | "help" => ctx.wrong_arity(&format!("config|{sub}")),
        _ => ctx.error(&format!(
            "ERR unknown subcommand '{}'. Try CONFIG HELP.",
            String::from_utf8_lossy(&args[1])
                .chars()
                .take(128)
                .collect::<String>()
        )),
    }
    Flow::Continue
}
