#!/usr/bin/env python3
"""Third-party check: routeros-api (socialwifi/RouterOS-api) against the simulated router.

Usage: check_routeros_api.py HOST PORT VERSION [--ssl] [--challenge]
  --ssl        TLS without verification (api-ssl)
  --challenge  the library's default (pre-6.43) login instead of plaintext_login
Exits 0 when every step behaves like RouterOS; otherwise prints what differed and exits 1.
"""
import sys
import uuid


def fail(message):
    print(f"check_routeros_api: {message}", file=sys.stderr)
    sys.exit(1)


def keyed(d):
    """The library's dicts have str or bytes keys depending on the path taken; use str.
    (Its key cleaner also turns `.id` into `id`.)"""
    return {(k.decode() if isinstance(k, bytes) else k): v for k, v in d.items()}


def main():
    try:
        import routeros_api
        from routeros_api.exceptions import RouterOsApiCommunicationError
    except ImportError as e:
        fail(f"cannot import routeros_api ({e}): pip install librouteros routeros-api")
    if len(sys.argv) < 4:
        fail(__doc__)
    host, port, version = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    flags = set(sys.argv[4:])
    pool = routeros_api.RouterOsApiPool(
        host,
        username="admin",
        password="",
        port=port,
        plaintext_login="--challenge" not in flags,
        use_ssl="--ssl" in flags,
        ssl_verify=False,
        ssl_verify_hostname=False,
    )
    try:
        api = pool.get_api()
    except Exception as e:  # noqa: BLE001
        fail(f"login failed: {e!r}")

    resource = api.get_resource("/system/resource").get()
    if len(resource) != 1 or not resource[0].get("version", "").startswith(version):
        fail(f"/system/resource print: got {resource!r}")

    users = api.get_binary_resource("/ip/hotspot/user")
    name = "ra-" + uuid.uuid4().hex[:8]
    added = users.add(name=name.encode(), password=b"pw", comment=b"routeros-api")
    ret = keyed(added.done_message).get("ret", b"")
    if not ret.startswith(b"*"):
        fail(f"add: expected =ret=*HEX, got done {added.done_message!r}")

    rows = [keyed(r) for r in users.get(name=name.encode())]
    if len(rows) != 1 or rows[0].get("id") != ret or rows[0].get("comment") != b"routeros-api":
        fail(f"print with ?name={name}: got {rows!r}")

    # An empty result (on 7.18: !empty then !done) must be an empty list.
    rows = users.get(name=b"no-such-user-" + name.encode())
    if list(rows) != []:
        fail(f"print of nothing: got {rows!r}")

    try:
        users.add(name=name.encode(), password=b"pw")
        fail("a duplicate add did not raise")
    except RouterOsApiCommunicationError as e:
        if e.original_message != b"failure: already have user with this name for this server":
            fail(f"duplicate add: unexpected trap {e.original_message!r}")

    try:
        users.add(name=b"x-" + name.encode(), profile=b"gold")
        fail("an unknown profile did not raise")
    except RouterOsApiCommunicationError as e:
        if e.original_message != b"input does not match any value of profile":
            fail(f"unknown profile: unexpected trap {e.original_message!r}")

    users.call("remove", {".id": ret})
    try:
        users.call("remove", {".id": ret})
        fail("removing a removed id did not raise")
    except RouterOsApiCommunicationError as e:
        if e.original_message != b"no such item (4)":
            fail(f"remove twice: unexpected trap {e.original_message!r}")

    pool.disconnect()
    print(f"check_routeros_api: ok ({version}{' ssl' if '--ssl' in flags else ''}"
          f"{' challenge' if '--challenge' in flags else ''})")


if __name__ == "__main__":
    main()
