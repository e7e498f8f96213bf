#!/usr/bin/env python3
"""The cost of consistency across processes: versioned writes and newest reads against
one-replica reads, and against the binaries from before versions (`--before`,
`--before-load`), side by side in one run, over three node processes with R = 2.

Proxy section: redis-benchmark (100k-key space, 32-byte values) through `cachering proxy`, GET
and SET, 50 connections at pipeline 1 and 16 and one connection at pipeline 1, for each
configuration: the binary before versions (its proxy, default settings), this binary with
`--read-consistency one`, and this binary's defaults (newest). Client section: the library's
load generator (`client_load`: 50 tasks with 1 or 16 requests in flight each, or one task
with one) with newest and one-replica reads, and the load generator built from before
versions. Configurations alternate over rounds; medians of requests per second, p50 and p99
(ms), and the CPU time the nodes and the proxy spent per request (µs).

    python3 benches/load/consistency_cost.py [--rounds 3] [--before OLD/cachering] [--before-load OLD/client_load]

Needs redis-benchmark (`apt-get install -y redis-tools`).
"""

import argparse
import os
import statistics
import subprocess
import sys

sys.path.insert(0, os.path.dirname(__file__))
from node_vs_redis import ROOT, Server, free_port, need  # noqa: E402

# (test, depth, connections or tasks)
LOADS = [("set", 1, 50), ("set", 16, 50), ("get", 1, 50), ("get", 16, 50), ("get", 1, 1)]
FIELDS = ("rps", "p50", "p99", "node_us", "proxy_us")


def cpu_seconds(pid: int) -> float:
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class Cpu:
    """CPU time the given processes spend during a block, per request."""

    def __init__(self, nodes: list, proxy=None):
        self.pids = [n.process.pid for n in nodes]
        self.proxy = proxy.process.pid if proxy else None

    def __enter__(self):
        self.nodes_before = sum(cpu_seconds(p) for p in self.pids)
        self.proxy_before = cpu_seconds(self.proxy) if self.proxy else 0.0
        return self

    def __exit__(self, *_):
        self.nodes = sum(cpu_seconds(p) for p in self.pids) - self.nodes_before
        self.proxy_spent = (cpu_seconds(self.proxy) - self.proxy_before) if self.proxy else 0.0

    def add_to(self, sample: dict, requests: int) -> dict:
        sample["node_us"] = self.nodes / requests * 1e6
        sample["proxy_us"] = self.proxy_spent / requests * 1e6
        return sample


def bench(port: int, test: str, pipeline: int, clients: int, requests: int) -> dict:
    argv = [need("redis-benchmark", "redis-tools"), "-p", str(port), "-c", str(clients), "-r", "100000", "-d",
            "32", "-n", str(requests), "-P", str(pipeline), "-t", test, "--csv"]
    out = subprocess.run(argv, capture_output=True, text=True, check=True).stdout
    header, *rows = [line.replace('"', "").split(",") for line in out.strip().splitlines()]
    for row in rows:
        if row[0].upper() == test.upper():
            values = dict(zip(header, row))
            return {"rps": float(values["rps"]), "p50": float(values["p50_latency_ms"]),
                    "p99": float(values["p99_latency_ms"])}
    raise RuntimeError(out)


def client_load(tool: str, nodes: str, consistency: str, test: str, depth: int, clients: int,
                requests: int) -> dict:
    out = subprocess.run([tool, "--nodes", nodes, "--replicas", "2", "--consistency", consistency, "--test", test,
                          "--depth", str(depth), "--clients", str(clients), "--requests", str(requests)],
                         capture_output=True, text=True, check=True).stdout
    values = dict(item.split("=") for item in out.split())
    return {"rps": float(values["rps"]), "p50": float(values["p50_ms"]), "p99": float(values["p99_ms"])}


def medians(samples: list) -> dict:
    return {field: statistics.median(s[field] for s in samples) for field in FIELDS}


def report(kind: str, names: list, results: dict) -> None:
    print(f"\n{kind}")
    base = "before" if "before" in names else "one"
    print(f"{'test':<5}{'P':>3}{'c':>4}" + "".join(f"{n + ' rps':>13}{'p50':>7}{'p99':>7}{'cpu':>6}" for n in names)
          + f"{'newest/' + base:>14}{'p50 +ms':>9}")
    for test, depth, clients in LOADS:
        m = {n: medians(results[(kind, n, test, depth, clients)]) for n in names}
        line = f"{test.upper():<5}{depth:>3}{clients:>4}"
        for n in names:
            line += f"{m[n]['rps']:>13.0f}{m[n]['p50']:>7.3f}{m[n]['p99']:>7.3f}"
            line += f"{m[n]['node_us'] + m[n]['proxy_us']:>6.2f}"
        line += f"{m['newest']['rps'] / m[base]['rps']:>14.2f}{m['newest']['p50'] - m[base]['p50']:>+9.3f}"
        print(line)
    print("(cpu: µs of node and proxy CPU time per request)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--requests", type=int, default=200_000)
    parser.add_argument("--binary", default=str(ROOT / "target" / "release" / "cachering"))
    parser.add_argument("--before", default="", help="a cachering binary from before versions")
    parser.add_argument("--before-load", default="", help="client_load built from before versions")
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
    client_configs = [("newest", tool, "newest"), ("one", tool, "one")]
    if args.before_load:
        client_configs.insert(0, ("before", args.before_load, "one"))
    results: dict = {}

    def requests_for(clients: int) -> int:
        return args.requests if clients > 1 else args.requests // 10

    try:
        for _ in range(args.rounds):
            for name, binary, flags in proxy_configs:
                port = free_port()
                proxy = Server("proxy", [binary, "proxy", "--port", str(port), "--nodes", node_list, "--replicas", "2",
                                         "--log-level", "warn", *flags], port)
                try:
                    for test, depth, clients in LOADS:
                        requests = requests_for(clients)
                        with Cpu(nodes, proxy) as cpu:
                            sample = bench(port, test, depth, clients, requests)
                        results.setdefault(("proxy", name, test, depth, clients), []).append(
                            cpu.add_to(sample, requests))
                finally:
                    proxy.stop()
            for name, binary, consistency in client_configs:
                for test, depth, clients in LOADS:
                    requests = requests_for(clients)
                    with Cpu(nodes) as cpu:
                        sample = client_load(binary, node_list, consistency, test, depth, clients, requests)
                    results.setdefault(("client", name, test, depth, clients), []).append(
                        cpu.add_to(sample, requests))
    finally:
        for node in nodes:
            node.stop()
    print(f"\nthree nodes, R = 2, medians of {args.rounds} rounds (requests/s, p50 and p99 in ms; P = pipeline "
          "depth or requests in flight per client, c = connections or tasks)")
    report("proxy", [c[0] for c in proxy_configs], results)
    report("client", [c[0] for c in client_configs], results)


if __name__ == "__main__":
    main()
