//! The write route.
//!
//! A write gets a version from the client's clock and goes to every replica that takes writes
//! (not ejected), in parallel, encoded once, in its versioned form (SET, SETEX and PSETEX as
//! `VSET`, DEL and UNLINK as `VDEL`): each replica applies it only if it is newer than what the
//! key holds there, so writes from many processes that reach replicas in different orders
//! leave them the same. It waits for all of them up to the request timeout and succeeds when
//! the write rule is met (default: one acknowledgement). Every replica that missed it, ejected,
//! failed, or still pending when the caller stopped waiting, gets a repair hint and serves no
//! read of that key until the key is invalidated on it ([`WriteTally`]).

use std::sync::Arc;

use bytes::Bytes;
use cachering_commands::{lookup, Cmd};
use futures::future::join_all;
use smallvec::SmallVec;

use super::WriteTally;
use crate::client::Client;
use crate::connection::command;
use crate::error::Result;
use crate::node::{Node, UNKNOWN_VERSION};
use crate::reply::Reply;

/// Arguments of a command as it goes on the wire.
pub(crate) type Wire<'a> = SmallVec<[&'a [u8]; 8]>;

/// What a versioned write answers in place of the command it stands for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Answer {
    /// `+OK` (SET, SETEX, PSETEX).
    Ok,
    /// The node's reply as it is (DEL's count, or a command without a versioned form).
    AsIs,
}

impl Answer {
    /// The caller's reply for the node's `reply`.
    pub fn reply(self, reply: Reply) -> Reply {
        match self {
            Answer::Ok => Reply::Status(Bytes::from_static(b"OK")),
            Answer::AsIs => reply,
        }
    }
}

/// The versioned form of the write `args` at `version` (its decimal text): SET, SETEX and
/// PSETEX become `VSET key version value [EX|PX|EXAT|PXAT t]`, DEL and UNLINK of one key
/// `VDEL key version`. Any other write goes as it is, stamped by the node.
pub(crate) fn versioned<'a>(args: &[&'a [u8]], version: &'a [u8]) -> (Wire<'a>, Answer) {
    let plain = || (args.iter().copied().collect(), Answer::AsIs);
    let Some(spec) = args.first().and_then(|name| lookup(name)) else {
        return plain();
    };
    match (spec.id, args) {
        (Cmd::Set, [_, key, value, options @ ..]) => {
            let mut wire: Wire<'a> = smallvec::smallvec![&b"VSET"[..], *key, version, *value];
            wire.extend(options.iter().copied());
            (wire, Answer::Ok)
        }
        (Cmd::SetEx, [_, key, seconds, value]) => (
            smallvec::smallvec![&b"VSET"[..], *key, version, *value, &b"EX"[..], *seconds],
            Answer::Ok,
        ),
        (Cmd::PSetEx, [_, key, millis, value]) => (
            smallvec::smallvec![&b"VSET"[..], *key, version, *value, &b"PX"[..], *millis],
            Answer::Ok,
        ),
        (Cmd::Del | Cmd::Unlink, [_, key]) => (
            smallvec::smallvec![&b"VDEL"[..], *key, version],
            Answer::AsIs,
        ),
        _ => plain(),
    }
}

impl Client {
    /// Whether writes carry versions and reads compare them: with one replica (R = 1) there is
    /// one copy of each key, nothing to compare or converge, so writes go as the caller sent
    /// them (the node orders them as they arrive, as Redis does) and reads ask that copy.
    pub(crate) fn versioned_replicas(&self) -> bool {
        self.inner.settings.replicas > 1
    }

    /// How the write `args` goes on the wire, what it answers, and its version
    /// ([`UNKNOWN_VERSION`] when it goes plain, with one replica: the node stamps it).
    pub(crate) fn wire_form<'a>(
        &self,
        args: &[&'a [u8]],
        text: &'a mut itoa::Buffer,
    ) -> (Wire<'a>, Answer, u64) {
        if !self.versioned_replicas() {
            return (
                args.iter().copied().collect(),
                Answer::AsIs,
                UNKNOWN_VERSION,
            );
        }
        let version = self.next_version();
        let (wire, answer) = versioned(args, text.format(version).as_bytes());
        (wire, answer, version)
    }

    /// Sends a write of `key` to every replica that takes writes, in its versioned form.
    pub(crate) async fn write(&self, key: &[u8], args: &[&[u8]]) -> Result<Reply> {
        // With one replica there is no fill or propagation for a write to race with, so no
        // lock: writes of a key still leave in the order they are sent, on one connection.
        let _guard = if self.inner.settings.replicas > 1 {
            Some(self.inner.stripes.lock(key).await)
        } else {
            None
        };
        let mut text = itoa::Buffer::new();
        let (wire, answer, version) = self.wire_form(args, &mut text);
        let topology = self.topology().await;
        let replicas = topology.replicas(key, self.inner.settings.replicas);
        let reply = self.fan_out(key, &replicas, &wire, None, version).await?;
        Ok(answer.reply(reply))
    }

    /// The write fan-out, under the key's stripe lock, of a write at `version`. `done` names a
    /// replica that already holds the result (a mutation's), which is not written again.
    pub(crate) async fn fan_out(
        &self,
        key: &[u8],
        replicas: &[Arc<Node>],
        args: &[&[u8]],
        done: Option<&Arc<Node>>,
        version: u64,
    ) -> Result<Reply> {
        let mut tally = WriteTally::new(key, version, replicas.len());
        if done.is_some() {
            tally.already_acknowledged();
        }
        let targets: SmallVec<[&Arc<Node>; 4]> = replicas
            .iter()
            .filter(|node| done.is_none_or(|d| !Arc::ptr_eq(d, node)))
            .filter(|node| tally.target(node))
            .collect();
        let bytes = command(args);
        // One replica (R = 1, or the others ejected) needs no join.
        let outcome = if let [node] = targets[..] {
            let result = node.call_encoded(node.slot_for(key), bytes).await;
            tally.record(node, result);
            tally.outcome(self.inner.settings.write_rule)
        } else {
            // Each answer is recorded as it arrives, so a caller that stops waiting leaves
            // hints only on the replicas that had not answered.
            let tally = std::sync::Mutex::new(tally);
            join_all(targets.iter().map(|&node| {
                let bytes = bytes.clone();
                let tally = &tally;
                async move {
                    let result = node.call_encoded(node.slot_for(key), bytes).await;
                    super::lock(tally).record(node, result);
                }
            }))
            .await;
            let tally = tally.into_inner().unwrap_or_else(|p| p.into_inner());
            tally.outcome(self.inner.settings.write_rule)
        };
        // After a ring change: the copies left on the key's former replicas go (boxed: the
        // rare path, kept out of every write's future).
        if !self.inner.previous.load().is_empty() {
            Box::pin(self.invalidate_moved(key, replicas, version)).await;
        }
        outcome
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn wire(args: &[&str]) -> (Vec<String>, Answer) {
        let args: Vec<&[u8]> = args.iter().map(|a| a.as_bytes()).collect();
        let (wire, answer) = versioned(&args, b"77");
        (
            wire.iter()
                .map(|a| String::from_utf8(a.to_vec()).unwrap())
                .collect(),
            answer,
        )
    }

    #[test]
    fn writes_take_their_versioned_form() {
        assert_eq!(
            wire(&["SET", "k", "v"]),
            (
                vec!["VSET".into(), "k".into(), "77".into(), "v".into()],
                Answer::Ok
            )
        );
        assert_eq!(
            wire(&["set", "k", "v", "PX", "5"]).0,
            ["VSET", "k", "77", "v", "PX", "5"]
        );
        assert_eq!(
            wire(&["SETEX", "k", "10", "v"]).0,
            ["VSET", "k", "77", "v", "EX", "10"]
        );
        assert_eq!(
            wire(&["PSETEX", "k", "10", "v"]).0,
            ["VSET", "k", "77", "v", "PX", "10"]
        );
        assert_eq!(
            wire(&["DEL", "k"]),
            (vec!["VDEL".into(), "k".into(), "77".into()], Answer::AsIs)
        );
        assert_eq!(wire(&["UNLINK", "k"]).0, ["VDEL", "k", "77"]);
        assert_eq!(
            wire(&["PERSIST", "k"]).0,
            ["PERSIST", "k"],
            "no versioned form: as it is"
        );
        assert_eq!(wire(&["NOSUCH", "k"]).0, ["NOSUCH", "k"]);
    }
}
