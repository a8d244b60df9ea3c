#!/usr/bin/env bash
# The container images: built when a container engine answers, else linted with
# hadolint when it is installed, else skipped with a message (the only skip).
set -euo pipefail
cd "$(dirname "$0")/../.."
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
