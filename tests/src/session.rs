//! A connection that asserts exact replies, in RESP2 or RESP3, to a node or a proxy alike.

use std::net::SocketAddr;

use crate::{bulk, Client, NodeProcess, ProxyProcess};

/// A connection speaking RESP2 or RESP3 (after `HELLO 3`), with the null and map notation to
/// expect.
pub struct Session {
    client: Client,
    /// Whether the connection speaks RESP3.
    pub resp3: bool,
}

impl Session {
    /// Connects to `addr`, switching to RESP3 when asked.
    pub fn open(addr: SocketAddr, resp3: bool) -> Self {
        let mut client = Client::connect(addr);
        if resp3 {
            client.set_resp3(true);
            let hello = client.call(&["HELLO", "3"]);
            assert!(hello.starts_with('%'), "{hello:?}");
        }
        Self { client, resp3 }
    }

    /// The null reply in this protocol.
    pub fn null(&self) -> &'static str {
        if self.resp3 {
            "_\r\n"
        } else {
            "$-1\r\n"
        }
    }

    /// The header of a map of `pairs` entries (a flat array in RESP2).
    pub fn map(&self, pairs: usize) -> String {
        if self.resp3 {
            format!("%{pairs}\r\n")
        } else {
            format!("*{}\r\n", pairs * 2)
        }
    }

    /// The header of a set of `len` members (an array in RESP2).
    pub fn set(&self, len: usize) -> String {
        if self.resp3 {
            format!("~{len}\r\n")
        } else {
            format!("*{len}\r\n")
        }
    }

    /// A score as this protocol carries it: a double in RESP3, a bulk string in RESP2.
    pub fn score(&self, text: &str) -> String {
        if self.resp3 {
            format!(",{text}\r\n")
        } else {
            bulk(text)
        }
    }

    /// The reply of members with their scores (WITHSCORES): a flat array in RESP2, an array
    /// of (member, double) pairs in RESP3.
    pub fn scored(&self, entries: &[(&str, &str)]) -> String {
        if self.resp3 {
            let mut out = format!("*{}\r\n", entries.len());
            for (member, score) in entries {
                out.push_str(&format!("*2\r\n{}{}", bulk(member), self.score(score)));
            }
            out
        } else {
            let mut out = format!("*{}\r\n", entries.len() * 2);
            for (member, score) in entries {
                out.push_str(&bulk(member));
                out.push_str(&bulk(score));
            }
            out
        }
    }

    /// Asserts the reply to `args`.
    #[track_caller]
    pub fn expect(&mut self, args: &[&str], reply: &str) {
        let got = self.client.call(args);
        assert_eq!(got, reply, "{args:?} (resp3: {})", self.resp3);
    }

    /// Asserts the error reply to `args`.
    #[track_caller]
    pub fn expect_error(&mut self, args: &[&str], error: &str) {
        self.expect(args, &format!("-{error}\r\n"));
    }

    /// The raw reply to `args`.
    pub fn call(&mut self, args: &[&str]) -> String {
        self.client.call(args)
    }
}

/// Runs `test` against a node and a proxy over three nodes, each in both protocols.
pub fn on_node_and_proxy(test: impl Fn(&mut Session)) {
    let node = NodeProcess::start(&[]);
    let proxy = ProxyProcess::start(&[], &[]);
    each_endpoint_and_protocol(&[node.addr, proxy.addr], test);
}

/// Runs `test` on a fresh key space of each endpoint in `addrs`, in RESP2 and then RESP3.
pub fn each_endpoint_and_protocol(addrs: &[SocketAddr], test: impl Fn(&mut Session)) {
    for &addr in addrs {
        for resp3 in [false, true] {
            let mut session = Session::open(addr, resp3);
            session.expect(&["FLUSHALL"], "+OK\r\n");
            test(&mut session);
        }
    }
}
