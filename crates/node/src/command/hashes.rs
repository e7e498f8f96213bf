//! Hash commands: HSET, HSETNX, HMSET, HGET, HMGET, HDEL, HEXISTS, HLEN, HSTRLEN, HKEYS,
//! HVALS, HGETALL, HINCRBY, HINCRBYFLOAT, HRANDFIELD, HSCAN, with Redis 7.0's replies and
//! error texts.

use bytes::Bytes;
use cachering_proto::format_double;

use super::args::{parse_f64, parse_i64};
use super::collection::{self, growth};
use super::{errors, Ctx, Flow};
use crate::types::{Body, Hash, Kind};

const NOT_INTEGER_VALUE: &str = "ERR hash value is not an integer";
const NOT_FLOAT_VALUE: &str = "ERR hash value is not a float";

fn hash_mut(body: &mut Body) -> &mut Hash {
    body.as_hash_mut().expect(collection::KIND_CHECKED)
}

/// Runs `answer` over the hash at `key`, or over an empty hash when the key is missing;
/// nothing after WRONGTYPE.
fn with_hash(ctx: &mut Ctx<'_>, key: &[u8], answer: impl FnOnce(&mut Ctx<'_>, &Hash)) {
    collection::with(ctx, key, Kind::Hash, Body::as_hash, answer);
}

/// Sets each field-value pair; the number of fields that were new.
fn set_pairs(ctx: &mut Ctx<'_>, args: &[Bytes], name: &str) -> Option<i64> {
    if args.len() % 2 != 0 {
        ctx.wrong_arity(name);
        return None;
    }
    let pairs = &args[2..];
    let added = collection::write(
        ctx,
        &args[1],
        Kind::Hash,
        true,
        growth(pairs),
        &mut |body| {
            let hash = hash_mut(body);
            let added = pairs
                .chunks(2)
                .filter(|pair| hash.set(&pair[0], &pair[1]))
                .count();
            (added as i64, true)
        },
    );
    added.ok().map(|added| added.unwrap_or(0))
}

/// HSET key field value [field value ...]
pub fn hset(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Flow {
    if let Some(added) = set_pairs(ctx, args, "hset") {
        ctx.reply().int(added);
    }
    Flow::Continue
}

/// HMSET key field value [field value ...]
pub fn hmset(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Flow {
    if set_pairs(ctx, args, "hmset").is_some() {
        ctx.reply().ok();
    }
    Flow::Continue
}

/// HSETNX key field value
pub fn hsetnx(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Flow {
    let (field, value) = (&args[2], &args[3]);
    let set = collection::write(
        ctx,
        &args[1],
        Kind::Hash,
        true,
        growth(&args[2..4]),
        &mut |body| {
            let hash = hash_mut(body);
            if hash.get(field).is_some() {
                (0, false)
            } else {
                hash.set(field, value);
                (1, true)
            }
        },
    );
    if let Ok(set) = set {
        ctx.reply().int(set.unwrap_or(0));
    }
    Flow::Continue
}

/// HGET key field
pub fn hget(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Flow {
    with_hash(ctx, &args[1], |ctx, hash| match hash.get(&args[2]) {
        Some(value) => ctx.reply().bulk(value),
        None => ctx.reply().null(),
    });
    Flow::Continue
}

/// HMGET key field [field ...]
pub fn hmget(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Flow {
    with_hash(ctx, &args[1], |ctx, hash| {
        let mut reply = ctx.reply();
        reply.array(args.len() - 2);
        for field in &args[2..] {
            match hash.get(field) {
                Some(value) => reply.bulk(value),
                None => reply.null(),
            }
        }
    });
    Flow::Continue
}

/// HDEL key field [field ...]
pub fn hdel(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Flow {
    let fields = &args[2..];
    let removed = collection::write(ctx, &args[1], Kind::Hash, false, 0, &mut |body| {
        let hash = hash_mut(body);
        let removed = fields.iter().filter(|field| hash.remove(field)).count();
        (removed as i64, removed > 0)
    });
    if let Ok(removed) = removed {
        ctx.reply().int(removed.unwrap_or(0));
    }
    Flow::Continue
}

/// HEXISTS key field
pub fn hexists(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Flow {
    with_hash(ctx, &args[1], |ctx, hash| {
        ctx.reply().int(i64::from(hash.get(&args[2]).is_some()));
    });
    Flow::Continue
}

/// HLEN key
pub fn hlen(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Flow {
    with_hash(ctx, &args[1], |ctx, hash| {
        ctx.reply().int(hash.len() as i64)
    });
    Flow::Continue
}

/// HSTRLEN key field
pub fn hstrlen(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Flow {
    with_hash(ctx, &args[1], |ctx, hash| {
        ctx.reply()
            .int(hash.get(&args[2]).map_or(0, |value| value.len() as i64));
    });
    Flow::Continue
}

/// Which parts of each entry HKEYS, HVALS and HGETALL answer.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Parts {
    Fields,
    Values,
    Both,
}

/// Answers every entry of the hash at `key`: fields, values, or both (a map in RESP3, a flat
/// array in RESP2, as HGETALL).
fn all_entries(ctx: &mut Ctx<'_>, key: &[u8], parts: Parts) -> Flow {
    with_hash(ctx, key, |ctx, hash| {
        let mut reply = ctx.reply();
        match parts {
            Parts::Both => reply.map(hash.len()),
            Parts::Fields | Parts::Values => reply.array(hash.len()),
        }
        for (field, value) in hash.iter() {
            if parts != Parts::Values {
                reply.bulk(field);
            }
            if parts != Parts::Fields {
                reply.bulk(value);
            }
        }
    });
    Flow::Continue
}

/// HKEYS key
pub fn hkeys(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Flow {
    all_entries(ctx, &args[1], Parts::Fields)
}

/// HVALS key
pub fn hvals(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Flow {
    all_entries(ctx, &args[1], Parts::Values)
}

/// HGETALL key: a map in RESP3, a flat array of fields and values in RESP2.
pub fn hgetall(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Flow {
    all_entries(ctx, &args[1], Parts::Both)
}

/// A field's change: its current value (`None` when missing) to its new value and the answer,
/// or an error text.
type FieldStep<'a, T> = &'a dyn Fn(Option<&[u8]>) -> Result<(Vec<u8>, T), &'static str>;

/// Changes one field of the hash at `args[1]` (`args[2]`) by `step`, which gets the field's
/// current value (`None` when missing) and returns the new value and the answer, or an error
/// text; the outcome, `None` once an error has been replied.
fn change_field<T>(
    ctx: &mut Ctx<'_>,
    args: &[Bytes],
    step: FieldStep<'_, T>,
) -> Option<Result<T, &'static str>> {
    let field = &args[2];
    // A number's text is at most 40 bytes more than nothing.
    let grow = growth(&args[2..3]) + 40;
    let outcome = collection::write(ctx, &args[1], Kind::Hash, true, grow, &mut |body| {
        let hash = hash_mut(body);
        match step(hash.get(field)) {
            Ok((new, answer)) => {
                hash.set(field, &new);
                (Ok(answer), true)
            }
            Err(text) => (Err(text), false),
        }
    });
    match outcome {
        Ok(Some(Err(text))) => {
            ctx.error(text);
            None
        }
        Ok(answer) => answer,
        Err(()) => None,
    }
}

/// HINCRBY key field increment
pub fn hincrby(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Flow {
    let Some(delta) = parse_i64(&args[3]) else {
        ctx.error(errors::NOT_INTEGER);
        return Flow::Continue;
    };
    let step = |current: Option<&[u8]>| {
        let base = match current.map(parse_i64) {
            None => 0,
            Some(Some(n)) => n,
            Some(None) => return Err(NOT_INTEGER_VALUE),
        };
        let n = base.checked_add(delta).ok_or(errors::OVERFLOW)?;
        Ok((itoa::Buffer::new().format(n).as_bytes().to_vec(), n))
    };
    if let Some(Ok(n)) = change_field(ctx, args, &step) {
        ctx.reply().int(n);
    }
    Flow::Continue
}

/// HINCRBYFLOAT key field increment
pub fn hincrbyfloat(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Flow {
    let Some(delta) = parse_f64(&args[3]) else {
        ctx.error(errors::NOT_FLOAT);
        return Flow::Continue;
    };
    if !delta.is_finite() {
        ctx.error("ERR value is NaN or Infinity");
        return Flow::Continue;
    }
    let step = |current: Option<&[u8]>| {
        let base = match current.map(parse_f64) {
            None => 0.0,
            Some(Some(n)) => n,
            Some(None) => return Err(NOT_FLOAT_VALUE),
        };
        let sum = base + delta;
        if !sum.is_finite() {
            return Err("ERR increment would produce NaN or Infinity");
        }
        let text = format_double(sum);
        Ok((text.clone().into_bytes(), text))
    };
    if let Some(Ok(text)) = change_field(ctx, args, &step) {
        ctx.reply().bulk(text.as_bytes());
    }
    Flow::Continue
}

/// HRANDFIELD key [count [WITHVALUES]]
pub fn hrandfield(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Flow {
    let Some((count, with_values)) = collection::random_args(ctx, args, "WITHVALUES") else {
        return Flow::Continue;
    };
    let Some(count) = count else {
        with_hash(ctx, &args[1], |ctx, hash| match hash.pick(rand::random()) {
            Some((field, _)) => ctx.reply().bulk(field),
            None => ctx.reply().null(),
        });
        return Flow::Continue;
    };
    with_hash(ctx, &args[1], |ctx, hash| {
        let (n, picks) = collection::random_picks(
            hash.len(),
            count,
            || hash.iter().collect(),
            |random| hash.pick(random),
        );
        collection::reply_pairs(ctx, n, picks, with_values, |reply, value| reply.bulk(value));
    });
    Flow::Continue
}

/// HSCAN key cursor [MATCH pattern] [COUNT count]
pub fn hscan(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Flow {
    collection::scan(ctx, args, Kind::Hash, |body, cursor, count, visit| {
        body.as_hash().map_or(0, |hash| {
            hash.scan(cursor, count, &mut |field, value| visit(field, Some(value)))
        })
    });
    Flow::Continue
}
