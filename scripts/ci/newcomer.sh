#!/usr/bin/env bash
# The README's `stepwise` lines, run as written with the binary the tests
# already built (release if there is one, else debug): no build of its own.
set -euo pipefail
cd "$(dirname "$0")/../.."

bin=""
for b in target/release/stepwise target/debug/stepwise; do
  if [ -x "$b" ]; then bin="$b"; break; fi
done
if [ -z "$bin" ]; then
  echo "newcomer: no stepwise binary in target/ (run cargo test --workspace or cargo build -p stepwise-cli first)" >&2
  exit 1
fi
# `stepwise` on PATH, as the README asks the reader to set it up.
shim=$(mktemp -d)
trap 'rm -rf "$shim"' EXIT
ln -s "$PWD/$bin" "$shim/stepwise"
export PATH="$shim:$PATH"
unset STEPWISE_ENDPOINT

run_line() {
  echo "\$ $1"
  # Plain lines on a pipe; the output is kept for the log.
  # (pipefail: a failing line fails the pipeline)
  if ! bash -c "$1" 2>&1 | tail -n 40; then
    echo "newcomer: failed: $1" >&2
    exit 1
  fi
}

# The README's `stepwise` section: its first block, then every `stepwise run` line.
lines=$(awk '/^## The `stepwise` command/{s=1} s&&/^```sh/{b=1;next} s&&b&&/^```/{exit} s&&b' README.md)
runs=$(awk '/<!-- newcomer:run -->/{s=1;next} /<!-- \/newcomer:run -->/{s=0} s&&/^stepwise run /' README.md)
n=$(grep -c '^stepwise run ' <<<"$runs" || true)
workflows=$(ls examples/workflows/*.asl.json | wc -l)
if [ "$n" -lt "$workflows" ]; then
  echo "newcomer: $n stepwise run lines in the README for $workflows example workflows" >&2
  exit 1
fi
while IFS= read -r line; do
  case "$line" in
    export\ PATH=*) ;;   # the shim above stands in for the reader's PATH
    ""|\#*) ;;
    *) run_line "$line" ;;
  esac
done <<<"$lines"
while IFS= read -r line; do
  run_line "$line"
done <<<"$runs"
echo "newcomer: $n example workflows ran"

# The README's first screen, steps 3 and 4: the coordinator answering on 8083 and the AWS CLI lines as
# written. The release build of step 3 is not repeated: the binary `cargo test` built stands in for it.
first=$(awk '/^```sh/{b=1;next} b&&/^```/{exit} b' README.md)
coordinator=""
for b in target/release/stepwise-coordinator target/debug/stepwise-coordinator; do
  if [ -x "$b" ]; then coordinator="$b"; break; fi
done
if ! command -v aws >/dev/null; then
  echo "newcomer: the AWS CLI is not installed (.ci/run installs it before this script)" >&2
  exit 1
fi
data=$(mktemp -d)
"$coordinator" --listen 127.0.0.1:8083 --data-dir "$data/stepwise-data" >"$data/log" 2>&1 &
coord_pid=$!
trap 'kill "$coord_pid" 2>/dev/null || true; rm -rf "$shim" "$data"' EXIT
for _ in $(seq 1 200); do
  grep -q '^stepwise-coordinator listening on' "$data/log" && break
  sleep 0.05
done
grep -q '^stepwise-coordinator listening on' "$data/log" || { cat "$data/log"; echo "newcomer: no coordinator on 8083" >&2; exit 1; }
aws_lines=$(grep -E '^(export AWS_|aws stepfunctions )' <<<"$first")
[ -n "$aws_lines" ] || { echo "newcomer: no AWS CLI lines on the README's first screen" >&2; exit 1; }
echo "$aws_lines"
# One shell, so that the exports reach the aws line.
env -u AWS_ACCESS_KEY_ID -u AWS_SECRET_ACCESS_KEY -u AWS_DEFAULT_REGION -u AWS_DISABLE_HOST_PREFIX_INJECTION \
  bash -euo pipefail -c "$aws_lines"
kill "$coord_pid" 2>/dev/null || true
wait "$coord_pid" 2>/dev/null || true
echo "newcomer: the first screen's AWS CLI lines answered"
