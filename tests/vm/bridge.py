"""Carries TCP connections between the guest's loopback and the host over one
virtio-serial port, so the box reaches the router and the broker on the host (which
keep their state when the box loses power) with no network device in the guest.

Frames are `type:u8 channel:u16 length:u16 payload`. The guest listens on
127.0.0.1:PORT for each port in /etc/vm-bridge.ports (default "8728 1883"); each
accepted connection is a channel that the host opens to its own target for PORT.
A guest that (re)starts sends RESET with a magic; the host drops every channel and
answers READY with another, and the guest ignores all bytes before READY, so a
power cut mid-frame cannot leave either side reading stale bytes.

This is the host's end, which box.py runs in a thread (`host_loop`); the guest's end is
`box-guest bridge` (tests/vm/guest/box-guest.rs).
"""
import os, select, socket, struct, time

OPEN, DATA, CLOSE, RESET, READY = 1, 2, 3, 4, 5
RESET_MAGIC = b"HSA-BRIDGE-RESET"
READY_MAGIC = b"HSA-BRIDGE-READY"
HEAD = struct.Struct(">BHH")


def frame(kind, chan, payload=b""):
    return HEAD.pack(kind, chan, len(payload)) + payload


class Frames:
    """Splits a byte stream into frames; realigns on a magic after garbage."""

    def __init__(self, magic):
        self.buf = b""
        self.magic = magic
        self.magic_frame = frame(RESET if magic == RESET_MAGIC else READY, 0, magic)

    def feed(self, data):
        self.buf += data
        out = []
        while len(self.buf) >= HEAD.size:
            kind, chan, n = HEAD.unpack_from(self.buf)
            if kind not in (OPEN, DATA, CLOSE, RESET, READY):
                i = self.buf.find(self.magic_frame)
                self.buf = self.buf[i:] if i >= 0 else self.buf[-len(self.magic_frame):]
                if i < 0:
                    break
                continue
            if len(self.buf) < HEAD.size + n:
                break
            out.append((kind, chan, self.buf[HEAD.size:HEAD.size + n]))
            self.buf = self.buf[HEAD.size + n:]
        return out


def pump(fd_in, fd_out_write, frames, socks, on_frame):
    """One select round over the port and the channel sockets."""
    rd = [fd_in] + list(socks.values())
    ready, _, _ = select.select(rd, [], [], 1.0)
    for r in ready:
        if r == fd_in:
            data = os.read(fd_in, 65536)
            if not data:
                return False
            for f in frames.feed(data):
                on_frame(*f)
        else:
            chan = next((c for c, s in socks.items() if s is r), None)
            if chan is None:
                continue
            try:
                data = r.recv(16384)
            except OSError:
                data = b""
            if data:
                fd_out_write(frame(DATA, chan, data))
            else:
                socks.pop(chan).close()
                fd_out_write(frame(CLOSE, chan))
    return True


def host_loop(sock_path, targets, log=lambda m: None, stop=lambda: False):
    """Serves one guest through qemu's unix socket until qemu goes away.

    `targets` maps a guest port to the host (address, port) it stands for."""
    s = None
    while s is None:
        if stop():
            return
        try:
            s = socket.socket(socket.AF_UNIX)
            s.connect(sock_path)
        except OSError:
            s = None
            time.sleep(0.1)
    fd = s.fileno()
    frames = Frames(RESET_MAGIC)
    socks = {}

    def out(b):
        s.sendall(b)

    def on_frame(kind, chan, payload):
        if kind == RESET:
            for c in list(socks):
                socks.pop(c).close()
            log("guest bridge (re)started")
            out(frame(READY, 0, READY_MAGIC))
        elif kind == OPEN:
            port = struct.unpack(">H", payload)[0]
            try:
                c = socket.create_connection(targets[port], timeout=5)
                c.settimeout(None)
                socks[chan] = c
            except (OSError, KeyError):
                out(frame(CLOSE, chan))
        elif kind == DATA and chan in socks:
            try:
                socks[chan].sendall(payload)
            except OSError:
                socks.pop(chan).close()
                out(frame(CLOSE, chan))
        elif kind == CLOSE and chan in socks:
            socks.pop(chan).close()

    try:
        while not stop():
            if not pump(fd, out, frames, socks, on_frame):
                break
    except OSError:
        pass
    for c in list(socks):
        socks.pop(c).close()
    s.close()
