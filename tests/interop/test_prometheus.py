"""A real Prometheus (Debian's `prometheus`) scraping nodes and a proxy; the alert rules pass
promtool; the dashboard and the rules use only documented metrics."""

import json
import pathlib
import re
import subprocess
import tempfile
import time
import urllib.parse
import urllib.request

import redis

from conftest import Proxy, free_port, tool

ROOT = pathlib.Path(__file__).resolve().parents[2]
MONITORING = ROOT / "docker" / "monitoring"


def documented_metrics() -> set:
    doc = (ROOT / "docs" / "metrics.md").read_text()
    return set(re.findall(r"^\| `(cachering_[a-z_]+)` \|", doc, re.M))


def used_metrics(text: str) -> set:
    names = set(re.findall(r"cachering_[a-z_]+", text))
    return {re.sub(r"_(bucket|count|sum)$", "", n) for n in names}


def test_alert_rules_pass_promtool():
    result = subprocess.run([tool("promtool", "prometheus"), "check", "rules", str(MONITORING / "alerts.yml")],
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS: 8 rules found" in result.stdout


def test_dashboard_and_rules_use_documented_metrics():
    documented = documented_metrics()
    dashboard = json.loads((MONITORING / "grafana-dashboard.json").read_text())
    exprs = " ".join(t["expr"] for p in dashboard["panels"] for t in p["targets"])
    for source, text in (("dashboard", exprs), ("alert rules", (MONITORING / "alerts.yml").read_text())):
        used = used_metrics(text)
        assert used, source
        assert used <= documented, f"{source} uses undocumented metrics: {used - documented}"


def query(port: int, expr: str):
    url = f"http://127.0.0.1:{port}/api/v1/query?" + urllib.parse.urlencode({"query": expr})
    result = json.load(urllib.request.urlopen(url, timeout=5))["data"]["result"]
    return float(result[0]["value"][1]) if result else None


def wait_for(port: int, expr: str, expected: float, seconds: float = 30):
    deadline = time.time() + seconds
    got = None
    while time.time() < deadline:
        try:
            got = query(port, expr)
        except OSError:  # Prometheus still starting
            got = None
        if got == expected:
            return
        time.sleep(0.5)
    raise AssertionError(f"{expr} = {got}, expected {expected}")


def test_a_real_prometheus_scrapes_nodes_and_the_proxy():
    prometheus = tool("prometheus", "prometheus")
    proxy_metrics = free_port()
    cluster = Proxy("--metrics-addr", f"127.0.0.1:{proxy_metrics}", node_metrics=True)
    web = free_port()
    with tempfile.TemporaryDirectory() as tmp:
        config = pathlib.Path(tmp) / "prometheus.yml"
        nodes = ", ".join(f'"127.0.0.1:{p}"' for p in cluster.node_metrics_ports)
        config.write_text(
            "global: {scrape_interval: 1s, evaluation_interval: 1s}\n"
            f"rule_files: [\"{MONITORING / 'alerts.yml'}\"]\n"
            "scrape_configs:\n"
            f"  - {{job_name: cachering-node, static_configs: [{{targets: [{nodes}]}}]}}\n"
            f"  - {{job_name: cachering-proxy, static_configs: [{{targets: [\"127.0.0.1:{proxy_metrics}\"]}}]}}\n"
        )
        server = subprocess.Popen([prometheus, f"--config.file={config}", f"--storage.tsdb.path={tmp}/data",
                                   f"--web.listen-address=127.0.0.1:{web}"],
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            wait_for(web, 'count(up{job="cachering-node"} == 1)', 3)
            wait_for(web, 'count(up{job="cachering-proxy"} == 1)', 1)
            r = redis.Redis(port=cluster.port, decode_responses=True)
            for i in range(20):
                r.set(f"key:{i}", i)
            for i in range(20):
                assert r.get(f"key:{i}") == str(i)
            for i in range(7):
                assert r.get(f"missing:{i}") is None
            wait_for(web, 'sum(cachering_node_keyspace_reads_total{result="hit"})', 20)
            wait_for(web, 'sum(cachering_node_keyspace_reads_total{result="miss"})', 7)
            wait_for(web, "sum(cachering_node_keys)", 40)  # 20 keys, 2 replicas each
            wait_for(web, 'sum(cachering_proxy_commands_total{cmd="get"})', 27)
            wait_for(web, "max(cachering_client_node_state)", 0)
            rules = json.load(urllib.request.urlopen(f"http://127.0.0.1:{web}/api/v1/rules", timeout=5))
            loaded = [rule["name"] for group in rules["data"]["groups"] for rule in group["rules"]]
            assert len(loaded) == 8, loaded
        finally:
            server.kill()
            server.wait()
            cluster.stop()
