//! Commands about the whole key space, fanned out to every node.
//!
//! Over a replicated ring each key lives on R nodes, so a plain union would count or list it R
//! times. Each key is reported once, from the node that would serve its reads:
//!
//! - KEYS and SCAN return a key found on node `i` only if node `i` is its read node now;
//! - DBSIZE is the sum of the nodes' DBSIZE divided by R: exact when every replica holds what
//!   it should, approximate during repair;
//! - SCAN's cursor encodes (node, node cursor) and walks node after node; a key present for
//!   the whole scan is returned at least once, unless the node list changes during the scan;
//! - RANDOMKEY asks a random reachable node;
//! - FLUSHALL and FLUSHDB empty every node, and a node that cannot be reached now is emptied
//!   before it serves reads again.

use bytes::Bytes;
use cachering_commands::{Cmd, CommandSpec};

use crate::client::Client;
use crate::error::{Error, ErrorKind, Result};
use crate::reply::Reply;

fn is(arg: &[u8], word: &str) -> bool {
    arg.eq_ignore_ascii_case(word.as_bytes())
}

fn keys_of_reply(reply: &Reply) -> Vec<Bytes> {
    match reply {
        Reply::Array(items) => items
            .iter()
            .filter_map(|item| item.as_bytes().cloned())
            .collect(),
        _ => Vec::new(),
    }
}

fn command_error(text: &str) -> Error {
    Error::new(ErrorKind::Command, text)
}

impl Client {
    /// Runs a ring-wide command (see the module docs).
    pub(crate) async fn ring_wide(&self, spec: &CommandSpec, args: &[&[u8]]) -> Result<Reply> {
        let nodes = self.topology().await.nodes.len();
        if nodes == 0 {
            return Err(super::no_nodes());
        }
        match spec.id {
            Cmd::DbSize => {
                let mut total = 0i64;
                for index in 0..nodes {
                    if let Ok(Reply::Int(n)) = self.on_node(index, &[b"DBSIZE"]).await {
                        total += n;
                    }
                }
                let copies = self.inner.settings.replicas.max(1).min(nodes) as i64;
                Ok(Reply::Int(total / copies))
            }
            Cmd::FlushAll | Cmd::FlushDb => {
                if args.len() > 2
                    || (args.len() == 2 && !is(args[1], "ASYNC") && !is(args[1], "SYNC"))
                {
                    return Err(command_error("ERR syntax error"));
                }
                self.flush_all().await?;
                Ok(Reply::Status(Bytes::from_static(b"OK")))
            }
            Cmd::Keys => {
                let mut found = Vec::new();
                for index in 0..nodes {
                    if let Ok(answer) = self.on_node(index, &[b"KEYS", args[1]]).await {
                        found.extend(
                            keys_of_reply(&answer)
                                .into_iter()
                                .filter(|key| self.read_node(key) == Some(index))
                                .map(Reply::Bulk),
                        );
                    }
                }
                Ok(Reply::Array(found))
            }
            Cmd::Scan => self.scan(args).await,
            _ => {
                // RANDOMKEY: start at a random node, try each in turn.
                let start = rand::random_range(0..nodes);
                for step in 0..nodes {
                    if let Ok(Reply::Bulk(key)) =
                        self.on_node((start + step) % nodes, &[b"RANDOMKEY"]).await
                    {
                        return Ok(Reply::Bulk(key));
                    }
                }
                Ok(Reply::Nil)
            }
        }
    }

    /// SCAN over every node in turn; the cursor is `node cursor × nodes + node`.
    async fn scan(&self, args: &[&[u8]]) -> Result<Reply> {
        let nodes = self.node_count() as u64;
        let Some(cursor) = std::str::from_utf8(args[1])
            .ok()
            .and_then(|t| t.parse::<u64>().ok())
        else {
            return Err(command_error("ERR invalid cursor"));
        };
        let (mut node, mut node_cursor) = ((cursor % nodes) as usize, cursor / nodes);
        let mut found = Vec::new();
        let next = loop {
            let cursor_text = node_cursor.to_string();
            let mut request: Vec<&[u8]> = vec![b"SCAN", cursor_text.as_bytes()];
            request.extend(args[2..].iter().copied());
            match self.on_node(node, &request).await {
                Ok(Reply::Array(parts)) if parts.len() == 2 => {
                    let next_cursor = parts[0]
                        .as_bytes()
                        .and_then(|b| std::str::from_utf8(b).ok()?.parse::<u64>().ok())
                        .unwrap_or(0);
                    found.extend(
                        keys_of_reply(&parts[1])
                            .into_iter()
                            .filter(|key| self.read_node(key) == Some(node))
                            .map(Reply::Bulk),
                    );
                    if next_cursor != 0 {
                        // Nodes' cursors are below 2^48, so this fits for any ring; a node
                        // answering one larger is refused rather than wrapped.
                        break next_cursor
                            .checked_mul(nodes)
                            .and_then(|cursor| cursor.checked_add(node as u64))
                            .ok_or_else(|| {
                                command_error("ERR a node's SCAN cursor is too large to combine")
                            })?;
                    }
                }
                Err(error) if error.is_server_error() => return Err(error),
                // A node that cannot be scanned is skipped: its keys are returned from
                // replicas.
                _ => {}
            }
            node += 1;
            node_cursor = 0;
            if node as u64 >= nodes {
                break 0;
            }
            if !found.is_empty() {
                break node as u64;
            }
        };
        Ok(Reply::Array(vec![
            Reply::Bulk(Bytes::from(next.to_string())),
            Reply::Array(found),
        ]))
    }
}
