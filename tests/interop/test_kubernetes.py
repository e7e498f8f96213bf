"""The Kubernetes manifests (docker/kubernetes), checked offline: every tree (the base and each
overlay) rendered with `kubectl kustomize`, validated against Kubernetes 1.32's schemas with
`kubernetes-validate --strict`, passed through checkov with the skips listed (with reasons) in
docker/kubernetes/.checkov.yaml, checked for what the docs promise, and its node and proxy
configuration files started with the real binary."""

import os
import pathlib
import subprocess
import tempfile
import tomllib

import pytest
import yaml

from conftest import ROOT, cachering_binary, free_port, require, start_listening

TREE = ROOT / "docker" / "kubernetes"
RENDERED = ["base", "overlays/production"]
KUBERNETES = "1.32.0"


def kubectl() -> str:
    return require("kubectl", "install kubectl (it renders Kustomize trees offline; no cluster is needed)")


def checkov() -> str:
    path = os.environ.get("CHECKOV", str(ROOT / "target" / "checkov-venv" / "bin" / "checkov"))
    if not os.path.exists(path):
        pytest.fail(f"{path} is missing: the README's test command installs checkov in that virtualenv "
                    "(python3 -m venv target/checkov-venv && target/checkov-venv/bin/pip install checkov)")
    return path


def render(tree: str) -> list:
    out = subprocess.run([kubectl(), "kustomize", str(TREE / tree)], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    return [doc for doc in yaml.safe_load_all(out.stdout) if doc]


def rendered_file(tree: str, directory: str) -> str:
    path = os.path.join(directory, tree.replace("/", "-") + ".yaml")
    with open(path, "w") as f:
        yaml.safe_dump_all(render(tree), f)
    return path


def one(docs: list, kind: str, name: str) -> dict:
    found = [d for d in docs if d["kind"] == kind and d["metadata"]["name"].startswith(name)]
    assert len(found) == 1, f"{kind} {name}: {len(found)} found"
    return found[0]


def mebibytes(quantity: str) -> float:
    units = {"Ki": 1 / 1024, "Mi": 1, "Gi": 1024}
    for unit, factor in units.items():
        if quantity.endswith(unit):
            return float(quantity[: -len(unit)]) * factor
    return float(quantity) / 2**20


def size_mib(text: str) -> float:
    units = {"kb": 1 / 1024, "mb": 1, "gb": 1024}
    for unit, factor in units.items():
        if text.lower().endswith(unit):
            return float(text[: -len(unit)]) * factor
    return float(text) / 2**20


@pytest.mark.parametrize("tree", RENDERED)
def test_manifests_validate_against_the_kubernetes_schemas(tree):
    with tempfile.TemporaryDirectory() as directory:
        path = rendered_file(tree, directory)
        out = subprocess.run(["kubernetes-validate", "--strict", "-k", KUBERNETES, path], capture_output=True, text=True)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "passed for resource statefulset/cachering" in out.stdout + out.stderr


@pytest.mark.parametrize("tree", RENDERED)
def test_manifests_pass_checkov_with_the_listed_skips(tree):
    config = TREE / ".checkov.yaml"
    skipped = yaml.safe_load(config.read_text())["skip-check"]
    text = config.read_text()
    for check in skipped:
        # Every skip has its reason written above it.
        before = text.split(f"- {check}")[0].rstrip().splitlines()[-1]
        assert before.strip().startswith("#"), f"{check} has no reason in .checkov.yaml"
    with tempfile.TemporaryDirectory() as directory:
        path = rendered_file(tree, directory)
        out = subprocess.run([checkov(), "--config-file", str(config), "-f", path, "--compact", "--quiet"],
                             capture_output=True, text=True)
    assert out.returncode == 0, out.stdout + out.stderr


@pytest.mark.parametrize("tree", RENDERED)
def test_manifests_keep_the_documented_shape(tree):
    docs = render(tree)
    nodes = one(docs, "StatefulSet", "cachering")
    spec = nodes["spec"]["template"]["spec"]
    node = spec["containers"][0]
    # Readiness and liveness through `cachering ping`; a preStop pause and a grace period above
    # the node's own shutdown timeout.
    assert node["readinessProbe"]["exec"]["command"][:2] == ["/usr/local/bin/cachering", "ping"]
    assert node["livenessProbe"]["exec"]["command"][:2] == ["/usr/local/bin/cachering", "ping"]
    assert node["lifecycle"]["preStop"]["sleep"]["seconds"] > 0
    config = one(docs, "ConfigMap", "cachering-config")["data"]
    node_toml = tomllib.loads(config["node.toml"])
    shutdown = node_toml["listener"]["shutdown-timeout"]
    assert spec["terminationGracePeriodSeconds"] > node["lifecycle"]["preStop"]["sleep"]["seconds"] + shutdown
    # Memory tied to maxmemory by the sizing rule (docs/operations.md): 1.5 x maxmemory at least.
    limit = mebibytes(node["resources"]["limits"]["memory"])
    assert limit >= 1.5 * size_mib(node_toml["maxmemory"]), (limit, node_toml["maxmemory"])
    assert node["resources"]["requests"]["memory"] == node["resources"]["limits"]["memory"]
    # Non-root, read-only root filesystem, no token, anti-affinity, a disruption budget.
    assert spec["securityContext"]["runAsNonRoot"] is True
    assert node["securityContext"]["readOnlyRootFilesystem"] is True
    assert spec["automountServiceAccountToken"] is False
    assert "podAntiAffinity" in spec["affinity"]
    assert one(docs, "PodDisruptionBudget", "cachering-nodes")["spec"]["maxUnavailable"] == 1
    # A rollout leaves time for the refill of each restarted pod before the next goes.
    assert nodes["spec"]["minReadySeconds"] >= 10
    # The password from a Secret.
    env = {e["name"]: e for e in node["env"]}
    assert "secretKeyRef" in env["CACHERING_REQUIREPASS"]["valueFrom"]
    # The proxy finds the nodes through the headless Service, on its port.
    service = one(docs, "Service", "cachering-nodes")
    assert service["spec"]["clusterIP"] == "None"
    assert nodes["spec"]["serviceName"] == service["metadata"]["name"]
    port = next(p["port"] for p in service["spec"]["ports"] if p["name"] == "redis")
    proxy_toml = tomllib.loads(config["proxy.toml"])
    assert proxy_toml["nodes"] == [f"dns+{service['metadata']['name']}:{port}"]
    # The image is pinned to this release.
    version = tomllib.loads((ROOT / "Cargo.toml").read_text())["workspace"]["package"]["version"]
    assert node["image"] == f"cachering:{version}"
    # Scraped: annotations on the pods; the NetworkPolicy lets metrics in.
    assert nodes["spec"]["template"]["metadata"]["annotations"]["prometheus.io/scrape"] == "true"
    assert any(d["kind"] == "NetworkPolicy" for d in docs)


def test_the_configuration_files_start_the_real_binary(tmp_path):
    docs = render("base")
    config = one(docs, "ConfigMap", "cachering-config")["data"]
    for name, command, listen_key in (("node.toml", "node", "port"), ("proxy.toml", "proxy", "port")):
        path = tmp_path / name
        path.write_text(config[name])
        port = free_port()
        metrics = free_port()
        process = start_listening(name, port, [command, "--config", str(path), "--bind", "127.0.0.1", "--port",
                                               str(port), "--metrics-addr", f"127.0.0.1:{metrics}"])
        try:
            out = subprocess.run([cachering_binary(), "ping", "--addr", f"127.0.0.1:{port}"],
                                 capture_output=True, text=True)
            assert out.returncode == 0, (name, listen_key, out.stdout, out.stderr)
        finally:
            process.kill()
            process.wait()
