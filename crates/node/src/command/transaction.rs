//! MULTI, EXEC, DISCARD on one node.
//!
//! Queued commands run back to back when EXEC arrives, each atomic on its own key. Unlike
//! Redis, commands from other clients may run between them: a node has no global lock, and a
//! cache's transactions (redis-py's default pipelines) need ordering and one round trip, not
//! isolation. WATCH is not offered, so no client can rely on isolation it does not get.

use std::sync::atomic::Ordering;

use bytes::Bytes;

use super::{lookup, run, Ctx, Flow};

/// Queues a command inside MULTI, replying `+QUEUED`.
pub(super) fn queue(ctx: &mut Ctx<'_>, args: &[Bytes]) {
    let size: usize = args.iter().map(Bytes::len).sum();
    let limit = ctx
        .node
        .with_config(|config| config.client_query_buffer_limit.bytes()) as usize;
    if ctx.session.queued_bytes + size > limit {
        ctx.session.transaction_failed = true;
        ctx.error("ERR MULTI queue exceeds client-query-buffer-limit");
        return;
    }
    ctx.session.queued_bytes += size;
    // Copy out of the read buffer: queued arguments must not pin large input buffers.
    let owned = args.iter().map(|arg| Bytes::copy_from_slice(arg)).collect();
    if let Some(queued) = ctx.session.queued.as_mut() {
        queued.push(owned);
        ctx.client
            .multi
            .store(queued.len() as i64, Ordering::Relaxed);
    }
    ctx.reply().simple("QUEUED");
}

/// MULTI
pub fn multi(ctx: &mut Ctx<'_>, _args: &[Bytes]) -> Flow {
    if ctx.session.queued.is_some() {
        ctx.error("ERR MULTI calls can not be nested");
        return Flow::Continue;
    }
    ctx.session.queued = Some(Vec::new());
    ctx.session.queued_bytes = 0;
    ctx.session.transaction_failed = false;
    ctx.client.multi.store(0, Ordering::Relaxed);
    ctx.reply().ok();
    Flow::Continue
}

fn end_transaction(ctx: &mut Ctx<'_>) -> Option<Vec<Vec<Bytes>>> {
    ctx.session.queued_bytes = 0;
    ctx.client.multi.store(-1, Ordering::Relaxed);
    ctx.session.queued.take()
}

/// EXEC
pub fn exec(ctx: &mut Ctx<'_>, _args: &[Bytes]) -> Flow {
    let failed = std::mem::take(&mut ctx.session.transaction_failed);
    let Some(queued) = end_transaction(ctx) else {
        ctx.error("ERR EXEC without MULTI");
        return Flow::Continue;
    };
    if failed {
        ctx.error("EXECABORT Transaction discarded because of previous errors.");
        return Flow::Continue;
    }
    ctx.reply().array(queued.len());
    let mut flow = Flow::Continue;
    for args in &queued {
        let spec = lookup(&args[0]).expect("only known commands are queued");
        if run(ctx, spec, args) == Flow::Close {
            flow = Flow::Close;
        }
    }
    flow
}

/// DISCARD
pub fn discard(ctx: &mut Ctx<'_>, _args: &[Bytes]) -> Flow {
    ctx.session.transaction_failed = false;
    if end_transaction(ctx).is_none() {
        ctx.error("ERR DISCARD without MULTI");
        return Flow::Continue;
    }
    ctx.reply().ok();
    Flow::Continue
}
