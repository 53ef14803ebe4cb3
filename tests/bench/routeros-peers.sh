#!/usr/bin/env bash
# This agent's RouterOS client side by side with its peers, in one run against the same
# simulator and link delay: Python librouteros, Python routeros-api (one round trip per
# command, as their APIs offer) and node-routeros with every command in flight
# (Promise.all, its best case). Each adds 500 users, lists the whole table (5,000+ users),
# and disconnects every active session (the simulator keeps 100 logged in; each client
# starts only once all 100 are back); then `hotspot-agent voucher batch` makes 500 and
# 5,000 vouchers, timed as whole commands (process start to exit), the median of
# BATCH_RUNS runs (5), each on a fresh store. Prints times and ratios.
#   LATENCY=2ms SERVICE_TIME=0s COUNT=500 FILL=5000 SESSIONS=100 BATCH_RUNS=5 tests/bench/routeros-peers.sh
# With SERVICE_TIME (e.g. 1ms) the router serves one command at a time; the script then
# checks each batch against the floor one RTT + N x service time (PASS within 1.5x).
# The link delay is the simulator's delay before each reply, so one RTT is LATENCY.
# Exits non-zero when a client did not disconnect all SESSIONS or a batch fails the floor.
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
  --clients "$SESSIONS" --tick 200ms --no-rest --no-tls >"$out" 2>&1 &
sim=$!
trap 'kill $sim 2>/dev/null; rm -rf "$out" "$state"' EXIT
for _ in $(seq 50); do grep -q '^api=' "$out" && break; sleep 0.1; done
port=$(sed -n 's/^api=.*:\([0-9]*\)$/\1/p' "$out")
[ -n "$port" ] || { echo "simulator did not start:"; cat "$out"; exit 1; }

# The table is filled first, so every client meets 5,000+ users and the simulated
# customers (who log in with fresh users on each tick) are all in before anyone measures.
"$dir/examples/bench_router" 127.0.0.1 "$port" 1 w "$FILL" >/dev/null
# Waits until SESSIONS customers are logged in again (they come back within ticks).
sessions_in() {
  python3 - 127.0.0.1 "$port" "$SESSIONS" <<'EOF'
import sys, time
import librouteros
host, port, want = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
api = librouteros.connect(host=host, port=port, username="admin", password="")
active = api.path("ip", "hotspot", "active")
for _ in range(100):
    if sum(1 for _ in active.select(".id")) >= want:
        sys.exit(0)
    time.sleep(0.1)
sys.exit(f"only {sum(1 for _ in active.select('.id'))} of {want} sessions logged in after 10 s")
EOF
}
sessions_in; ours=$("$dir/examples/bench_router" 127.0.0.1 "$port" "$COUNT" r)
sessions_in; lr=$(python3 tests/bench/librouteros_baseline.py 127.0.0.1 "$port" "$COUNT" p)
sessions_in; ra=$(python3 tests/bench/routeros_api_peer.py 127.0.0.1 "$port" "$COUNT" s)
sessions_in; nd=$(node tests/node/bench_peer.js 127.0.0.1 "$port" "$COUNT" n)

# Each batch run gets a state folder of its own (a fresh store, its profiles synced
# untimed), so the runs are alike; the figure is the median of BATCH_RUNS runs.
BATCH_RUNS=${BATCH_RUNS:-5}
batch() {
  local n=$1 r=$2 start s="$state/batch-$1-$2"
  local agent=("$dir/hotspot-agent" --state-dir "$s" --host 127.0.0.1 --port "$port" --transport api)
  mkdir -p "$s"
  "${agent[@]}" profiles sync >/dev/null
  start=$(date +%s.%N)
  "${agent[@]}" voucher batch --plan 1h --count "$n" --csv "$s/batch.csv" >/dev/null 2>"$s/batch.err"
  awk "BEGIN{printf \"%.4f\n\", $(date +%s.%N) - $start}"
}
# Prints "min median max" of BATCH_RUNS runs of `batch N`.
batches() {
  local n=$1 r
  for r in $(seq "$BATCH_RUNS"); do batch "$n" "$r"; done | sort -n \
    | awk '{ v[NR] = $1 } END { printf "%s %s %s", v[1], (NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2), v[NR] }'
}
read -r b500_min b500 b500_max <<<"$(batches "$COUNT")"
read -r b5000_min b5000 b5000_max <<<"$(batches "$FILL")"

field() { sed -n "s/.*$1=\([0-9.]*\).*/\1/p" <<<"$2"; }
ratio() { awk "BEGIN{ if ($2 > 0) printf \"%.1fx\", $1 / $2; else print \"-\" }"; }
echo "RouterOS clients side by side: simulator 7.18, link delay $LATENCY, service time $SERVICE_TIME, $SESSIONS sessions, profile $profile, load $(cut -d' ' -f1-3 /proc/loadavg)"
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
status=0
for who in "agent:$ours" "librouteros:$lr" "routeros-api:$ra" "node-routeros:$nd"; do
  got=$(field disconnected "${who#*:}")
  [ "$got" = "$SESSIONS" ] || { echo "  FAIL: ${who%%:*} disconnected $got sessions, not $SESSIONS"; status=1; }
done
l_add=$(field add_s "$lr"); r_add=$(field add_s "$ra"); n_add=$(field add_s "$nd")
echo "  voucher batch, whole command (process start to exit, CSV synced), median of $BATCH_RUNS runs (min-max), each on a fresh store:"
printf '  %-26s %9.4fs   (%s-%s s) vs adding %s: librouteros %s, routeros-api %s, node-routeros %s\n' "voucher batch --count $COUNT" "$b500" "$b500_min" "$b500_max" "$COUNT" \
  "$(ratio "$l_add" "$b500")" "$(ratio "$r_add" "$b500")" "$(ratio "$n_add" "$b500")"
# The peers add COUNT users; for FILL they are taken at the same rate per user.
at() { awk -v t="$1" -v n="$FILL" -v c="$COUNT" 'BEGIN{printf "%.4f", t * n / c}'; }
printf '  %-26s %9.4fs   (%s-%s s) vs adding %s at their rates: librouteros %s, routeros-api %s, node-routeros %s\n' "voucher batch --count $FILL" "$b5000" "$b5000_min" "$b5000_max" "$FILL" \
  "$(ratio "$(at "$l_add")" "$b5000")" "$(ratio "$(at "$r_add")" "$b5000")" "$(ratio "$(at "$n_add")" "$b5000")"
sed -n 's/^/    batch log (first run): /p' "$state/batch-$COUNT-1/batch.err" "$state/batch-$FILL-1/batch.err" | grep -i " in [0-9.]*s" | head -4 || true
if [ "$SERVICE_TIME" != 0s ]; then
  ms() { awk -v d="$1" 'BEGIN{ v = d + 0; if (d ~ /us$/) v /= 1000; else if (d ~ /ms$/) v += 0; else if (d ~ /s$/) v *= 1000; print v }'; }
  floor() { awk -v n="$1" -v l="$(ms "$LATENCY")" -v s="$(ms "$SERVICE_TIME")" 'BEGIN{printf "%.4f", (l + n * s) / 1000}'; }
  check() {
    local n=$1 took=$2 f verdict
    f=$(floor "$n")
    verdict=$(awk -v t="$took" -v f="$f" 'BEGIN{r = t / f; printf "%.2fx %s", r, (r <= 1.5 ? "PASS" : "FAIL")}')
    echo "  voucher batch --count $n: $took s against one RTT + $n x $SERVICE_TIME = $f s: $verdict (within 1.5x)"
    [[ $verdict == *PASS ]] || status=1
  }
  check "$COUNT" "$b500"
  check "$FILL" "$b5000"
fi
exit $status
