//! HyperLogLog: PFADD, PFCOUNT and PFMERGE, counting as Redis counts. A HyperLogLog is a
//! string in Redis's own format (`HYLL`, a 16-byte header, then its 16,384 6-bit registers,
//! sparse or dense), so a value read with GET here reads the same in Redis and the other way
//! round; the element hash (MurmurHash64A, Redis's seed), the registers and the estimator
//! (Ertl's, which Redis 5 and later use) are Redis's, so counts match Redis's exactly.
//!
//! A HyperLogLog is written sparse while every register is at most 32 and the sparse form
//! takes at most 3,000 bytes (Redis's `hll-sparse-max-bytes`), dense (12,304 bytes) past that.

use bytes::Bytes;

use super::{errors, Ctx, Flow};
use crate::store::{Change, Value, NO_DEADLINE};

/// Registers: 2^14.
const REGISTERS: usize = 1 << 14;
const P: u32 = 14;
/// Bits of the hash left after the register index that are counted.
const Q: u32 = 64 - P;
const HEADER: usize = 16;
const DENSE_LEN: usize = HEADER + REGISTERS * 6 / 8;
const DENSE: u8 = 0;
const SPARSE: u8 = 1;
/// Largest sparse form written (Redis's `hll-sparse-max-bytes` default).
const SPARSE_MAX: usize = 3000;
/// Largest register value a sparse form holds.
const SPARSE_MAX_VALUE: u8 = 32;
/// The element hash's seed, Redis's.
const SEED: u64 = 0xadc8_3b19;

const INVALID: &str = "WRONGTYPE Key is not a valid HyperLogLog string value.";

/// The registers of one HyperLogLog.
struct Registers(Box<[u8; REGISTERS]>);

impl Registers {
    fn new() -> Self {
        Registers(Box::new([0; REGISTERS]))
    }

    /// The registers a string holds; `None` if it is not a valid HyperLogLog.
    fn decode(data: &[u8]) -> Option<Self> {
        if data.len() < HEADER || &data[..4] != b"HYLL" {
            return None;
        }
        let mut registers = Registers::new();
        match data[4] {
            DENSE if data.len() == DENSE_LEN => {
                let dense = &data[HEADER..];
                for (i, register) in registers.0.iter_mut().enumerate() {
                    *register = dense_get(dense, i);
                }
            }
            SPARSE => {
                let mut at = 0usize;
                let mut ops = &data[HEADER..];
                while let Some((&op, rest)) = ops.split_first() {
                    let (value, run, rest) = match op >> 6 {
                        // ZERO: 00xxxxxx, a run of 1-64 zeros.
                        0 => (0, usize::from(op & 0x3f) + 1, rest),
                        // XZERO: 01xxxxxx yyyyyyyy, a run of 1-16384 zeros.
                        1 => {
                            let (&low, rest) = rest.split_first()?;
                            (
                                0,
                                (usize::from(op & 0x3f) << 8 | usize::from(low)) + 1,
                                rest,
                            )
                        }
                        // VAL: 1vvvvvxx, a run of 1-4 registers of value 1-32.
                        _ => ((op >> 2 & 0x1f) + 1, usize::from(op & 3) + 1, rest),
                    };
                    if at + run > REGISTERS {
                        return None;
                    }
                    registers.0[at..at + run].fill(value);
                    at += run;
                    ops = rest;
                }
                if at != REGISTERS {
                    return None;
                }
            }
            _ => return None,
        }
        Some(registers)
    }

    /// Redis's string for these registers: sparse when it fits, else dense. The cached
    /// cardinality in the header is marked invalid, so Redis recomputes it.
    fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(64);
        out.extend_from_slice(b"HYLL");
        out.extend_from_slice(&[SPARSE, 0, 0, 0]);
        out.extend_from_slice(&[0, 0, 0, 0, 0, 0, 0, 0x80]);
        if let Some(sparse) = self.sparse() {
            out.extend_from_slice(&sparse);
            return out;
        }
        out[4] = DENSE;
        out.resize(DENSE_LEN, 0);
        let dense = &mut out[HEADER..];
        for (i, &register) in self.0.iter().enumerate() {
            dense_set(dense, i, register);
        }
        out
    }

    /// The sparse opcodes, if every register fits one and they fit the sparse bound.
    fn sparse(&self) -> Option<Vec<u8>> {
        let mut ops = Vec::new();
        let mut at = 0;
        while at < REGISTERS {
            let value = self.0[at];
            if value > SPARSE_MAX_VALUE {
                return None;
            }
            let run = self.0[at..].iter().take_while(|&&r| r == value).count();
            let mut left = run;
            while left > 0 {
                if value == 0 {
                    let chunk = left.min(REGISTERS);
                    if chunk <= 64 {
                        ops.push((chunk - 1) as u8);
                    } else {
                        let n = chunk - 1;
                        ops.push(0x40 | (n >> 8) as u8);
                        ops.push((n & 0xff) as u8);
                    }
                    left -= chunk;
                } else {
                    let chunk = left.min(4);
                    ops.push(0x80 | (value - 1) << 2 | (chunk - 1) as u8);
                    left -= chunk;
                }
            }
            if ops.len() > SPARSE_MAX {
                return None;
            }
            at += run;
        }
        Some(ops)
    }

    /// Adds an element; whether a register changed.
    fn add(&mut self, element: &[u8]) -> bool {
        let hash = murmur2::murmur64a(element, SEED);
        let index = (hash & (REGISTERS as u64 - 1)) as usize;
        // The position of the first set bit after the index bits, counting from 1; a 1 past
        // the counted bits makes it at most Q + 1.
        let rest = (hash >> P) | (1 << Q);
        let count = rest.trailing_zeros() as u8 + 1;
        if count > self.0[index] {
            self.0[index] = count;
            true
        } else {
            false
        }
    }

    fn merge(&mut self, other: &Registers) {
        for (mine, theirs) in self.0.iter_mut().zip(other.0.iter()) {
            *mine = (*mine).max(*theirs);
        }
    }

    /// The estimate, by Ertl's improved estimator ("New cardinality estimation algorithms
    /// for HyperLogLog sketches", 2017), step for step as Redis computes it.
    fn count(&self) -> u64 {
        let m = REGISTERS as f64;
        let mut histogram = [0u32; 64];
        for &register in self.0.iter() {
            histogram[usize::from(register)] += 1;
        }
        let q = Q as usize;
        let mut z = m * tau((m - f64::from(histogram[q + 1])) / m);
        for j in (1..=q).rev() {
            z += f64::from(histogram[j]);
            z *= 0.5;
        }
        z += m * sigma(f64::from(histogram[0]) / m);
        // 0.5 / ln 2
        const ALPHA_INF: f64 = 0.721_347_520_444_481_7;
        (ALPHA_INF * m * m / z).round() as u64
    }
}

fn sigma(mut x: f64) -> f64 {
    if x == 1.0 {
        return f64::INFINITY;
    }
    let mut y = 1.0;
    let mut z = x;
    loop {
        x *= x;
        let before = z;
        z += x * y;
        y += y;
        if before == z {
            return z;
        }
    }
}

fn tau(mut x: f64) -> f64 {
    if x == 0.0 || x == 1.0 {
        return 0.0;
    }
    let mut y = 1.0;
    let mut z = 1.0 - x;
    loop {
        x = x.sqrt();
        let before = z;
        y *= 0.5;
        z -= (1.0 - x) * (1.0 - x) * y;
        if before == z {
            return z / 3.0;
        }
    }
}

/// Register `i` of a dense array: 6 bits from bit `6 i`, least significant bits first.
fn dense_get(dense: &[u8], i: usize) -> u8 {
    let byte = i * 6 / 8;
    let shift = (i * 6) & 7;
    let low = u16::from(dense[byte]);
    let high = u16::from(dense.get(byte + 1).copied().unwrap_or(0));
    (((low | high << 8) >> shift) & 63) as u8
}

fn dense_set(dense: &mut [u8], i: usize, value: u8) {
    let byte = i * 6 / 8;
    let shift = (i * 6) & 7;
    let bits = u16::from(value & 63) << shift;
    let mask = 63u16 << shift;
    dense[byte] = (u16::from(dense[byte]) & !mask | bits) as u8;
    if let Some(next) = dense.get_mut(byte + 1) {
        *next = ((u16::from(*next) << 8 & !mask | bits) >> 8) as u8;
    }
}

/// The registers at `key`: empty for a missing key; `Err` with the error for another type or
/// a string that is not a HyperLogLog.
fn registers_of(value: Option<&Value>) -> Result<Option<Registers>, &'static str> {
    let Some(value) = value else {
        return Ok(None);
    };
    let data = value.string().ok_or(errors::WRONGTYPE)?;
    Registers::decode(data).map(Some).ok_or(INVALID)
}

/// PFADD key [element ...]: 1 if the estimate may have changed (a register grew, or the key
/// was created), else 0.
pub fn pfadd(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Flow {
    let mut outcome: Result<bool, &'static str> = Ok(false);
    let written = ctx.write(&args[1], &mut |current| {
        let (mut registers, created) = match registers_of(current) {
            Err(e) => {
                outcome = Err(e);
                return Change::Keep;
            }
            Ok(Some(registers)) => (registers, false),
            Ok(None) => (Registers::new(), true),
        };
        let mut changed = created;
        for element in &args[2..] {
            changed |= registers.add(element);
        }
        outcome = Ok(changed);
        if !changed {
            return Change::Keep;
        }
        let deadline = current.map_or(NO_DEADLINE, Value::deadline);
        Change::Put(Value::new(&registers.encode(), deadline))
    });
    match (written, outcome) {
        (Err(e), _) => ctx.store_error(&e),
        (Ok(()), Err(e)) => ctx.error(e),
        (Ok(()), Ok(changed)) => ctx.reply().int(i64::from(changed)),
    }
    Flow::Continue
}

/// The union of the registers at `keys`; `None` after replying the error.
fn union(ctx: &mut Ctx<'_>, keys: &[Bytes]) -> Option<Registers> {
    let mut all = Registers::new();
    for key in keys {
        let value = ctx.node.store.get(key, ctx.now);
        ctx.count_read(value.is_some());
        match registers_of(value.as_ref()) {
            Err(e) => {
                ctx.error(e);
                return None;
            }
            Ok(Some(registers)) => all.merge(&registers),
            Ok(None) => {}
        }
    }
    Some(all)
}

/// PFCOUNT key [key ...]: the estimated number of distinct elements of their union.
pub fn pfcount(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Flow {
    if let Some(all) = union(ctx, &args[1..]) {
        ctx.reply().int(all.count() as i64);
    }
    Flow::Continue
}

/// PFMERGE destkey [sourcekey ...]: the union (the destination's own registers included)
/// written to the destination.
pub fn pfmerge(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Flow {
    let Some(all) = union(ctx, &args[1..]) else {
        return Flow::Continue;
    };
    let encoded = all.encode();
    let written = ctx.write(&args[1], &mut |current| {
        let deadline = current.map_or(NO_DEADLINE, Value::deadline);
        Change::Put(Value::new(&encoded, deadline))
    });
    match written {
        Ok(()) => ctx.reply().ok(),
        Err(e) => ctx.store_error(&e),
    }
    Flow::Continue
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dense_registers_round_trip() {
        let mut dense = vec![0u8; REGISTERS * 6 / 8];
        for i in 0..REGISTERS {
            dense_set(&mut dense, i, (i % 64) as u8);
        }
        for i in 0..REGISTERS {
            assert_eq!(dense_get(&dense, i), (i % 64) as u8, "register {i}");
        }
    }

    #[test]
    fn encodings_round_trip() {
        let mut registers = Registers::new();
        for i in 0..500u32 {
            registers.add(&i.to_le_bytes());
        }
        let sparse = registers.encode();
        assert_eq!(sparse[4], SPARSE);
        let back = Registers::decode(&sparse).unwrap();
        assert_eq!(back.0[..], registers.0[..]);
        registers.0[7] = 40;
        let dense = registers.encode();
        assert_eq!((dense[4], dense.len()), (DENSE, DENSE_LEN));
        assert_eq!(Registers::decode(&dense).unwrap().0[..], registers.0[..]);
        assert!(Registers::decode(b"HYLL").is_none());
        assert!(Registers::decode(&dense[..100]).is_none());
        assert_eq!(Registers::new().count(), 0);
    }
}
