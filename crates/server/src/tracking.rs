//! Server-assisted client-side caching, as Redis 7.0 specifies it (CLIENT TRACKING).
//!
//! A client with tracking on has the keys of its read-only commands remembered in a table
//! (key → the clients that may hold it); a write of such a key (or its expiry, eviction, or a
//! FLUSHALL) sends those clients an invalidation and forgets the key, so each read is
//! invalidated at most once. In BCAST mode nothing is remembered: every write of a key that
//! starts with one of the client's prefixes is sent to it. The keys of a read are remembered
//! before the command reads them, so a write that lands in between is invalidated too.
//!
//! Invalidations travel to the receiving connection's task over its push channel
//! ([`ClientInfo::push`]) and are written after the replies already pending there: as
//! `>2 invalidate [keys]` to a RESP3 connection, as a `message` on `__redis__:invalidate` to
//! a RESP2 connection subscribed to it (the target of a REDIRECT), and not at all to a RESP2
//! connection that is neither. A connection that cannot keep up with its pushes is closed,
//! as Redis closes a client past its output buffer limit.
//!
//! The table is bounded (`tracking-table-max-keys`, 1,000,000 by default as in Redis, 0 for
//! none): past it, keys are dropped with an invalidation, as if they had been written.

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::RwLock;

use bytes::{BufMut, Bytes, BytesMut};
use cachering_proto::Protocol;
use dashmap::DashMap;
use smallvec::SmallVec;

use crate::clients::{ClientInfo, ClientRegistry};

/// The channel RESP2 clients subscribe to for invalidations.
pub const CHANNEL: &[u8] = b"__redis__:invalidate";

/// Redis's default for `tracking-table-max-keys`.
pub const DEFAULT_MAX_KEYS: u64 = 1_000_000;

/// What one connection is sent outside its replies.
#[derive(Debug, Clone)]
pub enum Push {
    /// These keys may have changed.
    Keys(Vec<Bytes>),
    /// Every key may have changed (FLUSHALL, FLUSHDB).
    All,
    /// The client this one redirects its invalidations to is gone (its id).
    RedirectBroken(u64),
}

/// A client's tracking settings (CLIENT TRACKING's options), which other connections read
/// when they send it invalidations.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Mode {
    /// Tracking is on.
    pub on: bool,
    /// BCAST: invalidations by prefix, nothing remembered.
    pub bcast: bool,
    /// OPTIN: only reads after CLIENT CACHING YES are remembered.
    pub optin: bool,
    /// OPTOUT: reads are remembered unless after CLIENT CACHING NO.
    pub optout: bool,
    /// NOLOOP: not told about its own writes.
    pub noloop: bool,
    /// The client its invalidations go to; 0 for itself.
    pub redirect: u64,
    /// The BCAST prefixes (the empty prefix when none was given).
    pub prefixes: Vec<Bytes>,
    /// The redirect target went away.
    pub broken_redirect: bool,
}

/// The server's tracking table and its BCAST prefixes.
#[derive(Debug)]
pub struct Tracking {
    keys: DashMap<Bytes, SmallVec<[u64; 2]>>,
    /// Client ids in the table, summed over keys (INFO `tracking_total_items`).
    items: AtomicU64,
    prefixes: RwLock<Vec<(Bytes, Vec<u64>)>>,
    /// Clients with tracking on: no work at all on a write while it is 0.
    clients: AtomicUsize,
    max_keys: AtomicU64,
}

impl Default for Tracking {
    fn default() -> Self {
        Self {
            keys: DashMap::new(),
            items: AtomicU64::new(0),
            prefixes: RwLock::new(Vec::new()),
            clients: AtomicUsize::new(0),
            max_keys: AtomicU64::new(DEFAULT_MAX_KEYS),
        }
    }
}

impl Tracking {
    /// Whether any client has tracking on.
    pub fn active(&self) -> bool {
        self.clients.load(Ordering::Relaxed) > 0
    }

    /// `tracking-table-max-keys`.
    pub fn max_keys(&self) -> u64 {
        self.max_keys.load(Ordering::Relaxed)
    }

    /// Sets `tracking-table-max-keys` (0: no bound).
    pub fn set_max_keys(&self, max: u64) {
        self.max_keys.store(max, Ordering::Relaxed);
    }

    /// INFO's figures: clients with tracking on, keys in the table, client ids in it, BCAST
    /// prefixes.
    pub fn counts(&self) -> (usize, usize, u64, usize) {
        let prefixes = self
            .prefixes
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .len();
        (
            self.clients.load(Ordering::Relaxed),
            self.keys.len(),
            self.items.load(Ordering::Relaxed),
            prefixes,
        )
    }

    /// Turns tracking on for `client` with `mode` (already checked), or changes its options.
    pub fn enable(&self, client: &ClientInfo, mode: Mode) {
        let mut current = client.tracking_mode();
        if !current.on {
            self.clients.fetch_add(1, Ordering::Relaxed);
        }
        if mode.bcast {
            let mut prefixes = self.prefixes.write().unwrap_or_else(|p| p.into_inner());
            for prefix in &mode.prefixes {
                if current.prefixes.contains(prefix) {
                    continue;
                }
                match prefixes.iter_mut().find(|(p, _)| p == prefix) {
                    Some((_, ids)) => ids.push(client.id),
                    None => prefixes.push((prefix.clone(), vec![client.id])),
                }
            }
        }
        let mut all_prefixes = std::mem::take(&mut current.prefixes);
        for prefix in &mode.prefixes {
            if !all_prefixes.contains(prefix) {
                all_prefixes.push(prefix.clone());
            }
        }
        client.set_tracking_mode(Mode {
            prefixes: all_prefixes,
            ..mode
        });
    }

    /// Turns tracking off for `client` (CLIENT TRACKING OFF, RESET, or the connection closed).
    /// Its entries in the key table are dropped lazily, when those keys are invalidated.
    pub fn disable(&self, client: &ClientInfo) {
        let mode = client.tracking_mode();
        if !mode.on {
            return;
        }
        self.clients.fetch_sub(1, Ordering::Relaxed);
        if mode.bcast {
            let mut prefixes = self.prefixes.write().unwrap_or_else(|p| p.into_inner());
            for (_, ids) in prefixes.iter_mut() {
                ids.retain(|id| *id != client.id);
            }
            prefixes.retain(|(_, ids)| !ids.is_empty());
        }
        client.set_tracking_mode(Mode::default());
    }

    /// Remembers that `client` read `keys`. Called before the read, so a write in between is
    /// invalidated too. Past `tracking-table-max-keys`, other keys are dropped with an
    /// invalidation.
    pub fn remember<'k>(
        &self,
        clients: &ClientRegistry,
        client: u64,
        keys: impl Iterator<Item = &'k [u8]>,
    ) {
        for key in keys {
            // The key is copied only when the table does not hold it yet.
            let added = match self.keys.get_mut(key) {
                Some(ids) if ids.contains(&client) => false,
                Some(mut ids) => {
                    ids.push(client);
                    true
                }
                None => {
                    let mut ids = self.keys.entry(Bytes::copy_from_slice(key)).or_default();
                    let new = !ids.contains(&client);
                    if new {
                        ids.push(client);
                    }
                    new
                }
            };
            if added {
                self.items.fetch_add(1, Ordering::Relaxed);
            }
        }
        let max = self.max_keys();
        if max > 0 && self.keys.len() as u64 > max {
            self.shrink(clients, max);
        }
    }

    /// Drops keys (any: the table has no order) until at most `max` remain, invalidating
    /// each for the clients that read it.
    fn shrink(&self, clients: &ClientRegistry, max: u64) {
        let excess = (self.keys.len() as u64).saturating_sub(max) as usize;
        let victims: Vec<Bytes> = self
            .keys
            .iter()
            .take(excess)
            .map(|entry| entry.key().clone())
            .collect();
        for key in victims {
            self.invalidate_tracked(clients, &key, None);
        }
    }

    /// A write (or expiry, or eviction) of `key`, by `writer` when a client made it: the
    /// clients that read it, and those whose BCAST prefixes match it, are told.
    pub fn invalidate(&self, clients: &ClientRegistry, key: &[u8], writer: Option<u64>) {
        if !self.active() {
            return;
        }
        self.invalidate_tracked(clients, key, writer);
        let prefixes = self.prefixes.read().unwrap_or_else(|p| p.into_inner());
        for (prefix, ids) in prefixes.iter() {
            if !key.starts_with(prefix) {
                continue;
            }
            for &id in ids {
                if let Some(target) = clients.get(id) {
                    let mode = target.tracking_mode();
                    if mode.noloop && writer == Some(id) {
                        continue;
                    }
                    deliver(
                        clients,
                        &target,
                        &mode,
                        Push::Keys(vec![Bytes::copy_from_slice(key)]),
                    );
                }
            }
        }
    }

    fn invalidate_tracked(&self, clients: &ClientRegistry, key: &[u8], writer: Option<u64>) {
        let Some((key, ids)) = self.keys.remove(key) else {
            return;
        };
        self.items.fetch_sub(ids.len() as u64, Ordering::Relaxed);
        for id in ids {
            let Some(target) = clients.get(id) else {
                continue;
            };
            let mode = target.tracking_mode();
            // A client that turned tracking off, or on again in BCAST mode, is not owed this.
            if !mode.on || mode.bcast || (mode.noloop && writer == Some(id)) {
                continue;
            }
            deliver(clients, &target, &mode, Push::Keys(vec![key.clone()]));
        }
    }

    /// FLUSHALL or FLUSHDB: every client with tracking on is told every key may have changed,
    /// and the table is emptied.
    pub fn flush(&self, clients: &ClientRegistry) {
        if !self.active() {
            return;
        }
        self.keys.clear();
        self.items.store(0, Ordering::Relaxed);
        for target in clients.all() {
            let mode = target.tracking_mode();
            if mode.on {
                deliver(clients, &target, &mode, Push::All);
            }
        }
    }
}

/// Sends `push` for `target` (whose tracking mode is `mode`): to the client it redirects to,
/// or to itself. A redirect whose client is gone marks the mode broken and tells `target`.
fn deliver(clients: &ClientRegistry, target: &ClientInfo, mode: &Mode, push: Push) {
    if mode.redirect == 0 {
        target.push(push);
        return;
    }
    match clients.get(mode.redirect) {
        Some(redirect) => redirect.push(push),
        None => {
            target.mark_redirect_broken();
            target.push(Push::RedirectBroken(mode.redirect));
        }
    }
}

/// Appends `push` as the receiving connection writes it: a RESP3 push, a Pub/Sub message on
/// [`CHANNEL`] for a RESP2 connection subscribed to it, or nothing.
pub fn encode(push: &Push, protocol: Protocol, subscribed: bool, out: &mut BytesMut) {
    let resp3 = protocol == Protocol::Resp3;
    if !resp3 && !subscribed {
        return;
    }
    let bulk = |out: &mut BytesMut, bytes: &[u8]| {
        out.put_slice(format!("${}\r\n", bytes.len()).as_bytes());
        out.put_slice(bytes);
        out.put_slice(b"\r\n");
    };
    if let Push::RedirectBroken(id) = push {
        if resp3 {
            out.put_slice(b">2\r\n");
            bulk(out, b"tracking-redir-broken");
            out.put_slice(format!(":{id}\r\n").as_bytes());
        }
        return;
    }
    if resp3 {
        out.put_slice(b">2\r\n");
        bulk(out, b"invalidate");
    } else {
        out.put_slice(b"*3\r\n");
        bulk(out, b"message");
        bulk(out, CHANNEL);
    }
    match push {
        Push::Keys(keys) => {
            out.put_slice(format!("*{}\r\n", keys.len()).as_bytes());
            for key in keys {
                bulk(out, key);
            }
        }
        _ => out.put_slice(if resp3 { b"_\r\n" } else { b"$-1\r\n" }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pushes_are_written_for_the_receiving_connection() {
        let keys = Push::Keys(vec![Bytes::from_static(b"k")]);
        let mut out = BytesMut::new();
        encode(&keys, Protocol::Resp3, false, &mut out);
        assert_eq!(&out[..], b">2\r\n$10\r\ninvalidate\r\n*1\r\n$1\r\nk\r\n");
        out.clear();
        encode(&keys, Protocol::Resp2, true, &mut out);
        assert_eq!(
            &out[..],
            b"*3\r\n$7\r\nmessage\r\n$20\r\n__redis__:invalidate\r\n*1\r\n$1\r\nk\r\n"
        );
        out.clear();
        encode(&keys, Protocol::Resp2, false, &mut out);
        assert!(out.is_empty());
        encode(&Push::All, Protocol::Resp3, false, &mut out);
        assert_eq!(&out[..], b">2\r\n$10\r\ninvalidate\r\n_\r\n");
        out.clear();
        encode(&Push::RedirectBroken(7), Protocol::Resp3, false, &mut out);
        assert_eq!(&out[..], b">2\r\n$21\r\ntracking-redir-broken\r\n:7\r\n");
    }
}
