"""`cachering up`, `ring` and `status` as a user runs them."""

import signal
import subprocess
import time

import redis

from conftest import Node, cachering_binary, free_port, free_port_run, start_up
import ring_reference


def test_up_starts_a_cluster_and_stops_on_ctrl_c():
    port = free_port_run(4)
    metrics_port = free_port()
    process, text = start_up(port, metrics_port)
    try:
        assert f"metrics http://127.0.0.1:{metrics_port}/metrics" in text, text
        assert f"proxy  127.0.0.1:{port}" in text, text
        for i in (1, 2, 3):
            assert f"node   127.0.0.1:{port + i}" in text, text
        assert f"redis-cli -p {port} set greeting hello" in text
        r = redis.Redis(port=port, decode_responses=True)
        assert r.set("greeting", "hello") is True
        assert r.get("greeting") == "hello"
        # The key sits on two of the three nodes.
        copies = sum(redis.Redis(port=port + i).exists("greeting") for i in (1, 2, 3))
        assert copies == 2
        process.send_signal(signal.SIGINT)
        out, _ = process.communicate(timeout=20)
        assert process.returncode == 0
        assert "stopped" in out
    finally:
        if process.poll() is None:
            process.kill()


def test_ring_lists_each_keys_node_order():
    nodes = "10.0.0.1:6379,10.0.0.2:6379,10.0.0.3:6379,cache-d.internal:6380=cache-d.internal:6380*2"
    out = subprocess.run([cachering_binary(), "ring", "--nodes", nodes, "--replicas", "3", "a", "foo", "user:1000"],
                         capture_output=True, text=True, check=True).stdout
    ring = ring_reference.Ring([("10.0.0.1:6379", 1.0), ("10.0.0.2:6379", 1.0), ("10.0.0.3:6379", 1.0), ("cache-d.internal:6380", 2.0)])
    for line, key in zip(out.splitlines(), ["a", "foo", "user:1000"]):
        assert line.split() == [key, *ring.replicas(key.encode(), 3)]


def test_ring_reports_balance_and_movement():
    out = subprocess.run([cachering_binary(), "ring", "--nodes", "a:1,b:1,c:1,d:1", "--random", "20000"],
                         capture_output=True, text=True, check=True).stdout
    assert "20000 random keys over 4 nodes" in out
    assert out.count("keys  ") == 4
    moved = float(out.split("adding a node would move ")[1].split("%")[0])
    assert 14 < moved < 26  # ideal 20 %
    assert out.count("removing ") == 4


def test_status_shows_every_node():
    nodes = [Node(), Node()]
    try:
        redis.Redis(port=nodes[0].port).set("k", "v")
        redis.Redis(port=nodes[0].port).get("k")
        dead = free_port()
        addrs = [f"127.0.0.1:{n.port}" for n in nodes] + [f"127.0.0.1:{dead}"]
        out = subprocess.run([cachering_binary(), "status", "--nodes", ",".join(addrs), "--timeout-ms", "300"],
                             capture_output=True, text=True, check=True).stdout
        lines = out.splitlines()
        assert lines[0].split()[:3] == ["NODE", "STATE", "RUN"]
        first = lines[1].split()
        assert first[0] == addrs[0] and first[1] == "up" and first[3] == "1" and first[5] == "100.0"
        assert lines[3].split()[:2] == [addrs[2], "down"]
    finally:
        for node in nodes:
            node.stop()


def test_status_through_a_proxy(proxy):
    redis.Redis(port=proxy.port).set("k", "v")
    out = subprocess.run([cachering_binary(), "status", "--proxy", f"127.0.0.1:{proxy.port}"],
                         capture_output=True, text=True, check=True).stdout
    summary, _header, *lines = out.splitlines()
    assert summary == "ring: 3 nodes", out
    assert len(lines) == 3
    assert all(line.split()[1] == "healthy" for line in lines)
    assert sum(int(line.split()[3]) for line in lines) == 2
