//! The command table: every command's metadata in one place, as Dragonfly and Redis keep it.
//! The dispatcher checks arity from here; COMMAND INFO/DOCS/LIST/COUNT answer from here.

use std::collections::HashMap;
use std::sync::LazyLock;

use bytes::Bytes;

use super::{connection, expire, keys, server, strings, transaction, Ctx, Flow};

/// A handler: runs the command and writes one reply.
pub type Handler = fn(&mut Ctx<'_>, &[Bytes]) -> Flow;

/// One command's metadata and handler.
#[derive(Debug)]
pub struct CommandSpec {
    /// Lower-case name.
    pub name: &'static str,
    /// Redis's arity: N means exactly N arguments (the name included), -N at least N.
    pub arity: i32,
    /// Redis's command flags, as COMMAND INFO lists them.
    pub flags: &'static [&'static str],
    /// Position of the first key (0: no key).
    pub first_key: i32,
    /// Position of the last key (-1: the last argument).
    pub last_key: i32,
    /// Step between keys.
    pub step: i32,
    /// Redis's command group (`string`, `generic`, ...).
    pub group: &'static str,
    /// One line for COMMAND DOCS.
    pub summary: &'static str,
    /// The Redis version that introduced the command.
    pub since: &'static str,
    /// Time complexity, for COMMAND DOCS.
    pub complexity: &'static str,
    /// The function that runs it.
    pub handler: Handler,
}

impl CommandSpec {
    /// ACL categories, derived from the group and flags as Redis derives them.
    pub fn acl_categories(&self) -> Vec<&'static str> {
        let mut categories = Vec::new();
        if self.flags.contains(&"write") {
            categories.push("@write");
        }
        if self.flags.contains(&"readonly") {
            categories.push("@read");
        }
        match self.group {
            "string" => categories.push("@string"),
            "generic" => categories.push("@keyspace"),
            "connection" => categories.push("@connection"),
            "transactions" => categories.push("@transaction"),
            "server" if self.flags.contains(&"admin") => {
                categories.push("@admin");
                categories.push("@dangerous");
            }
            _ => {}
        }
        if self.flags.contains(&"fast") {
            categories.push("@fast");
        } else {
            categories.push("@slow");
        }
        categories
    }

    /// Whether the command writes.
    pub fn is_write(&self) -> bool {
        self.flags.contains(&"write")
    }
}

macro_rules! command {
    ($name:literal, $arity:expr, [$($flag:literal),*], $first:expr, $last:expr, $step:expr, $group:literal, $since:literal, $complexity:literal, $summary:literal, $handler:path) => {
        CommandSpec {
            name: $name,
            arity: $arity,
            flags: &[$($flag),*],
            first_key: $first,
            last_key: $last,
            step: $step,
            group: $group,
            summary: $summary,
            since: $since,
            complexity: $complexity,
            handler: $handler,
        }
    };
}

/// Every command a node answers.
pub static COMMANDS: &[CommandSpec] = &[
    // strings
    command!("get", 2, ["readonly", "fast"], 1, 1, 1, "string", "1.0.0", "O(1)", "Returns the string value of a key.", strings::get),
    command!("set", -3, ["write", "denyoom"], 1, 1, 1, "string", "1.0.0", "O(1)", "Sets the string value of a key, ignoring its type. The key is created if it doesn't exist.", strings::set),
    command!("setnx", 3, ["write", "denyoom", "fast"], 1, 1, 1, "string", "1.0.0", "O(1)", "Set the string value of a key only when the key doesn't exist.", strings::setnx),
    command!("setex", 4, ["write", "denyoom"], 1, 1, 1, "string", "2.0.0", "O(1)", "Sets the string value and expiration time of a key. Creates the key if it doesn't exist.", strings::setex),
    command!("psetex", 4, ["write", "denyoom"], 1, 1, 1, "string", "2.6.0", "O(1)", "Sets both string value and expiration time in milliseconds of a key. The key is created if it doesn't exist.", strings::psetex),
    command!("getset", 3, ["write", "denyoom", "fast"], 1, 1, 1, "string", "1.0.0", "O(1)", "Returns the previous string value of a key after setting it to a new value.", strings::getset),
    command!("getdel", 2, ["write", "fast"], 1, 1, 1, "string", "6.2.0", "O(1)", "Returns the string value of a key after deleting the key.", strings::getdel),
    command!("getex", -2, ["write", "fast"], 1, 1, 1, "string", "6.2.0", "O(1)", "Returns the string value of a key after setting its expiration time.", strings::getex),
    command!("mget", -2, ["readonly", "fast"], 1, -1, 1, "string", "1.0.0", "O(N) where N is the number of keys to retrieve.", "Atomically returns the string values of one or more keys.", strings::mget),
    command!("mset", -3, ["write", "denyoom"], 1, -1, 2, "string", "1.0.1", "O(N) where N is the number of keys to set.", "Atomically creates or modifies the string values of one or more keys.", strings::mset),
    command!("msetnx", -3, ["write", "denyoom"], 1, -1, 2, "string", "1.0.1", "O(N) where N is the number of keys to set.", "Atomically modifies the string values of one or more keys only when all keys don't exist.", strings::msetnx),
    command!("append", 3, ["write", "denyoom", "fast"], 1, 1, 1, "string", "2.0.0", "O(1)", "Appends a string to the value of a key. Creates the key if it doesn't exist.", strings::append),
    command!("strlen", 2, ["readonly", "fast"], 1, 1, 1, "string", "2.2.0", "O(1)", "Returns the length of a string value.", strings::strlen),
    command!("getrange", 4, ["readonly"], 1, 1, 1, "string", "2.4.0", "O(N) where N is the length of the returned string.", "Returns a substring of the string stored at a key.", strings::getrange),
    command!("setrange", 4, ["write", "denyoom"], 1, 1, 1, "string", "2.2.0", "O(1), not counting the time taken to copy the new string in place.", "Overwrites a part of a string value with another by an offset. Creates the key if it doesn't exist.", strings::setrange),
    command!("incr", 2, ["write", "denyoom", "fast"], 1, 1, 1, "string", "1.0.0", "O(1)", "Increments the integer value of a key by one. Uses 0 as initial value if the key doesn't exist.", strings::incr),
    command!("decr", 2, ["write", "denyoom", "fast"], 1, 1, 1, "string", "1.0.0", "O(1)", "Decrements the integer value of a key by one. Uses 0 as initial value if the key doesn't exist.", strings::decr),
    command!("incrby", 3, ["write", "denyoom", "fast"], 1, 1, 1, "string", "1.0.0", "O(1)", "Increments the integer value of a key by a number. Uses 0 as initial value if the key doesn't exist.", strings::incrby),
    command!("decrby", 3, ["write", "denyoom", "fast"], 1, 1, 1, "string", "1.0.0", "O(1)", "Decrements a number from the integer value of a key. Uses 0 as initial value if the key doesn't exist.", strings::decrby),
    command!("incrbyfloat", 3, ["write", "denyoom", "fast"], 1, 1, 1, "string", "2.6.0", "O(1)", "Increment the floating point value of a key by a number. Uses 0 as initial value if the key doesn't exist.", strings::incrbyfloat),
    // keys
    command!("del", -2, ["write"], 1, -1, 1, "generic", "1.0.0", "O(N) where N is the number of keys that will be removed.", "Deletes one or more keys.", keys::del),
    command!("unlink", -2, ["write", "fast"], 1, -1, 1, "generic", "4.0.0", "O(1) for each key removed.", "Asynchronously deletes one or more keys.", keys::del),
    command!("exists", -2, ["readonly", "fast"], 1, -1, 1, "generic", "1.0.0", "O(N) where N is the number of keys to check.", "Determines whether one or more keys exist.", keys::exists),
    command!("touch", -2, ["readonly", "fast"], 1, -1, 1, "generic", "3.2.1", "O(N) where N is the number of keys that will be touched.", "Returns the number of existing keys out of those specified after updating the time they were last accessed.", keys::touch),
    command!("type", 2, ["readonly", "fast"], 1, 1, 1, "generic", "1.0.0", "O(1)", "Determines the type of value stored at a key.", keys::type_of),
    command!("keys", 2, ["readonly"], 0, 0, 0, "generic", "1.0.0", "O(N) with N being the number of keys in the database.", "Returns all key names that match a pattern.", keys::keys),
    command!("scan", -2, ["readonly"], 0, 0, 0, "generic", "2.8.0", "O(1) for every call. O(N) for a complete iteration.", "Iterates over the key names in the database.", keys::scan),
    command!("randomkey", 1, ["readonly"], 0, 0, 0, "generic", "1.0.0", "O(1)", "Returns a random key name from the database.", keys::randomkey),
    command!("dbsize", 1, ["readonly", "fast"], 0, 0, 0, "server", "1.0.0", "O(1)", "Returns the number of keys in the database.", keys::dbsize),
    command!("flushdb", -1, ["write"], 0, 0, 0, "server", "1.0.0", "O(N) where N is the total number of keys in the database.", "Remove all keys from the current database.", keys::flushall),
    command!("flushall", -1, ["write"], 0, 0, 0, "server", "1.0.0", "O(N) where N is the total number of keys in all databases.", "Removes all keys from all databases.", keys::flushall),
    // expiry
    command!("expire", -3, ["write", "fast"], 1, 1, 1, "generic", "1.0.0", "O(1)", "Sets the expiration time of a key in seconds.", expire::expire),
    command!("pexpire", -3, ["write", "fast"], 1, 1, 1, "generic", "2.6.0", "O(1)", "Sets the expiration time of a key in milliseconds.", expire::pexpire),
    command!("expireat", -3, ["write", "fast"], 1, 1, 1, "generic", "1.2.0", "O(1)", "Sets the expiration time of a key to a Unix timestamp.", expire::expireat),
    command!("pexpireat", -3, ["write", "fast"], 1, 1, 1, "generic", "2.6.0", "O(1)", "Sets the expiration time of a key to a Unix milliseconds timestamp.", expire::pexpireat),
    command!("ttl", 2, ["readonly", "fast"], 1, 1, 1, "generic", "1.0.0", "O(1)", "Returns the expiration time in seconds of a key.", expire::ttl),
    command!("pttl", 2, ["readonly", "fast"], 1, 1, 1, "generic", "2.6.0", "O(1)", "Returns the expiration time in milliseconds of a key.", expire::pttl),
    command!("expiretime", 2, ["readonly", "fast"], 1, 1, 1, "generic", "7.0.0", "O(1)", "Returns the expiration time of a key as a Unix timestamp.", expire::expiretime),
    command!("pexpiretime", 2, ["readonly", "fast"], 1, 1, 1, "generic", "7.0.0", "O(1)", "Returns the expiration time of a key as a Unix milliseconds timestamp.", expire::pexpiretime),
    command!("persist", 2, ["write", "fast"], 1, 1, 1, "generic", "2.2.0", "O(1)", "Removes the expiration time of a key.", expire::persist),
    // transactions
    command!("multi", 1, ["noscript", "loading", "stale", "fast", "allow_busy"], 0, 0, 0, "transactions", "1.2.0", "O(1)", "Starts a transaction.", transaction::multi),
    command!("exec", 1, ["noscript", "loading", "stale", "skip_slowlog"], 0, 0, 0, "transactions", "1.2.0", "Depends on commands in the transaction", "Executes all commands in a transaction.", transaction::exec),
    command!("discard", 1, ["noscript", "loading", "stale", "fast", "allow_busy"], 0, 0, 0, "transactions", "2.0.0", "O(N), when N is the number of queued commands", "Discards a transaction.", transaction::discard),
    // connection
    command!("ping", -1, ["fast"], 0, 0, 0, "connection", "1.0.0", "O(1)", "Returns the server's liveliness response.", connection::ping),
    command!("echo", 2, ["fast"], 0, 0, 0, "connection", "1.0.0", "O(1)", "Returns the given string.", connection::echo),
    command!("quit", -1, ["noscript", "loading", "stale", "fast", "no_auth", "allow_busy"], 0, 0, 0, "connection", "1.0.0", "O(1)", "Closes the connection.", connection::quit),
    command!("reset", 1, ["noscript", "loading", "stale", "fast", "no_auth", "allow_busy"], 0, 0, 0, "connection", "6.2.0", "O(1)", "Resets the connection.", connection::reset),
    command!("select", 2, ["loading", "stale", "fast"], 0, 0, 0, "connection", "1.0.0", "O(1)", "Changes the selected database.", connection::select),
    command!("auth", -2, ["noscript", "loading", "stale", "fast", "no_auth", "allow_busy"], 0, 0, 0, "connection", "1.0.0", "O(N) where N is the number of passwords defined for the user", "Authenticates the connection.", connection::auth),
    command!("hello", -1, ["noscript", "loading", "stale", "fast", "no_auth", "allow_busy"], 0, 0, 0, "connection", "6.0.0", "O(1)", "Handshakes with the Redis server.", connection::hello),
    command!("client", -2, ["noscript", "loading", "stale"], 0, 0, 0, "connection", "2.4.0", "Depends on subcommand.", "A container for client connection commands.", connection::client),
    // server
    command!("info", -1, ["loading", "stale"], 0, 0, 0, "server", "1.0.0", "O(1)", "Returns information and statistics about the server.", server::info),
    command!("config", -2, ["admin", "noscript", "loading", "stale"], 0, 0, 0, "server", "2.0.0", "Depends on subcommand.", "A container for server configuration commands.", server::config),
    command!("command", -1, ["loading", "stale"], 0, 0, 0, "server", "2.8.13", "O(N) where N is the total number of Redis commands", "Returns detailed information about all commands.", server::command),
    command!("time", 1, ["loading", "stale", "fast"], 0, 0, 0, "server", "2.6.0", "O(1)", "Returns the server time.", server::time),
    command!("shutdown", -1, ["admin", "noscript", "loading", "stale", "no_multi", "allow_busy"], 0, 0, 0, "server", "1.0.0", "O(N) when saving, where N is the total number of keys in all databases when saving data, otherwise O(1)", "Stops the node.", server::shutdown),
];

static BY_NAME: LazyLock<HashMap<&'static str, &'static CommandSpec>> =
    LazyLock::new(|| COMMANDS.iter().map(|spec| (spec.name, spec)).collect());

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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_unique_lowercase_and_short() {
        let mut seen = std::collections::HashSet::new();
        for spec in COMMANDS {
            assert!(seen.insert(spec.name), "{} twice", spec.name);
            assert_eq!(spec.name, spec.name.to_ascii_lowercase());
            assert!(spec.name.len() <= MAX_NAME);
            assert!(spec.arity != 0);
        }
    }

    #[test]
    fn lookup_ignores_case() {
        assert_eq!(lookup(b"GeT").unwrap().name, "get");
        assert!(lookup(b"nosuchcommand").is_none());
        assert!(lookup(&[0xff; 4]).is_none());
    }
}
