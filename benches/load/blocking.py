#!/usr/bin/env python3
"""How fast a blocked consumer wakes: a client waits in BLPOP, another pushes with RPUSH, and
the time from sending the push to receiving the popped element is recorded. Against
redis-server, one node directly, and a `cachering proxy` over three nodes (R = 2, where the
wait is a VWAIT on its own node connection and the pop a mutation copied to the other
replica), in the same run. Also the time of a BLPOP that finds an element at once (the
queue never empty), the common case of a busy consumer.

    python3 benches/load/blocking.py [--rounds 500]
"""

import argparse
import os
import statistics
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(__file__))
from node_vs_redis import ROOT, Server, free_port, start_node, start_redis  # noqa: E402
from resp import Conn  # noqa: E402


def blocked(port: int) -> int:
    info = Conn(port).call(b"INFO", b"clients").decode()
    return int(info.split("blocked_clients:")[1].split("\r\n")[0])


def wake_latency(port: int, waits_on: list[int], rounds: int) -> list[float]:
    """`waits_on`: the servers where the wait shows in `blocked_clients` (a proxy's nodes)."""
    consumer, producer = Conn(port), Conn(port)
    times = []
    for i in range(rounds):
        consumer.send(b"BLPOP", b"queue", b"10")
        deadline = time.time() + 10
        while sum(blocked(p) for p in waits_on) < 1:
            assert time.time() < deadline, "the consumer never blocked"
            time.sleep(0.0005)
        started = time.perf_counter()
        producer.send(b"RPUSH", b"queue", b"job%d" % i)
        got = consumer.reply()
        times.append(time.perf_counter() - started)
        assert b"job%d" % i in got, got
        producer.reply()
    return times


def ready_latency(port: int, rounds: int) -> list[float]:
    conn = Conn(port)
    conn.call(b"RPUSH", b"ready", *[b"job%d" % i for i in range(rounds)])
    times = []
    for _ in range(rounds):
        started = time.perf_counter()
        got = conn.call(b"BLPOP", b"ready", b"10")
        times.append(time.perf_counter() - started)
        assert got.startswith(b"*2"), got
    return times


def start_proxy_over_three(binary: str) -> tuple[Server, list[Server]]:
    nodes = [start_node(binary) for _ in range(3)]
    port = free_port()
    argv = [binary, "proxy", "--port", str(port), "--nodes", ",".join(f"127.0.0.1:{n.port}" for n in nodes),
            "--replicas", "2", "--log-level", "warn"]
    return Server("proxy", argv, port), nodes


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=500)
    parser.add_argument("--binary", default=str(ROOT / "target" / "release" / "cachering"))
    args = parser.parse_args()
    if not os.path.exists(args.binary):
        subprocess.run(["cargo", "build", "--release", "-p", "cachering"], cwd=ROOT, check=True)
    redis = start_redis()
    node = start_node(args.binary)
    proxy, behind = start_proxy_over_three(args.binary)
    rows = []
    try:
        endpoints = (("redis-server", redis, [redis.port]), ("node", node, [node.port]),
                     ("proxy, 3 nodes, R = 2", proxy, [n.port for n in behind]))
        for name, server, waits_on in endpoints:
            wake = wake_latency(server.port, waits_on, args.rounds)
            ready = ready_latency(server.port, args.rounds)
            rows.append((name, wake, ready))
    finally:
        for server in [proxy, node, redis, *behind]:
            server.stop()
    print("| endpoint | wake p50 ms | wake p99 ms | ready BLPOP p50 ms | ready p99 ms |")
    print("|---|---|---|---|---|")
    for name, wake, ready in rows:
        q_wake = statistics.quantiles(wake, n=100)
        q_ready = statistics.quantiles(ready, n=100)
        print(f"| {name} | {statistics.median(wake) * 1e3:.3f} | {q_wake[98] * 1e3:.3f} | "
              f"{statistics.median(ready) * 1e3:.3f} | {q_ready[98] * 1e3:.3f} |")


if __name__ == "__main__":
    main()
