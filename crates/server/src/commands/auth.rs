//! AUTH and HELLO: authentication and the protocol handshake.

use std::sync::atomic::Ordering;

use bytes::Bytes;
use cachering_proto::{parse_i64, Protocol, ReplyWriter};
use subtle::ConstantTimeEq;

use super::{errors, is};
use crate::dispatch::Exchange;
use crate::service::Service;

/// What HELLO and INFO report as the Redis version this server behaves like: client libraries
/// choose features by it, and the commands here follow Redis 7.0.
pub const REDIS_VERSION: &str = "7.0.0";

const WRONGPASS: &str = "WRONGPASS invalid username-password pair or user is disabled.";

/// Compares a password in time that depends only on what the client sent: `given` is checked
/// against the password stretched to its length, so neither the password's bytes nor its
/// length can be learnt by timing.
pub fn password_matches(expected: &[u8], given: &[u8]) -> bool {
    let stretched: Vec<u8> = if expected.is_empty() {
        vec![0; given.len()]
    } else {
        expected.iter().cycle().take(given.len()).copied().collect()
    };
    let same_bytes = stretched.ct_eq(given);
    let same_len = (expected.len() as u64).ct_eq(&(given.len() as u64));
    (same_bytes & same_len).into()
}

/// Checks credentials; `Err` holds the error to send.
fn check_credentials<S: Service>(
    x: &Exchange<'_, S>,
    user: &[u8],
    password: &[u8],
) -> Result<(), &'static str> {
    let Some(expected) = x.endpoint.with_settings(|s| s.requirepass.clone()) else {
        return Err("ERR AUTH <password> called without any password configured for the default user. Are you sure your configuration is correct?");
    };
    // Evaluate both parts so a wrong user name costs the same time as a wrong password.
    let user_ok = user == b"default";
    let password_ok = password_matches(expected.as_bytes(), password);
    if user_ok && password_ok {
        Ok(())
    } else {
        Err(WRONGPASS)
    }
}

/// AUTH [username] password
pub(super) fn auth<S: Service>(x: &mut Exchange<'_, S>, args: &[Bytes]) {
    let (user, password): (&[u8], &[u8]) = match args.len() {
        2 => (b"default", &args[1]),
        3 => (&args[1], &args[2]),
        _ => return x.error(errors::SYNTAX),
    };
    match check_credentials(x, user, password) {
        Ok(()) => {
            x.session.authenticated = true;
            x.reply().ok();
        }
        Err(message) => x.error(message),
    }
}

/// Whether a client name is acceptable: printable, no spaces.
pub(super) fn valid_name(name: &[u8]) -> bool {
    name.iter().all(|&b| (b'!'..=b'~').contains(&b))
}

/// HELLO [protover [AUTH username password] [SETNAME clientname]]
pub(super) fn hello<S: Service>(x: &mut Exchange<'_, S>, args: &[Bytes]) {
    let mut protocol = x.session.protocol;
    if let Some(version) = args.get(1) {
        match parse_i64(version) {
            Some(2) => protocol = Protocol::Resp2,
            Some(3) => protocol = Protocol::Resp3,
            Some(_) => return x.error("NOPROTO unsupported protocol version"),
            None => return x.error("ERR Protocol version is not an integer or out of range"),
        }
    }
    let mut credentials = None;
    let mut name = None;
    let mut i = 2;
    while i < args.len() {
        if is(&args[i], "AUTH") && i + 2 < args.len() {
            credentials = Some((&args[i + 1], &args[i + 2]));
            i += 3;
        } else if is(&args[i], "SETNAME") && i + 1 < args.len() {
            name = Some(&args[i + 1]);
            i += 2;
        } else {
            return x.error(&format!(
                "ERR Syntax error in HELLO option '{}'",
                String::from_utf8_lossy(&args[i])
            ));
        }
    }
    // Nothing changes until every part is valid: a failed HELLO leaves the connection as it
    // was.
    if let Some((user, password)) = credentials {
        if let Err(message) = check_credentials(x, user, password) {
            return x.error(message);
        }
    }
    if !x.session.authenticated && credentials.is_none() {
        return x.error("NOAUTH HELLO must be called with the client already authenticated, otherwise the HELLO <proto> AUTH <user> <pass> option can be used to authenticate the client and select the RESP protocol version at the same time");
    }
    if name.is_some_and(|name| !valid_name(name)) {
        return x.error("ERR Client names cannot contain spaces, newlines or special characters.");
    }
    if credentials.is_some() {
        x.session.authenticated = true;
    }
    if let Some(name) = name {
        *x.client.name.lock().unwrap_or_else(|p| p.into_inner()) =
            String::from_utf8_lossy(name).into_owned();
    }
    x.session.protocol = protocol;
    x.client.resp.store(
        if protocol == Protocol::Resp3 { 3 } else { 2 },
        Ordering::Relaxed,
    );
    let id = x.client.id;
    write_hello(&mut x.reply(), id);
}

/// HELLO's reply map, in the writer's protocol.
pub fn write_hello(reply: &mut ReplyWriter<'_>, client_id: u64) {
    let proto = if reply.protocol() == Protocol::Resp3 {
        3
    } else {
        2
    };
    reply.map(7);
    reply.bulk(b"server");
    reply.bulk(b"redis");
    reply.bulk(b"version");
    reply.bulk(REDIS_VERSION.as_bytes());
    reply.bulk(b"proto");
    reply.int(proto);
    reply.bulk(b"id");
    reply.int(client_id as i64);
    reply.bulk(b"mode");
    reply.bulk(b"standalone");
    reply.bulk(b"role");
    reply.bulk(b"master");
    reply.bulk(b"modules");
    reply.array(0);
}

#[cfg(test)]
mod tests {
    use super::password_matches;

    #[test]
    fn passwords() {
        assert!(password_matches(b"secret", b"secret"));
        assert!(!password_matches(b"secret", b"secreT"));
        assert!(!password_matches(b"secret", b"secretsecret"));
        assert!(!password_matches(b"secret", b"sec"));
        assert!(!password_matches(b"secret", b""));
        assert!(password_matches(b"", b""));
    }
}
