#!/usr/bin/env bash
# The fault matrix (README "The router under stress"): every fault of the simulator's
# console against the agent as `hotspot-agent run` starts it, while customers buy at
# the simulated kiosk and an operator sells on the router; prints the table (Markdown)
# and fails when a row's books, coin slot or recovery are wrong.
#   tests/fault-matrix.sh                 every row (about 2 minutes)
#   SHORT=1 tests/fault-matrix.sh         the rows CI runs inside `cargo test`
#   ROW='password' tests/fault-matrix.sh  the rows whose name holds these words
set -uo pipefail
cd "$(dirname "$0")/.."
choice=full
[ "${SHORT:-0}" = 1 ] && choice=short
[ -n "${ROW:-}" ] && choice=$ROW
FAULT_MATRIX=$choice cargo test -q ${PROFILE:+--profile "$PROFILE"} -p hotspot-agent --features sim \
  --test fault_matrix -- --nocapture --test-threads=1 2>&1 |
  grep -E '^\||panicked|FAILED|^test result|^[a-zA-Z!].*: '
exit "${PIPESTATUS[0]}"
