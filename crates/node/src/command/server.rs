//! Server commands: INFO, CONFIG GET/SET/RESETSTAT, COMMAND (COUNT, INFO, DOCS, LIST,
//! GETKEYS), TIME and SHUTDOWN.

use bytes::Bytes;

use super::args::{glob_match, is, parse_i64};
use super::{errors, Ctx, Flow};
use crate::config::ByteSize;
use crate::info;
use cachering_commands::{CommandSpec, COMMANDS};

/// INFO [section ...]
pub fn info(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Flow {
    let sections: Vec<String> = args[1..]
        .iter()
        .map(|s| String::from_utf8_lossy(s).to_ascii_lowercase())
        .collect();
    let text = info::render(ctx.node, &sections);
    ctx.reply().verbatim(text.as_bytes());
    Flow::Continue
}

/// TIME
pub fn time(ctx: &mut Ctx<'_>, _args: &[Bytes]) -> Flow {
    let micros = crate::clock::now_us();
    let mut reply = ctx.reply();
    reply.array(2);
    reply.bulk((micros / 1_000_000).to_string().as_bytes());
    reply.bulk((micros % 1_000_000).to_string().as_bytes());
    Flow::Continue
}

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
    ctx.node.request_shutdown();
    Flow::Close
}

/// Settings CONFIG GET reports, with their current values as Redis formats them.
fn config_values(ctx: &Ctx<'_>) -> Vec<(&'static str, String)> {
    let config = ctx.node.config();
    vec![
        ("bind", config.bind.clone()),
        ("port", config.port.to_string()),
        ("maxmemory", ctx.node.store.stats().limit_bytes.to_string()),
        ("maxmemory-policy", "allkeys-lru".to_string()),
        ("store", config.store.name().to_string()),
        ("maxclients", config.maxclients.to_string()),
        (
            "requirepass",
            config.requirepass.clone().unwrap_or_default(),
        ),
        ("timeout", config.timeout.to_string()),
        ("proto-max-bulk-len", config.proto_max_bulk_len.to_string()),
        (
            "client-query-buffer-limit",
            config.client_query_buffer_limit.to_string(),
        ),
        (
            "client-output-buffer-limit",
            format!("normal {} 0 0", config.client_output_buffer_limit),
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
        "maxclients" => {
            let n = parse_count(value)?;
            if n == 0 {
                return Err("argument must be between 1 and 4294967295 inclusive".to_string());
            }
            node.update_config(|c| c.maxclients = n as usize);
        }
        "requirepass" => {
            let password = String::from_utf8(value.to_vec())
                .map_err(|_| "the password must be UTF-8".to_string())?;
            node.update_config(|c| c.requirepass = (!password.is_empty()).then_some(password));
        }
        "timeout" => {
            let n = parse_count(value)?;
            node.update_config(|c| c.timeout = n);
        }
        "proto-max-bulk-len" => {
            let n = parse_size(value)?;
            if n < 1024 * 1024 {
                return Err("proto-max-bulk-len must be 1mb or greater".to_string());
            }
            node.update_config(|c| c.proto_max_bulk_len = ByteSize(n));
        }
        "client-query-buffer-limit" => {
            let n = parse_size(value)?;
            if n < 1024 * 1024 {
                return Err("argument must be 1mb or greater".to_string());
            }
            node.update_config(|c| c.client_query_buffer_limit = ByteSize(n));
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
            node.update_config(|c| c.client_output_buffer_limit = ByteSize(hard));
        }
        _ => return Err("not settable at run time".to_string()),
    }
    Ok(())
}

const SETTABLE: &[&str] = &[
    "maxmemory",
    "maxclients",
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

fn write_command_info(ctx: &mut Ctx<'_>, spec: &CommandSpec) {
    let acl = spec.acl_categories();
    let mut reply = ctx.reply();
    reply.array(10);
    reply.bulk(spec.name.as_bytes());
    reply.int(i64::from(spec.arity));
    reply.set(spec.flags.len());
    for flag in spec.flags.iter().map(|flag| flag.name()) {
        reply.simple(flag);
    }
    reply.int(i64::from(spec.keys.first));
    reply.int(i64::from(spec.keys.last));
    reply.int(i64::from(spec.keys.step));
    reply.set(acl.len());
    for category in acl {
        reply.simple(category);
    }
    reply.set(0);
    reply.array(0);
    reply.array(0);
}

fn write_command_docs(ctx: &mut Ctx<'_>, spec: &CommandSpec) {
    let mut reply = ctx.reply();
    reply.bulk(spec.name.as_bytes());
    reply.map(4);
    reply.bulk(b"summary");
    reply.bulk(spec.summary.as_bytes());
    reply.bulk(b"since");
    reply.bulk(spec.since.as_bytes());
    reply.bulk(b"group");
    reply.bulk(spec.group.name().as_bytes());
    reply.bulk(b"complexity");
    reply.bulk(spec.complexity.as_bytes());
}

/// COMMAND [COUNT | INFO name… | DOCS name… | LIST [FILTERBY …] | GETKEYS command args…]
pub fn command(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Flow {
    if args.len() == 1 {
        ctx.reply().array(COMMANDS.len());
        for spec in COMMANDS {
            write_command_info(ctx, spec);
        }
        return Flow::Continue;
    }
    let sub = String::from_utf8_lossy(&args[1]).to_ascii_lowercase();
    match sub.as_str() {
        "count" if args.len() == 2 => ctx.reply().int(COMMANDS.len() as i64),
        "info" => {
            let specs: Vec<Option<&CommandSpec>> = if args.len() == 2 {
                COMMANDS.iter().map(Some).collect()
            } else {
                args[2..].iter().map(|name| super::lookup(name)).collect()
            };
            ctx.reply().array(specs.len());
            for spec in specs {
                match spec {
                    Some(spec) => write_command_info(ctx, spec),
                    None => ctx.reply().null_array(),
                }
            }
        }
        "docs" => {
            let specs: Vec<&CommandSpec> = if args.len() == 2 {
                COMMANDS.iter().collect()
            } else {
                args[2..]
                    .iter()
                    .filter_map(|name| super::lookup(name))
                    .collect()
            };
            ctx.reply().map(specs.len());
            for spec in specs {
                write_command_docs(ctx, spec);
            }
        }
        "list" => {
            let mut pattern: Option<Vec<u8>> = None;
            let mut category: Option<String> = None;
            match args.len() {
                2 => {}
                5 if is(&args[2], "FILTERBY") && is(&args[3], "PATTERN") => {
                    pattern = Some(args[4].to_vec())
                }
                5 if is(&args[2], "FILTERBY") && is(&args[3], "ACLCAT") => {
                    category = Some(format!(
                        "@{}",
                        String::from_utf8_lossy(&args[4]).to_ascii_lowercase()
                    ));
                }
                5 if is(&args[2], "FILTERBY") && is(&args[3], "MODULE") => {
                    category = Some(String::new())
                }
                _ => {
                    ctx.error(errors::SYNTAX);
                    return Flow::Continue;
                }
            }
            let names: Vec<&str> = COMMANDS
                .iter()
                .filter(|spec| {
                    pattern
                        .as_ref()
                        .is_none_or(|p| glob_match(p, spec.name.as_bytes()))
                })
                .filter(|spec| {
                    category
                        .as_ref()
                        .is_none_or(|c| spec.acl_categories().contains(&c.as_str()))
                })
                .map(|spec| spec.name)
                .collect();
            let mut reply = ctx.reply();
            reply.array(names.len());
            for name in names {
                reply.bulk(name.as_bytes());
            }
        }
        "getkeys" if args.len() >= 3 => command_getkeys(ctx, &args[2..]),
        "count" | "getkeys" => ctx.wrong_arity(&format!("command|{sub}")),
        _ => ctx.error(&format!(
            "ERR unknown subcommand '{}'. Try COMMAND HELP.",
            String::from_utf8_lossy(&args[1])
                .chars()
                .take(128)
                .collect::<String>()
        )),
    }
    Flow::Continue
}

fn command_getkeys(ctx: &mut Ctx<'_>, command: &[Bytes]) {
    let Some(spec) = super::lookup(&command[0]) else {
        ctx.error("ERR Invalid command specified");
        return;
    };
    if !spec.arity_ok(command.len()) {
        ctx.error("ERR Invalid number of arguments specified for command");
        return;
    }
    if !spec.keys.has_keys() {
        ctx.error("ERR The command has no key arguments");
        return;
    }
    let keys: Vec<&[u8]> = spec.keys.keys(command).collect();
    let mut reply = ctx.reply();
    reply.array(keys.len());
    for key in keys {
        reply.bulk(key);
    }
}
