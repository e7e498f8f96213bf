//! Key-space commands: DEL/UNLINK, EXISTS, TOUCH, TYPE, RENAME, RENAMENX, COPY, KEYS, SCAN,
//! RANDOMKEY, DBSIZE, FLUSHDB, FLUSHALL.

use bytes::Bytes;

use super::args::{glob_match, is, parse_i64};
use super::{errors, Ctx, Flow};
use crate::store::{Change, Value};
use crate::types::Kind;

/// SCAN's default COUNT, as in Redis.
const DEFAULT_SCAN_COUNT: usize = 10;

/// DEL key [key ...]; also UNLINK: freeing a value never blocks here, so both are the same.
pub fn del(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Flow {
    let removed = args[1..].iter().filter(|key| ctx.remove(key)).count();
    ctx.reply().int(removed as i64);
    Flow::Continue
}

/// EXISTS key [key ...]: a key named twice counts twice, as in Redis.
pub fn exists(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Flow {
    let found = args[1..]
        .iter()
        .filter(|key| ctx.node.store.get(key, ctx.now).is_some())
        .count();
    ctx.reply().int(found as i64);
    Flow::Continue
}

/// TOUCH key [key ...]: counts as an access for eviction.
pub fn touch(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Flow {
    exists(ctx, args)
}

/// TYPE key
pub fn type_of(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Flow {
    let value = ctx.node.store.get(&args[1], ctx.now);
    ctx.reply()
        .simple(value.as_ref().map_or("none", Value::type_name));
    Flow::Continue
}

const OBJECT_HELP: &[&str] = &[
    "OBJECT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
    "ENCODING <key>",
    "    Return the kind of internal representation used in order to store the value",
    "    associated with a <key>.",
    "FREQ <key>",
    "    Return the access frequency index of the <key>. The returned integer is",
    "    proportional to the logarithm of the recent access frequency of the key.",
    "IDLETIME <key>",
    "    Return the idle time of the <key>, that is the approximated number of",
    "    seconds elapsed since the last access to the key.",
    "REFCOUNT <key>",
    "    Return the number of references of the value associated with the specified",
    "    <key>.",
    "HELP",
    "    Prints this help.",
];

/// OBJECT ENCODING|FREQ|IDLETIME|REFCOUNT key, OBJECT HELP. ENCODING names Redis's
/// encodings (`int`, `embstr`, `raw` for strings by Redis's rules; `listpack` or `hashtable`
/// for a hash, as the node holds it); REFCOUNT is 1 (values are never shared between keys);
/// FREQ answers Redis's error for an LRU policy; IDLETIME is refused: the engines keep no
/// access time per key.
pub fn object(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Flow {
    let sub = String::from_utf8_lossy(&args[1]).to_ascii_lowercase();
    let wanted = match sub.as_str() {
        "help" => 2,
        "encoding" | "freq" | "idletime" | "refcount" => 3,
        _ => {
            ctx.error(&format!(
                "ERR unknown subcommand '{}'. Try OBJECT HELP.",
                String::from_utf8_lossy(&args[1])
            ));
            return Flow::Continue;
        }
    };
    if args.len() != wanted {
        ctx.error(&format!(
            "ERR wrong number of arguments for 'object|{sub}' command"
        ));
        return Flow::Continue;
    }
    if sub == "help" {
        let mut reply = ctx.reply();
        reply.array(OBJECT_HELP.len());
        for line in OBJECT_HELP {
            reply.simple(line);
        }
        return Flow::Continue;
    }
    let Some(value) = ctx.node.store.get(&args[2], ctx.now) else {
        ctx.reply().null();
        return Flow::Continue;
    };
    match sub.as_str() {
        "encoding" => {
            let encoding = match (value.as_collection(), value.string()) {
                (Some(collection), _) => collection.read().encoding(),
                (None, Some(bytes)) => string_encoding(bytes),
                (None, None) => "raw",
            };
            ctx.reply().bulk(encoding.as_bytes());
        }
        "refcount" => ctx.reply().int(1),
        "freq" => ctx.error("ERR An LFU maxmemory policy is not selected, access frequency not tracked. Please note that when switching between policies at runtime LRU and LFU data will take some time to adjust."),
        _ => ctx.error("ERR idle time is not tracked: this node's store keeps no access time per key"),
    }
    Flow::Continue
}

/// Redis's encoding of a string: `int` for a 64-bit integer in canonical form, `embstr` up to
/// 44 bytes, `raw` beyond.
fn string_encoding(bytes: &[u8]) -> &'static str {
    let canonical = bytes.len() <= 20
        && parse_i64(bytes).is_some_and(|n| itoa::Buffer::new().format(n).as_bytes() == bytes);
    if canonical {
        "int"
    } else if bytes.len() <= 44 {
        "embstr"
    } else {
        "raw"
    }
}

/// KEYS pattern: walks the whole key space (O(N), as in Redis).
pub fn keys(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Flow {
    let pattern = &args[1];
    let match_all = pattern.as_ref() == b"*";
    let mut found = Vec::new();
    let mut cursor = 0;
    loop {
        cursor = ctx.node.store.scan(cursor, 1024, ctx.now, &mut |key| {
            if match_all || glob_match(pattern, key) {
                found.push(key.to_vec());
            }
        });
        if cursor == 0 {
            break;
        }
    }
    let mut reply = ctx.reply();
    reply.array(found.len());
    for key in &found {
        reply.bulk(key);
    }
    Flow::Continue
}

/// A SCAN-family cursor argument; `None` after replying Redis's error.
pub(super) fn scan_cursor(ctx: &mut Ctx<'_>, arg: &[u8]) -> Option<u64> {
    let cursor = std::str::from_utf8(arg)
        .ok()
        .and_then(|text| text.parse::<u64>().ok());
    if cursor.is_none() {
        ctx.error("ERR invalid cursor");
    }
    cursor
}

/// The options of SCAN, HSCAN, SSCAN and ZSCAN.
pub(super) struct ScanOptions<'a> {
    /// MATCH's pattern; `None` for every element (also for `*`).
    pub pattern: Option<&'a [u8]>,
    /// COUNT: about how many elements a step looks at.
    pub count: usize,
    /// TYPE (SCAN only).
    pub wanted_type: Option<&'a [u8]>,
}

/// Reads `[MATCH pattern] [COUNT count]` (and `[TYPE type]` when `with_type`) from
/// `args[from..]`; `None` after replying Redis's error.
pub(super) fn scan_options<'a>(
    ctx: &mut Ctx<'_>,
    args: &'a [Bytes],
    from: usize,
    with_type: bool,
) -> Option<ScanOptions<'a>> {
    let mut options = ScanOptions {
        pattern: None,
        count: DEFAULT_SCAN_COUNT,
        wanted_type: None,
    };
    let mut i = from;
    while i < args.len() {
        if i + 1 >= args.len() {
            ctx.error(errors::SYNTAX);
            return None;
        }
        let value = &args[i + 1];
        if is(&args[i], "MATCH") {
            options.pattern = (value.as_ref() != b"*").then_some(value.as_ref());
        } else if is(&args[i], "COUNT") {
            match parse_i64(value) {
                Some(n) if n >= 1 => options.count = n as usize,
                Some(_) => {
                    ctx.error(errors::SYNTAX);
                    return None;
                }
                None => {
                    ctx.error(errors::NOT_INTEGER);
                    return None;
                }
            }
        } else if with_type && is(&args[i], "TYPE") {
            options.wanted_type = Some(value.as_ref());
        } else {
            ctx.error(errors::SYNTAX);
            return None;
        }
        i += 2;
    }
    Some(options)
}

/// A SCAN-family reply: the next cursor and the elements found.
pub(super) fn reply_scan(ctx: &mut Ctx<'_>, next: u64, found: &[Vec<u8>]) {
    let mut digits = itoa::Buffer::new();
    let mut reply = ctx.reply();
    reply.array(2);
    reply.bulk(digits.format(next).as_bytes());
    reply.array(found.len());
    for element in found {
        reply.bulk(element);
    }
}

/// SCAN cursor [MATCH pattern] [COUNT count] [TYPE type]
pub fn scan(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Flow {
    let Some(cursor) = scan_cursor(ctx, &args[1]) else {
        return Flow::Continue;
    };
    let Some(ScanOptions {
        pattern,
        count,
        wanted_type,
    }) = scan_options(ctx, args, 2, true)
    else {
        return Flow::Continue;
    };
    let mut found = Vec::new();
    let next = ctx.node.store.scan(cursor, count, ctx.now, &mut |key| {
        if pattern.is_none_or(|pattern| glob_match(pattern, key)) {
            found.push(key.to_vec());
        }
    });
    if let Some(wanted) = wanted_type {
        // Looked up after the step, not inside it: the walk may hold an engine lock.
        let store = &ctx.node.store;
        let now = ctx.now;
        found.retain(|key| {
            store
                .get(key, now)
                .is_some_and(|value| is(wanted, value.type_name()))
        });
    }
    reply_scan(ctx, next, &found);
    Flow::Continue
}

/// RANDOMKEY
pub fn randomkey(ctx: &mut Ctx<'_>, _args: &[Bytes]) -> Flow {
    match ctx.node.store.random_key(ctx.now) {
        Some(key) => ctx.reply().bulk(&key),
        None => ctx.reply().null(),
    }
    Flow::Continue
}

/// DBSIZE
pub fn dbsize(ctx: &mut Ctx<'_>, _args: &[Bytes]) -> Flow {
    let len = ctx.node.store.len();
    ctx.reply().int(len as i64);
    Flow::Continue
}

/// FLUSHDB / FLUSHALL [ASYNC|SYNC]: one database, so both empty the node.
pub fn flushall(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Flow {
    if args.len() > 2 || (args.len() == 2 && !is(&args[1], "ASYNC") && !is(&args[1], "SYNC")) {
        ctx.error(errors::SYNTAX);
        return Flow::Continue;
    }
    ctx.node.store.clear();
    // Clients that track keys are told every key may have changed.
    let endpoint = &ctx.node.endpoint;
    endpoint.tracking.flush(&endpoint.clients);
    ctx.reply().ok();
    Flow::Continue
}

/// RENAME key newkey
pub fn rename(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Flow {
    rename_to(ctx, args, false)
}

/// RENAMENX key newkey
pub fn renamenx(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Flow {
    rename_to(ctx, args, true)
}

/// The value and its time to live move to the new name (only if that is free, with
/// `only_new`); the old name is deleted unless a write changed it meanwhile, which then
/// counts as coming after the rename.
fn rename_to(ctx: &mut Ctx<'_>, args: &[Bytes], only_new: bool) -> Flow {
    let (from, to) = (&args[1], &args[2]);
    let Some(value) = ctx.node.store.get(from, ctx.now) else {
        ctx.error("ERR no such key");
        return Flow::Continue;
    };
    if from == to {
        if only_new {
            ctx.reply().int(0);
        } else {
            ctx.reply().ok();
        }
        return Flow::Continue;
    }
    let Some(placed) = place_copy(ctx, &value, to, !only_new) else {
        return Flow::Continue;
    };
    if placed {
        let version = value.version();
        let _ = ctx.write(from, &mut |current| match current {
            Some(current) if current.version() == version => Change::Remove,
            _ => Change::Keep,
        });
    }
    if only_new {
        ctx.reply().int(i64::from(placed));
    } else {
        ctx.reply().ok();
    }
    Flow::Continue
}

/// COPY source destination [DB destination-db] [REPLACE]: one database here, db 0.
pub fn copy(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Flow {
    let mut replace = false;
    let mut i = 3;
    while i < args.len() {
        if is(&args[i], "REPLACE") {
            replace = true;
            i += 1;
        } else if is(&args[i], "DB") && i + 1 < args.len() {
            match parse_i64(&args[i + 1]) {
                Some(0) => {}
                Some(_) => {
                    ctx.error("ERR DB index is out of range");
                    return Flow::Continue;
                }
                None => {
                    ctx.error(errors::NOT_INTEGER);
                    return Flow::Continue;
                }
            }
            i += 2;
        } else {
            ctx.error(errors::SYNTAX);
            return Flow::Continue;
        }
    }
    if args[1] == args[2] {
        ctx.error("ERR source and destination objects are the same");
        return Flow::Continue;
    }
    let Some(value) = ctx.node.store.get(&args[1], ctx.now) else {
        ctx.reply().int(0);
        return Flow::Continue;
    };
    if let Some(placed) = place_copy(ctx, &value, &args[2], replace) {
        ctx.reply().int(i64::from(placed));
    }
    Flow::Continue
}

/// Writes a copy of `value` (its bytes and deadline) under `to`, over what `to` holds only with
/// `overwrite`; whether it was written, or `None` once a store error has been replied.
fn place_copy(ctx: &mut Ctx<'_>, value: &Value, to: &[u8], overwrite: bool) -> Option<bool> {
    // A copy of the bytes or the collection: a value shares its deadline (and a collection
    // its contents) with its clones.
    let copy = value.duplicate(value.deadline());
    let mut placed = false;
    let written = ctx.write(to, &mut |current| {
        placed = overwrite || current.is_none();
        if placed {
            Change::Put(copy.clone())
        } else {
            Change::Keep
        }
    });
    if placed && value.kind() == Some(Kind::List) {
        // A list under a new name: clients blocked on that name look again.
        ctx.node.lists_changed.notify_waiters();
    }
    match written {
        Ok(()) => Some(placed),
        Err(e) => {
            ctx.store_error(&e);
            None
        }
    }
}
