//! GET and SET through `cachering-client` against one node, next to redis-rs's multiplexed
//! connection against the same node in the same run. The node runs in-process on its own
//! runtime thread; each client drives 64 concurrent requests per batch from another.

// criterion_group! generates a public function that cannot carry a doc comment.
#![allow(missing_docs)]

use std::sync::Arc;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use futures::future::join_all;

const CONCURRENCY: usize = 64;

fn node_runtime() -> (tokio::runtime::Runtime, cachering_node::NodeHandle) {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let node = runtime
        .block_on(cachering_node::start(
            cachering_node::NodeConfig::ephemeral(),
        ))
        .unwrap();
    (runtime, node)
}

fn bench(c: &mut Criterion) {
    let (_node_runtime, node) = node_runtime();
    let addr = node.local_addr().to_string();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let ours = runtime.block_on(async {
        let client = cachering_client::ClientBuilder::new()
            .node(addr.clone())
            .with_replicas(1)
            .build()
            .unwrap();
        client.set("bench:key", vec![b'x'; 32]).await.unwrap();
        Arc::new(client)
    });
    let theirs = runtime.block_on(async {
        let client = redis::Client::open(format!("redis://{addr}/")).unwrap();
        client.get_multiplexed_async_connection().await.unwrap()
    });
    let value = vec![b'x'; 32];
    let mut group = c.benchmark_group("client");
    group.throughput(Throughput::Elements(CONCURRENCY as u64));
    group.bench_function("cachering_get", |b| {
        b.to_async(&runtime).iter(|| {
            let client = Arc::clone(&ours);
            async move {
                let gets = (0..CONCURRENCY).map(|_| client.get("bench:key"));
                join_all(gets).await;
            }
        })
    });
    group.bench_function("redis_rs_get", |b| {
        b.to_async(&runtime).iter(|| {
            let connection = theirs.clone();
            async move {
                let gets = (0..CONCURRENCY).map(|_| {
                    let mut connection = connection.clone();
                    async move {
                        redis::cmd("GET")
                            .arg("bench:key")
                            .query_async::<Option<Vec<u8>>>(&mut connection)
                            .await
                            .unwrap()
                    }
                });
                join_all(gets).await;
            }
        })
    });
    group.bench_function("cachering_set", |b| {
        b.to_async(&runtime).iter(|| {
            let client = Arc::clone(&ours);
            let value = value.clone();
            async move {
                let sets = (0..CONCURRENCY).map(|i| {
                    let client = Arc::clone(&client);
                    let value = value.clone();
                    async move { client.set(format!("bench:{i}"), value).await.unwrap() }
                });
                join_all(sets).await;
            }
        })
    });
    group.bench_function("redis_rs_set", |b| {
        b.to_async(&runtime).iter(|| {
            let connection = theirs.clone();
            let value = value.clone();
            async move {
                let sets = (0..CONCURRENCY).map(|i| {
                    let mut connection = connection.clone();
                    let value = value.clone();
                    async move {
                        redis::cmd("SET")
                            .arg(format!("bench:{i}"))
                            .arg(value)
                            .query_async::<()>(&mut connection)
                            .await
                            .unwrap()
                    }
                });
                join_all(sets).await;
            }
        })
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
