#!/usr/bin/env python3
"""Third-party check: librouteros (luqasz/librouteros) against the simulated router.

Usage: check_librouteros.py HOST PORT VERSION [--ssl] [--token] [--fingerprint=AB:CD:...]
  --ssl    wrap the socket in TLS without CA verification (api-ssl)
  --fingerprint=FP  with --ssl: the server certificate's SHA-256 must be FP (the line
           the simulator prints)
  --token  use the pre-6.43 challenge login (librouteros.login.token)
Exits 0 when every step behaves like RouterOS; otherwise prints what differed and exits 1.
"""
import hashlib
import socket
import ssl
import sys
import uuid


def fail(message):
    print(f"check_librouteros: {message}", file=sys.stderr)
    sys.exit(1)


def main():
    try:
        import librouteros
        from librouteros.exceptions import MultiTrapError, TrapError
        from librouteros.login import plain, token
        from librouteros.query import Key
    except ImportError as e:
        fail(f"cannot import librouteros ({e}): pip install librouteros routeros-api")
    if len(sys.argv) < 4:
        fail(__doc__)
    host, port, version = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    flags = {a for a in sys.argv[4:] if not a.startswith("--fingerprint=")}
    pinned = [a.split("=", 1)[1] for a in sys.argv[4:] if a.startswith("--fingerprint=")]
    kwargs = {"port": port, "login_method": token if "--token" in flags else plain, "timeout": 10}
    if "--ssl" in flags:
        ctx = ssl.create_default_context()
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        kwargs["ssl_wrapper"] = ctx.wrap_socket
        if pinned:
            with ctx.wrap_socket(socket.create_connection((host, port), timeout=10)) as tls:
                der = tls.getpeercert(binary_form=True)
            got = ":".join(f"{b:02X}" for b in hashlib.sha256(der).digest())
            if got != pinned[0].upper():
                fail(f"certificate fingerprint {got} is not the printed {pinned[0]}")
    try:
        api = librouteros.connect(host, "admin", "", **kwargs)
    except Exception as e:  # noqa: BLE001 - report whatever the library raised
        fail(f"login failed: {e!r}")

    resource = tuple(api.path("system", "resource"))
    if len(resource) != 1 or not str(resource[0].get("version", "")).startswith(version):
        fail(f"/system/resource print: expected one item with version {version}..., got {resource!r}")

    users = api.path("ip", "hotspot", "user")
    name = "lr-" + uuid.uuid4().hex[:8]
    new_id = users.add(name=name, password="pw", profile="default", comment="librouteros", **{"limit-uptime": "1h"})
    if not new_id.startswith("*"):
        fail(f"add returned {new_id!r}, expected a *HEX id")

    rows = tuple(users.select(Key(".id"), Key("name"), Key("comment")).where(Key("name") == name))
    if len(rows) != 1 or rows[0].get(".id") != new_id or rows[0].get("comment") != "librouteros":
        fail(f"print with ?=name={name}: got {rows!r}")

    # Nothing found: on 7.18+ the router sends !empty before !done; either way, no rows.
    rows = tuple(users.select(Key("name")).where(Key("name") == "no-such-" + name))
    if rows != ():
        fail(f"print of nothing: got {rows!r}")

    rows = tuple(users.select(Key("name")).where(Key("name").In(name, "default-trial")))
    if sorted(r["name"] for r in rows) != sorted([name, "default-trial"]):
        fail(f"print with name.In(...): got {rows!r}")

    try:
        users.add(name=name, password="pw")
        fail("a duplicate add did not raise")
    except TrapError as e:
        if e.message != "failure: already have user with this name for this server":
            fail(f"duplicate add: unexpected trap {e.message!r}")

    try:
        tuple(api("/ip/hotspot/user/frobnicate"))
        fail("an unknown command did not raise")
    except MultiTrapError as e:
        messages = [t.message for t in e.traps]
        if messages != ["no such command or directory (frobnicate)", "no such command prefix"]:
            fail(f"unknown command: traps {messages!r}")

    try:
        tuple(api.path("ip", "hotspot", "user", "profile")("add", name="p-" + name, **{"limit-uptime": "1h"}))
        fail("limit-uptime on a profile did not raise")
    except TrapError as e:
        if e.message != "unknown parameter limit-uptime":
            fail(f"profile limit: unexpected trap {e.message!r}")

    users.remove(new_id)
    try:
        users.update(**{".id": new_id, "comment": "gone"})
        fail("set on a removed id did not raise")
    except TrapError as e:
        if e.message != "no such item (4)":
            fail(f"set on a removed id: unexpected trap {e.message!r}")

    api.close()
    print(f"check_librouteros: ok ({version}{' ssl' if '--ssl' in flags else ''}"
          f"{' token' if '--token' in flags else ''})")


if __name__ == "__main__":
    main()
