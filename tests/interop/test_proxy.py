"""The proxy across three node processes, driven by redis-cli and redis-py: routing (checked
directly on the nodes with an independent ring implementation), multi-key splitting, ring-wide
commands, cross-node transactions, and a node killed mid-run."""

import pytest
import redis

import ring_reference


def node_clients(proxy):
    return [redis.Redis(port=n.port, decode_responses=True) for n in proxy.nodes]


def test_keys_live_on_their_ring_nodes(proxy):
    r = redis.Redis(port=proxy.port, decode_responses=True)
    for i in range(200):
        assert r.set(f"user:{i}", f"v{i}") is True
    ring = ring_reference.Ring([(addr, 1.0) for addr in proxy.node_addrs])
    direct = node_clients(proxy)
    for i in range(200):
        owners = set(ring.replicas(f"user:{i}".encode(), 2))
        for addr, node in zip(proxy.node_addrs, direct):
            expected = f"v{i}" if addr in owners else None
            assert node.get(f"user:{i}") == expected, (f"user:{i}", addr)


@pytest.mark.parametrize("protocol", [2, 3])
def test_commands_through_the_proxy(proxy, protocol):
    r = redis.Redis(port=proxy.port, protocol=protocol, decode_responses=True)
    r.flushall()
    assert r.ping() is True
    assert r.set("k", "v", ex=100) is True
    assert r.get("k") == "v"
    assert r.ttl("k") == 100
    assert r.set("k", "w", nx=True) is None
    assert r.incr("n") == 1
    assert r.incrby("n", 4) == 5
    assert r.append("s", "ab") == 2
    assert r.getdel("s") == "ab"
    assert r.mset({f"m{i}": i for i in range(30)}) is True
    assert r.mget([f"m{i}" for i in range(32)]) == [str(i) for i in range(30)] + [None, None]
    assert r.exists("m1", "m2", "nope") == 2
    assert r.delete("m1", "m2", "m3", "nope") == 3
    assert r.dbsize() == 29  # k, n, m0, m4..m29
    assert set(r.keys("m*")) == {f"m{i}" for i in range(30)} - {"m1", "m2", "m3"}
    assert set(r.scan_iter(match="m*", count=5)) == {f"m{i}" for i in range(30)} - {"m1", "m2", "m3"}
    assert r.randomkey() is not None
    assert r.client_setname("py") is True
    assert r.client_getname() == "py"
    info = r.info()
    assert "redis_version" in info
    # Tools (redis-py's own test setup among them) ask whether this is a cluster member.
    assert info["cluster_enabled"] == 0
    with pytest.raises(redis.ResponseError, match="not an integer"):
        r.incr("k")
    with pytest.raises(redis.ResponseError, match="unknown command"):
        r.execute_command("NOSUCH")
    assert r.flushall() is True
    assert r.dbsize() == 0


def test_pipelines_and_transactions(proxy):
    r = redis.Redis(port=proxy.port, decode_responses=True)
    pipe = r.pipeline(transaction=False)
    for i in range(100):
        pipe.set(f"p{i}", i)
    pipe.get("p99")
    assert pipe.execute()[-1] == "99"
    # A transaction over keys kept together by a hash tag works.
    tx = r.pipeline()
    tx.set("{cart}:items", 3).incr("{cart}:items").get("{cart}:items")
    assert tx.execute() == [True, 4, "4"]
    # One over keys on different nodes is refused, with the reason.
    tx = r.pipeline()
    for i in range(20):
        tx.set(f"spread:{i}", i)
    with pytest.raises(redis.ResponseError, match="different nodes"):
        tx.execute()
    assert r.exists(*[f"spread:{i}" for i in range(20)]) == 0


def test_msetnx_only_where_safe(proxy):
    r = redis.Redis(port=proxy.port, decode_responses=True)
    assert r.msetnx({"{t}a": 1, "{t}b": 2}) is True
    assert r.msetnx({"{t}a": 5, "{t}c": 6}) is False
    with pytest.raises(redis.ResponseError, match="different nodes"):
        r.msetnx({f"x{i}": i for i in range(20)})
    # A key given twice takes its last value, as in Redis, on every replica.
    assert proxy.cli("MSETNX", "{t}d", "first", "{t}d", "last") == "1\n"
    assert proxy.cli("GET", "{t}d") == "last\n"


def test_redis_cli_through_the_proxy(proxy):
    assert proxy.cli("SET", "greeting", "hello") == "OK\n"
    assert proxy.cli("GET", "greeting") == "hello\n"
    lines = "".join(f"*3\r\n$3\r\nSET\r\n${len(f'k{i}')}\r\nk{i}\r\n$1\r\nv\r\n" for i in range(5000))
    out = proxy.cli(stdin=lines.encode(), extra=("--pipe",))
    assert "errors: 0, replies: 5000" in out, out
    assert proxy.cli("DBSIZE") == "5001\n"
    assert len(set(proxy.cli("--scan", "--pattern", "k*").split())) == 5000
    info = proxy.cli("INFO")
    assert "# Nodes" in info and info.count("state=healthy") == 3


def test_a_node_killed_mid_run_costs_no_read(proxy):
    r = redis.Redis(port=proxy.port, decode_responses=True)
    for i in range(500):
        r.set(f"key:{i}", f"v{i}")
    proxy.nodes[1].stop()
    for i in range(500):
        assert r.get(f"key:{i}") == f"v{i}"
    # Writes continue on the remaining replicas.
    for i in range(100):
        assert r.set(f"key:{i}", f"w{i}") is True
    assert [r.get(f"key:{i}") for i in range(100)] == [f"w{i}" for i in range(100)]
    assert "state=ejected" in proxy.cli("INFO")


def test_pipelined_requests_keep_their_order(proxy):
    r = redis.Redis(port=proxy.port, decode_responses=True)
    pipe = r.pipeline(transaction=False)
    for i in range(200):
        pipe.set("same", i).get("same").incr("counter").set(f"other:{i}", i)
    results = pipe.execute()
    for i in range(200):
        assert results[4 * i:4 * i + 4] == [True, str(i), i + 1, True]
