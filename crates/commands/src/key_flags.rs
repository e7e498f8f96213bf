//! Which flags COMMAND GETKEYSANDFLAGS gives each key of a command: Redis 7.0's key
//! specifications (`RO`/`RW`/`OW`/`RM` and what the command does with the key), as
//! redis-server 7.0.15 reports them. A key gets the flags of the last specification that
//! begins at or before its position; SET and BITFIELD choose theirs by their arguments
//! ([`crate::CommandSpec::key_flags`]).

use crate::Cmd;

/// The key specifications of `id`: the position each begins at, and its flags.
pub fn key_flags(id: Cmd) -> &'static [(i32, &'static [&'static str])] {
    match id {
        Cmd::Get
        | Cmd::MGet
        | Cmd::GetRange
        | Cmd::HGet
        | Cmd::HMGet
        | Cmd::HKeys
        | Cmd::HVals
        | Cmd::HGetAll
        | Cmd::HRandField
        | Cmd::HScan
        | Cmd::SMIsMember
        | Cmd::SMembers
        | Cmd::SRandMember
        | Cmd::SScan
        | Cmd::SInter
        | Cmd::SUnion
        | Cmd::SDiff
        | Cmd::SInterCard
        | Cmd::ZScore
        | Cmd::ZMScore
        | Cmd::ZCount
        | Cmd::ZLexCount
        | Cmd::ZRange
        | Cmd::ZRangeByScore
        | Cmd::ZRevRangeByScore
        | Cmd::ZRangeByLex
        | Cmd::ZRevRangeByLex
        | Cmd::ZRevRange
        | Cmd::ZRank
        | Cmd::ZRevRank
        | Cmd::ZRandMember
        | Cmd::ZScan
        | Cmd::ZUnion
        | Cmd::ZInter
        | Cmd::ZDiff
        | Cmd::ZInterCard
        | Cmd::LRange
        | Cmd::LIndex
        | Cmd::LPos
        | Cmd::GetBit
        | Cmd::BitCount
        | Cmd::BitPos
        | Cmd::BitFieldRo
        | Cmd::Lcs
        | Cmd::Ttl
        | Cmd::PTtl
        | Cmd::ExpireTime
        | Cmd::PExpireTime => &[(1, &["RO", "access"])],
        Cmd::Set
        | Cmd::GetSet
        | Cmd::GetEx
        | Cmd::Incr
        | Cmd::Decr
        | Cmd::IncrBy
        | Cmd::DecrBy
        | Cmd::IncrByFloat
        | Cmd::HIncrBy
        | Cmd::HIncrByFloat
        | Cmd::ZIncrBy
        | Cmd::SetBit
        | Cmd::BitField => &[(1, &["RW", "access", "update"])],
        Cmd::SetNx | Cmd::MSetNx => &[(1, &["OW", "insert"])],
        Cmd::SetEx | Cmd::PSetEx | Cmd::MSet => &[(1, &["OW", "update"])],
        Cmd::GetDel
        | Cmd::SPop
        | Cmd::ZPopMin
        | Cmd::ZPopMax
        | Cmd::LPop
        | Cmd::RPop
        | Cmd::LMPop => &[(1, &["RW", "access", "delete"])],
        Cmd::Append
        | Cmd::HSetNx
        | Cmd::SAdd
        | Cmd::LPush
        | Cmd::RPush
        | Cmd::LPushX
        | Cmd::RPushX
        | Cmd::LInsert
        | Cmd::PfAdd => &[(1, &["RW", "insert"])],
        Cmd::StrLen
        | Cmd::HExists
        | Cmd::HLen
        | Cmd::HStrLen
        | Cmd::SIsMember
        | Cmd::SCard
        | Cmd::ZCard
        | Cmd::LLen
        | Cmd::Exists
        | Cmd::Touch
        | Cmd::Type => &[(1, &["RO"])],
        Cmd::SetRange
        | Cmd::HSet
        | Cmd::HMSet
        | Cmd::ZAdd
        | Cmd::LSet
        | Cmd::Expire
        | Cmd::PExpire
        | Cmd::ExpireAt
        | Cmd::PExpireAt
        | Cmd::Persist => &[(1, &["RW", "update"])],
        Cmd::HDel
        | Cmd::SRem
        | Cmd::ZRem
        | Cmd::ZRemRangeByRank
        | Cmd::ZRemRangeByScore
        | Cmd::ZRemRangeByLex
        | Cmd::LRem
        | Cmd::LTrim => &[(1, &["RW", "delete"])],
        Cmd::SMove | Cmd::LMove | Cmd::RPopLPush => {
            &[(1, &["RW", "access", "delete"]), (2, &["RW", "insert"])]
        }
        Cmd::SInterStore => &[(1, &["RW", "update"]), (2, &["RO", "access"])],
        Cmd::SUnionStore
        | Cmd::SDiffStore
        | Cmd::ZRangeStore
        | Cmd::ZUnionStore
        | Cmd::ZInterStore
        | Cmd::ZDiffStore => &[(1, &["OW", "update"]), (2, &["RO", "access"])],
        Cmd::BitOp => &[(2, &["OW", "update"]), (3, &["RO", "access"])],
        Cmd::PfCount => &[(1, &["RW", "access"])],
        Cmd::PfMerge => &[(1, &["RW", "access", "insert"]), (2, &["RO", "access"])],
        Cmd::Del | Cmd::Unlink => &[(1, &["RM", "delete"])],
        Cmd::Rename => &[(1, &["RW", "access", "delete"]), (2, &["OW", "update"])],
        Cmd::RenameNx => &[(1, &["RW", "access", "delete"]), (2, &["OW", "insert"])],
        Cmd::Copy => &[(1, &["RO", "access"]), (2, &["OW", "update"])],
        Cmd::BLPop | Cmd::BRPop => &[(1, &["RW", "access", "delete"])],
        Cmd::BLMPop => &[(2, &["RW", "access", "delete"])],
        Cmd::BLMove | Cmd::BRPopLPush => {
            &[(1, &["RW", "access", "delete"]), (2, &["RW", "insert"])]
        }
        // OBJECT's subcommands (OBJECT ENCODING key, ...).
        Cmd::Object => &[(2, &["RO"])],
        // cachering's own.
        Cmd::VSet | Cmd::VDel => &[(1, &["OW", "update"])],
        Cmd::VGet | Cmd::VVer => &[(1, &["RO", "access"])],
        Cmd::VWait => &[(2, &["RO"])],
        Cmd::VApply => &[(1, &["RW", "access", "update"])],
        _ => &[],
    }
}
