#!/usr/bin/env python3
"""How fast a node that restarted empty gets its keys back: three node processes and one
`cachering proxy` (R = 2); N keys of 32 bytes written through the proxy; one node killed
(-9) and started again on its port; the proxy, meeting the new run id on its next request,
refills it in the background from the other two (`docs/client.md`, Refill). Timed from the
restart to the proxy's INFO showing `refilling=0` for the node with its keys back; keys per
second. Each size runs `--rounds` times; medians.

    python3 benches/load/refill.py [--keys 100000 500000] [--rounds 3]
"""

import argparse
import os
import socket
import statistics
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(__file__))
from node_vs_redis import ROOT, Server, free_port  # noqa: E402

BINARY = str(ROOT / "target" / "release" / "cachering")


class Conn:
    """A minimal RESP2 connection: commands out, one reply back."""

    def __init__(self, port: int):
        self.sock = socket.create_connection(("127.0.0.1", port))
        self.file = self.sock.makefile("rb")

    def send(self, *args: bytes) -> None:
        self.sock.sendall(b"*%d\r\n" % len(args) + b"".join(b"$%d\r\n%s\r\n" % (len(a), a) for a in args))

    def reply(self):
        line = self.file.readline()
        kind, rest = line[:1], line[1:-2]
        if kind in b"+-:":
            return rest
        if kind == b"$":
            n = int(rest)
            return None if n < 0 else self.file.read(n + 2)[:-2]
        return [self.reply() for _ in range(int(rest))]

    def call(self, *args: bytes):
        self.send(*args)
        return self.reply()


def node(port: int) -> Server:
    return Server("node", [BINARY, "node", "--port", str(port), "--log-level", "warn"], port)


def start_ring(node=node) -> tuple[list[int], list[Server], int, Server]:
    """Three node processes (made by `node`) and a proxy over them, R = 2: the node ports, the
    nodes, the proxy's port and the proxy."""
    ports = [free_port() for _ in range(3)]
    nodes = [node(p) for p in ports]
    proxy_port = free_port()
    proxy = Server("proxy", [BINARY, "proxy", "--port", str(proxy_port), "--replicas", "2",
                             "--nodes", ",".join(f"127.0.0.1:{p}" for p in ports),
                             "--log-level", "warn"], proxy_port)
    return ports, nodes, proxy_port, proxy


def one_run(keys: int) -> tuple[float, int]:
    ports, nodes, proxy_port, proxy = start_ring()
    try:
        front = Conn(proxy_port)
        for start in range(0, keys, 1000):
            batch = range(start, min(keys, start + 1000))
            for i in batch:
                front.send(b"SET", b"key:%d" % i, b"v" * 32)
            for _ in batch:
                front.reply()
        held = int(Conn(ports[0]).call(b"DBSIZE"))
        nodes[0].stop()
        nodes[0] = node(ports[0])
        started = time.monotonic()
        front.call(b"DBSIZE")  # the proxy meets the new run id
        target = f"127.0.0.1:{ports[0]}".encode()
        back = Conn(ports[0])
        while True:
            info = front.call(b"INFO")
            line = next(l for l in info.split(b"\r\n") if target in l)
            if b"refilling=0" in line and int(back.call(b"DBSIZE")) >= held:
                return time.monotonic() - started, held
            if time.monotonic() - started > 600:
                raise RuntimeError(f"no refill: {line!r}")
            time.sleep(0.02)
    finally:
        for server in nodes + [proxy]:
            server.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--keys", type=int, nargs="+", default=[100_000, 500_000])
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    if not os.path.exists(BINARY):
        subprocess.run(["cargo", "build", "--release", "-p", "cachering"], cwd=ROOT, check=True)
    print("| keys written | keys on the restarted node | refill time (s) | keys per second |")
    print("|---|---|---|---|")
    for keys in args.keys:
        runs = [one_run(keys) for _ in range(args.rounds)]
        seconds = statistics.median(t for t, _ in runs)
        held = runs[0][1]
        print(f"| {keys:,} | {held:,} | {seconds:.2f} | {held / seconds:,.0f} |")


if __name__ == "__main__":
    main()
