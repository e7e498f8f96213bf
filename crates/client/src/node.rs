//! One node as the client sees it: its connections, its health, its repair hints, its run id.
//!
//! ## Health
//!
//! `Healthy` → (consecutive failures reach the threshold, and the ejection cap allows) →
//! `Ejected` → (a probe with jittered exponential backoff: connect, PING, read the run id) →
//! `Recovering` (repair: invalidate hinted keys, or empty the node if the hints overflowed;
//! writes reach it, reads do not) → `Healthy`. A node whose run id changed restarted empty:
//! nothing on it can be stale, its hints are dropped, and it warms up from its replicas.

use std::sync::atomic::{AtomicU32, AtomicU8, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use arc_swap::ArcSwapOption;
use bytes::Bytes;

use crate::builder::{NodeSpec, Settings};
use crate::connection::{command, Connection};
use crate::error::{Error, ErrorKind, Result};
use crate::hints::Hints;
use crate::metrics::NodeMetrics;
use crate::reply::Reply;

/// Keys invalidated per DEL during repair.
const REPLAY_BATCH: usize = 512;
/// Shortest and longest wait before reconnecting a failed connection.
const RECONNECT_MIN: Duration = Duration::from_millis(50);
const RECONNECT_MAX: Duration = Duration::from_secs(2);

/// A node's state as the client sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum NodeState {
    /// Serving reads and writes.
    Healthy,
    /// Taken out after consecutive failures; probed in the background.
    Ejected,
    /// Back, being repaired: receives writes, serves no reads yet.
    Recovering,
}

impl NodeState {
    fn from_u8(value: u8) -> Self {
        match value {
            1 => NodeState::Ejected,
            2 => NodeState::Recovering,
            _ => NodeState::Healthy,
        }
    }

    fn as_u8(self) -> u8 {
        match self {
            NodeState::Healthy => 0,
            NodeState::Ejected => 1,
            NodeState::Recovering => 2,
        }
    }
}

/// What the client reports about a node.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct NodeStatus {
    /// Ring name.
    pub name: String,
    /// Address as configured.
    pub addr: String,
    /// Current state.
    pub state: NodeState,
    /// The node's run id, once known.
    pub run_id: Option<String>,
    /// Consecutive failures.
    pub failures: u32,
    /// Keys waiting to be invalidated on it.
    pub hints_pending: usize,
    /// Whether its hints overflowed (it will be emptied before serving reads).
    pub hints_overflowed: bool,
    /// Whether misses on it are being checked against replicas.
    pub warming: bool,
}

/// Counts ejected nodes across the ring, for the ejection cap.
#[derive(Debug, Default)]
pub(crate) struct Fleet {
    pub ejected: AtomicUsize,
    pub total: AtomicUsize,
}

/// One connection slot: the live connection, read without waiting on every request, and the
/// reconnect state behind a lock taken only when there is no live connection.
struct Slot {
    live: ArcSwapOption<Connection>,
    reconnect: tokio::sync::Mutex<Reconnect>,
}

struct Reconnect {
    retry_at: Option<Instant>,
    backoff: Duration,
}

pub(crate) struct Node {
    pub spec: NodeSpec,
    settings: Arc<Settings>,
    fleet: Arc<Fleet>,
    /// Connections. A key always travels on the same one, so the node applies every
    /// command for a key in the order sent, timed-out ones included.
    slots: Vec<Slot>,
    state: AtomicU8,
    failures: AtomicU32,
    pub hints: Hints,
    run_id: Mutex<Option<String>>,
    warm_until: Mutex<Option<Instant>>,
    /// Set when the node leaves the ring, so its prober stops.
    retired: std::sync::atomic::AtomicBool,
    pub metrics: NodeMetrics,
}

impl Node {
    pub fn new(spec: NodeSpec, settings: Arc<Settings>, fleet: Arc<Fleet>) -> Arc<Self> {
        let slots = (0..settings.connections_per_node)
            .map(|_| Slot {
                live: ArcSwapOption::empty(),
                reconnect: tokio::sync::Mutex::new(Reconnect {
                    retry_at: None,
                    backoff: RECONNECT_MIN,
                }),
            })
            .collect();
        let metrics = NodeMetrics::new(&spec.name);
        metrics.state.set(0.0);
        Arc::new(Self {
            hints: Hints::new(settings.hint_capacity),
            spec,
            settings,
            fleet,
            slots,
            state: AtomicU8::new(NodeState::Healthy.as_u8()),
            failures: AtomicU32::new(0),
            run_id: Mutex::new(None),
            warm_until: Mutex::new(None),
            retired: false.into(),
            metrics,
        })
    }

    pub fn name(&self) -> &str {
        &self.spec.name
    }

    pub fn state(&self) -> NodeState {
        NodeState::from_u8(self.state.load(Ordering::Acquire))
    }

    fn set_state(&self, state: NodeState) {
        self.state.store(state.as_u8(), Ordering::Release);
        self.metrics.state.set(f64::from(state.as_u8()));
    }

    /// Whether writes go to this node.
    pub fn takes_writes(&self) -> bool {
        self.state() != NodeState::Ejected
    }

    /// Whether this node may answer a read of `key`: healthy, and not known to have missed a
    /// write of it.
    pub fn serves_read(&self, key: &[u8]) -> bool {
        self.state() == NodeState::Healthy && !self.hints.covers(key)
    }

    /// Whether a miss here should be checked against the next replica.
    pub fn is_warming(&self) -> bool {
        let mut warm = self.warm_until.lock().unwrap_or_else(|p| p.into_inner());
        match *warm {
            Some(until) if Instant::now() < until => true,
            Some(_) => {
                *warm = None;
                false
            }
            None => false,
        }
    }

    fn start_warmup(&self) {
        *self.warm_until.lock().unwrap_or_else(|p| p.into_inner()) =
            Some(Instant::now() + self.settings.warmup);
    }

    pub fn retire(&self) {
        self.retired.store(true, Ordering::Release);
        if self.state() == NodeState::Ejected {
            self.fleet.ejected.fetch_sub(1, Ordering::AcqRel);
        }
    }

    pub fn status(&self) -> NodeStatus {
        NodeStatus {
            name: self.spec.name.clone(),
            addr: self.spec.addr.clone(),
            state: self.state(),
            run_id: self
                .run_id
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .clone(),
            failures: self.failures.load(Ordering::Relaxed),
            hints_pending: self.hints.len(),
            hints_overflowed: self.hints.overflowed(),
            warming: self.is_warming(),
        }
    }

    /// Records that the node missed a write of `key`.
    pub fn add_hint(&self, key: &[u8]) {
        self.hints.add(key);
        self.metrics.hints_pending.set(self.hints.len() as f64);
    }

    /// The connection slot that carries `key`.
    pub fn slot_for(&self, key: &[u8]) -> usize {
        (crate::ring::key_hash(key) % self.slots.len() as u64) as usize
    }

    /// The live connection of `slot`, if there is one.
    fn live(&self, slot: usize) -> Option<Arc<Connection>> {
        self.slots[slot]
            .live
            .load_full()
            .filter(|connection| connection.is_alive())
    }

    /// The live connection of `slot`, opening one if needed (with backoff after failures).
    async fn connection(self: &Arc<Self>, slot: usize) -> Result<Arc<Connection>> {
        if let Some(connection) = self.live(slot) {
            return Ok(connection);
        }
        let mut reconnect = self.slots[slot].reconnect.lock().await;
        // Another request may have reconnected while this one waited for the lock.
        if let Some(connection) = self.live(slot) {
            return Ok(connection);
        }
        if let Some(retry_at) = reconnect.retry_at {
            if Instant::now() < retry_at {
                return Err(Error::new(ErrorKind::Io, "reconnecting after a failure")
                    .with_node(self.name()));
            }
        }
        match self.open().await {
            Ok(connection) => {
                let connection = Arc::new(connection);
                self.slots[slot].live.store(Some(Arc::clone(&connection)));
                reconnect.retry_at = None;
                reconnect.backoff = RECONNECT_MIN;
                Ok(connection)
            }
            Err(e) => {
                self.slots[slot].live.store(None);
                reconnect.retry_at = Some(Instant::now() + reconnect.backoff);
                reconnect.backoff = (reconnect.backoff * 2).min(RECONNECT_MAX);
                Err(e.with_node(self.name()))
            }
        }
    }

    /// Opens a connection and learns the node's run id; a changed run id means the node
    /// restarted empty.
    async fn open(self: &Arc<Self>) -> Result<Connection> {
        let connection =
            Connection::connect(&self.spec.addr, self.settings.connect_timeout).await?;
        // One command during the handshake, within the request timeout.
        let handshake = |args: &[&[u8]], what: &'static str| {
            let deadline = tokio::time::Instant::now() + self.settings.request_timeout;
            let sent = connection.send(command(args), 1, deadline);
            async move {
                sent.await.map_err(|e| {
                    if e.is_timeout() {
                        Error::new(ErrorKind::Timeout, format!("{what} timed out"))
                    } else {
                        e
                    }
                })
            }
        };
        if let Some(password) = &self.settings.password {
            let auth = handshake(&[b"AUTH", password.as_bytes()], "AUTH").await?;
            if let Some(Reply::Error(text)) = auth.first() {
                return Err(Error::new(
                    ErrorKind::Config,
                    format!(
                        "the node refused the password: {}",
                        String::from_utf8_lossy(text)
                    ),
                ));
            }
        }
        let info = handshake(&[b"INFO", b"server"], "INFO server").await?;
        let run_id = match info.first() {
            Some(Reply::Bulk(text)) => parse_run_id(text),
            _ => None,
        };
        if let Some(run_id) = run_id {
            self.observe_run_id(run_id);
        }
        Ok(connection)
    }

    fn observe_run_id(&self, run_id: String) {
        let mut known = self.run_id.lock().unwrap_or_else(|p| p.into_inner());
        match known.as_deref() {
            Some(previous) if previous != run_id => {
                tracing::info!(
                    node = self.name(),
                    "node restarted (new run id): dropping its hints, warming it up"
                );
                self.hints.clear();
                self.metrics.hints_pending.set(0.0);
                self.start_warmup();
            }
            _ => {}
        }
        *known = Some(run_id);
    }

    /// Sends pre-encoded commands on `slot` expecting `replies` replies, within the request
    /// timeout, and records the outcome for health.
    pub async fn request(
        self: &Arc<Self>,
        slot: usize,
        bytes: Bytes,
        replies: usize,
    ) -> Result<Vec<Reply>> {
        let started = tokio::time::Instant::now();
        let deadline = started + self.settings.request_timeout;
        self.metrics.requests.increment(1);
        let no_reply = || {
            Error::new(
                ErrorKind::Timeout,
                format!("no reply within {:?}", self.settings.request_timeout),
            )
        };
        let attempt = async {
            let connection = match self.live(slot) {
                Some(connection) => connection,
                // Connecting has its own timeout; waiting for another request's connect does
                // not, so bound the whole slow path by the deadline.
                // Boxed: connecting (with its handshake) is the rare path, and unboxed it
                // would make every request's future larger.
                None => tokio::time::timeout_at(deadline, Box::pin(self.connection(slot)))
                    .await
                    .map_err(|_| no_reply())??,
            };
            connection
                .send(bytes, replies, deadline)
                .await
                .map_err(|e| if e.is_timeout() { no_reply() } else { e })
        };
        let result = attempt.await.map_err(|e| e.with_node(self.name()));
        self.metrics.latency.record(started.elapsed().as_secs_f64());
        match &result {
            Ok(_) => self.record_success(),
            Err(e) => {
                self.metrics.errors.increment(1);
                if e.is_timeout() {
                    self.metrics.timeouts.increment(1);
                }
                self.record_failure(e);
            }
        }
        result
    }

    /// One command for `key`, on the key's connection.
    pub async fn call_key(self: &Arc<Self>, key: &[u8], args: &[&[u8]]) -> Result<Reply> {
        self.call(self.slot_for(key), args).await
    }

    /// One command, one reply; a top-level error reply becomes [`ErrorKind::Server`].
    pub async fn call(self: &Arc<Self>, slot: usize, args: &[&[u8]]) -> Result<Reply> {
        self.call_encoded(slot, command(args)).await
    }

    /// [`Node::call`] with the command already encoded (to send one encoding to several nodes).
    pub async fn call_encoded(self: &Arc<Self>, slot: usize, bytes: Bytes) -> Result<Reply> {
        let mut replies = self.request(slot, bytes, 1).await?;
        match replies.pop() {
            Some(Reply::Error(text)) => Err(self.server_error(&text)),
            Some(reply) => Ok(reply),
            None => Err(Error::new(ErrorKind::Protocol, "missing reply").with_node(self.name())),
        }
    }

    /// The error for an error reply from this node.
    pub(crate) fn server_error(&self, text: &[u8]) -> Error {
        Error::new(
            ErrorKind::Server,
            String::from_utf8_lossy(text).into_owned(),
        )
        .with_node(self.name())
    }

    fn record_success(&self) {
        self.failures.store(0, Ordering::Relaxed);
    }

    fn record_failure(self: &Arc<Self>, error: &Error) {
        let failures = self.failures.fetch_add(1, Ordering::AcqRel) + 1;
        if failures >= self.settings.failure_threshold && self.state() == NodeState::Healthy {
            self.try_eject(error);
        }
    }

    fn try_eject(self: &Arc<Self>, error: &Error) {
        let total = self.fleet.total.load(Ordering::Acquire);
        let allowed = ((total as f64) * self.settings.max_ejected_fraction).floor() as usize;
        let admitted = self
            .fleet
            .ejected
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |ejected| {
                (ejected < allowed).then_some(ejected + 1)
            })
            .is_ok();
        if !admitted {
            tracing::warn!(node = self.name(), %error, allowed, "not ejecting: the ejection cap is reached");
            return;
        }
        if self
            .state
            .compare_exchange(
                NodeState::Healthy.as_u8(),
                NodeState::Ejected.as_u8(),
                Ordering::AcqRel,
                Ordering::Acquire,
            )
            .is_err()
        {
            self.fleet.ejected.fetch_sub(1, Ordering::AcqRel);
            return;
        }
        self.metrics.state.set(1.0);
        self.metrics.ejections.increment(1);
        tracing::warn!(node = self.name(), %error, "node ejected after consecutive failures");
        tokio::spawn(Arc::clone(self).probe_until_back());
    }

    /// Probes with jittered exponential backoff until the node answers, then repairs and
    /// re-admits it.
    async fn probe_until_back(self: Arc<Self>) {
        let mut wait = self.settings.probe_interval;
        loop {
            let jitter = rand::random_range(0.8..1.2);
            tokio::time::sleep(wait.mul_f64(jitter)).await;
            if self.retired.load(Ordering::Acquire) {
                return;
            }
            match self.probe().await {
                Ok(()) => {
                    self.set_state(NodeState::Recovering);
                    match self.repair().await {
                        Ok(()) => {
                            self.failures.store(0, Ordering::Relaxed);
                            self.fleet.ejected.fetch_sub(1, Ordering::AcqRel);
                            self.set_state(NodeState::Healthy);
                            self.metrics.readmissions.increment(1);
                            tracing::info!(node = self.name(), "node re-admitted after repair");
                            return;
                        }
                        Err(error) => {
                            tracing::warn!(node = self.name(), %error, "repair failed; node stays ejected");
                            self.set_state(NodeState::Ejected);
                        }
                    }
                }
                Err(error) => tracing::debug!(node = self.name(), %error, "probe failed"),
            }
            wait = (wait * 2).min(self.settings.max_probe_interval);
        }
    }

    /// PINGs every connection. A connection that survived the outage carries the writes sent
    /// before it, and the node answers the PING only after applying them, so repair, which
    /// follows, is never overtaken by an older write still in flight.
    async fn probe(self: &Arc<Self>) -> Result<()> {
        for slot in 0..self.slots.len() {
            self.call(slot, &[b"PING"]).await?;
        }
        Ok(())
    }

    /// Makes the node safe to read from: empties it if its hints overflowed, otherwise deletes
    /// every hinted key. Runs until no hint is left (writes that fail meanwhile add more).
    pub async fn repair(self: &Arc<Self>) -> Result<()> {
        loop {
            if self.hints.overflowed() {
                self.call(0, &[b"FLUSHALL"]).await?;
                self.hints.clear();
                self.metrics.flushes.increment(1);
                self.start_warmup();
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
            for slot in 0..self.slots.len() {
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
            // A node that came back keeps serving misses from replicas for a while: the keys
            // just invalidated are still on the other replicas.
            self.start_warmup();
        }
    }
}

fn parse_run_id(info: &[u8]) -> Option<String> {
    let text = std::str::from_utf8(info).ok()?;
    text.lines()
        .find_map(|line| line.strip_prefix("run_id:"))
        .map(|id| id.trim().to_string())
}

#[cfg(test)]
mod tests {
    use super::parse_run_id;

    #[test]
    fn run_id_from_info() {
        assert_eq!(
            parse_run_id(b"# Server\r\nredis_version:7.0.0\r\nrun_id:abc123\r\n").as_deref(),
            Some("abc123")
        );
        assert_eq!(parse_run_id(b"# Server\r\n"), None);
    }
}
