#!/usr/bin/env bash
# Builds (once) the Debian bookworm system the booted-box tests run: systemd, udev,
# journald, mosquitto and Debian's own kernel, from Debian's packages only, as an ext4
# disk image plus the kernel and initrd to boot it with -kernel/-initrd.
#
#   tests/vm/image.sh [amd64|arm64]      prints the directory holding rootfs.img, vmlinuz, initrd.img
#                                        (and initrd-box.img, the power-cut loop's small initrd;
#                                        amd64: vmlinux, the same kernel unpacked for qemu's PVH boot)
#
# Cached in ${HOTSPOT_VM_CACHE:-$HOME/.cache/hotspot-vm}/<arch>-<hash of this file>/;
# a second run only prints the path. Needs root (mmdebstrap's root mode) or unshare.
# The apt sources are the host's own (/etc/apt/sources.list.d/debian.sources when it
# exists), so the image comes from the same mirror the machine already uses.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
arch="${1:-amd64}"
case "$arch" in
    amd64) kpkg=linux-image-amd64 ;;
    arm64) kpkg=linux-image-arm64 ;;
    *) echo "unknown architecture $arch (amd64 or arm64)" >&2; exit 2 ;;
esac
cache="${HOTSPOT_VM_CACHE:-$HOME/.cache/hotspot-vm}"
# The key covers what goes into the image; vm-bridge comes from the host's share at boot.
key="$(cat "$0" "$here/guest/"*.service "$here/guest/initramfs-virtio" "$here/guest/box-init" "$here/guest/initrd-init" | sha256sum | cut -c1-12)"
out="$cache/$arch-$key"
if [ -s "$out/rootfs.img" ] && [ -s "$out/vmlinuz" ] && [ -s "$out/initrd.img" ] && [ -s "$out/initrd-box.img" ] \
    && { [ "$arch" != amd64 ] || [ -s "$out/vmlinux" ]; }; then
    echo "$out"; exit 0
fi
for tool in mmdebstrap mkfs.ext4; do
    command -v "$tool" >/dev/null || { echo "$tool is missing: apt-get install mmdebstrap e2fsprogs" >&2; exit 1; }
done
mkdir -p "$cache"
work="$(mktemp -d "$cache/build.XXXXXX")"
trap 'rm -rf "$work"' EXIT
mirror=()
[ -f /etc/apt/sources.list.d/debian.sources ] && mirror=(/etc/apt/sources.list.d/debian.sources)

no_modules=()
for d in drivers/gpu drivers/net drivers/media drivers/infiniband drivers/scsi drivers/staging \
    drivers/md drivers/iio drivers/hid drivers/input drivers/bluetooth drivers/isdn drivers/mtd \
    drivers/hwmon drivers/platform drivers/edac drivers/thunderbolt drivers/nvme drivers/ata \
    sound net/wireless net/mac80211 net/bluetooth net/netfilter net/ipv4/netfilter \
    net/ipv6/netfilter net/sched fs/btrfs fs/xfs fs/nfs fs/nfsd fs/ocfs2 fs/ceph fs/smb \
    fs/gfs2 fs/f2fs fs/ubifs; do
    no_modules+=("--dpkgopt=path-exclude=/lib/modules/*/kernel/$d/*")
done
echo "building the $arch guest image into $out (once; cached)" >&2
start=$(date +%s)
# The guest is the box: what the kiosk's OS brings (systemd, udev, journald) and what
# the test drives it with (sqlite3 to read the store; busybox-static for the power-cut
# loop's small initrd; the command channel and the bridge are tests/vm/guest/box-guest.rs
# from the host's share; the broker is on the host).
# Documentation and locales are left out to keep the image small, but not ours, and
# so are the kernel modules for hardware a qemu guest without network, sound or
# graphics never has (most of linux-image's 400 MB): less to unpack and to copy into
# the ext4 image, which is most of what a fresh machine spends here.
# The initrd holds only what finds the root disk (MODULES=list plus a hook naming the
# virtio modules): a Debian "most" initrd takes tens of seconds longer to boot under TCG.
# initrd-box.img is smaller still for the power-cut loop: busybox, those modules in the
# order `modprobe --show-depends` gives, and guest/initrd-init (no udev).
mmdebstrap --variant=apt --architectures="$arch" \
    --essential-hook='mkdir -p "$1/etc/initramfs-tools/conf.d" "$1/etc/initramfs-tools/hooks"' \
    --essential-hook='printf "MODULES=list\nCOMPRESS=gzip\n" > "$1/etc/initramfs-tools/conf.d/box"' \
    --essential-hook="copy-in $here/guest/initramfs-virtio /etc/initramfs-tools/hooks/" \
    --include="systemd-sysv,udev,kmod,adduser,$kpkg,sqlite3,python3,procps,busybox-static" \
    --dpkgopt='path-exclude=/usr/share/man/*' --dpkgopt='path-exclude=/usr/share/locale/*' \
    --dpkgopt='path-exclude=/usr/share/doc/*' --dpkgopt='path-include=/usr/share/doc/hotspot-agent/*' \
    "${no_modules[@]}" \
    --customize-hook='echo box > "$1/etc/hostname"' \
    --customize-hook='printf "/dev/vda / ext4 defaults,errors=remount-ro 0 1\nxfer /mnt/xfer 9p trans=virtio,version=9p2000.L,ro,nofail 0 0\n" > "$1/etc/fstab"' \
    --customize-hook='mkdir -p "$1/mnt/xfer"' \
    --customize-hook='passwd --root "$1" -d root' \
    --customize-hook="copy-in $here/guest/box-init /usr/local/sbin/" \
    --customize-hook="copy-in $here/guest/vm-ctl.service $here/guest/vm-bridge.service /etc/systemd/system/" \
    --customize-hook='chroot "$1" systemctl enable vm-ctl.service vm-bridge.service' \
    --customize-hook='chroot "$1" systemctl disable apt-daily.timer apt-daily-upgrade.timer e2scrub_all.timer fstrim.timer 2>/dev/null || true' \
    --customize-hook='chroot "$1" systemctl mask getty@tty1.service serial-getty@ttyS0.service serial-getty@ttyAMA0.service' \
    --customize-hook='chroot "$1" systemctl set-default multi-user.target' \
    --customize-hook='chroot "$1" systemctl mask man-db.timer dpkg-db-backup.timer logrotate.timer systemd-tmpfiles-clean.timer e2scrub_reap.service apt-daily.service apt-daily-upgrade.service' \
    --customize-hook='chroot "$1" systemctl mask getty.target getty-static.service systemd-binfmt.service proc-sys-fs-binfmt_misc.automount dev-hugepages.mount sys-kernel-debug.mount sys-kernel-tracing.mount sys-fs-fuse-connections.mount modprobe@dm_mod.service modprobe@efi_pstore.service modprobe@drm.service systemd-update-utmp.service systemd-update-utmp-runlevel.service' \
    --customize-hook='mkdir -p "$1/boot/out" && cp -L "$1/vmlinuz" "$1/boot/out/vmlinuz" 2>/dev/null || cp "$1"/boot/vmlinuz-* "$1/boot/out/vmlinuz"' \
    --customize-hook='cp "$1"/boot/initrd.img-* "$1/boot/out/initrd.img"' \
    --customize-hook="copy-in $here/guest/initrd-init /boot/out/" \
    --customize-hook='chroot "$1" sh -ec "
        kver=\$(ls /lib/modules | head -n 1); d=/boot/out/small; rm -rf \$d; mkdir -p \$d/bin \$d/lib
        cp /bin/busybox \$d/bin/; mv /boot/out/initrd-init \$d/init; chmod 755 \$d/init
        modprobe -S \$kver --show-depends -a virtio_pci virtio_mmio virtio_blk crc32c_generic ext4 \
          | sed -n \"s/^insmod //p\" | while read -r m; do grep -qx \"\$m\" \$d/order 2>/dev/null && continue
              cp \$m \$d/lib/; echo /lib/\${m##*/} >> \$d/modules; echo \$m >> \$d/order; done
        rm \$d/order; cd \$d && find . | cpio -o -H newc --quiet | gzip -1 > /boot/out/initrd-box.img
        cd / && rm -rf \$d"' \
    --customize-hook="sync-out /boot/out $work" \
    "${HOTSPOT_VM_SUITE:-bookworm}" "$work/root" "${mirror[@]}" >&2
# 2 GiB leaves room for the package, the store and the journal.
mkfs.ext4 -q -F -L box -d "$work/root" "$work/rootfs.img" 2G
rm -rf "$work/root"
mkdir -p "$out"
# amd64: the kernel unpacked from its xz bzImage, an ELF qemu boots straight through its
# PVH entry, without SeaBIOS and without the decompressor, which costs seconds a boot under TCG.
if [ "$arch" = amd64 ]; then
    python3 -c 'import lzma, sys
d = open(sys.argv[1], "rb").read()
open(sys.argv[2], "wb").write(lzma.LZMADecompressor().decompress(d[d.find(b"\xfd7zXZ\x00"):]))' \
        "$work/vmlinuz" "$work/vmlinux"
    mv "$work/vmlinux" "$out/"
fi
mv "$work/rootfs.img" "$work/vmlinuz" "$work/initrd.img" "$work/initrd-box.img" "$out/"
echo "guest image built in $(( $(date +%s) - start )) s: $(du -sh "$out" | cut -f1)" >&2
echo "$out"
