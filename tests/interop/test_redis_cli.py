"""redis-cli (Debian's redis-tools) against a node: commands, --pipe mass insertion, --scan,
INFO, and RESP3."""


def test_commands(node):
    assert node.cli("PING") == "PONG\n"
    assert node.cli("SET", "greeting", "hello world") == "OK\n"
    assert node.cli("GET", "greeting") == "hello world\n"
    assert node.cli("GET", "missing") == "\n"
    assert node.cli("INCR", "counter") == "1\n"
    assert node.cli("INCRBY", "counter", "41") == "42\n"
    assert node.cli("EXPIRE", "greeting", "100") == "1\n"
    assert node.cli("TTL", "greeting") == "100\n"
    assert node.cli("MSET", "a", "1", "b", "2") == "OK\n"
    assert node.cli("MGET", "a", "b", "nope") == "1\n2\n\n"
    assert node.cli("DEL", "a", "b") == "2\n"
    assert node.cli("EXISTS", "a") == "0\n"
    assert node.cli("DBSIZE") == "2\n"


def test_errors_read_like_redis(node):
    # redis-cli prints an error reply followed by a blank line, as it does against Redis.
    assert node.cli("NOSUCH", "x") == "ERR unknown command 'NOSUCH', with args beginning with: 'x' \n\n"
    assert node.cli("GET") == "ERR wrong number of arguments for 'get' command\n\n"
    node.cli("SET", "s", "abc")
    assert node.cli("INCR", "s") == "ERR value is not an integer or out of range\n\n"


def test_commands_from_stdin(node):
    out = node.cli(stdin="SET x 10\nINCR x\nGET x\n")
    assert out == "OK\n11\n11\n"


def test_pipe_mass_insertion(node):
    lines = []
    for i in range(20000):
        key, value = f"key:{i}", f"value:{i}"
        lines.append(f"*3\r\n$3\r\nSET\r\n${len(key)}\r\n{key}\r\n${len(value)}\r\n{value}\r\n")
    out = node.cli(stdin="".join(lines).encode(), extra=("--pipe",))
    assert "errors: 0, replies: 20000" in out, out
    assert node.cli("DBSIZE") == "20000\n"
    assert node.cli("GET", "key:19999") == "value:19999\n"


def test_scan(node):
    node.cli(stdin="".join(f"SET user:{i} v\n" for i in range(500)) + "SET other v\n")
    keys = node.cli("--scan", "--pattern", "user:*").split()
    assert sorted(keys) == sorted(f"user:{i}" for i in range(500))
    everything = node.cli("--scan").split()
    assert len(set(everything)) == 501


def test_info(node):
    node.cli("SET", "k", "v")
    info = node.cli("INFO")
    assert "redis_version:" in info
    assert "run_id:" in info
    assert "db0:keys=1,expires=0" in info
    keyspace = node.cli("INFO", "keyspace")
    assert keyspace.startswith("# Keyspace")
    assert "# Server" not in keyspace


def test_resp3(node):
    assert node.cli("SET", "k", "v", extra=("-3",)) == "OK\n"
    assert node.cli("GET", "k", extra=("-3",)) == "v\n"
    assert node.cli("INCRBYFLOAT", "f", "1.5", extra=("-3",)) == "1.5\n"
    hello = node.cli("HELLO", "3", extra=("-3",))
    assert "proto" in hello and "3" in hello


def test_auth(secured_node):
    assert secured_node.cli("GET", "k").startswith("NOAUTH Authentication required.")
    assert secured_node.cli("SET", "k", "v", extra=("-a", "s3cret", "--no-auth-warning")) == "OK\n"
    # A wrong password: redis-cli reports the failed AUTH on stderr, then the command is refused.
    assert secured_node.cli("GET", "k", extra=("-a", "wrong", "--no-auth-warning")).startswith("NOAUTH")


def test_monitor(node):
    # `redis-cli monitor` prints each command another client sends, as against Redis.
    import subprocess
    import threading
    import time

    from conftest import redis_cli

    monitor = subprocess.Popen([redis_cli(), "-p", str(node.port), "monitor"], stdout=subprocess.PIPE, text=True)
    # A monitor that never prints ends the reads with EOF after 10 s instead of hanging.
    watchdog = threading.Timer(10, monitor.kill)
    watchdog.start()
    try:
        assert monitor.stdout.readline() == "OK\n"
        node.cli("SET", "watched", "1")
        node.cli("GET", "watched")
        first, second = monitor.stdout.readline(), monitor.stdout.readline()
    finally:
        watchdog.cancel()
        monitor.kill()
        monitor.wait()
    assert first.split("] ", 1)[1] == '"SET" "watched" "1"\n', first
    assert second.split("] ", 1)[1] == '"GET" "watched"\n', second
    assert float(first.split(" ", 1)[0]) > time.time() - 60
