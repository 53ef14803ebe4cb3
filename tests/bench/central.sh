#!/usr/bin/env bash
# The central ingest benchmark, side by side in one run: sales per second into
# PostgreSQL with 1 and with 4 ingest workers from 50 simulated sites, one site's
# backlog of 10,000 sales into PostgreSQL, and today's path for the same backlog
# (the SQLite `watch` side, agent/examples/bench_outbox.rs). Needs mosquitto and
# postgresql (Debian packages). Runs at the lowest CPU priority.
# BENCH_SALES_PER_SITE=20 BENCH_DRAIN=500 tests/bench/central.sh makes a tiny run;
# PROFILE=dev uses the debug build the tests already made (slower, quicker to get).
set -euo pipefail
cd "$(dirname "$0")/../.."
profile=${PROFILE:-bench-release}
target=${CARGO_TARGET_DIR:-target}
out=$profile
[ "$profile" = dev ] && out=debug
nice -n 19 cargo build -q --profile "$profile" -p hotspot-central --bin hotspot-central
nice -n 19 cargo build -q --profile "$profile" -p hotspot-tests --example bench_central
nice -n 19 cargo build -q --profile "$profile" -p hotspot-agent --features sim --example bench_outbox
echo "== PostgreSQL ingest, profile $profile ($(nproc) cores, load $(cut -d' ' -f1 /proc/loadavg))"
nice -n 19 "$target/$out/examples/bench_central" "$target/$out/hotspot-central"
echo "== today's path: one site's backlog into the SQLite central side (bench_outbox)"
nice -n 19 "$target/$out/examples/bench_outbox" | grep -v '^one sale message'
