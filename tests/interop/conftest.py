"""Fixtures for the interop tests: real `cachering node` processes on free ports, and the
real clients (redis-cli from Debian's redis-tools, redis-py from PyPI) that drive them."""

import os
import pathlib
import shutil
import socket
import subprocess
import time

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]


def cachering_binary() -> str:
    path = os.environ.get("CACHERING_BIN", str(ROOT / "target" / "debug" / "cachering"))
    if not os.path.exists(path):
        pytest.fail(f"{path} is missing: build it with `cargo build -p cachering` (the README's test command does)")
    return path


def require(name: str, how: str) -> str:
    """The path of the program `name`; the test fails saying `how` to install it if it is missing."""
    path = shutil.which(name)
    if path is None:
        pytest.fail(f"{name} is missing: {how}")
    return path


def tool(name: str, package: str) -> str:
    return require(name, f"install it with `apt-get install -y {package}`")


def redis_cli() -> str:
    return tool("redis-cli", "redis-tools")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def free_port_run(count: int) -> int:
    """The first of `count` consecutive ports that were all free a moment ago (`cachering up`
    takes the port after its proxy's for each node)."""
    for _ in range(100):
        first = free_port()
        if first + count > 65536:
            continue
        sockets = []
        try:
            for port in range(first, first + count):
                s = socket.socket()
                sockets.append(s)
                s.bind(("127.0.0.1", port))
            return first
        except OSError:
            continue
        finally:
            for s in sockets:
                s.close()
    raise RuntimeError(f"no run of {count} free ports found")


def start_listening(what: str, port: int, args: list) -> subprocess.Popen:
    """Starts `cachering <args>` and waits until it accepts connections on `port`."""
    process = subprocess.Popen([cachering_binary(), *args], stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL)
    deadline = time.time() + 10
    while time.time() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return process
        except OSError:
            time.sleep(0.02)
    process.kill()
    raise RuntimeError(f"{what} on port {port} did not start")


def start_up(port: int, metrics_port: int) -> tuple[subprocess.Popen, str]:
    """Starts `cachering up` (proxy on `port`, nodes after it); the process and what it printed
    up to its Ctrl-C line, by which everything listens."""
    process = subprocess.Popen([cachering_binary(), "up", "--port", str(port), "--metrics-addr", f"127.0.0.1:{metrics_port}"],
                               stdout=subprocess.PIPE, text=True)
    lines = []
    while not lines or "Ctrl-C" not in lines[-1]:
        lines.append(process.stdout.readline())
        if not lines[-1]:
            process.kill()
            raise RuntimeError("cachering up exited early")
    return process, "".join(lines)


def run_cli(port: int, args: tuple, stdin, extra: tuple) -> str:
    """redis-cli against `port`; its standard output."""
    data = stdin.encode() if isinstance(stdin, str) else stdin
    result = subprocess.run([redis_cli(), "-p", str(port), *extra, *args], input=data, capture_output=True, timeout=60)
    return result.stdout.decode("utf-8", "replace")


class Node:
    """A node process; `cli(...)` runs redis-cli against it."""

    def __init__(self, *flags: str):
        self.port = free_port()
        self.process = start_listening(
            "node", self.port, ["node", "--port", str(self.port), "--log-level", "warn", *flags])

    def cli(self, *args: str, stdin: str | bytes | None = None, extra: tuple = ()) -> str:
        return run_cli(self.port, args, stdin, extra)

    def stop(self):
        self.process.kill()
        self.process.wait()


@pytest.fixture
def node():
    started = Node()
    yield started
    started.stop()


@pytest.fixture
def secured_node():
    started = Node("--requirepass", "s3cret")
    yield started
    started.stop()


class Proxy:
    """A `cachering proxy` over three node processes."""

    def __init__(self, *flags: str, nodes: int = 3, node_metrics: bool = False):
        self.node_metrics_ports = [free_port() for _ in range(nodes)] if node_metrics else []
        self.nodes = [Node("--metrics-addr", f"127.0.0.1:{port}") for port in self.node_metrics_ports] or [Node() for _ in range(nodes)]
        self.port = free_port()
        self.node_addrs = [f"127.0.0.1:{n.port}" for n in self.nodes]
        self.process = start_listening(
            "proxy", self.port, ["proxy", "--port", str(self.port), "--nodes", ",".join(self.node_addrs),
                                 "--request-timeout-ms", "200", "--log-level", "warn", *flags])

    def cli(self, *args: str, stdin: str | bytes | None = None, extra: tuple = ()) -> str:
        return run_cli(self.port, args, stdin, extra)

    def stop(self):
        self.process.kill()
        self.process.wait()
        for node in self.nodes:
            node.stop()


@pytest.fixture
def proxy():
    started = Proxy()
    yield started
    started.stop()
