//! Which function runs each command. The metadata (arity, flags, keys, docs) is the shared
//! command table in `cachering-commands`; this is the node's column of it, kept as an
//! exhaustive `match` so a command added to the table without a handler does not compile.

use bytes::Bytes;
use cachering_commands::Cmd;

use super::{connection, expire, keys, server, strings, transaction, Ctx, Flow};

/// A handler: runs the command and writes one reply.
pub type Handler = fn(&mut Ctx<'_>, &[Bytes]) -> Flow;

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
        Cmd::Del | Cmd::Unlink => keys::del,
        Cmd::Exists => keys::exists,
        Cmd::Touch => keys::touch,
        Cmd::Type => keys::type_of,
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
        Cmd::Multi => transaction::multi,
        Cmd::Exec => transaction::exec,
        Cmd::Discard => transaction::discard,
        Cmd::Ping => connection::ping,
        Cmd::Echo => connection::echo,
        Cmd::Quit => connection::quit,
        Cmd::Reset => connection::reset,
        Cmd::Select => connection::select,
        Cmd::Auth => connection::auth,
        Cmd::Hello => connection::hello,
        Cmd::Client => connection::client,
        Cmd::Info => server::info,
        Cmd::Config => server::config,
        Cmd::Command => server::command,
        Cmd::Time => server::time,
        Cmd::Shutdown => server::shutdown,
    }
}
