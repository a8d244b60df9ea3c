#!/usr/bin/env bash
# Running on a network: boto3 and the AWS CLI against a coordinator with
# --auth-file (right key, wrong key, no signature, stale date, a key whose
# `allow` lacks the action). Uses the debug coordinator binary (built if missing).
set -euo pipefail
cd "$(dirname "$0")/../.."
bin=target/debug/stepwise-coordinator
[ -x "$bin" ] || cargo build -q -p stepwise-coordinator
python3 -c 'import boto3' 2>/dev/null || python3 -m pip install --quiet --disable-pip-version-check boto3 awscli

tmp=$(mktemp -d)

# The README's command (examples/network/keys.toml), on a free port.
"$bin" --listen 0.0.0.0:0 --auth-file examples/network/keys.toml --host-name sfn.internal --in-memory \
  --log-format json >"$tmp/log" 2>&1 &
pid=$!
trap 'kill "$pid" 2>/dev/null || true; rm -rf "$tmp"' EXIT
addr=""
for _ in $(seq 1 200); do
  addr=$(sed -n 's/^stepwise-coordinator listening on 0.0.0.0:/127.0.0.1:/p' "$tmp/log" | head -n1)
  [ -n "$addr" ] && break
  sleep 0.05
done
[ -n "$addr" ] || { cat "$tmp/log"; echo "coordinator did not start" >&2; exit 1; }
endpoint="http://$addr"

echo "== network: boto3 with keys"
python3 scripts/ci/network_check.py "$endpoint"

echo "== network: the AWS CLI with keys"
export AWS_DEFAULT_REGION=us-east-1
AWS_ACCESS_KEY_ID=AKIDADMIN AWS_SECRET_ACCESS_KEY=admin-secret-key \
  aws stepfunctions --endpoint-url "$endpoint" list-activities | grep -q '"name": "charge"'
if out=$(AWS_ACCESS_KEY_ID=AKIDADMIN AWS_SECRET_ACCESS_KEY=wrong-secret-key \
  aws stepfunctions --endpoint-url "$endpoint" list-activities 2>&1); then
  echo "a wrong key was accepted" >&2; exit 1
fi
grep -q InvalidSignatureException <<<"$out" || { echo "$out" >&2; exit 1; }
if out=$(AWS_ACCESS_KEY_ID=AKIDWORKER AWS_SECRET_ACCESS_KEY=worker-secret-key \
  aws stepfunctions --endpoint-url "$endpoint" create-state-machine --name evil \
  --role-arn arn:aws:iam::123456789012:role/any \
  --definition '{"StartAt":"A","States":{"A":{"Type":"Succeed"}}}' 2>&1); then
  echo "a worker key created a state machine" >&2; exit 1
fi
grep -q AccessDeniedException <<<"$out" || { echo "$out" >&2; exit 1; }
if out=$(aws stepfunctions --no-sign-request --endpoint-url "$endpoint" list-activities 2>&1); then
  echo "an unsigned request was accepted" >&2; exit 1
fi
grep -q MissingAuthenticationTokenException <<<"$out" || { echo "$out" >&2; exit 1; }
echo "== network: audit lines (JSON)"
python3 - "$tmp/log" <<'PY'
import json, sys
lines = [json.loads(l) for l in open(sys.argv[1]) if l.startswith("{")]
audit = [l["fields"] for l in lines if l.get("target") == "stepwise::audit"]
assert any(a["who"] == "admin" and a["action"] == "CreateStateMachine" and a["result"] == "OK"
           and a["resource"].endswith(":stateMachine:pay") for a in audit), audit
assert any(a["who"] == "charge-worker" and a["action"] == "CreateStateMachine"
           and a["result"] == "AccessDeniedException" for a in audit), audit
assert any(a["who"] == "unauthenticated" and a["result"] == "MissingAuthenticationTokenException" for a in audit), audit
print(f"{len(audit)} audit lines, e.g. {json.dumps(audit[0])}")
PY

echo "== network: boto3 and the AWS CLI over TLS with a private CA"
openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=Stepwise CI CA" \
  -keyout "$tmp/ca-key.pem" -out "$tmp/ca.pem" 2>/dev/null
openssl req -newkey rsa:2048 -nodes -subj "/CN=localhost" \
  -keyout "$tmp/key.pem" -out "$tmp/req.pem" 2>/dev/null
printf 'subjectAltName=DNS:localhost,IP:127.0.0.1\n' >"$tmp/san.ext"
openssl x509 -req -in "$tmp/req.pem" -CA "$tmp/ca.pem" -CAkey "$tmp/ca-key.pem" -CAcreateserial \
  -days 2 -extfile "$tmp/san.ext" -out "$tmp/cert.pem" 2>/dev/null
"$bin" --listen 127.0.0.1:0 --auth-file examples/network/keys.toml --in-memory \
  --tls-cert "$tmp/cert.pem" --tls-key "$tmp/key.pem" >"$tmp/tls.log" 2>&1 &
tls_pid=$!
trap 'kill "$pid" "$tls_pid" 2>/dev/null || true; rm -rf "$tmp"' EXIT
tls_addr=""
for _ in $(seq 1 200); do
  tls_addr=$(sed -n 's/^stepwise-coordinator listening on 127.0.0.1:/localhost:/p' "$tmp/tls.log" | head -n1)
  [ -n "$tls_addr" ] && break
  sleep 0.05
done
[ -n "$tls_addr" ] || { cat "$tmp/tls.log"; echo "TLS coordinator did not start" >&2; exit 1; }
python3 scripts/ci/network_check.py "https://$tls_addr" "$tmp/ca.pem"
AWS_ACCESS_KEY_ID=AKIDADMIN AWS_SECRET_ACCESS_KEY=admin-secret-key \
  aws stepfunctions --endpoint-url "https://$tls_addr" --ca-bundle "$tmp/ca.pem" list-activities \
  | grep -q '"name": "charge"'
if AWS_ACCESS_KEY_ID=AKIDADMIN AWS_SECRET_ACCESS_KEY=admin-secret-key \
  aws stepfunctions --endpoint-url "https://$tls_addr" list-activities >/dev/null 2>&1; then
  echo "a certificate from an unknown CA was trusted" >&2; exit 1
fi
echo "network: ok"
