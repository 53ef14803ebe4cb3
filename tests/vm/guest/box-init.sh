#!/bin/sh
# The power-cut loop's minimal boot, run by /usr/local/sbin/box-init as PID 1 from the
# host's share: what systemd and udev would do for the agent, by hand, then the agent
# itself restarted whenever it exits (as Restart=always would). Every boot is a cold
# start on the disk the previous one left behind when its power was cut.
export PATH=/usr/sbin:/usr/bin:/sbin:/bin
# Under TCG each program started costs 0.1-0.2 s (loaded, linked, its code translated
# afresh), and this script started about 25. The image's static busybox runs mount,
# mkdir, ln, chmod and the rest inside its own shell process instead.
if [ -z "${BOX_BUSYBOX:-}" ] && [ -x /bin/busybox ]; then
    BOX_BUSYBOX=1 exec /bin/busybox sh "$0" "$@"
fi
uptime() { read -r up _ < /proc/uptime; echo "$up"; }
echo "init started $(uptime)" >> /run/agent.log
hostname box
# The clock: the small kernel has no RTC driver and starts at 1970. The host leaves
# the time to boot at in the share, as fake-hwclock restores a saved one on a Pi.
if [ -s /mnt/xfer/clock ]; then read -r t < /mnt/xfer/clock; date -s "@$t" >/dev/null; fi
mkdir -p /dev/pts /dev/shm && mount -t devpts devpts /dev/pts && mount -t tmpfs tmpfs /dev/shm
# The USB serial adapter's drivers load while the rest starts.
(/sbin/modprobe -q xhci_pci; /sbin/modprobe -q ftdi_sio) &
# Loopback up (the kernel gives it 127.0.0.1), then the names udev gives the
# virtio-serial ports, and the harness's command channel and bridge.
/mnt/xfer/box-guest lo-up
mkdir -p /dev/virtio-ports
for p in /sys/class/virtio-ports/vport*; do read -r name < "$p/name"; ln -sf "../${p##*/}" "/dev/virtio-ports/$name"; done
/mnt/xfer/box-guest ctl </dev/null >/dev/null 2>&1 &
/mnt/xfer/box-guest bridge </dev/null >>/run/bridge.log 2>&1 &
# What the udev rules do on the box: group dialout and the stable name.
for i in $(seq 200); do [ -e /dev/ttyUSB0 ] && break; sleep 0.05; done
echo "devices ready $(uptime)" >> /run/agent.log
chgrp dialout /dev/ttyUSB0 /dev/ttyS1 2>/dev/null; chmod 660 /dev/ttyUSB0 /dev/ttyS1 2>/dev/null
ln -sf ttyUSB0 /dev/hotspot-coin
mkdir -p /var/lib/hotspot-agent && chown hotspot-agent:hotspot-agent /var/lib/hotspot-agent && chmod 750 /var/lib/hotspot-agent
while true; do
    echo "agent starting $(uptime)" >> /run/agent.log
    /usr/bin/setpriv --reuid=hotspot-agent --regid=hotspot-agent --init-groups \
        env STATE_DIRECTORY=/var/lib/hotspot-agent RUST_LOG=info \
        /usr/bin/hotspot-agent run --config /etc/hotspot-agent/config.toml >> /run/agent.log 2>&1
    echo "agent exited $? $(uptime)" >> /run/agent.log
    sleep 1
done
