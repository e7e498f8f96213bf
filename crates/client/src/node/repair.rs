//! Repair and warm-up: what makes a node that missed writes safe to read from again.
//!
//! - Repair invalidates (DEL) every key the node is known to have missed, on the key's own
//!   connection so no older write in flight overtakes it; if its hints overflowed, it empties
//!   the node (FLUSHALL). A delete can never make a value stale.
//! - A node whose run id changed restarted empty: nothing on it can be stale, its hints are
//!   dropped.
//! - Either way the node then *warms up* for a while: a read that misses on it is asked of the
//!   key's next replica (and a GET's value copied back), since the keys it lost or had
//!   invalidated still have values elsewhere.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::time::Instant;

use super::Node;
use crate::error::Result;

/// Keys invalidated per DEL during repair.
const REPLAY_BATCH: usize = 512;

/// How long a node checks its misses against replicas after it came back empty.
pub(crate) struct Warmup {
    length: Duration,
    /// Read on every read reply; the deadline's lock only while warming.
    active: AtomicBool,
    until: Mutex<Option<Instant>>,
}

impl Warmup {
    pub fn new(length: Duration) -> Self {
        Self {
            length,
            active: AtomicBool::new(false),
            until: Mutex::new(None),
        }
    }

    /// Starts (or extends) the warm-up from now.
    pub fn start(&self) {
        let mut until = self.until.lock().unwrap_or_else(|p| p.into_inner());
        *until = Some(Instant::now() + self.length);
        self.active.store(true, Ordering::Release);
    }

    /// Whether the warm-up is on now.
    pub fn is_active(&self) -> bool {
        if !self.active.load(Ordering::Acquire) {
            return false;
        }
        let mut until = self.until.lock().unwrap_or_else(|p| p.into_inner());
        match *until {
            Some(deadline) if Instant::now() < deadline => true,
            _ => {
                *until = None;
                self.active.store(false, Ordering::Release);
                false
            }
        }
    }
}

impl Node {
    /// Records the run id the node reported on a new connection. A different one than before
    /// means the node restarted empty.
    pub(super) fn observe_run_id(&self, run_id: String) {
        let mut known = self.run_id.lock().unwrap_or_else(|p| p.into_inner());
        if known.as_deref().is_some_and(|previous| previous != run_id) {
            tracing::info!(
                node = self.name(),
                "node restarted (new run id): dropping its hints, warming it up"
            );
            self.hints.clear();
            self.metrics.hints_pending.set(0.0);
            self.warmup.start();
        }
        *known = Some(run_id);
    }

    /// Makes the node safe to read from: empties it if its hints overflowed, otherwise deletes
    /// every hinted key. Runs until no hint is left (writes that fail meanwhile add more).
    pub async fn repair(self: &Arc<Self>) -> Result<()> {
        loop {
            if self.hints.overflowed() {
                self.call(0, &[b"FLUSHALL"]).await?;
                self.hints.clear();
                self.metrics.flushes.increment(1);
                self.warmup.start();
                tracing::warn!(
                    node = self.name(),
                    "hints overflowed: node emptied before serving reads"
                );
                continue;
            }
            let batch = self.hints.take(REPLAY_BATCH);
            if batch.keys.is_empty() {
                self.metrics.hints_pending.set(0.0);
                return Ok(());
            }
            // Each key is invalidated on its own connection, behind any write of it in flight.
            for slot in 0..self.slots() {
                let mut args: Vec<&[u8]> = vec![b"DEL"];
                args.extend(
                    batch
                        .keys
                        .iter()
                        .map(|(key, _)| key.as_ref())
                        .filter(|key| self.slot_for(key) == slot),
                );
                if args.len() > 1 {
                    self.call(slot, &args).await?;
                }
            }
            self.hints.replayed(&batch);
            self.metrics
                .hints_replayed
                .increment(batch.keys.len() as u64);
            self.metrics.hints_pending.set(self.hints.len() as f64);
            // The keys just invalidated still have values on the other replicas.
            self.warmup.start();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn warmup_ends_after_its_length() {
        let warmup = Warmup::new(Duration::from_secs(60));
        assert!(!warmup.is_active());
        warmup.start();
        tokio::time::sleep(Duration::from_secs(59)).await;
        assert!(warmup.is_active());
        warmup.start();
        tokio::time::sleep(Duration::from_secs(59)).await;
        assert!(warmup.is_active(), "starting again extends it");
        tokio::time::sleep(Duration::from_secs(2)).await;
        assert!(!warmup.is_active());
    }
}
