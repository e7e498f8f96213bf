//! The client: routing over the ring, failover, replication and repair.
//!
//! ## Behavior
//!
//! - **Reads** go to the key's first replica that serves reads (healthy, and not known to have
//!   missed a write of the key); on a timeout or connection error, to the next. A miss is a
//!   miss, except on a node that came back empty (restart, or emptied for repair) during its
//!   warm-up: then the next replica is asked and, on a hit, the value is copied back
//!   (`SET … NX`, with the remaining TTL).
//! - **Writes** go to every replica that is not ejected, in parallel, and wait for all of them
//!   up to the request timeout. The write succeeds when the [`WriteRule`](crate::WriteRule) is
//!   met (default: one acknowledgement). Every replica that missed it, ejected or failed, gets a
//!   repair hint and serves no read of that key until the key is invalidated on it.
//! - **Value-dependent mutations** (INCR, APPEND, conditional SET, ...) run on one replica, in a
//!   MULTI with a read-back of the value and its TTL, and that result is written to the other
//!   replicas, so replicas hold the same value.
//! - Writes, mutations and warm-up fills of one key are serialised within a client (striped
//!   locks), so a fill or a propagation never overwrites a newer write made through the same
//!   client. Two client processes writing the same key at the same instant can still leave
//!   replicas different until the next write.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use arc_swap::ArcSwap;
use bytes::{Bytes, BytesMut};
use futures::future::join_all;

use crate::builder::{NodeSpec, Settings};
use crate::connection::{command, encode_command};
use crate::error::{Error, ErrorKind, Result};
use crate::node::{Fleet, Node, NodeStatus};
use crate::reply::Reply;
use crate::ring::{key_hash, Ring};

mod pipeline;
pub use pipeline::Routed;

/// A key's replicas.
type Replicas = smallvec::SmallVec<[Arc<Node>; 4]>;

/// Locks that serialise writes of one key within a client (a key maps to one stripe).
const STRIPES: usize = 1024;
/// How often the background task repairs nodes that missed writes while staying healthy.
const REPAIR_TICK: Duration = Duration::from_millis(100);

/// Whether a routed command reads, writes, or computes its new value from the old one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Access {
    /// Served by one replica, with fallback.
    Read,
    /// Sent to every replica.
    Write,
    /// Run on one replica; its resulting value is copied to the others.
    Mutation,
}

/// Options for [`Client::set_with`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct SetOptions {
    /// Expire after this long (millisecond precision).
    pub ttl: Option<Duration>,
    /// Only if the key does not exist (NX).
    pub if_absent: bool,
    /// Only if the key exists (XX).
    pub if_present: bool,
    /// Return the previous value (GET).
    pub get: bool,
}

impl SetOptions {
    /// No options.
    pub fn new() -> Self {
        Self::default()
    }

    /// With a time to live.
    pub fn ttl(mut self, ttl: Duration) -> Self {
        self.ttl = Some(ttl);
        self
    }

    /// Only when the key is absent.
    pub fn if_absent(mut self) -> Self {
        self.if_absent = true;
        self
    }

    /// Only when the key is present.
    pub fn if_present(mut self) -> Self {
        self.if_present = true;
        self
    }

    /// Also return the previous value.
    pub fn get(mut self) -> Self {
        self.get = true;
        self
    }
}

/// What a conditional or GET-returning SET did.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct SetOutcome {
    /// Whether the value was stored.
    pub applied: bool,
    /// The previous value, when asked for with [`SetOptions::get`].
    pub previous: Option<Bytes>,
}

/// A key's time to live.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Ttl {
    /// The key does not exist.
    Missing,
    /// The key exists and does not expire.
    Persistent,
    /// The key expires after this long.
    ExpiresIn(Duration),
}

/// One node's share of a multi-key write: on one connection, the keys it is the first
/// writable replica of (their replies are counted) and the others.
struct WritePlan {
    node: Arc<Node>,
    slot: usize,
    firsts: Vec<usize>,
    others: Vec<usize>,
}

pub(crate) struct Topology {
    pub ring: Ring,
    pub nodes: Vec<Arc<Node>>,
}

struct Inner {
    topology: ArcSwap<Topology>,
    settings: Arc<Settings>,
    fleet: Arc<Fleet>,
    stripes: Vec<tokio::sync::Mutex<()>>,
    repair_task: tokio::task::JoinHandle<()>,
}

impl Drop for Inner {
    fn drop(&mut self) {
        self.repair_task.abort();
        for node in &self.topology.load().nodes {
            node.retire();
        }
    }
}

/// A client for a ring of cachering nodes. Cheap to clone: clones share connections, health
/// and repair state.
///
/// ```no_run
/// # #[tokio::main]
/// # async fn main() -> cachering_client::Result<()> {
/// use std::time::Duration;
/// use cachering_client::{ClientBuilder, SetOptions};
///
/// let client = ClientBuilder::new()
///     .nodes(["127.0.0.1:7001", "127.0.0.1:7002", "127.0.0.1:7003"])
///     .build()?;
/// client.set("user:42", "Ada").await?;
/// assert_eq!(client.get("user:42").await?.as_deref(), Some(&b"Ada"[..]));
/// client.set_with("session:1", "token", SetOptions::new().ttl(Duration::from_secs(30))).await?;
/// assert_eq!(client.incr("visits").await?, 1);
/// let values = client.mget(["user:42", "missing"]).await?;
/// assert_eq!(values[1], None);
/// # Ok(())
/// # }
/// ```
#[derive(Clone)]
pub struct Client {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client")
            .field("nodes", &self.inner.topology.load().ring.names())
            .finish()
    }
}

fn stripe(key: &[u8]) -> usize {
    (key_hash(key) % STRIPES as u64) as usize
}

fn ring_of(nodes: &[Arc<Node>]) -> Ring {
    let specs: Vec<(&str, f64)> = nodes
        .iter()
        .map(|node| (node.spec.name.as_str(), node.spec.weight))
        .collect();
    Ring::new(&specs)
}

impl Client {
    pub(crate) fn from_parts(specs: Vec<NodeSpec>, settings: Settings) -> Self {
        crate::metrics::describe();
        let settings = Arc::new(settings);
        let fleet = Arc::new(Fleet::default());
        fleet.total.store(specs.len(), Ordering::Release);
        let nodes: Vec<Arc<Node>> = specs
            .into_iter()
            .map(|spec| Node::new(spec, Arc::clone(&settings), Arc::clone(&fleet)))
            .collect();
        let topology = ArcSwap::from_pointee(Topology {
            ring: ring_of(&nodes),
            nodes,
        });
        let inner = Arc::new_cyclic(|weak: &std::sync::Weak<Inner>| {
            let weak = weak.clone();
            let repair_task = tokio::spawn(async move {
                let mut tick = tokio::time::interval(REPAIR_TICK);
                tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
                loop {
                    tick.tick().await;
                    let Some(inner) = weak.upgrade() else { return };
                    let topology = inner.topology.load_full();
                    drop(inner);
                    for node in &topology.nodes {
                        if node.state() == crate::node::NodeState::Healthy && !node.hints.is_empty()
                        {
                            if let Err(error) = node.repair().await {
                                tracing::debug!(node = node.name(), %error, "repair of a healthy node failed; will retry");
                            }
                        }
                    }
                }
            });
            Inner {
                topology,
                settings,
                fleet,
                stripes: (0..STRIPES).map(|_| tokio::sync::Mutex::new(())).collect(),
                repair_task,
            }
        });
        Self { inner }
    }

    /// The state of every node.
    pub fn node_status(&self) -> Vec<NodeStatus> {
        self.inner
            .topology
            .load()
            .nodes
            .iter()
            .map(|node| node.status())
            .collect()
    }

    /// The ring in use.
    pub fn ring(&self) -> Ring {
        self.inner.topology.load().ring.clone()
    }

    /// Replaces the node list. The new ring takes effect at once for new requests; requests in
    /// flight finish on the old one. Nodes kept (same name) keep their connections, health and
    /// hints; removed nodes are closed.
    pub fn set_nodes(&self, specs: Vec<NodeSpec>) -> Result<()> {
        if specs.is_empty() {
            return Err(Error::new(ErrorKind::Config, "no nodes"));
        }
        let current = self.inner.topology.load_full();
        let mut nodes = Vec::with_capacity(specs.len());
        for spec in specs {
            match current.nodes.iter().find(|node| node.spec == spec) {
                Some(existing) => nodes.push(Arc::clone(existing)),
                None => nodes.push(Node::new(
                    spec,
                    Arc::clone(&self.inner.settings),
                    Arc::clone(&self.inner.fleet),
                )),
            }
        }
        for old in &current.nodes {
            if !nodes.iter().any(|node| Arc::ptr_eq(node, old)) {
                old.retire();
            }
        }
        self.inner.fleet.total.store(nodes.len(), Ordering::Release);
        self.inner.topology.store(Arc::new(Topology {
            ring: ring_of(&nodes),
            nodes,
        }));
        tracing::info!(
            nodes = self.inner.topology.load().nodes.len(),
            "node list replaced"
        );
        Ok(())
    }

    /// Number of nodes in the ring.
    pub fn node_count(&self) -> usize {
        self.inner.topology.load().nodes.len()
    }

    /// The index of the node that would serve a read of `key` now (its first replica that is
    /// healthy and not known to have missed a write of it), if any.
    pub fn read_node(&self, key: &[u8]) -> Option<usize> {
        let topology = self.inner.topology.load();
        topology
            .ring
            .replicas(key, self.inner.settings.replicas)
            .into_iter()
            .find(|&index| topology.nodes[index].serves_read(key))
    }

    /// The indexes of the key's replicas, primary first.
    pub fn replica_set(&self, key: &[u8]) -> Vec<usize> {
        self.inner
            .topology
            .load()
            .ring
            .replicas(key, self.inner.settings.replicas)
    }

    /// Sends a command to one node by index (for commands about a node rather than a key:
    /// DBSIZE, SCAN, INFO). Fails with [`ErrorKind::Unavailable`] if the node is ejected.
    pub async fn on_node(&self, index: usize, args: &[&[u8]]) -> Result<Reply> {
        let topology = self.inner.topology.load_full();
        let node = topology
            .nodes
            .get(index)
            .ok_or_else(|| Error::new(ErrorKind::Config, format!("no node {index}")))?;
        if node.state() == crate::node::NodeState::Ejected {
            return Err(
                Error::new(ErrorKind::Unavailable, "node is ejected").with_node(node.name())
            );
        }
        node.call(0, args).await
    }

    /// Empties every node. A node that cannot be reached now (ejected, or failing) is marked
    /// to be emptied before it serves reads again, so no value from before the flush returns.
    pub async fn flush_all(&self) -> Result<()> {
        let topology = self.inner.topology.load_full();
        let flushes = topology.nodes.iter().map(|node| async move {
            if node.state() == crate::node::NodeState::Ejected {
                node.hints.mark_overflowed();
                return Ok(());
            }
            let result = node.call(0, &[b"FLUSHALL"]).await;
            if result.is_err() {
                node.hints.mark_overflowed();
            }
            result.map(drop)
        });
        let results = join_all(flushes).await;
        if results.iter().all(Result::is_err) {
            return results.into_iter().next().unwrap_or(Ok(())).map(drop);
        }
        Ok(())
    }

    /// The replicas of `key`, in ring order. No allocation for up to four replicas: this runs
    /// for every command.
    fn replicas(&self, topology: &Topology, key: &[u8]) -> Replicas {
        thread_local! {
            static INDICES: std::cell::RefCell<Vec<usize>> = const { std::cell::RefCell::new(Vec::new()) };
        }
        INDICES.with_borrow_mut(|indices| {
            topology
                .ring
                .replicas_into(key, self.inner.settings.replicas, indices);
            indices
                .iter()
                .map(|&index| Arc::clone(&topology.nodes[index]))
                .collect()
        })
    }

    // ---- the three routes ----

    /// Serves a read from the first replica that can answer; with `fill_misses`, a miss on a
    /// warming node is checked against the next replica and copied back.
    async fn read(&self, key: &[u8], args: &[&[u8]], fill_misses: bool) -> Result<Reply> {
        self.read_past(key, args, fill_misses, None).await
    }

    /// [`Client::read`], passing over `failed` (a replica that just failed this read) as if it
    /// were unable to serve it.
    async fn read_past(
        &self,
        key: &[u8],
        args: &[&[u8]],
        fill_misses: bool,
        failed: Option<(&Arc<Node>, Error)>,
    ) -> Result<Reply> {
        let topology = self.inner.topology.load_full();
        let replicas = self.replicas(&topology, key);
        let mut skipped = failed.is_some();
        let (failed, mut last_error) = failed.unzip();
        let mut warming_miss: Option<Arc<Node>> = None;
        for node in &replicas {
            if !node.serves_read(key) || failed.is_some_and(|f| Arc::ptr_eq(f, node)) {
                skipped = true;
                continue;
            }
            match node.call_key(key, args).await {
                Ok(Reply::Nil) if fill_misses && warming_miss.is_none() && node.is_warming() => {
                    warming_miss = Some(Arc::clone(node));
                    skipped = true;
                }
                Ok(reply) => {
                    if skipped {
                        node.metrics.fallback_reads.increment(1);
                    }
                    if let (Some(empty), Reply::Bulk(_)) = (&warming_miss, &reply) {
                        // Boxed: the rare path, kept out of every read's future.
                        Box::pin(self.fill(key, empty, node)).await;
                    }
                    return Ok(reply);
                }
                Err(error) if error.is_server_error() => return Err(error),
                Err(error) => {
                    skipped = true;
                    last_error = Some(error);
                }
            }
        }
        if warming_miss.is_some() {
            return Ok(Reply::Nil);
        }
        Err(last_error.unwrap_or_else(|| {
            Error::new(
                ErrorKind::Unavailable,
                "no replica of the key can serve reads",
            )
        }))
    }

    /// Copies `key` from `source` into `empty` (a node warming up), unless written meanwhile.
    async fn fill(&self, key: &[u8], empty: &Arc<Node>, source: &Arc<Node>) {
        let _guard = self.inner.stripes[stripe(key)].lock().await;
        let mut batch = BytesMut::new();
        encode_command(&[b"GET", key], &mut batch);
        encode_command(&[b"PTTL", key], &mut batch);
        let Ok(replies) = source
            .request(source.slot_for(key), batch.freeze(), 2)
            .await
        else {
            return;
        };
        let (Some(Reply::Bulk(value)), Some(Reply::Int(ttl))) = (replies.first(), replies.get(1))
        else {
            return;
        };
        let ttl_text;
        let mut args: Vec<&[u8]> = vec![b"SET", key, value, b"NX"];
        if *ttl > 0 {
            ttl_text = ttl.to_string();
            args.extend([&b"PX"[..], ttl_text.as_bytes()]);
        } else if *ttl != -1 {
            return;
        }
        if empty.call_key(key, &args).await.is_ok() {
            empty.metrics.warmup_fills.increment(1);
        }
    }

    /// Sends a write to every replica that takes writes; hints for every replica that missed it.
    async fn write(&self, key: &[u8], args: &[&[u8]]) -> Result<Reply> {
        // With one replica there is no fill or propagation for a write to race with, so no
        // lock: writes of a key still leave in the order they are sent, on one connection.
        let _guard = if self.inner.settings.replicas > 1 {
            Some(self.inner.stripes[stripe(key)].lock().await)
        } else {
            None
        };
        let topology = self.inner.topology.load_full();
        let replicas = self.replicas(&topology, key);
        self.fan_out(key, &replicas, args, None).await
    }

    /// The write fan-out under the key's stripe lock. `skip` names a replica already written.
    async fn fan_out(
        &self,
        key: &[u8],
        replicas: &[Arc<Node>],
        args: &[&[u8]],
        skip: Option<&Arc<Node>>,
    ) -> Result<Reply> {
        let targets = replicas
            .iter()
            .filter(|node| skip.is_none_or(|s| !Arc::ptr_eq(s, node)));
        let bytes = command(args);
        let writable: smallvec::SmallVec<[&Arc<Node>; 4]> = targets
            .filter(|node| {
                let takes = node.takes_writes();
                if !takes {
                    node.add_hint(key);
                }
                takes
            })
            .collect();
        // One replica (R = 1, or the others ejected) needs no join.
        let results: smallvec::SmallVec<[(&Arc<Node>, Result<Reply>); 4]> =
            if let [node] = writable[..] {
                let result = node.call_encoded(node.slot_for(key), bytes).await;
                smallvec::smallvec![(node, result)]
            } else {
                join_all(writable.iter().map(|&node| {
                    let bytes = bytes.clone();
                    async move { (node, node.call_encoded(node.slot_for(key), bytes).await) }
                }))
                .await
                .into_iter()
                .collect()
            };
        let mut tally = pipeline::WriteTally {
            replicas: replicas.len(),
            acknowledged: usize::from(skip.is_some()),
            ..Default::default()
        };
        for (node, result) in results {
            tally.record(node, key, result);
        }
        self.write_outcome(tally)
    }

    /// Runs a value-dependent command on one replica and copies the resulting value (and TTL)
    /// to the others.
    async fn mutate(&self, key: &[u8], args: &[&[u8]]) -> Result<Reply> {
        let _guard = self.inner.stripes[stripe(key)].lock().await;
        let topology = self.inner.topology.load_full();
        let replicas = self.replicas(&topology, key);
        let mut batch = BytesMut::new();
        encode_command(&[b"MULTI"], &mut batch);
        encode_command(args, &mut batch);
        encode_command(&[b"GET", key], &mut batch);
        encode_command(&[b"PTTL", key], &mut batch);
        encode_command(&[b"EXEC"], &mut batch);
        let batch = batch.freeze();
        let mut last_error = None;
        for node in &replicas {
            if !node.serves_read(key) {
                continue;
            }
            let replies = match node.request(node.slot_for(key), batch.clone(), 5).await {
                Ok(replies) => replies,
                Err(error) => {
                    // It may or may not have applied there.
                    node.add_hint(key);
                    last_error = Some(error);
                    continue;
                }
            };
            let Some(Reply::Array(results)) = replies.into_iter().nth(4) else {
                return Err(Error::new(ErrorKind::Protocol, "unexpected reply to EXEC")
                    .with_node(node.name()));
            };
            let [outcome, value, ttl] = <[Reply; 3]>::try_from(results).map_err(|_| {
                Error::new(ErrorKind::Protocol, "unexpected EXEC results").with_node(node.name())
            })?;
            let ttl_text;
            let propagate: Vec<&[u8]> = match (&value, &ttl) {
                (Reply::Bulk(value), Reply::Int(ttl)) if *ttl > 0 => {
                    ttl_text = ttl.to_string();
                    vec![b"SET", key, value, b"PX", ttl_text.as_bytes()]
                }
                (Reply::Bulk(value), _) => vec![b"SET", key, value],
                _ => vec![b"DEL", key],
            };
            // The other replicas only need the resulting state; one already has it.
            let _ = self.fan_out(key, &replicas, &propagate, Some(node)).await;
            return match outcome {
                Reply::Error(text) => Err(node.server_error(&text)),
                reply => Ok(reply),
            };
        }
        Err(last_error.unwrap_or_else(|| {
            Error::new(ErrorKind::Unavailable, "no replica of the key can serve it")
        }))
    }

    /// Sends any single-key command, routed by `key`. The command is `args` in full (name
    /// first); `access` says how to route it.
    pub async fn command(
        &self,
        key: impl AsRef<[u8]>,
        args: &[&[u8]],
        access: Access,
    ) -> Result<Reply> {
        let key = key.as_ref();
        match access {
            Access::Read => self.read(key, args, false).await,
            Access::Write => self.write(key, args).await,
            // Boxed: a mutation's future is the largest of the three, and the least common.
            Access::Mutation => Box::pin(self.mutate(key, args)).await,
        }
    }

    // ---- single-key API ----

    /// The value of `key`, or `None`.
    pub async fn get(&self, key: impl AsRef<[u8]>) -> Result<Option<Bytes>> {
        let key = key.as_ref();
        match self.read(key, &[b"GET", key], true).await? {
            Reply::Bulk(value) => Ok(Some(value)),
            _ => Ok(None),
        }
    }

    /// Stores `value` under `key` with no expiry.
    pub async fn set(&self, key: impl AsRef<[u8]>, value: impl AsRef<[u8]>) -> Result<()> {
        let key = key.as_ref();
        self.write(key, &[b"SET", key, value.as_ref()])
            .await
            .map(drop)
    }

    /// Stores `value` under `key` with options. Conditional and GET-returning sets run on one
    /// replica and copy the result to the others.
    pub async fn set_with(
        &self,
        key: impl AsRef<[u8]>,
        value: impl AsRef<[u8]>,
        options: SetOptions,
    ) -> Result<SetOutcome> {
        let key = key.as_ref();
        let ttl_text = options.ttl.map(|ttl| ttl.as_millis().max(1).to_string());
        let mut args: Vec<&[u8]> = vec![b"SET", key, value.as_ref()];
        if let Some(ttl) = &ttl_text {
            args.extend([&b"PX"[..], ttl.as_bytes()]);
        }
        if options.if_absent {
            args.push(b"NX");
        }
        if options.if_present {
            args.push(b"XX");
        }
        if options.get {
            args.push(b"GET");
        }
        if !(options.if_absent || options.if_present || options.get) {
            self.write(key, &args).await?;
            return Ok(SetOutcome {
                applied: true,
                previous: None,
            });
        }
        let reply = self.mutate(key, &args).await?;
        Ok(if options.get {
            let previous = match reply {
                Reply::Bulk(previous) => Some(previous),
                _ => None,
            };
            let applied = (!options.if_absent || previous.is_none())
                && (!options.if_present || previous.is_some());
            SetOutcome { applied, previous }
        } else {
            SetOutcome {
                applied: !reply.is_nil(),
                previous: None,
            }
        })
    }

    /// Deletes `key`; true if it existed.
    pub async fn del(&self, key: impl AsRef<[u8]>) -> Result<bool> {
        let key = key.as_ref();
        Ok(self.write(key, &[b"DEL", key]).await?.as_int().unwrap_or(0) > 0)
    }

    /// Whether `key` exists.
    pub async fn exists(&self, key: impl AsRef<[u8]>) -> Result<bool> {
        let key = key.as_ref();
        Ok(self
            .read(key, &[b"EXISTS", key], false)
            .await?
            .as_int()
            .unwrap_or(0)
            > 0)
    }

    /// Sets a time to live; false if the key does not exist.
    pub async fn expire(&self, key: impl AsRef<[u8]>, ttl: Duration) -> Result<bool> {
        let key = key.as_ref();
        let millis = ttl.as_millis().to_string();
        Ok(self
            .write(key, &[b"PEXPIRE", key, millis.as_bytes()])
            .await?
            .as_int()
            .unwrap_or(0)
            > 0)
    }

    /// The key's time to live.
    pub async fn ttl(&self, key: impl AsRef<[u8]>) -> Result<Ttl> {
        let key = key.as_ref();
        Ok(
            match self.read(key, &[b"PTTL", key], false).await?.as_int() {
                Some(-1) => Ttl::Persistent,
                Some(ms) if ms >= 0 => Ttl::ExpiresIn(Duration::from_millis(ms as u64)),
                _ => Ttl::Missing,
            },
        )
    }

    /// Removes the time to live; false if the key had none or does not exist.
    pub async fn persist(&self, key: impl AsRef<[u8]>) -> Result<bool> {
        let key = key.as_ref();
        Ok(self
            .write(key, &[b"PERSIST", key])
            .await?
            .as_int()
            .unwrap_or(0)
            > 0)
    }

    /// Adds `delta` to the integer at `key` (0 if absent); the new value.
    pub async fn incr_by(&self, key: impl AsRef<[u8]>, delta: i64) -> Result<i64> {
        let key = key.as_ref();
        let delta = delta.to_string();
        let reply = self
            .mutate(key, &[b"INCRBY", key, delta.as_bytes()])
            .await?;
        reply
            .as_int()
            .ok_or_else(|| Error::new(ErrorKind::Protocol, "INCRBY did not return an integer"))
    }

    /// Adds 1.
    pub async fn incr(&self, key: impl AsRef<[u8]>) -> Result<i64> {
        self.incr_by(key, 1).await
    }

    /// Subtracts 1.
    pub async fn decr(&self, key: impl AsRef<[u8]>) -> Result<i64> {
        self.incr_by(key, -1).await
    }

    /// Returns the value and deletes the key.
    pub async fn get_del(&self, key: impl AsRef<[u8]>) -> Result<Option<Bytes>> {
        let key = key.as_ref();
        match self.mutate(key, &[b"GETDEL", key]).await? {
            Reply::Bulk(value) => Ok(Some(value)),
            _ => Ok(None),
        }
    }

    // ---- multi-key API ----

    /// Values of several keys, in input order, fetched from each node in parallel.
    pub async fn mget<K: AsRef<[u8]>>(
        &self,
        keys: impl IntoIterator<Item = K>,
    ) -> Result<Vec<Option<Bytes>>> {
        let keys: Vec<K> = keys.into_iter().collect();
        let topology = self.inner.topology.load_full();
        // Group keys by the node that would serve each read; keys no node can serve, or on a
        // warming node, take the single-key path with its fallbacks.
        let mut groups: Vec<(Arc<Node>, usize, Vec<usize>)> = Vec::new();
        let mut single = Vec::new();
        for (position, key) in keys.iter().enumerate() {
            let key = key.as_ref();
            match self
                .replicas(&topology, key)
                .into_iter()
                .find(|node| node.serves_read(key))
            {
                Some(node) if !node.is_warming() => {
                    let slot = node.slot_for(key);
                    match groups
                        .iter_mut()
                        .find(|(n, s, _)| Arc::ptr_eq(n, &node) && *s == slot)
                    {
                        Some((_, _, positions)) => positions.push(position),
                        None => groups.push((node, slot, vec![position])),
                    }
                }
                _ => single.push(position),
            }
        }
        let mut values: Vec<Option<Bytes>> = vec![None; keys.len()];
        let requests = groups.iter().map(|(node, slot, positions)| {
            let mut args: Vec<&[u8]> = vec![b"MGET"];
            args.extend(positions.iter().map(|&p| keys[p].as_ref()));
            async move { node.call(*slot, &args).await }
        });
        let results = join_all(requests).await;
        for ((_, _, positions), result) in groups.iter().zip(results) {
            match result {
                Ok(Reply::Array(replies)) if replies.len() == positions.len() => {
                    for (&position, reply) in positions.iter().zip(replies) {
                        if let Reply::Bulk(value) = reply {
                            values[position] = Some(value);
                        }
                    }
                }
                Ok(_) => return Err(Error::new(ErrorKind::Protocol, "unexpected MGET reply")),
                Err(error) if error.is_server_error() => return Err(error),
                Err(_) => single.extend(positions.iter().copied()),
            }
        }
        let fallbacks = join_all(
            single
                .iter()
                .map(|&position| self.get(keys[position].as_ref())),
        )
        .await;
        for (&position, result) in single.iter().zip(fallbacks) {
            values[position] = result?;
        }
        Ok(values)
    }

    /// Stores several keys; each node gets one MSET with its keys, in parallel.
    pub async fn mset<K: AsRef<[u8]>, V: AsRef<[u8]>>(
        &self,
        pairs: impl IntoIterator<Item = (K, V)>,
    ) -> Result<()> {
        let pairs: Vec<(K, V)> = pairs.into_iter().collect();
        self.multi_write(
            pairs.iter().map(|(k, _)| k.as_ref()).collect(),
            |positions: &[usize]| {
                let mut args: Vec<&[u8]> = vec![b"MSET"];
                for &p in positions {
                    args.push(pairs[p].0.as_ref());
                    args.push(pairs[p].1.as_ref());
                }
                command(&args)
            },
        )
        .await
        .map(drop)
    }

    /// Deletes several keys; the number that existed.
    pub async fn del_many<K: AsRef<[u8]>>(&self, keys: impl IntoIterator<Item = K>) -> Result<u64> {
        let keys: Vec<K> = keys.into_iter().collect();
        let refs: Vec<&[u8]> = keys.iter().map(|k| k.as_ref()).collect();
        self.multi_write(refs.clone(), |positions: &[usize]| {
            let mut args: Vec<&[u8]> = vec![b"DEL"];
            args.extend(positions.iter().map(|&p| refs[p]));
            command(&args)
        })
        .await
    }

    /// How many of the keys exist (a key named twice counts twice).
    pub async fn exists_many<K: AsRef<[u8]>>(
        &self,
        keys: impl IntoIterator<Item = K>,
    ) -> Result<u64> {
        let keys: Vec<K> = keys.into_iter().collect();
        let found = join_all(keys.iter().map(|key| self.exists(key.as_ref()))).await;
        let mut count = 0;
        for result in found {
            count += u64::from(result?);
        }
        Ok(count)
    }

    /// Takes the stripe locks of `keys`, in stripe order so that two callers locking several
    /// keys cannot wait on each other.
    async fn lock_keys<'k>(
        &self,
        keys: impl Iterator<Item = &'k [u8]>,
    ) -> Vec<tokio::sync::MutexGuard<'_, ()>> {
        let mut stripes: Vec<usize> = keys.map(stripe).collect();
        stripes.sort_unstable();
        stripes.dedup();
        let mut guards = Vec::with_capacity(stripes.len());
        for index in stripes {
            guards.push(self.inner.stripes[index].lock().await);
        }
        guards
    }

    /// The multi-key write path: every node gets one command for the keys it holds, built by
    /// `build`; replicas that miss a key get a hint. Returns the sum of the integer replies of
    /// each key's first acknowledging replica (DEL's count), 0 for status replies.
    async fn multi_write(
        &self,
        keys: Vec<&[u8]>,
        build: impl Fn(&[usize]) -> Bytes,
    ) -> Result<u64> {
        let guards = self.lock_keys(keys.iter().copied()).await;
        let topology = self.inner.topology.load_full();
        let replica_sets: Vec<Replicas> = keys
            .iter()
            .map(|key| self.replicas(&topology, key))
            .collect();
        // Per node: the keys it is first replica for, and the others, sent as two commands so
        // a count can be attributed to each key once.
        let mut plans: Vec<WritePlan> = Vec::new();
        for (position, replicas) in replica_sets.iter().enumerate() {
            let mut first = true;
            for node in replicas {
                if !node.takes_writes() {
                    node.add_hint(keys[position]);
                    continue;
                }
                let slot = node.slot_for(keys[position]);
                let plan = match plans
                    .iter()
                    .position(|plan| Arc::ptr_eq(&plan.node, node) && plan.slot == slot)
                {
                    Some(index) => &mut plans[index],
                    None => {
                        plans.push(WritePlan {
                            node: Arc::clone(node),
                            slot,
                            firsts: Vec::new(),
                            others: Vec::new(),
                        });
                        plans.last_mut().expect("just pushed")
                    }
                };
                if first {
                    plan.firsts.push(position);
                    first = false;
                } else {
                    plan.others.push(position);
                }
            }
        }
        let sends = plans.iter().map(
            |WritePlan {
                 node,
                 slot,
                 firsts,
                 others,
             }| {
                let mut bytes = BytesMut::new();
                let mut replies = 0;
                for positions in [firsts, others] {
                    if !positions.is_empty() {
                        bytes.extend_from_slice(&build(positions));
                        replies += 1;
                    }
                }
                let bytes = bytes.freeze();
                async move { node.request(*slot, bytes, replies).await }
            },
        );
        let results = join_all(sends).await;
        let mut acks = vec![0usize; keys.len()];
        let mut count = 0u64;
        let mut last_error = None;
        for (
            WritePlan {
                node,
                firsts,
                others,
                ..
            },
            result,
        ) in plans.iter().zip(results)
        {
            let groups: Vec<&Vec<usize>> = [firsts, others]
                .into_iter()
                .filter(|p| !p.is_empty())
                .collect();
            match result {
                Ok(replies) => {
                    for (index, (positions, reply)) in groups.into_iter().zip(replies).enumerate() {
                        match reply {
                            Reply::Error(text) => {
                                for &p in positions {
                                    node.add_hint(keys[p]);
                                }
                                last_error = Some(node.server_error(&text));
                            }
                            reply => {
                                for &p in positions {
                                    acks[p] += 1;
                                }
                                if index == 0 && !firsts.is_empty() {
                                    count += reply.as_int().unwrap_or(0).max(0) as u64;
                                }
                            }
                        }
                    }
                }
                Err(error) => {
                    for positions in groups {
                        for &p in positions {
                            node.add_hint(keys[p]);
                        }
                    }
                    last_error = Some(error);
                }
            }
        }
        for (position, replicas) in replica_sets.iter().enumerate() {
            let required = self.inner.settings.write_rule.required(replicas.len());
            if acks[position] < required {
                return Err(match last_error {
                    Some(error) if error.is_server_error() => error,
                    Some(error) => Error::new(
                        ErrorKind::WriteNotAcknowledged,
                        format!(
                            "a key got {} of {required} acknowledgements: {error}",
                            acks[position]
                        ),
                    ),
                    None => Error::new(ErrorKind::Unavailable, "every replica of a key is ejected"),
                });
            }
        }
        drop(guards);
        Ok(count)
    }
}
