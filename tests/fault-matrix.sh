#!/usr/bin/env bash
# The fault matrix (README "The router under stress"): every fault of the simulator's
# console against the agent as `hotspot-agent run` starts it, while customers buy at
# the simulated kiosk and an operator sells on the router; prints the table (Markdown).
#   tests/fault-matrix.sh            every row (about 2 minutes)
#   SHORT=1 tests/fault-matrix.sh    the rows CI runs
set -euo pipefail
cd "$(dirname "$0")/.."
mode=full
[ "${SHORT:-0}" = 1 ] && mode=short
FAULT_MATRIX=$mode cargo test -q ${PROFILE:+--profile "$PROFILE"} -p hotspot-agent --features sim --test fault_matrix -- --nocapture --test-threads=1 2>&1 |
  grep -E '^\||panicked|FAILED|^test result|^[a-z].*: ' || true
