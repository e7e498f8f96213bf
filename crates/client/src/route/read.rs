//! The read route, in two consistencies ([`ReadConsistency`](crate::ReadConsistency)).
//!
//! **Newest** (the default): the read goes to the key's first replica that serves reads
//! (`VGET key` for a GET, `VVER key` then the command for any other read), and in the same
//! round trip every other replica that takes requests is asked for its version of the key
//! (`VVER`: the checks queued on one connection at the same moment, from any number of reads,
//! travel as one `VVER key key …`). The newest answer wins: if the first replica is behind, the read is answered
//! by the newest one, and every replica found behind is brought to the newest state before the
//! read returns (read repair: `VSET`/`VDEL` at that version, which a newer write in between
//! outranks). So a read sees every write acknowledged before it started, from any process,
//! whichever replica the write reached; a replica that failed is left out.
//!
//! With one replica (R = 1) there is nothing to compare: reads take the One route, and writes
//! go unversioned ([`Client::versioned_replicas`]).
//!
//! **One**: a read goes to the key's first replica that serves reads: healthy, and not known
//! to have missed a write of the key. On a timeout or connection error it goes on to the next.
//! A miss is a miss, except on a node that is warming up (it restarted empty, or had keys
//! invalidated by repair, a short while ago): there the miss may be a lost value, so the next
//! replica is asked and its answer returned; for GET a value found there is also copied back,
//! with its remaining time to live.

use std::sync::Arc;

use bytes::{Bytes, BytesMut};
use cachering_commands::{lookup, Cmd};
use futures::future::join_all;
use smallvec::SmallVec;

use super::ReadKind;
use crate::client::Client;
use crate::connection::encode_command;
use crate::error::{Error, ErrorKind, Result};
use crate::node::Node;
use crate::options::ReadConsistency;
use crate::reply::Reply;

/// A replica already asked for this read, elsewhere (a pipeline asks first replicas in bulk).
pub(crate) enum Asked {
    /// It failed (timeout, connection error).
    Failed(Arc<Node>, Error),
    /// It answered with a miss while warming up.
    Missed(Arc<Node>, Reply),
}

fn unavailable() -> Error {
    Error::new(
        ErrorKind::Unavailable,
        "no replica of the key can serve reads",
    )
}

/// The signed version in a `VVER` reply for one key (an array of one version, or that version):
/// 0 nothing known, negative a delete.
pub(crate) fn signed_vver(reply: &Reply) -> Option<i64> {
    match reply {
        Reply::Array(items) if items.len() == 1 => items[0].as_int(),
        other => other.as_int(),
    }
}

/// Where a replica's entry of a key stands in the order of writes: its version, and whether
/// that version holds a value (a value outranks a delete at the same version).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Default)]
pub(crate) struct Rank {
    version: u64,
    value: bool,
}

impl Rank {
    /// The rank a signed version tells: 0 nothing known, negative a delete.
    pub fn from_signed(version: i64) -> Rank {
        Rank {
            version: version.unsigned_abs(),
            value: version > 0,
        }
    }

    /// The rank in a `VVER` reply for one key.
    pub fn from_vver(reply: &Reply) -> Option<Rank> {
        signed_vver(reply).map(Rank::from_signed)
    }

    /// The version.
    pub fn version(self) -> u64 {
        self.version
    }

    /// Whether the version holds a value (not a delete).
    pub fn has_value(self) -> bool {
        self.value
    }
}

/// A replica's entry of a key, as `VGET` (and `PTTL`) tell it.
#[derive(Debug, Clone)]
pub(crate) struct State {
    /// The value, if the key has one: a string's bytes, or a collection's dump.
    pub value: Option<Bytes>,
    /// The collection's type (`hash`, ...); `None` for a string.
    pub kind: Option<Bytes>,
    /// The version of the key's last write there (0: none known).
    pub version: u64,
    /// Milliseconds to live (-1 none, -2 no value), when asked for.
    pub ttl: Option<i64>,
}

/// Redis's error for a command on a key of another type.
pub(crate) const WRONGTYPE: &str =
    "WRONGTYPE Operation against a key holding the wrong kind of value";

impl State {
    /// Encodes the commands that read a key's state: `VGET key` and `PTTL key`, sent back to
    /// back inside a MULTI. A write that lands between them is newer than the state read: it
    /// reaches the other replicas itself, or through the next read's repair.
    pub fn encode_read(key: &[u8], batch: &mut BytesMut) {
        encode_command(&[b"VGET", key], batch);
        encode_command(&[b"PTTL", key], batch);
    }

    /// The state in a `VGET` reply: `[value or nil, signed version]`, or for a collection
    /// `[dump, signed version, type]`.
    pub fn from_vget(reply: Reply) -> Option<State> {
        let Reply::Array(items) = reply else {
            return None;
        };
        let mut items = items.into_iter();
        let (value, version) = (items.next()?, items.next()?.as_int()?);
        let kind = match items.next() {
            None => None,
            Some(Reply::Bulk(kind)) => Some(kind),
            Some(_) => return None,
        };
        if items.next().is_some() {
            return None;
        }
        Some(State {
            value: match value {
                Reply::Bulk(value) if version > 0 => Some(value),
                _ => None,
            },
            kind,
            version: version.unsigned_abs(),
            ttl: None,
        })
    }

    /// The state in a `VGET` reply and the `PTTL` reply after it.
    pub fn from_vget_pttl(vget: Reply, pttl: Reply) -> Option<State> {
        let mut state = State::from_vget(vget)?;
        state.ttl = Some(pttl.as_int()?);
        Some(state)
    }

    /// Its rank in the order of writes.
    pub fn rank(&self) -> Rank {
        Rank {
            version: self.version,
            value: self.value.is_some(),
        }
    }

    /// The write that brings another replica to this state: `VSET key version value [PX ttl]
    /// [TYPE type]`, or `VDEL key version` for a delete; `None` when no write is known, or when the value
    /// just expired, or its time to live was not read.
    pub fn restore(&self, key: &[u8]) -> Option<Vec<Bytes>> {
        if self.version == 0 {
            return None;
        }
        let key = Bytes::copy_from_slice(key);
        let version = Bytes::from(self.version.to_string());
        Some(match &self.value {
            Some(value) => {
                let ttl = self.ttl?;
                let mut args = vec![Bytes::from_static(b"VSET"), key, version, value.clone()];
                match ttl {
                    -1 => {}
                    ttl if ttl > 0 => {
                        args.push(Bytes::from_static(b"PX"));
                        args.push(Bytes::from(ttl.to_string()));
                    }
                    _ => return None,
                }
                if let Some(kind) = &self.kind {
                    args.push(Bytes::from_static(b"TYPE"));
                    args.push(kind.clone());
                }
                args
            }
            None => vec![Bytes::from_static(b"VDEL"), key, version],
        })
    }
}

impl Client {
    /// Serves a read of `key` with the client's read consistency.
    pub(crate) async fn read(&self, key: &[u8], args: &[&[u8]], kind: ReadKind) -> Result<Reply> {
        self.inner.hot.observe(key);
        if kind.fills {
            if let Some(near) = &self.inner.near {
                if !self.inner.settings.near_cache_hot_only || self.inner.hot.is_hot(key) {
                    return Box::pin(self.read_near(near, key, args, kind)).await;
                }
            }
        }
        self.read_routed(key, args, kind).await
    }

    /// For a read of a hot key, with spreading on, which of the `serving` replicas that serve
    /// reads answers it this time (in turn); `None`: the first, as always.
    pub(crate) fn spread_turn(&self, key: &[u8], serving: usize) -> Option<usize> {
        (self.inner.settings.spread_hot_reads && serving > 1 && self.inner.hot.is_hot(key)).then(
            || {
                self.inner
                    .spread
                    .fetch_add(1, std::sync::atomic::Ordering::Relaxed)
                    % serving
            },
        )
    }

    /// A read past the near cache.
    pub(crate) async fn read_routed(
        &self,
        key: &[u8],
        args: &[&[u8]],
        kind: ReadKind,
    ) -> Result<Reply> {
        match self.inner.settings.read_consistency {
            ReadConsistency::Newest if self.versioned_replicas() => {
                self.read_newest(key, args).await
            }
            _ => self.read_after(key, args, kind, None).await,
        }
    }

    /// The request that asks a replica for the read's answer with its rank: `VGET` for a GET
    /// (one reply; with `ttl`, `PTTL` after it, two), `VVER` followed by the command otherwise
    /// (two). Also tells which it is.
    pub(crate) fn full_read(args: &[&[u8]], key: &[u8], ttl: bool) -> (Bytes, usize, bool) {
        let is_get = args
            .first()
            .and_then(|name| lookup(name))
            .map(|spec| spec.id)
            == Some(Cmd::Get);
        let mut bytes = BytesMut::new();
        if is_get {
            encode_command(&[b"VGET", key], &mut bytes);
            if ttl {
                encode_command(&[b"PTTL", key], &mut bytes);
                return (bytes.freeze(), 2, true);
            }
            (bytes.freeze(), 1, true)
        } else {
            encode_command(&[b"VVER", key], &mut bytes);
            encode_command(args, &mut bytes);
            (bytes.freeze(), 2, false)
        }
    }

    /// Reads a replica's replies to [`Client::full_read`]: its rank, its answer, and for a GET
    /// asked with its time to live, that (`PTTL`'s reply).
    pub(crate) fn full_answer(
        node: &Node,
        replies: Vec<Reply>,
        is_get: bool,
    ) -> Result<(Rank, Reply, Option<i64>)> {
        let protocol =
            || Error::new(ErrorKind::Protocol, "unexpected versioned reply").with_node(node.name());
        if is_get {
            let mut replies = replies.into_iter();
            let reply = replies.next().ok_or_else(protocol)?;
            let ttl = replies.next().and_then(|pttl| pttl.as_int());
            if let Reply::Error(text) = &reply {
                return Err(node.server_error(text));
            }
            let state = State::from_vget(reply).ok_or_else(protocol)?;
            let rank = state.rank();
            if state.kind.is_some() && state.value.is_some() {
                // A GET of a collection, answered as the node answers it.
                return Err(node.server_error(WRONGTYPE.as_bytes()));
            }
            Ok((rank, state.value.map_or(Reply::Nil, Reply::Bulk), ttl))
        } else {
            let [version, answer] = <[Reply; 2]>::try_from(replies).map_err(|_| protocol())?;
            if let Reply::Error(text) = &version {
                return Err(node.server_error(text));
            }
            let rank = Rank::from_vver(&version).ok_or_else(protocol)?;
            Ok((rank, node.reply_result(answer)?, None))
        }
    }

    /// Asks `node` for the read's answer with its rank.
    async fn answered(
        node: &Arc<Node>,
        key: &[u8],
        read: &(Bytes, usize, bool),
    ) -> Result<(Rank, Reply, Option<i64>)> {
        let (bytes, replies, is_get) = read;
        let replies = node
            .request(node.slot_for(key), bytes.clone(), *replies)
            .await?;
        Self::full_answer(node, replies, *is_get)
    }

    /// Asks `node` for its rank of `key` (checks of many keys at once travel as one `VVER`).
    pub(crate) async fn checked(node: &Arc<Node>, key: &[u8]) -> Result<Rank> {
        match node.check(key).await? {
            Reply::Error(text) => Err(node.server_error(&text)),
            reply => Rank::from_vver(&reply).ok_or_else(|| {
                Error::new(ErrorKind::Protocol, "unexpected VVER reply").with_node(node.name())
            }),
        }
    }

    /// The newest-read (module docs).
    pub(crate) async fn read_newest(&self, key: &[u8], args: &[&[u8]]) -> Result<Reply> {
        Ok(self.read_newest_with(key, args, false).await?.0)
    }

    /// The newest-read, for a GET with `ttl` also the key's time to live on the replica that
    /// answered (`PTTL`'s reply, read in the same round trip).
    pub(crate) async fn read_newest_with(
        &self,
        key: &[u8],
        args: &[&[u8]],
        ttl: bool,
    ) -> Result<(Reply, Option<i64>)> {
        let topology = self.topology().await;
        let replicas = topology.replicas(key, self.inner.settings.replicas);
        // After a ring change, the key's former replicas are asked too: the key may live only
        // there, or a process still on the old ring may have written it there.
        let moved = self.moved_from(key, &replicas);
        let candidates: SmallVec<[&Arc<Node>; 4]> =
            replicas.iter().filter(|node| node.takes_writes()).collect();
        if candidates.is_empty() {
            return Err(unavailable());
        }
        let serving: SmallVec<[usize; 4]> = (0..candidates.len())
            .filter(|&i| candidates[i].serves_read(key))
            .collect();
        let turn = self.spread_turn(key, serving.len());
        let primary = match turn {
            Some(turn) => serving[turn],
            None => serving.first().copied().unwrap_or(0),
        };
        if turn.is_some_and(|turn| turn > 0) {
            self.inner.metrics.spread_reads.increment(1);
        }
        let read = Self::full_read(args, key, ttl);
        let mut asked: SmallVec<[&Arc<Node>; 6]> = candidates.clone().into_iter().collect();
        asked.extend(moved.iter().filter(|node| node.takes_writes()));
        let others: SmallVec<[&Arc<Node>; 6]> = asked
            .iter()
            .enumerate()
            .filter(|(i, _)| *i != primary)
            .map(|(_, node)| *node)
            .collect();
        let full = Self::answered(candidates[primary], key, &read);
        // Two replicas (the usual case) join without a list of futures.
        let (full, checks): (_, SmallVec<[Result<Rank>; 4]>) = match others.as_slice() {
            [] => (full.await, SmallVec::new()),
            [other] => {
                let (full, check) = futures::join!(full, Self::checked(other, key));
                (full, smallvec::smallvec![check])
            }
            _ => {
                let (full, checks) = futures::join!(
                    full,
                    join_all(others.iter().map(|node| Self::checked(node, key)))
                );
                (full, checks.into_iter().collect())
            }
        };
        let mut ranks: SmallVec<[Option<Rank>; 6]> = SmallVec::with_capacity(asked.len());
        let mut last_error = None;
        let mut answer = None;
        let mut checks = checks.into_iter();
        let mut full = Some(full);
        for i in 0..asked.len() {
            let result = if i == primary {
                match full.take().expect("one full read") {
                    Ok((rank, reply, ttl)) => {
                        answer = Some((rank, reply, ttl));
                        Ok(rank)
                    }
                    Err(error) => Err(error),
                }
            } else {
                checks.next().expect("one check per other replica")
            };
            match result {
                Ok(rank) => ranks.push(Some(rank)),
                Err(error) if error.is_server_error() => return Err(error),
                Err(error) => {
                    ranks.push(None);
                    last_error = Some(error);
                }
            }
        }
        let Some(newest) = ranks.iter().flatten().max().copied() else {
            return Err(last_error.unwrap_or_else(unavailable));
        };
        self.observe_version(newest.version());
        // The answer: the first replica's if it is the newest, else the newest replica's (a
        // former replica's, after a ring change that left the key there).
        let (answered_by, reply, ttl) = match answer {
            Some((rank, reply, ttl)) if rank >= newest => (primary, reply, ttl),
            _ => {
                let at = ranks
                    .iter()
                    .position(|rank| *rank == Some(newest))
                    .expect("the newest rank came from a replica");
                let (_, reply, ttl) = Box::pin(Self::answered(asked[at], key, &read)).await?;
                (at, reply, ttl)
            }
        };
        // Served by a later replica than the key's first (which failed, is ejected, or is
        // behind).
        if !(turn.is_some() && answered_by == primary)
            && replicas
                .first()
                .is_some_and(|first| !Arc::ptr_eq(first, asked[answered_by]))
        {
            asked[answered_by].metrics.fallback_reads.increment(1);
        }
        // Bring every replica found behind to the newest state (former replicas are not
        // replicas any more: left as they are).
        let behind: SmallVec<[&Arc<Node>; 4]> = candidates
            .iter()
            .zip(&ranks)
            .filter(|(_, rank)| rank.is_some_and(|rank| rank < newest))
            .map(|(node, _)| *node)
            .collect();
        if !behind.is_empty() {
            let migrated = answered_by >= candidates.len();
            Box::pin(self.read_repair(key, &behind, asked[answered_by], newest, migrated)).await;
        }
        Ok((reply, ttl))
    }

    /// Brings the replicas `behind` to the newest state of `key`, at its version: a delete is
    /// written as it is; a value is read from `source` with its time to live and copied.
    /// `migrated`: the source is a former replica (counted as a migrated key, not a repair).
    pub(crate) async fn read_repair(
        &self,
        key: &[u8],
        behind: &[&Arc<Node>],
        source: &Arc<Node>,
        newest: Rank,
        migrated: bool,
    ) {
        let state = if newest.has_value() {
            let mut batch = BytesMut::new();
            encode_command(&[b"MULTI"], &mut batch);
            State::encode_read(key, &mut batch);
            encode_command(&[b"EXEC"], &mut batch);
            let Ok(replies) = source
                .request(source.slot_for(key), batch.freeze(), 4)
                .await
            else {
                return;
            };
            let Some(Reply::Array(results)) = replies.into_iter().nth(3) else {
                return;
            };
            let Ok([vget, pttl]) = <[Reply; 2]>::try_from(results) else {
                return;
            };
            match State::from_vget_pttl(vget, pttl) {
                Some(state) => state,
                None => return,
            }
        } else {
            State {
                value: None,
                kind: None,
                version: newest.version(),
                ttl: None,
            }
        };
        let Some(restore) = state.restore(key) else {
            return;
        };
        let args: Vec<&[u8]> = restore.iter().map(|a| a.as_ref()).collect();
        let bytes = crate::connection::command(&args);
        join_all(behind.iter().map(|node| {
            let bytes = bytes.clone();
            async move {
                if node.call_encoded(node.slot_for(key), bytes).await.is_ok() {
                    if migrated {
                        node.metrics.migrated_keys.increment(1);
                    } else {
                        node.metrics.read_repairs.increment(1);
                    }
                }
            }
        }))
        .await;
    }

    /// [`Client::read`], continuing past a replica already asked.
    pub(crate) async fn read_after(
        &self,
        key: &[u8],
        args: &[&[u8]],
        kind: ReadKind,
        asked: Option<Asked>,
    ) -> Result<Reply> {
        let topology = self.topology().await;
        let replicas = topology.replicas(key, self.inner.settings.replicas);
        let mut skipped = asked.is_some();
        // A hot key's read may start at another replica that serves reads (spreading).
        let turn = if asked.is_none() {
            let serving = replicas.iter().filter(|n| n.serves_read(key)).count();
            self.spread_turn(key, serving).filter(|&turn| turn > 0)
        } else {
            None
        };
        let order: SmallVec<[&Arc<Node>; 4]> = match turn {
            Some(turn) => {
                self.inner.metrics.spread_reads.increment(1);
                let chosen = replicas
                    .iter()
                    .filter(|n| n.serves_read(key))
                    .nth(turn)
                    .expect("a replica that serves reads");
                std::iter::once(chosen)
                    .chain(replicas.iter().filter(|n| !Arc::ptr_eq(n, chosen)))
                    .collect()
            }
            None => replicas.iter().collect(),
        };
        let mut last_error = None;
        // A miss from a warming node, kept in case no later replica can answer.
        let mut warming_miss: Option<(Arc<Node>, Reply)> = None;
        let asked_node = match asked {
            Some(Asked::Failed(node, error)) => {
                last_error = Some(error);
                Some(node)
            }
            Some(Asked::Missed(node, reply)) => {
                warming_miss = Some((Arc::clone(&node), reply));
                Some(node)
            }
            None => None,
        };
        for node in order {
            if !node.serves_read(key) || asked_node.as_ref().is_some_and(|a| Arc::ptr_eq(a, node)) {
                skipped = true;
                continue;
            }
            match node.call_key(key, args).await {
                Ok(reply)
                    if warming_miss.is_none() && kind.is_miss(&reply) && node.is_warming() =>
                {
                    warming_miss = Some((Arc::clone(node), reply));
                    skipped = true;
                }
                Ok(reply) => {
                    // A miss after a ring change: the key may live on its former replicas.
                    if kind.is_miss(&reply) {
                        let moved = self.moved_from(key, &replicas);
                        if !moved.is_empty() && Box::pin(self.migrate(key, &moved, &replicas)).await
                        {
                            return node.call_key(key, args).await;
                        }
                    }
                    if skipped {
                        node.metrics.fallback_reads.increment(1);
                    }
                    if let Some((empty, _)) = &warming_miss {
                        if kind.fills && !kind.is_miss(&reply) {
                            // Boxed: the rare path, kept out of every read's future.
                            Box::pin(self.fill(key, empty, node)).await;
                        }
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
        match warming_miss {
            Some((_, reply)) => Ok(reply),
            None => Err(last_error.unwrap_or_else(unavailable)),
        }
    }

    /// Copies `key` from `source` into `empty` (a node warming up), unless written meanwhile:
    /// under the key's stripe lock, with `SET … NX` and the remaining time to live.
    async fn fill(&self, key: &[u8], empty: &Arc<Node>, source: &Arc<Node>) {
        let _guard = self.inner.stripes.lock(key).await;
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
}
