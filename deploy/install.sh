#!/usr/bin/env bash
# Installs hotspot-agent on a board without the Debian package (any systemd Linux).
#
#   sudo ./install.sh [PATH/TO/hotspot-agent] [--no-start]
#
# Safe to run again (to upgrade the binary): it keeps an existing config and
# password file, and only replaces the binary, the unit and the udev rules.
#
# Without a path it looks for ./hotspot-agent, then for the build in
# cross/dist/<target>/ that matches this board.
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
start=yes
bin=""
for arg in "$@"; do
    case "$arg" in
        --no-start) start=no ;;
        -h|--help) sed -n '2,11p' "$0"; exit 0 ;;
        *) bin="$arg" ;;
    esac
done

# Overridable for a dry run into a scratch folder (ROOT=/tmp/x SYSTEMCTL=true ...).
ROOT="${ROOT:-}"
SYSTEMCTL="${SYSTEMCTL:-systemctl}"
UDEVADM="${UDEVADM:-udevadm}"
USER_NAME=hotspot-agent
BIN_DIR="$ROOT/usr/local/bin"
ETC_DIR="$ROOT/etc/hotspot-agent"
UNIT_DIR="$ROOT/etc/systemd/system"
RULES_DIR="$ROOT/etc/udev/rules.d"

say() { printf '==> %s\n' "$*"; }
die() { printf 'install.sh: %s\n' "$*" >&2; exit 1; }

if [ -z "$ROOT" ] && [ "$(id -u)" -ne 0 ]; then
    die "run as root: sudo $0 $*"
fi

if [ -z "$bin" ]; then
    case "$(uname -m)" in
        aarch64|arm64) target=aarch64-unknown-linux-gnu ;;
        armv7l|armv6l) target=armv7-unknown-linux-gnueabihf ;;
        x86_64) target=x86_64-unknown-linux-gnu ;;
        *) target=unknown ;;
    esac
    for candidate in "$PWD/hotspot-agent" "$here/../cross/dist/$target/hotspot-agent"; do
        if [ -x "$candidate" ]; then bin="$candidate"; break; fi
    done
    [ -n "$bin" ] || die "no hotspot-agent binary found; pass its path (build one with cross/build.sh)"
fi
[ -x "$bin" ] || die "$bin is not an executable file"
if ! version="$("$bin" --version 2>&1 | head -n 1)"; then
    die "$bin does not run on this board ($(uname -m)): $version. Is it built for the right target?"
fi
say "installing $version from $bin"

# Device groups: Raspberry Pi OS has them all; Armbian and Orange Pi images may lack gpio/i2c.
if [ -z "$ROOT" ]; then
    for g in gpio i2c dialout; do
        getent group "$g" >/dev/null || { say "creating group $g"; groupadd --system "$g"; }
    done
    if ! id "$USER_NAME" >/dev/null 2>&1; then
        say "creating system user $USER_NAME"
        useradd --system --user-group --home-dir /var/lib/hotspot-agent --no-create-home \
            --shell /usr/sbin/nologin --comment "hotspot-agent kiosk" "$USER_NAME"
    fi
    usermod -a -G gpio,i2c,dialout "$USER_NAME"
    owner=(-o "$USER_NAME" -g "$USER_NAME")
else
    owner=()
fi

install -d -m 0755 "$BIN_DIR" "$ETC_DIR" "$UNIT_DIR" "$RULES_DIR"
install -m 0755 "$bin" "$BIN_DIR/hotspot-agent"

if [ -e "$ETC_DIR/config.toml" ]; then
    if ! cmp -s "$here/config.example.toml" "$ETC_DIR/config.toml"; then
        install -m 0644 "$here/config.example.toml" "$ETC_DIR/config.toml.example"
        say "kept your $ETC_DIR/config.toml (the new example is config.toml.example)"
    fi
else
    install -m 0644 "$here/config.example.toml" "$ETC_DIR/config.toml"
    say "installed the example config as $ETC_DIR/config.toml: edit it"
fi
if [ ! -e "$ETC_DIR/router.pass" ]; then
    install -m 0600 "${owner[@]}" /dev/null "$ETC_DIR/router.pass"
    say "created an empty $ETC_DIR/router.pass (mode 600): \`hotspot-agent router setup-script --agent-address <this board's IP>\` writes a password into it (config check refuses it while empty)"
fi

# The unit refers to /usr/bin (where the package puts the binary); this script uses /usr/local/bin.
sed "s|/usr/bin/hotspot-agent|/usr/local/bin/hotspot-agent|g" "$here/hotspot-agent.service" \
    > "$UNIT_DIR/hotspot-agent.service.tmp"
chmod 0644 "$UNIT_DIR/hotspot-agent.service.tmp"
mv "$UNIT_DIR/hotspot-agent.service.tmp" "$UNIT_DIR/hotspot-agent.service"
install -m 0644 "$here/99-hotspot-agent.rules" "$RULES_DIR/99-hotspot-agent.rules"

if [ -z "$ROOT" ]; then
    "$UDEVADM" control --reload-rules || true
    "$UDEVADM" trigger --subsystem-match=gpio --subsystem-match=i2c-dev --subsystem-match=tty --subsystem-match=usbmisc || true
fi
"$SYSTEMCTL" daemon-reload
"$SYSTEMCTL" enable hotspot-agent.service

if [ "$start" = yes ]; then
    if "$BIN_DIR/hotspot-agent" config check "$ETC_DIR/config.toml"; then
        "$SYSTEMCTL" restart hotspot-agent.service
        say "started: journalctl -u hotspot-agent -f shows what it does"
    else
        say "not started: fix the config above, then: sudo systemctl start hotspot-agent"
    fi
else
    say "enabled, not started (--no-start): sudo systemctl start hotspot-agent"
fi
