//! List commands: LPUSH, RPUSH, LPUSHX, RPUSHX, LPOP and RPOP (with a count), LLEN, LRANGE,
//! LINDEX, LSET, LINSERT, LREM, LTRIM, LPOS, LMOVE, RPOPLPUSH and LMPOP, with Redis 7.0's
//! replies (RESP2's null array where Redis answers one) and error texts.

use bytes::Bytes;

use super::args::{is, parse_f64, parse_i64};
use super::collection::{self, growth};
use super::{errors, Ctx, Flow};
use crate::types::{Body, Kind, List};

const POSITIVE: &str = "ERR value is out of range, must be positive";

fn list_mut(body: &mut Body) -> &mut List {
    body.as_list_mut().expect(collection::KIND_CHECKED)
}

fn list_of(body: &Body) -> &List {
    body.as_list().expect(collection::KIND_CHECKED)
}

/// Runs `answer` over the list at `key`, or over an empty one when the key is missing;
/// nothing after WRONGTYPE.
fn with_list(ctx: &mut Ctx<'_>, key: &[u8], answer: impl FnOnce(&mut Ctx<'_>, &List)) {
    collection::with(ctx, key, Kind::List, Body::as_list, answer);
}

/// Which end of a list.
#[derive(Clone, Copy, PartialEq, Eq)]
enum End {
    Left,
    Right,
}

fn end_arg(arg: &[u8]) -> Option<End> {
    if is(arg, "LEFT") {
        Some(End::Left)
    } else if is(arg, "RIGHT") {
        Some(End::Right)
    } else {
        None
    }
}

fn pop_end(list: &mut List, end: End) -> Option<Vec<u8>> {
    match end {
        End::Left => list.pop_front(),
        End::Right => list.pop_back(),
    }
}

fn push_end(list: &mut List, end: End, element: &[u8]) {
    match end {
        End::Left => list.push_front(element),
        End::Right => list.push_back(element),
    }
}

/// LPUSH, RPUSH and their X forms: the list's length after, 0 for a missing key (X forms).
fn push(ctx: &mut Ctx<'_>, args: &[Bytes], end: End, create: bool) -> Flow {
    let elements = &args[2..];
    let written = collection::write(
        ctx,
        &args[1],
        Kind::List,
        create,
        growth(elements),
        &mut |body| {
            let list = list_mut(body);
            for element in elements {
                push_end(list, end, element);
            }
            (list.len() as i64, true)
        },
    );
    if let Ok(len) = written {
        ctx.reply().int(len.unwrap_or(0));
    }
    Flow::Continue
}

/// LPUSH key element [element ...]
pub fn lpush(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Flow {
    push(ctx, args, End::Left, true)
}

/// RPUSH key element [element ...]
pub fn rpush(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Flow {
    push(ctx, args, End::Right, true)
}

/// LPUSHX key element [element ...]
pub fn lpushx(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Flow {
    push(ctx, args, End::Left, false)
}

/// RPUSHX key element [element ...]
pub fn rpushx(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Flow {
    push(ctx, args, End::Right, false)
}

/// Pops up to `count` elements from `end` of the list at `key`; `Ok(None)` for a missing key.
fn pop_some(
    ctx: &mut Ctx<'_>,
    key: &[u8],
    end: End,
    count: usize,
) -> Result<Option<Vec<Vec<u8>>>, ()> {
    collection::write(ctx, key, Kind::List, false, 0, &mut |body| {
        let list = list_mut(body);
        let popped: Vec<Vec<u8>> = (0..count).map_while(|_| pop_end(list, end)).collect();
        let changed = !popped.is_empty();
        (popped, changed)
    })
}

/// LPOP and RPOP: one element (or nil), or with a count an array (RESP2's null array for a
/// missing key).
fn pop(ctx: &mut Ctx<'_>, args: &[Bytes], end: End) -> Flow {
    if args.len() > 3 {
        let name = String::from_utf8_lossy(&args[0]).to_lowercase();
        ctx.wrong_arity(&name);
        return Flow::Continue;
    }
    let count = match args.get(2) {
        None => None,
        Some(arg) => match parse_i64(arg).filter(|n| *n >= 0) {
            Some(n) => Some(n as usize),
            None => {
                ctx.error(POSITIVE);
                return Flow::Continue;
            }
        },
    };
    let Ok(popped) = pop_some(ctx, &args[1], end, count.unwrap_or(1)) else {
        return Flow::Continue;
    };
    let mut reply = ctx.reply();
    match (count, popped) {
        (None, Some(popped)) => match popped.first() {
            Some(element) => reply.bulk(element),
            None => reply.null(),
        },
        (None, None) => reply.null(),
        (Some(_), None) => reply.null_array(),
        (Some(_), Some(popped)) => {
            reply.array(popped.len());
            for element in &popped {
                reply.bulk(element);
            }
        }
    }
    Flow::Continue
}

/// LPOP key [count]
pub fn lpop(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Flow {
    pop(ctx, args, End::Left)
}

/// RPOP key [count]
pub fn rpop(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Flow {
    pop(ctx, args, End::Right)
}

/// LLEN key
pub fn llen(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Flow {
    with_list(ctx, &args[1], |ctx, list| {
        ctx.reply().int(list.len() as i64)
    });
    Flow::Continue
}

/// Positions `start..end` of a list of `len` for Redis's `start stop` (negative from the end,
/// both included); `None` when they select nothing.
fn span(start: i64, stop: i64, len: usize) -> Option<(usize, usize)> {
    let len = len as i64;
    let start = if start < 0 { len + start } else { start }.max(0);
    let stop = if stop < 0 { len + stop } else { stop };
    if start > stop || start >= len {
        return None;
    }
    Some((start as usize, stop.min(len - 1) as usize + 1))
}

/// A position counted from the end when negative.
fn index(index: i64, len: usize) -> Option<usize> {
    let at = if index < 0 { len as i64 + index } else { index };
    (0..len as i64).contains(&at).then_some(at as usize)
}

/// LRANGE key start stop
pub fn lrange(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Flow {
    let (Some(start), Some(stop)) = (parse_i64(&args[2]), parse_i64(&args[3])) else {
        ctx.error(errors::NOT_INTEGER);
        return Flow::Continue;
    };
    with_list(ctx, &args[1], |ctx, list| {
        let (from, to) = span(start, stop, list.len()).unwrap_or((0, 0));
        let mut reply = ctx.reply();
        reply.array(to - from);
        for element in list.range(from, to) {
            reply.bulk(element);
        }
    });
    Flow::Continue
}

/// LINDEX key index: nil for a missing key before the index is read, as in Redis.
pub fn lindex(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Flow {
    let Ok(value) = collection::read(ctx, &args[1], Kind::List) else {
        return Flow::Continue;
    };
    let Some(found) = value.as_ref().and_then(|v| v.as_collection()) else {
        ctx.reply().null();
        return Flow::Continue;
    };
    let Some(at) = parse_i64(&args[2]) else {
        ctx.error(errors::NOT_INTEGER);
        return Flow::Continue;
    };
    let body = found.read();
    let list = list_of(&body);
    match index(at, list.len()).and_then(|i| list.get(i)) {
        Some(element) => ctx.reply().bulk(element),
        None => ctx.reply().null(),
    }
    Flow::Continue
}

/// LSET key index element
pub fn lset(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Flow {
    // Redis looks the key up first: a missing key is its error whatever the index.
    let Ok(value) = collection::read(ctx, &args[1], Kind::List) else {
        return Flow::Continue;
    };
    if value.is_none() {
        ctx.error("ERR no such key");
        return Flow::Continue;
    }
    let Some(at) = parse_i64(&args[2]) else {
        ctx.error(errors::NOT_INTEGER);
        return Flow::Continue;
    };
    let element = &args[3];
    let written = collection::write(
        ctx,
        &args[1],
        Kind::List,
        false,
        growth(&args[3..4]),
        &mut |body| {
            let list = list_mut(body);
            match index(at, list.len()) {
                Some(i) => (list.set(i, element), true),
                None => (false, false),
            }
        },
    );
    match written {
        Err(()) => {}
        Ok(None) => ctx.error("ERR no such key"),
        Ok(Some(true)) => ctx.reply().ok(),
        Ok(Some(false)) => ctx.error("ERR index out of range"),
    }
    Flow::Continue
}

/// LINSERT key BEFORE|AFTER pivot element: the length after, -1 without the pivot, 0 for a
/// missing key.
pub fn linsert(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Flow {
    let after = if is(&args[2], "BEFORE") {
        false
    } else if is(&args[2], "AFTER") {
        true
    } else {
        ctx.error(errors::SYNTAX);
        return Flow::Continue;
    };
    let (pivot, element) = (&args[3], &args[4]);
    let written = collection::write(
        ctx,
        &args[1],
        Kind::List,
        false,
        growth(&args[4..5]),
        &mut |body| {
            let list = list_mut(body);
            let found = list.iter().position(|e| e == &pivot[..]);
            match found {
                Some(at) => {
                    list.insert(at + usize::from(after), element);
                    (list.len() as i64, true)
                }
                None => (-1, false),
            }
        },
    );
    if let Ok(len) = written {
        ctx.reply().int(len.unwrap_or(0));
    }
    Flow::Continue
}

/// LREM key count element: removes up to `count` matches from the head (from the tail for a
/// negative count, all for 0); how many.
pub fn lrem(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Flow {
    let Some(count) = parse_i64(&args[2]) else {
        ctx.error(errors::NOT_INTEGER);
        return Flow::Continue;
    };
    let element = &args[3];
    let removed = collection::write(ctx, &args[1], Kind::List, false, 0, &mut |body| {
        let list = list_mut(body);
        let mut matches: Vec<usize> = list
            .iter()
            .enumerate()
            .filter(|(_, e)| *e == &element[..])
            .map(|(i, _)| i)
            .collect();
        let limit = if count == 0 {
            matches.len()
        } else {
            count.unsigned_abs().min(matches.len() as u64) as usize
        };
        if count < 0 {
            matches.drain(..matches.len() - limit);
        } else {
            matches.truncate(limit);
        }
        // From the tail, so earlier positions stay valid.
        for at in matches.iter().rev() {
            list.remove(*at);
        }
        (matches.len() as i64, !matches.is_empty())
    });
    if let Ok(removed) = removed {
        ctx.reply().int(removed.unwrap_or(0));
    }
    Flow::Continue
}

/// LTRIM key start stop: keeps only that range (deleting the key when it is empty).
pub fn ltrim(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Flow {
    let (Some(start), Some(stop)) = (parse_i64(&args[2]), parse_i64(&args[3])) else {
        ctx.error(errors::NOT_INTEGER);
        return Flow::Continue;
    };
    let trimmed = collection::write(ctx, &args[1], Kind::List, false, 0, &mut |body| {
        let list = list_mut(body);
        let len = list.len();
        match span(start, stop, len) {
            Some((from, to)) if (from, to) == (0, len) => ((), false),
            Some((from, to)) => {
                list.keep(from, to);
                ((), true)
            }
            None => {
                list.keep(0, 0);
                ((), true)
            }
        }
    });
    if trimmed.is_ok() {
        ctx.reply().ok();
    }
    Flow::Continue
}

/// LPOS key element [RANK rank] [COUNT num-matches] [MAXLEN len]
pub fn lpos(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Flow {
    let (mut rank, mut count, mut maxlen) = (1i64, None::<u64>, 0u64);
    let mut i = 3;
    while i < args.len() {
        if i + 1 >= args.len() {
            ctx.error(errors::SYNTAX);
            return Flow::Continue;
        }
        let value = &args[i + 1];
        if is(&args[i], "RANK") {
            match parse_i64(value) {
                Some(0) => {
                    ctx.error("ERR RANK can't be zero: use 1 to start from the first match, 2 from the second ... or use negative to start from the end of the list");
                    return Flow::Continue;
                }
                Some(n) => rank = n,
                None => {
                    ctx.error(errors::NOT_INTEGER);
                    return Flow::Continue;
                }
            }
        } else if is(&args[i], "COUNT") {
            match parse_i64(value).filter(|n| *n >= 0) {
                Some(n) => count = Some(n as u64),
                None => {
                    ctx.error("ERR COUNT can't be negative");
                    return Flow::Continue;
                }
            }
        } else if is(&args[i], "MAXLEN") {
            match parse_i64(value).filter(|n| *n >= 0) {
                Some(n) => maxlen = n as u64,
                None => {
                    ctx.error("ERR MAXLEN can't be negative");
                    return Flow::Continue;
                }
            }
        } else {
            ctx.error(errors::SYNTAX);
            return Flow::Continue;
        }
        i += 2;
    }
    let element = &args[2];
    with_list(ctx, &args[1], |ctx, list| {
        let len = list.len();
        let compared = if maxlen == 0 {
            len
        } else {
            (maxlen.min(len as u64)) as usize
        };
        let wanted = match count {
            None => 1,
            Some(0) => usize::MAX,
            Some(n) => n.min(len as u64) as usize,
        };
        let skip = (rank.unsigned_abs() - 1).min(len as u64) as usize;
        let found: Vec<usize> = if rank > 0 {
            list.iter()
                .take(compared)
                .enumerate()
                .filter(|(_, e)| *e == &element[..])
                .map(|(i, _)| i)
                .skip(skip)
                .take(wanted)
                .collect()
        } else {
            let tail: Vec<&[u8]> = list.range(len - compared, len).collect();
            tail.iter()
                .enumerate()
                .rev()
                .filter(|(_, e)| **e == &element[..])
                .map(|(i, _)| len - compared + i)
                .skip(skip)
                .take(wanted)
                .collect()
        };
        let mut reply = ctx.reply();
        match count {
            None => match found.first() {
                Some(at) => reply.int(*at as i64),
                None => reply.null(),
            },
            Some(_) => {
                reply.array(found.len());
                for at in found {
                    reply.int(at as i64);
                }
            }
        }
    });
    Flow::Continue
}

/// Moves one element from `from`'s end of `source` to `to`'s end of `destination`; replies
/// it, or nil when the source is missing. Both keys' types are checked first (the
/// destination only when the source exists, as in Redis).
fn move_one(ctx: &mut Ctx<'_>, source: &[u8], destination: &[u8], from: End, to: End) {
    let Ok(found) = collection::read(ctx, source, Kind::List) else {
        return;
    };
    if found.is_none() {
        ctx.reply().null();
        return;
    }
    if source == destination {
        let rotated = collection::write(ctx, source, Kind::List, false, 0, &mut |body| {
            let list = list_mut(body);
            let element = pop_end(list, from);
            if let Some(element) = &element {
                push_end(list, to, element);
            }
            (element, true)
        });
        match rotated {
            Err(()) => {}
            Ok(Some(Some(element))) => ctx.reply().bulk(&element),
            Ok(_) => ctx.reply().null(),
        }
        return;
    }
    if collection::read(ctx, destination, Kind::List).is_err() {
        return;
    }
    let popped = match pop_some(ctx, source, from, 1) {
        Err(()) => return,
        Ok(popped) => popped.and_then(|mut p| p.pop()),
    };
    let Some(element) = popped else {
        ctx.reply().null();
        return;
    };
    let grow = element.len() as u64 + collection::ELEMENT_OVERHEAD;
    if collection::write(ctx, destination, Kind::List, true, grow, &mut |body| {
        push_end(list_mut(body), to, &element);
        ((), true)
    })
    .is_ok()
    {
        ctx.reply().bulk(&element);
    }
}

/// LMOVE source destination LEFT|RIGHT LEFT|RIGHT
pub fn lmove(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Flow {
    let (Some(from), Some(to)) = (end_arg(&args[3]), end_arg(&args[4])) else {
        ctx.error(errors::SYNTAX);
        return Flow::Continue;
    };
    move_one(ctx, &args[1], &args[2], from, to);
    Flow::Continue
}

/// RPOPLPUSH source destination
pub fn rpoplpush(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Flow {
    move_one(ctx, &args[1], &args[2], End::Right, End::Left);
    Flow::Continue
}

/// LMPOP numkeys key [key ...] LEFT|RIGHT [COUNT count]: pops from the first non-empty list
/// of the keys; `[key, [elements]]`, or RESP2's null array when every list is empty.
pub fn lmpop(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Flow {
    if mpop(ctx, args, 1) == Some(false) {
        ctx.reply().null_array();
    }
    Flow::Continue
}

/// LMPOP's work from its `numkeys` argument at `at`: `Some(true)` if it popped and replied,
/// `Some(false)` if every list was empty (nothing replied), `None` after an error reply.
fn mpop(ctx: &mut Ctx<'_>, args: &[Bytes], at: usize) -> Option<bool> {
    let numkeys = parse_i64(&args[at]).filter(|n| *n > 0);
    let Some(numkeys) = numkeys else {
        ctx.error("ERR numkeys should be greater than 0");
        return None;
    };
    let where_at = (at as u64 + 1).saturating_add(numkeys as u64);
    let Some(end) = args
        .get(usize::try_from(where_at).unwrap_or(usize::MAX))
        .and_then(|arg| end_arg(arg))
    else {
        ctx.error(errors::SYNTAX);
        return None;
    };
    let where_at = where_at as usize;
    let mut count = 1usize;
    match &args[where_at + 1..] {
        [] => {}
        [word, n] if is(word, "COUNT") => match parse_i64(n).filter(|n| *n > 0) {
            Some(n) => count = n as usize,
            None => {
                ctx.error("ERR count should be greater than 0");
                return None;
            }
        },
        _ => {
            ctx.error(errors::SYNTAX);
            return None;
        }
    }
    for key in &args[at + 1..where_at] {
        let found = collection::read(ctx, key, Kind::List).ok()?;
        if found.is_none() {
            continue;
        }
        let popped = pop_some(ctx, key, end, count).ok()?.unwrap_or_default();
        let mut reply = ctx.reply();
        reply.array(2);
        reply.bulk(key);
        reply.array(popped.len());
        for element in &popped {
            reply.bulk(element);
        }
        return Some(true);
    }
    Some(false)
}

/// A blocking command's timeout in seconds (a float; 0 waits for ever): when the wait ends,
/// `None` for never; `Err` after replying the error.
fn block_deadline(ctx: &mut Ctx<'_>, arg: &[u8]) -> Result<Option<std::time::Instant>, ()> {
    let Some(seconds) = parse_f64(arg).filter(|s| s.is_finite()) else {
        ctx.error("ERR timeout is not a float or out of range");
        return Err(());
    };
    if seconds < 0.0 {
        ctx.error("ERR timeout is negative");
        return Err(());
    }
    if seconds == 0.0 {
        return Ok(None);
    }
    let wait = std::time::Duration::try_from_secs_f64(seconds).map_err(|_| {
        ctx.error("ERR timeout is out of range");
    })?;
    Ok(std::time::Instant::now().checked_add(wait))
}

/// After a blocking command found nothing: waits (the node runs it again when a list
/// changes, until `deadline`), or inside EXEC answers at once as its non-blocking form does
/// (the null array, or for a move the null bulk string), as Redis does.
fn wait_or_nil(ctx: &mut Ctx<'_>, deadline: Option<std::time::Instant>, moves: bool) {
    if ctx.may_block {
        ctx.blocked = Some(deadline);
    } else if moves {
        ctx.reply().null();
    } else {
        ctx.reply().null_array();
    }
}

/// BLPOP and BRPOP: `[key, element]` from the first non-empty list of the keys.
fn bpop(ctx: &mut Ctx<'_>, args: &[Bytes], end: End) -> Flow {
    let Ok(deadline) = block_deadline(ctx, &args[args.len() - 1]) else {
        return Flow::Continue;
    };
    for key in &args[1..args.len() - 1] {
        let Ok(found) = collection::read(ctx, key, Kind::List) else {
            return Flow::Continue;
        };
        if found.is_none() {
            continue;
        }
        let Ok(popped) = pop_some(ctx, key, end, 1) else {
            return Flow::Continue;
        };
        if let Some(element) = popped.and_then(|mut p| p.pop()) {
            let mut reply = ctx.reply();
            reply.array(2);
            reply.bulk(key);
            reply.bulk(&element);
            return Flow::Continue;
        }
    }
    wait_or_nil(ctx, deadline, false);
    Flow::Continue
}

/// BLPOP key [key ...] timeout
pub fn blpop(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Flow {
    bpop(ctx, args, End::Left)
}

/// BRPOP key [key ...] timeout
pub fn brpop(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Flow {
    bpop(ctx, args, End::Right)
}

/// BLMOVE and BRPOPLPUSH: LMOVE, waiting while the source is empty.
fn bmove(ctx: &mut Ctx<'_>, args: &[Bytes], from: End, to: End, timeout: &[u8]) {
    let Ok(deadline) = block_deadline(ctx, timeout) else {
        return;
    };
    let Ok(found) = collection::read(ctx, &args[1], Kind::List) else {
        return;
    };
    if found.is_none() {
        wait_or_nil(ctx, deadline, true);
        return;
    }
    move_one(ctx, &args[1], &args[2], from, to);
}

/// BLMOVE source destination LEFT|RIGHT LEFT|RIGHT timeout
pub fn blmove(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Flow {
    let (Some(from), Some(to)) = (end_arg(&args[3]), end_arg(&args[4])) else {
        ctx.error(errors::SYNTAX);
        return Flow::Continue;
    };
    bmove(ctx, args, from, to, &args[5]);
    Flow::Continue
}

/// BRPOPLPUSH source destination timeout
pub fn brpoplpush(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Flow {
    bmove(ctx, args, End::Right, End::Left, &args[3]);
    Flow::Continue
}

/// VWAIT timeout key [key ...]: waits as BLPOP does until one of the keys holds a value, then
/// answers `:1` and takes nothing (the null array on timeout). The client waits this way and
/// pops through its mutation route, so a wait it gives up (its node frozen or cut off) can
/// never take an element that no one receives. A key of another type answers at once: the pop
/// that follows gives the WRONGTYPE error BLPOP gives.
pub fn vwait(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Flow {
    let Ok(deadline) = block_deadline(ctx, &args[1]) else {
        return Flow::Continue;
    };
    if args[2..]
        .iter()
        .any(|key| ctx.node.store.get(key, ctx.now).is_some())
    {
        ctx.reply().int(1);
    } else {
        wait_or_nil(ctx, deadline, false);
    }
    Flow::Continue
}

/// BLMPOP timeout numkeys key [key ...] LEFT|RIGHT [COUNT count]
pub fn blmpop(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Flow {
    let Ok(deadline) = block_deadline(ctx, &args[1]) else {
        return Flow::Continue;
    };
    if mpop(ctx, args, 2) == Some(false) {
        wait_or_nil(ctx, deadline, false);
    }
    Flow::Continue
}
