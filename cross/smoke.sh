#!/usr/bin/env bash
# Runs the ARM build under qemu user-mode emulation against the simulated router
# running natively: the proof that the binary for the box works.
#
#   cross/smoke.sh [TARGET]        (default aarch64-unknown-linux-gnu)
#
# Steps, each printed as PASS or FAIL:
#   1. hotspot-agent --version                           (ARM, under qemu)
#   2. hotspot-agent config check --elsewhere deploy/config.example.toml   (ARM; real devices, no simulator)
#   3. hotspot-agent sim                                 (native; prints api=HOST:PORT)
#   4. hotspot-agent router test --host 127.0.0.1 --port PORT --transport api --user admin  (ARM)
#   5. hotspot-agent --config SIM.toml voucher create --plan 1h --json                      (ARM)
#
# Environment:
#   ARM_BIN   the ARM binary (default: cross/dist/TARGET/hotspot-agent, built by cross/build.sh if missing)
#   HOST_BIN  a native binary with the sim feature (default: cargo build of this checkout)
#   CARGO_TARGET_DIR  where the native build goes (default: cargo's)
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/.." && pwd)"
target="${1:-aarch64-unknown-linux-gnu}"

case "$target" in
    aarch64-unknown-linux-gnu)     qemu=(qemu-aarch64 -L /usr/aarch64-linux-gnu) ;;
    armv7-unknown-linux-gnueabihf) qemu=(qemu-arm -L /usr/arm-linux-gnueabihf) ;;
    aarch64-unknown-linux-musl)    qemu=(qemu-aarch64) ;;
    *) echo "smoke.sh: unsupported target $target" >&2; exit 2 ;;
esac
command -v "${qemu[0]}" >/dev/null || { echo "smoke.sh: ${qemu[0]} missing; apt-get install qemu-user" >&2; exit 1; }

arm_bin="${ARM_BIN:-$here/dist/$target/hotspot-agent}"
if [ ! -x "$arm_bin" ]; then
    "$here/build.sh" "$target" >/dev/null
fi
host_bin="${HOST_BIN:-}"
if [ -z "$host_bin" ]; then
    (cd "$root" && cargo build -q -p hotspot-agent --features sim --bin hotspot-agent)
    host_bin="${CARGO_TARGET_DIR:-$root/target}/debug/hotspot-agent"
fi

work="$(mktemp -d)"
sim_pid=""
cleanup() {
    if [ -n "$sim_pid" ]; then kill "$sim_pid" 2>/dev/null || true; wait "$sim_pid" 2>/dev/null || true; fi
    rm -rf "$work"
}
trap cleanup EXIT

failures=0
step() { # step NAME COMMAND...: runs, prints PASS/FAIL with the output's last lines
    local name="$1"; shift
    if "$@" >"$work/out" 2>&1; then
        printf 'PASS  %s\n' "$name"
        sed 's/^/      /' "$work/out" | tail -n 8
    else
        printf 'FAIL  %s (exit %s)\n' "$name" "$?"
        sed 's/^/      /' "$work/out" | tail -n 20
        failures=$((failures + 1))
    fi
}
arm() { "${qemu[@]}" "$arm_bin" "$@"; }

echo "ARM binary: $arm_bin ($(stat -c %s "$arm_bin") bytes) under ${qemu[*]}"
# The box's build carries no simulator code: strings that only the simulated router,
# the embedded broker, the simulated ccTalk acceptor (its coin id) and the crash points
# contain must be absent from it
# and present in the native `sim` build (so the check can fail).
sim_markers=("simulated router: cannot listen" "rumqttd" "PH005A" "HOTSPOT_CRASH_AT")
no_sim() {
    local m
    for m in "${sim_markers[@]}"; do
        grep -qaF "$m" "$host_bin" || { echo "marker '$m' is not in the sim build either: update smoke.sh"; return 1; }
        if grep -qaF "$m" "$arm_bin"; then echo "the box's binary contains '$m'"; return 1; fi
    done
    echo "none of ${#sim_markers[@]} simulator markers in the box's binary; all in the sim build"
}
step "no simulator code in the box's binary" no_sim
step "--version (ARM)" arm --version
# The box's build accepts only what can start there: the example names real devices.
example_starts() {
    arm config check --elsewhere "$root/deploy/config.example.toml" || return 1
    arm config check --elsewhere "$root/deploy/config.example.toml" 2>/dev/null | grep -q 'coin       pulse acceptor' \
        || { echo "the example's coin acceptor is not the board's pulse acceptor"; return 1; }
}
step "config check deploy/config.example.toml (ARM)" example_starts

# The simulated router runs natively (the ARM build leaves the simulators out) and
# binds port 0; its first stdout lines say where it listens.
"$host_bin" sim >"$work/sim.out" 2>"$work/sim.err" &
sim_pid=$!
port=""
for _ in $(seq 1 100); do
    port="$(sed -n 's/^api=[^ ]*:\([0-9][0-9]*\).*/\1/p' "$work/sim.out" | head -n 1)"
    [ -n "$port" ] && break
    kill -0 "$sim_pid" 2>/dev/null || break
    sleep 0.1
done
if [ -z "$port" ]; then
    echo "FAIL  hotspot-agent sim did not print api=HOST:PORT"
    sed 's/^/      /' "$work/sim.out" "$work/sim.err" | tail -n 20
    exit 1
fi
echo "PASS  sim (native) listening: api=127.0.0.1:$port"

step "router test against the sim (ARM)" \
    arm router test --host 127.0.0.1 --port "$port" --transport api --user admin

cat >"$work/sim.toml" <<EOF
[agent]
site_id = "smoke"
state_dir = "$work/state"
log_format = "text"

[[router]]
name = "sim"
host = "127.0.0.1"
transport = "api"
api_port = $port
username = "admin"

[[plan]]
id = "1h"
name = "1 hour"
price = 5
time_limit = "1h"
EOF
mkdir -p "$work/state"
step "voucher create --plan 1h --json (ARM)" arm --config "$work/sim.toml" voucher create --plan 1h --json
if [ "$failures" -eq 0 ] && ! grep -q '{' "$work/out"; then
    echo "FAIL  voucher create printed no JSON"
    failures=$((failures + 1))
fi

echo "binary sizes:"
for f in "$here"/dist/*/hotspot-agent; do
    [ -e "$f" ] && printf '  %-32s %9d bytes\n' "$(basename "$(dirname "$f")")" "$(stat -c %s "$f")"
done
if [ "$failures" -ne 0 ]; then
    echo "smoke: $failures step(s) failed"
    exit 1
fi
echo "smoke: all steps passed"
