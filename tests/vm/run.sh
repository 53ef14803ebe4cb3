#!/usr/bin/env bash
# The box, booted: a Debian bookworm system under qemu (TCG unless KVM works) installs
# the .deb, runs it under systemd, loses power for real, and reads devices through
# the kernel. See the README's "On the box" section for what each part proves.
#
#   tests/vm/run.sh              short form (CI): install, systemd, a few dozen power cuts
#   tests/vm/run.sh --long       by hand: 1,000 power cuts, 1,000 sales for the footprint
#   tests/vm/run.sh --arm64      the aarch64 guest (qemu-system-aarch64 -M virt) and the arm64 .deb
#   tests/vm/run.sh --cuts N     this many power cuts
#
# The guest image and kernel are built once into ${HOTSPOT_VM_CACHE:-$HOME/.cache/hotspot-vm}
# (tests/vm/image.sh). The guest has no network device: the harness drives it over
# virtio-serial, and the router, broker and central office it talks to run on the host
# behind a virtio-serial bridge, so they keep their state when the box loses power.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
arch=amd64
args=()
for a in "$@"; do
    case "$a" in
        --arm64) arch=arm64; args+=("$a") ;;
        -h|--help) sed -n 2,15p "$0"; exit 0 ;;
        *) args+=("$a") ;;
    esac
done

need=()
command -v mmdebstrap >/dev/null || need+=(mmdebstrap)
command -v mosquitto >/dev/null || [ -x /usr/sbin/mosquitto ] || need+=(mosquitto)
if [ "$arch" = amd64 ]; then
    command -v qemu-system-x86_64 >/dev/null || need+=(qemu-system-x86)
else
    command -v qemu-system-aarch64 >/dev/null || need+=(qemu-system-arm)
    command -v aarch64-linux-gnu-gcc >/dev/null || need+=(gcc-aarch64-linux-gnu libc6-dev-arm64-cross)
    # mmdebstrap runs the arm64 packages' scripts under qemu-user through binfmt.
    [ -e /proc/sys/fs/binfmt_misc/qemu-aarch64 ] || need+=(qemu-user-static binfmt-support)
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

# The package, built the way cross/ builds it (no simulators in it), and a host build
# with the simulators for what stands outside the box (router, central office).
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$root/target}"
if ! command -v cargo-deb >/dev/null; then
    echo "== cargo install cargo-deb" >&2
    cargo install -q cargo-deb --locked
fi
if [ "$arch" = amd64 ]; then target=x86_64-unknown-linux-gnu; else target=aarch64-unknown-linux-gnu; fi
echo "== building the $arch .deb (cross/build.sh $target --deb)" >&2
deb="$("$root/cross/build.sh" "$target" --deb | tail -n 1)"
echo "== building the host's router simulator and central office" >&2
(cd "$root" && cargo build -q -p hotspot-agent --features sim --bin hotspot-agent && cargo build -q -p hotspot-central)
image="$("$here/image.sh" "$arch")"
exec python3 "$here/boxtest.py" --image "$image" --deb "$deb" --arch "$arch" \
    --sim "$CARGO_TARGET_DIR/debug/hotspot-agent" --central "$CARGO_TARGET_DIR/debug/hotspot-central" "${args[@]}"
