#!/usr/bin/env python3
"""The cost of metrics: redis-benchmark against a node serving /metrics (commands timed into
histograms) and a node without, alternated in one run, medians, ratio on/off.

    python3 benches/load/metrics_cost.py [--rounds 5] [--requests 200000]
"""

import argparse
import os
import subprocess
import sys

sys.path.insert(0, os.path.dirname(__file__))
from node_vs_redis import ROOT, Server, alternate, free_port  # noqa: E402


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
    alternate({"metrics on": lambda: start(args.binary, True), "off": lambda: start(args.binary, False)},
              args.rounds, args.requests, "throughput")


if __name__ == "__main__":
    main()
