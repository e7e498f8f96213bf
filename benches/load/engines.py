#!/usr/bin/env python3
"""The node's store engines side by side, with redis-server and memcached, in one run.

memory      1M keys of 16 bytes, values of 32 and 100 bytes, without and with a time to live
            (an hour) on every key, loaded into each server; resident memory growth per key
throughput  redis-benchmark (50 clients, 100k-key space, 32-byte values) SET and GET at
            pipeline 1 and 16 against a node of each engine (compact, quick), alternated over
            rounds; medians and the ratio compact / quick

    python3 benches/load/engines.py [--only memory,throughput] [--keys 1000000] [--rounds 5]

Needs redis-server and redis-benchmark (`apt-get install -y redis-server redis-tools`) and
memcached (`apt-get install -y memcached`).
"""

import argparse
import os
import socket
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(__file__))
from node_vs_redis import ROOT, Server, alternate, free_port, need, start_node, start_redis  # noqa: E402

TTL = 3600


def start_memcached() -> Server:
    port = free_port()
    argv = [need("memcached", "memcached"), "-p", str(port), "-U", "0", "-l", "127.0.0.1", "-m", "8192", "-u", "root"]
    return Server("memcached", argv, port)


def load_resp(server: Server, keys: int, value_size: int, ttl: bool) -> None:
    cli = need("redis-cli", "redis-tools")
    value = "v" * value_size
    tail = f"$2\r\nEX\r\n${len(str(TTL))}\r\n{TTL}\r\n" if ttl else ""
    head = "*5" if ttl else "*3"
    for start in range(0, keys, 100_000):
        lines = [f"{head}\r\n$3\r\nSET\r\n$16\r\nkey:{i:012d}\r\n${value_size}\r\n{value}\r\n{tail}"
                 for i in range(start, min(start + 100_000, keys))]
        subprocess.run([cli, "-p", str(server.port), "--pipe"], input="".join(lines).encode(),
                       capture_output=True, check=True)


def load_memcached(server: Server, keys: int, value_size: int, ttl: bool) -> None:
    value = "v" * value_size
    expiry = TTL if ttl else 0
    with socket.create_connection(("127.0.0.1", server.port)) as conn:
        for start in range(0, keys, 10_000):
            batch = "".join(f"set key:{i:012d} 0 {expiry} {value_size} noreply\r\n{value}\r\n"
                            for i in range(start, min(start + 10_000, keys)))
            conn.sendall(batch.encode())
        # A last request with a reply: every set before it has been applied.
        conn.sendall(b"version\r\n")
        reply = b""
        while not reply.endswith(b"\r\n"):
            reply += conn.recv(4096)


def per_key(server: Server, keys: int, value_size: int, ttl: bool) -> float:
    try:
        time.sleep(0.2)
        before = server.rss()
        if server.name == "memcached":
            load_memcached(server, keys, value_size, ttl)
        else:
            load_resp(server, keys, value_size, ttl)
        time.sleep(0.5)
        return (server.rss() - before) / keys
    finally:
        server.stop()


def memory(binary: str, keys: int) -> None:
    servers = (
        ("cachering compact", lambda: start_node(binary, "compact")),
        ("cachering quick", lambda: start_node(binary, "quick")),
        ("cachering moka", lambda: start_node(binary, "moka")),
        ("redis-server", start_redis),
        ("memcached", start_memcached),
    )
    columns = [(32, False), (32, True), (100, False), (100, True)]
    print(f"\nresident memory per key, {keys} keys of 16 bytes (RSS growth / keys)")
    print(f"{'server':<20}" + "".join(f"{f'{v} B' + (' + TTL' if t else ''):>14}" for v, t in columns))
    for name, make in servers:
        row = [per_key(make(), keys, value, ttl) for value, ttl in columns]
        print(f"{name:<20}" + "".join(f"{b:>14.1f}" for b in row))


def throughput(binary: str, rounds: int, requests: int) -> None:
    alternate({"compact": lambda: start_node(binary, "compact"), "quick": lambda: start_node(binary, "quick")},
              rounds, requests, "throughput")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--only", default="memory,throughput")
    parser.add_argument("--keys", type=int, default=1_000_000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--requests", type=int, default=200_000)
    parser.add_argument("--binary", default=str(ROOT / "target" / "release" / "cachering"))
    args = parser.parse_args()
    if not os.path.exists(args.binary):
        subprocess.run(["cargo", "build", "--release", "-p", "cachering"], cwd=ROOT, check=True)
    sections = args.only.split(",")
    if "memory" in sections:
        memory(args.binary, args.keys)
    if "throughput" in sections:
        throughput(args.binary, args.rounds, args.requests)


if __name__ == "__main__":
    main()
