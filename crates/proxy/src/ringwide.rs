//! Commands about the whole ring, fanned out to every node.
//!
//! Over a replicated ring each key lives on R nodes, so a plain union would count or list it R
//! times. The proxy reports each key once, from the node that would serve its reads:
//!
//! - KEYS and SCAN return a key found on node `i` only if node `i` is its read node now;
//! - DBSIZE is the sum of the nodes' DBSIZE divided by R: exact when every replica holds what it
//!   should, approximate during repair;
//! - SCAN's cursor encodes (node, node cursor) and walks node after node; a key present for the
//!   whole scan is returned at least once, unless the node list changes during the scan;
//! - RANDOMKEY asks a random reachable node;
//! - FLUSHALL/FLUSHDB empty every node, and a node that cannot be reached is emptied before it
//!   serves reads again.

use bytes::Bytes;
use cachering_client::Reply;
use cachering_proto::ReplyWriter;

use crate::dispatch::write_error;
use crate::state::ProxyState;

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

/// Runs `name` (dbsize, flushall, flushdb, keys, scan, randomkey) over every node.
pub async fn run(state: &ProxyState, name: &str, args: &[Bytes], reply: &mut ReplyWriter<'_>) {
    let client = &state.client;
    let nodes = client.node_count();
    match name {
        "dbsize" => {
            let mut total = 0i64;
            for index in 0..nodes {
                if let Ok(Reply::Int(n)) = client.on_node(index, &[b"DBSIZE"]).await {
                    total += n;
                }
            }
            reply.int(total / state.config.replicas.max(1).min(nodes) as i64);
        }
        "flushall" | "flushdb" => {
            if args.len() > 2
                || (args.len() == 2 && !is(&args[1], "ASYNC") && !is(&args[1], "SYNC"))
            {
                return reply.error("ERR syntax error");
            }
            match client.flush_all().await {
                Ok(()) => reply.ok(),
                Err(error) => write_error(reply, &error),
            }
        }
        "keys" => {
            let mut found = Vec::new();
            for index in 0..nodes {
                if let Ok(answer) = client.on_node(index, &[b"KEYS", &args[1]]).await {
                    found.extend(
                        keys_of_reply(&answer)
                            .into_iter()
                            .filter(|key| client.read_node(key) == Some(index)),
                    );
                }
            }
            reply.array(found.len());
            for key in found {
                reply.bulk(&key);
            }
        }
        "scan" => scan(state, args, reply).await,
        _ => {
            // randomkey: start at a random node, try each in turn.
            let start = rand::random_range(0..nodes);
            for step in 0..nodes {
                if let Ok(Reply::Bulk(key)) = client
                    .on_node((start + step) % nodes, &[b"RANDOMKEY"])
                    .await
                {
                    return reply.bulk(&key);
                }
            }
            reply.null();
        }
    }
}

async fn scan(state: &ProxyState, args: &[Bytes], reply: &mut ReplyWriter<'_>) {
    let client = &state.client;
    let nodes = client.node_count() as u64;
    let Some(cursor) = std::str::from_utf8(&args[1])
        .ok()
        .and_then(|t| t.parse::<u64>().ok())
    else {
        return reply.error("ERR invalid cursor");
    };
    let (mut node, mut node_cursor) = ((cursor % nodes) as usize, cursor / nodes);
    let mut found = Vec::new();
    let options: Vec<&[u8]> = args[2..].iter().map(|a| a.as_ref()).collect();
    let next = loop {
        let cursor_text = node_cursor.to_string();
        let mut request: Vec<&[u8]> = vec![b"SCAN", cursor_text.as_bytes()];
        request.extend(options.iter().copied());
        match client.on_node(node, &request).await {
            Ok(Reply::Array(parts)) if parts.len() == 2 => {
                let next_cursor = parts[0]
                    .as_bytes()
                    .and_then(|b| std::str::from_utf8(b).ok()?.parse::<u64>().ok())
                    .unwrap_or(0);
                found.extend(
                    keys_of_reply(&parts[1])
                        .into_iter()
                        .filter(|key| client.read_node(key) == Some(node)),
                );
                if next_cursor != 0 {
                    break next_cursor * nodes + node as u64;
                }
            }
            Ok(Reply::Error(text)) => return reply.error(&String::from_utf8_lossy(&text)),
            Err(error) if error.is_server_error() => return write_error(reply, &error),
            // A node that cannot be scanned is skipped: its keys are returned from replicas.
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
    reply.array(2);
    reply.bulk(next.to_string().as_bytes());
    reply.array(found.len());
    for key in found {
        reply.bulk(&key);
    }
}
