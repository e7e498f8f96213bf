//! The routes: how a command reaches its key's replicas. There is one route per access kind,
//! and every entry point (the typed methods, [`Client::command`], [`Client::call`],
//! [`Client::pipeline`] and the multi-key commands, which split into per-key pipelines) takes
//! it, so a promise kept for one caller is kept for all:
//!
//! - [`read`]: the first replica that serves reads; on a timeout or connection error the
//!   next; on a miss from a node that is warming up, the next (a GET's value is copied back);
//! - [`write`]: every replica that takes writes, in parallel, with a repair hint for each one
//!   that missed it, even when the caller stops waiting;
//! - [`mutation`]: one replica runs the command, the resulting value is copied to the others;
//! - [`pipeline`]: many single-key commands at once, each on the route above;
//! - [`multi_key`]: MGET, MSET, DEL, EXISTS, TOUCH, UNLINK as per-key pipelines; MSETNX;
//! - [`blocking`]: BLPOP and its kin: taken as a mutation, waited for on a connection of
//!   their own;
//! - [`ring_wide`]: DBSIZE, KEYS, SCAN, RANDOMKEY, FLUSHALL over every node.

mod blocking;
mod migration;
mod multi_key;
mod mutation;
mod near_read;
mod pipeline;
mod read;
mod refill;
mod ring_wide;
mod write;

use std::sync::Arc;

use cachering_commands::{lookup, Absent, Cmd, CommandSpec, Flag, Route};
use smallvec::SmallVec;

use crate::client::Client;
use crate::error::{Error, ErrorKind, Result};
use crate::node::Node;
use crate::reply::Reply;
use crate::ring::key_hash;

pub use cachering_commands::Access;
pub(crate) use migration::PreviousRing;
pub use pipeline::Routed;
pub(crate) use read::Asked;

/// The error of a request made while the ring has no node (discovery has found none yet, or
/// DNS lists none).
pub(crate) fn no_nodes() -> Error {
    Error::new(
        ErrorKind::Unavailable,
        "no nodes in the ring (discovery has found none)",
    )
}

/// `VAPPLY key expected version args…`: `args` run on a node at `version` (`expected` is `*`
/// for a mutation, stamped with `version` or just above the key's own; or the signed version a
/// replayed collection write must find there).
pub(crate) fn vapply<'a>(
    key: &'a [u8],
    expected: &'a str,
    version: &'a str,
    args: &[&'a [u8]],
) -> SmallVec<[&'a [u8]; 8]> {
    let mut wire: SmallVec<[&[u8]; 8]> = SmallVec::with_capacity(args.len() + 4);
    wire.extend_from_slice(&[b"VAPPLY", key, expected.as_bytes(), version.as_bytes()]);
    wire.extend_from_slice(args);
    wire
}

/// Locks that keep propagations and fills of one key apart from its writes within a client
/// (a key maps to one stripe). Versioned writes of one key share it (their versions order
/// them, whatever order they reach the replicas in); mutations, which copy a value read from
/// one replica to the others, fills and multi-key writes take it alone. With a near cache,
/// taking and releasing a key's lock drops the key from it (a write of this process is never
/// followed by a near-cache read of the value it replaced).
pub(crate) struct Stripes {
    locks: Vec<tokio::sync::RwLock<()>>,
    near: Option<Arc<crate::near::NearCache>>,
}

/// A held stripe lock (held for its drop, never read).
#[allow(dead_code)]
enum Held<'a> {
    Shared(tokio::sync::RwLockReadGuard<'a, ()>),
    Alone(tokio::sync::RwLockWriteGuard<'a, ()>),
}

/// Stripes per client: enough that unrelated keys rarely share one.
const STRIPES: usize = 1024;

/// Held stripe locks; dropping them drops their keys from the near cache again.
pub(crate) struct StripeGuard<'a> {
    _guards: SmallVec<[Held<'a>; 1]>,
    keys: Vec<Vec<u8>>,
    near: Option<&'a crate::near::NearCache>,
}

impl StripeGuard<'_> {
    /// Leaves `key` in the near cache when the locks are released (a write of this process
    /// just cached its value there).
    pub fn keep(&mut self, key: &[u8]) {
        self.keys.retain(|k| k != key);
    }
}

impl Drop for StripeGuard<'_> {
    fn drop(&mut self) {
        if let Some(near) = self.near {
            for key in &self.keys {
                near.forget(key);
            }
        }
    }
}

impl Stripes {
    pub fn new(near: Option<Arc<crate::near::NearCache>>) -> Self {
        Self {
            locks: (0..STRIPES).map(|_| tokio::sync::RwLock::new(())).collect(),
            near,
        }
    }

    fn index(key: &[u8]) -> usize {
        (key_hash(key) % STRIPES as u64) as usize
    }

    /// The lock of `key`, alone.
    pub async fn lock(&self, key: &[u8]) -> StripeGuard<'_> {
        self.take(std::iter::once(key), false, true).await
    }

    /// The lock of `key`, shared with other versioned writes (`shared`) or alone, for a write
    /// whose value may go through to the near cache: the key stays there while it runs (a
    /// read meanwhile may return the value it replaces, as from the nodes) and is dropped
    /// after it unless [`StripeGuard::keep`].
    pub async fn write_through(&self, key: &[u8], shared: bool) -> StripeGuard<'_> {
        self.take(std::iter::once(key), shared, false).await
    }

    /// The lock of `key`, shared with other versioned writes.
    pub async fn share(&self, key: &[u8]) -> StripeGuard<'_> {
        self.take(std::iter::once(key), true, true).await
    }

    /// The locks of `keys`, alone, taken in stripe order so that two callers locking several
    /// keys cannot wait on each other.
    pub async fn lock_all<'k>(&self, keys: impl Iterator<Item = &'k [u8]>) -> StripeGuard<'_> {
        self.take(keys, false, true).await
    }

    /// Takes the locks of `keys`; `forget`: drops them from the near cache first.
    async fn take<'k>(
        &self,
        keys: impl Iterator<Item = &'k [u8]>,
        shared: bool,
        forget: bool,
    ) -> StripeGuard<'_> {
        let keys: Vec<&[u8]> = keys.collect();
        let near = self.near.as_deref();
        if let (Some(near), true) = (near, forget) {
            for key in &keys {
                near.forget(key);
            }
        }
        let mut stripes: Vec<usize> = keys.iter().map(|key| Self::index(key)).collect();
        stripes.sort_unstable();
        stripes.dedup();
        let mut guards = SmallVec::with_capacity(stripes.len());
        for index in stripes {
            let lock = &self.locks[index];
            guards.push(if shared {
                Held::Shared(lock.read().await)
            } else {
                Held::Alone(lock.write().await)
            });
        }
        StripeGuard {
            _guards: guards,
            keys: if near.is_some() {
                keys.iter().map(|key| key.to_vec()).collect()
            } else {
                Vec::new()
            },
            near,
        }
    }

    /// Whether writes must take the locks even with one replica (to keep the near cache).
    pub fn near_cached(&self) -> bool {
        self.near.is_some()
    }
}

/// What the read route needs to know about a read command: which answer means the key is
/// missing (from the command table), and whether a hit found elsewhere is copied back.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ReadKind {
    absent: Absent,
    fills: bool,
}

impl ReadKind {
    /// GET: a miss is nil, and a value found on the next replica is copied back.
    pub const GET: ReadKind = ReadKind {
        absent: Absent::Nil,
        fills: true,
    };
    /// A per-key count (EXISTS, TOUCH): 0 means missing.
    pub const COUNT: ReadKind = ReadKind {
        absent: Absent::Zero,
        fills: false,
    };

    /// The kind of the read `args` (name first), from the command table.
    pub fn of<A: AsRef<[u8]>>(args: &[A]) -> Self {
        match args.first().and_then(|name| lookup(name.as_ref())) {
            Some(spec) => Self::of_spec(spec),
            None => ReadKind {
                absent: Absent::Unknown,
                fills: false,
            },
        }
    }

    /// The kind of a read by its table entry.
    pub fn of_spec(spec: &CommandSpec) -> Self {
        match spec.route {
            Route::MultiKey(_, cachering_commands::Merge::Count) => Self::COUNT,
            _ => ReadKind {
                absent: spec.absent,
                fills: spec.id == Cmd::Get,
            },
        }
    }

    /// Whether `reply` is what this read answers for a missing key.
    pub fn is_miss(self, reply: &Reply) -> bool {
        match (self.absent, reply) {
            (Absent::Nil, Reply::Nil) => true,
            (Absent::Zero, Reply::Int(0)) => true,
            (Absent::MinusTwo, Reply::Int(-2)) => true,
            (Absent::EmptyString, Reply::Bulk(bytes)) => bytes.is_empty(),
            (Absent::EmptyArray, Reply::Array(items)) => items.is_empty(),
            (Absent::NoneType, Reply::Status(status)) => status.as_ref() == b"none",
            _ => false,
        }
    }
}

/// One write of one key, as its replicas answer it.
///
/// - A replica that failed (timeout, connection error) may or may not have applied the write:
///   it gets a repair hint at once.
/// - A replica that refused it with an error reply (OOM, a wrong argument) did not apply it.
///   If another replica did, the refusing one now holds an older value and gets a hint; if
///   every replica refused, nothing changed anywhere and no replica is hinted (a refused write
///   must not cost the key its current value).
/// - A replica the write was sent to stays *pending* until its answer is recorded. If the
///   caller stops waiting (drops the future) first, every pending replica gets a hint when the
///   tally is dropped: it may or may not have applied the write, and without the hint it could
///   later serve the value the write replaced.
pub(crate) struct WriteTally<'k> {
    key: &'k [u8],
    /// The write's version, which a hint remembers.
    version: u64,
    replicas: usize,
    acknowledged: usize,
    first_reply: Option<Reply>,
    last_error: Option<Error>,
    pending: SmallVec<[Arc<Node>; 4]>,
    refused: SmallVec<[Arc<Node>; 4]>,
}

impl<'k> WriteTally<'k> {
    /// The write's version.
    pub fn version(&self) -> u64 {
        self.version
    }

    /// A write of `key` at `version` to a key with `replicas` replicas.
    pub fn new(key: &'k [u8], version: u64, replicas: usize) -> Self {
        Self {
            key,
            version,
            replicas,
            acknowledged: 0,
            first_reply: None,
            last_error: None,
            pending: SmallVec::new(),
            refused: SmallVec::new(),
        }
    }

    /// Counts a replica that already holds the result (a mutation's own replica).
    pub fn already_acknowledged(&mut self) {
        self.acknowledged += 1;
    }

    /// Whether `node` takes this write now. One that does not (ejected) gets a hint at once;
    /// one that does is pending until its answer is recorded.
    pub fn target(&mut self, node: &Arc<Node>) -> bool {
        if node.takes_writes() {
            self.pending.push(Arc::clone(node));
            true
        } else {
            node.add_hint(self.key, self.version);
            false
        }
    }

    /// Counts one replica's answer (see the type's docs for who gets a hint).
    pub fn record(&mut self, node: &Arc<Node>, result: Result<Reply>) {
        if let Some(position) = self.pending.iter().position(|n| Arc::ptr_eq(n, node)) {
            self.pending.swap_remove(position);
        }
        match result {
            Ok(reply) => {
                self.acknowledged += 1;
                self.first_reply.get_or_insert(reply);
            }
            Err(error) if error.is_server_error() => {
                self.refused.push(Arc::clone(node));
                self.last_error = Some(error);
            }
            Err(error) => {
                node.add_hint(self.key, self.version);
                self.last_error = Some(error);
            }
        }
    }

    /// Hints the replicas that refused the write, if another one applied it.
    fn settle_refusals(&mut self) {
        let applied = self.acknowledged > 0;
        for node in self.refused.drain(..) {
            if applied {
                node.add_hint(self.key, self.version);
            }
        }
    }

    /// The write's result by the write rule.
    pub fn outcome(mut self, rule: crate::WriteRule) -> Result<Reply> {
        self.settle_refusals();
        if self.replicas == 0 {
            // Discovery has found no node yet (or DNS lists none): nothing took the write.
            return Err(no_nodes());
        }
        let required = rule.required(self.replicas);
        let acknowledged = self.acknowledged;
        if acknowledged >= required {
            return Ok(self
                .first_reply
                .take()
                .unwrap_or(Reply::Status(bytes::Bytes::from_static(b"OK"))));
        }
        match self.last_error.take() {
            Some(error) if error.is_server_error() => Err(error),
            Some(error) => Err(Error::new(
                ErrorKind::WriteNotAcknowledged,
                format!("{acknowledged} of {required} required replicas acknowledged: {error}"),
            )),
            None => Err(Error::new(
                ErrorKind::Unavailable,
                "every replica of the key is ejected",
            )),
        }
    }
}

impl Drop for WriteTally<'_> {
    fn drop(&mut self) {
        self.settle_refusals();
        for node in self.pending.drain(..) {
            node.add_hint(self.key, self.version);
        }
    }
}

/// Hints `key` on `nodes` if dropped armed: a mutation in flight on another replica, whose
/// result these replicas would otherwise never receive.
pub(crate) struct HintsOnDrop<'k> {
    key: &'k [u8],
    version: u64,
    nodes: SmallVec<[Arc<Node>; 4]>,
}

impl<'k> HintsOnDrop<'k> {
    /// Hints for `key` at `version` (a version above anything the mutation can produce would
    /// be wrong: the propagation it stands for carries the mutating node's own stamp, so the
    /// caller passes the client's latest version and the hint only invalidates what is older).
    pub fn new(key: &'k [u8], version: u64, nodes: impl IntoIterator<Item = Arc<Node>>) -> Self {
        Self {
            key,
            version,
            nodes: nodes.into_iter().collect(),
        }
    }

    /// The mutation's answer arrived: what follows handles the other replicas.
    pub fn disarm(mut self) {
        self.nodes.clear();
    }
}

impl Drop for HintsOnDrop<'_> {
    fn drop(&mut self) {
        for node in self.nodes.drain(..) {
            node.add_hint(self.key, self.version);
        }
    }
}

/// Locks a mutex shared by the futures of one request (never contended across threads for
/// long; a poisoned one is still consistent, since every update is one call).
pub(crate) fn lock<T>(mutex: &std::sync::Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// The error for a command a ring does not route.
fn not_routed(spec: &CommandSpec) -> Error {
    Error::new(
        ErrorKind::Command,
        format!(
            "ERR {} is not routed over the ring; send it to one node with on_node",
            spec.name.to_uppercase()
        ),
    )
}

impl Client {
    /// Runs any command a node knows, routed by the command table: single-key commands by
    /// their key and access, multi-key commands split by node and merged, commands about the
    /// whole key space over every node. `args` is the command in full, name first.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let node = cachering_node::start(cachering_node::NodeConfig::ephemeral()).await?;
    /// # let addr = node.local_addr().to_string();
    /// use cachering_client::{ClientBuilder, Reply};
    ///
    /// let client = ClientBuilder::new().node(&addr).build()?;
    /// client.call(&["SET", "page:home", "<html>"]).await?;
    /// assert_eq!(client.call(&["STRLEN", "page:home"]).await?, Reply::Int(6));
    /// assert_eq!(client.call(&["APPEND", "page:home", "!"]).await?, Reply::Int(7));
    /// assert_eq!(client.call(&["DEL", "page:home", "other"]).await?, Reply::Int(1));
    /// # Ok(())
    /// # }
    /// ```
    ///
    /// # Errors
    ///
    /// [`ErrorKind::Command`] for an unknown command, a wrong number of arguments, or a
    /// command about one node (CONFIG, SHUTDOWN) or one connection (PING, AUTH, MULTI);
    /// otherwise as [`Client::command`] for the route the command takes.
    pub async fn call<A: AsRef<[u8]>>(&self, args: &[A]) -> Result<Reply> {
        self.call_routed(args, true).await
    }

    /// Runs `args` as [`Client::call`] does, except that a blocking list command (BLPOP,
    /// BRPOP, BLMOVE, BRPOPLPUSH, BLMPOP) answers at once, as Redis answers it inside
    /// MULTI/EXEC: what the lists hold now, or nil. The proxy runs a transaction's commands
    /// this way.
    ///
    /// # Errors
    ///
    /// As [`Client::call`].
    pub async fn call_without_waiting<A: AsRef<[u8]>>(&self, args: &[A]) -> Result<Reply> {
        self.call_routed(args, false).await
    }

    async fn call_routed<A: AsRef<[u8]>>(&self, args: &[A], wait: bool) -> Result<Reply> {
        let Some(name) = args.first() else {
            return Err(Error::new(ErrorKind::Command, "ERR empty command"));
        };
        let Some(spec) = lookup(name.as_ref()) else {
            return Err(Error::new(
                ErrorKind::Command,
                cachering_commands::unknown_command_error(args),
            ));
        };
        if !spec.arity_ok(args.len()) {
            return Err(Error::new(
                ErrorKind::Command,
                cachering_commands::wrong_arity_error(spec.name),
            ));
        }
        let slices: SmallVec<[&[u8]; 8]> = args.iter().map(|a| a.as_ref()).collect();
        match spec.route {
            Route::Read | Route::Write | Route::WriteUnless(_) | Route::Mutation => {
                let Some(key) = spec.keys.first_key(&slices) else {
                    // A form that names no key (OBJECT HELP): any node answers it alike.
                    return self.on_any_node(&slices).await;
                };
                let access = spec.route.access(&slices).expect("a single-key route");
                match access {
                    crate::Access::Read => self.read(key, &slices, ReadKind::of_spec(spec)).await,
                    crate::Access::Write => self.write(key, &slices).await,
                    _ => Box::pin(self.mutate(key, &slices)).await,
                }
            }
            Route::MultiKey(..) if spec.has(Flag::Blocking) => {
                Box::pin(self.blocking(spec, &slices, wait)).await
            }
            Route::MultiKey(_, merge) => Box::pin(self.multi_key(spec, merge, &slices)).await,
            Route::RingWide => Box::pin(self.ring_wide(spec, &slices)).await,
            _ => Err(not_routed(spec)),
        }
    }
}
