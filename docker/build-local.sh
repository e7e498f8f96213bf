#!/usr/bin/env bash
# Builds the cachering image from what this machine has (no registry): a release build of the
# binary, the shared libraries it links, and Dockerfile.local (FROM scratch). Tagged latest and
# with the release version (what docker/kubernetes pins).
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release -p cachering
rootfs=docker/rootfs
rm -rf "$rootfs"
mkdir -p "$rootfs/usr/local/bin" "$rootfs/tmp"
cp target/release/cachering "$rootfs/usr/local/bin/cachering"
strip "$rootfs/usr/local/bin/cachering" 2>/dev/null || true
# The dynamic loader and every library the binary links, at their own paths.
for lib in $(ldd target/release/cachering | grep -o '/[^ ]*'); do
    mkdir -p "$rootfs$(dirname "$lib")"
    cp -L "$lib" "$rootfs$lib"
done
chmod 1777 "$rootfs/tmp"
version=$(sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -1)
docker build -q -f docker/Dockerfile.local -t cachering:latest -t "cachering:$version" docker >/dev/null
echo "built cachering:latest ($(docker image inspect cachering:latest --format '{{.Size}}') bytes)"
