#!/usr/bin/env python3
"""Load comparison: `cachering node` against `redis-server`, on this machine, in one run.

Runs redis-benchmark (50 clients, 100k-key space, 32-byte values, SET and GET, pipeline 1 and
16) against a node and a redis-server started here, alternating the two over several rounds,
and prints medians and ratios (node / redis). Then loads 1M keys of 16 + 32 bytes into each
server (and each node engine) and prints the resident memory per key.

Both servers are started and stopped by this script, on loopback ports it picks.
Needs: redis-server and redis-benchmark (`apt-get install -y redis-server redis-tools`).

    python3 benches/load/node_vs_redis.py [--rounds 3] [--requests 200000] [--keys 1000000]
"""

import argparse
import os
import pathlib
import shutil
import socket
import statistics
import subprocess
import sys
import time

ROOT = pathlib.Path(__file__).resolve().parents[2]


def need(tool: str, package: str) -> str:
    path = shutil.which(tool)
    if path is None:
        sys.exit(f"{tool} is missing: install it with `apt-get install -y {package}`")
    return path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_port(port: int) -> None:
    deadline = time.time() + 10
    while time.time() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"nothing listens on {port}")


class Server:
    def __init__(self, name: str, argv: list[str], port: int):
        self.name, self.port = name, port
        self.process = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_port(port)

    def rss(self) -> int:
        with open(f"/proc/{self.process.pid}/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")

    def stop(self) -> None:
        self.process.kill()
        self.process.wait()


def start_redis(maxmemory: str = "0") -> Server:
    port = free_port()
    argv = [need("redis-server", "redis-server"), "--port", str(port), "--bind", "127.0.0.1",
            "--save", "", "--appendonly", "no", "--maxmemory", maxmemory]
    return Server("redis", argv, port)


def start_node(binary: str, store: str = "compact", maxmemory: str = "0") -> Server:
    port = free_port()
    argv = [binary, "node", "--port", str(port), "--store", store, "--maxmemory", maxmemory,
            "--log-level", "warn"]
    return Server(f"node-{store}", argv, port)


def benchmark(port: int, test: str, pipeline: int, requests: int) -> float:
    out = subprocess.run(
        [need("redis-benchmark", "redis-tools"), "-p", str(port), "-c", "50", "-r", "100000",
         "-d", "32", "-n", str(requests), "-P", str(pipeline), "-t", test, "--csv", "-q"],
        capture_output=True, text=True, check=True,
    ).stdout
    for line in out.splitlines():
        fields = [f.strip('"') for f in line.split(",")]
        if fields and fields[0].upper() == test.upper():
            return float(fields[1])
    raise RuntimeError(f"no result for {test} in: {out}")


def alternate(starts: dict, rounds: int, requests: int, label: str) -> None:
    """Runs SET and GET at pipeline 1 and 16 against a fresh server of each kind in `starts`
    (name -> function starting one), alternating the kinds over `rounds`, and prints the
    medians and the ratio of the first kind to the second."""
    results: dict[tuple[str, str, int], list[float]] = {}
    for _ in range(rounds):
        for name, start in starts.items():
            server = start()
            try:
                for test in ("set", "get"):
                    for pipeline in (1, 16):
                        results.setdefault((name, test, pipeline), []).append(benchmark(server.port, test, pipeline, requests))
            finally:
                server.stop()
    first, second = list(starts)[:2]
    print(f"\n{label} (requests/s, median of {rounds} rounds)")
    print(f"{'test':<6}{'pipeline':>9}{first:>12}{second:>12}{'ratio':>8}")
    for test in ("set", "get"):
        for pipeline in (1, 16):
            a = statistics.median(results[(first, test, pipeline)])
            b = statistics.median(results[(second, test, pipeline)])
            print(f"{test.upper():<6}{pipeline:>9}{a:>12.0f}{b:>12.0f}{a / b:>8.3f}")


def load_keys(server: Server, keys: int) -> None:
    cli = need("redis-cli", "redis-tools")
    value = "v" * 32
    batch = 100_000
    for start in range(0, keys, batch):
        lines = []
        for i in range(start, min(start + batch, keys)):
            key = f"key:{i:012d}"
            lines.append(f"*3\r\n$3\r\nSET\r\n$16\r\n{key}\r\n$32\r\n{value}\r\n")
        subprocess.run([cli, "-p", str(server.port), "--pipe"], input="".join(lines).encode(),
                       capture_output=True, check=True)


def bytes_per_key(make, keys: int) -> float:
    server = make()
    try:
        time.sleep(0.2)
        before = server.rss()
        load_keys(server, keys)
        time.sleep(0.5)
        return (server.rss() - before) / keys
    finally:
        server.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--requests", type=int, default=200_000)
    parser.add_argument("--keys", type=int, default=1_000_000)
    parser.add_argument("--binary", default=str(ROOT / "target" / "release" / "cachering"))
    parser.add_argument("--only", default="throughput,memory", help="sections to run")
    args = parser.parse_args()
    sections = args.only.split(",")
    if not os.path.exists(args.binary):
        subprocess.run(["cargo", "build", "--release", "-p", "cachering"], cwd=ROOT, check=True)

    print(f"machine: {os.cpu_count()} cores, {socket.gethostname()}; redis: "
          + subprocess.run([need("redis-server", "redis-server"), "--version"], capture_output=True, text=True).stdout.split()[2])
    if "throughput" in sections:
        throughput(args)
    if "memory" in sections:
        print(f"\nmemory per key, {args.keys} keys of 16 + 32 bytes (RSS growth / keys)")
        for name, make in (("redis-server", start_redis),
                           ("cachering compact", lambda: start_node(args.binary, "compact")),
                           ("cachering quick", lambda: start_node(args.binary, "quick")),
                           ("cachering moka", lambda: start_node(args.binary, "moka"))):
            print(f"{name:<18}{bytes_per_key(make, args.keys):>8.1f} bytes")


def throughput(args: argparse.Namespace) -> None:
    results: dict[tuple[str, str, int], list[float]] = {}
    redis = start_redis()
    node = start_node(args.binary)
    try:
        for _ in range(args.rounds):
            for test in ("set", "get"):
                for pipeline in (1, 16):
                    for server in (node, redis):
                        rate = benchmark(server.port, test, pipeline, args.requests)
                        results.setdefault((server.name, test, pipeline), []).append(rate)
    finally:
        redis.stop()
        node.stop()

    print("\nthroughput (requests/s, median of %d rounds)" % args.rounds)
    print(f"{'test':<6}{'pipeline':>9}{'cachering':>14}{'redis':>14}{'ratio':>8}")
    for test in ("set", "get"):
        for pipeline in (1, 16):
            ours = statistics.median(results[("node-quick", test, pipeline)])
            theirs = statistics.median(results[("redis", test, pipeline)])
            print(f"{test.upper():<6}{pipeline:>9}{ours:>14.0f}{theirs:>14.0f}{ours / theirs:>8.2f}")


if __name__ == "__main__":
    main()
