#!/usr/bin/env bash
# Router client benchmark, side by side with its baseline.
# Starts the simulated router with a 2 ms link delay, then:
#   1. this agent's client adds 500 users (tags: many commands in flight);
#   2. Python librouteros adds 500 users, one round trip each (as Mikhmon does);
#   3. `hotspot-agent voucher batch --count 500` runs as an operator would run it;
#   4. the table is topped up to 5,000 users and both clients list all of them.
# Prints both figures and the ratios. Targets: add >= 20x faster; list < 100 ms client CPU.
set -euo pipefail
cd "$(dirname "$0")/../.."
COUNT=${COUNT:-500}
FILL=${FILL:-5000}
LATENCY=${LATENCY:-2ms}
profile=${PROFILE:-bench-release}
cargo build -q --profile "$profile" -p hotspot-agent --features sim --bin hotspot-agent --example bench_router
dir=${CARGO_TARGET_DIR:-target}/$profile
out=$(mktemp)
"$dir/hotspot-agent" sim --routeros 7.18 --latency "$LATENCY" --clients 0 --no-rest --no-tls >"$out" 2>&1 &
sim=$!
trap 'kill $sim 2>/dev/null; rm -f "$out"' EXIT
for _ in $(seq 50); do grep -q '^api=' "$out" && break; sleep 0.1; done
port=$(sed -n 's/^api=.*:\([0-9]*\)$/\1/p' "$out")
[ -n "$port" ] || { echo "simulator did not start:"; cat "$out"; exit 1; }

ours_add=$("$dir/examples/bench_router" 127.0.0.1 "$port" "$COUNT" r)
base=$(python3 tests/bench/librouteros_baseline.py 127.0.0.1 "$port" "$COUNT" p)
# `voucher batch` as an operator runs it (Mikhmon's job): codes checked against the
# store, rows reserved, adds in flight, CSV written and synced, rows marked delivered.
state=$(mktemp -d)
agent=("$dir/hotspot-agent" --state-dir "$state" --host 127.0.0.1 --port "$port" --transport api)
"${agent[@]}" profiles sync >/dev/null
start=$(date +%s.%N)
"${agent[@]}" voucher batch --plan 1h --count "$COUNT" --csv "$state/batch.csv" >/dev/null 2>"$state/batch.err"
batch_s=$(awk "BEGIN{print $(date +%s.%N) - $start}")
# The command's own figure: from the first router call to the last row marked.
batch_inner=$(sed -n 's/.* in \([0-9.]*\)s .*/\1/p' "$state/batch.err" | head -n 1)
batch_rows=$(($(wc -l <"$state/batch.csv") - 1))
rm -rf "$state"

ours_list=$("$dir/examples/bench_router" 127.0.0.1 "$port" 0 f "$FILL")
base_list=$(python3 tests/bench/librouteros_baseline.py 127.0.0.1 "$port" 0 q)


field() { sed -n "s/.*$1=\([0-9.]*\).*/\1/p" <<<"$2"; }
echo "router benchmark: simulator RouterOS 7.18, link delay $LATENCY, profile $profile"
printf '  %-34s %10s %10s\n' "" "agent" "librouteros"
printf '  %-34s %9.3fs %9.3fs   ratio %.1fx\n' "add $COUNT users (wall)" "$(field add_s "$ours_add")" "$(field add_s "$base")" \
  "$(awk "BEGIN{print $(field add_s "$base") / $(field add_s "$ours_add")}")"
printf '  %-34s %9.3fs %9.3fs   ratio %.1fx\n' "list $(field listed "$ours_list") users (wall)" "$(field list_s "$ours_list")" "$(field list_s "$base_list")" \
  "$(awk "BEGIN{print $(field list_s "$base_list") / $(field list_s "$ours_list")}")"
printf '  %-34s %9.3fs %9.3fs\n' "list: client CPU" "$(field cpu_s "$ours_list")" "$(field cpu_s "$base_list")"
printf '  %-34s %9.3fs %9.3fs   ratio %.1fx  (whole command, %s rows in the CSV)\n' "voucher batch --count $COUNT" "$batch_s" "$(field add_s "$base")" \
  "$(awk "BEGIN{print $(field add_s "$base") / $batch_s}")" "$batch_rows"
printf '  %-34s %9.3fs %9.3fs   ratio %.1fx  (codes checked against the store, rows reserved, adds, CSV, rows marked)\n' "  of which the batch itself" "$batch_inner" "$(field add_s "$base")" \
  "$(awk "BEGIN{print $(field add_s "$base") / $batch_inner}")"
