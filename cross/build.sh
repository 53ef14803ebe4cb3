#!/usr/bin/env bash
# Builds a stripped release binary of hotspot-agent for one board target.
#
#   cross/build.sh [TARGET] [--with-sim] [--deb] [--zig]
#
# TARGET is one of
#   aarch64-unknown-linux-gnu      Raspberry Pi 3/4/5, Zero 2 W on a 64-bit OS, Orange Pi (default)
#   armv7-unknown-linux-gnueabihf  32-bit Raspberry Pi OS
#   aarch64-unknown-linux-musl     fully static 64-bit binary (needs a musl C cross compiler, see README)
#   x86_64-unknown-linux-gnu       this machine (for footprint figures)
#
# The build for the box is `-p hotspot-agent` alone, which leaves out the simulators and
# the demo (the `sim` feature is not a default; only the workspace's tests crate turns
# it on); --with-sim adds them (useful to run `hotspot-agent sim` on a board).
# --zig builds with cargo-zigbuild (`pip install cargo-zigbuild ziglang`) instead of the
# Debian cross compilers: the way on macOS/Windows laptops, and for musl (used
# automatically for the musl target when no aarch64-linux-musl-gcc is installed).
# --deb also makes the Debian package (needs `cargo install cargo-deb`); its path is
# printed last instead.
# The binary is copied to cross/dist/<target>/hotspot-agent and its path printed last.
#
# Environment: CARGO_TARGET_DIR (default /work/target-cross when /work exists, else
# target-cross/ in the checkout) so a cross build never invalidates the host build.
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/.." && pwd)"

target="aarch64-unknown-linux-gnu"
features=()
deb=no
zig=no
for arg in "$@"; do
    case "$arg" in
        --with-sim) features=(--features sim) ;;
        --deb) deb=yes ;;
        --zig) zig=yes ;;
        -h|--help) sed -n "2,23p" "$0"; exit 0 ;;
        -*) echo "unknown option $arg (try --help)" >&2; exit 2 ;;
        *) target="$arg" ;;
    esac
done

# The C compiler and linker for each target. rusqlite (bundled SQLite) and ring
# (TLS) compile C and assembly, so the cc crate needs CC_<target> and AR_<target>,
# and rustc needs CARGO_TARGET_<TARGET>_LINKER. Names are Debian's cross packages.
case "$target" in
    aarch64-unknown-linux-gnu)     prefix=aarch64-linux-gnu;     pkg=gcc-aarch64-linux-gnu ;;
    armv7-unknown-linux-gnueabihf) prefix=arm-linux-gnueabihf;   pkg="gcc-arm-linux-gnueabihf libc6-dev-armhf-cross" ;;
    aarch64-unknown-linux-musl)    prefix="${MUSL_CROSS_PREFIX:-aarch64-linux-musl}"; pkg="a musl cross toolchain (musl.cc aarch64-linux-musl-cross) or cargo-zigbuild" ;;
    x86_64-unknown-linux-gnu)      prefix="" ; pkg="" ;;
    *) echo "unsupported target $target; see cross/README.md" >&2; exit 2 ;;
esac

if [ "$target" = aarch64-unknown-linux-musl ] && ! command -v "$prefix-gcc" >/dev/null 2>&1 \
    && command -v cargo-zigbuild >/dev/null 2>&1; then
    zig=yes
fi
if [ "$zig" = yes ]; then
    command -v cargo-zigbuild >/dev/null 2>&1 || { echo "cargo-zigbuild is missing: pip install cargo-zigbuild ziglang" >&2; exit 1; }
    if ! rustup target list --installed 2>/dev/null | grep -qx "$target"; then rustup target add "$target"; fi
    prefix=""   # zig is the C compiler and linker; nothing to set
elif [ -n "$prefix" ]; then
    if ! command -v "$prefix-gcc" >/dev/null 2>&1; then
        echo "the C cross compiler $prefix-gcc is missing; install: $pkg" >&2
        echo "(on Debian/Ubuntu: sudo apt-get install $pkg)" >&2
        exit 1
    fi
    if ! rustup target list --installed 2>/dev/null | grep -qx "$target"; then
        echo "adding the Rust target $target" >&2
        rustup target add "$target"
    fi
    tu="$(echo "$target" | tr 'a-z-' 'A-Z_')"   # AARCH64_UNKNOWN_LINUX_GNU
    tl="$(echo "$target" | tr '-' '_')"         # aarch64_unknown_linux_gnu
    export "CARGO_TARGET_${tu}_LINKER=$prefix-gcc"
    export "CC_${tl}=$prefix-gcc"
    export "AR_${tl}=$prefix-ar"
    if [ "$target" = aarch64-unknown-linux-musl ]; then
        export "CARGO_TARGET_${tu}_RUSTFLAGS=-C target-feature=+crt-static"
    fi
fi

if [ -z "${CARGO_TARGET_DIR:-}" ]; then
    if [ -d /work ]; then export CARGO_TARGET_DIR=/work/target-cross; else export CARGO_TARGET_DIR="$root/target-cross"; fi
fi

cd "$root"
echo "building hotspot-agent for $target (${features[*]:-no simulators}) into $CARGO_TARGET_DIR" >&2
build=(cargo build)
[ "$zig" = yes ] && build=(cargo zigbuild)
"${build[@]}" --release -p hotspot-agent --bin hotspot-agent --target "$target" "${features[@]}"

bin="$CARGO_TARGET_DIR/$target/release/hotspot-agent"
# The release profile already strips; strip again with the target's strip in case a
# profile override kept symbols (harmless when there is nothing left to remove).
strip_tool="${prefix:+$prefix-}strip"
if [ "$zig" = no ] && command -v "$strip_tool" >/dev/null 2>&1; then "$strip_tool" "$bin" 2>/dev/null || true; fi

dist="$here/dist/$target"
mkdir -p "$dist"
cp "$bin" "$dist/hotspot-agent"
size=$(stat -c %s "$dist/hotspot-agent")
echo "built $dist/hotspot-agent: $size bytes ($(( size / 1024 )) KiB)" >&2
if [ "$deb" = yes ]; then
    command -v cargo-deb >/dev/null || { echo "cargo-deb is missing: cargo install cargo-deb" >&2; exit 1; }
    # cargo-deb reads [package.metadata.deb] in agent/Cargo.toml (no simulators) and
    # reuses the build above; --no-strip because the profile already stripped it.
    deb_file="$(cargo deb -p hotspot-agent --target "$target" --no-build --no-strip -o "$dist/" | tail -n 1)"
    echo "built $deb_file: $(stat -c %s "$deb_file") bytes" >&2
    echo "$deb_file"
else
    echo "$dist/hotspot-agent"
fi
