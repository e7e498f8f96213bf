//! What every connection of one server shares, whatever the service behind it: the listener's
//! settings (CONFIG SET may change them), the client registry, the connection-level counters
//! INFO reports, the run id and the shutdown signal.

use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::RwLock;
use std::time::Instant;

use tokio::sync::watch;

use crate::clients::ClientRegistry;
use crate::config::ListenerConfig;

/// Counters behind INFO's clients and stats sections. Relaxed atomics: each is a tally, never
/// a guard.
#[derive(Debug, Default)]
pub struct Stats {
    /// Connections accepted.
    pub connections_received: AtomicU64,
    /// Connections refused (over `maxclients`).
    pub rejected_connections: AtomicU64,
    /// Commands run.
    pub commands_processed: AtomicU64,
    /// Bytes read from clients.
    pub net_input_bytes: AtomicU64,
    /// Bytes written to clients.
    pub net_output_bytes: AtomicU64,
    /// Protocol errors (requests that could not be framed).
    pub protocol_errors: AtomicU64,
    /// Error replies sent.
    pub error_replies: AtomicU64,
}

impl Stats {
    /// Zeroes the counters CONFIG RESETSTAT resets.
    pub fn reset(&self) {
        for counter in [
            &self.connections_received,
            &self.rejected_connections,
            &self.commands_processed,
            &self.net_input_bytes,
            &self.net_output_bytes,
            &self.protocol_errors,
            &self.error_replies,
        ] {
            counter.store(0, Ordering::Relaxed);
        }
    }
}

/// One server's shared state.
#[derive(Debug)]
pub struct Endpoint {
    settings: RwLock<ListenerConfig>,
    /// Connected clients.
    pub clients: ClientRegistry,
    /// Connection-level counters.
    pub stats: Stats,
    /// 40 hex characters, new on every start: tells a client this server lost its state.
    pub run_id: String,
    /// When the server started.
    pub started: Instant,
    /// The clients that asked for MONITOR.
    pub monitors: crate::monitor::Monitors,
    /// CLIENT TRACKING's table.
    pub tracking: crate::tracking::Tracking,
    port: AtomicUsize,
    /// Counts changes of `settings`, so a connection rereads them only after one.
    settings_changes: AtomicU64,
    /// Mirrors `shutdown` for the per-request check, which a watch's lock would cost.
    stopping: AtomicBool,
    shutdown: watch::Sender<bool>,
}

impl Endpoint {
    /// State for a server with `settings`.
    pub fn new(settings: ListenerConfig) -> Self {
        let bytes: [u8; 20] = rand::random();
        Self {
            settings: RwLock::new(settings),
            clients: ClientRegistry::default(),
            stats: Stats::default(),
            run_id: bytes.iter().map(|b| format!("{b:02x}")).collect(),
            started: Instant::now(),
            monitors: crate::monitor::Monitors::default(),
            tracking: crate::tracking::Tracking::default(),
            port: AtomicUsize::new(0),
            settings_changes: AtomicU64::new(0),
            stopping: AtomicBool::new(false),
            shutdown: watch::channel(false).0,
        }
    }

    /// Reads the settings without copying them.
    pub fn with_settings<T>(&self, f: impl FnOnce(&ListenerConfig) -> T) -> T {
        f(&self
            .settings
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner()))
    }

    /// Changes the settings; open connections apply them from their next batch.
    pub fn update_settings<T>(&self, f: impl FnOnce(&mut ListenerConfig) -> T) -> T {
        let mut settings = self
            .settings
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let result = f(&mut settings);
        self.settings_changes.fetch_add(1, Ordering::Release);
        result
    }

    /// How many times the settings changed: a connection compares it with the count it last
    /// read them at.
    pub(crate) fn settings_changes(&self) -> u64 {
        self.settings_changes.load(Ordering::Acquire)
    }

    /// The port actually bound (differs from the settings' when they asked for 0).
    pub fn port(&self) -> u16 {
        self.port.load(Ordering::Relaxed) as u16
    }

    pub(crate) fn set_port(&self, port: u16) {
        self.port.store(port as usize, Ordering::Relaxed);
    }

    /// Asks the server to stop: it stops accepting, lets connections finish what they were
    /// sent, and ends within the shutdown timeout.
    pub fn request_shutdown(&self) {
        self.stopping.store(true, Ordering::Release);
        self.shutdown.send_replace(true);
        self.clients.call_attention();
    }

    /// Whether the server is stopping.
    pub fn is_shutting_down(&self) -> bool {
        self.stopping.load(Ordering::Acquire)
    }

    /// A receiver that changes when the server starts stopping.
    pub fn shutdown_signal(&self) -> watch::Receiver<bool> {
        self.shutdown.subscribe()
    }
}
