//! Sorted-set commands: ZADD (every flag), ZINCRBY, ZSCORE, ZMSCORE, ZCARD, ZCOUNT, ZLEXCOUNT,
//! ZRANGE (BYSCORE, BYLEX, REV, LIMIT, WITHSCORES) and ZRANGESTORE, the older ZRANGEBYSCORE,
//! ZREVRANGEBYSCORE, ZRANGEBYLEX, ZREVRANGEBYLEX and ZREVRANGE, ZRANK, ZREVRANK, ZREM and
//! ZREMRANGEBY*, ZPOPMIN, ZPOPMAX, ZRANDMEMBER, ZSCAN, ZUNION, ZINTER, ZDIFF and their STORE
//! forms (WEIGHTS, AGGREGATE), ZINTERCARD; with Redis 7.0's replies (scores as `%.17g`,
//! doubles and pairs in RESP3) and error texts.

use bytes::Bytes;
use cachering_proto::format_score;

use super::args::{is, parse_f64, parse_i64};
use super::collection::{self, growth};
use super::{errors, Ctx, Flow};
use crate::store::{Value, NO_DEADLINE};
use crate::types::{Body, Kind, ZSet};

const SCORE_RANGE: &str = "ERR min or max is not a float";
const LEX_RANGE: &str = "ERR min or max not valid string range item";
const NAN_SCORE: &str = "ERR resulting score is not a number (NaN)";
const POSITIVE: &str = "ERR value is out of range, must be positive";

fn zset_of(body: &Body) -> &ZSet {
    body.as_zset().expect(collection::KIND_CHECKED)
}

fn zset_mut(body: &mut Body) -> &mut ZSet {
    body.as_zset_mut().expect(collection::KIND_CHECKED)
}

/// Runs `answer` over the sorted set at `key`, or over an empty one when the key is missing;
/// nothing after WRONGTYPE.
fn with_zset(ctx: &mut Ctx<'_>, key: &[u8], answer: impl FnOnce(&mut Ctx<'_>, &ZSet)) {
    collection::with(ctx, key, Kind::SortedSet, Body::as_zset, answer);
}

/// Writes members with their scores: flat in RESP2 (and in RESP3 without scores), as
/// (member, double) pairs in RESP3 with scores.
fn reply_entries(ctx: &mut Ctx<'_>, entries: &[(Vec<u8>, f64)], with_scores: bool) {
    let elements = entries.iter().map(|(member, score)| (&member[..], *score));
    collection::reply_pairs(ctx, entries.len(), elements, with_scores, |reply, score| {
        reply.score(score)
    });
}

/// ZADD's flags.
#[derive(Default, Clone, Copy)]
struct AddFlags {
    nx: bool,
    xx: bool,
    gt: bool,
    lt: bool,
    ch: bool,
    incr: bool,
}

/// What ZADD and ZINCRBY did to one member: its score after, or `None` when a flag kept it.
fn add_one(zset: &mut ZSet, member: &[u8], score: f64, flags: AddFlags) -> Result<AddOutcome, ()> {
    let current = zset.score(member);
    if (flags.nx && current.is_some()) || (flags.xx && current.is_none()) {
        return Ok(AddOutcome::Kept);
    }
    let new = match (flags.incr, current) {
        (true, Some(current)) => current + score,
        _ => score,
    };
    if new.is_nan() {
        return Err(());
    }
    if let Some(current) = current {
        if (flags.lt && new >= current) || (flags.gt && new <= current) {
            return Ok(AddOutcome::Kept);
        }
        if new == current {
            return Ok(AddOutcome::Same(new));
        }
    }
    let added = zset.insert(member, new);
    Ok(if added {
        AddOutcome::Added(new)
    } else {
        AddOutcome::Updated(new)
    })
}

#[derive(Clone, Copy)]
enum AddOutcome {
    Kept,
    Same(f64),
    Added(f64),
    Updated(f64),
}

/// ZADD key [NX|XX] [GT|LT] [CH] [INCR] score member [score member ...]
pub fn zadd(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Flow {
    let mut flags = AddFlags::default();
    let mut i = 2;
    while i < args.len() {
        let arg = &args[i];
        match () {
            _ if is(arg, "NX") => flags.nx = true,
            _ if is(arg, "XX") => flags.xx = true,
            _ if is(arg, "GT") => flags.gt = true,
            _ if is(arg, "LT") => flags.lt = true,
            _ if is(arg, "CH") => flags.ch = true,
            _ if is(arg, "INCR") => flags.incr = true,
            _ => break,
        }
        i += 1;
    }
    let elements = &args[i..];
    if elements.is_empty() || elements.len() % 2 != 0 {
        ctx.error(errors::SYNTAX);
        return Flow::Continue;
    }
    if flags.nx && flags.xx {
        ctx.error("ERR XX and NX options at the same time are not compatible");
        return Flow::Continue;
    }
    if [flags.gt, flags.lt, flags.nx]
        .iter()
        .filter(|on| **on)
        .count()
        > 1
    {
        ctx.error("ERR GT, LT, and/or NX options at the same time are not compatible");
        return Flow::Continue;
    }
    if flags.incr && elements.len() > 2 {
        ctx.error("ERR INCR option supports a single increment-element pair");
        return Flow::Continue;
    }
    let mut pairs = Vec::with_capacity(elements.len() / 2);
    for pair in elements.chunks(2) {
        let Some(score) = parse_f64(&pair[0]) else {
            ctx.error(errors::NOT_FLOAT);
            return Flow::Continue;
        };
        pairs.push((score, &pair[1]));
    }
    let members: Vec<Bytes> = pairs.iter().map(|(_, m)| (*m).clone()).collect();
    let written = collection::write(
        ctx,
        &args[1],
        Kind::SortedSet,
        !flags.xx,
        growth(&members),
        &mut |body| {
            let zset = zset_mut(body);
            let (mut added, mut updated) = (0, 0);
            let mut last = None;
            for (score, member) in &pairs {
                match add_one(zset, member, *score, flags) {
                    Err(()) => return (Err(()), added + updated > 0),
                    Ok(AddOutcome::Kept) => last = None,
                    Ok(AddOutcome::Same(score)) => last = Some(score),
                    Ok(AddOutcome::Added(score)) => {
                        added += 1;
                        last = Some(score);
                    }
                    Ok(AddOutcome::Updated(score)) => {
                        updated += 1;
                        last = Some(score);
                    }
                }
            }
            let count = if flags.ch { added + updated } else { added };
            (Ok((count, last)), added + updated > 0)
        },
    );
    match written {
        Err(()) => {}
        Ok(Some(Err(()))) => ctx.error(NAN_SCORE),
        Ok(None) if flags.incr => ctx.reply().null(),
        Ok(None) => ctx.reply().int(0),
        Ok(Some(Ok((_, last)))) if flags.incr => match last {
            Some(score) => ctx.reply().score(score),
            None => ctx.reply().null(),
        },
        Ok(Some(Ok((count, _)))) => ctx.reply().int(count),
    }
    Flow::Continue
}

/// ZINCRBY key increment member
pub fn zincrby(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Flow {
    let Some(delta) = parse_f64(&args[2]) else {
        ctx.error(errors::NOT_FLOAT);
        return Flow::Continue;
    };
    let member = &args[3];
    let flags = AddFlags {
        incr: true,
        ..AddFlags::default()
    };
    let written = collection::write(
        ctx,
        &args[1],
        Kind::SortedSet,
        true,
        growth(&args[3..4]),
        &mut |body| match add_one(zset_mut(body), member, delta, flags) {
            Ok(AddOutcome::Added(score) | AddOutcome::Updated(score)) => (Ok(score), true),
            Ok(AddOutcome::Same(score)) => (Ok(score), false),
            Ok(AddOutcome::Kept) | Err(()) => (Err(()), false),
        },
    );
    match written {
        Err(()) => {}
        Ok(Some(Ok(score))) => ctx.reply().score(score),
        Ok(_) => ctx.error(NAN_SCORE),
    }
    Flow::Continue
}

/// ZSCORE key member
pub fn zscore(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Flow {
    with_zset(ctx, &args[1], |ctx, zset| match zset.score(&args[2]) {
        Some(score) => ctx.reply().score(score),
        None => ctx.reply().null(),
    });
    Flow::Continue
}

/// ZMSCORE key member [member ...]
pub fn zmscore(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Flow {
    with_zset(ctx, &args[1], |ctx, zset| {
        let mut reply = ctx.reply();
        reply.array(args.len() - 2);
        for member in &args[2..] {
            match zset.score(member) {
                Some(score) => reply.score(score),
                None => reply.null(),
            }
        }
    });
    Flow::Continue
}

/// ZCARD key
pub fn zcard(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Flow {
    with_zset(ctx, &args[1], |ctx, zset| {
        ctx.reply().int(zset.len() as i64)
    });
    Flow::Continue
}

/// A score bound: `5`, `(5` (exclusive), `-inf`, `+inf`.
#[derive(Clone, Copy)]
struct ScoreBound {
    score: f64,
    exclusive: bool,
}

fn score_bound(arg: &[u8]) -> Option<ScoreBound> {
    let (exclusive, text) = match arg.strip_prefix(b"(") {
        Some(rest) => (true, rest),
        None => (false, arg),
    };
    Some(ScoreBound {
        score: parse_f64(text)?,
        exclusive,
    })
}

/// A lexicographic bound: `[a` (inclusive), `(a` (exclusive), `-` (before all), `+` (after all).
#[derive(Clone)]
enum LexBound {
    Lowest,
    Highest,
    Inclusive(Vec<u8>),
    Exclusive(Vec<u8>),
}

fn lex_bound(arg: &[u8]) -> Option<LexBound> {
    match arg {
        b"-" => Some(LexBound::Lowest),
        b"+" => Some(LexBound::Highest),
        [b'[', rest @ ..] => Some(LexBound::Inclusive(rest.to_vec())),
        [b'(', rest @ ..] => Some(LexBound::Exclusive(rest.to_vec())),
        _ => None,
    }
}

/// Which members a range command selects: positions, or the members between two bounds.
#[derive(Clone)]
enum Span {
    Rank(i64, i64),
    Score(ScoreBound, ScoreBound),
    Lex(LexBound, LexBound),
}

impl Span {
    /// The positions `start..end` (ascending) the bounds select.
    fn positions(&self, zset: &ZSet) -> (usize, usize) {
        let len = zset.len();
        match self {
            Span::Rank(start, stop) => {
                let len = len as i64;
                let start = if *start < 0 { len + start } else { *start }.max(0);
                let stop = if *stop < 0 { len + stop } else { *stop };
                if start > stop || start >= len {
                    return (0, 0);
                }
                (start as usize, stop.min(len - 1) as usize + 1)
            }
            Span::Score(min, max) => {
                let start = zset.partition_point(|_, s| {
                    if min.exclusive {
                        s <= min.score
                    } else {
                        s < min.score
                    }
                });
                let end = zset.partition_point(|_, s| {
                    if max.exclusive {
                        s < max.score
                    } else {
                        s <= max.score
                    }
                });
                (start, end.max(start))
            }
            Span::Lex(min, max) => {
                let start = zset.partition_point(|m, _| match min {
                    LexBound::Lowest => false,
                    LexBound::Highest => true,
                    LexBound::Inclusive(x) => m < &x[..],
                    LexBound::Exclusive(x) => m <= &x[..],
                });
                let end = zset.partition_point(|m, _| match max {
                    LexBound::Lowest => false,
                    LexBound::Highest => true,
                    LexBound::Inclusive(x) => m <= &x[..],
                    LexBound::Exclusive(x) => m < &x[..],
                });
                (start, end.max(start))
            }
        }
    }
}

/// A range query: its span, its direction, its LIMIT (offset, count; a negative count means
/// all), whether scores are wanted.
#[derive(Clone)]
struct RangeQuery {
    span: Span,
    reverse: bool,
    offset: i64,
    limit: i64,
    with_scores: bool,
}

impl RangeQuery {
    /// The members and scores it selects, in its direction.
    fn select(&self, zset: &ZSet) -> Vec<(Vec<u8>, f64)> {
        let (start, end) = match (&self.span, self.reverse) {
            // A reversed rank range counts from the highest.
            (Span::Rank(..), true) => {
                let (start, end) = self.span.positions(zset);
                let len = zset.len();
                (len - end, len - start)
            }
            _ => self.span.positions(zset),
        };
        if self.offset < 0 {
            return Vec::new();
        }
        let skip = (self.offset as u64).min((end - start) as u64) as usize;
        let available = end - start - skip;
        let take = if self.limit < 0 {
            available
        } else {
            available.min(self.limit as usize)
        };
        let owned = |(m, s): (&[u8], f64)| (m.to_vec(), s);
        if self.reverse {
            let upper = end - skip;
            let mut out: Vec<_> = zset.range(upper - take, upper).map(owned).collect();
            out.reverse();
            out
        } else {
            let lower = start + skip;
            zset.range(lower, lower + take).map(owned).collect()
        }
    }
}

/// Which form of the range family a command is.
#[derive(Clone, Copy, PartialEq, Eq)]
enum RangeForm {
    /// ZRANGE and ZRANGESTORE: BYSCORE, BYLEX and REV are options.
    Range,
    ByScore,
    ByLex,
    Rank,
}

/// Parses `min max [options]` from `at` (the bounds first, options after); `None` after
/// replying the error.
fn parse_range(
    ctx: &mut Ctx<'_>,
    args: &[Bytes],
    at: usize,
    form: RangeForm,
    reverse: bool,
    store: bool,
) -> Option<RangeQuery> {
    let mut by_score = form == RangeForm::ByScore;
    let mut by_lex = form == RangeForm::ByLex;
    let mut reverse = reverse;
    let (mut offset, mut limit) = (0i64, -1i64);
    let mut has_limit = false;
    let mut with_scores = false;
    let mut i = at + 2;
    while i < args.len() {
        let arg = &args[i];
        let left = args.len() - i - 1;
        if is(arg, "WITHSCORES") && !store {
            with_scores = true;
        } else if is(arg, "LIMIT") && left >= 2 {
            let (Some(o), Some(l)) = (parse_i64(&args[i + 1]), parse_i64(&args[i + 2])) else {
                ctx.error(errors::NOT_INTEGER);
                return None;
            };
            (offset, limit, has_limit) = (o, l, true);
            i += 2;
        } else if form == RangeForm::Range && !reverse && is(arg, "REV") {
            reverse = true;
        } else if form == RangeForm::Range && !by_score && !by_lex && is(arg, "BYLEX") {
            by_lex = true;
        } else if form == RangeForm::Range && !by_score && !by_lex && is(arg, "BYSCORE") {
            by_score = true;
        } else {
            ctx.error(errors::SYNTAX);
            return None;
        }
        i += 1;
    }
    if with_scores && by_lex {
        ctx.error("ERR syntax error, WITHSCORES not supported in combination with BYLEX");
        return None;
    }
    if has_limit && !by_score && !by_lex {
        ctx.error(
            "ERR syntax error, LIMIT is only supported in combination with either BYSCORE or BYLEX",
        );
        return None;
    }
    // Reversed score and lex ranges name the highest bound first.
    let (low, high) = if reverse && (by_score || by_lex) {
        (&args[at + 1], &args[at])
    } else {
        (&args[at], &args[at + 1])
    };
    let span = if by_score {
        match (score_bound(low), score_bound(high)) {
            (Some(min), Some(max)) => Span::Score(min, max),
            _ => {
                ctx.error(SCORE_RANGE);
                return None;
            }
        }
    } else if by_lex {
        match (lex_bound(low), lex_bound(high)) {
            (Some(min), Some(max)) => Span::Lex(min, max),
            _ => {
                ctx.error(LEX_RANGE);
                return None;
            }
        }
    } else {
        match (parse_i64(low), parse_i64(high)) {
            (Some(start), Some(stop)) => Span::Rank(start, stop),
            _ => {
                ctx.error(errors::NOT_INTEGER);
                return None;
            }
        }
    };
    Some(RangeQuery {
        span,
        reverse,
        offset,
        limit,
        with_scores,
    })
}

fn range_reply(ctx: &mut Ctx<'_>, args: &[Bytes], form: RangeForm, reverse: bool) -> Flow {
    let Some(query) = parse_range(ctx, args, 2, form, reverse, false) else {
        return Flow::Continue;
    };
    with_zset(ctx, &args[1], |ctx, zset| {
        let entries = query.select(zset);
        reply_entries(ctx, &entries, query.with_scores);
    });
    Flow::Continue
}

/// ZRANGE key start stop [BYSCORE|BYLEX] [REV] [LIMIT offset count] [WITHSCORES]
pub fn zrange(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Flow {
    range_reply(ctx, args, RangeForm::Range, false)
}

/// ZRANGEBYSCORE key min max [WITHSCORES] [LIMIT offset count]
pub fn zrangebyscore(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Flow {
    range_reply(ctx, args, RangeForm::ByScore, false)
}

/// ZREVRANGEBYSCORE key max min [WITHSCORES] [LIMIT offset count]
pub fn zrevrangebyscore(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Flow {
    range_reply(ctx, args, RangeForm::ByScore, true)
}

/// ZRANGEBYLEX key min max [LIMIT offset count]
pub fn zrangebylex(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Flow {
    range_reply(ctx, args, RangeForm::ByLex, false)
}

/// ZREVRANGEBYLEX key max min [LIMIT offset count]
pub fn zrevrangebylex(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Flow {
    range_reply(ctx, args, RangeForm::ByLex, true)
}

/// ZREVRANGE key start stop [WITHSCORES]
pub fn zrevrange(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Flow {
    range_reply(ctx, args, RangeForm::Rank, true)
}

/// Replaces `destination` (of any type) with a sorted set of `entries`, or deletes it when
/// there are none; replies the number stored.
fn store_entries(ctx: &mut Ctx<'_>, destination: &[u8], entries: &[(Vec<u8>, f64)]) {
    let mut result = ZSet::new();
    for (member, score) in entries {
        result.insert(member, *score);
    }
    let value =
        (!result.is_empty()).then(|| Value::collection(Body::SortedSet(result), NO_DEADLINE));
    ctx.store_result(destination, value, entries.len() as i64);
}

/// ZRANGESTORE dst src min max [BYSCORE|BYLEX] [REV] [LIMIT offset count]
pub fn zrangestore(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Flow {
    let Some(query) = parse_range(ctx, args, 3, RangeForm::Range, false, true) else {
        return Flow::Continue;
    };
    let Ok(source) = collection::read(ctx, &args[2], Kind::SortedSet) else {
        return Flow::Continue;
    };
    let entries = match source.as_ref().and_then(Value::as_collection) {
        Some(found) => query.select(zset_of(&found.read())),
        None => Vec::new(),
    };
    store_entries(ctx, &args[1], &entries);
    Flow::Continue
}

/// ZCOUNT key min max
pub fn zcount(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Flow {
    let (Some(min), Some(max)) = (score_bound(&args[2]), score_bound(&args[3])) else {
        ctx.error(SCORE_RANGE);
        return Flow::Continue;
    };
    with_zset(ctx, &args[1], |ctx, zset| {
        let (start, end) = Span::Score(min, max).positions(zset);
        ctx.reply().int((end - start) as i64);
    });
    Flow::Continue
}

/// ZLEXCOUNT key min max
pub fn zlexcount(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Flow {
    let (Some(min), Some(max)) = (lex_bound(&args[2]), lex_bound(&args[3])) else {
        ctx.error(LEX_RANGE);
        return Flow::Continue;
    };
    with_zset(ctx, &args[1], |ctx, zset| {
        let (start, end) = Span::Lex(min, max).positions(zset);
        ctx.reply().int((end - start) as i64);
    });
    Flow::Continue
}

fn rank_reply(ctx: &mut Ctx<'_>, args: &[Bytes], reverse: bool) -> Flow {
    with_zset(ctx, &args[1], |ctx, zset| match zset.rank(&args[2]) {
        Some(rank) if reverse => ctx.reply().int((zset.len() - 1 - rank) as i64),
        Some(rank) => ctx.reply().int(rank as i64),
        None => ctx.reply().null(),
    });
    Flow::Continue
}

/// ZRANK key member
pub fn zrank(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Flow {
    rank_reply(ctx, args, false)
}

/// ZREVRANK key member
pub fn zrevrank(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Flow {
    rank_reply(ctx, args, true)
}

/// ZREM key member [member ...]
pub fn zrem(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Flow {
    let members = &args[2..];
    let removed = collection::write(ctx, &args[1], Kind::SortedSet, false, 0, &mut |body| {
        let zset = zset_mut(body);
        let removed = members.iter().filter(|m| zset.remove(m)).count();
        (removed as i64, removed > 0)
    });
    if let Ok(removed) = removed {
        ctx.reply().int(removed.unwrap_or(0));
    }
    Flow::Continue
}

/// Removes the members `span` selects; replies how many.
fn remove_span(ctx: &mut Ctx<'_>, key: &[u8], span: Span) {
    let removed = collection::write(ctx, key, Kind::SortedSet, false, 0, &mut |body| {
        let zset = zset_mut(body);
        let (start, end) = span.positions(zset);
        let doomed: Vec<Vec<u8>> = zset.range(start, end).map(|(m, _)| m.to_vec()).collect();
        for member in &doomed {
            zset.remove(member);
        }
        (doomed.len() as i64, !doomed.is_empty())
    });
    if let Ok(removed) = removed {
        ctx.reply().int(removed.unwrap_or(0));
    }
}

/// ZREMRANGEBYRANK key start stop
pub fn zremrangebyrank(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Flow {
    let (Some(start), Some(stop)) = (parse_i64(&args[2]), parse_i64(&args[3])) else {
        ctx.error(errors::NOT_INTEGER);
        return Flow::Continue;
    };
    remove_span(ctx, &args[1], Span::Rank(start, stop));
    Flow::Continue
}

/// ZREMRANGEBYSCORE key min max
pub fn zremrangebyscore(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Flow {
    let (Some(min), Some(max)) = (score_bound(&args[2]), score_bound(&args[3])) else {
        ctx.error(SCORE_RANGE);
        return Flow::Continue;
    };
    remove_span(ctx, &args[1], Span::Score(min, max));
    Flow::Continue
}

/// ZREMRANGEBYLEX key min max
pub fn zremrangebylex(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Flow {
    let (Some(min), Some(max)) = (lex_bound(&args[2]), lex_bound(&args[3])) else {
        ctx.error(LEX_RANGE);
        return Flow::Continue;
    };
    remove_span(ctx, &args[1], Span::Lex(min, max));
    Flow::Continue
}

/// ZPOPMIN and ZPOPMAX: removes and answers the lowest or highest members with their scores.
fn pop(ctx: &mut Ctx<'_>, args: &[Bytes], highest: bool) -> Flow {
    let count = match args.len() {
        2 => None,
        3 => match parse_i64(&args[2]).filter(|n| *n >= 0) {
            Some(count) => Some(count),
            None => {
                ctx.error(POSITIVE);
                return Flow::Continue;
            }
        },
        _ => {
            ctx.error(errors::SYNTAX);
            return Flow::Continue;
        }
    };
    let wanted = count.unwrap_or(1) as u64;
    let popped = collection::write(ctx, &args[1], Kind::SortedSet, false, 0, &mut |body| {
        let zset = zset_mut(body);
        let take = wanted.min(zset.len() as u64) as usize;
        let (start, end) = if highest {
            (zset.len() - take, zset.len())
        } else {
            (0, take)
        };
        let mut popped: Vec<(Vec<u8>, f64)> = zset
            .range(start, end)
            .map(|(m, s)| (m.to_vec(), s))
            .collect();
        if highest {
            popped.reverse();
        }
        for (member, _) in &popped {
            zset.remove(member);
        }
        let changed = !popped.is_empty();
        (popped, changed)
    });
    let Ok(popped) = popped else {
        return Flow::Continue;
    };
    let popped = popped.unwrap_or_default();
    // Without a count RESP3 keeps the flat pair, as Redis does.
    if count.is_none() {
        let mut reply = ctx.reply();
        reply.array(popped.len() * 2);
        for (member, score) in &popped {
            reply.bulk(member);
            reply.score(*score);
        }
    } else {
        reply_entries(ctx, &popped, true);
    }
    Flow::Continue
}

/// ZPOPMIN key [count]
pub fn zpopmin(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Flow {
    pop(ctx, args, false)
}

/// ZPOPMAX key [count]
pub fn zpopmax(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Flow {
    pop(ctx, args, true)
}

/// ZRANDMEMBER key [count [WITHSCORES]]
pub fn zrandmember(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Flow {
    let Some((count, with_scores)) = collection::random_args(ctx, args, "WITHSCORES") else {
        return Flow::Continue;
    };
    let Some(count) = count else {
        with_zset(ctx, &args[1], |ctx, zset| match zset.pick(rand::random()) {
            Some((member, _)) => ctx.reply().bulk(member),
            None => ctx.reply().null(),
        });
        return Flow::Continue;
    };
    with_zset(ctx, &args[1], |ctx, zset| {
        let (n, picks) = collection::random_picks(
            zset.len(),
            count,
            || zset.iter().collect(),
            |r| zset.pick(r),
        );
        collection::reply_pairs(ctx, n, picks, with_scores, |reply, score| {
            reply.score(score)
        });
    });
    Flow::Continue
}

/// ZSCAN key cursor [MATCH pattern] [COUNT count]
pub fn zscan(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Flow {
    collection::scan(ctx, args, Kind::SortedSet, |body, cursor, count, visit| {
        body.as_zset().map_or(0, |zset| {
            zset.scan(cursor, count, &mut |member, score| {
                visit(member, Some(format_score(score).as_bytes()))
            })
        })
    });
    Flow::Continue
}

/// Which algebra ZUNION, ZINTER and ZDIFF compute.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Algebra {
    Union,
    Inter,
    Diff,
}

/// How scores of one member in several inputs combine.
#[derive(Clone, Copy)]
enum Aggregate {
    Sum,
    Min,
    Max,
}

impl Aggregate {
    fn combine(self, total: f64, score: f64) -> f64 {
        match self {
            // inf + -inf: Redis makes it 0.
            Aggregate::Sum => {
                let sum = total + score;
                if sum.is_nan() {
                    0.0
                } else {
                    sum
                }
            }
            Aggregate::Min => total.min(score),
            Aggregate::Max => total.max(score),
        }
    }
}

/// One input of the algebra: a sorted set's members and scores, or a set's members at 1.
type Input = Vec<(Vec<u8>, f64)>;

/// Reads the inputs at `keys` (sorted sets or sets; a missing key is empty); `None` after
/// replying WRONGTYPE.
fn inputs(ctx: &mut Ctx<'_>, keys: &[Bytes]) -> Option<Vec<Input>> {
    let mut out = Vec::with_capacity(keys.len());
    for key in keys {
        let value = ctx.node.store.get(key, ctx.now);
        let input = match &value {
            None => {
                ctx.count_read(false);
                Vec::new()
            }
            Some(value) => {
                let body = value.as_collection().map(|c| c.read());
                let input = match body.as_deref() {
                    Some(Body::SortedSet(zset)) => {
                        Some(zset.iter().map(|(m, s)| (m.to_vec(), s)).collect())
                    }
                    Some(Body::Set(set)) => Some(set.iter().map(|m| (m.to_vec(), 1.0)).collect()),
                    _ => None,
                };
                let Some(input) = input else {
                    ctx.error(errors::WRONGTYPE);
                    return None;
                };
                ctx.count_read(true);
                input
            }
        };
        out.push(input);
    }
    Some(out)
}

/// The options after the keys of ZUNION, ZINTER, ZDIFF and their STORE forms.
struct AlgebraOptions {
    weights: Vec<f64>,
    aggregate: Aggregate,
    with_scores: bool,
}

fn algebra_options(
    ctx: &mut Ctx<'_>,
    args: &[Bytes],
    keys: usize,
    op: Algebra,
    store: bool,
) -> Option<AlgebraOptions> {
    let mut options = AlgebraOptions {
        weights: vec![1.0; keys],
        aggregate: Aggregate::Sum,
        with_scores: false,
    };
    let mut i = 0;
    while i < args.len() {
        let left = args.len() - i - 1;
        if op != Algebra::Diff && left >= keys && is(&args[i], "WEIGHTS") {
            for (j, weight) in args[i + 1..=i + keys].iter().enumerate() {
                let Some(weight) = parse_f64(weight) else {
                    ctx.error("ERR weight value is not a float");
                    return None;
                };
                options.weights[j] = weight;
            }
            i += keys;
        } else if op != Algebra::Diff && left >= 1 && is(&args[i], "AGGREGATE") {
            let how = &args[i + 1];
            options.aggregate = if is(how, "SUM") {
                Aggregate::Sum
            } else if is(how, "MIN") {
                Aggregate::Min
            } else if is(how, "MAX") {
                Aggregate::Max
            } else {
                ctx.error(errors::SYNTAX);
                return None;
            };
            i += 1;
        } else if !store && is(&args[i], "WITHSCORES") {
            options.with_scores = true;
        } else {
            ctx.error(errors::SYNTAX);
            return None;
        }
        i += 1;
    }
    Some(options)
}

/// The members and scores of `op` over the inputs, in the sorted set's order.
fn compute(inputs: &[Input], op: Algebra, options: &AlgebraOptions) -> Vec<(Vec<u8>, f64)> {
    let weighted = |score: f64, weight: f64| {
        let product = score * weight;
        // inf * 0: Redis makes it 0.
        if product.is_nan() {
            0.0
        } else {
            product
        }
    };
    let mut result: Vec<(Vec<u8>, f64)> = Vec::new();
    match op {
        Algebra::Union => {
            let mut totals: std::collections::HashMap<&[u8], f64> = Default::default();
            let mut order: Vec<&[u8]> = Vec::new();
            for (input, weight) in inputs.iter().zip(&options.weights) {
                for (member, score) in input {
                    let score = weighted(*score, *weight);
                    match totals.get_mut(&member[..]) {
                        Some(total) => *total = options.aggregate.combine(*total, score),
                        None => {
                            totals.insert(member, score);
                            order.push(member);
                        }
                    }
                }
            }
            result = order
                .into_iter()
                .map(|member| (member.to_vec(), totals[member]))
                .collect();
        }
        Algebra::Inter => {
            let lookups: Vec<std::collections::HashMap<&[u8], f64>> = inputs
                .iter()
                .map(|input| input.iter().map(|(m, s)| (&m[..], *s)).collect())
                .collect();
            // The smallest input drives; scores combine in key order.
            let Some(smallest) = (0..inputs.len()).min_by_key(|i| inputs[*i].len()) else {
                return Vec::new();
            };
            'members: for (member, _) in &inputs[smallest] {
                let mut total: Option<f64> = None;
                for (lookup, weight) in lookups.iter().zip(&options.weights) {
                    let Some(score) = lookup.get(&member[..]) else {
                        continue 'members;
                    };
                    let score = weighted(*score, *weight);
                    total = Some(match total {
                        None => score,
                        Some(total) => options.aggregate.combine(total, score),
                    });
                }
                result.push((member.clone(), total.unwrap_or(0.0)));
            }
        }
        Algebra::Diff => {
            let others: Vec<std::collections::HashSet<&[u8]>> = inputs[1..]
                .iter()
                .map(|input| input.iter().map(|(m, _)| &m[..]).collect())
                .collect();
            for (member, score) in &inputs[0] {
                if !others.iter().any(|other| other.contains(&member[..])) {
                    result.push((member.clone(), *score));
                }
            }
        }
    }
    // The sorted set's order, without building one: a reply keeps -0 as Redis's does.
    result.sort_by(|a, b| {
        a.1.partial_cmp(&b.1)
            .unwrap_or(std::cmp::Ordering::Equal)
            .then_with(|| a.0.cmp(&b.0))
    });
    result
}

/// The keys of an algebra command counted by the argument at `at`, and where its options
/// start; `None` after replying the error.
fn counted_keys(ctx: &mut Ctx<'_>, args: &[Bytes], at: usize) -> Option<(usize, usize)> {
    let Some(count) = parse_i64(&args[at]) else {
        ctx.error(errors::NOT_INTEGER);
        return None;
    };
    if count < 1 {
        let name = String::from_utf8_lossy(&args[0]).to_lowercase();
        ctx.error(&format!(
            "ERR at least 1 input key is needed for '{name}' command"
        ));
        return None;
    }
    if count as u64 > (args.len() - at - 1) as u64 {
        ctx.error(errors::SYNTAX);
        return None;
    }
    Some((at + 1, at + 1 + count as usize))
}

fn algebra(ctx: &mut Ctx<'_>, args: &[Bytes], op: Algebra, store: bool) -> Flow {
    let at = if store { 2 } else { 1 };
    let Some((first, end)) = counted_keys(ctx, args, at) else {
        return Flow::Continue;
    };
    let Some(inputs) = inputs(ctx, &args[first..end]) else {
        return Flow::Continue;
    };
    let Some(options) = algebra_options(ctx, &args[end..], end - first, op, store) else {
        return Flow::Continue;
    };
    let entries = compute(&inputs, op, &options);
    if store {
        store_entries(ctx, &args[1], &entries);
    } else {
        reply_entries(ctx, &entries, options.with_scores);
    }
    Flow::Continue
}

/// ZUNION numkeys key [key ...] [WEIGHTS weight ...] [AGGREGATE SUM|MIN|MAX] [WITHSCORES]
pub fn zunion(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Flow {
    algebra(ctx, args, Algebra::Union, false)
}

/// ZINTER numkeys key [key ...] [WEIGHTS weight ...] [AGGREGATE SUM|MIN|MAX] [WITHSCORES]
pub fn zinter(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Flow {
    algebra(ctx, args, Algebra::Inter, false)
}

/// ZDIFF numkeys key [key ...] [WITHSCORES]
pub fn zdiff(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Flow {
    algebra(ctx, args, Algebra::Diff, false)
}

/// ZUNIONSTORE destination numkeys key [key ...] [WEIGHTS weight ...] [AGGREGATE ...]
pub fn zunionstore(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Flow {
    algebra(ctx, args, Algebra::Union, true)
}

/// ZINTERSTORE destination numkeys key [key ...] [WEIGHTS weight ...] [AGGREGATE ...]
pub fn zinterstore(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Flow {
    algebra(ctx, args, Algebra::Inter, true)
}

/// ZDIFFSTORE destination numkeys key [key ...]
pub fn zdiffstore(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Flow {
    algebra(ctx, args, Algebra::Diff, true)
}

/// ZINTERCARD numkeys key [key ...] [LIMIT limit]: the intersection's size, counted up to
/// `limit` (0: no limit).
pub fn zintercard(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Flow {
    let Some((first, end)) = counted_keys(ctx, args, 1) else {
        return Flow::Continue;
    };
    let Some(inputs) = inputs(ctx, &args[first..end]) else {
        return Flow::Continue;
    };
    let mut limit = 0u64;
    let mut i = end;
    while i < args.len() {
        if is(&args[i], "LIMIT") && i + 1 < args.len() {
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
    let options = AlgebraOptions {
        weights: vec![1.0; end - first],
        aggregate: Aggregate::Sum,
        with_scores: false,
    };
    let size = compute(&inputs, Algebra::Inter, &options).len() as u64;
    let size = if limit > 0 { size.min(limit) } else { size };
    ctx.reply().int(size as i64);
    Flow::Continue
}
