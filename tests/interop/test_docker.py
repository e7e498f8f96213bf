"""The Compose file validates, and the stack it describes serves redis-cli through the proxy
container. Uses the cachering:latest image built by docker/build-local.sh."""

import pathlib
import subprocess
import time

from conftest import redis_cli, tool

COMPOSE = pathlib.Path(__file__).resolve().parents[2] / "docker" / "compose.yml"


def compose(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([tool("docker-compose", "docker-compose"), "-f", str(COMPOSE), "-p", "cacheringtest", *args],
                          capture_output=True, text=True, timeout=120)


def test_compose_file_validates():
    result = compose("config", "--quiet")
    assert result.returncode == 0, result.stderr
    services = compose("config", "--services").stdout.split()
    assert {"node1", "node2", "node3", "proxy"} <= set(services)
    profiles = compose("--profile", "monitoring", "config", "--services").stdout.split()
    assert {"prometheus", "grafana"} <= set(profiles)


def test_the_stack_serves_redis_cli_through_the_proxy():
    up = compose("up", "-d", "--no-build", "node1", "node2", "node3", "proxy")
    assert up.returncode == 0, up.stderr
    try:
        deadline = time.time() + 30
        reply = ""
        while time.time() < deadline:
            reply = subprocess.run([redis_cli(), "-p", "7000", "set", "greeting", "hello"], capture_output=True, text=True).stdout
            if reply == "OK\n":
                break
            time.sleep(0.3)
        assert reply == "OK\n", reply
        assert subprocess.run([redis_cli(), "-p", "7000", "get", "greeting"], capture_output=True, text=True).stdout == "hello\n"
        info = subprocess.run([redis_cli(), "-p", "7000", "info"], capture_output=True, text=True).stdout
        assert info.count("state=healthy") == 3, info
        # The key is on two of the three node containers.
        copies = 0
        for node in ("node1", "node2", "node3"):
            out = subprocess.run(["docker", "exec", f"cacheringtest_{node}_1", "/usr/local/bin/cachering", "ping"],
                                 capture_output=True, text=True)
            assert out.returncode == 0, out.stderr
            exists = compose("exec", "-T", node, "/usr/local/bin/cachering", "status", "--nodes", "127.0.0.1:6379")
            copies += int(exists.stdout.splitlines()[1].split()[3])
        assert copies == 2
    finally:
        compose("down", "-t", "2")
