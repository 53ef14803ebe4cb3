#!/usr/bin/env bash
# Builds (once) the small x86_64 kernel the booted-box tests use where Debian's stock
# kernel cannot serve: it has gpio-sim (GPIO_SIM with IRQ_SIM, which Debian's bookworm
# and trixie kernels leave out, so no out-of-tree module links against them) and it
# boots the box's Debian disk with everything built in (virtio, ext4, 9p, the FTDI
# usb-serial driver, the 8250 ports), no initrd and no modules: a cold boot to PID 1 in
# a second or two under TCG, which is what makes a power-cut cycle cheap.
#
#   tests/vm/kernel.sh            prints the path of the kernel (vmlinux)
#   tests/vm/kernel.sh --cached   prints it only if it is already built (exit 1 if not)
#
# The kernel is the uncompressed vmlinux with the PVH entry (HYPERVISOR_GUEST, PVH):
# qemu's -kernel jumps straight into it. A bzImage of the same build spends seconds a
# boot under TCG unpacking its xz payload.
#
# From Debian's linux-source-6.1 (tinyconfig plus the options below, make -j$(nproc) vmlinux).
# Cached in ${HOTSPOT_VM_CACHE:-$HOME/.cache/hotspot-vm}/kernel-<hash>/vmlinux.
set -euo pipefail
cache="${HOTSPOT_VM_CACHE:-$HOME/.cache/hotspot-vm}"
# What the guest needs, grouped: the base; the disk, console, share and serial ports;
# the USB serial adapter; gpio-sim; what glibc, Python and the agent call; the PVH entry.
options="64BIT PRINTK TTY SERIAL_8250 SERIAL_8250_CONSOLE BLK_DEV_INITRD RD_GZIP BINFMT_ELF
BINFMT_SCRIPT PROC_FS SYSFS DEVTMPFS DEVTMPFS_MOUNT TMPFS UNIX98_PTYS HIGH_RES_TIMERS
PCI VIRTIO_MENU VIRTIO VIRTIO_PCI VIRTIO_BLK VIRTIO_CONSOLE BLOCK EXT4_FS NET_9P
NET_9P_VIRTIO 9P_FS NETWORK_FILESYSTEMS
USB_SUPPORT USB USB_PCI USB_XHCI_HCD USB_XHCI_PCI USB_SERIAL USB_SERIAL_FTDI_SIO
CONFIGFS_FS GPIOLIB GPIO_CDEV GPIO_CDEV_V1 GPIO_SIM IRQ_SIM
UNIX NET INET FUTEX EPOLL SHMEM MULTIUSER EVENTFD TIMERFD SIGNALFD POSIX_TIMERS
FILE_LOCKING INOTIFY_USER PROC_SYSCTL AIO ADVISE_SYSCALLS MEMBARRIER RSEQ FHANDLE
HYPERVISOR_GUEST PVH"
kdir="$cache/kernel-$(printf '%s' "$options" | sha256sum | cut -c1-12)"
if [ -s "$kdir/vmlinux" ]; then echo "$kdir/vmlinux"; exit 0; fi
[ "${1:-}" = --cached ] && exit 1

need=()
[ -f /usr/src/linux-source-6.1.tar.xz ] || need+=(linux-source-6.1)
for t in flex bison bc make gcc; do command -v $t >/dev/null || need+=($t); done
[ -f /usr/include/libelf.h ] || need+=(libelf-dev)
[ -f /usr/include/openssl/ssl.h ] || need+=(libssl-dev)
if [ ${#need[@]} -gt 0 ]; then
    [ "$(id -u)" = 0 ] || { echo "missing: ${need[*]} (sudo apt-get install ${need[*]})" >&2; exit 1; }
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi
mkdir -p "$cache"
src="$(mktemp -d "$cache/linux-src.XXXXXX")"
trap 'rm -rf "$src"' EXIT
echo "== building the small kernel with gpio-sim (once; cached in $kdir)" >&2
start=$(date +%s)
tar -xJf /usr/src/linux-source-6.1.tar.xz -C "$src" --strip-components=1
(
    cd "$src"
    make -s tinyconfig
    for o in $options; do scripts/config --enable "$o"; done
    make -s olddefconfig
    for o in GPIO_SIM VIRTIO_BLK EXT4_FS USB_SERIAL_FTDI_SIO 9P_FS VIRTIO_CONSOLE PVH; do
        grep -qx "CONFIG_$o=y" .config || { echo "CONFIG_$o did not stay on in the kernel config" >&2; exit 1; }
    done
    make -s -j"$(nproc)" vmlinux
)
mkdir -p "$kdir"
cp "$src/.config" "$kdir/"
cp "$src/vmlinux" "$kdir/vmlinux.part" && mv "$kdir/vmlinux.part" "$kdir/vmlinux"
echo "small kernel built in $(( $(date +%s) - start )) s" >&2
echo "$kdir/vmlinux"
