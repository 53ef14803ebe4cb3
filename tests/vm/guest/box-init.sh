#!/bin/sh
# The power-cut loop's minimal boot, run by /usr/local/sbin/box-init as PID 1 from the
# host's share: what systemd and udev would do for the agent, by hand, then the agent
# itself restarted whenever it exits (as Restart=always would). Every boot is a cold
# start on the disk the previous one left behind when its power was cut.
export PATH=/usr/sbin:/usr/bin:/sbin:/bin
hostname box
# The clock: the small kernel has no RTC driver and starts at 1970. The host leaves
# the time to boot at in the share, as fake-hwclock restores a saved one on a Pi.
[ -s /mnt/xfer/clock ] && date -s "@$(cat /mnt/xfer/clock)" >/dev/null
mkdir -p /dev/pts /dev/shm && mount -t devpts devpts /dev/pts && mount -t tmpfs tmpfs /dev/shm
# The USB serial adapter's drivers load while the rest starts.
(modprobe -q xhci_pci; modprobe -q ftdi_sio) &
# Loopback up (the kernel gives it 127.0.0.1), then the names udev gives the
# virtio-serial ports, and the harness's command channel and bridge.
/mnt/xfer/box-guest lo-up
mkdir -p /dev/virtio-ports
for p in /sys/class/virtio-ports/vport*; do ln -sf "../${p##*/}" "/dev/virtio-ports/$(cat "$p/name")"; done
/mnt/xfer/box-guest ctl </dev/null >/dev/null 2>&1 &
/mnt/xfer/box-guest bridge </dev/null >>/run/bridge.log 2>&1 &
# What the udev rules do on the box: group dialout and the stable name.
for i in $(seq 100); do [ -e /dev/ttyUSB0 ] && break; sleep 0.1; done
echo "devices ready $(cat /proc/uptime)" >> /run/agent.log
chgrp dialout /dev/ttyUSB0 /dev/ttyS1 2>/dev/null; chmod 660 /dev/ttyUSB0 /dev/ttyS1 2>/dev/null
ln -sf ttyUSB0 /dev/hotspot-coin
mkdir -p /var/lib/hotspot-agent && chown hotspot-agent:hotspot-agent /var/lib/hotspot-agent && chmod 750 /var/lib/hotspot-agent
while true; do
    echo "agent starting $(cat /proc/uptime)" >> /run/agent.log
    setpriv --reuid=hotspot-agent --regid=hotspot-agent --init-groups \
        env STATE_DIRECTORY=/var/lib/hotspot-agent RUST_LOG=info \
        /usr/bin/hotspot-agent run --config /etc/hotspot-agent/config.toml >> /run/agent.log 2>&1
    echo "agent exited $? $(cat /proc/uptime)" >> /run/agent.log
    sleep 1
done
