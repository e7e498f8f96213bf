#!/usr/bin/env python3
"""The cost of metrics: redis-benchmark against a node serving /metrics (commands timed into
histograms) and a node without, alternated in one run, medians, ratio on/off.

    python3 benches/load/metrics_cost.py [--rounds 5] [--requests 200000]
"""

import argparse
import os
import statistics
import subprocess
import sys

sys.path.insert(0, os.path.dirname(__file__))
from node_vs_redis import ROOT, Server, benchmark, free_port  # noqa: E402


def start(binary: str, metrics: bool) -> Server:
    port = free_port()
    argv = [binary, "node", "--port", str(port), "--log-level", "warn"]
    if metrics:
        argv += ["--metrics-addr", f"127.0.0.1:{free_port()}"]
    return Server("on" if metrics else "off", argv, port)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--requests", type=int, default=200_000)
    parser.add_argument("--binary", default=str(ROOT / "target" / "release" / "cachering"))
    args = parser.parse_args()
    if not os.path.exists(args.binary):
        subprocess.run(["cargo", "build", "--release", "-p", "cachering"], cwd=ROOT, check=True)
    results: dict[tuple[str, str, int], list[float]] = {}
    for _ in range(args.rounds):
        for metrics in (True, False):
            server = start(args.binary, metrics)
            try:
                for test in ("set", "get"):
                    for pipeline in (1, 16):
                        results.setdefault((server.name, test, pipeline), []).append(benchmark(server.port, test, pipeline, args.requests))
            finally:
                server.stop()
    print("throughput (requests/s, median of %d rounds)" % args.rounds)
    print(f"{'test':<6}{'pipeline':>9}{'metrics on':>12}{'off':>12}{'ratio':>8}")
    for test in ("set", "get"):
        for pipeline in (1, 16):
            on = statistics.median(results[("on", test, pipeline)])
            off = statistics.median(results[("off", test, pipeline)])
            print(f"{test.upper():<6}{pipeline:>9}{on:>12.0f}{off:>12.0f}{on / off:>8.3f}")


if __name__ == "__main__":
    main()
