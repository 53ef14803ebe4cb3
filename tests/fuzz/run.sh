#!/usr/bin/env bash
# Runs every cargo-fuzz target in agent/fuzz for a bounded time and prints how many
# inputs each one ran. First it replays each target's saved crashes
# (agent/fuzz/regressions/<target>/), so a fixed crash that comes back fails at once.
#
# Usage: tests/fuzz/run.sh [seconds per target] [target ...]   (default 60, all targets)
#        FUZZ_RUNS=10000000 tests/fuzz/run.sh 0 [target ...]     (a number of inputs instead;
#        with seconds other than 0 as well, whichever comes first)
# Needs cargo-fuzz (`cargo install cargo-fuzz --locked`).
# libFuzzer needs nightly compiler flags; on a stable toolchain RUSTC_BOOTSTRAP=1
# unlocks them. Builds without a sanitizer (the code under test is safe Rust) and
# with debug assertions, so arithmetic overflow is a crash.
set -euo pipefail
cd "$(dirname "$0")/../../agent/fuzz"
secs="${1:-60}"
shift || true
all=(decode_sentence rest_reply cctalk_frames cctalk_credit pulse_edges mqtt_messages config_file)
targets=("${@:-${all[@]}}")
[ ${#targets[@]} -gt 0 ] || targets=("${all[@]}")

if ! cargo fuzz --version >/dev/null 2>&1; then
  echo "cargo-fuzz is missing: cargo install cargo-fuzz --locked" >&2
  exit 1
fi
export RUSTC_BOOTSTRAP=1
flags=(--release --debug-assertions --sanitizer none)

echo "== building the fuzz targets"
cargo fuzz build "${flags[@]}"

# The longest input per target. A config file's seeds are comment-free and under 2 KiB
# (every key of the bundled default, and a ccTalk/router one), so 2 KiB keeps every
# key reachable while each run parses a quarter of what 8 KiB would.
max_len() {
  case "$1" in
    config_file) echo 2048 ;;
    *) echo 8192 ;;
  esac
}

failed=()
summary=()
for t in "${targets[@]}"; do
  mkdir -p "corpus/$t" "artifacts/$t"
  if [ -d "seeds/$t" ]; then cp -n seeds/"$t"/* "corpus/$t/" 2>/dev/null || true; fi
  if [ -d "regressions/$t" ] && [ -n "$(ls -A "regressions/$t")" ]; then
    if ! cargo fuzz run "${flags[@]}" "$t" "regressions/$t" -- -runs=0 >"${TMPDIR:-/tmp}/fuzz-$t.log" 2>&1; then
      echo "!! $t: a saved crash in regressions/$t crashes again (log: ${TMPDIR:-/tmp}/fuzz-$t.log)" >&2
      failed+=("$t")
      continue
    fi
  fi
  log="${TMPDIR:-/tmp}/fuzz-$t.log"
  # FUZZ_RUNS=N stops after N inputs, or after the given seconds if those come first (0: no cap).
  if [ -n "${FUZZ_RUNS:-}" ]; then budget=(-runs="$FUZZ_RUNS"); else budget=(); fi
  if [ "$secs" != 0 ] || [ -z "${FUZZ_RUNS:-}" ]; then budget+=(-max_total_time="$secs"); fi
  if cargo fuzz run "${flags[@]}" "$t" "corpus/$t" -- \
      "${budget[@]}" -max_len="$(max_len "$t")" -rss_limit_mb=1024 -timeout=10 \
      -artifact_prefix="artifacts/$t/" >"$log" 2>&1; then
    runs=$(grep -oE 'Done [0-9]+ runs in [0-9]+ second' "$log" | tail -1 | grep -oE '[0-9]+ runs in [0-9]+' || echo "? runs in ?")
    summary+=("$(printf '%-16s %s s' "$t" "$runs")")
  else
    echo "!! $t crashed; the input is in agent/fuzz/artifacts/$t/ (log: $log)." >&2
    echo "   Keep it in agent/fuzz/regressions/$t/ and add a unit test with its bytes." >&2
    grep -E 'panicked|ERROR|SUMMARY' "$log" | head -5 >&2 || true
    failed+=("$t")
  fi
done

echo "== fuzz runs (target, runs in seconds)"
printf '%s\n' "${summary[@]}"
if [ ${#failed[@]} -gt 0 ]; then
  echo "== failed: ${failed[*]}" >&2
  exit 1
fi
