//! Any sequence of commands against an in-memory node: decoded as a client's requests, then
//! dispatched one after another on one connection's session. Nothing panics, every request gets
//! exactly one well-formed reply, and the store stays within its limit.
#![no_main]

use std::sync::{Arc, OnceLock};

use bytes::BytesMut;
use cachering_node::clients::ClientInfo;
use cachering_node::command::{dispatch, Ctx, Session};
use cachering_node::state::NodeState;
use cachering_node::store::{self, StoreKind};
use cachering_node::NodeConfig;
use cachering_proto::{Limits, RequestDecoder};
use libfuzzer_sys::fuzz_target;

const LIMIT: u64 = 1 << 20;

fn node() -> &'static (Arc<NodeState>, Arc<ClientInfo>) {
    static NODE: OnceLock<(Arc<NodeState>, Arc<ClientInfo>)> = OnceLock::new();
    NODE.get_or_init(|| {
        let config = NodeConfig::ephemeral().with_maxmemory(LIMIT);
        let state = Arc::new(NodeState::new(
            config,
            store::build(StoreKind::Quick, LIMIT),
            "fuzz",
        ));
        let addr = "127.0.0.1:1".parse().unwrap();
        let client = state.clients.register(addr, addr);
        (state, client)
    })
}

fuzz_target!(|data: &[u8]| {
    let (state, client) = node();
    state.store.clear();
    let mut decoder = RequestDecoder::new(Limits::default().with_max_bulk_len(1 << 16));
    let mut input = BytesMut::from(data);
    let mut session = Session {
        authenticated: true,
        ..Session::default()
    };
    let mut args = Vec::new();
    let mut out = BytesMut::new();
    while let Ok(true) = decoder.decode(&mut input, &mut args) {
        // SHUTDOWN would only flag the in-memory node; keep fuzzing everything else.
        if args[0].eq_ignore_ascii_case(b"shutdown") {
            args.clear();
            continue;
        }
        out.clear();
        let mut ctx = Ctx {
            node: state,
            client,
            session: &mut session,
            out: &mut out,
            now: 1_700_000_000_000,
        };
        dispatch(&mut ctx, &args);
        args.clear();
        assert!(!out.is_empty(), "every request gets a reply");
        assert!(state.store.stats().used_bytes <= LIMIT);
    }
});
