#!/usr/bin/env python3
"""The booted-box checks (see tests/vm/run.sh). Each check prints `ok` or `FAIL` with
what it saw; the last line is `N passed, M failed`."""
import argparse, json, os, random, re, shutil, socket, subprocess, sys, tempfile, threading, time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import box  # noqa: E402

ROUTER_SECRET = "vm-router-secret-7Qx2"   # configured secret that must never reach the journal
SITE = "vm-box-01"
results = []


def check(name, ok, detail=""):
    results.append((name, bool(ok)))
    print("%s %s%s" % ("ok  " if ok else "FAIL", name, (": " + detail) if detail else ""), flush=True)
    return ok


def note(text):
    print("     " + text, flush=True)


class Outside:
    """What stands outside the box and keeps power through its cuts: the router
    (hotspot-agent sim), the broker (mosquitto) and the central office."""

    def __init__(self, work, sim, central):
        self.work, self.procs = work, []
        self.sim_bin, self.central_bin = sim, central

    def start(self):
        env = dict(os.environ, HOTSPOT_SIM_PASSWORD=ROUTER_SECRET, RUST_LOG="warn")
        # --console: faults and restarts, one a line on its standard input (the clock step
        # restarts the router so that its uptime no longer vouches for a time).
        p = subprocess.Popen([self.sim_bin, "sim", "--no-tls", "--no-rest", "--clients", "0", "--console"], env=env,
                             stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                             stderr=open(os.path.join(self.work, "router.log"), "ab"))
        self.sim = p
        self.procs.append(p)
        self.router_port = None
        for _ in range(20):
            line = p.stdout.readline().decode()
            m = re.match(r"api=([\d.]+):(\d+)", line.strip())
            if m:
                self.router_port = int(m.group(2))
                break
        if not self.router_port:
            raise RuntimeError("the router simulator printed no api= line; see router.log")
        self.mqtt_port = box.free_port()
        conf = os.path.join(self.work, "mosquitto.conf")
        with open(conf, "w") as f:
            f.write("listener %d 127.0.0.1\nallow_anonymous true\npersistence false\n" % self.mqtt_port)
        mosq = shutil.which("mosquitto") or "/usr/sbin/mosquitto"
        self.procs.append(subprocess.Popen([mosq, "-c", conf], stdout=subprocess.DEVNULL,
                                           stderr=open(os.path.join(self.work, "mosquitto.log"), "ab")))
        self.central_env = dict(os.environ, HOTSPOT_CENTRAL_BROKER="127.0.0.1",
                                HOTSPOT_CENTRAL_PORT=str(self.mqtt_port),
                                HOTSPOT_CENTRAL_KEY=os.path.join(self.work, "central.key"),
                                HOTSPOT_CENTRAL_DB=os.path.join(self.work, "central.db"), RUST_LOG="warn")
        out = subprocess.run([self.central_bin, "keygen", "--force"], env=self.central_env,
                             capture_output=True, text=True, check=True).stdout
        self.central_public_key = re.search(r"([0-9a-fA-F]{64})", out).group(1)
        time.sleep(0.5)
        self.procs.append(subprocess.Popen([self.central_bin, "watch"], env=self.central_env,
                                           stdout=open(os.path.join(self.work, "central.out"), "ab"),
                                           stderr=open(os.path.join(self.work, "central.log"), "ab")))
        return {8728: ("127.0.0.1", self.router_port), 1883: ("127.0.0.1", self.mqtt_port)}

    def router_console(self, line):
        """One line to the simulator's console; its answer (`ok: ...` or `error: ...`)."""
        self.sim.stdin.write((line + "\n").encode())
        self.sim.stdin.flush()
        for _ in range(50):     # past what the simulator printed at its start
            said = self.sim.stdout.readline().decode().strip()
            if said.startswith(("ok", "error")) or not said:
                return said
        return said

    def register(self, site, key):
        """The central office registers the site's public key (`hotspot-central register`)."""
        return subprocess.run([self.central_bin, "register", "--site", site, "--key", key], env=self.central_env,
                              capture_output=True, text=True)

    def central_sales(self, latest=True):
        """What the central office stored: with `latest`, each sale's latest state (one row a
        sale); otherwise every message stored (a sale's provisioned and delivered states)."""
        out = subprocess.run([self.central_bin, "sales", "--since", "30d"] + (["--latest"] if latest else []),
                             env=self.central_env, capture_output=True, text=True, check=True)
        return [json.loads(line) for line in out.stdout.splitlines() if line.startswith("{")]

    def router_users(self):
        """Hotspot users on the router that carry the agent's comment."""
        return [u for u in self.router("/ip/hotspot/user/print") if str(u.get("comment", "")).startswith("hsa:")]

    def router(self, *words):
        """One command on the router (librouteros, as a third party would)."""
        import librouteros
        api = librouteros.connect(host="127.0.0.1", port=self.router_port, username="admin",
                                  password=ROUTER_SECRET, timeout=10)
        try:
            path, *args = words
            return list(api(path, **dict(w.split("=", 1) for w in args)))
        finally:
            api.close()

    def stop(self):
        for p in reversed(self.procs):
            p.terminate()
        for p in self.procs:
            try:
                p.wait(timeout=5)
            except subprocess.TimeoutExpired:
                p.kill()


def agent_config(central_key, coin=True, printer=True):
    text = f"""# written by tests/vm/boxtest.py
[agent]
site_id = "{SITE}"
site_name = "Booted box"
state_dir = "/var/lib/hotspot-agent"
log_format = "journald"

[[router]]
name = "main"
host = "127.0.0.1"
transport = "api"
api_port = 8728
username = "admin"
password_file = "/etc/hotspot-agent/router.pass"
dns_name = "hotspot.lan"

[vouchers]
length = 8
currency = "PHP"
currency_decimals = 0

[[profile]]
name = "kiosk-2m"
rate_limit = "1M/2M"
shared_users = 1

[[plan]]
id = "1h"
name = "1 hour"
price = 5
time_limit = "1h"
validity = "1d"
profile = "kiosk-2m"
pool = 5

[enforcement]
interval = "5s"

[board]
preset = "none"

[kiosk]
mode = "plans"
insert_window = "5s"
auto_buy = true
carry_over = true

[kiosk.coin]
kind = "{'cctalk' if coin else 'none'}"
port = "/dev/hotspot-coin"
address = 2
poll_interval = "100ms"

[kiosk.printer]
kind = "{'escpos' if printer else 'none'}"
port = "/dev/ttyS1"
baud = 9600

[kiosk.display]
kind = "{'none' if printer else 'png'}"
png_dir = "/var/lib/hotspot-agent/screens"

[central]
broker = "127.0.0.1"
port = 1883
central_public_key = "{central_key}"
"""
    return text


def store_sql(b, sql):
    return b.sh("sqlite3 -readonly /var/lib/hotspot-agent/hotspot-agent.db %s" % sh_quote(sql)).strip()


def sh_quote(s):
    return "'" + s.replace("'", "'\\''") + "'"


def money(b):
    """Coins in, credit left, sales and their prices, from the store."""
    row = store_sql(b, "SELECT "
                    "(SELECT COALESCE(SUM(amount),0) FROM credit WHERE source NOT IN ('sale','refund','forfeit')),"
                    "(SELECT COALESCE(SUM(amount),0) FROM credit),"
                    "(SELECT COALESCE(-SUM(amount),0) FROM credit WHERE source IN ('forfeit')),"
                    "(SELECT COUNT(*) FROM sales WHERE state IN ('reserved','provisioned','delivered')),"
                    "(SELECT COALESCE(SUM(price),0) FROM sales WHERE state IN ('reserved','provisioned','delivered')),"
                    "(SELECT COUNT(*) - COUNT(DISTINCT code) FROM sales),"
                    "(SELECT COUNT(*) FROM sales WHERE state = 'delivered')")
    coins, credit, forfeit, sales, sold, dup, delivered = (int(x) for x in row.split("|"))
    return dict(coins=coins, credit=credit, forfeit=forfeit, sales=sales, sold=sold, dup_codes=dup,
                delivered=delivered)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--image", required=True)
    ap.add_argument("--deb", required=True)
    ap.add_argument("--arch", default="amd64")
    ap.add_argument("--sim", required=True)
    ap.add_argument("--central", required=True)
    ap.add_argument("--guest-bin", required=True, help="box-guest for the guest's architecture (tests/vm/run.sh builds it)")
    ap.add_argument("--long", action="store_true")
    ap.add_argument("--short", action="store_true")
    ap.add_argument("--arm64", action="store_true")
    ap.add_argument("--cuts", type=int, help="power cuts in the minimal boot (24; --long 1,000)")
    ap.add_argument("--cut-budget", type=float,
                    help="stop cutting after this many seconds of the loop (short form: 90)")
    ap.add_argument("--until", help="stop cutting at this UTC time, HH:MM")
    ap.add_argument("--systemd-cuts", type=int, help="power cuts under systemd (1; --long 3)")
    ap.add_argument("--sales", type=int, help="sales for the footprint (5; --long 1,000)")
    ap.add_argument("--small-kernel", help="vmlinux from tests/vm/kernel.sh for the minimal boot")
    ap.add_argument("--no-clock", dest="clock", action="store_false", help="leave out the clock steps")
    ap.add_argument("--keep", action="store_true", help="keep the work folder")
    ap.add_argument("--only", help="comma-separated steps after install and READY, e.g. clock or devices,cuts "
                                   "(steps: devices, restarts, footprint, cuts, clock; cuts is systemd-cuts and minimal-cuts); "
                                   "for working on one step")
    a = ap.parse_args()
    cuts = a.cuts if a.cuts is not None else (1000 if a.long else 24)
    if a.cut_budget is None and not a.long and a.cuts is None:
        a.cut_budget = 90
    if a.systemd_cuts is None:
        a.systemd_cuts = 3 if a.long else 1
    if a.sales is None:
        a.sales = 1000 if a.long else 5
    if a.until:
        import calendar
        hh, mm = (int(x) for x in a.until.split(":"))
        t = time.gmtime()
        a.until = calendar.timegm((t.tm_year, t.tm_mon, t.tm_mday, hh, mm, 0))
    work = tempfile.mkdtemp(prefix="hotspot-vm-")
    note("work folder %s" % work)
    outside = Outside(work, a.sim, a.central)
    targets = outside.start()
    devices = ["-device", "qemu-xhci" if a.arch == "amd64" else "qemu-xhci",
               "-chardev", "socket,id=coin,path=%s/coin.sock,server=on,wait=off" % work,
               "-device", "usb-serial,chardev=coin"]
    if a.arch == "amd64":
        devices += ["-chardev", "socket,id=prn,path=%s/printer.sock,server=on,wait=off" % work,
                    "-serial", "chardev:prn"]
    b = box.Box(a.image, work, arch=a.arch, devices=devices)
    b.bridge_targets.update(targets)
    if a.arch == "amd64" and os.environ.get("HOTSPOT_VM_ACCEL", "auto") != "tcg" \
            and box.kvm_works(os.path.join(a.image, "vmlinuz")):
        b.accel = "kvm"
    note("accelerator: %s" % b.accel)
    shutil.copy(a.deb, os.path.join(b.xfer, "hotspot-agent.deb"))
    shutil.copy(os.path.join(box.HERE, "guest", "box-init.sh"), b.xfer)
    shutil.copy(a.guest_bin, os.path.join(b.xfer, "box-guest"))
    stop_devices = threading.Event()
    acceptor = box.Acceptor(os.path.join(work, "coin.sock"))
    printer = box.Printer(os.path.join(work, "printer.sock"))
    try:
        b.fresh_disk()
        t = b.start()
        note("first boot to the command channel: %.1f s" % t)
        threading.Thread(target=acceptor.serve, args=(stop_devices.is_set,), daemon=True).start()
        if a.arch == "amd64":
            threading.Thread(target=printer.serve, args=(stop_devices.is_set,), daemon=True).start()
        b.sh("mountpoint -q /mnt/xfer || mount /mnt/xfer")
        import steps
        steps.run_all(b, a, outside, acceptor, printer, cuts, check, note)
    except box.GuestError as e:
        check("the guest answered", False, str(e))
    finally:
        stop_devices.set()
        b.kill()
        outside.stop()
        if not a.keep and all(ok for _, ok in results):
            shutil.rmtree(work, ignore_errors=True)
        else:
            note("logs kept in %s" % work)
    passed = sum(1 for _, ok in results if ok)
    print("%d passed, %d failed" % (passed, len(results) - passed))
    sys.exit(0 if passed == len(results) else 1)


if __name__ == "__main__":
    main()
