//! The versioned commands the client crate writes and reads with: VSET, VDEL, VGET, VVER
//! (`crate::versions` has the rules).

use bytes::Bytes;
use cachering_proto::version;

use super::args::is;
use super::strings::expiry_option;
use super::{Ctx, Flow};
use crate::store::{is_expired, Change, Value, NO_DEADLINE};
use crate::types::{Body, Kind};
use crate::versions::{supersedes, Payload};

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
    ctx.reply().int(i64::from(deleted));
    Flow::Continue
}

/// The signed version of an entry: its version, negative for a tombstone, 0 for none.
fn signed(entry: Option<&Value>) -> i64 {
    match entry {
        None => 0,
        Some(entry) if entry.is_tombstone() => -(entry.version() as i64),
        Some(entry) => entry.version() as i64,
    }
}

/// VGET key: `[value or nil, version]`, or `[dump, version, type]` for a collection (the
/// dump VSET ... TYPE takes); the version is 0 if the node knows no write of the key, negative
/// when its last write was a delete.
pub fn vget(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Flow {
    let entry = ctx.node.store.entry(&args[1], ctx.now);
    let live = entry.as_ref().filter(|value| !value.is_tombstone());
    ctx.count_read(live.is_some());
    let version = signed(entry.as_ref());
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
        .map(|key| signed(store.entry(key, now).as_ref()))
        .collect();
    let mut reply = ctx.reply();
    reply.array(versions.len());
    for version in versions {
        reply.int(version);
    }
    Flow::Continue
}
