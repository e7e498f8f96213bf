//! Which function runs each command. The metadata (arity, flags, keys, docs) is the shared
//! command table in `cachering-commands`; this is the node's column of it. Commands of the
//! connection route are the server layer's; a test checks that every other command has a
//! handler here.

use bytes::Bytes;
use cachering_commands::Cmd;

use super::{
    bitmaps, expire, hashes, hyperloglog, keys, lists, server, sets, strings, versioned, zsets,
    Ctx, Flow,
};

/// A handler: runs the command and writes one reply.
pub type Handler = fn(&mut Ctx<'_>, &[Bytes]) -> Flow;

/// A connection command that reached the node (the server layer answers these).
fn connection_command(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Flow {
    ctx.error(&format!(
        "ERR {} is answered by the connection, not the node",
        String::from_utf8_lossy(&args[0]).to_uppercase()
    ));
    Flow::Continue
}

/// The node's handler for `id`.
pub fn handler(id: Cmd) -> Handler {
    match id {
        Cmd::Get => strings::get,
        Cmd::Set => strings::set,
        Cmd::SetNx => strings::setnx,
        Cmd::SetEx => strings::setex,
        Cmd::PSetEx => strings::psetex,
        Cmd::GetSet => strings::getset,
        Cmd::GetDel => strings::getdel,
        Cmd::GetEx => strings::getex,
        Cmd::MGet => strings::mget,
        Cmd::MSet => strings::mset,
        Cmd::MSetNx => strings::msetnx,
        Cmd::Append => strings::append,
        Cmd::StrLen => strings::strlen,
        Cmd::GetRange => strings::getrange,
        Cmd::SetRange => strings::setrange,
        Cmd::Incr => strings::incr,
        Cmd::Decr => strings::decr,
        Cmd::IncrBy => strings::incrby,
        Cmd::DecrBy => strings::decrby,
        Cmd::IncrByFloat => strings::incrbyfloat,
        Cmd::HSet => hashes::hset,
        Cmd::HSetNx => hashes::hsetnx,
        Cmd::HMSet => hashes::hmset,
        Cmd::HGet => hashes::hget,
        Cmd::HMGet => hashes::hmget,
        Cmd::HDel => hashes::hdel,
        Cmd::HExists => hashes::hexists,
        Cmd::HLen => hashes::hlen,
        Cmd::HStrLen => hashes::hstrlen,
        Cmd::HKeys => hashes::hkeys,
        Cmd::HVals => hashes::hvals,
        Cmd::HGetAll => hashes::hgetall,
        Cmd::HIncrBy => hashes::hincrby,
        Cmd::HIncrByFloat => hashes::hincrbyfloat,
        Cmd::HRandField => hashes::hrandfield,
        Cmd::HScan => hashes::hscan,
        Cmd::SAdd => sets::sadd,
        Cmd::SRem => sets::srem,
        Cmd::SIsMember => sets::sismember,
        Cmd::SMIsMember => sets::smismember,
        Cmd::SCard => sets::scard,
        Cmd::SMembers => sets::smembers,
        Cmd::SPop => sets::spop,
        Cmd::SRandMember => sets::srandmember,
        Cmd::SMove => sets::smove,
        Cmd::SScan => sets::sscan,
        Cmd::SInter => sets::sinter,
        Cmd::SUnion => sets::sunion,
        Cmd::SDiff => sets::sdiff,
        Cmd::SInterCard => sets::sintercard,
        Cmd::SInterStore => sets::sinterstore,
        Cmd::SUnionStore => sets::sunionstore,
        Cmd::SDiffStore => sets::sdiffstore,
        Cmd::ZAdd => zsets::zadd,
        Cmd::ZIncrBy => zsets::zincrby,
        Cmd::ZScore => zsets::zscore,
        Cmd::ZMScore => zsets::zmscore,
        Cmd::ZCard => zsets::zcard,
        Cmd::ZCount => zsets::zcount,
        Cmd::ZLexCount => zsets::zlexcount,
        Cmd::ZRange => zsets::zrange,
        Cmd::ZRangeStore => zsets::zrangestore,
        Cmd::ZRangeByScore => zsets::zrangebyscore,
        Cmd::ZRevRangeByScore => zsets::zrevrangebyscore,
        Cmd::ZRangeByLex => zsets::zrangebylex,
        Cmd::ZRevRangeByLex => zsets::zrevrangebylex,
        Cmd::ZRevRange => zsets::zrevrange,
        Cmd::ZRank => zsets::zrank,
        Cmd::ZRevRank => zsets::zrevrank,
        Cmd::ZRem => zsets::zrem,
        Cmd::ZRemRangeByRank => zsets::zremrangebyrank,
        Cmd::ZRemRangeByScore => zsets::zremrangebyscore,
        Cmd::ZRemRangeByLex => zsets::zremrangebylex,
        Cmd::ZPopMin => zsets::zpopmin,
        Cmd::ZPopMax => zsets::zpopmax,
        Cmd::ZRandMember => zsets::zrandmember,
        Cmd::ZScan => zsets::zscan,
        Cmd::ZUnion => zsets::zunion,
        Cmd::ZInter => zsets::zinter,
        Cmd::ZDiff => zsets::zdiff,
        Cmd::ZInterCard => zsets::zintercard,
        Cmd::ZUnionStore => zsets::zunionstore,
        Cmd::ZInterStore => zsets::zinterstore,
        Cmd::ZDiffStore => zsets::zdiffstore,
        Cmd::LPush => lists::lpush,
        Cmd::RPush => lists::rpush,
        Cmd::LPushX => lists::lpushx,
        Cmd::RPushX => lists::rpushx,
        Cmd::LPop => lists::lpop,
        Cmd::RPop => lists::rpop,
        Cmd::LLen => lists::llen,
        Cmd::LRange => lists::lrange,
        Cmd::LIndex => lists::lindex,
        Cmd::LSet => lists::lset,
        Cmd::LInsert => lists::linsert,
        Cmd::LRem => lists::lrem,
        Cmd::LTrim => lists::ltrim,
        Cmd::LPos => lists::lpos,
        Cmd::LMove => lists::lmove,
        Cmd::RPopLPush => lists::rpoplpush,
        Cmd::LMPop => lists::lmpop,
        Cmd::BLPop => lists::blpop,
        Cmd::BRPop => lists::brpop,
        Cmd::BLMove => lists::blmove,
        Cmd::BRPopLPush => lists::brpoplpush,
        Cmd::BLMPop => lists::blmpop,
        Cmd::SetBit => bitmaps::setbit,
        Cmd::GetBit => bitmaps::getbit,
        Cmd::BitCount => bitmaps::bitcount,
        Cmd::BitPos => bitmaps::bitpos,
        Cmd::BitOp => bitmaps::bitop,
        Cmd::BitField => bitmaps::bitfield,
        Cmd::BitFieldRo => bitmaps::bitfield_ro,
        Cmd::PfAdd => hyperloglog::pfadd,
        Cmd::PfCount => hyperloglog::pfcount,
        Cmd::PfMerge => hyperloglog::pfmerge,
        Cmd::VSet => versioned::vset,
        Cmd::VApply => versioned::vapply,
        Cmd::VDel => versioned::vdel,
        Cmd::VGet => versioned::vget,
        Cmd::VWait => lists::vwait,
        Cmd::VVer => versioned::vver,
        Cmd::Del | Cmd::Unlink => keys::del,
        Cmd::Exists => keys::exists,
        Cmd::Touch => keys::touch,
        Cmd::Type => keys::type_of,
        Cmd::Object => keys::object,
        Cmd::Lcs => strings::lcs,
        Cmd::Rename => keys::rename,
        Cmd::RenameNx => keys::renamenx,
        Cmd::Copy => keys::copy,
        Cmd::Keys => keys::keys,
        Cmd::Scan => keys::scan,
        Cmd::RandomKey => keys::randomkey,
        Cmd::DbSize => keys::dbsize,
        Cmd::FlushDb | Cmd::FlushAll => keys::flushall,
        Cmd::Expire => expire::expire,
        Cmd::PExpire => expire::pexpire,
        Cmd::ExpireAt => expire::expireat,
        Cmd::PExpireAt => expire::pexpireat,
        Cmd::Ttl => expire::ttl,
        Cmd::PTtl => expire::pttl,
        Cmd::ExpireTime => expire::expiretime,
        Cmd::PExpireTime => expire::pexpiretime,
        Cmd::Persist => expire::persist,
        Cmd::Config => server::config,
        Cmd::Shutdown => server::shutdown,
        // The connection route: the server layer answers these before a request reaches the
        // node (a test checks that every other command has a handler of its own).
        _ => connection_command,
    }
}

#[cfg(test)]
mod tests {
    use cachering_commands::{Route, COMMANDS};

    use super::*;

    #[test]
    fn every_command_the_node_runs_has_a_handler() {
        for spec in COMMANDS {
            let has_own = !std::ptr::fn_addr_eq(handler(spec.id), connection_command as Handler);
            assert_eq!(
                has_own,
                spec.route != Route::Connection,
                "{}: only connection commands lack a handler",
                spec.name
            );
        }
    }
}
