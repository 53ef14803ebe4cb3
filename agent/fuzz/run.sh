#!/bin/sh
# Kept for old notes: the fuzz script now lives with the other test scripts.
exec "$(dirname "$0")/../../tests/fuzz/run.sh" "$@"
