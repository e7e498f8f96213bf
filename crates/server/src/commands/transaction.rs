//! MULTI, EXEC, DISCARD, and the queue in between.
//!
//! Queued commands run back to back when EXEC arrives, through the same path as any request.
//! The queue holds copies of the arguments (so it never pins the read buffer) and is bounded by
//! `client-query-buffer-limit`: a command that would pass it is refused and the transaction
//! fails, as any refused queued command makes it. Isolation is the service's to give or not
//! (a node gives ordering, not isolation: it has no global lock); the service may refuse a
//! transaction it cannot run as one ([`Service::check_transaction`]).

use std::sync::atomic::Ordering;

use crate::dispatch::{run_batch, Exchange};
use crate::service::{Flow, Request, Service};

/// Queues a command inside MULTI, replying `+QUEUED`.
pub(crate) fn queue<S: Service>(x: &mut Exchange<'_, S>, request: &Request) {
    let size = request.size();
    let limit = x
        .endpoint
        .with_settings(|s| s.client_query_buffer_limit.bytes()) as usize;
    if x.session.queued_bytes + size > limit {
        x.session.transaction_failed = true;
        return x.error("ERR MULTI queue exceeds client-query-buffer-limit");
    }
    x.session.queued_bytes += size;
    if let Some(queued) = x.session.queued.as_mut() {
        queued.push(request.detached());
        x.client.multi.store(queued.len() as i64, Ordering::Relaxed);
    }
    x.reply().simple("QUEUED");
}

/// MULTI
pub(super) fn multi<S: Service>(x: &mut Exchange<'_, S>) {
    if x.session.queued.is_some() {
        return x.error("ERR MULTI calls can not be nested");
    }
    x.session.queued = Some(Vec::new());
    x.session.queued_bytes = 0;
    x.session.transaction_failed = false;
    x.client.multi.store(0, Ordering::Relaxed);
    x.reply().ok();
}

fn end_transaction<S: Service>(x: &mut Exchange<'_, S>) -> Option<Vec<Request>> {
    x.session.queued_bytes = 0;
    x.client.multi.store(-1, Ordering::Relaxed);
    x.session.queued.take()
}

/// EXEC
pub(super) async fn exec<S: Service>(x: &mut Exchange<'_, S>) -> Flow {
    let failed = std::mem::take(&mut x.session.transaction_failed);
    let Some(queued) = end_transaction(x) else {
        x.error("ERR EXEC without MULTI");
        return Flow::Continue;
    };
    if failed {
        x.error("EXECABORT Transaction discarded because of previous errors.");
        return Flow::Continue;
    }
    if let Err(reason) = x.service.check_transaction(&queued) {
        x.error(&reason);
        return Flow::Continue;
    }
    x.reply().array(queued.len());
    x.session.executing = true;
    let flow = run_batch(x, &queued).await;
    x.session.executing = false;
    flow
}

/// DISCARD
pub(super) fn discard<S: Service>(x: &mut Exchange<'_, S>) {
    x.session.transaction_failed = false;
    if end_transaction(x).is_none() {
        return x.error("ERR DISCARD without MULTI");
    }
    x.reply().ok();
}
