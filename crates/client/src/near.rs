//! The near cache: values of GET kept in this process, opt-in ([`ClientBuilder::with_near_cache`]),
//! bounded in bytes (moka), kept exact by the nodes' invalidations (CLIENT TRACKING).
//!
//! For each node that holds a cached key, the client keeps one more connection, the node's
//! **invalidation stream**: it turns tracking on in BCAST mode redirected to itself and
//! subscribes to `__redis__:invalidate`, so the node sends it every key written, deleted,
//! expired or evicted there. The stream is pinged every half request timeout; a pong proves
//! every invalidation sent before the ping has arrived.
//!
//! A stream's **epoch** is a number unique within the client, taken anew each time the stream
//! comes up or the node is flushed, and 0 while the stream is down. An entry remembers the
//! epochs of its key's replicas when it was filled, and is served only while those replicas'
//! streams are on the same epochs, were confirmed by a pong within two request timeouts, and
//! the replicas take writes. So a stream that broke (the connection lost, the node restarted,
//! killed, frozen or cut off: no pong), an ejection or a ring change (other replicas, other
//! epochs) drops the entries before the next read. A write is acknowledged by at least one
//! replica, which sends the invalidation over its stream: once it arrives (measured in
//! `docs/benchmarks.md`), no read here returns the old value.
//!
//! A fill races with invalidations: the read that fills may return the value just before a
//! write whose invalidation arrives before the reply. So a fill registers the key first, and an
//! invalidation (or a write by this process, or a broken stream) that arrives meanwhile makes
//! that fill not cache; fills registered after it still do. Misses of a key while its fill is
//! in flight share that fill's read, unless an invalidation of the key (or a write by this
//! process) arrived since it began: a miss never returns a value older than a change this
//! process already knew of. Entries never outlive the key's time to live on the node (read in
//! the same round trip as the value).
//!
//! [`ClientBuilder::with_near_cache`]: crate::ClientBuilder::with_near_cache

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use dashmap::DashMap;
use futures::future::{BoxFuture, Shared, WeakShared};
use smallvec::SmallVec;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::time::Instant;

use crate::backoff::{Backoff, RECONNECT_MAX, RECONNECT_MIN};
use crate::connection::{command, decode_replies};
use crate::error::{Error, ErrorKind, Result};
use crate::node::Node;
use crate::reply::Reply;

/// The stream epochs of a key's replicas, in replica order.
type Epochs = SmallVec<[u64; 3]>;

/// One node's invalidation stream, as the near cache sees it (kept on the node).
#[derive(Debug, Default)]
pub(crate) struct StreamState {
    /// The stream's epoch (module docs); 0 while it is down.
    epoch: AtomicU64,
    /// When the ping of the last pong was sent, in microseconds after the cache's start.
    confirmed: AtomicU64,
    /// Whether a task keeps this stream.
    kept: AtomicBool,
}

/// One cached value and what it depends on.
struct Entry {
    value: Bytes,
    /// The version of the write of this process that cached it; 0 for a fill.
    version: u64,
    /// The epochs of the key's replicas when it was filled.
    epochs: Epochs,
    /// The key's time to live on the node when it was filled.
    ttl: Option<Duration>,
}

/// A read that fills the cache, shared by the misses of its key that arrive while it runs.
pub(crate) type Fill = Shared<FillRead>;

/// The read of a fill.
pub(crate) type FillRead = BoxFuture<'static, Result<Reply>>;

/// The fills in flight for one key.
#[derive(Default)]
struct Pending {
    /// Tickets alive.
    fills: u32,
    /// Invalidations of the key (and writes by this process) seen while fills were in flight.
    changes: u64,
    /// The latest fill's read, with the changes and generation when it began. Weak: the
    /// read (which holds its ticket) ends when no one waits for it.
    flight: Option<(u64, u64, WeakShared<FillRead>)>,
}

struct EntryExpiry;

impl moka::Expiry<Bytes, Arc<Entry>> for EntryExpiry {
    fn expire_after_create(
        &self,
        _key: &Bytes,
        entry: &Arc<Entry>,
        _now: std::time::Instant,
    ) -> Option<Duration> {
        entry.ttl
    }
}

/// What a miss does.
pub(crate) enum Miss {
    /// Shares the fill in flight.
    Join(Fill),
    /// Fills, with this ticket.
    Fill(Ticket),
    /// Reads without caching: a stream of the key's replicas cannot serve yet.
    Uncached,
}

/// A write of this process that may go through to the cache: registered before it is sent.
pub(crate) struct Through {
    key: Bytes,
    epochs: Epochs,
    generation: u64,
    /// [`Own::foreign`] when it was registered.
    foreign: u64,
    /// Its version.
    version: u64,
    value: Bytes,
    ttl: Option<Duration>,
}

/// This process's writes of one key that go through to the cache.
#[derive(Default)]
struct Own {
    /// Writes registered and not yet ended.
    writing: u32,
    /// The newest version a write cached while some were in flight: an older write that ends
    /// later does not cache its value over it.
    cached: u64,
    /// Invalidations still expected, per stream epoch.
    awaits: SmallVec<[(u64, u32); 3]>,
    /// Invalidations of the key that were not expected, counted while the key has an entry
    /// here: one arriving while a write is in flight keeps its value out of the cache.
    foreign: u64,
}

impl Own {
    fn idle(&self) -> bool {
        self.writing == 0 && self.awaits.is_empty()
    }
}

/// The cache and its pending fills.
pub(crate) struct NearCache {
    entries: moka::sync::Cache<Bytes, Arc<Entry>>,
    pending: DashMap<Bytes, Pending>,
    /// Writes of this process of a key, and the invalidations they expect.
    own: DashMap<Bytes, Own>,
    /// Bumped by every flush and broken stream: a fill that began before does not cache.
    generation: AtomicU64,
    /// The last epoch given to a stream.
    epochs: AtomicU64,
    /// Microseconds are counted from here.
    start: Instant,
    heartbeat: Duration,
    /// How long a pong lets a stream serve, in microseconds.
    lease: u64,
    request_timeout: Duration,
    metrics: crate::metrics::NearMetrics,
}

/// A fill registered before its read (see the module docs).
pub(crate) struct Ticket {
    near: Arc<NearCache>,
    key: Bytes,
    epochs: Epochs,
    changes: u64,
    generation: u64,
}

impl Drop for Ticket {
    fn drop(&mut self) {
        if let dashmap::Entry::Occupied(mut state) = self.near.pending.entry(self.key.clone()) {
            state.get_mut().fills -= 1;
            if state.get().fills == 0 {
                state.remove();
            }
        }
    }
}

impl NearCache {
    /// A cache of at most `bytes` (keys and values), for a client with `request_timeout`.
    pub fn new(bytes: u64, request_timeout: Duration) -> Arc<Self> {
        let metrics = crate::metrics::NearMetrics::new();
        let evictions = metrics.evictions.clone();
        let entries = moka::sync::Cache::builder()
            .max_capacity(bytes)
            .weigher(|key: &Bytes, entry: &Arc<Entry>| {
                u32::try_from(key.len() + entry.value.len() + 64).unwrap_or(u32::MAX)
            })
            .expire_after(EntryExpiry)
            .eviction_listener(move |_key, _entry, cause| {
                if cause == moka::notification::RemovalCause::Size {
                    evictions.increment(1);
                }
            })
            .build();
        Arc::new(Self {
            entries,
            pending: DashMap::new(),
            own: DashMap::new(),
            generation: AtomicU64::new(0),
            epochs: AtomicU64::new(0),
            start: Instant::now(),
            heartbeat: (request_timeout / 2).max(Duration::from_millis(10)),
            lease: u64::try_from((request_timeout * 2).as_micros()).unwrap_or(u64::MAX),
            request_timeout,
            metrics,
        })
    }

    fn micros(&self, at: Instant) -> u64 {
        u64::try_from(at.saturating_duration_since(self.start).as_micros()).unwrap_or(u64::MAX)
    }

    /// The epochs of `replicas` if every one may serve: taking writes, its stream up and
    /// confirmed within the lease.
    fn serving(&self, replicas: &[Arc<Node>]) -> Option<Epochs> {
        let now = self.micros(Instant::now());
        replicas
            .iter()
            .map(|node| {
                let stream = &node.stream;
                let epoch = stream.epoch.load(Ordering::Acquire);
                let confirmed = stream.confirmed.load(Ordering::Acquire);
                (epoch != 0 && now.saturating_sub(confirmed) < self.lease && node.takes_writes())
                    .then_some(epoch)
            })
            .collect()
    }

    /// The cached value of `key`, if it may be served: filled from `replicas` on the epochs
    /// they are on, which may serve.
    pub fn get(&self, key: &[u8], replicas: &[Arc<Node>]) -> Option<Bytes> {
        let Some(entry) = self.entries.get(key) else {
            self.metrics.misses.increment(1);
            return None;
        };
        if self
            .serving(replicas)
            .is_some_and(|now| now == entry.epochs)
        {
            self.metrics.hits.increment(1);
            Some(entry.value.clone())
        } else {
            self.entries.invalidate(key);
            self.metrics.misses.increment(1);
            None
        }
    }

    /// What a miss of `key` does: share the fill in flight, or register its own fill before
    /// its read (then [`NearCache::share`] its read), or read uncached.
    pub fn miss(self: &Arc<Self>, key: &[u8], replicas: &[Arc<Node>]) -> Miss {
        let Some(epochs) = self.serving(replicas) else {
            return Miss::Uncached;
        };
        let key = Bytes::copy_from_slice(key);
        let generation = self.generation.load(Ordering::Acquire);
        let mut state = self.pending.entry(key.clone()).or_default();
        if let Some((changes, began, flight)) = &state.flight {
            if *changes == state.changes && *began == generation {
                if let Some(flight) = flight.upgrade() {
                    return Miss::Join(flight);
                }
            }
        }
        state.fills += 1;
        let changes = state.changes;
        drop(state);
        Miss::Fill(Ticket {
            near: Arc::clone(self),
            key,
            epochs,
            changes,
            generation,
        })
    }

    /// Records `flight` as the read of `ticket`'s fill, for later misses to share.
    pub fn share(&self, ticket: &Ticket, flight: &Fill) {
        if let (Some(mut state), Some(flight)) =
            (self.pending.get_mut(&ticket.key), flight.downgrade())
        {
            state.flight = Some((ticket.changes, ticket.generation, flight));
        }
    }

    /// Caches what the read of `ticket` returned, with the key's time to live, unless an
    /// invalidation arrived since the ticket was taken. Under the key's pending entry, which
    /// [`NearCache::forget`] takes too: an invalidation is either seen here or drops the entry
    /// after it was inserted.
    pub fn fill(&self, ticket: &Ticket, value: Bytes, ttl: Option<Duration>) {
        let Some(state) = self.pending.get(&ticket.key) else {
            return;
        };
        if state.changes != ticket.changes
            || self.generation.load(Ordering::Acquire) != ticket.generation
        {
            return;
        }
        // No stream broke since the ticket was taken (a break bumps the generation): the
        // epochs it holds are those the streams are on, or were already replaced.
        self.entries.insert(
            ticket.key.clone(),
            Arc::new(Entry {
                value,
                version: 0,
                epochs: ticket.epochs.clone(),
                ttl,
            }),
        );
        drop(state);
        self.metrics.bytes.set(self.entries.weighted_size() as f64);
    }

    /// `key` may have changed: dropped, and a fill in flight does not cache nor is shared.
    pub fn forget(&self, key: &[u8]) {
        if let Some(mut state) = self.pending.get_mut(key) {
            state.changes += 1;
            state.flight = None;
        }
        self.entries.invalidate(key);
    }

    /// A write of `key` by this process is about to be sent to `replicas`: if it is a value
    /// (`value`, living `ttl`) and their streams serve, the invalidation each replica will send
    /// for it is expected, and once every replica applied it ([`NearCache::written`]) the value
    /// is cached at once, unless an invalidation not expected arrived meanwhile, or a write of
    /// a newer `version` already cached its value (versioned writes of a key run side by side;
    /// plain ones, with one replica, one at a time).
    pub fn expect(
        &self,
        key: &[u8],
        replicas: &[Arc<Node>],
        version: u64,
        value: Bytes,
        ttl: Option<Duration>,
    ) -> Option<Through> {
        let epochs = self.serving(replicas)?;
        let generation = self.generation.load(Ordering::Acquire);
        let key = Bytes::copy_from_slice(key);
        let mut own = self.own.entry(key.clone()).or_default();
        own.writing += 1;
        for epoch in &epochs {
            match own.awaits.iter_mut().find(|(e, _)| e == epoch) {
                Some((_, count)) => *count += 1,
                None => own.awaits.push((*epoch, 1)),
            }
        }
        let foreign = own.foreign;
        drop(own);
        Some(Through {
            key,
            epochs,
            generation,
            foreign,
            version,
            value,
            ttl,
        })
    }

    /// The write of `through` ended. If every replica `applied` it (none outranked it, none
    /// missed it), no invalidation other than expected ones arrived since it was registered
    /// and no stream broke, its value is cached (fills in flight do not cache, joins end).
    /// When not applied, its invalidations are no longer expected (one that arrives anyway
    /// drops the key, as any other). Returns whether the cache now holds this write's value or
    /// a newer one of this process (the key then need not be dropped).
    pub fn written(&self, through: Through, applied: bool) -> bool {
        let Some(mut own) = self.own.get_mut(&through.key) else {
            return false;
        };
        own.writing = own.writing.saturating_sub(1);
        if !applied {
            for epoch in &through.epochs {
                if let Some((_, count)) = own.awaits.iter_mut().find(|(e, _)| e == epoch) {
                    *count = count.saturating_sub(1);
                }
            }
            own.awaits.retain(|(_, count)| *count > 0);
        }
        let cache = applied
            && own.foreign == through.foreign
            && (through.version > own.cached || own.cached == 0)
            && self.generation.load(Ordering::Acquire) == through.generation;
        if cache {
            own.cached = through.version;
            // Under the key's own entry, which every invalidation of the key takes first.
            let pending = self.pending.get_mut(&through.key).map(|mut state| {
                state.changes += 1;
                state.flight = None;
                state
            });
            self.entries.insert(
                through.key.clone(),
                Arc::new(Entry {
                    value: through.value,
                    version: through.version,
                    epochs: through.epochs,
                    ttl: through.ttl,
                }),
            );
            drop(pending);
        }
        // Not cached, but a newer write of this process that ended first cached its value: it
        // stays.
        let newer_cached = !cache
            && self
                .entries
                .get(&through.key)
                .is_some_and(|entry| entry.version > through.version);
        drop(own);
        self.own.remove_if(&through.key, |_, own| own.idle());
        cache || newer_cached
    }

    /// An invalidation of `key` arrived on the stream at `epoch`. If a write of this process
    /// expects one there, it is taken as that write's: each write makes each replica send one,
    /// so if it was another's, this process's own is still to arrive and drops the key then.
    /// Any other drops the key, and keeps the value of a write of this process in flight out.
    fn invalidate(&self, key: &[u8], epoch: u64) {
        let Some(mut own) = self.own.get_mut(key) else {
            self.forget(key);
            self.metrics.invalidations.increment(1);
            return;
        };
        match own
            .awaits
            .iter_mut()
            .find(|(e, count)| *e == epoch && *count > 0)
        {
            Some((_, count)) => {
                *count -= 1;
                own.awaits.retain(|(_, count)| *count > 0);
            }
            None => {
                own.foreign += 1;
                // Under the key's entry here: a write ending now either sees the count or
                // inserted its value before this drops it.
                self.forget(key);
                self.metrics.invalidations.increment(1);
            }
        }
        drop(own);
        self.own.remove_if(key, |_, own| own.idle());
    }

    fn invalidated(&self, keys: &[Reply], epoch: u64) {
        for key in keys {
            if let Reply::Bulk(key) = key {
                self.invalidate(key, epoch);
            }
        }
    }

    /// Everything `node` holds may have changed (a flush, or its stream broke): entries filled
    /// from it are not served, fills in flight do not cache. `up`: the stream still serves, on
    /// a new epoch.
    fn node_changed(&self, node: &Node, up: bool) {
        let epoch = if up { self.next_epoch() } else { 0 };
        let old = node.stream.epoch.swap(epoch, Ordering::AcqRel);
        self.generation.fetch_add(1, Ordering::AcqRel);
        // Invalidations expected on the old epoch will not come.
        self.own.retain(|_, own| {
            own.awaits.retain(|(e, _)| *e != old);
            !own.idle()
        });
    }

    fn next_epoch(&self) -> u64 {
        self.epochs.fetch_add(1, Ordering::AcqRel) + 1
    }

    fn stream_up(&self, node: &Node) {
        let stream = &node.stream;
        stream
            .confirmed
            .store(self.micros(Instant::now()), Ordering::Release);
        stream.epoch.store(self.next_epoch(), Ordering::Release);
    }

    fn confirmed(&self, node: &Node, ping_sent: Instant) {
        node.stream
            .confirmed
            .fetch_max(self.micros(ping_sent), Ordering::AcqRel);
    }

    /// Makes sure a task keeps `node`'s invalidation stream.
    pub fn ensure_stream(self: &Arc<Self>, node: &Arc<Node>, password: Option<&String>) {
        if node.stream.kept.load(Ordering::Acquire) || node.stream.kept.swap(true, Ordering::AcqRel)
        {
            return;
        }
        let (near, node, password) = (Arc::clone(self), Arc::clone(node), password.cloned());
        tokio::spawn(async move {
            let mut backoff = Backoff::new(RECONNECT_MIN, RECONNECT_MAX);
            while !node.is_retired() {
                let started = Instant::now();
                let kept = near.keep_stream(&node, password.as_deref()).await;
                near.node_changed(&node, false);
                if started.elapsed() > RECONNECT_MAX {
                    // It was up for a while: the next attempt need not wait long.
                    backoff.reset();
                }
                if let Err(error) = kept {
                    tracing::debug!(node = node.name(), %error, "invalidation stream lost");
                }
                tokio::time::sleep(backoff.next_wait()).await;
            }
            node.stream.kept.store(false, Ordering::Release);
        });
    }

    /// One invalidation stream to `node`, until it breaks.
    async fn keep_stream(&self, node: &Arc<Node>, password: Option<&str>) -> Result<()> {
        let connect = tokio::net::TcpStream::connect(node.spec.addr.as_str());
        let stream =
            tokio::time::timeout(self.request_timeout.max(Duration::from_secs(1)), connect)
                .await
                .map_err(|_| Error::new(ErrorKind::Timeout, "connect timed out"))?
                .map_err(|e| Error::io("connect", e))?;
        let _ = stream.set_nodelay(true);
        let (mut reader, mut writer) = stream.into_split();
        let mut input = BytesMut::new();
        let id_step: &[&[u8]] = &[b"CLIENT", b"ID"];
        let mut steps: Vec<Vec<&[u8]>> = Vec::new();
        if let Some(password) = password {
            steps.push(vec![b"AUTH", password.as_bytes()]);
        }
        steps.push(id_step.to_vec());
        let mut id = None;
        for step in steps {
            if let Reply::Int(n) = self
                .step(&mut reader, &mut writer, &mut input, &step)
                .await?
            {
                id = Some(n);
            }
        }
        let id = id
            .ok_or_else(|| Error::new(ErrorKind::Protocol, "no client id"))?
            .to_string();
        // Every key changed on the node, sent to this connection (it redirects to itself), which
        // then subscribes to the channel RESP2 receives them on.
        let tracking: &[&[u8]] = &[
            b"CLIENT",
            b"TRACKING",
            b"ON",
            b"BCAST",
            b"REDIRECT",
            id.as_bytes(),
        ];
        self.step(&mut reader, &mut writer, &mut input, tracking)
            .await?;
        let subscribe: &[&[u8]] = &[b"SUBSCRIBE", b"__redis__:invalidate"];
        self.step(&mut reader, &mut writer, &mut input, subscribe)
            .await?;
        self.stream_up(node);
        let mut ticker = tokio::time::interval(self.heartbeat);
        let mut outstanding: Option<Instant> = None;
        loop {
            tokio::select! {
                _ = ticker.tick() => {
                    if node.is_retired() {
                        return Ok(());
                    }
                    match outstanding {
                        Some(sent) if sent.elapsed() > self.request_timeout => {
                            return Err(Error::new(ErrorKind::Timeout, "no pong on the invalidation stream"));
                        }
                        Some(_) => {}
                        None => {
                            writer.write_all(b"*1\r\n$4\r\nPING\r\n").await.map_err(|e| Error::io("write", e))?;
                            outstanding = Some(Instant::now());
                        }
                    }
                }
                read = reader.read_buf(&mut input) => {
                    if read.map_err(|e| Error::io("read", e))? == 0 {
                        return Err(Error::new(ErrorKind::Io, "the node closed the invalidation stream"));
                    }
                    for reply in decode_replies(&mut input).map_err(|e| Error::new(ErrorKind::Protocol, e))? {
                        self.handle(node, reply, &mut outstanding);
                    }
                }
            }
        }
    }

    fn handle(&self, node: &Node, reply: Reply, outstanding: &mut Option<Instant>) {
        let Reply::Array(items) = reply else {
            return;
        };
        match items.first().and_then(Reply::as_bytes).map(|b| &b[..]) {
            Some(b"message") => match items.get(2) {
                Some(Reply::Array(keys)) => {
                    self.invalidated(keys, node.stream.epoch.load(Ordering::Acquire));
                }
                // A flush: everything may have changed.
                _ => self.node_changed(node, true),
            },
            Some(b"pong") => {
                if let Some(sent) = outstanding.take() {
                    self.confirmed(node, sent);
                }
            }
            _ => {}
        }
    }

    /// Sends one handshake command and reads its reply (an error reply is an error).
    async fn step(
        &self,
        reader: &mut tokio::net::tcp::OwnedReadHalf,
        writer: &mut tokio::net::tcp::OwnedWriteHalf,
        input: &mut BytesMut,
        args: &[&[u8]],
    ) -> Result<Reply> {
        writer
            .write_all(&command(args))
            .await
            .map_err(|e| Error::io("write", e))?;
        match self.next_reply(reader, input).await? {
            Reply::Error(text) => Err(Error::new(
                ErrorKind::Server,
                String::from_utf8_lossy(&text).into_owned(),
            )),
            reply => Ok(reply),
        }
    }

    async fn next_reply(
        &self,
        reader: &mut tokio::net::tcp::OwnedReadHalf,
        input: &mut BytesMut,
    ) -> Result<Reply> {
        let deadline = Instant::now() + self.request_timeout.max(Duration::from_millis(200));
        loop {
            let mut replies =
                decode_replies(input).map_err(|e| Error::new(ErrorKind::Protocol, e))?;
            if !replies.is_empty() {
                // The handshake sends one command at a time: one reply each.
                return Ok(replies.remove(0));
            }
            let read = tokio::time::timeout_at(deadline, reader.read_buf(input))
                .await
                .map_err(|_| Error::new(ErrorKind::Timeout, "no reply on the invalidation stream"))?
                .map_err(|e| Error::io("read", e))?;
            if read == 0 {
                return Err(Error::new(
                    ErrorKind::Io,
                    "the node closed the invalidation stream",
                ));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::node::Fleet;
    use crate::options::{NodeSpec, Settings};

    /// Two replicas whose streams are up (no connection: the states are set by hand).
    fn replicas(near: &NearCache) -> Vec<Arc<Node>> {
        let (settings, fleet) = (Arc::new(Settings::default()), Arc::new(Fleet::default()));
        ["127.0.0.1:1", "127.0.0.1:2"]
            .into_iter()
            .map(|addr| {
                let node = Node::new(
                    NodeSpec::new(addr),
                    Arc::clone(&settings),
                    Arc::clone(&fleet),
                );
                near.stream_up(&node);
                node
            })
            .collect()
    }

    fn epoch(node: &Node) -> u64 {
        node.stream.epoch.load(Ordering::Acquire)
    }

    fn key(text: &str) -> Reply {
        Reply::Bulk(Bytes::copy_from_slice(text.as_bytes()))
    }

    fn through(near: &NearCache, nodes: &[Arc<Node>], version: u64, value: &str) -> Through {
        near.expect(
            b"k",
            nodes,
            version,
            Bytes::copy_from_slice(value.as_bytes()),
            None,
        )
        .expect("streams serve")
    }

    fn cached(near: &NearCache, nodes: &[Arc<Node>]) -> Option<Bytes> {
        near.get(b"k", nodes)
    }

    #[tokio::test]
    async fn an_older_write_ending_last_leaves_the_newer_value() {
        let near = NearCache::new(1 << 20, Duration::from_secs(1));
        let nodes = replicas(&near);
        let older = through(&near, &nodes, 10, "older");
        let newer = through(&near, &nodes, 11, "newer");
        assert!(near.written(newer, true));
        // The older one ends last: not cached, and the newer value stays.
        assert!(near.written(older, true));
        assert_eq!(cached(&near, &nodes).as_deref(), Some(&b"newer"[..]));
        // Each write's own invalidation on each replica is taken as expected.
        for node in &nodes {
            near.invalidated(&[key("k"), key("k")], epoch(node));
        }
        assert_eq!(cached(&near, &nodes).as_deref(), Some(&b"newer"[..]));
        // Then another process's write drops it.
        near.invalidated(&[key("k")], epoch(&nodes[0]));
        assert_eq!(cached(&near, &nodes), None);
    }

    #[tokio::test]
    async fn writes_ending_in_order_each_cache_their_value() {
        let near = NearCache::new(1 << 20, Duration::from_secs(1));
        let nodes = replicas(&near);
        let older = through(&near, &nodes, 10, "older");
        let newer = through(&near, &nodes, 11, "newer");
        assert!(near.written(older, true));
        assert_eq!(cached(&near, &nodes).as_deref(), Some(&b"older"[..]));
        assert!(near.written(newer, true));
        assert_eq!(cached(&near, &nodes).as_deref(), Some(&b"newer"[..]));
    }

    #[tokio::test]
    async fn an_invalidation_not_expected_keeps_a_write_out() {
        let near = NearCache::new(1 << 20, Duration::from_secs(1));
        let nodes = replicas(&near);
        let write = through(&near, &nodes, 10, "mine");
        // The write's own invalidations and another process's, before the write's reply.
        near.invalidated(&[key("k"), key("k")], epoch(&nodes[0]));
        near.invalidated(&[key("k")], epoch(&nodes[1]));
        assert!(!near.written(write, true));
        assert_eq!(cached(&near, &nodes), None);
    }

    #[tokio::test]
    async fn a_write_not_applied_everywhere_expects_nothing() {
        let near = NearCache::new(1 << 20, Duration::from_secs(1));
        let nodes = replicas(&near);
        let write = through(&near, &nodes, 10, "mine");
        assert!(!near.written(write, false));
        assert_eq!(cached(&near, &nodes), None);
        // A fill after it, then another process's write: its invalidation is not taken for
        // the failed write's.
        let Miss::Fill(ticket) = Arc::clone(&near).miss(b"k", &nodes) else {
            panic!("a fill");
        };
        near.fill(&ticket, Bytes::from_static(b"filled"), None);
        drop(ticket);
        assert_eq!(cached(&near, &nodes).as_deref(), Some(&b"filled"[..]));
        near.invalidated(&[key("k")], epoch(&nodes[1]));
        assert_eq!(cached(&near, &nodes), None);
    }

    #[tokio::test]
    async fn a_broken_stream_drops_entries_and_expectations() {
        let near = NearCache::new(1 << 20, Duration::from_secs(1));
        let nodes = replicas(&near);
        let write = through(&near, &nodes, 10, "mine");
        assert!(near.written(write, true));
        assert!(cached(&near, &nodes).is_some());
        let old = epoch(&nodes[0]);
        near.node_changed(&nodes[0], false);
        assert_eq!(cached(&near, &nodes), None);
        // The invalidations expected on the broken stream will not come; the other's still do.
        let awaits: Vec<(u64, u32)> = near.own.get(&b"k"[..]).unwrap().awaits.to_vec();
        assert_eq!(awaits, [(epoch(&nodes[1]), 1)]);
        assert_ne!(old, 0);
        near.stream_up(&nodes[0]);
        // A fill that began before a break does not cache.
        let Miss::Fill(ticket) = Arc::clone(&near).miss(b"k", &nodes) else {
            panic!("a fill");
        };
        near.node_changed(&nodes[1], true);
        near.fill(&ticket, Bytes::from_static(b"filled"), None);
        assert_eq!(cached(&near, &nodes), None);
    }
}
