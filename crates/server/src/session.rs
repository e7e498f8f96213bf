//! A connection's protocol state: RESP version, authentication, and the MULTI queue.

use cachering_proto::Protocol;

use crate::service::Request;

/// Per-connection protocol state that connection-level commands read and change.
#[derive(Debug, Default)]
pub struct Session {
    /// RESP2 until `HELLO 3`.
    pub protocol: Protocol,
    /// False until AUTH succeeds when the server has a password.
    pub authenticated: bool,
    /// Commands queued since MULTI; `None` outside a transaction.
    pub(crate) queued: Option<Vec<Request>>,
    /// Bytes held by the queued commands, bounded by the query buffer limit.
    pub(crate) queued_bytes: usize,
    /// A queued command was refused: EXEC must abort.
    pub(crate) transaction_failed: bool,
    /// Commands run since the connection last added them to the server's counter (once per
    /// batch rather than a shared counter per command).
    pub(crate) processed: u64,
    /// Which replies the client wants (CLIENT REPLY).
    pub(crate) replies: Replies,
    /// Set by CLIENT REPLY while it runs, so the dispatcher knows the mode was just changed.
    pub(crate) replies_changed: bool,
    /// Set by MONITOR: the lines this connection receives.
    pub(crate) monitor: Option<crate::monitor::Monitor>,
    /// Set while EXEC runs the queued commands (a blocking command does not block there).
    pub(crate) executing: bool,
    /// Subscribed to `__redis__:invalidate` (the only channel there is: RESP2 clients receive
    /// the invalidations redirected to them there).
    pub(crate) subscribed: bool,
    /// CLIENT CACHING YES (OPTIN) or NO (OPTOUT): applies to the next command or transaction.
    pub(crate) caching: bool,
}

/// CLIENT REPLY's modes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) enum Replies {
    /// Every command is answered.
    #[default]
    On,
    /// No command is answered until CLIENT REPLY ON.
    Off,
    /// The next command is not answered.
    SkipNext,
}

impl Session {
    /// A fresh session: authenticated unless the server has a password.
    pub fn new(authenticated: bool) -> Self {
        Self {
            authenticated,
            ..Self::default()
        }
    }

    /// Whether EXEC is running the transaction's commands: a blocking command answers at
    /// once there, as in Redis.
    pub fn executing(&self) -> bool {
        self.executing
    }

    /// Whether the connection is in RESP2's Pub/Sub mode, where only (UN)SUBSCRIBE, PING,
    /// QUIT and RESET may run.
    pub fn in_pubsub(&self) -> bool {
        self.subscribed && self.protocol != Protocol::Resp3
    }

    /// Whether a MULTI is open.
    pub fn in_transaction(&self) -> bool {
        self.queued.is_some()
    }

    /// Back to a fresh connection's state (RESET).
    pub(crate) fn reset(&mut self, authenticated: bool) {
        let processed = self.processed;
        *self = Self::new(authenticated);
        self.processed = processed;
    }
}
