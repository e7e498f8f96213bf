"""`/metrics` on a node and a proxy, parsed as the Prometheus text format, checked against a
known workload and against INFO."""

import time
import urllib.request

import redis
from prometheus_client.parser import text_string_to_metric_families

from conftest import Node, Proxy, free_port, free_port_run, start_up


def scrape(port: int) -> dict:
    """Every sample as {(name, frozenset(labels)): value}."""
    text = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5).read().decode()
    samples = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            samples[(sample.name, frozenset(sample.labels.items()))] = sample.value
    return samples


def value(samples: dict, name: str, **labels) -> float:
    matches = [v for (n, l), v in samples.items() if n == name and set(labels.items()) <= set(l)]
    assert matches, f"no sample {name} {labels}"
    return sum(matches)


def test_node_metrics_follow_a_known_workload_and_agree_with_info():
    metrics_port = free_port()
    node = Node("--metrics-addr", f"127.0.0.1:{metrics_port}")
    try:
        r = redis.Redis(port=node.port, decode_responses=True)
        for i in range(10):
            r.set(f"k{i}", "v")
        for i in range(10):
            assert r.get(f"k{i}") == "v"
        for i in range(5):
            assert r.get(f"missing{i}") is None
        try:
            r.incr("k0")
        except redis.ResponseError:
            pass
        time.sleep(0.4)  # counters are published ten times a second
        samples = scrape(metrics_port)
        assert value(samples, "cachering_node_keyspace_reads_total", result="hit") == 10
        assert value(samples, "cachering_node_keyspace_reads_total", result="miss") == 5
        assert value(samples, "cachering_node_keys") == 10
        assert value(samples, "cachering_node_commands_total", cmd="get") == 15
        assert value(samples, "cachering_node_commands_total", cmd="set") == 10
        assert value(samples, "cachering_node_command_duration_seconds_count", cmd="get") == 15
        assert value(samples, "cachering_node_command_duration_seconds_bucket", cmd="get", le="+Inf") == 15
        # The INCR error (redis-py may add its own refused handshake command).
        assert value(samples, "cachering_node_errors_total", kind="ERR") >= 1
        assert value(samples, "cachering_node_memory_limit_bytes") == 256 * 1024 * 1024
        assert value(samples, "cachering_node_memory_used_bytes") > 0
        assert value(samples, "cachering_node_connections") >= 1
        info = r.info()
        assert info["keyspace_hits"] == 10 and info["keyspace_misses"] == 5
        assert info["total_error_replies"] == value(samples, "cachering_node_errors_total") - value(samples, "cachering_node_errors_total", kind="protocol")
        assert value(samples, "cachering_node_net_bytes_total", direction="in") > 0
    finally:
        node.stop()


def test_proxy_metrics_show_requests_and_an_ejection():
    metrics_port = free_port()
    proxy = Proxy("--metrics-addr", f"127.0.0.1:{metrics_port}")
    try:
        r = redis.Redis(port=proxy.port, decode_responses=True)
        for i in range(100):
            r.set(f"key:{i}", i)
        dead = proxy.node_addrs[1]
        proxy.nodes[1].stop()
        for i in range(100):
            assert r.get(f"key:{i}") == str(i)
        samples = scrape(metrics_port)
        assert value(samples, "cachering_proxy_commands_total", cmd="set") == 100
        assert value(samples, "cachering_proxy_commands_total", cmd="get") == 100
        assert value(samples, "cachering_client_ejections_total", node=dead) == 1
        assert value(samples, "cachering_client_node_state", node=dead) == 1
        assert value(samples, "cachering_client_fallback_reads_total") > 0
        assert value(samples, "cachering_client_requests_total", node=proxy.node_addrs[0]) > 0
        assert value(samples, "cachering_client_request_duration_seconds_count", node=proxy.node_addrs[0]) > 0
    finally:
        proxy.stop()


def test_an_idle_cluster_exports_only_the_commands_that_ran():
    """Per-command series appear once a command has run (as INFO commandstats lists only
    commands called), so a fresh `cachering up` that served one SET and one GET stays under a
    few hundred series instead of thousands of empty histogram buckets."""
    port = free_port_run(4)
    metrics_port = free_port()
    process, _ = start_up(port, metrics_port)
    try:
        r = redis.Redis(port=port, decode_responses=True)
        assert r.set("greeting", "hello") is True
        assert r.get("greeting") == "hello"
        samples = scrape(metrics_port)
        assert len(samples) < 400, f"{len(samples)} series"
        commands = {dict(labels)["cmd"] for (name, labels) in samples if name == "cachering_node_commands_total"}
        assert "vset" in commands, commands
        assert not commands & {"zadd", "lpush", "hset", "flushall"}, commands
        assert value(samples, "cachering_node_commands_total", cmd="vset") == 2  # R = 2
        assert value(samples, "cachering_proxy_commands_total", cmd="set") == 1
        proxy_commands = {dict(labels)["cmd"] for (name, labels) in samples if name == "cachering_proxy_commands_total"}
        # Beside them only the connection handshake redis-py may send (HELLO, CLIENT SETINFO).
        assert proxy_commands - {"client", "hello"} == {"set", "get"}, proxy_commands
        # A command's series appear with its first run, its histogram agreeing with its count.
        assert redis.Redis(port=port + 1).echo("hi") == b"hi"
        samples = scrape(metrics_port)
        assert value(samples, "cachering_node_commands_total", cmd="echo") == 1
        assert value(samples, "cachering_node_command_duration_seconds_count", cmd="echo") == 1
        assert value(samples, "cachering_node_command_duration_seconds_bucket", cmd="echo", le="1") == 1
    finally:
        process.kill()
        process.wait()
