//! The guest end of the test harness, as one small program with no dependencies
//! (built by `tests/vm/run.sh` with `rustc`, shipped through the host's share):
//!
//!   box-guest ctl      the command channel on virtio-serial port "ctl"
//!   box-guest bridge   the guest's loopback ports carried to the host over port "bridge"
//!   box-guest lo-up    brings the loopback interface up (what systemd-networkd would)
//!
//! It replaces Python on the power-cut loop's boot path: under TCG a cold Python start
//! costs seconds, this costs milliseconds. The wire formats are the ones the host side
//! (`tests/vm/box.py`, `tests/vm/guest/vm-bridge`) speaks, described there:
//!
//! - ctl: a request is one line `ID BASE64(script) TIMEOUT`; the script runs under
//!   /bin/sh and the reply is one line `ID EXIT-CODE BASE64(stdout and stderr)`.
//!   Requests run concurrently; `hello` is answered with `hello`.
//! - bridge: frames `kind:u8 channel:u16 length:u16 payload`, big-endian; the guest
//!   sends RESET with a magic and ignores everything until the host's READY.
use std::collections::HashMap;
use std::fs::{File, OpenOptions};
use std::io::{self, Read, Write};
use std::net::{TcpListener, TcpStream, UdpSocket};
use std::os::fd::AsRawFd;
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

extern "C" {
    fn ioctl(fd: i32, request: u64, ...) -> i32;
    fn kill(pid: i32, sig: i32) -> i32;
}

const SIOCSIFFLAGS: u64 = 0x8914;
const IFF_UP_RUNNING: u16 = 0x41;
const SIGKILL: i32 = 9;

fn main() {
    let what = std::env::args().nth(1).unwrap_or_default();
    let result = match what.as_str() {
        "ctl" => ctl(),
        "bridge" => bridge(),
        "lo-up" => lo_up(),
        _ => {
            eprintln!("usage: box-guest ctl|bridge|lo-up");
            std::process::exit(2);
        }
    };
    if let Err(e) = result {
        eprintln!("box-guest {what}: {e}");
        std::process::exit(1);
    }
}

/// Opens a virtio-serial port once udev (or box-init.sh) has named it.
fn open_port(name: &str) -> io::Result<File> {
    let path = format!("/dev/virtio-ports/{name}");
    loop {
        match OpenOptions::new().read(true).write(true).open(&path) {
            Ok(f) => return Ok(f),
            Err(e) if e.kind() == io::ErrorKind::NotFound => thread::sleep(Duration::from_millis(50)),
            Err(e) => return Err(e),
        }
    }
}

/// Reads from a port; an unconnected host end reads as end of file, so wait and retry.
fn read_port(port: &mut File, buf: &mut [u8]) -> io::Result<usize> {
    loop {
        let n = port.read(buf)?;
        if n > 0 {
            return Ok(n);
        }
        thread::sleep(Duration::from_millis(50));
    }
}

fn lo_up() -> io::Result<()> {
    let sock = UdpSocket::bind("0.0.0.0:0")?;
    // struct ifreq: the name in 16 bytes, then ifr_flags (a short) in the union.
    let mut req = [0u8; 40];
    req[..2].copy_from_slice(b"lo");
    req[16..18].copy_from_slice(&IFF_UP_RUNNING.to_ne_bytes());
    // SAFETY: SIOCSIFFLAGS reads a struct ifreq, which `req` is large enough to hold.
    if unsafe { ioctl(sock.as_raw_fd(), SIOCSIFFLAGS, req.as_mut_ptr()) } != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

// ---- the command channel ----

fn ctl() -> io::Result<()> {
    let mut port = open_port("ctl")?;
    let out = Arc::new(Mutex::new(port.try_clone()?));
    send_line(&out, "hello");
    let mut buf = Vec::new();
    let mut chunk = [0u8; 65536];
    loop {
        let n = read_port(&mut port, &mut chunk)?;
        buf.extend_from_slice(&chunk[..n]);
        while let Some(end) = buf.iter().position(|&b| b == b'\n') {
            let line: Vec<u8> = buf.drain(..=end).collect();
            let line = String::from_utf8_lossy(&line[..end]).into_owned();
            let parts: Vec<&str> = line.split_whitespace().collect();
            match parts.as_slice() {
                ["hello"] => send_line(&out, "hello"),
                [id, script, timeout] => {
                    let (id, out) = (id.to_string(), out.clone());
                    let script = String::from_utf8_lossy(&base64_decode(script)).into_owned();
                    let timeout = Duration::from_secs_f64(timeout.parse().unwrap_or(60.0));
                    thread::spawn(move || {
                        let (rc, output) = run_script(&script, timeout);
                        send_line(&out, &format!("{id} {rc} {}", base64_encode(&output)));
                    });
                }
                _ => {}
            }
        }
    }
}

fn send_line(port: &Mutex<File>, line: &str) {
    let mut port = port.lock().unwrap_or_else(|e| e.into_inner());
    let _ = port.write_all(format!("{line}\n").as_bytes());
}

/// Runs a script under /bin/sh, its stdout and stderr together, killed (with what it
/// started) after `timeout`: exit code 124 then, as timeout(1) gives.
fn run_script(script: &str, timeout: Duration) -> (i32, Vec<u8>) {
    let deadline = Instant::now() + timeout;
    let spawned = io::pipe().and_then(|(reader, writer)| {
        let child = Command::new("/bin/sh")
            .arg("-c")
            .arg(script)
            .stdin(Stdio::null())
            .stdout(writer.try_clone()?)
            .stderr(writer)
            .process_group(0)
            .spawn()?;
        Ok((reader, child))
    });
    let (mut reader, mut child) = match spawned {
        Ok(r) => r,
        Err(e) => return (127, format!("box-guest: cannot run /bin/sh: {e}\n").into_bytes()),
    };
    let output = Arc::new(Mutex::new(Vec::new()));
    let (done_tx, done_rx) = std::sync::mpsc::channel();
    {
        let output = output.clone();
        thread::spawn(move || {
            let mut chunk = [0u8; 16384];
            while let Ok(n) = reader.read(&mut chunk) {
                if n == 0 {
                    break;
                }
                output.lock().unwrap_or_else(|e| e.into_inner()).extend_from_slice(&chunk[..n]);
            }
            let _ = done_tx.send(());
        });
    }
    let mut rc = loop {
        match child.try_wait() {
            Ok(Some(status)) => break status.code().unwrap_or(128 + status.signal().unwrap_or(0)),
            Ok(None) if Instant::now() < deadline => thread::sleep(Duration::from_millis(10)),
            _ => {
                // SAFETY: kill(2) on the script's own process group.
                unsafe { kill(-(child.id() as i32), SIGKILL) };
                let _ = child.wait();
                break 124;
            }
        }
    };
    // What the script left running in the background may hold the pipe open: wait for
    // its end of file until the deadline, then answer with what came.
    let left = deadline.saturating_duration_since(Instant::now()).max(Duration::from_millis(200));
    if done_rx.recv_timeout(left).is_err() {
        rc = 124;
    }
    let mut output = std::mem::take(&mut *output.lock().unwrap_or_else(|e| e.into_inner()));
    if rc == 124 {
        output.extend_from_slice(b"\n(timed out in the guest)\n");
    }
    (rc, output)
}

// ---- the bridge ----

const OPEN: u8 = 1;
const DATA: u8 = 2;
const CLOSE: u8 = 3;
const RESET: u8 = 4;
const READY: u8 = 5;
const RESET_MAGIC: &[u8] = b"HSA-BRIDGE-RESET";
const READY_MAGIC: &[u8] = b"HSA-BRIDGE-READY";
const HEAD: usize = 5;

fn frame(kind: u8, chan: u16, payload: &[u8]) -> Vec<u8> {
    let mut f = Vec::with_capacity(HEAD + payload.len());
    f.push(kind);
    f.extend_from_slice(&chan.to_be_bytes());
    f.extend_from_slice(&(payload.len() as u16).to_be_bytes());
    f.extend_from_slice(payload);
    f
}

type Port = Arc<Mutex<File>>;
type Channels = Arc<Mutex<HashMap<u16, TcpStream>>>;

fn send_frame(port: &Port, kind: u8, chan: u16, payload: &[u8]) {
    let mut port = port.lock().unwrap_or_else(|e| e.into_inner());
    let _ = port.write_all(&frame(kind, chan, payload));
}

fn bridge() -> io::Result<()> {
    let ports: Vec<u16> = std::fs::read_to_string("/etc/vm-bridge.ports")
        .map(|s| s.split_whitespace().filter_map(|p| p.parse().ok()).collect())
        .unwrap_or_else(|_| vec![8728, 1883]);
    let mut port = open_port("bridge")?;
    let out: Port = Arc::new(Mutex::new(port.try_clone()?));
    let channels: Channels = Arc::new(Mutex::new(HashMap::new()));
    let listeners = ports
        .iter()
        .map(|&p| TcpListener::bind(("127.0.0.1", p)).map(|l| (p, l)))
        .collect::<io::Result<Vec<_>>>()?;

    send_frame(&out, RESET, 0, RESET_MAGIC);
    // Bytes from before a reset may still come: everything up to the host's READY.
    let ready = frame(READY, 0, READY_MAGIC);
    let mut buf = Vec::new();
    let mut chunk = [0u8; 65536];
    let start = loop {
        let n = read_port(&mut port, &mut chunk)?;
        buf.extend_from_slice(&chunk[..n]);
        if let Some(i) = find(&buf, &ready) {
            break i + ready.len();
        }
        if buf.len() > 4096 {
            buf.drain(..buf.len() - ready.len());
        }
    };
    buf.drain(..start);

    let next_chan = Arc::new(Mutex::new(1u16));
    for (guest_port, listener) in listeners {
        let (out, channels, next_chan) = (out.clone(), channels.clone(), next_chan.clone());
        thread::spawn(move || accept_loop(guest_port, listener, out, channels, next_chan));
    }
    loop {
        while buf.len() >= HEAD {
            let (kind, chan) = (buf[0], u16::from_be_bytes([buf[1], buf[2]]));
            let len = u16::from_be_bytes([buf[3], buf[4]]) as usize;
            if !(OPEN..=READY).contains(&kind) {
                // Out of step: realign on the next READY frame, as the host side does.
                match find(&buf[1..], &ready) {
                    Some(i) => drop(buf.drain(..=i)),
                    None => {
                        let keep = buf.len().min(ready.len());
                        buf.drain(..buf.len() - keep);
                        break;
                    }
                }
                continue;
            }
            if buf.len() < HEAD + len {
                break;
            }
            let payload: Vec<u8> = buf.drain(..HEAD + len).skip(HEAD).collect();
            on_frame(kind, chan, &payload, &out, &channels);
        }
        let n = read_port(&mut port, &mut chunk)?;
        buf.extend_from_slice(&chunk[..n]);
    }
}

fn on_frame(kind: u8, chan: u16, payload: &[u8], out: &Port, channels: &Channels) {
    let mut map = channels.lock().unwrap_or_else(|e| e.into_inner());
    match kind {
        DATA => {
            let failed = match map.get_mut(&chan) {
                Some(stream) => stream.write_all(payload).is_err(),
                None => false,
            };
            if failed {
                if let Some(s) = map.remove(&chan) {
                    let _ = s.shutdown(std::net::Shutdown::Both);
                }
                drop(map);
                send_frame(out, CLOSE, chan, &[]);
            }
        }
        CLOSE => {
            if let Some(s) = map.remove(&chan) {
                let _ = s.shutdown(std::net::Shutdown::Both);
            }
        }
        _ => {}
    }
}

fn accept_loop(guest_port: u16, listener: TcpListener, out: Port, channels: Channels, next_chan: Arc<Mutex<u16>>) {
    for conn in listener.incoming() {
        let Ok(conn) = conn else { continue };
        let _ = conn.set_nodelay(true);
        let Ok(reader) = conn.try_clone() else { continue };
        let chan = {
            let mut next = next_chan.lock().unwrap_or_else(|e| e.into_inner());
            let map = channels.lock().unwrap_or_else(|e| e.into_inner());
            loop {
                *next = next.wrapping_add(1).max(1);
                if !map.contains_key(&*next) {
                    break *next;
                }
            }
        };
        channels.lock().unwrap_or_else(|e| e.into_inner()).insert(chan, conn);
        send_frame(&out, OPEN, chan, &guest_port.to_be_bytes());
        let (out, channels) = (out.clone(), channels.clone());
        thread::spawn(move || carry(chan, reader, out, channels));
    }
}

/// From one guest connection to the host, until it closes.
fn carry(chan: u16, mut conn: TcpStream, out: Port, channels: Channels) {
    let mut chunk = [0u8; 16384];
    loop {
        match conn.read(&mut chunk) {
            Ok(n) if n > 0 => send_frame(&out, DATA, chan, &chunk[..n]),
            _ => break,
        }
    }
    // Closed here, or by the host (then the channel is gone already).
    if channels.lock().unwrap_or_else(|e| e.into_inner()).remove(&chan).is_some() {
        send_frame(&out, CLOSE, chan, &[]);
    }
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

// ---- base64 (RFC 4648, with padding) ----

const B64: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

fn base64_encode(data: &[u8]) -> String {
    let mut s = String::with_capacity(data.len().div_ceil(3) * 4);
    for c in data.chunks(3) {
        let n = (c[0] as u32) << 16 | (*c.get(1).unwrap_or(&0) as u32) << 8 | *c.get(2).unwrap_or(&0) as u32;
        for i in 0..4 {
            if i <= c.len() {
                s.push(B64[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                s.push('=');
            }
        }
    }
    s
}

fn base64_decode(text: &str) -> Vec<u8> {
    let mut out = Vec::with_capacity(text.len() / 4 * 3);
    let (mut acc, mut bits) = (0u32, 0);
    for b in text.bytes() {
        let Some(v) = B64.iter().position(|&c| c == b) else { continue };
        acc = acc << 6 | v as u32;
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
        }
    }
    out
}
