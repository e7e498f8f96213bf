#!/usr/bin/env python3
"""How long an invalidation takes (CLIENT TRACKING): a RESP3 connection with tracking on reads
a key; another connection overwrites it; recorded is the time from sending the write to
receiving the `invalidate` push, and from receiving the write's reply to receiving the push
(the window in which a client-side cache could still serve the old value after the write was
acknowledged; negative when the push came first). Against redis-server and one node in the
same run.

    python3 benches/load/tracking.py [--rounds 2000]
"""

import argparse
import os
import statistics
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(__file__))
from node_vs_redis import ROOT, start_node, start_redis  # noqa: E402
from resp import Conn  # noqa: E402


def measure(port: int, rounds: int) -> tuple[list[float], list[float]]:
    reader, writer = Conn(port), Conn(port)
    reader.call(b"HELLO", b"3")
    reader.call(b"CLIENT", b"TRACKING", b"ON")
    after_send, after_ack = [], []
    for i in range(rounds):
        reader.call(b"GET", b"k")
        sent = time.perf_counter()
        writer.send(b"SET", b"k", b"v%d" % i)
        writer.reply()
        acked = time.perf_counter()
        push = reader.reply()
        got = time.perf_counter()
        assert push.startswith(b">2"), push
        after_send.append(got - sent)
        after_ack.append(got - acked)
    return after_send, after_ack


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=2000)
    parser.add_argument("--binary", default=str(ROOT / "target" / "release" / "cachering"))
    args = parser.parse_args()
    if not os.path.exists(args.binary):
        subprocess.run(["cargo", "build", "--release", "-p", "cachering"], cwd=ROOT, check=True)
    redis = start_redis()
    node = start_node(args.binary)
    try:
        rows = [("redis-server", *measure(redis.port, args.rounds)), ("node", *measure(node.port, args.rounds))]
    finally:
        node.stop()
        redis.stop()
    print("| server | push after the write was sent, p50 / p99 ms | push after the write's reply, p50 / p99 ms |")
    print("|---|---|---|")
    for name, after_send, after_ack in rows:
        q1 = statistics.quantiles(after_send, n=100)
        q2 = statistics.quantiles(after_ack, n=100)
        print(f"| {name} | {statistics.median(after_send) * 1e3:.3f} / {q1[98] * 1e3:.3f} | "
              f"{statistics.median(after_ack) * 1e3:.3f} / {q2[98] * 1e3:.3f} |")


if __name__ == "__main__":
    main()
