//! Bitmap commands over strings: SETBIT, GETBIT, BITCOUNT and BITPOS (BYTE|BIT ranges),
//! BITOP, BITFIELD and BITFIELD_RO, with Redis 7.0's replies and error texts. Bit 0 is the
//! most significant bit of the first byte, as in Redis.
//!
//! A string is one immutable allocation in the store, so a write copies it (Redis changes it
//! in place): SETBIT on a 1 MiB bitmap costs a 1 MiB copy. Through the ring, SETBIT and
//! BITFIELD are replayed on the other replicas, so the copy stays on each node.

use bytes::Bytes;

use super::args::{is, parse_i64};
use super::strings::{string_and_deadline, too_long};
use super::{errors, Ctx, Flow};
use crate::store::{Change, Value};

const BAD_OFFSET: &str = "ERR bit offset is not an integer or out of range";
const BAD_TYPE: &str =
    "ERR Invalid bitfield type. Use something like i16 u8. Note that u64 is not supported but i64 is.";

/// A bit offset argument: at most the bits of the longest string (`proto-max-bulk-len`).
/// With `hash` (BITFIELD), `#N` means N times the field's width.
fn bit_offset(ctx: &Ctx<'_>, arg: &[u8], hash: Option<u32>) -> Option<u64> {
    let (digits, times) = match (hash, arg.strip_prefix(b"#")) {
        (Some(width), Some(rest)) => (rest, u64::from(width)),
        _ => (arg, 1),
    };
    let n = parse_i64(digits).filter(|n| *n >= 0)?;
    let bits = (n as u64).checked_mul(times)?;
    // Redis's bound: the byte holding the bit must be below proto-max-bulk-len.
    (!too_long(ctx, (bits >> 3) + 1)).then_some(bits)
}

fn get_bit(data: &[u8], offset: u64) -> bool {
    let byte = (offset >> 3) as usize;
    data.get(byte)
        .is_some_and(|b| b & (0x80 >> (offset & 7)) != 0)
}

fn set_bit(data: &mut [u8], offset: u64, on: bool) {
    let byte = (offset >> 3) as usize;
    let mask = 0x80 >> (offset & 7);
    if on {
        data[byte] |= mask;
    } else {
        data[byte] &= !mask;
    }
}

/// Whether a string grown to hold bit `offset` could not be stored (larger than the largest
/// entry the store holds): then OOM is replied before the string is built, so a SETBIT at
/// 2^32 - 1 does not allocate 512 MiB to be refused.
fn beyond_largest_entry(ctx: &mut Ctx<'_>, key: &[u8], offset: u64) -> bool {
    let needed = (offset >> 3) + 1 + key.len() as u64;
    if needed > ctx.node.store.max_entry() {
        ctx.error(errors::OOM);
        return true;
    }
    false
}

/// Reads the string at `key` (empty when missing); `None` after WRONGTYPE.
fn read(ctx: &mut Ctx<'_>, key: &[u8]) -> Option<(Option<Value>, bool)> {
    let value = ctx.node.store.get(key, ctx.now);
    if value.as_ref().is_some_and(|v| v.string().is_none()) {
        ctx.error(errors::WRONGTYPE);
        return None;
    }
    let found = value.is_some();
    ctx.count_read(found);
    Some((value, found))
}

/// SETBIT key offset value: the bit's old value.
pub fn setbit(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Flow {
    let Some(offset) = bit_offset(ctx, &args[2], None) else {
        ctx.error(BAD_OFFSET);
        return Flow::Continue;
    };
    let on = match &args[3][..] {
        b"1" => true,
        b"0" => false,
        _ => {
            ctx.error("ERR bit is not an integer or out of range");
            return Flow::Continue;
        }
    };
    if beyond_largest_entry(ctx, &args[1], offset) {
        return Flow::Continue;
    }
    let (mut old, mut wrong_type) = (false, false);
    let written = ctx.write(&args[1], &mut |current| {
        let Some((data, deadline)) = string_and_deadline(current) else {
            wrong_type = true;
            return Change::Keep;
        };
        old = get_bit(data, offset);
        let needed = (offset >> 3) as usize + 1;
        if old == on && needed <= data.len() {
            return Change::Keep;
        }
        let mut edited = data.to_vec();
        if edited.len() < needed {
            edited.resize(needed, 0);
        }
        set_bit(&mut edited, offset, on);
        Change::Put(Value::new(&edited, deadline))
    });
    match written {
        Err(e) => ctx.store_error(&e),
        Ok(()) if wrong_type => ctx.error(errors::WRONGTYPE),
        Ok(()) => ctx.reply().int(i64::from(old)),
    }
    Flow::Continue
}

/// GETBIT key offset
pub fn getbit(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Flow {
    let Some(offset) = bit_offset(ctx, &args[2], None) else {
        ctx.error(BAD_OFFSET);
        return Flow::Continue;
    };
    let Some((value, _)) = read(ctx, &args[1]) else {
        return Flow::Continue;
    };
    let data = value.as_ref().and_then(Value::string).unwrap_or(&[]);
    ctx.reply().int(i64::from(get_bit(data, offset)));
    Flow::Continue
}

/// A BITCOUNT or BITPOS range, as bit positions `start..=end` within a string of `len` bytes
/// (negative positions from the end); `None` when it selects nothing.
fn bit_range(start: i64, end: i64, len: usize, bits: bool) -> Option<(u64, u64)> {
    let total = if bits { len as i64 * 8 } else { len as i64 };
    let start = if start < 0 { total + start } else { start }.max(0);
    let end = if end < 0 { total + end } else { end }.max(0);
    let end = end.min(total - 1);
    if start > end || total == 0 {
        return None;
    }
    Some(if bits {
        (start as u64, end as u64)
    } else {
        (start as u64 * 8, end as u64 * 8 + 7)
    })
}

/// The optional `start end [BYTE|BIT]` of BITCOUNT and BITPOS from `at`: (start, end given,
/// end, bit units); `None` after replying the error.
fn range_args(ctx: &mut Ctx<'_>, args: &[Bytes], at: usize) -> Option<(i64, Option<i64>, bool)> {
    let rest = &args[at..];
    let parse = |arg: &Bytes| parse_i64(arg);
    let units = |arg: Option<&Bytes>| match arg {
        None => Some(false),
        Some(word) if is(word, "BYTE") => Some(false),
        Some(word) if is(word, "BIT") => Some(true),
        Some(_) => None,
    };
    match rest.len() {
        0 => Some((0, None, false)),
        1 => match parse(&rest[0]) {
            Some(start) => Some((start, None, false)),
            None => {
                ctx.error(errors::NOT_INTEGER);
                None
            }
        },
        2 | 3 => {
            let (Some(start), Some(end)) = (parse(&rest[0]), parse(&rest[1])) else {
                ctx.error(errors::NOT_INTEGER);
                return None;
            };
            match units(rest.get(2)) {
                Some(bits) => Some((start, Some(end), bits)),
                None => {
                    ctx.error(errors::SYNTAX);
                    None
                }
            }
        }
        _ => {
            ctx.error(errors::SYNTAX);
            None
        }
    }
}

/// BITCOUNT key [start end [BYTE|BIT]]
pub fn bitcount(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Flow {
    // Redis looks the key up first: a missing key counts 0 whatever the range.
    let Some((value, found)) = read(ctx, &args[1]) else {
        return Flow::Continue;
    };
    if !found {
        ctx.reply().int(0);
        return Flow::Continue;
    }
    if args.len() == 3 {
        ctx.error(errors::SYNTAX);
        return Flow::Continue;
    }
    let Some((start, end, bits)) = range_args(ctx, args, 2) else {
        return Flow::Continue;
    };
    let data = value.as_ref().and_then(Value::string).unwrap_or(&[]);
    let count = match bit_range(start, end.unwrap_or(-1), data.len(), bits) {
        None => 0,
        Some((first, last)) => count_bits(data, first, last),
    };
    ctx.reply().int(count as i64);
    Flow::Continue
}

/// Set bits at positions `first..=last`.
fn count_bits(data: &[u8], first: u64, last: u64) -> u64 {
    let (first_byte, last_byte) = ((first >> 3) as usize, (last >> 3) as usize);
    let mut count: u64 = data[first_byte..=last_byte]
        .iter()
        .map(|b| u64::from(b.count_ones()))
        .sum();
    // Take off the bits of the end bytes that are outside the range.
    let head = (first & 7) as u32;
    if head > 0 {
        count -= u64::from((data[first_byte] >> (8 - head)).count_ones());
    }
    let tail = 7 - (last & 7) as u32;
    if tail > 0 {
        count -= u64::from((data[last_byte] & ((1u8 << tail) - 1)).count_ones());
    }
    count
}

/// BITPOS key bit [start [end [BYTE|BIT]]]
pub fn bitpos(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Flow {
    let bit = match &args[2][..] {
        b"1" => true,
        b"0" => false,
        _ => {
            ctx.error("ERR The bit argument must be 1 or 0.");
            return Flow::Continue;
        }
    };
    let Some((value, found)) = read(ctx, &args[1]) else {
        return Flow::Continue;
    };
    if !found {
        ctx.reply().int(if bit { -1 } else { 0 });
        return Flow::Continue;
    }
    let Some((start, end, bits)) = range_args(ctx, args, 3) else {
        return Flow::Continue;
    };
    let data = value.as_ref().and_then(Value::string).unwrap_or(&[]);
    let Some((first, last)) = bit_range(start, end.unwrap_or(-1), data.len(), bits) else {
        ctx.reply().int(-1);
        return Flow::Continue;
    };
    let found = (first..=last).find(|&at| get_bit(data, at) == bit);
    let answer = match found {
        Some(at) => at as i64,
        // Looking for a clear bit without an end: the string is taken as padded with clear
        // bits on the right, as in Redis.
        None if !bit && end.is_none() => last as i64 + 1,
        None => -1,
    };
    ctx.reply().int(answer);
    Flow::Continue
}

/// BITOP AND|OR|XOR|NOT destkey key [key ...]: the destination's length (deleted when 0).
pub fn bitop(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Flow {
    #[derive(Clone, Copy, PartialEq)]
    enum Op {
        And,
        Or,
        Xor,
        Not,
    }
    let op = [
        ("AND", Op::And),
        ("OR", Op::Or),
        ("XOR", Op::Xor),
        ("NOT", Op::Not),
    ]
    .into_iter()
    .find(|(name, _)| is(&args[1], name))
    .map(|(_, op)| op);
    let Some(op) = op else {
        ctx.error(errors::SYNTAX);
        return Flow::Continue;
    };
    let sources = &args[3..];
    if op == Op::Not && sources.len() != 1 {
        ctx.error("ERR BITOP NOT must be called with a single source key.");
        return Flow::Continue;
    }
    let mut inputs: Vec<Vec<u8>> = Vec::with_capacity(sources.len());
    for key in sources {
        let Some((value, _)) = read(ctx, key) else {
            return Flow::Continue;
        };
        inputs.push(
            value
                .as_ref()
                .and_then(Value::string)
                .unwrap_or(&[])
                .to_vec(),
        );
    }
    let len = inputs.iter().map(Vec::len).max().unwrap_or(0);
    let mut result = vec![0u8; len];
    for (i, out) in result.iter_mut().enumerate() {
        let byte = |input: &Vec<u8>| input.get(i).copied().unwrap_or(0);
        *out = match op {
            Op::Not => !byte(&inputs[0]),
            Op::And => inputs.iter().map(byte).fold(0xff, |a, b| a & b),
            Op::Or => inputs.iter().map(byte).fold(0, |a, b| a | b),
            Op::Xor => inputs.iter().map(byte).fold(0, |a, b| a ^ b),
        };
    }
    let value = (!result.is_empty()).then(|| Value::new(&result, crate::store::NO_DEADLINE));
    ctx.store_result(&args[2], value, len as i64);
    Flow::Continue
}

/// A BITFIELD field type: signed or not, and its width in bits.
#[derive(Clone, Copy)]
struct Field {
    signed: bool,
    bits: u32,
}

fn field_type(arg: &[u8]) -> Option<Field> {
    let (signed, width) = match arg.split_first()? {
        (b'i' | b'I', rest) => (true, rest),
        (b'u' | b'U', rest) => (false, rest),
        _ => return None,
    };
    let bits = u32::try_from(parse_i64(width)?).ok()?;
    let max = if signed { 64 } else { 63 };
    (1..=max).contains(&bits).then_some(Field { signed, bits })
}

impl Field {
    fn get(self, data: &[u8], offset: u64) -> i64 {
        let mut raw: u64 = 0;
        for i in 0..u64::from(self.bits) {
            raw = (raw << 1) | u64::from(get_bit(data, offset + i));
        }
        if self.signed && self.bits < 64 && raw >> (self.bits - 1) & 1 == 1 {
            // Sign-extend.
            (raw | (u64::MAX << self.bits)) as i64
        } else {
            raw as i64
        }
    }

    fn set(self, data: &mut [u8], offset: u64, value: i64) {
        let raw = value as u64;
        for i in 0..u64::from(self.bits) {
            let bit = raw >> (u64::from(self.bits) - 1 - i) & 1 == 1;
            set_bit(data, offset + i, bit);
        }
    }

    fn range(self) -> (i128, i128) {
        if self.signed {
            let half = 1i128 << (self.bits - 1);
            (-half, half - 1)
        } else {
            (0, (1i128 << self.bits) - 1)
        }
    }

    /// `value` fitted to the field by `overflow`; `None` for FAIL out of range.
    fn fit(self, value: i128, overflow: Overflow) -> Option<i64> {
        let (min, max) = self.range();
        if (min..=max).contains(&value) {
            return Some(value as i64);
        }
        match overflow {
            Overflow::Fail => None,
            Overflow::Sat => Some(if value > max { max } else { min } as i64),
            Overflow::Wrap => {
                let span = 1i128 << self.bits;
                let wrapped = value.rem_euclid(span);
                Some(if wrapped > max {
                    wrapped - span
                } else {
                    wrapped
                } as i64)
            }
        }
    }
}

#[derive(Clone, Copy)]
enum Overflow {
    Wrap,
    Sat,
    Fail,
}

enum FieldOp {
    Get(Field, u64),
    Set(Field, u64, i64, Overflow),
    IncrBy(Field, u64, i64, Overflow),
}

/// Parses BITFIELD's operations; `None` after replying the error.
fn field_ops(ctx: &mut Ctx<'_>, args: &[Bytes], read_only: bool) -> Option<Vec<FieldOp>> {
    let mut ops = Vec::new();
    let mut overflow = Overflow::Wrap;
    let mut i = 2;
    while i < args.len() {
        let word = &args[i];
        let (needs, kind) = if is(word, "GET") {
            (2, 0)
        } else if is(word, "SET") {
            (3, 1)
        } else if is(word, "INCRBY") {
            (3, 2)
        } else if is(word, "OVERFLOW") {
            (1, 3)
        } else {
            ctx.error(errors::SYNTAX);
            return None;
        };
        if i + needs >= args.len() {
            ctx.error(errors::SYNTAX);
            return None;
        }
        if kind == 3 {
            let how = &args[i + 1];
            overflow = if is(how, "WRAP") {
                Overflow::Wrap
            } else if is(how, "SAT") {
                Overflow::Sat
            } else if is(how, "FAIL") {
                Overflow::Fail
            } else {
                ctx.error("ERR Invalid OVERFLOW type specified");
                return None;
            };
            i += 2;
            continue;
        }
        let Some(field) = field_type(&args[i + 1]) else {
            ctx.error(BAD_TYPE);
            return None;
        };
        let Some(offset) = bit_offset(ctx, &args[i + 2], Some(field.bits)) else {
            ctx.error(BAD_OFFSET);
            return None;
        };
        if kind == 0 {
            ops.push(FieldOp::Get(field, offset));
        } else {
            if read_only {
                ctx.error("ERR BITFIELD_RO only supports the GET subcommand");
                return None;
            }
            let Some(n) = parse_i64(&args[i + 3]) else {
                ctx.error(errors::NOT_INTEGER);
                return None;
            };
            ops.push(if kind == 1 {
                FieldOp::Set(field, offset, n, overflow)
            } else {
                FieldOp::IncrBy(field, offset, n, overflow)
            });
        }
        i += needs + 1;
    }
    Some(ops)
}

/// Runs the operations over `data` (grown to cover every written field); one answer each.
fn run_ops(data: &mut Vec<u8>, ops: &[FieldOp]) -> Vec<Option<i64>> {
    let needed = ops
        .iter()
        .filter_map(|op| match op {
            FieldOp::Get(..) => None,
            FieldOp::Set(f, at, ..) | FieldOp::IncrBy(f, at, ..) => {
                Some(((at + u64::from(f.bits) + 7) >> 3) as usize)
            }
        })
        .max()
        .unwrap_or(0);
    if data.len() < needed {
        data.resize(needed, 0);
    }
    ops.iter()
        .map(|op| match *op {
            FieldOp::Get(field, at) => Some(field.get(data, at)),
            FieldOp::Set(field, at, value, overflow) => {
                let old = field.get(data, at);
                // An unsigned field takes the value's bits as unsigned, as Redis does (so
                // -1 saturates to the maximum).
                let value = if field.signed {
                    i128::from(value)
                } else {
                    i128::from(value as u64)
                };
                let fitted = field.fit(value, overflow)?;
                field.set(data, at, fitted);
                Some(old)
            }
            FieldOp::IncrBy(field, at, by, overflow) => {
                let old = field.get(data, at);
                let fitted = field.fit(i128::from(old) + i128::from(by), overflow)?;
                field.set(data, at, fitted);
                Some(fitted)
            }
        })
        .collect()
}

fn reply_fields(ctx: &mut Ctx<'_>, answers: &[Option<i64>]) {
    let mut reply = ctx.reply();
    reply.array(answers.len());
    for answer in answers {
        match answer {
            Some(n) => reply.int(*n),
            None => reply.null(),
        }
    }
}

fn field_command(ctx: &mut Ctx<'_>, args: &[Bytes], read_only: bool) -> Flow {
    let Some(ops) = field_ops(ctx, args, read_only) else {
        return Flow::Continue;
    };
    let writes = ops.iter().any(|op| !matches!(op, FieldOp::Get(..)));
    let furthest = ops
        .iter()
        .filter_map(|op| match op {
            FieldOp::Get(..) => None,
            FieldOp::Set(f, at, ..) | FieldOp::IncrBy(f, at, ..) => Some(at + u64::from(f.bits)),
        })
        .max();
    if furthest.is_some_and(|end| beyond_largest_entry(ctx, &args[1], end)) {
        return Flow::Continue;
    }
    if !writes {
        let Some((value, _)) = read(ctx, &args[1]) else {
            return Flow::Continue;
        };
        let mut data = value
            .as_ref()
            .and_then(Value::string)
            .unwrap_or(&[])
            .to_vec();
        let answers = run_ops(&mut data, &ops);
        reply_fields(ctx, &answers);
        return Flow::Continue;
    }
    let (mut answers, mut wrong_type) = (Vec::new(), false);
    let written = ctx.write(&args[1], &mut |current| {
        let Some((data, deadline)) = string_and_deadline(current) else {
            wrong_type = true;
            return Change::Keep;
        };
        let mut edited = data.to_vec();
        answers = run_ops(&mut edited, &ops);
        if current.is_some() && edited == data {
            return Change::Keep;
        }
        Change::Put(Value::new(&edited, deadline))
    });
    match written {
        Err(e) => ctx.store_error(&e),
        Ok(()) if wrong_type => ctx.error(errors::WRONGTYPE),
        Ok(()) => reply_fields(ctx, &answers),
    }
    Flow::Continue
}

/// BITFIELD key [GET type offset] [SET type offset value] [INCRBY type offset increment]
/// [OVERFLOW WRAP|SAT|FAIL] ...
pub fn bitfield(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Flow {
    field_command(ctx, args, false)
}

/// BITFIELD_RO key [GET type offset ...]
pub fn bitfield_ro(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Flow {
    field_command(ctx, args, true)
}
