#!/usr/bin/env bash
# The whole test suite, from a fresh Debian machine: installs what the tests need
# (redis-tools for redis-cli; pytest and redis-py from PyPI), then runs formatting and lint
# checks, the Rust unit, property and end-to-end tests, and the interop tests that drive
# real nodes with redis-cli and redis-py.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v redis-cli >/dev/null; then
    echo "installing redis-tools (redis-cli) with apt-get"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq redis-tools >/dev/null
fi
python3 -m pip install -q --disable-pip-version-check --root-user-action=ignore -r tests/interop/requirements.txt

cargo fmt --all --check
cargo clippy --workspace --all-targets -- -D warnings
cargo build --workspace --all-targets
cargo test --workspace
python3 -m pytest -q tests/interop
