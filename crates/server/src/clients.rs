//! The registry of connected clients, for CLIENT LIST/INFO/KILL and INFO's clients section.
//!
//! A connection owns its protocol state; what other connections may read or act on (name,
//! addresses, last command, the kill switch) lives here behind atomics and small locks.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, AtomicU8, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use dashmap::DashMap;
use futures::task::AtomicWaker;
use tokio::sync::{mpsc, Notify};

use crate::tracking::{Mode, Push};

/// Pushes (invalidations) a connection may have waiting before it is closed for not keeping
/// up.
const PUSH_BACKLOG: usize = 65_536;

/// One connected client, as other connections see it.
#[derive(Debug)]
pub struct ClientInfo {
    /// Unique, increasing from 1.
    pub id: u64,
    /// The client's address.
    pub addr: SocketAddr,
    /// The node's address on this connection.
    pub local_addr: SocketAddr,
    /// When the client connected, on the coarse monotonic clock (a few milliseconds' steps:
    /// CLIENT LIST's age and idle are in seconds). It is read after every batch, and the
    /// precise clock's read was 1 % of a node's CPU at pipeline depth 1.
    pub connected_at: coarsetime::Instant,
    /// Milliseconds after `connected_at` of the last command.
    pub last_command_at_ms: AtomicU64,
    /// Position in the command table of the last command; `usize::MAX` before the first.
    pub last_command: AtomicUsize,
    /// CLIENT SETNAME.
    pub name: Mutex<String>,
    /// CLIENT SETINFO LIB-NAME.
    pub lib_name: Mutex<String>,
    /// CLIENT SETINFO LIB-VER.
    pub lib_ver: Mutex<String>,
    /// 2 or 3.
    pub resp: AtomicU8,
    /// Commands queued in MULTI, -1 outside one.
    pub multi: AtomicI64,
    /// Bytes waiting in the query buffer.
    pub query_buffer: AtomicUsize,
    /// Bytes of replies not yet written.
    pub output_buffer: AtomicUsize,
    killed: AtomicBool,
    /// Wakes a blocking command waiting in [`ClientInfo::killed`].
    kill: Notify,
    /// Wakes the connection's task when it is killed or the server stops
    /// ([`ClientInfo::attention`]). An atomic waker, not a `Notify`: the connection polls it
    /// after every request, and a `Notify` takes its lock on every poll.
    attention: AtomicWaker,
    /// Waiting in a blocking command (BLPOP, ...).
    blocked: AtomicBool,
    /// Why CLIENT UNBLOCK ended the wait: 0 not asked, 1 as a timeout, 2 with an error.
    unblock_reason: AtomicU8,
    unblock: Notify,
    /// Whether tracking is on (read on every command without the lock).
    tracking_on: AtomicBool,
    /// CLIENT TRACKING's options.
    tracking: Mutex<Mode>,
    /// Where other connections send this one invalidations.
    pushes: mpsc::Sender<Push>,
    /// The receiving end, taken by the connection's task when it starts.
    push_queue: Mutex<Option<mpsc::Receiver<Push>>>,
}

impl ClientInfo {
    /// Marks the client killed and wakes its connection, which closes.
    pub fn kill(&self) {
        self.killed.store(true, Ordering::Release);
        self.kill.notify_one();
        self.call_attention();
    }

    /// Wakes the connection's task to look at its kill switch and the server's stop flag.
    pub(crate) fn call_attention(&self) {
        self.attention.wake();
    }

    /// Ready when the connection should look at its kill switch or the server's stop flag
    /// (`stopping` says whether it has already seen the stop).
    pub(crate) fn attention(
        &self,
        cx: &mut std::task::Context<'_>,
        stopping: impl Fn() -> bool,
    ) -> std::task::Poll<()> {
        // Registered before the flags are read: a kill or stop after this wakes the task.
        self.attention.register(cx.waker());
        if self.is_killed() || stopping() {
            std::task::Poll::Ready(())
        } else {
            std::task::Poll::Pending
        }
    }

    /// Whether CLIENT KILL named this client.
    pub fn is_killed(&self) -> bool {
        self.killed.load(Ordering::Acquire)
    }

    /// Completes when the client is killed.
    pub async fn killed(&self) {
        while !self.is_killed() {
            self.kill.notified().await;
        }
    }

    /// Marks the client as waiting in a blocking command, or no longer.
    pub fn set_blocked(&self, blocked: bool) {
        self.blocked.store(blocked, Ordering::Release);
        if !blocked {
            self.unblock_reason.store(0, Ordering::Release);
        }
    }

    /// Whether tracking is on (CLIENT TRACKING ON).
    pub fn is_tracking(&self) -> bool {
        self.tracking_on.load(Ordering::Acquire)
    }

    /// CLIENT TRACKING's options.
    pub fn tracking_mode(&self) -> Mode {
        lock(&self.tracking).clone()
    }

    /// Replaces the tracking options (see [`crate::tracking::Tracking::enable`]).
    pub(crate) fn set_tracking_mode(&self, mode: Mode) {
        let on = mode.on;
        *lock(&self.tracking) = mode;
        self.tracking_on.store(on, Ordering::Release);
    }

    /// Records that the client its invalidations went to is gone.
    pub(crate) fn mark_redirect_broken(&self) {
        lock(&self.tracking).broken_redirect = true;
    }

    /// Sends the connection a push (an invalidation). A connection that has fallen
    /// [`PUSH_BACKLOG`] pushes behind is closed, as Redis closes a client past its output
    /// buffer limit.
    pub fn push(&self, push: Push) {
        if let Err(mpsc::error::TrySendError::Full(_)) = self.pushes.try_send(push) {
            tracing::warn!(
                client = self.id,
                "closing client that fell behind its invalidations"
            );
            self.kill();
        }
    }

    /// The connection's pushes, taken once by its task.
    pub(crate) fn take_pushes(&self) -> Option<mpsc::Receiver<Push>> {
        lock(&self.push_queue).take()
    }

    /// Marks the client as waiting in a blocking command until the guard is dropped.
    pub fn block(&self) -> Blocked<'_> {
        self.set_blocked(true);
        Blocked(self)
    }

    /// Whether the client waits in a blocking command (INFO's `blocked_clients`).
    pub fn is_blocked(&self) -> bool {
        self.blocked.load(Ordering::Acquire)
    }

    /// CLIENT UNBLOCK: ends the wait of a blocked client, as if it timed out or with an
    /// error; false if it is not blocked.
    pub fn unblock(&self, with_error: bool) -> bool {
        if !self.is_blocked() {
            return false;
        }
        self.unblock_reason
            .store(if with_error { 2 } else { 1 }, Ordering::Release);
        self.unblock.notify_one();
        true
    }

    /// Completes when CLIENT UNBLOCK ends this client's wait: true if with an error.
    pub async fn unblocked(&self) -> bool {
        loop {
            match self.unblock_reason.load(Ordering::Acquire) {
                0 => self.unblock.notified().await,
                reason => return reason == 2,
            }
        }
    }

    /// Records that commands ran now (once per batch: it reads the clock).
    pub fn touch(&self) {
        let elapsed = (coarse_now() - self.connected_at).as_millis();
        self.last_command_at_ms.store(elapsed, Ordering::Relaxed);
    }

    /// The name of the last command, or `NULL`.
    pub fn last_command_name(&self) -> &'static str {
        cachering_commands::COMMANDS
            .get(self.last_command.load(Ordering::Relaxed))
            .map_or("NULL", |spec| spec.name)
    }

    /// The name set with CLIENT SETNAME, or empty.
    pub fn name(&self) -> String {
        lock(&self.name).clone()
    }

    /// One line of CLIENT LIST, in Redis's format (fields that mean nothing here are fixed).
    pub fn describe(&self) -> String {
        let connected = coarse_now() - self.connected_at;
        let age = connected.as_secs();
        let idle_ms = connected
            .as_millis()
            .saturating_sub(self.last_command_at_ms.load(Ordering::Relaxed));
        let multi = self.multi.load(Ordering::Relaxed);
        format!(
            "id={} addr={} laddr={} fd=-1 name={} age={} idle={} flags={} db=0 sub=0 psub=0 ssub=0 multi={} qbuf={} qbuf-free=0 argv-mem=0 multi-mem=0 rbs=0 rbp=0 obl=0 oll=0 omem={} tot-mem=0 events=r cmd={} user=default redir=-1 resp={} lib-name={} lib-ver={}",
            self.id,
            self.addr,
            self.local_addr,
            lock(&self.name),
            age,
            idle_ms / 1000,
            if multi >= 0 { "x" } else { "N" },
            multi,
            self.query_buffer.load(Ordering::Relaxed),
            self.output_buffer.load(Ordering::Relaxed),
            self.last_command_name(),
            self.resp.load(Ordering::Relaxed),
            lock(&self.lib_name),
            lock(&self.lib_ver),
        )
    }
}

/// The coarse clock, without coarsetime's shared "recent" cell (a store every connection's
/// task would make to one cache line).
fn coarse_now() -> coarsetime::Instant {
    coarsetime::Instant::now_without_cache_update()
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// All connected clients.
#[derive(Debug, Default)]
pub struct ClientRegistry {
    clients: DashMap<u64, Arc<ClientInfo>>,
    next_id: AtomicU64,
}

impl ClientRegistry {
    /// Registers a new connection.
    pub fn register(&self, addr: SocketAddr, local_addr: SocketAddr) -> Arc<ClientInfo> {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed) + 1;
        let (pushes, push_queue) = mpsc::channel(PUSH_BACKLOG);
        let info = Arc::new(ClientInfo {
            id,
            addr,
            local_addr,
            connected_at: coarse_now(),
            last_command_at_ms: AtomicU64::new(0),
            last_command: AtomicUsize::new(usize::MAX),
            name: Mutex::new(String::new()),
            lib_name: Mutex::new(String::new()),
            lib_ver: Mutex::new(String::new()),
            resp: AtomicU8::new(2),
            multi: AtomicI64::new(-1),
            query_buffer: AtomicUsize::new(0),
            output_buffer: AtomicUsize::new(0),
            killed: AtomicBool::new(false),
            kill: Notify::new(),
            attention: AtomicWaker::new(),
            blocked: AtomicBool::new(false),
            unblock_reason: AtomicU8::new(0),
            unblock: Notify::new(),
            tracking_on: AtomicBool::new(false),
            tracking: Mutex::new(Mode::default()),
            pushes,
            push_queue: Mutex::new(Some(push_queue)),
        });
        self.clients.insert(id, Arc::clone(&info));
        info
    }

    /// Looks a client up by id.
    pub fn get(&self, id: u64) -> Option<Arc<ClientInfo>> {
        self.clients.get(&id).map(|entry| Arc::clone(entry.value()))
    }

    /// Removes a closed connection.
    pub fn unregister(&self, id: u64) {
        self.clients.remove(&id);
    }

    /// How many clients wait in a blocking command.
    pub fn blocked(&self) -> usize {
        self.clients
            .iter()
            .filter(|entry| entry.value().is_blocked())
            .count()
    }

    /// How many clients are connected.
    pub fn len(&self) -> usize {
        self.clients.len()
    }

    /// Whether no client is connected.
    pub fn is_empty(&self) -> bool {
        self.clients.is_empty()
    }

    /// The clients, ordered by id.
    pub fn all(&self) -> Vec<Arc<ClientInfo>> {
        let mut all: Vec<_> = self
            .clients
            .iter()
            .map(|entry| Arc::clone(entry.value()))
            .collect();
        all.sort_by_key(|client| client.id);
        all
    }

    /// Wakes every connection to see the server stopping.
    pub(crate) fn call_attention(&self) {
        for entry in self.clients.iter() {
            entry.value().call_attention();
        }
    }

    /// Kills every client: used when the node stops.
    pub fn kill_all(&self) {
        for entry in self.clients.iter() {
            entry.value().kill();
        }
    }
}

/// A client marked as waiting in a blocking command ([`ClientInfo::block`]) while this lives.
pub struct Blocked<'a>(&'a ClientInfo);

impl Drop for Blocked<'_> {
    fn drop(&mut self) {
        self.0.set_blocked(false);
    }
}
