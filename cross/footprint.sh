#!/usr/bin/env bash
# Prints the agent's footprint figures against the targets in cross/README.md:
#   - stripped binary size per built target       (target: under 10 MB)
#   - resident memory after start-up               (target: under 20 MB)
#   - resident memory after 1,000 sales            (target: under 20 MB)
#   - time from start to READY=1 with a reachable router (target: under 500 ms)
#
#   cross/footprint.sh
#
# Memory and time are measured on this machine (x86_64) with the release build for
# the box (no simulators) against the simulated router running natively. "Ready" is
# the moment the agent sends READY=1 to systemd: the script plays systemd's part with
# its own $NOTIFY_SOCKET, so it measures exactly what the unit waits for.
#
# Environment:
#   AGENT_BIN  release binary to measure (default: cross/build.sh x86_64-unknown-linux-gnu)
#   HOST_BIN   native binary with the sim feature (default: cargo build of this checkout)
#   SALES      number of sales (default 1000)
#   SALES_CMD  the sales command after `--config FILE` (default: voucher batch --plan 1h --count $SALES)
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/.." && pwd)"
sales="${SALES:-1000}"

echo "== binary sizes (stripped, release, no simulators)"
shopt -s nullglob
bins=("$here"/dist/*/hotspot-agent)
if [ ${#bins[@]} -eq 0 ]; then
    "$here/build.sh" aarch64-unknown-linux-gnu >/dev/null
    bins=("$here"/dist/*/hotspot-agent)
fi
for f in "${bins[@]}"; do
    size=$(stat -c %s "$f")
    verdict=$([ "$size" -lt $((10 * 1024 * 1024)) ] && echo ok || echo "OVER 10 MB")
    printf '  %-32s %9d bytes  %6.2f MiB  %s\n' "$(basename "$(dirname "$f")")" "$size" \
        "$(echo "$size" | awk '{printf "%.2f", $1/1048576}')" "$verdict"
done

agent="${AGENT_BIN:-}"
if [ -z "$agent" ]; then
    agent="$("$here/build.sh" x86_64-unknown-linux-gnu)"
fi
host_bin="${HOST_BIN:-}"
if [ -z "$host_bin" ]; then
    (cd "$root" && cargo build -q -p hotspot-agent --features sim --bin hotspot-agent)
    host_bin="${CARGO_TARGET_DIR:-$root/target}/debug/hotspot-agent"
fi
command -v python3 >/dev/null || { echo "footprint.sh needs python3 for the measurements" >&2; exit 1; }

echo "== memory and start-up ($(uname -m), $agent)"
exec python3 - "$agent" "$host_bin" "$sales" "${SALES_CMD:-}" <<'PY'
import os, re, resource, shlex, socket, subprocess, sys, tempfile, time

agent, host_bin, sales, sales_cmd = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
work = tempfile.mkdtemp(prefix="footprint-")
procs = []

def rss_kib(pid):
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        return None

def show(label, kib, limit_mib):
    if kib is None:
        print(f"  {label:<34} n/a")
        return
    verdict = "ok" if kib < limit_mib * 1024 else f"OVER {limit_mib} MB"
    print(f"  {label:<34} {kib / 1024:7.1f} MiB  {verdict}")

try:
    # The simulated router, natively, on port 0; it prints api=HOST:PORT.
    sim = subprocess.Popen([host_bin, "sim"], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    procs.append(sim)
    port, deadline = None, time.time() + 15
    while port is None and time.time() < deadline:
        line = sim.stdout.readline()
        if not line:
            break
        m = re.match(r"api=[^\s:]+:(\d+)", line.strip())
        if m:
            port = int(m.group(1))
    if port is None:
        print("  hotspot-agent sim did not print api=HOST:PORT; no run-time figures")
        sys.exit(1)

    config = os.path.join(work, "footprint.toml")
    os.makedirs(os.path.join(work, "state"))
    with open(config, "w") as f:
        f.write(f"""[agent]
site_id = "footprint"
state_dir = "{work}/state"
log_format = "text"

[[router]]
name = "sim"
host = "127.0.0.1"
transport = "api"
api_port = {port}
username = "admin"

[[plan]]
id = "1h"
name = "1 hour"
price = 5
time_limit = "1h"

# No kiosk hardware on this machine: the service runs its loops without devices.
[kiosk.coin]
kind = "none"
[kiosk.printer]
kind = "none"
[kiosk.display]
kind = "none"
""")

    # Play systemd: a notify socket, then wait for READY=1.
    notify_path = os.path.join(work, "notify.sock")
    notify = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    notify.bind(notify_path)
    notify.settimeout(0.05)
    env = dict(os.environ, NOTIFY_SOCKET=notify_path, RUST_LOG="warn")
    start = time.monotonic()
    daemon = subprocess.Popen([agent, "--config", config, "run"], env=env,
                              stdout=subprocess.DEVNULL, stderr=open(os.path.join(work, "agent.err"), "w"))
    procs.append(daemon)
    ready_ms = None
    while time.monotonic() - start < 30 and daemon.poll() is None:
        try:
            msg = notify.recv(4096).decode(errors="replace")
        except socket.timeout:
            continue
        if "READY=1" in msg.split("\n"):
            ready_ms = (time.monotonic() - start) * 1000
            break
    if ready_ms is None:
        print("  agent never sent READY=1 (exit code %s); last log lines:" % daemon.poll())
        with open(os.path.join(work, "agent.err")) as f:
            for line in f.readlines()[-10:]:
                print("    " + line.rstrip())
    else:
        verdict = "ok" if ready_ms < 500 else "OVER 500 ms"
        print(f"  {'start-up to READY=1':<34} {ready_ms:7.1f} ms   {verdict}")
        time.sleep(1.0)  # let start-up work (pool top-up, first reconcile) settle
        show("RSS of the service after start-up", rss_kib(daemon.pid), 20)

    cmd = [agent, "--config", config] + (shlex.split(sales_cmd) if sales_cmd else
           ["voucher", "batch", "--plan", "1h", "--count", str(sales)])
    t0 = time.monotonic()
    child = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=open(os.path.join(work, "sales.err"), "w"))
    _, status, usage = os.wait4(child.pid, 0)  # this child's own peak RSS, KiB on Linux
    took = time.monotonic() - t0
    result = subprocess.CompletedProcess(cmd, os.waitstatus_to_exitcode(status), "",
                                         open(os.path.join(work, "sales.err")).read())
    if result.returncode == 0:
        peak = usage.ru_maxrss
        print(f"  {sales} sales in one process            {took:7.2f} s    ({sales / took:.0f}/s)")
        show(f"peak RSS of that process", peak, 20)
        if ready_ms is not None:
            time.sleep(1.0)
            show(f"RSS of the service after {sales} sales", rss_kib(daemon.pid), 20)
    else:
        print(f"  sales command failed ({' '.join(cmd[3:])}): {result.stderr.strip()[-300:]}")
finally:
    for p in reversed(procs):
        if p.poll() is None:
            p.terminate()
            try:
                p.wait(5)
            except subprocess.TimeoutExpired:
                p.kill()
PY
