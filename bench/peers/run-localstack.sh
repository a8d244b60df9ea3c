#!/usr/bin/env bash
# The through-the-API peer: LocalStack's Step Functions (localstack-core 4.7.0,
# the last line that runs on Python 3.11), installed from PyPI into a scratch
# virtualenv (nothing of it is kept in this repository), started on
# 127.0.0.1:4566 without Docker, then driven by the same load generator:
#
#   cargo build --release -p stepwise-bench
#   bash bench/peers/run-localstack.sh
#
# The pins below are what made 4.7.0 start on this machine's Python 3.11.
set -euo pipefail
venv="${PEER_DIR:-${TMPDIR:-/tmp}/stepwise-peer-localstack}"
bench="${BENCH:-target/release/stepwise-bench}"
if [ ! -x "$venv/bin/python" ]; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install -q "localstack-core[runtime]==4.7.0" "cbor2<5.7" "pyopenssl<24.3" \
    "cryptography<44" "joserfc<1.1" "service_identity<24.3"
fi
log="$(mktemp)"
GATEWAY_LISTEN=127.0.0.1:4566 SERVICES=stepfunctions EAGER_SERVICE_LOADING=1 \
  setsid "$venv/bin/python" -m localstack.runtime.main >"$log" 2>&1 &
pid=$!
# LocalStack forks and may ignore SIGTERM: stop its whole process group.
stop() { kill -TERM -- -"$pid" 2>/dev/null || true; sleep 2; kill -KILL -- -"$pid" 2>/dev/null || true; rm -f "$log"; }
trap stop EXIT
up() { curl -sf -m 2 http://127.0.0.1:4566/_localstack/health | grep -q '"stepfunctions": "running"'; }
for _ in $(seq 120); do
  up && break
  sleep 0.5
done
up || { echo "LocalStack did not start:"; tail -20 "$log"; exit 2; }
for sc in pass10 express activities; do
  "$bench" --endpoint http://127.0.0.1:4566 "$sc" --executions "${EXECUTIONS:-500}" --max-seconds 120
done
echo "LocalStack RSS: $(ps -o rss= -g "$pid" | awk '{s += $1} END {print s / 1024 " MiB"}')"
