//! MONITOR: every command the server runs, as one line, to the clients that asked. A line is
//! `+<seconds>.<microseconds> [0 <client address>] "command" "argument" ...`, the arguments
//! quoted and escaped as Redis writes them; AUTH's and HELLO's credentials read
//! `"(redacted)"`. Commands flagged `admin` (CONFIG, SHUTDOWN, MONITOR) are not shown, as in
//! Redis. Nothing is formatted while no client monitors.

use std::fmt::Write as _;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use bytes::Bytes;
use cachering_commands::{Cmd, Flag};
use tokio::sync::broadcast;

use crate::service::Request;

/// Lines a slow monitor may fall behind by before it misses some.
const BACKLOG: usize = 4096;

/// The server's monitors: the channel lines go out on, and how many listen.
#[derive(Debug)]
pub struct Monitors {
    lines: broadcast::Sender<Bytes>,
    active: Arc<AtomicUsize>,
}

impl Default for Monitors {
    fn default() -> Self {
        Self {
            lines: broadcast::channel(BACKLOG).0,
            active: Arc::default(),
        }
    }
}

/// A connection's subscription; counted while it lives.
#[derive(Debug)]
pub struct Monitor {
    lines: broadcast::Receiver<Bytes>,
    active: Arc<AtomicUsize>,
}

impl Drop for Monitor {
    fn drop(&mut self) {
        self.active.fetch_sub(1, Ordering::Relaxed);
    }
}

impl Monitor {
    /// The next line; lines missed by a monitor that fell behind are skipped.
    pub async fn next(&mut self) -> Bytes {
        loop {
            match self.lines.recv().await {
                Ok(line) => return line,
                Err(broadcast::error::RecvError::Lagged(_)) => continue,
                Err(broadcast::error::RecvError::Closed) => std::future::pending().await,
            }
        }
    }
}

impl Monitors {
    /// A new subscription.
    pub fn subscribe(&self) -> Monitor {
        self.active.fetch_add(1, Ordering::Relaxed);
        Monitor {
            lines: self.lines.subscribe(),
            active: Arc::clone(&self.active),
        }
    }

    /// Whether any client monitors.
    pub fn any(&self) -> bool {
        self.active.load(Ordering::Relaxed) > 0
    }

    /// Sends the line of `request` from `addr` to the monitors (a known command whose
    /// arguments are in number; admin commands are not shown).
    pub fn feed(&self, request: &Request, addr: &str) {
        let Some(spec) = request.known() else {
            return;
        };
        if spec.has(Flag::Admin) || !spec.arity_ok(request.args.len()) {
            return;
        }
        let micros = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |elapsed| elapsed.as_micros());
        let mut line = format!(
            "+{}.{:06} [0 {addr}]",
            micros / 1_000_000,
            micros % 1_000_000
        );
        let redact_from = match spec.id {
            Cmd::Auth => 1,
            // HELLO's AUTH username password.
            Cmd::Hello => request
                .args
                .iter()
                .position(|arg| arg.eq_ignore_ascii_case(b"AUTH"))
                .map_or(usize::MAX, |at| at + 1),
            _ => usize::MAX,
        };
        for (i, arg) in request.args.iter().enumerate() {
            line.push(' ');
            if i >= redact_from {
                line.push_str("\"(redacted)\"");
            } else {
                quote(&mut line, arg);
            }
        }
        line.push_str("\r\n");
        // No receiver: every monitor left since `any` was read.
        let _ = self.lines.send(Bytes::from(line));
    }
}

/// Appends `arg` quoted as Redis's `sdscatrepr` quotes it.
fn quote(out: &mut String, arg: &[u8]) {
    out.push('"');
    for &byte in arg {
        match byte {
            b'\\' => out.push_str("\\\\"),
            b'"' => out.push_str("\\\""),
            b'\n' => out.push_str("\\n"),
            b'\r' => out.push_str("\\r"),
            b'\t' => out.push_str("\\t"),
            0x07 => out.push_str("\\a"),
            0x08 => out.push_str("\\b"),
            0x20..=0x7e => out.push(byte as char),
            _ => {
                let _ = write!(out, "\\x{byte:02x}");
            }
        }
    }
    out.push('"');
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arguments_are_quoted_as_redis_quotes_them() {
        let mut out = String::new();
        quote(&mut out, b"k\"\n\x01\\ \xff");
        assert_eq!(out, r#""k\"\n\x01\\ \xff""#);
    }
}
