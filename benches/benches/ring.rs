//! Ring lookups for 3, 10 and 100 nodes (primary alone, and with two replicas), next to
//! hashring's own `get`; and, printed once, the key balance (max/mean) and the share of keys
//! moved when a node is added or removed.

// criterion_group! generates a public function that cannot carry a doc comment.
#![allow(missing_docs)]

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion};
use std::hint::black_box;

use cachering_client::ring::{point_bytes, RawBytes, Ring, POINTS_PER_NODE};

fn names(n: usize) -> Vec<(String, f64)> {
    (0..n)
        .map(|i| (format!("10.0.{}.{}:6379", i / 250, i % 250), 1.0))
        .collect()
}

#[derive(Clone, Debug)]
struct VNode(Vec<u8>);

impl std::hash::Hash for VNode {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        state.write(&self.0);
    }
}

fn lookups(c: &mut Criterion) {
    let keys: Vec<String> = (0..1024).map(|i| format!("user:{i}:profile")).collect();
    let mut group = c.benchmark_group("ring");
    for n in [3, 10, 100] {
        let ring = Ring::new(&names(n));
        let mut reference = hashring::HashRing::new();
        reference.batch_add(
            names(n)
                .iter()
                .flat_map(|(name, _)| {
                    (0..POINTS_PER_NODE).map(move |i| VNode(point_bytes(name, i)))
                })
                .collect(),
        );
        let mut out = Vec::with_capacity(2);
        let mut i = 0;
        group.bench_with_input(BenchmarkId::new("primary", n), &n, |b, _| {
            b.iter(|| {
                i = (i + 1) & 1023;
                black_box(ring.primary(keys[i].as_bytes()))
            })
        });
        group.bench_with_input(BenchmarkId::new("replicas_2", n), &n, |b, _| {
            b.iter(|| {
                i = (i + 1) & 1023;
                ring.replicas_into(keys[i].as_bytes(), 2, &mut out);
                black_box(&out);
            })
        });
        group.bench_with_input(BenchmarkId::new("hashring_get", n), &n, |b, _| {
            b.iter(|| {
                i = (i + 1) & 1023;
                black_box(
                    reference
                        .get(&RawBytes(keys[i].as_bytes()))
                        .map(|v| v.0.len()),
                )
            })
        });
    }
    group.finish();
}

/// Balance and movement, printed for docs/benchmarks.md.
fn distribution() {
    const KEYS: usize = 1_000_000;
    for n in [3, 10, 100] {
        let ring = Ring::new(&names(n));
        let mut load = vec![0usize; n];
        for i in 0..KEYS {
            load[ring.primary(format!("key:{i}").as_bytes()).unwrap()] += 1;
        }
        let mean = KEYS as f64 / n as f64;
        let max = *load.iter().max().unwrap() as f64;
        let grown = Ring::new(&names(n + 1));
        let shrunk = Ring::new(&names(n)[1..]);
        let (mut moved_add, mut moved_remove) = (0, 0);
        for i in 0..KEYS {
            let key = format!("key:{i}");
            let before = ring.name(ring.primary(key.as_bytes()).unwrap());
            if grown.name(grown.primary(key.as_bytes()).unwrap()) != before {
                moved_add += 1;
            }
            if shrunk.name(shrunk.primary(key.as_bytes()).unwrap()) != before {
                moved_remove += 1;
            }
        }
        println!(
            "ring n={n}: max/mean {:.3}; adding a node moved {:.1}% (ideal {:.1}%); removing one moved {:.1}% (ideal {:.1}%)",
            max / mean,
            100.0 * moved_add as f64 / KEYS as f64,
            100.0 / (n as f64 + 1.0),
            100.0 * moved_remove as f64 / KEYS as f64,
            100.0 / n as f64
        );
    }
}

fn all(c: &mut Criterion) {
    distribution();
    lookups(c);
}

criterion_group!(benches, all);
criterion_main!(benches);
