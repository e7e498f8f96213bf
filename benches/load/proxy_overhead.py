#!/usr/bin/env python3
"""The proxy's overhead: redis-benchmark against `cachering proxy` (one node behind it) and
against the same node directly, in the same run, GET and SET at pipeline 1 and 16. Everything
shares this machine's cores, so the ratio includes the proxy's CPU taken from the others.

    python3 benches/load/proxy_overhead.py [--rounds 3] [--requests 200000]
"""

import argparse
import os
import statistics
import subprocess
import sys

sys.path.insert(0, os.path.dirname(__file__))
from node_vs_redis import ROOT, Server, benchmark, free_port, start_node  # noqa: E402


def start_proxy(binary: str, node_port: int) -> Server:
    port = free_port()
    argv = [binary, "proxy", "--port", str(port), "--nodes", f"127.0.0.1:{node_port}", "--replicas", "1",
            "--log-level", "warn"]
    return Server("proxy", argv, port)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--requests", type=int, default=200_000)
    parser.add_argument("--binary", default=str(ROOT / "target" / "release" / "cachering"))
    args = parser.parse_args()
    if not os.path.exists(args.binary):
        subprocess.run(["cargo", "build", "--release", "-p", "cachering"], cwd=ROOT, check=True)
    node = start_node(args.binary)
    proxy = start_proxy(args.binary, node.port)
    results: dict[tuple[str, str, int], list[float]] = {}
    try:
        for _ in range(args.rounds):
            for test in ("set", "get"):
                for pipeline in (1, 16):
                    for server in (node, proxy):
                        rate = benchmark(server.port, test, pipeline, args.requests)
                        results.setdefault((server.name, test, pipeline), []).append(rate)
    finally:
        proxy.stop()
        node.stop()
    print("throughput (requests/s, median of %d rounds)" % args.rounds)
    print(f"{'test':<6}{'pipeline':>9}{'proxy':>12}{'direct':>12}{'ratio':>8}")
    for test in ("set", "get"):
        for pipeline in (1, 16):
            through = statistics.median(results[("proxy", test, pipeline)])
            direct = statistics.median(results[("node-quick", test, pipeline)])
            print(f"{test.upper():<6}{pipeline:>9}{through:>12.0f}{direct:>12.0f}{through / direct:>8.2f}")


if __name__ == "__main__":
    main()
