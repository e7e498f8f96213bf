//! COMMAND: what the server knows about its commands, answered from the command table.

use bytes::Bytes;
use cachering_commands::{lookup, CommandSpec, COMMANDS};

use super::{errors, is};
use crate::dispatch::Exchange;
use crate::service::Service;

fn write_command_info<S: Service>(ctx: &mut Exchange<'_, S>, spec: &CommandSpec) {
    let acl = spec.acl_categories();
    let mut reply = ctx.reply();
    reply.array(10);
    reply.bulk(spec.name.as_bytes());
    reply.int(i64::from(spec.arity));
    let movable = spec.keys.movable();
    reply.set(spec.flags.len() + usize::from(movable));
    for flag in spec.flags.iter().map(|flag| flag.name()) {
        reply.simple(flag);
    }
    if movable {
        reply.simple("movablekeys");
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

fn write_command_docs<S: Service>(ctx: &mut Exchange<'_, S>, spec: &CommandSpec) {
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
pub(super) fn command<S: Service>(ctx: &mut Exchange<'_, S>, args: &[Bytes]) {
    if args.len() == 1 {
        ctx.reply().array(COMMANDS.len());
        for spec in COMMANDS {
            write_command_info(ctx, spec);
        }
        return;
    }
    let sub = String::from_utf8_lossy(&args[1]).to_ascii_lowercase();
    match sub.as_str() {
        "count" if args.len() == 2 => ctx.reply().int(COMMANDS.len() as i64),
        "info" => {
            let specs: Vec<Option<&CommandSpec>> = if args.len() == 2 {
                COMMANDS.iter().map(Some).collect()
            } else {
                args[2..].iter().map(|name| lookup(name)).collect()
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
                args[2..].iter().filter_map(|name| lookup(name)).collect()
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
                    return ctx.error(errors::SYNTAX);
                }
            }
            let names: Vec<&str> = COMMANDS
                .iter()
                .filter(|spec| {
                    pattern
                        .as_ref()
                        .is_none_or(|p| crate::glob::matches(p, spec.name.as_bytes()))
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
        "getkeys" if args.len() >= 4 => command_getkeys(ctx, &args[2..], false),
        "getkeysandflags" if args.len() >= 4 => command_getkeys(ctx, &args[2..], true),
        "count" | "getkeys" | "getkeysandflags" => ctx.wrong_arity(&format!("command|{sub}")),
        _ => ctx.error(&format!(
            "ERR unknown subcommand '{}'. Try COMMAND HELP.",
            String::from_utf8_lossy(&args[1])
                .chars()
                .take(128)
                .collect::<String>()
        )),
    }
}

/// GETKEYS: the keys of `command`; GETKEYSANDFLAGS (`flags`): each with its key-spec flags.
fn command_getkeys<S: Service>(ctx: &mut Exchange<'_, S>, command: &[Bytes], flags: bool) {
    let Some(spec) = lookup(&command[0]) else {
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
    if !spec.keys.count_is_valid(command) {
        ctx.error("ERR Invalid arguments specified for command");
        return;
    }
    let positions: Vec<usize> = spec.keys.positions(command.len()).collect();
    let keys: Vec<(usize, &[u8])> = spec
        .keys
        .keys(command)
        .enumerate()
        .map(|(i, key)| {
            // Counted keys follow the positional ones; find their argument positions.
            let position = positions.get(i).copied().unwrap_or_else(|| {
                command
                    .iter()
                    .position(|arg| std::ptr::eq(arg.as_ref(), key))
                    .unwrap_or(0)
            });
            (position, key)
        })
        .collect();
    let mut reply = ctx.reply();
    reply.array(keys.len());
    for (position, key) in keys {
        if flags {
            let key_flags = spec.key_flags(command, position);
            reply.array(2);
            reply.bulk(key);
            reply.array(key_flags.len());
            for flag in key_flags {
                reply.simple(flag);
            }
        } else {
            reply.bulk(key);
        }
    }
}
