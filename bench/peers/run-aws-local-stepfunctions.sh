#!/usr/bin/env bash
# Installs the peer from the npm registry into a scratch folder (nothing of it is
# kept in this repository) and runs bench/peers/aws-local-stepfunctions.mjs.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
dir="${PEER_DIR:-${TMPDIR:-/tmp}/stepwise-peer-aws-local-stepfunctions}"
mkdir -p "$dir"
if [ ! -d "$dir/node_modules/aws-local-stepfunctions" ]; then
  (cd "$dir" && npm init -y >/dev/null && npm install --silent --no-audit --no-fund aws-local-stepfunctions@3.0.0)
fi
cp "$here/aws-local-stepfunctions.mjs" "$dir/bench.mjs"
cd "$dir" && node bench.mjs
