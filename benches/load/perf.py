#!/usr/bin/env python3
"""The performance comparison against redis-server on this machine, side by side in one run.

Sections (each can be chosen with --only):
  throughput  redis-benchmark -c 50 -d 32 -r 100000 -t set,get at pipeline 1 and 16, node and
              redis-server alternated over rounds, medians; pinned (load generator on CPU 0,
              server on CPU 1, with taskset) and unpinned; throughput ratio and p50/p99 latency
  hitratio    cache-aside replay (GET, on a miss SET a 100-byte value) of a Zipf 0.99 stream over
              1M keys, 2M requests, fixed seed, at 16 MB and 64 MB: node (quick, moka) against
              redis-server allkeys-lru and allkeys-lfu
  proxy       throughput through `cachering proxy` (one node behind it) against the node direct,
              and through twemproxy (Debian's nutcracker) against redis-server direct
  depth       GET throughput against pipeline depth for node, proxy and redis-server (PNG plot)

    python3 benches/load/perf.py [--rounds 5] [--only throughput,hitratio,proxy,depth] [--plot docs/depth.png]

Needs redis-server, redis-benchmark, taskset (util-linux), nutcracker for the proxy section,
matplotlib for the plot.
"""

import argparse
import bisect
import itertools
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile

import redis

sys.path.insert(0, os.path.dirname(__file__))
from node_vs_redis import ROOT, Server, free_port, need  # noqa: E402

SERVER_CPU = "1"
CLIENT_CPU = "0"


def pinned(argv: list, cpu: str, pin: bool) -> list:
    return ["taskset", "-c", cpu, *argv] if pin else argv


def start_node(binary: str, pin: bool, *flags: str) -> Server:
    port = free_port()
    return Server("node", pinned([binary, "node", "--port", str(port), "--log-level", "warn", *flags], SERVER_CPU, pin), port)


def start_redis(pin: bool, *flags: str) -> Server:
    port = free_port()
    argv = [need("redis-server", "redis-server"), "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", *flags]
    return Server("redis", pinned(argv, SERVER_CPU, pin), port)


def bench(port: int, test: str, pipeline: int, requests: int, pin: bool) -> dict:
    argv = [need("redis-benchmark", "redis-tools"), "-p", str(port), "-c", "50", "-r", "100000", "-d", "32",
            "-n", str(requests), "-P", str(pipeline), "-t", test, "--csv"]
    out = subprocess.run(pinned(argv, CLIENT_CPU, pin), capture_output=True, text=True, check=True).stdout
    header, *rows = [line.replace('"', "").split(",") for line in out.strip().splitlines()]
    for row in rows:
        if row[0].upper() == test.upper():
            values = dict(zip(header, row))
            return {"rps": float(values["rps"]), "p50": float(values["p50_latency_ms"]), "p99": float(values["p99_latency_ms"])}
    raise RuntimeError(out)


def throughput(binary: str, rounds: int, requests: int) -> None:
    for pin in (True, False):
        results: dict = {}
        for round_no in range(rounds):
            # Which server goes first alternates, so drift over a run favours neither.
            for server_kind in ("node", "redis") if round_no % 2 == 0 else ("redis", "node"):
                server = start_node(binary, pin) if server_kind == "node" else start_redis(pin)
                try:
                    for test in ("set", "get"):
                        for pipeline in (1, 16):
                            results.setdefault((server_kind, test, pipeline), []).append(bench(server.port, test, pipeline, requests, pin))
                finally:
                    server.stop()
        print(f"\nthroughput, {'pinned (client CPU 0, server CPU 1)' if pin else 'unpinned'}, medians of {rounds} rounds")
        print(f"{'test':<5}{'P':>4}{'node rps':>12}{'redis rps':>12}{'ratio':>7}{'node p50':>10}{'redis p50':>10}{'node p99':>10}{'redis p99':>10}")
        for test in ("set", "get"):
            for pipeline in (1, 16):
                ours = results[("node", test, pipeline)]
                theirs = results[("redis", test, pipeline)]
                med = lambda runs, key: statistics.median(r[key] for r in runs)  # noqa: E731
                print(f"{test.upper():<5}{pipeline:>4}{med(ours, 'rps'):>12.0f}{med(theirs, 'rps'):>12.0f}"
                      f"{med(ours, 'rps') / med(theirs, 'rps'):>7.2f}{med(ours, 'p50'):>10.3f}{med(theirs, 'p50'):>10.3f}"
                      f"{med(ours, 'p99'):>10.3f}{med(theirs, 'p99'):>10.3f}")


def replay(port: int, requests: int) -> float:
    rng = random.Random(2024)
    cdf = list(itertools.accumulate(1.0 / (rank ** 0.99) for rank in range(1, 1_000_001)))
    total = cdf[-1]
    client = redis.Redis(port=port)
    value = b"v" * 100
    hits = 0
    batch = 1000
    for start in range(0, requests, batch):
        keys = [f"key:{bisect.bisect_left(cdf, rng.random() * total)}" for _ in range(batch)]
        pipe = client.pipeline(transaction=False)
        for key in keys:
            pipe.get(key)
        replies = pipe.execute()
        pipe = client.pipeline(transaction=False)
        missed = set()
        for key, reply in zip(keys, replies):
            if reply is None:
                if key not in missed:
                    pipe.set(key, value)
                    missed.add(key)
            else:
                hits += 1
        pipe.execute()
    return hits / requests


def hitratio(binary: str, requests: int) -> None:
    print(f"\nhit ratio, cache-aside replay, Zipf 0.99 over 1M keys, {requests} requests, 100-byte values")
    for mb in (16, 64):
        rows = []
        for name, make in (
            ("cachering compact", lambda: start_node(binary, False, "--maxmemory", f"{mb}mb", "--store", "compact")),
            ("cachering quick", lambda: start_node(binary, False, "--maxmemory", f"{mb}mb", "--store", "quick")),
            ("cachering moka", lambda: start_node(binary, False, "--maxmemory", f"{mb}mb", "--store", "moka")),
            ("redis allkeys-lru", lambda: start_redis(False, "--maxmemory", f"{mb}mb", "--maxmemory-policy", "allkeys-lru")),
            ("redis allkeys-lfu", lambda: start_redis(False, "--maxmemory", f"{mb}mb", "--maxmemory-policy", "allkeys-lfu")),
        ):
            server = make()
            try:
                rows.append((name, replay(server.port, requests)))
            finally:
                server.stop()
        for name, ratio in rows:
            print(f"  {mb:>3} MB  {name:<20} {ratio:.4f}")


def start_proxy(binary: str, node_port: int) -> Server:
    port = free_port()
    return Server("proxy", [binary, "proxy", "--port", str(port), "--nodes", f"127.0.0.1:{node_port}", "--replicas", "1", "--log-level", "warn"], port)


def start_twemproxy(redis_port: int, workdir: str) -> Server:
    port = free_port()
    config = os.path.join(workdir, "nutcracker.yml")
    with open(config, "w") as f:
        f.write(f"alpha:\n  listen: 127.0.0.1:{port}\n  hash: fnv1a_64\n  distribution: ketama\n  redis: true\n"
                f"  servers:\n    - 127.0.0.1:{redis_port}:1\n")
    return Server("twemproxy", [need("nutcracker", "nutcracker"), "-c", config, "-s", str(free_port()), "-a", "127.0.0.1"], port)


def proxies(binary: str, rounds: int, requests: int) -> None:
    results: dict = {}
    with tempfile.TemporaryDirectory() as tmp:
        for round_no in range(rounds):
            node = start_node(binary, False)
            proxy = start_proxy(binary, node.port)
            red = start_redis(False)
            twem = start_twemproxy(red.port, tmp)
            try:
                for test in ("set", "get"):
                    for pipeline in (1, 16):
                        pairs = [("node", node), ("proxy", proxy), ("redis", red), ("twemproxy", twem)]
                        # Ours first in even rounds, Redis's first in odd ones.
                        for name, server in pairs if round_no % 2 == 0 else pairs[2:] + pairs[:2]:
                            results.setdefault((name, test, pipeline), []).append(bench(server.port, test, pipeline, requests, False))
            finally:
                for server in (twem, red, proxy, node):
                    server.stop()
    print(f"\nproxies (everything sharing the 2 cores), medians of {rounds} rounds")
    print(f"{'test':<5}{'P':>4}{'proxy/node':>12}{'twemproxy/redis':>17}{'proxy p50':>11}{'twem p50':>10}{'proxy p99':>11}{'twem p99':>10}")
    for test in ("set", "get"):
        for pipeline in (1, 16):
            m = lambda name, field="rps": statistics.median(r[field] for r in results[(name, test, pipeline)])  # noqa: E731
            print(f"{test.upper():<5}{pipeline:>4}{m('proxy') / m('node'):>12.2f}{m('twemproxy') / m('redis'):>17.2f}"
                  f"{m('proxy', 'p50'):>11.3f}{m('twemproxy', 'p50'):>10.3f}{m('proxy', 'p99'):>11.3f}{m('twemproxy', 'p99'):>10.3f}")


def depth(binary: str, requests: int, plot: str) -> None:
    depths = [1, 2, 4, 8, 16, 32, 64]
    curves = {}
    with tempfile.TemporaryDirectory() as tmp:
        node = start_node(binary, False)
        proxy = start_proxy(binary, node.port)
        red = start_redis(False)
        twem = start_twemproxy(red.port, tmp)
        try:
            for name, server in (("cachering node", node), ("cachering proxy", proxy), ("redis-server", red),
                                 ("twemproxy + redis-server", twem)):
                curves[name] = [bench(server.port, "get", d, requests, False)["rps"] for d in depths]
        finally:
            for server in (twem, red, proxy, node):
                server.stop()
    print("\nGET throughput against pipeline depth (requests/s)")
    print("depth " + "".join(f"{d:>10}" for d in depths))
    for name, values in curves.items():
        print(f"{name}\n      " + "".join(f"{v:>10.0f}" for v in values))
    if plot:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
        plt.figure(figsize=(8, 4.5))
        for name, values in curves.items():
            plt.plot(depths, [v / 1000 for v in values], marker="o", label=name)
        plt.xscale("log", base=2)
        plt.xticks(depths, [str(d) for d in depths])
        plt.xlabel("pipeline depth (redis-benchmark -P)")
        plt.ylabel("thousand GET/s")
        plt.title("GET throughput, 50 clients, 32-byte values, everything on 2 cores")
        plt.legend()
        plt.grid(alpha=0.3)
        plt.tight_layout()
        plt.savefig(plot, dpi=100)
        print(f"plot written to {plot}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--requests", type=int, default=200_000)
    parser.add_argument("--replay", type=int, default=2_000_000)
    parser.add_argument("--only", default="throughput,hitratio,proxy,depth")
    parser.add_argument("--plot", default="")
    parser.add_argument("--binary", default=str(ROOT / "target" / "release" / "cachering"))
    args = parser.parse_args()
    if not shutil.which("taskset"):
        sys.exit("taskset is missing: install it with `apt-get install -y util-linux`")
    subprocess.run(["cargo", "build", "--release", "-p", "cachering"], cwd=ROOT, check=True, capture_output=True)
    sections = args.only.split(",")
    if "throughput" in sections:
        throughput(args.binary, args.rounds, args.requests)
    if "hitratio" in sections:
        hitratio(args.binary, args.replay)
    if "proxy" in sections:
        proxies(args.binary, max(1, args.rounds // 2), args.requests)
    if "depth" in sections:
        depth(args.binary, args.requests, args.plot)


if __name__ == "__main__":
    main()
