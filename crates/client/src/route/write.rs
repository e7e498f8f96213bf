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
use std::time::Duration;

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
        // Versioned writes share the key's lock (their versions order them) and keep out
        // mutations and fills, which copy a value between replicas. With one replica there is
        // nothing to copy, so no lock: writes of a key still leave in the order they are sent,
        // on one connection; except with a near cache, whose write-through then takes it
        // alone.
        self.inner.hot.observe(key);
        let goes_through = self
            .inner
            .near
            .as_ref()
            .filter(|_| !self.inner.settings.near_cache_hot_only || self.inner.hot.is_hot(key))
            .and_then(|_| written_value(args));
        let versioned = self.versioned_replicas();
        let mut guard = match (&goes_through, versioned) {
            (Some(_), shared) => Some(self.inner.stripes.write_through(key, shared).await),
            (None, true) => Some(self.inner.stripes.share(key).await),
            (None, false) if self.inner.stripes.near_cached() => {
                Some(self.inner.stripes.lock(key).await)
            }
            (None, false) => None,
        };
        let mut text = itoa::Buffer::new();
        let (wire, answer, version) = self.wire_form(args, &mut text);
        let topology = self.topology().await;
        let replicas = topology.replicas(key, self.inner.settings.replicas);
        // A value written by this process goes through to its near cache.
        let through =
            self.inner
                .near
                .as_ref()
                .zip(goes_through)
                .and_then(|(near, (value, ttl))| {
                    near.expect(key, &replicas, version, Bytes::copy_from_slice(value), ttl)
                });
        let Some(through) = through else {
            let reply = self
                .fan_out(key, &replicas, &wire, None, version, None)
                .await?;
            return Ok(answer.reply(reply));
        };
        let applied = std::sync::atomic::AtomicUsize::new(0);
        let result = self
            .fan_out(key, &replicas, &wire, None, version, Some(&applied))
            .await;
        let everywhere = result.is_ok() && applied.into_inner() == replicas.len();
        if let (Some(near), Some(guard)) = (&self.inner.near, guard.as_mut()) {
            if near.written(through, everywhere) {
                guard.keep(key);
            }
        }
        Ok(answer.reply(result?))
    }

    /// The write fan-out, under the key's stripe lock, of a write at `version`. `done` names a
    /// replica that already holds the result (a mutation's), which is not written again.
    /// `applied`, if given, counts the replicas that applied the write (`:1` from VSET, a
    /// status from a plain write).
    pub(crate) async fn fan_out(
        &self,
        key: &[u8],
        replicas: &[Arc<Node>],
        args: &[&[u8]],
        done: Option<&Arc<Node>>,
        version: u64,
        applied: Option<&std::sync::atomic::AtomicUsize>,
    ) -> Result<Reply> {
        let count = |result: &Result<Reply>| {
            if let (Some(applied), Ok(Reply::Int(1) | Reply::Status(_))) = (applied, result) {
                applied.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            }
        };
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
            count(&result);
            tally.record(node, result);
            tally.outcome(self.inner.settings.write_rule)
        } else {
            // Each answer is recorded as it arrives, so a caller that stops waiting leaves
            // hints only on the replicas that had not answered.
            let tally = std::sync::Mutex::new(tally);
            join_all(targets.iter().map(|&node| {
                let bytes = bytes.clone();
                let tally = &tally;
                let count = &count;
                async move {
                    let result = node.call_encoded(node.slot_for(key), bytes).await;
                    count(&result);
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

/// The value a SET, SETEX or PSETEX of `args` leaves, and for how long: `None` for any other
/// write, or one whose effect the arguments do not tell (NX, XX, GET, KEEPTTL, an absolute
/// expiry). The time to live counts from before the write is sent, so it ends no later than
/// the node's.
pub(crate) fn written_value<'a>(args: &[&'a [u8]]) -> Option<(&'a [u8], Option<Duration>)> {
    let spec = lookup(args.first()?)?;
    let number = |text: &[u8]| -> Option<u64> {
        std::str::from_utf8(text)
            .ok()?
            .parse()
            .ok()
            .filter(|n| *n > 0)
    };
    match (spec.id, args) {
        (Cmd::Set, [_, _, value]) => Some((value, None)),
        (Cmd::Set, [_, _, value, unit, amount]) => {
            let amount = number(amount)?;
            let ttl = if unit.eq_ignore_ascii_case(b"EX") {
                Duration::from_secs(amount)
            } else if unit.eq_ignore_ascii_case(b"PX") {
                Duration::from_millis(amount)
            } else {
                return None;
            };
            Some((value, Some(ttl)))
        }
        (Cmd::SetEx, [_, _, seconds, value]) => {
            Some((value, Some(Duration::from_secs(number(seconds)?))))
        }
        (Cmd::PSetEx, [_, _, millis, value]) => {
            Some((value, Some(Duration::from_millis(number(millis)?))))
        }
        _ => None,
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

    #[test]
    fn only_writes_that_tell_their_value_and_life_go_through() {
        let of = |args: &[&str]| {
            let args: Vec<&[u8]> = args.iter().map(|a| a.as_bytes()).collect();
            written_value(&args).map(|(value, ttl)| (value.to_vec(), ttl))
        };
        assert_eq!(of(&["SET", "k", "v"]), Some((b"v".to_vec(), None)));
        assert_eq!(
            of(&["set", "k", "v", "ex", "5"]),
            Some((b"v".to_vec(), Some(Duration::from_secs(5))))
        );
        assert_eq!(
            of(&["SET", "k", "v", "PX", "250"]),
            Some((b"v".to_vec(), Some(Duration::from_millis(250))))
        );
        assert_eq!(
            of(&["SETEX", "k", "3", "v"]),
            Some((b"v".to_vec(), Some(Duration::from_secs(3))))
        );
        assert_eq!(
            of(&["PSETEX", "k", "30", "v"]),
            Some((b"v".to_vec(), Some(Duration::from_millis(30))))
        );
        for args in [
            &["SET", "k", "v", "NX"][..],
            &["SET", "k", "v", "XX"],
            &["SET", "k", "v", "GET"],
            &["SET", "k", "v", "KEEPTTL"],
            &["SET", "k", "v", "EXAT", "99999999999"],
            &["SET", "k", "v", "EX", "0"],
            &["SET", "k", "v", "EX", "x"],
            &["SET", "k", "v", "EX", "5", "NX"],
            &["APPEND", "k", "v"],
            &["DEL", "k"],
        ] {
            assert_eq!(of(args), None, "{args:?}");
        }
    }
}
