"""The host side of the booted-box tests: boots the guest under qemu, drives it over
virtio-serial (no network device), cuts its power, and plays the devices and the
services outside the box (router, broker and central office, coin acceptor, printer).

Used by tests/vm/boxtest.py; run through tests/vm/run.sh.
"""
import atexit, base64, json, os, random, shutil, signal, socket
import subprocess, tempfile, threading, time

import bridge

HERE = os.path.dirname(os.path.abspath(__file__))


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def kvm_works(kernel):
    """A quick probe: KVM counts only if the guest's kernel prints its banner under it
    within 10 s (on some machines /dev/kvm exists and a guest under it prints nothing)."""
    if not os.access("/dev/kvm", os.R_OK | os.W_OK):
        return False
    log = tempfile.NamedTemporaryFile(suffix=".log", delete=False)
    log.close()
    p = subprocess.Popen(["qemu-system-x86_64", "-accel", "kvm", "-cpu", "host", "-m", "256", "-nographic",
                          "-nodefaults", "-nic", "none", "-no-reboot", "-kernel", kernel,
                          "-append", "console=ttyS0 panic=-1", "-serial", "file:" + log.name],
                         stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    ok = False
    deadline = time.time() + 10
    while time.time() < deadline and p.poll() is None and not ok:
        time.sleep(0.5)
        with open(log.name, "rb") as f:
            ok = b"Linux version" in f.read()
    p.kill()
    p.wait()
    os.unlink(log.name)
    return ok


class GuestError(Exception):
    pass


class Box:
    """One guest: its disk (a qcow2 overlay on the cached image), its qemu process,
    the command channel, the bridge, QMP and the serial devices."""

    def __init__(self, image_dir, work, arch="amd64", mem=1024, devices=(), append="", log=print):
        self.image_dir, self.work, self.arch, self.mem = image_dir, work, arch, mem
        self.devices = list(devices)   # extra qemu arguments (usb-serial, serial ports)
        self.append = append
        self.log = log
        self.proc = None
        self.ctl = None
        self.replies = {}
        self.cv = threading.Condition()
        self.next_id = 0
        self.bridge_targets = {}
        self.boots = 0
        os.makedirs(work, exist_ok=True)
        self.disk = os.path.join(work, "disk.qcow2")
        self.xfer = os.path.join(work, "xfer")
        os.makedirs(self.xfer, exist_ok=True)
        self.accel = "tcg"
        self.minimal = False    # True: boot init=/usr/local/sbin/box-init instead of systemd
        # The small kernel (tests/vm/kernel.sh): everything built in, no initrd. Used for
        # the minimal boot when set; systemd always boots Debian's kernel.
        self.small_kernel = None     # may appear while a long run goes on: checked at each start
        self.booted_small = False
        # The guest's clock at boot, in seconds from the host's: qemu's RTC for Debian's
        # kernel, and xfer/clock (what fake-hwclock would restore) for the minimal boot,
        # whose small kernel has no RTC driver and would start at 1970.
        self.clock_offset = 0

    def fresh_disk(self):
        if os.path.exists(self.disk):
            os.unlink(self.disk)
        subprocess.run(["qemu-img", "create", "-q", "-f", "qcow2", "-F", "raw", "-b",
                        os.path.join(self.image_dir, "rootfs.img"), self.disk], check=True)

    def sock(self, name):
        return os.path.join(self.work, name + ".sock")

    def qemu_args(self):
        w = self.work
        if self.arch == "amd64":
            args = ["qemu-system-x86_64", "-accel", self.accel, "-cpu", "max" if self.accel == "tcg" else "host"]
            console = "ttyS0"
        else:
            args = ["qemu-system-aarch64", "-M", "virt", "-accel", "tcg", "-cpu", "max"]
            console = "ttyAMA0"
        if self.clock_offset:
            base = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(time.time() + self.clock_offset))
            args += ["-rtc", "base=%s" % base]
        self.booted_small = bool(self.minimal and self.small_kernel and os.path.exists(self.small_kernel))
        if self.booted_small:
            boot = ["-kernel", self.small_kernel]
        else:
            # Debian's kernel: unpacked for the PVH entry where the image has it (amd64),
            # with Debian's initrd under systemd and the image's small one (busybox, the
            # disk's modules, no udev) in the minimal boot.
            vmlinux = os.path.join(self.image_dir, "vmlinux")
            small_initrd = os.path.join(self.image_dir, "initrd-box.img")
            boot = ["-kernel", vmlinux if os.path.exists(vmlinux) else os.path.join(self.image_dir, "vmlinuz"),
                    "-initrd", small_initrd if self.minimal and os.path.exists(small_initrd)
                    else os.path.join(self.image_dir, "initrd.img")]
        init = ""
        if self.minimal:
            # PID 1 is the image's box-init script. On the small kernel (nothing to load
            # as a module) the image's static busybox runs it: its mount, mkdir and
            # the rest then run inside the one shell process, where dash started a
            # program for each, 0.1-0.2 s apiece under TCG (1.3 s from PID 1 to the
            # share). Debian's kernel keeps dash and kmod's modprobe for its modules.
            init = (" printk.time=1 init=/bin/busybox -- sh /usr/local/sbin/box-init" if self.booted_small
                    else " printk.time=1 init=/usr/local/sbin/box-init")
        args += [
            "-m", str(self.mem), "-smp", "1", "-nographic", "-nodefaults", "-nic", "none"] + boot + [
            # HOTSPOT_VM_VERBOSE=1: the kernel's and systemd's messages on the console log.
            "-append", "root=/dev/vda rw console=%s %s %s"
                       % (console, "systemd.show_status=1" if os.environ.get("HOTSPOT_VM_VERBOSE") == "1"
                          else "quiet loglevel=4 systemd.show_status=0", self.append + init),
            # writeback: the guest's flushes reach the host's disk (fsync'd data survives
            # a cut, as on a real card); what the guest has not written back is in its
            # own RAM and dies with the process.
            "-drive", "file=%s,if=virtio,format=qcow2,cache=writeback,discard=unmap" % self.disk,
            "-chardev", "file,id=con,path=%s" % os.path.join(w, "console.log"),
            "-serial", "chardev:con",
            "-device", "virtio-serial-pci",
            "-chardev", "socket,id=ctl,path=%s,server=on,wait=off" % self.sock("ctl"),
            "-device", "virtserialport,chardev=ctl,name=ctl",
            "-chardev", "socket,id=br,path=%s,server=on,wait=off" % self.sock("bridge"),
            "-device", "virtserialport,chardev=br,name=bridge",
            "-qmp", "unix:%s,server=on,wait=off" % self.sock("qmp"),
            # Files from the host (the .deb, test builds): a read-only 9p share, not a network.
            "-virtfs", "local,path=%s,mount_tag=xfer,security_model=none,readonly=on" % self.xfer,
        ] + self.devices
        return args

    # ---- power ----
    def start(self, timeout=None):
        # HOTSPOT_VM_BOOT_TIMEOUT: seconds to wait for the command channel (240; a
        # heavily loaded machine needs far more).
        timeout = timeout or int(os.environ.get("HOTSPOT_VM_BOOT_TIMEOUT", "240"))
        for n in ("ctl", "bridge", "qmp"):
            if os.path.exists(self.sock(n)):
                os.unlink(self.sock(n))
        self.boots += 1
        self.set_boot_clock()
        t0 = time.time()
        self.proc = subprocess.Popen(self.qemu_args(), stdin=subprocess.DEVNULL,
                                     stdout=open(os.path.join(self.work, "qemu.log"), "ab"),
                                     stderr=subprocess.STDOUT)
        # A harness that stops on an error must not leave a guest burning a core.
        if not getattr(self, "_atexit", False):
            atexit.register(self.kill)
            self._atexit = True
        self._wait_sock("ctl")
        self._bridge_thread()
        self._ctl_connect()
        self.wait_up(timeout)
        return time.time() - t0

    def set_boot_clock(self):
        with open(os.path.join(self.xfer, "clock"), "w") as f:
            f.write("%d\n" % int(time.time() + self.clock_offset))

    def _wait_sock(self, name):
        for _ in range(200):
            if os.path.exists(self.sock(name)):
                return
            if self.proc.poll() is not None:
                raise GuestError("qemu exited at once: see %s/qemu.log" % self.work)
            time.sleep(0.05)
        raise GuestError("qemu made no %s socket" % name)

    def _bridge_thread(self):
        proc = self.proc
        t = threading.Thread(target=bridge.host_loop, daemon=True,
                             args=(self.sock("bridge"), self.bridge_targets),
                             kwargs={"stop": lambda: proc.poll() is not None})
        t.start()

    def _ctl_connect(self):
        s = socket.socket(socket.AF_UNIX)
        s.connect(self.sock("ctl"))
        self.ctl = s
        self.ctl_gen = getattr(self, "ctl_gen", 0) + 1
        self.up = False
        threading.Thread(target=self._ctl_reader, args=(s,), daemon=True).start()

    def _ctl_reader(self, s):
        buf = b""
        while True:
            try:
                chunk = s.recv(65536)
            except OSError:
                chunk = b""
            if not chunk:
                return
            buf += chunk
            while b"\n" in buf:
                line, buf = buf.split(b"\n", 1)
                parts = line.decode(errors="replace").split()
                with self.cv:
                    if parts == ["hello"]:
                        self.up = True
                    elif len(parts) in (2, 3):
                        out = base64.b64decode(parts[2]) if len(parts) == 3 else b""
                        self.replies[parts[0]] = (int(parts[1]), out.decode(errors="replace"))
                    self.cv.notify_all()

    def wait_up(self, timeout):
        """Until the guest's command channel answers (systemd has started vm-ctl)."""
        deadline = time.time() + timeout
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise GuestError("qemu exited (%s) before the guest came up; console: %s"
                                 % (self.proc.returncode, self.console_tail()))
            try:
                self.ctl.sendall(b"hello\n")
            except OSError:
                pass
            with self.cv:
                self.cv.wait_for(lambda: self.up, timeout=1.0)
                if self.up:
                    return
        raise GuestError("guest did not come up in %d s; console: %s" % (timeout, self.console_tail()))

    def console_tail(self, n=15):
        try:
            with open(os.path.join(self.work, "console.log"), errors="replace") as f:
                return "".join(f.readlines()[-n:])
        except OSError:
            return "(no console log)"

    def qmp(self, command, **arguments):
        s = socket.socket(socket.AF_UNIX)
        s.settimeout(10)
        s.connect(self.sock("qmp"))
        f = s.makefile("rwb")
        f.readline()
        for msg in ({"execute": "qmp_capabilities"}, {"execute": command, "arguments": arguments}):
            f.write(json.dumps(msg).encode() + b"\n")
            f.flush()
            while True:
                reply = json.loads(f.readline())
                if "return" in reply or "error" in reply:
                    break
        s.close()
        return reply

    def kill(self):
        """Power cut: the whole machine, RAM and the guest's page cache, gone at once."""
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait()
        if self.ctl:
            self.ctl.close()

    def reset(self):
        """Power cut by QMP system_reset: same qemu process, the guest starts over
        (wait_up() waits for it)."""
        with self.cv:
            self.up = False
        self.set_boot_clock()
        self.qmp("system_reset")
        self.boots += 1

    def shutdown(self):
        if self.proc and self.proc.poll() is None:
            try:
                self.sh("systemctl poweroff", timeout=5, check=False)
            except GuestError:
                pass
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.kill()

    # ---- commands ----
    def sh(self, script, timeout=60, check=True):
        """Runs `script` under /bin/sh in the guest; returns its output."""
        with self.cv:
            self.next_id += 1
            ident = "c%d" % self.next_id
        line = "%s %s %d\n" % (ident, base64.b64encode(script.encode()).decode(), timeout)
        self.ctl.sendall(line.encode())
        deadline = time.time() + timeout + 10
        with self.cv:
            ok = self.cv.wait_for(lambda: ident in self.replies or self.proc.poll() is not None,
                                  timeout=max(0, deadline - time.time()))
            if ident not in self.replies:
                raise GuestError("no answer from the guest to: %s" % script[:200])
            rc, out = self.replies.pop(ident)
        if check and rc != 0:
            raise GuestError("guest command failed (exit %d): %s\n%s" % (rc, script[:300], out[-3000:]))
        return out if check else (rc, out)

    def put(self, path, data, mode="0644"):
        """Writes a file in the guest (through the command channel, base64 in chunks)."""
        if isinstance(data, str):
            data = data.encode()
        self.sh(": > %s.part" % path)
        for i in range(0, len(data), 48000):
            chunk = base64.b64encode(data[i:i + 48000]).decode()
            self.sh("echo %s | base64 -d >> %s.part" % (chunk, path))
        self.sh("chmod %s %s.part && mv %s.part %s" % (mode, path, path, path))


def _connect_unix(path, stop):
    while not stop():
        try:
            s = socket.socket(socket.AF_UNIX)
            s.connect(path)
            return s
        except OSError:
            time.sleep(0.05)
    return None


def serve_chardev(path, stop, on_bytes):
    """Plays the far end of a qemu serial chardev until `stop()`, reconnecting when qemu
    restarts: `on_bytes(chunk, kept)` returns (bytes to answer, bytes to keep)."""
    while not stop():
        s = _connect_unix(path, stop)
        if s is None:
            return
        s.settimeout(0.5)
        kept = b""
        while not stop():
            try:
                chunk = s.recv(65536)
            except socket.timeout:
                continue
            except OSError:
                break
            if not chunk:
                break
            reply, kept = on_bytes(chunk, kept)
            try:
                if reply:
                    s.sendall(reply)
            except OSError:
                break
        s.close()


class Acceptor:
    """A ccTalk coin acceptor at address 2 on the far end of qemu's usb-serial (FTDI).

    It shares the box's power: `power_cut()` clears its event buffer and counter, as
    a real acceptor's RAM is lost. Coins go in only while the host (the agent) has
    switched the master inhibit off and enabled the coin's channel, as a real
    acceptor returns coins otherwise. `reported` counts coins that reached the agent in
    a 229 reply; `inserted` coins that were taken."""

    COINS = {1: (b"PH001A", 1), 2: (b"PH005A", 5), 3: (b"PH010A", 10)}

    def __init__(self, sock_path):
        self.path = sock_path
        self.lock = threading.Lock()
        self.inserted = self.reported = self.value_reported = 0
        self.refused = 0
        self.polls = 0
        self.power_cut()
        self.stopped = False
        self.sock = None

    def power_cut(self):
        with getattr(self, "lock", threading.Lock()):
            self.counter = 0
            self.events = []        # newest first: (channel, sorter)
            self.unreported = 0
            self.master_accept = False
            self.mask = 0

    def accepting(self, channel):
        return self.master_accept and self.mask & (1 << (channel - 1))

    def insert(self, channel):
        """A customer drops a coin; False if the acceptor refuses it (inhibited)."""
        with self.lock:
            if not self.accepting(channel):
                self.refused += 1
                return False
            self.counter = self.counter % 255 + 1     # 1..255, 0 only after a reset
            self.events.insert(0, (channel, 1))
            del self.events[5:]
            self.inserted += 1
            self.unreported += 1
            return True

    def _reply(self, header, data):
        if header == 254 or header == 1:
            if header == 1:
                self.power_cut()
            return b""
        if header == 231:
            self.mask = int.from_bytes(data[:2].ljust(2, b"\0"), "little")
            return b""
        if header == 228:
            self.master_accept = bool(data[:1] == b"\x01")
            return b""
        if header == 229:
            self.polls += 1
            if self.unreported:
                for ch, _ in self.events[:self.unreported]:
                    self.reported += 1
                    self.value_reported += self.COINS[ch][1]
                self.unreported = 0
            ev = self.events + [(0, 0)] * (5 - len(self.events))
            return bytes([self.counter] + [b for e in ev for b in e])
        if header == 184:
            return self.COINS.get(data[0] if data else 0, (b"......", 0))[0]
        if header == 245:
            return b"Coin Acceptor"
        return None

    def on_bytes(self, chunk, buf):
        """Feeds bytes from the host (the agent); returns (replies, bytes kept for later)."""
        buf += chunk
        replies = b""
        while len(buf) >= 5:
            n = buf[1]
            if len(buf) < 5 + n:
                break
            fr, buf = buf[:5 + n], buf[5 + n:]
            if sum(fr) % 256 != 0:
                buf = fr[1:] + buf   # resynchronise one byte on
                continue
            dest, src, header, data = fr[0], fr[2], fr[3], fr[4:-1]
            if dest != 2:
                continue
            with self.lock:
                data_out = self._reply(header, data)
            out = [src, 0, 2, 5] if data_out is None else [src, len(data_out), 2, 0] + list(data_out)
            out.append((-sum(out)) % 256)
            replies += bytes(out)
        return replies, buf

    def serve(self, stop):
        """Answers frames until `stop()`; reconnects when qemu restarts."""
        serve_chardev(self.path, stop, self.on_bytes)


class Printer:
    """The far end of the printer's serial line: records every ticket (ESC/POS, cut at GS V)
    and answers the agent's paper-status requests."""

    def __init__(self, sock_path):
        self.path = sock_path
        self.data = bytearray()
        self.lock = threading.Lock()

    def tickets(self):
        with self.lock:
            parts = bytes(self.data).split(b"\x1dV")
        return parts[:-1]

    # DLE EOT 4 (paper sensors) is answered "paper present", as a printer with a full roll does.
    STATUS_REQUEST, PAPER_PRESENT = b"\x10\x04\x04", b"\x12"

    def on_bytes(self, chunk, kept):
        with self.lock:
            self.data += chunk
        text = kept + chunk
        return self.PAPER_PRESENT * text.count(self.STATUS_REQUEST), text[-2:]

    def serve(self, stop):
        serve_chardev(self.path, stop, self.on_bytes)
