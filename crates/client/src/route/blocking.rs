//! The blocking list commands (BLPOP, BRPOP, BLMOVE, BRPOPLPUSH, BLMPOP) on the ring, for keys
//! that share their replicas (one key, or several with a `{hash tag}`).
//!
//! Taking an element and waiting for one are kept apart:
//!
//! - **taking** goes through the route of the commands over keys that change together: the
//!   command runs inside `VAPPLY` on the first replica that serves reads, where it does not
//!   wait (a blocking command runs there as its plain form, LPOP or LMOVE, does), and the
//!   resulting state of every key is copied to the other replicas at the version that replica
//!   stamped. So what a blocking command takes is versioned, copied and repaired like any
//!   other mutation;
//! - **waiting**, while every list is empty, is `VWAIT timeout key…` on a connection of its
//!   own to that replica (a blocked connection would stall every request multiplexed behind
//!   it): the node answers once one of the keys holds a value, and takes nothing. Then the
//!   command is taken again; if another consumer was first, the wait resumes, with what is
//!   left of the timeout.
//!
//! A wait that takes nothing can be given up safely: while it lasts, the node is pinged on
//! its usual connection every request timeout, and if it stops answering (frozen, cut off),
//! leaves the keys' replicas, or stops serving reads (ejected, hinted), the wait moves to the
//! next replica; a node that dies ends its wait with a connection error and the same happens.
//! A wait left on a frozen or cut-off node can wake later and take nothing. Dropping the
//! future (the proxy's client went away, or was unblocked) closes the waiting connection.

use std::sync::Arc;
use std::time::Duration;

use cachering_commands::{Cmd, CommandSpec, Merge};
use tokio::time::Instant;

use crate::client::Client;
use crate::error::{Error, ErrorKind, Result};
use crate::node::Node;
use crate::reply::Reply;

/// How long a wait with no timeout (0) is given at a time: beyond any real wait, and small
/// enough that an instant that far ahead is representable.
const FOREVER: Duration = Duration::from_secs(365 * 24 * 3600);

impl Client {
    /// Runs a blocking list command: takes what the lists hold now, and while they are empty
    /// and `wait` is set, waits until one of them receives an element or the command's
    /// timeout passes (then `Reply::Nil`). Without `wait` (inside a transaction) it answers at
    /// once, as Redis does inside MULTI/EXEC.
    pub(crate) async fn blocking(
        &self,
        spec: &CommandSpec,
        args: &[&[u8]],
        wait: bool,
    ) -> Result<Reply> {
        let started = Instant::now();
        let keys: Vec<&[u8]> = spec.keys.keys(args).collect();
        let at = if spec.id == Cmd::BLMPop {
            1
        } else {
            args.len() - 1
        };
        let mut passed: Vec<Arc<Node>> = Vec::new();
        let mut woken = false;
        loop {
            // The arguments are checked by the node on this first try (the timeout included):
            // an error ends the command here.
            let taken = Box::pin(self.multi_key(spec, Merge::AllOrNone, args)).await?;
            if !taken.is_nil() || !wait || keys.is_empty() {
                return Ok(taken);
            }
            let Some(deadline) = deadline(args[at], started) else {
                return Ok(taken);
            };
            if woken {
                // Woken, yet nothing to take: another consumer was first, and this one waits
                // again. A short pause keeps a replica that answers "ready" while the one that
                // takes finds nothing (until repair makes them agree) from making this a busy
                // loop.
                tokio::time::sleep(Duration::from_millis(1)).await;
            }
            loop {
                let remaining = match deadline {
                    Some(deadline) => match deadline.checked_duration_since(Instant::now()) {
                        Some(left) if !left.is_zero() => Some(left),
                        _ => return Ok(Reply::Nil),
                    },
                    None => None,
                };
                let replicas = self.shared_replicas(spec, &keys).await?;
                let serving: Vec<&Arc<Node>> = replicas
                    .iter()
                    .filter(|node| keys.iter().all(|key| node.serves_read(key)))
                    .collect();
                let node = match serving
                    .iter()
                    .find(|node| !passed.iter().any(|p| Arc::ptr_eq(p, node)))
                {
                    Some(node) => Arc::clone(node),
                    None => {
                        // Every replica that serves has failed a wait: start over with them.
                        passed.clear();
                        match serving.first() {
                            Some(node) => Arc::clone(node),
                            None => {
                                return Err(Error::new(
                                    ErrorKind::Unavailable,
                                    "no replica of the keys can serve it",
                                ))
                            }
                        }
                    }
                };
                match self.wait_on(&node, &keys, remaining).await {
                    // Its timeout.
                    Ok(Reply::Nil) => return Ok(Reply::Nil),
                    // A key holds a value: take it.
                    Ok(_) => {
                        woken = true;
                        break;
                    }
                    Err(error) if error.is_server_error() => return Err(error),
                    Err(_) => passed.push(node),
                }
            }
        }
    }

    /// `VWAIT` on `node` for `keys` (`remaining` of the timeout, `None` for none), given up
    /// with an error when the node stops answering or serving the keys.
    async fn wait_on(
        &self,
        node: &Arc<Node>,
        keys: &[&[u8]],
        remaining: Option<Duration>,
    ) -> Result<Reply> {
        // Never "0", which would wait for ever.
        let seconds = remaining.map_or_else(
            || "0".to_string(),
            |left| format!("{:.3}", left.as_secs_f64().max(0.001)),
        );
        let mut wire: Vec<&[u8]> = Vec::with_capacity(keys.len() + 2);
        wire.extend_from_slice(&[b"VWAIT", seconds.as_bytes()]);
        wire.extend_from_slice(keys);
        // The node answers when the wait ends: give its reply a request timeout to arrive.
        let deadline = Instant::now() + remaining.unwrap_or(FOREVER) + self.request_timeout();
        tokio::select! {
            reply = node.wait_alone(&wire, deadline) => reply,
            () = self.watch(node, keys) => Err(Error::new(
                ErrorKind::Unavailable,
                "the replica stopped answering or serving the keys during the wait",
            )
            .with_node(node.name())),
        }
    }

    /// Completes when `node` stops being a replica of `keys` that serves them, or does not
    /// answer a PING on its usual connection within the request timeout (one every request
    /// timeout).
    async fn watch(&self, node: &Arc<Node>, keys: &[&[u8]]) {
        let every = self.request_timeout().max(Duration::from_millis(50));
        loop {
            tokio::time::sleep(every).await;
            let topology = self.topology().await;
            let replica = topology
                .replicas(keys[0], self.inner.settings.replicas)
                .iter()
                .any(|other| Arc::ptr_eq(other, node));
            if !replica || node.is_retired() || !keys.iter().all(|key| node.serves_read(key)) {
                return;
            }
            if node.call(node.slot_for(keys[0]), &[b"PING"]).await.is_err() {
                return;
            }
        }
    }

    fn request_timeout(&self) -> Duration {
        self.inner.settings.request_timeout
    }
}

/// When a blocking command's wait ends, from its timeout argument (seconds, a float, 0 for
/// never): `Some(None)` for never, `None` if the argument is not a timeout (the node has
/// answered its error already).
fn deadline(timeout: &[u8], started: Instant) -> Option<Option<Instant>> {
    let seconds: f64 = std::str::from_utf8(timeout).ok()?.trim().parse().ok()?;
    if !seconds.is_finite() || seconds < 0.0 {
        return None;
    }
    if seconds == 0.0 {
        return Some(None);
    }
    let wait = Duration::try_from_secs_f64(seconds).ok()?.min(FOREVER);
    Some(Some(started + wait))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timeouts_become_deadlines() {
        let now = Instant::now();
        assert_eq!(deadline(b"0", now), Some(None));
        assert_eq!(
            deadline(b"1.5", now),
            Some(Some(now + Duration::from_millis(1500)))
        );
        assert_eq!(deadline(b"-1", now), None);
        assert_eq!(deadline(b"soon", now), None);
        assert_eq!(deadline(b"1e9", now), Some(Some(now + FOREVER)));
        // Beyond a Duration: the node refuses it (`ERR timeout is out of range`).
        assert_eq!(deadline(b"1e300", now), None);
    }
}
