#!/usr/bin/env bash
# This agent's RouterOS client side by side with its peers, in one run against the same
# simulator and link delay: Python librouteros, Python routeros-api (one round trip per
# command, as their APIs offer) and node-routeros with every command in flight
# (Promise.all, its best case). Each adds 500 users, lists the whole table (5,000+ users),
# and disconnects every active session (the simulator keeps 100 logged in); then
# `hotspot-agent voucher batch` makes 500 and 5,000 vouchers. Prints times and ratios.
#   LATENCY=2ms SERVICE_TIME=0s COUNT=500 FILL=5000 SESSIONS=100 tests/bench/routeros-peers.sh
# With SERVICE_TIME (e.g. 1ms) the router serves one command at a time; the script then
# also prints the floor one RTT + N x service time for the batch.
set -euo pipefail
cd "$(dirname "$0")/../.."
COUNT=${COUNT:-500}
FILL=${FILL:-5000}
LATENCY=${LATENCY:-2ms}
SERVICE_TIME=${SERVICE_TIME:-0s}
SESSIONS=${SESSIONS:-100}
profile=${PROFILE:-bench-release}
cargo build -q --profile "$profile" -p hotspot-agent --features sim --bin hotspot-agent --example bench_router
[ -d tests/node/node_modules/node-routeros ] || npm ci -s --no-audit --no-fund --prefix tests/node
dir=${CARGO_TARGET_DIR:-target}/$([ "$profile" = dev ] && echo debug || echo "$profile")
out=$(mktemp)
state=$(mktemp -d)
"$dir/hotspot-agent" sim --routeros 7.18 --latency "$LATENCY" --service-time "$SERVICE_TIME" \
  --clients "$SESSIONS" --tick 500ms --no-rest --no-tls >"$out" 2>&1 &
sim=$!
trap 'kill $sim 2>/dev/null; rm -rf "$out" "$state"' EXIT
for _ in $(seq 50); do grep -q '^api=' "$out" && break; sleep 0.1; done
port=$(sed -n 's/^api=.*:\([0-9]*\)$/\1/p' "$out")
[ -n "$port" ] || { echo "simulator did not start:"; cat "$out"; exit 1; }

# The simulated customers log in again within a tick of being disconnected.
settle() { sleep 1.2; }
settle
ours=$("$dir/examples/bench_router" 127.0.0.1 "$port" "$COUNT" r "$FILL"); settle
lr=$(python3 tests/bench/librouteros_baseline.py 127.0.0.1 "$port" "$COUNT" p); settle
ra=$(python3 tests/bench/routeros_api_peer.py 127.0.0.1 "$port" "$COUNT" s); settle
nd=$(node tests/node/bench_peer.js 127.0.0.1 "$port" "$COUNT" n)

agent=("$dir/hotspot-agent" --state-dir "$state" --host 127.0.0.1 --port "$port" --transport api)
"${agent[@]}" profiles sync >/dev/null
batch() {
  local n=$1 start
  start=$(date +%s.%N)
  "${agent[@]}" voucher batch --plan 1h --count "$n" --csv "$state/batch$n.csv" >/dev/null 2>"$state/batch$n.err"
  awk "BEGIN{printf \"%.4f\", $(date +%s.%N) - $start}"
}
b500=$(batch "$COUNT")
b5000=$(batch "$FILL")

field() { sed -n "s/.*$1=\([0-9.]*\).*/\1/p" <<<"$2"; }
ratio() { awk "BEGIN{ if ($2 > 0) printf \"%.1fx\", $1 / $2; else print \"-\" }"; }
echo "RouterOS clients side by side: simulator 7.18, link delay $LATENCY, service time $SERVICE_TIME, $SESSIONS sessions, profile $profile"
printf '  %-26s %10s %12s %12s %12s   %s\n' "" "agent" "librouteros" "routeros-api" "node-routeros" "agent faster by (lr / ra / node)"
row() {
  local what=$1 key=$2
  local a l r n
  a=$(field "$key" "$ours"); l=$(field "$key" "$lr"); r=$(field "$key" "$ra"); n=$(field "$key" "$nd")
  printf '  %-26s %9.4fs %11.4fs %11.4fs %11.4fs   %s / %s / %s\n' "$what" "$a" "$l" "$r" "$n" \
    "$(ratio "$l" "$a")" "$(ratio "$r" "$a")" "$(ratio "$n" "$a")"
}
row "add $COUNT users" add_s
row "list all users (wall)" list_s
row "list: client CPU" cpu_s
row "disconnect all sessions" disconnect_s
echo "  listed: agent $(field listed "$ours"), librouteros $(field listed "$lr"), routeros-api $(field listed "$ra"), node $(field listed "$nd");" \
  "disconnected: $(field disconnected "$ours") / $(field disconnected "$lr") / $(field disconnected "$ra") / $(field disconnected "$nd")"
l_add=$(field add_s "$lr"); n_add=$(field add_s "$nd")
printf '  %-26s %9.4fs   vs librouteros adding %s: %s; vs node-routeros: %s\n' "voucher batch --count $COUNT" "$b500" "$COUNT" \
  "$(ratio "$l_add" "$b500")" "$(ratio "$n_add" "$b500")"
per_user=$(awk "BEGIN{print $l_add / $COUNT}")
printf '  %-26s %9.4fs   vs librouteros at its rate for %s users (%.3fs): %s\n' "voucher batch --count $FILL" "$b5000" "$FILL" \
  "$(awk "BEGIN{print $per_user * $FILL}")" "$(ratio "$(awk "BEGIN{print $per_user * $FILL}")" "$b5000")"
sed -n 's/^/    batch log: /p' "$state/batch$COUNT.err" "$state/batch$FILL.err" | grep -i " in [0-9.]*s" | head -4 || true
if [ "$SERVICE_TIME" != 0s ]; then
  floor() { awk -v n="$1" -v l="${LATENCY%ms}" -v s="${SERVICE_TIME%ms}" 'BEGIN{printf "%.4f", (2*l + n*s)/1000}'; }
  echo "  floor one RTT + N x service time: $COUNT -> $(floor "$COUNT")s, $FILL -> $(floor "$FILL")s (ms units assumed)"
fi
