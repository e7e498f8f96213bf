#!/usr/bin/env python3
"""The cost of consistency across processes: versioned writes and newest reads against
one-replica reads, and against the binary from before versions (`--before`), side by side in
one run, over three node processes with R = 2.

Proxy section: redis-benchmark (50 clients, 100k-key space, 32-byte values) through
`cachering proxy` at pipeline 1 and 16, GET and SET, for each configuration: the binary
before versions (its proxy, default settings), this binary with `--read-consistency one`, and
this binary's defaults (newest). Client section: the library's load generator
(`client_load`, 50 tasks, 1 or 16 requests in flight each) with newest and one-replica reads.
Configurations alternate over rounds; medians of requests per second, p50 and p99 (ms).

    python3 benches/load/consistency_cost.py [--rounds 3] [--before PATH/TO/OLD/cachering]

Needs redis-benchmark (`apt-get install -y redis-tools`).
"""

import argparse
import os
import statistics
import subprocess
import sys

sys.path.insert(0, os.path.dirname(__file__))
from node_vs_redis import ROOT, Server, free_port, need  # noqa: E402


def bench(port: int, test: str, pipeline: int, requests: int) -> dict:
    argv = [need("redis-benchmark", "redis-tools"), "-p", str(port), "-c", "50", "-r", "100000", "-d", "32",
            "-n", str(requests), "-P", str(pipeline), "-t", test, "--csv"]
    out = subprocess.run(argv, capture_output=True, text=True, check=True).stdout
    header, *rows = [line.replace('"', "").split(",") for line in out.strip().splitlines()]
    for row in rows:
        if row[0].upper() == test.upper():
            values = dict(zip(header, row))
            return {"rps": float(values["rps"]), "p50": float(values["p50_latency_ms"]),
                    "p99": float(values["p99_latency_ms"])}
    raise RuntimeError(out)


def client_load(tool: str, nodes: str, consistency: str, test: str, depth: int, requests: int) -> dict:
    out = subprocess.run([tool, "--nodes", nodes, "--replicas", "2", "--consistency", consistency, "--test", test,
                          "--depth", str(depth), "--requests", str(requests)],
                         capture_output=True, text=True, check=True).stdout
    values = dict(item.split("=") for item in out.split())
    return {"rps": float(values["rps"]), "p50": float(values["p50_ms"]), "p99": float(values["p99_ms"])}


def medians(samples: list) -> dict:
    return {field: statistics.median(s[field] for s in samples) for field in ("rps", "p50", "p99")}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--requests", type=int, default=200_000)
    parser.add_argument("--binary", default=str(ROOT / "target" / "release" / "cachering"))
    parser.add_argument("--before", default="", help="a cachering binary from before versions")
    args = parser.parse_args()
    subprocess.run(["cargo", "build", "--release", "-p", "cachering", "-p", "cachering-benches", "--bin",
                    "cachering", "--bin", "client_load"], cwd=ROOT, check=True, capture_output=True)
    tool = str(ROOT / "target" / "release" / "client_load")
    nodes = []
    for _ in range(3):
        port = free_port()
        nodes.append(Server("node", [args.binary, "node", "--port", str(port), "--log-level", "warn"], port))
    node_list = ",".join(f"127.0.0.1:{n.port}" for n in nodes)
    proxy_configs = [("newest", args.binary, []), ("one", args.binary, ["--read-consistency", "one"])]
    if args.before:
        proxy_configs.insert(0, ("before", args.before, []))
    results: dict = {}
    try:
        for _ in range(args.rounds):
            for name, binary, flags in proxy_configs:
                port = free_port()
                proxy = Server("proxy", [binary, "proxy", "--port", str(port), "--nodes", node_list, "--replicas", "2",
                                         "--log-level", "warn", *flags], port)
                try:
                    for test in ("set", "get"):
                        for pipeline in (1, 16):
                            results.setdefault(("proxy", name, test, pipeline), []).append(
                                bench(port, test, pipeline, args.requests))
                finally:
                    proxy.stop()
            for consistency in ("newest", "one"):
                for test in ("set", "get"):
                    for depth in (1, 16):
                        results.setdefault(("client", consistency, test, depth), []).append(
                            client_load(tool, node_list, consistency, test, depth, args.requests))
    finally:
        for node in nodes:
            node.stop()
    print(f"\nthree nodes, R = 2, medians of {args.rounds} rounds (requests/s, p50 and p99 in ms)")
    for kind, names in (("proxy", [c[0] for c in proxy_configs]), ("client", ["newest", "one"])):
        print(f"\n{kind}")
        print(f"{'test':<5}{'P':>4}" + "".join(f"{n + ' rps':>14}{'p50':>8}{'p99':>8}" for n in names)
              + f"{'newest/one':>12}")
        for test in ("set", "get"):
            for depth in (1, 16):
                m = {n: medians(results[(kind, n, test, depth)]) for n in names}
                line = f"{test.upper():<5}{depth:>4}"
                for n in names:
                    line += f"{m[n]['rps']:>14.0f}{m[n]['p50']:>8.3f}{m[n]['p99']:>8.3f}"
                line += f"{m['newest']['rps'] / m['one']['rps']:>12.2f}"
                print(line)


if __name__ == "__main__":
    main()
