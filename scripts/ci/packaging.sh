#!/usr/bin/env bash
# Packaging: the library crates package for crates.io (every file, metadata and
# path dependency with a version; `--no-verify`, the tests already built them),
# and the container images: built when a container engine answers, else linted
# with hadolint when it is installed, else skipped with a message (the only skip).
set -euo pipefail
cd "$(dirname "$0")/../.."
cargo package -q --no-verify --allow-dirty --locked -p stepwise-asl -p stepwise-sdk -p stepwise-coordinator -p stepwise-agent
echo "crates: stepwise-asl, stepwise-sdk, stepwise-coordinator and stepwise-agent package"

files=(coordinator/Dockerfile agent/Dockerfile)
if command -v docker >/dev/null && docker info >/dev/null 2>&1; then
  docker build -q -f coordinator/Dockerfile -t stepwise-coordinator:ci .
  docker build -q -f agent/Dockerfile -t stepwise-agent:ci .
  echo "docker: both images built"
elif command -v hadolint >/dev/null; then
  hadolint "${files[@]}"
  echo "docker: hadolint found nothing in ${files[*]}"
else
  echo "docker: skipped (no container engine answers and hadolint is not installed): ${files[*]} not checked"
fi
