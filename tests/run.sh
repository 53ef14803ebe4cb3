#!/usr/bin/env bash
# The whole test suite, on a fresh Debian machine or a developer's laptop.
# Installs what the tests need (as root: Debian packages; Python packages with pip),
# then runs every Rust test (unit, integration, pseudo-terminal, mosquitto, third-party
# RouterOS clients) and, unless SKIP_CROSS=1, the ARM build and its qemu smoke run.
set -euo pipefail
cd "$(dirname "$0")/.."

need_apt=()
command -v mosquitto >/dev/null || [ -x /usr/sbin/mosquitto ] || need_apt+=(mosquitto)
command -v socat >/dev/null || need_apt+=(socat)
command -v zbarimg >/dev/null || need_apt+=(zbar-tools)
ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || need_apt+=(postgresql)  # the central ingest tests
command -v npm >/dev/null || need_apt+=(nodejs npm)
command -v npm >/dev/null || need_apt+=(nodejs npm)  # node-routeros, a third-party check
# The booted Debian guest (tests/vm/run.sh --short): on by default where we are root (its
# image is built by mmdebstrap in root mode); HOTSPOT_VM=0 leaves it out.
vm=${HOTSPOT_VM:-auto}
[ "$vm" = auto ] && { [ "$(id -u)" = 0 ] && vm=1 || vm=0; }
if [ "$vm" = 1 ]; then
  need_vm=()
  command -v mmdebstrap >/dev/null || need_vm+=(mmdebstrap)
  command -v qemu-system-x86_64 >/dev/null || need_vm+=(qemu-system-x86)
  command -v qemu-img >/dev/null || need_vm+=(qemu-utils)
  if [ ${#need_vm[@]} -gt 0 ]; then
    echo "== installing Debian packages for the booted guest: ${need_vm[*]}"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need_vm[@]}" >/dev/null
  fi
fi
if [ "${SKIP_CROSS:-0}" != 1 ]; then
  command -v qemu-aarch64 >/dev/null || need_apt+=(qemu-user)
  command -v aarch64-linux-gnu-gcc >/dev/null || need_apt+=(gcc-aarch64-linux-gnu libc6-dev-arm64-cross)
fi
if [ ${#need_apt[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ]; then
    echo "== installing Debian packages: ${need_apt[*]}"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need_apt[@]}" >/dev/null
  else
    echo "missing Debian packages: ${need_apt[*]} (run: sudo apt-get install ${need_apt[*]})" >&2
    exit 1
  fi
fi
# The owner's page in a real browser (agent/tests/owner_page.rs): chromium without the desktop's recommends.
if ! command -v chromium >/dev/null && [ "$(id -u)" = 0 ]; then echo "== installing chromium"; apt-get update -qq; DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium fonts-liberation >/dev/null; fi
if ! python3 -c 'import librouteros, routeros_api' 2>/dev/null; then
  echo "== installing Python packages for the third-party RouterOS checks"
  python3 -m pip install -q librouteros routeros-api
fi

# The guest image is Debian packages and disk work, not CPU: build it (once; cached)
# while the Rust tests compile and run.
if [ "$vm" = 1 ]; then
  rm -f /tmp/hotspot-vm-image.rc
  { rc=0; tests/vm/image.sh amd64 >/tmp/hotspot-vm-image.log 2>&1 || rc=$?; echo "$rc" >/tmp/hotspot-vm-image.rc; } &
fi

# Each part's wall time, for the CI budget (the whole run must stay well under 30 minutes).
t_all=$(date +%s); t_part=$t_all
took() { echo "== $1 took $(( $(date +%s) - t_part )) s (all so far: $(( $(date +%s) - t_all )) s)"; t_part=$(date +%s); }

echo "== cargo test (workspace)"
cargo test --workspace --no-fail-fast 2>&1 | tee /tmp/hotspot-cargo-test.log
status=${PIPESTATUS[0]}
[ "$status" = 0 ] || exit "$status"
took "cargo test"

# The booted Debian guest under qemu, short form (README "On the box"). Its two guests
# keep one core each busy but wait a good part of the time (the watchdog, the clock's
# enforcement passes), so they start now, beside the fuzz build and the ARM build, in a
# session of their own (stopped with this script); their log follows those parts.
if [ "$vm" = 1 ]; then
  echo "== the box, booted (tests/vm/run.sh --short): started beside the fuzz run and the ARM build, its log follows them"
  setsid bash -c 'while [ ! -s /tmp/hotspot-vm-image.rc ]; do sleep 2; done
      [ "$(cat /tmp/hotspot-vm-image.rc)" = 0 ] || { echo "the guest image did not build:"; tail -n 30 /tmp/hotspot-vm-image.log; exit 1; }
      exec tests/vm/run.sh --short' >/tmp/hotspot-vm.log 2>&1 &
  vm_job=$!
  trap 'kill -- -"$vm_job" 2>/dev/null || true' EXIT
fi

# Fuzz targets, a short run of FUZZ_SECONDS each (e.g. 3: ~40 s, plus a few minutes to
# build the instrumented crate on a fresh machine), where cargo-fuzz is installed.
if [ "${FUZZ_SECONDS:-0}" != 0 ] && command -v cargo-fuzz >/dev/null; then tests/fuzz/run.sh "$FUZZ_SECONDS"; took "fuzz build and runs"; fi

if [ "${SKIP_CROSS:-0}" != 1 ] && [ -x cross/smoke.sh ]; then
  echo "== ARM build and qemu smoke run"
  cross/smoke.sh
  took "ARM build and smoke run"
fi

if [ "$vm" = 1 ]; then
  vm_status=0
  wait "$vm_job" || vm_status=$?
  trap - EXIT
  echo "== the box, booted (tests/vm/run.sh --short): its log"
  echo "   the guest image: $(tail -n 2 /tmp/hotspot-vm-image.log | head -n 1)"
  cat /tmp/hotspot-vm.log
  took "the rest of the booted guest"
  [ "$vm_status" = 0 ] || exit "$vm_status"
fi
