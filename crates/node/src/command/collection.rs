//! What every collection command shares: finding a key's collection of the right kind (or
//! answering WRONGTYPE), and changing one in place under the key's lock.

use bytes::Bytes;
use cachering_proto::{Protocol, ReplyWriter};

use super::args::{glob_match, is, parse_i64};
use super::keys::{reply_scan, scan_cursor, scan_options, ScanOptions};
use super::{errors, Ctx};
use crate::store::{Change, Value, NO_DEADLINE};
use crate::types::{Body, Hash, Kind, List, Set, ZSet};

/// Why a body can be taken as the type a command works on: every command reads or writes it
/// through [`read`], [`with`] or [`write`], which check the key's kind first.
pub const KIND_CHECKED: &str = "the key's kind is checked before its body is used";

/// Bytes a new element is charged at most beyond its own (encoding, table slot, allocation
/// rounding): what a write checks against the largest entry before it changes anything.
pub const ELEMENT_OVERHEAD: u64 = 64;

/// An empty collection of `kind`.
fn empty(kind: Kind) -> Body {
    match kind {
        Kind::Hash => Body::Hash(Hash::new()),
        Kind::Set => Body::Set(Set::new()),
        Kind::SortedSet => Body::SortedSet(ZSet::new()),
        Kind::List => Body::List(List::new()),
    }
}

/// The live collection of `kind` at `key`, counted as a hit or a miss: `Ok(None)` if the key
/// is missing, `Err(())` once WRONGTYPE has been replied.
pub fn read(ctx: &mut Ctx<'_>, key: &[u8], kind: Kind) -> Result<Option<Value>, ()> {
    let value = ctx.node.store.get(key, ctx.now);
    match value {
        None => {
            ctx.count_read(false);
            Ok(None)
        }
        Some(value) if value.kind() == Some(kind) => {
            ctx.count_read(true);
            Ok(Some(value))
        }
        Some(_) => {
            ctx.error(errors::WRONGTYPE);
            Err(())
        }
    }
}

/// Changes the collection of `kind` at `key` in place with `change`, which returns its answer
/// and whether it changed anything. A missing key is created (when `create`) from an empty
/// collection, and a collection left empty is deleted, as in Redis. `grow` is the most the
/// change can add (its arguments' bytes and [`ELEMENT_OVERHEAD`] per element): a change that
/// could push the entry past the largest the store holds is refused before it runs.
///
/// `Ok(None)`: the key was missing and not created. `Err(())`: an error (WRONGTYPE, OOM) has
/// been replied.
pub fn write<T>(
    ctx: &mut Ctx<'_>,
    key: &[u8],
    kind: Kind,
    create: bool,
    grow: u64,
    change: &mut dyn FnMut(&mut Body) -> (T, bool),
) -> Result<Option<T>, ()> {
    let max = ctx.node.store.max_entry();
    let mut answer = None;
    let mut wrong_type = false;
    let mut too_large = false;
    let written = ctx.write(key, &mut |live| {
        answer = None;
        wrong_type = false;
        too_large = false;
        let Some(value) = live else {
            if !create {
                return Change::Keep;
            }
            let mut body = empty(kind);
            let (out, _) = change(&mut body);
            answer = Some(out);
            return if body.is_empty() {
                Change::Keep
            } else {
                Change::Put(Value::collection(body, NO_DEADLINE))
            };
        };
        let Some(collection) = value.as_collection().filter(|c| c.kind() == kind) else {
            wrong_type = true;
            return Change::Keep;
        };
        if grow > 0 && key.len() as u64 + collection.weight() + grow > max {
            too_large = true;
            return Change::Keep;
        }
        let (out, changed, empty) = collection.write(|body| {
            let (out, changed) = change(body);
            (out, changed, body.is_empty())
        });
        answer = Some(out);
        if empty {
            Change::Remove
        } else if changed {
            // The same collection, changed in place: put back so the engine re-weighs it and
            // the node stamps the write's version.
            Change::Put(value.clone())
        } else {
            Change::Keep
        }
    });
    if let Err(e) = written {
        ctx.store_error(&e);
        return Err(());
    }
    if wrong_type {
        ctx.error(errors::WRONGTYPE);
        return Err(());
    }
    if too_large {
        ctx.error(errors::OOM);
        return Err(());
    }
    if kind == Kind::List {
        // Clients blocked in BLPOP and its kin look again.
        ctx.node.lists_changed.notify_waiters();
    }
    Ok(answer)
}

/// What adding these arguments as elements can cost at most (see [`write`]'s `grow`).
pub fn growth(elements: &[bytes::Bytes]) -> u64 {
    elements
        .iter()
        .map(|element| element.len() as u64 + ELEMENT_OVERHEAD)
        .sum()
}

/// Runs `answer` over the collection of `kind` at `key` seen through `project` (its body as
/// the type the command works on), or over an empty one when the key is missing; nothing after
/// WRONGTYPE.
pub fn with<T: Default>(
    ctx: &mut Ctx<'_>,
    key: &[u8],
    kind: Kind,
    project: fn(&Body) -> Option<&T>,
    answer: impl FnOnce(&mut Ctx<'_>, &T),
) {
    let Ok(value) = read(ctx, key, kind) else {
        return;
    };
    match value.as_ref().and_then(|value| value.as_collection()) {
        Some(found) => {
            let body = found.read();
            match project(&body) {
                Some(contents) => answer(ctx, contents),
                None => answer(ctx, &T::default()),
            }
        }
        None => answer(ctx, &T::default()),
    }
}

/// A walk of HSCAN or SSCAN over a body: from a cursor, about `count` elements, each given to
/// the visitor with its value (a hash's) or none (a set's); the next cursor.
pub type Walk = fn(&Body, u64, usize, &mut dyn FnMut(&[u8], Option<&[u8]>)) -> u64;

/// HSCAN and SSCAN: `key cursor [MATCH pattern] [COUNT count]` over the collection of `kind`,
/// answering the next cursor and the elements (with their values, for a hash) that match.
pub fn scan(ctx: &mut Ctx<'_>, args: &[bytes::Bytes], kind: Kind, walk: Walk) {
    let Some(cursor) = scan_cursor(ctx, &args[2]) else {
        return;
    };
    let Ok(value) = read(ctx, &args[1], kind) else {
        return;
    };
    let Some(ScanOptions { pattern, count, .. }) = scan_options(ctx, args, 3, false) else {
        return;
    };
    let mut found: Vec<Vec<u8>> = Vec::new();
    let next = match value.as_ref().and_then(|value| value.as_collection()) {
        None => 0,
        Some(collection) => walk(&collection.read(), cursor, count, &mut |element, value| {
            if pattern.is_none_or(|pattern| glob_match(pattern, element)) {
                found.push(element.to_vec());
                found.extend(value.map(<[u8]>::to_vec));
            }
        }),
    };
    reply_scan(ctx, next, &found);
}

/// The `count [WITHVALUES|WITHSCORES]` after the key of HRANDFIELD and ZRANDMEMBER (`with`
/// names the option): the count, if given, and whether the option is; `None` after replying
/// the error.
pub fn random_args(ctx: &mut Ctx<'_>, args: &[Bytes], with: &str) -> Option<(Option<i64>, bool)> {
    if args.len() == 2 {
        return Some((None, false));
    }
    let Some(count) = parse_i64(&args[2]) else {
        ctx.error(errors::NOT_INTEGER);
        return None;
    };
    let wanted = match args.get(3) {
        None => false,
        Some(arg) if args.len() == 4 && is(arg, with) => true,
        Some(_) => {
            ctx.error(errors::SYNTAX);
            return None;
        }
    };
    // Redis's bound: a negative count's size must fit, doubled for the pairs.
    if !(-(i64::MAX / 2)..=i64::MAX / 2).contains(&count) {
        ctx.error("ERR value is out of range");
        return None;
    }
    Some((Some(count), wanted))
}

/// Writes `n` elements as HRANDFIELD and ZRANDMEMBER (and the sorted-set ranges) answer them:
/// each element's first part, or with `both` its two parts, as (first, second) pairs in RESP3
/// and one flat array in RESP2; `second` writes a second part. Stops once the connection's
/// output passes its limit (the connection then closes).
pub fn reply_pairs<'a, T>(
    ctx: &mut Ctx<'_>,
    n: usize,
    elements: impl Iterator<Item = (&'a [u8], T)>,
    both: bool,
    second: impl Fn(&mut ReplyWriter<'_>, T),
) {
    let pairs = both && ctx.protocol == Protocol::Resp3;
    let limit = ctx.output_limit;
    let mut reply = ctx.reply();
    reply.array(if both && !pairs { n * 2 } else { n });
    for (first, rest) in elements {
        if reply.len() > limit {
            break;
        }
        if pairs {
            reply.array(2);
        }
        reply.bulk(first);
        if both {
            second(&mut reply, rest);
        }
    }
}

/// HRANDFIELD's, SRANDMEMBER's and ZRANDMEMBER's choice among `len` elements: `count`
/// distinct ones (all of them, in the collection's order, when there are no more), or for a
/// negative count that many picks that may repeat. `all` lists the elements; `pick` chooses
/// one by a random number. The number of picks, and the picks: repeated ones are drawn as
/// they are written, so a reply of 2^62 picks costs no memory before it is cut off at the
/// connection's output limit ([`Ctx::output_limit`]).
pub fn random_picks<'a, T: 'a>(
    len: usize,
    count: i64,
    all: impl FnOnce() -> Vec<T>,
    pick: impl Fn(u64) -> Option<T> + 'a,
) -> (usize, Box<dyn Iterator<Item = T> + 'a>) {
    if len == 0 || count == 0 {
        return (0, Box::new(std::iter::empty()));
    }
    if count < 0 {
        let n = count.unsigned_abs() as usize;
        return (
            n,
            Box::new((0..n).filter_map(move |_| pick(rand::random()))),
        );
    }
    let mut all = all();
    if count as u64 >= all.len() as u64 {
        return (all.len(), Box::new(all.into_iter()));
    }
    let wanted = count as usize;
    // A partial Fisher-Yates shuffle: the first `wanted` are a uniform choice.
    for i in 0..wanted {
        let j = rand::random_range(i..all.len());
        all.swap(i, j);
    }
    all.truncate(wanted);
    (wanted, Box::new(all.into_iter()))
}
