//! The versioned commands the client crate writes and reads with: VSET, VDEL, VGET, VVER,
//! VAPPLY (`crate::versions` has the rules).

use bytes::Bytes;
use cachering_proto::version;

use super::args::is;
use super::strings::expiry_option;
use super::{Ctx, Flow};
use crate::store::{is_expired, Change, Value, NO_DEADLINE};
use crate::types::{Body, Kind};
use crate::versions::{signed_version, supersedes, Payload, Stamping};

const INVALID_VERSION: &str =
    "ERR invalid version: expected an integer from 1 to 4611686018427387903";

/// VSET key version value [EX seconds | PX milliseconds | EXAT timestamp | PXAT timestamp]
/// [TYPE type]: `:1` if the write superseded what the key held, `:0` if a newer write was
/// there. With TYPE (`hash`, ...) the value is a collection's dump, as VGET gives it.
pub fn vset(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Flow {
    let Some(version) = version::parse(&args[2]) else {
        ctx.error(INVALID_VERSION);
        return Flow::Continue;
    };
    let mut deadline = NO_DEADLINE;
    let mut kind = None;
    let mut i = 4;
    while i < args.len() {
        if is(&args[i], "TYPE") && i + 1 < args.len() && kind.is_none() {
            let Some(named) = Kind::from_name(&args[i + 1]) else {
                ctx.error("ERR unknown type in 'vset' command");
                return Flow::Continue;
            };
            kind = Some(named);
            i += 2;
            continue;
        }
        match expiry_option(ctx, args, i, deadline == NO_DEADLINE, "vset") {
            Some(d) => deadline = d,
            None => return Flow::Continue,
        }
        i += 2;
    }
    let body = match kind {
        None => None,
        Some(kind) => match Body::restore(kind, &args[3]) {
            Some(body) if !body.is_empty() => Some(body),
            _ => {
                ctx.error("ERR DUMP payload version or checksum are wrong");
                return Flow::Continue;
            }
        },
    };
    let payload = Payload {
        kind,
        bytes: &args[3],
    };
    // Built once: a retried decision puts the same collection (a reference, not a copy).
    let collection = body.map(|body| Value::collection(body, deadline).with_version(version));
    let node = ctx.node;
    node.versions.observe(version);
    let now = ctx.now;
    let mut applied = false;
    let result = node.store.update(&args[1], now, &mut |current| {
        applied = supersedes(version, Some(payload), current);
        if !applied {
            Change::Keep
        } else if is_expired(deadline, now) {
            // Written already expired: a delete at that version.
            node.versions.deleted(version, now)
        } else {
            Change::Put(match &collection {
                Some(collection) => collection.clone(),
                None => Value::versioned(&args[3], deadline, version),
            })
        }
    });
    if applied && result.is_ok() {
        node.key_changed(&args[1], Some(ctx.client.id));
    }
    if applied && kind == Some(Kind::List) {
        // A list copied here: clients blocked on it look again.
        node.lists_changed.notify_waiters();
    }
    match result {
        Ok(()) => ctx.reply().int(i64::from(applied)),
        Err(e) => ctx.store_error(&e),
    }
    Flow::Continue
}

/// VDEL key version: `:1` if a live value was deleted, `:0` otherwise (as DEL counts); the
/// delete is remembered whenever it is newer than what the key held.
pub fn vdel(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Flow {
    let Some(version) = version::parse(&args[2]) else {
        ctx.error(INVALID_VERSION);
        return Flow::Continue;
    };
    let node = ctx.node;
    node.versions.observe(version);
    let now = ctx.now;
    let mut deleted = false;
    // A delete cannot fail: a tombstone is smaller than any value.
    let _ = node.store.update(&args[1], now, &mut |current| {
        if supersedes(version, None, current) {
            deleted = current.is_some_and(|value| !value.is_tombstone());
            node.versions.deleted(version, now)
        } else {
            deleted = false;
            Change::Keep
        }
    });
    if deleted {
        node.key_changed(&args[1], Some(ctx.client.id));
    }
    ctx.reply().int(i64::from(deleted));
    Flow::Continue
}

/// VGET key: `[value or nil, version]`, or `[dump, version, type]` for a collection (the
/// dump VSET ... TYPE takes); the version is 0 if the node knows no write of the key, negative
/// when its last write was a delete.
pub fn vget(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Flow {
    let entry = ctx.node.store.entry(&args[1], ctx.now);
    let live = entry.as_ref().filter(|value| !value.is_tombstone());
    ctx.count_read(live.is_some());
    let version = signed_version(entry.as_ref());
    let mut reply = ctx.reply();
    match live.map(|value| (value, value.as_collection())) {
        Some((_, Some(collection))) => {
            reply.array(3);
            reply.bulk(&collection.dump());
            reply.int(version);
            reply.bulk(collection.kind().name().as_bytes());
        }
        Some((value, None)) => {
            reply.array(2);
            reply.bulk(value.string().unwrap_or_default());
            reply.int(version);
        }
        None => {
            reply.array(2);
            reply.null();
            reply.int(version);
        }
    }
    Flow::Continue
}

/// VVER key [key ...]: the version of each key's last write the node knows, 0 if none,
/// negative when that write was a delete. One command checks many keys: a client asking
/// every replica for its version batches them.
pub fn vver(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Flow {
    let now = ctx.now;
    let store = &ctx.node.store;
    let versions: smallvec::SmallVec<[i64; 16]> = args[1..]
        .iter()
        .map(|key| signed_version(store.entry(key, now).as_ref()))
        .collect();
    let mut reply = ctx.reply();
    reply.array(versions.len());
    for version in versions {
        reply.int(version);
    }
    Flow::Continue
}

/// VAPPLY key expected|* version command [arg ...]: a write of `key` at a version the
/// client gives.
///
/// - With an expected version, it replays a collection write that another replica ran (the
///   client copies its effect this way rather than the whole value): it applies only if this
///   replica's last write of `key` is `expected` (VVER's signed form), so the command meets the
///   same value it met there and leaves the same one, stamped `version`. Answers `:1` if it
///   applied, `:0` if the key was at another version (the client then copies the whole value);
///   the command's own reply is not sent.
/// - With `*`, it runs a mutation (a single-key write, or a write of keys sharing their
///   replicas whose first key is `key`), its writes stamped `version`, or just above each key's
///   own version if that is higher, and answers the command's own reply: a mutation that waited
///   in a frozen node runs as old as it is.
pub fn vapply(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Flow {
    let expected = if args[2].as_ref() == b"*" {
        Some(None)
    } else {
        std::str::from_utf8(&args[2])
            .ok()
            .and_then(|text| text.parse::<i64>().ok())
            .map(Some)
    };
    let (Some(expected), Some(version)) = (expected, version::parse(&args[3])) else {
        ctx.error(INVALID_VERSION);
        return Flow::Continue;
    };
    let command = &args[4..];
    let spec = cachering_commands::lookup(&command[0]).filter(|spec| {
        spec.arity_ok(command.len()) && spec.keys.first_key(command) == Some(&args[1][..])
    });
    let allowed = spec.filter(|spec| match expected {
        Some(_) => spec.replayable(),
        None => spec.versionable(),
    });
    let Some(spec) = allowed else {
        ctx.error("ERR VAPPLY runs a mutation whose first key is its key (with an expected version, a deterministic collection write)");
        return Flow::Continue;
    };
    ctx.stamping = match expected {
        Some(expected) => Stamping::Replay { expected, version },
        None => Stamping::Floor { version },
    };
    ctx.matched = false;
    let mark = ctx.out.len();
    let flow = super::table::handler(spec.id)(ctx, command);
    ctx.stamping = Stamping::Clock;
    if expected.is_some() {
        ctx.out.truncate(mark);
        let matched = ctx.matched;
        ctx.reply().int(i64::from(matched));
    }
    flow
}
