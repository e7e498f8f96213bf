#!/usr/bin/env python3
"""Soak: a node under mixed load with a Zipf key distribution and TTLs, writing several times
its maxmemory, while its resident memory is sampled every half second. Fails if memory leaves
the stated bound or any reply is an error (misses are expected).

    python3 benches/load/soak.py [--seconds 180] [--maxmemory-mb 32] [--plot docs/soak.png]

Bound: RSS <= baseline + 1.5 x maxmemory. The store charges keys, values and a per-entry
overhead against maxmemory; the rest is allocator slack, connection buffers and the exporter.
"""

import argparse
import bisect
import itertools
import os
import random
import subprocess
import sys
import time

import redis

sys.path.insert(0, os.path.dirname(__file__))
from node_vs_redis import ROOT, Server, free_port  # noqa: E402

KEYS = 1_000_000
BATCH = 500


def zipf_cdf(n: int, s: float) -> list:
    weights = [1.0 / (rank ** s) for rank in range(1, n + 1)]
    return list(itertools.accumulate(weights))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=int, default=180)
    parser.add_argument("--maxmemory-mb", type=int, default=32)
    parser.add_argument("--store", default="compact")
    parser.add_argument("--plot", help="write the memory curve to this PNG (needs matplotlib)")
    parser.add_argument("--binary", default=str(ROOT / "target" / "release" / "cachering"))
    args = parser.parse_args()
    if not os.path.exists(args.binary):
        subprocess.run(["cargo", "build", "--release", "-p", "cachering"], cwd=ROOT, check=True)
    limit = args.maxmemory_mb * 1024 * 1024
    port = free_port()
    node = Server("node", [args.binary, "node", "--port", str(port), "--maxmemory", f"{args.maxmemory_mb}mb",
                           "--store", args.store, "--log-level", "warn"], port)
    rng = random.Random(42)
    cdf = zipf_cdf(KEYS, 0.99)
    total_weight = cdf[-1]
    client = redis.Redis(port=port)
    baseline = node.rss()
    samples = [(0.0, baseline)]
    written = ops = errors = misses = 0
    started = last_sample = time.time()
    try:
        while time.time() - started < args.seconds:
            pipe = client.pipeline(transaction=False)
            kinds = []
            for _ in range(BATCH):
                key = f"key:{bisect.bisect_left(cdf, rng.random() * total_weight)}"
                roll = rng.random()
                if roll < 0.6:
                    pipe.get(key)
                    kinds.append("get")
                elif roll < 0.95:
                    size = rng.choice((32, 100, 300, 1000))
                    ttl = rng.choice((None, 1, 5, 30, 300))
                    pipe.set(key, b"x" * size, ex=ttl)
                    written += size + len(key)
                    kinds.append("set")
                else:
                    pipe.delete(key)
                    kinds.append("del")
            for kind, reply in zip(kinds, pipe.execute(raise_on_error=False)):
                ops += 1
                if isinstance(reply, Exception):
                    errors += 1
                elif kind == "get" and reply is None:
                    misses += 1
            now = time.time()
            if now - last_sample >= 0.5:
                samples.append((now - started, node.rss()))
                last_sample = now
        info = client.info()
    finally:
        node.stop()
    peak = max(rss for _, rss in samples)
    bound = baseline + 1.5 * limit
    print(f"{args.seconds}s, store {args.store}, maxmemory {args.maxmemory_mb} MiB: {ops} operations, "
          f"{written / limit:.1f}x maxmemory written, {errors} errors, miss ratio {misses / max(1, ops * 0.6):.3f}")
    print(f"RSS baseline {baseline / 2**20:.1f} MiB, peak {peak / 2**20:.1f} MiB, final {samples[-1][1] / 2**20:.1f} MiB, "
          f"bound {bound / 2**20:.1f} MiB; used_memory {info['used_memory'] / 2**20:.1f} MiB, "
          f"evicted {info['evicted_keys']}, expired {info['expired_keys']}")
    if args.plot:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
        xs = [t for t, _ in samples]
        plt.figure(figsize=(8, 4))
        plt.plot(xs, [r / 2**20 for _, r in samples], label="node RSS")
        plt.axhline(limit / 2**20, color="gray", linestyle="--", label="maxmemory")
        plt.axhline(bound / 2**20, color="red", linestyle=":", label="bound (baseline + 1.5 x maxmemory)")
        plt.xlabel("seconds")
        plt.ylabel("MiB")
        plt.title(f"Soak: Zipf 0.99 over 1M keys, TTLs, {written / limit:.0f}x maxmemory written")
        plt.legend(loc="lower right")
        plt.tight_layout()
        plt.savefig(args.plot, dpi=100)
        print(f"plot written to {args.plot}")
    if errors or peak > bound:
        sys.exit("soak failed: " + ("errors" if errors else "memory above the bound"))


if __name__ == "__main__":
    main()
