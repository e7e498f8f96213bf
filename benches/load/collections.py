#!/usr/bin/env python3
"""Collections: memory per element against redis-server, and what a write to a large
collection costs on the ring.

Memory: K hashes of F fields (field `f<i>`, value of V bytes), K sets of F members, or K sorted
sets of F members (`f<i>` with score i, or i + 0.5), or K lists of F elements (`f<i>`), loaded into one node and into redis-server
(same machine, same run), RSS growth divided by the elements; small collections stay packed
(listpack in Redis), large ones are tables (a skiplist and a dict for Redis's sorted sets) in
both.

Ring: one hash of N fields behind a proxy (three nodes, R = 2). Timed, medians of
`--writes` sequential writes through the proxy: HSET of one field (run on one replica, replayed
on the other with VAPPLY) against the whole-value copy a replica behind gets (VGET of the dump,
then VSET ... TYPE hash onto another node), with the dump's size.

    python3 benches/load/collections.py [--fields 10000] [--writes 200]
"""

import argparse
import os
import statistics
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(__file__))
from node_vs_redis import ROOT, Server, free_port, start_redis  # noqa: E402
from refill import Conn, start_ring  # noqa: E402

BINARY = str(ROOT / "target" / "release" / "cachering")


def node(port: int) -> Server:
    return Server("node", [BINARY, "node", "--port", str(port), "--maxmemory", "0", "--log-level", "warn"], port)


def load_hashes(conn: Conn, keys: int, fields: int, value: bytes | None, kind: str = "hash") -> None:
    """K hashes of F fields (`f<i>`, `value`), K sets of F members (`f<i>`) when `value` is
    None, or K sorted sets (kind `zset`: `f<i>` scored i, or kind `zset-float`: i + 0.5)."""
    for k in range(keys):
        for start in range(0, fields, 500):
            batch = range(start, min(fields, start + 500))
            if kind == "list":
                args = [b"RPUSH", b"l:%d" % k] + [b"f%d" % f for f in batch]
            elif kind.startswith("zset"):
                args = [b"ZADD", b"z:%d" % k]
                for f in batch:
                    score = b"%d" % f if kind == "zset" else b"%d.5" % f
                    args += [score, b"f%d" % f]
            elif value is None:
                args = [b"SADD", b"s:%d" % k] + [b"f%d" % f for f in batch]
            else:
                args = [b"HSET", b"h:%d" % k]
                for f in batch:
                    args += [b"f%d" % f, value]
            conn.send(*args)
        for start in range(0, fields, 500):
            conn.reply()


def bytes_per_element(server: Server, keys: int, fields: int, value_len: int | None, kind: str) -> float:
    conn = Conn(server.port)
    conn.call(b"FLUSHALL")
    time.sleep(0.2)
    before = server.rss()
    load_hashes(conn, keys, fields, None if value_len is None else b"v" * value_len, kind)
    time.sleep(0.2)
    return (server.rss() - before) / (keys * fields)


def memory(args: argparse.Namespace) -> None:
    print("| collections x elements, value bytes | node B/element | redis B/element | ratio |")
    print("|---|---|---|---|")
    rows = [("hash", 100_000, 10, 10), ("hash", 20_000, 100, 10), ("hash", 10, 100_000, 10),
            ("hash", 10, 100_000, 100), ("set", 100_000, 10, None), ("set", 20_000, 100, None),
            ("set", 10, 100_000, None), ("zset", 100_000, 10, None), ("zset", 20_000, 100, None),
            ("zset", 10, 100_000, None), ("zset-float", 100_000, 10, None), ("zset-float", 10, 100_000, None),
            ("list", 100_000, 10, None), ("list", 20_000, 100, None), ("list", 10, 100_000, None)]
    if args.only:
        rows = [row for row in rows if row[0] == args.only]
    for kind, keys, fields, value_len in rows:
        port = free_port()
        ours = node(port)
        redis = start_redis()
        try:
            mine = bytes_per_element(ours, keys, fields, value_len, kind)
            theirs = bytes_per_element(redis, keys, fields, value_len, kind)
        finally:
            ours.stop()
            redis.stop()
        what = f"{kind} {keys:,} x {fields:,}" + (f", {value_len}" if value_len is not None else "")
        print(f"| {what} | {mine:.1f} | {theirs:.1f} | {mine / theirs:.2f} |")


def ring(args: argparse.Namespace) -> None:
    ports, nodes, proxy_port, proxy = start_ring(node)
    try:
        front = Conn(proxy_port)
        load_hashes(front, 1, args.fields, b"v" * 10)
        holders = [p for p in ports if int(Conn(p).call(b"EXISTS", b"h:0")) == 1]
        spare = next(p for p in ports if p not in holders)
        hset = []
        for i in range(args.writes):
            started = time.perf_counter()
            front.call(b"HSET", b"h:0", b"f%d" % (i % args.fields), b"w%d" % i)
            hset.append(time.perf_counter() - started)
        source, target = Conn(holders[0]), Conn(spare)
        copy, size = [], 0
        for _ in range(args.writes):
            started = time.perf_counter()
            dump, version, kind = source.call(b"VGET", b"h:0")
            target.call(b"VSET", b"h:0", b"%d" % (int(version) + 1), dump, b"TYPE", kind)
            target.call(b"DEL", b"h:0")
            copy.append(time.perf_counter() - started)
            size = len(dump)
        # Same contents (a table's dump lists entries in an order its history decides).
        contents = [sorted(zip(*[iter(Conn(p).call(b"HGETALL", b"h:0"))] * 2)) for p in holders]
        versions = {Conn(p).call(b"VVER", b"h:0")[0] for p in holders}
        replicas_equal = contents[0] == contents[1] and len(versions) == 1
        print(f"hash of {args.fields:,} fields, dump {size:,} bytes; replicas identical: {replicas_equal}")
        print(f"HSET of one field through the proxy (replayed): median {statistics.median(hset) * 1e3:.3f} ms")
        print(f"whole-value copy (VGET + VSET TYPE hash + DEL): median {statistics.median(copy) * 1e3:.3f} ms")
    finally:
        proxy.stop()
        for n in nodes:
            n.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--fields", type=int, default=10_000)
    parser.add_argument("--writes", type=int, default=200)
    parser.add_argument("--skip-memory", action="store_true")
    parser.add_argument("--skip-ring", action="store_true")
    parser.add_argument("--only", choices=["hash", "set", "zset", "zset-float", "list"], help="memory rows of one kind")
    args = parser.parse_args()
    if not os.path.exists(BINARY):
        subprocess.run(["cargo", "build", "--release", "-p", "cachering"], cwd=ROOT, check=True)
    if not args.skip_ring:
        ring(args)
    if not args.skip_memory:
        memory(args)


if __name__ == "__main__":
    main()
