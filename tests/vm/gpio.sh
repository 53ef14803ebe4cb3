#!/usr/bin/env bash
# Coin pulses through the kernel's GPIO character device: a small kernel with gpio-sim
# (Debian's stock kernels have neither GPIO_SIM nor IRQ_SIM), built once from Debian's
# linux-source-6.1 and cached, boots a busybox initramfs holding the box's binary (the
# one in the .deb) and a simulated router. gpio-sim lines stand in for the acceptor:
# pulse trains at the widths real acceptors use become coins, and the inhibit line the
# agent drives reads back through sysfs.
#
#   tests/vm/gpio.sh AGENT_BINARY SIM_BINARY      (run.sh --long calls it)
#
# Kernel cache: ${HOTSPOT_VM_CACHE:-$HOME/.cache/hotspot-vm}/gpio-kernel-<hash>/bzImage.
set -euo pipefail
agent="$1"; sim="$2"
here="$(cd "$(dirname "$0")" && pwd)"
cache="${HOTSPOT_VM_CACHE:-$HOME/.cache/hotspot-vm}"
options="64BIT PRINTK TTY SERIAL_8250 SERIAL_8250_CONSOLE BLK_DEV_INITRD RD_GZIP BINFMT_ELF
BINFMT_SCRIPT PROC_FS SYSFS DEVTMPFS DEVTMPFS_MOUNT CONFIGFS_FS GPIOLIB GPIO_CDEV GPIO_CDEV_V1 GPIO_SIM
IRQ_SIM TMPFS UNIX98_PTYS UNIX FUTEX EPOLL SHMEM MULTIUSER NET INET EVENTFD TIMERFD SIGNALFD
POSIX_TIMERS FILE_LOCKING INOTIFY_USER PROC_SYSCTL AIO ADVISE_SYSCALLS MEMBARRIER RSEQ"
kdir="$cache/gpio-kernel-$(echo "$options" | sha256sum | cut -c1-12)"
if [ ! -s "$kdir/bzImage" ]; then
    need=()
    [ -f /usr/src/linux-source-6.1.tar.xz ] || need+=(linux-source-6.1)
    for t in flex bison bc; do command -v $t >/dev/null || need+=($t); done
    [ -f /usr/include/libelf.h ] || need+=(libelf-dev)
    [ -f /usr/include/openssl/ssl.h ] || need+=(libssl-dev)
    if [ ${#need[@]} -gt 0 ]; then
        apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
    fi
    src="$cache/linux-src"
    rm -rf "$src"; mkdir -p "$src"
    echo "== building the gpio-sim kernel (once; cached in $kdir)" >&2
    start=$(date +%s)
    tar -xJf /usr/src/linux-source-6.1.tar.xz -C "$src" --strip-components=1
    (cd "$src" && make -s tinyconfig && for o in $options; do scripts/config --enable "$o"; done \
        && make -s olddefconfig && make -s -j2 bzImage)
    mkdir -p "$kdir"; cp "$src/arch/x86/boot/bzImage" "$kdir/"
    rm -rf "$src"
    echo "kernel built in $(( $(date +%s) - start )) s" >&2
fi
command -v busybox >/dev/null && busybox --list | grep -qx usleep || {
    apt-get install -y -qq busybox-static >/dev/null; }

work="$(mktemp -d)"; trap 'rm -rf "$work"' EXIT
root="$work/root"
mkdir -p "$root"/{bin,dev,proc,sys,tmp,etc,state,lib64,lib/x86_64-linux-gnu}
cp "$(command -v busybox)" "$root/bin/busybox"
for b in sh mount mkdir cat echo sleep usleep grep ifconfig reboot poweroff seq wc tail; do ln -s busybox "$root/bin/$b"; done
cp "$agent" "$root/bin/hotspot-agent"; cp "$sim" "$root/bin/router-sim"
for lib in $(ldd "$agent" "$sim" | grep -o '/[^ ]*\.so[^ ]*' | sort -u); do cp -L "$lib" "$root$lib"; done
cat > "$root/etc/config.toml" <<'CONF'
[agent]
site_id = "gpio-box"
state_dir = "/state"
[[router]]
name = "main"
host = "127.0.0.1"
transport = "api"
api_port = 8728
username = "admin"
password_file = "/etc/router.pass"
[[profile]]
name = "kiosk-2m"
rate_limit = "1M/2M"
[[plan]]
id = "1h"
name = "1 hour"
price = 5
time_limit = "1h"
profile = "kiosk-2m"
pool = 2
[board]
preset = "none"
[kiosk]
insert_window = "5s"
auto_buy = true
carry_over = true
[kiosk.coin]
kind = "pulse"
gpio_chip = "/dev/gpiochip0"
pulse_line = 0
inhibit_line = 1
active_low = true
pulse_values = [{ pulses = 1, value = 1 }, { pulses = 5, value = 5 }]
[kiosk.printer]
kind = "none"
[kiosk.display]
kind = "none"
CONF
printf 'gpio-box-pass' > "$root/etc/router.pass"; chmod 600 "$root/etc/router.pass"
cat > "$root/init" <<'INIT'
#!/bin/sh
mount -t proc none /proc; mount -t sysfs none /sys; mount -t devtmpfs none /dev 2>/dev/null
mount -t configfs none /sys/kernel/config; mount -t tmpfs none /tmp
ifconfig lo 127.0.0.1 up
g=/sys/kernel/config/gpio-sim/kiosk
mkdir $g $g/bank0; echo 8 > $g/bank0/num_lines; echo 1 > $g/live
line=/sys/devices/platform/gpio-sim.0/gpiochip0
# The acceptor's output idles high (active low): pulled up until a pulse.
echo pull-up > $line/sim_gpio0/pull
HOTSPOT_SIM_PASSWORD=gpio-box-pass router-sim sim --api-port 8728 --no-tls --no-rest --clients 0 > /tmp/router.out 2>&1 &
sleep 2
RUST_LOG=info hotspot-agent run --config /etc/config.toml > /tmp/agent.log 2>&1 &
for i in $(seq 60); do grep -q "ready" /tmp/agent.log && break; sleep 1; done
echo "GPIO inhibit-before $(cat $line/sim_gpio1/value)"
pulse() { # count width_ms gap_ms
    n=0; while [ $n -lt $1 ]; do
        echo pull-down > $line/sim_gpio0/pull; usleep $(( $2 * 1000 ))
        echo pull-up > $line/sim_gpio0/pull; usleep $(( $3 * 1000 )); n=$((n+1)); done
}
for w in 25 50 100 150; do
    pulse 5 $w 50
    sleep 2
    echo "GPIO train width=$w coins=$(grep -c 'coin committed' /tmp/agent.log)"
done
sleep 7
echo "GPIO sales=$(grep -c 'sale provisioned' /tmp/agent.log) inhibit-after $(cat $line/sim_gpio1/value)"
grep -E "coin|sale|inhibit|error|WARN" /tmp/agent.log | head -40 | sed 's/^/GPIO log: /'
poweroff -f
INIT
chmod +x "$root/init"
(cd "$root" && find . | cpio -o -H newc --quiet | gzip -1) > "$work/initramfs.gz"
start=$(date +%s)
timeout 600 qemu-system-x86_64 -accel tcg -m 512 -nographic -nodefaults -nic none -no-reboot \
    -kernel "$kdir/bzImage" -initrd "$work/initramfs.gz" -serial stdio \
    -append "console=ttyS0 panic=-1 rdinit=/init quiet" > "$work/console.log" 2>&1 || true
grep "^GPIO" "$work/console.log" | tr -d '\r'
echo "(boot to power-off: $(( $(date +%s) - start )) s)"
fail=0
for w in 25 50 100 150; do
    n=$(grep "GPIO train width=$w " "$work/console.log" | sed 's/.*coins=\([0-9]*\).*/\1/' | tr -d '\r')
    want=$(( $(echo "25 50 100 150" | tr ' ' '\n' | grep -n "^$w$" | cut -d: -f1) ))
    if [ "${n:-0}" = "$want" ]; then echo "ok   five pulses of $w ms are one 5-peso coin"; else echo "FAIL five pulses of $w ms: ${n:-no} coins committed in total, want $want"; fail=$((fail+1)); fi
done
grep -q "GPIO inhibit-before 0" "$work/console.log" && echo "ok   inhibit line reads 0 (accepting) once the agent runs" || { echo "FAIL inhibit line before the coin"; fail=$((fail+1)); }
exit $fail
