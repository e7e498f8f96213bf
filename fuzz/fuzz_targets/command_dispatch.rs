//! Any sequence of commands against an in-memory node: decoded as a client's requests, then
//! run one after another through the server layer's dispatch (checks, connection commands,
//! MULTI queueing) and the node's service, on one connection's session. Nothing panics, every
//! request gets at least one well-formed reply, and the store stays within its limit.
#![no_main]

use std::future::Future;
use std::sync::{Arc, OnceLock};
use std::task::{Context, Poll, Waker};

use bytes::BytesMut;
use cachering_node::command::Tally;
use cachering_node::state::NodeState;
use cachering_node::store::{self, StoreKind};
use cachering_node::{NodeConfig, NodeService};
use cachering_proto::{Limits, RequestDecoder};
use cachering_server::clients::ClientInfo;
use cachering_server::{run_batch, Endpoint, Exchange, Request, Session};
use libfuzzer_sys::fuzz_target;

const LIMIT: u64 = 1 << 20;

struct Fixture {
    state: Arc<NodeState>,
    service: NodeService,
    client: Arc<ClientInfo>,
}

fn fixture() -> &'static Fixture {
    static FIXTURE: OnceLock<Fixture> = OnceLock::new();
    FIXTURE.get_or_init(|| {
        let config = NodeConfig::ephemeral().with_maxmemory(LIMIT);
        let endpoint = Arc::new(Endpoint::new(config.listener.clone()));
        let state = Arc::new(NodeState::new(
            config,
            store::build(StoreKind::Compact, LIMIT),
            Arc::clone(&endpoint),
            "fuzz",
        ));
        let addr = "127.0.0.1:1".parse().unwrap();
        let client = endpoint.clients.register(addr, addr);
        Fixture {
            service: NodeService::new(Arc::clone(&state)),
            state,
            client,
        }
    })
}

fuzz_target!(|data: &[u8]| {
    let fixture = fixture();
    fixture.state.store.clear();
    let mut decoder = RequestDecoder::new(Limits::default().with_max_bulk_len(1 << 16));
    let mut input = BytesMut::from(data);
    let mut session = Session::new(true);
    let mut tally = Tally::default();
    let mut args = Vec::new();
    let mut out = BytesMut::new();
    while let Ok(true) = decoder.decode(&mut input, &mut args) {
        // SHUTDOWN would only flag the in-memory node, and a blocking command (BLPOP, ...)
        // would wait on the runtime's timer, which the target has none of (the blocking path
        // has its own tests); keep fuzzing everything else.
        let blocking = cachering_commands::lookup(&args[0])
            .is_some_and(|spec| spec.has(cachering_commands::Flag::Blocking));
        if blocking || args[0].eq_ignore_ascii_case(b"shutdown") {
            args.clear();
            continue;
        }
        let request = Request::new(std::mem::take(&mut args));
        out.clear();
        let mut exchange = Exchange {
            service: &fixture.service,
            endpoint: &fixture.state.endpoint,
            client: &fixture.client,
            session: &mut session,
            local: &mut tally,
            out: &mut out,
            // Small: a reply cut off at the limit (a random-pick count of 2^62) stays cheap.
            output_limit: 1 << 16,
        };
        // The node answers without waiting: the future is ready on its first poll.
        {
            let run = std::pin::pin!(run_batch(&mut exchange, std::slice::from_ref(&request)));
            let Poll::Ready(_) = run.poll(&mut Context::from_waker(Waker::noop())) else {
                panic!("the node's dispatch waited");
            };
        }
        assert!(!out.is_empty(), "every request gets a reply");
        assert!(fixture.state.store.stats().used_bytes <= LIMIT);
    }
});
