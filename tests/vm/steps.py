"""The booted-box checks, in the order the README's "On the box" section lists them."""
import os, random, re, threading, time

import box
import boxtest

UNIT = "hotspot-agent"


def show(b, *props):
    out = b.sh("systemctl show %s -p %s" % (UNIT, ",".join(props)))
    return dict(line.split("=", 1) for line in out.splitlines() if "=" in line)


def wait_for(fn, timeout, step=0.5):
    deadline = time.time() + timeout
    while time.time() < deadline:
        v = fn()
        if v:
            return v
        time.sleep(step)
    return None


def start_allowance(a):
    """Seconds a start may take: the agent's start to READY=1 (with the config check
    before it) is about 4 s on the x86_64 guest under TCG, about a minute on the arm64
    guest, whose CPU qemu emulates instruction by instruction."""
    return 30 if a.arch == "amd64" else 150


def active(b):
    return b.sh("systemctl is-active %s" % UNIT, check=False)[1].strip() == "active"


def install(b, a, outside, check, note):
    deb = "/mnt/xfer/hotspot-agent.deb"
    rc, out = b.sh("dpkg -i %s" % deb, timeout=300, check=False)
    check("dpkg -i on a clean system", rc == 0, out.strip().splitlines()[-1] if out.strip() else "")
    user = b.sh("id hotspot-agent", check=False)[1].strip()
    check("system user hotspot-agent in gpio, i2c, dialout",
          all(g in user for g in ("(gpio)", "(i2c)", "(dialout)")), user)
    modes = b.sh("stat -c '%n %a %U:%G' /etc/hotspot-agent /etc/hotspot-agent/config.toml "
                 "/etc/hotspot-agent/router.pass").split("\n")
    want = {"/etc/hotspot-agent": "755 root:root", "/etc/hotspot-agent/config.toml": "644 root:root",
            "/etc/hotspot-agent/router.pass": "600 hotspot-agent:hotspot-agent"}
    got = {l.split(" ", 1)[0]: l.split(" ", 1)[1] for l in modes if l}
    check("config folder, config.toml and router.pass have the README's modes", got == want, str(got))
    # As installed, router.pass is empty (deploy/README: `router setup-script` fills it), so
    # config check, which is also the unit's ExecStartPre, refuses it and says what to do.
    rc, out = b.sh("hotspot-agent config check /etc/hotspot-agent/config.toml", check=False)
    check("config check refuses the installed config until router.pass holds a password, and says how",
          rc != 0 and "/etc/hotspot-agent/router.pass" in out and "is empty" in out and "printf" in out,
          out.strip()[-300:])
    rc, out = b.sh("systemd-analyze verify --man=no /lib/systemd/system/hotspot-agent.service", check=False)
    check("systemd-analyze verify on the unit", rc == 0 and "hotspot-agent" not in out, out.strip()[-300:])
    state = b.sh("systemctl is-enabled %s; systemctl is-active %s" % (UNIT, UNIT), check=False)[1].split()
    check("installed, neither enabled nor started (postinst says what to do first)",
          state[:2] == ["disabled", "inactive"], " ".join(state))

    # Our site's config and password, then the upgrade: both must be kept.
    # The arm64 guest (-M virt) has one UART, the console: no printer there, so the
    # customer sees the voucher on the display (PNG files in the state folder).
    b.put("/etc/hotspot-agent/config.toml",
          boxtest.agent_config(outside.central_public_key, printer=(a.arch == "amd64")))
    b.sh("printf %%s %s > /etc/hotspot-agent/router.pass" % boxtest.ROUTER_SECRET)
    rc, out = b.sh("dpkg -i %s" % deb, timeout=300, check=False)
    check("dpkg -i again (upgrade in place)", rc == 0, out.strip().splitlines()[-1] if out.strip() else "")
    kept = b.sh("grep -c 'written by tests/vm/boxtest.py' /etc/hotspot-agent/config.toml; "
                "cat /etc/hotspot-agent/router.pass; echo; stat -c '%a %U' /etc/hotspot-agent/router.pass")
    check("config and password kept across the upgrade, password still 600",
          kept.split() == ["1", boxtest.ROUTER_SECRET, "600", "hotspot-agent"], kept.replace(boxtest.ROUTER_SECRET, "***"))
    rc, out = b.sh("hotspot-agent config check /etc/hotspot-agent/config.toml", check=False)
    check("config check passes on the site's config", rc == 0, out.strip()[-300:])
    size = b.sh("dpkg-query -W -f='${Installed-Size}' hotspot-agent").strip()
    note("installed size (dpkg Installed-Size): %s KiB" % size)
    return {"installed_kib": int(size)}


def ready(b, a, outside, check, note, figures):
    """active only after READY=1. READY=1 does not wait for the router (the agent sells
    from its pool while the router is down), so the unit becomes active with the router
    unreachable too; what is checked is that systemd counts it started only when the
    agent said so, and how long that took."""
    real = b.bridge_targets[8728]
    b.bridge_targets[8728] = ("127.0.0.1", 1)       # nothing listens there
    b.sh("systemctl enable %s >/dev/null 2>&1; systemctl start --no-block %s" % (UNIT, UNIT))
    ok = wait_for(lambda: active(b), 60 + 2 * start_allowance(a))
    s = show(b, "ActiveState", "SubState")
    check("with the router unreachable the unit still becomes active (deploy/README: it sells from its pool)",
          ok, str(s))
    b.bridge_targets[8728] = real
    b.sh("systemctl stop %s" % UNIT)
    t0 = time.time()
    rc, out = b.sh("systemctl disable %s >/dev/null 2>&1; systemctl enable --now %s" % (UNIT, UNIT),
                   timeout=60 + 2 * start_allowance(a), check=False)
    took = time.time() - t0
    s = show(b, "ActiveState", "SubState", "ExecMainStartTimestampMonotonic", "ActiveEnterTimestampMonotonic")
    # ExecStartPre (config check) runs before ExecMainStart; READY=1 is ActiveEnter.
    to_ready = (int(s["ActiveEnterTimestampMonotonic"]) - int(s["ExecMainStartTimestampMonotonic"])) / 1e6
    sent = b.sh("journalctl -u %s -o cat --no-pager -b | grep -c 'Started hotspot-agent' || true" % UNIT).strip()
    check("systemctl enable --now returns with the unit active (running), entered after the process started",
          rc == 0 and s.get("SubState") == "running" and to_ready > 0, out.strip()[-200:] + " " + str(s))
    note("start to READY=1 under systemd: %.2f s (process start to ActiveEnter); "
         "systemctl enable --now took %.1f s; 'Started' lines: %s" % (to_ready, took, sent))
    figures["ready_s"] = to_ready
    # The site's key, made in the state folder by the service's first start, registered at
    # the central office (README: `hotspot-agent site id`, then `hotspot-central register`).
    out = agent_cli(b, "site id")
    key = re.search(r"\b([0-9a-f]{64})\b", out)
    reg = outside.register(boxtest.SITE, key.group(1)) if key else None
    check("`site id` in the box prints the site's key, and the central office registers it",
          key and reg.returncode == 0, (out.strip()[-200:] if not key else (reg.stderr or reg.stdout).strip()[-200:]))

def main_pid(b):
    return int(show(b, "MainPID")["MainPID"])


def restarts(b, a, outside, check, note, figures):
    pid = main_pid(b)
    n0 = int(show(b, "NRestarts")["NRestarts"])
    b.sh("kill -STOP %d" % pid)
    t0 = time.time()
    back = wait_for(lambda: main_pid(b) not in (0, pid) and active(b), 90 + start_allowance(a), 1.0)
    took = time.time() - t0
    wd = b.sh("journalctl -u %s -o cat --since '-3min' | grep -ci watchdog" % UNIT, check=False)[1].strip()
    check("kill -STOP: systemd's watchdog restarts it (WatchdogSec=30s, RestartSec=5s)",
          back and took < 30 + 5 + start_allowance(a) and int(show(b, "NRestarts")["NRestarts"]) == n0 + 1,
          "active again after %.0f s, watchdog lines in the journal: %s" % (took, wd))
    figures["watchdog_s"] = took
    pid = main_pid(b)
    # SIGABRT is what a panic does in the box's build (panic = "abort"). A SIGSEGV sent
    # with kill is not a crash for a Rust program: its stack-overflow handler returns and
    # the process goes on (seen here: still the same process after 180 s).
    b.sh("kill -ABRT %d" % pid)
    t0 = time.time()
    back = wait_for(lambda: main_pid(b) not in (0, pid) and active(b), 150 + start_allowance(a), 1.0)
    took = time.time() - t0
    check("a crash (SIGABRT, as a panic) is restarted", back, "active again after %.0f s" % took)
    out = b.sh("systemd-analyze security %s --no-pager 2>&1 | tail -n 1" % UNIT, check=False)[1].strip()
    m = re.search(r"exposure level for \S+: ([\d.]+) (\S+)", out)
    check("systemd-analyze security figure read", m, out)
    if m:
        note("systemd-analyze security hotspot-agent: %s %s" % (m.group(1), m.group(2)))
        figures["security"] = "%s %s" % (m.group(1), m.group(2))


def devices(b, a, outside, acceptor, printer, check, note):
    dev = b.sh("ls -l /dev/hotspot-coin; readlink -f /dev/hotspot-coin; "
               "udevadm info -q property /dev/hotspot-coin | grep -E '^(ID_VENDOR_ID|ID_MODEL_ID|ID_USB_DRIVER)='; "
               "stat -c '%G %a' $(readlink -f /dev/hotspot-coin)", check=False)[1]
    check("qemu's usb-serial (FTDI 0403:6001) is /dev/ttyUSB* via ftdi_sio, named /dev/hotspot-coin, group dialout",
          "/dev/ttyUSB" in dev and "ID_VENDOR_ID=0403" in dev and "ftdi_sio" in dev and "dialout 660" in dev,
          " | ".join(dev.split("\n")))
    polls = acceptor.polls
    time.sleep(2)
    check("the service (hardened: DevicePolicy=closed) polls the acceptor on /dev/hotspot-coin",
          acceptor.polls > polls + 3, "%d polls in 2 s" % (acceptor.polls - polls))
    before = boxtest.money(b)
    tickets = len(printer.tickets())
    inserted = wait_for(lambda: acceptor.insert(2), 30)
    check("the acceptor takes a coin (the agent enabled it: master inhibit off)", inserted,
          "" if inserted else "master accept %s, mask %s; journal: %s" % (
              acceptor.master_accept, acceptor.mask,
              b.sh("journalctl -u %s -o cat --no-pager | grep -iE 'coin|inhibit|cctalk|pool|router' | tail -n 12"
                   % UNIT, check=False)[1]))
    sold = wait_for(lambda: boxtest.money(b)["sales"] > before["sales"], 60)
    after = boxtest.money(b)
    check("a 5-peso coin from the host's ccTalk acceptor is credited and sold",
          sold and after["coins"] == before["coins"] + 5, str(after))
    if a.arch == "amd64":
        got = wait_for(lambda: len(printer.tickets()) > tickets, 60)
        t = printer.tickets()[-1] if got else b""
        code = boxtest.store_sql(b, "SELECT code FROM sales WHERE state IN ('provisioned','delivered') "
                                    "ORDER BY sold_at_ms DESC LIMIT 1")
        check("the ticket reaches the host's printer over /dev/ttyS1, with the voucher code",
              got and code.encode() in t, "%d bytes, code %s" % (len(t), code))
    owner = b.sh("stat -c '%U %a' /var/lib/hotspot-agent /var/lib/hotspot-agent/hotspot-agent.db").split()
    check("the state folder is the service's, mode 750, and holds the store", owner[:2] == ["hotspot-agent", "750"],
          " ".join(owner))


def no_secret(b, check, note):
    n = b.sh("journalctl -u %s -o verbose --no-pager | grep -c %s || true" % (UNIT, boxtest.ROUTER_SECRET)).strip()
    lines = b.sh("journalctl -u %s -o cat --no-pager | wc -l" % UNIT).strip()
    check("journald holds the service's log, and no configured secret is in it",
          n == "0" and int(lines) > 5, "%s lines, secret found %s times" % (lines, n))


def invariants(b, outside, acceptor, check, label, quiet=False):
    m = boxtest.money(b)
    codes = set(boxtest.store_sql(b, "SELECT code FROM sales").split())
    users = outside.router_users()
    unknown = [u["name"] for u in users if u["name"] not in codes]
    ok = (m["coins"] == m["credit"] + m["sold"] + m["forfeit"] and m["dup_codes"] == 0 and not unknown)
    if not quiet or not ok:
        check("%s: coins in = credit + sales (%d = %d + %d + forfeited %d), no voucher twice, "
              "no router user the store does not know" % (label, m["coins"], m["credit"], m["sold"], m["forfeit"]),
              ok, "dup codes %d, unknown router users %s" % (m["dup_codes"], unknown[:5]))
    return ok, m


def selling(b, acceptor):
    """The box can sell again: under systemd the unit is active (READY=1 sent); in the
    minimal boot the agent runs and has opened the coin slot (master inhibit off)."""
    if not b.minimal:
        return active(b)
    return acceptor.master_accept and b.sh("pgrep -x hotspot-agent", check=False)[0] == 0


def power_cuts(b, a, outside, acceptor, printer, cuts, check, note, figures, label, until=None):
    """`cuts` power cuts while a customer drops coins, or as many as fit before the
    time `until` (seconds since the epoch). Each cycle: sell for 0.5-3 s, cut (qemu
    killed, or QMP system_reset every fourth time), boot, wait until the box sells
    again, check the invariants. The cycle's parts are timed for the README."""
    rng = random.Random(int(time.time()))
    stop = threading.Event()

    def customer():
        while not stop.is_set():
            acceptor.insert(rng.choice([1, 2, 2]))
            time.sleep(rng.uniform(0.3, 1.5))

    kinds = {"kill": 0, "system_reset": 0}
    failed = 0
    per_kernel = {}     # "small" or "debian": the cycle's parts, summed, and the count
    done = 0
    for i in range(cuts):
        if until and time.time() >= until:
            note("%s: stopped at the time limit after %d cuts" % (label, done))
            break
        stop.clear()
        th = threading.Thread(target=customer, daemon=True)
        th.start()
        window = rng.uniform(0.5, 3.0)
        time.sleep(window)
        parts = per_kernel.setdefault("small" if b.booted_small else "debian",
                                      {"n": 0, "selling": 0.0, "boot": 0.0, "to_selling": 0.0, "checks": 0.0})
        parts["n"] += 1
        parts["selling"] += window
        # One cut in four is a QMP system_reset: after one, the small kernel spends
        # 4.5-6 s under TCG freeing its rodata/data gap (a boot after a kill: 0.01 s).
        kind = "system_reset" if i % 4 == 3 else "kill"
        kinds[kind] += 1
        t0 = time.time()
        if kind == "kill":
            b.kill()
        else:
            b.reset()
        acceptor.power_cut()
        stop.set()
        th.join()
        done += 1
        why = "qemu exited"
        try:
            if kind == "kill":
                b.start()
            else:
                b.wait_up(int(os.environ.get("HOTSPOT_VM_BOOT_TIMEOUT", "240")))
            t1 = time.time()
            back = wait_for(lambda: selling(b, acceptor), 150, 0.2)
            t2 = time.time()
            parts["boot"] += t1 - t0
            parts["to_selling"] += t2 - t1
            if b.minimal:
                guest_timeline(b, parts)
        except box.GuestError as e:
            back, why = False, str(e)
        if not back:
            failed += 1
            check("%s cut %d (%s): the service came back by itself" % (label, i + 1, kind), False,
                  b.sh("systemctl status %s --no-pager | tail -n 20; tail -n 20 /run/agent.log" % UNIT,
                       check=False)[1] if b.proc.poll() is None else why)
            if b.proc.poll() is not None:
                b.start()
            continue
        t3 = time.time()
        ok, m = invariants(b, outside, acceptor, check, "%s, after cut %d (%s)" % (label, i + 1, kind), quiet=True)
        parts["checks"] += time.time() - t3
        failed += 0 if ok else 1
        if (i + 1) % 10 == 0 or i + 1 == cuts:
            note("%s: %d cuts %s; %d sales, %d coins credited, %d credit, %d failed cycles; per cycle %s"
                 % (label, i + 1, kinds, m["sales"], m["coins"], m["credit"], failed, cycle_costs(per_kernel)))
    check("%s: %d power cuts (%d qemu killed, %d system_reset): back by itself and invariants held after each"
          % (label, done, kinds["kill"], kinds["system_reset"]), done > 0 and failed == 0,
          "%d cycles failed" % failed)
    figures["cuts_" + label] = done
    figures["cycle_s_" + label] = cycle_costs(per_kernel)


def guest_timeline(b, parts):
    """The minimal boot's own clock (seconds since its kernel started): when its init
    script started, when the kernel attached the USB serial adapter (dmesg), when the
    script saw it, when the agent last started, and when it sold again."""
    out = b.sh("cat /proc/uptime; grep -E '^(init started|devices ready|agent starting) ' /run/agent.log | tail -n 3; "
               "dmesg | grep -E 'now attached to ttyUSB|EXT4-fs \\(vda\\): mounted|as init process'", check=False)[1].split("\n")
    try:
        seen = {"at_selling": float(out[0].split()[0])}
        for line in out[1:]:
            words = line.split()
            if line.startswith("init started"):
                seen["at_init"] = float(words[2])
            elif line.startswith("["):
                at = float(line[1:].split("]")[0])
                for key, text in (("at_usb", "ttyUSB"), ("at_root", "EXT4-fs"), ("at_pid1", "as init process")):
                    if text in line:
                        seen.setdefault(key, at)
            elif line.startswith("devices ready"):
                seen["at_devices"] = float(words[2])
            elif line.startswith("agent starting"):
                seen["at_agent_start"] = float(words[2])
    except (ValueError, IndexError):
        return
    for k, v in seen.items():
        parts[k] = parts.get(k, 0.0) + v
    if parts["n"] == 1:
        with open(os.path.join(b.work, "agent-minimal-boot.log"), "w") as f:
            f.write(b.sh("cat /run/agent.log", check=False)[1])


def cycle_costs(per_kernel):
    """Mean seconds per cycle for each kernel: selling, cut to command channel, to selling, checks."""
    return {k: dict({"cuts": p["n"]}, **{n: round(v / p["n"], 1) for n, v in p.items() if n != "n"})
            for k, p in per_kernel.items()}


def settle(b, a, outside, acceptor, printer, check, note, figures):
    """After the cuts: the invariants once more, and every sale at the central office once."""
    ok, m = invariants(b, outside, acceptor, check, "after the last cut")
    store_sales = set(boxtest.store_sql(
        b, "SELECT id FROM sales WHERE state IN ('reserved','provisioned','delivered')").split())

    def at_office():
        return [str(s["sale"].get("Sale", s["sale"]).get("sale_id")) for s in outside.central_sales()]

    got = wait_for(lambda: (lambda g: g if set(g) >= store_sales else None)(at_office()), 180, 3.0) or at_office()
    # Twice = one sale with two rows in its latest state, or one message stored twice.
    ids = [m["msg_id"] for m in outside.central_sales(latest=False)]
    dup = len(got) - len(set(got)) + len(ids) - len(set(ids))
    check("every sale reached the central office once (%d in the store, %d at the office, %d twice)"
          % (len(store_sales), len(set(got)), dup), set(got) == store_sales and dup == 0,
          "missing %s, extra %s" % (sorted(store_sales - set(got))[:5], sorted(set(got) - store_sales)[:5]))
    note("acceptor: %d coins taken, %d reported to the agent (value %d); store: %d credited, %d credit left; "
         "%d sales (%d delivered); tickets printed %d" % (acceptor.inserted, acceptor.reported, acceptor.value_reported,
                                                        m["coins"], m["credit"], m["sales"], m["delivered"],
                                                        len(printer.tickets())))
    lost = acceptor.value_reported - m["coins"]
    cuts = sum(v for k, v in figures.items() if k.startswith("cuts_"))
    check("coins read by the agent but not credited: none beyond one coin per cut (read, then the power went)",
          0 <= lost <= 10 * cuts, "value read %d, credited %d, %d cuts" % (acceptor.value_reported, m["coins"], cuts))
    figures.update(sales=m["sales"], coins=m["coins"], lost_value=lost, tickets=len(printer.tickets()))


def agent_cli(b, args):
    """A hotspot-agent command in the guest as the service's user (it reads the store)."""
    return b.sh("setpriv --reuid=hotspot-agent --regid=hotspot-agent --init-groups "
                "hotspot-agent %s --config /etc/hotspot-agent/config.toml 2>&1" % args, timeout=60, check=False)[1]


def clock_line(b, command):
    lines = [l.strip() for l in agent_cli(b, command).splitlines() if l.strip().startswith("clock")]
    return lines[0] if lines else "(no clock line)"


def sale_row(b, sale_id):
    row = boxtest.store_sql(b, "SELECT COALESCE(first_login_ms,''), COALESCE(ended_at_ms,''), "
                               "COALESCE(end_reason,'') FROM sales WHERE id = %d" % sale_id)
    first, ended, reason = (row.split("|") + ["", "", ""])[:3]
    return {"first_login_ms": first, "ended_at_ms": ended, "end_reason": reason}


def router_disabled(outside, code):
    users = [u for u in outside.router("/ip/hotspot/user/print") if u.get("name") == code]
    return bool(users) and str(users[0].get("disabled")).lower() in ("true", "yes")


def clock(b, a, outside, acceptor, check, note, figures):
    """The README's "Validity on a clock nobody set", in the booted box: a voucher in
    use, then a boot three days in the past (no RTC: the time fake-hwclock would
    restore), then NTP stepping the clock two days past the voucher's validity, then
    the clock reported synchronised. Validity and first logins must wait for it."""
    def sold():
        return [int(x) for x in boxtest.store_sql(
            b, "SELECT id FROM sales WHERE state IN ('provisioned','delivered') ORDER BY id").split()]

    def login(sale_id, mac):
        code, password = boxtest.store_sql(b, "SELECT code, password FROM sales WHERE id = %d" % sale_id).split("|")
        outside.router("/ip/hotspot/active/login", "user=" + code, "password=" + password, "mac-address=" + mac)
        return code

    def sell_one():
        have = set(sold())
        if not wait_for(lambda: acceptor.insert(2), 30):
            return None
        return wait_for(lambda: max(set(sold()) - have, default=None), 60, 1.0)

    v = sell_one() or sold()[0]
    v_code = login(v, "02:00:00:00:00:a1")
    first = wait_for(lambda: sale_row(b, v)["first_login_ms"], 60, 1.0)
    check("clock: a voucher logged in on the router gets its first login recorded (clock trusted)", first,
          "sale %d: %s; %s" % (v, sale_row(b, v), clock_line(b, "stats")))
    # Off, and back three days in the past. The router restarts meanwhile (its users kept),
    # so its uptime no longer runs on from the agent's last trusted reading and it vouches
    # for no time: with a router that kept running, the agent would act on the router's time
    # (README, "Validity on a clock nobody set"; unit tests in vouchers::clock).
    b.kill()
    acceptor.power_cut()
    said = outside.router_console("restart")
    check("clock: the router restarts with its users (simulator console)", said.startswith("ok"), said)
    b.clock_offset = -3 * 86400
    b.start()
    wait_for(lambda: selling(b, acceptor), 150, 0.5)
    guest_now = int(b.sh("date +%s").strip())
    line = clock_line(b, "stats")
    check("clock: booted 3 days in the past, `stats` says UNTRUSTED (below the time already seen)",
          "UNTRUSTED" in line and "before a time already seen" in line and abs(guest_now + 3 * 86400 - time.time()) < 120,
          line)
    w = sell_one()
    w_code = login(w, "02:00:00:00:00:a2") if w else None
    time.sleep(12)      # two enforcement passes (interval 5 s)
    check("clock: while it is untrusted a voucher logged in gets no first login",
          w and sale_row(b, w)["first_login_ms"] == "", "sale %s: %s" % (w, w and sale_row(b, w)))
    # NTP steps it forward, two days past the real time: past the first voucher's 1-day validity.
    b.sh("date -s @%d >/dev/null" % int(time.time() + 2 * 86400))
    time.sleep(12)
    line = clock_line(b, "stats")
    row = sale_row(b, v)
    check("clock: stepped forward 5 days, not yet synchronised: nothing expires by validity",
          row["ended_at_ms"] == "" and not router_disabled(outside, v_code), "sale %d: %s" % (v, row))
    check("clock: stepped and not synchronised, `stats` says UNTRUSTED as the enforcement pass judges it",
          "UNTRUSTED" in line, line)
    check("clock: stepped and not synchronised, still no first login for the second voucher",
          w and sale_row(b, w)["first_login_ms"] == "", "sale %s: %s" % (w, w and sale_row(b, w)))
    # What systemd-timesyncd leaves once it has synchronised.
    b.sh("mkdir -p /run/systemd/timesync && touch /run/systemd/timesync/synchronized")
    ended = wait_for(lambda: sale_row(b, v)["ended_at_ms"] and router_disabled(outside, v_code), 60, 2.0)
    row = sale_row(b, v)
    check("clock: synchronised, the voucher past its validity ends (disabled on the router)", ended,
          "sale %d: %s" % (v, row))
    got = wait_for(lambda: w and sale_row(b, w)["first_login_ms"], 30, 2.0)
    check("clock: synchronised, the second voucher's first login is recorded", got,
          "sale %s: %s" % (w, w and sale_row(b, w)))
    line = clock_line(b, "stats")
    check("clock: synchronised, `stats` says trusted", line.split()[1:2] == ["trusted"], line)
    note("clock: `status` shows %r" % clock_line(b, "status"))
    figures["clock_end_reason"] = row["end_reason"]


def footprint(b, acceptor, check, note, figures, sales):
    def rss():
        pid = main_pid(b)
        return int(b.sh("awk '/^VmRSS/ {print $2}' /proc/%d/status" % pid).strip())
    b.sh("systemctl restart %s" % UNIT, timeout=120)
    time.sleep(3)
    r0 = rss()
    start = boxtest.money(b)["sales"]
    done, last, progress_at = start, start, time.time()
    while done < start + sales and time.time() - progress_at < 60:
        for _ in range(5):
            acceptor.insert(2)
            time.sleep(0.25)
        done = boxtest.money(b)["sales"]
        if done > last:
            last, progress_at = done, time.time()
    sales = done - start
    r1 = rss()
    note("RSS under systemd: %d KiB after start, %d KiB after %d more sales" % (r0, r1, sales))
    figures.update(rss_start_kib=r0, rss_after_kib=r1, rss_sales=sales)
    check("RSS read after start and after the sales", r0 > 0 and r1 > 0 and sales > 0, "%d sales" % sales)


def run_all(b, a, outside, acceptor, printer, cuts, check, note):
    figures = {}
    t0 = time.time()

    def lap(name):
        figures.setdefault("seconds", {})[name] = round(time.time() - t0 - sum(figures["seconds"].values()))

    figures["seconds"] = {}
    only = set(a.only.split(",")) if a.only else None

    def wanted(step):
        return only is None or step in only

    figures.update(install(b, a, outside, check, note))
    lap("install")
    ready(b, a, outside, check, note, figures)
    if wanted("devices"):
        devices(b, a, outside, acceptor, printer, check, note)
    lap("ready_devices")
    if wanted("restarts"):
        restarts(b, a, outside, check, note, figures)
        no_secret(b, check, note)
        invariants(b, outside, acceptor, check, "before the cuts")
        lap("watchdog_crash_security")
    if wanted("footprint"):
        footprint(b, acceptor, check, note, figures, a.sales)
        lap("footprint")
    # Cuts under systemd (the unit comes back by itself), the rest in the minimal boot;
    # "cuts" is both, "systemd-cuts" and "minimal-cuts" one of them (the short form's two
    # guests share them out).
    systemd_cuts = wanted("cuts") or wanted("systemd-cuts")
    minimal_cuts = wanted("cuts") or wanted("minimal-cuts")
    if systemd_cuts and a.systemd_cuts:
        power_cuts(b, a, outside, acceptor, printer, a.systemd_cuts, check, note, figures, "systemd")
        lap("systemd_cuts")
    if minimal_cuts:
        b.kill()
        b.minimal = True
        b.small_kernel = a.small_kernel
        note("minimal boot on %s" % (a.small_kernel or "Debian's kernel and initrd"))
        b.start()
        until = time.time() + a.cut_budget if a.cut_budget else None
        if a.until:
            until = min(until or a.until, a.until)
        power_cuts(b, a, outside, acceptor, printer, cuts, check, note, figures, "minimal", until=until)
        lap("minimal_cuts")
    if systemd_cuts or minimal_cuts:
        settle(b, a, outside, acceptor, printer, check, note, figures)
        lap("settle")
    if a.clock and wanted("clock"):
        clock(b, a, outside, acceptor, check, note, figures)
        lap("clock")
    note("figures: %s" % figures)
