#!/usr/bin/env python3
"""The near cache's gain: a Zipf 1.1 workload over 1M keys (32-byte values), 90 % GETs and
10 % SETs, over three node processes with R = 2, through the client library (`client_load`, 50
tasks, one request in flight each, on a current-thread runtime and on a two-thread one) and
through `cachering proxy` (`client_load --resp`, 50 connections), each with and without a near
cache of 64 MiB, side by side in one run. Every key is written before a run; the near cache
starts empty.

    python3 benches/load/near_cache.py [--rounds 2] [--requests 2000000]
"""

import argparse
import os
import statistics
import subprocess
import sys

sys.path.insert(0, os.path.dirname(__file__))
from node_vs_redis import ROOT, Server, free_port, start_node  # noqa: E402

NEAR = str(64 << 20)


def load(tool: str, nodes: str, extra: list[str], requests: int) -> dict:
    argv = [tool, "--nodes", nodes, "--replicas", "2", "--test", "mixed", "--read-ratio", "0.9",
            "--keys", "1000000", "--zipf", "1.1", "--clients", "50", "--requests", str(requests), *extra]
    out = subprocess.run(argv, check=True, capture_output=True, text=True).stdout
    return {k: float(v) for k, v in (part.split("=") for part in out.split())}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--requests", type=int, default=2_000_000)
    args = parser.parse_args()
    subprocess.run(["cargo", "build", "--release", "-p", "cachering", "-p", "cachering-benches", "--bin",
                    "cachering", "--bin", "client_load"], cwd=ROOT, check=True, capture_output=True)
    binary = str(ROOT / "target" / "release" / "cachering")
    tool = str(ROOT / "target" / "release" / "client_load")
    nodes = [start_node(binary) for _ in range(3)]
    node_list = ",".join(f"127.0.0.1:{n.port}" for n in nodes)
    results: dict[str, list[dict]] = {}
    try:
        for _ in range(args.rounds):
            for threads in ("1", "2"):
                library = f"library, {threads} thread{'s' if threads != '1' else ''}"
                for name, extra in ((library, []), (f"{library}, near cache", ["--near-cache", NEAR])):
                    sample = load(tool, node_list, ["--threads", threads, *extra], args.requests)
                    results.setdefault(name, []).append(sample)
            # Each proxy runs only during its own load (an idle proxy with a near cache still
            # receives every invalidation).
            for name, extra in (("proxy", []), ("proxy, near cache", ["--near-cache", "64mb"])):
                port = free_port()
                proxy = Server(name, [binary, "proxy", "--port", str(port), "--nodes", node_list,
                                      "--log-level", "warn", *extra], port)
                try:
                    sample = load(tool, node_list, ["--resp", f"127.0.0.1:{port}"], args.requests)
                finally:
                    proxy.stop()
                results.setdefault(name, []).append(sample)
    finally:
        for server in nodes:
            server.stop()
    print(f"| entry point | requests/s | p50 ms | p99 ms | near hit ratio | (median of {args.rounds}) |")
    print("|---|---|---|---|---|---|")
    for name, samples in results.items():
        med = {k: statistics.median(s[k] for s in samples) for k in samples[0]}
        hits = f"{med['near_hit_ratio']:.3f}" if "near_hit_ratio" in med else ""
        print(f"| {name} | {med['rps']:.0f} | {med['p50_ms']:.3f} | {med['p99_ms']:.3f} | {hits} | |")
    bases = [name for name in results if not name.endswith("near cache")]
    for base in bases:
        near = f"{base}, near cache"
        ratio = statistics.median(s["rps"] for s in results[near]) / statistics.median(s["rps"] for s in results[base])
        print(f"{near} / {base}: {ratio:.2f}x")


if __name__ == "__main__":
    main()
