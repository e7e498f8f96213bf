//! The command table: what every command is, as data, for every part of cachering that needs to
//! know. The node runs commands by it, the server layer checks arity and authentication by it,
//! the client and the proxy route commands over the ring by it, and COMMAND answers from it.
//!
//! One row per command ([`CommandSpec`]): name, arity, typed [`Flags`], key positions
//! ([`KeySpec`]), group and docs, and two columns a ring needs:
//!
//! - [`Route`]: how a client with replicas sends the command (to one replica, to every replica,
//!   run on one and copied, split by key, fanned out to every node, or not routed at all);
//! - [`Absent`]: what a read answers for a key that does not exist, so that a miss on a node
//!   that is warming up can be told from a hit and asked of the next replica.
//!
//! Code that needs to tell commands apart matches on [`Cmd`], never on names: a `match` on
//! names elsewhere is a second table that will disagree with this one.

mod key_flags;
mod table;

use std::collections::HashMap;
use std::sync::LazyLock;

pub use table::{Cmd, COMMANDS};

/// A command flag, as COMMAND INFO lists it (Redis's names).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Flag {
    /// Changes the key space.
    Write,
    /// Only reads.
    ReadOnly,
    /// Refused when memory is over the limit.
    DenyOom,
    /// Administrative (CONFIG, SHUTDOWN).
    Admin,
    /// Pub/Sub (SUBSCRIBE, UNSUBSCRIBE).
    PubSub,
    /// Not allowed in scripts.
    NoScript,
    /// May wait for data (BLPOP, ...).
    Blocking,
    /// Allowed while loading.
    Loading,
    /// Allowed on a stale replica.
    Stale,
    /// O(1) or O(log N).
    Fast,
    /// Allowed before authentication.
    NoAuth,
    /// Allowed while the server is busy.
    AllowBusy,
    /// Not allowed inside MULTI.
    NoMulti,
    /// Not written to the slow log.
    SkipSlowlog,
}

const ALL_FLAGS: [Flag; 14] = [
    Flag::Write,
    Flag::ReadOnly,
    Flag::DenyOom,
    Flag::Admin,
    Flag::PubSub,
    Flag::NoScript,
    Flag::Blocking,
    Flag::Loading,
    Flag::Stale,
    Flag::Fast,
    Flag::NoAuth,
    Flag::AllowBusy,
    Flag::NoMulti,
    Flag::SkipSlowlog,
];

impl Flag {
    /// Redis's name for the flag.
    pub const fn name(self) -> &'static str {
        match self {
            Flag::Write => "write",
            Flag::ReadOnly => "readonly",
            Flag::DenyOom => "denyoom",
            Flag::Admin => "admin",
            Flag::PubSub => "pubsub",
            Flag::NoScript => "noscript",
            Flag::Blocking => "blocking",
            Flag::Loading => "loading",
            Flag::Stale => "stale",
            Flag::Fast => "fast",
            Flag::NoAuth => "no_auth",
            Flag::AllowBusy => "allow_busy",
            Flag::NoMulti => "no_multi",
            Flag::SkipSlowlog => "skip_slowlog",
        }
    }

    const fn bit(self) -> u32 {
        1 << self as u32
    }
}

/// A set of [`Flag`]s.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Flags(u32);

impl Flags {
    /// The set of `flags`.
    pub const fn of(flags: &[Flag]) -> Self {
        let mut bits = 0;
        let mut i = 0;
        while i < flags.len() {
            bits |= flags[i].bit();
            i += 1;
        }
        Self(bits)
    }

    /// Whether `flag` is in the set.
    pub const fn contains(self, flag: Flag) -> bool {
        self.0 & flag.bit() != 0
    }

    /// The flags in the set, in Redis's order.
    pub fn iter(self) -> impl Iterator<Item = Flag> {
        ALL_FLAGS
            .into_iter()
            .filter(move |flag| self.contains(*flag))
    }

    /// How many flags are set.
    pub fn len(self) -> usize {
        self.0.count_ones() as usize
    }

    /// Whether no flag is set.
    pub fn is_empty(self) -> bool {
        self.0 == 0
    }
}

/// Redis's command group, for COMMAND DOCS and ACL categories.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Group {
    /// Strings.
    String,
    /// Keys of any type.
    Generic,
    /// Hashes.
    Hash,
    /// Sets.
    Set,
    /// Sorted sets.
    SortedSet,
    /// Lists.
    List,
    /// Bitmaps (bit operations on strings).
    Bitmap,
    /// HyperLogLog (distinct counts kept in strings).
    HyperLogLog,
    /// The connection.
    Connection,
    /// The server.
    Server,
    /// MULTI/EXEC.
    Transactions,
    /// Pub/Sub.
    PubSub,
}

impl Group {
    /// Redis's name for the group.
    pub const fn name(self) -> &'static str {
        match self {
            Group::String => "string",
            Group::Generic => "generic",
            Group::Hash => "hash",
            Group::Set => "set",
            Group::SortedSet => "sorted-set",
            Group::List => "list",
            Group::Bitmap => "bitmap",
            Group::HyperLogLog => "hyperloglog",
            Group::Connection => "connection",
            Group::Server => "server",
            Group::Transactions => "transactions",
            Group::PubSub => "pubsub",
        }
    }
}

/// Where a command's keys are, in Redis's (first, last, step) form, and for the commands whose
/// key count is an argument (SINTERCARD numkeys key…, ZUNIONSTORE destination numkeys key…:
/// Redis's `movablekeys`) where that count is. Positions count the command name as 0; a
/// negative `last` counts from the end (-1: the last argument).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KeySpec {
    /// Position of the first key; 0 when the command has no key there.
    pub first: i32,
    /// Position of the last key.
    pub last: i32,
    /// Distance between keys (2 for MSET's key-value pairs).
    pub step: i32,
    /// Position of the argument that counts the keys following it; 0 for none.
    pub numkeys: i32,
    /// Arguments the command requires after its counted keys (LMPOP's LEFT|RIGHT).
    pub required_after: i32,
}

impl KeySpec {
    /// A command without keys.
    pub const NONE: KeySpec = KeySpec {
        first: 0,
        last: 0,
        step: 0,
        numkeys: 0,
        required_after: 0,
    };

    /// Keys at `first..=last` every `step`.
    pub const fn new(first: i32, last: i32, step: i32) -> Self {
        Self {
            first,
            last,
            step,
            numkeys: 0,
            required_after: 0,
        }
    }

    /// These keys, then as many as the argument at `position` counts, right after it.
    pub const fn counted_at(self, position: i32) -> Self {
        Self {
            numkeys: position,
            ..self
        }
    }

    /// These keys, with `count` arguments required after the counted keys: a count that
    /// leaves no room for them names no key.
    pub const fn then_required(self, count: i32) -> Self {
        Self {
            required_after: count,
            ..self
        }
    }

    /// Whether the command has keys.
    pub const fn has_keys(&self) -> bool {
        self.first > 0 || self.numkeys > 0
    }

    /// Whether where the keys are depends on an argument (Redis's `movablekeys` flag).
    pub const fn movable(&self) -> bool {
        self.numkeys > 0
    }

    /// The positions of the counted keys in `args`: none when the count is missing, not a
    /// positive integer, or more than the arguments that follow (the command answers its own
    /// error then).
    fn counted<A: AsRef<[u8]>>(&self, args: &[A]) -> std::ops::Range<usize> {
        let at = self.numkeys as usize;
        let count = args
            .get(at)
            .and_then(|arg| std::str::from_utf8(arg.as_ref()).ok())
            .and_then(|text| text.parse::<usize>().ok());
        match count {
            Some(count)
                if self.numkeys > 0
                    && count > 0
                    && at + count + (self.required_after.max(0) as usize) < args.len() =>
            {
                at + 1..at + 1 + count
            }
            _ => 0..0,
        }
    }

    /// The positions of the keys in a request of `argc` arguments.
    pub fn positions(&self, argc: usize) -> impl Iterator<Item = usize> {
        let last = if self.last < 0 {
            argc as i64 + i64::from(self.last)
        } else {
            i64::from(self.last)
        };
        let first = i64::from(self.first);
        let step = self.step.max(1) as usize;
        let range = if self.first > 0 && last >= first {
            (first as usize)..(last.min(argc as i64 - 1) as usize + 1)
        } else {
            0..0
        };
        range.step_by(step)
    }

    /// Whether a command with keys counted by an argument has a count that names keys (the
    /// count is a positive integer and the arguments hold that many keys and what must
    /// follow them); true for commands whose keys are not counted.
    pub fn count_is_valid<A: AsRef<[u8]>>(&self, args: &[A]) -> bool {
        !self.movable() || !self.counted(args).is_empty()
    }

    /// The keys of a request, in argument order.
    pub fn keys<'a, A: AsRef<[u8]>>(&self, args: &'a [A]) -> impl Iterator<Item = &'a [u8]> {
        self.positions(args.len())
            .chain(self.counted(args))
            .map(move |i| args[i].as_ref())
    }

    /// The first key of a request, if it has one.
    pub fn first_key<'a, A: AsRef<[u8]>>(&self, args: &'a [A]) -> Option<&'a [u8]> {
        self.keys(args).next()
    }
}

/// How one key's command travels to its replicas.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Access {
    /// Served by one replica, with fallback to the next.
    Read,
    /// Sent to every replica.
    Write,
    /// Its result depends on the current value: run on one replica, and the resulting value
    /// copied to the others, so replicas cannot diverge.
    Mutation,
}

/// How the replies of a command split by key are put back together.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Merge {
    /// One value per key, in request order (MGET).
    Values,
    /// The sum of the integer replies (DEL, EXISTS, TOUCH, UNLINK).
    Count,
    /// `+OK` once every part succeeded (MSET).
    Status,
    /// Not split: the keys change (MSETNX, RENAME, RENAMENX, COPY) or are read (LCS)
    /// together, so the command runs only when every key has the same replicas.
    AllOrNone,
}

/// How a client with replicas sends a command: the ring's column of the table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Route {
    /// Answered by the endpoint the client talks to, from its own state (PING, AUTH, HELLO,
    /// CLIENT, MULTI/EXEC, INFO, COMMAND, TIME); never sent to a node by the ring.
    Connection,
    /// One key, read from one replica, with fallback.
    Read,
    /// One key, written to every replica.
    Write,
    /// One key, written to every replica, unless one of these options (from the fourth
    /// argument on) makes the result depend on the current value: then a mutation (SET with
    /// NX, XX, GET or KEEPTTL).
    WriteUnless(&'static [&'static str]),
    /// One key, value-dependent: run on one replica, its result copied.
    Mutation,
    /// Several keys, split by node, each part with this access, and merged.
    MultiKey(Access, Merge),
    /// About the whole key space: fanned out to every node (DBSIZE, KEYS, SCAN, FLUSHALL).
    RingWide,
    /// About one node's process or settings (CONFIG, SHUTDOWN), or one replica's state of keys
    /// (VGET, VVER): send it to that node.
    NodeOnly,
}

impl Route {
    /// How a single-key command with these arguments travels; `None` for routes that are not
    /// about one key.
    pub fn access<A: AsRef<[u8]>>(&self, args: &[A]) -> Option<Access> {
        match self {
            Route::Read => Some(Access::Read),
            Route::Write => Some(Access::Write),
            Route::Mutation => Some(Access::Mutation),
            Route::WriteUnless(options) => {
                let conditional = args.iter().skip(3).any(|arg| {
                    options
                        .iter()
                        .any(|option| arg.as_ref().eq_ignore_ascii_case(option.as_bytes()))
                });
                Some(if conditional {
                    Access::Mutation
                } else {
                    Access::Write
                })
            }
            _ => None,
        }
    }
}

/// What a read answers when its key does not exist. On a node that came back empty and is
/// warming up, such an answer may be a lost value rather than a real miss, so the client asks
/// the key's next replica.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Absent {
    /// A nil bulk string (GET).
    Nil,
    /// The integer 0 (STRLEN).
    Zero,
    /// The integer -2 (TTL, PTTL, EXPIRETIME).
    MinusTwo,
    /// An empty bulk string (GETRANGE).
    EmptyString,
    /// An empty array.
    EmptyArray,
    /// The status `none` (TYPE).
    NoneType,
    /// Not a single-key read, or no answer tells a missing key apart.
    Unknown,
}

/// One command's metadata.
#[derive(Debug)]
pub struct CommandSpec {
    /// Which command this is.
    pub id: Cmd,
    /// Lower-case name.
    pub name: &'static str,
    /// Redis's arity: N means exactly N arguments (the name included), -N at least N.
    pub arity: i32,
    /// Redis's flags.
    pub flags: Flags,
    /// Where the keys are.
    pub keys: KeySpec,
    /// Redis's command group.
    pub group: Group,
    /// How a ring client sends it.
    pub route: Route,
    /// What it answers for a missing key (reads).
    pub absent: Absent,
    /// The Redis version that introduced the command.
    pub since: &'static str,
    /// Time complexity, for COMMAND DOCS.
    pub complexity: &'static str,
    /// One line for COMMAND DOCS.
    pub summary: &'static str,
}

impl CommandSpec {
    /// The command's position in [`COMMANDS`] (for per-command arrays of counters).
    pub const fn index(&self) -> usize {
        self.id as usize
    }

    /// Whether `argc` arguments (the name included) satisfy the arity.
    pub fn arity_ok(&self, argc: usize) -> bool {
        let argc = argc as i64;
        let arity = i64::from(self.arity);
        if arity >= 0 {
            argc == arity
        } else {
            argc >= -arity
        }
    }

    /// Whether the command has `flag`.
    pub const fn has(&self, flag: Flag) -> bool {
        self.flags.contains(flag)
    }

    /// Whether the command writes.
    pub const fn is_write(&self) -> bool {
        self.flags.contains(Flag::Write)
    }

    /// ACL categories, derived from the group and flags as Redis derives them.
    pub fn acl_categories(&self) -> Vec<&'static str> {
        let mut categories = Vec::new();
        if self.has(Flag::Write) {
            categories.push("@write");
        }
        if self.has(Flag::ReadOnly) {
            categories.push("@read");
        }
        match self.group {
            Group::String => categories.push("@string"),
            Group::Generic => categories.push("@keyspace"),
            Group::Hash => categories.push("@hash"),
            Group::Set => categories.push("@set"),
            Group::SortedSet => categories.push("@sortedset"),
            Group::List => categories.push("@list"),
            Group::Bitmap => categories.push("@bitmap"),
            Group::HyperLogLog => categories.push("@hyperloglog"),
            Group::Connection => categories.push("@connection"),
            Group::Transactions => categories.push("@transaction"),
            Group::PubSub => categories.push("@pubsub"),
            Group::Server if self.has(Flag::Admin) => {
                categories.push("@admin");
                categories.push("@dangerous");
            }
            Group::Server => {}
        }
        categories.push(if self.has(Flag::Fast) {
            "@fast"
        } else {
            "@slow"
        });
        categories
    }
}

static BY_NAME: LazyLock<HashMap<&'static str, &'static CommandSpec>> =
    LazyLock::new(|| COMMANDS.iter().map(|spec| (spec.name, spec)).collect());

/// How a reply that nodes send in RESP2's form is written to a RESP3 connection: Redis gives
/// some replies another type in RESP3 (a map for HGETALL, pairs for HRANDFIELD ... WITHVALUES).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Resp3Shape {
    /// The same in both protocols.
    AsIs,
    /// A flat array of keys and values becomes a map.
    Map,
    /// A flat array of keys and values becomes an array of two-element arrays.
    Pairs,
    /// An array becomes a set.
    Set,
    /// A bulk string holding a score becomes a double (a nil stays a null).
    Double,
    /// An array of scores (and nils) becomes an array of doubles (and nulls).
    Doubles,
    /// A flat array of members and scores becomes an array of (member, double) pairs.
    ScorePairs,
    /// A flat array of members and scores keeps its shape, its scores becoming doubles.
    Scores,
}

impl CommandSpec {
    /// Whether a write of a collection that gives the same result on the same value, so a
    /// replica at the same version can replay it (VAPPLY) instead of receiving the whole
    /// value: every single-key collection write but the random ones (SPOP), and the bitmap
    /// writes (SETBIT, BITFIELD) and PFADD, so a bit set in a large string is not a copy of
    /// the string.
    pub fn replayable(&self) -> bool {
        matches!(
            self.group,
            Group::Hash
                | Group::Set
                | Group::SortedSet
                | Group::List
                | Group::Bitmap
                | Group::HyperLogLog
        ) && self.has(Flag::Write)
            && self.route == Route::Mutation
            && self.id != Cmd::SPop
    }

    /// Whether a client may run this command at a version it gives (VAPPLY `*`): a write
    /// that the client runs on one replica (a mutation of one key, or of keys that share
    /// their replicas).
    pub fn versionable(&self) -> bool {
        matches!(
            self.route,
            Route::Mutation | Route::WriteUnless(_) | Route::MultiKey(Access::Mutation, _)
        )
    }

    /// Whether this command's nil reply to `args` is RESP2's null array (`*-1`) rather than
    /// the null bulk string: LPOP and RPOP with a count, LMPOP, and a blocking command whose
    /// wait timed out (inside MULTI, where BLMOVE and BRPOPLPUSH do not wait, theirs is the
    /// null bulk string).
    pub fn nil_is_array<A: AsRef<[u8]>>(&self, args: &[A]) -> bool {
        match self.id {
            Cmd::LPop | Cmd::RPop => args.len() > 2,
            Cmd::LMPop => true,
            _ if self.has(Flag::Blocking) => true,
            _ => false,
        }
    }

    /// The flags COMMAND GETKEYSANDFLAGS gives the key at position `position` of `args`
    /// (Redis's key-specification flags: `RO`, `RW`, `OW`, `RM` and the access kinds).
    pub fn key_flags<A: AsRef<[u8]>>(
        &self,
        args: &[A],
        position: usize,
    ) -> &'static [&'static str] {
        let options = |word: &str| {
            args.iter()
                .skip(3)
                .any(|arg| arg.as_ref().eq_ignore_ascii_case(word.as_bytes()))
        };
        match self.id {
            // Variable flags: SET with GET reads the old value; BITFIELD with only GETs reads.
            Cmd::Set if !options("GET") => &["OW", "update"],
            Cmd::BitField if !["SET", "INCRBY"].iter().any(|w| options(w)) => &["RO", "access"],
            _ => key_flags::key_flags(self.id)
                .iter()
                .rev()
                .find(|(start, _)| *start as usize <= position)
                .map_or(&[], |(_, flags)| *flags),
        }
    }

    /// The RESP3 shape of this command's reply to `args`.
    pub fn resp3_shape<A: AsRef<[u8]>>(&self, args: &[A]) -> Resp3Shape {
        let is = |arg: &A, word: &str| arg.as_ref().eq_ignore_ascii_case(word.as_bytes());
        // Options follow the keys: a key may be spelled like one.
        let after_keys = (self.keys.positions(args.len()))
            .chain(self.keys.counted(args))
            .max()
            .map_or(1, |last| last + 1);
        let has = |word: &str| args.iter().skip(after_keys).any(|arg| is(arg, word));
        let scores = |word: &str| {
            if has(word) {
                Resp3Shape::ScorePairs
            } else {
                Resp3Shape::AsIs
            }
        };
        match self.id {
            Cmd::HGetAll => Resp3Shape::Map,
            Cmd::HRandField if has("WITHVALUES") => Resp3Shape::Pairs,
            Cmd::SMembers | Cmd::SInter | Cmd::SUnion | Cmd::SDiff => Resp3Shape::Set,
            Cmd::SPop if args.len() > 2 => Resp3Shape::Set,
            Cmd::ZScore | Cmd::ZIncrBy => Resp3Shape::Double,
            // ZADD's options come before its first score.
            Cmd::ZAdd => {
                let options = ["NX", "XX", "GT", "LT", "CH", "INCR"];
                let incr = args
                    .iter()
                    .skip(2)
                    .take_while(|arg| options.iter().any(|option| is(arg, option)))
                    .any(|arg| is(arg, "INCR"));
                if incr {
                    Resp3Shape::Double
                } else {
                    Resp3Shape::AsIs
                }
            }
            Cmd::ZMScore => Resp3Shape::Doubles,
            Cmd::ZPopMin | Cmd::ZPopMax if args.len() > 2 => Resp3Shape::ScorePairs,
            Cmd::ZPopMin | Cmd::ZPopMax => Resp3Shape::Scores,
            Cmd::ZRange
            | Cmd::ZRangeByScore
            | Cmd::ZRevRangeByScore
            | Cmd::ZRevRange
            | Cmd::ZRandMember
            | Cmd::ZUnion
            | Cmd::ZInter
            | Cmd::ZDiff => scores("WITHSCORES"),
            _ => Resp3Shape::AsIs,
        }
    }
}

/// The longest command name; longer names are unknown without a lookup.
const MAX_NAME: usize = 16;

/// Finds a command by name, ignoring case, without allocating.
pub fn lookup(name: &[u8]) -> Option<&'static CommandSpec> {
    if name.len() > MAX_NAME {
        return None;
    }
    let mut lower = [0u8; MAX_NAME];
    let lower = &mut lower[..name.len()];
    lower.copy_from_slice(name);
    lower.make_ascii_lowercase();
    let name = std::str::from_utf8(lower).ok()?;
    BY_NAME.get(name).copied()
}

/// The spec of `id`.
pub fn spec(id: Cmd) -> &'static CommandSpec {
    &COMMANDS[id as usize]
}

/// Redis's reply to an unknown command: its name and the start of its arguments, each cut so
/// the message stays short.
pub fn unknown_command_error<A: AsRef<[u8]>>(args: &[A]) -> String {
    let name = String::from_utf8_lossy(args[0].as_ref());
    let name: String = name.chars().take(128).collect();
    let mut listed = String::new();
    for arg in &args[1..] {
        if listed.len() >= 128 {
            break;
        }
        let room = 128 - listed.len();
        let text = String::from_utf8_lossy(arg.as_ref());
        let cut: String = text.chars().take(room).collect();
        listed.push('\'');
        listed.push_str(&cut);
        listed.push_str("' ");
    }
    format!("ERR unknown command '{name}', with args beginning with: {listed}")
}

/// Redis's reply to a command with the wrong number of arguments.
pub fn wrong_arity_error(name: &str) -> String {
    format!("ERR wrong number of arguments for '{name}' command")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_unique_lowercase_short_and_in_id_order() {
        let mut seen = std::collections::HashSet::new();
        for (position, spec) in COMMANDS.iter().enumerate() {
            assert!(seen.insert(spec.name), "{} twice", spec.name);
            assert_eq!(spec.name, spec.name.to_ascii_lowercase());
            assert!(spec.name.len() <= MAX_NAME);
            assert!(spec.arity != 0);
            assert_eq!(spec.index(), position, "{} is out of place", spec.name);
        }
    }

    #[test]
    fn lookup_ignores_case() {
        assert_eq!(lookup(b"GeT").unwrap().id, Cmd::Get);
        assert!(lookup(b"nosuchcommand").is_none());
        assert!(lookup(&[0xff; 4]).is_none());
    }

    #[test]
    fn routes_are_consistent_with_keys_and_flags() {
        for spec in COMMANDS {
            match spec.route {
                Route::Read | Route::Write | Route::WriteUnless(_) | Route::Mutation => {
                    assert!(
                        spec.keys.has_keys(),
                        "{} routes by a key it lacks",
                        spec.name
                    );
                    assert_eq!(spec.keys.first, spec.keys.last, "{} has one key", spec.name);
                }
                Route::MultiKey(..) => assert!(spec.keys.has_keys(), "{}", spec.name),
                Route::Connection | Route::RingWide => {
                    assert!(!spec.keys.has_keys(), "{} has keys", spec.name)
                }
                // About one node: CONFIG, SHUTDOWN, and one replica's versions of keys.
                Route::NodeOnly => {}
            }
            if spec.route == Route::Read {
                assert!(spec.has(Flag::ReadOnly), "{} reads", spec.name);
            }
            if matches!(
                spec.route,
                Route::Write | Route::WriteUnless(_) | Route::Mutation
            ) {
                assert!(spec.is_write(), "{} writes", spec.name);
            }
            if spec.absent != Absent::Unknown {
                assert_eq!(spec.route, Route::Read, "{}: only reads miss", spec.name);
            }
        }
    }

    #[test]
    fn conditional_writes_become_mutations() {
        let set = lookup(b"set").unwrap();
        assert_eq!(set.route.access(&["SET", "k", "v"]), Some(Access::Write));
        assert_eq!(
            set.route.access(&["SET", "k", "v", "EX", "10"]),
            Some(Access::Write)
        );
        assert_eq!(
            set.route.access(&["SET", "k", "v", "nx"]),
            Some(Access::Mutation)
        );
        // A value spelled like an option is still a value.
        assert_eq!(set.route.access(&["SET", "k", "NX"]), Some(Access::Write));
        // A time to live runs on one replica and is copied with the value's version.
        let expire = lookup(b"expire").unwrap();
        assert_eq!(
            expire.route.access(&["EXPIRE", "k", "10"]),
            Some(Access::Mutation)
        );
        assert_eq!(
            lookup(b"incr").unwrap().route.access(&["INCR", "k"]),
            Some(Access::Mutation)
        );
        assert_eq!(lookup(b"mget").unwrap().route.access(&["MGET", "k"]), None);
    }

    #[test]
    fn keys_by_position() {
        let mset = lookup(b"mset").unwrap();
        let args = ["MSET", "a", "1", "b", "2"];
        assert_eq!(mset.keys.keys(&args).collect::<Vec<_>>(), [b"a", b"b"]);
        let get = lookup(b"get").unwrap();
        assert_eq!(get.keys.first_key(&["GET", "k"]), Some(&b"k"[..]));
        let ping = lookup(b"ping").unwrap();
        assert_eq!(ping.keys.keys(&["PING"]).count(), 0);
        // A request shorter than the spec gives the keys it has.
        assert_eq!(get.keys.keys(&["GET"]).count(), 0);
    }

    #[test]
    fn unknown_command_error_matches_redis() {
        assert_eq!(
            unknown_command_error(&["foo", "a", "b"]),
            "ERR unknown command 'foo', with args beginning with: 'a' 'b' "
        );
        let long = "x".repeat(300);
        let message = unknown_command_error(&["foo", &long, &long]);
        assert!(message.len() < 128 + 128 + 80, "{}", message.len());
    }
}
