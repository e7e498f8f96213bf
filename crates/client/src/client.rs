//! [`Client`]: the public type, its topology, and the typed commands.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use arc_swap::ArcSwap;
use bytes::Bytes;
use futures::future::join_all;

use crate::discovery::{Discoverer, Source};
use crate::error::{Error, ErrorKind, Result};
use crate::node::{Fleet, Node, NodeState, NodeStatus};
use crate::options::{NodeSpec, Settings};
use crate::reply::Reply;
use crate::ring::Ring;
use crate::route::{Access, ReadKind, Stripes};
use crate::topology::Topology;

/// How often the background task repairs nodes that missed writes while staying healthy.
const REPAIR_TICK: Duration = Duration::from_millis(100);
/// The shortest time between two discovery rounds, however often nodes are ejected.
const MIN_DISCOVERY_SPACING: Duration = Duration::from_secs(1);

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

pub(crate) struct Inner {
    pub topology: ArcSwap<Topology>,
    pub settings: Arc<Settings>,
    fleet: Arc<Fleet>,
    pub stripes: Stripes,
    /// Orders this client's writes against every other client's (`cachering_proto::version`).
    pub clock: cachering_proto::version::Clock,
    repair_task: tokio::task::JoinHandle<()>,
    /// Nodes found by DNS: whether the first lookup finished, and the task that looks up.
    discovery: Option<Discovery>,
    /// Rings replaced less than the migration window ago, newest first.
    pub previous: ArcSwap<Vec<crate::route::PreviousRing>>,
    /// `get_or_load`'s loads in flight.
    pub flights: crate::herd::Flights,
    /// The metrics not about one node.
    pub metrics: crate::metrics::ClientMetrics,
    /// The near cache, when asked for.
    pub near: Option<Arc<crate::near::NearCache>>,
    /// The hot-key detector.
    pub hot: crate::hot::HotKeys,
    /// Turns of spread reads.
    pub spread: std::sync::atomic::AtomicUsize,
}

struct Discovery {
    ready: std::sync::atomic::AtomicBool,
    first_round: tokio::sync::Notify,
    task: std::sync::OnceLock<tokio::task::JoinHandle<()>>,
}

impl Drop for Inner {
    fn drop(&mut self) {
        self.repair_task.abort();
        if let Some(task) = self.discovery.as_ref().and_then(|d| d.task.get()) {
            task.abort();
        }
        for node in &self.topology.load().nodes {
            node.retire();
        }
    }
}

/// A client for a ring of cachering nodes. Cheap to clone: clones share connections, health
/// and repair state.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// # let nodes = [
/// #     cachering_node::start(cachering_node::NodeConfig::ephemeral()).await?,
/// #     cachering_node::start(cachering_node::NodeConfig::ephemeral()).await?,
/// #     cachering_node::start(cachering_node::NodeConfig::ephemeral()).await?,
/// # ];
/// # let addrs: Vec<String> = nodes.iter().map(|n| n.local_addr().to_string()).collect();
/// use std::time::Duration;
/// use cachering_client::{ClientBuilder, SetOptions};
///
/// let client = ClientBuilder::new()
///     .nodes(addrs) // ["10.0.0.1:6379", "10.0.0.2:6379", "10.0.0.3:6379"]
///     .with_replicas(2)
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
///
/// ## Behavior
///
/// Every entry point (the typed methods, [`command`](Client::command),
/// [`call`](Client::call), [`pipeline`](Client::pipeline) and the multi-key commands) takes the
/// same route for the same kind of access:
///
/// - **Reads** go to the key's first replica that serves reads: healthy, and not known to have
///   missed a write of the key. On a timeout or connection error, to the next, so a read that
///   meets a frozen node is slowed by one request timeout at most. An error reply from a node
///   (`ERR …`, `WRONGTYPE …`) is returned as it is. A miss is a miss, except on a node that is
///   warming up (below): then the next replica answers, and a GET's value is copied back
///   (`SET … NX` with the remaining time to live).
/// - **Writes** go to every replica that is not ejected, in parallel, and wait for all of them
///   up to the request timeout. The write succeeds when the [`WriteRule`](crate::WriteRule)
///   is met (default: one acknowledgement). Every replica that did not acknowledge it
///   (ejected, timed out, failed, refused it, or still pending when the caller dropped the
///   future) gets a *repair hint* and serves no read of that key until the key is
///   invalidated on it.
/// - **Value-dependent mutations** (INCR, APPEND, SET with NX/XX/GET/KEEPTTL, GETDEL, ...) run
///   on one replica, in a MULTI with a read-back of the value and its time to live, and that
///   result is written to the other replicas, so replicas hold the same value.
/// - **Multi-key commands** (MGET, MSET, DEL, EXISTS, ...) split into one command per key, run
///   as one pipeline; MSETNX runs only when all its keys share their replicas.
/// - Writes, mutations and warm-up fills of one key are serialised within a client (striped
///   locks), so a fill or a propagation never overwrites a newer write made through the same
///   client. Two client processes writing the same key at the same instant can still leave
///   replicas different until the next write.
///
/// ## Health and repair
///
/// - A node is **ejected** after consecutive failures (timeouts, connection errors; error
///   replies do not count), unless more than the allowed fraction of the ring would be out.
///   An ejected node gets no requests. It is probed after a jittered wait that doubles up to a
///   ceiling: every connection is PINGed (a connection that survived carries the writes sent
///   before it, and the node answers only after applying them), the run id is read, and the
///   node is **repaired** before it serves reads again: every hinted key is deleted on it, or
///   the whole node is emptied if the hints overflowed. A delete can never make a value stale.
/// - A node whose **run id changed** restarted empty: nothing on it is stale; its hints are
///   dropped.
/// - A node that came back empty or had keys invalidated **warms up** for a while (default
///   60 s): its misses are checked against the next replica, as above.
/// - A healthy node that missed a write (a timeout below the ejection threshold) is repaired
///   by a background task every 100 ms.
///
/// ## Connections
///
/// Each node has a fixed number of multiplexed, pipelined connections; a key always travels on
/// the same one, so a node applies every command for a key in the order it was sent, timed-out
/// ones included. A broken connection fails its waiting requests, and the next request
/// reconnects after a jittered wait (50 ms doubling to 2 s). Every connect resolves the
/// node's address again, so an address change is followed; keys follow the node's name.
///
/// ## Concurrency
///
/// All methods take `&self`; the client may be shared across tasks (clone it, or put it in an
/// `Arc`). Requests from many tasks to one node share its connections and leave in one write
/// when they arrive together.
#[derive(Clone)]
pub struct Client {
    pub(crate) inner: Arc<Inner>,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client")
            .field("nodes", &self.inner.topology.load().ring.names())
            .finish()
    }
}

impl Client {
    /// A new version for a write: above every version this client has issued or seen.
    pub(crate) fn next_version(&self) -> u64 {
        self.inner.clock.next((self.inner.settings.wall_clock)())
    }

    /// Records a version read from a node.
    pub(crate) fn observe_version(&self, version: u64) {
        self.inner.clock.observe(version);
    }

    /// The ring in use, once nodes found by DNS are known: a request made before the first
    /// round finished waits for it (bounded as [`Client::wait_for_discovery`] says).
    pub(crate) async fn topology(&self) -> Arc<Topology> {
        if let Some(discovery) = &self.inner.discovery {
            if !discovery.ready.load(Ordering::Acquire) {
                Box::pin(self.first_discovery(discovery)).await;
            }
        }
        self.inner.topology.load_full()
    }

    /// Waits until nodes found by DNS are known (the first round finished: the lookups, each
    /// new address asked for its name), up to three connect timeouts and a request timeout
    /// (a lookup's two attempts, then the probes); at once for a client with a fixed node
    /// list. Requests wait for this by themselves: call it to read [`Client::node_status`] or
    /// [`Client::ring`] first. Until discovery has found a node, requests fail with
    /// [`ErrorKind::Unavailable`].
    pub async fn wait_for_discovery(&self) {
        self.topology().await;
    }

    async fn first_discovery(&self, discovery: &Discovery) {
        let wait = async {
            loop {
                let notified = discovery.first_round.notified();
                if discovery.ready.load(Ordering::Acquire) {
                    return;
                }
                notified.await;
            }
        };
        let settings = &self.inner.settings;
        let bound = settings.connect_timeout * 3 + settings.request_timeout;
        let _ = tokio::time::timeout(bound, wait).await;
    }

    pub(crate) fn from_parts(
        specs: Vec<NodeSpec>,
        sources: Vec<Source>,
        settings: Settings,
    ) -> Self {
        crate::metrics::describe();
        let settings = Arc::new(settings);
        let discoverer = (!sources.is_empty())
            .then(|| Discoverer::new(sources, specs.clone(), Arc::clone(&settings)));
        let fleet = Arc::new(Fleet::default());
        fleet.total.store(specs.len(), Ordering::Release);
        let nodes: Vec<Arc<Node>> = specs
            .into_iter()
            .map(|spec| Node::new(spec, Arc::clone(&settings), Arc::clone(&fleet)))
            .collect();
        let topology = ArcSwap::from_pointee(Topology::new(nodes));
        let inner = Arc::new_cyclic(|weak: &std::sync::Weak<Inner>| {
            let weak = weak.clone();
            let repair_task = tokio::spawn(async move {
                let mut tick = tokio::time::interval(REPAIR_TICK);
                tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
                loop {
                    tick.tick().await;
                    let Some(inner) = weak.upgrade() else { return };
                    let topology = inner.topology.load_full();
                    let client = Client { inner };
                    client.forget_old_rings();
                    client.start_refills();
                    drop(client);
                    for node in &topology.nodes {
                        if node.state() == NodeState::Healthy && !node.hints.is_empty() {
                            if let Err(error) = node.repair().await {
                                tracing::debug!(node = node.name(), %error, "repair of a healthy node failed; will retry");
                            }
                        }
                    }
                }
            });
            let near = (settings.near_cache > 0).then(|| {
                crate::near::NearCache::new(settings.near_cache, settings.request_timeout)
            });
            Inner {
                topology,
                settings,
                fleet,
                stripes: Stripes::new(near.clone()),
                near,
                hot: crate::hot::HotKeys::new(),
                spread: std::sync::atomic::AtomicUsize::new(0),
                clock: cachering_proto::version::Clock::new(),
                repair_task,
                previous: ArcSwap::from_pointee(Vec::new()),
                flights: crate::herd::Flights::default(),
                metrics: crate::metrics::ClientMetrics::new(),
                discovery: discoverer.as_ref().map(|_| Discovery {
                    ready: false.into(),
                    first_round: tokio::sync::Notify::new(),
                    task: std::sync::OnceLock::new(),
                }),
            }
        });
        if let Some(discoverer) = discoverer {
            let task = tokio::spawn(discover(Arc::downgrade(&inner), discoverer));
            if let Some(discovery) = &inner.discovery {
                let _ = discovery.task.set(task);
            }
        }
        Self { inner }
    }

    /// The state of every node, in ring order.
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
    /// flight finish on the old one. Nodes kept (same name and address) keep their
    /// connections, health and hints; removed nodes are closed; new ones (or ones at a new
    /// address) are refilled in the background with copies of the keys they are now replicas
    /// of, and for the migration window reads also ask the keys' former replicas.
    ///
    /// # Errors
    ///
    /// [`ErrorKind::Config`] if `specs` is empty.
    pub fn set_nodes(&self, specs: Vec<NodeSpec>) -> Result<()> {
        if specs.is_empty() {
            return Err(Error::new(ErrorKind::Config, "no nodes"));
        }
        let current = self.inner.topology.load_full();
        let mut nodes = Vec::with_capacity(specs.len());
        for spec in specs {
            match current.nodes.iter().find(|node| node.spec == spec) {
                Some(existing) => nodes.push(Arc::clone(existing)),
                None => {
                    let node = Node::new(
                        spec,
                        Arc::clone(&self.inner.settings),
                        Arc::clone(&self.inner.fleet),
                    );
                    // A node joining a ring that held keys, or one found at a new address
                    // (a restarted pod): it gets copies of its keys in the background.
                    if !current.nodes.is_empty() {
                        node.needs_refill();
                    }
                    nodes.push(node);
                }
            }
        }
        for old in &current.nodes {
            if !nodes.iter().any(|node| Arc::ptr_eq(node, old)) {
                old.retire();
            }
        }
        self.inner.fleet.total.store(nodes.len(), Ordering::Release);
        self.inner.topology.store(Arc::new(Topology::new(nodes)));
        self.remember_ring(current);
        tracing::info!(
            nodes = self.inner.topology.load().nodes.len(),
            "node list replaced"
        );
        Ok(())
    }

    /// Replaces the node list with what discovery found, if it changed: nodes are compared
    /// by name, address and weight.
    fn apply_discovered(&self, specs: Vec<NodeSpec>) {
        let current = self.inner.topology.load();
        let mut now: Vec<&NodeSpec> = current.nodes.iter().map(|node| &node.spec).collect();
        now.sort_by(|a, b| a.name.cmp(&b.name));
        let mut found: Vec<&NodeSpec> = specs.iter().collect();
        found.sort_by(|a, b| a.name.cmp(&b.name));
        if now == found {
            return;
        }
        let names = |list: &[&NodeSpec]| {
            list.iter()
                .map(|s| format!("{}={}", s.name, s.addr))
                .collect::<Vec<_>>()
                .join(",")
        };
        tracing::info!(before = %names(&now), after = %names(&found), "discovery changed the ring");
        drop(current);
        if specs.is_empty() {
            self.inner.fleet.total.store(0, Ordering::Release);
            let current = self.inner.topology.load_full();
            for old in &current.nodes {
                old.retire();
            }
            self.inner
                .topology
                .store(Arc::new(Topology::new(Vec::new())));
        } else {
            let _ = self.set_nodes(specs);
        }
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

    /// Sends a command to one node by index, for commands about a node rather than a key
    /// (DBSIZE, INFO, CONFIG). Nothing is replicated or repaired: writing keys this way
    /// bypasses the ring's guarantees.
    ///
    /// # Errors
    ///
    /// [`ErrorKind::Config`] if there is no node `index`; [`ErrorKind::Unavailable`] if it is
    /// ejected; otherwise as the node answers (a timeout, a connection error, an error reply).
    pub async fn on_node(&self, index: usize, args: &[&[u8]]) -> Result<Reply> {
        let topology = self.inner.topology.load_full();
        let node = topology
            .nodes
            .get(index)
            .ok_or_else(|| Error::new(ErrorKind::Config, format!("no node {index}")))?;
        if node.state() == NodeState::Ejected {
            return Err(
                Error::new(ErrorKind::Unavailable, "node is ejected").with_node(node.name())
            );
        }
        node.call(0, args).await
    }

    /// Sends a command that names no key to the first node that is not ejected.
    pub(crate) async fn on_any_node(&self, args: &[&[u8]]) -> Result<Reply> {
        let topology = self.inner.topology.load_full();
        let node = topology
            .nodes
            .iter()
            .find(|node| node.state() != NodeState::Ejected)
            .ok_or_else(crate::route::no_nodes)?;
        node.call(0, args).await
    }

    /// Empties every node. A node that cannot be reached now (ejected, or failing) is marked
    /// to be emptied before it serves reads again, so no value from before the flush returns.
    ///
    /// # Errors
    ///
    /// The error of the first node if no node could be emptied now;
    /// [`ErrorKind::Unavailable`] with no node in the ring.
    pub async fn flush_all(&self) -> Result<()> {
        let topology = self.topology().await;
        if topology.nodes.is_empty() {
            return Err(crate::route::no_nodes());
        }
        let flushes = topology.nodes.iter().map(|node| async move {
            if node.state() == NodeState::Ejected {
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

    /// Sends any single-key command, routed by `key`: `args` is the command in full (name
    /// first) and `access` says how it travels. [`Client::call`] finds both from the command
    /// table; this is for commands the table does not know, or to choose the route.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let node = cachering_node::start(cachering_node::NodeConfig::ephemeral()).await?;
    /// # let addr = node.local_addr().to_string();
    /// use cachering_client::{Access, ClientBuilder, Reply};
    ///
    /// let client = ClientBuilder::new().node(&addr).build()?;
    /// client.set("name", "Ada").await?;
    /// let length = client.command("name", &[b"STRLEN", b"name"], Access::Read).await?;
    /// assert_eq!(length, Reply::Int(3));
    /// client.command("name", &[b"APPEND", b"name", b" L."], Access::Mutation).await?;
    /// # Ok(())
    /// # }
    /// ```
    ///
    /// # Errors
    ///
    /// - [`ErrorKind::Server`]: a node answered with an error reply (`WRONGTYPE`, `ERR value is
    ///   not an integer`, ...); retrying will not help.
    /// - [`ErrorKind::Unavailable`]: no replica of the key could serve a read (all ejected or
    ///   failing), or every replica of a written key is ejected.
    /// - [`ErrorKind::WriteNotAcknowledged`]: fewer replicas acknowledged a write than the
    ///   write rule requires (each one that missed it is repaired before it serves the key).
    /// - [`ErrorKind::Timeout`], [`ErrorKind::Io`]: the last replica tried failed.
    pub async fn command(
        &self,
        key: impl AsRef<[u8]>,
        args: &[&[u8]],
        access: Access,
    ) -> Result<Reply> {
        let key = key.as_ref();
        match access {
            Access::Read => self.read(key, args, ReadKind::of(args)).await,
            Access::Write => self.write(key, args).await,
            // Boxed: a mutation's future is the largest of the three, and the least common.
            _ => Box::pin(self.mutate(key, args)).await,
        }
    }

    // ---- typed single-key commands ----

    /// The value of `key`, or `None`.
    ///
    /// # Errors
    ///
    /// As [`Client::command`] for a read.
    pub async fn get(&self, key: impl AsRef<[u8]>) -> Result<Option<Bytes>> {
        let key = key.as_ref();
        match self.read(key, &[b"GET", key], ReadKind::GET).await? {
            Reply::Bulk(value) => Ok(Some(value)),
            _ => Ok(None),
        }
    }

    /// The keys this process asks for most, each taking at least 2 % of its requests (a
    /// sampled top-k sketch, refreshed every 4,096 requests), most frequent first, with
    /// their estimated shares. With [`ClientBuilder::with_hot_key_spreading`] their reads are
    /// spread over their replicas; with
    /// [`ClientBuilder::with_near_cache_hot_only`] only they are kept in the near cache.
    ///
    /// [`ClientBuilder::with_hot_key_spreading`]: crate::ClientBuilder::with_hot_key_spreading
    /// [`ClientBuilder::with_near_cache_hot_only`]: crate::ClientBuilder::with_near_cache_hot_only
    pub fn hot_keys(&self) -> Vec<crate::HotKey> {
        self.inner.hot.hot()
    }

    /// The value of `key`, read from the nodes even with a near cache
    /// ([`ClientBuilder::with_near_cache`](crate::ClientBuilder::with_near_cache)): the
    /// per-read opt-out.
    ///
    /// # Errors
    ///
    /// As [`Client::get`].
    pub async fn get_uncached(&self, key: impl AsRef<[u8]>) -> Result<Option<Bytes>> {
        let key = key.as_ref();
        match self.read_routed(key, &[b"GET", key], ReadKind::GET).await? {
            Reply::Bulk(value) => Ok(Some(value)),
            _ => Ok(None),
        }
    }

    /// Stores `value` under `key` with no expiry.
    ///
    /// # Errors
    ///
    /// As [`Client::command`] for a write.
    pub async fn set(&self, key: impl AsRef<[u8]>, value: impl AsRef<[u8]>) -> Result<()> {
        let key = key.as_ref();
        self.write(key, &[b"SET", key, value.as_ref()])
            .await
            .map(drop)
    }

    /// Stores `value` under `key` with options. Conditional and GET-returning sets run on one
    /// replica and copy the result to the others.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let node = cachering_node::start(cachering_node::NodeConfig::ephemeral()).await?;
    /// # let addr = node.local_addr().to_string();
    /// use std::time::Duration;
    /// use cachering_client::{ClientBuilder, SetOptions};
    ///
    /// let client = ClientBuilder::new().node(&addr).build()?;
    /// let lock = SetOptions::new().if_absent().ttl(Duration::from_secs(10));
    /// assert!(client.set_with("lock:report", "worker-1", lock.clone()).await?.applied);
    /// assert!(!client.set_with("lock:report", "worker-2", lock).await?.applied);
    /// # Ok(())
    /// # }
    /// ```
    ///
    /// # Errors
    ///
    /// As [`Client::command`] for a write, or a mutation when a condition or GET is given.
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
    ///
    /// # Errors
    ///
    /// As [`Client::command`] for a write.
    pub async fn del(&self, key: impl AsRef<[u8]>) -> Result<bool> {
        let key = key.as_ref();
        Ok(self.write(key, &[b"DEL", key]).await?.as_int().unwrap_or(0) > 0)
    }

    /// Whether `key` exists.
    ///
    /// # Errors
    ///
    /// As [`Client::command`] for a read.
    pub async fn exists(&self, key: impl AsRef<[u8]>) -> Result<bool> {
        let key = key.as_ref();
        Ok(self
            .read(key, &[b"EXISTS", key], ReadKind::COUNT)
            .await?
            .as_int()
            .unwrap_or(0)
            > 0)
    }

    /// Sets a time to live; false if the key does not exist. Runs on one replica and is
    /// copied to the others with the value, so every replica keeps the same deadline.
    ///
    /// # Errors
    ///
    /// As [`Client::command`] for a mutation.
    pub async fn expire(&self, key: impl AsRef<[u8]>, ttl: Duration) -> Result<bool> {
        let key = key.as_ref();
        let millis = ttl.as_millis().to_string();
        Ok(self
            .mutate(key, &[b"PEXPIRE", key, millis.as_bytes()])
            .await?
            .as_int()
            .unwrap_or(0)
            > 0)
    }

    /// The key's time to live.
    ///
    /// # Errors
    ///
    /// As [`Client::command`] for a read.
    pub async fn ttl(&self, key: impl AsRef<[u8]>) -> Result<Ttl> {
        let key = key.as_ref();
        let args: [&[u8]; 2] = [b"PTTL", key];
        Ok(
            match self.read(key, &args, ReadKind::of(&args)).await?.as_int() {
                Some(-1) => Ttl::Persistent,
                Some(ms) if ms >= 0 => Ttl::ExpiresIn(Duration::from_millis(ms as u64)),
                _ => Ttl::Missing,
            },
        )
    }

    /// Removes the time to live; false if the key had none or does not exist.
    ///
    /// # Errors
    ///
    /// As [`Client::command`] for a mutation.
    pub async fn persist(&self, key: impl AsRef<[u8]>) -> Result<bool> {
        let key = key.as_ref();
        Ok(self
            .mutate(key, &[b"PERSIST", key])
            .await?
            .as_int()
            .unwrap_or(0)
            > 0)
    }

    /// Adds `delta` to the integer at `key` (0 if absent); the new value.
    ///
    /// # Errors
    ///
    /// As [`Client::command`] for a mutation; [`ErrorKind::Server`] if the value is not an
    /// integer or the result would overflow.
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

    /// Adds 1; the new value.
    ///
    /// # Errors
    ///
    /// As [`Client::incr_by`].
    pub async fn incr(&self, key: impl AsRef<[u8]>) -> Result<i64> {
        self.incr_by(key, 1).await
    }

    /// Subtracts 1; the new value.
    ///
    /// # Errors
    ///
    /// As [`Client::incr_by`].
    pub async fn decr(&self, key: impl AsRef<[u8]>) -> Result<i64> {
        self.incr_by(key, -1).await
    }

    /// Returns the value and deletes the key.
    ///
    /// # Errors
    ///
    /// As [`Client::command`] for a mutation.
    pub async fn get_del(&self, key: impl AsRef<[u8]>) -> Result<Option<Bytes>> {
        let key = key.as_ref();
        match self.mutate(key, &[b"GETDEL", key]).await? {
            Reply::Bulk(value) => Ok(Some(value)),
            _ => Ok(None),
        }
    }

    // ---- typed multi-key commands ----

    /// Values of several keys, in input order (`None` for a missing key), read as one
    /// pipeline of GETs.
    ///
    /// # Errors
    ///
    /// The first read that failed, as [`Client::get`] would return it.
    pub async fn mget<K: AsRef<[u8]>>(
        &self,
        keys: impl IntoIterator<Item = K>,
    ) -> Result<Vec<Option<Bytes>>> {
        let keys: Vec<K> = keys.into_iter().collect();
        self.get_many(keys.iter().map(|key| key.as_ref())).await
    }

    /// Stores several keys as one pipeline of SETs; the last value of a repeated key wins.
    /// Not atomic: another client may see some keys written before others.
    ///
    /// # Errors
    ///
    /// The first write that failed, as [`Client::set`] would return it (the other keys are
    /// written).
    pub async fn mset<K: AsRef<[u8]>, V: AsRef<[u8]>>(
        &self,
        pairs: impl IntoIterator<Item = (K, V)>,
    ) -> Result<()> {
        let pairs: Vec<(K, V)> = pairs.into_iter().collect();
        self.set_many(pairs.iter().map(|(k, v)| (k.as_ref(), v.as_ref())))
            .await
    }

    /// Deletes several keys; the number that existed (a key named twice counts once).
    ///
    /// # Errors
    ///
    /// The first delete that failed, as [`Client::del`] would return it.
    pub async fn del_many<K: AsRef<[u8]>>(&self, keys: impl IntoIterator<Item = K>) -> Result<u64> {
        let keys: Vec<K> = keys.into_iter().collect();
        self.count_keys(b"DEL", keys.iter().map(|k| k.as_ref()), Access::Write)
            .await
    }

    /// How many of the keys exist (a key named twice counts twice).
    ///
    /// # Errors
    ///
    /// The first read that failed, as [`Client::exists`] would return it.
    pub async fn exists_many<K: AsRef<[u8]>>(
        &self,
        keys: impl IntoIterator<Item = K>,
    ) -> Result<u64> {
        let keys: Vec<K> = keys.into_iter().collect();
        self.count_keys(b"EXISTS", keys.iter().map(|k| k.as_ref()), Access::Read)
            .await
    }

    // ---- commands over keys that share their replicas ----

    /// Moves the value of `from` (and its time to live) to `to`, replacing what `to` held.
    /// Both names must share their replicas: give them one `{hash tag}`.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let nodes = [
    /// #     cachering_node::start(cachering_node::NodeConfig::ephemeral()).await?,
    /// #     cachering_node::start(cachering_node::NodeConfig::ephemeral()).await?,
    /// #     cachering_node::start(cachering_node::NodeConfig::ephemeral()).await?,
    /// # ];
    /// # let addrs: Vec<String> = nodes.iter().map(|n| n.local_addr().to_string()).collect();
    /// use cachering_client::ClientBuilder;
    ///
    /// let client = ClientBuilder::new().nodes(addrs).with_replicas(2).build()?;
    /// client.set("{user:42}draft", "Ada").await?;
    /// client.rename("{user:42}draft", "{user:42}name").await?;
    /// assert_eq!(client.get("{user:42}name").await?.as_deref(), Some(&b"Ada"[..]));
    /// assert!(!client.rename_nx("{user:42}name", "{user:42}name").await?);
    /// assert!(client.copy("{user:42}name", "{user:42}backup", false).await?);
    /// # Ok(())
    /// # }
    /// ```
    ///
    /// # Errors
    ///
    /// [`ErrorKind::Command`] with `ERR no such key` when `from` does not exist, or when the
    /// names map to different replicas; otherwise as [`Client::command`] for a mutation.
    pub async fn rename(&self, from: impl AsRef<[u8]>, to: impl AsRef<[u8]>) -> Result<()> {
        self.call(&[&b"RENAME"[..], from.as_ref(), to.as_ref()])
            .await
            .map(drop)
    }

    /// Moves `from` to `to` only if `to` does not exist; whether it did.
    ///
    /// # Errors
    ///
    /// As [`Client::rename`].
    pub async fn rename_nx(&self, from: impl AsRef<[u8]>, to: impl AsRef<[u8]>) -> Result<bool> {
        let reply = self
            .call(&[&b"RENAMENX"[..], from.as_ref(), to.as_ref()])
            .await?;
        Ok(reply.as_int() == Some(1))
    }

    /// Copies the value of `from` (and its time to live) to `to`, replacing what `to` holds
    /// only with `replace`; whether it copied (false when `from` is missing, or `to` exists
    /// and `replace` is off).
    ///
    /// # Errors
    ///
    /// As [`Client::rename`], except that a missing `from` is `Ok(false)`.
    pub async fn copy(
        &self,
        from: impl AsRef<[u8]>,
        to: impl AsRef<[u8]>,
        replace: bool,
    ) -> Result<bool> {
        let (from, to) = (from.as_ref(), to.as_ref());
        let reply = if replace {
            self.call(&[&b"COPY"[..], from, to, b"REPLACE"]).await?
        } else {
            self.call(&[&b"COPY"[..], from, to]).await?
        };
        Ok(reply.as_int() == Some(1))
    }
}

/// The discovery task: a round at once, then every interval, or soon after a node is ejected;
/// it ends with the client.
async fn discover(inner: std::sync::Weak<Inner>, mut discoverer: Discoverer) {
    let mut reported_failures = Vec::new();
    loop {
        // Names some node reported over its own connections since: an address now held by
        // another node is asked again.
        if let Some(inner) = inner.upgrade() {
            for node in &inner.topology.load().nodes {
                if node
                    .reported_name()
                    .is_some_and(|name| name != node.spec.name)
                {
                    discoverer.forget_name(&node.spec.addr);
                }
            }
        }
        let (specs, failures) = discoverer.round().await;
        if failures != reported_failures {
            for failure in &failures {
                tracing::warn!(%failure, "node discovery: lookup failed; keeping the nodes it found before");
            }
            reported_failures = failures;
        }
        let Some(inner) = inner.upgrade() else { return };
        let client = Client {
            inner: Arc::clone(&inner),
        };
        client.apply_discovered(specs);
        let (interval, fleet) = (inner.settings.discovery_interval, Arc::clone(&inner.fleet));
        if let Some(discovery) = &inner.discovery {
            discovery.ready.store(true, Ordering::Release);
            discovery.first_round.notify_waiters();
        }
        drop(client);
        drop(inner);
        tokio::select! {
            () = tokio::time::sleep(interval) => {}
            () = fleet.rediscover.notified() => {
                tokio::time::sleep(MIN_DISCOVERY_SPACING.min(interval)).await;
            }
        }
    }
}
