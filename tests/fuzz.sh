#!/usr/bin/env bash
# Runs every fuzz target for a bounded time (FUZZ_SECONDS each, default 60) from its committed
# seed corpus, and fails on any crash. New corpus entries go to a scratch directory, so the
# committed seeds stay as they are. A crash leaves its input in fuzz/artifacts/<target>/: turn it
# into a regression test before fixing it.
set -euo pipefail
cd "$(dirname "$0")/../fuzz"
command -v cargo-fuzz >/dev/null || cargo install cargo-fuzz --locked
# cargo-fuzz passes -Z flags (the sanitizer); this machine's one toolchain is a stable release.
export RUSTC_BOOTSTRAP=1
seconds="${FUZZ_SECONDS:-60}"
for target in request_decoder command_dispatch client_replies; do
    scratch="$(mktemp -d)"
    echo "fuzzing $target for ${seconds}s"
    if ! cargo fuzz run "$target" "$scratch" "corpus/$target" -- -max_total_time="$seconds" -rss_limit_mb=2048 \
        > "$scratch.log" 2>&1; then
        tail -40 "$scratch.log"
        echo "fuzz target $target failed: see the input saved in fuzz/artifacts/$target/"
        exit 1
    fi
    grep -E "^Done" "$scratch.log"
    rm -rf "$scratch" "$scratch.log"
done
