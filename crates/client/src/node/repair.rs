//! Repair and warm-up: what makes a node that missed writes safe to read from again.
//!
//! - Repair invalidates every key the node is known to have missed at the version it missed
//!   (`VDEL key version`), on the key's own connection so no older write in flight overtakes
//!   it; if its hints overflowed, it empties the node (FLUSHALL). A delete can never make a
//!   value stale, and at the missed version it never outranks the write that was missed.
//! - A node whose run id changed restarted empty: nothing on it can be stale, its hints are
//!   dropped.
//! - Either way the node then *warms up* for a while: a read that misses on it is asked of the
//!   key's next replica (and a GET's value copied back), since the keys it lost or had
//!   invalidated still have values elsewhere. A node that restarted is also refilled in the
//!   background (`route/refill.rs`), so keys nobody reads get their copies back too.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::time::Instant;

use super::Node;
use bytes::{Bytes, BytesMut};

use super::UNKNOWN_VERSION;
use crate::connection::encode_command;
use crate::error::{Error, ErrorKind, Result};
use crate::reply::Reply;

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
    /// Every key's signed version here (`VVER` on connection `slot`): 0 for none, negative
    /// for a delete.
    pub(crate) async fn versions(
        self: &Arc<Self>,
        slot: usize,
        keys: &[&[u8]],
    ) -> Result<Vec<i64>> {
        let mut args: Vec<&[u8]> = Vec::with_capacity(keys.len() + 1);
        args.push(b"VVER");
        args.extend(keys);
        let mut bytes = BytesMut::new();
        encode_command(&args, &mut bytes);
        match self.request(slot, bytes.freeze(), 1).await?.pop() {
            Some(Reply::Array(versions)) if versions.len() == keys.len() => Ok(versions
                .iter()
                .map(|version| version.as_int().unwrap_or(0))
                .collect()),
            Some(Reply::Error(text)) => Err(self.server_error(&text)),
            _ => {
                Err(Error::new(ErrorKind::Protocol, "unexpected VVER reply").with_node(self.name()))
            }
        }
    }

    /// The version to invalidate each hinted key at: the version missed, or, when that is not
    /// known, just above the node's own version of the key (read with `VVER`; nothing to do
    /// when the node holds no value of it).
    async fn versions_to_invalidate(
        self: &Arc<Self>,
        slot: usize,
        keys: &[&(Bytes, u64, u64)],
    ) -> Result<Vec<Option<u64>>> {
        let unknown: Vec<&[u8]> = keys
            .iter()
            .filter(|(_, _, version)| *version == UNKNOWN_VERSION)
            .map(|(key, ..)| key.as_ref())
            .collect();
        let own = if unknown.is_empty() {
            Vec::new()
        } else {
            self.versions(slot, &unknown).await?
        };
        let mut own = own.into_iter();
        Ok(keys
            .iter()
            .map(|(_, _, version)| {
                if *version != UNKNOWN_VERSION {
                    return Some(*version);
                }
                match own.next() {
                    Some(version) if version > 0 => Some(version as u64 + 1),
                    _ => None,
                }
            })
            .collect())
    }

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
            self.needs_refill();
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
            // Each key is invalidated at the version it missed, on its own connection, behind
            // any write of it in flight.
            for slot in 0..self.slots() {
                let keys: Vec<&(Bytes, u64, u64)> = batch
                    .keys
                    .iter()
                    .filter(|(key, ..)| self.slot_for(key) == slot)
                    .collect();
                if keys.is_empty() {
                    continue;
                }
                let versions = self.versions_to_invalidate(slot, &keys).await?;
                let mut bytes = BytesMut::new();
                let mut count = 0;
                for ((key, ..), version) in keys.iter().zip(versions) {
                    if let Some(version) = version {
                        let version = version.to_string();
                        encode_command(&[&b"VDEL"[..], key, version.as_bytes()], &mut bytes);
                        count += 1;
                    }
                }
                if count > 0 {
                    for reply in self.request(slot, bytes.freeze(), count).await? {
                        if let Reply::Error(text) = reply {
                            return Err(self.server_error(&text));
                        }
                    }
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
