//! CLIENT TRACKING on a node, as Redis 7.0 specifies it: a client that read a key is told
//! (once) when another client writes it, deletes it, when it expires or is evicted, and when
//! the node is flushed; RESP3 gets `invalidate` pushes, RESP2 gets them on a connection
//! subscribed to `__redis__:invalidate` that it redirects to; BCAST, OPTIN, OPTOUT and NOLOOP;
//! the bounded table; the errors. Replies were compared byte for byte with redis-server
//! 7.0.15.

use std::time::Duration;

use cachering_tests::{array, bulk, Client, NodeProcess, ProxyProcess};

const NULL_PUSH: &str = ">2\r\n$10\r\ninvalidate\r\n_\r\n";

/// The RESP3 push that invalidates `keys`.
fn push(keys: &[&str]) -> String {
    format!(">2\r\n$10\r\ninvalidate\r\n{}", array(keys))
}

/// A RESP3 connection.
fn resp3(node: &NodeProcess) -> Client {
    let mut client = node.client();
    client.set_resp3(true);
    assert!(client.call(&["HELLO", "3"]).starts_with('%'));
    client
}

/// The next reply, or `None` if nothing arrives within 300 ms.
fn next_within(client: &mut Client) -> Option<String> {
    client
        .stream()
        .set_read_timeout(Some(Duration::from_millis(300)))
        .unwrap();
    let reply = client.read_reply();
    client.stream().set_read_timeout(None).unwrap();
    reply
}

fn info_field(client: &mut Client, section: &str, field: &str) -> u64 {
    let info = client.call(&["INFO", section]);
    info.lines()
        .find_map(|line| line.strip_prefix(&format!("{field}:")))
        .and_then(|n| n.trim().parse().ok())
        .unwrap_or_else(|| panic!("no {field} in {info:?}"))
}

#[test]
fn a_read_key_is_invalidated_once_when_another_client_writes_it() {
    let node = NodeProcess::start(&[]);
    let mut reader = resp3(&node);
    let mut writer = node.client();
    assert_eq!(reader.call(&["CLIENT", "TRACKING", "ON"]), "+OK\r\n");
    assert_eq!(info_field(&mut writer, "clients", "tracking_clients"), 1);
    writer.call(&["SET", "k", "v1"]);
    assert_eq!(reader.call(&["GET", "k"]), bulk("v1"));
    assert_eq!(info_field(&mut writer, "stats", "tracking_total_keys"), 1);
    writer.call(&["SET", "k", "v2"]);
    assert_eq!(next_within(&mut reader), Some(push(&["k"])));
    // Forgotten once invalidated: no second push until it is read again.
    writer.call(&["SET", "k", "v3"]);
    assert_eq!(next_within(&mut reader), None);
    assert_eq!(info_field(&mut writer, "stats", "tracking_total_keys"), 0);
    // Every kind of write invalidates: deletes, collections, expiry changes, MSET.
    for (read, write) in [
        (vec!["GET", "k"], vec!["DEL", "k"]),
        (vec!["HGET", "h", "f"], vec!["HSET", "h", "f", "1"]),
        (vec!["LRANGE", "l", "0", "-1"], vec!["RPUSH", "l", "x"]),
        (vec!["TTL", "l"], vec!["EXPIRE", "l", "100"]),
        (vec!["EXISTS", "m"], vec!["MSET", "m", "1", "n", "2"]),
        (vec!["GET", "l"], vec!["RENAME", "l", "renamed"]),
    ] {
        reader.call(&read);
        writer.call(&write);
        assert_eq!(
            next_within(&mut reader),
            Some(push(&[read[1]])),
            "{write:?}"
        );
    }
    // A write that changes nothing (SET NX of an existing key) sends nothing.
    reader.call(&["GET", "n"]);
    writer.call(&["SET", "n", "other", "NX"]);
    assert_eq!(next_within(&mut reader), None);
    // Pipelined, the push follows the reply of the read.
    writer.call(&["SET", "p", "1"]);
    reader.send(&["GET", "p"]);
    assert_eq!(reader.read_reply().unwrap(), bulk("1"));
    writer.call(&["SET", "p", "2"]);
    assert_eq!(next_within(&mut reader), Some(push(&["p"])));
    // FLUSHALL tells every tracking client that everything changed.
    writer.call(&["FLUSHALL"]);
    assert_eq!(next_within(&mut reader), Some(NULL_PUSH.to_string()));
    // Off: nothing more.
    assert_eq!(reader.call(&["CLIENT", "TRACKING", "OFF"]), "+OK\r\n");
    reader.call(&["GET", "p"]);
    writer.call(&["SET", "p", "3"]);
    assert_eq!(next_within(&mut reader), None);
    assert_eq!(info_field(&mut writer, "clients", "tracking_clients"), 0);
}

#[test]
fn expiry_and_eviction_invalidate_too() {
    let node = NodeProcess::start(&["--maxmemory", "1mb"]);
    let mut reader = resp3(&node);
    let mut writer = node.client();
    reader.call(&["CLIENT", "TRACKING", "ON"]);
    writer.call(&["SET", "short", "v", "PX", "100"]);
    reader.call(&["GET", "short"]);
    std::thread::sleep(Duration::from_millis(250));
    // Reclaimed on access (or by the active sweep): either way the reader is told.
    writer.call(&["GET", "short"]);
    assert_eq!(next_within(&mut reader), Some(push(&["short"])));
    // Fill a node well past its limit: keys the reader read are evicted among others, and
    // each evicted one is invalidated. The moka engine (LRU) evicts the oldest keys first;
    // quick_cache keeps keys that were read, and would likely keep these.
    let node = NodeProcess::start(&["--maxmemory", "1mb", "--store", "moka"]);
    let mut reader = resp3(&node);
    let mut writer = node.client();
    reader.call(&["CLIENT", "TRACKING", "ON"]);
    for i in 0..50 {
        writer.call(&["SET", &format!("t:{i}"), "v"]);
        reader.call(&["GET", &format!("t:{i}")]);
    }
    let value = "x".repeat(1000);
    for i in 0..10_000 {
        writer.send(&["SET", &format!("fill:{i}"), &value]);
    }
    for _ in 0..10_000 {
        writer.read_reply().unwrap();
    }
    assert!(info_field(&mut writer, "stats", "evicted_keys") > 0);
    let mut told = Vec::new();
    while let Some(reply) = next_within(&mut reader) {
        told.push(reply);
    }
    let evicted: Vec<String> = (0..50)
        .map(|i| format!("t:{i}"))
        .filter(|key| writer.call(&["EXISTS", key]) == ":0\r\n")
        .collect();
    assert!(!evicted.is_empty(), "no tracked key was evicted");
    for key in &evicted {
        assert!(
            told.contains(&push(&[key])),
            "{key} evicted silently: {told:?}"
        );
    }
}

#[test]
fn resp2_clients_get_invalidations_on_a_subscribed_connection_they_redirect_to() {
    let node = NodeProcess::start(&[]);
    let mut listener = node.client();
    let id = listener.call(&["CLIENT", "ID"]);
    let id = id.trim_start_matches(':').trim().to_string();
    assert_eq!(
        listener.call(&["SUBSCRIBE", "__redis__:invalidate"]),
        format!(
            "*3\r\n{}{}:1\r\n",
            bulk("subscribe"),
            bulk("__redis__:invalidate")
        )
    );
    let mut reader = node.client();
    let mut writer = node.client();
    assert_eq!(
        reader.call(&["CLIENT", "TRACKING", "ON", "REDIRECT", &id]),
        "+OK\r\n"
    );
    assert_eq!(reader.call(&["CLIENT", "GETREDIR"]), format!(":{id}\r\n"));
    reader.call(&["GET", "k"]);
    writer.call(&["SET", "k", "1"]);
    assert_eq!(
        next_within(&mut listener),
        Some(format!(
            "*3\r\n{}{}{}",
            bulk("message"),
            bulk("__redis__:invalidate"),
            array(&["k"])
        ))
    );
    // The subscribed RESP2 connection may only (un)subscribe, PING, QUIT or RESET.
    assert_eq!(
        listener.call(&["GET", "k"]),
        "-ERR Can't execute 'get': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / PING / QUIT / RESET are allowed in this context\r\n"
    );
    assert_eq!(listener.call(&["PING"]), "*2\r\n$4\r\npong\r\n$0\r\n\r\n");
    assert!(listener
        .call(&["SUBSCRIBE", "news"])
        .starts_with("-ERR cachering has no Pub/Sub"));
    // A flush reaches it as a nil message.
    writer.call(&["FLUSHALL"]);
    assert_eq!(
        next_within(&mut listener),
        Some(format!(
            "*3\r\n{}{}$-1\r\n",
            bulk("message"),
            bulk("__redis__:invalidate")
        ))
    );
    // Without a redirect, a RESP2 client gets nothing (RESP2 has no pushes).
    let mut plain = node.client();
    plain.call(&["CLIENT", "TRACKING", "ON"]);
    plain.call(&["GET", "q"]);
    writer.call(&["SET", "q", "1"]);
    assert_eq!(next_within(&mut plain), None);
    // When the redirect target goes away, a RESP3 client is told.
    let mut gone = node.client();
    let gone_id = gone.call(&["CLIENT", "ID"]);
    let gone_id = gone_id.trim_start_matches(':').trim().to_string();
    let mut orphan = resp3(&node);
    orphan.call(&["CLIENT", "TRACKING", "ON", "REDIRECT", &gone_id]);
    orphan.call(&["GET", "o"]);
    drop(gone);
    std::thread::sleep(Duration::from_millis(200));
    writer.call(&["SET", "o", "1"]);
    assert_eq!(
        next_within(&mut orphan),
        Some(format!(
            ">2\r\n{}:{gone_id}\r\n",
            bulk("tracking-redir-broken")
        ))
    );
    assert!(orphan
        .call(&["CLIENT", "TRACKINGINFO"])
        .contains("broken_redirect"));
}

#[test]
fn bcast_optin_optout_and_noloop() {
    let node = NodeProcess::start(&[]);
    let mut writer = node.client();
    let mut client = resp3(&node);
    // BCAST: every write under a prefix, nothing remembered.
    assert_eq!(
        client.call(&["CLIENT", "TRACKING", "ON", "BCAST", "PREFIX", "user:", "PREFIX", "job:"]),
        "+OK\r\n"
    );
    writer.call(&["SET", "user:1", "x"]);
    assert_eq!(next_within(&mut client), Some(push(&["user:1"])));
    writer.call(&["SET", "other", "x"]);
    assert_eq!(next_within(&mut client), None);
    assert_eq!(
        info_field(&mut writer, "stats", "tracking_total_prefixes"),
        2
    );
    client.call(&["CLIENT", "TRACKING", "OFF"]);
    assert_eq!(
        info_field(&mut writer, "stats", "tracking_total_prefixes"),
        0
    );
    // OPTIN: only reads after CLIENT CACHING YES.
    client.call(&["CLIENT", "TRACKING", "ON", "OPTIN"]);
    client.call(&["GET", "a"]);
    assert_eq!(client.call(&["CLIENT", "CACHING", "YES"]), "+OK\r\n");
    client.call(&["GET", "b"]);
    writer.call(&["MSET", "a", "1", "b", "1"]);
    assert_eq!(next_within(&mut client), Some(push(&["b"])));
    assert_eq!(next_within(&mut client), None);
    client.call(&["CLIENT", "TRACKING", "OFF"]);
    // OPTOUT and NOLOOP: every read but the one after CLIENT CACHING NO; own writes not told.
    client.call(&["CLIENT", "TRACKING", "ON", "OPTOUT", "NOLOOP"]);
    client.call(&["GET", "c"]);
    client.call(&["CLIENT", "CACHING", "NO"]);
    client.call(&["GET", "d"]);
    writer.call(&["MSET", "c", "1", "d", "1"]);
    assert_eq!(next_within(&mut client), Some(push(&["c"])));
    assert_eq!(next_within(&mut client), None);
    client.call(&["GET", "c"]);
    client.call(&["SET", "c", "mine"]);
    assert_eq!(next_within(&mut client), None);
}

#[test]
fn the_tracking_table_is_bounded() {
    let node = NodeProcess::start(&[]);
    let mut admin = node.client();
    assert_eq!(
        admin.call(&["CONFIG", "GET", "tracking-table-max-keys"]),
        array(&["tracking-table-max-keys", "1000000"])
    );
    assert_eq!(
        admin.call(&["CONFIG", "SET", "tracking-table-max-keys", "2"]),
        "+OK\r\n"
    );
    let mut reader = resp3(&node);
    reader.call(&["CLIENT", "TRACKING", "ON"]);
    reader.call(&["GET", "a"]);
    reader.call(&["GET", "b"]);
    assert_eq!(next_within(&mut reader), None);
    // A third key pushes one out, with an invalidation, as if it had been written.
    reader.call(&["GET", "c"]);
    let dropped = next_within(&mut reader).expect("an invalidation for a dropped key");
    assert!(
        [push(&["a"]), push(&["b"]), push(&["c"])].contains(&dropped),
        "{dropped:?}"
    );
    assert_eq!(info_field(&mut admin, "stats", "tracking_total_keys"), 2);
}

#[test]
fn tracking_options_are_checked_as_redis_checks_them() {
    let node = NodeProcess::start(&[]);
    let mut client = node.client();
    for (args, error) in [
        (vec!["CLIENT", "TRACKING", "ON", "PREFIX", "a"], "ERR PREFIX option requires BCAST mode to be enabled"),
        (vec!["CLIENT", "TRACKING", "ON", "BCAST", "OPTIN"], "ERR OPTIN and OPTOUT are not compatible with BCAST"),
        (vec!["CLIENT", "TRACKING", "ON", "OPTIN", "OPTOUT"], "ERR You can't specify both OPTIN mode and OPTOUT mode"),
        (vec!["CLIENT", "TRACKING", "ON", "REDIRECT", "99999"], "ERR The client ID you want redirect to does not exist"),
        (vec!["CLIENT", "TRACKING", "ON", "REDIRECT", "x"], "ERR value is not an integer or out of range"),
        (vec!["CLIENT", "TRACKING", "ON", "BCAST", "PREFIX", "ab", "PREFIX", "a"], "ERR Prefix 'ab' overlaps with another provided prefix 'a'. Prefixes for a single client must not overlap."),
        (vec!["CLIENT", "TRACKING", "ON", "FOO"], "ERR syntax error"),
        (vec!["CLIENT", "TRACKING", "maybe"], "ERR syntax error"),
        (vec!["CLIENT", "CACHING", "yes"], "ERR CLIENT CACHING can be called only when the client is in tracking mode with OPTIN or OPTOUT mode enabled"),
    ] {
        assert_eq!(client.call(&args), format!("-{error}\r\n"), "{args:?}");
    }
    assert_eq!(client.call(&["CLIENT", "GETREDIR"]), ":-1\r\n");
    client.call(&["CLIENT", "TRACKING", "ON", "OPTIN"]);
    assert_eq!(
        client.call(&["CLIENT", "CACHING", "no"]),
        "-ERR CLIENT CACHING NO is only valid when tracking is enabled in OPTOUT mode.\r\n"
    );
    assert_eq!(
        client.call(&["CLIENT", "TRACKING", "ON", "OPTOUT"]),
        "-ERR You can't switch OPTIN/OPTOUT mode before disabling tracking for this client, and then re-enabling it with a different mode.\r\n"
    );
    client.call(&["CLIENT", "CACHING", "yes"]);
    assert_eq!(
        client.call(&["CLIENT", "TRACKINGINFO"]),
        format!(
            "*6\r\n{}*3\r\n{}{}{}{}:0\r\n{}*0\r\n",
            bulk("flags"),
            bulk("on"),
            bulk("optin"),
            bulk("caching-yes"),
            bulk("redirect"),
            bulk("prefixes")
        )
    );
    assert_eq!(client.call(&["RESET"]), "+RESET\r\n");
    assert!(client.call(&["CLIENT", "TRACKINGINFO"]).contains("off"));
}

#[test]
fn the_proxy_refuses_tracking() {
    let proxy = ProxyProcess::start(&[], &[]);
    assert_eq!(
        proxy.client().call(&["CLIENT", "TRACKING", "ON"]),
        "-ERR CLIENT TRACKING is not available here: send it to a node\r\n"
    );
}
