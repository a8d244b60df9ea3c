#!/usr/bin/env bash
# Coverage-guided fuzzing on the stable toolchain (cargo-afl, AFL++): builds the
# targets in fuzz/ with AFL's instrumentation and runs each for a bounded time
# (FUZZ_SECONDS, default 30). Fails if any target crashes (a panic, an abort, an
# allocation failure under the memory limit); the crashing inputs are printed.
set -euo pipefail
cd "$(dirname "$0")/../.."
export CARGO_TERM_COLOR=never
seconds=${FUZZ_SECONDS:-30}
targets=(decode_request compile_definition jsonpath jsonata intrinsic)
t_all=$SECONDS

echo "== fuzz: cargo-afl"
t0=$SECONDS
if ! cargo afl --version >/dev/null 2>&1; then
  # Installing cargo-afl also builds AFL++ (needs make and a C compiler).
  cargo install --locked cargo-afl --version 0.18.2
fi
# AFL++ is built once per rustc version; "already built" is the normal case.
if ! out=$(cargo afl config --build 2>&1) && ! grep -q "already built" <<<"$out"; then
  echo "$out" >&2
  echo "could not build AFL++" >&2
  exit 1
fi
echo "cargo-afl ready in $((SECONDS - t0)) s"

echo "== fuzz: build the targets"
t0=$SECONDS
(cd fuzz && cargo afl build --release --locked --quiet)
echo "targets built in $((SECONDS - t0)) s"

# AFL in a container or CI: no CPU frequency checks, no core_pattern change, no UI.
export AFL_SKIP_CPUFREQ=1 AFL_I_DONT_CARE_ABOUT_MISSING_CRASHES=1 AFL_NO_UI=1 AFL_NO_AFFINITY=1
# Stop a target at its first crash.
export AFL_BENCH_UNTIL_CRASH=1
out_root=$(mktemp -d)
failed=()
for t in "${targets[@]}"; do
  out="$out_root/$t"
  log="$out_root/$t.log"
  # -m: address-space limit in MiB, so a runaway allocation is a crash rather
  # than the machine's memory; -t: a run over 2 s is a hang (reported, not fatal).
  if ! cargo afl fuzz -V "$seconds" -m 2048 -t 2000 -i "fuzz/corpus/$t" -o "$out" "fuzz/target/release/$t" >"$log" 2>&1; then
    tail -n 30 "$log" >&2
    echo "fuzz: afl-fuzz failed on $t (a seed in fuzz/corpus/$t crashes, or AFL could not start)" >&2
    failed+=("$t")
    continue
  fi
  stats="$out/default/fuzzer_stats"
  get() { sed -n "s/^$1 *: //p" "$stats"; }
  echo "fuzz $t: $(get execs_done) runs, $(get execs_per_sec) exec/s, coverage $(get bitmap_cvg) ($(get edges_found)/$(get total_edges) edges), corpus $(get corpus_count), crashes $(get saved_crashes), hangs $(get saved_hangs)"
  if [ "$(get saved_crashes)" != 0 ]; then
    failed+=("$t")
    for f in "$out"/default/crashes/id:*; do
      echo "crashing input for $t ($f):" >&2
      python3 -c 'import sys; print(repr(open(sys.argv[1], "rb").read()[:2000]))' "$f" >&2
      "fuzz/target/release/$t" <"$f" 2>&1 | head -n 20 >&2 || true
    done
  fi
done
echo "fuzzing took $((SECONDS - t_all)) s"
if [ "${#failed[@]}" -gt 0 ]; then
  echo "fuzz: crashes in: ${failed[*]} (inputs kept in $out_root)" >&2
  exit 1
fi
rm -rf "$out_root"
