//! Expiry commands: EXPIRE, PEXPIRE, EXPIREAT, PEXPIREAT (with NX, XX, GT, LT), TTL, PTTL,
//! EXPIRETIME, PEXPIRETIME, PERSIST. Deadlines are Unix milliseconds.

use bytes::Bytes;

use super::args::{is, parse_i64};
use super::{errors, Ctx, Flow};
use crate::store::{is_expired, Change, NO_DEADLINE};

#[derive(Clone, Copy)]
enum Unit {
    Seconds,
    Millis,
}

#[derive(Clone, Copy)]
enum Base {
    Relative,
    Absolute,
}

fn expire_generic(
    ctx: &mut Ctx<'_>,
    args: &[Bytes],
    unit: Unit,
    base: Base,
    command: &str,
) -> Flow {
    let (mut nx, mut xx, mut gt, mut lt) = (false, false, false, false);
    for arg in &args[3..] {
        if is(arg, "NX") {
            nx = true;
        } else if is(arg, "XX") {
            xx = true;
        } else if is(arg, "GT") {
            gt = true;
        } else if is(arg, "LT") {
            lt = true;
        } else {
            ctx.error(&format!(
                "ERR Unsupported option {}",
                String::from_utf8_lossy(arg)
            ));
            return Flow::Continue;
        }
    }
    if nx && (xx || gt || lt) {
        ctx.error("ERR NX and XX, GT or LT options at the same time are not compatible");
        return Flow::Continue;
    }
    if gt && lt {
        ctx.error("ERR GT and LT options at the same time are not compatible");
        return Flow::Continue;
    }
    let Some(when) = parse_i64(&args[2]) else {
        ctx.error(errors::NOT_INTEGER);
        return Flow::Continue;
    };
    let invalid = format!("ERR invalid expire time in '{command}' command");
    let when = match unit {
        Unit::Seconds => when.checked_mul(1000),
        Unit::Millis => Some(when),
    };
    let deadline = match (when, base) {
        (Some(when), Base::Relative) => when.checked_add(ctx.now as i64),
        (Some(when), Base::Absolute) => Some(when),
        (None, _) => None,
    };
    let Some(deadline) = deadline else {
        ctx.error(&invalid);
        return Flow::Continue;
    };
    let now = ctx.now;
    let mut applied = false;
    let _ = ctx.write(&args[1], &mut |current| {
        applied = false;
        let Some(current) = current else {
            return Change::Keep;
        };
        let existing = current.deadline();
        let persistent = existing == NO_DEADLINE;
        let allowed = !(nx && !persistent
            || xx && persistent
            || gt && (persistent || deadline <= existing as i64)
            || lt && !persistent && deadline >= existing as i64);
        if !allowed {
            return Change::Keep;
        }
        applied = true;
        if deadline <= now as i64 {
            Change::Remove
        } else {
            Change::expire(deadline as u64)
        }
    });
    ctx.reply().int(i64::from(applied));
    Flow::Continue
}

/// EXPIRE key seconds [NX|XX|GT|LT]
pub fn expire(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Flow {
    expire_generic(ctx, args, Unit::Seconds, Base::Relative, "expire")
}

/// PEXPIRE key milliseconds [NX|XX|GT|LT]
pub fn pexpire(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Flow {
    expire_generic(ctx, args, Unit::Millis, Base::Relative, "pexpire")
}

/// EXPIREAT key unix-seconds [NX|XX|GT|LT]
pub fn expireat(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Flow {
    expire_generic(ctx, args, Unit::Seconds, Base::Absolute, "expireat")
}

/// PEXPIREAT key unix-milliseconds [NX|XX|GT|LT]
pub fn pexpireat(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Flow {
    expire_generic(ctx, args, Unit::Millis, Base::Absolute, "pexpireat")
}

fn ttl_generic(ctx: &mut Ctx<'_>, args: &[Bytes], unit: Unit, absolute: bool) -> Flow {
    let reply = match ctx.node.store.get(&args[1], ctx.now) {
        None => -2,
        Some(value) if value.deadline() == NO_DEADLINE => -1,
        Some(value) => {
            let millis = if absolute {
                value.deadline()
            } else {
                value.deadline().saturating_sub(ctx.now)
            };
            match unit {
                Unit::Millis => millis as i64,
                Unit::Seconds => ((millis + 500) / 1000) as i64,
            }
        }
    };
    ctx.reply().int(reply);
    Flow::Continue
}

/// TTL key
pub fn ttl(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Flow {
    ttl_generic(ctx, args, Unit::Seconds, false)
}

/// PTTL key
pub fn pttl(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Flow {
    ttl_generic(ctx, args, Unit::Millis, false)
}

/// EXPIRETIME key
pub fn expiretime(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Flow {
    ttl_generic(ctx, args, Unit::Seconds, true)
}

/// PEXPIRETIME key
pub fn pexpiretime(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Flow {
    ttl_generic(ctx, args, Unit::Millis, true)
}

/// PERSIST key
pub fn persist(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Flow {
    let now = ctx.now;
    let mut removed = false;
    let _ = ctx.write(&args[1], &mut |current| match current {
        Some(value) if value.deadline() != NO_DEADLINE && !is_expired(value.deadline(), now) => {
            removed = true;
            Change::expire(NO_DEADLINE)
        }
        _ => {
            removed = false;
            Change::Keep
        }
    });
    ctx.reply().int(i64::from(removed));
    Flow::Continue
}
