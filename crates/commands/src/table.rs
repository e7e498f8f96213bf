//! The rows of the command table. Each row: the [`Cmd`] variant, name, arity, flags, keys,
//! group, route, what a read of a missing key answers, the Redis version that introduced it,
//! its time complexity and one line of docs.

use crate::Route::*;
use crate::{Absent, Access, CommandSpec, Flag, Flags, Group, KeySpec, Merge};

const NO_KEYS: KeySpec = KeySpec::NONE;

const fn keys(first: i32, last: i32, step: i32) -> KeySpec {
    KeySpec::new(first, last, step)
}

macro_rules! table {
    ($($id:ident = $name:literal, $arity:expr, [$($flag:ident),*], $keys:expr, $group:ident, $route:expr, $absent:ident,
        $since:literal, $complexity:literal, $summary:literal;)*) => {
        /// Every command cachering knows; the discriminant is the position in [`COMMANDS`].
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum Cmd {
            $(#[doc = $summary] $id,)*
        }

        /// Every command, in [`Cmd`] order.
        pub static COMMANDS: &[CommandSpec] = &[$(CommandSpec {
            id: Cmd::$id,
            name: $name,
            arity: $arity,
            flags: Flags::of(&[$(Flag::$flag),*]),
            keys: $keys,
            group: Group::$group,
            route: $route,
            absent: Absent::$absent,
            since: $since,
            complexity: $complexity,
            summary: $summary,
        },)*];
    };
}

table! {
    // strings
    Get = "get", 2, [ReadOnly, Fast], keys(1, 1, 1), String, Read, Nil,
        "1.0.0", "O(1)",
        "Returns the string value of a key.";
    Set = "set", -3, [Write, DenyOom], keys(1, 1, 1), String, WriteUnless(&["NX", "XX", "GET", "KEEPTTL"]), Unknown,
        "1.0.0", "O(1)",
        "Sets the string value of a key, ignoring its type. The key is created if it doesn't exist.";
    SetNx = "setnx", 3, [Write, DenyOom, Fast], keys(1, 1, 1), String, Mutation, Unknown,
        "1.0.0", "O(1)",
        "Set the string value of a key only when the key doesn't exist.";
    SetEx = "setex", 4, [Write, DenyOom], keys(1, 1, 1), String, Write, Unknown,
        "2.0.0", "O(1)",
        "Sets the string value and expiration time of a key. Creates the key if it doesn't exist.";
    PSetEx = "psetex", 4, [Write, DenyOom], keys(1, 1, 1), String, Write, Unknown,
        "2.6.0", "O(1)",
        "Sets both string value and expiration time in milliseconds of a key. The key is created if it doesn't exist.";
    GetSet = "getset", 3, [Write, DenyOom, Fast], keys(1, 1, 1), String, Mutation, Unknown,
        "1.0.0", "O(1)",
        "Returns the previous string value of a key after setting it to a new value.";
    GetDel = "getdel", 2, [Write, Fast], keys(1, 1, 1), String, Mutation, Unknown,
        "6.2.0", "O(1)",
        "Returns the string value of a key after deleting the key.";
    GetEx = "getex", -2, [Write, Fast], keys(1, 1, 1), String, Mutation, Unknown,
        "6.2.0", "O(1)",
        "Returns the string value of a key after setting its expiration time.";
    MGet = "mget", -2, [ReadOnly, Fast], keys(1, -1, 1), String, MultiKey(Access::Read, Merge::Values), Unknown,
        "1.0.0", "O(N) where N is the number of keys to retrieve.",
        "Atomically returns the string values of one or more keys.";
    MSet = "mset", -3, [Write, DenyOom], keys(1, -1, 2), String, MultiKey(Access::Write, Merge::Status), Unknown,
        "1.0.1", "O(N) where N is the number of keys to set.",
        "Atomically creates or modifies the string values of one or more keys.";
    MSetNx = "msetnx", -3, [Write, DenyOom], keys(1, -1, 2), String, MultiKey(Access::Mutation, Merge::AllOrNone), Unknown,
        "1.0.1", "O(N) where N is the number of keys to set.",
        "Atomically modifies the string values of one or more keys only when all keys don't exist.";
    Append = "append", 3, [Write, DenyOom, Fast], keys(1, 1, 1), String, Mutation, Unknown,
        "2.0.0", "O(1)",
        "Appends a string to the value of a key. Creates the key if it doesn't exist.";
    StrLen = "strlen", 2, [ReadOnly, Fast], keys(1, 1, 1), String, Read, Zero,
        "2.2.0", "O(1)",
        "Returns the length of a string value.";
    GetRange = "getrange", 4, [ReadOnly], keys(1, 1, 1), String, Read, EmptyString,
        "2.4.0", "O(N) where N is the length of the returned string.",
        "Returns a substring of the string stored at a key.";
    SetRange = "setrange", 4, [Write, DenyOom], keys(1, 1, 1), String, Mutation, Unknown,
        "2.2.0", "O(1), not counting the time taken to copy the new string in place.",
        "Overwrites a part of a string value with another by an offset. Creates the key if it doesn't exist.";
    Incr = "incr", 2, [Write, DenyOom, Fast], keys(1, 1, 1), String, Mutation, Unknown,
        "1.0.0", "O(1)",
        "Increments the integer value of a key by one. Uses 0 as initial value if the key doesn't exist.";
    Decr = "decr", 2, [Write, DenyOom, Fast], keys(1, 1, 1), String, Mutation, Unknown,
        "1.0.0", "O(1)",
        "Decrements the integer value of a key by one. Uses 0 as initial value if the key doesn't exist.";
    IncrBy = "incrby", 3, [Write, DenyOom, Fast], keys(1, 1, 1), String, Mutation, Unknown,
        "1.0.0", "O(1)",
        "Increments the integer value of a key by a number. Uses 0 as initial value if the key doesn't exist.";
    DecrBy = "decrby", 3, [Write, DenyOom, Fast], keys(1, 1, 1), String, Mutation, Unknown,
        "1.0.0", "O(1)",
        "Decrements a number from the integer value of a key. Uses 0 as initial value if the key doesn't exist.";
    IncrByFloat = "incrbyfloat", 3, [Write, DenyOom, Fast], keys(1, 1, 1), String, Mutation, Unknown,
        "2.6.0", "O(1)",
        "Increment the floating point value of a key by a number. Uses 0 as initial value if the key doesn't exist.";
    // hashes
    HSet = "hset", -4, [Write, DenyOom, Fast], keys(1, 1, 1), Hash, Mutation, Unknown,
        "2.0.0", "O(1) for each field/value pair added, so O(N) to add N field/value pairs when the command is called with multiple field/value pairs.",
        "Creates or modifies the value of a field in a hash.";
    HSetNx = "hsetnx", 4, [Write, DenyOom, Fast], keys(1, 1, 1), Hash, Mutation, Unknown,
        "2.0.0", "O(1)",
        "Sets the value of a field in a hash only when the field doesn't exist.";
    HMSet = "hmset", -4, [Write, DenyOom, Fast], keys(1, 1, 1), Hash, Mutation, Unknown,
        "2.0.0", "O(N) where N is the number of fields being set.",
        "Sets the values of multiple fields.";
    HGet = "hget", 3, [ReadOnly, Fast], keys(1, 1, 1), Hash, Read, Nil,
        "2.0.0", "O(1)",
        "Returns the value of a field in a hash.";
    HMGet = "hmget", -3, [ReadOnly, Fast], keys(1, 1, 1), Hash, Read, Unknown,
        "2.0.0", "O(N) where N is the number of fields being requested.",
        "Returns the values of all fields in a hash.";
    HDel = "hdel", -3, [Write, Fast], keys(1, 1, 1), Hash, Mutation, Unknown,
        "2.0.0", "O(N) where N is the number of fields to be removed.",
        "Deletes one or more fields and their values from a hash. Deletes the hash if no fields remain.";
    HExists = "hexists", 3, [ReadOnly, Fast], keys(1, 1, 1), Hash, Read, Zero,
        "2.0.0", "O(1)",
        "Determines whether a field exists in a hash.";
    HLen = "hlen", 2, [ReadOnly, Fast], keys(1, 1, 1), Hash, Read, Zero,
        "2.0.0", "O(1)",
        "Returns the number of fields in a hash.";
    HStrLen = "hstrlen", 3, [ReadOnly, Fast], keys(1, 1, 1), Hash, Read, Zero,
        "3.2.0", "O(1)",
        "Returns the length of the value of a field.";
    HKeys = "hkeys", 2, [ReadOnly], keys(1, 1, 1), Hash, Read, EmptyArray,
        "2.0.0", "O(N) where N is the size of the hash.",
        "Returns all fields in a hash.";
    HVals = "hvals", 2, [ReadOnly], keys(1, 1, 1), Hash, Read, EmptyArray,
        "2.0.0", "O(N) where N is the size of the hash.",
        "Returns all values in a hash.";
    HGetAll = "hgetall", 2, [ReadOnly], keys(1, 1, 1), Hash, Read, EmptyArray,
        "2.0.0", "O(N) where N is the size of the hash.",
        "Returns all fields and values in a hash.";
    HIncrBy = "hincrby", 4, [Write, DenyOom, Fast], keys(1, 1, 1), Hash, Mutation, Unknown,
        "2.0.0", "O(1)",
        "Increments the integer value of a field in a hash by a number. Uses 0 as initial value if the field doesn't exist.";
    HIncrByFloat = "hincrbyfloat", 4, [Write, DenyOom, Fast], keys(1, 1, 1), Hash, Mutation, Unknown,
        "2.6.0", "O(1)",
        "Increments the floating point value of a field by a number. Uses 0 as initial value if the field doesn't exist.";
    HRandField = "hrandfield", -2, [ReadOnly], keys(1, 1, 1), Hash, Read, Unknown,
        "6.2.0", "O(N) where N is the number of fields returned",
        "Returns one or more random fields from a hash.";
    HScan = "hscan", -3, [ReadOnly], keys(1, 1, 1), Hash, Read, Unknown,
        "2.8.0", "O(1) for every call. O(N) for a complete iteration, including enough command calls for the cursor to return back to 0. N is the number of elements inside the collection.",
        "Iterates over fields and values of a hash.";
    // sets
    SAdd = "sadd", -3, [Write, DenyOom, Fast], keys(1, 1, 1), Set, Mutation, Unknown,
        "1.0.0", "O(1) for each element added, so O(N) to add N elements when the command is called with multiple arguments.",
        "Adds one or more members to a set. Creates the key if it doesn't exist.";
    SRem = "srem", -3, [Write, Fast], keys(1, 1, 1), Set, Mutation, Unknown,
        "1.0.0", "O(N) where N is the number of members to be removed.",
        "Removes one or more members from a set. Deletes the set if the last member was removed.";
    SIsMember = "sismember", 3, [ReadOnly, Fast], keys(1, 1, 1), Set, Read, Zero,
        "1.0.0", "O(1)",
        "Determines whether a member belongs to a set.";
    SMIsMember = "smismember", -3, [ReadOnly, Fast], keys(1, 1, 1), Set, Read, Unknown,
        "6.2.0", "O(N) where N is the number of elements being checked for membership",
        "Determines whether multiple members belong to a set.";
    SCard = "scard", 2, [ReadOnly, Fast], keys(1, 1, 1), Set, Read, Zero,
        "1.0.0", "O(1)",
        "Returns the number of members in a set.";
    SMembers = "smembers", 2, [ReadOnly], keys(1, 1, 1), Set, Read, EmptyArray,
        "1.0.0", "O(N) where N is the set cardinality.",
        "Returns all members of a set.";
    SPop = "spop", -2, [Write, Fast], keys(1, 1, 1), Set, Mutation, Unknown,
        "1.0.0", "Without the count argument O(1), otherwise O(N) where N is the value of the passed count.",
        "Returns one or more random members from a set after removing them. Deletes the set if the last member was popped.";
    SRandMember = "srandmember", -2, [ReadOnly], keys(1, 1, 1), Set, Read, Unknown,
        "1.0.0", "Without the count argument O(1), otherwise O(N) where N is the absolute value of the passed count.",
        "Get one or multiple random members from a set";
    SMove = "smove", 4, [Write, Fast], keys(1, 2, 1), Set, MultiKey(Access::Mutation, Merge::AllOrNone), Unknown,
        "1.0.0", "O(1)",
        "Moves a member from one set to another.";
    SScan = "sscan", -3, [ReadOnly], keys(1, 1, 1), Set, Read, Unknown,
        "2.8.0", "O(1) for every call. O(N) for a complete iteration, including enough command calls for the cursor to return back to 0. N is the number of elements inside the collection.",
        "Iterates over members of a set.";
    SInter = "sinter", -2, [ReadOnly], keys(1, -1, 1), Set, MultiKey(Access::Read, Merge::AllOrNone), Unknown,
        "1.0.0", "O(N*M) worst case where N is the cardinality of the smallest set and M is the number of sets.",
        "Returns the intersect of multiple sets.";
    SUnion = "sunion", -2, [ReadOnly], keys(1, -1, 1), Set, MultiKey(Access::Read, Merge::AllOrNone), Unknown,
        "1.0.0", "O(N) where N is the total number of elements in all given sets.",
        "Returns the union of multiple sets.";
    SDiff = "sdiff", -2, [ReadOnly], keys(1, -1, 1), Set, MultiKey(Access::Read, Merge::AllOrNone), Unknown,
        "1.0.0", "O(N) where N is the total number of elements in all given sets.",
        "Returns the difference of multiple sets.";
    SInterCard = "sintercard", -3, [ReadOnly], NO_KEYS.counted_at(1), Set, MultiKey(Access::Read, Merge::AllOrNone), Unknown,
        "7.0.0", "O(N*M) worst case where N is the cardinality of the smallest set and M is the number of sets.",
        "Returns the number of members of the intersect of multiple sets.";
    SInterStore = "sinterstore", -3, [Write, DenyOom], keys(1, -1, 1), Set, MultiKey(Access::Mutation, Merge::AllOrNone), Unknown,
        "1.0.0", "O(N*M) worst case where N is the cardinality of the smallest set and M is the number of sets.",
        "Stores the intersect of multiple sets in a key.";
    SUnionStore = "sunionstore", -3, [Write, DenyOom], keys(1, -1, 1), Set, MultiKey(Access::Mutation, Merge::AllOrNone), Unknown,
        "1.0.0", "O(N) where N is the total number of elements in all given sets.",
        "Stores the union of multiple sets in a key.";
    SDiffStore = "sdiffstore", -3, [Write, DenyOom], keys(1, -1, 1), Set, MultiKey(Access::Mutation, Merge::AllOrNone), Unknown,
        "1.0.0", "O(N) where N is the total number of elements in all given sets.",
        "Stores the difference of multiple sets in a key.";
    // sorted sets
    ZAdd = "zadd", -4, [Write, DenyOom, Fast], keys(1, 1, 1), SortedSet, Mutation, Unknown,
        "1.2.0", "O(log(N)) for each item added, where N is the number of elements in the sorted set.",
        "Add one or more members to a sorted set, or update its score if it already exists.";
    ZIncrBy = "zincrby", 4, [Write, DenyOom, Fast], keys(1, 1, 1), SortedSet, Mutation, Unknown,
        "1.2.0", "O(log(N)) where N is the number of elements in the sorted set.",
        "Increment the score of a member in a sorted set.";
    ZScore = "zscore", 3, [ReadOnly, Fast], keys(1, 1, 1), SortedSet, Read, Nil,
        "1.2.0", "O(1)",
        "Get the score associated with the given member in a sorted set.";
    ZMScore = "zmscore", -3, [ReadOnly, Fast], keys(1, 1, 1), SortedSet, Read, Unknown,
        "6.2.0", "O(N) where N is the number of members being requested.",
        "Get the score associated with the given members in a sorted set.";
    ZCard = "zcard", 2, [ReadOnly, Fast], keys(1, 1, 1), SortedSet, Read, Zero,
        "1.2.0", "O(1)",
        "Get the number of members in a sorted set.";
    ZCount = "zcount", 4, [ReadOnly, Fast], keys(1, 1, 1), SortedSet, Read, Zero,
        "2.0.0", "O(log(N)) with N being the number of elements in the sorted set.",
        "Count the members in a sorted set with scores within the given values.";
    ZLexCount = "zlexcount", 4, [ReadOnly, Fast], keys(1, 1, 1), SortedSet, Read, Zero,
        "2.8.9", "O(log(N)) with N being the number of elements in the sorted set.",
        "Count the number of members in a sorted set between a given lexicographical range.";
    ZRange = "zrange", -4, [ReadOnly], keys(1, 1, 1), SortedSet, Read, EmptyArray,
        "1.2.0", "O(log(N)+M) with N being the number of elements in the sorted set and M the number of elements returned.",
        "Return a range of members in a sorted set.";
    ZRangeStore = "zrangestore", -5, [Write, DenyOom], keys(1, 2, 1), SortedSet, MultiKey(Access::Mutation, Merge::AllOrNone), Unknown,
        "6.2.0", "O(log(N)+M) with N being the number of elements in the sorted set and M the number of elements stored into the destination key.",
        "Store a range of members from sorted set into another key.";
    ZRangeByScore = "zrangebyscore", -4, [ReadOnly], keys(1, 1, 1), SortedSet, Read, EmptyArray,
        "1.0.5", "O(log(N)+M) with N being the number of elements in the sorted set and M the number of elements being returned. If M is constant (e.g. always asking for the first 10 elements with LIMIT), you can consider it O(log(N)).",
        "Return a range of members in a sorted set, by score.";
    ZRevRangeByScore = "zrevrangebyscore", -4, [ReadOnly], keys(1, 1, 1), SortedSet, Read, EmptyArray,
        "2.2.0", "O(log(N)+M) with N being the number of elements in the sorted set and M the number of elements being returned. If M is constant (e.g. always asking for the first 10 elements with LIMIT), you can consider it O(log(N)).",
        "Return a range of members in a sorted set, by score, with scores ordered from high to low.";
    ZRangeByLex = "zrangebylex", -4, [ReadOnly], keys(1, 1, 1), SortedSet, Read, EmptyArray,
        "2.8.9", "O(log(N)+M) with N being the number of elements in the sorted set and M the number of elements being returned. If M is constant (e.g. always asking for the first 10 elements with LIMIT), you can consider it O(log(N)).",
        "Return a range of members in a sorted set, by lexicographical range.";
    ZRevRangeByLex = "zrevrangebylex", -4, [ReadOnly], keys(1, 1, 1), SortedSet, Read, EmptyArray,
        "2.8.9", "O(log(N)+M) with N being the number of elements in the sorted set and M the number of elements being returned. If M is constant (e.g. always asking for the first 10 elements with LIMIT), you can consider it O(log(N)).",
        "Return a range of members in a sorted set, by lexicographical range, ordered from higher to lower strings.";
    ZRevRange = "zrevrange", -4, [ReadOnly], keys(1, 1, 1), SortedSet, Read, EmptyArray,
        "1.2.0", "O(log(N)+M) with N being the number of elements in the sorted set and M the number of elements returned.",
        "Return a range of members in a sorted set, by index, with scores ordered from high to low.";
    ZRank = "zrank", 3, [ReadOnly, Fast], keys(1, 1, 1), SortedSet, Read, Nil,
        "2.0.0", "O(log(N))",
        "Determine the index of a member in a sorted set.";
    ZRevRank = "zrevrank", 3, [ReadOnly, Fast], keys(1, 1, 1), SortedSet, Read, Nil,
        "2.0.0", "O(log(N))",
        "Determine the index of a member in a sorted set, with scores ordered from high to low.";
    ZRem = "zrem", -3, [Write, Fast], keys(1, 1, 1), SortedSet, Mutation, Unknown,
        "1.2.0", "O(M*log(N)) with N being the number of elements in the sorted set and M the number of elements to be removed.",
        "Remove one or more members from a sorted set.";
    ZRemRangeByRank = "zremrangebyrank", 4, [Write], keys(1, 1, 1), SortedSet, Mutation, Unknown,
        "2.0.0", "O(log(N)+M) with N being the number of elements in the sorted set and M the number of elements removed by the operation.",
        "Remove all members in a sorted set within the given indexes.";
    ZRemRangeByScore = "zremrangebyscore", 4, [Write], keys(1, 1, 1), SortedSet, Mutation, Unknown,
        "1.2.0", "O(log(N)+M) with N being the number of elements in the sorted set and M the number of elements removed by the operation.",
        "Remove all members in a sorted set within the given scores.";
    ZRemRangeByLex = "zremrangebylex", 4, [Write], keys(1, 1, 1), SortedSet, Mutation, Unknown,
        "2.8.9", "O(log(N)+M) with N being the number of elements in the sorted set and M the number of elements removed by the operation.",
        "Remove all members in a sorted set between the given lexicographical range.";
    ZPopMin = "zpopmin", -2, [Write, Fast], keys(1, 1, 1), SortedSet, Mutation, Unknown,
        "5.0.0", "O(log(N)*M) with N being the number of elements in the sorted set, and M being the number of elements popped.",
        "Remove and return members with the lowest scores in a sorted set.";
    ZPopMax = "zpopmax", -2, [Write, Fast], keys(1, 1, 1), SortedSet, Mutation, Unknown,
        "5.0.0", "O(log(N)*M) with N being the number of elements in the sorted set, and M being the number of elements popped.",
        "Remove and return members with the highest scores in a sorted set.";
    ZRandMember = "zrandmember", -2, [ReadOnly], keys(1, 1, 1), SortedSet, Read, Unknown,
        "6.2.0", "O(N) where N is the number of elements returned",
        "Get one or multiple random elements from a sorted set.";
    ZScan = "zscan", -3, [ReadOnly], keys(1, 1, 1), SortedSet, Read, Unknown,
        "2.8.0", "O(1) for every call. O(N) for a complete iteration, including enough command calls for the cursor to return back to 0. N is the number of elements inside the collection..",
        "Incrementally iterate sorted sets elements and associated scores.";
    ZUnion = "zunion", -3, [ReadOnly], NO_KEYS.counted_at(1), SortedSet, MultiKey(Access::Read, Merge::AllOrNone), Unknown,
        "6.2.0", "O(N)+O(M*log(M)) with N being the sum of the sizes of the input sorted sets, and M being the number of elements in the resulting sorted set.",
        "Add multiple sorted sets.";
    ZInter = "zinter", -3, [ReadOnly], NO_KEYS.counted_at(1), SortedSet, MultiKey(Access::Read, Merge::AllOrNone), Unknown,
        "6.2.0", "O(N*K)+O(M*log(M)) worst case with N being the smallest input sorted set, K being the number of input sorted sets and M being the number of elements in the resulting sorted set.",
        "Intersect multiple sorted sets.";
    ZDiff = "zdiff", -3, [ReadOnly], NO_KEYS.counted_at(1), SortedSet, MultiKey(Access::Read, Merge::AllOrNone), Unknown,
        "6.2.0", "O(L + (N-K)log(N)) worst case where L is the total number of elements in all the sets, N is the size of the first set, and K is the size of the result set.",
        "Subtract multiple sorted sets.";
    ZInterCard = "zintercard", -3, [ReadOnly], NO_KEYS.counted_at(1), SortedSet, MultiKey(Access::Read, Merge::AllOrNone), Unknown,
        "7.0.0", "O(N*K) worst case with N being the smallest input sorted set, K being the number of input sorted sets.",
        "Intersect multiple sorted sets and return the cardinality of the result.";
    ZUnionStore = "zunionstore", -4, [Write, DenyOom], keys(1, 1, 1).counted_at(2), SortedSet, MultiKey(Access::Mutation, Merge::AllOrNone), Unknown,
        "2.0.0", "O(N)+O(M log(M)) with N being the sum of the sizes of the input sorted sets, and M being the number of elements in the resulting sorted set.",
        "Add multiple sorted sets and store the resulting sorted set in a new key.";
    ZInterStore = "zinterstore", -4, [Write, DenyOom], keys(1, 1, 1).counted_at(2), SortedSet, MultiKey(Access::Mutation, Merge::AllOrNone), Unknown,
        "2.0.0", "O(N*K)+O(M*log(M)) worst case with N being the smallest input sorted set, K being the number of input sorted sets and M being the number of elements in the resulting sorted set.",
        "Intersect multiple sorted sets and store the resulting sorted set in a new key.";
    ZDiffStore = "zdiffstore", -4, [Write, DenyOom], keys(1, 1, 1).counted_at(2), SortedSet, MultiKey(Access::Mutation, Merge::AllOrNone), Unknown,
        "6.2.0", "O(L + (N-K)log(N)) worst case where L is the total number of elements in all the sets, N is the size of the first set, and K is the size of the result set.",
        "Subtract multiple sorted sets and store the resulting sorted set in a new key.";
    // lists
    LPush = "lpush", -3, [Write, DenyOom, Fast], keys(1, 1, 1), List, Mutation, Unknown,
        "1.0.0", "O(1) for each element added, so O(N) to add N elements when the command is called with multiple arguments.",
        "Prepend one or multiple elements to a list.";
    RPush = "rpush", -3, [Write, DenyOom, Fast], keys(1, 1, 1), List, Mutation, Unknown,
        "1.0.0", "O(1) for each element added, so O(N) to add N elements when the command is called with multiple arguments.",
        "Append one or multiple elements to a list.";
    LPushX = "lpushx", -3, [Write, DenyOom, Fast], keys(1, 1, 1), List, Mutation, Unknown,
        "2.2.0", "O(1) for each element added, so O(N) to add N elements when the command is called with multiple arguments.",
        "Prepend an element to a list, only if the list exists.";
    RPushX = "rpushx", -3, [Write, DenyOom, Fast], keys(1, 1, 1), List, Mutation, Unknown,
        "2.2.0", "O(1) for each element added, so O(N) to add N elements when the command is called with multiple arguments.",
        "Append an element to a list, only if the list exists.";
    LPop = "lpop", -2, [Write, Fast], keys(1, 1, 1), List, Mutation, Unknown,
        "1.0.0", "O(N) where N is the number of elements returned",
        "Remove and get the first elements in a list.";
    RPop = "rpop", -2, [Write, Fast], keys(1, 1, 1), List, Mutation, Unknown,
        "1.0.0", "O(N) where N is the number of elements returned",
        "Remove and get the last elements in a list.";
    LLen = "llen", 2, [ReadOnly, Fast], keys(1, 1, 1), List, Read, Zero,
        "1.0.0", "O(1)",
        "Get the length of a list.";
    LRange = "lrange", 4, [ReadOnly], keys(1, 1, 1), List, Read, EmptyArray,
        "1.0.0", "O(S+N) where S is the distance of start offset from HEAD for small lists, from nearest end (HEAD or TAIL) for large lists; and N is the number of elements in the specified range.",
        "Get a range of elements from a list.";
    LIndex = "lindex", 3, [ReadOnly], keys(1, 1, 1), List, Read, Nil,
        "1.0.0", "O(N) where N is the number of elements to traverse to get to the element at index. This makes asking for the first or the last element of the list O(1).",
        "Get an element from a list by its index.";
    LSet = "lset", 4, [Write, DenyOom], keys(1, 1, 1), List, Mutation, Unknown,
        "1.0.0", "O(N) where N is the length of the list. Setting either the first or the last element of the list is O(1).",
        "Set the value of an element in a list by its index.";
    LInsert = "linsert", 5, [Write, DenyOom], keys(1, 1, 1), List, Mutation, Unknown,
        "2.2.0", "O(N) where N is the number of elements to traverse before seeing the value pivot. This means that inserting somewhere on the left end on the list (head) can be considered O(1) and inserting somewhere on the right end (tail) is O(N).",
        "Insert an element before or after another element in a list.";
    LRem = "lrem", 4, [Write], keys(1, 1, 1), List, Mutation, Unknown,
        "1.0.0", "O(N+M) where N is the length of the list and M is the number of elements removed.",
        "Remove elements from a list.";
    LTrim = "ltrim", 4, [Write], keys(1, 1, 1), List, Mutation, Unknown,
        "1.0.0", "O(N) where N is the number of elements to be removed by the operation.",
        "Trim a list to the specified range.";
    LPos = "lpos", -3, [ReadOnly], keys(1, 1, 1), List, Read, Unknown,
        "6.0.6", "O(N) where N is the number of elements in the list, for the average case. When searching for elements near the head or the tail of the list, or when the MAXLEN option is provided, the command may run in constant time.",
        "Return the index of matching elements on a list.";
    LMove = "lmove", 5, [Write, DenyOom], keys(1, 2, 1), List, MultiKey(Access::Mutation, Merge::AllOrNone), Unknown,
        "6.2.0", "O(1)",
        "Pop an element from a list, push it to another list and return it.";
    RPopLPush = "rpoplpush", 3, [Write, DenyOom], keys(1, 2, 1), List, MultiKey(Access::Mutation, Merge::AllOrNone), Unknown,
        "1.2.0", "O(1)",
        "Remove the last element in a list, prepend it to another list and return it.";
    LMPop = "lmpop", -4, [Write], NO_KEYS.counted_at(1).then_required(1), List, MultiKey(Access::Mutation, Merge::AllOrNone), Unknown,
        "7.0.0", "O(N+M) where N is the number of provided keys and M is the number of elements returned.",
        "Pop elements from a list.";
    // bitmaps
    SetBit = "setbit", 4, [Write, DenyOom], keys(1, 1, 1), Bitmap, Mutation, Unknown,
        "2.2.0", "O(1)",
        "Sets or clears the bit at offset in the string value stored at key.";
    GetBit = "getbit", 3, [ReadOnly, Fast], keys(1, 1, 1), Bitmap, Read, Zero,
        "2.2.0", "O(1)",
        "Returns the bit value at offset in the string value stored at key.";
    BitCount = "bitcount", -2, [ReadOnly], keys(1, 1, 1), Bitmap, Read, Zero,
        "2.6.0", "O(N)",
        "Count set bits in a string.";
    BitPos = "bitpos", -3, [ReadOnly], keys(1, 1, 1), Bitmap, Read, Unknown,
        "2.8.7", "O(N)",
        "Find first bit set or clear in a string.";
    BitOp = "bitop", -4, [Write, DenyOom], keys(2, -1, 1), Bitmap, MultiKey(Access::Mutation, Merge::AllOrNone), Unknown,
        "2.6.0", "O(N)",
        "Perform bitwise operations between strings.";
    BitField = "bitfield", -2, [Write, DenyOom], keys(1, 1, 1), Bitmap, Mutation, Unknown,
        "3.2.0", "O(1) for each subcommand specified",
        "Perform arbitrary bitfield integer operations on strings.";
    BitFieldRo = "bitfield_ro", -2, [ReadOnly, Fast], keys(1, 1, 1), Bitmap, Read, Unknown,
        "6.0.0", "O(1) for each subcommand specified",
        "Perform arbitrary bitfield integer operations on strings. Read-only variant of BITFIELD.";
    // HyperLogLog
    PfAdd = "pfadd", -2, [Write, DenyOom, Fast], keys(1, 1, 1), HyperLogLog, Mutation, Unknown,
        "2.8.9", "O(1) to add every element.",
        "Adds the specified elements to the specified HyperLogLog.";
    PfCount = "pfcount", -2, [ReadOnly], keys(1, -1, 1), HyperLogLog, MultiKey(Access::Read, Merge::AllOrNone), Unknown,
        "2.8.9", "O(1) with a very small average constant time when called with a single key. O(N) with N being the number of keys, and much bigger constant times, when called with multiple keys.",
        "Return the approximated cardinality of the set(s) observed by the HyperLogLog at key(s).";
    PfMerge = "pfmerge", -2, [Write, DenyOom], keys(1, -1, 1), HyperLogLog, MultiKey(Access::Mutation, Merge::AllOrNone), Unknown,
        "2.8.9", "O(N) to merge N HyperLogLogs, but with high constant times.",
        "Merge N different HyperLogLogs into a single one.";
    // blocking lists: on the ring, a first try on one replica, then a wait on a connection of
    // their own (the client's blocking route)
    BLPop = "blpop", -3, [Write, NoScript, Blocking], keys(1, -2, 1), List, MultiKey(Access::Mutation, Merge::AllOrNone), Unknown,
        "2.0.0", "O(N) where N is the number of provided keys.",
        "Remove and get the first element in a list, or block until one is available.";
    BRPop = "brpop", -3, [Write, NoScript, Blocking], keys(1, -2, 1), List, MultiKey(Access::Mutation, Merge::AllOrNone), Unknown,
        "2.0.0", "O(N) where N is the number of provided keys.",
        "Remove and get the last element in a list, or block until one is available.";
    BLMove = "blmove", 6, [Write, DenyOom, NoScript, Blocking], keys(1, 2, 1), List, MultiKey(Access::Mutation, Merge::AllOrNone), Unknown,
        "6.2.0", "O(1)",
        "Pop an element from a list, push it to another list and return it; or block until one is available.";
    BRPopLPush = "brpoplpush", 4, [Write, DenyOom, NoScript, Blocking], keys(1, 2, 1), List, MultiKey(Access::Mutation, Merge::AllOrNone), Unknown,
        "2.2.0", "O(1)",
        "Pop an element from a list, push it to another list and return it; or block until one is available.";
    BLMPop = "blmpop", -5, [Write, Blocking], NO_KEYS.counted_at(2).then_required(1), List, MultiKey(Access::Mutation, Merge::AllOrNone), Unknown,
        "7.0.0", "O(N+M) where N is the number of provided keys and M is the number of elements returned.",
        "Pop elements from a list, or block until one is available.";
    // versions (cachering's own: how the client orders writes across processes)
    VSet = "vset", -4, [Write, DenyOom], keys(1, 1, 1), Generic, Write, Unknown,
        "cachering 0.1.0", "O(1)",
        "Sets a key to a value at a version, only if that version is newer than the key's: replicas written in any order converge.";
    VDel = "vdel", 3, [Write, Fast], keys(1, 1, 1), Generic, Write, Unknown,
        "cachering 0.1.0", "O(1)",
        "Deletes a key at a version, only if that version is newer than the key's; the delete is remembered for tombstone-ttl seconds. Returns 1 if a value was deleted.";
    VGet = "vget", 2, [ReadOnly, Fast], keys(1, 1, 1), Generic, NodeOnly, Unknown,
        "cachering 0.1.0", "O(1)",
        "Returns a key's value and the version of its last write on this node (0 if none, negative if it was a delete).";
    VVer = "vver", -2, [ReadOnly, Fast], keys(1, -1, 1), Generic, NodeOnly, Unknown,
        "cachering 0.1.0", "O(N) where N is the number of keys.",
        "Returns the version of each key's last write on this node: 0 if none, negative if it was a delete.";
    VWait = "vwait", -3, [ReadOnly, Blocking], keys(2, -1, 1), List, NodeOnly, Unknown,
        "cachering 0.1.0", "O(N) where N is the number of keys.",
        "Waits, as BLPOP does, until one of the keys holds a value; takes nothing. Returns 1, or the null array on timeout.";
    VApply = "vapply", -6, [Write, DenyOom], keys(1, 1, 1), Generic, NodeOnly, Unknown,
        "cachering 0.1.0", "Depends on the command replayed.",
        "Replays a collection write another replica ran, only if the key's last write here is the expected version; stamps the given version. Returns 1 if it applied.";
    // keys
    Del = "del", -2, [Write], keys(1, -1, 1), Generic, MultiKey(Access::Write, Merge::Count), Unknown,
        "1.0.0", "O(N) where N is the number of keys that will be removed.",
        "Deletes one or more keys.";
    Unlink = "unlink", -2, [Write, Fast], keys(1, -1, 1), Generic, MultiKey(Access::Write, Merge::Count), Unknown,
        "4.0.0", "O(1) for each key removed.",
        "Asynchronously deletes one or more keys.";
    Exists = "exists", -2, [ReadOnly, Fast], keys(1, -1, 1), Generic, MultiKey(Access::Read, Merge::Count), Unknown,
        "1.0.0", "O(N) where N is the number of keys to check.",
        "Determines whether one or more keys exist.";
    Touch = "touch", -2, [ReadOnly, Fast], keys(1, -1, 1), Generic, MultiKey(Access::Read, Merge::Count), Unknown,
        "3.2.1", "O(N) where N is the number of keys that will be touched.",
        "Returns the number of existing keys out of those specified after updating the time they were last accessed.";
    Type = "type", 2, [ReadOnly, Fast], keys(1, 1, 1), Generic, Read, NoneType,
        "1.0.0", "O(1)",
        "Determines the type of value stored at a key.";
    Lcs = "lcs", -3, [ReadOnly], keys(1, 2, 1), String, MultiKey(Access::Read, Merge::AllOrNone), Unknown,
        "7.0.0", "O(N*M) where N and M are the lengths of s1 and s2, respectively",
        "Finds the longest common substring.";
    Rename = "rename", 3, [Write], keys(1, 2, 1), Generic, MultiKey(Access::Mutation, Merge::AllOrNone), Unknown,
        "1.0.0", "O(1)",
        "Renames a key and overwrites the destination.";
    RenameNx = "renamenx", 3, [Write, Fast], keys(1, 2, 1), Generic, MultiKey(Access::Mutation, Merge::AllOrNone), Unknown,
        "1.0.0", "O(1)",
        "Renames a key only when the target key name doesn't exist.";
    Copy = "copy", -3, [Write, DenyOom], keys(1, 2, 1), Generic, MultiKey(Access::Mutation, Merge::AllOrNone), Unknown,
        "6.2.0", "O(N) worst case for collections, where N is the number of nested items. O(1) for string values.",
        "Copies the value of a key to a new key.";
    Keys = "keys", 2, [ReadOnly], NO_KEYS, Generic, RingWide, Unknown,
        "1.0.0", "O(N) with N being the number of keys in the database.",
        "Returns all key names that match a pattern.";
    Scan = "scan", -2, [ReadOnly], NO_KEYS, Generic, RingWide, Unknown,
        "2.8.0", "O(1) for every call. O(N) for a complete iteration.",
        "Iterates over the key names in the database.";
    RandomKey = "randomkey", 1, [ReadOnly], NO_KEYS, Generic, RingWide, Unknown,
        "1.0.0", "O(1)",
        "Returns a random key name from the database.";
    DbSize = "dbsize", 1, [ReadOnly, Fast], NO_KEYS, Server, RingWide, Unknown,
        "1.0.0", "O(1)",
        "Returns the number of keys in the database.";
    FlushDb = "flushdb", -1, [Write], NO_KEYS, Server, RingWide, Unknown,
        "1.0.0", "O(N) where N is the total number of keys in the database.",
        "Remove all keys from the current database.";
    FlushAll = "flushall", -1, [Write], NO_KEYS, Server, RingWide, Unknown,
        "1.0.0", "O(N) where N is the total number of keys in all databases.",
        "Removes all keys from all databases.";
    Object = "object", -2, [ReadOnly], keys(2, 2, 1), Generic, Read, Nil,
        "2.2.3", "O(1)",
        "A container for object introspection commands: ENCODING, FREQ, IDLETIME, REFCOUNT, HELP.";
    // expiry
    Expire = "expire", -3, [Write, Fast], keys(1, 1, 1), Generic, Mutation, Unknown,
        "1.0.0", "O(1)",
        "Sets the expiration time of a key in seconds.";
    PExpire = "pexpire", -3, [Write, Fast], keys(1, 1, 1), Generic, Mutation, Unknown,
        "2.6.0", "O(1)",
        "Sets the expiration time of a key in milliseconds.";
    ExpireAt = "expireat", -3, [Write, Fast], keys(1, 1, 1), Generic, Mutation, Unknown,
        "1.2.0", "O(1)",
        "Sets the expiration time of a key to a Unix timestamp.";
    PExpireAt = "pexpireat", -3, [Write, Fast], keys(1, 1, 1), Generic, Mutation, Unknown,
        "2.6.0", "O(1)",
        "Sets the expiration time of a key to a Unix milliseconds timestamp.";
    Ttl = "ttl", 2, [ReadOnly, Fast], keys(1, 1, 1), Generic, Read, MinusTwo,
        "1.0.0", "O(1)",
        "Returns the expiration time in seconds of a key.";
    PTtl = "pttl", 2, [ReadOnly, Fast], keys(1, 1, 1), Generic, Read, MinusTwo,
        "2.6.0", "O(1)",
        "Returns the expiration time in milliseconds of a key.";
    ExpireTime = "expiretime", 2, [ReadOnly, Fast], keys(1, 1, 1), Generic, Read, MinusTwo,
        "7.0.0", "O(1)",
        "Returns the expiration time of a key as a Unix timestamp.";
    PExpireTime = "pexpiretime", 2, [ReadOnly, Fast], keys(1, 1, 1), Generic, Read, MinusTwo,
        "7.0.0", "O(1)",
        "Returns the expiration time of a key as a Unix milliseconds timestamp.";
    Persist = "persist", 2, [Write, Fast], keys(1, 1, 1), Generic, Mutation, Unknown,
        "2.2.0", "O(1)",
        "Removes the expiration time of a key.";
    // transactions
    Multi = "multi", 1, [NoScript, Loading, Stale, Fast, AllowBusy], NO_KEYS, Transactions, Connection, Unknown,
        "1.2.0", "O(1)",
        "Starts a transaction.";
    Exec = "exec", 1, [NoScript, Loading, Stale, SkipSlowlog], NO_KEYS, Transactions, Connection, Unknown,
        "1.2.0", "Depends on commands in the transaction",
        "Executes all commands in a transaction.";
    Discard = "discard", 1, [NoScript, Loading, Stale, Fast, AllowBusy], NO_KEYS, Transactions, Connection, Unknown,
        "2.0.0", "O(N), when N is the number of queued commands",
        "Discards a transaction.";
    // connection
    Ping = "ping", -1, [Fast], NO_KEYS, Connection, Connection, Unknown,
        "1.0.0", "O(1)",
        "Returns the server's liveliness response.";
    Echo = "echo", 2, [Fast], NO_KEYS, Connection, Connection, Unknown,
        "1.0.0", "O(1)",
        "Returns the given string.";
    Quit = "quit", -1, [NoScript, Loading, Stale, Fast, NoAuth, AllowBusy], NO_KEYS, Connection, Connection, Unknown,
        "1.0.0", "O(1)",
        "Closes the connection.";
    Reset = "reset", 1, [NoScript, Loading, Stale, Fast, NoAuth, AllowBusy], NO_KEYS, Connection, Connection, Unknown,
        "6.2.0", "O(1)",
        "Resets the connection.";
    Select = "select", 2, [Loading, Stale, Fast], NO_KEYS, Connection, Connection, Unknown,
        "1.0.0", "O(1)",
        "Changes the selected database.";
    Auth = "auth", -2, [NoScript, Loading, Stale, Fast, NoAuth, AllowBusy], NO_KEYS, Connection, Connection, Unknown,
        "1.0.0", "O(N) where N is the number of passwords defined for the user",
        "Authenticates the connection.";
    Hello = "hello", -1, [NoScript, Loading, Stale, Fast, NoAuth, AllowBusy], NO_KEYS, Connection, Connection, Unknown,
        "6.0.0", "O(1)",
        "Handshakes with the Redis server.";
    Client = "client", -2, [NoScript, Loading, Stale], NO_KEYS, Connection, Connection, Unknown,
        "2.4.0", "Depends on subcommand.",
        "A container for client connection commands.";
    // server
    Info = "info", -1, [Loading, Stale], NO_KEYS, Server, Connection, Unknown,
        "1.0.0", "O(1)",
        "Returns information and statistics about the server.";
    Config = "config", -2, [Admin, NoScript, Loading, Stale], NO_KEYS, Server, NodeOnly, Unknown,
        "2.0.0", "Depends on subcommand.",
        "A container for server configuration commands.";
    Monitor = "monitor", 1, [Admin, NoScript, Loading, Stale], NO_KEYS, Server, Connection, Unknown,
        "1.0.0", "O(1)",
        "Listens for all requests received by the server in real-time.";
    Subscribe = "subscribe", -2, [PubSub, NoScript, Loading, Stale], NO_KEYS, PubSub, Connection, Unknown,
        "2.0.0", "O(N) where N is the number of channels to subscribe to.",
        "Listen for messages published to the given channels (here only __redis__:invalidate, where CLIENT TRACKING's invalidations are redirected).";
    Unsubscribe = "unsubscribe", -1, [PubSub, NoScript, Loading, Stale], NO_KEYS, PubSub, Connection, Unknown,
        "2.0.0", "O(N) where N is the number of clients already subscribed to a channel.",
        "Stop listening for messages posted to the given channels.";
    Command = "command", -1, [Loading, Stale], NO_KEYS, Server, Connection, Unknown,
        "2.8.13", "O(N) where N is the total number of Redis commands",
        "Returns detailed information about all commands.";
    Time = "time", 1, [Loading, Stale, Fast], NO_KEYS, Server, Connection, Unknown,
        "2.6.0", "O(1)",
        "Returns the server time.";
    Shutdown = "shutdown", -1, [Admin, NoScript, Loading, Stale, NoMulti, AllowBusy], NO_KEYS, Server, NodeOnly, Unknown,
        "1.0.0", "O(N) when saving, where N is the total number of keys in all databases when saving data, otherwise O(1)",
        "Stops the node.";
}
