#!/usr/bin/env python3
"""Third-party check: the simulated router keeps words as bytes, as RouterOS does.

WinBox on a Windows PC writes names in the PC's code page, so `René` reaches the
router as the four bytes `Ren\\xe9`. A router stores and compares those bytes; it
does not replace them with U+FFFD. Checked with two clients we did not write:
librouteros with `encoding="latin-1"` (every byte maps to one character and back)
and routeros-api's binary resources (bytes in, bytes out).

Usage: check_words_are_bytes.py HOST PORT
Exits 0 when every step behaves like RouterOS; otherwise prints what differed and exits 1.
"""
import sys
import uuid


def fail(message):
    print(f"check_words_are_bytes: {message}", file=sys.stderr)
    sys.exit(1)


def keyed(d):
    return {(k.decode() if isinstance(k, bytes) else k): v for k, v in d.items()}


def with_librouteros(host, port, tag):
    import librouteros
    from librouteros.exceptions import TrapError
    from librouteros.query import Key

    api = librouteros.connect(host, "admin", "", port=port, encoding="latin-1", timeout=10)
    users = api.path("ip", "hotspot", "user")
    jose = f"Jos\xe9-{tag}"  # latin-1: the last letter is the one byte 0xE9
    users.add(name=jose, password="pw")
    rows = tuple(users.select(Key("name")).where(Key("name") == jose))
    if [r.get("name") for r in rows] != [jose]:
        fail(f"librouteros: =name=Jos\\xe9 came back as {rows!r} (expected the byte 0xE9 kept)")

    rene9, rene8 = f"Ren\xe9-{tag}", f"Ren\xe8-{tag}"
    users.add(name=rene9, password="pw")
    try:
        users.add(name=rene8, password="pw")
    except TrapError as e:
        fail(f"librouteros: adding Ren\\xe8 after Ren\\xe9 trapped {e.message!r}: the bytes differ")
    try:
        users.add(name=rene9, password="pw")
        fail("librouteros: a second Ren\\xe9 was accepted")
    except TrapError as e:
        if e.message != "failure: already have user with this name for this server":
            fail(f"librouteros: duplicate Ren\\xe9 trapped {e.message!r}")

    # `René` in UTF-8 is another name again: Ren\xc3\xa9.
    utf8 = f"René-{tag}".encode("utf-8").decode("latin-1")
    users.add(name=utf8, password="pw")
    found = tuple(users.select(Key("name")).where(Key("name") == f"Ren\xe0-{tag}"))
    if found != ():
        fail(f"librouteros: ?name=Ren\\xe0 found {found!r}; it names no user")
    found = [r["name"] for r in users.select(Key("name")).where(Key("name") == utf8)]
    if found != [utf8]:
        fail(f"librouteros: ?name=René (UTF-8) found {found!r}")

    # Remove by the name the router printed, sent back byte for byte.
    [row] = tuple(users.select(Key(".id"), Key("name")).where(Key("name") == rene9))
    users.remove(row[".id"])
    left = sorted(r["name"] for r in users.select(Key("name")) if r["name"].endswith(tag))
    if left != sorted([jose, rene8, utf8]):
        fail(f"librouteros: after removing Ren\\xe9: {left!r}")
    api.close()


def with_routeros_api(host, port, tag):
    import routeros_api
    from routeros_api.exceptions import RouterOsApiCommunicationError

    pool = routeros_api.RouterOsApiPool(host, username="admin", password="", port=port, plaintext_login=True)
    api = pool.get_api()
    users = api.get_binary_resource("/ip/hotspot/user")
    name = f"Ren\xe9-ra-{tag}".encode("latin-1")
    users.add(name=name, password=b"pw", comment=b"caf\xe9")
    rows = [keyed(r) for r in users.get(name=name)]
    if len(rows) != 1 or rows[0].get("name") != name or rows[0].get("comment") != b"caf\xe9":
        fail(f"routeros-api: got {rows!r} for ?name={name!r}")
    try:
        users.add(name=name, password=b"pw")
        fail("routeros-api: a second Ren\\xe9 was accepted")
    except RouterOsApiCommunicationError as e:
        if b"already have user" not in str(e).encode() and "already have user" not in str(e):
            fail(f"routeros-api: duplicate trapped {e!r}")
    other = f"Ren\xe8-ra-{tag}".encode("latin-1")
    users.add(name=other, password=b"pw")
    names = sorted(keyed(r)["name"] for r in users.get() if keyed(r).get("name", b"").endswith(f"-ra-{tag}".encode()))
    if names != sorted([name, other]):
        fail(f"routeros-api: names {names!r}")
    pool.disconnect()


def main():
    if len(sys.argv) < 3:
        fail(__doc__)
    host, port = sys.argv[1], int(sys.argv[2])
    tag = uuid.uuid4().hex[:6]
    try:
        import librouteros  # noqa: F401
        import routeros_api  # noqa: F401
    except ImportError as e:
        fail(f"cannot import ({e}): pip install librouteros routeros-api")
    with_librouteros(host, port, tag)
    with_routeros_api(host, port, tag)
    print("check_words_are_bytes: ok")


if __name__ == "__main__":
    main()
