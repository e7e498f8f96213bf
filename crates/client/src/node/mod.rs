//! One node as the client sees it: its connections ([`pool`]), its health ([`health`]), the
//! keys it missed ([`hints`]) and its repair and warm-up ([`repair`]).
//!
//! Every request to a node goes through [`Node::request`], which keeps the request timeout
//! and records the outcome for health. What a route may do with the node is asked of it:
//! [`Node::takes_writes`], [`Node::serves_read`], [`Node::is_warming`].

mod health;
mod hints;
mod pool;
mod repair;

use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, AtomicU8, Ordering};
use std::sync::{Arc, Mutex};

use bytes::Bytes;

use crate::connection::command;
use crate::error::{Error, ErrorKind, Result};
use crate::metrics::NodeMetrics;
use crate::options::{NodeSpec, Settings};
use crate::reply::Reply;

pub(crate) use hints::Hints;

/// The version of a hint whose missed write's version is not known (a mutation whose result
/// never came back): repair invalidates whatever the node holds, just above its own version.
pub(crate) const UNKNOWN_VERSION: u64 = 0;
pub(crate) use repair::Warmup;

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
    /// Whether it is being refilled (it came back empty or joined the ring, and copies of its
    /// keys are on their way from the other nodes), or is about to be.
    pub refilling: bool,
}

/// What a request asks of a node connection.
enum Ask {
    /// Encoded commands and the number of replies they get.
    Commands(Bytes, usize),
    /// A version check of one key.
    Check(Bytes),
}

/// Counts ejected nodes across the ring, for the ejection cap.
#[derive(Debug, Default)]
pub(crate) struct Fleet {
    pub ejected: std::sync::atomic::AtomicUsize,
    pub total: std::sync::atomic::AtomicUsize,
    /// Woken when a node is ejected: nodes found by DNS are looked up again (a pod that moved
    /// fails at its old address first).
    pub rediscover: tokio::sync::Notify,
}

pub(crate) struct Node {
    pub spec: NodeSpec,
    settings: Arc<Settings>,
    fleet: Arc<Fleet>,
    /// Connections. A key always travels on the same one, so the node applies every
    /// command for a key in the order sent, timed-out ones included.
    pool: pool::Pool,
    state: AtomicU8,
    failures: AtomicU32,
    pub hints: Hints,
    run_id: Mutex<Option<String>>,
    /// The name the node reported on its last new connection (INFO's `cachering_node_name`).
    reported_name: Mutex<Option<String>>,
    warmup: Warmup,
    /// Set when the node leaves the ring, so its prober stops.
    retired: AtomicBool,
    /// Set when the node needs the background refill (came back empty, joined the ring).
    pub(crate) refill: AtomicBool,
    /// Set while a refill of the node runs.
    pub(crate) refilling: AtomicBool,
    /// Probes sent while ejected.
    pub probes: AtomicU64,
    pub metrics: NodeMetrics,
    /// Its invalidation stream, for the near cache.
    pub(crate) stream: crate::near::StreamState,
}

impl Node {
    pub fn new(spec: NodeSpec, settings: Arc<Settings>, fleet: Arc<Fleet>) -> Arc<Self> {
        let metrics = NodeMetrics::new(&spec.name);
        metrics.state.set(0.0);
        Arc::new(Self {
            hints: Hints::new(settings.hint_capacity),
            pool: pool::Pool::new(settings.connections_per_node),
            warmup: Warmup::new(settings.warmup),
            spec,
            settings,
            fleet,
            state: AtomicU8::new(NodeState::Healthy.as_u8()),
            failures: AtomicU32::new(0),
            run_id: Mutex::new(None),
            reported_name: Mutex::new(None),
            retired: false.into(),
            refill: false.into(),
            refilling: false.into(),
            probes: AtomicU64::new(0),
            metrics,
            stream: crate::near::StreamState::default(),
        })
    }

    pub fn name(&self) -> &str {
        &self.spec.name
    }

    /// The name the node reported about itself on its last new connection, if any.
    pub fn reported_name(&self) -> Option<String> {
        self.reported_name
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
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

    /// Whether a miss here should be checked against the next replica: the node came back
    /// empty, or had keys invalidated, a short while ago.
    pub fn is_warming(&self) -> bool {
        self.warmup.is_active()
    }

    /// Whether the node left the ring.
    pub fn is_retired(&self) -> bool {
        self.retired.load(Ordering::Acquire)
    }

    /// Takes the node out of service for good (it left the ring).
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
            refilling: self.is_refilling() || self.refill.load(Ordering::Acquire),
        }
    }

    /// Records that the node missed a write of `key` at `version`.
    pub fn add_hint(&self, key: &[u8], version: u64) {
        self.hints.add(key, version);
        self.metrics.hints_pending.set(self.hints.len() as f64);
    }

    /// The connection slot that carries `key`.
    pub fn slot_for(&self, key: &[u8]) -> usize {
        self.pool.slot_for(key)
    }

    /// Sends pre-encoded commands on `slot` expecting `replies` replies, within the request
    /// timeout, and records the outcome for health.
    pub async fn request(
        self: &Arc<Self>,
        slot: usize,
        bytes: Bytes,
        replies: usize,
    ) -> Result<Vec<Reply>> {
        self.ask(slot, Ask::Commands(bytes, replies)).await
    }

    /// The version of `key` on this node: one element of a `VVER` that carries every check
    /// queued on the key's connection at the same moment.
    pub async fn check(self: &Arc<Self>, key: &[u8]) -> Result<Reply> {
        let slot = self.slot_for(key);
        let mut replies = self
            .ask(slot, Ask::Check(Bytes::copy_from_slice(key)))
            .await?;
        replies
            .pop()
            .ok_or_else(|| Error::new(ErrorKind::Protocol, "missing reply").with_node(self.name()))
    }

    async fn ask(self: &Arc<Self>, slot: usize, ask: Ask) -> Result<Vec<Reply>> {
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
            let connection = match self.pool.live(slot) {
                Some(connection) => connection,
                // Connecting has its own timeout; waiting for another request's connect does
                // not, so bound the whole slow path by the deadline.
                // Boxed: connecting (with its handshake) is the rare path, and unboxed it
                // would make every request's future larger.
                None => tokio::time::timeout_at(deadline, Box::pin(self.connection(slot)))
                    .await
                    .map_err(|_| no_reply())??,
            };
            match ask {
                Ask::Commands(bytes, replies) => connection.send(bytes, replies, deadline).await,
                Ask::Check(key) => connection.check(key, deadline).await,
            }
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

    /// Sends one command that may wait long (VWAIT) on a connection of its own, since a
    /// waiting connection would stall every request multiplexed behind it, and waits for its
    /// reply until `deadline`. Dropping the future closes that connection, which ends the
    /// wait on the node. Not counted for health: the wait says nothing about the node.
    pub async fn wait_alone(
        self: &Arc<Self>,
        args: &[&[u8]],
        deadline: tokio::time::Instant,
    ) -> Result<Reply> {
        let connection = tokio::time::timeout_at(deadline, self.open())
            .await
            .map_err(|_| Error::new(ErrorKind::Timeout, "connect timed out"))??;
        let mut replies = connection.send(command(args), 1, deadline).await?;
        match replies.pop() {
            Some(reply) => self.reply_result(reply),
            None => Err(Error::new(ErrorKind::Protocol, "missing reply").with_node(self.name())),
        }
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
            Some(reply) => self.reply_result(reply),
            None => Err(Error::new(ErrorKind::Protocol, "missing reply").with_node(self.name())),
        }
    }

    /// A reply from this node as a result: an error reply becomes [`ErrorKind::Server`].
    pub fn reply_result(&self, reply: Reply) -> Result<Reply> {
        match reply {
            Reply::Error(text) => Err(self.server_error(&text)),
            reply => Ok(reply),
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
}
