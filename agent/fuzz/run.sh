#!/bin/sh
# Runs the RouterOS sentence-decoder fuzz target for a bounded time.
# Usage: agent/fuzz/run.sh [seconds]   (default 60)
# Needs cargo-fuzz (`cargo install cargo-fuzz`). libFuzzer needs nightly compiler flags;
# on a stable toolchain RUSTC_BOOTSTRAP=1 unlocks them.
set -eu
cd "$(dirname "$0")"
secs="${1:-60}"
mkdir -p corpus/decode_sentence
# Seed: a login reply, a tagged !re and a trap (routeros-reference.md §8).
printf '\001\005!done\000' > corpus/decode_sentence/done
printf '\010\003!re\006.tag=7\007=name=x\000\005!done\006.tag=7\000' > corpus/decode_sentence/re_done
printf '\040\005!trap\052=message=invalid user name or password (6)\000' > corpus/decode_sentence/trap
RUSTC_BOOTSTRAP=1 exec cargo fuzz run decode_sentence corpus/decode_sentence -- \
    -max_total_time="$secs" -max_len=4096 -rss_limit_mb=1024
