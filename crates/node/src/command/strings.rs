//! String commands: GET, SET and its variants, multi-key MGET/MSET, in-place edits (APPEND,
//! SETRANGE, GETRANGE, STRLEN) and counters (INCR…, INCRBYFLOAT).
//!
//! Every read-modify-write goes through [`Store::update`](crate::store::Store::update), so two
//! clients incrementing one key never lose an increment. Counters and edits keep the key's TTL,
//! as in Redis.

use bytes::Bytes;
use cachering_proto::format_double;

use super::args::{is, parse_f64, parse_i64};
use super::{errors, Ctx, Flow};
use crate::store::{Change, Value, NO_DEADLINE};

/// Why an expiry argument was refused.
enum ExpiryError {
    NotInteger,
    Invalid,
}

/// Turns an `EX`/`PX`/`EXAT`/`PXAT` argument into a deadline in Unix milliseconds. Zero and
/// negative values are refused, as Redis refuses them in SET, SETEX and GETEX.
fn deadline_from(option: &[u8], arg: &[u8], now: u64) -> Result<u64, ExpiryError> {
    let value = parse_i64(arg).ok_or(ExpiryError::NotInteger)?;
    if value <= 0 {
        return Err(ExpiryError::Invalid);
    }
    let value = value as u64;
    let millis = if is(option, "EX") || is(option, "EXAT") {
        value.checked_mul(1000).ok_or(ExpiryError::Invalid)?
    } else {
        value
    };
    let deadline = if is(option, "EX") || is(option, "PX") {
        now.checked_add(millis).ok_or(ExpiryError::Invalid)?
    } else {
        millis
    };
    if deadline > i64::MAX as u64 {
        return Err(ExpiryError::Invalid);
    }
    Ok(deadline)
}

fn expiry_error(ctx: &mut Ctx<'_>, error: ExpiryError, command: &str) {
    match error {
        ExpiryError::NotInteger => ctx.error(errors::NOT_INTEGER),
        ExpiryError::Invalid => {
            ctx.error(&format!("ERR invalid expire time in '{command}' command"))
        }
    }
}

fn is_expiry_option(arg: &[u8]) -> bool {
    is(arg, "EX") || is(arg, "PX") || is(arg, "EXAT") || is(arg, "PXAT")
}

/// Reads an `EX|PX|EXAT|PXAT <time>` pair at `args[at]` into a deadline. `None` means an error
/// was replied: a syntax error when the option is not one, is not `allowed` there (a second
/// expiry, or one after KEEPTTL/PERSIST) or lacks its value; Redis's errors for a bad time.
pub(super) fn expiry_option(
    ctx: &mut Ctx<'_>,
    args: &[Bytes],
    at: usize,
    allowed: bool,
    command: &str,
) -> Option<u64> {
    if !allowed || !is_expiry_option(&args[at]) || at + 1 >= args.len() {
        ctx.error(errors::SYNTAX);
        return None;
    }
    match deadline_from(&args[at], &args[at + 1], ctx.now) {
        Ok(deadline) => Some(deadline),
        Err(e) => {
            expiry_error(ctx, e, command);
            None
        }
    }
}

/// Writes a string value or the null reply; a collection is the wrong type.
fn reply_value(ctx: &mut Ctx<'_>, value: Option<&Value>) {
    match value.map(Value::string) {
        Some(Some(bytes)) => ctx.reply().bulk(bytes),
        Some(None) => ctx.error(errors::WRONGTYPE),
        None => ctx.reply().null(),
    }
}

/// Whether `current` holds a collection, which a string command must leave alone.
fn is_collection(current: Option<&Value>) -> bool {
    current.is_some_and(|value| value.kind().is_some())
}

/// A string value's bytes and deadline (empty, no deadline, for a missing key); `None` for a
/// collection.
pub(super) fn string_and_deadline(current: Option<&Value>) -> Option<(&[u8], u64)> {
    match current {
        None => Some((&[], NO_DEADLINE)),
        Some(value) => Some((value.string()?, value.deadline())),
    }
}

/// GET key
pub fn get(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Flow {
    let value = ctx.node.store.get(&args[1], ctx.now);
    ctx.count_read(value.is_some());
    reply_value(ctx, value.as_ref());
    Flow::Continue
}

/// SET key value [NX|XX] [GET] [EX s|PX ms|EXAT ts|PXAT ts|KEEPTTL]
pub fn set(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Flow {
    if args.len() == 3 {
        match ctx.set(&args[1], Value::new(&args[2], NO_DEADLINE)) {
            Ok(()) => ctx.reply().ok(),
            Err(e) => ctx.store_error(&e),
        }
        return Flow::Continue;
    }
    let (mut nx, mut xx, mut get, mut keepttl) = (false, false, false, false);
    let mut deadline = None;
    let mut i = 3;
    while i < args.len() {
        let arg = &args[i];
        if is(arg, "NX") && !xx {
            nx = true;
        } else if is(arg, "XX") && !nx {
            xx = true;
        } else if is(arg, "GET") {
            get = true;
        } else if is(arg, "KEEPTTL") && deadline.is_none() {
            keepttl = true;
        } else {
            match expiry_option(ctx, args, i, !keepttl && deadline.is_none(), "set") {
                Some(d) => deadline = Some(d),
                None => return Flow::Continue,
            }
            i += 1;
        }
        i += 1;
    }
    let now = ctx.now;
    let new = Value::new(&args[2], deadline.unwrap_or(NO_DEADLINE));
    let mut old = None;
    let mut applied = false;
    let result = ctx.write(&args[1], &mut |current| {
        old = current.cloned();
        applied = !(nx && current.is_some() || xx && current.is_none());
        if !applied || get && is_collection(current) {
            // SET ... GET of a collection is refused, and sets nothing.
            applied = false;
            return Change::Keep;
        }
        if keepttl {
            new.set_deadline(current.map_or(NO_DEADLINE, Value::deadline));
        }
        if crate::store::is_expired(new.deadline(), now) {
            // A deadline already past (EXAT in the past): the key is set and gone at once.
            return Change::Remove;
        }
        Change::Put(new.clone())
    });
    if let Err(e) = result {
        ctx.store_error(&e);
        return Flow::Continue;
    }
    if get {
        reply_value(ctx, old.as_ref());
    } else if applied {
        ctx.reply().ok();
    } else {
        ctx.reply().null();
    }
    Flow::Continue
}

/// Sets `key` if it does not exist; true if set.
fn set_if_absent(
    ctx: &mut Ctx<'_>,
    key: &[u8],
    new: &Value,
) -> Result<bool, crate::store::StoreError> {
    let mut applied = false;
    ctx.write(key, &mut |current| {
        applied = current.is_none();
        if applied {
            Change::Put(new.clone())
        } else {
            Change::Keep
        }
    })?;
    Ok(applied)
}

/// SETNX key value
pub fn setnx(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Flow {
    match set_if_absent(ctx, &args[1], &Value::new(&args[2], NO_DEADLINE)) {
        Ok(applied) => ctx.reply().int(i64::from(applied)),
        Err(e) => ctx.store_error(&e),
    }
    Flow::Continue
}

fn set_with_ttl(ctx: &mut Ctx<'_>, args: &[Bytes], option: &str, command: &str) -> Flow {
    let deadline = match deadline_from(option.as_bytes(), &args[2], ctx.now) {
        Ok(d) => d,
        Err(e) => {
            expiry_error(ctx, e, command);
            return Flow::Continue;
        }
    };
    match ctx.set(&args[1], Value::new(&args[3], deadline)) {
        Ok(()) => ctx.reply().ok(),
        Err(e) => ctx.store_error(&e),
    }
    Flow::Continue
}

/// SETEX key seconds value
pub fn setex(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Flow {
    set_with_ttl(ctx, args, "EX", "setex")
}

/// PSETEX key milliseconds value
pub fn psetex(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Flow {
    set_with_ttl(ctx, args, "PX", "psetex")
}

/// GETSET key value
pub fn getset(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Flow {
    let new = Value::new(&args[2], NO_DEADLINE);
    let mut old = None;
    match ctx.write(&args[1], &mut |current| {
        old = current.cloned();
        if is_collection(current) {
            return Change::Keep;
        }
        Change::Put(new.clone())
    }) {
        Ok(()) => reply_value(ctx, old.as_ref()),
        Err(e) => ctx.store_error(&e),
    }
    Flow::Continue
}

/// GETDEL key
pub fn getdel(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Flow {
    let mut old = None;
    let _ = ctx.write(&args[1], &mut |current| {
        old = current.cloned();
        if current.is_some() && !is_collection(current) {
            Change::Remove
        } else {
            Change::Keep
        }
    });
    ctx.count_read(old.is_some());
    reply_value(ctx, old.as_ref());
    Flow::Continue
}

/// GETEX key [EX s|PX ms|EXAT ts|PXAT ts|PERSIST]
pub fn getex(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Flow {
    // None: leave the TTL; Some(NO_DEADLINE): PERSIST; Some(d): new deadline.
    let mut new_deadline = None;
    let mut i = 2;
    while i < args.len() {
        let arg = &args[i];
        if is(arg, "PERSIST") && new_deadline.is_none() {
            new_deadline = Some(NO_DEADLINE);
        } else {
            match expiry_option(ctx, args, i, new_deadline.is_none(), "getex") {
                Some(d) => new_deadline = Some(d),
                None => return Flow::Continue,
            }
            i += 1;
        }
        i += 1;
    }
    let now = ctx.now;
    let mut found = None;
    let _ = ctx.write(&args[1], &mut |current| {
        found = current.cloned();
        if is_collection(current) {
            return Change::Keep;
        }
        match (current, new_deadline) {
            (None, _) | (Some(_), None) => Change::Keep,
            (Some(_), Some(d)) if crate::store::is_expired(d, now) => Change::Remove,
            (Some(_), Some(d)) => Change::expire(d),
        }
    });
    ctx.count_read(found.is_some());
    reply_value(ctx, found.as_ref());
    Flow::Continue
}

/// MGET key [key ...]
pub fn mget(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Flow {
    ctx.reply().array(args.len() - 1);
    for key in &args[1..] {
        // MGET answers nil for a key that holds a collection, as Redis does.
        let value = ctx.node.store.get(key, ctx.now);
        ctx.count_read(value.is_some());
        match value.as_ref().and_then(Value::string) {
            Some(bytes) => ctx.reply().bulk(bytes),
            None => ctx.reply().null(),
        }
    }
    Flow::Continue
}

/// MSET key value [key value ...]
pub fn mset(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Flow {
    if args.len() % 2 == 0 {
        ctx.wrong_arity("mset");
        return Flow::Continue;
    }
    for pair in args[1..].chunks(2) {
        if let Err(e) = ctx.set(&pair[0], Value::new(&pair[1], NO_DEADLINE)) {
            ctx.store_error(&e);
            return Flow::Continue;
        }
    }
    ctx.reply().ok();
    Flow::Continue
}

/// MSETNX key value [key value ...]: sets all keys only if none exists.
pub fn msetnx(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Flow {
    if args.len() % 2 == 0 {
        ctx.wrong_arity("msetnx");
        return Flow::Continue;
    }
    let pairs: Vec<&[Bytes]> = args[1..].chunks(2).collect();
    if pairs
        .iter()
        .any(|pair| ctx.node.store.get(&pair[0], ctx.now).is_some())
    {
        ctx.reply().int(0);
        return Flow::Continue;
    }
    // A key given twice takes its last value, as in Redis (which sets the pairs in order).
    let mut seen = std::collections::HashSet::with_capacity(pairs.len());
    let last_of_each: Vec<&[Bytes]> = pairs
        .iter()
        .rev()
        .filter(|pair| seen.insert(&pair[0]))
        .copied()
        .collect();
    for pair in last_of_each {
        if let Err(e) = set_if_absent(ctx, &pair[0], &Value::new(&pair[1], NO_DEADLINE)) {
            ctx.store_error(&e);
            return Flow::Continue;
        }
    }
    ctx.reply().int(1);
    Flow::Continue
}

pub(super) fn too_long(ctx: &Ctx<'_>, len: u64) -> bool {
    len > ctx
        .node
        .endpoint
        .with_settings(|settings| settings.proto_max_bulk_len.bytes())
}

const ERR_TOO_LONG: &str = "ERR string exceeds maximum allowed size (proto-max-bulk-len)";

/// APPEND key value
pub fn append(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Flow {
    let suffix = &args[2];
    let limit = ctx
        .node
        .endpoint
        .with_settings(|settings| settings.proto_max_bulk_len.bytes());
    let mut new_len = 0;
    let mut refused = false;
    let mut wrong_type = false;
    let result = ctx.write(&args[1], &mut |current| {
        let Some((data, deadline)) = string_and_deadline(current) else {
            wrong_type = true;
            return Change::Keep;
        };
        new_len = data.len() + suffix.len();
        refused = new_len as u64 > limit;
        if refused {
            return Change::Keep;
        }
        let mut joined = Vec::with_capacity(new_len);
        joined.extend_from_slice(data);
        joined.extend_from_slice(suffix);
        Change::Put(Value::new(&joined, deadline))
    });
    match result {
        Err(e) => ctx.store_error(&e),
        Ok(()) if wrong_type => ctx.error(errors::WRONGTYPE),
        Ok(()) if refused => ctx.error(ERR_TOO_LONG),
        Ok(()) => ctx.reply().int(new_len as i64),
    }
    Flow::Continue
}

/// STRLEN key
pub fn strlen(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Flow {
    let value = ctx.node.store.get(&args[1], ctx.now);
    match string_and_deadline(value.as_ref()) {
        Some((data, _)) => ctx.reply().int(data.len() as i64),
        None => ctx.error(errors::WRONGTYPE),
    }
    Flow::Continue
}

/// GETRANGE key start end
pub fn getrange(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Flow {
    let (Some(mut start), Some(mut end)) = (parse_i64(&args[2]), parse_i64(&args[3])) else {
        ctx.error(errors::NOT_INTEGER);
        return Flow::Continue;
    };
    let value = ctx.node.store.get(&args[1], ctx.now);
    let Some((data, _)) = string_and_deadline(value.as_ref()) else {
        ctx.error(errors::WRONGTYPE);
        return Flow::Continue;
    };
    let len = data.len() as i64;
    if start < 0 && end < 0 && start > end {
        ctx.reply().bulk(b"");
        return Flow::Continue;
    }
    if start < 0 {
        start += len;
    }
    if end < 0 {
        end += len;
    }
    start = start.max(0);
    end = end.max(0);
    if end >= len {
        end = len - 1;
    }
    if start > end || len == 0 {
        ctx.reply().bulk(b"");
    } else {
        ctx.reply().bulk(&data[start as usize..=end as usize]);
    }
    Flow::Continue
}

/// SETRANGE key offset value
pub fn setrange(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Flow {
    let Some(offset) = parse_i64(&args[2]) else {
        ctx.error(errors::NOT_INTEGER);
        return Flow::Continue;
    };
    if offset < 0 {
        ctx.error("ERR offset is out of range");
        return Flow::Continue;
    }
    let patch = &args[3];
    let offset = offset as usize;
    if !patch.is_empty() && too_long(ctx, offset as u64 + patch.len() as u64) {
        ctx.error(ERR_TOO_LONG);
        return Flow::Continue;
    }
    let mut new_len = 0;
    let mut wrong_type = false;
    let result = ctx.write(&args[1], &mut |current| {
        let Some((data, deadline)) = string_and_deadline(current) else {
            wrong_type = true;
            return Change::Keep;
        };
        if patch.is_empty() {
            new_len = data.len();
            return Change::Keep;
        }
        let mut edited = data.to_vec();
        if edited.len() < offset + patch.len() {
            edited.resize(offset + patch.len(), 0);
        }
        edited[offset..offset + patch.len()].copy_from_slice(patch);
        new_len = edited.len();
        Change::Put(Value::new(&edited, deadline))
    });
    match result {
        Ok(()) if wrong_type => ctx.error(errors::WRONGTYPE),
        Ok(()) => ctx.reply().int(new_len as i64),
        Err(e) => ctx.store_error(&e),
    }
    Flow::Continue
}

/// The number a counter command starts from: `Ok(None)` for a missing key, the error for a
/// collection (WRONGTYPE) or a string that is not a number (`not_number`).
fn number_in<T>(
    current: Option<&Value>,
    parse: fn(&[u8]) -> Option<T>,
    not_number: &'static str,
) -> Result<Option<T>, &'static str> {
    let Some(value) = current else {
        return Ok(None);
    };
    let bytes = value.string().ok_or(errors::WRONGTYPE)?;
    parse(bytes).map(Some).ok_or(not_number)
}

fn incr_by(ctx: &mut Ctx<'_>, key: &[u8], delta: i64) -> Flow {
    let mut outcome: Result<i64, &'static str> = Ok(0);
    let result = ctx.write(key, &mut |current| {
        let base = match number_in(current, parse_i64, errors::NOT_INTEGER) {
            Ok(n) => n.unwrap_or(0),
            Err(text) => {
                outcome = Err(text);
                return Change::Keep;
            }
        };
        match base.checked_add(delta) {
            Some(n) => {
                outcome = Ok(n);
                let mut digits = itoa::Buffer::new();
                Change::Put(Value::new(
                    digits.format(n).as_bytes(),
                    current.map_or(NO_DEADLINE, Value::deadline),
                ))
            }
            None => {
                outcome = Err(errors::OVERFLOW);
                Change::Keep
            }
        }
    });
    match (result, outcome) {
        (Err(e), _) => ctx.store_error(&e),
        (Ok(()), Ok(n)) => ctx.reply().int(n),
        (Ok(()), Err(message)) => ctx.error(message),
    }
    Flow::Continue
}

/// INCR key
pub fn incr(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Flow {
    incr_by(ctx, &args[1], 1)
}

/// DECR key
pub fn decr(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Flow {
    incr_by(ctx, &args[1], -1)
}

/// INCRBY key increment
pub fn incrby(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Flow {
    match parse_i64(&args[2]) {
        Some(delta) => incr_by(ctx, &args[1], delta),
        None => {
            ctx.error(errors::NOT_INTEGER);
            Flow::Continue
        }
    }
}

/// DECRBY key decrement
pub fn decrby(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Flow {
    match parse_i64(&args[2]) {
        Some(i64::MIN) => {
            ctx.error("ERR decrement would overflow");
            Flow::Continue
        }
        Some(delta) => incr_by(ctx, &args[1], -delta),
        None => {
            ctx.error(errors::NOT_INTEGER);
            Flow::Continue
        }
    }
}

/// INCRBYFLOAT key increment
pub fn incrbyfloat(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Flow {
    let Some(delta) = parse_f64(&args[2]) else {
        ctx.error(errors::NOT_FLOAT);
        return Flow::Continue;
    };
    let mut outcome: Result<String, &'static str> = Err(errors::NOT_FLOAT);
    let result = ctx.write(&args[1], &mut |current| {
        let base = match number_in(current, parse_f64, errors::NOT_FLOAT) {
            Ok(n) => n.unwrap_or(0.0),
            Err(text) => {
                outcome = Err(text);
                return Change::Keep;
            }
        };
        let sum = base + delta;
        if !sum.is_finite() {
            outcome = Err("ERR increment would produce NaN or Infinity");
            return Change::Keep;
        }
        let text = format_double(sum);
        let value = Value::new(
            text.as_bytes(),
            current.map_or(NO_DEADLINE, Value::deadline),
        );
        outcome = Ok(text);
        Change::Put(value)
    });
    match (result, outcome) {
        (Err(e), _) => ctx.store_error(&e),
        (Ok(()), Ok(text)) => ctx.reply().bulk(text.as_bytes()),
        (Ok(()), Err(message)) => ctx.error(message),
    }
    Flow::Continue
}

/// One common run of LCS's IDX reply: the ranges in the first and second string.
struct Match {
    a: (usize, usize),
    b: (usize, usize),
}

/// LCS key1 key2 [LEN] [IDX] [MINMATCHLEN len] [WITHMATCHLEN]: the longest common
/// subsequence of two strings (a missing key is the empty string), by Redis's dynamic
/// programming table and walk, so the matches come out as Redis lists them. The table takes
/// 4 bytes per pair of positions, bounded by `proto-max-bulk-len` as in Redis.
pub fn lcs(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Flow {
    let (mut want_len, mut want_idx, mut with_len, mut min_len) = (false, false, false, 0usize);
    let mut i = 3;
    while i < args.len() {
        if is(&args[i], "LEN") {
            want_len = true;
        } else if is(&args[i], "IDX") {
            want_idx = true;
        } else if is(&args[i], "WITHMATCHLEN") {
            with_len = true;
        } else if is(&args[i], "MINMATCHLEN") && i + 1 < args.len() {
            let Some(n) = parse_i64(&args[i + 1]) else {
                ctx.error(errors::NOT_INTEGER);
                return Flow::Continue;
            };
            min_len = n.max(0) as usize;
            i += 1;
        } else {
            ctx.error(errors::SYNTAX);
            return Flow::Continue;
        }
        i += 1;
    }
    if want_len && want_idx {
        ctx.error("ERR If you want both the length and indexes, please just use IDX.");
        return Flow::Continue;
    }
    let a = ctx.node.store.get(&args[1], ctx.now);
    let b = ctx.node.store.get(&args[2], ctx.now);
    let (Some((a, _)), Some((b, _))) = (
        string_and_deadline(a.as_ref()),
        string_and_deadline(b.as_ref()),
    ) else {
        ctx.error("ERR The specified keys must contain string values");
        return Flow::Continue;
    };
    let cells = (a.len() as u64 + 1) * (b.len() as u64 + 1);
    let limit = ctx
        .node
        .endpoint
        .with_settings(|settings| settings.proto_max_bulk_len.bytes());
    if cells.saturating_mul(4) > limit {
        ctx.error("ERR Insufficient memory, transient memory for LCS exceeds proto-max-bulk-len");
        return Flow::Continue;
    }
    // table[i * (b.len() + 1) + j]: the LCS length of a[..i] and b[..j].
    let width = b.len() + 1;
    let mut table = vec![0u32; cells as usize];
    for i in 1..=a.len() {
        for j in 1..=b.len() {
            table[i * width + j] = if a[i - 1] == b[j - 1] {
                table[(i - 1) * width + j - 1] + 1
            } else {
                table[(i - 1) * width + j].max(table[i * width + j - 1])
            };
        }
    }
    let length = table[a.len() * width + b.len()] as usize;
    if want_len {
        ctx.reply().int(length as i64);
        return Flow::Continue;
    }
    // Walk back from the end, as Redis does: the common string, and the runs it is made of.
    let mut common = vec![0u8; length];
    let mut matches = Vec::new();
    let (mut i, mut j, mut left) = (a.len(), b.len(), length);
    let mut run: Option<Match> = None;
    while i > 0 && j > 0 {
        let mut emit = false;
        if a[i - 1] == b[j - 1] {
            common[left - 1] = a[i - 1];
            match &mut run {
                None => {
                    run = Some(Match {
                        a: (i - 1, i - 1),
                        b: (j - 1, j - 1),
                    })
                }
                // Contiguous with the run: extend it backwards.
                Some(m) if m.a.0 == i && m.b.0 == j => {
                    m.a.0 -= 1;
                    m.b.0 -= 1;
                }
                Some(_) => emit = true,
            }
            if run.as_ref().is_some_and(|m| m.a.0 == 0 || m.b.0 == 0) {
                emit = true;
            }
            left -= 1;
            i -= 1;
            j -= 1;
        } else {
            if table[(i - 1) * width + j] > table[i * width + j - 1] {
                i -= 1;
            } else {
                j -= 1;
            }
            if run.is_some() {
                emit = true;
            }
        }
        if emit {
            if let Some(m) = run.take() {
                if m.a.1 - m.a.0 + 1 >= min_len {
                    matches.push(m);
                }
            }
        }
    }
    if !want_idx {
        ctx.reply().bulk(&common);
        return Flow::Continue;
    }
    let mut reply = ctx.reply();
    reply.map(2);
    reply.bulk(b"matches");
    reply.array(matches.len());
    for m in &matches {
        reply.array(2 + usize::from(with_len));
        for (start, end) in [m.a, m.b] {
            reply.array(2);
            reply.int(start as i64);
            reply.int(end as i64);
        }
        if with_len {
            reply.int((m.a.1 - m.a.0 + 1) as i64);
        }
    }
    reply.bulk(b"len");
    reply.int(length as i64);
    Flow::Continue
}
