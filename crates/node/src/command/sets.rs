//! Set commands: SADD, SREM, SISMEMBER, SMISMEMBER, SCARD, SMEMBERS, SPOP, SRANDMEMBER, SMOVE,
//! SSCAN, SINTER, SUNION, SDIFF and their STORE forms, SINTERCARD, with Redis 7.0's replies (sets in RESP3
//! where Redis answers one) and error texts.

use bytes::Bytes;

use super::args::{is, parse_i64};
use super::collection::{self, growth};
use super::{errors, Ctx, Flow};
use crate::store::{Value, NO_DEADLINE};
use crate::types::{Body, Kind, Set};

fn set_of(body: &Body) -> &Set {
    body.as_set().expect(collection::KIND_CHECKED)
}

fn set_mut(body: &mut Body) -> &mut Set {
    body.as_set_mut().expect(collection::KIND_CHECKED)
}

/// Runs `answer` over the set at `key`, or over an empty set when the key is missing; nothing
/// after WRONGTYPE.
fn with_set(ctx: &mut Ctx<'_>, key: &[u8], answer: impl FnOnce(&mut Ctx<'_>, &Set)) {
    collection::with(ctx, key, Kind::Set, Body::as_set, answer);
}

/// SADD and SREM: `change` adds or removes each member; the number that changed.
fn change_members(ctx: &mut Ctx<'_>, args: &[Bytes], adding: bool) -> Flow {
    let members = &args[2..];
    let grow = if adding { growth(members) } else { 0 };
    let changed = collection::write(ctx, &args[1], Kind::Set, adding, grow, &mut |body| {
        let set = set_mut(body);
        let changed = members
            .iter()
            .filter(|member| {
                if adding {
                    set.insert(member)
                } else {
                    set.remove(member)
                }
            })
            .count();
        (changed as i64, changed > 0)
    });
    if let Ok(changed) = changed {
        ctx.reply().int(changed.unwrap_or(0));
    }
    Flow::Continue
}

/// SADD key member [member ...]
pub fn sadd(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Flow {
    change_members(ctx, args, true)
}

/// SREM key member [member ...]
pub fn srem(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Flow {
    change_members(ctx, args, false)
}

/// SISMEMBER key member
pub fn sismember(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Flow {
    with_set(ctx, &args[1], |ctx, set| {
        ctx.reply().int(i64::from(set.contains(&args[2])));
    });
    Flow::Continue
}

/// SMISMEMBER key member [member ...]
pub fn smismember(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Flow {
    with_set(ctx, &args[1], |ctx, set| {
        let mut reply = ctx.reply();
        reply.array(args.len() - 2);
        for member in &args[2..] {
            reply.int(i64::from(set.contains(member)));
        }
    });
    Flow::Continue
}

/// SCARD key
pub fn scard(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Flow {
    with_set(ctx, &args[1], |ctx, set| ctx.reply().int(set.len() as i64));
    Flow::Continue
}

/// SMEMBERS key: a set in RESP3.
pub fn smembers(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Flow {
    with_set(ctx, &args[1], |ctx, set| {
        let mut reply = ctx.reply();
        reply.set(set.len());
        for member in set.iter() {
            reply.bulk(member);
        }
    });
    Flow::Continue
}

/// A count argument of SPOP or SRANDMEMBER; `None` after replying the error.
fn count_arg(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Option<Option<i64>> {
    match args.len() {
        2 => Some(None),
        3 => match parse_i64(&args[2]) {
            Some(count) => Some(Some(count)),
            None => {
                ctx.error(errors::NOT_INTEGER);
                None
            }
        },
        _ => {
            ctx.error(errors::SYNTAX);
            None
        }
    }
}

/// SPOP key [count]: removes and answers random members (a set in RESP3 with a count).
pub fn spop(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Flow {
    let Some(count) = count_arg(ctx, args) else {
        return Flow::Continue;
    };
    if count.is_some_and(|count| count < 0) {
        ctx.error("ERR value is out of range, must be positive");
        return Flow::Continue;
    }
    let wanted = count.unwrap_or(1) as u64;
    let popped = collection::write(ctx, &args[1], Kind::Set, false, 0, &mut |body| {
        let set = set_mut(body);
        let mut popped: Vec<Vec<u8>> = Vec::new();
        while (popped.len() as u64) < wanted {
            let Some(member) = set.pick(rand::random()).map(<[u8]>::to_vec) else {
                break;
            };
            set.remove(&member);
            popped.push(member);
        }
        let changed = !popped.is_empty();
        (popped, changed)
    });
    let Ok(popped) = popped else {
        return Flow::Continue;
    };
    let popped = popped.unwrap_or_default();
    let mut reply = ctx.reply();
    match count {
        None => match popped.first() {
            Some(member) => reply.bulk(member),
            None => reply.null(),
        },
        Some(_) => {
            reply.set(popped.len());
            for member in &popped {
                reply.bulk(member);
            }
        }
    }
    Flow::Continue
}

/// SRANDMEMBER key [count]: random members, distinct for a positive count (the whole set, in
/// its order, when the count is at least its size), possibly repeated for a negative one.
pub fn srandmember(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Flow {
    let Some(count) = count_arg(ctx, args) else {
        return Flow::Continue;
    };
    let Some(count) = count else {
        with_set(ctx, &args[1], |ctx, set| match set.pick(rand::random()) {
            Some(member) => ctx.reply().bulk(member),
            None => ctx.reply().null(),
        });
        return Flow::Continue;
    };
    // Redis's bound, as HRANDFIELD's.
    if !(-(i64::MAX / 2)..=i64::MAX / 2).contains(&count) {
        ctx.error("ERR value is out of range");
        return Flow::Continue;
    }
    with_set(ctx, &args[1], |ctx, set| {
        let (n, picks) =
            collection::random_picks(set.len(), count, || set.iter().collect(), |r| set.pick(r));
        let members = picks.map(|member| (member, ()));
        collection::reply_pairs(ctx, n, members, false, |_, ()| {});
    });
    Flow::Continue
}

/// SSCAN key cursor [MATCH pattern] [COUNT count]
pub fn sscan(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Flow {
    collection::scan(ctx, args, Kind::Set, |body, cursor, count, visit| {
        body.as_set().map_or(0, |set| {
            set.scan(cursor, count, &mut |member| visit(member, None))
        })
    });
    Flow::Continue
}

/// SMOVE source destination member: 1 if moved (or already in a source that is also the
/// destination), 0 if the member is not in the source.
pub fn smove(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Flow {
    let (source, destination, member) = (&args[1], &args[2], &args[3]);
    // Both keys' types are checked before anything moves, as Redis does.
    let Ok(from) = collection::read(ctx, source, Kind::Set) else {
        return Flow::Continue;
    };
    if collection::read(ctx, destination, Kind::Set).is_err() {
        return Flow::Continue;
    }
    if source == destination {
        let present = from
            .as_ref()
            .and_then(|value| value.as_collection())
            .is_some_and(|collection| set_of(&collection.read()).contains(member));
        ctx.reply().int(i64::from(present));
        return Flow::Continue;
    }
    let removed = collection::write(ctx, source, Kind::Set, false, 0, &mut |body| {
        let removed = set_mut(body).remove(member);
        (removed, removed)
    });
    match removed {
        Err(()) => return Flow::Continue,
        Ok(None | Some(false)) => {
            ctx.reply().int(0);
            return Flow::Continue;
        }
        Ok(Some(true)) => {}
    }
    let grow = growth(&args[3..4]);
    if collection::write(ctx, destination, Kind::Set, true, grow, &mut |body| {
        let added = set_mut(body).insert(member);
        ((), added)
    })
    .is_ok()
    {
        ctx.reply().int(1);
    }
    Flow::Continue
}

/// Which algebra SINTER, SUNION and SDIFF compute.
#[derive(Clone, Copy)]
enum Algebra {
    Inter,
    Union,
    Diff,
}

/// The members of `op` over the sets at `keys` (a missing key is the empty set); `None` after
/// replying WRONGTYPE.
fn compute(ctx: &mut Ctx<'_>, keys: &[Bytes], op: Algebra) -> Option<Vec<Vec<u8>>> {
    let mut values = Vec::with_capacity(keys.len());
    for key in keys {
        values.push(collection::read(ctx, key, Kind::Set).ok()?);
    }
    let guards: Vec<_> = values
        .iter()
        .map(|value| {
            value
                .as_ref()
                .and_then(Value::as_collection)
                .map(|c| c.read())
        })
        .collect();
    let empty = Set::new();
    let sets: Vec<&Set> = guards
        .iter()
        .map(|guard| guard.as_ref().map_or(&empty, |body| set_of(body)))
        .collect();
    Some(match op {
        Algebra::Inter => {
            let Some(smallest) = sets.iter().min_by_key(|set| set.len()) else {
                return Some(Vec::new());
            };
            smallest
                .iter()
                .filter(|member| sets.iter().all(|set| set.contains(member)))
                .map(<[u8]>::to_vec)
                .collect()
        }
        Algebra::Union => {
            let mut union = Set::new();
            for set in &sets {
                for member in set.iter() {
                    union.insert(member);
                }
            }
            union.iter().map(<[u8]>::to_vec).collect()
        }
        Algebra::Diff => sets[0]
            .iter()
            .filter(|member| !sets[1..].iter().any(|set| set.contains(member)))
            .map(<[u8]>::to_vec)
            .collect(),
    })
}

fn reply_members(ctx: &mut Ctx<'_>, members: &[Vec<u8>]) {
    let mut reply = ctx.reply();
    reply.set(members.len());
    for member in members {
        reply.bulk(member);
    }
}

/// SINTER key [key ...]
pub fn sinter(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Flow {
    if let Some(members) = compute(ctx, &args[1..], Algebra::Inter) {
        reply_members(ctx, &members);
    }
    Flow::Continue
}

/// SUNION key [key ...]
pub fn sunion(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Flow {
    if let Some(members) = compute(ctx, &args[1..], Algebra::Union) {
        reply_members(ctx, &members);
    }
    Flow::Continue
}

/// SDIFF key [key ...]
pub fn sdiff(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Flow {
    if let Some(members) = compute(ctx, &args[1..], Algebra::Diff) {
        reply_members(ctx, &members);
    }
    Flow::Continue
}

/// SINTERCARD numkeys key [key ...] [LIMIT limit]: the intersection's size, counted up to
/// `limit` (0: no limit).
pub fn sintercard(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Flow {
    let Some(count) = parse_i64(&args[1]).filter(|&n| n > 0) else {
        ctx.error("ERR numkeys should be greater than 0");
        return Flow::Continue;
    };
    if count as u64 > (args.len() - 2) as u64 {
        ctx.error("ERR Number of keys can't be greater than number of args");
        return Flow::Continue;
    }
    let keys = &args[2..2 + count as usize];
    let mut limit = 0u64;
    let mut i = 2 + count as usize;
    while i < args.len() {
        if is(&args[i], "LIMIT") && i + 1 < args.len() {
            // Redis answers the same for a negative LIMIT and one that is not a number.
            match parse_i64(&args[i + 1]) {
                Some(n) if n >= 0 => limit = n as u64,
                _ => {
                    ctx.error("ERR LIMIT can't be negative");
                    return Flow::Continue;
                }
            }
            i += 2;
        } else {
            ctx.error(errors::SYNTAX);
            return Flow::Continue;
        }
    }
    if let Some(members) = compute(ctx, keys, Algebra::Inter) {
        let size = members.len() as u64;
        let size = if limit > 0 { size.min(limit) } else { size };
        ctx.reply().int(size as i64);
    }
    Flow::Continue
}

/// The STORE forms: the result replaces whatever the destination held (of any type); an empty
/// result deletes it. The number of members stored.
fn store(ctx: &mut Ctx<'_>, args: &[Bytes], op: Algebra) -> Flow {
    let Some(members) = compute(ctx, &args[2..], op) else {
        return Flow::Continue;
    };
    let mut result = Set::new();
    for member in &members {
        result.insert(member);
    }
    let value = (!result.is_empty()).then(|| Value::collection(Body::Set(result), NO_DEADLINE));
    ctx.store_result(&args[1], value, members.len() as i64);
    Flow::Continue
}

/// SINTERSTORE destination key [key ...]
pub fn sinterstore(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Flow {
    store(ctx, args, Algebra::Inter)
}

/// SUNIONSTORE destination key [key ...]
pub fn sunionstore(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Flow {
    store(ctx, args, Algebra::Union)
}

/// SDIFFSTORE destination key [key ...]
pub fn sdiffstore(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Flow {
    store(ctx, args, Algebra::Diff)
}
