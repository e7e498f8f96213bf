#!/usr/bin/env bash
# The whole test suite, from a fresh Debian machine: installs what the tests need
# (redis-tools for redis-cli, iproute2 for the network-namespace tests, prometheus for the
# scrape and alert-rule tests; pytest, redis-py, prometheus-client and kubernetes-validate from
# PyPI, checkov in its own virtualenv), then runs formatting and lint
# checks, the Rust unit, property and end-to-end tests, and the interop tests that drive
# real nodes with redis-cli and redis-py.
set -euo pipefail
cd "$(dirname "$0")/.."

missing=()
command -v redis-cli >/dev/null || missing+=(redis-tools)
command -v ip >/dev/null || missing+=(iproute2)
command -v prometheus >/dev/null || missing+=(prometheus)
if ((${#missing[@]})); then
    echo "installing ${missing[*]} with apt-get"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
fi
for tool in docker docker-compose; do
    command -v "$tool" >/dev/null || { echo "$tool is missing: install Docker and docker-compose (apt-get install -y docker.io docker-compose) and start the daemon"; exit 1; }
done
command -v kubectl >/dev/null || { echo "kubectl is missing: install kubectl (it renders the Kubernetes manifests offline; no cluster is needed)"; exit 1; }
python3 -m pip install -q --disable-pip-version-check --root-user-action=ignore -r tests/interop/requirements.txt
# checkov in a virtualenv of its own: its pinned dependencies would clash with pytest's.
if [ ! -x target/checkov-venv/bin/checkov ]; then
    python3 -m venv target/checkov-venv
    target/checkov-venv/bin/pip install -q --disable-pip-version-check checkov==3.3.30
fi

cargo fmt --all --check
cargo clippy --workspace --all-targets -- -D warnings
cargo build --workspace --all-targets
# The image the fault suite and the Compose test run (built from this machine, no registry).
bash docker/build-local.sh
cargo test --workspace
bash tests/fuzz.sh
python3 -m pytest -q tests/interop
