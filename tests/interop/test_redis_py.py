"""redis-py (PyPI) against a node, in RESP2 and RESP3: plain commands, pipelines with and
without MULTI/EXEC, scans, errors and authentication."""

import pytest
import redis


@pytest.fixture(params=[2, 3], ids=["resp2", "resp3"])
def r(node, request):
    client = redis.Redis(port=node.port, protocol=request.param, decode_responses=True)
    yield client
    client.close()


def test_strings(r):
    assert r.set("k", "v") is True
    assert r.get("k") == "v"
    assert r.get("missing") is None
    assert r.set("k", "w", nx=True) is None
    assert r.set("k", "w", xx=True, get=True) == "v"
    assert r.set("t", "x", ex=100) is True
    assert r.ttl("t") == 100
    assert r.set("t", "y", keepttl=True) is True
    assert r.ttl("t") == 100
    assert r.setnx("k", "z") is False
    assert r.execute_command("SETEX", "e", 50, "v") in (True, "OK")
    assert r.psetex("p", 50000, "v") is True
    assert r.getset("k", "new") == "w"
    assert r.getdel("k") == "new"
    assert r.getex("e", persist=True) == "v"
    assert r.ttl("e") == -1
    assert r.mset({"a": "1", "b": "2"}) is True
    assert r.mget("a", "b", "c") == ["1", "2", None]
    assert r.msetnx({"a": "9", "z": "9"}) is False
    assert r.append("s", "Hello") == 5
    assert r.append("s", " World") == 11
    assert r.strlen("s") == 11
    assert r.getrange("s", 0, 4) == "Hello"
    assert r.setrange("s", 6, "Redis") == 11
    assert r.get("s") == "Hello Redis"
    assert r.incr("n") == 1
    assert r.incrby("n", 9) == 10
    assert r.decr("n") == 9
    assert r.decrby("n", 10) == -1
    assert r.incrbyfloat("f", 2.5) == 2.5


def test_keys_and_expiry(r):
    r.flushall()
    for i in range(1000):
        r.set(f"user:{i}", i)
    assert r.dbsize() == 1000
    assert r.exists("user:1", "user:2", "nope") == 2
    assert r.type("user:1") == "string"
    assert r.type("nope") == "none"
    assert set(r.scan_iter(match="user:1*", count=50)) == {f"user:{i}" for i in range(1000) if str(i).startswith("1")}
    assert len(r.keys("user:9*")) == 111
    assert r.randomkey().startswith("user:")
    assert r.expire("user:1", 100) is True
    assert r.ttl("user:1") == 100
    assert r.expire("user:1", 200, gt=True) is True
    assert r.expire("user:1", 50, gt=True) is False
    assert 199000 <= r.pttl("user:1") <= 200000
    assert r.persist("user:1") is True
    assert r.ttl("user:1") == -1
    assert r.expireat("user:2", 4102444800) is True
    assert r.expiretime("user:2") == 4102444800
    assert r.delete("user:1", "user:2") == 2
    assert r.unlink("user:3") == 1
    assert r.touch("user:4", "nope") == 1
    assert r.flushdb() is True
    assert r.dbsize() == 0


def test_pipeline_with_transaction(r):
    pipe = r.pipeline()  # MULTI/EXEC by default
    pipe.set("a", "1").incr("a").get("a").mget("a", "nope")
    assert pipe.execute() == [True, 2, "2", ["2", None]]


def test_pipeline_without_transaction(r):
    pipe = r.pipeline(transaction=False)
    for i in range(500):
        pipe.set(f"p{i}", i)
    pipe.get("p499").dbsize()
    results = pipe.execute()
    assert results[:500] == [True] * 500
    assert results[500] == "499"


def test_transaction_errors(r):
    r.set("s", "abc")
    pipe = r.pipeline()
    pipe.set("x", "1").incr("s").get("x")
    with pytest.raises(redis.ResponseError, match="not an integer"):
        pipe.execute()
    assert r.get("x") == "1"


def test_errors(r):
    r.set("s", "abc")
    with pytest.raises(redis.ResponseError, match="value is not an integer or out of range"):
        r.incr("s")
    with pytest.raises(redis.ResponseError, match="unknown command 'NOSUCH'"):
        r.execute_command("NOSUCH")
    with pytest.raises(redis.ResponseError, match="invalid expire time in 'set' command"):
        r.set("k", "v", ex=0)
    assert r.ping() is True


def test_server_and_connection(r):
    info = r.info()
    assert "redis_version" in info
    assert len(info["run_id"]) == 40
    assert r.info("keyspace") is not None
    assert r.info("cluster") == {"cluster_enabled": 0}
    assert r.info("cpu")["used_cpu_user"] >= 0
    assert r.config_get("maxmemory") == {"maxmemory": "268435456"}
    assert r.config_set("maxclients", 5000) is True
    assert r.config_get("maxclients") == {"maxclients": "5000"}
    assert r.client_setname("py") is True
    assert r.client_getname() == "py"
    assert isinstance(r.client_id(), int)
    assert any(c.get("name") == "py" for c in r.client_list())
    assert r.echo("hi") == "hi"
    seconds, micros = r.time()
    assert seconds > 1_700_000_000
    assert r.command_count() > 50


def test_auth(secured_node):
    good = redis.Redis(port=secured_node.port, password="s3cret", decode_responses=True)
    assert good.set("k", "v") is True
    assert good.get("k") == "v"
    bad = redis.Redis(port=secured_node.port, password="wrong")
    with pytest.raises(redis.AuthenticationError):
        bad.get("k")
    anonymous = redis.Redis(port=secured_node.port)
    with pytest.raises(redis.AuthenticationError):
        anonymous.get("k")
    resp3 = redis.Redis(port=secured_node.port, password="s3cret", protocol=3, decode_responses=True)
    assert resp3.get("k") == "v"


@pytest.fixture(params=["node", "proxy"])
def endpoint_port(request):
    """A node, or a proxy over three nodes: the data types answer the same through both."""
    from conftest import Node, Proxy
    started = Node() if request.param == "node" else Proxy()
    yield started.port
    started.stop()


@pytest.mark.parametrize("protocol", [2, 3], ids=["resp2", "resp3"])
def test_hashes(endpoint_port, protocol):
    r = redis.Redis(port=endpoint_port, protocol=protocol, decode_responses=True)
    assert r.hset("user:1", mapping={"name": "Ada", "lang": "Rust"}) == 2
    assert r.hset("user:1", "name", "Grace") == 0
    assert r.hget("user:1", "name") == "Grace"
    assert r.hget("user:1", "nope") is None
    assert r.hmget("user:1", ["name", "nope", "lang"]) == ["Grace", None, "Rust"]
    assert r.hsetnx("user:1", "name", "x") == 0
    assert r.hsetnx("user:1", "visits", "1") == 1
    assert r.hincrby("user:1", "visits", 4) == 5
    assert r.hincrbyfloat("user:1", "score", 1.5) == 1.5
    assert r.hgetall("user:1") == {"name": "Grace", "lang": "Rust", "visits": "5", "score": "1.5"}
    assert r.hkeys("user:1") == ["name", "lang", "visits", "score"]
    assert r.hvals("user:1") == ["Grace", "Rust", "5", "1.5"]
    assert r.hlen("user:1") == 4
    assert r.hexists("user:1", "lang") is True
    assert r.hstrlen("user:1", "name") == 5
    assert r.hdel("user:1", "lang", "nope") == 1
    assert r.hrandfield("user:1") in {"name", "visits", "score"}
    assert r.hrandfield("user:1", 10) == ["name", "visits", "score"]
    pairs = r.hrandfield("user:1", -2, withvalues=True)
    assert len(pairs) == (2 if protocol == 3 else 4)
    assert dict(r.hscan_iter("user:1")) == {"name": "Grace", "visits": "5", "score": "1.5"}
    assert r.type("user:1") == "hash"
    with pytest.raises(redis.ResponseError, match="WRONGTYPE"):
        r.get("user:1")
    r.set("plain", "v")
    with pytest.raises(redis.ResponseError, match="WRONGTYPE"):
        r.hget("plain", "f")
    assert r.hgetall("missing") == {}
    for i in range(300):
        r.hset("big", f"f{i}", i)
    assert r.hlen("big") == 300
    assert len(dict(r.hscan_iter("big", count=20))) == 300
    r.close()


@pytest.mark.parametrize("protocol", [2, 3], ids=["resp2", "resp3"])
def test_sets(endpoint_port, protocol):
    r = redis.Redis(port=endpoint_port, protocol=protocol, decode_responses=True)
    assert r.sadd("tags", "rust", "cache", "redis") == 3
    assert r.sadd("tags", "rust") == 0
    assert r.scard("tags") == 3
    assert r.sismember("tags", "rust") in (True, 1)
    assert r.smismember("tags", ["rust", "go"]) in ([1, 0], [True, False])
    assert r.smembers("tags") == {"rust", "cache", "redis"}
    assert r.srem("tags", "redis", "go") == 1
    assert r.srandmember("tags") in {"rust", "cache"}
    assert sorted(r.srandmember("tags", 5)) == ["cache", "rust"]
    assert set(r.sscan_iter("tags")) == {"rust", "cache"}
    r.sadd("{t}a", "1", "2", "3")
    r.sadd("{t}b", "2", "3", "4")
    assert r.sinter("{t}a", "{t}b") == {"2", "3"}
    assert r.sunion("{t}a", "{t}b") == {"1", "2", "3", "4"}
    assert r.sdiff("{t}a", "{t}b") == {"1"}
    assert r.sinterstore("{t}c", ["{t}a", "{t}b"]) == 2
    assert r.smove("{t}a", "{t}c", "1") in (True, 1)
    assert r.smembers("{t}c") == {"1", "2", "3"}
    assert r.spop("tags") in {"rust", "cache"}
    assert r.type("{t}c") == "set"
    with pytest.raises(redis.ResponseError, match="WRONGTYPE"):
        r.hget("{t}c", "f")
    r.close()


@pytest.mark.parametrize("protocol", [2, 3], ids=["resp2", "resp3"])
def test_sorted_sets(endpoint_port, protocol):
    r = redis.Redis(port=endpoint_port, protocol=protocol, decode_responses=True)

    def pairs(reply):
        # redis-py gives (member, score) tuples in RESP2 and the server's [member, score]
        # arrays in RESP3 (against Redis too).
        return [tuple(pair) for pair in reply]

    assert r.zadd("board", {"ada": 120, "bob": 95, "cy": 130}) == 3
    assert r.zadd("board", {"bob": 200}, xx=True, ch=True) == 1
    assert r.zadd("board", {"dan": 1}, nx=True) == 1
    assert r.zadd("board", {"ada": 10}, gt=True) == 0
    assert r.zadd("board", {"dan": 2.5}, incr=True) == 3.5
    assert r.zscore("board", "ada") == 120.0
    assert r.zscore("board", "nobody") is None
    assert r.zmscore("board", ["cy", "nobody"]) == [130.0, None]
    assert r.zincrby("board", 0.5, "cy") == 130.5
    assert r.zcard("board") == 4
    assert r.zcount("board", 100, "+inf") == 3
    assert r.zrank("board", "dan") == 0
    assert r.zrevrank("board", "bob") == 0
    assert r.zrange("board", 0, 1) == ["dan", "ada"]
    assert pairs(r.zrange("board", 0, 1, withscores=True)) == [("dan", 3.5), ("ada", 120.0)]
    assert pairs(r.zrange("board", 0, 0, desc=True, withscores=True)) == [("bob", 200.0)]
    assert r.zrevrange("board", 0, 1) == ["bob", "cy"]
    assert pairs(r.zrangebyscore("board", 100, 150, withscores=True)) == [
        ("ada", 120.0),
        ("cy", 130.5),
    ]
    assert r.zrevrangebyscore("board", "+inf", 100, start=1, num=1) == ["cy"]
    assert r.zrange("board", "(100", "+inf", byscore=True, offset=0, num=2) == ["ada", "cy"]
    assert dict(r.zscan_iter("board")) == {
        "dan": 3.5,
        "ada": 120.0,
        "cy": 130.5,
        "bob": 200.0,
    }
    assert r.zrandmember("board") in {"dan", "ada", "cy", "bob"}
    # Without a count Redis answers RESP3 with one flat pair, which redis-py passes on.
    assert r.zpopmin("board") == ([("dan", 3.5)] if protocol == 2 else ["dan", 3.5])
    assert pairs(r.zpopmax("board", 2)) == [("bob", 200.0), ("cy", 130.5)]
    assert r.zrem("board", "ada", "nobody") == 1
    assert r.exists("board") == 0
    r.zadd("lex", {"a": 0, "b": 0, "c": 0, "d": 0})
    assert r.zrangebylex("lex", "[b", "(d") == ["b", "c"]
    assert r.zlexcount("lex", "-", "+") == 4
    assert r.zremrangebylex("lex", "[a", "[b") == 2
    assert r.zremrangebyrank("lex", 0, 0) == 1
    assert r.zremrangebyscore("lex", "-inf", "+inf") == 1
    r.zadd("{g}a", {"x": 1, "y": 2})
    r.zadd("{g}b", {"y": 10, "z": 20})
    assert pairs(r.zunion(["{g}a", "{g}b"], withscores=True)) == [
        ("x", 1.0),
        ("y", 12.0),
        ("z", 20.0),
    ]
    assert r.zinter({"{g}a": 2, "{g}b": 1}, aggregate="MAX") == ["y"]
    assert r.zdiff(["{g}a", "{g}b"]) == ["x"]
    assert r.zunionstore("{g}u", ["{g}a", "{g}b"]) == 3
    assert r.zinterstore("{g}i", ["{g}a", "{g}b"], aggregate="MIN") == 1
    assert r.zdiffstore("{g}d", ["{g}a", "{g}b"]) == 1
    assert r.zrangestore("{g}r", "{g}u", 0, 1) == 2
    assert r.zintercard(2, ["{g}a", "{g}b"]) == 1
    assert r.type("{g}u") == "zset"
    with pytest.raises(redis.ResponseError, match="WRONGTYPE"):
        r.sadd("{g}u", "x")
    r.close()


@pytest.mark.parametrize("protocol", [2, 3], ids=["resp2", "resp3"])
def test_lists(endpoint_port, protocol):
    r = redis.Redis(port=endpoint_port, protocol=protocol, decode_responses=True)
    assert r.rpush("jobs", "a", "b", "c") == 3
    assert r.lpush("jobs", "first") == 4
    assert r.lrange("jobs", 0, -1) == ["first", "a", "b", "c"]
    assert r.llen("jobs") == 4
    assert r.lindex("jobs", -1) == "c"
    assert r.lset("jobs", 1, "A") is True
    assert r.linsert("jobs", "AFTER", "A", "a2") == 5
    assert r.lpos("jobs", "b") == 3
    assert r.lpos("jobs", "zz") is None
    assert r.lrem("jobs", 0, "a2") == 1
    assert r.lpop("jobs") == "first"
    assert r.rpop("jobs", 2) == ["c", "b"]
    assert r.lpop("missing", 2) is None
    assert r.lpushx("missing", "x") == 0
    assert r.rpushx("jobs", "z") == 2
    assert r.ltrim("jobs", 0, 0) is True
    assert r.lrange("jobs", 0, -1) == ["A"]
    r.rpush("{q}a", "1", "2", "3")
    assert r.lmove("{q}a", "{q}b", "LEFT", "RIGHT") == "1"
    assert r.rpoplpush("{q}a", "{q}b") == "3"
    assert r.lrange("{q}b", 0, -1) == ["3", "1"]
    assert r.lmpop(2, "{q}none", "{q}b", direction="RIGHT", count=5) == ["{q}b", ["1", "3"]]
    assert r.type("{q}a") == "list"
    with pytest.raises(redis.ResponseError, match="WRONGTYPE"):
        r.sadd("{q}a", "x")
    with pytest.raises(redis.ResponseError, match="no such key"):
        r.lset("missing", 0, "x")
    r.close()


@pytest.mark.parametrize("protocol", [2, 3], ids=["resp2", "resp3"])
def test_bitmaps(endpoint_port, protocol):
    r = redis.Redis(port=endpoint_port, protocol=protocol, decode_responses=False)
    assert r.setbit("flags", 7, 1) == 0
    assert r.setbit("flags", 7, 0) == 1
    assert r.setbit("flags", 100, 1) == 0
    assert r.getbit("flags", 100) == 1
    assert r.bitcount("flags") == 1
    r.set("s", b"abc")
    assert r.bitcount("s", 1, -1) == 7
    assert r.bitcount("s", 0, 1, "bit") == 1
    assert r.bitpos("s", 1) == 1
    assert r.bitpos("s", 1, 7, 15, "bit") == 7
    assert r.bitop("AND", "{b}d", "{b}x", "{b}y") == 0
    r.set("{b}x", b"abc")
    assert r.bitop("NOT", "{b}d", "{b}x") == 3
    assert r.get("{b}d") == bytes(~b & 0xFF for b in b"abc")
    field = r.bitfield("f")
    assert field.set("u8", 0, 300).get("u8", 0).overflow("FAIL").incrby("u8", 0, 300).execute() == [0, 44, None]
    assert r.bitfield_ro("f", "u8", 0, items=[("i8", 0)]) == [44, 44]
    with pytest.raises(redis.ResponseError, match="bit offset"):
        r.setbit("flags", -1, 1)
    r.close()


@pytest.mark.parametrize("protocol", [2, 3], ids=["resp2", "resp3"])
def test_hyperloglog(endpoint_port, protocol):
    r = redis.Redis(port=endpoint_port, protocol=protocol, decode_responses=True)
    assert r.pfadd("{v}mon", "ada", "bob", "ada") == 1
    assert r.pfadd("{v}mon", "ada") == 0
    assert r.pfadd("{v}tue", *[f"user{i}" for i in range(1000)]) == 1
    assert r.pfcount("{v}mon") == 2
    # Redis counts 1,011 for exactly these elements (an estimate: 1,000 were added).
    assert r.pfcount("{v}tue") == 1011
    assert r.pfcount("{v}mon", "{v}tue") == 1013
    assert r.pfmerge("{v}week", "{v}mon", "{v}tue") is True
    assert r.pfcount("{v}week") == 1013
    r.set("{v}plain", "abc")
    with pytest.raises(redis.ResponseError, match="not a valid HyperLogLog"):
        r.pfadd("{v}plain", "x")
    r.close()


@pytest.mark.parametrize("protocol", [2, 3], ids=["resp2", "resp3"])
def test_blocking_lists(endpoint_port, protocol):
    """A consumer blocked in redis-py's blpop/brpop/blmove/blmpop wakes when another
    connection pushes (through a proxy, the ring's blocking route), and times out to None."""
    import threading

    r = redis.Redis(port=endpoint_port, protocol=protocol, decode_responses=True)
    producer = redis.Redis(port=endpoint_port, protocol=protocol, decode_responses=True)

    def push_when_blocked(key, *elements):
        # Waits until the consumer is blocked (INFO blocked_clients), then pushes.
        def run():
            for _ in range(1000):
                if producer.info("clients")["blocked_clients"] >= 1:
                    break
                threading.Event().wait(0.01)
            producer.rpush(key, *elements)
        thread = threading.Thread(target=run)
        thread.start()
        return thread

    thread = push_when_blocked("{w}jobs", "j1", "j2")
    # redis-py gives a tuple in RESP2, a list in RESP3.
    assert list(r.blpop(["{w}none", "{w}jobs"], timeout=10)) == ["{w}jobs", "j1"]
    thread.join()
    assert list(r.brpop(["{w}jobs"], timeout=10)) == ["{w}jobs", "j2"]
    thread = push_when_blocked("{w}src", "m")
    assert r.blmove("{w}src", "{w}dst", 10, "LEFT", "RIGHT") == "m"
    thread.join()
    assert r.lrange("{w}dst", 0, -1) == ["m"]
    thread = push_when_blocked("{w}b", "1", "2")
    assert r.blmpop(10, 2, "{w}a", "{w}b", direction="RIGHT", count=5) == ["{w}b", ["2", "1"]]
    thread.join()
    assert r.blpop(["{w}none"], timeout=0.1) is None
    assert r.brpoplpush("{w}none", "{w}dst", timeout=0.1) is None
    with pytest.raises(redis.ResponseError, match="timeout is negative"):
        r.blpop(["{w}none"], timeout=-1)
    r.close()
    producer.close()


def test_client_side_cache_never_serves_a_changed_value(node):
    """redis-py's own client-side cache (RESP3, CLIENT TRACKING underneath) against a node:
    repeated reads are served from the cache, and once another client's write is acknowledged
    (plus the time its invalidation takes to arrive) the cache never returns the old value."""
    import time
    from redis.cache import CacheConfig
    from redis.connection import CacheProxyConnection

    # redis-py enables its cache only for servers that report Redis 7.4 or later, a
    # compatibility policy of its own: CLIENT TRACKING and the RESP3 invalidate push it relies
    # on are Redis 6.0's, and a node reports 7.0.0, whose semantics it implements. The gate is
    # lowered for this test only.
    CacheProxyConnection.MIN_ALLOWED_VERSION = "7.0.0"
    cached = redis.Redis(port=node.port, protocol=3, cache_config=CacheConfig(), decode_responses=True)
    other = redis.Redis(port=node.port, decode_responses=True)
    other.set("page", "v0")
    assert cached.get("page") == "v0"
    before = other.info("stats")["total_commands_processed"]
    for _ in range(5):
        assert cached.get("page") == "v0"
    after = other.info("stats")["total_commands_processed"]
    assert after - before == 1, "the repeated reads should have been served from the cache (only INFO ran)"
    stale = 0
    for i in range(1, 51):
        other.set("page", f"v{i}")
        time.sleep(0.02)  # the invalidation's way over loopback (well under a millisecond)
        for _ in range(3):
            if cached.get("page") != f"v{i}":
                stale += 1
    assert stale == 0
    other.delete("page")
    time.sleep(0.02)
    assert cached.get("page") is None
    cached.close()
    other.close()
